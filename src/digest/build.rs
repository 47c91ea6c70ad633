//! What a digest contains, decided from store rows at a given `now`.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use crate::domain::Category;
use crate::store::{CountGap, FailingDelivery, OpenQuestion, Totals};

/// Same-category questions on one post from this many people are grouped: answer once, pin a
/// reply, or fix the caption.
pub const GROUP_THRESHOLD: usize = 3;
/// Meta lets a business reply privately to a comment only within 7 days of it.
const PRIVATE_REPLY_WINDOW: Duration = Duration::days(7);
/// The private-reply window is flagged during its last day.
const PRIVATE_REPLY_WARNING: Duration = Duration::days(1);

/// Language of the digest's own words.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    #[default]
    En,
    Es,
}

/// What shapes a digest besides the data: who it is for and their preferences.
#[derive(Debug, Clone)]
pub struct DigestOptions {
    pub recipient: String,
    pub timezone: chrono_tz::Tz,
    pub language: Language,
    /// Questions younger than this are left out.
    pub min_age: Duration,
    /// Questions older than this are overdue.
    pub sla: Duration,
    /// Suggested replies per campaign and category.
    pub templates: HashMap<String, BTreeMap<Category, String>>,
}

/// Everything the store knows that goes into one digest.
#[derive(Debug, Clone, Default)]
pub struct DigestInput {
    pub questions: Vec<OpenQuestion>,
    /// Comment keys an earlier digest already showed this recipient.
    pub listed_before: HashSet<i64>,
    pub totals: Totals,
    pub health: Vec<HealthNote>,
    /// Comments from the last day saying a discount code does not work.
    pub discount_alerts: Vec<DiscountAlert>,
}

/// A comment saying a discount code does not work: every sale it touches is lost until the code
/// is fixed, so it leads the digest the day it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscountAlert {
    pub account: String,
    pub author: String,
    pub text: String,
    /// The campaign code the comment names, if it names one.
    pub code: Option<String>,
    pub link: Option<String>,
    pub age: Duration,
}

/// One recipient's digest at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Digest {
    pub recipient: String,
    pub timezone: chrono_tz::Tz,
    pub language: Language,
    pub generated_at: DateTime<Utc>,
    pub totals: Totals,
    pub posts: Vec<PostGroup>,
    pub health: Vec<HealthNote>,
    pub discount_alerts: Vec<DiscountAlert>,
    /// Open questions younger than the minimum age, left for the next digest.
    pub too_recent: usize,
}

/// The open questions of one post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostGroup {
    pub account: String,
    pub platform: String,
    pub post_id: String,
    pub caption: String,
    pub permalink: Option<String>,
    pub groups: Vec<QuestionGroup>,
}

/// Questions of one category on one post. A group of [`GROUP_THRESHOLD`] or more is shown as
/// "N people asked about …"; smaller ones are plain lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuestionGroup {
    pub category: Category,
    pub questions: Vec<DigestQuestion>,
}

impl QuestionGroup {
    pub fn is_grouped(&self) -> bool {
        self.questions.len() >= GROUP_THRESHOLD
    }
}

/// One open question, with everything needed to answer it in one tap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestQuestion {
    pub key: i64,
    pub author: String,
    pub text: String,
    pub category: Category,
    pub rule: String,
    pub asked_at: DateTime<Utc>,
    pub age: Duration,
    /// A direct link to the comment, when the platform has one.
    pub link: Option<String>,
    /// Already shown in an earlier digest and still open.
    pub reminder: bool,
    /// Waiting longer than the recipient's SLA.
    pub overdue: bool,
    /// Time left to reply privately (Meta's 7-day window), during the window's last day.
    pub private_reply_left: Option<Duration>,
    /// Drafted from the campaign's answer template for the category.
    pub suggested_reply: Option<String>,
}

/// A silent failure, shown where the user already looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthNote {
    /// The account's last poll failed (expired token, permission, outage).
    PollFailing {
        account: String,
        failures: i64,
        error: String,
    },
    /// The account's token can no longer be renewed: polling stops until the user acts.
    TokenDead { account: String, reason: String },
    /// The account's token expires soon (or did) and the worker cannot renew it.
    TokenExpiring {
        account: String,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    /// The account has not been polled successfully for too long, or never.
    PollStale {
        account: String,
        last_success: Option<DateTime<Utc>>,
    },
    /// The platform counts more comments on a post than were fetched.
    CountGap(CountGap),
    /// A digest channel keeps failing; its digest is kept and retried.
    DeliveryFailing(FailingDelivery),
}

impl Digest {
    pub fn question_count(&self) -> usize {
        self.questions().count()
    }

    pub fn new_count(&self) -> usize {
        self.questions().filter(|q| !q.reminder).count()
    }

    pub fn overdue_count(&self) -> usize {
        self.questions().filter(|q| q.overdue).count()
    }

    /// The longest any listed question has waited.
    pub fn oldest_age(&self) -> Option<Duration> {
        self.questions().map(|q| q.age).max()
    }

    pub fn questions(&self) -> impl Iterator<Item = &DigestQuestion> {
        self.posts
            .iter()
            .flat_map(|p| p.groups.iter().flat_map(|g| g.questions.iter()))
    }
}

/// Builds a digest: questions old enough, grouped by post (the store's order: oldest post first)
/// and by category within a post (the category asked first comes first), each marked new or
/// reminder, overdue, and near the private-reply deadline.
pub fn build_digest(options: &DigestOptions, input: DigestInput, now: DateTime<Utc>) -> Digest {
    let mut posts: Vec<PostGroup> = Vec::new();
    let mut too_recent = 0;
    for q in input.questions {
        let age = (now - q.created_at).max(Duration::zero());
        if age < options.min_age {
            too_recent += 1;
            continue;
        }
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
                groups: Vec::new(),
            });
        }
        let link = q
            .post_permalink
            .as_deref()
            .map(|p| comment_link(&q.platform, p, &q.comment_external_id));
        let suggested_reply = q
            .campaign
            .as_ref()
            .and_then(|c| options.templates.get(c))
            .and_then(|t| t.get(&q.category))
            .map(|template| fill_author(template, &q.author_handle));
        let meta = matches!(q.platform.as_str(), "instagram" | "facebook");
        let private_left = PRIVATE_REPLY_WINDOW - age;
        let question = DigestQuestion {
            key: q.comment_key,
            reminder: input.listed_before.contains(&q.comment_key),
            overdue: age > options.sla,
            private_reply_left: (meta
                && private_left > Duration::zero()
                && private_left <= PRIVATE_REPLY_WARNING)
                .then_some(private_left),
            author: q.author_handle,
            text: q.text,
            category: q.category,
            rule: q.rule,
            asked_at: q.created_at,
            age,
            link,
            suggested_reply,
        };
        let post = posts.last_mut().expect("a post group was just pushed");
        match post
            .groups
            .iter_mut()
            .find(|g| g.category == question.category)
        {
            Some(group) => group.questions.push(question),
            None => post.groups.push(QuestionGroup {
                category: question.category,
                questions: vec![question],
            }),
        }
    }
    Digest {
        recipient: options.recipient.clone(),
        timezone: options.timezone,
        language: options.language,
        generated_at: now,
        totals: input.totals,
        posts,
        health: input.health,
        discount_alerts: input.discount_alerts,
        too_recent,
    }
}

/// Instagram opens a comment at `<post permalink>c/<comment id>/`, Facebook at
/// `<post permalink>?comment_id=<the part of the comment id after the post's>`; elsewhere the
/// post's link is the closest a link gets.
pub(crate) fn comment_link(platform: &str, permalink: &str, comment_id: &str) -> String {
    match platform {
        "instagram" => {
            let base = permalink.trim_end_matches('/');
            format!("{base}/c/{comment_id}/")
        }
        "facebook" if !permalink.contains('?') => {
            let tail = comment_id.rsplit('_').next().unwrap_or(comment_id);
            format!("{permalink}?comment_id={tail}")
        }
        _ => permalink.to_owned(),
    }
}

/// Puts the asker's handle into a reply template; with no handle known (Facebook may hide the
/// author) the mention is dropped rather than left as a bare `@`.
fn fill_author(template: &str, handle: &str) -> String {
    if handle.is_empty() {
        template
            .replace(" @{author}", "")
            .replace("@{author}", "")
            .replace("{author}", "")
    } else {
        template.replace("{author}", handle)
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
    fn a_hidden_author_leaves_no_bare_mention_in_a_reply() {
        let template = "Hi @{author}! Link in bio";
        assert_eq!(fill_author(template, "dana"), "Hi @dana! Link in bio");
        assert_eq!(fill_author(template, ""), "Hi! Link in bio");
    }

    #[test]
    fn facebook_comment_links_point_at_the_comment() {
        assert_eq!(
            comment_link(
                "facebook",
                "https://www.facebook.com/104567890123456/posts/788812345678901",
                "788812345678901_1203456789012345"
            ),
            "https://www.facebook.com/104567890123456/posts/788812345678901?comment_id=1203456789012345"
        );
    }

    #[test]
    fn instagram_comment_links_point_at_the_comment() {
        assert_eq!(
            comment_link("instagram", "https://www.instagram.com/p/C6abc/", "1799"),
            "https://www.instagram.com/p/C6abc/c/1799/"
        );
    }

    fn question(key: i64, category: Category, hours_ago: i64, now: DateTime<Utc>) -> OpenQuestion {
        OpenQuestion {
            comment_key: key,
            campaign: Some("c".into()),
            account: "jess".into(),
            platform: "instagram".into(),
            post_external_id: "p1".into(),
            post_caption: "caption".into(),
            post_permalink: Some("https://www.instagram.com/p/X/".into()),
            comment_external_id: format!("c{key}"),
            author_handle: format!("fan{key}"),
            text: "how much?".into(),
            category,
            rule: "r".into(),
            created_at: now - Duration::hours(hours_ago),
        }
    }

    #[test]
    fn digests_group_mark_and_filter_questions() {
        let now = Utc::now();
        let mut templates = HashMap::new();
        templates.insert(
            "c".to_string(),
            BTreeMap::from([(Category::Price, "Hi @{author}, it's $29".to_string())]),
        );
        let options = DigestOptions {
            recipient: "jess".into(),
            timezone: chrono_tz::UTC,
            language: Language::En,
            min_age: Duration::minutes(30),
            sla: Duration::hours(24),
            templates,
        };
        let mut recent = question(9, Category::Price, 0, now);
        recent.created_at = now - Duration::minutes(10);
        let input = DigestInput {
            questions: vec![
                question(1, Category::Price, 150, now),
                question(2, Category::Shipping, 30, now),
                question(3, Category::Price, 20, now),
                question(4, Category::Price, 2, now),
                recent,
            ],
            listed_before: HashSet::from([1]),
            ..DigestInput::default()
        };
        let digest = build_digest(&options, input, now);
        assert_eq!(digest.question_count(), 4);
        assert_eq!(digest.too_recent, 1);
        assert_eq!(digest.new_count(), 3);
        assert_eq!(digest.overdue_count(), 2);
        let groups = &digest.posts[0].groups;
        assert_eq!(groups[0].category, Category::Price);
        assert!(groups[0].is_grouped(), "three price questions are grouped");
        assert!(!groups[1].is_grouped());
        let first = &groups[0].questions[0];
        assert!(first.reminder);
        assert_eq!(first.suggested_reply.as_deref(), Some("Hi @fan1, it's $29"));
        assert!(
            first.private_reply_left.is_some(),
            "150 h old: the 7-day window closes within a day"
        );
        assert!(groups[1].questions[0].suggested_reply.is_none());
    }
}
