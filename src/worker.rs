//! The polling worker: for every account, list recent posts, walk each post's comments page by
//! page down to what is already stored, classify them, and store each page together with the walk
//! state that says where to resume.
//!
//! ```text
//! run_until_stopped ── poll_once ──┬── poll_account (≤ max_concurrent_accounts at once)
//!      (schedule)       (a cycle)  │     ├─ list posts within lookback, keep the campaigns' posts
//!                                  │     ├─ walk_post: page → classify → save page + cursor (1 tx)
//!                                  │     └─ refresh threads of older open questions (answers)
//!                                  └── …
//! ```
//!
//! Exactly-once: a page's comments and the cursor of the next page commit in one transaction, and
//! the watermark moves only when a walk completes, so a crash or kill at any point resumes from the
//! last committed page and loses nothing; re-reading a page is harmless because comments are keyed
//! by their platform id. Failures are isolated per account: an expired token fails that account
//! with an actionable message and the others complete. Cancellation is checked between pages:
//! the page in hand is stored before the worker stops.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::classify::Classifier;
use crate::config::{AccountSettings, Settings, token_from_env};
use crate::domain::{Comment, Media, Platform};
use crate::platforms::http::HttpPolicy;
use crate::platforms::instagram::{Identity, InstagramClient};
use crate::platforms::tiktok::TiktokClient;
use crate::platforms::youtube::{self, YoutubeClient};
use crate::platforms::{PlatformClient, PlatformError};
use crate::store::{
    AccountKey, ClassifiedComment, PageWriteOutcome, PostKey, Store, StoreError, WalkProgress,
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
    #[error(transparent)]
    Platform(#[from] PlatformError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one account's poll did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountPollOutcome {
    pub posts: usize,
    pub pages: usize,
    pub fetched: u64,
    pub inserted: u64,
    pub updated: u64,
    pub answered: u64,
    /// Cancelled before the walk finished; the next poll resumes where this one stopped.
    pub interrupted: bool,
}

impl AccountPollOutcome {
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
            total.posts += o.posts;
            total.pages += o.pages;
            total.fetched += o.fetched;
            total.inserted += o.inserted;
            total.updated += o.updated;
            total.answered += o.answered;
            total.interrupted |= o.interrupted;
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
                    "{name}: ok — {} posts, {} pages, {} comments read, {} new, {} changed, {} answered{}",
                    o.posts,
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

/// How far a walk reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Depth {
    /// Down to the watermark minus the overlap window.
    Incremental,
    /// Every page.
    Full,
}

/// What one walk of a post did.
#[derive(Debug, Default)]
struct Walk {
    /// Top-level comment ids seen (their threads were read in full).
    threads: Vec<String>,
    /// For a full walk: every comment and reply id seen.
    seen: HashSet<String>,
    inserted: u64,
    pages: usize,
    /// Reached its end (not interrupted by cancellation).
    completed: bool,
}

/// A platform client of any supported platform.
enum AnyClient {
    Instagram(InstagramClient),
    Youtube(YoutubeClient),
    Tiktok(TiktokClient),
}

struct AccountRunner {
    settings: AccountSettings,
    client: Result<AnyClient, String>,
}

/// The polling worker. Build once; call [`Worker::poll_once`] or [`Worker::run_until_stopped`].
pub struct Worker {
    settings: Arc<Settings>,
    store: Store,
    classifier: Arc<Classifier>,
    accounts: Vec<AccountRunner>,
}

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
            .map(|account| AccountRunner {
                client: build_client(&settings, account, &token_lookup, policy.clone()),
                settings: account.clone(),
            })
            .collect();
        Worker {
            settings,
            store,
            classifier,
            accounts,
        }
    }

    /// Polls every account once, at most `max_concurrent_accounts` at a time.
    pub async fn poll_once(&self, cancel: &CancellationToken) -> CycleReport {
        let limit = self.settings.worker.max_concurrent_accounts.max(1);
        let accounts = futures::stream::iter(&self.accounts)
            .map(|runner| async move {
                let span = tracing::info_span!(
                    "poll_account",
                    account = %runner.settings.name,
                    platform = %runner.settings.platform
                );
                let result = self.poll_account(runner, cancel).instrument(span).await;
                (runner.settings.name.clone(), result)
            })
            .buffer_unordered(limit)
            .collect::<Vec<_>>()
            .await;
        let mut report = CycleReport { accounts };
        report.accounts.sort_by(|a, b| a.0.cmp(&b.0));
        report
    }

    /// Polls every `poll_interval_secs` until `cancel` fires. The page in hand is finished first.
    pub async fn run_until_stopped(&self, cancel: CancellationToken) {
        loop {
            let report = self.poll_once(&cancel).await;
            let total = report.total();
            tracing::info!(
                accounts = report.accounts.len(),
                failed = report.failures(),
                new_comments = total.inserted,
                answered = total.answered,
                "poll cycle finished"
            );
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(self.settings.worker.poll_interval()) => {}
            }
        }
        tracing::info!("worker stopped");
    }

    async fn poll_account(
        &self,
        runner: &AccountRunner,
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
        let result = match &runner.client {
            Err(setup) => Err(PollError::Setup(setup.clone())),
            Ok(AnyClient::Instagram(client)) => self.poll_with(account, key, client, cancel).await,
            Ok(AnyClient::Youtube(client)) => self.poll_with(account, key, client, cancel).await,
            Ok(AnyClient::Tiktok(client)) => self.poll_with(account, key, client, cancel).await,
        };
        let result = result.map_err(|e| match e {
            PollError::Platform(source @ PlatformError::TokenRejected { .. }) => {
                PollError::TokenRejected {
                    token_env: account.token_env.clone(),
                    source,
                }
            }
            other => other,
        });
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

    async fn poll_with<C: PlatformClient>(
        &self,
        account: &AccountSettings,
        key: AccountKey,
        client: &C,
        cancel: &CancellationToken,
    ) -> Result<AccountPollOutcome, PollError> {
        let mut outcome = AccountPollOutcome::default();
        let cutoff = Utc::now() - self.settings.worker.lookback();
        let posts = self.recent_posts(account, client, cutoff).await?;
        let keys = self.store.upsert_posts(key, &posts).await?;
        outcome.posts = keys.len();

        let mut walked_threads = HashSet::new();
        for (post, (media, _)) in keys.iter().zip(&posts) {
            if cancel.is_cancelled() {
                outcome.interrupted = true;
                return Ok(outcome);
            }
            let span = tracing::info_span!("poll_post", post = %media.external_id);
            let walked = self
                .sync_post(client, *post, media, cancel, &mut outcome)
                .instrument(span)
                .await;
            match walked {
                Ok(ids) => walked_threads.extend(ids),
                Err(PollError::Platform(PlatformError::NotFound { message })) => {
                    tracing::warn!(post = %media.external_id, %message, "post is gone, skipping it");
                }
                Err(e) => return Err(e),
            }
            if outcome.interrupted {
                return Ok(outcome);
            }
        }

        let post_ids: BTreeMap<PostKey, &str> = keys
            .iter()
            .zip(&posts)
            .map(|(key, (media, _))| (*key, media.external_id.as_str()))
            .collect();
        self.refresh_open_threads(client, &post_ids, cutoff, &walked_threads, &mut outcome)
            .await?;
        Ok(outcome)
    }

    /// The account's posts created since `cutoff` that belong to one of its campaigns (every
    /// recent post when the account is in no campaign), with the names of those campaigns.
    async fn recent_posts<C: PlatformClient>(
        &self,
        account: &AccountSettings,
        client: &C,
        cutoff: DateTime<Utc>,
    ) -> Result<Vec<(Media, Vec<String>)>, PollError> {
        let in_any_campaign = self.settings.campaigns_of(&account.name).next().is_some();
        let mut posts = Vec::new();
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

    /// Brings one post up to date: an incremental walk down to the watermark, then, when the
    /// platform's comment count moved by more than the walk found, a full walk — the only way to
    /// see a reply added deep in an old thread, which does not move its thread to the top.
    async fn sync_post<C: PlatformClient>(
        &self,
        client: &C,
        post: PostKey,
        media: &Media,
        cancel: &CancellationToken,
        outcome: &mut AccountPollOutcome,
    ) -> Result<Vec<String>, PollError> {
        let state = self.store.walk_state(post).await?;
        let incremental = self
            .walk_post(
                client,
                post,
                &media.external_id,
                &state,
                Depth::Incremental,
                cancel,
                outcome,
            )
            .await?;
        let Some(count) = media.comments_count else {
            return Ok(incremental.threads);
        };
        if !incremental.completed || state.reconciled_count == Some(count) {
            return Ok(incremental.threads);
        }
        let announced = count as i64 - state.reconciled_count.map_or(0, |c| c as i64);
        if incremental.inserted as i64 == announced {
            self.store.set_reconciled_count(post, count).await?;
            return Ok(incremental.threads);
        }
        tracing::info!(
            announced,
            found = incremental.inserted,
            "the comment count moved differently from the new comments found; re-reading every thread"
        );
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
        if full.completed {
            let deleted = self
                .store
                .mark_missing_deleted(post, &full.seen, Utc::now())
                .await?;
            if deleted > 0 {
                tracing::info!(deleted, "comments no longer on the platform marked deleted");
            }
            self.store.set_reconciled_count(post, count).await?;
        }
        let mut threads = incremental.threads;
        threads.extend(full.threads);
        Ok(threads)
    }

    /// Walks one post's comments from the newest (or from an interrupted walk's cursor) down to
    /// the stored watermark minus the overlap window, or to the end for a full walk.
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
        let floor = match depth {
            Depth::Incremental => state.watermark.map(|w| w - self.settings.worker.overlap()),
            Depth::Full => None,
        };
        let mut after = state.resume_after.clone();
        let mut walk_newest = state.walk_newest;
        let mut seen_cursors: HashSet<String> = after.iter().cloned().collect();
        let mut restarted = false;
        let mut walk = Walk::default();
        loop {
            let page_span = tracing::debug_span!(
                "poll_page",
                page = walk.pages + 1,
                resumed = after.is_some()
            );
            let page = match client
                .list_comments(post_id, after.as_deref())
                .instrument(page_span.clone())
                .await
            {
                Err(PlatformError::InvalidRequest { message }) if after.is_some() && !restarted => {
                    tracing::warn!(%message, "saved cursor refused; restarting the walk from the newest page");
                    after = None;
                    restarted = true;
                    continue;
                }
                other => other?,
            };
            let top_level: Vec<&Comment> = page
                .items
                .iter()
                .filter(|c| c.parent_id.is_none())
                .collect();
            walk.threads
                .extend(top_level.iter().map(|c| c.external_id.clone()));
            if depth == Depth::Full {
                walk.seen
                    .extend(page.items.iter().map(|c| c.external_id.clone()));
            }
            let page_newest = top_level.iter().map(|c| c.created_at).max();
            walk_newest = walk_newest.max(page_newest);
            let reached_known = floor.is_some_and(|floor| {
                !top_level.is_empty() && top_level.iter().all(|c| c.created_at < floor)
            });
            let next = page
                .next
                .clone()
                .filter(|next| !reached_known && seen_cursors.insert(next.clone()));
            if page.next.is_some() && next.is_none() && !reached_known {
                tracing::warn!("the platform returned a cursor already followed; ending the walk");
            }
            let progress = match &next {
                Some(after) => WalkProgress::Continue {
                    after: after.clone(),
                    walk_newest,
                },
                None => WalkProgress::Complete {
                    watermark: state.watermark.max(walk_newest),
                },
            };
            let fetched = page.items.len();
            let classified = self.classify_all(page.items);
            let written = self
                .store
                .save_comment_page(post, &classified, &progress, Utc::now())
                .await?;
            page_span.in_scope(|| {
                tracing::debug!(
                    comments = fetched,
                    new = written.inserted,
                    changed = written.updated,
                    answered = written.answered,
                    "page stored"
                )
            });
            walk.pages += 1;
            outcome.add_page(fetched, written);
            walk.inserted += written.inserted;
            match next {
                None => {
                    walk.completed = true;
                    return Ok(walk);
                }
                Some(next) => after = Some(next),
            }
            if cancel.is_cancelled() {
                outcome.interrupted = true;
                return Ok(walk);
            }
        }
    }

    /// Re-reads the threads of open questions that this cycle's walks did not reach, so an answer
    /// written under an older comment resolves it.
    async fn refresh_open_threads<C: PlatformClient>(
        &self,
        client: &C,
        posts: &BTreeMap<PostKey, &str>,
        cutoff: DateTime<Utc>,
        already_read: &HashSet<String>,
        outcome: &mut AccountPollOutcome,
    ) -> Result<(), PollError> {
        let mut by_post: BTreeMap<PostKey, Vec<String>> = BTreeMap::new();
        let keys: Vec<PostKey> = posts.keys().copied().collect();
        for (post, id) in self.store.open_threads(&keys, cutoff).await? {
            if !already_read.contains(&id) {
                by_post.entry(post).or_default().push(id);
            }
        }
        for (post, ids) in by_post {
            let post_id = posts.get(&post).copied().unwrap_or_default();
            let comments = client.fetch_threads(post_id, &ids).await?;
            let fetched = comments.len();
            let classified = self.classify_all(comments);
            let written = self
                .store
                .save_comment_page(post, &classified, &WalkProgress::Unchanged, Utc::now())
                .await?;
            outcome.add_page(fetched, written);
        }
        Ok(())
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

fn build_client(
    settings: &Settings,
    account: &AccountSettings,
    token_lookup: &impl Fn(&str) -> Option<String>,
    policy: HttpPolicy,
) -> Result<AnyClient, String> {
    let token: SecretString = token_from_env(account, token_lookup)?;
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
                settings.worker.page_size,
                policy,
            )
            .map(AnyClient::Instagram)
            .map_err(|e| e.to_string())
        }
        Platform::Youtube => YoutubeClient::new(
            &account.api_base_url,
            token,
            youtube::Identity {
                channel_id: account.account_id.clone(),
                brand_handles,
            },
            settings.worker.page_size,
            youtube::QuotaMeter::new(youtube::DEFAULT_DAILY_UNITS, youtube::CostTable::Flat),
            policy,
        )
        .map(AnyClient::Youtube)
        .map_err(|e| e.to_string()),
        Platform::Tiktok => TiktokClient::new(
            &account.api_base_url,
            token,
            &account.account_id,
            brand_handles,
            settings.worker.page_size,
            policy,
        )
        .map(AnyClient::Tiktok)
        .map_err(|e| e.to_string()),
        other => Err(format!(
            "account {:?}: the {other} client is not available in this version yet",
            account.name
        )),
    }
}
