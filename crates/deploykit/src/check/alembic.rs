//! The app's Alembic head revisions, read from its migration scripts' source text (no Python):
//! `revision = "..."` and `down_revision = ...` in `migrations/versions/*.py`; the heads are
//! the revisions no other script names as its down revision.

use std::collections::BTreeSet;
use std::path::Path;

/// One script's `revision` and the revisions it follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub revision: String,
    pub down: Vec<String>,
}

/// Parses one script's text; `None` when it declares no `revision`.
pub fn parse_script(text: &str) -> Option<Script> {
    let mut revision = None;
    let mut down = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        // `revision: str = "abc"` (typed, newer Alembic templates) or `revision = 'abc'`.
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let name = name.split(':').next().unwrap_or_default().trim();
        match name {
            "revision" if revision.is_none() => revision = quoted(value).into_iter().next(),
            "down_revision" => down = quoted(value),
            _ => {}
        }
    }
    revision.map(|revision| Script { revision, down })
}

/// Every quoted string in `value` (`None` gives none; a tuple gives several).
fn quoted(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find(['"', '\'']) {
        let q = rest.as_bytes()[start] as char;
        let after = &rest[start + 1..];
        let Some(end) = after.find(q) else { break };
        out.push(after[..end].to_string());
        rest = &after[end + 1..];
    }
    out
}

/// The heads of a set of scripts, sorted.
pub fn heads(scripts: &[Script]) -> Vec<String> {
    let followed: BTreeSet<&str> = scripts
        .iter()
        .flat_map(|s| s.down.iter().map(String::as_str))
        .collect();
    let mut heads: Vec<String> = scripts
        .iter()
        .filter(|s| !followed.contains(s.revision.as_str()))
        .map(|s| s.revision.clone())
        .collect();
    heads.sort();
    heads.dedup();
    heads
}

/// The heads of the app's `migrations/versions`; `Ok(None)` when the app has no migrations.
pub fn app_heads(app: &Path) -> std::io::Result<Option<Vec<String>>> {
    let dir = app.join("migrations").join("versions");
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut scripts = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|x| x == "py")
            && let Some(s) = parse_script(&std::fs::read_to_string(&path)?)
        {
            scripts.push(s);
        }
    }
    Ok((!scripts.is_empty()).then(|| heads(&scripts)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_parse_in_their_common_shapes() {
        type Want<'a> = Option<(&'a str, &'a [&'a str])>;
        let cases: &[(&str, Want<'_>)] = &[
            (
                "revision = '0001'\ndown_revision = None\n",
                Some(("0001", &[])),
            ),
            (
                "revision: str = \"0002\"\ndown_revision: Union[str, None] = \"0001\"\n",
                Some(("0002", &["0001"])),
            ),
            (
                "revision = 'm'\ndown_revision = ('a', 'b')\nbranch_labels = None\n",
                Some(("m", &["a", "b"])),
            ),
            ("\"\"\"docs\"\"\"\nimport sqlalchemy as sa\n", None),
        ];
        for (text, want) in cases {
            let got = parse_script(text);
            let want = want.map(|(r, d)| Script {
                revision: r.to_string(),
                down: d.iter().map(|s| s.to_string()).collect(),
            });
            assert_eq!(got, want, "{text}");
        }
    }

    #[test]
    fn heads_are_the_revisions_nothing_follows() {
        let s = |r: &str, d: &[&str]| Script {
            revision: r.into(),
            down: d.iter().map(|x| x.to_string()).collect(),
        };
        assert_eq!(heads(&[s("1", &[]), s("2", &["1"])]), vec!["2"]);
        assert_eq!(
            heads(&[s("1", &[]), s("a", &["1"]), s("b", &["1"])]),
            vec!["a", "b"]
        );
        assert_eq!(
            heads(&[
                s("1", &[]),
                s("a", &["1"]),
                s("b", &["1"]),
                s("m", &["a", "b"])
            ]),
            vec!["m"]
        );
    }

    #[test]
    fn the_example_app_has_one_head() {
        let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/budgetsync");
        let heads = app_heads(&app).unwrap().unwrap();
        assert_eq!(heads.len(), 1, "{heads:?}");
    }
}
