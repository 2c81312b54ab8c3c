//! `cargo xtask db migrate [--check]` as a user runs it: the real binary against a fresh
//! database of its own in the local cloud's PostgreSQL, checking exit codes and output.
//! Needs the local cloud (`cargo xtask local up`) and the app venv (`DEPLOYKIT_APP_VENV`, set by
//! `cargo xtask test`; default `target/venvs/app`); fails with what to run when either is missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn app_venv() -> PathBuf {
    let venv = std::env::var_os("DEPLOYKIT_APP_VENV")
        .filter(|v| !v.is_empty())
        .map_or_else(|| workspace().join("target/venvs/app"), PathBuf::from);
    assert!(
        venv.join("bin/python").exists(),
        "the app's virtualenv is missing ({} does not exist): run everything with `cargo xtask test` (it creates the venv and sets DEPLOYKIT_APP_VENV), or create it with `python3 -m venv target/venvs/app && target/venvs/app/bin/pip install -r examples/budgetsync/requirements-dev.txt`",
        venv.join("bin/python").display()
    );
    venv
}

fn xtask(venv: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .current_dir(workspace())
        .args(args)
        .env("DEPLOYKIT_APP_VENV", venv)
        .env_remove("DEPLOYKIT_DATABASE_URL")
        .output()
        .expect("running the xtask binary")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn db_migrate_check_exits_7_when_behind_then_migrate_fixes_it() {
    let venv = app_venv();
    let cloud = deploykit_testsupport::local_cloud().await;
    let url = cloud
        .fresh_database(&deploykit_testsupport::unique_name("migrate-cli"))
        .await;

    let check = xtask(&venv, &["db", "migrate", "--check", "--database-url", &url]);
    assert_eq!(check.status.code(), Some(7), "{}", text(&check));
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(
        stderr.contains("behind the app's migrations") && stderr.contains("cargo xtask db migrate"),
        "{}",
        text(&check)
    );

    let up = xtask(&venv, &["db", "migrate", "--database-url", &url]);
    assert_eq!(up.status.code(), Some(0), "{}", text(&up));
    assert!(
        String::from_utf8_lossy(&up.stdout)
            .contains("migrated from no revision (empty database) to"),
        "{}",
        text(&up)
    );

    let again = xtask(&venv, &["db", "migrate", "--database-url", &url]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("nothing to do"),
        "{}",
        text(&again)
    );

    let ok = xtask(&venv, &["db", "migrate", "--check", "--database-url", &url]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    assert!(
        String::from_utf8_lossy(&ok.stdout).contains("check passed"),
        "{}",
        text(&ok)
    );
}
