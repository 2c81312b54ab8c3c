//! Route B, containers: preflight -> image context and tag -> plan on the platform (App Runner
//! or ECS Express Mode) -> build, push to ECR, deploy. Two calls, so a front end can show the
//! plan before anything is built or changed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use deploykit_apprunner::{
    ContainerPlatform, DeployOutcome, EcsExpress, EcsRoles, Plan, Probe, ServiceSpec, WaitOptions,
};
use deploykit_config::{ResolvedTarget, TagMutability};
use deploykit_image::ContextPlan;
use deploykit_report::Reporter;

use crate::mapping::Route;
use crate::preflight::{IamKind, Preflight, SecretArn, require_iam, resolve_secrets};
use crate::prepare::{Pending, prepare_local};
use crate::remote_lock::RemoteHolder;
use crate::source::GitInfo;
use crate::{Result, Session};

/// Where the image runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnPlatform {
    AppRunner,
    EcsExpress,
}

impl OnPlatform {
    /// The route whose IAM roles the platform needs.
    pub fn route(self) -> Route {
        match self {
            OnPlatform::AppRunner => Route::Apprunner,
            OnPlatform::EcsExpress => Route::Ecs,
        }
    }

    /// deploy.toml's name of the service on this platform.
    pub fn service_name(self, t: &ResolvedTarget) -> &str {
        match self {
            OnPlatform::AppRunner => &t.apprunner.service,
            OnPlatform::EcsExpress => &t.ecs.service,
        }
    }

    /// `apprunner` / `ecs`: the route's word in commands and records.
    pub fn word(self) -> &'static str {
        match self {
            OnPlatform::AppRunner => "apprunner",
            OnPlatform::EcsExpress => "ecs",
        }
    }

    /// "App Runner service" / "ECS Express service".
    pub fn service_noun(self) -> &'static str {
        match self {
            OnPlatform::AppRunner => "App Runner service",
            OnPlatform::EcsExpress => "ECS Express service",
        }
    }
}

/// What `deploy apprunner|ecs` is asked to do beyond deploy.toml.
#[derive(Debug, Clone, Default)]
pub struct ContainerDeployRequest {
    /// Plan only: on the local target, do not make missing secrets or roles either.
    pub dry_run: bool,
    /// Delete a CREATE_FAILED service and create it again (its URL changes).
    pub recreate: bool,
    /// Bound on waiting for the platform (default: deploy.toml's timeout).
    pub timeout: Option<Duration>,
    /// Time between polls.
    pub poll: Option<Duration>,
    /// Write the generated Dockerfile into the app when it has none, then build with it.
    pub write_dockerfile: bool,
    /// Break a deploy lock whose holder no longer runs (see [`crate::lock`]), with a warning.
    pub force_unlock: bool,
}

/// The preflight plus the role ARNs each platform needs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ContainerPreflight {
    #[serde(flatten)]
    pub base: Preflight,
    pub access_role_arn: Option<String>,
    pub instance_role_arn: Option<String>,
    /// ECS Express: the execution and infrastructure roles, and the task role if any.
    #[serde(skip)]
    pub ecs: Option<(EcsRoles, Option<String>)>,
}

/// Before any change (dry run too): the caller, the secrets' real ARNs and the ARNs of the
/// platform's roles from IAM; missing ones are refused.
pub async fn preflight(s: &Session, on: OnPlatform) -> Result<ContainerPreflight> {
    let t = &s.target;
    let caller = s.caller().await?;
    let resolved = resolve_secrets(t, &s.sdk).await?;
    let mut wanted = match on {
        OnPlatform::AppRunner => vec![
            (
                "[apprunner] access_role",
                IamKind::Role,
                t.apprunner.access_role.clone(),
            ),
            (
                "[apprunner] instance_role",
                IamKind::Role,
                t.apprunner.instance_role.clone(),
            ),
        ],
        OnPlatform::EcsExpress => vec![
            (
                "[ecs] execution_role",
                IamKind::Role,
                t.ecs.execution_role.clone(),
            ),
            (
                "[ecs] infrastructure_role",
                IamKind::Role,
                t.ecs.infrastructure_role.clone(),
            ),
        ],
    };
    if let (OnPlatform::EcsExpress, Some(task)) = (on, &t.ecs.task_role) {
        wanted.push(("[ecs] task_role", IamKind::Role, task.clone()));
    }
    let iam = require_iam(t, &s.sdk, &wanted).await?;
    let arn_of = |field: &str| iam.iter().find(|i| i.field == field).map(|i| i.arn.clone());
    let (access_role_arn, instance_role_arn, ecs) = match on {
        OnPlatform::AppRunner => (
            arn_of("[apprunner] access_role"),
            arn_of("[apprunner] instance_role"),
            None,
        ),
        OnPlatform::EcsExpress => {
            let roles = EcsRoles {
                execution_role_arn: arn_of("[ecs] execution_role").unwrap_or_default(),
                infrastructure_role_arn: arn_of("[ecs] infrastructure_role").unwrap_or_default(),
            };
            (None, None, Some((roles, arn_of("[ecs] task_role"))))
        }
    };
    Ok(ContainerPreflight {
        base: Preflight {
            caller,
            secrets: resolved.iter().map(SecretArn::from).collect(),
            iam,
        },
        access_role_arn,
        instance_role_arn,
        ecs,
    })
}

/// deploy.toml's target as the platform's [`ServiceSpec`], with the secret and role ARNs the
/// preflight read (never built from names).
pub fn service_spec(
    t: &ResolvedTarget,
    on: OnPlatform,
    image: String,
    pre: &ContainerPreflight,
) -> ServiceSpec {
    let a = &t.apprunner;
    let secrets = pre
        .base
        .secrets
        .iter()
        .map(|s| (s.env_var.clone(), s.arn.clone()))
        .collect();
    let mut spec = ServiceSpec {
        name: a.service.clone(),
        image,
        access_role_arn: pre.access_role_arn.clone(),
        instance_role_arn: pre.instance_role_arn.clone(),
        port: a.port,
        env: t.env.clone(),
        secrets,
        cpu: a.cpu.clone(),
        memory: a.memory.clone(),
        health_path: a.health_path.clone(),
        min_size: a.min_size,
        max_size: a.max_size,
        vpc: a
            .vpc_connector
            .as_ref()
            .map(|v| deploykit_apprunner::VpcEgress {
                subnets: v.subnets.clone(),
                security_groups: v.security_groups.clone(),
            }),
    };
    if on == OnPlatform::EcsExpress {
        let e = &t.ecs;
        spec.name = e.service.clone();
        spec.access_role_arn = None;
        spec.instance_role_arn = pre.ecs.as_ref().and_then(|(_, task)| task.clone());
        spec.port = e.port;
        spec.cpu = e.cpu.clone();
        spec.memory = e.memory.clone();
        spec.health_path = e.health_path.clone();
        spec.min_size = e.min_tasks;
        spec.max_size = e.max_tasks;
    }
    spec
}

/// The platform client for `on`.
pub fn platform(s: &Session, on: OnPlatform, pre: &ContainerPreflight) -> ContainerPlatform {
    match (on, &pre.ecs) {
        (OnPlatform::EcsExpress, Some((roles, _))) => ContainerPlatform::EcsExpress(EcsExpress {
            client: aws_sdk_ecs::Client::new(&s.sdk),
            roles: roles.clone(),
            cluster: None,
        }),
        _ => ContainerPlatform::AppRunner(aws_sdk_apprunner::Client::new(&s.sdk)),
    }
}

/// The git revision to tag the image with: only for a clean checkout, since with IMMUTABLE
/// tags a dirty build under the commit's tag would block the clean one (and mislabel it).
pub fn git_tag(app: &std::path::Path) -> Option<String> {
    GitInfo::probe(app)
        .filter(|g| !g.dirty)
        .map(|g| g.short(12))
}

/// The outcome of planning (see [`crate::eb::EbPlanning`]).
#[derive(Debug)]
pub enum ContainerPlanning {
    Planned(Box<ContainerPlanned>),
    /// A dry run on the local target lacks secrets or roles that a real run makes first.
    NeedsLocalResources(Pending),
}

/// A planned deploy: nothing built, pushed or changed yet.
#[derive(Debug)]
pub struct ContainerPlanned {
    pub on: OnPlatform,
    pub preflight: ContainerPreflight,
    pub context: ContextPlan,
    /// Whether the Dockerfile was written into the app by this plan (`write_dockerfile`).
    pub wrote_dockerfile: Option<std::path::PathBuf>,
    pub content_hash: String,
    pub image_platform: String,
    pub tag: String,
    pub git_sha: Option<String>,
    /// `<registry>/<repository>:<tag>`.
    pub image: String,
    pub spec: ServiceSpec,
    pub plan: Plan,
    platform: ContainerPlatform,
    ecr: aws_sdk_ecr::Client,
    auth: deploykit_ecr::AuthCache,
    resolve: Option<SocketAddr>,
    started: Instant,
}

/// A finished deploy.
#[derive(Debug, serde::Serialize)]
pub struct ContainerDeployed {
    pub caller: deploykit_aws::CallerIdentity,
    pub plan: Plan,
    pub image_id: String,
    pub content_hash: String,
    pub image: String,
    pub digest: String,
    pub layers_pushed: usize,
    pub layers_present: usize,
    pub outcome: DeployOutcome,
    #[serde(rename = "total_ms", serialize_with = "crate::millis")]
    pub total_time: Duration,
}

/// Plans a deploy: makes what a fresh local target lacks (not in a dry run), runs the
/// preflight, selects the image context and computes its tag, and plans the service change.
pub async fn plan_deploy(
    s: &Session,
    on: OnPlatform,
    req: &ContainerDeployRequest,
    r: &dyn Reporter,
) -> Result<ContainerPlanning> {
    let started = Instant::now();
    let t = &s.target;
    crate::journal::report_left_over(&s.root, &t.name, on.service_name(t), r);
    let a = &t.apprunner;
    let app = &t.app.path;
    // The build context is judged (secrets, special files, the Dockerfile) before any AWS call:
    // a bad app tree is refused without the network.
    let wrote_dockerfile = if req.write_dockerfile && !app.join("Dockerfile").exists() {
        Some(deploykit_image::write_seed_dockerfile(app)?)
    } else {
        None
    };
    let context =
        deploykit_image::plan_context(app, "Dockerfile", deploykit_image::SEED_DOCKERFILE)?;
    let content_hash = deploykit_image::context_hash(&context)?;
    let pending = prepare_local(t, &s.sdk, s.local.as_ref(), on.route(), req.dry_run, r).await?;
    if !pending.is_empty() {
        return Ok(ContainerPlanning::NeedsLocalResources(pending));
    }
    let pre = preflight(s, on).await?;
    let image_platform = if a.platform.is_empty() {
        deploykit_image::DEFAULT_PLATFORM.to_string()
    } else {
        a.platform.clone()
    };
    let git_sha = git_tag(app);
    let tag = deploykit_image::image_tag(
        &content_hash,
        &image_platform,
        &a.build_args,
        git_sha.as_deref(),
    );
    let ecr = aws_sdk_ecr::Client::new(&s.sdk);
    let auth = deploykit_ecr::AuthCache::new(ecr.clone());
    let registry = auth.get().await?;
    let image = format!("{}/{}:{tag}", registry.host(), a.repository);
    let platform = platform(s, on, &pre);
    let spec = service_spec(t, on, image.clone(), &pre);
    // A service still busy with an interrupted deploy's operation is waited for (bounded), not
    // refused; a dry run says what it finds.
    let plan = if req.dry_run {
        platform.plan(&spec, req.recreate).await?
    } else {
        let wait = wait_options(t, on, req);
        platform
            .plan_when_idle(&spec, req.recreate, wait, r)
            .await?
    };
    Ok(ContainerPlanning::Planned(Box::new(ContainerPlanned {
        on,
        preflight: pre,
        context,
        wrote_dockerfile,
        content_hash,
        image_platform,
        tag,
        git_sha,
        image,
        spec,
        plan,
        platform,
        ecr,
        auth,
        resolve: s.resolve,
        started,
    })))
}

/// How long a container deploy waits for the platform, and how often it looks.
fn wait_options(
    t: &deploykit_config::ResolvedTarget,
    on: OnPlatform,
    req: &ContainerDeployRequest,
) -> WaitOptions {
    let default_timeout = match on {
        OnPlatform::AppRunner => t.apprunner.timeout,
        OnPlatform::EcsExpress => t.ecs.timeout,
    };
    WaitOptions {
        poll: req
            .poll
            .unwrap_or(Duration::from_secs(5))
            .max(Duration::from_secs(1)),
        timeout: req.timeout.unwrap_or(default_timeout),
    }
}

/// Applies a planned deploy: takes the deploy locks of the service ([`ServiceLocks`]: refused
/// at once when another deploy or rollback holds them), builds the image through the Docker Engine, records the deploy in
/// the in-flight journal, ensures the ECR repository, pushes (only missing layers), deploys and
/// waits (bounded), rolling back as the platform does. The journal entry is removed when this
/// returns `Ok` or an error that already rolled back; the locks are released when this
/// returns (the local one also when it is dropped).
pub async fn apply_deploy(
    s: &Session,
    planned: ContainerPlanned,
    req: &ContainerDeployRequest,
    r: &dyn Reporter,
) -> Result<ContainerDeployed> {
    let name = planned.spec.name.clone();
    let what = planned.on.word();
    let t = &s.target;
    let waits = req.timeout.unwrap_or(match planned.on {
        OnPlatform::AppRunner => t.apprunner.timeout,
        OnPlatform::EcsExpress => t.ecs.timeout,
    }) * 3;
    let locks = ServiceLocks::acquire(
        &s.root,
        &t.name,
        &planned.platform,
        &name,
        planned.plan.existing_arn.as_deref(),
        &format!("deploy {what} {name}"),
        &planned.image,
        crate::remote_lock::ttl_for(waits),
        req.force_unlock,
        r,
    )
    .await?;
    let mut planned = planned;
    planned.plan.create_tags = locks.create_tags();
    let previous = match &planned.plan.action {
        deploykit_apprunner::Action::Update { from_image } => from_image.clone(),
        _ => None,
    };
    let entry = crate::journal::InFlight::new(
        t.name.as_str(),
        what,
        name.as_str(),
        planned.image.as_str(),
        previous,
    );
    let applied = build_push_deploy(s, planned, req, &entry, r).await;
    locks.release(r).await;
    crate::eb::finish_journal(&s.root, &s.target.name, &name, &applied, r);
    applied
}

/// [`apply_deploy`] under the lock: the journal entry is written after the local build,
/// before the first AWS change (the ECR repository).
async fn build_push_deploy(
    s: &Session,
    planned: ContainerPlanned,
    req: &ContainerDeployRequest,
    entry: &crate::journal::InFlight,
    r: &dyn Reporter,
) -> Result<ContainerDeployed> {
    let t = &s.target;
    let a = &t.apprunner;
    if t.local {
        // A machine that cannot pull builds on the local stand-in; make it on first use.
        for image in a.build_args.values() {
            if deploykit_local::base_image::is_local_base(image) {
                deploykit_local::base_image::ensure_python_base(
                    &deploykit_local::Paths::for_project(&s.root),
                    false,
                    r,
                )?;
            }
        }
    }
    let docker = deploykit_image::connect().await?;
    let input = deploykit_image::BuildInput {
        tags: vec![format!("{}:{}", a.repository, planned.tag)],
        build_args: a.build_args.clone(),
        labels: BTreeMap::new(),
        content_hash: planned.content_hash.clone(),
        git_sha: planned.git_sha.clone(),
        platform: planned.image_platform.clone(),
        no_cache: false,
        timeout: deploykit_image::DEFAULT_BUILD_TIMEOUT,
    };
    let built = deploykit_image::build(&docker, &planned.context, &input, r).await?;
    crate::journal::write(&s.root, entry)?;
    let repo = deploykit_ecr::RepositorySpec {
        name: a.repository.clone(),
        scan_on_push: a.scan_on_push,
        tag_mutability: match a.tag_mutability {
            TagMutability::Immutable => deploykit_ecr::TagMutability::Immutable,
            TagMutability::Mutable => deploykit_ecr::TagMutability::Mutable,
        },
        keep_images: (a.keep_images > 0).then_some(a.keep_images),
    };
    deploykit_ecr::ensure_repository(&planned.ecr, &repo, r).await?;
    let mut tags = vec![planned.tag.clone()];
    tags.extend(planned.git_sha.clone());
    let registry = planned.auth.get().await?;
    let pushed = deploykit_ecr::push(
        &docker,
        &registry,
        &built.id,
        &a.repository,
        &tags,
        Duration::from_secs(30 * 60),
        r,
    )
    .await?;
    let wait = wait_options(t, planned.on, req);
    let probe = Probe {
        resolve: planned.resolve,
    };
    let outcome = planned
        .platform
        .deploy(&planned.plan, &planned.spec, wait, &probe, r)
        .await?;
    Ok(ContainerDeployed {
        caller: planned.preflight.base.caller,
        plan: planned.plan,
        image_id: built.id,
        content_hash: planned.content_hash,
        image: pushed.image,
        digest: pushed.digest,
        layers_pushed: pushed.layers_pushed,
        layers_present: pushed.layers_present,
        outcome,
        total_time: planned.started.elapsed(),
    })
}

/// The locks a change to a container service runs under: the local file lock
/// ([`crate::lock`]) and the remote tags on the service ([`crate::remote_lock`]), on App Runner
/// and ECS Express alike. Deploys and rollbacks take them the same way.
#[derive(Debug)]
pub struct ServiceLocks {
    _local: crate::lock::DeployLock,
    remote: RemoteHolder,
    platform: ContainerPlatform,
    name: String,
}

impl ServiceLocks {
    /// Takes the local lock, then the remote one (`existing_arn`: `None` when the service does
    /// not exist yet; [`Self::create_tags`] then go with the create). `what` is the command
    /// (`deploy ecs web`), `image` what it runs; `force_unlock` breaks a local lock whose
    /// holder no longer runs and a fresh remote lock of another machine, with a warning.
    /// Refused at once ([`crate::Error::Locked`], [`crate::Error::LockedRemote`]) otherwise.
    #[allow(clippy::too_many_arguments)]
    pub async fn acquire(
        root: &Path,
        target: &str,
        platform: &ContainerPlatform,
        name: &str,
        existing_arn: Option<&str>,
        what: &str,
        image: &str,
        ttl: Duration,
        force_unlock: bool,
        r: &dyn Reporter,
    ) -> Result<ServiceLocks> {
        let local = crate::lock::acquire(root, target, name, what, force_unlock, r)?;
        let remote = crate::remote_lock::acquire_container(
            platform,
            name,
            existing_arn,
            target,
            &format!("{what} {image}"),
            ttl,
            force_unlock,
            r,
        )
        .await?;
        Ok(ServiceLocks {
            _local: local,
            remote,
            platform: platform.clone(),
            name: name.to_string(),
        })
    }

    /// The remote lock's tags, for CreateService / CreateExpressGatewayService.
    pub fn create_tags(&self) -> BTreeMap<String, String> {
        self.remote.tags()
    }

    /// The remote lock taken.
    pub fn remote(&self) -> &RemoteHolder {
        &self.remote
    }

    /// Removes the remote lock (when still ours; a warning when it cannot), then the local one.
    pub async fn release(self, r: &dyn Reporter) {
        crate::remote_lock::release_container(&self.platform, &self.name, &self.remote, r).await;
    }
}

/// Applies a planned rollback (`plan` and `spec` run the earlier image; the caller picks it,
/// e.g. with `deploykit_apprunner::rollback::plan_rollback`) under the same locks as a deploy
/// ([`ServiceLocks`]): refused at once while another deploy or rollback holds them, with the
/// same force-unlock; released however it ends.
#[allow(clippy::too_many_arguments)]
pub async fn apply_rollback(
    root: &Path,
    target: &str,
    on: OnPlatform,
    platform: &ContainerPlatform,
    plan: &Plan,
    spec: &ServiceSpec,
    wait: WaitOptions,
    probe: &Probe,
    force_unlock: bool,
    r: &dyn Reporter,
) -> Result<DeployOutcome> {
    let name = &spec.name;
    let locks = ServiceLocks::acquire(
        root,
        target,
        platform,
        name,
        plan.existing_arn.as_deref(),
        &format!("rollback {} {name}", on.word()),
        &spec.image,
        crate::remote_lock::ttl_for(wait.timeout * 3),
        force_unlock,
        r,
    )
    .await?;
    let outcome = platform.deploy(plan, spec, wait, probe, r).await;
    locks.release(r).await;
    Ok(outcome?)
}
