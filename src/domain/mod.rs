//! Domain types shared by every stage of the pipeline.
//!
//! Platform JSON is parsed into these once, at the edge (`platforms/`); the classifier, the store and
//! the digest only ever see these types. Constructors are fallible where a value can be malformed, so
//! a bad id or an unknown category cannot travel further than the parser that met it.

mod comment;
mod quota;
mod verdict;

pub use comment::{AuthorRole, Comment, Media, Platform, UnknownPlatform};
pub use quota::QuotaReading;
pub use verdict::{Category, Label, RuleId, UnknownCategory, UnknownLabel, Verdict};
