//! What the polling schedule remembers between cycles and restarts: when each post was last
//! walked, and each account's next poll and quota.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Row, Sqlite};

use super::{AccountKey, PostKey, Store, StoreError, WalkState, from_unix, to_unix};
use crate::domain::QuotaReading;

/// A post's walk state with the times the schedule spaces walks by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostSchedule {
    pub walk: WalkState,
    /// When a walk of the post last completed.
    pub last_walked_at: Option<DateTime<Utc>>,
    /// When a full walk (every page) of the post last completed.
    pub last_full_walk_at: Option<DateTime<Utc>>,
    /// Comments the platform announced that no walk has found yet.
    pub missing_comments: u64,
    /// When a walk last went past the watermark to look for them.
    pub last_search_at: Option<DateTime<Utc>>,
    /// Comments new to the store since the count was last reconciled, less those marked deleted
    /// since: what walks interrupted since then (by a kill, a shutdown, a failed request) already
    /// found and proved gone. Negative when the deletions outnumber the finds.
    pub found_since_settled: i64,
}

impl PostSchedule {
    /// Some walk of this post has completed (a watermark alone says so for databases written
    /// before the schedule existed; an empty post has none, but a walk time).
    pub fn ever_completed(&self) -> bool {
        self.last_walked_at.is_some()
            || self.walk.watermark.is_some()
            || self.walk.reconciled_count.is_some()
    }
}

/// How a completed walk left a post.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalkRecord {
    /// The platform's count the store now accounts for (`None`: the platform gives none).
    pub count: Option<u64>,
    /// Comments of that count no walk has found yet.
    pub missing: u64,
    /// The walk read every page.
    pub full: bool,
    /// The walk went past the watermark to look for missing comments.
    pub searched: bool,
}

/// The schedule's view of one account.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AccountSchedule {
    pub next_poll_at: Option<DateTime<Utc>>,
    pub quota: QuotaReading,
    /// Posts due in the last cycle that the budget pushed to a later one.
    pub deferred_posts: u64,
}

fn time(table: &'static str, secs: Option<i64>) -> Result<Option<DateTime<Utc>>, StoreError> {
    secs.map(|s| from_unix(table, s)).transpose()
}

/// Stored columns → a quota reading (unknown kinds and missing values read as unknown).
pub(super) fn quota_from_columns(
    kind: Option<&str>,
    used: Option<i64>,
    limit: Option<i64>,
    resets_at: Option<i64>,
) -> Result<QuotaReading, StoreError> {
    Ok(match (kind, used, limit, resets_at) {
        (Some("units"), Some(used), Some(limit), Some(resets_at)) => QuotaReading::Units {
            used: used.max(0) as u64,
            limit: limit.max(0) as u64,
            resets_at: from_unix("accounts", resets_at)?,
            per_page: 1,
        },
        (Some("percent"), Some(used), _, _) => QuotaReading::UsagePercent {
            percent: used.clamp(0, 100) as u8,
        },
        _ => QuotaReading::Unknown,
    })
}

impl Store {
    /// The schedule state of each given post (posts never walked get the default).
    ///
    /// # Errors
    /// A database error.
    pub async fn post_schedules(
        &self,
        posts: &[PostKey],
    ) -> Result<HashMap<PostKey, PostSchedule>, StoreError> {
        let mut out = HashMap::with_capacity(posts.len());
        for chunk in posts.chunks(500) {
            let mut query = QueryBuilder::<Sqlite>::new(
                "SELECT post_id, watermark, walk_after, walk_newest, reconciled_count,
                        last_walked_at, last_full_walk_at, missing_comments, last_search_at,
                        found_since_settled
                 FROM poll_state WHERE post_id IN (",
            );
            let mut ids = query.separated(", ");
            for post in chunk {
                ids.push_bind(post.0);
            }
            query.push(")");
            for row in query.build().fetch_all(&self.pool).await? {
                let post = PostKey(row.try_get(0)?);
                let schedule = PostSchedule {
                    walk: WalkState {
                        watermark: time("poll_state", row.try_get(1)?)?,
                        resume_after: row.try_get(2)?,
                        walk_newest: time("poll_state", row.try_get(3)?)?,
                        reconciled_count: row
                            .try_get::<Option<i64>, _>(4)?
                            .map(|c| c.max(0) as u64),
                    },
                    last_walked_at: time("poll_state", row.try_get(5)?)?,
                    last_full_walk_at: time("poll_state", row.try_get(6)?)?,
                    missing_comments: row.try_get::<i64, _>(7)?.max(0) as u64,
                    last_search_at: time("poll_state", row.try_get(8)?)?,
                    found_since_settled: row.try_get::<i64, _>(9)?,
                };
                out.insert(post, schedule);
            }
        }
        Ok(out)
    }

    /// Records how a walk of the post that completed at `at` left it: `count` is the platform's
    /// count the store now accounts for, `missing` how many of those no walk has found yet. What
    /// walks found since the last settlement is accounted for by these, so its tally restarts.
    ///
    /// # Errors
    /// A database error.
    pub async fn record_walk(
        &self,
        post: PostKey,
        at: DateTime<Utc>,
        walk: &WalkRecord,
    ) -> Result<(), StoreError> {
        let (count, missing, at, full, searched) = (
            walk.count.map(|c| c as i64),
            walk.missing as i64,
            to_unix(at),
            walk.full,
            walk.searched,
        );
        self.write_detached(move |store| async move {
            sqlx::query(
                "INSERT INTO poll_state (post_id, reconciled_count, missing_comments, last_walked_at,
                                         last_full_walk_at, last_search_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, CASE WHEN ?5 THEN ?4 END, CASE WHEN ?6 THEN ?4 END, ?4)
                 ON CONFLICT (post_id) DO UPDATE
                     SET reconciled_count = COALESCE(excluded.reconciled_count,
                                                     poll_state.reconciled_count),
                         missing_comments = excluded.missing_comments,
                         found_since_settled = 0,
                         last_walked_at = excluded.last_walked_at,
                         last_full_walk_at = COALESCE(excluded.last_full_walk_at,
                                                      poll_state.last_full_walk_at),
                         last_search_at = COALESCE(excluded.last_search_at, poll_state.last_search_at)",
            )
            .bind(post.0)
            .bind(count)
            .bind(missing)
            .bind(at)
            .bind(full)
            .bind(searched)
            .execute(&store.writes)
            .await?;
            Ok(())
        })
        .await
    }

    /// Stores the account's next poll time, quota and deferred posts after a cycle.
    ///
    /// # Errors
    /// A database error.
    pub async fn record_account_schedule(
        &self,
        account: AccountKey,
        schedule: &AccountSchedule,
    ) -> Result<(), StoreError> {
        let (kind, used, limit, resets_at) = match schedule.quota {
            QuotaReading::Unknown => (None, None, None, None),
            QuotaReading::Units {
                used,
                limit,
                resets_at,
                ..
            } => (
                Some("units"),
                Some(used as i64),
                Some(limit as i64),
                Some(to_unix(resets_at)),
            ),
            QuotaReading::UsagePercent { percent } => {
                (Some("percent"), Some(i64::from(percent)), Some(100), None)
            }
        };
        let (next_poll_at, deferred) = (
            schedule.next_poll_at.map(to_unix),
            schedule.deferred_posts as i64,
        );
        self.write_detached(move |store| async move {
            sqlx::query(
                "UPDATE accounts SET next_poll_at = ?, quota_kind = ?, quota_used = ?, quota_limit = ?,
                                     quota_resets_at = ?, deferred_posts = ?
                 WHERE id = ?",
            )
            .bind(next_poll_at)
            .bind(kind)
            .bind(used)
            .bind(limit)
            .bind(resets_at)
            .bind(deferred)
            .bind(account.0)
            .execute(&store.writes)
            .await?;
            Ok(())
        })
        .await
    }

    /// The account's schedule as last stored (so a restart keeps YouTube's units spent today).
    ///
    /// # Errors
    /// A database error.
    pub async fn account_schedule(
        &self,
        account: AccountKey,
    ) -> Result<AccountSchedule, StoreError> {
        let row = sqlx::query(
            "SELECT next_poll_at, quota_kind, quota_used, quota_limit, quota_resets_at,
                    deferred_posts
             FROM accounts WHERE id = ?",
        )
        .bind(account.0)
        .fetch_one(&self.pool)
        .await?;
        Ok(AccountSchedule {
            next_poll_at: time("accounts", row.try_get(0)?)?,
            quota: quota_from_columns(
                row.try_get::<Option<String>, _>(1)?.as_deref(),
                row.try_get(2)?,
                row.try_get(3)?,
                row.try_get(4)?,
            )?,
            deferred_posts: row.try_get::<i64, _>(5)?.max(0) as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use chrono::Utc;

    use super::*;
    use crate::store::WalkProgress;
    use crate::store::fixtures::{comment, store_with_posts};

    async fn found_since_settled(store: &Store, post: PostKey) -> i64 {
        store.post_schedules(&[post]).await.unwrap()[&post].found_since_settled
    }

    /// The tally a restarted worker reads to know what its killed predecessor found: it grows with
    /// every page that stores new comments (repeats do not count) and restarts when a walk
    /// settles the post.
    #[tokio::test]
    async fn comments_found_are_counted_with_their_pages_until_the_post_is_settled() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let (store, posts) = store_with_posts(dir.path(), now, &["1801"]).await;
        let post = posts[0];
        let first_page = [comment("11", now), comment("12", now)];
        let after = WalkProgress::Continue {
            after: "c1".into(),
            walk_newest: Some(now),
        };
        store
            .save_comment_page(post, &first_page, &after, now)
            .await
            .unwrap();
        // A killed run leaves exactly this; the restart re-reads the page it was killed on.
        store
            .save_comment_page(post, &first_page, &after, now)
            .await
            .unwrap();
        assert_eq!(found_since_settled(&store, post).await, 2);
        let done = WalkProgress::Complete {
            watermark: Some(now),
            read_every_page: false,
        };
        store
            .save_comment_page(post, &[comment("13", now)], &done, now)
            .await
            .unwrap();
        store
            .save_comment_page(post, &[comment("14", now)], &WalkProgress::Unchanged, now)
            .await
            .unwrap();
        assert_eq!(found_since_settled(&store, post).await, 4);

        let settled = WalkRecord {
            count: Some(4),
            ..WalkRecord::default()
        };
        store.record_walk(post, now, &settled).await.unwrap();
        assert_eq!(found_since_settled(&store, post).await, 0);
        store.close().await;
    }

    /// Deletions a walk proves leave the tally in the transaction that marks them: a run killed
    /// after marking and before settling leaves its successor a tally that still balances the
    /// platform's count, which dropped with them (else a new reply elsewhere would hide behind
    /// each deletion until the next full walk).
    #[tokio::test]
    async fn deletions_marked_before_a_kill_leave_the_tally() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let (store, posts) = store_with_posts(dir.path(), now, &["1801"]).await;
        let post = posts[0];
        let done = WalkProgress::Complete {
            watermark: Some(now),
            read_every_page: true,
        };
        let page = [comment("11", now), comment("12", now), comment("13", now)];
        store
            .save_comment_page(post, &page, &done, now)
            .await
            .unwrap();
        let settled = WalkRecord {
            count: Some(3),
            ..WalkRecord::default()
        };
        store.record_walk(post, now, &settled).await.unwrap();
        assert_eq!(found_since_settled(&store, post).await, 0);

        // The next walk finds one new comment and sees that two are gone, then is killed.
        let later = now + chrono::Duration::minutes(5);
        store
            .save_comment_page(post, &[comment("14", later)], &done, later)
            .await
            .unwrap();
        let seen: HashSet<String> = ["11", "14"].map(String::from).into();
        let gone = store
            .mark_missing_deleted_newer_than(post, &seen, now - chrono::Duration::hours(1), later)
            .await
            .unwrap();
        assert_eq!(gone, 2);
        assert_eq!(
            found_since_settled(&store, post).await,
            1 - 2,
            "one found, two gone"
        );
        store.close().await;
    }

    /// A walk that read every page says so with its last page: a worker killed before it settles
    /// the post does not leave a finished backfill looking never read in full.
    #[tokio::test]
    async fn the_last_page_of_a_walk_that_read_every_page_records_a_full_walk() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let (store, posts) = store_with_posts(dir.path(), now, &["1801", "1802"]).await;
        for (post, read_every_page) in posts.iter().zip([true, false]) {
            let done = WalkProgress::Complete {
                watermark: Some(now),
                read_every_page,
            };
            store
                .save_comment_page(*post, &[comment(&format!("1{}", post.0), now)], &done, now)
                .await
                .unwrap();
        }
        let schedules = store.post_schedules(&posts).await.unwrap();
        let full_at = |post| schedules[post].last_full_walk_at.map(|at| at.timestamp());
        assert_eq!(full_at(&posts[0]), Some(now.timestamp()));
        assert_eq!(
            full_at(&posts[1]),
            None,
            "a walk that stopped at the watermark"
        );
        store.close().await;
    }
}
