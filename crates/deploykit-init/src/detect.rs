//! `detect`: what a Flask app's repository holds, as data. Reads files only.

use std::path::{Path, PathBuf};

use deploykit_report::Level;
use serde::Serialize;

use crate::error::Candidate;
use crate::python::{self, PythonVersion, Requirements, RequirementsSource};
use crate::scan::{self, SiteKind};
use crate::{InitError, Note};

/// Root files that, by convention, hold the WSGI object (`gunicorn wsgi:app`), in the order
/// they are preferred.
pub const CONVENTION_FILES: [&str; 3] = ["wsgi.py", "application.py", "app.py"];

/// Route paths taken as a health check, best first.
pub const HEALTH_PATHS: [&str; 8] = [
    "/healthz",
    "/health",
    "/healthcheck",
    "/health-check",
    "/_health",
    "/ping",
    "/livez",
    "/status",
];

/// What to detect with: `entry` chooses among several apps (or names one detection missed).
#[derive(Debug, Clone, Default)]
pub struct DetectOptions {
    /// A gunicorn spec (`wsgi:app`, `app:create_app()`), relative to the app directory.
    pub entry: Option<String>,
}

/// The WSGI entry point gunicorn is given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryPoint {
    /// `wsgi:app` or `app:create_app()`.
    pub spec: String,
    /// Where it is defined (relative), when init found it rather than being told.
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
    /// How it was chosen, in words.
    pub why: String,
}

/// A route that answers health checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthRoute {
    pub path: String,
    pub file: PathBuf,
    pub line: usize,
}

/// The migration tool and where its scripts are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "tool")]
pub enum Migrations {
    /// Flask-Migrate: `flask db upgrade`, scripts in `dir` (normally `migrations/`).
    FlaskMigrate { dir: PathBuf },
    /// Plain Alembic: `alembic -c <ini> upgrade head`.
    Alembic { ini: PathBuf },
}

/// Everything `plan` needs to know about the app.
#[derive(Debug, Clone, Serialize)]
pub struct Detected {
    pub app_dir: PathBuf,
    /// The app name for AWS resources: the directory name as lowercase letters, digits and
    /// hyphens, starting with a letter, at most 32 characters.
    pub name: String,
    pub entry: EntryPoint,
    pub requirements: Requirements,
    pub health: Option<HealthRoute>,
    /// Whether a `/` route exists (the health path used when there is no health route).
    pub has_root_route: bool,
    pub migrations: Option<Migrations>,
    pub python: PythonVersion,
    /// The Flask static folder, relative to the app directory, when it exists.
    pub static_dir: Option<PathBuf>,
    /// Whether the app directory is the root of a git repository (workflows only run there).
    pub git_root: Option<PathBuf>,
    /// What init noticed and the user should act on.
    pub notes: Vec<Note>,
}

impl Detected {
    /// Whether the app uses a database (driver, ORM or migrations).
    pub fn uses_database(&self) -> bool {
        self.requirements.uses_database() || self.migrations.is_some()
    }

    /// The path the deploy's health check requests.
    pub fn health_path(&self) -> &str {
        self.health.as_ref().map_or("/", |h| h.path.as_str())
    }
}

/// `dir`'s last component as an app name (see [`Detected::name`]).
pub fn app_name(dir: &Path) -> String {
    let raw = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out = String::new();
    for c in raw.to_ascii_lowercase().chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if !(c == '-' && (out.is_empty() || out.ends_with('-'))) {
            out.push(c);
        }
    }
    if !out.starts_with(|c: char| c.is_ascii_lowercase()) {
        out = format!("app-{out}");
    }
    out.truncate(32);
    out.trim_end_matches('-').to_owned()
}

/// Reads the app at `dir`: entry point, requirements, health route, migrations, Python version
/// and static folder. Two or more apps with nothing to choose between them is an error that
/// lists them.
pub fn detect(dir: &Path, opts: &DetectOptions) -> Result<Detected, InitError> {
    if !dir.is_dir() {
        return Err(InitError::NotADirectory {
            path: dir.to_path_buf(),
        });
    }
    let files = scan::python_files(dir)?;
    let found = scan::scan(dir, &files)?;
    let mut notes = Vec::new();

    let entry = match &opts.entry {
        Some(spec) => given_entry(dir, spec)?,
        None => choose_entry(dir, &found)?,
    };

    let requirements = python::requirements(dir)?;
    let python = python::python_version(dir)?;
    if let Some(m) = &python.mismatch {
        notes.push(Note::warn(m.clone(), None));
    }

    let mut health: Vec<&scan::Route> = found
        .routes
        .iter()
        .filter(|r| !r.path.contains('<') && health_rank(&r.path).is_some())
        .collect();
    health.sort_by_key(|r| (health_rank(&r.path), r.path.len()));
    let health = health.first().map(|r| HealthRoute {
        path: r.path.clone(),
        file: r.file.clone(),
        line: r.line,
    });
    let has_root_route = found.routes.iter().any(|r| r.path == "/");
    if health.is_none() {
        notes.push(Note::warn(
            format!(
                "no health route found (looked for {}); the health check uses `/`{}",
                HEALTH_PATHS.join(", "),
                if has_root_route {
                    ""
                } else {
                    ", which no route answers either: the first deploy will fail its health check"
                }
            ),
            Some("add `@app.get(\"/healthz\")` returning 200 when the app and its database are up, then set `[app] health_path = \"/healthz\"` in deploy.toml".into()),
        ));
    }

    let migrations = migrations(dir, &requirements);
    requirement_notes(&requirements, migrations.as_ref(), &mut notes);

    let static_dir = static_dir(dir, &entry, &found);
    let git_root = dir
        .ancestors()
        .find(|a| a.join(".git").exists())
        .map(Path::to_path_buf);
    match &git_root {
        Some(root) if root != dir => notes.push(Note::warn(
            format!(
                "{} is inside the git repository {}: GitHub runs only the workflows at a repository's root",
                dir.display(),
                root.display()
            ),
            Some("move the written .github/workflows/deploy.yml to the repository root and run its steps in this directory (`working-directory:`)".into()),
        )),
        _ => {}
    }

    Ok(Detected {
        app_dir: dir.to_path_buf(),
        name: app_name(dir),
        entry,
        requirements,
        health,
        has_root_route,
        migrations,
        python,
        static_dir,
        git_root,
        notes,
    })
}

fn health_rank(path: &str) -> Option<usize> {
    let p = path.trim_end_matches('/');
    if let Some(i) = HEALTH_PATHS.iter().position(|h| *h == p) {
        return Some(i);
    }
    // `/api/health` and the like rank after every root-level one.
    let last = p.rsplit('/').next().unwrap_or("");
    HEALTH_PATHS
        .iter()
        .position(|h| h[1..] == *last)
        .map(|i| i + HEALTH_PATHS.len())
}

fn given_entry(dir: &Path, spec: &str) -> Result<EntryPoint, InitError> {
    let bad = |why: String| InitError::BadEntry {
        spec: spec.to_owned(),
        why,
    };
    let (module, attr) = spec
        .split_once(':')
        .ok_or_else(|| bad("expected `module:name` or `module:factory()`".into()))?;
    let attr_name = attr.strip_suffix("()").unwrap_or(attr);
    let ident = |s: &str| {
        !s.is_empty()
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !s.starts_with(|c: char| c.is_ascii_digit())
    };
    if !module.split('.').all(ident) || !ident(attr_name) {
        return Err(bad(
            "module and name must be Python identifiers (dots separate packages)".into(),
        ));
    }
    let rel: PathBuf = module.split('.').collect();
    let as_file = rel.with_extension("py");
    let as_pkg = rel.join("__init__.py");
    let file = [as_file, as_pkg]
        .into_iter()
        .find(|p| dir.join(p).is_file())
        .ok_or_else(|| {
            bad(format!(
                "no {}.py or {}/__init__.py in {}",
                rel.display(),
                rel.display(),
                dir.display()
            ))
        })?;
    Ok(EntryPoint {
        spec: spec.to_owned(),
        file: Some(file),
        line: None,
        why: "given".into(),
    })
}

fn site_spec(site: &scan::Site) -> String {
    match &site.kind {
        SiteKind::Instance { name } => format!("{}:{name}", site.module),
        SiteKind::Factory { func, .. } => format!("{}:{func}()", site.module),
    }
}

fn choose_entry(dir: &Path, found: &scan::Scan) -> Result<EntryPoint, InitError> {
    // 1. A root convention file with a module-level `app`/`application` (a Flask object made
    //    there, or the factory's result) is what the app itself says gunicorn should load.
    for file in CONVENTION_FILES {
        let module = file.trim_end_matches(".py");
        let at_root = |f: &Path| f == Path::new(file);
        let instance = found.sites.iter().find_map(|s| match &s.kind {
            SiteKind::Instance { name }
                if at_root(&s.file) && (name == "app" || name == "application") =>
            {
                Some((name.clone(), s.line))
            }
            _ => None,
        });
        let wrapper = found
            .wrappers
            .iter()
            .find(|w| at_root(&w.file))
            .map(|w| (w.name.clone(), w.line));
        if let Some((name, line)) = instance.or(wrapper) {
            return Ok(EntryPoint {
                spec: format!("{module}:{name}"),
                file: Some(PathBuf::from(file)),
                line: Some(line),
                why: format!("`{name}` at module level in {file}, the conventional WSGI file"),
            });
        }
    }
    // 2. Otherwise exactly one place that makes a Flask app.
    match found.sites.as_slice() {
        [] => Err(InitError::NoFlaskApp {
            dir: dir.to_path_buf(),
            scanned: found.files,
        }),
        [site] => {
            if let SiteKind::Factory {
                func,
                required_args: true,
            } = &site.kind
            {
                return Err(InitError::BadEntry {
                    spec: site_spec(site),
                    why: format!(
                        "the factory `{func}` in {}:{} takes arguments without defaults, so gunicorn cannot call it bare; add a wsgi.py with `app = {func}(...)`",
                        site.file.display(),
                        site.line
                    ),
                });
            }
            let why = match &site.kind {
                SiteKind::Instance { name } => format!("`{name} = Flask(...)` at module level"),
                SiteKind::Factory { func, .. } => format!("the app factory `{func}()`"),
            };
            Ok(EntryPoint {
                spec: site_spec(site),
                file: Some(site.file.clone()),
                line: Some(site.line),
                why,
            })
        }
        many => Err(InitError::AmbiguousEntry {
            dir: dir.to_path_buf(),
            candidates: many
                .iter()
                .map(|s| Candidate {
                    spec: site_spec(s),
                    file: s.file.clone(),
                    line: s.line,
                })
                .collect(),
        }),
    }
}

fn migrations(dir: &Path, reqs: &Requirements) -> Option<Migrations> {
    let flask_dir = Path::new("migrations");
    if dir.join(flask_dir).join("env.py").is_file() {
        let ini_inside = dir.join(flask_dir).join("alembic.ini").is_file();
        if reqs.has("flask-migrate") || ini_inside || !dir.join("alembic.ini").is_file() {
            return Some(Migrations::FlaskMigrate {
                dir: flask_dir.to_path_buf(),
            });
        }
    }
    dir.join("alembic.ini")
        .is_file()
        .then(|| Migrations::Alembic {
            ini: PathBuf::from("alembic.ini"),
        })
}

fn requirement_notes(reqs: &Requirements, migrations: Option<&Migrations>, notes: &mut Vec<Note>) {
    let file = match &reqs.source {
        RequirementsSource::RequirementsTxt => "requirements.txt",
        RequirementsSource::Pyproject { .. } => "pyproject.toml",
        RequirementsSource::None => {
            notes.push(Note::warn(
                "no requirements.txt and no [project] dependencies in pyproject.toml: EB and the image install nothing".into(),
                Some("write requirements.txt with the app's pinned dependencies (pip freeze, or poetry export -f requirements.txt)".into()),
            ));
            return;
        }
    };
    let mut add = |pkg: &str, why: &str| {
        notes.push(Note::warn(
            format!("{file} lacks {pkg}: {why}"),
            Some(format!("add `{pkg}` (pinned) to {file}")),
        ));
    };
    if !reqs.has("flask") {
        add("Flask", "init writes deploy files for a Flask app");
    }
    // For pyproject.toml, the requirements.txt init writes adds gunicorn itself.
    if !reqs.has("gunicorn") && file == "requirements.txt" {
        add(
            "gunicorn",
            "the Procfile and the Dockerfile start the app with it (EB's platform brings its own; the Dockerfile installs it unpinned meanwhile)",
        );
    }
    let orm = reqs.has_any(&["sqlalchemy", "flask-sqlalchemy"]) || migrations.is_some();
    if orm && !reqs.has_postgres_driver() {
        add(
            "psycopg2-binary",
            "the app uses SQLAlchemy and RDS is PostgreSQL, which needs a driver (or psycopg[binary] with postgresql+psycopg:// URLs)",
        );
    }
    match migrations {
        Some(Migrations::FlaskMigrate { .. }) if !reqs.has("flask-migrate") => add(
            "Flask-Migrate",
            "migrations/ holds Flask-Migrate scripts and the migration hook runs `flask db upgrade`",
        ),
        Some(Migrations::Alembic { .. }) if !reqs.has("alembic") => {
            add("alembic", "the migration hook runs `alembic upgrade head`")
        }
        None if reqs.has("flask-migrate") => notes.push(Note {
            level: Level::Info,
            message: "Flask-Migrate is a dependency but there is no migrations/ directory: no migration hook is written".into(),
            fix: Some("create it with `flask db init` and `flask db migrate`, then run init again".into()),
        }),
        _ => {}
    }
}

/// Flask's default static folder: `static/` beside the module that makes the app.
fn static_dir(dir: &Path, entry: &EntryPoint, found: &scan::Scan) -> Option<PathBuf> {
    let mut bases: Vec<PathBuf> = found
        .sites
        .iter()
        .map(|s| s.file.parent().unwrap_or(Path::new("")).to_path_buf())
        .collect();
    if let Some(f) = &entry.file {
        bases.insert(0, f.parent().unwrap_or(Path::new("")).to_path_buf());
    }
    bases
        .into_iter()
        .map(|b| b.join("static"))
        .find(|s| dir.join(s).is_dir())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let cases = [
            ("/x/budgetsync", "budgetsync"),
            ("/x/My_Flask App", "my-flask-app"),
            ("/x/2048-game", "app-2048-game"),
            ("/x/__", "app"),
            (
                "/x/a-very-long-directory-name-for-a-flask-app",
                "a-very-long-directory-name-for-a",
            ),
        ];
        for (dir, want) in cases {
            assert_eq!(app_name(Path::new(dir)), want, "{dir}");
        }
    }

    #[test]
    fn health_ranks() {
        let mut paths = vec!["/api/health", "/ping", "/healthz/", "/health", "/users"];
        paths.retain(|p| health_rank(p).is_some());
        paths.sort_by_key(|p| health_rank(p));
        assert_eq!(paths, ["/healthz/", "/health", "/ping", "/api/health"]);
    }
}
