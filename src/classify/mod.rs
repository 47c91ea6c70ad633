//! The comment classifier: is this comment a question, and is it a product question a creator must
//! answer (price, link, stock, shipping, size, ingredients, usage, codes, specs, order problems)?
//!
//! Rules are data (`config/rules.toml`, embedded at build time, extended or overridden by a user
//! file) so that a brand manager can read why a comment was flagged, and every [`Verdict`] names
//! the rule that decided it. All patterns of all rules are compiled once into one multi-pattern
//! regex; classifying a comment is a single pass over its normalised text that reports which rules
//! fire, followed by a small decision over four kinds of evidence:
//!
//! 1. a **negative** rule (rhetorical frame, tag-only, giveaway entry, spam) makes it
//!    `not_question`, and the rule that it overruled is kept in the verdict;
//! 2. a **standalone product** rule ("link pls", "code not working", "my order never came")
//!    makes it a product question on its own;
//! 3. otherwise a **question** form is needed: with an **other_question** topic (the song, a
//!    content request) it is `other_question`; with a product rule or a campaign product term it
//!    is a product question; with neither, a question about "this/it/these" is a product question
//!    of category `other` and anything else an `other_question`;
//! 4. no question form: `not_question`.
//!
//! The classifier is `Send + Sync`; per-call scratch space (the normalised text and the set of
//! matched patterns) lives in a thread-local buffer, so classifying does not allocate.

mod decide;
pub mod discount;
pub mod eval;
pub mod jsonl;
mod normalize;
pub mod rules;

use std::cell::RefCell;
use std::path::Path;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex_automata::{Input, PatternSet, meta, util::syntax};

use crate::domain::{Category, RuleId, Verdict};

pub use eval::{EvalError, EvalReport, evaluate};
pub use jsonl::{ClassifyStats, classify_jsonl};
pub use normalize::normalize_into;
pub use rules::{Rule, RuleKind, RulesError};

/// The built-in rules, as shipped in `config/rules.toml`.
pub const BUILTIN_RULES: &str = include_str!("../../config/rules.toml");
const BUILTIN_RULES_NAME: &str = "config/rules.toml (built-in)";

/// Compiled rules, ready to classify comments. Build once, share freely (`Send + Sync`).
pub struct Classifier {
    matcher: meta::Regex,
    /// For each compiled pattern, the index of its rule in `rules`.
    pattern_rule: Vec<u32>,
    rules: Vec<CompiledRule>,
    lexicon: Option<AhoCorasick>,
    ids: FixedIds,
}

struct CompiledRule {
    id: RuleId,
    kind: RuleKind,
    category: Option<Category>,
    standalone: bool,
    priority: i32,
}

/// Rule ids for verdicts that no rule file decides.
struct FixedIds {
    empty: RuleId,
    no_question: RuleId,
    product_term: RuleId,
}

/// Collects the rule files and the campaign's product terms, then compiles them once.
pub struct ClassifierBuilder {
    rules: Result<Vec<Rule>, RulesError>,
    product_terms: Vec<String>,
}

impl Default for ClassifierBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ClassifierBuilder {
    /// Starts from the built-in rules. A broken built-in file is reported by [`Self::build`].
    pub fn new() -> Self {
        ClassifierBuilder {
            rules: rules::parse_rule_file(BUILTIN_RULES_NAME, BUILTIN_RULES),
            product_terms: Vec::new(),
        }
    }

    /// Starts from no rules at all (for tests and for users who want only their own file).
    pub fn empty() -> Self {
        ClassifierBuilder {
            rules: Ok(Vec::new()),
            product_terms: Vec::new(),
        }
    }

    /// Adds a user rule file: its rules extend the current ones, and a rule whose id already
    /// exists replaces that rule.
    ///
    /// # Errors
    /// The file cannot be read, or one of its rules is invalid ([`RulesError`] names the file and
    /// the rule id).
    pub fn rule_file(self, path: impl AsRef<Path>) -> Result<Self, RulesError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| RulesError::Read {
            file: name.clone(),
            source,
        })?;
        self.rule_text(&name, &text)
    }

    /// Like [`Self::rule_file`], for rules already in memory; `name` labels them in errors.
    ///
    /// # Errors
    /// One of the rules is invalid.
    pub fn rule_text(mut self, name: &str, text: &str) -> Result<Self, RulesError> {
        let overrides = rules::parse_rule_file(name, text)?;
        if let Ok(base) = &mut self.rules {
            rules::merge_rules(base, overrides);
        }
        Ok(self)
    }

    /// The campaign's product lexicon ("serum", "hoodie", "GlowLab"): a question that names one of
    /// these terms is a product question even when no product rule matched. Matched as whole
    /// words, case-insensitively.
    pub fn product_terms(mut self, terms: &[String]) -> Self {
        self.product_terms.extend(
            terms
                .iter()
                .map(|term| term.trim().to_owned())
                .filter(|term| !term.is_empty()),
        );
        self
    }

    /// Compiles every pattern of every rule into one matcher.
    ///
    /// # Errors
    /// A rule was invalid, or the rules together exceed the regex engine's size limits.
    pub fn build(self) -> Result<Classifier, RulesError> {
        let rules = self.rules?;
        let mut patterns = Vec::new();
        let mut pattern_rule = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            for pattern in &rule.patterns {
                patterns.push(pattern.as_str());
                pattern_rule.push(u32::try_from(index).expect("fewer than 4 billion rules"));
            }
        }
        let matcher = meta::Builder::new()
            .syntax(syntax::Config::new().case_insensitive(true))
            .configure(
                meta::Config::new()
                    .match_kind(regex_automata::MatchKind::All)
                    .nfa_size_limit(Some(64 << 20))
                    .hybrid_cache_capacity(16 << 20)
                    .dfa(false),
            )
            .build_many(&patterns)
            .map_err(|error| RulesError::Compile {
                message: error.to_string(),
            })?;
        let lexicon = build_lexicon(&self.product_terms)?;
        Ok(Classifier {
            matcher,
            pattern_rule,
            rules: rules
                .into_iter()
                .map(|rule| CompiledRule {
                    id: rule.id,
                    kind: rule.kind,
                    category: rule.category,
                    standalone: rule.standalone,
                    priority: rule.priority,
                })
                .collect(),
            lexicon,
            ids: FixedIds {
                empty: RuleId::new("builtin.empty"),
                no_question: RuleId::new("builtin.no_question"),
                product_term: RuleId::new("builtin.product_term"),
            },
        })
    }
}

fn build_lexicon(terms: &[String]) -> Result<Option<AhoCorasick>, RulesError> {
    if terms.is_empty() {
        return Ok(None);
    }
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostLongest)
        .build(terms)
        .map(Some)
        .map_err(|error| RulesError::ProductTerm {
            term: terms.join(", "),
            reason: error.to_string(),
        })
}

struct Scratch {
    text: String,
    matched: PatternSet,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch {
        text: String::with_capacity(256),
        matched: PatternSet::new(0),
    });
}

impl Classifier {
    /// The classifier with the built-in rules only.
    ///
    /// # Errors
    /// Only if the built-in rule file is broken (a bug caught by the tests).
    pub fn builtin() -> Result<Classifier, RulesError> {
        ClassifierBuilder::new().build()
    }

    /// Classifies one comment.
    pub fn classify(&self, text: &str) -> Verdict {
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let Scratch {
                text: normal,
                matched,
            } = &mut *scratch;
            normalize_into(text, normal);
            if matched.capacity() < self.matcher.pattern_len() {
                *matched = PatternSet::new(self.matcher.pattern_len());
            }
            matched.clear();
            self.decide(normal, matched)
        })
    }

    /// Every rule that fires on `text`, in rule-file order: the evidence behind a verdict, for
    /// explaining it ("why is this a product question?") and for tuning rules.
    pub fn matching_rules(&self, text: &str) -> Vec<RuleId> {
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let Scratch {
                text: normal,
                matched,
            } = &mut *scratch;
            normalize_into(text, normal);
            *matched = PatternSet::new(self.matcher.pattern_len());
            self.matcher
                .which_overlapping_matches(&Input::new(normal.as_str()), matched);
            let mut rule_indices: Vec<usize> = matched
                .iter()
                .map(|pattern| self.pattern_rule[pattern.as_usize()] as usize)
                .collect();
            rule_indices.dedup();
            rule_indices
                .into_iter()
                .map(|index| self.rules[index].id.clone())
                .collect()
        })
    }

    /// Number of rules (after merging user files).
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    fn decide(&self, normal: &str, matched: &mut PatternSet) -> Verdict {
        if !normal.chars().any(char::is_alphanumeric) && !normal.contains(['?', '？', '¿', '؟'])
        {
            return decide::verdict_without_rule(self.ids.empty.clone());
        }
        self.matcher
            .which_overlapping_matches(&Input::new(normal), matched);
        let mut evidence = decide::Evidence::default();
        for pattern in matched.iter() {
            let rule_index = self.pattern_rule[pattern.as_usize()] as usize;
            evidence.add_with(rule_index, &self.rules);
        }
        let names_product_term = self
            .lexicon
            .as_ref()
            .is_some_and(|lexicon| decide::has_whole_word_match(lexicon, normal));
        evidence.decide(&self.rules, names_product_term, &self.ids)
    }
}

#[cfg(test)]
mod tests;
