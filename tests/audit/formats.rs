//! Every format of one audit: CSV safe against formula injection and correctly quoted, HTML with
//! every comment escaped, JSON that reads back into the same audit, and the same numbers in each.

use comment_triage::audit::json::{parse_audit_json, render_json};
use comment_triage::audit::{AuditFormat, render_audit};
use comment_triage::store::AuditWindow;

use crate::fixture::{HOSTILE_FORMULA, HOSTILE_SCRIPT, build_with_hostile};

fn read_csv(text: &str) -> Vec<csv::StringRecord> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("valid CSV"))
        .collect()
}

#[tokio::test]
async fn csv_cells_cannot_run_formulas_and_survive_quoting() {
    let fixture = build_with_hostile().await;
    let audit = fixture.audit(AuditWindow::default()).await;
    let rendered = render_audit(&audit, AuditFormat::Csv);
    let rows = read_csv(&rendered.main);
    let header = &rows[0];
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(
        rows.len(),
        audit.questions.len() + 1,
        "one row per question"
    );
    for row in &rows {
        assert_eq!(row.len(), header.len());
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "formula starter in {cell:?}"
            );
        }
    }
    let row = |id: &str| {
        rows.iter()
            .find(|r| &r[column("comment_id")] == id)
            .unwrap()
    };
    // The quotes and commas of the formula come back intact, behind the neutralising quote.
    assert_eq!(&row("g4")[column("text")], format!("'{HOSTILE_FORMULA}"));
    assert_eq!(&row("g4")[column("author")], "'=cmd");
    assert_eq!(&row("g3")[column("text")], HOSTILE_SCRIPT);
    assert_eq!(&row("q1")[column("status")], "answered_by_creator");
    assert!(
        rendered
            .main
            .contains("\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"click\"\") price?\"")
    );

    let summary = read_csv(rendered.summary.as_deref().unwrap());
    let header = &summary[0];
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(&summary[1][column("level")], "campaign");
    assert_eq!(
        summary[1][column("questions")].parse::<u64>().unwrap(),
        audit.totals.questions
    );
    assert_eq!(
        &summary[1][column("revenue_at_risk_estimate")],
        format!("{:.2}", audit.totals.revenue_at_risk)
    );
    assert_eq!(
        summary.len(),
        1 + 1 + 2 + 2,
        "header, campaign, 2 creators, 2 posts"
    );
}

#[tokio::test]
async fn html_escapes_every_comment() {
    let fixture = build_with_hostile().await;
    let audit = fixture.audit(AuditWindow::default()).await;
    let html = render_audit(&audit, AuditFormat::Html).main;
    assert!(!html.contains("<script"), "a script tag reached the report");
    assert!(!html.contains("evil<b>"));
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; how much is it?"));
    assert!(html.contains("@evil&lt;b&gt;"));
    assert!(html.contains("=HYPERLINK(&quot;http://evil.example&quot;"));
    // Self-contained: no external stylesheet, script, image or font.
    for external in ["<link", "src=", "@import", "url("] {
        assert!(!html.contains(external), "{external} in the report");
    }
    for chart in [
        "chart-response-time",
        "chart-categories",
        "chart-response-rate",
    ] {
        assert!(html.contains(&format!("id=\"{chart}\"")), "{chart} missing");
    }
    assert!(html.contains("Revenue at risk (estimate)"));
    assert!(html.contains("unanswered product questions × conversion share × average order value"));
}

#[tokio::test]
async fn json_reads_back_into_the_same_audit() {
    let fixture = build_with_hostile().await;
    let audit = fixture.audit(AuditWindow::default()).await;
    let text = render_json(&audit);
    let back = parse_audit_json(&text).unwrap();
    assert_eq!(back, audit);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["schema"], "comment-triage/audit");
    assert_eq!(value["schema_version"], 1);
    assert_eq!(value["totals"]["questions"], audit.totals.questions);
    assert_eq!(value["totals"]["product_questions_by_category"]["price"], 6);
    assert_eq!(value["questions"][0]["status"], "answered_by_creator");
    let newer = text.replacen("\"schema_version\": 1", "\"schema_version\": 2", 1);
    assert!(
        parse_audit_json(&newer).is_err(),
        "a newer schema is refused"
    );
}

#[tokio::test]
async fn every_format_shows_the_same_totals() {
    let fixture = build_with_hostile().await;
    let audit = fixture.audit(AuditWindow::default()).await;
    let t = &audit.totals;
    let table = render_audit(&audit, AuditFormat::Table).main;
    let html = render_audit(&audit, AuditFormat::Html).main;
    let money = format!("{:.2} EUR", t.revenue_at_risk);
    assert!(table.contains(&money), "{table}");
    assert!(html.contains(&money));
    let rate = format!("{:.1} %", t.response_rate.unwrap() * 100.0);
    assert!(table.contains(&rate) && html.contains(&rate));
    assert!(table.contains(&format!(
        "Missed questions ({},",
        audit.missed_questions().len()
    )));
    assert!(!table.contains('\u{1b}'));
}
