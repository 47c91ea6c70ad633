//! Poll throughput and API efficiency: the real worker against the simulator on loopback.
//!
//! `cargo bench --bench poll` runs the full size (10 creators on every simulated platform, 1,000
//! posts, about 200,000 comments); `cargo bench --bench poll -- --short` a tenth of it, as CI does.
//!
//! 1. **Throughput**: `triage poll --once` runs as its own process (as a user runs it) against the
//!    simulator served from this process, on a fresh database; comments/s is everything stored
//!    (parse, classify, store) over the child's wall time, and the peak memory is the child's
//!    resident high-water mark.
//!    Beside it, the yardstick the throughput target was set against, measured on the same machine
//!    at the same time: the same comments written by sqlx multi-row inserts alone, into a plain
//!    table and into comment-triage's own (indexed) `comments` table.
//! 2. **Nothing new**: the same worker polls again; it should read no comment page.
//! 3. **Steady state**: a poll every simulated hour while comments keep arriving, calls per 1,000
//!    new comments against a floor of one listing call per account, one call per post checked and
//!    one per page of new comments (`POLL_BENCH_VERBOSE=1` prints each poll).
//!
//! `--throughput-only` skips the steady state; `POLL_BENCH_TRIAGE=path` measures another build
//! of `triage`, to compare two changes on the same machine at the same time.

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DurationRound, Utc};
use comment_triage::classify::Classifier;
use comment_triage::config::Settings;
use comment_triage::demo::{DEMO_PLATFORMS, demo_config, demo_scenario, sim_tokens, thousands};
use comment_triage::sim::{ScenarioParams, SimHandle, SimOptions, SimServer, TruthComment};
use comment_triage::store::Store;
use comment_triage::worker::Worker;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, QueryBuilder, Sqlite};
use tokio_util::sync::CancellationToken;

/// How big a world to poll.
#[derive(Clone, Copy, Debug)]
struct Size {
    accounts: usize,
    posts_per_account: usize,
    /// Top-level comments per post; replies come on top (about 7 %).
    comments_per_post: usize,
}

const FULL: Size = Size {
    accounts: 10,
    posts_per_account: 100,
    comments_per_post: 142,
};

const SHORT: Size = Size {
    accounts: 4,
    posts_per_account: 25,
    comments_per_post: 142,
};

/// A worker still polling after this long is stuck, not slow: the bench fails instead of hanging CI.
const WORKER_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20 * 60);

/// Days of simulated history before the throughput poll: every post's comments have arrived.
const HISTORY_DAYS: i64 = 150;

fn main() {
    let short = std::env::args().any(|a| a == "--short");
    let size = if short { SHORT } else { FULL };
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime.block_on(async {
        throughput(size).await;
        if !std::env::args().any(|a| a == "--throughput-only") {
            steady_state_efficiency().await;
        }
    });
}

async fn throughput(size: Size) {
    // The child process reads the real clock: the world's present is now.
    let start = (Utc::now() - chrono::Duration::days(HISTORY_DAYS))
        .duration_trunc(chrono::Duration::minutes(1))
        .expect("a minute-aligned start");
    let params = ScenarioParams {
        accounts: size.accounts,
        posts_per_account: size.posts_per_account,
        comments_per_post: size.comments_per_post,
        platforms: DEMO_PLATFORMS.to_vec(),
        start,
        ..demo_scenario(7)
    };
    // Throughput of the pipeline, not of the platforms' rate limits: lift them.
    let unlimited = SimOptions {
        hourly_call_budget: u32::MAX,
        youtube_daily_units: u64::MAX,
        tiktok_calls_per_minute: u32::MAX,
        ..SimOptions::default()
    };
    let sim = start_simulator(params, unlimited).await;
    sim.advance(Utc::now() - sim.now());
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(&sim, dir.path(), true);

    let started = Instant::now();
    let simulator_cpu_before = own_cpu_secs();
    let run = run_worker(&config, &sim_tokens(&sim));
    let elapsed = started.elapsed().as_secs_f64();
    // This process serves the simulator while the child polls: its CPU is the simulator's.
    let simulator_cpu = own_cpu_secs() - simulator_cpu_before;
    assert!(
        run.status.success(),
        "triage poll --once failed ({}): {}",
        run.status,
        run.stderr
    );

    let settings = Settings::load(&config).expect("bench config loads");
    let store = Store::open(&settings.database).await.expect("store opens");
    let stored = store.all_comments().await.expect("stored comments").len() as u64;
    store.close().await;
    let every_comment = sim.ground_truth();
    let truth = every_comment.len() as u64;
    assert_eq!(stored, truth, "the store must hold every simulated comment");
    println!(
        "throughput: {} accounts on {} platforms, {} posts, {} comments stored by `triage poll --once` in {elapsed:.2}s = {:.0} comments/s; worker CPU {:.2}s (simulator {simulator_cpu:.2}s), peak memory {:.1} MB; {} API calls",
        size.accounts,
        DEMO_PLATFORMS.len().min(size.accounts),
        size.accounts * size.posts_per_account,
        thousands(stored),
        stored as f64 / elapsed,
        run.cpu_secs,
        run.peak_rss_kb as f64 / 1024.0,
        sim.requests_served()
    );

    println!(
        "SQLite alone (the same comments through sqlx multi-row inserts): {:.0} rows/s into a plain table, {:.0} rows/s into comment-triage's indexed table",
        sqlite_reference(&every_comment, ReferenceTable::Plain).await,
        sqlite_reference(&every_comment, ReferenceTable::Migrated).await
    );
    // The same database, polled again in this process: nothing is new.
    let settings = Arc::new(settings);
    let store = Store::open(&settings.database).await.expect("store opens");
    let worker = worker_on(&sim, settings, store);
    let before = sim.requests_served();
    let started = Instant::now();
    let again = worker.poll_once(&CancellationToken::new()).await.total();
    println!(
        "nothing new: {} comment pages, {} new, {} API calls, {:.3}s",
        again.pages,
        again.inserted,
        sim.requests_served() - before,
        started.elapsed().as_secs_f64()
    );
}

/// What one `triage poll --once` child did.
struct WorkerRun {
    status: std::process::ExitStatus,
    stderr: String,
    peak_rss_kb: i64,
    /// User plus system CPU time of the worker.
    cpu_secs: f64,
}

/// Runs `triage poll --once`, watching its peak memory until it exits.
///
/// The peak is the kernel's high-water mark of the worker's own address space (`VmHWM`), read
/// every few milliseconds while it runs. `wait4`'s `ru_maxrss` would be simpler but is wrong
/// here: the child starts as a copy of this process (which holds the whole simulated world), and
/// Linux carries that copy's size into the child's maximum across `exec`.
#[expect(clippy::zombie_processes, reason = "wait4 reaps the child, not std")]
fn run_worker(config: &Path, tokens: &HashMap<String, String>) -> WorkerRun {
    let stderr = tempfile::NamedTempFile::new().expect("stderr file");
    // `POLL_BENCH_TRIAGE=path` measures another build of `triage` (to compare two changes).
    let triage = std::env::var_os("POLL_BENCH_TRIAGE")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_triage").into());
    let child = Command::new(triage)
        .arg("--config")
        .arg(config)
        .args(["poll", "--once"])
        .envs(tokens)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(stderr.reopen().expect("stderr file"))
        .spawn()
        .expect("triage starts");
    let pid = child.id() as i32;
    let spawned = Instant::now();
    let status_file = format!("/proc/{pid}/status");
    let mut peak_rss_kb = 0;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        if let Some(hwm) = std::fs::read_to_string(&status_file)
            .ok()
            .as_deref()
            .and_then(high_water_mark_kb)
        {
            peak_rss_kb = peak_rss_kb.max(hwm);
        }
        // SAFETY: the pid is our child's, not yet reaped (std never waits on it); both pointers
        // are to live locals.
        let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        assert!(reaped == 0 || reaped == pid, "wait4 on the worker failed");
        if reaped == pid {
            break;
        }
        if spawned.elapsed() > WORKER_DEADLINE {
            // SAFETY: the pid is our unreaped child's.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("triage poll --once still running after {WORKER_DEADLINE:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    WorkerRun {
        status: std::process::ExitStatus::from_raw(status),
        stderr: std::fs::read_to_string(stderr.path()).unwrap_or_default(),
        peak_rss_kb,
        cpu_secs: cpu_secs(&usage),
    }
}

/// User and system CPU this process has used so far, its threads included.
fn own_cpu_secs() -> f64 {
    // SAFETY: an all-zero rusage is a valid value for getrusage to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pointer is to a live local.
    let status = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    assert_eq!(status, 0, "getrusage");
    cpu_secs(&usage)
}

/// User plus system time of a `getrusage`/`wait4` reading, in seconds.
fn cpu_secs(usage: &libc::rusage) -> f64 {
    [usage.ru_utime, usage.ru_stime]
        .iter()
        .map(|t| t.tv_sec as f64 + t.tv_usec as f64 / 1e6)
        .sum()
}

/// `VmHWM:   84016 kB` from `/proc/PID/status`.
fn high_water_mark_kb(status: &str) -> Option<i64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
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
    let sim = start_simulator(params, SimOptions::default()).await;
    sim.advance(chrono::Duration::hours(18));
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(&sim, dir.path(), false);
    let settings = Arc::new(Settings::load(&config).expect("bench config loads"));
    let store = Store::open(&settings.database).await.expect("store opens");
    let worker = worker_on(&sim, settings, store);
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

async fn start_simulator(params: ScenarioParams, options: SimOptions) -> SimHandle {
    SimServer::start(
        "127.0.0.1:0".parse().expect("loopback address"),
        params,
        options,
    )
    .await
    .expect("simulator starts")
}

/// The demo's config for this simulator with a long lookback; without its campaign (and the
/// recipients that name it) when `every_post`, so that every post is polled, sponsored or not.
fn write_config(sim: &SimHandle, dir: &Path, every_post: bool) -> std::path::PathBuf {
    let database = dir.join("bench.db");
    let mut config = demo_config(sim, &sim.base_url(), &database.display().to_string()).replace(
        "[worker]\n",
        "[worker]\nlookback_days = 400\nyoutube_daily_units = 1000000000\n",
    );
    if every_post {
        let end = config
            .find("\n[[campaigns]]")
            .expect("the demo config has a campaign");
        config.truncate(end);
    }
    let path = dir.join("triage.toml");
    std::fs::write(&path, config).expect("config written");
    path
}

/// An in-process worker reading the simulator's clock.
fn worker_on(sim: &SimHandle, settings: Arc<Settings>, store: Store) -> Worker {
    let tokens = sim_tokens(sim);
    let sim_clock = sim.clone();
    Worker::new(
        settings,
        store,
        Arc::new(Classifier::builtin().expect("built-in rules")),
        move |name| tokens.get(name).cloned(),
    )
    .with_clock(Arc::new(move || sim_clock.now()))
}

/// Which table the SQLite yardstick writes to.
#[derive(Clone, Copy)]
enum ReferenceTable {
    /// The comment's columns and its unique key, nothing else: SQLite's floor on this machine.
    Plain,
    /// comment-triage's own `comments` table, as the migrations make it (with its indexes).
    Migrated,
}

/// The yardstick, measured in the same run: the same comments written to SQLite through
/// sqlx multi-row inserts (100 rows a statement, 1,000 a transaction, with the pragmas
/// `Store::open` sets), nothing else: no HTTP, no parsing, no classifier, no answers to find.
/// Every row has the same label, so the open-questions index takes one key over and over: if
/// anything, the yardstick flatters SQLite. Rows per second, the connection's close included.
async fn sqlite_reference(truth: &[TruthComment], table: ReferenceTable) -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("reference.db");
    if let ReferenceTable::Migrated = table {
        Store::open(&path).await.expect("store opens").close().await;
    }
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        // As `Store::open` sets them (see there why).
        .pragma("temp_store", "memory")
        .pragma("cache_size", "-16384")
        .pragma("wal_autocheckpoint", "10000");
    let mut db = sqlx::SqliteConnection::connect_with(&options)
        .await
        .expect("reference database");
    let mut posts = HashMap::new();
    for comment in truth {
        let next = posts.len() as i64 + 1;
        posts.entry(comment.media_id.as_str()).or_insert(next);
    }
    let setup = match table {
        ReferenceTable::Plain => {
            "CREATE TABLE comments (
                id INTEGER PRIMARY KEY, post_id INTEGER NOT NULL, external_id TEXT NOT NULL,
                parent_external_id TEXT, author_handle TEXT NOT NULL, author_role TEXT NOT NULL,
                text TEXT NOT NULL, created_at INTEGER NOT NULL, first_seen_at INTEGER NOT NULL,
                label TEXT NOT NULL, rule TEXT NOT NULL, UNIQUE (post_id, external_id))"
        }
        ReferenceTable::Migrated => {
            "INSERT INTO accounts (id, platform, external_id, name, owner_handle)
             VALUES (1, 'instagram', 'reference', 'reference', 'reference')"
        }
    };
    sqlx::raw_sql(setup)
        .execute(&mut db)
        .await
        .expect("reference setup");
    if let ReferenceTable::Migrated = table {
        for (media, id) in &posts {
            sqlx::query(
                "INSERT INTO posts (id, account_id, external_id, caption, created_at) VALUES (?, 1, ?, '', 0)",
            )
            .bind(id)
            .bind(media)
            .execute(&mut db)
            .await
            .expect("reference post");
        }
    }

    let started = Instant::now();
    for transaction_rows in truth.chunks(1_000) {
        let mut tx = db.begin().await.expect("begin");
        for rows in transaction_rows.chunks(100) {
            let mut insert = QueryBuilder::<Sqlite>::new(
                "INSERT INTO comments (post_id, external_id, parent_external_id, author_handle,
                     author_role, text, created_at, first_seen_at, label, rule) ",
            );
            insert.push_values(rows, |mut row, c| {
                row.push_bind(posts[c.media_id.as_str()])
                    .push_bind(&c.id)
                    .push_bind(&c.parent_id)
                    .push_bind(&c.username)
                    .push_bind("audience")
                    .push_bind(&c.text)
                    .push_bind(c.timestamp.timestamp())
                    .push_bind(c.timestamp.timestamp())
                    .push_bind("not_question")
                    .push_bind("no_question_signal");
            });
            insert.build().execute(&mut *tx).await.expect("insert");
        }
        tx.commit().await.expect("commit");
    }
    db.close().await.expect("reference database closes");
    truth.len() as f64 / started.elapsed().as_secs_f64()
}
