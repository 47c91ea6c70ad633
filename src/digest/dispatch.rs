//! The digest scheduler: render each recipient's digest once per send slot, then deliver it on
//! every channel exactly once, across crashes and restarts.
//!
//! ```text
//! run_once(now) ── for each recipient with channels:
//!                    latest slot due (in their time zone) and not yet in the ledger?
//!                      → compose + render every payload → ledger: digest + listings +
//!                        one pending delivery per channel (one transaction)
//!               └─ deliver_due(now): each pending delivery whose time has come
//!                    → send with its idempotency key → sent, or attempts+1 and a later retry
//! ```
//!
//! A crash after rendering leaves pending deliveries that the next run sends, from the stored
//! payload; a crash after a send was recorded sends nothing again. The only window is between a
//! channel accepting a message and the ledger recording it: the resend carries the same
//! idempotency key (`Idempotency-Key` header, email `Message-ID`) for the receiver to drop.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::compose::compose_digest;
use super::deliver::{Channels, Rendered, SendError, render_all};
use super::schedule::latest_slot;
use crate::config::{RecipientSettings, Settings};
use crate::platforms::http::{HttpPolicy, backoff};
use crate::store::{PendingDelivery, Store, StoreError};

/// A slot missed by more than this (the daemon was down) is skipped rather than sent late.
const CATCH_UP: chrono::Duration = chrono::Duration::hours(12);

/// What one dispatcher run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DispatchReport {
    /// `(recipient, period)` of digests rendered in this run.
    pub rendered: Vec<(String, String)>,
    /// `(recipient, channel)` delivered.
    pub sent: Vec<(String, String)>,
    /// `(recipient, channel, error)` that failed and stay pending.
    pub failed: Vec<(String, String, String)>,
}

pub struct Dispatcher {
    settings: Arc<Settings>,
    store: Store,
    channels: Channels,
    retry: HttpPolicy,
}

impl Dispatcher {
    pub fn new(settings: Arc<Settings>, store: Store, channels: Channels) -> Dispatcher {
        let retry = HttpPolicy {
            backoff_base: Duration::from_secs(30),
            backoff_max: Duration::from_secs(3600),
            ..HttpPolicy::default()
        };
        Dispatcher {
            settings,
            store,
            channels,
            retry,
        }
    }

    /// Shortens the retry backoff (tests, local relays).
    pub fn with_retry_backoff(mut self, base: Duration, max: Duration) -> Self {
        self.retry.backoff_base = base;
        self.retry.backoff_max = max;
        self
    }

    /// Renders the digests that are due and delivers every pending delivery whose time has come.
    ///
    /// # Errors
    /// The store cannot be read or written (send failures are recorded, not returned).
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<DispatchReport, StoreError> {
        let mut report = DispatchReport::default();
        for recipient in self
            .settings
            .recipients
            .iter()
            .filter(|r| !r.channels.is_empty())
        {
            let Some(slot) = latest_slot(now, recipient.timezone, &recipient.send_at) else {
                continue;
            };
            if now - slot.at > CATCH_UP
                || self
                    .store
                    .digest_exists(&recipient.name, &slot.period)
                    .await?
            {
                continue;
            }
            if self.render(recipient, &slot.period, now).await? {
                report.rendered.push((recipient.name.clone(), slot.period));
            }
        }
        self.deliver_due(now, None, &mut report).await?;
        Ok(report)
    }

    /// `triage digest send`: renders the recipient's digest for the current slot (or, with
    /// `now_period`, for a one-off period named after this instant) unless already rendered, and
    /// delivers whatever of theirs is pending.
    ///
    /// # Errors
    /// The store cannot be read or written.
    pub async fn send_now(
        &self,
        recipient: &RecipientSettings,
        now: DateTime<Utc>,
        one_off: bool,
    ) -> Result<DispatchReport, StoreError> {
        let mut report = DispatchReport::default();
        let period = if one_off {
            Some(format!("now:{}", now.timestamp()))
        } else {
            latest_slot(now, recipient.timezone, &recipient.send_at).map(|s| s.period)
        };
        if let Some(period) = period
            && self.render(recipient, &period, now).await?
        {
            report.rendered.push((recipient.name.clone(), period));
        }
        self.deliver_due(now, Some(&recipient.name), &mut report)
            .await?;
        Ok(report)
    }

    /// Composes, renders and records the digest of one period. `false` when it already existed.
    async fn render(
        &self,
        recipient: &RecipientSettings,
        period: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let digest = compose_digest(&self.store, &self.settings, recipient, now).await?;
        let rendered = render_all(&digest, period);
        let body = serde_json::to_string(&rendered).expect("a rendered digest serialises");
        let listed: Vec<i64> = digest.questions().map(|q| q.key).collect();
        let channels: Vec<String> = recipient.channels.iter().map(|c| c.key()).collect();
        let created = self
            .store
            .create_digest(&recipient.name, period, &body, &listed, &channels, now)
            .await?;
        if created {
            tracing::info!(recipient = %recipient.name, period, questions = listed.len(), "digest rendered");
        }
        Ok(created)
    }

    async fn deliver_due(
        &self,
        now: DateTime<Utc>,
        recipient: Option<&str>,
        report: &mut DispatchReport,
    ) -> Result<(), StoreError> {
        for delivery in self.store.due_deliveries(now, recipient).await? {
            let span = tracing::info_span!(
                "deliver_digest",
                recipient = %delivery.recipient,
                channel = %delivery.channel,
                period = %delivery.period,
                attempt = delivery.attempts + 1
            );
            let _entered = span.enter();
            match self.deliver(&delivery).await {
                Ok(()) => {
                    self.store
                        .mark_delivery_sent(delivery.id, Utc::now())
                        .await?;
                    tracing::info!("digest delivered");
                    report.sent.push((delivery.recipient, delivery.channel));
                }
                Err(error) => {
                    let wait = error
                        .retry_after
                        .unwrap_or_else(|| backoff(&self.retry, delivery.attempts + 1));
                    let retry_at = now
                        + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1));
                    self.store
                        .mark_delivery_failed(delivery.id, &error.reason, retry_at)
                        .await?;
                    tracing::warn!(error = %error, retry_in_secs = wait.as_secs(), "delivery failed; kept pending");
                    report
                        .failed
                        .push((delivery.recipient, delivery.channel, error.reason));
                }
            }
        }
        Ok(())
    }

    async fn deliver(&self, delivery: &PendingDelivery) -> Result<(), SendError> {
        let channel = self
            .settings
            .recipient(&delivery.recipient)
            .and_then(|r| r.channels.iter().find(|c| c.key() == delivery.channel))
            .ok_or_else(|| SendError {
                reason: "the channel is no longer in the config".into(),
                retry_after: None,
            })?;
        let rendered: Rendered = serde_json::from_str(&delivery.body).map_err(|e| SendError {
            reason: format!("stored digest unreadable: {e}"),
            retry_after: None,
        })?;
        self.channels
            .send(channel, &rendered, &delivery.idempotency_key)
            .await
    }
}
