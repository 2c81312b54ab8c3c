//! The deploy locks on an ECS Express service, against a private in-process edge (its ECS
//! emulator answers TagResource / UntagResource / ListTagsForResource and the tags of
//! CreateExpressGatewayService) with images in the local registry and roles in moto's IAM.
//! Needs the running local cloud and the Docker Engine.
//!
//! Deploys go through `container::ServiceLocks` (what `container::apply_deploy` takes around
//! build, push and deploy), rollbacks through `container::apply_rollback` (what `rollback
//! apprunner|ecs` calls): a first deploy is locked from its create; another machine's fresh
//! lock refuses a deploy and a rollback (CheckFailed, holder and expiry named, nothing
//! changes); force-unlock breaks it with a warning; a running local deploy refuses a rollback;
//! the tags are gone after a deploy and after a rollback, however it ends.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use deploykit::container::{OnPlatform, ServiceLocks, apply_rollback};
use deploykit::remote_lock::{RemoteHolder, TAG_OWNER};
use deploykit_apprunner::{
    Action, ContainerPlatform, EcsExpress, EcsRoles, Probe, ServiceSpec, WaitOptions,
};
use deploykit_report::{Category, Diagnostic, Level, VecReporter};

const WAIT: WaitOptions = WaitOptions {
    poll: Duration::from_millis(100),
    timeout: Duration::from_secs(90),
};
const TTL: Duration = Duration::from_secs(600);
const TARGET: &str = "local";

/// Builds `FROM scratch` + one file with `content`, pushes it as `repo:tag`.
async fn image(sdk: &aws_types::SdkConfig, repo: &str, tag: &str, content: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("app"), content).expect("w");
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY app /app\n",
    )
    .expect("w");
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

fn spec(name: &str, image: &str) -> ServiceSpec {
    ServiceSpec {
        name: name.into(),
        image: image.into(),
        access_role_arn: None,
        instance_role_arn: None,
        port: 8080,
        env: BTreeMap::new(),
        secrets: BTreeMap::new(),
        cpu: "1024".into(),
        memory: "2048".into(),
        health_path: "/healthz".into(),
        min_size: 1,
        max_size: 1,
        vpc: None,
    }
}

/// What `apply_deploy` does around build and push: the locks, the create tags, the deploy,
/// the release.
async fn deploy(
    root: &Path,
    platform: &ContainerPlatform,
    probe: &Probe,
    s: &ServiceSpec,
    force: bool,
    r: &VecReporter,
) -> deploykit::Result<deploykit_apprunner::DeployOutcome> {
    let mut plan = platform.plan(s, false).await.expect("plan");
    let locks = ServiceLocks::acquire(
        root,
        TARGET,
        platform,
        &s.name,
        plan.existing_arn.as_deref(),
        &format!("deploy ecs {}", s.name),
        &s.image,
        TTL,
        force,
        r,
    )
    .await?;
    plan.create_tags = locks.create_tags();
    let out = platform.deploy(&plan, s, WAIT, probe, r).await;
    // Between deploy and release the service carries our lock.
    let held = locks.remote().clone();
    let arn = out.as_ref().map(|o| o.service_arn.clone()).ok();
    if let (ContainerPlatform::EcsExpress(e), Some(arn)) = (platform, arn) {
        let tags = e.list_tags(&s.name, &arn).await.expect("tags");
        assert_eq!(RemoteHolder::from_tags(&tags), Some(held), "{tags:?}");
    }
    locks.release(r).await;
    Ok(out?)
}

async fn rollback(
    root: &Path,
    platform: &ContainerPlatform,
    probe: &Probe,
    s: &ServiceSpec,
    force: bool,
    r: &VecReporter,
) -> deploykit::Result<deploykit_apprunner::DeployOutcome> {
    let plan = platform.plan(s, false).await.expect("plan");
    apply_rollback(
        root,
        TARGET,
        OnPlatform::EcsExpress,
        platform,
        &plan,
        s,
        WAIT,
        probe,
        force,
        r,
    )
    .await
}

fn theirs() -> RemoteHolder {
    RemoteHolder {
        owner: "ci@runner-9".into(),
        expires: "2099-01-01T00:00:00Z".into(),
        what: "deploy ecs from CI".into(),
    }
}

fn assert_refused_by_them(err: &deploykit::Error) {
    assert_eq!(Diagnostic::category(err), Category::CheckFailed, "{err}");
    assert!(
        matches!(err, deploykit::Error::LockedRemote { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("ci@runner-9") && text.contains("2099-01-01T00:00:00Z"),
        "{text}"
    );
    assert!(
        err.help().is_some_and(|h| h.contains("force-unlock")),
        "{err:?}"
    );
}

#[tokio::test]
async fn ecs_deploys_and_rollbacks_take_the_remote_lock() {
    let cloud = deploykit_testsupport::local_cloud().await;
    let edge = cloud.private_edge(|c| c.time_scale = 600.0).await;
    let sdk = cloud.sdk_config_for(&edge.url());
    let name = deploykit_testsupport::unique_name("ecs-lock");
    let ecs = EcsExpress {
        client: aws_sdk_ecs::Client::new(&sdk),
        roles: roles(&sdk, &name).await,
        cluster: None,
    };
    let platform = ContainerPlatform::EcsExpress(ecs.clone());
    let probe = Probe {
        resolve: Some(edge.addr()),
    };
    let root = tempfile::tempdir().expect("tempdir");
    let root = root.path();
    let v1 = image(&sdk, &name, "v1", "one").await;
    let v2 = image(&sdk, &name, "v2", "two").await;
    let running = async || ecs.find(&name).await.expect("find").expect("service");
    let tags_of = async |arn: &str| ecs.list_tags(&name, arn).await.expect("list tags");

    // A first deploy: the lock goes with CreateExpressGatewayService; gone afterwards.
    let r = VecReporter::new();
    let out = deploy(root, &platform, &probe, &spec(&name, &v1), false, &r)
        .await
        .expect("create");
    assert_eq!(out.action, Action::Create);
    let arn = running().await.arn;
    assert!(arn.contains(":service/default/"), "long ARN: {arn}");
    let tags = tags_of(&arn).await;
    assert!(!tags.contains_key(TAG_OWNER), "released: {tags:?}");

    // Another machine's fresh lock: the deploy is refused and nothing changes.
    ecs.tag(&name, &arn, &theirs().tags()).await.expect("tag");
    let err = deploy(root, &platform, &probe, &spec(&name, &v2), false, &r)
        .await
        .expect_err("refused");
    assert_refused_by_them(&err);
    assert_eq!(running().await.image.as_deref(), Some(v1.as_str()));
    assert_eq!(
        RemoteHolder::from_tags(&tags_of(&arn).await),
        Some(theirs())
    );

    // --force-unlock breaks it with a warning; the deploy runs and leaves no lock behind.
    let r = VecReporter::new();
    deploy(root, &platform, &probe, &spec(&name, &v2), true, &r)
        .await
        .expect("forced deploy");
    assert!(
        r.messages(Level::Warn)
            .iter()
            .any(|m| m.contains("breaking") && m.contains("ci@runner-9")),
        "{:?}",
        r.events()
    );
    assert_eq!(running().await.image.as_deref(), Some(v2.as_str()));
    assert!(!tags_of(&arn).await.contains_key(TAG_OWNER));

    // A rollback under another machine's fresh lock is refused the same way.
    ecs.tag(&name, &arn, &theirs().tags()).await.expect("tag");
    let r = VecReporter::new();
    let err = rollback(root, &platform, &probe, &spec(&name, &v1), false, &r)
        .await
        .expect_err("refused");
    assert_refused_by_them(&err);
    assert_eq!(running().await.image.as_deref(), Some(v2.as_str()));
    assert_eq!(
        RemoteHolder::from_tags(&tags_of(&arn).await),
        Some(theirs())
    );

    // A rollback while a deploy runs here (the local lock) is refused before any tag is written.
    ecs.untag(&name, &arn, &deploykit::remote_lock::tag_keys())
        .await
        .expect("untag");
    {
        let _running_deploy = deploykit::lock::acquire(
            root,
            TARGET,
            &name,
            &format!("deploy ecs {name}"),
            false,
            &r,
        )
        .expect("local lock");
        let err = rollback(root, &platform, &probe, &spec(&name, &v1), true, &r)
            .await
            .expect_err("locked here");
        assert!(matches!(err, deploykit::Error::Locked { .. }), "{err:?}");
        assert!(!tags_of(&arn).await.contains_key(TAG_OWNER));
    }

    // With force-unlock the rollback runs, and its lock is gone afterwards.
    ecs.tag(&name, &arn, &theirs().tags()).await.expect("tag");
    let r = VecReporter::new();
    rollback(root, &platform, &probe, &spec(&name, &v1), true, &r)
        .await
        .expect("forced rollback");
    assert_eq!(running().await.image.as_deref(), Some(v1.as_str()));
    assert!(!tags_of(&arn).await.contains_key(TAG_OWNER));

    // A rollback that fails (the image is not in the registry: ECS rolls back) releases too.
    let missing = v1.replace(":v1", ":never-pushed");
    let err = rollback(root, &platform, &probe, &spec(&name, &missing), false, &r)
        .await
        .expect_err("fails");
    assert!(
        matches!(err, deploykit::Error::Platform(_)),
        "a platform failure, not a lock: {err:?}"
    );
    assert_eq!(running().await.image.as_deref(), Some(v1.as_str()));
    assert!(!tags_of(&arn).await.contains_key(TAG_OWNER));
}

#[tokio::test]
async fn the_ecs_emulator_tags_like_ecs() {
    let cloud = deploykit_testsupport::local_cloud().await;
    let edge = cloud.private_edge(|c| c.time_scale = 600.0).await;
    let sdk = cloud.sdk_config_for(&edge.url());
    let name = deploykit_testsupport::unique_name("ecs-tags");
    let ecs = EcsExpress {
        client: aws_sdk_ecs::Client::new(&sdk),
        roles: roles(&sdk, &name).await,
        cluster: None,
    };
    let platform = ContainerPlatform::EcsExpress(ecs.clone());
    let v1 = image(&sdk, &name, "v1", "one").await;
    let mut plan = platform.plan(&spec(&name, &v1), false).await.expect("plan");
    plan.create_tags = BTreeMap::from([("team".to_string(), "web".to_string())]);
    let probe = Probe {
        resolve: Some(edge.addr()),
    };
    let out = platform
        .deploy(&plan, &spec(&name, &v1), WAIT, &probe, &VecReporter::new())
        .await
        .expect("create");
    let arn = out.service_arn;

    // The create's tags, in ListTagsForResource and DescribeExpressGatewayService.
    assert_eq!(
        ecs.list_tags(&name, &arn).await.expect("list"),
        plan.create_tags
    );
    let described = ecs
        .client
        .describe_express_gateway_service()
        .service_arn(&arn)
        .send()
        .await
        .expect("describe");
    let tags = described
        .service()
        .map(|s| s.tags().to_vec())
        .unwrap_or_default();
    assert_eq!(
        tags.iter()
            .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()))
            .collect::<Vec<_>>(),
        [("team", "web")]
    );

    // Tag replaces by key, untag removes only what it names.
    let add = BTreeMap::from([
        ("team".to_string(), "api".to_string()),
        ("deploykit:lock-owner".to_string(), "me@host".to_string()),
    ]);
    ecs.tag(&name, &arn, &add).await.expect("tag");
    assert_eq!(ecs.list_tags(&name, &arn).await.expect("list"), add);
    ecs.untag(
        &name,
        &arn,
        &["deploykit:lock-owner".to_string(), "absent".to_string()],
    )
    .await
    .expect("untag");
    assert_eq!(
        ecs.list_tags(&name, &arn).await.expect("list"),
        BTreeMap::from([("team".to_string(), "api".to_string())])
    );

    // ECS's refusals, by code: reserved keys, too many tags, the short service ARN.
    let code = |e: deploykit_apprunner::AppRunnerError| match e {
        deploykit_apprunner::AppRunnerError::EcsAws { classified, .. } => {
            classified.code.unwrap_or_default()
        }
        other => panic!("{other:?}"),
    };
    let reserved = BTreeMap::from([("aws:owner".to_string(), "x".to_string())]);
    let e = ecs.tag(&name, &arn, &reserved).await.expect_err("aws:");
    assert_eq!(code(e), "InvalidParameterException");
    let many: BTreeMap<String, String> = (0..50).map(|i| (format!("k{i}"), "v".into())).collect();
    let e = ecs.tag(&name, &arn, &many).await.expect_err("51 tags");
    assert_eq!(code(e), "InvalidParameterException");
    let short = arn.replace(":service/default/", ":service/");
    let e = ecs.list_tags(&name, &short).await.expect_err("short ARN");
    assert_eq!(code(e), "InvalidParameterException");
}
