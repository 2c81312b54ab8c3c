//! Manual rollback on ECS Express against a private in-process localcloud edge: images built
//! by the real Docker Engine and pushed to the real local registry (ECR `DescribeImages` is
//! answered from it), deploy A then B, plan the rollback from ECR and deploy it through the
//! seam: A runs again. Needs the running local cloud.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use deploykit_apprunner::rollback::{list_images, plan_rollback, previous_image};
use deploykit_apprunner::{
    Action, AppRunnerError, ContainerPlatform, EcsExpress, EcsRoles, Probe, ServiceSpec,
    WaitOptions,
};
use deploykit_report::VecReporter;

const WAIT: WaitOptions = WaitOptions {
    poll: Duration::from_millis(100),
    timeout: Duration::from_secs(90),
};

/// Builds `FROM scratch` + one file with `content`, pushes it as `repo:tag`; returns the reference.
async fn image(
    sdk: &aws_types::SdkConfig,
    repo: &str,
    tag: &str,
    dir: &Path,
    content: &str,
) -> String {
    let ctx = dir.join(tag);
    std::fs::create_dir_all(&ctx).expect("mkdir");
    std::fs::write(ctx.join("app"), content).expect("w");
    std::fs::write(ctx.join("Dockerfile"), "FROM scratch\nCOPY app /app\n").expect("w");
    let plan = deploykit_image::plan_context(&ctx, "Dockerfile", "").expect("plan");
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

#[tokio::test]
async fn ecs_deploy_a_then_b_roll_back_runs_a() {
    let cloud = deploykit_testsupport::local_cloud().await;
    let edge = cloud.private_edge(|c| c.time_scale = 600.0).await;
    let sdk = cloud.sdk_config_for(&edge.url());
    let name = deploykit_testsupport::unique_name("rb");
    let platform = ContainerPlatform::EcsExpress(EcsExpress {
        client: aws_sdk_ecs::Client::new(&sdk),
        roles: roles(&sdk, &name).await,
        cluster: None,
    });
    let probe = Probe {
        resolve: Some(edge.addr()),
    };
    let rep = VecReporter::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let ecr = aws_sdk_ecr::Client::new(&sdk);

    // Nothing pushed yet: the repository does not exist, an ECR error (not a panic).
    let err = list_images(&ecr, &name).await.expect_err("no repository");
    assert!(matches!(err, AppRunnerError::Ecr { .. }), "{err:?}");

    let a = image(&sdk, &name, "a", dir.path(), "version A").await;
    // Distinct config `created` times (the local imagePushedAt), at one-second resolution too.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let b = image(&sdk, &name, "b", dir.path(), "version B").await;
    for img in [&a, &b] {
        let s = spec(&name, img.clone());
        let plan = platform.plan(&s, false).await.expect("plan");
        platform
            .deploy(&plan, &s, WAIT, &probe, &rep)
            .await
            .expect("deploy");
    }
    let running = platform.status(&name).await.expect("status").image;
    assert_eq!(running.as_deref(), Some(b.as_str()));

    let images = list_images(&ecr, &name).await.expect("describe images");
    assert_eq!(images.len(), 2, "{images:?}");
    let prev = previous_image(&images, &name, &b).expect("previous");
    assert_eq!(prev.tags, vec!["a".to_string()]);

    let host = b.split('/').next().expect("host");
    let rb = plan_rollback(&name, &name, host, &images, running.as_deref(), None).expect("plan");
    assert_eq!((rb.from.as_str(), rb.to.as_str()), (b.as_str(), a.as_str()));
    // A rollback from A has nothing earlier: refused, nothing changed.
    let none = plan_rollback(&name, &name, host, &images, Some(&a), None).expect_err("refused");
    assert!(
        matches!(none, AppRunnerError::NoRollbackTarget { .. }),
        "{none:?}"
    );
    // --to a tag that is not there: refused.
    let bad = plan_rollback(&name, &name, host, &images, Some(&b), Some("zz")).expect_err("no tag");
    assert!(bad.to_string().contains("tag zz is not in"), "{bad}");

    let s = spec(&name, rb.to.clone());
    let plan = platform.plan(&s, false).await.expect("plan rollback");
    assert!(matches!(plan.action, Action::Update { .. }), "{plan:?}");
    let out = platform
        .deploy(&plan, &s, WAIT, &probe, &rep)
        .await
        .expect("roll back");
    assert_eq!(out.operation_status, "SUCCESSFUL", "{out:?}");
    let status = platform.status(&name).await.expect("status");
    assert_eq!(status.image.as_deref(), Some(a.as_str()), "{status:?}");

    // Rolling back again (from A) goes nowhere; --to b goes forward again.
    let images = list_images(&ecr, &name).await.expect("describe images");
    let again = plan_rollback(
        &name,
        &name,
        host,
        &images,
        status.image.as_deref(),
        Some("b"),
    )
    .expect("to b");
    assert_eq!(again.to, b);
}
