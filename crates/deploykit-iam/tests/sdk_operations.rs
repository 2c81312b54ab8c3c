//! Keeps `deploykit_iam::deployer::OPERATIONS` in step with the code: every AWS SDK operation
//! the deploykit crates (and xtask) call must be in the table, and every table row must still
//! be called. The local cloud's emulator and the test support crate are not deploykit's own
//! AWS use and are not scanned.
//!
//! An operation is a fluent client method named like one of the SDK crate's operation modules
//! (`aws-sdk-iam/src/operation/get_role.rs` -> `.get_role()`), called with no arguments, in a
//! crate that depends on that SDK crate.
//!
//! Services reached through deploykit-aws's Query client instead of an SDK crate
//! (`deploykit_aws::query`, e.g. EC2) are found by its call shape: in a file that names the
//! service (`Service::EC2`), every `.call("AuthorizeSecurityGroupIngress", ..)` is the
//! operation `authorize_security_group_ingress` of `ec2`, the table's names for it.

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

/// `DescribeDBInstances` -> `describe_db_instances`: the SDK's snake case of an action name.
fn snake_case(action: &str) -> String {
    let c: Vec<char> = action.chars().collect();
    let mut out = String::new();
    for (i, ch) in c.iter().enumerate() {
        if ch.is_ascii_uppercase() {
            let prev_lower = i > 0 && (c[i - 1].is_ascii_lowercase() || c[i - 1].is_ascii_digit());
            let acronym_end = i > 0
                && c[i - 1].is_ascii_uppercase()
                && c.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev_lower || acronym_end {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(*ch);
        }
    }
    out
}

/// The (service, operation) pairs of Query-client calls in `src`: the service from the one
/// `Service::NAME` the file names (none or several: nothing is attributed), each operation from
/// a `.call("Action"` whose action is a PascalCase name. Comments skipped.
fn query_calls(src: &str) -> BTreeSet<(String, String)> {
    let code: String = src
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut services = BTreeSet::new();
    for (i, _) in code.match_indices("Service::") {
        // A whole word `Service` (not `AppRunnerService::`) and an all-caps constant.
        if code[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let name: String = code[i + "Service::".len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() && !name.contains(|c: char| c.is_ascii_lowercase()) {
            services.insert(name.to_ascii_lowercase());
        }
    }
    let services: Vec<String> = services.into_iter().collect();
    let [service] = services.as_slice() else {
        return BTreeSet::new();
    };
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices(".call(") {
        let rest = code[i + ".call(".len()..].trim_start();
        let Some(lit) = rest.strip_prefix('"') else {
            continue;
        };
        let action: String = lit
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if action.starts_with(|c: char| c.is_ascii_uppercase())
            && lit[action.len()..].starts_with('"')
        {
            out.insert((service.clone(), snake_case(&action)));
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
            for key in query_calls(&src) {
                let rel = f.strip_prefix(root).unwrap_or(&f).display().to_string();
                found.entry(key).or_default().insert(rel);
            }
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
    // Query-client calls: the file's one service, each `.call("Action"`.
    let q = "use deploykit_aws::query::{QueryClient, Service};\n\
             let q = QueryClient::new(&sdk, Service::EC2);\n\
             let b = self.q.call(\"DescribeSecurityGroups\", &p).await?;\n\
             q.call(\n    \"AuthorizeSecurityGroupIngress\", &p);\n\
             // q.call(\"DeleteVpc\", &p)\n\
             tx.call(\"not an action\"); q.call(name, &p);";
    assert_eq!(
        query_calls(q),
        BTreeSet::from([
            ("ec2".to_string(), "describe_security_groups".to_string()),
            (
                "ec2".to_string(),
                "authorize_security_group_ingress".to_string()
            ),
        ])
    );
    assert!(
        query_calls("q.call(\"DescribeVpcs\", &p)").is_empty(),
        "no service named"
    );
    assert!(
        query_calls("AppRunnerService::Foo; Service::new(); q.call(\"DescribeVpcs\", &p)")
            .is_empty(),
        "not a Query service constant"
    );
    for (action, snake) in [
        ("DescribeVpcs", "describe_vpcs"),
        ("DescribeDBInstances", "describe_db_instances"),
        ("CreateDBSubnetGroup", "create_db_subnet_group"),
        (
            "RevokeSecurityGroupIngress",
            "revoke_security_group_ingress",
        ),
    ] {
        assert_eq!(snake_case(action), snake);
    }
    let deps = sdk_deps(
        "[dependencies]\naws-sdk-iam.workspace = true\n[dev-dependencies]\naws-sdk-s3 = {}\n",
    );
    assert_eq!(deps, BTreeSet::from(["iam".to_string()]));
}
