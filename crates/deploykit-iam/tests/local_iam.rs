//! IAM through the local cloud (the edge forwards IAM to moto): ensure twice (created, then
//! not one mutating call), drift (an extra inline statement, a detached managed policy)
//! reported and fixed. Needs the running local cloud (`cargo xtask test` starts it).
//!
//! moto only knows AWS managed policies (`arn:aws:iam::aws:policy/...`) when started with
//! `MOTO_IAM_LOAD_MANAGED_POLICIES=true`; these tests create customer managed policies that
//! stand in for them, so they hold either way.

use std::sync::{Arc, Mutex};

use aws_sdk_iam::config::{ConfigBag, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use deploykit_iam::{AppRoles, Change, Iam, RolePurpose, RoleSpec, desired_roles, plan};
use deploykit_report::VecReporter;
use deploykit_testsupport::{local_cloud, unique_name};

/// Records the name of every IAM operation sent.
#[derive(Debug, Clone, Default)]
struct Calls(Arc<Mutex<Vec<String>>>);

impl Calls {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().expect("calls"))
    }
}

fn mutating(ops: &[String]) -> Vec<String> {
    ops.iter()
        .filter(|o| !o.starts_with("Get") && !o.starts_with("List"))
        .cloned()
        .collect()
}

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "Calls"
    }

    fn read_before_transmit(
        &self,
        _ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(m) = cfg.load::<Metadata>() {
            self.0.lock().expect("calls").push(m.name().to_string());
        }
        Ok(())
    }
}

async fn iam() -> (Iam, aws_sdk_iam::Client, Calls) {
    let cloud = local_cloud().await;
    let sdk = cloud.sdk_config();
    let calls = Calls::default();
    let conf = aws_sdk_iam::config::Builder::from(&sdk)
        .interceptor(calls.clone())
        .build();
    let plain = aws_sdk_iam::Client::new(&sdk);
    (
        Iam::from_client(aws_sdk_iam::Client::from_conf(conf)),
        plain,
        calls,
    )
}

/// A customer managed policy standing in for an AWS managed one.
async fn stand_in_policy(client: &aws_sdk_iam::Client, name: &str) -> String {
    let doc = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["cloudwatch:PutMetricData"], "Resource": "*"}]
    });
    client
        .create_policy()
        .policy_name(name)
        .policy_document(doc.to_string())
        .send()
        .await
        .expect("CreatePolicy")
        .policy
        .expect("policy")
        .arn
        .expect("arn")
}

/// Every role of both routes, with stand-ins for the AWS managed policies.
async fn specs(client: &aws_sdk_iam::Client) -> Vec<RoleSpec> {
    let base = unique_name("iam");
    let roles = AppRoles {
        app: "budgetsync".into(),
        eb_service_role: Some(format!("{base}-ebs")),
        eb_instance_profile: Some(format!("{base}-ec2")),
        apprunner_access_role: Some(format!("{base}-ecr")),
        apprunner_instance_role: Some(format!("{base}-run")),
        ecs_execution_role: None,
        ecs_infrastructure_role: None,
        secret_arns: vec![format!(
            "arn:aws:secretsmanager:us-east-1:000000000000:secret:{base}/key-AbCdEf"
        )],
        bucket: Some(format!("{base}-uploads")),
    };
    let mut specs = desired_roles(&roles);
    for s in &mut specs {
        let mut stand_ins = Vec::new();
        for (i, _) in s.managed_policies.iter().enumerate() {
            stand_ins.push(stand_in_policy(client, &format!("{}-m{i}", s.name)).await);
        }
        stand_ins.sort();
        s.managed_policies = stand_ins;
    }
    specs
}

#[tokio::test]
async fn ensure_twice_creates_then_makes_no_mutating_call() {
    let (iam, client, calls) = iam().await;
    let specs = specs(&client).await;
    calls.take();
    let r = VecReporter::new();
    let first = iam.ensure_specs(&specs, &r).await.expect("first ensure");
    assert!(!first.unchanged());
    assert!(first.plan.roles.iter().all(|rp| !rp.exists));
    let ops = calls.take();
    let created = mutating(&ops);
    assert_eq!(
        created.iter().filter(|o| *o == "CreateRole").count(),
        4,
        "{ops:?}"
    );
    assert_eq!(
        created
            .iter()
            .filter(|o| *o == "CreateInstanceProfile")
            .count(),
        1
    );
    for s in &specs {
        assert!(
            first
                .role_arns
                .get(&s.name)
                .is_some_and(|a| a.ends_with(&format!("role/{}", s.name))),
            "{:?}",
            first.role_arns
        );
    }
    let ec2 = specs
        .iter()
        .find(|s| s.purpose == RolePurpose::EbInstance)
        .expect("instance role");
    assert!(
        iam.instance_profile_arn(&ec2.name)
            .await
            .expect("GetInstanceProfile")
            .is_some()
    );

    let second = iam.ensure_specs(&specs, &r).await.expect("second ensure");
    assert!(second.unchanged(), "{:?}", second.plan.differences());
    let ops = calls.take();
    assert!(mutating(&ops).is_empty(), "second ensure made {ops:?}");
    assert!(!ops.is_empty());
    assert_eq!(second.role_arns, first.role_arns);
}

#[tokio::test]
async fn drift_is_reported_then_fixed() {
    let (iam, client, calls) = iam().await;
    let specs = specs(&client).await;
    let r = VecReporter::new();
    iam.ensure_specs(&specs, &r).await.expect("ensure");
    let ec2 = specs
        .iter()
        .find(|s| s.purpose == RolePurpose::EbInstance)
        .expect("instance role");
    let inline = ec2.inline_policy.as_ref().expect("inline policy");

    // Someone adds a statement by hand and detaches the managed policy.
    let mut doc = inline.document.clone();
    doc["Statement"]
        .as_array_mut()
        .expect("statements")
        .push(serde_json::json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::someone-elses/*"}));
    client
        .put_role_policy()
        .role_name(&ec2.name)
        .policy_name(&inline.name)
        .policy_document(doc.to_string())
        .send()
        .await
        .expect("PutRolePolicy");
    client
        .detach_role_policy()
        .role_name(&ec2.name)
        .policy_arn(&ec2.managed_policies[0])
        .send()
        .await
        .expect("DetachRolePolicy");

    let states = iam.inspect(&specs).await.expect("inspect");
    let p = plan(&specs, &states);
    let drift = p.differences();
    assert!(
        drift.iter().any(|d| d.contains(&ec2.name)
            && d.contains("extra statement")
            && d.contains("someone-elses")),
        "{drift:?}"
    );
    assert!(
        drift.iter().any(|d| d.contains(&format!(
            "managed policy {} is not attached",
            ec2.managed_policies[0]
        ))),
        "{drift:?}"
    );
    assert_eq!(drift.len(), 2, "{drift:?}");
    let ops: Vec<&str> = p.changes().map(Change::operation).collect();
    assert_eq!(ops, ["AttachRolePolicy", "PutRolePolicy"]);

    calls.take();
    iam.apply(&p, &r).await.expect("apply");
    assert_eq!(
        mutating(&calls.take()),
        ["AttachRolePolicy", "PutRolePolicy"]
    );
    let states = iam.inspect(&specs).await.expect("inspect");
    let p = plan(&specs, &states);
    assert!(p.is_empty(), "{:?}", p.differences());
}

#[tokio::test]
async fn an_existing_role_is_adopted_not_recreated() {
    let (iam, client, calls) = iam().await;
    let specs = specs(&client).await;
    let svc = specs
        .iter()
        .find(|s| s.purpose == RolePurpose::EbService)
        .expect("service role")
        .clone();
    // Made by hand, with a different trust policy and no policies.
    client
        .create_role()
        .role_name(&svc.name)
        .assume_role_policy_document(
            deploykit_iam::policy::trust_policy("ec2.amazonaws.com", None).to_string(),
        )
        .send()
        .await
        .expect("CreateRole");
    calls.take();
    let out = iam
        .ensure_specs(std::slice::from_ref(&svc), &VecReporter::new())
        .await
        .expect("ensure");
    assert!(out.plan.roles[0].exists);
    let ops = mutating(&calls.take());
    assert!(!ops.contains(&"CreateRole".to_string()), "{ops:?}");
    assert_eq!(ops[0], "UpdateAssumeRolePolicy", "{ops:?}");
    let again = iam
        .ensure_specs(std::slice::from_ref(&svc), &VecReporter::new())
        .await
        .expect("ensure again");
    assert!(again.unchanged(), "{:?}", again.plan.differences());
}

#[tokio::test]
async fn a_missing_managed_policy_is_refused_before_any_change() {
    let (iam, _client, _calls) = iam().await;
    let name = unique_name("iam-nomp");
    let mut spec = desired_roles(&AppRoles {
        app: "a".into(),
        apprunner_access_role: Some(name.clone()),
        ..AppRoles::default()
    })
    .remove(0);
    spec.managed_policies = vec!["arn:aws:iam::aws:policy/DeploykitNoSuchPolicy".into()];
    let err = iam
        .ensure_specs(&[spec], &VecReporter::new())
        .await
        .expect_err("no such policy");
    assert!(
        matches!(&err, deploykit_iam::IamError::NoSuchManagedPolicy { policy_arn, .. } if policy_arn.ends_with("DeploykitNoSuchPolicy")),
        "{err}"
    );
    assert!(err.to_string().contains("nothing was changed"), "{err}");
    // Refused before any change: the role was not created.
    assert_eq!(iam.role_arn(&name).await.expect("GetRole"), None);
}
