//! Image identifiers and the "is this image in the registry?" check a deploy starts with.
//!
//! App Runner pulls `<registry-host>/<repository>:<tag>` (or `@sha256:<digest>`). Locally,
//! every pull goes to the one local registry: an identifier naming that registry's host, or an
//! ECR-shaped host (`<account>.dkr.ecr.<region>.amazonaws.com`), is looked up there with the
//! registry's HTTP API (`HEAD /v2/<repo>/manifests/<ref>`); any other host cannot be pulled.

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::error::ApiError;
use crate::core::RegistryConfig;

/// Manifest media types a pull accepts (OCI and Docker, single-platform and index).
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
     application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.docker.distribution.manifest.list.v2+json";

/// How long one manifest lookup may take (real time) before the pull counts as failed.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// A parsed `ImageIdentifier`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageRef {
    pub host: String,
    pub repository: String,
    /// A tag or `sha256:<hex>` digest.
    pub reference: String,
}

impl ImageRef {
    pub(crate) fn parse(id: &str) -> Result<Self, ApiError> {
        let invalid = |why: &str| {
            ApiError::invalid_request(format!(
                "Value '{id}' at 'sourceConfiguration.imageRepository.imageIdentifier' is not a \
                 valid image identifier: {why}"
            ))
        };
        let (host, rest) = id
            .split_once('/')
            .ok_or_else(|| invalid("expected <registry-host>/<repository>:<tag>"))?;
        if !(host.contains('.') || host.contains(':') || host == "localhost") {
            return Err(invalid("the first component must be a registry host"));
        }
        let (repository, reference) = if let Some((repo, digest)) = rest.split_once('@') {
            let hex = digest
                .strip_prefix("sha256:")
                .ok_or_else(|| invalid("digests must be sha256"))?;
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(invalid("a sha256 digest has 64 hex digits"));
            }
            (repo, digest)
        } else {
            let (repo, tag) = rest
                .rsplit_once(':')
                .filter(|(_, tag)| !tag.contains('/'))
                .ok_or_else(|| invalid("a tag or digest is required"))?;
            let tag_ok = (1..=128).contains(&tag.len())
                && tag
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
            if !tag_ok {
                return Err(invalid("invalid tag"));
            }
            (repo, tag)
        };
        let repo_ok = !repository.is_empty()
            && repository.split('/').all(|seg| {
                !seg.is_empty()
                    && seg.bytes().all(|b| {
                        b.is_ascii_lowercase()
                            || b.is_ascii_digit()
                            || matches!(b, b'.' | b'_' | b'-')
                    })
            });
        if !repo_ok {
            return Err(invalid("invalid repository name"));
        }
        Ok(Self {
            host: host.to_string(),
            repository: repository.to_string(),
            reference: reference.to_string(),
        })
    }

    /// Whether a pull of this image is served by the local registry at `endpoint`.
    fn served_by(&self, endpoint: &str) -> bool {
        let endpoint = strip_scheme(endpoint);
        same_host(&self.host, endpoint) || is_ecr_host(&self.host)
    }
}

fn strip_scheme(endpoint: &str) -> &str {
    endpoint
        .strip_prefix("http://")
        .or_else(|| endpoint.strip_prefix("https://"))
        .unwrap_or(endpoint)
        .trim_end_matches('/')
}

fn same_host(a: &str, b: &str) -> bool {
    let canon = |h: &str| {
        let h = h.to_ascii_lowercase();
        match h.strip_prefix("localhost") {
            Some(rest) => format!("127.0.0.1{rest}"),
            None => h,
        }
    };
    canon(a) == canon(b)
}

/// `<12 digits>.dkr.ecr.<region>.amazonaws.com` (what ECR's `repositoryUri` names).
fn is_ecr_host(host: &str) -> bool {
    let mut parts = host.split('.');
    let account_ok = parts
        .next()
        .is_some_and(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()));
    let rest: Vec<&str> = parts.collect();
    account_ok
        && rest.len() == 5
        && rest[0] == "dkr"
        && rest[1] == "ecr"
        && !rest[2].is_empty()
        && rest[3] == "amazonaws"
        && rest[4] == "com"
}

/// Looks images up in the local registry.
#[derive(Debug, Clone)]
pub(crate) struct RegistryProbe {
    registry: Option<RegistryConfig>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl RegistryProbe {
    pub(crate) fn new(registry: Option<RegistryConfig>) -> Self {
        Self {
            registry,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// True when the registry answers the manifest lookup with 200. An unreachable registry,
    /// a missing image or a foreign registry host all mean the pull would fail.
    pub(crate) async fn image_present(&self, image: &ImageRef) -> bool {
        let Some(reg) = &self.registry else {
            return false;
        };
        if !image.served_by(&reg.endpoint) {
            return false;
        }
        let uri = format!(
            "http://{}/v2/{}/manifests/{}",
            strip_scheme(&reg.endpoint),
            image.repository,
            image.reference
        );
        let credentials = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", reg.username, reg.password));
        let Ok(req) = http::Request::head(uri)
            .header(http::header::ACCEPT, MANIFEST_ACCEPT)
            .header(http::header::AUTHORIZATION, format!("Basic {credentials}"))
            .body(Full::new(Bytes::new()))
        else {
            return false;
        };
        match tokio::time::timeout(LOOKUP_TIMEOUT, self.client.request(req)).await {
            Ok(Ok(resp)) => resp.status() == http::StatusCode::OK,
            Ok(Err(_)) | Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_parse_like_app_runner() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let ok = [
            (
                "127.0.0.1:5000/budgetsync:abc123",
                "127.0.0.1:5000",
                "budgetsync",
                "abc123",
            ),
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:v1.2",
                "123456789012.dkr.ecr.us-east-1.amazonaws.com",
                "team/app",
                "v1.2",
            ),
        ];
        for (id, host, repo, reference) in ok {
            let r = ImageRef::parse(id).expect(id);
            assert_eq!((r.host.as_str(), r.repository.as_str()), (host, repo));
            assert_eq!(r.reference, reference);
        }
        let by_digest = ImageRef::parse(&format!("localhost:5000/app@{digest}")).expect("digest");
        assert_eq!(by_digest.reference, digest);

        let bad = [
            "budgetsync:latest",
            "127.0.0.1:5000/budgetsync",
            "127.0.0.1:5000/BudgetSync:x",
            "127.0.0.1:5000/app@sha256:zz",
            "127.0.0.1:5000/app:",
        ];
        for id in bad {
            assert_eq!(
                ImageRef::parse(id).map_err(|e| e.code),
                Err("InvalidRequestException"),
                "{id}"
            );
        }
    }

    #[test]
    fn local_and_ecr_hosts_are_served_by_the_local_registry() {
        let cases = [
            ("127.0.0.1:5000/app:1", "127.0.0.1:5000", true),
            ("localhost:5000/app:1", "127.0.0.1:5000", true),
            ("127.0.0.1:5000/app:1", "http://localhost:5000/", true),
            (
                "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1",
                "127.0.0.1:5000",
                true,
            ),
            ("127.0.0.1:5001/app:1", "127.0.0.1:5000", false),
            ("docker.io/library/app:1", "127.0.0.1:5000", false),
        ];
        for (id, endpoint, served) in cases {
            let r = ImageRef::parse(id).expect(id);
            assert_eq!(r.served_by(endpoint), served, "{id} via {endpoint}");
        }
    }
}
