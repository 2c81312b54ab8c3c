//! Span bookkeeping: byte offsets to `line:column`, spans to dotted field paths, and removal of
//! an offending entry so that deserialization can continue and report the next problem.

use std::ops::Range;

use serde_spanned::Spanned;
use toml::de::{DeTable, DeValue};

/// One `key = value` (or `[table]`) in the document.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub path: Vec<String>,
    pub key: Range<usize>,
    pub value: Range<usize>,
}

impl Entry {
    pub fn dotted(&self) -> String {
        self.path.join(".")
    }
}

/// Every entry of a parsed document with its spans, plus the text for line/column lookups.
#[derive(Debug)]
pub(crate) struct Index<'a> {
    text: &'a str,
    entries: Vec<Entry>,
}

impl<'a> Index<'a> {
    pub fn new(text: &'a str, root: &DeTable<'_>) -> Self {
        let mut entries = Vec::new();
        walk(root, &mut Vec::new(), &mut entries);
        Index { text, entries }
    }

    pub fn empty(text: &'a str) -> Self {
        Index {
            text,
            entries: Vec::new(),
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }

    /// The innermost entry whose key or value contains `span`.
    pub fn entry_at(&self, span: &Range<usize>) -> Option<&Entry> {
        let inside = |r: &Range<usize>| {
            r.start <= span.start && (span.end <= r.end) && (span.start < r.end || r == span)
        };
        self.entries
            .iter()
            .filter(|e| inside(&e.key) || inside(&e.value))
            .min_by_key(|e| {
                let r = if inside(&e.key) { &e.key } else { &e.value };
                (r.end - r.start, usize::MAX - e.path.len())
            })
    }

    /// The span of the key at a dotted path, if present in the document.
    pub fn key_span(&self, path: &str) -> Option<Range<usize>> {
        self.entries
            .iter()
            .find(|e| e.dotted() == path)
            .map(|e| e.key.clone())
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn walk(table: &DeTable<'_>, prefix: &mut Vec<String>, out: &mut Vec<Entry>) {
    for (k, v) in table.iter() {
        prefix.push(k.get_ref().to_string());
        out.push(Entry {
            path: prefix.clone(),
            key: k.span(),
            value: v.span(),
        });
        if let DeValue::Table(t) = v.get_ref() {
            walk(t, prefix, out);
        }
        prefix.pop();
    }
}

/// Removes the entry at `path` from the document. Returns whether something was removed.
pub(crate) fn remove(root: &mut Spanned<DeTable<'_>>, path: &[String]) -> bool {
    fn go(t: &mut DeTable<'_>, path: &[String]) -> bool {
        match path {
            [] => false,
            [last] => t.remove(last.as_str()).is_some(),
            [first, rest @ ..] => match t.get_mut(first.as_str()).map(|v| v.get_mut()) {
                Some(DeValue::Table(inner)) => go(inner, rest),
                _ => false,
            },
        }
    }
    go(root.get_mut(), path)
}
