//! Checks and parses request parameters: names, option settings, lifecycle rules, quotas.

use crate::eb::params::{ApiError, ApiResult, Params};
use crate::eb::platforms::Platform;
use crate::eb::state::{Lifecycle, OptionSetting, Rule};

/// Namespace of environment properties (environment variables).
pub(super) const ENV_NS: &str = "aws:elasticbeanstalk:application:environment";
pub(super) const MAX_ENV_KEY: usize = 128;
pub(super) const MAX_ENV_VALUE: usize = 256;
pub(super) const MAX_ENV_TOTAL: usize = 4096;

/// The refusal of a source bundle over the size limit (EB documents "Not exceed 500 MB"; its
/// exact API error is not documented: InvalidParameterValue, naming the size and the limit).
pub(in crate::eb) fn too_large(bucket: &str, key: &str, bytes: u64, max: u64) -> ApiError {
    ApiError::invalid(format!(
        "Source bundle s3://{bucket}/{key} is {bytes} bytes; Elastic Beanstalk source bundles must not exceed {max} bytes ({} MB). Make the bundle smaller.",
        max / (1024 * 1024)
    ))
}

pub(super) fn validate_app_name(name: &str) -> ApiResult<()> {
    if name.chars().count() > 100 {
        return Err(ApiError::validation(
            name,
            "applicationName",
            "Member must have length less than or equal to 100",
        ));
    }
    Ok(())
}

pub(super) fn validate_label(label: &str) -> ApiResult<()> {
    if label.chars().count() > 100 {
        return Err(ApiError::validation(
            label,
            "versionLabel",
            "Member must have length less than or equal to 100",
        ));
    }
    if label.contains('/') {
        return Err(ApiError::invalid(format!(
            "Invalid version label '{label}': it must not contain '/'."
        )));
    }
    Ok(())
}

/// 4-40 characters, letters, digits and hyphens, not starting or ending with a hyphen.
pub(crate) fn validate_env_name(name: &str) -> ApiResult<()> {
    let len = name.chars().count();
    if len < 4 {
        return Err(ApiError::invalid(format!(
            "Value {name} at 'EnvironmentName' failed to satisfy constraint: Member must have length greater than or equal to 4"
        )));
    }
    if len > 40 {
        return Err(ApiError::invalid(format!(
            "Value {name} at 'EnvironmentName' failed to satisfy constraint: Member must have length less than or equal to 40"
        )));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        || name.starts_with('-')
        || name.ends_with('-')
    {
        return Err(ApiError::invalid(format!(
            "Value {name} at 'EnvironmentName' failed to satisfy constraint: Member must contain only letters, digits, and the dash character and may not start or end with a dash"
        )));
    }
    Ok(())
}

/// CNAME prefixes: 4-63 characters, letters, digits and hyphens, no leading/trailing hyphen.
pub(super) fn validate_cname_prefix(prefix: &str) -> ApiResult<()> {
    let len = prefix.len();
    if !(4..=63).contains(&len)
        || !prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        || prefix.starts_with('-')
        || prefix.ends_with('-')
    {
        return Err(ApiError::invalid(format!(
            "Value {prefix} at 'CNAMEPrefix' failed to satisfy constraint: Member must be 4 to 63 letters, digits or dashes and may not start or end with a dash"
        )));
    }
    Ok(())
}

pub(super) fn cname(prefix: &str, region: &str) -> String {
    format!("{prefix}.{region}.elasticbeanstalk.localhost").to_ascii_lowercase()
}

pub(super) fn env_id() -> String {
    let u = uuid::Uuid::new_v4().simple().to_string();
    format!("e-{}", &u[..10])
}

pub(super) fn parse_rule(
    p: &Params,
    prefix: &str,
    value_tag: &str,
    default: Rule,
) -> ApiResult<Rule> {
    if !p.has_prefix(prefix) {
        return Ok(default);
    }
    let enabled = p
        .bool(&format!("{prefix}.Enabled"))?
        .ok_or_else(|| ApiError::missing(&format!("{prefix}.Enabled")))?;
    let value = p
        .int(&format!("{prefix}.{value_tag}"))?
        .unwrap_or(default.value);
    if value < 1 {
        return Err(ApiError::invalid(format!(
            "{prefix}.{value_tag} must be at least 1, got {value}."
        )));
    }
    let delete_source = p
        .bool(&format!("{prefix}.DeleteSourceFromS3"))?
        .unwrap_or(false);
    Ok(Rule {
        enabled,
        value,
        delete_source,
    })
}

pub(super) fn parse_lifecycle(p: &Params) -> ApiResult<Option<Lifecycle>> {
    const PREFIX: &str = "ResourceLifecycleConfig";
    if !p.has_prefix(PREFIX) {
        return Ok(None);
    }
    let d = Lifecycle::default();
    Ok(Some(Lifecycle {
        service_role: p
            .get("ResourceLifecycleConfig.ServiceRole")
            .map(str::to_string),
        max_count: parse_rule(
            p,
            "ResourceLifecycleConfig.VersionLifecycleConfig.MaxCountRule",
            "MaxCount",
            d.max_count,
        )?,
        max_age: parse_rule(
            p,
            "ResourceLifecycleConfig.VersionLifecycleConfig.MaxAgeRule",
            "MaxAgeInDays",
            d.max_age,
        )?,
    }))
}

pub(super) fn parse_options(
    p: &Params,
    prefix: &str,
    need_value: bool,
) -> ApiResult<Vec<OptionSetting>> {
    p.structs(prefix)
        .into_iter()
        .map(|m| {
            let (Some(ns), Some(name)) = (m.get("Namespace"), m.get("OptionName")) else {
                return Err(ApiError::invalid(format!(
                    "Each {prefix} entry needs a Namespace and an OptionName."
                )));
            };
            Ok(OptionSetting {
                namespace: ns.clone(),
                name: name.clone(),
                value: if need_value {
                    m.get("Value").cloned().unwrap_or_default()
                } else {
                    String::new()
                },
                resource: m.get("ResourceName").cloned(),
            })
        })
        .collect()
}

pub(super) fn merge_options(
    current: &mut Vec<OptionSetting>,
    set: Vec<OptionSetting>,
    remove: &[OptionSetting],
) {
    current.retain(|o| {
        !remove
            .iter()
            .any(|r| r.namespace == o.namespace && r.name == o.name && r.resource == o.resource)
    });
    for s in set {
        match current
            .iter_mut()
            .find(|o| o.namespace == s.namespace && o.name == s.name && o.resource == s.resource)
        {
            Some(o) => o.value = s.value,
            None => current.push(s),
        }
    }
}

/// The quotas on environment properties and the single-instance/ACM rule.
pub(super) fn validate_options(options: &[OptionSetting]) -> ApiResult<()> {
    let mut total = 0usize;
    for o in options.iter().filter(|o| o.namespace == ENV_NS) {
        if o.name.len() > MAX_ENV_KEY {
            return Err(ApiError::invalid(format!(
                "Environment property name {} is longer than {MAX_ENV_KEY} characters.",
                o.name
            )));
        }
        if o.value.len() > MAX_ENV_VALUE {
            return Err(ApiError::invalid(format!(
                "Environment property {} has a value longer than {MAX_ENV_VALUE} characters.",
                o.name
            )));
        }
        total += o.name.len() + o.value.len() + 1;
    }
    if total > MAX_ENV_TOTAL {
        return Err(ApiError::invalid(format!(
            "The combined size of all environment properties ({total} bytes) exceeds the limit of {MAX_ENV_TOTAL} bytes."
        )));
    }
    let single = options.iter().any(|o| {
        o.namespace == "aws:elasticbeanstalk:environment"
            && o.name == "EnvironmentType"
            && o.value == "SingleInstance"
    });
    if single
        && let Some(o) = options.iter().find(|o| {
            (o.namespace.starts_with("aws:elbv2:listener")
                || o.namespace.starts_with("aws:elb:listener"))
                && matches!(o.name.as_str(), "SSLCertificateArns" | "SSLCertificateId")
        })
    {
        return Err(ApiError::combination(format!(
            "A single-instance environment has no load balancer and cannot use an ACM certificate ({}:{}).",
            o.namespace, o.name
        )));
    }
    Ok(())
}

pub(super) fn default_options(p: &Platform) -> Vec<OptionSetting> {
    let o = |ns: &str, name: &str, value: &str| OptionSetting {
        namespace: ns.to_string(),
        name: name.to_string(),
        value: value.to_string(),
        resource: None,
    };
    vec![
        o(
            "aws:elasticbeanstalk:environment",
            "EnvironmentType",
            "LoadBalanced",
        ),
        o(
            "aws:elasticbeanstalk:healthreporting:system",
            "SystemType",
            "enhanced",
        ),
        o(
            "aws:elasticbeanstalk:container:python",
            "WSGIPath",
            "application",
        ),
        o("aws:ec2:instances", "InstanceTypes", "t3.micro, t3.small"),
        o(
            "aws:elasticbeanstalk:command",
            "DeploymentPolicy",
            "AllAtOnce",
        ),
        o(
            "aws:elasticbeanstalk:environment:proxy",
            "ProxyServer",
            if p.python.is_empty() { "none" } else { "nginx" },
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_name_rules() {
        let ok = ["abcd", "budgetsync-dev", "A1-b2-C3", &"x".repeat(40)];
        for n in ok {
            assert!(validate_env_name(n).is_ok(), "{n}");
        }
        let bad = [
            ("abc", "greater than or equal to 4"),
            (&"x".repeat(41) as &str, "less than or equal to 40"),
            ("-abcd", "may not start or end with a dash"),
            ("abcd-", "may not start or end with a dash"),
            ("ab_cd", "only letters, digits"),
            ("ab cd", "only letters, digits"),
        ];
        for (n, why) in bad {
            let e = validate_env_name(n).unwrap_err();
            assert_eq!(e.code, "InvalidParameterValue");
            assert!(e.message.contains(why), "{n}: {}", e.message);
        }
    }

    #[test]
    fn env_property_quotas() {
        let o = |name: &str, value: &str| OptionSetting {
            namespace: ENV_NS.into(),
            name: name.into(),
            value: value.into(),
            resource: None,
        };
        assert!(validate_options(&[o("A", "b")]).is_ok());
        let cases = [
            (vec![o(&"K".repeat(129), "v")], "longer than 128"),
            (vec![o("K", &"v".repeat(257))], "longer than 256"),
            (
                (0..20)
                    .map(|i| o(&format!("K{i}"), &"v".repeat(250)))
                    .collect::<Vec<_>>(),
                "exceeds the limit of 4096",
            ),
        ];
        for (opts, why) in cases {
            let e = validate_options(&opts).unwrap_err();
            assert!(e.message.contains(why), "{}", e.message);
        }
        let single_with_cert = vec![
            OptionSetting {
                namespace: "aws:elasticbeanstalk:environment".into(),
                name: "EnvironmentType".into(),
                value: "SingleInstance".into(),
                resource: None,
            },
            OptionSetting {
                namespace: "aws:elbv2:listener:443".into(),
                name: "SSLCertificateArns".into(),
                value: "arn:aws:acm:us-east-1:000000000000:certificate/x".into(),
                resource: None,
            },
        ];
        assert_eq!(
            validate_options(&single_with_cert).unwrap_err().code,
            "InvalidParameterCombination"
        );
    }

    #[test]
    fn options_merge_and_remove() {
        let o = |ns: &str, name: &str, value: &str| OptionSetting {
            namespace: ns.into(),
            name: name.into(),
            value: value.into(),
            resource: None,
        };
        let mut cur = vec![o(ENV_NS, "A", "1"), o(ENV_NS, "B", "2")];
        merge_options(
            &mut cur,
            vec![o(ENV_NS, "A", "9"), o(ENV_NS, "C", "3")],
            &[o(ENV_NS, "B", "")],
        );
        assert_eq!(cur, vec![o(ENV_NS, "A", "9"), o(ENV_NS, "C", "3")]);
    }
}
