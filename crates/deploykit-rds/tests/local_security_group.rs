//! The database's security group against the running local cloud (moto's EC2 behind the
//! edge, the edge's own RDS): `ensure` creates `<instance>-db` with the one rule and attaches
//! it, a second `ensure` changes nothing, an open rule added by hand is drift in `status` and
//! the next `ensure` revokes it. Joins the cloud through DEPLOYKIT_LOCAL_STATE
//! (`cargo xtask local up`); every name is unique to the run.
//!
//! EC2 goes through the crate's own Query client ([`deploykit_rds::ec2::Ec2`]); what it does
//! not wrap (CreateVpc, DeleteVpc, DeleteSecurityGroup) goes as raw signed calls through the
//! same [`deploykit_aws::query::QueryClient`].

use std::time::Duration;

use deploykit_aws::query::{Params, parse};
use deploykit_rds::ec2::{Ec2, Filter, IpPermission, IpRange, UserIdGroupPair};
use deploykit_rds::{
    DEFAULT_GROUP_NOTE, DbSpec, Fix, IngressRule, Plan, Rds, Severity, Source, WaitPolicy,
};
use deploykit_report::{Event, VecReporter};
use deploykit_testsupport::{local_cloud, unique_name};

fn open_rule() -> IpPermission {
    IpPermission {
        ip_protocol: Some("tcp".into()),
        from_port: Some(5432),
        to_port: Some(5432),
        ip_ranges: vec![IpRange {
            cidr_ip: Some("0.0.0.0/0".into()),
            description: None,
        }]
        .into(),
        ..Default::default()
    }
}

async fn default_vpc(ec2: &Ec2) -> String {
    ec2.describe_vpcs(&[Filter::new("isDefault", "true")])
        .await
        .unwrap()[0]
        .vpc_id
        .clone()
        .unwrap()
}

async fn create_group(ec2: &Ec2, name: &str, description: &str, vpc: &str) -> String {
    ec2.create_security_group(name, description, vpc, &[])
        .await
        .unwrap()
}

/// DeleteSecurityGroup, raw; cleanup only, so the outcome is not checked.
async fn delete_group(ec2: &Ec2, id: &str) {
    let mut p = Params::new();
    p.set("GroupId", id);
    let _ = ec2.query().call("DeleteSecurityGroup", &p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ensure_creates_the_db_group_keeps_it_and_revokes_open_rules() {
    let cloud = local_cloud().await;
    let sdk = cloud.sdk_config();
    let ec2 = Ec2::new(&sdk);
    let rds_client = aws_sdk_rds::Client::new(&sdk);
    let rds = Rds::new(
        &sdk,
        WaitPolicy {
            timeout: Duration::from_secs(60),
            poll: Duration::from_millis(100),
        },
    );
    let r = VecReporter::new();

    // The app's group, in moto's default VPC.
    let vpc = default_vpc(&ec2).await;
    let name = unique_name("sgdb");
    let app = create_group(&ec2, &format!("{name}-app"), "the app (test)", &vpc).await;
    let db = name.replace('-', "_");
    let spec = DbSpec {
        db_name: db.clone(),
        master_username: db.clone(),
        app_security_group: Some(app.clone()),
        ..DbSpec::recommended(name.clone())
    };

    // Not there yet: status (via the plan) says so; ensure creates group and instance.
    let first = rds.ensure(&spec, &r).await.unwrap();
    assert!(
        matches!(first.plan, Plan::Create { .. }),
        "{:?}",
        first.plan
    );
    let g = first.security_group.clone().expect("a managed group");
    assert!(g.created && g.changed());
    assert_eq!(g.group_name, format!("{name}-db"));
    assert_eq!(g.vpc_id, vpc);
    assert_eq!(g.authorized, vec![IngressRule::postgres_from(&app)]);
    assert_eq!(first.state.vpc_security_group_ids, vec![g.group_id.clone()]);
    let described = ec2
        .describe_security_groups(&[g.group_id.as_str()], &[])
        .await
        .unwrap();
    let sg = &described[0];
    let description = sg.description.clone().unwrap_or_default();
    assert!(
        description.contains(&name) && description.contains("5432"),
        "{description:?}"
    );
    assert_eq!(
        deploykit_rds::ingress_rules(&sg.ip_permissions.items),
        vec![IngressRule::postgres_from(&app)]
    );
    // Created with its tags (one TagSpecification), never untagged.
    let tags: Vec<(&str, &str)> = sg
        .tag_set
        .iter()
        .filter_map(|t| Some((t.key.as_deref()?, t.value.as_deref()?)))
        .collect();
    for want in [
        ("Name", g.group_name.as_str()),
        ("managed-by", "deploykit"),
        ("deploykit:db-instance", name.as_str()),
    ] {
        assert!(tags.contains(&want), "{want:?} in {tags:?}");
    }
    // RDS reports the membership.
    let inst = rds_client
        .describe_db_instances()
        .db_instance_identifier(&name)
        .send()
        .await
        .unwrap();
    let m = &inst.db_instances()[0].vpc_security_groups()[0];
    assert_eq!(m.vpc_security_group_id(), Some(g.group_id.as_str()));
    assert_eq!(m.status(), Some("active"));

    // Twice: nothing changes, and it says so.
    let second = rds.ensure(&spec, &r).await.unwrap();
    assert!(!second.changed(), "{second:?}");
    let g2 = second.security_group.clone().unwrap();
    assert_eq!(g2.group_id, g.group_id);
    assert!(!g2.created && g2.authorized.is_empty() && g2.revoked.is_empty());
    assert!(r.events().iter().any(|e| matches!(e,
        Event::StepSkipped { step, reason } if step == "db-security-group" && reason.contains("already admits only"))));
    let st = rds.status(&spec).await.unwrap();
    assert!(st.drift.is_empty(), "{:?}", st.drift);
    assert!(st.unverified.is_empty(), "{:?}", st.unverified);

    // 0.0.0.0/0 (and ssh from the app) by hand: critical drift in status, both revoked (and
    // reported) by ensure.
    ec2.authorize_security_group_ingress(&g.group_id, &[open_rule()])
        .await
        .unwrap();
    let ssh = IpPermission {
        ip_protocol: Some("tcp".into()),
        from_port: Some(22),
        to_port: Some(22),
        user_id_group_pairs: vec![UserIdGroupPair {
            group_id: Some(app.clone()),
            ..Default::default()
        }]
        .into(),
        ..Default::default()
    };
    ec2.authorize_security_group_ingress(&g.group_id, &[ssh])
        .await
        .unwrap();
    // The same rule twice is EC2's InvalidPermission.Duplicate, by code.
    let dup = ec2
        .authorize_security_group_ingress(&g.group_id, &[open_rule()])
        .await
        .unwrap_err();
    assert_eq!(
        dup.code.as_deref(),
        Some("InvalidPermission.Duplicate"),
        "{dup}"
    );
    let st = rds.status(&spec).await.unwrap();
    assert_eq!(st.drift.len(), 1, "{:?}", st.drift);
    let d = &st.drift[0];
    assert_eq!(d.setting, "db_security_group_ingress");
    assert_eq!(d.severity, Severity::Critical);
    assert!(d.current.contains("0.0.0.0/0"), "{d}");
    assert!(
        matches!(&d.fix, Fix::SecurityGroup { authorize, revoke } if authorize.is_empty() && revoke.len() == 2 && revoke[0].source == Source::Cidr("0.0.0.0/0".into())),
        "{:?}",
        d.fix
    );
    let third = rds.ensure(&spec, &r).await.unwrap();
    assert!(third.changed());
    assert!(
        matches!(third.plan, Plan::NoChange { .. }),
        "{:?}",
        third.plan
    );
    let g3 = third.security_group.clone().unwrap();
    assert_eq!(g3.revoked.len(), 2);
    assert!(g3.revoked[0].source.is_open());
    assert_eq!(g3.revoked[1].to_string(), format!("tcp 22 from {app}"));
    assert!(r.events().iter().any(|e| matches!(e,
        Event::Message { message: text, .. } if text.contains("revoked an open rule") && text.contains("0.0.0.0/0"))),
        "{:?}", r.events());
    assert!(rds.status(&spec).await.unwrap().drift.is_empty());

    // The instance moved to another group by hand: drift, and ensure puts it back.
    rds_client
        .modify_db_instance()
        .db_instance_identifier(&name)
        .vpc_security_group_ids(&app)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    rds.wait_available(&name, &r, "test").await.unwrap();
    let st = rds.status(&spec).await.unwrap();
    let settings: Vec<&str> = st.drift.iter().map(|d| d.setting).collect();
    assert_eq!(settings, vec!["vpc_security_group_ids"]);
    let fourth = rds.ensure(&spec, &r).await.unwrap();
    assert!(
        matches!(fourth.plan, Plan::Modify { .. }),
        "{:?}",
        fourth.plan
    );
    assert_eq!(
        fourth.state.vpc_security_group_ids,
        vec![g.group_id.clone()]
    );

    // Without app_security_group nothing is managed, and both commands say so.
    let plain = DbSpec {
        app_security_group: None,
        ..spec.clone()
    };
    let st = rds.status(&plain).await.unwrap();
    assert!(st.security_group.is_none());
    assert_eq!(st.unverified.len(), 1);
    assert!(
        st.unverified[0].starts_with(DEFAULT_GROUP_NOTE)
            && st.unverified[0].ends_with(&format!("the instance's groups now: {}", g.group_id)),
        "{:?}",
        st.unverified
    );
    let r2 = VecReporter::new();
    let out = rds.ensure(&plain, &r2).await.unwrap();
    assert!(out.security_group.is_none() && !out.changed());
    assert!(r2.events().iter().any(|e| matches!(e,
        Event::Message { message: text, .. } if text.contains("default security group") && text.contains("app_security_group"))));

    // An app group that does not exist is refused before anything changes.
    let missing = DbSpec {
        app_security_group: Some("sg-0123456789abcdef0".into()),
        ..spec.clone()
    };
    let e = rds.ensure(&missing, &r).await.unwrap_err();
    assert!(
        matches!(e, deploykit_rds::RdsError::SecurityGroup { .. }),
        "{e}"
    );

    // Clean up what this test made.
    rds_client
        .delete_db_instance()
        .db_instance_identifier(&name)
        .skip_final_snapshot(true)
        .send()
        .await
        .unwrap();
    for id in [&g.group_id, &app] {
        delete_group(&ec2, id).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_group_is_adopted_and_other_vpcs_are_refused() {
    let cloud = local_cloud().await;
    let sdk = cloud.sdk_config();
    let ec2 = Ec2::new(&sdk);
    let rds_client = aws_sdk_rds::Client::new(&sdk);
    let rds = Rds::new(&sdk, WaitPolicy::default());
    let r = VecReporter::new();
    let vpc = default_vpc(&ec2).await;
    let name = unique_name("sgvpc");
    let app = create_group(&ec2, &format!("{name}-app"), "test", &vpc).await;

    // A group of that name made by hand, open to the internet: adopted and fixed.
    let pre = create_group(&ec2, &format!("{name}-db"), "test", &vpc).await;
    ec2.authorize_security_group_ingress(&pre, &[open_rule()])
        .await
        .unwrap();
    // Making it again is EC2's InvalidGroup.Duplicate (which ensure adopts), by code.
    let dup = ec2
        .create_security_group(&format!("{name}-db"), "test", &vpc, &[])
        .await
        .unwrap_err();
    assert_eq!(dup.code.as_deref(), Some("InvalidGroup.Duplicate"), "{dup}");
    let spec = DbSpec {
        app_security_group: Some(app.clone()),
        ..DbSpec::recommended(name.clone())
    };
    let o = rds.ensure_security_group(&spec, &r).await.unwrap().unwrap();
    assert!(!o.created && o.changed());
    assert_eq!(o.group_id, pre);
    assert_eq!(o.authorized, vec![IngressRule::postgres_from(&app)]);
    assert!(o.revoked.len() == 1 && o.revoked[0].source.is_open());

    // With a DB subnet group in the same (default) VPC: found there, nothing to do.
    let subnets: Vec<String> = ec2
        .describe_subnets(&[], &[Filter::new("vpc-id", &vpc)])
        .await
        .unwrap()
        .into_iter()
        .filter_map(|s| s.subnet_id)
        .take(2)
        .collect();
    assert_eq!(subnets.len(), 2, "moto's default VPC has a subnet per zone");
    let subnet_group = format!("{name}-subnets");
    rds_client
        .create_db_subnet_group()
        .db_subnet_group_name(&subnet_group)
        .db_subnet_group_description("test")
        .set_subnet_ids(Some(subnets))
        .send()
        .await
        .unwrap();
    let in_subnets = DbSpec {
        subnet_group: Some(subnet_group.clone()),
        ..spec.clone()
    };
    let st = rds
        .security_group_status(&in_subnets)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(st.vpc_id, vpc);
    assert_eq!(
        st.group.as_ref().map(|g| g.group_id.as_str()),
        Some(pre.as_str())
    );
    assert!(st.plan.is_empty() && st.drift().is_empty());

    // An app group in another VPC is refused (with or without a subnet group), nothing made.
    let other_vpc = create_vpc(&ec2, "10.99.0.0/16").await;
    let other_app = create_group(&ec2, &format!("{name}-app"), "test", &other_vpc).await;
    for (s, where_) in [(&spec, "default VPC"), (&in_subnets, subnet_group.as_str())] {
        let s = DbSpec {
            app_security_group: Some(other_app.clone()),
            ..s.clone()
        };
        let e = rds.ensure_security_group(&s, &r).await.unwrap_err();
        let msg = e.to_string();
        let help = deploykit_report::Diagnostic::help(&e).unwrap_or_default();
        assert!(
            matches!(e, deploykit_rds::RdsError::SecurityGroup { .. })
                && msg.contains(&other_vpc)
                && msg.contains(&vpc)
                && msg.contains(where_)
                && help.contains("subnet_group"),
            "{msg} / {help}"
        );
    }
    let made = ec2
        .describe_security_groups(
            &[],
            &[
                Filter::new("vpc-id", &other_vpc),
                Filter::new("group-name", format!("{name}-db")),
            ],
        )
        .await
        .unwrap();
    assert!(made.is_empty(), "{made:?}");

    for id in [&pre, &app, &other_app] {
        delete_group(&ec2, id).await;
    }
    let mut p = Params::new();
    p.set("VpcId", &other_vpc);
    let _ = ec2.query().call("DeleteVpc", &p).await;
}

/// CreateVpc, raw: `<CreateVpcResponse><vpc><vpcId>`.
async fn create_vpc(ec2: &Ec2, cidr: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Vpc {
        #[serde(rename = "vpcId")]
        vpc_id: String,
    }
    #[derive(serde::Deserialize)]
    struct CreateVpcResponse {
        vpc: Vpc,
    }
    let mut p = Params::new();
    p.set("CidrBlock", cidr);
    let body = ec2.query().call("CreateVpc", &p).await.unwrap();
    parse::<CreateVpcResponse>("CreateVpc", &body)
        .unwrap()
        .vpc
        .vpc_id
}

/// EC2's throttling and 5xx, in EC2's own wire format from the edge's fault injection: retried
/// with backoff until the attempts run out, then classified by code, never by message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_server_errors_are_retried_then_reported_by_code() {
    use deploykit_aws::ErrorKind;
    use deploykit_localcloud::admin::{FaultKind, FaultRequest};

    let cloud = local_cloud().await;
    let edge = cloud.private_edge(|_| {}).await;
    let ec2 = Ec2::new(&cloud.sdk_config_for(&edge.url()));
    let admin = edge.admin();
    let attempts = ec2.query().retry_policy().max_attempts;
    assert_eq!(attempts, 3, "the SDK's standard mode");
    let inject = |fault, count| {
        let admin = admin.clone();
        async move {
            admin
                .inject_fault(&FaultRequest::new("ec2", fault, count))
                .await
                .expect("fault")
        }
    };

    // Fewer failures than attempts: the call succeeds.
    for (fault, count) in [
        (FaultKind::Throttle, attempts - 1),
        (FaultKind::ServerError, 1),
        (FaultKind::Drop, 1),
    ] {
        inject(fault, count).await;
        let vpcs = ec2
            .describe_vpcs(&[Filter::new("isDefault", "true")])
            .await
            .unwrap_or_else(|e| panic!("{fault:?} x{count}: {e}"));
        assert_eq!(vpcs.len(), 1, "{fault:?}");
    }

    // As many as attempts: the last error, by EC2's code.
    inject(FaultKind::Throttle, attempts).await;
    let e = ec2.describe_vpcs(&[]).await.unwrap_err();
    assert_eq!(
        (e.kind, e.code.as_deref()),
        (ErrorKind::Throttling, Some("RequestLimitExceeded")),
        "{e}"
    );
    inject(FaultKind::ServerError, attempts).await;
    let e = ec2.describe_vpcs(&[]).await.unwrap_err();
    assert_eq!(
        (e.kind, e.code.as_deref()),
        (ErrorKind::Transient, Some("InternalError")),
        "{e}"
    );
    // And the faults are used up: the next call is answered.
    assert!(ec2.describe_vpcs(&[]).await.is_ok());
}
