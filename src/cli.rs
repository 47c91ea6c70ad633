//! The `triage` command line: clap types and dispatch only. Each subcommand loads what it needs
//! and calls into the library; errors become one `error: …` line with their cause chain.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::classify::{Classifier, ClassifierBuilder};
use crate::config::{RecipientSettings, Settings};
use crate::demo::{DemoOptions, run_demo};
use crate::digest::deliver::{Channels, SecretLookup};
use crate::digest::{Dispatcher, Format, compose_digest, render_digest};
use crate::sim::{ScenarioParams, SimOptions};
use crate::store::Store;
use crate::worker::Worker;

#[derive(Debug, Subcommand)]
enum DigestAction {
    /// Send a recipient's digest on their channels now: the current slot's digest unless it was
    /// already sent, or with `--now` a one-off digest regardless of the schedule.
    Send {
        #[arg(long)]
        recipient: String,
        #[arg(long)]
        now: bool,
    },
}

/// Find the product questions in the comments on sponsored posts, and make sure somebody answers
/// them.
#[derive(Debug, Parser)]
#[command(name = "triage", version, about)]
pub struct Cli {
    /// The TOML config file.
    #[arg(
        long,
        global = true,
        env = "TRIAGE_CONFIG",
        default_value = "triage.toml"
    )]
    config: PathBuf,
    /// More log output (-v: debug, -vv: trace). `RUST_LOG` overrides it.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole pipeline on the bundled simulator: no config, token or network needed.
    Demo {
        /// Keep the demo's database and a matching config (DIR/triage.toml) in DIR.
        #[arg(long, value_name = "DIR")]
        keep: Option<PathBuf>,
        /// Scenario seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Also email the digest through this plain SMTP relay (`HOST:PORT`, no TLS, no auth).
        #[arg(long, value_name = "HOST:PORT", requires = "to")]
        smtp: Option<String>,
        /// The address the demo's digest is emailed to.
        #[arg(long, value_name = "ADDRESS", requires = "smtp")]
        to: Option<String>,
    },
    /// Serve the platform simulator (Instagram Graph, Facebook Pages, YouTube Data v3, TikTok Business) on loopback.
    Sim {
        #[arg(long, default_value = "127.0.0.1:8089")]
        listen: SocketAddr,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Simulated seconds per real second: comments keep arriving at this pace.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Share of requests that fail (5xx, truncated or HTML bodies, throttling), from the seed.
        #[arg(long, default_value_t = 0.0)]
        fault_rate: f64,
        /// Creators; they take the platforms Instagram, Facebook, YouTube, TikTok in turn.
        #[arg(long, default_value_t = crate::demo::DEMO_PLATFORMS.len())]
        accounts: usize,
        #[arg(long, default_value_t = 4)]
        posts_per_account: usize,
        #[arg(long, default_value_t = 60)]
        comments_per_post: usize,
        /// Expire access tokens on the simulated clock (Instagram 60 days, YouTube 1 h, TikTok
        /// 24 h), so the worker's refreshes are exercised; refresh tokens are printed too.
        #[arg(long)]
        token_lifetimes: bool,
    },
    /// Poll every configured account: once, or every `worker.poll_interval_secs` until Ctrl-C.
    Poll {
        /// One cycle, then exit (non-zero if any account failed).
        #[arg(long)]
        once: bool,
        /// With --once: read every post to its end (edits, deletions, and a reply whose count a
        /// deletion cancelled out), as the schedule otherwise does once a day or less. Before
        /// an audit, say.
        #[arg(long, requires = "once")]
        full: bool,
    },
    /// Print a recipient's digest of unanswered product questions, or send it (`digest send`).
    #[command(args_conflicts_with_subcommands = true)]
    Digest {
        #[command(subcommand)]
        action: Option<DigestAction>,
        #[arg(long)]
        recipient: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// The daemon: poll every `worker.poll_interval_secs` and send each recipient's digest at
    /// their local send times, until Ctrl-C or SIGTERM.
    Run,
    /// Classify JSON Lines (`{"id", "text"}` per line) from a file or stdin.
    Classify {
        /// A rule file that extends or overrides the built-in rules.
        #[arg(long)]
        rules: Option<PathBuf>,
        #[arg(long)]
        input: Option<PathBuf>,
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Precision, recall and errors of the rules on a labelled corpus.
    Eval {
        #[arg(long)]
        corpus: PathBuf,
        #[arg(long)]
        rules: Option<PathBuf>,
        /// The report as JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Poll health of every account.
    Status,
    /// Audit a campaign: answers, response times, missed questions and revenue at risk per creator
    /// and post.
    Audit {
        #[arg(long)]
        campaign: String,
        /// First day of the questions audited (UTC, inclusive), `YYYY-MM-DD`.
        #[arg(long)]
        since: Option<chrono::NaiveDate>,
        /// Last day of the questions audited (UTC, inclusive), `YYYY-MM-DD`.
        #[arg(long)]
        until: Option<chrono::NaiveDate>,
        #[arg(long, value_enum, default_value_t = crate::audit::AuditFormat::Table)]
        format: crate::audit::AuditFormat,
        /// Write to this file (CSV: and the summary beside it, as FILE.summary.csv).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

impl Cli {
    pub fn log_filter(&self) -> &'static str {
        match self.verbose {
            0 => "info,sqlx=warn",
            1 => "debug,sqlx=warn,hyper=info,reqwest=info",
            _ => "trace",
        }
    }

    /// Runs the subcommand.
    ///
    /// # Errors
    /// Whatever stopped the command, with context.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        match self.command {
            Command::Demo {
                keep,
                seed,
                smtp,
                to,
            } => {
                run_demo(DemoOptions {
                    keep,
                    seed,
                    smtp,
                    to,
                })
                .await?;
                Ok(ExitCode::SUCCESS)
            }
            Command::Sim {
                listen,
                seed,
                speed,
                fault_rate,
                accounts,
                posts_per_account,
                comments_per_post,
                token_lifetimes,
            } => {
                if !(0.0..=1.0).contains(&fault_rate) {
                    bail!("--fault-rate must be between 0 and 1");
                }
                // The same world as `triage demo --seed N`, its clock at the real time.
                let (demo, warmup) = crate::demo::standalone_scenario(seed);
                let params = ScenarioParams {
                    accounts,
                    posts_per_account,
                    comments_per_post,
                    ..demo
                };
                let options = SimOptions {
                    fault_rate,
                    token_lifetimes: token_lifetimes.then(crate::sim::TokenLifetimes::default),
                    ..SimOptions::default()
                };
                crate::sim::serve(listen, params, options, warmup, speed).await?;
                Ok(ExitCode::SUCCESS)
            }
            Command::Poll { once, full } => poll(&self.config, once, full).await,
            Command::Digest {
                action: Some(DigestAction::Send { recipient, now }),
                ..
            } => send_digest(&self.config, &recipient, now).await,
            Command::Digest {
                action: None,
                recipient,
                format,
            } => {
                let recipient = recipient.context("--recipient NAME is required")?;
                let settings = Settings::load(&self.config)?;
                let text = digest(&settings, &recipient, format).await?;
                print!("{text}");
                Ok(ExitCode::SUCCESS)
            }
            Command::Run => {
                let settings = Arc::new(Settings::load(&self.config)?);
                let classifier = Arc::new(classifier_for(&settings)?);
                let store = Store::open(&settings.database).await?;
                let cancel = CancellationToken::new();
                stop_on_signal(cancel.clone());
                crate::daemon::run_until_stopped(
                    settings,
                    store.clone(),
                    classifier,
                    env_secrets(),
                    cancel,
                )
                .await?;
                store.close().await;
                Ok(ExitCode::SUCCESS)
            }
            Command::Classify {
                rules,
                input,
                output,
            } => classify(rules.as_deref(), input.as_deref(), output.as_deref()),
            Command::Eval {
                corpus,
                rules,
                json,
            } => {
                let classifier = classifier_with(rules.as_deref())?;
                let file = File::open(&corpus)
                    .with_context(|| format!("cannot open the corpus {}", corpus.display()))?;
                let report = crate::classify::eval::evaluate(&classifier, BufReader::new(file))
                    .with_context(|| format!("cannot evaluate {}", corpus.display()))?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&report)?);
                } else {
                    print!("{report}");
                }
                Ok(ExitCode::SUCCESS)
            }
            Command::Audit {
                campaign,
                since,
                until,
                format,
                out,
            } => {
                let settings = Settings::load(&self.config)?;
                let request = crate::audit::AuditRequest {
                    campaign,
                    since,
                    until,
                    format,
                    out,
                };
                print!("{}", crate::audit::run_audit(&settings, &request).await?);
                Ok(ExitCode::SUCCESS)
            }
            Command::Status => {
                let settings = Settings::load(&self.config)?;
                let store = Store::open(&settings.database).await?;
                print!(
                    "{}",
                    crate::status::render(&store.account_health().await?, chrono::Utc::now())
                );
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}

/// The built-in rules, extended by the config's rule files and campaigns' product terms.
///
/// # Errors
/// A rule file is missing or invalid.
pub fn classifier_for(settings: &Settings) -> anyhow::Result<Classifier> {
    let mut builder = ClassifierBuilder::new();
    for file in &settings.classifier.rule_files {
        builder = builder.rule_file(file)?;
    }
    Ok(builder.product_terms(&settings.product_terms()).build()?)
}

fn classifier_with(rules: Option<&Path>) -> anyhow::Result<Classifier> {
    let mut builder = ClassifierBuilder::new();
    if let Some(rules) = rules {
        builder = builder.rule_file(rules)?;
    }
    Ok(builder.build()?)
}

async fn poll(config: &Path, once: bool, full: bool) -> anyhow::Result<ExitCode> {
    let cancel = CancellationToken::new();
    stop_on_signal(cancel.clone());
    let settings = Arc::new(Settings::load(config)?);
    if settings.accounts.is_empty() {
        bail!("{}: no [[accounts]] to poll", config.display());
    }
    let classifier = Arc::new(classifier_for(&settings)?);
    let store = Store::open(&settings.database).await?;
    let worker = Worker::new(settings, store.clone(), classifier, |name| {
        std::env::var(name).ok()
    })
    .with_progress(crate::progress::ProgressOutput::detect());
    let code = if once {
        let report = if full {
            worker.poll_full(&cancel).await
        } else {
            worker.poll_once(&cancel).await
        };
        print!("{report}");
        if report.failures() > 0 {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    } else {
        worker.run_until_stopped(cancel).await;
        ExitCode::SUCCESS
    };
    store.close().await;
    Ok(code)
}

/// Cancels on Ctrl-C or SIGTERM: the worker finishes the page in hand and exits.
///
/// The handlers are registered before this returns (not when a spawned task first runs), so a
/// signal that arrives while the first poll starts up is not lost to the default action.
pub fn stop_on_signal(cancel: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let (Ok(mut interrupt), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            tokio::spawn(async move {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = term.recv() => {}
                }
                tracing::info!("stop requested: finishing the page in hand");
                cancel.cancel();
            });
            return;
        }
    }
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("stop requested: finishing the page in hand");
        cancel.cancel();
    });
}

/// Renders the digest of one recipient, now.
///
/// # Errors
/// Unknown recipient, or the database cannot be read.
pub async fn digest(
    settings: &Settings,
    recipient: &str,
    format: Format,
) -> anyhow::Result<String> {
    let recipient = find_recipient(settings, recipient)?;
    let store = Store::open(&settings.database).await?;
    let digest = compose_digest(&store, settings, recipient, chrono::Utc::now()).await?;
    store.close().await;
    Ok(render_digest(&digest, format))
}

fn find_recipient<'a>(settings: &'a Settings, name: &str) -> anyhow::Result<&'a RecipientSettings> {
    settings.recipient(name).with_context(|| {
        let known: Vec<&str> = settings
            .recipients
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        format!(
            "no recipient named {name:?} (configured: {})",
            known.join(", ")
        )
    })
}

/// Secrets (webhook URLs, SMTP password, signing keys) come from the process environment.
fn env_secrets() -> SecretLookup {
    Arc::new(|name| std::env::var(name).ok())
}

async fn send_digest(config: &Path, recipient: &str, one_off: bool) -> anyhow::Result<ExitCode> {
    let settings = Arc::new(Settings::load(config)?);
    let recipient = find_recipient(&settings, recipient)?.clone();
    if recipient.channels.is_empty() {
        bail!("recipient {:?} has no channels to send to", recipient.name);
    }
    let store = Store::open(&settings.database).await?;
    let channels = Channels::new(settings.smtp.clone(), env_secrets())?;
    let dispatcher = Dispatcher::new(settings.clone(), store.clone(), channels);
    let report = dispatcher
        .send_now(&recipient, chrono::Utc::now(), one_off)
        .await?;
    store.close().await;
    for (recipient, period) in &report.rendered {
        println!("{recipient}: digest for {period} rendered");
    }
    for (recipient, channel) in &report.sent {
        println!("{recipient}: sent to {channel}");
    }
    for (recipient, channel, error) in &report.failed {
        println!("{recipient}: {channel} FAILED ({error}); kept pending, `triage run` retries it");
    }
    if report.rendered.is_empty() && report.sent.is_empty() && report.failed.is_empty() {
        println!(
            "{}: this period's digest was already sent; use --now for a one-off",
            recipient.name
        );
    }
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn classify(
    rules: Option<&Path>,
    input: Option<&Path>,
    output: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let classifier = classifier_with(rules)?;
    let reader: Box<dyn BufRead> = match input {
        Some(path) => Box::new(BufReader::with_capacity(
            1 << 16,
            File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
        )),
        None => Box::new(BufReader::with_capacity(1 << 16, std::io::stdin().lock())),
    };
    let writer: Box<dyn Write> = match output {
        Some(path) => Box::new(BufWriter::with_capacity(
            1 << 16,
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(BufWriter::with_capacity(1 << 16, std::io::stdout().lock())),
    };
    let stats = crate::classify::jsonl::classify_jsonl(
        &classifier,
        reader,
        writer,
        std::io::stderr().lock(),
    )?;
    if stats.bad > 0 {
        eprintln!(
            "{} of {} lines could not be read",
            stats.bad,
            stats.bad + stats.good
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
