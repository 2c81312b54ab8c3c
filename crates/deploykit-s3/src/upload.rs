//! Single-object uploads (the EB source bundle path), the S3 client with its no-ACL guard, and
//! the simple existence check for a deploy bucket.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CompletedMultipartUpload, CompletedPart, CreateBucketConfiguration,
};
use deploykit_aws::{Classified, ErrorKind, classify};
use deploykit_report::{Event, Reporter, StepTimer, Unit};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::S3Error;

/// The object metadata key (`x-amz-meta-sha256`) holding the hex SHA-256 of the object.
pub const SHA256_METADATA_KEY: &str = "sha256";

/// Builds an S3 client from the shared config, with the no-ACL guard installed.
///
/// `force_path_style` is needed for loopback endpoints (the local cloud) where
/// `<bucket>.127.0.0.1` does not resolve.
pub fn client(sdk: &aws_types::SdkConfig, force_path_style: bool) -> Client {
    let conf = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(force_path_style)
        .interceptor(NoAclGuard)
        .build();
    Client::from_conf(conf)
}

/// Refuses any request that carries an ACL header. Installed by [`client`].
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAclGuard;

/// True if the headers would set an ACL on a bucket or object.
pub fn has_acl_header<'a>(mut names: impl Iterator<Item = &'a str>) -> bool {
    names.any(|n| {
        let n = n.to_ascii_lowercase();
        n == "x-amz-acl" || n.starts_with("x-amz-grant-")
    })
}

impl Intercept for NoAclGuard {
    fn name(&self) -> &'static str {
        "deploykit-no-acl-guard"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let req = context.request();
        if has_acl_header(req.headers().iter().map(|(k, _)| k)) {
            return Err(
                "refusing to send an S3 request with an ACL header: buckets have ACLs \
                        disabled (BucketOwnerEnforced); this is a deploykit bug"
                    .into(),
            );
        }
        Ok(())
    }
}

/// What [`ensure_bucket`] found or did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BucketStatus {
    Existed,
    Created,
}

/// Makes sure a deploy bucket (EB source bundles) exists and is ours; creates it (no ACL) in
/// `region` when missing. Existence only: the app's bucket, with its whole desired state
/// (public access, encryption, ownership, policy, CORS, lifecycle), is
/// [`crate::bucket::ensure_bucket`].
pub async fn ensure_bucket(
    client: &Client,
    bucket: &str,
    region: &str,
    reporter: &dyn Reporter,
) -> Result<BucketStatus, S3Error> {
    match client.head_bucket().bucket(bucket).send().await {
        Ok(_) => return Ok(BucketStatus::Existed),
        Err(e) => {
            let c = classify(&e);
            match c.kind {
                ErrorKind::NotFound => {}
                ErrorKind::AccessDenied => {
                    return Err(S3Error::BucketTakenByOther {
                        bucket: bucket.to_string(),
                    });
                }
                _ => {
                    return Err(S3Error::Aws {
                        op: "HeadBucket",
                        bucket: bucket.to_string(),
                        key: String::new(),
                        error: Box::new(c),
                    });
                }
            }
        }
    }
    let timer = StepTimer::start(reporter, "bucket", format!("Creating bucket s3://{bucket}"));
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
            Ok(BucketStatus::Created)
        }
        Err(e) => {
            let c = classify(&e);
            if c.code.as_deref() == Some("BucketAlreadyOwnedByYou") {
                timer.finish(reporter, format!("s3://{bucket} already ours"));
                return Ok(BucketStatus::Existed);
            }
            if c.code.as_deref() == Some("BucketAlreadyExists") {
                return Err(S3Error::BucketTakenByOther {
                    bucket: bucket.to_string(),
                });
            }
            Err(S3Error::Aws {
                op: "CreateBucket",
                bucket: bucket.to_string(),
                key: String::new(),
                error: Box::new(c),
            })
        }
    }
}

/// Tuning for [`upload`].
#[derive(Debug, Clone)]
pub struct UploadOptions {
    /// Files at least this large go up as a multipart upload.
    pub multipart_threshold: u64,
    /// Size of each part (S3 minimum 5 MiB except the last).
    pub part_size: u64,
    /// Parts in flight at once.
    pub concurrency: usize,
    /// The step name used in progress events.
    pub step: String,
}

impl Default for UploadOptions {
    fn default() -> Self {
        Self {
            multipart_threshold: 16 * 1024 * 1024,
            part_size: 16 * 1024 * 1024,
            concurrency: 4,
            step: "upload".to_string(),
        }
    }
}

/// What [`upload`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadSummary {
    pub bucket: String,
    pub key: String,
    /// Bytes sent over the wire (0 when skipped).
    pub bytes_uploaded: u64,
    /// Size of the file.
    pub size: u64,
    /// True when an object with the same SHA-256 was already there.
    pub skipped: bool,
    /// Number of parts (0 for a single PUT or a skip).
    pub parts: usize,
    #[serde(with = "crate::millis")]
    pub elapsed: Duration,
}

/// The SHA-256 an existing object claims (from its `x-amz-meta-sha256`), `None` if the object
/// is missing or has no such metadata.
pub async fn existing_sha256(
    client: &Client,
    bucket: &str,
    key: &str,
) -> Result<Option<String>, S3Error> {
    match client.head_object().bucket(bucket).key(key).send().await {
        Ok(out) => Ok(out
            .metadata()
            .and_then(|m| m.get(SHA256_METADATA_KEY))
            .map(|s| s.to_ascii_lowercase())),
        Err(e) => {
            if e.as_service_error().is_some_and(|s| s.is_not_found()) {
                return Ok(None);
            }
            let c = classify(&e);
            if c.kind == ErrorKind::NotFound {
                return Ok(None);
            }
            Err(S3Error::Aws {
                op: "HeadObject",
                bucket: bucket.to_string(),
                key: key.to_string(),
                error: Box::new(c),
            })
        }
    }
}

/// Uploads `path` to `s3://bucket/key` unless an object with the same `sha256` (hex) is there.
pub async fn upload(
    client: &Client,
    path: &Path,
    bucket: &str,
    key: &str,
    sha256: &str,
    opts: &UploadOptions,
    reporter: &dyn Reporter,
) -> Result<UploadSummary, S3Error> {
    let started = Instant::now();
    let sha256 = sha256.to_ascii_lowercase();
    let size = tokio::fs::metadata(path)
        .await
        .map_err(|source| S3Error::Io {
            path: path.to_path_buf(),
            source,
        })?
        .len();
    let mut summary = UploadSummary {
        bucket: bucket.to_string(),
        key: key.to_string(),
        bytes_uploaded: 0,
        size,
        skipped: false,
        parts: 0,
        elapsed: Duration::ZERO,
    };
    if existing_sha256(client, bucket, key).await?.as_deref() == Some(sha256.as_str()) {
        reporter.report(Event::StepSkipped {
            step: opts.step.clone(),
            reason: format!("s3://{bucket}/{key} already holds this bundle (sha256 {sha256:.12})"),
        });
        summary.skipped = true;
        summary.elapsed = started.elapsed();
        return Ok(summary);
    }
    let timer = StepTimer::start(
        reporter,
        opts.step.clone(),
        format!(
            "Uploading {} ({size} bytes) to s3://{bucket}/{key}",
            path.display()
        ),
    );
    if size >= opts.multipart_threshold && size > opts.part_size {
        summary.parts = multipart(client, path, bucket, key, &sha256, size, opts, reporter).await?;
    } else {
        let body = ByteStream::from_path(path).await.map_err(|e| S3Error::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(e),
        })?;
        client
            .put_object()
            .bucket(bucket)
            .key(key)
            .metadata(SHA256_METADATA_KEY, &sha256)
            .content_type("application/zip")
            .body(body)
            .send()
            .await
            .map_err(|e| S3Error::Aws {
                op: "PutObject",
                bucket: bucket.to_string(),
                key: key.to_string(),
                error: Box::new(classify(&e)),
            })?;
        reporter.report(Event::Progress {
            step: opts.step.clone(),
            done: size,
            total: Some(size),
            unit: Unit::Bytes,
        });
    }
    summary.bytes_uploaded = size;
    summary.elapsed = started.elapsed();
    timer.finish(
        reporter,
        format!(
            "{size} bytes in {:.2}s{}",
            summary.elapsed.as_secs_f64(),
            if summary.parts > 0 {
                format!(" ({} parts)", summary.parts)
            } else {
                String::new()
            }
        ),
    );
    Ok(summary)
}

#[allow(clippy::too_many_arguments)]
async fn multipart(
    client: &Client,
    path: &Path,
    bucket: &str,
    key: &str,
    sha256: &str,
    size: u64,
    opts: &UploadOptions,
    reporter: &dyn Reporter,
) -> Result<usize, S3Error> {
    let aws = |op: &'static str| {
        move |e: Classified| S3Error::Aws {
            op,
            bucket: bucket.to_string(),
            key: key.to_string(),
            error: Box::new(e),
        }
    };
    let created = client
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .metadata(SHA256_METADATA_KEY, sha256)
        .content_type("application/zip")
        .send()
        .await
        .map_err(|e| aws("CreateMultipartUpload")(classify(&e)))?;
    let upload_id = created.upload_id().unwrap_or_default().to_string();
    let part_size = opts.part_size.max(5 * 1024 * 1024);
    let count = size.div_ceil(part_size);
    let done = Arc::new(AtomicU64::new(0));
    let sem = Arc::new(tokio::sync::Semaphore::new(opts.concurrency.max(1)));

    let result: Result<Vec<CompletedPart>, S3Error> = async {
        let mut set = tokio::task::JoinSet::new();
        let mut parts = Vec::new();
        for i in 0..count {
            let permit = sem
                .clone()
                .acquire_owned()
                .await
                .map_err(|e| S3Error::Part {
                    bucket: bucket.to_string(),
                    key: key.to_string(),
                    part: 0,
                    reason: e.to_string(),
                })?;
            let (client, path, bucket_s, key_s, upload_id) = (
                client.clone(),
                path.to_path_buf(),
                bucket.to_string(),
                key.to_string(),
                upload_id.clone(),
            );
            let offset = i * part_size;
            let len = part_size.min(size - offset);
            let part_number = i32::try_from(i + 1).unwrap_or(i32::MAX);
            let done_t = done.clone();
            set.spawn(async move {
                let _permit = permit;
                let mut buf = vec![0u8; usize::try_from(len).unwrap_or(usize::MAX)];
                let io = |source| S3Error::Io {
                    path: path.clone(),
                    source,
                };
                let mut f = tokio::fs::File::open(&path).await.map_err(io)?;
                f.seek(std::io::SeekFrom::Start(offset)).await.map_err(io)?;
                f.read_exact(&mut buf).await.map_err(io)?;
                let out = client
                    .upload_part()
                    .bucket(&bucket_s)
                    .key(&key_s)
                    .upload_id(&upload_id)
                    .part_number(part_number)
                    .body(ByteStream::from(buf))
                    .send()
                    .await
                    .map_err(|e| S3Error::Aws {
                        op: "UploadPart",
                        bucket: bucket_s.clone(),
                        key: key_s.clone(),
                        error: Box::new(classify(&e)),
                    })?;
                done_t.fetch_add(len, Ordering::Relaxed);
                Ok::<_, S3Error>(
                    CompletedPart::builder()
                        .part_number(part_number)
                        .set_e_tag(out.e_tag().map(str::to_string))
                        .build(),
                )
            });
            // Report progress and surface failures as parts finish.
            while let Some(r) = set.try_join_next() {
                parts.push(collect(r, bucket, key)?);
                report_progress(reporter, &opts.step, &done, size);
            }
        }
        while let Some(r) = set.join_next().await {
            parts.push(collect(r, bucket, key)?);
            report_progress(reporter, &opts.step, &done, size);
        }
        parts.sort_by_key(|p| p.part_number());
        Ok(parts)
    }
    .await;

    let parts = match result {
        Ok(p) => p,
        Err(e) => {
            let _ = client
                .abort_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await;
            return Err(e);
        }
    };
    let n = parts.len();
    client
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws("CompleteMultipartUpload")(classify(&e)))?;
    Ok(n)
}

fn collect(
    r: Result<Result<CompletedPart, S3Error>, tokio::task::JoinError>,
    bucket: &str,
    key: &str,
) -> Result<CompletedPart, S3Error> {
    r.map_err(|e| S3Error::Part {
        bucket: bucket.to_string(),
        key: key.to_string(),
        part: 0,
        reason: e.to_string(),
    })?
}

fn report_progress(reporter: &dyn Reporter, step: &str, done: &AtomicU64, size: u64) {
    reporter.report(Event::Progress {
        step: step.to_string(),
        done: done.load(Ordering::Relaxed),
        total: Some(size),
        unit: Unit::Bytes,
    });
}
