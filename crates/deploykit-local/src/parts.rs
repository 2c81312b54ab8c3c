//! The four processes of the local cloud: how each is installed, started, probed and stopped.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use deploykit_report::{Event, Reporter};
use secrecy::{ExposeSecret, SecretString};

use crate::pg::which;
use crate::procs::{self, Liveness, ProcRecord, Stopped};
use crate::{
    LocalError, LocalState, Outcome, Paths, PgState, RegistryState, STATE_SCHEMA, UpOptions, health,
};

/// moto, pinned: the one version our edge and tests are checked against.
pub const MOTO_VERSION: &str = "5.2.5";
const PREFERRED_MOTO_PORT: u16 = 4567;
const PREFERRED_REGISTRY_PORT: u16 = 4568;
const PREFERRED_PG_PORT: u16 = 4569;
pub const REGION: &str = "us-east-1";
pub const ACCOUNT_ID: &str = "123456789012";

/// One process of the local cloud, in start order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    Postgres,
    Registry,
    Moto,
    Edge,
}

impl Part {
    pub const ALL: [Part; 4] = [Part::Postgres, Part::Registry, Part::Moto, Part::Edge];

    pub fn name(self) -> &'static str {
        match self {
            Part::Postgres => "postgres",
            Part::Registry => "registry",
            Part::Moto => "moto",
            Part::Edge => "edge",
        }
    }

    pub fn from_name(name: &str) -> Option<Part> {
        Part::ALL.into_iter().find(|p| p.name() == name)
    }
}

pub(crate) fn port_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// `preferred` when free, else a free ephemeral port.
pub(crate) fn pick_port(preferred: u16) -> Result<u16, LocalError> {
    if port_free(preferred) {
        return Ok(preferred);
    }
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| LocalError::io("finding a free loopback port", e))
}

pub fn fresh_state(paths: &Paths, opts: &UpOptions) -> Result<LocalState, LocalError> {
    let moto_port = pick_port(PREFERRED_MOTO_PORT)?;
    let mut registry_port = pick_port(PREFERRED_REGISTRY_PORT)?;
    while registry_port == moto_port {
        registry_port = pick_port(0)?;
    }
    let mut pg_port = pick_port(PREFERRED_PG_PORT)?;
    while pg_port == moto_port || pg_port == registry_port {
        pg_port = pick_port(0)?;
    }
    Ok(LocalState {
        schema: STATE_SCHEMA,
        state_file: paths.state.clone(),
        region: REGION.into(),
        account_id: ACCOUNT_ID.into(),
        time_scale: opts.time_scale,
        edge_url: format!("http://127.0.0.1:{}", opts.edge_port),
        edge_port: opts.edge_port,
        moto_url: format!("http://127.0.0.1:{moto_port}"),
        moto_port,
        registry: RegistryState {
            endpoint: format!("127.0.0.1:{registry_port}"),
            port: registry_port,
            username: "AWS".into(),
            password: SecretString::from(String::new()),
        },
        pg: PgState {
            host: "127.0.0.1".into(),
            port: pg_port,
            superuser: "postgres".into(),
            database_url: format!("postgresql://postgres@127.0.0.1:{pg_port}/postgres"),
            data_dir: paths.pg.join("data"),
            socket_dir: paths.pg.join("sock"),
            bin_dir: PathBuf::new(),
            tls: None,
        },
        processes: Default::default(),
        workloads: None,
        admin_token: SecretString::from(String::new()),
    })
}

pub fn read_pid_file(paths: &Paths, part: Part) -> Option<ProcRecord> {
    let text = fs::read_to_string(paths.pid_file(part)).ok()?;
    let mut lines = text.lines();
    Some(ProcRecord {
        pid: lines.next()?.trim().parse().ok()?,
        start_time: lines.next()?.trim().parse().ok()?,
        marker: lines.next()?.to_string(),
    })
}

pub(crate) fn record(
    paths: &Paths,
    state: &mut LocalState,
    part: Part,
    rec: &ProcRecord,
) -> Result<(), LocalError> {
    let path = paths.pid_file(part);
    fs::write(
        &path,
        format!("{}\n{}\n{}\n", rec.pid, rec.start_time, rec.marker),
    )
    .map_err(|e| LocalError::io(format!("writing {}", path.display()), e))?;
    state.processes.insert(part.name().to_string(), rec.clone());
    state.save(paths)
}

/// Makes sure `part` runs and is healthy. `force` restarts it even when healthy (the edge,
/// after the registry got a new password).
pub fn ensure(
    part: Part,
    paths: &Paths,
    state: &mut LocalState,
    opts: &UpOptions,
    force: bool,
    r: &dyn Reporter,
) -> Result<Outcome, LocalError> {
    let mut rec = read_pid_file(paths, part);
    if rec.is_none() && part == Part::Postgres {
        rec = crate::pg::adopt_postmaster(paths, state);
    }
    let outcome = match rec {
        None => Outcome::Started,
        Some(rec) => match rec.liveness() {
            Liveness::Ours => match health(part, state) {
                Ok(_) if !force => {
                    r.report(Event::StepSkipped {
                        step: format!("local-{}", part.name()),
                        reason: format!(
                            "{} already running (pid {}) at {}",
                            part.name(),
                            rec.pid,
                            endpoint(part, state)
                        ),
                    });
                    return Ok(Outcome::AlreadyRunning);
                }
                Ok(_) => {
                    r.report(Event::info(format!(
                        "restarting {} (pid {}) to pick up the new registry credentials",
                        part.name(),
                        rec.pid
                    )));
                    stop(paths, part, &rec, Some(state), r)?;
                    Outcome::Restarted
                }
                Err(why) => {
                    r.report(Event::warn(format!(
                        "{} (pid {}) runs but is unhealthy ({why}); restarting it",
                        part.name(),
                        rec.pid
                    )));
                    stop(paths, part, &rec, Some(state), r)?;
                    Outcome::Restarted
                }
            },
            Liveness::Gone => {
                r.report(Event::warn(format!(
                    "stale pid file for {}: pid {} is not running; starting a new one",
                    part.name(),
                    rec.pid
                )));
                Outcome::Restarted
            }
            Liveness::NotOurs(why) => {
                r.report(Event::warn(format!(
                    "stale pid file for {}: {why}; starting a new one",
                    part.name()
                )));
                Outcome::Restarted
            }
        },
    };
    let _ = fs::remove_file(paths.pid_file(part));
    state.processes.remove(part.name());
    match part {
        Part::Postgres => crate::pg::start_postgres(paths, state, r)?,
        Part::Registry => start_registry(paths, state, r)?,
        Part::Moto => start_moto(paths, state, r)?,
        Part::Edge => {
            let workloads = crate::workloads::decide(paths, opts, r);
            crate::edge::start(paths, state, opts, workloads, r)?
        }
    }
    Ok(outcome)
}

/// Probes one part; Ok(detail) when healthy.
pub fn health(part: Part, state: &LocalState) -> Result<String, String> {
    match part {
        Part::Postgres => {
            let out = Command::new(state.pg.bin_dir.join("pg_isready"))
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &state.pg.port.to_string(),
                    "-t",
                    "3",
                    "-U",
                    "postgres",
                ])
                .output()
                .map_err(|e| format!("running pg_isready: {e}"))?;
            let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if out.status.success() {
                Ok(text)
            } else {
                Err(format!("pg_isready: {text}"))
            }
        }
        Part::Registry => {
            let code = health::get(state.registry.port, "/v2/")?;
            if code != 401 && code != 200 {
                return Err(format!("GET /v2/ answered {code}, expected 401 or 200"));
            }
            use base64::Engine;
            let basic = base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                state.registry.username,
                state.registry.password.expose_secret()
            ));
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], state.registry.port));
            match health::http(
                addr,
                "GET",
                "/v2/",
                &[("Authorization", format!("Basic {basic}"))],
                None,
            )? {
                (200, _) => Ok("v2 API answers; credentials accepted".into()),
                (code, _) => Err(format!("GET /v2/ with our credentials answered {code}")),
            }
        }
        Part::Moto => match health::get(state.moto_port, "/moto-api/")? {
            200 => Ok("GET /moto-api/ answered 200".into()),
            code => Err(format!("GET /moto-api/ answered {code}")),
        },
        Part::Edge => crate::edge::health(state),
    }
}

pub fn endpoint(part: Part, state: &LocalState) -> String {
    match part {
        Part::Postgres => state.pg.database_url.clone(),
        Part::Registry => format!("http://{}", state.registry.endpoint),
        Part::Moto => state.moto_url.clone(),
        Part::Edge => state.edge_url.clone(),
    }
}

/// Waits until `part` is healthy, failing early with its log when the process dies.
pub(crate) fn wait_healthy(
    part: Part,
    state: &LocalState,
    rec: &ProcRecord,
    log: &Path,
    bound: Duration,
    r: &dyn Reporter,
) -> Result<(), LocalError> {
    let start = Instant::now();
    let mut last = Instant::now();
    loop {
        let h = health(part, state);
        if h.is_ok() {
            return Ok(());
        }
        if rec.liveness() != Liveness::Ours {
            return Err(LocalError::Exited {
                part: part.name().to_string(),
                log: log.to_path_buf(),
                tail: procs::tail(log, 20),
            });
        }
        if start.elapsed() >= bound {
            return Err(LocalError::NotHealthy {
                part: part.name().to_string(),
                pid: rec.pid,
                secs: bound.as_secs(),
                why: h.err().unwrap_or_default(),
                log: log.to_path_buf(),
                tail: procs::tail(log, 20),
            });
        }
        if last.elapsed() >= Duration::from_secs(2) {
            last = Instant::now();
            r.report(Event::Waiting {
                step: format!("local-{}", part.name()),
                for_what: format!("{} to answer at {}", part.name(), endpoint(part, state)),
                waited: start.elapsed(),
                timeout: bound,
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Stops one part: PostgreSQL through `pg_ctl stop` (falling back to signals), the rest with
/// SIGTERM then SIGKILL, each only after checking the pid is still ours.
pub fn stop(
    paths: &Paths,
    part: Part,
    rec: &ProcRecord,
    state: Option<&LocalState>,
    r: &dyn Reporter,
) -> Result<Stopped, LocalError> {
    if part == Part::Postgres
        && rec.liveness() == Liveness::Ours
        && let Some(s) = state
    {
        let mut cmd = crate::pg::pg_tool(&s.pg.bin_dir, "pg_ctl")?;
        cmd.arg("-D")
            .arg(&s.pg.data_dir)
            .args(["-m", "fast", "-w", "-t", "30", "stop"]);
        let log = paths.log_file("pg_ctl");
        match procs::run_logged(
            &mut cmd,
            &log,
            "pg_ctl stop (PostgreSQL fast shutdown)",
            Duration::from_secs(40),
            false,
            r,
        ) {
            Ok(()) if rec.liveness() != Liveness::Ours => return Ok(Stopped::Terminated),
            Ok(()) => {}
            Err(e) => r.report(Event::warn(format!("{e}; falling back to signals"))),
        }
    }
    procs::stop(rec, part.name(), Duration::from_secs(10), r)
}

// ---------------------------------------------------------------- registry

fn registry_bin(paths: &Paths, r: &dyn Reporter) -> Result<PathBuf, LocalError> {
    let find = || {
        std::env::var_os("DEPLOYKIT_REGISTRY_BIN")
            .map(PathBuf::from)
            .or_else(|| Some(PathBuf::from("/usr/bin/docker-registry")).filter(|p| p.is_file()))
            .or_else(|| which("docker-registry"))
    };
    if let Some(b) = find() {
        return Ok(b);
    }
    let log = paths.log_file("apt");
    apt_install(
        "docker-registry",
        "docker-registry (the CNCF distribution registry server) is not installed; the local cloud needs it for image pushes",
        "(or set DEPLOYKIT_REGISTRY_BIN to a distribution `registry` binary)",
        &log,
        r,
    )?;
    find().ok_or_else(|| LocalError::Failed {
        what: "apt-get installed docker-registry but /usr/bin/docker-registry is missing".into(),
        help: Some(format!("read {}", log.display())),
    })
}

/// Installs a Debian package when we are root on Debian; otherwise an error `missing` with the
/// exact command to run (`alternative` appended to the hint).
pub(super) fn apt_install(
    package: &str,
    missing: &str,
    alternative: &str,
    log: &Path,
    r: &dyn Reporter,
) -> Result<(), LocalError> {
    let debian = Path::new("/etc/debian_version").exists() && which("apt-get").is_some();
    if !(crate::pg::is_root() && debian) {
        return Err(LocalError::Missing {
            what: missing.to_string(),
            install: format!(
                "install it: `sudo apt-get update && sudo apt-get install -y {package}` {alternative}"
            ),
        });
    }
    r.report(Event::info(format!(
        "{package} is not installed; installing Debian's package (we are root on Debian): apt-get update && apt-get install -y {package}"
    )));
    for (args, bound) in [
        (vec!["update"], 600),
        (
            vec!["install", "-y", "--no-install-recommends", package],
            900,
        ),
    ] {
        procs::run_logged(
            Command::new("apt-get")
                .args(&args)
                .env("DEBIAN_FRONTEND", "noninteractive"),
            log,
            &format!("apt-get {}", args.join(" ")),
            Duration::from_secs(bound),
            false,
            r,
        )?;
    }
    Ok(())
}

fn random_hex(bytes: usize) -> Result<String, LocalError> {
    use std::io::Read;
    let mut buf = vec![0u8; bytes];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| LocalError::io("reading /dev/urandom", e))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn start_registry(
    paths: &Paths,
    state: &mut LocalState,
    r: &dyn Reporter,
) -> Result<(), LocalError> {
    let bin = registry_bin(paths, r)?;
    let data = paths.registry.join("data");
    fs::create_dir_all(&data)
        .map_err(|e| LocalError::io(format!("creating {}", data.display()), e))?;
    if !port_free(state.registry.port) {
        let old = state.registry.port;
        state.registry.port = pick_port(0)?;
        r.report(Event::warn(format!(
            "port {old} is taken; the registry moves to port {}",
            state.registry.port
        )));
    }
    let port = state.registry.port;
    state.registry.endpoint = format!("127.0.0.1:{port}");
    // A new password on every start. bcrypt cost 6: the registry checks it on every request
    // and this is a loopback registry with a throwaway password.
    let password = random_hex(24)?;
    let hash = bcrypt::hash_with_result(&password, 6)
        .map_err(|e| LocalError::Failed {
            what: format!("hashing the registry password: {e}"),
            help: None,
        })?
        .format_for_version(bcrypt::Version::TwoY);
    let htpasswd = paths.registry.join("htpasswd");
    fs::write(&htpasswd, format!("{}:{hash}\n", state.registry.username))
        .map_err(|e| LocalError::io(format!("writing {}", htpasswd.display()), e))?;
    let config = paths.registry.join("config.yml");
    let yaml = format!(
        "# Generated by deploykit-local's `up`; rewritten on every start.\n\
         version: 0.1\n\
         log:\n  level: info\n  formatter: text\n\
         storage:\n  filesystem:\n    rootdirectory: {data}\n  delete:\n    enabled: true\n\
         http:\n  addr: 127.0.0.1:{port}\n  secret: {secret}\n\
         auth:\n  htpasswd:\n    realm: deploykit-local\n    path: {htpasswd}\n",
        data = data.display(),
        secret = random_hex(16)?,
        htpasswd = htpasswd.display(),
    );
    fs::write(&config, yaml)
        .map_err(|e| LocalError::io(format!("writing {}", config.display()), e))?;
    state.registry.password = SecretString::from(password);
    state.save(paths)?;
    let log = paths.log_file("registry");
    let pid = procs::spawn_detached(
        Command::new(&bin).arg("serve").arg(&config),
        &log,
        "docker-registry",
    )?;
    let rec = ProcRecord::capture(pid, format!("serve {}", config.display())).ok_or_else(|| {
        LocalError::Exited {
            part: "docker-registry".into(),
            log: log.clone(),
            tail: procs::tail(&log, 20),
        }
    })?;
    record(paths, state, Part::Registry, &rec)?;
    wait_healthy(
        Part::Registry,
        state,
        &rec,
        &log,
        Duration::from_secs(30),
        r,
    )?;
    r.report(Event::info(format!(
        "registry at {} (pid {pid}), user AWS",
        state.registry.endpoint
    )));
    Ok(())
}

// ---------------------------------------------------------------- moto

/// The moto venv, `target/venvs/moto`, created and pinned on first use.
pub fn ensure_moto_venv(paths: &Paths, r: &dyn Reporter) -> Result<PathBuf, LocalError> {
    let venv = paths.venvs.join("moto");
    let want = format!("moto[server]=={MOTO_VERSION}");
    let stamp = venv.join(".deploykit-installed");
    if fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == want)
        && venv.join("bin/moto_server").exists()
    {
        return Ok(venv);
    }
    let log = paths.log_file("moto-install");
    if !venv.join("bin/python").exists() {
        let python = std::env::var("DEPLOYKIT_PYTHON").unwrap_or_else(|_| "python3".into());
        r.report(Event::info(format!(
            "creating the moto venv in {}",
            venv.display()
        )));
        procs::run_logged(
            Command::new(&python).args(["-m", "venv"]).arg(&venv),
            &log,
            &format!("{python} -m venv {}", venv.display()),
            Duration::from_secs(180),
            false,
            r,
        )
        .map_err(|e| e.with_help("install Python 3.11+ with venv support (Debian: `apt-get install -y python3 python3-venv`) or set DEPLOYKIT_PYTHON"))?;
    }
    r.report(Event::info(format!(
        "installing {want} into {} (first use only)",
        venv.display()
    )));
    procs::run_logged(
        Command::new(venv.join("bin/python")).args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "-q",
            &want,
        ]),
        &log,
        &format!("pip install {want}"),
        Duration::from_secs(900),
        false,
        r,
    )
    .map_err(|e| {
        e.with_help(
            "PyPI must be reachable for the first start of the local cloud; check your network or proxy settings",
        )
    })?;
    fs::write(&stamp, &want)
        .map_err(|e| LocalError::io(format!("writing {}", stamp.display()), e))?;
    Ok(venv)
}

/// `MOTO_ACM_VALIDATION_WAIT` for the local cloud's moto: seconds from an ACM request to ISSUED.
pub const MOTO_ACM_VALIDATION_WAIT_SECS: &str = "2";

fn start_moto(paths: &Paths, state: &mut LocalState, r: &dyn Reporter) -> Result<(), LocalError> {
    let venv = ensure_moto_venv(paths, r)?;
    if !port_free(state.moto_port) {
        let old = state.moto_port;
        state.moto_port = pick_port(0)?;
        r.report(Event::warn(format!(
            "port {old} is taken; moto moves to port {}",
            state.moto_port
        )));
    }
    let port = state.moto_port;
    state.moto_url = format!("http://127.0.0.1:{port}");
    let script = venv.join("bin/moto_server");
    let log = paths.log_file("moto");
    let pid = procs::spawn_detached(
        Command::new(&script)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            // AWS's managed policies (arn:aws:iam::aws:policy/...) exist in every real account;
            // `iam ensure` attaches them, so the local IAM must know them too.
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            // moto issues a requested ACM certificate this many seconds after the request
            // (default 60). AWS takes minutes once the validation records resolve; at the
            // edge's default time scale (300x) that is a few seconds.
            .env("MOTO_ACM_VALIDATION_WAIT", MOTO_ACM_VALIDATION_WAIT_SECS),
        &log,
        "moto_server",
    )?;
    let rec = ProcRecord::capture(pid, format!("{} -H 127.0.0.1 -p {port}", script.display()))
        .ok_or_else(|| LocalError::Exited {
            part: "moto".into(),
            log: log.clone(),
            tail: procs::tail(&log, 20),
        })?;
    record(paths, state, Part::Moto, &rec)?;
    wait_healthy(Part::Moto, state, &rec, &log, Duration::from_secs(90), r)?;
    r.report(Event::info(format!(
        "moto {MOTO_VERSION} at {} (pid {pid})",
        state.moto_url
    )));
    Ok(())
}
