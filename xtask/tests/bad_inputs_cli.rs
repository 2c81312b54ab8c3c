//! Bad inputs, through the real binary: configs, app trees, Dockerfiles and arguments, each
//! refused with exit 2 (or clap's usage error) naming what is wrong and how to fix it, before
//! any AWS call. The proof: the target's endpoint is a closed loopback port, so a command that
//! reached AWS at all (even a read) would end with exit 3 instead; a control case shows it.

use std::path::Path;
use std::process::{Command, Output, Stdio};

const BASE: &str = r#"default_target = "dev"

[app]
name = "badapp"
path = "app"
health_path = "/healthz"

[targets.dev]
region = "us-east-1"
# Nothing listens here: any AWS call fails (exit 3), so exit 2 means "refused first".
endpoint_url = "http://127.0.0.1:9"
"#;

struct Case {
    name: &'static str,
    /// Appended to BASE (or the whole file with `replace`).
    toml: &'static str,
    replace: bool,
    /// Extra files in the app tree (path, content); a `->` content makes a symlink.
    files: &'static [(&'static str, &'static str)],
    args: &'static [&'static str],
    exit: i32,
    /// Each must appear in stderr or stdout.
    wants: &'static [&'static str],
}

const fn cfg(name: &'static str, toml: &'static str, wants: &'static [&'static str]) -> Case {
    Case {
        name,
        toml,
        replace: false,
        files: &[],
        args: &["deploy", "eb", "--dry-run"],
        exit: 2,
        wants,
    }
}

const fn tree(
    name: &'static str,
    files: &'static [(&'static str, &'static str)],
    args: &'static [&'static str],
    wants: &'static [&'static str],
) -> Case {
    Case {
        name,
        toml: "",
        replace: false,
        files,
        args,
        exit: 2,
        wants,
    }
}

const fn arg(
    name: &'static str,
    args: &'static [&'static str],
    exit: i32,
    wants: &'static [&'static str],
) -> Case {
    Case {
        name,
        toml: "",
        replace: false,
        files: &[],
        args,
        exit,
        wants,
    }
}

fn cases() -> Vec<Case> {
    const BUNDLE: &[&str] = &["bundle", "eb"];
    const IMAGE: &[&str] = &["deploy", "apprunner", "--dry-run"];
    vec![
        // deploy.toml
        Case {
            replace: true,
            ..cfg("not TOML", "[app\nname = 1\n", &["deploy.toml", "fix"])
        },
        Case {
            replace: true,
            ..cfg(
                "no [app] section",
                "default_target = \"dev\"\n[targets.dev]\nregion = \"us-east-1\"\n",
                &["deploy.toml", "app"],
            )
        },
        cfg(
            "unknown top-level key",
            "colour = \"red\"\n",
            &["deploy.toml", "colour"],
        ),
        cfg(
            "typo in [eb]",
            "[eb]\ninstnce_type = \"t3.micro\"\n",
            &["eb.instnce_type", "instance_type"],
        ),
        cfg(
            "load_balanced without a certificate",
            "[eb]\nload_balanced = true\n",
            &["eb.load_balanced", "domain"],
        ),
        cfg(
            "min above max instances",
            "[eb]\nmin_instances = 3\nmax_instances = 2\n",
            &["eb.min_instances"],
        ),
        cfg(
            "certificate ARN of another service",
            "[eb]\nload_balanced = true\ncertificate_arn = \"arn:aws:iam::123456789012:role/x\"\n",
            &["eb.certificate_arn"],
        ),
        cfg(
            "backup retention out of range",
            "[database]\nbackup_retention_days = 99\n",
            &["backup_retention_days"],
        ),
        cfg(
            "a secret as a plain env value",
            "[env]\nSTRIPE_SECRET_KEY = \"sk_live_0123456789abcdef\"\n",
            &["STRIPE_SECRET_KEY", "[secrets]"],
        ),
        cfg(
            "a secret reference that is not a name or ARN",
            "[secrets]\nDATABASE_URL = { secret = \"\" }\n",
            &["secrets.DATABASE_URL"],
        ),
        cfg(
            "App Runner service name too long",
            "[apprunner]\nservice = \"a-service-name-that-is-much-too-long-for-app-runner\"\n",
            &["apprunner.service", "4-40"],
        ),
        cfg(
            "App Runner CPU App Runner does not offer",
            "[apprunner]\ncpu = \"3 vCPU\"\n",
            &["apprunner.cpu"],
        ),
        cfg("health path without a slash", "[app]\n", &["deploy.toml"]),
        cfg(
            "https domain that is not a domain",
            "[https]\ndomain = \"not a domain\"\n",
            &["https.domain"],
        ),
        cfg(
            "alarm email that is not an address",
            "[alarms]\nemail = \"ops-at-example\"\n",
            &["alarms.email"],
        ),
        cfg(
            "unknown target table key",
            "[targets.dev.eb]\ncolour = 1\n",
            &["colour"],
        ),
        cfg(
            "account id that is not 12 digits",
            "[targets.prod]\nregion = \"us-east-1\"\naccount_id = \"1234\"\n",
            &["account_id"],
        ),
        cfg(
            "a region that is not a region code",
            "[targets.prod]\nregion = \"US East 1\"\n",
            &["targets.prod.region", "us-east-1"],
        ),
        // The app tree, judged before anything is uploaded.
        tree(
            "a .env file",
            &[(".env", "SECRET_KEY=x\n")],
            BUNDLE,
            &[".env", "fix"],
        ),
        tree(
            "an SSH key",
            &[("id_rsa", "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n")],
            BUNDLE,
            &["id_rsa"],
        ),
        tree(
            "a private key by content",
            &[(
                "notes.txt",
                "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n",
            )],
            BUNDLE,
            &["notes.txt"],
        ),
        tree(
            "an AWS credentials file",
            &[(
                ".aws/credentials",
                "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n",
            )],
            BUNDLE,
            &["credentials"],
        ),
        tree(
            "git credentials",
            &[(".git-credentials", "https://u:p@github.com\n")],
            BUNDLE,
            &[".git-credentials"],
        ),
        tree(
            "a .pgpass",
            &[(".pgpass", "db:5432:*:app:pw\n")],
            BUNDLE,
            &[".pgpass"],
        ),
        tree(
            "a PKCS#12 bundle",
            &[("cert.p12", "binary")],
            BUNDLE,
            &["cert.p12"],
        ),
        tree(
            "a symlink to a secret",
            &[(".env", "SECRET_KEY=x\n"), ("settings.cfg", "->.env")],
            &["bundle", "eb", "--allow", ".env"],
            &["settings.cfg"],
        ),
        tree(
            "a symlink out of the app",
            &[("outside.cfg", "->/etc/hostname")],
            BUNDLE,
            &["outside.cfg"],
        ),
        tree(
            "a .env on the way to deploy eb",
            &[(".env", "SECRET_KEY=x\n")],
            &["deploy", "eb", "--dry-run"],
            &[".env", "fix"],
        ),
        // Dockerfiles and the image context, judged before any build or push.
        tree(
            "an .npmrc in the image context",
            &[
                ("Dockerfile", "FROM scratch\nCOPY . /app\n"),
                (".npmrc", "//registry.npmjs.org/:_authToken=abc\n"),
            ],
            IMAGE,
            &[".npmrc"],
        ),
        tree(
            "a .env in the image context",
            &[
                ("Dockerfile", "FROM scratch\nCOPY . /app\n"),
                (".env", "SECRET_KEY=x\n"),
            ],
            IMAGE,
            &[".env"],
        ),
        tree(
            "a docker config in the context",
            &[
                ("Dockerfile", "FROM scratch\nCOPY . /app\n"),
                (".docker/config.json", "{\"auths\":{}}\n"),
            ],
            IMAGE,
            &["config.json"],
        ),
        // Arguments.
        arg(
            "an unknown target",
            &["--target", "staging", "deploy", "eb", "--dry-run"],
            2,
            &["staging"],
        ),
        arg(
            "an unknown output format",
            &["--output", "xml", "check"],
            2,
            &["xml"],
        ),
        arg(
            "--tail on App Runner",
            &["logs", "apprunner", "--tail"],
            2,
            &["--tail", "logs eb"],
        ),
        arg(
            "a duration with a unit we do not know",
            &["logs", "eb", "--since", "5 parsecs"],
            2,
            &["parsecs"],
        ),
        arg(
            "a secret literal in argv",
            &[
                "eb",
                "env",
                "set",
                "STRIPE_SECRET_KEY=sk_live_0123456789abcdef",
            ],
            2,
            &["STRIPE_SECRET_KEY", "stdin"],
        ),
        arg("prune without --keep", &["db", "prune"], 2, &["--keep"]),
        arg(
            "a negative probe timeout",
            &["check", "--probe-timeout", "-3"],
            2,
            &["-3", "Usage"],
        ),
    ]
}

fn write_tree(dir: &Path, case: &Case) {
    let app = dir.join("app");
    std::fs::create_dir_all(&app).expect("mkdir app");
    std::fs::write(app.join("requirements.txt"), "flask\ngunicorn\n").expect("requirements");
    std::fs::write(
        app.join("application.py"),
        "from flask import Flask\napplication = Flask(__name__)\n",
    )
    .expect("application.py");
    for (path, content) in case.files {
        let p = app.join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        match content.strip_prefix("->") {
            Some(target) => std::os::unix::fs::symlink(target, &p).expect("symlink"),
            None => std::fs::write(&p, content).expect("write"),
        }
    }
    let toml = if case.replace {
        case.toml.to_string()
    } else {
        format!("{BASE}\n{}", case.toml)
    };
    std::fs::write(dir.join("deploy.toml"), toml).expect("deploy.toml");
}

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .current_dir(dir)
        .arg("--config")
        .arg(dir.join("deploy.toml"))
        .args(args)
        .env_remove("DEPLOYKIT_TARGET")
        .env_remove("AWS_PROFILE")
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLEDUMMY")
        .env("AWS_SECRET_ACCESS_KEY", "dummy-secret-for-tests")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null())
        .output()
        .expect("running the xtask binary")
}

#[test]
fn the_harness_reaches_aws_only_with_good_input() {
    // A good config gets as far as its first AWS call, which fails: exit 3, not 2.
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(dir.path(), &cfg("good", "", &[]));
    let out = run(dir.path(), &["deploy", "eb", "--dry-run"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn each_bad_input_is_refused_before_any_aws_call_with_what_and_how_to_fix() {
    let cases = cases();
    assert!(
        cases.len() >= 30,
        "the issue asks for at least 30, we have {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let dir = tempfile::tempdir().expect("tempdir");
        write_tree(dir.path(), case);
        let out = run(dir.path(), case.args);
        let shown = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        let missing: Vec<&&str> = case.wants.iter().filter(|w| !shown.contains(**w)).collect();
        if out.status.code() != Some(case.exit) || !missing.is_empty() {
            failures.push(format!(
                "{}: exit {:?} (want {}), missing {missing:?}\n{shown}",
                case.name,
                out.status.code(),
                case.exit
            ));
        }
        // Nothing was made: no bundle, no image context, no state beyond the lock directory.
        let zips = dir.path().join("target/deploykit");
        let made: Vec<_> = std::fs::read_dir(&zips)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(
            made.iter().all(|n| !n.to_string_lossy().ends_with(".zip")),
            "{}: a bundle was written: {made:?}",
            case.name
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
