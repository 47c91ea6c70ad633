//! Platform API clients: wire structs in, domain types out.
//!
//! Each platform module owns its JSON shapes and maps them into [`crate::domain`] types once; the
//! worker only sees [`PlatformClient`]. All HTTP goes through [`http::ApiClient`], the one retry and
//! rate-limit policy. A platform module never touches the store.

pub mod facebook;
pub mod http;
pub mod instagram;
mod meta;
pub mod tiktok;
pub mod tokens;
pub mod youtube;

use std::future::Future;
use std::time::Duration;

use crate::domain::{Comment, Media, QuotaReading};

/// Errors by what the caller does about them.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum PlatformError {
    /// The token is expired, revoked or invalid: nothing works until the user gives a new one.
    #[error("access token rejected (code {code}{}): {message}", subcode.map(|s| format!(", subcode {s}")).unwrap_or_default())]
    TokenRejected {
        code: u32,
        subcode: Option<u32>,
        message: String,
    },
    /// The token lacks a permission the call needs.
    #[error("permission missing: {message}")]
    PermissionDenied { message: String },
    /// Rate limited for longer than this poll may wait.
    #[error("rate limited: the platform asks to wait {}s", wait.as_secs())]
    Throttled { wait: Duration },
    /// The object is gone (deleted post or comment) or not visible to this token.
    #[error("not found: {message}")]
    NotFound { message: String },
    /// The post is there, but its owner turned comments off: there is nothing to read until they
    /// turn them back on. What was stored before stays.
    #[error("comments are turned off: {message}")]
    CommentsDisabled { message: String },
    /// The platform refused the request itself (bad parameter, stale cursor).
    #[error("request refused: {message}")]
    InvalidRequest { message: String },
    /// Transient failures (5xx, timeouts, truncated bodies) outlasted the retry budget.
    #[error("gave up after {attempts} attempts: {last}")]
    Exhausted { attempts: u32, last: String },
    /// The response parsed as JSON but not as the documented shape.
    #[error("unexpected response shape: {reason}")]
    Malformed { reason: String },
    /// The request could not be built or sent at all.
    #[error("{message}")]
    Request { message: String },
}

/// One page of a listing, and the cursor of the next page if there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// What the worker needs from a platform. Cursors are opaque strings owned by the platform.
pub trait PlatformClient: Send + Sync {
    /// One page of the account's posts, newest first.
    fn list_posts(
        &self,
        after: Option<&str>,
    ) -> impl Future<Output = Result<Page<Media>, PlatformError>> + Send;

    /// One page of a post's top-level comments, newest first, each followed by all of its replies
    /// (reply paging is followed inside the call, so a page is complete threads).
    fn list_comments(
        &self,
        post_id: &str,
        after: Option<&str>,
    ) -> impl Future<Output = Result<Page<Comment>, PlatformError>> + Send;

    /// The given top-level comments of one post with all their replies, to notice answers to old
    /// questions. Comments that no longer exist are left out.
    fn fetch_threads(
        &self,
        post_id: &str,
        comment_ids: &[String],
    ) -> impl Future<Output = Result<Vec<Comment>, PlatformError>> + Send;

    /// The account's quota as this client last saw it, for the schedule's budget planner and
    /// `triage status`. Platforms that only throttle report [`QuotaReading::Unknown`].
    fn quota_reading(&self) -> QuotaReading {
        QuotaReading::Unknown
    }
}
