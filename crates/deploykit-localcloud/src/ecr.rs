//! ECR's `GetAuthorizationToken`, answered locally so `docker login`/push go to the local
//! registry, and `DescribeImages`, read from that registry (every other ECR action is forwarded
//! to moto by the edge).
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

/// Manifest media types a listing accepts (OCI and Docker, single-platform and index).
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
     application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.docker.distribution.manifest.list.v2+json";

/// One registry read, bounded (real time).
const REGISTRY_TIMEOUT: Duration = Duration::from_secs(5);

/// Answers `AmazonEC2ContainerRegistry_V20150921.DescribeImages` from the local registry
/// (pushes go there, not to moto): every tagged image of `repositoryName`, grouped by manifest
/// digest, with `imagePushedAt` = the image config's `created` time (the registry API has no
/// push time; deploykit builds and pushes in one go, so the order is the same).
/// `imageIds` filters like ECR (`ImageNotFoundException` when one is missing); pagination is
/// not emulated: one page holds everything.
pub async fn describe_images(ctx: &Ctx, body: Bytes) -> Response<Full<Bytes>> {
    let req: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let Some(repo) = req.get("repositoryName").and_then(|v| v.as_str()) else {
        return respond(
            StatusCode::BAD_REQUEST,
            &json!({"__type": "InvalidParameterException", "message": "repositoryName is required"}),
            Some("InvalidParameterException"),
        );
    };
    let Some(reg) = &ctx.registry else {
        return respond(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"__type": "ServerException", "message": "The local cloud has no registry configured"}),
            Some("ServerException"),
        );
    };
    let registry = Registry::new(reg);
    let tags = match registry.tags(repo).await {
        Ok(Some(t)) => t,
        Ok(None) => {
            return respond(
                StatusCode::BAD_REQUEST,
                &json!({
                    "__type": "RepositoryNotFoundException",
                    "message": format!("The repository with name '{repo}' does not exist in the registry with id '000000000000'"),
                }),
                Some("RepositoryNotFoundException"),
            );
        }
        Err(e) => {
            return respond(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({"__type": "ServerException", "message": format!("local registry: {e}")}),
                Some("ServerException"),
            );
        }
    };
    // digest -> (tags, pushed_at seconds)
    let mut images: Vec<(String, Vec<String>, f64)> = Vec::new();
    for tag in tags {
        let (digest, created) = match registry.image(repo, &tag).await {
            Ok(Some(x)) => x,
            Ok(None) => continue,
            Err(e) => {
                return respond(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &json!({"__type": "ServerException", "message": format!("local registry: {e}")}),
                    Some("ServerException"),
                );
            }
        };
        match images.iter_mut().find(|(d, _, _)| *d == digest) {
            Some((_, t, _)) => t.push(tag),
            None => images.push((digest, vec![tag], created)),
        }
    }
    if let Some(ids) = req.get("imageIds").and_then(|v| v.as_array()) {
        let mut picked = Vec::new();
        for id in ids {
            let tag = id.get("imageTag").and_then(|v| v.as_str());
            let digest = id.get("imageDigest").and_then(|v| v.as_str());
            let found = images.iter().find(|(d, t, _)| {
                tag.is_none_or(|x| t.iter().any(|y| y == x)) && digest.is_none_or(|x| d == x)
            });
            match found {
                Some(i) => picked.push(i.clone()),
                None => {
                    return respond(
                        StatusCode::BAD_REQUEST,
                        &json!({
                            "__type": "ImageNotFoundException",
                            "message": format!(
                                "The image with imageId {{imageDigest:'{}', imageTag:'{}'}} does not exist within the repository with name '{repo}' in the registry with id '000000000000'",
                                digest.unwrap_or("null"), tag.unwrap_or("null")
                            ),
                        }),
                        Some("ImageNotFoundException"),
                    );
                }
            }
        }
        images = picked;
    }
    let details: Vec<serde_json::Value> = images
        .into_iter()
        .map(|(digest, tags, pushed)| {
            json!({
                "registryId": "000000000000",
                "repositoryName": repo,
                "imageDigest": digest,
                "imageTags": tags,
                "imagePushedAt": pushed,
            })
        })
        .collect();
    respond(StatusCode::OK, &json!({ "imageDetails": details }), None)
}

/// The registry's HTTP API, read-only.
struct Registry {
    base: String,
    auth: String,
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        Full<Bytes>,
    >,
}

impl Registry {
    fn new(reg: &crate::core::RegistryConfig) -> Self {
        let host = reg
            .endpoint
            .strip_prefix("http://")
            .unwrap_or(&reg.endpoint)
            .trim_end_matches('/');
        Self {
            base: format!("http://{host}"),
            auth: format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{}", reg.username, reg.password))
            ),
            client: hyper_util::client::legacy::Client::builder(
                hyper_util::rt::TokioExecutor::new(),
            )
            .build_http(),
        }
    }

    /// GET `path`: `None` on 404, the status, headers and body otherwise.
    async fn get(&self, path: &str) -> Result<Option<(http::HeaderMap, Bytes)>, String> {
        use http_body_util::BodyExt as _;
        let req = http::Request::get(format!("{}{path}", self.base))
            .header(http::header::ACCEPT, MANIFEST_ACCEPT)
            .header(http::header::AUTHORIZATION, &self.auth)
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        let resp = tokio::time::timeout(REGISTRY_TIMEOUT, self.client.request(req))
            .await
            .map_err(|_| format!("GET {path} timed out"))?
            .map_err(|e| format!("GET {path}: {e}"))?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(format!("GET {path}: HTTP {}", resp.status()));
        }
        let (parts, body) = resp.into_parts();
        let body = tokio::time::timeout(REGISTRY_TIMEOUT, body.collect())
            .await
            .map_err(|_| format!("GET {path} body timed out"))?
            .map_err(|e| format!("GET {path}: {e}"))?
            .to_bytes();
        Ok(Some((parts.headers, body)))
    }

    async fn tags(&self, repo: &str) -> Result<Option<Vec<String>>, String> {
        let Some((_, body)) = self.get(&format!("/v2/{repo}/tags/list")).await? else {
            return Ok(None);
        };
        let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        Ok(Some(
            v.get("tags")
                .and_then(|t| t.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|t| t.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        ))
    }

    /// The manifest digest of `repo:tag` and its config's `created` time (Unix seconds).
    async fn image(&self, repo: &str, tag: &str) -> Result<Option<(String, f64)>, String> {
        let Some((headers, body)) = self.get(&format!("/v2/{repo}/manifests/{tag}")).await? else {
            return Ok(None);
        };
        let digest = headers
            .get("docker-content-digest")
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| format!("{repo}:{tag}: no Docker-Content-Digest header"))?;
        let mut manifest: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        // An index: the first platform's manifest carries the config.
        if let Some(first) = manifest
            .get("manifests")
            .and_then(|m| m.as_array())
            .and_then(|m| m.first())
            .and_then(|m| m.get("digest"))
            .and_then(|d| d.as_str())
        {
            let Some((_, b)) = self.get(&format!("/v2/{repo}/manifests/{first}")).await? else {
                return Ok(None);
            };
            manifest = serde_json::from_slice(&b).map_err(|e| e.to_string())?;
        }
        let created = match manifest
            .get("config")
            .and_then(|c| c.get("digest"))
            .and_then(|d| d.as_str())
        {
            Some(cfg) => match self.get(&format!("/v2/{repo}/blobs/{cfg}")).await? {
                Some((_, b)) => serde_json::from_slice::<serde_json::Value>(&b)
                    .ok()
                    .and_then(|c| c.get("created").and_then(|s| s.as_str()).map(str::to_owned))
                    .and_then(|s| {
                        time::OffsetDateTime::parse(
                            &s,
                            &time::format_description::well_known::Rfc3339,
                        )
                        .ok()
                    })
                    .map(|t| t.unix_timestamp_nanos() as f64 / 1e9)
                    .unwrap_or(0.0),
                None => 0.0,
            },
            None => 0.0,
        };
        Ok(Some((digest, created)))
    }
}
