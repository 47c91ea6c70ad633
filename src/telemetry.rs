//! Tracing set up once, at the edge.
//!
//! Logs go to stderr so that stdout carries only the command's output (a digest, JSON lines).
//! `RUST_LOG` overrides the default filter. No span or event carries a token: clients put tokens in
//! headers, never in URLs, and errors drop request URLs.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Calling it twice is harmless (the second call does nothing).
pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
