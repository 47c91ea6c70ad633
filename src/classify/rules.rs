//! Rule files: parse, validate and merge them, so that a bad rule stops the program at load time
//! with the file, the rule id and the reason, instead of misclassifying comments quietly later.
//!
//! A rule file is TOML with one `[[rule]]` table per rule (see the header of `config/rules.toml`
//! for the format as a brand manager reads it). Loading happens in two steps: [`parse_rule_file`]
//! turns text into checked [`Rule`]s (every pattern is parsed here, after its shorthands are
//! expanded), and [`merge_rules`] lays a user file over the built-in rules: a rule with a known id
//! replaces the built-in one in place, a new id is appended.
//!
//! Patterns are always matched case-insensitively. A Unicode word boundary (`\b`, `\B`, `\b{start}`
//! …) is refused: it pushes the regex engine off its DFA as soon as a comment holds an emoji or an
//! accent, which costs about 80x. Rules write `{b}`, which expands to the ASCII boundary
//! `(?-u:\b)`.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

use crate::domain::{Category, RuleId};

/// Why a rule file was refused. Every variant names the file; all but the file-level ones name
/// the rule, so the fix starts at the right line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RulesError {
    #[error("{file}: cannot read the rule file: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: not a valid rule file: {source}")]
    Toml {
        file: String,
        #[source]
        source: Box<toml::de::Error>,
    },
    #[error("{file}: rule {rule}: missing field `{field}`")]
    MissingField {
        file: String,
        rule: String,
        field: &'static str,
    },
    #[error("{file}: rule {rule}: unknown kind {kind:?}; expected one of {}", RuleKind::NAMES.join(", "))]
    UnknownKind {
        file: String,
        rule: String,
        kind: String,
    },
    #[error("{file}: rule {rule}: {source}")]
    UnknownCategory {
        file: String,
        rule: String,
        #[source]
        source: crate::domain::UnknownCategory,
    },
    #[error("{file}: rule {rule}: unknown language {lang:?}; expected `any` or one of {}", KNOWN_LANGUAGES.join(", "))]
    UnknownLanguage {
        file: String,
        rule: String,
        lang: String,
    },
    #[error("{file}: rule {rule}: {reason}")]
    Invalid {
        file: String,
        rule: String,
        reason: String,
    },
    #[error("{file}: rule {rule}: the id is used twice in this file")]
    DuplicateId { file: String, rule: String },
    #[error("{file}: rule {rule}: bad regex {pattern:?}:\n{message}")]
    BadRegex {
        file: String,
        rule: String,
        pattern: String,
        message: String,
    },
    #[error(
        "{file}: rule {rule}: pattern {pattern:?} uses a Unicode word boundary (\\b or \\B); write {{b}} (= (?-u:\\b)) instead: a Unicode boundary makes matching about 80x slower on emoji and accented text"
    )]
    UnicodeWordBoundary {
        file: String,
        rule: String,
        pattern: String,
    },
    #[error("the rules do not compile together: {message}")]
    Compile { message: String },
    #[error("invalid product term {term:?}: {reason}")]
    ProductTerm { term: String, reason: String },
}

/// What a rule contributes to the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// The comment has the form of a question (a question mark, an opener, "anyone know…").
    Question,
    /// The comment is about the product or the purchase; it is a product question when it also has
    /// a question form, or on its own when the rule is `standalone` ("link pls", "my order never
    /// came").
    Product,
    /// The question is about something else than the product (the song, the creator's dog), or is
    /// a content request phrased as a question.
    OtherQuestion,
    /// Rhetorical or exclamative frames, tags, giveaway entries, spam: the comment is not a
    /// question whatever else matched.
    Negative,
}

impl RuleKind {
    const NAMES: [&'static str; 4] = ["question", "product", "other_question", "negative"];

    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Question => "question",
            RuleKind::Product => "product",
            RuleKind::OtherQuestion => "other_question",
            RuleKind::Negative => "negative",
        }
    }
}

impl FromStr for RuleKind {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "question" => Ok(RuleKind::Question),
            "product" => Ok(RuleKind::Product),
            "other_question" => Ok(RuleKind::OtherQuestion),
            "negative" => Ok(RuleKind::Negative),
            _ => Err(()),
        }
    }
}

impl fmt::Display for RuleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Languages a rule may be tagged with (ISO 639-1), besides `any`. The tag documents the rule and
/// feeds per-language reports; rules are not switched by a language detector.
pub const KNOWN_LANGUAGES: [&str; 32] = [
    "ar", "bn", "de", "en", "es", "fa", "fil", "fr", "hi", "id", "it", "ja", "jv", "ko", "ml",
    "ms", "nl", "pl", "pt", "ro", "ru", "sv", "sw", "ta", "te", "th", "tl", "tr", "uk", "ur", "vi",
    "zh",
];

/// One checked rule. Its patterns are already expanded (shorthands replaced) and known to parse.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: RuleId,
    pub lang: String,
    pub kind: RuleKind,
    /// Present exactly when `kind` is `Product`.
    pub category: Option<Category>,
    /// For product and other-question rules: decides without a question form.
    pub standalone: bool,
    /// Among several matching rules of one kind the highest priority decides; ties go to the rule
    /// that comes first.
    pub priority: i32,
    pub patterns: Vec<String>,
    pub note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    rule: Vec<RawRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Option<String>,
    lang: Option<String>,
    kind: Option<String>,
    category: Option<String>,
    #[serde(default)]
    standalone: bool,
    #[serde(default)]
    priority: i32,
    patterns: Option<Vec<String>>,
    note: Option<String>,
}

/// The shorthands a pattern may use, and what each expands to.
pub const SHORTHANDS: [(&str, &str); 4] = [
    // ASCII word boundary: stays on the fast DFA with emoji and accents around.
    ("{b}", r"(?-u:\b)"),
    // Any script's question mark.
    ("{q}", r"[?？¿؟]"),
    // Start of the comment or of a sentence, after mentions, emoji and punctuation.
    ("{start}", r"(?:(?m:^)|[.!?;…\n])[^\p{L}\p{N}]*"),
    // End of a word that may end in an accented letter (Vietnamese, Portuguese…), where `{b}`
    // cannot see the boundary.
    ("{end}", r"(?:$|[^\p{L}\p{N}])"),
];

/// Replaces the shorthands of [`SHORTHANDS`] in one pattern.
pub fn expand_shorthands(pattern: &str) -> String {
    let mut expanded = pattern.to_owned();
    for (short, long) in SHORTHANDS {
        if expanded.contains(short) {
            expanded = expanded.replace(short, long);
        }
    }
    expanded
}

/// Parses and checks one rule file. `file` names it in every error.
///
/// # Errors
/// Malformed TOML, a missing id/kind/patterns/category, an unknown kind, category or language, an
/// id used twice, a pattern that does not parse or that uses a Unicode word boundary.
pub fn parse_rule_file(file: &str, text: &str) -> Result<Vec<Rule>, RulesError> {
    let raw: RawFile = toml::from_str(text).map_err(|source| RulesError::Toml {
        file: file.to_owned(),
        source: Box::new(source),
    })?;
    let mut seen = HashSet::new();
    let mut rules = Vec::with_capacity(raw.rule.len());
    for (index, raw_rule) in raw.rule.into_iter().enumerate() {
        let rule = check_rule(file, index, raw_rule)?;
        if !seen.insert(rule.id.clone()) {
            return Err(RulesError::DuplicateId {
                file: file.to_owned(),
                rule: rule.id.to_string(),
            });
        }
        rules.push(rule);
    }
    Ok(rules)
}

fn check_rule(file: &str, index: usize, raw: RawRule) -> Result<Rule, RulesError> {
    let missing = |rule: &str, field| RulesError::MissingField {
        file: file.to_owned(),
        rule: rule.to_owned(),
        field,
    };
    let id = match raw.id {
        Some(id) if !id.trim().is_empty() => id,
        _ => return Err(missing(&format!("#{} (no id)", index + 1), "id")),
    };
    let invalid = |reason: String| RulesError::Invalid {
        file: file.to_owned(),
        rule: id.clone(),
        reason,
    };
    let kind_name = raw.kind.ok_or_else(|| missing(&id, "kind"))?;
    let kind: RuleKind = kind_name.parse().map_err(|()| RulesError::UnknownKind {
        file: file.to_owned(),
        rule: id.clone(),
        kind: kind_name.clone(),
    })?;
    let lang = raw.lang.ok_or_else(|| missing(&id, "lang"))?;
    if lang != "any" && !KNOWN_LANGUAGES.contains(&lang.as_str()) {
        return Err(RulesError::UnknownLanguage {
            file: file.to_owned(),
            rule: id,
            lang,
        });
    }
    let category =
        match (kind, raw.category) {
            (RuleKind::Product, Some(name)) => Some(name.parse::<Category>().map_err(
                |source| RulesError::UnknownCategory {
                    file: file.to_owned(),
                    rule: id.clone(),
                    source,
                },
            )?),
            (RuleKind::Product, None) => return Err(missing(&id, "category")),
            (_, Some(_)) => {
                return Err(invalid(format!(
                    "a {kind} rule has no category; only product rules do"
                )));
            }
            (_, None) => None,
        };
    if raw.standalone && !matches!(kind, RuleKind::Product | RuleKind::OtherQuestion) {
        return Err(invalid(format!(
            "`standalone` only applies to product and other_question rules, not to a {kind} rule"
        )));
    }
    let patterns = raw.patterns.ok_or_else(|| missing(&id, "patterns"))?;
    if patterns.is_empty() {
        return Err(invalid("`patterns` is empty".to_owned()));
    }
    let patterns = patterns
        .iter()
        .map(|pattern| check_pattern(file, &id, pattern))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Rule {
        id: RuleId::new(&id),
        lang,
        kind,
        category,
        standalone: raw.standalone,
        priority: raw.priority,
        patterns,
        note: raw.note,
    })
}

/// Expands the shorthands of one pattern and checks that it parses the way it will be compiled
/// (case-insensitive, Unicode) without a Unicode word boundary.
fn check_pattern(file: &str, rule: &str, pattern: &str) -> Result<String, RulesError> {
    let expanded = expand_shorthands(pattern);
    let hir = regex_syntax::ParserBuilder::new()
        .case_insensitive(true)
        .build()
        .parse(&expanded)
        .map_err(|error| RulesError::BadRegex {
            file: file.to_owned(),
            rule: rule.to_owned(),
            pattern: pattern.to_owned(),
            message: error.to_string(),
        })?;
    if hir.properties().look_set().contains_word_unicode() {
        return Err(RulesError::UnicodeWordBoundary {
            file: file.to_owned(),
            rule: rule.to_owned(),
            pattern: pattern.to_owned(),
        });
    }
    Ok(expanded)
}

/// Lays `overrides` over `base`: a rule whose id is already in `base` replaces it where it stands
/// (so its place in the tie-break order is kept), any other rule is appended.
pub fn merge_rules(base: &mut Vec<Rule>, overrides: Vec<Rule>) {
    for rule in overrides {
        match base.iter_mut().find(|existing| existing.id == rule.id) {
            Some(existing) => *existing = rule,
            None => base.push(rule),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Rule>, RulesError> {
        parse_rule_file("test.toml", text)
    }

    fn message(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn a_good_rule_parses_with_its_shorthands_expanded() {
        let rules = parse(
            r#"
            [[rule]]
            id = "price.how_much"
            lang = "en"
            kind = "product"
            category = "price"
            standalone = true
            patterns = ['{b}how much{b}']
            "#,
        )
        .unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].category, Some(Category::Price));
        assert_eq!(rules[0].patterns[0], r"(?-u:\b)how much(?-u:\b)");
    }

    #[test]
    fn bad_regex_names_file_rule_and_regex_error() {
        let msg = message(
            "[[rule]]\nid = \"broken\"\nlang = \"en\"\nkind = \"question\"\npatterns = ['(how']",
        );
        assert!(msg.contains("test.toml"), "{msg}");
        assert!(msg.contains("broken"), "{msg}");
        assert!(msg.contains("unclosed group"), "{msg}");
    }

    #[test]
    fn unicode_word_boundary_is_refused() {
        for pattern in [r"\bprice\b", r"\Bfoo", r"\b{start}x"] {
            let text = format!(
                "[[rule]]\nid = \"slow\"\nlang = \"en\"\nkind = \"question\"\npatterns = ['{pattern}']"
            );
            let err = parse(&text).unwrap_err();
            assert!(
                matches!(err, RulesError::UnicodeWordBoundary { .. }),
                "{pattern}: {err}"
            );
            let msg = err.to_string();
            assert!(msg.contains("test.toml") && msg.contains("slow"), "{msg}");
        }
        assert!(
            parse("[[rule]]\nid = \"fast\"\nlang = \"en\"\nkind = \"question\"\npatterns = ['(?-u:\\b)x{b}']")
                .is_ok()
        );
    }

    #[test]
    fn unknown_kind_category_and_language_are_named() {
        let kind =
            message("[[rule]]\nid = \"k\"\nlang = \"en\"\nkind = \"maybe\"\npatterns = ['x']");
        assert!(
            kind.contains("test.toml: rule k: unknown kind \"maybe\""),
            "{kind}"
        );
        let category = message(
            "[[rule]]\nid = \"c\"\nlang = \"en\"\nkind = \"product\"\ncategory = \"colour\"\npatterns = ['x']",
        );
        assert!(
            category.contains("test.toml: rule c: unknown category \"colour\""),
            "{category}"
        );
        let lang =
            message("[[rule]]\nid = \"l\"\nlang = \"xx\"\nkind = \"question\"\npatterns = ['x']");
        assert!(
            lang.contains("test.toml: rule l: unknown language \"xx\""),
            "{lang}"
        );
    }

    #[test]
    fn missing_fields_are_named() {
        let no_patterns = message("[[rule]]\nid = \"p\"\nlang = \"en\"\nkind = \"question\"");
        assert!(
            no_patterns.contains("rule p: missing field `patterns`"),
            "{no_patterns}"
        );
        let no_category =
            message("[[rule]]\nid = \"c\"\nlang = \"en\"\nkind = \"product\"\npatterns = ['x']");
        assert!(
            no_category.contains("rule c: missing field `category`"),
            "{no_category}"
        );
        let no_id = message("[[rule]]\nlang = \"en\"\nkind = \"question\"\npatterns = ['x']");
        assert!(
            no_id.contains("test.toml: rule #1 (no id): missing field `id`"),
            "{no_id}"
        );
    }

    #[test]
    fn duplicate_id_in_one_file_is_refused() {
        let msg = message(
            "[[rule]]\nid = \"twice\"\nlang = \"en\"\nkind = \"question\"\npatterns = ['x']\n\
             [[rule]]\nid = \"twice\"\nlang = \"en\"\nkind = \"question\"\npatterns = ['y']",
        );
        assert!(
            msg.contains("test.toml: rule twice: the id is used twice"),
            "{msg}"
        );
    }

    #[test]
    fn merge_replaces_in_place_and_appends_new_ids() {
        let mut base = parse(
            "[[rule]]\nid = \"a\"\nlang = \"en\"\nkind = \"question\"\npatterns = ['a']\n\
             [[rule]]\nid = \"b\"\nlang = \"en\"\nkind = \"question\"\npatterns = ['b']",
        )
        .unwrap();
        let user = parse(
            "[[rule]]\nid = \"a\"\nlang = \"en\"\nkind = \"negative\"\npatterns = ['z']\n\
             [[rule]]\nid = \"c\"\nlang = \"en\"\nkind = \"question\"\npatterns = ['c']",
        )
        .unwrap();
        merge_rules(&mut base, user);
        let ids: Vec<_> = base.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!(base[0].kind, RuleKind::Negative);
    }
}
