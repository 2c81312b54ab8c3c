//! The edge process: how `up` starts it (a launcher command plus settings in the environment),
//! how that process turns the settings back into an [`EdgeConfig`] ([`run_edge`]), and the admin
//! calls `up` makes on it (health, time scale) through [`AdminClient`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use deploykit_localcloud::core::RegistryConfig;
use deploykit_localcloud::{AdminClient, AdminToken, EdgeConfig, PostgresConfig, WorkloadConfig};
use deploykit_report::{Event, Reporter};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::parts::{Part, port_free, record, wait_healthy};
use crate::procs::{self, ProcRecord};
use crate::{LocalError, LocalState, Paths, UpOptions, block_on};

/// Env var through which `up` hands the registry password to the edge process (never argv).
pub const REGISTRY_PASSWORD_ENV: &str = "DEPLOYKIT_LOCAL_REGISTRY_PASSWORD";
/// Env var holding the edge's settings ([`EdgeSpec`] as JSON) for the edge process.
pub const EDGE_SPEC_ENV: &str = "DEPLOYKIT_LOCAL_EDGE_SPEC";
/// Env var through which `up` hands the admin token to the edge process (never argv, which
/// `ps` shows to every user; a process's environment is readable by its owner only).
pub const ADMIN_TOKEN_ENV: &str = "DEPLOYKIT_LOCAL_ADMIN_TOKEN";

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
    /// Where the edge appends the requests it refuses.
    #[serde(default)]
    pub refusal_log: Option<PathBuf>,
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
            refusal_log: None,
        }
    }

    /// The [`EdgeConfig`] for an edge on 127.0.0.1:`port` whose admin path asks for
    /// `admin_token`.
    pub fn edge_config(
        &self,
        port: u16,
        registry_password: String,
        admin_token: AdminToken,
    ) -> EdgeConfig {
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
            admin_token,
            refusal_log: self.refusal_log.clone(),
            ..EdgeConfig::default()
        }
    }
}

/// In the edge process: the [`EdgeConfig`] `up` asked for, from [`EDGE_SPEC_ENV`],
/// [`REGISTRY_PASSWORD_ENV`] and [`ADMIN_TOKEN_ENV`].
pub fn edge_config_from_env(port: u16) -> Result<EdgeConfig, LocalError> {
    let text = std::env::var(EDGE_SPEC_ENV).map_err(|e| LocalError::EdgeSpec {
        var: EDGE_SPEC_ENV,
        reason: e.to_string(),
    })?;
    let spec: EdgeSpec = serde_json::from_str(&text).map_err(|e| LocalError::EdgeSpec {
        var: EDGE_SPEC_ENV,
        reason: e.to_string(),
    })?;
    deploykit_localcloud::check_time_scale(spec.time_scale).map_err(|e| LocalError::EdgeSpec {
        var: EDGE_SPEC_ENV,
        reason: e.to_string(),
    })?;
    let token = std::env::var(ADMIN_TOKEN_ENV)
        .map_err(|e| e.to_string())
        .and_then(AdminToken::new)
        .map_err(|reason| LocalError::EdgeSpec {
            var: ADMIN_TOKEN_ENV,
            reason,
        })?;
    let password = std::env::var(REGISTRY_PASSWORD_ENV).unwrap_or_default();
    Ok(spec.edge_config(port, password, token))
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

/// The admin client of the recorded edge, with the token from state.json (faults, time scale,
/// reset; `health` is what `status` shows).
pub fn admin_client(state: &LocalState) -> Result<AdminClient, LocalError> {
    let token = state.admin_token.expose_secret();
    let client = if token.is_empty() {
        // An edge started by a version without tokens: its admin path asks for none.
        AdminClient::new(&state.edge_url)
    } else {
        let token = AdminToken::new(token).map_err(|reason| LocalError::BadState {
            path: state.state_file.clone(),
            reason: format!("admin_token: {reason}"),
        })?;
        AdminClient::with_token(&state.edge_url, token)
    };
    client.map_err(|source| LocalError::Admin {
        what: format!("the edge's admin client for {}", state.edge_url),
        source,
    })
}

fn admin(state: &LocalState) -> Result<AdminClient, LocalError> {
    admin_client(state)
}

/// The edge's health through its admin API; Ok(detail) when healthy.
pub(crate) fn health(state: &LocalState) -> Result<String, String> {
    let admin = admin(state).map_err(|e| e.to_string())?;
    let h = block_on(async { admin.health().await }).map_err(|e| e.to_string())?;
    let refused = match h.refused_requests {
        0 => String::new(),
        n => format!("; {n} request(s) refused (see logs/edge-refused.log)"),
    };
    Ok(format!(
        "GET /_localcloud/health: {}, time scale {}x{refused}",
        h.status, h.time_scale
    ))
}

/// Changes the running edge's time scale through its admin API (checked here first: out of
/// range is [`LocalError::TimeScale`] and nothing is sent).
pub fn set_time_scale(state: &LocalState, scale: f64) -> Result<(), LocalError> {
    deploykit_localcloud::check_time_scale(scale)?;
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
    // A new token for every edge process; recorded (0600) before the process starts.
    let token = AdminToken::random();
    state.admin_token = SecretString::from(token.expose().to_string());
    state.save(paths)?;
    let mut spec = EdgeSpec::from_state(state, opts.time_scale, workloads.clone());
    spec.refusal_log = Some(paths.log_file("edge-refused"));
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
        )
        .env(ADMIN_TOKEN_ENV, token.expose());
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
            refusal_log: Some("/s/logs/edge-refused.log".into()),
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
        assert!(!json.contains("password") && !json.contains("token"));
        let back: EdgeSpec = serde_json::from_str(&json).unwrap();
        let token = AdminToken::random();
        let cfg = back.edge_config(4600, "pw".into(), token.clone());
        assert_eq!(cfg.admin_token, token);
        assert_eq!(
            cfg.refusal_log.as_deref(),
            Some(std::path::Path::new("/s/logs/edge-refused.log"))
        );
        assert_eq!(cfg.bind, SocketAddr::from(([127, 0, 0, 1], 4600)));
        assert_eq!(cfg.registry.as_ref().unwrap().password, "pw");
        assert_eq!(cfg.postgres.as_ref().unwrap().port, 4569);
        let wc = cfg.workloads.expect("real workloads");
        assert_eq!(wc.instance_label, "/s");
        assert_eq!(wc.platform_image, w.platform_image);
        assert_eq!((wc.cpus, wc.memory_mb), (1.0, 1024));
        assert!(
            spec(None)
                .edge_config(4600, String::new(), AdminToken::random())
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
