//! Digests: the unanswered product questions of one recipient, grouped by post, ready to read,
//! and delivered once per send slot.
//!
//! - [`build`](build_digest) decides *what* goes in (from store rows, at a given `now`);
//!   [`compose_digest`] gathers those rows for a recipient.
//! - `render` decides how it looks in text, Markdown or HTML; `deliver` builds each channel's
//!   payload (email, Slack, Discord, signed webhook) and sends it.
//! - [`schedule`] names send slots in the recipient's time zone; [`Dispatcher`] renders each slot
//!   once and delivers it on every channel exactly once, through the deliveries ledger.
//!
//! Comment text is attacker-controlled: every renderer escapes it for its format and shortens it
//! without breaking a grapheme.

mod build;
mod compose;
pub mod deliver;
mod dispatch;
mod render;
pub mod schedule;
mod words;

pub(crate) use build::comment_link;
pub use build::{
    Digest, DigestInput, DigestOptions, DigestQuestion, DiscountAlert, GROUP_THRESHOLD, HealthNote,
    Language, PostGroup, QuestionGroup, build_digest, format_age,
};
pub use compose::{accounts_in_scope, compose_digest};
pub use dispatch::{DispatchReport, Dispatcher};
pub use render::{Format, render_digest, shorten, subject};
pub(crate) use render::{clean_line, html_escape};
pub use words::Words;
