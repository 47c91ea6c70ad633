//! The HTML report: one self-contained file (inline CSS and SVG, no script, no external asset) that
//! a brand can mail to a creator or to finance.
//!
//! Every string that comes from a comment, a caption, a handle or the config goes through
//! `html_escape` (after `clean_line`, which drops bidi overrides); links are written only when they
//! are `http(s)` URLs. The charts are plain SVG `<rect>` bars with a `<title>` each, so they print
//! and need nothing to render.

use std::fmt::Write as _;

use super::model::{
    Audit, DISPLAY_COLUMNS, LIST_LIMIT, Metrics, QuestionStatus, display_values, format_rate,
    format_secs, money,
};
use crate::digest::{clean_line, html_escape, shorten};
use crate::domain::Category;

const EXCERPT: usize = 300;

fn esc(text: &str) -> String {
    html_escape(&clean_line(text))
}

/// An `<a>` for an http(s) link, the escaped text otherwise.
fn link(url: Option<&str>, text: &str) -> String {
    match url {
        Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
            format!(
                "<a href=\"{}\" rel=\"noopener noreferrer\">{}</a>",
                html_escape(url),
                esc(text)
            )
        }
        _ => esc(text),
    }
}

const STYLE: &str = r#"
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1d2430;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde3ea;padding-bottom:4px}
.meta{color:#5b6675;margin:0 0 16px}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{border:1px solid #dde3ea;border-radius:8px;padding:10px 14px;min-width:120px}
.card b{display:block;font-size:20px}.card span{color:#5b6675;font-size:12px}
.card.risk{border-color:#d9534f}.card.risk b{color:#b52b27}
.estimate{background:#fff8e6;border:1px solid #f0d27a;border-radius:8px;padding:8px 12px;margin:12px 0}
.charts{display:flex;flex-wrap:wrap;gap:24px}
.chart{border:1px solid #dde3ea;border-radius:8px;padding:8px}
.chart h3{font-size:14px;margin:0 0 6px}
table{border-collapse:collapse;width:100%;font-size:12px}
.wide{overflow-x:auto}
th,td{border-bottom:1px solid #e8ecf1;padding:4px 6px;text-align:right;vertical-align:top}
td{white-space:nowrap}th{font-size:11px;font-weight:600}
td.l{white-space:normal;min-width:180px}
th{background:#f4f6f9;position:sticky;top:0}
td.l,th.l{text-align:left}
tr.creator td{font-weight:600;background:#fafbfc}
tr.post td.l{padding-left:22px;font-weight:400}
tr.total td{font-weight:700;border-top:2px solid #1d2430}
td.text{max-width:520px;white-space:pre-wrap;word-break:break-word;text-align:left}
.alert{color:#b52b27;font-weight:600}.ok{color:#2c7a3f}
.tag{display:inline-block;border-radius:4px;padding:0 5px;background:#eef1f5;font-size:12px}
"#;

pub fn render_html(audit: &Audit) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let a = &audit.assumptions;
    let t = &audit.totals;
    let title = format!(
        "Campaign audit: {} ({})",
        audit.campaign.name, audit.campaign.brand
    );
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\n",
        esc(&title),
        esc(&title)
    );
    let window = match (audit.campaign.since, audit.campaign.until) {
        (None, None) => "every question stored".to_owned(),
        (since, until) => format!(
            "questions asked from {} to {}",
            since.map_or("the start".into(), |t| t.format("%Y-%m-%d").to_string()),
            until.map_or("now".into(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        ),
    };
    let _ = writeln!(
        out,
        "<p class=\"meta\">Generated {} UTC · {} · {} creators · {} posts · SLA {} h</p>",
        audit.generated_at.format("%Y-%m-%d %H:%M"),
        esc(&window),
        audit.creators.len(),
        t.posts,
        a.sla_hours
    );

    out.push_str("<div class=\"cards\">");
    for (value, label, class) in [
        (t.comments.to_string(), "comments", ""),
        (t.questions.to_string(), "questions", ""),
        (t.product_questions.to_string(), "product questions", ""),
        (format_rate(t.response_rate), "response rate", ""),
        (
            format_secs(t.median_secs_to_answer),
            "median time to answer",
            "",
        ),
        (format_secs(t.p90_secs_to_answer), "p90 time to answer", ""),
        (t.open_past_sla.to_string(), "open past the SLA", ""),
        (
            money(t.revenue_at_risk, &a.currency),
            "revenue at risk (estimate)",
            "risk",
        ),
    ] {
        let _ = write!(
            out,
            "<div class=\"card {class}\"><b>{}</b><span>{}</span></div>",
            esc(&value),
            label
        );
    }
    out.push_str("</div>\n");
    let _ = writeln!(
        out,
        "<p class=\"estimate\"><b>Estimate.</b> {}<br>Formula: revenue at risk = {}. \
         Answered questions: by the creator {}, by the brand {}; {} got a reply only from another commenter, {} none at all, {} hidden.</p>",
        esc(&a.explain(t)),
        esc(&a.revenue_formula),
        t.answered_by_creator,
        t.answered_by_brand,
        t.answered_only_by_community,
        t.unanswered,
        t.hidden_unanswered
    );

    out.push_str("<h2>Charts</h2><div class=\"charts\">\n");
    out.push_str(&response_time_chart(audit));
    out.push_str(&category_chart(t));
    out.push_str(&response_rate_chart(audit));
    out.push_str("</div>\n");

    creator_table(&mut out, audit);
    discount_table(&mut out, audit);
    missed_table(&mut out, audit);

    let _ = writeln!(
        out,
        "<p class=\"meta\">comment-triage · {} v{} · the same numbers as <code>--format csv</code> and <code>--format json</code>.</p></body></html>",
        esc(&audit.schema),
        audit.schema_version
    );
    out
}

struct Bar {
    label: String,
    value: f64,
    text: String,
    color: &'static str,
}

const GOOD: &str = "#3f8f5a";
const WARN: &str = "#e0a030";
const BAD: &str = "#d9534f";
const NEUTRAL: &str = "#4a78b5";

/// A horizontal bar chart; bars scale to `max` (the largest value when `None`).
fn bar_chart(id: &str, title: &str, bars: &[Bar], max: Option<f64>) -> String {
    const WIDTH: f64 = 520.0;
    const LABEL: f64 = 170.0;
    const ROW: f64 = 26.0;
    const BAR_SPACE: f64 = WIDTH - LABEL - 70.0;
    let max = max
        .unwrap_or_else(|| bars.iter().map(|b| b.value).fold(0.0, f64::max))
        .max(f64::MIN_POSITIVE);
    let height = ROW * bars.len().max(1) as f64 + 10.0;
    let mut svg = format!(
        "<div class=\"chart\"><h3>{}</h3><svg id=\"{id}\" xmlns=\"http://www.w3.org/2000/svg\" \
         width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" \
         aria-label=\"{}\">",
        esc(title),
        esc(title)
    );
    if bars.is_empty() {
        let _ = write!(
            svg,
            "<text x=\"10\" y=\"20\" font-size=\"12\" fill=\"#5b6675\">no data</text>"
        );
    }
    for (i, bar) in bars.iter().enumerate() {
        let y = 5.0 + ROW * i as f64;
        let width = (bar.value / max * BAR_SPACE).max(0.0);
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\" fill=\"#1d2430\">{}</text>\
             <rect class=\"bar\" x=\"{LABEL}\" y=\"{:.1}\" width=\"{width:.1}\" height=\"{:.1}\" fill=\"{}\" rx=\"2\">\
             <title>{}: {}</title></rect>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" fill=\"#1d2430\">{}</text>",
            LABEL - 6.0,
            y + 15.0,
            esc(&shorten(&bar.label, 26)),
            y + 2.0,
            ROW - 8.0,
            bar.color,
            esc(&bar.label),
            esc(&bar.text),
            LABEL + width + 5.0,
            y + 15.0,
            esc(&bar.text)
        );
    }
    svg.push_str("</svg></div>\n");
    svg
}

fn count_bar(label: &str, value: u64, color: &'static str) -> Bar {
    Bar {
        label: label.to_owned(),
        value: value as f64,
        text: value.to_string(),
        color,
    }
}

/// How long questions waited for the creator or the brand, in bins, plus those never answered.
fn response_time_chart(audit: &Audit) -> String {
    const BINS: [(&str, i64); 5] = [
        ("≤ 15 min", 15 * 60),
        ("15–60 min", 3_600),
        ("1–4 h", 4 * 3_600),
        ("4–24 h", 24 * 3_600),
        ("> 24 h", i64::MAX),
    ];
    let mut counts = [0u64; 5];
    for q in &audit.questions {
        if let Some(delay) = q.secs_to_answer {
            let bin = BINS.iter().position(|(_, up_to)| delay <= *up_to);
            counts[bin.unwrap_or(4)] += 1;
        }
    }
    let t = &audit.totals;
    let mut bars: Vec<Bar> = BINS
        .iter()
        .zip(counts)
        .enumerate()
        .map(|(i, ((label, _), n))| count_bar(label, n, if i < 4 { GOOD } else { WARN }))
        .collect();
    bars.push(count_bar(
        "only another commenter",
        t.answered_only_by_community,
        WARN,
    ));
    bars.push(count_bar("no reply", t.unanswered, BAD));
    bars.push(count_bar("hidden", t.hidden_unanswered, "#8a94a3"));
    bar_chart(
        "chart-response-time",
        "Time to the creator's or brand's answer (questions)",
        &bars,
        None,
    )
}

fn category_chart(t: &Metrics) -> String {
    let bars: Vec<Bar> = Category::ALL
        .iter()
        .map(|c| {
            count_bar(
                c.as_str(),
                t.product_questions_by_category.get(c).copied().unwrap_or(0),
                NEUTRAL,
            )
        })
        .collect();
    bar_chart(
        "chart-categories",
        "Product questions by category",
        &bars,
        None,
    )
}

fn response_rate_chart(audit: &Audit) -> String {
    let bars: Vec<Bar> = audit
        .creators
        .iter()
        .map(|c| {
            let rate = c.metrics.response_rate.unwrap_or(0.0);
            Bar {
                label: c.account.clone(),
                value: rate * 100.0,
                text: format_rate(c.metrics.response_rate),
                color: if rate >= 0.8 {
                    GOOD
                } else if rate >= 0.5 {
                    WARN
                } else {
                    BAD
                },
            }
        })
        .collect();
    bar_chart(
        "chart-response-rate",
        "Response rate per creator (creator or brand answers / questions)",
        &bars,
        Some(100.0),
    )
}

fn metric_cells(m: &Metrics) -> String {
    display_values(m)
        .iter()
        .map(|value| format!("<td>{}</td>", esc(value)))
        .collect()
}

fn creator_table(out: &mut String, audit: &Audit) {
    let _ = writeln!(
        out,
        "<h2>Per creator and per post</h2><p class=\"meta\">Revenue at risk in {}, an estimate: {}.</p><div class=\"wide\"><table id=\"creators\"><thead><tr><th class=\"l\">creator / post</th>{}</tr></thead><tbody>",
        esc(&audit.assumptions.currency),
        esc(&audit.assumptions.revenue_formula),
        DISPLAY_COLUMNS
            .iter()
            .map(|(_, long, _)| format!("<th>{}</th>", esc(long)))
            .collect::<String>()
    );
    for creator in &audit.creators {
        let _ = writeln!(
            out,
            "<tr class=\"creator\"><td class=\"l\">{}</td>{}</tr>",
            esc(&creator.account),
            metric_cells(&creator.metrics)
        );
        for post in &creator.posts {
            let label = format!(
                "{} · {}",
                post.created_at.format("%Y-%m-%d"),
                shorten(&clean_line(&post.caption), 50)
            );
            let _ = writeln!(
                out,
                "<tr class=\"post\"><td class=\"l\">{}</td>{}</tr>",
                link(post.permalink.as_deref(), &label),
                metric_cells(&post.metrics)
            );
        }
    }
    let _ = writeln!(
        out,
        "<tr class=\"total\"><td class=\"l\">Campaign</td>{}</tr></tbody></table></div>",
        metric_cells(&audit.totals)
    );
}

fn discount_table(out: &mut String, audit: &Audit) {
    let _ = writeln!(
        out,
        "<h2>Discount-code alerts ({})</h2>",
        audit.discount_alerts.len()
    );
    if audit.discount_alerts.is_empty() {
        out.push_str("<p>No comment reports a broken code or asks for one.</p>\n");
        return;
    }
    out.push_str(
        "<table id=\"discount-alerts\"><thead><tr><th class=\"l\">kind</th><th class=\"l\">creator</th>\
         <th class=\"l\">asked</th><th class=\"l\">code</th><th class=\"l\">status</th>\
         <th class=\"l\">author</th><th class=\"l\">comment</th></tr></thead><tbody>\n",
    );
    for alert in audit.discount_alerts.iter().take(LIST_LIMIT) {
        let _ = writeln!(
            out,
            "<tr><td class=\"l alert\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l {}\">{}</td><td class=\"l\">@{}</td><td class=\"text\">{}</td></tr>",
            alert.kind.as_str(),
            esc(&alert.creator),
            alert.asked_at.format("%Y-%m-%d %H:%M"),
            esc(alert.code.as_deref().unwrap_or("")),
            if alert.answered { "ok" } else { "alert" },
            if alert.answered {
                "answered"
            } else {
                "not answered"
            },
            esc(&alert.author),
            link(
                alert.link.as_deref(),
                &shorten(&clean_line(&alert.text), EXCERPT)
            )
        );
    }
    out.push_str("</tbody></table>\n");
    more_note(out, audit.discount_alerts.len());
}

fn more_note(out: &mut String, total: usize) {
    if total > LIST_LIMIT {
        let _ = writeln!(
            out,
            "<p class=\"meta\">… and {} more, oldest shown first: the CSV and JSON exports list every one.</p>",
            total - LIST_LIMIT
        );
    }
}

fn missed_table(out: &mut String, audit: &Audit) {
    let missed = audit.missed_questions();
    let _ = writeln!(
        out,
        "<h2>Missed questions ({}, oldest first)</h2>",
        missed.len()
    );
    if missed.is_empty() {
        out.push_str("<p>Every question got an answer from the creator or the brand.</p>\n");
        return;
    }
    out.push_str(
        "<table id=\"missed\"><thead><tr><th class=\"l\">creator</th><th class=\"l\">category</th>\
         <th>age</th><th class=\"l\">status</th><th class=\"l\">author</th><th class=\"l\">question</th>\
         </tr></thead><tbody>\n",
    );
    let total = missed.len();
    for q in missed.into_iter().take(LIST_LIMIT) {
        let status = match q.status {
            QuestionStatus::AnsweredOnlyByCommunity => "only another commenter replied",
            _ => "no reply",
        };
        let _ = writeln!(
            out,
            "<tr><td class=\"l\">{}</td><td class=\"l\"><span class=\"tag\">{}</span></td><td class=\"{}\">{}</td><td class=\"l\">{}</td><td class=\"l\">@{}</td><td class=\"text\">{}</td></tr>",
            esc(&q.creator),
            q.category.map_or("other question", |c| c.as_str()),
            if q.past_sla { "alert" } else { "" },
            format_secs(q.age_secs),
            status,
            esc(&q.author),
            link(q.link.as_deref(), &shorten(&clean_line(&q.text), EXCERPT))
        );
    }
    out.push_str("</tbody></table>\n");
    more_note(out, total);
}
