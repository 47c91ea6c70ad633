//! A small campaign built row by row, so every expected number can be worked out by hand.
//!
//! `t0` = 2026-03-02 10:00 UTC; the audit runs at `t0 + 100 h`. Campaign `spring`: average order
//! 40 EUR, conversion share 0.05, SLA 24 h, code `JESS15`.
//!
//! jess, post `P1` (questions, all top-level, by the audience):
//! - q1 price, t0 — jess replies at +30 m                      → creator, 1 800 s
//! - q2 shipping, t0 — jess replies at +2 h                    → creator, 7 200 s
//! - q3 availability, t0 — the brand replies at +30 h          → brand, 108 000 s
//! - q4 price, t0 — only another commenter replies             → community only, missed
//! - q5 other question, t0 + 1 h — nobody                      → unanswered, missed
//! - q6 sizing, t0 + 90 h — nobody (10 h old: within the SLA)  → unanswered, missed
//! - q7 "code JESS15 doesn't work at checkout" (not a question) → discount alert (broken code)
//! - q8 price, hidden by jess, nobody                          → hidden
//! - q9 ingredients, t0 — only the asker replies ("bump")      → unanswered, missed
//! - q10 usage, t0 — jess answers with a top-level @mention at +10 m → creator, 600 s
//! - q11 price, deleted from the platform                      → not counted anywhere
//! - c1 "love it" (not a question)
//!
//! grace, post `P2`:
//! - g1 price, t0 — grace replies at +1 h exactly              → creator, 3 600 s (within 1 h)
//! - g2 discount "is there a discount code?", t0 — nobody      → unanswered, discount alert (asks)
//! - `<script>` and `=HYPERLINK(…)` questions with hostile text (g3, g4), t0 + 99 h — nobody

use std::collections::HashSet;
use std::path::Path;

use chrono::{DateTime, Duration, TimeZone, Utc};
use comment_triage::audit::{Audit, audit_campaign};
use comment_triage::config::Settings;
use comment_triage::domain::{
    AuthorRole, Category, Comment, Label, Media, Platform, RuleId, Verdict,
};
use comment_triage::store::{AuditWindow, ClassifiedComment, PostKey, Store, WalkProgress};

pub const HOSTILE_SCRIPT: &str = "<script>alert('x')</script> how much is it?";
pub const HOSTILE_FORMULA: &str = "=HYPERLINK(\"http://evil.example\",\"click\") price?";

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap()
}

pub fn now() -> DateTime<Utc> {
    t0() + Duration::hours(100)
}

pub const CONFIG: &str = r##"
database = "audit.db"

[[accounts]]
name = "jess"
platform = "instagram"
account_id = "1001"
owner_handle = "jess"
api_base_url = "http://127.0.0.1:1/v23.0"
token_env = "TOKEN_JESS"

[[accounts]]
name = "grace"
platform = "instagram"
account_id = "1002"
owner_handle = "grace"
api_base_url = "http://127.0.0.1:1/v23.0"
token_env = "TOKEN_GRACE"

[[campaigns]]
name = "spring"
brand = "GlowLab"
brand_handle = "glowlab"
accounts = ["jess", "grace"]
hashtags = ["#ad"]
average_order_value = 40.0
conversion_share = 0.05
currency = "EUR"
sla_hours = 24
discount_codes = ["JESS15"]
"##;

pub struct Fixture {
    pub settings: Settings,
    pub store: Store,
    pub dir: tempfile::TempDir,
}

fn comment(
    id: &str,
    parent: Option<&str>,
    author: &str,
    role: AuthorRole,
    text: &str,
    at: DateTime<Utc>,
    label: Label,
) -> ClassifiedComment {
    ClassifiedComment {
        comment: Comment {
            external_id: id.into(),
            parent_id: parent.map(str::to_owned),
            author_id: None,
            author_handle: author.into(),
            text: text.into(),
            created_at: at,
            role,
            hidden: false,
        },
        verdict: Verdict {
            label,
            rule: RuleId::new("test"),
            overruled: None,
        },
    }
}

fn q(id: &str, author: &str, text: &str, at: DateTime<Utc>, label: Label) -> ClassifiedComment {
    comment(id, None, author, AuthorRole::Audience, text, at, label)
}

fn reply(
    id: &str,
    parent: &str,
    author: &str,
    role: AuthorRole,
    at: DateTime<Utc>,
) -> ClassifiedComment {
    comment(
        id,
        Some(parent),
        author,
        role,
        "thanks!",
        at,
        Label::NotQuestion,
    )
}

fn media(id: &str, shortcode: &str) -> Media {
    Media {
        external_id: id.into(),
        caption: "New serum #ad".into(),
        permalink: Some(format!("https://www.instagram.com/p/{shortcode}/")),
        created_at: t0() - Duration::hours(1),
        comments_count: None,
    }
}

/// The account `name` (its handle is its name) and one of its posts in campaign `spring`.
async fn campaign_post(store: &Store, name: &str, post: &str, shortcode: &str) -> PostKey {
    let account = store
        .upsert_account(Platform::Instagram, name, name, name)
        .await
        .unwrap();
    store
        .upsert_posts(account, &[(media(post, shortcode), vec!["spring".into()])])
        .await
        .unwrap()[0]
}

pub async fn build() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("triage.toml");
    std::fs::write(&path, CONFIG).unwrap();
    let settings = Settings::load(&path).unwrap();
    let store = Store::open(&settings.database).await.unwrap();
    let (t, m, h) = (t0(), Duration::minutes, Duration::hours);
    use AuthorRole::{Audience, Brand, Owner};
    use Category as C;
    let pq = Label::ProductQuestion;

    let p1 = campaign_post(&store, "jess", "P1", "AAA").await;
    let page = vec![
        q("q1", "ann", "how much?", t, pq(C::Price)),
        reply("r1", "q1", "jess", Owner, t + m(30)),
        q("q2", "bob", "ship to canada?", t, pq(C::Shipping)),
        reply("r2", "q2", "jess", Owner, t + h(2)),
        q("q3", "cat", "where to buy?", t, pq(C::Availability)),
        reply("r3", "q3", "glowlab", Brand, t + h(30)),
        q("q4", "dan", "price pls", t, pq(C::Price)),
        reply("r4", "q4", "eve", Audience, t + m(5)),
        q(
            "q5",
            "fay",
            "what song is this?",
            t + h(1),
            Label::OtherQuestion,
        ),
        q("q6", "gus", "what size?", t + h(90), pq(C::Sizing)),
        q(
            "q7",
            "hal",
            "code JESS15 doesn't work at checkout",
            t + h(2),
            Label::NotQuestion,
        ),
        {
            let mut hidden = q("q8", "ivy", "cost??", t, pq(C::Price));
            hidden.comment.hidden = true;
            hidden
        },
        q("q9", "jay", "is it vegan?", t, pq(C::Ingredients)),
        reply("r9", "q9", "jay", Audience, t + h(3)),
        q("q10", "kim", "how do I use it?", t, pq(C::Usage)),
        comment(
            "m10",
            None,
            "jess",
            Owner,
            "@kim every night",
            t + m(10),
            Label::NotQuestion,
        ),
        q("q11", "lee", "price?", t, pq(C::Price)),
        q("c1", "mo", "love it", t, Label::NotQuestion),
    ];
    let done = WalkProgress::Complete {
        watermark: Some(now()),
        read_every_page: false,
    };
    store
        .save_comment_page(p1, &page, &done, now())
        .await
        .unwrap();
    let seen: HashSet<String> = page
        .iter()
        .map(|c| c.comment.external_id.clone())
        .filter(|id| id != "q11")
        .collect();
    assert_eq!(
        store.mark_missing_deleted(p1, &seen, now()).await.unwrap(),
        1
    );

    let p2 = campaign_post(&store, "grace", "P2", "BBB").await;
    let page = vec![
        q("g1", "nia", "price?", t, pq(C::Price)),
        reply("gr1", "g1", "grace", Owner, t + h(1)),
        q("g2", "oli", "is there a discount code?", t, pq(C::Discount)),
    ];
    store
        .save_comment_page(p2, &page, &done, now())
        .await
        .unwrap();
    Fixture {
        settings,
        store,
        dir,
    }
}

/// The fixture plus two hostile questions on grace's post (for the format tests).
pub async fn build_with_hostile() -> Fixture {
    let fixture = build().await;
    let p2 = campaign_post(&fixture.store, "grace", "P2", "BBB").await;
    let at = t0() + Duration::hours(99);
    let page = vec![
        q(
            "g3",
            "evil<b>",
            HOSTILE_SCRIPT,
            at,
            Label::ProductQuestion(Category::Price),
        ),
        q(
            "g4",
            "=cmd",
            HOSTILE_FORMULA,
            at,
            Label::ProductQuestion(Category::Price),
        ),
    ];
    let done = WalkProgress::Complete {
        watermark: Some(now()),
        read_every_page: false,
    };
    fixture
        .store
        .save_comment_page(p2, &page, &done, now())
        .await
        .unwrap();
    fixture
}

impl Fixture {
    pub async fn audit(&self, window: AuditWindow) -> Audit {
        audit_campaign(&self.settings, &self.store, "spring", window, now())
            .await
            .unwrap()
    }

    #[allow(dead_code)]
    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    #[allow(dead_code)]
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}
