//! Loopback simulator of the Instagram and Facebook Pages Graph API, YouTube Data API and TikTok
//! API for Business, used by `triage demo`, the integration tests and anyone without API access.
//!
//! # Design
//!
//! A [`Scenario`](scenario::Scenario) is generated once, deterministically from
//! [`ScenarioParams::seed`] (ChaCha8): creator accounts, their posts, every comment and reply the
//! posts will ever receive, each with its creation time, and what the generator meant each text to
//! be (its intended [`Label`]). Nothing is generated on the fly afterwards, so the same seed always
//! yields the same world, whatever the client does.
//!
//! A simulated clock decides what exists: a post, comment or reply is visible once its timestamp
//! is at or before [`SimHandle::now`] and until its deletion time, if it has one. Moving the
//! clock with [`SimHandle::advance`] therefore reveals new comments, including in the middle of a
//! paged walk; because new comments always arrive at the head of a newest-first list and cursors
//! are position keys `(timestamp, id)`, a walk never skips or repeats an item.
//!
//! The HTTP side (`instagram.rs`) mimics Graph: any `/vNN.N/` prefix, tokens in the query or a
//! Bearer header, field selection with nested `replies{…}` and `from{…}`, omitted empty edges and
//! nulls, `paging.next` URLs that repeat every query parameter, Meta's error envelope, the
//! `X-Business-Use-Case-Usage` header and BUC throttling (`faults.rs`). Facebook Pages objects
//! live on the same Graph routes and are answered by `facebook.rs` (posts, `filter`/`order`,
//! `summary`, `from` missing without access). Faults can be injected one
//! by one ([`SimHandle::inject`]) or drawn at random from the seed ([`SimOptions::fault_rate`]).
//!
//! # Choices worth knowing
//!
//! - The clock starts [`INITIAL_CLOCK_OFFSET_HOURS`] hours after [`ScenarioParams::start`], so the
//!   first post of each account already has a history on the first poll.
//! - The usage percentage counts calls in the last hour of *real* time (calls are real; the
//!   simulated clock may run much faster than a real client can call).
//! - Lists, including replies, are newest first.
//! - Spam is hidden (`hidden: true`) or deleted a little later (gone from lists, 100/33 on GET).
//! - Tokens never expire unless [`SimOptions::token_lifetimes`] is set; the three refresh
//!   endpoints (Instagram `ig_refresh_token`, Google's token endpoint, TikTok's
//!   `tt_user/oauth2/refresh_token/`) are always served (`tokens.rs`).
//! - Read-only: writes (`POST /{id}/replies`, hide, delete) and webhooks are not simulated; any
//!   non-GET method answers 100/33 like an unsupported operation. Authors' own edits are
//!   ([`ScenarioParams::edit_share`], off by default): the text changes in place.
//! - Throttling codes 4 and 17 come with HTTP 403, the others with 400; `paging.next` always
//!   carries `access_token`, even when the request used a Bearer header.

mod clock;
mod facebook;
mod faults;
mod fields;
mod generate;
mod ids;
mod instagram;
mod paging;
mod scenario;
mod tiktok;
mod tokens;
mod youtube;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use tokio_util::sync::CancellationToken;

use crate::domain::{Label, Platform};

use self::instagram::SimState;
pub use self::tokens::{
    GOOGLE_TOKEN_PATH, INSTAGRAM_REFRESH_PATH, SIM_CLIENT_ID, SIM_CLIENT_SECRET,
    TIKTOK_REFRESH_PATH, TokenLifetimes,
};

/// How many simulated hours after [`ScenarioParams::start`] the clock starts.
pub const INITIAL_CLOCK_OFFSET_HOURS: i64 = 6;

/// The API version `base_url` advertises; every `vNN.N` prefix is accepted.
pub const API_VERSION: &str = "v23.0";

/// What the generated world looks like. Everything derives from `seed`.
#[derive(Clone, Debug)]
pub struct ScenarioParams {
    pub seed: u64,
    /// Creator accounts. Default 2.
    pub accounts: usize,
    /// Posts per account. Default 4; most are sponsored (caption with `#ad` and `@glowlab`), and
    /// with two posts or more at least one is not.
    pub posts_per_account: usize,
    /// Top-level audience comments per post over its whole life. Default 60; replies and the
    /// creator's own top-level `@mention` answers come on top.
    pub comments_per_post: usize,
    /// Time of the first post. Default 2024-05-01T09:00:00Z.
    pub start: DateTime<Utc>,
    /// Which platform each creator account is on: account `k` is on `platforms[k % len]`.
    /// Default Instagram only. An empty list means Instagram only.
    pub platforms: Vec<Platform>,
    /// Share (0.0..=1.0) of audience top-level comments their author edits, minutes to hours
    /// after posting: the text changes in place (YouTube's `updatedAt` moves), nothing else does.
    /// Drawn from the seed apart from the rest of the world, so turning it on changes nothing
    /// else. Default 0.
    pub edit_share: f64,
}

impl Default for ScenarioParams {
    fn default() -> Self {
        ScenarioParams {
            seed: 42,
            accounts: 2,
            posts_per_account: 4,
            comments_per_post: 60,
            start: Utc.with_ymd_and_hms(2024, 5, 1, 9, 0, 0).unwrap(),
            platforms: vec![Platform::Instagram],
            edit_share: 0.0,
        }
    }
}

/// A creator account served by the simulator, with the token that reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimAccount {
    /// The platform's id of the account: 17-digit IG user id, 15-digit Page id, `UC…` YouTube
    /// channel id, or TikTok `open_id` (the `business_id` of the Business API).
    pub id: String,
    pub username: String,
    pub token: String,
    pub platform: Platform,
}

/// How the server behaves, independently of the world it serves. A zero in a cap or budget means
/// "use the default".
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Share of requests (0.0..=1.0) answered with a random fault: 5xx, truncated JSON, an HTML
    /// error page or a throttling error. Drawn from the scenario seed. Default 0.
    pub fault_rate: f64,
    /// Largest accepted `limit`; larger values are clamped. Default 50.
    pub page_cap: usize,
    /// Size of the first page of a nested `replies{…}` (Instagram) or `comments{…}` (Facebook)
    /// expansion that asks for no size. Default 5. A `.limit(n)` modifier is honoured up to
    /// `page_cap`, as Graph's field expansion does.
    pub nested_replies_cap: usize,
    /// Calls per account per rolling real-time hour that make 100 % in
    /// `X-Business-Use-Case-Usage`. Default 4800.
    pub hourly_call_budget: u32,
    /// YouTube quota units per account and simulated Pacific day; the counter resets at
    /// simulated midnight America/Los_Angeles. Default 10,000.
    pub youtube_daily_units: u64,
    /// YouTube cost table: `false` charges 1 unit per list call (the quota calculator), `true`
    /// charges 1 + 2 per `snippet`/`replies` part on `commentThreads.list` (the newer reference
    /// page). Default `false`.
    pub youtube_part_costs: bool,
    /// Reproduce the 2024 bug where `comments.list?parentId=` ignores `pageToken` and serves the
    /// first page again. Default `false`.
    pub youtube_ignore_reply_page_token: bool,
    /// TikTok calls per account per rolling real-time minute before `code 40100`. Default 600.
    pub tiktok_calls_per_minute: u32,
    /// Access tokens expire by the simulated clock (`tokens.rs`). Default `None`: tokens live
    /// forever, as the tests written before token refresh expect.
    pub token_lifetimes: Option<TokenLifetimes>,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            fault_rate: 0.0,
            page_cap: 50,
            nested_replies_cap: 5,
            hourly_call_budget: 4800,
            youtube_daily_units: 10_000,
            youtube_part_costs: false,
            youtube_ignore_reply_page_token: false,
            tiktok_calls_per_minute: 600,
            token_lifetimes: None,
        }
    }
}

impl SimOptions {
    /// The first page of a nested reply expansion: its `.limit(n)` up to `page_cap`, or
    /// `nested_replies_cap` when it names none.
    pub(crate) fn nested_reply_page(&self, limit: Option<usize>) -> usize {
        limit.map_or(self.nested_replies_cap, |n| n.clamp(1, self.page_cap))
    }

    fn normalized(mut self) -> Self {
        let defaults = SimOptions::default();
        if self.page_cap == 0 {
            self.page_cap = defaults.page_cap;
        }
        if self.nested_replies_cap == 0 {
            self.nested_replies_cap = defaults.nested_replies_cap;
        }
        if self.hourly_call_budget == 0 {
            self.hourly_call_budget = defaults.hourly_call_budget;
        }
        if self.youtube_daily_units == 0 {
            self.youtube_daily_units = defaults.youtube_daily_units;
        }
        if self.tiktok_calls_per_minute == 0 {
            self.tiktok_calls_per_minute = defaults.tiktok_calls_per_minute;
        }
        self.fault_rate = self.fault_rate.clamp(0.0, 1.0);
        self
    }
}

/// One comment or reply as the generator made it, for checking what a client found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TruthComment {
    pub id: String,
    pub platform: Platform,
    /// The creator account owning the media.
    pub account_id: String,
    pub media_id: String,
    /// The top-level comment, for a reply.
    pub parent_id: Option<String>,
    pub username: String,
    pub from_id: String,
    /// Facebook leaves `from` out of this comment for the Page's token: a client cannot know who
    /// wrote it (and must not take it for the owner). Always `false` on other platforms.
    pub author_hidden: bool,
    pub text: String,
    pub timestamp: DateTime<Utc>,
    /// Written by the creator owning the media.
    pub by_owner: bool,
    /// Written by the sponsoring brand's account.
    pub by_brand: bool,
    /// What the generator meant the text to be.
    pub intended: Label,
    /// For a top-level comment: the time of the first creator reply in its thread, or of the first
    /// creator top-level comment on the same media that `@mentions` its author and is not older
    /// than it, whichever comes first, among those visible now. Always `None` for replies. A
    /// mention cannot answer a comment whose author is hidden ([`TruthComment::author_hidden`]).
    pub answered_by_owner_at: Option<DateTime<Utc>>,
}

/// A post (IG media, Facebook Page post, YouTube or TikTok video) as the generator made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimPost {
    pub id: String,
    pub account_id: String,
    pub platform: Platform,
    pub caption: String,
    pub timestamp: DateTime<Utc>,
}

/// A deterministic one-off fault for tests.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Every API call is refused with this throttling code (4, 17, 32, 613, 80001 or 80002) for
    /// `duration` of real time from now. A Facebook Page's token hears 80001 for 80002 and 32 for
    /// 613 (the Page flavours of the same limits), with usage of type `pages`.
    Throttle {
        code: u32,
        duration: std::time::Duration,
    },
    /// The next `requests` requests get this HTTP status with a Meta transient-error body.
    ServerError { status: u16, requests: u32 },
    /// The next `requests` requests are answered as usual but with the body cut in half.
    TruncatedBody { requests: u32 },
    /// The next `requests` requests get a 502 with an HTML error page.
    HtmlBody { requests: u32 },
    /// The account's token is expired from now on (Meta 190/463, YouTube 401 `authError`,
    /// TikTok 40105).
    ExpireToken { account_id: String },
    /// Comments are switched off on this media from now on (YouTube 403 `commentsDisabled`).
    DisableComments { media_id: String },
    /// The media is deleted from now on (gone from lists; YouTube 404 `videoNotFound`).
    DeleteMedia { media_id: String },
}

/// Starts simulator servers.
pub struct SimServer;

impl SimServer {
    /// Generates the scenario, binds `listen` and serves the API on a background task until
    /// [`SimHandle::shutdown`].
    ///
    /// # Errors
    /// The address cannot be bound.
    pub async fn start(
        listen: SocketAddr,
        params: ScenarioParams,
        options: SimOptions,
    ) -> std::io::Result<SimHandle> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let mut addr = listener.local_addr()?;
        if addr.ip().is_unspecified() {
            addr.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        let origin = format!("http://{addr}");
        let state = Arc::new(SimState::new(&params, options.normalized(), origin));
        let shutdown = CancellationToken::new();
        let app = instagram::router(Arc::clone(&state));
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
            if let Err(error) = served {
                tracing::error!(error = %error, "simulator server stopped with an error");
            }
        });
        tracing::info!(addr = %addr, seed = params.seed, "platform simulator listening");
        Ok(SimHandle { state, shutdown })
    }
}

/// A cheap handle on a running simulator.
#[derive(Clone)]
pub struct SimHandle {
    state: Arc<SimState>,
    shutdown: CancellationToken,
}

impl SimHandle {
    /// `http://127.0.0.1:PORT/v23.0`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("{}/{API_VERSION}", self.state.origin)
    }

    /// The API base URL of a platform's route family, without a trailing slash: Graph
    /// (`/v23.0`) for Instagram and Facebook, `/youtube/v3`, `/open_api/v1.3` for TikTok.
    pub fn base_url_for(&self, platform: Platform) -> String {
        match platform {
            Platform::Instagram | Platform::Facebook => self.base_url(),
            Platform::Youtube => format!("{}{}", self.state.origin, youtube::PREFIX),
            Platform::Tiktok => format!("{}{}", self.state.origin, tiktok::PREFIX),
        }
    }

    /// YouTube quota units the account has spent in the current simulated Pacific day.
    pub fn youtube_units_used(&self, account_id: &str) -> u64 {
        let k = self
            .state
            .scenario
            .accounts
            .iter()
            .position(|a| a.id == account_id);
        k.map_or(0, |k| self.state.youtube.used(k, self.state.clock.now()))
    }

    /// The creator accounts, in scenario order.
    pub fn accounts(&self) -> Vec<SimAccount> {
        self.state.scenario.accounts.clone()
    }

    /// The sponsoring brand's account (`glowlab`). Its token reads only the brand node.
    pub fn brand(&self) -> SimAccount {
        self.state.scenario.brand.clone()
    }

    /// The simulated clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.state.clock.now()
    }

    /// Moves the simulated clock forward; negative durations are ignored.
    pub fn advance(&self, by: chrono::Duration) {
        self.state.clock.advance(by);
    }

    /// Where a platform's refresh endpoint is on this simulator, for an account's `token_url`.
    pub fn token_url(&self, platform: Platform) -> Option<String> {
        let path = match platform {
            Platform::Instagram => INSTAGRAM_REFRESH_PATH,
            Platform::Youtube => GOOGLE_TOKEN_PATH,
            Platform::Tiktok => TIKTOK_REFRESH_PATH,
            Platform::Facebook => return None,
        };
        Some(format!("{}{path}", self.state.origin))
    }

    /// The account's current refresh token (YouTube, TikTok; TikTok's rotates on each refresh).
    pub fn refresh_token(&self, account_id: &str) -> Option<String> {
        let k = self.account_index(account_id)?;
        self.state.token_book.refresh_token_of(k)
    }

    /// When an access token expires, if it has a lifetime.
    pub fn token_expires_at(&self, token: &str) -> Option<DateTime<Utc>> {
        self.state.token_book.expires_at(token)
    }

    /// Plays the user revoking the app (or changing a password): every token of the account dies
    /// (Meta 190/460, Google 401, TikTok 40105) and its refresh tokens are refused
    /// (`invalid_grant`).
    pub fn revoke_grant(&self, account_id: &str) {
        if let Some(k) = self.account_index(account_id) {
            self.state.token_book.revoke(k);
        }
    }

    /// Access tokens issued by the refresh endpoints so far.
    pub fn tokens_refreshed(&self) -> u64 {
        self.state.token_book.refreshes()
    }

    /// Plays the user authorising the app again after a revocation: returns a new access token
    /// and, on YouTube and TikTok, a new refresh token.
    pub fn reauthorize(&self, account_id: &str) -> Option<(String, Option<String>)> {
        let k = self.account_index(account_id)?;
        let account = &self.state.scenario.accounts[k];
        Some(self.state.token_book.reauthorize(
            k,
            account.platform,
            &account.id,
            self.state.clock.now(),
        ))
    }

    /// Calls to the refresh endpoints so far, refused ones included.
    pub fn refresh_attempts(&self) -> u64 {
        self.state.token_book.attempts()
    }

    fn account_index(&self, account_id: &str) -> Option<usize> {
        self.state
            .scenario
            .accounts
            .iter()
            .position(|a| a.id == account_id)
    }

    /// Schedules a one-off fault.
    pub fn inject(&self, fault: Fault) {
        self.state.inject(fault);
    }

    /// Every comment and reply visible now (including hidden ones), all accounts, ordered by
    /// account, media and time.
    pub fn ground_truth(&self) -> Vec<TruthComment> {
        self.state.scenario.ground_truth(self.state.clock.now())
    }

    /// Every post published by now, all accounts.
    pub fn posts(&self) -> Vec<SimPost> {
        let s = &self.state.scenario;
        let now = self.state.clock.now();
        (0..s.media.len())
            .filter(|&m| s.media_visible(m, now))
            .map(|m| SimPost {
                id: s.media[m].id.clone(),
                account_id: s.accounts[s.media[m].account].id.clone(),
                platform: s.platform_of_media(m),
                caption: s.media[m].caption.clone(),
                timestamp: s.media[m].timestamp,
            })
            .collect()
    }

    /// API calls answered so far, whatever their status.
    pub fn requests_served(&self) -> u64 {
        self.state.requests_served()
    }

    /// Requests answered with a fault (5xx, truncated or HTML body, throttling), injected or
    /// drawn at random; part of [`SimHandle::requests_served`].
    pub fn faults_served(&self) -> u64 {
        self.state.faults_served()
    }

    /// Stops accepting connections and lets in-flight requests finish.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }
}

/// Body of `triage sim`: starts the server, moves the clock `warmup` ahead (so the world already
/// has a history), prints the base URL and every account (creators and brand) with its token to
/// stdout, then advances the simulated clock by `speed` simulated seconds per real second until
/// ctrl-c or until the future is dropped.
///
/// # Errors
/// The address cannot be bound, or the ctrl-c handler cannot be installed.
pub async fn serve(
    listen: SocketAddr,
    params: ScenarioParams,
    options: SimOptions,
    warmup: chrono::Duration,
    speed: f64,
) -> anyhow::Result<()> {
    use anyhow::Context;

    let handle = SimServer::start(listen, params, options)
        .await
        .with_context(|| format!("could not start the simulator on {listen}"))?;
    let guard = ShutdownOnDrop(handle.clone());
    handle.advance(warmup);

    println!("base_url {}", handle.base_url());
    for account in handle.accounts() {
        let refresh = handle
            .refresh_token(&account.id)
            .map(|t| format!(" refresh_token={t}"))
            .unwrap_or_default();
        println!(
            "account id={} username={} token={}{refresh}",
            account.id, account.username, account.token
        );
    }
    println!(
        "oauth client_id={SIM_CLIENT_ID} client_secret={SIM_CLIENT_SECRET} token_urls={} {} {}",
        handle.token_url(Platform::Instagram).unwrap_or_default(),
        handle.token_url(Platform::Youtube).unwrap_or_default(),
        handle.token_url(Platform::Tiktok).unwrap_or_default()
    );
    let brand = handle.brand();
    println!(
        "brand id={} username={} token={}",
        brand.id, brand.username, brand.token
    );
    println!("clock {}", handle.now().to_rfc3339());

    let tick = std::time::Duration::from_millis(250);
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let step = chrono::Duration::milliseconds((speed.max(0.0) * 250.0).round() as i64);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            signal = &mut ctrl_c => {
                signal.context("could not listen for ctrl-c")?;
                tracing::info!("ctrl-c received, stopping the simulator");
                break;
            }
            _ = interval.tick() => handle.advance(step),
        }
    }
    drop(guard);
    Ok(())
}

/// Stops the server when `serve`'s future ends or is dropped.
struct ShutdownOnDrop(SimHandle);

impl Drop for ShutdownOnDrop {
    fn drop(&mut self) {
        self.0.shutdown();
    }
}
