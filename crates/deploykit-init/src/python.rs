//! What the app installs and which Python it wants: requirements.txt (with `-r` includes),
//! pyproject.toml (PEP 621 `[project]`, Poetry's python constraint), runtime.txt and
//! .python-version.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::InitError;

/// Python minor versions both routes run: EB's Python platform on Amazon Linux 2023 and the
/// official `python:3.X-slim` images.
pub const SUPPORTED_PYTHONS: [(u32, u32); 3] = [(3, 11), (3, 12), (3, 13)];
/// The version used when the app says nothing (the seed's Dockerfile and workflow use it).
pub const DEFAULT_PYTHON: (u32, u32) = (3, 12);

/// Where the dependency list came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum RequirementsSource {
    /// `requirements.txt` (and the files it includes with `-r`).
    RequirementsTxt,
    /// `[project] dependencies` in pyproject.toml; no requirements.txt.
    Pyproject { dependencies: Vec<String> },
    /// Nothing init can read (or only Poetry's own table).
    None,
}

/// The app's dependencies, as normalized distribution names (`flask-migrate`, `psycopg2-binary`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Requirements {
    pub source: RequirementsSource,
    pub names: BTreeSet<String>,
}

impl Requirements {
    pub fn has(&self, name: &str) -> bool {
        self.names.contains(&normalize(name))
    }
    pub fn has_any(&self, names: &[&str]) -> bool {
        names.iter().any(|n| self.has(n))
    }
    /// A PostgreSQL driver SQLAlchemy can use.
    pub fn has_postgres_driver(&self) -> bool {
        self.has_any(&[
            "psycopg2",
            "psycopg2-binary",
            "psycopg",
            "psycopg-binary",
            "pg8000",
            "asyncpg",
        ])
    }
    /// Anything that talks to a SQL database.
    pub fn uses_database(&self) -> bool {
        self.has_postgres_driver()
            || self.has_any(&["sqlalchemy", "flask-sqlalchemy", "flask-migrate", "alembic"])
    }
}

/// The Python version init targets and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PythonVersion {
    pub major: u32,
    pub minor: u32,
    /// `".python-version"`, `"runtime.txt"`, `"pyproject.toml requires-python"`, or `"default"`.
    pub source: String,
    /// What the app asked for, verbatim (`>=3.10,<3.13`), when it asked.
    pub requested: Option<String>,
    /// Set when the request could not be met exactly by a supported version.
    pub mismatch: Option<String>,
}

impl PythonVersion {
    pub fn short(&self) -> String {
        format!("{}.{}", self.major, self.minor)
    }
}

/// PEP 503 normalization: lowercase, runs of `-`, `_`, `.` become `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The distribution name a requirement line starts with (`Flask-Migrate>=4` -> `flask-migrate`).
pub fn requirement_name(line: &str) -> Option<String> {
    let line = line.split('#').next().unwrap_or("").trim();
    if line.is_empty() || line.starts_with('-') {
        return None;
    }
    let end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(line.len());
    let name = &line[..end];
    (!name.is_empty() && name.starts_with(|c: char| c.is_ascii_alphanumeric()))
        .then(|| normalize(name))
}

fn read_requirements_file(
    path: &Path,
    depth: usize,
    names: &mut BTreeSet<String>,
) -> Result<(), InitError> {
    let text = std::fs::read_to_string(path).map_err(|e| InitError::io("reading", path, e))?;
    for raw in text.lines() {
        let line = raw.trim();
        let include = line
            .strip_prefix("-r ")
            .or_else(|| line.strip_prefix("--requirement "))
            .or_else(|| line.strip_prefix("--requirement="));
        if let Some(inc) = include {
            let inc = inc.split('#').next().unwrap_or("").trim();
            let target = path.parent().unwrap_or(Path::new("")).join(inc);
            if depth < 4 && target.is_file() {
                read_requirements_file(&target, depth + 1, names)?;
            }
            continue;
        }
        if let Some(n) = requirement_name(line) {
            names.insert(n);
        }
    }
    Ok(())
}

fn read_pyproject(dir: &Path) -> Result<Option<toml::Table>, InitError> {
    let path = dir.join("pyproject.toml");
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| InitError::io("reading", &path, e))?;
    text.parse::<toml::Table>()
        .map(Some)
        .map_err(|e| InitError::BadFile {
            file: PathBuf::from("pyproject.toml"),
            field: "(syntax)".into(),
            why: e.message().to_owned(),
        })
}

fn pyproject_dependencies(py: &toml::Table) -> Result<Option<Vec<String>>, InitError> {
    let Some(deps) = py.get("project").and_then(|p| p.get("dependencies")) else {
        return Ok(None);
    };
    let bad = || InitError::BadFile {
        file: PathBuf::from("pyproject.toml"),
        field: "project.dependencies".into(),
        why: "must be an array of requirement strings".into(),
    };
    deps.as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|d| d.as_str().map(str::to_owned).ok_or_else(bad))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Reads requirements.txt, else pyproject.toml's `[project] dependencies`.
pub fn requirements(dir: &Path) -> Result<Requirements, InitError> {
    let mut names = BTreeSet::new();
    let req = dir.join("requirements.txt");
    if req.is_file() {
        read_requirements_file(&req, 0, &mut names)?;
        return Ok(Requirements {
            source: RequirementsSource::RequirementsTxt,
            names,
        });
    }
    if let Some(py) = read_pyproject(dir)?
        && let Some(deps) = pyproject_dependencies(&py)?
    {
        names.extend(deps.iter().filter_map(|d| requirement_name(d)));
        return Ok(Requirements {
            source: RequirementsSource::Pyproject { dependencies: deps },
            names,
        });
    }
    Ok(Requirements {
        source: RequirementsSource::None,
        names,
    })
}

/// `3.11`, `3.11.7`, `python-3.11.7`, `pypy3.10` -> (3, 11).
fn parse_pin(s: &str) -> Option<(u32, u32)> {
    let s = s.trim();
    let start = s.find(|c: char| c.is_ascii_digit())?;
    let mut parts = s[start..].split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts
        .next()?
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .ok()?;
    Some((major, minor))
}

/// Whether `v` satisfies a PEP 440 specifier set (`>=3.10,<3.13`, `~=3.11`, `==3.12.*`) or a
/// Poetry constraint (`^3.11`, `~3.11`), compared on major.minor.
pub fn satisfies(spec: &str, v: (u32, u32)) -> Option<bool> {
    let mut all = true;
    for clause in spec.split([',', ' ']).filter(|c| !c.trim().is_empty()) {
        let clause = clause.trim();
        let op_end = clause
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(clause.len());
        let (op, ver) = clause.split_at(op_end);
        let want = parse_pin(ver)?;
        let ok = match op.trim() {
            ">=" => v >= want,
            ">" => {
                // `>3.11` admits 3.11.1; on minors, only a later minor is sure to.
                v > want || (v == want && ver.split('.').count() > 2)
            }
            "<=" => v <= want,
            "<" => v < want,
            "==" | "===" | "" => v == want,
            "!=" => v != want || ver.split('.').count() > 2,
            "~=" => {
                if ver.split('.').count() > 2 {
                    v == want
                } else {
                    v >= want && v.0 == want.0
                }
            }
            "^" => v >= want && v.0 == want.0,
            "~" => v == want,
            _ => return None,
        };
        all &= ok;
    }
    Some(all)
}

/// The Python version to build for: a pin (.python-version, runtime.txt), else pyproject's
/// constraint (the default if it fits, else the newest supported that fits), else the default.
pub fn python_version(dir: &Path) -> Result<PythonVersion, InitError> {
    for file in [".python-version", "runtime.txt"] {
        let path = dir.join(file);
        if !path.is_file() {
            continue;
        }
        let text =
            std::fs::read_to_string(&path).map_err(|e| InitError::io("reading", &path, e))?;
        let first = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap_or("");
        let pin = parse_pin(first).ok_or_else(|| InitError::BadFile {
            file: PathBuf::from(file),
            field: "(first line)".into(),
            why: format!("`{first}` is not a Python version like 3.12"),
        })?;
        return Ok(pick(file, Some(first.to_owned()), |v| v == pin, pin));
    }
    if let Some(py) = read_pyproject(dir)? {
        let requested = py
            .get("project")
            .and_then(|p| p.get("requires-python"))
            .and_then(|v| v.as_str())
            .map(|s| ("pyproject.toml requires-python", s.to_owned()))
            .or_else(|| {
                py.get("tool")
                    .and_then(|t| t.get("poetry"))
                    .and_then(|p| p.get("dependencies"))
                    .and_then(|d| d.get("python"))
                    .and_then(|v| v.as_str())
                    .map(|s| ("pyproject.toml tool.poetry python", s.to_owned()))
            });
        if let Some((source, spec)) = requested {
            if satisfies(&spec, DEFAULT_PYTHON).is_none() {
                return Err(InitError::BadFile {
                    file: PathBuf::from("pyproject.toml"),
                    field: source.trim_start_matches("pyproject.toml ").into(),
                    why: format!("`{spec}` is not a version specifier init understands"),
                });
            }
            let fits = |v| satisfies(&spec, v).unwrap_or(false);
            return Ok(pick(source, Some(spec.clone()), fits, DEFAULT_PYTHON));
        }
    }
    Ok(PythonVersion {
        major: DEFAULT_PYTHON.0,
        minor: DEFAULT_PYTHON.1,
        source: "default".into(),
        requested: None,
        mismatch: None,
    })
}

/// The default when it fits, else the newest supported version that fits, else the supported
/// version nearest to `near` (with the mismatch said).
fn pick(
    source: &str,
    requested: Option<String>,
    fits: impl Fn((u32, u32)) -> bool,
    near: (u32, u32),
) -> PythonVersion {
    let chosen = if fits(DEFAULT_PYTHON) {
        Some(DEFAULT_PYTHON)
    } else {
        SUPPORTED_PYTHONS.iter().rev().copied().find(|v| fits(*v))
    };
    let (v, mismatch) = match chosen {
        Some(v) => (v, None),
        None => {
            let nearest = SUPPORTED_PYTHONS
                .iter()
                .copied()
                .min_by_key(|v| (v.0 * 100 + v.1).abs_diff(near.0 * 100 + near.1))
                .unwrap_or(DEFAULT_PYTHON);
            let why = format!(
                "{source} asks for {}, which neither EB's Amazon Linux 2023 Python platform nor the slim images here support (3.11-3.13); using {}.{}",
                requested.as_deref().unwrap_or("?"),
                nearest.0,
                nearest.1
            );
            (nearest, Some(why))
        }
    };
    PythonVersion {
        major: v.0,
        minor: v.1,
        source: source.to_owned(),
        requested,
        mismatch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirement_names() {
        let cases = [
            ("Flask==3.1.3", Some("flask")),
            (
                "Flask_Migrate>=4 ; python_version>'3.8'",
                Some("flask-migrate"),
            ),
            ("psycopg[binary]>=3.2", Some("psycopg")),
            ("  gunicorn # web server", Some("gunicorn")),
            ("zope.interface", Some("zope-interface")),
            ("mypkg @ https://example.com/x.whl", Some("mypkg")),
            ("-e .", None),
            ("--hash=sha256:abc", None),
            ("# comment", None),
            ("", None),
        ];
        for (line, want) in cases {
            assert_eq!(requirement_name(line).as_deref(), want, "{line}");
        }
    }

    #[test]
    fn specifiers() {
        let cases = [
            (">=3.10", (3, 12), true),
            (">=3.10,<3.12", (3, 12), false),
            (">=3.10,<3.12", (3, 11), true),
            ("~=3.11", (3, 13), true),
            ("~=3.11.2", (3, 12), false),
            ("==3.11.*", (3, 11), true),
            ("^3.11", (3, 13), true),
            ("^3.11", (4, 0), false),
            (">3.11", (3, 11), false),
            (">3.11.1", (3, 11), true),
            ("<=3.11", (3, 12), false),
            ("!=3.12", (3, 12), false),
        ];
        for (spec, v, want) in cases {
            assert_eq!(satisfies(spec, v), Some(want), "{spec} {v:?}");
        }
        assert_eq!(satisfies(">=banana", (3, 12)), None);
    }

    #[test]
    fn versions_from_files() {
        let cases: [(&str, &str, (u32, u32), bool); 6] = [
            (".python-version", "3.11.7\n", (3, 11), false),
            ("runtime.txt", "python-3.13.1\n", (3, 13), false),
            (".python-version", "3.10\n", (3, 11), true),
            (
                "pyproject.toml",
                "[project]\nrequires-python = \">=3.10,<3.12\"\n",
                (3, 11),
                false,
            ),
            (
                "pyproject.toml",
                "[project]\nrequires-python = \">=3.9\"\n",
                (3, 12),
                false,
            ),
            (
                "pyproject.toml",
                "[tool.poetry.dependencies]\npython = \"^3.13\"\n",
                (3, 13),
                false,
            ),
        ];
        for (file, text, want, mismatch) in cases {
            let d = tempfile::tempdir().unwrap();
            std::fs::write(d.path().join(file), text).unwrap();
            let v = python_version(d.path()).unwrap();
            assert_eq!((v.major, v.minor), want, "{file}: {text}");
            assert_eq!(v.mismatch.is_some(), mismatch, "{file}: {text}: {v:?}");
        }
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(".python-version"), "latest\n").unwrap();
        let e = python_version(d.path()).unwrap_err();
        assert!(e.to_string().contains(".python-version"), "{e}");
    }
}
