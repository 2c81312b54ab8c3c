//! Forwarding to moto, and the few S3 calls the Elastic Beanstalk emulator makes itself.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::LocalCloudError;
use crate::edge::{Body, BoxError, full};

/// How long moto may take to start answering a forwarded request (bodies stream after that).
const FORWARD_HEADERS_TIMEOUT: Duration = Duration::from_secs(300);
/// How long one of the emulator's own S3 calls may take in total.
const S3_CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long downloading a source bundle (up to 500 MB, streamed to disk) may take.
const S3_DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(600);

/// Headers that describe one hop, not the message.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
    "expect",
];

/// A client for one moto server.
#[derive(Debug, Clone)]
pub(crate) struct Moto {
    base: url::Url,
    client: Client<HttpConnector, Body>,
}

/// What a bounded download to a file did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Download {
    /// The object is in the file, `bytes` long.
    Saved {
        bytes: u64,
    },
    NotFound,
    /// The object is larger than the limit (by its HEAD, or by what arrived): nothing kept.
    TooLarge {
        bytes: u64,
    },
}

impl Moto {
    pub fn new(url: &str) -> Result<Self, LocalCloudError> {
        let base = url::Url::parse(url).map_err(|e| LocalCloudError::MotoUrl {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
        if base.scheme() != "http" || base.host_str().is_none() {
            return Err(LocalCloudError::MotoUrl {
                url: url.to_string(),
                reason: "expected http://HOST:PORT".to_string(),
            });
        }
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(HttpConnector::new());
        Ok(Self { base, client })
    }

    fn uri(&self, path_and_query: &str) -> Result<Uri, http::Error> {
        let mut s = self.base.as_str().trim_end_matches('/').to_string();
        s.push_str(path_and_query);
        Ok(s.parse::<Uri>()?)
    }

    /// Forwards a request whose body the edge has already read (same bytes, same headers).
    pub async fn forward_bytes(
        &self,
        parts: http::request::Parts,
        body: Bytes,
        request_id: &str,
    ) -> Response<Body> {
        self.send(parts, full(body), request_id).await
    }

    /// Forwards a request unchanged (method, path, query, headers, streamed body).
    pub async fn forward(&self, req: Request<Body>, request_id: &str) -> Response<Body> {
        let (parts, body) = req.into_parts();
        self.send(parts, body, request_id).await
    }

    async fn send(
        &self,
        mut parts: http::request::Parts,
        body: Body,
        request_id: &str,
    ) -> Response<Body> {
        let pq = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".to_string());
        let uri = match self.uri(&pq) {
            Ok(u) => u,
            Err(e) => {
                return moto_failure("bad-path", &format!("cannot forward {pq}: {e}"), request_id);
            }
        };
        parts.uri = uri;
        strip_hop_by_hop(&mut parts.headers);
        let req = Request::from_parts(parts, body);
        match tokio::time::timeout(FORWARD_HEADERS_TIMEOUT, self.client.request(req)).await {
            Ok(Ok(resp)) => {
                let (mut parts, body) = resp.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                Response::from_parts(parts, body.map_err(|e| -> BoxError { Box::new(e) }).boxed())
            }
            Ok(Err(e)) => moto_failure(
                "moto-unreachable",
                &format!("moto at {} did not answer: {e}", self.base),
                request_id,
            ),
            Err(_) => moto_failure(
                "moto-timeout",
                &format!(
                    "moto at {} did not answer within {} s",
                    self.base,
                    FORWARD_HEADERS_TIMEOUT.as_secs()
                ),
                request_id,
            ),
        }
    }

    /// Is moto answering at all? (`GET /moto-api/` answers 200 on moto's server.)
    pub async fn reachable(&self) -> bool {
        let Ok(uri) = self.uri("/moto-api/data.json") else {
            return false;
        };
        let Ok(req) = Request::get(uri).body(empty()) else {
            return false;
        };
        matches!(
            tokio::time::timeout(Duration::from_secs(2), self.client.request(req)).await,
            Ok(Ok(resp)) if resp.status().is_success()
        )
    }

    /// A request to moto's S3 with a (never verified) SigV4 scope, which is how moto routes it.
    fn s3_request(
        &self,
        region: &str,
        method: Method,
        path: &str,
    ) -> Result<Request<Body>, String> {
        let uri = self.uri(path).map_err(|e| e.to_string())?;
        let date = time::OffsetDateTime::now_utc();
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=localcloud/{:04}{:02}{:02}/{region}/s3/aws4_request, SignedHeaders=host, Signature=0",
            date.year(),
            u8::from(date.month()),
            date.day()
        );
        Request::builder()
            .method(method)
            .uri(uri)
            .header(http::header::AUTHORIZATION, auth)
            .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
            .body(empty())
            .map_err(|e| e.to_string())
    }

    /// The object's size by `HeadObject` (nothing is downloaded); `None` when it does not exist.
    pub async fn s3_size(
        &self,
        region: &str,
        bucket: &str,
        key: &str,
    ) -> Result<Option<u64>, String> {
        let req = self.s3_request(region, Method::HEAD, &Self::s3_path(bucket, Some(key)))?;
        let resp = tokio::time::timeout(S3_CALL_TIMEOUT, self.client.request(req))
            .await
            .map_err(|_| {
                format!(
                    "S3 HEAD s3://{bucket}/{key} did not answer within {} s",
                    S3_CALL_TIMEOUT.as_secs()
                )
            })?
            .map_err(|e| e.to_string())?;
        match resp.status() {
            s if s.is_success() => resp
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .map(Some)
                .ok_or_else(|| format!("S3 HEAD s3://{bucket}/{key} answered no Content-Length")),
            StatusCode::NOT_FOUND => Ok(None),
            s => Err(format!("S3 HEAD s3://{bucket}/{key} answered HTTP {s}")),
        }
    }

    /// Downloads an object of at most `max` bytes into `dest` (created or truncated), streamed:
    /// the size is checked with a HEAD first, so an oversized object is never read, and the
    /// stream is cut (and `dest` removed) if more arrives than the HEAD said.
    pub async fn s3_download(
        &self,
        region: &str,
        bucket: &str,
        key: &str,
        max: u64,
        dest: &std::path::Path,
    ) -> Result<Download, String> {
        match self.s3_size(region, bucket, key).await? {
            None => return Ok(Download::NotFound),
            Some(bytes) if bytes > max => return Ok(Download::TooLarge { bytes }),
            Some(_) => {}
        }
        let fut = async {
            let req = self.s3_request(region, Method::GET, &Self::s3_path(bucket, Some(key)))?;
            let resp = self.client.request(req).await.map_err(|e| e.to_string())?;
            match resp.status() {
                s if s.is_success() => {}
                StatusCode::NOT_FOUND => return Ok(Download::NotFound),
                s => return Err(format!("S3 GET s3://{bucket}/{key} answered HTTP {s}")),
            }
            let mut body = resp.into_body();
            let mut file = tokio::fs::File::create(dest)
                .await
                .map_err(|e| format!("{}: {e}", dest.display()))?;
            let mut written: u64 = 0;
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| e.to_string())?;
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                written += data.len() as u64;
                if written > max {
                    return Ok(Download::TooLarge { bytes: written });
                }
                tokio::io::AsyncWriteExt::write_all(&mut file, &data)
                    .await
                    .map_err(|e| format!("{}: {e}", dest.display()))?;
            }
            tokio::io::AsyncWriteExt::flush(&mut file)
                .await
                .map_err(|e| format!("{}: {e}", dest.display()))?;
            Ok(Download::Saved { bytes: written })
        };
        let result = tokio::time::timeout(S3_DOWNLOAD_TIMEOUT, fut)
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "downloading s3://{bucket}/{key} took longer than {} s",
                    S3_DOWNLOAD_TIMEOUT.as_secs()
                ))
            });
        if !matches!(result, Ok(Download::Saved { .. })) {
            let _ = tokio::fs::remove_file(dest).await;
        }
        result
    }

    fn s3_path(bucket: &str, key: Option<&str>) -> String {
        let mut u = url::Url::parse("http://x/").expect("static URL parses");
        if let Ok(mut segs) = u.path_segments_mut() {
            segs.pop_if_empty().push(bucket);
            if let Some(key) = key {
                segs.extend(key.split('/'));
            }
        }
        u.path().to_string()
    }

    async fn s3_call(
        &self,
        region: &str,
        method: Method,
        path: String,
        body: Bytes,
    ) -> Result<(StatusCode, Bytes), String> {
        let uri = self.uri(&path).map_err(|e| e.to_string())?;
        // moto routes unsigned requests by guesswork; a (never verified) SigV4 scope routes it to S3.
        let date = time::OffsetDateTime::now_utc();
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=localcloud/{:04}{:02}{:02}/{region}/s3/aws4_request, SignedHeaders=host, Signature=0",
            date.year(),
            u8::from(date.month()),
            date.day()
        );
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header(http::header::AUTHORIZATION, auth)
            .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
            .body(full(body))
            .map_err(|e| e.to_string())?;
        let fut = async {
            let resp = self.client.request(req).await.map_err(|e| e.to_string())?;
            let status = resp.status();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok::<_, String>((status, body))
        };
        tokio::time::timeout(S3_CALL_TIMEOUT, fut)
            .await
            .map_err(|_| {
                format!(
                    "S3 on moto did not answer within {} s",
                    S3_CALL_TIMEOUT.as_secs()
                )
            })?
    }

    /// Creates a bucket if it does not exist yet.
    pub async fn s3_ensure_bucket(&self, region: &str, bucket: &str) -> Result<(), String> {
        let (status, _) = self
            .s3_call(
                region,
                Method::HEAD,
                Self::s3_path(bucket, None),
                Bytes::new(),
            )
            .await?;
        if status.is_success() {
            return Ok(());
        }
        let body = if region == "us-east-1" {
            Bytes::new()
        } else {
            Bytes::from(format!(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>{region}</LocationConstraint></CreateBucketConfiguration>"
            ))
        };
        let (status, body) = self
            .s3_call(region, Method::PUT, Self::s3_path(bucket, None), body)
            .await?;
        if status.is_success() || status == StatusCode::CONFLICT {
            Ok(())
        } else {
            Err(format!(
                "S3 CreateBucket {bucket} answered HTTP {status}: {}",
                String::from_utf8_lossy(&body)
            ))
        }
    }

    /// Deletes an object (EB `DeleteSourceBundle`).
    pub async fn s3_delete(&self, region: &str, bucket: &str, key: &str) -> Result<(), String> {
        let (status, _) = self
            .s3_call(
                region,
                Method::DELETE,
                Self::s3_path(bucket, Some(key)),
                Bytes::new(),
            )
            .await?;
        if status.is_success() || status == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(format!(
                "S3 DELETE s3://{bucket}/{key} answered HTTP {status}"
            ))
        }
    }
}

fn empty() -> Body {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed()
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for name in HOP_BY_HOP {
        headers.remove(*name);
    }
}

/// The edge's own failure while forwarding: 502/503 with `x-localcloud-error`.
pub(crate) fn moto_failure(kind: &'static str, message: &str, request_id: &str) -> Response<Body> {
    let status = if kind == "moto-not-configured" {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::BAD_GATEWAY
    };
    let mut resp = Response::new(full(Bytes::from(format!("localcloud: {message}\n"))));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert("x-localcloud-error", HeaderValue::from_static(kind));
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain"),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_paths_are_percent_encoded() {
        let cases = [
            ("b", None, "/b"),
            ("b", Some("k.zip"), "/b/k.zip"),
            ("b", Some("dir/sub/k v.zip"), "/b/dir/sub/k%20v.zip"),
            ("b", Some("a#?b"), "/b/a%23%3Fb"),
        ];
        for (bucket, key, want) in cases {
            assert_eq!(Moto::s3_path(bucket, key), want);
        }
    }

    #[test]
    fn rejects_bad_moto_urls() {
        for bad in ["", "ftp://x", "not a url"] {
            let err = Moto::new(bad).unwrap_err();
            assert!(
                matches!(err, LocalCloudError::MotoUrl { ref url, .. } if url == bad),
                "{err}"
            );
        }
        assert!(Moto::new("http://127.0.0.1:5000").is_ok());
    }
}
