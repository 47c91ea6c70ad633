//! `triage demo`: the whole pipeline on the bundled simulator, in seconds, with no config, no
//! token and no network.
//!
//! It starts the simulator (one creator each on Instagram, YouTube and TikTok) in-process on a free loopback port, writes a config for its
//! accounts (a campaign named `demo` and one recipient per creator plus the brand), polls, lets
//! six simulated hours pass (creators answer some questions, new comments arrive), polls again,
//! and prints the brand's digest with a summary whose counts can be checked against the
//! simulator's own ground truth.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use chrono::{DurationRound, Utc};
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::digest::{Format, build_digest, render_digest};
use crate::domain::Platform;
use crate::sim::{ScenarioParams, SimHandle, SimOptions, SimServer};
use crate::store::{QuestionScope, Store, Totals};
use crate::worker::Worker;

/// Simulated time between the demo's two polls.
const HOURS_BETWEEN_POLLS: i64 = 6;
/// Simulated history before the first poll: the campaign has been running for two days.
const WARMUP_HOURS: i64 = 48;
/// Where `triage sim` listens by default, written into a kept config.
const STANDALONE_SIM: &str = "http://127.0.0.1:8089/v23.0";

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub keep: Option<PathBuf>,
    pub seed: u64,
}

/// What the demo found, next to what the simulator planted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoReport {
    pub totals: Totals,
    /// Comments and replies the simulator shows at the end.
    pub simulator_comments: usize,
    /// Top-level audience comments the simulator generated as product questions.
    pub simulator_product_questions: usize,
    /// Of those, answered by the owner by the end.
    pub simulator_answered: usize,
    pub digest: String,
}

/// Runs the demo and prints its progress, the digest and the summary to stdout.
///
/// # Errors
/// The simulator cannot start, the database cannot be written, or a poll fails.
pub async fn run_demo(options: DemoOptions) -> anyhow::Result<DemoReport> {
    let started = std::time::Instant::now();
    let params = demo_world(options.seed);
    let sim = SimServer::start(
        "127.0.0.1:0".parse().expect("valid address"),
        params,
        SimOptions::default(),
    )
    .await
    .context("cannot start the simulator")?;
    let temp;
    let dir = match &options.keep {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            dir.clone()
        }
        None => {
            temp = tempfile::tempdir().context("cannot create a temporary folder")?;
            temp.path().to_owned()
        }
    };
    let database = dir.join("triage.db");
    if database.exists() {
        std::fs::remove_file(&database)
            .with_context(|| format!("cannot replace {}", database.display()))?;
    }
    println!(
        "comment-triage demo: simulator on {} (seed {}), database {}",
        sim.base_url(),
        options.seed,
        database.display()
    );

    let config = demo_config(&sim, &sim.base_url(), "triage.db");
    let mut settings =
        Settings::parse(&config, &dir.join("triage.toml")).context("the demo config is invalid")?;
    settings.database = database.clone();
    let settings = Arc::new(settings);
    let store = Store::open(&database).await?;
    let classifier = Arc::new(crate::cli::classifier_for(&settings)?);
    let tokens: Vec<(String, String)> = sim
        .accounts()
        .into_iter()
        .enumerate()
        .map(|(i, a)| (token_env(i), a.token))
        .collect();
    let worker = Worker::new(settings.clone(), store.clone(), classifier, |name| {
        tokens
            .iter()
            .find(|(env, _)| env == name)
            .map(|(_, t)| t.clone())
    });
    let cancel = CancellationToken::new();

    sim.advance(chrono::Duration::hours(WARMUP_HOURS));
    let first = worker.poll_once(&cancel).await;
    print_poll("poll 1", &first);
    println!(
        "… {HOURS_BETWEEN_POLLS} simulated hours pass: creators answer some questions, new comments arrive …"
    );
    sim.advance(chrono::Duration::hours(HOURS_BETWEEN_POLLS));
    let second = worker.poll_once(&cancel).await;
    print_poll("poll 2", &second);
    if first.failures() + second.failures() > 0 {
        anyhow::bail!("a demo poll failed:\n{first}{second}");
    }

    let scope = QuestionScope::Campaign("demo".into());
    let totals = store.totals(&scope).await?;
    let questions = store.open_product_questions(&scope).await?;
    let digest = build_digest("glowlab", chrono_tz::UTC, questions, totals, sim.now());
    let digest = render_digest(&digest, Format::Text);
    println!("\n{digest}");

    let posts = sim.posts();
    // The posts the campaign covers: the only ones polled, so the only ones to compare.
    let sponsored: std::collections::HashSet<&str> = posts
        .iter()
        .filter(|p| {
            let media = crate::domain::Media {
                external_id: p.id.clone(),
                caption: p.caption.clone(),
                permalink: None,
                created_at: p.timestamp,
                comments_count: None,
            };
            settings.accounts.iter().any(|a| {
                a.account_id == p.account_id
                    && settings
                        .campaigns_of(&a.name)
                        .any(|c| c.covers(&a.name, &media))
            })
        })
        .map(|p| p.id.as_str())
        .collect();
    let truth: Vec<_> = sim
        .ground_truth()
        .into_iter()
        .filter(|c| sponsored.contains(c.media_id.as_str()))
        .collect();
    let planted: Vec<_> = truth
        .iter()
        .filter(|c| c.parent_id.is_none() && !c.by_owner && !c.by_brand)
        .filter(|c| c.intended.is_product_question())
        .collect();
    let report = DemoReport {
        totals,
        simulator_comments: truth.len(),
        simulator_product_questions: planted.len(),
        simulator_answered: planted
            .iter()
            .filter(|c| c.answered_by_owner_at.is_some())
            .count(),
        digest,
    };
    for platform in DEMO_PLATFORMS {
        let names: Vec<String> = settings
            .accounts
            .iter()
            .filter(|a| a.platform == platform)
            .map(|a| a.name.clone())
            .collect();
        let on = store.totals(&QuestionScope::Accounts(names)).await?;
        let simulated = truth.iter().filter(|c| c.platform == platform).count();
        println!(
            "{platform}: {} comments (simulator: {simulated}), {} product questions, {} open",
            thousands(on.comments),
            on.product_questions,
            on.open_product_questions
        );
    }
    println!(
        "summary: {} comments seen (simulator: {}) · {} product questions found (simulator planted {}) · {} answered · {} still open · {:.1}s",
        report.totals.comments,
        report.simulator_comments,
        report.totals.product_questions,
        report.simulator_product_questions,
        report.totals.answered_product_questions,
        report.totals.open_product_questions,
        started.elapsed().as_secs_f64()
    );
    store.close().await;
    if let Some(dir) = &options.keep {
        let kept = demo_config(&sim, STANDALONE_SIM, "triage.db");
        std::fs::write(dir.join("triage.toml"), kept)
            .with_context(|| format!("cannot write {}", dir.join("triage.toml").display()))?;
        println!(
            "kept: {0}/triage.db and {0}/triage.toml — try `triage --config {0}/triage.toml digest --recipient glowlab`",
            dir.display()
        );
    }
    sim.shutdown();
    Ok(report)
}

/// A scenario whose clock reaches the real time at the end of the demo (after the warm-up and the
/// hours between polls), so the demo's data is recent and every age in the digest is real.
pub fn demo_scenario(seed: u64) -> ScenarioParams {
    let history = chrono::Duration::hours(
        crate::sim::INITIAL_CLOCK_OFFSET_HOURS + WARMUP_HOURS + HOURS_BETWEEN_POLLS,
    );
    let start = (Utc::now() - history)
        .duration_trunc(chrono::Duration::minutes(1))
        .unwrap_or_else(|_| Utc::now() - history);
    ScenarioParams {
        seed,
        start,
        ..ScenarioParams::default()
    }
}

/// The platforms of the demo's creators, one account each.
pub const DEMO_PLATFORMS: [Platform; 3] =
    [Platform::Instagram, Platform::Youtube, Platform::Tiktok];

/// [`demo_scenario`] with one creator per platform of [`DEMO_PLATFORMS`].
pub fn demo_world(seed: u64) -> ScenarioParams {
    ScenarioParams {
        accounts: DEMO_PLATFORMS.len(),
        platforms: DEMO_PLATFORMS.to_vec(),
        ..demo_scenario(seed)
    }
}

/// `1204` → `1,204`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The demo's world for `triage sim`, and how far to move its clock so that it reads the real
/// time when the server starts.
pub fn standalone_scenario(seed: u64) -> (ScenarioParams, chrono::Duration) {
    let params = demo_world(seed);
    let clock = params.start + chrono::Duration::hours(crate::sim::INITIAL_CLOCK_OFFSET_HOURS);
    (params, (Utc::now() - clock).max(chrono::Duration::zero()))
}

pub fn token_env(index: usize) -> String {
    format!("TRIAGE_DEMO_TOKEN_{}", index + 1)
}

fn print_poll(title: &str, report: &crate::worker::CycleReport) {
    let total = report.total();
    println!(
        "{title}: {} accounts, {} posts, {} pages, {} comments read, {} new, {} answered",
        report.accounts.len(),
        total.posts,
        total.pages,
        total.fetched,
        total.inserted,
        total.answered
    );
}

/// The simulator's base URL for a platform, from its Graph base URL (`…/v23.0`): the route
/// families share one origin.
fn platform_base_url(graph_base_url: &str, platform: crate::domain::Platform) -> String {
    use crate::domain::Platform;
    let origin = graph_base_url
        .strip_suffix(&format!("/{}", crate::sim::API_VERSION))
        .unwrap_or(graph_base_url);
    match platform {
        Platform::Instagram | Platform::Facebook => graph_base_url.to_owned(),
        Platform::Youtube => format!("{origin}/youtube/v3"),
        Platform::Tiktok => format!("{origin}/open_api/v1.3"),
    }
}

/// A config for the simulator's accounts: one campaign `demo` sponsored by GlowLab, one recipient
/// per creator and one for the brand. Account `i`'s token is read from `TRIAGE_DEMO_TOKEN_<i+1>`.
pub fn demo_config(sim: &SimHandle, base_url: &str, database: &str) -> String {
    let accounts = sim.accounts();
    let brand = sim.brand();
    let mut out = format!(
        "# comment-triage demo config, written by `triage demo --keep`.\n\
         # Poll again against the standalone simulator: `triage sim` (it prints each account's\n\
         # token), export the tokens below, then `triage --config <this file> poll --once`.\n\
         database = \"{database}\"\n\n[worker]\npoll_interval_secs = 60\nbackoff_base_ms = 50\nbackoff_max_ms = 2000\n"
    );
    let names: Vec<String> = accounts.iter().map(|a| a.username.clone()).collect();
    for (i, account) in accounts.iter().enumerate() {
        out.push_str(&format!(
            "\n[[accounts]]\nname = \"{}\"\nplatform = \"{}\"\naccount_id = \"{}\"\nowner_handle = \"{}\"\napi_base_url = \"{}\"\ntoken_env = \"{}\"\n",
            account.username,
            account.platform,
            account.id,
            account.username,
            platform_base_url(base_url, account.platform),
            token_env(i)
        ));
    }
    out.push_str(&format!(
        "\n[[campaigns]]\nname = \"demo\"\nbrand = \"GlowLab\"\nbrand_handle = \"{}\"\naccounts = [{}]\nhashtags = [\"#ad\", \"#sponsored\"]\nmentions = [\"@{}\"]\nproduct_terms = [\"serum\", \"glowlab\"]\n",
        brand.username,
        names
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", "),
        brand.username
    ));
    for name in &names {
        out.push_str(&format!(
            "\n[[recipients]]\nname = \"{name}\"\nrole = \"influencer\"\naccounts = [\"{name}\"]\ntimezone = \"Europe/Madrid\"\n"
        ));
    }
    out.push_str(
        "\n[[recipients]]\nname = \"glowlab\"\nrole = \"brand\"\ncampaign = \"demo\"\ntimezone = \"America/New_York\"\n",
    );
    out
}
