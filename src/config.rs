//! Settings: one TOML file, parsed into a typed tree once at start.
//!
//! The file never holds a secret: an account names the *environment variable* that holds its token
//! (`token_env`), and the token is read from the environment when the worker starts, as a
//! [`SecretString`] that is exposed only when a request header is built.
//!
//! A broken file fails at load with one line naming the file, the key and what is wrong, e.g.
//! `config/triage.toml: accounts[1].platform: unknown variant `myspace`, expected one of …`.
//! Relative paths in the file (the database) are relative to the file's folder, so a config works
//! from any current directory.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use secrecy::SecretString;
use serde::Deserialize;

use crate::domain::{Media, Platform};

/// Errors while loading settings. Each names the file and the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("{path}: cannot read the file: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {key}: {message}")]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
}

/// The whole settings tree.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// SQLite database file; relative to the config file's folder. Default `triage.db`.
    #[serde(default = "default_database")]
    pub database: PathBuf,
    #[serde(default)]
    pub worker: WorkerSettings,
    #[serde(default)]
    pub classifier: ClassifierSettings,
    #[serde(default)]
    pub accounts: Vec<AccountSettings>,
    #[serde(default)]
    pub campaigns: Vec<CampaignSettings>,
    #[serde(default)]
    pub recipients: Vec<RecipientSettings>,
    /// The mail server digests go through; needed by any `email` channel.
    #[serde(default)]
    pub smtp: Option<SmtpSettings>,
}

/// An SMTP relay or mail provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    /// Default 587 (STARTTLS); 465 for implicit TLS, 25 or a local relay's port for plain.
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    /// `starttls` (default), `tls` (implicit TLS) or `none` (plain, for a local relay only).
    #[serde(default)]
    pub security: SmtpSecurity,
    #[serde(default)]
    pub username: Option<String>,
    /// Name of the environment variable holding the SMTP password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// The From address, e.g. `"comment-triage <digest@example.com>"`.
    pub from: String,
    /// Seconds before a send attempt gives up. Default 30.
    #[serde(default = "default_smtp_timeout")]
    pub timeout_secs: u64,
}

fn default_smtp_port() -> u16 {
    587
}

fn default_smtp_timeout() -> u64 {
    30
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    #[default]
    Starttls,
    Tls,
    None,
}

fn default_database() -> PathBuf {
    PathBuf::from("triage.db")
}

/// How the polling worker paces itself.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerSettings {
    /// Seconds between two polling cycles of `triage poll`. Default 300.
    pub poll_interval_secs: u64,
    /// Accounts polled at the same time. Default 8: each account has its own token and rate limits,
    /// and while one waits for the platform or the database another parses and classifies.
    pub max_concurrent_accounts: usize,
    /// How far behind the newest comment already stored a walk still reads, to catch comments that
    /// arrive late with an older timestamp. Seconds, default 600.
    pub overlap_secs: u64,
    /// Posts older than this are no longer polled. Days, default 30.
    pub lookback_days: u64,
    /// Comments requested per page, capped by each platform's maximum
    /// ([`Platform::max_comments_per_page`]): fewer, larger pages spend less quota. Default 100.
    pub page_size: u32,
    /// Timeout of one HTTP request. Milliseconds, default 10000.
    pub request_timeout_ms: u64,
    /// Attempts for one request before the poll of that account gives up for this cycle. Default 5.
    pub max_attempts: u32,
    /// First retry delay; doubles each attempt, with jitter. Milliseconds, default 500.
    pub backoff_base_ms: u64,
    /// Longest retry delay. Milliseconds, default 30000.
    pub backoff_max_ms: u64,
    /// Longest single wait for a rate limit to lift before asking again; the platform's own
    /// estimate is used when shorter. Milliseconds, default 900000 (15 minutes).
    pub max_throttle_wait_ms: u64,
    /// A post whose platform gives no comment count is walked every `age / freshness_divisor`
    /// (comments decay fast after posting). Default 12: hourly at half a day old.
    pub freshness_divisor: u32,
    /// The longest gap between two walks of a post without a comment count. Minutes, default 1440.
    pub max_post_interval_mins: u64,
    /// An unchanged post is still read in full this often (longer for older posts: half their
    /// age), to notice edited comments, which move no count. Hours, default 24.
    pub reconcile_interval_hours: u64,
    /// Posts are polled this long after the last campaign they belong to ends. Days, default 14.
    pub campaign_grace_days: u64,
    /// YouTube Data API units the Cloud project may spend per day (resets at midnight Pacific).
    /// Default 10000, the standard grant.
    pub youtube_daily_units: u64,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            poll_interval_secs: 300,
            max_concurrent_accounts: 8,
            overlap_secs: 600,
            lookback_days: 30,
            page_size: 100,
            request_timeout_ms: 10_000,
            max_attempts: 5,
            backoff_base_ms: 500,
            backoff_max_ms: 30_000,
            max_throttle_wait_ms: 900_000,
            freshness_divisor: 12,
            max_post_interval_mins: 24 * 60,
            reconcile_interval_hours: 24,
            campaign_grace_days: 14,
            youtube_daily_units: 10_000,
        }
    }
}

impl WorkerSettings {
    pub fn poll_interval(&self) -> Duration {
        Duration::from_secs(self.poll_interval_secs)
    }
    pub fn overlap(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.overlap_secs as i64)
    }
    pub fn lookback(&self) -> chrono::Duration {
        chrono::Duration::days(self.lookback_days as i64)
    }

    /// The page size asked of `platform`: `page_size` within what the platform serves.
    pub fn page_size_on(&self, platform: Platform) -> u32 {
        self.page_size.clamp(1, platform.max_comments_per_page())
    }
}

/// Extra rule files on top of the built-in rules.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClassifierSettings {
    /// Rule files (same format as `config/rules.toml`) that extend the built-in rules; a rule with
    /// the id of a built-in one replaces it. Relative to the config file's folder.
    pub rule_files: Vec<PathBuf>,
}

/// One watched account on one platform.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSettings {
    /// A short name used by campaigns, recipients and logs, e.g. `jess_ig`.
    pub name: String,
    pub platform: Platform,
    /// The platform's id of the account: Instagram the IG user id, Facebook the Page id (digits,
    /// as `GET /me/accounts` lists it), YouTube the `UC…` channel id, TikTok the `open_id`.
    pub account_id: String,
    /// The owner's handle, without `@`; replies under this handle count as the owner's answers.
    /// On Facebook the owner is recognised by the Page id alone and this is the Page's name.
    pub owner_handle: String,
    /// API base URL including the version, e.g. `https://graph.facebook.com/v23.0`.
    pub api_base_url: String,
    /// Name of the environment variable holding the access token (never the token itself).
    pub token_env: String,
    /// Instagram (Instagram Login tokens only): renew the long-lived token with
    /// `ig_refresh_token` when fewer than 10 days are left. Default `false`, because a token from
    /// Facebook Login cannot be renewed this way and the refresh would fail.
    #[serde(default)]
    pub token_refresh: bool,
    /// YouTube, TikTok: name of the environment variable holding the OAuth refresh token. With it
    /// (and `client_id_env`, `client_secret_env`) the worker renews the short-lived access token
    /// itself (Google: 1 h, TikTok: 24 h).
    #[serde(default)]
    pub refresh_token_env: Option<String>,
    /// Name of the environment variable holding the OAuth client id (TikTok: the app id).
    #[serde(default)]
    pub client_id_env: Option<String>,
    /// Name of the environment variable holding the OAuth client secret.
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// Where refreshes are sent instead of the platform's own endpoint (a proxy, the simulator).
    /// Default per platform: `https://graph.instagram.com/refresh_access_token`,
    /// `https://oauth2.googleapis.com/token`,
    /// `https://business-api.tiktok.com/open_api/v1.3/tt_user/oauth2/refresh_token/`.
    #[serde(default)]
    pub token_url: Option<String>,
    /// When the token in `token_env` expires, if known (RFC 3339, e.g. `2026-03-01T00:00:00Z`):
    /// the worker warns 7 days before an expiry it cannot refresh, and the digest says so.
    #[serde(default, deserialize_with = "deserialize_instant")]
    pub token_expires_at: Option<DateTime<Utc>>,
}

/// How an account's access token is renewed, derived from its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRefresh {
    /// The token cannot be renewed by the worker: a new one has to be exported by hand.
    Manual,
    /// Instagram long-lived token, renewed with itself (`grant_type=ig_refresh_token`).
    InstagramLongLived,
    /// An OAuth refresh token and client credentials (Google, TikTok), read from these variables.
    OAuth {
        refresh_token_env: String,
        client_id_env: String,
        client_secret_env: String,
    },
}

impl AccountSettings {
    /// How this account's token is renewed. Valid combinations are checked at load.
    pub fn token_refresh(&self) -> TokenRefresh {
        match (
            &self.refresh_token_env,
            &self.client_id_env,
            &self.client_secret_env,
        ) {
            (Some(refresh), Some(id), Some(secret)) => TokenRefresh::OAuth {
                refresh_token_env: refresh.clone(),
                client_id_env: id.clone(),
                client_secret_env: secret.clone(),
            },
            _ if self.token_refresh && self.platform == Platform::Instagram => {
                TokenRefresh::InstagramLongLived
            }
            _ => TokenRefresh::Manual,
        }
    }

    /// Names the environment variables that hold this account's secrets, for messages.
    pub fn secret_envs(&self) -> Vec<&str> {
        let mut names = vec![self.token_env.as_str()];
        names.extend(
            [
                &self.refresh_token_env,
                &self.client_id_env,
                &self.client_secret_env,
            ]
            .into_iter()
            .flatten()
            .map(String::as_str),
        );
        names
    }
}

/// A TOML datetime (`2026-03-01T00:00:00Z`) or the same text in quotes.
fn deserialize_instant<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Native(toml::value::Datetime),
        Text(String),
    }
    let text = match Raw::deserialize(deserializer)? {
        Raw::Native(at) => at.to_string(),
        Raw::Text(text) => text,
    };
    DateTime::parse_from_rfc3339(&text)
        .map(|at| Some(at.with_timezone(&Utc)))
        .map_err(|_| {
            serde::de::Error::custom(format!(
                "{text:?} is not an RFC 3339 time with an offset, like \"2026-03-01T00:00:00Z\""
            ))
        })
}

/// A sponsorship: which posts of which accounts belong to a brand's campaign.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignSettings {
    pub name: String,
    pub brand: String,
    /// The brand's own handle on the platforms, without `@`. Its replies count as answers by the
    /// brand (shown apart from the creator's).
    #[serde(default)]
    pub brand_handle: Option<String>,
    /// Names of the accounts in the campaign.
    pub accounts: Vec<String>,
    /// Posts that belong to the campaign whatever their caption says.
    #[serde(default)]
    pub post_ids: Vec<String>,
    /// A caption with any of these hashtags marks a sponsored post (case-insensitive), e.g. `#ad`.
    #[serde(default)]
    pub hashtags: Vec<String>,
    /// A caption with any of these @mentions marks a sponsored post (case-insensitive).
    #[serde(default)]
    pub mentions: Vec<String>,
    /// First day of the campaign (UTC, inclusive), `YYYY-MM-DD`.
    #[serde(default)]
    pub starts: Option<NaiveDate>,
    /// Last day of the campaign (UTC, inclusive), `YYYY-MM-DD`.
    #[serde(default)]
    pub ends: Option<NaiveDate>,
    /// Product names and words ("serum", "hoodie") that strengthen product intent.
    #[serde(default)]
    pub product_terms: Vec<String>,
    /// Suggested replies per category, shown under each question in the digest; `{author}` is
    /// replaced by the asker's handle. E.g. `price = "Hi @{author}! It's $29 at glowlab.com"`.
    #[serde(default)]
    pub answer_templates: std::collections::BTreeMap<crate::domain::Category, String>,
    /// Average order value for the audit's "revenue at risk" estimate, in `currency` units
    /// (e.g. `42.5`). Default 50 when unset; the report says when the default is in use.
    #[serde(default)]
    pub average_order_value: Option<f64>,
    /// Share of answered product questions that turn into an order, between 0 and 1 (e.g. `0.08`
    /// for 8 %). Default 0.1 when unset; the report says when the default is in use.
    #[serde(default)]
    pub conversion_share: Option<f64>,
    /// ISO 4217 code of the order value, e.g. `EUR`. Only a label. Default `USD`.
    #[serde(default = "default_currency")]
    pub currency: String,
    /// How long a question may wait for an answer before the audit counts it as past the SLA.
    /// Hours, default 24.
    #[serde(default = "default_sla_hours")]
    pub sla_hours: u64,
    /// The campaign's discount codes (case-insensitive), e.g. `["JESS15"]`: comments naming one, or
    /// saying a code does not work, are escalated in the audit. Default none.
    #[serde(default)]
    pub discount_codes: Vec<String>,
}

fn default_currency() -> String {
    "USD".to_owned()
}

impl CampaignSettings {
    /// Whether a post of one of the campaign's accounts is part of the campaign: inside the date
    /// window, and listed explicitly or marked by a hashtag or @mention in its caption. A campaign
    /// with no post ids, hashtags or mentions takes every post of its accounts in the window.
    /// The end of the campaign's last day, if it has an end.
    pub fn window_end(&self) -> Option<DateTime<Utc>> {
        self.ends
            .map(|ends| day_start(ends) + chrono::Duration::days(1))
    }

    pub fn covers(&self, account: &str, media: &Media) -> bool {
        if !self.accounts.iter().any(|a| a == account) {
            return false;
        }
        if self
            .starts
            .is_some_and(|starts| media.created_at < day_start(starts))
        {
            return false;
        }
        if self
            .ends
            .is_some_and(|ends| media.created_at >= day_start(ends) + chrono::Duration::days(1))
        {
            return false;
        }
        if self.post_ids.contains(&media.external_id) {
            return true;
        }
        if self.post_ids.is_empty() && self.hashtags.is_empty() && self.mentions.is_empty() {
            return true;
        }
        let caption = media.caption.to_lowercase();
        let tagged = |tag: &String| contains_token(&caption, &tag.to_lowercase());
        self.hashtags.iter().any(tagged) || self.mentions.iter().any(tagged)
    }
}

fn day_start(day: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight exists"))
}

/// `#ad` must not match `#adventure`: the tag must end at a non-word character.
fn contains_token(haystack: &str, token: &str) -> bool {
    haystack.match_indices(token).any(|(at, _)| {
        haystack[at + token.len()..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '.'))
    })
}

/// Who receives a digest, and what it covers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipientSettings {
    pub name: String,
    /// `influencer` (their `accounts`) or `brand` (one `campaign`, across every creator).
    pub role: RecipientRole,
    /// For an influencer: the account names whose posts the digest covers.
    #[serde(default)]
    pub accounts: Vec<String>,
    /// For a brand: the campaign whose posts the digest covers.
    #[serde(default)]
    pub campaign: Option<String>,
    /// IANA time zone, e.g. `Europe/Madrid`. Default `UTC`.
    #[serde(default = "default_timezone")]
    pub timezone: chrono_tz::Tz,
    /// Local times (in `timezone`) at which the digest is sent, `HH:MM`. Default `["09:00"]`.
    #[serde(default = "default_send_at")]
    pub send_at: Vec<LocalTime>,
    /// Where the digest goes. Without channels, `triage digest` still prints it.
    #[serde(default)]
    pub channels: Vec<ChannelSettings>,
    /// Questions younger than this are left out: they may still be answered without help.
    /// Minutes, default 30.
    #[serde(default = "default_min_age")]
    pub min_question_age_minutes: u64,
    /// Questions waiting longer than this are marked overdue. Hours, default 24.
    #[serde(default = "default_sla_hours")]
    pub sla_hours: u64,
    /// Language of the digest's own words: `en` (default) or `es`.
    #[serde(default)]
    pub language: crate::digest::Language,
}

fn default_send_at() -> Vec<LocalTime> {
    vec![LocalTime(
        chrono::NaiveTime::from_hms_opt(9, 0, 0).expect("valid time"),
    )]
}

fn default_min_age() -> u64 {
    30
}

fn default_sla_hours() -> u64 {
    24
}

/// A wall-clock time of day written `HH:MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LocalTime(pub chrono::NaiveTime);

impl<'de> Deserialize<'de> for LocalTime {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        chrono::NaiveTime::parse_from_str(&text, "%H:%M")
            .map(LocalTime)
            .map_err(|_| {
                serde::de::Error::custom(format!("{text:?} is not a time of day like \"09:00\""))
            })
    }
}

/// One way to deliver a digest. Webhook URLs of Slack and Discord are secrets (they carry the
/// token), so the config names their environment variables.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChannelSettings {
    /// Email through `[smtp]`.
    Email { to: String },
    /// A Slack incoming webhook; the variable holds `https://hooks.slack.com/services/…`.
    Slack { webhook_url_env: String },
    /// A Discord webhook; the variable holds `https://discord.com/api/webhooks/…`.
    Discord { webhook_url_env: String },
    /// A JSON POST signed with HMAC-SHA256 (header `X-Triage-Signature: t=<unix>,v1=<hex>` over
    /// `"<t>.<body>"`) when `secret_env` names the variable holding the shared secret.
    Webhook {
        url: String,
        #[serde(default)]
        secret_env: Option<String>,
    },
}

impl ChannelSettings {
    /// A stable, secret-free name for the deliveries ledger and logs, e.g. `email:j***@example.com`.
    pub fn key(&self) -> String {
        match self {
            ChannelSettings::Email { to } => format!("email:{to}"),
            ChannelSettings::Slack { webhook_url_env } => format!("slack:{webhook_url_env}"),
            ChannelSettings::Discord { webhook_url_env } => format!("discord:{webhook_url_env}"),
            ChannelSettings::Webhook { url, .. } => {
                format!("webhook:{}", url.split('?').next().unwrap_or(url))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientRole {
    Influencer,
    Brand,
}

fn default_timezone() -> chrono_tz::Tz {
    chrono_tz::UTC
}

/// What a recipient's digest covers, checked at load: an influencer sees their own accounts, a
/// brand sees its campaign across every creator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientScope {
    Influencer { accounts: Vec<String> },
    Brand { campaign: String },
}

impl RecipientSettings {
    pub fn scope(&self) -> RecipientScope {
        match (self.role, &self.campaign) {
            (RecipientRole::Brand, Some(campaign)) => RecipientScope::Brand {
                campaign: campaign.clone(),
            },
            _ => RecipientScope::Influencer {
                accounts: self.accounts.clone(),
            },
        }
    }
}

impl Settings {
    /// Reads and checks a config file.
    ///
    /// # Errors
    /// The file cannot be read, is not valid TOML, has a key of the wrong type or an unknown key,
    /// or refers to an account or campaign that does not exist.
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut settings = Settings::parse(&text, path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        settings.database = base.join(&settings.database);
        for file in &mut settings.classifier.rule_files {
            *file = base.join(&*file);
        }
        Ok(settings)
    }

    /// Parses settings from TOML text; `path` is only used in error messages.
    ///
    /// # Errors
    /// As [`Settings::load`], without the read.
    pub fn parse(text: &str, path: &Path) -> Result<Settings, ConfigError> {
        let invalid = |key: String, message: String| ConfigError::Invalid {
            path: path.to_owned(),
            key,
            message,
        };
        let deserializer = toml::Deserializer::parse(text).map_err(|e| {
            invalid(
                format!("line {}", line_of(text, e.span())),
                e.message().to_owned(),
            )
        })?;
        let settings: Settings = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            let key = if key == "." {
                format!("line {}", line_of(text, inner.span()))
            } else {
                key
            };
            invalid(key, inner.message().to_owned())
        })?;
        settings
            .check()
            .map_err(|(key, message)| invalid(key, message))?;
        Ok(settings)
    }

    /// Cross-references that serde cannot check.
    fn check(&self) -> Result<(), (String, String)> {
        let mut names = HashSet::new();
        for (i, account) in self.accounts.iter().enumerate() {
            let key = |field: &str| format!("accounts[{i}].{field}");
            if !names.insert(account.name.as_str()) {
                return Err((
                    key("name"),
                    format!("duplicate account name {:?}", account.name),
                ));
            }
            for (field, value) in [
                ("name", &account.name),
                ("account_id", &account.account_id),
                ("owner_handle", &account.owner_handle),
                ("token_env", &account.token_env),
            ] {
                if value.trim().is_empty() {
                    return Err((key(field), "must not be empty".into()));
                }
            }
            if account.owner_handle.starts_with('@') {
                return Err((key("owner_handle"), "write the handle without '@'".into()));
            }
            if account.platform == Platform::Facebook
                && !account.account_id.bytes().all(|b| b.is_ascii_digit())
            {
                return Err((
                    key("account_id"),
                    format!(
                        "{:?} is not a Facebook Page id: use the Page's numeric id as `GET /me/accounts` lists it, not its username, URL or a post id",
                        account.account_id
                    ),
                ));
            }
            if !(account.api_base_url.starts_with("http://")
                || account.api_base_url.starts_with("https://"))
            {
                return Err((
                    key("api_base_url"),
                    format!("{:?} is not an http(s) URL", account.api_base_url),
                ));
            }
            if account
                .token_env
                .contains(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            {
                return Err((
                    key("token_env"),
                    "must be the NAME of an environment variable (letters, digits, _), never the token itself".into(),
                ));
            }
            check_token_refresh(account).map_err(|(field, message)| (key(field), message))?;
        }
        let mut campaigns = HashSet::new();
        for (i, campaign) in self.campaigns.iter().enumerate() {
            if !campaigns.insert(campaign.name.as_str()) {
                return Err((
                    format!("campaigns[{i}].name"),
                    format!("duplicate campaign name {:?}", campaign.name),
                ));
            }
            for (j, account) in campaign.accounts.iter().enumerate() {
                if !names.contains(account.as_str()) {
                    return Err((
                        format!("campaigns[{i}].accounts[{j}]"),
                        format!("no account named {account:?}"),
                    ));
                }
            }
            if let (Some(starts), Some(ends)) = (campaign.starts, campaign.ends)
                && ends < starts
            {
                return Err((format!("campaigns[{i}].ends"), "is before starts".into()));
            }
            if campaign
                .average_order_value
                .is_some_and(|v| !(v.is_finite() && v >= 0.0))
            {
                return Err((
                    format!("campaigns[{i}].average_order_value"),
                    "must be a number >= 0".into(),
                ));
            }
            if campaign
                .conversion_share
                .is_some_and(|v| !(0.0..=1.0).contains(&v))
            {
                return Err((
                    format!("campaigns[{i}].conversion_share"),
                    "must be between 0 and 1 (0.1 means 10 %)".into(),
                ));
            }
        }
        let mut recipients = HashSet::new();
        for (i, recipient) in self.recipients.iter().enumerate() {
            if recipient.send_at.is_empty() {
                return Err((
                    format!("recipients[{i}].send_at"),
                    "needs at least one time".into(),
                ));
            }
            for (j, channel) in recipient.channels.iter().enumerate() {
                let key = format!("recipients[{i}].channels[{j}]");
                match channel {
                    ChannelSettings::Email { to } => {
                        if !to.contains('@') || to.contains(char::is_whitespace) {
                            return Err((
                                format!("{key}.to"),
                                format!("{to:?} is not an email address"),
                            ));
                        }
                        if self.smtp.is_none() {
                            return Err((key, "an email channel needs an [smtp] section".into()));
                        }
                    }
                    ChannelSettings::Slack { webhook_url_env }
                    | ChannelSettings::Discord { webhook_url_env } => {
                        if !is_env_name(webhook_url_env) {
                            return Err((format!("{key}.webhook_url_env"), "must be the NAME of an environment variable holding the webhook URL".into()));
                        }
                    }
                    ChannelSettings::Webhook { url, secret_env } => {
                        if !(url.starts_with("http://") || url.starts_with("https://")) {
                            return Err((
                                format!("{key}.url"),
                                format!("{url:?} is not an http(s) URL"),
                            ));
                        }
                        if secret_env.as_deref().is_some_and(|e| !is_env_name(e)) {
                            return Err((
                                format!("{key}.secret_env"),
                                "must be the NAME of an environment variable".into(),
                            ));
                        }
                    }
                }
            }
            if !recipients.insert(recipient.name.as_str()) {
                return Err((
                    format!("recipients[{i}].name"),
                    format!("duplicate recipient name {:?}", recipient.name),
                ));
            }
            let key = |field: &str| format!("recipients[{i}].{field}");
            match recipient.role {
                RecipientRole::Influencer => {
                    if recipient.campaign.is_some() {
                        return Err((
                            key("campaign"),
                            "an influencer recipient lists `accounts`; `campaign` is for brands"
                                .into(),
                        ));
                    }
                    if recipient.accounts.is_empty() {
                        return Err((
                            key("accounts"),
                            "an influencer recipient needs at least one account".into(),
                        ));
                    }
                    for (j, account) in recipient.accounts.iter().enumerate() {
                        if !names.contains(account.as_str()) {
                            return Err((
                                format!("recipients[{i}].accounts[{j}]"),
                                format!("no account named {account:?}"),
                            ));
                        }
                    }
                }
                RecipientRole::Brand => match &recipient.campaign {
                    None => {
                        return Err((key("campaign"), "a brand recipient needs a campaign".into()));
                    }
                    Some(campaign) if !campaigns.contains(campaign.as_str()) => {
                        return Err((key("campaign"), format!("no campaign named {campaign:?}")));
                    }
                    Some(_) if !recipient.accounts.is_empty() => {
                        return Err((
                            key("accounts"),
                            "a brand recipient covers its campaign; `accounts` is for influencers"
                                .into(),
                        ));
                    }
                    Some(_) => {}
                },
            }
        }
        Ok(())
    }

    pub fn recipient(&self, name: &str) -> Option<&RecipientSettings> {
        self.recipients.iter().find(|r| r.name == name)
    }

    pub fn campaign(&self, name: &str) -> Option<&CampaignSettings> {
        self.campaigns.iter().find(|c| c.name == name)
    }

    /// Campaigns the account takes part in.
    pub fn campaigns_of<'a>(
        &'a self,
        account: &'a str,
    ) -> impl Iterator<Item = &'a CampaignSettings> + 'a {
        self.campaigns
            .iter()
            .filter(move |c| c.accounts.iter().any(|a| a == account))
    }

    /// Every campaign's product terms, for the classifier.
    pub fn product_terms(&self) -> Vec<String> {
        let mut terms: Vec<String> = self
            .campaigns
            .iter()
            .flat_map(|c| c.product_terms.iter().cloned())
            .collect();
        terms.sort();
        terms.dedup();
        terms
    }
}

/// The refresh keys of one account: which combinations mean something on its platform.
fn check_token_refresh(account: &AccountSettings) -> Result<(), (&'static str, String)> {
    for (field, value) in [
        ("refresh_token_env", &account.refresh_token_env),
        ("client_id_env", &account.client_id_env),
        ("client_secret_env", &account.client_secret_env),
    ] {
        if value.as_deref().is_some_and(|v| !is_env_name(v)) {
            return Err((
                field,
                "must be the NAME of an environment variable (letters, digits, _), never the secret itself".into(),
            ));
        }
    }
    let oauth_keys = [
        account.refresh_token_env.is_some(),
        account.client_id_env.is_some(),
        account.client_secret_env.is_some(),
    ];
    match account.platform {
        Platform::Instagram => {
            if let Some(field) = [
                ("refresh_token_env", oauth_keys[0]),
                ("client_id_env", oauth_keys[1]),
                ("client_secret_env", oauth_keys[2]),
            ]
            .into_iter()
            .find_map(|(field, set)| set.then_some(field))
            {
                return Err((
                    field,
                    "Instagram renews the long-lived token with itself: remove this key and set `token_refresh = true`".into(),
                ));
            }
        }
        Platform::Youtube | Platform::Tiktok => {
            if account.token_refresh && !oauth_keys.iter().all(|set| *set) {
                return Err((
                    "token_refresh",
                    format!(
                        "{} tokens are renewed with an OAuth refresh token: set refresh_token_env, client_id_env and client_secret_env instead",
                        account.platform
                    ),
                ));
            }
            if oauth_keys.iter().any(|set| *set) && !oauth_keys.iter().all(|set| *set) {
                let missing = [
                    ("refresh_token_env", oauth_keys[0]),
                    ("client_id_env", oauth_keys[1]),
                    ("client_secret_env", oauth_keys[2]),
                ]
                .into_iter()
                .find_map(|(field, set)| (!set).then_some(field))
                .unwrap_or("refresh_token_env");
                return Err((
                    missing,
                    "a refresh needs all three of refresh_token_env, client_id_env and client_secret_env".into(),
                ));
            }
        }
        Platform::Facebook => {
            if account.token_refresh || oauth_keys.iter().any(|set| *set) {
                return Err((
                    "token_refresh",
                    format!(
                        "{} tokens are not refreshed by the worker (a Page token from a long-lived user token does not expire): remove the refresh keys",
                        account.platform
                    ),
                ));
            }
        }
    }
    if let Some(url) = &account.token_url {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(("token_url", format!("{url:?} is not an http(s) URL")));
        }
        if account.token_refresh() == TokenRefresh::Manual {
            return Err((
                "token_url",
                "is only used for refreshes, and this account has none configured".into(),
            ));
        }
    }
    Ok(())
}

/// An environment variable name: letters, digits and `_`, never a URL or a token.
fn is_env_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn line_of(text: &str, span: Option<std::ops::Range<usize>>) -> usize {
    span.map_or(0, |s| {
        text[..s.start.min(text.len())].lines().count().max(1)
    })
}

/// Reads an account's token from the environment variable the config names.
///
/// # Errors
/// The variable is unset or empty; the message names the variable, never a value.
pub fn token_from_env(
    account: &AccountSettings,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<SecretString, String> {
    match lookup(&account.token_env) {
        Some(token) if !token.trim().is_empty() => Ok(SecretString::from(token)),
        _ => Err(format!(
            "account {:?}: environment variable {} is not set; export it with the account's access token",
            account.name, account.token_env
        )),
    }
}

/// The OAuth secrets of an account whose token is renewed with a refresh token. `Debug` shows
/// no value (each is a [`SecretString`]).
#[derive(Debug, Clone)]
pub struct OAuthSecrets {
    pub refresh_token: SecretString,
    pub client_id: SecretString,
    pub client_secret: SecretString,
}

/// Reads the OAuth secrets from the environment variables the config names.
///
/// # Errors
/// A variable is unset or empty; the message names the variable, never a value.
pub fn oauth_secrets_from_env(
    account: &AccountSettings,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<OAuthSecrets>, String> {
    let TokenRefresh::OAuth {
        refresh_token_env,
        client_id_env,
        client_secret_env,
    } = account.token_refresh()
    else {
        return Ok(None);
    };
    let read = |name: &str, what: &str| match lookup(name) {
        Some(value) if !value.trim().is_empty() => Ok(SecretString::from(value)),
        _ => Err(format!(
            "account {:?}: environment variable {name} is not set; export it with the {what}",
            account.name
        )),
    };
    Ok(Some(OAuthSecrets {
        refresh_token: read(&refresh_token_env, "account's OAuth refresh token")?,
        client_id: read(&client_id_env, "OAuth client id of your app")?,
        client_secret: read(&client_secret_env, "OAuth client secret of your app")?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn parse(text: &str) -> Result<Settings, String> {
        Settings::parse(text, Path::new("t.toml")).map_err(|e| e.to_string())
    }

    const ACCOUNT: &str = r#"
[[accounts]]
name = "jess"
platform = "instagram"
account_id = "17841400000000001"
owner_handle = "glowwithjess"
api_base_url = "http://127.0.0.1:1/v23.0"
token_env = "TOKEN_JESS"
"#;

    #[test]
    fn a_wrong_platform_names_the_key() {
        let err = parse(&ACCOUNT.replace("\"instagram\"", "\"myspace\"")).unwrap_err();
        assert!(err.starts_with("t.toml: accounts[0].platform: "), "{err}");
        assert!(err.contains("myspace"), "{err}");
    }

    #[test]
    fn a_facebook_page_is_configured_by_its_numeric_id() {
        let page = ACCOUNT
            .replace("\"instagram\"", "\"facebook\"")
            .replace("17841400000000001", "104567890123456");
        let settings = parse(&page).unwrap();
        assert_eq!(settings.accounts[0].platform, Platform::Facebook);
        let err = parse(&page.replace("104567890123456", "glowwithjess")).unwrap_err();
        assert!(err.starts_with("t.toml: accounts[0].account_id: "), "{err}");
        let err =
            parse(&page.replace("104567890123456", "104567890123456_788812345678901")).unwrap_err();
        assert!(err.contains("not a Facebook Page id"), "{err}");
    }

    #[test]
    fn a_missing_key_is_named() {
        let err = parse(&ACCOUNT.replace("token_env = \"TOKEN_JESS\"", "")).unwrap_err();
        assert!(err.contains("token_env"), "{err}");
    }

    #[test]
    fn a_token_in_place_of_a_variable_name_is_refused() {
        let err = parse(&ACCOUNT.replace("TOKEN_JESS", "EAAG.xyz-123")).unwrap_err();
        assert!(err.contains("accounts[0].token_env"), "{err}");
    }

    fn with(platform: &str, extra: &str) -> String {
        format!(
            "{}{extra}\n",
            ACCOUNT.replace("\"instagram\"", &format!("\"{platform}\""))
        )
    }

    #[test]
    fn refresh_keys_are_read_per_platform() {
        let ig = parse(&with(
            "instagram",
            "token_refresh = true\ntoken_expires_at = 2026-03-01T00:00:00Z",
        ))
        .unwrap();
        assert_eq!(
            ig.accounts[0].token_refresh(),
            TokenRefresh::InstagramLongLived
        );
        assert_eq!(
            ig.accounts[0].token_expires_at.unwrap().to_rfc3339(),
            "2026-03-01T00:00:00+00:00"
        );
        let quoted = parse(&with(
            "instagram",
            "token_expires_at = \"2026-03-01T01:00:00+01:00\"",
        ))
        .unwrap();
        assert_eq!(
            quoted.accounts[0].token_expires_at,
            ig.accounts[0].token_expires_at
        );
        assert_eq!(quoted.accounts[0].token_refresh(), TokenRefresh::Manual);
        let yt = parse(&with(
            "youtube",
            "refresh_token_env = \"YT_REFRESH\"\nclient_id_env = \"YT_ID\"\nclient_secret_env = \"YT_SECRET\"\ntoken_url = \"http://127.0.0.1:9/token\"",
        ))
        .unwrap();
        assert_eq!(
            yt.accounts[0].token_refresh(),
            TokenRefresh::OAuth {
                refresh_token_env: "YT_REFRESH".into(),
                client_id_env: "YT_ID".into(),
                client_secret_env: "YT_SECRET".into(),
            }
        );
    }

    #[test]
    fn incomplete_or_misplaced_refresh_keys_are_refused() {
        let cases = [
            (
                with(
                    "youtube",
                    "refresh_token_env = \"YT_REFRESH\"\nclient_id_env = \"YT_ID\"",
                ),
                "accounts[0].client_secret_env: a refresh needs all three",
            ),
            (
                with("tiktok", "token_refresh = true"),
                "accounts[0].token_refresh: tiktok tokens are renewed with an OAuth refresh token",
            ),
            (
                with("instagram", "refresh_token_env = \"IG_REFRESH\""),
                "accounts[0].refresh_token_env: Instagram renews the long-lived token with itself",
            ),
            (
                with("facebook", "token_refresh = true"),
                "accounts[0].token_refresh: facebook tokens are not refreshed",
            ),
            (
                with(
                    "instagram",
                    "token_url = \"http://127.0.0.1:9/refresh_access_token\"",
                ),
                "accounts[0].token_url: is only used for refreshes",
            ),
            (
                with(
                    "youtube",
                    "refresh_token_env = \"1//0gAbC-refresh\"\nclient_id_env = \"A\"\nclient_secret_env = \"B\"",
                ),
                "accounts[0].refresh_token_env: must be the NAME",
            ),
            (
                with("instagram", "token_expires_at = \"next tuesday\""),
                "accounts[0].token_expires_at: \"next tuesday\" is not an RFC 3339 time",
            ),
        ];
        for (text, expected) in cases {
            let err = parse(&text).unwrap_err();
            assert!(err.starts_with(&format!("t.toml: {expected}")), "{err}");
        }
    }

    #[test]
    fn oauth_secrets_name_the_missing_variable_and_hide_values() {
        let settings = parse(&with(
            "tiktok",
            "refresh_token_env = \"TT_REFRESH\"\nclient_id_env = \"TT_ID\"\nclient_secret_env = \"TT_SECRET\"",
        ))
        .unwrap();
        let account = &settings.accounts[0];
        let err = oauth_secrets_from_env(account, |name| {
            (name != "TT_SECRET").then(|| format!("value-of-{name}"))
        })
        .unwrap_err();
        assert!(
            err.contains("TT_SECRET") && err.contains("client secret"),
            "{err}"
        );
        let secrets = oauth_secrets_from_env(account, |name| Some(format!("value-of-{name}")))
            .unwrap()
            .unwrap();
        assert!(!format!("{secrets:?}").contains("value-of"), "{secrets:?}");
        assert_eq!(secrets.client_id.expose_secret(), "value-of-TT_ID");
    }

    #[test]
    fn a_campaign_naming_an_unknown_account_is_refused() {
        let text = format!(
            "{ACCOUNT}\n[[campaigns]]\nname = \"c\"\nbrand = \"B\"\naccounts = [\"jess\", \"ghost\"]\n"
        );
        let err = parse(&text).unwrap_err();
        assert_eq!(
            err,
            "t.toml: campaigns[0].accounts[1]: no account named \"ghost\""
        );
    }

    #[test]
    fn an_unknown_time_zone_is_refused() {
        let text = format!(
            "{ACCOUNT}\n[[recipients]]\nname = \"r\"\nrole = \"influencer\"\naccounts = [\"jess\"]\ntimezone = \"Mars/Olympus\"\n"
        );
        let err = parse(&text).unwrap_err();
        assert!(err.contains("recipients[0]"), "{err}");
        assert!(err.contains("Mars/Olympus"), "{err}");
    }

    #[test]
    fn bad_toml_names_the_line() {
        let err = parse("database = \n").unwrap_err();
        assert!(err.starts_with("t.toml: line 1: "), "{err}");
    }

    #[test]
    fn hashtags_match_whole_tags_only() {
        let campaign = CampaignSettings {
            name: "c".into(),
            brand: "B".into(),
            brand_handle: None,
            accounts: vec!["jess".into()],
            post_ids: vec![],
            hashtags: vec!["#ad".into()],
            mentions: vec!["@glowlab".into()],
            starts: None,
            ends: None,
            product_terms: vec![],
            answer_templates: Default::default(),
            average_order_value: None,
            conversion_share: None,
            currency: default_currency(),
            sla_hours: default_sla_hours(),
            discount_codes: vec![],
        };
        let media = |caption: &str| Media {
            external_id: "1".into(),
            caption: caption.into(),
            permalink: None,
            created_at: Utc::now(),
            comments_count: None,
        };
        assert!(campaign.covers("jess", &media("New serum #AD ✨")));
        assert!(campaign.covers("jess", &media("thanks @GlowLab!")));
        assert!(!campaign.covers("jess", &media("my #adventure")));
        assert!(!campaign.covers("other", &media("#ad")));
    }
}

#[cfg(test)]
mod example_tests {
    use super::*;

    #[test]
    fn the_example_config_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/triage.example.toml");
        let settings = Settings::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(settings.recipients.len(), 2);
        assert_eq!(settings.recipients[0].channels.len(), 2);
    }
}
