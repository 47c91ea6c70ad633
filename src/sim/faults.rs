//! What can go wrong with a request: injected one-off faults, injected throttling windows,
//! seeded random faults, expired tokens, and the per-account call budget behind
//! `X-Business-Use-Case-Usage`.
//!
//! The budget counts every call an account makes (refused ones too, so a client that keeps
//! calling while throttled extends its own penalty) over a rolling hour of real time.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};

use super::Fault;
use super::generate::SimRng;

const WINDOW: Duration = Duration::from_secs(3600);
/// Calls in the window before the usage header appears ("once enough calls have been made").
const CALLS_BEFORE_HEADER: usize = 3;
/// Throttling code used when the call budget runs out: BUC, too many calls to this IG account.
pub(crate) const BUDGET_THROTTLE_CODE: u32 = 80002;

/// What the fault machinery decided for one request, before it is handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Planned {
    Normal,
    ServerError(u16),
    Truncate,
    Html,
    Throttle { code: u32, minutes: u32 },
}

/// Usage of one account's budget after a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Usage {
    pub(crate) call_count: u32,
    pub(crate) minutes_to_regain: u32,
    /// Whether the header is shown (not on the first calls).
    pub(crate) visible: bool,
    /// The budget was already used up before this call.
    pub(crate) exhausted: bool,
}

impl Usage {
    /// `kind` is the BUC type: `instagram`, or `pages` for a Page token.
    pub(crate) fn header_value(&self, account_id: &str, kind: &str) -> String {
        serde_json::json!({
            account_id: [{
                "type": kind,
                "call_count": self.call_count,
                "total_cputime": self.call_count / 3,
                "total_time": self.call_count / 2,
                "estimated_time_to_regain_access": self.minutes_to_regain,
            }]
        })
        .to_string()
    }
}

#[derive(Debug)]
struct OneOff {
    planned: Planned,
    remaining: u32,
}

#[derive(Debug)]
pub(crate) struct FaultState {
    one_offs: VecDeque<OneOff>,
    throttle: Option<(u32, Instant)>,
    random: SimRng,
    fault_rate: f64,
    budget: u32,
    calls: HashMap<String, VecDeque<Instant>>,
    expired: HashMap<String, DateTime<Utc>>,
    comments_disabled: HashSet<String>,
    deleted_media: HashSet<String>,
    /// Requests planned to fail so far (one-off, throttle window or random draw).
    faults_planned: u64,
}

impl FaultState {
    pub(crate) fn new(seed: u64, fault_rate: f64, budget: u32) -> Self {
        FaultState {
            one_offs: VecDeque::new(),
            throttle: None,
            random: SimRng::seed_from_u64(seed ^ 0x5EED_FA17_0000_0001),
            fault_rate,
            budget: budget.max(1),
            calls: HashMap::new(),
            expired: HashMap::new(),
            comments_disabled: HashSet::new(),
            deleted_media: HashSet::new(),
            faults_planned: 0,
        }
    }

    /// Requests [`FaultState::plan`] decided to fail so far, so tests can tell how many faults a
    /// run really met.
    pub(crate) fn faults_planned(&self) -> u64 {
        self.faults_planned
    }

    /// Records a fault; `sim_now` stamps token expiries.
    pub(crate) fn inject(&mut self, fault: Fault, real_now: Instant, sim_now: DateTime<Utc>) {
        let (planned, remaining) = match fault {
            Fault::Throttle { code, duration } => {
                self.throttle = Some((code, real_now + duration));
                return;
            }
            Fault::ExpireToken { account_id } => {
                self.expired.entry(account_id).or_insert(sim_now);
                return;
            }
            Fault::DisableComments { media_id } => {
                self.comments_disabled.insert(media_id);
                return;
            }
            Fault::DeleteMedia { media_id } => {
                self.deleted_media.insert(media_id);
                return;
            }
            Fault::ServerError { status, requests } => (Planned::ServerError(status), requests),
            Fault::TruncatedBody { requests } => (Planned::Truncate, requests),
            Fault::HtmlBody { requests } => (Planned::Html, requests),
        };
        if remaining > 0 {
            self.one_offs.push_back(OneOff { planned, remaining });
        }
    }

    pub(crate) fn comments_disabled(&self, media_id: &str) -> bool {
        self.comments_disabled.contains(media_id)
    }

    pub(crate) fn media_deleted(&self, media_id: &str) -> bool {
        self.deleted_media.contains(media_id)
    }

    /// When the account's token expired, if it did.
    pub(crate) fn expired_at(&self, account_id: &str) -> Option<DateTime<Utc>> {
        self.expired.get(account_id).copied()
    }

    /// Decides the fate of the next request: one-off faults first, then an injected throttle,
    /// then the seeded random draw.
    pub(crate) fn plan(&mut self, real_now: Instant) -> Planned {
        let planned = self.draw(real_now);
        if planned != Planned::Normal {
            self.faults_planned += 1;
        }
        planned
    }

    fn draw(&mut self, real_now: Instant) -> Planned {
        if let Some(front) = self.one_offs.front_mut() {
            let planned = front.planned;
            front.remaining -= 1;
            if front.remaining == 0 {
                self.one_offs.pop_front();
            }
            return planned;
        }
        if let Some((code, until)) = self.throttle {
            if real_now < until {
                return Planned::Throttle {
                    code,
                    minutes: minutes_ceil(until - real_now),
                };
            }
            self.throttle = None;
        }
        if self.fault_rate > 0.0 && self.random.random_bool(self.fault_rate) {
            return match self.random.random_range(0..4u32) {
                0 => Planned::ServerError(
                    *[500u16, 502, 503].choose(&mut self.random).unwrap_or(&500),
                ),
                1 => Planned::Truncate,
                2 => Planned::Html,
                _ => Planned::Throttle {
                    code: *[4u32, 17, 613, 80002]
                        .choose(&mut self.random)
                        .unwrap_or(&4),
                    minutes: 1,
                },
            };
        }
        Planned::Normal
    }

    /// Counts one call against the account's rolling hour.
    pub(crate) fn record_call(&mut self, account_id: &str, real_now: Instant) -> Usage {
        let budget = self.budget as usize;
        let calls = self.calls.entry(account_id.to_owned()).or_default();
        while calls
            .front()
            .is_some_and(|&at| real_now.duration_since(at) >= WINDOW)
        {
            calls.pop_front();
        }
        let exhausted = calls.len() >= budget;
        calls.push_back(real_now);
        let count = calls.len();
        let minutes_to_regain = if count >= budget {
            let frees_at = calls[count - budget] + WINDOW;
            minutes_ceil(frees_at.saturating_duration_since(real_now))
        } else {
            0
        };
        Usage {
            call_count: u32::try_from(count * 100 / budget).unwrap_or(u32::MAX),
            minutes_to_regain,
            visible: exhausted || count >= CALLS_BEFORE_HEADER,
            exhausted,
        }
    }
}

/// Whole minutes, rounded up, at least one.
fn minutes_ceil(left: Duration) -> u32 {
    u32::try_from(left.as_secs().div_ceil(60).max(1)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_refuses_once_used_up_and_reports_minutes() {
        let mut state = FaultState::new(1, 0.0, 4);
        let t0 = Instant::now();
        let usages: Vec<Usage> = (0..6)
            .map(|i| state.record_call("a", t0 + Duration::from_secs(i)))
            .collect();
        assert!(!usages[0].visible && !usages[1].visible && usages[2].visible);
        assert_eq!(usages[3].call_count, 100);
        assert!(!usages[3].exhausted);
        assert!(usages[4].exhausted && usages[5].exhausted);
        assert_eq!(usages[5].minutes_to_regain, 60);
        let later = state.record_call("a", t0 + WINDOW + Duration::from_secs(10));
        assert!(!later.exhausted);
    }

    #[test]
    fn one_offs_run_in_order_then_stop() {
        let mut state = FaultState::new(1, 0.0, 10);
        let now = Instant::now();
        let sim = DateTime::<Utc>::UNIX_EPOCH;
        state.inject(Fault::HtmlBody { requests: 1 }, now, sim);
        state.inject(
            Fault::ServerError {
                status: 503,
                requests: 2,
            },
            now,
            sim,
        );
        let plans: Vec<Planned> = (0..4).map(|_| state.plan(now)).collect();
        assert_eq!(state.faults_planned(), 3);
        assert_eq!(
            plans,
            [
                Planned::Html,
                Planned::ServerError(503),
                Planned::ServerError(503),
                Planned::Normal
            ]
        );
    }

    #[test]
    fn random_faults_follow_the_seed() {
        let now = Instant::now();
        let draw = |seed| {
            let mut state = FaultState::new(seed, 0.3, 10);
            (0..200).map(|_| state.plan(now)).collect::<Vec<_>>()
        };
        let a = draw(5);
        assert_eq!(a, draw(5));
        let faults = a.iter().filter(|p| **p != Planned::Normal).count();
        assert!((30..=90).contains(&faults), "{faults} faults");
    }
}
