//! App Runner: an operation that SUCCEEDS but whose app then fails the HTTP health check at
//! its URL is rolled back (UpdateService with the previous image, waited for), and the service
//! is asked what it runs before that is reported; the URL answers the old app again. A private
//! in-process edge (its `unhealthy-image` fault: the app of an image answers 500 while App
//! Runner's own check passes), real images in the local registry.

use std::collections::BTreeMap;
use std::time::Duration;

use deploykit_apprunner::tags;
use deploykit_apprunner::{
    Action, AppRunnerError, ContainerPlatform, Probe, ServiceSpec, WaitOptions,
};
use deploykit_localcloud::AdminClient;
use deploykit_report::{Category, Diagnostic, Level, VecReporter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: WaitOptions = WaitOptions {
    poll: Duration::from_millis(100),
    timeout: Duration::from_secs(8),
};

/// Builds a FROM scratch image whose content is `content`, pushes it as `repo:tag`, returns the
/// image identifier App Runner is given.
async fn image(sdk: &aws_types::SdkConfig, repo: &str, tag: &str, content: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY app /app\n",
    )
    .expect("w");
    std::fs::write(dir.path().join("app"), content).expect("w");
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
    let ecr = aws_sdk_ecr::Client::new(sdk);
    let auth = deploykit_ecr::AuthCache::new(ecr)
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

fn spec(name: &str, image: String) -> ServiceSpec {
    ServiceSpec {
        name: name.into(),
        image,
        access_role_arn: Some("arn:aws:iam::000000000000:role/AppRunnerECRAccess".into()),
        instance_role_arn: None,
        port: 8080,
        env: BTreeMap::from([("APP_ENV".to_string(), "test".to_string())]),
        secrets: BTreeMap::new(),
        cpu: "1 vCPU".into(),
        memory: "2 GB".into(),
        health_path: "/healthz".into(),
        min_size: 1,
        max_size: 2,
        vpc: None,
    }
}

/// GET `path` on the service host through the edge: (status line, the image header).
async fn get(edge: std::net::SocketAddr, host: &str, path: &str) -> (String, Option<String>) {
    let mut s = tokio::net::TcpStream::connect(edge).await.expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("read");
    let status = out.lines().next().unwrap_or_default().to_string();
    let image = out
        .lines()
        .find_map(|l| l.strip_prefix("x-localcloud-image: "))
        .map(|v| v.trim().to_string());
    (status, image)
}

#[tokio::test]
async fn health_failure_after_succeeded_redeploys_the_previous_image() {
    let cloud = deploykit_testsupport::local_cloud().await;
    let edge = cloud.private_edge(|c| c.time_scale = 600.0).await;
    let sdk = cloud.sdk_config_for(&edge.url());
    let admin = AdminClient::new(&edge.url()).expect("admin");
    let platform = ContainerPlatform::AppRunner(aws_sdk_apprunner::Client::new(&sdk));
    let name = deploykit_testsupport::unique_name("arh");
    let probe = Probe {
        resolve: Some(edge.addr()),
    };

    let v1 = image(&sdk, &name, "v1", "one").await;
    let s1 = spec(&name, v1.clone());
    let mut plan = platform.plan(&s1, false).await.expect("plan");
    // The caller's lock tags go with CreateService.
    let lock = BTreeMap::from([("deploykit:lock-owner".to_string(), "me@laptop".to_string())]);
    plan.create_tags = lock.clone();
    let out = platform
        .deploy(&plan, &s1, WAIT, &probe, &VecReporter::new())
        .await
        .expect("create");
    let host = out.service_url.clone();
    let client = aws_sdk_apprunner::Client::new(&sdk);
    let arn = out.service_arn.clone();
    assert_eq!(
        tags::list_tags(&client, &name, &arn).await.expect("list"),
        lock
    );
    let theirs = BTreeMap::from([("deploykit:lock-owner".to_string(), "ci@runner".to_string())]);
    tags::tag(&client, &name, &arn, &theirs).await.expect("tag");
    assert_eq!(
        tags::list_tags(&client, &name, &arn).await.expect("list"),
        theirs
    );
    tags::untag(&client, &name, &arn, &["deploykit:lock-owner".to_string()])
        .await
        .expect("untag");
    assert!(
        tags::list_tags(&client, &name, &arn)
            .await
            .expect("list")
            .is_empty()
    );
    // The service's errors, by code.
    let bad = BTreeMap::from([("aws:x".to_string(), "v".to_string())]);
    let e = tags::tag(&client, &name, &arn, &bad)
        .await
        .expect_err("reserved");
    assert_eq!(
        e.aws_kind(),
        Some(deploykit_aws::ErrorKind::Validation),
        "{e}"
    );
    let gone = format!("{arn}x");
    let e = tags::list_tags(&client, &name, &gone)
        .await
        .expect_err("unknown");
    assert_eq!(
        e.aws_kind(),
        Some(deploykit_aws::ErrorKind::NotFound),
        "{e}"
    );

    // v2 deploys fine as far as App Runner can tell, but its app answers 500.
    let v2 = image(&sdk, &name, "v2", "two").await;
    admin.unhealthy_image(&v2).await.expect("fault");
    let s2 = spec(&name, v2.clone());
    let plan = platform.plan(&s2, false).await.expect("plan");
    assert!(matches!(plan.action, Action::Update { .. }), "{plan:?}");
    let rep = VecReporter::new();
    let err = platform
        .deploy(&plan, &s2, WAIT, &probe, &rep)
        .await
        .expect_err("unhealthy");
    assert_eq!(Diagnostic::category(&err), Category::RolledBack, "{err}");
    match &err {
        AppRunnerError::HealthRolledBack {
            image, previous, ..
        } => assert_eq!((image, previous), (&v2, &v1)),
        other => panic!("{other}"),
    }
    assert!(
        rep.messages(Level::Warn)
            .iter()
            .any(|m| m.contains("rolling") && m.contains(&v1)),
        "{:?}",
        rep.events()
    );
    // What the service says it runs, and what its URL answers: the old app.
    let st = platform.status(&name).await.expect("status");
    assert_eq!(st.image.as_deref(), Some(v1.as_str()), "{st:?}");
    let (status, served) = get(edge.addr(), &host, "/healthz").await;
    assert!(status.contains(" 200 "), "{status}");
    assert_eq!(served.as_deref(), Some(v1.as_str()));

    // First deploy of a broken image (nothing earlier): not rolled back, CheckFailed.
    let other = deploykit_testsupport::unique_name("arh");
    let v9 = image(&sdk, &other, "v9", "nine").await;
    admin.unhealthy_image(&v9).await.expect("fault");
    let s9 = spec(&other, v9);
    let plan = platform.plan(&s9, false).await.expect("plan");
    let err = platform
        .deploy(&plan, &s9, WAIT, &probe, &VecReporter::new())
        .await
        .expect_err("unhealthy");
    assert!(matches!(err, AppRunnerError::Unhealthy { .. }), "{err}");
    assert_eq!(Diagnostic::category(&err), Category::CheckFailed);
}
