//! The Facebook Pages client against the simulator's Graph routes for Pages, plus raw requests
//! for the wire details and a small hand-written server for shapes the simulator does not make
//! (an admin's personal profile, an empty page mid-list, the same reply page again).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use comment_triage::domain::{AuthorRole, Comment, Media, Platform, QuotaReading};
use comment_triage::platforms::facebook::{FacebookClient, Identity};
use comment_triage::platforms::http::HttpPolicy;
use comment_triage::platforms::{PlatformClient, PlatformError};
use comment_triage::sim::{Fault, ScenarioParams, SimAccount, SimHandle, SimOptions, SimServer};
use secrecy::SecretString;
use serde_json::{Value, json};

fn params(seed: u64) -> ScenarioParams {
    ScenarioParams {
        seed,
        accounts: 1,
        posts_per_account: 3,
        comments_per_post: 40,
        platforms: vec![Platform::Facebook],
        ..ScenarioParams::default()
    }
}

async fn start(params: ScenarioParams, options: SimOptions) -> SimHandle {
    SimServer::start("127.0.0.1:0".parse().unwrap(), params, options)
        .await
        .expect("simulator starts")
}

async fn spawn(params: ScenarioParams, options: SimOptions) -> SimHandle {
    let sim = start(params, options).await;
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
        max_throttle_wait: Duration::from_millis(50),
    }
}

fn account(sim: &SimHandle) -> SimAccount {
    let account = sim.accounts().remove(0);
    assert_eq!(account.platform, Platform::Facebook);
    account
}

fn client_at(base: &str, page_id: &str, token: &str, page_size: u32) -> FacebookClient {
    FacebookClient::new(
        base,
        SecretString::from(token.to_owned()),
        Identity {
            page_id: page_id.to_owned(),
            brand_handles: vec!["glowlab".into()],
        },
        page_size,
        policy(),
    )
    .unwrap()
}

fn client(sim: &SimHandle, page_size: u32) -> FacebookClient {
    let a = account(sim);
    client_at(
        &sim.base_url_for(Platform::Facebook),
        &a.id,
        &a.token,
        page_size,
    )
}

async fn all_posts(client: &FacebookClient) -> Vec<Media> {
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

async fn all_comments(client: &FacebookClient, post: &str) -> (Vec<Comment>, usize) {
    let mut comments = Vec::new();
    let mut pages = 0;
    let mut after = None;
    loop {
        let page = client.list_comments(post, after.as_deref()).await.unwrap();
        pages += 1;
        comments.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => return (comments, pages),
        }
    }
}

/// A GET with the token in the query string; the headers come back lower-cased.
async fn raw(
    sim: &SimHandle,
    path: &str,
    query: &[(&str, &str)],
    token: Option<&str>,
) -> (u16, HashMap<String, String>, Value) {
    let mut request = reqwest::Client::new()
        .get(format!("{}/{path}", sim.base_url_for(Platform::Facebook)))
        .query(query);
    if let Some(token) = token {
        request = request.query(&[("access_token", token)]);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let text = response.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

fn ids_of(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn paging_to_the_end_finds_every_comment_and_reply_with_page_answers() {
    // The server serves at most 7 a page, nested reply pages included, so that busy threads
    // need reply calls of their own.
    let options = SimOptions {
        page_cap: 7,
        ..SimOptions::default()
    };
    let sim = spawn(params(51), options).await;
    let page = account(&sim);
    let client = client(&sim, 7);
    let truth = sim.ground_truth();
    let posts = all_posts(&client).await;
    assert_eq!(posts.len(), 3);
    let mut seen: HashMap<String, Comment> = HashMap::new();
    let mut busy_threads = 0;
    for post in &posts {
        assert!(post.external_id.starts_with(&format!("{}_", page.id)));
        assert!(
            post.permalink
                .as_deref()
                .unwrap()
                .starts_with("https://www.facebook.com/")
        );
        assert!(!post.caption.is_empty());
        let expected = truth
            .iter()
            .filter(|c| c.media_id == post.external_id)
            .count();
        assert_eq!(
            post.comments_count,
            Some(expected as u64),
            "the posts listing counts every comment and reply of {}",
            post.external_id
        );
        let served = sim.requests_served();
        let (comments, pages) = all_comments(&client, &post.external_id).await;
        assert!(pages >= 3, "small pages need several calls, got {pages}");
        // The first 7 replies come embedded; only longer threads cost calls, 7 replies a page.
        let mut replies_per_thread: HashMap<&str, u64> = HashMap::new();
        for t in truth.iter().filter(|t| t.media_id == post.external_id) {
            if let Some(parent) = &t.parent_id {
                *replies_per_thread.entry(parent.as_str()).or_default() += 1;
            }
        }
        let reply_calls: u64 = replies_per_thread
            .values()
            .map(|&n| n.saturating_sub(7).div_ceil(7))
            .sum();
        busy_threads += replies_per_thread.values().filter(|&&n| n > 7).count();
        assert_eq!(
            sim.requests_served() - served,
            pages as u64 + reply_calls,
            "one call per page of threads, plus one per page of replies beyond the embedded ones"
        );
        let times: Vec<_> = comments
            .iter()
            .filter(|c| c.parent_id.is_none())
            .map(|c| c.created_at)
            .collect();
        assert!(
            times.windows(2).all(|w| w[0] >= w[1]),
            "reverse_chronological is newest first"
        );
        for c in comments {
            assert!(seen.insert(c.external_id.clone(), c).is_none(), "duplicate");
        }
    }
    let truth_ids: HashSet<&str> = truth.iter().map(|c| c.id.as_str()).collect();
    let seen_ids: HashSet<&str> = seen.keys().map(String::as_str).collect();
    assert_eq!(seen_ids, truth_ids);
    for t in &truth {
        let c = &seen[&t.id];
        assert_eq!(c.text, t.text, "text of {}", t.id);
        assert_eq!(c.parent_id, t.parent_id);
        assert_eq!(c.created_at, t.timestamp);
        if t.author_hidden {
            assert_eq!(c.author_id, None, "{} has no from", t.id);
            assert_eq!(c.author_handle, "");
            assert_eq!(c.role, AuthorRole::Audience);
            continue;
        }
        let expected = if t.by_owner {
            AuthorRole::Owner
        } else if t.by_brand {
            AuthorRole::Brand
        } else {
            AuthorRole::Audience
        };
        assert_eq!(c.role, expected, "role of {} by {}", t.id, t.username);
        assert_eq!(c.author_id.as_deref(), Some(t.from_id.as_str()));
        assert_eq!(c.author_handle, t.username);
    }
    assert!(truth.iter().any(|t| t.by_owner && t.parent_id.is_some()));
    assert!(
        busy_threads > 0,
        "some thread needs its own reply paging beyond the embedded 5"
    );
    assert!(
        truth.iter().any(|t| t.author_hidden),
        "some commenters hide their profile from the Page token"
    );
    assert!(
        seen.values().any(|c| c.hidden),
        "hidden comments are listed with is_hidden"
    );
}

#[tokio::test]
async fn fetch_threads_rereads_threads_and_leaves_out_deleted_ones() {
    let busy = ScenarioParams {
        comments_per_post: 120,
        ..params(52)
    };
    let sim = start(busy, SimOptions::default()).await;
    // Spam is deleted minutes to hours after it arrives: watch the world half an hour at a time.
    let mut ever: HashMap<String, Option<String>> = HashMap::new();
    for _ in 0..240 {
        sim.advance(chrono::Duration::minutes(30));
        for t in sim.ground_truth() {
            ever.insert(t.id, t.parent_id);
        }
    }
    let after = sim.ground_truth();
    let now_ids: HashSet<&str> = after.iter().map(|t| t.id.as_str()).collect();
    let deleted: Vec<String> = ever
        .iter()
        .filter(|(id, parent)| parent.is_none() && !now_ids.contains(id.as_str()))
        .map(|(id, _)| id.clone())
        .collect();
    assert!(!deleted.is_empty(), "some spam gets deleted");
    let client = client(&sim, 50);
    let tops: Vec<String> = after
        .iter()
        .filter(|t| t.parent_id.is_none())
        .take(60)
        .map(|t| t.id.clone())
        .collect();
    let mut ids = tops.clone();
    ids.push(deleted[0].clone());

    let comments = client.fetch_threads("", &ids).await.unwrap();
    let got_tops: HashSet<&str> = comments
        .iter()
        .filter(|c| c.parent_id.is_none())
        .map(|c| c.external_id.as_str())
        .collect();
    let wanted: HashSet<&str> = tops.iter().map(String::as_str).collect();
    assert_eq!(got_tops, wanted, "the deleted thread is left out");
    let replies = comments.iter().filter(|c| c.parent_id.is_some()).count();
    let expected = after
        .iter()
        .filter(|t| t.parent_id.as_deref().is_some_and(|p| wanted.contains(p)))
        .count();
    assert_eq!(replies, expected, "every reply of every thread");

    let (status, _, body) = raw(&sim, &deleted[0], &[], Some(&account(&sim).token)).await;
    assert_eq!(status, 400);
    assert_eq!(
        (&body["error"]["code"], &body["error"]["error_subcode"]),
        (&json!(100), &json!(33))
    );
}

#[tokio::test]
async fn a_stale_cursor_is_an_invalid_request() {
    let sim = spawn(params(53), SimOptions::default()).await;
    let client = client(&sim, 20);
    let post = all_posts(&client).await.remove(0).external_id;
    match client.list_comments(&post, Some("QVFIUmx1WTBpMGpJ")).await {
        Err(PlatformError::InvalidRequest { message }) => {
            assert!(message.contains("code 100"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    // A cursor of the other order is stale too.
    let token = account(&sim).token;
    let path = format!("{post}/comments");
    let (_, _, body) = raw(
        &sim,
        &path,
        &[("order", "chronological"), ("limit", "2")],
        Some(&token),
    )
    .await;
    let cursor = body["paging"]["cursors"]["after"].as_str().unwrap();
    let (status, _, body) = raw(
        &sim,
        &path,
        &[("order", "reverse_chronological"), ("after", cursor)],
        Some(&token),
    )
    .await;
    assert_eq!((status, body["error"]["code"].as_u64()), (400, Some(100)));
}

#[tokio::test]
async fn an_expired_token_is_rejected() {
    let sim = spawn(params(54), SimOptions::default()).await;
    let a = account(&sim);
    let client = client(&sim, 20);
    assert_eq!(all_posts(&client).await.len(), 3);
    sim.inject(Fault::ExpireToken {
        account_id: a.id.clone(),
    });
    match client.list_posts(None).await {
        Err(PlatformError::TokenRejected {
            code: 190,
            subcode: Some(463),
            message,
        }) => assert!(message.contains("Session has expired"), "{message}"),
        other => panic!("{other:?}"),
    }
    let stranger = client_at(&sim.base_url_for(Platform::Facebook), &a.id, "EAABnope", 20);
    assert!(matches!(
        stranger.list_posts(None).await,
        Err(PlatformError::TokenRejected {
            code: 190,
            subcode: Some(467),
            ..
        })
    ));
}

#[tokio::test]
async fn page_throttling_is_waited_out_or_reported_with_its_wait() {
    let sim = spawn(params(55), SimOptions::default()).await;
    let a = account(&sim);
    let client = client(&sim, 20);
    sim.inject(Fault::Throttle {
        code: 80001,
        duration: Duration::from_millis(120),
    });
    assert_eq!(
        all_posts(&client).await.len(),
        3,
        "a short throttle is waited out"
    );

    sim.inject(Fault::Throttle {
        code: 32,
        duration: Duration::from_secs(600),
    });
    match client.list_posts(None).await {
        Err(PlatformError::Throttled { wait }) => {
            assert!(wait >= Duration::from_secs(9 * 60), "{wait:?}")
        }
        other => panic!("{other:?}"),
    }
    let (status, headers, body) = raw(&sim, &format!("{}/posts", a.id), &[], Some(&a.token)).await;
    assert_eq!((status, body["error"]["code"].as_u64()), (400, Some(32)));
    let usage: Value = serde_json::from_str(&headers["x-business-use-case-usage"]).unwrap();
    let entry = &usage[a.id.as_str()][0];
    assert_eq!(entry["type"], "pages");
    assert!(entry["estimated_time_to_regain_access"].as_u64().unwrap() >= 9);
}

#[tokio::test]
async fn the_page_budget_runs_out_with_80001_and_usage_feeds_the_quota_reading() {
    let options = SimOptions {
        hourly_call_budget: 10,
        ..SimOptions::default()
    };
    let sim = spawn(params(56), options).await;
    let a = account(&sim);
    let client = client(&sim, 50);
    assert_eq!(client.quota_reading(), QuotaReading::Unknown);
    for _ in 0..3 {
        client.list_posts(None).await.unwrap();
    }
    assert_eq!(
        client.quota_reading(),
        QuotaReading::UsagePercent { percent: 30 },
        "3 of 10 calls"
    );
    for _ in 0..7 {
        let _ = raw(&sim, &format!("{}/posts", a.id), &[], Some(&a.token)).await;
    }
    let (status, headers, body) = raw(&sim, &format!("{}/posts", a.id), &[], Some(&a.token)).await;
    assert_eq!((status, body["error"]["code"].as_u64()), (400, Some(80001)));
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Page account")
    );
    assert!(headers["x-business-use-case-usage"].contains("\"pages\""));
    assert!(matches!(
        client.list_posts(None).await,
        Err(PlatformError::Throttled { .. })
    ));
    assert_eq!(
        client.quota_reading(),
        QuotaReading::UsagePercent { percent: 100 }
    );
}

#[tokio::test]
async fn transient_faults_are_retried() {
    let sim = spawn(params(57), SimOptions::default()).await;
    let client = client(&sim, 20);
    let post = all_posts(&client).await.remove(0).external_id;
    let (expected, _) = all_comments(&client, &post).await;
    for fault in [
        Fault::ServerError {
            status: 500,
            requests: 2,
        },
        Fault::ServerError {
            status: 503,
            requests: 1,
        },
        Fault::HtmlBody { requests: 1 },
        Fault::TruncatedBody { requests: 2 },
    ] {
        sim.inject(fault);
        let served = sim.requests_served();
        let (comments, _) = all_comments(&client, &post).await;
        assert_eq!(comments, expected);
        assert!(sim.requests_served() > served, "the faults were served");
    }
    sim.inject(Fault::ServerError {
        status: 502,
        requests: 10,
    });
    assert!(matches!(
        client.list_posts(None).await,
        Err(PlatformError::Exhausted { attempts: 4, .. })
    ));
}

#[tokio::test]
async fn wire_shapes_follow_the_graph_api_for_pages() {
    let options = SimOptions {
        page_cap: 20,
        ..SimOptions::default()
    };
    let sim = spawn(params(58), options).await;
    let a = account(&sim);
    let token = Some(a.token.as_str());
    let post = all_posts(&client(&sim, 20)).await.remove(0).external_id;
    let path = format!("{post}/comments");
    let fields =
        "id,message,created_time,from{id,name},comment_count,parent{id},is_hidden,permalink_url";

    // Envelope, summary, field selection, paging.next repeating every parameter and the token.
    let query = [
        ("filter", "toplevel"),
        ("order", "reverse_chronological"),
        ("summary", "true"),
        ("fields", fields),
        ("limit", "5"),
    ];
    let (status, _, first) = raw(&sim, &path, &query, token).await;
    assert_eq!(status, 200);
    let data = first["data"].as_array().unwrap();
    assert_eq!(data.len(), 5);
    let summary = &first["summary"];
    assert_eq!(summary["order"], "reverse_chronological");
    assert_eq!(summary["can_comment"], true);
    let total = summary["total_count"].as_u64().unwrap() as usize;
    assert!(total > 5);
    for c in data {
        let id = c["id"].as_str().unwrap();
        let (post_part, _) = id.split_once('_').unwrap();
        assert!(post.ends_with(&format!("_{post_part}")), "{id} on {post}");
        assert!(
            c.get("parent").is_none(),
            "top-level comments have no parent"
        );
        assert!(c.get("like_count").is_none(), "only requested fields");
        assert!(c["created_time"].as_str().unwrap().ends_with("+0000"));
        assert!(c["is_hidden"].is_boolean());
        assert!(c["comment_count"].is_u64());
        if let Some(from) = c.get("from") {
            assert_eq!(from.as_object().unwrap().len(), 2);
        }
    }
    let next = first["paging"]["next"].as_str().unwrap();
    for part in [
        "filter=toplevel",
        "order=reverse_chronological",
        "summary=true",
        "limit=5",
        "fields=id%2Cmessage",
        "after=",
    ] {
        assert!(next.contains(part), "{part} missing from next");
    }
    assert!(next.contains(&format!("access_token={}", a.token)));
    assert!(first["paging"]["cursors"]["before"].is_string());

    // Walk to the end: the last page keeps its cursors but has no next.
    let mut after = first["paging"]["cursors"]["after"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut listed = ids_of(&first);
    loop {
        let mut q = query.to_vec();
        q.push(("after", &after));
        let (_, _, page) = raw(&sim, &path, &q, token).await;
        listed.extend(ids_of(&page));
        match page["paging"].get("next") {
            Some(_) => {
                after = page["paging"]["cursors"]["after"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }
            None => {
                assert!(page["paging"]["cursors"]["after"].is_string());
                break;
            }
        }
    }
    assert_eq!(listed.len(), total);

    // Oldest first by default (Graph's `chronological`), the same comments in reverse.
    let (_, _, chrono) = raw(&sim, &path, &[("limit", "100"), ("summary", "true")], token).await;
    assert_eq!(chrono["summary"]["order"], "chronological");
    let oldest_first = ids_of(&chrono);
    assert_eq!(oldest_first.len(), 20, "limit clamps to the page cap");
    assert!(chrono["paging"]["next"].is_string());
    let (_, _, newest) = raw(
        &sim,
        &path,
        &[("limit", "100"), ("order", "reverse_chronological")],
        token,
    )
    .await;
    assert_eq!(oldest_first[0], *listed.last().unwrap(), "oldest first");
    assert_eq!(ids_of(&newest)[0], listed[0], "newest first");
    let default_fields = chrono["data"][0].as_object().unwrap();
    assert!(default_fields.contains_key("message") && default_fields.contains_key("created_time"));

    // filter=stream: every comment, flat, replies with their parent.
    let (_, _, stream) = raw(
        &sim,
        &path,
        &[
            ("filter", "stream"),
            ("fields", "id,parent{id}"),
            ("summary", "true"),
            ("limit", "20"),
        ],
        token,
    )
    .await;
    let all_on_post = sim
        .ground_truth()
        .into_iter()
        .filter(|t| t.media_id == post)
        .count();
    assert_eq!(stream["summary"]["total_count"], all_on_post);
    let replies: Vec<&Value> = stream["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c.get("parent").is_some())
        .collect();
    assert!(!replies.is_empty(), "stream mixes replies in");
    assert_eq!(replies[0]["parent"].as_object().unwrap().len(), 1);

    // limit=0 answers the summary alone; a bad filter is a parameter error.
    let (_, _, counts) = raw(&sim, &path, &[("limit", "0"), ("summary", "true")], token).await;
    assert_eq!(counts["data"], json!([]));
    assert!(counts.get("paging").is_none());
    assert_eq!(counts["summary"]["total_count"], total);
    let (status, _, bad) = raw(&sim, &path, &[("filter", "everything")], token).await;
    assert_eq!((status, bad["error"]["code"].as_u64()), (400, Some(100)));

    // Replies of a thread, and the Page's own replies come from the Page.
    let truth = sim.ground_truth();
    let owner_reply = truth
        .iter()
        .find(|t| t.by_owner && t.parent_id.is_some())
        .unwrap();
    let thread = owner_reply.parent_id.as_deref().unwrap();
    let (_, _, replies) = raw(
        &sim,
        &format!("{thread}/comments"),
        &[("fields", "id,from{id,name},parent{id}")],
        token,
    )
    .await;
    let mine = replies["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == owner_reply.id.as_str())
        .unwrap();
    assert_eq!(mine["from"]["id"], a.id.as_str());
    assert_eq!(mine["from"]["name"], a.username.as_str());
    assert_eq!(mine["parent"]["id"], thread);

    // `from` is really absent for hidden authors.
    let anonymous = truth.iter().find(|t| t.author_hidden).unwrap();
    let (_, _, node) = raw(&sim, &anonymous.id, &[("fields", "id,from,message")], token).await;
    assert_eq!(node["id"], anonymous.id.as_str());
    assert!(node.get("from").is_none());

    // A post's comment count through the nested edge, without the comments themselves.
    let (_, _, posts) = raw(
        &sim,
        &format!("{}/posts", a.id),
        &[(
            "fields",
            "id,comments.filter(stream).limit(0).summary(true)",
        )],
        token,
    )
    .await;
    let counted = posts["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == post.as_str())
        .unwrap();
    assert_eq!(counted["comments"]["data"], json!([]));
    assert_eq!(counted["comments"]["summary"]["total_count"], all_on_post);

    // The Page node, by id and as `me`; a Bearer header works like the query parameter.
    let response = reqwest::Client::new()
        .get(format!("{}/me", sim.base_url_for(Platform::Facebook)))
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap();
    let me: Value = response.json().await.unwrap();
    assert_eq!(me["id"], a.id.as_str());
    assert_eq!(me["name"], a.username.as_str());
}

/// A Graph-like server for the shapes the simulator never makes.
async fn hand_written_graph() -> String {
    use axum::extract::{Path, Query};
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/v23.0/{id}/comments",
        get(
            |Path(id): Path<String>, Query(q): Query<HashMap<String, String>>| async move {
                let page = |data: Value, after: &str, next: bool| {
                    let mut paging = json!({"cursors": {"before": "b", "after": after}});
                    if next {
                        paging["next"] = json!("https://graph.facebook.com/v23.0/x?after=1");
                    }
                    axum::Json(json!({"data": data, "paging": paging}))
                };
                let t = "2024-05-02T08:21:40+0000";
                match (id.as_str(), q.get("after").map(String::as_str)) {
                    // An empty page with a next page behind it.
                    ("104_788", None) => page(json!([]), "p2", true),
                    ("104_788", Some("p2")) => page(
                        json!([{"id": "788_1", "message": "link?", "created_time": t,
                                "from": {"id": "555", "name": "Dana"}, "comment_count": 3,
                                "is_hidden": false}]),
                        "p2end",
                        false,
                    ),
                    // Replies: the Page, an admin's own profile, an unknown author; and then the
                    // same page forever.
                    ("788_1", _) => page(
                        json!([
                            {"id": "788_2", "message": "DM us!", "created_time": t,
                             "from": {"id": "104", "name": "Glow Page"}, "parent": {"id": "788_1"}},
                            {"id": "788_3", "message": "it's in bio", "created_time": t,
                             "from": {"id": "999", "name": "Glow Page"}, "parent": {"id": "788_1"}},
                            {"id": "788_4", "message": "same q", "created_time": t,
                             "parent": {"id": "788_1"}}
                        ]),
                        "again",
                        true,
                    ),
                    _ => page(json!([]), "x", false),
                }
            },
        ),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/v23.0")
}

#[tokio::test]
async fn empty_pages_admin_profiles_missing_authors_and_repeated_reply_pages() {
    let base = hand_written_graph().await;
    let client = client_at(&base, "104", "EAABtest", 25);
    let first = client.list_comments("104_788", None).await.unwrap();
    assert!(first.items.is_empty());
    assert_eq!(
        first.next.as_deref(),
        Some("p2"),
        "an empty page with next does not end the list"
    );
    let second = tokio::time::timeout(
        Duration::from_secs(10),
        client.list_comments("104_788", Some("p2")),
    )
    .await
    .expect("the repeated reply page does not loop")
    .unwrap();
    assert_eq!(second.next, None);
    let roles: Vec<(&str, AuthorRole, Option<&str>)> = second
        .items
        .iter()
        .map(|c| (c.external_id.as_str(), c.role, c.parent_id.as_deref()))
        .collect();
    assert_eq!(
        roles,
        [
            ("788_1", AuthorRole::Audience, None),
            ("788_2", AuthorRole::Owner, Some("788_1")),
            ("788_3", AuthorRole::Audience, Some("788_1")),
            ("788_4", AuthorRole::Audience, Some("788_1")),
        ],
        "only the Page id is the owner; each reply once"
    );
    assert_eq!(second.items[3].author_id, None);
}

#[tokio::test]
async fn a_deleted_post_leaves_the_listing_and_is_not_found() {
    let sim = spawn(params(59), SimOptions::default()).await;
    let client = client(&sim, 20);
    let posts = all_posts(&client).await;
    let gone = posts[1].external_id.clone();
    sim.inject(Fault::DeleteMedia {
        media_id: gone.clone(),
    });
    match client.list_comments(&gone, None).await {
        Err(PlatformError::NotFound { message }) => {
            assert!(message.contains("does not exist"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    let left: Vec<String> = all_posts(&client)
        .await
        .into_iter()
        .map(|p| p.external_id)
        .collect();
    assert_eq!(left.len(), 2);
    assert!(!left.contains(&gone));
}

#[tokio::test]
async fn deleted_comments_leave_short_and_empty_pages_that_do_not_end_the_list() {
    let busy = ScenarioParams {
        comments_per_post: 120,
        ..params(60)
    };
    let sim = spawn(busy, SimOptions::default()).await;
    let a = account(&sim);
    let client = client(&sim, 3);
    let truth = sim.ground_truth();
    let mut short_pages = 0;
    for post in all_posts(&client).await {
        let mut after: Option<String> = None;
        let mut tops = Vec::new();
        loop {
            let page = client
                .list_comments(&post.external_id, after.as_deref())
                .await
                .unwrap();
            let on_page: Vec<String> = page
                .items
                .iter()
                .filter(|c| c.parent_id.is_none())
                .map(|c| c.external_id.clone())
                .collect();
            match page.next {
                Some(next) => {
                    short_pages += usize::from(on_page.len() < 3);
                    after = Some(next);
                }
                None => {
                    tops.extend(on_page);
                    break;
                }
            }
            tops.extend(on_page);
        }
        let expected: HashSet<&str> = truth
            .iter()
            .filter(|t| t.media_id == post.external_id && t.parent_id.is_none())
            .map(|t| t.id.as_str())
            .collect();
        let got: HashSet<&str> = tops.iter().map(String::as_str).collect();
        assert_eq!(
            got, expected,
            "every top-level comment of {}",
            post.external_id
        );
        assert_eq!(got.len(), tops.len(), "no comment twice");
    }
    assert!(
        short_pages > 0,
        "deleted comments make short pages mid-list"
    );

    // One comment a page: a deleted one's slot is an empty page that still has a next page.
    let mut empty_with_next = 0;
    for post in sim.posts() {
        let path = format!("{}/comments", post.id);
        let mut query = vec![
            ("order".to_owned(), "reverse_chronological".to_owned()),
            ("limit".to_owned(), "1".to_owned()),
        ];
        loop {
            let q: Vec<(&str, &str)> = query
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let (_, _, page) = raw(&sim, &path, &q, Some(&a.token)).await;
            let Some(next) = page["paging"].get("next") else {
                break;
            };
            assert!(next.is_string());
            empty_with_next += usize::from(page["data"].as_array().unwrap().is_empty());
            let after = page["paging"]["cursors"]["after"]
                .as_str()
                .unwrap()
                .to_owned();
            query.retain(|(k, _)| k != "after");
            query.push(("after".to_owned(), after));
        }
    }
    assert!(empty_with_next > 0, "an empty page mid-list keeps its next");
}
