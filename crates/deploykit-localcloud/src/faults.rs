//! Injected faults rendered in each protocol's real wire format.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;

use crate::xml::{Xml, query_error, xml_response};

/// The wire protocol a service speaks, as far as errors are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// awsQuery and REST-XML with wrapped errors (EB, RDS, IAM, STS, CloudWatch, Route 53).
    Query,
    /// awsJson 1.0/1.1 and REST-JSON (App Runner, ECR, Secrets Manager, Logs, ACM).
    Json,
    /// S3's unwrapped `<Error>`.
    S3,
    /// EC2's `<Response><Errors>`.
    Ec2,
}

pub(crate) fn protocol_for(service: &str) -> Protocol {
    match service {
        "elasticbeanstalk"
        | "rds"
        | "iam"
        | "sts"
        | "monitoring"
        | "route53"
        | "sns"
        | "cloudformation"
        | "elasticloadbalancing"
        | "autoscaling"
        | "ses" => Protocol::Query,
        "s3" => Protocol::S3,
        "ec2" => Protocol::Ec2,
        _ => Protocol::Json,
    }
}

/// The service's real throttling error.
pub(crate) fn throttle(protocol: Protocol, request_id: &str) -> Response<Full<Bytes>> {
    match protocol {
        Protocol::Query => query_error(
            StatusCode::BAD_REQUEST,
            "Sender",
            "Throttling",
            "Rate exceeded",
            request_id,
        ),
        Protocol::Json => json_error(
            StatusCode::BAD_REQUEST,
            "ThrottlingException",
            "Rate exceeded",
            request_id,
        ),
        Protocol::S3 => s3_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "SlowDown",
            "Please reduce your request rate.",
            request_id,
        ),
        Protocol::Ec2 => ec2_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "RequestLimitExceeded",
            "Request limit exceeded.",
            request_id,
        ),
    }
}

/// A 5xx with the protocol's internal-failure code.
pub(crate) fn server_error(
    protocol: Protocol,
    status: StatusCode,
    request_id: &str,
) -> Response<Full<Bytes>> {
    let msg = "An internal error occurred (injected by localcloud).";
    match protocol {
        Protocol::Query => query_error(status, "Receiver", "InternalFailure", msg, request_id),
        Protocol::Json => json_error(status, "InternalFailure", msg, request_id),
        Protocol::S3 => s3_error(status, "InternalError", msg, request_id),
        Protocol::Ec2 => ec2_error(status, "InternalError", msg, request_id),
    }
}

/// A refusal by the edge's guard (Host, browser or token rule), as the addressed service's
/// access-denied error so SDKs and CLIs show the message.
pub(crate) fn refused(
    protocol: Protocol,
    status: StatusCode,
    message: &str,
    request_id: &str,
) -> Response<Full<Bytes>> {
    match protocol {
        Protocol::Query => query_error(status, "Sender", "AccessDenied", message, request_id),
        Protocol::Json => json_error(status, "AccessDeniedException", message, request_id),
        Protocol::S3 => s3_error(status, "AccessDenied", message, request_id),
        Protocol::Ec2 => ec2_error(status, "UnauthorizedOperation", message, request_id),
    }
}

/// A JSON-protocol error: `__type` in the body and `x-amzn-ErrorType` / `x-amzn-query-error`.
pub(crate) fn json_error(
    status: StatusCode,
    code: &str,
    message: &str,
    request_id: &str,
) -> Response<Full<Bytes>> {
    let body = serde_json::json!({ "__type": code, "message": message }).to_string();
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    if let Ok(v) = HeaderValue::from_str(code) {
        h.insert("x-amzn-errortype", v);
    }
    let kind = if status.is_server_error() {
        "Receiver"
    } else {
        "Sender"
    };
    if let Ok(v) = HeaderValue::from_str(&format!("{code};{kind}")) {
        h.insert("x-amzn-query-error", v);
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    resp
}

fn s3_error(
    status: StatusCode,
    code: &str,
    message: &str,
    request_id: &str,
) -> Response<Full<Bytes>> {
    let mut x = Xml::new();
    x.open("Error")
        .leaf("Code", code)
        .leaf("Message", message)
        .leaf("RequestId", request_id)
        .close("Error");
    xml_response(status, x.finish(), request_id)
}

fn ec2_error(
    status: StatusCode,
    code: &str,
    message: &str,
    request_id: &str,
) -> Response<Full<Bytes>> {
    let mut x = Xml::new();
    x.open("Response")
        .open("Errors")
        .open("Error")
        .leaf("Code", code)
        .leaf("Message", message)
        .close("Error")
        .close("Errors")
        .leaf("RequestID", request_id)
        .close("Response");
    xml_response(status, x.finish(), request_id)
}
