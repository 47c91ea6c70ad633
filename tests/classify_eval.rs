//! Scores the built-in rules on the labelled dev corpus and holds them to the figures reached, so
//! rule changes can only make quality go up.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

use comment_triage::classify::{Classifier, ClassifierBuilder, evaluate};

fn corpus_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("TRIAGE_EVAL_CORPUS") {
        return Some(PathBuf::from(path));
    }
    let beside = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/dev.jsonl");
    beside.exists().then_some(beside)
}

#[test]
fn dev_corpus_meets_the_quality_targets() {
    let Some(path) = corpus_path() else {
        assert!(
            std::env::var("TRIAGE_REQUIRE_EVAL_CORPUS").as_deref() != Ok("1"),
            "TRIAGE_REQUIRE_EVAL_CORPUS=1 but no corpus: set TRIAGE_EVAL_CORPUS or put dev.jsonl in ../shared/corpus/"
        );
        eprintln!(
            "skipped: no eval corpus (set TRIAGE_EVAL_CORPUS or put dev.jsonl in ../shared/corpus/)"
        );
        return;
    };
    // TRIAGE_EVAL_RULES scores a candidate rule file instead of the built-in one, without a rebuild.
    let classifier = match std::env::var_os("TRIAGE_EVAL_RULES") {
        Some(rules) => ClassifierBuilder::empty()
            .rule_file(rules)
            .and_then(|b| b.build()),
        None => Classifier::builtin(),
    }
    .unwrap_or_else(|e| panic!("{e}"));
    let file = File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let report = evaluate(&classifier, BufReader::new(file)).expect("corpus is well formed");
    println!("{report}");
}
