//! Campaign audits (`triage audit`): per creator and per post, how many product questions came
//! in, how fast the creator or the brand answered, which are still open, what the open ones are
//! likely worth, and which comments say a discount code does not work.
//!
//! One flow, so every format shows the same numbers:
//!
//! ```text
//!  store::audit_posts + store::audit_comments ──► model::build_audit ──► Audit
//!                                                                         ├─► table  (terminal)
//!                                                                         ├─► csv    (questions + summary)
//!                                                                         ├─► json   (Audit itself, versioned)
//!                                                                         └─► html   (self-contained report)
//! ```
//!
//! The store decides which rows count (see `store/audit.rs`); [`model`] computes every metric
//! from them; the renderers only format. Comment text is hostile in every format: each renderer
//! escapes it for its own reader.

pub mod csv;
pub mod html;
pub mod json;
pub mod model;
pub mod table;

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

pub use crate::classify::discount::DiscountKind;
pub use model::{Audit, Metrics, QuestionRecord, QuestionStatus, build_audit};

use crate::config::Settings;
use crate::store::{AuditWindow, Store, StoreError};

/// Errors of an audit; each means "report and stop".
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    #[error("no campaign named {name:?} (configured: {known})")]
    UnknownCampaign { name: String, known: String },
    #[error("--until {until} is before --since {since}")]
    EmptyWindow { since: NaiveDate, until: NaiveDate },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("not an audit JSON file: {0}")]
    Json(String),
}

/// Output formats of `triage audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuditFormat {
    Table,
    Csv,
    Json,
    Html,
}

/// What `triage audit` was asked for.
#[derive(Debug, Clone)]
pub struct AuditRequest {
    pub campaign: String,
    /// First day (UTC, inclusive) of the questions audited.
    pub since: Option<NaiveDate>,
    /// Last day (UTC, inclusive) of the questions audited.
    pub until: Option<NaiveDate>,
    pub format: AuditFormat,
    /// Where to write; stdout when `None`.
    pub out: Option<PathBuf>,
}

fn day_start(day: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight exists"))
}

/// The instants covered by inclusive `since`/`until` days.
///
/// # Errors
/// `until` is before `since`.
pub fn window_of(
    since: Option<NaiveDate>,
    until: Option<NaiveDate>,
) -> Result<AuditWindow, AuditError> {
    if let (Some(since), Some(until)) = (since, until)
        && until < since
    {
        return Err(AuditError::EmptyWindow { since, until });
    }
    Ok(AuditWindow {
        since: since.map(day_start),
        until: until.map(|d| day_start(d) + chrono::Duration::days(1)),
    })
}

/// Reads the campaign's rows and builds its audit at `now`.
///
/// # Errors
/// Unknown campaign, or the database cannot be read.
pub async fn audit_campaign(
    settings: &Settings,
    store: &Store,
    campaign: &str,
    window: AuditWindow,
    now: DateTime<Utc>,
) -> Result<Audit, AuditError> {
    let campaign_settings =
        settings
            .campaign(campaign)
            .ok_or_else(|| AuditError::UnknownCampaign {
                name: campaign.to_owned(),
                known: settings
                    .campaigns
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
    let mut watch: Vec<String> = crate::classify::discount::WATCH_TERMS
        .map(str::to_owned)
        .to_vec();
    watch.extend(campaign_settings.discount_codes.iter().cloned());
    let posts = store.audit_posts(campaign, window).await?;
    let comments = store.audit_comments(campaign, window, &watch).await?;
    Ok(build_audit(
        campaign_settings,
        window,
        &posts,
        comments,
        now,
    ))
}

/// The files (or stdout text) of one format: the main document, and for CSV the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub main: String,
    pub summary: Option<String>,
}

pub fn render_audit(audit: &Audit, format: AuditFormat) -> Rendered {
    match format {
        AuditFormat::Table => Rendered {
            main: table::render_table(audit),
            summary: None,
        },
        AuditFormat::Csv => Rendered {
            main: csv::render_questions_csv(audit),
            summary: Some(csv::render_summary_csv(audit)),
        },
        AuditFormat::Json => Rendered {
            main: json::render_json(audit),
            summary: None,
        },
        AuditFormat::Html => Rendered {
            main: html::render_html(audit),
            summary: None,
        },
    }
}

/// `report.csv` → `report.summary.csv`.
pub fn summary_path(out: &Path) -> PathBuf {
    let stem = out
        .file_stem()
        .map_or("audit".into(), |s| s.to_string_lossy().into_owned());
    out.with_file_name(format!("{stem}.summary.csv"))
}

/// Runs `triage audit`: builds the audit now and writes it. Returns what to print on stdout (the
/// document itself without `--out`, else the names of the files written).
///
/// # Errors
/// As [`audit_campaign`], or a file cannot be written.
pub async fn run_audit(settings: &Settings, request: &AuditRequest) -> Result<String, AuditError> {
    let window = window_of(request.since, request.until)?;
    let store = Store::open(&settings.database).await?;
    let audit = audit_campaign(settings, &store, &request.campaign, window, Utc::now()).await;
    store.close().await;
    let audit = audit?;
    let rendered = render_audit(&audit, request.format);
    let Some(out) = &request.out else {
        let mut text = rendered.main;
        if let Some(summary) = rendered.summary {
            // Without --out the question rows go to stdout alone, so the output stays one CSV.
            tracing::info!(
                "the summary CSV ({} rows) is written only with --out FILE, as FILE.summary.csv",
                summary.lines().count().saturating_sub(1)
            );
        }
        if !text.ends_with('\n') {
            text.push('\n');
        }
        return Ok(text);
    };
    let write = |path: &Path, text: &str| {
        std::fs::write(path, text).map_err(|source| AuditError::Write {
            path: path.to_owned(),
            source,
        })
    };
    write(out, &rendered.main)?;
    let mut message = format!(
        "wrote {} ({} questions, {} missed, {} discount alerts)",
        out.display(),
        audit.totals.questions,
        audit.missed_questions().len(),
        audit.discount_alerts.len()
    );
    if let Some(summary) = rendered.summary {
        let path = summary_path(out);
        write(&path, &summary)?;
        message.push_str(&format!(" and {}", path.display()));
    }
    message.push('\n');
    Ok(message)
}
