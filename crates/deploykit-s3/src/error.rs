//! The crate's one error type and its [`Diagnostic`]: class and plain advice.

use std::path::PathBuf;

use deploykit_aws::{Classified, ErrorKind};
use deploykit_report::{Category, Diagnostic};

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("S3 {op} on s3://{bucket}/{key} failed: {error}")]
    Aws {
        op: &'static str,
        bucket: String,
        key: String,
        error: Box<Classified>,
    },
    #[error("bucket {bucket} exists but belongs to another AWS account (bucket names are global)")]
    BucketTakenByOther { bucket: String },
    #[error("bucket {bucket} is in region {actual}, but the target's region is {expected}")]
    WrongRegion {
        bucket: String,
        expected: String,
        actual: String,
    },
    #[error("the bucket policy of {bucket} cannot be merged: {reason}")]
    PolicyUnreadable { bucket: String, reason: String },
    #[error("invalid S3 setting {field}: {reason}")]
    InvalidSpec { field: &'static str, reason: String },
    #[error("static directory {path}: {reason}")]
    StaticDir { path: PathBuf, reason: String },
    #[error("multipart upload of s3://{bucket}/{key}: part {part} failed: {reason}")]
    Part {
        bucket: String,
        key: String,
        part: i32,
        reason: String,
    },
    #[error("{what}: a worker task failed: {reason}")]
    Task { what: String, reason: String },
}

impl S3Error {
    /// The classified AWS error, when the failure came from AWS.
    pub fn aws_kind(&self) -> Option<ErrorKind> {
        match self {
            S3Error::Aws { error, .. } => Some(error.kind),
            _ => None,
        }
    }

    pub(crate) fn aws(
        op: &'static str,
        bucket: impl Into<String>,
        key: impl Into<String>,
        error: Classified,
    ) -> Self {
        S3Error::Aws {
            op,
            bucket: bucket.into(),
            key: key.into(),
            error: Box::new(error),
        }
    }
}

impl Diagnostic for S3Error {
    fn category(&self) -> Category {
        match self {
            S3Error::Aws { error, .. } => error.category(),
            S3Error::BucketTakenByOther { .. }
            | S3Error::WrongRegion { .. }
            | S3Error::InvalidSpec { .. }
            | S3Error::StaticDir { .. } => Category::Input,
            S3Error::Io { .. }
            | S3Error::PolicyUnreadable { .. }
            | S3Error::Part { .. }
            | S3Error::Task { .. } => Category::Internal,
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            S3Error::Aws { op, error, .. } => Some(match (error.kind, *op) {
                (ErrorKind::NotFound, _) if error.code.as_deref() == Some("NoSuchBucket") => {
                    "the bucket does not exist (or not in this region): create it first with the bucket ensure step".into()
                }
                (ErrorKind::AccessDenied, "HeadBucket") => "the bucket exists but these credentials may not read it: it belongs to another account, or the role lacks s3:ListBucket on it".into(),
                _ => error.help().into(),
            }),
            S3Error::BucketTakenByOther { .. } => Some(
                "bucket names are global across all AWS accounts: choose another name for the bucket (e.g. add your account id or a random suffix)".into(),
            ),
            S3Error::WrongRegion { expected, actual, .. } => Some(format!(
                "a bucket cannot move regions: set the target's region to {actual}, or choose a new bucket name to create it in {expected}"
            )),
            S3Error::PolicyUnreadable { .. } => Some(
                "the existing bucket policy is not a JSON policy document with a Statement list; fix or delete it in the S3 console, then run again".into(),
            ),
            S3Error::InvalidSpec { field, .. } => Some(format!("correct {field} in the [s3] settings")),
            S3Error::StaticDir { .. } => Some(
                "point [s3] static_dir at the app's built static folder (relative to the app's path), or build the static files first".into(),
            ),
            S3Error::Io { .. } => Some("check that the file exists and is readable".into()),
            S3Error::Part { .. } | S3Error::Task { .. } => {
                Some("run again; unchanged files are skipped, so a re-run only redoes what failed".into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classified(kind: ErrorKind, code: &str) -> Box<Classified> {
        Box::new(Classified {
            kind,
            code: Some(code.into()),
            message: None,
            request_id: None,
        })
    }

    #[test]
    fn category_and_help_per_variant() {
        let aws = |op, kind, code| S3Error::Aws {
            op,
            bucket: "b".into(),
            key: String::new(),
            error: classified(kind, code),
        };
        let cases: Vec<(S3Error, Category, &str)> = vec![
            (
                aws("GetBucketPolicy", ErrorKind::NotFound, "NoSuchBucket"),
                Category::Aws,
                "create it first",
            ),
            (
                aws("HeadBucket", ErrorKind::AccessDenied, "AccessDenied"),
                Category::Aws,
                "another account",
            ),
            (
                aws("PutObject", ErrorKind::Throttling, "SlowDown"),
                Category::Aws,
                "rate limiting",
            ),
            (
                S3Error::BucketTakenByOther { bucket: "b".into() },
                Category::Input,
                "global",
            ),
            (
                S3Error::WrongRegion {
                    bucket: "b".into(),
                    expected: "us-east-1".into(),
                    actual: "eu-west-1".into(),
                },
                Category::Input,
                "eu-west-1",
            ),
            (
                S3Error::PolicyUnreadable {
                    bucket: "b".into(),
                    reason: "x".into(),
                },
                Category::Internal,
                "Statement",
            ),
            (
                S3Error::InvalidSpec {
                    field: "uploads_prefix",
                    reason: "x".into(),
                },
                Category::Input,
                "uploads_prefix",
            ),
            (
                S3Error::StaticDir {
                    path: "/x".into(),
                    reason: "missing".into(),
                },
                Category::Input,
                "static_dir",
            ),
            (
                S3Error::Io {
                    path: "/x".into(),
                    source: std::io::Error::other("boom"),
                },
                Category::Internal,
                "readable",
            ),
            (
                S3Error::Task {
                    what: "sync".into(),
                    reason: "panic".into(),
                },
                Category::Internal,
                "run again",
            ),
        ];
        for (err, cat, words) in cases {
            assert_eq!(err.category(), cat, "{err}");
            let help = err.help().unwrap_or_default();
            assert!(help.contains(words), "{err}: {help}");
            assert!(!help.contains("xtask"), "{help}");
        }
    }
}
