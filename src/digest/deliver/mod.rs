//! Delivery channels: email (SMTP), Slack and Discord webhooks, and a signed generic webhook.
//!
//! A digest is rendered once into a [`Rendered`] (every channel's payload), stored in the
//! deliveries ledger, and sent from there, so a retry after a crash sends exactly what was
//! rendered. Every send carries the delivery's idempotency key (an `Idempotency-Key` header, the
//! email's `Message-ID`). A failure is never final here: the dispatcher keeps the delivery pending
//! and retries it with backoff (or after the channel's `Retry-After`).

mod discord;
mod email;
mod slack;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::build::Digest;
use super::render::{Format, render_digest, subject};
use crate::config::{ChannelSettings, SmtpSettings};

/// A digest rendered for every channel, as stored in the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
    pub slack: serde_json::Value,
    pub discord: serde_json::Value,
    pub webhook: serde_json::Value,
}

/// Renders every channel's payload of a digest, once.
pub fn render_all(digest: &Digest, period: &str) -> Rendered {
    Rendered {
        subject: subject(digest),
        text: render_digest(digest, Format::Text),
        html: render_digest(digest, Format::Html),
        slack: slack::payload(digest),
        discord: discord::payload(digest),
        webhook: webhook::payload(digest, period),
    }
}

/// Why a send failed, and when the channel asked to be tried again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct SendError {
    pub reason: String,
    /// The channel's own `Retry-After` / `retry_after`, when it gave one.
    pub retry_after: Option<Duration>,
}

impl SendError {
    fn new(reason: impl Into<String>) -> Self {
        SendError {
            reason: reason.into(),
            retry_after: None,
        }
    }
}

/// Reads secrets (webhook URLs, SMTP password, signing keys) by variable name.
pub type SecretLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Everything needed to reach every channel.
pub struct Channels {
    http: reqwest::Client,
    smtp: Option<SmtpSettings>,
    secrets: SecretLookup,
}

impl Channels {
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new(smtp: Option<SmtpSettings>, secrets: SecretLookup) -> Result<Self, SendError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("comment-triage/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SendError::new(format!("cannot build the HTTP client: {e}")))?;
        Ok(Channels {
            http,
            smtp,
            secrets,
        })
    }

    fn secret(&self, name: &str) -> Result<String, SendError> {
        (self.secrets)(name)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| SendError::new(format!("environment variable {name} is not set")))
    }

    /// Sends one rendered digest through one channel.
    ///
    /// # Errors
    /// Anything that kept the channel from accepting it.
    pub async fn send(
        &self,
        channel: &ChannelSettings,
        rendered: &Rendered,
        idempotency_key: &str,
    ) -> Result<(), SendError> {
        match channel {
            ChannelSettings::Email { to } => {
                let smtp = self
                    .smtp
                    .as_ref()
                    .ok_or_else(|| SendError::new("no [smtp] section in the config"))?;
                let password = smtp
                    .password_env
                    .as_deref()
                    .map(|name| self.secret(name))
                    .transpose()?;
                email::send(smtp, password, to, rendered, idempotency_key).await
            }
            ChannelSettings::Slack { webhook_url_env } => {
                let url = self.secret(webhook_url_env)?;
                post_json(&self.http, &url, &rendered.slack, idempotency_key, &[]).await
            }
            ChannelSettings::Discord { webhook_url_env } => {
                let url = self.secret(webhook_url_env)?;
                let url = if url.contains('?') {
                    format!("{url}&wait=true")
                } else {
                    format!("{url}?wait=true")
                };
                post_json(&self.http, &url, &rendered.discord, idempotency_key, &[]).await
            }
            ChannelSettings::Webhook { url, secret_env } => {
                let body = serde_json::to_vec(&rendered.webhook)
                    .map_err(|e| SendError::new(format!("cannot encode the payload: {e}")))?;
                let timestamp = chrono::Utc::now().timestamp();
                let mut headers = vec![("X-Triage-Timestamp", timestamp.to_string())];
                if let Some(name) = secret_env {
                    let secret = self.secret(name)?;
                    headers.push((
                        "X-Triage-Signature",
                        webhook::signature(&secret, timestamp, &body),
                    ));
                }
                post_bytes(&self.http, url, body, idempotency_key, &headers).await
            }
        }
    }
}

async fn post_json(
    http: &reqwest::Client,
    url: &str,
    payload: &serde_json::Value,
    idempotency_key: &str,
    headers: &[(&str, String)],
) -> Result<(), SendError> {
    let body = serde_json::to_vec(payload)
        .map_err(|e| SendError::new(format!("cannot encode the payload: {e}")))?;
    post_bytes(http, url, body, idempotency_key, headers).await
}

/// POSTs a JSON body; 2xx is success, 429 and 5xx carry the server's retry hint. Errors never
/// include the URL: Slack and Discord webhook URLs are secrets.
async fn post_bytes(
    http: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
    idempotency_key: &str,
    headers: &[(&str, String)],
) -> Result<(), SendError> {
    let mut request = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("Idempotency-Key", idempotency_key)
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request
        .send()
        .await
        .map_err(|e| SendError::new(format!("request failed: {}", e.without_url())))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let header_wait = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok());
    let text = response.text().await.unwrap_or_default();
    // Discord puts `retry_after` (seconds, fractional) in the JSON body of a 429.
    let body_wait = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("retry_after").and_then(serde_json::Value::as_f64));
    let retry_after = header_wait
        .or(body_wait)
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(3600.0)));
    let excerpt: String = text.chars().take(200).collect();
    Err(SendError {
        reason: format!("HTTP {}: {}", status.as_u16(), excerpt.trim()),
        retry_after,
    })
}
