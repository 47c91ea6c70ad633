//! What a platform's quota looks like for one account.

use chrono::{DateTime, Utc};

/// An account's quota as last reported by its platform client.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum QuotaReading {
    /// Nothing known: the platform only throttles (TikTok), or no call has reported yet.
    Unknown,
    /// A daily unit budget (YouTube): `used` of `limit`, resetting at `resets_at`.
    Units {
        used: u64,
        limit: u64,
        resets_at: DateTime<Utc>,
        /// Units one comment page costs with this client's cost table.
        per_page: u64,
    },
    /// Meta's usage headers: the highest of the call count, CPU time and total time percentages.
    UsagePercent { percent: u8 },
}

impl std::fmt::Display for QuotaReading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QuotaReading::Unknown => f.write_str("-"),
            QuotaReading::Units { used, limit, .. } => write!(f, "{used}/{limit} units today"),
            QuotaReading::UsagePercent { percent } => write!(f, "{percent}% of the hourly limit"),
        }
    }
}
