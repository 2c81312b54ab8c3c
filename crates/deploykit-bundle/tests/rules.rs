//! Every rule of the bundle, over small fixture trees.

mod common;

use common::*;
use deploykit_bundle::{BundleError, ProblemKind, SecretRule, Source};
use deploykit_report::{Event, NullReporter, VecReporter};

fn refused(app: &std::path::Path) -> (String, Vec<deploykit_bundle::Problem>) {
    let out = tempfile::tempdir().expect("tempdir");
    match deploykit_bundle::build(&opts(app, &out.path().join("b.zip")), &NullReporter) {
        Err(e @ BundleError::Refused { .. }) => {
            assert!(e.is_refusal());
            assert!(
                std::fs::read_dir(out.path()).expect("ls").next().is_none(),
                "a refused build writes nothing"
            );
            (e.to_string(), e.problems().to_vec())
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn ignore_files_select_what_ships() {
    // (files, expected names besides Procfile/app.py/requirements.txt)
    struct Case {
        files: Vec<F<'static>>,
        want: Vec<&'static str>,
    }
    let cases = [
        // .gitignore applies, nested .gitignore too, negation works.
        Case {
            files: vec![
                (".gitignore", b"*.log\nbuild/\n!keep.log\n", 0o644),
                ("a.log", b"x", 0o644),
                ("keep.log", b"x", 0o644),
                ("build/out.txt", b"x", 0o644),
                ("src/.gitignore", b"secret_dir/\n", 0o644),
                ("src/secret_dir/x.py", b"x", 0o644),
                ("src/ok.py", b"x", 0o644),
            ],
            want: vec![".gitignore", "keep.log", "src/.gitignore", "src/ok.py"],
        },
        // .ebignore wins over .gitignore: .gitignore is not used at all.
        Case {
            files: vec![
                (".gitignore", b"static/\n", 0o644),
                (".ebignore", b"tests/\n/local.cfg\n", 0o644),
                ("static/s.css", b"x", 0o644),
                ("tests/t.py", b"x", 0o644),
                ("local.cfg", b"x", 0o644),
                ("sub/local.cfg", b"x", 0o644),
            ],
            want: vec![".ebignore", ".gitignore", "static/s.css", "sub/local.cfg"],
        },
        // Dotfiles and platform config ship; .git never does.
        Case {
            files: vec![
                (".ebextensions/01.config", b"option_settings: {}\n", 0o644),
                (".platform/nginx/conf.d/x.conf", b"x", 0o644),
                (".git/config", b"[core]\n", 0o644),
                (".git/objects/ab/cd", b"x", 0o644),
                ("vendor/.git/HEAD", b"x", 0o644),
            ],
            want: vec![".ebextensions/01.config", ".platform/nginx/conf.d/x.conf"],
        },
        // A negation cannot bring .git back.
        Case {
            files: vec![
                (".gitignore", b"!.git\n!.git/**\n", 0o644),
                (".git/HEAD", b"x", 0o644),
            ],
            want: vec![".gitignore"],
        },
    ];
    for (i, case) in cases.iter().enumerate() {
        let app = tree(&case.files);
        let (_, out) = build(app.path());
        let mut want: Vec<String> = case.want.iter().map(|s| s.to_string()).collect();
        want.extend(["Procfile", "app.py", "requirements.txt"].map(String::from));
        want.sort();
        assert_eq!(names(&bundle_path(&out)), want, "case {i}");
    }
}

#[test]
fn tree_source_ships_everything_but_git() {
    let app = tree(&[
        (".gitignore", b"*.log\n", 0o644),
        ("a.log", b"x", 0o644),
        (".git/HEAD", b"x", 0o644),
    ]);
    let out = tempfile::tempdir().expect("tempdir");
    let mut o = opts(app.path(), &out.path().join("b.zip"));
    o.source = Source::Tree;
    deploykit_bundle::build(&o, &NullReporter).expect("builds");
    assert_eq!(
        names(&out.path().join("b.zip")),
        [
            ".gitignore",
            "Procfile",
            "a.log",
            "app.py",
            "requirements.txt"
        ]
    );
}

#[test]
fn secrets_are_refused_each_with_rule_and_fix() {
    let key = b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n-----END OPENSSH PRIVATE KEY-----\n";
    let cases: Vec<(F<'static>, SecretRule)> = vec![
        ((".env", b"SECRET_KEY=x\n", 0o644), SecretRule::EnvFile),
        (
            ("config/.env.production", b"A=1\n", 0o644),
            SecretRule::EnvFile,
        ),
        (
            ("certs/server.pem", b"-----BEGIN CERTIFICATE-----\n", 0o644),
            SecretRule::KeyFile,
        ),
        (("deploy/id_rsa", b"ssh key", 0o600), SecretRule::SshKey),
        (("notes/key.txt", key, 0o644), SecretRule::PrivateKeyBlock),
        (
            (
                "settings.py",
                b"AWS_ACCESS_KEY_ID = 'AKIAQWERTYUIOPASDFGH'\n",
                0o644,
            ),
            SecretRule::AwsAccessKeyId,
        ),
        (
            ("config/credentials", b"[default]\n", 0o600),
            SecretRule::CredentialsFile,
        ),
    ];
    // One at a time: the message names the file, the rule and both fixes.
    for (file, rule) in &cases {
        let app = tree(&[*file]);
        let (msg, problems) = refused(app.path());
        assert_eq!(problems.len(), 1, "{msg}");
        assert_eq!(problems[0].kind, ProblemKind::Secret(*rule), "{msg}");
        assert_eq!(problems[0].path, file.0);
        assert!(msg.contains(file.0), "{msg}");
        assert!(msg.contains(rule.describe()), "{msg}");
        assert!(msg.contains(".ebignore"), "{msg}");
        assert!(msg.contains(&format!("allow `{}`", file.0)), "{msg}");
    }
    // All at once: every offender is listed.
    let files: Vec<F<'static>> = cases.iter().map(|c| c.0).collect();
    let app = tree(&files);
    let (msg, problems) = refused(app.path());
    assert_eq!(problems.len(), cases.len(), "{msg}");
    assert!(msg.starts_with(&format!(
        "refusing to bundle {}: 7 problems",
        app.path().display()
    )));
    for (file, _) in &cases {
        assert!(
            msg.contains(&format!("- {}: looks like a secret", file.0)),
            "{msg}"
        );
    }
}

#[test]
fn allowed_and_example_files_ship() {
    let app = tree(&[
        (".env.example", b"SECRET_KEY=change-me\n", 0o644),
        (
            "docs/aws.md",
            b"use AKIAIOSFODNN7EXAMPLE as in the AWS docs\n",
            0o644,
        ),
        ("certs/ca.pem", b"-----BEGIN CERTIFICATE-----\n", 0o644),
        (
            "fixtures/keys/id_rsa",
            b"-----BEGIN RSA PRIVATE KEY-----\n",
            0o644,
        ),
    ]);
    let out = tempfile::tempdir().expect("tempdir");
    let mut o = opts(app.path(), &out.path().join("b.zip"));
    o.allow = vec![
        "certs/ca.pem".into(),
        app.path().join("fixtures"),
        "nothing/here".into(),
    ];
    let s = deploykit_bundle::build(&o, &NullReporter).expect("allowed files ship");
    let n = names(&out.path().join("b.zip"));
    for f in [
        ".env.example",
        "docs/aws.md",
        "certs/ca.pem",
        "fixtures/keys/id_rsa",
    ] {
        assert!(n.contains(&f.to_string()), "{f} in {n:?}");
    }
    assert_eq!(
        s.warnings,
        ["allowed pattern `nothing/here`: no file in the bundle matches it"]
    );
}

#[test]
fn modes_are_normalised_and_hooks_made_executable() {
    let app = tree(&[
        ("bin/run.sh", b"#!/bin/sh\n", 0o700),
        ("lib/x.py", b"x = 1\n", 0o600),
        (
            ".platform/hooks/postdeploy/01_migrate.sh",
            b"#!/bin/bash\nflask db upgrade\n",
            0o644,
        ),
        (
            ".platform/confighooks/prebuild/02.sh",
            b"#!/bin/sh\n",
            0o755,
        ),
    ]);
    let r = VecReporter::new();
    let out = tempfile::tempdir().expect("tempdir");
    let s =
        deploykit_bundle::build(&opts(app.path(), &out.path().join("b.zip")), &r).expect("builds");
    let modes: Vec<(String, u32)> = read_zip(&out.path().join("b.zip"))
        .into_iter()
        .map(|e| (e.0, e.1))
        .collect();
    let want = [
        (".platform/confighooks/prebuild/02.sh", 0o100755),
        (".platform/hooks/postdeploy/01_migrate.sh", 0o100755),
        ("Procfile", 0o100644),
        ("app.py", 0o100644),
        ("bin/run.sh", 0o100755),
        ("lib/x.py", 0o100644),
        ("requirements.txt", 0o100644),
    ];
    assert_eq!(modes, want.map(|(n, m)| (n.to_string(), m)).to_vec());
    assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
    assert!(s.warnings[0].starts_with(
        ".platform/hooks/postdeploy/01_migrate.sh: hook script was not executable; shipped as 0755"
    ));
    assert_eq!(r.messages(deploykit_report::Level::Warn), s.warnings);
}

#[test]
fn crlf_in_hooks_and_procfile_is_refused_with_file_and_line() {
    let cases: Vec<(F<'static>, &str)> = vec![
        (
            (
                ".platform/hooks/predeploy/01.sh",
                b"#!/bin/sh\r\necho hi\r\n",
                0o755,
            ),
            ".platform/hooks/predeploy/01.sh:1, .platform/hooks/predeploy/01.sh:2",
        ),
        (
            (
                ".platform/confighooks/postdeploy/x.sh",
                b"#!/bin/sh\necho\r\n",
                0o755,
            ),
            ".platform/confighooks/postdeploy/x.sh:2",
        ),
        (
            ("Procfile", b"web: gunicorn app:app\r\n", 0o644),
            "Procfile:1",
        ),
    ];
    for (file, lines) in &cases {
        let app = tree(&[*file]);
        let (msg, problems) = refused(app.path());
        assert_eq!(problems.len(), 1, "{msg}");
        assert_eq!(problems[0].kind, ProblemKind::Crlf);
        assert!(msg.contains(lines), "{msg}");
        assert!(msg.contains("--fix-line-endings"), "{msg}");
    }
    // CRLF elsewhere is the app's business.
    let app = tree(&[("templates/a.html", b"<p>\r\n</p>\r\n", 0o644)]);
    build(app.path());
}

#[test]
fn fix_line_endings_converts_hooks_and_procfile() {
    let app = tree(&[
        (
            ".platform/hooks/predeploy/01.sh",
            b"#!/bin/sh\r\necho hi\r\n",
            0o755,
        ),
        ("Procfile", b"web: gunicorn app:app\r\n", 0o644),
        ("templates/a.html", b"<p>\r\n</p>\r\n", 0o644),
    ]);
    let out = tempfile::tempdir().expect("tempdir");
    let mut o = opts(app.path(), &out.path().join("b.zip"));
    o.fix_line_endings = true;
    let s = deploykit_bundle::build(&o, &NullReporter).expect("builds");
    let entries = read_zip(&out.path().join("b.zip"));
    let get = |n: &str| entries.iter().find(|e| e.0 == n).expect(n).3.clone();
    assert_eq!(
        get(".platform/hooks/predeploy/01.sh"),
        b"#!/bin/sh\necho hi\n"
    );
    assert_eq!(get("Procfile"), b"web: gunicorn app:app\n");
    assert_eq!(get("templates/a.html"), b"<p>\r\n</p>\r\n");
    assert_eq!(
        s.warnings,
        [
            ".platform/hooks/predeploy/01.sh: converted CRLF line endings to LF on 2 lines",
            "Procfile: converted CRLF line endings to LF on 1 line"
        ]
    );
    assert_eq!(
        s.bytes_in,
        entries.iter().map(|e| e.3.len() as u64).sum::<u64>()
    );
}

#[test]
fn app_shape_checks() {
    // (files, expected problem kinds, text the message must contain)
    let cases: Vec<(Vec<F<'static>>, Vec<ProblemKind>, Vec<&str>)> = vec![
        (
            vec![APP, REQS],
            vec![ProblemKind::NoWebProcess],
            vec![
                "no Procfile and no application.py",
                "add a Procfile with a `web:` line",
            ],
        ),
        (
            vec![("Procfile", b"worker: celery -A tasks\n", 0o644), REQS],
            vec![ProblemKind::NoWebProcess],
            vec!["Procfile: the Procfile declares no `web:` process"],
        ),
        (
            vec![PROCFILE, APP],
            vec![ProblemKind::NoRequirements],
            vec!["no requirements.txt", "pip freeze > requirements.txt"],
        ),
        (
            vec![
                ("budgetsync/Procfile", PROCFILE.1, 0o644),
                ("budgetsync/requirements.txt", REQS.1, 0o644),
            ],
            vec![ProblemKind::NoWebProcess, ProblemKind::NoRequirements],
            vec![
                "it looks like the app is in `budgetsync/`",
                "not in a top-level folder",
            ],
        ),
    ];
    for (files, kinds, texts) in cases {
        let app = bare(&files);
        let (msg, problems) = refused(app.path());
        assert_eq!(
            problems.iter().map(|p| p.kind).collect::<Vec<_>>(),
            kinds,
            "{msg}"
        );
        for t in texts {
            assert!(msg.contains(t), "{t:?} not in {msg}");
        }
    }
    // application.py without a Procfile is a valid app; so is a Pipfile.
    let app = bare(&[
        ("application.py", b"application = None\n", 0o644),
        ("Pipfile", b"[packages]\n", 0o644),
    ]);
    build(app.path());
}

#[test]
fn symlinks_inside_are_followed_outside_refused() {
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(outside.path().join("secret.txt"), b"nope").expect("write");
    let app = tree(&[
        ("lib/real.py", b"print(1)\n", 0o755),
        ("assets/a.txt", b"a", 0o644),
    ]);
    let root = app.path();
    std::os::unix::fs::symlink("lib/real.py", root.join("alias.py")).expect("symlink");
    std::os::unix::fs::symlink("assets", root.join("static")).expect("symlink");
    let (_, out) = build(root);
    let entries = read_zip(&bundle_path(&out));
    let alias = entries
        .iter()
        .find(|e| e.0 == "alias.py")
        .expect("alias ships");
    assert_eq!(
        (alias.1, alias.3.as_slice()),
        (0o100755, &b"print(1)\n"[..])
    );
    assert!(
        entries.iter().any(|e| e.0 == "static/a.txt"),
        "dir link followed"
    );

    std::os::unix::fs::symlink(outside.path().join("secret.txt"), root.join("leak.txt"))
        .expect("symlink");
    std::os::unix::fs::symlink(outside.path(), root.join("outdir")).expect("symlink");
    std::os::unix::fs::symlink("missing.txt", root.join("broken.txt")).expect("symlink");
    std::os::unix::fs::symlink("..", root.join("lib/up")).expect("symlink");
    let (msg, problems) = refused(root);
    let got: Vec<(&str, ProblemKind)> =
        problems.iter().map(|p| (p.path.as_str(), p.kind)).collect();
    assert_eq!(
        got,
        [
            ("broken.txt", ProblemKind::BrokenSymlink),
            ("leak.txt", ProblemKind::SymlinkOutside),
            ("lib/up", ProblemKind::SymlinkLoop),
            ("outdir", ProblemKind::SymlinkOutside),
        ],
        "{msg}"
    );
    assert!(
        msg.contains(
            &outside
                .path()
                .canonicalize()
                .expect("canon")
                .join("secret.txt")
                .display()
                .to_string()
        ),
        "{msg}"
    );
    assert!(
        msg.contains("delete `leak.txt` or list it in .ebignore"),
        "{msg}"
    );
}

#[test]
fn progress_is_reported_through_the_reporter() {
    let big = vec![b'a'; 3 << 20];
    let app = tree(&[("data/big.txt", &big, 0o644)]);
    let r = VecReporter::new();
    let out = tempfile::tempdir().expect("tempdir");
    let s =
        deploykit_bundle::build(&opts(app.path(), &out.path().join("b.zip")), &r).expect("builds");
    let ev = r.events();
    assert!(
        matches!(&ev[0], Event::StepStarted { step, what } if step == "bundle" && what.starts_with("Bundling 4 files"))
    );
    let last_progress = ev.iter().rev().find_map(|e| match e {
        Event::Progress { done, total, .. } => Some((*done, *total)),
        _ => None,
    });
    assert_eq!(last_progress, Some((s.bytes_in, Some(s.bytes_in))));
    assert!(
        matches!(ev.last(), Some(Event::StepFinished { step, summary, .. }) if step == "bundle" && summary.contains(&s.label))
    );
}

#[test]
fn out_directory_gets_label_named_zip_and_label_has_git_sha() {
    let app = tree(&[]);
    let out = tempfile::tempdir().expect("tempdir");
    let mut o = opts(app.path(), out.path());
    o.git_sha = Some("0123456789abcdef".into());
    o.git_dirty = true;
    let s = deploykit_bundle::build(&o, &NullReporter).expect("builds");
    assert_eq!(s.label, format!("fixture-{}-0123456", &s.sha256[..12]));
    assert_eq!(s.path, out.path().join(format!("{}.zip", s.label)));
    let bytes = std::fs::read(&s.path).expect("zip written");
    assert_eq!(bytes.len() as u64, s.bytes_out);
    use sha2::Digest;
    assert_eq!(hex::encode(sha2::Sha256::digest(&bytes)), s.sha256);
    assert!(s.warnings.iter().any(|w| w.contains("uncommitted changes")));
    let leftovers: Vec<_> = std::fs::read_dir(out.path()).expect("ls").collect();
    assert_eq!(leftovers.len(), 1, "no partial file left behind");
}

#[test]
fn missing_app_dir_is_an_io_error_naming_it() {
    let err = deploykit_bundle::plan(&opts("/nonexistent/app".as_ref(), "/tmp/x.zip".as_ref()))
        .expect_err("no such dir");
    assert!(!err.is_refusal());
    assert!(
        err.to_string()
            .starts_with("app directory /nonexistent/app cannot be read"),
        "{err}"
    );
}
