//! What Meta's Graph API responses mean (Instagram and Facebook Pages share it).
//!
//! Meta reports errors in a JSON envelope whose `code`/`error_subcode` decide what to do; the HTTP
//! status is not reliable. Usage comes in `X-Business-Use-Case-Usage` / `X-App-Usage` headers as
//! percentages of the budget: above [`SLOW_DOWN_PERCENT`] the client spaces its calls, and a
//! throttled client waits `estimated_time_to_regain_access` minutes, because calls made while
//! throttled extend the penalty.

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::Deserialize;

use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;

use super::PlatformError;
use super::http::{ApiClient, Interpretation};
use super::tokens::SharedToken;

/// Usage percentage above which calls are spaced out.
const SLOW_DOWN_PERCENT: u32 = 80;
/// Usage percentage above which the client stops until the budget regains.
const STOP_PERCENT: u32 = 95;

#[derive(Debug, Deserialize)]
struct Envelope {
    error: Option<ErrorBody>,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: String,
    code: Option<u32>,
    error_subcode: Option<u32>,
    #[serde(default)]
    is_transient: bool,
}

#[derive(Debug, Default, Deserialize)]
struct Usage {
    #[serde(default)]
    call_count: u32,
    #[serde(default)]
    total_cputime: u32,
    #[serde(default)]
    total_time: u32,
    /// Minutes.
    #[serde(default)]
    estimated_time_to_regain_access: u32,
}

impl Usage {
    fn percent(&self) -> u32 {
        self.call_count.max(self.total_cputime).max(self.total_time)
    }
}

/// The highest usage reported by either header, and the longest regain time.
fn usage(headers: &HeaderMap) -> Usage {
    let mut worst = Usage::default();
    let mut consider = |u: Usage| {
        worst.call_count = worst.call_count.max(u.percent());
        worst.estimated_time_to_regain_access = worst
            .estimated_time_to_regain_access
            .max(u.estimated_time_to_regain_access);
    };
    if let Some(buc) = headers
        .get("x-business-use-case-usage")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| serde_json::from_str::<std::collections::HashMap<String, Vec<Usage>>>(v).ok())
    {
        buc.into_values().flatten().for_each(&mut consider);
    }
    if let Some(app) = headers
        .get("x-app-usage")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| serde_json::from_str::<Usage>(v).ok())
    {
        consider(app);
    }
    worst
}

/// The usage percentage the response reports, if it carries a usage header at all (the first
/// calls of an hour often carry none). Feeds the schedule's budget planner.
/// One Graph GET (Instagram and Facebook alike): `{base_url}/{path}` with the token in an
/// `Authorization: Bearer` header, never in the URL, read with Meta's error rules.
pub(super) async fn graph_get<T: DeserializeOwned>(
    api: &ApiClient,
    base_url: &str,
    token: &SharedToken,
    what: &str,
    path: &str,
    query: &[(&str, &str)],
) -> Result<T, PlatformError> {
    let url = format!("{base_url}/{path}");
    api.get_json(
        what,
        |http| {
            http.get(&url)
                .query(query)
                .bearer_auth(token.get().expose_secret())
        },
        interpret,
    )
    .await
}

pub(super) fn usage_percent(headers: &HeaderMap) -> Option<u8> {
    let reported =
        headers.contains_key("x-business-use-case-usage") || headers.contains_key("x-app-usage");
    reported.then(|| usage(headers).percent().min(100) as u8)
}

/// How long a throttled client should wait: the regain estimate, or a minute when none is given.
fn throttle_wait(usage: &Usage) -> Duration {
    Duration::from_secs(60 * u64::from(usage.estimated_time_to_regain_access.max(1)))
}

/// Meta timestamps are `2024-05-01T12:00:00+0000`: an offset without a colon, not RFC 3339.
pub(super) fn parse_time(s: Option<&str>) -> Option<DateTime<Utc>> {
    let s = s?;
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z")
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A Graph list: `{data, paging{cursors{before,after}, next}}`. Graph omits empty edges and
/// null fields, so everything is optional.
#[derive(Debug, Deserialize)]
pub(super) struct WireList<T> {
    #[serde(default = "Vec::new")]
    pub(super) data: Vec<T>,
    #[serde(default)]
    paging: Option<WirePaging>,
}

impl<T> Default for WireList<T> {
    fn default() -> Self {
        WireList {
            data: Vec::new(),
            paging: None,
        }
    }
}

impl<T> WireList<T> {
    /// The cursor of the next page. The end of the list is the absence of `next`: cursors may
    /// still be present on the last page. The `next` URL itself is never followed (it repeats the
    /// token); the next request is rebuilt from `cursors.after`.
    pub(super) fn next_cursor(&self) -> Option<String> {
        let paging = self.paging.as_ref()?;
        paging.next.as_ref()?;
        paging.cursors.as_ref()?.after.clone()
    }
}

#[derive(Debug, Deserialize)]
struct WirePaging {
    cursors: Option<WireCursors>,
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireCursors {
    after: Option<String>,
}

/// Follows a Graph list from the page after `after` to its end, collecting every item.
///
/// Stops when a page has no `next`, or when the API hands back a cursor it already gave (the
/// "same page again" failure): a repeating server must not hold a poll forever, and the items of
/// a repeated page are already collected.
pub(super) async fn collect_pages<T, F, Fut>(
    after: Option<String>,
    mut fetch: F,
) -> Result<Vec<T>, PlatformError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<WireList<T>, PlatformError>>,
{
    let mut items = Vec::new();
    let mut seen: HashSet<String> = after.iter().cloned().collect();
    let mut after = after;
    loop {
        let page = fetch(after.take()).await?;
        let next = page.next_cursor();
        items.extend(page.data);
        match next {
            Some(cursor) if seen.insert(cursor.clone()) => after = Some(cursor),
            _ => return Ok(items),
        }
    }
}

/// Interprets a Graph API response.
pub fn interpret(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Interpretation {
    let usage = usage(headers);
    let envelope = serde_json::from_slice::<Envelope>(body).ok();
    let Some(error) = envelope.and_then(|e| e.error) else {
        if status.is_success() {
            let pace = match usage.percent() {
                p if p >= STOP_PERCENT => Some(throttle_wait(&usage)),
                p if p >= SLOW_DOWN_PERCENT => {
                    Some(Duration::from_secs(u64::from(p - SLOW_DOWN_PERCENT) + 1))
                }
                _ => None,
            };
            return Interpretation::Success { pace };
        }
        return match status {
            StatusCode::TOO_MANY_REQUESTS => Interpretation::Throttled {
                reason: "HTTP 429".into(),
                wait: throttle_wait(&usage),
            },
            s if s.is_server_error() || s == StatusCode::REQUEST_TIMEOUT => Interpretation::Retry {
                reason: format!("HTTP {}", s.as_u16()),
                after: None,
            },
            s => Interpretation::Fail(PlatformError::InvalidRequest {
                message: format!("HTTP {} without an error envelope", s.as_u16()),
            }),
        };
    };
    let code = error.code.unwrap_or(0);
    let message = error.message;
    match code {
        4 | 17 | 32 | 341 | 613 | 80001 | 80002 => Interpretation::Throttled {
            reason: format!("code {code}: {message}"),
            wait: throttle_wait(&usage),
        },
        190 => Interpretation::Fail(PlatformError::TokenRejected {
            code,
            subcode: error.error_subcode,
            message,
        }),
        10 | 200..=299 => Interpretation::Fail(PlatformError::PermissionDenied { message }),
        100 if error.error_subcode == Some(33) => {
            Interpretation::Fail(PlatformError::NotFound { message })
        }
        1 | 2 => Interpretation::Retry {
            reason: format!("code {code}: {message}"),
            after: None,
        },
        _ if error.is_transient || status.is_server_error() => Interpretation::Retry {
            reason: format!("code {code}: {message}"),
            after: None,
        },
        _ => Interpretation::Fail(PlatformError::InvalidRequest {
            message: format!("code {code}: {message}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(buc: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-business-use-case-usage", buc.parse().unwrap());
        h
    }

    #[test]
    fn throttling_codes_wait_the_regain_estimate() {
        let h = headers(
            r#"{"178":[{"type":"instagram","call_count":100,"total_cputime":3,"total_time":4,"estimated_time_to_regain_access":7}]}"#,
        );
        let body = br#"{"error":{"message":"Application request limit reached","type":"OAuthException","code":4,"fbtrace_id":"x"}}"#;
        match interpret(StatusCode::BAD_REQUEST, &h, body) {
            Interpretation::Throttled { wait, .. } => assert_eq!(wait, Duration::from_secs(7 * 60)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn expired_token_is_final() {
        let body = br#"{"error":{"message":"Error validating access token: Session has expired","type":"OAuthException","code":190,"error_subcode":463}}"#;
        assert!(matches!(
            interpret(StatusCode::BAD_REQUEST, &HeaderMap::new(), body),
            Interpretation::Fail(PlatformError::TokenRejected {
                code: 190,
                subcode: Some(463),
                ..
            })
        ));
    }

    #[test]
    fn html_502_is_retried_and_high_usage_paces() {
        assert!(matches!(
            interpret(
                StatusCode::BAD_GATEWAY,
                &HeaderMap::new(),
                b"<html>Bad Gateway</html>"
            ),
            Interpretation::Retry { .. }
        ));
        let h = headers(r#"{"1":[{"call_count":85}]}"#);
        match interpret(StatusCode::OK, &h, b"{\"data\":[]}") {
            Interpretation::Success { pace: Some(p) } => assert_eq!(p, Duration::from_secs(6)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn meta_timestamps_parse() {
        let t = parse_time(Some("2024-05-01T14:02:11+0000")).unwrap();
        assert_eq!(t.to_rfc3339(), "2024-05-01T14:02:11+00:00");
        assert!(parse_time(Some("yesterday")).is_none());
    }

    #[test]
    fn the_last_page_has_no_next_cursor_even_with_cursors() {
        let list: WireList<u32> =
            serde_json::from_str(r#"{"data":[],"paging":{"cursors":{"before":"a","after":"b"}}}"#)
                .unwrap();
        assert_eq!(list.next_cursor(), None);
        let list: WireList<u32> = serde_json::from_str(
            r#"{"data":[1],"paging":{"cursors":{"before":"a","after":"b"},"next":"https://x"}}"#,
        )
        .unwrap();
        assert_eq!(list.next_cursor().as_deref(), Some("b"));
    }

    fn page(data: Vec<u32>, after: Option<&str>) -> WireList<u32> {
        let paging = match after {
            Some(a) => format!(r#","paging":{{"cursors":{{"after":"{a}"}},"next":"https://x"}}"#),
            None => String::new(),
        };
        serde_json::from_str(&format!(r#"{{"data":{data:?}{paging}}}"#)).unwrap()
    }

    #[tokio::test]
    async fn collecting_pages_follows_cursors_and_stops_on_a_repeat() {
        let pages = std::sync::Mutex::new(vec![
            page(vec![5], Some("c1")),
            page(vec![], Some("c2")),
            page(vec![4, 3], None),
        ]);
        let asked = std::sync::Mutex::new(Vec::new());
        let items = collect_pages(None, |after| {
            asked.lock().unwrap().push(after);
            let next = pages.lock().unwrap().remove(0);
            async move { Ok(next) }
        })
        .await
        .unwrap();
        assert_eq!(items, [5, 4, 3], "an empty page mid-list does not end it");
        assert_eq!(
            *asked.lock().unwrap(),
            [None, Some("c1".to_owned()), Some("c2".to_owned())]
        );

        let calls = std::sync::atomic::AtomicU32::new(0);
        let items = collect_pages(Some("c0".to_owned()), |_| {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { Ok(page(vec![1], Some("same"))) }
        })
        .await
        .unwrap();
        assert_eq!(
            items,
            [1, 1],
            "the repeated page is read once more, then the walk stops"
        );
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[test]
    fn deleted_objects_are_not_found() {
        let body =
            br#"{"error":{"message":"Unsupported get request.","code":100,"error_subcode":33}}"#;
        assert!(matches!(
            interpret(StatusCode::BAD_REQUEST, &HeaderMap::new(), body),
            Interpretation::Fail(PlatformError::NotFound { .. })
        ));
    }
}
