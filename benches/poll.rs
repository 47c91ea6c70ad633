//! Poll throughput: the real worker against the simulator on loopback, end to end (HTTP, JSON
//! parsing, classification, SQLite), reported as comments per second.
//!
//! `cargo bench --bench poll` (defaults: 2 accounts × 8 posts × 1,000 top-level comments);
//! `POLL_BENCH_ACCOUNTS`, `POLL_BENCH_POSTS` and `POLL_BENCH_COMMENTS` change the scenario size.

use std::sync::Arc;
use std::time::Instant;

use comment_triage::classify::Classifier;
use comment_triage::config::Settings;
use comment_triage::demo::{demo_config, demo_scenario, sim_tokens};
use comment_triage::sim::{ScenarioParams, SimHandle, SimOptions, SimServer};
use comment_triage::store::Store;
use comment_triage::worker::Worker;
use tokio_util::sync::CancellationToken;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let params = ScenarioParams {
        accounts: env_or("POLL_BENCH_ACCOUNTS", 2),
        posts_per_account: env_or("POLL_BENCH_POSTS", 8),
        comments_per_post: env_or("POLL_BENCH_COMMENTS", 1_000),
        ..demo_scenario(7)
    };
    // Let the whole scenario happen, so one poll reads every comment.
    let (sim, worker, _dir) =
        simulator_and_worker(params.clone(), chrono::Duration::days(40)).await;
    let started = Instant::now();
    let report = worker.poll_once(&CancellationToken::new()).await;
    let elapsed = started.elapsed();
    assert_eq!(report.failures(), 0, "{report}");
    let total = report.total();
    println!(
        "poll: {} accounts, {} posts, {} pages, {} comments stored in {:.2}s = {:.0} comments/s ({} API calls)",
        params.accounts,
        total.posts,
        total.pages,
        total.inserted,
        elapsed.as_secs_f64(),
        total.inserted as f64 / elapsed.as_secs_f64(),
        sim.requests_served()
    );
    let started = Instant::now();
    let again = worker.poll_once(&CancellationToken::new()).await.total();
    println!(
        "steady-state poll with nothing new: {} pages, {} new, {:.3}s",
        again.pages,
        again.inserted,
        started.elapsed().as_secs_f64()
    );
    steady_state_efficiency().await;
}

/// Calls spent per 1,000 new comments while comments keep arriving (a poll every simulated hour
/// during the posts' first days), against a floor of one listing call per account, one call per
/// post checked and one per page of new comments.
async fn steady_state_efficiency() {
    let params = ScenarioParams {
        accounts: 2,
        posts_per_account: 4,
        comments_per_post: 1_000,
        ..demo_scenario(11)
    };
    let (sim, worker, _dir) = simulator_and_worker(params, chrono::Duration::hours(18)).await;
    let cancel = CancellationToken::new();
    worker.poll_once(&cancel).await; // backfill
    let (mut calls, mut new, mut floor) = (0u64, 0u64, 0u64);
    for _ in 0..12 {
        sim.advance(chrono::Duration::hours(1));
        let before = sim.requests_served();
        let report = worker.poll_due(&cancel).await;
        let total = report.total();
        calls += sim.requests_served() - before;
        if std::env::var_os("POLL_BENCH_VERBOSE").is_some() {
            println!(
                "  hourly poll: {} calls, {} posts read, {} pages, {} new",
                sim.requests_served() - before,
                total.walked,
                total.pages,
                total.inserted
            );
        }
        new += total.inserted;
        floor += report.accounts.len() as u64 + total.posts as u64 + total.inserted.div_ceil(50);
    }
    println!(
        "steady state (12 hourly polls): {new} new comments, {calls} API calls = {:.1} calls per 1,000 new comments; floor {floor} calls = {:.1} per 1,000 (ratio {:.2})",
        calls as f64 * 1000.0 / new.max(1) as f64,
        floor as f64 * 1000.0 / new.max(1) as f64,
        calls as f64 / floor.max(1) as f64
    );
}

/// A simulator moved `history` ahead, and a worker on a fresh database polling it.
async fn simulator_and_worker(
    params: ScenarioParams,
    history: chrono::Duration,
) -> (SimHandle, Worker, tempfile::TempDir) {
    let sim = SimServer::start(
        "127.0.0.1:0".parse().unwrap(),
        params,
        SimOptions::default(),
    )
    .await
    .expect("simulator starts");
    sim.advance(history);
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(&sim, &sim.base_url(), "bench.db").replace(
        "[worker]\n",
        "[worker]\npage_size = 50\nlookback_days = 400\n",
    );
    let path = dir.path().join("triage.toml");
    std::fs::write(&path, config).unwrap();
    let settings = Arc::new(Settings::load(&path).unwrap());
    let store = Store::open(&settings.database).await.unwrap();
    let tokens = sim_tokens(&sim);
    let sim_clock = sim.clone();
    let worker = Worker::new(
        settings,
        store,
        Arc::new(Classifier::builtin().unwrap()),
        move |name| tokens.get(name).cloned(),
    )
    .with_clock(Arc::new(move || sim_clock.now()));
    (sim, worker, dir)
}
