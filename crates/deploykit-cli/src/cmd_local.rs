//! `cargo xtask local up | down | status | env | base-image | fault`: the local cloud (moto,
//! the localcloud edge, a registry and PostgreSQL on loopback). The machinery lives in the
//! `deploykit-local` crate; this file maps arguments, errors and renders results.

use deploykit_local::{
    DEFAULT_EDGE_PORT, DEFAULT_TIME_SCALE, EdgeLauncher, LocalError, Outcome, Part, Paths,
    UpOptions,
};
use deploykit_report::{Diagnostic, Reporter};

use crate::{CliError, CliResult, Exit, GlobalArgs, render::Renderer};
pub use deploykit_local::LocalState;

/// The env var naming the directory whose `target/localcloud/` holds the local cloud to use
/// (several projects sharing one local cloud); default: the project's own directory.
pub const LOCAL_HOME_ENV: &str = "DEPLOYKIT_LOCAL_HOME";

/// The directory whose `target/localcloud/` holds the local cloud: `$DEPLOYKIT_LOCAL_HOME`,
/// else the project's.
pub fn local_home() -> std::path::PathBuf {
    std::env::var_os(LOCAL_HOME_ENV)
        .filter(|v| !v.is_empty())
        .map_or_else(crate::project_root, std::path::PathBuf::from)
}

/// The local cloud's paths: its state is in [`local_home`]'s `target/localcloud/`.
pub fn paths() -> Paths {
    Paths::for_project(local_home())
}

/// `up`'s options: the edge runs as `<this program> local serve-edge --port PORT`.
pub fn up_options(edge_port: u16, time_scale: f64) -> Result<UpOptions, CliError> {
    let launcher = EdgeLauncher::current_exe(&["local", "serve-edge"]).map_err(cli_err)?;
    Ok(UpOptions {
        edge_port,
        time_scale,
        ..UpOptions::new(launcher)
    })
}

/// The edge port `ensure_up` uses: DEPLOYKIT_EDGE_PORT, else the default.
pub(crate) fn env_edge_port() -> u16 {
    std::env::var("DEPLOYKIT_EDGE_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(DEFAULT_EDGE_PORT)
}

/// A library error for the user, with the command names the library leaves out.
pub fn cli_err(e: LocalError) -> CliError {
    let exit = if e.is_timeout() {
        Exit::Timeout
    } else {
        Exit::Failure
    };
    let hint = match &e {
        LocalError::EdgePortInUse { port } => Some(format!(
            "stop that program (`ss -ltnp 'sport = :{port}'` shows it), or pick another port: `cargo xtask local up --edge-port 4600` (and point deploy.toml's local target at it)"
        )),
        LocalError::NotHealthy { log, .. } => Some(format!(
            "run `cargo xtask local down` and try again; {} says why it is stuck",
            log.display()
        )),
        LocalError::NotRunning { .. } => Some("start it with `cargo xtask local up`".into()),
        LocalError::BadState { .. } => {
            Some("run `cargo xtask local down && cargo xtask local up`".into())
        }
        LocalError::NeedsRoot { .. } => Some(
            "run `sudo cargo xtask local base-image` once, or, where images can be pulled, remove `build_args.PYTHON_IMAGE` from [targets.local.apprunner] in deploy.toml to use python:3.12-slim".into(),
        ),
        LocalError::Admin { .. } => {
            Some("`cargo xtask local status` shows whether the edge is healthy".into())
        }
        _ => e.help(),
    };
    let err = CliError::from_error(exit, &e);
    match hint {
        Some(h) => err.with_hint(h),
        None => err,
    }
}

/// Starts whatever part of the local cloud is not running and healthy (silent when all are).
pub fn ensure_up(r: &dyn Reporter) -> Result<LocalState, CliError> {
    let opts = up_options(env_edge_port(), DEFAULT_TIME_SCALE)?;
    deploykit_local::ensure_up(&paths(), &opts, r).map_err(cli_err)
}

/// What other commands reach as `crate::cmd_local::local::...`.
pub mod local {
    /// The local stand-in for the app's base image.
    pub mod base_image {
        pub use deploykit_local::base_image::{BaseImage, is_local_base};

        /// Makes [`LOCAL_PYTHON_IMAGE`] unless the Docker Engine has it (or `force`).
        pub fn ensure_python_base(
            force: bool,
            r: &dyn deploykit_report::Reporter,
        ) -> Result<BaseImage, crate::CliError> {
            deploykit_local::base_image::ensure_python_base(&super::super::paths(), force, r)
                .map_err(super::super::cli_err)
        }
    }
}

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
    /// Service-time speed-up of the edge (1 to 10000): 60 makes a five-minute launch take five seconds.
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
    /// The matching request(s) get the service's throttling error.
    Throttle(FaultAt),
    /// The matching request(s) get HTTP 5xx with the protocol's internal-failure code.
    ServerError {
        #[command(flatten)]
        at: FaultAt,
        /// The HTTP status, 500-599.
        #[arg(long, default_value_t = 500)]
        status: u16,
    },
    /// The matching request(s) have their connection closed without an answer (never served).
    Drop(FaultAt),
    /// The matching request(s) are served, then their connection closes without the answer (a
    /// retry of a create then finds it made).
    LostResponse(FaultAt),
    /// The matching request(s) are held before they are served.
    Latency {
        #[command(flatten)]
        at: FaultAt,
        /// How long, in milliseconds.
        #[arg(long, default_value_t = 1000)]
        delay_ms: u64,
    },
    /// Show the faults that took effect so far.
    Hits,
    /// Disarm every fault (and drop requests still held) and forget the hits.
    Clear,
}

/// Which requests a fault applies to.
#[derive(Debug, clap::Args)]
pub struct FaultAt {
    /// The service (`elasticbeanstalk`, `apprunner`, `s3`, `rds`, ...) or `*` for every one.
    pub service: String,
    /// Only requests of this operation (`CreateEnvironment`, `PutObject`, ...).
    #[arg(long)]
    pub operation: Option<String>,
    /// How many matching requests get the fault.
    #[arg(long, default_value_t = 1)]
    pub count: u32,
    /// How many matching requests pass untouched first.
    #[arg(long, default_value_t = 0)]
    pub skip: u32,
    /// Apply --count and --skip to each operation on its own (with `*` and --count 1: the first
    /// call of every operation a run makes).
    #[arg(long)]
    pub each_operation: bool,
}

impl FaultAt {
    fn request(
        &self,
        kind: deploykit_localcloud::admin::FaultKind,
    ) -> deploykit_localcloud::admin::FaultRequest {
        let mut f =
            deploykit_localcloud::admin::FaultRequest::new(self.service.clone(), kind, self.count)
                .skip(self.skip);
        f.operation.clone_from(&self.operation);
        f.each_operation = self.each_operation;
        f
    }
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
    /// Its other settings come from DEPLOYKIT_LOCAL_EDGE_SPEC (set by `up`).
    #[arg(long)]
    pub port: u16,
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

fn run_up(a: UpArgs, r: &Renderer) -> CliResult {
    let opts = up_options(a.edge_port, a.time_scale)?;
    let (state, outcomes) = deploykit_local::up(&paths(), &opts, r).map_err(cli_err)?;
    #[derive(serde::Serialize)]
    struct Out<'a> {
        state: &'a LocalState,
        parts: Vec<(Part, Outcome)>,
    }
    r.result(&Out { state: &state, parts: outcomes.clone() }, || {
        let mut s = String::new();
        for (part, outcome) in &outcomes {
            let pid = state.processes.get(part.name()).map(|p| p.pid.to_string()).unwrap_or_default();
            let what = match outcome {
                Outcome::AlreadyRunning => "already running",
                Outcome::Started => "started",
                Outcome::Restarted => "restarted",
            };
            s.push_str(&format!(
                "{:<9} {:<16} pid {:<8} {}\n",
                part.name(),
                what,
                pid,
                deploykit_local::endpoint(*part, &state)
            ));
        }
        s.push_str(&match &state.workloads {
            Some(w) => format!(
                "workloads real: containers on {} ({} CPU, {} MiB each)\n",
                w.platform_image, w.cpus, w.memory_mb
            ),
            None => "workloads simulated (see the warning above for why)\n".to_string(),
        });
        s.push_str("\nPoint AWS tools at it:  eval \"$(cargo xtask local env)\"\nStop it:                cargo xtask local down");
        s
    });
    Ok(Exit::Success)
}

fn run_fault(cmd: FaultCommand, r: &Renderer) -> CliResult {
    use deploykit_localcloud::admin::FaultKind;
    let state = deploykit_local::load_state(&paths().state).map_err(cli_err)?;
    let admin = deploykit_local::admin_client(&state).map_err(cli_err)?;
    let armed = |at: &FaultAt, what: &str| {
        let which = at.operation.as_deref().map_or_else(
            || format!("{} request(s)", at.service),
            |op| format!("{} {op} request(s)", at.service),
        );
        let per = if at.each_operation {
            " per operation"
        } else {
            ""
        };
        let skip = if at.skip > 0 {
            format!(" after {} pass", at.skip)
        } else {
            String::new()
        };
        format!("{}{per} {which}{skip} get {what}", at.count)
    };
    if let FaultCommand::Hits = cmd {
        let hits = crate::runtime()
            .block_on(admin.fault_hits())
            .map_err(|e| CliError::from_error(Exit::Failure, &e))?;
        r.result(&hits, || {
            if hits.is_empty() {
                return "no fault took effect".to_string();
            }
            hits.iter()
                .map(|h| format!("{:<14} {} {}", h.fault, h.service, h.operation))
                .collect::<Vec<_>>()
                .join("\n")
        });
        return Ok(Exit::Success);
    }
    let (what, result) = crate::runtime().block_on(async {
        match &cmd {
            FaultCommand::FailDeploy { name, count } => (
                format!("the next {count} deploy(s) of {name} will fail their health checks"),
                admin.fail_next_deploy(name, *count).await,
            ),
            FaultCommand::Throttle(at) => (
                armed(at, "throttled"),
                admin.inject_fault(&at.request(FaultKind::Throttle)).await,
            ),
            FaultCommand::ServerError { at, status } => {
                let mut f = at.request(FaultKind::ServerError);
                f.status = Some(*status);
                (
                    armed(at, &format!("HTTP {status}")),
                    admin.inject_fault(&f).await,
                )
            }
            FaultCommand::Drop(at) => (
                armed(at, "a dropped connection"),
                admin.inject_fault(&at.request(FaultKind::Drop)).await,
            ),
            FaultCommand::LostResponse(at) => (
                armed(at, "served, then their answer lost"),
                admin
                    .inject_fault(&at.request(FaultKind::LostResponse))
                    .await,
            ),
            FaultCommand::Latency { at, delay_ms } => (
                armed(at, &format!("held {delay_ms} ms")),
                admin
                    .inject_fault(
                        &at.request(FaultKind::Latency)
                            .delay(std::time::Duration::from_millis(*delay_ms)),
                    )
                    .await,
            ),
            FaultCommand::Hits => (String::new(), Ok(())),
            FaultCommand::Clear => (
                "every fault disarmed".to_string(),
                admin.clear_faults().await,
            ),
        }
    });
    result.map_err(|e| CliError::from_error(Exit::Failure, &e))?;
    r.result(&what, || {
        format!("{what} (local cloud at {})", state.edge_url)
    });
    Ok(Exit::Success)
}

fn run_base_image(a: BaseImageArgs, r: &Renderer) -> CliResult {
    use deploykit_local::base_image::{BaseImage, LOCAL_PYTHON_IMAGE};
    let made = local::base_image::ensure_python_base(a.force, r)?;
    let image = LOCAL_PYTHON_IMAGE;
    r.result(&image, || match made {
        BaseImage::AlreadyThere => {
            format!("{image} is already in the Docker Engine (--force makes it again)")
        }
        BaseImage::Made { seconds } => {
            format!("made {image} in {seconds}s")
        }
    });
    Ok(Exit::Success)
}

fn run_down(a: DownArgs, r: &Renderer) -> CliResult {
    let reports = deploykit_local::down(&paths(), None, a.purge, r).map_err(cli_err)?;
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
    let Some((state, parts)) = deploykit_local::status(&paths()) else {
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
    // This cloud's workload containers (none when Docker is absent).
    let docker_up = parts.iter().any(|p| p.part == "docker" && p.healthy);
    let containers = if docker_up {
        deploykit_local::workloads::list(&paths(), Some(&state)).unwrap_or_else(|e| {
            r.report(deploykit_report::Event::warn(format!(
                "could not list the workload containers: {e}"
            )));
            Vec::new()
        })
    } else {
        Vec::new()
    };
    #[derive(serde::Serialize)]
    struct Out<'a> {
        state: &'a LocalState,
        parts: &'a [deploykit_local::PartStatus],
        healthy: bool,
        workloads: &'a [deploykit_local::workloads::WorkloadContainer],
    }
    r.result(
        &Out {
            state: &state,
            parts: &parts,
            healthy: unhealthy.is_empty(),
            workloads: &containers,
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
            match &state.workloads {
                Some(w) => s.push_str(&format!(
                    "workloads real ({}, {} CPU, {} MiB each): {} container(s)\n",
                    w.platform_image,
                    w.cpus,
                    w.memory_mb,
                    containers.len()
                )),
                None => s.push_str("workloads simulated (the edge runs no containers)\n"),
            }
            if !containers.is_empty() {
                s.push_str(&format!(
                    "  {:<40} {:<10} {:<30} {}\n",
                    "container", "kind", "owner", "state"
                ));
                for c in &containers {
                    s.push_str(&format!(
                        "  {:<40} {:<10} {:<30} {}\n",
                        c.name, c.kind, c.owner, c.state
                    ));
                }
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
    let state = deploykit_local::load_state(&paths().state).map_err(|e| {
        cli_err(e).with_hint(
            "start it with `cargo xtask local up`, then eval \"$(cargo xtask local env)\"",
        )
    })?;
    let vars = state.env_vars();
    let map: std::collections::BTreeMap<&str, &str> =
        vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    r.result(&map, || {
        vars.iter()
            .map(|(k, v)| format!("export {k}={}", deploykit_local::shell_quote(v)))
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(Exit::Success)
}

/// The edge in the foreground until SIGTERM or Ctrl-C, as `up` asked for it.
fn serve_edge(a: ServeEdgeArgs) -> CliResult {
    deploykit_local::run_edge(a.port).map_err(|e| {
        cli_err(e).with_hint("`cargo xtask local up --edge-port PORT` picks another port")
    })?;
    Ok(Exit::Success)
}
