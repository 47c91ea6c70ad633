//! The digests ledger: each digest rendered once per recipient and period, each channel's delivery
//! of it tracked until sent, and which questions each recipient has already been shown.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Row, Sqlite};

use super::{Store, StoreError, from_unix, to_unix};

/// A delivery still to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingDelivery {
    pub id: i64,
    pub recipient: String,
    pub period: String,
    pub channel: String,
    pub idempotency_key: String,
    pub attempts: u32,
    /// The digest as rendered when it was created (JSON object of strings).
    pub body: String,
}

/// A channel whose delivery keeps failing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailingDelivery {
    pub recipient: String,
    pub channel: String,
    pub period: String,
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// A post where the platform announces more comments than the store holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountGap {
    pub account: String,
    pub post_external_id: String,
    pub platform_count: u64,
    pub stored: u64,
}

impl Store {
    /// Whether a digest for this recipient and period was already rendered.
    ///
    /// # Errors
    /// A database error.
    pub async fn digest_exists(&self, recipient: &str, period: &str) -> Result<bool, StoreError> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT id FROM digests WHERE recipient = ? AND period = ?")
                .bind(recipient)
                .bind(period)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    /// The comments among `keys` that an earlier digest already showed this recipient.
    ///
    /// # Errors
    /// A database error.
    pub async fn listed_before(
        &self,
        recipient: &str,
        keys: &[i64],
    ) -> Result<HashSet<i64>, StoreError> {
        let mut listed = HashSet::new();
        for chunk in keys.chunks(10_000) {
            let mut query = QueryBuilder::<Sqlite>::new(
                "SELECT comment_id FROM digest_listings WHERE recipient = ",
            );
            query
                .push_bind(recipient.to_owned())
                .push(" AND comment_id IN (");
            let mut ids = query.separated(", ");
            for key in chunk {
                ids.push_bind(*key);
            }
            query.push(")");
            for row in query.build().fetch_all(&self.pool).await? {
                listed.insert(row.try_get::<i64, _>(0)?);
            }
        }
        Ok(listed)
    }

    /// Records a rendered digest, the questions it lists and one pending delivery per channel, in
    /// one transaction. Returns `false` (and changes nothing) when the period already has a
    /// digest: a period is rendered once, whatever happens later.
    ///
    /// # Errors
    /// A database error.
    pub async fn create_digest(
        &self,
        recipient: &str,
        period: &str,
        body: &str,
        listed: &[i64],
        channels: &[String],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO digests (recipient, period, rendered_at, body) VALUES (?, ?, ?, ?)
             ON CONFLICT (recipient, period) DO NOTHING
             RETURNING id",
        )
        .bind(recipient)
        .bind(period)
        .bind(to_unix(now))
        .bind(body)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else {
            return Ok(false);
        };
        for key in listed {
            sqlx::query(
                "INSERT INTO digest_listings (recipient, comment_id, first_digest) VALUES (?, ?, ?)
                 ON CONFLICT DO NOTHING",
            )
            .bind(recipient)
            .bind(key)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        for channel in channels {
            sqlx::query(
                "INSERT INTO deliveries (digest_id, channel, idempotency_key, next_attempt_at)
                 VALUES (?, ?, ?, ?)",
            )
            .bind(id)
            .bind(channel)
            .bind(idempotency_key(recipient, period, channel))
            .bind(to_unix(now))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Deliveries due at `now` (pending, next attempt reached), oldest first; only one
    /// recipient's when `recipient` is given.
    ///
    /// # Errors
    /// A database error.
    pub async fn due_deliveries(
        &self,
        now: DateTime<Utc>,
        recipient: Option<&str>,
    ) -> Result<Vec<PendingDelivery>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.id, g.recipient, g.period, d.channel, d.idempotency_key, d.attempts, g.body
             FROM deliveries d JOIN digests g ON g.id = d.digest_id
             WHERE d.status = 'pending' AND d.next_attempt_at <= ?
               AND (? IS NULL OR g.recipient = ?)
             ORDER BY d.next_attempt_at, d.id",
        )
        .bind(to_unix(now))
        .bind(recipient)
        .bind(recipient)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(PendingDelivery {
                    id: row.try_get(0)?,
                    recipient: row.try_get(1)?,
                    period: row.try_get(2)?,
                    channel: row.try_get(3)?,
                    idempotency_key: row.try_get(4)?,
                    attempts: row.try_get::<i64, _>(5)?.max(0) as u32,
                    body: row.try_get(6)?,
                })
            })
            .collect()
    }

    /// Records a successful send. Only a pending delivery changes, so a repeat is harmless.
    ///
    /// # Errors
    /// A database error.
    pub async fn mark_delivery_sent(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE deliveries SET status = 'sent', sent_at = ?, attempts = attempts + 1,
                 last_error = NULL
             WHERE id = ? AND status = 'pending'",
        )
        .bind(to_unix(at))
        .bind(id)
        .execute(&self.writes)
        .await?;
        Ok(())
    }

    /// Records a failed attempt; the delivery stays pending until `retry_at`.
    ///
    /// # Errors
    /// A database error.
    pub async fn mark_delivery_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE deliveries SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?
             WHERE id = ? AND status = 'pending'",
        )
        .bind(error)
        .bind(to_unix(retry_at))
        .bind(id)
        .execute(&self.writes)
        .await?;
        Ok(())
    }

    /// Deliveries of a recipient that failed at least `min_attempts` times and are still pending.
    ///
    /// # Errors
    /// A database error.
    pub async fn failing_deliveries(
        &self,
        recipient: &str,
        min_attempts: u32,
    ) -> Result<Vec<FailingDelivery>, StoreError> {
        let rows = sqlx::query(
            "SELECT g.recipient, d.channel, g.period, d.attempts, d.last_error
             FROM deliveries d JOIN digests g ON g.id = d.digest_id
             WHERE d.status = 'pending' AND d.attempts >= ? AND g.recipient = ?
             ORDER BY d.id",
        )
        .bind(i64::from(min_attempts))
        .bind(recipient)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(FailingDelivery {
                    recipient: row.try_get(0)?,
                    channel: row.try_get(1)?,
                    period: row.try_get(2)?,
                    attempts: row.try_get::<i64, _>(3)?.max(0) as u32,
                    last_error: row.try_get(4)?,
                })
            })
            .collect()
    }

    /// Every delivery ever recorded for a recipient, as `(period, channel, status, sent_at)`.
    ///
    /// # Errors
    /// A database error.
    pub async fn deliveries_of(
        &self,
        recipient: &str,
    ) -> Result<Vec<(String, String, String, Option<DateTime<Utc>>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT g.period, d.channel, d.status, d.sent_at
             FROM deliveries d JOIN digests g ON g.id = d.digest_id
             WHERE g.recipient = ? ORDER BY d.id",
        )
        .bind(recipient)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let sent: Option<i64> = row.try_get(3)?;
                Ok((
                    row.try_get(0)?,
                    row.try_get(1)?,
                    row.try_get(2)?,
                    sent.map(|t| from_unix("deliveries", t)).transpose()?,
                ))
            })
            .collect()
    }

    /// Posts of the given accounts where the platform's comment count exceeds the comments
    /// stored: the silent gaps (restricted users, failed polls) a digest should own up to.
    ///
    /// # Errors
    /// A database error.
    pub async fn count_gaps(&self, accounts: &[String]) -> Result<Vec<CountGap>, StoreError> {
        let mut query = QueryBuilder::<Sqlite>::new(
            "SELECT a.name, p.external_id, p.comments_count,
                    (SELECT COUNT(*) FROM comments c WHERE c.post_id = p.id AND c.deleted_at IS NULL)
             FROM posts p JOIN accounts a ON a.id = p.account_id
             WHERE p.comments_count IS NOT NULL AND a.name IN (",
        );
        let mut names = query.separated(", ");
        for name in accounts {
            names.push_bind(name.clone());
        }
        if accounts.is_empty() {
            names.push("NULL");
        }
        query.push(") ORDER BY a.name, p.created_at");
        let mut gaps = Vec::new();
        for row in query.build().fetch_all(&self.pool).await? {
            let platform_count: i64 = row.try_get(2)?;
            let stored: i64 = row.try_get(3)?;
            if platform_count > stored {
                gaps.push(CountGap {
                    account: row.try_get(0)?,
                    post_external_id: row.try_get(1)?,
                    platform_count: platform_count as u64,
                    stored: stored as u64,
                });
            }
        }
        Ok(gaps)
    }
}

/// The same key for every attempt of one delivery: `triage-<recipient>-<period>-<channel hash>`.
fn idempotency_key(recipient: &str, period: &str, channel: &str) -> String {
    use sha2::{Digest as _, Sha256};
    let hash = Sha256::digest(format!("{recipient}\n{period}\n{channel}").as_bytes());
    format!("triage-{}", hex::encode(&hash[..16]))
}
