//! Bounded waits: not busy, deployed (relaying the service events), and the verification.

use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_elasticbeanstalk::types::{EnvironmentHealthAttribute, EventSeverity};
use aws_smithy_types::DateTime;
use deploykit_aws::classify;
use deploykit_aws::http_check::{self, Scheme};
use deploykit_report::{Event, Level, Reporter};

use super::{Eb, HTTP_FAILURES_ALLOWED, WaitError};
use crate::error::EbError;
use crate::model::*;
use crate::rollback::poll_backoff;

/// A poll error worth riding out: throttling or a transient failure, by code.
fn is_transient(e: &EbError) -> bool {
    e.aws_kind().is_some_and(|k| k.is_retryable())
}

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
        let mut failures = 0u32;
        loop {
            let env = match self.describe_env(t).await {
                Ok(env) => {
                    failures = 0;
                    env
                }
                Err(e) if is_transient(&e) => {
                    failures += 1;
                    self.back_off(
                        start,
                        t.timeouts.busy,
                        t.timeouts.poll,
                        failures,
                        &e,
                        "wait-busy",
                        reporter,
                    )
                    .await
                    .map_err(|()| EbError::BusyTimeout {
                        environment: t.environment.clone(),
                        status: format!("unknown ({e})"),
                        waited: start.elapsed(),
                    })?;
                    continue;
                }
                Err(e) => return Err(e),
            };
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
    /// configured), relaying events since `since`. Bounded by `deadline`. A throttled or
    /// transient poll error (by code, `deploykit_aws::classify`) is ridden out with a bounded
    /// backoff until the deadline; any other poll error ends the wait.
    pub(super) async fn wait_deployed(
        &self,
        t: &EbTarget,
        label: &str,
        since: SystemTime,
        step: &str,
        deadline: Duration,
        reporter: &dyn Reporter,
    ) -> Result<(), WaitError> {
        let start = Instant::now();
        let mut failures = 0u32;
        let since = DateTime::from(since);
        let mut seen: HashSet<(i64, u32, String)> = HashSet::new();
        let mut problems: Vec<String> = Vec::new();
        let mut saw_busy = false;
        let mut polls = 0u32;
        let mut http_failures = 0u32;
        let mut last: String;
        loop {
            polls += 1;
            let polled = match self
                .relay_events(t, since, &mut seen, &mut problems, step, reporter)
                .await
            {
                Ok(()) => self.describe_env(t).await,
                Err(e) => Err(e),
            };
            let env = match polled {
                Ok(env) => {
                    failures = 0;
                    env
                }
                Err(e) if is_transient(&e) => {
                    failures += 1;
                    let last = format!("polling failed {failures} times in a row: {e}");
                    self.back_off(
                        start,
                        deadline,
                        t.timeouts.poll,
                        failures,
                        &e,
                        step,
                        reporter,
                    )
                    .await
                    .map_err(|()| WaitError::Timeout { last })?;
                    continue;
                }
                Err(e) => return Err(WaitError::Other(e)),
            };
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
            if waited >= deadline {
                return Err(WaitError::Timeout { last });
            }
            reporter.report(Event::Waiting {
                step: step.to_string(),
                for_what: format!(
                    "{} to run {label} Ready and Green (now {last})",
                    t.environment
                ),
                waited,
                timeout: deadline,
            });
            tokio::time::sleep(t.timeouts.poll).await;
        }
    }

    /// After the `failures`-th throttled or transient poll error in a row: reports the wait
    /// and sleeps [`poll_backoff`]; `Err(())` when the deadline has passed.
    #[allow(clippy::too_many_arguments)]
    async fn back_off(
        &self,
        start: Instant,
        deadline: Duration,
        poll: Duration,
        failures: u32,
        e: &EbError,
        step: &str,
        reporter: &dyn Reporter,
    ) -> Result<(), ()> {
        let waited = start.elapsed();
        let remaining = deadline.saturating_sub(waited);
        if remaining.is_zero() {
            return Err(());
        }
        let sleep = poll_backoff(poll, failures, remaining);
        reporter.report(Event::Waiting {
            step: step.to_string(),
            for_what: format!(
                "Elastic Beanstalk to answer again ({e}; {} in a row; next poll in {:.1}s)",
                failures,
                sleep.as_secs_f64()
            ),
            waited,
            timeout: deadline,
        });
        tokio::time::sleep(sleep).await;
        Ok(())
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
