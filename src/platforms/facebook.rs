//! Facebook Pages client (Graph API with a Page access token).
//!
//! Reads `/{page-id}/posts` (each post's comment count, replies included, comes in the same call
//! through `comments.filter(stream).limit(0).summary(true)`), each post's top-level comments with
//! `/{post-id}/comments?filter=toplevel&order=reverse_chronological&summary=true` (newest first,
//! so a walk can stop at what is already stored) with the first page of every thread's replies
//! embedded as a nested `comments{…}` edge, and `/{comment-id}/comments` only for threads whose
//! replies run past that first page (or whose replies were not embedded although `comment_count`
//! announces some). Open questions are re-read with the multi-id lookup `/?ids=…`, replies
//! embedded the same way. The token travels in an `Authorization: Bearer` header; the
//! `paging.next` URLs Graph returns repeat it in their query string, so they are never followed
//! or logged: the next request is rebuilt from `paging.cursors.after`.
//!
//! Who wrote a comment: the owner is the Page itself, recognised by `from.id` equal to the Page
//! id. An admin replying from their personal profile is not the Page, and neither is a comment
//! whose `from` is missing: Graph leaves `from` out when the token may not see the author
//! (no `pages_read_user_content`, or an author who restricts it); such comments are kept, with an
//! unknown author. Brands are recognised by their display name (`from.name`), the only handle-like
//! thing Graph gives, compared case-insensitively with the campaign's brand handle.
//!
//! Errors, throttling (codes 32/80001 with `X-Business-Use-Case-Usage` of type `pages`) and usage
//! headers are Meta's, interpreted by `meta.rs` exactly as for Instagram.

use std::collections::BTreeMap;

use super::tokens::SharedToken;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::http::{ApiClient, HttpPolicy};
use super::meta::{self, WireList, parse_time};
use super::{Page, PlatformClient, PlatformError};
use crate::domain::{AuthorRole, Comment, Media, QuotaReading};

/// The post's fields, and its comment count (replies included) through the nested edge with
/// `limit(0)`: the same call lists posts and tells which ones have new comments, which the
/// schedule needs to skip unchanged posts and to notice replies arriving under old threads.
const POST_FIELDS: &str =
    "id,message,created_time,permalink_url,comments.filter(stream).limit(0).summary(true)";
/// A comment's fields. `parent{id}` is asked for so a reply's wire shape is complete; the thread
/// a reply belongs to is known from the endpoint it came from, since Graph may attach a
/// reply-to-a-reply to either.
macro_rules! comment_fields {
    () => {
        "id,message,created_time,from{id,name},comment_count,parent{id},is_hidden,permalink_url"
    };
}
const REPLY_FIELDS: &str = comment_fields!();
/// Top-level comments carry the first page of their replies, 50 of them (without `.limit` the
/// first nested page is short; much more, times a page of threads, risks Graph's "reduce the
/// amount of data" refusal), so an answered thread usually costs no call of its own.
const THREAD_FIELDS: &str = concat!(
    comment_fields!(),
    ",comments.order(reverse_chronological).limit(50){",
    comment_fields!(),
    "}"
);
/// Graph's limit on ids in one multi-id lookup.
const IDS_PER_LOOKUP: usize = 50;
const POST_PAGE_SIZE: u32 = 25;
/// Graph documents no maximum for `limit` on comments (servers cap it silently); 100 is the size
/// Meta's own examples use, so larger settings are clamped here.
const MAX_PAGE_SIZE: u32 = 100;

/// Which Page is watched, and which display names belong to the sponsoring brands.
#[derive(Debug, Clone)]
pub struct Identity {
    pub page_id: String,
    pub brand_handles: Vec<String>,
}

impl Identity {
    /// Only the Page id makes the owner: a personal profile of an admin is someone else, and a
    /// missing `from` is never the owner.
    fn role_of(&self, from: Option<&WireFrom>) -> AuthorRole {
        let Some(from) = from else {
            return AuthorRole::Audience;
        };
        if from.id.as_deref() == Some(self.page_id.as_str()) {
            return AuthorRole::Owner;
        }
        let name = from.name.as_deref().unwrap_or_default();
        if !name.is_empty()
            && self
                .brand_handles
                .iter()
                .any(|b| b.eq_ignore_ascii_case(name))
        {
            AuthorRole::Brand
        } else {
            AuthorRole::Audience
        }
    }
}

pub struct FacebookClient {
    api: ApiClient,
    base_url: String,
    token: SharedToken,
    identity: Identity,
    page_size: u32,
}

impl FacebookClient {
    /// `page_size` is the `limit` of comment listings, clamped to 1–100.
    ///
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new(
        base_url: &str,
        token: impl Into<SharedToken>,
        identity: Identity,
        page_size: u32,
        policy: HttpPolicy,
    ) -> Result<Self, PlatformError> {
        Ok(FacebookClient {
            api: ApiClient::new(policy)?.with_usage_probe(meta::usage_percent),
            base_url: base_url.trim_end_matches('/').to_owned(),
            token: token.into(),
            identity,
            page_size: page_size.clamp(1, MAX_PAGE_SIZE),
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

    /// A thread's replies from the page after `after` (from the first page when `None`) to the
    /// end, following the replies' own paging (a server serving the same page again ends the
    /// walk instead of repeating it).
    async fn replies_after(
        &self,
        comment_id: &str,
        after: Option<String>,
    ) -> Result<Vec<WireComment>, PlatformError> {
        let limit = self.page_size.to_string();
        let path = format!("{comment_id}/comments");
        meta::collect_pages(after, |after| {
            let (path, limit) = (&path, &limit);
            async move {
                let mut query = vec![
                    ("fields", REPLY_FIELDS),
                    ("order", "reverse_chronological"),
                    ("limit", limit.as_str()),
                ];
                if let Some(after) = after.as_deref() {
                    query.push(("after", after));
                }
                self.get("replies", path, &query).await
            }
        })
        .await
    }

    /// Every reply of a thread, once each: the embedded first page, then the rest through the
    /// thread's own paging. Without an embedded page (a server that ignores nested edges) the
    /// replies are read from the start when `comment_count` announces some.
    async fn thread_replies(
        &self,
        thread_id: &str,
        embedded: Option<WireList<WireComment>>,
        announced: u64,
    ) -> Result<Vec<WireComment>, PlatformError> {
        let mut replies = match embedded {
            Some(mut first) => {
                if let Some(after) = first.next_cursor() {
                    let rest = self.replies_after(thread_id, Some(after)).await?;
                    first.data.extend(rest);
                }
                first.data
            }
            None if announced > 0 => self.replies_after(thread_id, None).await?,
            None => Vec::new(),
        };
        let mut seen = std::collections::HashSet::new();
        replies.retain(|r| r.id.as_ref().is_none_or(|id| seen.insert(id.clone())));
        Ok(replies)
    }

    /// Each top-level comment followed by all of its replies.
    async fn flatten_threads(
        &self,
        threads: Vec<WireComment>,
    ) -> Result<Vec<Comment>, PlatformError> {
        let mut out = Vec::with_capacity(threads.len());
        for mut thread in threads {
            let embedded = thread.comments.take();
            let announced = thread.comment_count.unwrap_or(0);
            let top = self.to_comment(thread, None)?;
            let replies = self
                .thread_replies(&top.external_id, embedded, announced)
                .await?;
            let parent = top.external_id.clone();
            out.push(top);
            for reply in replies {
                out.push(self.to_comment(reply, Some(parent.clone()))?);
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
        let created_at = parse_time(wire.created_time.as_deref())
            .ok_or_else(|| malformed(&format!("comment {id} has no valid created_time")))?;
        let role = self.identity.role_of(wire.from.as_ref());
        let (author_id, author_handle) = match wire.from {
            Some(from) => (from.id, from.name.unwrap_or_default()),
            None => (None, String::new()),
        };
        Ok(Comment {
            external_id: id,
            parent_id: parent,
            author_id,
            author_handle,
            text: wire.message.unwrap_or_default(),
            created_at,
            role,
            hidden: wire.is_hidden.unwrap_or(false),
        })
    }

    /// The top-level comments among `ids` that still exist, by a multi-id lookup; one deleted
    /// comment fails a whole lookup (100/33), so then each id is asked for on its own.
    async fn lookup(&self, ids: &[String]) -> Result<Vec<WireComment>, PlatformError> {
        let joined = ids.join(",");
        match self
            .get::<BTreeMap<String, WireComment>>(
                "threads",
                "",
                &[("ids", &joined), ("fields", THREAD_FIELDS)],
            )
            .await
        {
            Ok(found) => Ok(found.into_values().collect()),
            Err(PlatformError::NotFound { .. }) => {
                let mut found = Vec::new();
                for id in ids {
                    match self.get("thread", id, &[("fields", THREAD_FIELDS)]).await {
                        Ok(thread) => found.push(thread),
                        Err(PlatformError::NotFound { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(found)
            }
            Err(e) => Err(e),
        }
    }
}

impl PlatformClient for FacebookClient {
    fn quota_reading(&self) -> QuotaReading {
        self.api
            .usage_percent()
            .map_or(QuotaReading::Unknown, |percent| {
                QuotaReading::UsagePercent { percent }
            })
    }

    async fn list_posts(&self, after: Option<&str>) -> Result<Page<Media>, PlatformError> {
        let limit = POST_PAGE_SIZE.to_string();
        let mut query = vec![("fields", POST_FIELDS), ("limit", limit.as_str())];
        if let Some(after) = after {
            query.push(("after", after));
        }
        let path = format!("{}/posts", self.identity.page_id);
        let page: WireList<WirePost> = self.get("posts", &path, &query).await?;
        let next = page.next_cursor();
        let items = page
            .data
            .into_iter()
            .map(|p| {
                let id = p.id.ok_or_else(|| malformed("a post without an id"))?;
                Ok(Media {
                    created_at: parse_time(p.created_time.as_deref()).ok_or_else(|| {
                        malformed(&format!("post {id} has no valid created_time"))
                    })?,
                    external_id: id,
                    caption: p.message.unwrap_or_default(),
                    permalink: p.permalink_url,
                    comments_count: p
                        .comments
                        .and_then(|c| c.summary)
                        .and_then(|s| s.total_count),
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
        let limit = self.page_size.to_string();
        let mut query = vec![
            ("filter", "toplevel"),
            ("order", "reverse_chronological"),
            ("summary", "true"),
            ("fields", THREAD_FIELDS),
            ("limit", limit.as_str()),
        ];
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
        let mut out = Vec::new();
        for chunk in comment_ids.chunks(IDS_PER_LOOKUP) {
            let found = self.lookup(chunk).await?;
            out.extend(self.flatten_threads(found).await?);
        }
        Ok(out)
    }
}

fn malformed(reason: &str) -> PlatformError {
    PlatformError::Malformed {
        reason: reason.to_owned(),
    }
}

// Wire shapes of the Graph Page objects (§2 of the platform reference). Graph omits null fields
// and whatever the token may not see, so everything is optional.

#[derive(Debug, Deserialize)]
struct WirePost {
    id: Option<String>,
    message: Option<String>,
    created_time: Option<String>,
    permalink_url: Option<String>,
    /// `comments.limit(0).summary(true)`: no items, only the summary.
    comments: Option<WireCommentsSummary>,
}

#[derive(Debug, Deserialize)]
struct WireCommentsSummary {
    summary: Option<WireSummary>,
}

/// `summary{order,total_count,can_comment}`; `total_count` is approximate on busy posts, which
/// is fine for a hint.
#[derive(Debug, Deserialize)]
struct WireSummary {
    total_count: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct WireComment {
    id: Option<String>,
    message: Option<String>,
    created_time: Option<String>,
    /// Missing when the token may not see the author.
    from: Option<WireFrom>,
    /// Replies from anyone; `> 0` only says that someone replied.
    comment_count: Option<u64>,
    is_hidden: Option<bool>,
    /// The first page of a thread's replies, when asked for as a nested edge; omitted when empty.
    comments: Option<WireList<WireComment>>,
}

#[derive(Debug, Deserialize)]
struct WireFrom {
    id: Option<String>,
    name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        Identity {
            page_id: "104567890123456".into(),
            brand_handles: vec!["glowlab".into()],
        }
    }

    fn from(id: &str, name: &str) -> WireFrom {
        WireFrom {
            id: Some(id.into()),
            name: Some(name.into()),
        }
    }

    #[test]
    fn only_the_page_id_makes_the_owner() {
        let identity = identity();
        assert_eq!(
            identity.role_of(Some(&from("104567890123456", "Glow With Jess"))),
            AuthorRole::Owner
        );
        // An admin answering from their personal profile, with the Page's display name.
        assert_eq!(
            identity.role_of(Some(&from("6543210987654321", "Glow With Jess"))),
            AuthorRole::Audience
        );
        assert_eq!(identity.role_of(None), AuthorRole::Audience);
        assert_eq!(
            identity.role_of(Some(&from("1", "GlowLab"))),
            AuthorRole::Brand
        );
    }

    #[test]
    fn the_documented_comment_shape_parses() {
        let body = r#"{
          "data": [
            {"id": "788812345678901_1203456789012345", "message": "Is this available in size M? Link pls 🙏",
             "created_time": "2024-05-02T08:21:40+0000", "from": {"id": "6543210987654321", "name": "Dana Ruiz"},
             "comment_count": 1, "like_count": 0, "can_reply_privately": true, "is_hidden": false,
             "permalink_url": "https://www.facebook.com/104567890123456/posts/788812345678901?comment_id=1203456789012345"},
            {"id": "788812345678901_1203456789099999", "message": "👀", "created_time": "2024-05-02T08:20:00+0000",
             "comment_count": 0, "is_hidden": true}
          ],
          "paging": {"cursors": {"before": "MTAyMDM0NTY3ODkw", "after": "MTAyMDM0NTY3ODkx"},
                     "next": "https://graph.facebook.com/v23.0/104567890123456_788812345678901/comments?limit=100&after=MTAyMDM0NTY3ODkx&access_token=EAAB..."},
          "summary": {"order": "reverse_chronological", "total_count": 37, "can_comment": true}
        }"#;
        let list: WireList<WireComment> = serde_json::from_str(body).unwrap();
        assert_eq!(list.next_cursor().as_deref(), Some("MTAyMDM0NTY3ODkx"));
        let client = FacebookClient::new(
            "http://127.0.0.1:9/v23.0",
            secrecy::SecretString::from("EAAB".to_owned()),
            identity(),
            500,
            HttpPolicy::default(),
        )
        .unwrap();
        assert_eq!(client.page_size, MAX_PAGE_SIZE);
        let mut comments = list
            .data
            .into_iter()
            .map(|w| client.to_comment(w, None))
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let anonymous = comments.pop().unwrap();
        assert_eq!(anonymous.author_id, None);
        assert_eq!(anonymous.author_handle, "");
        assert_eq!(anonymous.role, AuthorRole::Audience);
        assert!(anonymous.hidden);
        let first = comments.pop().unwrap();
        assert_eq!(first.author_handle, "Dana Ruiz");
        assert_eq!(first.text, "Is this available in size M? Link pls 🙏");
        assert_eq!(first.created_at.to_rfc3339(), "2024-05-02T08:21:40+00:00");
        assert!(!first.hidden);
    }

    #[test]
    fn a_comment_without_a_time_is_malformed() {
        let client = FacebookClient::new(
            "http://127.0.0.1:9",
            secrecy::SecretString::from("EAAB".to_owned()),
            identity(),
            10,
            HttpPolicy::default(),
        )
        .unwrap();
        let wire: WireComment = serde_json::from_str(r#"{"id":"1_2","message":"hi"}"#).unwrap();
        assert!(matches!(
            client.to_comment(wire, None),
            Err(PlatformError::Malformed { .. })
        ));
    }
}
