//! The admin path (`/_localcloud/...`): test controls, and a typed client for them.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};

use crate::LocalCloudError;
use crate::core::{Fault, FaultHit, FaultRule};
use crate::edge::Shared;
use crate::guard::{ADMIN_TOKEN_HEADER, AdminToken, Refusal};

/// The admin path prefix.
pub const ADMIN_PREFIX: &str = "/_localcloud/";

/// How long an admin call may take.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Which fault to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// The service's real throttling error (EB `Throttling`, App Runner `ThrottlingException`).
    Throttle,
    /// HTTP `status` (default 500) with the protocol's internal-failure code.
    ServerError,
    /// Delay the response by `delay_ms`, then answer normally.
    Latency,
    /// Close the connection without answering (the request is never served).
    Drop,
    /// Serve the request, then close the connection without its response.
    LostResponse,
    /// Serve the request, then hold its response for `delay_ms`.
    SlowResponse,
}

/// Body of `POST /_localcloud/faults`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRequest {
    /// `elasticbeanstalk`, `apprunner`, any other SigV4 service name, or `*` for all.
    pub service: String,
    pub fault: FaultKind,
    /// How many requests the fault applies to (default 1).
    #[serde(default = "one")]
    pub count: u32,
    /// HTTP status for `server_error` (500..=599, default 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Delay for `latency` and `slow_response` in milliseconds (default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Only requests of this operation: the awsJson target's operation, the awsQuery `Action`,
    /// S3's API name (`PutObject`, `CreateBucket`, `PutBucketPolicy`, ...), or `METHOD /path`
    /// without resource ids for other REST services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// How many matching requests pass untouched first (default 0).
    #[serde(default)]
    pub skip: u32,
    /// `count` and `skip` apply to each distinct operation on its own (default false).
    #[serde(default)]
    pub each_operation: bool,
}

/// Answer of `GET /_localcloud/faults`: the faults that took effect, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultHits {
    pub hits: Vec<FaultHit>,
}

fn one() -> u32 {
    1
}

impl FaultRequest {
    /// A fault of `kind` for the next `count` requests to `service`.
    pub fn new(service: impl Into<String>, fault: FaultKind, count: u32) -> Self {
        Self {
            service: service.into(),
            fault,
            count,
            status: None,
            delay_ms: None,
            operation: None,
            skip: 0,
            each_operation: false,
        }
    }

    /// Only requests of `operation`.
    pub fn operation(mut self, operation: impl Into<String>) -> Self {
        self.operation = Some(operation.into());
        self
    }

    /// The first `skip` matching requests pass untouched.
    pub fn skip(mut self, skip: u32) -> Self {
        self.skip = skip;
        self
    }

    /// `count` and `skip` per distinct operation.
    pub fn each_operation(mut self) -> Self {
        self.each_operation = true;
        self
    }

    /// The delay of `latency` and `slow_response`.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay_ms = Some(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX));
        self
    }

    fn to_rule(&self) -> Result<FaultRule, String> {
        if self.service.is_empty() {
            return Err("service must not be empty (use \"*\" for every service)".into());
        }
        if self.count == 0 {
            return Err("count must be at least 1".into());
        }
        if self.operation.as_deref().is_some_and(str::is_empty) {
            return Err("operation must not be empty (leave it out for every operation)".into());
        }
        let delay = Duration::from_millis(self.delay_ms.unwrap_or(1000).min(600_000));
        let fault = match self.fault {
            FaultKind::Throttle => Fault::Throttle,
            FaultKind::Drop => Fault::Drop,
            FaultKind::LostResponse => Fault::LostResponse,
            FaultKind::ServerError => {
                let status = self.status.unwrap_or(500);
                if !(500..=599).contains(&status) {
                    return Err(format!("status must be 500..=599, got {status}"));
                }
                Fault::ServerError { status }
            }
            FaultKind::Latency => Fault::Latency { delay },
            FaultKind::SlowResponse => Fault::SlowResponse { delay },
        };
        Ok(FaultRule {
            service: self.service.clone(),
            operation: self.operation.clone(),
            fault,
            count: self.count,
            skip: self.skip,
            each_operation: self.each_operation,
        })
    }
}

/// Answer of `GET /_localcloud/health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// Always `"ok"` when the edge answers.
    pub status: String,
    /// Services answered by the edge itself.
    pub emulated: Vec<String>,
    pub moto_configured: bool,
    /// moto answered within two seconds.
    pub moto_reachable: bool,
    pub registry_configured: bool,
    pub time_scale: f64,
    pub region: String,
    pub account_id: String,
    /// Requests refused by the Host, browser and token rules since the edge started.
    #[serde(default)]
    pub refused_requests: u64,
    /// The most recent of them, oldest first.
    #[serde(default)]
    pub recent_refusals: Vec<Refusal>,
}

#[derive(Debug, Deserialize)]
struct FailNextDeploy {
    name: String,
    #[serde(default = "one")]
    count: u32,
}

#[derive(Debug, Deserialize)]
struct UnhealthyImage {
    image: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct TimeScale {
    /// JSON has no NaN or infinity: `null` (what serde_json writes for them) reads as NaN.
    #[serde(deserialize_with = "number_or_nan")]
    scale: f64,
}

fn number_or_nan<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// Serves one admin request.
pub(crate) async fn handle(
    shared: &Shared,
    method: &Method,
    path: &str,
    body: Bytes,
) -> Response<Full<Bytes>> {
    let route = path.strip_prefix(ADMIN_PREFIX).unwrap_or("");
    match (method, route.trim_end_matches('/')) {
        (&Method::GET, "health") => {
            let moto_reachable = match &shared.moto {
                Some(m) => m.reachable().await,
                None => false,
            };
            let ctx = &shared.ctx;
            let (refused_requests, recent_refusals) = shared.refusals.snapshot();
            json(
                StatusCode::OK,
                &Health {
                    status: "ok".into(),
                    emulated: vec![
                        "elasticbeanstalk".into(),
                        "apprunner".into(),
                        "ecr:GetAuthorizationToken".into(),
                    ],
                    moto_configured: shared.moto.is_some(),
                    moto_reachable,
                    registry_configured: ctx.registry.is_some(),
                    time_scale: ctx.clock.scale(),
                    region: ctx.default_region.clone(),
                    account_id: ctx.account_id.clone(),
                    refused_requests,
                    recent_refusals,
                },
            )
        }
        (&Method::POST, "faults") => match parse::<FaultRequest>(&body).and_then(|r| r.to_rule()) {
            Ok(rule) => {
                shared.ctx.faults.push(rule);
                ok()
            }
            Err(e) => bad_request(&e),
        },
        (&Method::GET, "faults") => json(
            StatusCode::OK,
            &FaultHits {
                hits: shared.ctx.faults.hits(),
            },
        ),
        (&Method::DELETE, "faults") => {
            shared.ctx.faults.disarm();
            ok()
        }
        (&Method::POST, "fail-next-deploy") => match parse::<FailNextDeploy>(&body) {
            Ok(r) if !r.name.is_empty() => {
                shared.ctx.faults.fail_next_deploy(&r.name, r.count);
                ok()
            }
            Ok(_) => bad_request("name must not be empty"),
            Err(e) => bad_request(&e),
        },
        (&Method::POST, "unhealthy-image") => match parse::<UnhealthyImage>(&body) {
            Ok(r) if !r.image.is_empty() => {
                shared.ctx.faults.mark_unhealthy_image(&r.image);
                ok()
            }
            Ok(_) => bad_request("image must not be empty"),
            Err(e) => bad_request(&e),
        },
        (&Method::POST, "time-scale") => match parse::<TimeScale>(&body) {
            Ok(r) => match shared.ctx.clock.set_scale(r.scale) {
                Ok(()) => ok(),
                Err(e) => bad_request(&format!("{e}; send {{\"scale\": N}} with N in that range")),
            },
            Err(e) => bad_request(&e),
        },
        (&Method::POST, "reset") => {
            shared.reset();
            ok()
        }
        _ => json(
            StatusCode::NOT_FOUND,
            &serde_json::json!({ "error": format!("no admin route {method} {path}") }),
        ),
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("invalid JSON body: {e}"))
}

fn ok() -> Response<Full<Bytes>> {
    json(StatusCode::OK, &serde_json::json!({ "ok": true }))
}

fn bad_request(msg: &str) -> Response<Full<Bytes>> {
    json(
        StatusCode::BAD_REQUEST,
        &serde_json::json!({ "error": msg }),
    )
}

fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

/// A typed client for the admin path, for tests in other crates and the local cloud's commands.
/// Every call sends the edge's token in [`ADMIN_TOKEN_HEADER`]: give it with
/// [`AdminClient::with_token`] (deploykit-local keeps it in state.json), or use
/// [`crate::Edge::admin`] for an edge of this process.
///
/// ```no_run
/// # async fn demo(token: deploykit_localcloud::AdminToken) -> Result<(), deploykit_localcloud::LocalCloudError> {
/// use deploykit_localcloud::{AdminClient, FaultKind, FaultRequest};
/// let admin = AdminClient::with_token("http://127.0.0.1:4566", token)?;
/// admin.inject_fault(&FaultRequest::new("elasticbeanstalk", FaultKind::Throttle, 2)).await?;
/// admin.fail_next_deploy("budgetsync-dev", 1).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AdminClient {
    base: String,
    token: Option<AdminToken>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl AdminClient {
    /// `edge_url` is [`crate::Edge::url`] (`http://127.0.0.1:PORT`). The token is the one of the
    /// edge at that address when it runs in this process ([`crate::Edge::start`]); for any
    /// other edge the calls get 401: use [`AdminClient::with_token`].
    pub fn new(edge_url: &str) -> Result<Self, LocalCloudError> {
        let mut c = Self::without_token(edge_url)?;
        c.token = url::Url::parse(edge_url)
            .ok()
            .and_then(|u| {
                let ip = u.host_str()?.trim_matches(['[', ']']).parse().ok()?;
                Some(std::net::SocketAddr::new(ip, u.port_or_known_default()?))
            })
            .and_then(crate::guard::in_process_token);
        Ok(c)
    }

    /// A client for the edge at `edge_url` that sends `token`.
    pub fn with_token(edge_url: &str, token: AdminToken) -> Result<Self, LocalCloudError> {
        let mut c = Self::without_token(edge_url)?;
        c.token = Some(token);
        Ok(c)
    }

    pub(crate) fn for_edge(addr: std::net::SocketAddr, token: AdminToken) -> Self {
        Self {
            base: format!("http://{addr}"),
            token: Some(token),
            client: Client::builder(TokioExecutor::new()).build(HttpConnector::new()),
        }
    }

    fn without_token(edge_url: &str) -> Result<Self, LocalCloudError> {
        let parsed = url::Url::parse(edge_url).map_err(|e| LocalCloudError::EdgeUrl {
            url: edge_url.to_string(),
            reason: e.to_string(),
        })?;
        if parsed.scheme() != "http" || parsed.host_str().is_none() {
            return Err(LocalCloudError::EdgeUrl {
                url: edge_url.to_string(),
                reason: "expected http://HOST:PORT".into(),
            });
        }
        Ok(Self {
            base: edge_url.trim_end_matches('/').to_string(),
            token: None,
            client: Client::builder(TokioExecutor::new()).build(HttpConnector::new()),
        })
    }

    async fn call(
        &self,
        what: &'static str,
        method: Method,
        route: &str,
        body: Option<serde_json::Value>,
    ) -> Result<Bytes, LocalCloudError> {
        let url = format!("{}{ADMIN_PREFIX}{route}", self.base);
        let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let mut req = Request::builder()
            .method(method)
            .uri(&url)
            .header(http::header::CONTENT_TYPE, "application/json");
        if let Some(t) = &self.token {
            req = req.header(ADMIN_TOKEN_HEADER, t.expose());
        }
        let req = req
            .body(Full::new(body))
            .map_err(|e| LocalCloudError::AdminRequest {
                what,
                url: url.clone(),
                reason: e.to_string(),
            })?;
        let fut = async {
            let resp =
                self.client
                    .request(req)
                    .await
                    .map_err(|e| LocalCloudError::AdminRequest {
                        what,
                        url: url.clone(),
                        reason: e.to_string(),
                    })?;
            let status = resp.status();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| LocalCloudError::AdminRequest {
                    what,
                    url: url.clone(),
                    reason: e.to_string(),
                })?
                .to_bytes();
            if !status.is_success() {
                return Err(LocalCloudError::AdminStatus {
                    what,
                    url: url.clone(),
                    status: status.as_u16(),
                    body: String::from_utf8_lossy(&body).into_owned(),
                });
            }
            Ok(body)
        };
        tokio::time::timeout(ADMIN_TIMEOUT, fut)
            .await
            .map_err(|_| LocalCloudError::AdminTimeout {
                what,
                url: url.clone(),
                secs: ADMIN_TIMEOUT.as_secs(),
            })?
    }

    /// `GET /_localcloud/health`.
    pub async fn health(&self) -> Result<Health, LocalCloudError> {
        let body = self.call("health", Method::GET, "health", None).await?;
        serde_json::from_slice(&body).map_err(|e| LocalCloudError::AdminRequest {
            what: "health",
            url: format!("{}{ADMIN_PREFIX}health", self.base),
            reason: format!("unexpected answer: {e}"),
        })
    }

    /// `POST /_localcloud/faults`.
    pub async fn inject_fault(&self, fault: &FaultRequest) -> Result<(), LocalCloudError> {
        let body = serde_json::to_value(fault).unwrap_or_default();
        self.call("faults", Method::POST, "faults", Some(body))
            .await
            .map(drop)
    }

    /// `GET /_localcloud/faults`: the faults that took effect, oldest first.
    pub async fn fault_hits(&self) -> Result<Vec<FaultHit>, LocalCloudError> {
        let body = self.call("faults", Method::GET, "faults", None).await?;
        serde_json::from_slice::<FaultHits>(&body)
            .map(|h| h.hits)
            .map_err(|e| LocalCloudError::AdminRequest {
                what: "faults",
                url: format!("{}{ADMIN_PREFIX}faults", self.base),
                reason: format!("unexpected answer: {e}"),
            })
    }

    /// `DELETE /_localcloud/faults`: disarm every fault and forget the hits.
    pub async fn clear_faults(&self) -> Result<(), LocalCloudError> {
        self.call("faults", Method::DELETE, "faults", None)
            .await
            .map(drop)
    }

    /// `POST /_localcloud/fail-next-deploy`: the next `count` deploys of the named EB environment
    /// or App Runner service fail their health checks.
    pub async fn fail_next_deploy(&self, name: &str, count: u32) -> Result<(), LocalCloudError> {
        let body = serde_json::json!({ "name": name, "count": count });
        self.call(
            "fail-next-deploy",
            Method::POST,
            "fail-next-deploy",
            Some(body),
        )
        .await
        .map(drop)
    }

    /// `POST /_localcloud/unhealthy-image`: from now on the app of `image` (an image
    /// identifier as a service names it) answers 500 at its App Runner URL, although App
    /// Runner's own health check passes: the deploy SUCCEEDS and the app is broken.
    pub async fn unhealthy_image(&self, image: &str) -> Result<(), LocalCloudError> {
        let body = serde_json::json!({ "image": image });
        self.call(
            "unhealthy-image",
            Method::POST,
            "unhealthy-image",
            Some(body),
        )
        .await
        .map(drop)
    }

    /// `POST /_localcloud/time-scale`.
    pub async fn set_time_scale(&self, scale: f64) -> Result<(), LocalCloudError> {
        let body = serde_json::json!({ "scale": scale });
        self.call("time-scale", Method::POST, "time-scale", Some(body))
            .await
            .map(drop)
    }

    /// `POST /_localcloud/reset`: forget every emulated resource and queued fault.
    pub async fn reset(&self) -> Result<(), LocalCloudError> {
        self.call("reset", Method::POST, "reset", None)
            .await
            .map(drop)
    }
}
