//! `triage run`: the polling worker and the digest scheduler in one long-running process.
//!
//! Both loops share one cancellation token: on Ctrl-C or SIGTERM the worker finishes the page in
//! hand, the scheduler finishes the delivery in hand, and the process exits. A health line is
//! logged after every scheduler tick that did something, and every ten minutes regardless.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::classify::Classifier;
use crate::config::Settings;
use crate::digest::Dispatcher;
use crate::digest::deliver::{Channels, SecretLookup};
use crate::store::Store;
use crate::worker::Worker;

/// How often the scheduler looks for due digests and pending deliveries.
const DISPATCH_TICK: Duration = Duration::from_secs(30);
const HEALTH_EVERY: Duration = Duration::from_secs(600);

/// Runs the worker and the scheduler until `cancel` fires.
///
/// # Errors
/// The delivery channels cannot be set up.
pub async fn run_until_stopped(
    settings: Arc<Settings>,
    store: Store,
    classifier: Arc<Classifier>,
    secrets: SecretLookup,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let lookup = secrets.clone();
    let worker = Worker::new(settings.clone(), store.clone(), classifier, move |name| {
        lookup(name)
    })
    .with_progress(crate::progress::ProgressOutput::detect());
    let dispatcher = Dispatcher::new(
        settings.clone(),
        store.clone(),
        Channels::new(settings.smtp.clone(), secrets)?,
    );
    tracing::info!(
        accounts = settings.accounts.len(),
        recipients = settings.recipients.len(),
        "triage run: polling and sending digests"
    );
    let polling = worker.run_until_stopped(cancel.clone());
    let dispatching = async {
        let mut last_health = std::time::Instant::now() - HEALTH_EVERY;
        loop {
            match dispatcher.run_once(Utc::now()).await {
                Ok(report) => {
                    let busy = !(report.rendered.is_empty()
                        && report.sent.is_empty()
                        && report.failed.is_empty());
                    if busy || last_health.elapsed() >= HEALTH_EVERY {
                        log_health(&store, &report).await;
                        last_health = std::time::Instant::now();
                    }
                }
                Err(error) => tracing::error!(error = %error, "digest scheduler failed; retrying"),
            }
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(DISPATCH_TICK) => {}
            }
        }
    };
    tokio::join!(polling, dispatching);
    tracing::info!("triage run stopped");
    Ok(())
}

async fn log_health(store: &Store, report: &crate::digest::DispatchReport) {
    let accounts = store.account_health().await.unwrap_or_default();
    let failing = accounts.iter().filter(|a| a.fail_count > 0).count();
    tracing::info!(
        accounts = accounts.len(),
        accounts_failing = failing,
        digests_rendered = report.rendered.len(),
        deliveries_sent = report.sent.len(),
        deliveries_failed = report.failed.len(),
        "health"
    );
}
