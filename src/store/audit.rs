//! Read-side queries of the campaign audit (`triage audit`).
//!
//! Two queries feed every audit format, so a number cannot differ between the table, the CSV, the
//! JSON and the HTML report: [`Store::audit_posts`] (the campaign's posts and their comment counts)
//! and [`Store::audit_comments`] (the top-level audience comments that matter to the audit, with how
//! each was answered). The metrics themselves are computed from these rows by `crate::audit`.
//!
//! What counts, decided here once:
//! - a *comment* is any stored comment or reply that is still on the platform (`deleted_at` unset);
//! - an audit *comment row* is top-level, by the audience, not deleted: every question, plus the
//!   non-questions whose text contains one of the caller's `watch_terms` (discount-code watch);
//! - an *answer* is the owner's or the brand's (`answered_*`, derived by the poll);
//! - a *community reply* is a reply in the thread by another audience member than the asker.
//!
//! Indexes in `migrations/0002_audit_indexes.sql` keep both queries to index range scans on the
//! campaign's posts.

use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Row, Sqlite};

use super::{PostKey, Store, StoreError, from_unix, to_unix};
use crate::domain::Label;

/// The comments an audit covers: created in `[since, until)`. `None` leaves that side open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditWindow {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

impl AuditWindow {
    fn bounds(&self) -> (i64, i64) {
        (
            self.since.map_or(i64::MIN, to_unix),
            self.until.map_or(i64::MAX, to_unix),
        )
    }
}

/// One post of the campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPost {
    pub key: PostKey,
    /// The account's config name (the creator).
    pub account: String,
    pub platform: String,
    pub external_id: String,
    pub caption: String,
    pub permalink: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Comments and replies in the window that are still on the platform.
    pub comments: u64,
}

/// Who gave the first answer to a question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerRole {
    /// The account owner: the creator.
    Owner,
    Brand,
}

/// The first answer by the owner or the brand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditAnswer {
    pub at: DateTime<Utc>,
    pub by: String,
    pub role: AnswerRole,
}

/// A top-level audience comment the audit looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditComment {
    pub post: PostKey,
    pub external_id: String,
    pub author_handle: String,
    pub text: String,
    pub label: Label,
    pub created_at: DateTime<Utc>,
    pub hidden: bool,
    pub answer: Option<AuditAnswer>,
    /// Unanswered by the owner and the brand, but another audience member replied in the thread.
    pub community_replied: bool,
}

impl Store {
    /// The campaign's posts, by account name then post time, with their comment counts in the
    /// window.
    ///
    /// # Errors
    /// A database error.
    pub async fn audit_posts(
        &self,
        campaign: &str,
        window: AuditWindow,
    ) -> Result<Vec<AuditPost>, StoreError> {
        let (since, until) = window.bounds();
        let rows = sqlx::query(
            "SELECT p.id, a.name, a.platform, p.external_id, p.caption, p.permalink, p.created_at,
                    (SELECT COUNT(*) FROM comments c
                     WHERE c.post_id = p.id AND c.deleted_at IS NULL
                       AND c.created_at >= ?2 AND c.created_at < ?3)
             FROM post_campaigns pc
             JOIN posts p ON p.id = pc.post_id
             JOIN accounts a ON a.id = p.account_id
             WHERE pc.campaign = ?1
             ORDER BY a.name, p.created_at, p.id",
        )
        .bind(campaign)
        .bind(since)
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(AuditPost {
                    key: PostKey(row.try_get(0)?),
                    account: row.try_get(1)?,
                    platform: row.try_get(2)?,
                    external_id: row.try_get(3)?,
                    caption: row.try_get(4)?,
                    permalink: row.try_get(5)?,
                    created_at: from_unix("posts", row.try_get(6)?)?,
                    comments: row.try_get::<i64, _>(7)?.max(0) as u64,
                })
            })
            .collect()
    }

    /// The campaign's top-level audience comments in the window that are questions, or whose text
    /// contains one of `watch_terms` (case-insensitive for ASCII), by post then time.
    ///
    /// # Errors
    /// A database error, or a stored label this version does not know.
    pub async fn audit_comments(
        &self,
        campaign: &str,
        window: AuditWindow,
        watch_terms: &[String],
    ) -> Result<Vec<AuditComment>, StoreError> {
        // SQLite finds a million-comment campaign's rows in a fraction of a second, but handing
        // them over one by one costs microseconds each; so each post comes back as one row holding
        // its comments as a JSON array (`json_group_array`, PostgreSQL: `json_agg`).
        let (since, until) = window.bounds();
        let mut query = QueryBuilder::<Sqlite>::new(
            "SELECT c.post_id, json_group_array(json_array(
                    c.external_id, c.author_handle, c.text, c.label, c.category, c.created_at,
                    c.hidden, c.answered_at, c.answered_by, c.answered_role,
                    c.answered_at IS NULL AND EXISTS (
                        SELECT 1 FROM comments r
                        WHERE r.post_id = c.post_id AND r.parent_external_id = c.external_id
                          AND r.author_role = 'audience' AND r.author_handle <> c.author_handle
                          AND r.deleted_at IS NULL)))
             FROM post_campaigns pc
             JOIN comments c ON c.post_id = pc.post_id
             WHERE pc.campaign = ",
        );
        query
            .push_bind(campaign.to_owned())
            .push(
                " AND c.parent_external_id IS NULL AND c.author_role = 'audience'
                  AND c.deleted_at IS NULL AND c.created_at >= ",
            )
            .push_bind(since)
            .push(" AND c.created_at < ")
            .push_bind(until)
            .push(" AND (c.label <> 'not_question'");
        for term in watch_terms.iter().filter(|t| !t.is_empty()) {
            query
                .push(" OR c.text LIKE ")
                .push_bind(format!("%{}%", escape_like(term)))
                .push(" ESCAPE '\\'");
        }
        query.push(") GROUP BY c.post_id ORDER BY c.post_id");
        let rows = query.build().fetch_all(&self.pool).await?;
        let mut out = Vec::new();
        for row in rows {
            let post = PostKey(row.try_get(0)?);
            let json: String = row.try_get(1)?;
            let wire: Vec<WireComment> =
                serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
                    table: "comments",
                    reason: format!("audit rows of post {}: {e}", post.0),
                })?;
            let start = out.len();
            for w in wire {
                out.push(w.into_comment(post)?);
            }
            out[start..].sort_by_key(|c| c.created_at);
        }
        Ok(out)
    }
}

/// One comment of `audit_comments`' JSON array, in the order of its `json_array`.
#[derive(serde::Deserialize)]
struct WireComment(
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
    i64,
);

impl WireComment {
    fn into_comment(self, post: PostKey) -> Result<AuditComment, StoreError> {
        let WireComment(
            external_id,
            author_handle,
            text,
            kind,
            category,
            created_at,
            hidden,
            answered_at,
            answered_by,
            answered_role,
            community_replied,
        ) = self;
        let corrupt = |reason: String| StoreError::Corrupt {
            table: "comments",
            reason,
        };
        let label =
            Label::from_parts(&kind, category.as_deref()).map_err(|e| corrupt(e.to_string()))?;
        let answer = match answered_at {
            None => None,
            Some(at) => Some(AuditAnswer {
                at: from_unix("comments", at)?,
                by: answered_by.unwrap_or_default(),
                role: match answered_role.as_deref() {
                    Some("brand") => AnswerRole::Brand,
                    Some("owner") => AnswerRole::Owner,
                    other => return Err(corrupt(format!("unknown answered_role {other:?}"))),
                },
            }),
        };
        Ok(AuditComment {
            post,
            external_id,
            author_handle,
            text,
            label,
            created_at: from_unix("comments", created_at)?,
            hidden: hidden != 0,
            answer,
            community_replied: community_replied != 0,
        })
    }
}

/// `50%_off` → `50\%\_off`, so a watch term matches literally inside `LIKE`.
fn escape_like(term: &str) -> String {
    let mut out = String::with_capacity(term.len());
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
