//! Hostile comment text through storage and every digest format.

use chrono::{Duration, Utc};
use comment_triage::digest::{
    DigestInput, DigestOptions, Format, Language, build_digest, render_digest,
};
use comment_triage::domain::{
    AuthorRole, Category, Comment, Label, Media, Platform, RuleId, Verdict,
};
use comment_triage::store::{ClassifiedComment, QuestionScope, Store, WalkProgress};

fn hostile_text() -> String {
    let mut text = String::from(
        "<script>alert('x')</script> =HYPERLINK(\"http://evil.example\",\"click\") كم السعر؟ שלום \u{200B}zero\u{200D}width \u{202E}reversed 👨‍👩‍👧‍👦🇨🇦 how much?? ",
    );
    while text.chars().count() < 2_000 {
        text.push_str("price please ");
    }
    text
}

#[tokio::test]
async fn hostile_text_survives_storage_and_is_escaped_in_the_digest() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db")).await.unwrap();
    let account = store
        .upsert_account(Platform::Instagram, "1784", "jess", "jess")
        .await
        .unwrap();
    let now = Utc::now();
    let media = Media {
        external_id: "1803".into(),
        caption: "New <b>serum</b> #ad".into(),
        permalink: Some("https://www.instagram.com/p/C6abc/".into()),
        created_at: now - Duration::hours(5),
        comments_count: Some(1),
    };
    let posts = store
        .upsert_posts(account, &[(media, vec!["demo".into()])])
        .await
        .unwrap();
    let text = hostile_text();
    let comment = ClassifiedComment {
        comment: Comment {
            external_id: "1799".into(),
            parent_id: None,
            author_id: Some("70".into()),
            author_handle: "evil<user>".into(),
            text: text.clone(),
            created_at: now - Duration::hours(4),
            role: AuthorRole::Audience,
            hidden: false,
        },
        verdict: Verdict {
            label: Label::ProductQuestion(Category::Price),
            rule: RuleId::new("test.price"),
            overruled: None,
        },
    };
    let progress = WalkProgress::Complete {
        watermark: Some(now),
        read_every_page: false,
    };
    store
        .save_comment_page(posts[0], &[comment], &progress, now)
        .await
        .unwrap();

    assert_eq!(
        store.all_comments().await.unwrap()[0].text,
        text,
        "stored byte for byte"
    );
    let scope = QuestionScope::Campaign("demo".into());
    let questions = store.open_product_questions(&scope).await.unwrap();
    assert_eq!(questions.len(), 1);
    let totals = store.totals(&scope).await.unwrap();
    let options = DigestOptions {
        recipient: "brand".into(),
        timezone: chrono_tz::UTC,
        language: Language::En,
        min_age: Duration::minutes(30),
        sla: Duration::hours(24),
        templates: Default::default(),
    };
    let input = DigestInput {
        questions,
        totals,
        ..DigestInput::default()
    };
    let digest = build_digest(&options, input, now);

    let html = render_digest(&digest, Format::Html);
    assert!(!html.contains("<script>"), "{html}");
    assert!(!html.contains("<b>serum"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(html.contains("evil&lt;user&gt;"));
    assert!(html.contains("كم السعر؟"));
    assert!(html.contains("👨‍👩‍👧‍👦🇨🇦"));
    assert!(html.contains("https://www.instagram.com/p/C6abc/c/1799/"));
    assert!(!html.contains('\u{202E}'), "bidi overrides are dropped");

    let text_digest = render_digest(&digest, Format::Text);
    assert!(
        text_digest.contains("1 open product question on 1 post"),
        "{text_digest}"
    );
    assert!(
        text_digest.contains("[price] 4h 00m ago · @evil<user> · new"),
        "{text_digest}"
    );
    assert!(text_digest.contains('…'), "2,000 characters are shortened");
    assert!(
        text_digest.lines().all(|l| l.chars().count() < 400),
        "no line is the whole comment"
    );

    let markdown = render_digest(&digest, Format::Markdown);
    assert!(markdown.contains("\\<script\\>"), "{markdown}");
}
