//! [`Diagnostic`] for [`ConfigError`]: its class and plain advice (no front end's flags).

use deploykit_report::{Category, Diagnostic};

use crate::ConfigError;
use crate::error::unknown_target_fix;

impl Diagnostic for ConfigError {
    fn category(&self) -> Category {
        match self {
            ConfigError::Read { .. }
            | ConfigError::Invalid { .. }
            | ConfigError::UnknownTarget { .. } => Category::Input,
        }
    }

    /// For [`ConfigError::Invalid`] each listed [`crate::Problem`] carries its own fix next to
    /// its location (and in [`ConfigError::problems`]), so there is no advice beyond them.
    fn help(&self) -> Option<String> {
        match self {
            ConfigError::Read { path, .. } => Some(format!(
                "create {} (the repository's deploy.toml is a complete example) or load another file",
                path.display()
            )),
            ConfigError::Invalid { .. } => None,
            ConfigError::UnknownTarget {
                name,
                available,
                suggestion,
                ..
            } => Some(unknown_target_fix(name, available, suggestion.as_deref())),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::Problem;

    #[test]
    fn category_and_help_per_variant() {
        let targets = vec!["local".to_string(), "prod".to_string()];
        // (error, words the help must contain; None: no help)
        let cases: Vec<(ConfigError, Option<&[&str]>)> = vec![
            (
                ConfigError::Read {
                    path: PathBuf::from("/srv/app/deploy.toml"),
                    source: std::io::Error::from(std::io::ErrorKind::NotFound),
                },
                Some(&["create /srv/app/deploy.toml", "another file"]),
            ),
            (
                ConfigError::Invalid {
                    path: PathBuf::from("deploy.toml"),
                    problems: vec![Problem::new(
                        "eb.environment",
                        "too short",
                        "use 4 characters or more",
                    )],
                },
                None,
            ),
            (
                ConfigError::UnknownTarget {
                    path: PathBuf::from("deploy.toml"),
                    name: "prdo".into(),
                    available: targets.clone(),
                    suggestion: Some("prod".into()),
                },
                Some(&["did you mean `prod`?", "[targets.prdo]"]),
            ),
            (
                ConfigError::UnknownTarget {
                    path: PathBuf::from("deploy.toml"),
                    name: "staging".into(),
                    available: targets,
                    suggestion: None,
                },
                Some(&["one of the defined targets", "[targets.staging]"]),
            ),
            (
                ConfigError::UnknownTarget {
                    path: PathBuf::from("deploy.toml"),
                    name: "staging".into(),
                    available: vec![],
                    suggestion: None,
                },
                Some(&["add a [targets.staging] table"]),
            ),
        ];
        for (err, words) in &cases {
            assert_eq!(err.category(), Category::Input, "{err:?}");
            let help = err.help();
            assert_eq!(help.is_some(), words.is_some(), "{err:?}: {help:?}");
            for w in words.unwrap_or_default() {
                let h = help.as_deref().unwrap_or_default();
                assert!(h.contains(w), "{err:?}: help {h:?} lacks {w:?}");
            }
            // Advice without any front end's flags or commands; Display says what failed.
            for text in [err.to_string(), help.unwrap_or_default()] {
                for cli in ["--target", "--config", "xtask", "\n  fix:"] {
                    assert!(!text.contains(cli), "{text:?} contains {cli:?}");
                }
            }
        }
    }
}
