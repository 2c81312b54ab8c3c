//! A line scanner over the app's Python sources: where `Flask(...)` is built (at module level
//! or inside a factory), module-level `app = ...` wrappers, routes (with blueprint prefixes)
//! and static folders. It reads source text only: nothing is imported or run.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use walkdir::WalkDir;

use crate::InitError;

/// Directories never scanned: VCS data, virtualenvs, caches, build output, tests, migrations.
/// Files named like tests (`conftest.py`, `test_*.py`, `*_test.py`) are skipped too.
const SKIP_DIRS: [&str; 22] = [
    ".git",
    ".hg",
    ".venv",
    "venv",
    "env",
    ".env",
    ".tox",
    ".nox",
    "node_modules",
    "__pycache__",
    "site-packages",
    "build",
    "dist",
    "tests",
    "test",
    "migrations",
    "alembic",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    "target",
    ".github",
];
/// Deep enough for `src/pkg/web/app.py`; deeper trees are not app entry points.
const MAX_DEPTH: usize = 5;

/// Where a `Flask(...)` object is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteKind {
    /// `NAME = Flask(...)` at module level.
    Instance { name: String },
    /// `Flask(...)` inside `def FUNC(...)`; `required_args` when FUNC cannot be called bare.
    Factory { func: String, required_args: bool },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub file: PathBuf,
    pub module: String,
    pub line: usize,
    pub kind: SiteKind,
}

/// `NAME = something(...)` at module level, NAME being `app` or `application`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrapper {
    pub file: PathBuf,
    pub module: String,
    pub line: usize,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The URL path with blueprint prefixes applied.
    pub path: String,
    pub file: PathBuf,
    pub line: usize,
}

/// Everything the scanner found.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    pub files: usize,
    pub sites: Vec<Site>,
    pub wrappers: Vec<Wrapper>,
    pub routes: Vec<Route>,
}

static FLASK_CALL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|[^\w.])(?:flask\.)?Flask\(").expect("regex"));
static ASSIGN_FLASK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([A-Za-z_]\w*)\s*(?::[^=]+)?=\s*(?:flask\.)?Flask\(").expect("regex")
});
static ASSIGN_CALL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(app|application)\s*(?::[^=]+)?=\s*[A-Za-z_][\w.]*\(").expect("regex")
});
static DEF: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:async\s+)?def\s+([A-Za-z_]\w*)\s*\(").expect("regex"));
static ROUTE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^\s*@\s*([A-Za-z_][\w.]*)\.(?:route|get|head)\(\s*(?:rule\s*=\s*)?[rbu]?["']([^"']*)["']"#)
        .expect("regex")
});
static URL_RULE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"([A-Za-z_][\w.]*)\.add_url_rule\(\s*(?:rule\s*=\s*)?[rbu]?["']([^"']*)["']"#)
        .expect("regex")
});
static BLUEPRINT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([A-Za-z_]\w*)\s*(?::[^=]+)?=\s*(?:flask\.)?Blueprint\((.*)").expect("regex")
});
static REGISTER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"register_blueprint\(\s*([A-Za-z_][\w.]*)(.*)").expect("regex"));
static URL_PREFIX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"url_prefix\s*=\s*[rbu]?["']([^"']*)["']"#).expect("regex"));

/// The module a file imports as from the app directory (`app/__init__.py` -> `app`), or
/// `None` when a path component is not an identifier.
pub fn module_of(rel: &Path) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for c in rel.iter() {
        parts.push(c.to_str()?.to_owned());
    }
    let last = parts.pop()?;
    let stem = last.strip_suffix(".py")?;
    if stem != "__init__" {
        parts.push(stem.to_owned());
    }
    let ident = |s: &String| {
        !s.is_empty()
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !s.starts_with(|c: char| c.is_ascii_digit())
    };
    (!parts.is_empty() && parts.iter().all(ident)).then(|| parts.join("."))
}

/// The Python files init reads, relative to `dir`, sorted.
pub fn python_files(dir: &Path) -> Result<Vec<PathBuf>, InitError> {
    let mut out = Vec::new();
    let walk = WalkDir::new(dir)
        .max_depth(MAX_DEPTH)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            e.depth() == 0
                || !(e.file_type().is_dir()
                    && (SKIP_DIRS.contains(&e.file_name().to_string_lossy().as_ref())
                        || e.path().join("pyvenv.cfg").exists()))
        });
    for entry in walk {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(dir).to_path_buf();
            InitError::io("scanning", path, e.into())
        })?;
        let name = entry.file_name().to_string_lossy();
        let test_file =
            name == "conftest.py" || name.starts_with("test_") || name.ends_with("_test.py");
        if entry.file_type().is_file()
            && entry.path().extension().is_some_and(|x| x == "py")
            && !test_file
            && let Ok(rel) = entry.path().strip_prefix(dir)
        {
            out.push(rel.to_path_buf());
        }
    }
    Ok(out)
}

/// Whether the signature starting at `lines[i]` (a `def`) has a parameter without a default.
fn has_required_args(lines: &[&str], i: usize) -> bool {
    let mut sig = String::new();
    for l in lines.iter().skip(i).take(20) {
        sig.push_str(l.split('#').next().unwrap_or(""));
        sig.push(' ');
        if l.contains("):") || l.contains(") ->") || l.trim_end().ends_with(':') {
            break;
        }
    }
    let Some(open) = sig.find('(') else {
        return false;
    };
    // The parameter list: up to the parenthesis that closes the first one.
    let mut depth = 0usize;
    let mut params = String::new();
    for c in sig[open..].chars() {
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                if depth == 1 {
                    continue;
                }
            }
            ')' | ']' | '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => {
                params.push('\u{1}');
                continue;
            }
            _ => {}
        }
        params.push(c);
    }
    params.split('\u{1}').map(str::trim).any(|p| {
        !p.is_empty()
            && !p.contains('=')
            && !p.starts_with('*')
            && p != "/"
            && p != "self"
            && p != "cls"
    })
}

/// Scans `files` (relative to `dir`).
pub fn scan(dir: &Path, files: &[PathBuf]) -> Result<Scan, InitError> {
    let mut out = Scan {
        files: files.len(),
        ..Scan::default()
    };
    // (file, blueprint variable, its own url_prefix), and registrations (name, prefix).
    let mut blueprints: Vec<(PathBuf, String, String)> = Vec::new();
    let mut registered: Vec<(String, String)> = Vec::new();
    let mut raw_routes: Vec<(PathBuf, String, String, usize)> = Vec::new();
    for rel in files {
        let path = dir.join(rel);
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue; // not UTF-8: not ours to read
        };
        let Some(module) = module_of(rel) else {
            continue;
        };
        let lines: Vec<&str> = text.lines().collect();
        let mut current_def: Option<(String, bool)> = None;
        for (i, line) in lines.iter().enumerate() {
            let n = i + 1;
            let top = !line.starts_with([' ', '\t']) && !line.trim().is_empty();
            if top && !line.trim_start().starts_with(['#', ')', ']', '}', '@']) {
                current_def = DEF
                    .captures(line)
                    .map(|c| (c[1].to_owned(), has_required_args(&lines, i)));
            }
            if top {
                if let Some(c) = ASSIGN_FLASK.captures(line) {
                    out.sites.push(Site {
                        file: rel.clone(),
                        module: module.clone(),
                        line: n,
                        kind: SiteKind::Instance {
                            name: c[1].to_owned(),
                        },
                    });
                } else if let Some(c) = ASSIGN_CALL.captures(line) {
                    out.wrappers.push(Wrapper {
                        file: rel.clone(),
                        module: module.clone(),
                        line: n,
                        name: c[1].to_owned(),
                    });
                }
                if let Some(c) = BLUEPRINT.captures(line) {
                    let prefix = URL_PREFIX
                        .captures(&c[2])
                        .map(|p| p[1].to_owned())
                        .unwrap_or_default();
                    blueprints.push((rel.clone(), c[1].to_owned(), prefix));
                }
            } else if FLASK_CALL.is_match(line)
                && !line.trim_start().starts_with('#')
                && let Some((func, required_args)) = &current_def
            {
                let kind = SiteKind::Factory {
                    func: func.clone(),
                    required_args: *required_args,
                };
                let dup = out.sites.iter().any(|s| s.file == *rel && s.kind == kind);
                if !dup {
                    out.sites.push(Site {
                        file: rel.clone(),
                        module: module.clone(),
                        line: n,
                        kind,
                    });
                }
            }
            if let Some(c) = ROUTE.captures(line).or_else(|| URL_RULE.captures(line)) {
                raw_routes.push((rel.clone(), c[1].to_owned(), c[2].to_owned(), n));
            }
            if let Some(c) = REGISTER.captures(line) {
                let name = c[1].rsplit('.').next().unwrap_or(&c[1]).to_owned();
                let prefix = URL_PREFIX
                    .captures(&c[2])
                    .map(|p| p[1].to_owned())
                    .unwrap_or_default();
                registered.push((name, prefix));
            }
        }
    }
    for (file, obj, path, line) in raw_routes {
        let own = blueprints
            .iter()
            .find(|(f, name, _)| *f == file && *name == obj)
            .map(|(_, _, p)| p.clone());
        let prefix = match own {
            Some(own) => {
                let reg = registered
                    .iter()
                    .find(|(name, p)| *name == obj && !p.is_empty())
                    .map(|(_, p)| p.clone());
                reg.unwrap_or(own)
            }
            None => String::new(),
        };
        out.routes.push(Route {
            path: join_url(&prefix, &path),
            file,
            line,
        });
    }
    Ok(out)
}

fn join_url(prefix: &str, path: &str) -> String {
    let p = prefix.trim_end_matches('/');
    let rest = path.trim_start_matches('/');
    match (p.is_empty(), rest.is_empty()) {
        (true, _) => format!("/{rest}"),
        (false, true) => p.to_owned(),
        (false, false) => format!("{p}/{rest}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules() {
        let cases = [
            ("wsgi.py", Some("wsgi")),
            ("app/__init__.py", Some("app")),
            ("src/shop/web.py", Some("src.shop.web")),
            ("my-app/web.py", None),
            ("2fa.py", None),
            ("README.md", None),
        ];
        for (p, want) in cases {
            assert_eq!(module_of(Path::new(p)).as_deref(), want, "{p}");
        }
    }

    #[test]
    fn required_args() {
        let cases = [
            ("def create_app():", false),
            ("def create_app(config=None):", false),
            (
                "def create_app(config_overrides: Mapping[str, Any] | None = None) -> Flask:",
                false,
            ),
            ("def create_app(*args, **kwargs):", false),
            ("def create_app(config):", true),
            ("def create_app(\n    settings: dict,\n) -> Flask:", true),
        ];
        for (src, want) in cases {
            let lines: Vec<&str> = src.lines().collect();
            assert_eq!(has_required_args(&lines, 0), want, "{src}");
        }
    }

    #[test]
    fn sites_wrappers_and_routes() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir_all(root.join("shop")).unwrap();
        std::fs::write(
            root.join("shop/__init__.py"),
            "from flask import Flask\n\ndef create_app(test_config=None):\n    app = Flask(__name__)\n    from .api import bp\n    app.register_blueprint(bp, url_prefix=\"/api\")\n    return app\n",
        )
        .unwrap();
        std::fs::write(
            root.join("shop/api.py"),
            "from flask import Blueprint\nbp = Blueprint(\"api\", __name__, url_prefix=\"/v1\")\n\n@bp.get(\"/health\")\ndef health():\n    return {}\n",
        )
        .unwrap();
        std::fs::write(
            root.join("wsgi.py"),
            "from shop import create_app\n\napp = create_app()\n",
        )
        .unwrap();
        std::fs::write(root.join("notes.py"), "# Flask(__name__) in a comment\n").unwrap();
        // Test files make apps of their own: never candidates.
        for test in ["conftest.py", "test_app.py", "app_test.py"] {
            std::fs::write(
                root.join(test),
                "from flask import Flask\napp = Flask(__name__)\n",
            )
            .unwrap();
        }
        let files = python_files(root).unwrap();
        let s = scan(root, &files).unwrap();
        assert_eq!(s.files, 4);
        assert_eq!(
            s.sites,
            vec![Site {
                file: "shop/__init__.py".into(),
                module: "shop".into(),
                line: 4,
                kind: SiteKind::Factory {
                    func: "create_app".into(),
                    required_args: false
                },
            }]
        );
        assert_eq!(s.wrappers.len(), 1);
        assert_eq!(
            (s.wrappers[0].module.as_str(), s.wrappers[0].line),
            ("wsgi", 3)
        );
        // register_blueprint's url_prefix wins over the blueprint's own, as in Flask.
        let paths: Vec<&str> = s.routes.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["/api/health"]);
    }
}
