//! The zip itself: determinism, round trips through three readers, ZIP64, and a property test
//! that the bundle ships exactly the files git would consider not ignored.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::*;
use deploykit_report::NullReporter;
use proptest::prelude::*;

/// Half-compressible bytes: random hex digits with newlines.
fn hexish(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if i % 64 == 63 {
                b'\n'
            } else {
                b"0123456789abcdef"[(x % 16) as usize]
            }
        })
        .collect()
}

fn random(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn sample_app() -> tempfile::TempDir {
    let big = hexish(3 * 1024 * 1024 + 12345, 7);
    let media = random(300_000, 9);
    let text = "def f(x):\n    return x * 2\n".repeat(400);
    tree(&[
        ("data/big.csv", &big, 0o644),
        ("static/logo.png", &media, 0o644),
        ("static/empty.txt", b"", 0o644),
        ("src/mod.py", text.as_bytes(), 0o644),
        ("bin/manage.sh", b"#!/bin/sh\nexec flask \"$@\"\n", 0o755),
        ("ünïcode/naïve.txt", b"caf\xc3\xa9\n", 0o644),
        (
            ".platform/hooks/postdeploy/01_migrate.sh",
            b"#!/bin/bash\nflask db upgrade\n",
            0o755,
        ),
    ])
}

#[test]
fn same_tree_same_bytes_whatever_threads_or_mtimes() {
    let app = sample_app();
    let out = tempfile::tempdir().expect("tempdir");
    let mut sums = Vec::new();
    for (i, threads) in [Some(1), Some(2), Some(4), None].into_iter().enumerate() {
        let mut o = opts(app.path(), &out.path().join(format!("{i}.zip")));
        o.threads = threads;
        let s = deploykit_bundle::build(&o, &NullReporter).expect("builds");
        sums.push((s.sha256.clone(), s.label.clone()));
        // Touch every file between builds: timestamps must not matter.
        let now =
            std::time::SystemTime::now() - std::time::Duration::from_secs(86_400 * (i as u64 + 1));
        for e in walk(app.path()) {
            let f = std::fs::File::options().write(true).open(&e).expect("open");
            f.set_modified(now).expect("set mtime");
        }
    }
    let first = std::fs::read(out.path().join("0.zip")).expect("read");
    for i in 1..4 {
        assert_eq!(
            std::fs::read(out.path().join(format!("{i}.zip"))).expect("read"),
            first,
            "build {i}"
        );
    }
    assert!(sums.windows(2).all(|w| w[0] == w[1]), "{sums:?}");
}

fn walk(root: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("ls") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p)
            } else {
                out.push(p)
            }
        }
    }
    out
}

#[test]
fn round_trip_with_the_zip_crate() {
    let app = sample_app();
    let (s, out) = build(app.path());
    let entries = read_zip(&bundle_path(&out));
    let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "entries are sorted");
    assert_eq!(s.files, entries.len());
    for (name, mode, deflated, data) in &entries {
        let disk = std::fs::read(app.path().join(name)).expect("disk file");
        assert_eq!(data, &disk, "{name} round-trips");
        let want_mode = if name.ends_with(".sh") {
            0o100755
        } else {
            0o100644
        };
        assert_eq!(*mode, want_mode, "{name}");
        // Media and empty files are stored; tiny files are stored when deflate does not help.
        if name.ends_with(".png") || name.ends_with("empty.txt") {
            assert!(!deflated, "{name} stored");
        }
        if name.ends_with(".csv") || name.ends_with("mod.py") {
            assert!(deflated, "{name} deflated");
        }
    }
    // Fixed timestamps and no top-level folder.
    let f = std::fs::File::open(bundle_path(&out)).expect("open");
    let mut z = zip::ZipArchive::new(f).expect("zip");
    for i in 0..z.len() {
        let e = z.by_index(i).expect("entry");
        let t = e.last_modified().expect("time");
        assert_eq!(
            (t.year(), t.month(), t.day(), t.hour(), t.minute()),
            (1980, 1, 1, 0, 0)
        );
    }
    assert!(z.by_name("Procfile").is_ok(), "Procfile at the root");
    // The chunked large file compresses about as well as one deflate stream would.
    let big = z.by_name("data/big.csv").expect("big");
    assert!(
        big.compressed_size() < big.size() * 60 / 100,
        "{} of {}",
        big.compressed_size(),
        big.size()
    );
}

#[test]
fn round_trip_with_python_zipfile_and_unzip() {
    let app = sample_app();
    let (_, out) = build(app.path());
    let zip_path = bundle_path(&out);
    let script = r#"
import sys, zipfile, hashlib
with zipfile.ZipFile(sys.argv[1]) as z:
    assert z.testzip() is None
    for i in z.infolist():
        print(i.filename, oct(i.external_attr >> 16), i.compress_type, hashlib.sha256(z.read(i)).hexdigest())
"#;
    let py = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&zip_path)
        .output()
        .expect("python3 runs");
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let py = String::from_utf8(py.stdout).expect("utf8");
    for (name, mode, deflated, data) in read_zip(&zip_path) {
        use sha2::Digest;
        let line = format!(
            "{name} {} {} {}",
            format_args!("0o{mode:o}"),
            if deflated { 8 } else { 0 },
            hex::encode(sha2::Sha256::digest(&data))
        );
        assert!(
            py.lines().any(|l| l == line),
            "{line:?} not in python's view:\n{py}"
        );
    }
    let unzip = Command::new("unzip")
        .arg("-Z")
        .arg(&zip_path)
        .output()
        .expect("unzip runs");
    assert!(unzip.status.success());
    let listing = String::from_utf8_lossy(&unzip.stdout);
    assert!(
        listing.lines().any(|l| l.starts_with("-rwxr-xr-x")
            && l.ends_with(" .platform/hooks/postdeploy/01_migrate.sh")),
        "{listing}"
    );
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("-rw-r--r--") && l.ends_with(" Procfile")),
        "{listing}"
    );
    let test = Command::new("unzip")
        .arg("-tq")
        .arg(&zip_path)
        .output()
        .expect("unzip -t runs");
    assert!(
        test.status.success(),
        "{}",
        String::from_utf8_lossy(&test.stdout)
    );
}

#[test]
fn zip64_beyond_65535_entries() {
    let app = tree(&[]);
    for d in 0..66 {
        let dir = app.path().join(format!("d{d:02}"));
        std::fs::create_dir(&dir).expect("mkdir");
        for f in 0..1000 {
            std::fs::write(dir.join(format!("{f}.txt")), b"").expect("write");
        }
    }
    let (s, out) = build(app.path());
    assert_eq!(s.files, 66_003);
    let f = std::fs::File::open(bundle_path(&out)).expect("open");
    let z = zip::ZipArchive::new(f).expect("zip crate reads the ZIP64 directory");
    assert_eq!(z.len(), 66_003);
    let py = Command::new("python3")
        .arg("-c")
        .arg("import sys, zipfile; print(len(zipfile.ZipFile(sys.argv[1]).infolist()))")
        .arg(bundle_path(&out))
        .output()
        .expect("python3 runs");
    assert_eq!(String::from_utf8_lossy(&py.stdout).trim(), "66003");
}

/// The files `git` itself would add in `dir` (untracked, not ignored): the oracle for gitignore
/// semantics.
fn git_would_add(dir: &Path) -> BTreeSet<String> {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("git runs")
    };
    assert!(git(&["init", "-q"]).status.success());
    let out = git(&[
        "ls-files",
        "--others",
        "--exclude-per-directory=.gitignore",
        "-z",
    ]);
    std::fs::remove_dir_all(dir.join(".git")).expect("rm .git");
    String::from_utf8(out.stdout)
        .expect("utf8")
        .split('\0')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

fn arb_tree() -> impl Strategy<Value = (Vec<String>, Vec<(String, String)>)> {
    let seg = prop::sample::select(vec![
        "a", "b", "src", "build", "x.log", "y.py", "z.pyc", "doc",
    ]);
    let file = prop::collection::vec(seg.clone(), 1..4).prop_map(|v| v.join("/"));
    let pat = prop::sample::select(vec![
        "*.log",
        "build/",
        "/a",
        "b",
        "!y.py",
        "*.py",
        "src/*.pyc",
        "**/doc",
        "!build/",
        "a/**",
        "/src/",
        "x.*",
        "!a/b",
        "#c",
        "doc/y.py",
        "*.pyc",
    ]);
    let ignore_file = (
        prop::sample::select(vec!["", "a/", "src/", "a/b/"]),
        prop::collection::vec(pat, 0..5).prop_map(|v| v.join("\n")),
    )
        .prop_map(|(d, p)| (format!("{d}.gitignore"), p));
    (
        prop::collection::vec(file, 1..15),
        prop::collection::vec(ignore_file, 0..3),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn ships_exactly_the_files_git_would_add((files, ignores) in arb_tree()) {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let mut created = Vec::new();
        for f in files.iter().chain(["Procfile".to_string(), "requirements.txt".to_string()].iter()) {
            let p = root.join(f);
            // Skip paths that clash with an existing file/directory of another shape.
            if p.ancestors().skip(1).any(|a| a.is_file()) || p.is_dir() { continue; }
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            let body: &[u8] = if f == "Procfile" { b"web: x\n" } else { b"x\n" };
            std::fs::write(&p, body).expect("write");
            created.push(f.clone());
        }
        for (name, body) in &ignores {
            let p = root.join(name);
            if p.ancestors().skip(1).any(|a| a.is_file()) { continue; }
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(&p, format!("{body}\n")).expect("write");
        }
        let expected = git_would_add(root);
        let out = tempfile::tempdir().expect("tempdir");
        let mut o = opts(root, &out.path().join("b.zip"));
        o.label_prefix = "p".into();
        match deploykit_bundle::plan(&o) {
            Ok(plan) => {
                let got: BTreeSet<String> = plan.entries.iter().map(|e| e.name.clone()).collect();
                prop_assert_eq!(got, expected);
            }
            // Procfile or requirements.txt ignored: then git must agree they are ignored.
            Err(e) => {
                prop_assert!(e.is_refusal(), "{}", e);
                prop_assert!(
                    !expected.contains("Procfile") || !expected.contains("requirements.txt"),
                    "refused although git ships both: {}", e
                );
            }
        }
    }
}
