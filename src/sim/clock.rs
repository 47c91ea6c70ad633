//! The simulated clock: what exists in the simulated world is decided by this time only.
//!
//! It only moves forward, so anything revealed by an advance is newer than everything visible
//! before it (the property the paging cursors rely on).

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};

/// Simulated time as milliseconds since the Unix epoch, shared between the server and handles.
#[derive(Debug)]
pub(crate) struct SimClock {
    millis: AtomicI64,
}

impl SimClock {
    pub(crate) fn starting_at(at: DateTime<Utc>) -> Self {
        SimClock {
            millis: AtomicI64::new(at.timestamp_millis()),
        }
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        let millis = self.millis.load(Ordering::SeqCst);
        DateTime::from_timestamp_millis(millis).unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// Moves forward by `by`; a negative duration is ignored.
    pub(crate) fn advance(&self, by: Duration) {
        let step = by.num_milliseconds();
        if step > 0 {
            self.millis.fetch_add(step, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn clock_moves_forward_only() {
        let start = Utc.with_ymd_and_hms(2024, 5, 1, 9, 0, 0).unwrap();
        let clock = SimClock::starting_at(start);
        clock.advance(Duration::hours(2));
        clock.advance(Duration::hours(-5));
        assert_eq!(clock.now(), start + Duration::hours(2));
    }
}
