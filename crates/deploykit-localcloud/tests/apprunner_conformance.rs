//! App Runner and ECR-token conformance: the real `aws-sdk-apprunner` / `aws-sdk-ecr` clients
//! against an in-process edge, with a tiny fake registry answering manifest lookups.
//!
//! Time runs 300x: a four-minute create takes 0.8 s. Every wait is bounded.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_apprunner::Client;
use aws_sdk_apprunner::config::retry::RetryConfig;
use aws_sdk_apprunner::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_apprunner::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_apprunner::operation::update_service::UpdateServiceError;
use aws_sdk_apprunner::types::{
    AuthenticationConfiguration, CustomDomainAssociationStatus, EgressConfiguration,
    ImageConfiguration, ImageRepository, ImageRepositoryType, InstanceConfiguration,
    NetworkConfiguration, OperationStatus, OperationSummary, OperationType, ServiceStatus,
    SourceConfiguration,
};
use base64::Engine as _;
use bytes::Bytes;
use deploykit_localcloud::core::RegistryConfig;
use deploykit_localcloud::{AdminClient, Edge, EdgeConfig, FaultKind, FaultRequest};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const ROLE: &str = "arn:aws:iam::000000000000:role/AppRunnerECRAccessRole";
const REGISTRY_USER: &str = "AWS";
const REGISTRY_PASSWORD: &str = "local-registry-password";
const WAIT: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------------------------
// Harness.

/// A registry that knows `repo:tag` entries and checks basic auth, like distribution's
/// `HEAD /v2/<repo>/manifests/<ref>`.
async fn start_registry(images: &[&str]) -> (String, Arc<Mutex<HashSet<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind registry");
    let addr = listener.local_addr().expect("registry addr").to_string();
    let set: Arc<Mutex<HashSet<String>>> =
        Arc::new(Mutex::new(images.iter().map(ToString::to_string).collect()));
    let shared = set.clone();
    let expected_auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{REGISTRY_USER}:{REGISTRY_PASSWORD}"))
    );
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let set = shared.clone();
            let expected_auth = expected_auth.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let authorized = req
                        .headers()
                        .get(http::header::AUTHORIZATION)
                        .is_some_and(|v| v.as_bytes() == expected_auth.as_bytes());
                    let accepts_manifests = req
                        .headers()
                        .get(http::header::ACCEPT)
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|v| v.contains("application/vnd.oci.image.manifest.v1+json"));
                    let found = req
                        .uri()
                        .path()
                        .strip_prefix("/v2/")
                        .and_then(|p| p.rsplit_once("/manifests/"))
                        .is_some_and(|(repo, reference)| {
                            set.lock()
                                .expect("registry set")
                                .contains(&format!("{repo}:{reference}"))
                        });
                    let status = match (authorized, found && accepts_manifests) {
                        (false, _) => 401,
                        (true, true) => 200,
                        (true, false) => 404,
                    };
                    let mut resp = http::Response::new(Full::new(Bytes::new()));
                    *resp.status_mut() = http::StatusCode::from_u16(status).expect("status");
                    async move { Ok::<_, std::convert::Infallible>(resp) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (addr, set)
}

struct Harness {
    edge: Edge,
    client: Client,
    registry: String,
    images: Arc<Mutex<HashSet<String>>>,
}

impl Harness {
    async fn start() -> Self {
        let (registry, images) = start_registry(&["budgetsync:v1", "budgetsync:v2"]).await;
        let edge = Edge::start(EdgeConfig {
            time_scale: 300.0,
            registry: Some(RegistryConfig {
                endpoint: registry.clone(),
                username: REGISTRY_USER.into(),
                password: REGISTRY_PASSWORD.into(),
            }),
            ..Default::default()
        })
        .await
        .expect("edge starts");
        let client = apprunner_client(&edge.url());
        Self {
            edge,
            client,
            registry,
            images,
        }
    }

    fn image(&self, tag: &str) -> String {
        format!("{}/budgetsync:{tag}", self.registry)
    }

    fn source(&self, tag: &str) -> SourceConfiguration {
        source_for(&self.image(tag), Some(ROLE))
    }

    /// Creates a service and waits for its create operation to end.
    async fn create(&self, name: &str, tag: &str) -> (String, OperationSummary) {
        let out = self
            .client
            .create_service()
            .service_name(name)
            .source_configuration(self.source(tag))
            .send()
            .await
            .expect("CreateService");
        let svc = out.service().expect("service");
        assert_eq!(svc.status(), &ServiceStatus::OperationInProgress);
        let arn = svc.service_arn().to_string();
        let op = self.wait_op(&arn, out.operation_id()).await;
        (arn, op)
    }

    /// Polls ListOperations until `op_id` ends; returns it and every status seen on the way.
    async fn wait_op_seen(
        &self,
        arn: &str,
        op_id: &str,
    ) -> (OperationSummary, Vec<OperationStatus>) {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut seen = Vec::new();
        loop {
            let ops = self
                .client
                .list_operations()
                .service_arn(arn)
                .send()
                .await
                .expect("ListOperations");
            let op = ops
                .operation_summary_list()
                .iter()
                .find(|o| o.id() == Some(op_id))
                .cloned()
                .expect("operation listed");
            let status = op.status().cloned().expect("operation status");
            if seen.last() != Some(&status) {
                seen.push(status.clone());
            }
            let terminal = matches!(
                status,
                OperationStatus::Succeeded
                    | OperationStatus::Failed
                    | OperationStatus::RollbackSucceeded
                    | OperationStatus::RollbackFailed
            );
            if terminal {
                return (op, seen);
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "operation {op_id} still {status:?} after {WAIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn wait_op(&self, arn: &str, op_id: &str) -> OperationSummary {
        self.wait_op_seen(arn, op_id).await.0
    }

    async fn describe(&self, arn: &str) -> aws_sdk_apprunner::types::Service {
        self.client
            .describe_service()
            .service_arn(arn)
            .send()
            .await
            .expect("DescribeService")
            .service()
            .cloned()
            .expect("service")
    }

    async fn update_image(&self, arn: &str, tag: &str) -> String {
        self.client
            .update_service()
            .service_arn(arn)
            .source_configuration(self.source(tag))
            .send()
            .await
            .expect("UpdateService")
            .operation_id()
            .to_string()
    }

    /// GET / on the service's URL through the edge, like `curl --resolve`.
    async fn app_status(&self, service_url: &str) -> u16 {
        let mut stream = TcpStream::connect(self.edge.addr())
            .await
            .expect("connect edge");
        let req = format!("GET / HTTP/1.1\r\nHost: {service_url}\r\nConnection: close\r\n\r\n");
        stream.write_all(req.as_bytes()).await.expect("write");
        let mut buf = Vec::new();
        stream.read_to_end(&mut buf).await.expect("read");
        let text = String::from_utf8_lossy(&buf);
        text.split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {text:?}"))
    }
}

fn apprunner_client(url: &str) -> Client {
    let conf = aws_sdk_apprunner::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "AKIDLOCAL",
            "local-secret",
            None,
            None,
            "test",
        ))
        .endpoint_url(url)
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(conf)
}

fn ecr_client(url: &str) -> aws_sdk_ecr::Client {
    let conf = aws_sdk_ecr::Config::builder()
        .behavior_version(aws_sdk_ecr::config::BehaviorVersion::latest())
        .region(aws_sdk_ecr::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ecr::config::Credentials::new(
            "AKIDLOCAL",
            "local-secret",
            None,
            None,
            "test",
        ))
        .endpoint_url(url)
        .retry_config(aws_sdk_ecr::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_ecr::Client::from_conf(conf)
}

fn source_for(image: &str, role: Option<&str>) -> SourceConfiguration {
    let repo = ImageRepository::builder()
        .image_identifier(image)
        .image_repository_type(ImageRepositoryType::Ecr)
        .image_configuration(ImageConfiguration::builder().port("8000").build())
        .build()
        .expect("image repository");
    let mut b = SourceConfiguration::builder()
        .image_repository(repo)
        .auto_deployments_enabled(false);
    if let Some(role) = role {
        b = b.authentication_configuration(
            AuthenticationConfiguration::builder()
                .access_role_arn(role)
                .build(),
        );
    }
    b.build()
}

/// The error code of a failed call; panics if the call succeeded or failed before the service.
fn code<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    r: Result<T, SdkError<E, R>>,
) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(SdkError::ServiceError(e)) => e.err().code().unwrap_or("<no code>").to_string(),
        Err(other) => panic!("expected a service error, got {other:?}"),
    }
}

fn image_of(svc: &aws_sdk_apprunner::types::Service) -> String {
    svc.source_configuration()
        .and_then(|s| s.image_repository())
        .map(|r| r.image_identifier().to_string())
        .expect("image configured")
}

// ---------------------------------------------------------------------------------------------
// Services and operations.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_lifecycle_on_a_present_image() {
    let h = Harness::start().await;
    let (arn, op) = h.create("budgetsync-dev", "v1").await;
    assert_eq!(op.r#type(), Some(&OperationType::CreateService));
    assert_eq!(op.status(), Some(&OperationStatus::Succeeded));
    assert!(op.ended_at().is_some() && op.started_at().is_some());
    assert_eq!(op.target_arn(), Some(arn.as_str()));

    let svc = h.describe(&arn).await;
    assert_eq!(svc.status(), &ServiceStatus::Running);
    assert_eq!(svc.service_name(), "budgetsync-dev");
    assert!(
        svc.service_url()
            .is_some_and(|u| u.ends_with(".us-east-1.awsapprunner.localhost"))
    );
    let url = svc.service_url().expect("url").to_string();
    assert_eq!(image_of(&svc), h.image("v1"));
    let inst = svc
        .instance_configuration()
        .expect("instance configuration");
    assert_eq!((inst.cpu(), inst.memory()), (Some("1024"), Some("2048")));
    let asc = svc
        .auto_scaling_configuration_summary()
        .expect("auto scaling summary");
    assert_eq!(
        asc.auto_scaling_configuration_name(),
        Some("DefaultConfiguration")
    );
    assert_eq!(asc.is_default(), Some(true));
    assert_eq!(h.app_status(&url).await, 200);
    assert_eq!(
        h.app_status("nope.x.us-east-1.awsapprunner.localhost")
            .await,
        404
    );

    let listed = h.client.list_services().send().await.expect("ListServices");
    assert_eq!(listed.service_summary_list().len(), 1);
    assert_eq!(
        listed.service_summary_list()[0].service_arn(),
        Some(arn.as_str())
    );

    // Update to v2 with a new instance size.
    let out = h
        .client
        .update_service()
        .service_arn(&arn)
        .source_configuration(h.source("v2"))
        .instance_configuration(
            InstanceConfiguration::builder()
                .cpu("0.5 vCPU")
                .memory("1 GB")
                .build(),
        )
        .send()
        .await
        .expect("UpdateService");
    assert_eq!(
        out.service().map(|s| s.status()),
        Some(&ServiceStatus::OperationInProgress)
    );
    // Traffic keeps flowing to the live deployment during the update.
    assert_eq!(h.app_status(&url).await, 200);
    let (op, seen) = h.wait_op_seen(&arn, out.operation_id()).await;
    assert_eq!(op.status(), Some(&OperationStatus::Succeeded));
    assert!(
        !seen.contains(&OperationStatus::RollbackInProgress),
        "{seen:?}"
    );
    let svc = h.describe(&arn).await;
    assert_eq!(image_of(&svc), h.image("v2"));
    let inst = svc
        .instance_configuration()
        .expect("instance configuration");
    assert_eq!((inst.cpu(), inst.memory()), (Some("512"), Some("1024")));

    // StartDeployment re-pulls the same image.
    let dep = h
        .client
        .start_deployment()
        .service_arn(&arn)
        .send()
        .await
        .expect("StartDeployment");
    let op = h.wait_op(&arn, dep.operation_id()).await;
    assert_eq!(op.status(), Some(&OperationStatus::Succeeded));

    // Pause / resume.
    let paused = h
        .client
        .pause_service()
        .service_arn(&arn)
        .send()
        .await
        .expect("PauseService");
    let op = h.wait_op(&arn, paused.operation_id().expect("op id")).await;
    assert_eq!(op.status(), Some(&OperationStatus::Succeeded));
    assert_eq!(h.describe(&arn).await.status(), &ServiceStatus::Paused);
    assert_eq!(h.app_status(&url).await, 503);
    let err = h
        .client
        .update_service()
        .service_arn(&arn)
        .source_configuration(h.source("v1"))
        .send()
        .await
        .expect_err("update of a paused service");
    assert!(matches!(
        err.into_service_error(),
        UpdateServiceError::InvalidStateException(_)
    ));
    assert_eq!(
        code(h.client.pause_service().service_arn(&arn).send().await),
        "InvalidStateException"
    );
    let resumed = h
        .client
        .resume_service()
        .service_arn(&arn)
        .send()
        .await
        .expect("ResumeService");
    let op = h
        .wait_op(&arn, resumed.operation_id().expect("op id"))
        .await;
    assert_eq!(op.status(), Some(&OperationStatus::Succeeded));
    assert_eq!(h.describe(&arn).await.status(), &ServiceStatus::Running);
    assert_eq!(h.app_status(&url).await, 200);
    assert_eq!(
        code(h.client.resume_service().service_arn(&arn).send().await),
        "InvalidStateException"
    );

    // Operations are listed newest first, with their types.
    let ops = h
        .client
        .list_operations()
        .service_arn(&arn)
        .send()
        .await
        .expect("ListOperations");
    let types: Vec<_> = ops
        .operation_summary_list()
        .iter()
        .filter_map(|o| o.r#type().cloned())
        .collect();
    assert_eq!(
        types,
        [
            OperationType::ResumeService,
            OperationType::PauseService,
            OperationType::StartDeployment,
            OperationType::UpdateService,
            OperationType::CreateService,
        ]
    );
    // Paginated: two at a time, every operation exactly once.
    let mut paged = Vec::new();
    let mut token = None;
    loop {
        let page = h
            .client
            .list_operations()
            .service_arn(&arn)
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .expect("ListOperations page");
        paged.extend(
            page.operation_summary_list()
                .iter()
                .filter_map(|o| o.r#type().cloned()),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(paged, types);

    // Delete.
    let del = h
        .client
        .delete_service()
        .service_arn(&arn)
        .send()
        .await
        .expect("DeleteService");
    assert_eq!(
        del.service().map(|s| s.status()),
        Some(&ServiceStatus::OperationInProgress)
    );
    let op = h.wait_op(&arn, del.operation_id()).await;
    assert_eq!(op.r#type(), Some(&OperationType::DeleteService));
    assert_eq!(op.status(), Some(&OperationStatus::Succeeded));
    let svc = h.describe(&arn).await;
    assert_eq!(svc.status(), &ServiceStatus::Deleted);
    assert!(svc.deleted_at().is_some());
    assert_eq!(h.app_status(&url).await, 404);
    let listed = h.client.list_services().send().await.expect("ListServices");
    assert!(listed.service_summary_list().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_on_a_missing_image_fails_and_must_be_deleted() {
    let h = Harness::start().await;
    let (arn, op) = h.create("budgetsync-missing", "does-not-exist").await;
    assert_eq!(op.status(), Some(&OperationStatus::Failed));
    let svc = h.describe(&arn).await;
    assert_eq!(svc.status(), &ServiceStatus::CreateFailed);
    assert_eq!(h.app_status(svc.service_url().expect("url")).await, 503);

    let err = h
        .client
        .update_service()
        .service_arn(&arn)
        .source_configuration(h.source("v1"))
        .send()
        .await
        .expect_err("update of a CREATE_FAILED service");
    assert!(matches!(
        err.into_service_error(),
        UpdateServiceError::InvalidStateException(_)
    ));
    assert_eq!(
        code(h.client.start_deployment().service_arn(&arn).send().await),
        "InvalidStateException"
    );
    assert_eq!(
        code(h.client.pause_service().service_arn(&arn).send().await),
        "InvalidStateException"
    );
    // The name stays taken until the failed service is deleted.
    assert_eq!(
        code(
            h.client
                .create_service()
                .service_name("budgetsync-missing")
                .source_configuration(h.source("v1"))
                .send()
                .await
        ),
        "InvalidRequestException"
    );

    let del = h
        .client
        .delete_service()
        .service_arn(&arn)
        .send()
        .await
        .expect("DeleteService");
    let op = h.wait_op(&arn, del.operation_id()).await;
    assert_eq!(op.status(), Some(&OperationStatus::Succeeded));
    assert_eq!(h.describe(&arn).await.status(), &ServiceStatus::Deleted);
    assert_eq!(
        code(h.client.delete_service().service_arn(&arn).send().await),
        "InvalidStateException"
    );

    // Retrying after the delete works and gets a new ARN.
    let (arn2, op) = h.create("budgetsync-missing", "v1").await;
    assert_ne!(arn, arn2);
    assert_eq!(op.status(), Some(&OperationStatus::Succeeded));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_deploys_roll_back_to_the_previous_image() {
    let h = Harness::start().await;
    let (arn, _) = h.create("budgetsync-rollback", "v1").await;
    let url = h
        .describe(&arn)
        .await
        .service_url()
        .expect("url")
        .to_string();
    let admin = AdminClient::new(&h.edge.url()).expect("admin client");
    admin
        .fail_next_deploy("budgetsync-rollback", 1)
        .await
        .expect("fail-next-deploy");

    // Each way a deploy can fail: an image the registry lacks, an injected health failure.
    let cases = [
        ("update to a missing image", Some("v3")),
        ("fail-next-deploy fault", None),
    ];
    for (case, tag) in cases {
        let op_id = match tag {
            Some(tag) => h.update_image(&arn, tag).await,
            None => h
                .client
                .start_deployment()
                .service_arn(&arn)
                .send()
                .await
                .expect("StartDeployment")
                .operation_id()
                .to_string(),
        };
        let (op, seen) = h.wait_op_seen(&arn, &op_id).await;
        assert_eq!(
            op.status(),
            Some(&OperationStatus::RollbackSucceeded),
            "{case}"
        );
        assert!(
            seen.contains(&OperationStatus::RollbackInProgress),
            "{case}: {seen:?}"
        );
        let svc = h.describe(&arn).await;
        assert_eq!(svc.status(), &ServiceStatus::Running, "{case}");
        assert_eq!(image_of(&svc), h.image("v1"), "{case}");
        assert_eq!(h.app_status(&url).await, 200, "{case}");
    }

    // The fault was used up: the next deploy succeeds.
    let op_id = h.update_image(&arn, "v2").await;
    assert_eq!(
        h.wait_op(&arn, &op_id).await.status(),
        Some(&OperationStatus::Succeeded)
    );

    // With the previous image gone too, the rollback fails and nothing healthy is live.
    h.images.lock().expect("images").remove("budgetsync:v2");
    let op_id = h.update_image(&arn, "v9").await;
    assert_eq!(
        h.wait_op(&arn, &op_id).await.status(),
        Some(&OperationStatus::RollbackFailed)
    );
    assert_eq!(h.app_status(&url).await, 503);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_in_progress_block_other_changes() {
    let h = Harness::start().await;
    let out = h
        .client
        .create_service()
        .service_name("budgetsync-busy")
        .source_configuration(h.source("v1"))
        .send()
        .await
        .expect("CreateService");
    let arn = out.service().expect("service").service_arn().to_string();
    assert_eq!(
        code(
            h.client
                .update_service()
                .service_arn(&arn)
                .source_configuration(h.source("v2"))
                .send()
                .await
        ),
        "InvalidStateException"
    );
    assert_eq!(
        code(h.client.start_deployment().service_arn(&arn).send().await),
        "InvalidStateException"
    );
    assert_eq!(
        code(h.client.delete_service().service_arn(&arn).send().await),
        "InvalidStateException"
    );
    assert_eq!(
        code(h.client.pause_service().service_arn(&arn).send().await),
        "InvalidStateException"
    );
    h.wait_op(&arn, out.operation_id()).await;
    let op_id = h.update_image(&arn, "v2").await;
    assert_eq!(
        code(h.client.start_deployment().service_arn(&arn).send().await),
        "InvalidStateException"
    );
    h.wait_op(&arn, &op_id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_service_requests_are_rejected() {
    let h = Harness::start().await;
    let good = h.image("v1");
    type Case<'a> = (
        &'a str,
        &'a str,
        SourceConfiguration,
        Option<InstanceConfiguration>,
        Option<NetworkConfiguration>,
    );
    let cases: Vec<Case<'_>> = vec![
        ("name too short", "abc", h.source("v1"), None, None),
        ("name with a bad first char", "-budget", h.source("v1"), None, None),
        ("name with a dot", "budget.sync", h.source("v1"), None, None),
        ("ECR image without an access role", "no-role", source_for(&good, None), None, None),
        ("access role that is not a role", "bad-role", source_for(&good, Some("arn:aws:iam::000000000000:user/x")), None, None),
        ("image without a tag", "no-tag", source_for(&format!("{}/budgetsync", h.registry), Some(ROLE)), None, None),
        ("image without a registry host", "no-host", source_for("budgetsync:v1", Some(ROLE)), None, None),
        (
            "unsupported cpu",
            "bad-cpu",
            h.source("v1"),
            Some(InstanceConfiguration::builder().cpu("3 vCPU").build()),
            None,
        ),
        (
            "VPC egress without a connector",
            "bad-vpc",
            h.source("v1"),
            None,
            Some(
                NetworkConfiguration::builder()
                    .egress_configuration(
                        EgressConfiguration::builder()
                            .egress_type(aws_sdk_apprunner::types::EgressType::Vpc)
                            .build(),
                    )
                    .build(),
            ),
        ),
        (
            "unknown VPC connector",
            "ghost-vpc",
            h.source("v1"),
            None,
            Some(
                NetworkConfiguration::builder()
                    .egress_configuration(
                        EgressConfiguration::builder()
                            .egress_type(aws_sdk_apprunner::types::EgressType::Vpc)
                            .vpc_connector_arn(
                                "arn:aws:apprunner:us-east-1:000000000000:vpcconnector/ghost/1/0123",
                            )
                            .build(),
                    )
                    .build(),
            ),
        ),
    ];
    for (case, name, source, instance, network) in cases {
        let r = h
            .client
            .create_service()
            .service_name(name)
            .source_configuration(source)
            .set_instance_configuration(instance)
            .set_network_configuration(network)
            .send()
            .await;
        assert_eq!(code(r), "InvalidRequestException", "{case}");
    }
    assert_eq!(
        code(
            h.client
                .create_service()
                .service_name("budgetsync")
                .source_configuration(h.source("v1"))
                .auto_scaling_configuration_arn(
                    "arn:aws:apprunner:us-east-1:000000000000:autoscalingconfiguration/nope/1/abc"
                )
                .send()
                .await
        ),
        "InvalidRequestException"
    );

    let ghost = "arn:aws:apprunner:us-east-1:000000000000:service/ghost/0123456789abcdef";
    assert_eq!(
        code(h.client.describe_service().service_arn(ghost).send().await),
        "ResourceNotFoundException"
    );
    assert_eq!(
        code(h.client.list_operations().service_arn(ghost).send().await),
        "ResourceNotFoundException"
    );
    assert_eq!(
        code(h.client.start_deployment().service_arn(ghost).send().await),
        "ResourceNotFoundException"
    );
    assert_eq!(
        code(h.client.list_services().max_results(21).send().await),
        "InvalidRequestException"
    );
    assert_eq!(
        code(
            h.client
                .list_services()
                .next_token("not-a-token")
                .send()
                .await
        ),
        "InvalidRequestException"
    );
    // Nothing was created by the failed calls.
    let listed = h.client.list_services().send().await.expect("ListServices");
    assert!(listed.service_summary_list().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_quota_and_throttling_use_the_real_codes() {
    let h = Harness::start().await;
    for i in 0..30 {
        h.client
            .create_service()
            .service_name(format!("svc-{i:02}"))
            .source_configuration(h.source("v1"))
            .send()
            .await
            .expect("CreateService within quota");
    }
    assert_eq!(
        code(
            h.client
                .create_service()
                .service_name("svc-30")
                .source_configuration(h.source("v1"))
                .send()
                .await
        ),
        "ServiceQuotaExceededException"
    );
    // ListServices pages through all thirty, twenty at most per page.
    let first = h.client.list_services().send().await.expect("page 1");
    assert_eq!(first.service_summary_list().len(), 20);
    let second = h
        .client
        .list_services()
        .set_next_token(first.next_token().map(str::to_string))
        .send()
        .await
        .expect("page 2");
    assert_eq!(second.service_summary_list().len(), 10);
    assert!(second.next_token().is_none());

    let admin = AdminClient::new(&h.edge.url()).expect("admin client");
    admin
        .inject_fault(&FaultRequest::new("apprunner", FaultKind::Throttle, 1))
        .await
        .expect("inject throttle");
    assert_eq!(
        code(h.client.list_services().send().await),
        "ThrottlingException"
    );
    h.client
        .list_services()
        .send()
        .await
        .expect("throttle used up");
}

// ---------------------------------------------------------------------------------------------
// Auto scaling configurations, VPC connectors, custom domains.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_scaling_configurations_have_revisions() {
    let h = Harness::start().await;
    let create = |min: i32, max: i32| {
        h.client
            .create_auto_scaling_configuration()
            .auto_scaling_configuration_name("budgetsync-asc")
            .min_size(min)
            .max_size(max)
            .max_concurrency(50)
            .send()
    };
    let r1 = create(1, 2).await.expect("revision 1");
    let r1 = r1.auto_scaling_configuration().expect("asc").clone();
    let r2 = create(1, 3).await.expect("revision 2");
    let r2 = r2.auto_scaling_configuration().expect("asc").clone();
    assert_eq!(
        (
            r1.auto_scaling_configuration_revision(),
            r2.auto_scaling_configuration_revision()
        ),
        (Some(1), Some(2))
    );
    assert_eq!(
        (r2.latest(), r2.max_size(), r2.max_concurrency()),
        (Some(true), Some(3), Some(50))
    );
    let r1_arn = r1
        .auto_scaling_configuration_arn()
        .expect("arn")
        .to_string();
    let r2_arn = r2
        .auto_scaling_configuration_arn()
        .expect("arn")
        .to_string();
    let d1 = h
        .client
        .describe_auto_scaling_configuration()
        .auto_scaling_configuration_arn(&r1_arn)
        .send()
        .await
        .expect("describe r1");
    assert_eq!(
        d1.auto_scaling_configuration().and_then(|a| a.latest()),
        Some(false)
    );
    // A partial ARN (name only) resolves to the latest revision.
    let (base, _) = r1_arn.rsplit_once("/1/").expect("arn shape");
    let latest = h
        .client
        .describe_auto_scaling_configuration()
        .auto_scaling_configuration_arn(base)
        .send()
        .await
        .expect("describe by name");
    assert_eq!(
        latest
            .auto_scaling_configuration()
            .and_then(|a| a.auto_scaling_configuration_arn()),
        Some(r2_arn.as_str())
    );

    let listed = h
        .client
        .list_auto_scaling_configurations()
        .auto_scaling_configuration_name("budgetsync-asc")
        .send()
        .await
        .expect("list");
    assert_eq!(listed.auto_scaling_configuration_summary_list().len(), 2);
    let latest_only = h
        .client
        .list_auto_scaling_configurations()
        .latest_only(true)
        .send()
        .await
        .expect("list latest");
    let names: Vec<_> = latest_only
        .auto_scaling_configuration_summary_list()
        .iter()
        .filter_map(|a| a.auto_scaling_configuration_name())
        .collect();
    assert_eq!(names, ["DefaultConfiguration", "budgetsync-asc"]);

    // Invalid values and the per-name revision quota.
    let invalid = [(0, 2), (3, 2), (1, 26)];
    for (min, max) in invalid {
        assert_eq!(
            code(create(min, max).await),
            "InvalidRequestException",
            "{min}..{max}"
        );
    }
    for _ in 3..=5 {
        create(1, 2).await.expect("revisions 3-5");
    }
    assert_eq!(code(create(1, 2).await), "ServiceQuotaExceededException");

    // A service using revision 2: associated, so it can't be deleted.
    let svc = h
        .client
        .create_service()
        .service_name("budgetsync-scaled")
        .source_configuration(h.source("v1"))
        .auto_scaling_configuration_arn(&r2_arn)
        .send()
        .await
        .expect("CreateService with asc");
    let summary = svc
        .service()
        .and_then(|s| s.auto_scaling_configuration_summary())
        .expect("summary");
    assert_eq!(
        summary.auto_scaling_configuration_arn(),
        Some(r2_arn.as_str())
    );
    assert_eq!(summary.has_associated_service(), Some(true));
    assert_eq!(
        code(
            h.client
                .delete_auto_scaling_configuration()
                .auto_scaling_configuration_arn(&r2_arn)
                .send()
                .await
        ),
        "InvalidRequestException"
    );
    let default_arn = latest_only.auto_scaling_configuration_summary_list()[0]
        .auto_scaling_configuration_arn()
        .expect("default arn")
        .to_string();
    assert_eq!(
        code(
            h.client
                .delete_auto_scaling_configuration()
                .auto_scaling_configuration_arn(&default_arn)
                .send()
                .await
        ),
        "InvalidRequestException"
    );

    let deleted = h
        .client
        .delete_auto_scaling_configuration()
        .auto_scaling_configuration_arn(&r1_arn)
        .send()
        .await
        .expect("delete r1");
    let deleted = deleted.auto_scaling_configuration().expect("asc");
    assert_eq!(
        deleted.status(),
        Some(&aws_sdk_apprunner::types::AutoScalingConfigurationStatus::Inactive)
    );
    assert!(deleted.deleted_at().is_some());
    assert_eq!(
        code(
            h.client
                .delete_auto_scaling_configuration()
                .auto_scaling_configuration_arn(&r1_arn)
                .send()
                .await
        ),
        "ResourceNotFoundException"
    );
    assert_eq!(
        code(
            h.client
                .describe_auto_scaling_configuration()
                .auto_scaling_configuration_arn(
                    "arn:aws:apprunner:us-east-1:000000000000:autoscalingconfiguration/ghost/1/ab"
                )
                .send()
                .await
        ),
        "ResourceNotFoundException"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vpc_connectors_route_services_to_private_resources() {
    let h = Harness::start().await;
    let created = h
        .client
        .create_vpc_connector()
        .vpc_connector_name("budgetsync-db")
        .subnets("subnet-0123")
        .subnets("subnet-4567")
        .security_groups("sg-0123")
        .send()
        .await
        .expect("CreateVpcConnector");
    let conn = created.vpc_connector().expect("connector");
    assert_eq!(conn.vpc_connector_revision(), 1);
    assert_eq!(conn.subnets(), ["subnet-0123", "subnet-4567"]);
    assert_eq!(
        conn.status(),
        Some(&aws_sdk_apprunner::types::VpcConnectorStatus::Active)
    );
    let conn_arn = conn.vpc_connector_arn().expect("arn").to_string();

    let invalid = [
        ("budgetsync-db", true, "InvalidRequestException"),
        ("no-subnets", false, "InvalidRequestException"),
        ("x", true, "InvalidRequestException"),
    ];
    for (name, with_subnet, expected) in invalid {
        let mut req = h.client.create_vpc_connector().vpc_connector_name(name);
        if with_subnet {
            req = req.subnets("subnet-0123");
        }
        assert_eq!(code(req.send().await), expected, "{name}");
    }

    let network = NetworkConfiguration::builder()
        .egress_configuration(
            EgressConfiguration::builder()
                .egress_type(aws_sdk_apprunner::types::EgressType::Vpc)
                .vpc_connector_arn(&conn_arn)
                .build(),
        )
        .build();
    let out = h
        .client
        .create_service()
        .service_name("budgetsync-vpc")
        .source_configuration(h.source("v1"))
        .network_configuration(network)
        .send()
        .await
        .expect("CreateService with VPC egress");
    let svc_arn = out.service().expect("service").service_arn().to_string();
    assert_eq!(
        h.wait_op(&svc_arn, out.operation_id()).await.status(),
        Some(&OperationStatus::Succeeded)
    );
    let svc = h.describe(&svc_arn).await;
    let egress = svc
        .network_configuration()
        .and_then(|n| n.egress_configuration())
        .expect("egress");
    assert_eq!(egress.vpc_connector_arn(), Some(conn_arn.as_str()));

    let described = h
        .client
        .describe_vpc_connector()
        .vpc_connector_arn(&conn_arn)
        .send()
        .await
        .expect("DescribeVpcConnector");
    assert_eq!(
        described
            .vpc_connector()
            .and_then(|c| c.vpc_connector_name()),
        Some("budgetsync-db")
    );
    let listed = h
        .client
        .list_vpc_connectors()
        .send()
        .await
        .expect("ListVpcConnectors");
    assert_eq!(listed.vpc_connectors().len(), 1);

    // In use: refused. After the service is gone: INACTIVE.
    assert_eq!(
        code(
            h.client
                .delete_vpc_connector()
                .vpc_connector_arn(&conn_arn)
                .send()
                .await
        ),
        "InvalidRequestException"
    );
    let del = h
        .client
        .delete_service()
        .service_arn(&svc_arn)
        .send()
        .await
        .expect("DeleteService");
    h.wait_op(&svc_arn, del.operation_id()).await;
    let gone = h
        .client
        .delete_vpc_connector()
        .vpc_connector_arn(&conn_arn)
        .send()
        .await
        .expect("DeleteVpcConnector");
    assert_eq!(
        gone.vpc_connector().and_then(|c| c.status()),
        Some(&aws_sdk_apprunner::types::VpcConnectorStatus::Inactive)
    );
    assert_eq!(
        code(
            h.client
                .delete_vpc_connector()
                .vpc_connector_arn(&conn_arn)
                .send()
                .await
        ),
        "ResourceNotFoundException"
    );
    assert_eq!(
        code(
            h.client
                .describe_vpc_connector()
                .vpc_connector_arn("arn:aws:apprunner:us-east-1:000000000000:vpcconnector/x/1/ab")
                .send()
                .await
        ),
        "ResourceNotFoundException"
    );
    // Re-creating the name gets the next revision.
    let again = h
        .client
        .create_vpc_connector()
        .vpc_connector_name("budgetsync-db")
        .subnets("subnet-0123")
        .send()
        .await
        .expect("re-create");
    assert_eq!(
        again.vpc_connector().map(|c| c.vpc_connector_revision()),
        Some(2)
    );

    // Quota: ten active connectors.
    for i in 1..10 {
        h.client
            .create_vpc_connector()
            .vpc_connector_name(format!("conn-{i:02}"))
            .subnets("subnet-0123")
            .send()
            .await
            .expect("within quota");
    }
    assert_eq!(
        code(
            h.client
                .create_vpc_connector()
                .vpc_connector_name("conn-10")
                .subnets("subnet-0123")
                .send()
                .await
        ),
        "ServiceQuotaExceededException"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_domains_validate_then_become_active() {
    let h = Harness::start().await;
    let (arn, _) = h.create("budgetsync-web", "v1").await;
    let url = h
        .describe(&arn)
        .await
        .service_url()
        .expect("url")
        .to_string();

    let out = h
        .client
        .associate_custom_domain()
        .service_arn(&arn)
        .domain_name("budgetsync.example.com")
        .send()
        .await
        .expect("AssociateCustomDomain");
    assert_eq!(out.dns_target(), url);
    let domain = out.custom_domain().expect("custom domain");
    assert_eq!(
        domain.status(),
        &CustomDomainAssociationStatus::PendingCertificateDnsValidation
    );
    assert!(domain.enable_www_subdomain());
    let records = domain.certificate_validation_records();
    assert_eq!(records.len(), 2, "domain and www records");
    for r in records {
        assert_eq!(r.r#type(), Some("CNAME"));
        assert!(
            r.value()
                .is_some_and(|v| v.ends_with(".acm-validations.aws."))
        );
        assert_eq!(
            r.status(),
            Some(&aws_sdk_apprunner::types::CertificateValidationRecordStatus::PendingValidation)
        );
    }
    let no_www = h
        .client
        .associate_custom_domain()
        .service_arn(&arn)
        .domain_name("api.example.com")
        .enable_www_subdomain(false)
        .send()
        .await
        .expect("associate without www");
    assert_eq!(
        no_www
            .custom_domain()
            .map(|d| d.certificate_validation_records().len()),
        Some(1)
    );

    let errors = [
        ("budgetsync.example.com", "InvalidRequestException"),
        ("not a domain", "InvalidRequestException"),
    ];
    for (name, expected) in errors {
        let r = h
            .client
            .associate_custom_domain()
            .service_arn(&arn)
            .domain_name(name)
            .send()
            .await;
        assert_eq!(code(r), expected, "{name}");
    }

    // Five service minutes later the certificate is validated.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let d = h
            .client
            .describe_custom_domains()
            .service_arn(&arn)
            .send()
            .await
            .expect("DescribeCustomDomains");
        assert_eq!(d.custom_domains().len(), 2);
        assert_eq!(d.dns_target(), url);
        if d.custom_domains()
            .iter()
            .all(|c| c.status() == &CustomDomainAssociationStatus::Active)
        {
            let all_success = d.custom_domains().iter().all(|c| {
                c.certificate_validation_records().iter().all(|r| {
                    r.status()
                        == Some(
                            &aws_sdk_apprunner::types::CertificateValidationRecordStatus::Success,
                        )
                })
            });
            assert!(all_success);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "domains never became ACTIVE"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let gone = h
        .client
        .disassociate_custom_domain()
        .service_arn(&arn)
        .domain_name("api.example.com")
        .send()
        .await
        .expect("DisassociateCustomDomain");
    assert_eq!(
        gone.custom_domain().map(|d| d.status()),
        Some(&CustomDomainAssociationStatus::Deleting)
    );
    assert_eq!(
        code(
            h.client
                .disassociate_custom_domain()
                .service_arn(&arn)
                .domain_name("api.example.com")
                .send()
                .await
        ),
        "ResourceNotFoundException"
    );
    let d = h
        .client
        .describe_custom_domains()
        .service_arn(&arn)
        .send()
        .await
        .expect("DescribeCustomDomains");
    assert_eq!(d.custom_domains().len(), 1);

    // Only a RUNNING service takes a domain.
    let (failed, _) = h.create("budgetsync-broken", "missing").await;
    assert_eq!(
        code(
            h.client
                .associate_custom_domain()
                .service_arn(&failed)
                .domain_name("broken.example.com")
                .send()
                .await
        ),
        "InvalidStateException"
    );
}

// ---------------------------------------------------------------------------------------------
// ECR.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecr_token_points_at_the_local_registry() {
    let h = Harness::start().await;
    let out = ecr_client(&h.edge.url())
        .get_authorization_token()
        .send()
        .await
        .expect("GetAuthorizationToken");
    let data = &out.authorization_data()[0];
    let token = base64::engine::general_purpose::STANDARD
        .decode(data.authorization_token().expect("token"))
        .expect("base64 token");
    assert_eq!(
        String::from_utf8(token).expect("utf8"),
        format!("AWS:{REGISTRY_PASSWORD}")
    );
    assert_eq!(
        data.proxy_endpoint(),
        Some(format!("http://{}", h.registry).as_str())
    );
    let expires = data.expires_at().expect("expiry").secs();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let in_12h = i64::try_from(now).expect("now") + 12 * 3600;
    assert!(
        (expires - in_12h).abs() <= 5,
        "expires {expires}, expected about {in_12h}"
    );

    // Without a registry the edge answers ECR's ServerException.
    let bare = Edge::start(EdgeConfig::default()).await.expect("edge");
    let err = ecr_client(&bare.url())
        .get_authorization_token()
        .send()
        .await
        .expect_err("no registry configured");
    assert!(matches!(
        err.into_service_error(),
        aws_sdk_ecr::operation::get_authorization_token::GetAuthorizationTokenError::ServerException(_)
    ));
}

// ---------------------------------------------------------------------------------------------
// Runtime secrets and the instance role, against moto's Secrets Manager and IAM (the shared
// local cloud's moto behind a private edge of this test).

const INSTANCE_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"tasks.apprunner.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

impl Harness {
    /// A harness whose edge shares the running local cloud's moto (secrets, IAM).
    async fn on_local_cloud() -> (Self, deploykit_testsupport::LocalCloud) {
        let (registry, images) = start_registry(&["budgetsync:v1", "budgetsync:v2"]).await;
        let cloud = deploykit_testsupport::local_cloud().await;
        let reg = registry.clone();
        let edge = cloud
            .private_edge(move |cfg| {
                cfg.registry = Some(RegistryConfig {
                    endpoint: reg,
                    username: REGISTRY_USER.into(),
                    password: REGISTRY_PASSWORD.into(),
                });
            })
            .await;
        let client = apprunner_client(&edge.url());
        let h = Self {
            edge,
            client,
            registry,
            images,
        };
        (h, cloud)
    }

    fn secrets_source(&self, tag: &str, secrets: &[(&str, &str)]) -> SourceConfiguration {
        let mut image = ImageConfiguration::builder().port("8000");
        for (k, v) in secrets {
            image = image.runtime_environment_secrets(*k, *v);
        }
        let repo = ImageRepository::builder()
            .image_identifier(self.image(tag))
            .image_repository_type(ImageRepositoryType::Ecr)
            .image_configuration(image.build())
            .build()
            .expect("image repository");
        SourceConfiguration::builder()
            .image_repository(repo)
            .auto_deployments_enabled(false)
            .authentication_configuration(
                AuthenticationConfiguration::builder()
                    .access_role_arn(ROLE)
                    .build(),
            )
            .build()
    }

    async fn create_with(
        &self,
        name: &str,
        source: SourceConfiguration,
        role: Option<&str>,
    ) -> Result<(String, String), String> {
        let mut req = self
            .client
            .create_service()
            .service_name(name)
            .source_configuration(source);
        if let Some(role) = role {
            req = req.instance_configuration(
                InstanceConfiguration::builder()
                    .instance_role_arn(role)
                    .build(),
            );
        }
        match req.send().await {
            Ok(out) => {
                let arn = out.service().expect("service").service_arn().to_string();
                Ok((arn, out.operation_id().to_string()))
            }
            Err(SdkError::ServiceError(e)) => Err(format!(
                "{}: {}",
                e.err().code().unwrap_or("<no code>"),
                e.err().message().unwrap_or("")
            )),
            Err(other) => panic!("CreateService failed before the service: {other:?}"),
        }
    }
}

/// A secret in moto's Secrets Manager (through the edge); returns its ARN.
async fn create_secret(
    cloud: &deploykit_testsupport::LocalCloud,
    edge: &Edge,
    name: &str,
) -> String {
    let sm = aws_sdk_secretsmanager::Client::new(&cloud.sdk_config_for(&edge.url()));
    let out = sm
        .create_secret()
        .name(name)
        .secret_string("local-test-value")
        .send()
        .await
        .expect("CreateSecret in moto");
    let arn = out.arn().expect("secret ARN").to_string();
    // Secrets Manager appends `-` and six characters to the name; moto does too.
    let suffix = arn
        .strip_prefix(&format!(
            "arn:aws:secretsmanager:{}:{}:secret:{name}-",
            cloud.region, cloud.account_id
        ))
        .unwrap_or_else(|| panic!("unexpected secret ARN {arn}"));
    assert_eq!(suffix.len(), 6, "{arn}");
    arn
}

/// A role in moto's IAM (through the edge) that App Runner instances may assume.
async fn create_instance_role(
    cloud: &deploykit_testsupport::LocalCloud,
    edge: &Edge,
    name: &str,
) -> String {
    let iam = aws_sdk_iam::Client::new(&cloud.sdk_config_for(&edge.url()));
    iam.create_role()
        .role_name(name)
        .assume_role_policy_document(INSTANCE_TRUST)
        .send()
        .await
        .expect("CreateRole in moto")
        .role()
        .expect("role")
        .arn()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apprunner_refuses_runtime_secrets_without_an_instance_role() {
    let (h, cloud) = Harness::on_local_cloud().await;
    let secret = create_secret(
        &cloud,
        &h.edge,
        &deploykit_testsupport::unique_name("ar-norole"),
    )
    .await;
    let name = deploykit_testsupport::unique_name("ar-norole");
    let source = h.secrets_source("v1", &[("SECRET_KEY", &secret)]);

    // No instance role: refused up front with App Runner's own message, nothing created.
    let err = h
        .create_with(&name, source.clone(), None)
        .await
        .expect_err("secrets without an instance role");
    assert_eq!(
        err,
        "InvalidRequestException: Instance Role have to be provided if passing in RuntimeEnvironmentSecrets."
    );

    // A role ARN IAM does not know: App Runner cannot assume it.
    let ghost = format!("arn:aws:iam::{}:role/{name}-ghost", cloud.account_id);
    let err = h
        .create_with(&name, source.clone(), Some(&ghost))
        .await
        .expect_err("unknown instance role");
    assert_eq!(
        err,
        format!("InvalidRequestException: Error in assuming instance role {ghost}")
    );
    // Not a role ARN at all.
    let err = h
        .create_with(
            &name,
            source,
            Some(&format!("arn:aws:iam::{}:user/bob", cloud.account_id)),
        )
        .await
        .expect_err("a user is not a role");
    assert!(err.starts_with("InvalidRequestException: "), "{err}");
    let listed = h.client.list_services().send().await.expect("ListServices");
    assert!(
        listed.service_summary_list().is_empty(),
        "nothing was created"
    );

    // An update that drops the role of a service with secrets is refused the same way.
    let role = create_instance_role(&cloud, &h.edge, &format!("{name}-instance")).await;
    let (arn, op_id) = h
        .create_with(
            &name,
            h.secrets_source("v1", &[("SECRET_KEY", &secret)]),
            Some(&role),
        )
        .await
        .expect("created with a role");
    assert_eq!(
        h.wait_op(&arn, &op_id).await.status(),
        Some(&OperationStatus::Succeeded)
    );
    let err = h
        .client
        .update_service()
        .service_arn(&arn)
        .instance_configuration(InstanceConfiguration::builder().cpu("1024").build())
        .send()
        .await
        .expect_err("update without the role");
    assert_eq!(
        err.into_service_error().message(),
        Some("Instance Role have to be provided if passing in RuntimeEnvironmentSecrets.")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apprunner_refuses_a_missing_runtime_secret() {
    let (h, cloud) = Harness::on_local_cloud().await;
    let name = deploykit_testsupport::unique_name("ar-missing");
    let role = create_instance_role(&cloud, &h.edge, &format!("{name}-instance")).await;
    let missing = format!(
        "arn:aws:secretsmanager:{}:{}:secret:{name}/never-created-AbCdEf",
        cloud.region, cloud.account_id
    );

    // App Runner accepts the call and reads secrets when instances start: the create fails.
    let (arn, op_id) = h
        .create_with(
            &name,
            h.secrets_source("v1", &[("SECRET_KEY", &missing)]),
            Some(&role),
        )
        .await
        .expect("CreateService is accepted");
    assert_eq!(
        h.wait_op(&arn, &op_id).await.status(),
        Some(&OperationStatus::Failed)
    );
    let svc = h.describe(&arn).await;
    assert_eq!(svc.status(), &ServiceStatus::CreateFailed);
    assert_eq!(h.app_status(svc.service_url().expect("url")).await, 503);

    // A running service updated to reference a missing secret rolls back to what ran.
    let name2 = deploykit_testsupport::unique_name("ar-missing");
    let real = create_secret(&cloud, &h.edge, &format!("{name2}/key")).await;
    let (arn, op_id) = h
        .create_with(
            &name2,
            h.secrets_source("v1", &[("SECRET_KEY", &real)]),
            Some(&role),
        )
        .await
        .expect("created");
    assert_eq!(
        h.wait_op(&arn, &op_id).await.status(),
        Some(&OperationStatus::Succeeded)
    );
    // A full ARN with the wrong suffix names another secret, which does not exist.
    let wrong_suffix = format!("{}ZZZZZZ", &real[..real.len() - 6]);
    let out = h
        .client
        .update_service()
        .service_arn(&arn)
        .source_configuration(h.secrets_source("v2", &[("SECRET_KEY", &wrong_suffix)]))
        .send()
        .await
        .expect("UpdateService is accepted");
    let op = h.wait_op(&arn, out.operation_id()).await;
    assert_eq!(op.status(), Some(&OperationStatus::RollbackSucceeded));
    let svc = h.describe(&arn).await;
    assert_eq!(svc.status(), &ServiceStatus::Running);
    assert!(image_of(&svc).ends_with(":v1"), "{}", image_of(&svc));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apprunner_accepts_existing_runtime_secrets_with_an_instance_role() {
    let (h, cloud) = Harness::on_local_cloud().await;
    let name = deploykit_testsupport::unique_name("ar-secrets");
    let role = create_instance_role(&cloud, &h.edge, &format!("{name}-instance")).await;
    let full = create_secret(&cloud, &h.edge, &format!("{name}/db-url")).await;
    let other = create_secret(&cloud, &h.edge, &format!("{name}/secret-key")).await;
    // A partial ARN (no suffix) resolves by name, as Secrets Manager does; a JSON key and
    // version suffix (`:key::`) still names the same secret.
    let partial = other[..other.len() - 7].to_string();
    let (arn, op_id) = h
        .create_with(
            &name,
            h.secrets_source(
                "v1",
                &[
                    ("DATABASE_URL", &full),
                    ("SECRET_KEY", &partial),
                    ("FIELD", &format!("{full}:password::")),
                ],
            ),
            Some(&role),
        )
        .await
        .expect("CreateService");
    assert_eq!(
        h.wait_op(&arn, &op_id).await.status(),
        Some(&OperationStatus::Succeeded)
    );
    let svc = h.describe(&arn).await;
    assert_eq!(svc.status(), &ServiceStatus::Running);
    assert_eq!(
        svc.instance_configuration()
            .and_then(|i| i.instance_role_arn()),
        Some(role.as_str())
    );
    let secrets = svc
        .source_configuration()
        .and_then(|s| s.image_repository())
        .and_then(|r| r.image_configuration())
        .and_then(|c| c.runtime_environment_secrets())
        .cloned()
        .unwrap_or_default();
    assert_eq!(secrets.get("DATABASE_URL"), Some(&full));
    assert_eq!(h.app_status(svc.service_url().expect("url")).await, 200);
}
