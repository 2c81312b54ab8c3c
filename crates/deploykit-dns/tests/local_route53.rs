//! Route 53 (moto, through the localcloud edge) and App Runner custom domains (the edge's
//! emulator) together: associate, upsert, run again unchanged, wait for the certificate.
//! Needs the running local cloud (`cargo xtask test` starts it).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_route53::config::ConfigBag;
use aws_sdk_route53::config::RuntimeComponents;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use deploykit_apprunner::{ContainerPlatform, Probe, ServiceSpec};
use deploykit_dns::{DnsError, Record, RecordAction, WaitOptions, ZoneRef};
use deploykit_localcloud::core::RegistryConfig;
use deploykit_report::VecReporter;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Records the name of every Route 53 operation sent.
#[derive(Debug, Clone, Default)]
struct Calls(Arc<Mutex<Vec<String>>>);

impl Calls {
    fn count(&self, op: &str) -> usize {
        self.0
            .lock()
            .expect("calls")
            .iter()
            .filter(|o| *o == op)
            .count()
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

/// A registry that has every image: answers 200 to every request (the edge only asks
/// `HEAD /v2/<repo>/manifests/<tag>` before a deploy).
async fn registry_with_everything() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = s.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        let resp = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\n\r\n";
                        if s.write_all(resp.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn associate_upsert_unchanged_and_wait() {
    let cloud = deploykit_testsupport::local_cloud().await;
    let registry = registry_with_everything().await;
    let edge = cloud
        .private_edge(|c| {
            c.time_scale = 600.0;
            c.registry = Some(RegistryConfig {
                endpoint: registry.clone(),
                username: "AWS".into(),
                password: "unused".into(),
            });
        })
        .await;
    let sdk = cloud.sdk_config_for(&edge.url());
    let rep = VecReporter::new();

    // A RUNNING App Runner service.
    let service = deploykit_testsupport::unique_name("dns");
    let apprunner = aws_sdk_apprunner::Client::new(&sdk);
    let platform = ContainerPlatform::AppRunner(apprunner.clone());
    let spec = ServiceSpec {
        name: service.clone(),
        image: format!("{registry}/{service}:v1"),
        access_role_arn: Some("arn:aws:iam::000000000000:role/AppRunnerECRAccess".into()),
        instance_role_arn: None,
        port: 8080,
        env: BTreeMap::new(),
        secrets: BTreeMap::new(),
        cpu: "1 vCPU".into(),
        memory: "2 GB".into(),
        health_path: "/healthz".into(),
        min_size: 1,
        max_size: 1,
        vpc: None,
    };
    let ar_wait = deploykit_apprunner::WaitOptions {
        poll: Duration::from_millis(100),
        timeout: Duration::from_secs(60),
    };
    let plan = platform.plan(&spec, false).await.expect("plan");
    let deployed = platform
        .deploy(
            &plan,
            &spec,
            ar_wait,
            &Probe {
                resolve: Some(edge.addr()),
            },
            &rep,
        )
        .await
        .expect("service created");
    let arn = deployed.service_arn.clone();

    // A hosted zone in moto (Route 53 goes through the edge, forwarded by SigV4 service).
    let calls = Calls::default();
    let r53 = aws_sdk_route53::Client::from_conf(
        aws_sdk_route53::config::Builder::from(&sdk)
            .interceptor(calls.clone())
            .build(),
    );
    let zone_name = format!("{service}.test");
    r53.create_hosted_zone()
        .name(format!("{zone_name}."))
        .caller_reference(&service)
        .send()
        .await
        .expect("CreateHostedZone");
    let domain = format!("app.{zone_name}");

    // Associate; a second association of the same domain adopts the first.
    let first =
        deploykit_apprunner::associate_domain(&apprunner, &service, &arn, &domain, false, &rep)
            .await
            .expect("associate");
    assert!(first.newly_associated);
    assert_eq!(first.cname_target, deployed.service_url);
    assert_eq!(first.validation.len(), 1, "{first:?}");
    let again =
        deploykit_apprunner::associate_domain(&apprunner, &service, &arn, &domain, false, &rep)
            .await
            .expect("re-associate adopts");
    assert!(!again.newly_associated);
    assert_eq!(again.validation, first.validation);

    // Upsert: the longest matching zone is found, records are created, the change is INSYNC.
    let zone = deploykit_dns::find_zone(&r53, &domain, &ZoneRef::Longest)
        .await
        .expect("zone found");
    assert_eq!(zone.name, zone_name);
    let by_id = deploykit_dns::find_zone(&r53, &domain, &ZoneRef::Id(zone.id.clone()))
        .await
        .expect("zone by id");
    assert_eq!(by_id, zone);
    let records: Vec<Record> = first
        .all_records()
        .into_iter()
        .map(|r| Record {
            name: r.name,
            record_type: r.record_type,
            value: r.value,
        })
        .collect();
    let wait = WaitOptions {
        poll: Duration::from_millis(100),
        timeout: Duration::from_secs(30),
    };
    let out = deploykit_dns::upsert_records(&r53, &zone, &records, Some(wait), &rep)
        .await
        .expect("upsert");
    assert!(!out.unchanged());
    assert_eq!(out.status, "INSYNC");
    assert!(out.records.iter().all(|p| p.action == RecordAction::Create));
    assert_eq!(calls.count("ChangeResourceRecordSets"), 1);

    // The records exist with the right values.
    let listed = r53
        .list_resource_record_sets()
        .hosted_zone_id(&zone.id)
        .send()
        .await
        .expect("ListResourceRecordSets");
    for r in &records {
        let want = deploykit_dns::normalize_name(&r.name);
        let set = listed
            .resource_record_sets()
            .iter()
            .find(|s| {
                deploykit_dns::normalize_name(s.name()) == want && s.r#type().as_str() == "CNAME"
            })
            .unwrap_or_else(|| panic!("{want} missing in {listed:?}"));
        let values: Vec<String> = set
            .resource_records()
            .iter()
            .map(|v| deploykit_dns::normalize_name(v.value()))
            .collect();
        assert_eq!(values, [deploykit_dns::normalize_name(&r.value)], "{want}");
    }

    // Again: unchanged, and no ChangeResourceRecordSets call.
    let out = deploykit_dns::upsert_records(&r53, &zone, &records, Some(wait), &rep)
        .await
        .expect("second upsert");
    assert!(out.unchanged(), "{out:?}");
    assert_eq!(out.status, "unchanged");
    assert!(
        out.records
            .iter()
            .all(|p| p.action == RecordAction::Unchanged)
    );
    assert_eq!(
        calls.count("ChangeResourceRecordSets"),
        1,
        "no second change"
    );

    // The certificate is validated (5 service minutes, 0.5 s here); the wait reports itself.
    let active =
        deploykit_apprunner::wait_domain(&apprunner, &service, &arn, &domain, ar_wait, &rep)
            .await
            .expect("domain active");
    assert!(active.is_active(), "{active:?}");

    // A domain outside every zone: a clear error naming it.
    let outside = format!("app.nowhere-{service}.invalid");
    let err = deploykit_dns::find_zone(&r53, &outside, &ZoneRef::Longest)
        .await
        .expect_err("no zone");
    assert!(matches!(err, DnsError::NoZone { .. }), "{err:?}");
    assert!(err.to_string().contains(&outside), "{err}");
    // And a configured zone that does not hold the domain.
    let err = deploykit_dns::find_zone(&r53, &outside, &ZoneRef::Id(zone.id.clone()))
        .await
        .expect_err("outside the zone");
    assert!(matches!(err, DnsError::OutsideZone { .. }), "{err:?}");
    assert!(err.to_string().contains(&outside), "{err}");

    edge.shutdown().await;
}
