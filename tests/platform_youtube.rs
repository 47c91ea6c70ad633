//! The YouTube client against the simulator's YouTube routes (and a few raw requests to check
//! the wire shapes the client relies on).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use comment_triage::domain::{AuthorRole, Comment, Media, Platform};
use comment_triage::platforms::http::HttpPolicy;
use comment_triage::platforms::youtube::{CostTable, Identity, QuotaMeter, YoutubeClient};
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
        platforms: vec![Platform::Youtube],
        ..ScenarioParams::default()
    }
}

async fn spawn(params: ScenarioParams, options: SimOptions) -> SimHandle {
    let sim = SimServer::start("127.0.0.1:0".parse().unwrap(), params, options)
        .await
        .expect("simulator starts");
    // Let every post collect its comments.
    sim.advance(chrono::Duration::days(10));
    sim
}

fn policy() -> HttpPolicy {
    HttpPolicy {
        timeout: Duration::from_secs(5),
        max_attempts: 4,
        backoff_base: Duration::from_millis(5),
        backoff_max: Duration::from_millis(50),
        max_throttle_wait: Duration::from_millis(100),
    }
}

fn account(sim: &SimHandle) -> SimAccount {
    let account = sim.accounts().remove(0);
    assert_eq!(account.platform, Platform::Youtube);
    account
}

fn client_with(sim: &SimHandle, page_size: u32, meter: QuotaMeter) -> YoutubeClient {
    let account = account(sim);
    YoutubeClient::new(
        &sim.base_url_for(Platform::Youtube),
        SecretString::from(account.token),
        Identity {
            channel_id: account.id,
            brand_handles: vec!["glowlab".into()],
        },
        page_size,
        meter,
        policy(),
    )
    .unwrap()
}

fn client(sim: &SimHandle, page_size: u32) -> YoutubeClient {
    client_with(sim, page_size, QuotaMeter::new(1_000_000, CostTable::Flat))
}

async fn all_posts(client: &YoutubeClient) -> Vec<Media> {
    let mut posts = Vec::new();
    let mut after = None;
    loop {
        let page = client.list_posts(after.as_deref()).await.unwrap();
        posts.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => return posts,
        }
    }
}

async fn all_comments(client: &YoutubeClient, video: &str) -> (Vec<Comment>, usize) {
    let mut comments = Vec::new();
    let mut pages = 0;
    let mut after = None;
    loop {
        let page = client.list_comments(video, after.as_deref()).await.unwrap();
        pages += 1;
        comments.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => return (comments, pages),
        }
    }
}

async fn raw(
    sim: &SimHandle,
    resource: &str,
    query: &[(&str, &str)],
    token: Option<&str>,
) -> (u16, Value) {
    let url = format!("{}/{resource}", sim.base_url_for(Platform::Youtube));
    let mut request = reqwest::Client::new().get(url).query(query);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn reason(body: &Value) -> &str {
    body["error"]["errors"][0]["reason"].as_str().unwrap_or("")
}

#[tokio::test]
async fn paging_to_the_end_finds_every_comment_and_reply_with_owner_answers() {
    let sim = spawn(params(11), SimOptions::default()).await;
    let client = client(&sim, 7);
    let truth = sim.ground_truth();
    let posts = all_posts(&client).await;
    assert_eq!(posts.len(), 3);
    let mut seen = HashMap::new();
    let mut busy_threads = 0;
    for post in &posts {
        assert!(
            post.permalink
                .as_deref()
                .unwrap()
                .ends_with(&post.external_id)
        );
        let (comments, pages) = all_comments(&client, &post.external_id).await;
        assert!(
            pages >= 3,
            "small pages should need several calls, got {pages}"
        );
        let expected = truth
            .iter()
            .filter(|c| c.media_id == post.external_id)
            .count();
        assert_eq!(
            post.comments_count,
            Some(expected as u64),
            "commentCount of {}",
            post.external_id
        );
        let mut replies_per_thread: HashMap<&str, usize> = HashMap::new();
        for c in &comments {
            if let Some(parent) = &c.parent_id {
                *replies_per_thread.entry(parent.as_str()).or_default() += 1;
            }
        }
        busy_threads += replies_per_thread.values().filter(|&&n| n > 5).count();
        for c in comments {
            assert!(seen.insert(c.external_id.clone(), c).is_none(), "duplicate");
        }
    }
    assert!(
        busy_threads > 0,
        "some thread should need comments.list beyond the embedded 5"
    );
    let truth_ids: HashSet<&str> = truth.iter().map(|c| c.id.as_str()).collect();
    let seen_ids: HashSet<&str> = seen.keys().map(String::as_str).collect();
    assert_eq!(seen_ids, truth_ids);
    for t in &truth {
        let c = &seen[&t.id];
        assert_eq!(c.text, t.text, "text of {}", t.id);
        assert_eq!(c.parent_id, t.parent_id);
        assert_eq!(c.created_at, t.timestamp);
        let expected = if t.by_owner {
            AuthorRole::Owner
        } else if t.by_brand {
            AuthorRole::Brand
        } else {
            AuthorRole::Audience
        };
        assert_eq!(c.role, expected, "role of {} by {}", t.id, t.username);
        assert_eq!(c.author_handle, t.username);
    }
    assert!(truth.iter().any(|t| t.by_owner && t.parent_id.is_some()));
}

#[tokio::test]
async fn fetch_threads_rereads_threads_and_leaves_out_missing_ones() {
    let sim = spawn(params(12), SimOptions::default()).await;
    let client = client(&sim, 50);
    let truth = sim.ground_truth();
    let tops: Vec<String> = truth
        .iter()
        .filter(|t| t.parent_id.is_none())
        .take(60)
        .map(|t| t.id.clone())
        .collect();
    let mut ids = tops.clone();
    ids.push("UgzNoSuchThread0000004AaABAg".into());
    let comments = client.fetch_threads("", &ids).await.unwrap();
    let found: HashSet<&str> = comments
        .iter()
        .filter(|c| c.parent_id.is_none())
        .map(|c| c.external_id.as_str())
        .collect();
    assert_eq!(found, tops.iter().map(String::as_str).collect());
    let expected_replies = truth
        .iter()
        .filter(|t| t.parent_id.as_ref().is_some_and(|p| tops.contains(p)))
        .count();
    assert_eq!(comments.len() - found.len(), expected_replies);
}

#[tokio::test]
async fn an_expired_token_is_rejected_with_401() {
    let sim = spawn(params(13), SimOptions::default()).await;
    let client = client(&sim, 20);
    sim.inject(Fault::ExpireToken {
        account_id: account(&sim).id,
    });
    match client.list_posts(None).await {
        Err(PlatformError::TokenRejected {
            code: 401, message, ..
        }) => {
            assert!(message.starts_with("authError"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    let (status, body) = raw(
        &sim,
        "videos",
        &[("part", "id"), ("id", "x")],
        Some("ya29.bogus"),
    )
    .await;
    assert_eq!((status, reason(&body)), (401, "authError"));
    assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
}

#[tokio::test]
async fn quota_runs_out_and_comes_back_after_pacific_midnight() {
    let options = SimOptions {
        youtube_daily_units: 6,
        ..SimOptions::default()
    };
    let sim = spawn(params(14), options).await;
    // The client believes it has plenty: the platform's quotaExceeded is what stops it.
    let generous = client(&sim, 20);
    let video = all_posts(&generous).await.remove(0).external_id;
    let mut calls = 0;
    let error = loop {
        calls += 1;
        match generous.list_comments(&video, None).await {
            Ok(_) => assert!(calls < 10, "quota never ran out"),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(error, PlatformError::Throttled { .. }),
        "{error:?}"
    );
    let account_id = account(&sim).id;
    assert_eq!(sim.youtube_units_used(&account_id), 6);
    // Marked spent: the next call is refused before it is sent.
    let served = sim.requests_served();
    assert!(matches!(
        generous.list_comments(&video, None).await,
        Err(PlatformError::Throttled { .. })
    ));
    assert_eq!(sim.requests_served(), served);
    let (status, body) = raw(
        &sim,
        "commentThreads",
        &[("part", "id"), ("videoId", &video)],
        Some(&account(&sim).token),
    )
    .await;
    assert_eq!((status, reason(&body)), (403, "quotaExceeded"));
    assert_eq!(body["error"]["errors"][0]["domain"], "youtube.quota");

    // A day later (simulated), the counter has reset.
    sim.advance(chrono::Duration::hours(24));
    assert_eq!(sim.youtube_units_used(&account_id), 0);
    let fresh = client(&sim, 20);
    fresh.list_comments(&video, None).await.unwrap();
    assert_eq!(fresh.quota().spent_today(), 1);
}

#[tokio::test]
async fn the_client_budget_stops_before_the_platform_does() {
    let sim = spawn(params(15), SimOptions::default()).await;
    let client = client_with(&sim, 20, QuotaMeter::new(3, CostTable::Flat));
    let video = all_posts(&client).await.remove(0).external_id; // 2 units
    client.list_comments(&video, None).await.unwrap(); // 1 unit (+ replies calls if any)
    let served = sim.requests_served();
    assert!(matches!(
        client.list_comments(&video, None).await,
        Err(PlatformError::Throttled { .. })
    ));
    assert_eq!(sim.requests_served(), served, "nothing sent over budget");
    assert!(client.quota().spent_today() <= 3);
}

#[tokio::test]
async fn per_part_costs_are_counted_on_both_sides() {
    let options = SimOptions {
        youtube_part_costs: true,
        ..SimOptions::default()
    };
    let sim = spawn(params(16), options).await;
    let client = client_with(&sim, 100, QuotaMeter::new(10_000, CostTable::PerPart));
    let video = all_posts(&client).await.remove(0).external_id;
    client.list_comments(&video, None).await.unwrap();
    let spent = client.quota().spent_today();
    assert_eq!(sim.youtube_units_used(&account(&sim).id), spent);
    assert!(spent >= 2 + 5, "{spent}");
}

#[tokio::test]
async fn a_bad_page_token_is_an_invalid_request() {
    let sim = spawn(params(17), SimOptions::default()).await;
    let client = client(&sim, 20);
    let video = all_posts(&client).await.remove(0).external_id;
    match client
        .list_comments(&video, Some("QURTSl9pM2t4bGZ0VjJzZkp4"))
        .await
    {
        Err(PlatformError::InvalidRequest { message }) => {
            assert!(message.starts_with("invalidPageToken"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn disabled_comments_and_deleted_videos_are_told_apart() {
    let sim = spawn(params(18), SimOptions::default()).await;
    let client = client(&sim, 20);
    let posts = all_posts(&client).await;
    let (closed, gone) = (&posts[0].external_id, &posts[1].external_id);
    sim.inject(Fault::DisableComments {
        media_id: closed.clone(),
    });
    sim.inject(Fault::DeleteMedia {
        media_id: gone.clone(),
    });
    match client.list_comments(closed, None).await {
        Err(PlatformError::CommentsDisabled { message }) => {
            assert!(message.contains("commentsDisabled"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    match client.list_comments(gone, None).await {
        Err(PlatformError::NotFound { message }) => {
            assert!(message.starts_with("videoNotFound"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    let after = all_posts(&client).await;
    assert_eq!(after.len(), 2, "the deleted video leaves the uploads");
    let closed_now = after.iter().find(|m| &m.external_id == closed).unwrap();
    assert_eq!(
        closed_now.comments_count, None,
        "no commentCount once comments are off"
    );
}

#[tokio::test]
async fn the_same_page_again_bug_does_not_loop_the_reply_walk() {
    let options = SimOptions {
        youtube_ignore_reply_page_token: true,
        ..SimOptions::default()
    };
    let sim = spawn(params(19), options).await;
    let client = client(&sim, 3);
    let video = all_posts(&client).await.remove(0).external_id;
    let walk = tokio::time::timeout(Duration::from_secs(20), all_comments(&client, &video)).await;
    let (comments, _) = walk.expect("the walk ends despite the repeated reply pages");
    let ids: HashSet<&str> = comments.iter().map(|c| c.external_id.as_str()).collect();
    assert_eq!(ids.len(), comments.len(), "no reply is returned twice");
}

#[tokio::test]
async fn transient_faults_are_retried_and_bursts_waited_out() {
    let sim = spawn(params(20), SimOptions::default()).await;
    let client = client(&sim, 20);
    sim.inject(Fault::ServerError {
        status: 503,
        requests: 1,
    });
    sim.inject(Fault::HtmlBody { requests: 1 });
    sim.inject(Fault::TruncatedBody { requests: 1 });
    let before = sim.requests_served();
    assert_eq!(all_posts(&client).await.len(), 3);
    assert!(
        sim.requests_served() - before >= 5,
        "three failures, then two calls"
    );
    sim.inject(Fault::Throttle {
        code: 4,
        duration: Duration::from_millis(150),
    });
    assert_eq!(all_posts(&client).await.len(), 3);
}

#[tokio::test]
async fn a_wrong_shape_or_a_silent_server_exhausts_the_retries() {
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route(
            "/wrong/commentThreads",
            get(|| async { r#"{"kind":"youtube#commentThreadListResponse"}"# }),
        )
        .route(
            "/slow/commentThreads",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "{}"
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let make = |path: &str, timeout: Duration| {
        YoutubeClient::new(
            &format!("http://{addr}/{path}"),
            SecretString::from("ya29.x".to_owned()),
            Identity {
                channel_id: "UCx".into(),
                brand_handles: vec![],
            },
            20,
            QuotaMeter::new(100, CostTable::Flat),
            HttpPolicy {
                timeout,
                max_attempts: 2,
                ..policy()
            },
        )
        .unwrap()
    };
    let wrong = make("wrong", Duration::from_secs(5));
    match wrong.list_comments("v", None).await {
        Err(PlatformError::Exhausted { attempts: 2, last }) => {
            assert!(last.contains("malformed"), "{last}")
        }
        other => panic!("{other:?}"),
    }
    let slow = make("slow", Duration::from_millis(200));
    let started = std::time::Instant::now();
    assert!(matches!(
        slow.list_comments("v", None).await,
        Err(PlatformError::Exhausted { attempts: 2, .. })
    ));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(slow.quota().spent_today(), 2, "each attempt costs a unit");
}

#[tokio::test]
async fn wire_shapes_follow_the_data_api() {
    let sim = spawn(params(21), SimOptions::default()).await;
    let owner = account(&sim);
    let client = client(&sim, 20);
    let video = all_posts(&client).await.remove(0).external_id;
    let token = Some(owner.token.as_str());

    let (status, body) = raw(
        &sim,
        "commentThreads",
        &[
            ("part", "snippet,replies"),
            ("videoId", &video),
            ("maxResults", "500"),
        ],
        token,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["kind"], "youtube#commentThreadListResponse");
    assert!(body["etag"].is_string());
    assert!(
        body.get("nextPageToken").is_none(),
        "the last page has no nextPageToken"
    );
    assert_eq!(
        body["pageInfo"]["resultsPerPage"], 100,
        "maxResults clamps to 100"
    );
    let first = &body["items"][0];
    assert_eq!(first["kind"], "youtube#commentThread");
    assert_eq!(first["snippet"]["topLevelComment"]["id"], first["id"]);
    assert_eq!(first["snippet"]["channelId"], owner.id.as_str());
    let published = first["snippet"]["topLevelComment"]["snippet"]["publishedAt"]
        .as_str()
        .unwrap();
    assert!(published.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(published).is_ok());
    let items = body["items"].as_array().unwrap();
    let times: Vec<&str> = items
        .iter()
        .map(|t| {
            t["snippet"]["topLevelComment"]["snippet"]["publishedAt"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "order=time is newest first"
    );
    for thread in items {
        let total = thread["snippet"]["totalReplyCount"].as_u64().unwrap();
        match thread.get("replies") {
            None => assert_eq!(total, 0, "no replies key when there are none"),
            Some(replies) => {
                let shown = replies["comments"].as_array().unwrap();
                assert!(shown.len() as u64 <= total.min(5));
                for reply in shown {
                    let id = reply["id"].as_str().unwrap();
                    assert!(id.starts_with(&format!("{}.", thread["id"].as_str().unwrap())));
                    assert_eq!(reply["snippet"]["parentId"], thread["id"]);
                }
            }
        }
    }
    let some_without = items.iter().any(|t| {
        let s = &t["snippet"]["topLevelComment"]["snippet"];
        s.get("textOriginal").is_none() || s.get("authorChannelId").is_none()
    });
    assert!(
        some_without,
        "some comments come without textOriginal or authorChannelId"
    );

    let (_, small) = raw(
        &sim,
        "commentThreads",
        &[("part", "id"), ("videoId", &video), ("maxResults", "0")],
        token,
    )
    .await;
    assert_eq!(
        small["items"].as_array().unwrap().len(),
        1,
        "maxResults clamps up to 1"
    );
    assert!(small["nextPageToken"].is_string());
    let (status, body) = raw(
        &sim,
        "commentThreads",
        &[("part", "snippet"), ("videoId", &video), ("id", "x")],
        token,
    )
    .await;
    assert_eq!((status, reason(&body)), (400, "incompatibleParameters"));
    let (status, body) = raw(&sim, "commentThreads", &[("part", "snippet")], token).await;
    assert_eq!((status, reason(&body)), (400, "missingRequiredParameter"));
    let (status, body) = raw(
        &sim,
        "commentThreads",
        &[("part", "snippet"), ("videoId", &video)],
        None,
    )
    .await;
    assert_eq!((status, reason(&body)), (403, "forbidden"));
    let (status, body) = raw(
        &sim,
        "commentThreads",
        &[
            ("part", "snippet"),
            ("videoId", &video),
            ("moderationStatus", "heldForReview"),
            ("key", "AIzaSyPublic"),
        ],
        None,
    )
    .await;
    assert_eq!(
        (status, reason(&body)),
        (403, "forbidden"),
        "held comments need owner auth"
    );
    let (status, body) = raw(
        &sim,
        "commentThreads",
        &[
            ("part", "snippet"),
            ("videoId", &video),
            ("moderationStatus", "heldForReview"),
        ],
        token,
    )
    .await;
    assert_eq!(status, 200);
    for held in body["items"].as_array().unwrap() {
        assert_eq!(
            held["snippet"]["topLevelComment"]["snippet"]["moderationStatus"],
            "heldForReview"
        );
    }
    let (status, body) = raw(
        &sim,
        "videos",
        &[("part", "statistics"), ("id", &video)],
        token,
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body["items"][0]["statistics"]["commentCount"].is_string(),
        "counts are strings"
    );
}
