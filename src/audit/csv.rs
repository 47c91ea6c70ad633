//! CSV: one row per question, and a summary with one row per campaign, creator and post.
//!
//! Comment text is hostile: a cell a spreadsheet would read as a formula (starting with `=`, `+`,
//! `-`, `@`, a tab or a carriage return) gets a leading `'`, which spreadsheets show but never
//! evaluate; quoting (commas, quotes, newlines) is left to the `csv` crate. RFC 4180 line ends.

use super::model::{Audit, Metrics, QuestionRecord};
use crate::domain::Category;

/// A cell that spreadsheets will show as text, never evaluate.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

fn writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new())
}

fn finish(writer: csv::Writer<Vec<u8>>) -> String {
    let bytes = writer.into_inner().expect("writing to memory cannot fail");
    String::from_utf8(bytes).expect("every cell is UTF-8")
}

fn write_row(writer: &mut csv::Writer<Vec<u8>>, cells: &[String]) {
    writer
        .write_record(cells.iter().map(|c| neutralise(c).into_owned()))
        .expect("writing to memory cannot fail");
}

fn opt<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

pub const QUESTION_HEADER: [&str; 17] = [
    "creator",
    "platform",
    "post_id",
    "comment_id",
    "link",
    "author",
    "kind",
    "category",
    "status",
    "asked_at",
    "answered_at",
    "answered_by",
    "secs_to_answer",
    "age_secs",
    "past_sla",
    "discount_alert",
    "text",
];

/// One row per question, in the audit's order.
pub fn render_questions_csv(audit: &Audit) -> String {
    let mut out = writer();
    write_row(&mut out, &QUESTION_HEADER.map(str::to_owned));
    for q in &audit.questions {
        write_row(&mut out, &question_row(q));
    }
    finish(out)
}

fn question_row(q: &QuestionRecord) -> Vec<String> {
    vec![
        q.creator.clone(),
        q.platform.clone(),
        q.post_id.clone(),
        q.comment_id.clone(),
        opt(q.link.as_ref()),
        q.author.clone(),
        if q.category.is_some() {
            "product_question"
        } else {
            "other_question"
        }
        .to_owned(),
        opt(q.category),
        q.status.as_str().to_owned(),
        q.asked_at.to_rfc3339(),
        opt(q.answered_at.map(|t| t.to_rfc3339())),
        opt(q.answered_by.as_ref()),
        opt(q.secs_to_answer),
        opt(q.age_secs),
        q.past_sla.to_string(),
        opt(q.discount.map(|d| d.as_str())),
        q.text.clone(),
    ]
}

/// One row for the campaign, then each creator followed by its posts.
pub fn render_summary_csv(audit: &Audit) -> String {
    let mut out = writer();
    let mut header: Vec<String> = ["level", "creator", "post_id", "permalink"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    header.extend(metric_header());
    header.extend(
        [
            "currency",
            "average_order_value",
            "conversion_share",
            "sla_hours",
            "revenue_formula",
        ]
        .map(str::to_owned),
    );
    write_row(&mut out, &header);
    let a = &audit.assumptions;
    let tail = [
        a.currency.clone(),
        a.average_order_value.to_string(),
        a.conversion_share.to_string(),
        a.sla_hours.to_string(),
        format!("estimate: {}", a.revenue_formula),
    ];
    let mut row = |level: &str, creator: &str, post: &str, link: &str, m: &Metrics| {
        let mut cells = vec![level.into(), creator.into(), post.into(), link.into()];
        cells.extend(metric_cells(m));
        cells.extend(tail.iter().cloned());
        write_row(&mut out, &cells);
    };
    row("campaign", "", "", "", &audit.totals);
    for creator in &audit.creators {
        row("creator", &creator.account, "", "", &creator.metrics);
        for post in &creator.posts {
            row(
                "post",
                &creator.account,
                &post.post_id,
                post.permalink.as_deref().unwrap_or(""),
                &post.metrics,
            );
        }
    }
    finish(out)
}

fn metric_header() -> Vec<String> {
    let mut header: Vec<String> = ["posts", "comments", "questions", "product_questions"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    header.extend(
        Category::ALL
            .iter()
            .map(|c| format!("product_questions_{c}")),
    );
    header.extend(
        [
            "answered_by_creator",
            "answered_by_brand",
            "answered_only_by_community",
            "unanswered",
            "hidden_unanswered",
            "answered_within_1h",
            "answered_1h_to_24h",
            "answered_after_24h",
            "never_answered",
            "response_rate",
            "median_secs_to_answer",
            "p90_secs_to_answer",
            "open_past_sla",
            "unanswered_product_questions",
            "revenue_at_risk_estimate",
        ]
        .map(str::to_owned),
    );
    header
}

fn metric_cells(m: &Metrics) -> Vec<String> {
    let mut cells = vec![
        m.posts.to_string(),
        m.comments.to_string(),
        m.questions.to_string(),
        m.product_questions.to_string(),
    ];
    cells.extend(Category::ALL.iter().map(|c| {
        m.product_questions_by_category
            .get(c)
            .copied()
            .unwrap_or(0)
            .to_string()
    }));
    cells.extend([
        m.answered_by_creator.to_string(),
        m.answered_by_brand.to_string(),
        m.answered_only_by_community.to_string(),
        m.unanswered.to_string(),
        m.hidden_unanswered.to_string(),
        m.answered_within_1h.to_string(),
        m.answered_1h_to_24h.to_string(),
        m.answered_after_24h.to_string(),
        m.never_answered.to_string(),
        opt(m.response_rate),
        opt(m.median_secs_to_answer),
        opt(m.p90_secs_to_answer),
        m.open_past_sla.to_string(),
        m.unanswered_product_questions.to_string(),
        format!("{:.2}", m.revenue_at_risk),
    ]);
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_starters_are_neutralised() {
        for cell in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralise(cell), format!("'{cell}"));
        }
        assert_eq!(neutralise("how much?"), "how much?");
        assert_eq!(neutralise(""), "");
    }
}
