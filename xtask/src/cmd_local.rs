//! `cargo xtask local up | down | status | env`: the local cloud (moto, the localcloud edge, a
//! registry and PostgreSQL on loopback). The machinery lives in `local/`; this file maps
//! arguments and renders results.

#[path = "local/mod.rs"]
pub mod local;

use std::net::SocketAddr;

use deploykit_localcloud::EdgeConfig;
use deploykit_localcloud::core::RegistryConfig;

use crate::{CliError, CliResult, Exit, GlobalArgs, render::Renderer};
#[allow(unused_imports)]
pub use local::{
    DEFAULT_EDGE_PORT, DEFAULT_TIME_SCALE, LocalState, Part, PgState, RegistryState, UpOptions,
    down, ensure_up, read_state, up,
};

#[derive(Debug, clap::Subcommand)]
pub enum LocalCommand {
    /// Start whatever is not running and healthy: PostgreSQL, the registry, moto, the edge.
    Up(UpArgs),
    /// Stop exactly the processes `up` started (by their pid files) and remove the state.
    Down(DownArgs),
    /// Show each part's pid, endpoint and health (exit 7 when one is unhealthy).
    Status,
    /// Print shell lines that point AWS tools at the local cloud: eval "$(cargo xtask local env)".
    Env,
    /// Make the local stand-in for the app's base image (deploykit-local/python:3.11-bookworm)
    /// from Debian packages, for machines that cannot pull python:3.12-slim.
    BaseImage(BaseImageArgs),
    /// Inject a failure into the running local cloud, to rehearse what a deploy does then.
    #[command(subcommand)]
    Fault(FaultCommand),
    /// Run the localcloud edge in the foreground (what `up` starts, detached).
    #[command(hide = true)]
    ServeEdge(ServeEdgeArgs),
}

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Loopback port of the edge (the AWS endpoint). deploy.toml's `local` target uses 4566.
    #[arg(long, env = "DEPLOYKIT_EDGE_PORT", default_value_t = DEFAULT_EDGE_PORT)]
    pub edge_port: u16,
    /// Service-time speed-up of the edge: 60 makes a five-minute launch take five seconds.
    #[arg(long, default_value_t = DEFAULT_TIME_SCALE)]
    pub time_scale: f64,
}

#[derive(Debug, clap::Subcommand)]
pub enum FaultCommand {
    /// The next deploy(s) of this EB environment or App Runner service fail their health
    /// checks, as a broken image or bundle would (EB: Red health; App Runner: ROLLBACK_SUCCEEDED).
    FailDeploy {
        /// The EB environment or App Runner service name.
        name: String,
        #[arg(long, default_value_t = 1)]
        count: u32,
    },
    /// The next request(s) to SERVICE (`elasticbeanstalk`, `apprunner`, `s3`, ... or `*`) get the
    /// service's throttling error.
    Throttle {
        service: String,
        #[arg(long, default_value_t = 1)]
        count: u32,
    },
    /// The next request(s) to SERVICE get HTTP 500 with the protocol's internal-failure code.
    ServerError {
        service: String,
        #[arg(long, default_value_t = 1)]
        count: u32,
    },
    /// The next request(s) to SERVICE have their connection closed without an answer.
    Drop {
        service: String,
        #[arg(long, default_value_t = 1)]
        count: u32,
    },
}

#[derive(Debug, clap::Args)]
pub struct BaseImageArgs {
    /// Make it again even when the Docker Engine already has it.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, clap::Args)]
pub struct DownArgs {
    /// Also delete the PostgreSQL cluster and the registry's images (venvs are kept).
    #[arg(long)]
    pub purge: bool,
}

#[derive(Debug, clap::Args)]
pub struct ServeEdgeArgs {
    #[arg(long)]
    pub port: u16,
    #[arg(long)]
    pub moto_url: Option<String>,
    /// Registry `host:port`; its password comes from DEPLOYKIT_LOCAL_REGISTRY_PASSWORD.
    #[arg(long)]
    pub registry: Option<String>,
    #[arg(long, default_value = "AWS")]
    pub registry_user: String,
    #[arg(long, default_value_t = DEFAULT_TIME_SCALE)]
    pub time_scale: f64,
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    #[arg(long, default_value = "123456789012")]
    pub account_id: String,
    /// The local PostgreSQL (`host:port`) that answers RDS; without it RDS goes to moto.
    #[arg(long)]
    pub postgres: Option<String>,
    #[arg(long, default_value = "postgres")]
    pub postgres_user: String,
}

pub fn run(cmd: LocalCommand, _global: &GlobalArgs, r: &Renderer) -> CliResult {
    match cmd {
        LocalCommand::Up(a) => run_up(a, r),
        LocalCommand::Down(a) => run_down(a, r),
        LocalCommand::Status => run_status(r),
        LocalCommand::Env => run_env(r),
        LocalCommand::BaseImage(a) => run_base_image(a, r),
        LocalCommand::Fault(f) => run_fault(f, r),
        LocalCommand::ServeEdge(a) => serve_edge(a),
    }
}

fn validate_scale(scale: f64) -> Result<(), CliError> {
    if !(scale.is_finite() && scale > 0.0) {
        return Err(CliError::new(
            Exit::Config,
            format!("--time-scale {scale} is not a positive number"),
        )
        .with_hint("use 1 for real time, 60 (the default) for a 5-minute launch in 5 s"));
    }
    Ok(())
}

fn run_up(a: UpArgs, r: &Renderer) -> CliResult {
    validate_scale(a.time_scale)?;
    let opts = UpOptions {
        edge_port: a.edge_port,
        time_scale: a.time_scale,
    };
    let (state, outcomes) = up(r, &opts)?;
    #[derive(serde::Serialize)]
    struct Out<'a> {
        state: &'a LocalState,
        parts: Vec<(Part, local::Outcome)>,
    }
    r.result(&Out { state: &state, parts: outcomes.clone() }, || {
        let mut s = String::new();
        for (part, outcome) in &outcomes {
            let pid = state.processes.get(part.name()).map(|p| p.pid.to_string()).unwrap_or_default();
            let what = match outcome {
                local::Outcome::AlreadyRunning => "already running",
                local::Outcome::Started => "started",
                local::Outcome::Restarted => "restarted",
            };
            s.push_str(&format!(
                "{:<9} {:<16} pid {:<8} {}\n",
                part.name(),
                what,
                pid,
                local::parts_endpoint(*part, &state)
            ));
        }
        s.push_str("\nPoint AWS tools at it:  eval \"$(cargo xtask local env)\"\nStop it:                cargo xtask local down");
        s
    });
    Ok(Exit::Success)
}

fn run_fault(cmd: FaultCommand, r: &Renderer) -> CliResult {
    use deploykit_localcloud::admin::{FaultKind, FaultRequest};
    let state = read_state().ok_or_else(|| {
        CliError::new(Exit::Failure, "the local cloud is not running")
            .with_hint("start it with `cargo xtask local up`")
    })?;
    let admin = deploykit_localcloud::AdminClient::new(&state.edge_url)
        .map_err(|e| CliError::from_error(Exit::Failure, &e))?;
    let (what, result) = crate::runtime().block_on(async {
        match &cmd {
            FaultCommand::FailDeploy { name, count } => (
                format!("the next {count} deploy(s) of {name} will fail their health checks"),
                admin.fail_next_deploy(name, *count).await,
            ),
            FaultCommand::Throttle { service, count }
            | FaultCommand::ServerError { service, count }
            | FaultCommand::Drop { service, count } => {
                let kind = match cmd {
                    FaultCommand::Throttle { .. } => FaultKind::Throttle,
                    FaultCommand::ServerError { .. } => FaultKind::ServerError,
                    _ => FaultKind::Drop,
                };
                (
                    format!("the next {count} {service} request(s) get {kind:?}"),
                    admin
                        .inject_fault(&FaultRequest::new(service.clone(), kind, *count))
                        .await,
                )
            }
        }
    });
    result.map_err(|e| CliError::from_error(Exit::Failure, &e))?;
    r.result(&what, || {
        format!("{what} (local cloud at {})", state.edge_url)
    });
    Ok(Exit::Success)
}

fn run_base_image(a: BaseImageArgs, r: &Renderer) -> CliResult {
    let made = local::base_image::ensure_python_base(a.force, r)?;
    let image = local::base_image::LOCAL_PYTHON_IMAGE;
    r.result(&image, || match made {
        local::base_image::BaseImage::AlreadyThere => {
            format!("{image} is already in the Docker Engine (--force makes it again)")
        }
        local::base_image::BaseImage::Made { seconds } => {
            format!("made {image} in {seconds}s")
        }
    });
    Ok(Exit::Success)
}

fn run_down(a: DownArgs, r: &Renderer) -> CliResult {
    let reports = down(r, None, a.purge)?;
    r.result(&reports, || {
        if reports.is_empty() {
            return "local cloud: nothing was running".to_string();
        }
        reports
            .iter()
            .map(|d| {
                format!(
                    "{:<9} pid {:<8} {}",
                    d.part,
                    d.pid.map(|p| p.to_string()).unwrap_or_default(),
                    d.result
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(Exit::Success)
}

fn run_status(r: &Renderer) -> CliResult {
    let Some((state, parts)) = local::status() else {
        let err = CliError::new(
            Exit::CheckFailed,
            "the local cloud is not running (no target/localcloud/state.json)",
        )
        .with_hint("start it with `cargo xtask local up`");
        return Err(err);
    };
    // Docker is optional (Route B only): it never fails the status.
    let unhealthy: Vec<&str> = parts
        .iter()
        .filter(|p| !p.healthy && p.part != "docker")
        .map(|p| p.part.as_str())
        .collect();
    #[derive(serde::Serialize)]
    struct Out<'a> {
        state: &'a LocalState,
        parts: &'a [local::PartStatus],
        healthy: bool,
    }
    r.result(
        &Out {
            state: &state,
            parts: &parts,
            healthy: unhealthy.is_empty(),
        },
        || {
            let mut s = format!(
                "{:<9} {:<8} {:<7} {:<45} {}\n",
                "part", "pid", "health", "endpoint", "detail"
            );
            for p in &parts {
                s.push_str(&format!(
                    "{:<9} {:<8} {:<7} {:<45} {}\n",
                    p.part,
                    p.pid.map(|x| x.to_string()).unwrap_or_else(|| "-".into()),
                    if p.healthy {
                        "ok"
                    } else if p.part == "docker" {
                        "absent"
                    } else {
                        "FAIL"
                    },
                    p.endpoint,
                    p.detail
                ));
            }
            s.push_str(&format!(
                "time scale {}x; state {}",
                state.time_scale,
                state.state_file.display()
            ));
            s
        },
    );
    if unhealthy.is_empty() {
        Ok(Exit::Success)
    } else {
        Err(CliError::new(Exit::CheckFailed, format!("unhealthy: {}", unhealthy.join(", ")))
            .with_hint("`cargo xtask local up` restarts the parts that are down; logs are in target/localcloud/logs/"))
    }
}

fn run_env(r: &Renderer) -> CliResult {
    let state = read_state().ok_or_else(|| {
        CliError::new(
            Exit::Failure,
            "the local cloud is not running (no target/localcloud/state.json)",
        )
        .with_hint("start it with `cargo xtask local up`, then eval \"$(cargo xtask local env)\"")
    })?;
    let vars = state.env_vars();
    let map: std::collections::BTreeMap<&str, &str> =
        vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    r.result(&map, || {
        vars.iter()
            .map(|(k, v)| format!("export {k}={}", local::shell_quote(v)))
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(Exit::Success)
}

/// The edge in the foreground until SIGTERM or Ctrl-C.
fn serve_edge(a: ServeEdgeArgs) -> CliResult {
    validate_scale(a.time_scale)?;
    let registry = a.registry.map(|endpoint| RegistryConfig {
        endpoint,
        username: a.registry_user.clone(),
        password: std::env::var(local::REGISTRY_PASSWORD_ENV).unwrap_or_default(),
    });
    let cfg = EdgeConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], a.port)),
        moto_url: a.moto_url,
        registry,
        time_scale: a.time_scale,
        region: a.region,
        account_id: a.account_id,
        postgres: a
            .postgres
            .as_deref()
            .and_then(|hp| hp.rsplit_once(':'))
            .and_then(|(host, port)| {
                Some(deploykit_localcloud::PostgresConfig {
                    host: host.to_string(),
                    port: port.parse().ok()?,
                    superuser: a.postgres_user.clone(),
                    password: None,
                })
            }),
        ..EdgeConfig::default()
    };
    crate::runtime().block_on(async move {
        let shutdown = async {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => {
                        let _ = tokio::signal::ctrl_c().await;
                        return;
                    }
                };
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        };
        deploykit_localcloud::serve(cfg, shutdown)
            .await
            .map_err(|e| {
                CliError::from_error(Exit::Failure, &e)
                    .with_hint("`cargo xtask local up --edge-port PORT` picks another port")
            })
    })?;
    Ok(Exit::Success)
}
