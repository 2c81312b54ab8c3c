//! Route A, Elastic Beanstalk: preflight -> bundle -> plan (and the database snapshot
//! decision) -> apply, as two calls so a front end can show the plan before anything changes.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use deploykit_aws::CallerIdentity;
use deploykit_bundle::BundleSummary;
use deploykit_eb::{BundleRef, DeployOptions, DeployOutcome, Eb, EbError, EbTarget, Plan};
use deploykit_rds::PreDeploySnapshot;
use deploykit_report::Reporter;

use crate::db::PreDeployDb;
use crate::journal::{self, InFlight};
use crate::lock;
use crate::mapping::{Route, eb_target};
use crate::preflight::{IamKind, Preflight, SecretArn, require_iam, resolve_secrets};
use crate::prepare::{Pending, prepare_local};
use crate::source::{GitInfo, source_tree};
use crate::{Result, Session};

/// An Elastic Beanstalk session: the target's EB input and client.
#[derive(Debug)]
pub struct EbSession {
    pub session: Session,
    pub target: EbTarget,
    pub eb: Eb,
}

impl EbSession {
    pub fn new(session: Session) -> EbSession {
        let t = &session.target;
        EbSession {
            target: eb_target(t, session.resolve),
            eb: Eb::new(&session.sdk, t.local || t.endpoint_url.is_some()),
            session,
        }
    }

    /// Overrides the deploy wait (and the wait for a busy environment).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.target.timeouts.deploy = timeout;
        self.target.timeouts.rollback = timeout;
        self.target.timeouts.busy = timeout;
    }

    /// Overrides the time between status polls.
    pub fn set_poll(&mut self, poll: Duration) {
        self.target.timeouts.poll = poll;
    }
}

/// What `deploy eb` is asked to do beyond deploy.toml.
#[derive(Debug, Clone, Default)]
pub struct EbDeployRequest {
    /// On failure, leave the environment as it is instead of redeploying the previous version.
    pub no_rollback: bool,
    /// Refuse (instead of waiting) when the environment is already updating.
    pub no_wait_busy: bool,
    /// Ship exactly the files tracked at HEAD.
    pub from_git: bool,
    /// Ship exactly the files in the git index.
    pub staged: bool,
    /// Paths that may ship although a secret rule matches them.
    pub allow: Vec<PathBuf>,
    /// Turn CRLF into LF in hook scripts and the Procfile instead of refusing them.
    pub fix_line_endings: bool,
    /// Plan only: on the local target, do not make missing secrets or roles either.
    pub dry_run: bool,
    /// Break a deploy lock whose holder no longer runs (see [`crate::lock`]), with a warning.
    pub force_unlock: bool,
}

/// The outcome of planning: either the plan, or (a dry run on a fresh local target) what a
/// real run would make first.
#[derive(Debug)]
pub enum EbPlanning {
    Planned(Box<EbPlanned>),
    /// A dry run on the local target lacks secrets or roles that a real run makes first.
    NeedsLocalResources(Pending),
}

/// A planned deploy: everything checked and computed, nothing changed yet.
#[derive(Debug)]
pub struct EbPlanned {
    pub preflight: Preflight,
    pub plan: Plan,
    pub bundle: BundleSummary,
    pub bundle_ref: BundleRef,
    pub db: PreDeployDb,
    pub bundle_time: Duration,
    started: Instant,
}

/// A finished deploy.
#[derive(Debug, serde::Serialize)]
pub struct EbDeployed {
    pub caller: CallerIdentity,
    pub secrets: Vec<SecretArn>,
    pub iam: Vec<crate::preflight::RoleRef>,
    pub plan: Plan,
    pub db_snapshot: PreDeploySnapshot,
    pub outcome: DeployOutcome,
    /// The Route 53 record of `[eb] domain` (with `[eb] hosted_zone`).
    pub dns: Option<deploykit_dns::EnvRecordOutcome>,
    pub bundle: BundleSummary,
    #[serde(rename = "bundle_ms", serialize_with = "crate::millis")]
    pub bundle_time: Duration,
    #[serde(rename = "total_ms", serialize_with = "crate::millis")]
    pub total_time: Duration,
}

/// Before any change (dry run too): resolve `[secrets]` to their real ARNs into the EB input,
/// and check `[eb] service_role` and `instance_profile` exist.
pub async fn preflight(s: &mut EbSession) -> Result<Preflight> {
    let t = &s.session.target;
    let caller = s.session.caller().await?;
    let resolved = resolve_secrets(t, &s.session.sdk).await?;
    s.target.secrets = resolved
        .iter()
        .map(|r| (r.env_var.clone(), r.arn.clone()))
        .collect();
    let mut wanted = Vec::new();
    if let Some(role) = &t.eb.service_role {
        wanted.push(("[eb] service_role", IamKind::Role, role.clone()));
    }
    if let Some(p) = &t.eb.instance_profile {
        wanted.push(("[eb] instance_profile", IamKind::InstanceProfile, p.clone()));
    }
    let iam = require_iam(t, &s.session.sdk, &wanted).await?;
    // `[eb] load_balanced`: the HTTPS listener's certificate (refused by the plan without one).
    if let Some(lb) = s.target.load_balancer.clone() {
        let cert = crate::eb_alb::listener_certificate(&s.session, &lb).await?;
        if let Some(l) = s.target.load_balancer.as_mut() {
            l.certificate_arn = cert;
        }
    }
    Ok(Preflight {
        caller,
        secrets: resolved.iter().map(SecretArn::from).collect(),
        iam,
    })
}

/// Plans a deploy: on the local target makes what a fresh clone lacks (not in a dry run),
/// checks the caller, secrets and roles, builds the bundle, plans the EB changes and decides
/// on the database snapshot. Changes nothing on AWS but the local target's missing pieces.
pub async fn plan_deploy(
    s: &mut EbSession,
    req: &EbDeployRequest,
    r: &dyn Reporter,
) -> Result<EbPlanning> {
    let started = Instant::now();
    let t = s.session.target.clone();
    journal::report_left_over(&s.session.root, &t.name, &s.target.environment, r);
    // The app tree is judged (secrets, modes, line endings) before any AWS call: a bad tree is
    // refused without the network.
    let bundle_started = Instant::now();
    let out_dir = s.session.root.join("target/deploykit/bundles");
    let (bundle, git) = build_bundle(&t, &out_dir, req, r)?;
    let bundle_time = bundle_started.elapsed();
    let pending = prepare_local(
        &t,
        &s.session.sdk,
        s.session.local.as_ref(),
        Route::Eb,
        req.dry_run,
        r,
    )
    .await?;
    if !pending.is_empty() {
        return Ok(EbPlanning::NeedsLocalResources(pending));
    }
    let preflight = preflight(s).await?;
    // Limits before any change.
    deploykit_eb::check_env_limits(&s.target.env, &s.target.secrets)
        .map_err(|problems| EbError::EnvLimits { problems })?;

    let bundle_ref = BundleRef {
        path: bundle.path.clone(),
        sha256: bundle.sha256.clone(),
        label: bundle.label.clone(),
        git_sha: git.as_ref().map(|g| g.short(7)),
        git_dirty: git.as_ref().is_some_and(|g| g.dirty),
    };
    let (_state, plan) = s.eb.prepare(&s.target, &bundle_ref).await?;
    // The environment update runs the app's migrations: snapshot the database first if asked.
    let db = PreDeployDb::plan(&t, &s.session.sdk, plan.changes_environment(), r).await?;
    Ok(EbPlanning::Planned(Box::new(EbPlanned {
        preflight,
        plan,
        bundle,
        bundle_ref,
        db,
        bundle_time,
        started,
    })))
}

/// Applies a planned deploy: takes the deploy lock of the environment (refused at once when
/// another deploy holds it), records the deploy in the in-flight journal, then the database
/// snapshot (if planned) and the EB changes, waiting for the environment and rolling back on
/// failure unless asked not to. The journal entry is removed when this returns `Ok` or an
/// error that already rolled back; the lock is released when this returns or is dropped.
pub async fn apply_deploy(
    s: &EbSession,
    planned: EbPlanned,
    req: &EbDeployRequest,
    r: &dyn Reporter,
) -> Result<EbDeployed> {
    let EbPlanned {
        preflight,
        plan,
        bundle,
        bundle_ref,
        db,
        bundle_time,
        started,
    } = planned;
    let (root, target, env) = (
        &s.session.root,
        &s.session.target.name,
        &s.target.environment,
    );
    let _lock = lock::acquire(
        root,
        target,
        env,
        &format!("deploy eb {env}"),
        req.force_unlock,
        r,
    )?;
    // The remote half: tags on the environment, so another machine cannot deploy meanwhile.
    let timeouts = &s.target.timeouts;
    let held = crate::remote_lock::acquire_eb(
        &s.eb,
        &s.target,
        target,
        &format!("deploy eb {env} {}", plan.version.label()),
        crate::remote_lock::ttl_for(timeouts.busy + timeouts.deploy + timeouts.rollback),
        req.force_unlock,
        r,
    )
    .await?;
    let mut eb_target = s.target.clone();
    eb_target.create_tags = held.tags();
    journal::write(
        root,
        &InFlight::new(
            target.as_str(),
            "eb",
            env.as_str(),
            plan.version.label(),
            plan.previous_version.clone(),
        )
        .with_restore(&plan.undo),
    )?;
    let applied = async {
        let db_snapshot = db.take(&s.session.target, r).await?;
        let opts = DeployOptions {
            rollback: !req.no_rollback,
            wait_busy: !req.no_wait_busy,
        };
        let outcome =
            s.eb.apply(&eb_target, &bundle_ref, plan.clone(), &opts, r)
                .await?;
        Ok((db_snapshot, outcome))
    }
    .await;
    crate::remote_lock::release_eb(&s.eb, &s.target, &held, r).await;
    finish_journal(root, target, env, &applied, r);
    let (db_snapshot, outcome) = applied?;
    // The domain follows the environment: alias to the load balancer, or CNAME.
    let dns = crate::eb_alb::domain_record(s, &outcome, r).await?;
    Ok(EbDeployed {
        caller: preflight.caller,
        secrets: preflight.secrets,
        iam: preflight.iam,
        plan,
        db_snapshot,
        outcome,
        dns,
        bundle,
        bundle_time,
        total_time: started.elapsed(),
    })
}

/// Removes the journal entry when the apply ended in a known state: `Ok`, or an error that
/// already rolled back. Any other error leaves it for the next run to report. A journal that
/// cannot be removed is a warning: the deploy itself is done.
pub(crate) fn finish_journal<T>(
    root: &std::path::Path,
    target: &str,
    name: &str,
    applied: &Result<T>,
    r: &dyn Reporter,
) {
    use deploykit_report::{Category, Diagnostic, Event};
    let known = match applied {
        Ok(_) => true,
        Err(e) => e.category() == Category::RolledBack,
    };
    if known && let Err(e) = journal::remove(root, target, name) {
        r.report(Event::warn(e.to_string()));
    }
}

/// Builds the bundle into the project's `target/deploykit/bundles/` (from a git export with
/// `from_git`/`staged`).
fn build_bundle(
    t: &deploykit_config::ResolvedTarget,
    out_dir: &std::path::Path,
    req: &EbDeployRequest,
    r: &dyn Reporter,
) -> Result<(BundleSummary, Option<GitInfo>)> {
    std::fs::create_dir_all(out_dir)
        .map_err(|e| crate::Error::io(format!("creating {}", out_dir.display()), e))?;
    let git = GitInfo::probe(&t.app.path);
    let (export, source) = source_tree(
        &t.app.path,
        git.as_ref(),
        req.from_git || req.staged,
        req.staged,
    )?;
    let app_dir = export
        .as_ref()
        .map_or_else(|| t.app.path.clone(), |d| d.path().to_path_buf());
    let mut opts = deploykit_bundle::BundleOptions::new(app_dir, out_dir);
    opts.label_prefix = t.app.name.clone();
    opts.allow = req.allow.clone();
    opts.fix_line_endings = req.fix_line_endings;
    opts.source = source;
    opts.git_sha = git.as_ref().map(|g| g.sha.clone());
    opts.git_dirty = git.as_ref().is_some_and(|g| g.dirty) && export.is_none();
    let summary = deploykit_bundle::build(&opts, r)?;
    Ok((summary, git))
}
