//! `triage eval`: score the classifier against a labelled corpus, so every change to the rules is
//! judged by the same numbers (product-question precision/recall/F1 first, since a missed product
//! question costs a sale and a false one costs the creator's time).
//!
//! The corpus is JSON Lines with `id`, `text`, `label` (`product_question` | `other_question` |
//! `not_question`), `category` (for product questions) and optionally `lang`. Other keys are
//! ignored.

use std::collections::BTreeMap;
use std::fmt;
use std::io::BufRead;

use serde::{Deserialize, Serialize};

use super::Classifier;
use crate::domain::{Category, Label};

/// Why a corpus could not be scored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    #[error("cannot read the corpus: {0}")]
    Read(#[from] std::io::Error),
    #[error("corpus line {line}: {message}")]
    BadLine { line: u64, message: String },
}

/// Precision, recall and F1 of one yes/no decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Scores {
    pub true_positives: u64,
    pub false_positives: u64,
    pub false_negatives: u64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl Scores {
    fn finish(&mut self) {
        let (tp, fp, fn_) = (
            self.true_positives as f64,
            self.false_positives as f64,
            self.false_negatives as f64,
        );
        self.precision = if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 };
        self.recall = if tp + fn_ > 0.0 { tp / (tp + fn_) } else { 0.0 };
        self.f1 = if self.precision + self.recall > 0.0 {
            2.0 * self.precision * self.recall / (self.precision + self.recall)
        } else {
            0.0
        };
    }

    fn count(&mut self, gold: bool, predicted: bool) {
        match (gold, predicted) {
            (true, true) => self.true_positives += 1,
            (false, true) => self.false_positives += 1,
            (true, false) => self.false_negatives += 1,
            (false, false) => {}
        }
    }
}

/// The figures for one slice of the corpus (all of it, or one language).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SliceReport {
    pub comments: u64,
    pub gold_product_questions: u64,
    pub product_question: Scores,
    pub any_question: Scores,
    /// Share of comments whose three-way kind is right.
    pub accuracy_3way: f64,
    /// Among gold product questions that were found, the share with the right category.
    pub category_accuracy: f64,
    /// Among all gold product questions, the share found with the right category.
    pub category_accuracy_strict: f64,
    #[serde(skip)]
    correct_3way: u64,
    #[serde(skip)]
    correct_category: u64,
}

impl SliceReport {
    fn count(&mut self, gold: Label, predicted: Label) {
        self.comments += 1;
        self.product_question
            .count(gold.is_product_question(), predicted.is_product_question());
        self.any_question
            .count(gold.is_question(), predicted.is_question());
        if gold.kind_str() == predicted.kind_str() {
            self.correct_3way += 1;
        }
        if gold.is_product_question() {
            self.gold_product_questions += 1;
            if gold == predicted {
                self.correct_category += 1;
            }
        }
    }

    fn finish(&mut self) {
        self.product_question.finish();
        self.any_question.finish();
        let ratio = |a: u64, b: u64| if b > 0 { a as f64 / b as f64 } else { 0.0 };
        self.accuracy_3way = ratio(self.correct_3way, self.comments);
        self.category_accuracy = ratio(self.correct_category, self.product_question.true_positives);
        self.category_accuracy_strict = ratio(self.correct_category, self.gold_product_questions);
    }
}

/// How one category fares, on gold product questions of that category and on predictions of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CategoryReport {
    pub gold: u64,
    /// Gold questions of this category found as product questions (any category).
    pub found: u64,
    /// Gold questions of this category found with this category.
    pub right_category: u64,
    /// Predictions of this category (on any comment).
    pub predicted: u64,
}

/// One misclassified comment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalMistake {
    pub id: String,
    pub lang: String,
    pub gold: String,
    pub predicted: String,
    pub rule: String,
    /// Every rule that fired, so a wrong verdict can be traced to the rule to fix.
    pub fired: Vec<String>,
    pub text: String,
}

/// The whole evaluation: overall figures, per language, per category, and every mistake.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EvalReport {
    pub overall: SliceReport,
    pub by_language: BTreeMap<String, SliceReport>,
    pub by_category: BTreeMap<Category, CategoryReport>,
    pub mistakes: Vec<EvalMistake>,
}

#[derive(Deserialize)]
struct CorpusLine {
    id: serde_json::Value,
    text: String,
    label: String,
    category: Option<String>,
    lang: Option<String>,
}

fn describe(label: Label) -> String {
    match label.category() {
        Some(category) => format!("product/{category}"),
        None => label.kind_str().trim_end_matches("_question").to_owned() + "_q",
    }
}

fn shorten(text: &str, max_chars: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match flat.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

/// Classifies every comment of `corpus` and compares with its gold label.
///
/// # Errors
/// The corpus cannot be read, or a line is not a labelled comment (bad JSON, unknown label or
/// category).
pub fn evaluate(classifier: &Classifier, corpus: impl BufRead) -> Result<EvalReport, EvalError> {
    let mut report = EvalReport::default();
    for category in Category::ALL {
        report
            .by_category
            .insert(category, CategoryReport::default());
    }
    for (index, line) in corpus.lines().enumerate() {
        let line_number = index as u64 + 1;
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |message: String| EvalError::BadLine {
            line: line_number,
            message,
        };
        let row: CorpusLine = serde_json::from_str(&line).map_err(|e| bad(e.to_string()))?;
        let category = row
            .category
            .as_deref()
            .filter(|_| row.label == "product_question");
        let gold = Label::from_parts(&row.label, category).map_err(|e| bad(e.to_string()))?;
        let verdict = classifier.classify(&row.text);
        let predicted = verdict.label;
        let lang = row.lang.unwrap_or_else(|| "?".to_owned());

        report.overall.count(gold, predicted);
        report
            .by_language
            .entry(lang.clone())
            .or_default()
            .count(gold, predicted);
        if let Some(category) = gold.category() {
            let entry = report.by_category.entry(category).or_default();
            entry.gold += 1;
            if predicted.is_product_question() {
                entry.found += 1;
            }
            if predicted == gold {
                entry.right_category += 1;
            }
        }
        if let Some(category) = predicted.category() {
            report.by_category.entry(category).or_default().predicted += 1;
        }
        if predicted != gold {
            report.mistakes.push(EvalMistake {
                id: match row.id {
                    serde_json::Value::String(id) => id,
                    other => other.to_string(),
                },
                lang,
                gold: describe(gold),
                predicted: describe(predicted),
                rule: verdict.rule.to_string(),
                fired: classifier
                    .matching_rules(&row.text)
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
                text: shorten(&row.text, 100),
            });
        }
    }
    report.overall.finish();
    for slice in report.by_language.values_mut() {
        slice.finish();
    }
    Ok(report)
}

fn write_slice_header(f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(
        f,
        "{:<8} {:>6} {:>5} | {:>6} {:>6} {:>6} | {:>6} {:>6} {:>6} | {:>6} {:>6} {:>6}",
        "slice",
        "n",
        "gold",
        "P.prec",
        "P.rec",
        "P.F1",
        "Q.prec",
        "Q.rec",
        "Q.F1",
        "acc3",
        "cat",
        "cat*"
    )
}

fn write_slice(f: &mut fmt::Formatter<'_>, name: &str, s: &SliceReport) -> fmt::Result {
    writeln!(
        f,
        "{:<8} {:>6} {:>5} | {:>6.3} {:>6.3} {:>6.3} | {:>6.3} {:>6.3} {:>6.3} | {:>6.3} {:>6.3} {:>6.3}",
        name,
        s.comments,
        s.gold_product_questions,
        s.product_question.precision,
        s.product_question.recall,
        s.product_question.f1,
        s.any_question.precision,
        s.any_question.recall,
        s.any_question.f1,
        s.accuracy_3way,
        s.category_accuracy,
        s.category_accuracy_strict,
    )
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "P = product question, Q = any question, acc3 = 3-way accuracy, cat = category accuracy on found product questions, cat* = on all gold product questions\n"
        )?;
        write_slice_header(f)?;
        write_slice(f, "all", &self.overall)?;
        for (lang, slice) in &self.by_language {
            write_slice(f, lang, slice)?;
        }
        writeln!(
            f,
            "\n{:<14} {:>5} {:>6} {:>6} {:>9}",
            "category", "gold", "found", "right", "predicted"
        )?;
        for (category, c) in &self.by_category {
            writeln!(
                f,
                "{:<14} {:>5} {:>6} {:>6} {:>9}",
                category.as_str(),
                c.gold,
                c.found,
                c.right_category,
                c.predicted
            )?;
        }
        writeln!(f, "\n{} mistakes:", self.mistakes.len())?;
        for m in &self.mistakes {
            writeln!(
                f,
                "{:<8} {:<3} gold {:<20} got {:<20} by {:<28} {}\n{:<12} fired: {}",
                m.id,
                m.lang,
                m.gold,
                m.predicted,
                m.rule,
                m.text,
                "",
                m.fired.join(" ")
            )?;
        }
        Ok(())
    }
}
