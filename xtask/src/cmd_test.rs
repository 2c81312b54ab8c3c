//! `cargo xtask test`: the platform image (made when missing), local cloud up, the example
//! app's venv, the workspace's Rust tests (the `db migrate` tests use that venv), the app's
//! pytest suite against the local PostgreSQL and moto, then local cloud down (only what this command started), always: on failure, on a
//! panic and on Ctrl-C or SIGTERM.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use deploykit_report::{Event, Reporter};
use sha2::{Digest, Sha256};

use deploykit_local::{LocalState, Outcome, Part, Paths, procs};

use crate::{CliError, CliResult, Exit, GlobalArgs};
use deploykit_cli::cmd_local::{cli_err, paths as local_paths, up_options};
use deploykit_cli::render::Renderer;

/// The example app whose pytest suite runs here.
const APP_DIR: &str = "examples/budgetsync";
const TEST_DB: &str = "budgetsync_test";

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Edge time scale while the tests run (a five-minute launch takes one second at 300).
    #[arg(long, default_value_t = 300.0)]
    pub time_scale: f64,
    /// Extra arguments passed to `cargo test` (after `--`), e.g. `-- -p deploykit-bundle`.
    #[arg(last = true)]
    pub cargo_args: Vec<String>,
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

#[derive(Debug, serde::Serialize)]
struct StepResult {
    step: String,
    ok: bool,
    seconds: f64,
    detail: String,
}

pub fn run(args: TestArgs, _global: &GlobalArgs, r: &Renderer) -> CliResult {
    install_signal_handlers(r);
    let started = Instant::now();
    let paths = local_paths();
    let mut steps: Vec<StepResult> = Vec::new();

    // 0. the platform image of real workloads (and Route B's local base), before the edge starts
    let t = Instant::now();
    steps.push(finish(
        "base image (deploykit-local/python)",
        t,
        base_image(&paths, r),
    ));

    // 1. local up
    let t = Instant::now();
    let opts = up_options(
        std::env::var("DEPLOYKIT_EDGE_PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(deploykit_local::DEFAULT_EDGE_PORT),
        args.time_scale,
    )?;
    let previous_scale = deploykit_local::read_state(&paths).map(|s| s.time_scale);
    // Parts that already ran before this command: never stopped by it.
    let running_before: Vec<Part> = Part::ALL
        .into_iter()
        .filter(|p| {
            deploykit_local::read_pid_file(&paths, *p)
                .is_some_and(|rec| rec.liveness() == procs::Liveness::Ours)
        })
        .collect();
    let up = deploykit_local::up(&paths, &opts, r).map_err(cli_err);
    let mut guard = DownGuard {
        paths: paths.clone(),
        parts: Vec::new(),
        restore_scale: None,
        done: false,
    };
    let state = match up {
        Ok((state, outcomes)) => {
            guard.parts = outcomes
                .iter()
                .filter(|(_, o)| *o != Outcome::AlreadyRunning)
                .map(|(p, _)| *p)
                .collect();
            if !guard.parts.contains(&Part::Edge) {
                guard.restore_scale =
                    previous_scale.filter(|s| (s - args.time_scale).abs() > f64::EPSILON);
            }
            let detail = if guard.parts.is_empty() {
                "already running; it stays up afterwards".to_string()
            } else {
                format!(
                    "started {}",
                    guard
                        .parts
                        .iter()
                        .map(|p| p.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            steps.push(step("local up", true, t, detail));
            Some(state)
        }
        Err(e) => {
            steps.push(step("local up", false, t, e.to_string()));
            // Whatever it did start before failing is recorded in the pid files: stop it.
            guard.parts = Part::ALL
                .into_iter()
                .filter(|p| paths.pid_file(*p).exists() && !running_before.contains(p))
                .collect();
            None
        }
    };

    if let Some(state) = &state {
        // 2. the example app's venv: the Rust tests of `db migrate` run its Flask-Migrate too
        let mut venv = None;
        if !interrupted() {
            let t = Instant::now();
            let res = app_venv(&paths, r);
            let ok = res.as_ref().ok().map(|(v, _)| v.clone());
            steps.push(finish(
                "app venv (target/venvs/app)",
                t,
                res.map(|(_, detail)| detail),
            ));
            venv = ok;
        }
        // 3. the workspace's Rust tests (without the venv, the migrate tests fail and say why)
        if !interrupted() {
            let t = Instant::now();
            let res = cargo_tests(&paths, state, venv.as_deref(), &args.cargo_args, r);
            steps.push(finish("cargo test --workspace --all-targets", t, res));
        }
        // 4. the example app's pytest suite
        if !interrupted()
            && let Some(venv) = &venv
        {
            let t = Instant::now();
            let res = pytest(&paths, state, venv, r);
            steps.push(finish("pytest examples/budgetsync", t, res));
        }
    }

    // 5. local down, always
    let t = Instant::now();
    let down = guard.run(r);
    let down_name = "local down";
    match down {
        Ok(detail) => steps.push(step(down_name, true, t, detail)),
        Err(e) => steps.push(step(down_name, false, t, e.to_string())),
    }

    let failed: Vec<&StepResult> = steps.iter().filter(|s| !s.ok).collect();
    let total = started.elapsed().as_secs_f64();
    r.result(&steps, || {
        let mut s = String::from("\ncargo xtask test summary\n");
        for st in &steps {
            s.push_str(&format!(
                "  {:<4} {:<40} {:>7.1}s  {}\n",
                if st.ok { "ok" } else { "FAIL" },
                st.step,
                st.seconds,
                first_line(&st.detail)
            ));
        }
        s.push_str(&format!("  total {total:.1}s"));
        s
    });
    if interrupted() {
        return Err(CliError::new(
            Exit::Failure,
            "interrupted; the local cloud parts this run started were stopped",
        ));
    }
    if failed.is_empty() {
        Ok(Exit::Success)
    } else {
        Err(CliError::new(
            Exit::Failure,
            format!(
                "{} of {} steps failed: {}",
                failed.len(),
                steps.len(),
                failed
                    .iter()
                    .map(|s| s.step.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .with_hint(
            "the output above each step says why; local cloud logs are in target/localcloud/logs/",
        ))
    }
}

/// Makes the platform image when the Docker Engine answers and does not have it (debootstrap,
/// root, a few minutes once), so tests with real workloads run on a fresh machine.
fn base_image(paths: &Paths, r: &Renderer) -> Result<String, String> {
    use deploykit_local::base_image::{BaseImage, LOCAL_PYTHON_IMAGE, ensure_python_base};
    if let Err(e) = deploykit_local::health::docker_ping() {
        return Ok(format!(
            "skipped: the Docker Engine does not answer ({e}); workloads are simulated"
        ));
    }
    match ensure_python_base(paths, false, r) {
        Ok(BaseImage::AlreadyThere) => Ok(format!("{LOCAL_PYTHON_IMAGE} already there")),
        Ok(BaseImage::Made { seconds }) => Ok(format!("made {LOCAL_PYTHON_IMAGE} in {seconds}s")),
        Err(e) => Err(cli_err(e).to_string()),
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

fn step(name: &str, ok: bool, t: Instant, detail: String) -> StepResult {
    StepResult {
        step: name.to_string(),
        ok,
        seconds: t.elapsed().as_secs_f64(),
        detail,
    }
}

fn finish(name: &str, t: Instant, res: Result<String, String>) -> StepResult {
    match res {
        Ok(d) => step(name, true, t, d),
        Err(d) => step(name, false, t, d),
    }
}

fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// From here on SIGINT and SIGTERM set a flag instead of killing us, so the cleanup runs.
/// Children in our process group get the terminal's Ctrl-C themselves; `run_child` forwards it
/// otherwise.
fn install_signal_handlers(r: &Renderer) {
    let (tx, rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                use tokio::signal::unix::{SignalKind, signal};
                let (Ok(mut int), Ok(mut term)) = (
                    signal(SignalKind::interrupt()),
                    signal(SignalKind::terminate()),
                ) else {
                    return;
                };
                let _ = tx.send(());
                loop {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                    INTERRUPTED.store(true, Ordering::SeqCst);
                }
            });
        });
    if spawned.is_err() || rx.recv_timeout(Duration::from_secs(5)).is_err() {
        r.report(Event::warn("could not install the Ctrl-C handler; an interrupt may leave the local cloud running (`cargo xtask local down` stops it)"));
    }
}

/// Runs a child with inherited stdout/stderr; on an interrupt sends it SIGINT, then SIGKILL
/// after a bounded grace period.
fn run_child(cmd: &mut Command, what: &str) -> Result<ExitStatus, String> {
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("could not start {what} ({:?}): {e}", cmd.get_program()))?;
    let mut signalled: Option<Instant> = None;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) => {}
            Err(e) => return Err(format!("waiting for {what}: {e}")),
        }
        if interrupted() {
            match signalled {
                None => {
                    procs::signal(child.id(), "INT");
                    signalled = Some(Instant::now());
                }
                Some(at) if at.elapsed() > Duration::from_secs(15) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("{what} was killed after an interrupt"));
                }
                Some(_) => {}
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn cargo_tests(
    paths: &Paths,
    state: &LocalState,
    venv: Option<&Path>,
    extra: &[String],
    r: &Renderer,
) -> Result<String, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&paths.project)
        .args(["test", "--workspace", "--all-targets", "--no-fail-fast"])
        .args(extra);
    // Only the state file: the ambient AWS_* variables stay as they were, so tests of the real
    // credential chain see what a user's shell would give them (testsupport guards the rest).
    cmd.env("DEPLOYKIT_LOCAL_STATE", &state.state_file);
    // The app venv for the `db migrate` tests (they fail with what to run when it is missing).
    let venv_note = match venv {
        Some(v) => {
            cmd.env(deploykit_cli::APP_VENV_ENV, v);
            format!(", {}={}", deploykit_cli::APP_VENV_ENV, v.display())
        }
        None => String::new(),
    };
    r.report(Event::StepStarted {
        step: "cargo-test".into(),
        what: format!(
            "cargo test --workspace --all-targets {} (DEPLOYKIT_LOCAL_STATE={}{venv_note})",
            extra.join(" "),
            state.state_file.display()
        ),
    });
    let status = run_child(&mut cmd, "cargo test")?;
    if status.success() {
        Ok("passed".into())
    } else {
        Err(format!("cargo test failed ({status})"))
    }
}

/// Hash of every requirements file of the app (requirements-dev.txt includes requirements.txt).
fn requirements_hash(app: &Path) -> Result<String, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(app)
        .map_err(|e| format!("reading {}: {e}", app.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("requirements") && n.ends_with(".txt"))
        })
        .collect();
    files.sort();
    let mut h = Sha256::new();
    for f in files {
        h.update(
            f.file_name()
                .map(|n| n.as_encoded_bytes())
                .unwrap_or_default(),
        );
        h.update(std::fs::read(&f).map_err(|e| format!("reading {}: {e}", f.display()))?);
    }
    Ok(h.finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>())
}

/// Creates (first time) and updates (when the requirements change) the example app's venv in
/// `target/venvs/app`. Returns its path and what was done.
fn app_venv(paths: &Paths, r: &Renderer) -> Result<(PathBuf, String), String> {
    let app = paths.project.join(APP_DIR);
    let reqs = app.join("requirements-dev.txt");
    if !reqs.is_file() {
        return Err(format!(
            "{} is missing: the example app's venv cannot be made (its tests and `db migrate` need it)",
            reqs.display()
        ));
    }
    // The venv, reinstalled only when the requirements files change.
    let venv = paths.venvs.join("app");
    let log = paths.logs.join("app-venv.log");
    std::fs::create_dir_all(&paths.logs)
        .map_err(|e| format!("creating {}: {e}", paths.logs.display()))?;
    if !venv.join("bin/python").exists() {
        let python = std::env::var("DEPLOYKIT_PYTHON").unwrap_or_else(|_| "python3".into());
        procs::run_logged(
            Command::new(&python).args(["-m", "venv"]).arg(&venv),
            &log,
            &format!("{python} -m venv {}", venv.display()),
            Duration::from_secs(180),
            false,
            r,
        )
        .map_err(|e| e.to_string())?;
    }
    let hash = requirements_hash(&app)?;
    let stamp = venv.join(".deploykit-requirements.sha256");
    if std::fs::read_to_string(&stamp)
        .map(|s| s.trim() == hash)
        .unwrap_or(false)
    {
        let reason = format!(
            "requirements unchanged since the last install ({})",
            &hash[..12]
        );
        r.report(Event::StepSkipped {
            step: "app-venv".into(),
            reason: reason.clone(),
        });
        Ok((venv, reason))
    } else {
        let _ = std::fs::remove_file(&stamp);
        r.report(Event::info(format!(
            "installing {} into {}",
            reqs.display(),
            venv.display()
        )));
        procs::run_logged(
            Command::new(venv.join("bin/python"))
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--disable-pip-version-check",
                    "--no-input",
                    "-q",
                    "-r",
                ])
                .arg(&reqs),
            &log,
            "pip install -r examples/budgetsync/requirements-dev.txt",
            Duration::from_secs(900),
            false,
            r,
        )
        .map_err(|e| e.to_string())?;
        std::fs::write(&stamp, &hash).map_err(|e| format!("writing {}: {e}", stamp.display()))?;
        Ok((venv, format!("installed {}", reqs.display())))
    }
}

fn pytest(paths: &Paths, state: &LocalState, venv: &Path, r: &Renderer) -> Result<String, String> {
    let tests = paths.project.join(APP_DIR).join("tests");
    if !tests.is_dir() {
        return Err(format!(
            "{} is missing: the example app's test suite cannot run (it is part of `cargo xtask test`)",
            tests.display()
        ));
    }
    // An empty database for the suite.
    let psql = state.pg.bin_dir.join("psql");
    let out = Command::new(&psql)
        .args([
            "-h",
            &state.pg.host,
            "-p",
            &state.pg.port.to_string(),
            "-U",
            &state.pg.superuser,
            "-d",
            "postgres",
        ])
        .args(["-v", "ON_ERROR_STOP=1", "-q"])
        .args([
            "-c",
            &format!("DROP DATABASE IF EXISTS {TEST_DB} WITH (FORCE)"),
        ])
        .args(["-c", &format!("CREATE DATABASE {TEST_DB}")])
        .output()
        .map_err(|e| format!("running {}: {e}", psql.display()))?;
    if !out.status.success() {
        return Err(format!(
            "creating database {TEST_DB}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let db_url = state.database_url_for(TEST_DB);
    let mut cmd = Command::new(venv.join("bin/python"));
    cmd.current_dir(&paths.project)
        .args(["-m", "pytest", &format!("{APP_DIR}/tests"), "-q"])
        .env_remove("DATABASE_URL")
        .env("TEST_DATABASE_URL", &db_url)
        .env("AWS_ENDPOINT_URL", &state.moto_url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", &state.region)
        .env("AWS_DEFAULT_REGION", &state.region)
        .env("DEPLOYKIT_LOCAL_STATE", &state.state_file);
    r.report(Event::StepStarted {
        step: "pytest".into(),
        what: format!(
            "python -m pytest {APP_DIR}/tests -q (TEST_DATABASE_URL={db_url}, AWS_ENDPOINT_URL={})",
            state.moto_url
        ),
    });
    let status = run_child(&mut cmd, "pytest")?;
    match status.code() {
        Some(0) => Ok(format!("passed against {db_url}")),
        Some(5) => Err("pytest collected no tests (exit 5)".into()),
        _ => Err(format!("pytest failed ({status})")),
    }
}

/// Stops what this run started; a fallback in `Drop` covers panics.
struct DownGuard {
    paths: Paths,
    parts: Vec<Part>,
    restore_scale: Option<f64>,
    done: bool,
}

impl DownGuard {
    fn run(&mut self, r: &dyn Reporter) -> Result<String, CliError> {
        self.done = true;
        if let Some(scale) = self.restore_scale
            && let Some(state) = deploykit_local::read_state(&self.paths)
        {
            let _ = deploykit_local::set_time_scale(&state, scale);
        }
        if self.parts.is_empty() {
            return Ok("nothing to stop (the local cloud was up before; left running)".into());
        }
        let reports =
            deploykit_local::down(&self.paths, Some(&self.parts), false, r).map_err(cli_err)?;
        Ok(format!(
            "stopped {}",
            reports
                .iter()
                .map(|d| d.part.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

impl Drop for DownGuard {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.run(&deploykit_report::NullReporter);
        }
    }
}
