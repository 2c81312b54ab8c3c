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
use deploykit_report::{Event, Unit, VecReporter};
use deploykit_s3::{ErrorKind, NoAclGuard, S3Error, UploadOptions, upload};
use deploykit_testsupport::mocks::{RuleMode, mock, mock_client};

const SHA: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

fn file(len: usize) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(&vec![7u8; len]).unwrap();
    f.flush().unwrap();
    f
}

fn head_missing() -> deploykit_testsupport::mocks::Rule {
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

// ---- the app bucket and static sync: ExpectedBucketOwner on every call, typed refusals ----

const OWNER: &str = "123456789012";

/// An S3 error response as S3 sends it (XML body with the code).
fn s3_error(status: u16, code: &str) -> aws_smithy_runtime_api::http::Response {
    aws_smithy_runtime_api::http::Response::new(
        aws_smithy_runtime_api::http::StatusCode::try_from(status).unwrap(),
        aws_smithy_types::body::SdkBody::from(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>m</Message></Error>"
        )),
    )
}

fn app_spec() -> deploykit_s3::BucketSpec {
    deploykit_s3::BucketSpec {
        name: "budgetsync-uploads".into(),
        region: "eu-west-1".into(),
        expected_owner: OWNER.into(),
        encryption: deploykit_s3::Encryption::SseKms {
            key_id: "alias/budgetsync".into(),
        },
        tls_only: true,
        cors: Some(vec![deploykit_s3::CorsRule {
            allowed_origins: vec!["https://app.example.com".into()],
            allowed_methods: vec!["GET".into()],
            ..Default::default()
        }]),
        uploads_lifecycle: Some(deploykit_s3::UploadsLifecycle {
            prefix: "receipts/".into(),
            expire_days: None,
            abort_incomplete_multipart_days: Some(7),
        }),
    }
}

#[tokio::test]
async fn ensure_sends_the_expected_owner_on_every_call_and_applies_each_step_once() {
    use aws_sdk_s3::operation::create_bucket::CreateBucketOutput;
    use aws_sdk_s3::operation::head_bucket::HeadBucketOutput;
    let owner = |o: Option<&str>| o == Some(OWNER);
    let head = mock!(Client::head_bucket)
        .match_requests(move |i| owner(i.expected_bucket_owner()))
        .sequence()
        .http_status(404, None)
        .times(2)
        .output(|| {
            HeadBucketOutput::builder()
                .bucket_region("eu-west-1")
                .build()
        })
        .build();
    let create = mock!(Client::create_bucket)
        .match_requests(|i| {
            i.acl().is_none()
                && i.create_bucket_configuration()
                    .and_then(|c| c.location_constraint())
                    .map(|l| l.as_str())
                    == Some("eu-west-1")
        })
        .then_output(|| CreateBucketOutput::builder().build());
    macro_rules! absent {
        ($op:path, $code:literal) => {
            mock!($op)
                .match_requests(move |i| owner(i.expected_bucket_owner()))
                .then_http_response(|| s3_error(404, $code))
        };
    }
    let gets = [
        absent!(
            Client::get_public_access_block,
            "NoSuchPublicAccessBlockConfiguration"
        ),
        absent!(
            Client::get_bucket_encryption,
            "ServerSideEncryptionConfigurationNotFoundError"
        ),
        absent!(
            Client::get_bucket_ownership_controls,
            "OwnershipControlsNotFoundError"
        ),
        absent!(Client::get_bucket_policy, "NoSuchBucketPolicy"),
        absent!(Client::get_bucket_cors, "NoSuchCORSConfiguration"),
        absent!(
            Client::get_bucket_lifecycle_configuration,
            "NoSuchLifecycleConfiguration"
        ),
    ];
    macro_rules! put {
        ($op:path, $out:path) => {
            mock!($op)
                .match_requests(move |i| owner(i.expected_bucket_owner()))
                .then_output(|| <$out>::builder().build())
        };
    }
    let puts = [
        put!(Client::put_bucket_ownership_controls, aws_sdk_s3::operation::put_bucket_ownership_controls::PutBucketOwnershipControlsOutput),
        put!(Client::put_public_access_block, aws_sdk_s3::operation::put_public_access_block::PutPublicAccessBlockOutput),
        put!(Client::put_bucket_encryption, aws_sdk_s3::operation::put_bucket_encryption::PutBucketEncryptionOutput),
        put!(Client::put_bucket_policy, aws_sdk_s3::operation::put_bucket_policy::PutBucketPolicyOutput),
        put!(Client::put_bucket_cors, aws_sdk_s3::operation::put_bucket_cors::PutBucketCorsOutput),
        put!(Client::put_bucket_lifecycle_configuration, aws_sdk_s3::operation::put_bucket_lifecycle_configuration::PutBucketLifecycleConfigurationOutput),
    ];
    let mut rules: Vec<&deploykit_testsupport::mocks::Rule> = vec![&head, &create];
    rules.extend(gets.iter());
    rules.extend(puts.iter());
    let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, rules.as_slice(), |c| c
        .interceptor(NoAclGuard));
    let out = deploykit_s3::bucket::ensure_bucket(&client, &app_spec(), &VecReporter::new())
        .await
        .unwrap();
    assert!(out.created);
    assert_eq!(out.applied.len(), 7, "{:?}", out.applied);
    assert_eq!(create.num_calls(), 1);
    assert_eq!(
        head.num_calls(),
        3,
        "observed before CreateBucket, right after (not visible yet: 404), and again"
    );
    for (i, p) in puts.iter().enumerate() {
        assert_eq!(p.num_calls(), 1, "put #{i}");
    }
}

#[tokio::test]
async fn someone_elses_bucket_is_refused_as_input_before_any_setting_is_written() {
    use deploykit_report::{Category, Diagnostic};
    let head = mock!(Client::head_bucket).then_http_response(|| s3_error(403, "Forbidden"));
    let create =
        mock!(Client::create_bucket).then_http_response(|| s3_error(409, "BucketAlreadyExists"));
    let policy = mock!(Client::put_bucket_policy).then_output(|| {
        aws_sdk_s3::operation::put_bucket_policy::PutBucketPolicyOutput::builder().build()
    });
    let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&head, &create, &policy]);
    let err = deploykit_s3::bucket::ensure_bucket(&client, &app_spec(), &VecReporter::new())
        .await
        .unwrap_err();
    assert!(
        matches!(err, S3Error::BucketTakenByOther { ref bucket } if bucket == "budgetsync-uploads"),
        "{err}"
    );
    assert_eq!(err.category(), Category::Input);
    assert!(err.to_string().contains("budgetsync-uploads"));
    assert_eq!(policy.num_calls(), 0);

    // Status on a bucket we cannot read is an AWS access error, not drift.
    let err = deploykit_s3::bucket_status(&client, &app_spec())
        .await
        .unwrap_err();
    assert_eq!(err.aws_kind(), Some(ErrorKind::AccessDenied));
}

#[tokio::test]
async fn sync_uploads_with_owner_type_cache_control_and_hash_and_no_acl() {
    use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
    let owner = |o: Option<&str>| o == Some(OWNER);
    let list = mock!(Client::list_objects_v2)
        .match_requests(move |i| owner(i.expected_bucket_owner()) && i.prefix() == Some("assets/"))
        .then_output(|| ListObjectsV2Output::builder().build());
    let put = mock!(Client::put_object)
        .match_requests(move |i| {
            owner(i.expected_bucket_owner())
                && i.acl().is_none()
                && i.key() == Some("assets/app.0a1b2c3d.js")
                && i.content_type() == Some("text/javascript; charset=utf-8")
                && i.cache_control() == Some("public, max-age=31536000, immutable")
                && i.metadata().and_then(|m| m.get("sha256")).map(String::len) == Some(64)
        })
        .then_output(|| PutObjectOutput::builder().build());
    let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&list, &put], |c| c
        .interceptor(NoAclGuard));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.0a1b2c3d.js"), b"x").unwrap();
    let opts = deploykit_s3::SyncOptions {
        prefix: "assets/".into(),
        ..Default::default()
    };
    let r = VecReporter::new();
    let rep = deploykit_s3::sync_static(&client, "b", OWNER, dir.path(), &opts, false, &r)
        .await
        .unwrap();
    assert_eq!(rep.summary.unwrap().uploaded, 1);
    assert_eq!(put.num_calls(), 1);

    // A missing static directory is an input error that names the path; nothing is listed.
    use deploykit_report::{Category, Diagnostic};
    let err = deploykit_s3::sync_static(
        &client,
        "b",
        OWNER,
        std::path::Path::new("/nonexistent/static"),
        &opts,
        false,
        &r,
    )
    .await
    .unwrap_err();
    assert_eq!(err.category(), Category::Input);
    assert!(err.to_string().contains("/nonexistent/static"), "{err}");
    assert_eq!(list.num_calls(), 1);

    // Delete with an empty prefix is refused: the bucket root holds uploads too.
    let root = deploykit_s3::SyncOptions {
        prefix: String::new(),
        delete: true,
        ..Default::default()
    };
    let err = deploykit_s3::sync_static(&client, "b", OWNER, dir.path(), &root, false, &r)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            S3Error::InvalidSpec {
                field: "static_prefix",
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_bucket_in_another_region_is_reported_and_never_configured() {
    use deploykit_report::{Category, Diagnostic};
    let head = mock!(Client::head_bucket).then_http_response(|| {
        let mut r = aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(301).unwrap(),
            aws_smithy_types::body::SdkBody::empty(),
        );
        r.headers_mut().insert("x-amz-bucket-region", "ap-south-1");
        r
    });
    let policy = mock!(Client::put_bucket_policy).then_output(|| {
        aws_sdk_s3::operation::put_bucket_policy::PutBucketPolicyOutput::builder().build()
    });
    let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&head, &policy]);
    let check = deploykit_s3::bucket_status(&client, &app_spec())
        .await
        .unwrap();
    assert_eq!(
        check.drift,
        vec![deploykit_s3::Drift::WrongRegion {
            actual: "ap-south-1".into()
        }]
    );
    assert!(check.plan.steps.is_empty());
    let err = deploykit_s3::bucket::ensure_bucket(&client, &app_spec(), &VecReporter::new())
        .await
        .unwrap_err();
    assert!(
        matches!(err, S3Error::WrongRegion { ref actual, ref expected, .. } if actual == "ap-south-1" && expected == "eu-west-1"),
        "{err}"
    );
    assert_eq!(err.category(), Category::Input);
    assert_eq!(policy.num_calls(), 0);
}
