//! The README's example: `triage demo --keep DIR`, then `triage audit` on DIR/triage.toml in
//! every format.

use comment_triage::audit::json::parse_audit_json;
use comment_triage::audit::{AuditFormat, AuditRequest, run_audit, summary_path};
use comment_triage::config::Settings;
use comment_triage::demo::{DemoOptions, run_demo};

#[tokio::test]
async fn the_demo_data_can_be_audited_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    run_demo(DemoOptions {
        keep: Some(dir.path().to_owned()),
        seed: 42,
        smtp: None,
        to: None,
    })
    .await
    .unwrap();
    let settings = Settings::load(&dir.path().join("triage.toml")).unwrap();
    for (format, name) in [
        (AuditFormat::Csv, "audit.csv"),
        (AuditFormat::Json, "audit.json"),
        (AuditFormat::Html, "audit.html"),
    ] {
        let out = dir.path().join(name);
        let request = AuditRequest {
            campaign: "demo".into(),
            since: None,
            until: None,
            format,
            out: Some(out.clone()),
        };
        let message = run_audit(&settings, &request).await.unwrap();
        assert!(message.starts_with("wrote "), "{message}");
        assert!(
            std::fs::metadata(&out).unwrap().len() > 1_000,
            "{name} is empty"
        );
    }
    assert!(summary_path(&dir.path().join("audit.csv")).exists());
    let audit =
        parse_audit_json(&std::fs::read_to_string(dir.path().join("audit.json")).unwrap()).unwrap();
    assert!(audit.totals.questions > 0 && audit.totals.product_questions > 0);
    // The simulator plants formula starters among the questions: none reaches a CSV cell raw.
    let csv = std::fs::read_to_string(dir.path().join("audit.csv")).unwrap();
    assert!(csv.contains("'-- how much is it??") || csv.contains("'+1 where can I buy this?"));
    let table = run_audit(
        &settings,
        &AuditRequest {
            campaign: "demo".into(),
            since: None,
            until: None,
            format: AuditFormat::Table,
            out: None,
        },
    )
    .await
    .unwrap();
    assert!(table.contains("Revenue at risk (estimate)"), "{table}");
    let unknown = AuditRequest {
        campaign: "nope".into(),
        since: None,
        until: None,
        format: AuditFormat::Table,
        out: None,
    };
    let err = run_audit(&settings, &unknown)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(err, "no campaign named \"nope\" (configured: demo)");
}
