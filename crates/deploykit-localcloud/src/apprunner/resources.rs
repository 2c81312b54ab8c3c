//! Auto scaling configurations, VPC connectors and custom domains.

use std::time::Instant;

use bytes::Bytes;
use serde_json::{Value, json};

use super::error::ApiError;
use super::model::*;
use super::{
    ASC_NAME_QUOTA, ASC_REVISION_QUOTA, AppRunner, AutoScaling, CUSTOM_DOMAIN_QUOTA, CustomDomain,
    DEFAULT_ASC_NAME, DOMAIN_VALIDATION_TAKES, Result, ServiceStatus, VPC_CONNECTOR_QUOTA,
    VpcConnector, epoch, parse, require, short_id, with_token,
};

impl AppRunner {
    // -----------------------------------------------------------------------------------------
    // Auto scaling configurations.

    pub(super) fn create_asc(&self, body: &Bytes) -> Result<Value> {
        let input: CreateAutoScalingConfigurationInput = parse(body)?;
        let name = input.auto_scaling_configuration_name;
        validate_name("autoScalingConfigurationName", &name, 4, 32)?;
        let bounded = |what: &str, v: Option<i64>, default: i64, max: i64| -> Result<i64> {
            let v = v.unwrap_or(default);
            if (1..=max).contains(&v) {
                Ok(v)
            } else {
                Err(ApiError::invalid_request(format!(
                    "1 validation error detected: Value '{v}' at '{what}' failed to satisfy \
                     constraint: Member must have value between 1 and {max}"
                )))
            }
        };
        let max_concurrency = bounded("maxConcurrency", input.max_concurrency, 100, 200)?;
        let min_size = bounded("minSize", input.min_size, 1, 25)?;
        let max_size = bounded("maxSize", input.max_size, 25, 25)?;
        if min_size > max_size {
            return Err(ApiError::invalid_request(format!(
                "MinSize ({min_size}) can't be greater than MaxSize ({max_size})"
            )));
        }
        let mut state = self.lock();
        let revisions = state
            .scaling
            .iter()
            .filter(|a| a.name == name && a.active)
            .count();
        if revisions >= ASC_REVISION_QUOTA {
            return Err(ApiError::quota(format!(
                "You have reached the maximum number of revisions ({ASC_REVISION_QUOTA}) for \
                 auto scaling configuration {name}"
            )));
        }
        let names = {
            let mut n: Vec<&str> = state
                .scaling
                .iter()
                .filter(|a| a.active && !a.is_default)
                .map(|a| a.name.as_str())
                .collect();
            n.sort_unstable();
            n.dedup();
            n.len()
        };
        if revisions == 0 && name != DEFAULT_ASC_NAME && names >= ASC_NAME_QUOTA {
            return Err(ApiError::quota(format!(
                "You have reached the maximum number of auto scaling configurations \
                 ({ASC_NAME_QUOTA})"
            )));
        }
        let revision = state
            .scaling
            .iter()
            .filter(|a| a.name == name)
            .map(|a| a.revision)
            .max()
            .unwrap_or(0)
            + 1;
        let asc = AutoScaling {
            arn: format!(
                "arn:aws:apprunner:{}:{}:autoscalingconfiguration/{name}/{revision}/{}",
                self.ctx.default_region,
                self.ctx.account_id,
                short_id(32)
            ),
            name,
            revision,
            active: true,
            max_concurrency,
            min_size,
            max_size,
            created_at: self.ctx.clock.now_utc(),
            deleted_at: None,
            is_default: false,
        };
        state.scaling.push(asc);
        let idx = state.scaling.len() - 1;
        Ok(json!({ "AutoScalingConfiguration": state.asc_json(idx) }))
    }

    pub(super) fn describe_asc(&self, body: &Bytes) -> Result<Value> {
        let input: AutoScalingConfigurationArnInput = parse(body)?;
        require(
            "autoScalingConfigurationArn",
            &input.auto_scaling_configuration_arn,
        )?;
        let state = self.lock();
        let idx = state.asc_index_any(&input.auto_scaling_configuration_arn)?;
        Ok(json!({ "AutoScalingConfiguration": state.asc_json(idx) }))
    }

    pub(super) fn list_ascs(&self, body: &Bytes) -> Result<Value> {
        let input: ListAutoScalingConfigurationsInput = parse(body)?;
        let page = max_results(input.max_results, 100)?;
        let state = self.lock();
        let all: Vec<Value> = (0..state.scaling.len())
            .filter(|&i| {
                let a = &state.scaling[i];
                a.active
                    && input
                        .auto_scaling_configuration_name
                        .as_ref()
                        .is_none_or(|n| *n == a.name)
                    && (!input.latest_only || state.asc_is_latest(i))
            })
            .map(|i| state.asc_summary_json(i))
            .collect();
        let (items, next) = paginate(all, input.next_token.as_deref(), page)?;
        Ok(with_token(
            json!({ "AutoScalingConfigurationSummaryList": items }),
            next,
        ))
    }

    pub(super) fn delete_asc(&self, body: &Bytes) -> Result<Value> {
        let input: AutoScalingConfigurationArnInput = parse(body)?;
        require(
            "autoScalingConfigurationArn",
            &input.auto_scaling_configuration_arn,
        )?;
        let mut state = self.lock();
        let idx = state.asc_index(&input.auto_scaling_configuration_arn)?;
        let name = state.scaling[idx].name.clone();
        if state.scaling[idx].is_default {
            return Err(ApiError::invalid_request(format!(
                "The default auto scaling configuration {name} can't be deleted"
            )));
        }
        let targets: Vec<usize> = if input.delete_all_revisions {
            (0..state.scaling.len())
                .filter(|&i| state.scaling[i].name == name && state.scaling[i].active)
                .collect()
        } else {
            vec![idx]
        };
        if let Some(&busy) = targets.iter().find(|&&i| state.asc_in_use(i)) {
            return Err(ApiError::invalid_request(format!(
                "Auto scaling configuration {} is associated with a service and can't be deleted",
                state.scaling[busy].arn
            )));
        }
        let now = self.ctx.clock.now_utc();
        for &i in &targets {
            state.scaling[i].active = false;
            state.scaling[i].deleted_at = Some(now);
        }
        Ok(json!({ "AutoScalingConfiguration": state.asc_json(idx) }))
    }

    // -----------------------------------------------------------------------------------------
    // VPC connectors.

    pub(super) fn create_connector(&self, body: &Bytes) -> Result<Value> {
        let input: CreateVpcConnectorInput = parse(body)?;
        let name = input.vpc_connector_name;
        validate_name("vpcConnectorName", &name, 4, 40)?;
        if input.subnets.is_empty() {
            return Err(ApiError::invalid_request(
                "1 validation error detected: Value at 'subnets' failed to satisfy constraint: \
                 Member must have at least 1 subnet",
            ));
        }
        let mut state = self.lock();
        if state.connectors.iter().any(|c| c.name == name && c.active) {
            return Err(ApiError::invalid_request(format!(
                "A VPC connector with the name {name} already exists"
            )));
        }
        if state.connectors.iter().filter(|c| c.active).count() >= VPC_CONNECTOR_QUOTA {
            return Err(ApiError::quota(format!(
                "You have reached the maximum number of VPC connectors ({VPC_CONNECTOR_QUOTA})"
            )));
        }
        let revision = state
            .connectors
            .iter()
            .filter(|c| c.name == name)
            .map(|c| c.revision)
            .max()
            .unwrap_or(0)
            + 1;
        state.connectors.push(VpcConnector {
            arn: format!(
                "arn:aws:apprunner:{}:{}:vpcconnector/{name}/{revision}/{}",
                self.ctx.default_region,
                self.ctx.account_id,
                short_id(32)
            ),
            name,
            revision,
            subnets: input.subnets,
            security_groups: input.security_groups.unwrap_or_default(),
            active: true,
            created_at: self.ctx.clock.now_utc(),
            deleted_at: None,
        });
        let c = state.connectors.last().map(connector_json);
        Ok(json!({ "VpcConnector": c }))
    }

    pub(super) fn describe_connector(&self, body: &Bytes) -> Result<Value> {
        let input: VpcConnectorArnInput = parse(body)?;
        require("vpcConnectorArn", &input.vpc_connector_arn)?;
        let state = self.lock();
        let c = state.connector(&input.vpc_connector_arn)?;
        Ok(json!({ "VpcConnector": connector_json(c) }))
    }

    pub(super) fn list_connectors(&self, body: &Bytes) -> Result<Value> {
        let input: PageInput = parse(body)?;
        let page = max_results(input.max_results, 100)?;
        let state = self.lock();
        let all: Vec<Value> = state.connectors.iter().map(connector_json).collect();
        let (items, next) = paginate(all, input.next_token.as_deref(), page)?;
        Ok(with_token(json!({ "VpcConnectors": items }), next))
    }

    pub(super) fn delete_connector(&self, body: &Bytes) -> Result<Value> {
        let input: VpcConnectorArnInput = parse(body)?;
        require("vpcConnectorArn", &input.vpc_connector_arn)?;
        let mut state = self.lock();
        let idx = state
            .connectors
            .iter()
            .position(|c| c.arn == input.vpc_connector_arn && c.active)
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "VPC connector {} doesn't exist or is already deleted",
                    input.vpc_connector_arn
                ))
            })?;
        let arn = state.connectors[idx].arn.clone();
        let in_use = state.services.iter().any(|s| {
            !s.is_deleted()
                && (s.config.network.vpc_connector_arn() == Some(arn.as_str())
                    || s.steps.iter().any(|st| {
                        st.config
                            .as_ref()
                            .is_some_and(|c| c.network.vpc_connector_arn() == Some(arn.as_str()))
                    }))
        });
        if in_use {
            return Err(ApiError::invalid_request(format!(
                "VPC connector {arn} is used by a service and can't be deleted"
            )));
        }
        let c = &mut state.connectors[idx];
        c.active = false;
        c.deleted_at = Some(self.ctx.clock.now_utc());
        Ok(json!({ "VpcConnector": connector_json(c) }))
    }

    // -----------------------------------------------------------------------------------------
    // Custom domains.

    pub(super) fn associate_domain(&self, body: &Bytes) -> Result<Value> {
        let input: CustomDomainInput = parse(body)?;
        require("serviceArn", &input.service_arn)?;
        require("domainName", &input.domain_name)?;
        let domain = input.domain_name.trim_end_matches('.').to_ascii_lowercase();
        if !valid_domain(&domain) {
            return Err(ApiError::invalid_request(format!(
                "Value '{}' at 'domainName' is not a valid domain name",
                input.domain_name
            )));
        }
        let www = input.enable_www_subdomain.unwrap_or(true);
        let mut state = self.lock();
        let idx = state.service_index(&input.service_arn)?;
        let svc = &mut state.services[idx];
        if svc.status != ServiceStatus::Running {
            return Err(ApiError::invalid_state(format!(
                "Service {} is in {} state; custom domains can be associated only with a \
                 RUNNING service",
                svc.arn,
                svc.status.as_str()
            )));
        }
        if svc.domains.iter().any(|d| d.name == domain) {
            return Err(ApiError::invalid_request(format!(
                "Domain {domain} is already associated with service {}",
                svc.arn
            )));
        }
        if svc.domains.len() >= CUSTOM_DOMAIN_QUOTA {
            return Err(ApiError::invalid_request(format!(
                "Service {} already has the maximum of {CUSTOM_DOMAIN_QUOTA} custom domains",
                svc.arn
            )));
        }
        let record = |name: &str| {
            (
                format!("_{}.{name}.", short_id(32)),
                format!("_{}.{}.acm-validations.aws.", short_id(32), short_id(10)),
            )
        };
        let mut records = vec![record(&domain)];
        if www {
            records.push(record(&format!("www.{domain}")));
        }
        svc.domains.push(CustomDomain {
            name: domain,
            www,
            records,
            active_at: self.ctx.clock.after(DOMAIN_VALIDATION_TAKES),
        });
        let d = svc.domains.last().map(|d| domain_json(d, None));
        Ok(json!({
            "DNSTarget": svc.url,
            "ServiceArn": svc.arn,
            "CustomDomain": d,
            "VpcDNSTargets": [],
        }))
    }

    pub(super) fn describe_domains(&self, body: &Bytes) -> Result<Value> {
        let input: ServiceArnInput = parse(body)?;
        require("serviceArn", &input.service_arn)?;
        let page = max_results(input.max_results, 5)?;
        let state = self.lock();
        let svc = state.service(&input.service_arn)?;
        let all: Vec<Value> = svc.domains.iter().map(|d| domain_json(d, None)).collect();
        let (items, next) = paginate(all, input.next_token.as_deref(), page)?;
        Ok(with_token(
            json!({
                "DNSTarget": svc.url,
                "ServiceArn": svc.arn,
                "CustomDomains": items,
                "VpcDNSTargets": [],
            }),
            next,
        ))
    }

    pub(super) fn disassociate_domain(&self, body: &Bytes) -> Result<Value> {
        let input: CustomDomainInput = parse(body)?;
        require("serviceArn", &input.service_arn)?;
        require("domainName", &input.domain_name)?;
        let domain = input.domain_name.trim_end_matches('.').to_ascii_lowercase();
        let mut state = self.lock();
        let idx = state.service_index(&input.service_arn)?;
        let svc = &mut state.services[idx];
        let pos = svc
            .domains
            .iter()
            .position(|d| d.name == domain)
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "Domain {domain} is not associated with service {}",
                    svc.arn
                ))
            })?;
        let d = svc.domains.remove(pos);
        Ok(json!({
            "DNSTarget": svc.url,
            "ServiceArn": svc.arn,
            "CustomDomain": domain_json(&d, Some("DELETING")),
            "VpcDNSTargets": [],
        }))
    }
}

pub(super) fn valid_domain(d: &str) -> bool {
    (1..=255).contains(&d.len())
        && d.contains('.')
        && d.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

pub(super) fn domain_json(d: &CustomDomain, status_override: Option<&str>) -> Value {
    let active = Instant::now() >= d.active_at;
    let status = status_override.unwrap_or(if active {
        "ACTIVE"
    } else {
        "PENDING_CERTIFICATE_DNS_VALIDATION"
    });
    let record_status = if active {
        "SUCCESS"
    } else {
        "PENDING_VALIDATION"
    };
    let records: Vec<Value> = d
        .records
        .iter()
        .map(|(name, value)| {
            json!({ "Name": name, "Type": "CNAME", "Value": value, "Status": record_status })
        })
        .collect();
    json!({
        "DomainName": d.name,
        "EnableWWWSubdomain": d.www,
        "CertificateValidationRecords": records,
        "Status": status,
    })
}

pub(super) fn connector_json(c: &VpcConnector) -> Value {
    let mut v = json!({
        "VpcConnectorName": c.name,
        "VpcConnectorArn": c.arn,
        "VpcConnectorRevision": c.revision,
        "Subnets": c.subnets,
        "SecurityGroups": c.security_groups,
        "Status": if c.active { "ACTIVE" } else { "INACTIVE" },
        "CreatedAt": epoch(c.created_at),
    });
    if let Some(t) = c.deleted_at {
        v["DeletedAt"] = epoch(t);
    }
    v
}
