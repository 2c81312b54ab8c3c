//! A private PostgreSQL for one test, started the way `local up` starts the shared one
//! (deploykit-local: initdb, TLS with a local CA, RDS-like `pg_hba.conf`), on a free port,
//! in its own state directory under `target/`, stopped (and deleted) when dropped.

use std::path::{Path, PathBuf};

use deploykit_local::{EdgeLauncher, LocalState, Part, Paths, PgTls, UpOptions};

/// A running private cluster. Its superuser (`postgres`) connects without TLS over loopback
/// (the RDS emulator's control-plane access); every other role needs TLS.
#[derive(Debug)]
pub struct PrivatePostgres {
    pub state: LocalState,
    pub paths: Paths,
    _dir: tempfile::TempDir,
}

impl PrivatePostgres {
    pub fn port(&self) -> u16 {
        self.state.pg.port
    }

    /// The cluster's TLS files (its CA signs the server's certificate).
    pub fn tls(&self) -> &PgTls {
        self.state
            .pg
            .tls
            .as_ref()
            .expect("a private cluster always has TLS")
    }

    /// `postgresql://postgres@127.0.0.1:PORT/<db>` (superuser, trust on loopback).
    pub fn superuser_url(&self, db: &str) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/{db}", self.port())
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = deploykit_local::down(&self.paths, None, true, &deploykit_report::NullReporter);
    }
}

/// The workspace, without `..`: PostgreSQL reports its data directory normalized, and
/// deploykit-local recognizes its postmaster (to stop it) by that path.
fn workspace() -> PathBuf {
    let ws = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::canonicalize(&ws).unwrap_or(ws)
}

/// Starts a private PostgreSQL (PostgreSQL server binaries needed, as for `local up`).
/// Panics with deploykit-local's message and help when it cannot.
pub fn private_postgres() -> PrivatePostgres {
    let target = workspace().join("target");
    std::fs::create_dir_all(&target).expect("creating target/");
    // Under target/ (not /tmp's 0700 directories): PostgreSQL runs as `postgres` when we are root.
    let dir = tempfile::Builder::new()
        .prefix("pg-private-")
        .tempdir_in(&target)
        .expect("a private state directory under target/");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod the private state directory");
    }
    let paths = Paths::at(dir.path(), target.join("venvs"), workspace());
    // The edge is never started here; the launcher is only part of the options' shape.
    let opts = UpOptions::new(EdgeLauncher {
        program: PathBuf::from("/nonexistent"),
        args: Vec::new(),
    });
    let r = deploykit_report::NullReporter;
    match deploykit_local::up_parts(&paths, &opts, &[Part::Postgres], &r) {
        Ok((state, _)) => PrivatePostgres {
            state,
            paths,
            _dir: dir,
        },
        Err(e) => {
            let _ = deploykit_local::down(&paths, None, true, &r);
            panic!(
                "starting a private PostgreSQL: {e} ({:?})",
                deploykit_report::Diagnostic::help(&e)
            )
        }
    }
}
