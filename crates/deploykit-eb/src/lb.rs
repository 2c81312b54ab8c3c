//! The seed's upgrade path (rollout step 5, section 6): a single-instance environment becomes
//! load-balanced (an Application Load Balancer with an HTTPS listener carrying the domain's ACM
//! certificate, health checks on the app's health path, an Auto Scaling group of
//! `min..=max` instances) and back, as an in-place `UpdateEnvironment`. Pure: unit-tested as data.
//!
//! What Elastic Beanstalk does, and so what the planner plans:
//! - `EnvironmentType` changes in place both ways (`SingleInstance` <-> `LoadBalanced`): EB adds
//!   or removes the load balancer, target group and listeners in the environment's stack; the
//!   instances keep serving.
//! - `LoadBalancerType` is fixed once it is in the environment's configuration ("You can choose
//!   the type of load balancer ... only during environment creation"; a change is refused with
//!   `ConfigurationValidationException: LoadBalancer type option cannot be changed.`). So every
//!   environment deploykit creates records `LoadBalancerType=application`, single instance
//!   included, and an environment whose configuration names another type is refused here,
//!   before any call, with the fix (recreate it).
//! - An HTTPS listener needs `SSLCertificateArns`; a single-instance environment cannot carry a
//!   listener's certificate, so going back removes the `aws:elbv2:listener:443` options.
//! - HTTP -> HTTPS: EB's option settings cannot express a redirect (`aws:elbv2:listenerrule`
//!   only forwards to a process). The redirect is the app's nginx rule on the instances
//!   (`.platform/nginx/conf.d/elasticbeanstalk/https-redirect.conf`: `X-Forwarded-Proto: http`
//!   answers 301 to `https://`), which is inert on a single instance; the ALB's own health
//!   checks carry no `X-Forwarded-Proto` and reach the app.

use std::collections::BTreeMap;

use crate::error::EbError;
use crate::model::*;
use crate::plan::Setting;

/// The load balancer type deploykit creates and keeps.
pub const LB_TYPE: &str = "application";

/// `EnvironmentType` for the target.
pub fn environment_type(t: &EbTarget) -> &'static str {
    if t.load_balancer.is_some() {
        "LoadBalanced"
    } else {
        "SingleInstance"
    }
}

/// The settings of the environment's type: always `EnvironmentType`; at creation
/// `LoadBalancerType` (fixed from then on); when load-balanced the listener, the health check
/// and the Auto Scaling bounds.
pub fn type_settings(t: &EbTarget, creating: bool) -> Vec<Setting> {
    let mut s = vec![Setting::new(
        NS_ENVIRONMENT,
        "EnvironmentType",
        environment_type(t),
    )];
    if creating || t.load_balancer.is_some() {
        s.push(Setting::new(NS_ENVIRONMENT, "LoadBalancerType", LB_TYPE));
    }
    if let Some(lb) = &t.load_balancer {
        s.push(Setting::new(NS_LISTENER_443, "ListenerEnabled", "true"));
        s.push(Setting::new(NS_LISTENER_443, "Protocol", "HTTPS"));
        if let Some(arn) = &lb.certificate_arn {
            s.push(Setting::new(NS_LISTENER_443, "SSLCertificateArns", arn));
        }
        s.push(Setting::new(NS_LISTENER_443, "SSLPolicy", &lb.ssl_policy));
        s.push(Setting::new(
            NS_PROCESS_DEFAULT,
            "HealthCheckPath",
            &lb.health_check_path,
        ));
        s.push(Setting::new(NS_PROCESS_DEFAULT, "MatcherHTTPCode", "200"));
        s.push(Setting::new(
            NS_ASG,
            "MinSize",
            lb.min_instances.to_string(),
        ));
        s.push(Setting::new(
            NS_ASG,
            "MaxSize",
            lb.max_instances.to_string(),
        ));
    }
    s
}

/// The options to remove from a running environment: going back to a single instance, the
/// HTTPS listener's (a single instance cannot carry a listener certificate).
pub fn removals(current: &BTreeMap<(String, String), String>, t: &EbTarget) -> Vec<Setting> {
    if t.load_balancer.is_some() {
        return Vec::new();
    }
    current
        .keys()
        .filter(|(ns, _)| ns == NS_LISTENER_443)
        .map(|(ns, name)| Setting::new(ns, name, ""))
        .collect()
}

/// Refusals before any call: a load-balanced target without a certificate, bad bounds, and a
/// running environment whose configuration fixed another load balancer type.
pub fn check(current: Option<&EnvInfo>, t: &EbTarget) -> Result<(), EbError> {
    let Some(lb) = &t.load_balancer else {
        return Ok(());
    };
    if lb.certificate_arn.is_none() {
        return Err(EbError::NoCertificate {
            environment: t.environment.clone(),
            domain: lb.domain.clone(),
        });
    }
    if lb.min_instances == 0 || lb.min_instances > lb.max_instances {
        return Err(EbError::LoadBalancerConfig {
            environment: t.environment.clone(),
            problem: format!(
                "min_instances {} and max_instances {} must satisfy 1 <= min <= max",
                lb.min_instances, lb.max_instances
            ),
        });
    }
    if let Some(e) = current {
        let key = (NS_ENVIRONMENT.to_string(), "LoadBalancerType".to_string());
        if let Some(ty) = e.settings.get(&key)
            && !ty.eq_ignore_ascii_case(LB_TYPE)
        {
            return Err(EbError::LoadBalancerTypeFixed {
                environment: t.environment.clone(),
                current: ty.clone(),
            });
        }
    }
    Ok(())
}

/// How to undo an update's settings: the previous values of what it changes or removes, and
/// the options it adds (removed again).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SettingsUndo {
    pub restore: Vec<Setting>,
    pub remove: Vec<Setting>,
}

impl SettingsUndo {
    pub fn is_empty(&self) -> bool {
        self.restore.is_empty() && self.remove.is_empty()
    }
}

/// The undo of sending `changed` and removing `removed` on an environment whose settings are
/// `current`.
pub fn undo(
    current: &BTreeMap<(String, String), String>,
    changed: &[Setting],
    removed: &[Setting],
) -> SettingsUndo {
    let mut out = SettingsUndo::default();
    for s in changed.iter().chain(removed) {
        match current.get(&(s.namespace.clone(), s.name.clone())) {
            Some(v) => out.restore.push(Setting::new(&s.namespace, &s.name, v)),
            None => out.remove.push(Setting::new(&s.namespace, &s.name, "")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{EnvStep, desired_settings, plan};

    const CERT: &str = "arn:aws:acm:us-east-1:123456789012:certificate/abc";

    fn target(lb: bool) -> EbTarget {
        let mut t = EbTarget::new("us-east-1", "app", "app-dev");
        t.service_role = Some("svc".into());
        t.instance_profile = Some("ec2".into());
        if lb {
            t.load_balancer = Some(LoadBalancer {
                certificate_arn: Some(CERT.into()),
                domain: Some("app.example.com".into()),
                ssl_policy: LoadBalancer::DEFAULT_SSL_POLICY.into(),
                min_instances: 2,
                max_instances: 4,
                health_check_path: "/healthz".into(),
            });
        }
        t
    }

    fn bundle() -> BundleRef {
        BundleRef {
            path: "b.zip".into(),
            sha256: "ab".repeat(32),
            label: "app-1".into(),
            git_sha: None,
            git_dirty: false,
        }
    }

    /// An environment that runs `app-1` with exactly what `t` asks for at creation.
    fn state_of(t: &EbTarget) -> CurrentState {
        CurrentState {
            application_exists: true,
            lifecycle_max_count: Some(50),
            versions: vec![VersionInfo {
                label: "app-1".into(),
                description: None,
                created: None,
                status: None,
                bucket: None,
                key: None,
            }],
            environment: Some(EnvInfo {
                name: t.environment.clone(),
                id: Some("e-1".into()),
                status: "Ready".into(),
                health: "Green".into(),
                health_status: Some("Ok".into()),
                version_label: Some("app-1".into()),
                cname: Some("app-dev.us-east-1.elasticbeanstalk.com".into()),
                endpoint_url: None,
                solution_stack: None,
                settings: desired_settings(t, true)
                    .into_iter()
                    .map(|s| ((s.namespace, s.name), s.value))
                    .collect(),
            }),
            solution_stacks: vec![],
        }
    }

    fn key(s: &Setting) -> (&str, &str, &str) {
        (&s.namespace, &s.name, &s.value)
    }

    #[test]
    fn single_to_load_balanced_is_one_planned_settings_update() {
        let single = target(false);
        let cur = state_of(&single);
        let p = plan(&cur, &target(true), &bundle()).unwrap();
        let EnvStep::Update {
            version_label,
            settings,
            remove,
        } = &p.environment_step
        else {
            panic!("{p}")
        };
        assert_eq!(version_label, &None);
        assert!(remove.is_empty());
        let got: Vec<_> = settings.iter().map(key).collect();
        assert_eq!(
            got,
            vec![
                (NS_ENVIRONMENT, "EnvironmentType", "LoadBalanced"),
                (NS_LISTENER_443, "ListenerEnabled", "true"),
                (NS_LISTENER_443, "Protocol", "HTTPS"),
                (NS_LISTENER_443, "SSLCertificateArns", CERT),
                (
                    NS_LISTENER_443,
                    "SSLPolicy",
                    LoadBalancer::DEFAULT_SSL_POLICY
                ),
                (NS_PROCESS_DEFAULT, "HealthCheckPath", "/healthz"),
                (NS_PROCESS_DEFAULT, "MatcherHTTPCode", "200"),
                (NS_ASG, "MinSize", "2"),
                (NS_ASG, "MaxSize", "4"),
            ],
            "{p}"
        );
        // The undo puts the single instance back and removes what was added.
        assert_eq!(
            p.undo.restore,
            vec![Setting::new(
                NS_ENVIRONMENT,
                "EnvironmentType",
                "SingleInstance"
            )]
        );
        assert_eq!(p.undo.remove.len(), 8, "{:?}", p.undo);
        let text = p.to_string();
        assert!(text.contains("EnvironmentType = LoadBalanced"), "{text}");
        assert!(text.contains("on failure: restore"), "{text}");
    }

    #[test]
    fn load_balanced_again_is_unchanged_and_back_to_single_removes_the_listener() {
        let lb = target(true);
        let cur = state_of(&lb);
        assert!(plan(&cur, &lb, &bundle()).unwrap().is_noop());
        let p = plan(&cur, &target(false), &bundle()).unwrap();
        let EnvStep::Update {
            settings, remove, ..
        } = &p.environment_step
        else {
            panic!("{p}")
        };
        assert_eq!(
            settings.iter().map(key).collect::<Vec<_>>(),
            vec![(NS_ENVIRONMENT, "EnvironmentType", "SingleInstance")]
        );
        let removed: Vec<&str> = remove.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            removed,
            vec![
                "ListenerEnabled",
                "Protocol",
                "SSLCertificateArns",
                "SSLPolicy"
            ]
        );
        assert!(
            p.undo
                .restore
                .iter()
                .any(|s| s.name == "SSLCertificateArns")
        );
        // And once single again, a second run is unchanged.
        let single = target(false);
        assert!(
            plan(&state_of(&single), &single, &bundle())
                .unwrap()
                .is_noop()
        );
    }

    #[test]
    fn refusals_come_before_any_call() {
        let mut no_cert = target(true);
        if let Some(lb) = no_cert.load_balancer.as_mut() {
            lb.certificate_arn = None;
        }
        let err = plan(&state_of(&target(false)), &no_cert, &bundle()).unwrap_err();
        assert!(matches!(err, EbError::NoCertificate { .. }), "{err}");
        assert!(err.is_config(), "{err}");
        assert!(err.to_string().contains("app.example.com"), "{err}");

        let mut bounds = target(true);
        if let Some(lb) = bounds.load_balancer.as_mut() {
            lb.min_instances = 5;
        }
        let err = plan(&state_of(&target(false)), &bounds, &bundle()).unwrap_err();
        assert!(err.to_string().contains("min_instances 5"), "{err}");

        // A classic load balancer fixed at creation cannot become an ALB.
        let mut cur = state_of(&target(false));
        if let Some(e) = cur.environment.as_mut() {
            e.settings.insert(
                (NS_ENVIRONMENT.into(), "LoadBalancerType".into()),
                "classic".into(),
            );
        }
        let err = plan(&cur, &target(true), &bundle()).unwrap_err();
        assert!(
            matches!(&err, EbError::LoadBalancerTypeFixed { current, .. } if current == "classic"),
            "{err}"
        );
        // Staying single-instance is not affected by the fixed type.
        assert!(plan(&cur, &target(false), &bundle()).is_ok());
    }

    #[test]
    fn creation_fixes_the_alb_type_even_for_a_single_instance() {
        let cur = CurrentState {
            solution_stacks: vec!["64bit Amazon Linux 2023 v4.3.1 running Python 3.13".into()],
            ..Default::default()
        };
        for lb in [false, true] {
            let p = plan(&cur, &target(lb), &bundle()).unwrap();
            let EnvStep::Create { settings, .. } = &p.environment_step else {
                panic!("{p}")
            };
            let has = |n: &str, v: &str| {
                settings
                    .iter()
                    .any(|s| s.namespace == NS_ENVIRONMENT && s.name == n && s.value == v)
            };
            assert!(has("LoadBalancerType", "application"), "{p}");
            assert!(
                has(
                    "EnvironmentType",
                    if lb { "LoadBalanced" } else { "SingleInstance" }
                ),
                "{p}"
            );
            assert_eq!(
                settings
                    .iter()
                    .filter(|s| s.name == "LoadBalancerType")
                    .count(),
                1
            );
        }
    }

    #[test]
    fn undo_restores_previous_values_and_removes_new_ones() {
        let cur: BTreeMap<(String, String), String> = [
            ((NS_ENV.to_string(), "A".to_string()), "1".to_string()),
            (
                (NS_LISTENER_443.to_string(), "SSLPolicy".to_string()),
                "p".to_string(),
            ),
        ]
        .into();
        let u = undo(
            &cur,
            &[
                Setting::new(NS_ENV, "A", "2"),
                Setting::new(NS_ENV, "B", "3"),
            ],
            &[Setting::new(NS_LISTENER_443, "SSLPolicy", "")],
        );
        assert_eq!(
            u.restore,
            vec![
                Setting::new(NS_ENV, "A", "1"),
                Setting::new(NS_LISTENER_443, "SSLPolicy", "p")
            ]
        );
        assert_eq!(u.remove, vec![Setting::new(NS_ENV, "B", "")]);
    }
}
