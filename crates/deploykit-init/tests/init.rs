//! detect + plan on small Flask app trees (tests/fixtures/*), as data; apply in a temporary
//! copy: twice (the second run changes nothing), with a conflict (nothing written), with force.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use deploykit_init::{
    DetectOptions, FileAction, InitError, InitOptions, MIGRATE_HOOK_PATH, Migrations,
    RequirementsSource, WORKFLOW_PATH, apply, detect, plan, preview,
};
use deploykit_report::{Category, Diagnostic, Level};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A copy of the fixture in a fresh temporary directory (named like the fixture, so the app
/// name is the same), outside any git repository.
fn copy(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dst = tmp.path().join(name);
    let src = fixture(name);
    for e in walkdir::WalkDir::new(&src) {
        let e = e.unwrap();
        let to = dst.join(e.path().strip_prefix(&src).unwrap());
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
    (tmp, dst)
}

struct Case {
    fixture: &'static str,
    name: &'static str,
    spec: &'static str,
    health: &'static str,
    migrations: Option<&'static str>,
    python: &'static str,
    database: bool,
    static_dir: Option<&'static str>,
    /// Substrings of the warnings, in order.
    warnings: &'static [&'static str],
    /// Files beyond the always-written ones.
    extra_files: &'static [&'static str],
}

const ALWAYS: [&str; 7] = [
    "deploy.toml",
    "Procfile",
    ".ebextensions/01-app.config",
    "Dockerfile",
    ".dockerignore",
    ".ebignore",
    WORKFLOW_PATH,
];

const CASES: [Case; 4] = [
    Case {
        fixture: "factory-app",
        name: "factory-app",
        spec: "shop:create_app()",
        health: "/healthz",
        migrations: Some("flask-migrate"),
        python: "3.11",
        database: true,
        static_dir: Some("shop/static"),
        warnings: &[],
        extra_files: &[MIGRATE_HOOK_PATH],
    },
    Case {
        fixture: "module_app",
        name: "module-app",
        spec: "app:app",
        health: "/health",
        migrations: None,
        python: "3.12",
        database: false,
        static_dir: None,
        warnings: &["requirements.txt lacks gunicorn"],
        extra_files: &[],
    },
    Case {
        fixture: "no-health",
        name: "no-health",
        spec: "wsgi:app",
        health: "/",
        migrations: None,
        python: "3.12",
        database: false,
        static_dir: None,
        warnings: &["no health route found", "which no route answers either"],
        extra_files: &[],
    },
    Case {
        fixture: "pyproject-app",
        name: "pyproject-app",
        spec: "hello:application",
        health: "/ping",
        migrations: Some("alembic"),
        python: "3.11",
        database: true,
        static_dir: None,
        warnings: &[],
        extra_files: &[MIGRATE_HOOK_PATH, "requirements.txt"],
    },
];

#[test]
fn detect_and_plan_cases() {
    for c in &CASES {
        let (_tmp, dir) = copy(c.fixture);
        let d = detect(&dir, &DetectOptions::default())
            .unwrap_or_else(|e| panic!("{}: {e}", c.fixture));
        let ctx = c.fixture;
        assert_eq!(d.name, c.name, "{ctx}");
        assert_eq!(d.entry.spec, c.spec, "{ctx}: {:?}", d.entry);
        assert_eq!(d.health_path(), c.health, "{ctx}");
        let tool = d.migrations.as_ref().map(|m| match m {
            Migrations::FlaskMigrate { .. } => "flask-migrate",
            Migrations::Alembic { .. } => "alembic",
        });
        assert_eq!(tool, c.migrations, "{ctx}");
        assert_eq!(d.python.short(), c.python, "{ctx}: {:?}", d.python);
        assert_eq!(d.uses_database(), c.database, "{ctx}");
        assert_eq!(
            d.static_dir.as_deref(),
            c.static_dir.map(Path::new),
            "{ctx}"
        );
        let warnings: Vec<&str> = d
            .notes
            .iter()
            .filter(|n| n.level == Level::Warn)
            .map(|n| n.message.as_str())
            .collect();
        for w in c.warnings {
            assert!(
                warnings.iter().any(|m| m.contains(w)),
                "{ctx}: no warning with {w:?} in {warnings:?}"
            );
        }
        for m in &warnings {
            assert!(
                c.warnings.iter().any(|w| m.contains(w)),
                "{ctx}: unexpected warning {m:?}"
            );
        }

        let p = plan(&d, &InitOptions::default()).unwrap();
        let mut want: Vec<&str> = ALWAYS.iter().chain(c.extra_files).copied().collect();
        want.sort();
        let mut got: Vec<String> = p
            .files
            .iter()
            .map(|f| f.path.display().to_string())
            .collect();
        got.sort();
        assert_eq!(got, want, "{ctx}");

        let procfile = &p.file("Procfile").unwrap().contents;
        assert_eq!(
            procfile,
            &format!(
                "web: gunicorn \"{}\" --bind 0.0.0.0:${{PORT:-8000}} --workers 2 --access-logfile -\n",
                c.spec
            ),
            "{ctx}"
        );
        let docker = &p.file("Dockerfile").unwrap().contents;
        assert!(
            docker.contains(&format!("ARG PYTHON_IMAGE=python:{}-slim", c.python)),
            "{ctx}"
        );
        assert!(
            docker.contains(&format!("exec gunicorn '{}'", c.spec)),
            "{ctx}"
        );
        assert!(docker.contains("\nUSER appuser\n"), "{ctx}");
        // No platform gunicorn in an image: the Dockerfile installs one when requirements lack it.
        let lacks_gunicorn = c.warnings.iter().any(|w| w.contains("lacks gunicorn"));
        assert_eq!(
            docker.contains("RUN pip install --no-cache-dir -r requirements.txt gunicorn\n"),
            lacks_gunicorn,
            "{ctx}"
        );
        assert!(
            docker.contains("RUN pip install --no-cache-dir -r requirements.txt"),
            "{ctx}"
        );
        let eb = &p.file(".ebextensions/01-app.config").unwrap().contents;
        assert!(
            eb.contains(&format!("Application Healthcheck URL: {}\n", c.health)),
            "{ctx}"
        );
        assert_eq!(
            eb.contains("staticfiles"),
            c.static_dir.is_some(),
            "{ctx}: {eb}"
        );
        let toml = &p.file("deploy.toml").unwrap().contents;
        assert!(
            toml.contains(&format!("health_path = \"{}\"", c.health)),
            "{ctx}"
        );
        assert_eq!(
            toml.contains(&format!(
                "\nDATABASE_URL = {{ secret = \"{}/db-url\" }}",
                c.name
            )),
            c.database,
            "{ctx}"
        );
        assert_eq!(toml.contains("\n[database]\n"), c.database, "{ctx}");
        for f in &p.files {
            assert!(
                !f.contents.contains('\r'),
                "{ctx}: {} has CR",
                f.path.display()
            );
            assert!(!f.contents.contains("{{#"), "{ctx}: {}", f.path.display());
            let want_mode = if f.path == Path::new(MIGRATE_HOOK_PATH) {
                0o755
            } else {
                0o644
            };
            assert_eq!(f.mode, want_mode, "{ctx}: {}", f.path.display());
        }
        if let Some(tool) = c.migrations {
            let hook = &p.file(MIGRATE_HOOK_PATH).unwrap().contents;
            assert!(hook.starts_with("#!/usr/bin/env bash\n"), "{ctx}");
            let cmd = match tool {
                "flask-migrate" => format!("export FLASK_APP=\"{}\"\n", c.spec),
                _ => "alembic -c \"alembic.ini\" upgrade head\n".to_owned(),
            };
            assert!(hook.contains(&cmd), "{ctx}: {hook}");
        }
    }
}

#[test]
fn pyproject_dependencies_become_requirements_txt_with_gunicorn() {
    let (_tmp, dir) = copy("pyproject-app");
    let d = detect(&dir, &DetectOptions::default()).unwrap();
    assert!(matches!(
        d.requirements.source,
        RequirementsSource::Pyproject { .. }
    ));
    let p = plan(&d, &InitOptions::default()).unwrap();
    let req = &p.file("requirements.txt").unwrap().contents;
    let lines: Vec<&str> = req.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        lines,
        [
            "flask>=3.1",
            "SQLAlchemy>=2.0",
            "alembic>=1.13",
            "psycopg[binary]>=3.2",
            "gunicorn  # the Procfile and the Dockerfile start the app with it",
        ]
    );
    // After the first run requirements.txt exists, is read instead, and is not planned again.
    apply(&p, &dir, false).unwrap();
    let d2 = detect(&dir, &DetectOptions::default()).unwrap();
    assert_eq!(d2.requirements.source, RequirementsSource::RequirementsTxt);
    assert!(d2.requirements.has("gunicorn"));
    let p2 = plan(&d2, &InitOptions::default()).unwrap();
    assert!(p2.file("requirements.txt").is_none());
    assert_eq!(apply(&p2, &dir, false).unwrap().changed(), 0);
}

#[test]
fn two_apps_are_an_error_listing_both_until_one_is_chosen() {
    let (_tmp, dir) = copy("ambiguous");
    let e = detect(&dir, &DetectOptions::default()).unwrap_err();
    match &e {
        InitError::AmbiguousEntry { candidates, .. } => {
            let specs: Vec<(&str, String, usize)> = candidates
                .iter()
                .map(|c| (c.spec.as_str(), c.file.display().to_string(), c.line))
                .collect();
            assert_eq!(
                specs,
                [
                    ("admin:app", "admin/__init__.py".to_owned(), 3),
                    ("api:app", "api.py".to_owned(), 3)
                ]
            );
        }
        other => panic!("{other}"),
    }
    assert_eq!(e.category(), Category::Input);
    assert!(e.help().unwrap().contains("`admin:app`"), "{:?}", e.help());

    let chosen = detect(
        &dir,
        &DetectOptions {
            entry: Some("api:app".into()),
        },
    )
    .unwrap();
    assert_eq!(chosen.entry.spec, "api:app");
    assert_eq!(chosen.entry.file.as_deref(), Some(Path::new("api.py")));
    assert_eq!(chosen.health_path(), "/ping");

    let bad = [
        ("api", "expected `module:name`"),
        ("api:app-x", "identifiers"),
        ("nothere:app", "no nothere.py or nothere/__init__.py"),
    ];
    for (spec, want) in bad {
        let e = detect(
            &dir,
            &DetectOptions {
                entry: Some(spec.into()),
            },
        )
        .unwrap_err();
        assert!(
            matches!(e, InitError::BadEntry { .. }) && e.to_string().contains(want),
            "{spec}: {e}"
        );
    }
}

#[test]
fn bad_options_are_refused_before_any_file_is_planned() {
    let (_tmp, dir) = copy("module_app");
    let d = detect(&dir, &DetectOptions::default()).unwrap();
    let cases = [
        (
            InitOptions {
                target: "local".into(),
                ..InitOptions::default()
            },
            "`local` is not a real-AWS target",
        ),
        (
            InitOptions {
                target: "staging".into(),
                ..InitOptions::default()
            },
            "`staging` is not a real-AWS target",
        ),
        (
            InitOptions {
                region: "useast1".into(),
                ..InitOptions::default()
            },
            "not an AWS region code",
        ),
        (
            InitOptions {
                branch: "main: x".into(),
                ..InitOptions::default()
            },
            "branch",
        ),
    ];
    for (o, want) in cases {
        let e = plan(&d, &o).unwrap_err();
        assert!(e.to_string().contains(want), "{o:?}: {e}");
        assert_eq!(e.category(), Category::Input);
    }
}

#[test]
fn no_flask_app_and_not_a_directory_are_input_errors() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("main.py"), "print('hi')\n").unwrap();
    let e = detect(tmp.path(), &DetectOptions::default()).unwrap_err();
    assert!(matches!(e, InitError::NoFlaskApp { scanned: 1, .. }), "{e}");
    assert_eq!(e.category(), Category::Input);
    let e = detect(&tmp.path().join("main.py"), &DetectOptions::default()).unwrap_err();
    assert!(matches!(e, InitError::NotADirectory { .. }), "{e}");
}

#[test]
fn apply_twice_changes_nothing_the_second_time() {
    for c in &CASES {
        let (_tmp, dir) = copy(c.fixture);
        let d = detect(&dir, &DetectOptions::default()).unwrap();
        let p = plan(&d, &InitOptions::default()).unwrap();
        let dry = preview(&p, &dir, false).unwrap();
        assert!(
            dry.files.iter().all(|f| f.action == FileAction::Create),
            "{}: {dry:?}",
            c.fixture
        );
        assert!(
            !dir.join("deploy.toml").exists(),
            "a preview writes nothing"
        );

        let first = apply(&p, &dir, false).unwrap();
        assert_eq!(first.changed(), p.files.len(), "{}", c.fixture);
        for f in &p.files {
            let path = dir.join(&f.path);
            assert_eq!(std::fs::read_to_string(&path).unwrap(), f.contents);
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, f.mode, "{}", f.path.display());
        }
        // No temporary files left behind.
        let leftovers: Vec<_> = walkdir::WalkDir::new(&dir)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(".deploykit-init-")
            })
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");

        // Second run, from a fresh detect of the tree as it is now.
        let d2 = detect(&dir, &DetectOptions::default()).unwrap();
        let p2 = plan(&d2, &InitOptions::default()).unwrap();
        let second = apply(&p2, &dir, false).unwrap();
        assert_eq!(second.changed(), 0, "{}: {second:?}", c.fixture);
        assert!(
            second
                .files
                .iter()
                .all(|f| f.action == FileAction::Unchanged)
        );
    }
}

#[test]
fn the_migration_hook_is_executable_with_lf_line_endings() {
    let (_tmp, dir) = copy("factory-app");
    let p = plan(
        &detect(&dir, &DetectOptions::default()).unwrap(),
        &InitOptions::default(),
    )
    .unwrap();
    apply(&p, &dir, false).unwrap();
    let hook = dir.join(MIGRATE_HOOK_PATH);
    let mode = std::fs::metadata(&hook).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o755);
    let bytes = std::fs::read(&hook).unwrap();
    assert!(!bytes.contains(&b'\r'));
    assert!(bytes.starts_with(b"#!/usr/bin/env bash\n"));

    // A hook that lost its +x gets it back without force; the content is untouched.
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = apply(&p, &dir, false).unwrap();
    let f = r
        .files
        .iter()
        .find(|f| f.path == Path::new(MIGRATE_HOOK_PATH))
        .unwrap();
    assert_eq!(f.action, FileAction::SetMode);
    assert_eq!(r.changed(), 1);
    let mode = std::fs::metadata(&hook).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o755);
}

#[test]
fn a_differing_file_refuses_the_whole_run_until_forced() {
    let (_tmp, dir) = copy("module_app");
    let p = plan(
        &detect(&dir, &DetectOptions::default()).unwrap(),
        &InitOptions::default(),
    )
    .unwrap();
    let mine = "web: gunicorn app:app\n";
    std::fs::write(dir.join("Procfile"), mine).unwrap();
    // Same bytes as planned except CRLF: also a difference, named as such.
    let ebignore = p.file(".ebignore").unwrap().contents.replace('\n', "\r\n");
    std::fs::write(dir.join(".ebignore"), &ebignore).unwrap();

    let dry = preview(&p, &dir, false).unwrap();
    let conflicts = dry.conflicts();
    let got: Vec<(String, &str)> = conflicts
        .iter()
        .map(|c| (c.path.display().to_string(), c.detail.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("Procfile".to_owned(), "content"),
            (".ebignore".to_owned(), "line endings (CRLF)")
        ]
    );

    let e = apply(&p, &dir, false).unwrap_err();
    assert!(matches!(e, InitError::Conflicts { .. }), "{e}");
    assert_eq!(e.category(), Category::Input);
    assert!(
        e.to_string()
            .contains("Procfile (exists, differs: content)"),
        "{e}"
    );
    // Nothing was written: not the conflicting files, not the new ones.
    assert_eq!(std::fs::read_to_string(dir.join("Procfile")).unwrap(), mine);
    assert_eq!(
        std::fs::read_to_string(dir.join(".ebignore")).unwrap(),
        ebignore
    );
    for f in ["deploy.toml", "Dockerfile", WORKFLOW_PATH] {
        assert!(!dir.join(f).exists(), "{f} was written");
    }

    let forced = apply(&p, &dir, true).unwrap();
    let actions: Vec<(String, FileAction)> = forced
        .files
        .iter()
        .filter(|f| f.action != FileAction::Create)
        .map(|f| (f.path.display().to_string(), f.action))
        .collect();
    assert_eq!(
        actions,
        [
            ("Procfile".to_owned(), FileAction::Overwrite),
            (".ebignore".to_owned(), FileAction::Overwrite)
        ]
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("Procfile")).unwrap(),
        p.file("Procfile").unwrap().contents
    );
    assert_eq!(apply(&p, &dir, false).unwrap().changed(), 0);
}

#[test]
fn a_directory_where_a_file_goes_is_a_conflict_even_with_force() {
    let (_tmp, dir) = copy("module_app");
    std::fs::create_dir(dir.join("Dockerfile")).unwrap();
    let p = plan(
        &detect(&dir, &DetectOptions::default()).unwrap(),
        &InitOptions::default(),
    )
    .unwrap();
    let e = apply(&p, &dir, true).unwrap_err();
    assert!(
        e.to_string()
            .contains("Dockerfile (exists, differs: is not a regular file)"),
        "{e}"
    );
    assert!(!dir.join("deploy.toml").exists());
}

/// The generated deploy.toml is one deploykit-config accepts, for every fixture, with the
/// names and health path init chose on every target.
#[test]
fn generated_deploy_toml_loads_with_deploykit_config() {
    for c in &CASES {
        let (_tmp, dir) = copy(c.fixture);
        let p = plan(
            &detect(&dir, &DetectOptions::default()).unwrap(),
            &InitOptions::default(),
        )
        .unwrap();
        apply(&p, &dir, false).unwrap();
        let cfg = deploykit_config::load(&dir.join("deploy.toml"))
            .unwrap_or_else(|e| panic!("{}: {e}", c.fixture));
        assert!(cfg.warnings.is_empty(), "{}: {:?}", c.fixture, cfg.warnings);
        assert_eq!(cfg.default_target, "local");
        assert_eq!(cfg.target_names(), ["dev", "local", "prod"]);
        for (target, env) in [("local", "dev"), ("dev", "dev"), ("prod", "prod")] {
            let t = cfg.target(Some(target)).unwrap();
            assert_eq!(t.app.name, c.name);
            assert_eq!(t.app.path, dir.join("."));
            assert_eq!(t.app.health_path, c.health);
            assert_eq!(t.eb.application, c.name);
            assert_eq!(t.eb.environment, format!("{}-{env}", c.name));
            let mut secrets: Vec<&str> = t.secrets.keys().map(String::as_str).collect();
            secrets.sort();
            let want: &[&str] = if c.database {
                &["DATABASE_URL", "SECRET_KEY"]
            } else {
                &["SECRET_KEY"]
            };
            assert_eq!(secrets, want, "{}", c.fixture);
        }
    }
}

/// The example app this repository deploys: init reads it as its deploy.toml and files say.
#[test]
fn the_example_app_is_detected_as_deployed() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/budgetsync");
    let d = detect(&example, &DetectOptions::default()).unwrap();
    assert_eq!(d.name, "budgetsync");
    // wsgi.py's `app = create_app()` (the Procfile calls the factory directly: the same app).
    assert_eq!(d.entry.spec, "wsgi:app");
    assert_eq!(d.health_path(), "/healthz");
    assert!(matches!(
        d.migrations,
        Some(Migrations::FlaskMigrate { .. })
    ));
    assert!(d.requirements.has("gunicorn") && d.requirements.has_postgres_driver());
    let warnings: Vec<&str> = d
        .notes
        .iter()
        .filter(|n| n.level == Level::Warn)
        .map(|n| n.message.as_str())
        .collect();
    // Only: the example lives inside this repository, not at a repository root.
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("inside the git repository"),
        "{warnings:?}"
    );
    let p = plan(&d, &InitOptions::default()).unwrap();
    // The example's own files say the same as what init would write about it.
    let ext =
        std::fs::read_to_string(example.join(".ebextensions/01-single-instance.config")).unwrap();
    assert!(ext.contains("Application Healthcheck URL: /healthz"));
    assert!(
        p.file(".ebextensions/01-app.config")
            .unwrap()
            .contents
            .contains("Application Healthcheck URL: /healthz")
    );
}

/// The migration hook really runs: outside EB, with a stand-in `get-config` (environment
/// properties and secrets as JSON, a value with a quote in it) and a stand-in platform venv whose
/// `flask`/`alembic` record how they were called. Values reach the command, never the log.
#[test]
fn the_migration_hook_runs_the_migration_with_the_platform_environment() {
    for (fixture, tool, want_args) in [
        (
            "factory-app",
            "flask",
            "db upgrade FLASK_APP=shop:create_app()",
        ),
        (
            "pyproject-app",
            "alembic",
            "-c alembic.ini upgrade head FLASK_APP=",
        ),
    ] {
        let (tmp, dir) = copy(fixture);
        let p = plan(
            &detect(&dir, &DetectOptions::default()).unwrap(),
            &InitOptions::default(),
        )
        .unwrap();
        apply(&p, &dir, false).unwrap();
        let bin = tmp.path().join("venv/staging-X/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(
            bin.join("activate"),
            format!("export PATH=\"{}:$PATH\"\n", bin.display()),
        )
        .unwrap();
        let exe = |path: PathBuf, text: &str| {
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        exe(
            bin.join(tool),
            "#!/bin/sh\necho \"$* FLASK_APP=${FLASK_APP:-} URL=$DATABASE_URL KEY=$SECRET_KEY PWD=$PWD\" > \"$RECORD\"\n",
        );
        let get_config = tmp.path().join("get-config");
        exe(
            get_config.clone(),
            "#!/bin/sh\n[ \"$1\" = environment ] || exit 1\necho '{\"DATABASE_URL\": \"postgresql://u:pw@db:5432/app\", \"SECRET_KEY\": \"it'\\''s secret\", \"not a name\": \"x\"}'\n",
        );
        let record = tmp.path().join("record");
        let out = std::process::Command::new("bash")
            .arg(dir.join(MIGRATE_HOOK_PATH))
            .env("APP_DIR", &dir)
            .env("EB_VENV_ROOT", tmp.path().join("venv"))
            .env("EB_GET_CONFIG", &get_config)
            .env("RECORD", &record)
            .env_remove("FLASK_APP")
            .output()
            .unwrap();
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{fixture}: {log}");
        let called = std::fs::read_to_string(&record).unwrap();
        assert_eq!(
            called.trim(),
            format!(
                "{want_args} URL=postgresql://u:pw@db:5432/app KEY=it's secret PWD={}",
                dir.display()
            ),
            "{fixture}"
        );
        assert!(
            !log.contains("pw@db") && !log.contains("it's secret"),
            "{fixture}: a value reached the log: {log}"
        );
        assert!(log.contains("migrations applied"), "{fixture}: {log}");

        // A failing migration fails the hook (and so the deployment).
        exe(bin.join(tool), "#!/bin/sh\nexit 3\n");
        let st = std::process::Command::new("bash")
            .arg(dir.join(MIGRATE_HOOK_PATH))
            .env("APP_DIR", &dir)
            .env("EB_VENV_ROOT", tmp.path().join("venv"))
            .env("EB_GET_CONFIG", &get_config)
            .output()
            .unwrap();
        assert_eq!(st.status.code(), Some(3), "{fixture}");
    }
}
