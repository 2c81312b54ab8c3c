//! Real workloads: App Runner services run their image in a Docker container behind a private
//! edge with `workloads: Some(..)`. Each test builds its own FROM-scratch image around a tiny
//! statically linked HTTP server compiled by the test (no image is pulled from anywhere), pushes
//! it to the shared local registry and deploys it. Needs the running local cloud and Docker.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use deploykit_localcloud::Edge;
use deploykit_localcloud::workload::{
    LABEL, LABEL_INSTANCE, LABEL_KIND, LABEL_OWNER, WorkloadConfig, WorkloadSpec, Workloads,
};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// The test server: answers every request with `$BODY` (and an `x-app` header); with `$CRASH`
/// set it prints a line and exits 3 at once.
const SERVER_RS: &str = r#"
use std::io::{Read, Write};
fn main() {
    if std::env::var_os("CRASH").is_some() {
        eprintln!("boom: refusing to start");
        std::process::exit(3);
    }
    let port = std::env::var("PORT").expect("PORT");
    let body = std::env::var("BODY").unwrap_or_else(|_| "hello".into());
    let l = std::net::TcpListener::bind(format!("0.0.0.0:{port}")).expect("bind");
    println!("listening on {port}");
    for s in l.incoming() {
        let Ok(mut s) = s else { continue };
        let mut buf = [0u8; 8192];
        let n = s.read(&mut buf).unwrap_or(0);
        let req = String::from_utf8_lossy(&buf[..n]);
        let line = req.lines().next().unwrap_or("").to_string();
        println!("request {line}");
        let fwd = req
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("x-forwarded-host:"))
            .map(|l| l[17..].trim().to_string())
            .unwrap_or_default();
        let resp = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-app: {body}\r\nx-seen-forwarded-host: {fwd}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = s.write_all(resp.as_bytes());
    }
}
"#;

/// Compiles the server once per test process; returns its path.
fn server_binary() -> &'static Path {
    static BIN: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("dk-workload-server-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let src = dir.join("server.rs");
        std::fs::write(&src, SERVER_RS).expect("write server.rs");
        let out = dir.join("server");
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
        let status = std::process::Command::new(rustc)
            .args([
                "--edition",
                "2021",
                "-O",
                "-C",
                "target-feature=+crt-static",
                "-o",
            ])
            .arg(&out)
            .arg(&src)
            .status()
            .expect("run rustc");
        assert!(status.success(), "compiling the static test server failed");
        out
    })
}

/// Builds `FROM scratch` + the server + `env`, pushes it as `repo:tag`; returns the image id.
async fn image(sdk: &aws_types::SdkConfig, repo: &str, tag: &str, env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut dockerfile = "FROM scratch\nCOPY server /server\n".to_string();
    for (k, v) in env {
        dockerfile.push_str(&format!("ENV {k}={v}\n"));
    }
    dockerfile.push_str("CMD [\"/server\"]\n");
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).expect("w");
    std::fs::copy(server_binary(), dir.path().join("server")).expect("copy server");
    let plan = deploykit_image::plan_context(dir.path(), "Dockerfile", "").expect("plan");
    let hash = deploykit_image::context_hash(&plan).expect("hash");
    let docker = deploykit_image::connect().await.expect("docker");
    let rep = deploykit_report::VecReporter::new();
    let local = format!("{repo}:{tag}");
    let input = deploykit_image::BuildInput {
        tags: vec![local.clone()],
        build_args: BTreeMap::new(),
        labels: BTreeMap::new(),
        content_hash: hash,
        git_sha: None,
        platform: "linux/amd64".into(),
        no_cache: false,
        timeout: Duration::from_secs(120),
    };
    deploykit_image::build(&docker, &plan, &input, &rep)
        .await
        .expect("build");
    let auth = deploykit_ecr::AuthCache::new(aws_sdk_ecr::Client::new(sdk))
        .get()
        .await
        .expect("token");
    deploykit_ecr::push(
        &docker,
        &auth,
        &local,
        repo,
        &[tag.to_string()],
        Duration::from_secs(120),
        &rep,
    )
    .await
    .expect("push");
    format!("{}/{repo}:{tag}", auth.host())
}

fn workload_config(label: &str) -> WorkloadConfig {
    let mut cfg = WorkloadConfig::new(std::env::temp_dir().join(label), label);
    cfg.cpus = 0.5;
    cfg.memory_mb = 128;
    cfg
}

async fn edge_with_workloads(cloud: &deploykit_testsupport::LocalCloud, label: &str) -> Edge {
    let cfg = workload_config(label);
    cloud
        .private_edge(|c| {
            c.time_scale = 600.0;
            c.workloads = Some(cfg);
        })
        .await
}

/// GET through the edge with the app's Host header: (status, x-app header, body).
async fn get_app(edge: &Edge, host: &str) -> (u16, String, String, String) {
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let req = http::Request::get(format!("{}/healthz", edge.url()))
        .header("host", host)
        .body(Empty::new())
        .expect("request");
    let resp = tokio::time::timeout(Duration::from_secs(30), client.request(req))
        .await
        .expect("edge answered in time")
        .expect("edge answered");
    let status = resp.status().as_u16();
    let header = |n: &str| {
        resp.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (app, fwd) = (header("x-app"), header("x-seen-forwarded-host"));
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        app,
        fwd,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

async fn wait_operation(
    ar: &aws_sdk_apprunner::Client,
    arn: &str,
    op_id: &str,
) -> (String, String) {
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let ops = ar
            .list_operations()
            .service_arn(arn)
            .send()
            .await
            .expect("list operations");
        let op = ops
            .operation_summary_list()
            .iter()
            .find(|o| o.id() == Some(op_id))
            .expect("operation listed");
        let status = op
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default();
        if [
            "SUCCEEDED",
            "FAILED",
            "ROLLBACK_SUCCEEDED",
            "ROLLBACK_FAILED",
        ]
        .contains(&status.as_str())
        {
            let svc = ar
                .describe_service()
                .service_arn(arn)
                .send()
                .await
                .expect("describe");
            let s = svc
                .service()
                .map(|s| s.status().as_str().to_string())
                .unwrap_or_default();
            return (status, s);
        }
        assert!(
            Instant::now() < until,
            "operation {op_id} still {status} after 120 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every message in a CloudWatch Logs group in moto (FilterLogEvents, raw JSON 1.1).
async fn log_messages(moto_url: &str, group: &str) -> Vec<String> {
    let client: Client<_, http_body_util::Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let body = serde_json::json!({ "logGroupName": group }).to_string();
    let req = http::Request::post(format!("{moto_url}/"))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "Logs_20140328.FilterLogEvents")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/logs/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body(http_body_util::Full::new(Bytes::from(body)))
        .expect("request");
    let Ok(resp) = client.request(req).await else {
        return Vec::new();
    };
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    v["events"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["message"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn source(image: &str) -> aws_sdk_apprunner::types::SourceConfiguration {
    use aws_sdk_apprunner::types::*;
    SourceConfiguration::builder()
        .image_repository(
            ImageRepository::builder()
                .image_identifier(image)
                .image_repository_type(ImageRepositoryType::Ecr)
                .image_configuration(
                    ImageConfiguration::builder()
                        .port("8080")
                        .runtime_environment_variables("APP_ENV", "test")
                        .build(),
                )
                .build()
                .expect("image repository"),
        )
        .authentication_configuration(
            AuthenticationConfiguration::builder()
                .access_role_arn("arn:aws:iam::000000000000:role/AppRunnerECRAccess")
                .build(),
        )
        .auto_deployments_enabled(false)
        .build()
}

#[tokio::test]
async fn apprunner_runs_the_image_and_rolls_back_a_crashing_update() {
    use aws_sdk_apprunner::types::{HealthCheckConfiguration, HealthCheckProtocol};
    let cloud = deploykit_testsupport::local_cloud().await;
    let name = deploykit_testsupport::unique_name("wl");
    let label = format!("test-{name}");
    let edge = edge_with_workloads(&cloud, &label).await;
    let sdk = cloud.sdk_config_for(&edge.url());
    let ar = aws_sdk_apprunner::Client::new(&sdk);

    let v1 = image(&sdk, &name, "v1", &[("BODY", "body-one")]).await;
    let created = ar
        .create_service()
        .service_name(&name)
        .source_configuration(source(&v1))
        .health_check_configuration(
            HealthCheckConfiguration::builder()
                .protocol(HealthCheckProtocol::Http)
                .path("/healthz")
                .build(),
        )
        .send()
        .await
        .expect("create service");
    let svc = created.service().expect("service");
    let arn = svc.service_arn().to_string();
    let host = svc.service_url().expect("url").to_string();
    let (op, status) = wait_operation(&ar, &arn, created.operation_id()).await;
    assert_eq!((op.as_str(), status.as_str()), ("SUCCEEDED", "RUNNING"));

    // The URL serves the container's answer, through the edge.
    let (code, app, fwd, body) = get_app(&edge, &host).await;
    assert_eq!(
        (code, app.as_str(), body.as_str()),
        (200, "body-one", "body-one")
    );
    assert!(fwd.starts_with(&host), "X-Forwarded-Host was {fwd:?}");

    // Its stdout reaches CloudWatch Logs under App Runner's application group.
    let group = format!("/aws/apprunner/{name}/{}/application", svc.service_id());
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let messages = log_messages(&cloud.moto_url, &group).await;
        if messages.iter().any(|m| m.contains("request GET /healthz")) {
            break;
        }
        assert!(
            Instant::now() < until,
            "no app log lines in {group}: {messages:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // The container carries the labels and limits.
    let docker = bollard::Docker::connect_with_defaults().expect("docker");
    let filters = HashMap::from([(
        "label".to_string(),
        vec![format!("{LABEL_INSTANCE}={label}")],
    )]);
    let list = docker
        .list_containers(Some(bollard::query_parameters::ListContainersOptions {
            all: true,
            filters: Some(filters.clone()),
            ..Default::default()
        }))
        .await
        .expect("list");
    assert_eq!(list.len(), 1, "one container for the service: {list:?}");
    let id = list[0].id.clone().expect("id");
    let info = docker
        .inspect_container(
            &id,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await
        .expect("inspect");
    let labels = info
        .config
        .as_ref()
        .and_then(|c| c.labels.clone())
        .unwrap_or_default();
    assert_eq!(labels.get(LABEL).map(String::as_str), Some("1"));
    assert_eq!(
        labels.get(LABEL_KIND).map(String::as_str),
        Some("apprunner")
    );
    assert_eq!(
        labels.get(LABEL_OWNER).map(String::as_str),
        Some(name.as_str())
    );
    let hc = info.host_config.expect("host config");
    assert_eq!(hc.network_mode.as_deref(), Some("host"));
    assert_eq!(hc.nano_cpus, Some(500_000_000));
    assert_eq!(hc.memory, Some(128 * 1024 * 1024));
    let env = info.config.and_then(|c| c.env).unwrap_or_default();
    assert!(env.iter().any(|e| e == "APP_ENV=test"), "{env:?}");
    assert!(env.iter().any(|e| e.starts_with("PORT=")), "{env:?}");

    // An update to an image that exits at once rolls back; the old container keeps serving.
    let bad = image(&sdk, &name, "crash", &[("CRASH", "1")]).await;
    let updated = ar
        .update_service()
        .service_arn(&arn)
        .source_configuration(source(&bad))
        .send()
        .await
        .expect("update service");
    let (op, status) = wait_operation(&ar, &arn, updated.operation_id()).await;
    assert_eq!(
        (op.as_str(), status.as_str()),
        ("ROLLBACK_SUCCEEDED", "RUNNING")
    );
    let (code, app, _, body) = get_app(&edge, &host).await;
    assert_eq!(
        (code, app.as_str(), body.as_str()),
        (200, "body-one", "body-one")
    );
    let described = ar
        .describe_service()
        .service_arn(&arn)
        .send()
        .await
        .expect("describe");
    let live_image = described
        .service()
        .and_then(|s| s.source_configuration())
        .and_then(|s| s.image_repository())
        .map(|r| r.image_identifier().to_string());
    assert_eq!(
        live_image.as_deref(),
        Some(v1.as_str()),
        "the old image stays live"
    );

    // A good update switches the route and stops the old container.
    let v2 = image(&sdk, &name, "v2", &[("BODY", "body-two")]).await;
    let updated = ar
        .update_service()
        .service_arn(&arn)
        .source_configuration(source(&v2))
        .send()
        .await
        .expect("update service");
    let (op, status) = wait_operation(&ar, &arn, updated.operation_id()).await;
    assert_eq!((op.as_str(), status.as_str()), ("SUCCEEDED", "RUNNING"));
    let (code, app, _, _) = get_app(&edge, &host).await;
    assert_eq!((code, app.as_str()), (200, "body-two"));
    let workloads = Workloads::connect(workload_config(&label))
        .await
        .expect("connect");
    let running = workloads.list().await.expect("list");
    assert_eq!(
        running.len(),
        1,
        "the previous container is gone: {running:?}"
    );
    assert_ne!(running[0].id, id);

    // Pause stops the container; the URL answers 502 from the edge, not the app.
    let paused = ar
        .pause_service()
        .service_arn(&arn)
        .send()
        .await
        .expect("pause");
    let op_id = paused.operation_id().expect("op id").to_string();
    let (op, status) = wait_operation(&ar, &arn, &op_id).await;
    assert_eq!((op.as_str(), status.as_str()), ("SUCCEEDED", "PAUSED"));
    let (code, app, _, _) = get_app(&edge, &host).await;
    assert_eq!((code, app.as_str()), (502, ""));

    edge.shutdown().await;
    let left = workloads.list().await.expect("list");
    assert!(
        left.is_empty(),
        "the edge's shutdown removes its containers: {left:?}"
    );
}

#[tokio::test]
async fn runtime_starts_waits_and_removes_all_by_label() {
    let cloud = deploykit_testsupport::local_cloud().await;
    let name = deploykit_testsupport::unique_name("wr");
    let label = format!("test-{name}");
    let edge = cloud.private_edge(|c| c.time_scale = 600.0).await;
    let sdk = cloud.sdk_config_for(&edge.url());
    let good = image(&sdk, &name, "ok", &[("BODY", "fine")]).await;
    let crash = image(&sdk, &name, "crash", &[("CRASH", "1")]).await;
    let w = Workloads::connect(workload_config(&label))
        .await
        .expect("connect");
    let registry = cloud.registry.config();
    let spec = |image: &str, owner: &str| WorkloadSpec {
        kind: "eb",
        owner: owner.to_string(),
        image: image.to_string(),
        cmd: None,
        env: vec![("EXTRA".into(), "1".into())],
        mounts: Vec::new(),
        workdir: None,
        registry_auth: Some((registry.username.clone(), registry.password.clone())),
    };

    let a = w.start(&spec(&good, "env-a")).await.expect("start a");
    let b = w.start(&spec(&good, "env-b")).await.expect("start b");
    assert_ne!(a.port, b.port, "each workload gets its own port");
    assert_eq!(
        w.wait_healthy(&a, "/healthz", Duration::from_secs(30))
            .await
            .expect("healthy"),
        200
    );
    let (code, out) = w
        .exec(
            &b.id,
            vec!["/server".into()],
            vec![("CRASH".into(), "1".into())],
        )
        .await
        .expect("exec");
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("boom"), "{out}");

    let c = w.start(&spec(&crash, "env-c")).await.expect("start c");
    match w.wait_healthy(&c, "/", Duration::from_secs(30)).await {
        Err(deploykit_localcloud::workload::WorkloadError::Exited { code, log_tail }) => {
            assert_eq!(code, 3);
            assert!(log_tail.contains("boom"), "{log_tail}");
        }
        other => panic!("expected Exited, got {other:?}"),
    }
    assert!(
        w.log_tail(&a.id, 5)
            .await
            .expect("logs")
            .contains("listening")
    );

    assert_eq!(w.list().await.expect("list").len(), 3);
    assert_eq!(w.remove_all().await.expect("remove all"), 3);
    assert!(w.list().await.expect("list").is_empty());
    w.stop(&a.id).await.expect("stop is idempotent");
    edge.shutdown().await;
}
