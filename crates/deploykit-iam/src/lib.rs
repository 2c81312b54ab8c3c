//! IAM for deploykit: the roles each route needs, created or adopted and checked for drift,
//! with least-privilege inline policies; and lookups that deploy planners use to refuse a
//! missing role before any change.
//!
//! Libraries never print: progress goes to the [`deploykit_report::Reporter`] passed in.
//!
//! Plan, then execute: [`desired_roles`] turns plain names into [`RoleSpec`]s,
//! [`Iam::inspect`] reads what exists, the pure [`plan()`] lists every difference and the calls
//! that fix it, [`Iam::apply`] makes them (idempotent; an existing role is adopted).
//! [`deployer`] builds the least-privilege policy of whoever runs deploykit itself.

pub mod deployer;
mod diagnostic;
pub mod github_oidc;
mod plan;
pub mod policy;
mod spec;

use std::collections::BTreeMap;

use aws_sdk_iam::Client;
use aws_types::SdkConfig;
use deploykit_aws::{Classified, ErrorKind, classify};
use deploykit_report::{Event, Reporter, StepTimer};
use serde::Serialize;

pub use plan::{Change, ExistingProfile, ExistingRole, IamPlan, RolePlan, RoleState, plan};
pub use spec::{
    APP_ACCESS_POLICY, APPRUNNER_ECR_ACCESS, AppRoles, EB_ENHANCED_HEALTH, EB_MANAGED_UPDATES,
    EB_WEB_TIER, ECS_EXPRESS_INFRASTRUCTURE, ECS_TASK_EXECUTION, InlinePolicy, RolePurpose,
    RoleSpec, app_access_policy, desired_roles,
};

/// What can go wrong talking to IAM.
#[derive(Debug, thiserror::Error)]
pub enum IamError {
    #[error("IAM {operation} for `{subject}` failed: {classified}")]
    Aws {
        operation: &'static str,
        /// The role, profile or policy the call was about.
        subject: String,
        classified: Box<Classified>,
    },
    #[error("IAM returned a {what} for role `{role}` that is not a JSON policy document")]
    BadDocument { role: String, what: &'static str },
    #[error(
        "managed policy {policy_arn} (for role `{role}`) does not exist in this account; nothing was changed"
    )]
    NoSuchManagedPolicy { role: String, policy_arn: String },
}

impl IamError {
    /// The classification of the AWS error, when this is one.
    pub fn aws_kind(&self) -> Option<ErrorKind> {
        match self {
            IamError::Aws { classified, .. } => Some(classified.kind),
            IamError::BadDocument { .. } | IamError::NoSuchManagedPolicy { .. } => None,
        }
    }
}

fn aws_err<E>(
    operation: &'static str,
    subject: &str,
    err: &aws_sdk_iam::error::SdkError<E, aws_sdk_iam::config::http::HttpResponse>,
) -> IamError
where
    E: aws_sdk_iam::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    IamError::Aws {
        operation,
        subject: subject.to_owned(),
        classified: Box::new(classify(err)),
    }
}

fn not_found(c: &Classified) -> bool {
    c.kind == ErrorKind::NotFound || c.code.as_deref() == Some("NoSuchEntity")
}

/// What [`ensure`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IamOutcome {
    /// The plan that was applied (empty: nothing was changed, no mutating call made).
    pub plan: IamPlan,
    /// Role ARNs by role name, after the changes.
    pub role_arns: BTreeMap<String, String>,
    /// Instance profile ARNs by profile name, after the changes.
    pub instance_profile_arns: BTreeMap<String, String>,
}

impl IamOutcome {
    pub fn unchanged(&self) -> bool {
        self.plan.is_empty()
    }
}

/// Plans and applies the roles `roles` names: creates what is missing, adopts what exists and
/// fixes every drift. Running it again changes nothing.
pub async fn ensure(iam: &Iam, roles: &AppRoles, r: &dyn Reporter) -> Result<IamOutcome, IamError> {
    iam.ensure_specs(&desired_roles(roles), r).await
}

/// ARNs learned while applying.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Applied {
    pub role_arns: BTreeMap<String, String>,
    pub instance_profile_arns: BTreeMap<String, String>,
    /// Mutating calls made.
    pub calls: usize,
}

/// IAM calls deploykit makes. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Iam {
    client: Client,
}

impl Iam {
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            client: Client::new(sdk),
        }
    }

    pub fn from_client(client: Client) -> Self {
        Self { client }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The ARN IAM gives role `name`, or `None` when no such role exists.
    pub async fn role_arn(&self, name: &str) -> Result<Option<String>, IamError> {
        match self.client.get_role().role_name(name).send().await {
            Ok(out) => Ok(out.role().map(|r| r.arn().to_owned())),
            Err(e) => {
                let c = classify(&e);
                if c.kind == ErrorKind::NotFound || c.code.as_deref() == Some("NoSuchEntity") {
                    Ok(None)
                } else {
                    Err(IamError::Aws {
                        operation: "GetRole",
                        subject: name.to_owned(),
                        classified: Box::new(c),
                    })
                }
            }
        }
    }

    /// The ARN of instance profile `name`, or `None` when no such profile exists.
    pub async fn instance_profile_arn(&self, name: &str) -> Result<Option<String>, IamError> {
        match self
            .client
            .get_instance_profile()
            .instance_profile_name(name)
            .send()
            .await
        {
            Ok(out) => Ok(out.instance_profile().map(|p| p.arn().to_owned())),
            Err(e) => {
                let c = classify(&e);
                if c.kind == ErrorKind::NotFound || c.code.as_deref() == Some("NoSuchEntity") {
                    Ok(None)
                } else {
                    Err(IamError::Aws {
                        operation: "GetInstanceProfile",
                        subject: name.to_owned(),
                        classified: Box::new(c),
                    })
                }
            }
        }
    }

    /// [`ensure`] for specs built by hand (e.g. other managed policies): inspect, plan,
    /// apply.
    pub async fn ensure_specs(
        &self,
        specs: &[RoleSpec],
        r: &dyn Reporter,
    ) -> Result<IamOutcome, IamError> {
        let states = self.inspect(specs).await?;
        let plan = plan(specs, &states);
        self.check_attachable(&plan).await?;
        let applied = self.apply(&plan, r).await?;
        let mut role_arns = BTreeMap::new();
        let mut instance_profile_arns = BTreeMap::new();
        for st in &states {
            if let Some(role) = &st.role {
                role_arns.insert(st.name.clone(), role.arn.clone());
            }
            if let Some(p) = &st.instance_profile {
                instance_profile_arns.insert(p.name.clone(), p.arn.clone());
            }
        }
        role_arns.extend(applied.role_arns);
        instance_profile_arns.extend(applied.instance_profile_arns);
        Ok(IamOutcome {
            plan,
            role_arns,
            instance_profile_arns,
        })
    }

    /// Refuses, before any change, a plan that would attach a managed policy that does not
    /// exist (`GetPolicy`), so a typo or a missing AWS managed policy never stops an apply
    /// halfway.
    pub async fn check_attachable(&self, plan: &IamPlan) -> Result<(), IamError> {
        let mut checked = std::collections::BTreeSet::new();
        for change in plan.changes() {
            let Change::AttachManagedPolicy { role, policy_arn } = change else {
                continue;
            };
            if !checked.insert(policy_arn.clone()) {
                continue;
            }
            if let Err(e) = self.client.get_policy().policy_arn(policy_arn).send().await {
                return Err(if not_found(&classify(&e)) {
                    IamError::NoSuchManagedPolicy {
                        role: role.clone(),
                        policy_arn: policy_arn.clone(),
                    }
                } else {
                    aws_err("GetPolicy", policy_arn, &e)
                });
            }
        }
        Ok(())
    }

    /// Reads what exists for each spec: the role (trust policy, managed and inline policies)
    /// and its instance profile. Read-only.
    pub async fn inspect(&self, specs: &[RoleSpec]) -> Result<Vec<RoleState>, IamError> {
        let mut out = Vec::with_capacity(specs.len());
        for spec in specs {
            let role = self.existing_role(&spec.name).await?;
            let instance_profile = match &spec.instance_profile {
                Some(p) => self.existing_profile(p).await?,
                None => None,
            };
            out.push(RoleState {
                name: spec.name.clone(),
                role,
                instance_profile,
            });
        }
        Ok(out)
    }

    async fn existing_role(&self, name: &str) -> Result<Option<ExistingRole>, IamError> {
        let role = match self.client.get_role().role_name(name).send().await {
            Ok(out) => match out.role {
                Some(r) => r,
                None => return Ok(None),
            },
            Err(e) => {
                let c = classify(&e);
                return if not_found(&c) {
                    Ok(None)
                } else {
                    Err(aws_err("GetRole", name, &e))
                };
            }
        };
        let trust_policy = role
            .assume_role_policy_document()
            .map(|d| {
                policy::parse_document(d).ok_or_else(|| IamError::BadDocument {
                    role: name.to_owned(),
                    what: "trust policy",
                })
            })
            .transpose()?
            .unwrap_or(serde_json::Value::Null);
        let mut managed_policies = Vec::new();
        let mut pages = self
            .client
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
        let mut pages = self
            .client
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
            let out = self
                .client
                .get_role_policy()
                .role_name(name)
                .policy_name(&policy_name)
                .send()
                .await
                .map_err(|e| aws_err("GetRolePolicy", &format!("{name}/{policy_name}"), &e))?;
            let doc = policy::parse_document(out.policy_document()).ok_or_else(|| {
                IamError::BadDocument {
                    role: name.to_owned(),
                    what: "inline policy",
                }
            })?;
            inline_policies.insert(policy_name, doc);
        }
        Ok(Some(ExistingRole {
            arn: role.arn,
            trust_policy,
            managed_policies,
            inline_policies,
        }))
    }

    async fn existing_profile(&self, name: &str) -> Result<Option<ExistingProfile>, IamError> {
        match self
            .client
            .get_instance_profile()
            .instance_profile_name(name)
            .send()
            .await
        {
            Ok(out) => Ok(out.instance_profile.map(|p| ExistingProfile {
                name: p.instance_profile_name,
                arn: p.arn,
                roles: p.roles.into_iter().map(|r| r.role_name).collect(),
            })),
            Err(e) => {
                let c = classify(&e);
                if not_found(&c) {
                    Ok(None)
                } else {
                    Err(aws_err("GetInstanceProfile", name, &e))
                }
            }
        }
    }

    /// Makes the calls `plan` lists, in order. Idempotent: a role or profile that appeared
    /// since the plan (EntityAlreadyExists) is adopted, a policy already detached or deleted
    /// is fine. An empty plan makes no call.
    pub async fn apply(&self, plan: &IamPlan, r: &dyn Reporter) -> Result<Applied, IamError> {
        let mut applied = Applied::default();
        if plan.is_empty() {
            r.report(Event::StepSkipped {
                step: "iam".into(),
                reason: format!("{} IAM role(s) already as specified", plan.roles.len()),
            });
            return Ok(applied);
        }
        let n = plan.changes().count();
        let t = StepTimer::start(r, "iam", format!("Applying {n} IAM change(s)"));
        for change in plan.changes() {
            r.report(Event::info(change.describe()));
            self.apply_one(change, &mut applied, r).await?;
            applied.calls += 1;
        }
        t.finish(r, format!("{n} IAM change(s) applied"));
        Ok(applied)
    }

    async fn apply_one(
        &self,
        change: &Change,
        applied: &mut Applied,
        r: &dyn Reporter,
    ) -> Result<(), IamError> {
        let c = &self.client;
        match change {
            Change::CreateRole {
                role,
                description,
                trust_policy,
            } => {
                match c
                    .create_role()
                    .role_name(role)
                    .description(description)
                    .assume_role_policy_document(trust_policy.to_string())
                    .send()
                    .await
                {
                    Ok(out) => {
                        if let Some(created) = out.role {
                            applied.role_arns.insert(role.clone(), created.arn);
                        }
                    }
                    Err(e) if classify(&e).kind == ErrorKind::AlreadyExists => {
                        // Created by someone else since the plan: adopt it, with our trust.
                        r.report(Event::info(format!(
                            "role {role} appeared since the plan; adopting it"
                        )));
                        c.update_assume_role_policy()
                            .role_name(role)
                            .policy_document(trust_policy.to_string())
                            .send()
                            .await
                            .map_err(|e| aws_err("UpdateAssumeRolePolicy", role, &e))?;
                    }
                    Err(e) => return Err(aws_err("CreateRole", role, &e)),
                }
            }
            Change::UpdateTrustPolicy { role, trust_policy } => {
                c.update_assume_role_policy()
                    .role_name(role)
                    .policy_document(trust_policy.to_string())
                    .send()
                    .await
                    .map_err(|e| aws_err("UpdateAssumeRolePolicy", role, &e))?;
            }
            Change::AttachManagedPolicy { role, policy_arn } => {
                c.attach_role_policy()
                    .role_name(role)
                    .policy_arn(policy_arn)
                    .send()
                    .await
                    .map_err(|e| {
                        aws_err("AttachRolePolicy", &format!("{role} <- {policy_arn}"), &e)
                    })?;
            }
            Change::DetachManagedPolicy { role, policy_arn } => {
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
            }
            Change::PutInlinePolicy {
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
            }
            Change::DeleteInlinePolicy { role, policy_name } => {
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
            }
            Change::CreateInstanceProfile { profile } => {
                match c
                    .create_instance_profile()
                    .instance_profile_name(profile)
                    .send()
                    .await
                {
                    Ok(out) => {
                        if let Some(p) = out.instance_profile {
                            applied.instance_profile_arns.insert(profile.clone(), p.arn);
                        }
                    }
                    Err(e) if classify(&e).kind == ErrorKind::AlreadyExists => {
                        r.report(Event::info(format!(
                            "instance profile {profile} appeared since the plan; adopting it"
                        )));
                    }
                    Err(e) => return Err(aws_err("CreateInstanceProfile", profile, &e)),
                }
            }
            Change::RemoveRoleFromInstanceProfile { profile, role } => {
                if let Err(e) = c
                    .remove_role_from_instance_profile()
                    .instance_profile_name(profile)
                    .role_name(role)
                    .send()
                    .await
                    && !not_found(&classify(&e))
                {
                    return Err(aws_err(
                        "RemoveRoleFromInstanceProfile",
                        &format!("{profile} -> {role}"),
                        &e,
                    ));
                }
            }
            Change::AddRoleToInstanceProfile { profile, role } => {
                if let Err(e) = c
                    .add_role_to_instance_profile()
                    .instance_profile_name(profile)
                    .role_name(role)
                    .send()
                    .await
                {
                    // LimitExceeded: the profile has a role already; fine if it is this one
                    // (added by a concurrent run).
                    let already = classify(&e).kind == ErrorKind::QuotaExceeded
                        && self
                            .existing_profile(profile)
                            .await?
                            .is_some_and(|p| p.roles.contains(role));
                    if !already {
                        return Err(aws_err(
                            "AddRoleToInstanceProfile",
                            &format!("{profile} <- {role}"),
                            &e,
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}
