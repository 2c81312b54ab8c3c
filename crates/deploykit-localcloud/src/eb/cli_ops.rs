//! Actions the real EB CLI (`awsebcli`) calls beyond the ones our own client needs:
//! `ListPlatformBranches`, `DescribeInstancesHealth`, `DescribeEnvironmentResources`,
//! `DescribeEnvironmentManagedActions` and `DescribeEnvironmentManagedActionHistory`.
//!
//! Shapes follow the AWS Elastic Beanstalk API reference (query protocol, XML answers).

use std::collections::BTreeMap;

use super::ops::{find_env, page};
use super::params::{ApiError, ApiResult};
use super::platforms;
use super::render;
use super::state::{EnvStatus, HealthStatus};
use super::{Call, Eb};
use crate::xml::Xml;

/// One platform branch (`Python 3.13 running on 64bit Amazon Linux 2023`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Branch {
    name: String,
    order: usize,
}

fn branches() -> Vec<Branch> {
    let mut out: Vec<Branch> = Vec::new();
    for p in platforms::all() {
        let name = p.branch();
        if !out.iter().any(|b| b.name == name) {
            out.push(Branch {
                name,
                order: out.len() + 1,
            });
        }
    }
    out
}

/// `SearchFilter` of `ListPlatformBranches`: attribute, operator, values.
fn branch_matches(b: &Branch, attr: &str, op: &str, values: &[String]) -> ApiResult<bool> {
    let have: Vec<String> = match attr {
        "PlatformName" => vec!["Python".to_string()],
        "BranchName" => vec![b.name.clone()],
        "LifecycleState" => vec!["Supported".to_string()],
        "TierType" => vec!["WebServer".to_string(), "Worker".to_string()],
        other => {
            return Err(ApiError::invalid(format!(
                "Invalid filter attribute: {other}. Valid attributes: [PlatformName, BranchName, LifecycleState, TierType]"
            )));
        }
    };
    if values.is_empty() {
        return Err(ApiError::invalid(format!(
            "Filter for attribute {attr} must have at least one value."
        )));
    }
    let any = |f: &dyn Fn(&str, &str) -> bool| have.iter().any(|h| values.iter().any(|v| f(h, v)));
    let tier = attr == "TierType";
    Ok(match op {
        "=" | "in" => any(&|h, v| h == v),
        "!=" | "not_in" => !any(&|h, v| h == v),
        "contains" if !tier => any(&|h, v| h.contains(v)),
        "begins_with" if !tier => any(&|h, v| h.starts_with(v)),
        "ends_with" if !tier => any(&|h, v| h.ends_with(v)),
        _ => {
            return Err(ApiError::invalid(format!(
                "Invalid operator {op} for filter attribute {attr}."
            )));
        }
    })
}

impl Eb {
    pub(super) fn list_platform_branches(&self, c: &Call<'_>) -> ApiResult<Option<String>> {
        let filters: Vec<BTreeMap<String, String>> = c.p.structs("Filters");
        let mut out = Vec::new();
        for b in branches() {
            let mut keep = true;
            for f in &filters {
                let mut values: Vec<(u32, String)> = f
                    .iter()
                    .filter_map(|(k, v)| {
                        Some((k.strip_prefix("Values.member.")?.parse().ok()?, v.clone()))
                    })
                    .collect();
                values.sort();
                let values: Vec<String> = values.into_iter().map(|(_, v)| v).collect();
                let attr = f.get("Attribute").map(String::as_str).unwrap_or("");
                let op = f.get("Operator").map(String::as_str).unwrap_or("=");
                keep &= branch_matches(&b, attr, op, &values)?;
            }
            if keep {
                out.push(b);
            }
        }
        let (out, next) = page(out, &c.p, 100)?;
        let mut x = Xml::new();
        x.open("PlatformBranchSummaryList");
        for b in &out {
            x.open("member")
                .leaf("PlatformName", "Python")
                .leaf("BranchName", &b.name)
                .leaf("LifecycleState", "Supported")
                .leaf("BranchOrder", b.order.to_string())
                .members("SupportedTierList", platforms::SUPPORTED_TIERS)
                .close("member");
        }
        x.close("PlatformBranchSummaryList").opt("NextToken", next);
        Ok(Some(x.finish()))
    }

    /// The instance id an environment runs on: the real one with workloads, else derived.
    fn instance_id(&self, env_id: &str) -> String {
        self.instances
            .as_ref()
            .and_then(|i| i.instance_of(env_id))
            .unwrap_or_else(|| format!("i-0{}", env_id.trim_start_matches("e-")))
    }

    pub(super) fn describe_instances_health(&self, c: &Call<'_>) -> ApiResult<Option<String>> {
        const KNOWN: &[&str] = &[
            "HealthStatus",
            "Color",
            "Causes",
            "ApplicationMetrics",
            "RefreshedAt",
            "LaunchedAt",
            "System",
            "Deployment",
            "AvailabilityZone",
            "InstanceType",
            "All",
        ];
        let attrs = c.p.list("AttributeNames");
        if let Some(bad) = attrs.iter().find(|a| !KNOWN.contains(&a.as_str())) {
            return Err(ApiError::invalid(format!(
                "Value {bad} at 'AttributeNames' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                KNOWN.join(", ")
            )));
        }
        // With no attribute names the service returns only the instance ids.
        let want = |a: &str| attrs.iter().any(|x| x == a || x == "All");
        let snapshot = self.with_region(c.region, |r| {
            let idx = find_env(r, &c.p)
                .map_err(|e| ApiError::new("InvalidRequestException", e.message))?;
            Ok::<_, ApiError>(r.envs[idx].clone())
        })?;
        let e = snapshot;
        let running = !matches!(e.status, EnvStatus::Launching | EnvStatus::Terminated)
            || e.version.is_some();
        let instance_type = e
            .options
            .iter()
            .find(|o| o.name == "InstanceType")
            .map(|o| o.value.clone())
            .unwrap_or_else(|| "t3.micro".to_string());
        let mut x = Xml::new();
        x.open("InstanceHealthList");
        if running || e.status == EnvStatus::Launching {
            let health = if e.status == EnvStatus::Launching {
                HealthStatus::Pending
            } else {
                e.health
            };
            x.open("member").leaf("InstanceId", self.instance_id(&e.id));
            if want("HealthStatus") {
                x.leaf("HealthStatus", health.as_str());
            }
            if want("Color") {
                x.leaf("Color", health.color());
            }
            if want("Causes") {
                x.members("Causes", &e.causes);
            }
            if want("LaunchedAt") {
                x.leaf("LaunchedAt", render::ts(e.created));
            }
            if want("ApplicationMetrics") {
                x.open("ApplicationMetrics")
                    .leaf("Duration", "10")
                    .leaf("RequestCount", "0")
                    .close("ApplicationMetrics");
            }
            if want("System") {
                x.open("System")
                    .open("CPUUtilization")
                    .leaf("User", "0.0")
                    .leaf("Nice", "0.0")
                    .leaf("System", "0.0")
                    .leaf("Idle", "100.0")
                    .leaf("IOWait", "0.0")
                    .leaf("IRQ", "0.0")
                    .leaf("SoftIRQ", "0.0")
                    .close("CPUUtilization")
                    .members("LoadAverage", ["0.0", "0.0", "0.0"])
                    .close("System");
            }
            if want("Deployment")
                && let Some(label) = &e.version
            {
                x.open("Deployment")
                    .leaf("VersionLabel", label)
                    .leaf("DeploymentId", "1")
                    .leaf(
                        "Status",
                        if e.status == EnvStatus::Updating {
                            "InProgress"
                        } else {
                            "Deployed"
                        },
                    )
                    .leaf("DeploymentTime", render::ts(e.updated))
                    .close("Deployment");
            }
            if want("AvailabilityZone") {
                x.leaf("AvailabilityZone", format!("{}a", c.region));
            }
            if want("InstanceType") {
                x.leaf("InstanceType", &instance_type);
            }
            x.close("member");
        }
        x.close("InstanceHealthList");
        if want("RefreshedAt") {
            x.leaf("RefreshedAt", render::ts(e.refreshed));
        }
        Ok(Some(x.finish()))
    }

    pub(super) fn describe_environment_resources(&self, c: &Call<'_>) -> ApiResult<Option<String>> {
        let e = self.with_region(c.region, |r| {
            let idx = find_env(r, &c.p)?;
            Ok::<_, ApiError>(r.envs[idx].clone())
        })?;
        let asg = format!(
            "awseb-{}-stack-AWSEBAutoScalingGroup-{}",
            e.id,
            e.id.trim_start_matches("e-").to_ascii_uppercase()
        );
        let lt = format!("lt-0{}", e.id.trim_start_matches("e-"));
        let mut x = Xml::new();
        x.open("EnvironmentResources")
            .leaf("EnvironmentName", &e.name)
            .open("AutoScalingGroups")
            .open("member")
            .leaf("Name", &asg)
            .close("member")
            .close("AutoScalingGroups")
            .open("Instances");
        if e.status != EnvStatus::Launching || e.version.is_some() {
            x.open("member")
                .leaf("Id", self.instance_id(&e.id))
                .close("member");
        }
        x.close("Instances")
            .open("LaunchConfigurations")
            .close("LaunchConfigurations")
            .open("LaunchTemplates")
            .open("member")
            .leaf("Id", &lt)
            .close("member")
            .close("LaunchTemplates")
            .open("LoadBalancers");
        if super::lb::load_balanced(&e.options) && e.status != EnvStatus::Launching {
            x.open("member")
                .leaf(
                    "Name",
                    super::lb::lb_arn(&e, c.region, &self.ctx.account_id),
                )
                .close("member");
        }
        x.close("LoadBalancers")
            .open("Triggers")
            .close("Triggers")
            .open("Queues")
            .close("Queues")
            .close("EnvironmentResources");
        Ok(Some(x.finish()))
    }

    pub(super) fn describe_environment_managed_actions(
        &self,
        c: &Call<'_>,
    ) -> ApiResult<Option<String>> {
        if let Some(s) = c.p.get("Status")
            && !["Scheduled", "Pending", "Running", "Unknown"].contains(&s)
        {
            return Err(ApiError::invalid(format!(
                "Value {s} at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Scheduled, Pending, Running, Unknown]"
            )));
        }
        self.with_region(c.region, |r| find_env(r, &c.p).map(|_| ()))?;
        let mut x = Xml::new();
        x.open("ManagedActions").close("ManagedActions");
        Ok(Some(x.finish()))
    }

    pub(super) fn describe_environment_managed_action_history(
        &self,
        c: &Call<'_>,
    ) -> ApiResult<Option<String>> {
        self.with_region(c.region, |r| find_env(r, &c.p).map(|_| ()))?;
        let mut x = Xml::new();
        x.open("ManagedActionHistoryItems")
            .close("ManagedActionHistoryItems");
        Ok(Some(x.finish()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_filters() {
        let bs = branches();
        assert_eq!(bs.len(), 4);
        let b313 = bs
            .iter()
            .find(|b| b.name == "Python 3.13 running on 64bit Amazon Linux 2023")
            .unwrap();
        let v = |s: &str| vec![s.to_string()];
        assert!(branch_matches(b313, "PlatformName", "=", &v("Python")).unwrap());
        assert!(!branch_matches(b313, "LifecycleState", "=", &v("Retired")).unwrap());
        assert!(branch_matches(b313, "LifecycleState", "!=", &v("Retired")).unwrap());
        assert!(branch_matches(b313, "BranchName", "begins_with", &v("Python 3.13")).unwrap());
        assert!(branch_matches(b313, "TierType", "=", &v("WebServer")).unwrap());
        assert_eq!(
            branch_matches(b313, "Nope", "=", &v("x")).unwrap_err().code,
            "InvalidParameterValue"
        );
        assert!(branch_matches(b313, "TierType", "contains", &v("Web")).is_err());
    }
}
