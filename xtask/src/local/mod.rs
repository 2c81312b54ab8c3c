//! The local cloud: moto, the localcloud edge, a registry and PostgreSQL on loopback, started
//! as detached processes with their state under `target/localcloud/`.
//!
//! Layout of `target/localcloud/`:
//! - `state.json` (mode 0600): every port, URL and pid; the registry password (the only secret).
//! - `pids/<part>.pid`: pid, start time and command-line marker of each process we started.
//! - `logs/<part>.log`: each process's stdout and stderr.
//! - `pg/` (the PostgreSQL cluster), `registry/` (config, htpasswd, blobs).
//!
//! Other xtask commands call [`ensure_up`] (start what is missing) or [`read_state`].

pub mod base_image;
pub mod health;
mod parts;
pub mod procs;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use deploykit_report::{Event, Reporter, StepTimer};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::{CliError, Exit};
use procs::{Liveness, ProcRecord};

pub use parts::{
    Part, REGISTRY_PASSWORD_ENV, endpoint as parts_endpoint, read_pid_file, set_time_scale,
};

/// Default edge port: deploy.toml's `local` target points here.
pub const DEFAULT_EDGE_PORT: u16 = 4566;
/// Default time scale for `local up`: a five-minute launch takes five seconds.
pub const DEFAULT_TIME_SCALE: f64 = 60.0;
/// Version of the state file layout; bumped when fields change meaning.
pub const STATE_SCHEMA: u32 = 1;

/// Where everything lives. All paths absolute.
#[derive(Debug, Clone)]
pub struct Paths {
    pub workspace: PathBuf,
    pub root: PathBuf,
    pub state: PathBuf,
    pub logs: PathBuf,
    pub pids: PathBuf,
    pub pg: PathBuf,
    pub registry: PathBuf,
    pub venvs: PathBuf,
}

impl Paths {
    pub fn new() -> Self {
        // xtask's manifest dir is <workspace>/xtask.
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let root = workspace.join("target").join("localcloud");
        Self {
            state: root.join("state.json"),
            logs: root.join("logs"),
            pids: root.join("pids"),
            pg: root.join("pg"),
            registry: root.join("registry"),
            venvs: workspace.join("target").join("venvs"),
            root,
            workspace,
        }
    }

    pub fn pid_file(&self, part: Part) -> PathBuf {
        self.pids.join(format!("{}.pid", part.name()))
    }

    pub fn log_file(&self, name: &str) -> PathBuf {
        self.logs.join(format!("{name}.log"))
    }
}

impl Default for Paths {
    fn default() -> Self {
        Self::new()
    }
}

/// The registry's address and credentials. The password never prints: `Debug` is redacted and
/// `Serialize` skips it (state.json stores it separately, mode 0600).
#[derive(Debug, Serialize, Deserialize)]
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
}

/// Everything other commands need to reach the local cloud.
#[derive(Debug, Serialize, Deserialize)]
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
}

/// On-disk form: the state plus the registry password.
#[derive(Serialize, Deserialize)]
struct StateFile {
    #[serde(flatten)]
    state: LocalState,
    registry_password: String,
}

impl LocalState {
    /// Writes state.json atomically with mode 0600.
    pub fn save(&self, paths: &Paths) -> Result<(), CliError> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = StateFileRef {
            state: self,
            registry_password: self.registry.password.expose_secret(),
        };
        let json = serde_json::to_vec_pretty(&file).map_err(|e| {
            CliError::new(Exit::Failure, format!("serialising local cloud state: {e}"))
        })?;
        let tmp = paths.state.with_extension("json.tmp");
        let _ = fs::remove_file(&tmp);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| procs::io_err(&format!("writing {}", tmp.display()), &e))?;
        f.write_all(&json)
            .and_then(|_| f.sync_all())
            .map_err(|e| procs::io_err(&format!("writing {}", tmp.display()), &e))?;
        fs::rename(&tmp, &paths.state)
            .map_err(|e| procs::io_err(&format!("writing {}", paths.state.display()), &e))
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
}

/// The recorded state, if `local up` has run (whether or not every part is healthy now).
pub fn read_state() -> Option<LocalState> {
    read_state_at(&Paths::new().state)
}

fn read_state_at(path: &Path) -> Option<LocalState> {
    let text = fs::read_to_string(path).ok()?;
    let file: StateFile = serde_json::from_str(&text).ok()?;
    if file.state.schema != STATE_SCHEMA {
        return None;
    }
    let mut state = file.state;
    state.registry.password = SecretString::from(file.registry_password);
    Some(state)
}

/// Options for `up`.
#[derive(Debug, Clone)]
pub struct UpOptions {
    pub edge_port: u16,
    pub time_scale: f64,
}

impl Default for UpOptions {
    fn default() -> Self {
        Self {
            edge_port: std::env::var("DEPLOYKIT_EDGE_PORT")
                .ok()
                .and_then(|p| p.parse().ok())
                .unwrap_or(DEFAULT_EDGE_PORT),
            time_scale: DEFAULT_TIME_SCALE,
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
/// Safe to call from any xtask command: silent, and leaves the running time scale alone, when
/// every part is already up and healthy (the Docker Engine is not ours to start).
pub fn ensure_up(r: &crate::render::Renderer) -> Result<LocalState, CliError> {
    if let Some((state, parts)) = status()
        && parts
            .iter()
            .filter(|p| p.part != "docker")
            .all(|p| p.healthy)
    {
        return Ok(state);
    }
    up(r, &UpOptions::default()).map(|(s, _)| s)
}

/// `local up`: returns the state and what happened to each part.
pub fn up(
    r: &dyn Reporter,
    opts: &UpOptions,
) -> Result<(LocalState, Vec<(Part, Outcome)>), CliError> {
    let paths = Paths::new();
    for dir in [&paths.root, &paths.logs, &paths.pids, &paths.venvs] {
        fs::create_dir_all(dir)
            .map_err(|e| procs::io_err(&format!("creating {}", dir.display()), &e))?;
    }
    let _lock = lock(&paths, r)?;
    let timer = StepTimer::start(
        r,
        "local-up",
        "Starting the local cloud (moto, edge, registry, PostgreSQL)",
    );
    let previous = read_state_at(&paths.state);
    let mut state = match previous {
        Some(s) => s,
        None => parts::fresh_state(&paths, opts)?,
    };
    let mut outcomes = Vec::new();
    for part in Part::ALL {
        // A registry with a new password means the edge must hand out the new one.
        let force = part == Part::Edge
            && outcomes
                .iter()
                .any(|(p, o)| *p == Part::Registry && *o != Outcome::AlreadyRunning);
        let outcome = parts::ensure(part, &paths, &mut state, opts, force, r)?;
        state.save(&paths)?;
        outcomes.push((part, outcome));
    }
    if (state.time_scale - opts.time_scale).abs() > f64::EPSILON {
        parts::set_time_scale(&state, opts.time_scale)?;
        state.time_scale = opts.time_scale;
        state.save(&paths)?;
    }
    match health::docker_ping() {
        Ok(ep) => r.report(Event::info(format!("Docker Engine answers at {ep}"))),
        Err(e) => r.report(Event::warn(format!(
            "Docker Engine not reachable ({e}); only Route B (App Runner image builds) needs it"
        ))),
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

/// `local down`: stops the given parts (all when `only` is None) by their pid records, then
/// removes state.json and the pid files when nothing recorded is left.
pub fn down(
    r: &dyn Reporter,
    only: Option<&[Part]>,
    purge: bool,
) -> Result<Vec<DownReport>, CliError> {
    let paths = Paths::new();
    if !paths.root.exists() {
        return Ok(Vec::new());
    }
    let _lock = lock(&paths, r)?;
    let timer = StepTimer::start(r, "local-down", "Stopping the local cloud");
    let state = read_state_at(&paths.state);
    let mut reports = Vec::new();
    let mut first_err = None;
    // Reverse start order: edge first (it talks to the others), PostgreSQL last.
    for part in Part::ALL.iter().rev().copied() {
        if only.is_some_and(|o| !o.contains(&part)) {
            continue;
        }
        let rec = parts::read_pid_file(&paths, part).or_else(|| {
            state
                .as_ref()
                .and_then(|s| s.processes.get(part.name()).cloned())
        });
        let Some(rec) = rec else { continue };
        let result = match parts::stop(part, &rec, state.as_ref(), r) {
            Ok(procs::Stopped::Terminated) => "stopped".to_string(),
            Ok(procs::Stopped::Killed) => "killed (ignored SIGTERM)".to_string(),
            Ok(procs::Stopped::AlreadyGone) => "was not running".to_string(),
            Ok(procs::Stopped::NotOurs(why)) => {
                r.report(Event::warn(format!("left {} alone: {why}", part.name())));
                format!("left alone: {why}")
            }
            Err(e) => {
                let text = e.message.clone();
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
    let remaining = Part::ALL.iter().any(|p| paths.pid_file(*p).exists());
    if !remaining {
        let _ = fs::remove_file(&paths.state);
        if purge {
            for dir in [&paths.pg, &paths.registry] {
                if dir.exists() {
                    fs::remove_dir_all(dir)
                        .map_err(|e| procs::io_err(&format!("removing {}", dir.display()), &e))?;
                }
            }
        }
    } else if let Some(mut s) = state {
        // Keep the state of the parts still running.
        s.processes
            .retain(|name, _| Part::from_name(name).is_some_and(|p| paths.pid_file(p).exists()));
        s.save(&paths)?;
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

/// `local status`: every part with its pid, endpoint and health. None when never started.
pub fn status() -> Option<(LocalState, Vec<PartStatus>)> {
    let paths = Paths::new();
    let state = read_state_at(&paths.state)?;
    let mut out = Vec::new();
    for part in Part::ALL {
        let rec = parts::read_pid_file(&paths, part)
            .or_else(|| state.processes.get(part.name()).cloned());
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
            Err(e) => format!("absent ({e}); only Route B needs it"),
        },
    });
    Some((state, out))
}

/// Serialises `up`/`down` across processes (several engineers, or a test and a deploy).
fn lock(paths: &Paths, r: &dyn Reporter) -> Result<fs::File, CliError> {
    let path = paths.root.join("lock");
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| procs::io_err(&format!("opening {}", path.display()), &e))?;
    let bound = Duration::from_secs(900);
    let start = Instant::now();
    let mut last = Instant::now();
    loop {
        match f.try_lock() {
            Ok(()) => return Ok(f),
            Err(fs::TryLockError::WouldBlock) => {}
            Err(fs::TryLockError::Error(e)) => {
                return Err(procs::io_err(&format!("locking {}", path.display()), &e));
            }
        }
        if start.elapsed() > bound {
            return Err(CliError::new(
                Exit::Timeout,
                format!(
                    "another `cargo xtask local` command held {} for {}s",
                    path.display(),
                    bound.as_secs()
                ),
            )
            .with_hint("wait for it to finish, or find it with `ps -ef | grep xtask`"));
        }
        if last.elapsed() >= Duration::from_secs(5) || start.elapsed() < Duration::from_millis(60) {
            last = Instant::now();
            r.report(Event::Waiting {
                step: "local-lock".into(),
                for_what: "another `cargo xtask local` command to release target/localcloud/lock"
                    .into(),
                waited: start.elapsed(),
                timeout: bound,
            });
        }
        std::thread::sleep(Duration::from_millis(200));
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
        let paths = Paths {
            state: dir.path().join("state.json"),
            ..Paths::new()
        };
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
            },
            processes: BTreeMap::new(),
        };
        assert!(
            !serde_json::to_string(&state)
                .unwrap()
                .contains("s3cr3t-value")
        );
        assert!(!format!("{state:?}").contains("s3cr3t-value"));
        state.save(&paths).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&paths.state).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let back = read_state_at(&paths.state).unwrap();
        assert_eq!(back.registry.password.expose_secret(), "s3cr3t-value");
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
