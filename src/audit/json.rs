//! JSON: the [`Audit`] value itself, pretty-printed. The schema is documented in
//! `docs/audit-json.md` and versioned by `schema_version`; [`parse_audit_json`] reads a file back
//! and refuses a schema or a version it does not know.

use super::AuditError;
use super::model::{Audit, SCHEMA, SCHEMA_VERSION};

pub fn render_json(audit: &Audit) -> String {
    let mut text = serde_json::to_string_pretty(audit).expect("an audit always serialises");
    text.push('\n');
    text
}

/// Reads an audit written by [`render_json`].
///
/// # Errors
/// Not JSON, not an audit, another schema, or a schema version this program does not read.
pub fn parse_audit_json(text: &str) -> Result<Audit, AuditError> {
    #[derive(serde::Deserialize)]
    struct Header {
        schema: String,
        schema_version: u32,
    }
    let header: Header = serde_json::from_str(text).map_err(|e| AuditError::Json(e.to_string()))?;
    if header.schema != SCHEMA || header.schema_version != SCHEMA_VERSION {
        return Err(AuditError::Json(format!(
            "schema {} version {} is not {SCHEMA} version {SCHEMA_VERSION}",
            header.schema, header.schema_version
        )));
    }
    serde_json::from_str(text).map_err(|e| AuditError::Json(e.to_string()))
}
