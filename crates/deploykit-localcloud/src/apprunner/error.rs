//! App Runner errors in the JSON 1.0 wire format: HTTP 400 (500 for internal errors),
//! `{"__type": "<Code>", "Message": "..."}` and the `x-amzn-ErrorType` header, which is what
//! the SDKs read to build their typed errors.

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;

pub(crate) const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

/// One App Runner error. `code` is the `__type` the SDKs match on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub code: &'static str,
    pub message: String,
    pub status: StatusCode,
}

impl ApiError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            status: StatusCode::BAD_REQUEST,
        }
    }

    pub(crate) fn invalid_request(message: impl Into<String>) -> Self {
        Self::new("InvalidRequestException", message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new("ResourceNotFoundException", message)
    }

    pub(crate) fn invalid_state(message: impl Into<String>) -> Self {
        Self::new("InvalidStateException", message)
    }

    pub(crate) fn quota(message: impl Into<String>) -> Self {
        Self::new("ServiceQuotaExceededException", message)
    }

    /// The service could not finish the request (here: moto could not be asked).
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            ..Self::new("InternalServiceErrorException", message)
        }
    }

    /// A body that is not the JSON the operation expects (the SDKs never send one).
    pub(crate) fn serialization(message: impl Into<String>) -> Self {
        Self::new("SerializationException", message)
    }

    pub(crate) fn unknown_operation(op: &str) -> Self {
        Self::new(
            "UnknownOperationException",
            format!("Operation AppRunner.{op} is not supported by the local cloud"),
        )
    }

    pub(crate) fn into_response(self) -> Response<Full<Bytes>> {
        let body = serde_json::json!({ "__type": self.code, "Message": self.message });
        let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
        *resp.status_mut() = self.status;
        let headers = resp.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(CONTENT_TYPE),
        );
        headers.insert(
            "x-amzn-errortype",
            http::HeaderValue::from_static(self.code),
        );
        resp
    }
}

/// A successful JSON 1.0 response.
pub(crate) fn ok(body: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(CONTENT_TYPE),
    );
    resp
}
