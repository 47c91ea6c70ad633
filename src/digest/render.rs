//! How a digest looks: plain text for terminals and logs, Markdown for chat, HTML for email.
//!
//! Comment text is hostile until proven otherwise. Every format shortens it by graphemes (an emoji
//! flag or a ZWJ family never splits), drops control characters (a comment must not drive the
//! reader's terminal) and bidi overrides, and escapes what its format treats as markup.

use std::fmt::Write as _;

use unicode_segmentation::UnicodeSegmentation;

use super::build::{Digest, DigestQuestion};
use super::words::Words;

/// Output formats of `triage digest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Markdown,
    Html,
}

/// Longest comment excerpt, in graphemes.
const EXCERPT_GRAPHEMES: usize = 280;
const CAPTION_GRAPHEMES: usize = 80;

pub fn render_digest(digest: &Digest, format: Format) -> String {
    match format {
        Format::Text => render_text(digest),
        Format::Markdown => render_markdown(digest),
        Format::Html => render_html(digest),
    }
}

/// The subject line of an email digest.
pub fn subject(digest: &Digest) -> String {
    Words::of(digest.language).subject(digest)
}

fn title(digest: &Digest) -> String {
    let local = digest.generated_at.with_timezone(&digest.timezone);
    Words::of(digest.language).title(
        &digest.recipient,
        &local.format("%Y-%m-%d %H:%M").to_string(),
        digest.timezone.name(),
    )
}

/// `new · overdue · private reply possible for 5h 00m more`, the markers of one question.
fn markers(words: &Words, q: &DigestQuestion) -> Vec<String> {
    let mut out = vec![if q.reminder {
        words.reminder_marker().to_owned()
    } else {
        words.new_marker().to_owned()
    }];
    if q.overdue {
        out.push(words.overdue_marker().to_uppercase());
    }
    if let Some(left) = q.private_reply_left {
        out.push(words.private_reply(left));
    }
    out
}

fn excerpt(text: &str) -> String {
    shorten(&clean_line(text), EXCERPT_GRAPHEMES)
}

fn render_text(digest: &Digest) -> String {
    let words = Words::of(digest.language);
    let mut out = String::new();
    let _ = writeln!(out, "{}", clean_line(&title(digest)));
    let _ = writeln!(out, "{}", words.summary(digest));
    if !digest.discount_alerts.is_empty() {
        let _ = writeln!(out, "\n!! {}:", words.discount_title());
        for alert in &digest.discount_alerts {
            let _ = writeln!(
                out,
                "  • {} · {} · {}{}: {}",
                clean_line(&alert.account),
                words.ago(alert.age),
                words.author(&clean_line(&alert.author)),
                alert
                    .code
                    .as_deref()
                    .map(|c| format!(" · {}", clean_line(c)))
                    .unwrap_or_default(),
                excerpt(&alert.text)
            );
            if let Some(link) = &alert.link {
                let _ = writeln!(out, "    {}", clean_line(link));
            }
        }
    }
    for post in &digest.posts {
        let _ = writeln!(
            out,
            "\n■ {} · {} · {}",
            clean_line(&post.account),
            post.platform,
            shorten(&clean_line(&post.caption), CAPTION_GRAPHEMES)
        );
        if let Some(permalink) = &post.permalink {
            let _ = writeln!(out, "  {}", clean_line(permalink));
        }
        for group in &post.groups {
            if group.is_grouped() {
                let _ = writeln!(
                    out,
                    "  ▸ {}",
                    words.group(group.questions.len(), group.category)
                );
            }
            for q in &group.questions {
                let _ = writeln!(
                    out,
                    "  • [{}] {} · {} · {}: {}",
                    words.category(q.category),
                    words.ago(q.age),
                    words.author(&clean_line(&q.author)),
                    markers(&words, q).join(" · "),
                    excerpt(&q.text)
                );
                if let Some(link) = &q.link {
                    let _ = writeln!(
                        out,
                        "    {}   (rule {})",
                        clean_line(link),
                        clean_line(&q.rule)
                    );
                }
                if let Some(reply) = &q.suggested_reply {
                    let _ = writeln!(
                        out,
                        "    {}: {}",
                        words.suggested_reply(),
                        clean_line(reply)
                    );
                }
            }
        }
    }
    if digest.too_recent > 0 {
        let _ = writeln!(
            out,
            "\n{}",
            words.too_recent(digest.too_recent, &min_age_hint(digest))
        );
    }
    let _ = writeln!(out, "\n{}:", words.health_title());
    if digest.health.is_empty() {
        let _ = writeln!(out, "  {}", words.health_ok());
    }
    for note in &digest.health {
        let _ = writeln!(out, "  ! {}", clean_line(&words.health_note(note)));
    }
    out
}

fn min_age_hint(digest: &Digest) -> String {
    match digest.language {
        super::Language::En => "old enough".into(),
        super::Language::Es => "la antigüedad mínima".into(),
    }
}

fn render_markdown(digest: &Digest) -> String {
    let words = Words::of(digest.language);
    let mut out = String::new();
    let _ = writeln!(out, "## {}\n", md_escape(&clean_line(&title(digest))));
    let _ = writeln!(out, "**{}**", md_escape(&words.summary(digest)));
    if !digest.discount_alerts.is_empty() {
        let _ = writeln!(out, "\n> ⚠ **{}**", md_escape(words.discount_title()));
        for alert in &digest.discount_alerts {
            let link = md_open_link(alert.link.as_deref());
            let _ = writeln!(
                out,
                "> - {} · {} · {}: {}{}",
                md_escape(&clean_line(&alert.account)),
                words.ago(alert.age),
                md_escape(&words.author(&clean_line(&alert.author))),
                md_escape(&excerpt(&alert.text)),
                link
            );
        }
    }
    for post in &digest.posts {
        let caption = md_escape(&shorten(&clean_line(&post.caption), CAPTION_GRAPHEMES));
        let heading = match &post.permalink {
            Some(link) => format!("[{caption}](<{}>)", url_for_markdown(link)),
            None => caption,
        };
        let _ = writeln!(
            out,
            "\n### {} · {} · {}\n",
            md_escape(&clean_line(&post.account)),
            post.platform,
            heading
        );
        for group in &post.groups {
            if group.is_grouped() {
                let _ = writeln!(
                    out,
                    "> {}\n",
                    md_escape(&words.group(group.questions.len(), group.category))
                );
            }
            for q in &group.questions {
                let link = md_open_link(q.link.as_deref());
                let _ = writeln!(
                    out,
                    "- **{}** · {} · {} · _{}_: {}{}",
                    words.category(q.category),
                    words.ago(q.age),
                    md_escape(&words.author(&clean_line(&q.author))),
                    md_escape(&markers(&words, q).join(" · ")),
                    md_escape(&excerpt(&q.text)),
                    link
                );
                if let Some(reply) = &q.suggested_reply {
                    let _ = writeln!(
                        out,
                        "  - {}: {}",
                        words.suggested_reply(),
                        md_escape(&clean_line(reply))
                    );
                }
            }
        }
    }
    let _ = writeln!(out, "\n**{}**", words.health_title());
    if digest.health.is_empty() {
        let _ = writeln!(out, "\n{}", words.health_ok());
    }
    for note in &digest.health {
        let _ = writeln!(
            out,
            "\n- ⚠ {}",
            md_escape(&clean_line(&words.health_note(note)))
        );
    }
    out
}

/// An HTML email body: one column, inline styles only (mail clients drop `<style>` blocks and
/// external sheets), every piece of comment text escaped and isolated with `<bdi>`.
fn render_html(digest: &Digest) -> String {
    let words = Words::of(digest.language);
    let mut out = String::new();
    let lang = match digest.language {
        super::Language::En => "en",
        super::Language::Es => "es",
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{}</title></head>\n<body style=\"margin:0;padding:24px;background:#f6f6f4;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1d1d1b;\">\n",
        html_escape(&title(digest))
    );
    out.push_str("<div style=\"max-width:640px;margin:0 auto;background:#ffffff;border-radius:8px;padding:24px;\">\n");
    let _ = writeln!(
        out,
        "<p style=\"margin:0;color:#6b6b66;font-size:13px;\">{}</p>",
        html_escape(&clean_line(&title(digest)))
    );
    let _ = writeln!(
        out,
        "<h1 style=\"font-size:20px;margin:8px 0 16px;\">{}</h1>",
        html_escape(&words.summary(digest))
    );
    if !digest.discount_alerts.is_empty() {
        let _ = writeln!(
            out,
            "<div style=\"margin:0 0 16px;padding:10px 12px;background:#fde2e2;border-left:4px solid #a11;\"><p style=\"margin:0 0 6px;font-weight:bold;color:#a11;\">{}</p>",
            html_escape(words.discount_title())
        );
        for alert in &digest.discount_alerts {
            let link = alert
                .link
                .as_deref()
                .map(|l| {
                    format!(
                        " · <a href=\"{}\" style=\"color:#a11;\">open</a>",
                        html_escape(l)
                    )
                })
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "<p style=\"margin:0 0 4px;font-size:13px;\">{} · {} · {}{}<br><bdi>{}</bdi></p>",
                html_escape(&alert.account),
                html_escape(&words.ago(alert.age)),
                html_escape(&words.author(&alert.author)),
                link,
                html_escape(&excerpt(&alert.text))
            );
        }
        out.push_str("</div>\n");
    }
    for post in &digest.posts {
        let caption = html_escape(&shorten(&clean_line(&post.caption), CAPTION_GRAPHEMES));
        let heading = match &post.permalink {
            Some(link) => format!(
                "<a href=\"{}\" style=\"color:#1d1d1b;\">{caption}</a>",
                html_escape(link)
            ),
            None => caption,
        };
        let _ = writeln!(
            out,
            "<h2 style=\"font-size:15px;margin:24px 0 8px;border-bottom:1px solid #e4e4e0;padding-bottom:6px;\">{} · {} · <bdi>{}</bdi></h2>",
            html_escape(&post.account),
            html_escape(&post.platform),
            heading
        );
        for group in &post.groups {
            if group.is_grouped() {
                let _ = writeln!(
                    out,
                    "<p style=\"margin:8px 0;padding:8px 10px;background:#fff7e6;border-left:3px solid #e0a100;font-size:13px;\">{}</p>",
                    html_escape(&words.group(group.questions.len(), group.category))
                );
            }
            out.push_str("<ul style=\"list-style:none;margin:0;padding:0;\">\n");
            for q in &group.questions {
                let link = q
                    .link
                    .as_deref()
                    .map(|l| {
                        format!(
                            " · <a href=\"{}\" style=\"color:#b4470c;\">open</a>",
                            html_escape(l)
                        )
                    })
                    .unwrap_or_default();
                let badge_colour = if q.overdue {
                    "#fde2e2;color:#a11"
                } else {
                    "#fdeee4;color:#b4470c"
                };
                let reply = q
                    .suggested_reply
                    .as_deref()
                    .map(|r| {
                        format!(
                            "<br><span style=\"font-size:13px;color:#3c6e47;\">{}: <bdi>{}</bdi></span>",
                            words.suggested_reply(),
                            html_escape(&clean_line(r))
                        )
                    })
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "<li style=\"margin:0 0 12px;\"><span style=\"display:inline-block;background:{badge_colour};border-radius:4px;padding:1px 6px;font-size:12px;\">{}</span> <span style=\"color:#6b6b66;font-size:13px;\">{} · {} · {}{}</span><br><bdi style=\"white-space:pre-wrap;\">{}</bdi>{}</li>",
                    html_escape(words.category(q.category)),
                    html_escape(&words.ago(q.age)),
                    html_escape(&words.author(&q.author)),
                    html_escape(&markers(&words, q).join(" · ")),
                    link,
                    html_escape(&excerpt(&q.text)),
                    reply
                );
            }
            out.push_str("</ul>\n");
        }
    }
    let _ = writeln!(
        out,
        "<h3 style=\"font-size:14px;margin:24px 0 6px;color:#6b6b66;\">{}</h3>",
        html_escape(words.health_title())
    );
    if digest.health.is_empty() {
        let _ = writeln!(
            out,
            "<p style=\"margin:0;font-size:13px;color:#3c6e47;\">{}</p>",
            html_escape(words.health_ok())
        );
    }
    for note in &digest.health {
        let _ = writeln!(
            out,
            "<p style=\"margin:0 0 4px;font-size:13px;color:#a11;\">⚠ {}</p>",
            html_escape(&clean_line(&words.health_note(note)))
        );
    }
    out.push_str("</div>\n</body></html>\n");
    out
}

/// Shortens to at most `max` graphemes, adding `…` when something was cut.
pub fn shorten(text: &str, max: usize) -> String {
    let mut graphemes = text.grapheme_indices(true);
    match graphemes.nth(max) {
        None => text.to_owned(),
        Some(_) => {
            let end = text
                .grapheme_indices(true)
                .nth(max.saturating_sub(1))
                .map_or(0, |(i, _)| i);
            format!("{}…", text[..end].trim_end())
        }
    }
}

/// One display line: newlines and tabs become spaces; control characters, zero-width-free bidi
/// overrides and isolates are dropped so the text cannot reorder or restyle what follows it.
pub(crate) fn clean_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last_space = false;
    for c in text.chars() {
        let c = match c {
            '\n' | '\r' | '\t' => ' ',
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => continue,
            c if c.is_control() => continue,
            c => c,
        };
        if c == ' ' {
            if last_space {
                continue;
            }
            last_space = true;
        } else {
            last_space = false;
        }
        out.push(c);
    }
    out.trim().to_owned()
}

pub(crate) fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn md_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '`'
                | '*'
                | '_'
                | '{'
                | '}'
                | '['
                | ']'
                | '('
                | ')'
                | '<'
                | '>'
                | '#'
                | '|'
                | '!'
                | '~'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// ` · [open](<link>)`, or nothing without a link.
fn md_open_link(link: Option<&str>) -> String {
    link.map(|l| format!(" · [open](<{}>)", url_for_markdown(l)))
        .unwrap_or_default()
}

/// Links go inside `<…>`, where only `<`, `>` and spaces could break out.
fn url_for_markdown(url: &str) -> String {
    url.replace('<', "%3C")
        .replace('>', "%3E")
        .replace(' ', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortening_never_splits_a_grapheme() {
        let family = "👨‍👩‍👧‍👦";
        let text = format!("{family}{family}{family}");
        assert_eq!(shorten(&text, 2), format!("{family}…"));
        assert_eq!(shorten(&text, 3), text);
        assert_eq!(shorten("🇨🇦🇨🇦🇨🇦", 2), "🇨🇦…");
    }

    #[test]
    fn html_escaping_neutralises_markup() {
        assert_eq!(
            html_escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn control_characters_and_overrides_are_dropped() {
        assert_eq!(clean_line("a\u{1b}[31mb\u{202E}c\n\nd"), "a[31mbc d");
    }
}
