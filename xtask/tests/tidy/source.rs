//! Rust sources: files, test modules, comments and string literals.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub(crate) fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Every `.rs` file under `dir`, skipping `target` and hidden directories, sorted.
pub(crate) fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    todo.push(path);
                }
            } else if name.ends_with(".rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Files under `src` that are test modules: declared by `#[cfg(test)] mod name;`, and the
/// modules those declare in turn.
pub(crate) fn test_modules(src: &Path) -> BTreeSet<PathBuf> {
    let mut tests = BTreeSet::new();
    let mut children: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    for file in rust_files(src) {
        let code = lex(&read(&file)).code;
        let dir = match file.file_name().and_then(|n| n.to_str()) {
            Some("lib.rs" | "main.rs" | "mod.rs") => file.parent().unwrap().to_path_buf(),
            _ => file.with_extension(""),
        };
        let test_ranges = cfg_test_ranges(&code);
        for (at, name) in mod_declarations(&code) {
            let child = [
                dir.join(format!("{name}.rs")),
                dir.join(&name).join("mod.rs"),
            ]
            .into_iter()
            .find(|p| p.exists());
            let Some(child) = child else { continue };
            if test_ranges.iter().any(|r| r.contains(&at)) {
                tests.insert(child.clone());
            }
            children.entry(file.clone()).or_default().push(child);
        }
    }
    let mut todo: Vec<PathBuf> = tests.iter().cloned().collect();
    while let Some(f) = todo.pop() {
        for c in children.get(&f).into_iter().flatten() {
            if tests.insert(c.clone()) {
                todo.push(c.clone());
            }
        }
    }
    tests
}

/// `mod name;` declarations (offset, name) in lexed code.
fn mod_declarations(code: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (at, _) in code.match_indices("mod ") {
        if at > 0 && code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[at + 4..];
        let name: String = rest
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let after = rest.trim_start()[name.len()..].trim_start();
        if !name.is_empty() && after.starts_with(';') {
            out.push((at, name));
        }
    }
    out
}

/// Byte ranges of lexed code covered by `#[cfg(test)]` items (attribute to closing brace).
pub(crate) fn cfg_test_ranges(code: &str) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    for (start, attr) in code.match_indices("#[cfg(test)]") {
        let bytes = code.as_bytes();
        let mut i = start + attr.len();
        let mut depth = 0usize;
        while i < bytes.len() {
            match bytes[i] {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                b';' if depth == 0 => break,
                _ => {}
            }
            i += 1;
        }
        out.push(start..i + 1);
    }
    out
}

pub(crate) struct Lexed {
    /// The source without comments; each string literal becomes `""`.
    pub(crate) code: String,
    pub(crate) strings: Vec<Literal>,
}

pub(crate) struct Literal {
    /// Offset of the literal in `code`.
    pub(crate) at: usize,
    pub(crate) line: usize,
    pub(crate) text: String,
}

/// Splits Rust source into code and string literals, dropping comments.
pub(crate) fn lex(src: &str) -> Lexed {
    let c: Vec<char> = src.chars().collect();
    let (mut code, mut strings, mut line, mut i) = (String::new(), Vec::new(), 1, 0);
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    while i < c.len() {
        let next = c.get(i + 1).copied();
        if c[i] == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if c[i] == '/' && next == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    line += usize::from(c[i] == '\n');
                    i += 1;
                }
            }
            code.push(' ');
        } else if c[i] == '\'' && !(i > 0 && ident(c[i - 1])) {
            // A char literal ('x', '\n', '"') or a lifetime ('a).
            let end = if next == Some('\\') {
                (i + 2..c.len())
                    .find(|&j| c[j] == '\'')
                    .unwrap_or(c.len() - 1)
            } else if c.get(i + 2) == Some(&'\'') {
                i + 2
            } else {
                i
            };
            code.extend(&c[i..=end]);
            i = end + 1;
        } else if let Some((hashes, body)) =
            string_start(&c, i).filter(|_| !(i > 0 && ident(c[i - 1])))
        {
            let start_line = line;
            let mut j = body;
            let mut text = String::new();
            loop {
                if j >= c.len() {
                    break;
                }
                if hashes.is_none() && c[j] == '\\' {
                    text.push(c[j]);
                    if let Some(&n) = c.get(j + 1) {
                        text.push(n);
                        line += usize::from(n == '\n');
                    }
                    j += 2;
                    continue;
                }
                if c[j] == '"' && (0..hashes.unwrap_or(0)).all(|k| c.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes.unwrap_or(0);
                    break;
                }
                line += usize::from(c[j] == '\n');
                text.push(c[j]);
                j += 1;
            }
            strings.push(Literal {
                at: code.len(),
                line: start_line,
                text,
            });
            code.push_str("\"\"");
            i = j;
        } else {
            line += usize::from(c[i] == '\n');
            code.push(c[i]);
            i += 1;
        }
    }
    Lexed { code, strings }
}

/// If a string literal starts at `i`: `(Some(hash count) for raw strings, offset of the body)`.
fn string_start(c: &[char], i: usize) -> Option<(Option<usize>, usize)> {
    let mut j = i;
    if matches!(c[j], 'b' | 'c') && c.get(j + 1).is_some_and(|&n| n == '"' || n == 'r') {
        j += 1;
    }
    if c[j] == '"' {
        return Some((None, j + 1));
    }
    if c[j] == 'r' {
        let hashes = c[j + 1..].iter().take_while(|&&h| h == '#').count();
        if c.get(j + 1 + hashes) == Some(&'"') {
            return Some((Some(hashes), j + 2 + hashes));
        }
    }
    None
}

/// Whether `src` names crate `lib` as a path (`lib::`), in a `use` or an `extern crate`.
pub(crate) fn names_crate(src: &str, lib: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    src.match_indices(lib).any(|(i, _)| {
        let before = src[..i].chars().next_back();
        let after = &src[i + lib.len()..];
        if before.is_some_and(ident) || after.starts_with(ident) {
            return false;
        }
        // `other::name::` is a module of another crate, not this one.
        let nested = src[..i]
            .strip_suffix("::")
            .is_some_and(|h| h.ends_with(ident));
        let head = src[..i].trim_end();
        (after.trim_start().starts_with("::") && !nested)
            || (head.ends_with("use") && !head[..head.len() - 3].ends_with(ident))
            || head.ends_with("extern crate")
    })
}
