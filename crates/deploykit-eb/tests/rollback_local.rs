//! Honest rollbacks against a private in-process edge (own clock and faults, the shared moto):
//! throttling during the wait is ridden out; a timeout rolls back the version AND the option
//! settings the deploy changed; an interrupted deploy's record restores them too; a stale
//! record (someone deployed since) is not used.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use deploykit_eb::{
    BundleRef, DeployOptions, Eb, EbError, EbTarget, HealthCheck, NS_ENV, Resume, RollbackOutcome,
    Timeouts,
};
use deploykit_report::{Category, Diagnostic, Event, Reporter, VecReporter};
use deploykit_testsupport::deploykit_localcloud::{AdminClient, Edge, FaultKind, FaultRequest};

struct World {
    _edge: Edge,
    eb: Eb,
    admin: AdminClient,
    target: EbTarget,
    dir: tempfile::TempDir,
}

/// No SDK retries: every throttled poll reaches our own wait.
async fn world() -> World {
    let edge = deploykit_testsupport::private_edge(|c| c.time_scale = 600.0).await;
    let sdk = deploykit_testsupport::sdk_config_for(&edge.url())
        .to_builder()
        .retry_config(aws_smithy_types::retry::RetryConfig::standard().with_max_attempts(1))
        .build();
    let eb = Eb::new(&sdk, true);
    let admin = AdminClient::new(&edge.url()).unwrap();
    let name = deploykit_testsupport::unique_name("dk-rb");
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
        _edge: edge,
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
    std::fs::write(app.join("requirements.txt"), "flask==3.1.0\n").unwrap();
    std::fs::write(app.join("app.py"), format!("# {marker}\n")).unwrap();
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
        git_sha: None,
        git_dirty: false,
    }
}

async fn deploy_with(
    w: &World,
    t: &EbTarget,
    opts: &DeployOptions,
    r: &dyn Reporter,
) -> Result<deploykit_eb::DeployOutcome, EbError> {
    let b = bundle(w);
    let (_, plan) = w.eb.prepare(t, &b).await?;
    w.eb.apply(t, &b, plan, opts, r).await
}

/// The environment's plain variables now.
async fn env_vars(w: &World) -> std::collections::BTreeMap<String, String> {
    w.eb.environment(&w.target)
        .await
        .unwrap()
        .expect("environment")
        .env_vars()
}

/// Records events, and on the first `Waiting` of `step` sends once on `tx`.
struct Trigger {
    inner: VecReporter,
    step: &'static str,
    tx: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
}

impl Reporter for Trigger {
    fn report(&self, e: Event) {
        if matches!(&e, Event::Waiting { step, .. } if step == self.step)
            && let Some(tx) = self.tx.lock().unwrap().take()
        {
            let _ = tx.send(());
        }
        self.inner.report(e);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_during_the_wait_is_ridden_out_with_backoff() {
    let w = world().await;
    deploy_with(
        &w,
        &w.target,
        &DeployOptions::default(),
        &VecReporter::new(),
    )
    .await
    .unwrap();
    write_app(w.dir.path(), "v2");
    let (tx, rx) = tokio::sync::oneshot::channel();
    let r = Trigger {
        inner: VecReporter::new(),
        step: "deploy",
        tx: Mutex::new(Some(tx)),
    };
    let admin = w.admin.clone();
    // Once the deploy waits: five throttled answers in a row (the SDK retries none of them).
    let injector = tokio::spawn(async move {
        if rx.await.is_ok() {
            admin
                .inject_fault(&FaultRequest::new(
                    "elasticbeanstalk",
                    FaultKind::Throttle,
                    5,
                ))
                .await
                .unwrap();
        }
    });
    let out = deploy_with(&w, &w.target, &DeployOptions::default(), &r)
        .await
        .unwrap();
    injector.await.unwrap();
    assert!(out.environment_updated);
    let backoffs: Vec<String> = r
        .inner
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Waiting { for_what, .. } if for_what.contains("answer again") => Some(for_what),
            _ => None,
        })
        .collect();
    assert!(backoffs.len() >= 3, "{backoffs:#?}");
    assert!(
        backoffs.iter().any(|b| b.contains("Throttling")),
        "{backoffs:#?}"
    );
    let st = w.eb.status(&w.target).await.unwrap();
    assert_eq!(
        st.environment.version_label.as_deref(),
        Some(out.label.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_rolls_back_the_version_and_the_settings() {
    let w = world().await;
    let v1 = deploy_with(
        &w,
        &w.target,
        &DeployOptions::default(),
        &VecReporter::new(),
    )
    .await
    .unwrap()
    .label;
    // v2 changes one variable and adds another; the environment takes seconds to update, and
    // the deploy gives it half a second.
    write_app(w.dir.path(), "v2");
    let mut t2 = w.target.clone();
    t2.env.insert("S3_BUCKET".into(), "changed".into());
    t2.env.insert("ADDED".into(), "yes".into());
    t2.timeouts.deploy = Duration::from_millis(500);
    w.admin.set_time_scale(30.0).await.unwrap();
    let r = VecReporter::new();
    let err = deploy_with(&w, &t2, &DeployOptions::default(), &r)
        .await
        .unwrap_err();
    assert_eq!(Diagnostic::category(&err), Category::RolledBack, "{err}");
    match &err {
        EbError::DeployFailed {
            reason,
            rollback: RollbackOutcome::RolledBack { to },
            ..
        } => {
            assert_eq!(to, &v1);
            assert!(reason.contains("timed out"), "{reason}");
        }
        other => panic!("{other}"),
    }
    let st = w.eb.status(&w.target).await.unwrap();
    assert_eq!(st.environment.version_label.as_deref(), Some(v1.as_str()));
    let vars = env_vars(&w).await;
    assert_eq!(
        vars.get("S3_BUCKET").map(String::as_str),
        Some("uploads"),
        "{vars:?}"
    );
    assert!(!vars.contains_key("ADDED"), "{vars:?}");
    assert!(
        r.messages(deploykit_report::Level::Warn)
            .iter()
            .any(|m| m.contains("rolling back") && m.contains("S3_BUCKET")),
        "{:?}",
        r.events()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_deploys_record_restores_settings_and_a_stale_one_is_ignored() {
    let w = world().await;
    let v1 = deploy_with(
        &w,
        &w.target,
        &DeployOptions::default(),
        &VecReporter::new(),
    )
    .await
    .unwrap()
    .label;
    // A deploy of v2 that changes a setting; its process "dies" after it finished, leaving
    // only its record (what the journal keeps): deploying v2, previously v1, the old value.
    write_app(w.dir.path(), "v2");
    let mut t2 = w.target.clone();
    t2.env.insert("S3_BUCKET".into(), "changed".into());
    let b2 = bundle(&w);
    let (_, plan) = w.eb.prepare(&t2, &b2).await.unwrap();
    assert_eq!(
        plan.undo.restore,
        vec![deploykit_eb::Setting::new(NS_ENV, "S3_BUCKET", "uploads")]
    );
    let v2 =
        w.eb.apply(
            &t2,
            &b2,
            plan.clone(),
            &DeployOptions::default(),
            &VecReporter::new(),
        )
        .await
        .unwrap()
        .label;
    let record = Resume {
        deploying: v2.clone(),
        previous: v1.clone(),
        restore: plan.undo.clone(),
    };
    let s =
        w.eb.rollback(&w.target, None, Some(&record), &VecReporter::new())
            .await
            .unwrap();
    assert_eq!((s.from.as_str(), s.to.as_str()), (v2.as_str(), v1.as_str()));
    assert!(s.restored.contains("S3_BUCKET"), "{s:?}");
    assert_eq!(
        env_vars(&w).await.get("S3_BUCKET").map(String::as_str),
        Some("uploads")
    );

    // Someone deploys v3 with their own value; an old record of ours must not undo it.
    write_app(w.dir.path(), "v3");
    let mut t3 = w.target.clone();
    t3.env.insert("S3_BUCKET".into(), "theirs".into());
    let v3 = deploy_with(&w, &t3, &DeployOptions::default(), &VecReporter::new())
        .await
        .unwrap()
        .label;
    let r = VecReporter::new();
    let s =
        w.eb.rollback(&w.target, Some(&v1), Some(&record), &r)
            .await
            .unwrap();
    assert_eq!((s.from.as_str(), s.to.as_str()), (v3.as_str(), v1.as_str()));
    assert!(
        r.messages(deploykit_report::Level::Warn)
            .iter()
            .any(|m| m.contains("not resumed") && m.contains(&v3)),
        "{:?}",
        r.events()
    );
    // The explicit rollback sent the version only: their setting stays.
    assert_eq!(
        env_vars(&w).await.get("S3_BUCKET").map(String::as_str),
        Some("theirs")
    );
}
