//! TLS to the local RDS as to RDS 15+ (`rds.force_ssl=1`): a private PostgreSQL started the
//! way `local up` starts the shared one. A plain connection is refused; a verified one (the
//! local CA, the right host) works; the wrong CA or the wrong host name is refused with an
//! error that names what was trusted and the fix.

use std::time::Duration;

use deploykit_rds::tls::ConnectFailure;
use deploykit_rds::{DbTrust, DbUrl, Rds, RdsError, WaitPolicy};
use deploykit_report::Diagnostic as _;
use secrecy::SecretString;
use tokio_postgres::error::SqlState;

const T: Duration = Duration::from_secs(20);

async fn setup(pg: &deploykit_testsupport::PrivatePostgres) {
    let (client, conn) =
        tokio_postgres::connect(&pg.superuser_url("postgres"), tokio_postgres::NoTls)
            .await
            .expect("the superuser connects over loopback (the emulator's control plane)");
    let conn = tokio::spawn(conn);
    for sql in [
        "CREATE ROLE app LOGIN PASSWORD 'app-pw-1'",
        "CREATE DATABASE appdb OWNER app",
    ] {
        client.batch_execute(sql).await.unwrap();
    }
    drop(client);
    let _ = conn.await;
}

fn cfg(host: &str, port: u16, password: &str) -> tokio_postgres::Config {
    let mut c = tokio_postgres::Config::new();
    c.host(host)
        .port(port)
        .user("app")
        .password(password)
        .dbname("appdb")
        .connect_timeout(T);
    c
}

/// An `Rds` whose AWS client is never called (loopback-only, nothing listening).
fn rds(trust: DbTrust) -> Rds {
    let sdk = deploykit_testsupport::sdk_config_for("http://127.0.0.1:9");
    Rds::new(&sdk, WaitPolicy::default()).with_trust(trust)
}

#[tokio::test]
async fn the_local_rds_refuses_plain_connections_and_verifies_ca_and_host() {
    let pg = deploykit_testsupport::private_postgres();
    setup(&pg).await;
    let port = pg.port();
    let local = DbTrust::local_ca(&pg.tls().ca_file).unwrap();

    // Files: the CA is public, the server key private.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&pg.tls().key_file), 0o600);
    assert_eq!(mode(&pg.tls().ca_file), 0o644);

    // 1. Without TLS: refused by pg_hba (hostnossl ... reject), as RDS with force_ssl refuses.
    let plain = cfg("127.0.0.1", port, "app-pw-1")
        .connect(tokio_postgres::NoTls)
        .await
        .map(|_| ())
        .unwrap_err();
    assert_eq!(
        plain.as_db_error().map(|d| d.code()),
        Some(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION),
        "{plain}"
    );

    // 2. Verified (the local CA; by IP address and by name): works, and the session is TLS.
    for host in ["127.0.0.1", "localhost"] {
        let (client, task) = local
            .connect(&cfg(host, port, "app-pw-1"), T)
            .await
            .unwrap_or_else(|e| panic!("{host}: {e:?}"));
        let ssl: bool = client
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert!(ssl, "{host}: the session is encrypted");
        drop(client);
        task.abort();
    }

    // 3. A wrong password over TLS: refused (SCRAM), not waved through.
    match local.connect(&cfg("127.0.0.1", port, "wrong"), T).await {
        Err(ConnectFailure::Other(e)) => assert!(e.contains("password"), "{e}"),
        other => panic!("expected a refused password, got {:?}", other.map(|_| ())),
    }

    // 4. The wrong CA (a real target's RDS bundle against the local server): refused, and the
    // error names the host, what was trusted (the file) and the fix.
    let url = DbUrl::new(
        "app",
        SecretString::from("app-pw-1"),
        "127.0.0.1",
        port,
        "appdb",
    );
    let err = rds(DbTrust::rds())
        .connect(&url, T)
        .await
        .map(|_| ())
        .unwrap_err();
    let shown = err.to_string();
    assert!(matches!(err, RdsError::Tls { .. }), "{shown}");
    assert!(shown.contains(&format!("127.0.0.1:{port}")), "{shown}");
    assert!(shown.contains("not signed by a CA"), "{shown}");
    assert!(
        shown.contains(deploykit_rds::tls::RDS_CA_BUNDLE_FILE),
        "{shown}"
    );
    let help = err.help().unwrap();
    assert!(help.contains("global-bundle.pem"), "{help}");
    assert_eq!(err.category(), deploykit_report::Category::Input);

    // 5. The wrong host name (the certificate names 127.0.0.1 and localhost): refused.
    let mut wrong_host = cfg("db.wrong.example", port, "app-pw-1");
    wrong_host.hostaddr("127.0.0.1".parse().unwrap());
    match local.connect(&wrong_host, T).await {
        Err(ConnectFailure::Tls(t)) => {
            assert!(
                t.reason.contains("not valid for the host name"),
                "{}",
                t.reason
            );
            assert!(t.fix.contains("endpoint address"), "{}", t.fix);
        }
        other => panic!("expected a host name failure, got {:?}", other.map(|_| ())),
    }

    // 6. Through Rds with the local CA: the same URL connects.
    let (client, task) = rds(local).connect(&url, T).await.unwrap();
    client.batch_execute("SELECT 1").await.unwrap();
    drop(client);
    task.abort();
}
