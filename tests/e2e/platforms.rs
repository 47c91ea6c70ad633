//! The worker on every platform the simulator serves: same guarantees as on Instagram.

use comment_triage::domain::Platform;
use comment_triage::sim::{Fault, ScenarioParams, SimOptions};
use comment_triage::worker::PollError;
use tokio_util::sync::CancellationToken;

use crate::helpers::{assert_same_comments, expected_answered, scenario, spawn_app};

fn on(platforms: &[Platform], seed: u64) -> ScenarioParams {
    ScenarioParams {
        accounts: platforms.len().max(2),
        platforms: platforms.to_vec(),
        ..scenario(seed)
    }
}

async fn polls_match_the_simulator(platforms: &[Platform], seed: u64) {
    let app = spawn_app(on(platforms, seed), SimOptions::default(), |w| {
        w.page_size = 10
    })
    .await;
    app.poll_ok().await;
    assert_same_comments(&app.stored().await, &app.sim.ground_truth());
    for _ in 0..2 {
        app.sim.advance(chrono::Duration::hours(9));
        app.poll_ok().await;
        assert_same_comments(&app.stored().await, &app.sim.ground_truth());
    }
    let expected = expected_answered(&app.sim.ground_truth());
    for c in app.stored().await.iter().filter(|c| {
        c.parent_external_id.is_none() && c.author_role == "audience" && c.label.is_question()
    }) {
        assert_eq!(
            c.answered_at.is_some(),
            expected.contains(&c.external_id),
            "answered flag of {} ({:?})",
            c.external_id,
            c.text
        );
    }
}

#[tokio::test]
async fn youtube_channels_are_polled_exactly_and_owner_answers_found() {
    polls_match_the_simulator(&[Platform::Youtube], 31).await;
}

#[tokio::test]
async fn facebook_pages_are_polled_exactly_and_page_answers_found() {
    polls_match_the_simulator(&[Platform::Facebook], 34).await;
}

#[tokio::test]
async fn all_four_platforms_are_polled_exactly_side_by_side() {
    polls_match_the_simulator(
        &[
            Platform::Instagram,
            Platform::Facebook,
            Platform::Youtube,
            Platform::Tiktok,
        ],
        35,
    )
    .await;
}

#[tokio::test]
async fn tiktok_accounts_are_polled_exactly_and_owner_answers_found() {
    polls_match_the_simulator(&[Platform::Tiktok], 33).await;
}

/// Expires the first account's token (on `platform`, beside an Instagram account): that account
/// fails with an actionable message naming its token variable, never the token, and the other
/// completes.
async fn a_dead_token_fails_that_account_only(platform: Platform, seed: u64, platform_says: &str) {
    let app = spawn_app(
        on(&[platform, Platform::Instagram], seed),
        SimOptions::default(),
        |_| {},
    )
    .await;
    let accounts = app.sim.accounts();
    app.sim.inject(Fault::ExpireToken {
        account_id: accounts[0].id.clone(),
    });
    let report = app.poll().await;
    assert_eq!(report.failures(), 1, "{report}");
    let (_, result) = report
        .accounts
        .iter()
        .find(|(name, _)| *name == accounts[0].username)
        .unwrap();
    match result {
        Err(e @ PollError::TokenRejected { .. }) => {
            let message = e.to_string();
            assert!(
                message.contains(platform_says) && message.contains("TRIAGE_DEMO_TOKEN_1"),
                "{message}"
            );
            assert!(!message.contains(&accounts[0].token));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_dead_youtube_token_fails_that_channel_only() {
    a_dead_token_fails_that_account_only(Platform::Youtube, 32, "401").await;
}

#[tokio::test]
async fn a_dead_page_token_fails_that_page_only() {
    a_dead_token_fails_that_account_only(Platform::Facebook, 36, "code 190").await;
}

/// Polls until a cycle completes on every account (faults may fail an account's cycle; the next
/// one resumes it), at most `cycles` times.
async fn poll_until_clean(app: &crate::helpers::TestApp, cycles: usize) {
    for _ in 0..cycles {
        if app.poll().await.failures() == 0 {
            return;
        }
    }
    panic!("no clean cycle in {cycles} polls");
}

/// 5 % of requests fail (5xx, truncated or HTML bodies, throttling) on every route family; the
/// store still ends up exactly the simulator's. Known limit, not a fault effect: when a reply
/// arrives in a thread below the pages a poll reads and another comment is deleted on the same
/// post, its count does not move and the post waits for its periodic reconcile walk (seed 37
/// shows it on a Facebook post, this seed on a YouTube one, with or without faults): the
/// reconcile walk `poll --once --full` runs must then find both.
#[tokio::test]
async fn all_four_platforms_lose_nothing_under_random_faults() {
    let options = SimOptions {
        fault_rate: 0.05,
        ..SimOptions::default()
    };
    let platforms = [
        Platform::Instagram,
        Platform::Facebook,
        Platform::Youtube,
        Platform::Tiktok,
    ];
    let app = spawn_app(on(&platforms, 38), options, |w| w.page_size = 10).await;
    poll_until_clean(&app, 10).await;
    assert_same_comments(&app.stored().await, &app.sim.ground_truth());
    app.sim.advance(chrono::Duration::hours(9));
    poll_until_clean(&app, 10).await;
    reconcile_masked_pairs(&app).await;
    assert_same_comments(&app.stored().await, &app.sim.ground_truth());
}

/// When the store differs from the simulator only by pairs of a comment not yet found and one
/// deleted but still live (the known limit above), reads every post in full, as the schedule's
/// reconcile walk would, until it completes despite the faults.
async fn reconcile_masked_pairs(app: &crate::helpers::TestApp) {
    let truth = app.truth_ids();
    let live = app.live_ids().await;
    if live == truth {
        return;
    }
    assert_eq!(
        truth.difference(&live).count(),
        live.difference(&truth).count(),
        "only a deletion masking as many new replies hides from the count"
    );
    for _ in 0..10 {
        let report = app.worker.poll_full(&CancellationToken::new()).await;
        if report.failures() == 0 {
            return;
        }
    }
    panic!("no clean full poll in 10 attempts");
}

/// A creator turns comments off on one video mid-campaign: the channel's poll does not fail, the
/// video keeps what was stored (not marked deleted: the comments are hidden, not gone), and the
/// other videos' new comments all arrive.
#[tokio::test]
async fn comments_turned_off_on_a_video_keep_what_was_stored_and_the_channel_polls_on() {
    let app = spawn_app(on(&[Platform::Youtube], 36), SimOptions::default(), |w| {
        w.page_size = 20
    })
    .await;
    app.poll_ok().await;
    let stored_on = |comments: &[comment_triage::store::StoredComment], video: &str| {
        comments
            .iter()
            .filter(|c| c.post_external_id == video)
            .cloned()
            .collect::<Vec<_>>()
    };
    let stored = app.stored().await;
    let closed = app
        .sim
        .posts()
        .into_iter()
        .map(|p| p.id)
        .find(|id| !stored_on(&stored, id).is_empty())
        .expect("a video with comments");
    let before = stored_on(&stored, &closed);
    app.sim.inject(Fault::DisableComments {
        media_id: closed.clone(),
    });
    app.sim.advance(chrono::Duration::hours(9));
    // Every video is read to its end, the closed one included.
    let report = app
        .worker
        .poll_full(&tokio_util::sync::CancellationToken::new())
        .await;
    assert_eq!(report.failures(), 0, "a poll failed:\n{report}");

    let stored = app.stored().await;
    let after = stored_on(&stored, &closed);
    assert_eq!(after.len(), before.len(), "what was stored stays");
    assert!(
        after.iter().all(|c| !c.deleted),
        "nothing is marked deleted"
    );
    let others: Vec<_> = app
        .sim
        .ground_truth()
        .into_iter()
        .filter(|c| c.media_id != closed)
        .map(|c| c.id)
        .collect();
    assert!(
        others.len() > before.len(),
        "the other videos have comments"
    );
    for id in &others {
        assert!(
            stored.iter().any(|c| &c.external_id == id),
            "comment {id} of another video is stored"
        );
    }
}
