//! The TikTok API for Business (Accounts API) routes under `/open_api/v1.3/business/`:
//! `video/list/`, `comment/list/` and `comment/reply/list/`.
//!
//! Faithful details: every answer, failures included, is HTTP 200 with
//! `{code, message, request_id, data}` and an `X-Tt-Logid` header; the token travels in an
//! `Access-Token` header (a `Bearer ` prefix or an unknown/expired token → 40105, none → 40104);
//! an unknown `business/` path → 40006; array parameters are JSON literals (`fields=["item_id"]`,
//! `comment_ids=["…"]`); ids are 19-digit strings and `create_time` unix seconds as a string;
//! `cursor` is an offset and `has_more` the end signal, so comments arriving during a walk make
//! items repeat on the next page; some pages come back short with `has_more: true`; `max_count`
//! is clamped to 1–30 (videos 1–20); hidden comments appear with `status: "HIDDEN"` only with
//! `status=ALL`; the creator's replies carry `owner: true`. Too many calls per rolling minute →
//! 40100 "Too many requests" (still HTTP 200). A 500 fault becomes code 50000; 502/503 are the
//! gateway's own HTTP errors.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, Method, StatusCode, Uri};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::faults::Planned;
use super::instagram::{Reply, SimState};
use super::paging::parse_query;
use super::scenario::{Node, Role};
use crate::domain::Platform;

/// Path prefix of the route family.
pub(crate) const PREFIX: &str = "/open_api/v1.3";
const MAX_COMMENTS: usize = 30;
const MAX_VIDEOS: usize = 20;
const DEFAULT_COUNT: usize = 20;

/// Calls per account over the last real-time minute.
#[derive(Debug, Default)]
pub(crate) struct RateState {
    calls: Mutex<HashMap<usize, VecDeque<Instant>>>,
}

impl RateState {
    /// Records a call; `false` when the account is over its per-minute allowance.
    fn allow(&self, account: usize, now: Instant, per_minute: u32) -> bool {
        let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        let window = calls.entry(account).or_default();
        while window
            .front()
            .is_some_and(|&t| now.duration_since(t) >= Duration::from_secs(60))
        {
            window.pop_front();
        }
        if window.len() >= per_minute as usize {
            return false;
        }
        window.push_back(now);
        true
    }
}

pub(super) struct Failure {
    code: u32,
    message: String,
}

pub(super) fn fail(code: u32, message: &str) -> Failure {
    Failure {
        code,
        message: message.to_owned(),
    }
}

fn request_id(trace: u64, now: DateTime<Utc>) -> String {
    format!(
        "{}{:018X}",
        now.format("%Y%m%d%H%M%S"),
        trace.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 8
    )
}

pub(super) fn envelope(trace: u64, now: DateTime<Utc>, result: Result<Value, Failure>) -> Reply {
    let id = request_id(trace, now);
    let body = match result {
        Ok(data) => json!({"code": 0, "message": "OK", "request_id": id, "data": data}),
        Err(f) => json!({"code": f.code, "message": f.message, "request_id": id, "data": {}}),
    };
    let mut reply = Reply::json(StatusCode::OK, body.to_string());
    reply.headers.push(("x-tt-logid", id));
    reply
}

/// Answers one request of the route family.
pub(crate) fn answer(state: &SimState, method: &Method, uri: &Uri, headers: &HeaderMap) -> Reply {
    let trace = state.next_trace();
    let real_now = Instant::now();
    let now = state.clock.now();
    let planned = state.plan_fault(real_now);
    let mut reply = match planned {
        Planned::ServerError(500) => envelope(trace, now, Err(fail(50000, "Internal error"))),
        Planned::ServerError(status) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            let mut reply = Reply::json(status, String::new());
            reply.content_type = "text/plain; charset=utf-8";
            reply.body = format!(
                "{} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            );
            reply
        }
        Planned::Html => Reply::html(),
        Planned::Throttle { .. } => envelope(trace, now, Err(fail(40100, "Too many requests"))),
        Planned::Normal | Planned::Truncate => envelope(
            trace,
            now,
            route(state, method, uri, headers, real_now, now),
        ),
    };
    if planned == Planned::Truncate {
        reply.truncate();
    }
    tracing::debug!(path = uri.path(), status = reply.status.as_u16(), fault = ?planned, "simulator request");
    reply
}

/// One authenticated request.
struct Request<'a> {
    state: &'a SimState,
    query: Vec<(String, String)>,
    account: usize,
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

    fn required(&self, name: &str) -> Result<&str, Failure> {
        self.param(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| fail(40002, &format!("{name}: Missing data for required field.")))
    }

    /// A JSON-array parameter: `["a","b"]`. A CSV is the classic mistake and is refused.
    fn json_array(&self, name: &str) -> Result<Option<Vec<String>>, Failure> {
        let Some(raw) = self.param(name) else {
            return Ok(None);
        };
        let parsed: Vec<Value> = serde_json::from_str(raw)
            .map_err(|_| fail(40002, &format!("{name}: Not a valid list.")))?;
        Ok(Some(
            parsed
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                })
                .collect(),
        ))
    }

    fn count(&self, max: usize) -> Result<usize, Failure> {
        match self.param("max_count") {
            None => Ok(DEFAULT_COUNT.min(max)),
            Some(raw) => raw
                .parse::<i64>()
                .map(|n| n.clamp(1, max as i64) as usize)
                .map_err(|_| fail(40002, "max_count: Not a valid integer.")),
        }
    }

    fn cursor(&self) -> Result<usize, Failure> {
        match self.param("cursor") {
            None | Some("") => Ok(0),
            Some(raw) => raw
                .parse::<usize>()
                .map_err(|_| fail(40002, "cursor: Not a valid integer.")),
        }
    }

    /// The business's own video named by `video_id`.
    fn video(&self) -> Result<usize, Failure> {
        let id = self.required("video_id")?;
        let s = &self.state.scenario;
        match s.nodes.get(id) {
            Some(Node::Media(m))
                if s.media[*m].account == self.account
                    && s.media_visible(*m, self.now)
                    && !self.state.media_deleted(id) =>
            {
                Ok(*m)
            }
            _ => Err(fail(
                40002,
                "video_id: The video does not exist or is not owned by this account.",
            )),
        }
    }

    fn all_statuses(&self) -> Result<bool, Failure> {
        match self.param("status") {
            None | Some("PUBLIC") => Ok(false),
            Some("ALL") => Ok(true),
            Some(_) => Err(fail(40002, "status: Must be one of: ALL, PUBLIC.")),
        }
    }
}

fn route(
    state: &SimState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    real_now: Instant,
    now: DateTime<Utc>,
) -> Result<Value, Failure> {
    let token = match headers.get("access-token").and_then(|v| v.to_str().ok()) {
        None | Some("") => return Err(fail(40104, "Access token is empty.")),
        Some(token) => token,
    };
    let account = state
        .account_of_token(token)
        .filter(|&k| state.scenario.accounts[k].platform == Platform::Tiktok)
        .filter(|&k| {
            state.token_state(token, &state.scenario.accounts[k].id, now)
                == super::tokens::TokenState::Live
        })
        .ok_or_else(|| fail(40105, "Access token is incorrect or has been revoked."))?;
    if !state
        .tiktok
        .allow(account, real_now, state.options.tiktok_calls_per_minute)
    {
        return Err(fail(40100, "Too many requests"));
    }
    let request = Request {
        state,
        query: parse_query(uri.query().unwrap_or("")),
        account,
        now,
    };
    let path = uri.path().strip_prefix(PREFIX).unwrap_or("");
    if method != Method::GET {
        return Err(fail(40006, "No schema found: the simulator is read-only."));
    }
    let business_id = request.required("business_id")?;
    if business_id != state.scenario.accounts[account].id {
        return Err(fail(40001, "No permission to operate this business_id."));
    }
    match path {
        "/business/video/list/" => video_list(&request),
        "/business/comment/list/" => comment_list(&request),
        "/business/comment/reply/list/" => reply_list(&request),
        _ => Err(fail(40006, "No schema found")),
    }
}

fn shown(request: &Request<'_>, c: usize, all: bool) -> bool {
    let comment = &request.state.scenario.comments[c];
    comment.visible_at(request.now) && (all || !comment.hidden)
}

/// Cuts an offset page; every third full page comes back two short (trust & safety filtering
/// looks like this from outside), with the cursor advanced by what was returned.
fn offset_page(items: &[usize], cursor: usize, count: usize) -> (Vec<usize>, usize, bool) {
    let start = cursor.min(items.len());
    let mut end = (start + count).min(items.len());
    if count > 3 && end - start == count && (cursor / count) % 3 == 1 {
        end -= 2;
    }
    (items[start..end].to_vec(), end, end < items.len())
}

fn video_list(request: &Request<'_>) -> Result<Value, Failure> {
    let s = &request.state.scenario;
    let fields = request
        .json_array("fields")?
        .unwrap_or_else(|| vec!["item_id".into()]);
    if !fields.iter().any(|f| f == "item_id") {
        return Err(fail(40002, "fields: item_id is required."));
    }
    let count = request.count(MAX_VIDEOS)?;
    let cursor = request.cursor()?;
    let videos: Vec<usize> = s.media_by_account[request.account]
        .iter()
        .copied()
        .filter(|&m| {
            s.media_visible(m, request.now) && !request.state.media_deleted(&s.media[m].id)
        })
        .collect();
    let (page, next, has_more) = offset_page(&videos, cursor, count);
    let account = &s.accounts[request.account];
    let rendered: Vec<Value> = page
        .iter()
        .map(|&m| {
            let media = &s.media[m];
            let mut out = serde_json::Map::new();
            for field in &fields {
                let value = match field.as_str() {
                    "item_id" => json!(media.id),
                    // Videos carry create_time as a number; comments as a string.
                    "create_time" => json!(media.timestamp.timestamp()),
                    "caption" => json!(media.caption),
                    "share_url" => json!(format!(
                        "https://www.tiktok.com/@{}/video/{}",
                        account.username, media.id
                    )),
                    "likes" => json!(media.like_count),
                    "comments" => json!(
                        s.comments_of_media(m)
                            .filter(|&c| shown(request, c, true))
                            .count()
                    ),
                    _ => continue,
                };
                out.insert(field.clone(), value);
            }
            Value::Object(out)
        })
        .collect();
    Ok(json!({"videos": rendered, "cursor": next, "has_more": has_more}))
}

fn sorted(request: &Request<'_>, mut list: Vec<usize>) -> Result<Vec<usize>, Failure> {
    let s = &request.state.scenario;
    let key = |c: usize| (s.comments[c].timestamp, s.comments[c].key);
    match request.param("sort_field").unwrap_or("create_time") {
        "create_time" => list.sort_by_key(|&c| key(c)),
        "likes" => list.sort_by_key(|&c| (s.comments[c].like_count, key(c))),
        "replies" => {
            list.sort_by_key(|&c| (s.replies_by_comment.get(&c).map_or(0, Vec::len), key(c)))
        }
        _ => {
            return Err(fail(
                40002,
                "sort_field: Must be one of: likes, replies, create_time.",
            ));
        }
    }
    match request.param("sort_order").unwrap_or("desc") {
        "asc" => {}
        "desc" => list.reverse(),
        "smart" => list.sort_by_key(|&c| s.comments[c].key.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        _ => return Err(fail(40002, "sort_order: Must be one of: asc, desc, smart.")),
    }
    Ok(list)
}

fn render(request: &Request<'_>, c: usize, all: bool, with_replies: bool) -> Value {
    let s = &request.state.scenario;
    let comment = &s.comments[c];
    let media = &s.media[comment.media];
    let replies: Vec<usize> = s
        .replies_by_comment
        .get(&c)
        .into_iter()
        .flatten()
        .copied()
        .filter(|&r| shown(request, r, all))
        .collect();
    let parent = match comment.parent {
        Some(p) => s.comments[p].id.clone(),
        None => media.id.clone(),
    };
    let mut out = json!({
        "comment_id": comment.id,
        "video_id": media.id,
        "user_id": comment.from_id,
        "create_time": comment.timestamp.timestamp().to_string(),
        "text": comment.text_at(request.now),
        "likes": comment.like_count,
        "replies": replies.len(),
        "owner": comment.role == Role::Owner,
        "liked": false,
        "pinned": false,
        "status": if comment.hidden { "HIDDEN" } else { "PUBLIC" },
        "username": comment.username,
        "display_name": comment.username,
        "profile_image": format!("https://p16-sign-va.tiktokcdn.com/tos-maliva-avt-0068/{}~c5_168x168.jpeg", &comment.from_id[..8.min(comment.from_id.len())]),
        "parent_comment_id": parent,
    });
    if with_replies && comment.parent.is_none() {
        // A partial list, like the real `reply_list`.
        let partial: Vec<Value> = replies
            .iter()
            .take(3)
            .map(|&r| render(request, r, all, false))
            .collect();
        out["reply_list"] = Value::Array(partial);
    }
    out
}

fn comment_list(request: &Request<'_>) -> Result<Value, Failure> {
    let s = &request.state.scenario;
    let m = request.video()?;
    let all = request.all_statuses()?;
    let with_replies = request.param("include_replies") == Some("true");
    if let Some(ids) = request.json_array("comment_ids")? {
        if ids.len() > MAX_COMMENTS {
            return Err(fail(40002, "comment_ids: Longer than maximum length 30."));
        }
        let found: Vec<Value> = ids
            .iter()
            .filter_map(|id| match s.nodes.get(id) {
                Some(Node::Comment(c)) if s.comments[*c].media == m && shown(request, *c, all) => {
                    Some(render(request, *c, all, with_replies))
                }
                _ => None,
            })
            .collect();
        return Ok(json!({"comments": found, "cursor": found.len(), "has_more": false}));
    }
    let count = request.count(MAX_COMMENTS)?;
    let cursor = request.cursor()?;
    let top: Vec<usize> = s.top_level_by_media[m]
        .iter()
        .copied()
        .filter(|&c| shown(request, c, all))
        .collect();
    let top = sorted(request, top)?;
    let (page, next, has_more) = offset_page(&top, cursor, count);
    let comments: Vec<Value> = page
        .iter()
        .map(|&c| render(request, c, all, with_replies))
        .collect();
    Ok(json!({"comments": comments, "cursor": next, "has_more": has_more}))
}

fn reply_list(request: &Request<'_>) -> Result<Value, Failure> {
    let s = &request.state.scenario;
    let m = request.video()?;
    let all = request.all_statuses()?;
    let id = request.required("comment_id")?;
    let parent = match s.nodes.get(id) {
        Some(Node::Comment(c))
            if s.comments[*c].media == m
                && s.comments[*c].parent.is_none()
                && shown(request, *c, true) =>
        {
            *c
        }
        _ => return Err(fail(40002, "comment_id: The comment does not exist.")),
    };
    let count = request.count(MAX_COMMENTS)?;
    let cursor = request.cursor()?;
    let replies: Vec<usize> = s
        .replies_by_comment
        .get(&parent)
        .into_iter()
        .flatten()
        .copied()
        .filter(|&r| shown(request, r, all))
        .collect();
    let replies = sorted(request, replies)?;
    let (page, next, has_more) = offset_page(&replies, cursor, count);
    let comments: Vec<Value> = page
        .iter()
        .map(|&r| render(request, r, all, false))
        .collect();
    Ok(json!({"comments": comments, "cursor": next, "has_more": has_more}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_pages_run_short_sometimes_and_end_with_has_more_false() {
        let items: Vec<usize> = (0..25).collect();
        let mut cursor = 0;
        let mut seen = Vec::new();
        let mut short = 0;
        loop {
            let (page, next, more) = offset_page(&items, cursor, 5);
            short += usize::from(page.len() < 5 && more);
            seen.extend(page);
            cursor = next;
            if !more {
                break;
            }
        }
        assert_eq!(seen, items);
        assert!(short > 0);
    }

    #[test]
    fn rate_limit_counts_a_rolling_minute() {
        let rate = RateState::default();
        let t0 = Instant::now();
        assert!(rate.allow(0, t0, 2) && rate.allow(0, t0, 2));
        assert!(!rate.allow(0, t0, 2));
        assert!(rate.allow(1, t0, 2));
        assert!(rate.allow(0, t0 + Duration::from_secs(61), 2));
    }
}
