//! A container's stdout/stderr copied to CloudWatch Logs in moto, under the real group names
//! (App Runner `/aws/apprunner/<service>/<id>/application`, EB
//! `/aws/elasticbeanstalk/<env>/var/log/web.stdout.log`).
//!
//! Calls moto's Logs JSON API directly (`Logs_20140328.CreateLogGroup`, `CreateLogStream`,
//! `PutLogEvents`), with the same dummy credentials the local SDK clients use, so the events land
//! in the account those clients read.

use std::time::Duration;

use bollard::query_parameters::LogsOptions;
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::json;

use super::{WorkloadError, Workloads};

/// Longest a batch waits before it is sent.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Most events per PutLogEvents (AWS allows 10,000; smaller batches keep moto responsive).
const MAX_BATCH: usize = 500;
/// Longest one Logs call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// CloudWatch's per-event limit is 256 KiB; long lines are cut there.
const MAX_EVENT_BYTES: usize = 256 * 1024 - 26;

/// Where a container's output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogTarget {
    /// moto's base URL, `http://127.0.0.1:PORT`.
    pub moto_url: String,
    pub region: String,
    pub group: String,
    pub stream: String,
}

impl LogTarget {
    /// App Runner's application log group for a service, with a stream per instance.
    pub fn apprunner_application(
        moto_url: &str,
        region: &str,
        service: &str,
        service_id: &str,
        instance: &str,
    ) -> Self {
        Self {
            moto_url: moto_url.to_string(),
            region: region.to_string(),
            group: format!("/aws/apprunner/{service}/{service_id}/application"),
            stream: format!("instance/{instance}"),
        }
    }

    /// App Runner's service (deployment events) log group.
    pub fn apprunner_service(
        moto_url: &str,
        region: &str,
        service: &str,
        service_id: &str,
    ) -> Self {
        Self {
            moto_url: moto_url.to_string(),
            region: region.to_string(),
            group: format!("/aws/apprunner/{service}/{service_id}/service"),
            stream: "events".to_string(),
        }
    }

    /// Elastic Beanstalk's streamed `web.stdout.log` for an environment and instance.
    pub fn eb_web_stdout(moto_url: &str, region: &str, env: &str, instance_id: &str) -> Self {
        Self {
            moto_url: moto_url.to_string(),
            region: region.to_string(),
            group: format!("/aws/elasticbeanstalk/{env}/var/log/web.stdout.log"),
            stream: instance_id.to_string(),
        }
    }
}

/// A tiny CloudWatch Logs client for moto.
#[derive(Debug, Clone)]
pub struct LogSink {
    target: LogTarget,
    http: Client<HttpConnector, Full<Bytes>>,
}

impl LogSink {
    pub fn new(target: LogTarget) -> Self {
        let http = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
        Self { target, http }
    }

    pub fn target(&self) -> &LogTarget {
        &self.target
    }

    async fn call(&self, op: &'static str, body: serde_json::Value) -> Result<(), WorkloadError> {
        let fail = |reason: String| WorkloadError::Logs {
            what: op,
            group: self.target.group.clone(),
            reason,
        };
        let url = format!("{}/", self.target.moto_url.trim_end_matches('/'));
        let date = time::OffsetDateTime::now_utc();
        let day = format!(
            "{:04}{:02}{:02}",
            date.year(),
            u8::from(date.month()),
            date.day()
        );
        let req = http::Request::post(&url)
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", format!("Logs_20140328.{op}"))
            .header(
                "authorization",
                format!(
                    "AWS4-HMAC-SHA256 Credential=testing/{day}/{}/logs/aws4_request, SignedHeaders=host, Signature=0",
                    self.target.region
                ),
            )
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| fail(e.to_string()))?;
        let resp = tokio::time::timeout(CALL_TIMEOUT, self.http.request(req))
            .await
            .map_err(|_| fail(format!("no answer within {} s", CALL_TIMEOUT.as_secs())))?
            .map_err(|e| fail(e.to_string()))?;
        let status = resp.status();
        let body = tokio::time::timeout(CALL_TIMEOUT, resp.into_body().collect())
            .await
            .map_err(|_| fail("body timed out".to_string()))?
            .map_err(|e| fail(e.to_string()))?
            .to_bytes();
        if status.is_success() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&body);
        if text.contains("ResourceAlreadyExistsException") {
            return Ok(());
        }
        Err(fail(format!("HTTP {status}: {text}")))
    }

    /// Creates the group and the stream (both idempotent).
    pub async fn ensure(&self) -> Result<(), WorkloadError> {
        self.call(
            "CreateLogGroup",
            json!({ "logGroupName": self.target.group }),
        )
        .await?;
        self.call(
            "CreateLogStream",
            json!({ "logGroupName": self.target.group, "logStreamName": self.target.stream }),
        )
        .await
    }

    /// Sends `lines` as events stamped now (creating the group and stream first).
    pub async fn put_lines(&self, lines: &[String]) -> Result<(), WorkloadError> {
        self.ensure().await?;
        let now = now_ms();
        let events: Vec<(i64, String)> = lines.iter().map(|l| (now, l.clone())).collect();
        self.put_events(&events).await
    }

    /// Sends `(timestamp ms, message)` events in batches (the group and stream must exist).
    pub async fn put_events(&self, events: &[(i64, String)]) -> Result<(), WorkloadError> {
        for chunk in events.chunks(MAX_BATCH) {
            let list: Vec<serde_json::Value> = chunk
                .iter()
                .map(|(ts, msg)| json!({ "timestamp": ts, "message": msg }))
                .collect();
            self.call(
                "PutLogEvents",
                json!({
                    "logGroupName": self.target.group,
                    "logStreamName": self.target.stream,
                    "logEvents": list,
                }),
            )
            .await?;
        }
        Ok(())
    }
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

fn truncate(mut line: String) -> String {
    if line.len() > MAX_EVENT_BYTES {
        let mut cut = MAX_EVENT_BYTES;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
    }
    line
}

/// Follows a container's stdout/stderr until it exits, sending lines to `target` in batches
/// (every second or [`MAX_BATCH`] lines). Runs until the container is gone; failures to reach
/// moto drop that batch (the container's own log keeps everything).
pub fn follow(
    workloads: &Workloads,
    container_id: &str,
    target: LogTarget,
) -> tokio::task::JoinHandle<()> {
    let docker = workloads.docker().clone();
    let id = container_id.to_string();
    tokio::spawn(async move {
        let sink = LogSink::new(target);
        let _ = sink.ensure().await;
        let mut stream = docker.logs(
            &id,
            Some(LogsOptions {
                follow: true,
                stdout: true,
                stderr: true,
                tail: "all".to_string(),
                ..Default::default()
            }),
        );
        let mut pending: Vec<(i64, String)> = Vec::new();
        let mut partial = String::new();
        let mut tick = tokio::time::interval(FLUSH_EVERY);
        loop {
            tokio::select! {
                item = stream.next() => {
                    match item {
                        Some(Ok(chunk)) => {
                            partial.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
                            while let Some(i) = partial.find('\n') {
                                let line: String = partial.drain(..=i).collect();
                                let line = line.trim_end_matches(['\n', '\r']).to_string();
                                pending.push((now_ms(), truncate(line)));
                            }
                            if pending.len() >= MAX_BATCH {
                                let _ = sink.put_events(&std::mem::take(&mut pending)).await;
                            }
                        }
                        Some(Err(_)) | None => break,
                    }
                }
                _ = tick.tick() => {
                    if !pending.is_empty() {
                        let _ = sink.put_events(&std::mem::take(&mut pending)).await;
                    }
                }
            }
        }
        if !partial.is_empty() {
            pending.push((now_ms(), truncate(partial)));
        }
        if !pending.is_empty() {
            let _ = sink.put_events(&pending).await;
        }
    })
}
