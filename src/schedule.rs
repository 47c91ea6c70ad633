//! Which posts a poll walks, and when an account is polled next: quota goes where comments are.
//!
//! Listing an account's posts costs one call for dozens of posts and returns each post's comment
//! count, so the listing *is* the cheap check: a post whose count has not moved since the store
//! last accounted for every comment is not walked at all. What is left to decide:
//!
//! - **Which moved posts get walked first** when the platform's budget is short: finishing an
//!   interrupted walk, then by expected value — new comments announced, weighted by freshness
//!   (questions on a post in its first day are the ones that still sell), then first backfills,
//!   then posts the platform gives no count for, then periodic edit checks.
//! - **How often a post without a count is walked**: its age divided by
//!   [`ScheduleSettings::freshness_divisor`], between one cycle and
//!   [`ScheduleSettings::max_post_interval`] (comments decay fast after posting).
//! - **When an unchanged post is walked in full anyway** to notice edits, which move no count:
//!   every [`ScheduleSettings::reconcile_interval`], stretched for older posts.
//! - **Campaign windows**: a post stops being polled [`ScheduleSettings::campaign_grace`] after
//!   the last campaign it belongs to ends.
//! - **The budget**: YouTube's daily units are spread over the time left until their reset at
//!   midnight Pacific (bursting up to [`BURST`] times the even rate for fresh activity); Meta's
//!   usage percentage throttles how many posts a cycle may walk well before the platform blocks.
//!
//! Everything here is a pure function of its inputs, so the policy is tested without a server.

use std::cmp::Ordering;

use chrono::{DateTime, Duration, Utc};

use crate::config::WorkerSettings;
pub use crate::domain::QuotaReading;

/// How far ahead of the even spending rate a cycle may spend YouTube units.
pub const BURST: i64 = 4;

/// Share of a daily unit budget the planner will spend; the rest absorbs retries and estimates.
const UNIT_SAFETY: f64 = 0.95;

/// Meta usage percentage below which the planner does not limit walks.
const META_RELAXED_PERCENT: u8 = 60;

/// Meta usage percentage at which the planner walks nothing but interrupted walks.
const META_STOP_PERCENT: u8 = 95;

/// The schedule's knobs, from `[worker]`.
#[derive(Debug, Clone)]
pub struct ScheduleSettings {
    /// One polling cycle: nothing is polled more often.
    pub cycle: Duration,
    /// A post without a comment count is walked every `age / freshness_divisor`.
    pub freshness_divisor: i32,
    /// The longest gap between two walks of a post without a comment count.
    pub max_post_interval: Duration,
    /// The shortest gap between two full walks of an unchanged post (edit checks); older posts get
    /// `max(reconcile_interval, age / 2)`.
    pub reconcile_interval: Duration,
    /// How long after a campaign ends its posts are still polled (late answers, late questions).
    pub campaign_grace: Duration,
    /// Comments per page, to estimate what a walk costs.
    pub page_size: u32,
}

impl ScheduleSettings {
    pub fn from_worker(worker: &WorkerSettings) -> ScheduleSettings {
        ScheduleSettings {
            cycle: Duration::seconds(worker.poll_interval_secs.max(1) as i64),
            freshness_divisor: worker.freshness_divisor.max(1) as i32,
            max_post_interval: Duration::minutes(worker.max_post_interval_mins.max(1) as i64),
            reconcile_interval: Duration::hours(worker.reconcile_interval_hours.max(1) as i64),
            campaign_grace: Duration::days(worker.campaign_grace_days as i64),
            page_size: worker.page_size.max(1),
        }
    }

    /// How often a post of this age is walked when the platform gives no count.
    pub fn post_interval(&self, age: Duration) -> Duration {
        (age / self.freshness_divisor).clamp(self.cycle, self.max_post_interval.max(self.cycle))
    }

    /// How often a walk goes past the watermark to look for comments the count announced but no
    /// walk found (replies in older threads): often while the post is fresh, rarely once it is
    /// old, because such a search may read many pages.
    pub fn search_interval(&self, age: Duration) -> Duration {
        (age / 2).clamp(
            self.cycle.max(Duration::hours(1)),
            self.max_post_interval.max(self.cycle),
        )
    }

    /// Whether this many comments missing from a post are worth a search now, whatever its
    /// interval: four pages of them, in the pages of the post's platform (`page_size` as that
    /// platform serves it — Instagram's 50, not the configured 100).
    pub fn search_now(&self, missing: u64) -> bool {
        missing >= 4 * u64::from(self.page_size)
    }

    /// How often an unchanged post of this age is walked in full to notice edits.
    pub fn reconcile_interval(&self, age: Duration) -> Duration {
        (age / 2).max(self.reconcile_interval)
    }
}

/// What the planner knows of one listed post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostView {
    pub created_at: DateTime<Utc>,
    /// The platform's comment count from this cycle's listing.
    pub comments_count: Option<u64>,
    /// The count the store last accounted for (`None`: never).
    pub reconciled_count: Option<u64>,
    /// Comments of that count no walk has found yet (replies in older threads).
    pub missing_comments: u64,
    /// When a walk last went past the watermark to look for them.
    pub last_search_at: Option<DateTime<Utc>>,
    /// An earlier walk was interrupted and has a cursor to resume from.
    pub walk_interrupted: bool,
    /// A walk of this post has completed at least once.
    pub ever_completed: bool,
    /// When a walk of this post last completed.
    pub last_walked_at: Option<DateTime<Utc>>,
    /// When a complete full walk (every page) of this post last ran.
    pub last_full_walk_at: Option<DateTime<Utc>>,
    /// After this instant the post is out of every campaign window; `None`: no end.
    pub polling_ends_at: Option<DateTime<Utc>>,
    /// The user asked for every post to be read in full now (`triage poll --once --full`).
    pub full_walk_requested: bool,
}

/// Why a post is walked this cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkReason {
    /// Finish a walk a crash or shutdown interrupted.
    Resume,
    /// The platform's count moved by `delta` since the store last accounted for every comment.
    CountMoved { delta: i64 },
    /// Never walked to completion: read the whole post.
    Backfill,
    /// The platform gives no count; its freshness interval has passed.
    NoCount,
    /// The count has not moved, but comments it announced earlier are still missing and the
    /// search for them is due.
    FindMissing,
    /// Unchanged count, but a full walk is due to notice edits (they move no count).
    EditCheck,
}

/// Why a post is not walked this cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// The count has not moved and no edit check is due.
    Unchanged,
    /// No count, and its freshness interval has not passed.
    NotDue { due_at: DateTime<Utc> },
    /// Every campaign window of the post closed more than the grace period ago.
    CampaignOver,
    /// Due, but this cycle's budget is spent; it goes first once there is budget again.
    OverBudget,
}

/// The decision for one post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostDecision {
    Walk(WalkReason),
    Skip(SkipReason),
}

impl PostDecision {
    pub fn walks(&self) -> bool {
        matches!(self, PostDecision::Walk(_))
    }
}

/// How many comment pages this cycle may read for one account; `None` means no limit.
pub fn page_allowance(
    quota: &QuotaReading,
    now: DateTime<Utc>,
    settings: &ScheduleSettings,
) -> Option<u64> {
    match *quota {
        QuotaReading::Unknown => None,
        QuotaReading::Units {
            used,
            limit,
            resets_at,
            per_page,
        } => {
            let spendable = ((limit as f64 * UNIT_SAFETY) as u64).saturating_sub(used);
            let left = (resets_at - now).max(settings.cycle);
            let cycles_left = (left.num_seconds() / settings.cycle.num_seconds().max(1)).max(1);
            let even = spendable as f64 / cycles_left as f64;
            let units = (even * BURST as f64).ceil().min(spendable as f64) as u64;
            Some(units / per_page.max(1))
        }
        QuotaReading::UsagePercent { percent } if percent < META_RELAXED_PERCENT => None,
        QuotaReading::UsagePercent { percent } if percent >= META_STOP_PERCENT => Some(0),
        // Between the two, a linearly shrinking number of pages per cycle: at 60 % a generous
        // 200 pages, near 95 % a handful, so the account drifts back under the limit instead of
        // hitting it and being blocked for an hour.
        QuotaReading::UsagePercent { percent } => {
            let room = u64::from(META_STOP_PERCENT - percent);
            let span = u64::from(META_STOP_PERCENT - META_RELAXED_PERCENT);
            Some((200 * room / span).max(1))
        }
    }
}

/// The decision for one post, before the budget is applied.
pub fn decide(post: &PostView, now: DateTime<Utc>, settings: &ScheduleSettings) -> PostDecision {
    if post
        .polling_ends_at
        .is_some_and(|ends| ends + settings.campaign_grace < now)
    {
        return PostDecision::Skip(SkipReason::CampaignOver);
    }
    if post.walk_interrupted {
        return PostDecision::Walk(WalkReason::Resume);
    }
    if !post.ever_completed {
        return PostDecision::Walk(WalkReason::Backfill);
    }
    if post.full_walk_requested {
        return PostDecision::Walk(WalkReason::EditCheck);
    }
    let age = (now - post.created_at).max(Duration::zero());
    match post.comments_count {
        Some(count) if post.reconciled_count != Some(count) => {
            let delta = count as i64 - post.reconciled_count.map_or(0, |c| c as i64);
            PostDecision::Walk(WalkReason::CountMoved { delta })
        }
        Some(_)
            if post.missing_comments > 0
                && post
                    .last_search_at
                    .is_none_or(|at| at + settings.search_interval(age) <= now) =>
        {
            PostDecision::Walk(WalkReason::FindMissing)
        }
        Some(_) => {
            let edit_check_due = post
                .last_full_walk_at
                .is_none_or(|at| at + settings.reconcile_interval(age) <= now);
            if edit_check_due {
                PostDecision::Walk(WalkReason::EditCheck)
            } else {
                PostDecision::Skip(SkipReason::Unchanged)
            }
        }
        None => {
            let due_at = post
                .last_walked_at
                .map_or(now, |at| at + settings.post_interval(age));
            if due_at <= now {
                PostDecision::Walk(WalkReason::NoCount)
            } else {
                PostDecision::Skip(SkipReason::NotDue { due_at })
            }
        }
    }
}

/// The pages a walk of this post is expected to read.
fn expected_pages(post: &PostView, reason: WalkReason, page_size: u32) -> u64 {
    let pages = |comments: u64| comments.div_ceil(u64::from(page_size)).max(1);
    match reason {
        WalkReason::CountMoved { delta } => pages(delta.unsigned_abs()),
        WalkReason::Resume | WalkReason::Backfill | WalkReason::EditCheck => {
            pages(post.comments_count.unwrap_or(0))
        }
        WalkReason::NoCount => 1,
        WalkReason::FindMissing => pages(post.missing_comments) + 1,
    }
}

/// About how many comments a walk of this post will read, for progress reporting.
pub fn expected_comments(post: &PostView, reason: WalkReason) -> u64 {
    match reason {
        WalkReason::Resume | WalkReason::Backfill | WalkReason::EditCheck => {
            post.comments_count.unwrap_or(0)
        }
        WalkReason::CountMoved { delta } => delta.unsigned_abs(),
        WalkReason::FindMissing => post.missing_comments,
        WalkReason::NoCount => 0,
    }
}

/// Orders walks: resumes first, then announced activity weighted by freshness, then backfills,
/// then posts without counts, then edit checks.
fn priority(post: &PostView, reason: WalkReason, now: DateTime<Utc>) -> (u8, f64) {
    let age_hours = (now - post.created_at).num_minutes().max(0) as f64 / 60.0;
    // Half the weight after a day, a tenth after nine days.
    let freshness = 1.0 / (1.0 + age_hours / 24.0);
    match reason {
        WalkReason::Resume => (0, 0.0),
        WalkReason::CountMoved { delta } => (1, -(delta.unsigned_abs() as f64) * freshness),
        WalkReason::Backfill => (2, -freshness),
        WalkReason::NoCount | WalkReason::FindMissing => (3, -freshness),
        WalkReason::EditCheck => (4, -freshness),
    }
}

/// Decides every listed post of one account: what to walk this cycle, in which order, within the
/// page allowance. Returns the decisions in the order of `posts`, and the walk order (indices).
pub fn plan(
    posts: &[PostView],
    now: DateTime<Utc>,
    settings: &ScheduleSettings,
    allowance: Option<u64>,
) -> (Vec<PostDecision>, Vec<usize>) {
    let mut decisions: Vec<PostDecision> = posts.iter().map(|p| decide(p, now, settings)).collect();
    let mut walks: Vec<(usize, WalkReason)> = decisions
        .iter()
        .enumerate()
        .filter_map(|(i, d)| match d {
            PostDecision::Walk(reason) => Some((i, *reason)),
            PostDecision::Skip(_) => None,
        })
        .collect();
    walks.sort_by(|&(a, ra), &(b, rb)| {
        let (pa, wa) = priority(&posts[a], ra, now);
        let (pb, wb) = priority(&posts[b], rb, now);
        pa.cmp(&pb)
            .then(wa.partial_cmp(&wb).unwrap_or(Ordering::Equal))
            .then(a.cmp(&b))
    });
    let Some(mut left) = allowance else {
        return (decisions, walks.into_iter().map(|(i, _)| i).collect());
    };
    let mut kept = Vec::with_capacity(walks.len());
    for (i, reason) in walks {
        let cost = expected_pages(&posts[i], reason, settings.page_size);
        // An interrupted walk is finished whatever the budget says: it holds a cursor that may
        // go stale, and its pages are already partly paid for.
        if reason == WalkReason::Resume || cost <= left {
            left = left.saturating_sub(cost);
            kept.push(i);
        } else {
            decisions[i] = PostDecision::Skip(SkipReason::OverBudget);
        }
    }
    (decisions, kept)
}

/// When the account should be polled next: one cycle from now, unless a daily unit budget needs
/// polls spaced further apart for what is left of it to last until the reset.
pub fn next_poll_at(
    quota: &QuotaReading,
    units_last_cycle: u64,
    now: DateTime<Utc>,
    settings: &ScheduleSettings,
) -> DateTime<Utc> {
    let cycle_end = now + settings.cycle;
    let QuotaReading::Units {
        used,
        limit,
        resets_at,
        ..
    } = *quota
    else {
        return cycle_end;
    };
    let spendable = ((limit as f64 * UNIT_SAFETY) as u64).saturating_sub(used);
    if spendable == 0 {
        return resets_at.max(cycle_end);
    }
    let left = (resets_at - now).max(Duration::zero());
    let cycles_affordable = spendable / units_last_cycle.max(1);
    if cycles_affordable == 0 {
        return resets_at.max(cycle_end);
    }
    let spacing = left / i32::try_from(cycles_affordable).unwrap_or(i32::MAX);
    (now + spacing).max(cycle_end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ScheduleSettings {
        ScheduleSettings::from_worker(&WorkerSettings {
            poll_interval_secs: 300,
            page_size: 50,
            ..WorkerSettings::default()
        })
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-28T12:00:00Z")
            .unwrap()
            .to_utc()
    }

    fn settled(age: Duration, count: u64) -> PostView {
        PostView {
            created_at: now() - age,
            comments_count: Some(count),
            reconciled_count: Some(count),
            missing_comments: 0,
            last_search_at: None,
            walk_interrupted: false,
            ever_completed: true,
            last_walked_at: Some(now() - Duration::minutes(5)),
            last_full_walk_at: Some(now() - Duration::hours(1)),
            polling_ends_at: None,
            full_walk_requested: false,
        }
    }

    #[test]
    fn an_unchanged_count_costs_no_walk() {
        let post = settled(Duration::hours(3), 40);
        assert_eq!(
            decide(&post, now(), &settings()),
            PostDecision::Skip(SkipReason::Unchanged)
        );
    }

    #[test]
    fn a_requested_full_walk_reads_every_post_but_those_out_of_their_campaign() {
        let moved = PostView {
            comments_count: Some(43),
            full_walk_requested: true,
            ..settled(Duration::days(12), 40)
        };
        let unchanged = PostView {
            full_walk_requested: true,
            ..settled(Duration::hours(3), 40)
        };
        for post in [moved, unchanged] {
            assert_eq!(
                decide(&post, now(), &settings()),
                PostDecision::Walk(WalkReason::EditCheck)
            );
        }
        let over = PostView {
            full_walk_requested: true,
            polling_ends_at: Some(now() - Duration::days(60)),
            ..settled(Duration::days(90), 40)
        };
        assert_eq!(
            decide(&over, now(), &settings()),
            PostDecision::Skip(SkipReason::CampaignOver)
        );
    }

    #[test]
    fn a_moved_count_is_walked_with_its_delta() {
        let post = PostView {
            comments_count: Some(43),
            ..settled(Duration::days(12), 40)
        };
        assert_eq!(
            decide(&post, now(), &settings()),
            PostDecision::Walk(WalkReason::CountMoved { delta: 3 })
        );
    }

    #[test]
    fn interrupted_and_new_posts_are_walked_first_of_all() {
        let resume = PostView {
            walk_interrupted: true,
            ..settled(Duration::days(20), 10)
        };
        let fresh = PostView {
            ever_completed: false,
            reconciled_count: None,
            last_walked_at: None,
            last_full_walk_at: None,
            ..settled(Duration::hours(1), 10)
        };
        let s = settings();
        assert_eq!(
            decide(&resume, now(), &s),
            PostDecision::Walk(WalkReason::Resume)
        );
        assert_eq!(
            decide(&fresh, now(), &s),
            PostDecision::Walk(WalkReason::Backfill)
        );
    }

    #[test]
    fn posts_without_a_count_are_walked_less_often_as_they_age() {
        let s = settings();
        assert_eq!(s.post_interval(Duration::minutes(10)), s.cycle);
        assert_eq!(s.post_interval(Duration::hours(12)), Duration::hours(1));
        assert_eq!(s.post_interval(Duration::days(2)), Duration::hours(4));
        assert_eq!(s.post_interval(Duration::days(60)), s.max_post_interval);
        let young = PostView {
            comments_count: None,
            last_walked_at: Some(now() - Duration::minutes(70)),
            ..settled(Duration::hours(12), 0)
        };
        assert_eq!(
            decide(&young, now(), &s),
            PostDecision::Walk(WalkReason::NoCount)
        );
        let old = PostView {
            created_at: now() - Duration::days(2),
            ..young
        };
        assert_eq!(
            decide(&old, now(), &s),
            PostDecision::Skip(SkipReason::NotDue {
                due_at: now() - Duration::minutes(70) + Duration::hours(4)
            })
        );
    }

    #[test]
    fn missing_comments_are_searched_for_less_often_as_the_post_ages() {
        let s = settings();
        let searched_an_hour_ago = PostView {
            missing_comments: 2,
            last_search_at: Some(now() - Duration::hours(1)),
            ..settled(Duration::hours(2), 40)
        };
        assert_eq!(
            decide(&searched_an_hour_ago, now(), &s),
            PostDecision::Walk(WalkReason::FindMissing)
        );
        let older = PostView {
            created_at: now() - Duration::days(1),
            ..searched_an_hour_ago
        };
        assert_eq!(
            decide(&older, now(), &s),
            PostDecision::Skip(SkipReason::Unchanged),
            "a day-old post is searched every 12 hours"
        );
    }

    #[test]
    fn four_pages_missing_are_searched_for_now_in_the_platforms_pages() {
        let configured = ScheduleSettings::from_worker(&WorkerSettings {
            page_size: 100,
            ..WorkerSettings::default()
        });
        assert!(!configured.search_now(399));
        assert!(configured.search_now(400));
        let instagram = ScheduleSettings {
            page_size: 50,
            ..configured
        };
        assert!(!instagram.search_now(199));
        assert!(instagram.search_now(200));
    }

    #[test]
    fn edits_are_checked_daily_and_less_often_for_old_posts() {
        let s = settings();
        let checked_yesterday = PostView {
            last_full_walk_at: Some(now() - Duration::hours(25)),
            ..settled(Duration::days(2), 40)
        };
        assert_eq!(
            decide(&checked_yesterday, now(), &s),
            PostDecision::Walk(WalkReason::EditCheck)
        );
        let old = PostView {
            created_at: now() - Duration::days(20),
            ..checked_yesterday
        };
        assert_eq!(
            decide(&old, now(), &s),
            PostDecision::Skip(SkipReason::Unchanged)
        );
    }

    #[test]
    fn a_closed_campaign_stops_polling_after_the_grace_period() {
        let s = settings();
        let moved = PostView {
            comments_count: Some(50),
            ..settled(Duration::days(20), 40)
        };
        let just_closed = PostView {
            polling_ends_at: Some(now() - Duration::days(1)),
            ..moved.clone()
        };
        assert!(decide(&just_closed, now(), &s).walks());
        let long_closed = PostView {
            polling_ends_at: Some(now() - s.campaign_grace - Duration::hours(1)),
            ..moved
        };
        assert_eq!(
            decide(&long_closed, now(), &s),
            PostDecision::Skip(SkipReason::CampaignOver)
        );
    }

    #[test]
    fn a_short_budget_goes_to_fresh_activity_and_interrupted_walks() {
        let s = settings();
        let old_busy = PostView {
            comments_count: Some(60),
            ..settled(Duration::days(10), 40)
        };
        let fresh_busy = PostView {
            comments_count: Some(60),
            ..settled(Duration::hours(2), 40)
        };
        let resume = PostView {
            walk_interrupted: true,
            comments_count: Some(5_000),
            ..settled(Duration::days(3), 5_000)
        };
        let posts = [old_busy, fresh_busy, resume];
        // The resume reads its 100 pages whatever the budget; one page is left, for the fresh post.
        let (decisions, order) = plan(&posts, now(), &s, Some(101));
        assert_eq!(order, vec![2, 1], "the resume, then the fresh post");
        assert_eq!(decisions[0], PostDecision::Skip(SkipReason::OverBudget));
        let (_, everything) = plan(&posts, now(), &s, None);
        assert_eq!(everything, vec![2, 1, 0]);
    }

    #[test]
    fn youtube_units_are_spread_until_the_pacific_reset() {
        let s = settings();
        let quota = QuotaReading::Units {
            used: 4_500,
            limit: 10_000,
            resets_at: now() + Duration::hours(10),
            per_page: 1,
        };
        // 5,000 spendable units over 120 cycles: ~42 a cycle, bursting to 4x.
        assert_eq!(page_allowance(&quota, now(), &s), Some(167));
        // A cycle that spent 100 units can afford 50 more such cycles in 10 hours: every 12 min.
        assert_eq!(
            next_poll_at(&quota, 100, now(), &s),
            now() + Duration::minutes(12)
        );
        let spent = QuotaReading::Units {
            used: 9_600,
            limit: 10_000,
            resets_at: now() + Duration::hours(10),
            per_page: 1,
        };
        assert_eq!(page_allowance(&spent, now(), &s), Some(0));
        assert_eq!(
            next_poll_at(&spent, 100, now(), &s),
            now() + Duration::hours(10)
        );
    }

    #[test]
    fn meta_usage_narrows_the_walks_before_the_platform_blocks() {
        let s = settings();
        let at = |percent| page_allowance(&QuotaReading::UsagePercent { percent }, now(), &s);
        assert_eq!(at(30), None);
        assert_eq!(at(60), Some(200));
        assert!(at(90).unwrap() < at(70).unwrap());
        assert_eq!(at(97), Some(0));
        assert_eq!(page_allowance(&QuotaReading::Unknown, now(), &s), None);
    }
}
