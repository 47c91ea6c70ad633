//! Progress of a long poll cycle — typically the first backfill of a large account: a bar on a
//! terminal, a log line every [`LOG_EVERY`] otherwise (under systemd, in CI, piped to a file).
//!
//! The worker announces how many comments each planned walk should read (the platform's counts)
//! and reports each page it stores; cycles expected to read fewer than [`SHOW_FROM`] comments —
//! the steady state — show nothing.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Cycles expected to read fewer comments than this show no progress.
pub const SHOW_FROM: u64 = 2_000;

/// How often a progress line is logged when there is no terminal.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// Where progress goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressOutput {
    /// A bar on standard error.
    Terminal,
    /// `tracing` info lines every [`LOG_EVERY`].
    Log,
}

impl ProgressOutput {
    /// A bar when standard error is a terminal, log lines otherwise.
    pub fn detect() -> ProgressOutput {
        use std::io::IsTerminal;
        if std::io::stderr().is_terminal() {
            ProgressOutput::Terminal
        } else {
            ProgressOutput::Log
        }
    }
}

/// The progress of one poll cycle, shared by the accounts polled concurrently.
#[derive(Debug)]
pub struct CycleProgress {
    output: ProgressOutput,
    expected: AtomicU64,
    read: AtomicU64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    started: Instant,
    last_log: Instant,
    bar: Option<ProgressBar>,
}

impl CycleProgress {
    pub fn new(output: ProgressOutput) -> CycleProgress {
        let now = Instant::now();
        CycleProgress {
            output,
            expected: AtomicU64::new(0),
            read: AtomicU64::new(0),
            state: Mutex::new(State {
                started: now,
                last_log: now,
                bar: None,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a new cycle.
    pub fn reset(&self) {
        self.expected.store(0, Ordering::Relaxed);
        self.read.store(0, Ordering::Relaxed);
        let mut state = self.state();
        if let Some(bar) = state.bar.take() {
            bar.finish_and_clear();
        }
        state.started = Instant::now();
        state.last_log = state.started;
    }

    /// An account's planned walks should read about `comments` comments.
    pub fn expect(&self, comments: u64) {
        let expected = self.expected.fetch_add(comments, Ordering::Relaxed) + comments;
        if expected < SHOW_FROM || self.output != ProgressOutput::Terminal {
            return;
        }
        let mut state = self.state();
        let bar = state.bar.get_or_insert_with(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "polling {bar:40} {human_pos}/{human_len} comments ({per_sec}, eta {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        bar.set_length(expected);
    }

    /// A page of `comments` was stored.
    pub fn read(&self, comments: u64) {
        let read = self.read.fetch_add(comments, Ordering::Relaxed) + comments;
        let expected = self.expected.load(Ordering::Relaxed);
        if expected < SHOW_FROM {
            return;
        }
        let mut state = self.state();
        match self.output {
            ProgressOutput::Terminal => {
                if let Some(bar) = &state.bar {
                    bar.set_position(read.min(expected));
                }
            }
            ProgressOutput::Log => {
                if state.last_log.elapsed() >= LOG_EVERY {
                    state.last_log = Instant::now();
                    let secs = state.started.elapsed().as_secs_f64().max(0.001);
                    tracing::info!(
                        read,
                        expected,
                        percent = (read * 100 / expected.max(1)).min(100),
                        per_sec = (read as f64 / secs) as u64,
                        "polling progress"
                    );
                }
            }
        }
    }

    /// The cycle ended: clear the bar.
    pub fn finish(&self) {
        if let Some(bar) = self.state().bar.take() {
            bar.finish_and_clear();
        }
    }

    /// Comments read so far this cycle, and how many were expected.
    pub fn snapshot(&self) -> (u64, u64) {
        (
            self.read.load(Ordering::Relaxed),
            self.expected.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_counts_across_accounts_and_resets_per_cycle() {
        let progress = CycleProgress::new(ProgressOutput::Log);
        progress.expect(3_000);
        progress.expect(1_000);
        progress.read(50);
        progress.read(50);
        assert_eq!(progress.snapshot(), (100, 4_000));
        progress.reset();
        assert_eq!(progress.snapshot(), (0, 0));
    }
}
