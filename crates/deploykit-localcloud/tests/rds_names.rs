//! The RDS emulator's names: reserved database and role names are refused with RDS's
//! `InvalidParameterValue` before PostgreSQL is touched, and a real `DROP DATABASE` only ever
//! hits a database the emulator created itself.

use aws_sdk_rds::error::ProvideErrorMetadata;
use deploykit_localcloud::{Edge, EdgeConfig, PostgresConfig};

fn rds(edge: &Edge) -> aws_sdk_rds::Client {
    use aws_sdk_rds::config::{BehaviorVersion, Credentials, Region};
    let conf = aws_sdk_rds::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKID", "dummy", None, None, "rds-names"))
        .endpoint_url(edge.url())
        .build();
    aws_sdk_rds::Client::from_conf(conf)
}

async fn create(
    rds: &aws_sdk_rds::Client,
    id: &str,
    user: &str,
    db: Option<&str>,
) -> Result<(), (String, String)> {
    rds.create_db_instance()
        .db_instance_identifier(id)
        .engine("postgres")
        .db_instance_class("db.t4g.micro")
        .allocated_storage(20)
        .master_username(user)
        .master_user_password("a-long-test-password-1")
        .set_db_name(db.map(str::to_string))
        .backup_retention_period(0)
        .send()
        .await
        .map(drop)
        .map_err(|e| {
            (
                e.code().unwrap_or_default().to_string(),
                e.message().unwrap_or_default().to_string(),
            )
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserved_names_are_refused_before_postgresql_is_touched() {
    // PostgreSQL "runs" on a port nobody listens on: a name that passes the checks reaches it
    // and fails there (InternalFailure), so every InvalidParameterValue below came first.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let edge = Edge::start(EdgeConfig {
        postgres: Some(PostgresConfig {
            host: "127.0.0.1".into(),
            port: dead,
            superuser: "postgres".into(),
            password: None,
        }),
        ..EdgeConfig::default()
    })
    .await
    .unwrap();
    let rds = rds(&edge);
    // (case, MasterUsername, DBName, code, text in the message)
    let cases: &[(&str, &str, Option<&str>, &str, &str)] = &[
        (
            "db-postgres",
            "app",
            Some("postgres"),
            "InvalidParameterValue",
            "DBName postgres cannot be used as it is a reserved word",
        ),
        (
            "db-template0",
            "app",
            Some("template0"),
            "InvalidParameterValue",
            "reserved word",
        ),
        (
            "db-template1",
            "app",
            Some("template1"),
            "InvalidParameterValue",
            "reserved word",
        ),
        (
            "db-TEMPLATE1",
            "app",
            Some("TEMPLATE1"),
            "InvalidParameterValue",
            "reserved word",
        ),
        (
            "db-rdsadmin",
            "app",
            Some("rdsadmin"),
            "InvalidParameterValue",
            "reserved word",
        ),
        (
            "db-injection",
            "app",
            Some("x\"; DROP DATABASE postgres; --"),
            "InvalidParameterValue",
            "must begin with a letter",
        ),
        (
            "db-too-long",
            "app",
            Some(&"d".repeat(64)),
            "InvalidParameterValue",
            "1 to 63",
        ),
        (
            "user-postgres",
            "postgres",
            Some("shop"),
            "InvalidParameterValue",
            "MasterUsername postgres cannot be used",
        ),
        (
            "user-rdsadmin",
            "rdsadmin",
            Some("shop"),
            "InvalidParameterValue",
            "reserved word",
        ),
        (
            "user-rds_superuser",
            "rds_superuser",
            Some("shop"),
            "InvalidParameterValue",
            "reserved word",
        ),
        (
            "user-rds-prefix",
            "rdsuser",
            Some("shop"),
            "InvalidParameterValue",
            "reserved word",
        ),
        (
            "user-pg_monitor",
            "pg_monitor",
            Some("shop"),
            "InvalidParameterValue",
            "reserved word",
        ),
        (
            "user-pg-prefix",
            "pg_app",
            Some("shop"),
            "InvalidParameterValue",
            "reserved word",
        ),
        (
            "user-admin",
            "admin",
            Some("shop"),
            "InvalidParameterValue",
            "reserved word",
        ),
        (
            "user-public",
            "public",
            Some("shop"),
            "InvalidParameterValue",
            "reserved word",
        ),
        (
            "user-quote",
            "a\"b",
            Some("shop"),
            "InvalidParameterValue",
            "must begin with a letter",
        ),
        (
            "valid-names-reach-postgresql",
            "shop_owner",
            Some("shop"),
            "InternalFailure",
            "PostgreSQL",
        ),
        (
            "no-dbname-reaches-postgresql",
            "shop_owner",
            None,
            "InternalFailure",
            "PostgreSQL",
        ),
    ];
    let mut failures = Vec::new();
    for (i, (name, user, db, code, text)) in cases.iter().enumerate() {
        match create(&rds, &format!("names-{i}"), user, *db).await {
            Err((c, m)) if c == *code && m.contains(text) => {}
            got => failures.push(format!("{name}: {got:?}, want {code} with {text:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    edge.shutdown().await;
}

async fn exists(pg: &tokio_postgres::Client, db: &str) -> bool {
    pg.query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&db])
        .await
        .unwrap()
        .is_some()
}

/// Uses the shared local cloud's PostgreSQL (deploykit-testsupport) through a private edge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_database_only_touches_databases_the_emulator_created() {
    let cloud = deploykit_testsupport::local_cloud().await;
    let pg_cfg = PostgresConfig {
        host: cloud.pg.host.clone(),
        port: cloud.pg.port,
        superuser: cloud.pg.superuser.clone(),
        password: None,
    };
    let edge = cloud
        .private_edge(|c| {
            c.postgres = Some(pg_cfg.clone());
            c.time_scale = 10_000.0;
        })
        .await;
    let rds = rds(&edge);
    let (pg, conn) =
        tokio_postgres::connect(&cloud.database_url_for("postgres"), tokio_postgres::NoTls)
            .await
            .expect("the shared cluster");
    tokio::spawn(conn);

    let base = deploykit_testsupport::unique_name("own").replace('-', "_");
    let foreign = format!("{base}_theirs");
    let ours = format!("{base}_ours");
    cloud.fresh_database(&foreign).await;

    // A database someone else made is used, but not dropped with the instance.
    create(
        &rds,
        &format!("{}-a", base.replace('_', "-")),
        "owner_a",
        Some(&foreign),
    )
    .await
    .expect("an instance on an existing database");
    // One the emulator makes is.
    create(
        &rds,
        &format!("{}-b", base.replace('_', "-")),
        "owner_b",
        Some(&ours),
    )
    .await
    .expect("an instance on a new database");
    assert!(exists(&pg, &ours).await);
    // Two instances never share one database (deleting one would drop the other's data).
    let (code, msg) = create(
        &rds,
        &format!("{}-c", base.replace('_', "-")),
        "owner_c",
        Some(&ours),
    )
    .await
    .expect_err("a second instance on the same database");
    assert_eq!(code, "InvalidParameterCombination", "{msg}");

    for (suffix, db, kept) in [("a", &foreign, true), ("b", &ours, false)] {
        rds.delete_db_instance()
            .db_instance_identifier(format!("{}-{suffix}", base.replace('_', "-")))
            .skip_final_snapshot(true)
            .send()
            .await
            .unwrap_or_else(|e| panic!("delete {suffix}: {e:?}"));
        assert_eq!(exists(&pg, db).await, kept, "{db}");
    }
    pg.batch_execute(&format!(
        "DROP DATABASE IF EXISTS \"{foreign}\" WITH (FORCE)"
    ))
    .await
    .unwrap();
    edge.shutdown().await;
}
