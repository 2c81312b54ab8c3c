//! The HTTP edge: accept loop, routing, fault injection.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::apprunner::AppRunner;
use crate::core::{Clock, Ctx, Faults};
use crate::eb::Eb;
use crate::ecs::Ecs;
use crate::faults;
use crate::forward::{Moto, moto_failure};
use crate::guard::{self, AdminToken, RefusalLog};
use crate::workload::{AppRoutes, Workloads};
use crate::{EdgeConfig, LocalCloudError, admin, sigv4};

mod signed;

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Every response body the edge sends: emulator answers and moto's streamed bodies.
pub(crate) type Body = BoxBody<Bytes, BoxError>;

/// Largest request body an emulated service accepts (the real APIs cap far lower).
const MAX_API_BODY: usize = 8 * 1024 * 1024;
/// How long open connections get to finish when the edge shuts down.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How long removing the workload containers may take when the edge shuts down.
const WORKLOAD_CLEANUP: Duration = Duration::from_secs(60);
/// How long a proxied app may take to start answering (App Runner's request timeout is 120 s).
const APP_RESPONSE_TIMEOUT: Duration = Duration::from_secs(120);
/// Headers that describe one hop, not the message (RFC 9110 §7.6.1).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

fn boxed(resp: Response<Full<Bytes>>) -> Response<Body> {
    resp.map(|b| b.map_err(|never| match never {}).boxed())
}

/// Returned by the service to make hyper close the connection without answering.
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DropConnection {}

/// State shared by every connection of one edge.
#[derive(Debug)]
pub(crate) struct Shared {
    pub ctx: Ctx,
    pub moto: Option<Moto>,
    eb_version_quota: u32,
    eb: RwLock<Arc<Eb>>,
    apprunner: RwLock<Arc<AppRunner>>,
    ecs: RwLock<Arc<Ecs>>,
    rds: Option<Arc<crate::rds::Rds>>,
    /// Client for proxied app traffic.
    app_client: Client<HttpConnector, Body>,
    /// What the admin path asks for.
    pub admin_token: AdminToken,
    /// Requests refused by the Host, browser and token rules.
    pub refusals: RefusalLog,
    eb_max_bundle_bytes: u64,
}

impl Shared {
    fn new(
        cfg: &EdgeConfig,
        addr: SocketAddr,
        workloads: Option<Workloads>,
    ) -> Result<Self, LocalCloudError> {
        let moto = cfg.moto_url.as_deref().map(Moto::new).transpose()?;
        let ctx = Ctx {
            clock: Clock::new(cfg.time_scale),
            faults: Faults::default(),
            registry: cfg.registry.clone(),
            moto_url: cfg.moto_url.clone(),
            default_region: cfg.region.clone(),
            account_id: cfg.account_id.clone(),
            edge_addr: addr.to_string(),
            workloads,
            routes: AppRoutes::default(),
        };
        let eb = Eb::new(
            ctx.clone(),
            moto.clone(),
            cfg.eb_version_quota,
            cfg.eb_max_bundle_bytes,
        );
        let apprunner = AppRunner::new(ctx.clone());
        let ctx_for_ecs = ctx.clone();
        let rds = cfg
            .postgres
            .clone()
            .map(|pg| Arc::new(crate::rds::Rds::new(ctx.clone(), pg)));
        Ok(Self {
            rds,
            ctx,
            moto,
            eb_version_quota: cfg.eb_version_quota,
            eb: RwLock::new(Arc::new(eb)),
            apprunner: RwLock::new(Arc::new(apprunner)),
            ecs: RwLock::new(Arc::new(Ecs::new(ctx_for_ecs))),
            app_client: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(30))
                .build(HttpConnector::new()),
            admin_token: cfg.admin_token.clone(),
            refusals: RefusalLog::new(cfg.refusal_log.clone()),
            eb_max_bundle_bytes: cfg.eb_max_bundle_bytes,
        })
    }

    fn eb(&self) -> Arc<Eb> {
        self.eb.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn apprunner(&self) -> Arc<AppRunner> {
        self.apprunner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn ecs(&self) -> Arc<Ecs> {
        self.ecs.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Forgets every emulated resource and queued fault (time scale is kept).
    pub(crate) fn reset(&self) {
        self.ctx.faults.clear();
        let eb = Eb::new(
            self.ctx.clone(),
            self.moto.clone(),
            self.eb_version_quota,
            self.eb_max_bundle_bytes,
        );
        *self.eb.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(eb);
        let ar = AppRunner::new(self.ctx.clone());
        *self.apprunner.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(ar);
        *self.ecs.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(Ecs::new(self.ctx.clone()));
        self.ctx.routes.clear();
        if let Some(w) = self.ctx.workloads.clone() {
            // The resources are forgotten, so are their containers.
            tokio::spawn(async move {
                let _ = tokio::time::timeout(WORKLOAD_CLEANUP, w.remove_all()).await;
            });
        }
    }

    /// Stops every workload container of this edge (bounded); called when the edge stops.
    async fn stop_workloads(&self) {
        self.ctx.routes.clear();
        if let Some(w) = &self.ctx.workloads {
            let _ = tokio::time::timeout(WORKLOAD_CLEANUP, w.remove_all()).await;
        }
    }

    /// Proxies app traffic for `host` to its running container, like EB's nginx or App Runner's
    /// front end: streamed both ways, status and headers kept, `X-Forwarded-*` added.
    async fn proxy_app(
        &self,
        req: Request<Incoming>,
        host: &str,
        upstream: SocketAddr,
        peer: SocketAddr,
    ) -> Response<Body> {
        let (mut parts, body) = req.into_parts();
        let pq = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".to_string());
        let original_host = parts
            .headers
            .get(http::header::HOST)
            .cloned()
            .unwrap_or_else(|| {
                http::HeaderValue::from_str(host).unwrap_or(http::HeaderValue::from_static(""))
            });
        parts.uri = match format!("http://{upstream}{pq}").parse() {
            Ok(u) => u,
            Err(_) => return app_error(StatusCode::BAD_REQUEST, "bad request path"),
        };
        parts.version = http::Version::HTTP_11;
        strip_hop_by_hop(&mut parts.headers);
        let h = &mut parts.headers;
        let xff = match h.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            Some(prev) => format!("{prev}, {}", peer.ip()),
            None => peer.ip().to_string(),
        };
        if let Ok(v) = http::HeaderValue::from_str(&xff) {
            h.insert("x-forwarded-for", v);
        }
        h.insert("x-forwarded-proto", http::HeaderValue::from_static("http"));
        h.insert("x-forwarded-host", original_host.clone());
        h.insert("x-real-ip", {
            http::HeaderValue::from_str(&peer.ip().to_string())
                .unwrap_or(http::HeaderValue::from_static(""))
        });
        h.insert(http::header::HOST, original_host);
        let req = Request::from_parts(parts, body.map_err(|e| -> BoxError { Box::new(e) }).boxed());
        match tokio::time::timeout(APP_RESPONSE_TIMEOUT, self.app_client.request(req)).await {
            Ok(Ok(resp)) => {
                let (mut parts, body) = resp.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                Response::from_parts(parts, body.map_err(|e| -> BoxError { Box::new(e) }).boxed())
            }
            Ok(Err(e)) => app_error(
                StatusCode::BAD_GATEWAY,
                &format!("the app at {upstream} did not answer: {e}"),
            ),
            Err(_) => app_error(
                StatusCode::GATEWAY_TIMEOUT,
                &format!(
                    "the app at {upstream} did not answer within {} s",
                    APP_RESPONSE_TIMEOUT.as_secs()
                ),
            ),
        }
    }

    async fn handle(
        &self,
        req: Request<Incoming>,
        peer: SocketAddr,
    ) -> Result<Response<Body>, DropConnection> {
        let request_id = uuid::Uuid::new_v4().to_string();

        // 0. Only loopback names: a rebound DNS name or a LAN address is refused.
        let raw_host = raw_host(&req);
        if !raw_host.as_deref().is_some_and(guard::host_allowed) {
            let reason = match &raw_host {
                Some(h) => format!(
                    "Host {} is not a loopback address, localhost or a *.localhost name",
                    guard::printable(h.as_bytes(), 200)
                ),
                None => "the request names no Host".to_string(),
            };
            return Ok(self.refuse(
                &req,
                peer,
                StatusCode::FORBIDDEN,
                "host",
                reason,
                &request_id,
            ));
        }

        // 1. App traffic, by Host.
        if let Some(host) = host_of(&req).map(|h| self.eb().canonical_host(h)) {
            let path = req.uri().path().to_string();
            let ecs_host = is_ecs_host(&host);
            let app_host = host.ends_with(".elasticbeanstalk.localhost")
                || host.ends_with(".awsapprunner.localhost")
                || ecs_host;
            if app_host && let Some(upstream) = self.ctx.routes.get(&host) {
                return Ok(self.proxy_app(req, &host, upstream, peer).await);
            }
            if app_host && self.ctx.workloads.is_some() {
                return Ok(app_error(
                    StatusCode::BAD_GATEWAY,
                    &format!("no running app serves {host}"),
                ));
            }
            if host.ends_with(".elasticbeanstalk.localhost") {
                return Ok(boxed(self.eb().serve_app(&host, &path)));
            }
            if host.ends_with(".awsapprunner.localhost") {
                return Ok(boxed(self.apprunner().serve_app(&host, &path).await));
            }
            if ecs_host {
                return Ok(boxed(self.ecs().serve_app(&host)));
            }
        }

        // 1b. Everything else is for AWS tools, never for a web page.
        if let Some(reason) = guard::browser_request(req.headers()) {
            let reason = format!(
                "{reason}: the local cloud's AWS APIs and admin path do not answer web pages"
            );
            return Ok(self.refuse(
                &req,
                peer,
                StatusCode::FORBIDDEN,
                "browser",
                reason,
                &request_id,
            ));
        }

        let scope = sigv4::scope(req.headers(), req.uri().query());

        // 2. Admin path (unsigned only), with the edge's token.
        let Some(scope) = scope else {
            if req.uri().path().starts_with(admin::ADMIN_PREFIX) {
                let sent = req.headers().get(guard::ADMIN_TOKEN_HEADER);
                if !sent.is_some_and(|t| self.admin_token.matches(t.as_bytes())) {
                    let reason = match sent {
                        None => format!("no {} header", guard::ADMIN_TOKEN_HEADER),
                        Some(_) => format!("wrong {} header", guard::ADMIN_TOKEN_HEADER),
                    };
                    return Ok(self.refuse(
                        &req,
                        peer,
                        StatusCode::UNAUTHORIZED,
                        "admin-token",
                        reason,
                        &request_id,
                    ));
                }
                let method = req.method().clone();
                let path = req.uri().path().to_string();
                let body = match read_body(incoming(req.into_body())).await {
                    Ok(b) => b,
                    Err(resp) => return Ok(boxed(resp)),
                };
                return Ok(boxed(admin::handle(self, &method, &path, body).await));
            }
            return Ok(self.forward(req.map(incoming), &request_id).await);
        };

        self.serve_signed(req, scope, request_id).await
    }

    /// Logs a refused request and answers it in the shape its client reads: the addressed
    /// service's error format for signed AWS requests, JSON on the admin path, plain text
    /// otherwise. Bodies are never read.
    fn refuse<B>(
        &self,
        req: &Request<B>,
        peer: SocketAddr,
        status: StatusCode,
        rule: &str,
        reason: String,
        request_id: &str,
    ) -> Response<Body> {
        let path = req.uri().path().to_string();
        self.refusals.record(guard::refusal(
            status.as_u16(),
            rule,
            reason.clone(),
            req.method(),
            &path,
            peer,
        ));
        let protocol = sigv4::scope(req.headers(), req.uri().query())
            .map(|scope| faults::protocol_for(&scope.service));
        let admin_path = path.starts_with(admin::ADMIN_PREFIX);
        guard::refusal_response(protocol, admin_path, status, &reason, request_id)
    }

    fn forward_unavailable(&self, request_id: &str) -> Response<Body> {
        moto_failure(
            "rds-not-configured",
            "no local PostgreSQL configured for this edge",
            request_id,
        )
    }

    async fn forward(&self, req: Request<Body>, request_id: &str) -> Response<Body> {
        match &self.moto {
            Some(moto) => moto.forward(req, request_id).await,
            None => moto_failure(
                "moto-not-configured",
                &format!(
                    "no moto server configured for this edge; cannot forward {} {}",
                    req.method(),
                    req.uri().path()
                ),
                request_id,
            ),
        }
    }
}

fn strip_hop_by_hop(headers: &mut http::HeaderMap) {
    // Headers named in `Connection` are hop-by-hop too.
    let named: Vec<String> = headers
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    for name in HOP_BY_HOP {
        headers.remove(*name);
    }
    for name in named {
        headers.remove(name.as_str());
    }
}

/// The edge's own answer on an app host (502 with no app, 504 on a slow one), marked with
/// `x-localcloud-error` so it is never mistaken for the app's.
fn app_error(status: StatusCode, message: &str) -> Response<Body> {
    let mut resp = Response::new(full(format!("localcloud: {message}\n")));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp.headers_mut().insert(
        "x-localcloud-error",
        http::HeaderValue::from_static("app-unavailable"),
    );
    resp
}

/// The `Host` header as sent (or the absolute-form URI's authority).
fn raw_host<B>(req: &Request<B>) -> Option<String> {
    match req.headers().get(http::header::HOST) {
        Some(v) => Some(String::from_utf8_lossy(v.as_bytes()).into_owned()),
        None => req.uri().authority().map(|a| a.as_str().to_string()),
    }
}

/// An ECS Express endpoint host (`<name>-<id>.ecs.<region>.localhost`).
fn is_ecs_host(host: &str) -> bool {
    host.ends_with(".localhost") && host.split('.').nth(1) == Some("ecs")
}

/// The `Host` header without its port, lowercased.
fn host_of<B>(req: &Request<B>) -> Option<String> {
    let raw = req
        .headers()
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().host())?;
    let host = match raw.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => raw,
    };
    Some(host.trim_end_matches('.').to_ascii_lowercase())
}

/// A request body as the edge passes it on.
fn incoming(body: Incoming) -> Body {
    body.map_err(|e| -> BoxError { Box::new(e) }).boxed()
}

/// Reads a whole API request body, up to [`MAX_API_BODY`].
async fn read_body(mut body: Body) -> Result<Bytes, Response<Full<Bytes>>> {
    let refuse = |why: String| {
        let mut resp = Response::new(Full::new(Bytes::from(format!(
            "localcloud: cannot read request body: {why}\n"
        ))));
        *resp.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
        resp
    };
    let mut buf = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| refuse(e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > MAX_API_BODY {
                return Err(refuse(format!("longer than {MAX_API_BODY} bytes")));
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else {
                    // Out of file descriptors or similar: back off briefly instead of spinning.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let shared = shared.clone();
                let mut stop = shutdown.clone();
                conns.spawn(async move {
                    let svc = service_fn(move |req| {
                        let shared = shared.clone();
                        async move { shared.handle(req, peer).await }
                    });
                    let conn = http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), svc);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        _ = stop.changed() => {
                            conn.as_mut().graceful_shutdown();
                            let _ = conn.await;
                        }
                    }
                });
            }
            _ = shutdown.changed() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        conns.abort_all();
    }
    // A workload container never outlives its edge.
    shared.stop_workloads().await;
}

async fn bind(cfg: &EdgeConfig) -> Result<(TcpListener, Arc<Shared>, SocketAddr), LocalCloudError> {
    crate::core::check_time_scale(cfg.time_scale)?;
    let listener = TcpListener::bind(cfg.bind)
        .await
        .map_err(|source| LocalCloudError::Bind {
            addr: cfg.bind,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| LocalCloudError::Bind {
            addr: cfg.bind,
            source,
        })?;
    let workloads = match &cfg.workloads {
        Some(w) => {
            let workloads = Workloads::connect(w.clone()).await?;
            // Containers left by an earlier edge of this instance (killed without cleanup)
            // serve nothing any more.
            workloads.remove_all().await?;
            Some(workloads)
        }
        None => None,
    };
    let shared = Arc::new(Shared::new(cfg, addr, workloads)?);
    Ok((listener, shared, addr))
}

/// A running edge, serving on a background task of the current Tokio runtime.
///
/// Dropping it stops accepting connections; [`Edge::shutdown`] also waits for open ones.
#[derive(Debug)]
pub struct Edge {
    addr: SocketAddr,
    admin_token: AdminToken,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Edge {
    /// Binds `cfg.bind` and starts serving. Fails if the address is taken or `moto_url` is not
    /// an `http://HOST:PORT` URL.
    pub async fn start(cfg: EdgeConfig) -> Result<Edge, LocalCloudError> {
        let (listener, shared, addr) = bind(&cfg).await?;
        guard::register_in_process(addr, &cfg.admin_token);
        let (stop, rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, shared, rx));
        Ok(Edge {
            addr,
            admin_token: cfg.admin_token,
            stop,
            task: Some(task),
        })
    }

    /// The admin client of this edge, with its token.
    pub fn admin(&self) -> admin::AdminClient {
        admin::AdminClient::for_edge(self.addr, self.admin_token.clone())
    }

    /// The token this edge's admin path asks for.
    pub fn admin_token(&self) -> &AdminToken {
        &self.admin_token
    }

    /// The bound address (the real port when `bind` asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`: the endpoint URL for every AWS SDK client.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets open connections finish (at most five seconds), removes the
    /// workload containers (bounded), then returns.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        guard::unregister_in_process(self.addr);
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(
                SHUTDOWN_GRACE + WORKLOAD_CLEANUP + Duration::from_secs(1),
                task,
            )
            .await;
        }
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        guard::unregister_in_process(self.addr);
    }
}

/// Serves an edge until `shutdown` completes, then drains connections (bounded) and returns.
/// This is the long-running process behind `cargo xtask local up`.
pub async fn serve(
    cfg: EdgeConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), LocalCloudError> {
    let (listener, shared, _addr) = bind(&cfg).await?;
    let (stop, rx) = watch::channel(false);
    let server = accept_loop(listener, shared, rx);
    tokio::pin!(server);
    tokio::select! {
        _ = server.as_mut() => {}
        _ = shutdown => {
            let _ = stop.send(true);
            server.await;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_strips_port_and_case() {
        let cases = [
            (
                "App.us-east-1.elasticbeanstalk.localhost:4566",
                "app.us-east-1.elasticbeanstalk.localhost",
            ),
            ("127.0.0.1:80", "127.0.0.1"),
            ("example.com.", "example.com"),
            ("[::1]:8080", "[::1]"),
        ];
        for (raw, want) in cases {
            let req = Request::builder().header("host", raw).body(()).unwrap();
            assert_eq!(host_of(&req).as_deref(), Some(want), "{raw}");
        }
    }
}
