//! [`Diagnostic`] for [`ConfigError`], and the plain fields a target hands to the AWS crate.

use deploykit_report::{Category, Diagnostic};

use crate::error::unknown_target_fix;
use crate::{ConfigError, ResolvedTarget};

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

/// A target's `(region, profile, endpoint_url, local)`: what `deploykit_aws::TargetFields`
/// is, in plain types, so `deploykit_aws::TargetAws::from(&target)` works while neither crate
/// depends on the other. Transitional: callers that map config to the AWS crate's input
/// themselves do not need it.
impl From<&ResolvedTarget> for (String, Option<String>, Option<String>, bool) {
    fn from(t: &ResolvedTarget) -> Self {
        (
            t.region.clone(),
            t.profile.clone(),
            t.endpoint_url.clone(),
            t.local,
        )
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

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

    #[test]
    fn the_repository_targets_as_plain_fields() {
        let config = crate::parse(
            include_str!("../../../deploy.toml"),
            Path::new("deploy.toml"),
        )
        .unwrap();
        let fields = |name| -> (String, Option<String>, Option<String>, bool) {
            (&config.target(Some(name)).unwrap()).into()
        };
        let (region, _, endpoint, local) = fields("local");
        assert!(local);
        assert!(!region.is_empty());
        assert_eq!(endpoint.as_deref(), Some("http://127.0.0.1:4566"));
        let (_, profile, _, local) = fields("prod");
        assert!(!local);
        assert_eq!(profile.as_deref(), Some("budgetsync-prod"));
    }
}
