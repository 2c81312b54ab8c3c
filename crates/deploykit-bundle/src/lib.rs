//! Deterministic, parallel Elastic Beanstalk source bundles with secret and line-ending checks.
//!
//! Two phases, like every deploykit operation:
//!
//! 1. [`plan`] selects the files (`.ebignore`, else `.gitignore`, with full gitignore
//!    semantics; or every file of an exported tree), and runs every check: secrets (the rule
//!    set of `deploykit-secretrules`, shared with the image context: names, the first MiB of
//!    contents, symlink targets), unsafe names, symlinks leaving the app directory or looping,
//!    special files, CRLF in hook scripts and the Procfile, a `web:` process,
//!    `requirements.txt`. It reads but never writes, and it reports *every* problem
//!    at once in [`BundleError::Refused`].
//! 2. [`build`] writes the plan as one zip: entries sorted by name, fixed timestamps
//!    (1980-01-01) and modes (0644, or 0755 for executables and hooks), already-compressed media
//!    STORED, everything else deflated on all cores in bounded memory (large files are split into
//!    1 MiB chunks compressed in parallel, pigz-style). Same tree, same bytes.
//!
//! The version label is `<prefix>-<sha256 of the zip, 12 hex>[-<git sha7>]`.

mod diagnostic;
mod plan;
pub mod rules;
mod write;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use deploykit_report::Reporter;
use serde::Serialize;

/// The secret rule a [`ProblemKind::Secret`] names: `deploykit-secretrules`' one rule set.
pub use deploykit_secretrules::Rule as SecretRule;
pub use plan::{BundlePlan, Method, PlannedEntry};

/// Elastic Beanstalk's limit on a source bundle: 500 MB.
pub const MAX_BUNDLE_BYTES: u64 = 500 * 1024 * 1024;

/// Which files of `app_dir` go into the bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Source {
    /// `.ebignore` when present, else `.gitignore` (nested `.gitignore` files included), with
    /// full gitignore semantics. Global and `.git/info/exclude` rules are not used, so the
    /// result does not depend on the machine.
    #[default]
    IgnoreFiles,
    /// Every file in `app_dir`: for a tree exported from git (`git archive`).
    Tree,
}

/// What to bundle and how.
#[derive(Debug, Clone)]
pub struct BundleOptions {
    /// The application directory; it becomes the root of the zip (no top-level folder).
    pub app_dir: PathBuf,
    /// The zip to write, or an existing directory in which `<label>.zip` is written.
    pub out: PathBuf,
    pub source: Source,
    /// Files (or directories) relative to `app_dir` that may ship although a secret rule
    /// matches them.
    pub allow: Vec<PathBuf>,
    /// Turn CRLF into LF in hook scripts and the Procfile instead of refusing them.
    pub fix_line_endings: bool,
    /// The label's prefix, usually the application name.
    pub label_prefix: String,
    /// The git revision the tree comes from (any length; 7 characters are used).
    pub git_sha: Option<String>,
    /// The working tree had uncommitted changes (reported as a warning).
    pub git_dirty: bool,
    /// Compression threads; `None` uses every core.
    pub threads: Option<usize>,
}

impl BundleOptions {
    /// Options with defaults: ignore files, no allow-list, the app directory's name as prefix.
    pub fn new(app_dir: impl Into<PathBuf>, out: impl Into<PathBuf>) -> Self {
        let app_dir = app_dir.into();
        let label_prefix = app_dir
            .canonicalize()
            .ok()
            .as_deref()
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "bundle".to_string());
        Self {
            app_dir,
            out: out.into(),
            source: Source::IgnoreFiles,
            allow: Vec::new(),
            fix_line_endings: false,
            label_prefix,
            git_sha: None,
            git_dirty: false,
            threads: None,
        }
    }
}

/// What [`build`] produced.
#[derive(Debug, Clone, Serialize)]
pub struct BundleSummary {
    pub path: PathBuf,
    pub files: usize,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// SHA-256 of the zip, lower-case hex.
    pub sha256: String,
    pub label: String,
    #[serde(rename = "elapsed_ms", serialize_with = "millis")]
    pub elapsed: Duration,
    pub warnings: Vec<String>,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// One reason the app directory cannot be bundled as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The offending path relative to the app directory (`/`-separated), or `""` for the tree.
    pub path: String,
    pub kind: ProblemKind,
    /// What was found.
    pub detail: String,
    /// How to fix it.
    pub fix: String,
}

/// The rule a [`Problem`] broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// The file's name or contents match a secret rule.
    Secret(SecretRule),
    Crlf,
    BadName,
    SymlinkOutside,
    /// A symlink whose target (inside the app) matches a secret rule, e.g. `x.cfg -> .env`.
    SymlinkToSecret(SecretRule),
    /// A symlink to one of its own parent directories.
    SymlinkLoop,
    BrokenSymlink,
    /// A FIFO, socket or device: never shipped, never opened.
    SpecialFile,
    NoWebProcess,
    NoRequirements,
    NotUtf8Name,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "(app)"
        } else {
            &self.path
        };
        write!(f, "{path}: {}\n      fix: {}", self.detail, self.fix)
    }
}

fn list_problems(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("\n  - {p}"))
        .collect::<String>()
}

/// Everything that can go wrong while planning or building a bundle.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("app directory {path} cannot be read: {source}")]
    AppDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "refusing to bundle {app_dir}: {} problem{}{}",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" },
        list_problems(problems)
    )]
    Refused {
        app_dir: PathBuf,
        problems: Vec<Problem>,
    },
    #[error("walking {path}: {source}")]
    Walk {
        path: PathBuf,
        #[source]
        source: ignore::Error,
    },
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing bundle {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing zip structures to {path}: {source}")]
    Zip {
        path: PathBuf,
        #[source]
        source: rawzip::Error,
    },
    #[error(
        "{what} is {size} bytes, over Elastic Beanstalk's source bundle limit of {limit} bytes \
         (500 MB)"
    )]
    TooLarge { what: String, size: u64, limit: u64 },
    #[error("starting {threads} compression threads: {message}")]
    Threads { threads: usize, message: String },
}

impl BundleError {
    /// True when the app directory (not the machine) is at fault: the user must change files
    /// or options. False for I/O failures.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            BundleError::Refused { .. } | BundleError::TooLarge { .. }
        )
    }

    /// The problems of a [`BundleError::Refused`], empty otherwise.
    pub fn problems(&self) -> &[Problem] {
        match self {
            BundleError::Refused { problems, .. } => problems,
            _ => &[],
        }
    }
}

/// Selects the files and runs every check without writing anything.
pub fn plan(opts: &BundleOptions) -> Result<BundlePlan, BundleError> {
    plan::plan(opts)
}

/// Plans, then writes the bundle. The zip is written next to its destination and renamed into
/// place only when complete, so a failed build never leaves a partial bundle behind.
pub fn build(opts: &BundleOptions, reporter: &dyn Reporter) -> Result<BundleSummary, BundleError> {
    write::build(opts, reporter, MAX_BUNDLE_BYTES)
}
