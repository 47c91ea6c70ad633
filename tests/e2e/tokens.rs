//! Token lifecycle end to end: tokens expire on the simulated clock, the worker renews them
//! (before a poll when due, after a rejection otherwise) and loses no comment; a refused refresh
//! fails that account only, with what to do; the state survives a restart; `triage status` and
//! the digest say so.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use comment_triage::classify::Classifier;
use comment_triage::config::Settings;
use comment_triage::credentials::TokenError;
use comment_triage::demo::demo_config;
use comment_triage::digest::{Format, compose_digest, render_digest};
use comment_triage::domain::{Media, Platform};
use comment_triage::sim::{
    SIM_CLIENT_ID, SIM_CLIENT_SECRET, ScenarioParams, SimHandle, SimOptions, SimServer,
    TokenLifetimes,
};
use comment_triage::store::Store;
use comment_triage::worker::{CycleReport, PollError, Worker};
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

use crate::helpers::{assert_same_comments, fast_worker, scenario, sim_tokens};

const CLIENT_ID_ENV: &str = "TRIAGE_SIM_CLIENT_ID";
const CLIENT_SECRET_ENV: &str = "TRIAGE_SIM_CLIENT_SECRET";

fn refresh_env(index: usize) -> String {
    format!("TRIAGE_DEMO_REFRESH_{}", index + 1)
}

/// Which clock the worker reads: the simulator's (it sees expiries coming) or the real one (its
/// idea of an expiry is stale, so it learns of it from a rejected request).
#[derive(Clone, Copy)]
enum WorkerClock {
    Simulated,
    Real,
}

struct TokenApp {
    sim: SimHandle,
    settings: Arc<Settings>,
    store: Store,
    worker: Worker,
    env: HashMap<String, String>,
    clock: WorkerClock,
    _dir: TempDir,
}

impl TokenApp {
    async fn start(
        platforms: &[Platform],
        seed: u64,
        lifetimes: impl Into<Option<TokenLifetimes>>,
        clock: WorkerClock,
        keys: impl Fn(&SimHandle, usize, Platform) -> Option<String>,
    ) -> TokenApp {
        let params = ScenarioParams {
            accounts: platforms.len(),
            platforms: platforms.to_vec(),
            posts_per_account: 3,
            comments_per_post: 40,
            ..scenario(seed)
        };
        let options = SimOptions {
            token_lifetimes: lifetimes.into(),
            ..SimOptions::default()
        };
        let sim = SimServer::start("127.0.0.1:0".parse().unwrap(), params, options)
            .await
            .expect("simulator starts");
        let dir = tempfile::tempdir().unwrap();
        let config =
            with_refresh_keys(&sim, &demo_config(&sim, &sim.base_url(), "triage.db"), keys);
        let path = dir.path().join("triage.toml");
        std::fs::write(&path, &config).unwrap();
        let mut settings = Settings::load(&path).expect("the config with refresh keys is valid");
        fast_worker(&mut settings.worker);
        let settings = Arc::new(settings);
        let store = Store::open(&settings.database).await.unwrap();
        let mut env = sim_tokens(&sim);
        for (i, account) in sim.accounts().iter().enumerate() {
            if let Some(refresh) = sim.refresh_token(&account.id) {
                env.insert(refresh_env(i), refresh);
            }
        }
        env.insert(CLIENT_ID_ENV.into(), SIM_CLIENT_ID.into());
        env.insert(CLIENT_SECRET_ENV.into(), SIM_CLIENT_SECRET.into());
        let worker = build_worker(&sim, &settings, &store, &env, clock);
        TokenApp {
            sim,
            settings,
            store,
            worker,
            env,
            clock,
            _dir: dir,
        }
    }

    /// A new worker on the same database and environment, as after a restart.
    fn restart(&mut self) {
        self.worker = build_worker(
            &self.sim,
            &self.settings,
            &self.store,
            &self.env,
            self.clock,
        );
    }

    async fn poll(&self) -> CycleReport {
        self.worker.poll_once(&CancellationToken::new()).await
    }

    async fn poll_ok(&self) -> CycleReport {
        let report = self.poll().await;
        assert_eq!(report.failures(), 0, "a poll failed:\n{report}");
        report
    }

    /// The store holds every comment of the campaign's posts (the worker reads no other post).
    async fn assert_no_comment_lost(&self) {
        let campaign = &self.settings.campaigns[0];
        let names: HashMap<String, String> = self
            .sim
            .accounts()
            .into_iter()
            .map(|a| (a.id, a.username))
            .collect();
        let covered: HashSet<String> = self
            .sim
            .posts()
            .into_iter()
            .filter(|p| {
                let media = Media {
                    external_id: p.id.clone(),
                    caption: p.caption.clone(),
                    permalink: None,
                    created_at: p.timestamp,
                    comments_count: None,
                };
                campaign.covers(&names[&p.account_id], &media)
            })
            .map(|p| p.id)
            .collect();
        let truth: Vec<_> = self
            .sim
            .ground_truth()
            .into_iter()
            .filter(|c| covered.contains(&c.media_id))
            .collect();
        assert!(!truth.is_empty());
        assert_same_comments(&self.store.all_comments().await.unwrap(), &truth);
    }

    fn name(&self, index: usize) -> String {
        self.sim.accounts()[index].username.clone()
    }

    async fn status(&self) -> String {
        let now = match self.clock {
            WorkerClock::Simulated => self.sim.now(),
            WorkerClock::Real => chrono::Utc::now(),
        };
        comment_triage::status::render(&self.store.account_health().await.unwrap(), now)
    }
}

fn build_worker(
    sim: &SimHandle,
    settings: &Arc<Settings>,
    store: &Store,
    env: &HashMap<String, String>,
    clock: WorkerClock,
) -> Worker {
    let env = env.clone();
    let worker = Worker::new(
        settings.clone(),
        store.clone(),
        Arc::new(Classifier::builtin().unwrap()),
        move |name| env.get(name).cloned(),
    );
    match clock {
        WorkerClock::Simulated => {
            let sim = sim.clone();
            worker.with_clock(Arc::new(move || sim.now()))
        }
        WorkerClock::Real => worker,
    }
}

/// The refresh keys of every refreshable account, pointed at the simulator, after its
/// `token_env` line; `keys` may write other keys for an account instead.
fn with_refresh_keys(
    sim: &SimHandle,
    config: &str,
    keys: impl Fn(&SimHandle, usize, Platform) -> Option<String>,
) -> String {
    let mut out = config.to_owned();
    for (i, account) in sim.accounts().iter().enumerate() {
        let anchor = format!("token_env = \"{}\"\n", comment_triage::demo::token_env(i));
        let url = sim.token_url(account.platform).unwrap_or_default();
        let default_keys = match account.platform {
            Platform::Instagram => format!("token_refresh = true\ntoken_url = \"{url}\"\n"),
            Platform::Youtube | Platform::Tiktok => format!(
                "refresh_token_env = \"{}\"\nclient_id_env = \"{CLIENT_ID_ENV}\"\nclient_secret_env = \"{CLIENT_SECRET_ENV}\"\ntoken_url = \"{url}\"\n",
                refresh_env(i)
            ),
            Platform::Facebook => String::new(),
        };
        let keys = keys(sim, i, account.platform).unwrap_or(default_keys);
        out = out.replacen(&anchor, &format!("{anchor}{keys}"), 1);
    }
    out
}

fn default_keys(_: &SimHandle, _: usize, _: Platform) -> Option<String> {
    None
}

#[tokio::test]
async fn tokens_past_their_expiry_are_renewed_and_no_comment_is_lost() {
    let lifetimes = TokenLifetimes {
        // Short enough for a renewal inside the test, long enough to pass the 24 h minimum age.
        instagram: chrono::Duration::days(2),
        ..TokenLifetimes::default()
    };
    let app = TokenApp::start(
        &[Platform::Youtube, Platform::Tiktok, Platform::Instagram],
        81,
        lifetimes,
        WorkerClock::Simulated,
        default_keys,
    )
    .await;
    app.poll_ok().await;
    app.assert_no_comment_lost().await;
    let after_first = app.sim.tokens_refreshed();
    // Google and TikTok tokens of unknown age are renewed at once; Instagram's is too new.
    assert_eq!(after_first, 2, "one refresh each for YouTube and TikTok");

    // Each step passes the YouTube (1 h) and TikTok (24 h) expiries; the third passes the first
    // Instagram token's (2 days).
    for step in 1..=3 {
        app.sim.advance(chrono::Duration::hours(25));
        app.poll_ok().await;
        app.assert_no_comment_lost().await;
        assert!(
            app.sim.tokens_refreshed() >= after_first + 2 * step,
            "step {step}: {} refreshes",
            app.sim.tokens_refreshed()
        );
    }
    let status = app.status().await;
    for i in 0..3 {
        let line = status
            .lines()
            .find(|l| l.starts_with(&app.name(i)))
            .unwrap_or_else(|| panic!("{status}"));
        assert!(line.contains("refreshed "), "{status}");
        assert!(line.contains("expires in "), "{status}");
    }
}

#[tokio::test]
async fn a_token_rejected_mid_poll_is_renewed_once_and_the_poll_completes() {
    let app = TokenApp::start(
        &[Platform::Youtube],
        82,
        TokenLifetimes::default(),
        WorkerClock::Real,
        default_keys,
    )
    .await;
    app.poll_ok().await;
    assert_eq!(app.sim.tokens_refreshed(), 1);
    // The simulated hour passes; the worker's real clock says the token is still fresh, so only
    // the platform's 401 tells it.
    app.sim.advance(chrono::Duration::hours(2));
    let report = app.poll_ok().await;
    assert!(report.total().pages > 0, "{report}");
    assert_eq!(
        app.sim.tokens_refreshed(),
        2,
        "one refresh after the rejection"
    );
    app.assert_no_comment_lost().await;
}

#[tokio::test]
async fn a_revoked_grant_fails_only_that_account_with_the_variables_to_set() {
    let mut app = TokenApp::start(
        &[Platform::Youtube, Platform::Instagram],
        83,
        TokenLifetimes::default(),
        WorkerClock::Simulated,
        default_keys,
    )
    .await;
    app.poll_ok().await;
    let youtube = app.sim.accounts()[0].clone();
    let refresh_token = app.sim.refresh_token(&youtube.id).unwrap();
    app.sim.revoke_grant(&youtube.id);
    app.sim.advance(chrono::Duration::hours(2));

    let report = app.poll().await;
    let by_name: HashMap<_, _> = report
        .accounts
        .iter()
        .map(|(n, r)| (n.clone(), r))
        .collect();
    let message = match by_name[&app.name(0)] {
        Err(PollError::Token(TokenError::Dead(message))) => message.clone(),
        other => panic!("expected a dead token, got {other:?}"),
    };
    assert!(message.contains("invalid_grant"), "{message}");
    assert!(
        message.contains(&refresh_env(0)),
        "names the variable: {message}"
    );
    assert!(message.contains("TRIAGE_DEMO_TOKEN_1"), "{message}");
    assert!(
        !message.contains(&refresh_token),
        "never the secret: {message}"
    );
    assert!(
        !message.contains(&youtube.token),
        "never the secret: {message}"
    );
    assert!(
        by_name[&app.name(1)].is_ok(),
        "the other account polls: {report}"
    );

    // The next poll, and a restarted worker, do not ask for a refresh again: the token stays
    // dead until new tokens are exported.
    let attempts = app.sim.refresh_attempts();
    let again = app.poll().await;
    assert_eq!(again.failures(), 1, "{again}");
    app.restart();
    let after_restart = app.poll().await;
    assert_eq!(after_restart.failures(), 1, "{after_restart}");
    assert!(
        format!("{after_restart}").contains("invalid_grant"),
        "{after_restart}"
    );
    assert_eq!(app.sim.refresh_attempts(), attempts);
    let status = app.status().await;
    assert!(
        status.contains(&format!("{}: token dead: ", app.name(0)))
            && status.contains("invalid_grant"),
        "{status}"
    );

    let recipient = app.settings.recipient(&app.name(0)).unwrap();
    let digest = compose_digest(&app.store, &app.settings, recipient, app.sim.now())
        .await
        .unwrap();
    let text = render_digest(&digest, Format::Text);
    assert!(text.contains("token dead, polling stopped"), "{text}");
    assert!(text.contains(&refresh_env(0)), "{text}");

    // The user authorises again and exports the new tokens: polling resumes.
    let (access, refresh) = app.sim.reauthorize(&youtube.id).unwrap();
    app.env.insert("TRIAGE_DEMO_TOKEN_1".into(), access);
    app.env.insert(refresh_env(0), refresh.unwrap());
    app.restart();
    app.poll_ok().await;
    let status = app.status().await;
    assert!(!status.contains("dead"), "{status}");
    app.assert_no_comment_lost().await;
}

#[tokio::test]
async fn a_rotated_refresh_token_survives_a_restart() {
    let mut app = TokenApp::start(
        &[Platform::Tiktok],
        84,
        TokenLifetimes::default(),
        WorkerClock::Simulated,
        default_keys,
    )
    .await;
    app.poll_ok().await;
    assert_eq!(app.sim.tokens_refreshed(), 1);
    // The exported refresh token was rotated away: only the stored one still works.
    app.restart();
    app.sim.advance(chrono::Duration::hours(25));
    app.poll_ok().await;
    assert_eq!(app.sim.tokens_refreshed(), 2);
    app.assert_no_comment_lost().await;
}

#[tokio::test]
async fn a_token_that_cannot_be_renewed_is_announced_days_before_it_expires() {
    let app = TokenApp::start(
        &[Platform::Instagram, Platform::Instagram],
        85,
        TokenLifetimes::default(),
        WorkerClock::Simulated,
        |sim, i, _| {
            // Account 0: a manual token (no `token_refresh`) whose expiry the user wrote down.
            (i == 0).then(|| {
                let at = sim.now() + chrono::Duration::days(3) + chrono::Duration::hours(1);
                format!(
                    "token_expires_at = \"{}\"\n",
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                )
            })
        },
    )
    .await;
    assert_eq!(
        app.settings.accounts[0].token_refresh(),
        comment_triage::config::TokenRefresh::Manual
    );
    app.poll_ok().await;

    let status = app.status().await;
    let line = status
        .lines()
        .find(|l| l.starts_with(&app.name(0)))
        .unwrap();
    assert!(line.ends_with("expires in 3 days"), "{status}");
    let recipient = app.settings.recipient(&app.name(0)).unwrap();
    let digest = compose_digest(&app.store, &app.settings, recipient, app.sim.now())
        .await
        .unwrap();
    let text = render_digest(&digest, Format::Text);
    assert!(
        text.contains("the access token expires in 3 days")
            && text.contains("cannot be renewed automatically"),
        "{text}"
    );
    // The account that renews its token itself is not announced.
    let other = app.settings.recipient(&app.name(1)).unwrap();
    let digest = compose_digest(&app.store, &app.settings, other, app.sim.now())
        .await
        .unwrap();
    assert!(!render_digest(&digest, Format::Text).contains("access token expires"));
}

#[tokio::test]
async fn an_unreachable_token_endpoint_is_not_a_dead_token() {
    let app = TokenApp::start(
        &[Platform::Youtube, Platform::Instagram],
        86,
        TokenLifetimes::default(),
        WorkerClock::Simulated,
        |_, i, _| {
            // Nothing listens on port 1 of the loopback: every refresh attempt fails to connect.
            (i == 0).then(|| {
                format!(
                    "refresh_token_env = \"{}\"\nclient_id_env = \"{CLIENT_ID_ENV}\"\nclient_secret_env = \"{CLIENT_SECRET_ENV}\"\ntoken_url = \"http://127.0.0.1:1/token\"\n",
                    refresh_env(0)
                )
            })
        },
    )
    .await;
    // The exported token is still live: the failed refresh costs nothing.
    app.poll_ok().await;

    // Past its hour, the platform rejects it and the refresh still cannot be reached: this poll
    // fails, the token is not declared dead, and the other account polls.
    app.sim.advance(chrono::Duration::hours(2));
    let report = app.poll().await;
    let by_name: HashMap<_, _> = report
        .accounts
        .iter()
        .map(|(n, r)| (n.clone(), r))
        .collect();
    match by_name[&app.name(0)] {
        Err(PollError::Token(TokenError::Unavailable(message))) => {
            assert!(message.contains("the next poll tries again"), "{message}");
        }
        other => panic!("expected an unavailable refresh, got {other:?}"),
    }
    assert!(by_name[&app.name(1)].is_ok(), "{report}");
    let status = app.status().await;
    assert!(!status.contains("dead"), "{status}");
}

#[tokio::test]
async fn a_live_token_is_renewed_once_per_lifetime_not_once_per_poll() {
    let app = TokenApp::start(
        &[Platform::Youtube, Platform::Tiktok],
        87,
        TokenLifetimes::default(),
        WorkerClock::Simulated,
        default_keys,
    )
    .await;
    // Six simulated hours polled every 10 minutes: 37 polls per account.
    app.poll_ok().await;
    for _ in 0..36 {
        app.sim.advance(chrono::Duration::minutes(10));
        app.poll_ok().await;
    }
    // YouTube: the first refresh, then one per hour (each at most 5 minutes early); TikTok: only
    // the first, its 24 h are not used up.
    let refreshes = app.sim.tokens_refreshed();
    assert_eq!(refreshes, 1 + 6 + 1, "{refreshes} refreshes");
    app.assert_no_comment_lost().await;
}

#[tokio::test]
async fn a_token_dead_of_a_wrong_client_secret_comes_back_when_the_secret_is_fixed() {
    let mut app = TokenApp::start(
        &[Platform::Youtube, Platform::Tiktok],
        88,
        TokenLifetimes::default(),
        WorkerClock::Simulated,
        default_keys,
    )
    .await;
    // Both tokens are renewed once; TikTok's refresh token rotates away from the exported one.
    app.poll_ok().await;

    // The user changes the client secret to a wrong one: the next renewals are refused.
    app.env
        .insert(CLIENT_SECRET_ENV.into(), "not-the-secret".into());
    app.restart();
    app.sim.advance(chrono::Duration::hours(25));
    let report = app.poll().await;
    for (name, result) in &report.accounts {
        match result {
            Err(PollError::Token(TokenError::Dead(message))) => {
                assert!(
                    message.contains(&format!("client secret in {CLIENT_SECRET_ENV}")),
                    "{name}: {message}"
                );
                assert!(!message.contains("not-the-secret"), "{message}");
            }
            other => panic!("{name}: expected a dead token, got {other:?}"),
        }
    }

    // The user fixes the secret, as the message asks, and restarts: both accounts poll again,
    // TikTok's with the rotated refresh token the store kept.
    app.env
        .insert(CLIENT_SECRET_ENV.into(), SIM_CLIENT_SECRET.into());
    app.restart();
    app.poll_ok().await;
    let status = app.status().await;
    assert!(!status.contains("dead"), "{status}");
    app.assert_no_comment_lost().await;
}

/// A token endpoint on the loopback that gives every request the same answer; its base URL, and
/// how many requests it answered.
async fn fixed_token_endpoint(
    status: u16,
    content_type: &'static str,
    body: &'static str,
) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let answer = move || {
        counted.fetch_add(1, Ordering::SeqCst);
        async move {
            (
                axum::http::StatusCode::from_u16(status).unwrap(),
                [(axum::http::header::CONTENT_TYPE, content_type)],
                body,
            )
        }
    };
    let app = axum::Router::new().fallback(answer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), hits)
}

#[tokio::test]
async fn a_token_endpoint_answering_an_html_404_or_an_unknown_code_is_not_a_dead_token() {
    // A proxy's HTML page (or a wrong token_url) for Google, an undocumented code for TikTok.
    let (html, html_hits) =
        fixed_token_endpoint(404, "text/html", "<html><body>Not Found</body></html>").await;
    let (code, code_hits) = fixed_token_endpoint(
        200,
        "application/json",
        r#"{"code":51234,"message":"Something new.","request_id":"1","data":{}}"#,
    )
    .await;
    let urls = [format!("{html}/token"), format!("{code}/refresh_token/")];
    let mut app = TokenApp::start(
        &[Platform::Youtube, Platform::Tiktok],
        89,
        TokenLifetimes::default(),
        WorkerClock::Simulated,
        |_, i, _| {
            Some(format!(
                "refresh_token_env = \"{}\"\nclient_id_env = \"{CLIENT_ID_ENV}\"\nclient_secret_env = \"{CLIENT_SECRET_ENV}\"\ntoken_url = \"{}\"\n",
                refresh_env(i),
                urls[i]
            ))
        },
    )
    .await;
    // The exported tokens are still live: the failed refreshes cost nothing.
    app.poll_ok().await;

    // Past both lifetimes, the tokens are rejected and cannot be renewed: the polls fail, and
    // are tried again, but neither token is declared dead, before or after a restart. Each poll
    // asks each endpoint once: a refresh that just failed before the poll is not repeated after
    // the rejection.
    app.sim.advance(chrono::Duration::hours(25));
    for _ in 0..2 {
        let before = (
            html_hits.load(Ordering::SeqCst),
            code_hits.load(Ordering::SeqCst),
        );
        let report = app.poll().await;
        assert_eq!(
            (
                html_hits.load(Ordering::SeqCst),
                code_hits.load(Ordering::SeqCst)
            ),
            (before.0 + 1, before.1 + 1),
            "one refresh per endpoint and poll"
        );
        for (name, result) in &report.accounts {
            match result {
                Err(PollError::Token(TokenError::Unavailable(message))) => {
                    assert!(message.contains("the next poll tries again"), "{message}");
                }
                other => panic!("{name}: expected an unavailable refresh, got {other:?}"),
            }
        }
        let status = app.status().await;
        assert!(!status.contains("dead"), "{status}");
        app.restart();
    }
}
