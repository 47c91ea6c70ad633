//! Parser for Graph's `fields` parameter: `id,text,from{id,username},replies.limit(3){id,text}`.
//!
//! Names may carry modifiers (`.limit(n)`, and others such as `.filter(stream)` or
//! `.summary(true)` kept by name for the edges that read them) and a nested list in braces. Each
//! nested list keeps its source text, so a nested edge can repeat it in its own `paging.next` URL.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Field {
    pub(crate) name: String,
    pub(crate) limit: Option<usize>,
    /// Modifiers other than `limit`, in order: `.filter(stream)` → `("filter", "stream")`.
    pub(crate) modifiers: Vec<(String, String)>,
    pub(crate) children: Option<FieldList>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct FieldList {
    pub(crate) fields: Vec<Field>,
    /// The text this list was parsed from, without the braces.
    pub(crate) raw: String,
}

impl FieldList {
    /// A list of plain names, as a node's default fields.
    pub(crate) fn plain(names: &[&str]) -> FieldList {
        FieldList {
            fields: names
                .iter()
                .map(|name| Field {
                    name: (*name).to_owned(),
                    limit: None,
                    modifiers: Vec::new(),
                    children: None,
                })
                .collect(),
            raw: names.join(","),
        }
    }
}

/// A syntax error, with the character position Graph reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FieldsError {
    pub(crate) position: usize,
    pub(crate) expected: &'static str,
}

impl fmt::Display for FieldsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Syntax error \"Expected {}.\" at character {}",
            self.expected, self.position
        )
    }
}

pub(crate) fn parse_fields(input: &str) -> Result<FieldList, FieldsError> {
    let chars: Vec<char> = input.chars().collect();
    let mut parser = Parser { chars, at: 0 };
    let list = parser.list()?;
    parser.skip_spaces();
    if parser.at < parser.chars.len() {
        return Err(parser.error("end of string"));
    }
    Ok(list)
}

struct Parser {
    chars: Vec<char>,
    at: usize,
}

impl Parser {
    fn error(&self, expected: &'static str) -> FieldsError {
        FieldsError {
            position: self.at,
            expected,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    fn name(&mut self) -> Result<String, FieldsError> {
        self.skip_spaces();
        let start = self.at;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            self.at += 1;
        }
        if start == self.at {
            return Err(self.error("field name"));
        }
        Ok(self.chars[start..self.at].iter().collect())
    }

    fn list(&mut self) -> Result<FieldList, FieldsError> {
        let start = self.at;
        let mut fields = Vec::new();
        loop {
            fields.push(self.field()?);
            self.skip_spaces();
            if self.peek() == Some(',') {
                self.at += 1;
            } else {
                break;
            }
        }
        let raw: String = self.chars[start..self.at].iter().collect();
        Ok(FieldList {
            fields,
            raw: raw.trim().to_owned(),
        })
    }

    fn field(&mut self) -> Result<Field, FieldsError> {
        let name = self.name()?;
        let mut limit = None;
        let mut modifiers = Vec::new();
        while self.peek() == Some('.') {
            self.at += 1;
            let modifier = self.name()?;
            if self.peek() != Some('(') {
                return Err(self.error("'('"));
            }
            self.at += 1;
            let start = self.at;
            while self.peek().is_some_and(|c| c != ')') {
                self.at += 1;
            }
            if self.peek() != Some(')') {
                return Err(self.error("')'"));
            }
            let argument: String = self.chars[start..self.at].iter().collect();
            self.at += 1;
            if modifier == "limit" {
                let n = argument
                    .trim()
                    .parse()
                    .map_err(|_| self.error("a number in limit()"))?;
                limit = Some(n);
            } else {
                modifiers.push((modifier, argument.trim().to_owned()));
            }
        }
        self.skip_spaces();
        let children = if self.peek() == Some('{') {
            self.at += 1;
            let list = self.list()?;
            self.skip_spaces();
            if self.peek() != Some('}') {
                return Err(self.error("'}'"));
            }
            self.at += 1;
            Some(list)
        } else {
            None
        };
        Ok(Field {
            name,
            limit,
            modifiers,
            children,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_lists_and_limits_parse() {
        let list =
            parse_fields("id, text,replies.limit(3){id,from{id,username}},from{id}").unwrap();
        let names: Vec<&str> = list.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["id", "text", "replies", "from"]);
        let replies = &list.fields[2];
        assert_eq!(replies.limit, Some(3));
        let inner = replies.children.as_ref().unwrap();
        assert_eq!(inner.raw, "id,from{id,username}");
        assert_eq!(inner.fields[1].children.as_ref().unwrap().fields.len(), 2);
        let counted = parse_fields("comments.filter(stream).limit(0).summary(true)").unwrap();
        let comments = &counted.fields[0];
        assert_eq!(comments.limit, Some(0));
        let modifiers: Vec<(&str, &str)> = comments
            .modifiers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(modifiers, [("filter", "stream"), ("summary", "true")]);
    }

    #[test]
    fn broken_lists_report_a_position() {
        assert_eq!(parse_fields("id,replies{id").unwrap_err().position, 13);
        assert!(parse_fields("id,,text").is_err());
        assert!(parse_fields("id}").is_err());
    }
}
