//! Rebuilds the crate when a migration is added: `sqlx::migrate!` embeds the files it finds at
//! compile time, and cargo only tracks the files that existed then.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
