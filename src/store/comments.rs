//! Comments, the walk state of each post, and the derivation of "answered".

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use regex::Regex;
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};

use super::{PostKey, Store, StoreError, from_unix, to_unix};
use crate::domain::{AuthorRole, Comment, Verdict};

/// A comment with the classifier's verdict, ready to store.
#[derive(Debug, Clone)]
pub struct ClassifiedComment {
    pub comment: Comment,
    pub verdict: Verdict,
}

/// Where the comment walk of one post stands, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalkState {
    /// Newest comment time seen by the last complete walk; `None` before the first one completes.
    pub watermark: Option<DateTime<Utc>>,
    /// Cursor of the next page of an interrupted walk.
    pub resume_after: Option<String>,
    /// Newest comment time the interrupted walk has seen so far.
    pub walk_newest: Option<DateTime<Utc>>,
    /// The platform's comment count when every comment it announced was last accounted for.
    pub reconciled_count: Option<u64>,
}

/// What a stored page does to the walk state of its post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalkProgress {
    /// More pages follow: resume from `after` if the walk is interrupted. `walk_newest` is the
    /// newest comment time this walk has seen so far, the watermark it will set when it completes.
    Continue {
        after: String,
        walk_newest: Option<DateTime<Utc>>,
    },
    /// The walk reached comments it already had (or the end of the list): the watermark becomes
    /// the newest comment time known for the post. `read_every_page`: the walk (resumed or not)
    /// went from the newest page to the platform's last one; recorded with the page, so a kill
    /// before the post is settled does not leave a finished backfill looking never read in full
    /// (and due for a full walk at once).
    Complete {
        watermark: Option<DateTime<Utc>>,
        read_every_page: bool,
    },
    /// A thread refresh outside any walk: the walk state stays as it is.
    Unchanged,
}

/// What one stored page changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageWriteOutcome {
    pub inserted: u64,
    pub updated: u64,
    /// Questions that this page resolved as answered.
    pub answered: u64,
}

/// Columns bound per inserted comment; SQLite allows 32,766 bound values per statement.
const INSERT_COLUMNS: usize = 16;
const ROWS_PER_INSERT: usize = 32_000 / INSERT_COLUMNS;

static MENTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"@([A-Za-z0-9._]{1,30})").expect("mention pattern compiles"));

/// Lower-cased handles mentioned in a text (`@Maple.Mia,` → `maple.mia`).
fn mentioned_handles(text: &str) -> Vec<String> {
    let mut handles: Vec<String> = MENTION
        .captures_iter(text)
        .map(|c| c[1].trim_end_matches('.').to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    handles.sort();
    handles.dedup();
    handles
}

impl Store {
    /// The stored walk state of a post.
    ///
    /// # Errors
    /// A database error.
    pub async fn walk_state(&self, post: PostKey) -> Result<WalkState, StoreError> {
        let row = sqlx::query(
            "SELECT watermark, walk_after, walk_newest, reconciled_count FROM poll_state
             WHERE post_id = ?",
        )
        .bind(post.0)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(WalkState::default());
        };
        let time = |v: Option<i64>| v.map(|s| from_unix("poll_state", s)).transpose();
        Ok(WalkState {
            watermark: time(row.try_get(0)?)?,
            resume_after: row.try_get(1)?,
            walk_newest: time(row.try_get(2)?)?,
            reconciled_count: row.try_get::<Option<i64>, _>(3)?.map(|c| c.max(0) as u64),
        })
    }

    /// Stores one page of comments of a post, the walk progress it represents, and the questions it
    /// answers, in one transaction.
    ///
    /// New comments are inserted; known ones are updated only when their text or visibility changed
    /// (an edit is re-classified by the caller and keeps its first-seen time).
    ///
    /// # Errors
    /// A database error; nothing of the page is stored then.
    pub async fn save_comment_page(
        &self,
        post: PostKey,
        comments: &[ClassifiedComment],
        progress: &WalkProgress,
        seen_at: DateTime<Utc>,
    ) -> Result<PageWriteOutcome, StoreError> {
        let mut tx = self.begin_write().await?;
        let outcome = write_page(&mut tx, post, comments, progress, seen_at).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Records that the store accounts for every comment the platform announced when its count
    /// was `count`. Only a hint for when to re-read old threads: losing it costs a re-read.
    ///
    /// # Errors
    /// A database error.
    pub async fn set_reconciled_count(&self, post: PostKey, count: u64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE poll_state SET reconciled_count = ?
             WHERE post_id = ? AND reconciled_count IS NOT ?",
        )
        .bind(count as i64)
        .bind(post.0)
        .bind(count as i64)
        .execute(&self.writes)
        .await?;
        Ok(())
    }

    /// Marks as deleted the post's comments that a complete walk (`seen`: every comment and reply
    /// it read) no longer found. They stay stored for the audit trail and leave digests.
    ///
    /// # Errors
    /// A database error.
    pub async fn mark_missing_deleted(
        &self,
        post: PostKey,
        seen: &HashSet<String>,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let stored: Vec<(i64, String)> = sqlx::query_as(
            "SELECT id, external_id FROM comments WHERE post_id = ? AND deleted_at IS NULL",
        )
        .bind(post.0)
        .fetch_all(&self.pool)
        .await?;
        self.mark_unseen_deleted(stored, seen, at).await
    }

    /// Marks deleted, as of `at`, the `stored` comments (row id, platform id) that a walk did not
    /// see. Returns how many.
    pub(super) async fn mark_unseen_deleted(
        &self,
        stored: Vec<(i64, String)>,
        seen: &HashSet<String>,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let gone: Vec<i64> = stored
            .into_iter()
            .filter(|(_, id)| !seen.contains(id))
            .map(|(row, _)| row)
            .collect();
        if gone.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin_write().await?;
        for row in &gone {
            sqlx::query("UPDATE comments SET deleted_at = ? WHERE id = ?")
                .bind(to_unix(at))
                .bind(row)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(gone.len() as u64)
    }

    /// Open (unanswered) product questions of these posts created since `since`, as
    /// `(post, comment's platform id)`: their threads are re-read when the post's count says
    /// comments landed in older threads, so an answer written there is noticed without walking
    /// the whole post. Other questions' answers are found by that walk's deeper search.
    ///
    /// # Errors
    /// A database error.
    pub async fn open_threads(
        &self,
        posts: &[PostKey],
        since: DateTime<Utc>,
    ) -> Result<Vec<(PostKey, String)>, StoreError> {
        let mut out = Vec::new();
        for post in posts {
            let ids: Vec<String> = sqlx::query_scalar(
                "SELECT external_id FROM comments
                 WHERE post_id = ? AND parent_external_id IS NULL AND answered_at IS NULL
                   AND deleted_at IS NULL AND author_role = 'audience'
                   AND label = 'product_question' AND created_at >= ?
                 ORDER BY created_at",
            )
            .bind(post.0)
            .bind(to_unix(since))
            .fetch_all(&self.pool)
            .await?;
            out.extend(ids.into_iter().map(|id| (*post, id)));
        }
        Ok(out)
    }
}

/// One page's writes inside a transaction the caller owns (one page, or a group of pages from
/// [`super::PageWriter`]).
pub(super) async fn write_page(
    tx: &mut Transaction<'_, Sqlite>,
    post: PostKey,
    comments: &[ClassifiedComment],
    progress: &WalkProgress,
    seen_at: DateTime<Utc>,
) -> Result<PageWriteOutcome, StoreError> {
    let mut outcome = PageWriteOutcome::default();
    let known = known_comments(tx, post, comments).await?;
    let mut fresh = Vec::new();
    let mut changed = Vec::new();
    for item in comments {
        let c = &item.comment;
        match known.get(c.external_id.as_str()) {
            None => fresh.push(item),
            Some(known) if known.text != c.text || known.hidden != c.hidden || known.deleted => {
                update_comment(tx, post, item, seen_at).await?;
                changed.push(item);
            }
            Some(_) => {}
        }
    }
    outcome.updated = changed.len() as u64;
    // A page may repeat a comment (platform paging drift); insert it once.
    fresh.sort_by(|a, b| a.comment.external_id.cmp(&b.comment.external_id));
    fresh.dedup_by(|a, b| a.comment.external_id == b.comment.external_id);
    for chunk in fresh.chunks(ROWS_PER_INSERT) {
        insert_comments(tx, post, chunk, seen_at).await?;
    }
    outcome.inserted = fresh.len() as u64;
    insert_mentions(tx, post, &fresh).await?;

    save_progress(tx, post, progress, outcome.inserted, seen_at).await?;
    let answerable = AnswerCandidates::of(fresh.iter().chain(&changed).copied());
    outcome.answered = resolve_answers(tx, post, &answerable).await?;
    Ok(outcome)
}

/// What the store has of a comment, to decide whether a fresh copy changes anything.
struct KnownComment {
    text: String,
    hidden: bool,
    deleted: bool,
}

async fn known_comments(
    tx: &mut Transaction<'_, Sqlite>,
    post: PostKey,
    comments: &[ClassifiedComment],
) -> Result<HashMap<String, KnownComment>, StoreError> {
    let mut known = HashMap::new();
    for chunk in comments.chunks(ROWS_PER_INSERT) {
        let mut query = QueryBuilder::<Sqlite>::new(
            "SELECT external_id, text, hidden, deleted_at IS NOT NULL FROM comments WHERE post_id = ",
        );
        query.push_bind(post.0).push(" AND external_id IN (");
        let mut ids = query.separated(", ");
        for item in chunk {
            ids.push_bind(&item.comment.external_id);
        }
        query.push(")");
        for row in query.build().fetch_all(&mut **tx).await? {
            known.insert(
                row.try_get::<String, _>(0)?,
                KnownComment {
                    text: row.try_get(1)?,
                    hidden: row.try_get(2)?,
                    deleted: row.try_get(3)?,
                },
            );
        }
    }
    Ok(known)
}

async fn insert_comments(
    tx: &mut Transaction<'_, Sqlite>,
    post: PostKey,
    rows: &[&ClassifiedComment],
    seen_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut query = QueryBuilder::<Sqlite>::new(
        "INSERT INTO comments (post_id, external_id, parent_external_id, author_id, author_handle,
             author_role, text, hidden, created_at, first_seen_at, label, category, rule,
             overruled_rule, answered_at, answered_by) ",
    );
    query.push_values(rows, |mut row, item| {
        let c = &item.comment;
        let v = &item.verdict;
        row.push_bind(post.0)
            .push_bind(&c.external_id)
            .push_bind(&c.parent_id)
            .push_bind(&c.author_id)
            .push_bind(&c.author_handle)
            .push_bind(c.role.as_str())
            .push_bind(&c.text)
            .push_bind(c.hidden)
            .push_bind(to_unix(c.created_at))
            .push_bind(to_unix(seen_at))
            .push_bind(v.label.kind_str())
            .push_bind(v.label.category().map(|c| c.as_str()))
            .push_bind(v.rule.as_str())
            .push_bind(v.overruled.as_ref().map(|r| r.as_str().to_owned()))
            .push_bind(None::<i64>)
            .push_bind(None::<String>);
    });
    query.build().execute(&mut **tx).await?;
    Ok(())
}

async fn update_comment(
    tx: &mut Transaction<'_, Sqlite>,
    post: PostKey,
    item: &ClassifiedComment,
    seen_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let c = &item.comment;
    let v = &item.verdict;
    sqlx::query(
        "UPDATE comments
         SET edited_at = CASE WHEN text <> ? THEN ? ELSE edited_at END,
             text = ?, hidden = ?, label = ?, category = ?, rule = ?, overruled_rule = ?,
             deleted_at = NULL
         WHERE post_id = ? AND external_id = ?",
    )
    .bind(&c.text)
    .bind(to_unix(seen_at))
    .bind(&c.text)
    .bind(c.hidden)
    .bind(v.label.kind_str())
    .bind(v.label.category().map(|c| c.as_str()))
    .bind(v.rule.as_str())
    .bind(v.overruled.as_ref().map(|r| r.as_str()))
    .bind(post.0)
    .bind(&c.external_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The @mentions in the owner's and the brand's new comments, in one statement: a top-level
/// mention of an asker answers their question.
async fn insert_mentions(
    tx: &mut Transaction<'_, Sqlite>,
    post: PostKey,
    fresh: &[&ClassifiedComment],
) -> Result<(), StoreError> {
    let mentions: Vec<(&str, String)> = fresh
        .iter()
        .filter(|item| item.comment.role != AuthorRole::Audience)
        .flat_map(|item| {
            mentioned_handles(&item.comment.text)
                .into_iter()
                .map(|handle| (item.comment.external_id.as_str(), handle))
        })
        .collect();
    for chunk in mentions.chunks(ROWS_PER_INSERT) {
        let mut query = QueryBuilder::<Sqlite>::new(
            "INSERT INTO comment_mentions (post_id, comment_external_id, handle) ",
        );
        query.push_values(chunk, |mut row, (comment, handle)| {
            row.push_bind(post.0).push_bind(*comment).push_bind(handle);
        });
        query.push(" ON CONFLICT DO NOTHING");
        query.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// Records the walk progress of a page and adds its new comments to what the post's walks found
/// since it was last settled, in the page's transaction and one statement: a restarted worker then
/// knows both where its killed predecessor stopped and what it found.
async fn save_progress(
    tx: &mut Transaction<'_, Sqlite>,
    post: PostKey,
    progress: &WalkProgress,
    inserted: u64,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let found = inserted as i64;
    match progress {
        WalkProgress::Unchanged if inserted == 0 => {}
        WalkProgress::Unchanged => {
            sqlx::query(
                "INSERT INTO poll_state (post_id, found_since_settled, updated_at) VALUES (?, ?, ?)
                 ON CONFLICT (post_id) DO UPDATE
                     SET found_since_settled = poll_state.found_since_settled
                                               + excluded.found_since_settled",
            )
            .bind(post.0)
            .bind(found)
            .bind(to_unix(at))
            .execute(&mut **tx)
            .await?;
        }
        WalkProgress::Continue { after, walk_newest } => {
            sqlx::query(
                "INSERT INTO poll_state (post_id, walk_after, walk_newest, found_since_settled,
                                         updated_at)
                 VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT (post_id) DO UPDATE
                     SET walk_after = excluded.walk_after, walk_newest = excluded.walk_newest,
                         found_since_settled = poll_state.found_since_settled
                                               + excluded.found_since_settled,
                         updated_at = excluded.updated_at",
            )
            .bind(post.0)
            .bind(after)
            .bind(walk_newest.map(to_unix))
            .bind(found)
            .bind(to_unix(at))
            .execute(&mut **tx)
            .await?;
        }
        WalkProgress::Complete {
            watermark,
            read_every_page,
        } => {
            sqlx::query(
                "INSERT INTO poll_state (post_id, watermark, found_since_settled, last_full_walk_at,
                                         updated_at)
                 VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT (post_id) DO UPDATE
                     SET watermark = excluded.watermark, walk_after = NULL, walk_newest = NULL,
                         found_since_settled = poll_state.found_since_settled
                                               + excluded.found_since_settled,
                         last_full_walk_at = COALESCE(excluded.last_full_walk_at,
                                                      poll_state.last_full_walk_at),
                         updated_at = excluded.updated_at
                     WHERE poll_state.watermark IS NOT excluded.watermark
                        OR poll_state.walk_after IS NOT NULL
                        OR excluded.found_since_settled > 0
                        OR excluded.last_full_walk_at IS NOT NULL",
            )
            .bind(post.0)
            .bind(watermark.map(to_unix))
            .bind(found)
            .bind(read_every_page.then(|| to_unix(at)))
            .bind(to_unix(at))
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

/// The questions a page may have answered, so that resolving looks at those instead of every
/// open question of the post on every page.
#[derive(Debug, Default)]
struct AnswerCandidates {
    /// Top-level audience questions the page stored or changed (their answer may be stored
    /// already), and the threads in which the owner or the brand replied.
    questions: Vec<String>,
    /// The owner or the brand wrote a top-level comment: it may @mention any asker of the post.
    any_question: bool,
}

impl AnswerCandidates {
    fn of<'a>(stored: impl Iterator<Item = &'a ClassifiedComment>) -> AnswerCandidates {
        let mut candidates = AnswerCandidates::default();
        for item in stored {
            let c = &item.comment;
            match (&c.parent_id, c.role) {
                (None, AuthorRole::Audience) if item.verdict.label.is_question() => {
                    candidates.questions.push(c.external_id.clone());
                }
                (None, AuthorRole::Audience) => {}
                (None, _) => candidates.any_question |= MENTION.is_match(&c.text),
                (Some(_), AuthorRole::Audience) => {}
                (Some(parent), _) => candidates.questions.push(parent.clone()),
            }
        }
        candidates.questions.sort_unstable();
        candidates.questions.dedup();
        // Each id is bound twice; past SQLite's limit on bound values, look at every question.
        if candidates.questions.len() > ROWS_PER_INSERT * INSERT_COLUMNS / 4 {
            candidates.any_question = true;
        }
        candidates
    }

    fn is_empty(&self) -> bool {
        self.questions.is_empty() && !self.any_question
    }
}

/// Marks as answered the open questions of a post that now have an answer: the first reply in
/// their thread by the owner or the brand, or a later top-level comment of theirs that @mentions
/// the asker. Returns how many questions it resolved.
async fn resolve_answers(
    tx: &mut Transaction<'_, Sqlite>,
    post: PostKey,
    candidates: &AnswerCandidates,
) -> Result<u64, StoreError> {
    if candidates.is_empty() {
        return Ok(0);
    }
    let mut query = QueryBuilder::<Sqlite>::new(
        "SELECT q.id, r.created_at, r.author_handle, r.author_role
         FROM comments q
         JOIN comments r ON r.post_id = q.post_id AND r.parent_external_id = q.external_id
         WHERE q.post_id = ",
    );
    query.push_bind(post.0);
    push_question_scope(&mut query, candidates);
    query.push(
        " AND q.parent_external_id IS NULL AND q.answered_at IS NULL
           AND q.author_role = 'audience' AND q.label <> 'not_question'
           AND r.author_role <> 'audience'
         UNION ALL
         SELECT q.id, m.created_at, m.author_handle, m.author_role
         FROM comments q
         JOIN comment_mentions cm ON cm.post_id = q.post_id AND cm.handle = lower(q.author_handle)
         JOIN comments m ON m.post_id = cm.post_id AND m.external_id = cm.comment_external_id
         WHERE q.post_id = ",
    );
    query.push_bind(post.0);
    push_question_scope(&mut query, candidates);
    query.push(
        " AND q.parent_external_id IS NULL AND q.answered_at IS NULL
           AND q.author_role = 'audience' AND q.label <> 'not_question'
           AND m.parent_external_id IS NULL AND m.author_role <> 'audience'
           AND m.created_at >= q.created_at
         ORDER BY 1, 2",
    );
    let rows = query.build().fetch_all(&mut **tx).await?;
    let mut resolved = 0;
    let mut last_question = None;
    for row in rows {
        let question: i64 = row.try_get(0)?;
        if last_question == Some(question) {
            continue; // rows are ordered by time: the first answer wins
        }
        last_question = Some(question);
        sqlx::query(
            "UPDATE comments SET answered_at = ?, answered_by = ?, answered_role = ? WHERE id = ?",
        )
        .bind(row.try_get::<i64, _>(1)?)
        .bind(row.try_get::<String, _>(2)?)
        .bind(row.try_get::<String, _>(3)?)
        .bind(question)
        .execute(&mut **tx)
        .await?;
        resolved += 1;
    }
    Ok(resolved)
}

/// `AND q.external_id IN (...)` unless every open question of the post is a candidate.
fn push_question_scope(query: &mut QueryBuilder<Sqlite>, candidates: &AnswerCandidates) {
    if candidates.any_question {
        return;
    }
    query.push(" AND q.external_id IN (");
    let mut ids = query.separated(", ");
    for id in &candidates.questions {
        ids.push_bind(id.clone());
    }
    query.push(")");
}

#[cfg(test)]
mod tests {
    use super::mentioned_handles;

    #[test]
    fn mentions_are_lower_cased_and_trimmed() {
        assert_eq!(
            mentioned_handles("@Maple.Mia, yes! and @lou_k."),
            vec!["lou_k".to_string(), "maple.mia".to_string()]
        );
        assert!(mentioned_handles("mail me at x @ y").is_empty());
    }
}
