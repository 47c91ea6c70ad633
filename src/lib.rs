//! comment-triage: find the product questions in the comments on sponsored posts, and make sure
//! somebody answers them.
//!
//! The modules follow the pipeline, and data flows one way:
//!
//! ```text
//!  platforms ──► domain ──► classify ──► store ──► digest
//!  (HTTP, wire     (parsed     (rules →      (SQLite,    (text, markdown,
//!   structs)        types)      verdict)      answered)   html)
//!       ▲                                       ▲
//!       └──────────── worker (polling loop) ────┘
//! ```
//!
//! `sim` is the loopback platform simulator used by the demo, the tests and users without API
//! access; `config` loads the TOML settings; `cli` dispatches the `triage` subcommands.

pub mod audit;
pub mod classify;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod daemon;
pub mod demo;
pub mod digest;
pub mod domain;
pub mod platforms;
pub mod progress;
pub mod schedule;
pub mod sim;
pub mod status;
pub mod store;
pub mod telemetry;
pub mod worker;
