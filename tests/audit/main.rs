//! Audit tests: metrics on a campaign whose answers are known by hand, and every output format
//! (CSV safety, HTML escaping, JSON round trip, the HTML report in headless Chromium).

mod chromium;
mod demo;
mod fixture;
mod formats;
mod metrics;
