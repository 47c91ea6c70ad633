//! Token lifetimes and the three refresh endpoints, so that refresh logic is testable end to end.
//!
//! Off by default ([`SimOptions::token_lifetimes`](super::SimOptions::token_lifetimes) is `None`):
//! then the scenario's tokens never expire, as before, and only injected faults kill them. When on,
//! every access token has a lifetime counted on the *simulated* clock from when it was issued (the
//! scenario's tokens at the clock's start), and an expired one is refused with each platform's real
//! error: Meta 190/463 "Session has expired on …", Google 401 `UNAUTHENTICATED`, TikTok 40105 under
//! HTTP 200. [`SimHandle::revoke_grant`](super::SimHandle::revoke_grant) plays a user revoking the
//! app (or changing a password): every token of the account dies (Meta 190/460) and refreshes are
//! refused (Google `invalid_grant`).
//!
//! Endpoints, on the simulator's origin:
//! - `GET /refresh_access_token?grant_type=ig_refresh_token&access_token=…` (graph.instagram.com):
//!   the token must be live and at least 24 h old; answers `{access_token, token_type, expires_in}`.
//! - `POST /token` (oauth2.googleapis.com), form body: `client_id`/`client_secret` must be
//!   [`SIM_CLIENT_ID`]/[`SIM_CLIENT_SECRET`] (else 401 `invalid_client`), the refresh token known
//!   and not revoked (else 400 `invalid_grant`); answers `{access_token, expires_in, scope,
//!   token_type}`. Old access tokens stay valid until they expire.
//! - `POST /open_api/v1.3/tt_user/oauth2/refresh_token/`, JSON body: same checks; answers the
//!   envelope with `data{access_token, expires_in, refresh_token, refresh_token_expires_in,
//!   open_id, scope, token_type}`. The refresh token **rotates**: the old one stops working, so a
//!   client must keep the new one (across restarts too).
//!
//! Choices where the stored material is silent [unverified]: a too-young Instagram token gets code
//! 100 "(#100) …24 hours…"; a bad TikTok refresh token gets code 40105 with a refresh-token message;
//! bad TikTok app credentials get 40101.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::Mutex;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::faults::Planned;
use super::instagram::{Reply, SimState};
use super::paging::parse_query;
use super::scenario::Scenario;
use crate::domain::Platform;

/// The OAuth client id the simulator's Google and TikTok token endpoints accept.
pub const SIM_CLIENT_ID: &str = "sim-client-id";
/// The OAuth client secret the simulator's Google and TikTok token endpoints accept.
pub const SIM_CLIENT_SECRET: &str = "sim-client-secret";

/// Path of the Instagram refresh endpoint (graph.instagram.com, no version).
pub const INSTAGRAM_REFRESH_PATH: &str = "/refresh_access_token";
/// Path of the Google token endpoint (oauth2.googleapis.com).
pub const GOOGLE_TOKEN_PATH: &str = "/token";
/// Path of TikTok's creator token refresh.
pub const TIKTOK_REFRESH_PATH: &str = "/open_api/v1.3/tt_user/oauth2/refresh_token/";

const GOOGLE_SCOPE: &str = "https://www.googleapis.com/auth/youtube.force-ssl";
const TIKTOK_SCOPE: &str = "user.info.basic,video.list,comment.list,comment.list.manage";

/// How long tokens live, on the simulated clock. The defaults are the platforms' own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenLifetimes {
    /// Instagram Login long-lived token. Default 60 days.
    pub instagram: Duration,
    /// Google OAuth access token. Default 1 hour.
    pub google: Duration,
    /// TikTok creator access token. Default 24 hours.
    pub tiktok: Duration,
    /// TikTok refresh token. Default 365 days.
    pub tiktok_refresh: Duration,
}

impl Default for TokenLifetimes {
    fn default() -> Self {
        TokenLifetimes {
            instagram: Duration::days(60),
            google: Duration::hours(1),
            tiktok: Duration::hours(24),
            tiktok_refresh: Duration::days(365),
        }
    }
}

impl TokenLifetimes {
    fn access(&self, platform: Platform) -> Option<Duration> {
        match platform {
            Platform::Instagram => Some(self.instagram),
            Platform::Youtube => Some(self.google),
            Platform::Tiktok => Some(self.tiktok),
            // A Page token from a long-lived user token does not expire.
            Platform::Facebook => None,
        }
    }
}

/// Whether a token still works.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenState {
    Live,
    /// Its lifetime ran out at this time.
    Expired(DateTime<Utc>),
    /// The user revoked the app or changed the password.
    Revoked,
}

#[derive(Debug)]
struct Issued {
    account: usize,
    issued_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug)]
struct Grant {
    account: usize,
    expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default)]
struct Book {
    /// Every access token issued, the scenario's included.
    issued: HashMap<String, Issued>,
    /// Live refresh tokens.
    grants: HashMap<String, Grant>,
    /// Access tokens killed by a revocation (a later authorisation issues live ones).
    revoked: HashSet<String>,
    /// Tokens issued by refreshes so far (also makes new tokens unique).
    refreshes: u64,
    /// Calls to the refresh endpoints, refused ones included.
    attempts: u64,
}

/// The simulator's token registry.
#[derive(Debug)]
pub(crate) struct TokenBook {
    lifetimes: Option<TokenLifetimes>,
    book: Mutex<Book>,
}

impl TokenBook {
    pub(crate) fn new(scenario: &Scenario, lifetimes: Option<TokenLifetimes>) -> Self {
        let start = scenario.clock_start;
        let mut book = Book::default();
        for (k, account) in scenario.accounts.iter().enumerate() {
            let expires_at = lifetimes
                .as_ref()
                .and_then(|l| l.access(account.platform))
                .map(|l| start + l);
            book.issued.insert(
                account.token.clone(),
                Issued {
                    account: k,
                    issued_at: start,
                    expires_at,
                },
            );
            if let Some(refresh) = initial_refresh_token(account.platform, &account.id) {
                let expires_at = match account.platform {
                    Platform::Tiktok => lifetimes.as_ref().map(|l| start + l.tiktok_refresh),
                    _ => None,
                };
                book.grants.insert(
                    refresh,
                    Grant {
                        account: k,
                        expires_at,
                    },
                );
            }
        }
        TokenBook {
            lifetimes,
            book: Mutex::new(book),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The account an issued token reads.
    pub(crate) fn account_of(&self, token: &str) -> Option<usize> {
        self.lock().issued.get(token).map(|i| i.account)
    }

    /// Whether `token` works at `now`. Unknown tokens are the caller's business (they answer
    /// "invalid token", not "expired").
    pub(crate) fn state(&self, token: &str, now: DateTime<Utc>) -> TokenState {
        let book = self.lock();
        let Some(issued) = book.issued.get(token) else {
            return TokenState::Live;
        };
        if book.revoked.contains(token) {
            return TokenState::Revoked;
        }
        match issued.expires_at {
            Some(at) if self.lifetimes.is_some() && now >= at => TokenState::Expired(at),
            _ => TokenState::Live,
        }
    }

    pub(crate) fn expires_at(&self, token: &str) -> Option<DateTime<Utc>> {
        self.lock().issued.get(token).and_then(|i| i.expires_at)
    }

    pub(crate) fn revoke(&self, account: usize) {
        let mut book = self.lock();
        let dead: Vec<String> = book
            .issued
            .iter()
            .filter(|(_, i)| i.account == account)
            .map(|(t, _)| t.clone())
            .collect();
        book.revoked.extend(dead);
        book.grants.retain(|_, g| g.account != account);
    }

    /// The user authorises the app again: a new access token and, where the platform has them, a
    /// new refresh token.
    pub(crate) fn reauthorize(
        &self,
        account: usize,
        platform: Platform,
        account_id: &str,
        now: DateTime<Utc>,
    ) -> (String, Option<String>) {
        let mut book = self.lock();
        let (access, _) = self.issue(&mut book, account, platform, now);
        let refresh = initial_refresh_token(platform, account_id)
            .map(|base| format!("{base}.auth{}", book.refreshes));
        if let Some(refresh) = &refresh {
            let expires_at = match platform {
                Platform::Tiktok => self.lifetimes.as_ref().map(|l| now + l.tiktok_refresh),
                _ => None,
            };
            book.grants.insert(
                refresh.clone(),
                Grant {
                    account,
                    expires_at,
                },
            );
        }
        (access, refresh)
    }

    /// The account's current refresh token (the latest, after rotations).
    pub(crate) fn refresh_token_of(&self, account: usize) -> Option<String> {
        // Rotation removes the old grant: an account holds at most one.
        self.lock()
            .grants
            .iter()
            .find(|(_, g)| g.account == account)
            .map(|(t, _)| t.clone())
    }

    pub(crate) fn refreshes(&self) -> u64 {
        self.lock().refreshes
    }

    pub(crate) fn attempts(&self) -> u64 {
        self.lock().attempts
    }

    fn count_attempt(&self) {
        self.lock().attempts += 1;
    }

    /// Issues a new access token for `account` at `now`.
    fn issue(
        &self,
        book: &mut Book,
        account: usize,
        platform: Platform,
        now: DateTime<Utc>,
    ) -> (String, Option<Duration>) {
        book.refreshes += 1;
        let prefix = match platform {
            Platform::Youtube => "ya29.sim",
            Platform::Tiktok => "act.sim",
            Platform::Instagram | Platform::Facebook => "IGAAsim",
        };
        let token = format!("{prefix}{account}r{:06}", book.refreshes);
        let lifetime = self.lifetimes.clone().unwrap_or_default().access(platform);
        book.issued.insert(
            token.clone(),
            Issued {
                account,
                issued_at: now,
                expires_at: lifetime.map(|l| now + l),
            },
        );
        (token, lifetime)
    }
}

/// Google refresh tokens start with `1//`; TikTok's are opaque. Instagram and Facebook have none.
fn initial_refresh_token(platform: Platform, account_id: &str) -> Option<String> {
    match platform {
        Platform::Youtube => Some(format!("1//sim-refresh-{account_id}")),
        Platform::Tiktok => Some(format!("rft.sim.{account_id}.0")),
        Platform::Instagram | Platform::Facebook => None,
    }
}

/// The token endpoints, merged into the simulator's router.
pub(crate) fn routes() -> Router<Arc<SimState>> {
    Router::new()
        .route(INSTAGRAM_REFRESH_PATH, get(instagram_refresh))
        .route(GOOGLE_TOKEN_PATH, post(google_token))
        .route(TIKTOK_REFRESH_PATH, post(tiktok_refresh))
}

fn meta_error(status: StatusCode, code: u32, subcode: Option<u32>, message: &str) -> Response {
    let mut error = json!({"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AsimTokenRefresh00000"});
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
    }
    Reply::json(status, json!({ "error": error }).to_string()).into_response()
}

async fn instagram_refresh(State(state): State<Arc<SimState>>, uri: Uri) -> Response {
    with_faults(&state, || instagram_refresh_reply(&state, &uri))
}

fn instagram_refresh_reply(state: &SimState, uri: &Uri) -> Response {
    let now = state.clock.now();
    let query = parse_query(uri.query().unwrap_or(""));
    let param = |name: &str| {
        query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    if param("grant_type") != Some("ig_refresh_token") {
        return meta_error(
            StatusCode::BAD_REQUEST,
            100,
            None,
            "Invalid parameter: grant_type must be ig_refresh_token",
        );
    }
    let Some(token) = param("access_token").filter(|t| !t.is_empty()) else {
        return meta_error(
            StatusCode::BAD_REQUEST,
            104,
            None,
            "An access token is required to request this resource.",
        );
    };
    let book = &state.token_book;
    let account = book
        .account_of(token)
        .filter(|&k| state.scenario.accounts[k].platform == Platform::Instagram);
    let Some(account) = account else {
        return meta_error(
            StatusCode::BAD_REQUEST,
            190,
            Some(467),
            "Invalid OAuth access token - Cannot parse access token",
        );
    };
    match state.token_state(token, &state.scenario.accounts[account].id, now) {
        TokenState::Live => {}
        TokenState::Expired(at) => {
            return meta_error(
                StatusCode::BAD_REQUEST,
                190,
                Some(463),
                &super::instagram::expired_message(at, now),
            );
        }
        TokenState::Revoked => {
            return meta_error(
                StatusCode::BAD_REQUEST,
                190,
                Some(460),
                "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.",
            );
        }
    }
    let mut guard = book.lock();
    let issued_at = guard.issued.get(token).map_or(now, |i| i.issued_at);
    if now - issued_at < Duration::hours(24) {
        return meta_error(
            StatusCode::BAD_REQUEST,
            100,
            None,
            "(#100) The access token can only be refreshed once it is at least 24 hours old.",
        );
    }
    let (new_token, lifetime) = book.issue(&mut guard, account, Platform::Instagram, now);
    drop(guard);
    tracing::info!(account = account, "simulator refreshed an Instagram token");
    let body = json!({
        "access_token": new_token,
        "token_type": "bearer",
        "expires_in": lifetime.map_or(0, |l| l.num_seconds()),
    });
    Reply::json(StatusCode::OK, body.to_string()).into_response()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    Reply::json(
        status,
        json!({"error": error, "error_description": description}).to_string(),
    )
    .into_response()
}

async fn google_token(State(state): State<Arc<SimState>>, body: Bytes) -> Response {
    with_faults(&state, || google_token_reply(&state, &body))
}

fn google_token_reply(state: &SimState, body: &[u8]) -> Response {
    let now = state.clock.now();
    let form = parse_query(std::str::from_utf8(body).unwrap_or(""));
    let param = |name: &str| {
        form.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    if param("client_id") != Some(SIM_CLIENT_ID)
        || param("client_secret") != Some(SIM_CLIENT_SECRET)
    {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The OAuth client was not found.",
        );
    }
    if param("grant_type") != Some("refresh_token") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Invalid grant_type: ",
        );
    }
    let book = &state.token_book;
    let mut guard = book.lock();
    let account = param("refresh_token")
        .and_then(|t| guard.grants.get(t))
        .map(|g| g.account)
        .filter(|&k| state.scenario.accounts[k].platform == Platform::Youtube);
    let Some(account) = account else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Token has been expired or revoked.",
        );
    };
    let (token, lifetime) = book.issue(&mut guard, account, Platform::Youtube, now);
    drop(guard);
    let body = json!({
        "access_token": token,
        // Google answers a second short of the hour.
        "expires_in": lifetime.map_or(3599, |l| l.num_seconds() - 1),
        "scope": GOOGLE_SCOPE,
        "token_type": "Bearer",
    });
    Reply::json(StatusCode::OK, body.to_string()).into_response()
}

#[derive(serde::Deserialize)]
struct TiktokRefreshBody {
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    grant_type: String,
    #[serde(default)]
    refresh_token: String,
}

async fn tiktok_refresh(State(state): State<Arc<SimState>>, body: Bytes) -> Response {
    with_faults(&state, || {
        let now = state.clock.now();
        let trace = state.next_trace();
        let result = tiktok_refresh_data(&state, &body, now);
        super::tiktok::envelope(trace, now, result).into_response()
    })
}

/// The token endpoints take the same one-off and random faults as the APIs (5xx, HTML error
/// pages, truncated bodies; a throttle answers 429), so refresh clients meet them too. A faulted
/// request never reaches the endpoint: nothing is issued or rotated.
fn with_faults(state: &SimState, answer: impl FnOnce() -> Response) -> Response {
    state.token_book.count_attempt();
    match state.plan_fault(std::time::Instant::now()) {
        Planned::Normal => answer(),
        Planned::ServerError(status) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            let mut reply = Reply::json(status, json!({"error": "backend_error"}).to_string());
            reply.content_type = "application/json; charset=utf-8";
            reply.into_response()
        }
        Planned::Html => Reply::html().into_response(),
        Planned::Throttle { .. } => Reply::json(
            StatusCode::TOO_MANY_REQUESTS,
            json!({"error": "rate_limit_exceeded"}).to_string(),
        )
        .into_response(),
        Planned::Truncate => {
            Reply::json(StatusCode::OK, "{\"access_token\": \"ya29.".to_owned()).into_response()
        }
    }
}

fn tiktok_refresh_data(
    state: &SimState,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<serde_json::Value, super::tiktok::Failure> {
    use super::tiktok::fail;
    let body: TiktokRefreshBody = serde_json::from_slice(body)
        .map_err(|_| fail(40002, "The request body is not valid JSON."))?;
    if body.client_id != SIM_CLIENT_ID || body.client_secret != SIM_CLIENT_SECRET {
        return Err(fail(40101, "Invalid app_id or secret."));
    }
    if body.grant_type != "refresh_token" {
        return Err(fail(40002, "grant_type: Must be refresh_token."));
    }
    let book = &state.token_book;
    let mut guard = book.lock();
    let grant = guard
        .grants
        .get(&body.refresh_token)
        .filter(|g| state.scenario.accounts[g.account].platform == Platform::Tiktok)
        .filter(|g| g.expires_at.is_none_or(|at| now < at))
        .map(|g| (g.account, g.expires_at));
    let Some((account, refresh_expires_at)) = grant else {
        return Err(fail(
            40105,
            "The refresh token is incorrect, expired or has been revoked.",
        ));
    };
    guard.grants.remove(&body.refresh_token);
    let (token, lifetime) = book.issue(&mut guard, account, Platform::Tiktok, now);
    let rotated = format!(
        "rft.sim.{}.{}",
        state.scenario.accounts[account].id, guard.refreshes
    );
    guard.grants.insert(
        rotated.clone(),
        Grant {
            account,
            expires_at: refresh_expires_at,
        },
    );
    drop(guard);
    let refresh_left = refresh_expires_at.map_or(Duration::days(365), |at| at - now);
    Ok(json!({
        "access_token": token,
        "expires_in": lifetime.map_or(86_400, |l| l.num_seconds()),
        "refresh_token": rotated,
        "refresh_token_expires_in": refresh_left.num_seconds(),
        "open_id": state.scenario.accounts[account].id,
        "scope": TIKTOK_SCOPE,
        "token_type": "Bearer",
    }))
}
