//! `classify_jsonl` end to end on small in-memory inputs.

use comment_triage::classify::{Classifier, classify_jsonl};
use serde_json::Value;

fn run(input: &str) -> (Vec<Value>, String, comment_triage::classify::ClassifyStats) {
    let classifier = Classifier::builtin().unwrap();
    let mut output = Vec::new();
    let mut errors = Vec::new();
    let stats = classify_jsonl(&classifier, input.as_bytes(), &mut output, &mut errors).unwrap();
    let lines = String::from_utf8(output)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    (lines, String::from_utf8(errors).unwrap(), stats)
}

#[test]
fn writes_one_verdict_per_line_in_order() {
    let (lines, errors, stats) = run(
        "{\"id\":\"a\",\"text\":\"how much is it?\",\"platform\":\"tiktok\"}\n\
         {\"id\":\"b\",\"text\":\"love it 😍\"}\n\
         {\"id\":\"c\",\"text\":\"what's the song?\"}\n",
    );
    assert_eq!(errors, "");
    assert_eq!((stats.good, stats.bad), (3, 0));
    assert_eq!(lines[0]["id"], "a");
    assert_eq!(lines[0]["kind"], "product_question");
    assert_eq!(lines[0]["category"], "price");
    assert_eq!(lines[0]["is_question"], true);
    assert_eq!(lines[0]["is_product_question"], true);
    assert!(lines[0]["rule"].as_str().is_some_and(|r| !r.is_empty()));
    assert_eq!(lines[1]["kind"], "not_question");
    assert_eq!(lines[1]["category"], Value::Null);
    assert_eq!(lines[1]["is_question"], false);
    assert_eq!(lines[2]["kind"], "other_question");
    assert_eq!(lines[2]["category"], Value::Null);
}

#[test]
fn invalid_line_is_reported_with_its_number_and_skipped() {
    let (lines, errors, stats) = run("{\"id\":1,\"text\":\"link pls\"}\n\
         {\"id\":2,\"text\":\"broken\n\
         \n\
         {\"id\":3,\"text\":\"nice\"}\n\
         {\"id\":4}\n\
         {\"id\":5,\"text\":\"do you ship to the UK?\"}");
    assert_eq!((stats.good, stats.bad), (3, 2));
    let ids: Vec<_> = lines.iter().map(|l| l["id"].clone()).collect();
    assert_eq!(ids, [Value::from(1), Value::from(3), Value::from(5)]);
    assert!(errors.contains("line 2:"), "{errors}");
    assert!(
        errors.contains("line 5:") && errors.contains("missing field `text`"),
        "{errors}"
    );
    assert_eq!(errors.lines().count(), 2);
}

#[test]
fn ids_keep_their_json_type() {
    let (lines, _, _) = run(
        "{\"id\":12345678901234,\"text\":\"x\"}\n{\"id\":-7,\"text\":\"x\"}\n{\"id\":\"007\",\"text\":\"x\"}\n{\"id\":\"e\\u00e9\",\"text\":\"pre\\u00e7o?\"}\n",
    );
    assert_eq!(lines[0]["id"], Value::from(12345678901234u64));
    assert_eq!(lines[1]["id"], Value::from(-7));
    assert_eq!(lines[2]["id"], "007");
    assert_eq!(lines[3]["id"], "eé");
    assert_eq!(lines[3]["kind"], "product_question");
}

#[test]
fn wrong_id_type_and_invalid_utf8_are_bad_lines() {
    let classifier = Classifier::builtin().unwrap();
    let mut input = b"{\"id\":[1],\"text\":\"x\"}\n{\"id\":null,\"text\":\"x\"}\n".to_vec();
    input.extend_from_slice(
        b"{\"id\":\"z\",\"text\":\"\xff\xfe\"}\n{\"id\":\"ok\",\"text\":\"hi\"}\n",
    );
    let mut output = Vec::new();
    let mut errors = Vec::new();
    let stats = classify_jsonl(&classifier, &input[..], &mut output, &mut errors).unwrap();
    assert_eq!((stats.good, stats.bad), (1, 3));
    let errors = String::from_utf8(errors).unwrap();
    assert!(errors.contains("line 1:") && errors.contains("line 2:") && errors.contains("line 3:"));
}
