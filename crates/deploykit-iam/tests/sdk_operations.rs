//! Keeps `deploykit_iam::deployer::OPERATIONS` in step with the code: every AWS SDK operation
//! the deploykit crates (and xtask) call must be in the table, and every table row must still
//! be called. The local cloud's emulator and the test support crate are not deploykit's own
//! AWS use and are not scanned.
//!
//! An operation is a fluent client method named like one of the SDK crate's operation modules
//! (`aws-sdk-iam/src/operation/get_role.rs` -> `.get_role()`), called with no arguments, in a
//! crate that depends on that SDK crate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use deploykit_iam::deployer::OPERATIONS;

const NOT_SCANNED: &[&str] = &["deploykit-localcloud", "deploykit-testsupport"];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("workspace root")
        .to_path_buf()
}

/// `aws-sdk-x` -> version, from Cargo.lock.
fn locked_sdk_versions(root: &Path) -> BTreeMap<String, String> {
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).expect("read Cargo.lock");
    let mut out = BTreeMap::new();
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if let Some(name) = line
            .strip_prefix("name = \"aws-sdk-")
            .and_then(|r| r.strip_suffix('"'))
            && let Some(v) = lines
                .next()
                .and_then(|l| l.strip_prefix("version = \""))
                .and_then(|r| r.strip_suffix('"'))
        {
            out.insert(name.to_owned(), v.to_owned());
        }
    }
    out
}

/// The operation names of SDK crate `aws-sdk-<sdk>` at `version`, from its source in the
/// cargo registry (the build has it: the crate is a dependency).
fn sdk_operations(sdk: &str, version: &str) -> BTreeSet<String> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .expect("CARGO_HOME or HOME");
    let registries = cargo_home.join("registry/src");
    let dir_name = format!("aws-sdk-{sdk}-{version}");
    for reg in std::fs::read_dir(&registries)
        .unwrap_or_else(|e| panic!("read {}: {e}", registries.display()))
        .flatten()
    {
        let ops = reg.path().join(&dir_name).join("src/operation");
        if ops.is_dir() {
            return std::fs::read_dir(&ops)
                .expect("read operation dir")
                .flatten()
                .filter_map(|e| {
                    e.file_name()
                        .to_str()
                        .and_then(|n| n.strip_suffix(".rs"))
                        .map(str::to_owned)
                })
                .collect();
        }
    }
    panic!(
        "the source of {dir_name} is not under {}; build the workspace first (cargo fetch)",
        registries.display()
    );
}

/// The `aws-sdk-*` crates (without the prefix) in `[dependencies]` of a Cargo.toml.
fn sdk_deps(manifest: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut in_deps = false;
    for line in manifest.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            in_deps = t == "[dependencies]";
            continue;
        }
        if in_deps && let Some(rest) = t.strip_prefix("aws-sdk-") {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            out.insert(name);
        }
    }
    out
}

/// Every `.name()` (a lowercase identifier called with no arguments) in `src`, comments
/// skipped.
fn zero_arg_calls(src: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in src.lines() {
        let code = line.split("//").next().unwrap_or("");
        let b = code.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'.' {
                let start = i + 1;
                let mut j = start;
                while j < b.len()
                    && (b[j].is_ascii_lowercase() || b[j].is_ascii_digit() || b[j] == b'_')
                {
                    j += 1;
                }
                if j > start && code[j..].starts_with("()") {
                    out.insert(code[start..j].to_owned());
                }
                i = j.max(i + 1);
            } else {
                i += 1;
            }
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// (sdk, operation) -> the files calling it.
fn called_operations(root: &Path) -> BTreeMap<(String, String), BTreeSet<String>> {
    let versions = locked_sdk_versions(root);
    let mut ops_of: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut crate_dirs: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .expect("read crates/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Cargo.toml").is_file() && !NOT_SCANNED.iter().any(|n| p.ends_with(n)))
        .collect();
    crate_dirs.push(root.join("xtask"));
    crate_dirs.sort();
    let mut found: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for dir in crate_dirs {
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("read Cargo.toml");
        let sdks = sdk_deps(&manifest);
        for sdk in &sdks {
            if !ops_of.contains_key(sdk) {
                let v = versions
                    .get(sdk)
                    .unwrap_or_else(|| panic!("aws-sdk-{sdk} is not in Cargo.lock"));
                ops_of.insert(sdk.clone(), sdk_operations(sdk, v));
            }
        }
        let mut files = Vec::new();
        rust_files(&dir.join("src"), &mut files);
        for f in files {
            let src = std::fs::read_to_string(&f).expect("read source");
            // A call two of the crate's SDKs both have (`create_service`: App Runner and ECS)
            // belongs to the ones the file names (`aws_sdk_apprunner::...`), when it names any.
            let named: BTreeSet<&String> = sdks
                .iter()
                .filter(|sdk| src.contains(&format!("aws_sdk_{}", sdk.replace('-', "_"))))
                .collect();
            for call in zero_arg_calls(&src) {
                let owners: Vec<&String> =
                    sdks.iter().filter(|s| ops_of[*s].contains(&call)).collect();
                let ambiguous = owners.len() > 1 && owners.iter().any(|s| named.contains(s));
                for sdk in &sdks {
                    if ambiguous && !named.contains(sdk) {
                        continue;
                    }
                    if ops_of[sdk].contains(&call) {
                        let rel = f.strip_prefix(root).unwrap_or(&f).display().to_string();
                        found
                            .entry((sdk.clone(), call.clone()))
                            .or_default()
                            .insert(rel);
                    }
                }
            }
        }
    }
    found
}

#[test]
fn the_deployer_table_lists_exactly_the_sdk_operations_the_code_calls() {
    let root = workspace_root();
    let called = called_operations(&root);
    let table: BTreeSet<(String, String)> = OPERATIONS
        .iter()
        .map(|o| (o.sdk.to_owned(), o.operation.to_owned()))
        .collect();
    let missing: Vec<String> = called
        .iter()
        .filter(|(k, _)| !table.contains(*k))
        .map(|((sdk, op), files)| {
            format!(
                "aws-sdk-{sdk} `{op}` (called in {}) is missing from deploykit_iam::deployer::OPERATIONS",
                files.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        })
        .collect();
    let stale: Vec<String> = table
        .iter()
        .filter(|k| !called.contains_key(*k))
        .map(|(sdk, op)| {
            format!(
                "OPERATIONS lists aws-sdk-{sdk} `{op}`, which no deploykit crate calls any more"
            )
        })
        .collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "the deployer policy table is out of step with the code:\n{}",
        missing
            .iter()
            .chain(stale.iter())
            .map(|s| format!("  {s}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_scanner_finds_fluent_calls_and_skips_comments() {
    let src =
        "let x = client\n    .get_role()\n    .role_name(n); // .create_role()\nfoo.bar(1).baz()";
    let calls = zero_arg_calls(src);
    assert!(calls.contains("get_role"));
    assert!(calls.contains("baz"));
    assert!(!calls.contains("create_role"));
    assert!(!calls.contains("role_name"));
    let deps = sdk_deps(
        "[dependencies]\naws-sdk-iam.workspace = true\n[dev-dependencies]\naws-sdk-s3 = {}\n",
    );
    assert_eq!(deps, BTreeSet::from(["iam".to_string()]));
}
