//! Elastic Beanstalk with real workloads: a private edge (own moto) whose environments run the
//! bundle in the local Python platform container (`deploykit-local/python:3.11-bookworm`, made
//! by `cargo xtask local base-image`), driven by the real `aws-sdk-elasticbeanstalk` client.

mod edge_support;

use std::io::{Cursor, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use aws_sdk_elasticbeanstalk::Client;
use aws_sdk_elasticbeanstalk::types::{
    ConfigurationOptionSetting, EnvironmentDescription, EnvironmentInfoType, S3Location,
};
use deploykit_localcloud::{Edge, WorkloadConfig, Workloads};
use edge_support::*;

const STACK: &str = "64bit Amazon Linux 2023 v4.7.3 running Python 3.12";
const ENV_NS: &str = "aws:elasticbeanstalk:application:environment";
const SECRETS_NS: &str = "aws:elasticbeanstalk:application:environmentsecrets";
const PLATFORM_IMAGE: &str = "deploykit-local/python:3.11-bookworm";
/// Real containers: a deploy takes seconds, not the scaled clock's milliseconds.
const DEPLOY_BOUND: Duration = Duration::from_secs(180);

fn state_dir() -> PathBuf {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
    };
    // Shared by every test and run: the pip wheel cache lives here.
    target.join("localcloud-tests/workloads")
}

struct Cloud {
    moto: Moto,
    edge: Edge,
    eb: Client,
    s3: aws_sdk_s3::Client,
    label: String,
}

impl Cloud {
    async fn start() -> Cloud {
        reap_stale_test_containers().await;
        let moto = start_moto().await;
        let label = format!("eb-workloads-test-{}", uuid_ish());
        let mut wc = WorkloadConfig::new(state_dir(), label.clone());
        wc.platform_image = PLATFORM_IMAGE.to_string();
        let edge = start_edge_with(Some(&moto), |c| {
            c.workloads = Some(wc);
            // moto's account, so the secrets it makes belong to this cloud.
            c.account_id = "123456789012".to_string();
        })
        .await;
        let eb = eb(&edge, true);
        let s3 = s3(&edge);
        Cloud {
            moto,
            edge,
            eb,
            s3,
            label,
        }
    }

    fn secrets(&self) -> aws_sdk_secretsmanager::Client {
        use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
        let conf = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDLOCALCLOUD", "dummy", None, None, "t"))
            .endpoint_url(self.edge.url())
            .build();
        aws_sdk_secretsmanager::Client::from_conf(conf)
    }

    /// Uploads a bundle and creates the application version `label`.
    async fn version(&self, app: &str, label: &str, bundle: Vec<u8>) {
        let bucket = self
            .eb
            .create_storage_location()
            .send()
            .await
            .expect("CreateStorageLocation")
            .s3_bucket()
            .unwrap_or_default()
            .to_string();
        let key = format!("{app}/{label}.zip");
        put_object(&self.s3, &bucket, &key, bundle).await;
        self.eb
            .create_application_version()
            .application_name(app)
            .version_label(label)
            .auto_create_application(true)
            .source_bundle(
                S3Location::builder()
                    .s3_bucket(&bucket)
                    .s3_key(&key)
                    .build(),
            )
            .send()
            .await
            .expect("CreateApplicationVersion");
    }

    async fn create_env(
        &self,
        app: &str,
        env: &str,
        label: &str,
        options: Vec<(&str, &str, &str)>,
    ) {
        let mut req = self
            .eb
            .create_environment()
            .application_name(app)
            .environment_name(env)
            .solution_stack_name(STACK)
            .version_label(label);
        for (ns, name, value) in options {
            req = req.option_settings(
                ConfigurationOptionSetting::builder()
                    .namespace(ns)
                    .option_name(name)
                    .value(value)
                    .build(),
            );
        }
        req.send().await.expect("CreateEnvironment");
    }

    async fn describe(&self, env: &str) -> EnvironmentDescription {
        self.eb
            .describe_environments()
            .environment_names(env)
            .send()
            .await
            .expect("DescribeEnvironments")
            .environments()
            .first()
            .cloned()
            .unwrap_or_else(|| panic!("environment {env} not listed"))
    }

    /// Waits (bounded) until the environment is Ready; returns (color, description).
    async fn settle(&self, env: &str) -> (String, EnvironmentDescription) {
        let deadline = Instant::now() + DEPLOY_BOUND;
        loop {
            let d = self.describe(env).await;
            let status = d
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            if status == "Ready" {
                let color = d
                    .health()
                    .map(|h| h.as_str().to_string())
                    .unwrap_or_default();
                return (color, d);
            }
            assert!(
                Instant::now() < deadline,
                "{env} still {status} after {} s; events: {:?}",
                DEPLOY_BOUND.as_secs(),
                self.events(env).await
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn events(&self, env: &str) -> Vec<(String, String)> {
        self.eb
            .describe_events()
            .environment_name(env)
            .send()
            .await
            .expect("DescribeEvents")
            .events()
            .iter()
            .map(|e| {
                (
                    e.severity()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    e.message().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    /// GET through the edge with the environment's CNAME as Host.
    async fn get(&self, cname: &str, path: &str) -> (u16, String) {
        http_get(&self.edge.addr(), cname, path)
            .await
            .unwrap_or_else(|e| panic!("GET {cname}{path}: {e}"))
    }

    /// Stops the edge, which removes every container it started.
    async fn close(self) {
        self.edge.shutdown().await;
    }

    async fn running_containers(&self) -> usize {
        let mut wc = WorkloadConfig::new(state_dir(), self.label.clone());
        wc.platform_image = PLATFORM_IMAGE.to_string();
        let w = Workloads::connect(wc).await.expect("docker");
        w.list()
            .await
            .expect("list workloads")
            .iter()
            .filter(|i| i.state == "running")
            .count()
    }
}

/// One CloudWatch Logs JSON call straight to moto; returns the response body.
async fn logs_call(moto_url: &str, op: &str, body: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = moto_url.trim_start_matches("http://").to_string();
    let req = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Target: Logs_20140328.{op}\r\nContent-Type: application/x-amz-json-1.1\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKIDLOCALCLOUD/20250101/us-east-1/logs/aws4_request, SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut s = tokio::net::TcpStream::connect(&addr)
        .await
        .unwrap_or_else(|e| panic!("connect to moto at {addr}: {e}"));
    s.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
        .await
        .expect("moto answers within 10 s")
        .expect("read");
    String::from_utf8_lossy(&buf).into_owned()
}

/// Removes the containers of earlier runs of these tests whose process is gone (a test that
/// fails stops before its edge can remove them). Their instance label carries the pid.
async fn reap_stale_test_containers() {
    use bollard::query_parameters::ListContainersOptions;
    let w = Workloads::connect(WorkloadConfig::new(state_dir(), "eb-workloads-reaper"))
        .await
        .expect("the Docker Engine answers");
    let found = w
        .docker()
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(std::collections::HashMap::from([(
                "label".to_string(),
                vec!["deploykit.localcloud.kind=eb".to_string()],
            )])),
            ..Default::default()
        }))
        .await
        .expect("list containers");
    for c in found {
        let labels = c.labels.unwrap_or_default();
        let Some(rest) = labels
            .get("deploykit.localcloud.instance")
            .and_then(|l| l.strip_prefix("eb-workloads-test-"))
        else {
            continue;
        };
        let Some(pid) = rest
            .split('-')
            .next()
            .and_then(|p| u32::from_str_radix(p, 16).ok())
        else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists()
            && let Some(id) = c.id
        {
            let _ = w.stop(&id).await;
        }
    }
}

fn uuid_ish() -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}-{n:x}", std::process::id())
}

fn name(prefix: &str) -> String {
    let mut s = format!("{prefix}-{}", uuid_ish());
    s.truncate(38);
    s.trim_end_matches('-').to_string()
}

/// A zip with explicit Unix modes (hooks need +x, or must lack it).
fn bundle(files: &[(&str, &str, u32)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, body, mode) in files {
        w.start_file(
            *name,
            zip::write::SimpleFileOptions::default().unix_permissions(*mode),
        )
        .expect("zip entry");
        w.write_all(body.as_bytes()).expect("zip write");
    }
    w.finish().expect("zip finish").into_inner()
}

/// A stdlib WSGI server honouring PORT (the Procfile's web process).
const SERVE: &str = r#"import os
from wsgiref.simple_server import make_server, WSGIRequestHandler
from application import application

class Quiet(WSGIRequestHandler):
    def log_message(self, *a):
        pass

print("serving on", os.environ["PORT"], flush=True)
make_server("127.0.0.1", int(os.environ["PORT"]), application, handler_class=Quiet).serve_forever()
"#;

fn app_py(version: &str) -> String {
    format!(
        r#"import os
def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/healthz":
        body = b"ok"
    else:
        parts = [
            "version={version}",
            "greeting=" + os.environ.get("GREETING", "-"),
            "secret=" + os.environ.get("APP_SECRET", "-"),
            "prebuild=" + str(os.path.exists("/tmp/prebuild-ran")),
            "leader=" + str(os.path.exists("/tmp/leader-ran")),
            "postdeploy=" + (open("/tmp/postdeploy").read().strip() if os.path.exists("/tmp/postdeploy") else "-"),
        ]
        body = " ".join(parts).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
"#
    )
}

fn good(version: &str) -> Vec<u8> {
    let app = app_py(version);
    bundle(&[
        ("Procfile", "web: python serve.py\n", 0o644),
        ("serve.py", SERVE, 0o644),
        ("application.py", &app, 0o644),
        (
            ".platform/hooks/prebuild/01_mark.sh",
            "#!/bin/sh\ntouch /tmp/prebuild-ran\necho prebuild hook ran\n",
            0o755,
        ),
        (
            ".platform/hooks/postdeploy/01_config.sh",
            "#!/usr/bin/env bash\nset -euo pipefail\ng=$(/opt/elasticbeanstalk/bin/get-config environment -k GREETING)\nset +u\nsource /var/app/venv/*/bin/activate\nset -u\necho \"$g-$(basename \"$VIRTUAL_ENV\")\" > /tmp/postdeploy\n",
            0o755,
        ),
        (
            ".ebextensions/01-app.config",
            "option_settings:\n  aws:elasticbeanstalk:application:\n    Application Healthcheck URL: /healthz\ncontainer_commands:\n  01_leader:\n    command: touch /tmp/leader-ran\n    leader_only: true\n",
            0o644,
        ),
    ])
}

fn has(events: &[(String, String)], severity: &str, prefix: &str) -> bool {
    events
        .iter()
        .any(|(s, m)| s == severity && m.starts_with(prefix))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundle_runs_serves_updates_and_keeps_the_old_version_on_failure() {
    let cloud = Cloud::start().await;
    let app = name("wl-app");
    let env = name("wl-web");
    let secret_arn = cloud
        .secrets()
        .create_secret()
        .name(format!("{env}/app-secret"))
        .secret_string("s3cr3t-value")
        .send()
        .await
        .expect("CreateSecret")
        .arn()
        .unwrap_or_default()
        .to_string();

    cloud.version(&app, "v1", good("one")).await;
    let started = Instant::now();
    cloud
        .create_env(
            &app,
            &env,
            "v1",
            vec![
                (ENV_NS, "GREETING", "hello"),
                (SECRETS_NS, "APP_SECRET", &secret_arn),
                ("aws:elasticbeanstalk:cloudwatch:logs", "StreamLogs", "true"),
            ],
        )
        .await;
    let (color, d) = cloud.settle(&env).await;
    let launch_secs = started.elapsed().as_secs_f64();
    let events = cloud.events(&env).await;
    assert_eq!(color, "Green", "events: {events:?}");
    assert!(
        has(
            &events,
            "INFO",
            "Instance deployment completed successfully."
        ),
        "{events:?}"
    );
    let cname = d.cname().unwrap_or_default().to_string();
    let (status, body) = cloud.get(&cname, "/").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("version=one"), "{body}");
    assert!(body.contains("greeting=hello"), "{body}");
    assert!(body.contains("secret=s3cr3t-value"), "{body}");
    assert!(body.contains("prebuild=True"), "{body}");
    assert!(body.contains("leader=True"), "{body}");
    assert!(body.contains("postdeploy=hello-"), "{body}");

    // The tail logs, through the URL RetrieveEnvironmentInfo hands out.
    cloud
        .eb
        .request_environment_info()
        .environment_name(&env)
        .info_type(EnvironmentInfoType::Tail)
        .send()
        .await
        .expect("RequestEnvironmentInfo");
    let info = cloud
        .eb
        .retrieve_environment_info()
        .environment_name(&env)
        .info_type(EnvironmentInfoType::Tail)
        .send()
        .await
        .expect("RetrieveEnvironmentInfo");
    let sample = info.environment_info().first().expect("one tail sample");
    assert!(
        sample
            .ec2_instance_id()
            .unwrap_or_default()
            .starts_with("i-0")
    );
    let url = url::Url::parse(sample.message().unwrap_or_default()).expect("a URL");
    let path = format!("{}?{}", url.path(), url.query().unwrap_or_default());
    let host = format!(
        "{}:{}",
        url.host_str().unwrap_or_default(),
        url.port().unwrap_or(80)
    );
    let (status, tail) = http_get(&cloud.edge.addr(), &host, &path)
        .await
        .expect("GET tail");
    assert_eq!(status, 200, "{tail}");
    assert!(tail.contains("/var/log/eb-engine.log"), "{tail}");
    assert!(
        tail.contains("Executing instruction: RunAppDeployPreBuildHooks"),
        "{tail}"
    );
    assert!(tail.contains("serving on"), "{tail}");

    // A new version replaces the app.
    cloud.version(&app, "v2", good("two")).await;
    let started = Instant::now();
    cloud
        .eb
        .update_environment()
        .environment_name(&env)
        .version_label("v2")
        .send()
        .await
        .expect("UpdateEnvironment v2");
    let (color, d) = cloud.settle(&env).await;
    let update_secs = started.elapsed().as_secs_f64();
    assert_eq!(color, "Green", "{:?}", cloud.events(&env).await);
    assert_eq!(d.version_label(), Some("v2"));
    let (_, body) = cloud.get(&cname, "/").await;
    assert!(body.contains("version=two"), "{body}");

    // A configuration change restarts the running version with the new environment.
    cloud
        .eb
        .update_environment()
        .environment_name(&env)
        .option_settings(
            ConfigurationOptionSetting::builder()
                .namespace(ENV_NS)
                .option_name("GREETING")
                .value("changed")
                .build(),
        )
        .send()
        .await
        .expect("UpdateEnvironment settings");
    let (color, d) = cloud.settle(&env).await;
    let events = cloud.events(&env).await;
    assert_eq!(color, "Green", "{events:?}");
    assert_eq!(d.version_label(), Some("v2"));
    assert!(
        has(
            &events,
            "INFO",
            "Successfully deployed new configuration to environment."
        ),
        "{events:?}"
    );
    let (_, body) = cloud.get(&cname, "/").await;
    assert!(body.contains("greeting=changed"), "{body}");

    // With StreamLogs, the web process's output is in CloudWatch Logs under EB's group name.
    let group = format!("/aws/elasticbeanstalk/{env}/var/log/web.stdout.log");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = logs_call(
            &cloud.moto.url,
            "FilterLogEvents",
            &format!(r#"{{"logGroupName": "{group}"}}"#),
        )
        .await;
        if out.contains("serving on") {
            break;
        }
        assert!(Instant::now() < deadline, "no web output in {group}: {out}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // An app that raises at import: Red, EB's failure events, v2 keeps serving.
    let broken = bundle(&[
        ("Procfile", "web: python serve.py\n", 0o644),
        ("serve.py", SERVE, 0o644),
        (
            "application.py",
            "raise RuntimeError('boom at import')\n",
            0o644,
        ),
    ]);
    cloud.version(&app, "v3", broken).await;
    cloud
        .eb
        .update_environment()
        .environment_name(&env)
        .version_label("v3")
        .send()
        .await
        .expect("UpdateEnvironment v3");
    let (color, d) = cloud.settle(&env).await;
    let events = cloud.events(&env).await;
    assert_eq!(color, "Red", "{events:?}");
    assert_eq!(d.version_label(), Some("v2"));
    assert!(
        has(&events, "ERROR", "Failed to deploy application."),
        "{events:?}"
    );
    assert!(
        events.iter().any(|(_, m)| m
            .contains("Command failed on instance. Return code: 1 Output:")
            && m.contains("boom at import")),
        "{events:?}"
    );
    let (status, body) = cloud.get(&cname, "/").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("version=two"), "{body}");
    assert_eq!(
        cloud.running_containers().await,
        1,
        "only v2's container runs"
    );

    // Terminate stops the container.
    cloud
        .eb
        .terminate_environment()
        .environment_name(&env)
        .send()
        .await
        .expect("TerminateEnvironment");
    let deadline = Instant::now() + Duration::from_secs(30);
    while cloud.running_containers().await > 0 {
        assert!(
            Instant::now() < deadline,
            "the container outlived its environment"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (status, _) = cloud.get(&cname, "/").await;
    assert_ne!(status, 200);
    // Measured here: launch about 1 s, update about 1 s (stdlib app, no requirements).
    assert!(
        launch_secs < 60.0 && update_secs < 60.0,
        "launch {launch_secs:.1} s, update {update_secs:.1} s"
    );
    cloud.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hook_without_exec_bit_and_missing_secret_fail_like_eb() {
    let cloud = Cloud::start().await;
    let app = name("wl-hook");

    // A prebuild hook without +x.
    let env = name("wl-hook");
    let b = bundle(&[
        ("Procfile", "web: python serve.py\n", 0o644),
        ("serve.py", SERVE, 0o644),
        ("application.py", &app_py("x"), 0o644),
        (
            ".platform/hooks/prebuild/01_noexec.sh",
            "#!/bin/sh\necho hi\n",
            0o644,
        ),
    ]);
    cloud.version(&app, "noexec", b).await;
    cloud.create_env(&app, &env, "noexec", vec![]).await;
    // A secret that does not exist.
    let env2 = name("wl-nosecret");
    cloud.version(&app, "ok", good("ok")).await;
    cloud
        .create_env(
            &app,
            &env2,
            "ok",
            vec![(
                SECRETS_NS,
                "APP_SECRET",
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf",
            )],
        )
        .await;

    let (color, _) = cloud.settle(&env).await;
    let events = cloud.events(&env).await;
    assert_eq!(color, "Red", "{events:?}");
    assert!(
        has(
            &events,
            "ERROR",
            "Instance deployment failed. For details, see 'eb-engine.log'."
        ),
        "{events:?}"
    );
    assert!(
        events.iter().any(
            |(_, m)| m.contains("Command failed on instance. Return code: 1")
                && m.contains(".platform/hooks/prebuild/01_noexec.sh: permission denied")
        ),
        "{events:?}"
    );
    assert!(has(
        &events,
        "ERROR",
        "Create environment operation is complete, but with errors."
    ));

    let (color, d) = cloud.settle(&env2).await;
    let events = cloud.events(&env2).await;
    assert_eq!(color, "Red", "{events:?}");
    assert!(
        events
            .iter()
            .any(|(_, m)| m.contains("APP_SECRET") && m.contains("ResourceNotFoundException")),
        "{events:?}"
    );
    let (status, _) = cloud.get(d.cname().unwrap_or_default(), "/").await;
    assert_ne!(status, 200, "nothing serves a failed launch");
    assert_eq!(cloud.running_containers().await, 0);
    cloud.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requirements_install_once_then_come_from_the_wheel_cache() {
    let cloud = Cloud::start().await;
    let app = name("wl-pip");
    let with_req = |v: &str| {
        let app = app_py(v).replace("import os", "import os\nimport six");
        bundle(&[
            ("Procfile", "web: python serve.py\n", 0o644),
            ("serve.py", SERVE, 0o644),
            ("application.py", &app, 0o644),
            ("requirements.txt", "six==1.17.0\n", 0o644),
        ])
    };
    cloud.version(&app, "r1", with_req("r1")).await;
    cloud.version(&app, "r2", with_req("r2")).await;
    let env = name("wl-pip");
    let t = Instant::now();
    cloud.create_env(&app, &env, "r1", vec![]).await;
    let (color, d) = cloud.settle(&env).await;
    let first = t.elapsed().as_secs_f64();
    assert_eq!(color, "Green", "{:?}", cloud.events(&env).await);
    let t = Instant::now();
    cloud
        .eb
        .update_environment()
        .environment_name(&env)
        .version_label("r2")
        .send()
        .await
        .expect("UpdateEnvironment");
    let (color, _) = cloud.settle(&env).await;
    let second = t.elapsed().as_secs_f64();
    assert_eq!(color, "Green", "{:?}", cloud.events(&env).await);
    let (_, body) = cloud.get(d.cname().unwrap_or_default(), "/").await;
    assert!(body.contains("version=r2"), "{body}");

    // No Procfile: the platform's default, gunicorn on application:application (installed by
    // the platform when the app does not ask for it, then cached like any wheel).
    let plain = bundle(&[("application.py", &app_py("default"), 0o644)]);
    cloud.version(&app, "plain", plain).await;
    let env2 = name("wl-gunicorn");
    cloud.create_env(&app, &env2, "plain", vec![]).await;
    let (color, d) = cloud.settle(&env2).await;
    assert_eq!(color, "Green", "{:?}", cloud.events(&env2).await);
    let (status, body) = cloud.get(d.cname().unwrap_or_default(), "/").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("version=default"), "{body}");
    // Measured here: about 2.3 s with a cold wheel cache, 1.0 s with it warm.
    assert!(
        second < 30.0,
        "unchanged requirements took {second:.1} s (first deploy {first:.1} s)"
    );
    cloud.close().await;
}
