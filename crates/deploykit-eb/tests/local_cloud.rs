//! Route A end to end against the local cloud: a private in-process edge per test (own clock
//! at a high time scale, own faults) sharing the running moto. Needs `cargo xtask local up`
//! (or `cargo xtask test`, which starts it).

use std::path::Path;
use std::time::Duration;

use deploykit_eb::{
    BundleRef, DeployOptions, Eb, EbError, EbTarget, EnvStep, HealthCheck, RollbackOutcome,
    Timeouts, VersionStep,
};
use deploykit_report::{Category, Diagnostic, VecReporter};
use deploykit_testsupport::deploykit_localcloud::{AdminClient, Edge, FaultKind, FaultRequest};

struct World {
    edge: Edge,
    eb: Eb,
    admin: AdminClient,
    target: EbTarget,
    dir: tempfile::TempDir,
}

async fn world() -> World {
    let edge = deploykit_testsupport::private_edge(|c| c.time_scale = 600.0).await;
    // Retries as deploykit-aws configures them for a flaky network, with short backoff.
    let sdk = deploykit_testsupport::sdk_config_for(&edge.url())
        .to_builder()
        .retry_config(
            aws_smithy_types::retry::RetryConfig::standard()
                .with_max_attempts(8)
                .with_initial_backoff(Duration::from_millis(20)),
        )
        .build();
    let eb = Eb::new(&sdk, true);
    let admin = AdminClient::new(&edge.url()).unwrap();
    let name = deploykit_testsupport::unique_name("dk-eb");
    let mut target = EbTarget::new("us-east-1", &name, &name);
    target.service_role = Some("aws-elasticbeanstalk-service-role".into());
    target.instance_profile = Some("aws-elasticbeanstalk-ec2-role".into());
    target.env.insert("S3_BUCKET".into(), "uploads".into());
    target.health = HealthCheck {
        path: Some("/healthz".into()),
        resolve: Some(edge.addr()),
    };
    target.timeouts = Timeouts {
        deploy: Duration::from_secs(60),
        rollback: Duration::from_secs(60),
        busy: Duration::from_secs(60),
        poll: Duration::from_millis(100),
        http: Duration::from_secs(5),
    };
    let dir = tempfile::tempdir().unwrap();
    write_app(dir.path(), "v1");
    World {
        edge,
        eb,
        admin,
        target,
        dir,
    }
}

fn write_app(dir: &Path, marker: &str) {
    let app = dir.join("app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(app.join("Procfile"), "web: gunicorn app:app\n").unwrap();
    std::fs::write(
        app.join("requirements.txt"),
        "flask==3.1.0\ngunicorn==23.0.0\n",
    )
    .unwrap();
    std::fs::write(
        app.join("app.py"),
        format!("# {marker}\nfrom flask import Flask\napp = Flask(__name__)\n"),
    )
    .unwrap();
}

fn bundle(w: &World) -> BundleRef {
    let out = w.dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let mut opts = deploykit_bundle::BundleOptions::new(w.dir.path().join("app"), &out);
    opts.label_prefix = "app".into();
    let s = deploykit_bundle::build(&opts, &VecReporter::new()).unwrap();
    BundleRef {
        path: s.path,
        sha256: s.sha256,
        label: s.label,
        git_sha: Some("abc1234".into()),
        git_dirty: false,
    }
}

async fn deploy(w: &World, opts: &DeployOptions) -> Result<deploykit_eb::DeployOutcome, EbError> {
    let b = bundle(w);
    let (_, plan) = w.eb.prepare(&w.target, &b).await?;
    w.eb.apply(&w.target, &b, plan, opts, &VecReporter::new())
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_then_unchanged_then_changed_then_failed_deploy_rolls_back() {
    let mut w = world().await;
    let opts = DeployOptions::default();

    // 1. First deploy creates application, version and environment.
    let first = deploy(&w, &opts).await.unwrap();
    assert!(
        first.version_created && first.environment_created,
        "{first:?}"
    );
    assert!(first.upload.as_ref().is_some_and(|u| u.bytes_uploaded > 0));
    let v1 = first.label.clone();

    // 2. Unchanged: nothing uploaded, no version, no update.
    let b = bundle(&w);
    let (_, plan) = w.eb.prepare(&w.target, &b).await.unwrap();
    assert!(
        plan.is_noop(),
        "an unchanged redeploy must plan nothing:\n{plan}"
    );
    let again =
        w.eb.apply(&w.target, &b, plan, &opts, &VecReporter::new())
            .await
            .unwrap();
    assert!(again.upload.is_none() && !again.version_created && !again.environment_updated);
    assert_eq!(w.eb.versions(&w.target.application).await.unwrap().len(), 1);

    // 3. Changed app: a new version, the environment updated to it.
    write_app(w.dir.path(), "v2");
    let second = deploy(&w, &opts).await.unwrap();
    assert_ne!(second.label, v1);
    assert!(second.version_created && second.environment_updated);
    assert_eq!(second.previous_version.as_deref(), Some(v1.as_str()));
    let v2 = second.label.clone();

    // 4. A deploy whose health fails rolls back to v2, with the right category.
    write_app(w.dir.path(), "v3");
    w.admin
        .fail_next_deploy(&w.target.environment, 1)
        .await
        .unwrap();
    let err = deploy(&w, &opts).await.unwrap_err();
    assert_eq!(Diagnostic::category(&err), Category::RolledBack, "{err}");
    match &err {
        EbError::DeployFailed {
            rollback: RollbackOutcome::RolledBack { to },
            ..
        } => assert_eq!(to, &v2),
        other => panic!("{other}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("rolled back to") && text.contains(&v2),
        "{text}"
    );
    let st = w.eb.status(&w.target).await.unwrap();
    assert_eq!(st.environment.version_label.as_deref(), Some(v2.as_str()));
    assert_eq!(
        (
            st.environment.status.as_str(),
            st.environment.health.as_str()
        ),
        ("Ready", "Green")
    );

    // 5. --no-rollback: the failure is reported, the environment left alone.
    write_app(w.dir.path(), "v4");
    w.admin
        .fail_next_deploy(&w.target.environment, 1)
        .await
        .unwrap();
    let err = deploy(
        &w,
        &DeployOptions {
            rollback: false,
            wait_busy: true,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(Diagnostic::category(&err), Category::CheckFailed, "{err}");
    assert!(err.to_string().contains("not rolled back"), "{err}");
    assert!(
        err.help().is_some_and(|h| h.contains("roll back")),
        "{err:?}"
    );

    // 6. Manual rollback back to v1, and prune never deletes the deployed version.
    let rb =
        w.eb.rollback(&w.target, Some(&v1), None, &VecReporter::new())
            .await
            .unwrap();
    assert_eq!(rb.to, v1);
    let pruned =
        w.eb.prune(&w.target, 0, false, &VecReporter::new())
            .await
            .unwrap();
    assert!(!pruned.deleted.contains(&v1), "{pruned:?}");
    assert_eq!(pruned.deployed.as_deref(), Some(v1.as_str()));
    let left: Vec<String> =
        w.eb.versions(&w.target.application)
            .await
            .unwrap()
            .into_iter()
            .map(|v| v.label)
            .collect();
    assert_eq!(left, vec![v1.clone()]);
    w.target.env.clear();
    drop(w.edge);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_5xx_and_dropped_connections_converge() {
    let w = world().await;
    for (kind, count) in [
        (FaultKind::Throttle, 2),
        (FaultKind::ServerError, 2),
        (FaultKind::Drop, 1),
    ] {
        w.admin
            .inject_fault(&FaultRequest::new("elasticbeanstalk", kind, count))
            .await
            .unwrap();
    }
    w.admin
        .inject_fault(&FaultRequest::new("s3", FaultKind::ServerError, 1))
        .await
        .unwrap();
    let out = deploy(&w, &DeployOptions::default()).await.unwrap();
    assert!(out.environment_created);
    // A re-run after the faults converges on the same state.
    let again = deploy(&w, &DeployOptions::default()).await.unwrap();
    assert!(!again.version_created && !again.environment_updated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_environment_is_refused_or_waited_for() {
    let w = world().await;
    deploy(&w, &DeployOptions::default()).await.unwrap();
    // Start an update (v2) without waiting for it. Both bundles are made first, so that once
    // the environment is Updating only a describe stands between us and the busy plan (on a
    // loaded machine, bundling in between let the update finish first).
    write_app(w.dir.path(), "v2");
    let b2 = bundle(&w);
    write_app(w.dir.path(), "v3");
    let b3 = bundle(&w);
    let (_, plan) = w.eb.prepare(&w.target, &b2).await.unwrap();
    let eb = w.eb.clone();
    let t = w.target.clone();
    let b2c = b2.clone();
    let first = tokio::spawn(async move {
        eb.apply(
            &t,
            &b2c,
            plan,
            &DeployOptions::default(),
            &VecReporter::new(),
        )
        .await
    });
    // Wait until it is Updating.
    for _ in 0..500 {
        if w.eb.status(&w.target).await.unwrap().environment.status == "Updating" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, plan3) = w.eb.prepare(&w.target, &b3).await.unwrap();
    assert_eq!(plan3.busy.as_deref(), Some("Updating"), "{plan3}");
    let err =
        w.eb.apply(
            &w.target,
            &b3,
            plan3.clone(),
            &DeployOptions {
                rollback: true,
                wait_busy: false,
            },
            &VecReporter::new(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, EbError::Busy { .. }), "{err}");
    assert!(err.to_string().contains("overlapping"), "{err}");
    // Waiting instead: it deploys after the first one finished, and both succeed.
    let out3 =
        w.eb.apply(
            &w.target,
            &b3,
            plan3,
            &DeployOptions::default(),
            &VecReporter::new(),
        )
        .await
        .unwrap();
    assert_eq!(out3.label, b3.label);
    first.await.unwrap().unwrap();
    let st = w.eb.status(&w.target).await.unwrap();
    assert_eq!(
        st.environment.version_label.as_deref(),
        Some(b3.label.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_deploy_converges_on_rerun() {
    let w = world().await;
    let b = bundle(&w);
    let (_, plan) = w.eb.prepare(&w.target, &b).await.unwrap();
    assert!(matches!(plan.version, VersionStep::Create { .. }));
    // Interrupt: drop the deploy future part-way (after the upload and version creation).
    let _ = tokio::time::timeout(
        Duration::from_millis(300),
        w.eb.apply(
            &w.target,
            &b,
            plan,
            &DeployOptions::default(),
            &VecReporter::new(),
        ),
    )
    .await;
    // Re-run: converges, nothing duplicated.
    let out = deploy(&w, &DeployOptions::default()).await.unwrap();
    assert_eq!(out.label, b.label);
    let versions = w.eb.versions(&w.target.application).await.unwrap();
    assert_eq!(versions.len(), 1, "{versions:?}");
    let (_, plan) = w.eb.prepare(&w.target, &b).await.unwrap();
    assert_eq!(plan.environment_step, EnvStep::Unchanged);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_env_vars_are_refused_before_any_request() {
    // An endpoint that counts connections: nothing may reach it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let h = hits.clone();
    tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let sdk = deploykit_testsupport::sdk_config_for(&format!("http://{addr}"));
    let eb = Eb::new(&sdk, true);
    let mut t = EbTarget::new("us-east-1", "app", "app-env");
    t.service_role = Some("r".into());
    t.instance_profile = Some("p".into());
    let cases: Vec<std::collections::BTreeMap<String, String>> = vec![
        [("BIG".to_string(), "x".repeat(257))].into(),
        [("K".repeat(129), "v".to_string())].into(),
        (0..17)
            .map(|i| (format!("V{i:02}"), "y".repeat(250)))
            .collect(),
    ];
    for set in cases {
        let err = eb
            .env_change(
                &t,
                &set,
                &[],
                &DeployOptions::default(),
                &VecReporter::new(),
            )
            .await
            .unwrap_err();
        assert_eq!(Diagnostic::category(&err), Category::Input, "{err}");
        assert!(
            err.to_string().contains("Elastic Beanstalk allows"),
            "{err}"
        );
        let mut t2 = t.clone();
        t2.env = set.clone();
        let b = BundleRef {
            path: "/nonexistent.zip".into(),
            sha256: "00".repeat(32),
            label: "x".into(),
            git_sha: None,
            git_dirty: false,
        };
        let err = eb.prepare(&t2, &b).await.unwrap_err();
        assert!(matches!(err, EbError::EnvLimits { .. }), "{err}");
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "no request may be sent"
    );
}
