//! `triage status`: one line per account — is polling healthy, when is the next poll, how much of
//! the platform's quota is spent.

use chrono::{DateTime, Utc};

use crate::domain::QuotaReading;
use crate::store::AccountHealth;

/// A table of the accounts' poll health, as of `now`.
pub fn render(accounts: &[AccountHealth], now: DateTime<Utc>) -> String {
    if accounts.is_empty() {
        return "no account has been polled yet: run `triage poll --once`\n".to_owned();
    }
    let header = [
        "account",
        "platform",
        "last success",
        "next poll",
        "quota",
        "deferred",
        "failures",
    ];
    let rows: Vec<[String; 7]> = accounts
        .iter()
        .map(|a| {
            [
                a.name.clone(),
                a.platform.clone(),
                relative(a.last_success_at, now, "never"),
                relative(a.next_poll_at, now, "next cycle"),
                quota(&a.quota, now),
                if a.deferred_posts > 0 {
                    format!("{} posts", a.deferred_posts)
                } else {
                    "-".to_owned()
                },
                a.fail_count.to_string(),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_owned() + "\n"
    };
    let mut out = line(&header.map(str::to_owned));
    for row in &rows {
        out.push_str(&line(row));
    }
    for a in accounts {
        if let Some(error) = &a.last_error {
            out.push_str(&format!("{}: last error: {error}\n", a.name));
        }
    }
    out
}

fn relative(at: Option<i64>, now: DateTime<Utc>, none: &str) -> String {
    let Some(at) = at.and_then(|t| DateTime::from_timestamp(t, 0)) else {
        return none.to_owned();
    };
    let delta = at - now;
    let (amount, future) = (delta.num_seconds().abs(), delta.num_seconds() > 0);
    let span = match amount {
        0..60 => format!("{amount} s"),
        60..3_600 => format!("{} min", amount / 60),
        3_600..172_800 => format!("{} h", amount / 3_600),
        _ => format!("{} days", amount / 86_400),
    };
    if future {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

fn quota(reading: &QuotaReading, now: DateTime<Utc>) -> String {
    match reading {
        QuotaReading::Unknown => "-".to_owned(),
        QuotaReading::Units {
            used,
            limit,
            resets_at,
            ..
        } => format!(
            "{used}/{limit} units, resets {}",
            relative(Some(resets_at.timestamp()), now, "")
        ),
        QuotaReading::UsagePercent { percent } => format!("{percent}% of hourly limit"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_shows_next_poll_quota_and_errors() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let accounts = vec![
            AccountHealth {
                name: "mia_yt".into(),
                platform: "youtube".into(),
                last_attempt_at: Some(now.timestamp() - 120),
                last_success_at: Some(now.timestamp() - 120),
                fail_count: 0,
                last_error: None,
                next_poll_at: Some(now.timestamp() + 1_800),
                quota: QuotaReading::Units {
                    used: 9_120,
                    limit: 10_000,
                    resets_at: now + chrono::Duration::hours(5),
                    per_page: 1,
                },
                deferred_posts: 3,
                token: None,
            },
            AccountHealth {
                name: "jess_ig".into(),
                platform: "instagram".into(),
                last_attempt_at: Some(now.timestamp() - 60),
                last_success_at: None,
                fail_count: 2,
                last_error: Some("access token rejected (code 190)".into()),
                next_poll_at: None,
                quota: QuotaReading::UsagePercent { percent: 42 },
                deferred_posts: 0,
                token: None,
            },
        ];
        let table = render(&accounts, now);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("account"), "{table}");
        assert!(
            lines[1].contains("2 min ago")
                && lines[1].contains("in 30 min")
                && lines[1].contains("9120/10000 units, resets in 5 h")
                && lines[1].contains("3 posts"),
            "{table}"
        );
        assert!(
            lines[2].contains("never") && lines[2].contains("42% of hourly limit"),
            "{table}"
        );
        assert_eq!(
            lines[3],
            "jess_ig: last error: access token rejected (code 190)"
        );
    }
}
