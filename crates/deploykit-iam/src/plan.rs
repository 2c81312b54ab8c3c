//! What exists ([`RoleState`]) against what should ([`RoleSpec`]): the pure planner.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::policy::{same_policy, statement_differences};
use crate::spec::{RolePurpose, RoleSpec};

/// A role as IAM has it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExistingRole {
    pub arn: String,
    /// Decoded from IAM's URL encoding.
    pub trust_policy: Value,
    /// Attached managed policy ARNs.
    pub managed_policies: Vec<String>,
    /// Inline policies by name, decoded.
    pub inline_policies: BTreeMap<String, Value>,
}

/// An instance profile as IAM has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExistingProfile {
    pub name: String,
    pub arn: String,
    /// Role names in the profile (IAM allows at most one).
    pub roles: Vec<String>,
}

/// What exists for one [`RoleSpec`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoleState {
    pub name: String,
    /// `None`: no such role.
    pub role: Option<ExistingRole>,
    /// `None`: no such profile, or the spec wants none.
    pub instance_profile: Option<ExistingProfile>,
}

/// One mutating IAM call.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    CreateRole {
        role: String,
        description: String,
        trust_policy: Value,
    },
    UpdateTrustPolicy {
        role: String,
        trust_policy: Value,
    },
    AttachManagedPolicy {
        role: String,
        policy_arn: String,
    },
    DetachManagedPolicy {
        role: String,
        policy_arn: String,
    },
    PutInlinePolicy {
        role: String,
        policy_name: String,
        document: Value,
    },
    DeleteInlinePolicy {
        role: String,
        policy_name: String,
    },
    CreateInstanceProfile {
        profile: String,
    },
    RemoveRoleFromInstanceProfile {
        profile: String,
        role: String,
    },
    AddRoleToInstanceProfile {
        profile: String,
        role: String,
    },
}

impl Change {
    /// The IAM operation this change calls.
    pub fn operation(&self) -> &'static str {
        match self {
            Change::CreateRole { .. } => "CreateRole",
            Change::UpdateTrustPolicy { .. } => "UpdateAssumeRolePolicy",
            Change::AttachManagedPolicy { .. } => "AttachRolePolicy",
            Change::DetachManagedPolicy { .. } => "DetachRolePolicy",
            Change::PutInlinePolicy { .. } => "PutRolePolicy",
            Change::DeleteInlinePolicy { .. } => "DeleteRolePolicy",
            Change::CreateInstanceProfile { .. } => "CreateInstanceProfile",
            Change::RemoveRoleFromInstanceProfile { .. } => "RemoveRoleFromInstanceProfile",
            Change::AddRoleToInstanceProfile { .. } => "AddRoleToInstanceProfile",
        }
    }

    /// One line for a plan: `+ create role X`, `~ update trust policy of X`, ...
    pub fn describe(&self) -> String {
        match self {
            Change::CreateRole { role, .. } => format!("+ create role {role}"),
            Change::UpdateTrustPolicy { role, .. } => {
                format!("~ update the trust policy of {role}")
            }
            Change::AttachManagedPolicy { role, policy_arn } => {
                format!("+ attach {policy_arn} to {role}")
            }
            Change::DetachManagedPolicy { role, policy_arn } => {
                format!("- detach {policy_arn} from {role}")
            }
            Change::PutInlinePolicy {
                role, policy_name, ..
            } => format!("~ put inline policy {policy_name} on {role}"),
            Change::DeleteInlinePolicy { role, policy_name } => {
                format!("- delete inline policy {policy_name} from {role}")
            }
            Change::CreateInstanceProfile { profile } => {
                format!("+ create instance profile {profile}")
            }
            Change::RemoveRoleFromInstanceProfile { profile, role } => {
                format!("- remove role {role} from instance profile {profile}")
            }
            Change::AddRoleToInstanceProfile { profile, role } => {
                format!("+ add role {role} to instance profile {profile}")
            }
        }
    }
}

/// The plan for one role.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RolePlan {
    pub role: String,
    pub purpose: RolePurpose,
    /// The role exists (it is adopted, never recreated).
    pub exists: bool,
    /// Every way what exists differs from the spec, in words (empty: no drift).
    pub differences: Vec<String>,
    /// The calls that make it match, in order.
    pub changes: Vec<Change>,
}

/// The plan for every role.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IamPlan {
    pub roles: Vec<RolePlan>,
}

impl IamPlan {
    /// Nothing to change.
    pub fn is_empty(&self) -> bool {
        self.roles.iter().all(|r| r.changes.is_empty())
    }

    /// Every change, in order.
    pub fn changes(&self) -> impl Iterator<Item = &Change> {
        self.roles.iter().flat_map(|r| r.changes.iter())
    }

    /// Every difference, prefixed with its role.
    pub fn differences(&self) -> Vec<String> {
        self.roles
            .iter()
            .flat_map(|r| {
                r.differences
                    .iter()
                    .map(move |d| format!("{}: {d}", r.role))
            })
            .collect()
    }
}

/// What to change so that IAM matches `specs`. `states` holds one entry per spec (by name);
/// a spec without a state is planned as missing.
pub fn plan(specs: &[RoleSpec], states: &[RoleState]) -> IamPlan {
    IamPlan {
        roles: specs
            .iter()
            .map(|spec| plan_role(spec, states.iter().find(|s| s.name == spec.name)))
            .collect(),
    }
}

fn plan_role(spec: &RoleSpec, state: Option<&RoleState>) -> RolePlan {
    let role = spec.name.clone();
    let mut differences = Vec::new();
    let mut changes = Vec::new();
    let existing = state.and_then(|s| s.role.as_ref());
    match existing {
        None => {
            differences.push("the role does not exist".to_owned());
            changes.push(Change::CreateRole {
                role: role.clone(),
                description: spec.description.clone(),
                trust_policy: spec.trust_policy.clone(),
            });
            for arn in &spec.managed_policies {
                changes.push(Change::AttachManagedPolicy {
                    role: role.clone(),
                    policy_arn: arn.clone(),
                });
            }
            if let Some(p) = &spec.inline_policy {
                changes.push(Change::PutInlinePolicy {
                    role: role.clone(),
                    policy_name: p.name.clone(),
                    document: p.document.clone(),
                });
            }
        }
        Some(have) => {
            if !same_policy(&spec.trust_policy, &have.trust_policy) {
                differences.push(format!(
                    "trust policy differs: {}",
                    statement_differences(&spec.trust_policy, &have.trust_policy).join("; ")
                ));
                changes.push(Change::UpdateTrustPolicy {
                    role: role.clone(),
                    trust_policy: spec.trust_policy.clone(),
                });
            }
            for arn in &spec.managed_policies {
                if !have.managed_policies.contains(arn) {
                    differences.push(format!("managed policy {arn} is not attached"));
                    changes.push(Change::AttachManagedPolicy {
                        role: role.clone(),
                        policy_arn: arn.clone(),
                    });
                }
            }
            let mut extra: Vec<&String> = have
                .managed_policies
                .iter()
                .filter(|a| !spec.managed_policies.contains(a))
                .collect();
            extra.sort();
            for arn in extra {
                differences.push(format!(
                    "managed policy {arn} is attached but not specified"
                ));
                changes.push(Change::DetachManagedPolicy {
                    role: role.clone(),
                    policy_arn: arn.clone(),
                });
            }
            if let Some(p) = &spec.inline_policy {
                match have.inline_policies.get(&p.name) {
                    None => {
                        differences.push(format!("inline policy {} is missing", p.name));
                        changes.push(put(&role, p));
                    }
                    Some(doc) if !same_policy(&p.document, doc) => {
                        for d in statement_differences(&p.document, doc) {
                            differences.push(format!("inline policy {}: {d}", p.name));
                        }
                        changes.push(put(&role, p));
                    }
                    Some(_) => {}
                }
            }
            for name in have.inline_policies.keys() {
                if spec.inline_policy.as_ref().is_none_or(|p| &p.name != name) {
                    differences.push(format!("inline policy {name} exists but is not specified"));
                    changes.push(Change::DeleteInlinePolicy {
                        role: role.clone(),
                        policy_name: name.clone(),
                    });
                }
            }
        }
    }
    if let Some(profile) = &spec.instance_profile {
        match state.and_then(|s| s.instance_profile.as_ref()) {
            None => {
                differences.push(format!("instance profile {profile} does not exist"));
                changes.push(Change::CreateInstanceProfile {
                    profile: profile.clone(),
                });
                changes.push(Change::AddRoleToInstanceProfile {
                    profile: profile.clone(),
                    role: role.clone(),
                });
            }
            Some(p) => {
                for other in p.roles.iter().filter(|r| **r != role) {
                    differences.push(format!(
                        "instance profile {profile} carries role {other} instead of {role}"
                    ));
                    changes.push(Change::RemoveRoleFromInstanceProfile {
                        profile: profile.clone(),
                        role: other.clone(),
                    });
                }
                if !p.roles.contains(&role) {
                    if p.roles.is_empty() {
                        differences.push(format!("instance profile {profile} has no role"));
                    }
                    changes.push(Change::AddRoleToInstanceProfile {
                        profile: profile.clone(),
                        role: role.clone(),
                    });
                }
            }
        }
    }
    RolePlan {
        role,
        purpose: spec.purpose,
        exists: existing.is_some(),
        differences,
        changes,
    }
}

fn put(role: &str, p: &crate::spec::InlinePolicy) -> Change {
    Change::PutInlinePolicy {
        role: role.to_owned(),
        policy_name: p.name.clone(),
        document: p.document.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{AppRoles, EB_WEB_TIER, desired_roles};
    use serde_json::json;

    fn spec() -> RoleSpec {
        desired_roles(&AppRoles {
            app: "a".into(),
            eb_instance_profile: Some("a-ec2".into()),
            secret_arns: vec![
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:a/k-AbCdEf".into(),
            ],
            bucket: Some("a-bucket".into()),
            ..AppRoles::default()
        })
        .remove(0)
    }

    /// The state that exactly matches `spec`, with the documents spelled differently.
    fn matching(spec: &RoleSpec) -> RoleState {
        let inline = spec.inline_policy.as_ref().expect("inline");
        let mut reordered = inline.document.clone();
        reordered["Statement"]
            .as_array_mut()
            .expect("statements")
            .reverse();
        RoleState {
            name: spec.name.clone(),
            role: Some(ExistingRole {
                arn: format!("arn:aws:iam::123456789012:role/{}", spec.name),
                trust_policy: json!({"Version":"2012-10-17","Statement":[{"Action":["sts:AssumeRole"],"Principal":{"Service":["ec2.amazonaws.com"]},"Effect":"Allow"}]}),
                managed_policies: spec.managed_policies.clone(),
                inline_policies: [(inline.name.clone(), reordered)].into_iter().collect(),
            }),
            instance_profile: Some(ExistingProfile {
                name: spec.name.clone(),
                arn: format!("arn:aws:iam::123456789012:instance-profile/{}", spec.name),
                roles: vec![spec.name.clone()],
            }),
        }
    }

    #[test]
    fn nothing_exists_plans_every_call() {
        let s = spec();
        let p = plan(std::slice::from_ref(&s), &[]);
        let ops: Vec<&str> = p.changes().map(Change::operation).collect();
        assert_eq!(
            ops,
            [
                "CreateRole",
                "AttachRolePolicy",
                "PutRolePolicy",
                "CreateInstanceProfile",
                "AddRoleToInstanceProfile"
            ]
        );
        assert!(!p.roles[0].exists);
        assert_eq!(
            p.changes().next().map(Change::describe).as_deref(),
            Some("+ create role a-ec2")
        );
    }

    #[test]
    fn a_matching_role_plans_nothing() {
        let s = spec();
        let p = plan(std::slice::from_ref(&s), &[matching(&s)]);
        assert!(p.is_empty(), "{p:?}");
        assert!(p.differences().is_empty());
    }

    #[test]
    fn every_difference_is_drift() {
        let s = spec();
        let mut st = matching(&s);
        let role = st.role.as_mut().expect("role");
        role.managed_policies.clear();
        role.managed_policies
            .push("arn:aws:iam::aws:policy/AdministratorAccess".into());
        role.inline_policies
            .get_mut("deploykit-app-access")
            .expect("inline")["Statement"]
            .as_array_mut()
            .expect("statements")
            .push(json!({"Effect":"Allow","Action":"s3:*","Resource":"*"}));
        role.inline_policies.insert("old".into(), json!({}));
        role.trust_policy = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]});
        st.instance_profile.as_mut().expect("profile").roles = vec!["intruder".into()];
        let p = plan(std::slice::from_ref(&s), &[st]);
        let d = p.differences();
        let has = |needle: &str| d.iter().any(|x| x.contains(needle));
        assert!(has("trust policy differs"), "{d:?}");
        assert!(
            has(&format!("managed policy {EB_WEB_TIER} is not attached")),
            "{d:?}"
        );
        assert!(
            has("AdministratorAccess is attached but not specified"),
            "{d:?}"
        );
        assert!(
            has("inline policy deploykit-app-access: extra statement"),
            "{d:?}"
        );
        assert!(
            has("inline policy old exists but is not specified"),
            "{d:?}"
        );
        assert!(has("carries role intruder"), "{d:?}");
        let ops: Vec<&str> = p.changes().map(Change::operation).collect();
        assert_eq!(
            ops,
            [
                "UpdateAssumeRolePolicy",
                "AttachRolePolicy",
                "DetachRolePolicy",
                "PutRolePolicy",
                "DeleteRolePolicy",
                "RemoveRoleFromInstanceProfile",
                "AddRoleToInstanceProfile"
            ]
        );
    }

    #[test]
    fn an_existing_role_without_profile_gets_one() {
        let s = spec();
        let mut st = matching(&s);
        st.instance_profile = None;
        let p = plan(std::slice::from_ref(&s), &[st]);
        let ops: Vec<&str> = p.changes().map(Change::operation).collect();
        assert_eq!(ops, ["CreateInstanceProfile", "AddRoleToInstanceProfile"]);
        assert!(p.roles[0].exists);
    }
}
