//! `plan_bucket` as data: observed state in, drift and steps out.

use aws_sdk_s3::types::{
    ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter,
};
use deploykit_s3::bucket::{
    Existence, LIFECYCLE_RULE_ID, OWNER_ENFORCED, ObservedEncryption, PublicAccessBlock,
    TLS_STATEMENT_SID, policy,
};
use deploykit_s3::{
    BucketSpec, BucketStep, CorsRule, Drift, Encryption, ObservedBucket, UploadsLifecycle,
    plan_bucket,
};

const BUCKET: &str = "budgetsync-uploads";

fn spec() -> BucketSpec {
    BucketSpec {
        name: BUCKET.into(),
        region: "us-east-1".into(),
        expected_owner: "123456789012".into(),
        encryption: Encryption::SseS3,
        tls_only: true,
        cors: Some(vec![cors()]),
        uploads_lifecycle: Some(lifecycle()),
    }
}

fn cors() -> CorsRule {
    CorsRule {
        allowed_origins: vec!["https://app.example.com".into()],
        allowed_methods: vec!["GET".into(), "PUT".into()],
        allowed_headers: vec!["*".into()],
        expose_headers: vec!["ETag".into()],
        max_age_seconds: Some(3000),
    }
}

fn lifecycle() -> UploadsLifecycle {
    UploadsLifecycle {
        prefix: "receipts/".into(),
        expire_days: Some(365),
        abort_incomplete_multipart_days: Some(7),
    }
}

fn policy_with(statements: Vec<serde_json::Value>) -> String {
    serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

fn others_rule() -> LifecycleRule {
    LifecycleRule::builder()
        .id("logs-expiry")
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("logs/").build())
        .expiration(LifecycleExpiration::builder().days(30).build())
        .build()
        .unwrap()
}

/// A bucket exactly as `spec()` wants it.
fn good() -> ObservedBucket {
    ObservedBucket {
        existence: Existence::Owned,
        region: Some("us-east-1".into()),
        public_access_block: PublicAccessBlock::ALL_ON,
        encryption: Some(ObservedEncryption {
            algorithm: "AES256".into(),
            kms_key_id: None,
        }),
        object_ownership: Some(OWNER_ENFORCED.into()),
        policy: Some(policy_with(vec![policy::tls_only_statement(
            BUCKET,
            "us-east-1",
        )])),
        cors: vec![cors()],
        lifecycle: vec![lifecycle().to_rule()],
    }
}

fn step_name(s: &BucketStep) -> &'static str {
    match s {
        BucketStep::Create { .. } => "create",
        BucketStep::PutOwnershipControls => "ownership",
        BucketStep::PutPublicAccessBlock => "pab",
        BucketStep::PutEncryption { .. } => "encryption",
        BucketStep::PutPolicy { .. } => "policy",
        BucketStep::DeletePolicy => "delete-policy",
        BucketStep::PutCors { .. } => "cors",
        BucketStep::DeleteCors => "delete-cors",
        BucketStep::PutLifecycle { .. } => "lifecycle",
        BucketStep::DeleteLifecycle => "delete-lifecycle",
    }
}

fn drift_name(d: &Drift) -> &'static str {
    match d {
        Drift::Missing => "missing",
        Drift::NotAccessible => "not-accessible",
        Drift::WrongRegion { .. } => "region",
        Drift::PublicAccessBlockOff { .. } => "pab",
        Drift::EncryptionMissing => "encryption-missing",
        Drift::EncryptionDiffers { .. } => "encryption",
        Drift::OwnershipNotEnforced { .. } => "ownership",
        Drift::PolicyMissingStatement => "policy-missing",
        Drift::PolicyStatementChanged => "policy-changed",
        Drift::PolicyStatementUnwanted => "policy-unwanted",
        Drift::PolicyUnreadable { .. } => "policy-unreadable",
        Drift::CorsDiffers { .. } => "cors",
        Drift::LifecycleMissing => "lifecycle-missing",
        Drift::LifecycleDiffers => "lifecycle",
        Drift::LifecycleUnwanted => "lifecycle-unwanted",
    }
}

type Case = (
    &'static str,
    BucketSpec,
    ObservedBucket,
    Vec<&'static str>,
    Vec<&'static str>,
);

#[test]
fn plans() {
    let all_steps = vec![
        "create",
        "ownership",
        "pab",
        "encryption",
        "policy",
        "cors",
        "lifecycle",
    ];
    let cases: Vec<Case> = vec![
        ("as desired: nothing", spec(), good(), vec![], vec![]),
        (
            "missing: create and configure everything",
            spec(),
            ObservedBucket::absent(Existence::Missing),
            vec!["missing"],
            all_steps.clone(),
        ),
        (
            "not readable: try to create (adopts or is refused)",
            spec(),
            ObservedBucket::absent(Existence::NotAccessible),
            vec!["not-accessible"],
            all_steps.clone(),
        ),
        (
            "missing, nothing optional configured",
            BucketSpec {
                cors: None,
                uploads_lifecycle: None,
                ..spec()
            },
            ObservedBucket::absent(Existence::Missing),
            vec!["missing"],
            vec!["create", "ownership", "pab", "encryption", "policy"],
        ),
        (
            "one public access setting off",
            spec(),
            ObservedBucket {
                public_access_block: PublicAccessBlock {
                    restrict_public_buckets: false,
                    ..PublicAccessBlock::ALL_ON
                },
                ..good()
            },
            vec!["pab"],
            vec!["pab"],
        ),
        (
            "no encryption configuration",
            spec(),
            ObservedBucket {
                encryption: None,
                ..good()
            },
            vec!["encryption-missing"],
            vec!["encryption"],
        ),
        (
            "KMS wanted, SSE-S3 found",
            BucketSpec {
                encryption: Encryption::SseKms {
                    key_id: "alias/budgetsync".into(),
                },
                ..spec()
            },
            good(),
            vec!["encryption"],
            vec!["encryption"],
        ),
        (
            "KMS with the wanted key",
            BucketSpec {
                encryption: Encryption::SseKms {
                    key_id: "alias/budgetsync".into(),
                },
                ..spec()
            },
            ObservedBucket {
                encryption: Some(ObservedEncryption {
                    algorithm: "aws:kms".into(),
                    kms_key_id: Some("alias/budgetsync".into()),
                }),
                ..good()
            },
            vec![],
            vec![],
        ),
        (
            "ACLs in effect (ObjectWriter)",
            spec(),
            ObservedBucket {
                object_ownership: Some("ObjectWriter".into()),
                ..good()
            },
            vec!["ownership"],
            vec!["ownership"],
        ),
        (
            "ownership controls unset",
            spec(),
            ObservedBucket {
                object_ownership: None,
                ..good()
            },
            vec!["ownership"],
            vec!["ownership"],
        ),
        (
            "no policy",
            spec(),
            ObservedBucket {
                policy: None,
                ..good()
            },
            vec!["policy-missing"],
            vec!["policy"],
        ),
        (
            "someone else's statement only",
            spec(),
            ObservedBucket {
                policy: Some(policy_with(vec![
                    serde_json::json!({"Sid": "Cdn", "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{BUCKET}/*")}),
                ])),
                ..good()
            },
            vec!["policy-missing"],
            vec!["policy"],
        ),
        (
            "our statement weakened to objects only",
            spec(),
            ObservedBucket {
                policy: Some(policy_with(vec![
                    serde_json::json!({"Sid": TLS_STATEMENT_SID, "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": format!("arn:aws:s3:::{BUCKET}/*"), "Condition": {"Bool": {"aws:SecureTransport": "false"}}}),
                ])),
                ..good()
            },
            vec!["policy-changed"],
            vec!["policy"],
        ),
        (
            "policy that is not JSON: reported, no step",
            spec(),
            ObservedBucket {
                policy: Some("{".into()),
                ..good()
            },
            vec!["policy-unreadable"],
            vec![],
        ),
        (
            "TLS not required (local cloud), our statement alone: delete the policy",
            BucketSpec {
                tls_only: false,
                ..spec()
            },
            good(),
            vec!["policy-unwanted"],
            vec!["delete-policy"],
        ),
        (
            "TLS not required, others' statement kept",
            BucketSpec {
                tls_only: false,
                ..spec()
            },
            ObservedBucket {
                policy: Some(policy_with(vec![
                    serde_json::json!({"Sid": "Cdn", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::x/*"}),
                    policy::tls_only_statement(BUCKET, "us-east-1"),
                ])),
                ..good()
            },
            vec!["policy-unwanted"],
            vec!["policy"],
        ),
        (
            "TLS not required and no policy: nothing",
            BucketSpec {
                tls_only: false,
                ..spec()
            },
            ObservedBucket {
                policy: None,
                ..good()
            },
            vec![],
            vec![],
        ),
        (
            "CORS differs",
            spec(),
            ObservedBucket {
                cors: vec![CorsRule {
                    allowed_origins: vec!["*".into()],
                    ..cors()
                }],
                ..good()
            },
            vec!["cors"],
            vec!["cors"],
        ),
        (
            "CORS configured empty but present: delete",
            BucketSpec {
                cors: Some(vec![]),
                ..spec()
            },
            good(),
            vec!["cors"],
            vec!["delete-cors"],
        ),
        (
            "CORS not managed: left alone",
            BucketSpec {
                cors: None,
                ..spec()
            },
            ObservedBucket {
                cors: vec![CorsRule {
                    allowed_origins: vec!["*".into()],
                    ..cors()
                }],
                ..good()
            },
            vec![],
            vec![],
        ),
        (
            "lifecycle rule missing",
            spec(),
            ObservedBucket {
                lifecycle: vec![],
                ..good()
            },
            vec!["lifecycle-missing"],
            vec!["lifecycle"],
        ),
        (
            "lifecycle days changed",
            BucketSpec {
                uploads_lifecycle: Some(UploadsLifecycle {
                    expire_days: Some(30),
                    ..lifecycle()
                }),
                ..spec()
            },
            good(),
            vec!["lifecycle"],
            vec!["lifecycle"],
        ),
        (
            "lifecycle no longer configured, others' rule kept",
            BucketSpec {
                uploads_lifecycle: None,
                ..spec()
            },
            ObservedBucket {
                lifecycle: vec![others_rule(), lifecycle().to_rule()],
                ..good()
            },
            vec!["lifecycle-unwanted"],
            vec!["lifecycle"],
        ),
        (
            "lifecycle no longer configured, only ours: delete the configuration",
            BucketSpec {
                uploads_lifecycle: None,
                ..spec()
            },
            good(),
            vec!["lifecycle-unwanted"],
            vec!["delete-lifecycle"],
        ),
        (
            "others' lifecycle rule alone is not drift",
            BucketSpec {
                uploads_lifecycle: None,
                ..spec()
            },
            ObservedBucket {
                lifecycle: vec![others_rule()],
                ..good()
            },
            vec![],
            vec![],
        ),
        (
            "wrong region: reported, no step",
            spec(),
            ObservedBucket {
                region: Some("eu-west-1".into()),
                ..good()
            },
            vec!["region"],
            vec![],
        ),
        (
            "made public and stripped: everything drifts",
            spec(),
            ObservedBucket {
                public_access_block: PublicAccessBlock::default(),
                encryption: None,
                object_ownership: Some("ObjectWriter".into()),
                policy: None,
                cors: vec![],
                lifecycle: vec![],
                ..good()
            },
            vec![
                "ownership",
                "pab",
                "encryption-missing",
                "policy-missing",
                "cors",
                "lifecycle-missing",
            ],
            vec![
                "ownership",
                "pab",
                "encryption",
                "policy",
                "cors",
                "lifecycle",
            ],
        ),
    ];
    assert!(cases.len() >= 10);
    for (name, desired, observed, drift, steps) in cases {
        let plan = plan_bucket(&desired, &observed);
        let got_drift: Vec<_> = plan.drift.iter().map(drift_name).collect();
        let got_steps: Vec<_> = plan.steps.iter().map(step_name).collect();
        assert_eq!(got_drift, drift, "{name}: drift");
        assert_eq!(got_steps, steps, "{name}: steps");
        assert_eq!(
            plan.is_empty(),
            drift.is_empty() && steps.is_empty(),
            "{name}"
        );
        for d in &plan.drift {
            assert!(!d.to_string().is_empty());
        }
        for s in &plan.steps {
            assert!(!s.to_string().is_empty());
        }
    }
}

#[test]
fn steps_carry_what_is_applied() {
    // The lifecycle step keeps others' rules and puts ours after them.
    let observed = ObservedBucket {
        lifecycle: vec![others_rule()],
        ..good()
    };
    let plan = plan_bucket(&spec(), &observed);
    let [BucketStep::PutLifecycle { ours, kept, rules }] = plan.steps.as_slice() else {
        panic!("{:?}", plan.steps)
    };
    assert_eq!(ours.as_ref(), Some(&lifecycle()));
    assert_eq!(kept, &vec!["logs-expiry".to_string()]);
    assert_eq!(rules, &vec![others_rule(), lifecycle().to_rule()]);
    assert_eq!(rules[1].id(), Some(LIFECYCLE_RULE_ID));

    // The policy step keeps the other statement and adds ours; after it the plan is empty.
    let other = serde_json::json!({"Sid": "Cdn", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::x/*"});
    let observed = ObservedBucket {
        policy: Some(policy_with(vec![other.clone()])),
        ..good()
    };
    let plan = plan_bucket(&spec(), &observed);
    let [BucketStep::PutPolicy { document }] = plan.steps.as_slice() else {
        panic!("{:?}", plan.steps)
    };
    let doc: serde_json::Value = serde_json::from_str(document).unwrap();
    assert_eq!(doc["Statement"][0], other);
    assert_eq!(doc["Statement"][1]["Sid"], TLS_STATEMENT_SID);
    let after = ObservedBucket {
        policy: Some(document.clone()),
        ..good()
    };
    assert!(plan_bucket(&spec(), &after).is_empty());

    // A drifted public access block names the settings that are off.
    let observed = ObservedBucket {
        public_access_block: PublicAccessBlock {
            block_public_policy: false,
            ignore_public_acls: false,
            ..PublicAccessBlock::ALL_ON
        },
        ..good()
    };
    let plan = plan_bucket(&spec(), &observed);
    assert_eq!(
        plan.drift,
        vec![Drift::PublicAccessBlockOff {
            settings: vec!["IgnorePublicAcls".into(), "BlockPublicPolicy".into()]
        }]
    );
    assert!(plan.unfixable().is_empty());
    let wrong = plan_bucket(
        &spec(),
        &ObservedBucket {
            region: Some("eu-west-1".into()),
            ..good()
        },
    );
    assert_eq!(
        wrong.unfixable(),
        vec![&Drift::WrongRegion {
            actual: "eu-west-1".into()
        }]
    );
}

#[test]
fn lifecycle_rules_round_trip() {
    let cases = [
        UploadsLifecycle {
            prefix: "u/".into(),
            expire_days: Some(1),
            abort_incomplete_multipart_days: None,
        },
        UploadsLifecycle {
            prefix: "u/".into(),
            expire_days: None,
            abort_incomplete_multipart_days: Some(3),
        },
        lifecycle(),
    ];
    for l in cases {
        assert_eq!(UploadsLifecycle::from_rule(&l.to_rule()), Some(l.clone()));
    }
    let disabled = LifecycleRule::builder()
        .id(LIFECYCLE_RULE_ID)
        .status(ExpirationStatus::Disabled)
        .filter(LifecycleRuleFilter::builder().prefix("u/").build())
        .build()
        .unwrap();
    assert_eq!(UploadsLifecycle::from_rule(&disabled), None);
}
