//! The edge's guard against web pages in the developer's browser: a table of Host / Origin /
//! Sec-Fetch-Site combinations against an edge on a private port, the admin token (none, wrong,
//! right), the time scale at the admin endpoint and at start (errors, never panics), the log of
//! refusals, and S3 virtual-hosted-style requests still reaching moto.

mod edge_support;

use std::net::SocketAddr;
use std::time::Duration;

use deploykit_localcloud::{ADMIN_TOKEN_HEADER, AdminClient, AdminToken, Edge, LocalCloudError};
use edge_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A raw HTTP/1.1 exchange: (status, lowercased headers, body).
async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> (u16, Vec<(String, String)>, String) {
    let fut = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let mut req = format!("{method} {path} HTTP/1.1\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ));
        s.write_all(req.as_bytes()).await.expect("write");
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.expect("read");
        let text = String::from_utf8_lossy(&buf).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {text:?}"));
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        (status, headers, body.to_string())
    };
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .expect("the edge answers within 10 s")
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

const EB_AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/elasticbeanstalk/aws4_request, SignedHeaders=host;x-amz-date, Signature=0";
const S3_AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0";

/// What a case sends, besides Host and the browser headers.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// `GET /_localcloud/health` with the edge's token.
    Admin,
    /// A signed Elastic Beanstalk `DescribeApplications` (answered by the edge).
    EbApi,
    /// A signed S3 `ListObjects` (forwarded: this edge has no moto, so 503 once past the guard).
    S3Api,
    /// `GET /` on an app host (no environment: 404 from the EB emulator once past the guard).
    App,
}

struct Case {
    name: &'static str,
    host: &'static str,
    origin: Option<&'static str>,
    fetch_site: Option<&'static str>,
    kind: Kind,
    status: u16,
}

const fn case(
    name: &'static str,
    host: &'static str,
    origin: Option<&'static str>,
    fetch_site: Option<&'static str>,
    kind: Kind,
    status: u16,
) -> Case {
    Case {
        name,
        host,
        origin,
        fetch_site,
        kind,
        status,
    }
}

const APP: &str = "budgetsync-dev.us-east-1.elasticbeanstalk.localhost";

#[rustfmt::skip]
const CASES: &[Case] = &[
    // What every AWS SDK, the AWS CLI v1, boto3 and the EB CLI send: Host = the endpoint.
    case("sdk-ip-port", "127.0.0.1:PORT", None, None, Kind::EbApi, 200),
    case("sdk-localhost", "localhost:PORT", None, None, Kind::EbApi, 200),
    case("sdk-localhost-no-port", "localhost", None, None, Kind::EbApi, 200),
    case("sdk-ipv6", "[::1]:PORT", None, None, Kind::EbApi, 200),
    case("sdk-other-loopback", "127.0.0.2:PORT", None, None, Kind::EbApi, 200),
    case("s3-path-style", "127.0.0.1:PORT", None, None, Kind::S3Api, 503),
    case("s3-virtual-hosted", "my-bucket.localhost:PORT", None, None, Kind::S3Api, 503),
    case("s3-virtual-hosted-s3", "my-bucket.s3.localhost:PORT", None, None, Kind::S3Api, 503),
    case("admin-ok", "127.0.0.1:PORT", None, None, Kind::Admin, 200),
    case("admin-fetch-none", "127.0.0.1:PORT", None, Some("none"), Kind::Admin, 200),
    case("admin-fetch-same-origin", "127.0.0.1:PORT", None, Some("same-origin"), Kind::Admin, 200),
    // DNS rebinding: a foreign name that resolves to 127.0.0.1.
    case("rebound-name-api", "evil.example:PORT", None, None, Kind::EbApi, 403),
    case("rebound-name-admin", "evil.example:PORT", None, None, Kind::Admin, 403),
    case("rebound-name-s3", "attacker.example", None, None, Kind::S3Api, 403),
    case("rebound-localhost-suffix", "localhost.evil.example:PORT", None, None, Kind::Admin, 403),
    case("rebound-app-lookalike", "x.elasticbeanstalk.localhost.evil.example", None, None, Kind::App, 403),
    case("lan-address", "192.168.1.20:PORT", None, None, Kind::EbApi, 403),
    case("any-address", "0.0.0.0:PORT", None, None, Kind::Admin, 403),
    case("nip-io", "127.0.0.1.nip.io:PORT", None, None, Kind::EbApi, 403),
    // A page in the browser (CSRF): any Origin, or a cross-site fetch.
    case("origin-evil-admin", "127.0.0.1:PORT", Some("http://evil.example"), None, Kind::Admin, 403),
    case("origin-evil-api", "127.0.0.1:PORT", Some("http://evil.example"), None, Kind::EbApi, 403),
    case("origin-null-admin", "127.0.0.1:PORT", Some("null"), None, Kind::Admin, 403),
    case("origin-self-admin", "127.0.0.1:PORT", Some("http://127.0.0.1:PORT"), None, Kind::Admin, 403),
    case("origin-app-to-api", "localhost:PORT", Some("http://budgetsync-dev.us-east-1.elasticbeanstalk.localhost:PORT"), None, Kind::S3Api, 403),
    case("cross-site-no-origin", "127.0.0.1:PORT", None, Some("cross-site"), Kind::Admin, 403),
    case("same-site-no-origin", "127.0.0.1:PORT", None, Some("same-site"), Kind::EbApi, 403),
    // App hosts: browser traffic is the app's business.
    case("app-plain", APP, None, None, Kind::App, 404),
    case("app-with-port", "budgetsync-dev.us-east-1.elasticbeanstalk.localhost:PORT", None, None, Kind::App, 404),
    case("app-browser-origin", APP, Some("http://evil.example"), Some("cross-site"), Kind::App, 404),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_origin_and_fetch_site_table() {
    let log_dir = tempfile::tempdir().expect("tempdir");
    let log = log_dir.path().join("refused.log");
    let edge = start_edge_with(None, |c| c.refusal_log = Some(log.clone())).await;
    let port = edge.addr().port().to_string();
    let token = edge.admin_token().expose().to_string();
    let mut failures = Vec::new();
    let mut refused = 0;
    for c in CASES {
        let host = c.host.replace("PORT", &port);
        let mut headers = vec![("Host", host.clone())];
        if let Some(o) = c.origin {
            headers.push(("Origin", o.replace("PORT", &port)));
        }
        if let Some(s) = c.fetch_site {
            headers.push(("Sec-Fetch-Site", s.to_string()));
        }
        let (method, path, body) = match c.kind {
            Kind::Admin => {
                headers.push((ADMIN_TOKEN_HEADER, token.clone()));
                ("GET", "/_localcloud/health", "")
            }
            Kind::EbApi => {
                headers.push(("Authorization", EB_AUTH.to_string()));
                headers.push((
                    "Content-Type",
                    "application/x-www-form-urlencoded".to_string(),
                ));
                (
                    "POST",
                    "/",
                    "Action=DescribeApplications&Version=2010-12-01",
                )
            }
            Kind::S3Api => {
                headers.push(("Authorization", S3_AUTH.to_string()));
                ("GET", "/my-bucket?list-type=2", "")
            }
            Kind::App => ("GET", "/", ""),
        };
        let (status, resp_headers, resp_body) =
            send(edge.addr(), method, path, &headers, body).await;
        if status != c.status {
            failures.push(format!(
                "{}: {host} origin {:?} fetch-site {:?} {:?}: got {status}, want {} ({resp_body})",
                c.name, c.origin, c.fetch_site, c.kind, c.status
            ));
            continue;
        }
        if status == 403 {
            refused += 1;
            // Refusals say why, in the shape the client reads.
            let ok = match c.kind {
                Kind::EbApi => resp_body.contains("<Code>AccessDenied</Code>"),
                Kind::S3Api => resp_body.contains("<Code>AccessDenied</Code>"),
                Kind::Admin => {
                    header(&resp_headers, "content-type") == Some("application/json")
                        && resp_body.contains("localcloud refused this request")
                }
                Kind::App => {
                    header(&resp_headers, "x-localcloud-error") == Some("refused")
                        && resp_body.starts_with("localcloud refused this request")
                }
            };
            if !ok {
                failures.push(format!(
                    "{}: refusal not in the client's shape: {resp_body}",
                    c.name
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // Every refusal is logged (file and health), with the rule that refused it.
    let health = edge.admin().health().await.expect("health");
    assert_eq!(health.refused_requests, refused);
    let text = std::fs::read_to_string(&log).expect("the refusal log exists");
    assert_eq!(text.lines().count() as u64, refused, "{text}");
    assert!(
        text.contains("evil.example") && text.contains("(host)") && text.contains("(browser)"),
        "{text}"
    );
    assert!(!text.contains(&token), "the token is never logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_path_needs_the_edges_token() {
    let edge = start_edge(None).await;
    let right = edge.admin_token().expose().to_string();
    let mut wrong = right.clone().into_bytes();
    wrong[0] = if wrong[0] == b'a' { b'b' } else { b'a' };
    let wrong = String::from_utf8(wrong).unwrap();
    let routes: &[(&str, &str, &str)] = &[
        ("GET", "/_localcloud/health", ""),
        ("POST", "/_localcloud/reset", ""),
        ("POST", "/_localcloud/time-scale", r#"{"scale": 120}"#),
        (
            "POST",
            "/_localcloud/faults",
            r#"{"service": "*", "fault": "drop"}"#,
        ),
        ("POST", "/_localcloud/fail-next-deploy", r#"{"name": "x"}"#),
    ];
    let tokens: &[(&str, Option<&str>, u16)] = &[
        ("none", None, 401),
        ("empty", Some(""), 401),
        ("wrong", Some(&wrong), 401),
        ("prefix", Some(&right[..32]), 401),
        ("longer", Some(&format!("{right}0")), 401),
        ("right", Some(&right), 200),
    ];
    let host = format!("127.0.0.1:{}", edge.addr().port());
    let mut failures = Vec::new();
    for (method, path, body) in routes {
        for (name, token, want) in tokens {
            let mut headers = vec![("Host", host.clone())];
            if let Some(t) = token {
                headers.push((ADMIN_TOKEN_HEADER, t.to_string()));
            }
            let (status, _, text) = send(edge.addr(), method, path, &headers, body).await;
            if status != *want {
                failures.push(format!(
                    "{method} {path} token {name}: {status}, want {want}: {text}"
                ));
            }
            if status == 401 && !text.contains(ADMIN_TOKEN_HEADER) {
                failures.push(format!(
                    "{method} {path} token {name}: 401 names no header: {text}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The fault injected with the right token is not left armed for the next test step.
    edge.admin().reset().await.expect("reset with the token");

    // The typed client: with the token it works; another edge's token or none gets 401.
    let other = AdminToken::random();
    let cases: &[(&str, Option<AdminToken>, Option<u16>)] = &[
        ("with-token", Some(edge.admin_token().clone()), None),
        ("other-token", Some(other), Some(401)),
    ];
    for (name, token, want) in cases {
        let client = AdminClient::with_token(&edge.url(), token.clone().unwrap()).unwrap();
        match (client.health().await, want) {
            (Ok(_), None) => {}
            (Err(LocalCloudError::AdminStatus { status, .. }), Some(w)) if status == *w => {}
            (got, _) => panic!("{name}: {got:?}, want {want:?}"),
        }
    }
    // In this process `AdminClient::new` finds the token of its edge; after shutdown it is gone.
    AdminClient::new(&edge.url())
        .unwrap()
        .health()
        .await
        .expect("in-process edge");
    edge.shutdown().await;
    let other_edge = start_edge(None).await;
    AdminClient::new(&other_edge.url())
        .unwrap()
        .health()
        .await
        .expect("each in-process edge has its own token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_scale_out_of_range_is_an_error_never_a_panic() {
    let edge = start_edge(None).await;
    let admin = edge.admin();
    // (name, value as JSON, accepted)
    let cases: &[(&str, &str, bool)] = &[
        ("zero", "0", false),
        ("tiny", "0.0001", false),
        ("huge", "1e9", false),
        ("negative", "-1", false),
        ("nan-as-null", "null", false),
        ("below-one", "0.5", false),
        ("one", "1", true),
        ("three-hundred", "300", true),
        ("max", "10000", true),
    ];
    let host = format!("127.0.0.1:{}", edge.addr().port());
    let token = edge.admin_token().expose().to_string();
    for (name, value, ok) in cases {
        let before = admin.health().await.expect("health").time_scale;
        let (status, _, body) = send(
            edge.addr(),
            "POST",
            "/_localcloud/time-scale",
            &[("Host", host.clone()), (ADMIN_TOKEN_HEADER, token.clone())],
            &format!(r#"{{"scale": {value}}}"#),
        )
        .await;
        let after = admin
            .health()
            .await
            .expect("the edge still answers")
            .time_scale;
        if *ok {
            assert_eq!(status, 200, "{name}: {body}");
            assert_eq!(after, value.parse::<f64>().unwrap(), "{name}");
        } else {
            assert_eq!(status, 400, "{name}: {body}");
            assert!(
                body.contains("from 1 to 10000") && body.contains("scale"),
                "{name}: the error names the range and the fix: {body}"
            );
            assert_eq!(after, before, "{name}: a refused scale changes nothing");
        }
    }
    // The typed client sends NaN as null: refused the same way.
    let e = admin.set_time_scale(f64::NAN).await.unwrap_err();
    assert!(
        matches!(e, LocalCloudError::AdminStatus { status: 400, .. }),
        "{e}"
    );

    // Starting an edge with such a scale is refused the same way.
    for scale in [0.0, 0.0001, 1e9, -1.0, f64::NAN] {
        let e = Edge::start(deploykit_localcloud::EdgeConfig {
            time_scale: scale,
            ..Default::default()
        })
        .await
        .expect_err("out of range");
        assert!(
            matches!(e, LocalCloudError::TimeScale(ref t) if t.value.to_bits() == scale.to_bits()),
            "{scale}: {e}"
        );
        assert!(e.to_string().contains("from 1 to 10000"), "{e}");
    }
}

/// S3 virtual-hosted-style requests (Host `bucket.localhost`) pass the guard and reach moto as
/// they are, as path-style ones do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_virtual_hosted_requests_reach_moto() {
    let moto = start_moto().await;
    let edge = start_edge(Some(&moto)).await;
    let port = edge.addr().port();
    let bucket = format!("guard-{}", std::process::id());
    let cases: &[(&str, String, &str, String, u16)] = &[
        (
            "create-path-style",
            format!("127.0.0.1:{port}"),
            "PUT",
            format!("/{bucket}"),
            200,
        ),
        (
            "put-virtual",
            format!("{bucket}.localhost:{port}"),
            "PUT",
            "/hello.txt".into(),
            200,
        ),
        (
            "get-virtual",
            format!("{bucket}.localhost:{port}"),
            "GET",
            "/hello.txt".into(),
            200,
        ),
        (
            "get-path-style",
            format!("127.0.0.1:{port}"),
            "GET",
            format!("/{bucket}/hello.txt"),
            200,
        ),
        (
            "get-virtual-foreign",
            format!("{bucket}.evil.example:{port}"),
            "GET",
            "/hello.txt".into(),
            403,
        ),
    ];
    for (name, host, method, path, want) in cases {
        let body = if *method == "PUT" && path.ends_with(".txt") {
            "hi there"
        } else {
            ""
        };
        let (status, _, text) = send(
            edge.addr(),
            method,
            path,
            &[
                ("Host", host.clone()),
                ("Authorization", S3_AUTH.to_string()),
                ("x-amz-content-sha256", "UNSIGNED-PAYLOAD".to_string()),
            ],
            body,
        )
        .await;
        assert_eq!(status, *want, "{name}: {text}");
        if *method == "GET" && *want == 200 {
            assert_eq!(text, "hi there", "{name}");
        }
    }
}
