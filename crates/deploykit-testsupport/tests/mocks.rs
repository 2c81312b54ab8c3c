//! `deploykit_testsupport::mocks` answers SDK calls from typed rules, with the SDK crate built
//! without `test-util` (this crate's dev-dependency on aws-sdk-s3 asks for no feature).

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::operation::head_object::{HeadObjectError, HeadObjectOutput};
use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_sdk_s3::types::error::NotFound;
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use deploykit_testsupport::mocks::{Rule, RuleMode, mock, mock_client};

fn status(code: u16) -> Response {
    Response::new(StatusCode::try_from(code).unwrap(), SdkBody::empty())
}

#[tokio::test]
async fn typed_outputs_answer_matching_calls_and_count_them() {
    let head = mock!(Client::head_object)
        .match_requests(|i| i.key() == Some("present"))
        .then_output(|| HeadObjectOutput::builder().content_length(7).build());
    let put = mock!(Client::put_object)
        .match_requests(|i| i.bucket() == Some("b"))
        .then_output(|| PutObjectOutput::builder().e_tag("etag-1").build());
    let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&head, &put]);

    let h = client
        .head_object()
        .bucket("b")
        .key("present")
        .send()
        .await
        .unwrap();
    assert_eq!(h.content_length(), Some(7));
    for _ in 0..2 {
        let p = client
            .put_object()
            .bucket("b")
            .key("k")
            .send()
            .await
            .unwrap();
        assert_eq!(p.e_tag(), Some("etag-1"));
    }
    assert_eq!((head.num_calls(), put.num_calls()), (1, 2));
}

#[tokio::test]
async fn computed_outputs_see_the_input() {
    let get = mock!(Client::get_object).then_compute_output(|i| {
        GetObjectOutput::builder()
            .e_tag(format!("etag-of-{}", i.key().unwrap_or_default()))
            .build()
    });
    let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&get]);
    for key in ["a", "b"] {
        let out = client
            .get_object()
            .bucket("b")
            .key(key)
            .send()
            .await
            .unwrap();
        assert_eq!(out.e_tag(), Some(format!("etag-of-{key}").as_str()));
    }
}

#[tokio::test]
async fn modeled_errors_arrive_typed() {
    let head = mock!(Client::head_object)
        .then_error(|| HeadObjectError::NotFound(NotFound::builder().build()));
    let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&head]);
    let err = client
        .head_object()
        .bucket("b")
        .key("k")
        .send()
        .await
        .unwrap_err();
    let service = err.into_service_error();
    assert!(service.is_not_found(), "{service:?}");
}

#[tokio::test]
async fn raw_responses_go_through_the_sdk_deserializer() {
    let head = mock!(Client::head_object).then_http_response(|| status(403));
    let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&head]);
    let err = client
        .head_object()
        .bucket("b")
        .key("k")
        .send()
        .await
        .unwrap_err();
    let raw = err.raw_response().map(|r| r.status().as_u16());
    assert_eq!(raw, Some(403), "{err:?}");
    assert_eq!(head.num_calls(), 1);
}

fn quick_retries(attempts: u32) -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(attempts)
        .with_initial_backoff(Duration::from_millis(1))
}

#[tokio::test]
async fn a_raw_response_answers_every_retry_attempt() {
    let head = mock!(Client::head_object).then_http_response(|| status(503));
    let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&head], |c| c
        .retry_config(quick_retries(3)));
    let err = client
        .head_object()
        .bucket("b")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.raw_response().map(|r| r.status().as_u16()),
        Some(503),
        "{err:?}"
    );
    assert_eq!(head.num_calls(), 3, "each attempt takes a response");
}

#[tokio::test]
async fn a_sequence_answers_attempts_and_calls_in_order() {
    // One call: a 503, retried, then the output. The next call: a modeled error; then used up.
    let head = mock!(Client::head_object)
        .sequence()
        .http_status(503, Some("slow down".into()))
        .output(|| HeadObjectOutput::builder().content_length(1).build())
        .error(|| HeadObjectError::NotFound(NotFound::builder().build()))
        .build();
    let fallback = mock!(Client::head_object).then_output(|| HeadObjectOutput::builder().build());
    let rules = vec![&head, &fallback];
    let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, rules.as_slice(), |c| c
        .retry_config(quick_retries(2)));
    let call = || client.head_object().bucket("b").key("k").send();
    assert_eq!(call().await.unwrap().content_length(), Some(1));
    assert!(
        call()
            .await
            .unwrap_err()
            .into_service_error()
            .is_not_found()
    );
    assert!(head.is_exhausted());
    assert_eq!(
        call().await.unwrap().content_length(),
        None,
        "the fallback rule answers"
    );
    assert_eq!((head.num_calls(), fallback.num_calls()), (3, 1));
}

#[tokio::test]
async fn times_repeats_the_last_response() {
    let put = mock!(Client::put_object)
        .sequence()
        .output(|| PutObjectOutput::builder().e_tag("a").build())
        .times(2)
        .output(|| PutObjectOutput::builder().e_tag("b").build())
        .build();
    let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&put]);
    let mut tags = Vec::new();
    for _ in 0..3 {
        let out = client
            .put_object()
            .bucket("b")
            .key("k")
            .send()
            .await
            .unwrap();
        tags.push(out.e_tag().unwrap_or_default().to_string());
    }
    assert_eq!(tags, ["a", "a", "b"]);
    assert!(put.is_exhausted());
}

#[tokio::test]
#[should_panic(expected = "does not match")]
async fn sequential_mode_refuses_an_out_of_order_call() {
    let put = mock!(Client::put_object).then_output(|| PutObjectOutput::builder().build());
    let client = mock_client!(aws_sdk_s3, RuleMode::Sequential, [&put]);
    let _ = client.head_object().bucket("b").key("k").send().await;
}

#[tokio::test]
async fn sequential_rules_answer_in_order() {
    let first: Rule =
        mock!(Client::put_object).then_output(|| PutObjectOutput::builder().e_tag("1").build());
    let second =
        mock!(Client::put_object).then_output(|| PutObjectOutput::builder().e_tag("2").build());
    let client = mock_client!(aws_sdk_s3, RuleMode::Sequential, [&first, &second]);
    let mut tags = Vec::new();
    for _ in 0..2 {
        let out = client
            .put_object()
            .bucket("b")
            .key("k")
            .send()
            .await
            .unwrap();
        tags.push(out.e_tag().unwrap_or_default().to_string());
    }
    assert_eq!(tags, ["1", "2"]);
}

#[tokio::test]
#[should_panic(expected = "no mock rule (MatchAny) answers")]
async fn a_call_no_rule_answers_fails_the_test() {
    let head = mock!(Client::head_object).then_output(|| HeadObjectOutput::builder().build());
    let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&head]);
    let _ = client.put_object().bucket("b").key("k").send().await;
}
