//! Comments, the walk state of each post, and the derivation of "answered".

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use chrono::{DateTime, Utc};
use regex::Regex;
use sqlx::{Row, Sqlite, Transaction};

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
        self.save_encoded_page(&EncodedPage::new(post, comments, progress.clone(), seen_at))
            .await
    }

    /// [`Store::save_comment_page`] for a page already encoded.
    pub(super) async fn save_encoded_page(
        &self,
        page: &EncodedPage,
    ) -> Result<PageWriteOutcome, StoreError> {
        let mut tx = self.begin_write().await?;
        let outcome = write_page(&mut tx, page).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Records that the store accounts for every comment the platform announced when its count
    /// was `count`. Only a hint for when to re-read old threads: losing it costs a re-read.
    ///
    /// # Errors
    /// A database error.
    pub async fn set_reconciled_count(&self, post: PostKey, count: u64) -> Result<(), StoreError> {
        self.write_detached(move |store| async move {
            sqlx::query(
                "UPDATE poll_state SET reconciled_count = ?
                 WHERE post_id = ? AND reconciled_count IS NOT ?",
            )
            .bind(count as i64)
            .bind(post.0)
            .bind(count as i64)
            .execute(&store.writes)
            .await?;
            Ok(())
        })
        .await
    }

    /// Marks as deleted the post's comments that a complete walk (`seen`: every comment and reply
    /// it read, each stored live by the walk's pages) no longer found. They stay stored for the
    /// audit trail and leave digests.
    ///
    /// # Errors
    /// A database error.
    pub async fn mark_missing_deleted(
        &self,
        post: PostKey,
        seen: &HashSet<String>,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        // The walk stored every comment it saw, live: when the post has no more live comments
        // than that, it has no others, and a count spares sending every id back (most walks).
        let live: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM comments WHERE post_id = ? AND deleted_at IS NULL",
        )
        .bind(post.0)
        .fetch_one(&self.pool)
        .await?;
        if live as u64 <= seen.len() as u64 {
            return Ok(0);
        }
        let stored: Vec<(i64, String)> = sqlx::query_as(
            "SELECT id, external_id FROM comments WHERE post_id = ? AND deleted_at IS NULL",
        )
        .bind(post.0)
        .fetch_all(&self.pool)
        .await?;
        self.mark_unseen_deleted(post, stored, seen, at).await
    }

    /// Marks deleted, as of `at`, the post's `stored` comments (row id, platform id) that a walk
    /// did not see. Returns how many.
    ///
    /// They leave what the post's walks found since it was last settled, in the same transaction:
    /// a worker killed after marking them and before settling the post would otherwise leave the
    /// next run one comment short for each, and a new reply that balances a deletion in the
    /// platform's count would go unlooked-for.
    pub(super) async fn mark_unseen_deleted(
        &self,
        post: PostKey,
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
        let gone_count = gone.len() as u64;
        let at = to_unix(at);
        self.write_detached(move |store| async move {
            let mut tx = store.begin_write().await?;
            for row in &gone {
                sqlx::query("UPDATE comments SET deleted_at = ? WHERE id = ?")
                    .bind(at)
                    .bind(row)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(
                "UPDATE poll_state SET found_since_settled = found_since_settled - ?
                 WHERE post_id = ?",
            )
            .bind(gone_count as i64)
            .bind(post.0)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(gone_count)
        })
        .await
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
///
/// The page travels as JSON bound to one parameter, and every statement it needs (re-classify
/// the changed comments, insert the new ones, record the walk progress, the mentions, resolve
/// the questions it may answer) runs as one query: one round trip to SQLite's thread instead of
/// one per statement, statements prepared once whatever the page's size, and no bound value per
/// column per comment. The query's `SELECT changes()` rows report what it changed.
pub(super) async fn write_page(
    tx: &mut Transaction<'_, Sqlite>,
    page: &EncodedPage,
) -> Result<PageWriteOutcome, StoreError> {
    let post = page.post;
    let (text, params) = page.query;
    let mut query = sqlx::query_scalar::<_, i64>(text);
    for param in params {
        query = match param {
            Param::Post => query.bind(post.0),
            Param::SeenAt => query.bind(page.seen_at),
            Param::Comments => query.bind(Arc::clone(&page.comments)),
            Param::Mentions => query.bind(Arc::clone(&page.mentions)),
            Param::Questions => query.bind(Arc::clone(&page.questions)),
            Param::After => query.bind(page.after.as_deref()),
            Param::WalkNewest => query.bind(page.walk_newest),
            Param::Watermark => query.bind(page.watermark),
            Param::FullWalkAt => query.bind(page.full_walk_at),
        };
    }
    let changes = query.fetch_all(&mut **tx).await?;
    let [updated, inserted, new_mentions, mut answered] = changes[..] else {
        return Err(unexpected_counts(changes.len()));
    };
    if new_mentions > 0 {
        // A new top-level mention by the owner or the brand may answer any asker of the post.
        let (text, params) = &*RESOLVE_IN_POST;
        debug_assert!(params.iter().all(|p| *p == Param::Post));
        let mut query = sqlx::query_scalar::<_, i64>(text.as_str());
        for _ in params {
            query = query.bind(post.0);
        }
        let changes = query.fetch_all(&mut **tx).await?;
        let [in_post] = changes[..] else {
            return Err(unexpected_counts(changes.len()));
        };
        answered += in_post;
    }
    let count = |n: i64| n.max(0) as u64;
    Ok(PageWriteOutcome {
        inserted: count(inserted),
        updated: count(updated),
        answered: count(answered),
    })
}

/// A page as [`write_page`] binds it: its comments, mentions and candidate questions already
/// encoded as JSON. A walk's pages are encoded by the walk that read them
/// ([`super::PageWriter::queue`]), so the writer, which SQLite's thread waits on between
/// statements, only binds and sends; and the page's comments are freed before it waits in the
/// writer's queue.
pub(super) struct EncodedPage {
    post: PostKey,
    /// How many comments the page holds.
    pub(super) len: usize,
    comments: Arc<str>,
    mentions: Arc<str>,
    questions: Arc<str>,
    /// The page query for the page's kind of progress, [`page_query`].
    query: (&'static str, &'static [Param]),
    seen_at: i64,
    after: Option<String>,
    walk_newest: Option<i64>,
    watermark: Option<i64>,
    full_walk_at: Option<i64>,
}

impl EncodedPage {
    pub(super) fn new(
        post: PostKey,
        comments: &[ClassifiedComment],
        progress: WalkProgress,
        seen_at: DateTime<Utc>,
    ) -> EncodedPage {
        let rows: Vec<PageRow<'_>> = comments.iter().map(PageRow::of).collect();
        // Only a top-level comment's mention answers anybody (a reply answers its own thread).
        let mentions: Vec<(&str, String)> = comments
            .iter()
            .filter(|item| item.comment.role != AuthorRole::Audience)
            .filter(|item| item.comment.parent_id.is_none())
            .flat_map(|item| {
                mentioned_handles(&item.comment.text)
                    .into_iter()
                    .map(|handle| (item.comment.external_id.as_str(), handle))
            })
            .collect();
        let query = page_query(&progress);
        let (after, walk_newest, watermark, full_walk_at) = match progress {
            WalkProgress::Continue { after, walk_newest } => {
                (Some(after), walk_newest.map(to_unix), None, None)
            }
            WalkProgress::Complete {
                watermark,
                read_every_page,
            } => (
                None,
                None,
                watermark.map(to_unix),
                read_every_page.then_some(to_unix(seen_at)),
            ),
            WalkProgress::Unchanged => (None, None, None, None),
        };
        EncodedPage {
            post,
            len: comments.len(),
            comments: json(&rows).into(),
            mentions: json(&mentions).into(),
            questions: json(&answer_candidates(comments)).into(),
            query,
            seen_at: to_unix(seen_at),
            after,
            walk_newest,
            watermark,
            full_walk_at,
        }
    }
}

fn unexpected_counts(rows: usize) -> StoreError {
    StoreError::Sql(sqlx::Error::Protocol(format!(
        "a page write reported {rows} counts, not the ones its statements give"
    )))
}

/// Resolving every open question of the post, after a page brought a new mention.
static RESOLVE_IN_POST: LazyLock<(String, Vec<Param>)> =
    LazyLock::new(|| positional(&RESOLVE_ANSWERS.replace("{scope}", "")));

/// Strings, integers and lists of them: always encodable.
fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("strings and integers encode as JSON")
}

/// A comment as the page query reads it from JSON.
#[derive(serde::Serialize)]
struct PageRow<'a> {
    id: &'a str,
    parent: Option<&'a str>,
    author_id: Option<&'a str>,
    handle: &'a str,
    role: &'static str,
    text: &'a str,
    hidden: u8,
    created: i64,
    label: &'static str,
    category: Option<&'static str>,
    rule: &'a str,
    overruled: Option<&'a str>,
}

impl<'a> PageRow<'a> {
    fn of(item: &'a ClassifiedComment) -> PageRow<'a> {
        let (c, v) = (&item.comment, &item.verdict);
        PageRow {
            id: &c.external_id,
            parent: c.parent_id.as_deref(),
            author_id: c.author_id.as_deref(),
            handle: &c.author_handle,
            role: c.role.as_str(),
            text: &c.text,
            hidden: u8::from(c.hidden),
            created: to_unix(c.created_at),
            label: v.label.kind_str(),
            category: v.label.category().map(|c| c.as_str()),
            rule: v.rule.as_str(),
            overruled: v.overruled.as_ref().map(|r| r.as_str()),
        }
    }
}

/// A value the page query binds, named `:post`, `:seen_at`… in its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Param {
    Post,
    SeenAt,
    /// The page's comments, as a JSON array of [`PageRow`].
    Comments,
    /// `[[comment id, handle], …]`.
    Mentions,
    /// The candidate questions' ids.
    Questions,
    /// The cursor of the walk's next page.
    After,
    WalkNewest,
    Watermark,
    /// When a walk that read every page ended.
    FullWalkAt,
}

impl Param {
    const ALL: [(&'static str, Param); 9] = [
        (":post", Param::Post),
        (":seen_at", Param::SeenAt),
        (":comments", Param::Comments),
        (":mentions", Param::Mentions),
        (":questions", Param::Questions),
        (":after", Param::After),
        (":walk_newest", Param::WalkNewest),
        (":watermark", Param::Watermark),
        (":full_walk_at", Param::FullWalkAt),
    ];
}

/// The page query for a kind of progress (three fixed texts, so each is prepared once), with
/// the values its `?` stand for, in order. The texts name their values; they become plain `?`
/// bound one by one because a multi-statement query cannot share numbered parameters between
/// statements that use different ones.
fn page_query(progress: &WalkProgress) -> (&'static str, &'static [Param]) {
    static QUERIES: LazyLock<Vec<(String, Vec<Param>)>> = LazyLock::new(|| {
        [PROGRESS_CONTINUE, PROGRESS_COMPLETE, PROGRESS_UNCHANGED]
            .iter()
            .map(|progress| {
                positional(&format!(
                    "{PAGE_COMMENTS}{progress}{PAGE_MENTIONS}{}",
                    RESOLVE_ANSWERS.replace("{scope}", SCOPE_CANDIDATES)
                ))
            })
            .collect()
    });
    let progress = match progress {
        WalkProgress::Continue { .. } => 0,
        WalkProgress::Complete { .. } => 1,
        WalkProgress::Unchanged => 2,
    };
    let (text, params) = &QUERIES[progress];
    (text, params)
}

/// Replaces each `:name` of `named` by `?`, returning the values in the order they appear.
fn positional(named: &str) -> (String, Vec<Param>) {
    let mut text = String::with_capacity(named.len());
    let mut params = Vec::new();
    let mut rest = named;
    while let Some(at) = rest.find(':') {
        text.push_str(&rest[..at]);
        rest = &rest[at..];
        let (name, param) = Param::ALL
            .iter()
            .filter(|(name, _)| {
                rest.starts_with(name)
                    && !rest[name.len()..].starts_with(|c: char| c == '_' || c.is_alphanumeric())
            })
            .copied()
            .next()
            .expect("the page query names only known values");
        text.push('?');
        params.push(param);
        rest = &rest[name.len()..];
    }
    text.push_str(rest);
    (text, params)
}

/// Known comments whose text or visibility changed (or that had been taken for deleted) get
/// the new text and verdict, keeping their first-seen time; then the new ones are inserted (a
/// comment a page repeats, platform paging drift, once). `changes()` after each: updated, then
/// inserted; the progress statement reads the inserted count from `changes()` too.
const PAGE_COMMENTS: &str = "
WITH page AS MATERIALIZED (
    -- Each comment of the page looked up by its id (CROSS JOIN keeps that order), not the page
    -- scanned for each stored comment of the post.
    SELECT stored.id, fresh.value ->> 'text' AS text, fresh.value ->> 'hidden' AS hidden,
           fresh.value ->> 'label' AS label, fresh.value ->> 'category' AS category,
           fresh.value ->> 'rule' AS rule, fresh.value ->> 'overruled' AS overruled
    FROM jsonb_each(:comments) AS fresh CROSS JOIN comments AS stored
    WHERE stored.post_id = :post AND stored.external_id = fresh.value ->> 'id'
      AND (stored.text <> fresh.value ->> 'text' OR stored.hidden <> fresh.value ->> 'hidden'
           OR stored.deleted_at IS NOT NULL)
)
UPDATE comments
SET edited_at = CASE WHEN comments.text <> page.text THEN :seen_at ELSE comments.edited_at END,
    text = page.text, hidden = page.hidden, label = page.label, category = page.category,
    rule = page.rule, overruled_rule = page.overruled, deleted_at = NULL
FROM page
WHERE comments.id = page.id;
SELECT changes();
INSERT INTO comments (post_id, external_id, parent_external_id, author_id, author_handle,
                      author_role, text, hidden, created_at, first_seen_at, label, category,
                      rule, overruled_rule)
SELECT :post, value ->> 'id', value ->> 'parent', value ->> 'author_id', value ->> 'handle',
       value ->> 'role', value ->> 'text', value ->> 'hidden', value ->> 'created', :seen_at,
       value ->> 'label', value ->> 'category', value ->> 'rule', value ->> 'overruled'
FROM jsonb_each(:comments) WHERE true
ON CONFLICT (post_id, external_id) DO NOTHING;
SELECT changes();
";

/// Where the walk stands, and the page's new comments added to what the post's walks found since
/// it was last settled, with the page: a restarted worker knows both where its killed
/// predecessor stopped and what it found.
const PROGRESS_CONTINUE: &str = "
INSERT INTO poll_state (post_id, walk_after, walk_newest, found_since_settled, updated_at)
VALUES (:post, :after, :walk_newest, changes(), :seen_at)
ON CONFLICT (post_id) DO UPDATE
    SET walk_after = excluded.walk_after, walk_newest = excluded.walk_newest,
        found_since_settled = poll_state.found_since_settled + excluded.found_since_settled,
        updated_at = excluded.updated_at;
";

const PROGRESS_COMPLETE: &str = "
INSERT INTO poll_state (post_id, watermark, found_since_settled, last_full_walk_at, updated_at)
VALUES (:post, :watermark, changes(), :full_walk_at, :seen_at)
ON CONFLICT (post_id) DO UPDATE
    SET watermark = excluded.watermark, walk_after = NULL, walk_newest = NULL,
        found_since_settled = poll_state.found_since_settled + excluded.found_since_settled,
        last_full_walk_at = COALESCE(excluded.last_full_walk_at, poll_state.last_full_walk_at),
        updated_at = excluded.updated_at
    WHERE poll_state.watermark IS NOT excluded.watermark
       OR poll_state.walk_after IS NOT NULL
       OR excluded.found_since_settled > 0
       OR excluded.last_full_walk_at IS NOT NULL;
";

/// A thread refresh outside any walk: only what it found counts.
const PROGRESS_UNCHANGED: &str = "
INSERT INTO poll_state (post_id, found_since_settled, updated_at)
SELECT :post, changes(), :seen_at WHERE changes() > 0
ON CONFLICT (post_id) DO UPDATE
    SET found_since_settled = poll_state.found_since_settled + excluded.found_since_settled;
";

/// The @mentions in the owner's and the brand's top-level comments: a mention of an asker
/// answers their question. `changes()` after it: mentions not stored before, which call for
/// looking at every open question of the post.
const PAGE_MENTIONS: &str = "
INSERT INTO comment_mentions (post_id, comment_external_id, handle)
SELECT :post, value ->> 0, value ->> 1 FROM json_each(:mentions) WHERE true
ON CONFLICT DO NOTHING;
SELECT changes();
";

const SCOPE_CANDIDATES: &str = "AND q.external_id IN (SELECT value FROM json_each(:questions))";

/// Marks as answered the open questions in scope that now have an answer: the first reply in
/// their thread by the owner or the brand, or a later top-level comment of theirs that @mentions
/// the asker. `changes()` after it: how many it resolved.
const RESOLVE_ANSWERS: &str = "
WITH answers AS (
    SELECT q.id AS question, r.created_at, r.author_handle, r.author_role
    FROM comments q
    JOIN comments r ON r.post_id = q.post_id AND r.parent_external_id = q.external_id
    WHERE q.post_id = :post {scope}
      AND q.parent_external_id IS NULL AND q.answered_at IS NULL
      AND q.author_role = 'audience' AND q.label <> 'not_question'
      AND r.author_role <> 'audience'
    UNION ALL
    SELECT q.id, m.created_at, m.author_handle, m.author_role
    FROM comments q
    JOIN comment_mentions cm ON cm.post_id = q.post_id AND cm.handle = lower(q.author_handle)
    JOIN comments m ON m.post_id = cm.post_id AND m.external_id = cm.comment_external_id
    WHERE q.post_id = :post {scope}
      AND q.parent_external_id IS NULL AND q.answered_at IS NULL
      AND q.author_role = 'audience' AND q.label <> 'not_question'
      AND m.parent_external_id IS NULL AND m.author_role <> 'audience'
      AND m.created_at >= q.created_at
),
first_answers AS (
    SELECT question, created_at, author_handle, author_role,
           row_number() OVER (PARTITION BY question ORDER BY created_at) AS rank
    FROM answers
)
UPDATE comments
SET answered_at = a.created_at, answered_by = a.author_handle, answered_role = a.author_role
FROM first_answers a
WHERE comments.id = a.question AND a.rank = 1;
SELECT changes();
";

/// The questions a page may have answered, so that resolving looks at those instead of every
/// open question of the post on every page: its top-level audience questions (their answer may
/// be stored already) and the threads in which the owner or the brand replied. (A new top-level
/// mention widens the search to the whole post: see [`write_page`].)
fn answer_candidates(comments: &[ClassifiedComment]) -> Vec<String> {
    let mut questions = Vec::new();
    for item in comments {
        let c = &item.comment;
        match (&c.parent_id, c.role) {
            (None, AuthorRole::Audience) if item.verdict.label.is_question() => {
                questions.push(c.external_id.clone());
            }
            (None, _) | (Some(_), AuthorRole::Audience) => {}
            (Some(parent), _) => questions.push(parent.clone()),
        }
    }
    questions.sort_unstable();
    questions.dedup();
    questions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fixtures::{comment, store_with_posts};

    /// A page travels to SQLite as JSON: hostile text (quotes, backslashes, control characters,
    /// NUL, RTL and zero-width marks, emoji, HTML, a would-be JSON path) must come back byte for
    /// byte, and reading the same page again must neither insert nor "edit" anything.
    #[tokio::test]
    async fn hostile_text_round_trips_and_a_page_read_twice_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let (store, posts) = store_with_posts(dir.path(), now, &["1801"]).await;
        let texts = [
            "say \"hi\" \\ back\\slash",
            "tab\tnew\nline\rcr \u{7}bell",
            "nul\0inside",
            "\u{202e}RTL override\u{200b}zero\u{200d}width\u{feff}",
            "emoji 👩🏽‍💻🇨🇦 and <script>alert(1)</script> &amp;",
            "$.id' ->> 'text' ); DROP TABLE comments; --",
            "",
        ];
        let page: Vec<ClassifiedComment> = texts
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let mut item = comment(&format!("h{i}"), now - chrono::Duration::minutes(i as i64));
                item.comment.text = (*text).to_string();
                item.comment.author_handle = format!("ha\"nd{i}");
                item
            })
            .collect();
        let progress = WalkProgress::Unchanged;
        let first = store
            .save_comment_page(posts[0], &page, &progress, now)
            .await
            .unwrap();
        assert_eq!(first.inserted, texts.len() as u64);
        let again = store
            .save_comment_page(posts[0], &page, &progress, now)
            .await
            .unwrap();
        assert_eq!((again.inserted, again.updated), (0, 0));

        let stored = store.all_comments().await.unwrap();
        for (i, text) in texts.iter().enumerate() {
            let c = stored
                .iter()
                .find(|c| c.external_id == format!("h{i}"))
                .unwrap();
            assert_eq!(c.text, *text);
            assert_eq!(c.author_handle, format!("ha\"nd{i}"));
        }
    }

    /// An answer by @mention on a later page resolves a question stored earlier; reading that
    /// page again stores no second mention and resolves nothing more.
    #[tokio::test]
    async fn a_new_top_level_mention_answers_a_question_of_an_earlier_page() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let (store, posts) = store_with_posts(dir.path(), now, &["1801"]).await;
        let mut question = comment("q1", now - chrono::Duration::hours(2));
        question.verdict.label = crate::domain::Label::OtherQuestion;
        let progress = WalkProgress::Unchanged;
        store
            .save_comment_page(posts[0], &[question], &progress, now)
            .await
            .unwrap();

        let mut answer = comment("a1", now - chrono::Duration::hours(1));
        answer.comment.role = AuthorRole::Owner;
        answer.comment.author_handle = "mia".into();
        answer.comment.text = "@Ann yes, it ships to Canada".into();
        let page = [answer];
        let first = store
            .save_comment_page(posts[0], &page, &progress, now)
            .await
            .unwrap();
        assert_eq!((first.inserted, first.answered), (1, 1));
        let again = store
            .save_comment_page(posts[0], &page, &progress, now)
            .await
            .unwrap();
        assert_eq!((again.inserted, again.answered), (0, 0));
        let stored = store.all_comments().await.unwrap();
        let q1 = stored.iter().find(|c| c.external_id == "q1").unwrap();
        assert_eq!(q1.answered_role.as_deref(), Some("owner"));
    }

    #[test]
    fn every_page_query_binds_one_value_per_placeholder() {
        let progresses = [
            WalkProgress::Continue {
                after: "c".into(),
                walk_newest: None,
            },
            WalkProgress::Complete {
                watermark: None,
                read_every_page: true,
            },
            WalkProgress::Unchanged,
        ];
        let queries = progresses
            .iter()
            .map(page_query)
            .chain([(RESOLVE_IN_POST.0.as_str(), RESOLVE_IN_POST.1.as_slice())]);
        for (text, params) in queries {
            assert_eq!(text.matches('?').count(), params.len(), "{text}");
            assert!(!text.contains(':'), "{text}");
        }
        assert!(
            page_query(&WalkProgress::Unchanged)
                .0
                .contains("json_each(?))")
        );
        assert!(!RESOLVE_IN_POST.0.contains("json_each"));
    }

    #[test]
    fn mentions_are_lower_cased_and_trimmed() {
        assert_eq!(
            mentioned_handles("@Maple.Mia, yes! and @lou_k."),
            vec!["lou_k".to_string(), "maple.mia".to_string()]
        );
        assert!(mentioned_handles("mail me at x @ y").is_empty());
    }
}
