//! The health check of an application URL: `GET <scheme>://<host><path>`, returning the status.
//!
//! Real targets: Elastic Beanstalk single-instance URLs are plain HTTP on port 80 (no load
//! balancer, no certificate); App Runner URLs are HTTPS only, checked with rustls and the
//! platform's root certificates. With `resolve` (the local cloud's edge), the request goes as
//! plain HTTP to that address with the URL's host as `Host`, whatever the scheme.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// How the application URL is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// GETs `<scheme>://{host}{path}` (or plain HTTP to `resolve` with `Host: host`) within
/// `timeout` and returns the status code; the error says what failed, for the wait's report.
pub async fn get_status(
    scheme: Scheme,
    host: &str,
    path: &str,
    resolve: Option<SocketAddr>,
    timeout: Duration,
) -> Result<u16, String> {
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    let shown = format!("{}://{host}{path}", scheme.as_str());
    let fut = async {
        match resolve {
            Some(addr) => get_via(addr, host, &path).await,
            None if scheme == Scheme::Https => get_https(host, &path).await,
            None => get_via_host(host, &path).await,
        }
    };
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| format!("GET {shown} took longer than {}s", timeout.as_secs()))?
        .map_err(|e| format!("GET {shown}: {e}"))
}

async fn get_via_host(host: &str, path: &str) -> Result<u16, String> {
    let stream = tokio::net::TcpStream::connect((host, 80))
        .await
        .map_err(|e| format!("connecting to {host}:80: {e}"))?;
    get_on(stream, host, path).await
}

async fn get_via(addr: SocketAddr, host: &str, path: &str) -> Result<u16, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connecting to {addr}: {e}"))?;
    get_on(stream, host, path).await
}

/// One HTTP/1.1 request on an open connection.
async fn get_on(stream: tokio::net::TcpStream, host: &str, path: &str) -> Result<u16, String> {
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let req = http::Request::get(path)
        .header(http::header::HOST, host)
        .header(http::header::USER_AGENT, "deploykit-health-check")
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("building the request: {e}"))?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    // Drain the body so the connection closes cleanly.
    let _ = resp.into_body().collect().await;
    Ok(status)
}

/// HTTPS with rustls (the same aws-lc-rs provider the SDK uses) and the platform's roots.
async fn get_https(host: &str, path: &str) -> Result<u16, String> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
        .map_err(|e| format!("loading the platform's root certificates: {e}"))?
        .https_only()
        .enable_http1()
        .build();
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    let uri: http::Uri = format!("https://{host}{path}")
        .parse()
        .map_err(|e| format!("not a URL: {e}"))?;
    let req = http::Request::get(uri)
        .header(http::header::USER_AGENT, "deploykit-health-check")
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("building the request: {e}"))?;
    let resp = client.request(req).await.map_err(|e| {
        // hyper-util's error hides the TLS cause one level down.
        let mut msg = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            src = s.source();
        }
        msg
    })?;
    let status = resp.status().as_u16();
    let _ = resp.into_body().collect().await;
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-shot server that answers `answer` to the first request and returns what it got.
    async fn server(answer: &'static str) -> (SocketAddr, tokio::task::JoinHandle<String>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = l.local_addr().expect("addr");
        let h = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.expect("accept");
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap_or(0);
            let _ = s.write_all(answer.as_bytes()).await;
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        (addr, h)
    }

    #[tokio::test]
    async fn resolve_sends_plain_http_with_the_url_host() {
        let (addr, got) =
            server("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n").await;
        let code = get_status(
            Scheme::Https,
            "svc.example.localhost",
            "healthz",
            Some(addr),
            Duration::from_secs(5),
        )
        .await
        .expect("answered");
        assert_eq!(code, 503);
        let req = got.await.expect("server");
        assert!(req.starts_with("GET /healthz HTTP/1.1"), "{req}");
        assert!(
            req.to_ascii_lowercase()
                .contains("host: svc.example.localhost"),
            "{req}"
        );
    }

    #[tokio::test]
    async fn https_is_tls_and_a_plain_server_is_an_error_naming_the_url() {
        // A plain-HTTP server on a port: the HTTPS check must try TLS and fail clearly.
        let (addr, _got) = server("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
        let host = format!("127.0.0.1:{}", addr.port());
        let err = get_status(Scheme::Https, &host, "/", None, Duration::from_secs(5))
            .await
            .expect_err("no TLS there");
        assert!(err.starts_with(&format!("GET https://{host}/")), "{err}");
    }

    #[tokio::test]
    async fn an_unanswered_check_times_out_with_the_bound_in_the_message() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = l.local_addr().expect("addr");
        let err = get_status(
            Scheme::Http,
            "h",
            "/x",
            Some(addr),
            Duration::from_millis(300),
        )
        .await
        .expect_err("nobody answers");
        assert!(err.contains("took longer than"), "{err}");
        drop(l);
    }
}
