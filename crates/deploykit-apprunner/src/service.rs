//! App Runner calls around a service: find and describe it, its VPC connector, scaling and create.

use super::error::{AppRunnerError, aws_err};
use super::plan::{
    LiveConfig, ServiceSpec, ServiceView, VpcEgress, vpc_connector_name, vpc_connector_name_of_arn,
};
use aws_sdk_apprunner::types::{
    AuthenticationConfiguration, EgressConfiguration, EgressType, HealthCheckConfiguration,
    HealthCheckProtocol, ImageConfiguration, ImageRepository, ImageRepositoryType,
    InstanceConfiguration, NetworkConfiguration, ServiceStatus, SourceConfiguration,
};
use deploykit_report::{Event, Reporter};

/// The ARN of the active VPC connector for `vpc`, created when missing.
pub async fn ensure_vpc_connector(
    client: &aws_sdk_apprunner::Client,
    service: &str,
    vpc: &VpcEgress,
    reporter: &dyn Reporter,
) -> Result<String, AppRunnerError> {
    let name = vpc_connector_name(service, vpc);
    let mut pages = client.list_vpc_connectors().into_paginator().send();
    while let Some(out) = pages
        .try_next()
        .await
        .map_err(|e| aws_err("ListVpcConnectors", service, &e))?
    {
        if let Some(c) = out.vpc_connectors().iter().find(|c| {
            c.vpc_connector_name() == Some(name.as_str())
                && c.status() == Some(&aws_sdk_apprunner::types::VpcConnectorStatus::Active)
        }) {
            let arn = c.vpc_connector_arn().unwrap_or_default().to_string();
            reporter.report(Event::info(format!("VPC connector {name} exists: {arn}")));
            return Ok(arn);
        }
    }
    let out = client
        .create_vpc_connector()
        .vpc_connector_name(&name)
        .set_subnets(Some(vpc.subnets.clone()))
        .set_security_groups(Some(vpc.security_groups.clone()))
        .send()
        .await
        .map_err(|e| aws_err("CreateVpcConnector", service, &e))?;
    let arn = out
        .vpc_connector()
        .and_then(|c| c.vpc_connector_arn())
        .unwrap_or_default()
        .to_string();
    reporter.report(Event::info(format!(
        "created VPC connector {name} ({} subnets, {} security groups): {arn}",
        vpc.subnets.len(),
        vpc.security_groups.len()
    )));
    Ok(arn)
}

/// The service named `name`, if it exists (deleted ones do not count).
pub async fn find_service(
    client: &aws_sdk_apprunner::Client,
    name: &str,
) -> Result<Option<ServiceView>, AppRunnerError> {
    let mut pages = client.list_services().into_paginator().send();
    while let Some(out) = pages
        .try_next()
        .await
        .map_err(|e| aws_err("ListServices", name, &e))?
    {
        for s in out.service_summary_list() {
            if s.service_name() == Some(name) && s.status() != Some(&ServiceStatus::Deleted) {
                let arn = s.service_arn().unwrap_or_default().to_string();
                return describe(client, name, &arn).await.map(Some);
            }
        }
    }
    Ok(None)
}

pub(super) async fn describe(
    client: &aws_sdk_apprunner::Client,
    name: &str,
    arn: &str,
) -> Result<ServiceView, AppRunnerError> {
    let out = client
        .describe_service()
        .service_arn(arn)
        .send()
        .await
        .map_err(|e| aws_err("DescribeService", name, &e))?;
    let svc = out.service().ok_or_else(|| AppRunnerError::Invalid {
        service: name.into(),
        message: "DescribeService returned no service".into(),
    })?;
    let src = svc.source_configuration();
    let image_cfg = src
        .and_then(|s| s.image_repository())
        .and_then(|r| r.image_configuration());
    let config = image_cfg.map(|c| LiveConfig {
        port: c.port().map(str::to_string),
        env: c
            .runtime_environment_variables()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        secrets: c
            .runtime_environment_secrets()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        cpu: svc
            .instance_configuration()
            .and_then(|i| i.cpu())
            .map(str::to_string),
        memory: svc
            .instance_configuration()
            .and_then(|i| i.memory())
            .map(str::to_string),
        health_path: svc
            .health_check_configuration()
            .and_then(|h| h.path())
            .map(str::to_string),
        min_size: None,
        max_size: None,
        vpc_connector: svc
            .network_configuration()
            .and_then(|n| n.egress_configuration())
            .filter(|e| e.egress_type() == Some(&EgressType::Vpc))
            .and_then(|e| e.vpc_connector_arn())
            .and_then(vpc_connector_name_of_arn)
            .map(str::to_string),
        instance_role_arn: svc
            .instance_configuration()
            .and_then(|i| i.instance_role_arn())
            .map(str::to_string),
        access_role_arn: src
            .and_then(|s| s.authentication_configuration())
            .and_then(|a| a.access_role_arn())
            .map(str::to_string),
    });
    // DescribeService names the auto scaling configuration, not its bounds: read them.
    let config = match (config, svc.auto_scaling_configuration_summary()) {
        (Some(mut c), Some(asc)) => {
            if let Some(asc_arn) = asc.auto_scaling_configuration_arn() {
                let d = client
                    .describe_auto_scaling_configuration()
                    .auto_scaling_configuration_arn(asc_arn)
                    .send()
                    .await
                    .map_err(|e| aws_err("DescribeAutoScalingConfiguration", name, &e))?;
                if let Some(a) = d.auto_scaling_configuration() {
                    c.min_size = a.min_size().and_then(|n| u32::try_from(n).ok());
                    c.max_size = a.max_size().and_then(|n| u32::try_from(n).ok());
                }
            }
            Some(c)
        }
        (c, _) => c,
    };
    Ok(ServiceView {
        arn: svc.service_arn().to_string(),
        status: svc.status().as_str().to_string(),
        image: src
            .and_then(|s| s.image_repository())
            .map(|r| r.image_identifier().to_string()),
        url: svc.service_url().map(str::to_string),
        auto_deployments: src
            .and_then(|s| s.auto_deployments_enabled())
            .unwrap_or(false),
        config,
    })
}

pub(super) fn source(spec: &ServiceSpec) -> Result<SourceConfiguration, AppRunnerError> {
    let image_cfg = ImageConfiguration::builder()
        .port(spec.port.to_string())
        .set_runtime_environment_variables(Some(spec.env.clone().into_iter().collect()))
        .set_runtime_environment_secrets(Some(spec.secrets.clone().into_iter().collect()))
        .build();
    let repo_type = if spec.image.starts_with("public.ecr.aws/") {
        ImageRepositoryType::EcrPublic
    } else {
        ImageRepositoryType::Ecr
    };
    let repo = ImageRepository::builder()
        .image_identifier(&spec.image)
        .image_repository_type(repo_type)
        .image_configuration(image_cfg)
        .build()
        .map_err(|e| AppRunnerError::Invalid {
            service: spec.name.clone(),
            message: e.to_string(),
        })?;
    let mut b = SourceConfiguration::builder()
        .image_repository(repo)
        .auto_deployments_enabled(false);
    if let Some(role) = &spec.access_role_arn {
        b = b.authentication_configuration(
            AuthenticationConfiguration::builder()
                .access_role_arn(role)
                .build(),
        );
    }
    Ok(b.build())
}

pub(super) fn health(spec: &ServiceSpec) -> HealthCheckConfiguration {
    HealthCheckConfiguration::builder()
        .protocol(HealthCheckProtocol::Http)
        .path(&spec.health_path)
        .interval(10)
        .timeout(5)
        .healthy_threshold(1)
        .unhealthy_threshold(5)
        .build()
}

pub(super) fn network(connector_arn: Option<&str>) -> Option<NetworkConfiguration> {
    connector_arn.map(|arn| {
        NetworkConfiguration::builder()
            .egress_configuration(
                EgressConfiguration::builder()
                    .egress_type(EgressType::Vpc)
                    .vpc_connector_arn(arn)
                    .build(),
            )
            .build()
    })
}

/// [`network`], or explicit default (internet) egress when there is no connector.
pub(super) fn network_or_default(connector_arn: Option<&str>) -> NetworkConfiguration {
    network(connector_arn).unwrap_or_else(|| {
        NetworkConfiguration::builder()
            .egress_configuration(
                EgressConfiguration::builder()
                    .egress_type(EgressType::Default)
                    .build(),
            )
            .build()
    })
}

/// Name of the auto scaling configuration deploykit keeps for a service (4..32 chars).
pub fn scaling_config_name(service: &str) -> String {
    let mut n: String = service
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(28)
        .collect();
    n.push_str("-asc");
    n
}

pub(super) async fn ensure_scaling(
    client: &aws_sdk_apprunner::Client,
    spec: &ServiceSpec,
) -> Result<String, AppRunnerError> {
    let name = scaling_config_name(&spec.name);
    let out = client
        .list_auto_scaling_configurations()
        .auto_scaling_configuration_name(&name)
        .latest_only(true)
        .send()
        .await
        .map_err(|e| aws_err("ListAutoScalingConfigurations", &spec.name, &e))?;
    if let Some(arn) = out
        .auto_scaling_configuration_summary_list()
        .first()
        .and_then(|s| s.auto_scaling_configuration_arn())
    {
        let d = client
            .describe_auto_scaling_configuration()
            .auto_scaling_configuration_arn(arn)
            .send()
            .await
            .map_err(|e| aws_err("DescribeAutoScalingConfiguration", &spec.name, &e))?;
        if let Some(c) = d.auto_scaling_configuration()
            && c.min_size() == Some(spec.min_size as i32)
            && c.max_size() == Some(spec.max_size as i32)
        {
            return Ok(arn.to_string());
        }
    }
    let out = client
        .create_auto_scaling_configuration()
        .auto_scaling_configuration_name(&name)
        .min_size(spec.min_size as i32)
        .max_size(spec.max_size as i32)
        .send()
        .await
        .map_err(|e| aws_err("CreateAutoScalingConfiguration", &spec.name, &e))?;
    Ok(out
        .auto_scaling_configuration()
        .and_then(|c| c.auto_scaling_configuration_arn())
        .unwrap_or_default()
        .to_string())
}

pub(super) async fn create(
    client: &aws_sdk_apprunner::Client,
    spec: &ServiceSpec,
    scaling: &str,
    connector: Option<&str>,
    tags: &std::collections::BTreeMap<String, String>,
) -> Result<(String, String), AppRunnerError> {
    let tags: Vec<aws_sdk_apprunner::types::Tag> = tags
        .iter()
        .map(|(k, v)| {
            aws_sdk_apprunner::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
        })
        .collect();
    let out = client
        .create_service()
        .service_name(&spec.name)
        .set_tags((!tags.is_empty()).then_some(tags))
        .source_configuration(source(spec)?)
        .instance_configuration(
            InstanceConfiguration::builder()
                .cpu(&spec.cpu)
                .memory(&spec.memory)
                .set_instance_role_arn(spec.instance_role_arn.clone())
                .build(),
        )
        .health_check_configuration(health(spec))
        .auto_scaling_configuration_arn(scaling)
        .set_network_configuration(network(connector))
        .send()
        .await;
    match out {
        Ok(out) => {
            let arn = out
                .service()
                .map(|s| s.service_arn().to_string())
                .unwrap_or_default();
            Ok((arn, out.operation_id().to_string()))
        }
        Err(e) => {
            let refused = aws_err("CreateService", &spec.name, &e);
            // App Runner refuses a taken name with InvalidRequestException; CreateService has
            // no client token, so a retry of our create whose answer was lost lands here.
            if deploykit_aws::classify(&e).code.as_deref() == Some("InvalidRequestException")
                && let Some(adopted) = created_by_us(client, spec).await?
            {
                return Ok(adopted);
            }
            Err(refused)
        }
    }
}

/// The service of `spec`'s name if it runs `spec`'s image with its CREATE_SERVICE operation
/// on record: our own create (the deploy lock keeps anyone else from making it), as
/// (service ARN, operation id).
async fn created_by_us(
    client: &aws_sdk_apprunner::Client,
    spec: &ServiceSpec,
) -> Result<Option<(String, String)>, AppRunnerError> {
    let Some(view) = find_service(client, &spec.name).await? else {
        return Ok(None);
    };
    if view.image.as_deref() != Some(spec.image.as_str()) {
        return Ok(None);
    }
    let ops = client
        .list_operations()
        .service_arn(&view.arn)
        .send()
        .await
        .map_err(|e| aws_err("ListOperations", &spec.name, &e))?;
    Ok(ops
        .operation_summary_list()
        .iter()
        .find(|o| o.r#type() == Some(&aws_sdk_apprunner::types::OperationType::CreateService))
        .and_then(|o| o.id())
        .map(|id| (view.arn.clone(), id.to_string())))
}
