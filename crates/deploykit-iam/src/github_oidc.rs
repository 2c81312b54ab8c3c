//! GitHub Actions deploys without access keys: the account's OIDC provider for
//! `token.actions.githubusercontent.com` and a role that only one repository's branch may
//! assume, carrying the deployer's policy ([`crate::deployer::deployer_policy`]).
//!
//! [`GithubOidc::new`] validates the repository and branch; [`Iam::observe_github_oidc`] reads
//! what exists; the pure [`plan()`] lists the calls; [`ensure`] makes them. A second run makes
//! no mutating call (trust and inline policy are compared semantically).
//!
//! AWS no longer checks a thumbprint for GitHub's provider, and neither the SDK nor moto
//! requires `ThumbprintList`: the provider is created without one.

use std::collections::BTreeMap;

use deploykit_report::{Category, Diagnostic, Event, Reporter, StepTimer};
use serde::Serialize;
use serde_json::{Value, json};

use crate::policy::{POLICY_VERSION, same_policy, statement_differences};
use crate::{Iam, IamError};

/// GitHub's OIDC issuer.
pub const GITHUB_OIDC_URL: &str = "https://token.actions.githubusercontent.com";
/// The issuer's host: the provider ARN's last part and the condition keys' prefix.
pub const GITHUB_OIDC_HOST: &str = "token.actions.githubusercontent.com";
/// The audience `aws-actions/configure-aws-credentials` asks for.
pub const STS_AUDIENCE: &str = "sts.amazonaws.com";
/// The role's maximum session: one hour.
pub const MAX_SESSION_SECONDS: i32 = 3600;
/// The name of the role's one inline policy.
pub const DEPLOYER_POLICY_NAME: &str = "deploykit-deployer";

/// A flag value `iam github-oidc` refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcInputError {
    #[error("--repo `{value}` is not OWNER/NAME: {reason}")]
    Repo { value: String, reason: &'static str },
    #[error("--branch `{value}` is not a single branch name: {reason}")]
    Branch { value: String, reason: &'static str },
    #[error("--role-name `{value}` is not an IAM role name: {reason}")]
    RoleName { value: String, reason: &'static str },
}

impl Diagnostic for OidcInputError {
    fn category(&self) -> Category {
        Category::Input
    }

    fn help(&self) -> Option<String> {
        Some(
            match self {
                OidcInputError::Repo { .. } => {
                    "pass the repository as it appears in its GitHub URL, e.g. --repo octo-org/budgetsync (owner: letters, digits and single hyphens; name: letters, digits, `.`, `-`, `_`)"
                }
                OidcInputError::Branch { .. } => {
                    "pass one branch name, e.g. --branch main; wildcards (`*`, `?`) would let every matching branch assume the deploy role"
                }
                OidcInputError::RoleName { .. } => {
                    "use at most 64 letters, digits and `+=,.@_-`, or leave --role-name out for <app>-github-deploy"
                }
            }
            .to_owned(),
        )
    }
}

/// The provider and role that should exist. Built only by [`GithubOidc::new`] (validated).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GithubOidc {
    repo: String,
    branch: String,
    role_name: String,
    partition: String,
    account: String,
    deployer_policy: Value,
}

fn check_repo(repo: &str) -> Result<(), &'static str> {
    let Some((owner, name)) = repo.split_once('/') else {
        return Err("it needs one `/` between owner and repository name");
    };
    if owner.is_empty() || name.is_empty() {
        return Err("owner and name must both be given");
    }
    if name.contains('/') {
        return Err("it has more than one `/`");
    }
    if owner.len() > 39
        || owner.starts_with('-')
        || owner.ends_with('-')
        || owner.contains("--")
        || !owner.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err("the owner allows at most 39 letters, digits and single inner hyphens");
    }
    if name.len() > 100
        || name == "."
        || name == ".."
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        return Err("the name allows at most 100 letters, digits, `.`, `-` and `_`");
    }
    Ok(())
}

fn check_branch(branch: &str) -> Result<(), &'static str> {
    if branch.is_empty() {
        return Err("it is empty");
    }
    if branch.contains(['*', '?']) {
        return Err("it has a wildcard");
    }
    if branch.starts_with("refs/") {
        return Err("give the branch name without refs/heads/");
    }
    if branch.starts_with('/')
        || branch.ends_with('/')
        || branch.ends_with('.')
        || branch.ends_with(".lock")
        || branch.starts_with('-')
        || branch.contains("..")
        || branch.contains("//")
        || branch.contains("@{")
        || branch
            .chars()
            .any(|c| c.is_ascii_control() || matches!(c, ' ' | '~' | '^' | ':' | '[' | '\\' | '"'))
    {
        return Err("git does not allow it as a branch name");
    }
    Ok(())
}

fn check_role_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > 64 {
        return Err("it must have 1 to 64 characters");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
    {
        return Err("it has a character IAM does not allow");
    }
    Ok(())
}

impl GithubOidc {
    /// Validates `repo` (`OWNER/NAME`), `branch` (one branch, no wildcard) and the role name
    /// (default `<app>-github-deploy`). `deployer_policy` becomes the role's inline policy.
    pub fn new(
        app: &str,
        repo: &str,
        branch: &str,
        role_name: Option<&str>,
        partition: &str,
        account: &str,
        deployer_policy: Value,
    ) -> Result<Self, OidcInputError> {
        check_repo(repo).map_err(|reason| OidcInputError::Repo {
            value: repo.to_owned(),
            reason,
        })?;
        check_branch(branch).map_err(|reason| OidcInputError::Branch {
            value: branch.to_owned(),
            reason,
        })?;
        let role_name = role_name.map_or_else(|| format!("{app}-github-deploy"), str::to_owned);
        check_role_name(&role_name).map_err(|reason| OidcInputError::RoleName {
            value: role_name.clone(),
            reason,
        })?;
        Ok(Self {
            repo: repo.to_owned(),
            branch: branch.to_owned(),
            role_name,
            partition: partition.to_owned(),
            account: account.to_owned(),
            deployer_policy,
        })
    }

    pub fn repo(&self) -> &str {
        &self.repo
    }

    pub fn branch(&self) -> &str {
        &self.branch
    }

    pub fn role_name(&self) -> &str {
        &self.role_name
    }

    /// The token subject the trust admits: `repo:OWNER/NAME:ref:refs/heads/BRANCH`.
    pub fn subject(&self) -> String {
        format!("repo:{}:ref:refs/heads/{}", self.repo, self.branch)
    }

    /// The ARN IAM gives GitHub's provider in this account.
    pub fn provider_arn(&self) -> String {
        format!(
            "arn:{}:iam::{}:oidc-provider/{GITHUB_OIDC_HOST}",
            self.partition, self.account
        )
    }

    /// The trust policy: only [`Self::subject`] with audience [`STS_AUDIENCE`], through
    /// `provider_arn`.
    pub fn trust_policy(&self, provider_arn: &str) -> Value {
        json!({
            "Version": POLICY_VERSION,
            "Statement": [{
                "Effect": "Allow",
                "Principal": { "Federated": provider_arn },
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": { "StringEquals": {
                    format!("{GITHUB_OIDC_HOST}:sub"): self.subject(),
                    format!("{GITHUB_OIDC_HOST}:aud"): STS_AUDIENCE,
                } },
            }],
        })
    }
}

/// GitHub's provider as IAM has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedProvider {
    pub arn: String,
    pub client_ids: Vec<String>,
}

/// The deploy role as IAM has it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObservedRole {
    pub arn: String,
    pub trust_policy: Value,
    pub max_session_seconds: Option<i32>,
    /// Inline policies by name, decoded.
    pub inline_policies: BTreeMap<String, Value>,
    /// Attached managed policy ARNs.
    pub managed_policies: Vec<String>,
}

/// What exists. `None`: no such provider / role.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Observed {
    pub provider: Option<ObservedProvider>,
    pub role: Option<ObservedRole>,
}

/// One mutating IAM call.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum OidcChange {
    CreateProvider {
        url: String,
        client_id: String,
    },
    AddClientId {
        provider_arn: String,
        client_id: String,
    },
    CreateRole {
        role: String,
        trust_policy: Value,
        max_session_seconds: i32,
    },
    UpdateTrustPolicy {
        role: String,
        trust_policy: Value,
    },
    UpdateMaxSession {
        role: String,
        max_session_seconds: i32,
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
    DetachManagedPolicy {
        role: String,
        policy_arn: String,
    },
}

impl OidcChange {
    /// One line for a plan.
    pub fn describe(&self) -> String {
        match self {
            OidcChange::CreateProvider { url, client_id } => {
                format!("+ create the OIDC provider {url} (client id {client_id})")
            }
            OidcChange::AddClientId {
                provider_arn,
                client_id,
            } => format!("~ add client id {client_id} to {provider_arn}"),
            OidcChange::CreateRole { role, .. } => format!("+ create role {role}"),
            OidcChange::UpdateTrustPolicy { role, .. } => {
                format!("~ update the trust policy of {role}")
            }
            OidcChange::UpdateMaxSession {
                role,
                max_session_seconds,
            } => format!("~ set the maximum session of {role} to {max_session_seconds} s"),
            OidcChange::PutInlinePolicy {
                role, policy_name, ..
            } => format!("~ put inline policy {policy_name} on {role}"),
            OidcChange::DeleteInlinePolicy { role, policy_name } => {
                format!("- delete inline policy {policy_name} from {role}")
            }
            OidcChange::DetachManagedPolicy { role, policy_arn } => {
                format!("- detach {policy_arn} from {role}")
            }
        }
    }
}

/// What [`ensure`] will do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OidcPlan {
    pub provider_arn: String,
    pub role: String,
    /// The one token subject the role admits.
    pub subject: String,
    /// Every way what exists differs, in words (empty: nothing to do).
    pub differences: Vec<String>,
    /// The calls, in order.
    pub changes: Vec<OidcChange>,
}

impl OidcPlan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// What [`ensure`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OidcOutcome {
    pub plan: OidcPlan,
    pub provider_arn: String,
    pub role_arn: String,
    /// No mutating call was made.
    pub unchanged: bool,
}

/// The calls that make `observed` match `desired`. Pure.
pub fn plan(desired: &GithubOidc, observed: &Observed) -> OidcPlan {
    let role = desired.role_name.clone();
    let mut differences = Vec::new();
    let mut changes = Vec::new();
    let provider_arn = match &observed.provider {
        None => {
            differences.push(format!("no OIDC provider for {GITHUB_OIDC_URL}"));
            changes.push(OidcChange::CreateProvider {
                url: GITHUB_OIDC_URL.into(),
                client_id: STS_AUDIENCE.into(),
            });
            desired.provider_arn()
        }
        Some(p) => {
            if !p.client_ids.iter().any(|c| c == STS_AUDIENCE) {
                differences.push(format!("the OIDC provider lacks client id {STS_AUDIENCE}"));
                changes.push(OidcChange::AddClientId {
                    provider_arn: p.arn.clone(),
                    client_id: STS_AUDIENCE.into(),
                });
            }
            p.arn.clone()
        }
    };
    let trust = desired.trust_policy(&provider_arn);
    let put = || OidcChange::PutInlinePolicy {
        role: role.clone(),
        policy_name: DEPLOYER_POLICY_NAME.into(),
        document: desired.deployer_policy.clone(),
    };
    match &observed.role {
        None => {
            differences.push("the role does not exist".into());
            changes.push(OidcChange::CreateRole {
                role: role.clone(),
                trust_policy: trust,
                max_session_seconds: MAX_SESSION_SECONDS,
            });
            changes.push(put());
        }
        Some(have) => {
            if !same_policy(&trust, &have.trust_policy) {
                differences.push(format!(
                    "trust policy differs: {}",
                    statement_differences(&trust, &have.trust_policy).join("; ")
                ));
                changes.push(OidcChange::UpdateTrustPolicy {
                    role: role.clone(),
                    trust_policy: trust,
                });
            }
            if have.max_session_seconds.unwrap_or(MAX_SESSION_SECONDS) != MAX_SESSION_SECONDS {
                differences.push(format!(
                    "maximum session is {} s instead of {MAX_SESSION_SECONDS} s",
                    have.max_session_seconds.unwrap_or_default()
                ));
                changes.push(OidcChange::UpdateMaxSession {
                    role: role.clone(),
                    max_session_seconds: MAX_SESSION_SECONDS,
                });
            }
            match have.inline_policies.get(DEPLOYER_POLICY_NAME) {
                None => {
                    differences.push(format!("inline policy {DEPLOYER_POLICY_NAME} is missing"));
                    changes.push(put());
                }
                Some(doc) if !same_policy(&desired.deployer_policy, doc) => {
                    for d in statement_differences(&desired.deployer_policy, doc) {
                        differences.push(format!("inline policy {DEPLOYER_POLICY_NAME}: {d}"));
                    }
                    changes.push(put());
                }
                Some(_) => {}
            }
            for name in have.inline_policies.keys() {
                if name != DEPLOYER_POLICY_NAME {
                    differences.push(format!("inline policy {name} exists but is not specified"));
                    changes.push(OidcChange::DeleteInlinePolicy {
                        role: role.clone(),
                        policy_name: name.clone(),
                    });
                }
            }
            for arn in &have.managed_policies {
                differences.push(format!(
                    "managed policy {arn} is attached but not specified"
                ));
                changes.push(OidcChange::DetachManagedPolicy {
                    role: role.clone(),
                    policy_arn: arn.clone(),
                });
            }
        }
    }
    OidcPlan {
        provider_arn,
        role,
        subject: desired.subject(),
        differences,
        changes,
    }
}

/// Observes, plans and applies: GitHub's provider and the deploy role exist as `desired`
/// says. A second run makes no mutating call.
pub async fn ensure(
    iam: &Iam,
    desired: &GithubOidc,
    r: &dyn Reporter,
) -> Result<OidcOutcome, IamError> {
    let observed = iam.observe_github_oidc(desired.role_name()).await?;
    let plan = plan(desired, &observed);
    let mut role_arn = observed.role.as_ref().map(|r| r.arn.clone());
    let mut provider_arn = plan.provider_arn.clone();
    if plan.is_empty() {
        r.report(Event::StepSkipped {
            step: "github-oidc".into(),
            reason: format!("provider and role {} already as specified", plan.role),
        });
    } else {
        let n = plan.changes.len();
        let t = StepTimer::start(r, "github-oidc", format!("Applying {n} IAM change(s)"));
        for change in &plan.changes {
            r.report(Event::info(change.describe()));
            match iam.apply_oidc_change(change).await? {
                Applied::Provider(arn) => provider_arn = arn,
                Applied::Role(arn) => role_arn = Some(arn),
                Applied::Nothing => {}
            }
        }
        t.finish(r, format!("{n} IAM change(s) applied"));
    }
    let role_arn = match role_arn {
        Some(a) => a,
        None => iam.role_arn(desired.role_name()).await?.unwrap_or_else(|| {
            format!(
                "arn:{}:iam::{}:role/{}",
                desired.partition, desired.account, desired.role_name
            )
        }),
    };
    Ok(OidcOutcome {
        unchanged: plan.is_empty(),
        plan,
        provider_arn,
        role_arn,
    })
}

mod calls;

use calls::Applied;

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "123456789012";

    fn deployer() -> Value {
        json!({"Version": POLICY_VERSION, "Statement": [
            {"Effect": "Allow", "Action": ["sts:GetCallerIdentity"], "Resource": "*"}
        ]})
    }

    fn desired() -> GithubOidc {
        GithubOidc::new(
            "budgetsync",
            "octo-org/budgetsync",
            "main",
            None,
            "aws",
            ACCOUNT,
            deployer(),
        )
        .expect("valid")
    }

    fn provider(client_ids: &[&str]) -> ObservedProvider {
        ObservedProvider {
            arn: desired().provider_arn(),
            client_ids: client_ids.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    fn role(trust: Value) -> ObservedRole {
        ObservedRole {
            arn: format!("arn:aws:iam::{ACCOUNT}:role/budgetsync-github-deploy"),
            trust_policy: trust,
            max_session_seconds: Some(3600),
            inline_policies: BTreeMap::from([(DEPLOYER_POLICY_NAME.to_owned(), deployer())]),
            managed_policies: Vec::new(),
        }
    }

    fn ops(p: &OidcPlan) -> Vec<&'static str> {
        p.changes
            .iter()
            .map(|c| match c {
                OidcChange::CreateProvider { .. } => "CreateProvider",
                OidcChange::AddClientId { .. } => "AddClientId",
                OidcChange::CreateRole { .. } => "CreateRole",
                OidcChange::UpdateTrustPolicy { .. } => "UpdateTrustPolicy",
                OidcChange::UpdateMaxSession { .. } => "UpdateMaxSession",
                OidcChange::PutInlinePolicy { .. } => "PutInlinePolicy",
                OidcChange::DeleteInlinePolicy { .. } => "DeleteInlinePolicy",
                OidcChange::DetachManagedPolicy { .. } => "DetachManagedPolicy",
            })
            .collect()
    }

    #[test]
    fn plans_as_data() {
        let d = desired();
        let ours = d.trust_policy(&d.provider_arn());
        let other = GithubOidc::new(
            "budgetsync",
            "someone/else",
            "main",
            None,
            "aws",
            ACCOUNT,
            deployer(),
        )
        .expect("valid");
        let other_trust = other.trust_policy(&d.provider_arn());
        // The same trust, spelled with lists and in another key order: no change.
        let respelled = json!({"Statement": [{
            "Condition": {"StringEquals": {
                "token.actions.githubusercontent.com:aud": ["sts.amazonaws.com"],
                "token.actions.githubusercontent.com:sub": ["repo:octo-org/budgetsync:ref:refs/heads/main"]}},
            "Action": ["sts:AssumeRoleWithWebIdentity"],
            "Principal": {"Federated": [d.provider_arn()]},
            "Effect": "Allow"}], "Version": POLICY_VERSION});
        let mut long_session = role(ours.clone());
        long_session.max_session_seconds = Some(43200);
        let mut extra = role(ours.clone());
        extra.inline_policies.insert("admin".into(), json!({}));
        extra
            .managed_policies
            .push("arn:aws:iam::aws:policy/AdministratorAccess".into());
        let cases: Vec<(&str, Observed, Vec<&str>)> = vec![
            (
                "nothing exists",
                Observed::default(),
                vec!["CreateProvider", "CreateRole", "PutInlinePolicy"],
            ),
            (
                "provider without the client id",
                Observed {
                    provider: Some(provider(&["something.else"])),
                    role: Some(role(ours.clone())),
                },
                vec!["AddClientId"],
            ),
            (
                "role trusting another repository",
                Observed {
                    provider: Some(provider(&[STS_AUDIENCE])),
                    role: Some(role(other_trust)),
                },
                vec!["UpdateTrustPolicy"],
            ),
            (
                "unchanged",
                Observed {
                    provider: Some(provider(&[STS_AUDIENCE])),
                    role: Some(role(respelled)),
                },
                vec![],
            ),
            (
                "session longer than an hour",
                Observed {
                    provider: Some(provider(&[STS_AUDIENCE])),
                    role: Some(long_session),
                },
                vec!["UpdateMaxSession"],
            ),
            (
                "extra policies",
                Observed {
                    provider: Some(provider(&[STS_AUDIENCE])),
                    role: Some(extra),
                },
                vec!["DeleteInlinePolicy", "DetachManagedPolicy"],
            ),
        ];
        for (name, observed, want) in cases {
            let p = plan(&d, &observed);
            assert_eq!(ops(&p), want, "{name}: {p:#?}");
            assert_eq!(p.is_empty(), want.is_empty(), "{name}");
            assert_eq!(
                p.differences.is_empty(),
                want.is_empty(),
                "{name}: {:?}",
                p.differences
            );
            assert_eq!(
                p.provider_arn,
                "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
            );
            for c in &p.changes {
                if let OidcChange::CreateRole { trust_policy, .. }
                | OidcChange::UpdateTrustPolicy { trust_policy, .. } = c
                {
                    assert_eq!(trust_policy, &ours, "{name}");
                }
            }
        }
    }

    #[test]
    fn the_trust_admits_one_repository_and_branch() {
        let d = GithubOidc::new(
            "app",
            "octo-org/budgetsync",
            "release/v2",
            Some("ci"),
            "aws",
            ACCOUNT,
            deployer(),
        )
        .expect("valid");
        assert_eq!(d.role_name(), "ci");
        let t = d.trust_policy(
            "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
        );
        let s = &t["Statement"][0];
        assert_eq!(s["Action"], "sts:AssumeRoleWithWebIdentity");
        assert_eq!(
            s["Condition"],
            json!({"StringEquals": {
                "token.actions.githubusercontent.com:sub": "repo:octo-org/budgetsync:ref:refs/heads/release/v2",
                "token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}})
        );
        assert_eq!(t["Statement"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn bad_flags_are_input_errors_naming_the_flag() {
        let cases: &[(&str, &str, Option<&str>, &str, &str)] = &[
            ("budgetsync", "main", None, "--repo", "OWNER/NAME"),
            ("octo-org/", "main", None, "--repo", "both"),
            ("a/b/c", "main", None, "--repo", "more than one"),
            ("-octo/app", "main", None, "--repo", "owner"),
            ("octo_org/app", "main", None, "--repo", "owner"),
            ("octo/app name", "main", None, "--repo", "name allows"),
            ("octo/app", "*", None, "--branch", "wildcard"),
            ("octo/app", "release/*", None, "--branch", "wildcard"),
            ("octo/app", "", None, "--branch", "empty"),
            (
                "octo/app",
                "refs/heads/main",
                None,
                "--branch",
                "refs/heads",
            ),
            ("octo/app", "a..b", None, "--branch", "git does not allow"),
            (
                "octo/app",
                "main",
                Some("has space"),
                "--role-name",
                "character",
            ),
        ];
        for (repo, branch, role, flag, words) in cases {
            let e = GithubOidc::new("app", repo, branch, *role, "aws", ACCOUNT, deployer())
                .expect_err(repo);
            let text = e.to_string();
            assert!(text.starts_with(flag), "{text}");
            assert!(text.contains(words), "{text} lacks {words}");
            assert_eq!(e.category(), Category::Input);
            let help = e.help().unwrap_or_default();
            assert!(help.contains(flag), "{help}");
            assert!(!help.contains("xtask"), "{help}");
        }
        for ok in ["octo-org/budget.sync_2", "a/b", "Octo/.github"] {
            assert!(
                GithubOidc::new("app", ok, "feature/x-1", None, "aws", ACCOUNT, deployer()).is_ok(),
                "{ok}"
            );
        }
    }
}
