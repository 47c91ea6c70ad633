//! What the classifier decides about one comment, and which rule decided it.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// What a product question is about. The set is closed: rule files naming any other category are
/// rejected at load, so a digest or an audit never meets a category it cannot display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Price,
    Availability,
    Shipping,
    Sizing,
    Ingredients,
    Usage,
    Discount,
    Compatibility,
    OrderIssue,
    Other,
}

impl Category {
    pub const ALL: [Category; 10] = [
        Category::Price,
        Category::Availability,
        Category::Shipping,
        Category::Sizing,
        Category::Ingredients,
        Category::Usage,
        Category::Discount,
        Category::Compatibility,
        Category::OrderIssue,
        Category::Other,
    ];

    /// The snake_case name used in rule files, the database and every export.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Price => "price",
            Category::Availability => "availability",
            Category::Shipping => "shipping",
            Category::Sizing => "sizing",
            Category::Ingredients => "ingredients",
            Category::Usage => "usage",
            Category::Discount => "discount",
            Category::Compatibility => "compatibility",
            Category::OrderIssue => "order_issue",
            Category::Other => "other",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown category {0:?}; expected one of price, availability, shipping, sizing, ingredients, usage, discount, compatibility, order_issue, other"
)]
pub struct UnknownCategory(pub String);

impl FromStr for Category {
    type Err = UnknownCategory;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownCategory(s.to_owned()))
    }
}

/// The three-way verdict. A product question always carries its category; the other two never do,
/// so "a product question without a category" cannot be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Label {
    ProductQuestion(Category),
    OtherQuestion,
    NotQuestion,
}

impl Label {
    /// `product_question`, `other_question` or `not_question`.
    pub fn kind_str(self) -> &'static str {
        match self {
            Label::ProductQuestion(_) => "product_question",
            Label::OtherQuestion => "other_question",
            Label::NotQuestion => "not_question",
        }
    }

    pub fn category(self) -> Option<Category> {
        match self {
            Label::ProductQuestion(c) => Some(c),
            _ => None,
        }
    }

    pub fn is_question(self) -> bool {
        !matches!(self, Label::NotQuestion)
    }

    pub fn is_product_question(self) -> bool {
        matches!(self, Label::ProductQuestion(_))
    }

    /// Rebuilds a label from its stored parts (`kind_str` and the category name).
    ///
    /// # Errors
    /// An unknown kind, an unknown category, or a product question without a category.
    pub fn from_parts(kind: &str, category: Option<&str>) -> Result<Self, UnknownLabel> {
        match (kind, category) {
            ("product_question", Some(c)) => c
                .parse()
                .map(Label::ProductQuestion)
                .map_err(|e| UnknownLabel(e.to_string())),
            ("other_question", None) => Ok(Label::OtherQuestion),
            ("not_question", None) => Ok(Label::NotQuestion),
            _ => Err(UnknownLabel(format!(
                "kind {kind:?} with category {category:?}"
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid label: {0}")]
pub struct UnknownLabel(pub String);

/// The id of a rule, as written in a rule file. Cheap to clone: every verdict carries one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId(Arc<str>);

impl RuleId {
    pub fn new(id: &str) -> Self {
        RuleId(Arc::from(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The classifier's answer for one comment: the label and the rule that decided it. When a
/// negative rule (rhetorical frame, giveaway entry, spam) decided against a question or product
/// match, `overruled` names the rule it beat, so "why is this not a question?" has both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub label: Label,
    pub rule: RuleId,
    pub overruled: Option<RuleId>,
}
