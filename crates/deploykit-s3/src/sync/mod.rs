//! Static files: the app's static directory mirrored under a prefix of the bucket.
//!
//! [`plan_static_sync`] (pure) compares the local files with the remote objects: a file whose
//! SHA-256 (object metadata `x-amz-meta-sha256`) or, for objects without it, single-part ETag
//! (MD5) matches, and whose Content-Type and Cache-Control are the desired ones, is unchanged;
//! everything else is uploaded; with `delete`, remote objects under the prefix that have no
//! local file are deleted. [`sync_static`] walks, hashes, lists, plans and applies.

mod apply;
mod content;

use std::path::PathBuf;

use serde::Serialize;

pub use apply::{SyncReport, SyncSummary, local_files, remote_objects, sync_static};
pub use content::{
    CONTENT_TYPES, DEFAULT_CONTENT_TYPE, IMMUTABLE_CACHE_CONTROL, SHORT_CACHE_CONTROL,
    content_type, is_fingerprinted,
};

/// One file of the static directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocalFile {
    /// The object key: the prefix plus the path relative to the static directory, `/`-separated.
    pub key: String,
    pub path: PathBuf,
    pub size: u64,
    /// Lowercase hex SHA-256 of the content.
    pub sha256: String,
    /// Lowercase hex MD5 of the content (compared with single-part ETags only).
    pub md5: String,
}

/// One object under the prefix, as listed (and, for keys that exist locally, as `HeadObject`
/// describes it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct RemoteObject {
    pub key: String,
    pub size: u64,
    /// The ETag without quotes.
    pub etag: Option<String>,
    /// `x-amz-meta-sha256`, when the object carries it.
    pub sha256: Option<String>,
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
}

/// How to sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncOptions {
    /// Key prefix for the static files, `""` or ending in `/` (see [`normalize_prefix`]).
    pub prefix: String,
    /// Delete remote objects under the prefix that have no local file. Refused with an empty
    /// prefix: the bucket also holds the app's uploads.
    pub delete: bool,
    /// Cache-Control for names with a content hash (`app.3f9a2c1b.css`).
    pub immutable_cache_control: String,
    /// Cache-Control for every other name.
    pub default_cache_control: String,
    /// Uploads in flight at once.
    pub concurrency: usize,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            prefix: "static/".into(),
            delete: false,
            immutable_cache_control: IMMUTABLE_CACHE_CONTROL.into(),
            default_cache_control: SHORT_CACHE_CONTROL.into(),
            concurrency: 8,
        }
    }
}

impl SyncOptions {
    /// The Cache-Control an object of this key gets.
    pub fn cache_control_for(&self, key: &str) -> &str {
        let name = key.rsplit('/').next().unwrap_or(key);
        if is_fingerprinted(name) {
            &self.immutable_cache_control
        } else {
            &self.default_cache_control
        }
    }
}

/// `static`, `/static/` and `static/` are all `static/`; `""` and `/` are the bucket root.
pub fn normalize_prefix(prefix: &str) -> String {
    let p = prefix.trim_matches('/');
    if p.is_empty() {
        String::new()
    } else {
        format!("{p}/")
    }
}

/// Why a file is uploaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UploadReason {
    /// No object has this key.
    New,
    /// The content differs.
    Changed,
    /// Same content, but Content-Type or Cache-Control differs.
    Headers,
}

/// One PutObject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedUpload {
    pub key: String,
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
    pub content_type: String,
    pub cache_control: String,
    pub reason: UploadReason,
}

/// What a sync does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct SyncPlan {
    pub uploads: Vec<PlannedUpload>,
    /// Keys left as they are.
    pub unchanged: Vec<String>,
    pub unchanged_bytes: u64,
    /// Keys deleted (only with `delete`).
    pub deletes: Vec<String>,
    /// Remote keys with no local file, kept because `delete` is off.
    pub extra: Vec<String>,
}

impl SyncPlan {
    pub fn upload_bytes(&self) -> u64 {
        self.uploads.iter().map(|u| u.size).sum()
    }

    /// Nothing to upload or delete.
    pub fn is_empty(&self) -> bool {
        self.uploads.is_empty() && self.deletes.is_empty()
    }
}

/// Compares local files with remote objects. Pure. Keys outside the prefix are never deleted.
pub fn plan_static_sync(
    local: &[LocalFile],
    remote: &[RemoteObject],
    opts: &SyncOptions,
) -> SyncPlan {
    let by_key: std::collections::BTreeMap<&str, &RemoteObject> =
        remote.iter().map(|r| (r.key.as_str(), r)).collect();
    let mut plan = SyncPlan::default();
    let mut local_keys = std::collections::BTreeSet::new();
    let mut sorted: Vec<&LocalFile> = local.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    for f in sorted {
        local_keys.insert(f.key.as_str());
        let content_type = content_type(&f.key).to_owned();
        let cache_control = opts.cache_control_for(&f.key).to_owned();
        let reason = match by_key.get(f.key.as_str()) {
            None => Some(UploadReason::New),
            Some(r) if !same_content(f, r) => Some(UploadReason::Changed),
            Some(r)
                if r.content_type.as_deref() != Some(content_type.as_str())
                    || r.cache_control.as_deref() != Some(cache_control.as_str()) =>
            {
                Some(UploadReason::Headers)
            }
            Some(_) => None,
        };
        match reason {
            Some(reason) => plan.uploads.push(PlannedUpload {
                key: f.key.clone(),
                path: f.path.clone(),
                size: f.size,
                sha256: f.sha256.clone(),
                content_type,
                cache_control,
                reason,
            }),
            None => {
                plan.unchanged.push(f.key.clone());
                plan.unchanged_bytes += f.size;
            }
        }
    }
    let mut extra: Vec<String> = remote
        .iter()
        .filter(|r| r.key.starts_with(&opts.prefix) && !local_keys.contains(r.key.as_str()))
        .map(|r| r.key.clone())
        .collect();
    extra.sort();
    extra.dedup();
    if opts.delete && !opts.prefix.is_empty() {
        plan.deletes = extra;
    } else {
        plan.extra = extra;
    }
    plan
}

/// Same bytes: by the stored SHA-256, else by a single-part ETag (an MD5; multipart ETags end
/// in `-N` and SSE-KMS ETags are not MD5s, so those count as changed without a SHA-256).
fn same_content(f: &LocalFile, r: &RemoteObject) -> bool {
    if r.size != f.size {
        return false;
    }
    match (&r.sha256, &r.etag) {
        (Some(sha), _) => sha.eq_ignore_ascii_case(&f.sha256),
        (None, Some(etag)) => !etag.contains('-') && etag.eq_ignore_ascii_case(&f.md5),
        (None, None) => false,
    }
}

/// The URL the app's `STATIC_URL` should hold: the bucket's URL plus the prefix, ending in `/`.
///
/// Virtual-hosted style (`https://BUCKET.s3.REGION.amazonaws.com/PREFIX`) for AWS; path style
/// for names with dots (a virtual host with dots fails TLS validation) and for an endpoint
/// override such as the local cloud (`ENDPOINT/BUCKET/PREFIX`).
///
/// Note: the bucket blocks all public access, so browsers are served from this URL only
/// through something that signs or fronts the requests (CloudFront with origin access control,
/// or presigned URLs); the URL names where the files are.
pub fn static_url(bucket: &str, region: &str, prefix: &str, endpoint: Option<&str>) -> String {
    let prefix = normalize_prefix(prefix);
    if let Some(e) = endpoint {
        return format!("{}/{bucket}/{prefix}", e.trim_end_matches('/'));
    }
    let domain = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    if bucket.contains('.') {
        format!("https://s3.{region}.{domain}/{bucket}/{prefix}")
    } else {
        format!("https://{bucket}.s3.{region}.{domain}/{prefix}")
    }
}
