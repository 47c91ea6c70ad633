//! `triage classify`: classify a JSON Lines stream of comments, one verdict line per input line.
//!
//! Streams in constant memory whatever the input size: one line buffer and one output buffer are
//! reused, texts without escapes are borrowed straight from the line buffer, and nothing is
//! collected. A malformed line (invalid JSON, invalid UTF-8, no string `text`, no string or number
//! `id`) is reported on the error stream with its 1-based line number and skipped; the others are
//! still written, in input order. Blank lines are ignored.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, BufRead, BufWriter, Write};

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::Classifier;

/// How many lines were classified and how many were malformed. The caller should exit non-zero
/// when `bad > 0`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ClassifyStats {
    /// Lines classified and written.
    pub good: u64,
    /// Malformed lines reported to the error stream and skipped.
    pub bad: u64,
}

/// A comment id as it came: a string or a number, written back the same way.
enum CommentIdValue<'a> {
    Text(Cow<'a, str>),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
}

impl<'de: 'a, 'a> Deserialize<'de> for CommentIdValue<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for IdVisitor<'a> {
            type Value = CommentIdValue<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CommentIdValue::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CommentIdValue::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(CommentIdValue::Unsigned(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(CommentIdValue::Signed(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(CommentIdValue::Float(v))
            }
        }
        deserializer.deserialize_any(IdVisitor(std::marker::PhantomData))
    }
}

impl Serialize for CommentIdValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            CommentIdValue::Text(text) => serializer.serialize_str(text),
            CommentIdValue::Unsigned(n) => serializer.serialize_u64(*n),
            CommentIdValue::Signed(n) => serializer.serialize_i64(*n),
            CommentIdValue::Float(n) => serializer.serialize_f64(*n),
        }
    }
}

#[derive(Deserialize)]
struct InputLine<'a> {
    #[serde(borrow)]
    id: CommentIdValue<'a>,
    #[serde(borrow)]
    text: Cow<'a, str>,
}

#[derive(Serialize)]
struct OutputLine<'a> {
    id: &'a CommentIdValue<'a>,
    kind: &'static str,
    category: Option<&'static str>,
    rule: &'a str,
    is_question: bool,
    is_product_question: bool,
}

/// Classifies every JSON line of `input` and writes one verdict line per good input line to
/// `output`: `{"id","kind","category","rule","is_question","is_product_question"}`.
///
/// # Errors
/// Only I/O errors on reading `input` or writing `output`/`errors`; malformed lines are counted
/// in [`ClassifyStats::bad`] instead.
pub fn classify_jsonl(
    classifier: &Classifier,
    mut input: impl BufRead,
    output: impl Write,
    errors: impl Write,
) -> io::Result<ClassifyStats> {
    let mut output = BufWriter::with_capacity(64 * 1024, output);
    let mut errors = BufWriter::new(errors);
    let mut stats = ClassifyStats::default();
    let mut line = Vec::with_capacity(4096);
    let mut line_number = 0u64;
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        line_number += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<InputLine>(&line) {
            Ok(comment) => {
                let verdict = classifier.classify(&comment.text);
                let record = OutputLine {
                    id: &comment.id,
                    kind: verdict.label.kind_str(),
                    category: verdict.label.category().map(|c| c.as_str()),
                    rule: verdict.rule.as_str(),
                    is_question: verdict.label.is_question(),
                    is_product_question: verdict.label.is_product_question(),
                };
                serde_json::to_writer(&mut output, &record)?;
                output.write_all(b"\n")?;
                stats.good += 1;
            }
            Err(error) => {
                writeln!(errors, "line {line_number}: {error}")?;
                stats.bad += 1;
            }
        }
    }
    output.flush()?;
    errors.flush()?;
    Ok(stats)
}
