//! The Instagram simulator seen from a client: reqwest against a server on 127.0.0.1:0.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use comment_triage::domain::Label;
use comment_triage::sim::{
    Fault, ScenarioParams, SimAccount, SimHandle, SimOptions, SimServer, TruthComment,
};
use serde_json::Value;

async fn spawn_sim(params: ScenarioParams, options: SimOptions) -> SimHandle {
    SimServer::start("127.0.0.1:0".parse().unwrap(), params, options)
        .await
        .expect("simulator starts")
}

async fn spawn_default() -> SimHandle {
    spawn_sim(ScenarioParams::default(), SimOptions::default()).await
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    fn error_code(&self) -> (u64, Option<u64>) {
        let body = self.json();
        let error = &body["error"];
        assert_eq!(error["type"], "OAuthException", "{body}");
        assert!(error["fbtrace_id"].as_str().is_some_and(|t| !t.is_empty()));
        (
            error["code"].as_u64().unwrap(),
            error["error_subcode"].as_u64(),
        )
    }

    fn usage(&self, account_id: &str) -> Option<Value> {
        let raw = self
            .headers
            .get("x-business-use-case-usage")?
            .to_str()
            .unwrap();
        let parsed: Value = serde_json::from_str(raw).unwrap();
        Some(parsed[account_id][0].clone())
    }
}

async fn get_url(url: &str) -> Answer {
    let response = reqwest::get(url).await.expect("request sent");
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        text: response.text().await.unwrap(),
    }
}

/// GET `{base}/{path}` with the query pairs and the account's token in the query.
async fn get(sim: &SimHandle, path: &str, query: &[(&str, &str)], token: &str) -> Answer {
    let mut url = reqwest::Url::parse(&format!("{}/{path}", sim.base_url())).unwrap();
    url.query_pairs_mut()
        .extend_pairs(query)
        .append_pair("access_token", token);
    get_url(url.as_str()).await
}

async fn first_media_id(sim: &SimHandle, account: &SimAccount) -> String {
    let media = get(
        sim,
        &format!("{}/media", account.id),
        &[("fields", "id,timestamp")],
        &account.token,
    )
    .await;
    let body = media.json();
    let data = body["data"].as_array().unwrap();
    data.last().expect("at least one media")["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn top_level_of(truth: &[TruthComment], media_id: &str) -> Vec<TruthComment> {
    truth
        .iter()
        .filter(|c| c.media_id == media_id && c.parent_id.is_none())
        .cloned()
        .collect()
}

fn is_graph_time(s: &str) -> bool {
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z").is_ok()
        && s.ends_with("+0000")
        && s.len() == 24
}

fn is_graph_id(s: &str) -> bool {
    (17..=18).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

#[tokio::test]
async fn same_seed_gives_same_ground_truth() {
    let a = spawn_default().await;
    let b = spawn_default().await;
    let c = spawn_sim(
        ScenarioParams {
            seed: 7,
            ..Default::default()
        },
        SimOptions::default(),
    )
    .await;
    for sim in [&a, &b, &c] {
        sim.advance(chrono::Duration::days(3));
    }
    assert_eq!(a.ground_truth(), b.ground_truth());
    assert_eq!(a.accounts(), b.accounts());
    assert_ne!(a.ground_truth(), c.ground_truth());
}

#[tokio::test]
async fn media_list_is_newest_first_and_only_published() {
    let sim = spawn_default().await;
    let account = &sim.accounts()[0];
    let fields = "id,caption,media_type,media_product_type,timestamp,permalink,comments_count";
    let before = get(
        &sim,
        &format!("{}/media", account.id),
        &[("fields", fields)],
        &account.token,
    )
    .await;
    assert_eq!(before.status, 200);
    assert_eq!(before.json()["data"].as_array().unwrap().len(), 1);
    sim.advance(chrono::Duration::days(5));
    let after = get(
        &sim,
        &format!("{}/media", account.id),
        &[("fields", fields)],
        &account.token,
    )
    .await;
    let body = after.json();
    let media = body["data"].as_array().unwrap();
    assert_eq!(media.len(), 4);
    let times: Vec<&str> = media
        .iter()
        .map(|m| m["timestamp"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|x, y| y.cmp(x));
    assert_eq!(times, sorted);
    for m in media {
        assert!(is_graph_id(m["id"].as_str().unwrap()));
        assert!(is_graph_time(m["timestamp"].as_str().unwrap()));
        assert!(
            m["permalink"]
                .as_str()
                .unwrap()
                .starts_with("https://www.instagram.com/")
        );
        assert!(m["comments_count"].as_u64().unwrap() > 0);
        assert!(["FEED", "REELS"].contains(&m["media_product_type"].as_str().unwrap()));
    }
    let sponsored = media
        .iter()
        .filter(|m| {
            let caption = m["caption"].as_str().unwrap();
            caption.contains("#ad") && caption.contains("@glowlab")
        })
        .count();
    assert!(
        sponsored >= 2 && sponsored < media.len(),
        "{sponsored} sponsored"
    );
    assert!(body.get("paging").is_some());
    assert!(body["paging"].get("next").is_none());
}

#[tokio::test]
async fn paging_never_skips_or_repeats_while_comments_arrive() {
    let sim = spawn_default().await;
    let account = sim.accounts()[0].clone();
    let media_id = first_media_id(&sim, &account).await;
    let expected: HashSet<String> = top_level_of(&sim.ground_truth(), &media_id)
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert!(
        expected.len() >= 25,
        "only {} comments at start",
        expected.len()
    );

    let mut seen = Vec::new();
    let mut times = Vec::new();
    let mut pages = 0;
    let mut answer = get(
        &sim,
        &format!("{media_id}/comments"),
        &[("fields", "id,timestamp"), ("limit", "8")],
        &account.token,
    )
    .await;
    loop {
        let body = answer.json();
        pages += 1;
        for item in body["data"].as_array().unwrap() {
            seen.push(item["id"].as_str().unwrap().to_owned());
            times.push(item["timestamp"].as_str().unwrap().to_owned());
        }
        // Later comments arrive between pages.
        sim.advance(chrono::Duration::hours(3));
        let Some(next) = body["paging"]["next"].as_str() else {
            break;
        };
        assert!(next.contains("access_token="), "next repeats the token");
        assert!(next.contains("fields=id%2Ctimestamp") && next.contains("limit=8"));
        answer = get_url(next).await;
        assert_eq!(answer.status, 200);
    }
    assert!(pages >= 3, "{pages} pages");
    let unique: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "an item came twice");
    assert_eq!(unique, expected, "an item was skipped");
    let mut sorted = times.clone();
    sorted.sort_by(|x, y| y.cmp(x));
    assert_eq!(times, sorted, "newest first");
    assert!(top_level_of(&sim.ground_truth(), &media_id).len() > expected.len());
}

#[tokio::test]
async fn fields_are_honoured_exactly_and_empty_edges_omitted() {
    let sim = spawn_default().await;
    let account = sim.accounts()[0].clone();
    let media_id = first_media_id(&sim, &account).await;
    let answer = get(
        &sim,
        &format!("{media_id}/comments"),
        &[("fields", "id,text")],
        &account.token,
    )
    .await;
    for item in answer.json()["data"].as_array().unwrap() {
        let keys: HashSet<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, HashSet::from(["id", "text"]));
    }
    let fields = "id,parent_id,from{id},replies{id,parent_id}";
    let answer = get(
        &sim,
        &format!("{media_id}/comments"),
        &[("fields", fields), ("limit", "50")],
        &account.token,
    )
    .await;
    let body = answer.json();
    let items = body["data"].as_array().unwrap();
    let mut with_replies = 0;
    for item in items {
        let object = item.as_object().unwrap();
        assert!(
            !object.contains_key("parent_id"),
            "top-level comments have no parent_id"
        );
        let from: HashSet<&str> = item["from"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(from, HashSet::from(["id"]));
        if let Some(replies) = object.get("replies") {
            with_replies += 1;
            let data = replies["data"].as_array().unwrap();
            assert!(!data.is_empty(), "an empty edge is omitted, not empty");
            for reply in data {
                assert_eq!(reply["parent_id"], item["id"]);
            }
        }
    }
    assert!(with_replies > 0 && with_replies < items.len());

    let default = get(&sim, &format!("{media_id}/comments"), &[], &account.token).await;
    let first = &default.json()["data"][0];
    let keys: HashSet<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, HashSet::from(["id", "text", "timestamp"]));
    assert!(is_graph_time(first["timestamp"].as_str().unwrap()));
    assert!(is_graph_id(first["id"].as_str().unwrap()));

    let unknown = get(
        &sim,
        &format!("{media_id}/comments"),
        &[("fields", "id,colour")],
        &account.token,
    )
    .await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.error_code(), (100, None));
    assert!(
        unknown.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nonexisting field (colour)")
    );
}

#[tokio::test]
async fn nested_replies_have_their_own_paging() {
    let sim = spawn_default().await;
    sim.advance(chrono::Duration::days(2));
    let account = sim.accounts()[0].clone();
    let truth = sim.ground_truth();
    let mut replies_of: HashMap<String, Vec<&TruthComment>> = HashMap::new();
    for c in truth.iter().filter(|c| c.account_id == account.id) {
        if let Some(parent) = &c.parent_id {
            replies_of.entry(parent.clone()).or_default().push(c);
        }
    }
    let (busy_id, busy_replies) = replies_of.iter().max_by_key(|(_, r)| r.len()).unwrap();
    assert!(busy_replies.len() > 5, "a busy thread exists");
    let media_id = truth
        .iter()
        .find(|c| &c.id == busy_id)
        .unwrap()
        .media_id
        .clone();

    let fields =
        "id,replies{id,text,timestamp,username,from{id,username},parent_id,hidden,like_count}";
    let mut url = format!(
        "{}/{media_id}/comments?fields={}&limit=50&access_token={}",
        sim.base_url(),
        fields,
        account.token
    );
    let mut thread = None;
    while thread.is_none() {
        let body = get_url(&url).await.json();
        thread = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == busy_id.as_str())
            .cloned();
        if thread.is_none() {
            url = body["paging"]["next"]
                .as_str()
                .expect("thread found before the end")
                .to_owned();
        }
    }
    let replies = &thread.unwrap()["replies"];
    assert_eq!(
        replies["data"].as_array().unwrap().len(),
        5,
        "first page capped at nested_replies_cap"
    );
    let mut seen: Vec<String> = Vec::new();
    let mut page = replies.clone();
    loop {
        for reply in page["data"].as_array().unwrap() {
            assert_eq!(reply["parent_id"], busy_id.as_str());
            assert!(is_graph_time(reply["timestamp"].as_str().unwrap()));
            assert!(reply["hidden"].is_boolean() && reply["like_count"].is_u64());
            let from = &reply["from"];
            assert_eq!(from["username"], reply["username"]);
            if from["id"] == account.id.as_str() {
                assert_eq!(reply["username"], account.username.as_str());
            }
            seen.push(reply["id"].as_str().unwrap().to_owned());
        }
        let Some(next) = page["paging"]["next"].as_str() else {
            break;
        };
        assert!(next.contains(&format!("/{busy_id}/replies?")) && next.contains("access_token="));
        page = get_url(next).await.json();
    }
    let expected: HashSet<String> = busy_replies.iter().map(|c| c.id.clone()).collect();
    assert_eq!(seen.len(), expected.len());
    assert_eq!(seen.into_iter().collect::<HashSet<_>>(), expected);

    let direct = get(
        &sim,
        &format!("{busy_id}/replies"),
        &[("fields", "id"), ("limit", "3")],
        &account.token,
    )
    .await;
    assert_eq!(direct.json()["data"].as_array().unwrap().len(), 3);

    // Field expansion takes a size: `.limit(n)` is honoured, up to the page cap.
    for (asked, served) in [(2, 2), (500, busy_replies.len().min(50))] {
        let body = get(
            &sim,
            &busy_id.to_string(),
            &[("fields", &format!("id,replies.limit({asked}){{id}}"))],
            &account.token,
        )
        .await
        .json();
        assert_eq!(
            body["replies"]["data"].as_array().unwrap().len(),
            served,
            "replies.limit({asked})"
        );
        assert_eq!(
            body["replies"]["paging"]["next"].is_string(),
            busy_replies.len() > served
        );
    }
}

#[tokio::test]
async fn multi_id_lookup_returns_objects_keyed_by_id() {
    let sim = spawn_default().await;
    let account = sim.accounts()[0].clone();
    let truth = sim.ground_truth();
    let mine: Vec<&TruthComment> = truth
        .iter()
        .filter(|c| c.account_id == account.id)
        .take(3)
        .collect();
    let ids: Vec<&str> = mine.iter().map(|c| c.id.as_str()).collect();
    let answer = get(
        &sim,
        "",
        &[("ids", &ids.join(",")), ("fields", "id,text,username")],
        &account.token,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let body = answer.json();
    assert_eq!(body.as_object().unwrap().len(), 3);
    for c in &mine {
        assert_eq!(body[c.id.as_str()]["text"], c.text.as_str());
        assert_eq!(body[c.id.as_str()]["username"], c.username.as_str());
    }

    let many: Vec<String> = (0..51).map(|i| format!("1784140000000{i:04}")).collect();
    let answer = get(&sim, "", &[("ids", &many.join(","))], &account.token).await;
    assert_eq!(answer.error_code(), (100, None));

    let other = sim.accounts()[1].clone();
    let foreign = truth.iter().find(|c| c.account_id == other.id).unwrap();
    let mixed = format!("{},{}", ids[0], foreign.id);
    let answer = get(&sim, "", &[("ids", &mixed)], &account.token).await;
    assert_eq!(answer.error_code(), (100, Some(33)));
}

#[tokio::test]
async fn token_errors_follow_meta() {
    let sim = spawn_default().await;
    let account = sim.accounts()[0].clone();
    let path = format!("{}/media", account.id);

    let unknown = get(&sim, &path, &[], "IGAAnot-a-real-token").await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.error_code(), (190, Some(467)));

    let missing = get_url(&format!("{}/{path}", sim.base_url())).await;
    assert_eq!(missing.error_code(), (104, None));

    let bearer = reqwest::Client::new()
        .get(format!("{}/{path}?fields=id", sim.base_url()))
        .bearer_auth(&account.token)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200);

    let other_version = get_url(&format!(
        "{}/v19.0/{path}?access_token={}",
        sim.base_url().trim_end_matches("/v23.0"),
        account.token
    ))
    .await;
    assert_eq!(other_version.status, 200);

    sim.inject(Fault::ExpireToken {
        account_id: account.id.clone(),
    });
    let expired = get(&sim, &path, &[], &account.token).await;
    assert_eq!(expired.status, 400);
    assert_eq!(expired.error_code(), (190, Some(463)));
    let message = expired.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.starts_with("Error validating access token: Session has expired on "),
        "{message}"
    );
    let second = sim.accounts()[1].clone();
    assert_eq!(
        get(&sim, &format!("{}/media", second.id), &[], &second.token)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn foreign_and_unpublished_objects_do_not_exist() {
    let sim = spawn_default().await;
    let [mine, other] = [sim.accounts()[0].clone(), sim.accounts()[1].clone()];
    let other_media = first_media_id(&sim, &other).await;
    let answer = get(&sim, &other_media, &[("fields", "id")], &mine.token).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.error_code(), (100, Some(33)));
    let message = answer.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.starts_with(&format!("Unsupported get request. Object with ID '{other_media}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.")));
    let comments = get(&sim, &format!("{other_media}/comments"), &[], &mine.token).await;
    assert_eq!(comments.error_code(), (100, Some(33)));
    let brand = sim.brand();
    assert_eq!(
        get(&sim, &other_media, &[], &brand.token)
            .await
            .error_code(),
        (100, Some(33))
    );
    let me = get(&sim, "me", &[("fields", "id,username")], &brand.token)
        .await
        .json();
    assert_eq!(me["username"], "glowlab");
}

#[tokio::test]
async fn limit_is_clamped_to_the_page_cap() {
    let options = SimOptions {
        page_cap: 7,
        ..Default::default()
    };
    let sim = spawn_sim(ScenarioParams::default(), options).await;
    let account = sim.accounts()[0].clone();
    let media_id = first_media_id(&sim, &account).await;
    let answer = get(
        &sim,
        &format!("{media_id}/comments"),
        &[("limit", "500")],
        &account.token,
    )
    .await;
    let body = answer.json();
    assert_eq!(body["data"].as_array().unwrap().len(), 7);
    assert!(body["paging"]["next"].is_string());
}

#[tokio::test]
async fn serve_runs_until_dropped() {
    let run = comment_triage::sim::serve(
        "127.0.0.1:0".parse().unwrap(),
        ScenarioParams::default(),
        SimOptions::default(),
        chrono::Duration::hours(1),
        3600.0,
    );
    let outcome = tokio::time::timeout(Duration::from_millis(600), run).await;
    assert!(outcome.is_err(), "serve keeps running: {outcome:?}");
}

#[tokio::test]
async fn garbage_cursor_is_an_invalid_parameter() {
    let sim = spawn_default().await;
    let account = sim.accounts()[0].clone();
    let media_id = first_media_id(&sim, &account).await;
    let answer = get(
        &sim,
        &format!("{media_id}/comments"),
        &[("after", "QVFIUmx1WTBpMGpJ")],
        &account.token,
    )
    .await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.error_code(), (100, None));
    let edge = get(&sim, &format!("{media_id}/likes"), &[], &account.token).await;
    assert_eq!(edge.error_code(), (100, None));
    let deep = get(
        &sim,
        &format!("{media_id}/comments/extra"),
        &[],
        &account.token,
    )
    .await;
    assert_eq!(deep.error_code(), (2500, None));
}

#[tokio::test]
async fn injected_throttle_refuses_every_call_with_usage_header() {
    let sim = spawn_default().await;
    let account = sim.accounts()[0].clone();
    let path = format!("{}/media", account.id);
    sim.inject(Fault::Throttle {
        code: 4,
        duration: Duration::from_millis(1500),
    });
    for _ in 0..2 {
        let answer = get(&sim, &path, &[], &account.token).await;
        assert_eq!(answer.status, 403);
        assert_eq!(answer.error_code(), (4, None));
        assert_eq!(answer.json()["error"]["is_transient"], true);
        let usage = answer
            .usage(&account.id)
            .expect("usage header while throttled");
        assert_eq!(usage["type"], "instagram");
        assert!(usage["estimated_time_to_regain_access"].as_u64().unwrap() >= 1);
    }
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(get(&sim, &path, &[], &account.token).await.status, 200);
}

#[tokio::test]
async fn call_budget_fills_the_usage_header_then_throttles() {
    let options = SimOptions {
        hourly_call_budget: 5,
        ..Default::default()
    };
    let sim = spawn_sim(ScenarioParams::default(), options).await;
    let account = sim.accounts()[0].clone();
    let path = format!("{}/media", account.id);
    let mut counts = Vec::new();
    for _ in 0..5 {
        let answer = get(&sim, &path, &[], &account.token).await;
        assert_eq!(answer.status, 200);
        counts.push(
            answer
                .usage(&account.id)
                .map(|u| u["call_count"].as_u64().unwrap()),
        );
    }
    assert_eq!(counts, [None, None, Some(60), Some(80), Some(100)]);
    for _ in 0..2 {
        let refused = get(&sim, &path, &[], &account.token).await;
        assert_eq!(refused.status, 400);
        assert_eq!(refused.error_code(), (80002, None));
        let usage = refused.usage(&account.id).unwrap();
        assert!(usage["call_count"].as_u64().unwrap() >= 100);
        assert!(usage["estimated_time_to_regain_access"].as_u64().unwrap() >= 1);
    }
    let other = sim.accounts()[1].clone();
    assert_eq!(
        get(&sim, &format!("{}/media", other.id), &[], &other.token)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn injected_server_errors_truncation_and_html() {
    let sim = spawn_default().await;
    let account = sim.accounts()[0].clone();
    let path = format!("{}/media", account.id);
    let served = sim.requests_served();

    sim.inject(Fault::ServerError {
        status: 503,
        requests: 2,
    });
    for _ in 0..2 {
        let answer = get(&sim, &path, &[], &account.token).await;
        assert_eq!(answer.status, 503);
        assert_eq!(answer.json()["error"]["is_transient"], true);
    }
    assert_eq!(get(&sim, &path, &[], &account.token).await.status, 200);

    sim.inject(Fault::TruncatedBody { requests: 1 });
    let truncated = get(&sim, &path, &[("fields", "id,caption")], &account.token).await;
    assert_eq!(truncated.status, 200);
    assert!(serde_json::from_str::<Value>(&truncated.text).is_err());
    assert!(truncated.text.starts_with("{\"data\""));

    sim.inject(Fault::HtmlBody { requests: 1 });
    let html = get(&sim, &path, &[], &account.token).await;
    assert_eq!(html.status, 502);
    assert!(
        html.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(html.text.contains("<html"));

    assert_eq!(get(&sim, &path, &[], &account.token).await.status, 200);
    assert_eq!(sim.requests_served() - served, 6);
}

#[tokio::test]
async fn random_faults_are_deterministic_from_the_seed() {
    let options = SimOptions {
        fault_rate: 0.4,
        ..Default::default()
    };
    let mut runs = Vec::new();
    for _ in 0..2 {
        let sim = spawn_sim(ScenarioParams::default(), options.clone()).await;
        let account = sim.accounts()[0].clone();
        let mut statuses = Vec::new();
        for _ in 0..40 {
            let answer = get(&sim, &format!("{}/media", account.id), &[], &account.token).await;
            let parsed = serde_json::from_str::<Value>(&answer.text).is_ok();
            statuses.push((answer.status, parsed));
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
    let faults = runs[0]
        .iter()
        .filter(|(status, parsed)| *status != 200 || !parsed)
        .count();
    assert!((5..=30).contains(&faults), "{faults} faults out of 40");
}

/// The first creator answer of each kind, checked by hand against the raw scenario.
#[tokio::test]
async fn answered_by_owner_at_appears_when_the_answer_does() {
    let late = spawn_default().await;
    late.advance(chrono::Duration::days(20));
    let truth = late.ground_truth();
    let account = late.accounts()[0].clone();
    let start_now = spawn_default().await.now();

    // A question whose first creator reply in its thread comes after the initial clock.
    let question = truth
        .iter()
        .filter(|c| {
            c.account_id == account.id
                && matches!(c.intended, Label::ProductQuestion(_))
                && c.parent_id.is_none()
        })
        .find(|q| {
            let first_owner_reply = truth
                .iter()
                .filter(|r| r.parent_id.as_deref() == Some(q.id.as_str()) && r.by_owner)
                .map(|r| r.timestamp)
                .min();
            q.answered_by_owner_at.is_some()
                && q.answered_by_owner_at == first_owner_reply
                && q.timestamp > start_now
        })
        .expect("a question answered in its thread")
        .clone();
    let answered_at = question.answered_by_owner_at.unwrap();
    let owner_reply = truth
        .iter()
        .find(|r| {
            r.parent_id.as_deref() == Some(question.id.as_str())
                && r.by_owner
                && r.timestamp == answered_at
        })
        .unwrap();
    assert_eq!(owner_reply.from_id, account.id);
    assert_eq!(owner_reply.username, account.username);

    let sim = spawn_default().await;
    sim.advance(answered_at - sim.now() - chrono::Duration::seconds(1));
    let before = sim
        .ground_truth()
        .into_iter()
        .find(|c| c.id == question.id)
        .expect("question visible");
    assert_eq!(before.answered_by_owner_at, None);
    sim.advance(chrono::Duration::seconds(1));
    let after = sim
        .ground_truth()
        .into_iter()
        .find(|c| c.id == question.id)
        .unwrap();
    assert_eq!(after.answered_by_owner_at, Some(answered_at));

    // The API shows the same answer: a reply from the account in the thread.
    let replies = get(
        &sim,
        &format!("{}/replies", question.id),
        &[("fields", "from{id,username},timestamp")],
        &account.token,
    )
    .await
    .json();
    let owner_times: Vec<DateTime<Utc>> = replies["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["from"]["id"] == account.id.as_str())
        .map(|r| {
            DateTime::parse_from_str(r["timestamp"].as_str().unwrap(), "%Y-%m-%dT%H:%M:%S%z")
                .unwrap()
                .with_timezone(&Utc)
        })
        .collect();
    assert_eq!(owner_times.iter().min(), Some(&answered_at));

    // An answer given as a top-level "@asker …" comment counts too; a brand reply never does.
    let mention = truth.iter().find(|q| {
        q.parent_id.is_none()
            && q.answered_by_owner_at.is_some()
            && !truth
                .iter()
                .any(|r| r.parent_id.as_deref() == Some(q.id.as_str()) && r.by_owner)
    });
    let mention = mention.expect("an answer by top-level mention");
    let answer = truth
        .iter()
        .find(|a| {
            a.by_owner
                && a.parent_id.is_none()
                && a.media_id == mention.media_id
                && Some(a.timestamp) == mention.answered_by_owner_at
        })
        .unwrap();
    assert!(
        answer
            .text
            .to_lowercase()
            .starts_with(&format!("@{}", mention.username.to_lowercase()))
    );
    for q in truth.iter().filter(|q| q.parent_id.is_none()) {
        let brand_only = truth
            .iter()
            .any(|r| r.parent_id.as_deref() == Some(q.id.as_str()) && r.by_brand)
            && !truth
                .iter()
                .any(|r| r.parent_id.as_deref() == Some(q.id.as_str()) && r.by_owner)
            && !truth.iter().any(|a| {
                a.by_owner && a.parent_id.is_none() && a.text.contains(&format!("@{}", q.username))
            });
        if brand_only {
            assert_eq!(q.answered_by_owner_at, None);
        }
    }
}

#[tokio::test]
async fn scenario_contains_hostile_and_multilingual_texts() {
    let sim = spawn_default().await;
    sim.advance(chrono::Duration::days(30));
    let truth = sim.ground_truth();
    let texts: Vec<&str> = truth.iter().map(|c| c.text.as_str()).collect();
    for needle in [
        "<script>alert(1)</script>",
        "=HYPERLINK(",
        "\u{200B}",
        "‍",
        "🇨🇦",
        "كم",
        "איפה",
    ] {
        assert!(
            texts.iter().any(|t| t.contains(needle)),
            "missing {needle:?}"
        );
    }
    assert!(texts.iter().any(|t| t.chars().count() == 2000));
    for needle in ["cuánto", "berapa", "quanto", "combien", "kostet"] {
        assert!(
            texts.iter().any(|t| t.to_lowercase().contains(needle)),
            "missing {needle}"
        );
    }
    assert!(truth.iter().any(|c| c.by_brand));
    let distinct_questions: HashSet<&str> = truth
        .iter()
        .filter(|c| c.intended.is_product_question())
        .map(|c| c.text.as_str())
        .collect();
    assert!(
        distinct_questions.len() > 80,
        "{} distinct product questions",
        distinct_questions.len()
    );
}
