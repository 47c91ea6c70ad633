//! Audit speed: `triage audit` on a campaign of 1,000,000 stored comments (the target is under
//! 2 seconds), through the real store API and the real audit code.
//!
//! `cargo bench --bench audit` (default: 20 creators × 50 posts × 1,000 comments);
//! `AUDIT_BENCH_CREATORS`, `AUDIT_BENCH_POSTS` and `AUDIT_BENCH_COMMENTS` (per post) change the
//! size. Each post holds 500 top-level audience comments (200 product questions, 80 other
//! questions, 220 others, a few about discount codes) and 500 replies (150 by the creator, 20 by
//! the brand, 330 by other commenters). Loading takes a while; only the audit itself is timed.

use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use comment_triage::audit::{AuditFormat, audit_campaign, render_audit};
use comment_triage::config::Settings;
use comment_triage::domain::{
    AuthorRole, Category, Comment, Label, Media, Platform, RuleId, Verdict,
};
use comment_triage::store::{AuditWindow, ClassifiedComment, Store, WalkProgress};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config(creators: usize) -> String {
    let mut out = String::from("database = \"bench.db\"\n");
    let names: Vec<String> = (0..creators).map(|i| format!("creator{i:02}")).collect();
    for (i, name) in names.iter().enumerate() {
        out.push_str(&format!(
            "\n[[accounts]]\nname = \"{name}\"\nplatform = \"instagram\"\naccount_id = \"{i}\"\n\
             owner_handle = \"{name}\"\napi_base_url = \"http://127.0.0.1:1/v23.0\"\ntoken_env = \"T{i}\"\n"
        ));
    }
    out.push_str(&format!(
        "\n[[campaigns]]\nname = \"bench\"\nbrand = \"GlowLab\"\nbrand_handle = \"glowlab\"\naccounts = [{}]\ndiscount_codes = [\"GLOW15\"]\n",
        names
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    out
}

fn comment(
    id: String,
    parent: Option<String>,
    author: String,
    role: AuthorRole,
    text: &str,
    at: chrono::DateTime<Utc>,
    label: Label,
) -> ClassifiedComment {
    ClassifiedComment {
        comment: Comment {
            external_id: id,
            parent_id: parent,
            author_id: None,
            author_handle: author,
            text: text.to_owned(),
            created_at: at,
            role,
            hidden: false,
        },
        verdict: Verdict {
            label,
            rule: RuleId::new("bench"),
            overruled: None,
        },
    }
}

/// One post's comments, deterministic from its number.
fn post_comments(
    post: usize,
    owner: &str,
    start: chrono::DateTime<Utc>,
    per_post: usize,
) -> Vec<ClassifiedComment> {
    let top = per_post / 2;
    let mut out = Vec::with_capacity(per_post);
    for i in 0..top {
        let at = start + Duration::seconds((i * 97) as i64);
        let (text, label) = match i % 25 {
            0..=9 => (
                "how much is it?",
                Label::ProductQuestion(Category::ALL[i % 9]),
            ),
            10 => (
                "is there a discount code?",
                Label::ProductQuestion(Category::Discount),
            ),
            11 => ("code GLOW15 doesn't work", Label::NotQuestion),
            12..=14 => (
                "where do I buy it?",
                Label::ProductQuestion(Category::Availability),
            ),
            15..=18 => ("what song is this?", Label::OtherQuestion),
            _ => ("love this look 😍", Label::NotQuestion),
        };
        out.push(comment(
            format!("{post}-{i}"),
            None,
            format!("fan{}", (post * 7 + i) % 5_000),
            AuthorRole::Audience,
            text,
            at,
            label,
        ));
    }
    for j in 0..per_post - top {
        let parent = (j * 7) % top;
        let at = start + Duration::seconds((parent * 97 + 60 * (j % 50 + 1) * (j % 7 + 1)) as i64);
        let (author, role) = match j % 50 {
            0..=14 => (owner.to_owned(), AuthorRole::Owner),
            15..=16 => ("glowlab".to_owned(), AuthorRole::Brand),
            _ => (format!("fan{}", (post + j) % 5_000), AuthorRole::Audience),
        };
        out.push(comment(
            format!("{post}-r{j}"),
            Some(format!("{post}-{parent}")),
            author,
            role,
            "thanks!",
            at,
            Label::NotQuestion,
        ));
    }
    out
}

#[tokio::main]
async fn main() {
    let creators = env_or("AUDIT_BENCH_CREATORS", 20);
    let posts_per_creator = env_or("AUDIT_BENCH_POSTS", 50);
    let per_post = env_or("AUDIT_BENCH_COMMENTS", 1_000);
    // AUDIT_BENCH_DIR keeps the database between runs (loaded once, reused while it exists).
    let temp = tempfile::tempdir().unwrap();
    let dir = std::env::var_os("AUDIT_BENCH_DIR").map_or(temp.path().to_owned(), Into::into);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("triage.toml");
    let reuse = dir.join("bench.db").exists();
    std::fs::write(&path, config(creators)).unwrap();
    let settings = Settings::load(&path).unwrap();
    let store = Store::open(&settings.database).await.unwrap();
    let start = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();

    let loading = Instant::now();
    let mut loaded = 0usize;
    for c in (0..creators).filter(|_| !reuse) {
        let name = format!("creator{c:02}");
        let account = store
            .upsert_account(Platform::Instagram, &c.to_string(), &name, &name)
            .await
            .unwrap();
        for p in 0..posts_per_creator {
            let n = c * posts_per_creator + p;
            let created = start + Duration::hours(p as i64);
            let media = Media {
                external_id: format!("post{n}"),
                caption: "New serum #ad".into(),
                permalink: Some(format!("https://www.instagram.com/p/P{n}/")),
                created_at: created,
                comments_count: None,
            };
            let key = store
                .upsert_posts(account, &[(media, vec!["bench".into()])])
                .await
                .unwrap()[0];
            let comments = post_comments(n, &name, created, per_post);
            loaded += comments.len();
            let done = WalkProgress::Complete {
                watermark: Some(created),
                read_every_page: false,
            };
            store
                .save_comment_page(key, &comments, &done, created)
                .await
                .unwrap();
        }
    }
    println!(
        "loaded {loaded} comments on {} posts in {:.1}s",
        creators * posts_per_creator,
        loading.elapsed().as_secs_f64()
    );

    let now = start + Duration::days(60);
    // Where the time goes: the two store queries, then the metrics.
    let watch: Vec<String> = comment_triage::classify::discount::WATCH_TERMS
        .iter()
        .map(|t| t.to_string())
        .chain(["GLOW15".to_owned()])
        .collect();
    let started = Instant::now();
    let posts = store
        .audit_posts("bench", AuditWindow::default())
        .await
        .unwrap();
    let after_posts = started.elapsed();
    let comments = store
        .audit_comments("bench", AuditWindow::default(), &watch)
        .await
        .unwrap();
    let after_comments = started.elapsed();
    let rows = comments.len();
    let campaign = settings.campaign("bench").unwrap();
    let audit =
        comment_triage::audit::build_audit(campaign, AuditWindow::default(), &posts, comments, now);
    println!(
        "breakdown: audit_posts {:.2}s, audit_comments {:.2}s ({rows} rows), build_audit {:.2}s",
        after_posts.as_secs_f64(),
        (after_comments - after_posts).as_secs_f64(),
        (started.elapsed() - after_comments).as_secs_f64()
    );
    let stored = audit.totals.comments;
    drop(audit);
    let mut runs = Vec::new();
    for run in 1..=3 {
        let started = Instant::now();
        let audit = audit_campaign(&settings, &store, "bench", AuditWindow::default(), now)
            .await
            .unwrap();
        let built = started.elapsed();
        let json = render_audit(&audit, AuditFormat::Json);
        let csv = render_audit(&audit, AuditFormat::Csv);
        let html = render_audit(&audit, AuditFormat::Html);
        let rendered = started.elapsed();
        println!(
            "audit run {run}: {} comments, {} questions, {} missed, {} discount alerts: \
             queries + metrics {:.2}s, + json/csv/html ({:.0}/{:.0}/{:.0} MB) {:.2}s",
            audit.totals.comments,
            audit.totals.questions,
            audit.missed_questions().len(),
            audit.discount_alerts.len(),
            built.as_secs_f64(),
            json.main.len() as f64 / 1e6,
            (csv.main.len() + csv.summary.map_or(0, |s| s.len())) as f64 / 1e6,
            html.main.len() as f64 / 1e6,
            rendered.as_secs_f64()
        );
        runs.push(built.as_secs_f64());
    }
    runs.sort_by(f64::total_cmp);
    println!(
        "audit of a {stored}-comment campaign: {:.2}s (median of 3, queries + metrics)",
        runs[1]
    );
    store.close().await;
}
