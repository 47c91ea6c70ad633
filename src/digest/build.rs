//! What a digest contains.

use chrono::{DateTime, Duration, Utc};

use crate::domain::Category;
use crate::store::{OpenQuestion, Totals};

/// One recipient's digest at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Digest {
    pub recipient: String,
    pub timezone: chrono_tz::Tz,
    pub generated_at: DateTime<Utc>,
    pub totals: Totals,
    pub posts: Vec<PostGroup>,
}

/// The open questions of one post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostGroup {
    pub account: String,
    pub platform: String,
    pub post_id: String,
    pub caption: String,
    pub permalink: Option<String>,
    pub questions: Vec<DigestQuestion>,
}

/// One open question, with everything needed to answer it in one tap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestQuestion {
    pub author: String,
    pub text: String,
    pub category: Category,
    pub rule: String,
    pub asked_at: DateTime<Utc>,
    pub age: Duration,
    /// A direct link to the comment, when the platform has one.
    pub link: Option<String>,
}

impl Digest {
    pub fn question_count(&self) -> usize {
        self.posts.iter().map(|p| p.questions.len()).sum()
    }

    /// The longest any listed question has waited.
    pub fn oldest_age(&self) -> Option<Duration> {
        self.posts
            .iter()
            .flat_map(|p| p.questions.iter().map(|q| q.age))
            .max()
    }
}

/// Groups open questions by post, keeping the store's order (oldest post first, oldest question
/// first within a post). Ages are measured at `now`; a question dated in the future (clock skew)
/// has age zero.
pub fn build_digest(
    recipient: &str,
    timezone: chrono_tz::Tz,
    questions: Vec<OpenQuestion>,
    totals: Totals,
    now: DateTime<Utc>,
) -> Digest {
    let mut posts: Vec<PostGroup> = Vec::new();
    for q in questions {
        let same_post = posts
            .last()
            .is_some_and(|p| p.post_id == q.post_external_id && p.account == q.account);
        if !same_post {
            posts.push(PostGroup {
                account: q.account.clone(),
                platform: q.platform.clone(),
                post_id: q.post_external_id.clone(),
                caption: q.post_caption.clone(),
                permalink: q.post_permalink.clone(),
                questions: Vec::new(),
            });
        }
        let link = q
            .post_permalink
            .as_deref()
            .and_then(|p| comment_link(&q.platform, p, &q.comment_external_id));
        let group = posts.last_mut().expect("a group was just pushed");
        group.questions.push(DigestQuestion {
            author: q.author_handle,
            text: q.text,
            category: q.category,
            rule: q.rule,
            asked_at: q.created_at,
            age: (now - q.created_at).max(Duration::zero()),
            link,
        });
    }
    Digest {
        recipient: recipient.to_owned(),
        timezone,
        generated_at: now,
        totals,
        posts,
    }
}

/// Instagram opens a comment at `<post permalink>c/<comment id>/`.
pub(crate) fn comment_link(platform: &str, permalink: &str, comment_id: &str) -> Option<String> {
    match platform {
        "instagram" => {
            let base = permalink.trim_end_matches('/');
            Some(format!("{base}/c/{comment_id}/"))
        }
        _ => Some(permalink.to_owned()),
    }
}

/// `45m`, `3h 05m`, `2d 4h`.
pub fn format_age(age: Duration) -> String {
    let minutes = age.num_minutes().max(0);
    let (days, hours, mins) = (minutes / 1440, (minutes / 60) % 24, minutes % 60);
    match (days, hours) {
        (0, 0) => format!("{mins}m"),
        (0, h) => format!("{h}h {mins:02}m"),
        (d, h) => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_naturally() {
        assert_eq!(format_age(Duration::minutes(45)), "45m");
        assert_eq!(format_age(Duration::minutes(185)), "3h 05m");
        assert_eq!(format_age(Duration::hours(52)), "2d 4h");
        assert_eq!(format_age(Duration::minutes(-5)), "0m");
    }

    #[test]
    fn instagram_comment_links_point_at_the_comment() {
        assert_eq!(
            comment_link("instagram", "https://www.instagram.com/p/C6abc/", "1799").as_deref(),
            Some("https://www.instagram.com/p/C6abc/c/1799/")
        );
    }
}
