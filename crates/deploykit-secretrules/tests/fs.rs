//! The file-system policy over the shared fixture trees: symlinks and special files.

use deploykit_secretrules::Rule;
use deploykit_secretrules::fixtures::{self, TREES};
use deploykit_secretrules::fs::{LinkProblem, check_file, check_link, is_special};

/// (link, what check_link says: Ok(target_rel) or Err(problem id)).
#[test]
fn links_are_resolved_and_judged_by_their_target() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let tree = fixtures::Tree {
        name: "links",
        files: &[
            (".env", b"A=1\n"),
            ("lib/real.py", b"x\n"),
            (".ssh/id_ed25519", b"k"),
            (".docker/config.json", b"{}"),
        ],
        links: &[
            ("x.cfg", ".env"),
            ("chain.cfg", "x.cfg"),
            ("alias.py", "lib/real.py"),
            ("keys", ".ssh"),
            ("dock", ".docker"),
            ("leak", "@outside/secret.txt"),
            ("abs", "/"),
            ("gone", "missing"),
            ("lib/up", ".."),
            ("lib/self", "."),
        ],
        fifos: &[],
        ignore: &[],
        refused: &[],
    };
    let app = fixtures::write_tree(tmp.path(), &tree, ".ignore", &[]).expect("tree");
    let root = app.canonicalize().expect("canonical");
    let cases: &[(&str, Result<&str, &str>)] = &[
        ("x.cfg", Err("symlink-to-secret")),
        ("chain.cfg", Err("symlink-to-secret")),
        ("alias.py", Ok("lib/real.py")),
        ("keys", Err("symlink-to-secret")),
        ("dock", Err("symlink-to-secret")),
        ("leak", Err("symlink-outside")),
        ("abs", Err("symlink-outside")),
        ("gone", Err("symlink-broken")),
        ("lib/up", Err("symlink-loop")),
        ("lib/self", Err("symlink-loop")),
    ];
    for (link, want) in cases {
        let got = check_link(&root, &app.join(link), link)
            .map(|r| r.target_rel)
            .map_err(|p| p.id());
        assert_eq!(got.as_deref().map_err(|e| *e), *want, "{link}");
    }
    // The refusal names the target; the secret one names the rule too.
    let p = check_link(&root, &app.join("chain.cfg"), "chain.cfg").expect_err("secret");
    assert_eq!(p.rule(), Some(Rule::EnvFile));
    assert!(p.to_string().contains("`.env`"), "{p}");
    assert!(
        p.advice("chain.cfg", ".dockerignore")
            .contains("`chain.cfg`")
    );
    let p = check_link(&root, &app.join("leak"), "leak").expect_err("outside");
    assert!(
        matches!(&p, LinkProblem::Outside { target } if target.ends_with("outside/secret.txt")),
        "{p:?}"
    );
    assert!(p.to_string().contains("outside/secret.txt"), "{p}");
}

#[test]
fn fifos_are_special_and_never_opened() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let tree = TREES
        .iter()
        .find(|t| !t.fifos.is_empty())
        .expect("a FIFO tree");
    let app = fixtures::write_tree(tmp.path(), tree, ".ignore", &[]).expect("tree");
    let fifo = app.join(tree.fifos[0]);
    let ft = std::fs::symlink_metadata(&fifo).expect("stat").file_type();
    assert!(is_special(&ft));
    // Would block forever if it opened the FIFO.
    assert_eq!(check_file("run/pipe", &fifo).expect("no read"), []);
    let regular = std::fs::symlink_metadata(app.join("app.py")).expect("stat");
    assert!(!is_special(&regular.file_type()));
}

#[test]
fn files_are_judged_by_name_first_then_contents() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let p = tmp.path().join("f");
    std::fs::write(&p, b"x = 'AKIAQWERTYUIOPASDFGH'\n").expect("write");
    let rules = |rel: &str| -> Vec<Rule> {
        check_file(rel, &p)
            .expect("read")
            .into_iter()
            .map(|f| f.rule)
            .collect()
    };
    assert_eq!(rules("settings.py"), [Rule::AwsAccessKeyId]);
    assert_eq!(rules(".env"), [Rule::EnvFile]);
    // Past the scan limit, nothing is read.
    let mut big = vec![b'a'; deploykit_secretrules::SCAN_LIMIT];
    big.extend_from_slice(b"\nAKIAQWERTYUIOPASDFGH\n");
    std::fs::write(&p, big).expect("write");
    assert_eq!(rules("data.txt"), []);
}

/// Every fixture tree names its refusals sorted by path, with known ids.
#[test]
fn the_fixture_table_is_well_formed() {
    let ids: Vec<&str> = Rule::ALL
        .iter()
        .map(|r| r.id())
        .chain([
            "symlink-outside",
            "symlink-to-secret",
            "symlink-loop",
            "symlink-broken",
            "special-file",
        ])
        .collect();
    for t in TREES.iter().chain([&fixtures::CANARY_TREE]) {
        let mut sorted = t.refused.to_vec();
        sorted.sort();
        assert_eq!(sorted, t.refused, "{}", t.name);
        for (_, id) in t.refused {
            assert!(ids.contains(id), "{}: {id}", t.name);
        }
    }
}
