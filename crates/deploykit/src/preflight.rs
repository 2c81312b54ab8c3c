//! What a deploy checks against AWS before planning: the caller, the secrets' real ARNs and
//! the IAM roles it needs. Read-only.

use std::fmt;

use deploykit_aws::CallerIdentity;
use deploykit_config::ResolvedTarget;
use deploykit_secrets::{ResolvedSecret, Secrets};

use crate::mapping::{iam_name, secret_refs};
use crate::{Error, Result};

/// Who the credentials are (one STS `GetCallerIdentity`); refuses when the target's
/// `account_id` is set and differs, before anything is changed.
pub async fn caller(t: &ResolvedTarget, sdk: &aws_types::SdkConfig) -> Result<CallerIdentity> {
    let me = deploykit_aws::caller_identity(sdk).await?;
    me.check_account(t.account_id.as_deref())
        .map_err(|source| Error::WrongAccount {
            target: t.name.clone(),
            profile: t.profile.clone(),
            source: Box::new(source),
        })?;
    Ok(me)
}

/// Resolves the target's `[secrets]` to the ARNs Secrets Manager returns (`DescribeSecret`).
/// Every reference is checked; missing ones are refused together, naming each. The one place
/// deploys get secret ARNs from.
pub async fn resolve_secrets(
    t: &ResolvedTarget,
    sdk: &aws_types::SdkConfig,
) -> Result<Vec<ResolvedSecret>> {
    Ok(Secrets::new(sdk).resolve(&secret_refs(t)).await?)
}

/// A `[secrets]` entry with the ARN Secrets Manager returned.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SecretArn {
    pub env_var: String,
    pub name: String,
    pub arn: String,
}

impl From<&ResolvedSecret> for SecretArn {
    fn from(s: &ResolvedSecret) -> Self {
        SecretArn {
            env_var: s.env_var.clone(),
            name: s.name.clone(),
            arn: s.arn.clone(),
        }
    }
}

/// An IAM role or instance profile a deploy needs, found by name.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RoleRef {
    /// What it is for, e.g. `[eb] service_role`.
    pub field: &'static str,
    pub name: String,
    pub arn: String,
}

/// What kind of IAM entity a [`RoleRef`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IamKind {
    Role,
    InstanceProfile,
}

/// Looks up each `(field, kind, name or ARN)` in IAM; refuses listing every missing one,
/// before any change.
pub async fn require_iam(
    t: &ResolvedTarget,
    sdk: &aws_types::SdkConfig,
    wanted: &[(&'static str, IamKind, String)],
) -> Result<Vec<RoleRef>> {
    let iam = deploykit_iam::Iam::new(sdk);
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for (field, kind, value) in wanted {
        let name = iam_name(value).to_string();
        let arn = match kind {
            IamKind::Role => iam.role_arn(&name).await?,
            IamKind::InstanceProfile => iam.instance_profile_arn(&name).await?,
        };
        match arn {
            Some(arn) => found.push(RoleRef { field, name, arn }),
            None => missing.push(format!(
                "{} `{name}` ({field})",
                match kind {
                    IamKind::Role => "IAM role",
                    IamKind::InstanceProfile => "instance profile",
                }
            )),
        }
    }
    if missing.is_empty() {
        Ok(found)
    } else {
        Err(Error::MissingIam {
            target: t.name.clone(),
            missing,
        })
    }
}

/// What a deploy checked against AWS before planning.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Preflight {
    pub caller: CallerIdentity,
    pub secrets: Vec<SecretArn>,
    pub iam: Vec<RoleRef>,
}

impl fmt::Display for Preflight {
    /// The plan's header lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Checked before planning:\n  {}", self.caller)?;
        for s in &self.secrets {
            write!(f, "\n  secret {} <- {}", s.env_var, s.arn)?;
        }
        for i in &self.iam {
            write!(f, "\n  {} {}: {}", i.field, i.name, i.arn)?;
        }
        Ok(())
    }
}
