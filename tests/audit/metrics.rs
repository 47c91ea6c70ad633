//! Every metric of the fixture campaign against the numbers worked out by hand (see fixture.rs).

use chrono::Duration;
use comment_triage::audit::{DiscountKind, Metrics, QuestionStatus};
use comment_triage::domain::Category;
use comment_triage::store::AuditWindow;

use crate::fixture::{build, now, t0};

fn by_category(m: &Metrics, category: Category) -> u64 {
    m.product_questions_by_category[&category]
}

#[tokio::test]
async fn metrics_match_the_hand_worked_campaign() {
    let fixture = build().await;
    let audit = fixture.audit(AuditWindow::default()).await;
    assert_eq!(audit.creators.len(), 2);
    let jess = &audit.creators[0];
    assert_eq!(jess.account, "jess");
    let m = &jess.metrics;
    assert_eq!(m.posts, 1);
    assert_eq!(
        m.comments, 17,
        "11 top-level audience (q11 deleted), 5 replies, 1 mention"
    );
    assert_eq!(m.questions, 9);
    assert_eq!(m.product_questions, 8);
    assert_eq!(by_category(m, Category::Price), 3);
    assert_eq!(m.answered_by_creator, 3);
    assert_eq!(m.answered_by_brand, 1);
    assert_eq!(m.answered_only_by_community, 1);
    assert_eq!(
        m.unanswered, 3,
        "q5, q6 and q9 (the asker's own bump is no answer)"
    );
    assert_eq!(m.hidden_unanswered, 1);
    assert_eq!(
        (
            m.answered_within_1h,
            m.answered_1h_to_24h,
            m.answered_after_24h
        ),
        (2, 1, 1)
    );
    assert_eq!(m.never_answered, 5);
    assert_eq!(m.response_rate, Some(0.4444));
    // delays 600, 1800, 7200, 108000
    assert_eq!(m.median_secs_to_answer, Some(4_500));
    assert_eq!(m.p90_secs_to_answer, Some(77_760));
    assert_eq!(m.open_past_sla, 3, "q4, q5, q9; q6 is 10 h old");
    assert_eq!(m.unanswered_product_questions, 3, "q4, q6, q9");
    assert_eq!(m.revenue_at_risk, 6.0, "3 × 0.05 × 40");

    let grace = &audit.creators[1].metrics;
    assert_eq!(
        (grace.comments, grace.questions, grace.answered_within_1h),
        (3, 2, 1)
    );
    assert_eq!(grace.response_rate, Some(0.5));
    assert_eq!(grace.median_secs_to_answer, Some(3_600));
    assert_eq!(grace.revenue_at_risk, 2.0);

    let t = &audit.totals;
    assert_eq!(
        (t.posts, t.comments, t.questions, t.product_questions),
        (2, 20, 11, 10)
    );
    assert_eq!(by_category(t, Category::Price), 4);
    assert_eq!(by_category(t, Category::Discount), 1);
    assert_eq!(t.response_rate, Some(0.4545));
    // delays 600, 1800, 3600, 7200, 108000: p90 rank 3.6 → 7200 + 0.6 × 100800
    assert_eq!(t.median_secs_to_answer, Some(3_600));
    assert_eq!(t.p90_secs_to_answer, Some(67_680));
    assert_eq!(t.open_past_sla, 4);
    assert_eq!(t.unanswered_product_questions, 4);
    assert_eq!(t.revenue_at_risk, 8.0);
    // The post rows add up to the creator rows.
    assert_eq!(jess.posts.len(), 1);
    assert_eq!(&jess.posts[0].metrics, m);

    let a = &audit.assumptions;
    assert_eq!((a.average_order_value, a.conversion_share), (40.0, 0.05));
    assert!(!a.average_order_value_is_default && !a.conversion_share_is_default);
    assert_eq!(a.currency, "EUR");
}

#[tokio::test]
async fn each_question_says_who_answered_it() {
    let fixture = build().await;
    let audit = fixture.audit(AuditWindow::default()).await;
    let status = |id: &str| {
        audit
            .questions
            .iter()
            .find(|q| q.comment_id == id)
            .map(|q| q.status)
    };
    assert_eq!(status("q1"), Some(QuestionStatus::AnsweredByCreator));
    assert_eq!(status("q3"), Some(QuestionStatus::AnsweredByBrand));
    assert_eq!(status("q4"), Some(QuestionStatus::AnsweredOnlyByCommunity));
    assert_eq!(status("q8"), Some(QuestionStatus::Hidden));
    assert_eq!(status("q9"), Some(QuestionStatus::Unanswered));
    assert_eq!(status("q10"), Some(QuestionStatus::AnsweredByCreator));
    assert_eq!(status("q7"), None, "not a question");
    assert_eq!(status("q11"), None, "deleted");
    let q3 = audit
        .questions
        .iter()
        .find(|q| q.comment_id == "q3")
        .unwrap();
    assert_eq!(q3.answered_by.as_deref(), Some("glowlab"));
    assert_eq!(
        q3.link.as_deref(),
        Some("https://www.instagram.com/p/AAA/c/q3/")
    );

    let missed: Vec<&str> = audit
        .missed_questions()
        .iter()
        .map(|q| q.comment_id.as_str())
        .collect();
    assert_eq!(missed.len(), 5);
    for id in ["q4", "q5", "q6", "q9", "g2"] {
        assert!(missed.contains(&id), "{id} missing from {missed:?}");
    }
    let q6 = audit
        .questions
        .iter()
        .find(|q| q.comment_id == "q6")
        .unwrap();
    assert_eq!(q6.age_secs, Some(10 * 3_600));
    assert!(!q6.past_sla);
}

#[tokio::test]
async fn discount_code_trouble_is_escalated() {
    let fixture = build().await;
    let audit = fixture.audit(AuditWindow::default()).await;
    let alerts: Vec<(&str, DiscountKind, Option<&str>, bool)> = audit
        .discount_alerts
        .iter()
        .map(|a| (a.comment_id.as_str(), a.kind, a.code.as_deref(), a.answered))
        .collect();
    assert_eq!(
        alerts,
        vec![
            ("g2", DiscountKind::AsksForCode, None, false),
            ("q7", DiscountKind::BrokenCode, Some("JESS15"), false),
        ]
    );
}

#[tokio::test]
async fn the_window_keeps_only_questions_asked_inside_it() {
    let fixture = build().await;
    let window = AuditWindow {
        since: Some(t0()),
        until: Some(t0() + Duration::hours(50)),
    };
    let audit = fixture.audit(window).await;
    assert_eq!(
        audit.creators[0].metrics.questions, 8,
        "q6 was asked at +90 h"
    );
    assert_eq!(audit.campaign.until, window.until);
    assert!(audit.generated_at == now());
}
