//! The AWS side: describe, plan with the pure planners, then call RDS; every wait bounded.

use std::time::{Duration, Instant};

use aws_sdk_rds::Client;
use aws_sdk_rds::types::{DbInstance, DbSnapshot, Tag};
use deploykit_aws::ErrorKind;
use deploykit_report::{Event, Reporter, StepTimer};
use deploykit_secrets::{PutOutcome, Secrets, parse_user_password};
use secrecy::SecretString;
use serde::Serialize;
use time::OffsetDateTime;

use crate::security_group::{SecurityGroupOutcome, SecurityGroupReport};
use crate::snapshot::{PruneSelection, SnapshotInfo, SnapshotKind, select_prune, snapshot_name};
use crate::spec::{Change, DbSpec, Drift, InstanceState, Plan, STORAGE_TYPE, drift, plan_instance};
use crate::{DbTrust, DbUrl, RdsError, TAG_GIT_SHA, TAG_MANAGED_BY, TAG_REASON};

/// Bounds on every wait: how long at most, how often to ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitPolicy {
    pub timeout: Duration,
    pub poll: Duration,
}

impl Default for WaitPolicy {
    /// 40 minutes (an RDS create takes 5-15), polling every 15 seconds.
    fn default() -> Self {
        WaitPolicy {
            timeout: Duration::from_secs(40 * 60),
            poll: Duration::from_secs(15),
        }
    }
}

/// What `ensure` did.
#[derive(Debug, Clone, Serialize)]
pub struct EnsureOutcome {
    /// The plan that was executed.
    pub plan: Plan,
    /// The instance afterwards.
    pub state: InstanceState,
    /// Differences only a person can fix.
    pub manual: Vec<Drift>,
    /// The database's security group; `None` without `app_security_group` (none is managed,
    /// the instance uses the VPC's default group: [`DEFAULT_GROUP_NOTE`]).
    pub security_group: Option<SecurityGroupOutcome>,
}

impl EnsureOutcome {
    /// Whether the instance or its security group was created or changed.
    pub fn changed(&self) -> bool {
        matches!(self.plan, Plan::Create { .. } | Plan::Modify { .. })
            || self.security_group.as_ref().is_some_and(|g| g.changed())
    }
}

/// Said by `ensure` (as an event) and `status` (as unverified) without `app_security_group`.
pub const DEFAULT_GROUP_NOTE: &str = "no [database] app_security_group is configured, so deploykit manages no database security group: the instance keeps the groups it has (a new instance gets the VPC's default security group, which admits everything in that group); to allow 5432 from the app only, set app_security_group = \"sg-...\" (the group of the EB instances or of the App Runner VPC connector) and ensure the database again (that creates the group and attaches it)";

/// `spec` with the managed database group among its `vpc_security_group_ids`.
fn with_group(spec: &DbSpec, group: Option<&str>) -> DbSpec {
    let mut s = spec.clone();
    if let Some(g) = group
        && !s.vpc_security_group_ids.iter().any(|x| x == g)
    {
        s.vpc_security_group_ids.push(g.to_string());
    }
    s
}

/// What `status` found.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub state: InstanceState,
    /// Every setting that differs from the recommendations.
    pub drift: Vec<Drift>,
    /// What could not be checked, said plainly.
    pub unverified: Vec<String>,
    /// The database's security group and its planned ingress changes; `None` without
    /// `app_security_group`.
    pub security_group: Option<SecurityGroupReport>,
}

pub(crate) enum Poll<T> {
    Done(T),
    Pending(String),
    Failed(String),
}

/// RDS (and the Secrets Manager secrets it manages) for one account and region.
#[derive(Debug, Clone)]
pub struct Rds {
    pub(crate) rds: Client,
    pub(crate) ec2: crate::ec2::Ec2,
    pub(crate) secrets: Secrets,
    pub(crate) wait: WaitPolicy,
    pub(crate) trust: DbTrust,
}

impl Rds {
    /// Connections trust the shipped Amazon RDS CA bundle; a local target sets its own CA
    /// with [`Rds::with_trust`].
    pub fn new(config: &aws_types::SdkConfig, wait: WaitPolicy) -> Self {
        Rds {
            rds: Client::new(config),
            ec2: crate::ec2::Ec2::new(config),
            secrets: Secrets::new(config),
            wait,
            trust: DbTrust::rds(),
        }
    }

    /// The CA this target's databases are verified against (the target decides: the RDS
    /// bundle, or the local cloud's CA).
    pub fn with_trust(mut self, trust: DbTrust) -> Self {
        self.trust = trust;
        self
    }

    pub fn trust(&self) -> &DbTrust {
        &self.trust
    }

    pub fn wait_policy(&self) -> WaitPolicy {
        self.wait
    }

    /// The instance, or `None` when it does not exist.
    pub async fn describe(&self, identifier: &str) -> Result<Option<InstanceState>, RdsError> {
        match self
            .rds
            .describe_db_instances()
            .db_instance_identifier(identifier)
            .send()
            .await
        {
            Ok(out) => Ok(out.db_instances().first().map(instance_state)),
            Err(e) => {
                let c = deploykit_aws::classify(&e);
                if c.kind == ErrorKind::NotFound {
                    Ok(None)
                } else {
                    Err(RdsError::Aws {
                        operation: "DescribeDBInstances",
                        resource: identifier.into(),
                        error: c,
                    })
                }
            }
        }
    }

    async fn require(&self, identifier: &str) -> Result<InstanceState, RdsError> {
        self.describe(identifier)
            .await?
            .ok_or_else(|| RdsError::InstanceNotFound {
                identifier: identifier.into(),
            })
    }

    /// Polls `check` until it is done, failed, or `self.wait.timeout` passes, reporting
    /// `Event::Waiting` on every poll.
    pub(crate) async fn wait_for<T, F, Fut>(
        &self,
        r: &dyn Reporter,
        step: &str,
        what: &str,
        mut check: F,
    ) -> Result<T, RdsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Poll<T>, RdsError>>,
    {
        let started = Instant::now();
        loop {
            let last = match check().await? {
                Poll::Done(t) => return Ok(t),
                Poll::Failed(status) => {
                    return Err(RdsError::Failed {
                        what: what.into(),
                        resource: what.into(),
                        status,
                    });
                }
                Poll::Pending(status) => status,
            };
            let waited = started.elapsed();
            if waited >= self.wait.timeout {
                return Err(RdsError::Timeout {
                    what: what.into(),
                    last,
                    waited,
                    timeout: self.wait.timeout,
                });
            }
            r.report(Event::Waiting {
                step: step.into(),
                for_what: format!("{what} (now `{last}`)"),
                waited,
                timeout: self.wait.timeout,
            });
            let left = self.wait.timeout.saturating_sub(waited);
            tokio::time::sleep(self.wait.poll.min(left).max(Duration::from_millis(10))).await;
        }
    }

    /// Waits until the instance is `available`.
    pub async fn wait_available(
        &self,
        identifier: &str,
        r: &dyn Reporter,
        step: &str,
    ) -> Result<InstanceState, RdsError> {
        let what = format!("instance {identifier} to be available");
        self.wait_for(r, step, &what, || async {
            Ok(match self.describe(identifier).await? {
                None => Poll::Pending("not visible yet".into()),
                Some(s) if s.is_available() => Poll::Done(s),
                Some(s)
                    if matches!(
                        s.status.as_str(),
                        "failed"
                            | "incompatible-restore"
                            | "incompatible-parameters"
                            | "incompatible-network"
                            | "inaccessible-encryption-credentials"
                            | "storage-full"
                    ) =>
                {
                    Poll::Failed(s.status)
                }
                Some(s) => Poll::Pending(s.status),
            })
        })
        .await
    }

    /// Ensures the database's security group (with `app_security_group`), then creates the
    /// instance when missing (with that group attached) or modifies drifted settings; never
    /// recreates. Running it twice changes nothing the second time.
    pub async fn ensure(&self, spec: &DbSpec, r: &dyn Reporter) -> Result<EnsureOutcome, RdsError> {
        spec.validate()?;
        let sg = self.ensure_security_group(spec, r).await?;
        if sg.is_none() {
            r.report(Event::info(DEFAULT_GROUP_NOTE));
        }
        let spec = &with_group(spec, sg.as_ref().map(|g| g.group_id.as_str()));
        let id = spec.identifier.as_str();
        let mut current = self.describe(id).await?;
        let mut plan = plan_instance(current.as_ref(), spec);
        if let Plan::WaitFor { status } = &plan {
            r.report(Event::info(format!(
                "instance {id} is `{status}`; waiting for it to settle before comparing settings"
            )));
            current = Some(self.wait_available(id, r, "db-wait").await?);
            plan = plan_instance(current.as_ref(), spec);
        }
        match &plan {
            Plan::Blocked { status } => Err(RdsError::InvalidState {
                identifier: id.into(),
                status: status.clone(),
                reason: "so it cannot be created or modified".into(),
                fix: "wait until the deletion finishes (or fix the failure in the RDS console), then run again".into(),
            }),
            Plan::WaitFor { .. } => unreachable_wait(id),
            Plan::NoChange { manual } => {
                r.report(Event::StepSkipped { step: "db-ensure".into(), reason: format!("instance {id} already matches the spec") });
                let state = current.unwrap_or_default();
                Ok(EnsureOutcome { manual: manual.clone(), plan, state, security_group: sg })
            }
            Plan::Create { spec } => {
                let t = StepTimer::start(r, "db-create", format!("Creating RDS PostgreSQL {} instance {id} ({}, {} GB {STORAGE_TYPE}, private, encrypted)", spec.engine_version, spec.instance_class, spec.allocated_storage_gb));
                match self.create(spec).await {
                    // A retry of our own create whose first answer was lost (or a concurrent
                    // run between our describe and our create): the instance is there.
                    Err(e) if e.already_exists() => r.report(Event::info(format!(
                        "instance {id} exists already (a create whose answer was lost, or a concurrent run); adopting it"
                    ))),
                    other => other?,
                }
                let state = self.wait_available(id, r, "db-create").await?;
                t.finish(r, format!("instance {id} is available at {}", endpoint_text(&state)));
                Ok(EnsureOutcome { plan, state, manual: Vec::new(), security_group: sg })
            }
            Plan::Modify { changes, manual } => {
                let names: Vec<&str> = changes.iter().map(change_name).collect();
                let t = StepTimer::start(r, "db-modify", format!("Modifying {id}: {}", names.join(", ")));
                self.modify(id, changes).await?;
                let state = self.wait_available(id, r, "db-modify").await?;
                t.finish(r, format!("applied {} change(s) to {id}", changes.len()));
                Ok(EnsureOutcome { manual: manual.clone(), plan, state, security_group: sg })
            }
        }
    }

    async fn create(&self, spec: &DbSpec) -> Result<(), RdsError> {
        let mut req = self
            .rds
            .create_db_instance()
            .db_instance_identifier(&spec.identifier)
            .engine(crate::spec::ENGINE)
            .engine_version(&spec.engine_version)
            .db_instance_class(&spec.instance_class)
            .allocated_storage(spec.allocated_storage_gb)
            .storage_type(STORAGE_TYPE)
            .publicly_accessible(false)
            .backup_retention_period(spec.backup_retention_days)
            .auto_minor_version_upgrade(true)
            .storage_encrypted(true)
            .deletion_protection(spec.deletion_protection)
            .multi_az(spec.multi_az)
            .manage_master_user_password(true)
            .master_username(&spec.master_username)
            .db_name(&spec.db_name)
            .port(i32::from(crate::spec::PORT))
            .copy_tags_to_snapshot(true)
            .set_db_subnet_group_name(spec.subnet_group.clone())
            .set_vpc_security_group_ids(
                (!spec.vpc_security_group_ids.is_empty())
                    .then(|| spec.vpc_security_group_ids.clone()),
            );
        if let Some(max) = spec.max_allocated_storage_gb {
            req = req.max_allocated_storage(max);
        }
        for (k, v) in &spec.tags {
            req = req.tags(Tag::builder().key(k).value(v).build());
        }
        req.send()
            .await
            .map_err(|e| RdsError::aws("CreateDBInstance", &spec.identifier, &e))?;
        Ok(())
    }

    async fn modify(&self, id: &str, changes: &[Change]) -> Result<(), RdsError> {
        let mut req = self
            .rds
            .modify_db_instance()
            .db_instance_identifier(id)
            .apply_immediately(true);
        for c in changes {
            req = match c {
                Change::InstanceClass(v) => req.db_instance_class(v),
                Change::AllocatedStorage(v) => req.allocated_storage(*v),
                Change::MaxAllocatedStorage(Some(v)) => req.max_allocated_storage(*v),
                // RDS turns autoscaling off when the ceiling equals the allocated storage.
                Change::MaxAllocatedStorage(None) => req,
                Change::StorageType(v) => req.storage_type(v),
                Change::PubliclyAccessible(v) => req.publicly_accessible(*v),
                Change::BackupRetention(v) => req.backup_retention_period(*v),
                Change::AutoMinorVersionUpgrade(v) => req.auto_minor_version_upgrade(*v),
                Change::DeletionProtection(v) => req.deletion_protection(*v),
                Change::MultiAz(v) => req.multi_az(*v),
                Change::ManageMasterUserPassword => req.manage_master_user_password(true),
                Change::VpcSecurityGroups(v) => req.set_vpc_security_group_ids(Some(v.clone())),
            };
        }
        req.send()
            .await
            .map_err(|e| RdsError::aws("ModifyDBInstance", id, &e))?;
        Ok(())
    }

    /// Every setting that differs from the recommendations, plus what cannot be verified.
    pub async fn status(&self, spec: &DbSpec) -> Result<StatusReport, RdsError> {
        spec.validate()?;
        let state = self.require(&spec.identifier).await?;
        let sg = self.security_group_status(spec).await?;
        let group = sg.as_ref().and_then(|g| g.group.as_ref());
        let mut drift = drift(
            &state,
            &with_group(spec, group.map(|g| g.group_id.as_str())),
        );
        let mut unverified = Vec::new();
        match &sg {
            Some(rep) => drift.extend(rep.drift()),
            None => unverified.push(format!(
                "{DEFAULT_GROUP_NOTE}; the instance's groups now: {}",
                if state.vpc_security_group_ids.is_empty() {
                    "none reported (the VPC's default)".to_string()
                } else {
                    state.vpc_security_group_ids.join(", ")
                }
            )),
        }
        Ok(StatusReport {
            state,
            drift,
            unverified,
            security_group: sg,
        })
    }

    /// Takes a manual snapshot `<instance>-<yyyymmdd-hhmmss>[-<reason>]` tagged with the git
    /// sha and reason; with `wait`, waits (bounded) until it is `available`.
    pub async fn snapshot(
        &self,
        instance: &str,
        reason: Option<&str>,
        git_sha: Option<&str>,
        wait: bool,
        r: &dyn Reporter,
    ) -> Result<SnapshotInfo, RdsError> {
        let name = snapshot_name(instance, OffsetDateTime::now_utc(), reason)?;
        let state = self.require(instance).await?;
        if !state.is_available() {
            return Err(RdsError::InvalidState {
                identifier: instance.into(),
                status: state.status,
                reason: "and RDS only snapshots available instances".into(),
                fix: "wait for it to become available (the database status says when), then run again"
                    .into(),
            });
        }
        let t = StepTimer::start(
            r,
            "db-snapshot",
            format!("Snapshotting {instance} as {name}"),
        );
        let mut tags = vec![(TAG_MANAGED_BY, "deploykit".to_string())];
        tags.push((TAG_GIT_SHA, git_sha.unwrap_or("unknown").to_string()));
        tags.push((TAG_REASON, reason.unwrap_or("manual").to_string()));
        let mut req = self
            .rds
            .create_db_snapshot()
            .db_instance_identifier(instance)
            .db_snapshot_identifier(&name);
        for (k, v) in tags {
            req = req.tags(Tag::builder().key(k).value(v).build());
        }
        let created = match req.send().await {
            Ok(out) => out.db_snapshot().map(snapshot_info),
            Err(e) => {
                let e = RdsError::aws("CreateDBSnapshot", &name, &e);
                if !e.already_exists() {
                    return Err(e);
                }
                // The name is this run's own (it carries the time): our create, its answer lost.
                r.report(Event::info(format!(
                    "snapshot {name} exists already (a create whose answer was lost); adopting it"
                )));
                Some(self.describe_snapshot(&name).await?)
            }
        };
        let mut info = created.unwrap_or_else(|| SnapshotInfo {
            identifier: name.clone(),
            instance: instance.into(),
            kind: SnapshotKind::Manual,
            status: "creating".into(),
            created: None,
            allocated_storage_gb: state.allocated_storage_gb,
            percent_progress: None,
            arn: String::new(),
            restore_checked: None,
        });
        if wait {
            info = self.wait_snapshot(&name, r).await?;
            t.finish(r, format!("snapshot {name} is available"));
        } else {
            t.finish(r, format!("snapshot {name} started (status `{}`); the list of snapshots shows when it is available", info.status));
        }
        Ok(info)
    }

    /// Waits until a snapshot is `available`, reporting its progress.
    pub async fn wait_snapshot(
        &self,
        name: &str,
        r: &dyn Reporter,
    ) -> Result<SnapshotInfo, RdsError> {
        let what = format!("snapshot {name}");
        self.wait_for(r, "db-snapshot", &what, || async {
            let s = self.describe_snapshot(name).await?;
            if let Some(p) = s.percent_progress {
                r.report(Event::Progress {
                    step: "db-snapshot".into(),
                    done: u64::try_from(p).unwrap_or(0),
                    total: Some(100),
                    unit: deploykit_report::Unit::Items,
                });
            }
            Ok(match s.status.as_str() {
                "available" => Poll::Done(s),
                "failed" | "incompatible-restore" => Poll::Failed(s.status),
                _ => Poll::Pending(s.status),
            })
        })
        .await
    }

    pub async fn describe_snapshot(&self, name: &str) -> Result<SnapshotInfo, RdsError> {
        let out = self
            .rds
            .describe_db_snapshots()
            .db_snapshot_identifier(name)
            .send()
            .await;
        match out {
            Ok(o) => o.db_snapshots().first().map(snapshot_info).ok_or_else(|| {
                RdsError::SnapshotNotFound {
                    identifier: name.into(),
                }
            }),
            Err(e) => {
                let c = deploykit_aws::classify(&e);
                if c.kind == ErrorKind::NotFound {
                    Err(RdsError::SnapshotNotFound {
                        identifier: name.into(),
                    })
                } else {
                    Err(RdsError::Aws {
                        operation: "DescribeDBSnapshots",
                        resource: name.into(),
                        error: c,
                    })
                }
            }
        }
    }

    /// Manual and automated snapshots of `instance`, newest first.
    pub async fn snapshots(&self, instance: &str) -> Result<Vec<SnapshotInfo>, RdsError> {
        let mut all = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let out = self
                .rds
                .describe_db_snapshots()
                .db_instance_identifier(instance)
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| RdsError::aws("DescribeDBSnapshots", instance, &e))?;
            all.extend(out.db_snapshots().iter().map(snapshot_info));
            match out.marker() {
                Some(m) if !m.is_empty() => marker = Some(m.to_string()),
                _ => break,
            }
        }
        all.sort_by_key(|s| std::cmp::Reverse(s.created));
        Ok(all)
    }

    /// Deletes manual snapshots beyond the newest `keep` (and older than `older_than`). Never
    /// automated ones: those are selected out by [`select_prune`] and double-checked here.
    pub async fn prune(
        &self,
        instance: &str,
        keep: usize,
        older_than: Option<Duration>,
        dry_run: bool,
        r: &dyn Reporter,
    ) -> Result<PruneSelection, RdsError> {
        let all = self.snapshots(instance).await?;
        let sel = select_prune(&all, instance, keep, older_than, OffsetDateTime::now_utc());
        if sel.delete.is_empty() {
            r.report(Event::StepSkipped {
                step: "db-prune".into(),
                reason: format!(
                    "no manual snapshot of {instance} beyond the newest {keep} matches"
                ),
            });
            return Ok(sel);
        }
        if dry_run {
            return Ok(sel);
        }
        let t = StepTimer::start(
            r,
            "db-prune",
            format!(
                "Deleting {} manual snapshot(s) of {instance}",
                sel.delete.len()
            ),
        );
        for (i, name) in sel.delete.iter().enumerate() {
            let manual = all
                .iter()
                .any(|s| &s.identifier == name && s.kind == SnapshotKind::Manual);
            if !manual {
                continue;
            }
            self.rds
                .delete_db_snapshot()
                .db_snapshot_identifier(name)
                .send()
                .await
                .map_err(|e| RdsError::aws("DeleteDBSnapshot", name, &e))?;
            r.report(Event::Progress {
                step: "db-prune".into(),
                done: i as u64 + 1,
                total: Some(sel.delete.len() as u64),
                unit: deploykit_report::Unit::Items,
            });
        }
        t.finish(
            r,
            format!(
                "deleted {}, kept {} manual; automated snapshots untouched",
                sel.delete.len(),
                sel.keep.len()
            ),
        );
        Ok(sel)
    }

    /// The connection URL from the instance's endpoint and its RDS-managed master secret.
    pub async fn url(&self, instance: &str) -> Result<DbUrl, RdsError> {
        let state = self.require(instance).await?;
        self.url_for(&state).await
    }

    pub(crate) async fn url_for(&self, state: &InstanceState) -> Result<DbUrl, RdsError> {
        let id = &state.identifier;
        let (Some(host), Some(port)) = (state.endpoint_address.clone(), state.endpoint_port) else {
            return Err(RdsError::InvalidState {
                identifier: id.clone(),
                status: state.status.clone(),
                reason: "and has no endpoint yet".into(),
                fix: "wait until it is available (the database status says when)".into(),
            });
        };
        let Some(arn) = state.master_secret_arn.clone() else {
            return Err(RdsError::Secret {
                operation: "lookup",
                secret: format!("master secret of {id}"),
                reason: "the instance's master password is not managed by RDS in Secrets Manager".into(),
                fix: "ensure the database again to turn on ManageMasterUserPassword (RDS then keeps the master password in Secrets Manager), then try again".into(),
            });
        };
        let value = self
            .secrets
            .get_string(&arn)
            .await
            .map_err(|e| secret_error("GetSecretValue", &arn, e))?;
        let up = parse_user_password(&arn, &value).map_err(|e| secret_error("read", &arn, e))?;
        let db = state.db_name.clone().unwrap_or_else(|| "postgres".into());
        Ok(DbUrl::new(up.username, up.password, host, port, db).with_tls(self.trust.url_tls()))
    }

    /// Writes `url` (password included) to the secret `name`, creating it when missing.
    pub async fn store_url(&self, name: &str, url: &DbUrl) -> Result<PutOutcome, RdsError> {
        self.secrets
            .put_string(
                name,
                &url.expose(),
                "Database URL for the app (written by deploykit)",
            )
            .await
            .map_err(|e| secret_error("PutSecretValue", name, e))
    }

    /// The master password, for connecting in checks.
    pub(crate) async fn master_password(
        &self,
        state: &InstanceState,
    ) -> Result<(String, SecretString), RdsError> {
        let u = self.url_for(state).await?;
        Ok((u.user.clone(), u.password().clone()))
    }
}

fn unreachable_wait(id: &str) -> Result<EnsureOutcome, RdsError> {
    Err(RdsError::InvalidState {
        identifier: id.into(),
        status: "busy".into(),
        reason: "and stayed busy after waiting".into(),
        fix: "run again once the database status shows it available".into(),
    })
}

fn secret_error(
    operation: &'static str,
    secret: &str,
    e: deploykit_secrets::SecretsError,
) -> RdsError {
    let fix = match e.classified() {
        Some(c) => c.help().to_string(),
        None => "check the secret's value in the Secrets Manager console".into(),
    };
    RdsError::Secret {
        operation,
        secret: secret.into(),
        reason: e.to_string().lines().next().unwrap_or("").to_string(),
        fix,
    }
}

fn change_name(c: &Change) -> &'static str {
    match c {
        Change::InstanceClass(_) => "instance class",
        Change::AllocatedStorage(_) => "allocated storage",
        Change::MaxAllocatedStorage(_) => "storage autoscaling",
        Change::StorageType(_) => "storage type",
        Change::PubliclyAccessible(_) => "public access off",
        Change::BackupRetention(_) => "backup retention",
        Change::AutoMinorVersionUpgrade(_) => "automatic minor upgrades",
        Change::DeletionProtection(_) => "deletion protection",
        Change::MultiAz(_) => "multi-AZ",
        Change::ManageMasterUserPassword => "managed master password",
        Change::VpcSecurityGroups(_) => "security groups",
    }
}

fn endpoint_text(s: &InstanceState) -> String {
    match (&s.endpoint_address, s.endpoint_port) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        _ => "(no endpoint yet)".into(),
    }
}

/// Maps the SDK's DBInstance to plain data.
pub fn instance_state(i: &DbInstance) -> InstanceState {
    InstanceState {
        identifier: i.db_instance_identifier().unwrap_or_default().to_string(),
        arn: i.db_instance_arn().map(str::to_string),
        status: i.db_instance_status().unwrap_or_default().to_string(),
        engine: i.engine().unwrap_or_default().to_string(),
        engine_version: i.engine_version().unwrap_or_default().to_string(),
        instance_class: i.db_instance_class().unwrap_or_default().to_string(),
        allocated_storage_gb: i.allocated_storage().unwrap_or(0),
        max_allocated_storage_gb: i.max_allocated_storage(),
        storage_type: i.storage_type().map(str::to_string),
        publicly_accessible: i.publicly_accessible().unwrap_or(false),
        backup_retention_days: i.backup_retention_period().unwrap_or(0),
        auto_minor_version_upgrade: i.auto_minor_version_upgrade().unwrap_or(false),
        storage_encrypted: i.storage_encrypted().unwrap_or(false),
        deletion_protection: i.deletion_protection().unwrap_or(false),
        multi_az: i.multi_az().unwrap_or(false),
        master_username: i.master_username().map(str::to_string),
        db_name: i.db_name().map(str::to_string),
        master_secret_arn: i
            .master_user_secret()
            .and_then(|s| s.secret_arn())
            .map(str::to_string),
        endpoint_address: i.endpoint().and_then(|e| e.address()).map(str::to_string),
        endpoint_port: i
            .endpoint()
            .and_then(|e| e.port())
            .and_then(|p| u16::try_from(p).ok()),
        subnet_group: i
            .db_subnet_group()
            .and_then(|g| g.db_subnet_group_name())
            .map(str::to_string),
        vpc_security_group_ids: i
            .vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id())
            .map(str::to_string)
            .collect(),
    }
}

pub(crate) fn snapshot_info(s: &DbSnapshot) -> SnapshotInfo {
    SnapshotInfo {
        identifier: s.db_snapshot_identifier().unwrap_or_default().to_string(),
        instance: s.db_instance_identifier().unwrap_or_default().to_string(),
        kind: SnapshotKind::parse(s.snapshot_type().unwrap_or("manual")),
        status: s.status().unwrap_or_default().to_string(),
        created: s
            .snapshot_create_time()
            .and_then(|t| OffsetDateTime::from_unix_timestamp(t.secs()).ok()),
        allocated_storage_gb: s.allocated_storage().unwrap_or(0),
        percent_progress: s.percent_progress(),
        arn: s.db_snapshot_arn().unwrap_or_default().to_string(),
        restore_checked: s
            .tag_list()
            .iter()
            .find(|t| t.key() == Some(crate::snapshot::TAG_RESTORE_CHECKED))
            .and_then(|t| t.value())
            .and_then(|v| {
                OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339).ok()
            }),
    }
}
