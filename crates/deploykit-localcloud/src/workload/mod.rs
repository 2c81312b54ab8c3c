//! Real workloads: the containers behind Elastic Beanstalk environments and App Runner services.
//!
//! With [`crate::EdgeConfig::workloads`] set, the emulators start the deployed code in a Docker
//! container (Docker Engine API through bollard) instead of answering the app's URL themselves.
//!
//! - Every container runs with `network_mode = "host"`, so the app reaches the local PostgreSQL,
//!   moto and the edge at `127.0.0.1` exactly like the URLs it is given. Each one gets a unique
//!   free loopback port, passed as `PORT`; the edge proxies the app's host name to it
//!   ([`AppRoutes`]). This is a known local difference: on AWS the app listens on its own
//!   instance's port 8000 (EB) or the configured port (App Runner).
//! - Every container has CPU and memory limits and the labels [`LABEL`], [`LABEL_INSTANCE`],
//!   [`LABEL_KIND`], [`LABEL_OWNER`], so [`Workloads::remove_all`] (edge shutdown, `local down`)
//!   removes exactly this local cloud's containers.
//! - [`logs`] copies a container's stdout/stderr to CloudWatch Logs in moto.

pub mod logs;

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, ContainerStateStatusEnum, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, InspectContainerOptions, ListContainersOptions,
    LogsOptions, RemoveContainerOptions, StopContainerOptions,
};
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Label on every workload container.
pub const LABEL: &str = "deploykit.localcloud";
/// Label naming the local cloud instance (the edge's state dir or port) that owns a container.
pub const LABEL_INSTANCE: &str = "deploykit.localcloud.instance";
/// Label with the workload kind: `eb` or `apprunner`.
pub const LABEL_KIND: &str = "deploykit.localcloud.kind";
/// Label with the owner: the EB environment name or the App Runner service name.
pub const LABEL_OWNER: &str = "deploykit.localcloud.owner";

/// Default image of the local Elastic Beanstalk Python platform.
pub const DEFAULT_PLATFORM_IMAGE: &str = "deploykit-local/python:3.11-bookworm";
/// Default CPU limit per container.
pub const DEFAULT_CPUS: f64 = 1.0;
/// Default memory limit per container, MiB.
pub const DEFAULT_MEMORY_MB: u64 = 1024;

/// How long `docker stop` waits for a container to exit after SIGTERM before SIGKILL.
const STOP_GRACE_SECS: i32 = 5;
/// How long a container removal may take to finish (another caller may have started it).
const REMOVE_WAIT: Duration = Duration::from_secs(30);
/// How long one health probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Pause between health probes.
const PROBE_INTERVAL: Duration = Duration::from_millis(200);
/// Lines of log kept in an `Exited` error.
const EXIT_LOG_LINES: usize = 40;

/// How the edge runs workloads. `EdgeConfig::workloads == None`: workloads are simulated.
#[derive(Debug, Clone)]
pub struct WorkloadConfig {
    /// Docker Engine address (`unix:///var/run/docker.sock`, `tcp://...`). `None`: `DOCKER_HOST`
    /// or the platform's default socket.
    pub docker_host: Option<String>,
    /// Where workloads keep files on the host (bundles, pip cache, logs).
    pub state_dir: PathBuf,
    /// Elastic Beanstalk's Python platform image.
    pub platform_image: String,
    /// CPU limit per container (`1.0` = one core).
    pub cpus: f64,
    /// Memory limit per container, MiB.
    pub memory_mb: u64,
    /// Value of the [`LABEL_INSTANCE`] label, so `local down` removes exactly ours.
    pub instance_label: String,
}

impl WorkloadConfig {
    /// The defaults (1 CPU, 1024 MiB, the default platform image, `DOCKER_HOST`).
    pub fn new(state_dir: impl Into<PathBuf>, instance_label: impl Into<String>) -> Self {
        Self {
            docker_host: None,
            state_dir: state_dir.into(),
            platform_image: DEFAULT_PLATFORM_IMAGE.to_string(),
            cpus: DEFAULT_CPUS,
            memory_mb: DEFAULT_MEMORY_MB,
            instance_label: instance_label.into(),
        }
    }
}

/// A bind mount into a workload container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub host: PathBuf,
    pub container: String,
    pub read_only: bool,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct WorkloadSpec {
    /// `eb` or `apprunner` (label [`LABEL_KIND`]).
    pub kind: &'static str,
    /// Environment or service name (label [`LABEL_OWNER`]).
    pub owner: String,
    pub image: String,
    /// `None`: the image's CMD.
    pub cmd: Option<Vec<String>>,
    /// Environment variables; `PORT` is added by the runtime (a value given here is replaced).
    pub env: Vec<(String, String)>,
    pub mounts: Vec<Mount>,
    pub workdir: Option<String>,
    /// `(username, password)` for pulling from the local registry when the image is not present.
    pub registry_auth: Option<(String, String)>,
}

/// A started container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    pub id: String,
    pub port: u16,
    /// `127.0.0.1:port`.
    pub addr: SocketAddr,
}

/// One of this instance's containers, as [`Workloads::list`] sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadInfo {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub owner: String,
    pub image: String,
    /// Docker's state: `running`, `exited`, `created`, ...
    pub state: String,
}

/// Host name (without port, lowercase) → the running app's address. Shared by the edge and the
/// emulators: EB sets `<cname>`, App Runner `<service url host>`.
#[derive(Debug, Clone, Default)]
pub struct AppRoutes {
    inner: Arc<RwLock<HashMap<String, SocketAddr>>>,
}

impl AppRoutes {
    pub fn get(&self, host: &str) -> Option<SocketAddr> {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&host.to_ascii_lowercase())
            .copied()
    }

    /// Routes `host` to `addr`; returns the address it replaced.
    pub fn set(&self, host: &str, addr: SocketAddr) -> Option<SocketAddr> {
        self.inner
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(host.to_ascii_lowercase(), addr)
    }

    /// Removes `host`'s route; returns the address it had.
    pub fn remove(&self, host: &str) -> Option<SocketAddr> {
        self.inner
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&host.to_ascii_lowercase())
    }

    pub fn clear(&self) {
        self.inner
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

/// Everything that can go wrong running a workload.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    #[error(
        "cannot reach the Docker Engine at {host}: {source}; start Docker or run without real workloads"
    )]
    Connect {
        host: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("Docker {what} for {target} failed: {source}")]
    Docker {
        what: &'static str,
        target: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error(
        "cannot pull image {image}: {reason}; push it to the local registry first (the image must exist there under that tag)"
    )]
    Pull { image: String, reason: String },
    #[error("no free loopback port for a workload: {source}")]
    Port {
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the container exited with code {code} before it became healthy; last log lines:\n{log_tail}"
    )]
    Exited { code: i64, log_tail: String },
    #[error("the app answered HTTP {status} on its health path {path} until the deadline")]
    Unhealthy { status: u16, path: String },
    #[error("the app did not answer on 127.0.0.1:{port}{path} within {secs} s")]
    Timeout { port: u16, path: String, secs: u64 },
    #[error("container {id} was still being removed after {secs} s")]
    RemoveTimeout { id: String, secs: u64 },
    #[error("CloudWatch Logs {what} for {group} failed: {reason}")]
    Logs {
        what: &'static str,
        group: String,
        reason: String,
    },
}

fn docker_err(
    what: &'static str,
    target: impl Into<String>,
) -> impl FnOnce(bollard::errors::Error) -> WorkloadError {
    let target = target.into();
    move |source| WorkloadError::Docker {
        what,
        target,
        source,
    }
}

fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// The container runtime of one edge.
#[derive(Debug, Clone)]
pub struct Workloads {
    docker: Docker,
    cfg: WorkloadConfig,
    http: Client<HttpConnector, Empty<Bytes>>,
    /// Ports handed out and not yet released, so two starts never race for one port.
    ports: Arc<Mutex<HashSet<u16>>>,
}

impl Workloads {
    /// Connects to the Docker Engine and pings it.
    pub async fn connect(cfg: WorkloadConfig) -> Result<Workloads, WorkloadError> {
        let host = cfg
            .docker_host
            .clone()
            .or_else(|| std::env::var("DOCKER_HOST").ok())
            .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string());
        let docker = match &cfg.docker_host {
            Some(h) => Docker::connect_with_host(h),
            None => Docker::connect_with_defaults(),
        }
        .map_err(|source| WorkloadError::Connect {
            host: host.clone(),
            source,
        })?;
        docker
            .ping()
            .await
            .map_err(|source| WorkloadError::Connect { host, source })?;
        let http = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build(HttpConnector::new());
        Ok(Workloads {
            docker,
            cfg,
            http,
            ports: Arc::default(),
        })
    }

    pub fn config(&self) -> &WorkloadConfig {
        &self.cfg
    }

    /// The Docker client, for callers that need an API this type does not wrap.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    fn free_port(&self) -> Result<u16, WorkloadError> {
        let mut taken = self.ports.lock().unwrap_or_else(|e| e.into_inner());
        for _ in 0..50 {
            let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .map_err(|source| WorkloadError::Port { source })?;
            let port = l
                .local_addr()
                .map_err(|source| WorkloadError::Port { source })?
                .port();
            if taken.insert(port) {
                return Ok(port);
            }
        }
        Err(WorkloadError::Port {
            source: std::io::Error::other("every port offered was already handed out"),
        })
    }

    async fn ensure_image(&self, spec: &WorkloadSpec) -> Result<(), WorkloadError> {
        match self.docker.inspect_image(&spec.image).await {
            Ok(_) => return Ok(()),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(docker_err("image inspect", &spec.image)(e)),
        }
        let (from_image, tag) = split_tag(&spec.image);
        let creds = spec.registry_auth.as_ref().map(|(u, p)| DockerCredentials {
            username: Some(u.clone()),
            password: Some(p.clone()),
            serveraddress: spec.image.split('/').next().map(str::to_string),
            ..Default::default()
        });
        let opts = CreateImageOptions {
            from_image: Some(from_image.to_string()),
            tag: Some(tag.to_string()),
            ..Default::default()
        };
        let mut stream = self.docker.create_image(Some(opts), None, creds);
        while let Some(item) = stream.next().await {
            if let Err(e) = item {
                let reason = match e {
                    bollard::errors::Error::DockerStreamError { error } => error,
                    bollard::errors::Error::DockerResponseServerError { message, .. } => message,
                    other => other.to_string(),
                };
                return Err(WorkloadError::Pull {
                    image: spec.image.clone(),
                    reason,
                });
            }
        }
        Ok(())
    }

    /// Pulls the image if needed, then creates and starts the container with host networking,
    /// the labels, the CPU/memory limits, `PORT` and the spec's env and mounts.
    pub async fn start(&self, spec: &WorkloadSpec) -> Result<Running, WorkloadError> {
        self.ensure_image(spec).await?;
        let port = self.free_port()?;
        let result = self.create_and_start(spec, port).await;
        if result.is_err() {
            self.release_port(port);
        }
        result
    }

    async fn create_and_start(
        &self,
        spec: &WorkloadSpec,
        port: u16,
    ) -> Result<Running, WorkloadError> {
        let mut env: Vec<String> = spec
            .env
            .iter()
            .filter(|(k, _)| k != "PORT")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        env.push(format!("PORT={port}"));
        let labels = HashMap::from([
            (LABEL.to_string(), "1".to_string()),
            (LABEL_INSTANCE.to_string(), self.cfg.instance_label.clone()),
            (LABEL_KIND.to_string(), spec.kind.to_string()),
            (LABEL_OWNER.to_string(), spec.owner.clone()),
            ("deploykit.localcloud.port".to_string(), port.to_string()),
        ]);
        let rw = |ro: bool| if ro { "ro" } else { "rw" };
        let mut binds: Vec<String> = (spec.mounts.iter())
            .map(|m| format!("{}:{}:{}", m.host.display(), m.container, rw(m.read_only)))
            .collect();
        // The local RDS's CA alone (deploykit-local's `<state>/tls/ca.pem`, `workloads/`'s
        // sibling) at the same path, read-only: DATABASE_URL's `sslrootcert` names it.
        if let Some(ca) = self.cfg.state_dir.parent().map(|d| d.join("tls/ca.pem"))
            && ca.is_file()
        {
            binds.push(format!("{0}:{0}:ro", ca.display()));
        }
        let host_config = HostConfig {
            network_mode: Some("host".to_string()),
            nano_cpus: Some((self.cfg.cpus * 1e9).round() as i64),
            memory: Some((self.cfg.memory_mb as i64).saturating_mul(1024 * 1024)),
            binds: (!binds.is_empty()).then_some(binds),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            cmd: spec.cmd.clone(),
            env: Some(env),
            labels: Some(labels),
            working_dir: spec.workdir.clone(),
            host_config: Some(host_config),
            ..Default::default()
        };
        let name = container_name(spec.kind, &spec.owner);
        let created = self
            .docker
            .create_container(
                Some(CreateContainerOptions {
                    name: Some(name.clone()),
                    ..Default::default()
                }),
                body,
            )
            .await
            .map_err(docker_err("container create", &name))?;
        if let Err(e) = self.docker.start_container(&created.id, None).await {
            let _ = self.remove(&created.id).await;
            return Err(docker_err("container start", &name)(e));
        }
        Ok(Running {
            id: created.id,
            port,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        })
    }

    fn release_port(&self, port: u16) {
        self.ports
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&port);
    }

    /// `Some(exit code)` when the container is no longer running, `None` while it runs.
    pub async fn exit_code(&self, id: &str) -> Result<Option<i64>, WorkloadError> {
        let info = self
            .docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(docker_err("container inspect", id))?;
        let state = info.state.unwrap_or_default();
        let running = state.running.unwrap_or(false)
            || matches!(
                state.status,
                Some(ContainerStateStatusEnum::CREATED | ContainerStateStatusEnum::RESTARTING)
            );
        Ok((!running).then(|| state.exit_code.unwrap_or(-1)))
    }

    /// Polls `http://127.0.0.1:PORT<path>` until it answers 2xx/3xx (returns the status), the
    /// container exits ([`WorkloadError::Exited`] with its log tail), or `deadline` passes
    /// ([`WorkloadError::Unhealthy`] with the last status, or [`WorkloadError::Timeout`]).
    pub async fn wait_healthy(
        &self,
        r: &Running,
        path: &str,
        deadline: Duration,
    ) -> Result<u16, WorkloadError> {
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        let until = Instant::now() + deadline;
        let mut last_status = None;
        loop {
            if let Some(code) = self.exit_code(&r.id).await? {
                let log_tail = self
                    .log_tail(&r.id, EXIT_LOG_LINES)
                    .await
                    .unwrap_or_else(|e| format!("(logs unavailable: {e})"));
                return Err(WorkloadError::Exited { code, log_tail });
            }
            if let Some(status) = self.probe(r.port, &path).await {
                if (200..400).contains(&status) {
                    return Ok(status);
                }
                last_status = Some(status);
            }
            if Instant::now() >= until {
                return Err(match last_status {
                    Some(status) => WorkloadError::Unhealthy { status, path },
                    None => WorkloadError::Timeout {
                        port: r.port,
                        path,
                        secs: deadline.as_secs(),
                    },
                });
            }
            tokio::time::sleep(PROBE_INTERVAL).await;
        }
    }

    /// Waits until something accepts TCP connections on the workload's port (App Runner's
    /// `TCP` health check), the container exits, or `deadline` passes.
    pub async fn wait_listening(
        &self,
        r: &Running,
        deadline: Duration,
    ) -> Result<(), WorkloadError> {
        let until = Instant::now() + deadline;
        loop {
            if let Some(code) = self.exit_code(&r.id).await? {
                let log_tail = self
                    .log_tail(&r.id, EXIT_LOG_LINES)
                    .await
                    .unwrap_or_else(|e| format!("(logs unavailable: {e})"));
                return Err(WorkloadError::Exited { code, log_tail });
            }
            let connect = tokio::net::TcpStream::connect(r.addr);
            if let Ok(Ok(_)) = tokio::time::timeout(PROBE_TIMEOUT, connect).await {
                return Ok(());
            }
            if Instant::now() >= until {
                return Err(WorkloadError::Timeout {
                    port: r.port,
                    path: String::new(),
                    secs: deadline.as_secs(),
                });
            }
            tokio::time::sleep(PROBE_INTERVAL).await;
        }
    }

    /// One GET of `http://127.0.0.1:port<path>`: the status, or `None` when nothing answered.
    pub async fn probe(&self, port: u16, path: &str) -> Option<u16> {
        let uri: http::Uri = format!("http://127.0.0.1:{port}{path}").parse().ok()?;
        let req = http::Request::get(uri)
            .header(http::header::HOST, format!("127.0.0.1:{port}"))
            .header(http::header::USER_AGENT, "deploykit-localcloud-health/1")
            .body(Empty::new())
            .ok()?;
        let resp = tokio::time::timeout(PROBE_TIMEOUT, self.http.request(req))
            .await
            .ok()?
            .ok()?;
        let status = resp.status().as_u16();
        let _ = tokio::time::timeout(PROBE_TIMEOUT, resp.into_body().collect()).await;
        Some(status)
    }

    /// Stops (SIGTERM, then SIGKILL after a grace period) and removes the container.
    /// A container that is already gone is fine.
    pub async fn stop(&self, id: &str) -> Result<(), WorkloadError> {
        let port = self.port_of(id).await;
        match self
            .docker
            .stop_container(
                id,
                Some(StopContainerOptions {
                    t: Some(STOP_GRACE_SECS),
                    signal: None,
                }),
            )
            .await
        {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => {}
            // 304: already stopped.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => {}
            Err(e) => return Err(docker_err("container stop", id)(e)),
        }
        self.remove(id).await?;
        if let Some(port) = port {
            self.release_port(port);
        }
        Ok(())
    }

    async fn port_of(&self, id: &str) -> Option<u16> {
        let info = self
            .docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .ok()?;
        info.config?
            .labels?
            .get("deploykit.localcloud.port")?
            .parse()
            .ok()
    }

    async fn remove(&self, id: &str) -> Result<(), WorkloadError> {
        match self
            .docker
            .remove_container(
                id,
                Some(RemoveContainerOptions {
                    force: true,
                    v: true,
                    link: false,
                }),
            )
            .await
        {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => return Ok(()),
            // 409: removal already in progress (another stop); wait for it below.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => {}
            Err(e) => return Err(docker_err("container remove", id)(e)),
        }
        let until = Instant::now() + REMOVE_WAIT;
        loop {
            match self
                .docker
                .inspect_container(id, None::<InspectContainerOptions>)
                .await
            {
                Err(e) if is_not_found(&e) => return Ok(()),
                Err(e) => return Err(docker_err("container inspect", id)(e)),
                Ok(_) if Instant::now() >= until => {
                    return Err(WorkloadError::RemoveTimeout {
                        id: id.to_string(),
                        secs: REMOVE_WAIT.as_secs(),
                    });
                }
                Ok(_) => tokio::time::sleep(PROBE_INTERVAL).await,
            }
        }
    }

    /// The last `lines` lines of the container's stdout and stderr.
    pub async fn log_tail(&self, id: &str, lines: usize) -> Result<String, WorkloadError> {
        let mut stream = self.docker.logs(
            id,
            Some(LogsOptions {
                stdout: true,
                stderr: true,
                tail: lines.to_string(),
                ..Default::default()
            }),
        );
        let mut out = String::new();
        while let Some(item) = stream.next().await {
            match item {
                Ok(chunk) => out.push_str(&String::from_utf8_lossy(&chunk.into_bytes())),
                Err(e) => return Err(docker_err("container logs", id)(e)),
            }
        }
        Ok(out)
    }

    /// Runs `cmd` in the running container (EB hooks) and returns its exit code and combined
    /// output. Unbounded: callers wrap it in their own deadline.
    pub async fn exec(
        &self,
        id: &str,
        cmd: Vec<String>,
        env: Vec<(String, String)>,
    ) -> Result<(i64, String), WorkloadError> {
        let env: Vec<String> = env.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
        let created = self
            .docker
            .create_exec(
                id,
                CreateExecOptions {
                    cmd: Some(cmd),
                    env: Some(env),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(docker_err("exec create", id))?;
        let mut output = String::new();
        match self
            .docker
            .start_exec(&created.id, None)
            .await
            .map_err(docker_err("exec start", id))?
        {
            StartExecResults::Attached { output: mut o, .. } => {
                while let Some(item) = o.next().await {
                    match item {
                        Ok(LogOutput::StdOut { message } | LogOutput::StdErr { message }) => {
                            output.push_str(&String::from_utf8_lossy(&message));
                        }
                        Ok(_) => {}
                        Err(e) => return Err(docker_err("exec output", id)(e)),
                    }
                }
            }
            StartExecResults::Detached => {}
        }
        let inspected = self
            .docker
            .inspect_exec(&created.id)
            .await
            .map_err(docker_err("exec inspect", id))?;
        Ok((inspected.exit_code.unwrap_or(-1), output))
    }

    fn instance_filter(&self) -> HashMap<String, Vec<String>> {
        HashMap::from([(
            "label".to_string(),
            vec![format!("{LABEL_INSTANCE}={}", self.cfg.instance_label)],
        )])
    }

    /// This instance's containers (running or not).
    pub async fn list(&self) -> Result<Vec<WorkloadInfo>, WorkloadError> {
        let found = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(self.instance_filter()),
                ..Default::default()
            }))
            .await
            .map_err(docker_err("container list", &self.cfg.instance_label))?;
        Ok(found
            .into_iter()
            .map(|c| {
                let labels = c.labels.unwrap_or_default();
                WorkloadInfo {
                    id: c.id.unwrap_or_default(),
                    name: c
                        .names
                        .and_then(|n| n.into_iter().next())
                        .unwrap_or_default()
                        .trim_start_matches('/')
                        .to_string(),
                    kind: labels.get(LABEL_KIND).cloned().unwrap_or_default(),
                    owner: labels.get(LABEL_OWNER).cloned().unwrap_or_default(),
                    image: c.image.unwrap_or_default(),
                    state: c.state.map(|s| s.to_string()).unwrap_or_default(),
                }
            })
            .collect())
    }

    /// Stops and removes every container labelled with this instance; returns how many.
    pub async fn remove_all(&self) -> Result<usize, WorkloadError> {
        let all = self.list().await?;
        let n = all.len();
        // In parallel: each stop may wait out the grace period of a process ignoring SIGTERM.
        let stops = all.iter().map(|c| self.stop(&c.id));
        for result in futures_util::future::join_all(stops).await {
            result?;
        }
        Ok(n)
    }
}

/// `registry/repo:tag` → (`registry/repo`, `tag`); no tag → `latest`. Digests stay whole.
fn split_tag(image: &str) -> (&str, &str) {
    if image.contains('@') {
        return (image, "");
    }
    match image.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (image, "latest"),
    }
}

/// `deploykit-<kind>-<owner>-<8 hex>`, restricted to Docker's name characters.
fn container_name(kind: &str, owner: &str) -> String {
    let owner: String = owner
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(60)
        .collect();
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!("deploykit-{kind}-{owner}-{}", &suffix[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_split_like_docker() {
        assert_eq!(
            split_tag("127.0.0.1:5000/app:v1"),
            ("127.0.0.1:5000/app", "v1")
        );
        assert_eq!(
            split_tag("127.0.0.1:5000/app"),
            ("127.0.0.1:5000/app", "latest")
        );
        assert_eq!(split_tag("python:3.11"), ("python", "3.11"));
        assert_eq!(split_tag("r/app@sha256:abc"), ("r/app@sha256:abc", ""));
    }

    #[test]
    fn names_are_docker_safe() {
        let n = container_name("eb", "My Env/1");
        assert!(n.starts_with("deploykit-eb-My-Env-1-"), "{n}");
    }

    #[test]
    fn routes_are_case_insensitive() {
        let r = AppRoutes::default();
        let a = SocketAddr::from(([127, 0, 0, 1], 9));
        assert_eq!(r.set("A.awsapprunner.localhost", a), None);
        assert_eq!(r.get("a.awsapprunner.localhost"), Some(a));
        assert_eq!(r.remove("a.AWSAPPRUNNER.localhost"), Some(a));
    }
}
