//! Repository rules checked over `cargo metadata`, `cargo tree` and the sources, as
//! rust-analyzer's `tidy` test does. Each rule lists every offender, not the first one.
//!
//! The rules are data (tables below); the allowlists only shrink: an entry that is no longer
//! needed fails the test until it is removed. The test reads the workspace only through cargo
//! and the files, never through xtask's own code.

#[path = "tidy/json.rs"]
mod json;
#[path = "tidy/source.rs"]
mod source;
#[path = "tidy/workspace.rs"]
mod workspace;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use source::{cfg_test_ranges, lex, names_crate, read, rust_files, test_modules};
use workspace::{cargo, tree_edges, tree_features, workspace};

// ---------------------------------------------------------------------------------------------
// The boundary table (docs/ARCHITECTURE.md, "Crates": "never depends on"), as data.
// ---------------------------------------------------------------------------------------------

/// The crates that parse arguments and print: only these may use terminal crates.
const CLI: &[&str] = &["xtask", "deploykit-cli"];
/// The pipelines library (`Project::load`, `deploy_eb`, ...): above the service crates.
const PIPELINES: &str = "deploykit";
/// Service crates: one AWS service or one artifact each.
const SERVICES: &[&str] = &[
    "deploykit-s3",
    "deploykit-eb",
    "deploykit-ecr",
    "deploykit-apprunner",
    "deploykit-rds",
    "deploykit-dns",
    "deploykit-acm",
    "deploykit-secrets",
    "deploykit-iam",
    "deploykit-image",
    "deploykit-bundle",
    "deploykit-logs",
    "deploykit-alarms",
];
/// What every layer may use.
const FOUNDATION: &[&str] = &[
    "deploykit-report",
    "deploykit-config",
    "deploykit-aws",
    "deploykit-secretrules",
];
/// Libraries beside the service crates that call no AWS service (planners over config).
const PLANNERS: &[&str] = &["deploykit-cost", "deploykit-init"];
/// The local cloud and the test harness: a library depends on them only as a dev-dependency.
const LOCAL_CLOUD: &[&str] = &[
    "deploykit-localcloud",
    "deploykit-local",
    "deploykit-testsupport",
];
/// Terminal and argument-parsing crates: CLI only.
const TERMINAL: &[&str] = &[
    "clap",
    "indicatif",
    "console",
    "crossterm",
    "termcolor",
    "anstream",
    "colored",
    "owo-colors",
];
const AWS_SDK: &[&str] = &[
    "aws-sdk-*",
    "aws-config",
    "aws-smithy-*",
    "aws-types",
    "aws-runtime",
    "aws-credential-types",
    "aws-sigv4",
];
const NETWORK: &[&str] = &[
    "hyper", "hyper-*", "h2", "reqwest", "ureq", "socket2", "tokio",
];

/// One row: `krate` never depends on anything matching `never` (a `*` suffix is a prefix
/// match) except `but`, through normal or build dependencies, directly or through other crates.
struct Never {
    krate: &'static str,
    never: &'static [&'static [&'static str]],
    but: &'static [&'static str],
}

#[rustfmt::skip]
const TABLE: &[Never] = &[
    Never { krate: "deploykit-report", never: &[&["deploykit*"], TERMINAL], but: &[] },
    Never { krate: "deploykit-config", never: &[AWS_SDK, NETWORK], but: &[] },
    // STS is aws-config's and ours; SSO and SSO-OIDC are aws-config's credential providers.
    // deploykit-config: issue 11 (service crates take plain inputs, so none pulls config in).
    Never { krate: "deploykit-aws", never: &[&["aws-sdk-*", "deploykit-config"]],
            but: &["aws-sdk-sts", "aws-sdk-sso", "aws-sdk-ssooidc"] },
    Never { krate: "deploykit-bundle", never: &[AWS_SDK, &["git2", "gix", "gix-*"]], but: &[] },
    Never { krate: "deploykit-s3", never: &[&["deploykit-config"]], but: &[] },
    Never { krate: "deploykit-eb", never: &[&["deploykit-config", "bollard"]], but: &[] },
    Never { krate: "deploykit-image", never: &[AWS_SDK], but: &[] },
    Never { krate: "deploykit-ecr", never: &[&["deploykit-config"]], but: &[] },
    Never { krate: "deploykit-apprunner", never: &[&["deploykit-image", "deploykit-ecr"]], but: &[] },
    Never { krate: "deploykit-dns", never: &[&["deploykit-config", "deploykit-apprunner"]], but: &[] },
    Never { krate: "deploykit-acm", never: &[&["deploykit-config", "deploykit-apprunner", "deploykit-eb"]], but: &[] },
    Never { krate: "deploykit-rds", never: &[&["deploykit-config"]], but: &[] },
    // CloudWatch and SNS over deploykit-aws's Query client (its STS and SSO crates only).
    Never { krate: "deploykit-alarms", never: &[&["deploykit-config", "aws-sdk-*"]],
            but: &["aws-sdk-sts", "aws-sdk-sso", "aws-sdk-ssooidc"] },
    Never { krate: "deploykit-secrets", never: &[&["deploykit-config"]], but: &[] },
    Never { krate: "deploykit-iam", never: &[&["deploykit-config", "deploykit-secrets"]], but: &[] },
    Never { krate: "deploykit-localcloud", never: &[&["deploykit*"]], but: &[] },
    Never { krate: "deploykit-local", never: &[&["deploykit*"]],
            but: &["deploykit-localcloud", "deploykit-report"] },
];

// ---------------------------------------------------------------------------------------------
// Allowlists. Each only shrinks; an entry that is no longer needed fails the test.
// ---------------------------------------------------------------------------------------------

/// (a) Where the code and docs/ARCHITECTURE.md's table disagree, until the lead settles which
/// is right: (crate, dependency, why).
#[rustfmt::skip]
const TABLE_EXCEPTIONS: &[(&str, &str, &str)] = &[
    ("deploykit-localcloud", "deploykit-report", "c568349: LocalCloudError implements deploykit_report::Diagnostic \
      (issue 11 item 3); the table says localcloud depends on no deploykit crate"),
];

/// (a) Libraries that depend on a local-cloud crate in normal builds: (crate, dependency, why).
#[rustfmt::skip]
const LOCAL_CLOUD_ALLOWED: &[(&str, &str, &str)] = &[
    ("deploykit", "deploykit-local", "Project::load starts the local cloud for the `local` target (LocalCloud::Start): \
      issue 11 leaves it to the lead: a cargo feature, or a launcher the CLI passes in"),
];

/// (b) Library source files that still say `cargo xtask` in a string, with the count as a
/// ceiling. Advice belongs in `Diagnostic::help()` without CLI wording.
#[rustfmt::skip]
const CARGO_XTASK_ALLOWED: &[(&str, usize)] = &[
    ("crates/deploykit-localcloud/src/ecr.rs", 1),
    ("crates/deploykit-testsupport/src/lib.rs", 7),
];

/// (c) Non-test files over [`MAX_LINES`], with their line count as a ceiling: split them.
const MAX_LINES: usize = 800;
#[rustfmt::skip]
const LONG_FILES_ALLOWED: &[(&str, usize)] = &[
    ("crates/deploykit-localcloud/src/eb/instance.rs", 1132),
    ("crates/deploykit-localcloud/src/ecs/mod.rs", 965),
    ("crates/deploykit-localcloud/src/rds/mod.rs", 1124),
    ("crates/deploykit-localcloud/src/workload/mod.rs", 820),
    ("crates/deploykit-rds/src/security_group.rs", 854),
];

/// (d) Dependencies no source names (or dev-dependencies that repeat a normal one), each with
/// why it stays: (crate, dependency, why). `workspace` means the root `[workspace.dependencies]`.
#[rustfmt::skip]
const UNUSED_DEPS_ALLOWED: &[(&str, &str, &str)] = &[
];

/// Crates the shipped build compiles with `test-util`, each with why.
#[rustfmt::skip]
const FORCED_TEST_FEATURES: &[(&str, &str)] = &[
    ("aws-credential-types", "aws-config 1.13 asks for aws-credential-types/test-util unconditionally"),
    ("aws-smithy-runtime-api", "aws-credential-types/test-util turns it on"),
    ("aws-smithy-types", "aws-smithy-runtime-api/test-util turns it on"),
];

/// (e) Crates built in two versions, with where the second comes from.
#[rustfmt::skip]
const DUPLICATES_ALLOWED: &[(&str, &str)] = &[
    ("base64", "0.22: bollard 0.21, postgres-protocol 0.6 (and ours); 0.23: bcrypt 0.19, hyper-util 0.1.21"),
    ("block-buffer", "digest 0.10 (below)"),
    ("cpufeatures", "sha1 0.10 (below)"),
    ("crypto-common", "digest 0.10 (below)"),
    ("digest", "0.10: crc-fast 1.10 (aws-smithy-checksums), sha1 0.10 (aws-config 1.13); 0.11: the rest"),
    ("sha1", "0.10: aws-config 1.13; 0.11: aws-smithy-checksums 0.65"),
    ("syn", "2: aws-smithy-runtime-api-macros, tracing-attributes, zerocopy-derive, zeroize_derive"),
];

// ---------------------------------------------------------------------------------------------
// (a) Boundaries
// ---------------------------------------------------------------------------------------------

#[test]
fn boundary_table_holds() {
    let ws = workspace();
    let mut bad = Vec::new();
    let mut excused = BTreeSet::new();
    for row in TABLE {
        let Some(root) = ws.member(row.krate) else {
            bad.push(format!(
                "{}: in the table but not a workspace member",
                row.krate
            ));
            continue;
        };
        let forbidden = |name: &str| {
            name != row.krate
                && !row.but.contains(&name)
                && row
                    .never
                    .iter()
                    .any(|set| set.iter().any(|p| matches(p, name)))
        };
        for path in ws.paths_to(root, forbidden) {
            let to = path.last().unwrap();
            if TABLE_EXCEPTIONS
                .iter()
                .any(|(f, t, _)| *f == row.krate && t == to)
            {
                excused.insert((row.krate, to.clone()));
                continue;
            }
            bad.push(format!(
                "{} never depends on {to}, but: {}",
                row.krate,
                path.join(" -> ")
            ));
        }
    }
    for (from, to, _) in TABLE_EXCEPTIONS
        .iter()
        .filter(|(f, t, _)| !excused.contains(&(*f, t.to_string())))
    {
        bad.push(format!(
            "{from} -> {to} is gone; remove it from TABLE_EXCEPTIONS"
        ));
    }
    report(
        "docs/ARCHITECTURE.md's \"never depends on\" table is broken",
        &bad,
    );
}

#[test]
fn layers_point_down() {
    // CLI -> deploykit -> service crates -> aws/config/report, for every kind of dependency.
    let ws = workspace();
    let mut bad = Vec::new();
    for m in ws.members() {
        let Some(from) = layer_of(&m.name) else {
            continue;
        };
        for d in &m.deps {
            if let Some(to) = layer_of(&d.name).filter(|to| *to > from) {
                let (a, b) = (layer(from), layer(to));
                bad.push(format!(
                    "{} ({a}) depends on {} ({b}) [{}]",
                    m.name, d.name, d.kind
                ));
            }
        }
    }
    report("a lower layer depends on a higher one", &bad);
}

/// The layer of a crate of ours: 3 CLI, 2 pipelines, 1 services (and planners), 0 foundation.
fn layer_of(name: &str) -> Option<u8> {
    if CLI.contains(&name) {
        Some(3)
    } else if name == PIPELINES {
        Some(2)
    } else if SERVICES.contains(&name) || PLANNERS.contains(&name) {
        Some(1)
    } else if FOUNDATION.contains(&name) {
        Some(0)
    } else {
        None
    }
}

#[test]
fn every_crate_has_a_place_in_the_layers() {
    let ws = workspace();
    let unplaced = ws
        .members()
        .filter(|m| layer_of(&m.name).is_none() && !LOCAL_CLOUD.contains(&m.name.as_str()));
    let bad: Vec<String> = unplaced
        .map(|m| {
            format!(
                "{}: add it to a layer list here and to docs/ARCHITECTURE.md",
                m.name
            )
        })
        .collect();
    report("crates the layer rules do not know", &bad);
}

fn layer(rank: u8) -> &'static str {
    ["aws/config/report", "service", "pipelines", "CLI"][rank as usize]
}

#[test]
fn only_the_cli_uses_terminal_crates() {
    let ws = workspace();
    let mut bad = Vec::new();
    for m in ws.members().filter(|m| !CLI.contains(&m.name.as_str())) {
        for d in &m.deps {
            if CLI.contains(&d.name.as_str()) || (d.name == "clap") {
                bad.push(format!("{} depends on {} [{}]", m.name, d.name, d.kind));
            }
        }
        for path in ws.paths_to(m, |n| TERMINAL.contains(&n)) {
            bad.push(format!(
                "{} pulls in a terminal crate: {}",
                m.name,
                path.join(" -> ")
            ));
        }
    }
    report(
        "library crates must not parse arguments or draw on terminals",
        &bad,
    );
}

#[test]
fn the_local_cloud_is_a_dev_dependency_of_libraries() {
    let ws = workspace();
    let mut bad = Vec::new();
    let mut excused = BTreeSet::new();
    for m in ws.members() {
        let library = !CLI.contains(&m.name.as_str()) && !LOCAL_CLOUD.contains(&m.name.as_str());
        for d in m.deps.iter().filter(|d| d.kind != "dev") {
            // deploykit-testsupport is test-only for every crate, the CLI and the local cloud too.
            let local = library && LOCAL_CLOUD.contains(&d.name.as_str());
            if !(local || d.name == "deploykit-testsupport") {
                continue;
            }
            if LOCAL_CLOUD_ALLOWED
                .iter()
                .any(|(f, t, _)| *f == m.name && *t == d.name)
            {
                excused.insert((m.name.as_str(), d.name.as_str()));
                continue;
            }
            bad.push(format!(
                "{} depends on {} [{}]: make it a dev-dependency",
                m.name, d.name, d.kind
            ));
        }
    }
    for (from, to, _) in LOCAL_CLOUD_ALLOWED
        .iter()
        .filter(|(f, t, _)| !excused.contains(&(*f, *t)))
    {
        bad.push(format!(
            "{from} -> {to} is gone; remove it from LOCAL_CLOUD_ALLOWED"
        ));
    }
    report("libraries use the local cloud only in tests", &bad);
}

// ---------------------------------------------------------------------------------------------
// (b) No CLI wording in library strings
// ---------------------------------------------------------------------------------------------

#[test]
fn library_strings_do_not_say_cargo_xtask() {
    let ws = workspace();
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in ws.members().filter(|m| !CLI.contains(&m.name.as_str())) {
        let src = m.dir.join("src");
        let test_files = test_modules(&src);
        for file in rust_files(&src)
            .into_iter()
            .filter(|f| !test_files.contains(f))
        {
            let text = read(&file);
            let lexed = lex(&text);
            let skip = cfg_test_ranges(&lexed.code);
            let strings = lexed
                .strings
                .iter()
                .filter(|s| !skip.iter().any(|r| r.contains(&s.at)));
            for s in strings {
                for (line, snippet) in cli_mentions(&s.text) {
                    let at = format!("{}:{}: \"{snippet}\"", ws.rel(&file), s.line + line);
                    found.entry(ws.rel(&file)).or_default().push(at);
                }
            }
        }
    }
    let counts = found.iter().map(|(f, v)| (f.clone(), v.len())).collect();
    let mut bad = ceilings(
        &counts,
        CARGO_XTASK_ALLOWED,
        "CARGO_XTASK_ALLOWED",
        "mention(s)",
    );
    for (file, hits) in &found {
        if bad.iter().any(|b| b.starts_with(&format!("{file}: "))) {
            bad.extend(hits.iter().map(|h| format!("  {h}")));
        }
    }
    report(
        "library strings name `cargo xtask` (advice goes in Diagnostic::help() without CLI names; the CLI adds commands)",
        &bad,
    );
}

/// Each `cargo xtask` in a string literal's text (also split over a `\` line continuation):
/// (line offset in the literal, the text around it).
fn cli_mentions(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices("cargo") {
        let rest = text[i + 5..].trim_start_matches(|c: char| c.is_whitespace() || c == '\\');
        if rest.len() < text.len() - i - 5 && rest.starts_with("xtask") {
            let from = text[..i].char_indices().rev().nth(40).map_or(0, |(j, _)| j);
            let to = text[i..]
                .char_indices()
                .nth(60)
                .map_or(text.len(), |(j, _)| i + j);
            let around = text[from..to]
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            out.push((text[..i].matches('\n').count(), around));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// (c) File length
// ---------------------------------------------------------------------------------------------

#[test]
fn source_files_stay_short() {
    let ws = workspace();
    let mut counts = BTreeMap::new();
    for m in ws.members() {
        let test_files = test_modules(&m.dir.join("src"));
        for file in rust_files(&m.dir) {
            let rel_in_pkg = file.strip_prefix(&m.dir).unwrap();
            let is_test = test_files.contains(&file)
                || rel_in_pkg
                    .components()
                    .any(|c| c.as_os_str() == "tests" || c.as_os_str() == "benches");
            let lines = read(&file).lines().count();
            if !is_test && lines > MAX_LINES {
                counts.insert(ws.rel(&file), lines);
            }
        }
    }
    let bad = ceilings(&counts, LONG_FILES_ALLOWED, "LONG_FILES_ALLOWED", "lines");
    report(
        &format!("non-test source files over {MAX_LINES} lines: split them along their seams"),
        &bad,
    );
}

/// Offenders of a ceiling allowlist: over the ceiling, or not listed, or listed but gone.
fn ceilings(
    found: &BTreeMap<String, usize>,
    allowed: &[(&str, usize)],
    list: &str,
    unit: &str,
) -> Vec<String> {
    let mut bad = Vec::new();
    for (file, &n) in found {
        match allowed.iter().find(|(f, _)| f == file) {
            None => bad.push(format!("{file}: {n} {unit}")),
            Some(&(_, max)) if n > max => bad.push(format!(
                "{file}: {n} {unit}, more than its ceiling {max} in {list}"
            )),
            Some(_) => {}
        }
    }
    for (file, _) in allowed.iter().filter(|(f, _)| !found.contains_key(*f)) {
        bad.push(format!("{file}: fixed; remove it from {list}"));
    }
    bad
}

// ---------------------------------------------------------------------------------------------
// (d) Unused dependencies (as cargo-machete finds them)
// ---------------------------------------------------------------------------------------------

#[test]
fn every_dependency_is_used() {
    let ws = workspace();
    let mut offenders = Vec::new();
    for m in ws.members() {
        let sources: Vec<String> = rust_files(&m.dir).iter().map(|f| read(f)).collect();
        for d in &m.deps {
            let lib = d.extern_name.as_str();
            if !sources.iter().any(|s| names_crate(s, lib)) {
                let what = format!("is never named (`{lib}::`, `use {lib}`)");
                offenders.push((m.name.clone(), d.name.clone(), section(&d.kind), what));
            }
        }
        // A dev-dependency that repeats a normal one and adds no feature does nothing.
        for dev in m.deps.iter().filter(|d| d.kind == "dev") {
            let same = m
                .deps
                .iter()
                .find(|n| n.kind == "normal" && n.name == dev.name && n.target == dev.target);
            let adds_nothing = |n: &&workspace::Dep| {
                dev.features.is_subset(&n.features) && (n.default_features || !dev.default_features)
            };
            if same.filter(adds_nothing).is_some() {
                let what = "repeats [dependencies] and adds nothing".to_string();
                offenders.push((m.name.clone(), dev.name.clone(), "dev-dependencies", what));
            }
        }
    }
    // What the root manifest offers for inheritance, every entry taken by some crate.
    let members: Vec<_> = ws.members().collect();
    for dep in workspace_dependencies(&read(&ws.root.join("Cargo.toml"))) {
        let key = |d: &workspace::Dep| d.rename.clone().unwrap_or_else(|| d.name.clone());
        if !members.iter().any(|m| m.deps.iter().any(|d| key(d) == dep)) {
            let what = "is used by no crate".to_string();
            offenders.push(("workspace".into(), dep, "workspace.dependencies", what));
        }
    }
    let mut bad = Vec::new();
    let mut excused = BTreeSet::new();
    for (krate, dep, section, what) in &offenders {
        match UNUSED_DEPS_ALLOWED
            .iter()
            .find(|a| a.0 == krate && a.1 == dep)
        {
            Some(a) => drop(excused.insert((a.0, a.1))),
            None => bad.push(format!("{krate}: [{section}] {dep} {what}")),
        }
    }
    for (krate, dep, _) in UNUSED_DEPS_ALLOWED
        .iter()
        .filter(|a| !excused.contains(&(a.0, a.1)))
    {
        bad.push(format!(
            "{krate}: {dep} is used or gone; remove it from UNUSED_DEPS_ALLOWED"
        ));
    }
    report("unused dependencies: remove them from Cargo.toml", &bad);
}

/// The keys of the root manifest's `[workspace.dependencies]`.
fn workspace_dependencies(manifest: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut inside = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == "[workspace.dependencies]";
        } else if let Some((key, _)) = line
            .split_once('=')
            .filter(|_| inside && !line.starts_with('#'))
        {
            keys.push(key.trim().trim_matches('"').to_string());
        }
    }
    keys
}

fn section(kind: &str) -> &'static str {
    match kind {
        "dev" => "dev-dependencies",
        "build" => "build-dependencies",
        _ => "dependencies",
    }
}

// ---------------------------------------------------------------------------------------------
// (e) One version of each crate
// ---------------------------------------------------------------------------------------------

#[test]
fn one_version_of_each_crate() {
    let ws = workspace();
    let args = [
        "tree",
        "-d",
        "--workspace",
        "-e",
        "normal,build,dev",
        "--prefix",
        "depth",
        "-f",
        "{p}",
    ];
    // `-d` prints each duplicate at depth 0 and, inverted, what depends on it at depth 1.
    let tree = cargo(&ws.root, &args);
    let mut dupes: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for line in tree.lines().filter(|l| l.starts_with('0')) {
        let (name, version) = line[1..].split_once(' ').unwrap_or((&line[1..], ""));
        let version = version.split(' ').next().unwrap_or_default();
        dupes
            .entry(name.into())
            .or_default()
            .insert(version.into(), Vec::new());
    }
    for (dup, user) in tree_edges(&tree) {
        let (name, version) = dup.split_once(' ').unwrap_or((&dup, ""));
        let users = dupes.get_mut(name).and_then(|v| v.get_mut(version));
        users.into_iter().for_each(|u| u.push(user.clone()));
    }
    let mut bad = Vec::new();
    for (name, versions) in &dupes {
        if DUPLICATES_ALLOWED.iter().any(|(n, _)| n == name) {
            continue;
        }
        let mut line = format!("{name}:");
        for (v, users) in versions {
            let _ = write!(line, " {v} (from {})", users.join(", "));
        }
        bad.push(line);
    }
    for (name, _) in DUPLICATES_ALLOWED
        .iter()
        .filter(|(n, _)| !dupes.contains_key(*n))
    {
        bad.push(format!(
            "{name}: one version now; remove it from DUPLICATES_ALLOWED"
        ));
    }
    report(
        "crates built in two versions (cargo tree -d): pick the version the others use",
        &bad,
    );
}

// ---------------------------------------------------------------------------------------------
// Test-only features stay out of the shipped build (issue 11, item 6)
// ---------------------------------------------------------------------------------------------

/// `cargo build -p <cli>` resolves no `test-util` feature, and `cargo test --workspace` builds
/// each crate the CLI builds with the same features, so `cargo xtask test` compiles the AWS SDK
/// once (cargo resolves features per invocation; any difference rebuilds that crate and all
/// crates above it).
#[test]
fn the_shipped_build_has_no_test_features_and_shares_the_test_build() {
    let ws = workspace();
    let tested = tree_features(&ws.root, &["--workspace", "-e", "normal,build,dev"]);
    let mut bad = Vec::new();
    for cli in CLI.iter().filter(|c| ws.member(c).is_some()) {
        let shipped = tree_features(&ws.root, &["-p", cli, "-e", "normal,build"]);
        let mut forced_seen = BTreeSet::new();
        for (pkg, features) in &shipped {
            let name = pkg.split(' ').next().unwrap_or_default();
            let forced = FORCED_TEST_FEATURES.iter().any(|(n, _)| *n == name);
            if forced && features.split(',').any(|f| f == "test-util") {
                forced_seen.insert(name.to_string());
            }
            for f in features
                .split(',')
                .filter(|f| f.contains("test-util") && !forced)
            {
                bad.push(format!("{cli}: {pkg} is built with `{f}`"));
            }
            if !tested.contains(&(pkg.clone(), features.clone())) {
                let other: Vec<String> = tested
                    .iter()
                    .filter(|(p, _)| p == pkg)
                    .map(|(_, f)| format!("[{f}]"))
                    .collect();
                bad.push(format!(
                    "{cli}: {pkg} [{features}] but the test build has {}",
                    other.join(" or ")
                ));
            }
        }
        for (name, _) in FORCED_TEST_FEATURES
            .iter()
            .filter(|(n, _)| !forced_seen.contains(*n))
        {
            bad.push(format!(
                "{cli}: {name} is built without test-util now; remove it from FORCED_TEST_FEATURES"
            ));
        }
    }
    report(
        "test-only features in the shipped build, or a second build of a crate in `cargo xtask test`",
        &bad,
    );
}

fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

fn report(title: &str, bad: &[String]) {
    assert!(
        bad.is_empty(),
        "{title} ({} offender(s)):\n  {}\n",
        bad.len(),
        bad.join("\n  ")
    );
}
