//! ECR's `GetAuthorizationToken`, answered locally so `docker login`/push go to the local
//! registry (every other ECR action is forwarded to moto by the edge).
//!
//! The token is what ECR hands out: base64 of `<username>:<password>` (ECR's username is always
//! `AWS`; locally it is the registry's configured user), valid 12 hours, with
//! `proxyEndpoint = http://<registry host:port>`. Errors use ECR's JSON 1.1 wire format.

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use serde_json::json;

use crate::core::Ctx;

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// How long a token is valid, like ECR's.
const TOKEN_VALIDITY: Duration = Duration::from_secs(12 * 60 * 60);

/// Answers `AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken`.
///
/// The request body (`registryIds`, deprecated) is ignored: there is one local registry.
pub async fn get_authorization_token(ctx: &Ctx, _body: Bytes) -> Response<Full<Bytes>> {
    let Some(reg) = &ctx.registry else {
        return respond(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({
                "__type": "ServerException",
                "message": "The local cloud has no registry configured, so it cannot issue a \
                            registry token; start one with `cargo xtask local up`",
            }),
            Some("ServerException"),
        );
    };
    let token = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", reg.username, reg.password));
    let expires = ctx.clock.now_utc() + TOKEN_VALIDITY;
    let endpoint = reg
        .endpoint
        .strip_prefix("http://")
        .unwrap_or(&reg.endpoint)
        .trim_end_matches('/');
    respond(
        StatusCode::OK,
        &json!({
            "authorizationData": [{
                "authorizationToken": token,
                "expiresAt": expires.unix_timestamp(),
                "proxyEndpoint": format!("http://{endpoint}"),
            }]
        }),
        None,
    )
}

fn respond(
    status: StatusCode,
    body: &serde_json::Value,
    error_type: Option<&'static str>,
) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(CONTENT_TYPE),
    );
    if let Some(t) = error_type {
        headers.insert("x-amzn-errortype", http::HeaderValue::from_static(t));
    }
    resp
}
