//! `dns zone ensure` and `https ensure` through the library on the local cloud (moto behind the
//! shared edge): each run twice, the first creates, the second is unchanged; a missing or
//! wrong domain is refused before any call. Needs the running local cloud.

use std::path::Path;
use std::time::Duration;

use deploykit::report::{Category, Diagnostic, Event, VecReporter};
use deploykit::{Error, Session};

/// How long the running moto waits before it issues a requested certificate
/// (`MOTO_ACM_VALIDATION_WAIT`, 60 s unless the local cloud was started with a shorter one),
/// read from its process environment.
fn moto_validation_wait(cloud: &deploykit_testsupport::LocalCloud) -> Duration {
    let secs = cloud
        .state
        .processes
        .get("moto")
        .and_then(|p| std::fs::read(format!("/proc/{}/environ", p.pid)).ok())
        .and_then(|env| {
            env.split(|b| *b == 0)
                .filter_map(|kv| std::str::from_utf8(kv).ok())
                .find_map(|kv| kv.strip_prefix("MOTO_ACM_VALIDATION_WAIT="))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(60);
    Duration::from_secs(secs)
}

fn deploy_toml(https: &str) -> String {
    format!(
        r#"
[app]
name = "shop"
path = "app"

[targets.local]
region = "us-east-1"
local = true
endpoint_url = "http://127.0.0.1:4566"
{https}
"#
    )
}

async fn session(cloud: &deploykit_testsupport::LocalCloud, text: &str) -> Session {
    let cfg = deploykit::config::parse(text, Path::new("deploy.toml")).expect("valid deploy.toml");
    let target = cfg.target(Some("local")).expect("local target");
    Session::new(".".into(), target, Some(cloud.state.clone()))
        .await
        .expect("session")
}

async fn zone_count(s: &Session) -> usize {
    aws_sdk_route53::Client::new(&s.sdk)
        .list_hosted_zones()
        .send()
        .await
        .expect("ListHostedZones")
        .hosted_zones()
        .len()
}

#[tokio::test]
async fn zone_then_certificate_twice_each() {
    let cloud = deploykit_testsupport::local_cloud().await;
    let apex = format!("{}.example", deploykit_testsupport::unique_name("https"));
    let domain = format!("app.{apex}");
    let wait = moto_validation_wait(&cloud);
    let s = session(
        &cloud,
        &deploy_toml(&format!(
            "[https]\ndomain = \"{domain}\"\nalternative_names = [\"www.{domain}\"]\ntimeout = \"{}s\"\n",
            wait.as_secs() + 120
        )),
    )
    .await;
    let r = VecReporter::new();

    // The zone: no zone holds the domain yet; the dry-run plan says create.
    assert!(
        deploykit::dns::zone_status(&s, &apex)
            .await
            .unwrap()
            .is_none()
    );
    let plan = deploykit::dns::plan_zone(&s, &apex).await.unwrap();
    assert!(plan.is_create(), "{plan:?}");
    let first = deploykit::dns::ensure_zone(&s, &apex, &r)
        .await
        .expect("zone ensure");
    assert!(first.created && !first.unchanged(), "{first:?}");
    assert!(
        !first.info.name_servers.is_empty(),
        "name servers for the registrar: {first:?}"
    );
    let second = deploykit::dns::ensure_zone(&s, &apex, &r)
        .await
        .expect("zone ensure again");
    assert!(second.unchanged(), "{second:?}");
    assert_eq!(second.info, first.info, "same zone, same name servers");
    // The app's name is inside that zone: nothing to create for it either.
    let inner = deploykit::dns::ensure_zone(&s, &domain, &r).await.unwrap();
    assert!(inner.unchanged() && inner.parent, "{inner:?}");
    assert_eq!(inner.info.zone, first.info.zone);

    // The certificate: nothing yet; ensure requests it, writes the records, waits for ISSUED.
    let check = deploykit::https::status(&s).await.unwrap();
    assert!(
        check.certificate.is_none() && !check.is_clean(),
        "{check:?}"
    );
    let out = deploykit::https::ensure(&s, &r)
        .await
        .expect("https ensure");
    assert!(out.requested && !out.unchanged(), "{out:?}");
    assert!(out.certificate.is_issued(), "{out:?}");
    assert_eq!(
        out.certificate.names,
        [domain.clone(), format!("www.{domain}")],
        "{out:?}"
    );
    let written: usize = out.dns.iter().map(|u| u.records.len()).sum();
    assert!(written >= 1, "validation records written: {out:?}");
    assert!(out.dns.iter().all(|u| u.zone == first.info.zone), "{out:?}");
    let events = r.events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Waiting { for_what, .. } if for_what.contains("ISSUED"))),
        "the wait says what it waits for"
    );

    let again = deploykit::https::ensure(&s, &r)
        .await
        .expect("https ensure again");
    assert!(again.unchanged(), "{again:?}");
    assert_eq!(
        again.certificate.arn, out.certificate.arn,
        "reused, not requested again"
    );
    assert!(deploykit::https::status(&s).await.unwrap().is_clean());

    // What the load balancer's listener asks for.
    let arn = deploykit::https::certificate_for(&s, &format!("www.{domain}"))
        .await
        .expect("an ISSUED certificate");
    assert_eq!(arn, out.certificate.arn);
    let none = deploykit::https::certificate_for(&s, &format!("other.{apex}"))
        .await
        .expect_err("no certificate covers it");
    assert_eq!(none.category(), Category::CheckFailed, "{none}");
}

#[tokio::test]
async fn missing_or_wrong_domain_is_refused_before_any_call() {
    let cloud = deploykit_testsupport::local_cloud().await;
    let s = session(&cloud, &deploy_toml("")).await;
    let r = VecReporter::new();
    let zones = zone_count(&s).await;

    let err = deploykit::https::ensure(&s, &r)
        .await
        .expect_err("no [https]");
    assert!(matches!(err, Error::NoHttpsSection { .. }), "{err}");
    assert_eq!(err.category(), Category::Input);
    let shown = err.to_string();
    assert!(
        shown.contains("deploy.toml") && shown.contains("https.domain"),
        "{shown}"
    );
    assert!(
        err.help()
            .unwrap_or_default()
            .contains("domain = \"app.example.com\""),
        "{err:?}"
    );
    assert!(deploykit::https::status(&s).await.is_err());

    for bad in ["localhost", "*.example.com", "exa mple.com", ""] {
        let err = deploykit::dns::ensure_zone(&s, bad, &r)
            .await
            .expect_err(bad);
        assert!(matches!(err, Error::BadDomain { .. }), "{bad}: {err}");
        assert_eq!(err.category(), Category::Input, "{bad}");
        assert!(
            err.help().is_some_and(|h| h.contains("example.com")),
            "{bad}"
        );
    }
    assert_eq!(zone_count(&s).await, zones, "nothing was created");
    assert!(r.events().is_empty(), "no step started: {:?}", r.events());
}
