//! ECR against the local cloud (moto for the repository API, the edge's token, the real
//! registry) and the real Docker Engine. Run by `cargo xtask test`.

use std::collections::BTreeMap;
use std::time::Duration;

use deploykit_ecr::{AuthCache, RepositorySpec, TagMutability, ensure_repository, push};
use deploykit_image::{BuildInput, build, connect, context_hash, plan_context};
use deploykit_report::VecReporter;
use secrecy::ExposeSecret;

#[tokio::test]
async fn repository_is_ensured_idempotently_and_a_repush_uploads_no_layer() {
    let cloud = deploykit_testsupport::local_cloud().await;
    let sdk = cloud.sdk_config();
    let ecr = aws_sdk_ecr::Client::new(&sdk);
    let name = deploykit_testsupport::unique_name("ecr-push");
    let spec = RepositorySpec {
        name: name.clone(),
        scan_on_push: true,
        tag_mutability: TagMutability::Mutable,
        keep_images: Some(5),
    };
    let rep = VecReporter::new();
    let first = ensure_repository(&ecr, &spec, &rep).await.expect("create");
    assert!(first.created, "{first:?}");
    let second = ensure_repository(&ecr, &spec, &rep).await.expect("adopt");
    assert!(!second.created, "{second:?}");
    assert_eq!(first.uri, second.uri);
    let policy = ecr
        .get_lifecycle_policy()
        .repository_name(&name)
        .send()
        .await
        .expect("policy");
    assert!(
        policy
            .lifecycle_policy_text()
            .unwrap_or_default()
            .contains("\"countNumber\":5")
    );

    let cache = AuthCache::new(ecr.clone());
    let auth = cache.get().await.expect("token");
    assert_eq!(auth.host(), cloud.registry.endpoint);
    assert_eq!(auth.password.expose_secret(), cloud.registry.password());
    assert!(!format!("{auth:?}").contains(cloud.registry.password()));

    // A FROM scratch image with content unique to this run.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY a /a\nCOPY b /b\n",
    )
    .expect("w");
    std::fs::write(dir.path().join("a"), format!("a {name}")).expect("w");
    std::fs::write(dir.path().join("b"), format!("b {name}")).expect("w");
    let plan = plan_context(dir.path(), "Dockerfile", "").expect("plan");
    let hash = context_hash(&plan).expect("hash");
    let docker = connect().await.expect("docker");
    let local = format!("{name}:build");
    let input = BuildInput {
        tags: vec![local.clone()],
        build_args: BTreeMap::new(),
        labels: BTreeMap::new(),
        content_hash: hash.clone(),
        git_sha: None,
        platform: "linux/amd64".into(),
        no_cache: false,
        timeout: Duration::from_secs(120),
    };
    build(&docker, &plan, &input, &rep).await.expect("build");

    let tags = vec![hash[..12].to_string(), "gitsha0".to_string()];
    let once = push(
        &docker,
        &auth,
        &local,
        &name,
        &tags,
        Duration::from_secs(120),
        &rep,
    )
    .await
    .expect("push");
    assert_eq!(once.layers_pushed, 2, "{once:?}");
    assert!(once.digest.starts_with("sha256:"), "{once:?}");
    let again = push(
        &docker,
        &auth,
        &local,
        &name,
        &tags,
        Duration::from_secs(120),
        &rep,
    )
    .await
    .expect("re-push");
    assert_eq!(
        again.layers_pushed, 0,
        "an unchanged image re-push uploads nothing: {again:?}"
    );
    assert_eq!(again.layers_present, 2, "{again:?}");
    assert_eq!(again.digest, once.digest);
}
