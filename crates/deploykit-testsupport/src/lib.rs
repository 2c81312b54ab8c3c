//! Test support: join the running local cloud, start private edges, and hand out an
//! [`SdkConfig`] that can only ever reach loopback.
//!
//! ```no_run
//! # async fn t() {
//! let cloud = deploykit_testsupport::local_cloud().await; // fails loudly when it is not up
//! let s3 = aws_sdk_s3::Client::new(&cloud.sdk_config());
//! let edge = deploykit_testsupport::private_edge(|c| c.time_scale = 600.0).await;
//! let eb_cfg = cloud.sdk_config_for(&edge.url()); // this test's own clock and faults
//! let db = cloud.fresh_database(&deploykit_testsupport::unique_name("rds")).await;
//! # let _ = (s3, eb_cfg, db); }
//! ```
//!
//! The cloud itself is started by `cargo xtask local up` or `cargo xtask test`; tests join it
//! through `DEPLOYKIT_LOCAL_STATE` (or `<workspace>/target/localcloud/state.json`). There is no
//! silent skip: a test that needs the cloud and does not find it fails with the command to run.
//!
//! # Nothing reaches real AWS
//!
//! Every `SdkConfig` from here carries [`LoopbackOnlyClient`], an HTTP client that refuses any
//! request whose host is not loopback *before* it resolves a name or opens a socket. It is on
//! the transport rather than an interceptor because `SdkConfig` carries no interceptors; for
//! clients configured another way, [`LoopbackInterceptor`] does the same check in
//! `read_before_transmit`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::shared::IntoShared;
use aws_smithy_types::config_bag::ConfigBag;
use aws_types::SdkConfig;
use aws_types::region::Region;
use deploykit_local::LocalState;
use deploykit_localcloud::core::RegistryConfig;
use deploykit_localcloud::{AdminClient, Edge, EdgeConfig};
use secrecy::ExposeSecret;
use serde::Deserialize;

pub mod mocks;
mod pg;

pub use pg::{PrivatePostgres, private_postgres};

pub use deploykit_local;
pub use deploykit_localcloud;

/// The region every local client uses.
pub const REGION: &str = "us-east-1";

const NOT_UP: &str = "the local cloud is not running: run `cargo xtask local up` (then `cargo test`), or run everything with `cargo xtask test`";

/// The running local cloud, as recorded by `cargo xtask local up` in its state file
/// (`deploykit_local::LocalState`, kept whole in [`LocalCloud::state`]).
#[derive(Debug, Clone)]
pub struct LocalCloud {
    /// Everything `state.json` records.
    pub state: LocalState,
    pub state_file: PathBuf,
    /// The shared edge (`AWS_ENDPOINT_URL`).
    pub edge_url: String,
    pub moto_url: String,
    pub region: String,
    pub account_id: String,
    pub time_scale: f64,
    pub registry: Registry,
    pub pg: Postgres,
}

/// The local registry. `Debug` does not print the password.
#[derive(Clone)]
pub struct Registry {
    /// `127.0.0.1:PORT`.
    pub endpoint: String,
    pub username: String,
    password: String,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("endpoint", &self.endpoint)
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

impl Registry {
    pub fn password(&self) -> &str {
        &self.password
    }

    /// What an edge needs to hand out ECR tokens for this registry.
    pub fn config(&self) -> RegistryConfig {
        RegistryConfig {
            endpoint: self.endpoint.clone(),
            username: self.username.clone(),
            password: self.password.clone(),
        }
    }
}

/// The local PostgreSQL cluster (trust auth on loopback).
#[derive(Debug, Clone, Deserialize)]
pub struct Postgres {
    pub host: String,
    pub port: u16,
    pub superuser: String,
    pub database_url: String,
}

/// Where the state file is: `DEPLOYKIT_LOCAL_STATE`, else `<workspace>/target/localcloud/state.json`.
pub fn state_path() -> PathBuf {
    if let Some(p) = std::env::var_os("DEPLOYKIT_LOCAL_STATE").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    // This crate lives at <workspace>/crates/deploykit-testsupport.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/localcloud/state.json")
        .components()
        .collect()
}

impl LocalCloud {
    /// Reads the state file without checking that anything answers.
    pub fn load(path: &Path) -> Result<LocalCloud, String> {
        let state = deploykit_local::load_state(path).map_err(|e| match e {
            deploykit_local::LocalError::NotRunning { .. } => {
                format!("{NOT_UP} ({e})")
            }
            e => format!(
                "{e}; run `cargo xtask local down && cargo xtask local up` with this checkout"
            ),
        })?;
        Ok(LocalCloud {
            state_file: path.to_path_buf(),
            edge_url: state.edge_url.clone(),
            moto_url: state.moto_url.clone(),
            region: state.region.clone(),
            account_id: state.account_id.clone(),
            time_scale: state.time_scale,
            registry: Registry {
                endpoint: state.registry.endpoint.clone(),
                username: state.registry.username.clone(),
                password: state.registry.password.expose_secret().to_string(),
            },
            pg: Postgres {
                host: state.pg.host.clone(),
                port: state.pg.port,
                superuser: state.pg.superuser.clone(),
                database_url: state.pg.database_url.clone(),
            },
            state,
        })
    }

    /// An `SdkConfig` for the shared edge.
    pub fn sdk_config(&self) -> SdkConfig {
        sdk_config_for(&self.edge_url)
    }

    /// An `SdkConfig` for another loopback endpoint (a [`private_edge`], or moto directly).
    pub fn sdk_config_for(&self, endpoint_url: &str) -> SdkConfig {
        sdk_config_for(endpoint_url)
    }

    /// The admin client of the shared edge (faults, time scale, reset), with the admin token
    /// `local up` recorded in state.json.
    pub fn admin(&self) -> AdminClient {
        deploykit_local::admin_client(&self.state)
            .unwrap_or_else(|e| panic!("admin client for {}: {e}", self.edge_url))
    }

    /// The URL of database `db` on the local cluster.
    pub fn database_url_for(&self, db: &str) -> String {
        format!(
            "postgresql://{}@{}:{}/{db}",
            self.pg.superuser, self.pg.host, self.pg.port
        )
    }

    /// Creates an empty database (dropping one of the same name first) and returns its URL.
    /// `name` is lowercased and everything but `[a-z0-9_]` becomes `_`.
    pub async fn fresh_database(&self, name: &str) -> String {
        let db = sanitize_db_name(name);
        let admin_url = self.database_url_for("postgres");
        let made = async {
            let (client, conn) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
                .await
                .map_err(|e| format!("connecting to {admin_url}: {e}"))?;
            let conn = tokio::spawn(conn);
            // One statement per query: (DROP|CREATE) DATABASE refuses a transaction block.
            let made = async {
                let drop = format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)");
                client.batch_execute(&drop).await?;
                client
                    .batch_execute(&format!("CREATE DATABASE \"{db}\""))
                    .await
            }
            .await
            .map_err(|e| format!("creating database {db} on {admin_url}: {e}"));
            drop(client);
            let _ = conn.await;
            made
        };
        made.await
            .unwrap_or_else(|e| panic!("{e}; is the local cloud up? (`cargo xtask local status`)"));
        self.database_url_for(&db)
    }

    /// Starts an in-process edge of this test's own (own port, clock and faults) that shares
    /// this cloud's moto and registry. `tweak` adjusts the config (time scale 300 by default).
    /// Its admin path asks for its own random token: [`Edge::admin`] sends it.
    pub async fn private_edge(&self, tweak: impl FnOnce(&mut EdgeConfig)) -> Edge {
        let mut cfg = EdgeConfig {
            moto_url: Some(self.moto_url.clone()),
            registry: Some(self.registry.config()),
            time_scale: 300.0,
            region: self.region.clone(),
            account_id: self.account_id.clone(),
            ..EdgeConfig::default()
        };
        tweak(&mut cfg);
        assert!(
            cfg.bind.ip().is_loopback(),
            "private_edge must bind loopback, not {}",
            cfg.bind
        );
        Edge::start(cfg)
            .await
            .unwrap_or_else(|e| panic!("starting a private localcloud edge: {e}"))
    }
}

/// Joins the running local cloud. Panics, with the command to run, when it is not up or its
/// edge does not answer: tests that need it never pass silently without it.
pub async fn local_cloud() -> LocalCloud {
    let path = state_path();
    let cloud = LocalCloud::load(&path).unwrap_or_else(|e| panic!("{e}"));
    if let Err(e) = cloud.admin().health().await {
        panic!(
            "the local cloud in {} is recorded but its edge at {} does not answer ({e}); run `cargo xtask local up` (it restarts what is down) or `cargo xtask local status`",
            path.display(),
            cloud.edge_url
        );
    }
    cloud
}

/// [`LocalCloud::private_edge`] on the running local cloud.
pub async fn private_edge(tweak: impl FnOnce(&mut EdgeConfig)) -> Edge {
    local_cloud().await.private_edge(tweak).await
}

/// The admin client of the shared edge.
pub async fn admin() -> AdminClient {
    local_cloud().await.admin()
}

/// A name unique to this test run: `prefix-<pid>-<counter><time>`, lowercase, at most 40
/// characters, valid as an EB environment, App Runner service, bucket or database name part.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut s = format!(
        "{}-{:x}-{n:x}{:x}",
        prefix.to_ascii_lowercase(),
        std::process::id(),
        nanos % 0x10000
    );
    s.truncate(40);
    s
}

fn sanitize_db_name(name: &str) -> String {
    let mut s: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    s.truncate(63);
    s
}

/// An `SdkConfig` for a loopback endpoint: dummy static credentials, region us-east-1, and an
/// HTTP client that refuses every non-loopback host.
pub fn sdk_config_for(endpoint_url: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint_url)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "deploykit-testsupport",
        )))
        .http_client(LoopbackOnlyClient::new())
        .build()
}

/// Whether a request URI's host is loopback: 127.0.0.0/8, ::1, `localhost` or `*.localhost`.
pub fn is_loopback_uri(uri: &str) -> bool {
    let Ok(url) = url::Url::parse(uri) else {
        return false;
    };
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        None => false,
    }
}

fn refusal(uri: &str) -> String {
    format!(
        "deploykit-testsupport refused a request to {uri}: tests may only talk to the local cloud on loopback, never to real AWS. Build the client from LocalCloud::sdk_config() (or sdk_config_for a 127.0.0.1 URL) and do not override the endpoint"
    )
}

/// An HTTP client that fails every request to a non-loopback host before any name lookup or
/// connection, and passes the rest to a plain-HTTP client (the local cloud speaks HTTP).
#[derive(Debug, Clone)]
pub struct LoopbackOnlyClient {
    inner: SharedHttpClient,
}

impl LoopbackOnlyClient {
    pub fn new() -> Self {
        Self::wrap(aws_smithy_http_client::Builder::new().build_http())
    }

    /// Guards another client (tests use a recording one).
    pub fn wrap(inner: impl HttpClient + 'static) -> Self {
        Self {
            inner: inner.into_shared(),
        }
    }
}

impl Default for LoopbackOnlyClient {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpClient for LoopbackOnlyClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(LoopbackOnlyConnector {
            inner: self.inner.http_connector(settings, components),
        })
    }
}

#[derive(Debug)]
struct LoopbackOnlyConnector {
    inner: SharedHttpConnector,
}

impl HttpConnector for LoopbackOnlyConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        if is_loopback_uri(request.uri()) {
            self.inner.call(request)
        } else {
            let err: BoxError = refusal(request.uri()).into();
            HttpConnectorFuture::ready(Err(ConnectorError::user(err)))
        }
    }
}

/// The same guard as an interceptor, for clients built from a service config:
/// `aws_sdk_s3::config::Builder::from(&sdk).interceptor(LoopbackInterceptor)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoopbackInterceptor;

impl Intercept for LoopbackInterceptor {
    fn name(&self) -> &'static str {
        "deploykit-testsupport::LoopbackInterceptor"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let uri = context.request().uri();
        if is_loopback_uri(uri) {
            Ok(())
        } else {
            Err(refusal(uri).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for (uri, ok) in [
            ("http://127.0.0.1:4566/", true),
            ("http://127.8.9.10/", true),
            ("http://[::1]:4566/x", true),
            ("http://localhost:4566", true),
            ("http://bucket.localhost:4566/key", true),
            ("https://s3.us-east-1.amazonaws.com/", false),
            ("https://bucket.s3.amazonaws.com/", false),
            ("http://10.0.0.1/", false),
            ("http://localhost.evil.com/", false),
            ("not a uri", false),
        ] {
            assert_eq!(is_loopback_uri(uri), ok, "{uri}");
        }
    }

    #[test]
    fn unique_names_differ_and_are_valid() {
        let a = unique_name("EnvTest");
        let b = unique_name("EnvTest");
        assert_ne!(a, b);
        assert!(a.starts_with("envtest-"));
        assert!(a.len() <= 40);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
    }

    #[test]
    fn db_names_are_sanitized() {
        assert_eq!(sanitize_db_name("My-Test.DB"), "my_test_db");
    }

    #[test]
    fn missing_state_file_says_what_to_run() {
        let e = LocalCloud::load(Path::new("/nonexistent/state.json")).unwrap_err();
        assert!(e.contains("cargo xtask local up"), "{e}");
        assert!(e.contains("cargo xtask test"), "{e}");
    }

    #[test]
    fn registry_debug_hides_the_password() {
        let r = Registry {
            endpoint: "127.0.0.1:1".into(),
            username: "AWS".into(),
            password: "hunter2-secret".into(),
        };
        assert!(!format!("{r:?}").contains("hunter2-secret"));
    }
}
