//! The `triage` binary as a user runs it: config errors, the demo, and a worker killed mid-poll.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use comment_triage::demo::demo_config;
use comment_triage::sim::{ScenarioParams, SimOptions, SimServer};
use comment_triage::store::Store;

use crate::helpers::{assert_same_comments, expected_answered, scenario, sim_tokens};

fn triage() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_triage"));
    command.env_remove("TRIAGE_CONFIG").env("RUST_LOG", "warn");
    command
}

#[test]
fn a_broken_config_fails_with_one_line_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("triage.toml");
    std::fs::write(
        &path,
        "[[accounts]]\nname = \"a\"\nplatform = \"myspace\"\naccount_id = \"1\"\nowner_handle = \"a\"\napi_base_url = \"http://127.0.0.1:1\"\ntoken_env = \"T\"\n",
    )
    .unwrap();
    let out = triage()
        .arg("--config")
        .arg(&path)
        .args(["poll", "--once"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    assert!(stderr.contains("accounts[0].platform"), "{stderr}");
}

#[test]
fn the_demo_keeps_data_that_the_digest_command_reads() {
    let dir = tempfile::tempdir().unwrap();
    let out = triage()
        .args(["demo", "--keep"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("summary: "), "{stdout}");
    assert!(stdout.contains("open product question"), "{stdout}");
    for platform in ["instagram", "facebook", "youtube", "tiktok"] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("{platform}: ")))
            .unwrap_or_else(|| panic!("no {platform} line in {stdout}"));
        let count: u64 = line
            .trim_start_matches(&format!("{platform}: "))
            .split(' ')
            .next()
            .unwrap()
            .replace(',', "")
            .parse()
            .unwrap();
        assert!(count > 0, "{platform} was polled: {line}");
    }

    let config = dir.path().join("triage.toml");
    let out = triage()
        .arg("--config")
        .arg(&config)
        .args(["digest", "--recipient", "glowlab", "--format", "html"])
        .output()
        .unwrap();
    let html = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("open product question"));
    assert!(!html.contains("<script"), "comment text must be escaped");
}

/// A real `triage poll --once` process is killed with SIGKILL at several moments mid-poll and
/// restarted; in the end the store holds exactly the simulator's comments and answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_poll_resumes_with_nothing_lost_or_duplicated() {
    let params = ScenarioParams {
        comments_per_post: 150,
        ..scenario(11)
    };
    let sim = SimServer::start(
        "127.0.0.1:0".parse().unwrap(),
        params,
        SimOptions::default(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(&sim, &sim.base_url(), "triage.db").replace(
        "[worker]\n",
        "[worker]\npage_size = 5\nmax_concurrent_accounts = 2\n",
    );
    let config_path = dir.path().join("triage.toml");
    std::fs::write(&config_path, config).unwrap();
    let tokens = sim_tokens(&sim);
    let kills = [150, 300, 450, 600, 800, 1000];
    for (i, ms) in kills.into_iter().enumerate() {
        if i == 3 {
            sim.advance(chrono::Duration::hours(4)); // new comments and answers arrive between kills
        }
        let (config_path, tokens) = (config_path.clone(), tokens.clone());
        tokio::task::spawn_blocking(move || {
            run_poll(&config_path, &tokens, Some(Duration::from_millis(ms)))
        })
        .await
        .unwrap();
    }
    let (config_path, tokens) = (config_path.clone(), tokens.clone());
    let status = tokio::task::spawn_blocking(move || run_poll(&config_path, &tokens, None))
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "the final poll failed");

    let store = Store::open(&dir.path().join("triage.db")).await.unwrap();
    let stored = store.all_comments().await.unwrap();
    let truth = sim.ground_truth();
    assert_same_comments(&stored, &truth);
    let expected = expected_answered(&truth);
    for c in stored.iter().filter(|c| {
        c.parent_external_id.is_none() && c.author_role == "audience" && c.label.is_question()
    }) {
        assert_eq!(
            c.answered_at.is_some(),
            expected.contains(&c.external_id),
            "answered flag of {}",
            c.external_id
        );
    }
}

/// Runs `triage poll --once`; with `kill_after`, SIGKILLs it then (no cleanup, no graceful stop).
fn run_poll(
    config: &Path,
    tokens: &HashMap<String, String>,
    kill_after: Option<Duration>,
) -> Option<ExitStatus> {
    let mut child = triage()
        .arg("--config")
        .arg(config)
        .args(["poll", "--once"])
        .envs(tokens)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    match kill_after {
        Some(after) => {
            std::thread::sleep(after);
            let _ = child.kill();
            child.wait().unwrap();
            None
        }
        None => Some(child.wait().unwrap()),
    }
}

/// `triage poll` (the long-running loop) stops cleanly on SIGTERM, after storing the page in hand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_polling_loop_cleanly() {
    let sim = SimServer::start(
        "127.0.0.1:0".parse().unwrap(),
        scenario(12),
        SimOptions::default(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("triage.toml");
    std::fs::write(
        &config_path,
        demo_config(&sim, &sim.base_url(), "triage.db"),
    )
    .unwrap();
    let tokens = sim_tokens(&sim);
    let probe = sim.clone();
    let status = tokio::task::spawn_blocking(move || {
        let mut child = triage()
            .arg("--config")
            .arg(&config_path)
            .arg("poll")
            .envs(&tokens)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Signal once the first cycle is reading comments (startup is slow on a loaded machine).
        let started = std::time::Instant::now();
        while probe.requests_served() < 4 && started.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let killed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "triage poll ignored SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .await
    .unwrap();
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
    let store = Store::open(&dir.path().join("triage.db")).await.unwrap();
    assert!(
        !store.all_comments().await.unwrap().is_empty(),
        "the first cycle stored comments"
    );
}
