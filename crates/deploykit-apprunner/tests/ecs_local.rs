//! ECS Express Mode through the seam against a private in-process localcloud edge (own clock,
//! own faults), images built by the real Docker Engine and pushed to the real local registry,
//! roles made in moto's IAM by deploykit-iam. Needs the running local cloud.
//!
//! `create_unchanged_update_rollback_and_throttling` runs with simulated workloads (health =
//! image present + secrets resolve + no injected failure); `real_containers_serve_and_a_crash_rolls_back`
//! runs the image for real and checks the endpoint through the edge.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use deploykit_apprunner::{
    Action, AppRunnerError, ContainerPlatform, EcsExpress, EcsRoles, Probe, ServiceSpec,
    WaitOptions,
};
use deploykit_localcloud::AdminClient;
use deploykit_localcloud::admin::{FaultKind, FaultRequest};
use deploykit_report::VecReporter;
use http_body_util::{BodyExt, Empty};

const WAIT: WaitOptions = WaitOptions {
    poll: Duration::from_millis(100),
    timeout: Duration::from_secs(90),
};

/// Builds `FROM scratch` + `files` (+ `CMD` when given), pushes it as `repo:tag`.
async fn image(
    sdk: &aws_types::SdkConfig,
    repo: &str,
    tag: &str,
    files: &[(&str, &Path)],
    extra: &str,
) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut dockerfile = "FROM scratch\n".to_string();
    for (name, src) in files {
        std::fs::copy(src, dir.path().join(name)).expect("copy");
        dockerfile.push_str(&format!("COPY {name} /{name}\n"));
    }
    dockerfile.push_str(extra);
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).expect("w");
    let plan = deploykit_image::plan_context(dir.path(), "Dockerfile", "").expect("plan");
    let hash = deploykit_image::context_hash(&plan).expect("hash");
    let docker = deploykit_image::connect().await.expect("docker");
    let rep = VecReporter::new();
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

/// A file with `content`, for images that only need to differ.
fn content_file(dir: &Path, content: &str) -> std::path::PathBuf {
    let p = dir.join(format!("app-{content}"));
    std::fs::write(&p, content).expect("w");
    p
}

/// The execution and infrastructure roles, made in moto's IAM like `iam ensure --route ecs`.
async fn roles(sdk: &aws_types::SdkConfig, name: &str) -> EcsRoles {
    let iam = deploykit_iam::Iam::new(sdk);
    let app = deploykit_iam::AppRoles {
        app: name.into(),
        ecs_execution_role: Some(format!("{name}-ecs-execution")),
        ecs_infrastructure_role: Some(format!("{name}-ecs-infrastructure")),
        ..Default::default()
    };
    deploykit_iam::ensure(&iam, &app, &VecReporter::new())
        .await
        .expect("iam ensure");
    let arn = |n: String| {
        let iam = iam.clone();
        async move { iam.role_arn(&n).await.expect("get role").expect("role") }
    };
    EcsRoles {
        execution_role_arn: arn(format!("{name}-ecs-execution")).await,
        infrastructure_role_arn: arn(format!("{name}-ecs-infrastructure")).await,
    }
}

fn spec(name: &str, image: String) -> ServiceSpec {
    ServiceSpec {
        name: name.into(),
        image,
        access_role_arn: None,
        instance_role_arn: None,
        port: 8080,
        env: BTreeMap::from([("APP_ENV".to_string(), "test".to_string())]),
        secrets: BTreeMap::new(),
        cpu: "1024".into(),
        memory: "2048".into(),
        health_path: "/healthz".into(),
        min_size: 1,
        max_size: 2,
        vpc: None,
    }
}

fn platform(sdk: &aws_types::SdkConfig, roles: EcsRoles) -> ContainerPlatform {
    ContainerPlatform::EcsExpress(EcsExpress {
        client: aws_sdk_ecs::Client::new(sdk),
        roles,
        cluster: None,
    })
}

async fn deployment_count(sdk: &aws_types::SdkConfig, name: &str) -> usize {
    aws_sdk_ecs::Client::new(sdk)
        .list_service_deployments()
        .service(name)
        .send()
        .await
        .expect("list deployments")
        .service_deployments()
        .len()
}

#[tokio::test]
async fn create_unchanged_update_rollback_and_throttling() {
    let cloud = deploykit_testsupport::local_cloud().await;
    let edge = cloud.private_edge(|c| c.time_scale = 600.0).await;
    let sdk = cloud.sdk_config_for(&edge.url());
    let admin = AdminClient::new(&edge.url()).expect("admin");
    let name = deploykit_testsupport::unique_name("ecs");
    let roles = roles(&sdk, &name).await;
    let platform = platform(&sdk, roles.clone());
    let probe = Probe {
        resolve: Some(edge.addr()),
    };
    let rep = VecReporter::new();
    let dir = tempfile::tempdir().expect("tempdir");

    // Create.
    let v1 = image(
        &sdk,
        &name,
        "v1",
        &[("app", &content_file(dir.path(), "one"))],
        "",
    )
    .await;
    let s1 = spec(&name, v1.clone());
    let plan = platform.plan(&s1, false).await.expect("plan");
    assert_eq!(plan.action, Action::Create);
    let out = platform
        .deploy(&plan, &s1, WAIT, &probe, &rep)
        .await
        .expect("create");
    assert_eq!(
        (out.operation_status.as_str(), out.service_status.as_str()),
        ("SUCCESSFUL", "RUNNING"),
        "{out:?}"
    );
    assert!(out.service_url.contains(".ecs."), "{out:?}");
    assert_eq!(deployment_count(&sdk, &name).await, 1);

    // Unchanged: the same image and configuration sends nothing.
    let plan = platform.plan(&s1, false).await.expect("plan");
    assert_eq!(plan.action, Action::Unchanged);
    let out = platform
        .deploy(&plan, &s1, WAIT, &probe, &rep)
        .await
        .expect("unchanged");
    assert_eq!(out.operation_status, "UNCHANGED");
    assert_eq!(
        deployment_count(&sdk, &name).await,
        1,
        "no deployment started"
    );

    // A configuration change alone is an update.
    let mut s1b = s1.clone();
    s1b.max_size = 3;
    let plan = platform.plan(&s1b, false).await.expect("plan");
    assert!(matches!(plan.action, Action::Update { .. }), "{plan:?}");
    platform
        .deploy(&plan, &s1b, WAIT, &probe, &rep)
        .await
        .expect("config update");

    // Update to a new image.
    let v2 = image(
        &sdk,
        &name,
        "v2",
        &[("app", &content_file(dir.path(), "two"))],
        "",
    )
    .await;
    let mut s2 = spec(&name, v2.clone());
    s2.max_size = 3;
    let plan = platform.plan(&s2, false).await.expect("plan");
    assert_eq!(
        plan.action,
        Action::Update {
            from_image: Some(v1.clone())
        }
    );
    platform
        .deploy(&plan, &s2, WAIT, &probe, &rep)
        .await
        .expect("update");
    let st = platform.status(&name).await.expect("status");
    assert_eq!(
        (st.status.as_str(), st.image.as_deref()),
        ("RUNNING", Some(v2.as_str()))
    );

    // A deploy whose tasks never get healthy: the circuit breaker rolls back, v2 keeps serving.
    admin.fail_next_deploy(&name, 1).await.expect("fault");
    let v3 = image(
        &sdk,
        &name,
        "v3",
        &[("app", &content_file(dir.path(), "three"))],
        "",
    )
    .await;
    let mut s3 = spec(&name, v3);
    s3.max_size = 3;
    let plan = platform.plan(&s3, false).await.expect("plan");
    let err = platform
        .deploy(&plan, &s3, WAIT, &probe, &rep)
        .await
        .expect_err("rolled back");
    assert!(
        matches!(err, AppRunnerError::EcsRolledBack { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("still runs the previous revision")
            && err.to_string().contains(&v2),
        "{err}"
    );
    let st = platform.status(&name).await.expect("status");
    assert_eq!(
        (st.status.as_str(), st.image.as_deref()),
        ("RUNNING", Some(v2.as_str()))
    );
    assert_eq!(st.operations[0].2, "ROLLBACK_SUCCESSFUL", "{st:?}");

    // Throttling on the ECS API converges (SDK retries, and the wait keeps polling).
    admin
        .inject_fault(&FaultRequest::new("ecs", FaultKind::Throttle, 2))
        .await
        .expect("fault");
    let plan = platform
        .plan(&s2, false)
        .await
        .expect("plan under throttling");
    assert_eq!(plan.action, Action::Unchanged);

    // boto3 (the moto venv's, with the Express API) reads what was created.
    let arn = platform
        .status(&name)
        .await
        .expect("status")
        .arn
        .expect("arn");
    // Off the runtime: the edge answering boto3 runs on this test's runtime.
    let url = edge.url();
    let described = tokio::task::spawn_blocking(move || boto3_describe(&url, &arn))
        .await
        .expect("boto3 task");
    assert!(
        described.contains(&format!("{name} ACTIVE")) && described.contains(".ecs."),
        "{described}"
    );

    // AWS's refusals: a role IAM does not know, a bad name; nothing is created.
    let bad = platform_with_missing_role(&sdk, &roles);
    let other = deploykit_testsupport::unique_name("ecs");
    let s = spec(&other, v1.clone());
    let plan = bad.plan(&s, false).await.expect("plan");
    let err = bad
        .deploy(&plan, &s, WAIT, &probe, &rep)
        .await
        .expect_err("unknown role");
    assert!(matches!(err, AppRunnerError::EcsAws { .. }), "{err:?}");
    assert!(err.to_string().contains("ClientException"), "{err}");
    assert_eq!(
        platform.status(&other).await.expect("status").status,
        "NOT_FOUND"
    );
    let err = platform
        .plan(&spec("bad name", v1), false)
        .await
        .expect_err("bad name");
    assert!(matches!(err, AppRunnerError::Invalid { .. }), "{err:?}");
    edge.shutdown().await;
}

/// `describe_express_gateway_service` with boto3 against the edge: "<name> <status> <endpoint>".
fn boto3_describe(edge_url: &str, arn: &str) -> String {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/venvs/moto/bin/python");
    let script = r#"
import sys, boto3
c = boto3.client("ecs", region_name="us-east-1", endpoint_url=sys.argv[1],
                 aws_access_key_id="testing", aws_secret_access_key="testing")
s = c.describe_express_gateway_service(serviceArn=sys.argv[2])["service"]
ep = s["activeConfigurations"][0]["ingressPaths"][0]["endpoint"]
print(s["serviceName"], s["status"]["statusCode"], ep)
"#;
    let out = std::process::Command::new(&python)
        .args(["-c", script, edge_url, arn])
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", python.display()));
    assert!(
        out.status.success(),
        "boto3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn platform_with_missing_role(sdk: &aws_types::SdkConfig, roles: &EcsRoles) -> ContainerPlatform {
    let mut r = roles.clone();
    r.execution_role_arn = r
        .execution_role_arn
        .replace("-ecs-execution", "-no-such-role");
    platform(sdk, r)
}

/// The test server: answers every request with `$BODY`; with `$CRASH` set it exits at once.
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
    for s in l.incoming() {
        let Ok(mut s) = s else { continue };
        let mut buf = [0u8; 8192];
        let _ = s.read(&mut buf);
        let resp = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = s.write_all(resp.as_bytes());
    }
}
"#;

fn server_binary(dir: &Path) -> std::path::PathBuf {
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
}

async fn get(edge: &deploykit_localcloud::Edge, host: &str) -> (u16, String) {
    let client: hyper_util::client::legacy::Client<_, Empty<Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let req = http::Request::get(format!("{}/healthz", edge.url()))
        .header("host", host)
        .body(Empty::new())
        .expect("request");
    let resp = tokio::time::timeout(Duration::from_secs(30), client.request(req))
        .await
        .expect("in time")
        .expect("answer");
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn real_containers_serve_and_a_crash_rolls_back() {
    let cloud = deploykit_testsupport::local_cloud().await;
    let name = deploykit_testsupport::unique_name("ecsw");
    let label = format!("test-{name}");
    let mut wl =
        deploykit_localcloud::WorkloadConfig::new(std::env::temp_dir().join(&label), &label);
    wl.cpus = 0.5;
    wl.memory_mb = 128;
    let edge = cloud
        .private_edge(|c| {
            c.time_scale = 600.0;
            c.workloads = Some(wl);
        })
        .await;
    let sdk = cloud.sdk_config_for(&edge.url());
    let platform = platform(&sdk, roles(&sdk, &name).await);
    let probe = Probe {
        resolve: Some(edge.addr()),
    };
    let rep = VecReporter::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server_binary(dir.path());

    let v1 = image(
        &sdk,
        &name,
        "v1",
        &[("server", &server)],
        "ENV BODY=body-one\nCMD [\"/server\"]\n",
    )
    .await;
    let s1 = spec(&name, v1.clone());
    let plan = platform.plan(&s1, false).await.expect("plan");
    let out = platform
        .deploy(&plan, &s1, WAIT, &probe, &rep)
        .await
        .expect("create");
    let host = out.service_url.clone();
    assert_eq!(get(&edge, &host).await, (200, "body-one".into()));

    // A crashing image: the new task never gets healthy, ECS rolls back, v1 keeps serving.
    let bad = image(
        &sdk,
        &name,
        "crash",
        &[("server", &server)],
        "ENV CRASH=1\nCMD [\"/server\"]\n",
    )
    .await;
    let s2 = spec(&name, bad);
    let plan = platform.plan(&s2, false).await.expect("plan");
    let err = platform
        .deploy(&plan, &s2, WAIT, &probe, &rep)
        .await
        .expect_err("rolled back");
    assert!(
        matches!(err, AppRunnerError::EcsRolledBack { .. }),
        "{err:?}"
    );
    assert_eq!(get(&edge, &host).await, (200, "body-one".into()));
    let st = platform.status(&name).await.expect("status");
    assert_eq!(st.image.as_deref(), Some(v1.as_str()));
    edge.shutdown().await;
}
