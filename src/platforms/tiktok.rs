//! TikTok API for Business (Accounts API) client: a creator's own videos and their comments.
//!
//! Reads `business/video/list/`, `business/comment/list/` (`status=ALL` so hidden comments are
//! seen, newest first) and `business/comment/reply/list/` for every thread with replies. The
//! token travels in an `Access-Token` header — without `Bearer`, which the API rejects with 40105.
//!
//! Errors arrive inside HTTP 200 bodies: `code != 0` is the failure signal, so [`interpret`]
//! reads the envelope before anything else. The cursor is an offset: comments arriving during a
//! walk make items repeat on the next page (the store dedupes by id), and pages may come back
//! short with `has_more: true`, so only `has_more: false` ends a list. Ids are 19-digit strings
//! (numbers are tolerated and kept exact), `create_time` unix seconds as a string or a number.
//! The owner's replies carry `owner: true`; `replies` counts replies from anyone.

use chrono::DateTime;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use secrecy::ExposeSecret;

use super::tokens::SharedToken;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use super::http::{ApiClient, HttpPolicy, Interpretation};
use super::{Page, PlatformClient, PlatformError};
use crate::domain::{AuthorRole, Comment, Media};

const MAX_COMMENTS: u32 = 30;
const MAX_VIDEOS: u32 = 20;
/// Wait after a 40100 before asking again: the limits are per second and per minute.
const THROTTLE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
const VIDEO_FIELDS: &str = r#"["item_id","create_time","caption","share_url","comments"]"#;

pub struct TiktokClient {
    api: ApiClient,
    base_url: String,
    token: SharedToken,
    /// The creator's `open_id`, passed as `business_id`.
    business_id: String,
    brand_handles: Vec<String>,
    page_size: u32,
}

impl TiktokClient {
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new(
        base_url: &str,
        token: impl Into<SharedToken>,
        business_id: &str,
        brand_handles: Vec<String>,
        page_size: u32,
        policy: HttpPolicy,
    ) -> Result<Self, PlatformError> {
        Ok(TiktokClient {
            api: ApiClient::new(policy)?,
            base_url: base_url.trim_end_matches('/').to_owned(),
            token: token.into(),
            business_id: business_id.to_owned(),
            brand_handles,
            page_size: page_size.clamp(1, MAX_COMMENTS),
        })
    }

    async fn get<T: DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, PlatformError> {
        let url = format!("{}/{path}", self.base_url);
        let envelope: Envelope<T> = self
            .api
            .get_json(
                what,
                |http| {
                    http.get(&url)
                        .query(&[("business_id", self.business_id.as_str())])
                        .query(query)
                        .header("Access-Token", self.token.get().expose_secret())
                },
                interpret,
            )
            .await?;
        Ok(envelope.data)
    }

    /// Every reply of a thread, following `cursor` until `has_more` is false (or the cursor stops
    /// moving).
    async fn all_replies(
        &self,
        video_id: &str,
        comment_id: &str,
    ) -> Result<Vec<WireComment>, PlatformError> {
        let mut replies = Vec::new();
        let mut cursor = 0u64;
        let count = self.page_size.to_string();
        loop {
            let at = cursor.to_string();
            let page: CommentData = self
                .get(
                    "replies",
                    "business/comment/reply/list/",
                    &[
                        ("video_id", video_id),
                        ("comment_id", comment_id),
                        ("status", "ALL"),
                        ("sort_field", "create_time"),
                        ("sort_order", "desc"),
                        ("max_count", count.as_str()),
                        ("cursor", at.as_str()),
                    ],
                )
                .await?;
            replies.extend(page.comments);
            match page.cursor {
                Some(next) if page.has_more && next > cursor => cursor = next,
                _ => return Ok(replies),
            }
        }
    }

    async fn flatten(
        &self,
        video_id: &str,
        threads: Vec<WireComment>,
    ) -> Result<Vec<Comment>, PlatformError> {
        let mut out = Vec::new();
        for thread in threads {
            let replies = if thread.replies.unwrap_or(0) > 0 {
                self.all_replies(video_id, &thread.comment_id.0).await?
            } else {
                Vec::new()
            };
            let parent = thread.comment_id.0.clone();
            out.push(self.to_comment(thread, None)?);
            for reply in replies {
                out.push(self.to_comment(reply, Some(parent.clone()))?);
            }
        }
        Ok(out)
    }

    /// Whether a comment is a reply is decided by the endpoint it came from, not by
    /// `parent_comment_id` (top-level comments may carry the video id there).
    fn to_comment(
        &self,
        wire: WireComment,
        parent: Option<String>,
    ) -> Result<Comment, PlatformError> {
        let id = wire.comment_id.0;
        let created_at = wire
            .create_time
            .and_then(|t| DateTime::from_timestamp(t.0, 0))
            .ok_or_else(|| malformed(&format!("comment {id} has no valid create_time")))?;
        let handle = wire.username.unwrap_or_default();
        let role = if wire.owner {
            AuthorRole::Owner
        } else if self
            .brand_handles
            .iter()
            .any(|b| b.eq_ignore_ascii_case(&handle))
        {
            AuthorRole::Brand
        } else {
            AuthorRole::Audience
        };
        Ok(Comment {
            external_id: id,
            parent_id: parent,
            author_id: wire.user_id.map(|u| u.0),
            author_handle: handle,
            text: wire.text.unwrap_or_default(),
            created_at,
            role,
            hidden: wire.status.as_deref() == Some("HIDDEN"),
        })
    }
}

fn parse_cursor(after: Option<&str>) -> Result<u64, PlatformError> {
    after.map_or(Ok(0), |a| {
        a.parse().map_err(|_| PlatformError::InvalidRequest {
            message: format!("{a:?} is not a TikTok cursor"),
        })
    })
}

impl PlatformClient for TiktokClient {
    async fn list_posts(&self, after: Option<&str>) -> Result<Page<Media>, PlatformError> {
        let cursor = parse_cursor(after)?.to_string();
        let count = MAX_VIDEOS.to_string();
        let data: VideoData = self
            .get(
                "videos",
                "business/video/list/",
                &[
                    ("fields", VIDEO_FIELDS),
                    ("max_count", count.as_str()),
                    ("cursor", cursor.as_str()),
                ],
            )
            .await?;
        let items = data
            .videos
            .into_iter()
            .map(|v| {
                let id = v.item_id.0;
                Ok(Media {
                    created_at: v
                        .create_time
                        .and_then(|t| DateTime::from_timestamp(t.0, 0))
                        .ok_or_else(|| {
                            malformed(&format!("video {id} has no valid create_time"))
                        })?,
                    caption: v.caption.unwrap_or_default(),
                    permalink: v.share_url,
                    comments_count: v.comments,
                    external_id: id,
                })
            })
            .collect::<Result<Vec<_>, PlatformError>>()?;
        Ok(Page {
            items,
            next: next_cursor(data.has_more, data.cursor),
        })
    }

    async fn list_comments(
        &self,
        post_id: &str,
        after: Option<&str>,
    ) -> Result<Page<Comment>, PlatformError> {
        let cursor = parse_cursor(after)?.to_string();
        let count = self.page_size.to_string();
        let data: CommentData = self
            .get(
                "comments",
                "business/comment/list/",
                &[
                    ("video_id", post_id),
                    ("status", "ALL"),
                    ("sort_field", "create_time"),
                    ("sort_order", "desc"),
                    ("max_count", count.as_str()),
                    ("cursor", cursor.as_str()),
                ],
            )
            .await?;
        let next = next_cursor(data.has_more, data.cursor);
        let items = self.flatten(post_id, data.comments).await?;
        Ok(Page { items, next })
    }

    async fn fetch_threads(
        &self,
        post_id: &str,
        comment_ids: &[String],
    ) -> Result<Vec<Comment>, PlatformError> {
        let mut out = Vec::new();
        for chunk in comment_ids.chunks(MAX_COMMENTS as usize) {
            let ids = serde_json::to_string(chunk).map_err(|e| PlatformError::Request {
                message: format!("cannot encode comment ids: {e}"),
            })?;
            let data: CommentData = self
                .get(
                    "threads",
                    "business/comment/list/",
                    &[
                        ("video_id", post_id),
                        ("comment_ids", ids.as_str()),
                        ("status", "ALL"),
                    ],
                )
                .await?;
            out.extend(self.flatten(post_id, data.comments).await?);
        }
        Ok(out)
    }
}

fn next_cursor(has_more: bool, cursor: Option<u64>) -> Option<String> {
    if has_more {
        cursor.map(|c| c.to_string())
    } else {
        None
    }
}

/// Interprets a Business API response: the body's `code` decides, even under HTTP 200.
pub fn interpret(status: StatusCode, _headers: &HeaderMap, body: &[u8]) -> Interpretation {
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Interpretation::Throttled {
            reason: "HTTP 429".into(),
            wait: THROTTLE_WAIT,
        };
    }
    if !status.is_success() {
        return if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
            Interpretation::Retry {
                reason: format!("HTTP {}", status.as_u16()),
                after: None,
            }
        } else {
            Interpretation::Fail(PlatformError::InvalidRequest {
                message: format!("HTTP {}", status.as_u16()),
            })
        };
    }
    // A body that is not an envelope is a transport fault: let the parse fail and retry.
    let Ok(head) = serde_json::from_slice::<EnvelopeHead>(body) else {
        return Interpretation::Success { pace: None };
    };
    let message = format!("code {}: {}", head.code, head.message);
    match head.code {
        0 => Interpretation::Success { pace: None },
        40100 | 50002 => Interpretation::Throttled {
            reason: message,
            wait: THROTTLE_WAIT,
        },
        40104 | 40105 => Interpretation::Fail(PlatformError::TokenRejected {
            code: head.code,
            subcode: None,
            message: head.message,
        }),
        40001 => Interpretation::Fail(PlatformError::PermissionDenied { message }),
        50000 => Interpretation::Retry {
            reason: message,
            after: None,
        },
        _ => Interpretation::Fail(PlatformError::InvalidRequest { message }),
    }
}

fn malformed(reason: &str) -> PlatformError {
    PlatformError::Malformed {
        reason: reason.to_owned(),
    }
}

// Wire shapes.

#[derive(Debug, Deserialize)]
struct EnvelopeHead {
    code: u32,
    #[serde(default)]
    message: String,
}

#[derive(Debug, Deserialize)]
struct Envelope<T> {
    data: T,
}

#[derive(Debug, Deserialize)]
struct VideoData {
    videos: Vec<WireVideo>,
    cursor: Option<u64>,
    #[serde(default)]
    has_more: bool,
}

#[derive(Debug, Deserialize)]
struct WireVideo {
    item_id: IdString,
    create_time: Option<UnixSeconds>,
    caption: Option<String>,
    share_url: Option<String>,
    comments: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct CommentData {
    comments: Vec<WireComment>,
    cursor: Option<u64>,
    #[serde(default)]
    has_more: bool,
}

#[derive(Debug, Deserialize)]
struct WireComment {
    comment_id: IdString,
    user_id: Option<IdString>,
    create_time: Option<UnixSeconds>,
    text: Option<String>,
    replies: Option<u64>,
    #[serde(default)]
    owner: bool,
    status: Option<String>,
    username: Option<String>,
}

/// An id sent as a string (Business API bodies) or a bare number (webhooks), kept exact.
#[derive(Debug)]
struct IdString(String);

impl<'de> Deserialize<'de> for IdString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(u64),
        }
        Ok(IdString(match Raw::deserialize(d)? {
            Raw::Text(s) => s,
            Raw::Number(n) => n.to_string(),
        }))
    }
}

/// Unix seconds as a string (Business API comments) or a number (videos, webhooks).
#[derive(Debug, Clone, Copy)]
struct UnixSeconds(i64);

impl<'de> Deserialize<'de> for UnixSeconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(i64),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(UnixSeconds(n)),
            Raw::Text(s) => s
                .trim()
                .parse()
                .map(UnixSeconds)
                .map_err(|_| serde::de::Error::custom(format!("{s:?} is not unix seconds"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_hide_in_http_200() {
        let ok = HeaderMap::new();
        let body =
            |code: u32| format!(r#"{{"code":{code},"message":"m","request_id":"r","data":{{}}}}"#);
        let at = |code| interpret(StatusCode::OK, &ok, body(code).as_bytes());
        assert!(matches!(at(0), Interpretation::Success { .. }));
        assert!(matches!(at(40100), Interpretation::Throttled { .. }));
        assert!(matches!(
            at(40105),
            Interpretation::Fail(PlatformError::TokenRejected { code: 40105, .. })
        ));
        assert!(matches!(
            at(40104),
            Interpretation::Fail(PlatformError::TokenRejected { .. })
        ));
        assert!(matches!(at(50000), Interpretation::Retry { .. }));
        assert!(matches!(
            at(40006),
            Interpretation::Fail(PlatformError::InvalidRequest { .. })
        ));
        assert!(matches!(
            interpret(StatusCode::BAD_GATEWAY, &ok, b"502 Bad Gateway"),
            Interpretation::Retry { .. }
        ));
    }

    #[test]
    fn ids_and_times_take_either_form_and_stay_exact() {
        let c: WireComment = serde_json::from_str(
            r#"{"comment_id":7364519028371928833,"user_id":"6789012345678901234","create_time":"1714760112","owner":true}"#,
        )
        .unwrap();
        assert_eq!(c.comment_id.0, "7364519028371928833");
        assert_eq!(c.create_time.unwrap().0, 1_714_760_112);
        let v: WireVideo =
            serde_json::from_str(r#"{"item_id":"7364000111222333444","create_time":1714760112}"#)
                .unwrap();
        assert_eq!(v.create_time.unwrap().0, 1_714_760_112);
    }
}
