//! The loopback guard: a request to a non-loopback endpoint fails before any network I/O.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use deploykit_testsupport::{LoopbackInterceptor, LoopbackOnlyClient, sdk_config_for};

/// Stands in for the network: counts the requests that reach it.
#[derive(Debug, Clone, Default)]
struct Recording(Arc<AtomicUsize>);

impl HttpClient for Recording {
    fn http_connector(
        &self,
        _: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

impl HttpConnector for Recording {
    fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
        self.0.fetch_add(1, Ordering::SeqCst);
        let body = "<ListAllMyBucketsResult><Buckets></Buckets></ListAllMyBucketsResult>";
        HttpConnectorFuture::ready(Ok(Response::new(
            StatusCode::try_from(200).unwrap(),
            SdkBody::from(body),
        )))
    }
}

fn err_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        s.push_str(" | ");
        s.push_str(&x.to_string());
        src = x.source();
    }
    s
}

#[tokio::test]
async fn client_guard_refuses_real_aws_before_the_transport_and_passes_loopback() {
    let net = Recording::default();
    for (endpoint, allowed) in [
        ("https://s3.us-east-1.amazonaws.com", false),
        ("https://example.com", false),
        ("http://127.0.0.1:9", true),
    ] {
        let sdk = sdk_config_for(endpoint)
            .into_builder()
            .http_client(LoopbackOnlyClient::wrap(net.clone()))
            .build();
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(true)
                .retry_config(aws_config::retry::RetryConfig::disabled())
                .build(),
        );
        let before = net.0.load(Ordering::SeqCst);
        let res = s3.list_buckets().send().await;
        let reached = net.0.load(Ordering::SeqCst) - before;
        if allowed {
            assert!(res.is_ok(), "{endpoint}: {:?}", res.err());
            assert_eq!(
                reached, 1,
                "{endpoint}: the loopback request must reach the transport"
            );
        } else {
            let e = res.expect_err("a non-loopback endpoint must fail");
            let text = err_text(&e);
            assert!(text.contains("refused a request to"), "{endpoint}: {text}");
            assert!(text.contains("never to real AWS"), "{endpoint}: {text}");
            assert_eq!(reached, 0, "{endpoint}: nothing may reach the transport");
        }
    }
}

#[tokio::test]
async fn default_sdk_config_fails_fast_on_a_real_aws_endpoint() {
    // The real transport: the refusal must come back at once, with no DNS lookup or connect.
    let sdk = sdk_config_for("https://s3.amazonaws.com");
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .build(),
    );
    let res = tokio::time::timeout(Duration::from_secs(5), s3.list_buckets().send())
        .await
        .expect("the guard answers immediately");
    let text = err_text(&res.expect_err("must be refused"));
    assert!(
        text.contains("refused a request to https://s3.amazonaws.com"),
        "{text}"
    );
}

#[tokio::test]
async fn interceptor_refuses_real_aws_in_read_before_transmit() {
    let net = Recording::default();
    let base = sdk_config_for("https://s3.amazonaws.com");
    let conf = aws_sdk_s3::config::Builder::from(&base)
        .http_client(net.clone()) // no transport guard: only the interceptor stands in the way
        .interceptor(LoopbackInterceptor)
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build();
    let res = aws_sdk_s3::Client::from_conf(conf)
        .list_buckets()
        .send()
        .await;
    let text = err_text(&res.expect_err("must be refused"));
    assert!(text.contains("never to real AWS"), "{text}");
    assert_eq!(net.0.load(Ordering::SeqCst), 0);
}
