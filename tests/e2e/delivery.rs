//! Digest delivery through real local receivers: an SMTP server (mailin-embedded) and HTTP
//! receivers for Slack, Discord and the signed webhook that check payloads and fail on demand.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use chrono::Utc;
use comment_triage::config::Settings;
use comment_triage::digest::Dispatcher;
use comment_triage::digest::deliver::Channels;
use comment_triage::domain::{
    AuthorRole, Category, Comment, Label, Media, Platform, RuleId, Verdict,
};
use comment_triage::store::{ClassifiedComment, Store, WalkProgress};
use hmac::{KeyInit, Mac};

const HOSTILE: &str = "<script>alert('x')</script> =HYPERLINK(\"http://evil.example\",\"click\") كم السعر؟ 👨‍👩‍👧‍👦 @everyone how much??";

/// A store with one campaign post and two open product questions, one of them hostile.
async fn seeded_store(path: &Path) -> Store {
    let store = Store::open(path).await.unwrap();
    let account = store
        .upsert_account(Platform::Instagram, "1784", "jess", "jess")
        .await
        .unwrap();
    let now = Utc::now();
    let media = Media {
        external_id: "1803".into(),
        caption: "New serum #ad".into(),
        permalink: Some("https://www.instagram.com/p/C6abc/".into()),
        created_at: now - chrono::Duration::hours(30),
        comments_count: Some(3),
    };
    let posts = store
        .upsert_posts(account, &[(media, vec!["spring".into()])])
        .await
        .unwrap();
    let question = |id: &str, text: &str, hours: i64| ClassifiedComment {
        comment: Comment {
            external_id: id.into(),
            parent_id: None,
            author_id: None,
            author_handle: format!("fan{id}"),
            text: text.into(),
            created_at: now - chrono::Duration::hours(hours),
            role: AuthorRole::Audience,
            hidden: false,
        },
        verdict: Verdict {
            label: Label::ProductQuestion(Category::Price),
            rule: RuleId::new("en.price.ask"),
            overruled: None,
        },
    };
    // Not a question, but a broken code: it must lead the digest the same day.
    let mut broken_code = question("3", "ugh code GLOW15 doesn't work at checkout!!", 2);
    broken_code.verdict.label = Label::NotQuestion;
    store
        .save_comment_page(
            posts[0],
            &[
                question("1", HOSTILE, 26),
                question("2", "does it ship to Canada?", 3),
                broken_code,
            ],
            &WalkProgress::Complete {
                watermark: Some(now),
                read_every_page: false,
            },
            now,
        )
        .await
        .unwrap();
    store
}

fn settings(dir: &Path, smtp_port: u16, extra_channels: &str) -> Arc<Settings> {
    let text = format!(
        r#"
[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
from = "comment-triage <digest@example.com>"

[[accounts]]
name = "jess"
platform = "instagram"
account_id = "1784"
owner_handle = "jess"
api_base_url = "http://127.0.0.1:1/v23.0"
token_env = "UNUSED"

[[campaigns]]
name = "spring"
brand = "GlowLab"
accounts = ["jess"]

discount_codes = ["GLOW15"]

[campaigns.answer_templates]
price = "Hi @{{author}}! It's $29"

[[recipients]]
name = "jess"
role = "influencer"
accounts = ["jess"]
timezone = "Europe/Madrid"
send_at = ["00:00", "06:00", "12:00", "18:00"]
{extra_channels}
"#
    );
    let path = dir.join("triage.toml");
    std::fs::write(&path, text).unwrap();
    Arc::new(Settings::load(&path).unwrap())
}

/// Messages received by the SMTP server, raw.
#[derive(Clone, Default)]
struct Mailbox(Arc<Mutex<Vec<Vec<u8>>>>, Arc<Mutex<Vec<u8>>>);

impl mailin_embedded::Handler for Mailbox {
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.1.lock().unwrap().extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        let message = std::mem::take(&mut *self.1.lock().unwrap());
        self.0.lock().unwrap().push(message);
        mailin_embedded::response::OK
    }
}

/// Starts a real SMTP server on 127.0.0.1:0 in a thread; returns its port and mailbox.
fn start_smtp() -> (u16, Mailbox) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mailbox = Mailbox::default();
    let mut server = mailin_embedded::Server::new(mailbox.clone());
    server.with_name("test.local").with_tcp_listener(listener);
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    (port, mailbox)
}

/// `(path, headers, body)` of one accepted request.
type Accepted = (String, HashMap<String, String>, Vec<u8>);

#[derive(Clone, Default)]
struct Receiver {
    /// Every request answered 2xx.
    accepted: Arc<Mutex<Vec<Accepted>>>,
    /// Answer this many requests with 429 before accepting.
    refuse: Arc<Mutex<u32>>,
    /// Hold the first request this long before accepting it (a send the client may die during).
    hold_first: Arc<Mutex<Option<Duration>>>,
}

async fn receive(
    State(receiver): State<Receiver>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> impl IntoResponse {
    {
        let mut refuse = receiver.refuse.lock().unwrap();
        if *refuse > 0 {
            *refuse -= 1;
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "0")],
                "{\"retry_after\": 0.0}",
            )
                .into_response();
        }
    }
    let hold = receiver.hold_first.lock().unwrap().take();
    if let Some(hold) = hold {
        tokio::time::sleep(hold).await;
    }
    let headers = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    receiver
        .accepted
        .lock()
        .unwrap()
        .push((uri.path().to_owned(), headers, body.to_vec()));
    (StatusCode::OK, "ok").into_response()
}

async fn start_receiver() -> (String, Receiver) {
    let receiver = Receiver::default();
    let app = axum::Router::new()
        .fallback(receive)
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, receiver)
}

fn dispatcher(
    settings: &Arc<Settings>,
    store: &Store,
    secrets: HashMap<String, String>,
) -> Dispatcher {
    let channels = Channels::new(
        settings.smtp.clone(),
        Arc::new(move |name| secrets.get(name).cloned()),
    )
    .unwrap();
    Dispatcher::new(settings.clone(), store.clone(), channels)
        .with_retry_backoff(Duration::from_millis(1), Duration::from_millis(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_digest_reaches_a_real_smtp_server_with_both_parts_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded_store(&dir.path().join("t.db")).await;
    let (port, mailbox) = start_smtp();
    let settings = settings(
        dir.path(),
        port,
        "\n[[recipients.channels]]\ntype = \"email\"\nto = \"jess@example.com\"\n",
    );
    let report = dispatcher(&settings, &store, HashMap::new())
        .send_now(settings.recipient("jess").unwrap(), Utc::now(), false)
        .await
        .unwrap();
    assert_eq!(report.sent.len(), 1, "{report:?}");

    let raw = mailbox.0.lock().unwrap().clone();
    assert_eq!(raw.len(), 1);
    let message = mail_parser::MessageParser::default()
        .parse(&raw[0])
        .unwrap();
    assert_eq!(
        message.subject(),
        Some("2 open product questions (2 new) · comment-triage")
    );
    assert!(message.message_id().unwrap().ends_with("@comment-triage"));
    assert_eq!(
        message.from().unwrap().first().unwrap().address(),
        Some("digest@example.com")
    );
    let text = message.body_text(0).unwrap();
    let html = message.body_html(0).unwrap();
    assert!(
        text.contains("2 open product questions on 1 post"),
        "{text}"
    );
    assert!(
        text.contains("Suggested reply: Hi @fan1! It's $29"),
        "{text}"
    );
    assert!(
        text.contains("Discount code reported broken") && text.contains("@fan3 · GLOW15"),
        "a broken code leads the digest: {text}"
    );
    assert!(text.contains("كم السعر؟") && text.contains("👨‍👩‍👧‍👦"), "{text}");
    assert!(
        html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains("=HYPERLINK(&quot;http://evil.example&quot;"),
        "{html}"
    );
    assert!(html.contains("https://www.instagram.com/p/C6abc/c/1/"));

    // The same period is not sent twice.
    let again = dispatcher(&settings, &store, HashMap::new())
        .send_now(settings.recipient("jess").unwrap(), Utc::now(), false)
        .await
        .unwrap();
    assert!(
        again.sent.is_empty() && again.rendered.is_empty(),
        "{again:?}"
    );
    assert_eq!(mailbox.0.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_discord_and_webhook_get_valid_payloads_and_survive_rate_limits() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded_store(&dir.path().join("t.db")).await;
    let (url, receiver) = start_receiver().await;
    *receiver.refuse.lock().unwrap() = 3; // every channel is rate limited once
    let settings = settings(
        dir.path(),
        1,
        &format!(
            "\n[[recipients.channels]]\ntype = \"slack\"\nwebhook_url_env = \"SLACK_URL\"\n\n[[recipients.channels]]\ntype = \"discord\"\nwebhook_url_env = \"DISCORD_URL\"\n\n[[recipients.channels]]\ntype = \"webhook\"\nurl = \"{url}/hook\"\nsecret_env = \"HOOK_SECRET\"\n"
        ),
    );
    let secrets = HashMap::from([
        (
            "SLACK_URL".to_string(),
            format!("{url}/slack/T000/B000/XXXX"),
        ),
        (
            "DISCORD_URL".to_string(),
            format!("{url}/discord/123/token"),
        ),
        ("HOOK_SECRET".to_string(), "s3cret".to_string()),
    ]);
    let dispatcher = dispatcher(&settings, &store, secrets);
    let now = Utc::now();
    let first = dispatcher.run_once(now).await.unwrap();
    assert_eq!(first.rendered.len(), 1);
    assert_eq!(first.failed.len(), 3, "{first:?}");
    assert!(first.failed.iter().all(|(_, _, e)| e.contains("429")));
    assert!(receiver.accepted.lock().unwrap().is_empty());
    let second = dispatcher
        .run_once(now + chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(second.sent.len(), 3, "{second:?}");
    assert!(second.rendered.is_empty(), "the period is rendered once");
    let third = dispatcher
        .run_once(now + chrono::Duration::seconds(2))
        .await
        .unwrap();
    assert!(third.sent.is_empty() && third.failed.is_empty());

    let accepted = receiver.accepted.lock().unwrap().clone();
    assert_eq!(accepted.len(), 3);
    let by_path = |prefix: &str| {
        accepted
            .iter()
            .find(|(p, _, _)| p.starts_with(prefix))
            .unwrap()
            .clone()
    };

    let (_, _, slack) = by_path("/slack");
    let slack: serde_json::Value = serde_json::from_slice(&slack).unwrap();
    let blocks = slack["blocks"].as_array().unwrap();
    assert!(!blocks.is_empty() && blocks.len() <= 50);
    assert_eq!(blocks[0]["type"], "header");
    assert!(
        slack["text"]
            .as_str()
            .unwrap()
            .contains("2 open product questions")
    );
    let slack_text = slack.to_string();
    assert!(slack_text.contains("&lt;script&gt;") && !slack_text.contains("<script>"));

    let (_, _, discord) = by_path("/discord");
    let discord: serde_json::Value = serde_json::from_slice(&discord).unwrap();
    assert!(discord["embeds"].as_array().unwrap().len() <= 10);
    assert_eq!(
        discord["allowed_mentions"]["parse"],
        serde_json::json!([]),
        "@everyone in a comment must not ping"
    );

    let (_, headers, body) = by_path("/hook");
    let signature = &headers["x-triage-signature"];
    let (t, v1) = signature.split_once(",v1=").unwrap();
    let t: i64 = t.trim_start_matches("t=").parse().unwrap();
    assert!((Utc::now().timestamp() - t).abs() < 60, "a fresh timestamp");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(&body);
    mac.verify_slice(&hex::decode(v1).unwrap())
        .expect("the signature verifies over the raw body");
    assert!(headers["idempotency-key"].starts_with("triage-"));
    let payload: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(payload["schema_version"], 1);
    assert_eq!(payload["summary"]["open"], 2);
    assert_eq!(
        payload["posts"][0]["questions"][0]["text"], HOSTILE,
        "JSON carries the text as written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_that_keeps_failing_is_kept_pending_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded_store(&dir.path().join("t.db")).await;
    let (url, receiver) = start_receiver().await;
    *receiver.refuse.lock().unwrap() = 1_000;
    let settings = settings(
        dir.path(),
        1,
        &format!("\n[[recipients.channels]]\ntype = \"webhook\"\nurl = \"{url}/hook\"\n"),
    );
    let dispatcher = dispatcher(&settings, &store, HashMap::new());
    let now = Utc::now();
    for i in 0..4 {
        dispatcher
            .run_once(now + chrono::Duration::seconds(i))
            .await
            .unwrap();
    }
    let deliveries = store.deliveries_of("jess").await.unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].2, "pending", "never dropped");
    let failing = store.failing_deliveries("jess", 3).await.unwrap();
    assert_eq!(failing.len(), 1);
    let digest = comment_triage::digest::compose_digest(
        &store,
        &settings,
        settings.recipient("jess").unwrap(),
        now,
    )
    .await
    .unwrap();
    let text = comment_triage::digest::render_digest(&digest, comment_triage::digest::Format::Text);
    assert!(
        text.contains("keeps failing (4 attempts)"),
        "the digest reports it: {text}"
    );
}

/// `triage digest send` is SIGKILLed while the webhook receiver holds its request (the digest is
/// rendered, the send is in flight); the restart sends the stored digest, and a further run sends
/// nothing: one delivery per period, deduplicable by its idempotency key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_killed_in_flight_is_delivered_exactly_once_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded_store(&dir.path().join("triage.db")).await;
    store.close().await;
    let (url, receiver) = start_receiver().await;
    *receiver.hold_first.lock().unwrap() = Some(Duration::from_secs(5));
    let config = dir.path().join("triage.toml");
    let settings_text =
        format!("\n[[recipients.channels]]\ntype = \"webhook\"\nurl = \"{url}/hook\"\n");
    settings(dir.path(), 1, &settings_text);
    std::fs::write(
        &config,
        std::fs::read_to_string(&config).unwrap().replacen(
            "[smtp]",
            "database = \"triage.db\"\n\n[smtp]",
            1,
        ),
    )
    .unwrap();
    let send = {
        let config = config.clone();
        move |kill_after: Option<Duration>| {
            let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_triage"))
                .arg("--config")
                .arg(&config)
                .args(["digest", "send", "--recipient", "jess"])
                .env("RUST_LOG", "warn")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            match kill_after {
                Some(after) => {
                    std::thread::sleep(after);
                    child.kill().unwrap();
                    child.wait().unwrap()
                }
                None => child.wait().unwrap(),
            }
        }
    };
    let first = send.clone();
    tokio::task::spawn_blocking(move || first(Some(Duration::from_millis(1500))))
        .await
        .unwrap();
    assert!(
        receiver.accepted.lock().unwrap().is_empty(),
        "the held send never completed"
    );
    let second = send.clone();
    let status = tokio::task::spawn_blocking(move || second(None))
        .await
        .unwrap();
    assert!(status.success());
    let third = send.clone();
    let status = tokio::task::spawn_blocking(move || third(None))
        .await
        .unwrap();
    assert!(status.success());

    // Let the held request finish if the server kept processing it after the client died: that
    // is the one window a ledger cannot close, and the shared idempotency key closes it.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let accepted = receiver.accepted.lock().unwrap().clone();
    let keys: std::collections::HashSet<&String> = accepted
        .iter()
        .map(|(_, h, _)| &h["idempotency-key"])
        .collect();
    assert!(
        !accepted.is_empty() && accepted.len() <= 2,
        "{} deliveries",
        accepted.len()
    );
    assert_eq!(
        keys.len(),
        1,
        "every attempt of the period carries the same idempotency key"
    );
    let store = Store::open(&dir.path().join("triage.db")).await.unwrap();
    let deliveries = store.deliveries_of("jess").await.unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].2, "sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_emails_its_digest_through_a_local_relay() {
    let (port, mailbox) = start_smtp();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_triage"))
            .args([
                "demo",
                "--smtp",
                &format!("127.0.0.1:{port}"),
                "--to",
                "brand@example.com",
            ])
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let raw = mailbox.0.lock().unwrap().clone();
    assert_eq!(raw.len(), 1);
    let message = mail_parser::MessageParser::default()
        .parse(&raw[0])
        .unwrap();
    assert!(message.subject().unwrap().contains("open product question"));
    assert!(message.body_html(0).unwrap().contains("<!DOCTYPE html>"));
}

/// `triage run` sends a due digest by itself, then stops cleanly on SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_sends_a_due_digest_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded_store(&dir.path().join("triage.db")).await;
    store.close().await;
    let (url, receiver) = start_receiver().await;
    // A send time two minutes ago (UTC): the slot is due as soon as the daemon starts.
    let due = (Utc::now() - chrono::Duration::minutes(2))
        .format("%H:%M")
        .to_string();
    let config = dir.path().join("triage.toml");
    settings(
        dir.path(),
        1,
        &format!("\n[[recipients.channels]]\ntype = \"webhook\"\nurl = \"{url}/hook\"\n"),
    );
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("timezone = \"Europe/Madrid\"", "timezone = \"UTC\"")
        .replace(
            "send_at = [\"00:00\", \"06:00\", \"12:00\", \"18:00\"]",
            &format!("send_at = [\"{due}\"]"),
        );
    std::fs::write(&config, text).unwrap();

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_triage"))
        .arg("--config")
        .arg(&config)
        .arg("run")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while receiver.accepted.lock().unwrap().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the daemon sent nothing"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
    let accepted = receiver.accepted.lock().unwrap().clone();
    assert_eq!(accepted.len(), 1);
    let payload: serde_json::Value = serde_json::from_slice(&accepted[0].2).unwrap();
    assert_eq!(payload["summary"]["open"], 2);
    let health = payload["health"].to_string();
    assert!(
        health.contains("jess: never polled successfully") || health.contains("UNUSED"),
        "the account without a token shows in the digest's health: {health}"
    );
    assert_eq!(payload["discount_alerts"][0]["code"], "GLOW15");
}
