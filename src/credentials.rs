//! Token lifecycle of one account: which access token the client sends, when to renew it, and
//! when to give up and ask a person.
//!
//! ```text
//! poll_account ── TokenKeeper::prepare ──┬─ first time: restore the stored state (same exported
//!                                        │  tokens) or start over (new tokens exported)
//!                                        ├─ dead → fail this account only, no platform call
//!                                        ├─ due → refresh (Instagram < 10 days left and ≥ 24 h old,
//!                                        │        Google < 5 min, TikTok < 1 h or unknown expiry)
//!                                        └─ manual token < 7 days from expiry → warn
//!              ── poll ── TokenRejected ── TokenKeeper::refresh_after_rejection ── poll again once
//!                                          (not when `prepare` just failed to refresh: the poll
//!                                          fails, the next poll tries again)
//! ```
//!
//! A refresh the platform refuses for good (revoked, expired, `invalid_grant`, wrong app
//! credentials) makes the token *dead*: the reason, with what to do about it, is stored and shown
//! by `triage status` and the digest, and the account is not polled until the user exports new
//! tokens (their fingerprint changes: the stored state starts over) or changes the refresh settings
//! the message names (client id, client secret, token URL, refresh mode: their own fingerprint
//! changes, the dead token is tried again with the stored tokens, which keeps a refresh token the
//! platform rotated). Both fingerprints are hashes; no exported secret is stored. A refresh that
//! gets no answer leaves the token in hand in use; the next poll tries again. Deciding (`due`) is
//! separate from acting (`refresh`).
//!
//! Every new token is stored before it is used, so a restarted worker sends the refreshed token
//! (and TikTok's rotated refresh token), not the exported one, which may have expired. When that
//! save fails, the new tokens are kept in memory but not used, and the next poll saves them before
//! anything else: a rotated refresh token (the old one no longer works) is never dropped.
//!
//! Two processes may share the database (`triage run` and `triage poll --once`): before each
//! refresh the keeper reads the stored row again and takes over a state another process renewed
//! since, rather than renewing with a refresh token that process had rotated away; and it reads the
//! row again before declaring a refused token dead, in case the other process renewed it while the
//! call was on its way. Left open: a refusal read back before the other process stored its answer
//! (the milliseconds between its response and its save). Closing that needs a claim on the row
//! held across the call, which a plain `BEGIN IMMEDIATE` cannot hold without blocking every other
//! writer (all accounts poll at once) for as long as the token endpoint takes.

use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Duration, Utc};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::config::{
    AccountSettings, OAuthSecrets, TokenRefresh, oauth_secrets_from_env, token_from_env,
};
use crate::domain::Platform;
use crate::platforms::PlatformError;
use crate::platforms::http::HttpPolicy;
use crate::platforms::tokens::{ClientCredentials, RefreshError, SharedToken, TokenRefresher};
use crate::store::{AccountKey, Store, StoreError, TokenRecord};

/// How long before an expiry the worker and the digest warn about a token it cannot renew.
pub const EXPIRY_WARNING_DAYS: i64 = 7;
/// Instagram: renew when fewer than this many days are left.
const INSTAGRAM_RENEW_DAYS: i64 = 10;
/// Instagram refuses to renew a token younger than this.
const INSTAGRAM_MIN_AGE_HOURS: i64 = 24;
/// Google: renew when fewer than this many minutes are left.
const GOOGLE_RENEW_MINUTES: i64 = 5;
/// TikTok: renew when less than this is left (the token lives 24 h).
const TIKTOK_RENEW_MINUTES: i64 = 60;

/// Why the keeper could not provide a usable token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The token can no longer be renewed; the message says what the user must do.
    #[error("{0}")]
    Dead(String),
    /// The platform rejected the token and the refresh got no answer: nothing to poll with now,
    /// the next poll tries again.
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What [`TokenKeeper::prepare`] did about the token before a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PrepareOutcome {
    /// The token in hand is the one to poll with (renewed, or not due).
    Ready,
    /// A renewal was due and could not be completed (`reason`); the token in hand is used
    /// meanwhile. Should the platform reject it, a second attempt in the same poll would only
    /// spend the retry budget again: [`TokenKeeper::refresh_after_rejection`] does not make one.
    RenewalUnavailable { reason: String },
}

/// The tokens exported in the environment when the worker started.
struct Seed {
    refresh: Option<SecretString>,
    fingerprint: String,
    /// Of the refresh settings: see [`config_fingerprint`].
    config_fingerprint: String,
}

/// What the keeper knows about the token in use; mirrored in the store.
#[derive(Default)]
struct KeeperState {
    loaded: bool,
    record: TokenRecord,
    /// `record` holds a refreshed token whose save failed: save it before using it.
    unsaved: bool,
}

/// Provides an account's access token to its client and keeps it alive.
pub struct TokenKeeper {
    account: String,
    platform: Platform,
    token_env: String,
    refresh_token_env: Option<String>,
    client_envs: Option<(String, String)>,
    token: SharedToken,
    seed: Seed,
    refresher: Option<TokenRefresher>,
    configured_expiry: Option<DateTime<Utc>>,
    state: tokio::sync::Mutex<KeeperState>,
    warned: AtomicBool,
}

impl TokenKeeper {
    /// Reads the account's secrets through `lookup` (the process environment in production) and
    /// builds the refresh client its settings ask for.
    ///
    /// # Errors
    /// A variable the settings name is unset (the message names it), or the HTTP client cannot be
    /// built.
    pub fn from_settings(
        account: &AccountSettings,
        lookup: &impl Fn(&str) -> Option<String>,
        policy: HttpPolicy,
    ) -> Result<TokenKeeper, String> {
        let access = token_from_env(account, lookup)?;
        let oauth = oauth_secrets_from_env(account, lookup)?;
        let url = account.token_url.as_deref();
        let refresher = match (account.token_refresh(), &oauth, account.platform) {
            (TokenRefresh::Manual, _, _) => None,
            (TokenRefresh::InstagramLongLived, _, _) => Some(TokenRefresher::instagram(url, policy)),
            (TokenRefresh::OAuth { .. }, Some(secrets), Platform::Youtube) => {
                Some(TokenRefresher::google(url, client(secrets), policy))
            }
            (TokenRefresh::OAuth { .. }, Some(secrets), Platform::Tiktok) => {
                Some(TokenRefresher::tiktok(url, client(secrets), policy))
            }
            (TokenRefresh::OAuth { .. }, _, platform) => {
                return Err(format!(
                    "account {:?}: {platform} tokens cannot be refreshed with an OAuth refresh token",
                    account.name
                ));
            }
        }
        .transpose()
        .map_err(|e| e.to_string())?;
        let config_fingerprint = config_fingerprint(&account.token_refresh(), url, oauth.as_ref());
        let refresh = oauth.map(|s| s.refresh_token);
        let fingerprint = fingerprint(&access, refresh.as_ref());
        let client_envs = match account.token_refresh() {
            TokenRefresh::OAuth {
                client_id_env,
                client_secret_env,
                ..
            } => Some((client_id_env, client_secret_env)),
            _ => None,
        };
        Ok(TokenKeeper {
            account: account.name.clone(),
            platform: account.platform,
            token_env: account.token_env.clone(),
            refresh_token_env: account.refresh_token_env.clone(),
            client_envs,
            token: SharedToken::new(access),
            seed: Seed {
                refresh,
                fingerprint,
                config_fingerprint,
            },
            refresher,
            configured_expiry: account.token_expires_at,
            state: tokio::sync::Mutex::new(KeeperState::default()),
            warned: AtomicBool::new(false),
        })
    }

    /// The token handle the platform client sends from; a refresh updates it in place.
    pub fn token(&self) -> SharedToken {
        self.token.clone()
    }

    /// Whether a rejected token is worth a refresh.
    pub fn can_refresh(&self) -> bool {
        self.refresher.is_some()
    }

    /// Makes sure the client holds a usable token before a poll: restores the stored state on
    /// first use, refuses a dead token, renews a token that is due, warns about a coming expiry
    /// the worker cannot prevent.
    ///
    /// # Errors
    /// [`TokenError::Dead`] when the token is dead (now or since an earlier run with the same
    /// exported tokens); a store error.
    pub async fn prepare(
        &self,
        store: &Store,
        key: AccountKey,
        now: DateTime<Utc>,
    ) -> Result<PrepareOutcome, TokenError> {
        let mut state = self.loaded_state(store, key).await?;
        if let Some(reason) = &state.record.dead_reason {
            return Err(TokenError::Dead(reason.clone()));
        }
        let outcome = if self.due(&state.record, now) {
            self.refresh(&mut state, store, key, now, false).await?
        } else {
            PrepareOutcome::Ready
        };
        self.warn_of_expiry(&state.record, now);
        Ok(outcome)
    }

    /// The platform rejected the token in the middle of a poll: renew it once, unless `prepared`
    /// says a renewal just failed.
    ///
    /// # Errors
    /// [`TokenError::Dead`] when the refresh is refused; [`TokenError::Unavailable`] when it gets
    /// no answer, or just got none (the token in hand is known to be bad, so there is nothing to
    /// poll with); a store error.
    pub async fn refresh_after_rejection(
        &self,
        store: &Store,
        key: AccountKey,
        now: DateTime<Utc>,
        prepared: &PrepareOutcome,
    ) -> Result<(), TokenError> {
        if let PrepareOutcome::RenewalUnavailable { reason } = prepared {
            return Err(self.rejected_and_unrenewed(reason));
        }
        let mut state = self.loaded_state(store, key).await?;
        self.refresh(&mut state, store, key, now, true)
            .await
            .map(|_| ())
    }

    fn rejected_and_unrenewed(&self, reason: &str) -> TokenError {
        TokenError::Unavailable(format!(
            "account {:?}: the access token was rejected and the refresh could not be completed ({reason}); the next poll tries again",
            self.account
        ))
    }

    /// The keeper's state, restored from the store on first use.
    async fn loaded_state(
        &self,
        store: &Store,
        key: AccountKey,
    ) -> Result<tokio::sync::MutexGuard<'_, KeeperState>, StoreError> {
        let mut state = self.state.lock().await;
        if !state.loaded {
            self.restore(&mut state, store, key).await?;
        }
        if state.unsaved {
            store.save_token(key, &state.record).await?;
            state.unsaved = false;
            if let Some(access) = &state.record.access_token {
                self.token.set(access.clone());
            }
            tracing::info!("the refreshed token is stored now, and in use");
        }
        Ok(state)
    }

    async fn restore(
        &self,
        state: &mut KeeperState,
        store: &Store,
        key: AccountKey,
    ) -> Result<(), StoreError> {
        let stored = store
            .load_token(key)
            .await?
            .filter(|r| r.seed_fingerprint == self.seed.fingerprint);
        state.record = match stored {
            Some(mut record) => {
                if record.config_fingerprint.as_ref() != Some(&self.seed.config_fingerprint) {
                    // The user may have fixed what a dead message asked for: try again.
                    if record.dead_reason.take().is_some() {
                        record.dead_at = None;
                        tracing::info!(
                            "the refresh settings changed since the token died: trying it again"
                        );
                    }
                    record.config_fingerprint = Some(self.seed.config_fingerprint.clone());
                }
                if let Some(access) = &record.access_token {
                    self.token.set(access.clone());
                }
                tracing::debug!(
                    refreshed_at = ?record.refreshed_at,
                    dead = record.dead_reason.is_some(),
                    "token state restored"
                );
                // Until a refresh tells better, the config's `token_expires_at` is the truth
                // (the user may have corrected it).
                let expires_at = if record.refreshed_at.is_none() {
                    self.configured_expiry
                } else {
                    record.expires_at
                };
                let record = TokenRecord {
                    refreshable: self.can_refresh(),
                    expires_at,
                    ..record
                };
                store.save_token(key, &record).await?;
                record
            }
            None => {
                let record = TokenRecord {
                    seed_fingerprint: self.seed.fingerprint.clone(),
                    config_fingerprint: Some(self.seed.config_fingerprint.clone()),
                    refreshable: self.can_refresh(),
                    expires_at: self.configured_expiry,
                    ..TokenRecord::default()
                };
                store.save_token(key, &record).await?;
                record
            }
        };
        state.loaded = true;
        Ok(())
    }

    /// Whether the token should be renewed before this poll.
    fn due(&self, record: &TokenRecord, now: DateTime<Utc>) -> bool {
        if self.refresher.is_none() {
            return false;
        }
        let left_under = |margin: Duration| record.expires_at.is_none_or(|at| at - now < margin);
        match self.platform {
            Platform::Instagram => {
                left_under(Duration::days(INSTAGRAM_RENEW_DAYS))
                    && record.expires_at.is_none_or(|at| at > now)
                    && record
                        .issued_at
                        .is_none_or(|at| now - at >= Duration::hours(INSTAGRAM_MIN_AGE_HOURS))
            }
            Platform::Youtube => left_under(Duration::minutes(GOOGLE_RENEW_MINUTES)),
            Platform::Tiktok => left_under(Duration::minutes(TIKTOK_RENEW_MINUTES)),
            Platform::Facebook => false,
        }
    }

    /// Calls the refresh endpoint and stores what comes back: a new token, a dead reason, or (no
    /// answer) nothing.
    async fn refresh(
        &self,
        state: &mut KeeperState,
        store: &Store,
        key: AccountKey,
        now: DateTime<Utc>,
        after_rejection: bool,
    ) -> Result<PrepareOutcome, TokenError> {
        let Some(refresher) = &self.refresher else {
            return Ok(PrepareOutcome::Ready);
        };
        if self.adopt_newer_state(state, store, key).await? {
            if let Some(reason) = &state.record.dead_reason {
                return Err(TokenError::Dead(reason.clone()));
            }
            // After a rejection, the poll is tried again with the other process's token.
            if after_rejection || !self.due(&state.record, now) {
                return Ok(PrepareOutcome::Ready);
            }
        }
        let refresh_token = state
            .record
            .refresh_token
            .clone()
            .or_else(|| self.seed.refresh.clone());
        let current = self.token.get();
        let result = refresher.refresh(&current, refresh_token.as_ref()).await;
        match result {
            Ok(renewed) => {
                let record = &mut state.record;
                record.access_token = Some(renewed.access_token.clone());
                if let Some(rotated) = renewed.refresh_token {
                    record.refresh_token = Some(rotated);
                }
                record.expires_at = Some(now + renewed.expires_in);
                record.issued_at = Some(now);
                record.refreshed_at = Some(now);
                state.unsaved = true;
                store.save_token(key, &state.record).await?;
                state.unsaved = false;
                self.token.set(renewed.access_token);
                let record = &state.record;
                tracing::info!(
                    expires_at = ?record.expires_at,
                    after_rejection,
                    "access token refreshed"
                );
                Ok(PrepareOutcome::Ready)
            }
            Err(RefreshError::TooEarly(error)) => {
                // Instagram will not renew a token younger than 24 h: wait that long.
                tracing::info!(error = %error, "the token is too new to be renewed yet");
                state.record.issued_at = Some(now);
                store.save_token(key, &state.record).await?;
                if after_rejection {
                    return Err(TokenError::Unavailable(format!(
                        "account {:?}: the access token was rejected and is too new to be renewed ({error})",
                        self.account
                    )));
                }
                Ok(PrepareOutcome::Ready)
            }
            Err(RefreshError::Refused(error)) => {
                // Another process may have renewed the token, and TikTok rotated the refresh token
                // this refresh sent, while the call was on its way.
                if self.adopt_newer_state(state, store, key).await? {
                    if let Some(reason) = &state.record.dead_reason {
                        return Err(TokenError::Dead(reason.clone()));
                    }
                    tracing::info!(error = %error, "the refresh was refused, but another process renewed the token meanwhile");
                    return Ok(PrepareOutcome::Ready);
                }
                let reason = self.dead_message(&error);
                state.record.dead_reason = Some(reason.clone());
                state.record.dead_at = Some(now);
                store.save_token(key, &state.record).await?;
                // The poll failure that follows is logged as an error, with this reason.
                tracing::info!(error = %error, "token refresh refused: the token is dead");
                Err(TokenError::Dead(reason))
            }
            Err(RefreshError::Unavailable(error)) => {
                tracing::warn!(error = %error, "token refresh got no answer; keeping the token in hand");
                if after_rejection {
                    return Err(self.rejected_and_unrenewed(&error.to_string()));
                }
                Ok(PrepareOutcome::RenewalUnavailable {
                    reason: error.to_string(),
                })
            }
        }
    }

    /// Another process on the same database (`triage run` and `triage poll --once`) may have
    /// renewed the token since this state was loaded; TikTok then rotated the refresh token in
    /// hand away. Takes the stored state over when it differs from the one in hand.
    async fn adopt_newer_state(
        &self,
        state: &mut KeeperState,
        store: &Store,
        key: AccountKey,
    ) -> Result<bool, StoreError> {
        let Some(stored) = store
            .load_token(key)
            .await?
            .filter(|r| r.seed_fingerprint == self.seed.fingerprint)
        else {
            return Ok(false);
        };
        let secret = |t: &Option<SecretString>| t.as_ref().map(|t| t.expose_secret().to_owned());
        // The tokens tell, not the times: the store keeps whole seconds, the keeper finer ones.
        let ours = &state.record;
        let same = stored.dead_reason == ours.dead_reason
            && secret(&stored.access_token) == secret(&ours.access_token)
            && secret(&stored.refresh_token) == secret(&ours.refresh_token);
        if same {
            return Ok(false);
        }
        if let Some(access) = &stored.access_token {
            self.token.set(access.clone());
        }
        state.record = TokenRecord {
            config_fingerprint: state.record.config_fingerprint.clone(),
            refreshable: state.record.refreshable,
            ..stored
        };
        tracing::info!("another process renewed the token: using its state");
        Ok(true)
    }

    fn warn_of_expiry(&self, record: &TokenRecord, now: DateTime<Utc>) {
        let Some(expires_at) = record.expires_at else {
            return;
        };
        if self.can_refresh() || expires_at - now > Duration::days(EXPIRY_WARNING_DAYS) {
            return;
        }
        if self.warned.swap(true, Ordering::Relaxed) {
            return;
        }
        tracing::warn!(
            expires_at = %expires_at.to_rfc3339(),
            days_left = (expires_at - now).num_days(),
            "the access token expires soon and cannot be renewed by the worker: create a new one and export it in {}",
            self.token_env
        );
    }

    /// What the user must do once the platform refuses to renew the token.
    fn dead_message(&self, error: &PlatformError) -> String {
        let account = &self.account;
        let error = refusal(error);
        match self.platform {
            Platform::Instagram => format!(
                "account {account:?}: the Instagram token can no longer be renewed ({error}); create a new long-lived token (Instagram Login) and export it in {}",
                self.token_env
            ),
            Platform::Youtube | Platform::Tiktok => {
                let refresh_env = self
                    .refresh_token_env
                    .as_deref()
                    .unwrap_or("the refresh token variable");
                let who = if self.platform == Platform::Youtube {
                    "Google"
                } else {
                    "TikTok"
                };
                let credentials = error.starts_with("invalid_client")
                    || error.starts_with("unauthorized_client")
                    || error.starts_with("code 40101");
                match (&self.client_envs, credentials) {
                    (Some((id_env, secret_env)), true) => format!(
                        "account {account:?}: {who} refused the app's credentials ({error}); check the client id in {id_env} and the client secret in {secret_env}"
                    ),
                    _ if self.platform == Platform::Youtube => format!(
                        "account {account:?}: Google refused the refresh token ({error}); authorise the app again, then export the new refresh token in {refresh_env} and the access token in {}. An OAuth app left in \"Testing\" status gets refresh tokens that expire after 7 days: publish it to keep them",
                        self.token_env
                    ),
                    _ => format!(
                        "account {account:?}: TikTok refused the refresh token ({error}); ask the creator to authorise the app again (refresh tokens last one year), then export the new refresh token in {refresh_env} and the access token in {}",
                        self.token_env
                    ),
                }
            }
            Platform::Facebook => format!(
                "account {account:?}: the token was refused ({error}); create a new Page token and export it in {}",
                self.token_env
            ),
        }
    }
}

/// The platform's own words for a refused refresh, without the "access token rejected" framing
/// of API calls (the refused token may be a refresh token).
fn refusal(error: &PlatformError) -> String {
    match error {
        PlatformError::TokenRejected {
            code,
            subcode,
            message,
        } if *code >= 1_000 || subcode.is_some() || *code == 190 => format!(
            "code {code}{}: {message}",
            subcode.map(|s| format!("/{s}")).unwrap_or_default()
        ),
        PlatformError::TokenRejected { message, .. }
        | PlatformError::PermissionDenied { message }
        | PlatformError::InvalidRequest { message }
        | PlatformError::NotFound { message } => message.clone(),
        other => other.to_string(),
    }
}

fn client(secrets: &crate::config::OAuthSecrets) -> ClientCredentials {
    ClientCredentials {
        client_id: secrets.client_id.clone(),
        client_secret: secrets.client_secret.clone(),
    }
}

/// SHA-256 of the exported tokens: tells a new export from the one a stored state grew from,
/// without storing the exported tokens.
fn fingerprint(access: &SecretString, refresh: Option<&SecretString>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(access.expose_secret().as_bytes());
    hasher.update([0u8]);
    if let Some(refresh) = refresh {
        hasher.update(refresh.expose_secret().as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// SHA-256 of the refresh settings: the refresh mode, the token URL and the client credentials.
/// Tells a corrected configuration from the one a dead token died with, without storing the
/// credentials.
fn config_fingerprint(
    mode: &TokenRefresh,
    token_url: Option<&str>,
    client: Option<&OAuthSecrets>,
) -> String {
    let mode = match mode {
        TokenRefresh::Manual => "manual",
        TokenRefresh::InstagramLongLived => "instagram_long_lived",
        TokenRefresh::OAuth { .. } => "oauth",
    };
    let mut hasher = Sha256::new();
    for part in [
        mode,
        token_url.unwrap_or_default(),
        client.map_or("", |c| c.client_id.expose_secret()),
        client.map_or("", |c| c.client_secret.expose_secret()),
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keeper(platform: Platform, refresh: bool) -> TokenKeeper {
        let text = format!(
            "[[accounts]]\nname = \"a\"\nplatform = \"{platform}\"\naccount_id = \"1\"\nowner_handle = \"a\"\napi_base_url = \"http://127.0.0.1:1\"\ntoken_env = \"T\"\n{}",
            match (platform, refresh) {
                (Platform::Instagram, true) => "token_refresh = true\n",
                (_, true) =>
                    "refresh_token_env = \"R\"\nclient_id_env = \"I\"\nclient_secret_env = \"S\"\n",
                _ => "",
            }
        );
        let settings =
            crate::config::Settings::parse(&text, std::path::Path::new("t.toml")).unwrap();
        TokenKeeper::from_settings(
            &settings.accounts[0],
            &|name: &str| Some(format!("v-{name}")),
            HttpPolicy::default(),
        )
        .unwrap()
    }

    fn record(
        expires_in: Option<Duration>,
        age: Option<Duration>,
        now: DateTime<Utc>,
    ) -> TokenRecord {
        TokenRecord {
            expires_at: expires_in.map(|d| now + d),
            issued_at: age.map(|d| now - d),
            ..TokenRecord::default()
        }
    }

    #[test]
    fn each_platform_renews_at_its_own_margin() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let ig = keeper(Platform::Instagram, true);
        let days = Duration::days;
        assert!(!ig.due(&record(Some(days(11)), Some(days(49)), now), now));
        assert!(ig.due(&record(Some(days(9)), Some(days(51)), now), now));
        assert!(
            !ig.due(&record(Some(days(9)), Some(Duration::hours(2)), now), now),
            "under 24 h old"
        );
        assert!(
            !ig.due(&record(Some(-days(1)), None, now), now),
            "expired: cannot renew itself"
        );
        assert!(
            ig.due(&record(None, None, now), now),
            "unknown expiry: find out"
        );

        let yt = keeper(Platform::Youtube, true);
        assert!(!yt.due(&record(Some(Duration::minutes(30)), None, now), now));
        assert!(yt.due(&record(Some(Duration::minutes(4)), None, now), now));
        assert!(yt.due(&record(None, None, now), now));

        let tt = keeper(Platform::Tiktok, true);
        assert!(!tt.due(&record(Some(Duration::hours(5)), None, now), now));
        assert!(tt.due(&record(Some(Duration::minutes(59)), None, now), now));

        let manual = keeper(Platform::Instagram, false);
        assert!(!manual.due(&record(Some(days(1)), Some(days(59)), now), now));
    }

    #[test]
    fn a_dead_refresh_token_names_the_variables_to_set() {
        let yt = keeper(Platform::Youtube, true);
        let error = PlatformError::TokenRejected {
            code: 400,
            subcode: None,
            message: "invalid_grant: Token has been expired or revoked.".into(),
        };
        let message = yt.dead_message(&error);
        assert!(
            message.contains("export the new refresh token in R"),
            "{message}"
        );
        assert!(message.contains("access token in T"), "{message}");
        assert!(message.contains("Testing"), "{message}");
        assert!(!message.contains("v-R"), "never the secret: {message}");
        let app = yt.dead_message(&PlatformError::PermissionDenied {
            message: "invalid_client".into(),
        });
        assert!(
            app.contains("client id in I") && app.contains("client secret in S"),
            "{app}"
        );
    }

    #[test]
    fn refusals_read_as_the_platform_wrote_them() {
        let google = PlatformError::TokenRejected {
            code: 400,
            subcode: None,
            message: "invalid_grant: Token has been expired or revoked.".into(),
        };
        assert_eq!(
            refusal(&google),
            "invalid_grant: Token has been expired or revoked."
        );
        let meta = PlatformError::TokenRejected {
            code: 190,
            subcode: Some(460),
            message: "Error validating access token".into(),
        };
        assert_eq!(
            refusal(&meta),
            "code 190/460: Error validating access token"
        );
        let tiktok = keeper(Platform::Tiktok, true);
        let app = tiktok.dead_message(&PlatformError::PermissionDenied {
            message: "code 40101: Invalid app_id or secret.".into(),
        });
        assert!(app.contains("client id in I"), "{app}");
        let grant = tiktok.dead_message(&PlatformError::TokenRejected {
            code: 40105,
            subcode: None,
            message: "The refresh token is incorrect, expired or has been revoked.".into(),
        });
        assert!(
            grant.contains("(code 40105: The refresh token is incorrect")
                && grant.contains("export the new refresh token in R"),
            "{grant}"
        );
    }

    #[test]
    fn the_fingerprint_changes_with_either_exported_token() {
        let a = SecretString::from("a");
        let b = SecretString::from("b");
        assert_ne!(fingerprint(&a, None), fingerprint(&b, None));
        assert_ne!(fingerprint(&a, Some(&a)), fingerprint(&a, Some(&b)));
        assert_eq!(fingerprint(&a, Some(&b)), fingerprint(&a, Some(&b)));
    }

    #[test]
    fn the_config_fingerprint_changes_with_each_refresh_setting() {
        let oauth = |id: &str, secret: &str| OAuthSecrets {
            refresh_token: SecretString::from("r"),
            client_id: SecretString::from(id.to_owned()),
            client_secret: SecretString::from(secret.to_owned()),
        };
        let mode = TokenRefresh::OAuth {
            refresh_token_env: "R".into(),
            client_id_env: "I".into(),
            client_secret_env: "S".into(),
        };
        let base = config_fingerprint(&mode, None, Some(&oauth("id", "secret")));
        assert_eq!(
            base,
            config_fingerprint(&mode, None, Some(&oauth("id", "secret")))
        );
        for other in [
            config_fingerprint(&mode, None, Some(&oauth("id", "secret2"))),
            config_fingerprint(&mode, None, Some(&oauth("id2", "secret"))),
            config_fingerprint(
                &mode,
                Some("http://127.0.0.1:9/token"),
                Some(&oauth("id", "secret")),
            ),
            config_fingerprint(&TokenRefresh::Manual, None, None),
            config_fingerprint(&TokenRefresh::InstagramLongLived, None, None),
        ] {
            assert_ne!(base, other);
        }
        assert!(!base.contains("secret"));
    }

    /// A TikTok token endpoint on the loopback that renews any refresh token into `new-access`
    /// and rotates it into `rotated`, with `expires_in` (seconds) when given; its URL, and how
    /// many requests it answered.
    async fn tiktok_token_endpoint(
        expires_in: Option<u64>,
    ) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        let mut data =
            serde_json::json!({"access_token": "new-access", "refresh_token": "rotated"});
        if let Some(secs) = expires_in {
            data["expires_in"] = secs.into();
        }
        let body = serde_json::json!({"code": 0, "message": "OK", "request_id": "1", "data": data})
            .to_string();
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = hits.clone();
        let app = axum::Router::new().fallback(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            let body = body.clone();
            async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    body,
                )
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{addr}/refresh_token/"), hits)
    }

    /// A TikTok keeper (`T`, `R`, `I`, `S` read as `v-T` …) refreshing at `token_url`.
    fn tiktok_keeper(token_url: &str, expires_at: Option<DateTime<Utc>>) -> TokenKeeper {
        let expiry = expires_at
            .map(|at| format!("token_expires_at = \"{}\"\n", at.to_rfc3339()))
            .unwrap_or_default();
        let text = format!(
            "[[accounts]]\nname = \"tt\"\nplatform = \"tiktok\"\naccount_id = \"1\"\nowner_handle = \"t\"\napi_base_url = \"http://127.0.0.1:1\"\ntoken_env = \"T\"\nrefresh_token_env = \"R\"\nclient_id_env = \"I\"\nclient_secret_env = \"S\"\ntoken_url = \"{token_url}\"\n{expiry}"
        );
        let settings =
            crate::config::Settings::parse(&text, std::path::Path::new("t.toml")).unwrap();
        TokenKeeper::from_settings(
            &settings.accounts[0],
            &|name: &str| Some(format!("v-{name}")),
            HttpPolicy::default(),
        )
        .unwrap()
    }

    async fn store_with_tiktok(path: &std::path::Path) -> (Store, AccountKey) {
        let store = Store::open(path).await.unwrap();
        let key = store
            .upsert_account(Platform::Tiktok, "1", "tt", "t")
            .await
            .unwrap();
        (store, key)
    }

    #[tokio::test]
    async fn a_renewed_token_is_used_only_once_it_is_stored() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let (url, _) = tiktok_token_endpoint(Some(86_400)).await;
        let keeper = tiktok_keeper(&url, Some(now + Duration::hours(20)));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let (store, key) = store_with_tiktok(&path).await;
        keeper.prepare(&store, key, now).await.unwrap();

        // The platform renews the token (and rotates the refresh token), but the save fails.
        use sqlx::Connection;
        let mut other = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        sqlx::query(
            "CREATE TRIGGER refuse_token_saves BEFORE UPDATE ON account_tokens
             BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END",
        )
        .execute(&mut other)
        .await
        .unwrap();
        let failed = keeper
            .refresh_after_rejection(&store, key, now, &PrepareOutcome::Ready)
            .await;
        assert!(matches!(failed, Err(TokenError::Store(_))), "{failed:?}");
        assert_eq!(
            keeper.token().get().expose_secret(),
            "v-T",
            "not stored, not used"
        );

        // The next poll stores the new tokens first, then uses them.
        sqlx::query("DROP TRIGGER refuse_token_saves")
            .execute(&mut other)
            .await
            .unwrap();
        keeper.prepare(&store, key, now).await.unwrap();
        assert_eq!(keeper.token().get().expose_secret(), "new-access");
        let stored = store.load_token(key).await.unwrap().unwrap();
        assert_eq!(stored.access_token.unwrap().expose_secret(), "new-access");
        assert_eq!(stored.refresh_token.unwrap().expose_secret(), "rotated");
    }

    #[tokio::test]
    async fn a_token_another_process_renewed_is_taken_over_not_renewed_again() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let (url, hits) = tiktok_token_endpoint(Some(86_400)).await;
        let dir = tempfile::tempdir().unwrap();
        let (store, key) = store_with_tiktok(&dir.path().join("t.db")).await;
        let run = tiktok_keeper(&url, Some(now + Duration::hours(20)));
        let poll_once = tiktok_keeper(&url, Some(now + Duration::hours(20)));
        run.prepare(&store, key, now).await.unwrap();
        poll_once.prepare(&store, key, now).await.unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), 0);

        // `triage run` renews the token (TikTok rotates the refresh token); `poll --once`, which
        // loaded the state earlier, finds its copy due, and takes the stored one over instead.
        let later = now + Duration::hours(20);
        run.prepare(&store, key, later).await.unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        poll_once.prepare(&store, key, later).await.unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), 1, "not renewed twice");
        assert_eq!(poll_once.token().get().expose_secret(), "new-access");
    }

    #[tokio::test]
    async fn a_refusal_that_crossed_another_processs_renewal_does_not_kill_the_token() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let later = now + Duration::hours(20);
        let (url, _) = tiktok_token_endpoint(Some(86_400)).await;
        let dir = tempfile::tempdir().unwrap();
        let (store, key) = store_with_tiktok(&dir.path().join("t.db")).await;
        let run = std::sync::Arc::new(tiktok_keeper(&url, Some(later)));
        run.prepare(&store, key, now).await.unwrap();

        // `poll --once` asks an endpoint at which `triage run` renews first (rotating the refresh
        // token), so that `poll --once`'s own refresh token is refused.
        let (renewing, refusing) = (run.clone(), store.clone());
        let app = axum::Router::new().fallback(move || {
            let (run, store) = (renewing.clone(), refusing.clone());
            async move {
                run.prepare(&store, key, later).await.unwrap();
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    r#"{"code":40105,"message":"The refresh token is incorrect, expired or has been revoked.","request_id":"1","data":{}}"#,
                )
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let poll_once = tiktok_keeper(&format!("http://{addr}/refresh_token/"), Some(later));
        poll_once.prepare(&store, key, now).await.unwrap();

        poll_once.prepare(&store, key, later).await.unwrap();
        assert_eq!(poll_once.token().get().expose_secret(), "new-access");
        let stored = store.load_token(key).await.unwrap().unwrap();
        assert_eq!(stored.dead_reason, None);
        assert_eq!(stored.refresh_token.unwrap().expose_secret(), "rotated");
    }

    #[tokio::test]
    async fn a_renewal_without_expires_in_lives_the_platforms_documented_lifetime() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let (url, hits) = tiktok_token_endpoint(None).await;
        let keeper = tiktok_keeper(&url, None);
        let dir = tempfile::tempdir().unwrap();
        let (store, key) = store_with_tiktok(&dir.path().join("t.db")).await;

        // Unknown expiry: renewed at once, and known to last TikTok's 24 h from then.
        keeper.prepare(&store, key, now).await.unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        let stored = store.load_token(key).await.unwrap().unwrap();
        assert_eq!(stored.expires_at, Some(now + Duration::hours(24)));
        // The next polls do not renew it again.
        for minutes in [10, 60, 600] {
            keeper
                .prepare(&store, key, now + Duration::minutes(minutes))
                .await
                .unwrap();
        }
        assert_eq!(hits.load(Ordering::SeqCst), 1);
    }

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_manual_token_close_to_expiry_is_warned_about_once_without_its_value() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let keeper = manual_instagram(now + Duration::days(6), "IGAAsecretvalue");
        let (_dir, store, key) = store_with_jess().await;

        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        keeper
            .prepare(&store, key, now - Duration::days(2))
            .await
            .unwrap();
        assert!(
            sink.0.lock().unwrap().is_empty(),
            "8 days ahead: no warning yet"
        );
        keeper.prepare(&store, key, now).await.unwrap();
        keeper
            .prepare(&store, key, now + Duration::hours(1))
            .await
            .unwrap();
        let logged = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(logged.matches("expires soon").count(), 1, "{logged}");
        assert!(
            logged.contains("WARN") && logged.contains("JESS_TOKEN"),
            "{logged}"
        );
        assert!(logged.contains("days_left=6"), "{logged}");
        assert!(!logged.contains("IGAAsecretvalue"), "{logged}");
        let health = store.account_health().await.unwrap();
        assert_eq!(
            health[0].token.as_ref().unwrap().expires_at,
            Some(now + Duration::days(6))
        );
    }

    /// A manual Instagram token (`JESS_TOKEN`) expiring at `expires_at`.
    fn manual_instagram(expires_at: DateTime<Utc>, token: &str) -> TokenKeeper {
        let text = format!(
            "[[accounts]]\nname = \"jess\"\nplatform = \"instagram\"\naccount_id = \"1\"\nowner_handle = \"j\"\napi_base_url = \"http://127.0.0.1:1\"\ntoken_env = \"JESS_TOKEN\"\ntoken_expires_at = \"{}\"\n",
            expires_at.to_rfc3339()
        );
        let settings =
            crate::config::Settings::parse(&text, std::path::Path::new("t.toml")).unwrap();
        TokenKeeper::from_settings(
            &settings.accounts[0],
            &|_: &str| Some(token.to_owned()),
            HttpPolicy::default(),
        )
        .unwrap()
    }

    async fn store_with_jess() -> (tempfile::TempDir, Store, AccountKey) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).await.unwrap();
        let key = store
            .upsert_account(Platform::Instagram, "1", "jess", "j")
            .await
            .unwrap();
        (dir, store, key)
    }

    #[tokio::test]
    async fn a_corrected_expiry_in_the_config_wins_over_the_stored_one() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let (_dir, store, key) = store_with_jess().await;
        for days in [20, 40] {
            let keeper = manual_instagram(now + Duration::days(days), "same-token");
            keeper.prepare(&store, key, now).await.unwrap();
            let health = store.account_health().await.unwrap();
            assert_eq!(
                health[0].token.as_ref().unwrap().expires_at,
                Some(now + Duration::days(days))
            );
        }
    }
}
