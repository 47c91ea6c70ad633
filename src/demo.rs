//! `triage demo`: the whole pipeline on the bundled simulator, in seconds, with no config, no
//! token and no network.
//!
//! It starts the simulator (one creator each on Instagram, Facebook, YouTube and TikTok) in-process
//! on a free loopback port, writes a config for its
//! accounts (a campaign named `demo` and one recipient per creator plus the brand), polls, lets
//! six simulated hours pass (creators answer some questions, new comments arrive), polls again,
//! and prints the brand's digest with a summary whose counts can be checked against the
//! simulator's own ground truth.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use chrono::{DurationRound, Utc};
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::config::{ChannelSettings, SmtpSecurity, SmtpSettings};
use crate::digest::compose_digest;
use crate::digest::deliver::{Channels, Rendered, render_all};
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
    /// `HOST:PORT` of a plain SMTP relay (no TLS, no auth) to send the demo's digest through.
    pub smtp: Option<String>,
    /// The address that receives it.
    pub to: Option<String>,
}

/// What the demo found, next to what the simulator planted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoReport {
    pub totals: Totals,
    /// Comments and replies the simulator shows on the campaign's posts at the end.
    pub simulator_comments: usize,
    /// Top-level audience comments the simulator generated as product questions.
    pub simulator_product_questions: usize,
    /// Of those, how many the classifier flagged as product questions.
    pub planted_found: usize,
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
    let tokens = sim_tokens(&sim);
    let sim_clock = sim.clone();
    let worker = Worker::new(settings.clone(), store.clone(), classifier, |name| {
        tokens.get(name).cloned()
    })
    .with_clock(Arc::new(move || sim_clock.now()));
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
    let brand = settings
        .recipient("glowlab")
        .context("the demo config has the brand recipient")?;
    let digest = compose_digest(&store, &settings, brand, sim.now()).await?;
    let rendered = render_all(&digest, "demo");
    println!("\n{}", rendered.text);
    if let Some(smtp) = &options.smtp {
        send_demo_email(smtp, options.to.as_deref(), &rendered).await?;
    }
    let digest = rendered.text;

    // Compare with the simulator's ground truth on the campaign's posts (the only ones polled).
    let truth = sim.ground_truth();
    let stored = store.all_comments().await?;
    let campaign_posts: HashSet<&str> =
        stored.iter().map(|c| c.post_external_id.as_str()).collect();
    let found: HashSet<&str> = stored
        .iter()
        .filter(|c| c.label.is_product_question())
        .map(|c| c.external_id.as_str())
        .collect();
    let planted: Vec<_> = truth
        .iter()
        .filter(|c| campaign_posts.contains(c.media_id.as_str()))
        .filter(|c| c.parent_id.is_none() && !c.by_owner && !c.by_brand)
        .filter(|c| c.intended.is_product_question())
        .collect();
    let report = DemoReport {
        totals,
        simulator_comments: truth
            .iter()
            .filter(|c| campaign_posts.contains(c.media_id.as_str()))
            .count(),
        simulator_product_questions: planted.len(),
        planted_found: planted
            .iter()
            .filter(|c| found.contains(c.id.as_str()))
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
        let simulated = truth
            .iter()
            .filter(|c| c.platform == platform && campaign_posts.contains(c.media_id.as_str()))
            .count();
        println!(
            "{platform}: {} comments (simulator: {}), {} product questions, {} open",
            thousands(on.comments),
            thousands(simulated as u64),
            on.product_questions,
            on.open_product_questions
        );
    }
    println!(
        "summary: {} comments seen (simulator: {}) · {} product questions found ({} of the {} the simulator planted) · {} answered · {} still open · {:.1}s",
        report.totals.comments,
        report.simulator_comments,
        report.totals.product_questions,
        report.planted_found,
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
pub const DEMO_PLATFORMS: [Platform; 4] = [
    Platform::Instagram,
    Platform::Facebook,
    Platform::Youtube,
    Platform::Tiktok,
];

/// [`demo_scenario`] with one creator per platform of [`DEMO_PLATFORMS`].
pub fn demo_world(seed: u64) -> ScenarioParams {
    ScenarioParams {
        accounts: DEMO_PLATFORMS.len(),
        platforms: DEMO_PLATFORMS.to_vec(),
        ..demo_scenario(seed)
    }
}

/// `1204` → `1,204`.
pub fn thousands(n: u64) -> String {
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

/// The simulator's tokens under the variable names [`demo_config`] gives them.
pub fn sim_tokens(sim: &SimHandle) -> HashMap<String, String> {
    sim.accounts()
        .into_iter()
        .enumerate()
        .map(|(i, a)| (token_env(i), a.token))
        .collect()
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
        "\n[[campaigns]]\nname = \"demo\"\nbrand = \"GlowLab\"\nbrand_handle = \"{}\"\naccounts = [{}]\nhashtags = [\"#ad\", \"#sponsored\"]\nmentions = [\"@{}\"]\nproduct_terms = [\"serum\", \"glowlab\"]\ndiscount_codes = [\"JESS15\", \"GRACE15\"]\n\n[campaigns.answer_templates]\nprice = \"Hi @{{author}}! It's $29 (30 ml) at glowlab.com, code GLOW15 takes 15% off 💛\"\navailability = \"Hi @{{author}}! Link in bio, or glowlab.com/shop 💛\"\nshipping = \"Hi @{{author}}! GlowLab ships to the US, Canada, the UK and the EU 🌍\"\ndiscount = \"Hi @{{author}}! GLOW15 gives 15% off at checkout; if it fails, DM us and we'll fix it\"\n",
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

/// Sends the demo's digest as email through a local relay (plain SMTP, no auth).
async fn send_demo_email(relay: &str, to: Option<&str>, rendered: &Rendered) -> anyhow::Result<()> {
    let to = to.context("--smtp needs --to ADDRESS")?;
    let (host, port) = relay
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_owned(), p.parse::<u16>().ok()?)))
        .with_context(|| format!("--smtp {relay:?} is not HOST:PORT"))?;
    let smtp = SmtpSettings {
        host,
        port,
        security: SmtpSecurity::None,
        username: None,
        password_env: None,
        from: "comment-triage demo <demo@comment-triage.invalid>".into(),
        timeout_secs: 10,
    };
    let channels = Channels::new(Some(smtp), std::sync::Arc::new(|_| None))?;
    let channel = ChannelSettings::Email { to: to.to_owned() };
    let key = format!("demo-{}", Utc::now().timestamp());
    channels
        .send(&channel, rendered, &key)
        .await
        .with_context(|| format!("cannot send the demo digest through {relay}"))?;
    println!("digest emailed to {to} through {relay}");
    Ok(())
}
