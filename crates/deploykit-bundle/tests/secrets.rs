//! The shared secret policy (deploykit-secretrules' fixture table, which the image context's
//! tests run too) and the canary: a planted secret never reaches the bundle.

mod common;

use common::*;
use deploykit_bundle::{BundleError, ProblemKind};
use deploykit_report::NullReporter;
use deploykit_secretrules::fixtures::{self, CANARY, CANARY_IGNORE, CANARY_TREE, TREES, VISIBLE};

/// The refusal as (path, id) pairs, sorted, with the ids the fixture table uses.
fn verdict(result: Result<deploykit_bundle::BundlePlan, BundleError>) -> Vec<(String, String)> {
    let problems = match result {
        Ok(_) => return Vec::new(),
        Err(e @ BundleError::Refused { .. }) => e.problems().to_vec(),
        Err(e) => panic!("expected a plan or a refusal, got {e}"),
    };
    let mut v: Vec<(String, String)> = problems
        .iter()
        .map(|p| {
            let id = match p.kind {
                ProblemKind::Secret(r) => r.id(),
                ProblemKind::SymlinkToSecret(_) => "symlink-to-secret",
                ProblemKind::SymlinkOutside => "symlink-outside",
                ProblemKind::SymlinkLoop => "symlink-loop",
                ProblemKind::BrokenSymlink => "symlink-broken",
                ProblemKind::SpecialFile => "special-file",
                other => panic!("{}: unexpected {other:?}: {p}", p.path),
            };
            (p.path.clone(), id.to_string())
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

fn want(refused: &[(&str, &str)]) -> Vec<(String, String)> {
    refused
        .iter()
        .map(|(p, id)| (p.to_string(), id.to_string()))
        .collect()
}

#[test]
fn the_shared_fixture_trees_get_the_shared_verdicts() {
    for tree in TREES {
        let tmp = tempfile::tempdir().expect("tempdir");
        let app = fixtures::write_tree(tmp.path(), tree, ".ebignore", &[]).expect("tree");
        let out = tmp.path().join("b.zip");
        let got = verdict(deploykit_bundle::plan(&opts(&app, &out)));
        assert_eq!(got, want(tree.refused), "tree `{}`", tree.name);
        if tree.refused.is_empty() {
            deploykit_bundle::build(&opts(&app, &out), &NullReporter)
                .unwrap_or_else(|e| panic!("tree `{}` builds: {e}", tree.name));
        }
    }
}

/// Every entry's name and decompressed contents, and the zip's raw bytes.
fn zip_text(path: &std::path::Path) -> (Vec<u8>, Vec<u8>) {
    let raw = std::fs::read(path).expect("zip");
    let mut plain = Vec::new();
    for (name, _, _, data) in read_zip(path) {
        plain.extend_from_slice(name.as_bytes());
        plain.push(b'\n');
        plain.extend_from_slice(&data);
    }
    (raw, plain)
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn a_planted_canary_never_reaches_the_bundle() {
    // As it is: refused, every planted file and the link named, nothing written, and the
    // refusal does not echo the secret.
    let tmp = tempfile::tempdir().expect("tempdir");
    let app = fixtures::write_tree(tmp.path(), &CANARY_TREE, ".ebignore", &[]).expect("tree");
    let out = tmp.path().join("b.zip");
    let err = deploykit_bundle::build(&opts(&app, &out), &NullReporter).expect_err("refused");
    let msg = err.to_string();
    assert!(
        !msg.contains(CANARY),
        "the refusal echoes the secret: {msg}"
    );
    assert!(msg.contains("symlink points to `.env`"), "{msg}");
    assert!(!out.exists());
    assert_eq!(
        verdict(deploykit_bundle::plan(&opts(&app, &out))),
        want(CANARY_TREE.refused)
    );

    // With the files ignored: the bundle builds and holds none of them.
    let tmp = tempfile::tempdir().expect("tempdir");
    let app =
        fixtures::write_tree(tmp.path(), &CANARY_TREE, ".ebignore", CANARY_IGNORE).expect("tree");
    let out = tmp.path().join("b.zip");
    deploykit_bundle::build(&opts(&app, &out), &NullReporter).expect("builds");
    let (raw, plain) = zip_text(&out);
    assert!(!contains(&raw, CANARY) && !contains(&plain, CANARY));
    assert!(contains(&plain, VISIBLE), "the search finds what ships");
    let names = names(&out);
    for f in [".env", "config/credentials", "id_rsa", "x.cfg"] {
        assert!(!names.contains(&f.to_string()), "{f} in {names:?}");
    }

    // Control: allowing `.env` deliberately ships it, and the search sees the canary.
    let tmp = tempfile::tempdir().expect("tempdir");
    let app = fixtures::write_tree(
        tmp.path(),
        &CANARY_TREE,
        ".ebignore",
        &["config/credentials", "id_rsa", "x.cfg"],
    )
    .expect("tree");
    let out = tmp.path().join("b.zip");
    let mut o = opts(&app, &out);
    o.allow = vec![".env".into()];
    deploykit_bundle::build(&o, &NullReporter).expect("builds");
    assert!(contains(&zip_text(&out).1, CANARY));
}

/// The repository's example app is not a false positive: it bundles as it is.
#[test]
fn the_example_app_plans() {
    let app = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/budgetsync");
    let tmp = tempfile::tempdir().expect("tempdir");
    let plan = deploykit_bundle::plan(&opts(&app, &tmp.path().join("b.zip")))
        .unwrap_or_else(|e| panic!("examples/budgetsync: {e}"));
    assert!(plan.entries.iter().any(|e| e.name == "wsgi.py"));
}
