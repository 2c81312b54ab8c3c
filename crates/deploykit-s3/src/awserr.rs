//! Stand-in for `deploykit_aws::{classify, Classified, ErrorKind, hint}` with the same shape,
//! used until that crate lands; then this module becomes a re-export.
//! Classification uses typed error codes and HTTP status, never message text.

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Throttling,
    NotFound,
    AlreadyExists,
    AccessDenied,
    InvalidState,
    QuotaExceeded,
    Validation,
    Transient,
    Credentials,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classified {
    pub kind: ErrorKind,
    pub code: Option<String>,
    pub message: String,
    pub request_id: Option<String>,
}

impl std::fmt::Display for Classified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code.as_deref().unwrap_or("no error code"))
    }
}

pub fn classify<E>(err: &SdkError<E, HttpResponse>) -> Classified
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    let (code, message) = match err {
        SdkError::ServiceError(s) => (
            s.err().code().map(str::to_string),
            s.err().message().unwrap_or("").to_string(),
        ),
        other => (None, other.to_string()),
    };
    let kind = match (code.as_deref(), status, err) {
        (_, _, SdkError::TimeoutError(_) | SdkError::DispatchFailure(_)) => ErrorKind::Transient,
        (_, _, SdkError::ConstructionFailure(_)) => ErrorKind::Credentials,
        (
            Some(
                "Throttling" | "ThrottlingException" | "TooManyRequestsException"
                | "RequestLimitExceeded" | "SlowDown",
            ),
            _,
            _,
        ) => ErrorKind::Throttling,
        (
            Some(
                "NotFound" | "NoSuchKey" | "NoSuchBucket" | "NoSuchUpload"
                | "ResourceNotFoundException",
            ),
            _,
            _,
        ) => ErrorKind::NotFound,
        (Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists" | "ResourceAlreadyExistsException"), _, _) => {
            ErrorKind::AlreadyExists
        }
        (Some("AccessDenied" | "AccessDeniedException" | "InsufficientPrivilegesException"), _, _) => {
            ErrorKind::AccessDenied
        }
        (
            Some(
                "InvalidClientTokenId" | "ExpiredToken" | "ExpiredTokenException"
                | "UnrecognizedClientException" | "SignatureDoesNotMatch" | "InvalidAccessKeyId",
            ),
            _,
            _,
        ) => ErrorKind::Credentials,
        (Some("InvalidParameterValue" | "InvalidParameterCombination" | "ValidationError" | "InvalidRequest" | "InvalidArgument"), _, _) => ErrorKind::Validation,
        (Some("TooManyApplicationVersionsException" | "TooManyApplicationsException" | "TooManyEnvironmentsException" | "TooManyBucketsException"), _, _) => ErrorKind::QuotaExceeded,
        (_, Some(404), _) => ErrorKind::NotFound,
        (_, Some(403), _) => ErrorKind::AccessDenied,
        (_, Some(429), _) => ErrorKind::Throttling,
        (_, Some(s), _) if s >= 500 => ErrorKind::Transient,
        _ => ErrorKind::Other,
    };
    let request_id = err
        .raw_response()
        .and_then(|r| r.headers().get("x-amzn-requestid").or(r.headers().get("x-amz-request-id")))
        .map(str::to_string);
    Classified { kind, code, message, request_id }
}

pub fn hint(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Throttling => "AWS throttled the request even after retries; wait a minute and run again",
        ErrorKind::AccessDenied => "the credentials lack a permission; check the IAM policy of the profile in use",
        ErrorKind::Credentials => "no valid credentials; run `aws sso login` or check the target's profile",
        ErrorKind::QuotaExceeded => "an AWS quota was reached; prune old resources or request a quota increase",
        ErrorKind::Transient => "a network or AWS service error persisted after retries; run again",
        _ => "",
    }
}
