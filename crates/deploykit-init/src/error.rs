//! The crate's one error type, with the context to act on it.

use std::path::PathBuf;

use deploykit_report::{Category, Diagnostic};

/// One Flask app `detect` found: its gunicorn spec and where it is defined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// What gunicorn would be given: `wsgi:app`, `app:create_app()`.
    pub spec: String,
    /// The file, relative to the app directory, and the line that defines it.
    pub file: PathBuf,
    pub line: usize,
}

impl std::fmt::Display for Candidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` ({}:{})", self.spec, self.file.display(), self.line)
    }
}

/// A file `apply` will not overwrite without `force`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// Relative to the app directory.
    pub path: PathBuf,
    /// How it differs: "content", "line endings (CRLF)", "is a directory".
    pub detail: String,
}

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{} is not a directory", path.display())]
    NotADirectory { path: PathBuf },

    #[error("no Flask app found in {}: none of its {scanned} Python files creates `Flask(...)`", dir.display())]
    NoFlaskApp { dir: PathBuf, scanned: usize },

    #[error(
        "{} holds {} Flask apps: {}",
        dir.display(),
        candidates.len(),
        candidates.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    AmbiguousEntry {
        dir: PathBuf,
        candidates: Vec<Candidate>,
    },

    #[error("entry point `{spec}`: {why}")]
    BadEntry { spec: String, why: String },

    #[error("{}: {field}: {why}", file.display())]
    BadFile {
        file: PathBuf,
        field: String,
        why: String,
    },

    #[error(
        "{} existing file(s) differ from what init writes: {}",
        conflicts.len(),
        conflicts
            .iter()
            .map(|c| format!("{} (exists, differs: {})", c.path.display(), c.detail))
            .collect::<Vec<_>>()
            .join(", ")
    )]
    Conflicts { conflicts: Vec<Conflict> },

    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("template {template}: {why}")]
    Template { template: &'static str, why: String },
}

impl InitError {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        InitError::Io {
            what,
            path: path.into(),
            source,
        }
    }
}

impl Diagnostic for InitError {
    fn category(&self) -> Category {
        match self {
            InitError::NotADirectory { .. }
            | InitError::NoFlaskApp { .. }
            | InitError::AmbiguousEntry { .. }
            | InitError::BadEntry { .. }
            | InitError::BadFile { .. }
            | InitError::Conflicts { .. } => Category::Input,
            InitError::Io { .. } | InitError::Template { .. } => Category::Internal,
        }
    }

    fn help(&self) -> Option<String> {
        Some(match self {
            InitError::NotADirectory { .. } => {
                "point init at the root of the Flask app's repository".into()
            }
            InitError::NoFlaskApp { .. } => "init looks for `Flask(__name__)` at module level or in a factory such as `create_app()`; if the app is built another way, name its entry point explicitly as a gunicorn spec (`module:app` or `module:create_app()`)".into(),
            InitError::AmbiguousEntry { candidates, .. } => format!(
                "choose the app to deploy by naming its entry point explicitly, e.g. `{}`",
                candidates.first().map_or("wsgi:app", |c| c.spec.as_str())
            ),
            InitError::BadEntry { .. } => "write the entry point as gunicorn does: `module:name` (an app object) or `module:factory()` (a factory), with the module relative to the app directory".into(),
            InitError::BadFile { .. } => "fix the file, or remove it if it is not used".into(),
            InitError::Conflicts { .. } => "nothing was written; compare the files with what init would write (a dry run shows it), then overwrite them with force or keep yours".into(),
            InitError::Io { .. } => "check the directory's permissions and free space".into(),
            InitError::Template { .. } => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_a_category_and_no_cli_wording() {
        let errors = [
            InitError::NotADirectory { path: "x".into() },
            InitError::NoFlaskApp {
                dir: "x".into(),
                scanned: 3,
            },
            InitError::AmbiguousEntry {
                dir: "x".into(),
                candidates: vec![
                    Candidate {
                        spec: "a:app".into(),
                        file: "a.py".into(),
                        line: 3,
                    },
                    Candidate {
                        spec: "b:app".into(),
                        file: "b.py".into(),
                        line: 4,
                    },
                ],
            },
            InitError::Conflicts {
                conflicts: vec![Conflict {
                    path: "Procfile".into(),
                    detail: "content".into(),
                }],
            },
        ];
        for e in &errors {
            assert_eq!(e.category(), Category::Input, "{e}");
            let help = e.help().expect("help");
            assert!(!help.contains("cargo") && !help.contains("xtask"), "{help}");
        }
        assert_eq!(
            errors[2].to_string(),
            "x holds 2 Flask apps: `a:app` (a.py:3), `b:app` (b.py:4)"
        );
        assert!(errors[2].help().unwrap().contains("`a:app`"));
        assert_eq!(
            errors[3].to_string(),
            "1 existing file(s) differ from what init writes: Procfile (exists, differs: content)"
        );
    }
}
