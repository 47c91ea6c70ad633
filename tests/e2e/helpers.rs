//! Test harness: a simulator on 127.0.0.1:0, a fresh SQLite file, and a worker pointed at both.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use comment_triage::classify::Classifier;
use comment_triage::config::{Settings, WorkerSettings};
pub use comment_triage::demo::sim_tokens;
use comment_triage::demo::{demo_config, demo_scenario};
use comment_triage::sim::{ScenarioParams, SimHandle, SimOptions, SimServer, TruthComment};
use comment_triage::store::{Store, StoredComment};
use comment_triage::worker::{CycleReport, Worker};
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

pub struct TestApp {
    pub sim: SimHandle,
    pub store: Store,
    pub worker: Worker,
    /// Holds the database and config until the test ends.
    _dir: TempDir,
}

/// Test timings: fast retries and short throttle waits, so faults resolve in milliseconds.
pub fn fast_worker(worker: &mut WorkerSettings) {
    worker.backoff_base_ms = 10;
    worker.backoff_max_ms = 100;
    worker.max_throttle_wait_ms = 200;
    worker.max_attempts = 3;
    worker.request_timeout_ms = 5_000;
}

pub fn scenario(seed: u64) -> ScenarioParams {
    demo_scenario(seed)
}

pub async fn spawn_app(
    params: ScenarioParams,
    options: SimOptions,
    tweak: impl FnOnce(&mut WorkerSettings),
) -> TestApp {
    let sim = SimServer::start("127.0.0.1:0".parse().unwrap(), params, options)
        .await
        .expect("simulator starts");
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(&sim, &sim.base_url(), "triage.db");
    let config_path = dir.path().join("triage.toml");
    std::fs::write(&config_path, &config).unwrap();
    let mut settings = Settings::load(&config_path).expect("the generated config is valid");
    fast_worker(&mut settings.worker);
    tweak(&mut settings.worker);
    let settings = Arc::new(settings);
    let store = Store::open(&settings.database).await.unwrap();
    let worker = worker_for(&sim, &settings, &store);
    TestApp {
        sim,
        store,
        worker,
        _dir: dir,
    }
}

pub fn worker_for(sim: &SimHandle, settings: &Arc<Settings>, store: &Store) -> Worker {
    let tokens = sim_tokens(sim);
    Worker::new(
        settings.clone(),
        store.clone(),
        Arc::new(Classifier::builtin().unwrap()),
        move |name| tokens.get(name).cloned(),
    )
}

impl TestApp {
    pub async fn poll(&self) -> CycleReport {
        self.worker.poll_once(&CancellationToken::new()).await
    }

    pub async fn poll_ok(&self) -> CycleReport {
        let report = self.poll().await;
        assert_eq!(report.failures(), 0, "a poll failed:\n{report}");
        report
    }

    pub async fn stored(&self) -> Vec<StoredComment> {
        self.store.all_comments().await.unwrap()
    }

    /// Platform ids of the stored comments not marked deleted.
    pub async fn live_ids(&self) -> HashSet<String> {
        self.stored()
            .await
            .into_iter()
            .filter(|c| !c.deleted)
            .map(|c| c.external_id)
            .collect()
    }

    /// Platform ids of every comment the simulator shows now.
    pub fn truth_ids(&self) -> HashSet<String> {
        self.sim.ground_truth().into_iter().map(|c| c.id).collect()
    }
}

/// Asserts the store holds exactly the simulator's comments (no loss, no duplicate), with their
/// text byte for byte.
pub fn assert_same_comments(stored: &[StoredComment], truth: &[TruthComment]) {
    let stored: Vec<&StoredComment> = stored.iter().filter(|c| !c.deleted).collect();
    let stored_ids: Vec<&str> = stored.iter().map(|c| c.external_id.as_str()).collect();
    let unique: HashSet<&str> = stored_ids.iter().copied().collect();
    assert_eq!(
        unique.len(),
        stored_ids.len(),
        "duplicated comments in the store"
    );
    let truth_ids: HashSet<&str> = truth.iter().map(|c| c.id.as_str()).collect();
    let missing: Vec<_> = truth_ids.difference(&unique).take(5).collect();
    let extra: Vec<_> = unique.difference(&truth_ids).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "store differs from the simulator: missing {missing:?}, extra {extra:?} ({} stored, {} in the simulator)",
        unique.len(),
        truth_ids.len()
    );
    let texts: HashMap<&str, &str> = truth
        .iter()
        .map(|c| (c.id.as_str(), c.text.as_str()))
        .collect();
    for c in &stored {
        assert_eq!(
            c.text,
            texts[c.external_id.as_str()],
            "text of {} changed in storage",
            c.external_id
        );
    }
}

/// Top-level audience comments that the owner or the brand answered, derived from the raw ground
/// truth: a reply by either in the thread, or a later top-level comment of theirs @mentioning the
/// author (when the platform shows who the author is). Indexed by thread and by post, so a
/// 50,000-comment world takes no quadratic scan.
pub fn expected_answered(truth: &[TruthComment]) -> HashSet<String> {
    let answerers = || truth.iter().filter(|a| a.by_owner || a.by_brand);
    let replied: HashSet<(&str, &str)> = answerers()
        .filter_map(|a| Some((a.media_id.as_str(), a.parent_id.as_deref()?)))
        .collect();
    let mut top_level_answers: HashMap<&str, Vec<&TruthComment>> = HashMap::new();
    for a in answerers().filter(|a| a.parent_id.is_none()) {
        top_level_answers
            .entry(a.media_id.as_str())
            .or_default()
            .push(a);
    }
    let mut answered = HashSet::new();
    for q in truth
        .iter()
        .filter(|c| c.parent_id.is_none() && !c.by_owner && !c.by_brand)
    {
        let mention = format!("@{}", q.username.to_lowercase());
        let is_answered = replied.contains(&(q.media_id.as_str(), q.id.as_str()))
            || top_level_answers
                .get(q.media_id.as_str())
                .into_iter()
                .flatten()
                .any(|a| {
                    !q.author_hidden
                        && a.timestamp >= q.timestamp
                        && mentions(&a.text.to_lowercase(), &mention)
                });
        if is_answered {
            answered.insert(q.id.clone());
        }
    }
    answered
}

/// `@ann` mentions ann in "@ann, hi" and "@ann." but not in "@anna" or "@ann.b".
fn mentions(text: &str, mention: &str) -> bool {
    let handle_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(mention).any(|(at, _)| {
        let mut rest = text[at + mention.len()..].chars();
        match rest.next() {
            None => true,
            Some('.') => !rest.next().is_some_and(handle_char),
            Some(c) => !handle_char(c),
        }
    })
}
