//! RDS for PostgreSQL, answered by the edge (query protocol, XML) when a local PostgreSQL
//! cluster is configured: instances are real databases (and login roles) in that cluster,
//! snapshots are real copies (`CREATE DATABASE ... TEMPLATE`), restores are real restores, and
//! the managed master password lives in moto's Secrets Manager. Every instance's endpoint is the
//! cluster's loopback address. State is kept in memory (per edge process).
//!
//! Answered: CreateDBInstance, DescribeDBInstances, ModifyDBInstance, DeleteDBInstance,
//! CreateDBSnapshot, DescribeDBSnapshots, DeleteDBSnapshot, RestoreDBInstanceFromDBSnapshot,
//! AddTagsToResource, ListTagsForResource, CreateDBSubnetGroup, DescribeDBSubnetGroups.
//! Any other action is answered `InvalidAction`.
//!
//! Names: DBName and MasterUsername follow RDS's rules (a letter first, then letters, digits and
//! `_`, at most 63), and the reserved ones are refused with `InvalidParameterValue` as RDS does
//! (see [`reserved`]). Without DBName the instance gets database `dk_<identifier>` and reports
//! it as its DBName (real RDS for PostgreSQL reports none and you connect to `postgres`).
//!
//! Dropping: the emulator only ever drops databases it created itself. It comments each one it
//! makes ([`pg::MARKER`]) and tracks them in its state; a DBName that already exists without
//! that comment is used (owner changed to the master user) but never dropped, and two instances
//! cannot share one database.

mod pg;
mod reserved;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use time::OffsetDateTime;
use tokio::sync::Mutex;

use crate::core::Ctx;
use crate::xml::{Xml, query_error, xml_response};

pub use pg::PostgresConfig;

const NS: &str = "http://rds.amazonaws.com/doc/2014-10-31/";
const CREATE_TIME: Duration = Duration::from_secs(6 * 60);
const MODIFY_TIME: Duration = Duration::from_secs(90);
const SNAPSHOT_TIME: Duration = Duration::from_secs(3 * 60);

type Resp = Response<Full<Bytes>>;

#[derive(Debug, Clone)]
struct Instance {
    id: String,
    /// The real database in the local cluster (reported as DBName).
    db: String,
    username: String,
    engine_version: String,
    class: String,
    allocated: i32,
    max_allocated: Option<i32>,
    storage_type: String,
    public: bool,
    backup_days: i32,
    auto_minor: bool,
    encrypted: bool,
    deletion_protection: bool,
    multi_az: bool,
    subnet_group: Option<String>,
    sgs: Vec<String>,
    secret_arn: Option<String>,
    created: OffsetDateTime,
    busy: Option<(&'static str, Instant)>,
    tags: Vec<(String, String)>,
}

impl Instance {
    fn status(&self) -> &'static str {
        match self.busy {
            Some((s, until)) if Instant::now() < until => s,
            _ => "available",
        }
    }
}

#[derive(Debug, Clone)]
struct Snapshot {
    id: String,
    instance: String,
    /// The copy in the cluster; `None` for the simulated automated snapshot (restores copy the
    /// live database).
    db: Option<String>,
    automated: bool,
    created: OffsetDateTime,
    ready: Instant,
    allocated: i32,
    engine_version: String,
    username: String,
    tags: Vec<(String, String)>,
}

impl Snapshot {
    fn status(&self) -> &'static str {
        if Instant::now() < self.ready {
            "creating"
        } else {
            "available"
        }
    }
}

#[derive(Debug, Default)]
struct State {
    instances: BTreeMap<String, Instance>,
    snapshots: BTreeMap<String, Snapshot>,
    subnet_groups: BTreeMap<String, (String, Vec<String>)>,
    /// Passwords of the login roles this edge created or reset, by role.
    passwords: BTreeMap<String, String>,
    /// Databases this emulator created (or adopted with its marker): the only ones it drops.
    owned: BTreeSet<String>,
}

/// The RDS emulator.
#[derive(Debug)]
pub(crate) struct Rds {
    ctx: Ctx,
    pg: pg::Pg,
    /// The cluster's superuser: never handed out as a master user.
    pg_superuser: String,
    state: Mutex<State>,
}

struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }
    fn bool(&self, k: &str) -> Option<bool> {
        self.get(k).map(|v| v.eq_ignore_ascii_case("true"))
    }
    fn int(&self, k: &str) -> Result<Option<i32>, String> {
        self.get(k)
            .map(|v| {
                v.parse::<i32>()
                    .map_err(|_| format!("Invalid value {v} for {k}"))
            })
            .transpose()
    }
    /// `Prefix.Member.1`, `Prefix.Member.2`, ...
    fn list(&self, prefix: &str, member: &str) -> Vec<String> {
        (1..)
            .map_while(|i| {
                self.get(&format!("{prefix}.{member}.{i}"))
                    .map(str::to_string)
            })
            .collect()
    }
    fn tags(&self) -> Vec<(String, String)> {
        (1..)
            .map_while(|i| {
                let k = self.get(&format!("Tags.Tag.{i}.Key"))?;
                Some((
                    k.to_string(),
                    self.get(&format!("Tags.Tag.{i}.Value"))
                        .unwrap_or("")
                        .to_string(),
                ))
            })
            .collect()
    }
}

struct ApiErr(StatusCode, &'static str, String);

fn err(status: u16, code: &'static str, msg: impl Into<String>) -> ApiErr {
    ApiErr(
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        code,
        msg.into(),
    )
}

impl Rds {
    pub fn new(ctx: Ctx, pg: PostgresConfig) -> Self {
        Rds {
            ctx,
            pg_superuser: pg.superuser.clone(),
            pg: pg::Pg::new(pg),
            state: Mutex::new(State::default()),
        }
    }

    fn arn(&self, region: &str, kind: &str, id: &str) -> String {
        format!("arn:aws:rds:{region}:{}:{kind}:{id}", self.ctx.account_id)
    }

    pub async fn handle(
        &self,
        region: &str,
        params: Vec<(String, String)>,
        request_id: &str,
    ) -> Resp {
        let p = Params(params);
        let action = p.get("Action").unwrap_or("").to_string();
        let mut st = self.state.lock().await;
        let res = match action.as_str() {
            "CreateDBInstance" => self.create_instance(&mut st, region, &p).await,
            "DescribeDBInstances" => self.describe_instances(&st, region, &p),
            "ModifyDBInstance" => self.modify_instance(&mut st, region, &p).await,
            "DeleteDBInstance" => self.delete_instance(&mut st, region, &p).await,
            "CreateDBSnapshot" => self.create_snapshot(&mut st, region, &p).await,
            "DescribeDBSnapshots" => self.describe_snapshots(&st, region, &p),
            "DeleteDBSnapshot" => self.delete_snapshot(&mut st, region, &p).await,
            "RestoreDBInstanceFromDBSnapshot" => self.restore(&mut st, region, &p).await,
            "AddTagsToResource" => self.add_tags(&mut st, &p),
            "ListTagsForResource" => self.list_tags(&st, &p),
            "CreateDBSubnetGroup" => self.create_subnet_group(&mut st, &p),
            "DescribeDBSubnetGroups" => self.describe_subnet_groups(&st, &p),
            other => Err(err(
                400,
                "InvalidAction",
                format!(
                    "The action {other} is not valid for this web service (the local cloud answers the RDS actions deploykit uses)."
                ),
            )),
        };
        match res {
            Ok(inner) => {
                let mut x = Xml::new();
                x.open_ns(&format!("{action}Response"), NS);
                x.open(&format!("{action}Result"));
                let mut body = x.finish();
                body.push_str(&inner);
                let mut x = Xml::new();
                x.close(&format!("{action}Result"))
                    .open("ResponseMetadata")
                    .leaf("RequestId", request_id)
                    .close("ResponseMetadata")
                    .close(&format!("{action}Response"));
                body.push_str(&x.finish());
                xml_response(StatusCode::OK, body, request_id)
            }
            Err(ApiErr(status, code, message)) => {
                query_error(status, "Sender", code, &message, request_id)
            }
        }
    }

    fn instance<'a>(st: &'a State, id: &str) -> Result<&'a Instance, ApiErr> {
        st.instances.get(id).ok_or_else(|| {
            err(
                404,
                "DBInstanceNotFound",
                format!("DBInstance {id} not found."),
            )
        })
    }

    fn required<'a>(p: &'a Params, k: &str) -> Result<&'a str, ApiErr> {
        p.get(k).filter(|v| !v.is_empty()).ok_or_else(|| {
            err(
                400,
                "InvalidParameterValue",
                format!("The parameter {k} must be provided and must not be blank."),
            )
        })
    }

    fn check_identifier(id: &str, max: usize, what: &str) -> Result<(), ApiErr> {
        let ok = !id.is_empty()
            && id.len() <= max
            && id.starts_with(|c: char| c.is_ascii_alphabetic())
            && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !id.contains("--")
            && !id.ends_with('-');
        if ok {
            Ok(())
        } else {
            Err(err(
                400,
                "InvalidParameterValue",
                format!(
                    "The parameter {what} is not a valid identifier. Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens."
                ),
            ))
        }
    }

    async fn new_secret(
        &self,
        region: &str,
        instance: &str,
        username: &str,
        password: &str,
    ) -> Result<String, ApiErr> {
        let body = serde_json::json!({"username": username, "password": password}).to_string();
        let name = format!("rds!db-{}", uuid::Uuid::new_v4());
        pg::create_secret(self.ctx.moto_url.as_deref(), region, &name, &body, &format!("RDS managed master password of {instance}"))
            .await
            .map_err(|e| err(500, "InternalFailure", format!("the local cloud could not store the master secret in Secrets Manager (moto): {e}")))
    }

    /// Drops `db` if this emulator owns it; a database it only adopted stays (with its data).
    async fn drop_owned(&self, st: &mut State, db: &str) -> Result<(), ApiErr> {
        if st.owned.contains(db) {
            self.pg.drop_database(db).await.map_err(pg_err)?;
            st.owned.remove(db);
        }
        Ok(())
    }

    async fn role_password(&self, st: &mut State, username: &str) -> Result<String, ApiErr> {
        if let Some(p) = st.passwords.get(username) {
            return Ok(p.clone());
        }
        let password = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        self.pg
            .ensure_role(username, &password)
            .await
            .map_err(pg_err)?;
        st.passwords.insert(username.to_string(), password.clone());
        Ok(password)
    }

    async fn create_instance(
        &self,
        st: &mut State,
        region: &str,
        p: &Params,
    ) -> Result<String, ApiErr> {
        let id = Self::required(p, "DBInstanceIdentifier")?.to_ascii_lowercase();
        Self::check_identifier(&id, 63, "DBInstanceIdentifier")?;
        if st.instances.contains_key(&id) {
            return Err(err(
                400,
                "DBInstanceAlreadyExists",
                "DB instance already exists",
            ));
        }
        let engine = Self::required(p, "Engine")?;
        if engine != "postgres" {
            return Err(err(
                400,
                "InvalidParameterValue",
                format!("Invalid DB engine: {engine} (the local cloud runs PostgreSQL only)"),
            ));
        }
        let class = Self::required(p, "DBInstanceClass")?.to_string();
        let username = Self::required(p, "MasterUsername")?.to_string();
        reserved::check_master_username(&username, &self.pg_superuser)
            .map_err(|m| err(400, "InvalidParameterValue", m))?;
        let managed = p.bool("ManageMasterUserPassword").unwrap_or(false);
        if managed && p.get("MasterUserPassword").is_some() {
            return Err(err(
                400,
                "InvalidParameterCombination",
                "You can't specify MasterUserPassword when ManageMasterUserPassword is turned on.",
            ));
        }
        if !managed && p.get("MasterUserPassword").is_none() {
            return Err(err(
                400,
                "InvalidParameterValue",
                "The parameter MasterUserPassword must be provided and must not be blank.",
            ));
        }
        let allocated = p
            .int("AllocatedStorage")
            .map_err(|m| err(400, "InvalidParameterValue", m))?
            .unwrap_or(20);
        if !(20..=65536).contains(&allocated) {
            return Err(err(
                400,
                "InvalidParameterValue",
                "Invalid storage size for engine name postgres and storage type gp3: 20-65536 GB",
            ));
        }
        let max_allocated = p
            .int("MaxAllocatedStorage")
            .map_err(|m| err(400, "InvalidParameterValue", m))?;
        if max_allocated.is_some_and(|m| m < allocated) {
            return Err(err(
                400,
                "InvalidParameterCombination",
                "Max storage size must be greater than storage size",
            ));
        }
        let backup_days = p
            .int("BackupRetentionPeriod")
            .map_err(|m| err(400, "InvalidParameterValue", m))?
            .unwrap_or(1);
        if !(0..=35).contains(&backup_days) {
            return Err(err(
                400,
                "InvalidParameterValue",
                "Invalid backup retention period: must be 0-35",
            ));
        }
        if let Some(g) = p.get("DBSubnetGroupName")
            && !st.subnet_groups.contains_key(g)
        {
            return Err(err(
                404,
                "DBSubnetGroupNotFoundFault",
                format!("DBSubnetGroup {g} not found."),
            ));
        }
        let db = match p.get("DBName") {
            Some(name) => {
                reserved::check_db_name(name).map_err(|m| err(400, "InvalidParameterValue", m))?;
                name.to_string()
            }
            None => reserved::default_db_name(&id),
        };
        if let Some(other) = st.instances.values().find(|i| i.db == db) {
            return Err(err(
                400,
                "InvalidParameterCombination",
                format!(
                    "DBName {db} is already the database of DB instance {} in the local cloud (its instances share one PostgreSQL cluster): choose another DBName",
                    other.id
                ),
            ));
        }
        let password = match p.get("MasterUserPassword") {
            Some(pw) => {
                self.pg.ensure_role(&username, pw).await.map_err(pg_err)?;
                st.passwords.insert(username.clone(), pw.to_string());
                pw.to_string()
            }
            None => self.role_password(st, &username).await?,
        };
        let created = self
            .pg
            .create_database(&db, &username, None)
            .await
            .map_err(pg_err)?;
        if created != pg::Created::AdoptedForeign {
            st.owned.insert(db.clone());
        }
        let secret_arn = if managed {
            Some(self.new_secret(region, &id, &username, &password).await?)
        } else {
            None
        };
        let now = self.ctx.clock.now_utc();
        let inst = Instance {
            id: id.clone(),
            db,
            username,
            engine_version: full_version(p.get("EngineVersion").unwrap_or("16"))
                .map_err(|m| err(400, "InvalidParameterCombination", m))?,
            class,
            allocated,
            max_allocated,
            storage_type: p.get("StorageType").unwrap_or("gp2").to_string(),
            public: p.bool("PubliclyAccessible").unwrap_or(false),
            backup_days,
            auto_minor: p.bool("AutoMinorVersionUpgrade").unwrap_or(true),
            encrypted: p.bool("StorageEncrypted").unwrap_or(false),
            deletion_protection: p.bool("DeletionProtection").unwrap_or(false),
            multi_az: p.bool("MultiAZ").unwrap_or(false),
            subnet_group: p.get("DBSubnetGroupName").map(str::to_string),
            sgs: p.list("VpcSecurityGroupIds", "VpcSecurityGroupId"),
            secret_arn,
            created: now,
            busy: Some(("creating", self.ctx.clock.after(CREATE_TIME))),
            tags: p.tags(),
        };
        if backup_days > 0 {
            let auto = format!("rds:{id}-{}", stamp(now));
            st.snapshots.insert(
                auto.clone(),
                Snapshot {
                    id: auto,
                    instance: id.clone(),
                    db: None,
                    automated: true,
                    created: now,
                    ready: self.ctx.clock.after(CREATE_TIME),
                    allocated,
                    engine_version: inst.engine_version.clone(),
                    username: inst.username.clone(),
                    tags: Vec::new(),
                },
            );
        }
        let out = self.instance_xml(region, &inst);
        st.instances.insert(id, inst);
        Ok(out)
    }

    fn describe_instances(&self, st: &State, region: &str, p: &Params) -> Result<String, ApiErr> {
        let list: Vec<&Instance> = match p.get("DBInstanceIdentifier") {
            Some(id) => vec![Self::instance(st, &id.to_ascii_lowercase())?],
            None => st.instances.values().collect(),
        };
        let mut s = String::from("<DBInstances>");
        for i in list {
            s.push_str(&self.instance_xml(region, i));
        }
        s.push_str("</DBInstances>");
        Ok(s)
    }

    async fn modify_instance(
        &self,
        st: &mut State,
        region: &str,
        p: &Params,
    ) -> Result<String, ApiErr> {
        let id = Self::required(p, "DBInstanceIdentifier")?.to_ascii_lowercase();
        let inst = Self::instance(st, &id)?.clone();
        if inst.status() != "available" {
            return Err(err(
                400,
                "InvalidDBInstanceState",
                format!(
                    "Database instance is not in available state (it is {}).",
                    inst.status()
                ),
            ));
        }
        let mut next = inst.clone();
        let bad = |m: String| err(400, "InvalidParameterValue", m);
        if let Some(v) = p.get("DBInstanceClass") {
            next.class = v.to_string();
        }
        if let Some(v) = p.int("AllocatedStorage").map_err(bad)? {
            if v < inst.allocated {
                return Err(err(
                    400,
                    "InvalidParameterCombination",
                    "Invalid storage size: storage cannot be reduced",
                ));
            }
            next.allocated = v;
        }
        if let Some(v) = p.int("MaxAllocatedStorage").map_err(bad)? {
            next.max_allocated = Some(v);
        }
        if let Some(v) = p.get("StorageType") {
            next.storage_type = v.to_string();
        }
        if let Some(v) = p.bool("PubliclyAccessible") {
            next.public = v;
        }
        if let Some(v) = p.int("BackupRetentionPeriod").map_err(bad)? {
            next.backup_days = v;
        }
        if let Some(v) = p.bool("AutoMinorVersionUpgrade") {
            next.auto_minor = v;
        }
        if let Some(v) = p.bool("DeletionProtection") {
            next.deletion_protection = v;
        }
        if let Some(v) = p.bool("MultiAZ") {
            next.multi_az = v;
        }
        let sgs = p.list("VpcSecurityGroupIds", "VpcSecurityGroupId");
        if !sgs.is_empty() {
            next.sgs = sgs;
        }
        if let Some(v) = p.get("EngineVersion") {
            let v = full_version(v).map_err(|m| err(400, "InvalidParameterCombination", m))?;
            if v.split('.').next() != inst.engine_version.split('.').next()
                && p.bool("AllowMajorVersionUpgrade") != Some(true)
            {
                return Err(err(
                    400,
                    "InvalidParameterCombination",
                    "The AllowMajorVersionUpgrade flag must be present when upgrading to a new major version.",
                ));
            }
            next.engine_version = v;
        }
        if p.bool("ManageMasterUserPassword") == Some(true) && inst.secret_arn.is_none() {
            let pw = self.role_password(st, &inst.username).await?;
            next.secret_arn = Some(self.new_secret(region, &id, &inst.username, &pw).await?);
        }
        next.busy = Some(("modifying", self.ctx.clock.after(MODIFY_TIME)));
        let out = self.instance_xml(region, &next);
        st.instances.insert(id, next);
        Ok(out)
    }

    async fn delete_instance(
        &self,
        st: &mut State,
        region: &str,
        p: &Params,
    ) -> Result<String, ApiErr> {
        let id = Self::required(p, "DBInstanceIdentifier")?.to_ascii_lowercase();
        let inst = Self::instance(st, &id)?.clone();
        if inst.deletion_protection {
            return Err(err(
                400,
                "InvalidParameterCombination",
                "Cannot delete protected DB Instance, please disable deletion protection and try again.",
            ));
        }
        let skip = p.bool("SkipFinalSnapshot").unwrap_or(false);
        match (skip, p.get("FinalDBSnapshotIdentifier")) {
            (false, None) => {
                return Err(err(
                    400,
                    "InvalidParameterCombination",
                    "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.",
                ));
            }
            (false, Some(snap)) => {
                self.snapshot_of(st, &inst, snap, Vec::new()).await?;
            }
            _ => {}
        }
        self.drop_owned(st, &inst.db).await?;
        if let Some(arn) = &inst.secret_arn {
            let _ = pg::delete_secret(self.ctx.moto_url.as_deref(), region, arn).await;
        }
        if p.bool("DeleteAutomatedBackups").unwrap_or(true) {
            st.snapshots
                .retain(|_, s| !(s.automated && s.instance == id));
        }
        st.instances.remove(&id);
        let mut gone = inst;
        gone.busy = Some(("deleting", Instant::now() + Duration::from_secs(3600)));
        Ok(self.instance_xml(region, &gone))
    }

    async fn snapshot_of(
        &self,
        st: &mut State,
        inst: &Instance,
        snap: &str,
        tags: Vec<(String, String)>,
    ) -> Result<Snapshot, ApiErr> {
        Self::check_identifier(snap, 255, "DBSnapshotIdentifier")?;
        if st.snapshots.contains_key(snap) {
            return Err(err(
                400,
                "DBSnapshotAlreadyExists",
                format!(
                    "Cannot create the snapshot because a snapshot with the identifier {snap} already exists."
                ),
            ));
        }
        let copy = format!("dk_snap_{}", uuid::Uuid::new_v4().simple());
        self.pg
            .create_database(&copy, &inst.username, Some(&inst.db))
            .await
            .map_err(pg_err)?;
        st.owned.insert(copy.clone());
        let s = Snapshot {
            id: snap.to_string(),
            instance: inst.id.clone(),
            db: Some(copy),
            automated: false,
            created: self.ctx.clock.now_utc(),
            ready: self.ctx.clock.after(SNAPSHOT_TIME),
            allocated: inst.allocated,
            engine_version: inst.engine_version.clone(),
            username: inst.username.clone(),
            tags,
        };
        st.snapshots.insert(snap.to_string(), s.clone());
        Ok(s)
    }

    async fn create_snapshot(
        &self,
        st: &mut State,
        region: &str,
        p: &Params,
    ) -> Result<String, ApiErr> {
        let id = Self::required(p, "DBInstanceIdentifier")?.to_ascii_lowercase();
        let snap = Self::required(p, "DBSnapshotIdentifier")?.to_string();
        let inst = Self::instance(st, &id)?.clone();
        if inst.status() != "available" {
            return Err(err(
                400,
                "InvalidDBInstanceState",
                format!(
                    "Cannot create a snapshot because the database instance {id} is not currently in the available state."
                ),
            ));
        }
        let s = self.snapshot_of(st, &inst, &snap, p.tags()).await?;
        Ok(self.snapshot_xml(region, &s))
    }

    fn describe_snapshots(&self, st: &State, region: &str, p: &Params) -> Result<String, ApiErr> {
        let kind = p.get("SnapshotType");
        let list: Vec<&Snapshot> = match p.get("DBSnapshotIdentifier") {
            Some(id) => vec![st.snapshots.get(id).ok_or_else(|| {
                err(
                    404,
                    "DBSnapshotNotFound",
                    format!("DBSnapshot {id} not found."),
                )
            })?],
            None => st
                .snapshots
                .values()
                .filter(|s| {
                    p.get("DBInstanceIdentifier")
                        .is_none_or(|i| i.eq_ignore_ascii_case(&s.instance))
                })
                .filter(|s| match kind {
                    Some("automated") => s.automated,
                    Some("manual") => !s.automated,
                    Some(_) => false,
                    None => true,
                })
                .collect(),
        };
        let mut s = String::from("<DBSnapshots>");
        for snap in list {
            s.push_str(&self.snapshot_xml(region, snap));
        }
        s.push_str("</DBSnapshots>");
        Ok(s)
    }

    async fn delete_snapshot(
        &self,
        st: &mut State,
        region: &str,
        p: &Params,
    ) -> Result<String, ApiErr> {
        let id = Self::required(p, "DBSnapshotIdentifier")?.to_string();
        let s = st.snapshots.get(&id).cloned().ok_or_else(|| {
            err(
                404,
                "DBSnapshotNotFound",
                format!("DBSnapshot {id} not found."),
            )
        })?;
        if s.automated {
            return Err(err(
                400,
                "InvalidDBSnapshotState",
                "Only manual snapshots may be deleted.",
            ));
        }
        if s.status() != "available" {
            return Err(err(
                400,
                "InvalidDBSnapshotState",
                format!("Cannot delete the snapshot because it is {}.", s.status()),
            ));
        }
        if let Some(db) = &s.db {
            self.drop_owned(st, db).await?;
        }
        st.snapshots.remove(&id);
        let mut x = self.snapshot_xml(region, &s);
        x = x.replace("<Status>available</Status>", "<Status>deleted</Status>");
        Ok(x)
    }

    async fn restore(&self, st: &mut State, region: &str, p: &Params) -> Result<String, ApiErr> {
        let id = Self::required(p, "DBInstanceIdentifier")?.to_ascii_lowercase();
        Self::check_identifier(&id, 63, "DBInstanceIdentifier")?;
        let snap_id = Self::required(p, "DBSnapshotIdentifier")?.to_string();
        if st.instances.contains_key(&id) {
            return Err(err(
                400,
                "DBInstanceAlreadyExists",
                "DB instance already exists",
            ));
        }
        let snap = st.snapshots.get(&snap_id).cloned().ok_or_else(|| {
            err(
                404,
                "DBSnapshotNotFound",
                format!("DBSnapshot {snap_id} not found."),
            )
        })?;
        if snap.status() != "available" {
            return Err(err(
                400,
                "InvalidDBSnapshotState",
                format!("Snapshot {snap_id} is not available."),
            ));
        }
        let source = match &snap.db {
            Some(db) => db.clone(),
            None => st
                .instances
                .get(&snap.instance)
                .map(|i| i.db.clone())
                .ok_or_else(|| {
                    err(
                        400,
                        "InvalidDBSnapshotState",
                        "The automated snapshot's instance is gone.",
                    )
                })?,
        };
        let original = st.instances.get(&snap.instance).cloned();
        let base = original
            .as_ref()
            .map(|i| i.db.clone())
            .unwrap_or_else(|| "db".into());
        let db = format!(
            "{}_{}",
            &base[..base.len().min(40)],
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        self.pg
            .create_database(&db, &snap.username, Some(&source))
            .await
            .map_err(pg_err)?;
        st.owned.insert(db.clone());
        let managed = p.bool("ManageMasterUserPassword").unwrap_or(false);
        let secret_arn = if managed {
            let pw = self.role_password(st, &snap.username).await?;
            Some(self.new_secret(region, &id, &snap.username, &pw).await?)
        } else {
            None
        };
        let inst = Instance {
            id: id.clone(),
            db,
            username: snap.username.clone(),
            engine_version: snap.engine_version.clone(),
            class: p
                .get("DBInstanceClass")
                .map(str::to_string)
                .or_else(|| original.as_ref().map(|o| o.class.clone()))
                .unwrap_or_else(|| "db.t4g.micro".into()),
            allocated: snap.allocated,
            max_allocated: None,
            storage_type: p.get("StorageType").unwrap_or("gp3").to_string(),
            public: p.bool("PubliclyAccessible").unwrap_or(false),
            backup_days: original.as_ref().map_or(1, |o| o.backup_days),
            auto_minor: p.bool("AutoMinorVersionUpgrade").unwrap_or(true),
            encrypted: original.as_ref().is_none_or(|o| o.encrypted),
            deletion_protection: p.bool("DeletionProtection").unwrap_or(false),
            multi_az: p.bool("MultiAZ").unwrap_or(false),
            subnet_group: p.get("DBSubnetGroupName").map(str::to_string),
            sgs: p.list("VpcSecurityGroupIds", "VpcSecurityGroupId"),
            secret_arn,
            created: self.ctx.clock.now_utc(),
            busy: Some(("creating", self.ctx.clock.after(CREATE_TIME))),
            tags: p.tags(),
        };
        let out = self.instance_xml(region, &inst);
        st.instances.insert(id, inst);
        Ok(out)
    }

    fn tags_of<'a>(st: &'a mut State, arn: &str) -> Result<&'a mut Vec<(String, String)>, ApiErr> {
        let (kind, id) = arn
            .rsplit_once(':')
            .and_then(|(head, id)| head.rsplit_once(':').map(|(_, k)| (k, id)))
            .unwrap_or(("", ""));
        match kind {
            "db" => st
                .instances
                .get_mut(id)
                .map(|i| &mut i.tags)
                .ok_or_else(|| {
                    err(
                        404,
                        "DBInstanceNotFound",
                        format!("DBInstance {id} not found."),
                    )
                }),
            "snapshot" => st
                .snapshots
                .get_mut(id)
                .map(|s| &mut s.tags)
                .ok_or_else(|| {
                    err(
                        404,
                        "DBSnapshotNotFound",
                        format!("DBSnapshot {id} not found."),
                    )
                }),
            _ => Err(err(
                400,
                "InvalidParameterValue",
                format!("Invalid resource name: {arn}"),
            )),
        }
    }

    fn add_tags(&self, st: &mut State, p: &Params) -> Result<String, ApiErr> {
        let arn = Self::required(p, "ResourceName")?.to_string();
        let new = p.tags();
        let tags = Self::tags_of(st, &arn)?;
        for (k, v) in new {
            tags.retain(|(key, _)| key != &k);
            tags.push((k, v));
        }
        Ok(String::new())
    }

    fn list_tags(&self, st: &State, p: &Params) -> Result<String, ApiErr> {
        let arn = Self::required(p, "ResourceName")?.to_string();
        let mut copy = State {
            instances: st.instances.clone(),
            snapshots: st.snapshots.clone(),
            ..State::default()
        };
        let tags = Self::tags_of(&mut copy, &arn)?;
        Ok(tag_xml(tags))
    }

    fn create_subnet_group(&self, st: &mut State, p: &Params) -> Result<String, ApiErr> {
        let name = Self::required(p, "DBSubnetGroupName")?.to_ascii_lowercase();
        let desc = Self::required(p, "DBSubnetGroupDescription")?.to_string();
        let subnets = p.list("SubnetIds", "SubnetIdentifier");
        if subnets.len() < 2 {
            return Err(err(
                400,
                "DBSubnetGroupDoesNotCoverEnoughAZs",
                "The DB subnet group doesn't meet Availability Zone (AZ) coverage requirement. Current AZ coverage: 1. Add subnets to cover at least 2 AZs.",
            ));
        }
        if st.subnet_groups.contains_key(&name) {
            return Err(err(
                400,
                "DBSubnetGroupAlreadyExists",
                format!("The DB subnet group '{name}' already exists."),
            ));
        }
        st.subnet_groups.insert(name.clone(), (desc, subnets));
        Ok(subnet_group_xml(&name, &st.subnet_groups[&name]))
    }

    fn describe_subnet_groups(&self, st: &State, p: &Params) -> Result<String, ApiErr> {
        let mut s = String::from("<DBSubnetGroups>");
        match p.get("DBSubnetGroupName") {
            Some(n) => {
                let g = st.subnet_groups.get(n).ok_or_else(|| {
                    err(
                        404,
                        "DBSubnetGroupNotFoundFault",
                        format!("DBSubnetGroup {n} not found."),
                    )
                })?;
                s.push_str(&subnet_group_xml(n, g));
            }
            None => {
                for (n, g) in &st.subnet_groups {
                    s.push_str(&subnet_group_xml(n, g));
                }
            }
        }
        s.push_str("</DBSubnetGroups>");
        Ok(s)
    }

    fn instance_xml(&self, region: &str, i: &Instance) -> String {
        let status = i.status();
        let mut x = Xml::new();
        x.open("DBInstance")
            .leaf("DBInstanceIdentifier", &i.id)
            .leaf("DBInstanceClass", &i.class)
            .leaf("Engine", "postgres")
            .leaf("DBInstanceStatus", status)
            .leaf("MasterUsername", &i.username)
            .leaf("DBName", &i.db);
        if status != "creating" {
            x.open("Endpoint")
                .leaf("Address", self.pg.host())
                .leaf("Port", self.pg.port().to_string())
                .leaf("HostedZoneId", "Z2R2ITUGPM61AM")
                .close("Endpoint");
        }
        x.leaf("AllocatedStorage", i.allocated.to_string())
            .leaf("InstanceCreateTime", iso(i.created))
            .leaf("PreferredBackupWindow", "03:00-03:30")
            .leaf("BackupRetentionPeriod", i.backup_days.to_string());
        x.open("VpcSecurityGroups");
        for sg in &i.sgs {
            x.open("VpcSecurityGroupMembership")
                .leaf("VpcSecurityGroupId", sg)
                .leaf("Status", "active")
                .close("VpcSecurityGroupMembership");
        }
        x.close("VpcSecurityGroups");
        if let Some(g) = &i.subnet_group {
            x.open("DBSubnetGroup")
                .leaf("DBSubnetGroupName", g)
                .leaf("VpcId", "vpc-0local")
                .leaf("SubnetGroupStatus", "Complete")
                .close("DBSubnetGroup");
        }
        x.leaf("PreferredMaintenanceWindow", "sun:05:00-sun:05:30")
            .leaf("MultiAZ", i.multi_az.to_string())
            .leaf("EngineVersion", &i.engine_version)
            .leaf("AutoMinorVersionUpgrade", i.auto_minor.to_string())
            .leaf("LicenseModel", "postgresql-license")
            .leaf("PubliclyAccessible", i.public.to_string())
            .leaf("StorageType", &i.storage_type)
            .leaf("DbInstancePort", "0")
            .leaf("StorageEncrypted", i.encrypted.to_string())
            .leaf(
                "DbiResourceId",
                format!("db-{}", i.id.to_ascii_uppercase().replace('-', "")),
            )
            .leaf("CopyTagsToSnapshot", "true")
            .leaf("DBInstanceArn", self.arn(region, "db", &i.id))
            .leaf("DeletionProtection", i.deletion_protection.to_string());
        if let Some(m) = i.max_allocated.filter(|m| *m > i.allocated) {
            x.leaf("MaxAllocatedStorage", m.to_string());
        }
        let mut s = x.finish();
        s.push_str(&tag_xml(&i.tags));
        if let Some(arn) = &i.secret_arn {
            let mut x = Xml::new();
            x.open("MasterUserSecret")
                .leaf("SecretArn", arn)
                .leaf("SecretStatus", "active")
                .close("MasterUserSecret");
            s.push_str(&x.finish());
        }
        s.push_str("</DBInstance>");
        s
    }

    fn snapshot_xml(&self, region: &str, s: &Snapshot) -> String {
        let status = s.status();
        let mut x = Xml::new();
        x.open("DBSnapshot")
            .leaf("DBSnapshotIdentifier", &s.id)
            .leaf("DBInstanceIdentifier", &s.instance)
            .leaf("SnapshotCreateTime", iso(s.created))
            .leaf("Engine", "postgres")
            .leaf("AllocatedStorage", s.allocated.to_string())
            .leaf("Status", status)
            .leaf("Port", self.pg.port().to_string())
            .leaf("AvailabilityZone", format!("{region}a"))
            .leaf("VpcId", "vpc-0local")
            .leaf("MasterUsername", &s.username)
            .leaf("EngineVersion", &s.engine_version)
            .leaf(
                "SnapshotType",
                if s.automated { "automated" } else { "manual" },
            )
            .leaf(
                "PercentProgress",
                if status == "available" { "100" } else { "40" },
            )
            .leaf("StorageType", "gp3")
            .leaf("Encrypted", "true")
            .leaf("DBSnapshotArn", self.arn(region, "snapshot", &s.id));
        let mut out = x.finish();
        out.push_str(&tag_xml(&s.tags));
        out.push_str("</DBSnapshot>");
        out
    }
}

fn tag_xml(tags: &[(String, String)]) -> String {
    let mut x = Xml::new();
    x.open("TagList");
    for (k, v) in tags {
        x.open("Tag").leaf("Key", k).leaf("Value", v).close("Tag");
    }
    x.close("TagList");
    x.finish()
}

fn subnet_group_xml(name: &str, (desc, subnets): &(String, Vec<String>)) -> String {
    let mut x = Xml::new();
    x.open("DBSubnetGroup")
        .leaf("DBSubnetGroupName", name)
        .leaf("DBSubnetGroupDescription", desc)
        .leaf("VpcId", "vpc-0local")
        .leaf("SubnetGroupStatus", "Complete")
        .open("Subnets");
    for s in subnets {
        x.open("Subnet")
            .leaf("SubnetIdentifier", s)
            .leaf("SubnetStatus", "Active")
            .close("Subnet");
    }
    x.close("Subnets").close("DBSubnetGroup");
    x.finish()
}

fn pg_err(e: String) -> ApiErr {
    err(
        500,
        "InternalFailure",
        format!("the local cloud's PostgreSQL refused: {e}"),
    )
}

/// `16` -> `16.8`: a full version for a pinned major.
fn full_version(v: &str) -> Result<String, String> {
    if v.contains('.') {
        return Ok(v.to_string());
    }
    Ok(match v {
        "13" => "13.20",
        "14" => "14.17",
        "15" => "15.12",
        "16" => "16.8",
        "17" => "17.4",
        other => return Err(format!("Cannot find version {other} for postgres")),
    }
    .to_string())
}

fn iso(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.to_offset(time::UtcOffset::UTC)
        .format(&f)
        .unwrap_or_default()
}

fn stamp(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day]-[hour]-[minute]");
    t.format(&f).unwrap_or_default()
}
