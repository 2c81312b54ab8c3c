//! The seed's upgrade path end to end against the local cloud: a single-instance environment
//! becomes load-balanced (an ALB with the HTTPS listener and the certificate) and back, as
//! planned settings updates; a certificate the load balancer cannot use fails the update,
//! which rolls back to the previous settings; the app answers throughout. A private
//! in-process edge (simulated workloads) sharing the running moto.

use std::path::Path;
use std::time::Duration;

use deploykit_eb::{
    BundleRef, DeployOptions, Eb, EbError, EbTarget, EnvStep, HealthCheck, LoadBalancer,
    RollbackOutcome, Timeouts,
};
use deploykit_report::{Category, Diagnostic, VecReporter};
use deploykit_testsupport::deploykit_localcloud::Edge;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A certificate ARN from moto's ACM through the edge: a private CA's is ISSUED at once.
async fn issued_certificate(edge: &Edge, domain: &str) -> String {
    let body = format!(
        r#"{{"DomainName":"{domain}","CertificateAuthorityArn":"arn:aws:acm-pca:us-east-1:000000000000:certificate-authority/test"}}"#
    );
    let req = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=AKIDLOCALCLOUD/20260101/us-east-1/acm/aws4_request, SignedHeaders=host, Signature=0\r\n\
         X-Amz-Target: CertificateManager.RequestCertificate\r\nContent-Type: application/x-amz-json-1.1\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut s = tokio::net::TcpStream::connect(edge.addr()).await.unwrap();
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let json = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {text}"));
    v["CertificateArn"].as_str().unwrap().to_string()
}

fn write_app(dir: &Path) {
    let app = dir.join("app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(app.join("Procfile"), "web: gunicorn app:app\n").unwrap();
    std::fs::write(
        app.join("requirements.txt"),
        "flask==3.1.0\ngunicorn==23.0.0\n",
    )
    .unwrap();
    std::fs::write(
        app.join("app.py"),
        "from flask import Flask\napp = Flask(__name__)\n",
    )
    .unwrap();
}

fn bundle(dir: &Path) -> BundleRef {
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let mut opts = deploykit_bundle::BundleOptions::new(dir.join("app"), &out);
    opts.label_prefix = "app".into();
    let s = deploykit_bundle::build(&opts, &VecReporter::new()).unwrap();
    BundleRef {
        path: s.path,
        sha256: s.sha256,
        label: s.label,
        git_sha: None,
        git_dirty: false,
    }
}

async fn deploy(eb: &Eb, t: &EbTarget, b: &BundleRef) -> Result<deploykit_eb::Plan, EbError> {
    let (_, plan) = eb.prepare(t, b).await?;
    eb.apply(
        t,
        b,
        plan.clone(),
        &DeployOptions::default(),
        &VecReporter::new(),
    )
    .await?;
    Ok(plan)
}

async fn load_balancers(eb: &Eb, env: &str) -> Vec<String> {
    eb.eb
        .describe_environment_resources()
        .environment_name(env)
        .send()
        .await
        .unwrap()
        .environment_resources()
        .map(|r| {
            r.load_balancers()
                .iter()
                .filter_map(|l| l.name().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn with_lb(t: &EbTarget, cert: &str) -> EbTarget {
    let mut t = t.clone();
    t.load_balancer = Some(LoadBalancer {
        certificate_arn: Some(cert.into()),
        domain: Some("app.example.test".into()),
        ssl_policy: LoadBalancer::DEFAULT_SSL_POLICY.into(),
        min_instances: 1,
        max_instances: 2,
        health_check_path: "/healthz".into(),
    });
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_instance_to_alb_and_back_with_a_failed_certificate_rolled_back() {
    let cloud = deploykit_testsupport::local_cloud().await;
    let edge = cloud.private_edge(|c| c.time_scale = 600.0).await;
    let sdk = deploykit_testsupport::sdk_config_for(&edge.url());
    let eb = Eb::new(&sdk, true);
    let name = deploykit_testsupport::unique_name("dk-alb");
    let mut single = EbTarget::new("us-east-1", &name, &name);
    single.service_role = Some("aws-elasticbeanstalk-service-role".into());
    single.instance_profile = Some("aws-elasticbeanstalk-ec2-role".into());
    single.health = HealthCheck {
        path: Some("/healthz".into()),
        resolve: Some(edge.addr()),
    };
    single.timeouts = Timeouts {
        deploy: Duration::from_secs(60),
        rollback: Duration::from_secs(60),
        busy: Duration::from_secs(60),
        poll: Duration::from_millis(100),
        http: Duration::from_secs(5),
    };
    let dir = tempfile::tempdir().unwrap();
    write_app(dir.path());
    let b = bundle(dir.path());

    // 1. A single instance, created with the ALB type fixed for later.
    deploy(&eb, &single, &b).await.unwrap();
    assert!(load_balancers(&eb, &name).await.is_empty());

    // 2. Without a certificate: refused before any call changes anything.
    let mut no_cert = with_lb(&single, "x");
    if let Some(lb) = no_cert.load_balancer.as_mut() {
        lb.certificate_arn = None;
    }
    let err = deploy(&eb, &no_cert, &b).await.unwrap_err();
    assert!(matches!(err, EbError::NoCertificate { .. }), "{err}");
    assert_eq!(Diagnostic::category(&err), Category::Input);

    // 3. A certificate ACM does not know: Elastic Beanstalk accepts the update, its stack
    //    fails and it reverts; the deploy fails and reports the rollback to the old settings.
    let unknown = format!(
        "arn:aws:acm:us-east-1:{}:certificate/00000000-0000-0000-0000-000000000000",
        cloud.account_id
    );
    let err = deploy(&eb, &with_lb(&single, &unknown), &b)
        .await
        .unwrap_err();
    assert_eq!(Diagnostic::category(&err), Category::RolledBack, "{err}");
    assert!(
        matches!(
            &err,
            EbError::DeployFailed {
                rollback: RollbackOutcome::RolledBack { .. },
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("CertificateNotFound"), "{err}");
    let env = eb.environment(&single).await.unwrap().unwrap();
    assert_eq!(
        env.settings
            .get(&(
                deploykit_eb::NS_ENVIRONMENT.into(),
                "EnvironmentType".into()
            ))
            .map(String::as_str),
        Some("SingleInstance")
    );
    assert!(load_balancers(&eb, &name).await.is_empty());

    // 4. The issued certificate: the environment moves to an ALB with the HTTPS listener.
    let cert = issued_certificate(&edge, "app.example.test").await;
    let lb = with_lb(&single, &cert);
    let plan = deploy(&eb, &lb, &b).await.unwrap();
    assert!(
        matches!(&plan.environment_step, EnvStep::Update { settings, .. }
            if settings.iter().any(|s| s.name == "SSLCertificateArns" && s.value == cert)),
        "{plan}"
    );
    let lbs = load_balancers(&eb, &name).await;
    assert_eq!(lbs.len(), 1, "{lbs:?}");
    let env = eb.environment(&lb).await.unwrap().unwrap();
    // The load balancer's DNS name is the environment's EndpointURL (the domain's alias target).
    assert!(
        env.endpoint_url
            .as_deref()
            .is_some_and(|u| u.contains("-alb.")),
        "{:?}",
        env.endpoint_url
    );
    let get = |ns: &str, n: &str| env.settings.get(&(ns.to_string(), n.to_string())).cloned();
    assert_eq!(
        get(deploykit_eb::NS_LISTENER_443, "Protocol").as_deref(),
        Some("HTTPS")
    );
    assert_eq!(
        get(deploykit_eb::NS_PROCESS_DEFAULT, "HealthCheckPath").as_deref(),
        Some("/healthz")
    );
    // A second run changes nothing.
    let (_, again) = eb.prepare(&lb, &b).await.unwrap();
    assert!(again.is_noop(), "{again}");

    // 5. And back to a single instance: the listener goes, the app still answers.
    let plan = deploy(&eb, &single, &b).await.unwrap();
    assert!(
        matches!(&plan.environment_step, EnvStep::Update { remove, .. } if !remove.is_empty()),
        "{plan}"
    );
    assert!(load_balancers(&eb, &name).await.is_empty());
    let (_, again) = eb.prepare(&single, &b).await.unwrap();
    assert!(again.is_noop(), "{again}");
    let cname = eb
        .environment(&single)
        .await
        .unwrap()
        .unwrap()
        .cname
        .unwrap();
    let code = deploykit_aws::http_check::get_status(
        deploykit_aws::http_check::Scheme::Http,
        &cname,
        "/healthz",
        Some(edge.addr()),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(code, 200);
}
