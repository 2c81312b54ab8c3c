//! Walk and hash the static directory, list and describe the remote objects, apply the plan.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use deploykit_aws::{ErrorKind, classify};
use deploykit_report::{Event, Reporter, StepTimer, Unit};
use futures_util::StreamExt;
use serde::Serialize;
use sha2::Digest as _;

use super::{LocalFile, RemoteObject, SyncOptions, SyncPlan, plan_static_sync};
use crate::{S3Error, SHA256_METADATA_KEY};

const STEP: &str = "static-sync";

/// The counts and bytes of a sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncSummary {
    pub uploaded: usize,
    pub unchanged: usize,
    pub deleted: usize,
    pub bytes_uploaded: u64,
    pub bytes_unchanged: u64,
    #[serde(with = "crate::millis")]
    pub elapsed: Duration,
}

/// The plan, and what applying it did (`None` for a dry run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    pub bucket: String,
    pub prefix: String,
    pub plan: SyncPlan,
    pub summary: Option<SyncSummary>,
}

/// Every regular file under `dir` (links followed; names starting with `.` skipped), hashed,
/// keyed `prefix + relative/path`, sorted by key.
pub async fn local_files(dir: &Path, prefix: &str) -> Result<Vec<LocalFile>, S3Error> {
    let dir = dir.to_path_buf();
    let prefix = prefix.to_owned();
    tokio::task::spawn_blocking(move || walk(&dir, &prefix))
        .await
        .map_err(|e| S3Error::Task {
            what: "hashing the static files".into(),
            reason: e.to_string(),
        })?
}

fn walk(dir: &Path, prefix: &str) -> Result<Vec<LocalFile>, S3Error> {
    let bad = |reason: &str| S3Error::StaticDir {
        path: dir.to_path_buf(),
        reason: reason.to_owned(),
    };
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(bad("is not a directory")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(bad("does not exist")),
        Err(source) => {
            return Err(S3Error::Io {
                path: dir.to_path_buf(),
                source,
            });
        }
    }
    let mut files = Vec::new();
    let walker = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walker {
        let entry = entry.map_err(|e| S3Error::Io {
            path: e
                .path()
                .map_or_else(|| dir.to_path_buf(), Path::to_path_buf),
            source: e.into(),
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry.path().strip_prefix(dir).unwrap_or(entry.path());
        let mut parts = Vec::new();
        for c in rel.components() {
            match c.as_os_str().to_str() {
                Some(s) => parts.push(s),
                None => {
                    return Err(S3Error::StaticDir {
                        path: entry.path().to_path_buf(),
                        reason: "the file name is not UTF-8, so it cannot be an S3 key".into(),
                    });
                }
            }
        }
        let (sha256, md5, size) = hash(entry.path())?;
        files.push(LocalFile {
            key: format!("{prefix}{}", parts.join("/")),
            path: entry.path().to_path_buf(),
            size,
            sha256,
            md5,
        });
    }
    files.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(files)
}

fn hash(path: &Path) -> Result<(String, String, u64), S3Error> {
    let io = |source| S3Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut sha = sha2::Sha256::new();
    let mut md5 = <md5::Md5 as md5::Digest>::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        md5::Digest::update(&mut md5, &buf[..n]);
        size += n as u64;
    }
    Ok((
        hex::encode(sha.finalize()),
        hex::encode(md5::Digest::finalize(md5)),
        size,
    ))
}

/// Every object under `prefix` (ListObjectsV2, all pages); the ones whose key is in
/// `describe` also get `HeadObject` (SHA-256 metadata, Content-Type, Cache-Control),
/// `concurrency` at a time.
pub async fn remote_objects(
    client: &Client,
    bucket: &str,
    expected_owner: &str,
    prefix: &str,
    describe: &BTreeSet<String>,
    concurrency: usize,
) -> Result<Vec<RemoteObject>, S3Error> {
    let mut listed = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = client
            .list_objects_v2()
            .bucket(bucket)
            .expected_bucket_owner(expected_owner)
            .prefix(prefix)
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| S3Error::aws("ListObjectsV2", bucket, prefix, classify(&e)))?;
        for o in out.contents() {
            let Some(key) = o.key() else { continue };
            listed.push(RemoteObject {
                key: key.to_owned(),
                size: o.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                etag: o.e_tag().map(|e| e.trim_matches('"').to_owned()),
                ..RemoteObject::default()
            });
        }
        match out.next_continuation_token() {
            Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_owned()),
            _ => break,
        }
    }
    let mut described = futures_util::stream::iter(listed.into_iter().map(|r| async move {
        if !describe.contains(&r.key) {
            return Ok(r);
        }
        head(client, bucket, expected_owner, r).await
    }))
    .buffer_unordered(concurrency.max(1));
    let mut all = Vec::new();
    while let Some(r) = described.next().await {
        all.push(r?);
    }
    all.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(all)
}

async fn head(
    client: &Client,
    bucket: &str,
    expected_owner: &str,
    mut r: RemoteObject,
) -> Result<RemoteObject, S3Error> {
    match client
        .head_object()
        .bucket(bucket)
        .key(&r.key)
        .expected_bucket_owner(expected_owner)
        .send()
        .await
    {
        Ok(h) => {
            r.sha256 = h
                .metadata()
                .and_then(|m| m.get(SHA256_METADATA_KEY))
                .map(|s| s.to_ascii_lowercase());
            r.content_type = h.content_type().map(str::to_owned);
            r.cache_control = h.cache_control().map(str::to_owned);
            if let Some(e) = h.e_tag() {
                r.etag = Some(e.trim_matches('"').to_owned());
            }
            if let Some(len) = h.content_length().and_then(|l| u64::try_from(l).ok()) {
                r.size = len;
            }
            Ok(r)
        }
        Err(e) => {
            let c = classify(&e);
            if c.kind == ErrorKind::NotFound {
                // Deleted between the listing and now: nothing to compare with, so upload.
                r.etag = None;
                return Ok(r);
            }
            Err(S3Error::aws("HeadObject", bucket, r.key, c))
        }
    }
}

/// Walks `dir`, lists and describes the objects under the prefix, plans, and (unless
/// `dry_run`) applies the plan: uploads `opts.concurrency` at a time (Progress events in
/// files and in bytes), then deletes (with `opts.delete`). Nothing else is sent.
pub async fn sync_static(
    client: &Client,
    bucket: &str,
    expected_owner: &str,
    dir: &Path,
    opts: &SyncOptions,
    dry_run: bool,
    reporter: &dyn Reporter,
) -> Result<SyncReport, S3Error> {
    let started = Instant::now();
    if opts.delete && opts.prefix.is_empty() {
        return Err(S3Error::InvalidSpec {
            field: "static_prefix",
            reason: "deleting remote files needs a non-empty prefix: the bucket root also holds the app's uploads".into(),
        });
    }
    if !opts.prefix.is_empty() && !opts.prefix.ends_with('/') {
        return Err(S3Error::InvalidSpec {
            field: "static_prefix",
            reason: format!("`{}` must end with `/`", opts.prefix),
        });
    }
    let local = local_files(dir, &opts.prefix).await?;
    let keys: BTreeSet<String> = local.iter().map(|f| f.key.clone()).collect();
    let remote = remote_objects(
        client,
        bucket,
        expected_owner,
        &opts.prefix,
        &keys,
        opts.concurrency,
    )
    .await?;
    let plan = plan_static_sync(&local, &remote, opts);
    let mut report = SyncReport {
        bucket: bucket.to_owned(),
        prefix: opts.prefix.clone(),
        plan,
        summary: None,
    };
    if dry_run {
        return Ok(report);
    }
    let plan = &report.plan;
    if plan.is_empty() {
        reporter.report(Event::StepSkipped {
            step: STEP.into(),
            reason: format!(
                "s3://{bucket}/{}: {} file(s) unchanged",
                opts.prefix,
                plan.unchanged.len()
            ),
        });
    } else {
        let timer = StepTimer::start(
            reporter,
            STEP,
            format!(
                "Syncing {} to s3://{bucket}/{}: {} to upload ({} bytes), {} to delete, {} unchanged",
                dir.display(),
                opts.prefix,
                plan.uploads.len(),
                plan.upload_bytes(),
                plan.deletes.len(),
                plan.unchanged.len()
            ),
        );
        upload_all(
            client,
            bucket,
            expected_owner,
            plan,
            opts.concurrency,
            reporter,
        )
        .await?;
        delete_all(client, bucket, expected_owner, &plan.deletes).await?;
        timer.finish(
            reporter,
            format!(
                "{} uploaded ({} bytes), {} unchanged, {} deleted",
                plan.uploads.len(),
                plan.upload_bytes(),
                plan.unchanged.len(),
                plan.deletes.len()
            ),
        );
    }
    report.summary = Some(SyncSummary {
        uploaded: plan.uploads.len(),
        unchanged: plan.unchanged.len(),
        deleted: plan.deletes.len(),
        bytes_uploaded: plan.upload_bytes(),
        bytes_unchanged: plan.unchanged_bytes,
        elapsed: started.elapsed(),
    });
    Ok(report)
}

async fn upload_all(
    client: &Client,
    bucket: &str,
    expected_owner: &str,
    plan: &SyncPlan,
    concurrency: usize,
    reporter: &dyn Reporter,
) -> Result<(), S3Error> {
    let total_files = plan.uploads.len() as u64;
    let total_bytes = plan.upload_bytes();
    let mut stream = futures_util::stream::iter(plan.uploads.iter().map(|u| async move {
        let body = ByteStream::from_path(&u.path)
            .await
            .map_err(|e| S3Error::Io {
                path: u.path.clone(),
                source: std::io::Error::other(e),
            })?;
        client
            .put_object()
            .bucket(bucket)
            .key(&u.key)
            .expected_bucket_owner(expected_owner)
            .content_type(&u.content_type)
            .cache_control(&u.cache_control)
            .metadata(SHA256_METADATA_KEY, &u.sha256)
            .body(body)
            .send()
            .await
            .map_err(|e| S3Error::aws("PutObject", bucket, u.key.clone(), classify(&e)))?;
        Ok::<u64, S3Error>(u.size)
    }))
    .buffer_unordered(concurrency.max(1));
    let (mut files, mut bytes) = (0u64, 0u64);
    while let Some(r) = stream.next().await {
        bytes += r?;
        files += 1;
        reporter.report(Event::Progress {
            step: STEP.into(),
            done: files,
            total: Some(total_files),
            unit: Unit::Files,
        });
        reporter.report(Event::Progress {
            step: STEP.into(),
            done: bytes,
            total: Some(total_bytes),
            unit: Unit::Bytes,
        });
    }
    Ok(())
}

async fn delete_all(
    client: &Client,
    bucket: &str,
    expected_owner: &str,
    keys: &[String],
) -> Result<(), S3Error> {
    for chunk in keys.chunks(1000) {
        let objects = chunk
            .iter()
            .map(|k| ObjectIdentifier::builder().key(k).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| S3Error::Task {
                what: format!("building a delete request for s3://{bucket}"),
                reason: e.to_string(),
            })?;
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| S3Error::Task {
                what: format!("building a delete request for s3://{bucket}"),
                reason: e.to_string(),
            })?;
        let out = client
            .delete_objects()
            .bucket(bucket)
            .expected_bucket_owner(expected_owner)
            .delete(delete)
            .send()
            .await
            .map_err(|e| S3Error::aws("DeleteObjects", bucket, chunk[0].clone(), classify(&e)))?;
        if let Some(e) = out.errors().first() {
            return Err(S3Error::aws(
                "DeleteObjects",
                bucket,
                e.key().unwrap_or_default().to_owned(),
                deploykit_aws::Classified {
                    kind: if e.code() == Some("AccessDenied") {
                        ErrorKind::AccessDenied
                    } else {
                        ErrorKind::Other
                    },
                    code: e.code().map(str::to_owned),
                    message: e.message().map(str::to_owned),
                    request_id: None,
                },
            ));
        }
    }
    Ok(())
}
