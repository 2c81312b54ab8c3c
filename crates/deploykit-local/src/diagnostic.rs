//! [`Diagnostic`] for [`LocalError`]: its class and plain advice (no front end's command names).

use deploykit_report::{Category, Diagnostic};

use crate::LocalError;

impl Diagnostic for LocalError {
    fn category(&self) -> Category {
        match self {
            // Bounded waits that ran out.
            LocalError::CommandTimeout { .. }
            | LocalError::NotHealthy { .. }
            | LocalError::Locked { .. }
            | LocalError::StillRunning { .. } => Category::Timeout,
            LocalError::TimeScale(_) => Category::Input,
            // This machine's programs, files and processes.
            LocalError::Io { .. }
            | LocalError::Spawn { .. }
            | LocalError::CommandFailed { .. }
            | LocalError::Exited { .. }
            | LocalError::EdgePortInUse { .. }
            | LocalError::Missing { .. }
            | LocalError::NeedsRoot { .. }
            | LocalError::NoPostgresAccount
            | LocalError::NotRunning { .. }
            | LocalError::BadState { .. }
            | LocalError::StateJson(_)
            | LocalError::Admin { .. }
            | LocalError::Docker { .. }
            | LocalError::Workloads { .. }
            | LocalError::EdgeSpec { .. }
            | LocalError::Edge { .. }
            | LocalError::Failed { .. } => Category::Internal,
        }
    }

    fn help(&self) -> Option<String> {
        self.advice()
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn category_and_help_per_variant() {
        let log = || PathBuf::from("/p/target/localcloud/logs/moto.log");
        // (error, category, words the help must contain; None: no help)
        let cases: Vec<(LocalError, Category, Option<&str>)> = vec![
            (
                LocalError::io(
                    "reading state.json",
                    std::io::Error::from(std::io::ErrorKind::NotFound),
                ),
                Category::Internal,
                None,
            ),
            (
                LocalError::CommandTimeout {
                    what: "pip install moto".into(),
                    secs: 300,
                    log: log(),
                    tail: String::new(),
                },
                Category::Timeout,
                Some("/p/target/localcloud/logs/moto.log"),
            ),
            (
                LocalError::NotHealthy {
                    part: "moto".into(),
                    pid: 42,
                    secs: 30,
                    why: "no answer".into(),
                    log: log(),
                    tail: String::new(),
                },
                Category::Timeout,
                Some("start it again"),
            ),
            (
                LocalError::Locked {
                    path: PathBuf::from("/p/target/localcloud/lock"),
                    secs: 60,
                },
                Category::Timeout,
                Some("fuser /p/target/localcloud/lock"),
            ),
            (
                LocalError::EdgePortInUse { port: 4566 },
                Category::Internal,
                Some("sport = :4566"),
            ),
            (
                LocalError::NotRunning {
                    path: PathBuf::from("/p/target/localcloud/state.json"),
                },
                Category::Internal,
                Some("start the local cloud first"),
            ),
            (
                LocalError::Missing {
                    what: "docker-registry is not installed".into(),
                    install: "apt-get install docker-registry".into(),
                },
                Category::Internal,
                Some("apt-get install docker-registry"),
            ),
            (
                LocalError::Failed {
                    what: "x".into(),
                    help: None,
                },
                Category::Internal,
                None,
            ),
        ];
        for (err, category, words) in &cases {
            assert_eq!(err.category(), *category, "{err:?}");
            assert_eq!(err.is_timeout(), *category == Category::Timeout, "{err:?}");
            let help = err.help();
            assert_eq!(help.is_some(), words.is_some(), "{err:?}: {help:?}");
            if let (Some(h), Some(w)) = (&help, words) {
                assert!(h.contains(w), "{err:?}: help {h:?} lacks {w:?}");
                assert!(!h.contains("xtask"), "{h}");
            }
        }
    }
}
