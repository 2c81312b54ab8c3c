//! [`Diagnostic`] for this crate's errors: the class of each failure and what to do next.

use deploykit_report::{Category, Diagnostic};

use crate::LocalCloudError;
use crate::workload::WorkloadError;

impl Diagnostic for LocalCloudError {
    fn category(&self) -> Category {
        match self {
            LocalCloudError::MotoUrl { .. }
            | LocalCloudError::EdgeUrl { .. }
            | LocalCloudError::TimeScale(_) => Category::Input,
            LocalCloudError::AdminTimeout { .. } => Category::Timeout,
            LocalCloudError::Workloads(e) => e.category(),
            LocalCloudError::Bind { .. }
            | LocalCloudError::AdminRequest { .. }
            | LocalCloudError::AdminStatus { .. } => Category::Internal,
        }
    }

    fn help(&self) -> Option<String> {
        Some(match self {
            LocalCloudError::Bind { addr, .. } => format!(
                "another program holds {addr}: stop it or bind the edge to another loopback port"
            ),
            LocalCloudError::MotoUrl { .. } => "give moto's URL as http://127.0.0.1:PORT".into(),
            LocalCloudError::EdgeUrl { .. } => {
                "give the edge's URL as http://127.0.0.1:PORT (its AWS endpoint)".into()
            }
            LocalCloudError::AdminStatus { status: 401, .. } => format!(
                "the admin path needs the edge's token in the {} header: send the one recorded in the local cloud's state.json",
                crate::ADMIN_TOKEN_HEADER
            ),
            LocalCloudError::AdminStatus { status: 403, .. } => {
                "the edge answers only loopback Host names and no browser requests: call it at http://127.0.0.1:PORT without an Origin header".into()
            }
            LocalCloudError::AdminRequest { .. }
            | LocalCloudError::AdminStatus { .. }
            | LocalCloudError::AdminTimeout { .. } => {
                "check that the local cloud's edge is running and answers at that URL".into()
            }
            LocalCloudError::TimeScale(e) => format!(
                "use a time scale from {} to {} instead of {}",
                crate::TIME_SCALE_MIN,
                crate::TIME_SCALE_MAX,
                e.value
            ),
            LocalCloudError::Workloads(e) => return e.help(),
        })
    }
}

impl Diagnostic for WorkloadError {
    fn category(&self) -> Category {
        match self {
            WorkloadError::Timeout { .. } | WorkloadError::RemoveTimeout { .. } => {
                Category::Timeout
            }
            WorkloadError::Exited { .. } | WorkloadError::Unhealthy { .. } => Category::CheckFailed,
            WorkloadError::Pull { .. } => Category::Input,
            WorkloadError::Connect { .. }
            | WorkloadError::Docker { .. }
            | WorkloadError::Port { .. }
            | WorkloadError::Logs { .. } => Category::Internal,
        }
    }

    fn help(&self) -> Option<String> {
        Some(match self {
            WorkloadError::Connect { .. } => {
                "start the Docker Engine (DOCKER_HOST selects another one), or run the local cloud with simulated workloads".into()
            }
            WorkloadError::Pull { .. } => {
                "push the image to the local registry under that tag first".into()
            }
            WorkloadError::Exited { .. } | WorkloadError::Unhealthy { .. } => {
                "the app's own log lines above say why it did not start".into()
            }
            WorkloadError::Timeout { .. } => {
                "the app took too long to answer: check its start command and port".into()
            }
            WorkloadError::Docker { .. }
            | WorkloadError::Port { .. }
            | WorkloadError::RemoveTimeout { .. }
            | WorkloadError::Logs { .. } => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_and_help_per_variant() {
        let url = || "http://127.0.0.1:4566/_localcloud/health".to_string();
        // (error, category, words the help must contain; None: no help)
        let cases: Vec<(LocalCloudError, Category, Option<&str>)> = vec![
            (
                LocalCloudError::TimeScale(crate::TimeScaleError { value: 0.0 }),
                Category::Input,
                Some("from 1 to 10000 instead of 0"),
            ),
            (
                LocalCloudError::MotoUrl {
                    url: "ftp://x".into(),
                    reason: "scheme".into(),
                },
                Category::Input,
                Some("http://127.0.0.1:PORT"),
            ),
            (
                LocalCloudError::AdminStatus {
                    what: "health",
                    url: url(),
                    status: 401,
                    body: String::new(),
                },
                Category::Internal,
                Some("x-localcloud-admin-token"),
            ),
            (
                LocalCloudError::AdminStatus {
                    what: "health",
                    url: url(),
                    status: 403,
                    body: String::new(),
                },
                Category::Internal,
                Some("without an Origin header"),
            ),
            (
                LocalCloudError::AdminTimeout {
                    what: "health",
                    url: url(),
                    secs: 10,
                },
                Category::Timeout,
                Some("is running"),
            ),
            (
                LocalCloudError::Workloads(WorkloadError::Exited {
                    code: 1,
                    log_tail: String::new(),
                }),
                Category::CheckFailed,
                Some("log lines"),
            ),
            (
                LocalCloudError::Workloads(WorkloadError::RemoveTimeout {
                    id: "c".into(),
                    secs: 60,
                }),
                Category::Timeout,
                None,
            ),
        ];
        for (e, category, help) in cases {
            assert_eq!(e.category(), category, "{e}");
            match (e.help(), help) {
                (None, None) => {}
                (Some(h), Some(w)) => assert!(h.contains(w), "{e}: {h}"),
                (got, want) => panic!("{e}: help {got:?}, want {want:?}"),
            }
        }
    }
}
