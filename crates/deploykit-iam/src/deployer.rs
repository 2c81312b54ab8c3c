//! The least-privilege policy for whoever runs deploykit (a person or a CI role).
//!
//! [`OPERATIONS`] lists every AWS SDK operation the deploykit crates call, with the IAM action
//! it needs and the kind of resource the action can be scoped to (per the Service
//! Authorization Reference). A test scans the crates' sources and fails when an operation is
//! called that the table lacks, or the table lists one no longer called. [`deployer_policy`]
//! turns the table and the config's names into a policy document: resources are the app's
//! own ARNs; `Resource: "*"` only for actions that support no resource-level permission.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Value, json};

use crate::policy::POLICY_VERSION;

/// What an action's `Resource` is scoped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The action supports no resource-level permission: `Resource: "*"`.
    NoResource,
    EbApplication,
    EbVersions,
    EbEnvironment,
    /// The application, its versions and its environment (events, settings).
    EbAll,
    EbSolutionStacks,
    EcrRepository,
    AppRunnerService,
    AppRunnerScaling,
    AppRunnerVpcConnector,
    /// The app's ECS Express service (in the default cluster).
    EcsService,
    Route53Zone,
    Route53Change,
    /// The account's ACM certificates in the region (their ARNs are random ids).
    AcmCertificates,
    /// The instance and the restore-check instances named after it.
    RdsInstance,
    RdsSnapshots,
    /// The instance plus its snapshots.
    RdsInstanceAndSnapshots,
    /// What CreateDBInstance / ModifyDBInstance / RestoreDBInstanceFromDBSnapshot touch: the
    /// instance, its snapshots, subnet group, default parameter and option groups.
    RdsCreate,
    RdsSubnetGroup,
    Ec2SecurityGroups,
    /// CreateSecurityGroup: the new group and the VPC it is made in.
    Ec2CreateSecurityGroup,
    Bucket,
    BucketObjects,
    /// The app's own bucket (`[s3] bucket`): its settings.
    AppBucket,
    /// The app's own bucket's objects (static files).
    AppBucketObjects,
    /// The app's log groups: EB's `/aws/elasticbeanstalk/<env>/...`, App Runner's
    /// `/aws/apprunner/<service>/...`, ECS's `/aws/ecs/default/<service>`.
    AppLogGroups,
    /// The app's secrets (and the RDS-managed master secret).
    Secrets,
    /// The app's CloudWatch alarms, `<app>-<target>-*` (`[alarms]`).
    AppAlarms,
    /// The alarms' SNS topic, `<app>-<target>-alarms`.
    AlarmTopic,
    IamRoles,
    IamInstanceProfiles,
    /// The AWS managed policies deploykit attaches (iam:GetPolicy before attaching).
    IamManagedPolicies,
    /// iam:AttachRolePolicy / DetachRolePolicy: the app's roles, only with the managed
    /// policies deploykit specifies.
    IamRolePolicies,
}

/// One SDK operation and what it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Operation {
    /// The SDK crate without `aws-sdk-`: `elasticbeanstalk`, `iam`, ...
    pub sdk: &'static str,
    /// The fluent method: `describe_environments`.
    pub operation: &'static str,
    /// IAM actions it needs.
    pub actions: &'static [&'static str],
    pub scope: Scope,
}

mod implied;
mod table;

use Scope::*;

pub use implied::IMPLIED;
pub use table::OPERATIONS;

/// The names the deployer's policy is scoped to. Plain data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeployerScope {
    /// `aws`, `aws-cn`, `aws-us-gov`.
    pub partition: String,
    pub region: String,
    /// The 12-digit account; `None` writes `*` in the account field of every ARN (still
    /// scoped by name).
    pub account: Option<String>,
    pub eb_application: String,
    pub eb_environment: String,
    /// The bucket for EB source bundles; `None`: EB's storage bucket
    /// (`elasticbeanstalk-<region>-<account>`).
    pub bundle_bucket: Option<String>,
    /// The app's own bucket (`[s3] bucket`); `None`: no app bucket statements.
    pub app_bucket: Option<String>,
    /// `<app>-<target>` when `[alarms]` is configured: the alarms `<prefix>-*` and the topic
    /// `<prefix>-alarms`; `None`: no alarm statements.
    pub alarm_prefix: Option<String>,
    pub ecr_repository: String,
    pub apprunner_service: String,
    /// The ECS Express service name.
    pub ecs_service: String,
    /// The hosted zone id for custom domains; `None`: any zone in the account.
    pub hosted_zone: Option<String>,
    pub db_instance: String,
    pub db_subnet_group: Option<String>,
    /// Secret ARNs (resolved) or names (then matched with Secrets Manager's 6-char suffix).
    pub secrets: Vec<String>,
    /// The app's roles (iam:PassRole and the role management calls).
    pub roles: Vec<String>,
    pub instance_profiles: Vec<String>,
    /// The managed policies deploykit attaches (the only ones AttachRolePolicy may attach).
    pub managed_policies: Vec<String>,
    /// Services the roles are passed to, for `iam:PassedToService`.
    pub pass_to_services: Vec<String>,
}

impl DeployerScope {
    fn account(&self) -> &str {
        self.account.as_deref().unwrap_or("*")
    }

    /// The ARNs (or patterns) an action of `scope` is allowed on.
    pub fn resources(&self, scope: Scope) -> Vec<String> {
        let (p, r, a) = (
            self.partition.as_str(),
            self.region.as_str(),
            self.account(),
        );
        let eb = |kind: &str, rest: &str| format!("arn:{p}:elasticbeanstalk:{r}:{a}:{kind}/{rest}");
        let rds = |kind: &str, rest: &str| format!("arn:{p}:rds:{r}:{a}:{kind}:{rest}");
        let app = &self.eb_application;
        let bucket = self
            .bundle_bucket
            .clone()
            .unwrap_or_else(|| format!("elasticbeanstalk-{r}-{a}"));
        let db = &self.db_instance;
        match scope {
            NoResource => vec!["*".into()],
            EbApplication => vec![eb("application", app)],
            EbVersions => vec![eb("applicationversion", &format!("{app}/*"))],
            EbEnvironment => vec![eb("environment", &format!("{app}/{}", self.eb_environment))],
            EbAll => vec![
                eb("application", app),
                eb("applicationversion", &format!("{app}/*")),
                eb("environment", &format!("{app}/{}", self.eb_environment)),
            ],
            EbSolutionStacks => vec![format!("arn:{p}:elasticbeanstalk:{r}::solutionstack/*")],
            EcrRepository => vec![format!(
                "arn:{p}:ecr:{r}:{a}:repository/{}",
                self.ecr_repository
            )],
            AppRunnerService => vec![format!(
                "arn:{p}:apprunner:{r}:{a}:service/{}/*",
                self.apprunner_service
            )],
            AppRunnerScaling => vec![format!(
                "arn:{p}:apprunner:{r}:{a}:autoscalingconfiguration/{}*",
                self.apprunner_service
            )],
            AppRunnerVpcConnector => vec![format!(
                "arn:{p}:apprunner:{r}:{a}:vpcconnector/{}*",
                self.apprunner_service
            )],
            EcsService => vec![format!(
                "arn:{p}:ecs:{r}:{a}:service/default/{}",
                self.ecs_service
            )],
            AppLogGroups => vec![
                format!(
                    "arn:{p}:logs:{r}:{a}:log-group:/aws/elasticbeanstalk/{}/*",
                    self.eb_environment
                ),
                format!(
                    "arn:{p}:logs:{r}:{a}:log-group:/aws/apprunner/{}/*",
                    self.apprunner_service
                ),
                format!(
                    "arn:{p}:logs:{r}:{a}:log-group:/aws/ecs/default/{}:*",
                    self.ecs_service
                ),
            ],
            Route53Zone => vec![format!(
                "arn:{p}:route53:::hostedzone/{}",
                self.hosted_zone.as_deref().unwrap_or("*")
            )],
            Route53Change => vec![format!("arn:{p}:route53:::change/*")],
            AcmCertificates => vec![format!("arn:{p}:acm:{r}:{a}:certificate/*")],
            RdsInstance => vec![rds("db", db), rds("db", &format!("{db}-*"))],
            RdsSnapshots => vec![rds("snapshot", &format!("{db}-*"))],
            RdsInstanceAndSnapshots => vec![
                rds("db", db),
                rds("db", &format!("{db}-*")),
                rds("snapshot", &format!("{db}-*")),
                rds("snapshot", &format!("rds:{db}-*")),
            ],
            RdsCreate => vec![
                rds("db", db),
                rds("db", &format!("{db}-*")),
                rds("snapshot", &format!("{db}-*")),
                rds("snapshot", &format!("rds:{db}-*")),
                rds(
                    "subgrp",
                    self.db_subnet_group.as_deref().unwrap_or("default*"),
                ),
                rds("pg", "default.*"),
                rds("og", "default:*"),
                rds("secgrp", "*"),
            ],
            RdsSubnetGroup => vec![rds(
                "subgrp",
                self.db_subnet_group.as_deref().unwrap_or("*"),
            )],
            Ec2SecurityGroups => vec![format!("arn:{p}:ec2:{r}:{a}:security-group/*")],
            Ec2CreateSecurityGroup => vec![
                format!("arn:{p}:ec2:{r}:{a}:security-group/*"),
                format!("arn:{p}:ec2:{r}:{a}:vpc/*"),
            ],
            Bucket => vec![format!("arn:{p}:s3:::{bucket}")],
            BucketObjects => vec![format!("arn:{p}:s3:::{bucket}/*")],
            AppBucket => self
                .app_bucket
                .iter()
                .map(|b| format!("arn:{p}:s3:::{b}"))
                .collect(),
            AppBucketObjects => self
                .app_bucket
                .iter()
                .map(|b| format!("arn:{p}:s3:::{b}/*"))
                .collect(),
            AppAlarms => self
                .alarm_prefix
                .iter()
                .map(|x| format!("arn:{p}:cloudwatch:{r}:{a}:alarm:{x}-*"))
                .collect(),
            AlarmTopic => self
                .alarm_prefix
                .iter()
                .map(|x| format!("arn:{p}:sns:{r}:{a}:{x}-alarms"))
                .collect(),
            Secrets => {
                let mut v: Vec<String> = self
                    .secrets
                    .iter()
                    .map(|s| {
                        if s.starts_with("arn:") {
                            s.clone()
                        } else {
                            format!("arn:{p}:secretsmanager:{r}:{a}:secret:{s}-??????")
                        }
                    })
                    .collect();
                // The master password RDS keeps for the instance (`db url`).
                v.push(format!("arn:{p}:secretsmanager:{r}:{a}:secret:rds!db-*"));
                // The app role's own secret `db create` makes (`<instance>/app`).
                v.push(format!(
                    "arn:{p}:secretsmanager:{r}:{a}:secret:{}/app-??????",
                    self.db_instance
                ));
                v
            }
            IamRoles | IamRolePolicies => self
                .roles
                .iter()
                .map(|n| format!("arn:{p}:iam::{a}:role/{n}"))
                .collect(),
            IamManagedPolicies => {
                let mut v = self.managed_policies.clone();
                v.sort();
                v
            }
            IamInstanceProfiles => self
                .instance_profiles
                .iter()
                .map(|n| format!("arn:{p}:iam::{a}:instance-profile/{n}"))
                .collect(),
        }
    }
}

/// The deployer's policy: one statement per resource set, actions sorted; iam:PassRole only
/// on the app's roles and only to the services that use them.
pub fn deployer_policy(scope: &DeployerScope) -> Value {
    let mut by_scope: BTreeMap<Scope, BTreeSet<&str>> = BTreeMap::new();
    for o in OPERATIONS {
        by_scope.entry(o.scope).or_default().extend(o.actions);
    }
    for (action, s, _) in IMPLIED {
        by_scope.entry(*s).or_default().insert(action);
    }
    let mut statements = Vec::new();
    for (s, actions) in by_scope {
        let resources = scope.resources(s);
        if resources.is_empty() {
            continue;
        }
        let mut stmt = json!({
            "Sid": sid(s),
            "Effect": "Allow",
            "Action": actions.into_iter().collect::<Vec<_>>(),
            "Resource": resources,
        });
        if s == IamRolePolicies {
            let mut arns = scope.managed_policies.clone();
            arns.sort();
            stmt["Action"] = json!(["iam:AttachRolePolicy"]);
            stmt["Condition"] = json!({ "ArnEquals": { "iam:PolicyARN": arns } });
        }
        statements.push(stmt);
    }
    if !scope.roles.is_empty() {
        let mut to = scope.pass_to_services.clone();
        to.sort();
        let mut stmt = json!({
            "Sid": "PassAppRoles",
            "Effect": "Allow",
            "Action": ["iam:PassRole"],
            "Resource": scope.resources(IamRoles),
        });
        if !to.is_empty() {
            stmt["Condition"] = json!({ "StringEquals": { "iam:PassedToService": to } });
        }
        statements.push(stmt);
    }
    json!({ "Version": POLICY_VERSION, "Statement": statements })
}

fn sid(s: Scope) -> String {
    let name = serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    name.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn scope() -> DeployerScope {
        DeployerScope {
            partition: "aws".into(),
            region: "us-east-1".into(),
            account: Some("123456789012".into()),
            eb_application: "budgetsync".into(),
            eb_environment: "budgetsync-dev".into(),
            bundle_bucket: None,
            app_bucket: None,
            alarm_prefix: Some("budgetsync-dev".into()),
            ecr_repository: "budgetsync".into(),
            apprunner_service: "budgetsync".into(),
            ecs_service: "budgetsync".into(),
            hosted_zone: None,
            db_instance: "budgetsync-db".into(),
            db_subnet_group: None,
            secrets: vec![
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:budgetsync/db-url-AbCdEf"
                    .into(),
                "budgetsync/secret-key".into(),
            ],
            roles: vec![
                "aws-elasticbeanstalk-service-role".into(),
                "aws-elasticbeanstalk-ec2-role".into(),
            ],
            instance_profiles: vec!["aws-elasticbeanstalk-ec2-role".into()],
            managed_policies: vec![crate::EB_WEB_TIER.into()],
            pass_to_services: vec![
                "elasticbeanstalk.amazonaws.com".into(),
                "ec2.amazonaws.com".into(),
            ],
        }
    }

    fn strings(v: &Value) -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a.iter().flat_map(strings).collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn the_table_has_one_row_per_operation() {
        let mut seen = BTreeSet::new();
        for o in OPERATIONS {
            assert!(seen.insert((o.sdk, o.operation)), "twice: {o:?}");
            for a in o.actions {
                assert!(!a.contains('*'), "wildcard action in {o:?}");
                assert!(a.contains(':'), "{a}");
            }
        }
    }

    #[test]
    fn star_resource_only_for_actions_without_resource_level_permissions() {
        let doc = deployer_policy(&scope());
        let allowed_star: BTreeSet<&str> = OPERATIONS
            .iter()
            .filter(|o| o.scope == NoResource)
            .flat_map(|o| o.actions.iter().copied())
            .collect();
        for s in doc["Statement"].as_array().expect("statements") {
            let actions = strings(&s["Action"]);
            for a in &actions {
                assert!(!a.contains('*'), "wildcard action {a}");
            }
            if strings(&s["Resource"]).contains(&"*".to_string()) {
                for a in &actions {
                    assert!(allowed_star.contains(a.as_str()), "{a} on *");
                }
            }
        }
        for a in [
            "ecr:GetAuthorizationToken",
            "sts:GetCallerIdentity",
            "elasticbeanstalk:CreateStorageLocation",
        ] {
            assert!(allowed_star.contains(a), "{a}");
        }
        assert!(!allowed_star.contains("elasticbeanstalk:UpdateEnvironment"));
    }

    #[test]
    fn resources_are_the_configs_names() {
        let doc = deployer_policy(&scope());
        let text = doc.to_string();
        assert!(text.contains(
            "arn:aws:elasticbeanstalk:us-east-1:123456789012:environment/budgetsync/budgetsync-dev"
        ));
        assert!(text.contains("arn:aws:ecr:us-east-1:123456789012:repository/budgetsync"));
        assert!(text.contains("arn:aws:rds:us-east-1:123456789012:db:budgetsync-db"));
        assert!(text.contains("secret:budgetsync/secret-key-??????"));
        assert!(text.contains("arn:aws:s3:::elasticbeanstalk-us-east-1-123456789012/*"));
        assert!(text.contains("arn:aws:cloudwatch:us-east-1:123456789012:alarm:budgetsync-dev-*"));
        assert!(text.contains("arn:aws:sns:us-east-1:123456789012:budgetsync-dev-alarms"));
        let no_alarms = deployer_policy(&DeployerScope {
            alarm_prefix: None,
            ..scope()
        })
        .to_string();
        assert!(
            !no_alarms.contains("cloudwatch:"),
            "no [alarms], no statement"
        );
        let pass = doc["Statement"]
            .as_array()
            .expect("statements")
            .iter()
            .find(|s| strings(&s["Action"]) == ["iam:PassRole"])
            .expect("PassRole");
        assert_eq!(
            strings(&pass["Resource"]),
            [
                "arn:aws:iam::123456789012:role/aws-elasticbeanstalk-service-role",
                "arn:aws:iam::123456789012:role/aws-elasticbeanstalk-ec2-role"
            ]
        );
        let attach = doc["Statement"]
            .as_array()
            .expect("statements")
            .iter()
            .find(|s| strings(&s["Action"]) == ["iam:AttachRolePolicy"])
            .expect("AttachRolePolicy");
        assert_eq!(
            strings(&attach["Condition"]["ArnEquals"]["iam:PolicyARN"]),
            [crate::EB_WEB_TIER]
        );
    }
}
