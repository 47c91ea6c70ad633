//! Discord webhook payload: one embed per post within Discord's limits (10 embeds, 256-character
//! titles, 4,096-character descriptions, 6,000 characters in all), and no pings: comment text
//! could say `@everyone`, so `allowed_mentions` parses nothing.

use serde_json::{Value, json};

use super::super::build::Digest;
use super::super::render::shorten;
use super::super::words::Words;

const MAX_EMBEDS: usize = 10;
const MAX_DESCRIPTION: usize = 4_096;
const MAX_TOTAL: usize = 6_000;
const EXCERPT: usize = 160;

/// Backslash-escapes Discord markdown so comment text cannot format or hide anything.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '*' | '_' | '~' | '`' | '>' | '|' | '[' | ']' | '(' | ')' | '#' | '-' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

pub fn payload(digest: &Digest) -> Value {
    let words = Words::of(digest.language);
    let summary = words.summary(digest);
    let mut total = summary.chars().count();
    let mut embeds = Vec::new();
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
        let description = shorten(&lines.join("\n"), 1_000);
        total += description.chars().count();
        embeds.push(json!({"title": shorten(words.discount_title(), 256), "description": description, "color": 0xAA1111}));
    }
    let mut omitted = 0;
    for post in &digest.posts {
        let questions = post.groups.iter().flat_map(|g| g.questions.iter());
        let mut description = String::new();
        for group in &post.groups {
            if group.is_grouped() {
                description.push_str(&format!(
                    "*{}*\n",
                    escape(&words.group(group.questions.len(), group.category))
                ));
            }
        }
        for q in questions {
            let link = q
                .link
                .as_deref()
                .map(|l| format!(" [open]({l})"))
                .unwrap_or_default();
            let line = format!(
                "• **{}** · {} · @{}{}: {}{}\n",
                words.category(q.category),
                words.ago(q.age),
                escape(&q.author),
                if q.overdue {
                    format!(" · **{}**", words.overdue_marker())
                } else {
                    String::new()
                },
                escape(&shorten(&q.text, EXCERPT)),
                link
            );
            if description.chars().count() + line.chars().count() > MAX_DESCRIPTION {
                omitted += 1;
                continue;
            }
            description.push_str(&line);
        }
        let title = shorten(
            &format!("{} · {} · {}", post.account, post.platform, post.caption),
            256,
        );
        let size = title.chars().count() + description.chars().count();
        if embeds.len() >= MAX_EMBEDS - 1 || total + size > MAX_TOTAL - 300 {
            omitted += post.groups.iter().map(|g| g.questions.len()).sum::<usize>();
            continue;
        }
        total += size;
        let mut embed = json!({"title": title, "description": description, "color": 0xB4470C});
        if let Some(link) = &post.permalink {
            embed["url"] = json!(link);
        }
        embeds.push(embed);
    }
    let mut health = if digest.health.is_empty() {
        words.health_ok().to_owned()
    } else {
        digest
            .health
            .iter()
            .map(|n| format!("⚠ {}", escape(&words.health_note(n))))
            .collect::<Vec<_>>()
            .join("\n")
    };
    if omitted > 0 {
        health = format!("…{omitted} more questions: see the email or HTML digest.\n{health}");
    }
    embeds.push(json!({"title": words.health_title(), "description": shorten(&health, 280), "color": 0x6B6B66}));
    json!({
        "content": shorten(&summary, 2_000),
        "embeds": embeds,
        "allowed_mentions": {"parse": []},
    })
}
