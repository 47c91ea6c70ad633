//! The TikTok Business client against the simulator's TikTok routes, plus raw requests for the
//! envelope details.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use comment_triage::domain::{AuthorRole, Comment, Platform};
use comment_triage::platforms::http::HttpPolicy;
use comment_triage::platforms::tiktok::TiktokClient;
use comment_triage::platforms::{PlatformClient, PlatformError};
use comment_triage::sim::{Fault, ScenarioParams, SimAccount, SimHandle, SimOptions, SimServer};
use secrecy::SecretString;
use serde_json::Value;

fn params(seed: u64) -> ScenarioParams {
    ScenarioParams {
        seed,
        accounts: 1,
        posts_per_account: 3,
        comments_per_post: 40,
        platforms: vec![Platform::Tiktok],
        ..ScenarioParams::default()
    }
}

async fn spawn(params: ScenarioParams, options: SimOptions) -> SimHandle {
    let sim = SimServer::start("127.0.0.1:0".parse().unwrap(), params, options)
        .await
        .expect("simulator starts");
    sim.advance(chrono::Duration::days(10));
    sim
}

fn account(sim: &SimHandle) -> SimAccount {
    let account = sim.accounts().remove(0);
    assert_eq!(account.platform, Platform::Tiktok);
    account
}

fn policy() -> HttpPolicy {
    HttpPolicy {
        timeout: Duration::from_secs(5),
        max_attempts: 4,
        backoff_base: Duration::from_millis(5),
        backoff_max: Duration::from_millis(50),
        max_throttle_wait: Duration::from_millis(50),
    }
}

fn client_at(base: &str, account: &SimAccount, token: &str, page_size: u32) -> TiktokClient {
    TiktokClient::new(
        base,
        SecretString::from(token.to_owned()),
        &account.id,
        vec!["glowlab".into()],
        page_size,
        policy(),
    )
    .unwrap()
}

fn client(sim: &SimHandle, page_size: u32) -> TiktokClient {
    let a = account(sim);
    client_at(&sim.base_url_for(Platform::Tiktok), &a, &a.token, page_size)
}

async fn walk(client: &TiktokClient, video: &str, between: impl Fn()) -> (Vec<Comment>, usize) {
    let mut out = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = client.list_comments(video, after.as_deref()).await.unwrap();
        pages += 1;
        out.extend(page.items);
        between();
        match page.next {
            Some(next) => after = Some(next),
            None => return (out, pages),
        }
    }
}

async fn raw(
    sim: &SimHandle,
    path: &str,
    query: &[(&str, &str)],
    token: Option<&str>,
) -> (u16, HashMap<String, String>, Value) {
    let mut request = reqwest::Client::new()
        .get(format!("{}/{path}", sim.base_url_for(Platform::Tiktok)))
        .query(query);
    if let Some(token) = token {
        request = request.header("Access-Token", token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    (
        status,
        headers,
        response.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn paging_to_has_more_false_finds_every_comment_with_owner_replies() {
    let sim = spawn(params(41), SimOptions::default()).await;
    let client = client(&sim, 7);
    let truth = sim.ground_truth();
    let posts = client.list_posts(None).await.unwrap();
    assert!(posts.next.is_none());
    assert_eq!(posts.items.len(), 3);
    let mut seen: HashMap<String, Comment> = HashMap::new();
    for post in &posts.items {
        let expected = truth
            .iter()
            .filter(|c| c.media_id == post.external_id)
            .count();
        assert_eq!(post.comments_count, Some(expected as u64));
        let (comments, pages) = walk(&client, &post.external_id, || {}).await;
        assert!(pages >= 3);
        for c in comments {
            assert!(c.external_id.len() == 19 && c.external_id.bytes().all(|b| b.is_ascii_digit()));
            seen.insert(c.external_id.clone(), c);
        }
    }
    let truth_ids: HashSet<&str> = truth.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        seen.keys().map(String::as_str).collect::<HashSet<_>>(),
        truth_ids
    );
    for t in &truth {
        let c = &seen[&t.id];
        assert_eq!(
            (&c.text, &c.parent_id, c.created_at),
            (&t.text, &t.parent_id, t.timestamp)
        );
        let role = if t.by_owner {
            AuthorRole::Owner
        } else if t.by_brand {
            AuthorRole::Brand
        } else {
            AuthorRole::Audience
        };
        assert_eq!(c.role, role, "{}", t.id);
    }
    assert!(
        seen.values().any(|c| c.hidden),
        "status=ALL shows hidden comments"
    );
}

#[tokio::test]
async fn comments_arriving_mid_walk_repeat_items_but_lose_none() {
    // Early in the first post's life (clock not advanced), so new comments keep arriving.
    let sim = SimServer::start(
        "127.0.0.1:0".parse().unwrap(),
        params(42),
        SimOptions::default(),
    )
    .await
    .unwrap();
    let client = client(&sim, 5);
    let video = client
        .list_posts(None)
        .await
        .unwrap()
        .items
        .remove(0)
        .external_id;
    let before: HashSet<String> = sim
        .ground_truth()
        .iter()
        .filter(|c| c.media_id == video && c.parent_id.is_none())
        .map(|c| c.id.clone())
        .collect();
    let (comments, _) = walk(&client, &video, || {
        sim.advance(chrono::Duration::minutes(20))
    })
    .await;
    let tops: Vec<&str> = comments
        .iter()
        .filter(|c| c.parent_id.is_none())
        .map(|c| c.external_id.as_str())
        .collect();
    let unique: HashSet<&str> = tops.iter().copied().collect();
    assert!(
        before.iter().all(|id| unique.contains(id.as_str())),
        "nothing visible at the start is skipped"
    );
    assert!(
        tops.len() > unique.len(),
        "offset drift repeats items on later pages"
    );
}

#[tokio::test]
async fn token_errors_come_inside_http_200() {
    let sim = spawn(params(43), SimOptions::default()).await;
    let a = account(&sim);
    let base = sim.base_url_for(Platform::Tiktok);
    let bearer = client_at(&base, &a, &format!("Bearer {}", a.token), 20);
    match bearer.list_posts(None).await {
        Err(PlatformError::TokenRejected { code: 40105, .. }) => {}
        other => panic!("a Bearer prefix must be refused: {other:?}"),
    }
    let (status, headers, body) = raw(
        &sim,
        "business/video/list/",
        &[("business_id", &a.id)],
        None,
    )
    .await;
    assert_eq!((status, body["code"].as_u64()), (200, Some(40104)));
    assert!(headers.contains_key("x-tt-logid"));
    assert!(body["request_id"].as_str().is_some_and(|r| !r.is_empty()));
    let (_, _, body) = raw(
        &sim,
        "business/nothing/here/",
        &[("business_id", &a.id)],
        Some(&a.token),
    )
    .await;
    assert_eq!(body["code"], 40006);
    let (_, _, body) = raw(
        &sim,
        "business/video/list/",
        &[("business_id", &a.id), ("fields", "item_id,caption")],
        Some(&a.token),
    )
    .await;
    assert_eq!(body["code"], 40002, "CSV instead of a JSON array");

    sim.inject(Fault::ExpireToken {
        account_id: a.id.clone(),
    });
    match client(&sim, 20).list_posts(None).await {
        Err(PlatformError::TokenRejected {
            code: 40105,
            message,
            ..
        }) => {
            assert!(message.contains("revoked"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_rate_limit_answers_40100_and_is_waited_out() {
    let options = SimOptions {
        tiktok_calls_per_minute: 3,
        ..SimOptions::default()
    };
    let sim = spawn(params(44), options).await;
    let a = account(&sim);
    let client = client(&sim, 20);
    let mut outcome = Ok(());
    for _ in 0..5 {
        if let Err(e) = client.list_posts(None).await {
            outcome = Err(e);
            break;
        }
    }
    assert!(
        matches!(outcome, Err(PlatformError::Throttled { .. })),
        "{outcome:?}"
    );
    let (status, _, body) = raw(
        &sim,
        "business/video/list/",
        &[("business_id", &a.id)],
        Some(&a.token),
    )
    .await;
    assert_eq!((status, body["code"].as_u64()), (200, Some(40100)));
    assert_eq!(body["message"], "Too many requests");
}

#[tokio::test]
async fn transient_faults_are_retried() {
    let sim = spawn(params(45), SimOptions::default()).await;
    let client = client(&sim, 20);
    for fault in [
        Fault::ServerError {
            status: 500,
            requests: 1,
        },
        Fault::ServerError {
            status: 502,
            requests: 1,
        },
        Fault::HtmlBody { requests: 1 },
        Fault::TruncatedBody { requests: 1 },
        Fault::Throttle {
            code: 4,
            duration: Duration::from_millis(30),
        },
    ] {
        sim.inject(fault);
        assert_eq!(client.list_posts(None).await.unwrap().items.len(), 3);
    }
}

#[tokio::test]
async fn fetch_threads_uses_comment_ids_and_skips_missing_ones() {
    let sim = spawn(params(46), SimOptions::default()).await;
    let client = client(&sim, 20);
    let truth = sim.ground_truth();
    let video = truth[0].media_id.clone();
    let mut ids: Vec<String> = truth
        .iter()
        .filter(|t| t.media_id == video && t.parent_id.is_none())
        .map(|t| t.id.clone())
        .collect();
    let wanted = ids.len();
    ids.push("7360000000000000000".into());
    let comments = client.fetch_threads(&video, &ids).await.unwrap();
    assert_eq!(
        comments.iter().filter(|c| c.parent_id.is_none()).count(),
        wanted
    );
    let replies = truth
        .iter()
        .filter(|t| t.media_id == video && t.parent_id.is_some())
        .count();
    assert_eq!(comments.len(), wanted + replies);
}

#[tokio::test]
async fn a_wrong_shape_or_a_silent_server_exhausts_the_retries() {
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route(
            "/wrong/business/video/list/",
            get(|| async { r#"{"code":0,"message":"OK","request_id":"r","data":{}}"# }),
        )
        .route(
            "/slow/business/video/list/",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "{}"
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let a = SimAccount {
        id: "-000x".into(),
        username: "x".into(),
        token: "act.x".into(),
        platform: Platform::Tiktok,
    };
    let make = |path: &str, timeout| {
        TiktokClient::new(
            &format!("http://{addr}/{path}"),
            SecretString::from(a.token.clone()),
            &a.id,
            vec![],
            20,
            HttpPolicy {
                timeout,
                max_attempts: 2,
                ..policy()
            },
        )
        .unwrap()
    };
    match make("wrong", Duration::from_secs(5)).list_posts(None).await {
        Err(PlatformError::Exhausted { last, .. }) => assert!(last.contains("malformed"), "{last}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        make("slow", Duration::from_millis(200))
            .list_posts(None)
            .await,
        Err(PlatformError::Exhausted { attempts: 2, .. })
    ));
}
