//! `db migrate` (the plain [`run_migrate`]) against a fresh database of its own in the local
//! cloud's PostgreSQL, with the app's own Flask-Migrate from its virtualenv
//! (`DEPLOYKIT_APP_VENV`, which `cargo xtask test` sets; default `target/venvs/app`).
//! Like every local-cloud test, these fail with the command to run when the cloud or the venv
//! is missing.

use std::path::PathBuf;

use super::*;

/// The app venv's python; fails the test with what to run when it is missing.
fn python() -> PathBuf {
    let py = app_venv(&super::tests::repo_root()).join("bin/python");
    assert!(
        py.exists(),
        "the app's virtualenv is missing ({} does not exist): run everything with `cargo xtask test` (it creates the venv and sets {APP_VENV_ENV}), or create it with `python3 -m venv target/venvs/app && target/venvs/app/bin/pip install -r examples/budgetsync/requirements-dev.txt`",
        py.display()
    );
    py
}

fn app_dir() -> PathBuf {
    super::tests::repo_root().join("examples/budgetsync")
}

/// An empty database of this test's own on the running local cloud.
fn fresh_database(prefix: &str) -> String {
    crate::runtime().block_on(async {
        let cloud = deploykit_testsupport::local_cloud().await;
        cloud
            .fresh_database(&deploykit_testsupport::unique_name(prefix))
            .await
    })
}

#[test]
fn migrate_upgrades_an_empty_database_and_a_second_run_changes_nothing() {
    let py = python();
    let url = fresh_database("migrate-up");

    let first = run_migrate(&py, &app_dir(), &url, false).expect("migrating an empty database");
    assert!(first.before.is_empty(), "empty database: {first:?}");
    assert!(first.upgraded && first.at_head, "{first:?}");
    assert!(!first.heads.is_empty());
    assert_eq!(first.after, first.heads);
    assert!(
        first
            .human()
            .starts_with("migrated from no revision (empty database) to ")
    );

    let second = run_migrate(&py, &app_dir(), &url, false).expect("second run");
    assert!(!second.upgraded && second.at_head, "{second:?}");
    assert_eq!(second.before, first.after);
    assert_eq!(second.after, first.after);
    assert!(
        second.human().ends_with("nothing to do"),
        "{}",
        second.human()
    );

    // --check on a database at head passes and changes nothing.
    let checked = run_migrate(&py, &app_dir(), &url, true).expect("--check at head");
    assert!(!checked.upgraded && checked.at_head && checked.checked);
    assert!(
        checked.human().ends_with("check passed"),
        "{}",
        checked.human()
    );
}

#[test]
fn migrate_check_fails_on_a_database_behind_head_and_changes_nothing() {
    let py = python();
    let url = fresh_database("migrate-check");

    let err = run_migrate(&py, &app_dir(), &url, true).expect_err("an empty database is behind");
    assert_eq!(err.exit, Exit::CheckFailed);
    assert!(
        err.message.contains("behind the app's migrations")
            && err.message.contains("no revision (empty database)")
            && err.message.contains("nothing was changed"),
        "{}",
        err.message
    );
    assert!(
        err.hint
            .as_deref()
            .is_some_and(|h| h.contains("cargo xtask db migrate")),
        "{:?}",
        err.hint
    );
    // Still behind: --check did not upgrade it.
    let again = run_migrate(&py, &app_dir(), &url, true).expect_err("still behind");
    assert_eq!(again.exit, Exit::CheckFailed);

    run_migrate(&py, &app_dir(), &url, false).expect("upgrade");
    let ok = run_migrate(&py, &app_dir(), &url, true).expect("at head after the upgrade");
    assert!(ok.at_head && !ok.upgraded);
}

#[test]
fn migrate_against_an_unreachable_database_is_an_error_without_the_url() {
    let py = python();
    // A port nothing listens on (bound, then released), with a password that must not leak.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(9);
    let url = format!("postgresql://u:s3cret-pw@127.0.0.1:{port}/nope");
    let err = run_migrate(&py, &app_dir(), &url, false).expect_err("nothing listens there");
    assert_eq!(err.exit, Exit::Failure);
    assert!(
        err.message.contains("`flask db current` failed"),
        "{}",
        err.message
    );
    assert!(!err.message.contains("s3cret-pw"), "{}", err.message);
}
