//! A small template renderer: `{{key}}` is replaced by its value, and lines between
//! `{{#flag}}` and `{{/flag}}` (each alone on its line) are kept only when the flag is on
//! (`{{^flag}}` ... `{{/flag}}`: only when it is off). Keys are lowercase identifiers without
//! spaces, so GitHub's `${{ expr }}` passes through untouched. An unknown key or flag, or an
//! unclosed block, is an error: a template never renders half-filled.

use std::collections::BTreeMap;

use crate::InitError;

#[derive(Debug, Default)]
pub struct Vars {
    values: BTreeMap<&'static str, String>,
    flags: BTreeMap<&'static str, bool>,
}

impl Vars {
    pub fn set(&mut self, key: &'static str, value: impl Into<String>) -> &mut Self {
        self.values.insert(key, value.into());
        self
    }
    pub fn flag(&mut self, key: &'static str, on: bool) -> &mut Self {
        self.flags.insert(key, on);
        self
    }
}

fn is_key(s: &str) -> bool {
    !s.is_empty()
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

pub fn render(name: &'static str, template: &str, vars: &Vars) -> Result<String, InitError> {
    let err = |why: String| InitError::Template {
        template: name,
        why,
    };
    let mut out = String::with_capacity(template.len() + 256);
    // Open blocks: (flag, keep?).
    let mut stack: Vec<(&str, bool)> = Vec::new();
    for (i, line) in template.split_inclusive('\n').enumerate() {
        let t = line.trim();
        let block = t
            .strip_prefix("{{")
            .and_then(|r| r.strip_suffix("}}"))
            .filter(|inner| inner.starts_with(['#', '^', '/']) && is_key(&inner[1..]));
        if let Some(inner) = block {
            let (sigil, flag) = inner.split_at(1);
            match sigil {
                "/" => match stack.pop() {
                    Some((open, _)) if open == flag => {}
                    other => {
                        return Err(err(format!(
                            "line {}: {{{{/{flag}}}}} closes {}",
                            i + 1,
                            other.map_or("nothing".into(), |(o, _)| format!("`{o}`"))
                        )));
                    }
                },
                _ => {
                    let on = *vars
                        .flags
                        .get(flag)
                        .ok_or_else(|| err(format!("line {}: unknown flag `{flag}`", i + 1)))?;
                    stack.push((flag, if sigil == "#" { on } else { !on }));
                }
            }
            continue;
        }
        if stack.iter().any(|(_, keep)| !keep) {
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find("{{") {
            let after = &rest[start + 2..];
            match after.find("}}") {
                Some(end) if is_key(&after[..end]) => {
                    let key = &after[..end];
                    let value = vars
                        .values
                        .get(key)
                        .ok_or_else(|| err(format!("line {}: unknown key `{key}`", i + 1)))?;
                    out.push_str(&rest[..start]);
                    out.push_str(value);
                    rest = &after[end + 2..];
                }
                _ => {
                    out.push_str(&rest[..start + 2]);
                    rest = after;
                }
            }
        }
        out.push_str(rest);
    }
    if let Some((open, _)) = stack.last() {
        return Err(err(format!("`{{{{#{open}}}}}` is never closed")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases() {
        let mut v = Vars::default();
        v.set("name", "shop").flag("db", true).flag("static", false);
        let ok = [
            ("a {{name}} b\n", "a shop b\n"),
            ("x: ${{ vars.ROLE }}\n", "x: ${{ vars.ROLE }}\n"),
            ("{{#db}}\nDB={{name}}\n{{/db}}\nend\n", "DB=shop\nend\n"),
            (
                "{{#static}}\ngone\n{{/static}}\n{{^static}}\nkept\n{{/static}}\n",
                "kept\n",
            ),
            (
                "  {{#db}}\n{{^static}}\nboth\n{{/static}}\n  {{/db}}\n",
                "both\n",
            ),
        ];
        for (t, want) in ok {
            assert_eq!(render("t", t, &v).unwrap(), want, "{t}");
        }
        let bad = [
            ("{{nope}}\n", "unknown key `nope`"),
            ("{{#nope}}\n{{/nope}}\n", "unknown flag `nope`"),
            ("{{#db}}\nx\n", "never closed"),
            ("{{#db}}\n{{/static}}\n", "closes `db`"),
        ];
        for (t, want) in bad {
            let e = render("t", t, &v).unwrap_err().to_string();
            assert!(e.contains(want), "{t}: {e}");
        }
    }
}
