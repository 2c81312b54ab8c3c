//! The instances' own logs without log streaming: `RequestEnvironmentInfo` asks each instance
//! to put its last lines (`tail`) or its whole `/var/log` (`bundle`, a zip) in S3, then
//! `RetrieveEnvironmentInfo` hands out presigned URLs, as the console's "Request logs" and the
//! EB CLI's `eb logs` do.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use aws_sdk_elasticbeanstalk::types::EnvironmentInfoType;
use deploykit_aws::classify;
use deploykit_report::{Event, Reporter, WaitOptions};

use super::Eb;
use crate::error::EbError;
use crate::model::EbTarget;

/// Which logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InfoKind {
    /// The last 100 lines of each of the instance's main logs, as text.
    Tail,
    /// Every log under `/var/log`, as a zip.
    Bundle,
}

impl InfoKind {
    fn api(self) -> EnvironmentInfoType {
        match self {
            InfoKind::Tail => EnvironmentInfoType::Tail,
            InfoKind::Bundle => EnvironmentInfoType::Bundle,
        }
    }
}

/// One instance's logs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InstanceLogs {
    pub instance_id: String,
    /// When the instance sampled them (as EB reports it).
    pub sampled_at: Option<String>,
    /// The text (`tail`) or the zip (`bundle`).
    #[serde(skip)]
    pub content: Vec<u8>,
}

/// A sample as `RetrieveEnvironmentInfo` lists it. The URL is a presigned credential: it is
/// never reported or shown.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Sample {
    instance: String,
    at: String,
    url: String,
}

/// Samples in `now` that were not in `before`, one per instance (the newest).
fn fresh(before: &BTreeSet<Sample>, now: Vec<Sample>) -> Vec<Sample> {
    let mut newest: std::collections::BTreeMap<String, Sample> = Default::default();
    for s in now.into_iter().filter(|s| !before.contains(s)) {
        match newest.get(&s.instance) {
            Some(cur) if cur.at >= s.at => {}
            _ => {
                newest.insert(s.instance.clone(), s);
            }
        }
    }
    newest.into_values().collect()
}

/// The largest log download we accept (a bundle of a busy instance's `/var/log`).
const MAX_DOWNLOAD: usize = 256 * 1024 * 1024;

impl Eb {
    async fn samples(&self, t: &EbTarget, kind: InfoKind) -> Result<Vec<Sample>, EbError> {
        let out = self
            .eb
            .retrieve_environment_info()
            .environment_name(&t.environment)
            .info_type(kind.api())
            .send()
            .await
            .map_err(|e| EbError::aws("RetrieveEnvironmentInfo", &t.environment, classify(&e)))?;
        Ok(out
            .environment_info()
            .iter()
            .filter_map(|i| {
                Some(Sample {
                    instance: i.ec2_instance_id().unwrap_or_default().to_string(),
                    at: i
                        .sample_timestamp()
                        .map(|t| t.to_string())
                        .unwrap_or_default(),
                    url: i.message()?.to_string(),
                })
            })
            .collect())
    }

    /// Asks the environment's instances for their logs, waits (bounded by `wait`) until every
    /// instance that answers within one more poll has put them in S3, and downloads them.
    pub async fn instance_logs(
        &self,
        t: &EbTarget,
        kind: InfoKind,
        wait: WaitOptions,
        r: &dyn Reporter,
    ) -> Result<Vec<InstanceLogs>, EbError> {
        self.require_env(t).await?;
        // Earlier samples stay listed for a while: only new ones answer this request.
        let before: BTreeSet<Sample> = self.samples(t, kind).await?.into_iter().collect();
        self.eb
            .request_environment_info()
            .environment_name(&t.environment)
            .info_type(kind.api())
            .send()
            .await
            .map_err(|e| EbError::aws("RequestEnvironmentInfo", &t.environment, classify(&e)))?;
        let started = Instant::now();
        let what = match kind {
            InfoKind::Tail => "the instances' tail logs",
            InfoKind::Bundle => "the instances' log bundles",
        };
        let mut got: Vec<Sample> = Vec::new();
        loop {
            let now = fresh(&before, self.samples(t, kind).await?);
            // One more poll after the first answer lets the other instances catch up.
            if !got.is_empty() && now.len() <= got.len() {
                break;
            }
            got = now;
            let waited = started.elapsed();
            if waited >= wait.timeout {
                if got.is_empty() {
                    return Err(EbError::LogsTimeout {
                        environment: t.environment.clone(),
                        what,
                        waited: wait.timeout,
                    });
                }
                break;
            }
            r.report(Event::Waiting {
                step: "eb-logs".into(),
                for_what: format!("{what} of {} in S3", t.environment),
                waited,
                timeout: wait.timeout,
            });
            tokio::time::sleep(wait.poll.min(wait.timeout.saturating_sub(waited))).await;
        }
        let mut out = Vec::new();
        for s in got {
            let content =
                deploykit_aws::download::download(&s.url, Duration::from_secs(120), MAX_DOWNLOAD)
                    .await
                    .map_err(|reason| EbError::LogDownload {
                        environment: t.environment.clone(),
                        instance: s.instance.clone(),
                        reason,
                    })?;
            out.push(InstanceLogs {
                instance_id: s.instance,
                sampled_at: (!s.at.is_empty()).then_some(s.at),
                content,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(instance: &str, at: &str) -> Sample {
        Sample {
            instance: instance.into(),
            at: at.into(),
            url: format!("http://x/{instance}/{at}"),
        }
    }

    #[test]
    fn only_new_samples_answer_and_the_newest_per_instance_wins() {
        let before: BTreeSet<Sample> = [s("i-1", "10"), s("i-2", "10")].into_iter().collect();
        let now = vec![
            s("i-1", "10"),
            s("i-2", "10"),
            s("i-1", "20"),
            s("i-1", "30"),
            s("i-3", "25"),
        ];
        let got = fresh(&before, now);
        let seen: Vec<(&str, &str)> = got
            .iter()
            .map(|x| (x.instance.as_str(), x.at.as_str()))
            .collect();
        assert_eq!(seen, vec![("i-1", "30"), ("i-3", "25")]);
        assert!(fresh(&before, before.iter().cloned().collect()).is_empty());
    }
}
