//! `triage status`: one line per account — is polling healthy, when is the next poll, how much of
//! the platform's quota is spent.

use chrono::{DateTime, Utc};

use crate::domain::QuotaReading;
use crate::store::{AccountHealth, TokenHealth};

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
        "token",
    ];
    let rows: Vec<[String; 8]> = accounts
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
                token(a.token.as_ref(), now),
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
        if let Some(reason) = a.token.as_ref().and_then(|t| t.dead_reason.as_ref()) {
            out.push_str(&format!("{}: token dead: {reason}\n", a.name));
            continue;
        }
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

/// "expires in 5 days, refreshed 2 h ago", "dead", or `-` when nothing is known.
fn token(token: Option<&TokenHealth>, now: DateTime<Utc>) -> String {
    let Some(token) = token else {
        return "-".to_owned();
    };
    if token.dead_reason.is_some() {
        return "dead (see below)".to_owned();
    }
    let mut parts = Vec::new();
    if let Some(at) = token.expires_at {
        let verb = if at > now { "expires" } else { "expired" };
        parts.push(format!(
            "{verb} {}",
            relative(Some(at.timestamp()), now, "")
        ));
    }
    if let Some(at) = token.refreshed_at {
        parts.push(format!(
            "refreshed {}",
            relative(Some(at.timestamp()), now, "")
        ));
    } else if token.refreshable {
        parts.push("auto-refresh".to_owned());
    }
    if parts.is_empty() {
        "-".to_owned()
    } else {
        parts.join(", ")
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

    #[test]
    fn the_token_column_shows_expiry_refresh_and_death() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let account = |name: &str, token: TokenHealth| AccountHealth {
            name: name.into(),
            platform: "instagram".into(),
            last_attempt_at: None,
            last_success_at: None,
            fail_count: 0,
            last_error: Some("the poll error".into()),
            next_poll_at: None,
            quota: QuotaReading::Unknown,
            deferred_posts: 0,
            token: Some(token),
        };
        let table = render(
            &[
                account(
                    "a_ig",
                    TokenHealth {
                        refreshable: false,
                        expires_at: Some(
                            now + chrono::Duration::days(5) + chrono::Duration::minutes(1),
                        ),
                        refreshed_at: None,
                        dead_reason: None,
                    },
                ),
                account(
                    "b_yt",
                    TokenHealth {
                        refreshable: true,
                        expires_at: Some(now + chrono::Duration::minutes(50)),
                        refreshed_at: Some(now - chrono::Duration::hours(2)),
                        dead_reason: None,
                    },
                ),
                account(
                    "c_tt",
                    TokenHealth {
                        refreshable: true,
                        expires_at: None,
                        refreshed_at: None,
                        dead_reason: Some(
                            "TikTok refused the refresh token; export TT_REFRESH".into(),
                        ),
                    },
                ),
            ],
            now,
        );
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].ends_with("token"), "{table}");
        assert!(lines[1].ends_with("expires in 5 days"), "{table}");
        assert!(
            lines[2].ends_with("expires in 50 min, refreshed 2 h ago"),
            "{table}"
        );
        assert!(lines[3].ends_with("dead (see below)"), "{table}");
        assert!(
            table.contains(
                "c_tt: token dead: TikTok refused the refresh token; export TT_REFRESH\n"
            ),
            "{table}"
        );
        assert!(
            !table.contains("c_tt: last error"),
            "the dead reason replaces the poll error: {table}"
        );
    }
}
