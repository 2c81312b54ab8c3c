//! `cargo xtask bench image`: an image build through deploykit-image (Engine API, the context
//! streamed as a tar) against the `docker build` CLI (classic builder) on the same context and
//! Dockerfile, in the same run, uncached (`--no-cache`) and fully cached. Both sides are child
//! processes timed the same way (ours re-executes this binary with the hidden
//! `bench image-build`), so our peak RSS is measured alone. Images are `FROM scratch`: nothing
//! is pulled. Every tag created is removed at the end.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use deploykit_report::Reporter as _;
use serde::{Deserialize, Serialize};

use super::{Rng, timed};
use crate::{CliError, CliResult, Exit};
use deploykit_cli::render::Renderer;

/// The Dockerfile both sides build (COPY steps only: nothing to pull, context streaming dominates).
const BENCH_DOCKERFILE: &str = "FROM scratch\nCOPY requirements.txt /app/\nCOPY . /app\n";
const BENCH_DOCKERFILE_NAME: &str = "Dockerfile.bench";
/// The label deploykit-image puts on every image; the peer gets the same one so both sides run
/// the same build steps.
const LABEL_CONTENT_HASH: &str = "dev.deploykit.content-hash";
/// Issue 5's bound on ours / docker CLI (ratio of medians).
const GOAL_RATIO: f64 = 1.05;

#[derive(Debug, clap::Args)]
pub struct ImageBenchArgs {
    /// Timed runs per side and case, alternating ours and the docker CLI.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// The small context: an app directory with its .dockerignore (copied to a temp dir, where a
    /// FROM scratch Dockerfile is added).
    #[arg(long, default_value = "examples/budgetsync")]
    pub app: PathBuf,
    /// Files in the generated large context.
    #[arg(long, default_value_t = 3000)]
    pub files: usize,
    /// MiB of incompressible data in the generated large context.
    #[arg(long, default_value_t = 150)]
    pub mib: u64,
}

#[derive(Debug, clap::Args)]
pub struct ImageBuildArgs {
    /// The context directory.
    #[arg(long)]
    pub context: PathBuf,
    /// The Dockerfile, relative to the context.
    #[arg(long)]
    pub dockerfile: String,
    /// The tag to create.
    #[arg(long)]
    pub tag: String,
    #[arg(long)]
    pub no_cache: bool,
}

/// What the `image-build` child reports (its `result` object).
#[derive(Debug, Serialize, Deserialize)]
struct ChildResult {
    id: String,
    context_bytes: u64,
    steps: usize,
    cached_steps: usize,
    plan_ms: f64,
    hash_ms: f64,
    build_ms: f64,
    /// The child's own `VmHWM` (peak RSS, KiB), read just before it returns.
    vm_hwm_kb: Option<u64>,
}

/// The hidden child: plan, hash and build one image exactly as `deploy apprunner` does.
pub fn run_build(args: ImageBuildArgs, r: &Renderer) -> CliResult {
    let err = |e: &deploykit_image::ImageError| CliError::from_error(Exit::Failure, e);
    let t0 = Instant::now();
    let plan =
        deploykit_image::plan_context(&args.context, &args.dockerfile, "").map_err(|e| err(&e))?;
    let plan_ms = ms(t0.elapsed());
    let t1 = Instant::now();
    let hash = deploykit_image::context_hash(&plan).map_err(|e| err(&e))?;
    let hash_ms = ms(t1.elapsed());
    let t2 = Instant::now();
    let built = crate::runtime().block_on(async {
        let docker = deploykit_image::connect().await?;
        let input = deploykit_image::BuildInput {
            tags: vec![args.tag.clone()],
            build_args: BTreeMap::new(),
            labels: BTreeMap::new(),
            content_hash: hash,
            git_sha: None,
            platform: deploykit_image::DEFAULT_PLATFORM.into(),
            no_cache: args.no_cache,
            timeout: deploykit_image::DEFAULT_BUILD_TIMEOUT,
        };
        deploykit_image::build(&docker, &plan, &input, r).await
    });
    let built = built.map_err(|e| err(&e))?;
    let result = ChildResult {
        id: built.id,
        context_bytes: built.context_bytes,
        steps: built.steps,
        cached_steps: built.cached_steps,
        plan_ms,
        hash_ms,
        build_ms: ms(t2.elapsed()),
        vm_hwm_kb: std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| vm_hwm_kb(&s)),
    };
    r.result(&result, String::new);
    Ok(Exit::Success)
}

/// `VmHWM` (KiB) from a `/proc/<pid>/status` text.
fn vm_hwm_kb(status: &str) -> Option<u64> {
    status.lines().find_map(|l| {
        l.strip_prefix("VmHWM:")?
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse()
            .ok()
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Median (mean of the middle two for an even count); 0 for no samples.
fn median(samples: &[f64]) -> f64 {
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn min(samples: &[f64]) -> f64 {
    samples.iter().copied().reduce(f64::min).unwrap_or(0.0)
}

/// ours / peer; 0 when the peer took no time (never in practice).
fn ratio(ours: f64, peer: f64) -> f64 {
    if peer > 0.0 { ours / peer } else { 0.0 }
}

#[derive(Debug, Serialize)]
struct SideStats {
    runs_ms: Vec<f64>,
    median_ms: f64,
    min_ms: f64,
    /// Peak RSS (KiB) over the runs, from `/usr/bin/time -v` (or the child's `VmHWM`).
    peak_rss_kb: Option<u64>,
}

impl SideStats {
    fn new(runs_ms: Vec<f64>, peak_rss_kb: Option<u64>) -> Self {
        Self {
            median_ms: median(&runs_ms),
            min_ms: min(&runs_ms),
            runs_ms,
            peak_rss_kb,
        }
    }
}

#[derive(Debug, Serialize)]
struct CaseResult {
    context: String,
    files: usize,
    /// Bytes of context tar deploykit sent.
    context_bytes: u64,
    /// `no_cache` or `cached`.
    cache: &'static str,
    deploykit: SideStats,
    docker_cli: SideStats,
    /// deploykit median / docker CLI median.
    ratio: f64,
    goal_ratio: f64,
    /// deploykit's median split inside the child: plan, context hash, build call.
    deploykit_plan_ms: f64,
    deploykit_hash_ms: f64,
    deploykit_build_ms: f64,
    /// deploykit peak RSS / context bytes.
    rss_per_context: Option<f64>,
}

#[derive(Debug, Serialize)]
struct ImageBenchResult {
    release_build: bool,
    docker_server: String,
    docker_client: String,
    runs: usize,
    cases: Vec<CaseResult>,
    /// Every ratio within [`GOAL_RATIO`].
    goal_met: bool,
}

fn human_bytes(b: u64) -> String {
    let b = b as f64;
    if b >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / 1048576.0)
    } else {
        format!("{:.1} KiB", b / 1024.0)
    }
}

fn secs(ms: f64) -> String {
    format!("{:.2} s", ms / 1000.0)
}

/// The result table (one row per context and cache case) and the RSS lines.
fn table(cases: &[CaseResult]) -> String {
    let mut rows = vec![[
        "context".to_string(),
        "files".into(),
        "tar".into(),
        "build".into(),
        "deploykit median / min".into(),
        "docker CLI median / min".into(),
        "ratio".into(),
        "deploykit RSS".into(),
    ]];
    for c in cases {
        rows.push([
            c.context.clone(),
            c.files.to_string(),
            human_bytes(c.context_bytes),
            c.cache.replace('_', "-"),
            format!(
                "{} / {}",
                secs(c.deploykit.median_ms),
                secs(c.deploykit.min_ms)
            ),
            format!(
                "{} / {}",
                secs(c.docker_cli.median_ms),
                secs(c.docker_cli.min_ms)
            ),
            format!(
                "{:.3}x{}",
                c.ratio,
                if c.ratio <= c.goal_ratio { "" } else { " !" }
            ),
            c.deploykit
                .peak_rss_kb
                .map_or("?".into(), |k| human_bytes(k * 1024)),
        ]);
    }
    let widths: Vec<usize> = (0..8)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (n, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| {
                // Text columns left-aligned, numbers right-aligned.
                if i == 0 || i == 3 {
                    format!("{c:<w$}", w = widths[i])
                } else {
                    format!("{c:>w$}", w = widths[i])
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
        if n == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            out.push_str(&rule.join("  "));
            out.push('\n');
        }
    }
    out
}

/// Writes the large synthetic context under `root` (deterministic: same arguments, same bytes):
/// `files` data files of random (incompressible) bytes totalling about `bytes`, a
/// `Dockerfile.bench`, `requirements.txt`, and a `.dockerignore` with a `!` exception; plus
/// files the `.dockerignore` must keep out (`.env`, `logs/`, `*.tmp`). Returns the number of
/// data bytes written.
fn generate_context(root: &Path, files: usize, bytes: u64, seed: u64) -> std::io::Result<u64> {
    let mut rng = Rng(seed | 1);
    let put = |rel: &str, data: &[u8]| -> std::io::Result<()> {
        let p = root.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::File::create(&p)?.write_all(data)
    };
    put(BENCH_DOCKERFILE_NAME, BENCH_DOCKERFILE.as_bytes())?;
    put(
        ".dockerignore",
        b"# bench context\n.env\nlogs\n!logs/keep.log\n**/*.tmp\n",
    )?;
    put(
        "requirements.txt",
        b"flask==3.0.3\ngunicorn==22.0.0\npsycopg2-binary==2.9.9\n",
    )?;
    put(".env", b"DATABASE_PASSWORD=not-in-the-context\n")?;
    for i in 0..20 {
        put(&format!("logs/run{i:02}.log"), &rng.bytes(2_000))?;
    }
    put("logs/keep.log", b"kept by the ! rule\n")?;
    for i in 0..10 {
        put(&format!("cache/c{i}.tmp"), &rng.bytes(4_000))?;
    }
    let avg = bytes / files.max(1) as u64;
    let mut total = 0u64;
    for i in 0..files {
        // Sizes spread over [avg/2, 3*avg/2).
        let n = (avg / 2 + rng.below(avg.max(1))) as usize;
        let ext = ["bin", "jpg", "whl", "dat"][i % 4];
        put(
            &format!("pkg{:02}/sub{}/f{i:05}.{ext}", i % 30, i % 7),
            &rng.bytes(n),
        )?;
        total += n as u64;
    }
    Ok(total)
}

/// Copies the tree at `from` to `to` (files, directories, symlinks; modes kept).
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let ft = entry.file_type()?;
        let dst = to.join(entry.file_name());
        if ft.is_dir() {
            copy_tree(&entry.path(), &dst)?;
        } else if ft.is_symlink() {
            #[cfg(unix)]
            std::os::unix::fs::symlink(std::fs::read_link(entry.path())?, &dst)?;
        } else {
            std::fs::copy(entry.path(), &dst)?;
        }
    }
    Ok(())
}

/// Removes the tags it holds when dropped (also on errors), by tag only.
struct Tags(Vec<String>);

impl Drop for Tags {
    fn drop(&mut self) {
        for chunk in self.0.chunks(50) {
            let _ = Command::new("docker")
                .args(["image", "rm"])
                .args(chunk)
                .output();
        }
    }
}

fn docker_version(which: &str) -> Option<String> {
    let out = Command::new("docker")
        .args(["version", "--format", &format!("{{{{.{which}.Version}}}}")])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn image_size(tag: &str) -> Option<u64> {
    let out = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Size}}", tag])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

pub fn run(args: ImageBenchArgs, r: &Renderer) -> CliResult {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        CliError::new(Exit::Failure, format!("{what}: {e}"))
    };
    let server = docker_version("Server").ok_or_else(|| {
        CliError::new(
            Exit::Failure,
            "cannot reach the Docker Engine with the docker CLI: `docker version` must show a Server section",
        )
    })?;
    let client = docker_version("Client").unwrap_or_default();
    let exe = std::env::current_exe().map_err(|e| fail("finding the current exe", &e))?;
    let tmp = tempfile::Builder::new()
        .prefix("deploykit-bench-image-")
        .tempdir()
        .map_err(|e| fail("creating a temp dir", &e))?;

    let small = tmp.path().join("budgetsync");
    copy_tree(&args.app, &small).map_err(|e| fail("copying the app", &e))?;
    std::fs::write(small.join(BENCH_DOCKERFILE_NAME), BENCH_DOCKERFILE)
        .map_err(|e| fail("writing the bench Dockerfile", &e))?;
    let large = tmp.path().join("synthetic");
    r.line(format!(
        "generating {} files, ~{} MiB of random bytes in {}",
        args.files,
        args.mib,
        large.display()
    ));
    generate_context(&large, args.files, args.mib << 20, 0x5eed_1a9e)
        .map_err(|e| fail("generating the context", &e))?;

    let name = |dir: &Path| {
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let contexts = [
        (
            format!(
                "{} ({})",
                name(&args.app),
                args.app.display().to_string().replace('\\', "/")
            ),
            small,
        ),
        (format!("synthetic ({} files)", args.files), large),
    ];
    let runs = args.runs.max(1);
    let mut tags = Tags(Vec::new());
    let pid = std::process::id();
    let mut cases = Vec::new();
    for (ci, (label, dir)) in contexts.iter().enumerate() {
        let plan = deploykit_image::plan_context(dir, BENCH_DOCKERFILE_NAME, "")
            .map_err(|e| CliError::from_error(Exit::Failure, &e))?;
        let hash = deploykit_image::context_hash(&plan)
            .map_err(|e| CliError::from_error(Exit::Failure, &e))?;
        let dir_s = dir.display().to_string();
        for (cache, no_cache) in [("no_cache", true), ("cached", false)] {
            r.line(format!(
                "{label}, {}: 1 warm-up + {runs} runs per side",
                cache.replace('_', "-")
            ));
            let mut ours_ms = Vec::new();
            let mut peer_ms = Vec::new();
            let mut ours_rss = None;
            let mut peer_rss = None;
            let mut split: [Vec<f64>; 3] = Default::default();
            let mut context_bytes = 0;
            let mut first_pair: Option<(String, String)> = None;
            // Run 0 warms the page cache (and, for `cached`, the build cache); not timed.
            for run in 0..=runs {
                let ours_tag = format!("deploykit-bench-ours:{pid}-{ci}-{cache}-{run}");
                let peer_tag = format!("deploykit-bench-cli:{pid}-{ci}-{cache}-{run}");
                let mut argv = vec![
                    exe.display().to_string(),
                    "--output".into(),
                    "json".into(),
                    "bench".into(),
                    "image-build".into(),
                    "--context".into(),
                    dir_s.clone(),
                    "--dockerfile".into(),
                    BENCH_DOCKERFILE_NAME.into(),
                    "--tag".into(),
                    ours_tag.clone(),
                ];
                if no_cache {
                    argv.push("--no-cache".into());
                }
                tags.0.push(ours_tag.clone());
                let ours =
                    timed(&argv, None, &[]).map_err(|e| fail("deploykit image build", &e))?;
                let child: ChildResult = ours
                    .stdout
                    .lines()
                    .find_map(|l| {
                        serde_json::from_str::<serde_json::Value>(l)
                            .ok()
                            .and_then(|v| serde_json::from_value(v.get("result")?.clone()).ok())
                    })
                    .ok_or_else(|| {
                        fail(
                            "deploykit image build",
                            &"the child printed no result object",
                        )
                    })?;

                let mut peer_argv: Vec<String> = vec!["docker".into(), "build".into(), "-q".into()];
                if no_cache {
                    peer_argv.push("--no-cache".into());
                }
                peer_argv.extend([
                    "--force-rm".into(),
                    "--platform".into(),
                    deploykit_image::DEFAULT_PLATFORM.into(),
                    "--label".into(),
                    format!("{LABEL_CONTENT_HASH}={hash}"),
                    "-f".into(),
                    dir.join(BENCH_DOCKERFILE_NAME).display().to_string(),
                    "-t".into(),
                    peer_tag.clone(),
                    dir_s.clone(),
                ]);
                tags.0.push(peer_tag.clone());
                let peer = timed(&peer_argv, None, &[("DOCKER_BUILDKIT", "0")])
                    .map_err(|e| fail("docker build", &e))?;

                if !no_cache && run > 0 && child.cached_steps + 1 < child.steps {
                    r.report(deploykit_report::Event::warn(format!(
                        "{label}: a cached rebuild ran {} of {} steps uncached",
                        child.steps - 1 - child.cached_steps,
                        child.steps
                    )));
                }
                if run == 0 {
                    first_pair = Some((ours_tag, peer_tag));
                    continue;
                }
                ours_ms.push(ms(ours.wall));
                peer_ms.push(ms(peer.wall));
                ours_rss = ours_rss.max(ours.peak_rss_kb.or(child.vm_hwm_kb));
                peer_rss = peer_rss.max(peer.peak_rss_kb);
                split[0].push(child.plan_ms);
                split[1].push(child.hash_ms);
                split[2].push(child.build_ms);
                context_bytes = child.context_bytes;
            }
            // Same context, same Dockerfile: both images must hold the same bytes.
            if let Some((o, p)) = first_pair {
                let (so, sp) = (image_size(&o), image_size(&p));
                if so != sp {
                    r.report(deploykit_report::Event::warn(format!(
                        "{label}: image sizes differ (deploykit {so:?}, docker CLI {sp:?}): the contexts are not the same"
                    )));
                }
            }
            let deploykit = SideStats::new(ours_ms, ours_rss);
            let docker_cli = SideStats::new(peer_ms, peer_rss);
            let case = CaseResult {
                context: label.clone(),
                files: plan.file_count(),
                context_bytes,
                cache,
                ratio: ratio(deploykit.median_ms, docker_cli.median_ms),
                goal_ratio: GOAL_RATIO,
                deploykit_plan_ms: median(&split[0]),
                deploykit_hash_ms: median(&split[1]),
                deploykit_build_ms: median(&split[2]),
                rss_per_context: deploykit
                    .peak_rss_kb
                    .map(|k| (k * 1024) as f64 / context_bytes.max(1) as f64),
                deploykit,
                docker_cli,
            };
            r.line(format!(
                "  deploykit {} (plan {:.0} ms, hash {:.0} ms, build {:.0} ms), docker CLI {}: {:.3}x",
                secs(case.deploykit.median_ms),
                case.deploykit_plan_ms,
                case.deploykit_hash_ms,
                case.deploykit_build_ms,
                secs(case.docker_cli.median_ms),
                case.ratio
            ));
            cases.push(case);
        }
    }
    drop(tags);
    let result = ImageBenchResult {
        release_build: !cfg!(debug_assertions),
        docker_server: server,
        docker_client: client,
        runs,
        goal_met: cases.iter().all(|c| c.ratio <= GOAL_RATIO),
        cases,
    };
    r.result(&result, || {
        let mut t = format!(
            "docker {} (client {}), classic builder, {} runs per side, ratio = deploykit median / docker CLI median (goal <= {GOAL_RATIO}x)\n\n",
            result.docker_server, result.docker_client, result.runs
        );
        t.push_str(&table(&result.cases));
        for c in result.cases.iter().filter(|c| c.cache == "no_cache") {
            if let (Some(k), Some(per)) = (c.deploykit.peak_rss_kb, c.rss_per_context) {
                t.push_str(&format!(
                    "\ndeploykit peak RSS {} for a {} context ({:.2}x the context; docker CLI {})",
                    human_bytes(k * 1024),
                    human_bytes(c.context_bytes),
                    per,
                    c.docker_cli
                        .peak_rss_kb
                        .map_or("?".into(), |k| human_bytes(k * 1024))
                ));
            }
        }
        if cfg!(debug_assertions) {
            t.push_str("\nnote: debug build; measure with `cargo run --release -p xtask -- bench image`");
        }
        t
    });
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_min_and_ratio() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
        assert_eq!(min(&[3.0, 1.5, 2.0]), 1.5);
        assert_eq!(min(&[]), 0.0);
        assert!((ratio(1.05, 1.0) - 1.05).abs() < 1e-12);
        assert_eq!(ratio(1.0, 0.0), 0.0);
    }

    #[test]
    fn vm_hwm_is_read_from_proc_status() {
        let status = "Name:\txtask\nVmPeak:\t  20000 kB\nVmHWM:\t    12345 kB\nVmRSS:\t 9000 kB\n";
        assert_eq!(vm_hwm_kb(status), Some(12345));
        assert_eq!(vm_hwm_kb("Name:\tx\n"), None);
    }

    #[test]
    fn table_aligns_and_flags_ratios_over_the_goal() {
        let case = |cache, ours: f64, peer: f64| CaseResult {
            context: "budgetsync".into(),
            files: 12,
            context_bytes: 30 * 1024,
            cache,
            deploykit: SideStats::new(vec![ours, ours + 10.0, ours + 20.0], Some(20 * 1024)),
            docker_cli: SideStats::new(vec![peer], None),
            ratio: ratio(ours + 10.0, peer),
            goal_ratio: GOAL_RATIO,
            deploykit_plan_ms: 1.0,
            deploykit_hash_ms: 1.0,
            deploykit_build_ms: 1.0,
            rss_per_context: None,
        };
        let t = table(&[
            case("no_cache", 990.0, 1000.0),
            case("cached", 1195.0, 1000.0),
        ]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4, "{t}");
        assert!(lines[0].starts_with("context "), "{t}");
        assert!(lines[1].starts_with("----"), "{t}");
        assert!(
            lines[2].contains("no-cache") && lines[2].contains("1.00 s / 0.99 s"),
            "{t}"
        );
        assert!(
            lines[2].contains("1.000x") && !lines[2].ends_with('!'),
            "{t}"
        );
        assert!(lines[3].contains("1.205x !"), "{t}");
        assert!(
            lines[2].contains("20.0 MiB") && lines[2].contains("30.0 KiB"),
            "{t}"
        );
        // Columns line up: every row as wide as the header rule.
        assert_eq!(lines[1].len(), lines[2].len().max(lines[3].len()), "{t}");
    }

    #[test]
    fn generated_context_is_deterministic_and_honours_its_dockerignore() {
        let a = tempfile::tempdir().expect("tempdir");
        let b = tempfile::tempdir().expect("tempdir");
        let na = generate_context(a.path(), 40, 200_000, 7).expect("generate");
        let nb = generate_context(b.path(), 40, 200_000, 7).expect("generate");
        assert_eq!(na, nb);
        assert!((100_000..300_000).contains(&na), "{na}");
        let pa = deploykit_image::plan_context(a.path(), BENCH_DOCKERFILE_NAME, "").expect("plan");
        let pb = deploykit_image::plan_context(b.path(), BENCH_DOCKERFILE_NAME, "").expect("plan");
        assert_eq!(
            deploykit_image::context_hash(&pa).expect("hash"),
            deploykit_image::context_hash(&pb).expect("hash"),
            "same seed, same context bytes"
        );
        let files: Vec<&str> = pa
            .entries
            .iter()
            .filter(|e| !matches!(e.kind, deploykit_image::EntryKind::Dir))
            .map(|e| e.rel.as_str())
            .collect();
        assert_eq!(
            files.len(),
            40 + 4,
            "data files + Dockerfile, .dockerignore, requirements, keep.log"
        );
        assert!(files.contains(&"logs/keep.log"), "the ! rule re-includes");
        assert!(
            !files
                .iter()
                .any(|f| *f == ".env" || f.ends_with(".tmp") || f.starts_with("logs/run"))
        );
        let c = tempfile::tempdir().expect("tempdir");
        generate_context(c.path(), 40, 200_000, 8).expect("generate");
        let pc = deploykit_image::plan_context(c.path(), BENCH_DOCKERFILE_NAME, "").expect("plan");
        assert_ne!(
            deploykit_image::context_hash(&pc).expect("hash"),
            deploykit_image::context_hash(&pa).expect("hash"),
            "another seed, other bytes"
        );
    }
}
