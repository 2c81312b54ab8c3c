//! deploykit for another Flask app: detect what the repository holds, plan the deploy files
//! as data, then write exactly the plan.
//!
//! ```no_run
//! use std::path::Path;
//! use deploykit_init::{DetectOptions, InitOptions, apply, detect, plan, preview};
//!
//! let dir = Path::new("path/to/flask-app");
//! let detected = detect(dir, &DetectOptions::default())?; // entry point, health route, ...
//! let plan = plan(&detected, &InitOptions::default())?;     // the files, as data
//! let dry = preview(&plan, dir, false)?;                     // what would change (dry run)
//! let done = apply(&plan, dir, false)?;                      // refuses to overwrite, else writes
//! assert_eq!(apply(&plan, dir, false)?.changed(), 0);         // a second run changes nothing
//! # Ok::<(), deploykit_init::InitError>(())
//! ```
//!
//! [`detect`] reads source text only (nothing is imported or run): the WSGI entry point (a root
//! `wsgi.py`/`application.py`/`app.py` with a module-level `app`, else the one `Flask(...)` at
//! module level or in a factory), requirements (requirements.txt or pyproject.toml), a health
//! route (blueprint prefixes applied), migrations (Flask-Migrate or Alembic), the Python
//! version and the static folder. [`plan`] renders the templates in `templates/`: deploy.toml
//! (local/dev/prod), a Procfile, `.ebextensions/01-app.config`, the predeploy migration hook
//! (mode 0755, LF), a Dockerfile, .dockerignore, .ebignore and `.github/workflows/deploy.yml`
//! (OIDC credentials, actions pinned by commit SHA). [`apply`] writes each file atomically.

mod apply;
mod detect;
mod error;
mod plan;
pub mod python;
mod render;
mod scan;
pub mod workflow;

use deploykit_report::Level;
use serde::Serialize;

pub use apply::{FileAction, FileReport, InitReport, apply, preview};
pub use detect::{
    CONVENTION_FILES, DetectOptions, Detected, EntryPoint, HEALTH_PATHS, HealthRoute, Migrations,
    app_name, detect,
};
pub use error::{Candidate, Conflict, InitError};
pub use plan::{InitOptions, InitPlan, MIGRATE_HOOK_PATH, PlannedFile, WORKFLOW_PATH, plan};
pub use python::{PythonVersion, Requirements, RequirementsSource};
pub use workflow::{ActionPin, PINS, WorkflowSpec, deploy_workflow};

/// Something init noticed: a missing dependency, no health route, a step left to the user.
/// `fix` is plain advice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    pub level: Level,
    pub message: String,
    pub fix: Option<String>,
}

impl Note {
    pub(crate) fn warn(message: String, fix: Option<String>) -> Self {
        Note {
            level: Level::Warn,
            message,
            fix,
        }
    }
}
