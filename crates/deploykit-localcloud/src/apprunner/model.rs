//! App Runner wire shapes (JSON 1.0, PascalCase members) and their validation.
//!
//! Request shapes are deserialized leniently (unknown members ignored, like the real service);
//! the configuration a service stores is the *resolved* one, with App Runner's defaults filled
//! in, because that is what `DescribeService` returns.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::ApiError;

// ---------------------------------------------------------------------------------------------
// Configuration shapes, shared by requests and responses.

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SourceConfiguration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_repository: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_repository: Option<ImageRepository>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_deployments_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication_configuration: Option<AuthenticationConfiguration>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ImageRepository {
    #[serde(default)]
    pub image_identifier: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_configuration: Option<ImageConfiguration>,
    #[serde(default)]
    pub image_repository_type: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ImageConfiguration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_environment_variables: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_command: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_environment_secrets: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AuthenticationConfiguration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_role_arn: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct InstanceConfiguration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_role_arn: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct HealthCheckConfiguration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthy_threshold: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unhealthy_threshold: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct NetworkConfiguration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub egress_configuration: Option<EgressConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingress_configuration: Option<IngressConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_address_type: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct EgressConfiguration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub egress_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_connector_arn: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct IngressConfiguration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_publicly_accessible: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ObservabilityConfiguration {
    #[serde(default)]
    pub observability_enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observability_configuration_arn: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct EncryptionConfiguration {
    #[serde(default)]
    pub kms_key: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Tag {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Requests.

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateServiceInput {
    #[serde(default)]
    pub service_name: String,
    pub source_configuration: Option<SourceConfiguration>,
    pub instance_configuration: Option<InstanceConfiguration>,
    pub tags: Option<Vec<Tag>>,
    pub encryption_configuration: Option<EncryptionConfiguration>,
    pub health_check_configuration: Option<HealthCheckConfiguration>,
    pub auto_scaling_configuration_arn: Option<String>,
    pub network_configuration: Option<NetworkConfiguration>,
    pub observability_configuration: Option<ObservabilityConfiguration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UpdateServiceInput {
    #[serde(default)]
    pub service_arn: String,
    pub source_configuration: Option<SourceConfiguration>,
    pub instance_configuration: Option<InstanceConfiguration>,
    pub auto_scaling_configuration_arn: Option<String>,
    pub health_check_configuration: Option<HealthCheckConfiguration>,
    pub network_configuration: Option<NetworkConfiguration>,
    pub observability_configuration: Option<ObservabilityConfiguration>,
}

/// Every request naming one service (`DescribeService`, `DeleteService`, `StartDeployment`,
/// `PauseService`, `ResumeService`, `ListOperations`, `DescribeCustomDomains`, ...).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ServiceArnInput {
    #[serde(default)]
    pub service_arn: String,
    pub next_token: Option<String>,
    pub max_results: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PageInput {
    pub next_token: Option<String>,
    pub max_results: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateAutoScalingConfigurationInput {
    #[serde(default)]
    pub auto_scaling_configuration_name: String,
    pub max_concurrency: Option<i64>,
    pub min_size: Option<i64>,
    pub max_size: Option<i64>,
    #[allow(dead_code)]
    pub tags: Option<Vec<Tag>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AutoScalingConfigurationArnInput {
    #[serde(default)]
    pub auto_scaling_configuration_arn: String,
    #[serde(default)]
    pub delete_all_revisions: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListAutoScalingConfigurationsInput {
    pub auto_scaling_configuration_name: Option<String>,
    #[serde(default)]
    pub latest_only: bool,
    pub next_token: Option<String>,
    pub max_results: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateVpcConnectorInput {
    #[serde(default)]
    pub vpc_connector_name: String,
    #[serde(default)]
    pub subnets: Vec<String>,
    pub security_groups: Option<Vec<String>>,
    #[allow(dead_code)]
    pub tags: Option<Vec<Tag>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct VpcConnectorArnInput {
    #[serde(default)]
    pub vpc_connector_arn: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CustomDomainInput {
    #[serde(default)]
    pub service_arn: String,
    #[serde(default)]
    pub domain_name: String,
    #[serde(rename = "EnableWWWSubdomain")]
    pub enable_www_subdomain: Option<bool>,
}

// ---------------------------------------------------------------------------------------------
// Validation and defaults.

/// `[A-Za-z0-9][A-Za-z0-9-_]{min-1,max-1}`: App Runner's rule for service, auto scaling
/// configuration and VPC connector names.
pub(crate) fn validate_name(
    what: &str,
    name: &str,
    min: usize,
    max: usize,
) -> Result<(), ApiError> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let len_ok = (min..=max).contains(&name.len());
    if first_ok && rest_ok && len_ok {
        Ok(())
    } else {
        Err(ApiError::invalid_request(format!(
            "1 validation error detected: Value '{name}' at '{what}' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [A-Za-z0-9][A-Za-z0-9-_]{{{},{}}}",
            min - 1,
            max - 1
        )))
    }
}

const CPU: &[(&str, &str)] = &[
    ("256", "256"),
    ("512", "512"),
    ("1024", "1024"),
    ("2048", "2048"),
    ("4096", "4096"),
    ("0.25 vCPU", "256"),
    ("0.5 vCPU", "512"),
    ("1 vCPU", "1024"),
    ("2 vCPU", "2048"),
    ("4 vCPU", "4096"),
];

const MEMORY: &[(&str, &str)] = &[
    ("512", "512"),
    ("1024", "1024"),
    ("2048", "2048"),
    ("3072", "3072"),
    ("4096", "4096"),
    ("6144", "6144"),
    ("8192", "8192"),
    ("10240", "10240"),
    ("12288", "12288"),
    ("0.5 GB", "512"),
    ("1 GB", "1024"),
    ("2 GB", "2048"),
    ("3 GB", "3072"),
    ("4 GB", "4096"),
    ("6 GB", "6144"),
    ("8 GB", "8192"),
    ("10 GB", "10240"),
    ("12 GB", "12288"),
];

fn normalize(table: &[(&str, &'static str)], what: &str, value: &str) -> Result<String, ApiError> {
    table
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(value))
        .map(|(_, v)| (*v).to_string())
        .ok_or_else(|| {
            ApiError::invalid_request(format!(
                "Value '{value}' at '{what}' is not a supported value"
            ))
        })
}

impl InstanceConfiguration {
    /// Defaults (1 vCPU, 2 GB) filled in and units normalized the way DescribeService shows them.
    pub(crate) fn resolve(self) -> Result<Self, ApiError> {
        let cpu = normalize(
            CPU,
            "instanceConfiguration.cpu",
            self.cpu.as_deref().unwrap_or("1024"),
        )?;
        let memory = normalize(
            MEMORY,
            "instanceConfiguration.memory",
            self.memory.as_deref().unwrap_or("2048"),
        )?;
        if let Some(role) = &self.instance_role_arn {
            validate_role_arn("instanceConfiguration.instanceRoleArn", role)?;
        }
        Ok(Self {
            cpu: Some(cpu),
            memory: Some(memory),
            instance_role_arn: self.instance_role_arn,
        })
    }
}

impl HealthCheckConfiguration {
    pub(crate) fn resolve(self) -> Result<Self, ApiError> {
        let protocol = self.protocol.unwrap_or_else(|| "TCP".to_string());
        if protocol != "TCP" && protocol != "HTTP" {
            return Err(ApiError::invalid_request(format!(
                "Value '{protocol}' at 'healthCheckConfiguration.protocol' failed to satisfy \
                 constraint: Member must satisfy enum value set: [TCP, HTTP]"
            )));
        }
        let bounded = |name: &str, v: Option<i64>, default: i64| -> Result<i64, ApiError> {
            let v = v.unwrap_or(default);
            if (1..=20).contains(&v) {
                Ok(v)
            } else {
                Err(ApiError::invalid_request(format!(
                    "Value '{v}' at 'healthCheckConfiguration.{name}' failed to satisfy constraint: \
                     Member must have value between 1 and 20"
                )))
            }
        };
        Ok(Self {
            path: Some(self.path.unwrap_or_else(|| "/".to_string())),
            interval: Some(bounded("interval", self.interval, 5)?),
            timeout: Some(bounded("timeout", self.timeout, 2)?),
            healthy_threshold: Some(bounded("healthyThreshold", self.healthy_threshold, 1)?),
            unhealthy_threshold: Some(bounded("unhealthyThreshold", self.unhealthy_threshold, 5)?),
            protocol: Some(protocol),
        })
    }
}

impl NetworkConfiguration {
    /// Defaults filled in. The VPC connector's existence is checked by the caller.
    pub(crate) fn resolve(self) -> Result<Self, ApiError> {
        let egress = self.egress_configuration.unwrap_or_default();
        let egress_type = egress.egress_type.unwrap_or_else(|| "DEFAULT".to_string());
        match egress_type.as_str() {
            "DEFAULT" if egress.vpc_connector_arn.is_some() => {
                return Err(ApiError::invalid_request(
                    "VpcConnectorArn can only be provided when EgressType is VPC",
                ));
            }
            "VPC" if egress.vpc_connector_arn.is_none() => {
                return Err(ApiError::invalid_request(
                    "VpcConnectorArn is required when EgressType is VPC",
                ));
            }
            "DEFAULT" | "VPC" => {}
            other => {
                return Err(ApiError::invalid_request(format!(
                    "Value '{other}' at 'networkConfiguration.egressConfiguration.egressType' \
                     failed to satisfy constraint: Member must satisfy enum value set: [DEFAULT, VPC]"
                )));
            }
        }
        let ip = self.ip_address_type.unwrap_or_else(|| "IPV4".to_string());
        if ip != "IPV4" && ip != "DUAL_STACK" {
            return Err(ApiError::invalid_request(format!(
                "Value '{ip}' at 'networkConfiguration.ipAddressType' failed to satisfy \
                 constraint: Member must satisfy enum value set: [IPV4, DUAL_STACK]"
            )));
        }
        let public = self
            .ingress_configuration
            .and_then(|i| i.is_publicly_accessible)
            .unwrap_or(true);
        Ok(Self {
            egress_configuration: Some(EgressConfiguration {
                egress_type: Some(egress_type),
                vpc_connector_arn: egress.vpc_connector_arn,
            }),
            ingress_configuration: Some(IngressConfiguration {
                is_publicly_accessible: Some(public),
            }),
            ip_address_type: Some(ip),
        })
    }

    pub(crate) fn vpc_connector_arn(&self) -> Option<&str> {
        self.egress_configuration
            .as_ref()
            .and_then(|e| e.vpc_connector_arn.as_deref())
    }
}

/// `arn:aws[-partition]:iam::<12 digits>:role/<path-and-name>`.
pub(crate) fn validate_role_arn(what: &str, arn: &str) -> Result<(), ApiError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5]
            .strip_prefix("role/")
            .is_some_and(|n| !n.is_empty());
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_request(format!(
            "Value '{arn}' at '{what}' failed to satisfy constraint: Member must be an IAM role ARN"
        )))
    }
}

impl SourceConfiguration {
    /// Checks what App Runner checks up front and returns the parsed image reference.
    pub(crate) fn validate(&self) -> Result<super::image::ImageRef, ApiError> {
        if self.code_repository.is_some() {
            return Err(ApiError::invalid_request(
                "CodeRepository sources need a GitHub/Bitbucket connection, which the local cloud \
                 does not emulate; deploy an ImageRepository source instead",
            ));
        }
        let Some(repo) = &self.image_repository else {
            return Err(ApiError::invalid_request(
                "SourceConfiguration must specify either ImageRepository or CodeRepository",
            ));
        };
        let image = super::image::ImageRef::parse(&repo.image_identifier)?;
        match repo.image_repository_type.as_str() {
            "ECR" => {
                let role = self
                    .authentication_configuration
                    .as_ref()
                    .and_then(|a| a.access_role_arn.as_deref());
                match role {
                    Some(role) => validate_role_arn(
                        "sourceConfiguration.authenticationConfiguration.accessRoleArn",
                        role,
                    )?,
                    None => {
                        return Err(ApiError::invalid_request(
                            "Authentication configuration is invalid: an AccessRoleArn is \
                             required to pull images from a private ECR repository",
                        ));
                    }
                }
            }
            "ECR_PUBLIC" => {}
            other => {
                return Err(ApiError::invalid_request(format!(
                    "Value '{other}' at 'sourceConfiguration.imageRepository.imageRepositoryType' \
                     failed to satisfy constraint: Member must satisfy enum value set: [ECR, ECR_PUBLIC]"
                )));
            }
        }
        if let Some(port) = repo
            .image_configuration
            .as_ref()
            .and_then(|c| c.port.as_deref())
        {
            let valid = port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p));
            if !valid {
                return Err(ApiError::invalid_request(format!(
                    "Value '{port}' at 'sourceConfiguration.imageRepository.imageConfiguration.port' \
                     is not a valid port"
                )));
            }
        }
        Ok(image)
    }

    /// The source with App Runner's defaults (port 8080, auto deployments on) filled in.
    pub(crate) fn resolved(mut self) -> Self {
        if let Some(repo) = &mut self.image_repository {
            let cfg = repo
                .image_configuration
                .get_or_insert_with(Default::default);
            if cfg.port.is_none() {
                cfg.port = Some("8080".to_string());
            }
        }
        if self.auto_deployments_enabled.is_none() {
            self.auto_deployments_enabled = Some(true);
        }
        self
    }
}

/// Checks `MaxResults` against the operation's limit.
pub(crate) fn max_results(v: Option<i64>, limit: i64) -> Result<usize, ApiError> {
    match v {
        None => Ok(usize::try_from(limit).unwrap_or(usize::MAX)),
        Some(n) if (1..=limit).contains(&n) => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        Some(n) => Err(ApiError::invalid_request(format!(
            "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy \
             constraint: Member must have value between 1 and {limit}"
        ))),
    }
}

/// One page of `items`: the token is the decimal offset of the next page.
pub(crate) fn paginate<T>(
    items: Vec<T>,
    token: Option<&str>,
    page: usize,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let start = match token {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .ok()
            .filter(|s| *s <= items.len())
            .ok_or_else(|| ApiError::invalid_request(format!("Invalid NextToken '{t}'")))?,
    };
    let end = start.saturating_add(page).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    Ok((
        items.into_iter().skip(start).take(end - start).collect(),
        next,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_service_pattern() {
        let cases = [
            ("abcd", true),
            ("budgetsync-prod_1", true),
            ("abc", false),
            ("-abcd", false),
            ("abcd!", false),
            (&"a".repeat(40), true),
            (&"a".repeat(41), false),
        ];
        for (name, ok) in cases {
            assert_eq!(
                validate_name("serviceName", name, 4, 40).is_ok(),
                ok,
                "{name}"
            );
        }
    }

    #[test]
    fn role_arns_are_checked() {
        let cases = [
            ("arn:aws:iam::123456789012:role/AppRunnerECRAccess", true),
            ("arn:aws:iam::123456789012:role/service-role/x", true),
            ("arn:aws:iam::123456789012:user/bob", false),
            ("arn:aws:iam::12345:role/x", false),
            ("not-an-arn", false),
        ];
        for (arn, ok) in cases {
            assert_eq!(validate_role_arn("r", arn).is_ok(), ok, "{arn}");
        }
    }

    #[test]
    fn instance_units_are_normalized() {
        let cfg = InstanceConfiguration {
            cpu: Some("1 vCPU".into()),
            memory: Some("3 GB".into()),
            instance_role_arn: None,
        }
        .resolve()
        .expect("valid");
        assert_eq!(cfg.cpu.as_deref(), Some("1024"));
        assert_eq!(cfg.memory.as_deref(), Some("3072"));
        let bad = InstanceConfiguration {
            cpu: Some("3 vCPU".into()),
            ..Default::default()
        };
        assert_eq!(
            bad.resolve().map_err(|e| e.code),
            Err("InvalidRequestException")
        );
    }

    #[test]
    fn pagination_walks_every_item_once() {
        let items: Vec<u32> = (0..7).collect();
        let (p1, t1) = paginate(items.clone(), None, 3).expect("page 1");
        let (p2, t2) = paginate(items.clone(), t1.as_deref(), 3).expect("page 2");
        let (p3, t3) = paginate(items.clone(), t2.as_deref(), 3).expect("page 3");
        assert_eq!((p1, p2, p3), (vec![0, 1, 2], vec![3, 4, 5], vec![6]));
        assert_eq!(t3, None);
        assert!(paginate(items, Some("zz"), 3).is_err());
    }
}
