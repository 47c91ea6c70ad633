//! When digests are due: send slots are wall-clock times in the recipient's time zone.
//!
//! A slot is named by its local date and time with the UTC offset in force then
//! (`2026-11-28T09:00+01:00`), so the name of a period never changes across restarts, and a DST
//! change cannot produce the same name twice. A local time that does not exist on a spring-forward
//! day (02:30 when clocks jump from 02:00 to 03:00) is sent at the first valid minute after it; a
//! time that exists twice on a fall-back day is sent once, at its first occurrence.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::config::LocalTime;

/// One send slot of one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// Stable name of the period, the ledger's key.
    pub period: String,
    /// When the slot is due.
    pub at: DateTime<Utc>,
}

/// The most recent slot at or before `now`, looking back over the last two local days.
pub fn latest_slot(now: DateTime<Utc>, tz: Tz, send_at: &[LocalTime]) -> Option<Slot> {
    let today = now.with_timezone(&tz).date_naive();
    [today, today.pred_opt()?]
        .into_iter()
        .flat_map(|day| send_at.iter().filter_map(move |t| slot_on(day, *t, tz)))
        .filter(|slot| slot.at <= now)
        .max_by_key(|slot| slot.at)
}

/// The slot for `time` on the local `day`.
pub fn slot_on(day: NaiveDate, time: LocalTime, tz: Tz) -> Option<Slot> {
    let local = day.and_time(time.0);
    let at = resolve_local(local, tz)?;
    let in_zone = at.with_timezone(&tz);
    Some(Slot {
        period: in_zone.format("%Y-%m-%dT%H:%M%:z").to_string(),
        at: at.with_timezone(&Utc),
    })
}

/// A local time as an instant: the earlier one when ambiguous, the first valid minute after a gap.
fn resolve_local(local: NaiveDateTime, tz: Tz) -> Option<DateTime<Tz>> {
    for minutes in 0..=180 {
        match tz.from_local_datetime(&(local + Duration::minutes(minutes))) {
            LocalResult::Single(t) => return Some(t),
            LocalResult::Ambiguous(first, _) => return Some(first),
            LocalResult::None => continue,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveTime;

    fn nine() -> Vec<LocalTime> {
        vec![LocalTime(NaiveTime::from_hms_opt(9, 0, 0).unwrap())]
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_recipient_east_of_utc_gets_their_morning_before_utcs_day_starts() {
        // Auckland is UTC+13 in November: its 09:00 on the 28th is 20:00 UTC on the 27th.
        let tz: Tz = "Pacific/Auckland".parse().unwrap();
        let slot = latest_slot(utc("2026-11-27T20:30:00Z"), tz, &nine()).unwrap();
        assert_eq!(slot.period, "2026-11-28T09:00+13:00");
        assert_eq!(slot.at, utc("2026-11-27T20:00:00Z"));
        let before = latest_slot(utc("2026-11-27T19:59:00Z"), tz, &nine()).unwrap();
        assert_eq!(before.period, "2026-11-27T09:00+13:00");
    }

    #[test]
    fn slots_follow_the_local_clock_across_a_dst_change() {
        let tz: Tz = "Europe/Madrid".parse().unwrap();
        // The last Sunday of March 2026 is the 29th: 09:00 is 08:00 UTC before, 07:00 UTC after.
        let before = latest_slot(utc("2026-03-28T12:00:00Z"), tz, &nine()).unwrap();
        assert_eq!(before.at, utc("2026-03-28T08:00:00Z"));
        let after = latest_slot(utc("2026-03-29T12:00:00Z"), tz, &nine()).unwrap();
        assert_eq!(after.at, utc("2026-03-29T07:00:00Z"));
        assert_eq!(after.period, "2026-03-29T09:00+02:00");
    }

    #[test]
    fn a_time_skipped_by_spring_forward_is_sent_at_the_next_valid_minute() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let half_past_two = LocalTime(NaiveTime::from_hms_opt(2, 30, 0).unwrap());
        // 2026-03-08: clocks jump from 02:00 to 03:00 EST→EDT.
        let slot = slot_on(
            NaiveDate::from_ymd_opt(2026, 3, 8).unwrap(),
            half_past_two,
            tz,
        )
        .unwrap();
        assert_eq!(slot.period, "2026-03-08T03:00-04:00");
        // A time repeated on fall-back day (2026-11-01, 01:30 twice) is sent once, the first time.
        let one_thirty = LocalTime(NaiveTime::from_hms_opt(1, 30, 0).unwrap());
        let slot = slot_on(
            NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            one_thirty,
            tz,
        )
        .unwrap();
        assert_eq!(slot.at, utc("2026-11-01T05:30:00Z"));
    }

    #[test]
    fn several_send_times_pick_the_latest_due() {
        let tz: Tz = "UTC".parse().unwrap();
        let times = vec![
            LocalTime(NaiveTime::from_hms_opt(9, 0, 0).unwrap()),
            LocalTime(NaiveTime::from_hms_opt(17, 0, 0).unwrap()),
        ];
        let slot = latest_slot(utc("2026-11-28T18:00:00Z"), tz, &times).unwrap();
        assert_eq!(slot.period, "2026-11-28T17:00+00:00");
        let slot = latest_slot(utc("2026-11-28T08:00:00Z"), tz, &times).unwrap();
        assert_eq!(slot.period, "2026-11-27T17:00+00:00");
    }
}
