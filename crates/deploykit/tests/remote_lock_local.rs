//! The remote deploy lock on an Elastic Beanstalk environment, against a private in-process
//! edge (its EB emulator answers ListTagsForResource / UpdateTagsForResource and the Tags of
//! CreateEnvironment): a first deploy is locked from its create; a fresh lock of another
//! machine refuses the second deployer (CheckFailed, holder and expiry named) and nothing
//! changes; force-unlock breaks it with a warning; an expired one is taken over with a
//! warning; release removes only our own lock.

use std::time::Duration;

use deploykit::remote_lock::{self, RemoteHolder, TAG_EXPIRES, TAG_OWNER};
use deploykit_eb::{BundleRef, DeployOptions, Eb, EbTarget, HealthCheck, Timeouts};
use deploykit_report::{Category, Diagnostic, Level, VecReporter};

fn app(dir: &std::path::Path) -> BundleRef {
    let app = dir.join("app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(app.join("Procfile"), "web: gunicorn app:app\n").unwrap();
    std::fs::write(app.join("requirements.txt"), "flask==3.1.0\n").unwrap();
    std::fs::write(app.join("app.py"), "# v1\n").unwrap();
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let mut opts = deploykit_bundle::BundleOptions::new(&app, &out);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_fresh_remote_lock_refuses_and_nothing_changes() {
    let edge = deploykit_testsupport::private_edge(|c| c.time_scale = 600.0).await;
    let sdk = deploykit_testsupport::sdk_config_for(&edge.url());
    let eb = Eb::new(&sdk, true);
    let name = deploykit_testsupport::unique_name("dk-lock");
    let mut t = EbTarget::new("us-east-1", &name, &name);
    t.service_role = Some("aws-elasticbeanstalk-service-role".into());
    t.instance_profile = Some("aws-elasticbeanstalk-ec2-role".into());
    t.health = HealthCheck {
        path: Some("/healthz".into()),
        resolve: Some(edge.addr()),
    };
    t.timeouts = Timeouts {
        deploy: Duration::from_secs(60),
        rollback: Duration::from_secs(60),
        busy: Duration::from_secs(60),
        poll: Duration::from_millis(100),
        http: Duration::from_secs(5),
    };
    let dir = tempfile::tempdir().unwrap();
    let b = app(dir.path());
    let ttl = Duration::from_secs(600);
    let r = VecReporter::new();

    // A first deploy: no environment yet, so the lock goes with CreateEnvironment.
    let mine = remote_lock::acquire_eb(&eb, &t, "dev", "deploy eb first", ttl, false, &r)
        .await
        .unwrap();
    let mut created = t.clone();
    created.create_tags = mine.tags();
    let (_, plan) = eb.prepare(&created, &b).await.unwrap();
    eb.apply(&created, &b, plan, &DeployOptions::default(), &r)
        .await
        .unwrap();
    let arn = eb.environment_arn(&t).await.unwrap().expect("arn");
    assert_eq!(
        RemoteHolder::from_tags(&eb.tags(&arn).await.unwrap()),
        Some(mine.clone())
    );
    remote_lock::release_eb(&eb, &t, &mine, &r).await;
    let tags = eb.tags(&arn).await.unwrap();
    assert!(!tags.contains_key(TAG_OWNER), "{tags:?}");

    // Another machine's fresh lock: refused, naming holder and expiry; nothing changes.
    let theirs = RemoteHolder {
        owner: "ci@runner-7".into(),
        expires: "2099-01-01T00:00:00Z".into(),
        what: "deploy eb from CI".into(),
    };
    eb.update_tags(&arn, &theirs.tags(), &[]).await.unwrap();
    let before = eb.status(&t).await.unwrap().environment;
    let err = remote_lock::acquire_eb(&eb, &t, "dev", "deploy eb second", ttl, false, &r)
        .await
        .unwrap_err();
    assert_eq!(Diagnostic::category(&err), Category::CheckFailed, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("ci@runner-7") && text.contains("2099-01-01T00:00:00Z"),
        "{text}"
    );
    assert!(
        err.help().is_some_and(|h| h.contains("force-unlock")),
        "{err:?}"
    );
    assert_eq!(
        RemoteHolder::from_tags(&eb.tags(&arn).await.unwrap()),
        Some(theirs.clone())
    );
    let after = eb.status(&t).await.unwrap().environment;
    assert_eq!(after.version_label, before.version_label);
    // Releasing is only ever for our own lock.
    remote_lock::release_eb(&eb, &t, &mine, &r).await;
    assert_eq!(
        RemoteHolder::from_tags(&eb.tags(&arn).await.unwrap()),
        Some(theirs.clone())
    );

    // --force-unlock breaks it, with a warning.
    let forced = remote_lock::acquire_eb(&eb, &t, "dev", "deploy eb forced", ttl, true, &r)
        .await
        .unwrap();
    assert!(
        r.messages(Level::Warn)
            .iter()
            .any(|m| m.contains("breaking") && m.contains("ci@runner-7")),
        "{:?}",
        r.events()
    );
    assert_eq!(
        RemoteHolder::from_tags(&eb.tags(&arn).await.unwrap()),
        Some(forced.clone())
    );
    remote_lock::release_eb(&eb, &t, &forced, &r).await;

    // An expired foreign lock is taken over with a warning.
    let stale = RemoteHolder {
        expires: "2001-01-01T00:00:00Z".into(),
        ..theirs
    };
    eb.update_tags(&arn, &stale.tags(), &[]).await.unwrap();
    let r2 = VecReporter::new();
    let took = remote_lock::acquire_eb(&eb, &t, "dev", "deploy eb late", ttl, false, &r2)
        .await
        .unwrap();
    assert!(
        r2.messages(Level::Warn)
            .iter()
            .any(|m| m.contains("expired") && m.contains("2001-01-01T00:00:00Z")),
        "{:?}",
        r2.events()
    );
    let tags = eb.tags(&arn).await.unwrap();
    assert_eq!(tags.get(TAG_EXPIRES), Some(&took.expires));
    remote_lock::release_eb(&eb, &t, &took, &r2).await;

    // The emulator's limits and errors: reserved keys, unknown resources.
    let bad = [("aws:owner".to_string(), "x".to_string())].into();
    assert!(eb.update_tags(&arn, &bad, &[]).await.is_err());
    let gone = arn.replace(&name, "no-such-env");
    let err = eb.tags(&gone).await.unwrap_err();
    assert!(
        err.to_string().contains("ResourceNotFoundException"),
        "{err}"
    );
}
