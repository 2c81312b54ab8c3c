//! The EC2 calls this crate makes for the database's security group, typed, over
//! deploykit-aws's Query client ([`deploykit_aws::query`]) instead of the aws-sdk-ec2 crate:
//! DescribeSecurityGroups, DescribeVpcs, DescribeSubnets, CreateSecurityGroup (with its tags),
//! AuthorizeSecurityGroupIngress and RevokeSecurityGroupIngress. The deployer IAM policy
//! (deploykit-iam) lists exactly these actions; its test finds them here by their
//! `.call("Action", ..)` shape.
//!
//! Request parameters follow EC2's Query serialization (`Filter.1.Value.1`,
//! `IpPermissions.1.Groups.1.GroupId`, `TagSpecification.1.Tag.1.Key`); answers are read into
//! the serde types below (element names as EC2 writes them: `securityGroupInfo`, `item`, ...).
//! Failures are [`Classified`] by EC2 error code.

use aws_types::SdkConfig;
use deploykit_aws::query::{List, Params, QueryClient, Service, parse};
use deploykit_aws::{Classified, ErrorKind};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Pages read at most from one Describe call (EC2 pages only when asked to; this bounds a
/// misbehaving endpoint).
const MAX_PAGES: usize = 100;

/// A `Filter.N`: a name and the values any of which matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub name: String,
    pub values: Vec<String>,
}

impl Filter {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Filter {
            name: name.into(),
            values: vec![value.into()],
        }
    }
}

/// A security group as DescribeSecurityGroups answers it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityGroup {
    pub group_id: Option<String>,
    pub group_name: Option<String>,
    #[serde(rename = "groupDescription")]
    pub description: Option<String>,
    pub vpc_id: Option<String>,
    pub owner_id: Option<String>,
    /// Ingress.
    #[serde(default)]
    pub ip_permissions: List<IpPermission>,
    #[serde(default)]
    pub tag_set: List<Tag>,
}

/// One permission: a protocol, a port range and its sources (EC2's IpPermission).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpPermission {
    /// `tcp`, `udp`, `icmp`, a protocol number, or `-1` (all).
    pub ip_protocol: Option<String>,
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
    /// Other security groups (`UserIdGroupPairs`; `groups` on the wire).
    #[serde(rename = "groups", default)]
    pub user_id_group_pairs: List<UserIdGroupPair>,
    #[serde(default)]
    pub ip_ranges: List<IpRange>,
    #[serde(default)]
    pub ipv6_ranges: List<Ipv6Range>,
    #[serde(default)]
    pub prefix_list_ids: List<PrefixListId>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdGroupPair {
    pub group_id: Option<String>,
    pub user_id: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpRange {
    pub cidr_ip: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ipv6Range {
    pub cidr_ipv6: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrefixListId {
    pub prefix_list_id: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Tag {
    pub key: Option<String>,
    pub value: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vpc {
    pub vpc_id: Option<String>,
    pub is_default: Option<bool>,
    pub cidr_block: Option<String>,
    pub state: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subnet {
    pub subnet_id: Option<String>,
    pub vpc_id: Option<String>,
    pub availability_zone: Option<String>,
    pub cidr_block: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeSecurityGroupsResponse {
    #[serde(default)]
    security_group_info: List<SecurityGroup>,
    next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeVpcsResponse {
    #[serde(default)]
    vpc_set: List<Vpc>,
    next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeSubnetsResponse {
    #[serde(default)]
    subnet_set: List<Subnet>,
    next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateSecurityGroupResponse {
    group_id: Option<String>,
}

/// Authorize/Revoke: `<return>true</return>`.
#[derive(Debug, Deserialize)]
struct ReturnResponse {
    #[serde(rename = "return")]
    ok: Option<bool>,
}

/// `Filter.N.Name` / `Filter.N.Value.M`.
pub fn filter_params(p: &mut Params, filters: &[Filter]) {
    for (i, f) in filters.iter().enumerate() {
        let n = i + 1;
        p.set(format!("Filter.{n}.Name"), &f.name);
        p.list(&format!("Filter.{n}.Value"), &f.values);
    }
}

/// `IpPermissions.N.*` for each permission, with its sources numbered from 1.
pub fn ip_permission_params(p: &mut Params, perms: &[IpPermission]) {
    for (i, perm) in perms.iter().enumerate() {
        let pre = format!("IpPermissions.{}", i + 1);
        p.set_opt(format!("{pre}.IpProtocol"), perm.ip_protocol.as_deref());
        p.set_opt(format!("{pre}.FromPort"), perm.from_port);
        p.set_opt(format!("{pre}.ToPort"), perm.to_port);
        for (j, g) in perm.user_id_group_pairs.iter().enumerate() {
            let g_pre = format!("{pre}.Groups.{}", j + 1);
            p.set_opt(format!("{g_pre}.GroupId"), g.group_id.as_deref());
            p.set_opt(format!("{g_pre}.UserId"), g.user_id.as_deref());
            p.set_opt(format!("{g_pre}.Description"), g.description.as_deref());
        }
        for (j, r) in perm.ip_ranges.iter().enumerate() {
            let r_pre = format!("{pre}.IpRanges.{}", j + 1);
            p.set_opt(format!("{r_pre}.CidrIp"), r.cidr_ip.as_deref());
            p.set_opt(format!("{r_pre}.Description"), r.description.as_deref());
        }
        for (j, r) in perm.ipv6_ranges.iter().enumerate() {
            let r_pre = format!("{pre}.Ipv6Ranges.{}", j + 1);
            p.set_opt(format!("{r_pre}.CidrIpv6"), r.cidr_ipv6.as_deref());
            p.set_opt(format!("{r_pre}.Description"), r.description.as_deref());
        }
        for (j, r) in perm.prefix_list_ids.iter().enumerate() {
            let r_pre = format!("{pre}.PrefixListIds.{}", j + 1);
            p.set_opt(format!("{r_pre}.PrefixListId"), r.prefix_list_id.as_deref());
            p.set_opt(format!("{r_pre}.Description"), r.description.as_deref());
        }
    }
}

/// The parameters of CreateSecurityGroup, tags included (one TagSpecification, resource type
/// `security-group`, so the group never exists untagged).
pub fn create_security_group_params(
    name: &str,
    description: &str,
    vpc_id: &str,
    tags: &[(&str, &str)],
) -> Params {
    let mut p = Params::new();
    p.set("GroupName", name)
        .set("GroupDescription", description)
        .set("VpcId", vpc_id);
    if !tags.is_empty() {
        p.set("TagSpecification.1.ResourceType", "security-group");
        for (i, (k, v)) in tags.iter().enumerate() {
            p.set(format!("TagSpecification.1.Tag.{}.Key", i + 1), k);
            p.set(format!("TagSpecification.1.Tag.{}.Value", i + 1), v);
        }
    }
    p
}

fn read<T: DeserializeOwned>(
    action: &str,
    body: Result<String, Classified>,
) -> Result<T, Classified> {
    parse(action, &body?)
}

/// Every page of a Describe call: `page` sends one request (with `NextToken` from the second
/// page on) and returns its items and the next token.
async fn all_pages<T>(
    params: Params,
    mut page: impl AsyncFnMut(Params) -> Result<(Vec<T>, Option<String>), Classified>,
) -> Result<Vec<T>, Classified> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut p = params.clone();
        p.set_opt("NextToken", token.as_deref());
        let (items, next) = page(p).await?;
        out.extend(items);
        match next.filter(|t| !t.trim().is_empty()) {
            Some(t) => token = Some(t),
            None => return Ok(out),
        }
    }
    Err(Classified {
        kind: ErrorKind::Other,
        code: None,
        message: Some(format!("still more pages after {MAX_PAGES}")),
        request_id: None,
    })
}

/// The EC2 client of this crate.
#[derive(Debug, Clone)]
pub struct Ec2 {
    q: QueryClient,
}

impl Ec2 {
    pub fn new(config: &SdkConfig) -> Self {
        Ec2 {
            q: QueryClient::new(config, Service::EC2),
        }
    }

    /// The Query client underneath, for calls this type does not wrap (tests clean up with it).
    pub fn query(&self) -> &QueryClient {
        &self.q
    }

    pub async fn describe_security_groups(
        &self,
        group_ids: &[&str],
        filters: &[Filter],
    ) -> Result<Vec<SecurityGroup>, Classified> {
        let mut p = Params::new();
        p.list("GroupId", group_ids);
        filter_params(&mut p, filters);
        all_pages(p, async |p| {
            let r: DescribeSecurityGroupsResponse = read(
                "DescribeSecurityGroups",
                self.q.call("DescribeSecurityGroups", &p).await,
            )?;
            Ok((r.security_group_info.into(), r.next_token))
        })
        .await
    }

    pub async fn describe_vpcs(&self, filters: &[Filter]) -> Result<Vec<Vpc>, Classified> {
        let mut p = Params::new();
        filter_params(&mut p, filters);
        all_pages(p, async |p| {
            let r: DescribeVpcsResponse =
                read("DescribeVpcs", self.q.call("DescribeVpcs", &p).await)?;
            Ok((r.vpc_set.into(), r.next_token))
        })
        .await
    }

    pub async fn describe_subnets(
        &self,
        subnet_ids: &[String],
        filters: &[Filter],
    ) -> Result<Vec<Subnet>, Classified> {
        let mut p = Params::new();
        p.list("SubnetId", subnet_ids);
        filter_params(&mut p, filters);
        all_pages(p, async |p| {
            let r: DescribeSubnetsResponse =
                read("DescribeSubnets", self.q.call("DescribeSubnets", &p).await)?;
            Ok((r.subnet_set.into(), r.next_token))
        })
        .await
    }

    /// Creates the group with its tags; returns its id.
    pub async fn create_security_group(
        &self,
        name: &str,
        description: &str,
        vpc_id: &str,
        tags: &[(&str, &str)],
    ) -> Result<String, Classified> {
        let p = create_security_group_params(name, description, vpc_id, tags);
        let r: CreateSecurityGroupResponse = read(
            "CreateSecurityGroup",
            self.q.call("CreateSecurityGroup", &p).await,
        )?;
        r.group_id
            .filter(|g| !g.is_empty())
            .ok_or_else(|| Classified {
                kind: ErrorKind::Other,
                code: None,
                message: Some("the CreateSecurityGroup answer carries no groupId".into()),
                request_id: None,
            })
    }

    pub async fn authorize_security_group_ingress(
        &self,
        group_id: &str,
        perms: &[IpPermission],
    ) -> Result<(), Classified> {
        let mut p = Params::new();
        p.set("GroupId", group_id);
        ip_permission_params(&mut p, perms);
        let r: ReturnResponse = read(
            "AuthorizeSecurityGroupIngress",
            self.q.call("AuthorizeSecurityGroupIngress", &p).await,
        )?;
        returned("AuthorizeSecurityGroupIngress", r)
    }

    pub async fn revoke_security_group_ingress(
        &self,
        group_id: &str,
        perms: &[IpPermission],
    ) -> Result<(), Classified> {
        let mut p = Params::new();
        p.set("GroupId", group_id);
        ip_permission_params(&mut p, perms);
        let r: ReturnResponse = read(
            "RevokeSecurityGroupIngress",
            self.q.call("RevokeSecurityGroupIngress", &p).await,
        )?;
        returned("RevokeSecurityGroupIngress", r)
    }
}

/// `<return>false</return>` is a refusal without an error code.
fn returned(action: &str, r: ReturnResponse) -> Result<(), Classified> {
    match r.ok {
        Some(false) => Err(Classified {
            kind: ErrorKind::Other,
            code: None,
            message: Some(format!("{action} answered return=false")),
            request_id: None,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
#[path = "ec2_tests.rs"]
mod tests;
