//! [`Diagnostic`] for [`EbError`]: its class and plain advice (no front end's command names).

use deploykit_report::{Category, Diagnostic};

use crate::error::{EbError, RollbackOutcome};

impl Diagnostic for EbError {
    fn category(&self) -> Category {
        match self {
            EbError::EnvLimits { .. }
            | EbError::MissingForCreate { .. }
            | EbError::NoPlatform { .. }
            | EbError::NoEnvironment { .. }
            | EbError::NoVersion { .. }
            | EbError::NoRollbackTarget { .. }
            | EbError::NoCertificate { .. }
            | EbError::LoadBalancerConfig { .. }
            | EbError::LoadBalancerTypeFixed { .. } => Category::Input,
            EbError::Aws { error, .. } => error.category(),
            EbError::S3(e) => e.category(),
            // The environment's state forbids the update, as AWS's InvalidState does.
            EbError::Busy { .. } => Category::Aws,
            EbError::BusyTimeout { .. } | EbError::Timeout { .. } | EbError::LogsTimeout { .. } => {
                Category::Timeout
            }
            EbError::LogDownload { .. } => Category::Aws,
            EbError::Unhealthy { .. } => Category::CheckFailed,
            EbError::DeployFailed { rollback, .. } => match rollback {
                RollbackOutcome::RolledBack { .. } => Category::RolledBack,
                RollbackOutcome::Failed { .. } => Category::RollbackFailed,
                // The new version runs and is not healthy, as for `Unhealthy`.
                RollbackOutcome::Disabled
                | RollbackOutcome::NothingToRollBackTo
                | RollbackOutcome::Refused { .. } => Category::CheckFailed,
            },
        }
    }

    /// For [`EbError::EnvLimits`] every listed problem carries its own fix.
    fn help(&self) -> Option<String> {
        Some(match self {
            EbError::EnvLimits { .. } => return None,
            EbError::MissingForCreate { .. } => "set `service_role` (e.g. \"aws-elasticbeanstalk-service-role\") and `instance_profile` (e.g. \"aws-elasticbeanstalk-ec2-role\") in the target's [eb] section, and make sure both roles exist".into(),
            EbError::NoPlatform { .. } => {
                "pin a platform with `solution_stack = \"...\"` in the target's [eb] section".into()
            }
            EbError::NoCertificate { .. } => "give the [eb] section a `domain` whose ACM certificate is ISSUED in the environment's region (request it with the https command), or set `certificate_arn`; or set `load_balanced = false`".into(),
            EbError::LoadBalancerConfig { .. } => "fix `min_instances` / `max_instances` in the target's [eb] section".into(),
            EbError::LoadBalancerTypeFixed { .. } => "create a new environment (another `environment` name in the [eb] section) load-balanced from the start, move the domain's record to it, then terminate the old one; or keep `load_balanced = false`".into(),
            EbError::Aws { error, .. } => error.help().into(),
            EbError::S3(e) => return e.help(),
            EbError::Busy { .. } => "wait for the change in progress to finish (or let the deploy wait for it), then run again".into(),
            EbError::BusyTimeout { .. } => {
                "watch the environment's events until it is Ready, then run again".into()
            }
            EbError::Timeout { .. } => "it may still finish: check the environment's status and events; once it is Ready, rolling back restores the previous version; or wait longer (raise the deploy timeout)".into(),
            EbError::DeployFailed { rollback, .. } => match rollback {
                RollbackOutcome::RolledBack { .. } | RollbackOutcome::NothingToRollBackTo => {
                    "read the environment's events and the app's logs, fix the app and deploy again".into()
                }
                RollbackOutcome::Failed { .. } => "the environment needs attention now: check its status and events, then roll back to a version known to be good".into(),
                RollbackOutcome::Disabled => "roll back to restore the previous version, or fix the app and deploy again".into(),
                RollbackOutcome::Refused { .. } => "someone else deployed to the environment while this deploy ran: agree with them on what should run before deploying or rolling back".into(),
            },
            EbError::Unhealthy { .. } => "read the environment's events and the app's logs; fix the app and deploy, or roll back to an earlier version".into(),
            EbError::NoEnvironment { .. } => "deploy once to create it".into(),
            EbError::NoVersion { .. } => {
                "list the application's versions and name one that exists".into()
            }
            EbError::NoRollbackTarget { .. } => {
                "name the version to go back to explicitly".into()
            }
            EbError::LogsTimeout { .. } => "the instances may be busy or unhealthy: check the environment's health and events, then ask again with a longer wait".into(),
            EbError::LogDownload { .. } => "the presigned URL lasts 15 minutes: ask for the logs again; check that this machine reaches S3".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use deploykit_aws::{Classified, ErrorKind};

    use super::*;
    use crate::EnvLimitProblem;

    fn failed(rollback: RollbackOutcome) -> EbError {
        EbError::DeployFailed {
            environment: "budgetsync-prod".into(),
            label: "budgetsync-abc123".into(),
            reason: "health went Red".into(),
            events: vec!["ERROR: Instance deployment failed".into()],
            rollback,
        }
    }

    #[test]
    fn category_and_help_per_variant() {
        // (error, category, words the help must contain; None: no help)
        let cases: Vec<(EbError, Category, Option<&str>)> = vec![
            (
                EbError::EnvLimits {
                    problems: vec![EnvLimitProblem {
                        key: Some("K".into()),
                        problem: "name is 129 characters".into(),
                        fix: "shorten it".into(),
                    }],
                },
                Category::Input,
                None,
            ),
            (
                EbError::MissingForCreate {
                    environment: "budgetsync-prod".into(),
                    missing: "service_role".into(),
                },
                Category::Input,
                Some("`service_role`"),
            ),
            (
                EbError::NoPlatform {
                    region: "us-east-1".into(),
                    available: 12,
                },
                Category::Input,
                Some("solution_stack"),
            ),
            (
                EbError::aws(
                    "CreateEnvironment",
                    "budgetsync-prod",
                    Classified {
                        kind: ErrorKind::QuotaExceeded,
                        code: Some("TooManyEnvironmentsException".into()),
                        message: None,
                        request_id: None,
                    },
                ),
                Category::Aws,
                Some(ErrorKind::QuotaExceeded.help()),
            ),
            (
                EbError::Busy {
                    environment: "budgetsync-prod".into(),
                    status: "Updating".into(),
                },
                Category::Aws,
                Some("wait for the change in progress"),
            ),
            (
                EbError::BusyTimeout {
                    environment: "budgetsync-prod".into(),
                    status: "Updating".into(),
                    waited: Duration::from_secs(1200),
                },
                Category::Timeout,
                Some("until it is Ready"),
            ),
            (
                EbError::Timeout {
                    environment: "budgetsync-prod".into(),
                    label: "budgetsync-abc123".into(),
                    waited: Duration::from_secs(900),
                    last: "Updating/Grey".into(),
                },
                Category::Timeout,
                Some("raise the deploy timeout"),
            ),
            (
                failed(RollbackOutcome::RolledBack {
                    to: "budgetsync-prev".into(),
                }),
                Category::RolledBack,
                Some("fix the app and deploy again"),
            ),
            (
                failed(RollbackOutcome::Failed {
                    to: "budgetsync-prev".into(),
                    reason: "Red".into(),
                }),
                Category::RollbackFailed,
                Some("needs attention now"),
            ),
            (
                failed(RollbackOutcome::Disabled),
                Category::CheckFailed,
                Some("roll back to restore the previous version"),
            ),
            (
                failed(RollbackOutcome::NothingToRollBackTo),
                Category::CheckFailed,
                Some("fix the app"),
            ),
            (
                EbError::Unhealthy {
                    environment: "budgetsync-prod".into(),
                    label: "budgetsync-abc123".into(),
                    reason: "Red".into(),
                },
                Category::CheckFailed,
                Some("roll back"),
            ),
            (
                EbError::NoEnvironment {
                    application: "budgetsync".into(),
                    environment: "budgetsync-prod".into(),
                },
                Category::Input,
                Some("deploy once"),
            ),
            (
                EbError::NoVersion {
                    application: "budgetsync".into(),
                    label: "budgetsync-zzz".into(),
                },
                Category::Input,
                Some("name one that exists"),
            ),
            (
                EbError::NoRollbackTarget {
                    environment: "budgetsync-prod".into(),
                    current: "budgetsync-abc123".into(),
                },
                Category::Input,
                Some("name the version"),
            ),
            (
                EbError::NoCertificate {
                    environment: "budgetsync-prod".into(),
                    domain: Some("app.example.com".into()),
                },
                Category::Input,
                Some("certificate_arn"),
            ),
            (
                EbError::LoadBalancerConfig {
                    environment: "budgetsync-prod".into(),
                    problem: "min 3 > max 2".into(),
                },
                Category::Input,
                Some("min_instances"),
            ),
            (
                EbError::LoadBalancerTypeFixed {
                    environment: "budgetsync-prod".into(),
                    current: "classic".into(),
                },
                Category::Input,
                Some("new environment"),
            ),
        ];
        for (err, category, words) in &cases {
            assert_eq!(Diagnostic::category(err), *category, "{err:?}");
            assert_eq!(err.is_config(), *category == Category::Input, "{err:?}");
            let help = err.help();
            assert_eq!(help.is_some(), words.is_some(), "{err:?}: {help:?}");
            if let (Some(h), Some(w)) = (&help, words) {
                assert!(h.contains(w), "{err:?}: help {h:?} lacks {w:?}");
            }
            let shown = err.to_string();
            for cli in [
                "xtask",
                "--no-rollback",
                "--no-wait-busy",
                "--timeout",
                "--to",
            ] {
                assert!(!shown.contains(cli), "{shown:?} contains {cli:?}");
            }
        }
    }

    #[test]
    fn a_failed_deploy_says_what_happened_to_the_rollback() {
        let cases = [
            (
                RollbackOutcome::RolledBack {
                    to: "budgetsync-prev".into(),
                },
                "rolled back to budgetsync-prev, which is Ready and Green",
            ),
            (
                RollbackOutcome::Failed {
                    to: "budgetsync-prev".into(),
                    reason: "Red".into(),
                },
                "the rollback to budgetsync-prev failed too: Red",
            ),
            (RollbackOutcome::Disabled, "not rolled back"),
            (
                RollbackOutcome::NothingToRollBackTo,
                "no earlier version to roll back to",
            ),
        ];
        for (rollback, want) in cases {
            let s = failed(rollback).to_string();
            assert!(
                s.contains(want)
                    && s.contains("budgetsync-abc123")
                    && s.contains("health went Red")
                    && s.contains("Instance deployment failed"),
                "{s}"
            );
        }
    }
}
