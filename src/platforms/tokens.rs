//! Access tokens as the platform clients send them, and the refresh calls that renew them.
//!
//! Three refresh flows exist, one per platform that allows it:
//! - Instagram Login: a long-lived token (60 days) renews itself with
//!   `GET https://graph.instagram.com/refresh_access_token?grant_type=ig_refresh_token&access_token=…`
//!   once it is 24 h old and still valid; answers `{access_token, token_type, expires_in}`.
//! - Google (YouTube): `POST https://oauth2.googleapis.com/token` with the form
//!   `grant_type=refresh_token&refresh_token&client_id&client_secret`; answers
//!   `{access_token, expires_in, scope, token_type}` (1 h), or `400 {"error":"invalid_grant"}` when
//!   the refresh token is expired or revoked.
//! - TikTok (API for Business, creator tokens):
//!   `POST /open_api/v1.3/tt_user/oauth2/refresh_token/` with a JSON body
//!   `{client_id, client_secret, grant_type: "refresh_token", refresh_token}`; answers the usual
//!   envelope with `data{access_token, expires_in, refresh_token, refresh_token_expires_in, open_id,
//!   scope}` (24 h access, one year refresh), failures as a `code` under HTTP 200.
//!
//! Every call goes through [`ApiClient`], the one retry policy. A refresh fails in one of three
//! ways, and the caller acts differently on each ([`RefreshError`]): refused for good (revoked,
//! expired, wrong client credentials — a person has to act), too early (Instagram renews a token
//! only once it is 24 h old), or not completed (network, 5xx, throttling, and any answer that is
//! not one of the platform's documented final refusals: an HTML page from a proxy, a wrong
//! `token_url`, an unknown code — try again later with the token in hand). Only these count as
//! final: Google's `invalid_grant`, `invalid_client` and `unauthorized_client`; Meta's code 190
//! (any subcode) for Instagram; TikTok's 40105 and 40104 (token), 40101 (app id / secret) and
//! 40001 (permission). Declaring a token dead on anything else would stop an account until a person
//! acts, over what may be a passing fault. Tokens travel in a query string only for Instagram, as
//! the platform requires; no URL is ever logged.

use std::sync::{Arc, RwLock};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::PlatformError;
use super::http::{ApiClient, HttpPolicy, Interpretation};

/// Instagram Login's refresh endpoint (no version in the path).
pub const INSTAGRAM_REFRESH_URL: &str = "https://graph.instagram.com/refresh_access_token";
/// Google's OAuth 2 token endpoint.
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// TikTok API for Business: creator token refresh.
pub const TIKTOK_REFRESH_URL: &str =
    "https://business-api.tiktok.com/open_api/v1.3/tt_user/oauth2/refresh_token/";

/// Lifetime of a renewed Instagram Login long-lived token when the answer does not say.
const INSTAGRAM_DEFAULT_LIFETIME: chrono::Duration = chrono::Duration::days(60);
/// Lifetime of a Google access token when the answer does not say.
const GOOGLE_DEFAULT_LIFETIME: chrono::Duration = chrono::Duration::hours(1);
/// Lifetime of a TikTok creator access token when the answer does not say.
const TIKTOK_DEFAULT_LIFETIME: chrono::Duration = chrono::Duration::hours(24);

/// The access token a client sends, shared with whoever renews it: a refresh replaces the value
/// and the client's next request carries the new one, without rebuilding the client.
#[derive(Clone)]
pub struct SharedToken(Arc<RwLock<SecretString>>);

impl SharedToken {
    pub fn new(token: SecretString) -> SharedToken {
        SharedToken(Arc::new(RwLock::new(token)))
    }

    /// The token to send now.
    pub fn get(&self) -> SecretString {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the token for every later request.
    pub fn set(&self, token: SecretString) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = token;
    }
}

impl From<SecretString> for SharedToken {
    fn from(token: SecretString) -> Self {
        SharedToken::new(token)
    }
}

impl std::fmt::Debug for SharedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedToken([REDACTED])")
    }
}

/// Why a refresh did not produce a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RefreshError {
    /// The platform refused the refresh: the token or refresh token is expired or revoked, or the
    /// client credentials are wrong. Retrying cannot help; a person must reauthorise.
    #[error("the platform refused the refresh: {0}")]
    Refused(PlatformError),
    /// The token is too new to be renewed (Instagram: under 24 h): try again once it is old enough.
    #[error("the token is too new to be renewed: {0}")]
    TooEarly(PlatformError),
    /// No usable answer came (network, 5xx, throttling, an answer that is not a documented
    /// refusal): the token in hand stays in use, try again later.
    #[error("the refresh could not be completed: {0}")]
    Unavailable(PlatformError),
}

/// A renewed access token.
#[derive(Debug, Clone)]
pub struct Refreshed {
    pub access_token: SecretString,
    /// Lifetime of the new access token: as the platform says, or (no or zero `expires_in`) the
    /// platform's documented lifetime, so that the keeper does not take the expiry for unknown
    /// and renew the token before every poll.
    pub expires_in: chrono::Duration,
    /// A new refresh token, when the platform rotates it (TikTok may).
    pub refresh_token: Option<SecretString>,
}

/// The client credentials of an OAuth app.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    pub client_id: SecretString,
    pub client_secret: SecretString,
}

enum Flow {
    Instagram,
    Google(ClientCredentials),
    Tiktok(ClientCredentials),
}

/// Calls one platform's refresh endpoint.
pub struct TokenRefresher {
    api: ApiClient,
    url: String,
    flow: Flow,
}

impl TokenRefresher {
    /// Instagram Login long-lived tokens; `url` defaults to [`INSTAGRAM_REFRESH_URL`].
    ///
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn instagram(url: Option<&str>, policy: HttpPolicy) -> Result<Self, PlatformError> {
        Self::build(
            url.unwrap_or(INSTAGRAM_REFRESH_URL),
            Flow::Instagram,
            policy,
        )
    }

    /// Google OAuth (YouTube); `url` defaults to [`GOOGLE_TOKEN_URL`].
    ///
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn google(
        url: Option<&str>,
        client: ClientCredentials,
        policy: HttpPolicy,
    ) -> Result<Self, PlatformError> {
        Self::build(
            url.unwrap_or(GOOGLE_TOKEN_URL),
            Flow::Google(client),
            policy,
        )
    }

    /// TikTok creator tokens; `url` defaults to [`TIKTOK_REFRESH_URL`].
    ///
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn tiktok(
        url: Option<&str>,
        client: ClientCredentials,
        policy: HttpPolicy,
    ) -> Result<Self, PlatformError> {
        Self::build(
            url.unwrap_or(TIKTOK_REFRESH_URL),
            Flow::Tiktok(client),
            policy,
        )
    }

    fn build(url: &str, flow: Flow, policy: HttpPolicy) -> Result<Self, PlatformError> {
        Ok(TokenRefresher {
            api: ApiClient::new(policy)?,
            url: url.to_owned(),
            flow,
        })
    }

    /// Whether the refresh renews the access token with itself (Instagram) rather than with a
    /// refresh token: such a token cannot be renewed once it has expired.
    pub fn needs_live_token(&self) -> bool {
        matches!(self.flow, Flow::Instagram)
    }

    /// Asks for a new access token. Instagram renews `access_token` itself; the OAuth flows use
    /// `refresh_token`.
    ///
    /// # Errors
    /// [`RefreshError::Refused`] when the platform says no for good (a missing refresh token for
    /// an OAuth flow counts as that), [`RefreshError::Unavailable`] when no answer came.
    pub async fn refresh(
        &self,
        access_token: &SecretString,
        refresh_token: Option<&SecretString>,
    ) -> Result<Refreshed, RefreshError> {
        let refresh_token = || {
            refresh_token.ok_or_else(|| {
                RefreshError::Refused(PlatformError::Request {
                    message: "no refresh token is configured".into(),
                })
            })
        };
        match &self.flow {
            Flow::Instagram => {
                let wire: InstagramRefresh = self
                    .api
                    .get_json(
                        "refresh_access_token",
                        |http| {
                            http.get(&self.url).query(&[
                                ("grant_type", "ig_refresh_token"),
                                ("access_token", access_token.expose_secret()),
                            ])
                        },
                        super::meta::interpret,
                    )
                    .await
                    .map_err(|e| self.classify(e))?;
                Ok(Refreshed {
                    access_token: wire.access_token,
                    expires_in: lifetime(wire.expires_in, INSTAGRAM_DEFAULT_LIFETIME),
                    refresh_token: None,
                })
            }
            Flow::Google(client) => {
                let refresh_token = refresh_token()?;
                let wire: GoogleToken = self
                    .api
                    .get_json(
                        "oauth2_token",
                        |http| {
                            http.post(&self.url).form(&[
                                ("grant_type", "refresh_token"),
                                ("refresh_token", refresh_token.expose_secret()),
                                ("client_id", client.client_id.expose_secret()),
                                ("client_secret", client.client_secret.expose_secret()),
                            ])
                        },
                        interpret_google,
                    )
                    .await
                    .map_err(|e| self.classify(e))?;
                Ok(Refreshed {
                    access_token: wire.access_token,
                    expires_in: lifetime(wire.expires_in, GOOGLE_DEFAULT_LIFETIME),
                    refresh_token: wire.refresh_token,
                })
            }
            Flow::Tiktok(client) => {
                let refresh_token = refresh_token()?;
                let envelope: TiktokEnvelope = self
                    .api
                    .get_json(
                        "tt_user_refresh_token",
                        |http| {
                            http.post(&self.url).json(&TiktokRefreshBody {
                                client_id: client.client_id.expose_secret(),
                                client_secret: client.client_secret.expose_secret(),
                                grant_type: "refresh_token",
                                refresh_token: refresh_token.expose_secret(),
                            })
                        },
                        interpret_tiktok,
                    )
                    .await
                    .map_err(|e| self.classify(e))?;
                let data = envelope.data;
                Ok(Refreshed {
                    access_token: data.access_token,
                    expires_in: lifetime(data.expires_in, TIKTOK_DEFAULT_LIFETIME),
                    refresh_token: data.refresh_token.filter(|t| !t.expose_secret().is_empty()),
                })
            }
        }
    }
}

impl TokenRefresher {
    /// Whether a failed refresh is a documented final refusal; everything else is retried later.
    fn classify(&self, error: PlatformError) -> RefreshError {
        let refused = match (&self.flow, &error) {
            (Flow::Instagram, PlatformError::TokenRejected { code: 190, .. }) => true,
            // Meta's invalid-parameter code, which is how Instagram answers a token under 24 h
            // (`meta::interpret` writes the code first).
            (Flow::Instagram, PlatformError::InvalidRequest { message })
                if message.starts_with("code 100:") =>
            {
                return RefreshError::TooEarly(error);
            }
            (Flow::Instagram, _) => false,
            // `interpret_google` and `interpret_tiktok` keep these two variants for the
            // documented refusals.
            (
                Flow::Google(_) | Flow::Tiktok(_),
                PlatformError::TokenRejected { .. } | PlatformError::PermissionDenied { .. },
            ) => true,
            (Flow::Google(_) | Flow::Tiktok(_), _) => false,
        };
        if refused {
            RefreshError::Refused(error)
        } else {
            RefreshError::Unavailable(error)
        }
    }
}

/// `expires_in` seconds, or `default` when the answer has none (or zero).
fn lifetime(expires_in: Option<u64>, default: chrono::Duration) -> chrono::Duration {
    match expires_in {
        Some(secs) if secs > 0 => {
            chrono::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 1_000))
        }
        _ => default,
    }
}

/// Google's token endpoint: OAuth errors are `{"error": "...", "error_description": "..."}` with a
/// 4xx status; `invalid_grant` (expired or revoked refresh token) and `invalid_client` /
/// `unauthorized_client` (wrong app credentials) need a person. Any other 4xx (another OAuth
/// error, a googleapis `{"error": {...}}` object, an HTML page from a proxy or a wrong
/// `token_url`) is an [`PlatformError::InvalidRequest`], which a refresh does not take as final.
pub fn interpret_google(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Interpretation {
    if status.is_success() {
        return Interpretation::Success { pace: None };
    }
    if status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
    {
        let after = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(std::time::Duration::from_secs);
        return Interpretation::Retry {
            reason: format!("HTTP {}", status.as_u16()),
            after,
        };
    }
    let error = serde_json::from_slice::<GoogleError>(body).ok();
    let (code, description) = error
        .map(|e| (e.error, e.error_description.unwrap_or_default()))
        .unwrap_or_else(|| (format!("HTTP {}", status.as_u16()), String::new()));
    let message = if description.is_empty() {
        code.clone()
    } else {
        format!("{code}: {description}")
    };
    Interpretation::Fail(match code.as_str() {
        "invalid_grant" => PlatformError::TokenRejected {
            code: u32::from(status.as_u16()),
            subcode: None,
            message,
        },
        "invalid_client" | "unauthorized_client" => PlatformError::PermissionDenied { message },
        _ => PlatformError::InvalidRequest { message },
    })
}

/// TikTok's refresh endpoint answers like the rest of the Business API (codes under HTTP 200):
/// 40104 / 40105 (the token) come back as [`PlatformError::TokenRejected`], 40001 (permission) and
/// 40101 (invalid app id / secret pair) as [`PlatformError::PermissionDenied`]; any other code
/// stays an [`PlatformError::InvalidRequest`], which a refresh does not take as final.
pub fn interpret_tiktok(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Interpretation {
    match super::tiktok::interpret(status, headers, body) {
        Interpretation::Fail(PlatformError::InvalidRequest { message }) => {
            let app_credentials = serde_json::from_slice::<TiktokHead>(body)
                .is_ok_and(|head| head.code == TIKTOK_INVALID_APP_CREDENTIALS);
            Interpretation::Fail(if app_credentials {
                // The app's credentials, not the creator's grant.
                PlatformError::PermissionDenied { message }
            } else {
                PlatformError::InvalidRequest { message }
            })
        }
        other => other,
    }
}

/// TikTok: invalid app id / secret pair.
const TIKTOK_INVALID_APP_CREDENTIALS: u32 = 40101;

// Wire shapes. Tokens are `SecretString` from the moment they are parsed, so that a `Debug` of a
// wire struct shows `[REDACTED]`, never a token.

#[derive(Debug, Deserialize)]
struct InstagramRefresh {
    access_token: SecretString,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct GoogleToken {
    access_token: SecretString,
    #[serde(default)]
    expires_in: Option<u64>,
    /// Google normally keeps the refresh token; it may send a new one.
    #[serde(default)]
    refresh_token: Option<SecretString>,
}

#[derive(Debug, Deserialize)]
struct GoogleError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

#[derive(Serialize)]
struct TiktokRefreshBody<'a> {
    client_id: &'a str,
    client_secret: &'a str,
    grant_type: &'a str,
    refresh_token: &'a str,
}

#[derive(Debug, Deserialize)]
struct TiktokHead {
    code: u32,
}

#[derive(Debug, Deserialize)]
struct TiktokEnvelope {
    data: TiktokToken,
}

#[derive(Debug, Deserialize)]
struct TiktokToken {
    access_token: SecretString,
    /// Some TikTok surfaces name it `access_token_expire_in`.
    #[serde(default, alias = "access_token_expire_in")]
    expires_in: Option<u64>,
    #[serde(default)]
    refresh_token: Option<SecretString>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn google_invalid_grant_is_a_refusal_and_5xx_a_retry() {
        let body = br#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#;
        match interpret_google(StatusCode::BAD_REQUEST, &HeaderMap::new(), body) {
            Interpretation::Fail(e) => {
                assert!(matches!(e, PlatformError::TokenRejected { .. }), "{e:?}");
                assert!(e.to_string().contains("Token has been expired or revoked"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            interpret_google(StatusCode::SERVICE_UNAVAILABLE, &HeaderMap::new(), b""),
            Interpretation::Retry { .. }
        ));
    }

    fn failure(interpretation: Interpretation) -> PlatformError {
        match interpretation {
            Interpretation::Fail(e) => e,
            other => panic!("{other:?}"),
        }
    }

    fn refresher(flow: Flow) -> TokenRefresher {
        TokenRefresher::build("http://127.0.0.1:1/", flow, HttpPolicy::default()).unwrap()
    }

    fn client() -> ClientCredentials {
        ClientCredentials {
            client_id: SecretString::from("i"),
            client_secret: SecretString::from("s"),
        }
    }

    #[test]
    fn only_tiktoks_documented_token_and_credential_codes_are_refusals() {
        let tiktok = refresher(Flow::Tiktok(client()));
        let answer = |code: u32| {
            let body = format!(r#"{{"code":{code},"message":"m","request_id":"1","data":{{}}}}"#);
            tiktok.classify(failure(interpret_tiktok(
                StatusCode::OK,
                &HeaderMap::new(),
                body.as_bytes(),
            )))
        };
        for code in [40105, 40104, 40101, 40001] {
            assert!(matches!(answer(code), RefreshError::Refused(_)), "{code}");
        }
        assert!(matches!(
            answer(40105),
            RefreshError::Refused(PlatformError::TokenRejected { code: 40105, .. })
        ));
        for code in [40002, 40006, 40110, 51234] {
            assert!(
                matches!(answer(code), RefreshError::Unavailable(_)),
                "{code}"
            );
        }
    }

    #[test]
    fn google_answers_that_are_not_oauth_refusals_are_retried() {
        let google = refresher(Flow::Google(client()));
        let answer = |status: StatusCode, body: &[u8]| {
            google.classify(failure(interpret_google(status, &HeaderMap::new(), body)))
        };
        for (status, error) in [
            (StatusCode::BAD_REQUEST, "invalid_grant"),
            (StatusCode::UNAUTHORIZED, "invalid_client"),
            (StatusCode::BAD_REQUEST, "unauthorized_client"),
        ] {
            let body = format!(r#"{{"error":"{error}"}}"#);
            assert!(
                matches!(answer(status, body.as_bytes()), RefreshError::Refused(_)),
                "{error}"
            );
        }
        let googleapis = br#"{"error":{"code":403,"message":"The caller does not have permission","status":"PERMISSION_DENIED"}}"#;
        for (status, body) in [
            (
                StatusCode::NOT_FOUND,
                &b"<html><body>Not Found</body></html>"[..],
            ),
            (StatusCode::FORBIDDEN, &b"<html>Forbidden</html>"[..]),
            (StatusCode::FORBIDDEN, &googleapis[..]),
            (
                StatusCode::BAD_REQUEST,
                &br#"{"error":"unsupported_grant_type"}"#[..],
            ),
        ] {
            assert!(
                matches!(answer(status, body), RefreshError::Unavailable(_)),
                "{status} {}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn instagram_refuses_only_with_code_190_and_waits_on_code_100() {
        let instagram = refresher(Flow::Instagram);
        let answer = |status: StatusCode, body: &[u8]| {
            instagram.classify(failure(super::super::meta::interpret(
                status,
                &HeaderMap::new(),
                body,
            )))
        };
        let expired = br#"{"error":{"message":"Session has expired","type":"OAuthException","code":190,"error_subcode":463}}"#;
        assert!(matches!(
            answer(StatusCode::BAD_REQUEST, expired),
            RefreshError::Refused(_)
        ));
        let young = br#"{"error":{"message":"(#100) The access token can only be refreshed once it is at least 24 hours old.","type":"OAuthException","code":100}}"#;
        assert!(matches!(
            answer(StatusCode::BAD_REQUEST, young),
            RefreshError::TooEarly(_)
        ));
        let permission =
            br#"{"error":{"message":"(#10) Permission denied","type":"OAuthException","code":10}}"#;
        for body in [&b"<html>Not Found</html>"[..], &permission[..]] {
            assert!(matches!(
                answer(StatusCode::NOT_FOUND, body),
                RefreshError::Unavailable(_)
            ));
        }
    }

    #[test]
    fn parsed_refresh_answers_never_show_their_tokens() {
        let instagram: InstagramRefresh =
            serde_json::from_str(r#"{"access_token":"IGAAsecret1","expires_in":5184000}"#).unwrap();
        let google: GoogleToken = serde_json::from_str(
            r#"{"access_token":"ya29.secret2","expires_in":3599,"refresh_token":"1//secret3"}"#,
        )
        .unwrap();
        let tiktok: TiktokEnvelope = serde_json::from_str(
            r#"{"data":{"access_token":"act.secret4","expires_in":86400,"refresh_token":"rft.secret5"}}"#,
        )
        .unwrap();
        let shown = format!("{instagram:?} {google:?} {tiktok:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert_eq!(google.refresh_token.unwrap().expose_secret(), "1//secret3");
        assert_eq!(tiktok.data.access_token.expose_secret(), "act.secret4");
    }

    #[test]
    fn a_shared_token_hides_its_value_and_swaps() {
        let token = SharedToken::new(SecretString::from("old-secret"));
        let client_side = token.clone();
        token.set(SecretString::from("new-secret"));
        assert_eq!(client_side.get().expose_secret(), "new-secret");
        assert!(!format!("{token:?}").contains("secret"));
    }
}
