//! Cursor paging over newest-first lists, and the query-string helpers `paging.next` needs.
//!
//! A cursor is the base64 of a position key `(timestamp, numeric id)` tagged with the edge it
//! belongs to. Items revealed later by the clock are always newer than every visible item, so
//! they land before any cursor already handed out: a walk with `after` never skips or repeats.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};

/// Where an item sits in a newest-first list; larger is newer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Position {
    pub(crate) millis: i64,
    pub(crate) key: u64,
}

impl Position {
    pub(crate) fn new(at: DateTime<Utc>, key: u64) -> Self {
        Position {
            millis: at.timestamp_millis(),
            key,
        }
    }
}

/// Which list a cursor belongs to; a cursor from another list is invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Edge {
    Media,
    Comments,
    Replies,
    /// A comment list read oldest first (Facebook `order=chronological`), whose positions are
    /// mirrored so that the same newest-first cut serves it.
    OldestFirst,
}

impl Edge {
    fn tag(self) -> &'static str {
        match self {
            Edge::Media => "m",
            Edge::Comments => "c",
            Edge::Replies => "r",
            Edge::OldestFirst => "o",
        }
    }
}

pub(crate) fn encode_cursor(edge: Edge, at: Position) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{}:{}", edge.tag(), at.millis, at.key))
}

pub(crate) fn decode_cursor(edge: Edge, cursor: &str) -> Option<Position> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim_end_matches('=')).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let mut parts = text.split(':');
    let tag = parts.next()?;
    let millis = parts.next()?.parse().ok()?;
    let key = parts.next()?.parse().ok()?;
    if tag != edge.tag() || parts.next().is_some() {
        return None;
    }
    Some(Position { millis, key })
}

/// One page cut from a newest-first list.
#[derive(Debug)]
pub(crate) struct Page<T> {
    pub(crate) items: Vec<T>,
    pub(crate) first: Option<Position>,
    pub(crate) last: Option<Position>,
    /// Older items exist after this page.
    pub(crate) has_more: bool,
}

/// Cuts a page of `limit` items from `items` (newest first): just older than `after`, or just
/// newer than `before`, or from the head.
pub(crate) fn cut_page<T>(
    items: Vec<(Position, T)>,
    after: Option<Position>,
    before: Option<Position>,
    limit: usize,
) -> Page<T> {
    let selected: Vec<(Position, T)> = match (after, before) {
        (Some(after), _) => items.into_iter().filter(|(p, _)| *p < after).collect(),
        (None, Some(before)) => {
            let mut newer: Vec<(Position, T)> =
                items.into_iter().filter(|(p, _)| *p > before).collect();
            let skip = newer.len().saturating_sub(limit);
            newer.drain(..skip);
            newer
        }
        (None, None) => items,
    };
    let has_more = selected.len() > limit;
    let page: Vec<(Position, T)> = selected.into_iter().take(limit).collect();
    Page {
        first: page.first().map(|(p, _)| *p),
        last: page.last().map(|(p, _)| *p),
        has_more,
        items: page.into_iter().map(|(_, item)| item).collect(),
    }
}

/// Splits a raw query string into decoded pairs, in order.
pub(crate) fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), percent_decode(value))
        })
        .collect()
}

fn percent_decode(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes a query component the way Graph writes its `next` URLs (`,` → `%2C`).
pub(crate) fn encode_component(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for byte in input.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

pub(crate) fn encode_query(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("{}={}", encode_component(name), encode_component(value)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let at = Position {
            millis: 1_714_554_000_000,
            key: 17_881_234_567_890_123,
        };
        let cursor = encode_cursor(Edge::Comments, at);
        assert_eq!(decode_cursor(Edge::Comments, &cursor), Some(at));
        assert_eq!(decode_cursor(Edge::Replies, &cursor), None);
        assert_eq!(decode_cursor(Edge::Comments, "garbage!!"), None);
        assert_eq!(decode_cursor(Edge::Comments, "QVFIUmx1WTBpMGpJ"), None);
    }

    #[test]
    fn pages_follow_cursors() {
        let items: Vec<(Position, u64)> = (0..7u64)
            .rev()
            .map(|k| (Position { millis: 0, key: k }, k))
            .collect();
        let first = cut_page(items.clone(), None, None, 3);
        assert_eq!(first.items, [6, 5, 4]);
        assert!(first.has_more);
        let second = cut_page(items.clone(), first.last, None, 3);
        assert_eq!(second.items, [3, 2, 1]);
        let third = cut_page(items.clone(), second.last, None, 3);
        assert_eq!(third.items, [0]);
        assert!(!third.has_more);
        let back = cut_page(items, None, third.first, 2);
        assert_eq!(back.items, [2, 1]);
    }

    #[test]
    fn query_strings_round_trip() {
        let pairs = parse_query("fields=id%2Creplies%7Bid%7D&limit=2&q=a+b");
        assert_eq!(pairs[0], ("fields".to_owned(), "id,replies{id}".to_owned()));
        assert_eq!(pairs[2].1, "a b");
        assert_eq!(encode_query(&pairs[..1]), "fields=id%2Creplies%7Bid%7D");
    }
}
