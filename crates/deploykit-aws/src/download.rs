//! One bounded GET of a URL AWS hands out (a presigned S3 URL: Elastic Beanstalk's instance
//! logs), over HTTPS with rustls and the platform's roots, or plain HTTP (the local cloud).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// GETs `url` within `timeout` and returns its body, refused when it is over `max_bytes`.
/// Errors never contain the URL's query (a presigned URL's signature grants access).
pub async fn download(url: &str, timeout: Duration, max_bytes: usize) -> Result<Vec<u8>, String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("not a URL: {e}"))?;
    let shown = format!(
        "{}://{}{}",
        uri.scheme_str().unwrap_or("https"),
        uri.authority().map(|a| a.as_str()).unwrap_or_default(),
        uri.path()
    );
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
        .map_err(|e| format!("loading the platform's root certificates: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    let req = http::Request::get(uri)
        .header(http::header::USER_AGENT, "deploykit")
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("building the request: {e}"))?;
    let fetch = async {
        let resp = client
            .request(req)
            .await
            .map_err(|e| format!("GET {shown}: {e}"))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("GET {shown} answered {status}"));
        }
        let body = Limited::new(resp.into_body(), max_bytes)
            .collect()
            .await
            .map_err(|e| {
                format!("GET {shown}: reading the body (at most {max_bytes} bytes): {e}")
            })?;
        Ok(body.to_bytes().to_vec())
    };
    tokio::time::timeout(timeout, fetch)
        .await
        .map_err(|_| format!("GET {shown} took longer than {}s", timeout.as_secs()))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn serve(answer: &'static str) -> std::net::SocketAddr {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = l.local_addr().expect("addr");
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.expect("accept");
            let mut buf = vec![0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(answer.as_bytes()).await;
        });
        addr
    }

    #[tokio::test]
    async fn bodies_come_back_and_errors_hide_the_signature() {
        let ok =
            serve("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello").await;
        let got = download(
            &format!("http://{ok}/b/k?X-Amz-Signature=abc"),
            Duration::from_secs(5),
            1024,
        )
        .await
        .expect("downloads");
        assert_eq!(got, b"hello");

        let denied =
            serve("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
        let e = download(
            &format!("http://{denied}/b/k?X-Amz-Signature=secret123"),
            Duration::from_secs(5),
            1024,
        )
        .await
        .unwrap_err();
        assert!(e.contains("403") && !e.contains("secret123"), "{e}");

        let big =
            serve("HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123456789")
                .await;
        let e = download(&format!("http://{big}/x"), Duration::from_secs(5), 4)
            .await
            .unwrap_err();
        assert!(e.contains("at most 4 bytes"), "{e}");
    }
}
