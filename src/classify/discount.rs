//! Discount-code watch: a code that does not work loses every sale it touches, so comments saying
//! so, or asking for a code, are escalated apart from the other questions.
//!
//! Detection is deliberately simple and explainable: a failure phrase ("doesn't work", "invalid",
//! "expired", …) next to a code word or one of the campaign's codes is a broken code; a question
//! in the `discount` category, or one that names a code word, asks for a code.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::domain::{Category, Label};

/// Why a comment is escalated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscountKind {
    /// Says a code does not work.
    BrokenCode,
    /// Asks for a code, or whether one applies.
    AsksForCode,
}

impl DiscountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DiscountKind::BrokenCode => "broken_code",
            DiscountKind::AsksForCode => "asks_for_code",
        }
    }
}

/// Words the store looks for (SQL `LIKE`, besides every question) so that a complaint the
/// classifier did not take for a question still reaches the watch.
pub const WATCH_TERMS: [&str; 7] = [
    "code", "coupon", "promo", "discount", "voucher", "rabatt", "cupon",
];

static CODE_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:codes?|coupons?|promo\w*|discount\w*|vouchers?|rabatt\w*|c[oó]digos?|cup[oó]n\w*)\b",
    )
    .expect("code-word pattern compiles")
});

static FAILURE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)\b(?:
            (?:does|did|do|is|was|wo|is)n[’']?t\s+(?:work\w*|apply\w*|valid)
          | (?:does|did|do|is|will)\s+not\s+(?:work\w*|apply\w*|valid)
          | not\s+(?:work\w*|apply\w*|valid|accepted)
          | invalid | expired | error | rejected
          | ne\s+(?:marche|fonctionne)\s+pas
          | funktioniert\s+nicht | ungültig
          | no\s+(?:funciona|sirve|vale)
        )\b",
    )
    .expect("failure pattern compiles")
});

/// Whether a top-level audience comment belongs to the discount watch, and the campaign code it
/// names (as configured).
pub fn detect_discount(
    text: &str,
    label: Label,
    codes: &[String],
) -> Option<(DiscountKind, Option<String>)> {
    let code = codes
        .iter()
        .find(|code| !code.is_empty() && contains_word(text, code))
        .cloned();
    let code_word = CODE_WORD.is_match(text);
    if (code_word || code.is_some()) && FAILURE.is_match(text) {
        return Some((DiscountKind::BrokenCode, code));
    }
    if label.is_question() && (label.category() == Some(Category::Discount) || code_word) {
        return Some((DiscountKind::AsksForCode, code));
    }
    None
}

/// Case-insensitive whole-word search (`JESS15` is not found in `JESS150`).
fn contains_word(text: &str, word: &str) -> bool {
    let text = text.to_lowercase();
    let word = word.to_lowercase();
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(&word).any(|(at, _)| {
        !text[..at].chars().next_back().is_some_and(is_word)
            && !text[at + word.len()..].chars().next().is_some_and(is_word)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes() -> Vec<String> {
        vec!["JESS15".into()]
    }

    #[test]
    fn a_code_that_does_not_work_is_a_broken_code() {
        for text in [
            "code not working",
            "jess15 says invalid",
            "your code doesn't work at checkout",
            "le code ne marche pas",
            "der Code funktioniert nicht",
        ] {
            assert_eq!(
                detect_discount(text, Label::NotQuestion, &codes()).map(|d| d.0),
                Some(DiscountKind::BrokenCode),
                "{text}"
            );
        }
        assert_eq!(
            detect_discount("JESS15 expired?", Label::OtherQuestion, &codes()),
            Some((DiscountKind::BrokenCode, Some("JESS15".into())))
        );
    }

    #[test]
    fn asking_for_a_code_is_escalated_but_praise_is_not() {
        assert_eq!(
            detect_discount(
                "is there a discount code",
                Label::ProductQuestion(Category::Discount),
                &codes()
            )
            .map(|d| d.0),
            Some(DiscountKind::AsksForCode)
        );
        assert_eq!(
            detect_discount("used JESS15, love it", Label::NotQuestion, &codes()),
            None
        );
        assert_eq!(
            detect_discount("my jess150 works", Label::NotQuestion, &codes()),
            None
        );
        assert_eq!(
            detect_discount("the serum works!", Label::NotQuestion, &codes()),
            None
        );
    }
}
