//! Load-balanced environments: `EnvironmentType`, `LoadBalancerType`, the `aws:elbv2:listener:*`
//! listeners, the default process's health check and the Auto Scaling bounds, checked as
//! Elastic Beanstalk checks them.
//!
//! - `EnvironmentType` changes in place both ways (`SingleInstance` <-> `LoadBalanced`): the
//!   update adds (or deletes) the load balancer, its target group and listeners, and the
//!   instance keeps serving through the CNAME.
//! - `LoadBalancerType` is fixed once it is in the environment's configuration (set at
//!   creation, or chosen when a load balancer is first made; an environment that is
//!   load-balanced without it has an `application` one): another value is refused with
//!   `ConfigurationValidationException` "LoadBalancer type option cannot be changed.".
//! - A listener with `Protocol` HTTPS without `SSLCertificateArns` is refused with
//!   `ConfigurationValidationException` (nothing changes).
//! - A certificate ACM (moto) does not know, or that is not `ISSUED`, is accepted and then
//!   fails in the stack: ERROR events, "Failed to deploy configuration.", and the environment
//!   is reverted to its previous configuration, Ready, still serving (an update), or ends
//!   Ready with health Severe (a launch, simulated workloads).
//! - `DescribeEnvironmentResources` lists the load balancer (its ARN), `EndpointURL` is its
//!   DNS name, which the edge serves like the CNAME. TLS is not served locally: the listener
//!   is recorded and checked, and the app answers over HTTP through the edge.

use std::time::Duration;

use super::params::{ApiError, ApiResult};
use super::state::{Env, EnvStatus, OptionSetting, Severity, Step};
use super::{Call, Eb};

pub(super) const ENV_NS: &str = "aws:elasticbeanstalk:environment";
const ASG_NS: &str = "aws:autoscaling:asg";
const PROCESS_NS: &str = "aws:elasticbeanstalk:environment:process:default";

fn get<'a>(options: &'a [OptionSetting], ns: &str, name: &str) -> Option<&'a str> {
    options
        .iter()
        .find(|o| o.namespace == ns && o.name == name && o.resource.is_none())
        .map(|o| o.value.as_str())
}

/// Whether these options make a load-balanced environment.
pub(super) fn load_balanced(options: &[OptionSetting]) -> bool {
    get(options, ENV_NS, "EnvironmentType").is_none_or(|t| t == "LoadBalanced")
}

fn invalid_value(value: &str, ns: &str, name: &str, why: &str) -> ApiError {
    ApiError::new(
        "ConfigurationValidationException",
        format!(
            "Configuration validation exception: Invalid option value: '{value}' (Namespace: '{ns}', OptionName: '{name}'): {why}"
        ),
    )
}

fn invalid_spec(ns: &str, name: &str, why: &str) -> ApiError {
    ApiError::new(
        "ConfigurationValidationException",
        format!(
            "Configuration validation exception: Invalid option specification (Namespace: '{ns}', OptionName: '{name}'): {why}"
        ),
    )
}

/// The listener namespaces (`aws:elbv2:listener:<port>`, not `default`) the options name.
fn listeners(options: &[OptionSetting]) -> Vec<String> {
    let mut out: Vec<String> = options
        .iter()
        .filter_map(|o| o.namespace.strip_prefix("aws:elbv2:listener:"))
        .filter(|port| *port != "default")
        .map(|port| format!("aws:elbv2:listener:{port}"))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The checks Elastic Beanstalk makes before accepting options that would replace `before`
/// (empty at creation) with `after`.
pub(super) fn check(before: &[OptionSetting], after: &[OptionSetting]) -> ApiResult<()> {
    if let Some(t) = get(after, ENV_NS, "EnvironmentType")
        && !matches!(t, "LoadBalanced" | "SingleInstance")
    {
        return Err(invalid_value(
            t,
            ENV_NS,
            "EnvironmentType",
            "must be LoadBalanced or SingleInstance",
        ));
    }
    let new_type = get(after, ENV_NS, "LoadBalancerType");
    if let Some(t) = new_type
        && !matches!(t, "classic" | "application" | "network")
    {
        return Err(invalid_value(
            t,
            ENV_NS,
            "LoadBalancerType",
            "must be classic, application or network",
        ));
    }
    let fixed = get(before, ENV_NS, "LoadBalancerType")
        .or((!before.is_empty() && load_balanced(before)).then_some("application"));
    if let (Some(fixed), Some(new)) = (fixed, new_type)
        && fixed != new
    {
        return Err(ApiError::new(
            "ConfigurationValidationException",
            "Configuration validation exception: LoadBalancer type option cannot be changed.",
        ));
    }
    let min = asg_size(after, "MinSize")?;
    let max = asg_size(after, "MaxSize")?;
    if let (Some(min), Some(max)) = (min, max)
        && min > max
    {
        return Err(invalid_spec(
            ASG_NS,
            "MinSize",
            &format!("MinSize ({min}) must be less than or equal to MaxSize ({max})."),
        ));
    }
    if let Some(p) = get(after, PROCESS_NS, "HealthCheckPath")
        && !p.starts_with('/')
    {
        return Err(invalid_value(
            p,
            PROCESS_NS,
            "HealthCheckPath",
            "the health check path must start with '/'",
        ));
    }
    if !load_balanced(after) {
        return Ok(());
    }
    for ns in listeners(after) {
        let protocol = get(after, &ns, "Protocol").unwrap_or("HTTP");
        if !matches!(protocol, "HTTP" | "HTTPS") {
            return Err(invalid_value(
                protocol,
                &ns,
                "Protocol",
                "an Application Load Balancer listener's protocol is HTTP or HTTPS",
            ));
        }
        let certs = get(after, &ns, "SSLCertificateArns").unwrap_or("");
        if protocol == "HTTPS" && certs.trim().is_empty() {
            return Err(invalid_spec(
                &ns,
                "SSLCertificateArns",
                "An HTTPS listener requires an SSL certificate: set SSLCertificateArns.",
            ));
        }
    }
    Ok(())
}

fn asg_size(options: &[OptionSetting], name: &str) -> ApiResult<Option<u32>> {
    let Some(v) = get(options, ASG_NS, name) else {
        return Ok(None);
    };
    match v.parse::<u32>() {
        Ok(n) if (1..=10000).contains(&n) => Ok(Some(n)),
        _ => Err(invalid_value(
            v,
            ASG_NS,
            name,
            "must be a whole number from 1 to 10000",
        )),
    }
}

/// The certificate ARNs the HTTPS listeners of `options` use (when load-balanced).
pub(super) fn certificates(options: &[OptionSetting]) -> Vec<String> {
    if !load_balanced(options) {
        return Vec::new();
    }
    listeners(options)
        .iter()
        .filter(|ns| get(options, ns, "Protocol") == Some("HTTPS"))
        .filter_map(|ns| get(options, ns, "SSLCertificateArns"))
        .flat_map(|v| v.split(',').map(|a| a.trim().to_string()))
        .filter(|a| !a.is_empty())
        .collect()
}

/// The load balancer's identity: ARN and DNS name (the `EndpointURL`).
pub(super) fn lb_arn(env: &Env, region: &str, account: &str) -> String {
    let id = env.id.trim_start_matches("e-");
    format!(
        "arn:aws:elasticloadbalancing:{region}:{account}:loadbalancer/app/awseb-AWSEB-{}/{id}",
        id.to_ascii_uppercase()
    )
}

pub(super) fn lb_host(env: &Env, region: &str) -> String {
    format!(
        "awseb-{}-alb.{region}.elasticbeanstalk.localhost",
        env.id.trim_start_matches("e-")
    )
}

fn step(rid: &str, severity: Severity, message: String) -> Step {
    Step {
        event: Some((severity, message)),
        request_id: rid.to_string(),
        ..Step::default()
    }
}

/// The events of a load balancer added (`to_lb`) or removed by an update.
pub(super) fn transition_steps(
    env: &Env,
    region: &str,
    account: &str,
    to_lb: bool,
    rid: &str,
) -> Vec<(Duration, Step)> {
    let arn = lb_arn(env, region, account);
    let tg = format!(
        "arn:aws:elasticloadbalancing:{region}:{account}:targetgroup/awseb-AWSEB-default/{}",
        env.id.trim_start_matches("e-")
    );
    if to_lb {
        vec![
            (
                Duration::from_secs(15),
                step(
                    rid,
                    Severity::Info,
                    format!("Created target group named: {tg}"),
                ),
            ),
            (
                Duration::from_secs(20),
                step(
                    rid,
                    Severity::Info,
                    format!("Created load balancer named: {arn}"),
                ),
            ),
            (
                Duration::from_secs(25),
                step(
                    rid,
                    Severity::Info,
                    format!(
                        "Created Load Balancer listener named: {}",
                        arn.replace(":loadbalancer/", ":listener/")
                    ),
                ),
            ),
        ]
    } else {
        vec![
            (
                Duration::from_secs(15),
                step(rid, Severity::Info, "Created EIP: 127.0.0.1".to_string()),
            ),
            (
                Duration::from_secs(25),
                step(
                    rid,
                    Severity::Info,
                    format!("Deleted load balancer named: {arn}"),
                ),
            ),
        ]
    }
}

/// The failed stack update of a certificate the load balancer cannot use, reverted.
fn bad_certificate_steps(env: &Env, why: &[String], rid: &str) -> Vec<(Duration, Step)> {
    let mut steps = vec![
        (
            Duration::ZERO,
            step(
                rid,
                Severity::Info,
                "Environment update is starting.".into(),
            ),
        ),
        (
            Duration::from_secs(10),
            step(
                rid,
                Severity::Info,
                format!(
                    "Updating environment {}'s configuration settings.",
                    env.name
                ),
            ),
        ),
    ];
    for w in why {
        steps.push((
            Duration::from_secs(30),
            step(
                rid,
                Severity::Error,
                format!("Creating load balancer failed Reason: {w}"),
            ),
        ));
    }
    steps.push((
        Duration::from_secs(40),
        step(
            rid,
            Severity::Error,
            "Failed to deploy configuration.".into(),
        ),
    ));
    let mut done = step(
        rid,
        Severity::Info,
        "The environment was reverted to the previous configuration setting.".into(),
    );
    done.status = Some(EnvStatus::Ready);
    steps.push((Duration::from_secs(55), done));
    steps
}

impl Eb {
    /// Why each certificate cannot be used by a load balancer (empty: all are `ISSUED` in
    /// ACM). Without moto only the ARN's shape is known, and it is trusted.
    async fn unusable_certificates(&self, arns: &[String]) -> ApiResult<Vec<String>> {
        let Some(moto_url) = self.ctx.moto_url.as_deref() else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for arn in arns {
            let status =
                crate::secrets_check::certificate_status(moto_url, &self.ctx.account_id, arn)
                    .await
                    .map_err(|e| {
                        ApiError::service(format!("could not look up certificate {arn}: {e}"))
                    })?;
            match status.as_deref() {
                Some("ISSUED") => {}
                None => out.push(format!(
                    "Certificate '{arn}' not found (Service: AmazonElasticLoadBalancing; Status Code: 400; Error Code: CertificateNotFound)"
                )),
                Some(s) => out.push(format!(
                    "Certificate '{arn}' is {s}, not ISSUED (Service: AmazonElasticLoadBalancing; Status Code: 400; Error Code: UnsupportedCertificate)"
                )),
            }
        }
        Ok(out)
    }

    /// `CreateEnvironment` with the load balancer's certificates looked up first.
    pub(super) async fn create_environment_lb(&self, c: &Call<'_>) -> ApiResult<Option<String>> {
        let options = super::ops::requested_options(&c.p)?;
        check(&[], &options)?;
        let bad = self.unusable_certificates(&certificates(&options)).await?;
        let out = self.create_environment_checked(c).await?;
        let simulated = self.ctx.workloads.is_none() || c.p.get("VersionLabel").is_none();
        if !bad.is_empty()
            && simulated
            && let Some(name) = c.p.get("EnvironmentName")
        {
            self.fail_launch(c.region, name, &bad, c.request_id);
        }
        Ok(out)
    }

    /// `UpdateEnvironment`: a certificate the load balancer cannot use fails the update (after
    /// the same synchronous checks); an environment type change adds its events.
    pub(super) async fn update_environment_lb(&self, c: &Call<'_>) -> ApiResult<Option<String>> {
        let planned = self.with_region(c.region, |r| {
            let idx = super::ops::find_env(r, &c.p).ok()?;
            let env = &r.envs[idx];
            Some((env.options.clone(), env.status))
        });
        let Some((before, status)) = planned else {
            return self.update_environment_checked(c).await;
        };
        let after = super::ops::merged_options(&before, &c.p)?;
        check(&before, &after)?;
        let bad = if status == EnvStatus::Ready {
            self.unusable_certificates(&certificates(&after)).await?
        } else {
            Vec::new()
        };
        if !bad.is_empty() {
            super::ops::validate_all(&after)?;
            return Ok(self.fail_update(c, &bad));
        }
        let out = self.update_environment_checked(c).await?;
        let (was, now) = (load_balanced(&before), load_balanced(&after));
        if was != now {
            let clock = self.ctx.clock.clone();
            let account = self.ctx.account_id.clone();
            self.with_region(c.region, |r| {
                if let Ok(idx) = super::ops::find_env(r, &c.p) {
                    let env = &mut r.envs[idx];
                    let steps = transition_steps(env, c.region, &account, now, c.request_id);
                    env.schedule(&clock, steps);
                }
            });
        }
        Ok(out)
    }

    /// Starts the update that fails on the certificate; nothing else changes.
    fn fail_update(&self, c: &Call<'_>, why: &[String]) -> Option<String> {
        let clock = self.ctx.clock.clone();
        let account = self.account().to_string();
        let endpoint = self.endpoint();
        let now = self.ctx.clock.now_utc();
        self.with_region(c.region, |r| {
            let idx = super::ops::find_env(r, &c.p).ok()?;
            let env = &mut r.envs[idx];
            env.status = EnvStatus::Updating;
            env.updated = now;
            let steps = bad_certificate_steps(env, why, c.request_id);
            env.schedule(&clock, steps);
            let mut x = crate::xml::Xml::new();
            super::render::env_fields(&mut x, env, c.region, &account, &endpoint);
            Some(x.finish())
        })
    }

    /// A simulated launch whose load balancer cannot be made: Ready, Severe, the reason.
    fn fail_launch(&self, region: &str, name: &str, why: &[String], rid: &str) {
        let clock = self.ctx.clock.clone();
        self.with_region(region, |r| {
            let Some(idx) = r.live_env(name) else {
                return;
            };
            let env = &mut r.envs[idx];
            env.timeline.clear();
            let mut steps: Vec<(Duration, Step)> = why
                .iter()
                .map(|w| {
                    (
                        Duration::from_secs(30),
                        step(rid, Severity::Error, format!("Creating load balancer failed Reason: {w}")),
                    )
                })
                .collect();
            let mut done = step(
                rid,
                Severity::Error,
                "Create environment operation is complete, but with errors. For more information, see troubleshooting documentation.".into(),
            );
            done.status = Some(EnvStatus::Ready);
            done.health = Some(super::state::HealthStatus::Severe);
            done.causes = Some(why.to_vec());
            steps.push((Duration::from_secs(60), done));
            env.schedule(&clock, steps);
        });
    }

    /// The CNAME for `host` when it is a load-balanced environment's load balancer DNS name
    /// (the edge then serves it as the environment); other hosts unchanged.
    pub(crate) fn canonical_host(&self, host: String) -> String {
        if !host.ends_with("-alb.") && !host.contains("-alb.") {
            return host;
        }
        let regions = self.lock();
        for (region, r) in regions.iter() {
            if let Some(e) = r.envs.iter().find(|e| {
                e.status != EnvStatus::Terminated
                    && load_balanced(&e.options)
                    && lb_host(e, region) == host
            }) {
                return e.cname.clone();
            }
        }
        host
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(ns: &str, name: &str, value: &str) -> OptionSetting {
        OptionSetting {
            namespace: ns.into(),
            name: name.into(),
            value: value.into(),
            resource: None,
        }
    }

    const L443: &str = "aws:elbv2:listener:443";

    #[test]
    fn https_listener_needs_a_certificate_and_types_are_fixed() {
        let single = vec![o(ENV_NS, "EnvironmentType", "SingleInstance")];
        let lb = vec![
            o(ENV_NS, "EnvironmentType", "LoadBalanced"),
            o(ENV_NS, "LoadBalancerType", "application"),
            o(L443, "Protocol", "HTTPS"),
        ];
        let e = check(&single, &lb).unwrap_err();
        assert_eq!(e.code, "ConfigurationValidationException");
        assert!(e.message.contains("SSLCertificateArns"), "{}", e.message);
        let mut with_cert = lb.clone();
        with_cert.push(o(
            L443,
            "SSLCertificateArns",
            "arn:aws:acm:us-east-1:1:certificate/x",
        ));
        assert!(check(&single, &with_cert).is_ok());
        assert_eq!(
            certificates(&with_cert),
            vec!["arn:aws:acm:us-east-1:1:certificate/x".to_string()]
        );
        assert!(certificates(&single).is_empty());
        // Once fixed, the type stays.
        let classic = vec![
            o(ENV_NS, "EnvironmentType", "SingleInstance"),
            o(ENV_NS, "LoadBalancerType", "classic"),
        ];
        let e = check(&classic, &with_cert).unwrap_err();
        assert!(e.message.contains("cannot be changed"), "{}", e.message);
        // A load-balanced environment without the option has an ALB.
        let implicit = vec![o(ENV_NS, "EnvironmentType", "LoadBalanced")];
        let mut to_nlb = implicit.clone();
        to_nlb.push(o(ENV_NS, "LoadBalancerType", "network"));
        assert!(check(&implicit, &to_nlb).is_err());
        // At creation any type goes.
        assert!(check(&[], &to_nlb).is_ok());
    }

    #[test]
    fn bad_values_are_refused() {
        let cases = [
            (vec![o(ENV_NS, "EnvironmentType", "Big")], "EnvironmentType"),
            (
                vec![o(ENV_NS, "LoadBalancerType", "gateway")],
                "LoadBalancerType",
            ),
            (vec![o(ASG_NS, "MinSize", "0")], "MinSize"),
            (
                vec![o(ASG_NS, "MinSize", "3"), o(ASG_NS, "MaxSize", "2")],
                "less than or equal to MaxSize",
            ),
            (
                vec![o(PROCESS_NS, "HealthCheckPath", "healthz")],
                "must start with '/'",
            ),
            (vec![o(L443, "Protocol", "TCP")], "HTTP or HTTPS"),
        ];
        for (opts, why) in cases {
            let e = check(&[], &opts).unwrap_err();
            assert_eq!(e.code, "ConfigurationValidationException");
            assert!(e.message.contains(why), "{why}: {}", e.message);
        }
    }
}
