//! The refresh clients against the simulator's token endpoints, and token expiry on the simulated
//! clock as each platform's API reports it.

use std::time::Duration;

use comment_triage::domain::Platform;
use comment_triage::platforms::http::HttpPolicy;
use comment_triage::platforms::instagram::{Identity, InstagramClient};
use comment_triage::platforms::tiktok::TiktokClient;
use comment_triage::platforms::tokens::{ClientCredentials, RefreshError, TokenRefresher};
use comment_triage::platforms::youtube::{self, YoutubeClient};
use comment_triage::platforms::{PlatformClient, PlatformError};
use comment_triage::sim::{
    Fault, SIM_CLIENT_ID, SIM_CLIENT_SECRET, ScenarioParams, SimAccount, SimHandle, SimOptions,
    SimServer, TokenLifetimes,
};
use secrecy::{ExposeSecret, SecretString};

fn policy() -> HttpPolicy {
    HttpPolicy {
        timeout: Duration::from_secs(5),
        max_attempts: 3,
        backoff_base: Duration::from_millis(5),
        backoff_max: Duration::from_millis(50),
        max_throttle_wait: Duration::from_millis(50),
    }
}

async fn spawn(platform: Platform) -> (SimHandle, SimAccount) {
    let params = ScenarioParams {
        seed: 71,
        accounts: 1,
        posts_per_account: 2,
        comments_per_post: 10,
        platforms: vec![platform],
        ..ScenarioParams::default()
    };
    let options = SimOptions {
        token_lifetimes: Some(TokenLifetimes::default()),
        ..SimOptions::default()
    };
    let sim = SimServer::start("127.0.0.1:0".parse().unwrap(), params, options)
        .await
        .expect("simulator starts");
    let account = sim.accounts().remove(0);
    (sim, account)
}

fn secret(text: &str) -> SecretString {
    SecretString::from(text.to_owned())
}

fn credentials(client_secret: &str) -> ClientCredentials {
    ClientCredentials {
        client_id: secret(SIM_CLIENT_ID),
        client_secret: secret(client_secret),
    }
}

fn instagram_client(
    sim: &SimHandle,
    account: &SimAccount,
    token: &SecretString,
) -> InstagramClient {
    InstagramClient::new(
        &sim.base_url(),
        token.clone(),
        Identity {
            account_id: account.id.clone(),
            owner_handle: account.username.clone(),
            brand_handles: vec![],
        },
        25,
        policy(),
    )
    .unwrap()
}

fn youtube_client(sim: &SimHandle, account: &SimAccount, token: &SecretString) -> YoutubeClient {
    YoutubeClient::new(
        &sim.base_url_for(Platform::Youtube),
        token.clone(),
        youtube::Identity {
            channel_id: account.id.clone(),
            brand_handles: vec![],
        },
        25,
        youtube::QuotaMeter::new(10_000, youtube::CostTable::Flat),
        policy(),
    )
    .unwrap()
}

fn tiktok_client(sim: &SimHandle, account: &SimAccount, token: &SecretString) -> TiktokClient {
    TiktokClient::new(
        &sim.base_url_for(Platform::Tiktok),
        token.clone(),
        &account.id,
        vec![],
        20,
        policy(),
    )
    .unwrap()
}

fn rejected_code(result: Result<impl std::fmt::Debug, PlatformError>) -> (u32, Option<u32>) {
    match result {
        Err(PlatformError::TokenRejected { code, subcode, .. }) => (code, subcode),
        other => panic!("expected a rejected token, got {other:?}"),
    }
}

#[tokio::test]
async fn instagram_renews_a_day_old_long_lived_token_and_the_old_one_expires_at_60_days() {
    let (sim, account) = spawn(Platform::Instagram).await;
    let refresher =
        TokenRefresher::instagram(sim.token_url(Platform::Instagram).as_deref(), policy()).unwrap();
    let original = secret(&account.token);

    // Younger than 24 h: too early, not a refusal, and the token keeps working.
    let early = refresher.refresh(&original, None).await;
    assert!(matches!(early, Err(RefreshError::TooEarly(_))), "{early:?}");

    sim.advance(chrono::Duration::hours(25));
    let renewed = refresher.refresh(&original, None).await.unwrap();
    assert_ne!(renewed.access_token.expose_secret(), account.token);
    assert_eq!(renewed.expires_in, chrono::Duration::days(60));

    // 60 days and an hour after the first token was issued: it is dead, the renewed one is not.
    sim.advance(chrono::Duration::days(59));
    let old = instagram_client(&sim, &account, &original);
    assert_eq!(rejected_code(old.list_posts(None).await), (190, Some(463)));
    let new = instagram_client(&sim, &account, &renewed.access_token);
    new.list_posts(None).await.expect("the renewed token reads");
    // An expired token cannot renew itself.
    let late = refresher.refresh(&original, None).await;
    assert!(
        matches!(&late, Err(RefreshError::Refused(e)) if e.to_string().contains("463")),
        "{late:?}"
    );
}

#[tokio::test]
async fn instagram_refresh_of_a_revoked_session_is_refused_with_460() {
    let (sim, account) = spawn(Platform::Instagram).await;
    sim.advance(chrono::Duration::hours(30));
    sim.revoke_grant(&account.id);
    let refresher =
        TokenRefresher::instagram(sim.token_url(Platform::Instagram).as_deref(), policy()).unwrap();
    match refresher.refresh(&secret(&account.token), None).await {
        Err(RefreshError::Refused(PlatformError::TokenRejected { code, subcode, .. })) => {
            assert_eq!((code, subcode), (190, Some(460)));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn google_refresh_gives_an_hour_and_a_revoked_grant_is_invalid_grant() {
    let (sim, account) = spawn(Platform::Youtube).await;
    let url = sim.token_url(Platform::Youtube);
    let refresh_token = secret(&sim.refresh_token(&account.id).expect("a refresh token"));
    let original = secret(&account.token);

    sim.advance(chrono::Duration::minutes(61));
    let expired = youtube_client(&sim, &account, &original);
    assert_eq!(rejected_code(expired.list_posts(None).await).0, 401);

    let refresher =
        TokenRefresher::google(url.as_deref(), credentials(SIM_CLIENT_SECRET), policy()).unwrap();
    let renewed = refresher
        .refresh(&original, Some(&refresh_token))
        .await
        .unwrap();
    assert_eq!(renewed.expires_in, chrono::Duration::seconds(3599));
    youtube_client(&sim, &account, &renewed.access_token)
        .list_posts(None)
        .await
        .expect("the renewed token reads");

    let wrong_app =
        TokenRefresher::google(url.as_deref(), credentials("not-the-secret"), policy()).unwrap();
    let refused = wrong_app.refresh(&original, Some(&refresh_token)).await;
    assert!(
        matches!(&refused, Err(RefreshError::Refused(e)) if e.to_string().contains("invalid_client")),
        "{refused:?}"
    );

    sim.revoke_grant(&account.id);
    match refresher.refresh(&original, Some(&refresh_token)).await {
        Err(RefreshError::Refused(e)) => {
            let message = e.to_string();
            assert!(message.contains("invalid_grant"), "{message}");
            assert!(
                message.contains("Token has been expired or revoked"),
                "{message}"
            );
            assert!(
                !message.contains(refresh_token.expose_secret()),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn tiktok_refresh_rotates_the_refresh_token_and_refuses_the_old_one() {
    let (sim, account) = spawn(Platform::Tiktok).await;
    let url = sim.token_url(Platform::Tiktok);
    let first = secret(&sim.refresh_token(&account.id).expect("a refresh token"));
    let original = secret(&account.token);

    sim.advance(chrono::Duration::hours(25));
    assert_eq!(
        rejected_code(
            tiktok_client(&sim, &account, &original)
                .list_posts(None)
                .await
        )
        .0,
        40105
    );

    let refresher =
        TokenRefresher::tiktok(url.as_deref(), credentials(SIM_CLIENT_SECRET), policy()).unwrap();
    let renewed = refresher.refresh(&original, Some(&first)).await.unwrap();
    assert_eq!(renewed.expires_in, chrono::Duration::hours(24));
    let rotated = renewed
        .refresh_token
        .expect("TikTok hands back a refresh token");
    assert_eq!(
        Some(rotated.expose_secret().to_owned()),
        sim.refresh_token(&account.id)
    );
    tiktok_client(&sim, &account, &renewed.access_token)
        .list_posts(None)
        .await
        .expect("the renewed token reads");

    let reused = refresher.refresh(&original, Some(&first)).await;
    assert!(
        matches!(
            &reused,
            Err(RefreshError::Refused(PlatformError::TokenRejected {
                code: 40105,
                ..
            }))
        ),
        "{reused:?}"
    );
    refresher
        .refresh(&renewed.access_token, Some(&rotated))
        .await
        .expect("the rotated refresh token works");
}

#[tokio::test]
async fn refreshes_retry_5xx_and_broken_bodies_then_report_unavailable_not_refused() {
    for platform in [Platform::Youtube, Platform::Tiktok] {
        let (sim, account) = spawn(platform).await;
        let url = sim.token_url(platform);
        let refresh_token = secret(&sim.refresh_token(&account.id).unwrap());
        let refresher = match platform {
            Platform::Youtube => {
                TokenRefresher::google(url.as_deref(), credentials(SIM_CLIENT_SECRET), policy())
            }
            _ => TokenRefresher::tiktok(url.as_deref(), credentials(SIM_CLIENT_SECRET), policy()),
        }
        .unwrap();
        let original = secret(&account.token);

        // Two bad answers, then a good one: within the policy's 3 attempts.
        sim.inject(Fault::ServerError {
            status: 503,
            requests: 1,
        });
        sim.inject(Fault::TruncatedBody { requests: 1 });
        let renewed = refresher.refresh(&original, Some(&refresh_token)).await;
        let renewed = renewed.unwrap_or_else(|e| panic!("{platform}: {e}"));
        let refresh_token = renewed.refresh_token.unwrap_or(refresh_token);

        // Three bad answers: given up, as "no answer", never as a refusal.
        sim.inject(Fault::HtmlBody { requests: 3 });
        match refresher
            .refresh(&renewed.access_token, Some(&refresh_token))
            .await
        {
            Err(RefreshError::Unavailable(PlatformError::Exhausted { attempts: 3, .. })) => {}
            other => panic!("{platform}: {other:?}"),
        }
        // The grant is intact: nothing was issued or rotated by the faulted requests.
        refresher
            .refresh(&renewed.access_token, Some(&refresh_token))
            .await
            .unwrap_or_else(|e| panic!("{platform}: {e}"));
    }
}
