//! Lookups over the emulator state (by ARN, with quotas) and its JSON renderings.

use serde_json::{Value, json};

use super::error::ApiError;
use super::{Result, SERVICE_QUOTA, Service, State, VpcConnector, epoch};

impl State {
    pub(super) fn service_index(&self, arn: &str) -> Result<usize> {
        if !arn.starts_with("arn:") {
            return Err(ApiError::invalid_request(format!(
                "Value '{arn}' at 'serviceArn' is not a valid ARN"
            )));
        }
        self.services
            .iter()
            .position(|s| s.arn == arn)
            .ok_or_else(|| ApiError::not_found(format!("Service {arn} not found")))
    }

    pub(super) fn service(&self, arn: &str) -> Result<&Service> {
        self.service_index(arn).map(|i| &self.services[i])
    }

    pub(super) fn check_new_service(&self, name: &str) -> Result<()> {
        let live: Vec<&Service> = self.services.iter().filter(|s| !s.is_deleted()).collect();
        if live.iter().any(|s| s.name == name) {
            return Err(ApiError::invalid_request(format!(
                "Service with the provided name already exists: {name}"
            )));
        }
        if live.len() >= SERVICE_QUOTA {
            return Err(ApiError::quota(format!(
                "You have reached the maximum number of services ({SERVICE_QUOTA})"
            )));
        }
        Ok(())
    }

    pub(super) fn connector(&self, arn: &str) -> Result<&VpcConnector> {
        self.connectors
            .iter()
            .find(|c| c.arn == arn)
            .ok_or_else(|| ApiError::not_found(format!("VPC connector {arn} not found")))
    }

    pub(super) fn default_asc_arn(&self) -> String {
        self.scaling
            .iter()
            .find(|a| a.is_default)
            .map(|a| a.arn.clone())
            .unwrap_or_default()
    }

    /// Resolves an auto scaling configuration ARN: full (`.../name/rev/id`), or partial
    /// (`.../name` for the latest active revision, `.../name/rev`), like App Runner. Only active
    /// revisions.
    pub(super) fn asc_index(&self, arn: &str) -> Result<usize> {
        self.asc_lookup(arn, false)
    }

    /// Like [`Self::asc_index`], but a full ARN also finds deleted (INACTIVE) revisions.
    pub(super) fn asc_index_any(&self, arn: &str) -> Result<usize> {
        self.asc_lookup(arn, true)
    }

    pub(super) fn asc_lookup(&self, arn: &str, include_inactive: bool) -> Result<usize> {
        let not_found =
            || ApiError::not_found(format!("Auto scaling configuration {arn} not found"));
        if let Some(i) = self
            .scaling
            .iter()
            .position(|a| a.arn == arn && (a.active || include_inactive))
        {
            return Ok(i);
        }
        let tail = arn
            .split_once(":autoscalingconfiguration/")
            .map(|(_, t)| t)
            .ok_or_else(|| {
                ApiError::invalid_request(format!(
                    "Value '{arn}' at 'autoScalingConfigurationArn' is not a valid ARN"
                ))
            })?;
        let mut parts = tail.trim_end_matches('/').split('/');
        let name = parts.next().unwrap_or_default();
        let revision = parts.next().map(str::parse::<i64>);
        let candidates = self
            .scaling
            .iter()
            .enumerate()
            .filter(|(_, a)| a.active && a.name == name);
        match revision {
            None => candidates
                .max_by_key(|(_, a)| a.revision)
                .map(|(i, _)| i)
                .ok_or_else(not_found),
            Some(Ok(rev)) => candidates
                .filter(|(_, a)| a.revision == rev)
                .map(|(i, _)| i)
                .next()
                .ok_or_else(not_found),
            Some(Err(_)) => Err(not_found()),
        }
    }

    pub(super) fn asc_is_latest(&self, idx: usize) -> bool {
        let a = &self.scaling[idx];
        a.active
            && !self
                .scaling
                .iter()
                .any(|b| b.active && b.name == a.name && b.revision > a.revision)
    }

    pub(super) fn asc_in_use(&self, idx: usize) -> bool {
        let arn = &self.scaling[idx].arn;
        self.services.iter().any(|s| {
            !s.is_deleted()
                && (s.config.auto_scaling_arn == *arn
                    || s.steps.iter().any(|st| {
                        st.config
                            .as_ref()
                            .is_some_and(|c| c.auto_scaling_arn == *arn)
                    }))
        })
    }

    pub(super) fn asc_summary_json(&self, idx: usize) -> Value {
        let a = &self.scaling[idx];
        json!({
            "AutoScalingConfigurationArn": a.arn,
            "AutoScalingConfigurationName": a.name,
            "AutoScalingConfigurationRevision": a.revision,
            "Status": if a.active { "ACTIVE" } else { "INACTIVE" },
            "CreatedAt": epoch(a.created_at),
            "HasAssociatedService": self.asc_in_use(idx),
            "IsDefault": a.is_default,
        })
    }

    pub(super) fn asc_json(&self, idx: usize) -> Value {
        let a = &self.scaling[idx];
        let mut v = json!({
            "AutoScalingConfigurationArn": a.arn,
            "AutoScalingConfigurationName": a.name,
            "AutoScalingConfigurationRevision": a.revision,
            "Latest": self.asc_is_latest(idx),
            "Status": if a.active { "ACTIVE" } else { "INACTIVE" },
            "MaxConcurrency": a.max_concurrency,
            "MinSize": a.min_size,
            "MaxSize": a.max_size,
            "CreatedAt": epoch(a.created_at),
            "HasAssociatedService": self.asc_in_use(idx),
            "IsDefault": a.is_default,
        });
        if let Some(t) = a.deleted_at {
            v["DeletedAt"] = epoch(t);
        }
        v
    }

    pub(super) fn service_json(&self, s: &Service) -> Value {
        let c = &s.config;
        let mut v = json!({
            "ServiceName": s.name,
            "ServiceId": s.id,
            "ServiceArn": s.arn,
            "ServiceUrl": s.url,
            "CreatedAt": epoch(s.created_at),
            "UpdatedAt": epoch(s.updated_at),
            "Status": s.status.as_str(),
            "SourceConfiguration": c.source,
            "InstanceConfiguration": c.instance,
            "HealthCheckConfiguration": c.health,
            "NetworkConfiguration": c.network,
            "ObservabilityConfiguration": c.observability,
        });
        if let Some(t) = s.deleted_at {
            v["DeletedAt"] = epoch(t);
        }
        if let Some(e) = &c.encryption {
            v["EncryptionConfiguration"] = json!(e);
        }
        if let Some(i) = self
            .scaling
            .iter()
            .position(|a| a.arn == c.auto_scaling_arn)
        {
            v["AutoScalingConfigurationSummary"] = self.asc_summary_json(i);
        }
        v
    }
}
