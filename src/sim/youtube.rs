//! The YouTube Data API v3 routes: `commentThreads.list`, `comments.list`, `playlistItems.list`
//! (the channel's uploads) and `videos.list` (statistics), under `/youtube/v3/`.
//!
//! Every request goes through [`answer`] in this order: count it, let the fault machinery decide
//! (a random throttle becomes a 403 `rateLimitExceeded`), authenticate (`Authorization: Bearer`
//! of a YouTube account, or `key=` for public reads), charge quota units (refused with 403
//! `quotaExceeded` once the day's units are spent; invalid requests still cost), then route.
//!
//! Faithful details: `kind`/`etag`/`pageInfo`/`items`/`nextPageToken` envelopes, `part`
//! selection, `maxResults` clamped to 1–100, `order=time` newest first and `relevance` as a
//! stable shuffle, the one-filter rule (`incompatibleParameters`), `textFormat=html` escaping,
//! the `replies` part as a subset of at most [`SimOptions::nested_replies_cap`] replies, reply
//! ids `<thread>.<suffix>`, `authorChannelId`/`textOriginal` absent on some comments, statistics
//! as strings, held-for-review comments (the generator's hidden spam) visible only with
//! `moderationStatus=heldForReview` and owner auth, and Google's error object
//! `{error:{code,message,errors:[{message,domain,reason}],status}}`.
//!
//! [`SimOptions::nested_replies_cap`]: super::SimOptions::nested_replies_cap

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::faults::Planned;
use super::instagram::{Reply, SimState};
use super::paging::{Edge, Page, Position, cut_page, decode_cursor, encode_cursor, parse_query};
use super::scenario::Role;
use crate::domain::Platform;

/// Path prefix of the route family.
pub(crate) const PREFIX: &str = "/youtube/v3";
/// `maxResults` when the request names none.
const DEFAULT_MAX_RESULTS: usize = 20;
const MAX_RESULTS: usize = 100;
/// Quota bucket of requests made with an API key instead of an account's token.
const KEY_BUCKET: usize = usize::MAX;

/// Units spent per bucket (an account, or the API-key project) and the Pacific day they count for.
#[derive(Debug, Default)]
pub(crate) struct QuotaState {
    used: Mutex<HashMap<usize, (NaiveDate, u64)>>,
}

impl QuotaState {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<usize, (NaiveDate, u64)>> {
        self.used.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Charges `cost` units unless the day's budget would be exceeded; `false` when refused.
    fn charge(&self, bucket: usize, now: DateTime<Utc>, cost: u64, daily: u64) -> bool {
        let today = pacific_day(now);
        let mut used = self.lock();
        let entry = used.entry(bucket).or_insert((today, 0));
        if entry.0 != today {
            *entry = (today, 0);
        }
        if entry.1 + cost > daily {
            return false;
        }
        entry.1 += cost;
        true
    }

    pub(crate) fn used(&self, bucket: usize, now: DateTime<Utc>) -> u64 {
        match self.lock().get(&bucket) {
            Some((day, units)) if *day == pacific_day(now) => *units,
            _ => 0,
        }
    }
}

fn pacific_day(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&chrono_tz::America::Los_Angeles)
        .date_naive()
}

/// Who is asking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    /// OAuth token of a YouTube account (owner rights on its own channel).
    Owner(usize),
    /// An API key: public reads only.
    Key,
}

/// A Google API error.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    reason: &'static str,
    domain: &'static str,
    message: String,
    location: Option<&'static str>,
}

impl ApiError {
    fn new(status: StatusCode, reason: &'static str, domain: &'static str, message: &str) -> Self {
        ApiError {
            status,
            reason,
            domain,
            message: message.to_owned(),
            location: None,
        }
    }

    fn at(mut self, location: &'static str) -> Self {
        self.location = Some(location);
        self
    }

    fn bad(reason: &'static str, message: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            reason,
            "youtube.parameter",
            message,
        )
    }

    fn auth() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "authError",
            "global",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        )
        .at("Authorization")
    }

    fn quota() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "quotaExceeded",
            "youtube.quota",
            "The request cannot be completed because you have exceeded your <a href=\"/youtube/v3/getting-started#quota\">quota</a>.",
        )
    }

    fn status_text(&self) -> &'static str {
        match self.status.as_u16() {
            400 => "INVALID_ARGUMENT",
            401 => "UNAUTHENTICATED",
            403 if self.reason == "quotaExceeded" || self.reason == "rateLimitExceeded" => {
                "RESOURCE_EXHAUSTED"
            }
            403 => "PERMISSION_DENIED",
            404 => "NOT_FOUND",
            503 => "UNAVAILABLE",
            _ => "INTERNAL",
        }
    }

    fn reply(&self) -> Reply {
        let mut item = json!({
            "message": self.message,
            "domain": self.domain,
            "reason": self.reason,
        });
        if let Some(location) = self.location {
            item["location"] = json!(location);
            item["locationType"] = json!(if location == "Authorization" {
                "header"
            } else {
                "parameter"
            });
        }
        let body = json!({
            "error": {
                "code": self.status.as_u16(),
                "message": self.message,
                "errors": [item],
                "status": self.status_text(),
            }
        });
        let mut reply = Reply::json(self.status, body.to_string());
        if self.status == StatusCode::UNAUTHORIZED {
            reply.headers.push((
                "www-authenticate",
                "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"".to_owned(),
            ));
        }
        reply
    }
}

/// One authenticated request.
struct Request<'a> {
    state: &'a SimState,
    query: Vec<(String, String)>,
    caller: Caller,
    now: DateTime<Utc>,
}

impl Request<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn parts(&self, allowed: &[&str]) -> Result<Vec<String>, ApiError> {
        let raw = self.param("part").unwrap_or("").trim();
        if raw.is_empty() {
            return Err(ApiError::bad("required", "Required parameter: part").at("part"));
        }
        let mut parts = Vec::new();
        for part in raw.split(',').map(str::trim) {
            if !allowed.contains(&part) {
                return Err(ApiError::bad("unknownPart", &format!("'{part}'")).at("part"));
            }
            parts.push(part.to_owned());
        }
        Ok(parts)
    }

    fn max_results(&self, default: usize, max: usize) -> Result<usize, ApiError> {
        match self.param("maxResults") {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse::<i64>()
                .map(|n| n.clamp(1, max as i64) as usize)
                .map_err(|_| {
                    ApiError::bad("invalidParameter", "Invalid value for maxResults")
                        .at("maxResults")
                }),
        }
    }

    fn page_token(&self, edge: Edge) -> Result<Option<Position>, ApiError> {
        match self.param("pageToken") {
            None | Some("") => Ok(None),
            Some(raw) => decode_cursor(edge, raw).map(Some).ok_or_else(|| {
                ApiError::bad(
                    "invalidPageToken",
                    "The request specifies an invalid page token.",
                )
                .at("pageToken")
            }),
        }
    }

    fn html(&self) -> bool {
        self.param("textFormat") != Some("plainText")
    }

    /// The YouTube video a request names, if it exists now.
    fn video(&self, id: &str) -> Option<usize> {
        let s = &self.state.scenario;
        match s.nodes.get(id) {
            Some(super::scenario::Node::Media(m))
                if s.platform_of_media(*m) == Platform::Youtube
                    && s.media_visible(*m, self.now)
                    && !self.state.media_deleted(id) =>
            {
                Some(*m)
            }
            _ => None,
        }
    }

    fn owns_media(&self, m: usize) -> bool {
        self.caller == Caller::Owner(self.state.scenario.media[m].account)
    }
}

/// Answers one request of the route family.
pub(crate) fn answer(state: &SimState, method: &Method, uri: &Uri, headers: &HeaderMap) -> Reply {
    state.next_trace();
    let planned = state.plan_fault(Instant::now());
    let mut reply = match planned {
        Planned::ServerError(status) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let (reason, message) = if status == StatusCode::SERVICE_UNAVAILABLE {
                ("backendError", "The service is currently unavailable.")
            } else {
                ("backendError", "Backend Error")
            };
            ApiError::new(status, reason, "global", message).reply()
        }
        Planned::Html => Reply::html(),
        Planned::Throttle { .. } => ApiError::new(
            StatusCode::FORBIDDEN,
            "rateLimitExceeded",
            "youtube.quota",
            "The request cannot be completed because you have exceeded your <a href=\"/youtube/v3/getting-started#quota\">quota</a>.",
        )
        .reply(),
        Planned::Normal | Planned::Truncate => match authorized(state, method, uri, headers) {
            Ok(body) => Reply::json(StatusCode::OK, body.to_string()),
            Err(error) => error.reply(),
        },
    };
    if planned == Planned::Truncate {
        reply.truncate();
    }
    tracing::debug!(path = uri.path(), status = reply.status.as_u16(), fault = ?planned, "simulator request");
    reply
}

fn authorized(
    state: &SimState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Value, ApiError> {
    let query = parse_query(uri.query().unwrap_or(""));
    let now = state.clock.now();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let caller = match bearer {
        Some(token) => {
            let account = state
                .account_of_token(&token)
                .filter(|&k| state.scenario.accounts[k].platform == Platform::Youtube)
                .ok_or_else(ApiError::auth)?;
            if state.token_state(&token, &state.scenario.accounts[account].id, now)
                != super::tokens::TokenState::Live
            {
                return Err(ApiError::auth());
            }
            Caller::Owner(account)
        }
        None => match query.iter().find(|(n, _)| n == "key") {
            Some((_, key)) if key.starts_with("AIza") => Caller::Key,
            Some(_) => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "badRequest",
                    "usageLimits",
                    "API key not valid. Please pass a valid API key.",
                ));
            }
            None => {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "global",
                    "The request is missing a valid API key.",
                ));
            }
        },
    };
    let request = Request {
        state,
        query,
        caller,
        now,
    };
    let resource = uri.path().strip_prefix(PREFIX).unwrap_or("");
    let bucket = match caller {
        Caller::Owner(k) => k,
        Caller::Key => KEY_BUCKET,
    };
    let cost = cost_of(state, resource, &request);
    if !state
        .youtube
        .charge(bucket, now, cost, state.options.youtube_daily_units)
    {
        return Err(ApiError::quota());
    }
    if method != Method::GET {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "global",
            "The simulator is read-only: write methods are not available.",
        ));
    }
    match resource {
        "/commentThreads" => comment_threads(&request),
        "/comments" => comments(&request),
        "/playlistItems" => playlist_items(&request),
        "/videos" => videos(&request),
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "notFound",
            "global",
            "Not Found",
        )),
    }
}

/// Units a call costs: 1 per list call, or 1 + 2 per `snippet`/`replies` part on
/// `commentThreads.list` with the per-part table. Invalid requests cost too.
fn cost_of(state: &SimState, resource: &str, request: &Request<'_>) -> u64 {
    if !state.options.youtube_part_costs || resource != "/commentThreads" {
        return 1;
    }
    let parts = request.param("part").unwrap_or("");
    1 + parts
        .split(',')
        .map(str::trim)
        .filter(|p| *p == "snippet" || *p == "replies")
        .count() as u64
        * 2
}

fn exactly_one_filter<'r>(
    request: &'r Request<'_>,
    names: &[&'static str],
) -> Result<(&'static str, &'r str), ApiError> {
    let present: Vec<(&'static str, &str)> = names
        .iter()
        .filter_map(|&n| request.param(n).map(|v| (n, v)))
        .collect();
    match present.as_slice() {
        [one] => Ok(*one),
        [] => Err(ApiError::bad(
            "missingRequiredParameter",
            &format!("No filter selected. Expected one of: {}", names.join(", ")),
        )),
        _ => Err(ApiError::bad(
            "incompatibleParameters",
            "Incompatible parameters specified in the request: only one filter may be used.",
        )),
    }
}

fn list_response(kind: &str, items: Vec<Value>, next: Option<String>, per_page: usize) -> Value {
    let mut body = Map::new();
    body.insert("kind".into(), json!(kind));
    body.insert(
        "etag".into(),
        json!(etag(&format!("{kind}{}", items.len()))),
    );
    if let Some(next) = next {
        body.insert("nextPageToken".into(), json!(next));
    }
    body.insert(
        "pageInfo".into(),
        json!({"totalResults": items.len(), "resultsPerPage": per_page}),
    );
    body.insert("items".into(), Value::Array(items));
    Value::Object(body)
}

fn page_token_of(page: &Page<usize>, edge: Edge) -> Option<String> {
    page.has_more
        .then(|| page.last.map(|last| encode_cursor(edge, last)))
        .flatten()
}

/// Which comments a listing shows: published ones, or those held for review.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Moderation {
    Published,
    Held,
}

fn moderation(request: &Request<'_>, video: Option<usize>) -> Result<Moderation, ApiError> {
    match request.param("moderationStatus") {
        None | Some("published") => Ok(Moderation::Published),
        Some("heldForReview" | "likelySpam") => {
            if video.is_some_and(|m| request.owns_media(m)) {
                Ok(Moderation::Held)
            } else {
                Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "youtube.commentThread",
                    "The request is not properly authorized to retrieve the specified comment threads.",
                ))
            }
        }
        Some(_) => Err(
            ApiError::bad("invalidParameter", "Invalid value for moderationStatus")
                .at("moderationStatus"),
        ),
    }
}

fn shows(request: &Request<'_>, c: usize, moderation: Moderation) -> bool {
    let comment = &request.state.scenario.comments[c];
    if !comment.visible_at(request.now) {
        return false;
    }
    match moderation {
        Moderation::Published => !comment.hidden,
        Moderation::Held => comment.hidden,
    }
}

fn comment_threads(request: &Request<'_>) -> Result<Value, ApiError> {
    let s = &request.state.scenario;
    let parts = request.parts(&["id", "snippet", "replies"])?;
    let (filter, value) = exactly_one_filter(
        request,
        &["videoId", "allThreadsRelatedToChannelId", "id", "channelId"],
    )?;
    let by_id = filter == "id";
    if by_id
        && ["maxResults", "pageToken", "order"]
            .iter()
            .any(|p| request.param(p).is_some())
    {
        return Err(ApiError::bad(
            "incompatibleParameters",
            "The id filter cannot be combined with maxResults, pageToken or order.",
        ));
    }
    let threads: Vec<usize> = match filter {
        "videoId" => {
            let m = request.video(value).ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "videoNotFound",
                    "youtube.commentThread",
                    "The video identified by the <code><a href=\"/youtube/v3/docs/commentThreads/list#videoId\">videoId</a></code> parameter could not be found.",
                )
                .at("videoId")
            })?;
            if request.state.comments_disabled(value) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "commentsDisabled",
                    "youtube.commentThread",
                    "The video identified by the <code><a href=\"/youtube/v3/docs/commentThreads/list#videoId\">videoId</a></code> parameter has disabled comments.",
                )
                .at("videoId"));
            }
            let held = moderation(request, Some(m))?;
            s.top_level_by_media[m]
                .iter()
                .copied()
                .filter(|&c| shows(request, c, held))
                .collect()
        }
        "allThreadsRelatedToChannelId" => {
            let k = s
                .accounts
                .iter()
                .position(|a| a.id == value && a.platform == Platform::Youtube)
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::NOT_FOUND,
                        "channelNotFound",
                        "youtube.commentThread",
                        "The channel identified by the allThreadsRelatedToChannelId parameter could not be found.",
                    )
                })?;
            let mut all: Vec<usize> = s.media_by_account[k]
                .iter()
                .filter(|&&m| request.video(&s.media[m].id).is_some())
                .filter(|&&m| !request.state.comments_disabled(&s.media[m].id))
                .flat_map(|&m| s.top_level_by_media[m].iter().copied())
                .filter(|&c| shows(request, c, Moderation::Published))
                .collect();
            all.sort_by_key(|&c| std::cmp::Reverse((s.comments[c].timestamp, s.comments[c].key)));
            all
        }
        "channelId" => Vec::new(),
        _ => {
            let mut found = Vec::new();
            for id in value.split(',').map(str::trim).filter(|id| !id.is_empty()) {
                if let Some(super::scenario::Node::Comment(c)) = s.nodes.get(id) {
                    let comment = &s.comments[*c];
                    if comment.parent.is_none()
                        && s.platform_of_media(comment.media) == Platform::Youtube
                        && request.video(&s.media[comment.media].id).is_some()
                        && shows(request, *c, Moderation::Published)
                        && !found.contains(c)
                    {
                        found.push(*c);
                    }
                }
            }
            found
        }
    };
    let html = request.html();
    let show_moderation = !by_id;
    if by_id {
        let items = threads
            .iter()
            .map(|&c| render_thread(request, c, &parts, html, show_moderation))
            .collect();
        let n = threads.len();
        return Ok(list_response(
            "youtube#commentThreadListResponse",
            items,
            None,
            n,
        ));
    }
    let limit = request.max_results(DEFAULT_MAX_RESULTS, MAX_RESULTS)?;
    let after = request.page_token(Edge::Comments)?;
    let order = request.param("order").unwrap_or("time");
    let mut items: Vec<(Position, usize)> = threads
        .into_iter()
        .map(|c| (Position::new(s.comments[c].timestamp, s.comments[c].key), c))
        .collect();
    match order {
        "time" => {}
        "relevance" => {
            // A stable shuffle, with positions rewritten so paging still works.
            items.sort_by_key(|(_, c)| {
                std::cmp::Reverse(s.comments[*c].key.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            });
            let n = items.len() as i64;
            for (i, item) in items.iter_mut().enumerate() {
                item.0 = Position {
                    millis: n - i as i64,
                    key: 0,
                };
            }
        }
        _ => {
            return Err(ApiError::bad("invalidParameter", "Invalid value for order").at("order"));
        }
    }
    let page = cut_page(items, after, None, limit);
    let next = page_token_of(&page, Edge::Comments);
    let result: Vec<Value> = page
        .items
        .iter()
        .map(|&c| render_thread(request, c, &parts, html, show_moderation))
        .collect();
    Ok(list_response(
        "youtube#commentThreadListResponse",
        result,
        next,
        limit,
    ))
}

/// Replies of a thread shown by a default listing, newest first.
fn replies_of(request: &Request<'_>, c: usize) -> Vec<usize> {
    request
        .state
        .scenario
        .replies_by_comment
        .get(&c)
        .into_iter()
        .flatten()
        .copied()
        .filter(|&r| shows(request, r, Moderation::Published))
        .collect()
}

fn render_thread(
    request: &Request<'_>,
    c: usize,
    parts: &[String],
    html: bool,
    show_moderation: bool,
) -> Value {
    let s = &request.state.scenario;
    let comment = &s.comments[c];
    let media = &s.media[comment.media];
    let channel = &s.accounts[media.account].id;
    let replies = replies_of(request, c);
    let mut thread = Map::new();
    thread.insert("kind".into(), json!("youtube#commentThread"));
    thread.insert(
        "etag".into(),
        json!(etag(&format!("t{}{}", comment.id, replies.len()))),
    );
    thread.insert("id".into(), json!(comment.id));
    if parts.iter().any(|p| p == "snippet") {
        thread.insert(
            "snippet".into(),
            json!({
                "channelId": channel,
                "videoId": media.id,
                "topLevelComment": render_comment(request, c, html, show_moderation),
                "canReply": true,
                "totalReplyCount": replies.len(),
                "isPublic": true,
            }),
        );
    }
    if parts.iter().any(|p| p == "replies") && !replies.is_empty() {
        let subset: Vec<Value> = replies
            .iter()
            .take(request.state.options.nested_replies_cap)
            .map(|&r| render_comment(request, r, html, show_moderation))
            .collect();
        thread.insert("replies".into(), json!({ "comments": subset }));
    }
    Value::Object(thread)
}

fn render_comment(request: &Request<'_>, c: usize, html: bool, show_moderation: bool) -> Value {
    let s = &request.state.scenario;
    let comment = &s.comments[c];
    let media = &s.media[comment.media];
    let channel = &s.accounts[media.account].id;
    let mut snippet = Map::new();
    snippet.insert("channelId".into(), json!(channel));
    if comment.parent.is_none() {
        snippet.insert("videoId".into(), json!(media.id));
    }
    let text = comment.text_at(request.now);
    let display = if html {
        html_display(text)
    } else {
        text.to_owned()
    };
    snippet.insert("textDisplay".into(), json!(display));
    // `textOriginal` is only guaranteed to the comment's author: some comments lack it.
    if comment.role == Role::Owner || !comment.key.is_multiple_of(7) {
        snippet.insert("textOriginal".into(), json!(text));
    }
    if let Some(p) = comment.parent {
        snippet.insert("parentId".into(), json!(s.comments[p].id));
    }
    snippet.insert(
        "authorDisplayName".into(),
        json!(format!("@{}", comment.username)),
    );
    snippet.insert(
        "authorProfileImageUrl".into(),
        json!(format!(
            "https://yt3.ggpht.com/ytc/{}=s48-c-k-c0x00ffffff-no-rj",
            &etag(&comment.from_id)[..12]
        )),
    );
    snippet.insert(
        "authorChannelUrl".into(),
        json!(format!("http://www.youtube.com/@{}", comment.username)),
    );
    // Some authors come without a channel id; never the owner, whose replies must be recognised.
    if comment.role != Role::Audience || !comment.key.is_multiple_of(11) {
        snippet.insert(
            "authorChannelId".into(),
            json!({ "value": comment.from_id }),
        );
    }
    snippet.insert("canRate".into(), json!(true));
    snippet.insert("viewerRating".into(), json!("none"));
    snippet.insert("likeCount".into(), json!(comment.like_count));
    if show_moderation && request.owns_media(comment.media) && comment.hidden {
        snippet.insert("moderationStatus".into(), json!("heldForReview"));
    }
    let at = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    snippet.insert("publishedAt".into(), json!(at(comment.timestamp)));
    snippet.insert(
        "updatedAt".into(),
        json!(at(comment.updated_at(request.now))),
    );
    json!({
        "kind": "youtube#comment",
        "etag": etag(&format!("c{}{}", comment.id, text)),
        "id": comment.id,
        "snippet": snippet,
    })
}

fn comments(request: &Request<'_>) -> Result<Value, ApiError> {
    let s = &request.state.scenario;
    let _parts = request.parts(&["id", "snippet"])?;
    let (filter, value) = exactly_one_filter(request, &["parentId", "id"])?;
    let html = request.html();
    if filter == "id" {
        let mut items = Vec::new();
        for id in value.split(',').map(str::trim) {
            if let Some(super::scenario::Node::Comment(c)) = s.nodes.get(id)
                && s.platform_of_media(s.comments[*c].media) == Platform::Youtube
                && shows(request, *c, Moderation::Published)
            {
                items.push(render_comment(request, *c, html, false));
            }
        }
        let n = items.len();
        return Ok(list_response("youtube#commentListResponse", items, None, n));
    }
    let parent = match s.nodes.get(value) {
        Some(super::scenario::Node::Comment(c))
            if s.comments[*c].parent.is_none()
                && s.platform_of_media(s.comments[*c].media) == Platform::Youtube
                && shows(request, *c, Moderation::Published) =>
        {
            *c
        }
        _ => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "commentNotFound",
                "youtube.comment",
                "The comment identified by the <code>parentId</code> parameter could not be found.",
            )
            .at("parentId"));
        }
    };
    let limit = request.max_results(DEFAULT_MAX_RESULTS, MAX_RESULTS)?;
    let after = if request.state.options.youtube_ignore_reply_page_token {
        None
    } else {
        request.page_token(Edge::Replies)?
    };
    let items: Vec<(Position, usize)> = replies_of(request, parent)
        .into_iter()
        .map(|r| (Position::new(s.comments[r].timestamp, s.comments[r].key), r))
        .collect();
    let page = cut_page(items, after, None, limit);
    let next = page_token_of(&page, Edge::Replies);
    let rendered = page
        .items
        .iter()
        .map(|&r| render_comment(request, r, html, false))
        .collect();
    Ok(list_response(
        "youtube#commentListResponse",
        rendered,
        next,
        limit,
    ))
}

/// Videos of the channel's uploads playlist (`UU` + the channel id without `UC`), newest first.
fn playlist_items(request: &Request<'_>) -> Result<Value, ApiError> {
    let s = &request.state.scenario;
    let parts = request.parts(&["id", "snippet", "contentDetails", "status"])?;
    let playlist = request.param("playlistId").unwrap_or("");
    let account = s.accounts.iter().position(|a| {
        a.platform == Platform::Youtube
            && a.id
                .strip_prefix("UC")
                .is_some_and(|rest| playlist == format!("UU{rest}"))
    });
    let Some(k) = account else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "playlistNotFound",
            "youtube.playlistItem",
            "The playlist identified with the request's <code>playlistId</code> parameter cannot be found.",
        )
        .at("playlistId"));
    };
    let limit = request.max_results(5, 50)?;
    let after = request.page_token(Edge::Media)?;
    let videos: Vec<(Position, usize)> = s.media_by_account[k]
        .iter()
        .copied()
        .filter(|&m| request.video(&s.media[m].id).is_some())
        .map(|m| (Position::new(s.media[m].timestamp, m as u64), m))
        .collect();
    let total = videos.len();
    let page = cut_page(videos, after, None, limit);
    let next = page_token_of(&page, Edge::Media);
    let account = &s.accounts[k];
    let items = page
        .items
        .iter()
        .enumerate()
        .map(|(i, &m)| {
            let media = &s.media[m];
            let at = media.timestamp.to_rfc3339_opts(SecondsFormat::Secs, true);
            let mut item = Map::new();
            item.insert("kind".into(), json!("youtube#playlistItem"));
            item.insert("etag".into(), json!(etag(&media.id)));
            item.insert("id".into(), json!(etag(&format!("{playlist}{}", media.id))));
            if parts.iter().any(|p| p == "snippet") {
                let title: String = media.caption.lines().next().unwrap_or("").chars().take(100).collect();
                item.insert(
                    "snippet".into(),
                    json!({
                        "publishedAt": at,
                        "channelId": account.id,
                        "title": title,
                        "description": media.caption,
                        "thumbnails": {"default": {"url": format!("https://i.ytimg.com/vi/{}/default.jpg", media.id), "width": 120, "height": 90}},
                        "channelTitle": account.username,
                        "playlistId": playlist,
                        "position": i,
                        "resourceId": {"kind": "youtube#video", "videoId": media.id},
                        "videoOwnerChannelTitle": account.username,
                        "videoOwnerChannelId": account.id,
                    }),
                );
            }
            if parts.iter().any(|p| p == "contentDetails") {
                item.insert(
                    "contentDetails".into(),
                    json!({"videoId": media.id, "videoPublishedAt": at}),
                );
            }
            Value::Object(item)
        })
        .collect::<Vec<Value>>();
    let mut body = list_response("youtube#playlistItemListResponse", items, next, limit);
    body["pageInfo"]["totalResults"] = json!(total);
    Ok(body)
}

fn videos(request: &Request<'_>) -> Result<Value, ApiError> {
    let s = &request.state.scenario;
    let parts = request.parts(&["id", "snippet", "statistics", "status"])?;
    let (_, ids) = exactly_one_filter(request, &["id", "chart", "myRating"])?;
    let mut items = Vec::new();
    for id in ids.split(',').map(str::trim).filter(|id| !id.is_empty()) {
        let Some(m) = request.video(id) else { continue };
        let media = &s.media[m];
        let mut item = Map::new();
        item.insert("kind".into(), json!("youtube#video"));
        item.insert("etag".into(), json!(etag(&format!("v{}", media.id))));
        item.insert("id".into(), json!(media.id));
        if parts.iter().any(|p| p == "snippet") {
            let title: String = media
                .caption
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(100)
                .collect();
            item.insert(
                "snippet".into(),
                json!({
                    "publishedAt": media.timestamp.to_rfc3339_opts(SecondsFormat::Secs, true),
                    "channelId": s.accounts[media.account].id,
                    "title": title,
                    "description": media.caption,
                    "channelTitle": s.accounts[media.account].username,
                }),
            );
        }
        if parts.iter().any(|p| p == "statistics") {
            let mut stats = json!({
                "viewCount": (u64::from(media.like_count) * 23).to_string(),
                "likeCount": media.like_count.to_string(),
                "favoriteCount": "0",
            });
            if !request.state.comments_disabled(id) {
                let count = s
                    .comments_of_media(m)
                    .filter(|&c| shows(request, c, Moderation::Published))
                    .count();
                stats["commentCount"] = json!(count.to_string());
            }
            item.insert("statistics".into(), stats);
        }
        items.push(Value::Object(item));
    }
    let n = items.len();
    Ok(list_response("youtube#videoListResponse", items, None, n))
}

/// `textFormat=html`: entities escaped, newlines as `<br>`, links as anchors.
fn html_display(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for word in text.split_inclusive([' ', '\n']) {
        let (body, tail) = match word.strip_suffix([' ', '\n']) {
            Some(body) => (body, &word[body.len()..]),
            None => (word, ""),
        };
        if body.starts_with("https://") || body.starts_with("http://") {
            let escaped = escape(body);
            out.push_str(&format!("<a href=\"{escaped}\">{escaped}</a>"));
        } else {
            out.push_str(&escape(body));
        }
        out.push_str(if tail == "\n" { "<br>" } else { tail });
    }
    out
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// A deterministic etag-looking string.
fn etag(seed: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    let mut x: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        x ^= u64::from(b);
        x = x.wrapping_mul(0x100_0000_01b3);
    }
    (0..27)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(ALPHABET[(x % 64) as usize])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn html_mode_escapes_and_links() {
        assert_eq!(
            html_display("it's \"great\"\nsee https://glowlab.com/x & more"),
            "it&#39;s &quot;great&quot;<br>see <a href=\"https://glowlab.com/x\">https://glowlab.com/x</a> &amp; more"
        );
    }

    #[test]
    fn quota_resets_at_pacific_midnight() {
        let quota = QuotaState::default();
        // 07:30 UTC on May 2nd is still May 1st in Los Angeles (PDT, UTC-7).
        let before = Utc.with_ymd_and_hms(2024, 5, 2, 6, 30, 0).unwrap();
        assert!(quota.charge(0, before, 3, 4));
        assert!(!quota.charge(0, before, 2, 4));
        assert_eq!(quota.used(0, before), 3);
        let after = Utc.with_ymd_and_hms(2024, 5, 2, 7, 0, 0).unwrap();
        assert_eq!(quota.used(0, after), 0);
        assert!(quota.charge(0, after, 4, 4));
    }
}
