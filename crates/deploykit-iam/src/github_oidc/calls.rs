//! The IAM calls of [`super::ensure`]: reading GitHub's provider and the deploy role, and
//! making one [`OidcChange`].

use std::collections::BTreeMap;

use deploykit_aws::{ErrorKind, classify};
use serde_json::Value;

use super::{GITHUB_OIDC_HOST, Observed, ObservedProvider, ObservedRole, OidcChange};
use crate::policy::parse_document;
use crate::{Iam, IamError, aws_err, not_found};

/// What one applied change learned.
pub(super) enum Applied {
    Provider(String),
    Role(String),
    Nothing,
}

impl Iam {
    /// Reads GitHub's provider (by its ARN's host part) and role `role`. Read-only.
    pub async fn observe_github_oidc(&self, role: &str) -> Result<Observed, IamError> {
        Ok(Observed {
            provider: self.observe_github_oidc_provider().await?,
            role: self.observe_role(role).await?,
        })
    }

    async fn observe_github_oidc_provider(&self) -> Result<Option<ObservedProvider>, IamError> {
        let c = self.client();
        let list = c
            .list_open_id_connect_providers()
            .send()
            .await
            .map_err(|e| aws_err("ListOpenIDConnectProviders", GITHUB_OIDC_HOST, &e))?;
        let suffix = format!(":oidc-provider/{GITHUB_OIDC_HOST}");
        let arn = list
            .open_id_connect_provider_list()
            .iter()
            .filter_map(|p| p.arn())
            .find(|a| a.ends_with(&suffix))
            .map(str::to_owned);
        let provider = match arn {
            None => None,
            Some(arn) => {
                let out = c
                    .get_open_id_connect_provider()
                    .open_id_connect_provider_arn(&arn)
                    .send()
                    .await
                    .map_err(|e| aws_err("GetOpenIDConnectProvider", &arn, &e))?;
                Some(ObservedProvider {
                    client_ids: out.client_id_list().to_vec(),
                    arn,
                })
            }
        };
        Ok(provider)
    }

    async fn observe_role(&self, name: &str) -> Result<Option<ObservedRole>, IamError> {
        let c = self.client();
        let role = match c.get_role().role_name(name).send().await {
            Ok(out) => match out.role {
                Some(r) => r,
                None => return Ok(None),
            },
            Err(e) if not_found(&classify(&e)) => return Ok(None),
            Err(e) => return Err(aws_err("GetRole", name, &e)),
        };
        let bad = |what| IamError::BadDocument {
            role: name.to_owned(),
            what,
        };
        let trust_policy = match role.assume_role_policy_document() {
            Some(d) => parse_document(d).ok_or_else(|| bad("trust policy"))?,
            None => Value::Null,
        };
        let mut managed_policies = Vec::new();
        let mut pages = c
            .list_attached_role_policies()
            .role_name(name)
            .into_paginator()
            .send();
        while let Some(page) = pages
            .try_next()
            .await
            .map_err(|e| aws_err("ListAttachedRolePolicies", name, &e))?
        {
            managed_policies.extend(
                page.attached_policies()
                    .iter()
                    .filter_map(|p| p.policy_arn().map(str::to_owned)),
            );
        }
        managed_policies.sort();
        let mut names = Vec::new();
        let mut pages = c
            .list_role_policies()
            .role_name(name)
            .into_paginator()
            .send();
        while let Some(page) = pages
            .try_next()
            .await
            .map_err(|e| aws_err("ListRolePolicies", name, &e))?
        {
            names.extend(page.policy_names().iter().cloned());
        }
        let mut inline_policies = BTreeMap::new();
        for policy_name in names {
            let out = c
                .get_role_policy()
                .role_name(name)
                .policy_name(&policy_name)
                .send()
                .await
                .map_err(|e| aws_err("GetRolePolicy", &format!("{name}/{policy_name}"), &e))?;
            let doc = parse_document(out.policy_document()).ok_or_else(|| bad("inline policy"))?;
            inline_policies.insert(policy_name, doc);
        }
        Ok(Some(ObservedRole {
            max_session_seconds: role.max_session_duration,
            arn: role.arn,
            trust_policy,
            inline_policies,
            managed_policies,
        }))
    }

    pub(super) async fn apply_oidc_change(&self, change: &OidcChange) -> Result<Applied, IamError> {
        let c = self.client();
        Ok(match change {
            OidcChange::CreateProvider { url, client_id } => {
                match c
                    .create_open_id_connect_provider()
                    .url(url)
                    .client_id_list(client_id)
                    .send()
                    .await
                {
                    Ok(out) => match out.open_id_connect_provider_arn {
                        Some(arn) => Applied::Provider(arn),
                        None => Applied::Nothing,
                    },
                    Err(e) if classify(&e).kind == ErrorKind::AlreadyExists => {
                        // Created since the plan: adopt it, with our client id (adding one
                        // it has already is not an error).
                        let Some(p) = self.observe_github_oidc_provider().await? else {
                            return Err(aws_err("CreateOpenIDConnectProvider", url, &e));
                        };
                        c.add_client_id_to_open_id_connect_provider()
                            .open_id_connect_provider_arn(&p.arn)
                            .client_id(client_id)
                            .send()
                            .await
                            .map_err(|e| {
                                aws_err("AddClientIDToOpenIDConnectProvider", &p.arn, &e)
                            })?;
                        Applied::Provider(p.arn)
                    }
                    Err(e) => return Err(aws_err("CreateOpenIDConnectProvider", url, &e)),
                }
            }
            OidcChange::AddClientId {
                provider_arn,
                client_id,
            } => {
                c.add_client_id_to_open_id_connect_provider()
                    .open_id_connect_provider_arn(provider_arn)
                    .client_id(client_id)
                    .send()
                    .await
                    .map_err(|e| aws_err("AddClientIDToOpenIDConnectProvider", provider_arn, &e))?;
                Applied::Nothing
            }
            OidcChange::CreateRole {
                role,
                trust_policy,
                max_session_seconds,
            } => {
                match c
                    .create_role()
                    .role_name(role)
                    .description("GitHub Actions deploys (OIDC, one repository and branch)")
                    .assume_role_policy_document(trust_policy.to_string())
                    .max_session_duration(*max_session_seconds)
                    .send()
                    .await
                {
                    Ok(out) => match out.role {
                        Some(created) => Applied::Role(created.arn),
                        None => Applied::Nothing,
                    },
                    Err(e) if classify(&e).kind == ErrorKind::AlreadyExists => {
                        // Created since the plan: adopt it, with this trust.
                        c.update_assume_role_policy()
                            .role_name(role)
                            .policy_document(trust_policy.to_string())
                            .send()
                            .await
                            .map_err(|e| aws_err("UpdateAssumeRolePolicy", role, &e))?;
                        Applied::Nothing
                    }
                    Err(e) => return Err(aws_err("CreateRole", role, &e)),
                }
            }
            OidcChange::UpdateTrustPolicy { role, trust_policy } => {
                c.update_assume_role_policy()
                    .role_name(role)
                    .policy_document(trust_policy.to_string())
                    .send()
                    .await
                    .map_err(|e| aws_err("UpdateAssumeRolePolicy", role, &e))?;
                Applied::Nothing
            }
            OidcChange::UpdateMaxSession {
                role,
                max_session_seconds,
            } => {
                c.update_role()
                    .role_name(role)
                    .max_session_duration(*max_session_seconds)
                    .send()
                    .await
                    .map_err(|e| aws_err("UpdateRole", role, &e))?;
                Applied::Nothing
            }
            OidcChange::PutInlinePolicy {
                role,
                policy_name,
                document,
            } => {
                c.put_role_policy()
                    .role_name(role)
                    .policy_name(policy_name)
                    .policy_document(document.to_string())
                    .send()
                    .await
                    .map_err(|e| aws_err("PutRolePolicy", &format!("{role}/{policy_name}"), &e))?;
                Applied::Nothing
            }
            OidcChange::DeleteInlinePolicy { role, policy_name } => {
                if let Err(e) = c
                    .delete_role_policy()
                    .role_name(role)
                    .policy_name(policy_name)
                    .send()
                    .await
                    && !not_found(&classify(&e))
                {
                    return Err(aws_err(
                        "DeleteRolePolicy",
                        &format!("{role}/{policy_name}"),
                        &e,
                    ));
                }
                Applied::Nothing
            }
            OidcChange::DetachManagedPolicy { role, policy_arn } => {
                if let Err(e) = c
                    .detach_role_policy()
                    .role_name(role)
                    .policy_arn(policy_arn)
                    .send()
                    .await
                    && !not_found(&classify(&e))
                {
                    return Err(aws_err(
                        "DetachRolePolicy",
                        &format!("{role} -> {policy_arn}"),
                        &e,
                    ));
                }
                Applied::Nothing
            }
        })
    }
}
