//! A small client for AWS APIs that speak the Query protocol the way EC2 does: a form-encoded
//! `POST /` of `Action=...&Version=...&<params>`, signed with SigV4, answered with XML; errors
//! come as `<Response><Errors><Error><Code>` (EC2) or `<ErrorResponse><Error><Code>` (awsQuery).
//!
//! It exists so that a crate needing a handful of calls of a huge service does not compile that
//! service's whole SDK crate (aws-sdk-ec2 alone took 381 s of a cold build). Everything that is
//! not the wire format comes from the caller's [`SdkConfig`], as an SDK client would take it:
//! region, endpoint URL, credentials provider and identity cache, HTTP client (the SDK's default
//! HTTPS client when the config carries none), time source, sleep, retry and timeout settings.
//! Signing is AWS's own `aws-sigv4`.
//!
//! [`QueryClient::call`] sends one action, retrying throttling and transient failures (5xx,
//! connection failures) with capped, jittered exponential backoff, and returns the body of the
//! answer; failures are a [`Classified`] sorted by the error *code* ([`classify_code`]), never by
//! the message. [`parse`] turns a body into the caller's serde types; [`List`] reads the
//! `<item>` (EC2) / `<member>` (awsQuery) lists; [`Params`] builds the request's parameters,
//! including the numbered lists (`Filter.1.Value.1`).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::identity::IdentityCache;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_async::rt::sleep::{AsyncSleep, SharedAsyncSleep, default_async_sleep};
use aws_smithy_async::time::SharedTimeSource;
use aws_smithy_runtime::client::auth::no_auth::{NO_AUTH_SCHEME_ID, NoAuthScheme};
use aws_smithy_runtime::client::orchestrator::endpoints::StaticUriEndpointResolver;
use aws_smithy_runtime::client::retries::strategy::NeverRetryStrategy;
use aws_smithy_runtime_api::client::auth::static_resolver::StaticAuthSchemeOptionResolver;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::identity::{
    ResolveCachedIdentity, SharedIdentityCache, SharedIdentityResolver,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use aws_smithy_types::config_bag::ConfigBag;
use aws_types::SdkConfig;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::{Classified, ErrorKind};

/// The `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("deploykit/", env!("CARGO_PKG_VERSION"), " (query)");

/// A Query-protocol service: its SigV4 signing name (also its endpoint prefix) and API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    pub name: &'static str,
    pub version: &'static str,
}

impl Service {
    /// Amazon EC2, API version 2016-11-15 (the only one).
    pub const EC2: Service = Service {
        name: "ec2",
        version: "2016-11-15",
    };

    /// Amazon CloudWatch (metrics and alarms; signing name `monitoring`), API 2010-08-01. Its
    /// SDK crate speaks Smithy RPC v2 CBOR, which moto 5.2.1 does not; the Query protocol is
    /// still served by AWS and moto alike.
    pub const CLOUDWATCH: Service = Service {
        name: "monitoring",
        version: "2010-08-01",
    };

    /// Amazon SNS, API 2010-03-31 (a Query-protocol service).
    pub const SNS: Service = Service {
        name: "sns",
        version: "2010-03-31",
    };
}

/// The parameters of one call besides `Action` and `Version`, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn new() -> Self {
        Params::default()
    }

    /// Adds `name=value`.
    pub fn set(&mut self, name: impl Into<String>, value: impl fmt::Display) -> &mut Self {
        self.0.push((name.into(), value.to_string()));
        self
    }

    /// Adds `name=value` when there is a value.
    pub fn set_opt(
        &mut self,
        name: impl Into<String>,
        value: Option<impl fmt::Display>,
    ) -> &mut Self {
        if let Some(v) = value {
            self.set(name, v);
        }
        self
    }

    /// A list of scalars: `prefix.1=a&prefix.2=b` (numbered from 1).
    pub fn list<T: fmt::Display>(
        &mut self,
        prefix: &str,
        values: impl IntoIterator<Item = T>,
    ) -> &mut Self {
        for (i, v) in values.into_iter().enumerate() {
            self.set(format!("{prefix}.{}", i + 1), v);
        }
        self
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// The form body: `Action=...&Version=...` then the parameters, form-encoded.
    pub fn to_body(&self, service: Service, action: &str) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        s.append_pair("Action", action);
        s.append_pair("Version", service.version);
        for (k, v) in &self.0 {
            s.append_pair(k, v);
        }
        s.finish()
    }
}

/// An XML list: EC2 wraps members in `<item>`, awsQuery in `<member>`; an empty or missing
/// wrapper is an empty list.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct List<T> {
    #[serde(rename = "item", alias = "member", default = "Vec::new")]
    pub items: Vec<T>,
}

impl<T> Default for List<T> {
    fn default() -> Self {
        List { items: Vec::new() }
    }
}

impl<T> List<T> {
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }
}

impl<T> From<Vec<T>> for List<T> {
    fn from(items: Vec<T>) -> Self {
        List { items }
    }
}

impl<T> From<List<T>> for Vec<T> {
    fn from(l: List<T>) -> Self {
        l.items
    }
}

/// Reads an answer of `action` into `T` (serde over quick-xml; unknown elements are ignored).
pub fn parse<T: DeserializeOwned>(action: &str, body: &str) -> Result<T, Classified> {
    quick_xml::de::from_str(body).map_err(|e| Classified {
        kind: ErrorKind::Other,
        code: None,
        message: Some(format!("the {action} answer could not be read: {e}")),
        request_id: None,
    })
}

/// The kind of an error code, as [`crate::classify`] sorts SDK errors; codes EC2 writes with a
/// `Client.`/`Server.` prefix count without it. `None` for a code nobody recognises.
pub fn classify_code(code: &str) -> Option<ErrorKind> {
    let bare = code
        .strip_prefix("Client.")
        .or_else(|| code.strip_prefix("Server."))
        .unwrap_or(code);
    crate::classify::kind_of_code(bare)
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

#[derive(Debug, Default, Deserialize)]
struct ErrorItem {
    #[serde(rename = "Code")]
    code: Option<String>,
    #[serde(rename = "Message")]
    message: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Errors {
    #[serde(rename = "Error", default)]
    error: Vec<ErrorItem>,
}

/// `<Response><Errors><Error>..</Error></Errors><RequestID>` (EC2) and
/// `<ErrorResponse><Error>..</Error><RequestId>` (awsQuery), read alike.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(rename = "Errors")]
    errors: Option<Errors>,
    #[serde(rename = "Error")]
    error: Option<ErrorItem>,
    #[serde(rename = "RequestID", alias = "RequestId", alias = "requestId")]
    request_id: Option<String>,
}

/// A failed answer: the first error's code and message, the request id (header first), and the
/// kind by code, else by HTTP status. A body that is not the XML error shape (a proxy's HTML
/// page) is classified by status alone.
pub fn parse_error(status: u16, header_request_id: Option<&str>, body: &str) -> Classified {
    let parsed: ErrorBody = quick_xml::de::from_str(body).unwrap_or_default();
    let first = parsed
        .errors
        .and_then(|e| e.error.into_iter().next())
        .or(parsed.error)
        .unwrap_or_default();
    let code = first
        .code
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    let kind = code
        .as_deref()
        .and_then(classify_code)
        .unwrap_or_else(|| kind_of_status(status));
    let message = first
        .message
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty())
        .or_else(|| code.is_none().then(|| format!("HTTP {status}")));
    Classified {
        kind,
        code,
        message,
        request_id: header_request_id
            .map(str::to_string)
            .or(parsed.request_id)
            .filter(|r| !r.is_empty()),
    }
}

/// How often and how patiently a call is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retry).
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// The SDK's standard mode: 3 attempts, 1 s initial backoff, at most 20 s.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// The SdkConfig's retry settings (standard mode's defaults without any).
    pub fn from_sdk(sdk: &SdkConfig) -> Self {
        match sdk.retry_config() {
            Some(r) => RetryPolicy {
                max_attempts: if r.has_retry() {
                    r.max_attempts().max(1)
                } else {
                    1
                },
                initial_backoff: r.initial_backoff(),
                max_backoff: r.max_backoff(),
            },
            None => RetryPolicy::default(),
        }
    }

    /// The wait before retry number `retry` (1-based): `initial * 2^(retry-1)`, capped at
    /// `max_backoff`, scaled by `jitter` in `[0, 1]` (full jitter, as the SDK does).
    pub fn backoff(&self, retry: u32, jitter: f64) -> Duration {
        let exp = 2f64.powi(retry.saturating_sub(1).min(30) as i32);
        let base = (self.initial_backoff.as_secs_f64() * exp).min(self.max_backoff.as_secs_f64());
        Duration::from_secs_f64(base * jitter.clamp(0.0, 1.0))
    }
}

/// A jitter factor in `[0, 1)` without a random number crate: the clock's nanoseconds, mixed.
fn jitter() -> f64 {
    let n = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let x = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
    x as f64 / (1u64 << 53) as f64
}

/// The regional endpoint when the SdkConfig names none: `https://<service>.<region>.amazonaws.com`
/// (`.amazonaws.com.cn` in the China regions).
pub fn default_endpoint(service: Service, region: &str) -> String {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://{}.{region}.{suffix}", service.name)
}

/// The SDK's default HTTPS client (hyper 1, rustls with aws-lc, proxy settings from the
/// environment), for an SdkConfig that carries no HTTP client.
fn default_http_client() -> SharedHttpClient {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::{Builder, ConnectorBuilder, tls};
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut b = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ));
        b.set_connector_settings(settings.cloned());
        if let Some(c) = components {
            b.set_sleep_impl(c.sleep_impl());
        }
        b.set_proxy_config(Some(ProxyConfig::from_env()));
        b.build()
    })
}

/// What one configured client holds: the connector, and the runtime components the HTTP client
/// and the identity cache need (time, sleep), with no-op stand-ins for the parts of an SDK
/// client this one does itself (endpoint, auth, retries).
struct Transport {
    connector: SharedHttpConnector,
    components: RuntimeComponents,
    identity_cache: SharedIdentityCache,
    credentials: Option<SharedIdentityResolver>,
    time: SharedTimeSource,
    sleep: Option<SharedAsyncSleep>,
}

fn transport(sdk: &SdkConfig, endpoint: &str) -> Result<Transport, String> {
    let http = sdk.http_client().unwrap_or_else(default_http_client);
    let time = sdk.time_source().unwrap_or_default();
    let sleep = sdk.sleep_impl().or_else(default_async_sleep);
    let identity_cache = sdk
        .identity_cache()
        .unwrap_or_else(|| IdentityCache::lazy().build());
    let credentials = sdk.credentials_provider().map(SharedIdentityResolver::new);
    let no_auth = SharedIdentityResolver::new(
        aws_smithy_runtime::client::identity::no_auth::NoAuthIdentityResolver::new(),
    );
    let components = RuntimeComponents::builder("deploykit_aws::query")
        .with_http_client(Some(http.clone()))
        .with_endpoint_resolver(Some(StaticUriEndpointResolver::uri(endpoint)))
        .with_auth_scheme_option_resolver(Some(StaticAuthSchemeOptionResolver::new(vec![
            NO_AUTH_SCHEME_ID,
        ])))
        .with_auth_scheme(NoAuthScheme::new())
        .with_identity_resolver(NO_AUTH_SCHEME_ID, no_auth)
        .with_identity_cache(Some(identity_cache.clone()))
        .with_retry_strategy(Some(NeverRetryStrategy::new()))
        .with_time_source(Some(time.clone()))
        .with_sleep_impl(sleep.clone())
        .build()
        .map_err(|e| format!("configuring the HTTP client: {e}"))?;
    let timeouts = sdk.timeout_config();
    let mut settings = HttpConnectorSettings::builder();
    if let Some(t) = timeouts.and_then(|t| t.connect_timeout()) {
        settings = settings.connect_timeout(t);
    }
    if let Some(t) = timeouts.and_then(|t| t.read_timeout()) {
        settings = settings.read_timeout(t);
    }
    let connector = http.http_connector(&settings.build(), &components);
    Ok(Transport {
        connector,
        components,
        identity_cache,
        credentials,
        time,
        sleep,
    })
}

/// A Query-protocol client for one service, configured from an [`SdkConfig`]. Cheap to clone.
#[derive(Clone)]
pub struct QueryClient {
    inner: Arc<Inner>,
}

struct Inner {
    service: Service,
    region: Option<String>,
    endpoint: Option<String>,
    transport: Result<Transport, String>,
    retry: RetryPolicy,
    operation_timeout: Option<Duration>,
    attempt_timeout: Option<Duration>,
}

impl fmt::Debug for QueryClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueryClient")
            .field("service", &self.inner.service.name)
            .field("region", &self.inner.region)
            .field("endpoint", &self.inner.endpoint)
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

fn failure(kind: ErrorKind, message: impl Into<String>) -> Classified {
    Classified {
        kind,
        code: None,
        message: Some(message.into()),
        request_id: None,
    }
}

/// An error and its causes, one line.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

fn connector_failure(e: &ConnectorError) -> Classified {
    // A refusal by the client itself (e.g. a loopback-only guard) is not worth retrying; I/O,
    // timeouts and other connector failures may not even have reached AWS.
    let kind = if e.is_user() {
        ErrorKind::Other
    } else {
        ErrorKind::Transient
    };
    failure(kind, chain(e))
}

impl QueryClient {
    /// Never fails: a config without a region or credentials fails each call instead, as an SDK
    /// client does.
    pub fn new(sdk: &SdkConfig, service: Service) -> Self {
        let region = sdk.region().map(|r| r.as_ref().to_string());
        let endpoint = sdk
            .endpoint_url()
            .map(|e| e.trim_end_matches('/').to_string())
            .or_else(|| region.as_deref().map(|r| default_endpoint(service, r)));
        let transport = match &endpoint {
            Some(e) => transport(sdk, e),
            None => Err("no region is configured, so there is no endpoint".into()),
        };
        let timeouts = sdk.timeout_config();
        QueryClient {
            inner: Arc::new(Inner {
                service,
                region,
                endpoint,
                transport,
                retry: RetryPolicy::from_sdk(sdk),
                operation_timeout: timeouts.and_then(|t| t.operation_timeout()),
                attempt_timeout: timeouts.and_then(|t| t.operation_attempt_timeout()),
            }),
        }
    }

    pub fn service(&self) -> Service {
        self.inner.service
    }

    /// Where requests go: the SdkConfig's endpoint URL, else the regional endpoint.
    pub fn endpoint(&self) -> Option<&str> {
        self.inner.endpoint.as_deref()
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        self.inner.retry
    }

    /// Sends `action` with `params` and returns the answer's body. Throttling and transient
    /// failures are retried per the [`RetryPolicy`]; the whole call is bounded by the
    /// SdkConfig's operation timeout.
    pub async fn call(&self, action: &str, params: &Params) -> Result<String, Classified> {
        let fut = self.call_with_retries(action, params);
        match self.inner.operation_timeout {
            Some(t) => tokio::time::timeout(t, fut).await.unwrap_or_else(|_| {
                Err(failure(
                    ErrorKind::Transient,
                    format!("{action} took longer than the operation timeout of {t:?}"),
                ))
            }),
            None => fut.await,
        }
    }

    async fn call_with_retries(&self, action: &str, params: &Params) -> Result<String, Classified> {
        let t = self
            .inner
            .transport
            .as_ref()
            .map_err(|e| failure(ErrorKind::Validation, e.clone()))?;
        let body = params.to_body(self.inner.service, action);
        let retry = self.inner.retry;
        let mut attempt = 1;
        loop {
            let once = self.attempt(t, action, &body);
            let result = match self.inner.attempt_timeout {
                Some(d) => tokio::time::timeout(d, once).await.unwrap_or_else(|_| {
                    Err(failure(
                        ErrorKind::Transient,
                        format!("an attempt of {action} took longer than {d:?}"),
                    ))
                }),
                None => once.await,
            };
            match result {
                Err(e) if e.kind.is_retryable() && attempt < retry.max_attempts => {
                    let wait = retry.backoff(attempt, jitter());
                    match &t.sleep {
                        Some(s) => s.sleep(wait).await,
                        None => tokio::time::sleep(wait).await,
                    }
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// One signed request and its answer.
    async fn attempt(&self, t: &Transport, action: &str, body: &str) -> Result<String, Classified> {
        let (Some(endpoint), Some(region)) = (&self.inner.endpoint, &self.inner.region) else {
            return Err(failure(ErrorKind::Validation, "no region is configured"));
        };
        let resolver = t.credentials.clone().ok_or_else(|| {
            failure(
                ErrorKind::Credentials,
                "the AWS configuration has no credentials provider",
            )
        })?;
        let identity = t
            .identity_cache
            .resolve_cached_identity(resolver, &t.components, &ConfigBag::base())
            .await
            .map_err(|e| failure(ErrorKind::Credentials, chain(e.as_ref())))?;
        let uri = format!("{endpoint}/");
        let headers = signed_headers(
            &uri,
            body,
            &identity,
            region,
            self.inner.service.name,
            t.time.now(),
        )
        .map_err(|e| failure(ErrorKind::Credentials, e))?;
        let mut req = HttpRequest::new(SdkBody::from(body.to_string()));
        req.set_uri(uri.clone())
            .map_err(|e| failure(ErrorKind::Validation, format!("endpoint {uri}: {e}")))?;
        req.set_method("POST")
            .map_err(|e| failure(ErrorKind::Validation, e.to_string()))?;
        for (k, v) in headers {
            req.headers_mut().insert(k, v);
        }
        // Unsigned; names deploykit in CloudTrail's userAgent.
        req.headers_mut().insert("user-agent", USER_AGENT);
        let resp = t
            .connector
            .call(req)
            .await
            .map_err(|e| connector_failure(&e))?;
        let status = resp.status().as_u16();
        let request_id = resp
            .headers()
            .get("x-amzn-requestid")
            .or_else(|| resp.headers().get("x-amz-request-id"))
            .map(str::to_string);
        let bytes = ByteStream::new(resp.into_body())
            .collect()
            .await
            .map_err(|e| {
                failure(
                    ErrorKind::Transient,
                    format!("reading the {action} answer: {}", chain(&e)),
                )
            })?
            .into_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if (200..300).contains(&status) {
            Ok(text)
        } else {
            Err(parse_error(status, request_id.as_deref(), &text))
        }
    }
}

/// The headers of a signed form POST to `uri`: content type, host, and SigV4's own
/// (`x-amz-date`, `authorization`, `x-amz-security-token` with a session token).
pub fn signed_headers(
    uri: &str,
    body: &str,
    identity: &aws_smithy_runtime_api::client::identity::Identity,
    region: &str,
    service: &str,
    time: SystemTime,
) -> Result<Vec<(String, String)>, String> {
    let parsed: url::Url = uri.parse().map_err(|e| format!("endpoint {uri}: {e}"))?;
    let host = match (parsed.host_str(), parsed.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        (None, _) => return Err(format!("endpoint {uri} has no host")),
    };
    let mut headers = vec![
        (
            "content-type".to_string(),
            "application/x-www-form-urlencoded; charset=utf-8".to_string(),
        ),
        ("host".to_string(), host),
    ];
    let params = v4::SigningParams::builder()
        .identity(identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("signing: {e}"))?
        .into();
    let signable = SignableRequest::new(
        "POST",
        uri,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body.as_bytes()),
    )
    .map_err(|e| format!("signing: {e}"))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| format!("signing: {e}"))?
        .into_parts();
    headers.extend(
        instructions
            .headers()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    Ok(headers)
}

#[cfg(test)]
mod tests;
