//! Read-side queries for digests and summaries.

use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Row, Sqlite};

use super::{Store, StoreError, from_unix, stored_label};
use crate::domain::{Category, Label};

/// Whose questions a digest covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuestionScope {
    /// Every post polled for these accounts (config names).
    Accounts(Vec<String>),
    /// The posts of one campaign, across all its creators.
    Campaign(String),
}

/// An unanswered product question, with what a digest needs to show and link it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenQuestion {
    /// The comment's row id: stable, for "was it in an earlier digest?".
    pub comment_key: i64,
    /// The first campaign (by name) the post belongs to, for answer templates.
    pub campaign: Option<String>,
    pub account: String,
    pub platform: String,
    pub post_external_id: String,
    pub post_caption: String,
    pub post_permalink: Option<String>,
    pub comment_external_id: String,
    pub author_handle: String,
    pub text: String,
    pub category: Category,
    pub rule: String,
    pub created_at: DateTime<Utc>,
}

/// Counts over everything stored in a scope.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub comments: u64,
    pub questions: u64,
    pub product_questions: u64,
    pub answered_product_questions: u64,
    pub open_product_questions: u64,
}

fn push_scope(query: &mut QueryBuilder<Sqlite>, scope: &QuestionScope) {
    match scope {
        QuestionScope::Accounts(names) => {
            query.push(" AND a.name IN (");
            let mut list = query.separated(", ");
            for name in names {
                list.push_bind(name.clone());
            }
            if names.is_empty() {
                list.push("NULL");
            }
            query.push(")");
        }
        QuestionScope::Campaign(campaign) => {
            query
                .push(" AND p.id IN (SELECT post_id FROM post_campaigns WHERE campaign = ")
                .push_bind(campaign.clone())
                .push(")");
        }
    }
}

impl Store {
    /// Unanswered, visible, top-level product questions from the audience in the scope, grouped by
    /// post (oldest post first) and oldest question first within a post.
    ///
    /// # Errors
    /// A database error, or a stored category this version does not know.
    pub async fn open_product_questions(
        &self,
        scope: &QuestionScope,
    ) -> Result<Vec<OpenQuestion>, StoreError> {
        let mut query = QueryBuilder::<Sqlite>::new(
            "SELECT a.name, a.platform, p.external_id, p.caption, p.permalink, c.external_id,
                    c.author_handle, c.text, c.category, c.rule, c.created_at, c.id,
                    (SELECT MIN(pc.campaign) FROM post_campaigns pc WHERE pc.post_id = p.id)
             FROM comments c
             JOIN posts p ON p.id = c.post_id
             JOIN accounts a ON a.id = p.account_id
             WHERE c.label = 'product_question' AND c.answered_at IS NULL
               AND c.parent_external_id IS NULL AND c.author_role = 'audience' AND c.hidden = 0
               AND c.deleted_at IS NULL",
        );
        push_scope(&mut query, scope);
        query.push(" ORDER BY p.created_at, p.id, c.created_at, c.id");
        let rows = query.build().fetch_all(&self.pool).await?;
        rows.into_iter()
            .map(|row| {
                let category: String = row.try_get(8)?;
                let Label::ProductQuestion(category) =
                    stored_label("product_question", Some(&category))?
                else {
                    unreachable!("a product question label carries its category")
                };
                Ok(OpenQuestion {
                    comment_key: row.try_get(11)?,
                    campaign: row.try_get(12)?,
                    account: row.try_get(0)?,
                    platform: row.try_get(1)?,
                    post_external_id: row.try_get(2)?,
                    post_caption: row.try_get(3)?,
                    post_permalink: row.try_get(4)?,
                    comment_external_id: row.try_get(5)?,
                    author_handle: row.try_get(6)?,
                    text: row.try_get(7)?,
                    category,
                    rule: row.try_get(9)?,
                    created_at: from_unix("comments", row.try_get(10)?)?,
                })
            })
            .collect()
    }

    /// Counts of the comments still on the platform and of top-level audience questions in the
    /// scope.
    ///
    /// # Errors
    /// A database error.
    pub async fn totals(&self, scope: &QuestionScope) -> Result<Totals, StoreError> {
        // A question counts when it is top-level and asked by the audience (not the owner/brand).
        let mut query = QueryBuilder::<Sqlite>::new(
            "SELECT COUNT(*),
                    SUM(CASE WHEN asked AND c.label <> 'not_question' THEN 1 ELSE 0 END),
                    SUM(CASE WHEN asked AND c.label = 'product_question' THEN 1 ELSE 0 END),
                    SUM(CASE WHEN asked AND c.label = 'product_question'
                             AND c.answered_at IS NOT NULL THEN 1 ELSE 0 END),
                    SUM(CASE WHEN asked AND c.label = 'product_question'
                             AND c.answered_at IS NULL AND c.hidden = 0 THEN 1 ELSE 0 END)
             FROM (SELECT *, (parent_external_id IS NULL AND author_role = 'audience') AS asked
                   FROM comments WHERE deleted_at IS NULL) c
             JOIN posts p ON p.id = c.post_id
             JOIN accounts a ON a.id = p.account_id
             WHERE 1 = 1",
        );
        push_scope(&mut query, scope);
        let row = query.build().fetch_one(&self.pool).await?;
        let count = |i: usize| -> Result<u64, StoreError> {
            Ok(row.try_get::<Option<i64>, _>(i)?.unwrap_or(0) as u64)
        };
        Ok(Totals {
            comments: count(0)?,
            questions: count(1)?,
            product_questions: count(2)?,
            answered_product_questions: count(3)?,
            open_product_questions: count(4)?,
        })
    }
}

/// A stored comment as the audit trail and exports see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredComment {
    pub post_external_id: String,
    pub external_id: String,
    pub parent_external_id: Option<String>,
    pub author_handle: String,
    pub author_role: String,
    pub text: String,
    pub created_at: DateTime<Utc>,
    pub label: Label,
    pub rule: String,
    pub answered_at: Option<DateTime<Utc>>,
    pub answered_role: Option<String>,
    pub deleted: bool,
}

impl Store {
    /// Every stored comment, ordered by post and time.
    ///
    /// # Errors
    /// A database error or a row this version cannot read.
    pub async fn all_comments(&self) -> Result<Vec<StoredComment>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.external_id, c.external_id, c.parent_external_id, c.author_handle,
                    c.author_role, c.text, c.created_at, c.label, c.category, c.rule,
                    c.answered_at, c.answered_role, c.deleted_at IS NOT NULL
             FROM comments c JOIN posts p ON p.id = c.post_id
             ORDER BY p.id, c.created_at, c.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let kind: String = row.try_get(7)?;
                let category: Option<String> = row.try_get(8)?;
                let label = stored_label(&kind, category.as_deref())?;
                let answered_at: Option<i64> = row.try_get(10)?;
                Ok(StoredComment {
                    post_external_id: row.try_get(0)?,
                    external_id: row.try_get(1)?,
                    parent_external_id: row.try_get(2)?,
                    author_handle: row.try_get(3)?,
                    author_role: row.try_get(4)?,
                    text: row.try_get(5)?,
                    created_at: from_unix("comments", row.try_get(6)?)?,
                    label,
                    rule: row.try_get(9)?,
                    answered_at: answered_at.map(|t| from_unix("comments", t)).transpose()?,
                    answered_role: row.try_get(11)?,
                    deleted: row.try_get(12)?,
                })
            })
            .collect()
    }
}

/// A recent, unanswered top-level comment from the audience, for same-day alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentComment {
    pub account: String,
    pub platform: String,
    pub post_permalink: Option<String>,
    pub comment_external_id: String,
    pub author_handle: String,
    pub text: String,
    pub label: Label,
    pub created_at: DateTime<Utc>,
}

impl Store {
    /// Unanswered, visible top-level audience comments in the scope created since `since`,
    /// whatever their label (a "code doesn't work!" report may not be phrased as a question).
    ///
    /// # Errors
    /// A database error or a row this version cannot read.
    pub async fn recent_audience_comments(
        &self,
        scope: &QuestionScope,
        since: DateTime<Utc>,
    ) -> Result<Vec<RecentComment>, StoreError> {
        let mut query = QueryBuilder::<Sqlite>::new(
            "SELECT a.name, a.platform, p.permalink, c.external_id, c.author_handle, c.text,
                    c.label, c.category, c.created_at
             FROM comments c
             JOIN posts p ON p.id = c.post_id
             JOIN accounts a ON a.id = p.account_id
             WHERE c.parent_external_id IS NULL AND c.author_role = 'audience'
               AND c.answered_at IS NULL AND c.hidden = 0 AND c.deleted_at IS NULL
               AND c.created_at >= ",
        );
        query.push_bind(super::to_unix(since));
        push_scope(&mut query, scope);
        query.push(" ORDER BY c.created_at, c.id");
        let rows = query.build().fetch_all(&self.pool).await?;
        rows.into_iter()
            .map(|row| {
                let kind: String = row.try_get(6)?;
                let category: Option<String> = row.try_get(7)?;
                Ok(RecentComment {
                    account: row.try_get(0)?,
                    platform: row.try_get(1)?,
                    post_permalink: row.try_get(2)?,
                    comment_external_id: row.try_get(3)?,
                    author_handle: row.try_get(4)?,
                    text: row.try_get(5)?,
                    label: stored_label(&kind, category.as_deref())?,
                    created_at: from_unix("comments", row.try_get(8)?)?,
                })
            })
            .collect()
    }
}
