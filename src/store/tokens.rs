//! Per-account token state: the access token a refresh produced, its expiry, and whether the token
//! is dead. Persisted so that a restarted worker keeps using a refreshed token instead of the
//! exported one, which may have expired in the meantime.

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use sqlx::Row;

use super::{AccountKey, Store, StoreError, from_unix, to_unix};

/// The stored token state of one account.
#[derive(Debug, Clone, Default)]
pub struct TokenRecord {
    /// SHA-256 (hex) of the exported tokens this state grew from.
    pub seed_fingerprint: String,
    /// SHA-256 (hex) of the refresh settings (client credentials, token URL, refresh mode) the
    /// state was last used with; `None` for a row older than this field.
    pub config_fingerprint: Option<String>,
    /// The worker renews this token itself.
    pub refreshable: bool,
    /// The access token from the last refresh; `None` while the exported one is in use.
    pub access_token: Option<SecretString>,
    /// A refresh token the platform rotated; `None` while the exported one is in use.
    pub refresh_token: Option<SecretString>,
    pub expires_at: Option<DateTime<Utc>>,
    pub issued_at: Option<DateTime<Utc>>,
    pub refreshed_at: Option<DateTime<Utc>>,
    /// Why the token can no longer be renewed, with what to do about it.
    pub dead_reason: Option<String>,
    pub dead_at: Option<DateTime<Utc>>,
}

/// What `triage status` and the digest show of a token; never the token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenHealth {
    pub refreshable: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub refreshed_at: Option<DateTime<Utc>>,
    pub dead_reason: Option<String>,
}

impl Store {
    /// The stored token state of an account, if any.
    ///
    /// # Errors
    /// A database error, or a timestamp out of range.
    pub async fn load_token(&self, account: AccountKey) -> Result<Option<TokenRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT seed_fingerprint, refreshable, access_token, refresh_token, expires_at,
                    issued_at, refreshed_at, dead_reason, dead_at, config_fingerprint
             FROM account_tokens WHERE account_id = ?",
        )
        .bind(account.0)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let at = |i: usize| -> Result<Option<DateTime<Utc>>, StoreError> {
            row.try_get::<Option<i64>, _>(i)?
                .map(|t| from_unix("account_tokens", t))
                .transpose()
        };
        let secret = |i: usize| -> Result<Option<SecretString>, StoreError> {
            Ok(row.try_get::<Option<String>, _>(i)?.map(SecretString::from))
        };
        Ok(Some(TokenRecord {
            seed_fingerprint: row.try_get(0)?,
            refreshable: row.try_get::<i64, _>(1)? != 0,
            access_token: secret(2)?,
            refresh_token: secret(3)?,
            expires_at: at(4)?,
            issued_at: at(5)?,
            refreshed_at: at(6)?,
            dead_reason: row.try_get(7)?,
            dead_at: at(8)?,
            config_fingerprint: row.try_get(9)?,
        }))
    }

    /// Replaces the stored token state of an account.
    ///
    /// # Errors
    /// A database error.
    pub async fn save_token(
        &self,
        account: AccountKey,
        record: &TokenRecord,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO account_tokens (account_id, seed_fingerprint, refreshable, access_token,
                                         refresh_token, expires_at, issued_at, refreshed_at,
                                         dead_reason, dead_at, config_fingerprint)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (account_id) DO UPDATE SET
                 seed_fingerprint = excluded.seed_fingerprint,
                 refreshable = excluded.refreshable,
                 access_token = excluded.access_token,
                 refresh_token = excluded.refresh_token,
                 expires_at = excluded.expires_at,
                 issued_at = excluded.issued_at,
                 refreshed_at = excluded.refreshed_at,
                 dead_reason = excluded.dead_reason,
                 dead_at = excluded.dead_at,
                 config_fingerprint = excluded.config_fingerprint",
        )
        .bind(account.0)
        .bind(&record.seed_fingerprint)
        .bind(i64::from(record.refreshable))
        .bind(
            record
                .access_token
                .as_ref()
                .map(|t| t.expose_secret().to_owned()),
        )
        .bind(
            record
                .refresh_token
                .as_ref()
                .map(|t| t.expose_secret().to_owned()),
        )
        .bind(record.expires_at.map(to_unix))
        .bind(record.issued_at.map(to_unix))
        .bind(record.refreshed_at.map(to_unix))
        .bind(&record.dead_reason)
        .bind(record.dead_at.map(to_unix))
        .bind(&record.config_fingerprint)
        .execute(&self.writes)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Platform;

    #[tokio::test]
    async fn a_refreshed_token_survives_a_reopen_and_shows_in_health() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = Store::open(&path).await.unwrap();
        let key = store
            .upsert_account(Platform::Youtube, "UC1", "mia_yt", "mia")
            .await
            .unwrap();
        assert!(store.load_token(key).await.unwrap().is_none());
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let record = TokenRecord {
            seed_fingerprint: "ab12".into(),
            config_fingerprint: Some("cd34".into()),
            refreshable: true,
            access_token: Some(SecretString::from("ya29.refreshed")),
            refresh_token: None,
            expires_at: Some(at + chrono::Duration::hours(1)),
            issued_at: Some(at),
            refreshed_at: Some(at),
            dead_reason: None,
            dead_at: None,
        };
        store.save_token(key, &record).await.unwrap();
        store.close().await;

        let store = Store::open(&path).await.unwrap();
        let loaded = store.load_token(key).await.unwrap().unwrap();
        assert_eq!(loaded.seed_fingerprint, "ab12");
        assert_eq!(loaded.config_fingerprint.as_deref(), Some("cd34"));
        assert_eq!(
            loaded.access_token.unwrap().expose_secret(),
            "ya29.refreshed"
        );
        assert_eq!(loaded.expires_at, record.expires_at);
        let health = store.account_health().await.unwrap();
        assert_eq!(
            health[0].token,
            Some(TokenHealth {
                refreshable: true,
                expires_at: record.expires_at,
                refreshed_at: Some(at),
                dead_reason: None,
            })
        );
    }
}
