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

/// One post of a listing as [`UPSERT_LISTING`] reads it.
#[derive(serde::Serialize)]
struct ListedPost<'a> {
    id: &'a str,
    caption: &'a str,
    permalink: Option<&'a str>,
    created_at: i64,
    count: Option<u64>,
    campaigns: &'a [String],
}

/// A listing's posts (`?` 1–2: account, listing), their campaigns (3–4: listing, account), then
/// their keys in the listing's order (5–6: listing, account). `WHERE true` tells SQLite's parser
/// that `ON CONFLICT` is the upsert's, not a join's.
const UPSERT_LISTING: &str = "
INSERT INTO posts (account_id, external_id, caption, permalink, created_at, comments_count)
SELECT ?, post.value ->> 'id', post.value ->> 'caption', post.value ->> 'permalink',
       post.value ->> 'created_at', post.value ->> 'count'
FROM json_each(?) AS post WHERE true
ON CONFLICT (account_id, external_id) DO UPDATE
    SET caption = excluded.caption, permalink = excluded.permalink,
        comments_count = excluded.comments_count
    WHERE posts.caption IS NOT excluded.caption
       OR posts.permalink IS NOT excluded.permalink
       OR posts.comments_count IS NOT excluded.comments_count;
INSERT INTO post_campaigns (post_id, campaign)
SELECT posts.id, campaign.value
FROM json_each(?) AS post, json_each(post.value -> 'campaigns') AS campaign
JOIN posts ON posts.account_id = ? AND posts.external_id = post.value ->> 'id'
WHERE true
ON CONFLICT DO NOTHING;
SELECT posts.id
FROM json_each(?) AS post
JOIN posts ON posts.account_id = ? AND posts.external_id = post.value ->> 'id'
ORDER BY post.key;
";

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

    /// Stores the posts of one listing and which campaigns each belongs to, returning their keys
    /// in the listing's order. A post whose caption and count did not change is not written.
    ///
    /// The listing travels as one JSON parameter of one query (three statements: the posts, their
    /// campaigns, their keys), so the write lock is held for three round trips to SQLite's
    /// thread, not three per post.
    ///
    /// # Errors
    /// A database error; nothing of the listing is stored then.
    pub async fn upsert_posts(
        &self,
        account: AccountKey,
        posts: &[(Media, Vec<String>)],
    ) -> Result<Vec<PostKey>, StoreError> {
        let listing: Vec<ListedPost<'_>> = posts
            .iter()
            .map(|(media, campaigns)| ListedPost {
                id: &media.external_id,
                caption: &media.caption,
                permalink: media.permalink.as_deref(),
                created_at: to_unix(media.created_at),
                count: media.comments_count,
                campaigns,
            })
            .collect();
        let listing = serde_json::to_string(&listing).expect("strings and integers encode as JSON");
        self.write_detached(move |store| async move {
            let mut tx = store.begin_write().await?;
            let keys: Vec<i64> = sqlx::query_scalar(UPSERT_LISTING)
                .bind(account.0)
                .bind(&listing)
                .bind(&listing)
                .bind(account.0)
                .bind(&listing)
                .bind(account.0)
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(keys.into_iter().map(PostKey).collect())
        })
        .await
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
        let at = to_unix(at);
        self.write_detached(move |store| async move {
            sqlx::query("UPDATE accounts SET last_attempt_at = ? WHERE id = ?")
                .bind(at)
                .bind(account.0)
                .execute(&store.writes)
                .await?;
            Ok(())
        })
        .await
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
        let at = to_unix(at);
        let error = error.map(str::to_owned);
        self.write_detached(move |store| async move {
            match error {
                None => {
                    sqlx::query(
                        "UPDATE accounts SET last_success_at = ?, fail_count = 0, last_error = NULL
                         WHERE id = ?",
                    )
                    .bind(at)
                    .bind(account.0)
                    .execute(&store.writes)
                    .await?
                }
                Some(error) => {
                    sqlx::query(
                        "UPDATE accounts SET fail_count = fail_count + 1, last_error = ?
                         WHERE id = ?",
                    )
                    .bind(error)
                    .bind(account.0)
                    .execute(&store.writes)
                    .await?
                }
            };
            Ok(())
        })
        .await
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

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn media(id: &str, caption: &str, count: Option<u64>, now: DateTime<Utc>) -> Media {
        Media {
            external_id: id.into(),
            caption: caption.into(),
            permalink: Some(format!("https://example.test/p/{id}")),
            created_at: now - Duration::hours(1),
            comments_count: count,
        }
    }

    /// One listing is one query: keys come back in the listing's order (a post listed twice
    /// included), a second listing keeps the keys, stores what changed and adds campaigns
    /// without repeating the ones stored.
    #[tokio::test]
    async fn a_listing_stores_its_posts_and_campaigns_and_returns_keys_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let store = Store::open(&dir.path().join("t.db")).await.unwrap();
        let account = store
            .upsert_account(Platform::Instagram, "1784", "ann", "ann")
            .await
            .unwrap();
        let first = store
            .upsert_posts(
                account,
                &[
                    (
                        media("p1", "#ad serum", Some(3), now),
                        vec!["spring".into(), "glow".into()],
                    ),
                    (media("p2", "#ad \"quoted\" 👩🏽‍💻", None, now), vec![]),
                ],
            )
            .await
            .unwrap();
        assert_eq!(first.len(), 2);
        assert_ne!(first[0], first[1]);

        let second = store
            .upsert_posts(
                account,
                &[
                    (
                        media("p2", "#ad edited", Some(7), now),
                        vec!["summer".into()],
                    ),
                    (
                        media("p1", "#ad serum", Some(3), now),
                        vec!["spring".into()],
                    ),
                    (media("p3", "#ad new", Some(0), now), vec![]),
                    (
                        media("p1", "#ad serum", Some(3), now),
                        vec!["spring".into()],
                    ),
                ],
            )
            .await
            .unwrap();
        assert_eq!(second[0], first[1]);
        assert_eq!(second[1], first[0]);
        assert_eq!(second[3], first[0]);
        assert!(!first.contains(&second[2]));

        let posts: Vec<(String, String, Option<String>, Option<i64>)> = sqlx::query_as(
            "SELECT external_id, caption, permalink, comments_count FROM posts ORDER BY external_id",
        )
        .fetch_all(&store.pool)
        .await
        .unwrap();
        assert_eq!(
            posts,
            vec![
                (
                    "p1".into(),
                    "#ad serum".into(),
                    Some("https://example.test/p/p1".into()),
                    Some(3)
                ),
                (
                    "p2".into(),
                    "#ad edited".into(),
                    Some("https://example.test/p/p2".into()),
                    Some(7)
                ),
                (
                    "p3".into(),
                    "#ad new".into(),
                    Some("https://example.test/p/p3".into()),
                    Some(0)
                ),
            ]
        );
        let campaigns: Vec<(String, String)> = sqlx::query_as(
            "SELECT p.external_id, pc.campaign FROM post_campaigns pc JOIN posts p ON p.id = pc.post_id
             ORDER BY p.external_id, pc.campaign",
        )
        .fetch_all(&store.pool)
        .await
        .unwrap();
        assert_eq!(
            campaigns,
            vec![
                ("p1".into(), "glow".into()),
                ("p1".into(), "spring".into()),
                ("p2".into(), "summer".into()),
            ]
        );
        store.close().await;
    }
}
