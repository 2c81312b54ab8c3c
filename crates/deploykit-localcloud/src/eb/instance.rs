//! Real Elastic Beanstalk instances: one container per environment running the platform engine.
//!
//! With workloads on, a deploy (CreateEnvironment with a version, UpdateEnvironment to a
//! version) fetches the bundle from S3, extracts it under the workload state dir, computes the
//! [`platform::Plan`], resolves `environmentsecrets` in Secrets Manager / Parameter Store, and
//! starts the platform image with the engine (`engine/eb-engine.py`) as its command. The engine
//! reports every step in `status.json`; this module turns the outcome into EB's events and
//! health, routes the environment's CNAME to the container when it is healthy, and only then
//! stops the container it replaces (a failed update leaves the previous one serving).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use time::OffsetDateTime;

use super::platform::{self, Plan};
use super::state::{EnvStatus, HealthStatus, OptionSetting, Region, Severity, Step};
use crate::core::Clock;
use crate::workload::logs::{self, LogTarget};
use crate::workload::{AppRoutes, Mount, Running, WorkloadError, WorkloadSpec, Workloads};

/// The engine script, bind-mounted read-only into every instance container.
const ENGINE: &str = include_str!("engine/eb-engine.py");
/// How often the engine's status file is read.
const STATUS_POLL: Duration = Duration::from_millis(200);
/// How long the app gets to answer its health check once the engine has started it.
const HEALTH_DEADLINE: Duration = Duration::from_secs(60);
/// Longest one call to moto may take.
const MOTO_CALL: Duration = Duration::from_secs(30);
/// Bytes of a step's output carried in an event.
const EVENT_OUTPUT_BYTES: usize = 1500;
/// Lines per log file in a tail.
const TAIL_LINES: usize = 100;
/// The instance's log files, as `RequestEnvironmentInfo` collects them.
const LOG_FILES: &[&str] = &[
    "eb-engine.log",
    "eb-hooks.log",
    "cfn-init-cmd.log",
    "web.stdout.log",
];

type Regions = Arc<Mutex<HashMap<String, Region>>>;

/// What a deploy is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Launch,
    /// A new application version.
    Update,
    /// New settings for the running version (the app restarts with them).
    Config,
}

/// One environment's instance.
#[derive(Debug, Default)]
struct EnvRun {
    /// Bumped by every deploy and by termination; a deploy that finds another number when it
    /// ends was superseded.
    seq: u64,
    instance_id: String,
    serving: Option<Running>,
    /// The deploy directory of the serving container (logs).
    serving_dir: Option<PathBuf>,
    /// The deploy directory of the last attempt (logs of a failed deploy).
    last_dir: Option<PathBuf>,
    log_task: Option<tokio::task::JoinHandle<()>>,
}

/// The real instances of one edge's Elastic Beanstalk.
#[derive(Debug)]
pub(crate) struct Instances {
    workloads: Workloads,
    routes: AppRoutes,
    runs: Mutex<HashMap<String, EnvRun>>,
    /// The workload state dir (canonical); `root` is its `eb` subdirectory.
    state: PathBuf,
    root: PathBuf,
    moto: MotoClient,
    /// moto's S3, for streaming source bundles to disk.
    s3: Option<crate::forward::Moto>,
    max_bundle_bytes: u64,
}

/// What one deploy needs, captured under the region lock.
#[derive(Debug, Clone)]
pub(crate) struct DeployJob {
    pub kind: Kind,
    pub region: String,
    pub env_id: String,
    pub env_name: String,
    pub cname: String,
    pub label: String,
    pub bucket: String,
    pub key: String,
    pub options: Vec<OptionSetting>,
    pub request_id: String,
    pub health_before: HealthStatus,
}

/// How a deploy failed.
#[derive(Debug, Clone)]
struct Failure {
    /// EB's message for the failing step.
    message: String,
    /// The step's output tail.
    output: String,
    health: HealthStatus,
    causes: Vec<String>,
}

impl Failure {
    fn step(message: impl Into<String>, output: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            output: output.into(),
            health: HealthStatus::Severe,
            causes: vec![
                "Command failed on all instances.".to_string(),
                "Application deployment failed on 1 out of 1 instance.".to_string(),
            ],
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn instance_id() -> String {
    let u = uuid::Uuid::new_v4().simple().to_string();
    format!("i-0{}", &u[..16])
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect()
}

/// The last `max` bytes of `s` (on a char boundary), marked as EB marks truncated output.
fn tail_bytes(s: &str, max: usize) -> String {
    let s = s.trim();
    if s.len() <= max {
        return s.to_string();
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    format!("(TRUNCATED)...{}", &s[start..])
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

impl Instances {
    /// Writes the engine script under `state_dir/eb` and returns the runtime.
    pub fn new(
        workloads: Workloads,
        routes: AppRoutes,
        moto_url: Option<String>,
        max_bundle_bytes: u64,
    ) -> Self {
        // Docker wants absolute, clean host paths for bind mounts.
        let state = workloads.config().state_dir.clone();
        let _ = std::fs::create_dir_all(&state);
        let state = state.canonicalize().unwrap_or(state);
        Self {
            workloads,
            routes,
            runs: Mutex::new(HashMap::new()),
            root: state.join("eb"),
            state,
            s3: moto_url
                .as_deref()
                .and_then(|u| crate::forward::Moto::new(u).ok()),
            moto: MotoClient::new(moto_url),
            max_bundle_bytes,
        }
    }

    /// Registers a new deploy of `env_id`; returns its sequence number.
    fn begin(&self, env_id: &str) -> (u64, String) {
        let mut runs = lock(&self.runs);
        let run = runs.entry(env_id.to_string()).or_default();
        run.seq += 1;
        if run.instance_id.is_empty() {
            run.instance_id = instance_id();
        }
        (run.seq, run.instance_id.clone())
    }

    /// The instance id of an environment (stable across its deploys).
    pub fn instance_of(&self, env_id: &str) -> Option<String> {
        lock(&self.runs)
            .get(env_id)
            .map(|r| r.instance_id.clone())
            .filter(|i| !i.is_empty())
    }

    /// Stops everything an environment runs and forgets its route (TerminateEnvironment).
    pub fn terminate(self: &Arc<Self>, env_id: &str, cname: &str) {
        let run = {
            let mut runs = lock(&self.runs);
            runs.get_mut(env_id).map(|r| {
                r.seq += 1;
                (r.serving.take(), r.log_task.take())
            })
        };
        self.routes.remove(cname);
        if let Some((serving, log_task)) = run {
            let this = self.clone();
            tokio::spawn(async move {
                if let Some(r) = serving {
                    let _ = this.workloads.stop(&r.id).await;
                }
                if let Some(t) = log_task {
                    t.abort();
                }
            });
        }
    }

    /// Starts a deploy in the background; its outcome lands on the environment's timeline.
    pub fn spawn_deploy(self: &Arc<Self>, job: DeployJob, regions: Regions, clock: Clock) {
        let (seq, iid) = self.begin(&job.env_id);
        let this = self.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let dir = this
                .root
                .join(sanitize(&job.env_id))
                .join(format!("{seq}-{}", sanitize(&job.label)));
            let result = this.run(&job, &iid, &dir).await;
            this.finish(&job, seq, &iid, dir, result, started, &regions, &clock)
                .await;
        });
    }

    async fn run(
        &self,
        job: &DeployJob,
        iid: &str,
        dir: &Path,
    ) -> Result<(Running, Plan), (Failure, Option<Running>)> {
        let staging = dir.join("app").join("staging");
        let fail = |why: String| {
            (
                Failure::step(
                    format!(
                        "Failed to download the source bundle s3://{}/{}: {why}",
                        job.bucket, job.key
                    ),
                    "",
                ),
                None,
            )
        };
        // Sized by HEAD before anything is read, then streamed to disk (never into memory).
        let bundle = dir.join("bundle.zip");
        let s3 = self
            .s3
            .as_ref()
            .ok_or_else(|| fail("this local cloud has no moto configured".into()))?;
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| fail(format!("{}: {e}", dir.display())))?;
        match s3
            .s3_download(
                &job.region,
                &job.bucket,
                &job.key,
                self.max_bundle_bytes,
                &bundle,
            )
            .await
            .map_err(fail)?
        {
            crate::forward::Download::Saved { .. } => {}
            crate::forward::Download::NotFound => return Err(fail("S3 answered HTTP 404".into())),
            crate::forward::Download::TooLarge { bytes } => {
                return Err(fail(format!(
                    "it is {bytes} bytes; source bundles must not exceed {} bytes",
                    self.max_bundle_bytes
                )));
            }
        }
        let extract_to = staging.clone();
        let logs_dir = dir.join("log");
        let local_dir = dir.join("local");
        let engine_path = self.root.join("eb-engine.py");
        let root = self.root.clone();
        let extracted = tokio::task::spawn_blocking(move || -> Result<(), String> {
            std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
            if std::fs::read_to_string(&engine_path).ok().as_deref() != Some(ENGINE) {
                // Written aside and renamed: a container may be mounting the current one.
                let tmp =
                    engine_path.with_extension(format!("py.{}", uuid::Uuid::new_v4().simple()));
                std::fs::write(&tmp, ENGINE)
                    .and_then(|()| std::fs::rename(&tmp, &engine_path))
                    .map_err(|e| format!("{}: {e}", engine_path.display()))?;
            }
            for d in [&extract_to, &logs_dir, &local_dir] {
                std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
            }
            let file =
                std::fs::File::open(&bundle).map_err(|e| format!("{}: {e}", bundle.display()))?;
            let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
                .map_err(|e| format!("the source bundle is not a valid zip file ({e})"))?;
            let extracted = zip
                .extract(&extract_to)
                .map_err(|e| format!("cannot extract the source bundle: {e}"));
            let _ = std::fs::remove_file(&bundle);
            extracted
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
        if let Err(e) = extracted {
            return Err((
                Failure::step(format!("StageApplication failed: {e}"), ""),
                None,
            ));
        }

        let options = job.options.clone();
        let staging2 = staging.clone();
        let plan = tokio::task::spawn_blocking(move || platform::plan(&options, &staging2))
            .await
            .map_err(|e| (Failure::step(e.to_string(), ""), None))?
            .map_err(|e| (Failure::step(e.message, format!("{}:", e.file)), None))?;

        let mut env: Vec<(String, String)> = plan.env.clone().into_iter().collect();
        for (name, arn) in &plan.secrets {
            match self.moto.secret(&job.region, arn).await {
                Ok(v) => env.push((name.clone(), v)),
                Err(e) => {
                    // The same wording as the simulated instances (see `secrets`).
                    let why = format!(
                        "Instance deployment failed to get environment secrets: {name} references {arn}, which does not exist or cannot be read."
                    );
                    let mut f = Failure::step(why.clone(), e);
                    f.causes.push(why);
                    return Err((f, None));
                }
            }
        }
        env.push(("EB_IS_COMMAND_LEADER".into(), "true".into()));
        env.push(("PYTHONUNBUFFERED".into(), "1".into()));

        let plan_json = serde_json::to_vec_pretty(&plan)
            .map_err(|e| (Failure::step(e.to_string(), ""), None))?;
        let status_path = dir.join("local").join("status.json");
        std::fs::write(dir.join("local").join("plan.json"), plan_json)
            .map_err(|e| (Failure::step(format!("writing the plan: {e}"), ""), None))?;

        let state = &self.state;
        let wheels = state.join("pip").join("wheels");
        let cache = state.join("pip").join("cache");
        for d in [&wheels, &cache] {
            let _ = std::fs::create_dir_all(d);
        }
        let spec = WorkloadSpec {
            kind: "eb",
            owner: job.env_name.clone(),
            image: self.workloads.config().platform_image.clone(),
            cmd: Some(vec![
                "/usr/bin/python3".into(),
                "/opt/elasticbeanstalk/bin/eb-engine".into(),
            ]),
            env,
            mounts: vec![
                Mount {
                    host: self.root.join("eb-engine.py"),
                    container: "/opt/elasticbeanstalk/bin/eb-engine".into(),
                    read_only: true,
                },
                Mount {
                    host: dir.join("app"),
                    container: "/var/app".into(),
                    read_only: false,
                },
                Mount {
                    host: dir.join("local"),
                    container: "/opt/elasticbeanstalk/local".into(),
                    read_only: false,
                },
                Mount {
                    host: dir.join("log"),
                    container: "/var/log".into(),
                    read_only: false,
                },
                Mount {
                    host: wheels,
                    container: "/var/cache/eb-wheels".into(),
                    read_only: false,
                },
                Mount {
                    host: cache,
                    container: "/root/.cache/pip".into(),
                    read_only: false,
                },
            ],
            workdir: Some("/var/app".into()),
            registry_auth: None,
        };
        let running = self.workloads.start(&spec).await.map_err(|e| {
            (
                Failure::step(format!("The instance did not start: {e}"), ""),
                None,
            )
        })?;
        if plan.stream_logs
            && let Some(url) = self.moto.url.as_deref()
        {
            let task = logs::follow(
                &self.workloads,
                &running.id,
                LogTarget::eb_web_stdout(url, &job.region, &job.env_name, iid),
            );
            // Kept with the run when it becomes the serving one (see `finish`); aborted otherwise.
            let mut runs = lock(&self.runs);
            if let Some(r) = runs.get_mut(&job.env_id) {
                if let Some(old) = r.log_task.replace(task) {
                    // The previous container's stream ends with it; keep following until then.
                    drop(old);
                }
            } else {
                task.abort();
            }
        }

        // Follow the engine's steps, bounded by the command timeout.
        let until = Instant::now() + Duration::from_secs(plan.timeout_secs);
        loop {
            let status = read_status(&status_path);
            match status.as_ref().and_then(|s| s.get("phase")?.as_str()) {
                // `exited`: the web process died right after it started; its health says so.
                Some("deployed" | "exited") => break,
                Some("failed") => {
                    let f = status
                        .as_ref()
                        .and_then(|s| s.get("failed").cloned())
                        .unwrap_or_default();
                    let msg = f
                        .get("message")
                        .and_then(|m| m.as_str())
                        .unwrap_or("Engine execution has encountered an error.")
                        .to_string();
                    let out = f
                        .get("output")
                        .and_then(|m| m.as_str())
                        .unwrap_or_default()
                        .to_string();
                    return Err((Failure::step(msg, out), Some(running)));
                }
                _ => {}
            }
            match self.workloads.exit_code(&running.id).await {
                Ok(Some(code)) if status.is_none() || !phase_is(&status, "deployed") => {
                    let tail = self
                        .workloads
                        .log_tail(&running.id, 40)
                        .await
                        .unwrap_or_default();
                    // The engine may have written its verdict just before exiting.
                    if phase_is(&read_status(&status_path), "deployed")
                        || phase_is(&read_status(&status_path), "failed")
                    {
                        continue;
                    }
                    return Err((
                        Failure::step(
                            format!("The instance's engine exited with code {code}."),
                            tail,
                        ),
                        Some(running),
                    ));
                }
                Err(e) => return Err((Failure::step(e.to_string(), ""), Some(running))),
                _ => {}
            }
            if Instant::now() >= until {
                return Err((
                    Failure::step(
                        format!(
                            "The instance deployment did not finish within the command timeout ({} s).",
                            plan.timeout_secs
                        ),
                        "",
                    ),
                    Some(running),
                ));
            }
            tokio::time::sleep(STATUS_POLL).await;
        }

        // The app's own health, on its health check path.
        let left = until.saturating_duration_since(Instant::now());
        let web_log = dir.join("log").join("web.stdout.log");
        match self
            .workloads
            .wait_healthy(&running, &plan.health_path, HEALTH_DEADLINE.min(left))
            .await
        {
            Ok(_) => Ok((running, plan)),
            Err(e) => {
                let tail = last_lines(&std::fs::read_to_string(&web_log).unwrap_or_default(), 40);
                let (health, causes, what) = match &e {
                    WorkloadError::Exited { .. } => (
                        HealthStatus::Severe,
                        vec!["Following services are not running: web.".to_string()],
                        "Following services are not running: web.".to_string(),
                    ),
                    WorkloadError::Unhealthy { status, path } => (
                        HealthStatus::Degraded,
                        vec![format!(
                            "100.0 % of the requests are failing with HTTP 5xx (health check {path} answered {status})."
                        )],
                        format!(
                            "The application answered HTTP {status} on its health check path {path}."
                        ),
                    ),
                    other => (
                        HealthStatus::Degraded,
                        vec![format!(
                            "The application does not answer its health check: {other}"
                        )],
                        other.to_string(),
                    ),
                };
                Err((
                    Failure {
                        message: what,
                        output: tail,
                        health,
                        causes,
                    },
                    Some(running),
                ))
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn finish(
        &self,
        job: &DeployJob,
        seq: u64,
        iid: &str,
        dir: PathBuf,
        result: Result<(Running, Plan), (Failure, Option<Running>)>,
        started: Instant,
        regions: &Regions,
        clock: &Clock,
    ) {
        // Superseded (terminated or redeployed meanwhile): stop what this deploy started.
        let current = lock(&self.runs).get(&job.env_id).map(|r| r.seq) == Some(seq);
        if !current {
            if let Ok((r, _)) | Err((_, Some(r))) = &result {
                let _ = self.workloads.stop(&r.id).await;
            }
            return;
        }
        let steps = match result {
            Ok((running, _plan)) => {
                self.routes.set(&job.cname, running.addr);
                let old = {
                    let mut runs = lock(&self.runs);
                    let run = runs.entry(job.env_id.clone()).or_default();
                    run.serving_dir = Some(dir.clone());
                    run.last_dir = Some(dir);
                    run.serving.replace(running)
                };
                if let Some(old) = old {
                    let _ = self.workloads.stop(&old.id).await;
                }
                success_steps(job, started.elapsed())
            }
            Err((failure, started_container)) => {
                {
                    let mut runs = lock(&self.runs);
                    if let Some(run) = runs.get_mut(&job.env_id) {
                        run.last_dir = Some(dir);
                    }
                }
                if let Some(r) = started_container {
                    let _ = self.workloads.stop(&r.id).await;
                }
                failure_steps(job, iid, &failure)
            }
        };
        let mut regions = lock(regions);
        if let Some(region) = regions.get_mut(&job.region)
            && let Some(env) = region
                .envs
                .iter_mut()
                .find(|e| e.id == job.env_id && e.status != EnvStatus::Terminated)
        {
            env.schedule(clock, steps);
            region.tick(Instant::now(), clock.now_utc());
        }
    }

    /// The tail of the instance's logs (`RequestEnvironmentInfo` `tail`): the last lines of each
    /// log file, under EB's `-------------------------------------\n/var/log/<file>` headers.
    pub fn tail(&self, env_id: &str) -> Option<String> {
        let dir = {
            let runs = lock(&self.runs);
            let r = runs.get(env_id)?;
            r.last_dir.clone().or_else(|| r.serving_dir.clone())?
        };
        let mut out = String::new();
        for f in LOG_FILES {
            let text = std::fs::read_to_string(dir.join("log").join(f)).unwrap_or_default();
            out.push_str("----------------------------------------\n");
            out.push_str(&format!("/var/log/{f}\n"));
            out.push_str("----------------------------------------\n");
            out.push_str(&last_lines(&text, TAIL_LINES));
            out.push_str("\n\n\n");
        }
        Some(out)
    }

    /// A zip of the instance's log files (`RequestEnvironmentInfo` `bundle`).
    pub fn bundle(&self, env_id: &str) -> Option<Vec<u8>> {
        use std::io::Write;
        let dir = {
            let runs = lock(&self.runs);
            let r = runs.get(env_id)?;
            r.last_dir.clone().or_else(|| r.serving_dir.clone())?
        };
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for f in LOG_FILES {
            let Ok(bytes) = std::fs::read(dir.join("log").join(f)) else {
                continue;
            };
            w.start_file(
                format!("var/log/{f}"),
                zip::write::SimpleFileOptions::default(),
            )
            .ok()?;
            w.write_all(&bytes).ok()?;
        }
        Some(w.finish().ok()?.into_inner())
    }

    pub fn moto(&self) -> &MotoClient {
        &self.moto
    }
}

fn read_status(path: &Path) -> Option<serde_json::Value> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

fn phase_is(status: &Option<serde_json::Value>, phase: &str) -> bool {
    status
        .as_ref()
        .and_then(|s| s.get("phase")?.as_str())
        .is_some_and(|p| p == phase)
}

fn ev(rid: &str, severity: Severity, message: impl Into<String>) -> Step {
    Step {
        event: Some((severity, message.into())),
        request_id: rid.to_string(),
        ..Step::default()
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn transition(from: HealthStatus, to: HealthStatus, why: &str) -> String {
    format!(
        "Environment health has transitioned from {} to {}. {why}",
        from.as_str(),
        to.as_str()
    )
}

fn success_steps(job: &DeployJob, took: Duration) -> Vec<(Duration, Step)> {
    let rid = job.request_id.as_str();
    let mut steps = vec![(
        secs(0),
        ev(
            rid,
            Severity::Info,
            "Instance deployment completed successfully.",
        ),
    )];
    match job.kind {
        Kind::Launch => {
            steps.push((
                secs(5),
                ev(
                    rid,
                    Severity::Info,
                    format!("Application available at {}.", job.cname),
                ),
            ));
            let mut health = ev(
                rid,
                Severity::Info,
                transition(
                    HealthStatus::Pending,
                    HealthStatus::Ok,
                    &format!(
                        "Initialization completed 1 second ago and took {} seconds.",
                        took.as_secs().max(1)
                    ),
                ),
            );
            health.health = Some(HealthStatus::Ok);
            health.causes = Some(Vec::new());
            steps.push((secs(10), health));
            let mut ready = ev(
                rid,
                Severity::Info,
                format!("Successfully launched environment: {}", job.env_name),
            );
            ready.status = Some(EnvStatus::Ready);
            ready.version = Some(Some(job.label.clone()));
            steps.push((secs(10), ready));
        }
        Kind::Update | Kind::Config => {
            steps.push((
                secs(5),
                ev(
                    rid,
                    Severity::Info,
                    if job.kind == Kind::Config {
                        "Successfully deployed new configuration to environment."
                    } else {
                        "New application version was deployed to running EC2 instances."
                    },
                ),
            ));
            let mut done = ev(
                rid,
                Severity::Info,
                "Environment update completed successfully.",
            );
            done.status = Some(EnvStatus::Ready);
            done.version = Some(Some(job.label.clone()));
            done.health = Some(HealthStatus::Ok);
            done.causes = Some(Vec::new());
            steps.push((secs(10), done));
            if job.health_before != HealthStatus::Ok {
                steps.push((
                    secs(10),
                    ev(
                        rid,
                        Severity::Info,
                        transition(
                            job.health_before,
                            HealthStatus::Ok,
                            &format!(
                                "Application update completed 1 second ago and took {} seconds.",
                                took.as_secs().max(1)
                            ),
                        ),
                    ),
                ));
            }
        }
    }
    steps
}

/// The first events of a configuration deploy run by a real instance (the rest follow its
/// outcome).
pub(crate) fn config_prefix_steps(env: &super::state::Env, rid: &str) -> Vec<(Duration, Step)> {
    vec![
        (
            secs(0),
            ev(rid, Severity::Info, "Environment update is starting."),
        ),
        (
            secs(10),
            ev(
                rid,
                Severity::Info,
                format!(
                    "Updating environment {}'s configuration settings.",
                    env.name
                ),
            ),
        ),
    ]
}

fn failure_steps(job: &DeployJob, iid: &str, f: &Failure) -> Vec<(Duration, Step)> {
    let rid = job.request_id.as_str();
    let output = if f.output.trim().is_empty() {
        f.message.clone()
    } else {
        format!(
            "{}\n{}",
            tail_bytes(&f.output, EVENT_OUTPUT_BYTES),
            f.message
        )
    };
    let mut steps = vec![
        (
            secs(0),
            ev(
                rid,
                Severity::Error,
                "Instance deployment failed. For details, see 'eb-engine.log'.",
            ),
        ),
        (
            secs(4),
            ev(
                rid,
                Severity::Error,
                format!(
                    "[Instance: {iid}] Command failed on instance. Return code: 1 Output: {output}"
                ),
            ),
        ),
        (
            secs(4),
            ev(
                rid,
                Severity::Info,
                "Command execution completed on all instances. Summary: [Successful: 0, Failed: 1].",
            ),
        ),
        (
            secs(5),
            ev(
                rid,
                Severity::Error,
                format!(
                    "Unsuccessful command execution on instance id(s) '{iid}'. Aborting the operation."
                ),
            ),
        ),
    ];
    let before = match job.kind {
        Kind::Launch => HealthStatus::Pending,
        Kind::Update | Kind::Config => job.health_before,
    };
    let mut done = match job.kind {
        Kind::Launch => ev(
            rid,
            Severity::Error,
            "Create environment operation is complete, but with errors. For more information, see troubleshooting documentation.",
        ),
        Kind::Update => ev(rid, Severity::Error, "Failed to deploy application."),
        Kind::Config => ev(rid, Severity::Error, "Failed to deploy configuration."),
    };
    done.status = Some(EnvStatus::Ready);
    done.health = Some(f.health);
    done.causes = Some(f.causes.clone());
    if job.kind == Kind::Launch {
        done.version = Some(Some(job.label.clone()));
    }
    steps.push((secs(10), done));
    if before != f.health {
        steps.push((
            secs(10),
            ev(
                rid,
                Severity::Warn,
                transition(before, f.health, &f.causes.join(" ")),
            ),
        ));
    }
    steps
}

/// The few calls the instances make to moto: S3 objects, secrets, parameters.
#[derive(Debug, Clone)]
pub(crate) struct MotoClient {
    url: Option<String>,
    http: Client<HttpConnector, Full<Bytes>>,
}

impl MotoClient {
    pub(crate) fn new(url: Option<String>) -> Self {
        Self {
            url: url.map(|u| u.trim_end_matches('/').to_string()),
            http: Client::builder(TokioExecutor::new()).build(HttpConnector::new()),
        }
    }

    /// A SigV4 `Authorization` with the scope moto routes by (never verified locally).
    fn auth(region: &str, service: &str) -> String {
        let d = OffsetDateTime::now_utc();
        format!(
            "AWS4-HMAC-SHA256 Credential=localcloud/{:04}{:02}{:02}/{region}/{service}/aws4_request, SignedHeaders=host, Signature=0",
            d.year(),
            u8::from(d.month()),
            d.day()
        )
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Bytes,
    ) -> Result<(StatusCode, Bytes), String> {
        let base = self
            .url
            .as_deref()
            .ok_or("this local cloud has no moto configured")?;
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{base}{path}"));
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let req = req.body(Full::new(body)).map_err(|e| e.to_string())?;
        let fut = async {
            let resp = self.http.request(req).await.map_err(|e| e.to_string())?;
            let status = resp.status();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok::<_, String>((status, body))
        };
        tokio::time::timeout(MOTO_CALL, fut)
            .await
            .map_err(|_| format!("moto did not answer within {} s", MOTO_CALL.as_secs()))?
    }

    fn s3_path(bucket: &str, key: &str) -> String {
        let mut u = url::Url::parse("http://x/").expect("static URL parses");
        if let Ok(mut segs) = u.path_segments_mut() {
            segs.pop_if_empty().push(bucket);
            segs.extend(key.split('/'));
        }
        u.path().to_string()
    }

    pub async fn s3_put(
        &self,
        region: &str,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
    ) -> Result<(), String> {
        // The bucket may not exist yet (CreateStorageLocation was never called).
        let _ = self
            .call(
                Method::PUT,
                Self::s3_path(bucket, "").trim_end_matches('/'),
                &[
                    ("authorization", Self::auth(region, "s3")),
                    ("x-amz-content-sha256", "UNSIGNED-PAYLOAD".into()),
                ],
                if region == "us-east-1" {
                    Bytes::new()
                } else {
                    Bytes::from(format!(
                        "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>{region}</LocationConstraint></CreateBucketConfiguration>"
                    ))
                },
            )
            .await;
        let (status, body) = self
            .call(
                Method::PUT,
                &Self::s3_path(bucket, key),
                &[
                    ("authorization", Self::auth(region, "s3")),
                    ("x-amz-content-sha256", "UNSIGNED-PAYLOAD".into()),
                ],
                Bytes::from(body),
            )
            .await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!(
                "S3 PUT s3://{bucket}/{key} answered HTTP {status}: {}",
                String::from_utf8_lossy(&body)
            ))
        }
    }

    /// The value of a Secrets Manager secret or an SSM parameter, by ARN (or name).
    pub async fn secret(&self, region: &str, arn: &str) -> Result<String, String> {
        let region = arn
            .split(':')
            .nth(3)
            .filter(|r| !r.is_empty())
            .unwrap_or(region)
            .to_string();
        let (service, target, body, field) = if arn.starts_with("arn:aws:ssm:") {
            let name = arn
                .split_once(":parameter")
                .map(|(_, n)| n.to_string())
                .unwrap_or_else(|| arn.to_string());
            (
                "ssm",
                "AmazonSSM.GetParameter",
                serde_json::json!({"Name": name, "WithDecryption": true}),
                "Parameter",
            )
        } else {
            (
                "secretsmanager",
                "secretsmanager.GetSecretValue",
                serde_json::json!({"SecretId": arn}),
                "",
            )
        };
        let (status, resp) = self
            .call(
                Method::POST,
                "/",
                &[
                    ("authorization", Self::auth(&region, service)),
                    ("x-amz-target", target.to_string()),
                    ("content-type", "application/x-amz-json-1.1".to_string()),
                ],
                Bytes::from(body.to_string()),
            )
            .await?;
        let v: serde_json::Value = serde_json::from_slice(&resp).unwrap_or_default();
        if !status.is_success() {
            let code = v
                .get("__type")
                .and_then(|t| t.as_str())
                .map(|t| t.rsplit('#').next().unwrap_or(t).to_string())
                .unwrap_or_else(|| format!("HTTP {status}"));
            let msg = v
                .get("message")
                .or_else(|| v.get("Message"))
                .and_then(|m| m.as_str())
                .unwrap_or_default();
            return Err(format!("{code}: {msg}"));
        }
        let value = if field.is_empty() {
            v.get("SecretString").and_then(|s| s.as_str())
        } else {
            v.get(field)
                .and_then(|p| p.get("Value"))
                .and_then(|s| s.as_str())
        };
        value
            .map(str::to_string)
            .ok_or_else(|| "the secret has no string value".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(kind: Kind) -> DeployJob {
        DeployJob {
            kind,
            region: "us-east-1".into(),
            env_id: "e-1".into(),
            env_name: "web-env".into(),
            cname: "web-env.us-east-1.elasticbeanstalk.localhost".into(),
            label: "v2".into(),
            bucket: "b".into(),
            key: "k".into(),
            options: Vec::new(),
            request_id: "r".into(),
            health_before: HealthStatus::Ok,
        }
    }

    #[test]
    fn failure_events_are_ebs() {
        let f = Failure::step(
            "Command .platform/hooks/prebuild/01.sh failed with error fork/exec .platform/hooks/prebuild/01.sh: permission denied",
            "",
        );
        let steps = failure_steps(&job(Kind::Update), "i-0abc", &f);
        let msgs: Vec<String> = steps
            .iter()
            .filter_map(|(_, s)| s.event.as_ref().map(|e| e.1.clone()))
            .collect();
        assert_eq!(
            msgs[0],
            "Instance deployment failed. For details, see 'eb-engine.log'."
        );
        assert!(msgs[1].starts_with(
            "[Instance: i-0abc] Command failed on instance. Return code: 1 Output: Command .platform/hooks/prebuild/01.sh failed"
        ));
        assert!(msgs.iter().any(|m| m == "Failed to deploy application."));
        let done = steps
            .iter()
            .find(|(_, s)| s.status == Some(EnvStatus::Ready))
            .unwrap();
        assert_eq!(done.1.health, Some(HealthStatus::Severe));
        assert_eq!(
            done.1.version, None,
            "a failed update keeps the old version"
        );
    }

    #[test]
    fn long_output_is_truncated_at_the_front() {
        let t = tail_bytes(&"x".repeat(5000), 100);
        assert!(t.starts_with("(TRUNCATED)..."));
        assert_eq!(t.len(), 100 + "(TRUNCATED)...".len());
        assert_eq!(last_lines("a\nb\nc", 2), "b\nc");
    }
}
