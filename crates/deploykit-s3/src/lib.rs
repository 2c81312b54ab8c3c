//! S3 for deploykit: the app's bucket (desired state, drift, idempotent ensure), the app's
//! static files (content-hash sync), and single-object uploads (EB source bundles).
//!
//! Invariants:
//! - No request this crate sends carries an ACL (`x-amz-acl` or `x-amz-grant-*`): buckets have
//!   ACLs disabled (BucketOwnerEnforced), and an ACL on PUT fails there. The client returned
//!   by [`client`] also carries [`NoAclGuard`], which refuses such a request before it leaves
//!   the process, so a regression fails loudly in tests instead of in a user's account.
//! - Every call that accepts `ExpectedBucketOwner` on the app bucket sends it
//!   ([`bucket`], [`sync`]).
//! - Plan, then apply: [`bucket::plan_bucket`] and [`sync::plan_static_sync`] are pure; the
//!   apply functions send exactly the planned calls, so a second run sends no mutating call.
//! - Uploads are content-addressed: each object stores its SHA-256 as `x-amz-meta-sha256`; an
//!   object that already holds the same SHA-256 is not sent again.
//! - Above [`UploadOptions::multipart_threshold`] a bundle goes up in parts, several at once,
//!   each read from disk on its own (bounded memory: `part_size * concurrency`).

pub mod bucket;
mod error;
pub mod sync;
mod upload;

pub use bucket::{
    BucketCheck, BucketPlan, BucketSpec, BucketStep, CorsRule, Drift, Encryption, EnsureOutcome,
    ObservedBucket, UploadsLifecycle, bucket_status, plan_bucket,
};
pub use deploykit_aws::{Classified, ErrorKind};
pub use error::S3Error;
pub use sync::{
    LocalFile, RemoteObject, SyncOptions, SyncPlan, SyncReport, SyncSummary, plan_static_sync,
    static_url, sync_static,
};
pub use upload::{
    BucketStatus, NoAclGuard, SHA256_METADATA_KEY, UploadOptions, UploadSummary, client,
    ensure_bucket, existing_sha256, has_acl_header, upload,
};

pub(crate) mod millis {
    use serde::Serializer;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}
