//! Posts and comments as every platform module hands them over, already parsed.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The platforms comment-triage polls. Dispatch on this enum, never on platform name strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Instagram,
    Facebook,
    Youtube,
    Tiktok,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Instagram => "instagram",
            Platform::Facebook => "facebook",
            Platform::Youtube => "youtube",
            Platform::Tiktok => "tiktok",
        }
    }

    /// The most comments one page of the platform's comment listing holds: asking for more
    /// costs nothing but gets no more (Instagram caps `limit` at 50, TikTok `max_count` at 30,
    /// YouTube `maxResults` and Facebook `limit` at 100).
    pub fn max_comments_per_page(self) -> u32 {
        match self {
            Platform::Instagram => 50,
            Platform::Tiktok => 30,
            Platform::Youtube | Platform::Facebook => 100,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown platform {0:?}; expected instagram, facebook, youtube or tiktok")]
pub struct UnknownPlatform(pub String);

impl FromStr for Platform {
    type Err = UnknownPlatform;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "instagram" => Ok(Platform::Instagram),
            "facebook" => Ok(Platform::Facebook),
            "youtube" => Ok(Platform::Youtube),
            "tiktok" => Ok(Platform::Tiktok),
            other => Err(UnknownPlatform(other.to_owned())),
        }
    }
}

/// A post (IG media, FB post, YouTube video, TikTok video) on a watched account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    pub external_id: String,
    pub caption: String,
    pub permalink: Option<String>,
    pub created_at: DateTime<Utc>,
    /// What the platform says the comment count is: a hint only (restricted users, filters).
    pub comments_count: Option<u64>,
}

/// Who wrote a comment, relative to the account being watched. Decided by the platform module,
/// because each platform marks the owner differently (ids, handles, `owner: true`, channel ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthorRole {
    /// The creator who owns the account.
    Owner,
    /// The sponsoring brand's own account (configured per campaign).
    Brand,
    /// Anyone else.
    Audience,
}

impl AuthorRole {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthorRole::Owner => "owner",
            AuthorRole::Brand => "brand",
            AuthorRole::Audience => "audience",
        }
    }
}

impl FromStr for AuthorRole {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "owner" => Ok(AuthorRole::Owner),
            "brand" => Ok(AuthorRole::Brand),
            "audience" => Ok(AuthorRole::Audience),
            other => Err(format!("unknown author role {other:?}")),
        }
    }
}

/// One comment or reply, exactly as written (text is never trimmed or normalised before storage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub external_id: String,
    /// The top-level comment this one replies to; `None` for a top-level comment.
    pub parent_id: Option<String>,
    pub author_id: Option<String>,
    pub author_handle: String,
    pub text: String,
    pub created_at: DateTime<Utc>,
    pub role: AuthorRole,
    pub hidden: bool,
}
