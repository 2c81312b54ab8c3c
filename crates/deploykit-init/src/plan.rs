//! `plan`: the files init writes, with their contents and modes. Pure: data in, data out.

use std::path::PathBuf;

use deploykit_report::Level;
use serde::Serialize;

use crate::detect::{Detected, Migrations};
use crate::python::RequirementsSource;
use crate::render::{Vars, render};
use crate::workflow::{WorkflowSpec, deploy_workflow};
use crate::{InitError, Note};

const DEPLOY_TOML: &str = include_str!("../templates/deploy.toml");
const PROCFILE: &str = include_str!("../templates/Procfile");
const EB_CONFIG: &str = include_str!("../templates/01-app.config");
const MIGRATE_HOOK: &str = include_str!("../templates/migrate.sh");
const DOCKERFILE: &str = include_str!("../templates/Dockerfile");
const DOCKERIGNORE: &str = include_str!("../templates/dockerignore");
const EBIGNORE: &str = include_str!("../templates/ebignore");

/// Where the migration hook goes: AL2023 runs predeploy hooks after dependencies are installed
/// and before the new version serves.
pub const MIGRATE_HOOK_PATH: &str = ".platform/hooks/predeploy/01_migrate.sh";
pub const WORKFLOW_PATH: &str = ".github/workflows/deploy.yml";

/// Choices that are not detected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InitOptions {
    /// Every target's region (default `us-east-1`, the seed's).
    pub region: String,
    /// The branch whose pushes deploy (default `main`).
    pub branch: String,
    /// The target the workflow deploys (default `prod`).
    pub target: String,
}

impl Default for InitOptions {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            branch: "main".into(),
            target: "prod".into(),
        }
    }
}

/// One file to write: path relative to the app directory, full contents, Unix mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedFile {
    pub path: PathBuf,
    pub contents: String,
    pub mode: u32,
    /// Why it is written, in a few words.
    pub why: String,
}

/// Everything init would write, and what the user should know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InitPlan {
    pub name: String,
    pub files: Vec<PlannedFile>,
    pub notes: Vec<Note>,
}

impl InitPlan {
    pub fn file(&self, path: &str) -> Option<&PlannedFile> {
        self.files
            .iter()
            .find(|f| f.path == std::path::Path::new(path))
    }
}

fn file(path: &str, contents: String, mode: u32, why: &str) -> PlannedFile {
    PlannedFile {
        path: PathBuf::from(path),
        contents,
        mode,
        why: why.to_owned(),
    }
}

/// The files for `d`: deploy.toml, Procfile, `.ebextensions/01-app.config`, the predeploy
/// migration hook (only with migrations; mode 0755, LF), Dockerfile, .dockerignore, .ebignore,
/// the deploy workflow, and requirements.txt when the dependencies are only in pyproject.toml.
pub fn plan(d: &Detected, o: &InitOptions) -> Result<InitPlan, InitError> {
    let region_ok = o.region.split('-').count() >= 3
        && o.region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !region_ok {
        return Err(InitError::BadFile {
            file: "deploy.toml".into(),
            field: "targets.*.region".into(),
            why: format!("`{}` is not an AWS region code like us-east-1", o.region),
        });
    }
    // The workflow deploys one of the targets deploy.toml defines; never the local cloud.
    if !["dev", "prod"].contains(&o.target.as_str()) {
        return Err(InitError::BadFile {
            file: WORKFLOW_PATH.into(),
            field: "target".into(),
            why: format!(
                "`{}` is not a real-AWS target of the deploy.toml init writes (dev or prod)",
                o.target
            ),
        });
    }
    let name = &d.name;
    let python = d.python.short();
    let database = d.uses_database();
    let mut v = Vars::default();
    v.set("name", name)
        .set("region", &o.region)
        .set("entry", &d.entry.spec)
        .set("entry_why", &d.entry.why)
        .set("health_path", d.health_path())
        .set(
            "health_found",
            match &d.health {
                Some(h) => format!("{} ({}:{})", h.path, h.file.display(), h.line),
                None => "none (add one; `/` is checked meanwhile)".into(),
            },
        )
        .set("python", &python)
        .set("python_source", &d.python.source)
        .set(
            "migrations_found",
            match &d.migrations {
                Some(Migrations::FlaskMigrate { dir }) => {
                    format!("Flask-Migrate, scripts in {}/", dir.display())
                }
                Some(Migrations::Alembic { ini }) => format!("Alembic ({})", ini.display()),
                None => "none".into(),
            },
        )
        .set("db_ident", name.replace('-', "_"))
        .flag("database", database)
        // The image has no platform gunicorn: without one in requirements.txt (or the
        // requirements.txt init writes, which adds it) the Dockerfile installs it.
        .flag(
            "gunicorn",
            d.requirements.has("gunicorn")
                || matches!(d.requirements.source, RequirementsSource::Pyproject { .. }),
        )
        .set(
            "static_dir",
            d.static_dir
                .as_ref()
                .map(|s| s.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default(),
        )
        .flag("static", d.static_dir.is_some())
        .flag(
            "flask_migrate",
            matches!(d.migrations, Some(Migrations::FlaskMigrate { .. })),
        )
        .set(
            "alembic_ini",
            match &d.migrations {
                Some(Migrations::Alembic { ini }) => ini.to_string_lossy().into_owned(),
                _ => String::new(),
            },
        );

    let mut files = vec![
        file(
            "deploy.toml",
            render("deploy.toml", DEPLOY_TOML, &v)?,
            0o644,
            "targets local/dev/prod, EB names, secrets by reference",
        ),
        file(
            "Procfile",
            render("Procfile", PROCFILE, &v)?,
            0o644,
            "EB's web process: gunicorn on the detected entry point",
        ),
        file(
            ".ebextensions/01-app.config",
            render("01-app.config", EB_CONFIG, &v)?,
            0o644,
            "single instance, health check URL, static files",
        ),
    ];
    if d.migrations.is_some() {
        files.push(file(
            MIGRATE_HOOK_PATH,
            render("migrate.sh", MIGRATE_HOOK, &v)?,
            0o755,
            "migrations before the new version serves",
        ));
    }
    files.extend([
        file(
            "Dockerfile",
            render("Dockerfile", DOCKERFILE, &v)?,
            0o644,
            "the image for App Runner / ECS: non-root, gunicorn on $PORT",
        ),
        file(
            ".dockerignore",
            render("dockerignore", DOCKERIGNORE, &v)?,
            0o644,
            "no secrets, VCS data or tests in the image",
        ),
        file(
            ".ebignore",
            render("ebignore", EBIGNORE, &v)?,
            0o644,
            "no secrets, VCS data or tests in the source bundle",
        ),
        file(
            WORKFLOW_PATH,
            deploy_workflow(&WorkflowSpec {
                name: name.clone(),
                target: o.target.clone(),
                branch: o.branch.clone(),
                region: o.region.clone(),
            })?,
            0o644,
            "deploy on push with OIDC credentials",
        ),
    ]);
    if let RequirementsSource::Pyproject { dependencies } = &d.requirements.source {
        files.push(file(
            "requirements.txt",
            requirements_from_pyproject(dependencies, d.requirements.has("gunicorn")),
            0o644,
            "EB and the Dockerfile install requirements.txt",
        ));
    }

    let mut notes = d.notes.clone();
    let mut secrets = vec![format!("{name}/secret-key")];
    if database {
        secrets.push(format!("{name}/db-url"));
    }
    notes.push(Note {
        level: Level::Info,
        message: format!(
            "deploys need the secrets {} in Secrets Manager (real targets) or the local cloud",
            secrets.join(" and ")
        ),
        fix: Some("create them before the first deploy; deploy.toml holds only their names".into()),
    });
    notes.push(Note {
        level: Level::Info,
        message: format!(
            "{WORKFLOW_PATH} deploys the `{}` target on pushes to {} once the repository variable AWS_DEPLOY_ROLE_ARN names an IAM role that trusts GitHub's OIDC provider for this repository and branch",
            o.target, o.branch
        ),
        fix: None,
    });
    Ok(InitPlan {
        name: name.clone(),
        files,
        notes,
    })
}

fn requirements_from_pyproject(deps: &[String], has_gunicorn: bool) -> String {
    let mut out = String::from(
        "# Written by deploykit's init from pyproject.toml's [project] dependencies: EB and the\n\
         # Dockerfile install requirements.txt. Keep the two in step, or pin everything here.\n",
    );
    for d in deps {
        out.push_str(d.trim());
        out.push('\n');
    }
    if !has_gunicorn {
        out.push_str("gunicorn  # the Procfile and the Dockerfile start the app with it\n");
    }
    out
}
