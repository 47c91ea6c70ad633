//! Accounts, their posts and campaign membership, and each account's poll health.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{AccountKey, PostKey, Store, StoreError, to_unix};
use crate::domain::{Media, Platform, QuotaReading};

/// Poll health of one account, for `triage status` and logs.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountHealth {
    pub name: String,
    pub platform: String,
    pub last_attempt_at: Option<i64>,
    pub last_success_at: Option<i64>,
    pub fail_count: i64,
    pub last_error: Option<String>,
    /// When the worker plans the next poll.
    pub next_poll_at: Option<i64>,
    /// The platform quota as last seen.
    pub quota: QuotaReading,
    /// Posts due in the last cycle that the budget pushed to a later one.
    pub deferred_posts: i64,
    /// The token's lifecycle, once the worker has seen the account.
    pub token: Option<super::TokenHealth>,
}

impl Store {
    /// Registers an account (or refreshes its name and handle) and returns its key.
    ///
    /// # Errors
    /// A database error.
    pub async fn upsert_account(
        &self,
        platform: Platform,
        external_id: &str,
        name: &str,
        owner_handle: &str,
    ) -> Result<AccountKey, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO accounts (platform, external_id, name, owner_handle) VALUES (?, ?, ?, ?)
             ON CONFLICT (platform, external_id) DO UPDATE
                 SET name = excluded.name, owner_handle = excluded.owner_handle
             RETURNING id",
        )
        .bind(platform.as_str())
        .bind(external_id)
        .bind(name)
        .bind(owner_handle)
        .fetch_one(&self.writes)
        .await?;
        Ok(AccountKey(id))
    }

    /// Stores the posts of one listing and which campaigns each belongs to. A post whose caption
    /// and count did not change is not written.
    ///
    /// # Errors
    /// A database error; nothing of the listing is stored then.
    pub async fn upsert_posts(
        &self,
        account: AccountKey,
        posts: &[(Media, Vec<String>)],
    ) -> Result<Vec<PostKey>, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut keys = Vec::with_capacity(posts.len());
        for (media, campaigns) in posts {
            sqlx::query(
                "INSERT INTO posts (account_id, external_id, caption, permalink, created_at, comments_count)
                 VALUES (?, ?, ?, ?, ?, ?)
                 ON CONFLICT (account_id, external_id) DO UPDATE
                     SET caption = excluded.caption, permalink = excluded.permalink,
                         comments_count = excluded.comments_count
                     WHERE posts.caption IS NOT excluded.caption
                        OR posts.permalink IS NOT excluded.permalink
                        OR posts.comments_count IS NOT excluded.comments_count",
            )
            .bind(account.0)
            .bind(&media.external_id)
            .bind(&media.caption)
            .bind(&media.permalink)
            .bind(to_unix(media.created_at))
            .bind(media.comments_count.map(|c| c as i64))
            .execute(&mut *tx)
            .await?;
            let id: i64 =
                sqlx::query_scalar("SELECT id FROM posts WHERE account_id = ? AND external_id = ?")
                    .bind(account.0)
                    .bind(&media.external_id)
                    .fetch_one(&mut *tx)
                    .await?;
            for campaign in campaigns {
                sqlx::query(
                    "INSERT INTO post_campaigns (post_id, campaign) VALUES (?, ?)
                     ON CONFLICT DO NOTHING",
                )
                .bind(id)
                .bind(campaign)
                .execute(&mut *tx)
                .await?;
            }
            keys.push(PostKey(id));
        }
        tx.commit().await?;
        Ok(keys)
    }

    /// Records the start of a poll of the account.
    ///
    /// # Errors
    /// A database error.
    pub async fn record_poll_attempt(
        &self,
        account: AccountKey,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE accounts SET last_attempt_at = ? WHERE id = ?")
            .bind(to_unix(at))
            .bind(account.0)
            .execute(&self.writes)
            .await?;
        Ok(())
    }

    /// Records the end of a poll: success clears the failure count, failure increments it.
    ///
    /// # Errors
    /// A database error.
    pub async fn record_poll_result(
        &self,
        account: AccountKey,
        at: DateTime<Utc>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        match error {
            None => {
                sqlx::query(
                    "UPDATE accounts SET last_success_at = ?, fail_count = 0, last_error = NULL
                     WHERE id = ?",
                )
                .bind(to_unix(at))
                .bind(account.0)
                .execute(&self.writes)
                .await?
            }
            Some(error) => {
                sqlx::query(
                    "UPDATE accounts SET fail_count = fail_count + 1, last_error = ? WHERE id = ?",
                )
                .bind(error)
                .bind(account.0)
                .execute(&self.writes)
                .await?
            }
        };
        Ok(())
    }

    /// Poll health of every account.
    ///
    /// # Errors
    /// A database error.
    pub async fn account_health(&self) -> Result<Vec<AccountHealth>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.name, a.platform, a.last_attempt_at, a.last_success_at, a.fail_count,
                    a.last_error, a.next_poll_at, a.quota_kind, a.quota_used, a.quota_limit,
                    a.quota_resets_at, a.deferred_posts,
                    t.account_id, t.refreshable, t.expires_at, t.refreshed_at, t.dead_reason
             FROM accounts a LEFT JOIN account_tokens t ON t.account_id = a.id
             ORDER BY a.name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(AccountHealth {
                    name: row.try_get(0)?,
                    platform: row.try_get(1)?,
                    last_attempt_at: row.try_get(2)?,
                    last_success_at: row.try_get(3)?,
                    fail_count: row.try_get(4)?,
                    last_error: row.try_get(5)?,
                    next_poll_at: row.try_get(6)?,
                    quota: super::schedule::quota_from_columns(
                        row.try_get::<Option<String>, _>(7)?.as_deref(),
                        row.try_get(8)?,
                        row.try_get(9)?,
                        row.try_get(10)?,
                    )?,
                    deferred_posts: row.try_get(11)?,
                    token: token_health(&row)?,
                })
            })
            .collect()
    }
}

/// The token columns of an [`Store::account_health`] row (`NULL`s when the account has no row).
fn token_health(row: &sqlx::sqlite::SqliteRow) -> Result<Option<super::TokenHealth>, StoreError> {
    if row.try_get::<Option<i64>, _>(12)?.is_none() {
        return Ok(None);
    }
    let at = |i: usize| -> Result<Option<DateTime<Utc>>, StoreError> {
        row.try_get::<Option<i64>, _>(i)?
            .map(|t| super::from_unix("account_tokens", t))
            .transpose()
    };
    Ok(Some(super::TokenHealth {
        refreshable: row.try_get::<Option<i64>, _>(13)?.unwrap_or(0) != 0,
        expires_at: at(14)?,
        refreshed_at: at(15)?,
        dead_reason: row.try_get(16)?,
    }))
}
