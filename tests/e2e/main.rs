//! End-to-end tests: the real worker, store and digest against the bundled simulator on loopback.

mod cli;
mod delivery;
mod digest;
mod efficiency;
mod helpers;
mod kill;
mod platforms;
mod poll;
mod schedule;
mod tokens;
