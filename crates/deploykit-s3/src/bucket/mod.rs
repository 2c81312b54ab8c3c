//! The app's bucket: desired state ([`BucketSpec`]), what S3 says ([`ObservedBucket`]), and
//! the pure planner between them ([`plan_bucket`]) whose [`BucketPlan`] lists the drift and the
//! steps that fix it. [`ensure_bucket`] applies a plan; [`bucket_status`] only reports it.
//!
//! Desired state: the bucket exists in the target's region and belongs to the expected account;
//! all four Block Public Access settings are on; default encryption is SSE-S3 (or SSE-KMS with
//! the configured key); Object Ownership is `BucketOwnerEnforced` (ACLs disabled); the bucket
//! policy holds deploykit's TLS-only statement (others' statements are kept); CORS is the
//! configured rule list (when configured); the uploads lifecycle rule (when configured) is in
//! the lifecycle configuration (others' rules are kept).

mod apply;
pub mod policy;

use std::fmt;

use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleFilter,
};
use serde::Serialize;

pub use apply::{BucketCheck, EnsureOutcome, bucket_status, ensure_bucket, observe_bucket};
pub use policy::TLS_STATEMENT_SID;

/// The `ID` of the lifecycle rule deploykit owns (the uploads prefix rule).
pub const LIFECYCLE_RULE_ID: &str = "deploykit-uploads";

/// The Object Ownership setting that disables ACLs.
pub const OWNER_ENFORCED: &str = "BucketOwnerEnforced";

/// What the app's bucket should look like.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BucketSpec {
    pub name: String,
    /// The target's region: where the bucket is created, and must be.
    pub region: String,
    /// The 12-digit account that must own the bucket (STS `GetCallerIdentity`); sent as
    /// `ExpectedBucketOwner` on every call that takes it.
    pub expected_owner: String,
    pub encryption: Encryption,
    /// Keep the TLS-only statement in the bucket policy. `false` removes deploykit's statement
    /// (others' are kept): for the local cloud, whose endpoint is plain HTTP, where moto
    /// enforces the statement and would refuse every object request.
    pub tls_only: bool,
    /// `None`: CORS is not managed (left as it is). `Some(vec![])`: no CORS.
    pub cors: Option<Vec<CorsRule>>,
    /// The lifecycle rule for the uploads prefix; `None`: deploykit's rule is removed if there.
    pub uploads_lifecycle: Option<UploadsLifecycle>,
}

/// Default encryption of new objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Encryption {
    /// SSE-S3, `AES256`.
    SseS3,
    /// SSE-KMS with this key (id, ARN or `alias/...`), with an S3 Bucket Key.
    SseKms { key_id: String },
}

impl fmt::Display for Encryption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Encryption::SseS3 => f.write_str("SSE-S3 (AES256)"),
            Encryption::SseKms { key_id } => write!(f, "SSE-KMS ({key_id})"),
        }
    }
}

/// One CORS rule, as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct CorsRule {
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    pub allowed_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age_seconds: Option<i32>,
}

/// The lifecycle rule for the prefix the app writes uploads under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadsLifecycle {
    pub prefix: String,
    /// Objects under the prefix expire this many days after creation.
    pub expire_days: Option<i32>,
    /// Incomplete multipart uploads under the prefix are aborted after this many days.
    pub abort_incomplete_multipart_days: Option<i32>,
}

impl UploadsLifecycle {
    /// The rule as S3 stores it.
    pub fn to_rule(&self) -> LifecycleRule {
        let mut b = LifecycleRule::builder()
            .id(LIFECYCLE_RULE_ID)
            .status(ExpirationStatus::Enabled)
            .filter(LifecycleRuleFilter::builder().prefix(&self.prefix).build());
        if let Some(d) = self.expire_days {
            b = b.expiration(LifecycleExpiration::builder().days(d).build());
        }
        if let Some(d) = self.abort_incomplete_multipart_days {
            b = b.abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(d)
                    .build(),
            );
        }
        // Only a missing status fails to build, and it is set above.
        b.build().expect("the status is set")
    }

    /// Reads a stored rule back; `None` when it is anything but what [`to_rule`](Self::to_rule)
    /// writes (disabled, other filters, transitions, ...).
    pub fn from_rule(r: &LifecycleRule) -> Option<UploadsLifecycle> {
        let plain = *r.status() == ExpirationStatus::Enabled
            && r.transitions().is_empty()
            && r.noncurrent_version_transitions().is_empty()
            && r.noncurrent_version_expiration().is_none()
            && r.expiration().is_none_or(|e| {
                e.date().is_none() && e.expired_object_delete_marker() != Some(true)
            });
        // The top-level `Prefix` is deprecated but still returned for rules written with it.
        #[allow(deprecated)]
        let legacy_prefix = r.prefix();
        let prefix = match (r.filter(), legacy_prefix) {
            (Some(f), _)
                if f.tag().is_none()
                    && f.and().is_none()
                    && f.object_size_greater_than().is_none()
                    && f.object_size_less_than().is_none() =>
            {
                f.prefix().unwrap_or_default()
            }
            (None, Some(p)) => p,
            _ => return None,
        };
        plain.then(|| UploadsLifecycle {
            prefix: prefix.to_owned(),
            expire_days: r.expiration().and_then(|e| e.days()),
            abort_incomplete_multipart_days: r
                .abort_incomplete_multipart_upload()
                .and_then(|a| a.days_after_initiation()),
        })
    }
}

/// Whether the bucket answered `HeadBucket` for the expected owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Existence {
    /// 404: no such bucket.
    Missing,
    /// It exists and belongs to the expected owner.
    Owned,
    /// 403: someone else's bucket, or these credentials may not read it.
    NotAccessible,
}

/// The four Block Public Access settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    pub const ALL_ON: PublicAccessBlock = PublicAccessBlock {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };

    /// The names of the settings that are off, as S3 spells them.
    pub fn off(&self) -> Vec<String> {
        [
            ("BlockPublicAcls", self.block_public_acls),
            ("IgnorePublicAcls", self.ignore_public_acls),
            ("BlockPublicPolicy", self.block_public_policy),
            ("RestrictPublicBuckets", self.restrict_public_buckets),
        ]
        .into_iter()
        .filter(|(_, on)| !on)
        .map(|(n, _)| n.to_owned())
        .collect()
    }
}

/// Default encryption as S3 reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedEncryption {
    /// `AES256`, `aws:kms`, `aws:kms:dsse`.
    pub algorithm: String,
    pub kms_key_id: Option<String>,
}

impl ObservedEncryption {
    fn matches(&self, want: &Encryption) -> bool {
        match want {
            Encryption::SseS3 => self.algorithm == "AES256",
            Encryption::SseKms { key_id } => {
                self.algorithm == "aws:kms" && self.kms_key_id.as_deref() == Some(key_id.as_str())
            }
        }
    }
}

impl fmt::Display for ObservedEncryption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kms_key_id {
            Some(k) => write!(f, "{} ({k})", self.algorithm),
            None => f.write_str(&self.algorithm),
        }
    }
}

/// What S3 says about the bucket. Absent configurations are empty values here.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedBucket {
    pub existence: Existence,
    /// The bucket's region from `HeadBucket`, when it exists.
    pub region: Option<String>,
    pub public_access_block: PublicAccessBlock,
    pub encryption: Option<ObservedEncryption>,
    /// `BucketOwnerEnforced`, `BucketOwnerPreferred`, `ObjectWriter`; `None` when unset.
    pub object_ownership: Option<String>,
    /// The policy JSON, as stored.
    pub policy: Option<String>,
    pub cors: Vec<CorsRule>,
    /// Every lifecycle rule, others' included (they are kept when ours is written).
    pub lifecycle: Vec<LifecycleRule>,
}

impl ObservedBucket {
    /// A bucket that is not there (or not ours to read): nothing configured.
    pub fn absent(existence: Existence) -> Self {
        ObservedBucket {
            existence,
            region: None,
            public_access_block: PublicAccessBlock::default(),
            encryption: None,
            object_ownership: None,
            policy: None,
            cors: Vec::new(),
            lifecycle: Vec::new(),
        }
    }
}

/// One difference between the bucket and its desired state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "drift", rename_all = "kebab-case")]
pub enum Drift {
    /// The bucket does not exist.
    Missing,
    /// `HeadBucket` was refused: someone else's bucket, or no permission to read it.
    NotAccessible,
    /// The bucket is in another region (cannot be fixed: buckets do not move).
    WrongRegion {
        actual: String,
    },
    /// These Block Public Access settings are off.
    PublicAccessBlockOff {
        settings: Vec<String>,
    },
    EncryptionMissing,
    EncryptionDiffers {
        expected: String,
        actual: String,
    },
    /// Object Ownership is not `BucketOwnerEnforced` (ACLs are in effect).
    OwnershipNotEnforced {
        actual: Option<String>,
    },
    /// The policy lacks the TLS-only statement.
    PolicyMissingStatement,
    /// The TLS-only statement was changed.
    PolicyStatementChanged,
    /// The TLS-only statement is there but not wanted (`tls_only = false`).
    PolicyStatementUnwanted,
    /// The policy is not a document deploykit can merge into (cannot be fixed here).
    PolicyUnreadable {
        reason: String,
    },
    CorsDiffers {
        expected_rules: usize,
        actual_rules: usize,
    },
    /// The uploads lifecycle rule is configured but absent.
    LifecycleMissing,
    /// deploykit's lifecycle rule differs from the configured one.
    LifecycleDiffers,
    /// deploykit's lifecycle rule is there but no longer configured.
    LifecycleUnwanted,
}

impl Drift {
    /// Whether [`ensure_bucket`] can fix it; a plan with unfixable drift is refused whole.
    pub fn fixable(&self) -> bool {
        !matches!(
            self,
            Drift::WrongRegion { .. } | Drift::PolicyUnreadable { .. }
        )
    }
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Drift::Missing => f.write_str("the bucket does not exist"),
            Drift::NotAccessible => f.write_str(
                "the bucket exists but cannot be read with these credentials (another account's?)",
            ),
            Drift::WrongRegion { actual } => write!(f, "the bucket is in region {actual}"),
            Drift::PublicAccessBlockOff { settings } => {
                write!(f, "Block Public Access is off: {}", settings.join(", "))
            }
            Drift::EncryptionMissing => f.write_str("default encryption is not configured"),
            Drift::EncryptionDiffers { expected, actual } => {
                write!(f, "default encryption is {actual}, expected {expected}")
            }
            Drift::OwnershipNotEnforced { actual } => write!(
                f,
                "Object Ownership is {}, not BucketOwnerEnforced (ACLs are in effect)",
                actual.as_deref().unwrap_or("unset")
            ),
            Drift::PolicyMissingStatement => {
                write!(
                    f,
                    "the bucket policy lacks the TLS-only statement ({TLS_STATEMENT_SID})"
                )
            }
            Drift::PolicyStatementChanged => {
                write!(
                    f,
                    "the bucket policy's TLS-only statement ({TLS_STATEMENT_SID}) was changed"
                )
            }
            Drift::PolicyStatementUnwanted => write!(
                f,
                "the bucket policy has the TLS-only statement ({TLS_STATEMENT_SID}) but TLS is not required here"
            ),
            Drift::PolicyUnreadable { reason } => {
                write!(f, "the bucket policy cannot be merged: {reason}")
            }
            Drift::CorsDiffers {
                expected_rules,
                actual_rules,
            } => write!(
                f,
                "CORS differs from the configuration ({actual_rules} rule(s), expected {expected_rules})"
            ),
            Drift::LifecycleMissing => write!(
                f,
                "the uploads lifecycle rule ({LIFECYCLE_RULE_ID}) is missing"
            ),
            Drift::LifecycleDiffers => write!(
                f,
                "the uploads lifecycle rule ({LIFECYCLE_RULE_ID}) differs from the configuration"
            ),
            Drift::LifecycleUnwanted => write!(
                f,
                "the uploads lifecycle rule ({LIFECYCLE_RULE_ID}) is no longer configured"
            ),
        }
    }
}

/// One mutating call.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum BucketStep {
    /// CreateBucket (LocationConstraint except in us-east-1); adopts a bucket we already own.
    Create {
        region: String,
    },
    PutOwnershipControls,
    PutPublicAccessBlock,
    PutEncryption {
        encryption: Encryption,
    },
    /// PutBucketPolicy with the merged document.
    PutPolicy {
        document: String,
    },
    /// DeleteBucketPolicy: deploykit's statement was the only one and is not wanted.
    DeletePolicy,
    PutCors {
        rules: Vec<CorsRule>,
    },
    DeleteCors,
    /// PutBucketLifecycleConfiguration: others' rules (`kept`, by id) plus ours (if any).
    PutLifecycle {
        ours: Option<UploadsLifecycle>,
        kept: Vec<String>,
        #[serde(skip)]
        rules: Vec<LifecycleRule>,
    },
    DeleteLifecycle,
}

impl fmt::Display for BucketStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BucketStep::Create { region } => write!(f, "create the bucket in {region}"),
            BucketStep::PutOwnershipControls => {
                f.write_str("set Object Ownership to BucketOwnerEnforced (ACLs off)")
            }
            BucketStep::PutPublicAccessBlock => {
                f.write_str("turn on all four Block Public Access settings")
            }
            BucketStep::PutEncryption { encryption } => {
                write!(f, "set default encryption to {encryption}")
            }
            BucketStep::PutPolicy { .. } => write!(
                f,
                "put the bucket policy with the TLS-only statement ({TLS_STATEMENT_SID}), other statements kept"
            ),
            BucketStep::DeletePolicy => write!(
                f,
                "delete the bucket policy (only {TLS_STATEMENT_SID} was in it)"
            ),
            BucketStep::PutCors { rules } => write!(f, "put {} CORS rule(s)", rules.len()),
            BucketStep::DeleteCors => f.write_str("delete the CORS configuration"),
            BucketStep::PutLifecycle { ours, kept, .. } => match ours {
                Some(o) => write!(
                    f,
                    "put the lifecycle rule {LIFECYCLE_RULE_ID} for {}, {} other rule(s) kept",
                    o.prefix,
                    kept.len()
                ),
                None => write!(
                    f,
                    "remove the lifecycle rule {LIFECYCLE_RULE_ID}, {} other rule(s) kept",
                    kept.len()
                ),
            },
            BucketStep::DeleteLifecycle => write!(
                f,
                "delete the lifecycle configuration (only {LIFECYCLE_RULE_ID} was in it)"
            ),
        }
    }
}

/// The differences found and the calls that fix them, in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BucketPlan {
    pub bucket: String,
    pub drift: Vec<Drift>,
    pub steps: Vec<BucketStep>,
}

impl BucketPlan {
    /// Nothing to change.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty() && self.drift.is_empty()
    }

    /// Drift that no step can fix (the apply refuses the whole plan).
    pub fn unfixable(&self) -> Vec<&Drift> {
        self.drift.iter().filter(|d| !d.fixable()).collect()
    }
}

/// Compares the desired state with the observed one: what differs and what to call. Pure.
///
/// A missing (or unreadable) bucket plans its creation and then every setting, as if nothing
/// were configured; [`ensure_bucket`] observes again after creating, so an adopted bucket's
/// existing settings are kept where they already match.
pub fn plan_bucket(desired: &BucketSpec, observed: &ObservedBucket) -> BucketPlan {
    let mut drift = Vec::new();
    let mut steps = Vec::new();
    let empty;
    let observed = match observed.existence {
        Existence::Owned => observed,
        Existence::Missing | Existence::NotAccessible => {
            drift.push(if observed.existence == Existence::Missing {
                Drift::Missing
            } else {
                Drift::NotAccessible
            });
            steps.push(BucketStep::Create {
                region: desired.region.clone(),
            });
            empty = ObservedBucket::absent(observed.existence);
            &empty
        }
    };
    let fresh = observed.existence != Existence::Owned;
    let mut note = |d: Drift, s: Option<BucketStep>| {
        if !fresh {
            drift.push(d);
        }
        steps.extend(s);
    };

    // A bucket elsewhere cannot be configured from here: that is the only finding.
    if let Some(actual) = &observed.region
        && actual != &desired.region
    {
        return BucketPlan {
            bucket: desired.name.clone(),
            drift: vec![Drift::WrongRegion {
                actual: actual.clone(),
            }],
            steps: Vec::new(),
        };
    }
    if observed.object_ownership.as_deref() != Some(OWNER_ENFORCED) {
        note(
            Drift::OwnershipNotEnforced {
                actual: observed.object_ownership.clone(),
            },
            Some(BucketStep::PutOwnershipControls),
        );
    }
    let off = observed.public_access_block.off();
    if !off.is_empty() {
        note(
            Drift::PublicAccessBlockOff { settings: off },
            Some(BucketStep::PutPublicAccessBlock),
        );
    }
    let put_enc = Some(BucketStep::PutEncryption {
        encryption: desired.encryption.clone(),
    });
    match &observed.encryption {
        None => note(Drift::EncryptionMissing, put_enc),
        Some(e) if !e.matches(&desired.encryption) => note(
            Drift::EncryptionDiffers {
                expected: desired.encryption.to_string(),
                actual: e.to_string(),
            },
            put_enc,
        ),
        Some(_) => {}
    }
    if desired.tls_only {
        plan_tls_policy(desired, observed, &mut note);
    } else {
        match policy::remove_statement(observed.policy.as_deref(), TLS_STATEMENT_SID) {
            Ok(None) => {}
            Ok(Some(policy::Removal::Put { document })) => note(
                Drift::PolicyStatementUnwanted,
                Some(BucketStep::PutPolicy { document }),
            ),
            Ok(Some(policy::Removal::Delete)) => note(
                Drift::PolicyStatementUnwanted,
                Some(BucketStep::DeletePolicy),
            ),
            Err(reason) => note(Drift::PolicyUnreadable { reason }, None),
        }
    }
    if let Some(want) = &desired.cors
        && want != &observed.cors
    {
        let step = if want.is_empty() {
            BucketStep::DeleteCors
        } else {
            BucketStep::PutCors {
                rules: want.clone(),
            }
        };
        // Creating a bucket with an empty CORS list configured changes nothing.
        if !(fresh && want.is_empty()) {
            note(
                Drift::CorsDiffers {
                    expected_rules: want.len(),
                    actual_rules: observed.cors.len(),
                },
                Some(step),
            );
        }
    }
    plan_lifecycle(desired, observed, &mut note);
    BucketPlan {
        bucket: desired.name.clone(),
        drift,
        steps,
    }
}

fn plan_tls_policy(
    desired: &BucketSpec,
    observed: &ObservedBucket,
    note: &mut impl FnMut(Drift, Option<BucketStep>),
) {
    let ours = policy::tls_only_statement(&desired.name, &desired.region);
    match policy::check_policy(observed.policy.as_deref(), &ours) {
        Ok(policy::PolicyCheck::Present) => {}
        Ok(policy::PolicyCheck::Missing { document }) => note(
            Drift::PolicyMissingStatement,
            Some(BucketStep::PutPolicy { document }),
        ),
        Ok(policy::PolicyCheck::Changed { document }) => note(
            Drift::PolicyStatementChanged,
            Some(BucketStep::PutPolicy { document }),
        ),
        Err(reason) => note(Drift::PolicyUnreadable { reason }, None),
    }
}

fn plan_lifecycle(
    desired: &BucketSpec,
    observed: &ObservedBucket,
    note: &mut impl FnMut(Drift, Option<BucketStep>),
) {
    let is_ours = |r: &LifecycleRule| r.id() == Some(LIFECYCLE_RULE_ID);
    let others: Vec<LifecycleRule> = observed
        .lifecycle
        .iter()
        .filter(|r| !is_ours(r))
        .cloned()
        .collect();
    let kept: Vec<String> = others
        .iter()
        .map(|r| r.id().unwrap_or_default().to_owned())
        .collect();
    let theirs: Vec<&LifecycleRule> = observed.lifecycle.iter().filter(|r| is_ours(r)).collect();
    let current = match theirs.as_slice() {
        [] => None,
        [one] => Some(UploadsLifecycle::from_rule(one)),
        _ => Some(None),
    };
    let put = |ours: Option<UploadsLifecycle>| {
        let mut rules = others.clone();
        rules.extend(ours.as_ref().map(UploadsLifecycle::to_rule));
        if rules.is_empty() {
            BucketStep::DeleteLifecycle
        } else {
            BucketStep::PutLifecycle {
                ours,
                kept: kept.clone(),
                rules,
            }
        }
    };
    match (&desired.uploads_lifecycle, current) {
        (None, None) => {}
        (None, Some(_)) => note(Drift::LifecycleUnwanted, Some(put(None))),
        (Some(want), None) => note(Drift::LifecycleMissing, Some(put(Some(want.clone())))),
        (Some(want), Some(have)) if have.as_ref() != Some(want) => {
            note(Drift::LifecycleDiffers, Some(put(Some(want.clone()))))
        }
        (Some(_), Some(_)) => {}
    }
}
