//! Fetch, follow, discover and retention against the local cloud's CloudWatch Logs (moto).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use deploykit_logs::{
    FollowOptions, LogsError, StopReason, discover, fetch, follow, set_retention,
};
use deploykit_testsupport::{local_cloud, unique_name};

async fn client() -> Client {
    deploykit_logs::client(&local_cloud().await.sdk_config())
}

fn ms(t: SystemTime) -> i64 {
    i64::try_from(t.duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

async fn group_with_streams(c: &Client, group: &str, streams: &[&str]) {
    c.create_log_group()
        .log_group_name(group)
        .send()
        .await
        .unwrap();
    for s in streams {
        c.create_log_stream()
            .log_group_name(group)
            .log_stream_name(*s)
            .send()
            .await
            .unwrap();
    }
}

async fn put(c: &Client, group: &str, stream: &str, events: &[(i64, &str)]) {
    c.put_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .set_log_events(Some(
            events
                .iter()
                .map(|(t, m)| {
                    InputLogEvent::builder()
                        .timestamp(*t)
                        .message(*m)
                        .build()
                        .unwrap()
                })
                .collect(),
        ))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn fetch_reads_two_streams_back_in_time_order() {
    let c = client().await;
    let env = unique_name("logs");
    let prefix = format!("/aws/elasticbeanstalk/{env}/");
    let group = format!("{prefix}var/log/web.stdout.log");
    group_with_streams(&c, &group, &["i-1", "i-2"]).await;
    let t = ms(SystemTime::now()) - 60_000;
    put(
        &c,
        &group,
        "i-1",
        &[(t + 1_000, "first"), (t + 3_000, "third")],
    )
    .await;
    put(
        &c,
        &group,
        "i-2",
        &[(t + 2_000, "second"), (t + 4_000, "fourth GET /x")],
    )
    .await;

    let groups = discover(&c, &prefix).await.unwrap();
    assert_eq!(groups, [group.as_str()]);
    let since = UNIX_EPOCH + Duration::from_millis(u64::try_from(t).unwrap());
    let got = fetch(&c, &groups, since, None, 100).await.unwrap();
    let msgs: Vec<_> = got.lines.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(msgs, ["first", "second", "third", "fourth GET /x"]);
    assert_eq!(got.lines[1].stream, "i-2");
    assert!(!got.truncated);

    let bounded = fetch(&c, &groups, since, None, 3).await.unwrap();
    assert_eq!(bounded.lines.len(), 3);
    assert!(bounded.truncated);

    let later = UNIX_EPOCH + Duration::from_millis(u64::try_from(t + 2_500).unwrap());
    let got = fetch(&c, &groups, later, None, 100).await.unwrap();
    let msgs: Vec<_> = got.lines.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(msgs, ["third", "fourth GET /x"], "since bounds the read");
}

#[tokio::test]
async fn follow_picks_up_a_line_written_after_it_started() {
    let c = client().await;
    let svc = unique_name("logs");
    let group = format!("/aws/apprunner/{svc}/0001/application");
    group_with_streams(&c, &group, &["instance/a"]).await;
    let now = ms(SystemTime::now());
    put(&c, &group, "instance/a", &[(now - 5_000, "before")]).await;

    // The new line is written only once the follow has shown the old one (its first poll is
    // done), so it can only arrive through a later poll, however slow the machine.
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
    let mut go_tx = Some(go_tx);
    let writer = {
        let c = c.clone();
        let group = group.clone();
        tokio::spawn(async move {
            let _ = go_rx.await;
            put(
                &c,
                &group,
                "instance/a",
                &[(ms(SystemTime::now()), "after the follow began")],
            )
            .await;
        })
    };
    let opts = FollowOptions {
        since: SystemTime::now() - Duration::from_secs(60),
        interval: Duration::from_millis(200),
        deadline: Some(tokio::time::Instant::now() + Duration::from_secs(10)),
        ..FollowOptions::default()
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let mut stop_tx = Some(stop_tx);
    let mut seen = Vec::new();
    let groups = discover(&c, &format!("/aws/apprunner/{svc}/"))
        .await
        .unwrap();
    let summary = follow(
        &c,
        &groups,
        &opts,
        async {
            let _ = stop_rx.await;
        },
        |line| {
            seen.push(line.message.clone());
            if line.message == "before"
                && let Some(tx) = go_tx.take()
            {
                let _ = tx.send(());
            }
            if line.message == "after the follow began" {
                // Stop as soon as the new line arrived: the cancel future, not the deadline.
                if let Some(tx) = stop_tx.take() {
                    let _ = tx.send(());
                }
            }
        },
    )
    .await
    .unwrap();
    writer.await.unwrap();
    assert_eq!(
        seen,
        ["before", "after the follow began"],
        "each line once, in order"
    );
    assert_eq!(summary.stopped, StopReason::Cancelled);
    assert!(summary.polls >= 2, "{summary:?}");
}

#[tokio::test]
async fn missing_groups_and_retention() {
    let c = client().await;
    let env = unique_name("logs");
    let e = discover(&c, &format!("/aws/elasticbeanstalk/{env}/"))
        .await
        .unwrap_err();
    assert!(matches!(e, LogsError::NoGroups { .. }), "{e:?}");
    let e = fetch(
        &c,
        &[format!("/aws/elasticbeanstalk/{env}/nope")],
        UNIX_EPOCH,
        None,
        10,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, LogsError::GroupNotFound { .. }), "{e:?}");

    let group = format!("/aws/elasticbeanstalk/{env}/var/log/web.stdout.log");
    group_with_streams(&c, &group, &[]).await;
    let first = set_retention(&c, &group, 30).await.unwrap();
    assert_eq!((first.current, first.changes()), (None, true));
    let second = set_retention(&c, &group, 30).await.unwrap();
    assert_eq!((second.current, second.changes()), (Some(30), false));
}
