//! The local cloud: moto, the localcloud edge, a registry and PostgreSQL on loopback, started
//! as detached processes with their state under a project's `target/localcloud/`, so any
//! project's tests (and deploykit's own `local` commands) can start, probe and stop it.
//!
//! ```no_run
//! use deploykit_local::{EdgeLauncher, Paths, UpOptions};
//! let paths = Paths::for_project("/path/to/project");
//! // The edge runs as `<launcher> --port PORT`, a process that calls `deploykit_local::run_edge`.
//! let launcher = EdgeLauncher::current_exe(&["local", "serve-edge"])?;
//! let opts = UpOptions::new(launcher);
//! let (state, _parts) = deploykit_local::up(&paths, &opts, &deploykit_report::NullReporter)?;
//! println!("AWS_ENDPOINT_URL={}", state.edge_url);
//! # Ok::<(), deploykit_local::LocalError>(())
//! ```
//!
//! Layout of the state directory (`<project>/target/localcloud/` by default):
//! - `state.json` (mode 0600): every port, URL and pid; the registry password and the edge's
//!   admin token (the secrets).
//! - `pids/<part>.pid`: pid, start time and command-line marker of each process we started.
//! - `logs/<part>.log`: each process's stdout and stderr; `logs/edge-refused.log`: requests the
//!   edge refused (foreign Host, browser Origin, missing or wrong admin token).
//! - `pg/` (the PostgreSQL cluster), `registry/` (config, htpasswd, blobs), `workloads/`.
//!
//! The crate shells out (pg_ctl, docker-registry, moto, debootstrap): starting those processes
//! is its job. It never prints; progress goes to a [`Reporter`].

pub mod base_image;
mod diagnostic;
mod docker;
mod edge;
mod error;
pub mod health;
mod parts;
mod pg;
pub mod procs;
pub mod workloads;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use deploykit_report::{Event, Reporter, StepTimer};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use procs::{Liveness, ProcRecord};

pub use edge::{
    ADMIN_TOKEN_ENV, EDGE_SPEC_ENV, EdgeLauncher, EdgeSpec, REGISTRY_PASSWORD_ENV, WorkloadsSpec,
    admin_client, edge_config_from_env, run_edge, set_time_scale,
};
pub use error::LocalError;
pub use parts::{
    ACCOUNT_ID, MOTO_ACM_VALIDATION_WAIT_SECS, MOTO_VERSION, Part, REGION, endpoint, read_pid_file,
};

/// Default edge port: deploy.toml's `local` target points here.
pub const DEFAULT_EDGE_PORT: u16 = 4566;
/// Default time scale for `local up`: a five-minute launch takes five seconds.
pub const DEFAULT_TIME_SCALE: f64 = 60.0;
/// Version of the state file layout; bumped when fields change meaning.
pub const STATE_SCHEMA: u32 = 1;

/// Where everything lives.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The project the local cloud belongs to (its `target/` holds the state by default).
    pub project: PathBuf,
    pub root: PathBuf,
    pub state: PathBuf,
    pub logs: PathBuf,
    pub pids: PathBuf,
    pub pg: PathBuf,
    pub registry: PathBuf,
    pub venvs: PathBuf,
}

impl Paths {
    /// State under `<project>/target/localcloud/`, venvs under `<project>/target/venvs/`.
    pub fn for_project(project: impl Into<PathBuf>) -> Self {
        let project = project.into();
        let target = project.join("target");
        Self::at(target.join("localcloud"), target.join("venvs"), project)
    }

    /// State in `root` (e.g. a test's private directory), venvs in `venvs`.
    pub fn at(
        root: impl Into<PathBuf>,
        venvs: impl Into<PathBuf>,
        project: impl Into<PathBuf>,
    ) -> Self {
        let root = root.into();
        Self {
            state: root.join("state.json"),
            logs: root.join("logs"),
            pids: root.join("pids"),
            pg: root.join("pg"),
            registry: root.join("registry"),
            venvs: venvs.into(),
            root,
            project: project.into(),
        }
    }

    pub fn pid_file(&self, part: Part) -> PathBuf {
        self.pids.join(format!("{}.pid", part.name()))
    }

    pub fn log_file(&self, name: &str) -> PathBuf {
        self.logs.join(format!("{name}.log"))
    }
}

/// The registry's address and credentials. The password never prints: `Debug` is redacted and
/// `Serialize` skips it (state.json stores it separately, mode 0600).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegistryState {
    /// `127.0.0.1:PORT`, what `docker push` and image names use.
    pub endpoint: String,
    pub port: u16,
    pub username: String,
    #[serde(skip)]
    pub password: SecretString,
}

/// The private PostgreSQL cluster.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PgState {
    pub host: String,
    pub port: u16,
    pub superuser: String,
    /// `postgresql://postgres@127.0.0.1:PORT/postgres` (trust auth on loopback, no password).
    pub database_url: String,
    pub data_dir: PathBuf,
    pub socket_dir: PathBuf,
    pub bin_dir: PathBuf,
    /// The cluster's TLS files (RDS-like `ssl=on`); `None` in the state of a local cloud
    /// started before TLS (its PostgreSQL accepts plain connections until it is restarted).
    #[serde(default)]
    pub tls: Option<PgTls>,
}

/// The local CA and PostgreSQL's certificate and key (`<state dir>/tls/`). The local
/// target's database connections and URLs trust `ca_file` (`sslmode=verify-full`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PgTls {
    pub ca_file: PathBuf,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// Everything other commands and tests need to reach the local cloud: the contents of
/// `state.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LocalState {
    pub schema: u32,
    pub state_file: PathBuf,
    pub region: String,
    pub account_id: String,
    pub time_scale: f64,
    /// The one AWS endpoint (`AWS_ENDPOINT_URL`): the localcloud edge.
    pub edge_url: String,
    pub edge_port: u16,
    pub moto_url: String,
    pub moto_port: u16,
    pub registry: RegistryState,
    pub pg: PgState,
    /// The processes we started, by part name.
    pub processes: BTreeMap<String, ProcRecord>,
    /// How the running edge runs workloads: `None` when they are simulated.
    #[serde(default)]
    pub workloads: Option<WorkloadsSpec>,
    /// What the edge's admin path asks for (made at each edge start). Like the registry
    /// password, `Serialize` skips it and state.json (mode 0600) stores it apart. Empty for an
    /// edge started by a version without tokens.
    #[serde(skip)]
    pub admin_token: SecretString,
}

/// On-disk form: the state plus the secrets.
#[derive(Serialize, Deserialize)]
struct StateFile {
    #[serde(flatten)]
    state: LocalState,
    registry_password: String,
    #[serde(default)]
    admin_token: String,
}

impl LocalState {
    /// Writes state.json atomically with mode 0600.
    pub fn save(&self, paths: &Paths) -> Result<(), LocalError> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = StateFileRef {
            state: self,
            registry_password: self.registry.password.expose_secret(),
            admin_token: self.admin_token.expose_secret(),
        };
        let json = serde_json::to_vec_pretty(&file).map_err(LocalError::StateJson)?;
        let tmp = paths.state.with_extension("json.tmp");
        let _ = fs::remove_file(&tmp);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| LocalError::io(format!("writing {}", tmp.display()), e))?;
        f.write_all(&json)
            .and_then(|_| f.sync_all())
            .map_err(|e| LocalError::io(format!("writing {}", tmp.display()), e))?;
        fs::rename(&tmp, &paths.state)
            .map_err(|e| LocalError::io(format!("writing {}", paths.state.display()), e))
    }

    /// The shell lines of `local env`.
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.edge_url.clone()),
            ("AWS_REGION", self.region.clone()),
            ("AWS_DEFAULT_REGION", self.region.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("DATABASE_URL", self.pg.database_url.clone()),
            ("DEPLOYKIT_REGISTRY", self.registry.endpoint.clone()),
            (
                "DEPLOYKIT_LOCAL_STATE",
                self.state_file.display().to_string(),
            ),
        ]
    }

    /// A database URL for `db` on the local cluster.
    pub fn database_url_for(&self, db: &str) -> String {
        format!(
            "postgresql://{}@{}:{}/{db}",
            self.pg.superuser, self.pg.host, self.pg.port
        )
    }
}

#[derive(Serialize)]
struct StateFileRef<'a> {
    #[serde(flatten)]
    state: &'a LocalState,
    registry_password: &'a str,
    admin_token: &'a str,
}

/// The recorded state, if the local cloud was started (whether or not every part is healthy
/// now).
pub fn read_state(paths: &Paths) -> Option<LocalState> {
    load_state(&paths.state).ok()
}

/// Reads a state file, saying why when it cannot.
pub fn load_state(path: &Path) -> Result<LocalState, LocalError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(LocalError::NotRunning {
                path: path.to_path_buf(),
            });
        }
        Err(e) => return Err(LocalError::io(format!("reading {}", path.display()), e)),
    };
    let file: StateFile = serde_json::from_str(&text).map_err(|e| LocalError::BadState {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    if file.state.schema != STATE_SCHEMA {
        return Err(LocalError::BadState {
            path: path.to_path_buf(),
            reason: format!(
                "schema {}, this version reads schema {STATE_SCHEMA}",
                file.state.schema
            ),
        });
    }
    let mut state = file.state;
    state.registry.password = SecretString::from(file.registry_password);
    state.admin_token = SecretString::from(file.admin_token);
    Ok(state)
}

/// Options for `up`.
#[derive(Debug, Clone)]
pub struct UpOptions {
    pub edge_port: u16,
    /// Within [`deploykit_localcloud::TIME_SCALE_MIN`]..=[`deploykit_localcloud::TIME_SCALE_MAX`];
    /// `up` refuses anything else before it starts a process.
    pub time_scale: f64,
    /// How to start the edge process.
    pub edge_launcher: EdgeLauncher,
    /// Run EB environments and App Runner services as containers when the Docker Engine and
    /// the platform image allow it (else they are simulated, and `up` says why).
    pub real_workloads: bool,
    /// Make the platform image when it is missing (debootstrap; needs root; minutes).
    pub make_base_image: bool,
}

impl UpOptions {
    /// Port [`DEFAULT_EDGE_PORT`], time scale [`DEFAULT_TIME_SCALE`], real workloads, the
    /// platform image made when missing.
    pub fn new(edge_launcher: EdgeLauncher) -> Self {
        Self {
            edge_port: DEFAULT_EDGE_PORT,
            time_scale: DEFAULT_TIME_SCALE,
            edge_launcher,
            real_workloads: true,
            make_base_image: true,
        }
    }
}

/// What `up` did to one part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    AlreadyRunning,
    Started,
    /// It was recorded but dead or unhealthy (stale pid file): started again.
    Restarted,
}

/// Starts whatever part of the local cloud is not running and healthy; returns the endpoints.
/// Silent, and leaves the running time scale alone, when every part is already up and healthy
/// (the Docker Engine is not ours to start).
pub fn ensure_up(
    paths: &Paths,
    opts: &UpOptions,
    r: &dyn Reporter,
) -> Result<LocalState, LocalError> {
    if let Some((state, parts)) = status(paths)
        && parts
            .iter()
            .filter(|p| p.part != "docker")
            .all(|p| p.healthy)
    {
        return Ok(state);
    }
    up(paths, opts, r).map(|(s, _)| s)
}

/// Starts what is not running and healthy; returns the state and what happened to each part.
pub fn up(
    paths: &Paths,
    opts: &UpOptions,
    r: &dyn Reporter,
) -> Result<(LocalState, Vec<(Part, Outcome)>), LocalError> {
    up_parts(paths, opts, &Part::ALL, r)
}

/// [`up`] for some parts only (in their order), e.g. a test's private PostgreSQL alone
/// (`&[Part::Postgres]`, stopped again with [`down`]).
pub fn up_parts(
    paths: &Paths,
    opts: &UpOptions,
    only: &[Part],
    r: &dyn Reporter,
) -> Result<(LocalState, Vec<(Part, Outcome)>), LocalError> {
    deploykit_localcloud::check_time_scale(opts.time_scale).map_err(LocalError::from)?;
    for dir in [&paths.root, &paths.logs, &paths.pids, &paths.venvs] {
        fs::create_dir_all(dir)
            .map_err(|e| LocalError::io(format!("creating {}", dir.display()), e))?;
    }
    let _lock = lock(paths, r)?;
    let timer = StepTimer::start(
        r,
        "local-up",
        "Starting the local cloud (moto, edge, registry, PostgreSQL)",
    );
    let previous = read_state(paths);
    let mut state = match previous {
        Some(s) => s,
        None => parts::fresh_state(paths, opts)?,
    };
    let mut outcomes = Vec::new();
    for part in Part::ALL.into_iter().filter(|p| only.contains(p)) {
        // A registry with a new password means the edge must hand out the new one.
        let force = part == Part::Edge
            && outcomes
                .iter()
                .any(|(p, o)| *p == Part::Registry && *o != Outcome::AlreadyRunning);
        let outcome = parts::ensure(part, paths, &mut state, opts, force, r)?;
        state.save(paths)?;
        outcomes.push((part, outcome));
    }
    if only.contains(&Part::Edge) && (state.time_scale - opts.time_scale).abs() > f64::EPSILON {
        set_time_scale(&state, opts.time_scale)?;
        state.time_scale = opts.time_scale;
        state.save(paths)?;
    }
    match health::docker_ping() {
        Ok(ep) => r.report(Event::info(format!("Docker Engine answers at {ep}"))),
        Err(e) => r.report(Event::warn(format!(
            "Docker Engine not reachable ({e}); App Runner image builds and real workloads need it"
        ))),
    }
    let edge_already = outcomes
        .iter()
        .any(|(p, o)| *p == Part::Edge && *o == Outcome::AlreadyRunning);
    if edge_already && state.workloads.is_none() {
        r.report(Event::warn(
            "workloads are simulated: the running edge was started without real workloads; stop the edge and start the local cloud again to run them as containers",
        ));
    }
    let started = outcomes
        .iter()
        .filter(|(_, o)| *o != Outcome::AlreadyRunning)
        .count();
    timer.finish(
        r,
        if started == 0 {
            "already running; nothing to do".to_string()
        } else {
            format!("{started} part(s) started, edge at {}", state.edge_url)
        },
    );
    Ok((state, outcomes))
}

/// What `down` did to one part.
#[derive(Debug, Clone, Serialize)]
pub struct DownReport {
    pub part: String,
    pub pid: Option<u32>,
    pub result: String,
}

/// Stops the given parts (all when `only` is None) by their pid records, then removes
/// state.json and the pid files when nothing recorded is left. `purge` also deletes the
/// PostgreSQL cluster and the registry's images.
pub fn down(
    paths: &Paths,
    only: Option<&[Part]>,
    purge: bool,
    r: &dyn Reporter,
) -> Result<Vec<DownReport>, LocalError> {
    if !paths.root.exists() {
        return Ok(Vec::new());
    }
    let _lock = lock(paths, r)?;
    let timer = StepTimer::start(r, "local-down", "Stopping the local cloud");
    let state = read_state(paths);
    let mut reports = Vec::new();
    let mut first_err = None;
    // Reverse start order: edge first (it talks to the others), PostgreSQL last.
    for part in Part::ALL.iter().rev().copied() {
        if only.is_some_and(|o| !o.contains(&part)) {
            continue;
        }
        let rec = parts::read_pid_file(paths, part).or_else(|| {
            state
                .as_ref()
                .and_then(|s| s.processes.get(part.name()).cloned())
        });
        let Some(rec) = rec else { continue };
        let result = match parts::stop(paths, part, &rec, state.as_ref(), r) {
            Ok(procs::Stopped::Terminated) => "stopped".to_string(),
            Ok(procs::Stopped::Killed) => "killed (ignored SIGTERM)".to_string(),
            Ok(procs::Stopped::AlreadyGone) => "was not running".to_string(),
            Ok(procs::Stopped::NotOurs(why)) => {
                r.report(Event::warn(format!("left {} alone: {why}", part.name())));
                format!("left alone: {why}")
            }
            Err(e) => {
                let text = e.to_string();
                first_err.get_or_insert(e);
                format!("failed: {text}")
            }
        };
        let _ = fs::remove_file(paths.pid_file(part));
        reports.push(DownReport {
            part: part.name().to_string(),
            pid: Some(rec.pid),
            result,
        });
    }
    // With the edge gone nothing starts containers any more: remove ours (by instance label).
    if only.is_none_or(|o| o.contains(&Part::Edge)) && health::docker_ping().is_ok() {
        let result = match workloads::remove_all(paths, state.as_ref()) {
            Ok(0) => None,
            Ok(n) => Some(format!("removed {n} container(s)")),
            Err(e) => {
                let text = e.to_string();
                first_err.get_or_insert(e);
                Some(format!("failed: {text}"))
            }
        };
        if let Some(result) = result {
            reports.push(DownReport {
                part: "workloads".into(),
                pid: None,
                result,
            });
        }
    }
    let remaining = Part::ALL.iter().any(|p| paths.pid_file(*p).exists());
    if !remaining {
        let _ = fs::remove_file(&paths.state);
        if purge {
            for dir in [&paths.pg, &paths.registry] {
                if dir.exists() {
                    fs::remove_dir_all(dir)
                        .map_err(|e| LocalError::io(format!("removing {}", dir.display()), e))?;
                }
            }
        }
    } else if let Some(mut s) = state {
        // Keep the state of the parts still running.
        s.processes
            .retain(|name, _| Part::from_name(name).is_some_and(|p| paths.pid_file(p).exists()));
        s.save(paths)?;
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    timer.finish(r, format!("{} process(es) handled", reports.len()));
    Ok(reports)
}

/// Health of one part, for `status`.
#[derive(Debug, Clone, Serialize)]
pub struct PartStatus {
    pub part: String,
    pub pid: Option<u32>,
    pub endpoint: String,
    pub healthy: bool,
    pub detail: String,
}

/// Every part with its pid, endpoint and health (the Docker Engine last). None when never
/// started.
pub fn status(paths: &Paths) -> Option<(LocalState, Vec<PartStatus>)> {
    let state = read_state(paths)?;
    let mut out = Vec::new();
    for part in Part::ALL {
        let rec =
            parts::read_pid_file(paths, part).or_else(|| state.processes.get(part.name()).cloned());
        let alive = rec.as_ref().map(|r| r.liveness());
        let (healthy, detail) = match alive {
            None => (false, "not started".to_string()),
            Some(Liveness::Gone) => (false, "process gone (stale pid file)".to_string()),
            Some(Liveness::NotOurs(why)) => (false, format!("stale pid file: {why}")),
            Some(Liveness::Ours) => match parts::health(part, &state) {
                Ok(d) => (true, d),
                Err(e) => (false, e),
            },
        };
        out.push(PartStatus {
            part: part.name().to_string(),
            pid: rec.map(|r| r.pid),
            endpoint: parts::endpoint(part, &state),
            healthy,
            detail,
        });
    }
    let docker = health::docker_ping();
    out.push(PartStatus {
        part: "docker".into(),
        pid: None,
        endpoint: health::docker_endpoint(),
        healthy: docker.is_ok(),
        detail: match docker {
            Ok(_) => "engine answers /_ping".into(),
            Err(e) => format!("absent ({e}); image builds and real workloads need it"),
        },
    });
    Some((state, out))
}

/// Serialises `up`/`down` across processes (several engineers, or a test and a deploy).
fn lock(paths: &Paths, r: &dyn Reporter) -> Result<fs::File, LocalError> {
    let path = paths.root.join("lock");
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| LocalError::io(format!("opening {}", path.display()), e))?;
    let bound = Duration::from_secs(900);
    let start = Instant::now();
    let mut last = Instant::now();
    loop {
        match f.try_lock() {
            Ok(()) => return Ok(f),
            Err(fs::TryLockError::WouldBlock) => {}
            Err(fs::TryLockError::Error(e)) => {
                return Err(LocalError::io(format!("locking {}", path.display()), e));
            }
        }
        if start.elapsed() > bound {
            return Err(LocalError::Locked {
                path,
                secs: bound.as_secs(),
            });
        }
        if last.elapsed() >= Duration::from_secs(5) || start.elapsed() < Duration::from_millis(60) {
            last = Instant::now();
            r.report(Event::Waiting {
                step: "local-lock".into(),
                for_what: format!("another local cloud command to release {}", path.display()),
                waited: start.elapsed(),
                timeout: bound,
            });
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs `fut` to completion from synchronous code, also when called inside a Tokio runtime
/// (then on a scoped thread with its own runtime, since a runtime cannot block in itself).
pub(crate) fn block_on<F: std::future::Future + Send>(fut: F) -> F::Output
where
    F::Output: Send,
{
    fn run<F: std::future::Future>(fut: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("building a current-thread Tokio runtime")
            .block_on(fut)
    }
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| {
            s.spawn(|| run(fut))
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    } else {
        run(fut)
    }
}

/// Quotes a value for POSIX shells.
pub fn shell_quote(v: &str) -> String {
    if !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@=,+%".contains(c))
    {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_file_round_trips_the_password_but_serialize_and_debug_hide_it() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::at(dir.path(), dir.path().join("venvs"), dir.path());
        let state = LocalState {
            schema: STATE_SCHEMA,
            state_file: paths.state.clone(),
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            time_scale: 60.0,
            edge_url: "http://127.0.0.1:4566".into(),
            edge_port: 4566,
            moto_url: "http://127.0.0.1:4567".into(),
            moto_port: 4567,
            registry: RegistryState {
                endpoint: "127.0.0.1:4568".into(),
                port: 4568,
                username: "AWS".into(),
                password: SecretString::from("s3cr3t-value".to_string()),
            },
            pg: PgState {
                host: "127.0.0.1".into(),
                port: 4569,
                superuser: "postgres".into(),
                database_url: "postgresql://postgres@127.0.0.1:4569/postgres".into(),
                data_dir: "/x".into(),
                socket_dir: "/y".into(),
                bin_dir: "/z".into(),
                tls: None,
            },
            processes: BTreeMap::new(),
            workloads: None,
            admin_token: SecretString::from("t0ken-value-0123456789abcdef0123456789".to_string()),
        };
        for secret in ["s3cr3t-value", "t0ken-value"] {
            assert!(!serde_json::to_string(&state).unwrap().contains(secret));
            assert!(!format!("{state:?}").contains(secret));
        }
        state.save(&paths).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&paths.state).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let back = load_state(&paths.state).unwrap();
        assert_eq!(back.registry.password.expose_secret(), "s3cr3t-value");
        assert_eq!(
            back.admin_token.expose_secret(),
            "t0ken-value-0123456789abcdef0123456789"
        );
        // A state file written before tokens existed still loads (empty token).
        let text = fs::read_to_string(&paths.state).unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v.as_object_mut().unwrap().remove("admin_token");
        let old = dir.path().join("old.json");
        fs::write(&old, v.to_string()).unwrap();
        assert_eq!(load_state(&old).unwrap().admin_token.expose_secret(), "");
        assert_eq!(back.pg.port, 4569);
    }

    #[test]
    fn shell_quote_quotes_only_when_needed() {
        assert_eq!(
            shell_quote("http://127.0.0.1:4566"),
            "http://127.0.0.1:4566"
        );
        assert_eq!(shell_quote("a b'c"), r"'a b'\''c'");
    }
}
