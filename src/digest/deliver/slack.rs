//! Slack incoming-webhook payload: Block Kit within Slack's limits (50 blocks a message, 3,000
//! characters a text section), with a plain `text` fallback for notifications.

use serde_json::{Value, json};

use super::super::build::Digest;
use super::super::render::shorten;
use super::super::words::Words;

const MAX_BLOCKS: usize = 50;
const MAX_SECTION_CHARS: usize = 3_000;
/// Graphemes of comment text shown per question.
const EXCERPT: usize = 200;

/// Slack's mrkdwn needs only `&`, `<` and `>` escaped; control characters are dropped.
fn escape(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '\n' => " ".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

fn section(text: String) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": shorten(&text, MAX_SECTION_CHARS)}})
}

pub fn payload(digest: &Digest) -> Value {
    let words = Words::of(digest.language);
    let summary = words.summary(digest);
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": shorten(&summary, 150)}}),
    ];
    if !digest.discount_alerts.is_empty() {
        let lines: Vec<String> = digest
            .discount_alerts
            .iter()
            .map(|a| {
                format!(
                    "• @{} · {}: {}",
                    escape(&a.author),
                    words.ago(a.age),
                    escape(&shorten(&a.text, EXCERPT))
                )
            })
            .collect();
        blocks.push(section(format!(
            ":warning: *{}*\n{}",
            escape(words.discount_title()),
            lines.join("\n")
        )));
    }
    let mut omitted = 0;
    // Keep room for the health block and an "omitted" note.
    let budget = MAX_BLOCKS - 3;
    for post in &digest.posts {
        let title = match &post.permalink {
            Some(link) => format!(
                "*{} · {}* <{}|{}>",
                escape(&post.account),
                post.platform,
                link,
                escape(&shorten(&post.caption, 80))
            ),
            None => format!(
                "*{} · {}* {}",
                escape(&post.account),
                post.platform,
                escape(&shorten(&post.caption, 80))
            ),
        };
        for group in &post.groups {
            let mut lines = vec![];
            if blocks.len() < budget && lines.is_empty() {
                lines.push(title.clone());
            }
            if group.is_grouped() {
                lines.push(format!(
                    "_{}_",
                    escape(&words.group(group.questions.len(), group.category))
                ));
            }
            for q in &group.questions {
                let link = q
                    .link
                    .as_deref()
                    .map(|l| format!(" <{l}|open>"))
                    .unwrap_or_default();
                let mut line = format!(
                    "• *{}* · {} · @{}{}: {}{}",
                    words.category(q.category),
                    words.ago(q.age),
                    escape(&q.author),
                    if q.overdue {
                        format!(" · *{}*", words.overdue_marker())
                    } else {
                        String::new()
                    },
                    escape(&shorten(&q.text, EXCERPT)),
                    link
                );
                if let Some(reply) = &q.suggested_reply {
                    line.push_str(&format!(
                        "\n    _{}: {}_",
                        words.suggested_reply(),
                        escape(reply)
                    ));
                }
                lines.push(line);
            }
            if blocks.len() >= budget {
                omitted += group.questions.len();
                continue;
            }
            blocks.push(section(lines.join("\n")));
        }
    }
    if omitted > 0 {
        blocks.push(section(format!(
            "…{omitted} more questions: see the email or HTML digest."
        )));
    }
    let health = if digest.health.is_empty() {
        words.health_ok().to_owned()
    } else {
        digest
            .health
            .iter()
            .map(|n| format!("⚠ {}", escape(&words.health_note(n))))
            .collect::<Vec<_>>()
            .join("\n")
    };
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": shorten(&format!("*{}*: {}", words.health_title(), health), MAX_SECTION_CHARS)}]}));
    json!({"text": summary, "blocks": blocks})
}
