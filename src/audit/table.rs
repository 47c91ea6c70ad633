//! The terminal table: the campaign, each creator and each post on one line, then the discount
//! alerts, the revenue estimate and the missed questions. Comment text goes through the digest's
//! `clean_line` (no control characters or bidi overrides can reach the terminal) and is shortened
//! by graphemes.

use std::fmt::Write as _;

use unicode_segmentation::UnicodeSegmentation;

use super::model::{Audit, DISPLAY_COLUMNS, LIST_LIMIT, Metrics, display_values, format_secs};
use crate::digest::{clean_line, shorten};

const LABEL_WIDTH: usize = 30;
const EXCERPT: usize = 120;

fn pad(text: &str, width: usize) -> String {
    let text = shorten(&clean_line(text), width - 1);
    let len = text.graphemes(true).count();
    format!("{text}{}", " ".repeat(width.saturating_sub(len)))
}

fn header() -> String {
    let mut out = pad("creator / post", LABEL_WIDTH);
    for (short, _, width) in DISPLAY_COLUMNS {
        let _ = write!(out, " {short:>width$}");
    }
    out
}

fn line(label: &str, indent: usize, m: &Metrics) -> String {
    let mut out = format!("{}{}", " ".repeat(indent), pad(label, LABEL_WIDTH - indent));
    for ((_, _, width), value) in DISPLAY_COLUMNS.iter().zip(display_values(m)) {
        let _ = write!(out, " {value:>width$}");
    }
    out
}

pub fn render_table(audit: &Audit) -> String {
    let mut out = String::new();
    let a = &audit.assumptions;
    let window = match (audit.campaign.since, audit.campaign.until) {
        (None, None) => "all questions".to_owned(),
        (since, until) => format!(
            "questions asked {} → {}",
            since.map_or("start".into(), |t| t.format("%Y-%m-%d").to_string()),
            until.map_or("now".into(), |t| t.format("%Y-%m-%d %H:%M").to_string())
        ),
    };
    let _ = writeln!(
        out,
        "Audit of campaign {} ({}) · {} UTC · {}",
        clean_line(&audit.campaign.name),
        clean_line(&audit.campaign.brand),
        audit.generated_at.format("%Y-%m-%d %H:%M"),
        window
    );
    let _ = writeln!(
        out,
        "Assumptions: average order {} · conversion {} · SLA {} h",
        a.order_value_label(),
        a.conversion_label(),
        a.sla_hours
    );
    let _ = writeln!(
        out,
        "Columns: answered within 1 h / 1–24 h / after 24 h / never (by creator or brand); answered by creator / brand / only by another commenter; response rate; median and p90 time to answer; open past the SLA; revenue at risk ({}).\n",
        a.currency
    );
    let _ = writeln!(out, "{}", header());
    for creator in &audit.creators {
        let _ = writeln!(out, "{}", line(&creator.account, 0, &creator.metrics));
        for post in &creator.posts {
            let label = format!("└ {} {}", post.post_id, post.caption);
            let _ = writeln!(out, "{}", line(&label, 2, &post.metrics));
        }
    }
    let _ = writeln!(out, "{}", line("TOTAL", 0, &audit.totals));

    let categories: Vec<String> = audit
        .totals
        .product_questions_by_category
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(c, n)| format!("{c} {n}"))
        .collect();
    let _ = writeln!(
        out,
        "\nProduct questions by category: {}",
        if categories.is_empty() {
            "none".to_owned()
        } else {
            categories.join(" · ")
        }
    );
    let _ = writeln!(out, "{}", a.explain(&audit.totals));

    let _ = writeln!(
        out,
        "\nDiscount-code alerts ({}):",
        audit.discount_alerts.len()
    );
    if audit.discount_alerts.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for alert in audit.discount_alerts.iter().take(LIST_LIMIT) {
        let _ = writeln!(
            out,
            "  ! {} · {} · {} · {}{} · @{}: {}",
            alert.kind.as_str(),
            clean_line(&alert.creator),
            alert.asked_at.format("%Y-%m-%d %H:%M"),
            if alert.answered {
                "answered"
            } else {
                "NOT ANSWERED"
            },
            alert
                .code
                .as_deref()
                .map(|c| format!(" · code {}", clean_line(c)))
                .unwrap_or_default(),
            clean_line(&alert.author),
            shorten(&clean_line(&alert.text), EXCERPT)
        );
        if let Some(link) = &alert.link {
            let _ = writeln!(out, "      {}", clean_line(link));
        }
    }

    more_line(&mut out, audit.discount_alerts.len());
    let missed = audit.missed_questions();
    let _ = writeln!(out, "\nMissed questions ({}, oldest first):", missed.len());
    if missed.is_empty() {
        let _ = writeln!(out, "  none");
    }
    let total = missed.len();
    for q in missed.into_iter().take(LIST_LIMIT) {
        let _ = writeln!(
            out,
            "  • [{}] {} old{} · {} · @{}: {}{}",
            q.category.map_or("other question", |c| c.as_str()),
            format_secs(q.age_secs),
            if q.past_sla { " (past SLA)" } else { "" },
            clean_line(&q.creator),
            clean_line(&q.author),
            shorten(&clean_line(&q.text), EXCERPT),
            if q.status.is_missed() && !matches!(q.status, super::QuestionStatus::Unanswered) {
                " — only another commenter replied"
            } else {
                ""
            }
        );
        if let Some(link) = &q.link {
            let _ = writeln!(out, "      {}", clean_line(link));
        }
    }
    more_line(&mut out, total);
    out
}

fn more_line(out: &mut String, total: usize) {
    if total > LIST_LIMIT {
        let _ = writeln!(
            out,
            "  … and {} more: --format csv or json lists every one",
            total - LIST_LIMIT
        );
    }
}
