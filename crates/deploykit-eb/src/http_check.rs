//! The HTTP health check of an environment's URL: plain HTTP/1.1 on port 80 (a single-instance
//! environment has no load balancer and no certificate), optionally connecting to a fixed
//! address with the CNAME as Host (the local cloud's edge).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;

/// GETs `http://{host}{path}` (connecting to `resolve` when given) and returns the status code.
pub async fn get_status(
    host: &str,
    path: &str,
    resolve: Option<SocketAddr>,
    timeout: Duration,
) -> Result<u16, String> {
    let fut = async {
        let stream = match resolve {
            Some(addr) => tokio::net::TcpStream::connect(addr).await,
            None => tokio::net::TcpStream::connect((host, 80)).await,
        }
        .map_err(|e| format!("connecting to {host}: {e}"))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP handshake with {host}: {e}"))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        let req = http::Request::get(path)
            .header(http::header::HOST, host)
            .header(http::header::USER_AGENT, "deploykit-health-check")
            .body(Empty::<Bytes>::new())
            .map_err(|e| format!("building the request: {e}"))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("GET http://{host}: {e}"))?;
        let status = resp.status().as_u16();
        // Drain the body so the connection closes cleanly.
        let _ = resp.into_body().collect().await;
        Ok(status)
    };
    tokio::time::timeout(timeout, fut).await.map_err(|_| {
        format!(
            "GET http://{host}{path} took longer than {}s",
            timeout.as_secs()
        )
    })?
}
