//! The app bucket and static sync against the local cloud's S3 (moto behind the edge).
//!
//! moto 5.2.5 stores and returns every bucket setting deploykit manages (ownership controls,
//! Block Public Access, encryption, policy, CORS, lifecycle) but enforces none of them: it
//! accepts ACLs on BucketOwnerEnforced buckets, public policies under BlockPublicPolicy, and
//! ignores ExpectedBucketOwner. These tests therefore check what is stored, and the no-ACL and
//! expected-owner guarantees are checked on the wire in `mocked.rs`.

use std::path::Path;

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{
    ObjectOwnership, OwnershipControls, OwnershipControlsRule, ServerSideEncryption,
};
use deploykit_report::{Event, Unit, VecReporter};
use deploykit_s3::bucket::{TLS_STATEMENT_SID, ensure_bucket};
use deploykit_s3::{
    BucketSpec, BucketStep, CorsRule, Drift, Encryption, SyncOptions, UploadsLifecycle,
    bucket_status, static_url, sync_static,
};
use deploykit_testsupport::{local_cloud, unique_name};

struct Env {
    client: Client,
    owner: String,
}

async fn env() -> Env {
    let cloud = local_cloud().await;
    let sdk = cloud.sdk_config();
    let owner = deploykit_aws::caller_identity(&sdk)
        .await
        .expect("STS on the local cloud")
        .account;
    Env {
        client: deploykit_s3::client(&sdk, true),
        owner,
    }
}

fn spec(env: &Env, name: &str) -> BucketSpec {
    BucketSpec {
        name: name.into(),
        region: "us-east-1".into(),
        expected_owner: env.owner.clone(),
        encryption: Encryption::SseS3,
        tls_only: true,
        cors: Some(vec![CorsRule {
            allowed_origins: vec!["https://app.example.com".into()],
            allowed_methods: vec!["GET".into(), "PUT".into()],
            allowed_headers: vec!["*".into()],
            expose_headers: vec![],
            max_age_seconds: Some(3000),
        }]),
        uploads_lifecycle: Some(UploadsLifecycle {
            prefix: "receipts/".into(),
            expire_days: Some(365),
            abort_incomplete_multipart_days: Some(7),
        }),
    }
}

#[tokio::test]
async fn ensure_creates_then_changes_nothing_and_status_is_clean() {
    let env = env().await;
    let name = unique_name("dk-s3");
    let spec = spec(&env, &name);
    let c = &env.client;

    // Before: status reports the bucket missing (drift, not an error).
    let before = bucket_status(c, &spec).await.unwrap();
    assert_eq!(before.drift, vec![Drift::Missing]);
    assert!(matches!(before.plan.steps[0], BucketStep::Create { .. }));

    let r = VecReporter::new();
    let first = ensure_bucket(c, &spec, &r).await.unwrap();
    assert!(first.created && !first.adopted, "{first:?}");
    let applied: Vec<String> = first.applied.iter().map(|s| s.to_string()).collect();
    assert!(
        matches!(first.applied[0], BucketStep::Create { .. }),
        "{applied:?}"
    );
    // moto's new bucket has none of the settings: every one is applied once.
    assert_eq!(first.applied.len(), 7, "{applied:?}");

    // What S3 now holds.
    let pab = c
        .get_public_access_block()
        .bucket(&name)
        .send()
        .await
        .unwrap();
    let pab = pab.public_access_block_configuration().unwrap();
    assert_eq!(
        [
            pab.block_public_acls(),
            pab.ignore_public_acls(),
            pab.block_public_policy(),
            pab.restrict_public_buckets()
        ],
        [Some(true); 4]
    );
    let own = c
        .get_bucket_ownership_controls()
        .bucket(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        own.ownership_controls().unwrap().rules()[0].object_ownership(),
        &ObjectOwnership::BucketOwnerEnforced
    );
    let enc = c
        .get_bucket_encryption()
        .bucket(&name)
        .send()
        .await
        .unwrap();
    let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default()
            .unwrap()
            .sse_algorithm(),
        &ServerSideEncryption::Aes256
    );
    let policy = c.get_bucket_policy().bucket(&name).send().await.unwrap();
    let policy: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let st = &policy["Statement"][0];
    assert_eq!(st["Sid"], TLS_STATEMENT_SID);
    assert_eq!(st["Effect"], "Deny");
    assert_eq!(st["Condition"]["Bool"]["aws:SecureTransport"], "false");
    assert_eq!(
        st["Resource"],
        serde_json::json!([
            format!("arn:aws:s3:::{name}"),
            format!("arn:aws:s3:::{name}/*")
        ])
    );
    let cors = c.get_bucket_cors().bucket(&name).send().await.unwrap();
    assert_eq!(
        cors.cors_rules()[0].allowed_origins(),
        ["https://app.example.com"]
    );
    let lc = c
        .get_bucket_lifecycle_configuration()
        .bucket(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(lc.rules()[0].id(), Some("deploykit-uploads"));

    // Second run: no mutating call, status clean.
    let r2 = VecReporter::new();
    let second = ensure_bucket(c, &spec, &r2).await.unwrap();
    assert!(
        second.applied.is_empty() && second.drift.is_empty(),
        "{second:?}"
    );
    assert!(second.adopted && !second.created);
    assert!(
        r2.events()
            .iter()
            .any(|e| matches!(e, Event::StepSkipped { .. }))
    );
    let after = bucket_status(c, &spec).await.unwrap();
    assert!(after.is_clean(), "{:?}", after.drift);
    assert!(after.plan.is_empty());

    // The TLS-only statement works: moto evaluates it, and the local cloud is plain HTTP.
    let denied = c
        .put_object()
        .bucket(&name)
        .key("receipts/x")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        denied.raw_response().map(|r| r.status().as_u16()),
        Some(403)
    );

    // Without TLS required (the local target), ensure takes the statement out again.
    let local = BucketSpec {
        tls_only: false,
        ..spec.clone()
    };
    let drift = bucket_status(c, &local).await.unwrap().drift;
    assert_eq!(drift, vec![Drift::PolicyStatementUnwanted]);
    let out = ensure_bucket(c, &local, &VecReporter::new()).await.unwrap();
    assert_eq!(out.applied, vec![BucketStep::DeletePolicy]);
    c.put_object()
        .bucket(&name)
        .key("receipts/x")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap();
    assert!(bucket_status(c, &local).await.unwrap().is_clean());
}

#[tokio::test]
async fn made_public_is_drift_and_ensure_restores_it_keeping_others_statements() {
    let env = env().await;
    let name = unique_name("dk-s3pub");
    let spec = spec(&env, &name);
    let c = &env.client;
    ensure_bucket(c, &spec, &VecReporter::new()).await.unwrap();

    // Someone makes the bucket public with raw SDK calls.
    c.delete_public_access_block()
        .bucket(&name)
        .send()
        .await
        .unwrap();
    c.put_bucket_ownership_controls()
        .bucket(&name)
        .ownership_controls(
            OwnershipControls::builder()
                .rules(
                    OwnershipControlsRule::builder()
                        .object_ownership(ObjectOwnership::ObjectWriter)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    c.delete_bucket_encryption()
        .bucket(&name)
        .send()
        .await
        .unwrap();
    let public_read = serde_json::json!({"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{name}/*")});
    c.put_bucket_policy()
        .bucket(&name)
        .policy(
            serde_json::json!({"Version": "2012-10-17", "Statement": [public_read.clone()]})
                .to_string(),
        )
        .send()
        .await
        .unwrap();

    let status = bucket_status(c, &spec).await.unwrap();
    assert_eq!(
        status.drift,
        vec![
            Drift::OwnershipNotEnforced {
                actual: Some("ObjectWriter".into())
            },
            Drift::PublicAccessBlockOff {
                settings: vec![
                    "BlockPublicAcls".into(),
                    "IgnorePublicAcls".into(),
                    "BlockPublicPolicy".into(),
                    "RestrictPublicBuckets".into()
                ]
            },
            Drift::EncryptionMissing,
            Drift::PolicyMissingStatement,
        ]
    );
    assert!(!status.is_clean());

    let fixed = ensure_bucket(c, &spec, &VecReporter::new()).await.unwrap();
    assert_eq!(fixed.applied.len(), 4, "{:?}", fixed.applied);
    assert!(bucket_status(c, &spec).await.unwrap().is_clean());
    // The other statement is still there, next to ours (a public one: ensure restores the
    // settings that block it, it does not delete what it does not own).
    let policy = c.get_bucket_policy().bucket(&name).send().await.unwrap();
    let policy: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let sids: Vec<&str> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Sid"].as_str().unwrap())
        .collect();
    assert_eq!(sids, ["PublicRead", TLS_STATEMENT_SID]);
    assert_eq!(policy["Statement"][0], public_read);
}

#[tokio::test]
async fn an_existing_bucket_is_adopted() {
    let env = env().await;
    let name = unique_name("dk-s3adopt");
    let c = &env.client;
    c.create_bucket().bucket(&name).send().await.unwrap();
    let out = ensure_bucket(
        c,
        &BucketSpec {
            cors: None,
            uploads_lifecycle: None,
            ..spec(&env, &name)
        },
        &VecReporter::new(),
    )
    .await
    .unwrap();
    assert!(out.adopted && !out.created, "{out:?}");
    assert!(
        !out.applied
            .iter()
            .any(|s| matches!(s, BucketStep::Create { .. }))
    );
    assert_eq!(out.applied.len(), 4, "{:?}", out.applied);
}

fn write(dir: &Path, rel: &str, body: &[u8]) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, body).unwrap();
}

#[tokio::test]
async fn static_sync_uploads_once_with_types_and_cache_control_and_deletes_on_request() {
    let env = env().await;
    let name = unique_name("dk-s3static");
    let c = &env.client;
    let owner = env.owner.as_str();
    ensure_bucket(
        c,
        &BucketSpec {
            cors: None,
            uploads_lifecycle: None,
            tls_only: false,
            ..spec(&env, &name)
        },
        &VecReporter::new(),
    )
    .await
    .unwrap();
    // An upload of the app's, outside the static prefix: never touched.
    c.put_object()
        .bucket(&name)
        .key("receipts/1/r.pdf")
        .body(b"pdf".to_vec().into())
        .send()
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "app.3f9a2c1b.css", b"body{color:red}");
    write(d, "index.html", b"<!doctype html>");
    write(d, "js/app.js", b"console.log(1)");
    write(d, "img/logo.png", &[0x89, b'P', b'N', b'G']);
    write(d, ".DS_Store", b"junk");
    let opts = SyncOptions::default();

    // Dry run: the plan, nothing sent.
    let dry = sync_static(c, &name, owner, d, &opts, true, &VecReporter::new())
        .await
        .unwrap();
    assert_eq!(dry.plan.uploads.len(), 4);
    assert!(dry.summary.is_none());
    let listed = c
        .list_objects_v2()
        .bucket(&name)
        .prefix("static/")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.key_count(), Some(0));

    let r = VecReporter::new();
    let first = sync_static(c, &name, owner, d, &opts, false, &r)
        .await
        .unwrap();
    let s = first.summary.clone().unwrap();
    assert_eq!((s.uploaded, s.unchanged, s.deleted), (4, 0, 0));
    assert_eq!(s.bytes_uploaded, 15 + 15 + 14 + 4);
    let events = r.events();
    let last = |unit: Unit| {
        events.iter().rev().find_map(|e| match e {
            Event::Progress {
                done,
                total,
                unit: u,
                ..
            } if *u == unit => Some((*done, *total)),
            _ => None,
        })
    };
    assert_eq!(last(Unit::Files), Some((4, Some(4))));
    assert_eq!(last(Unit::Bytes), Some((48, Some(48))));

    for (key, ctype, cache) in [
        (
            "static/app.3f9a2c1b.css",
            "text/css; charset=utf-8",
            "public, max-age=31536000, immutable",
        ),
        (
            "static/index.html",
            "text/html; charset=utf-8",
            "public, max-age=300",
        ),
        (
            "static/js/app.js",
            "text/javascript; charset=utf-8",
            "public, max-age=300",
        ),
        ("static/img/logo.png", "image/png", "public, max-age=300"),
    ] {
        let h = c.head_object().bucket(&name).key(key).send().await.unwrap();
        assert_eq!(h.content_type(), Some(ctype), "{key}");
        assert_eq!(h.cache_control(), Some(cache), "{key}");
        let sha = h
            .metadata()
            .and_then(|m| m.get("sha256"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(sha.len(), 64, "{key}");
    }
    let hidden = c
        .head_object()
        .bucket(&name)
        .key("static/.DS_Store")
        .send()
        .await;
    assert!(hidden.is_err(), "dot files are not synced");

    // Second run: nothing uploaded.
    let again = sync_static(c, &name, owner, d, &opts, false, &VecReporter::new())
        .await
        .unwrap();
    let s = again.summary.unwrap();
    assert_eq!(
        (s.uploaded, s.unchanged, s.deleted, s.bytes_uploaded),
        (0, 4, 0, 0)
    );

    // One file changes, one is removed: without delete the removed one stays.
    write(d, "index.html", b"<!doctype html><title>v2</title>");
    std::fs::remove_file(d.join("js/app.js")).unwrap();
    let third = sync_static(c, &name, owner, d, &opts, false, &VecReporter::new())
        .await
        .unwrap();
    assert_eq!(
        third
            .plan
            .uploads
            .iter()
            .map(|u| u.key.as_str())
            .collect::<Vec<_>>(),
        ["static/index.html"]
    );
    assert_eq!(third.plan.extra, ["static/js/app.js"]);
    assert_eq!(third.summary.unwrap().deleted, 0);

    // With delete it goes; the upload outside the prefix stays.
    let del = SyncOptions {
        delete: true,
        ..opts.clone()
    };
    let fourth = sync_static(c, &name, owner, d, &del, false, &VecReporter::new())
        .await
        .unwrap();
    let s = fourth.summary.unwrap();
    assert_eq!((s.uploaded, s.unchanged, s.deleted), (0, 3, 1));
    assert!(
        c.head_object()
            .bucket(&name)
            .key("static/js/app.js")
            .send()
            .await
            .is_err()
    );
    assert!(
        c.head_object()
            .bucket(&name)
            .key("receipts/1/r.pdf")
            .send()
            .await
            .is_ok()
    );

    let url = static_url(
        &name,
        "us-east-1",
        &opts.prefix,
        Some(&local_cloud().await.edge_url),
    );
    assert!(url.ends_with(&format!("/{name}/static/")), "{url}");
}
