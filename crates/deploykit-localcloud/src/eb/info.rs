//! `RequestEnvironmentInfo` / `RetrieveEnvironmentInfo`: the instance's tail and bundle logs.
//!
//! As on AWS, a request collects the logs into the environment's S3 storage bucket
//! (`resources/environments/logs/{tail,bundle}/<env id>/<instance id>/...`) and a retrieve
//! returns, per sample, a URL to that object: a presigned-style URL to the edge, which forwards
//! it to S3 (moto), so any HTTP client can GET it.

use time::OffsetDateTime;

use super::params::ApiError;
use super::params::ApiResult;
use super::render;
use super::state::{Event, Severity};
use super::{Call, Eb};
use crate::xml::Xml;

/// One collected sample.
#[derive(Debug, Clone)]
pub(crate) struct InfoSample {
    pub info_type: &'static str,
    pub instance_id: String,
    pub at: OffsetDateTime,
    pub url: String,
}

fn info_type(c: &Call<'_>) -> ApiResult<&'static str> {
    match c.p.req("InfoType")? {
        "tail" => Ok("tail"),
        "bundle" => Ok("bundle"),
        other => Err(ApiError::invalid(format!(
            "Value {other} at 'infoType' failed to satisfy constraint: Member must satisfy enum value set: [tail, bundle]"
        ))),
    }
}

impl Eb {
    /// (id, name, whether it runs) of the live environment the request names.
    fn info_env(&self, c: &Call<'_>) -> ApiResult<(String, String)> {
        self.with_region(c.region, |r| {
            let idx = match (c.p.get("EnvironmentName"), c.p.get("EnvironmentId")) {
                (Some(n), _) => r.live_env(n),
                (None, Some(id)) => r.live_env_by_id(id),
                (None, None) => {
                    return Err(ApiError::combination(
                        "You must specify either the EnvironmentId or the EnvironmentName.",
                    ));
                }
            };
            let idx = idx.ok_or_else(|| {
                ApiError::invalid(format!(
                    "No Environment found for {}.",
                    c.p.get("EnvironmentName")
                        .map(|n| format!("EnvironmentName = '{n}'"))
                        .or_else(|| c
                            .p
                            .get("EnvironmentId")
                            .map(|i| format!("EnvironmentId = '{i}'")))
                        .unwrap_or_default()
                ))
            })?;
            let e = &r.envs[idx];
            Ok((e.id.clone(), e.name.clone()))
        })
    }

    fn presigned(&self, region: &str, bucket: &str, key: &str) -> String {
        let now = OffsetDateTime::now_utc();
        let date = format!(
            "{:04}{:02}{:02}",
            now.year(),
            u8::from(now.month()),
            now.day()
        );
        let stamp = format!(
            "{date}T{:02}{:02}{:02}Z",
            now.hour(),
            now.minute(),
            now.second()
        );
        let mut u = match url::Url::parse(&format!("http://{}/", self.ctx.edge_addr)) {
            Ok(u) => u,
            Err(_) => return String::new(),
        };
        if let Ok(mut segs) = u.path_segments_mut() {
            segs.pop_if_empty().push(bucket);
            segs.extend(key.split('/'));
        }
        u.query_pairs_mut()
            .append_pair("X-Amz-Algorithm", "AWS4-HMAC-SHA256")
            .append_pair(
                "X-Amz-Credential",
                &format!("localcloud/{date}/{region}/s3/aws4_request"),
            )
            .append_pair("X-Amz-Date", &stamp)
            .append_pair("X-Amz-Expires", "900")
            .append_pair("X-Amz-SignedHeaders", "host")
            .append_pair("X-Amz-Signature", &"0".repeat(64));
        u.to_string()
    }

    pub(super) async fn request_environment_info(&self, c: &Call<'_>) -> ApiResult<Option<String>> {
        let kind = info_type(c)?;
        let (env_id, env_name) = self.info_env(c)?;
        let instances = self.instances.clone();
        let iid = instances
            .as_ref()
            .and_then(|i| i.instance_of(&env_id))
            .unwrap_or_else(|| format!("i-0{}", &env_id.trim_start_matches("e-")));
        let now = OffsetDateTime::now_utc();
        let (body, ext) = match kind {
            "tail" => {
                let text = instances
                    .as_ref()
                    .and_then(|i| i.tail(&env_id))
                    .unwrap_or_else(|| {
                        format!(
                            "----------------------------------------\n/var/log/eb-engine.log\n----------------------------------------\n{env_name}: this local environment's instance is simulated (the edge runs no workloads); it keeps no logs.\n"
                        )
                    });
                (text.into_bytes(), "out")
            }
            _ => {
                let zip = instances
                    .as_ref()
                    .and_then(|i| i.bundle(&env_id))
                    .unwrap_or_else(empty_zip);
                (zip, "zip")
            }
        };
        let bucket = format!("elasticbeanstalk-{}-{}", c.region, self.ctx.account_id);
        let prefix = if kind == "tail" {
            "TailLogs"
        } else {
            "BundleLogs"
        };
        let key = format!(
            "resources/environments/logs/{kind}/{env_id}/{iid}/{prefix}-{}.{ext}",
            now.unix_timestamp_nanos() / 1_000_000
        );
        let moto = match &instances {
            Some(i) => i.moto().clone(),
            None => super::instance::MotoClient::new(self.ctx.moto_url.clone()),
        };
        moto.s3_put(c.region, &bucket, &key, body)
            .await
            .map_err(|e| ApiError::service(format!("Could not store the {kind} logs: {e}")))?;
        let iid_event = iid.clone();
        let sample = InfoSample {
            info_type: kind,
            instance_id: iid,
            at: now,
            url: self.presigned(c.region, &bucket, &key),
        };
        self.env_info
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(env_id.clone())
            .or_default()
            .push(sample);
        // As on AWS, the request shows up in the environment's events under its request id;
        // clients (the EB CLI's `eb logs`) wait for the completion event.
        let what = if kind == "tail" {
            "tailing"
        } else {
            "bundling"
        };
        let now = self.ctx.clock.now_utc();
        self.with_region(c.region, |r| {
            let Some(idx) = r.live_env_by_id(&env_id) else {
                return;
            };
            let (app, version) = (r.envs[idx].app.clone(), r.envs[idx].version.clone());
            for message in [
                "requestEnvironmentInfo is starting.".to_string(),
                format!("[Instance: {iid_event}] Successfully finished {what} logs."),
                "Pulled logs for environment instances.".to_string(),
            ] {
                r.push_event(Event {
                    date: now,
                    message,
                    severity: Severity::Info,
                    application: app.clone(),
                    environment: Some(env_name.clone()),
                    version: version.clone(),
                    request_id: c.request_id.to_string(),
                });
            }
        });
        Ok(None)
    }

    pub(super) fn retrieve_environment_info(&self, c: &Call<'_>) -> ApiResult<Option<String>> {
        let kind = info_type(c)?;
        let (env_id, _) = self.info_env(c)?;
        let samples: Vec<InfoSample> = self
            .env_info
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&env_id)
            .map(|v| v.iter().filter(|s| s.info_type == kind).cloned().collect())
            .unwrap_or_default();
        let mut x = Xml::new();
        x.open("EnvironmentInfo");
        for s in samples.iter().rev() {
            x.open("member")
                .leaf("InfoType", s.info_type)
                .leaf("Ec2InstanceId", &s.instance_id)
                .leaf("SampleTimestamp", render::ts(s.at))
                .leaf("Message", &s.url)
                .close("member");
        }
        x.close("EnvironmentInfo");
        Ok(Some(x.finish()))
    }
}

fn empty_zip() -> Vec<u8> {
    zip::ZipWriter::new(std::io::Cursor::new(Vec::new()))
        .finish()
        .map(|c| c.into_inner())
        .unwrap_or_default()
}
