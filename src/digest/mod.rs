//! Digests: the unanswered product questions of one recipient, grouped by post, ready to read.
//!
//! [`build`] decides *what* goes in (from store rows, at a given `now`); [`render`] decides how it
//! looks in text, Markdown or HTML. Comment text is attacker-controlled: every renderer escapes it
//! for its format and shortens it without breaking a grapheme.

mod build;
mod render;

pub(crate) use build::comment_link;
pub use build::{Digest, DigestQuestion, PostGroup, build_digest, format_age};
pub use render::{Format, render_digest, shorten};
pub(crate) use render::{clean_line, html_escape};
