//! The local cloud's PostgreSQL: the cluster (initdb as `postgres`), TLS like RDS 15+
//! (`ssl=on` with a local CA made here, `hostssl` only for every role but the superuser the
//! emulator administers it with), start and adoption of a running postmaster.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use deploykit_report::{Event, Reporter};

use crate::parts::{Part, pick_port, port_free, record, wait_healthy};
use crate::procs::{self, Liveness, ProcRecord};
use crate::{LocalError, LocalState, Paths};

/// Adopts a postmaster that runs on our data directory although its pid file was lost.
pub(crate) fn adopt_postmaster(paths: &Paths, state: &mut LocalState) -> Option<ProcRecord> {
    let data = paths.pg.join("data");
    let text = fs::read_to_string(data.join("postmaster.pid")).ok()?;
    let mut lines = text.lines();
    let pid: u32 = lines.next()?.trim().parse().ok()?;
    let port: u16 = lines.nth(2)?.trim().parse().ok()?;
    let rec = ProcRecord::capture(pid, data.display().to_string())?;
    if rec.liveness() != Liveness::Ours {
        return None;
    }
    state.pg.port = port;
    state.pg.database_url = format!("postgresql://postgres@127.0.0.1:{port}/postgres");
    if state.pg.bin_dir.as_os_str().is_empty() {
        state.pg.bin_dir = pg_bin_dir().ok()?;
    }
    Some(rec)
}

// ---------------------------------------------------------------- PostgreSQL

pub(crate) fn pg_bin_dir() -> Result<PathBuf, LocalError> {
    if let Ok(dir) = std::env::var("DEPLOYKIT_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut best: Option<(u32, PathBuf)> = None;
    if let Ok(entries) = fs::read_dir("/usr/lib/postgresql") {
        for e in entries.flatten() {
            let v: Option<u32> = e.file_name().to_str().and_then(|s| s.parse().ok());
            let bin = e.path().join("bin");
            if let Some(v) = v.filter(|_| bin.join("initdb").exists())
                && best.as_ref().is_none_or(|(b, _)| v > *b)
            {
                best = Some((v, bin));
            }
        }
    }
    if let Some((_, bin)) = best {
        return Ok(bin);
    }
    if let Some(initdb) = which("initdb") {
        return Ok(initdb.parent().map(Path::to_path_buf).unwrap_or_default());
    }
    Err(LocalError::Missing {
        what: "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found".into(),
        install: "install them (Debian: `apt-get install -y postgresql-15`) or set DEPLOYKIT_PG_BIN to the directory holding initdb".into(),
    })
}

pub(crate) fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

pub(crate) fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// uid and gid of the `postgres` account (PostgreSQL refuses to run as root).
pub(crate) fn postgres_account() -> Result<(u32, u32), LocalError> {
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.first() == Some(&"postgres"))
                .then(|| Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?)))?
        })
        .ok_or(LocalError::NoPostgresAccount)
}

/// A PostgreSQL tool, run as `postgres` through runuser when we are root.
pub(crate) fn pg_tool(bin: &Path, tool: &str) -> Result<Command, LocalError> {
    if is_root() {
        postgres_account()?;
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(tool));
        Ok(c)
    } else {
        Ok(Command::new(bin.join(tool)))
    }
}

fn chown_tree(path: &Path, uid: u32, gid: u32) -> Result<(), LocalError> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .map_err(|e| LocalError::io(format!("chown {} to postgres", path.display()), e))?;
    if path.is_dir() {
        for e in fs::read_dir(path)
            .map_err(|e| LocalError::io(format!("reading {}", path.display()), e))?
            .flatten()
        {
            if !e.file_type().map(|t| t.is_symlink()).unwrap_or(true) {
                chown_tree(&e.path(), uid, gid)?;
            }
        }
    }
    Ok(())
}

pub(crate) fn start_postgres(
    paths: &Paths,
    state: &mut LocalState,
    r: &dyn Reporter,
) -> Result<(), LocalError> {
    let bin = pg_bin_dir()?;
    state.pg.bin_dir = bin.clone();
    let data = paths.pg.join("data");
    let sock = paths.pg.join("sock");
    let log = paths.log_file("postgres");
    for d in [&paths.pg, &sock] {
        fs::create_dir_all(d)
            .map_err(|e| LocalError::io(format!("creating {}", d.display()), e))?;
    }
    if !log.exists() {
        fs::write(&log, b"")
            .map_err(|e| LocalError::io(format!("creating {}", log.display()), e))?;
    }
    if is_root() {
        let (uid, gid) = postgres_account()?;
        if !data.join("PG_VERSION").exists() {
            chown_tree(&paths.pg, uid, gid)?;
        } else {
            std::os::unix::fs::chown(&sock, Some(uid), Some(gid))
                .map_err(|e| LocalError::io(format!("chown {}", sock.display()), e))?;
        }
        std::os::unix::fs::chown(&log, Some(uid), Some(gid))
            .map_err(|e| LocalError::io(format!("chown {}", log.display()), e))?;
    }
    if !data.join("PG_VERSION").exists() {
        let _ = fs::remove_dir_all(&data);
        r.report(Event::info(format!(
            "creating a PostgreSQL cluster in {} (initdb)",
            data.display()
        )));
        let mut cmd = pg_tool(&bin, "initdb")?;
        cmd.arg("-D").arg(&data).args([
            "-A",
            "trust",
            "--username",
            "postgres",
            "-E",
            "UTF8",
            "--locale",
            "C",
            "--no-sync",
        ]);
        procs::run_logged(
            &mut cmd,
            &paths.log_file("initdb"),
            "initdb (creating the PostgreSQL cluster)",
            Duration::from_secs(120),
            false,
            r,
        )?;
    }
    if !port_free(state.pg.port) {
        let old = state.pg.port;
        state.pg.port = pick_port(0)?;
        r.report(Event::warn(format!(
            "port {old} is taken; PostgreSQL moves to port {}",
            state.pg.port
        )));
    }
    let port = state.pg.port;
    state.pg.database_url = format!("postgresql://postgres@127.0.0.1:{port}/postgres");
    state.pg.data_dir = data.clone();
    state.pg.socket_dir = sock.clone();
    let owner = if is_root() {
        Some(postgres_account()?)
    } else {
        None
    };
    let tls = ensure_tls(paths, owner, r)?;
    write_hba(&data, owner)?;
    state.pg.tls = Some(tls.clone());
    let opts = format!(
        "-p {port} -k '{}' -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c ssl=on -c ssl_cert_file='{}' -c ssl_key_file='{}' -c password_encryption=scram-sha-256",
        sock.display(),
        tls.cert_file.display(),
        tls.key_file.display()
    );
    let mut cmd = pg_tool(&bin, "pg_ctl")?;
    cmd.arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(&log)
        .args(["-w", "-t", "60", "-o", &opts, "start"]);
    procs::run_logged(
        &mut cmd,
        &paths.log_file("pg_ctl"),
        &format!("PostgreSQL to start on 127.0.0.1:{port} (pg_ctl start -w)"),
        Duration::from_secs(75),
        true,
        r,
    )
    .map_err(|e| match e {
        LocalError::CommandFailed {
            what, status, tail, ..
        } => LocalError::CommandFailed {
            what: format!("{what} (the server's own log: {})", log.display()),
            status,
            log: paths.log_file("pg_ctl"),
            tail,
        },
        e => e,
    })?;
    let pidline = fs::read_to_string(data.join("postmaster.pid")).unwrap_or_default();
    let pid: u32 = pidline
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| LocalError::Failed {
            what: format!(
                "PostgreSQL started but {} has no pid",
                data.join("postmaster.pid").display()
            ),
            help: Some(format!("read {}", log.display())),
        })?;
    let rec =
        ProcRecord::capture(pid, data.display().to_string()).ok_or_else(|| LocalError::Exited {
            part: "postgres".into(),
            log: log.clone(),
            tail: procs::tail(&log, 20),
        })?;
    record(paths, state, Part::Postgres, &rec)?;
    wait_healthy(
        Part::Postgres,
        state,
        &rec,
        &log,
        Duration::from_secs(30),
        r,
    )?;
    r.report(Event::info(format!(
        "PostgreSQL {} (pid {pid})",
        state.pg.database_url
    )));
    Ok(())
}

/// `pg_hba.conf`, rewritten at every start: like RDS with `rds.force_ssl=1`, every role
/// connects over TLS with its password (SCRAM); plain TCP is refused. The one exception is the
/// cluster's superuser, which the RDS emulator (the control plane, not an RDS user) and the
/// tests' fixtures use over loopback.
pub(crate) const PG_HBA: &str = "\
# Written by deploykit-local at every start (the local RDS behaves like rds.force_ssl=1).
local     all  all                    trust
host      all  postgres  127.0.0.1/32 trust
host      all  postgres  ::1/128      trust
hostssl   all  all       127.0.0.1/32 scram-sha-256
hostssl   all  all       ::1/128      scram-sha-256
hostnossl all  all       0.0.0.0/0    reject
hostnossl all  all       ::/0         reject
";

fn write_hba(data: &Path, owner: Option<(u32, u32)>) -> Result<(), LocalError> {
    let hba = data.join("pg_hba.conf");
    fs::write(&hba, PG_HBA).map_err(|e| LocalError::io(format!("writing {}", hba.display()), e))?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(&hba, Some(uid), Some(gid))
            .map_err(|e| LocalError::io(format!("chown {}", hba.display()), e))?;
    }
    Ok(())
}

/// The local CA and the server's certificate (for `127.0.0.1` and `localhost`) in
/// `<state dir>/tls/`: made when any file is missing (a new CA each time), kept otherwise.
/// The CA is public (0644, mounted into workload containers); the server key is 0600 and
/// belongs to the user PostgreSQL runs as. The CA's key is never written: nothing else is
/// ever signed with it.
pub(crate) fn ensure_tls(
    paths: &Paths,
    owner: Option<(u32, u32)>,
    r: &dyn Reporter,
) -> Result<crate::PgTls, LocalError> {
    use std::os::unix::fs::PermissionsExt;
    let dir = paths.root.join("tls");
    let tls = crate::PgTls {
        ca_file: dir.join("ca.pem"),
        cert_file: dir.join("server.pem"),
        key_file: dir.join("server.key"),
    };
    let io = |what: String| move |e: std::io::Error| LocalError::io(what, e);
    if [&tls.ca_file, &tls.cert_file, &tls.key_file]
        .iter()
        .all(|f| f.exists())
    {
        return Ok(tls);
    }
    fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))
        .map_err(io(format!("chmod {}", dir.display())))?;
    let (ca_pem, cert_pem, key_pem) = make_certificates().map_err(|e| LocalError::Failed {
        what: format!("making the local cloud's TLS certificates: {e}"),
        help: None,
    })?;
    let write = |path: &Path, text: &str, mode: u32| -> Result<(), LocalError> {
        let tmp = path.with_extension("tmp");
        let _ = fs::remove_file(&tmp);
        let mut o = fs::OpenOptions::new();
        std::os::unix::fs::OpenOptionsExt::mode(o.write(true).create_new(true), mode);
        let mut f = o
            .open(&tmp)
            .map_err(io(format!("creating {}", tmp.display())))?;
        std::io::Write::write_all(&mut f, text.as_bytes())
            .map_err(io(format!("writing {}", tmp.display())))?;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))
            .map_err(io(format!("chmod {}", tmp.display())))?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&tmp, Some(uid), Some(gid))
                .map_err(io(format!("chown {}", tmp.display())))?;
        }
        fs::rename(&tmp, path).map_err(io(format!("renaming to {}", path.display())))
    };
    write(&tls.key_file, &key_pem, 0o600)?;
    write(&tls.cert_file, &cert_pem, 0o644)?;
    write(&tls.ca_file, &ca_pem, 0o644)?;
    r.report(Event::info(format!(
        "made the local cloud's CA ({}) and PostgreSQL's server certificate for 127.0.0.1 and localhost",
        tls.ca_file.display()
    )));
    Ok(tls)
}

/// (CA certificate, server certificate, server key), PEM.
fn make_certificates() -> Result<(String, String, String), rcgen::Error> {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name
        .push(DnType::CommonName, "deploykit local cloud CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let issuer = CertifiedIssuer::self_signed(ca, KeyPair::generate()?)?;
    let mut server =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])?;
    server
        .distinguished_name
        .push(DnType::CommonName, "deploykit local RDS");
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate()?;
    let cert = server.signed_by(&key, &issuer)?;
    Ok((issuer.pem(), cert.pem(), key.serialize_pem()))
}
