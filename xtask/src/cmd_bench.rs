//! `cargo xtask bench bundle`: our bundler against `zip -r -q -6` and Python `zipfile` on a
//! synthetic app tree, in the same run. Numbers are meaningful from a release build:
//! `cargo run --release -p xtask -- bench bundle`. `bench image` lives in [`image`].

mod image;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::{CliError, CliResult, Exit, GlobalArgs};
use deploykit_cli::render::Renderer;

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Bundle a synthetic app tree with ours, `zip -r -q -6` and Python zipfile; print ratios.
    Bundle(BundleBenchArgs),
    /// Build FROM scratch images with deploykit-image and with the `docker build` CLI; print ratios.
    Image(image::ImageBenchArgs),
    /// One timed build through deploykit-image (the child process `bench image` runs).
    #[command(hide = true)]
    ImageBuild(image::ImageBuildArgs),
}

#[derive(Debug, clap::Args)]
pub struct BundleBenchArgs {
    /// Where the synthetic tree and the zips go.
    #[arg(long, default_value = "target/bench")]
    pub dir: PathBuf,
    /// Runs per tool; the median wall time is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
}

#[derive(Debug, Serialize)]
struct ToolResult {
    tool: String,
    wall_ms: u64,
    bytes: u64,
    peak_rss_kb: Option<u64>,
}

#[derive(Debug, Serialize)]
struct BenchResult {
    files: usize,
    bytes_in: u64,
    release_build: bool,
    tools: Vec<ToolResult>,
    speedup_vs_zip: f64,
    size_vs_zip_pct: f64,
}

pub fn run(cmd: BenchCommand, global: &GlobalArgs, r: &Renderer) -> CliResult {
    match cmd {
        BenchCommand::Bundle(args) => run_bundle(args, global, r),
        BenchCommand::Image(args) => image::run(args, r),
        BenchCommand::ImageBuild(args) => image::run_build(args, r),
    }
}

fn run_bundle(args: BundleBenchArgs, _global: &GlobalArgs, r: &Renderer) -> CliResult {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        CliError::new(Exit::Failure, format!("{what}: {e}"))
    };
    let app = args.dir.join("app");
    let out = args.dir.join("out");
    std::fs::create_dir_all(&out).map_err(|e| fail("creating the bench dir", &e))?;
    r.line(format!(
        "generating the synthetic app tree in {}",
        app.display()
    ));
    let (files, bytes_in) = generate(&app).map_err(|e| fail("generating the tree", &e))?;
    r.line(format!(
        "{files} files, {:.1} MiB",
        bytes_in as f64 / 1048576.0
    ));
    let exe = std::env::current_exe().map_err(|e| fail("finding the current exe", &e))?;
    let app_abs = app
        .canonicalize()
        .map_err(|e| fail("resolving the tree", &e))?;
    let out_abs = out
        .canonicalize()
        .map_err(|e| fail("resolving the out dir", &e))?;

    let py = "import os, sys, zipfile\n\
        root, dst = sys.argv[1], sys.argv[2]\n\
        with zipfile.ZipFile(dst, 'w', zipfile.ZIP_DEFLATED, compresslevel=6) as z:\n\
        \x20   for d, _, fs in os.walk(root):\n\
        \x20       for f in fs:\n\
        \x20           p = os.path.join(d, f)\n\
        \x20           z.write(p, os.path.relpath(p, root))\n";
    let ours_zip = out_abs.join("ours.zip");
    let zip_zip = out_abs.join("zip.zip");
    let py_zip = out_abs.join("python.zip");
    let tools: Vec<(&str, Vec<String>, Option<PathBuf>, PathBuf)> = vec![
        (
            "deploykit",
            vec![
                exe.display().to_string(),
                "--output".into(),
                "plain".into(),
                "bundle".into(),
                "eb".into(),
                "--app".into(),
                app_abs.display().to_string(),
                "--out".into(),
                ours_zip.display().to_string(),
            ],
            None,
            ours_zip.clone(),
        ),
        (
            "zip -r -q -6",
            vec![
                "zip".into(),
                "-r".into(),
                "-q".into(),
                "-6".into(),
                zip_zip.display().to_string(),
                ".".into(),
            ],
            Some(app_abs.clone()),
            zip_zip.clone(),
        ),
        (
            "python zipfile -6",
            vec![
                "python3".into(),
                "-c".into(),
                py.into(),
                app_abs.display().to_string(),
                py_zip.display().to_string(),
            ],
            None,
            py_zip.clone(),
        ),
    ];
    let mut results = Vec::new();
    for (name, argv, cwd, zip) in tools {
        let mut walls = Vec::new();
        let mut rss = None;
        for _ in 0..args.runs.max(1) {
            let _ = std::fs::remove_file(&zip);
            let t = timed(&argv, cwd.as_deref(), &[]).map_err(|e| fail(name, &e))?;
            walls.push(t.wall);
            rss = rss.max(t.peak_rss_kb);
        }
        walls.sort();
        let wall = walls[walls.len() / 2];
        let bytes = std::fs::metadata(&zip).map_err(|e| fail(name, &e))?.len();
        r.line(format!(
            "{name:<20} {:>8.2}s {:>12} bytes  peak RSS {}",
            wall.as_secs_f64(),
            bytes,
            rss.map_or("?".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
        ));
        results.push(ToolResult {
            tool: name.into(),
            wall_ms: u64::try_from(wall.as_millis()).unwrap_or(u64::MAX),
            bytes,
            peak_rss_kb: rss,
        });
    }
    let speedup = results[1].wall_ms as f64 / results[0].wall_ms.max(1) as f64;
    let size_pct = (results[0].bytes as f64 / results[1].bytes as f64 - 1.0) * 100.0;
    let result = BenchResult {
        files,
        bytes_in,
        release_build: !cfg!(debug_assertions),
        tools: results,
        speedup_vs_zip: speedup,
        size_vs_zip_pct: size_pct,
    };
    r.result(&result, || {
        let mut t = format!(
            "deploykit vs zip -r -6: {speedup:.2}x faster (goal >= 2.5x), size {size_pct:+.2}% (goal <= +2%), peak RSS {} (goal <= 64 MiB)",
            result.tools[0].peak_rss_kb.map_or("?".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
        );
        if cfg!(debug_assertions) {
            t.push_str("\nnote: debug build; measure with `cargo run --release -p xtask -- bench bundle`");
        }
        t
    });
    Ok(Exit::Success)
}

/// One timed process run.
struct Timed {
    wall: Duration,
    /// Peak RSS (KiB) from `/usr/bin/time -v`, when it is installed.
    peak_rss_kb: Option<u64>,
    stdout: String,
}

/// Runs `argv` (with `envs` added) under `/usr/bin/time -v` when present; returns wall time,
/// peak RSS (KiB) and stdout.
fn timed(argv: &[String], cwd: Option<&Path>, envs: &[(&str, &str)]) -> std::io::Result<Timed> {
    let time = Path::new("/usr/bin/time");
    let mut cmd = if time.exists() {
        let mut c = Command::new(time);
        c.arg("-v").args(argv);
        c
    } else {
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..]);
        c
    };
    if let Some(d) = cwd {
        cmd.current_dir(d);
    }
    cmd.envs(envs.iter().copied());
    let start = Instant::now();
    let out = cmd.output()?;
    let wall = start.elapsed();
    if !out.status.success() {
        return Err(std::io::Error::other(format!(
            "{} failed: {}",
            argv[0],
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .rfind(|l| !l.starts_with(['\t', ' ']) && !l.starts_with("Command exited"))
                .unwrap_or_default()
        )));
    }
    let peak_rss_kb = String::from_utf8_lossy(&out.stderr).lines().find_map(|l| {
        l.trim()
            .strip_prefix("Maximum resident set size (kbytes):")
            .and_then(|v| v.trim().parse().ok())
    });
    Ok(Timed {
        wall,
        peak_rss_kb,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
    })
}

/// A deterministic pseudo-random stream (xorshift64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next().to_le_bytes());
        }
        v.truncate(n);
        v
    }
}

const WORDS: &[&str] = &[
    "budget",
    "amount",
    "transaction",
    "user",
    "account",
    "session",
    "query",
    "filter",
    "self",
    "return",
    "import",
    "from",
    "def",
    "class",
    "if",
    "else",
    "for",
    "in",
    "None",
    "True",
    "False",
    "db",
    "request",
    "response",
    "json",
    "value",
    "total",
    "category",
    "date",
    "id",
];

fn text(rng: &mut Rng, bytes: usize, indent: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes + 100);
    while out.len() < bytes {
        if indent {
            out.extend_from_slice(&b"        "[..(rng.below(3) as usize) * 4]);
        }
        for _ in 0..(3 + rng.below(8)) {
            out.extend_from_slice(WORDS[rng.below(WORDS.len() as u64) as usize].as_bytes());
            out.push(if rng.below(5) == 0 { b'_' } else { b' ' });
            if rng.below(7) == 0 {
                out.extend_from_slice(format!("{}", rng.below(1000)).as_bytes());
            }
        }
        out.push(b'\n');
    }
    out
}

/// Writes the synthetic tree (idempotently: same seed, same bytes); returns (files, bytes).
fn generate(root: &Path) -> std::io::Result<(usize, u64)> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut files = 0usize;
    let mut total = 0u64;
    let mut put = |rel: &str, data: &[u8]| -> std::io::Result<()> {
        let p = root.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let same = std::fs::metadata(&p).is_ok_and(|m| m.len() == data.len() as u64);
        if !same {
            std::fs::File::create(&p)?.write_all(data)?;
        }
        files += 1;
        total += data.len() as u64;
        Ok(())
    };
    put(
        "Procfile",
        b"web: gunicorn --bind :8000 \"app:create_app()\"\n",
    )?;
    put(
        "requirements.txt",
        b"flask==3.0.3\ngunicorn==22.0.0\npsycopg2-binary==2.9.9\n",
    )?;
    put(".gitignore", b"__pycache__/\n*.pyc\n")?;
    put(".env.example", b"SECRET_KEY=change-me\n")?;
    put(".ebextensions/01_single.config", b"option_settings:\n  aws:elasticbeanstalk:environment:\n    EnvironmentType: SingleInstance\n")?;
    put(
        ".platform/hooks/postdeploy/01_migrate.sh",
        b"#!/bin/bash\nset -e\nflask db upgrade\n",
    )?;
    for i in 0..1200 {
        let n = 4_000 + rng.below(16_000) as usize;
        put(
            &format!("app/mod{:02}/file{i:04}.py", i % 40),
            &text(&mut rng, n, true),
        )?;
    }
    for i in 0..300 {
        let n = 2_000 + rng.below(8_000) as usize;
        put(
            &format!("app/templates/page{i:03}.html"),
            &text(&mut rng, n, false),
        )?;
    }
    for i in 0..1400 {
        let n = 1_000 + rng.below(24_000) as usize;
        let ext = ["py", "txt", "json", "pyi"][i % 4];
        put(
            &format!("vendor/pkg{:02}/sub{}/m{i:04}.{ext}", i % 35, i % 6),
            &text(&mut rng, n, true),
        )?;
    }
    for i in 0..160 {
        let n = 100_000 + rng.below(400_000) as usize;
        let ext = if i % 2 == 0 { "jpg" } else { "png" };
        put(&format!("app/static/img/i{i:03}.{ext}"), &rng.bytes(n))?;
    }
    // Half-compressible: CSV rows of random hex.
    let mut data = Vec::with_capacity(24 << 20);
    while data.len() < 24 << 20 {
        let r = rng.next();
        data.extend_from_slice(format!("{},{:016x},{},ok\n", data.len(), r, r % 977).as_bytes());
    }
    put("data/export.csv", &data)?;
    for i in 0..20 {
        put(
            &format!("app/.hidden/dot{i}.cfg"),
            &text(&mut rng, 500, false),
        )?;
    }
    Ok((files, total))
}
