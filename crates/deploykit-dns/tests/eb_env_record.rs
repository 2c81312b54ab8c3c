//! The Elastic Beanstalk environment's domain record against moto's Route 53 (through the
//! shared local cloud): CNAME for a single instance, alias A to the load balancer once
//! load-balanced, each replacing the other in one batch, and unchanged on a second run.

use deploykit_dns::{EnvTarget, RecordAction, ZoneRef};
use deploykit_report::VecReporter;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cname_then_alias_then_cname_each_once() {
    let cloud = deploykit_testsupport::local_cloud().await;
    let r53 = aws_sdk_route53::Client::new(&cloud.sdk_config());
    let zone_name = format!("{}.test", deploykit_testsupport::unique_name("ebdns"));
    r53.create_hosted_zone()
        .name(format!("{zone_name}."))
        .caller_reference(&zone_name)
        .send()
        .await
        .expect("CreateHostedZone");
    let domain = format!("app.{zone_name}");
    let zone = deploykit_dns::find_zone(&r53, &domain, &ZoneRef::Longest)
        .await
        .expect("zone");
    let rep = VecReporter::new();
    let single = EnvTarget::Cname {
        value: "budgetsync-prod.us-east-1.elasticbeanstalk.com".into(),
    };
    let alb = EnvTarget::Alias {
        dns_name: "awseb-e-abc-alb.us-east-1.elb.amazonaws.com".into(),
        hosted_zone_id: deploykit_dns::env_record::alb_hosted_zone("us-east-1")
            .unwrap()
            .into(),
    };
    for (target, replaces) in [(&single, 0), (&alb, 1), (&single, 1)] {
        let out = deploykit_dns::ensure_env_record(&r53, &zone, &domain, target, None, &rep)
            .await
            .unwrap_or_else(|e| panic!("{target:?}: {e}"));
        assert_eq!(out.plan.action, RecordAction::Create, "{out:?}");
        assert_eq!(out.plan.replaces.len(), replaces, "{out:?}");
        assert!(out.change_id.is_some());
        let again = deploykit_dns::ensure_env_record(&r53, &zone, &domain, target, None, &rep)
            .await
            .expect("again");
        assert!(
            again.change_id.is_none() && again.plan.unchanged(),
            "{again:?}"
        );
    }
    let sets = r53
        .list_resource_record_sets()
        .hosted_zone_id(&zone.id)
        .send()
        .await
        .expect("list");
    let ours: Vec<String> = sets
        .resource_record_sets()
        .iter()
        .filter(|s| s.name().trim_end_matches('.') == domain)
        .map(|s| s.r#type().as_str().to_string())
        .collect();
    assert_eq!(ours, vec!["CNAME".to_string()]);
}
