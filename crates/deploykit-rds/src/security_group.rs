//! The database's security group: `<instance>-db`, in the VPC of the app's security group
//! (and of the DB subnet group's subnets), with exactly one ingress rule: TCP 5432 from the
//! app's security group. Never a CIDR; an open rule (`0.0.0.0/0`, `::/0`) found on it is
//! revoked and reported.
//!
//! [`plan_ingress`] and [`security_group_drift`] are pure; [`Rds::security_group_status`]
//! reads, [`Rds::ensure_security_group`] creates, authorizes and revokes.

use std::collections::BTreeSet;

use deploykit_report::{Event, Reporter, StepTimer};
use serde::Serialize;

use crate::ec2::{
    Filter, IpPermission, IpRange, Ipv6Range, PrefixListId, SecurityGroup, UserIdGroupPair,
};
use crate::spec::{DbSpec, Drift, Fix, PORT, Severity, check_security_group};
use crate::{Rds, RdsError};

/// The database port as EC2 wants it.
const DB_PORT: i32 = PORT as i32;

/// The name of the security group deploykit manages for `instance`.
pub fn db_security_group_name(instance: &str) -> String {
    format!("{instance}-db")
}

/// Where an ingress rule admits traffic from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Source {
    /// Another security group (UserIdGroupPairs).
    Group(String),
    Cidr(String),
    CidrV6(String),
    PrefixList(String),
}

impl Source {
    /// `0.0.0.0/0` or `::/0`: the whole internet.
    pub fn is_open(&self) -> bool {
        match self {
            Source::Cidr(c) => c.trim() == "0.0.0.0/0",
            Source::CidrV6(c) => c.trim() == "::/0",
            _ => false,
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Group(g) | Source::Cidr(g) | Source::CidrV6(g) | Source::PrefixList(g) => {
                f.write_str(g)
            }
        }
    }
}

/// One ingress permission with one source (EC2's IpPermission, flattened).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct IngressRule {
    /// `tcp`, `udp`, `icmp`, or `-1` (all traffic).
    pub protocol: String,
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
    pub source: Source,
}

impl IngressRule {
    /// The one rule the database group should have: TCP 5432 from `group`.
    pub fn postgres_from(group: &str) -> Self {
        IngressRule {
            protocol: "tcp".into(),
            from_port: Some(DB_PORT),
            to_port: Some(DB_PORT),
            source: Source::Group(group.into()),
        }
    }
}

impl std::fmt::Display for IngressRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.protocol == "-1" {
            return write!(f, "all traffic from {}", self.source);
        }
        match (self.from_port, self.to_port) {
            (Some(a), Some(b)) if a == b => write!(f, "{} {a}", self.protocol)?,
            (Some(a), Some(b)) => write!(f, "{} {a}-{b}", self.protocol)?,
            _ => write!(f, "{}", self.protocol)?,
        }
        write!(f, " from {}", self.source)
    }
}

/// What the database group looks like now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecurityGroupState {
    pub group_id: String,
    pub group_name: String,
    pub vpc_id: String,
    pub ingress: Vec<IngressRule>,
}

/// The ingress changes that make the group admit exactly TCP 5432 from the app's group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IngressPlan {
    pub authorize: Vec<IngressRule>,
    pub revoke: Vec<IngressRule>,
}

impl IngressPlan {
    pub fn is_empty(&self) -> bool {
        self.authorize.is_empty() && self.revoke.is_empty()
    }

    /// The revoked rules that were open to the whole internet.
    pub fn open(&self) -> Vec<&IngressRule> {
        self.revoke.iter().filter(|r| r.source.is_open()).collect()
    }
}

/// Decides the ingress changes. Pure: `current` comes from DescribeSecurityGroups (duplicates
/// are fine). Everything but TCP 5432 from `app_group` is revoked; refused when `app_group`
/// is not a security group id or is the database group itself.
pub fn plan_ingress(
    db_group: Option<&str>,
    app_group: &str,
    current: &[IngressRule],
) -> Result<IngressPlan, RdsError> {
    check_security_group("app_security_group", app_group)?;
    if db_group == Some(app_group) {
        return Err(RdsError::SecurityGroup {
            group: app_group.into(),
            reason: "app_security_group is the database's own security group, so no app instance would be allowed in".into(),
            fix: "set [database] app_security_group to the app's group (EB instances or the App Runner VPC connector)".into(),
        });
    }
    let want = IngressRule::postgres_from(app_group);
    let current: BTreeSet<&IngressRule> = current.iter().collect();
    let mut plan = IngressPlan::default();
    if !current.contains(&want) {
        plan.authorize.push(want.clone());
    }
    plan.revoke = current
        .into_iter()
        .filter(|r| **r != want)
        .cloned()
        .collect();
    // Open rules first: they are the ones that matter.
    plan.revoke.sort_by_key(|r| !r.source.is_open());
    Ok(plan)
}

/// The drift of the database group, in `db status`'s terms: a missing group, or ingress that
/// is not exactly "TCP 5432 from the app's group" (critical when open to the internet).
pub fn security_group_drift(
    group_name: &str,
    app_group: &str,
    group: Option<&SecurityGroupState>,
    plan: &IngressPlan,
) -> Vec<Drift> {
    let want = format!("{} only", IngressRule::postgres_from(app_group));
    let fix = Fix::SecurityGroup {
        authorize: plan.authorize.clone(),
        revoke: plan.revoke.clone(),
    };
    let Some(g) = group else {
        return vec![Drift {
            setting: "db_security_group",
            current: format!(
                "missing (no group {group_name}; the instance is reachable as its current groups allow)"
            ),
            recommended: format!("{group_name} with {want}"),
            severity: Severity::Warn,
            fix,
        }];
    };
    if plan.is_empty() {
        return Vec::new();
    }
    let mut rules: Vec<String> = g.ingress.iter().map(ToString::to_string).collect();
    rules.sort();
    rules.dedup();
    vec![Drift {
        setting: "db_security_group_ingress",
        current: format!(
            "{} ({}) admits {}",
            g.group_name,
            g.group_id,
            if rules.is_empty() {
                "nothing".to_string()
            } else {
                rules.join(", ")
            }
        ),
        recommended: want,
        severity: if plan.open().is_empty() {
            Severity::Warn
        } else {
            Severity::Critical
        },
        fix,
    }]
}

/// What `db status` (and `db create --dry-run`) found about the database group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecurityGroupReport {
    pub group_name: String,
    pub app_group: String,
    pub vpc_id: String,
    /// `None`: not created yet.
    pub group: Option<SecurityGroupState>,
    pub plan: IngressPlan,
}

impl SecurityGroupReport {
    pub fn drift(&self) -> Vec<Drift> {
        security_group_drift(
            &self.group_name,
            &self.app_group,
            self.group.as_ref(),
            &self.plan,
        )
    }
}

/// What [`Rds::ensure_security_group`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecurityGroupOutcome {
    pub group_id: String,
    pub group_name: String,
    pub vpc_id: String,
    pub app_group: String,
    pub created: bool,
    pub authorized: Vec<IngressRule>,
    pub revoked: Vec<IngressRule>,
}

impl SecurityGroupOutcome {
    pub fn changed(&self) -> bool {
        self.created || !self.authorized.is_empty() || !self.revoked.is_empty()
    }
}

/// EC2's IpPermissions, flattened to one rule per source.
pub fn ingress_rules(perms: &[IpPermission]) -> Vec<IngressRule> {
    let mut out = Vec::new();
    for p in perms {
        let protocol = match p.ip_protocol.as_deref().map(str::trim).unwrap_or("-1") {
            "6" => "tcp",
            "17" => "udp",
            "1" => "icmp",
            other => other,
        }
        .to_string();
        let (from_port, to_port) = if protocol == "-1" {
            (None, None)
        } else {
            (p.from_port, p.to_port)
        };
        let mut push = |source| {
            out.push(IngressRule {
                protocol: protocol.clone(),
                from_port,
                to_port,
                source,
            })
        };
        let ids = |v: Option<&String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        for g in p.user_id_group_pairs.iter() {
            if let Some(id) = ids(g.group_id.as_ref()) {
                push(Source::Group(id));
            }
        }
        for r in p.ip_ranges.iter() {
            if let Some(c) = ids(r.cidr_ip.as_ref()) {
                push(Source::Cidr(c));
            }
        }
        for r in p.ipv6_ranges.iter() {
            if let Some(c) = ids(r.cidr_ipv6.as_ref()) {
                push(Source::CidrV6(c));
            }
        }
        for r in p.prefix_list_ids.iter() {
            if let Some(c) = ids(r.prefix_list_id.as_ref()) {
                push(Source::PrefixList(c));
            }
        }
    }
    out
}

/// The permission that authorizes (or revokes) exactly `rule`.
fn ip_permission(rule: &IngressRule, description: Option<&str>) -> IpPermission {
    let mut p = IpPermission {
        ip_protocol: Some(rule.protocol.clone()),
        ..IpPermission::default()
    };
    if rule.protocol != "-1" {
        p.from_port = rule.from_port;
        p.to_port = rule.to_port;
    }
    let description = description.map(str::to_string);
    match &rule.source {
        Source::Group(g) => {
            p.user_id_group_pairs = vec![UserIdGroupPair {
                group_id: Some(g.clone()),
                user_id: None,
                description,
            }]
            .into()
        }
        Source::Cidr(c) => {
            p.ip_ranges = vec![IpRange {
                cidr_ip: Some(c.clone()),
                description: None,
            }]
            .into()
        }
        Source::CidrV6(c) => {
            p.ipv6_ranges = vec![Ipv6Range {
                cidr_ipv6: Some(c.clone()),
                description: None,
            }]
            .into()
        }
        Source::PrefixList(c) => {
            p.prefix_list_ids = vec![PrefixListId {
                prefix_list_id: Some(c.clone()),
                description: None,
            }]
            .into()
        }
    }
    p
}

fn group_state(g: &SecurityGroup) -> SecurityGroupState {
    SecurityGroupState {
        group_id: g.group_id.clone().unwrap_or_default(),
        group_name: g.group_name.clone().unwrap_or_default(),
        vpc_id: g.vpc_id.clone().unwrap_or_default(),
        ingress: ingress_rules(&g.ip_permissions.items),
    }
}

impl Rds {
    /// The app's group (it must exist) and its VPC.
    async fn app_group_vpc(&self, app: &str) -> Result<String, RdsError> {
        let out = self.ec2.describe_security_groups(&[app], &[]).await;
        let not_found = || {
            RdsError::SecurityGroup {
            group: app.into(),
            reason: "the app's security group does not exist in this account and region".into(),
            fix: "set [database] app_security_group to the group of the app's instances (EB) or VPC connector (App Runner); the EC2 console lists the account's security groups".into(),
        }
        };
        match out {
            Ok(groups) => groups
                .first()
                .and_then(|g| g.vpc_id.clone())
                .filter(|v| !v.is_empty())
                .ok_or_else(not_found),
            Err(e) if e.code.as_deref() == Some("InvalidGroup.NotFound") => Err(not_found()),
            Err(e) => Err(RdsError::ec2("DescribeSecurityGroups", app, e)),
        }
    }

    /// The VPC the database group belongs in: the app group's, which must also be the VPC of
    /// the DB subnet group's subnets (or, without a subnet group, the default VPC, where RDS
    /// puts the instance).
    async fn db_vpc(&self, spec: &DbSpec, app: &str) -> Result<String, RdsError> {
        let vpc = self.app_group_vpc(app).await?;
        let (db_vpc, where_) = match &spec.subnet_group {
            Some(sg) => {
                let out = self
                    .rds
                    .describe_db_subnet_groups()
                    .db_subnet_group_name(sg)
                    .send()
                    .await
                    .map_err(|e| RdsError::aws("DescribeDBSubnetGroups", sg, &e))?;
                let subnets: Vec<String> = out
                    .db_subnet_groups()
                    .iter()
                    .flat_map(|g| g.subnets())
                    .filter_map(|s| s.subnet_identifier())
                    .map(str::to_string)
                    .collect();
                if subnets.is_empty() {
                    return Ok(vpc);
                }
                let out = self
                    .ec2
                    .describe_subnets(&subnets, &[])
                    .await
                    .map_err(|e| RdsError::ec2("DescribeSubnets", sg, e))?;
                let vpcs: BTreeSet<&str> = out
                    .iter()
                    .filter_map(|s| s.vpc_id.as_deref())
                    .filter(|v| !v.is_empty())
                    .collect();
                (
                    vpcs.into_iter().next().map(str::to_string),
                    format!("the subnets of DB subnet group {sg}"),
                )
            }
            None => {
                let out = self
                    .ec2
                    .describe_vpcs(&[Filter::new("isDefault", "true")])
                    .await
                    .map_err(|e| RdsError::ec2("DescribeVpcs", "default VPC", e))?;
                (
                    out.first()
                        .and_then(|v| v.vpc_id.clone())
                        .filter(|v| !v.is_empty()),
                    "the default VPC (no [database] subnet_group)".to_string(),
                )
            }
        };
        match db_vpc {
            Some(d) if d == vpc => Ok(vpc),
            other => Err(RdsError::SecurityGroup {
                group: app.into(),
                reason: format!(
                    "the app's security group is in {vpc}, but the database would be in {} ({where_}); a group only admits groups of its own VPC",
                    other.as_deref().unwrap_or("no VPC")
                ),
                fix: format!(
                    "set [database] subnet_group to a DB subnet group with subnets in {vpc}, or app_security_group to a group in the database's VPC"
                ),
            }),
        }
    }

    async fn find_db_group(
        &self,
        name: &str,
        vpc: &str,
    ) -> Result<Option<SecurityGroupState>, RdsError> {
        let out = self
            .ec2
            .describe_security_groups(
                &[],
                &[Filter::new("group-name", name), Filter::new("vpc-id", vpc)],
            )
            .await
            .map_err(|e| RdsError::ec2("DescribeSecurityGroups", name, e))?;
        Ok(out.first().map(group_state))
    }

    /// Reads the database group and plans its ingress; `None` without `app_security_group`
    /// (no group is managed then). Changes nothing.
    pub async fn security_group_status(
        &self,
        spec: &DbSpec,
    ) -> Result<Option<SecurityGroupReport>, RdsError> {
        let Some(app) = spec.app_security_group.as_deref() else {
            return Ok(None);
        };
        check_security_group("app_security_group", app)?;
        let vpc_id = self.db_vpc(spec, app).await?;
        let group_name = db_security_group_name(&spec.identifier);
        let group = self.find_db_group(&group_name, &vpc_id).await?;
        let plan = plan_ingress(
            group.as_ref().map(|g| g.group_id.as_str()),
            app,
            group.as_ref().map(|g| g.ingress.as_slice()).unwrap_or(&[]),
        )?;
        Ok(Some(SecurityGroupReport {
            group_name,
            app_group: app.into(),
            vpc_id,
            group,
            plan,
        }))
    }

    /// Creates the database group when missing and makes its ingress exactly TCP 5432 from the
    /// app's group (authorizing it, revoking everything else, open rules reported). `None`
    /// without `app_security_group`. Running it twice changes nothing the second time.
    pub async fn ensure_security_group(
        &self,
        spec: &DbSpec,
        r: &dyn Reporter,
    ) -> Result<Option<SecurityGroupOutcome>, RdsError> {
        let Some(rep) = self.security_group_status(spec).await? else {
            return Ok(None);
        };
        let name = rep.group_name.clone();
        let app = rep.app_group.clone();
        let (group_id, created, plan) = match &rep.group {
            Some(g) => (g.group_id.clone(), false, rep.plan.clone()),
            None => {
                let (id, created) = self
                    .create_db_group(&name, &rep.vpc_id, &spec.identifier, &app, r)
                    .await?;
                // A new group has no ingress; an adopted one (lost race) is read again.
                let current = if created {
                    Vec::new()
                } else {
                    self.find_db_group(&name, &rep.vpc_id)
                        .await?
                        .map(|g| g.ingress)
                        .unwrap_or_default()
                };
                (
                    id.clone(),
                    created,
                    plan_ingress(Some(&id), &app, &current)?,
                )
            }
        };
        if plan.is_empty() {
            r.report(Event::StepSkipped {
                step: "db-security-group".into(),
                reason: format!("{name} ({group_id}) already admits only tcp 5432 from {app}"),
            });
        } else {
            let t = StepTimer::start(
                r,
                "db-security-group",
                format!("Setting the ingress of {name} ({group_id}) to tcp 5432 from {app} only"),
            );
            for rule in &plan.authorize {
                self.authorize(&group_id, rule).await?;
            }
            for rule in &plan.revoke {
                self.revoke(&group_id, rule).await?;
                if rule.source.is_open() {
                    r.report(Event::warn(format!(
                        "revoked an open rule on {name} ({group_id}): {rule} (the database must not be reachable from the internet)"
                    )));
                } else {
                    r.report(Event::info(format!(
                        "revoked {rule} on {name} ({group_id}): only the app's group may connect"
                    )));
                }
            }
            t.finish(
                r,
                format!(
                    "{name}: authorized {}, revoked {}",
                    plan.authorize.len(),
                    plan.revoke.len()
                ),
            );
        }
        Ok(Some(SecurityGroupOutcome {
            group_id,
            group_name: name,
            vpc_id: rep.vpc_id,
            app_group: app,
            created,
            authorized: plan.authorize,
            revoked: plan.revoke,
        }))
    }

    /// Creates the group; adopts it when another run created it first. `(id, created)`.
    async fn create_db_group(
        &self,
        name: &str,
        vpc: &str,
        instance: &str,
        app: &str,
        r: &dyn Reporter,
    ) -> Result<(String, bool), RdsError> {
        let t = StepTimer::start(
            r,
            "db-security-group",
            format!("Creating security group {name} in {vpc}"),
        );
        let description = format!(
            "PostgreSQL {PORT} of RDS instance {instance}, from the app's group {app} only (managed by deploykit)"
        );
        let tags = [
            ("Name", name),
            ("managed-by", "deploykit"),
            ("deploykit:db-instance", instance),
        ];
        let out = self
            .ec2
            .create_security_group(name, &description, vpc, &tags)
            .await;
        match out {
            Ok(id) => {
                t.finish(r, format!("created {name} ({id})"));
                Ok((id, true))
            }
            Err(e) if e.code.as_deref() == Some("InvalidGroup.Duplicate") => {
                let g = match self.find_db_group(name, vpc).await? {
                    Some(g) => g,
                    None => return Err(RdsError::ec2("CreateSecurityGroup", name, e)),
                };
                t.finish(
                    r,
                    format!("{name} ({}) exists already; adopted it", g.group_id),
                );
                Ok((g.group_id, false))
            }
            Err(e) => Err(RdsError::ec2("CreateSecurityGroup", name, e)),
        }
    }

    async fn authorize(&self, group: &str, rule: &IngressRule) -> Result<(), RdsError> {
        let perm = ip_permission(rule, Some("PostgreSQL from the app (deploykit)"));
        match self
            .ec2
            .authorize_security_group_ingress(group, &[perm])
            .await
        {
            Ok(()) => Ok(()),
            // Someone (another run) added it meanwhile: that is what we want.
            Err(e) if e.code.as_deref() == Some("InvalidPermission.Duplicate") => Ok(()),
            Err(e) => Err(RdsError::ec2("AuthorizeSecurityGroupIngress", group, e)),
        }
    }

    async fn revoke(&self, group: &str, rule: &IngressRule) -> Result<(), RdsError> {
        let perm = ip_permission(rule, None);
        match self.ec2.revoke_security_group_ingress(group, &[perm]).await {
            Ok(()) => Ok(()),
            // Already gone: that is what we want.
            Err(e) if e.code.as_deref() == Some("InvalidPermission.NotFound") => Ok(()),
            Err(e) => Err(RdsError::ec2("RevokeSecurityGroupIngress", group, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = "sg-0123456789abcdef0";
    const DB: &str = "sg-0fedcba9876543210";

    fn rule(protocol: &str, ports: Option<(i32, i32)>, source: Source) -> IngressRule {
        IngressRule {
            protocol: protocol.into(),
            from_port: ports.map(|p| p.0),
            to_port: ports.map(|p| p.1),
            source,
        }
    }

    #[test]
    fn ingress_plan_table() {
        let want = IngressRule::postgres_from(APP);
        let open4 = rule("tcp", Some((5432, 5432)), Source::Cidr("0.0.0.0/0".into()));
        let open6 = rule("-1", None, Source::CidrV6("::/0".into()));
        let vpc_cidr = rule(
            "tcp",
            Some((5432, 5432)),
            Source::Cidr("10.0.0.0/16".into()),
        );
        let other_sg = rule(
            "tcp",
            Some((5432, 5432)),
            Source::Group("sg-11111111".into()),
        );
        let wide_app = rule("tcp", Some((0, 65535)), Source::Group(APP.into()));
        // (name, current, authorize, revoke, open revoked)
        type Case = (
            &'static str,
            Vec<IngressRule>,
            Vec<IngressRule>,
            Vec<IngressRule>,
            usize,
        );
        let cases: Vec<Case> = vec![
            ("new group", vec![], vec![want.clone()], vec![], 0),
            ("as wanted", vec![want.clone()], vec![], vec![], 0),
            (
                "duplicate of the wanted rule is no change",
                vec![want.clone(), want.clone()],
                vec![],
                vec![],
                0,
            ),
            (
                "0.0.0.0/0 added by hand",
                vec![want.clone(), open4.clone()],
                vec![],
                vec![open4.clone()],
                1,
            ),
            (
                "::/0 all traffic, and no app rule",
                vec![open6.clone()],
                vec![want.clone()],
                vec![open6.clone()],
                1,
            ),
            (
                "a VPC CIDR is still a CIDR",
                vec![want.clone(), vpc_cidr.clone()],
                vec![],
                vec![vpc_cidr.clone()],
                0,
            ),
            (
                "another group and a wider port range from the app",
                vec![other_sg.clone(), wide_app.clone()],
                vec![want.clone()],
                vec![other_sg.clone(), wide_app.clone()],
                0,
            ),
            (
                "open rules are revoked first",
                vec![vpc_cidr.clone(), open4.clone(), want.clone(), open6.clone()],
                vec![],
                vec![open4.clone(), open6.clone(), vpc_cidr.clone()],
                2,
            ),
        ];
        for (name, current, authorize, revoke, open) in cases {
            let p = plan_ingress(Some(DB), APP, &current).unwrap();
            assert_eq!(p.authorize, authorize, "{name}");
            let (mut got, mut exp) = (p.revoke.clone(), revoke.clone());
            got.sort();
            exp.sort();
            assert_eq!(got, exp, "{name}");
            assert_eq!(p.open().len(), open, "{name}");
            assert!(
                p.revoke[..open].iter().all(|r| r.source.is_open()),
                "{name}: open first"
            );
            assert_eq!(p.is_empty(), authorize.is_empty() && revoke.is_empty());
            // Drift says the same thing: nothing when the plan is empty, critical when open.
            let g = SecurityGroupState {
                group_id: DB.into(),
                group_name: "budgetsync-db-db".into(),
                vpc_id: "vpc-1".into(),
                ingress: current.clone(),
            };
            let d = security_group_drift("budgetsync-db-db", APP, Some(&g), &p);
            assert_eq!(d.is_empty(), p.is_empty(), "{name}");
            if let Some(d) = d.first() {
                assert_eq!(d.setting, "db_security_group_ingress");
                assert_eq!(
                    d.severity,
                    if open > 0 {
                        Severity::Critical
                    } else {
                        Severity::Warn
                    },
                    "{name}"
                );
                assert!(
                    d.to_string().contains("ensuring the database fixes it"),
                    "{d}"
                );
            }
        }
    }

    #[test]
    fn refusals_and_a_missing_group() {
        for bad in ["0.0.0.0/0", "::/0", "10.0.0.0/8", "sg-nothex"] {
            let e = plan_ingress(None, bad, &[]).unwrap_err();
            assert!(
                matches!(
                    e,
                    RdsError::InvalidSpec {
                        field: "app_security_group",
                        ..
                    }
                ),
                "{bad}: {e}"
            );
        }
        let e = plan_ingress(Some(APP), APP, &[]).unwrap_err();
        assert!(matches!(e, RdsError::SecurityGroup { .. }), "{e}");
        assert!(e.to_string().contains("own security group"), "{e}");

        let p = plan_ingress(None, APP, &[]).unwrap();
        let d = security_group_drift("x-db", APP, None, &p);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].setting, "db_security_group");
        assert!(
            d[0].recommended
                .contains(&format!("x-db with tcp 5432 from {APP} only")),
            "{}",
            d[0]
        );
    }

    #[test]
    fn ec2_permissions_flatten_to_one_rule_per_source() {
        let perms = vec![
            IpPermission {
                ip_protocol: Some("6".into()),
                from_port: Some(5432),
                to_port: Some(5432),
                user_id_group_pairs: vec![UserIdGroupPair {
                    group_id: Some(APP.into()),
                    ..Default::default()
                }]
                .into(),
                ip_ranges: vec![IpRange {
                    cidr_ip: Some("0.0.0.0/0".into()),
                    description: None,
                }]
                .into(),
                ..Default::default()
            },
            IpPermission {
                ip_protocol: Some("-1".into()),
                from_port: Some(-1),
                to_port: Some(-1),
                ipv6_ranges: vec![Ipv6Range {
                    cidr_ipv6: Some("::/0".into()),
                    description: None,
                }]
                .into(),
                ..Default::default()
            },
            // Blank sources (as an empty element reads) are no rule.
            IpPermission {
                ip_protocol: Some("tcp".into()),
                from_port: Some(22),
                to_port: Some(22),
                ip_ranges: vec![IpRange::default()].into(),
                ..Default::default()
            },
        ];
        let rules = ingress_rules(&perms);
        assert_eq!(
            rules,
            vec![
                IngressRule::postgres_from(APP),
                rule("tcp", Some((5432, 5432)), Source::Cidr("0.0.0.0/0".into())),
                rule("-1", None, Source::CidrV6("::/0".into())),
            ]
        );
        assert_eq!(rules[0].to_string(), format!("tcp 5432 from {APP}"));
        assert_eq!(rules[2].to_string(), "all traffic from ::/0");
        // And back: the permission carries the same rule.
        for r in &rules {
            assert_eq!(ingress_rules(&[ip_permission(r, None)]), vec![r.clone()]);
        }
        let pl = rule(
            "tcp",
            Some((5432, 5432)),
            Source::PrefixList("pl-12345678".into()),
        );
        assert_eq!(ingress_rules(&[ip_permission(&pl, Some("d"))]), vec![pl]);
    }
}
