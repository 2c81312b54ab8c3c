//! The offline AWS: one loopback edge answering Elastic Beanstalk and App Runner, forwarding the
//! rest to moto.
//!
//! # The edge
//!
//! [`Edge::start`] binds one HTTP/1.1 endpoint (use `127.0.0.1:0` in tests) and routes every
//! request, in this order:
//!
//! 1. **App traffic** — a `Host` ending in `.elasticbeanstalk.localhost` is answered by the
//!    Elastic Beanstalk environment with that CNAME (`<env>.<region>.elasticbeanstalk.localhost`),
//!    a `Host` ending in `.awsapprunner.localhost` by the App Runner service. Connect to
//!    [`Edge::addr`] and send that `Host` header (like `curl --resolve`).
//! 0. **Guard** — only loopback `Host` names; no browser requests outside app hosts; the admin
//!    path needs the edge's token (see [`guard`]). Refusals are 403 (401 for the token), logged
//!    to [`EdgeConfig::refusal_log`] and counted in [`Health`].
//! 2. **Admin** — unsigned requests under `/_localcloud/` carrying the
//!    [`ADMIN_TOKEN_HEADER`] (see [`AdminClient`]):
//!    - `GET  /_localcloud/health` → [`Health`]
//!    - `POST /_localcloud/faults` with a [`FaultRequest`] (by service and operation, `skip`,
//!      `count`, `each_operation`)
//!    - `GET  /_localcloud/faults` → the [`FaultHit`]s so far; `DELETE` disarms every fault
//!    - `POST /_localcloud/fail-next-deploy` with `{"name": "<env or service>", "count": 1}`
//!    - `POST /_localcloud/time-scale` with `{"scale": 150.0}`
//!    - `POST /_localcloud/reset` — forget every EB/App Runner resource and every fault.
//! 3. **Signed AWS requests** — routed by the service in the SigV4 credential scope
//!    (`Credential=AKID/<date>/<region>/<service>/aws4_request`): `elasticbeanstalk` (query
//!    protocol), `apprunner` (JSON 1.0) and ECS Express Mode (`ecs` JSON 1.1
//!    `*ExpressGatewayService`, `ListServiceDeployments`, `DescribeServices` of Express
//!    services) are emulated here, `ecr`'s `GetAuthorizationToken`
//!    points at the local registry, everything else goes to moto.
//! 4. **Anything else** (presigned or unsigned S3 included) is forwarded to moto unchanged,
//!    bodies streamed both ways. Without a moto URL the edge answers `503` with the
//!    `x-localcloud-error: moto-not-configured` header.
//!
//! Faults armed on the admin path are applied in each protocol's real wire format (EB
//! `Throttling`, App Runner `ThrottlingException`, S3 `SlowDown`, ...), before dispatch or,
//! for `lost_response` and `slow_response`, after the request was served.
//!
//! Time is scaled: with `time_scale = 300.0`, Elastic Beanstalk's five-minute launch takes one
//! second. State advances lazily when requests arrive; nothing runs in the background.

pub mod admin;
mod apprunner;
pub mod core;
mod diagnostic;
mod eb;
mod ecr;
mod ecs;
mod edge;
mod faults;
mod forward;
pub mod guard;
mod operation;
mod rds;
mod secrets_check;
mod sigv4;
pub mod workload;
mod xml;

use std::net::SocketAddr;

pub use admin::{AdminClient, FaultKind, FaultRequest, Health};
pub use core::FaultHit;
pub use core::{TIME_SCALE_MAX, TIME_SCALE_MIN, TimeScaleError, check_time_scale};
pub use edge::{Edge, serve};
pub use guard::{ADMIN_TOKEN_HEADER, AdminToken};
pub use rds::PostgresConfig;
pub use workload::{WorkloadConfig, Workloads};

/// How to start an [`Edge`].
#[derive(Debug, Clone)]
pub struct EdgeConfig {
    /// Where to listen. `127.0.0.1:0` picks a free port (tests); read it back with [`Edge::addr`].
    pub bind: SocketAddr,
    /// moto server base URL (`http://127.0.0.1:PORT`). `None`: forwarded requests get a 503 and
    /// EB operations that need S3 fail.
    pub moto_url: Option<String>,
    /// The local registry ECR's `GetAuthorizationToken` points at.
    pub registry: Option<core::RegistryConfig>,
    /// Service-time speed-up (`300.0`: five service minutes pass in one real second), within
    /// [`TIME_SCALE_MIN`]..=[`TIME_SCALE_MAX`] ([`Edge::start`] refuses anything else).
    pub time_scale: f64,
    /// Elastic Beanstalk application-version quota per region (AWS default 1000).
    pub eb_version_quota: u32,
    /// Region assumed when a request names none.
    pub region: String,
    /// Account id in ARNs and the EB storage bucket name.
    pub account_id: String,
    /// The local PostgreSQL cluster. `Some`: RDS is answered by the edge with real databases
    /// there; `None`: RDS requests go to moto like every other service.
    pub postgres: Option<PostgresConfig>,
    /// Real workloads: `Some` runs deployed apps in Docker containers and proxies their URLs to
    /// them; `None` simulates them (the edge answers the app's URL itself).
    pub workloads: Option<WorkloadConfig>,
    /// What the admin path (`/_localcloud/...`) asks for in the [`ADMIN_TOKEN_HEADER`] header.
    /// The default is a fresh random token; [`Edge::admin`] is a client that sends it.
    pub admin_token: AdminToken,
    /// Largest Elastic Beanstalk source bundle, checked with a HEAD before anything is
    /// downloaded (default [`EB_MAX_BUNDLE_BYTES`], EB's 500 MB). Tests lower it to check the
    /// refusal without making a 500 MB object.
    pub eb_max_bundle_bytes: u64,
    /// Where refused requests (Host, browser and token rules) are appended, one line each;
    /// `None`: only counted in [`Health`].
    pub refusal_log: Option<std::path::PathBuf>,
}

/// Elastic Beanstalk's source bundle limit ("Not exceed 500 MB"), as deploykit-bundle counts it.
pub const EB_MAX_BUNDLE_BYTES: u64 = 500 * 1024 * 1024;

impl Default for EdgeConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            moto_url: None,
            registry: None,
            time_scale: 1.0,
            eb_version_quota: 1000,
            region: "us-east-1".to_string(),
            account_id: "000000000000".to_string(),
            postgres: None,
            workloads: None,
            admin_token: AdminToken::random(),
            eb_max_bundle_bytes: EB_MAX_BUNDLE_BYTES,
            refusal_log: None,
        }
    }
}

/// Everything that can go wrong starting, running or talking to the edge.
#[derive(Debug, thiserror::Error)]
pub enum LocalCloudError {
    #[error("cannot bind the localcloud edge to {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid moto URL {url:?}: {reason}")]
    MotoUrl { url: String, reason: String },
    #[error("invalid localcloud edge URL {url:?}: {reason}")]
    EdgeUrl { url: String, reason: String },
    #[error("admin request {what} to {url} failed: {reason}")]
    AdminRequest {
        what: &'static str,
        url: String,
        reason: String,
    },
    #[error("admin request {what} to {url} answered HTTP {status}: {body}")]
    AdminStatus {
        what: &'static str,
        url: String,
        status: u16,
        body: String,
    },
    #[error("cannot run workloads: {0}")]
    Workloads(#[from] workload::WorkloadError),
    #[error(transparent)]
    TimeScale(#[from] TimeScaleError),
    #[error("admin request {what} to {url} did not answer within {secs} s")]
    AdminTimeout {
        what: &'static str,
        url: String,
        secs: u64,
    },
}
