//! XML renderings of Elastic Beanstalk shapes, in the element names the SDKs parse.

use time::OffsetDateTime;

use super::platforms::{self, Platform};
use super::state::{App, Env, Event, Lifecycle, OptionSetting, Rule, Version};
use crate::xml::Xml;

/// `2024-01-02T03:04:05.678Z`
pub(crate) fn ts(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

pub(crate) fn app_arn(region: &str, account: &str, app: &str) -> String {
    format!("arn:aws:elasticbeanstalk:{region}:{account}:application/{app}")
}

pub(crate) fn version_arn(region: &str, account: &str, app: &str, label: &str) -> String {
    format!("arn:aws:elasticbeanstalk:{region}:{account}:applicationversion/{app}/{label}")
}

fn rule(x: &mut Xml, tag: &str, value_tag: &str, r: &Rule) {
    x.open(tag)
        .leaf("Enabled", r.enabled.to_string())
        .leaf(value_tag, r.value.to_string())
        .leaf("DeleteSourceFromS3", r.delete_source.to_string())
        .close(tag);
}

pub(crate) fn lifecycle(x: &mut Xml, l: &Lifecycle) {
    x.open("ResourceLifecycleConfig")
        .opt("ServiceRole", l.service_role.as_deref())
        .open("VersionLifecycleConfig");
    rule(x, "MaxCountRule", "MaxCount", &l.max_count);
    rule(x, "MaxAgeRule", "MaxAgeInDays", &l.max_age);
    x.close("VersionLifecycleConfig")
        .close("ResourceLifecycleConfig");
}

pub(crate) fn app(x: &mut Xml, tag: &str, a: &App, region: &str, account: &str) {
    x.open(tag)
        .leaf("ApplicationArn", app_arn(region, account, &a.name))
        .leaf("ApplicationName", &a.name)
        .opt("Description", a.description.as_deref())
        .leaf("DateCreated", ts(a.created))
        .leaf("DateUpdated", ts(a.updated))
        .members(
            "Versions",
            a.versions.iter().rev().map(|v| v.label.as_str()),
        )
        .members("ConfigurationTemplates", std::iter::empty::<&str>());
    lifecycle(x, &a.lifecycle);
    x.close(tag);
}

pub(crate) fn version(x: &mut Xml, tag: &str, app: &str, v: &Version, region: &str, account: &str) {
    x.open(tag)
        .leaf(
            "ApplicationVersionArn",
            version_arn(region, account, app, &v.label),
        )
        .leaf("ApplicationName", app)
        .opt("Description", v.description.as_deref())
        .leaf("VersionLabel", &v.label)
        .open("SourceBundle")
        .leaf("S3Bucket", &v.bucket)
        .leaf("S3Key", &v.key)
        .close("SourceBundle")
        .leaf("DateCreated", ts(v.created))
        .leaf("DateUpdated", ts(v.created))
        .leaf("Status", v.status)
        .close(tag);
}

/// The `EnvironmentDescription` fields (without a wrapping element, for the operations that
/// return them at the top level of their result).
pub(crate) fn env_fields(x: &mut Xml, e: &Env, region: &str, account: &str, endpoint: &str) {
    x.leaf("EnvironmentName", &e.name)
        .leaf("EnvironmentId", &e.id)
        .leaf("ApplicationName", &e.app)
        .opt("VersionLabel", e.version.as_deref())
        .leaf("SolutionStackName", e.platform.solution_stack())
        .leaf("PlatformArn", e.platform.arn(region))
        .opt("Description", e.description.as_deref())
        .leaf(
            "EndpointURL",
            if super::lb::load_balanced(&e.options) {
                super::lb::lb_host(e, region)
            } else {
                endpoint.to_string()
            },
        )
        .leaf("CNAME", &e.cname)
        .leaf("DateCreated", ts(e.created))
        .leaf("DateUpdated", ts(e.updated))
        .leaf("Status", e.status.as_str())
        .leaf("AbortableOperationInProgress", e.abortable().to_string())
        .leaf("Health", e.color())
        .leaf("HealthStatus", e.health.as_str())
        .open("Resources")
        .close("Resources");
    tier(x, e);
    x.members("EnvironmentLinks", std::iter::empty::<&str>())
        .leaf("EnvironmentArn", e.arn(region, account));
}

/// `<Tier><Name>WebServer</Name><Type>Standard</Type><Version>1.0</Version></Tier>`
pub(crate) fn tier(x: &mut Xml, e: &Env) {
    x.open("Tier")
        .leaf("Name", e.tier.0)
        .leaf("Type", e.tier.1)
        .leaf("Version", "1.0")
        .close("Tier");
}

pub(crate) fn env(x: &mut Xml, tag: &str, e: &Env, region: &str, account: &str, endpoint: &str) {
    x.open(tag);
    env_fields(x, e, region, account, endpoint);
    x.close(tag);
}

pub(crate) fn event(x: &mut Xml, tag: &str, e: &Event) {
    x.open(tag)
        .leaf("EventDate", ts(e.date))
        .leaf("Message", &e.message)
        .leaf("ApplicationName", &e.application)
        .opt("VersionLabel", e.version.as_deref())
        .opt("EnvironmentName", e.environment.as_deref())
        .leaf("RequestId", &e.request_id)
        .leaf("Severity", e.severity.as_str())
        .close(tag);
}

pub(crate) fn option_settings(x: &mut Xml, settings: &[OptionSetting]) {
    x.open("OptionSettings");
    for s in settings {
        x.open("member")
            .opt("ResourceName", s.resource.as_deref())
            .leaf("Namespace", &s.namespace)
            .leaf("OptionName", &s.name)
            .leaf("Value", &s.value)
            .close("member");
    }
    x.close("OptionSettings");
}

pub(crate) fn platform_summary(x: &mut Xml, p: &Platform, region: &str) {
    x.open("member")
        .leaf("PlatformArn", p.arn(region))
        .leaf("PlatformOwner", "AWSElasticBeanstalk")
        .leaf("PlatformStatus", "Ready")
        .leaf("PlatformCategory", "Python")
        .leaf("OperatingSystemName", "Amazon Linux")
        .leaf("OperatingSystemVersion", "2023")
        .members("SupportedTierList", platforms::SUPPORTED_TIERS)
        .members("SupportedAddonList", platforms::SUPPORTED_ADDONS)
        .opt("PlatformLifecycleState", p.lifecycle_state())
        .leaf("PlatformVersion", p.version)
        .leaf("PlatformBranchName", p.branch())
        .leaf("PlatformBranchLifecycleState", "Supported")
        .close("member");
}

pub(crate) fn platform_description(
    x: &mut Xml,
    p: &Platform,
    region: &str,
    created: OffsetDateTime,
) {
    x.open("PlatformDescription")
        .leaf("PlatformArn", p.arn(region))
        .leaf("PlatformOwner", "AWSElasticBeanstalk")
        .leaf("PlatformName", p.branch())
        .leaf("PlatformVersion", p.version)
        .leaf("SolutionStackName", p.solution_stack())
        .leaf("PlatformStatus", "Ready")
        .leaf("DateCreated", ts(created))
        .leaf("DateUpdated", ts(created))
        .leaf("PlatformCategory", "Python")
        .leaf(
            "Description",
            format!(
                "Python {} running on 64bit Amazon Linux 2023, platform version {}",
                p.python, p.version
            ),
        )
        .leaf("Maintainer", "aws-elasticbeanstalk-platforms@amazon.com")
        .leaf("OperatingSystemName", "Amazon Linux")
        .leaf("OperatingSystemVersion", "2023")
        .open("ProgrammingLanguages")
        .open("member")
        .leaf("Name", "Python")
        .leaf("Version", p.python)
        .close("member")
        .close("ProgrammingLanguages")
        .open("Frameworks")
        .close("Frameworks")
        .open("CustomAmiList")
        .close("CustomAmiList")
        .members("SupportedTierList", platforms::SUPPORTED_TIERS)
        .members("SupportedAddonList", platforms::SUPPORTED_ADDONS)
        .opt("PlatformLifecycleState", p.lifecycle_state())
        .leaf("PlatformBranchName", p.branch())
        .leaf("PlatformBranchLifecycleState", "Supported")
        .close("PlatformDescription");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_millis_and_z() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap();
        assert_eq!(ts(t), "2023-11-14T22:13:20.123Z");
    }
}
