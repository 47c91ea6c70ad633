//! What Meta's Graph API responses mean (Instagram and Facebook Pages share it).
//!
//! Meta reports errors in a JSON envelope whose `code`/`error_subcode` decide what to do; the HTTP
//! status is not reliable. Usage comes in `X-Business-Use-Case-Usage` / `X-App-Usage` headers as
//! percentages of the budget: above [`SLOW_DOWN_PERCENT`] the client spaces its calls, and a
//! throttled client waits `estimated_time_to_regain_access` minutes, because calls made while
//! throttled extend the penalty.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::Deserialize;

use super::PlatformError;
use super::http::Interpretation;

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
pub(super) fn usage_percent(headers: &HeaderMap) -> Option<u8> {
    let reported =
        headers.contains_key("x-business-use-case-usage") || headers.contains_key("x-app-usage");
    reported.then(|| usage(headers).percent().min(100) as u8)
}

/// How long a throttled client should wait: the regain estimate, or a minute when none is given.
fn throttle_wait(usage: &Usage) -> Duration {
    Duration::from_secs(60 * u64::from(usage.estimated_time_to_regain_access.max(1)))
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
    fn deleted_objects_are_not_found() {
        let body =
            br#"{"error":{"message":"Unsupported get request.","code":100,"error_subcode":33}}"#;
        assert!(matches!(
            interpret(StatusCode::BAD_REQUEST, &HeaderMap::new(), body),
            Interpretation::Fail(PlatformError::NotFound { .. })
        ));
    }
}
