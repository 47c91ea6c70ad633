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
//! Every call goes through [`ApiClient`], the one retry policy. A refresh fails in one of two ways,
//! and the caller acts differently on each ([`RefreshError`]): refused for good (revoked, expired,
//! wrong client credentials — a person has to act) or not answered (network, 5xx, throttling —
//! try again later with the token in hand). Tokens travel in a query string only for Instagram,
//! as the platform requires; no URL is ever logged.

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
    /// No answer came (network, 5xx, throttling): the token in hand stays in use, try again later.
    #[error("the refresh could not be completed: {0}")]
    Unavailable(PlatformError),
}

impl From<PlatformError> for RefreshError {
    fn from(error: PlatformError) -> Self {
        match error {
            PlatformError::TokenRejected { .. }
            | PlatformError::PermissionDenied { .. }
            | PlatformError::NotFound { .. }
            | PlatformError::InvalidRequest { .. } => RefreshError::Refused(error),
            other => RefreshError::Unavailable(other),
        }
    }
}

/// A renewed access token.
#[derive(Debug, Clone)]
pub struct Refreshed {
    pub access_token: SecretString,
    /// Lifetime of the new access token, when the platform says.
    pub expires_in: Option<chrono::Duration>,
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
                    .await?;
                Ok(Refreshed {
                    access_token: SecretString::from(wire.access_token),
                    expires_in: wire.expires_in.map(seconds),
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
                    .await?;
                Ok(Refreshed {
                    access_token: SecretString::from(wire.access_token),
                    expires_in: wire.expires_in.map(seconds),
                    refresh_token: wire.refresh_token.map(SecretString::from),
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
                    .await?;
                let data = envelope.data;
                Ok(Refreshed {
                    access_token: SecretString::from(data.access_token),
                    expires_in: data.expires_in.map(seconds),
                    refresh_token: data
                        .refresh_token
                        .filter(|t| !t.is_empty())
                        .map(SecretString::from),
                })
            }
        }
    }
}

fn seconds(secs: u64) -> chrono::Duration {
    chrono::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 1_000))
}

/// Google's token endpoint: OAuth errors are `{"error": "...", "error_description": "..."}` with a
/// 4xx status; `invalid_grant` (expired or revoked refresh token) and `invalid_client` (wrong app
/// credentials) need a person.
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

/// TikTok's refresh endpoint answers like the rest of the Business API (codes under HTTP 200);
/// any final code there means the refresh token or the app credentials are no good.
pub fn interpret_tiktok(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Interpretation {
    match super::tiktok::interpret(status, headers, body) {
        Interpretation::Fail(PlatformError::InvalidRequest { message }) => {
            let Ok(head) = serde_json::from_slice::<TiktokHead>(body) else {
                return Interpretation::Fail(PlatformError::InvalidRequest { message });
            };
            Interpretation::Fail(if head.code == 40101 {
                // Invalid app id / secret pair: the app's credentials, not the creator's grant.
                PlatformError::PermissionDenied { message }
            } else {
                PlatformError::TokenRejected {
                    code: head.code,
                    subcode: None,
                    message: head.message,
                }
            })
        }
        other => other,
    }
}

// Wire shapes.

#[derive(Debug, Deserialize)]
struct InstagramRefresh {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct GoogleToken {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
    /// Google normally keeps the refresh token; it may send a new one.
    #[serde(default)]
    refresh_token: Option<String>,
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
    #[serde(default)]
    message: String,
}

#[derive(Debug, Deserialize)]
struct TiktokEnvelope {
    data: TiktokToken,
}

#[derive(Debug, Deserialize)]
struct TiktokToken {
    access_token: String,
    /// Some TikTok surfaces name it `access_token_expire_in`.
    #[serde(default, alias = "access_token_expire_in")]
    expires_in: Option<u64>,
    #[serde(default)]
    refresh_token: Option<String>,
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

    #[test]
    fn tiktok_codes_under_http_200_are_refusals() {
        let body = br#"{"code":40105,"message":"Access token is incorrect or has been revoked.","request_id":"1","data":{}}"#;
        assert!(matches!(
            interpret_tiktok(StatusCode::OK, &HeaderMap::new(), body),
            Interpretation::Fail(PlatformError::TokenRejected { code: 40105, .. })
        ));
        let body =
            br#"{"code":40002,"message":"refresh_token is invalid","request_id":"1","data":{}}"#;
        assert!(matches!(
            RefreshError::from(
                match interpret_tiktok(StatusCode::OK, &HeaderMap::new(), body) {
                    Interpretation::Fail(e) => e,
                    other => panic!("{other:?}"),
                }
            ),
            RefreshError::Refused(_)
        ));
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
