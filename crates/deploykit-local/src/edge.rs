//! The edge process: how `up` starts it (a launcher command plus settings in the environment),
//! how that process turns the settings back into an [`EdgeConfig`] ([`run_edge`]), and the admin
//! calls `up` makes on it (health, time scale) through [`AdminClient`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use deploykit_localcloud::core::RegistryConfig;
use deploykit_localcloud::{AdminClient, EdgeConfig, PostgresConfig, WorkloadConfig};
use deploykit_report::{Event, Reporter};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::parts::{Part, port_free, record, wait_healthy};
use crate::procs::{self, ProcRecord};
use crate::{LocalError, LocalState, Paths, UpOptions, block_on};

/// Env var through which `up` hands the registry password to the edge process (never argv).
pub const REGISTRY_PASSWORD_ENV: &str = "DEPLOYKIT_LOCAL_REGISTRY_PASSWORD";
/// Env var holding the edge's settings ([`EdgeSpec`] as JSON) for the edge process.
pub const EDGE_SPEC_ENV: &str = "DEPLOYKIT_LOCAL_EDGE_SPEC";

/// The command that runs an edge in the foreground: `program args... --port PORT`, with its
/// settings in [`EDGE_SPEC_ENV`]. The process calls [`run_edge`] with that port. xtask uses
/// `<xtask> local serve-edge`; another project points it at a small binary of its own.
#[derive(Debug, Clone)]
pub struct EdgeLauncher {
    pub program: PathBuf,
    pub args: Vec<String>,
}

impl EdgeLauncher {
    /// The running executable with `args` (e.g. `["local", "serve-edge"]`).
    pub fn current_exe(args: &[&str]) -> Result<Self, LocalError> {
        let exe = std::env::current_exe()
            .map_err(|e| LocalError::io("finding the running executable", e))?;
        // After a rebuild the running binary's path reads "<path> (deleted)"; the new one is there.
        let s = exe.display().to_string();
        Ok(Self {
            program: PathBuf::from(s.strip_suffix(" (deleted)").unwrap_or(&s)),
            args: args.iter().map(|a| a.to_string()).collect(),
        })
    }

    /// The substring of the process's command line that marks it as ours.
    fn marker(&self, port: u16) -> String {
        let mut m = self.program.display().to_string();
        for a in &self.args {
            m.push(' ');
            m.push_str(a);
        }
        format!("{m} --port {port}")
    }
}

/// Real workloads for the edge (see `deploykit_localcloud`'s workload runtime).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadsSpec {
    pub docker_host: Option<String>,
    pub state_dir: PathBuf,
    pub platform_image: String,
    pub cpus: f64,
    pub memory_mb: u64,
    pub instance_label: String,
}

/// The edge's settings as the edge process receives them (the registry password apart).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EdgeSpec {
    pub moto_url: String,
    pub registry_endpoint: String,
    pub registry_user: String,
    pub time_scale: f64,
    pub region: String,
    pub account_id: String,
    pub pg_host: String,
    pub pg_port: u16,
    pub pg_user: String,
    #[serde(default)]
    pub workloads: Option<WorkloadsSpec>,
}

impl EdgeSpec {
    fn from_state(state: &LocalState, time_scale: f64, workloads: Option<WorkloadsSpec>) -> Self {
        Self {
            moto_url: state.moto_url.clone(),
            registry_endpoint: state.registry.endpoint.clone(),
            registry_user: state.registry.username.clone(),
            time_scale,
            region: state.region.clone(),
            account_id: state.account_id.clone(),
            pg_host: state.pg.host.clone(),
            pg_port: state.pg.port,
            pg_user: state.pg.superuser.clone(),
            workloads,
        }
    }

    /// The [`EdgeConfig`] for an edge on 127.0.0.1:`port`.
    pub fn edge_config(&self, port: u16, registry_password: String) -> EdgeConfig {
        EdgeConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], port)),
            moto_url: Some(self.moto_url.clone()),
            registry: Some(RegistryConfig {
                endpoint: self.registry_endpoint.clone(),
                username: self.registry_user.clone(),
                password: registry_password,
            }),
            time_scale: self.time_scale,
            region: self.region.clone(),
            account_id: self.account_id.clone(),
            postgres: Some(PostgresConfig {
                host: self.pg_host.clone(),
                port: self.pg_port,
                superuser: self.pg_user.clone(),
                password: None,
            }),
            workloads: self.workloads.as_ref().map(|w| WorkloadConfig {
                docker_host: w.docker_host.clone(),
                state_dir: w.state_dir.clone(),
                platform_image: w.platform_image.clone(),
                cpus: w.cpus,
                memory_mb: w.memory_mb,
                instance_label: w.instance_label.clone(),
            }),
            ..EdgeConfig::default()
        }
    }
}

/// In the edge process: the [`EdgeConfig`] `up` asked for, from [`EDGE_SPEC_ENV`] and
/// [`REGISTRY_PASSWORD_ENV`].
pub fn edge_config_from_env(port: u16) -> Result<EdgeConfig, LocalError> {
    let text = std::env::var(EDGE_SPEC_ENV).map_err(|e| LocalError::EdgeSpec {
        var: EDGE_SPEC_ENV,
        reason: e.to_string(),
    })?;
    let spec: EdgeSpec = serde_json::from_str(&text).map_err(|e| LocalError::EdgeSpec {
        var: EDGE_SPEC_ENV,
        reason: e.to_string(),
    })?;
    if !(spec.time_scale.is_finite() && spec.time_scale > 0.0) {
        return Err(LocalError::EdgeSpec {
            var: EDGE_SPEC_ENV,
            reason: format!("time_scale {} is not a positive number", spec.time_scale),
        });
    }
    let password = std::env::var(REGISTRY_PASSWORD_ENV).unwrap_or_default();
    Ok(spec.edge_config(port, password))
}

/// In the edge process: serves the edge [`edge_config_from_env`] describes until SIGTERM or
/// Ctrl-C. Blocks; builds its own runtime.
pub fn run_edge(port: u16) -> Result<(), LocalError> {
    let cfg = edge_config_from_env(port)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| LocalError::io("starting the edge's async runtime", e))?;
    rt.block_on(async move {
        let shutdown = async {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = tokio::signal::ctrl_c() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        };
        deploykit_localcloud::serve(cfg, shutdown)
            .await
            .map_err(|source| LocalError::Edge { source })
    })
}

fn admin(state: &LocalState) -> Result<AdminClient, LocalError> {
    AdminClient::new(&state.edge_url).map_err(|source| LocalError::Admin {
        what: format!("the edge's admin client for {}", state.edge_url),
        source,
    })
}

/// The edge's health through its admin API; Ok(detail) when healthy.
pub(crate) fn health(state: &LocalState) -> Result<String, String> {
    let admin = admin(state).map_err(|e| e.to_string())?;
    let h = block_on(async { admin.health().await }).map_err(|e| e.to_string())?;
    Ok(format!(
        "GET /_localcloud/health: {}, time scale {}x",
        h.status, h.time_scale
    ))
}

/// Changes the running edge's time scale through its admin API.
pub fn set_time_scale(state: &LocalState, scale: f64) -> Result<(), LocalError> {
    let admin = admin(state)?;
    block_on(async { admin.set_time_scale(scale).await }).map_err(|source| LocalError::Admin {
        what: format!("setting the edge's time scale to {scale}"),
        source,
    })
}

pub(crate) fn start(
    paths: &Paths,
    state: &mut LocalState,
    opts: &UpOptions,
    workloads: Option<WorkloadsSpec>,
    r: &dyn Reporter,
) -> Result<(), LocalError> {
    let port = opts.edge_port;
    if !port_free(port) {
        return Err(LocalError::EdgePortInUse { port });
    }
    state.edge_port = port;
    state.edge_url = format!("http://127.0.0.1:{port}");
    state.time_scale = opts.time_scale;
    let spec = EdgeSpec::from_state(state, opts.time_scale, workloads.clone());
    let spec_json = serde_json::to_string(&spec).map_err(LocalError::StateJson)?;
    let log = paths.log_file("edge");
    let launcher = &opts.edge_launcher;
    let mut cmd = Command::new(&launcher.program);
    cmd.args(&launcher.args)
        .args(["--port", &port.to_string()])
        .env(EDGE_SPEC_ENV, spec_json)
        .env(
            REGISTRY_PASSWORD_ENV,
            state.registry.password.expose_secret(),
        );
    let pid = procs::spawn_detached(&mut cmd, &log, "the localcloud edge")?;
    let rec =
        ProcRecord::capture(pid, launcher.marker(port)).ok_or_else(|| LocalError::Exited {
            part: "edge".into(),
            log: log.clone(),
            tail: procs::tail(&log, 20),
        })?;
    state.workloads = workloads;
    record(paths, state, Part::Edge, &rec)?;
    wait_healthy(Part::Edge, state, &rec, &log, Duration::from_secs(30), r)?;
    r.report(Event::info(format!(
        "edge at {} (pid {pid}), time scale {}x",
        state.edge_url, opts.time_scale
    )));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(workloads: Option<WorkloadsSpec>) -> EdgeSpec {
        EdgeSpec {
            moto_url: "http://127.0.0.1:4567".into(),
            registry_endpoint: "127.0.0.1:4568".into(),
            registry_user: "AWS".into(),
            time_scale: 300.0,
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            pg_host: "127.0.0.1".into(),
            pg_port: 4569,
            pg_user: "postgres".into(),
            workloads,
        }
    }

    #[test]
    fn the_spec_round_trips_and_becomes_the_edge_config_with_or_without_workloads() {
        let w = WorkloadsSpec {
            docker_host: None,
            state_dir: "/s/workloads".into(),
            platform_image: "deploykit-local/python:3.11-bookworm".into(),
            cpus: 1.0,
            memory_mb: 1024,
            instance_label: "/s".into(),
        };
        let json = serde_json::to_string(&spec(Some(w.clone()))).unwrap();
        assert!(!json.contains("password"));
        let back: EdgeSpec = serde_json::from_str(&json).unwrap();
        let cfg = back.edge_config(4600, "pw".into());
        assert_eq!(cfg.bind, SocketAddr::from(([127, 0, 0, 1], 4600)));
        assert_eq!(cfg.registry.as_ref().unwrap().password, "pw");
        assert_eq!(cfg.postgres.as_ref().unwrap().port, 4569);
        let wc = cfg.workloads.expect("real workloads");
        assert_eq!(wc.instance_label, "/s");
        assert_eq!(wc.platform_image, w.platform_image);
        assert_eq!((wc.cpus, wc.memory_mb), (1.0, 1024));
        assert!(
            spec(None)
                .edge_config(4600, String::new())
                .workloads
                .is_none()
        );
    }

    #[test]
    fn the_marker_is_the_launcher_and_its_port() {
        let l = EdgeLauncher {
            program: "/w/target/debug/xtask".into(),
            args: vec!["local".into(), "serve-edge".into()],
        };
        assert_eq!(
            l.marker(4566),
            "/w/target/debug/xtask local serve-edge --port 4566"
        );
    }
}
