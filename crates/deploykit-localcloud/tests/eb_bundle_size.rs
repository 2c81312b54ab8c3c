//! Elastic Beanstalk source bundles are sized before they are read: CreateApplicationVersion
//! asks S3 for the object's size (HeadObject) and refuses one over the limit without a GET; a
//! bundle within the limit is streamed to disk, and a stream longer than its HEAD said is cut.
//!
//! S3 here is a scripted stand-in on a private port that records every request, so a 501 MiB
//! object costs nothing and "never read" is observed, not assumed.

mod edge_support;

use std::sync::{Arc, Mutex};

use aws_sdk_elasticbeanstalk::error::ProvideErrorMetadata;
use aws_sdk_elasticbeanstalk::types::S3Location;
use deploykit_localcloud::EB_MAX_BUNDLE_BYTES;
use edge_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the stand-in answers for the one object: HEAD's Content-Length (None: 404) and GET's
/// body.
#[derive(Clone)]
struct Object {
    head_len: Option<u64>,
    body: Vec<u8>,
}

/// A one-object S3 stand-in; returns its URL and the log of "METHOD path" lines.
async fn fake_s3(obj: Object) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let obj = obj.clone();
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).into_owned();
                let line = head.lines().next().unwrap_or("").to_string();
                let mut parts = line.split_whitespace();
                let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                log.lock().unwrap().push(format!("{method} {path}"));
                let resp: Vec<u8> = match (method, obj.head_len) {
                    (_, None) => {
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_vec()
                    }
                    ("HEAD", Some(len)) => format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
                    )
                    .into_bytes(),
                    _ => {
                        let mut r = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            obj.body.len()
                        )
                        .into_bytes();
                        r.extend_from_slice(&obj.body);
                        r
                    }
                };
                let _ = s.write_all(&resp).await;
                let _ = s.shutdown().await;
            });
        }
    });
    (url, seen)
}

struct Case {
    name: &'static str,
    /// None: the edge's default (EB's 500 MB).
    limit: Option<u64>,
    obj: Object,
    /// Err((code, text in the message)); Ok(status of the version).
    want: Result<&'static str, (&'static str, &'static str)>,
    /// Whether the body may be read at all.
    reads: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundles_are_sized_before_they_are_read() {
    let zip = good_bundle();
    let len = zip.len() as u64;
    let mib501 = 501 * 1024 * 1024;
    let cases = vec![
        Case {
            name: "501-MiB-object-refused-by-its-HEAD",
            limit: None,
            obj: Object {
                head_len: Some(mib501),
                body: Vec::new(),
            },
            want: Err(("InvalidParameterValue", "is 525336576 bytes")),
            reads: false,
        },
        Case {
            name: "one-byte-over-a-lowered-limit",
            limit: Some(len - 1),
            obj: Object {
                head_len: Some(len),
                body: zip.clone(),
            },
            want: Err(("InvalidParameterValue", "must not exceed")),
            reads: false,
        },
        Case {
            name: "exactly-the-limit-is-fine",
            limit: Some(len),
            obj: Object {
                head_len: Some(len),
                body: zip.clone(),
            },
            want: Ok("Processed"),
            reads: true,
        },
        Case {
            name: "default-limit-small-bundle",
            limit: None,
            obj: Object {
                head_len: Some(len),
                body: zip.clone(),
            },
            want: Ok("Processed"),
            reads: true,
        },
        Case {
            name: "a-stream-longer-than-its-HEAD-is-cut",
            limit: Some(1024),
            obj: Object {
                head_len: Some(100),
                body: vec![b'x'; 64 * 1024],
            },
            want: Err(("InvalidParameterValue", "must not exceed 1024 bytes")),
            reads: true,
        },
        Case {
            name: "missing-object",
            limit: None,
            obj: Object {
                head_len: None,
                body: Vec::new(),
            },
            want: Err(("InvalidParameterCombination", "Reason: Not Found")),
            reads: false,
        },
    ];
    assert_eq!(EB_MAX_BUNDLE_BYTES, 500 * 1024 * 1024);
    for (i, c) in cases.into_iter().enumerate() {
        let (url, seen) = fake_s3(c.obj.clone()).await;
        let edge = start_edge_with(None, |cfg| {
            cfg.moto_url = Some(url.clone());
            if let Some(l) = c.limit {
                cfg.eb_max_bundle_bytes = l;
            }
        })
        .await;
        let eb = eb(&edge, false);
        let result = eb
            .create_application_version()
            .application_name("sized")
            .auto_create_application(true)
            .version_label(format!("v{i}"))
            .process(true)
            .source_bundle(
                S3Location::builder()
                    .s3_bucket("bundles")
                    .s3_key("app.zip")
                    .build(),
            )
            .send()
            .await;
        match (&result, c.want) {
            (Ok(out), Ok(status)) => {
                let v = out.application_version().expect("a version");
                assert_eq!(v.status().map(|s| s.as_str()), Some(status), "{}", c.name);
            }
            (Err(e), Err((code, text))) => {
                assert_eq!(e.code(), Some(code), "{}: {e:?}", c.name);
                let msg = e.message().unwrap_or_default();
                assert!(msg.contains(text), "{}: {msg}", c.name);
            }
            (got, want) => panic!("{}: {got:?}, want {want:?}", c.name),
        }
        let seen = seen.lock().unwrap().clone();
        assert_eq!(
            seen.first().map(String::as_str),
            Some("HEAD /bundles/app.zip"),
            "{}: the size is asked first: {seen:?}",
            c.name
        );
        let read = seen.iter().any(|r| r.starts_with("GET "));
        assert_eq!(read, c.reads, "{}: {seen:?}", c.name);
        edge.shutdown().await;
    }
}
