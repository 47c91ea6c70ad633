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
use comment_triage::sim::{ScenarioParams, SimOptions, SimServer};
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
    let sim = SimServer::start(
        "127.0.0.1:0".parse().unwrap(),
        params.clone(),
        SimOptions::default(),
    )
    .await
    .expect("simulator starts");
    // Let the whole scenario happen, so one poll reads every comment.
    sim.advance(chrono::Duration::days(40));
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
    let worker = Worker::new(
        settings,
        store.clone(),
        Arc::new(Classifier::builtin().unwrap()),
        move |name| tokens.get(name).cloned(),
    );
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
}
