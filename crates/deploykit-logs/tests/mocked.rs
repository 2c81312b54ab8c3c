//! Fetch, follow, discover and retention over mocked CloudWatch Logs responses: pagination and
//! its bounds, interleaving by time, dedupe across polls, cancel, missing groups, the plan.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::operation::describe_log_groups::DescribeLogGroupsOutput;
use aws_sdk_cloudwatchlogs::operation::filter_log_events::{
    FilterLogEventsError, FilterLogEventsOutput,
};
use aws_sdk_cloudwatchlogs::operation::put_retention_policy::PutRetentionPolicyOutput;
use aws_sdk_cloudwatchlogs::types::error::ResourceNotFoundException;
use aws_sdk_cloudwatchlogs::types::{FilteredLogEvent, LogGroup};
use aws_smithy_types::error::ErrorMetadata;
use deploykit_logs::{
    FollowOptions, LogsError, StopReason, discover, fetch, follow, set_retention,
};
use deploykit_testsupport::mocks::{RuleMode, mock, mock_client};

const T0: u64 = 1_800_000_000_000;

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(T0 + ms)
}

fn event(id: &str, stream: &str, ms: u64, msg: &str) -> FilteredLogEvent {
    FilteredLogEvent::builder()
        .event_id(id)
        .log_stream_name(stream)
        .timestamp(i64::try_from(T0 + ms).unwrap())
        .message(format!("{msg}\n"))
        .build()
}

fn page(events: Vec<FilteredLogEvent>, next: Option<&str>) -> FilterLogEventsOutput {
    FilterLogEventsOutput::builder()
        .set_events(Some(events))
        .set_next_token(next.map(str::to_string))
        .build()
}

fn groups(names: &[&str], next: Option<&str>) -> DescribeLogGroupsOutput {
    DescribeLogGroupsOutput::builder()
        .set_log_groups(Some(
            names
                .iter()
                .map(|n| LogGroup::builder().log_group_name(*n).build())
                .collect(),
        ))
        .set_next_token(next.map(str::to_string))
        .build()
}

fn messages(lines: &[deploykit_logs::LogLine]) -> Vec<&str> {
    lines.iter().map(|l| l.message.as_str()).collect()
}

#[tokio::test]
async fn fetch_follows_next_tokens_and_sends_them_back() {
    let first = mock!(Client::filter_log_events)
        .match_requests(|i| i.next_token().is_none() && i.start_time() == Some((T0 + 5) as i64))
        .then_output(|| {
            page(
                vec![event("1", "s", 10, "a"), event("2", "s", 20, "b")],
                Some("t1"),
            )
        });
    let second = mock!(Client::filter_log_events)
        .match_requests(|i| i.next_token() == Some("t1") && i.filter_pattern() == Some("GET"))
        .then_output(|| page(vec![event("3", "s", 30, "c")], None));
    let client = mock_client!(
        aws_sdk_cloudwatchlogs,
        RuleMode::Sequential,
        [&first, &second]
    );
    let got = fetch(&client, &["/g".into()], at(5), Some("GET"), 10)
        .await
        .unwrap();
    assert_eq!(messages(&got.lines), ["a", "b", "c"]);
    assert!(!got.truncated);
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    assert_eq!(got.lines[0].group, "/g");
    assert_eq!(got.lines[0].stream, "s");
    assert_eq!(got.lines[0].time, at(10));
}

#[tokio::test]
async fn fetch_stops_at_max_lines_and_says_truncated() {
    let pages = mock!(Client::filter_log_events)
        .match_requests(|i| i.limit() == Some(2))
        .then_output(|| {
            page(
                vec![event("1", "s", 10, "a"), event("2", "s", 20, "b")],
                Some("t1"),
            )
        });
    let client = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&pages]);
    let got = fetch(&client, &["/g".into()], at(0), None, 2)
        .await
        .unwrap();
    assert_eq!(messages(&got.lines), ["a", "b"]);
    assert!(got.truncated, "a next token was left unread");
    assert_eq!(pages.num_calls(), 1, "no page after the bound");
}

#[tokio::test]
async fn empty_pages_with_tokens_are_bounded() {
    let pages = mock!(Client::filter_log_events)
        .sequence()
        .output(|| page(vec![], Some("more")))
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&pages]);
    let got = fetch(&client, &["/g".into()], at(0), None, 10)
        .await
        .unwrap();
    assert!(got.lines.is_empty());
    assert!(got.truncated);
    assert_eq!(pages.num_calls(), 100);
}

#[tokio::test]
async fn groups_and_streams_interleave_by_time() {
    let a = mock!(Client::filter_log_events)
        .match_requests(|i| i.log_group_name() == Some("/a"))
        .then_output(|| {
            page(
                vec![event("a1", "s1", 10, "a@10"), event("a2", "s2", 30, "a@30")],
                None,
            )
        });
    let b = mock!(Client::filter_log_events)
        .match_requests(|i| i.log_group_name() == Some("/b"))
        .then_output(|| {
            page(
                vec![event("b1", "s", 20, "b@20"), event("b2", "s", 40, "b@40")],
                None,
            )
        });
    let client = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&a, &b]);
    let got = fetch(&client, &["/a".into(), "/b".into()], at(0), None, 3)
        .await
        .unwrap();
    assert_eq!(messages(&got.lines), ["a@10", "b@20", "a@30"]);
    assert!(got.truncated, "4 lines, max 3");
}

#[tokio::test]
async fn a_missing_group_is_input_with_the_streaming_advice() {
    use deploykit_report::Diagnostic;
    let missing = mock!(Client::filter_log_events).then_error(|| {
        FilterLogEventsError::ResourceNotFoundException(
            ResourceNotFoundException::builder()
                .meta(
                    ErrorMetadata::builder()
                        .code("ResourceNotFoundException")
                        .message("The specified log group does not exist.")
                        .build(),
                )
                .build(),
        )
    });
    let client = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&missing]);
    let e = fetch(
        &client,
        &["/aws/elasticbeanstalk/e/x".into()],
        at(0),
        None,
        10,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&e, LogsError::GroupNotFound { group } if group == "/aws/elasticbeanstalk/e/x"),
        "{e:?}"
    );
    assert_eq!(e.category(), deploykit_report::Category::Input);
    assert!(e.help().unwrap().contains("log_streaming = true"));
}

#[tokio::test]
async fn follow_prints_each_event_once_across_polls() {
    // Every poll sees the old events again (the lookback window); only new ids are handed on.
    let polls = mock!(Client::filter_log_events)
        .sequence()
        .output(|| {
            page(
                vec![event("1", "s", 10, "a"), event("2", "s", 20, "b")],
                None,
            )
        })
        .output(|| {
            page(
                vec![
                    event("1", "s", 10, "a"),
                    event("2", "s", 20, "b"),
                    event("3", "s", 25, "c"),
                ],
                None,
            )
        })
        .output(|| {
            page(
                vec![event("2", "s", 20, "b"), event("3", "s", 25, "c")],
                None,
            )
        })
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&polls]);
    let opts = FollowOptions {
        since: at(0),
        interval: Duration::from_millis(100),
        deadline: Some(tokio::time::Instant::now() + Duration::from_millis(450)),
        ..FollowOptions::default()
    };
    let mut seen = Vec::new();
    let s = follow(
        &client,
        &["/g".into()],
        &opts,
        std::future::pending(),
        |l| seen.push(l.message),
    )
    .await
    .unwrap();
    assert_eq!(seen, ["a", "b", "c"]);
    assert_eq!(s.stopped, StopReason::Deadline);
    assert_eq!(s.lines, 3);
    assert!(
        (3..=6).contains(&s.polls),
        "{} polls in 450 ms at 100 ms",
        s.polls
    );
}

#[tokio::test]
async fn follow_stops_when_cancelled() {
    let polls = mock!(Client::filter_log_events)
        .sequence()
        .output(|| page(vec![], None))
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&polls]);
    let opts = FollowOptions {
        interval: Duration::from_secs(30),
        ..FollowOptions::default()
    };
    let started = std::time::Instant::now();
    let s = follow(
        &client,
        &["/g".into()],
        &opts,
        tokio::time::sleep(Duration::from_millis(50)),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(s.stopped, StopReason::Cancelled);
    assert_eq!(s.polls, 1);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the cancel cut the 30 s wait"
    );
}

#[tokio::test]
async fn discover_paginates_and_keeps_only_the_prefix_s_groups() {
    let pages = mock!(Client::describe_log_groups)
        .sequence()
        .output(|| {
            groups(
                &["/aws/ecs/default/svc", "/aws/ecs/default/svc-2"],
                Some("p2"),
            )
        })
        .output(|| groups(&["/aws/ecs/default/svc/x"], None))
        .build();
    let client = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&pages]);
    let got = discover(&client, "/aws/ecs/default/svc").await.unwrap();
    assert_eq!(got, ["/aws/ecs/default/svc", "/aws/ecs/default/svc/x"]);

    let folder = mock!(Client::describe_log_groups).then_output(|| {
        groups(
            &[
                "/aws/apprunner/s/1/application",
                "/aws/apprunner/s/1/service",
            ],
            None,
        )
    });
    let client = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&folder]);
    let got = discover(&client, "/aws/apprunner/s/").await.unwrap();
    assert_eq!(got.len(), 2);

    let none = mock!(Client::describe_log_groups).then_output(|| groups(&[], None));
    let client = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&none]);
    let e = discover(&client, "/aws/elasticbeanstalk/e/")
        .await
        .unwrap_err();
    assert!(matches!(e, LogsError::NoGroups { prefix } if prefix == "/aws/elasticbeanstalk/e/"));
}

#[tokio::test]
async fn retention_is_put_only_when_it_differs() {
    for (current, desired, puts) in [(Some(30), 30, 0), (Some(7), 30, 1), (None, 14, 1)] {
        let describe = mock!(Client::describe_log_groups).then_output(move || {
            DescribeLogGroupsOutput::builder()
                .log_groups(
                    LogGroup::builder()
                        .log_group_name("/g")
                        .set_retention_in_days(current)
                        .build(),
                )
                .build()
        });
        let put = mock!(Client::put_retention_policy)
            .match_requests(move |i| {
                i.log_group_name() == Some("/g") && i.retention_in_days() == Some(desired)
            })
            .then_output(|| PutRetentionPolicyOutput::builder().build());
        let client = mock_client!(
            aws_sdk_cloudwatchlogs,
            RuleMode::MatchAny,
            [&describe, &put]
        );
        let plan = set_retention(&client, "/g", u32::try_from(desired).unwrap())
            .await
            .unwrap();
        assert_eq!(plan.changes(), puts == 1);
        assert_eq!(put.num_calls(), puts, "{current:?} -> {desired}");
    }
}
