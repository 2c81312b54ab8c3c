//! What the database should look like ([`DbSpec`]), what it looks like ([`InstanceState`]),
//! and the pure functions between them: [`drift`] and [`plan_instance`].

use serde::Serialize;

use crate::RdsError;

/// The default instance class: the seed's dev size (`db.t4g.small` for a small production load).
pub const DEFAULT_INSTANCE_CLASS: &str = "db.t4g.micro";
/// The seed's starting storage, gp3.
pub const DEFAULT_STORAGE_GB: i32 = 20;
pub const STORAGE_TYPE: &str = "gp3";
pub const ENGINE: &str = "postgres";
pub const PORT: u16 = 5432;
/// Automated backups: the seed asks for 7-14 days; fewer than 7 is reported as drift.
pub const BACKUP_DAYS_MIN: i32 = 7;
/// What RDS accepts with automated backups on (0 turns them off, which deploykit refuses):
/// deploy.toml's range, where values outside 7-14 are a warning, not an error.
pub const BACKUP_DAYS_ALLOWED: std::ops::RangeInclusive<i32> = 1..=35;

/// The desired RDS PostgreSQL instance. Plain data: callers map their own configuration to it.
///
/// Fixed by design (not fields): engine `postgres`, storage type gp3, encryption at rest,
/// automatic minor version upgrades, not publicly accessible, and the master password managed
/// by RDS in Secrets Manager (`ManageMasterUserPassword`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DbSpec {
    /// DB instance identifier: 1-63 letters, digits, hyphens; letter first; no `--`, no trailing `-`.
    pub identifier: String,
    /// Pinned major version, e.g. `16` (a `16.4` pin also pins the minor at creation).
    pub engine_version: String,
    pub instance_class: String,
    pub allocated_storage_gb: i32,
    /// Storage autoscaling ceiling; `None` turns autoscaling off.
    pub max_allocated_storage_gb: Option<i32>,
    /// 7-14.
    pub backup_retention_days: i32,
    /// Initial database name.
    pub db_name: String,
    /// Master user name; its password is generated and kept by RDS in Secrets Manager.
    pub master_username: String,
    pub subnet_group: Option<String>,
    /// Security groups attached to the instance (its VpcSecurityGroupIds). Their inbound rule
    /// must admit 5432 from `app_security_group` only.
    pub vpc_security_group_ids: Vec<String>,
    /// The app's security group (EB instances or the App Runner VPC connector): the only source
    /// allowed in on 5432. An `sg-` id; CIDRs such as `0.0.0.0/0` are refused.
    pub app_security_group: Option<String>,
    pub deletion_protection: bool,
    pub multi_az: bool,
    /// Tags on the instance (e.g. `managed-by = deploykit`).
    pub tags: Vec<(String, String)>,
}

impl DbSpec {
    /// The seed's recommendations for `identifier`: db.t4g.micro, 20 GB gp3 autoscaling to 100,
    /// 7 days of backups, PostgreSQL 16, no deletion protection (turn it on for prod).
    pub fn recommended(identifier: impl Into<String>) -> Self {
        DbSpec {
            identifier: identifier.into(),
            engine_version: "16".into(),
            instance_class: DEFAULT_INSTANCE_CLASS.into(),
            allocated_storage_gb: DEFAULT_STORAGE_GB,
            max_allocated_storage_gb: Some(100),
            backup_retention_days: BACKUP_DAYS_MIN,
            db_name: "app".into(),
            master_username: "app".into(),
            subnet_group: None,
            vpc_security_group_ids: Vec::new(),
            app_security_group: None,
            deletion_protection: false,
            multi_az: false,
            tags: vec![("managed-by".into(), "deploykit".into())],
        }
    }

    /// The engine's major version (`16` of `16.4`).
    pub fn major_version(&self) -> &str {
        major(&self.engine_version)
    }

    /// Checks every field before anything talks to AWS.
    pub fn validate(&self) -> Result<(), RdsError> {
        validate_instance_identifier(&self.identifier)?;
        let bad =
            |field: &'static str, value: String, reason: &str, fix: &str| RdsError::InvalidSpec {
                field,
                value,
                reason: reason.into(),
                fix: fix.into(),
            };
        let v = &self.engine_version;
        if v.is_empty()
            || !v
                .split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(bad(
                "engine_version",
                v.clone(),
                "not a PostgreSQL version number",
                "pin a major version such as \"16\"",
            ));
        }
        if !self.instance_class.starts_with("db.") {
            return Err(bad(
                "instance_class",
                self.instance_class.clone(),
                "RDS instance classes start with `db.`",
                "use db.t4g.micro (dev) or db.t4g.small (small prod)",
            ));
        }
        if !(20..=65536).contains(&self.allocated_storage_gb) {
            return Err(bad(
                "allocated_storage_gb",
                self.allocated_storage_gb.to_string(),
                "gp3 storage for PostgreSQL is 20-65536 GB",
                "use 20",
            ));
        }
        if let Some(max) = self.max_allocated_storage_gb
            && max <= self.allocated_storage_gb
        {
            return Err(bad(
                "max_allocated_storage_gb",
                max.to_string(),
                "the autoscaling ceiling must be above allocated_storage_gb",
                "raise it (e.g. 100) or set it to 0 to turn autoscaling off",
            ));
        }
        if !BACKUP_DAYS_ALLOWED.contains(&self.backup_retention_days) {
            return Err(bad(
                "backup_retention_days",
                self.backup_retention_days.to_string(),
                "automated backups must be kept 1-35 days (0 would turn them off)",
                "use 7 (dev) or 14 (prod), the seed's 7-14",
            ));
        }
        if self.master_username.is_empty()
            || !self
                .master_username
                .starts_with(|c: char| c.is_ascii_alphabetic())
            || !self
                .master_username
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            || self.master_username.len() > 63
        {
            return Err(bad(
                "username",
                self.master_username.clone(),
                "master user names are 1-63 letters, digits or underscores, letter first",
                "use e.g. \"budgetsync\"",
            ));
        }
        if ["postgres", "rdsadmin", "admin"].contains(&self.master_username.as_str()) {
            return Err(bad(
                "username",
                self.master_username.clone(),
                "reserved by RDS for PostgreSQL",
                "choose the app's name",
            ));
        }
        if self.db_name.is_empty()
            || !self.db_name.starts_with(|c: char| c.is_ascii_alphabetic())
            || !self
                .db_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            || self.db_name.len() > 63
        {
            return Err(bad(
                "db_name",
                self.db_name.clone(),
                "database names are 1-63 letters, digits or underscores, letter first",
                "use e.g. \"budgetsync\"",
            ));
        }
        if let Some(sg) = &self.app_security_group {
            check_security_group("app_security_group", sg)?;
        }
        for sg in &self.vpc_security_group_ids {
            check_security_group("vpc_security_group_ids", sg)?;
        }
        Ok(())
    }
}

/// Only security group ids are accepted as a source for 5432: an open CIDR would make the
/// database reachable from the internet.
pub(crate) fn check_security_group(field: &'static str, value: &str) -> Result<(), RdsError> {
    let open = matches!(value.trim(), "0.0.0.0/0" | "::/0");
    if open || value.contains('/') {
        return Err(RdsError::InvalidSpec {
            field,
            value: value.into(),
            reason: if open {
                "that opens PostgreSQL (5432) to the whole internet".into()
            } else {
                "CIDR ranges are not accepted as a database source".into()
            },
            fix: "name the app's security group (`sg-...`): only it may connect on 5432".into(),
        });
    }
    let hex = value.strip_prefix("sg-").unwrap_or("");
    if !(hex.len() == 8 || hex.len() == 17) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(RdsError::InvalidSpec {
            field,
            value: value.into(),
            reason: "not a security group id (`sg-` and 8 or 17 hex digits)".into(),
            fix: "copy the id from the EC2 console (Security Groups)".into(),
        });
    }
    Ok(())
}

/// `16` of `16.4`.
pub fn major(version: &str) -> &str {
    version.split('.').next().unwrap_or(version)
}

/// RDS DB instance identifier rules: 1-63 characters, letters, digits and hyphens, a letter
/// first, no two consecutive hyphens, no trailing hyphen.
pub fn validate_instance_identifier(id: &str) -> Result<(), RdsError> {
    identifier_rules(id, 63, "DB instance identifier")
}

pub(crate) fn identifier_rules(id: &str, max: usize, what: &'static str) -> Result<(), RdsError> {
    let reason = if id.is_empty() || id.len() > max {
        Some(format!(
            "it must be 1-{max} characters long (it has {})",
            id.len()
        ))
    } else if !id.starts_with(|c: char| c.is_ascii_alphabetic()) {
        Some("it must start with a letter".into())
    } else if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        Some(format!(
            "`{c}` is not allowed (letters, digits and hyphens only)"
        ))
    } else if id.contains("--") {
        Some("it contains two consecutive hyphens".into())
    } else if id.ends_with('-') {
        Some("it ends with a hyphen".into())
    } else {
        None
    };
    match reason {
        Some(reason) => Err(RdsError::InvalidName {
            what,
            value: id.into(),
            reason,
            fix: "use letters, digits and single hyphens, starting with a letter",
        }),
        None => Ok(()),
    }
}

/// What an existing instance looks like: the fields of DescribeDBInstances that matter here.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct InstanceState {
    pub identifier: String,
    pub arn: Option<String>,
    /// `creating`, `available`, `modifying`, `backing-up`, `deleting`, ...
    pub status: String,
    pub engine: String,
    pub engine_version: String,
    pub instance_class: String,
    pub allocated_storage_gb: i32,
    pub max_allocated_storage_gb: Option<i32>,
    pub storage_type: Option<String>,
    pub publicly_accessible: bool,
    pub backup_retention_days: i32,
    pub auto_minor_version_upgrade: bool,
    pub storage_encrypted: bool,
    pub deletion_protection: bool,
    pub multi_az: bool,
    pub master_username: Option<String>,
    pub db_name: Option<String>,
    /// ARN of the RDS-managed master secret (`ManageMasterUserPassword`).
    pub master_secret_arn: Option<String>,
    pub endpoint_address: Option<String>,
    pub endpoint_port: Option<u16>,
    pub subnet_group: Option<String>,
    pub vpc_security_group_ids: Vec<String>,
}

impl InstanceState {
    /// Whether RDS accepts a ModifyDBInstance now.
    pub fn is_available(&self) -> bool {
        self.status == "available"
    }
}

/// How bad a difference is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Costs or convenience.
    Info,
    /// Weaker than recommended (short backups, no autoscaling).
    Warn,
    /// Exposure or data-loss risk (public, unencrypted, no backups).
    Critical,
}

/// How a difference gets fixed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fix {
    /// `db create` applies it with ModifyDBInstance.
    Modify(Change),
    /// Cannot be changed in place; what to do instead.
    Manual { how: String },
    /// `db create` authorizes and revokes these ingress rules on the database's security group
    /// (creating the group first when it is missing).
    SecurityGroup {
        authorize: Vec<crate::IngressRule>,
        revoke: Vec<crate::IngressRule>,
    },
}

/// One setting that differs from the recommendation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    pub setting: &'static str,
    pub current: String,
    pub recommended: String,
    pub severity: Severity,
    pub fix: Fix,
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} (recommended {})",
            self.setting, self.current, self.recommended
        )?;
        match &self.fix {
            Fix::Modify(_) | Fix::SecurityGroup { .. } => {
                write!(f, "; ensuring the database fixes it")
            }
            Fix::Manual { how } => write!(f, "; {how}"),
        }
    }
}

/// One ModifyDBInstance parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "setting", content = "value", rename_all = "snake_case")]
pub enum Change {
    InstanceClass(String),
    AllocatedStorage(i32),
    /// `None` turns storage autoscaling off (sent as MaxAllocatedStorage = allocated).
    MaxAllocatedStorage(Option<i32>),
    StorageType(String),
    PubliclyAccessible(bool),
    BackupRetention(i32),
    AutoMinorVersionUpgrade(bool),
    DeletionProtection(bool),
    MultiAz(bool),
    /// Hand the master password to RDS-managed Secrets Manager.
    ManageMasterUserPassword,
    VpcSecurityGroups(Vec<String>),
}

/// Every way `current` differs from `recommended`.
pub fn drift(current: &InstanceState, recommended: &DbSpec) -> Vec<Drift> {
    let mut out = Vec::new();
    let mut push =
        |setting: &'static str, current: String, rec: String, severity: Severity, fix: Fix| {
            out.push(Drift {
                setting,
                current,
                recommended: rec,
                severity,
                fix,
            });
        };
    let manual = |how: &str| Fix::Manual { how: how.into() };

    if current.publicly_accessible {
        push(
            "publicly_accessible",
            "true".into(),
            "false".into(),
            Severity::Critical,
            Fix::Modify(Change::PubliclyAccessible(false)),
        );
    }
    if !current.storage_encrypted {
        push(
            "storage_encrypted",
            "false".into(),
            "true".into(),
            Severity::Critical,
            manual(
                "encryption cannot be turned on in place: snapshot, copy the snapshot with a KMS key, restore from the copy, switch the app over",
            ),
        );
    }
    let cur_major = major(&current.engine_version);
    let want_major = recommended.major_version();
    if cur_major != want_major {
        let how = match (cur_major.parse::<u32>(), want_major.parse::<u32>()) {
            (Ok(c), Ok(w)) if c < w => {
                "major upgrades are never automatic: take a snapshot (reason pre-upgrade) and wait for it, then upgrade in the RDS console or with ModifyDBInstance (a new engine version and AllowMajorVersionUpgrade)"
            }
            _ => {
                "RDS cannot downgrade a major version: pin engine_version to the running major in deploy.toml"
            }
        };
        push(
            "engine_version",
            current.engine_version.clone(),
            format!("{want_major}.x"),
            Severity::Warn,
            manual(how),
        );
    }
    if current.instance_class != recommended.instance_class {
        push(
            "instance_class",
            current.instance_class.clone(),
            recommended.instance_class.clone(),
            Severity::Info,
            Fix::Modify(Change::InstanceClass(recommended.instance_class.clone())),
        );
    }
    // Storage never shrinks: more than asked for (autoscaling grew it) is fine.
    if current.allocated_storage_gb < recommended.allocated_storage_gb {
        push(
            "allocated_storage_gb",
            current.allocated_storage_gb.to_string(),
            recommended.allocated_storage_gb.to_string(),
            Severity::Info,
            Fix::Modify(Change::AllocatedStorage(recommended.allocated_storage_gb)),
        );
    }
    if current.storage_type.as_deref() != Some(STORAGE_TYPE) {
        push(
            "storage_type",
            current
                .storage_type
                .clone()
                .unwrap_or_else(|| "unknown".into()),
            STORAGE_TYPE.into(),
            Severity::Info,
            Fix::Modify(Change::StorageType(STORAGE_TYPE.into())),
        );
    }
    let cur_max = current
        .max_allocated_storage_gb
        .filter(|m| *m > current.allocated_storage_gb);
    if cur_max != recommended.max_allocated_storage_gb {
        let show = |m: Option<i32>| m.map_or("off".to_string(), |m| format!("{m} GB"));
        let severity = if recommended.max_allocated_storage_gb.is_some() && cur_max.is_none() {
            Severity::Warn
        } else {
            Severity::Info
        };
        push(
            "max_allocated_storage_gb",
            show(cur_max),
            show(recommended.max_allocated_storage_gb),
            severity,
            Fix::Modify(Change::MaxAllocatedStorage(
                recommended.max_allocated_storage_gb,
            )),
        );
    }
    if current.backup_retention_days != recommended.backup_retention_days {
        let severity = if current.backup_retention_days < BACKUP_DAYS_MIN {
            if current.backup_retention_days == 0 {
                Severity::Critical
            } else {
                Severity::Warn
            }
        } else {
            Severity::Info
        };
        push(
            "backup_retention_days",
            current.backup_retention_days.to_string(),
            recommended.backup_retention_days.to_string(),
            severity,
            Fix::Modify(Change::BackupRetention(recommended.backup_retention_days)),
        );
    }
    if !current.auto_minor_version_upgrade {
        push(
            "auto_minor_version_upgrade",
            "false".into(),
            "true".into(),
            Severity::Warn,
            Fix::Modify(Change::AutoMinorVersionUpgrade(true)),
        );
    }
    if current.deletion_protection != recommended.deletion_protection {
        let severity = if recommended.deletion_protection {
            Severity::Critical
        } else {
            Severity::Info
        };
        push(
            "deletion_protection",
            current.deletion_protection.to_string(),
            recommended.deletion_protection.to_string(),
            severity,
            Fix::Modify(Change::DeletionProtection(recommended.deletion_protection)),
        );
    }
    if current.multi_az != recommended.multi_az {
        push(
            "multi_az",
            current.multi_az.to_string(),
            recommended.multi_az.to_string(),
            Severity::Info,
            Fix::Modify(Change::MultiAz(recommended.multi_az)),
        );
    }
    if current.master_secret_arn.is_none() {
        push(
            "manage_master_user_password",
            "false (password not in Secrets Manager)".into(),
            "true".into(),
            Severity::Warn,
            Fix::Modify(Change::ManageMasterUserPassword),
        );
    }
    if let Some(want) = &recommended.subnet_group
        && current.subnet_group.as_ref() != Some(want)
    {
        push(
            "subnet_group",
            current
                .subnet_group
                .clone()
                .unwrap_or_else(|| "default".into()),
            want.clone(),
            Severity::Info,
            manual(
                "moving an instance to another subnet group is a console/CLI operation with downtime; do it in a maintenance window",
            ),
        );
    }
    if !recommended.vpc_security_group_ids.is_empty() {
        let mut cur = current.vpc_security_group_ids.clone();
        let mut want = recommended.vpc_security_group_ids.clone();
        cur.sort();
        want.sort();
        if cur != want {
            push(
                "vpc_security_group_ids",
                cur.join(","),
                want.join(","),
                Severity::Warn,
                Fix::Modify(Change::VpcSecurityGroups(
                    recommended.vpc_security_group_ids.clone(),
                )),
            );
        }
    }
    out
}

/// What `ensure` will do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Plan {
    /// Nothing exists: create it from the spec.
    Create { spec: Box<DbSpec> },
    /// It exists and differs in settings that can be modified in place (never a recreate);
    /// `manual` lists what only a person can fix.
    Modify {
        changes: Vec<Change>,
        manual: Vec<Drift>,
    },
    /// It exists but is busy (`creating`, `modifying`, ...): wait, then plan again.
    WaitFor { status: String },
    /// It exists and is being deleted: nothing can be done until it is gone.
    Blocked { status: String },
    /// Nothing to change; `manual` lists what only a person can fix.
    NoChange { manual: Vec<Drift> },
}

/// Decides what `ensure` does. Pure: `current` comes from DescribeDBInstances.
pub fn plan_instance(current: Option<&InstanceState>, desired: &DbSpec) -> Plan {
    let Some(cur) = current else {
        return Plan::Create {
            spec: Box::new(desired.clone()),
        };
    };
    match cur.status.as_str() {
        "deleting"
        | "failed"
        | "incompatible-restore"
        | "incompatible-parameters"
        | "storage-full" => {
            return Plan::Blocked {
                status: cur.status.clone(),
            };
        }
        "available" => {}
        other => {
            return Plan::WaitFor {
                status: other.to_string(),
            };
        }
    }
    let mut changes = Vec::new();
    let mut manual = Vec::new();
    for d in drift(cur, desired) {
        match d.fix {
            Fix::Modify(c) => changes.push(c),
            Fix::Manual { .. } | Fix::SecurityGroup { .. } => manual.push(d),
        }
    }
    if changes.is_empty() {
        Plan::NoChange { manual }
    } else {
        Plan::Modify { changes, manual }
    }
}

#[cfg(test)]
mod tests;
