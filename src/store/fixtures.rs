//! Test data shared by the store's unit tests: a database with one account and its posts, and
//! plain audience comments.

use std::path::Path;

use chrono::{DateTime, Duration, Utc};

use super::{ClassifiedComment, PostKey, Store};
use crate::domain::{AuthorRole, Comment, Label, Media, Platform, RuleId, Verdict};

/// An audience comment that is not a question, posted at `at`.
pub fn comment(id: &str, at: DateTime<Utc>) -> ClassifiedComment {
    ClassifiedComment {
        comment: Comment {
            external_id: id.into(),
            parent_id: None,
            author_id: Some("70".into()),
            author_handle: "ann".into(),
            text: format!("comment {id}"),
            created_at: at,
            role: AuthorRole::Audience,
            hidden: false,
        },
        verdict: Verdict {
            label: Label::NotQuestion,
            rule: RuleId::new("test.none"),
            overruled: None,
        },
    }
}

/// A new database in `dir` with one Instagram account and a post per id, posted five hours
/// before `now`.
pub async fn store_with_posts(
    dir: &Path,
    now: DateTime<Utc>,
    ids: &[&str],
) -> (Store, Vec<PostKey>) {
    let store = Store::open(&dir.join("t.db")).await.unwrap();
    let account = store
        .upsert_account(Platform::Instagram, "1784", "ann", "ann")
        .await
        .unwrap();
    let posts: Vec<(Media, Vec<String>)> = ids
        .iter()
        .map(|id| {
            let media = Media {
                external_id: (*id).into(),
                caption: "#ad".into(),
                permalink: None,
                created_at: now - Duration::hours(5),
                comments_count: Some(1),
            };
            (media, vec![])
        })
        .collect();
    let keys = store.upsert_posts(account, &posts).await.unwrap();
    (store, keys)
}
