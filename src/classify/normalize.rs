//! Cheap text normalisation before matching, so that rules can be written for the words people mean
//! rather than for every way a phone keyboard or a copy-paste can spell them.
//!
//! One pass over the characters, writing into a caller-owned buffer (no allocation once the buffer
//! has grown):
//! - zero-width characters, bidi controls and soft hyphens are dropped (they hide inside words);
//! - other control characters become a space, `\r` becomes `\n`;
//! - fullwidth ASCII (`ｌｉｎｋ？`) becomes ASCII, the ideographic space a space, curly quotes
//!   straight ones (`can’t` is `can't`);
//! - `@mention` becomes a bare `@` (rules still see that somebody was tagged, and openers after it);
//! - a URL becomes `<url>` (its `?` and words must not count as a question or a request);
//! - a run of three or more of the same letter folds to one (`pleaseee`, `linkkk`, `sooo`);
//! - NFKC (mathematical bold letters, ligatures, decomposed accents) runs only when such a
//!   character was seen during the pass, and only if the quick check says the text is not NFKC yet.
//!
//! No lower-casing: rules are compiled case-insensitive.

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

/// Writes the normalised form of `text` into `out` (which is cleared first).
pub fn normalize_into(text: &str, out: &mut String) {
    out.clear();
    let mut needs_nfkc = false;
    let mut previous = '\0';
    let mut run = 0usize;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let c = match c {
            '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
            | '\u{00AD}' => continue,
            '\r' => '\n',
            '\n' | '\t' => c,
            c if c.is_control() => ' ',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            '\u{2018}' | '\u{2019}' | '\u{02BC}' => '\'',
            '\u{201C}' | '\u{201D}' => '"',
            '@' => {
                out.push('@');
                while chars
                    .next_if(|&(_, n)| n.is_alphanumeric() || n == '_' || n == '.')
                    .is_some()
                {}
                previous = '@';
                run = 1;
                continue;
            }
            'h' | 'H' | 'w' | 'W' if starts_url(&text[at..]) && !previous.is_alphanumeric() => {
                out.push_str("<url>");
                while chars.next_if(|&(_, n)| !n.is_whitespace()).is_some() {}
                previous = '>';
                run = 1;
                continue;
            }
            c => c,
        };
        if c == previous && c.is_alphabetic() {
            run += 1;
            match run {
                2 => out.push(c),
                3 => {
                    out.pop();
                }
                _ => {}
            }
            continue;
        }
        previous = c;
        run = 1;
        if needs_nfkc_check(c) {
            needs_nfkc = true;
        }
        out.push(c);
    }
    if needs_nfkc && is_nfkc_quick(out.chars()) != IsNormalized::Yes {
        let normalized: String = out.nfkc().collect();
        *out = normalized;
    }
}

fn starts_url(rest: &str) -> bool {
    let head = rest.as_bytes();
    let starts = |prefix: &[u8]| {
        head.len() >= prefix.len() && head[..prefix.len()].eq_ignore_ascii_case(prefix)
    };
    starts(b"http://") || starts(b"https://") || starts(b"www.")
}

/// Characters whose NFKC form differs from what rules expect: combining marks (decomposed
/// accents, common in Vietnamese typed on some keyboards), letterlike symbols, enclosed and
/// mathematical alphanumerics ("𝐥𝐢𝐧𝐤"), ligatures, halfwidth forms.
fn needs_nfkc_check(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'
        | '\u{2100}'..='\u{214F}'
        | '\u{2460}'..='\u{24FF}'
        | '\u{FB00}'..='\u{FB4F}'
        | '\u{FF5F}'..='\u{FFEF}'
        | '\u{1D400}'..='\u{1D7FF}'
        | '\u{1F130}'..='\u{1F189}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalize(text: &str) -> String {
        let mut out = String::new();
        normalize_into(text, &mut out);
        out
    }

    #[test]
    fn folds_letter_runs_but_keeps_doubles() {
        assert_eq!(
            normalize("pleaseee linkkk sooo good"),
            "please link so good"
        );
        assert_eq!(normalize("need"), "need");
        assert_eq!(normalize("???"), "???");
    }

    #[test]
    fn drops_zero_width_and_folds_fullwidth() {
        assert_eq!(normalize("li\u{200B}nk"), "link");
        assert_eq!(normalize("ｌｉｎｋ？"), "link?");
    }

    #[test]
    fn mentions_and_urls_are_replaced() {
        assert_eq!(normalize("@glow.lab_id how much"), "@ how much");
        assert_eq!(normalize("see https://x.co/a?b=1 ok"), "see <url> ok");
    }

    #[test]
    fn control_characters_become_spaces() {
        assert_eq!(normalize("a\u{0007}b\r\nc"), "a b\n\nc");
    }

    #[test]
    fn nfkc_applies_to_math_letters_and_decomposed_accents() {
        assert_eq!(normalize("𝐥𝐢𝐧𝐤"), "link");
        assert_eq!(normalize("o\u{0302}"), "ô");
        assert_eq!(normalize("café 😍"), "café 😍");
    }
}
