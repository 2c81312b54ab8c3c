//! `db migrate`: the app's own Flask-Migrate, run from its venv (as the owner: `db url --owner`
//! of the target, or `--database-url`).

use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;

use super::{context, rds_err};
use crate::{CliError, CliResult, Exit, GlobalArgs, render::Renderer};

// ---------------------------------------------------------------------------------------------
// Migrations: the app's own Flask-Migrate, run from its venv.

/// The env var that points at the app's virtualenv (`cargo xtask test` sets it for the tests).
pub const APP_VENV_ENV: &str = "DEPLOYKIT_APP_VENV";

/// The app's virtualenv: `$DEPLOYKIT_APP_VENV`, else `target/venvs/app` (made by `cargo xtask test`).
pub fn app_venv(workspace: &Path) -> PathBuf {
    match std::env::var_os(APP_VENV_ENV).filter(|v| !v.is_empty()) {
        Some(v) => PathBuf::from(v),
        None => workspace.join("target/venvs/app"),
    }
}

pub fn workspace_root() -> PathBuf {
    crate::project_root()
}

/// `scheme://user:********@host/db`: the URL with its password (if any) masked.
pub fn mask_url(url: &str) -> String {
    deploykit::secretrules::mask(url)
}

pub(crate) async fn migrate(
    global: &GlobalArgs,
    r: &Renderer,
    check: bool,
    database_url: Option<String>,
) -> CliResult {
    let (url, database, app_dir) = match database_url.filter(|u| !u.is_empty()) {
        Some(u) => {
            let shown = mask_url(&u);
            let config = deploykit_config::load(&global.config)
                .map_err(|e| CliError::from_error(Exit::Config, &e))?;
            let target = config
                .target(global.target.as_deref())
                .map_err(|e| CliError::from_error(Exit::Config, &e))?;
            (secrecy::SecretString::from(u), shown, target.app.path)
        }
        None => {
            let c = context(global, r).await?;
            let id = &c.spec.identifier;
            let url = c.rds.url(id).await.map_err(rds_err)?;
            (
                url.expose(),
                format!("{id} ({})", url.masked()),
                c.target.app.path,
            )
        }
    };
    let python = app_venv(&workspace_root()).join("bin/python");
    let outcome =
        run_migrate(&python, &app_dir, url.expose_secret(), check).map_err(|e| CliError {
            message: format!("{database}: {}", e.message),
            ..e
        })?;
    r.result(&outcome, || format!("{database}: {}", outcome.human()));
    Ok(Exit::Success)
}

/// What `migrate` found and did.
#[derive(Debug, serde::Serialize)]
pub struct MigrateOutcome {
    pub before: Vec<String>,
    pub heads: Vec<String>,
    pub after: Vec<String>,
    pub upgraded: bool,
    pub at_head: bool,
    /// `--check`: only verified, never changes anything.
    pub checked: bool,
}

pub(crate) fn show_revisions(v: &[String]) -> String {
    if v.is_empty() {
        "no revision (empty database)".to_string()
    } else {
        v.join(", ")
    }
}

impl MigrateOutcome {
    pub(crate) fn human(&self) -> String {
        if self.checked {
            format!(
                "at the app's head ({}); check passed",
                show_revisions(&self.after)
            )
        } else if self.upgraded {
            format!(
                "migrated from {} to {} (the app's head)",
                show_revisions(&self.before),
                show_revisions(&self.after)
            )
        } else {
            format!(
                "at the app's head ({}); nothing to do",
                show_revisions(&self.after)
            )
        }
    }
}

/// Runs `flask db current/heads/upgrade` with the app venv's python. With `check`, changes
/// nothing and fails (exit 7) when the database is not at the app's head.
pub fn run_migrate(
    python: &Path,
    app_dir: &Path,
    database_url: &str,
    check: bool,
) -> Result<MigrateOutcome, CliError> {
    if !python.exists() {
        return Err(CliError::new(Exit::Failure, format!("the app's virtualenv is missing: {} does not exist", python.display()))
            .with_hint(format!("create it with `python3 -m venv target/venvs/app && target/venvs/app/bin/pip install -r examples/budgetsync/requirements-dev.txt` (`cargo xtask test` does this too), or point {APP_VENV_ENV} at an existing one")));
    }
    let sh = xshell::Shell::new()
        .map_err(|e| CliError::new(Exit::Failure, format!("starting a shell: {e}")))?;
    sh.change_dir(app_dir);
    let app_env = std::env::var("APP_ENV").unwrap_or_else(|_| "development".into());
    let flask = |args: &[&str]| -> Result<String, CliError> {
        let out = xshell::cmd!(sh, "{python} -m flask --app app:create_app db {args...}")
            .env("DATABASE_URL", database_url)
            .env("APP_ENV", &app_env)
            .quiet()
            .ignore_status()
            .output()
            .map_err(|e| {
                CliError::new(
                    Exit::Failure,
                    format!("running flask db {}: {e}", args.join(" ")),
                )
            })?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = stderr
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            // The URL may appear in tracebacks: never echo it.
            let text = tail.join("\n").replace(database_url, "<DATABASE_URL>");
            return Err(CliError::new(Exit::Failure, format!("`flask db {}` failed ({}):\n{text}", args.join(" "), out.status))
                .with_hint("check that the database is reachable and that DATABASE_URL points at it (`cargo xtask db url`)"));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let before = revisions(&flask(&["current"])?);
    let heads = revisions(&flask(&["heads"])?);
    if heads.is_empty() {
        return Err(CliError::new(
            Exit::Failure,
            format!(
                "`flask db heads` lists no revision: {} has no migrations",
                app_dir.join("migrations").display()
            ),
        ));
    }
    let at = |cur: &[String]| heads.iter().all(|h| cur.contains(h));
    if at(&before) {
        return Ok(MigrateOutcome {
            after: before.clone(),
            before,
            heads,
            upgraded: false,
            at_head: true,
            checked: check,
        });
    }
    if check {
        return Err(CliError::new(
            Exit::CheckFailed,
            format!(
                "the database is behind the app's migrations: it is at {}, the app's head is {}; nothing was changed",
                show_revisions(&before),
                heads.join(", ")
            ),
        )
        .with_hint("run `cargo xtask db migrate` (without --check) to upgrade it"));
    }
    flask(&["upgrade"])?;
    let after = revisions(&flask(&["current"])?);
    if !at(&after) {
        return Err(CliError::new(
            Exit::Failure,
            format!(
                "`flask db upgrade` succeeded but the database is at {}, not at the app's head {}",
                show_revisions(&after),
                heads.join(", ")
            ),
        )
        .with_hint("check the migration scripts in examples/budgetsync/migrations/versions (a branch needs `flask db merge`)"));
    }
    Ok(MigrateOutcome {
        before,
        heads,
        after,
        upgraded: true,
        at_head: true,
        checked: false,
    })
}

/// Revision ids from `flask db current` / `heads` output (`0001 (head)`), ignoring log lines.
pub(crate) fn revisions(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !matches!(*w, "INFO" | "WARNING" | "ERROR"))
        .map(str::to_string)
        .collect()
}
