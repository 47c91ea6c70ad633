//! Instagram Graph API client (professional accounts).
//!
//! Reads `/{ig-user-id}/media`, `/{media-id}/comments` with the nested `replies{…}` expansion
//! (following each thread's own reply paging through `/{comment-id}/replies`), and the multi-id
//! lookup `/?ids=…` to re-read open questions' threads. The token travels in an
//! `Authorization: Bearer` header, never in a URL, and the `paging.next` URLs the API returns
//! (which repeat the token) are never followed or logged: the next request is rebuilt from
//! `paging.cursors.after`.

use super::tokens::SharedToken;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::http::{ApiClient, HttpPolicy};
use super::meta::{self, WireList, parse_time};
use super::{Page, PlatformClient, PlatformError};
use crate::domain::{AuthorRole, Comment, Media, QuotaReading};

const MEDIA_FIELDS: &str = "id,caption,media_product_type,timestamp,permalink,comments_count";
const COMMENT_FIELDS: &str = "id,text,timestamp,username,from{id,username},parent_id,hidden";
/// Graph's limit on ids in one multi-id lookup.
const IDS_PER_LOOKUP: usize = 50;
const MEDIA_PAGE_SIZE: u32 = 25;

/// Who counts as the account's owner, and which handles belong to the sponsoring brands.
#[derive(Debug, Clone)]
pub struct Identity {
    pub account_id: String,
    pub owner_handle: String,
    pub brand_handles: Vec<String>,
}

impl Identity {
    /// The owner is recognised by id or by handle (case-insensitive): whether `from.id` on the
    /// owner's replies is the IG user id or a scoped id is not documented, so both are checked.
    fn role_of(&self, from_id: Option<&str>, username: &str) -> AuthorRole {
        if from_id == Some(self.account_id.as_str())
            || username.eq_ignore_ascii_case(&self.owner_handle)
        {
            AuthorRole::Owner
        } else if self
            .brand_handles
            .iter()
            .any(|b| b.eq_ignore_ascii_case(username))
        {
            AuthorRole::Brand
        } else {
            AuthorRole::Audience
        }
    }
}

pub struct InstagramClient {
    api: ApiClient,
    base_url: String,
    token: SharedToken,
    identity: Identity,
    page_size: u32,
}

impl InstagramClient {
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new(
        base_url: &str,
        token: impl Into<SharedToken>,
        identity: Identity,
        page_size: u32,
        policy: HttpPolicy,
    ) -> Result<Self, PlatformError> {
        Ok(InstagramClient {
            api: ApiClient::new(policy)?.with_usage_probe(meta::usage_percent),
            base_url: base_url.trim_end_matches('/').to_owned(),
            token: token.into(),
            identity,
            page_size,
        })
    }

    async fn get<T: DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, PlatformError> {
        meta::graph_get(&self.api, &self.base_url, &self.token, what, path, query).await
    }

    /// The rest of a thread's replies after the nested expansion's first page.
    async fn remaining_replies(
        &self,
        comment_id: &str,
        after: String,
    ) -> Result<Vec<WireComment>, PlatformError> {
        let limit = self.page_size.to_string();
        let path = format!("{comment_id}/replies");
        meta::collect_pages(Some(after), |after| {
            let (path, limit) = (&path, &limit);
            async move {
                let after = after.unwrap_or_default();
                self.get(
                    "replies",
                    path,
                    &[
                        ("fields", COMMENT_FIELDS),
                        ("limit", limit),
                        ("after", &after),
                    ],
                )
                .await
            }
        })
        .await
    }

    /// Flattens threads into comments: each top-level comment followed by all its replies.
    async fn flatten_threads(
        &self,
        threads: Vec<WireComment>,
    ) -> Result<Vec<Comment>, PlatformError> {
        let mut out = Vec::with_capacity(threads.len());
        for mut thread in threads {
            let mut replies = thread.replies.take().unwrap_or_default();
            if let Some(after) = replies.next_cursor() {
                let id = thread.id.clone().unwrap_or_default();
                replies
                    .data
                    .extend(self.remaining_replies(&id, after).await?);
            }
            let parent = thread.id.clone();
            out.push(self.to_comment(thread, None)?);
            for reply in replies.data {
                out.push(self.to_comment(reply, parent.clone())?);
            }
        }
        Ok(out)
    }

    fn to_comment(
        &self,
        wire: WireComment,
        parent: Option<String>,
    ) -> Result<Comment, PlatformError> {
        let id = wire
            .id
            .ok_or_else(|| malformed("a comment without an id"))?;
        let created_at = parse_time(wire.timestamp.as_deref())
            .ok_or_else(|| malformed(&format!("comment {id} has no valid timestamp")))?;
        let (from_id, from_username) = match wire.from {
            Some(from) => (from.id, from.username),
            None => (None, None),
        };
        let username = wire.username.or(from_username).unwrap_or_default();
        Ok(Comment {
            role: self.identity.role_of(from_id.as_deref(), &username),
            parent_id: wire.parent_id.or(parent),
            external_id: id,
            author_id: from_id,
            author_handle: username,
            text: wire.text.unwrap_or_default(),
            created_at,
            hidden: wire.hidden.unwrap_or(false),
        })
    }
}

impl PlatformClient for InstagramClient {
    fn quota_reading(&self) -> QuotaReading {
        self.api
            .usage_percent()
            .map_or(QuotaReading::Unknown, |percent| {
                QuotaReading::UsagePercent { percent }
            })
    }

    async fn list_posts(&self, after: Option<&str>) -> Result<Page<Media>, PlatformError> {
        let limit = MEDIA_PAGE_SIZE.to_string();
        let mut query = vec![("fields", MEDIA_FIELDS), ("limit", limit.as_str())];
        if let Some(after) = after {
            query.push(("after", after));
        }
        let path = format!("{}/media", self.identity.account_id);
        let page: WireList<WireMedia> = self.get("media", &path, &query).await?;
        let next = page.next_cursor();
        let items = page
            .data
            .into_iter()
            .map(|m| {
                let id =
                    m.id.ok_or_else(|| malformed("a media object without an id"))?;
                Ok(Media {
                    created_at: parse_time(m.timestamp.as_deref())
                        .ok_or_else(|| malformed(&format!("media {id} has no valid timestamp")))?,
                    external_id: id,
                    caption: m.caption.unwrap_or_default(),
                    permalink: m.permalink,
                    comments_count: m.comments_count,
                })
            })
            .collect::<Result<_, PlatformError>>()?;
        Ok(Page { items, next })
    }

    async fn list_comments(
        &self,
        post_id: &str,
        after: Option<&str>,
    ) -> Result<Page<Comment>, PlatformError> {
        let fields = thread_fields();
        let limit = self.page_size.to_string();
        let mut query = vec![("fields", fields.as_str()), ("limit", limit.as_str())];
        if let Some(after) = after {
            query.push(("after", after));
        }
        let page: WireList<WireComment> = self
            .get("comments", &format!("{post_id}/comments"), &query)
            .await?;
        let next = page.next_cursor();
        let items = self.flatten_threads(page.data).await?;
        Ok(Page { items, next })
    }

    async fn fetch_threads(
        &self,
        _post_id: &str,
        comment_ids: &[String],
    ) -> Result<Vec<Comment>, PlatformError> {
        let fields = thread_fields();
        let mut out = Vec::new();
        for chunk in comment_ids.chunks(IDS_PER_LOOKUP) {
            let ids = chunk.join(",");
            let found: std::collections::BTreeMap<String, WireComment> = match self
                .get("threads", "", &[("ids", &ids), ("fields", &fields)])
                .await
            {
                Ok(found) => found,
                // One deleted comment fails the whole lookup: fall back to one call per comment.
                Err(PlatformError::NotFound { .. }) => {
                    let mut found = std::collections::BTreeMap::new();
                    for id in chunk {
                        match self.get("thread", id, &[("fields", &fields)]).await {
                            Ok(thread) => {
                                found.insert(id.clone(), thread);
                            }
                            Err(PlatformError::NotFound { .. }) => {}
                            Err(e) => return Err(e),
                        }
                    }
                    found
                }
                Err(e) => return Err(e),
            };
            out.extend(self.flatten_threads(found.into_values().collect()).await?);
        }
        Ok(out)
    }
}

fn malformed(reason: &str) -> PlatformError {
    PlatformError::Malformed {
        reason: reason.to_owned(),
    }
}

// Wire shapes. Graph omits empty edges and null fields, so everything is optional.

#[derive(Debug, Deserialize)]
struct WireMedia {
    id: Option<String>,
    caption: Option<String>,
    timestamp: Option<String>,
    permalink: Option<String>,
    comments_count: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct WireComment {
    id: Option<String>,
    text: Option<String>,
    timestamp: Option<String>,
    username: Option<String>,
    from: Option<WireFrom>,
    parent_id: Option<String>,
    hidden: Option<bool>,
    replies: Option<WireList<WireComment>>,
}

#[derive(Debug, Deserialize)]
struct WireFrom {
    id: Option<String>,
    username: Option<String>,
}

/// A comment with the first page of its replies: as many as Instagram serves in one page
/// (`.limit(50)`; without it Graph sends a short first page), so a busy thread rarely needs a
/// `/replies` call of its own.
fn thread_fields() -> String {
    format!("{COMMENT_FIELDS},replies.limit(50){{{COMMENT_FIELDS}}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_is_recognised_by_id_or_handle() {
        let identity = Identity {
            account_id: "1784".into(),
            owner_handle: "GlowWithJess".into(),
            brand_handles: vec!["glowlab".into()],
        };
        assert_eq!(identity.role_of(Some("1784"), "x"), AuthorRole::Owner);
        assert_eq!(
            identity.role_of(Some("999"), "glowwithjess"),
            AuthorRole::Owner
        );
        assert_eq!(identity.role_of(None, "GlowLab"), AuthorRole::Brand);
        assert_eq!(
            identity.role_of(Some("5"), "maple.mia"),
            AuthorRole::Audience
        );
    }
}
