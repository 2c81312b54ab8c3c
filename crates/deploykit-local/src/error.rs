//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong starting, probing or stopping the local cloud. Its
/// [`deploykit_report::Diagnostic`] says the class and what to do next; no variant names a CLI
/// command (the caller adds its own).
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("could not start {what} ({program}): {source}")]
    Spawn {
        what: String,
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} failed ({status}); last lines of {}:\n{tail}", log.display())]
    CommandFailed {
        what: String,
        status: String,
        log: PathBuf,
        tail: String,
    },
    #[error("{what} did not finish within {secs}s; last lines of {}:\n{tail}", log.display())]
    CommandTimeout {
        what: String,
        secs: u64,
        log: PathBuf,
        tail: String,
    },
    #[error("{part} exited right after starting; last lines of {}:\n{tail}", log.display())]
    Exited {
        part: String,
        log: PathBuf,
        tail: String,
    },
    #[error("{part} (pid {pid}) was not healthy within {secs}s: {why}; last lines of {}:\n{tail}", log.display())]
    NotHealthy {
        part: String,
        pid: u32,
        secs: u64,
        why: String,
        log: PathBuf,
        tail: String,
    },
    #[error("{name} (pid {pid}) is still running after SIGKILL")]
    StillRunning { name: String, pid: u32 },
    #[error(
        "port {port} (the local cloud edge) is in use by another program, not by an edge this state directory started"
    )]
    EdgePortInUse { port: u16 },
    #[error("another local cloud command held {} for {secs}s", path.display())]
    Locked { path: PathBuf, secs: u64 },
    /// A program we need is not installed (and we could not install it).
    #[error("{what}")]
    Missing { what: String, install: String },
    #[error("{what}, and that needs root")]
    NeedsRoot { what: String, alternative: String },
    #[error(
        "we run as root and PostgreSQL refuses to; there is no `postgres` account to run it as"
    )]
    NoPostgresAccount,
    #[error("the local cloud is not running: {} does not exist", path.display())]
    NotRunning { path: PathBuf },
    #[error("{} is not a local cloud state file this version understands: {reason}", path.display())]
    BadState { path: PathBuf, reason: String },
    #[error("serialising the local cloud state: {0}")]
    StateJson(#[source] serde_json::Error),
    #[error("{what}: {source}")]
    Admin {
        what: String,
        #[source]
        source: deploykit_localcloud::LocalCloudError,
    },
    #[error("Docker Engine at {endpoint}: {what}: {reason}")]
    Docker {
        endpoint: String,
        what: String,
        reason: String,
    },
    #[error("{what}: {source}")]
    Workloads {
        what: String,
        #[source]
        source: deploykit_localcloud::workload::WorkloadError,
    },
    #[error("the edge settings in ${var} are invalid: {reason}")]
    EdgeSpec { var: &'static str, reason: String },
    #[error("the edge stopped with an error: {source}")]
    Edge {
        #[source]
        source: deploykit_localcloud::LocalCloudError,
    },
    #[error("{what}")]
    Failed { what: String, help: Option<String> },
    /// A time scale outside the edge's range (`up`, or a change of the running edge's).
    #[error(transparent)]
    TimeScale(#[from] deploykit_localcloud::TimeScaleError),
}

impl LocalError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        LocalError::Io {
            what: what.into(),
            source,
        }
    }

    /// The same failure with other advice (the message keeps the original's text).
    pub(crate) fn with_help(self, help: impl Into<String>) -> Self {
        LocalError::Failed {
            what: self.to_string(),
            help: Some(help.into()),
        }
    }

    /// Whether a bounded wait ran out: [`deploykit_report::Category::Timeout`].
    pub fn is_timeout(&self) -> bool {
        deploykit_report::Diagnostic::category(self) == deploykit_report::Category::Timeout
    }

    /// What to do next, when we know: [`deploykit_report::Diagnostic::help`] returns it.
    pub(crate) fn advice(&self) -> Option<String> {
        Some(match self {
            LocalError::Io { .. } => return None,
            LocalError::Spawn { .. } => "check that the program exists and is executable".into(),
            LocalError::CommandFailed { log, .. } | LocalError::CommandTimeout { log, .. } => {
                format!("read {} for the whole log", log.display())
            }
            LocalError::Exited { log, .. } => {
                format!("read {} for the whole log", log.display())
            }
            LocalError::NotHealthy { log, .. } => format!(
                "stop the local cloud and start it again; {} says why it is stuck",
                log.display()
            ),
            LocalError::StillRunning { pid, .. } => {
                format!("check it with `ps -o pid,stat,cmd -p {pid}`")
            }
            LocalError::EdgePortInUse { port } => format!(
                "stop that program (`ss -ltnp 'sport = :{port}'` shows it), or start the edge on another port (and point deploy.toml's local target at it)"
            ),
            LocalError::Locked { path, .. } => format!(
                "wait for it to finish, or find the process holding the lock with `fuser {}`",
                path.display()
            ),
            LocalError::Missing { install, .. } => install.clone(),
            LocalError::NeedsRoot { alternative, .. } => alternative.clone(),
            LocalError::NoPostgresAccount => "create one: `useradd --system --user-group --home-dir /var/lib/postgresql postgres`".into(),
            LocalError::NotRunning { .. } => "start the local cloud first".into(),
            LocalError::BadState { .. } => {
                "stop the local cloud and start it again with this version".into()
            }
            LocalError::StateJson(_) => return None,
            LocalError::Admin { .. } | LocalError::Edge { .. } => {
                "check the local cloud's status; the edge's log is in logs/edge.log under the state directory".into()
            }
            LocalError::Docker { .. } | LocalError::Workloads { .. } => {
                "check `docker info`; DOCKER_HOST selects another engine".into()
            }
            LocalError::EdgeSpec { .. } => {
                "the edge process is started by `deploykit_local::up`, which sets this variable".into()
            }
            LocalError::Failed { help, .. } => return help.clone(),
            LocalError::TimeScale(e) => format!(
                "pass a time scale from {} to {} instead of {}: 1 is real time, 60 (the default) makes a five-minute launch take five seconds, 300 one second",
                deploykit_localcloud::TIME_SCALE_MIN,
                deploykit_localcloud::TIME_SCALE_MAX,
                e.value
            ),
        })
    }
}
