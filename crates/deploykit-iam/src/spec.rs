//! The roles an app needs, as plain data: [`desired_roles`] turns names, secret ARNs and a
//! bucket into [`RoleSpec`]s with their trust policies, AWS managed policies and one
//! least-privilege inline policy.

use serde::Serialize;
use serde_json::{Value, json};

use crate::policy::{POLICY_VERSION, trust_policy};

/// AWS managed policy for the EB service role: enhanced health reporting.
pub const EB_ENHANCED_HEALTH: &str =
    "arn:aws:iam::aws:policy/service-role/AWSElasticBeanstalkEnhancedHealth";
/// AWS managed policy for the EB service role: managed platform updates.
pub const EB_MANAGED_UPDATES: &str =
    "arn:aws:iam::aws:policy/AWSElasticBeanstalkManagedUpdatesCustomerRolePolicy";
/// AWS managed policy for the EB instance profile's role (web server tier).
pub const EB_WEB_TIER: &str = "arn:aws:iam::aws:policy/AWSElasticBeanstalkWebTier";
/// AWS managed policy for the App Runner ECR access role.
pub const APPRUNNER_ECR_ACCESS: &str =
    "arn:aws:iam::aws:policy/service-role/AWSAppRunnerServicePolicyForECRAccess";

/// AWS managed policy for the ECS task execution role (pull from ECR, write logs).
pub const ECS_TASK_EXECUTION: &str =
    "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy";
/// AWS managed policy for the ECS Express Mode infrastructure role (load balancer, security
/// groups, certificate, auto scaling of Express services).
pub const ECS_EXPRESS_INFRASTRUCTURE: &str =
    "arn:aws:iam::aws:policy/service-role/AmazonECSInfrastructureRoleforExpressGatewayServices";

/// Name of the inline policy deploykit keeps on the instance roles.
pub const APP_ACCESS_POLICY: &str = "deploykit-app-access";

/// What deploykit needs to know to build an app's roles. Plain data: no deploy.toml.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AppRoles {
    /// The app's name (descriptions only).
    pub app: String,
    /// EB service role name; `None`: Route A roles are not managed.
    pub eb_service_role: Option<String>,
    /// EB instance profile name; its role has the same name.
    pub eb_instance_profile: Option<String>,
    /// App Runner ECR access role name.
    pub apprunner_access_role: Option<String>,
    /// App Runner instance role name (what the running service may read).
    pub apprunner_instance_role: Option<String>,
    /// ECS task execution role name (pulls the image, reads the secrets at task start).
    pub ecs_execution_role: Option<String>,
    /// ECS Express infrastructure role name.
    pub ecs_infrastructure_role: Option<String>,
    /// Full ARNs (with Secrets Manager's suffix) of the app's runtime secrets.
    pub secret_arns: Vec<String>,
    /// The app's S3 bucket, if it has one.
    pub bucket: Option<String>,
}

/// Why a role exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RolePurpose {
    EbService,
    EbInstance,
    AppRunnerAccess,
    AppRunnerInstance,
    EcsExecution,
    EcsInfrastructure,
}

impl RolePurpose {
    /// One line for plans and the runbook.
    pub fn describe(self) -> &'static str {
        match self {
            RolePurpose::EbService => {
                "Elastic Beanstalk service role (health reporting, managed platform updates)"
            }
            RolePurpose::EbInstance => {
                "Elastic Beanstalk instance profile role (the app's EC2 instances: logs, bundle, the app's secrets and bucket)"
            }
            RolePurpose::AppRunnerAccess => "App Runner ECR access role (pulls the image)",
            RolePurpose::AppRunnerInstance => {
                "App Runner instance role (the running service: the app's secrets and bucket)"
            }
            RolePurpose::EcsExecution => {
                "ECS task execution role (pulls the image, writes logs, reads the app's secrets at task start)"
            }
            RolePurpose::EcsInfrastructure => {
                "ECS Express infrastructure role (ECS manages the load balancer, security groups, certificate and scaling)"
            }
        }
    }
}

/// An inline policy with its name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InlinePolicy {
    pub name: String,
    pub document: Value,
}

/// One role as it should be.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoleSpec {
    pub name: String,
    pub purpose: RolePurpose,
    pub description: String,
    /// Who may assume the role.
    pub trust_policy: Value,
    /// AWS managed policy ARNs, sorted. Any other attached policy is drift.
    pub managed_policies: Vec<String>,
    /// The one inline policy; any other inline policy is drift. `None`: no inline policy.
    pub inline_policy: Option<InlinePolicy>,
    /// The instance profile that carries this role (same name for EB).
    pub instance_profile: Option<String>,
}

/// The specs for every role `roles` names, in a stable order. A role named twice (e.g. one
/// instance role shared by both routes) is specified once: trusted by both services, with
/// both sets of managed policies.
pub fn desired_roles(roles: &AppRoles) -> Vec<RoleSpec> {
    let mut out: Vec<RoleSpec> = Vec::new();
    let app_policy = app_access_policy(&roles.secret_arns, roles.bucket.as_deref());
    let mut push = |spec: RoleSpec| match out.iter_mut().find(|s| s.name == spec.name) {
        Some(prev) => merge(prev, spec),
        None => out.push(spec),
    };
    if let Some(name) = &roles.eb_service_role {
        push(RoleSpec {
            name: name.clone(),
            purpose: RolePurpose::EbService,
            description: format!("Elastic Beanstalk service role for {}", roles.app),
            trust_policy: trust_policy("elasticbeanstalk.amazonaws.com", Some("elasticbeanstalk")),
            managed_policies: sorted(&[EB_ENHANCED_HEALTH, EB_MANAGED_UPDATES]),
            inline_policy: None,
            instance_profile: None,
        });
    }
    if let Some(name) = &roles.eb_instance_profile {
        push(RoleSpec {
            name: name.clone(),
            purpose: RolePurpose::EbInstance,
            description: format!("Elastic Beanstalk instances of {}", roles.app),
            trust_policy: trust_policy("ec2.amazonaws.com", None),
            managed_policies: sorted(&[EB_WEB_TIER]),
            inline_policy: app_policy.clone(),
            instance_profile: Some(name.clone()),
        });
    }
    if let Some(name) = &roles.apprunner_access_role {
        push(RoleSpec {
            name: name.clone(),
            purpose: RolePurpose::AppRunnerAccess,
            description: format!("App Runner pulls the image of {} from ECR", roles.app),
            trust_policy: trust_policy("build.apprunner.amazonaws.com", None),
            managed_policies: sorted(&[APPRUNNER_ECR_ACCESS]),
            inline_policy: None,
            instance_profile: None,
        });
    }
    if let Some(name) = &roles.apprunner_instance_role {
        push(RoleSpec {
            name: name.clone(),
            purpose: RolePurpose::AppRunnerInstance,
            description: format!("App Runner service of {}", roles.app),
            trust_policy: trust_policy("tasks.apprunner.amazonaws.com", None),
            managed_policies: Vec::new(),
            inline_policy: app_policy.clone(),
            instance_profile: None,
        });
    }
    if let Some(name) = &roles.ecs_execution_role {
        // Secrets only: the execution role reads them at task start; the bucket belongs to
        // the task role (the app's code), not to the agent.
        push(RoleSpec {
            name: name.clone(),
            purpose: RolePurpose::EcsExecution,
            description: format!("ECS task execution role of {}", roles.app),
            trust_policy: trust_policy("ecs-tasks.amazonaws.com", None),
            managed_policies: sorted(&[ECS_TASK_EXECUTION]),
            inline_policy: app_access_policy(&roles.secret_arns, None),
            instance_profile: None,
        });
    }
    if let Some(name) = &roles.ecs_infrastructure_role {
        push(RoleSpec {
            name: name.clone(),
            purpose: RolePurpose::EcsInfrastructure,
            description: format!("ECS Express infrastructure role of {}", roles.app),
            trust_policy: trust_policy("ecs.amazonaws.com", None),
            managed_policies: sorted(&[ECS_EXPRESS_INFRASTRUCTURE]),
            inline_policy: None,
            instance_profile: None,
        });
    }
    out
}

/// Folds `other` (same role name) into `into`: both trusted services, both managed policy sets.
fn merge(into: &mut RoleSpec, other: RoleSpec) {
    let mut services = trusted_services(&into.trust_policy);
    for s in trusted_services(&other.trust_policy) {
        if !services.contains(&s) {
            services.push(s);
        }
    }
    services.sort();
    // The external-id condition is only for Elastic Beanstalk's own role, which has nothing
    // to share; a merged role trusts the services without it.
    into.trust_policy = json!({
        "Version": POLICY_VERSION,
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": services },
            "Action": "sts:AssumeRole",
        }],
    });
    for m in other.managed_policies {
        if !into.managed_policies.contains(&m) {
            into.managed_policies.push(m);
        }
    }
    into.managed_policies.sort();
    if into.inline_policy.is_none() {
        into.inline_policy = other.inline_policy;
    }
    if into.instance_profile.is_none() {
        into.instance_profile = other.instance_profile;
    }
}

fn trusted_services(trust: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for stmt in trust["Statement"].as_array().into_iter().flatten() {
        match &stmt["Principal"]["Service"] {
            Value::String(s) => out.push(s.clone()),
            Value::Array(a) => out.extend(a.iter().filter_map(Value::as_str).map(str::to_owned)),
            _ => {}
        }
    }
    out
}

fn sorted(arns: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = arns.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

/// What the running app may do: read exactly its secrets, read and write objects in exactly
/// its bucket. `None` when it has neither (no inline policy at all).
pub fn app_access_policy(secret_arns: &[String], bucket: Option<&str>) -> Option<InlinePolicy> {
    let mut statements = Vec::new();
    let mut secrets: Vec<&String> = secret_arns.iter().collect();
    secrets.sort();
    secrets.dedup();
    if !secrets.is_empty() {
        statements.push(json!({
            "Sid": "ReadAppSecrets",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": secrets,
        }));
    }
    if let Some(b) = bucket.filter(|b| !b.is_empty()) {
        statements.push(json!({
            "Sid": "ListAppBucket",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [format!("arn:aws:s3:::{b}")],
        }));
        statements.push(json!({
            "Sid": "AppBucketObjects",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": [format!("arn:aws:s3:::{b}/*")],
        }));
    }
    if statements.is_empty() {
        return None;
    }
    Some(InlinePolicy {
        name: APP_ACCESS_POLICY.to_owned(),
        document: json!({ "Version": POLICY_VERSION, "Statement": statements }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_roles() -> AppRoles {
        AppRoles {
            app: "budgetsync".into(),
            eb_service_role: Some("aws-elasticbeanstalk-service-role".into()),
            eb_instance_profile: Some("aws-elasticbeanstalk-ec2-role".into()),
            apprunner_access_role: Some("budgetsync-apprunner-ecr-access".into()),
            apprunner_instance_role: Some("budgetsync-apprunner-instance".into()),
            ecs_execution_role: None,
            ecs_infrastructure_role: None,
            secret_arns: vec![
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:budgetsync/secret-key-AbCdEf"
                    .into(),
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:budgetsync/db-url-GhIjKl"
                    .into(),
            ],
            bucket: Some("budgetsync-uploads".into()),
        }
    }

    fn strings(v: &Value) -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a.iter().flat_map(strings).collect(),
            _ => Vec::new(),
        }
    }

    fn statements(doc: &Value) -> Vec<Value> {
        doc["Statement"].as_array().cloned().unwrap_or_default()
    }

    #[test]
    fn every_route_role_is_specified_with_its_trust_and_managed_policies() {
        let specs = desired_roles(&all_roles());
        let by = |p: RolePurpose| specs.iter().find(|s| s.purpose == p).expect("role");
        let principal =
            |s: &RoleSpec| strings(&s.trust_policy["Statement"][0]["Principal"]["Service"]);
        let eb = by(RolePurpose::EbService);
        assert_eq!(principal(eb), ["elasticbeanstalk.amazonaws.com"]);
        assert_eq!(
            eb.trust_policy["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"],
            "elasticbeanstalk"
        );
        assert_eq!(
            eb.managed_policies,
            [EB_MANAGED_UPDATES, EB_ENHANCED_HEALTH]
        );
        assert!(eb.inline_policy.is_none());
        let inst = by(RolePurpose::EbInstance);
        assert_eq!(principal(inst), ["ec2.amazonaws.com"]);
        assert_eq!(
            inst.instance_profile.as_deref(),
            Some("aws-elasticbeanstalk-ec2-role")
        );
        assert_eq!(inst.managed_policies, [EB_WEB_TIER]);
        let acc = by(RolePurpose::AppRunnerAccess);
        assert_eq!(principal(acc), ["build.apprunner.amazonaws.com"]);
        assert_eq!(acc.managed_policies, [APPRUNNER_ECR_ACCESS]);
        let ar = by(RolePurpose::AppRunnerInstance);
        assert_eq!(principal(ar), ["tasks.apprunner.amazonaws.com"]);
        assert!(ar.managed_policies.is_empty());
        assert_eq!(ar.inline_policy, inst.inline_policy);
    }

    #[test]
    fn inline_policy_is_least_privilege() {
        let roles = all_roles();
        let p = app_access_policy(&roles.secret_arns, roles.bucket.as_deref()).expect("policy");
        for s in statements(&p.document) {
            assert_eq!(s["Effect"], "Allow");
            for a in strings(&s["Action"]) {
                assert!(!a.contains('*'), "wildcard action {a}");
            }
            for r in strings(&s["Resource"]) {
                assert_ne!(r, "*", "Resource * in {s}");
            }
            assert!(s.get("NotAction").is_none() && s.get("NotResource").is_none());
        }
        let secrets = statements(&p.document)
            .into_iter()
            .find(|s| strings(&s["Action"]) == ["secretsmanager:GetSecretValue"])
            .expect("secrets statement");
        let mut want = roles.secret_arns.clone();
        want.sort();
        assert_eq!(strings(&secrets["Resource"]), want);
        let all_resources: Vec<String> = statements(&p.document)
            .iter()
            .flat_map(|s| strings(&s["Resource"]))
            .collect();
        assert!(all_resources.contains(&"arn:aws:s3:::budgetsync-uploads".to_string()));
        assert!(all_resources.contains(&"arn:aws:s3:::budgetsync-uploads/*".to_string()));
        for s in statements(&p.document) {
            if strings(&s["Action"]).contains(&"s3:ListBucket".to_string()) {
                assert_eq!(strings(&s["Resource"]), ["arn:aws:s3:::budgetsync-uploads"]);
            }
        }
    }

    #[test]
    fn no_secrets_means_no_secretsmanager_statement_and_nothing_means_no_policy() {
        let p = app_access_policy(&[], Some("b")).expect("bucket statements");
        assert!(
            !p.document.to_string().contains("secretsmanager"),
            "{}",
            p.document
        );
        assert_eq!(app_access_policy(&[], None), None);
        let roles = AppRoles {
            app: "a".into(),
            eb_instance_profile: Some("p".into()),
            ..AppRoles::default()
        };
        let specs = desired_roles(&roles);
        assert_eq!(specs.len(), 1);
        assert!(specs[0].inline_policy.is_none());
    }

    #[test]
    fn a_role_named_twice_is_specified_once() {
        let roles = AppRoles {
            app: "a".into(),
            eb_instance_profile: Some("shared".into()),
            apprunner_instance_role: Some("shared".into()),
            ecs_execution_role: None,
            ecs_infrastructure_role: None,
            ..AppRoles::default()
        };
        let specs = desired_roles(&roles);
        assert_eq!(specs.len(), 1);
        assert_eq!(
            strings(&specs[0].trust_policy["Statement"][0]["Principal"]["Service"]),
            ["ec2.amazonaws.com", "tasks.apprunner.amazonaws.com"]
        );
        assert_eq!(specs[0].managed_policies, [EB_WEB_TIER]);
        assert_eq!(specs[0].instance_profile.as_deref(), Some("shared"));
    }
}
