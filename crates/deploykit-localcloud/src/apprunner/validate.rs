//! What App Runner checks about runtime secrets and the instance role.
//!
//! - `RuntimeEnvironmentSecrets` without `InstanceConfiguration.InstanceRoleArn`: refused at
//!   `CreateService`/`UpdateService` with `InvalidRequestException` "Instance Role have to be
//!   provided if passing in RuntimeEnvironmentSecrets." (App Runner's own wording).
//! - An instance role IAM does not know: refused with `InvalidRequestException` "Error in
//!   assuming instance role <arn>" (App Runner assumes the role when the call arrives).
//! - A secret that does not exist: accepted; App Runner reads secrets with the instance role
//!   when an instance starts, so the deployment fails (create: `CREATE_FAILED`; update and
//!   StartDeployment: rolled back). A value is a Secrets Manager ARN (full or partial, with an
//!   optional `:json-key:version-stage:version-id`), an SSM parameter ARN, or the name of an
//!   SSM parameter in the service's region.
//!
//! Without a moto URL (private edges in some tests) nothing is looked up.

use super::error::ApiError;
use super::model::{InstanceConfiguration, SourceConfiguration};
use super::{AppRunner, ServiceConfig};
use crate::secrets_check::{self, Lookup, SecretRef};

/// The service's runtime secrets, `(name, reference)`.
fn secrets_of(source: &SourceConfiguration) -> Vec<(&str, &str)> {
    source
        .image_repository
        .as_ref()
        .and_then(|r| r.image_configuration.as_ref())
        .and_then(|c| c.runtime_environment_secrets.as_ref())
        .map(|m| m.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect())
        .unwrap_or_default()
}

/// Up-front rule: secrets need an instance role to be read with.
pub(super) fn require_instance_role(
    source: &SourceConfiguration,
    instance: &InstanceConfiguration,
) -> Result<(), ApiError> {
    let has_role = instance
        .instance_role_arn
        .as_deref()
        .is_some_and(|r| !r.is_empty());
    if !secrets_of(source).is_empty() && !has_role {
        return Err(ApiError::invalid_request(
            "Instance Role have to be provided if passing in RuntimeEnvironmentSecrets.",
        ));
    }
    Ok(())
}

/// How App Runner reads one secret value.
fn reference(value: &str) -> SecretRef {
    secrets_check::parse_arn(value).unwrap_or_else(|| SecretRef::Parameter {
        region: None,
        account: None,
        name: value.to_string(),
    })
}

impl AppRunner {
    fn lookup(&self) -> Option<Lookup<'_>> {
        Some(Lookup {
            moto_url: self.ctx.moto_url.as_deref()?,
            account_id: &self.ctx.account_id,
            region: &self.ctx.default_region,
        })
    }

    /// Refuses an instance role IAM does not know, like App Runner does when it assumes it.
    pub(super) async fn check_instance_role(&self, config: &ServiceConfig) -> Result<(), ApiError> {
        let (Some(lookup), Some(role)) =
            (self.lookup(), config.instance.instance_role_arn.as_deref())
        else {
            return Ok(());
        };
        match lookup.role_exists(role).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(ApiError::invalid_request(format!(
                "Error in assuming instance role {role}"
            ))),
            Err(e) => Err(ApiError::internal(format!(
                "could not look up the instance role {role}: {e}"
            ))),
        }
    }

    /// Whether every runtime secret resolves, as an instance starting with `config` needs.
    /// A lookup that cannot be made counts as a failed read.
    pub(super) async fn secrets_resolve(&self, config: &ServiceConfig) -> bool {
        let Some(lookup) = self.lookup() else {
            return true;
        };
        for (_, value) in secrets_of(&config.source) {
            if !matches!(lookup.exists(&reference(value)).await, Ok(true)) {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apprunner::model::{ImageConfiguration, ImageRepository};

    fn source(secrets: &[(&str, &str)]) -> SourceConfiguration {
        SourceConfiguration {
            image_repository: Some(ImageRepository {
                image_configuration: Some(ImageConfiguration {
                    runtime_environment_secrets: Some(
                        secrets
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .collect(),
                    ),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn secrets_need_an_instance_role() {
        let with = |role: Option<&str>| InstanceConfiguration {
            instance_role_arn: role.map(str::to_string),
            ..Default::default()
        };
        let s = source(&[(
            "DB",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:db",
        )]);
        let err = require_instance_role(&s, &with(None)).expect_err("refused");
        assert_eq!(err.code, "InvalidRequestException");
        assert_eq!(
            err.message,
            "Instance Role have to be provided if passing in RuntimeEnvironmentSecrets."
        );
        assert!(require_instance_role(&s, &with(Some("arn:aws:iam::123456789012:role/r"))).is_ok());
        assert!(require_instance_role(&source(&[]), &with(None)).is_ok());
        assert!(require_instance_role(&SourceConfiguration::default(), &with(None)).is_ok());
    }

    #[test]
    fn bare_values_are_parameter_names() {
        assert_eq!(
            reference("/app/db-url"),
            SecretRef::Parameter {
                region: None,
                account: None,
                name: "/app/db-url".into()
            }
        );
    }
}
