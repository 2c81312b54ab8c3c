//! App Runner against a private in-process localcloud edge (own clock at high time scale, own
//! faults), with images built by the real Docker Engine and pushed to the real local registry.
//! Needs the running local cloud (`cargo xtask test` starts it).

use std::collections::BTreeMap;
use std::time::Duration;

use deploykit_apprunner::{
    Action, AppRunnerError, ContainerPlatform, Probe, ServiceSpec, WaitOptions,
};
use deploykit_localcloud::AdminClient;
use deploykit_localcloud::admin::{FaultKind, FaultRequest};
use deploykit_report::{Event, VecReporter};

const WAIT: WaitOptions = WaitOptions {
    poll: Duration::from_millis(100),
    timeout: Duration::from_secs(60),
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

#[tokio::test]
async fn create_update_rollback_and_throttling() {
    let cloud = deploykit_testsupport::local_cloud().await;
    let edge = cloud.private_edge(|c| c.time_scale = 600.0).await;
    let sdk = cloud.sdk_config_for(&edge.url());
    let admin = AdminClient::new(&edge.url()).expect("admin");
    let platform = ContainerPlatform::AppRunner(aws_sdk_apprunner::Client::new(&sdk));
    let name = deploykit_testsupport::unique_name("ar");
    let probe = Probe {
        resolve: Some(edge.addr()),
    };
    let rep = VecReporter::new();

    // Create.
    let v1 = image(&sdk, &name, "v1", "one").await;
    let s1 = spec(&name, v1.clone());
    let plan = platform.plan(&s1, false).await.expect("plan");
    assert_eq!(plan.action, Action::Create);
    let out = platform
        .deploy(&plan, &s1, WAIT, &probe, &rep)
        .await
        .expect("create");
    assert_eq!(
        (out.operation_status.as_str(), out.service_status.as_str()),
        ("SUCCEEDED", "RUNNING"),
        "{out:?}"
    );
    assert!(
        out.service_url.contains("awsapprunner.localhost"),
        "{out:?}"
    );
    assert!(
        rep.events()
            .iter()
            .any(|e| matches!(e, Event::Waiting { .. })),
        "waits are reported"
    );

    // Update to a new image.
    let v2 = image(&sdk, &name, "v2", "two").await;
    let s2 = spec(&name, v2.clone());
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
    assert_eq!(
        platform
            .status(&name)
            .await
            .expect("status")
            .image
            .as_deref(),
        Some(v2.as_str())
    );

    // A failing deploy rolls back; the error says the previous image still runs.
    admin.fail_next_deploy(&name, 1).await.expect("fault");
    let v3 = image(&sdk, &name, "v3", "three").await;
    let s3 = spec(&name, v3);
    let plan = platform.plan(&s3, false).await.expect("plan");
    let err = platform
        .deploy(&plan, &s3, WAIT, &probe, &rep)
        .await
        .expect_err("rolled back");
    assert!(matches!(err, AppRunnerError::RolledBack { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("ROLLBACK_SUCCEEDED")
            && msg.contains("still runs the previous image")
            && msg.contains(&format!("{v2}, as the service reports")),
        "{msg}"
    );
    let st = platform.status(&name).await.expect("status");
    assert_eq!(
        (st.status.as_str(), st.image.as_deref()),
        ("RUNNING", Some(v2.as_str()))
    );

    // Throttling on the App Runner API converges (SDK retries, and the poll keeps going).
    admin
        .inject_fault(&FaultRequest::new("apprunner", FaultKind::Throttle, 2))
        .await
        .expect("fault");
    let plan = platform
        .plan(&s2, false)
        .await
        .expect("plan under throttling");
    assert_eq!(
        plan.action,
        Action::Unchanged,
        "same image, same configuration"
    );
    let out = platform
        .deploy(&plan, &s2, WAIT, &probe, &rep)
        .await
        .expect("unchanged deploy checks the URL");
    assert_eq!(out.operation_status, "UNCHANGED");
    // The same image with another environment variable is an update, not a no-op.
    let mut s2b = s2.clone();
    s2b.env.insert("FEATURE_X".into(), "on".into());
    let plan = platform.plan(&s2b, false).await.expect("plan");
    assert!(matches!(plan.action, Action::Update { .. }), "{plan:?}");
    let out = platform
        .deploy(&plan, &s2b, WAIT, &probe, &rep)
        .await
        .expect("config update");
    assert_eq!(out.operation_status, "SUCCEEDED");

    // The instance role and the auto scaling bounds are sent, read back and compared: each
    // change alone is an update, and once deployed the same spec is unchanged.
    // The role and the secret exist in the local cloud (it checks both, like App Runner).
    let role = deploykit_iam::Iam::new(&cloud.sdk_config())
        .client()
        .create_role()
        .role_name(format!("{name}-instance"))
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"tasks.apprunner.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .expect("creating the instance role");
    let role_arn = role.role().expect("role").arn().to_string();
    let secrets = deploykit_secrets::Secrets::new(&cloud.sdk_config());
    let secret_name = format!("{name}/secret-key");
    secrets
        .put_string(&secret_name, &"v".to_string().into(), "test")
        .await
        .expect("secret");
    let secret = secrets
        .resolve(&[("SECRET_KEY".into(), secret_name.clone())])
        .await
        .expect("resolved")
        .remove(0);
    let mut s2c = s2b.clone();
    s2c.instance_role_arn = Some(role_arn);
    let mut s2d = s2c.clone();
    s2d.max_size = 3;
    let mut s2e = s2d.clone();
    s2e.secrets.insert("SECRET_KEY".into(), secret.arn.clone());
    for (what, s) in [
        ("instance role", &s2c),
        ("max_size", &s2d),
        ("secret", &s2e),
    ] {
        let plan = platform.plan(s, false).await.expect("plan");
        assert!(
            matches!(plan.action, Action::Update { .. }),
            "{what}: {plan:?}"
        );
        platform
            .deploy(&plan, s, WAIT, &probe, &rep)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let again = platform.plan(s, false).await.expect("plan");
        assert_eq!(again.action, Action::Unchanged, "{what} round-trips");
    }
    edge.shutdown().await;
}

#[tokio::test]
async fn create_failed_needs_recreate() {
    let cloud = deploykit_testsupport::local_cloud().await;
    let edge = cloud.private_edge(|c| c.time_scale = 600.0).await;
    let sdk = cloud.sdk_config_for(&edge.url());
    let platform = ContainerPlatform::AppRunner(aws_sdk_apprunner::Client::new(&sdk));
    let name = deploykit_testsupport::unique_name("arcf");
    let probe = Probe {
        resolve: Some(edge.addr()),
    };
    let rep = VecReporter::new();
    let good = image(&sdk, &name, "good", "good").await;
    let missing = good.replace(":good", ":missing");

    let bad = spec(&name, missing.clone());
    let plan = platform.plan(&bad, false).await.expect("plan");
    let err = platform
        .deploy(&plan, &bad, WAIT, &probe, &rep)
        .await
        .expect_err("image missing");
    assert!(
        matches!(err, AppRunnerError::CreateFailed { .. }),
        "{err:?}"
    );
    let help = |e: &AppRunnerError| deploykit_report::Diagnostic::help(e).unwrap_or_default();
    assert!(
        err.to_string().contains(&missing) && help(&err).contains("recreate"),
        "{err}"
    );

    let fixed = spec(&name, good);
    let err = platform
        .plan(&fixed, false)
        .await
        .expect_err("needs --recreate");
    assert!(help(&err).contains("recreate"), "{err}");
    let plan = platform.plan(&fixed, true).await.expect("plan");
    assert_eq!(plan.action, Action::Recreate);
    let out = platform
        .deploy(&plan, &fixed, WAIT, &probe, &rep)
        .await
        .expect("recreate");
    assert_eq!(out.service_status, "RUNNING");
    edge.shutdown().await;
}

#[tokio::test]
async fn vpc_egress_gets_a_content_addressed_connector_reused_across_deploys() {
    let cloud = deploykit_testsupport::local_cloud().await;
    let edge = cloud.private_edge(|c| c.time_scale = 600.0).await;
    let sdk = cloud.sdk_config_for(&edge.url());
    let client = aws_sdk_apprunner::Client::new(&sdk);
    let platform = ContainerPlatform::AppRunner(client.clone());
    let name = deploykit_testsupport::unique_name("vpc");
    let probe = Probe {
        resolve: Some(edge.addr()),
    };
    let rep = VecReporter::new();
    let vpc = deploykit_apprunner::VpcEgress {
        subnets: vec!["subnet-0a1".into(), "subnet-0b2".into()],
        security_groups: vec!["sg-0c3".into()],
    };
    let connector_of = |svc: &str| {
        let client = client.clone();
        let svc = svc.to_string();
        async move {
            let view = deploykit_apprunner::find_service(&client, &svc)
                .await
                .expect("find")
                .expect("exists");
            client
                .describe_service()
                .service_arn(view.arn)
                .send()
                .await
                .expect("describe")
                .service()
                .and_then(|s| s.network_configuration())
                .and_then(|n| n.egress_configuration())
                .and_then(|e| e.vpc_connector_arn())
                .map(str::to_string)
        }
    };

    let v1 = image(&sdk, &name, "v1", "one").await;
    let mut s1 = spec(&name, v1);
    s1.vpc = Some(vpc.clone());
    let plan = platform.plan(&s1, false).await.expect("plan");
    platform
        .deploy(&plan, &s1, WAIT, &probe, &rep)
        .await
        .expect("create with VPC egress");
    let first = connector_of(&name)
        .await
        .expect("service egress uses a connector");
    let expected_name = deploykit_apprunner::vpc_connector_name(&name, &vpc);
    assert!(first.contains(&format!("/{expected_name}/")), "{first}");

    // The same subnets in another order: the same connector, no new one.
    let v2 = image(&sdk, &name, "v2", "two").await;
    let mut s2 = spec(&name, v2);
    s2.vpc = Some(deploykit_apprunner::VpcEgress {
        subnets: vec!["subnet-0b2".into(), "subnet-0a1".into()],
        security_groups: vec!["sg-0c3".into()],
    });
    let plan = platform.plan(&s2, false).await.expect("plan");
    platform
        .deploy(&plan, &s2, WAIT, &probe, &rep)
        .await
        .expect("update");
    assert_eq!(connector_of(&name).await.as_deref(), Some(first.as_str()));

    // Another security group: a new connector, and the service moves to it.
    let v3 = image(&sdk, &name, "v3", "three").await;
    let mut s3 = spec(&name, v3);
    s3.vpc = Some(deploykit_apprunner::VpcEgress {
        subnets: vec!["subnet-0a1".into()],
        security_groups: vec!["sg-0d4".into()],
    });
    let plan = platform.plan(&s3, false).await.expect("plan");
    platform
        .deploy(&plan, &s3, WAIT, &probe, &rep)
        .await
        .expect("update");
    let third = connector_of(&name).await.expect("connector");
    assert_ne!(third, first);
    let listed = client
        .list_vpc_connectors()
        .send()
        .await
        .expect("list")
        .vpc_connectors()
        .iter()
        .filter(|c| c.vpc_connector_name().is_some_and(|n| n.starts_with(&name)))
        .count();
    assert_eq!(
        listed, 2,
        "one connector per distinct network configuration"
    );
}
