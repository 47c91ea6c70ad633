//! The schedule against the simulator: quota goes where comments are, and never past the budget.

use comment_triage::domain::{Platform, QuotaReading};
use comment_triage::sim::{ScenarioParams, SimOptions};

use crate::helpers::{scenario, spawn_app};

#[tokio::test]
async fn a_short_youtube_budget_defers_the_least_valuable_walks_and_is_never_overspent() {
    const UNITS: u64 = 40;
    let params = ScenarioParams {
        accounts: 1,
        platforms: vec![Platform::Youtube],
        posts_per_account: 6,
        comments_per_post: 200,
        ..scenario(41)
    };
    let app = spawn_app(params, SimOptions::default(), |w| {
        w.page_size = 10;
        w.youtube_daily_units = UNITS;
    })
    .await;
    app.sim.advance(chrono::Duration::hours(48));
    let report = app.poll().await;
    let (_, result) = &report.accounts[0];
    // Backfilling the sponsored posts, 200+ threads each at 10 a page, needs far more than 40 units.
    let outcome = result
        .as_ref()
        .expect("the planner keeps the poll within budget");
    assert!(outcome.deferred > 0, "{report}");
    assert!(outcome.walked + outcome.deferred <= outcome.posts);
    let channel = &app.sim.accounts()[0];
    assert!(app.sim.youtube_units_used(&channel.id) <= UNITS);

    let health = &app.store.account_health().await.unwrap()[0];
    match health.quota {
        QuotaReading::Units { used, limit, .. } => {
            assert_eq!(limit, UNITS);
            assert!(used > 0 && used <= UNITS, "{used}");
        }
        other => panic!("expected YouTube units, got {other:?}"),
    }
    assert_eq!(health.deferred_posts, outcome.deferred as i64);
    let next = health.next_poll_at.expect("a next poll is planned");
    assert!(
        next > chrono::Utc::now().timestamp() + 60,
        "with the budget nearly spent, the next poll waits longer than one cycle"
    );
}
