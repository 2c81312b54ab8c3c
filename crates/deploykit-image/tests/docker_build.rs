//! Builds against the real Docker Engine (DOCKER_HOST or the default socket). Images are built
//! FROM scratch: nothing is pulled.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use deploykit_image::{
    BuildInput, ImageError, build, connect, context_hash, export_image_files, plan_context,
};
use deploykit_report::{Event, VecReporter};

fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, body) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, body).expect("write");
    }
    dir
}

fn input(tag: &str, dir: &Path) -> (deploykit_image::ContextPlan, BuildInput) {
    let plan = plan_context(dir, "Dockerfile", deploykit_image::SEED_DOCKERFILE).expect("plan");
    let hash = context_hash(&plan).expect("hash");
    let input = BuildInput {
        tags: vec![format!("{tag}:{}", &hash[..12]), format!("{tag}:latest")],
        build_args: BTreeMap::from([("GREETING".to_string(), "hi".to_string())]),
        labels: BTreeMap::new(),
        content_hash: hash,
        git_sha: Some("0123456789abcdef".into()),
        platform: deploykit_image::DEFAULT_PLATFORM.into(),
        no_cache: false,
        timeout: Duration::from_secs(120),
    };
    (plan, input)
}

fn tag(name: &str) -> String {
    format!("deploykit-test-{name}-{}", std::process::id())
}

#[tokio::test]
async fn builds_from_scratch_and_keeps_ignored_files_out_of_every_layer() {
    let docker = connect().await.expect("docker");
    let dir = tree(&[
        (".dockerignore", ".env\nnotes/\n!notes/public.txt\n"),
        (
            "Dockerfile",
            "FROM scratch\nARG GREETING\nCOPY hello /hello\nCOPY . /app\n",
        ),
        ("hello", "hello world\n"),
        ("src/app.py", "print('hi')\n"),
        (".env", "DATABASE_PASSWORD=hunter2\n"),
        ("notes/private.txt", "private"),
        ("notes/public.txt", "public"),
    ]);
    let t = tag("scratch");
    let (plan, inp) = input(&t, dir.path());
    let rep = VecReporter::new();
    let built = build(&docker, &plan, &inp, &rep).await.expect("build");
    assert!(built.id.starts_with("sha256:"), "{built:?}");
    // 4 Dockerfile steps plus the LABEL steps the daemon appends for our labels.
    assert!(built.steps >= 4, "{built:?}");
    assert!(
        rep.events().iter().any(|e| matches!(e, Event::Remote { step, message, .. } if step == "build" && message.contains("COPY hello"))),
        "build output is relayed as remote events"
    );

    let layers = export_image_files(&docker, &format!("{t}:latest"))
        .await
        .expect("export");
    let all: Vec<&String> = layers.iter().flatten().collect();
    assert!(all.iter().any(|p| p.as_str() == "hello"), "{all:?}");
    assert!(
        all.iter().any(|p| p.as_str() == "app/src/app.py"),
        "{all:?}"
    );
    assert!(
        all.iter().any(|p| p.as_str() == "app/notes/public.txt"),
        "`!` re-includes: {all:?}"
    );
    assert!(
        !all.iter().any(|p| p.ends_with(".env")),
        ".env reached a layer: {all:?}"
    );
    assert!(
        !all.iter().any(|p| p.contains("private.txt")),
        "ignored dir reached a layer: {all:?}"
    );

    let inspect = docker
        .inspect_image(&format!("{t}:latest"))
        .await
        .expect("inspect");
    let labels = inspect.config.and_then(|c| c.labels).unwrap_or_default();
    assert_eq!(
        labels.get("dev.deploykit.content-hash"),
        Some(&inp.content_hash)
    );
    assert_eq!(
        labels
            .get("org.opencontainers.image.revision")
            .map(String::as_str),
        Some("0123456789abcdef")
    );
    assert_eq!(inspect.architecture.as_deref(), Some("amd64"));
    let repo_tags = inspect.repo_tags.unwrap_or_default();
    assert!(
        repo_tags.contains(&inp.tags[0]) && repo_tags.contains(&inp.tags[1]),
        "{repo_tags:?}"
    );

    // Unchanged context: same hash, every step from cache, same image.
    let (plan2, inp2) = input(&t, dir.path());
    assert_eq!(inp2.content_hash, inp.content_hash);
    let again = build(&docker, &plan2, &inp2, &VecReporter::new())
        .await
        .expect("rebuild");
    assert_eq!(again.id, built.id);
    assert_eq!(
        again.cached_steps,
        again.steps - 1,
        "every step but FROM scratch is cached: {again:?}"
    );

    let _ = docker
        .remove_image(
            &format!("{t}:latest"),
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await;
    let _ = docker
        .remove_image(
            &inp.tags[0],
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await;
}

#[tokio::test]
async fn a_failing_step_is_reported_with_its_output() {
    let docker = connect().await.expect("docker");
    let dir = tree(&[
        (
            "Dockerfile",
            "FROM scratch\nCOPY present /present\nCOPY missing.txt /missing.txt\n",
        ),
        ("present", "x"),
    ]);
    let (plan, inp) = input(&tag("failing"), dir.path());
    let err = build(&docker, &plan, &inp, &VecReporter::new())
        .await
        .expect_err("must fail");
    let msg = err.to_string();
    match &err {
        ImageError::StepFailed {
            step,
            message,
            output,
            ..
        } => {
            assert!(step.contains("COPY missing.txt"), "{step}");
            assert!(message.contains("missing.txt"), "{message}");
            assert!(
                output.contains("COPY present"),
                "the output tail comes with the error: {output}"
            );
        }
        other => panic!("expected StepFailed, got {other:?}"),
    }
    assert!(msg.contains("image build failed at Step 3/"), "{msg}");
}

#[tokio::test]
async fn unknown_os_platform_is_a_clear_error() {
    let docker = connect().await.expect("docker");
    let dir = tree(&[("Dockerfile", "FROM scratch\n")]);
    let (plan, mut inp) = input(&tag("platform"), dir.path());
    inp.platform = "windows/amd64".into();
    let err = build(&docker, &plan, &inp, &VecReporter::new())
        .await
        .expect_err("must fail");
    assert!(matches!(err, ImageError::Platform { .. }), "{err:?}");
    assert!(
        err.to_string().contains("cannot build windows/amd64"),
        "{err}"
    );
}
