//! The HTML report in a real browser: headless Chromium lays it out, a test-only probe measures
//! the bars of each chart, and a PNG screenshot is kept in `target/test-artifacts/`.
//!
//! Skipped (with the reason printed) when Chromium is not installed, unless
//! `TRIAGE_REQUIRE_CHROMIUM=1` (CI), which makes a missing browser a failure.

use std::path::{Path, PathBuf};
use std::time::Duration;

use comment_triage::audit::{AuditFormat, render_audit};
use comment_triage::store::AuditWindow;

use crate::fixture::build_with_hostile;

const CHARTS: [&str; 3] = [
    "chart-response-time",
    "chart-categories",
    "chart-response-rate",
];

fn find_chromium() -> Option<PathBuf> {
    let fixed = Path::new("/usr/bin/chromium");
    if fixed.exists() {
        return Some(fixed.to_owned());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("chromium"))
            .find(|p| p.is_file())
    })
}

fn chromium_or_skip(test: &str) -> Option<PathBuf> {
    match find_chromium() {
        Some(path) => Some(path),
        None if std::env::var("TRIAGE_REQUIRE_CHROMIUM").as_deref() == Ok("1") => {
            panic!(
                "{test}: TRIAGE_REQUIRE_CHROMIUM=1 but no chromium at /usr/bin/chromium or on PATH"
            )
        }
        None => {
            eprintln!("{test}: skipped, chromium is not installed (apt-get install chromium)");
            None
        }
    }
}

pub fn artifacts_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target tmp dir has a parent")
        .join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs headless Chromium on `page` with `extra` arguments and a fresh profile; returns stdout.
async fn run_chromium(chromium: &Path, page: &Path, extra: &[String]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut command = tokio::process::Command::new(chromium);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null());
    let output = tokio::time::timeout(Duration::from_secs(90), command.output())
        .await
        .expect("chromium finished within 90 s")
        .expect("chromium starts");
    assert!(
        output.status.success(),
        "chromium failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Appended to a copy of the report (never to the report itself, which has no script): writes the
/// rendered size of every bar of every chart into the DOM, for `--dump-dom` to show.
const PROBE: &str = r#"<script>
(function () {
  var out = [];
  ["chart-response-time", "chart-categories", "chart-response-rate"].forEach(function (id) {
    var svg = document.getElementById(id);
    var box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    var bars = svg ? Array.prototype.slice.call(svg.querySelectorAll("rect.bar")) : [];
    var visible = bars.filter(function (b) { var r = b.getBoundingClientRect(); return r.width > 0 && r.height > 0; });
    out.push(id + " svg=" + Math.round(box.width) + "x" + Math.round(box.height) + " bars=" + bars.length + " visible=" + visible.length);
  });
  var pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = out.join("\n");
  document.body.appendChild(pre);
})();
</script>"#;

#[tokio::test]
async fn the_html_report_renders_its_charts_in_chromium() {
    let Some(chromium) = chromium_or_skip("the_html_report_renders_its_charts_in_chromium") else {
        return;
    };
    let fixture = build_with_hostile().await;
    let audit = fixture.audit(AuditWindow::default()).await;
    let html = render_audit(&audit, AuditFormat::Html).main;
    let dir = tempfile::tempdir().unwrap();

    let probed = dir.path().join("probed.html");
    std::fs::write(&probed, html.replace("</body>", &format!("{PROBE}</body>"))).unwrap();
    let dom = run_chromium(&chromium, &probed, &["--dump-dom".into()]).await;
    let probe = dom
        .split("<pre id=\"probe\">")
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .unwrap_or_else(|| panic!("the probe did not run; DOM:\n{dom}"));
    for chart in CHARTS {
        let line = probe
            .lines()
            .find(|l| l.starts_with(chart))
            .unwrap_or_else(|| panic!("{chart} missing from the probe:\n{probe}"));
        let field = |name: &str| -> u64 {
            line.split_whitespace()
                .find_map(|f| f.strip_prefix(&format!("{name}=")))
                .and_then(|v| v.split('x').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {name} in {line:?}"))
        };
        assert!(field("svg") > 0, "{chart} has no size: {line}");
        assert!(field("visible") > 0, "{chart} draws no visible bar: {line}");
    }
    // The injected text stayed text in the browser too.
    assert!(!dom.contains("<script>alert"));
    assert!(dom.contains("&lt;script&gt;alert('x')&lt;/script&gt;"));

    let report = artifacts_dir().join("audit-report.html");
    std::fs::write(&report, &html).unwrap();
    let png = artifacts_dir().join("audit-report.png");
    let _ = std::fs::remove_file(&png);
    run_chromium(
        &chromium,
        &report,
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1200,1600".into(),
        ],
    )
    .await;
    let bytes = std::fs::read(&png).expect("chromium wrote the screenshot");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(
        bytes.len() > 20_000,
        "screenshot suspiciously small: {} bytes",
        bytes.len()
    );
    eprintln!("screenshot: {}", png.display());
}
