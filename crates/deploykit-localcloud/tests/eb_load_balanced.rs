//! The load-balanced environment type: a single instance becomes load-balanced (an ALB with
//! an HTTPS listener) and back through `UpdateEnvironment`, with Elastic Beanstalk's refusals
//! and failures: an HTTPS listener without a certificate, a fixed load balancer type, a
//! certificate ACM does not know or has not issued. A private in-process edge (simulated
//! workloads) sharing the running moto; time runs 300x faster.

mod edge_support;

use std::time::{Duration, Instant};

use aws_sdk_elasticbeanstalk::Client;
use aws_sdk_elasticbeanstalk::error::ProvideErrorMetadata;
use aws_sdk_elasticbeanstalk::primitives::DateTime;
use aws_sdk_elasticbeanstalk::types::{ConfigurationOptionSetting, OptionSpecification};
use edge_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const STACK: &str = "64bit Amazon Linux 2023 v4.7.3 running Python 3.12";
const ENV_NS: &str = "aws:elasticbeanstalk:environment";
const L443: &str = "aws:elbv2:listener:443";

fn opt(ns: &str, name: &str, value: &str) -> ConfigurationOptionSetting {
    ConfigurationOptionSetting::builder()
        .namespace(ns)
        .option_name(name)
        .value(value)
        .build()
}

fn https(cert: Option<&str>) -> Vec<ConfigurationOptionSetting> {
    let mut v = vec![
        opt(ENV_NS, "EnvironmentType", "LoadBalanced"),
        opt(ENV_NS, "LoadBalancerType", "application"),
        opt(L443, "ListenerEnabled", "true"),
        opt(L443, "Protocol", "HTTPS"),
        opt(L443, "SSLPolicy", "ELBSecurityPolicy-TLS13-1-2-2021-06"),
        opt(
            "aws:elasticbeanstalk:environment:process:default",
            "HealthCheckPath",
            "/healthz",
        ),
        opt("aws:autoscaling:asg", "MinSize", "1"),
        opt("aws:autoscaling:asg", "MaxSize", "2"),
    ];
    if let Some(c) = cert {
        v.push(opt(L443, "SSLCertificateArns", c));
    }
    v
}

/// One ACM request through the edge (forwarded to moto); returns the certificate ARN.
async fn acm(edge: &deploykit_localcloud::Edge, target: &str, body: &str) -> String {
    let date = time::OffsetDateTime::now_utc();
    let req = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=AKIDLOCALCLOUD/{:04}{:02}{:02}/us-east-1/acm/aws4_request, SignedHeaders=host, Signature=0\r\n\
         X-Amz-Target: CertificateManager.{target}\r\nContent-Type: application/x-amz-json-1.1\r\n\
         Content-Length: {}\r\n\r\n{body}",
        date.year(),
        u8::from(date.month()),
        date.day(),
        body.len()
    );
    let mut s = tokio::net::TcpStream::connect(edge.addr()).await.unwrap();
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let json = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    let v: serde_json::Value =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{target}: {e}: {text}"));
    v["CertificateArn"]
        .as_str()
        .unwrap_or_else(|| panic!("{target}: no ARN in {text}"))
        .to_string()
}

async fn settings(eb: &Client, app: &str, env: &str) -> Vec<(String, String, String)> {
    let out = eb
        .describe_configuration_settings()
        .application_name(app)
        .environment_name(env)
        .send()
        .await
        .expect("DescribeConfigurationSettings");
    out.configuration_settings()[0]
        .option_settings()
        .iter()
        .map(|o| {
            (
                o.namespace().unwrap_or_default().to_string(),
                o.option_name().unwrap_or_default().to_string(),
                o.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn value<'a>(s: &'a [(String, String, String)], ns: &str, name: &str) -> Option<&'a str> {
    s.iter()
        .find(|(n, o, _)| n == ns && o == name)
        .map(|(_, _, v)| v.as_str())
}

/// Polls until the environment is Ready and Green (bounded: 15 s real time).
async fn ready(eb: &Client, env: &str) -> aws_sdk_elasticbeanstalk::types::EnvironmentDescription {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let d = eb
            .describe_environments()
            .environment_names(env)
            .send()
            .await
            .expect("DescribeEnvironments")
            .environments()[0]
            .clone();
        let (s, h) = (
            d.status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            d.health()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
        );
        if s == "Ready" && h == "Green" {
            return d;
        }
        assert!(Instant::now() < deadline, "{env} stuck at {s}/{h}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn events_since(eb: &Client, env: &str, since: DateTime) -> Vec<String> {
    eb.describe_events()
        .environment_name(env)
        .start_time(since)
        .send()
        .await
        .expect("DescribeEvents")
        .events()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e.severity().map(|s| s.as_str()).unwrap_or_default(),
                e.message().unwrap_or_default()
            )
        })
        .collect()
}

async fn load_balancers(eb: &Client, env: &str) -> Vec<String> {
    eb.describe_environment_resources()
        .environment_name(env)
        .send()
        .await
        .expect("DescribeEnvironmentResources")
        .environment_resources()
        .map(|r| {
            r.load_balancers()
                .iter()
                .filter_map(|l| l.name().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_instance_to_alb_with_https_and_back() {
    let cloud = deploykit_testsupport::local_cloud().await;
    let edge = cloud.private_edge(|c| c.time_scale = SCALE).await;
    let eb = eb(&edge, true);
    let app = deploykit_testsupport::unique_name("eb-alb");
    eb.create_application()
        .application_name(&app)
        .send()
        .await
        .expect("app");
    let env = deploykit_testsupport::unique_name("ebalb");
    eb.create_environment()
        .application_name(&app)
        .environment_name(&env)
        .solution_stack_name(STACK)
        .option_settings(opt(ENV_NS, "EnvironmentType", "SingleInstance"))
        .option_settings(opt(ENV_NS, "LoadBalancerType", "application"))
        .send()
        .await
        .expect("CreateEnvironment");
    let d = ready(&eb, &env).await;
    let cname = d.cname().unwrap().to_string();
    assert!(
        !d.endpoint_url().unwrap_or_default().contains("-alb."),
        "{d:?}"
    );
    assert!(load_balancers(&eb, &env).await.is_empty());

    // An HTTPS listener without a certificate: refused, nothing changes.
    let e = eb
        .update_environment()
        .environment_name(&env)
        .set_option_settings(Some(https(None)))
        .send()
        .await
        .expect_err("no certificate");
    assert_eq!(e.code(), Some("ConfigurationValidationException"), "{e:?}");
    assert!(
        e.message()
            .unwrap_or_default()
            .contains("SSLCertificateArns")
    );
    // The load balancer type was fixed at creation.
    let e = eb
        .update_environment()
        .environment_name(&env)
        .option_settings(opt(ENV_NS, "LoadBalancerType", "network"))
        .send()
        .await
        .expect_err("type fixed");
    assert_eq!(
        e.message(),
        Some("Configuration validation exception: LoadBalancer type option cannot be changed.")
    );
    let s = settings(&eb, &app, &env).await;
    assert_eq!(value(&s, ENV_NS, "EnvironmentType"), Some("SingleInstance"));

    // A certificate ACM does not know, then one it has not issued: accepted, the stack update
    // fails, and the environment is reverted, still single, still serving.
    let unknown = format!(
        "arn:aws:acm:us-east-1:{}:certificate/00000000-0000-0000-0000-000000000000",
        cloud.account_id
    );
    let pending = acm(
        &edge,
        "RequestCertificate",
        r#"{"DomainName":"app.example.test","ValidationMethod":"DNS"}"#,
    )
    .await;
    for (cert, why) in [
        (&unknown, "CertificateNotFound"),
        (&pending, "PENDING_VALIDATION"),
    ] {
        let t0 = DateTime::from(std::time::SystemTime::now());
        eb.update_environment()
            .environment_name(&env)
            .set_option_settings(Some(https(Some(cert))))
            .send()
            .await
            .expect("accepted");
        ready(&eb, &env).await;
        let events = events_since(&eb, &env, t0).await;
        assert!(
            events
                .iter()
                .any(|e| e.starts_with("ERROR") && e.contains(why)),
            "{events:?}"
        );
        assert!(
            events
                .iter()
                .any(|e| e.contains("reverted to the previous configuration")),
            "{events:?}"
        );
        let s = settings(&eb, &app, &env).await;
        assert_eq!(value(&s, ENV_NS, "EnvironmentType"), Some("SingleInstance"));
        assert_eq!(value(&s, L443, "SSLCertificateArns"), None);
    }

    // An issued certificate (a private CA's is ISSUED at once in moto): the ALB appears.
    let issued = acm(
        &edge,
        "RequestCertificate",
        r#"{"DomainName":"app.example.test","CertificateAuthorityArn":"arn:aws:acm-pca:us-east-1:000000000000:certificate-authority/test"}"#,
    )
    .await;
    let t0 = DateTime::from(std::time::SystemTime::now());
    eb.update_environment()
        .environment_name(&env)
        .set_option_settings(Some(https(Some(&issued))))
        .send()
        .await
        .expect("to load-balanced");
    let d = ready(&eb, &env).await;
    let s = settings(&eb, &app, &env).await;
    assert_eq!(value(&s, ENV_NS, "EnvironmentType"), Some("LoadBalanced"));
    assert_eq!(value(&s, L443, "SSLCertificateArns"), Some(issued.as_str()));
    let alb = d.endpoint_url().unwrap().to_string();
    assert!(alb.contains("-alb."), "{alb}");
    let lbs = load_balancers(&eb, &env).await;
    assert_eq!(lbs.len(), 1, "{lbs:?}");
    assert!(
        lbs[0].starts_with("arn:aws:elasticloadbalancing:us-east-1:"),
        "{lbs:?}"
    );
    let events = events_since(&eb, &env, t0).await;
    assert!(
        events
            .iter()
            .any(|e| e.contains("Created load balancer named")),
        "{events:?}"
    );
    // The app answers through the CNAME and through the load balancer's name.
    for host in [&cname, &alb] {
        let (status, body) = http_get(&edge.addr(), host, "/healthz").await.unwrap();
        assert_eq!(status, 200, "{host}: {body}");
    }

    // And back to a single instance: the listener options go, so does the load balancer.
    let t0 = DateTime::from(std::time::SystemTime::now());
    let mut req = eb
        .update_environment()
        .environment_name(&env)
        .option_settings(opt(ENV_NS, "EnvironmentType", "SingleInstance"));
    for name in [
        "ListenerEnabled",
        "Protocol",
        "SSLCertificateArns",
        "SSLPolicy",
    ] {
        req = req.options_to_remove(
            OptionSpecification::builder()
                .namespace(L443)
                .option_name(name)
                .build(),
        );
    }
    req.send().await.expect("back to single");
    let d = ready(&eb, &env).await;
    assert!(
        !d.endpoint_url().unwrap_or_default().contains("-alb."),
        "{d:?}"
    );
    assert!(load_balancers(&eb, &env).await.is_empty());
    let events = events_since(&eb, &env, t0).await;
    assert!(
        events
            .iter()
            .any(|e| e.contains("Deleted load balancer named")),
        "{events:?}"
    );
    let (status, _) = http_get(&edge.addr(), &cname, "/healthz").await.unwrap();
    assert_eq!(status, 200);
}
