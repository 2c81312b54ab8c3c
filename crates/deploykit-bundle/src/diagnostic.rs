//! [`Diagnostic`] for [`BundleError`]: its class and plain advice.

use deploykit_report::{Category, Diagnostic};

use crate::BundleError;

impl Diagnostic for BundleError {
    fn category(&self) -> Category {
        match self {
            BundleError::Refused { .. } | BundleError::TooLarge { .. } => Category::Input,
            BundleError::AppDir { .. }
            | BundleError::Walk { .. }
            | BundleError::Read { .. }
            | BundleError::Write { .. }
            | BundleError::Zip { .. }
            | BundleError::Threads { .. } => Category::Internal,
        }
    }

    /// For [`BundleError::Refused`] every listed [`crate::Problem`] carries its own fix (also
    /// in [`BundleError::problems`]), so there is no advice beyond them.
    fn help(&self) -> Option<String> {
        match self {
            BundleError::Refused { .. } => None,
            BundleError::TooLarge { .. } => {
                Some("exclude large files (build artifacts, media, data) in .ebignore".into())
            }
            BundleError::AppDir { path, .. } => Some(format!(
                "check that the app directory {} exists and is readable",
                path.display()
            )),
            BundleError::Walk { .. } | BundleError::Read { .. } => {
                Some("check the file's permissions, or exclude it in .ebignore".into())
            }
            BundleError::Write { .. } | BundleError::Zip { .. } => {
                Some("check free space and permissions where the bundle is written".into())
            }
            BundleError::Threads { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::{Problem, ProblemKind};

    fn io() -> std::io::Error {
        std::io::Error::from(std::io::ErrorKind::PermissionDenied)
    }

    #[test]
    fn display_says_what_failed_and_help_what_to_do() {
        let err = BundleError::TooLarge {
            what: "the bundle".into(),
            size: 600_000_000,
            limit: 524_288_000,
        };
        let s = err.to_string();
        assert!(s.contains("600000000") && s.contains("524288000"), "{s}");
        assert!(!s.contains(".ebignore"), "advice belongs in help(): {s}");
    }

    #[test]
    fn category_and_help_per_variant() {
        // (error, category, words the help must contain; None: no help)
        let cases: Vec<(BundleError, Category, Option<&str>)> = vec![
            (
                BundleError::Refused {
                    app_dir: PathBuf::from("app"),
                    problems: vec![Problem {
                        kind: ProblemKind::NoRequirements,
                        path: String::new(),
                        detail: "no requirements.txt".into(),
                        fix: "add requirements.txt".into(),
                    }],
                },
                Category::Input,
                None,
            ),
            (
                BundleError::TooLarge {
                    what: "the bundle".into(),
                    size: 600_000_000,
                    limit: 524_288_000,
                },
                Category::Input,
                Some(".ebignore"),
            ),
            (
                BundleError::AppDir {
                    path: PathBuf::from("/srv/app"),
                    source: io(),
                },
                Category::Internal,
                Some("/srv/app exists"),
            ),
            (
                BundleError::Read {
                    path: PathBuf::from("app/x"),
                    source: io(),
                },
                Category::Internal,
                Some("permissions"),
            ),
            (
                BundleError::Write {
                    path: PathBuf::from("out.zip"),
                    source: io(),
                },
                Category::Internal,
                Some("free space"),
            ),
            (
                BundleError::Threads {
                    threads: 2,
                    message: "no".into(),
                },
                Category::Internal,
                None,
            ),
        ];
        for (err, category, words) in &cases {
            assert_eq!(err.category(), *category, "{err:?}");
            assert_eq!(err.is_refusal(), *category == Category::Input, "{err:?}");
            let help = err.help();
            assert_eq!(help.is_some(), words.is_some(), "{err:?}: {help:?}");
            if let (Some(h), Some(w)) = (&help, words) {
                assert!(h.contains(w), "{err:?}: help {h:?} lacks {w:?}");
            }
            assert!(!err.to_string().contains("xtask"), "{err}");
        }
    }
}
