//! Bounded waits: not busy, deployed (relaying the service events), and the verification.

use std::collections::HashSet;
use std::time::{Instant, SystemTime};

use aws_sdk_elasticbeanstalk::types::{EnvironmentHealthAttribute, EventSeverity};
use aws_smithy_types::DateTime;
use deploykit_aws::classify;
use deploykit_aws::http_check::{self, Scheme};
use deploykit_report::{Event, Level, Reporter};

use super::{Eb, HTTP_FAILURES_ALLOWED, WaitError};
use crate::error::EbError;
use crate::model::*;

/// The app answered its health path: 200, or on a load-balanced environment the app's
/// redirect of plain HTTP to HTTPS (301/308; the ALB's own health checks, which make the
/// environment Green, reach the app without it).
fn http_ok(t: &EbTarget, code: u16) -> bool {
    code == 200 || (t.load_balancer.is_some() && matches!(code, 301 | 308))
}

impl Eb {
    /// Waits (bounded by `timeouts.busy`) until the environment is not busy.
    pub(super) async fn wait_not_busy(
        &self,
        t: &EbTarget,
        reporter: &dyn Reporter,
    ) -> Result<(), EbError> {
        let start = Instant::now();
        loop {
            let env = self.describe_env(t).await?;
            let status = match env {
                Some(e) if e.is_busy() => e.status,
                _ => return Ok(()),
            };
            let waited = start.elapsed();
            if waited >= t.timeouts.busy {
                return Err(EbError::BusyTimeout {
                    environment: t.environment.clone(),
                    status,
                    waited,
                });
            }
            reporter.report(Event::Waiting {
                step: "wait-busy".into(),
                for_what: format!("{} to finish its current {status}", t.environment),
                waited,
                timeout: t.timeouts.busy,
            });
            tokio::time::sleep(t.timeouts.poll).await;
        }
    }

    /// One look: Ready, Green, our version, HTTP 200. Used when nothing was changed.
    pub(super) async fn verify(&self, t: &EbTarget, label: &str) -> Result<(), WaitError> {
        let env = self.describe_env(t).await?.ok_or_else(|| {
            WaitError::Other(EbError::NoEnvironment {
                application: t.application.clone(),
                environment: t.environment.clone(),
            })
        })?;
        if env.status != "Ready" || env.health != "Green" {
            let causes = self.health_causes(t).await;
            return Err(WaitError::Failed {
                reason: format!("{} with health {}{}", env.status, env.health, causes),
                events: vec![],
            });
        }
        if env.version_label.as_deref() != Some(label) {
            return Err(WaitError::Failed {
                reason: format!(
                    "it runs {}",
                    env.version_label.as_deref().unwrap_or("no version")
                ),
                events: vec![],
            });
        }
        if let (Some(path), Some(cname)) = (&t.health.path, &env.cname) {
            match http_check::get_status(
                Scheme::Http,
                cname,
                path,
                t.health.resolve,
                t.timeouts.http,
            )
            .await
            {
                Ok(code) if http_ok(t, code) => {}
                Ok(code) => {
                    return Err(WaitError::Failed {
                        reason: format!("GET http://{cname}{path} answered {code}"),
                        events: vec![],
                    });
                }
                Err(e) => {
                    return Err(WaitError::Failed {
                        reason: e,
                        events: vec![],
                    });
                }
            }
        }
        Ok(())
    }

    pub(super) async fn health_causes(&self, t: &EbTarget) -> String {
        match self
            .eb
            .describe_environment_health()
            .environment_name(&t.environment)
            .attribute_names(EnvironmentHealthAttribute::All)
            .send()
            .await
        {
            Ok(h) if !h.causes().is_empty() => format!(" ({})", h.causes().join("; ")),
            _ => String::new(),
        }
    }

    /// Polls until the environment runs `label` Ready and Green (and answers HTTP 200 when
    /// configured), relaying events since `since`. Bounded by `timeouts.deploy`.
    pub(super) async fn wait_deployed(
        &self,
        t: &EbTarget,
        label: &str,
        since: SystemTime,
        step: &str,
        reporter: &dyn Reporter,
    ) -> Result<(), WaitError> {
        let start = Instant::now();
        let since = DateTime::from(since);
        let mut seen: HashSet<(i64, u32, String)> = HashSet::new();
        let mut problems: Vec<String> = Vec::new();
        let mut saw_busy = false;
        let mut polls = 0u32;
        let mut http_failures = 0u32;
        let mut last: String;
        loop {
            polls += 1;
            self.relay_events(t, since, &mut seen, &mut problems, step, reporter)
                .await?;
            let env = self.describe_env(t).await?;
            let Some(env) = env else {
                return Err(WaitError::Failed {
                    reason: format!("environment {} disappeared", t.environment),
                    events: problems,
                });
            };
            last = format!(
                "{} / {} / {}",
                env.status,
                env.health,
                env.version_label.as_deref().unwrap_or("no version")
            );
            if env.is_busy() {
                saw_busy = true;
            } else if env.status == "Ready" {
                let ours = env.version_label.as_deref() == Some(label);
                match env.health.as_str() {
                    "Red" => {
                        let causes = self.health_causes(t).await;
                        // Pick up the events that explain it.
                        self.relay_events(t, since, &mut seen, &mut problems, step, reporter)
                            .await?;
                        return Err(WaitError::Failed {
                            reason: format!("environment is Ready but health is Red{causes}"),
                            events: problems,
                        });
                    }
                    "Green" if ours => {
                        let Some(path) = &t.health.path else {
                            return Ok(());
                        };
                        let cname = env.cname.clone().unwrap_or_default();
                        match http_check::get_status(
                            Scheme::Http,
                            &cname,
                            path,
                            t.health.resolve,
                            t.timeouts.http,
                        )
                        .await
                        {
                            Ok(code) if http_ok(t, code) => {
                                reporter.report(Event::info(format!(
                                    "GET http://{cname}{path} answered {code}"
                                )));
                                return Ok(());
                            }
                            Ok(code) => {
                                http_failures += 1;
                                last = format!("{last}; GET {path} answered {code}");
                            }
                            Err(e) => {
                                http_failures += 1;
                                last = format!("{last}; {e}");
                            }
                        }
                        if http_failures >= HTTP_FAILURES_ALLOWED {
                            return Err(WaitError::Failed {
                                reason: format!(
                                    "Ready and Green, but the HTTP check failed {http_failures} times: {last}"
                                ),
                                events: problems,
                            });
                        }
                    }
                    _ if !ours && (saw_busy || polls >= 3) => {
                        self.relay_events(t, since, &mut seen, &mut problems, step, reporter)
                            .await?;
                        return Err(WaitError::Failed {
                            reason: format!(
                                "environment is Ready but runs {} instead of {label}",
                                env.version_label.as_deref().unwrap_or("no version")
                            ),
                            events: problems,
                        });
                    }
                    _ => {}
                }
            } else if env.is_gone() {
                return Err(WaitError::Failed {
                    reason: format!("environment is {}", env.status),
                    events: problems,
                });
            }
            let waited = start.elapsed();
            if waited >= t.timeouts.deploy {
                return Err(WaitError::Timeout { last });
            }
            reporter.report(Event::Waiting {
                step: step.to_string(),
                for_what: format!(
                    "{} to run {label} Ready and Green (now {last})",
                    t.environment
                ),
                waited,
                timeout: t.timeouts.deploy,
            });
            tokio::time::sleep(t.timeouts.poll).await;
        }
    }

    pub(super) async fn relay_events(
        &self,
        t: &EbTarget,
        since: DateTime,
        seen: &mut HashSet<(i64, u32, String)>,
        problems: &mut Vec<String>,
        step: &str,
        reporter: &dyn Reporter,
    ) -> Result<(), EbError> {
        let out = self
            .eb
            .describe_events()
            .application_name(&t.application)
            .environment_name(&t.environment)
            .start_time(since)
            .send()
            .await
            .map_err(|e| EbError::aws("DescribeEvents", &t.environment, classify(&e)))?;
        // Newest first on the wire; relay in order.
        for ev in out.events().iter().rev() {
            let date = ev
                .event_date()
                .map(|d| (d.secs(), d.subsec_nanos()))
                .unwrap_or_default();
            let message = ev.message().unwrap_or_default().to_string();
            if !seen.insert((date.0, date.1, message.clone())) {
                continue;
            }
            let level = match ev.severity() {
                Some(EventSeverity::Error | EventSeverity::Fatal) => Level::Error,
                Some(EventSeverity::Warn) => Level::Warn,
                Some(EventSeverity::Debug | EventSeverity::Trace) => Level::Debug,
                _ => Level::Info,
            };
            if level >= Level::Warn {
                problems.push(message.clone());
            }
            reporter.report(Event::Remote {
                step: step.to_string(),
                source: "elasticbeanstalk".into(),
                level,
                message,
            });
        }
        Ok(())
    }
}
