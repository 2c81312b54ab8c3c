//! Environment secrets (`aws:elasticbeanstalk:application:environmentsecrets`): each option's
//! value is the ARN of a Secrets Manager secret or an SSM parameter that the instances fetch
//! while they bootstrap.
//!
//! - A value that is not such an ARN is refused at `CreateEnvironment` / `UpdateEnvironment`
//!   with `ConfigurationValidationException` ("Invalid option value: ..."), nothing changed.
//! - An ARN that resolves to nothing (no such secret or parameter, another account, a secret
//!   scheduled for deletion) is accepted, like Elastic Beanstalk does, and the operation then
//!   fails on the instances: ERROR events, the environment ends `Ready` with health `Severe`
//!   and the secret in its causes; an update keeps the version that ran before.
//!
//! Lookups go to moto ([`crate::secrets_check`]); without a moto URL only the format is
//! checked. Deploys run by real instances (workloads) fetch the secrets themselves and fail
//! there, so only simulated operations are rewritten here.

use std::time::{Duration, Instant};

use super::params::{ApiError, ApiResult};
use super::state::{EnvStatus, HealthStatus, Severity, Step, timing};
use super::{Call, Eb};
use crate::secrets_check::{self, Lookup};

/// The namespace of environment secrets.
pub(super) const SECRETS_NS: &str = "aws:elasticbeanstalk:application:environmentsecrets";

/// Which operation a failed secret fetch ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Launch,
    Deploy,
    Config,
}

/// `(OptionName, Value)` of the secrets an operation leaves in effect: `current` (an update's
/// environment) with the request's `OptionSettings` applied and its `OptionsToRemove` removed.
fn effective(c: &Call<'_>, current: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut out = current;
    for m in c.p.structs("OptionsToRemove") {
        if m.get("Namespace").map(String::as_str) == Some(SECRETS_NS)
            && let Some(name) = m.get("OptionName")
        {
            out.retain(|(n, _)| n != name);
        }
    }
    for m in c.p.structs("OptionSettings") {
        if m.get("Namespace").map(String::as_str) != Some(SECRETS_NS) {
            continue;
        }
        let Some(name) = m.get("OptionName") else {
            continue;
        };
        let value = m.get("Value").cloned().unwrap_or_default();
        match out.iter_mut().find(|(n, _)| n == name) {
            Some(o) => o.1 = value,
            None => out.push((name.clone(), value)),
        }
    }
    out
}

/// Elastic Beanstalk's refusal of a value that is not a secret or parameter ARN.
fn check_format(secrets: &[(String, String)]) -> ApiResult<()> {
    for (name, value) in secrets {
        if secrets_check::parse_arn(value).is_none() {
            return Err(ApiError::new(
                "ConfigurationValidationException",
                format!(
                    "Configuration validation exception: Invalid option value: '{value}' \
                     (Namespace: '{SECRETS_NS}', OptionName: '{name}'): the value must be the \
                     ARN of an AWS Secrets Manager secret or an AWS Systems Manager Parameter \
                     Store parameter."
                ),
            ));
        }
    }
    Ok(())
}

fn step(rid: &str, severity: Severity, message: impl Into<String>) -> Step {
    Step {
        event: Some((severity, message.into())),
        request_id: rid.to_string(),
        ..Step::default()
    }
}

/// The simulated timeline's end when the instances cannot fetch `missing`: at `at` (service
/// time) the fetch fails, then the operation completes with errors.
fn failure_steps(
    op: Op,
    before: HealthStatus,
    missing: &[String],
    rid: &str,
) -> Vec<(Duration, Step)> {
    let (at, end) = match op {
        Op::Launch => (Duration::from_secs(240), timing::LAUNCH),
        Op::Deploy => (Duration::from_secs(60), timing::UPDATE),
        Op::Config => (Duration::from_secs(50), timing::CONFIG_UPDATE),
    };
    let mut steps: Vec<(Duration, Step)> = missing
        .iter()
        .map(|cause| (at, step(rid, Severity::Error, cause.clone())))
        .collect();
    steps.push((
        at,
        step(
            rid,
            Severity::Error,
            "Instance deployment failed. For details, see 'eb-engine.log'.",
        ),
    ));
    let done_message = match op {
        Op::Launch => {
            "Create environment operation is complete, but with errors. For more information, see troubleshooting documentation."
        }
        Op::Deploy => "Failed to deploy application.",
        Op::Config => "Failed to deploy configuration.",
    };
    let mut done = step(rid, Severity::Error, done_message);
    done.status = Some(EnvStatus::Ready);
    done.health = Some(HealthStatus::Severe);
    done.causes = Some(missing.to_vec());
    steps.push((end, done));
    if before != HealthStatus::Severe {
        steps.push((
            end,
            step(
                rid,
                Severity::Error,
                format!(
                    "Environment health has transitioned from {} to {}. {}",
                    before.as_str(),
                    HealthStatus::Severe.as_str(),
                    missing.join(" ")
                ),
            ),
        ));
    }
    steps
}

impl Eb {
    fn secret_lookup(&self) -> Option<Lookup<'_>> {
        // EB takes ARNs only, so the lookup's region for bare names never applies.
        Some(Lookup {
            moto_url: self.ctx.moto_url.as_deref()?,
            account_id: &self.ctx.account_id,
            region: &self.ctx.default_region,
        })
    }

    /// The causes for every secret in `secrets` that resolves to nothing.
    async fn missing_secrets(&self, secrets: &[(String, String)]) -> ApiResult<Vec<String>> {
        let Some(lookup) = self.secret_lookup() else {
            return Ok(Vec::new());
        };
        let mut missing = Vec::new();
        for (name, value) in secrets {
            let Some(reference) = secrets_check::parse_arn(value) else {
                continue;
            };
            let found = lookup.exists(&reference).await.map_err(|e| {
                ApiError::service(format!("could not look up environment secret {name}: {e}"))
            })?;
            if !found {
                missing.push(format!(
                    "Instance deployment failed to get environment secrets: {name} references \
                     {value}, which does not exist or cannot be read."
                ));
            }
        }
        Ok(missing)
    }

    /// Replaces the end of a just-scheduled simulated operation of `env` with the failed
    /// secret fetch.
    fn fail_on_secrets(&self, region: &str, env: &str, op: Op, missing: &[String], rid: &str) {
        let clock = self.ctx.clock.clone();
        self.with_region(region, |r| {
            let Some(idx) = r.live_env(env) else {
                return;
            };
            let env = &mut r.envs[idx];
            let steps = failure_steps(op, env.health, missing, rid);
            let first = steps.first().map_or(Duration::ZERO, |(at, _)| *at);
            // Keep the progress events before the failure, drop the successful ending.
            let cutoff: Instant = clock.after(first.saturating_sub(Duration::from_secs(1)));
            env.timeline.retain(|(at, _)| *at < cutoff);
            env.schedule(&clock, steps);
        });
    }

    /// `CreateEnvironment` with the environment secrets checked first.
    pub(super) async fn create_environment_checked(
        &self,
        c: &Call<'_>,
    ) -> ApiResult<Option<String>> {
        let secrets = effective(c, Vec::new());
        check_format(&secrets)?;
        // Real instances fetch the secrets themselves when they deploy a version.
        let real = self.ctx.workloads.is_some() && c.p.get("VersionLabel").is_some();
        let missing = if real {
            Vec::new()
        } else {
            self.missing_secrets(&secrets).await?
        };
        let out = self.create_environment(c)?;
        if !missing.is_empty()
            && let Some(name) = c.p.get("EnvironmentName")
        {
            self.fail_on_secrets(c.region, name, Op::Launch, &missing, c.request_id);
        }
        Ok(out)
    }

    /// `UpdateEnvironment` with the environment secrets in effect afterwards checked first.
    pub(super) async fn update_environment_checked(
        &self,
        c: &Call<'_>,
    ) -> ApiResult<Option<String>> {
        let current = self.with_region(c.region, |r| {
            let idx = match (c.p.get("EnvironmentName"), c.p.get("EnvironmentId")) {
                (Some(n), _) => r.live_env(n),
                (None, Some(id)) => r.live_env_by_id(id),
                (None, None) => None,
            }?;
            let env = &r.envs[idx];
            let secrets: Vec<(String, String)> = env
                .options
                .iter()
                .filter(|o| o.namespace == SECRETS_NS)
                .map(|o| (o.name.clone(), o.value.clone()))
                .collect();
            Some((env.name.clone(), secrets))
        });
        // An unknown environment: the operation itself answers with the real error.
        let Some((name, current)) = current else {
            return self.update_environment(c);
        };
        let changed = c.p.has_prefix("OptionSettings") || c.p.has_prefix("OptionsToRemove");
        let secrets = effective(c, current);
        if changed {
            check_format(&secrets)?;
        }
        let deploys = c.p.get("VersionLabel").is_some();
        let real = self.ctx.workloads.is_some() && deploys;
        let missing = if real {
            Vec::new()
        } else {
            self.missing_secrets(&secrets).await?
        };
        let out = self.update_environment(c)?;
        // Only an update that started an operation re-reads the secrets.
        let started = self.with_region(c.region, |r| {
            r.live_env(&name)
                .is_some_and(|i| r.envs[i].status == EnvStatus::Updating)
        });
        if !missing.is_empty() && started {
            let op = if deploys { Op::Deploy } else { Op::Config };
            self.fail_on_secrets(c.region, &name, op, &missing, c.request_id);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eb::params::Params;

    fn call(pairs: &[(&str, &str)]) -> Call<'static> {
        Call {
            region: "us-east-1",
            request_id: "r",
            p: Params::new(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
        }
    }

    #[test]
    fn effective_secrets_apply_settings_and_removals() {
        let c = call(&[
            ("OptionSettings.member.1.Namespace", SECRETS_NS),
            ("OptionSettings.member.1.OptionName", "DB"),
            ("OptionSettings.member.1.Value", "arn:new"),
            (
                "OptionSettings.member.2.Namespace",
                "aws:elasticbeanstalk:application:environment",
            ),
            ("OptionSettings.member.2.OptionName", "PLAIN"),
            ("OptionSettings.member.2.Value", "x"),
            ("OptionsToRemove.member.1.Namespace", SECRETS_NS),
            ("OptionsToRemove.member.1.OptionName", "OLD"),
        ]);
        let current = vec![
            ("DB".to_string(), "arn:old".to_string()),
            ("OLD".to_string(), "arn:gone".to_string()),
            ("KEEP".to_string(), "arn:keep".to_string()),
        ];
        assert_eq!(
            effective(&c, current),
            vec![
                ("DB".to_string(), "arn:new".to_string()),
                ("KEEP".to_string(), "arn:keep".to_string()),
            ]
        );
    }

    #[test]
    fn values_must_be_secret_or_parameter_arns() {
        let ok = |v: &str| check_format(&[("K".into(), v.into())]).is_ok();
        assert!(ok(
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/key-AbCdEf"
        ));
        assert!(ok(
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/key"
        ));
        assert!(ok("arn:aws:ssm:us-east-1:123456789012:parameter/app/key"));
        let err = check_format(&[("K".into(), "app/key".into())]).expect_err("a name");
        assert_eq!(err.code, "ConfigurationValidationException");
        assert!(
            err.message.contains("Invalid option value: 'app/key'"),
            "{}",
            err.message
        );
        assert!(!ok(""));
    }

    #[test]
    fn a_failed_fetch_ends_severe_with_the_secret_as_cause() {
        let missing = vec!["secret X is missing".to_string()];
        let steps = failure_steps(Op::Deploy, HealthStatus::Ok, &missing, "r");
        let (_, done) = steps
            .iter()
            .find(|(_, s)| s.status.is_some())
            .expect("a final step");
        assert_eq!(done.health, Some(HealthStatus::Severe));
        assert_eq!(done.causes.as_deref(), Some(missing.as_slice()));
        assert!(done.version.is_none(), "the old version keeps running");
        assert!(steps.iter().any(|(_, s)| {
            s.event
                .as_ref()
                .is_some_and(|(sev, m)| *sev == Severity::Error && m == "secret X is missing")
        }));
    }
}
