//! YouTube Data API v3 client.
//!
//! Posts are the channel's uploads: `playlistItems.list` on the uploads playlist (`UU` + the
//! channel id after `UC`), with `videos.list?part=statistics` for each page's comment counts.
//! Comments are `commentThreads.list?videoId=…&order=time&part=snippet,replies&textFormat=plainText`,
//! newest first; the `replies` part is only a subset, so a thread whose `totalReplyCount` exceeds
//! it is completed with `comments.list?parentId=…` — with a loop guard, because that endpoint has
//! been seen ignoring `pageToken` and serving its first page forever. Open questions are re-read
//! with the cheap `commentThreads.list?id=a,b,…`.
//!
//! The owner answered when a reply's `authorChannelId.value` equals the thread's `channelId` (the
//! video's channel); a missing `authorChannelId` means "not the owner".
//!
//! Quota: every call costs units (1, or 1 + 2 per `snippet`/`replies` part with
//! [`CostTable::PerPart`]), failed and retried calls included. [`QuotaMeter`] counts them per
//! Pacific day and refuses calls that would exceed the configured daily budget before they are
//! sent; a `quotaExceeded` answer marks the day spent. Both surface as
//! [`PlatformError::Throttled`] with the wait until the next midnight Pacific, never retried.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use secrecy::ExposeSecret;

use super::tokens::SharedToken;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::http::{ApiClient, HttpPolicy, Interpretation};
use super::{Page, PlatformClient, PlatformError};
use crate::domain::{AuthorRole, Comment, Media, QuotaReading};

/// Largest `maxResults` of the comment endpoints.
const MAX_RESULTS: u32 = 100;
/// Largest `maxResults` of `playlistItems.list`, and ids per `videos.list`/`commentThreads.list?id=`.
const MAX_IDS: usize = 50;
/// Wait suggested for a short-term `rateLimitExceeded`.
const BURST_WAIT: Duration = Duration::from_secs(30);
/// The parts every thread listing asks for: the top-level comment and its embedded replies.
const THREAD_PARTS: &str = "snippet,replies";

/// The default daily quota of a Cloud project.
pub const DEFAULT_DAILY_UNITS: u64 = 10_000;

/// How many units a call costs. The quota calculator and the newer reference page disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CostTable {
    /// 1 unit per list call.
    #[default]
    Flat,
    /// 1 unit plus 2 per `snippet` or `replies` part on `commentThreads.list`.
    PerPart,
}

impl CostTable {
    fn cost(self, resource: &str, parts: &str) -> u64 {
        match self {
            CostTable::Flat => 1,
            CostTable::PerPart if resource == "commentThreads" => {
                1 + 2 * parts
                    .split(',')
                    .filter(|p| *p == "snippet" || *p == "replies")
                    .count() as u64
            }
            CostTable::PerPart => 1,
        }
    }
}

/// Units spent in the current Pacific day, against a daily budget.
#[derive(Debug)]
pub struct QuotaMeter {
    daily_budget: u64,
    costs: CostTable,
    spent: Mutex<(NaiveDate, u64)>,
}

impl QuotaMeter {
    pub fn new(daily_budget: u64, costs: CostTable) -> Self {
        QuotaMeter {
            daily_budget,
            costs,
            spent: Mutex::new((pacific_day(Utc::now()), 0)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (NaiveDate, u64)> {
        let mut spent = self.spent.lock().unwrap_or_else(|e| e.into_inner());
        let today = pacific_day(Utc::now());
        if spent.0 != today {
            *spent = (today, 0);
        }
        spent
    }

    /// Units spent today.
    pub fn spent_today(&self) -> u64 {
        self.lock().1
    }

    pub fn daily_budget(&self) -> u64 {
        self.daily_budget
    }

    /// Whether a call of `cost` units still fits in today's budget.
    fn fits(&self, cost: u64) -> bool {
        self.lock().1 + cost <= self.daily_budget
    }

    fn charge(&self, cost: u64) {
        self.lock().1 += cost;
    }

    /// Counts units already spent today by an earlier run of the worker (the store keeps them),
    /// so a restart does not believe the whole day's budget is available again.
    pub fn seed_spent_today(&self, units: u64) {
        let mut spent = self.lock();
        spent.1 = spent.1.max(units);
    }

    /// The platform says the quota is gone: nothing more is sent today.
    fn exhaust(&self) {
        let mut spent = self.lock();
        spent.1 = spent.1.max(self.daily_budget);
    }
}

fn pacific_day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&chrono_tz::America::Los_Angeles)
        .date_naive()
}

/// Time left until the next midnight in America/Los_Angeles, when the quota resets.
pub fn until_quota_reset(now: DateTime<Utc>) -> Duration {
    use chrono::TimeZone;
    let tz = chrono_tz::America::Los_Angeles;
    let tomorrow = pacific_day(now).succ_opt().unwrap_or(pacific_day(now));
    let midnight = tz
        .from_local_datetime(&tomorrow.and_hms_opt(0, 0, 0).unwrap_or_default())
        .earliest()
        .map_or(now + chrono::Duration::hours(24), |t| t.with_timezone(&Utc));
    (midnight - now)
        .to_std()
        .unwrap_or(Duration::from_secs(3600))
}

/// Who counts as the channel's owner, and which handles belong to the sponsoring brands.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The channel id (`UC…`).
    pub channel_id: String,
    pub brand_handles: Vec<String>,
}

impl Identity {
    fn role_of(
        &self,
        thread_channel: Option<&str>,
        author_channel: Option<&str>,
        handle: &str,
    ) -> AuthorRole {
        let channel = thread_channel.unwrap_or(&self.channel_id);
        if author_channel.is_some_and(|a| a == channel) {
            AuthorRole::Owner
        } else if self
            .brand_handles
            .iter()
            .any(|b| b.trim_start_matches('@').eq_ignore_ascii_case(handle))
        {
            AuthorRole::Brand
        } else {
            AuthorRole::Audience
        }
    }
}

pub struct YoutubeClient {
    api: ApiClient,
    base_url: String,
    token: SharedToken,
    identity: Identity,
    page_size: u32,
    quota: QuotaMeter,
}

impl YoutubeClient {
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new(
        base_url: &str,
        token: impl Into<SharedToken>,
        identity: Identity,
        page_size: u32,
        quota: QuotaMeter,
        policy: HttpPolicy,
    ) -> Result<Self, PlatformError> {
        Ok(YoutubeClient {
            api: ApiClient::new(policy)?,
            base_url: base_url.trim_end_matches('/').to_owned(),
            token: token.into(),
            identity,
            page_size: page_size.clamp(1, MAX_RESULTS),
            quota,
        })
    }

    /// The quota units this client spent today (every attempt counts, failed ones too).
    pub fn quota(&self) -> &QuotaMeter {
        &self.quota
    }

    async fn get<T: DeserializeOwned>(
        &self,
        resource: &str,
        query: &[(&str, &str)],
    ) -> Result<T, PlatformError> {
        let parts = query
            .iter()
            .find(|(n, _)| *n == "part")
            .map_or("", |(_, v)| *v);
        let cost = self.quota.costs.cost(resource, parts);
        if !self.quota.fits(cost) {
            return Err(PlatformError::Throttled {
                wait: until_quota_reset(Utc::now()),
            });
        }
        let url = format!("{}/{resource}", self.base_url);
        self.api
            .get_json(
                resource,
                |http| {
                    self.quota.charge(cost);
                    http.get(&url)
                        .query(query)
                        .bearer_auth(self.token.get().expose_secret())
                },
                |status, headers, body| {
                    let verdict = interpret(status, headers, body);
                    if let Interpretation::Fail(PlatformError::Throttled { .. }) = verdict {
                        self.quota.exhaust();
                    }
                    verdict
                },
            )
            .await
    }

    /// Every reply of a thread, through `comments.list?parentId=`, stopping when the endpoint
    /// hands back a token or a page it already gave.
    async fn all_replies(&self, thread_id: &str) -> Result<Vec<WireComment>, PlatformError> {
        let mut replies: Vec<WireComment> = Vec::new();
        let mut seen_ids = std::collections::HashSet::new();
        let mut seen_tokens = std::collections::HashSet::new();
        let mut token: Option<String> = None;
        let max = self.page_size.to_string();
        loop {
            let mut query = vec![
                ("part", "snippet"),
                ("parentId", thread_id),
                ("maxResults", max.as_str()),
                ("textFormat", "plainText"),
            ];
            if let Some(token) = &token {
                query.push(("pageToken", token.as_str()));
            }
            let page: WireCommentList = self.get("comments", &query).await?;
            let before = replies.len();
            for reply in page.items {
                if seen_ids.insert(reply.id.clone()) {
                    replies.push(reply);
                }
            }
            let repeated_page = replies.len() == before;
            match page.next_page_token {
                Some(next) if !repeated_page && seen_tokens.insert(next.clone()) => {
                    token = Some(next);
                }
                Some(_) => {
                    tracing::warn!(
                        "comments.list served a page or page token it already gave; ending this thread's reply walk"
                    );
                    return Ok(replies);
                }
                None => return Ok(replies),
            }
        }
    }

    /// Flattens threads: each top-level comment followed by all of its replies.
    async fn flatten(&self, threads: Vec<WireThread>) -> Result<Vec<Comment>, PlatformError> {
        let mut out = Vec::new();
        for thread in threads {
            let snippet = thread
                .snippet
                .ok_or_else(|| malformed(&format!("thread {} has no snippet", thread.id)))?;
            let channel = snippet.channel_id.clone();
            let embedded = thread.replies.map(|r| r.comments).unwrap_or_default();
            let replies = if snippet.total_reply_count.unwrap_or(0) > embedded.len() as u64 {
                self.all_replies(&thread.id).await?
            } else {
                embedded
            };
            out.push(self.to_comment(snippet.top_level_comment, None, channel.as_deref())?);
            for reply in replies {
                out.push(self.to_comment(reply, Some(&thread.id), channel.as_deref())?);
            }
        }
        Ok(out)
    }

    fn to_comment(
        &self,
        wire: WireComment,
        thread: Option<&str>,
        channel: Option<&str>,
    ) -> Result<Comment, PlatformError> {
        let s = wire.snippet;
        let created_at = s
            .published_at
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| malformed(&format!("comment {} has no valid publishedAt", wire.id)))?;
        let author_id = s.author_channel_id.map(|a| a.value);
        let handle = s
            .author_display_name
            .unwrap_or_default()
            .trim_start_matches('@')
            .to_owned();
        let parent_id = match thread {
            Some(thread) => Some(s.parent_id.unwrap_or_else(|| thread.to_owned())),
            None => None,
        };
        Ok(Comment {
            role: self
                .identity
                .role_of(channel, author_id.as_deref(), &handle),
            parent_id,
            external_id: wire.id,
            author_id,
            author_handle: handle,
            // `textOriginal` is only guaranteed to the author; with `plainText`, `textDisplay`
            // is the same text.
            text: s.text_original.or(s.text_display).unwrap_or_default(),
            created_at,
            hidden: s.moderation_status.is_some_and(|m| m != "published"),
        })
    }
}

impl PlatformClient for YoutubeClient {
    fn quota_reading(&self) -> QuotaReading {
        let now = Utc::now();
        QuotaReading::Units {
            used: self.quota.spent_today(),
            limit: self.quota.daily_budget(),
            resets_at: now
                + chrono::Duration::from_std(until_quota_reset(now))
                    .unwrap_or(chrono::Duration::hours(24)),
            per_page: self.quota.costs.cost("commentThreads", THREAD_PARTS),
        }
    }

    async fn list_posts(&self, after: Option<&str>) -> Result<Page<Media>, PlatformError> {
        let uploads = match self.identity.channel_id.strip_prefix("UC") {
            Some(rest) => format!("UU{rest}"),
            None => {
                return Err(PlatformError::Request {
                    message: format!(
                        "{:?} is not a YouTube channel id (expected UC…)",
                        self.identity.channel_id
                    ),
                });
            }
        };
        let max = MAX_IDS.to_string();
        let mut query = vec![
            ("part", "snippet,contentDetails"),
            ("playlistId", uploads.as_str()),
            ("maxResults", max.as_str()),
        ];
        if let Some(after) = after {
            query.push(("pageToken", after));
        }
        let page: WirePlaylistItems = self.get("playlistItems", &query).await?;
        let ids: Vec<String> = page
            .items
            .iter()
            .filter_map(|i| i.content_details.as_ref().map(|c| c.video_id.clone()))
            .collect();
        let mut counts = std::collections::HashMap::new();
        if !ids.is_empty() {
            let joined = ids.join(",");
            let videos: WireVideos = self
                .get("videos", &[("part", "statistics"), ("id", joined.as_str())])
                .await?;
            for video in videos.items {
                if let Some(count) = video
                    .statistics
                    .and_then(|s| s.comment_count)
                    .and_then(|c| c.parse::<u64>().ok())
                {
                    counts.insert(video.id, count);
                }
            }
        }
        let items = page
            .items
            .into_iter()
            .filter_map(|item| {
                let details = item.content_details?;
                let snippet = item.snippet.unwrap_or_default();
                Some((details, snippet))
            })
            .map(|(details, snippet)| {
                let published = details
                    .video_published_at
                    .or(snippet.published_at)
                    .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                    .map(|t| t.with_timezone(&Utc))
                    .ok_or_else(|| {
                        malformed(&format!(
                            "video {} has no valid publish time",
                            details.video_id
                        ))
                    })?;
                let caption = match (snippet.title, snippet.description) {
                    (Some(title), Some(description)) if !description.starts_with(&title) => {
                        format!("{title}\n{description}")
                    }
                    (_, Some(description)) => description,
                    (title, None) => title.unwrap_or_default(),
                };
                Ok(Media {
                    permalink: Some(format!(
                        "https://www.youtube.com/watch?v={}",
                        details.video_id
                    )),
                    comments_count: counts.get(&details.video_id).copied(),
                    external_id: details.video_id,
                    caption,
                    created_at: published,
                })
            })
            .collect::<Result<_, PlatformError>>()?;
        Ok(Page {
            items,
            next: page.next_page_token,
        })
    }

    async fn list_comments(
        &self,
        post_id: &str,
        after: Option<&str>,
    ) -> Result<Page<Comment>, PlatformError> {
        let max = self.page_size.to_string();
        let mut query = vec![
            ("part", THREAD_PARTS),
            ("videoId", post_id),
            ("maxResults", max.as_str()),
            ("order", "time"),
            ("textFormat", "plainText"),
        ];
        if let Some(after) = after {
            query.push(("pageToken", after));
        }
        let page: WireThreadList = self.get("commentThreads", &query).await?;
        let items = self.flatten(page.items).await?;
        Ok(Page {
            items,
            next: page.next_page_token,
        })
    }

    async fn fetch_threads(
        &self,
        _post_id: &str,
        comment_ids: &[String],
    ) -> Result<Vec<Comment>, PlatformError> {
        let mut out = Vec::new();
        for chunk in comment_ids.chunks(MAX_IDS) {
            let ids = chunk.join(",");
            let page: WireThreadList = self
                .get(
                    "commentThreads",
                    &[
                        ("part", THREAD_PARTS),
                        ("id", ids.as_str()),
                        ("textFormat", "plainText"),
                    ],
                )
                .await?;
            out.extend(self.flatten(page.items).await?);
        }
        Ok(out)
    }
}

/// Interprets a YouTube response: Google's error object decides, by `errors[0].reason`.
pub fn interpret(status: StatusCode, _headers: &HeaderMap, body: &[u8]) -> Interpretation {
    if status.is_success() {
        return Interpretation::Success { pace: None };
    }
    let error = serde_json::from_slice::<WireErrorEnvelope>(body)
        .ok()
        .map(|e| e.error);
    let Some(error) = error else {
        return if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
            Interpretation::Retry {
                reason: format!("HTTP {}", status.as_u16()),
                after: None,
            }
        } else if status == StatusCode::TOO_MANY_REQUESTS {
            Interpretation::Throttled {
                reason: "HTTP 429".into(),
                wait: BURST_WAIT,
            }
        } else {
            Interpretation::Fail(PlatformError::InvalidRequest {
                message: format!("HTTP {} without an error object", status.as_u16()),
            })
        };
    };
    let reason = error
        .errors
        .first()
        .and_then(|e| e.reason.clone())
        .unwrap_or_default();
    let message = format!("{reason}: {}", strip_tags(&error.message));
    match (status.as_u16(), reason.as_str()) {
        (403, "quotaExceeded" | "dailyLimitExceeded") => {
            Interpretation::Fail(PlatformError::Throttled {
                wait: until_quota_reset(Utc::now()),
            })
        }
        (403, "rateLimitExceeded" | "userRateLimitExceeded") | (429, _) => {
            Interpretation::Throttled {
                reason: message,
                wait: BURST_WAIT,
            }
        }
        (401, _) => Interpretation::Fail(PlatformError::TokenRejected {
            code: 401,
            subcode: None,
            message,
        }),
        (403, "commentsDisabled") => Interpretation::Fail(PlatformError::CommentsDisabled {
            message: format!("on this video ({message})"),
        }),
        (403, _) => Interpretation::Fail(PlatformError::PermissionDenied { message }),
        (404, _) => Interpretation::Fail(PlatformError::NotFound { message }),
        (s, _) if s >= 500 => Interpretation::Retry {
            reason: message,
            after: None,
        },
        _ => Interpretation::Fail(PlatformError::InvalidRequest { message }),
    }
}

/// Google puts HTML in some messages (`<a href=…>quota</a>`); keep the words only.
fn strip_tags(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut in_tag = false;
    for ch in message.chars() {
        match ch {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

fn malformed(reason: &str) -> PlatformError {
    PlatformError::Malformed {
        reason: reason.to_owned(),
    }
}

// Wire shapes (camelCase). `items` is required: a body without it is not a list response.

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireThreadList {
    items: Vec<WireThread>,
    next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireThread {
    id: String,
    snippet: Option<WireThreadSnippet>,
    replies: Option<WireReplies>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireThreadSnippet {
    channel_id: Option<String>,
    top_level_comment: WireComment,
    total_reply_count: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct WireReplies {
    #[serde(default)]
    comments: Vec<WireComment>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireCommentList {
    items: Vec<WireComment>,
    next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireComment {
    id: String,
    snippet: WireCommentSnippet,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireCommentSnippet {
    text_display: Option<String>,
    text_original: Option<String>,
    parent_id: Option<String>,
    author_display_name: Option<String>,
    author_channel_id: Option<WireChannelId>,
    published_at: Option<String>,
    moderation_status: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireChannelId {
    value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WirePlaylistItems {
    items: Vec<WirePlaylistItem>,
    next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WirePlaylistItem {
    snippet: Option<WirePlaylistSnippet>,
    content_details: Option<WireContentDetails>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WirePlaylistSnippet {
    title: Option<String>,
    description: Option<String>,
    published_at: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireContentDetails {
    video_id: String,
    video_published_at: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireVideos {
    items: Vec<WireVideo>,
}

#[derive(Debug, Deserialize)]
struct WireVideo {
    id: String,
    statistics: Option<WireStatistics>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireStatistics {
    /// A decimal string, like every YouTube count.
    comment_count: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireErrorEnvelope {
    error: WireError,
}

#[derive(Debug, Deserialize)]
struct WireError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    errors: Vec<WireErrorItem>,
}

#[derive(Debug, Deserialize)]
struct WireErrorItem {
    reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn quota_errors_wait_for_pacific_midnight_and_are_final() {
        let body = br#"{"error":{"code":403,"message":"The request cannot be completed because you have exceeded your <a href=\"/youtube/v3/getting-started#quota\">quota</a>.","errors":[{"message":"x","domain":"youtube.quota","reason":"quotaExceeded"}]}}"#;
        assert!(matches!(
            interpret(StatusCode::FORBIDDEN, &HeaderMap::new(), body),
            Interpretation::Fail(PlatformError::Throttled { .. })
        ));
        // 23:00 PDT on May 1st is 06:00 UTC on May 2nd: one hour to go.
        let late = Utc.with_ymd_and_hms(2024, 5, 2, 6, 0, 0).unwrap();
        assert_eq!(until_quota_reset(late), Duration::from_secs(3600));
    }

    #[test]
    fn errors_map_by_reason() {
        let err = |status: u16, reason: &str| {
            let body = format!(
                r#"{{"error":{{"code":{status},"message":"m","errors":[{{"reason":"{reason}"}}]}}}}"#
            );
            interpret(
                StatusCode::from_u16(status).unwrap(),
                &HeaderMap::new(),
                body.as_bytes(),
            )
        };
        assert!(matches!(
            err(401, "authError"),
            Interpretation::Fail(PlatformError::TokenRejected { code: 401, .. })
        ));
        assert!(matches!(
            err(400, "invalidPageToken"),
            Interpretation::Fail(PlatformError::InvalidRequest { .. })
        ));
        assert!(matches!(
            err(403, "commentsDisabled"),
            Interpretation::Fail(PlatformError::CommentsDisabled { .. })
        ));
        assert!(matches!(
            err(403, "rateLimitExceeded"),
            Interpretation::Throttled { .. }
        ));
        assert!(matches!(
            err(503, "backendError"),
            Interpretation::Retry { .. }
        ));
        assert!(matches!(
            interpret(StatusCode::BAD_GATEWAY, &HeaderMap::new(), b"<html>"),
            Interpretation::Retry { .. }
        ));
    }

    #[test]
    fn per_part_costs_charge_snippet_and_replies() {
        assert_eq!(CostTable::Flat.cost("commentThreads", "snippet,replies"), 1);
        assert_eq!(
            CostTable::PerPart.cost("commentThreads", "snippet,replies"),
            5
        );
        assert_eq!(CostTable::PerPart.cost("comments", "snippet"), 1);
    }

    #[test]
    fn owner_is_the_threads_channel() {
        let identity = Identity {
            channel_id: "UCowner".into(),
            brand_handles: vec!["glowlab".into()],
        };
        assert_eq!(
            identity.role_of(Some("UCowner"), Some("UCowner"), "jess"),
            AuthorRole::Owner
        );
        assert_eq!(identity.role_of(None, None, "jess"), AuthorRole::Audience);
        assert_eq!(
            identity.role_of(None, Some("UCx"), "GlowLab"),
            AuthorRole::Brand
        );
    }
}
