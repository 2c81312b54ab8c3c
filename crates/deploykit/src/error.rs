//! The library's error: each service crate's error, plus what the pipelines add.

use deploykit_report::{Category, Diagnostic};

/// What can fail in a pipeline. Service errors keep their own type (and their own
/// [`Diagnostic`]); the variants here add what only the pipeline knows.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] deploykit_config::ConfigError),
    #[error(transparent)]
    Aws(#[from] deploykit_aws::AwsError),
    #[error(transparent)]
    Bundle(#[from] deploykit_bundle::BundleError),
    #[error(transparent)]
    Eb(Box<deploykit_eb::EbError>),
    #[error(transparent)]
    Rds(Box<deploykit_rds::RdsError>),
    #[error(transparent)]
    Secrets(#[from] deploykit_secrets::SecretsError),
    #[error(transparent)]
    Iam(#[from] deploykit_iam::IamError),
    #[error(transparent)]
    Local(Box<deploykit_local::LocalError>),
    #[error(transparent)]
    Image(#[from] deploykit_image::ImageError),
    #[error(transparent)]
    Ecr(#[from] deploykit_ecr::EcrError),
    #[error(transparent)]
    Platform(Box<deploykit_apprunner::AppRunnerError>),
    #[error(transparent)]
    Cost(#[from] deploykit_cost::CostError),
    #[error(transparent)]
    S3(#[from] deploykit_s3::S3Error),
    #[error(transparent)]
    Logs(#[from] deploykit_logs::LogsError),
    #[error(transparent)]
    Init(#[from] deploykit_init::InitError),
    #[error(transparent)]
    Dns(#[from] deploykit_dns::DnsError),
    #[error(transparent)]
    Acm(#[from] deploykit_acm::AcmError),
    /// An HTTPS command on a target without `[https] domain`.
    #[error(
        "target `{target}` has no [https] domain in deploy.toml (field `https.domain`), so there is nothing to certify; nothing was changed"
    )]
    NoHttpsSection { target: String },
    /// A domain given to a DNS or HTTPS command that is not one.
    #[error("{why}; nothing was changed")]
    BadDomain { domain: String, why: String },
    #[error(transparent)]
    Alarms(#[from] deploykit_alarms::AlarmsError),
    /// An alarms command on a target without `[alarms]`.
    #[error("target `{target}` has no [alarms] section in deploy.toml; nothing was changed")]
    NoAlarmsSection { target: String },
    /// A command for the app's bucket on a target without `[s3]`.
    #[error("target `{target}` has no [s3] section in deploy.toml; nothing was changed")]
    NoS3Section { target: String },
    /// The credentials belong to another account than the target's `account_id`.
    #[error("{source}; nothing was changed")]
    WrongAccount {
        target: String,
        profile: Option<String>,
        source: Box<deploykit_aws::AwsError>,
    },
    /// IAM roles or instance profiles the deploy needs do not exist.
    #[error("{} does not exist in this account; nothing was changed", missing.join(", "))]
    MissingIam {
        target: String,
        missing: Vec<String>,
    },
    /// The snapshot taken before a deploy failed, so nothing was deployed.
    #[error(
        "the snapshot before the deploy (snapshot_before_deploy) failed, so nothing was deployed: {source}"
    )]
    PreDeploySnapshot {
        target: String,
        source: Box<deploykit_rds::RdsError>,
    },
    /// `git` could not give the app's tree (`from_git`).
    #[error("{what}: {message}")]
    Git { what: String, message: String },
    /// The app directory is not in a git repository but the deploy asked for git's tree.
    #[error("bundling from git needs a git repository, and {} is not in one", app.display())]
    NotAGitRepository { app: std::path::PathBuf },
    /// Another deploy holds the deploy lock of this environment/service.
    #[error(
        "{name} on target `{target}` is being deployed by {}; nothing was changed (lock file {})",
        holder.as_ref().map_or_else(|| "another process (it has not written its name yet)".to_string(), ToString::to_string),
        path.display()
    )]
    Locked {
        target: String,
        name: String,
        holder: Option<Box<crate::lock::Owner>>,
        /// Whether the holder still runs (`None`: another host, or cannot tell).
        alive: Option<bool>,
        path: std::path::PathBuf,
    },
    /// Another machine's deploy holds the remote lock (tags on the environment/service).
    #[error(
        "{name} on target {target} is being deployed from another machine: its remote deploy lock is held by {} ({}) until {}; nothing was changed",
        holder.owner, holder.what, holder.expires
    )]
    LockedRemote {
        target: String,
        name: String,
        holder: Box<crate::remote_lock::RemoteHolder>,
    },
    /// A local file operation failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

// The largest service errors are boxed, so every `Result<_, Error>` stays small.
impl From<deploykit_eb::EbError> for Error {
    fn from(e: deploykit_eb::EbError) -> Self {
        Error::Eb(Box::new(e))
    }
}

impl From<deploykit_rds::RdsError> for Error {
    fn from(e: deploykit_rds::RdsError) -> Self {
        Error::Rds(Box::new(e))
    }
}

impl From<deploykit_local::LocalError> for Error {
    fn from(e: deploykit_local::LocalError) -> Self {
        Error::Local(Box::new(e))
    }
}

impl From<deploykit_apprunner::AppRunnerError> for Error {
    fn from(e: deploykit_apprunner::AppRunnerError) -> Self {
        Error::Platform(Box::new(e))
    }
}

impl Error {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            what: what.into(),
            source,
        }
    }
}

impl Diagnostic for Error {
    fn category(&self) -> Category {
        match self {
            Error::Config(e) => e.category(),
            Error::Aws(e) => e.category(),
            Error::Bundle(e) => e.category(),
            Error::Eb(e) => e.category(),
            Error::Rds(e) => e.category(),
            Error::Secrets(e) => e.category(),
            Error::Iam(e) => e.category(),
            Error::Local(e) => e.category(),
            Error::Image(e) => e.category(),
            Error::Ecr(e) => e.category(),
            Error::Platform(e) => e.category(),
            Error::Cost(e) => e.category(),
            Error::S3(e) => e.category(),
            Error::Logs(e) => e.category(),
            Error::Init(e) => e.category(),
            Error::Dns(e) => e.category(),
            Error::Acm(e) => e.category(),
            Error::NoHttpsSection { .. } | Error::BadDomain { .. } => Category::Input,
            Error::Alarms(e) => e.category(),
            Error::NoAlarmsSection { .. } => Category::Input,
            Error::NoS3Section { .. } => Category::Input,
            Error::WrongAccount { .. } | Error::MissingIam { .. } => Category::Input,
            Error::NotAGitRepository { .. } => Category::Input,
            Error::PreDeploySnapshot { source, .. } => source.category(),
            // A precondition that failed with nothing changed, and not the config's fault.
            Error::Locked { .. } | Error::LockedRemote { .. } => Category::CheckFailed,
            Error::Git { .. } | Error::Io { .. } => Category::Internal,
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            Error::Config(e) => e.help(),
            Error::Aws(e) => e.help(),
            Error::Bundle(e) => e.help(),
            Error::Eb(e) => e.help(),
            Error::Rds(e) => e.help(),
            Error::Secrets(e) => e.help(),
            Error::Iam(e) => e.help(),
            Error::Local(e) => e.help(),
            Error::Image(e) => e.help(),
            Error::Ecr(e) => e.help(),
            Error::Platform(e) => e.help(),
            Error::Cost(e) => e.help(),
            Error::S3(e) => e.help(),
            Error::Logs(e) => e.help(),
            Error::Init(e) => e.help(),
            Error::Dns(e) => e.help(),
            Error::Acm(e) => e.help(),
            Error::NoHttpsSection { target } => Some(format!(
                "add to deploy.toml: `[https]` with `domain = \"app.example.com\"` (the name users type; `alternative_names = [\"www.app.example.com\"]` for more), or `[targets.{target}.https]` for this target only"
            )),
            Error::BadDomain { .. } => Some(
                "give the registered domain (or a name inside it), like `example.com` or `app.example.com`".into(),
            ),
            Error::Alarms(e) => e.help(),
            Error::NoAlarmsSection { .. } => Some(
                "add an [alarms] section with the `email` to notify (and optionally routes and thresholds) to deploy.toml".into(),
            ),
            Error::NoS3Section { .. } => Some(
                "add an [s3] section with the app's `bucket` (and its static_dir, uploads_prefix, ...) to deploy.toml".into(),
            ),
            Error::WrongAccount {
                target, profile, ..
            } => Some(format!(
                "check which credentials target `{target}` uses (profile {}, or AWS_PROFILE / AWS_ACCESS_KEY_ID in the environment)",
                profile.as_deref().unwrap_or("default")
            )),
            Error::MissingIam { target, .. } => Some(format!(
                "create the roles of target `{target}` first (the IAM roles each route needs, as deploy.toml names them)"
            )),
            Error::PreDeploySnapshot { target, source } => {
                let own = format!(
                    "check the database's status; to deploy without the snapshot set `snapshot_before_deploy = false` under [targets.{target}.database]"
                );
                Some(match source.help() {
                    Some(h) => format!("{h}; {own}"),
                    None => own,
                })
            }
            Error::NotAGitRepository { .. } => Some(
                "bundle the directory itself (its .ebignore/.gitignore select the files)".into(),
            ),
            Error::Locked { alive, holder, .. } => Some(match alive {
                Some(true) => format!(
                    "wait for that deploy to finish, then deploy again; if it hangs, stop process {} first",
                    holder.as_ref().map_or(0, |h| h.pid)
                ),
                Some(false) => "its holder no longer runs but something still holds the file open: deploy again with the force-unlock option to break the lock".into(),
                None => "wait for that deploy to finish; if it is gone, deploy again with the force-unlock option to break the lock".into(),
            }),
            Error::LockedRemote { holder, .. } => Some(format!(
                "wait for that deploy to finish (the lock expires at {} at the latest); if it is gone for good, run the deploy or rollback again with the force-unlock option to break the lock",
                holder.expires
            )),
            Error::Git { .. } | Error::Io { .. } => None,
        }
    }
}

/// The library's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
