//! The app's bucket (`[s3]`): ensure and status with drift, and the static files' sync.

use deploykit_config::ResolvedTarget;
use deploykit_report::Reporter;
use deploykit_s3::bucket::{
    BucketCheck, BucketSpec, CorsRule, Encryption, EnsureOutcome, UploadsLifecycle,
};
use deploykit_s3::{SyncOptions, SyncReport};

use crate::{Error, Result, Session};

/// The target's app bucket: its desired state and a client, owner checked with STS.
#[derive(Debug)]
pub struct AppBucket {
    pub spec: BucketSpec,
    config: deploykit_config::S3,
    client: aws_sdk_s3::Client,
}

/// `[s3]` as deploykit-s3's spec; the expected owner is the account STS reports.
pub fn bucket_spec(t: &ResolvedTarget, s3: &deploykit_config::S3, owner: &str) -> BucketSpec {
    BucketSpec {
        name: s3.bucket.clone(),
        region: t.region.clone(),
        expected_owner: owner.to_string(),
        encryption: s3
            .kms_key
            .clone()
            .map_or(Encryption::SseS3, |key_id| Encryption::SseKms { key_id }),
        // The local cloud is plain HTTP: moto would refuse every object request.
        tls_only: !t.local,
        cors: s3.cors.as_ref().map(|rules| {
            rules
                .iter()
                .map(|c| CorsRule {
                    allowed_origins: c.allowed_origins.clone(),
                    allowed_methods: c.allowed_methods.clone(),
                    allowed_headers: c.allowed_headers.clone(),
                    expose_headers: c.expose_headers.clone(),
                    max_age_seconds: c.max_age_seconds.and_then(|s| i32::try_from(s).ok()),
                })
                .collect()
        }),
        uploads_lifecycle: s3.uploads_prefix.clone().map(|prefix| UploadsLifecycle {
            prefix,
            expire_days: s3.uploads_expire_days.and_then(|d| i32::try_from(d).ok()),
            abort_incomplete_multipart_days: s3
                .uploads_abort_multipart_days
                .and_then(|d| i32::try_from(d).ok()),
        }),
    }
}

impl AppBucket {
    /// The target's `[s3]` bucket; refused when deploy.toml has no `[s3]` section.
    pub async fn for_session(s: &Session) -> Result<AppBucket> {
        let t = &s.target;
        let Some(config) = t.s3.clone() else {
            return Err(Error::NoS3Section {
                target: t.name.clone(),
            });
        };
        let me = s.caller().await?;
        Ok(AppBucket {
            spec: bucket_spec(t, &config, &me.account),
            client: deploykit_s3::client(&s.sdk, t.local || t.endpoint_url.is_some()),
            config,
        })
    }

    /// The bucket as it is: drift from the spec and the plan that would fix it. Reads only.
    pub async fn status(&self) -> Result<BucketCheck> {
        Ok(deploykit_s3::bucket_status(&self.client, &self.spec).await?)
    }

    /// Creates or adopts the bucket and applies only what differs; a second run changes nothing.
    pub async fn ensure(&self, r: &dyn Reporter) -> Result<EnsureOutcome> {
        Ok(deploykit_s3::bucket::ensure_bucket(&self.client, &self.spec, r).await?)
    }

    /// Uploads the app's static directory (skipping unchanged objects; `delete` removes
    /// objects under the static prefix that have no local file).
    pub async fn sync_static(
        &self,
        delete: bool,
        dry_run: bool,
        r: &dyn Reporter,
    ) -> Result<SyncReport> {
        let opts = SyncOptions {
            prefix: self.config.static_prefix.clone(),
            delete,
            default_cache_control: self.config.static_cache_control.clone(),
            ..SyncOptions::default()
        };
        Ok(deploykit_s3::sync_static(
            &self.client,
            &self.spec.name,
            &self.spec.expected_owner,
            &self.config.static_dir,
            &opts,
            dry_run,
            r,
        )
        .await?)
    }
}
