//! Observe the bucket, plan, and apply exactly the plan's steps.

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketLocationConstraint, CorsConfiguration,
    CreateBucketConfiguration, ObjectOwnership, OwnershipControls, OwnershipControlsRule,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use deploykit_aws::{ErrorKind, classify};
use deploykit_report::{Event, Reporter, StepTimer};
use serde::Serialize;

use super::{
    BucketPlan, BucketSpec, BucketStep, CorsRule, Drift, Encryption, Existence, ObservedBucket,
    ObservedEncryption, PublicAccessBlock, plan_bucket,
};
use crate::S3Error;

const STEP: &str = "s3-bucket";

/// What [`bucket_status`] found: the drift (empty when the bucket is as desired) and the plan
/// [`ensure_bucket`] would apply. Non-empty drift is a failed check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BucketCheck {
    pub bucket: String,
    pub drift: Vec<Drift>,
    pub plan: BucketPlan,
}

impl BucketCheck {
    /// The bucket is exactly as desired.
    pub fn is_clean(&self) -> bool {
        self.drift.is_empty()
    }
}

/// What [`ensure_bucket`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnsureOutcome {
    pub bucket: String,
    /// CreateBucket made a new bucket.
    pub created: bool,
    /// The bucket was already ours (found, or CreateBucket answered BucketAlreadyOwnedByYou).
    pub adopted: bool,
    /// The drift found before anything was changed.
    pub drift: Vec<Drift>,
    /// Every mutating call made, in order. Empty: nothing needed changing.
    pub applied: Vec<BucketStep>,
}

/// Reads everything the planner compares. `HeadBucket` first (with `ExpectedBucketOwner`); a
/// missing or unreadable bucket is returned as such without further calls.
pub async fn observe_bucket(
    client: &Client,
    bucket: &str,
    expected_owner: &str,
) -> Result<ObservedBucket, S3Error> {
    let head = client
        .head_bucket()
        .bucket(bucket)
        .expected_bucket_owner(expected_owner)
        .send()
        .await;
    let region = match head {
        Ok(out) => out.bucket_region().map(str::to_owned),
        Err(e) => {
            // A bucket in another region answers 301 with its region in a header.
            let moved = e
                .raw_response()
                .filter(|r| r.status().as_u16() == 301)
                .and_then(|r| r.headers().get("x-amz-bucket-region"))
                .map(str::to_owned);
            if let Some(actual) = moved {
                return Ok(ObservedBucket {
                    region: Some(actual),
                    ..ObservedBucket::absent(Existence::Owned)
                });
            }
            let c = classify(&e);
            return match c.kind {
                ErrorKind::NotFound => Ok(ObservedBucket::absent(Existence::Missing)),
                ErrorKind::AccessDenied => Ok(ObservedBucket::absent(Existence::NotAccessible)),
                _ => Err(S3Error::aws("HeadBucket", bucket, "", c)),
            };
        }
    };
    let o = expected_owner;
    let (pab, enc, own, pol, cors, lc) = tokio::try_join!(
        async {
            absent_ok(
                client
                    .get_public_access_block()
                    .bucket(bucket)
                    .expected_bucket_owner(o)
                    .send()
                    .await,
                "GetPublicAccessBlock",
                bucket,
                "NoSuchPublicAccessBlockConfiguration",
            )
        },
        async {
            absent_ok(
                client
                    .get_bucket_encryption()
                    .bucket(bucket)
                    .expected_bucket_owner(o)
                    .send()
                    .await,
                "GetBucketEncryption",
                bucket,
                "ServerSideEncryptionConfigurationNotFoundError",
            )
        },
        async {
            absent_ok(
                client
                    .get_bucket_ownership_controls()
                    .bucket(bucket)
                    .expected_bucket_owner(o)
                    .send()
                    .await,
                "GetBucketOwnershipControls",
                bucket,
                "OwnershipControlsNotFoundError",
            )
        },
        async {
            absent_ok(
                client
                    .get_bucket_policy()
                    .bucket(bucket)
                    .expected_bucket_owner(o)
                    .send()
                    .await,
                "GetBucketPolicy",
                bucket,
                "NoSuchBucketPolicy",
            )
        },
        async {
            absent_ok(
                client
                    .get_bucket_cors()
                    .bucket(bucket)
                    .expected_bucket_owner(o)
                    .send()
                    .await,
                "GetBucketCors",
                bucket,
                "NoSuchCORSConfiguration",
            )
        },
        async {
            absent_ok(
                client
                    .get_bucket_lifecycle_configuration()
                    .bucket(bucket)
                    .expected_bucket_owner(o)
                    .send()
                    .await,
                "GetBucketLifecycleConfiguration",
                bucket,
                "NoSuchLifecycleConfiguration",
            )
        },
    )?;
    let public_access_block = pab
        .and_then(|o| o.public_access_block_configuration().cloned())
        .map(|c| PublicAccessBlock {
            block_public_acls: c.block_public_acls().unwrap_or(false),
            ignore_public_acls: c.ignore_public_acls().unwrap_or(false),
            block_public_policy: c.block_public_policy().unwrap_or(false),
            restrict_public_buckets: c.restrict_public_buckets().unwrap_or(false),
        })
        .unwrap_or_default();
    let encryption = enc.and_then(|o| {
        let rule = o
            .server_side_encryption_configuration()?
            .rules()
            .first()?
            .clone();
        let d = rule.apply_server_side_encryption_by_default()?;
        Some(ObservedEncryption {
            algorithm: d.sse_algorithm().as_str().to_owned(),
            kms_key_id: d.kms_master_key_id().map(str::to_owned),
        })
    });
    let object_ownership = own.and_then(|o| {
        o.ownership_controls()?
            .rules()
            .first()
            .map(|r| r.object_ownership().as_str().to_owned())
    });
    let cors = cors
        .map(|o| {
            o.cors_rules()
                .iter()
                .map(|r| CorsRule {
                    allowed_origins: r.allowed_origins().to_vec(),
                    allowed_methods: r.allowed_methods().to_vec(),
                    allowed_headers: r.allowed_headers().to_vec(),
                    expose_headers: r.expose_headers().to_vec(),
                    max_age_seconds: r.max_age_seconds(),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(ObservedBucket {
        existence: Existence::Owned,
        region,
        public_access_block,
        encryption,
        object_ownership,
        policy: pol.and_then(|p| p.policy().map(str::to_owned)),
        cors,
        lifecycle: lc.map(|l| l.rules().to_vec()).unwrap_or_default(),
    })
}

/// `Ok(None)` when the call failed with exactly `absent_code` (the configuration is not set).
fn absent_ok<T, E>(
    r: Result<T, SdkError<E>>,
    op: &'static str,
    bucket: &str,
    absent_code: &str,
) -> Result<Option<T>, S3Error>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) => {
            let c = classify(&e);
            if c.code.as_deref() == Some(absent_code) {
                Ok(None)
            } else {
                Err(S3Error::aws(op, bucket, "", c))
            }
        }
    }
}

/// Observes and plans; changes nothing. Drift is data: a non-empty [`BucketCheck::drift`] is
/// a failed check. A bucket these credentials cannot read is an error (AccessDenied).
pub async fn bucket_status(client: &Client, spec: &BucketSpec) -> Result<BucketCheck, S3Error> {
    let observed = observe_bucket(client, &spec.name, &spec.expected_owner).await?;
    if observed.existence == Existence::NotAccessible {
        return Err(not_accessible(&spec.name));
    }
    let plan = plan_bucket(spec, &observed);
    Ok(BucketCheck {
        bucket: spec.name.clone(),
        drift: plan.drift.clone(),
        plan,
    })
}

fn not_accessible(bucket: &str) -> S3Error {
    S3Error::aws(
        "HeadBucket",
        bucket,
        "",
        deploykit_aws::Classified {
            kind: ErrorKind::AccessDenied,
            code: Some("Forbidden".into()),
            message: Some("the bucket is not readable by the expected owner".into()),
            request_id: None,
        },
    )
}

/// Observe, plan, apply the plan's steps (each reported as a step), and nothing else. When the
/// plan creates the bucket, the bucket is observed and planned again after CreateBucket (a
/// new bucket comes with AWS's defaults, an adopted one with its own settings), and only that
/// second plan's steps are applied. A plan with unfixable drift (wrong region, a policy that
/// cannot be merged) is refused before any call. Running it again makes no mutating call.
pub async fn ensure_bucket(
    client: &Client,
    spec: &BucketSpec,
    reporter: &dyn Reporter,
) -> Result<EnsureOutcome, S3Error> {
    let observed = observe_bucket(client, &spec.name, &spec.expected_owner).await?;
    let plan = plan_bucket(spec, &observed);
    refuse_unfixable(spec, &plan)?;
    let mut outcome = EnsureOutcome {
        bucket: spec.name.clone(),
        created: false,
        adopted: observed.existence == Existence::Owned,
        drift: plan.drift.clone(),
        applied: Vec::new(),
    };
    if plan.steps.is_empty() {
        reporter.report(Event::StepSkipped {
            step: STEP.into(),
            reason: format!("s3://{} is as configured", spec.name),
        });
        return Ok(outcome);
    }
    let mut steps = plan.steps;
    if let Some(BucketStep::Create { region }) = steps.first().cloned() {
        let created = create(client, &spec.name, &region, reporter).await?;
        outcome.applied.push(BucketStep::Create { region });
        outcome.created = created;
        outcome.adopted = !created;
        let again = observe_new(client, spec).await?;
        let replan = plan_bucket(spec, &again);
        refuse_unfixable(spec, &replan)?;
        steps = replan.steps;
    }
    for step in steps {
        apply_step(client, spec, &step, reporter).await?;
        outcome.applied.push(step);
    }
    Ok(outcome)
}

/// Observes a bucket CreateBucket just answered for. A new bucket can take a moment to be
/// visible to every S3 front end (NoSuchBucket right after creation), so a missing bucket is
/// looked at again, a bounded number of times, before giving up.
async fn observe_new(client: &Client, spec: &BucketSpec) -> Result<ObservedBucket, S3Error> {
    const TRIES: u32 = 5;
    let mut tries = 0;
    loop {
        tries += 1;
        let seen = observe_bucket(client, &spec.name, &spec.expected_owner).await;
        let settling = match &seen {
            Ok(o) => o.existence == Existence::Missing,
            Err(e) => e.aws_kind() == Some(ErrorKind::NotFound),
        };
        if settling && tries < TRIES {
            tokio::time::sleep(std::time::Duration::from_millis(500 * u64::from(tries))).await;
            continue;
        }
        let seen = seen?;
        return match seen.existence {
            Existence::Owned => Ok(seen),
            Existence::Missing | Existence::NotAccessible => Err(not_accessible(&spec.name)),
        };
    }
}

fn refuse_unfixable(spec: &BucketSpec, plan: &BucketPlan) -> Result<(), S3Error> {
    if let Some(d) = plan.unfixable().first() {
        return Err(match d {
            Drift::WrongRegion { actual } => S3Error::WrongRegion {
                bucket: spec.name.clone(),
                expected: spec.region.clone(),
                actual: actual.clone(),
            },
            Drift::PolicyUnreadable { reason } => S3Error::PolicyUnreadable {
                bucket: spec.name.clone(),
                reason: reason.clone(),
            },
            other => S3Error::PolicyUnreadable {
                bucket: spec.name.clone(),
                reason: other.to_string(),
            },
        });
    }
    Ok(())
}

/// CreateBucket: `Ok(true)` created, `Ok(false)` it was already ours.
async fn create(
    client: &Client,
    bucket: &str,
    region: &str,
    reporter: &dyn Reporter,
) -> Result<bool, S3Error> {
    let timer = StepTimer::start(
        reporter,
        STEP,
        format!("Creating bucket s3://{bucket} in {region}"),
    );
    let mut req = client.create_bucket().bucket(bucket);
    if region != "us-east-1" {
        req = req.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    match req.send().await {
        Ok(_) => {
            timer.finish(reporter, format!("created s3://{bucket}"));
            Ok(true)
        }
        Err(e) => {
            let c = classify(&e);
            match c.code.as_deref() {
                Some("BucketAlreadyOwnedByYou") => {
                    timer.finish(reporter, format!("s3://{bucket} is already ours: adopted"));
                    Ok(false)
                }
                Some("BucketAlreadyExists") => Err(S3Error::BucketTakenByOther {
                    bucket: bucket.to_owned(),
                }),
                _ => Err(S3Error::aws("CreateBucket", bucket, "", c)),
            }
        }
    }
}

async fn apply_step(
    client: &Client,
    spec: &BucketSpec,
    step: &BucketStep,
    reporter: &dyn Reporter,
) -> Result<(), S3Error> {
    let b = spec.name.as_str();
    let o = spec.expected_owner.as_str();
    let timer = StepTimer::start(reporter, STEP, format!("s3://{b}: {step}"));
    let err = |op: &'static str| move |e: deploykit_aws::Classified| S3Error::aws(op, b, "", e);
    match step {
        BucketStep::Create { region } => {
            // Only ever first in a plan, handled by ensure_bucket; kept total for safety.
            create(client, b, region, reporter).await?;
        }
        BucketStep::PutOwnershipControls => {
            let rule = OwnershipControlsRule::builder()
                .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                .build()
                .map_err(|e| internal(b, e))?;
            let controls = OwnershipControls::builder()
                .rules(rule)
                .build()
                .map_err(|e| internal(b, e))?;
            client
                .put_bucket_ownership_controls()
                .bucket(b)
                .expected_bucket_owner(o)
                .ownership_controls(controls)
                .send()
                .await
                .map_err(|e| err("PutBucketOwnershipControls")(classify(&e)))?;
        }
        BucketStep::PutPublicAccessBlock => {
            let all = PublicAccessBlock::ALL_ON;
            client
                .put_public_access_block()
                .bucket(b)
                .expected_bucket_owner(o)
                .public_access_block_configuration(
                    PublicAccessBlockConfiguration::builder()
                        .block_public_acls(all.block_public_acls)
                        .ignore_public_acls(all.ignore_public_acls)
                        .block_public_policy(all.block_public_policy)
                        .restrict_public_buckets(all.restrict_public_buckets)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| err("PutPublicAccessBlock")(classify(&e)))?;
        }
        BucketStep::PutEncryption { encryption } => {
            let (by_default, bucket_key) = match encryption {
                Encryption::SseS3 => (
                    ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(ServerSideEncryption::Aes256),
                    false,
                ),
                Encryption::SseKms { key_id } => (
                    ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(ServerSideEncryption::AwsKms)
                        .kms_master_key_id(key_id),
                    true,
                ),
            };
            let rule = ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(
                    by_default.build().map_err(|e| internal(b, e))?,
                )
                .bucket_key_enabled(bucket_key)
                .build();
            client
                .put_bucket_encryption()
                .bucket(b)
                .expected_bucket_owner(o)
                .server_side_encryption_configuration(
                    ServerSideEncryptionConfiguration::builder()
                        .rules(rule)
                        .build()
                        .map_err(|e| internal(b, e))?,
                )
                .send()
                .await
                .map_err(|e| err("PutBucketEncryption")(classify(&e)))?;
        }
        BucketStep::PutPolicy { document } => {
            client
                .put_bucket_policy()
                .bucket(b)
                .expected_bucket_owner(o)
                .policy(document)
                .send()
                .await
                .map_err(|e| err("PutBucketPolicy")(classify(&e)))?;
        }
        BucketStep::DeletePolicy => {
            client
                .delete_bucket_policy()
                .bucket(b)
                .expected_bucket_owner(o)
                .send()
                .await
                .map_err(|e| err("DeleteBucketPolicy")(classify(&e)))?;
        }
        BucketStep::PutCors { rules } => {
            let mut cfg = CorsConfiguration::builder();
            for r in rules {
                cfg = cfg.cors_rules(
                    aws_sdk_s3::types::CorsRule::builder()
                        .set_allowed_origins(Some(r.allowed_origins.clone()))
                        .set_allowed_methods(Some(r.allowed_methods.clone()))
                        .set_allowed_headers(non_empty(&r.allowed_headers))
                        .set_expose_headers(non_empty(&r.expose_headers))
                        .set_max_age_seconds(r.max_age_seconds)
                        .build()
                        .map_err(|e| internal(b, e))?,
                );
            }
            client
                .put_bucket_cors()
                .bucket(b)
                .expected_bucket_owner(o)
                .cors_configuration(cfg.build().map_err(|e| internal(b, e))?)
                .send()
                .await
                .map_err(|e| err("PutBucketCors")(classify(&e)))?;
        }
        BucketStep::DeleteCors => {
            client
                .delete_bucket_cors()
                .bucket(b)
                .expected_bucket_owner(o)
                .send()
                .await
                .map_err(|e| err("DeleteBucketCors")(classify(&e)))?;
        }
        BucketStep::PutLifecycle { rules, .. } => {
            client
                .put_bucket_lifecycle_configuration()
                .bucket(b)
                .expected_bucket_owner(o)
                .lifecycle_configuration(
                    BucketLifecycleConfiguration::builder()
                        .set_rules(Some(rules.clone()))
                        .build()
                        .map_err(|e| internal(b, e))?,
                )
                .send()
                .await
                .map_err(|e| err("PutBucketLifecycleConfiguration")(classify(&e)))?;
        }
        BucketStep::DeleteLifecycle => {
            client
                .delete_bucket_lifecycle()
                .bucket(b)
                .expected_bucket_owner(o)
                .send()
                .await
                .map_err(|e| err("DeleteBucketLifecycle")(classify(&e)))?;
        }
    }
    timer.finish(reporter, "done");
    Ok(())
}

fn non_empty(v: &[String]) -> Option<Vec<String>> {
    (!v.is_empty()).then(|| v.to_vec())
}

fn internal(bucket: &str, e: aws_sdk_s3::error::BuildError) -> S3Error {
    S3Error::Task {
        what: format!("building a request for s3://{bucket}"),
        reason: e.to_string(),
    }
}
