//! AWS error classification by SDK error variant, error code and HTTP status; never by message.

use std::error::Error as StdError;
use std::fmt;

use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::request_id::RequestId;
use deploykit_report::Category;

/// What kind of failure an AWS call had, which decides what the caller does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Rate limited; back off and retry.
    Throttling,
    /// The resource does not exist (often: create it).
    NotFound,
    /// The resource exists already (often: adopt it).
    AlreadyExists,
    /// The credentials are valid but not allowed to do this.
    AccessDenied,
    /// The resource is busy or in a state that forbids the call (wait, then retry).
    InvalidState,
    /// An account or service quota was hit.
    QuotaExceeded,
    /// The request was rejected as malformed or out of range.
    Validation,
    /// 5xx, dispatch failure, timeout, dropped connection: retrying may succeed.
    Transient,
    /// No credentials, expired or invalid ones.
    Credentials,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// Whether a retry with backoff may succeed without any change.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorKind::Throttling | ErrorKind::Transient)
    }

    /// Stable snake_case name for JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Throttling => "throttling",
            ErrorKind::NotFound => "not_found",
            ErrorKind::AlreadyExists => "already_exists",
            ErrorKind::AccessDenied => "access_denied",
            ErrorKind::InvalidState => "invalid_state",
            ErrorKind::QuotaExceeded => "quota_exceeded",
            ErrorKind::Validation => "validation",
            ErrorKind::Transient => "transient",
            ErrorKind::Credentials => "credentials",
            ErrorKind::Other => "other",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The classification of one failed call, with what AWS said about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    pub kind: ErrorKind,
    /// The service's error code, e.g. `ThrottlingException`.
    pub code: Option<String>,
    pub message: Option<String>,
    /// AWS request id, for support cases and CloudTrail.
    pub request_id: Option<String>,
}

impl Classified {
    /// The diagnostic class of the failed call: always [`Category::Aws`] (see
    /// [`ErrorKind::category`]).
    pub fn category(&self) -> Category {
        self.kind.category()
    }

    /// What to do next, in plain words: [`ErrorKind::help`] of its kind. Error types that wrap
    /// a `Classified` return this from their [`deploykit_report::Diagnostic::help`].
    pub fn help(&self) -> &'static str {
        self.kind.help()
    }
}

impl fmt::Display for Classified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(c) = &self.code {
            write!(f, " ({c})")?;
        }
        if let Some(m) = &self.message {
            write!(f, ": {m}")?;
        }
        if let Some(r) = &self.request_id {
            write!(f, " [request id {r}]")?;
        }
        Ok(())
    }
}

impl ErrorKind {
    /// The diagnostic class of a failed AWS call. Every kind is [`Category::Aws`]: AWS (or the
    /// local cloud) refused or failed the call, whether for credentials, permissions, quotas
    /// or its own trouble. Exhaustive, so a new kind forces a decision.
    pub fn category(self) -> Category {
        match self {
            ErrorKind::Throttling
            | ErrorKind::NotFound
            | ErrorKind::AlreadyExists
            | ErrorKind::AccessDenied
            | ErrorKind::InvalidState
            | ErrorKind::QuotaExceeded
            | ErrorKind::Validation
            | ErrorKind::Transient
            | ErrorKind::Credentials
            | ErrorKind::Other => Category::Aws,
        }
    }

    /// What the user should do about an error of this kind, in plain words (no command line
    /// of any deploykit front end).
    pub fn help(self) -> &'static str {
        match self {
            ErrorKind::Throttling => {
                "AWS is rate limiting these calls and retries ran out; wait a minute and run again, or raise max_attempts"
            }
            ErrorKind::NotFound => {
                "it does not exist in this account and region; check the names and the target's region in deploy.toml, or create it first"
            }
            ErrorKind::AlreadyExists => {
                "it exists already; if deploykit created it, run again to adopt it, otherwise choose another name in deploy.toml"
            }
            ErrorKind::AccessDenied => {
                "these credentials may not do this; check who you are (`aws sts get-caller-identity --profile ...`) and the role's IAM policy"
            }
            ErrorKind::InvalidState => {
                "the resource is busy or in a state that forbids this (e.g. still updating); wait for it to settle and run again"
            }
            ErrorKind::QuotaExceeded => {
                "an AWS quota was reached; delete what is unused (e.g. old versions, images, snapshots) or request an increase in Service Quotas"
            }
            ErrorKind::Validation => {
                "AWS rejected a parameter; check the value named in the message against deploy.toml"
            }
            ErrorKind::Transient => {
                "a network or AWS-side failure outlasted the retries; check connectivity (for the local target: is the local cloud running?) and run again, every step is idempotent"
            }
            ErrorKind::Credentials => {
                "no valid credentials; log in (`aws sso login --profile NAME`), check AWS_PROFILE and the target's profile, or refresh expired keys"
            }
            ErrorKind::Other => {
                "unexpected error; the code and request id identify it in CloudTrail and for AWS support"
            }
        }
    }
}

const CREDENTIALS: &[&str] = &[
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
    "IncompleteSignature",
    "IncompleteSignatureException",
    "MissingAuthenticationToken",
    "MissingAuthenticationTokenException",
    "AuthFailure",
    "InvalidAccessKeyId",
    "InvalidToken",
    "TokenRefreshRequired",
    "RequestExpired",
    "RequestTimeTooSkewed",
];

const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "RequestThrottled",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

const TRANSIENT: &[&str] = &[
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "InternalServerException",
    "InternalServiceError",
    "InternalServiceException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "ServiceFailure",
    "ServiceException",
    "RequestTimeout",
    "RequestTimeoutException",
    "InsufficientDBInstanceCapacity",
    "InsufficientDBInstanceCapacityFault",
    "ElasticBeanstalkServiceException",
];

const INVALID_STATE: &[&str] = &[
    "InvalidStateException",
    "IncorrectState",
    "ConflictException",
    "ResourceInUse",
    "ResourceInUseException",
    "OperationInProgress",
    "OperationInProgressFailure",
    "OperationAborted",
    "OperationAbortedException",
    "ConcurrentModificationException",
    "DependencyViolation",
    "BucketNotEmpty",
    "RepositoryNotEmptyException",
    "ResourceNotReadyException",
    "DeleteConflict",
];

const ACCESS_DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedException",
    "AuthorizationError",
    "Forbidden",
    "ForbiddenException",
    "InsufficientPrivilegesException",
    "NotAuthorized",
    "OptInRequired",
    "SubscriptionRequiredException",
];

/// Classifies an error code alone; `None` when the code says nothing we recognise.
pub(crate) fn kind_of_code(code: &str) -> Option<ErrorKind> {
    let has = |set: &[&str]| set.contains(&code);
    if has(CREDENTIALS) {
        return Some(ErrorKind::Credentials);
    }
    if has(THROTTLING) {
        return Some(ErrorKind::Throttling);
    }
    if has(TRANSIENT) {
        return Some(ErrorKind::Transient);
    }
    if has(INVALID_STATE) {
        return Some(ErrorKind::InvalidState);
    }
    if has(ACCESS_DENIED) {
        return Some(ErrorKind::AccessDenied);
    }
    // Families named by convention across services, e.g. `DBInstanceNotFound`,
    // `NoSuchBucket`, `RepositoryAlreadyExistsException`, `InvalidDBInstanceStateFault`,
    // `TooManyApplicationVersionsException`, `SnapshotQuotaExceeded`.
    if code.contains("NotFound") || code.starts_with("NoSuch") {
        return Some(ErrorKind::NotFound);
    }
    if code.contains("AlreadyExists")
        || code.contains("AlreadyOwned")
        || code.ends_with(".Duplicate")
        || code == "ResourceExistsException"
    {
        return Some(ErrorKind::AlreadyExists);
    }
    if code.starts_with("Invalid") && code.contains("State") {
        return Some(ErrorKind::InvalidState);
    }
    if code.contains("QuotaExceeded")
        || code.contains("LimitExceeded")
        || code.starts_with("TooMany")
    {
        return Some(ErrorKind::QuotaExceeded);
    }
    if code.starts_with("Invalid")
        || code.starts_with("Malformed")
        || code.starts_with("Missing")
        || code.contains("Validation")
        || code == "SerializationException"
        || code == "BadRequest"
        || code == "BadRequestException"
    {
        return Some(ErrorKind::Validation);
    }
    None
}

fn kind_of_status(status: u16) -> ErrorKind {
    match status {
        429 => ErrorKind::Throttling,
        500..=599 => ErrorKind::Transient,
        404 => ErrorKind::NotFound,
        403 => ErrorKind::AccessDenied,
        409 => ErrorKind::InvalidState,
        _ => ErrorKind::Other,
    }
}

/// Whether a credentials provider failure is anywhere in the error's source chain.
fn caused_by_credentials(err: &(dyn StdError + 'static)) -> bool {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if e.downcast_ref::<CredentialsError>().is_some() {
            return true;
        }
        cur = e.source();
    }
    false
}

/// Sorts an SDK error into an [`ErrorKind`] with its code, message and request id.
pub fn classify<E>(err: &SdkError<E, HttpResponse>) -> Classified
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    let request_id = err.request_id().map(str::to_owned).or_else(|| {
        err.as_service_error()
            .and_then(|e| e.meta().request_id())
            .map(str::to_owned)
    });
    let (kind, code, message) = match err {
        SdkError::ServiceError(se) => {
            let code = se.err().code().map(str::to_owned);
            let message = se.err().message().map(str::to_owned);
            let kind = code
                .as_deref()
                .and_then(kind_of_code)
                .unwrap_or_else(|| kind_of_status(se.raw().status().as_u16()));
            (kind, code, message)
        }
        SdkError::TimeoutError(_) => (ErrorKind::Transient, None, None),
        SdkError::DispatchFailure(df) => {
            let kind = if err.source().is_some_and(caused_by_credentials) {
                ErrorKind::Credentials
            } else if df.is_user() {
                ErrorKind::Other
            } else {
                // io, timeout, or an unclassified connector failure: the request may not
                // have reached AWS at all.
                ErrorKind::Transient
            };
            (kind, None, None)
        }
        SdkError::ResponseError(re) => {
            // A response arrived but could not be read: a dropped connection, a truncated or
            // garbled body, usually from a proxy or an overloaded endpoint.
            let status = re.raw().status().as_u16();
            let kind = match kind_of_status(status) {
                ErrorKind::Other => ErrorKind::Transient,
                k => k,
            };
            (kind, None, None)
        }
        SdkError::ConstructionFailure(_) => {
            let kind = if err.source().is_some_and(caused_by_credentials) {
                ErrorKind::Credentials
            } else {
                ErrorKind::Validation
            };
            (kind, None, None)
        }
        _ => (ErrorKind::Other, None, None),
    };
    Classified {
        kind,
        code,
        message,
        request_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn response(status: u16, request_id: Option<&str>) -> HttpResponse {
        let mut r = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(""));
        if let Some(id) = request_id {
            r.headers_mut().insert("x-amzn-requestid", id.to_owned());
        }
        r
    }

    fn service(code: Option<&str>, status: u16) -> SdkError<ErrorMetadata, HttpResponse> {
        let mut b = ErrorMetadata::builder().message("the service said something");
        if let Some(c) = code {
            b = b.code(c);
        }
        SdkError::service_error(b.build(), response(status, Some("req-1")))
    }

    #[test]
    fn service_error_codes() {
        let cases: &[(Option<&str>, u16, ErrorKind)] = &[
            (Some("Throttling"), 400, ErrorKind::Throttling),
            (Some("ThrottlingException"), 400, ErrorKind::Throttling),
            (Some("TooManyRequestsException"), 429, ErrorKind::Throttling),
            (Some("RequestLimitExceeded"), 503, ErrorKind::Throttling),
            (Some("SlowDown"), 503, ErrorKind::Throttling),
            (Some("DBInstanceNotFound"), 404, ErrorKind::NotFound),
            (Some("DBInstanceNotFoundFault"), 404, ErrorKind::NotFound),
            (Some("NoSuchBucket"), 404, ErrorKind::NotFound),
            (Some("ResourceNotFoundException"), 400, ErrorKind::NotFound),
            (
                Some("RepositoryNotFoundException"),
                400,
                ErrorKind::NotFound,
            ),
            (
                Some("BucketAlreadyOwnedByYou"),
                409,
                ErrorKind::AlreadyExists,
            ),
            (
                Some("RepositoryAlreadyExistsException"),
                400,
                ErrorKind::AlreadyExists,
            ),
            (
                Some("DBInstanceAlreadyExists"),
                400,
                ErrorKind::AlreadyExists,
            ),
            (
                Some("InvalidPermission.Duplicate"),
                400,
                ErrorKind::AlreadyExists,
            ),
            (Some("AccessDenied"), 403, ErrorKind::AccessDenied),
            (Some("AccessDeniedException"), 400, ErrorKind::AccessDenied),
            (
                Some("InsufficientPrivilegesException"),
                403,
                ErrorKind::AccessDenied,
            ),
            (Some("InvalidStateException"), 400, ErrorKind::InvalidState),
            (Some("InvalidDBInstanceState"), 400, ErrorKind::InvalidState),
            (
                Some("OperationInProgressFailure"),
                400,
                ErrorKind::InvalidState,
            ),
            (
                Some("ServiceQuotaExceededException"),
                402,
                ErrorKind::QuotaExceeded,
            ),
            (
                Some("TooManyApplicationVersionsException"),
                400,
                ErrorKind::QuotaExceeded,
            ),
            (
                Some("LimitExceededException"),
                400,
                ErrorKind::QuotaExceeded,
            ),
            (Some("InstanceQuotaExceeded"), 400, ErrorKind::QuotaExceeded),
            (Some("InvalidParameterValue"), 400, ErrorKind::Validation),
            (Some("ValidationException"), 400, ErrorKind::Validation),
            (Some("MissingParameter"), 400, ErrorKind::Validation),
            (Some("InternalFailure"), 500, ErrorKind::Transient),
            (Some("ServiceUnavailable"), 503, ErrorKind::Transient),
            (Some("ExpiredToken"), 400, ErrorKind::Credentials),
            (Some("InvalidClientTokenId"), 403, ErrorKind::Credentials),
            (
                Some("UnrecognizedClientException"),
                400,
                ErrorKind::Credentials,
            ),
            (Some("SignatureDoesNotMatch"), 403, ErrorKind::Credentials),
            (Some("SomethingNobodyHeardOf"), 400, ErrorKind::Other),
            // No code: the HTTP status decides.
            (None, 500, ErrorKind::Transient),
            (None, 502, ErrorKind::Transient),
            (None, 429, ErrorKind::Throttling),
            (None, 404, ErrorKind::NotFound),
            (None, 403, ErrorKind::AccessDenied),
            (None, 409, ErrorKind::InvalidState),
            (None, 400, ErrorKind::Other),
            // An unknown code falls back to the status too.
            (Some("WeirdGatewayThing"), 504, ErrorKind::Transient),
        ];
        for (code, status, want) in cases {
            let c = classify(&service(*code, *status));
            assert_eq!(c.kind, *want, "code {code:?} status {status}");
            assert_eq!(c.code.as_deref(), *code);
            assert_eq!(c.message.as_deref(), Some("the service said something"));
            assert_eq!(c.request_id.as_deref(), Some("req-1"));
        }
    }

    #[test]
    fn code_matching_ignores_the_message() {
        // A message mentioning throttling does not make a validation error retryable.
        let err: SdkError<ErrorMetadata, HttpResponse> = SdkError::service_error(
            ErrorMetadata::builder()
                .code("InvalidParameterValue")
                .message("Rate exceeded, throttling")
                .build(),
            response(400, None),
        );
        assert_eq!(classify(&err).kind, ErrorKind::Validation);
    }

    #[test]
    fn transport_failures() {
        type E = SdkError<ErrorMetadata, HttpResponse>;
        let io = || -> Box<dyn StdError + Send + Sync> {
            Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionReset))
        };
        let cases: Vec<(E, ErrorKind)> = vec![
            (SdkError::timeout_error(io()), ErrorKind::Transient),
            (
                SdkError::dispatch_failure(ConnectorError::io(io())),
                ErrorKind::Transient,
            ),
            (
                SdkError::dispatch_failure(ConnectorError::timeout(io())),
                ErrorKind::Transient,
            ),
            (
                SdkError::dispatch_failure(ConnectorError::other(io(), None)),
                ErrorKind::Transient,
            ),
            (
                SdkError::dispatch_failure(ConnectorError::user(io())),
                ErrorKind::Other,
            ),
            (
                SdkError::response_error(io(), response(200, None)),
                ErrorKind::Transient,
            ),
            (
                SdkError::response_error(io(), response(503, Some("req-9"))),
                ErrorKind::Transient,
            ),
            (SdkError::construction_failure(io()), ErrorKind::Validation),
            (
                SdkError::dispatch_failure(ConnectorError::other(
                    Box::new(CredentialsError::not_loaded_no_source()),
                    None,
                )),
                ErrorKind::Credentials,
            ),
            (
                SdkError::dispatch_failure(ConnectorError::other(
                    Box::new(CredentialsError::provider_error(io())),
                    None,
                )),
                ErrorKind::Credentials,
            ),
        ];
        for (err, want) in &cases {
            let c = classify(err);
            assert_eq!(c.kind, *want, "{err:?}");
            assert_eq!(c.code, None);
        }
        assert_eq!(classify(&cases[6].0).request_id.as_deref(), Some("req-9"));
    }

    #[test]
    fn every_kind_has_help_and_the_aws_category() {
        use ErrorKind::*;
        let all = [
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
        ];
        let mut seen = std::collections::HashSet::new();
        for k in all {
            assert!(k.help().len() > 20, "{k}");
            assert!(seen.insert(k.help()), "duplicate help for {k}");
            assert_eq!(k.category(), Category::Aws, "{k}");
        }
        assert!(
            Throttling.is_retryable() && Transient.is_retryable() && !Validation.is_retryable()
        );
    }

    #[test]
    fn display_names_code_and_request_id() {
        let c = classify(&service(Some("ThrottlingException"), 400));
        let s = c.to_string();
        assert!(
            s.contains("throttling") && s.contains("ThrottlingException") && s.contains("req-1"),
            "{s}"
        );
    }
}
