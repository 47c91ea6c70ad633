//! The polling worker: for every account, list recent posts, walk each post's comments page by
//! page down to what is already stored, classify them, and store each page together with the walk
//! state that says where to resume.
//!
//! ```text
//! run_until_stopped ── poll_once ──┬── poll_account (≤ max_concurrent_accounts at once)
//!      (schedule)       (a cycle)  │     ├─ list posts within lookback, keep the campaigns' posts
//!                                  │     ├─ walk_post (≤ 3 posts at once): page → classify →
//!                                  │     │    PageWriter (page + cursor, group-committed with
//!                                  │     │    other walks' pages)
//!                                  │     └─ refresh threads of older open questions (answers)
//!                                  └── …
//! ```
//!
//! Exactly-once: a page's comments and the cursor of the next page commit in one transaction (with
//! other pages waiting at the same moment, each whole and in order: [`crate::store::PageWriter`]), and
//! the watermark moves only when a walk completes, so a crash or kill at any point resumes from the
//! last committed page and loses nothing; re-reading a page is harmless because comments are keyed
//! by their platform id. What the walks found since the post was last settled is counted in the
//! same transactions, so a resumed walk explains the platform's count without reading the post
//! again. Failures are isolated per account: an expired token fails that account
//! with an actionable message and the others complete. Cancellation is checked between pages:
//! the page in hand is stored before the worker stops.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::classify::Classifier;
use crate::config::{AccountSettings, Settings};
use crate::credentials::{PrepareOutcome, TokenError, TokenKeeper};
use crate::domain::{Comment, Media, Platform, QuotaReading};
use crate::platforms::facebook::{self, FacebookClient};
use crate::platforms::http::HttpPolicy;
use crate::platforms::instagram::{Identity, InstagramClient};
use crate::platforms::tiktok::TiktokClient;
use crate::platforms::tokens::SharedToken;
use crate::platforms::youtube::{self, YoutubeClient};
use crate::platforms::{PlatformClient, PlatformError};
use crate::progress::{CycleProgress, ProgressOutput};
use crate::schedule::{self, PostDecision, PostView, ScheduleSettings, SkipReason, WalkReason};
use crate::store::{
    AccountKey, AccountSchedule, ClassifiedComment, PageWriteOutcome, PageWriter, PendingPage,
    PostKey, PostSchedule, Store, StoreError, WalkProgress, WalkRecord,
};

/// Why an account's poll failed this cycle.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PollError {
    /// The account cannot be polled as configured (missing token variable, unsupported platform).
    #[error("{0}")]
    Setup(String),
    /// The platform refused the token: only the user can fix it.
    #[error("{source}; create a new access token and export it in {token_env}")]
    TokenRejected {
        token_env: String,
        source: PlatformError,
    },
    /// The token is dead or could not be renewed (see [`crate::credentials`]).
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Platform(#[from] PlatformError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one account's poll did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountPollOutcome {
    /// Posts listed within the lookback (and in a campaign, when the account has campaigns).
    pub posts: usize,
    /// Posts whose comments were read this cycle; the others had nothing new to read.
    pub walked: usize,
    /// Posts with something to read that the platform budget pushed to a later cycle.
    pub deferred: usize,
    pub pages: usize,
    pub fetched: u64,
    pub inserted: u64,
    pub updated: u64,
    pub answered: u64,
    /// Cancelled before the walk finished; the next poll resumes where this one stopped.
    pub interrupted: bool,
}

impl AccountPollOutcome {
    /// Adds another outcome to this one: a post's walk to its account's, an account's to the
    /// cycle's total.
    fn merge(&mut self, other: &AccountPollOutcome) {
        self.posts += other.posts;
        self.walked += other.walked;
        self.deferred += other.deferred;
        self.pages += other.pages;
        self.fetched += other.fetched;
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.answered += other.answered;
        self.interrupted |= other.interrupted;
    }

    fn add_page(&mut self, fetched: usize, written: PageWriteOutcome) {
        self.pages += 1;
        self.fetched += fetched as u64;
        self.inserted += written.inserted;
        self.updated += written.updated;
        self.answered += written.answered;
    }
}

/// The result of one polling cycle over every account.
#[derive(Debug)]
pub struct CycleReport {
    pub accounts: Vec<(String, Result<AccountPollOutcome, PollError>)>,
}

impl CycleReport {
    pub fn failures(&self) -> usize {
        self.accounts.iter().filter(|(_, r)| r.is_err()).count()
    }

    pub fn total(&self) -> AccountPollOutcome {
        let mut total = AccountPollOutcome::default();
        for o in self.accounts.iter().filter_map(|(_, r)| r.as_ref().ok()) {
            total.merge(o);
        }
        total
    }
}

impl fmt::Display for CycleReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, result) in &self.accounts {
            match result {
                Ok(o) => writeln!(
                    f,
                    "{name}: ok — {} posts ({} read{}), {} pages, {} comments read, {} new, {} changed, {} answered{}",
                    o.posts,
                    o.walked,
                    if o.deferred > 0 {
                        format!(", {} deferred by the quota budget", o.deferred)
                    } else {
                        String::new()
                    },
                    o.pages,
                    o.fetched,
                    o.inserted,
                    o.updated,
                    o.answered,
                    if o.interrupted {
                        " (interrupted, will resume)"
                    } else {
                        ""
                    }
                )?,
                Err(e) => writeln!(f, "{name}: FAILED — {e}")?,
            }
        }
        Ok(())
    }
}

/// How hard a cycle looks for comments the platform's count announced in older threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The daemon: searches are spaced by post age, missing comments carried until then.
    Scheduled,
    /// `poll --once`: everything announced is searched for now.
    CatchUp,
    /// `poll --once --full`: every post is read to its end now. Nothing else finds a new reply
    /// whose count a deletion cancelled out, short of the post's next scheduled full walk.
    Reconcile,
}

/// How far a walk reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Depth {
    /// Down to the watermark minus the overlap window.
    Incremental,
    /// From the newest page on, until this many comments new to the store were found (the count
    /// the platform announced is explained) or the end of the list.
    UntilFound(u64),
    /// Every page.
    Full,
}

/// Pages a walk may have handed to the writer and not yet seen stored: enough to keep fetching
/// while the database commits, few enough that a failure wastes little.
const PAGES_IN_FLIGHT: usize = 4;

/// Posts of one account walked at once. One walk at a time leaves the machine idle while a page
/// travels (the request, the platform's answer, the parse); a few keep it busy, and the pages
/// they hand in meet in bigger group commits. So up to this many requests of one account are in
/// flight: the budget planner chose the posts (and so the calls) before any walk starts, and a
/// throttle or Meta's slow-down pauses the account's client for all of them, though the calls
/// already past that check go ahead (and may overshoot YouTube's daily budget by two calls).
const POSTS_AT_ONCE: usize = 3;

/// A page handed to the writer, with what the walk reports once it is stored.
struct InFlightPage {
    pending: PendingPage,
    fetched: usize,
    span: tracing::Span,
}

/// How a walk's page loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WalkEnd {
    /// At the end of the list, the watermark, or the search's target.
    Completed,
    /// Cancelled between two pages; the stored cursor resumes it.
    Interrupted,
}

/// What one walk of a post did.
#[derive(Debug, Default)]
struct Walk {
    /// Top-level comment ids seen (their threads were read in full).
    threads: Vec<String>,
    /// Every comment and reply id seen.
    seen: HashSet<String>,
    /// The cursor of the page after the one that reached the floor: a search for comments in
    /// older threads goes on from there instead of reading this walk's pages again.
    floor_cursor: Option<String>,
    /// When the last top-level comment of the last page read was posted: the walk saw whole every
    /// thread newer than that on the pages it read.
    last_top_level: Option<DateTime<Utc>>,
    inserted: u64,
    pages: usize,
    /// Reached its end (not interrupted by cancellation).
    completed: bool,
    /// Read every page down to the platform's last one, so `seen` is everything that exists.
    reached_end: bool,
}

/// A platform client of any supported platform.
enum AnyClient {
    Instagram(InstagramClient),
    Facebook(FacebookClient),
    Youtube(YoutubeClient),
    Tiktok(TiktokClient),
}

struct AccountRunner {
    settings: AccountSettings,
    client: Result<AnyClient, String>,
    /// Provides and renews the client's token; `None` when the account's secrets are missing.
    keeper: Option<TokenKeeper>,
}

impl AccountRunner {
    fn quota_reading(&self) -> QuotaReading {
        match &self.client {
            Err(_) => QuotaReading::Unknown,
            Ok(AnyClient::Instagram(client)) => client.quota_reading(),
            Ok(AnyClient::Facebook(client)) => client.quota_reading(),
            Ok(AnyClient::Youtube(client)) => client.quota_reading(),
            Ok(AnyClient::Tiktok(client)) => client.quota_reading(),
        }
    }
}

/// The polling worker. Build once; call [`Worker::poll_once`] or [`Worker::run_until_stopped`].
pub struct Worker {
    settings: Arc<Settings>,
    schedule_settings: ScheduleSettings,
    store: Store,
    /// Stores the walks' pages in group commits.
    pages: PageWriter,
    classifier: Arc<Classifier>,
    accounts: Vec<AccountRunner>,
    clock: Clock,
    /// Progress of long cycles (first backfills) for `triage poll`/`run`; none in the demo.
    progress: Option<Arc<CycleProgress>>,
    /// When each account (by name) is due next; filled from the store on the first cycle.
    next_polls: std::sync::Mutex<HashMap<String, DateTime<Utc>>>,
}

/// Where the worker reads the time: the platform's clock. Real time in production; the
/// simulator's clock in the demo and benchmarks, so post ages mean what they mean on the platform.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

impl Worker {
    /// Builds a client per account. Tokens are read through `token_lookup` (the process
    /// environment in production); an account whose token is missing will fail each poll with a
    /// clear message while the others run.
    pub fn new(
        settings: Arc<Settings>,
        store: Store,
        classifier: Arc<Classifier>,
        token_lookup: impl Fn(&str) -> Option<String>,
    ) -> Worker {
        let policy = HttpPolicy {
            timeout: std::time::Duration::from_millis(settings.worker.request_timeout_ms),
            max_attempts: settings.worker.max_attempts.max(1),
            backoff_base: std::time::Duration::from_millis(settings.worker.backoff_base_ms),
            backoff_max: std::time::Duration::from_millis(settings.worker.backoff_max_ms),
            max_throttle_wait: std::time::Duration::from_millis(
                settings.worker.max_throttle_wait_ms,
            ),
        };
        let accounts = settings
            .accounts
            .iter()
            .map(|account| {
                let keeper = TokenKeeper::from_settings(account, &token_lookup, policy.clone());
                AccountRunner {
                    client: keeper.as_ref().map_err(Clone::clone).and_then(|keeper| {
                        build_client(&settings, account, keeper.token(), policy.clone())
                    }),
                    keeper: keeper.ok(),
                    settings: account.clone(),
                }
            })
            .collect();
        Worker {
            schedule_settings: ScheduleSettings::from_worker(&settings.worker),
            settings,
            pages: PageWriter::new(store.clone()),
            store,
            classifier,
            accounts,
            clock: Arc::new(Utc::now),
            progress: None,
            next_polls: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Reads time from `clock` instead of the system clock (the simulator's clock in the demo).
    pub fn with_clock(mut self, clock: Clock) -> Worker {
        self.clock = clock;
        self
    }

    /// Shows the progress of long cycles (a first backfill) as a bar or periodic log lines.
    pub fn with_progress(mut self, output: ProgressOutput) -> Worker {
        self.progress = Some(Arc::new(CycleProgress::new(output)));
        self
    }

    fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// Polls every account once, due or not, at most `max_concurrent_accounts` at a time (what
    /// `triage poll --once` asks for). Within each account the schedule still decides which posts
    /// need reading.
    pub async fn poll_once(&self, cancel: &CancellationToken) -> CycleReport {
        self.poll_accounts(|_| true, Mode::CatchUp, cancel).await
    }

    /// Polls every account once and reads every post in its campaign window to the end (what
    /// `triage poll --once --full` asks for): edits, deletions and replies hidden from the count
    /// by a deletion are all found, at the cost of a page per 50–100 comments. Platform budgets
    /// still apply.
    pub async fn poll_full(&self, cancel: &CancellationToken) -> CycleReport {
        self.poll_accounts(|_| true, Mode::Reconcile, cancel).await
    }

    /// Polls the accounts whose next poll is due. A quota-limited account (YouTube) may be due
    /// less often than every cycle.
    pub async fn poll_due(&self, cancel: &CancellationToken) -> CycleReport {
        self.load_next_polls().await;
        let now = self.now();
        let due: HashSet<String> = {
            let next = self.next_polls.lock().unwrap_or_else(|e| e.into_inner());
            self.accounts
                .iter()
                .map(|r| &r.settings.name)
                .filter(|name| next.get(*name).is_none_or(|at| *at <= now))
                .cloned()
                .collect()
        };
        self.poll_accounts(|name| due.contains(name), Mode::Scheduled, cancel)
            .await
    }

    async fn poll_accounts(
        &self,
        wanted: impl Fn(&str) -> bool,
        mode: Mode,
        cancel: &CancellationToken,
    ) -> CycleReport {
        let limit = self.settings.worker.max_concurrent_accounts.max(1);
        if let Some(progress) = &self.progress {
            progress.reset();
        }
        let accounts = futures::stream::iter(
            self.accounts
                .iter()
                .filter(|runner| wanted(&runner.settings.name)),
        )
        .map(|runner| async move {
            let span = tracing::info_span!(
                "poll_account",
                account = %runner.settings.name,
                platform = %runner.settings.platform
            );
            let result = self
                .poll_account(runner, mode, cancel)
                .instrument(span)
                .await;
            (runner.settings.name.clone(), result)
        })
        .buffer_unordered(limit)
        .collect::<Vec<_>>()
        .await;
        if let Some(progress) = &self.progress {
            progress.finish();
        }
        let mut report = CycleReport { accounts };
        report.accounts.sort_by(|a, b| a.0.cmp(&b.0));
        report
    }

    /// The next-poll times a previous run stored, so a restart keeps a quota's spacing.
    async fn load_next_polls(&self) {
        if !self
            .next_polls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
        {
            return;
        }
        for health in self.store.account_health().await.unwrap_or_default() {
            if let Some(at) = health
                .next_poll_at
                .and_then(|at| DateTime::from_timestamp(at, 0))
            {
                self.next_polls
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(health.name)
                    .or_insert(at);
            }
        }
    }

    /// How long to sleep before the next account is due: at most one cycle, at least a second.
    fn until_next_due(&self) -> std::time::Duration {
        let cycle = self.settings.worker.poll_interval();
        let now = self.now();
        let next = self.next_polls.lock().unwrap_or_else(|e| e.into_inner());
        let earliest = self
            .accounts
            .iter()
            .map(|r| next.get(&r.settings.name).copied().unwrap_or(now))
            .min()
            .unwrap_or(now);
        (earliest - now).to_std().unwrap_or_default().clamp(
            std::time::Duration::from_secs(1),
            cycle.max(std::time::Duration::from_secs(1)),
        )
    }

    /// Polls accounts as they fall due until `cancel` fires. The page in hand is finished first.
    pub async fn run_until_stopped(&self, cancel: CancellationToken) {
        loop {
            let report = self.poll_due(&cancel).await;
            let total = report.total();
            if !report.accounts.is_empty() {
                tracing::info!(
                    accounts = report.accounts.len(),
                    failed = report.failures(),
                    posts_read = total.walked,
                    deferred = total.deferred,
                    new_comments = total.inserted,
                    answered = total.answered,
                    "poll cycle finished"
                );
            }
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(self.until_next_due()) => {}
            }
        }
        tracing::info!("worker stopped");
    }

    async fn poll_account(
        &self,
        runner: &AccountRunner,
        mode: Mode,
        cancel: &CancellationToken,
    ) -> Result<AccountPollOutcome, PollError> {
        let account = &runner.settings;
        let key = self
            .store
            .upsert_account(
                account.platform,
                &account.account_id,
                &account.name,
                &account.owner_handle,
            )
            .await?;
        let started = Utc::now();
        self.store.record_poll_attempt(key, started).await?;
        if let Ok(client) = &runner.client {
            self.restore_quota(key, client).await?;
        }
        let quota_before = runner.quota_reading();
        let result = self.poll_with_token(runner, key, mode, cancel).await;
        let result = result.map_err(|e| match e {
            PollError::Platform(source @ PlatformError::TokenRejected { .. }) => {
                PollError::TokenRejected {
                    token_env: account.token_env.clone(),
                    source,
                }
            }
            other => other,
        });
        self.schedule_next_poll(runner, key, quota_before, &result)
            .await?;
        match &result {
            Ok(outcome) => {
                self.store.record_poll_result(key, Utc::now(), None).await?;
                tracing::info!(
                    posts = outcome.posts,
                    pages = outcome.pages,
                    new_comments = outcome.inserted,
                    answered = outcome.answered,
                    "account polled"
                );
            }
            Err(error) => {
                self.store
                    .record_poll_result(key, Utc::now(), Some(&error.to_string()))
                    .await?;
                tracing::error!(error = %error, "account poll failed");
            }
        }
        result
    }

    /// Polls with a live token: renews it first when due, and once more if the platform rejects
    /// it mid-poll (the walk state is stored page by page, so the second poll resumes).
    async fn poll_with_token(
        &self,
        runner: &AccountRunner,
        key: AccountKey,
        mode: Mode,
        cancel: &CancellationToken,
    ) -> Result<AccountPollOutcome, PollError> {
        let Some(keeper) = &runner.keeper else {
            return self.poll_client(runner, key, mode, cancel).await;
        };
        let prepared = keeper.prepare(&self.store, key, self.now()).await?;
        match self.poll_client(runner, key, mode, cancel).await {
            Err(PollError::Platform(PlatformError::TokenRejected { .. }))
                if keeper.can_refresh() =>
            {
                if prepared == PrepareOutcome::Ready {
                    tracing::info!("the platform rejected the token; refreshing it once");
                }
                keeper
                    .refresh_after_rejection(&self.store, key, self.now(), &prepared)
                    .await?;
                self.poll_client(runner, key, mode, cancel).await
            }
            other => other,
        }
    }

    async fn poll_client(
        &self,
        runner: &AccountRunner,
        key: AccountKey,
        mode: Mode,
        cancel: &CancellationToken,
    ) -> Result<AccountPollOutcome, PollError> {
        let account = &runner.settings;
        match &runner.client {
            Err(setup) => Err(PollError::Setup(setup.clone())),
            Ok(AnyClient::Instagram(client)) => {
                self.poll_with(account, key, client, mode, cancel).await
            }
            Ok(AnyClient::Facebook(client)) => {
                self.poll_with(account, key, client, mode, cancel).await
            }
            Ok(AnyClient::Youtube(client)) => {
                self.poll_with(account, key, client, mode, cancel).await
            }
            Ok(AnyClient::Tiktok(client)) => {
                self.poll_with(account, key, client, mode, cancel).await
            }
        }
    }

    /// A restarted worker counts the YouTube units an earlier run spent today.
    async fn restore_quota(&self, key: AccountKey, client: &AnyClient) -> Result<(), StoreError> {
        let AnyClient::Youtube(client) = client else {
            return Ok(());
        };
        if client.quota().spent_today() > 0 {
            return Ok(());
        }
        if let QuotaReading::Units {
            used, resets_at, ..
        } = self.store.account_schedule(key).await?.quota
            && resets_at > Utc::now()
        {
            client.quota().seed_spent_today(used);
        }
        Ok(())
    }

    /// Decides and stores when the account is polled next, with the quota it has left.
    async fn schedule_next_poll(
        &self,
        runner: &AccountRunner,
        key: AccountKey,
        quota_before: QuotaReading,
        result: &Result<AccountPollOutcome, PollError>,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let quota = runner.quota_reading();
        let spent = match (quota_before, quota) {
            (QuotaReading::Units { used: before, .. }, QuotaReading::Units { used, .. }) => {
                used.saturating_sub(before)
            }
            _ => 0,
        };
        let next_poll_at = match result {
            Err(PollError::Platform(PlatformError::Throttled { wait })) => {
                now + chrono::Duration::from_std(*wait).unwrap_or(chrono::Duration::hours(1))
            }
            _ => schedule::next_poll_at(&quota, spent, now, &self.schedule_settings),
        };
        let deferred = result.as_ref().map_or(0, |o| o.deferred as u64);
        self.store
            .record_account_schedule(
                key,
                &AccountSchedule {
                    next_poll_at: Some(next_poll_at),
                    quota,
                    deferred_posts: deferred,
                },
            )
            .await?;
        self.next_polls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(runner.settings.name.clone(), next_poll_at);
        Ok(())
    }

    async fn poll_with<C: PlatformClient>(
        &self,
        account: &AccountSettings,
        key: AccountKey,
        client: &C,
        mode: Mode,
        cancel: &CancellationToken,
    ) -> Result<AccountPollOutcome, PollError> {
        let mut outcome = AccountPollOutcome::default();
        let now = self.now();
        let cutoff = now - self.settings.worker.lookback();
        let posts = self.recent_posts(account, client, cutoff).await?;
        let keys = self.store.upsert_posts(key, &posts).await?;
        outcome.posts = keys.len();

        let stored = self.store.post_schedules(&keys).await?;
        let views: Vec<PostView> = keys
            .iter()
            .zip(&posts)
            .map(|(post, (media, campaigns))| {
                self.post_view(
                    media,
                    campaigns,
                    stored.get(post).cloned().unwrap_or_default(),
                    mode == Mode::Reconcile,
                )
            })
            .collect();
        // Costs are in pages, and a page holds what this platform serves.
        let schedule_settings = ScheduleSettings {
            page_size: self.settings.worker.page_size_on(account.platform),
            ..self.schedule_settings.clone()
        };
        let allowance = schedule::page_allowance(&client.quota_reading(), now, &schedule_settings);
        let (decisions, order) = schedule::plan(&views, now, &schedule_settings, allowance);
        outcome.deferred = decisions
            .iter()
            .filter(|d| **d == PostDecision::Skip(SkipReason::OverBudget))
            .count();
        if let Some(progress) = &self.progress {
            progress.expect(
                order
                    .iter()
                    .filter_map(|&i| match decisions[i] {
                        PostDecision::Walk(reason) => {
                            Some(schedule::expected_comments(&views[i], reason))
                        }
                        PostDecision::Skip(_) => None,
                    })
                    .sum(),
            );
        }
        if outcome.deferred > 0 {
            tracing::info!(
                deferred = outcome.deferred,
                "the platform budget is short: the least valuable walks wait for the next cycle"
            );
        }

        // Set by a walk's error: the walks not started yet do not start.
        let failed = AtomicBool::new(false);
        let mut error = None;
        let walks = order.into_iter().filter_map(|index| {
            let PostDecision::Walk(reason) = decisions[index] else {
                return None;
            };
            let (media, _) = &posts[index];
            let post = keys[index];
            let state = stored.get(&post).cloned().unwrap_or_default();
            let schedule_settings = &schedule_settings;
            let failed = &failed;
            Some(async move {
                let mut outcome = AccountPollOutcome::default();
                if failed.load(Ordering::Relaxed) {
                    return (Ok(()), outcome, media);
                }
                if stop_if_cancelled(cancel, &mut outcome) {
                    return (Ok(()), outcome, media);
                }
                let span = tracing::info_span!("poll_post", post = %media.external_id, ?reason);
                outcome.walked += 1;
                let synced = self
                    .sync_post(
                        client,
                        post,
                        media,
                        &state,
                        (reason, mode),
                        schedule_settings,
                        cutoff,
                        cancel,
                        &mut outcome,
                    )
                    .instrument(span)
                    .await;
                (synced, outcome, media)
            })
        });
        // Started in the plan's order, finished in any: a long backfill does not hold up the
        // posts planned after it.
        let mut walks = futures::stream::iter(walks).buffer_unordered(POSTS_AT_ONCE);
        while let Some((synced, walked, media)) = walks.next().await {
            outcome.merge(&walked);
            match synced {
                Ok(()) => {}
                Err(PollError::Platform(PlatformError::NotFound { message })) => {
                    tracing::warn!(post = %media.external_id, %message, "post is gone, skipping it");
                }
                Err(PollError::Platform(PlatformError::CommentsDisabled { message })) => {
                    tracing::info!(
                        post = %media.external_id,
                        %message,
                        "comments are turned off on this post; its stored comments are kept"
                    );
                }
                // The account's cycle ends with the first error, once the walks still running
                // have ended too (most fail on the same cause at their next call): every page
                // they handed in is stored before the caller, which may retry the account at
                // once with a renewed token, reads the walk states again.
                Err(e) => {
                    failed.store(true, Ordering::Relaxed);
                    error.get_or_insert(e);
                }
            }
            // Once cancelled, the walks still running stop at their next check and the ones not
            // started yet return at once: the loop ends with every page in hand stored.
        }
        match error {
            Some(error) => Err(error),
            None => Ok(outcome),
        }
    }

    /// What the schedule needs to know of one listed post.
    fn post_view(
        &self,
        media: &Media,
        campaigns: &[String],
        stored: PostSchedule,
        full_walk_requested: bool,
    ) -> PostView {
        // Polling ends with the last campaign window the post is in; a post in no campaign, or
        // in one without an end, is polled for as long as it is within the lookback.
        let ends: Option<Vec<DateTime<Utc>>> = campaigns
            .iter()
            .map(|name| {
                self.settings
                    .campaigns
                    .iter()
                    .find(|c| &c.name == name)
                    .and_then(|c| c.window_end())
            })
            .collect();
        PostView {
            created_at: media.created_at,
            comments_count: media.comments_count,
            reconciled_count: stored.walk.reconciled_count,
            missing_comments: stored.missing_comments,
            last_search_at: stored.last_search_at,
            walk_interrupted: stored.walk.resume_after.is_some(),
            ever_completed: stored.ever_completed(),
            last_walked_at: stored.last_walked_at,
            last_full_walk_at: stored.last_full_walk_at,
            polling_ends_at: ends.and_then(|ends| ends.into_iter().max()),
            full_walk_requested,
        }
    }

    /// The account's posts created since `cutoff` that belong to one of its campaigns (every
    /// recent post when the account is in no campaign), each once, with the names of those
    /// campaigns.
    async fn recent_posts<C: PlatformClient>(
        &self,
        account: &AccountSettings,
        client: &C,
        cutoff: DateTime<Utc>,
    ) -> Result<Vec<(Media, Vec<String>)>, PollError> {
        let in_any_campaign = self.settings.campaigns_of(&account.name).next().is_some();
        let mut posts = Vec::new();
        let mut listed = HashSet::new();
        let mut after: Option<String> = None;
        let mut seen_cursors = HashSet::new();
        loop {
            let page = client.list_posts(after.as_deref()).await?;
            let mut reached_cutoff = false;
            for media in page.items {
                if media.created_at < cutoff {
                    reached_cutoff = true;
                    continue;
                }
                // A post listed twice (a new post shifts the listing between two pages) is
                // walked once: two walks of one post at once would race on its walk state.
                if !listed.insert(media.external_id.clone()) {
                    continue;
                }
                let campaigns: Vec<String> = self
                    .settings
                    .campaigns_of(&account.name)
                    .filter(|c| c.covers(&account.name, &media))
                    .map(|c| c.name.clone())
                    .collect();
                if in_any_campaign && campaigns.is_empty() {
                    continue;
                }
                posts.push((media, campaigns));
            }
            match page.next {
                Some(next) if !reached_cutoff && seen_cursors.insert(next.clone()) => {
                    after = Some(next)
                }
                _ => break,
            }
        }
        Ok(posts)
    }

    /// Brings one post up to date, spending as few calls as the platform's count allows.
    ///
    /// An incremental walk reads down to the watermark. When the platform's count moved by exactly
    /// the new comments it found, the post is settled. When it moved by more, the rest landed in
    /// older threads (replies do not move a thread to the top): the open questions' threads are
    /// re-read first (answers are the likeliest late arrivals, one call per 50 threads); comments
    /// still missing are searched for by walking on below the pages that walk read until they are
    /// all found — replies land mostly under recent comments, so this usually stops after a few
    /// pages, at worst it reads everything. That search is spaced by the post's age
    /// ([`ScheduleSettings::search_interval`]), the missing count carried until then, unless a page
    /// worth of comments is missing. When the count moved by less than found, comments were
    /// deleted: those of the threads the walks read whole are marked at once, and only when that
    /// does not explain the count does a full walk tell which others.
    #[allow(clippy::too_many_arguments)]
    async fn sync_post<C: PlatformClient>(
        &self,
        client: &C,
        post: PostKey,
        media: &Media,
        stored: &PostSchedule,
        (reason, mode): (WalkReason, Mode),
        schedule: &ScheduleSettings,
        cutoff: DateTime<Utc>,
        cancel: &CancellationToken,
        outcome: &mut AccountPollOutcome,
    ) -> Result<(), PollError> {
        // A first walk reads every page anyway: make it a full one, which settles the count and
        // the edit-check clock at once.
        let depth = match reason {
            WalkReason::EditCheck | WalkReason::Backfill => Depth::Full,
            _ => Depth::Incremental,
        };
        let first = self
            .walk_post(
                client,
                post,
                &media.external_id,
                &stored.walk,
                depth,
                cancel,
                outcome,
            )
            .await?;
        if !first.completed {
            return Ok(());
        }
        if depth == Depth::Full {
            return self.finish_full_walk(post, media, &first).await;
        }
        if mode == Mode::Reconcile {
            // An interrupted walk was finished from its cursor down; the user asked for every
            // page, read from the newest.
            let state = self.store.walk_state(post).await?;
            let full = self
                .walk_post(
                    client,
                    post,
                    &media.external_id,
                    &state,
                    Depth::Full,
                    cancel,
                    outcome,
                )
                .await?;
            if !full.completed {
                return Ok(());
            }
            return self.finish_full_walk(post, media, &full).await;
        }
        let Some(count) = media.comments_count else {
            if stop_if_cancelled(cancel, outcome) {
                return Ok(());
            }
            // Nothing says where activity happened: re-read the open questions' threads.
            self.refresh_open_threads(client, post, media, cutoff, &first.threads, outcome)
                .await?;
            return self.settle(post, WalkRecord::default()).await;
        };
        let wanted = count as i64 - stored.walk.reconciled_count.map_or(0, |c| c as i64)
            + stored.missing_comments as i64;
        // Comments that landed in older threads are looked for (open questions' threads first,
        // then a deeper walk) at the post's search interval, not on every poll: until then the
        // missing count is carried. Reading old threads is most of what a steady poll costs.
        let age = (self.now() - media.created_at).max(chrono::Duration::zero());
        let search_due = |missing: u64| {
            mode != Mode::Scheduled
                || reason == WalkReason::FindMissing
                || schedule.search_now(missing)
                || stored
                    .last_search_at
                    .is_none_or(|at| at + schedule.search_interval(age) <= self.now())
        };
        // What walks found since the count was last reconciled: this one, and those a kill or a
        // shutdown interrupted before they could settle the post (counted with their pages, less
        // the deletions they marked, counted with the marking).
        let mut found = stored.found_since_settled + first.inserted as i64;
        // A walk from the newest page down also shows what was deleted among the threads it read:
        // counted, a deletion cannot hide a new reply elsewhere from the count.
        if stored.walk.resume_after.is_none() {
            found -= self.deleted_above(post, &first.seen, &first).await? as i64;
        }
        let mut refreshed = false;
        if found < wanted && search_due((wanted - found) as u64) {
            if stop_if_cancelled(cancel, outcome) {
                return Ok(());
            }
            found += self
                .refresh_open_threads(client, post, media, cutoff, &first.threads, outcome)
                .await? as i64;
            refreshed = true;
        }
        // A first backfill finished by a later run has still read every page, newest to last:
        // every comment was new to it, so there is no edit to look for on the next cycle.
        let resumed_backfill =
            reason == WalkReason::Resume && !stored.ever_completed() && first.reached_end;
        let settled = WalkRecord {
            count: Some(count),
            full: resumed_backfill,
            ..WalkRecord::default()
        };
        let depth = match found.cmp(&wanted) {
            std::cmp::Ordering::Equal => {
                return self
                    .settle(
                        post,
                        WalkRecord {
                            searched: refreshed,
                            ..settled
                        },
                    )
                    .await;
            }
            std::cmp::Ordering::Greater => Depth::Full,
            std::cmp::Ordering::Less => {
                let missing = (wanted - found) as u64;
                if !refreshed && !search_due(missing) {
                    tracing::debug!(missing, "comments in older threads: searched for later");
                    return self.settle(post, WalkRecord { missing, ..settled }).await;
                }
                Depth::UntilFound(missing)
            }
        };
        tracing::info!(
            wanted,
            found,
            ?depth,
            "the comment count moved differently from the new comments found; reading further"
        );
        let mut depth = depth;
        // The search goes on below the first walk's pages when that walk read from the newest
        // page down (a resumed walk did not read the top ones); a walk for deletions reads all.
        let mut go_on_from = first
            .floor_cursor
            .clone()
            .filter(|_| stored.walk.resume_after.is_none());
        loop {
            if stop_if_cancelled(cancel, outcome) {
                return Ok(());
            }
            let mut state = self.store.walk_state(post).await?;
            if state.resume_after.is_none() {
                state.resume_after = go_on_from.take();
            }
            let mut deeper = self
                .walk_post(
                    client,
                    post,
                    &media.external_id,
                    &state,
                    depth,
                    cancel,
                    outcome,
                )
                .await?;
            if !deeper.completed {
                return Ok(());
            }
            if deeper.reached_end {
                // With the first walk's pages above it, every page was read.
                deeper.seen.extend(first.seen.iter().cloned());
                return self.finish_full_walk(post, media, &deeper).await;
            }
            if depth != Depth::Full && found + deeper.inserted as i64 > wanted {
                // The search found more than the count moved by: comments were deleted meanwhile,
                // and settling now would keep them live for good (later counts balance around
                // them). Those in the threads read are known now; only reading every page tells
                // which others.
                deeper.seen.extend(first.seen.iter().cloned());
                found -= self.deleted_above(post, &deeper.seen, &deeper).await? as i64;
                let found = found + deeper.inserted as i64;
                if found <= wanted {
                    let missing = (wanted - found) as u64;
                    return self
                        .settle(
                            post,
                            WalkRecord {
                                missing,
                                searched: true,
                                ..settled
                            },
                        )
                        .await;
                }
                tracing::info!(
                    wanted,
                    found,
                    "more comments found than the count announced; reading every page for deletions"
                );
                depth = Depth::Full;
                continue;
            }
            return self
                .settle(
                    post,
                    WalkRecord {
                        searched: true,
                        ..settled
                    },
                )
                .await;
        }
    }

    /// Marks deleted the comments of the threads `walk` read whole (from the newest page down)
    /// that are not in `seen`: they explain a count that moved by less than the walks found,
    /// without reading every page. Returns how many.
    async fn deleted_above(
        &self,
        post: PostKey,
        seen: &HashSet<String>,
        walk: &Walk,
    ) -> Result<u64, PollError> {
        let Some(newer_than) = walk.last_top_level else {
            return Ok(0);
        };
        let deleted = self
            .store
            .mark_missing_deleted_newer_than(post, seen, newer_than, self.now())
            .await?;
        if deleted > 0 {
            tracing::info!(
                deleted,
                "comments gone from the threads read marked deleted"
            );
        }
        Ok(deleted)
    }

    async fn settle(&self, post: PostKey, record: WalkRecord) -> Result<(), PollError> {
        Ok(self.store.record_walk(post, self.now(), &record).await?)
    }

    /// After a walk that read every page: what it did not see is gone from the platform, and the
    /// platform's count is what the store now accounts for.
    async fn finish_full_walk(
        &self,
        post: PostKey,
        media: &Media,
        walk: &Walk,
    ) -> Result<(), PollError> {
        if walk.reached_end {
            let deleted = self
                .store
                .mark_missing_deleted(post, &walk.seen, self.now())
                .await?;
            if deleted > 0 {
                tracing::info!(deleted, "comments no longer on the platform marked deleted");
            }
        }
        let record = WalkRecord {
            count: media.comments_count,
            missing: 0,
            full: walk.reached_end,
            searched: walk.reached_end,
        };
        self.settle(post, record).await
    }

    /// Walks one post's comments from the newest (or from an interrupted walk's cursor) down to
    /// the stored watermark minus the overlap window, or to the end for a full walk.
    ///
    /// Pages are handed to the group-committing writer and the next one is fetched while they
    /// wait, up to [`PAGES_IN_FLIGHT`] of them; every page handed in is stored (or has failed)
    /// before this returns, so the caller sees the walk's whole effect in the store.
    #[allow(clippy::too_many_arguments)]
    async fn walk_post<C: PlatformClient>(
        &self,
        client: &C,
        post: PostKey,
        post_id: &str,
        state: &crate::store::WalkState,
        depth: Depth,
        cancel: &CancellationToken,
        outcome: &mut AccountPollOutcome,
    ) -> Result<Walk, PollError> {
        let mut walk = Walk::default();
        let mut in_flight = VecDeque::new();
        let walked = self
            .walk_pages(
                client,
                (post, post_id),
                state,
                depth,
                cancel,
                &mut walk,
                &mut in_flight,
                outcome,
            )
            .await;
        // Whatever ended the walk, its pages are accounted for before the caller goes on.
        let stored = self
            .await_pages(&mut in_flight, 0, &mut walk, outcome)
            .await;
        let end = walked?;
        stored?;
        match end {
            WalkEnd::Completed => walk.completed = true,
            WalkEnd::Interrupted => outcome.interrupted = true,
        }
        Ok(walk)
    }

    /// The page loop of [`Worker::walk_post`]: returns how the walk ended, leaving the pages it
    /// handed in (`in_flight`) for the caller to await.
    #[allow(clippy::too_many_arguments)]
    async fn walk_pages<C: PlatformClient>(
        &self,
        client: &C,
        (post, post_id): (PostKey, &str),
        state: &crate::store::WalkState,
        depth: Depth,
        cancel: &CancellationToken,
        walk: &mut Walk,
        in_flight: &mut VecDeque<InFlightPage>,
        outcome: &mut AccountPollOutcome,
    ) -> Result<WalkEnd, PollError> {
        let floor = match depth {
            Depth::Incremental => state.watermark.map(|w| w - self.settings.worker.overlap()),
            Depth::UntilFound(_) | Depth::Full => None,
        };
        let writer_walk = self.pages.start_walk();
        // This walk, or the chain of interrupted walks it resumes, started at the newest page: a
        // full walk, or a first backfill. (A search that goes on below another walk's pages also
        // covers every page, but its caller records that.)
        let reads_from_the_top =
            (depth == Depth::Full && state.resume_after.is_none()) || state.watermark.is_none();
        let mut after = state.resume_after.clone();
        let mut walk_newest = state.walk_newest;
        let mut seen_cursors: HashSet<String> = after.iter().cloned().collect();
        let mut restarted = false;
        let mut fetched_pages = 0;
        loop {
            let page_span = comment_page_span(fetched_pages + 1, after.is_some());
            let fetched = client
                .list_comments(post_id, after.as_deref())
                .instrument(page_span.clone())
                .await;
            let page = match fetched {
                Err(PlatformError::InvalidRequest { message }) if after.is_some() && !restarted => {
                    tracing::warn!(%message, "saved cursor refused; restarting the walk from the newest page");
                    after = None;
                    restarted = true;
                    continue;
                }
                other => other?,
            };
            fetched_pages += 1;
            let top_level: Vec<&Comment> = page
                .items
                .iter()
                .filter(|c| c.parent_id.is_none())
                .collect();
            walk.threads
                .extend(top_level.iter().map(|c| c.external_id.clone()));
            walk.last_top_level = top_level
                .last()
                .map(|c| c.created_at)
                .or(walk.last_top_level);
            walk.seen
                .extend(page.items.iter().map(|c| c.external_id.clone()));
            let page_newest = top_level.iter().map(|c| c.created_at).max();
            walk_newest = walk_newest.max(page_newest);
            let reached_known = floor.is_some_and(|floor| reaches_floor(&top_level, floor));
            let next = page
                .next
                .clone()
                .filter(|next| !reached_known && seen_cursors.insert(next.clone()));
            if page.next.is_some() && next.is_none() && !reached_known {
                tracing::warn!("the platform returned a cursor already followed; ending the walk");
            }
            walk.reached_end |= page.next.is_none();
            if reached_known {
                walk.floor_cursor = page.next.clone();
            }
            let fetched = page.items.len();
            let classified = self.classify_all(page.items);
            let progress = match &next {
                Some(after) => WalkProgress::Continue {
                    after: after.clone(),
                    walk_newest,
                },
                None => WalkProgress::Complete {
                    watermark: state.watermark.max(walk_newest),
                    read_every_page: page.next.is_none() && reads_from_the_top,
                },
            };
            let pending = self
                .pages
                .queue(writer_walk, post, classified, progress, self.now())
                .await;
            in_flight.push_back(InFlightPage {
                pending,
                fetched,
                span: page_span,
            });
            if let Some(progress) = &self.progress {
                progress.read(fetched as u64);
            }
            // A search stops as soon as it has found enough, so it needs each page's outcome
            // before fetching the next; other walks keep a few pages in flight.
            let keep = match depth {
                Depth::UntilFound(_) => 0,
                Depth::Incremental | Depth::Full => PAGES_IN_FLIGHT - 1,
            };
            self.await_pages(in_flight, keep, walk, outcome).await?;
            let explained = matches!(depth, Depth::UntilFound(wanted) if walk.inserted >= wanted);
            match next {
                None => return Ok(WalkEnd::Completed),
                Some(_) if explained => {
                    // Every announced comment is found: end the walk here, as if at the end.
                    let done = WalkProgress::Complete {
                        watermark: state.watermark.max(walk_newest),
                        read_every_page: false,
                    };
                    let pending = self
                        .pages
                        .queue(writer_walk, post, Vec::new(), done, self.now())
                        .await;
                    pending.stored().await?;
                    return Ok(WalkEnd::Completed);
                }
                Some(next) => after = Some(next),
            }
            if cancel.is_cancelled() {
                return Ok(WalkEnd::Interrupted);
            }
        }
    }

    /// Awaits the oldest pages in flight until at most `keep` remain, adding what they stored to
    /// the walk and the account's outcome.
    async fn await_pages(
        &self,
        in_flight: &mut VecDeque<InFlightPage>,
        keep: usize,
        walk: &mut Walk,
        outcome: &mut AccountPollOutcome,
    ) -> Result<(), PollError> {
        let mut first_error = None;
        while in_flight.len() > keep {
            let Some(page) = in_flight.pop_front() else {
                break;
            };
            match page.pending.stored().await {
                Ok(written) => {
                    page.span.in_scope(|| {
                        tracing::debug!(
                            comments = page.fetched,
                            new = written.inserted,
                            changed = written.updated,
                            answered = written.answered,
                            "page stored"
                        )
                    });
                    walk.pages += 1;
                    walk.inserted += written.inserted;
                    outcome.add_page(page.fetched, written);
                }
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        match first_error {
            Some(error) => Err(error.into()),
            None => Ok(()),
        }
    }

    /// Re-reads the threads of the post's open questions that this walk did not reach, so an
    /// answer written under an older comment resolves it. Returns the comments new to the store.
    async fn refresh_open_threads<C: PlatformClient>(
        &self,
        client: &C,
        post: PostKey,
        media: &Media,
        cutoff: DateTime<Utc>,
        already_read: &[String],
        outcome: &mut AccountPollOutcome,
    ) -> Result<u64, PollError> {
        let already_read: HashSet<&str> = already_read.iter().map(String::as_str).collect();
        let ids: Vec<String> = self
            .store
            .open_threads(&[post], cutoff)
            .await?
            .into_iter()
            .map(|(_, id)| id)
            .filter(|id| !already_read.contains(id.as_str()))
            .collect();
        if ids.is_empty() {
            return Ok(0);
        }
        let comments = client.fetch_threads(&media.external_id, &ids).await?;
        let fetched = comments.len();
        let classified = self.classify_all(comments);
        let written = self
            .store
            .save_comment_page(post, &classified, &WalkProgress::Unchanged, self.now())
            .await?;
        outcome.add_page(fetched, written);
        Ok(written.inserted)
    }

    fn classify_all(&self, comments: Vec<Comment>) -> Vec<ClassifiedComment> {
        comments
            .into_iter()
            .map(|comment| ClassifiedComment {
                verdict: self.classifier.classify(&comment.text),
                comment,
            })
            .collect()
    }
}

/// Whether a shutdown was asked for, noting it in `outcome`: checked before a post's walk and,
/// after the walk, before the calls that look further for the comments the post's count says it
/// missed. Those wait for the next run, which looks for the same ones (the post stays unsettled,
/// and what this walk found is in its tally already).
fn stop_if_cancelled(cancel: &CancellationToken, outcome: &mut AccountPollOutcome) -> bool {
    let stop = cancel.is_cancelled();
    outcome.interrupted |= stop;
    stop
}

/// Whether a page of top-level comments, newest first, reached the walk's floor: its last
/// comment is older, so every later page is too and the walk can end with this page instead of
/// reading one more that holds nothing new. The last comment, not any: a platform may pin an old
/// comment at the top of the first page.
fn reaches_floor(top_level: &[&Comment], floor: DateTime<Utc>) -> bool {
    top_level.last().is_some_and(|c| c.created_at < floor)
}

/// The span of one comment page of a walk.
fn comment_page_span(page: usize, resumed: bool) -> tracing::Span {
    tracing::debug_span!("poll_page", page, resumed)
}

/// The client of the account's platform, sending the token `token` holds at each request.
fn build_client(
    settings: &Settings,
    account: &AccountSettings,
    token: SharedToken,
    policy: HttpPolicy,
) -> Result<AnyClient, String> {
    let brand_handles: Vec<String> = settings
        .campaigns_of(&account.name)
        .filter_map(|c| c.brand_handle.clone())
        .collect();
    match account.platform {
        Platform::Instagram => {
            let identity = Identity {
                account_id: account.account_id.clone(),
                owner_handle: account.owner_handle.clone(),
                brand_handles,
            };
            InstagramClient::new(
                &account.api_base_url,
                token,
                identity,
                settings.worker.page_size_on(account.platform),
                policy,
            )
            .map(AnyClient::Instagram)
            .map_err(|e| e.to_string())
        }
        Platform::Facebook => FacebookClient::new(
            &account.api_base_url,
            token,
            facebook::Identity {
                page_id: account.account_id.clone(),
                brand_handles,
            },
            settings.worker.page_size,
            policy,
        )
        .map(AnyClient::Facebook)
        .map_err(|e| e.to_string()),
        Platform::Youtube => YoutubeClient::new(
            &account.api_base_url,
            token,
            youtube::Identity {
                channel_id: account.account_id.clone(),
                brand_handles,
            },
            settings.worker.page_size_on(account.platform),
            youtube::QuotaMeter::new(
                settings.worker.youtube_daily_units,
                youtube::CostTable::Flat,
            ),
            policy,
        )
        .map(AnyClient::Youtube)
        .map_err(|e| e.to_string()),
        Platform::Tiktok => TiktokClient::new(
            &account.api_base_url,
            token,
            &account.account_id,
            brand_handles,
            settings.worker.page_size_on(account.platform),
            policy,
        )
        .map(AnyClient::Tiktok)
        .map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AuthorRole;
    use crate::platforms::Page;

    fn top_level(minutes_ago: i64) -> Comment {
        Comment {
            external_id: format!("c{minutes_ago}"),
            parent_id: None,
            author_id: None,
            author_handle: "someone".to_owned(),
            role: AuthorRole::Audience,
            text: "love it".to_owned(),
            created_at: floor() + chrono::Duration::minutes(30 - minutes_ago),
            hidden: false,
        }
    }

    /// Thirty minutes ago.
    fn floor() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-28T12:00:00Z")
            .unwrap()
            .to_utc()
    }

    /// An account whose listing shifts between two calls: a new post pushes `p2` from the first
    /// page to the second, so it is listed twice.
    struct ShiftingListing;

    fn media(id: &str) -> Media {
        Media {
            external_id: id.to_owned(),
            caption: "#ad".to_owned(),
            permalink: None,
            created_at: floor(),
            comments_count: Some(0),
        }
    }

    impl PlatformClient for ShiftingListing {
        async fn list_posts(&self, after: Option<&str>) -> Result<Page<Media>, PlatformError> {
            Ok(match after {
                None => Page {
                    items: vec![media("p1"), media("p2")],
                    next: Some("2".to_owned()),
                },
                Some(_) => Page {
                    items: vec![media("p2"), media("p3")],
                    next: None,
                },
            })
        }

        async fn list_comments(
            &self,
            _post_id: &str,
            _after: Option<&str>,
        ) -> Result<Page<Comment>, PlatformError> {
            unreachable!("only the listing is read")
        }

        async fn fetch_threads(
            &self,
            _post_id: &str,
            _comment_ids: &[String],
        ) -> Result<Vec<Comment>, PlatformError> {
            unreachable!("only the listing is read")
        }
    }

    #[tokio::test]
    async fn a_post_listed_twice_is_polled_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).await.unwrap();
        let (worker, account) = test_worker(dir.path(), store.clone());
        let cutoff = floor() - chrono::Duration::days(1);
        let posts = worker
            .recent_posts(&account, &ShiftingListing, cutoff)
            .await
            .unwrap();
        let ids: Vec<&str> = posts.iter().map(|(m, _)| m.external_id.as_str()).collect();
        assert_eq!(ids, ["p1", "p2", "p3"]);
        store.close().await;
    }

    /// A post with one comment in its only page, whose count announces five: the four others
    /// are in older threads, to be searched for. Counts the comment pages served.
    #[derive(Default)]
    struct CountShort {
        pages: std::sync::atomic::AtomicUsize,
    }

    impl PlatformClient for CountShort {
        async fn list_posts(&self, _after: Option<&str>) -> Result<Page<Media>, PlatformError> {
            unreachable!("the post is given")
        }

        async fn list_comments(
            &self,
            _post_id: &str,
            _after: Option<&str>,
        ) -> Result<Page<Comment>, PlatformError> {
            self.pages.fetch_add(1, Ordering::SeqCst);
            Ok(Page {
                items: vec![top_level(5)],
                next: None,
            })
        }

        async fn fetch_threads(
            &self,
            _post_id: &str,
            _comment_ids: &[String],
        ) -> Result<Vec<Comment>, PlatformError> {
            Ok(Vec::new())
        }
    }

    fn test_worker(dir: &std::path::Path, store: Store) -> (Worker, AccountSettings) {
        let settings = Settings::parse(
            "database = \"t.db\"\n\n[[accounts]]\nname = \"ann\"\nplatform = \"instagram\"\n\
             account_id = \"1784\"\nowner_handle = \"ann\"\n\
             api_base_url = \"http://127.0.0.1:9/v23.0\"\ntoken_env = \"TRIAGE_TEST_TOKEN\"\n",
            &dir.join("test.toml"),
        )
        .unwrap();
        let account = settings.accounts[0].clone();
        let classifier = Arc::new(Classifier::builtin().unwrap());
        let worker = Worker::new(Arc::new(settings), store, classifier, |_| None);
        (worker, account)
    }

    /// A shutdown asked for during a walk lets it finish, but not the search for the comments
    /// the count says it missed: that waits for the next run (the post stays unsettled).
    #[tokio::test]
    async fn a_shutdown_after_a_walk_leaves_the_search_for_the_next_run() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).await.unwrap();
        let (worker, _) = test_worker(dir.path(), store.clone());
        let account = store
            .upsert_account(crate::domain::Platform::Instagram, "1784", "ann", "ann")
            .await
            .unwrap();
        let mut post = media("p1");
        post.comments_count = Some(5);
        let key = store
            .upsert_posts(account, &[(post.clone(), Vec::new())])
            .await
            .unwrap()[0];
        let stored = PostSchedule::default();
        for (cancelled, pages) in [(true, 1), (false, 2)] {
            let cancel = CancellationToken::new();
            if cancelled {
                cancel.cancel();
            }
            let client = CountShort::default();
            let mut outcome = AccountPollOutcome::default();
            worker
                .sync_post(
                    &client,
                    key,
                    &post,
                    &stored,
                    (WalkReason::CountMoved { delta: 5 }, Mode::CatchUp),
                    &worker.schedule_settings,
                    floor() - chrono::Duration::days(1),
                    &cancel,
                    &mut outcome,
                )
                .await
                .unwrap();
            assert_eq!(outcome.interrupted, cancelled);
            assert_eq!(
                client.pages.load(Ordering::SeqCst),
                pages,
                "cancelled: {cancelled}"
            );
        }
        store.close().await;
    }

    #[test]
    fn a_page_that_crosses_the_floor_ends_the_walk() {
        let page = [top_level(5), top_level(20), top_level(40)];
        assert!(reaches_floor(&page.iter().collect::<Vec<_>>(), floor()));
        let newer = [top_level(5), top_level(20), top_level(29)];
        assert!(!reaches_floor(&newer.iter().collect::<Vec<_>>(), floor()));
        assert!(!reaches_floor(&[], floor()));
    }

    #[test]
    fn an_old_pinned_comment_on_top_does_not_end_the_walk() {
        let page = [top_level(600), top_level(5), top_level(20)];
        assert!(!reaches_floor(&page.iter().collect::<Vec<_>>(), floor()));
    }
}
