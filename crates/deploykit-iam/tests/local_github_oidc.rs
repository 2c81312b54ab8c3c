//! `iam github-oidc` through the local cloud (the edge forwards IAM to moto): ensure twice
//! (the second run makes no mutating call), and the role's trust admits exactly the
//! repository and branch asked for. Needs the running local cloud (`cargo xtask test` starts
//! it). GitHub's provider is one per account: an earlier run may have created it already.

use std::sync::{Arc, Mutex};

use aws_sdk_iam::config::{ConfigBag, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use deploykit_iam::Iam;
use deploykit_iam::github_oidc::{
    DEPLOYER_POLICY_NAME, GITHUB_OIDC_HOST, GithubOidc, STS_AUDIENCE, ensure,
};
use deploykit_iam::policy::{parse_document, same_policy};
use deploykit_report::VecReporter;
use deploykit_testsupport::{local_cloud, unique_name};
use serde_json::json;

/// Records the name of every IAM operation sent.
#[derive(Debug, Clone, Default)]
struct Calls(Arc<Mutex<Vec<String>>>);

impl Calls {
    fn mutating(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().expect("calls"))
            .into_iter()
            .filter(|o| !o.starts_with("Get") && !o.starts_with("List"))
            .collect()
    }
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

#[tokio::test]
async fn ensure_twice_then_the_trust_is_exactly_the_repo_and_branch() {
    let cloud = local_cloud().await;
    let sdk = cloud.sdk_config();
    let calls = Calls::default();
    let conf = aws_sdk_iam::config::Builder::from(&sdk)
        .interceptor(calls.clone())
        .build();
    let iam = Iam::from_client(aws_sdk_iam::Client::from_conf(conf));
    let plain = aws_sdk_iam::Client::new(&sdk);
    let role = unique_name("gh-deploy");
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sts:GetCallerIdentity"], "Resource": "*"}
    ]});
    let desired = GithubOidc::new(
        "budgetsync",
        "octo-org/budgetsync",
        "main",
        Some(&role),
        "aws",
        &cloud.account_id,
        policy.clone(),
    )
    .expect("valid");
    let r = VecReporter::new();

    let first = ensure(&iam, &desired, &r).await.expect("first ensure");
    assert!(!first.unchanged);
    let made = calls.mutating();
    assert!(made.contains(&"CreateRole".to_owned()), "{made:?}");
    assert!(made.contains(&"PutRolePolicy".to_owned()), "{made:?}");
    assert!(
        first.role_arn.ends_with(&format!(":role/{role}")),
        "{first:?}"
    );
    assert_eq!(
        first.provider_arn,
        format!(
            "arn:aws:iam::{}:oidc-provider/{GITHUB_OIDC_HOST}",
            cloud.account_id
        )
    );

    let second = ensure(&iam, &desired, &r).await.expect("second ensure");
    assert!(second.unchanged, "{:#?}", second.plan);
    assert_eq!(calls.mutating(), Vec::<String>::new());
    assert_eq!(second.role_arn, first.role_arn);

    let got = plain
        .get_role()
        .role_name(&role)
        .send()
        .await
        .expect("GetRole")
        .role
        .expect("role");
    assert_eq!(got.max_session_duration, Some(3600));
    let trust = parse_document(got.assume_role_policy_document().expect("trust")).expect("json");
    let stmts = trust["Statement"].as_array().expect("statements");
    assert_eq!(stmts.len(), 1, "{trust}");
    assert_eq!(stmts[0]["Principal"]["Federated"], first.provider_arn);
    assert_eq!(stmts[0]["Action"], "sts:AssumeRoleWithWebIdentity");
    assert_eq!(
        stmts[0]["Condition"],
        json!({"StringEquals": {
            "token.actions.githubusercontent.com:sub": "repo:octo-org/budgetsync:ref:refs/heads/main",
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        }})
    );
    let inline = plain
        .get_role_policy()
        .role_name(&role)
        .policy_name(DEPLOYER_POLICY_NAME)
        .send()
        .await
        .expect("GetRolePolicy");
    let doc = parse_document(inline.policy_document()).expect("json");
    assert!(same_policy(&doc, &policy), "{doc}");
    let provider = plain
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&first.provider_arn)
        .send()
        .await
        .expect("GetOpenIDConnectProvider");
    assert!(
        provider.client_id_list().iter().any(|c| c == STS_AUDIENCE),
        "{provider:?}"
    );

    // Another branch: only the trust changes, and then it admits only that branch.
    let release = GithubOidc::new(
        "budgetsync",
        "octo-org/budgetsync",
        "release",
        Some(&role),
        "aws",
        &cloud.account_id,
        policy,
    )
    .expect("valid");
    let third = ensure(&iam, &release, &r).await.expect("third ensure");
    assert_eq!(calls.mutating(), ["UpdateAssumeRolePolicy"]);
    assert_eq!(
        third.plan.subject,
        "repo:octo-org/budgetsync:ref:refs/heads/release"
    );
}
