//! Elastic Beanstalk emulator (query protocol: form-encoded `Action=...`, XML answers).
//!
//! Resources live per region. Environments move through a real state machine driven by the
//! scaled clock (see [`state`]); application versions are checked against moto's S3 and their
//! bundles inspected, so a bundle without a `web:` process deploys into a Red environment.

mod bundle;
mod cli_ops;
mod info;
mod instance;
mod lb;
mod ops;
mod params;
mod platform;
mod platforms;
mod render;
mod secrets;
mod state;
mod tags;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;

use crate::core::Ctx;
use crate::forward::Moto;
use crate::xml::{Xml, query_error, xml_response};
use params::{ApiError, ApiResult, Params};
use state::{EnvStatus, HealthStatus, Region};

/// The service's XML namespace.
pub(crate) const NS: &str = "http://elasticbeanstalk.amazonaws.com/docs/2010-12-01/";

/// The Elastic Beanstalk emulator: one per edge, all regions.
#[derive(Debug)]
pub(crate) struct Eb {
    ctx: Ctx,
    moto: Option<Moto>,
    version_quota: u32,
    /// Largest source bundle accepted (checked by size before any download).
    max_bundle_bytes: u64,
    regions: Arc<Mutex<HashMap<String, Region>>>,
    /// Real instances (containers) when the edge runs workloads; `None`: simulated.
    instances: Option<Arc<instance::Instances>>,
    /// `RequestEnvironmentInfo` samples per environment id, newest last.
    env_info: Mutex<HashMap<String, Vec<info::InfoSample>>>,
}

/// One request in flight: who asked, where.
#[derive(Debug)]
pub(crate) struct Call<'a> {
    pub region: &'a str,
    pub request_id: &'a str,
    pub p: Params,
}

impl Eb {
    pub fn new(ctx: Ctx, moto: Option<Moto>, version_quota: u32, max_bundle_bytes: u64) -> Self {
        let instances = ctx.workloads.clone().map(|w| {
            Arc::new(instance::Instances::new(
                w,
                ctx.routes.clone(),
                ctx.moto_url.clone(),
                max_bundle_bytes,
            ))
        });
        Self {
            ctx,
            moto,
            version_quota,
            max_bundle_bytes,
            regions: Arc::new(Mutex::new(HashMap::new())),
            instances,
            env_info: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Region>> {
        self.regions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on `region` after applying every due timeline step.
    fn with_region<R>(&self, region: &str, f: impl FnOnce(&mut Region) -> R) -> R {
        let mut regions = self.lock();
        let r = regions.entry(region.to_string()).or_default();
        r.tick(std::time::Instant::now(), self.ctx.clock.now_utc());
        f(r)
    }

    /// Answers one query-protocol request.
    pub async fn handle(
        &self,
        region: &str,
        params: Vec<(String, String)>,
        request_id: &str,
    ) -> Response<Full<Bytes>> {
        let call = Call {
            region,
            request_id,
            p: Params::new(params),
        };
        let action = call.p.get("Action").unwrap_or("").to_string();
        match self.dispatch(&action, &call).await {
            Ok(result) => {
                let mut x = Xml::new();
                x.open_ns(&format!("{action}Response"), NS);
                if let Some(result) = result {
                    x.open(&format!("{action}Result"));
                    x.raw(&result);
                    x.close(&format!("{action}Result"));
                }
                x.open("ResponseMetadata")
                    .leaf("RequestId", request_id)
                    .close("ResponseMetadata")
                    .close(&format!("{action}Response"));
                xml_response(StatusCode::OK, x.finish(), request_id)
            }
            Err(e) => query_error(e.status, e.kind(), e.code, &e.message, request_id),
        }
    }

    async fn dispatch(&self, action: &str, c: &Call<'_>) -> ApiResult<Option<String>> {
        match action {
            "CreateApplication" => self.create_application(c),
            "DescribeApplications" => self.describe_applications(c),
            "DeleteApplication" => self.delete_application(c),
            "UpdateApplicationResourceLifecycle" => self.update_application_resource_lifecycle(c),
            "CreateApplicationVersion" => self.create_application_version(c).await,
            "DescribeApplicationVersions" => self.describe_application_versions(c),
            "DeleteApplicationVersion" => self.delete_application_version(c).await,
            "CreateStorageLocation" => self.create_storage_location(c).await,
            "CheckDNSAvailability" => self.check_dns_availability(c),
            "CreateEnvironment" => self.create_environment_lb(c).await,
            "UpdateEnvironment" => self.update_environment_lb(c).await,
            "DescribeEnvironments" => self.describe_environments(c),
            "TerminateEnvironment" => self.terminate_environment(c),
            "DescribeEvents" => self.describe_events(c),
            "DescribeEnvironmentHealth" => self.describe_environment_health(c),
            "DescribeConfigurationSettings" => self.describe_configuration_settings(c),
            "ListTagsForResource" => self.list_tags_for_resource(c),
            "UpdateTagsForResource" => self.update_tags_for_resource(c),
            "ListPlatformVersions" => self.list_platform_versions(c),
            "DescribePlatformVersion" => self.describe_platform_version(c),
            "ListAvailableSolutionStacks" => self.list_available_solution_stacks(c),
            "DescribeAccountAttributes" => self.describe_account_attributes(),
            "RequestEnvironmentInfo" => self.request_environment_info(c).await,
            "RetrieveEnvironmentInfo" => self.retrieve_environment_info(c),
            "ListPlatformBranches" => self.list_platform_branches(c),
            "DescribeInstancesHealth" => self.describe_instances_health(c),
            "DescribeEnvironmentResources" => self.describe_environment_resources(c),
            "DescribeEnvironmentManagedActions" => self.describe_environment_managed_actions(c),
            "DescribeEnvironmentManagedActionHistory" => {
                self.describe_environment_managed_action_history(c)
            }
            "" => Err(ApiError::missing("Action")),
            other => Err(ApiError::new(
                "InvalidAction",
                format!("The action {other} is not valid for this web service."),
            )),
        }
    }

    /// Serves app traffic for `<cname>` (`Host` without port, lowercased): 200 when the
    /// environment runs a healthy version, 503 otherwise.
    pub fn serve_app(&self, host: &str, path: &str) -> Response<Full<Bytes>> {
        let mut regions = self.lock();
        let now = std::time::Instant::now();
        let now_utc = self.ctx.clock.now_utc();
        let mut found = None;
        for region in regions.values_mut() {
            region.tick(now, now_utc);
            if let Some(env) = region
                .envs
                .iter()
                .find(|e| e.cname == host && e.status != EnvStatus::Terminated)
            {
                found = Some((
                    env.name.clone(),
                    env.version.clone(),
                    env.status,
                    env.health,
                ));
                break;
            }
        }
        drop(regions);
        let (status, body, env) = match found {
            None => (
                StatusCode::NOT_FOUND,
                format!("No Elastic Beanstalk environment answers at {host}\n"),
                None,
            ),
            Some((name, version, st, health)) => {
                let serving = matches!(st, EnvStatus::Ready | EnvStatus::Updating)
                    && matches!(
                        health,
                        HealthStatus::Ok | HealthStatus::Info | HealthStatus::Warning
                    );
                let version = version.unwrap_or_else(|| "Sample Application".into());
                if serving {
                    (
                        StatusCode::OK,
                        format!("{name} running {version}: {path}\n"),
                        Some(name),
                    )
                } else {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!(
                            "{name} is {} with health {}; no healthy instance serves {version}\n",
                            st.as_str(),
                            health.as_str()
                        ),
                        Some(name),
                    )
                }
            }
        };
        let mut resp = Response::new(Full::new(Bytes::from(body)));
        *resp.status_mut() = status;
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if let Some(v) = env.and_then(|n| HeaderValue::from_str(&n).ok()) {
            resp.headers_mut().insert("x-localcloud-environment", v);
        }
        resp
    }
}
