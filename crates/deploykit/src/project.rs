//! A project (its deploy.toml and directory) and a session on one of its targets: the one
//! place config becomes an AWS connection.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use deploykit_aws::{CallerIdentity, TargetAws};
use deploykit_config::{Config, ResolvedTarget};
use deploykit_local::{EdgeLauncher, LocalState, Paths, UpOptions};
use deploykit_report::{Event, Reporter};

use crate::Result;

/// How a session reaches the local cloud of a `local` target.
#[derive(Debug, Clone)]
pub enum LocalCloud {
    /// Start what is not running: the edge runs as this program (see [`EdgeLauncher`]).
    Start(UpOptions),
    /// Use the running local cloud; refuse when it is not up.
    RequireRunning,
}

/// A project: deploy.toml, loaded and validated, and the directory it lives in.
#[derive(Debug)]
pub struct Project {
    config: Config,
    root: PathBuf,
    /// The directory whose `target/localcloud/` holds the local cloud this project uses.
    local_home: PathBuf,
    local: LocalCloud,
}

impl Project {
    /// Loads and validates `deploy.toml`. Its directory is the project root: the app path is
    /// relative to it, and the local cloud's state, venvs and caches live under its `target/`.
    pub fn load(config_path: &Path) -> Result<Project> {
        let config = deploykit_config::load(config_path)?;
        let root = std::fs::canonicalize(config_path)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from("."));
        Ok(Project {
            config,
            local_home: root.clone(),
            root,
            local: LocalCloud::RequireRunning,
        })
    }

    /// How sessions on a `local` target reach the local cloud (default: it must be running).
    pub fn with_local_cloud(mut self, local: LocalCloud) -> Self {
        self.local = local;
        self
    }

    /// Uses the local cloud of another directory (its `target/localcloud/`) instead of this
    /// project's own: one local cloud shared by several projects on a machine.
    pub fn with_local_home(mut self, dir: impl Into<PathBuf>) -> Self {
        self.local_home = dir.into();
        self
    }

    /// Starts the local cloud with the edge served by `launcher` (a program that runs
    /// `deploykit_localcloud`'s edge when called with its arguments plus `--port PORT`).
    pub fn start_local_cloud_with(self, launcher: EdgeLauncher) -> Self {
        self.with_local_cloud(LocalCloud::Start(UpOptions::new(launcher)))
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The local cloud's files (`target/localcloud/` of the project, or of its local home).
    pub fn local_paths(&self) -> Paths {
        Paths::for_project(&self.local_home)
    }

    /// Warnings deploy.toml produced while loading (deprecated keys and the like).
    pub fn warnings(&self) -> impl Iterator<Item = String> + '_ {
        self.config.warnings.iter().map(ToString::to_string)
    }

    /// A target of deploy.toml (`None`: its `default_target`), resolved.
    pub fn target(&self, name: Option<&str>) -> Result<ResolvedTarget> {
        Ok(self.config.target(name)?)
    }

    /// Connects to a target: the local cloud (started as configured) for `local`, the normal
    /// credential chain otherwise. Reports the config's warnings. Makes no AWS call.
    pub async fn connect(&self, name: Option<&str>, r: &dyn Reporter) -> Result<Session> {
        for w in self.warnings() {
            r.report(Event::warn(w));
        }
        let target = self.target(name)?;
        let local = if target.local {
            Some(self.ensure_local(r)?)
        } else {
            None
        };
        Session::new(self.root.clone(), target, local).await
    }

    fn ensure_local(&self, r: &dyn Reporter) -> Result<LocalState> {
        let paths = self.local_paths();
        Ok(match &self.local {
            LocalCloud::Start(opts) => deploykit_local::ensure_up(&paths, opts, r)?,
            LocalCloud::RequireRunning => deploykit_local::load_state(&paths.state)?,
        })
    }
}

/// deploy.toml's target as deploykit-aws's plain input.
pub fn aws_target(t: &ResolvedTarget) -> TargetAws {
    TargetAws {
        profile: if t.local { None } else { t.profile.clone() },
        endpoint_url: t.endpoint_url.clone(),
        local: t.local,
        ..TargetAws::new(t.region.clone())
    }
}

/// A connection to one target: its resolved config, the SDK configuration and, on the local
/// target, the local cloud's state.
#[derive(Debug, Clone)]
pub struct Session {
    /// The project's directory (deploy.toml's): build output goes under its `target/`.
    pub root: PathBuf,
    pub target: ResolvedTarget,
    pub sdk: aws_types::SdkConfig,
    /// Where HTTP health checks connect for the app's host (the local edge, or `http_resolve`).
    pub resolve: Option<SocketAddr>,
    pub local: Option<LocalState>,
    /// [`Session::caller`]'s answer, asked once per session (its clones share it).
    caller: std::sync::Arc<tokio::sync::OnceCell<CallerIdentity>>,
}

impl Session {
    /// A session on `target` of the project in `root`; `local` is the running local cloud for
    /// a local target.
    pub async fn new(
        root: PathBuf,
        target: ResolvedTarget,
        local: Option<LocalState>,
    ) -> Result<Session> {
        let (aws, resolve) = match &local {
            Some(s) => {
                let edge: Option<SocketAddr> = s
                    .edge_url
                    .trim_start_matches("http://")
                    .trim_end_matches('/')
                    .parse()
                    .ok();
                (
                    TargetAws::local(target.region.clone(), s.edge_url.clone()),
                    edge.or(target.http_resolve),
                )
            }
            None => (aws_target(&target), target.http_resolve),
        };
        let sdk = deploykit_aws::sdk_config(&aws).await?;
        Ok(Session {
            root,
            target,
            sdk,
            resolve,
            local,
            caller: Default::default(),
        })
    }

    /// Who the credentials are (one STS `GetCallerIdentity` per session, however many steps
    /// ask); refuses when the target's `account_id` is set and differs, before anything is
    /// changed.
    pub async fn caller(&self) -> Result<CallerIdentity> {
        self.caller
            .get_or_try_init(|| crate::preflight::caller(&self.target, &self.sdk))
            .await
            .cloned()
    }
}
