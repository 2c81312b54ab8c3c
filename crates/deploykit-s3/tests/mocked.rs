//! Upload decisions over mocked S3 responses: skip on same SHA-256, single PUT, multipart,
//! no ACL ever, typed error classification.

use std::io::Write;

use aws_sdk_s3::Client;
use aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput;
use aws_sdk_s3::operation::create_multipart_upload::CreateMultipartUploadOutput;
use aws_sdk_s3::operation::head_object::{HeadObjectError, HeadObjectOutput};
use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_sdk_s3::operation::upload_part::UploadPartOutput;
use aws_sdk_s3::types::ObjectCannedAcl;
use aws_sdk_s3::types::error::NotFound;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use deploykit_report::{Event, Unit, VecReporter};
use deploykit_s3::{ErrorKind, NoAclGuard, S3Error, UploadOptions, upload};

const SHA: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

fn file(len: usize) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(&vec![7u8; len]).unwrap();
    f.flush().unwrap();
    f
}

fn head_missing() -> aws_smithy_mocks::Rule {
    mock!(Client::head_object).then_error(|| HeadObjectError::NotFound(NotFound::builder().build()))
}

#[tokio::test]
async fn same_sha256_skips_the_upload() {
    let head = mock!(Client::head_object)
        .then_output(|| HeadObjectOutput::builder().metadata("sha256", SHA).build());
    let put = mock!(Client::put_object).then_output(|| PutObjectOutput::builder().build());
    let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&head, &put], |c| c
        .interceptor(NoAclGuard));
    let f = file(100);
    let r = VecReporter::new();
    let s = upload(
        &client,
        f.path(),
        "b",
        "app/x.zip",
        SHA,
        &UploadOptions::default(),
        &r,
    )
    .await
    .unwrap();
    assert!(s.skipped);
    assert_eq!(s.bytes_uploaded, 0);
    assert_eq!(
        put.num_calls(),
        0,
        "nothing may be sent when the object is already there"
    );
    assert!(
        r.events()
            .iter()
            .any(|e| matches!(e, Event::StepSkipped { .. }))
    );
}

#[tokio::test]
async fn different_or_missing_sha256_uploads_once_without_acl() {
    for head in [
        head_missing(),
        mock!(Client::head_object).then_output(|| {
            HeadObjectOutput::builder()
                .metadata("sha256", "bbbb")
                .build()
        }),
        mock!(Client::head_object).then_output(|| HeadObjectOutput::builder().build()),
    ] {
        let put = mock!(Client::put_object)
            .match_requests(|i| {
                i.acl().is_none()
                    && i.grant_full_control().is_none()
                    && i.metadata()
                        .and_then(|m| m.get("sha256"))
                        .map(String::as_str)
                        == Some(SHA)
            })
            .then_output(|| PutObjectOutput::builder().build());
        let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&head, &put], |c| c
            .interceptor(NoAclGuard));
        let f = file(1000);
        let r = VecReporter::new();
        let s = upload(
            &client,
            f.path(),
            "b",
            "k",
            &SHA.to_uppercase(),
            &UploadOptions::default(),
            &r,
        )
        .await
        .unwrap();
        assert!(!s.skipped);
        assert_eq!(s.bytes_uploaded, 1000);
        assert_eq!(put.num_calls(), 1);
        assert!(r.events().iter().any(|e| matches!(
            e,
            Event::Progress {
                done: 1000,
                total: Some(1000),
                unit: Unit::Bytes,
                ..
            }
        )));
    }
}

#[tokio::test]
async fn large_files_go_up_in_concurrent_parts() {
    let head = head_missing();
    let create = mock!(Client::create_multipart_upload)
        .match_requests(|i| {
            i.acl().is_none() && i.metadata().is_some_and(|m| m.contains_key("sha256"))
        })
        .then_output(|| {
            CreateMultipartUploadOutput::builder()
                .upload_id("u1")
                .build()
        });
    let part = mock!(Client::upload_part)
        .match_requests(|i| i.upload_id() == Some("u1"))
        .then_compute_output(|i| {
            UploadPartOutput::builder()
                .e_tag(format!("etag-{}", i.part_number().unwrap_or_default()))
                .build()
        });
    let complete = mock!(Client::complete_multipart_upload)
        .match_requests(|i| {
            let parts = i.multipart_upload().map(|m| m.parts()).unwrap_or_default();
            parts.len() == 3
                && parts.iter().enumerate().all(|(n, p)| {
                    p.part_number() == Some(n as i32 + 1)
                        && p.e_tag() == Some(format!("etag-{}", n + 1).as_str())
                })
        })
        .then_output(|| CompleteMultipartUploadOutput::builder().build());
    let client = mock_client!(
        aws_sdk_s3,
        RuleMode::MatchAny,
        [&head, &create, &part, &complete],
        |c| c.interceptor(NoAclGuard)
    );
    let mib = 1024 * 1024;
    let f = file(11 * mib);
    let opts = UploadOptions {
        multipart_threshold: 5 * mib as u64,
        part_size: 5 * mib as u64,
        concurrency: 2,
        ..UploadOptions::default()
    };
    let r = VecReporter::new();
    let s = upload(&client, f.path(), "b", "k", SHA, &opts, &r)
        .await
        .unwrap();
    assert_eq!(s.parts, 3);
    assert_eq!(part.num_calls(), 3);
    assert_eq!(
        complete.num_calls(),
        1,
        "the parts must be completed in order with their etags"
    );
    let last = r
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Progress { done, .. } => Some(done),
            _ => None,
        })
        .max();
    assert_eq!(last, Some(11 * mib as u64));
}

/// A loopback HTTP server that records each request's method, path and headers, answering
/// HEAD with 404 and everything else with 200. Lets the tests see what goes on the wire.
async fn recording_server() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let seen = seen2.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 65536];
                loop {
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_string();
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    while buf.len() < end + 4 + len {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    buf.drain(..end + 4 + len);
                    let is_head = head.starts_with("HEAD ");
                    seen.lock().unwrap().push(head);
                    let resp: &[u8] = if is_head {
                        b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"
                    } else {
                        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
                    };
                    if sock.write_all(resp).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (format!("http://{addr}"), seen)
}

fn wire_client(endpoint: &str) -> Client {
    let sdk = aws_types::SdkConfig::builder()
        .region(aws_types::region::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
            aws_sdk_s3::config::Credentials::new("AKIDLOCAL", "local", None, None, "test"),
        ))
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .build();
    deploykit_s3::client(&sdk, true)
}

#[tokio::test]
async fn no_acl_header_reaches_the_wire_and_the_guard_refuses_one() {
    let (endpoint, seen) = recording_server().await;
    let client = wire_client(&endpoint);
    let f = file(2000);
    let s = upload(
        &client,
        f.path(),
        "bkt",
        "app/v.zip",
        SHA,
        &UploadOptions::default(),
        &VecReporter::new(),
    )
    .await
    .unwrap();
    assert_eq!(s.bytes_uploaded, 2000);
    let requests = seen.lock().unwrap().clone();
    let put = requests
        .iter()
        .find(|r| r.starts_with("PUT "))
        .expect("a PUT was sent");
    let lower = put.to_ascii_lowercase();
    assert!(
        !lower.contains("x-amz-acl") && !lower.contains("x-amz-grant-"),
        "{put}"
    );
    assert!(
        lower.contains(&format!("x-amz-meta-sha256: {SHA}")),
        "{put}"
    );

    // A request that asks for an ACL never leaves the process.
    let before = seen.lock().unwrap().len();
    let err = client
        .put_object()
        .bucket("bkt")
        .key("k")
        .acl(ObjectCannedAcl::Private)
        .send()
        .await
        .unwrap_err();
    let text = format!("{err:?}");
    assert!(text.contains("ACL"), "{text}");
    assert_eq!(
        seen.lock().unwrap().len(),
        before,
        "the ACL request must not be sent"
    );
}

#[test]
fn acl_headers_are_recognized() {
    for (names, expect) in [
        (vec!["content-type", "x-amz-meta-sha256"], false),
        (vec!["X-Amz-Acl"], true),
        (vec!["x-amz-grant-read"], true),
        (vec![], false),
    ] {
        assert_eq!(deploykit_s3::has_acl_header(names.into_iter()), expect);
    }
}

#[tokio::test]
async fn head_errors_are_classified_and_named() {
    let head = mock!(Client::head_object).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(403).unwrap(),
            aws_smithy_types::body::SdkBody::empty(),
        )
    });
    let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&head]);
    let f = file(10);
    let err = upload(
        &client,
        f.path(),
        "bkt",
        "key.zip",
        SHA,
        &UploadOptions::default(),
        &VecReporter::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.aws_kind(), Some(ErrorKind::AccessDenied));
    let text = err.to_string();
    assert!(
        text.contains("HeadObject") && text.contains("s3://bkt/key.zip"),
        "{text}"
    );
}

#[tokio::test]
async fn a_missing_file_names_the_path() {
    let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&head_missing()]);
    let err = upload(
        &client,
        std::path::Path::new("/nonexistent/bundle.zip"),
        "b",
        "k",
        SHA,
        &UploadOptions::default(),
        &VecReporter::new(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, S3Error::Io { .. }));
    assert!(err.to_string().contains("/nonexistent/bundle.zip"));
}
