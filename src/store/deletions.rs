//! Comments a walk proves deleted without reading every page.
//!
//! Platforms list top-level comments newest first, each with its whole thread. A walk that read
//! from the newest page down to some top-level comment has therefore seen every comment still on
//! the platform in the threads newer than that one: a stored comment of those threads that it did
//! not see is gone. That explains a comment count that moved by less than a walk found, without a
//! full walk, when the deletions were recent (most are: spam is removed within hours).

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::{PostKey, Store, StoreError, to_unix};

impl Store {
    /// Marks deleted, as of `at`, the post's live comments of the threads whose top-level comment
    /// is newer than `newer_than` and that are not in `seen`. Returns how many were marked.
    ///
    /// # Errors
    /// A database error.
    pub async fn mark_missing_deleted_newer_than(
        &self,
        post: PostKey,
        seen: &HashSet<String>,
        newer_than: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let since = to_unix(newer_than);
        let stored: Vec<(i64, String)> = sqlx::query_as(
            "SELECT id, external_id FROM comments
             WHERE post_id = ? AND deleted_at IS NULL
               AND ((parent_external_id IS NULL AND created_at > ?)
                    OR parent_external_id IN (
                        SELECT external_id FROM comments
                        WHERE post_id = ? AND parent_external_id IS NULL AND created_at > ?))",
        )
        .bind(post.0)
        .bind(since)
        .bind(post.0)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        self.mark_unseen_deleted(post, stored, seen, at).await
    }
}
