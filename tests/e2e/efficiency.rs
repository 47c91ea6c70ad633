//! What a steady poll spends: the calls a walk saves must not cost a comment.

use std::collections::HashSet;

use comment_triage::domain::Platform;
use comment_triage::sim::{ScenarioParams, SimOptions};

use crate::helpers::{scenario, spawn_app};

/// Spam is deleted within hours of being posted, so its thread is among those a search for
/// replies reads anyway: a comment missing from those threads is deleted, and a count that moved
/// by less than the walk found is explained without reading the post's every page.
#[tokio::test]
async fn a_recent_deletion_is_marked_without_reading_every_page() {
    let params = ScenarioParams {
        accounts: 1,
        platforms: vec![Platform::Instagram],
        // The second post appears 26 hours in: its comments, and its spam, arrive while it is
        // polled.
        posts_per_account: 4,
        comments_per_post: 500,
        ..scenario(14)
    };
    let app = spawn_app(params, SimOptions::default(), |w| w.page_size = 10).await;
    app.sim.advance(chrono::Duration::hours(19));
    let mut cheaply_marked = 0;
    for _ in 0..16 {
        app.sim.advance(chrono::Duration::hours(1));
        let deleted_before: HashSet<String> = app
            .stored()
            .await
            .into_iter()
            .filter(|c| c.deleted)
            .map(|c| c.external_id)
            .collect();
        let read = app.poll_ok().await.total();
        let stored = app.stored().await;
        let truth = app.sim.ground_truth();
        let live: HashSet<&str> = truth.iter().map(|c| c.id.as_str()).collect();
        assert!(
            stored
                .iter()
                .all(|c| !c.deleted || !live.contains(c.external_id.as_str())),
            "a comment still on the platform was marked deleted"
        );
        let newly_deleted: HashSet<&str> = stored
            .iter()
            .filter(|c| c.deleted && !deleted_before.contains(&c.external_id))
            .map(|c| c.post_external_id.as_str())
            .collect();
        // Reading every page of a post costs a page per ten of its top-level comments.
        let every_page = |post: &str| {
            truth
                .iter()
                .filter(|c| c.media_id == post && c.parent_id.is_none())
                .count()
                / 10
        };
        if newly_deleted
            .iter()
            .any(|post| read.pages < every_page(post))
        {
            cheaply_marked += 1;
        }
    }
    assert!(
        cheaply_marked > 0,
        "some deletion should be found by the threads a poll reads anyway"
    );
}

/// The deletions read off the threads a walk saw are real on every platform: no comment still on
/// the platform is marked deleted, not even for a moment (a later walk seeing it again would
/// count it changed).
#[tokio::test]
async fn no_live_comment_is_taken_for_deleted_on_any_platform() {
    let unlimited = SimOptions {
        hourly_call_budget: 10_000_000,
        tiktok_calls_per_minute: 10_000_000,
        youtube_daily_units: 100_000_000,
        ..SimOptions::default()
    };
    for platform in [
        Platform::Instagram,
        Platform::Facebook,
        Platform::Youtube,
        Platform::Tiktok,
    ] {
        let params = ScenarioParams {
            accounts: 1,
            platforms: vec![platform],
            posts_per_account: 4,
            comments_per_post: 500,
            ..scenario(14)
        };
        let app = spawn_app(params, unlimited.clone(), |w| w.page_size = 10).await;
        app.sim.advance(chrono::Duration::hours(19));
        for poll in 0..16 {
            app.sim.advance(chrono::Duration::hours(1));
            let read = app.poll_ok().await.total();
            assert_eq!(read.updated, 0, "{platform} poll {poll}: comments restored");
            let truth = app.sim.ground_truth();
            let live: HashSet<&str> = truth.iter().map(|c| c.id.as_str()).collect();
            let wrong: Vec<String> = app
                .stored()
                .await
                .into_iter()
                .filter(|c| c.deleted && live.contains(c.external_id.as_str()))
                .map(|c| c.external_id)
                .collect();
            assert!(wrong.is_empty(), "{platform} poll {poll}: {wrong:?}");
        }
    }
}
