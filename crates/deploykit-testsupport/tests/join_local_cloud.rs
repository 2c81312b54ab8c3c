//! Joins the running local cloud (started by `cargo xtask test` or `cargo xtask local up`):
//! S3 through the shared edge reaches moto, a private edge has its own clock, a fresh database
//! is empty and reachable.

use deploykit_testsupport::{local_cloud, unique_name};

#[tokio::test]
async fn s3_through_the_shared_edge_reaches_moto() {
    let cloud = local_cloud().await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&cloud.sdk_config())
            .force_path_style(true)
            .build(),
    );
    let bucket = unique_name("ts-bucket");
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create bucket via the edge");
    let names: Vec<String> = s3
        .list_buckets()
        .send()
        .await
        .expect("list buckets")
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_string))
        .collect();
    assert!(names.contains(&bucket), "{bucket} not in {names:?}");
    s3.delete_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("delete bucket");
}

#[tokio::test]
async fn private_edge_has_its_own_port_and_clock() {
    let cloud = local_cloud().await;
    let edge = cloud.private_edge(|c| c.time_scale = 1234.0).await;
    assert_ne!(edge.url(), cloud.edge_url);
    let health = deploykit_localcloud_admin(&edge.url()).await;
    assert!(
        (health - 1234.0).abs() < 1e-9,
        "private edge time scale {health}"
    );
    // The private edge forwards to the same moto: a bucket made through it is visible.
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&cloud.sdk_config_for(&edge.url()))
            .force_path_style(true)
            .build(),
    );
    let bucket = unique_name("ts-private");
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create bucket via a private edge");
    s3.delete_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("delete bucket");
    edge.shutdown().await;
}

async fn deploykit_localcloud_admin(url: &str) -> f64 {
    let admin = deploykit_testsupport::deploykit_localcloud::AdminClient::new(url).unwrap();
    admin
        .health()
        .await
        .expect("private edge health")
        .time_scale
}

#[tokio::test]
async fn fresh_database_is_empty_and_reachable() {
    let cloud = local_cloud().await;
    let name = unique_name("ts_db");
    let url = cloud.fresh_database(&name).await;
    assert!(url.ends_with(&name.replace('-', "_")), "{url}");
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect to the fresh database");
    let conn = tokio::spawn(conn);
    let count: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    drop(client);
    conn.await.unwrap().unwrap();
    assert_eq!(count, 0);
}
