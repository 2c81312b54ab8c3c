//! [`Diagnostic`] for [`AppRunnerError`]: its class and plain advice (no front end's command
//! names: the CLI adds its own, e.g. the command that deploys to ECS Express).

use deploykit_report::{Category, Diagnostic};

use crate::AppRunnerError;

impl Diagnostic for AppRunnerError {
    fn category(&self) -> Category {
        match self {
            AppRunnerError::Aws { classified, .. }
            | AppRunnerError::EcsAws { classified, .. }
            | AppRunnerError::Ecr { classified, .. } => classified.category(),
            AppRunnerError::NotAvailableForAccount { .. } => Category::Aws,
            // The service's state forbids the change, as AWS's InvalidState does.
            AppRunnerError::CreateFailed { .. } | AppRunnerError::Blocked { .. } => Category::Aws,
            AppRunnerError::NotYetSupported { .. }
            | AppRunnerError::Invalid { .. }
            | AppRunnerError::NoRollbackTarget { .. } => Category::Input,
            AppRunnerError::RolledBack { .. }
            | AppRunnerError::EcsRolledBack { .. }
            | AppRunnerError::HealthRolledBack { .. } => Category::RolledBack,
            AppRunnerError::RollbackFailed { .. } | AppRunnerError::HealthRollbackFailed { .. } => {
                Category::RollbackFailed
            }
            // The new image runs, unhealthy, next to someone else's change.
            AppRunnerError::RollbackRefused { .. } => Category::CheckFailed,
            AppRunnerError::Timeout { .. } => Category::Timeout,
            // The new revision runs and is not healthy (nothing to roll back to).
            AppRunnerError::Unhealthy { .. } | AppRunnerError::EcsDeploymentFailed { .. } => {
                Category::CheckFailed
            }
        }
    }

    fn help(&self) -> Option<String> {
        Some(match self {
            AppRunnerError::Aws { classified, .. }
            | AppRunnerError::EcsAws { classified, .. }
            | AppRunnerError::Ecr { classified, .. } => classified.help().into(),
            AppRunnerError::NotAvailableForAccount { .. } => "deploy the same image with ECS Express Mode, App Runner's successor: set `[containers] platform = \"ecs-express\"` in deploy.toml (it needs its execution and infrastructure roles)".into(),
            AppRunnerError::NotYetSupported { .. } => {
                "use `platform = \"apprunner\"`, or Route A (Elastic Beanstalk)".into()
            }
            AppRunnerError::RolledBack { .. }
            | AppRunnerError::EcsRolledBack { .. }
            | AppRunnerError::HealthRolledBack { .. } => {
                "look at the application logs, fix the image and deploy again".into()
            }
            AppRunnerError::RollbackFailed { .. } | AppRunnerError::HealthRollbackFailed { .. } => "check the service's status and the console now; redeploy a known good image".into(),
            AppRunnerError::RollbackRefused { .. } => "someone else deployed to the service while this deploy ran: agree with them on what should run before deploying or rolling back".into(),
            AppRunnerError::CreateFailed { .. } => "deploy again asking to recreate the service: it is deleted and created anew (its URL will change)".into(),
            AppRunnerError::Blocked { what_to_do, .. } => what_to_do.clone(),
            AppRunnerError::Timeout { .. } => {
                "check the service's status (it may still finish), or wait longer (raise the timeout)".into()
            }
            AppRunnerError::Unhealthy { .. } => {
                "check the health path and the app's logs".into()
            }
            AppRunnerError::Invalid { .. } => return None,
            AppRunnerError::EcsDeploymentFailed { .. } => {
                "check the image, its port and health path, and the logs".into()
            }
            AppRunnerError::NoRollbackTarget { fix, .. } => fix.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use deploykit_aws::{Classified, ErrorKind};

    use super::*;

    fn classified(kind: ErrorKind, code: &str) -> Box<Classified> {
        Box::new(Classified {
            kind,
            code: Some(code.into()),
            message: None,
            request_id: None,
        })
    }

    #[test]
    fn category_and_help_per_variant() {
        // (error, category, words the help must contain; None: no help)
        let cases: Vec<(AppRunnerError, Category, Option<&str>)> = vec![
            (
                AppRunnerError::Aws {
                    operation: "UpdateService",
                    service: "budgetsync".into(),
                    classified: classified(ErrorKind::InvalidState, "InvalidStateException"),
                },
                Category::Aws,
                Some(ErrorKind::InvalidState.help()),
            ),
            (
                AppRunnerError::EcsAws {
                    operation: "CreateExpressGatewayService",
                    service: "budgetsync".into(),
                    classified: classified(ErrorKind::AccessDenied, "AccessDeniedException"),
                },
                Category::Aws,
                Some(ErrorKind::AccessDenied.help()),
            ),
            (
                AppRunnerError::Ecr {
                    operation: "DescribeImages",
                    repository: "budgetsync".into(),
                    classified: classified(ErrorKind::NotFound, "RepositoryNotFoundException"),
                },
                Category::Aws,
                Some(ErrorKind::NotFound.help()),
            ),
            (
                AppRunnerError::NotAvailableForAccount {
                    operation: "CreateService",
                    code: "SubscriptionRequiredException".into(),
                },
                Category::Aws,
                Some("platform = \"ecs-express\""),
            ),
            (
                AppRunnerError::NotYetSupported { platform: "x" },
                Category::Input,
                Some("Route A"),
            ),
            (
                AppRunnerError::RolledBack {
                    service: "budgetsync".into(),
                    image: "r/budgetsync:v3".into(),
                    operation_id: "op-1".into(),
                    status: "ROLLBACK_SUCCEEDED".into(),
                    previous: " (r/budgetsync:v2)".into(),
                },
                Category::RolledBack,
                Some("application logs"),
            ),
            (
                AppRunnerError::RollbackFailed {
                    service: "budgetsync".into(),
                    operation_id: "op-1".into(),
                },
                Category::RollbackFailed,
                Some("known good image"),
            ),
            (
                AppRunnerError::CreateFailed {
                    service: "budgetsync".into(),
                    why: String::new(),
                },
                Category::Aws,
                Some("recreate"),
            ),
            (
                AppRunnerError::Blocked {
                    service: "budgetsync".into(),
                    status: "PAUSED".into(),
                    what_to_do: "resume it first (ResumeService / the console), then deploy".into(),
                },
                Category::Aws,
                Some("resume it first"),
            ),
            (
                AppRunnerError::Timeout {
                    what: "operation op-1".into(),
                    waited: Duration::from_secs(900),
                },
                Category::Timeout,
                Some("raise the timeout"),
            ),
            (
                AppRunnerError::Unhealthy {
                    service: "budgetsync".into(),
                    url: "https://x.awsapprunner.com".into(),
                    path: "/healthz".into(),
                    last: "503".into(),
                    waited: Duration::from_secs(60),
                },
                Category::CheckFailed,
                Some("health path"),
            ),
            (
                AppRunnerError::Invalid {
                    service: "budgetsync".into(),
                    message: "port 0".into(),
                },
                Category::Input,
                None,
            ),
            (
                AppRunnerError::EcsRolledBack {
                    service: "budgetsync".into(),
                    image: "r/budgetsync:v3".into(),
                    deployment: "d-1".into(),
                    reason: "circuit breaker".into(),
                    previous: String::new(),
                },
                Category::RolledBack,
                Some("fix the image"),
            ),
            (
                AppRunnerError::EcsDeploymentFailed {
                    service: "budgetsync".into(),
                    image: "r/budgetsync:v1".into(),
                    deployment: "d-1".into(),
                    status: "FAILED".into(),
                    reason: "tasks failed to start".into(),
                },
                Category::CheckFailed,
                Some("health path"),
            ),
            (
                AppRunnerError::NoRollbackTarget {
                    service: "budgetsync".into(),
                    reason: "tag v9 is not in ECR repository budgetsync".into(),
                    fix: "name a tag that exists".into(),
                },
                Category::Input,
                Some("name a tag that exists"),
            ),
        ];
        for (err, category, words) in &cases {
            assert_eq!(err.category(), *category, "{err:?}");
            let help = err.help();
            assert_eq!(help.is_some(), words.is_some(), "{err:?}: {help:?}");
            if let (Some(h), Some(w)) = (&help, words) {
                assert!(h.contains(w), "{err:?}: help {h:?} lacks {w:?}");
            }
            let shown = err.to_string();
            for cli in ["xtask", "--recreate", "--timeout"] {
                assert!(!shown.contains(cli), "{shown:?} contains {cli:?}");
            }
            if let Some(h) = &help {
                assert!(
                    !shown.contains(h.as_str()),
                    "advice is not repeated: {shown}"
                );
            }
        }
    }
}
