//! The shared secret policy (deploykit-secretrules' fixture table, which the source bundle's
//! tests run too) and the canary: a planted secret never reaches the build context.

use deploykit_image::{
    ContextEntry, ContextPlan, DockerfileSource, EntryKind, ImageError, plan_context,
    select_context, write_context_tar,
};
use deploykit_secretrules::fixtures::{self, CANARY, CANARY_IGNORE, CANARY_TREE, TREES, VISIBLE};

const GENERATED: &str = "FROM scratch\nCOPY . /app\n";

/// The refusal as (path, id) pairs, sorted, with the ids the fixture table uses.
fn verdict(app: &std::path::Path) -> Vec<(String, String)> {
    let (_, problems) = select_context(app, "Dockerfile", GENERATED).expect("walks");
    let mut v: Vec<(String, String)> = problems
        .iter()
        .map(|p| (p.path.clone(), p.kind.id().to_string()))
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
        let app = fixtures::write_tree(tmp.path(), tree, ".dockerignore", &[]).expect("tree");
        assert_eq!(verdict(&app), want(tree.refused), "tree `{}`", tree.name);
        match plan_context(&app, "Dockerfile", GENERATED) {
            Ok(plan) => {
                assert!(tree.refused.is_empty(), "tree `{}` planned", tree.name);
                write_context_tar(&plan, Vec::new()).expect("tar");
            }
            Err(ImageError::SecretFiles { files, .. }) => {
                assert_eq!(files.len(), tree.refused.len(), "tree `{}`", tree.name);
                for ((path, _), line) in tree.refused.iter().zip(&files) {
                    assert!(line.starts_with(&format!("{path}: ")), "{line}");
                    assert!(line.contains("fix: "), "{line}");
                }
            }
            Err(e) => panic!("tree `{}`: {e}", tree.name),
        }
    }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn a_planted_canary_never_reaches_the_context() {
    // As it is: refused, every planted file and the link named, without echoing the secret.
    let tmp = tempfile::tempdir().expect("tempdir");
    let app = fixtures::write_tree(tmp.path(), &CANARY_TREE, ".dockerignore", &[]).expect("tree");
    assert_eq!(verdict(&app), want(CANARY_TREE.refused));
    let err = plan_context(&app, "Dockerfile", GENERATED).expect_err("refused");
    let msg = err.to_string();
    assert!(
        !msg.contains(CANARY),
        "the refusal echoes the secret: {msg}"
    );
    assert!(msg.contains("x.cfg: symlink points to `.env`"), "{msg}");

    // With the files ignored: the context tar holds none of them.
    let tmp = tempfile::tempdir().expect("tempdir");
    let app = fixtures::write_tree(tmp.path(), &CANARY_TREE, ".dockerignore", CANARY_IGNORE)
        .expect("tree");
    let plan = plan_context(&app, "Dockerfile", GENERATED).expect("plans");
    let tar = write_context_tar(&plan, Vec::new()).expect("tar");
    assert!(!contains(&tar, CANARY));
    assert!(contains(&tar, VISIBLE), "the search finds what ships");
    for f in [".env", "config/credentials", "id_rsa", "x.cfg"] {
        assert!(!plan.entries.iter().any(|e| e.rel == f), "{f}");
    }

    // Control: a context that did hold `.env` would show the canary in the tar bytes.
    let leaky = ContextPlan {
        root: app.clone(),
        entries: vec![ContextEntry {
            rel: ".env".into(),
            kind: EntryKind::File { executable: false },
        }],
        dockerfile: DockerfileSource::Generated(GENERATED.into()),
        excluded: Vec::new(),
        has_dockerignore: true,
    };
    assert!(contains(
        &write_context_tar(&leaky, Vec::new()).expect("tar"),
        CANARY
    ));
}

/// The repository's example app is not a false positive: its context plans as it is.
#[test]
fn the_example_app_plans() {
    let app = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/budgetsync");
    let (plan, problems) = select_context(&app, "Dockerfile", GENERATED).expect("walks");
    assert_eq!(problems, [], "examples/budgetsync");
    assert!(plan.entries.iter().any(|e| e.rel == "wsgi.py"));
}
