//! The one HTTP policy every platform client goes through: timeouts, retries with capped,
//! jittered exponential backoff, waiting out rate limits, and pacing when usage runs high.
//!
//! Platforms differ only in how a response is *interpreted* (Meta puts error codes in a JSON
//! envelope, TikTok inside HTTP 200 bodies, YouTube in a Google error object); each platform module
//! supplies an `interpret` function and this module does the acting. There is no second copy of
//! the retry loop anywhere in the crate.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;

use super::PlatformError;

/// Limits of the policy. Built from the worker settings.
#[derive(Debug, Clone)]
pub struct HttpPolicy {
    pub timeout: Duration,
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// The longest single rate-limit wait: after it the request is tried again (and waits again
    /// if still throttled, up to a bound, after which it fails with [`PlatformError::Throttled`]).
    pub max_throttle_wait: Duration,
}

impl Default for HttpPolicy {
    fn default() -> Self {
        HttpPolicy {
            timeout: Duration::from_secs(10),
            max_attempts: 5,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            max_throttle_wait: Duration::from_secs(900),
        }
    }
}

/// What a platform says a response means.
#[derive(Debug)]
pub enum Interpretation {
    /// Use the body. `pace`: wait this long before the next call (usage is running high).
    Success { pace: Option<Duration> },
    /// A transient failure: try again after the backoff (or after `after`, if the server said).
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// Throttled: calls made now would extend the penalty, so wait `wait` before the next one.
    Throttled { reason: String, wait: Duration },
    /// A final answer: retrying cannot help.
    Fail(PlatformError),
}

/// How many rate-limit waits one request may take before it gives up, so a server that throttles
/// forever cannot hold an account's poll forever.
const MAX_THROTTLE_WAITS: u32 = 10;

/// An HTTP client bound to one policy, with the pacing state of one account.
#[derive(Debug)]
pub struct ApiClient {
    http: reqwest::Client,
    policy: HttpPolicy,
    /// No request leaves before this instant (set by throttles and high usage).
    not_before: Mutex<Option<Instant>>,
    /// Reads a usage percentage from response headers (Meta); `None` for other platforms.
    usage_probe: Option<UsageProbe>,
    /// The last percentage `usage_probe` read; [`NO_USAGE`] until one is read.
    last_usage: AtomicU8,
}

/// Reads the platform's usage percentage from a response's headers, when it reports one.
pub type UsageProbe = fn(&HeaderMap) -> Option<u8>;

const NO_USAGE: u8 = u8::MAX;

impl ApiClient {
    /// # Errors
    /// The TLS backend cannot be initialised.
    pub fn new(policy: HttpPolicy) -> Result<ApiClient, PlatformError> {
        let http = reqwest::Client::builder()
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout)
            .user_agent(concat!("comment-triage/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| PlatformError::Request {
                message: format!("cannot build the HTTP client: {}", e.without_url()),
            })?;
        Ok(ApiClient {
            http,
            policy,
            not_before: Mutex::new(None),
            usage_probe: None,
            last_usage: AtomicU8::new(NO_USAGE),
        })
    }

    /// Remembers the usage percentage each response reports, for [`ApiClient::usage_percent`].
    pub fn with_usage_probe(mut self, probe: UsageProbe) -> ApiClient {
        self.usage_probe = Some(probe);
        self
    }

    /// The usage percentage the last response that reported one carried.
    pub fn usage_percent(&self) -> Option<u8> {
        match self.last_usage.load(Ordering::Relaxed) {
            NO_USAGE => None,
            percent => Some(percent),
        }
    }

    /// Sends the request built by `build` until `interpret` accepts the response and its body
    /// parses as `T`, or the policy gives up.
    ///
    /// A 200 whose body does not parse (truncated, HTML) is retried like a 5xx: it is a transport
    /// fault, not an answer.
    ///
    /// # Errors
    /// [`PlatformError::Exhausted`] after `max_attempts` transient failures, the error `interpret`
    /// declared final, or [`PlatformError::Throttled`] when the platform asks for a longer wait than
    /// the policy allows.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        what: &str,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
        interpret: impl Fn(StatusCode, &HeaderMap, &[u8]) -> Interpretation,
    ) -> Result<T, PlatformError> {
        let mut failures = 0;
        let mut throttle_waits = 0;
        loop {
            self.wait_for_pace().await;
            let reason = match self.send_once(&build).await {
                Err(reason) => reason,
                Ok((status, headers, body)) => match interpret(status, &headers, &body) {
                    Interpretation::Success { pace } => match serde_json::from_slice::<T>(&body) {
                        Ok(value) => {
                            if let Some(pace) = pace {
                                tracing::info!(
                                    what,
                                    pace_ms = pace.as_millis() as u64,
                                    "usage is high, slowing down"
                                );
                                self.pause_for(pace.min(self.policy.max_throttle_wait))
                                    .await;
                            }
                            return Ok(value);
                        }
                        Err(e) => format!("malformed response body ({e})"),
                    },
                    Interpretation::Retry { reason, after } => {
                        if let Some(after) = after {
                            self.pause_for(after.min(self.policy.backoff_max)).await;
                        }
                        reason
                    }
                    Interpretation::Throttled { reason, wait } => {
                        throttle_waits += 1;
                        if throttle_waits > MAX_THROTTLE_WAITS {
                            tracing::warn!(what, wait_secs = wait.as_secs(), %reason, "still rate limited, giving up this cycle");
                            self.pause_for(wait).await;
                            return Err(PlatformError::Throttled { wait });
                        }
                        let wait = wait.min(self.policy.max_throttle_wait);
                        tracing::warn!(what, wait_ms = wait.as_millis() as u64, %reason, "rate limited, waiting");
                        self.pause_for(wait).await;
                        continue;
                    }
                    Interpretation::Fail(error) => return Err(error),
                },
            };
            failures += 1;
            if failures >= self.policy.max_attempts {
                tracing::warn!(what, attempts = failures, %reason, "giving up after retries");
                return Err(PlatformError::Exhausted {
                    attempts: failures,
                    last: reason,
                });
            }
            let delay = backoff(&self.policy, failures);
            tracing::warn!(what, attempt = failures, delay_ms = delay.as_millis() as u64, %reason, "request failed, retrying");
            self.pause_for(delay).await;
        }
    }

    async fn send_once(
        &self,
        build: &impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<(StatusCode, HeaderMap, bytes::Bytes), String> {
        // `without_url`: request URLs may carry cursors and must never carry tokens into logs.
        let response = build(&self.http)
            .send()
            .await
            .map_err(|e| format!("request failed: {}", e.without_url()))?;
        let status = response.status();
        let headers = response.headers().clone();
        if let Some(percent) = self.usage_probe.and_then(|probe| probe(&headers)) {
            self.last_usage.store(percent.min(100), Ordering::Relaxed);
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("reading the body failed: {}", e.without_url()))?;
        Ok((status, headers, body))
    }

    async fn pause_for(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut not_before = self.not_before.lock().await;
        if not_before.is_none_or(|t| t < until) {
            *not_before = Some(until);
        }
    }

    async fn wait_for_pace(&self) {
        let until = *self.not_before.lock().await;
        if let Some(until) = until {
            tokio::time::sleep_until(until.into()).await;
        }
    }
}

/// Full-jitter exponential backoff: a random delay in [d/2, d] with d = base × 2^(n-1), capped.
/// Jitter keeps accounts that failed together from retrying together.
pub fn backoff(policy: &HttpPolicy, failures: u32) -> Duration {
    let exp = policy
        .backoff_base
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    let capped = exp.min(policy.backoff_max);
    let half = capped / 2;
    half + half.mul_f64(jitter_fraction())
}

/// A fraction in [0, 1) from the clock's low bits: enough entropy to spread retries, and no
/// shared RNG state between tasks.
fn jitter_fraction() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mixed = (nanos as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
    mixed as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_capped() {
        let policy = HttpPolicy {
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_millis(1000),
            ..HttpPolicy::default()
        };
        for failures in 1..20 {
            let d = backoff(&policy, failures);
            let full = Duration::from_millis(100 * (1 << (failures - 1).min(16)))
                .min(Duration::from_millis(1000));
            assert!(
                d >= full / 2 && d <= full,
                "{failures}: {d:?} not in [{:?}, {full:?}]",
                full / 2
            );
        }
    }
}
