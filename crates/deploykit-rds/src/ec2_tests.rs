//! Request encoding and answer parsing against EC2's real shapes: the fixtures follow the
//! examples of the EC2 API reference (element names as the 2016-11-15 API writes them, checked
//! against the SDK's generated deserializers), plus moto's whitespace-heavy rendering.

use super::*;

fn pairs(p: &Params) -> Vec<(&str, &str)> {
    p.pairs()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

#[test]
fn filters_and_permissions_encode_as_numbered_lists() {
    let mut p = Params::new();
    filter_params(
        &mut p,
        &[
            Filter::new("group-name", "budgetsync-db"),
            Filter {
                name: "vpc-id".into(),
                values: vec!["vpc-1a2b3c4d".into(), "vpc-5e6f7a8b".into()],
            },
        ],
    );
    assert_eq!(
        pairs(&p),
        vec![
            ("Filter.1.Name", "group-name"),
            ("Filter.1.Value.1", "budgetsync-db"),
            ("Filter.2.Name", "vpc-id"),
            ("Filter.2.Value.1", "vpc-1a2b3c4d"),
            ("Filter.2.Value.2", "vpc-5e6f7a8b"),
        ]
    );

    let mut p = Params::new();
    ip_permission_params(
        &mut p,
        &[
            IpPermission {
                ip_protocol: Some("tcp".into()),
                from_port: Some(5432),
                to_port: Some(5432),
                user_id_group_pairs: vec![UserIdGroupPair {
                    group_id: Some("sg-0123456789abcdef0".into()),
                    description: Some("PostgreSQL from the app".into()),
                    ..Default::default()
                }]
                .into(),
                ip_ranges: vec![
                    IpRange {
                        cidr_ip: Some("0.0.0.0/0".into()),
                        description: None,
                    },
                    IpRange {
                        cidr_ip: Some("10.0.0.0/16".into()),
                        description: None,
                    },
                ]
                .into(),
                ..Default::default()
            },
            IpPermission {
                ip_protocol: Some("-1".into()),
                ipv6_ranges: vec![Ipv6Range {
                    cidr_ipv6: Some("::/0".into()),
                    description: None,
                }]
                .into(),
                prefix_list_ids: vec![PrefixListId {
                    prefix_list_id: Some("pl-12345678".into()),
                    description: None,
                }]
                .into(),
                ..Default::default()
            },
        ],
    );
    assert_eq!(
        pairs(&p),
        vec![
            ("IpPermissions.1.IpProtocol", "tcp"),
            ("IpPermissions.1.FromPort", "5432"),
            ("IpPermissions.1.ToPort", "5432"),
            ("IpPermissions.1.Groups.1.GroupId", "sg-0123456789abcdef0"),
            (
                "IpPermissions.1.Groups.1.Description",
                "PostgreSQL from the app"
            ),
            ("IpPermissions.1.IpRanges.1.CidrIp", "0.0.0.0/0"),
            ("IpPermissions.1.IpRanges.2.CidrIp", "10.0.0.0/16"),
            ("IpPermissions.2.IpProtocol", "-1"),
            ("IpPermissions.2.Ipv6Ranges.1.CidrIpv6", "::/0"),
            (
                "IpPermissions.2.PrefixListIds.1.PrefixListId",
                "pl-12345678"
            ),
        ]
    );
}

#[test]
fn create_security_group_carries_its_tags() {
    let p = create_security_group_params(
        "budgetsync-db-db",
        "PostgreSQL 5432 (managed by deploykit)",
        "vpc-1a2b3c4d",
        &[("Name", "budgetsync-db-db"), ("managed-by", "deploykit")],
    );
    assert_eq!(
        pairs(&p),
        vec![
            ("GroupName", "budgetsync-db-db"),
            ("GroupDescription", "PostgreSQL 5432 (managed by deploykit)"),
            ("VpcId", "vpc-1a2b3c4d"),
            ("TagSpecification.1.ResourceType", "security-group"),
            ("TagSpecification.1.Tag.1.Key", "Name"),
            ("TagSpecification.1.Tag.1.Value", "budgetsync-db-db"),
            ("TagSpecification.1.Tag.2.Key", "managed-by"),
            ("TagSpecification.1.Tag.2.Value", "deploykit"),
        ]
    );
    let untagged = create_security_group_params("a", "b", "vpc-1", &[]);
    assert!(
        untagged
            .pairs()
            .iter()
            .all(|(k, _)| !k.starts_with("TagSpecification"))
    );
}

/// The API reference's DescribeSecurityGroups example shape: a group with ingress from another
/// group, an IPv4 and an IPv6 range and a prefix list; egress; tags.
const DESCRIBE_SECURITY_GROUPS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeSecurityGroupsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
    <requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId>
    <securityGroupInfo>
        <item>
            <ownerId>123456789012</ownerId>
            <groupId>sg-1a2b3c4d</groupId>
            <groupName>WebServers</groupName>
            <groupDescription>Web Servers</groupDescription>
            <vpcId>vpc-614cc409</vpcId>
            <ipPermissions>
                <item>
                    <ipProtocol>-1</ipProtocol>
                    <groups>
                        <item>
                            <userId>123456789012</userId>
                            <groupId>sg-af8661c0</groupId>
                        </item>
                    </groups>
                    <ipRanges/>
                    <prefixListIds/>
                </item>
                <item>
                    <ipProtocol>tcp</ipProtocol>
                    <fromPort>22</fromPort>
                    <toPort>22</toPort>
                    <groups/>
                    <ipRanges>
                        <item>
                            <cidrIp>204.246.162.38/32</cidrIp>
                            <description>admin</description>
                        </item>
                    </ipRanges>
                    <ipv6Ranges>
                        <item>
                            <cidrIpv6>::/0</cidrIpv6>
                        </item>
                    </ipv6Ranges>
                    <prefixListIds>
                        <item>
                            <prefixListId>pl-12345678</prefixListId>
                        </item>
                    </prefixListIds>
                </item>
            </ipPermissions>
            <ipPermissionsEgress>
                <item>
                    <ipProtocol>-1</ipProtocol>
                    <groups/>
                    <ipRanges>
                        <item>
                            <cidrIp>0.0.0.0/0</cidrIp>
                        </item>
                    </ipRanges>
                    <prefixListIds/>
                </item>
            </ipPermissionsEgress>
            <tagSet>
                <item>
                    <key>Name</key>
                    <value>WebServers</value>
                </item>
            </tagSet>
        </item>
        <item>
            <ownerId>123456789012</ownerId>
            <groupId>sg-2a2b3c4d</groupId>
            <groupName>empty</groupName>
            <groupDescription>no rules</groupDescription>
            <vpcId>vpc-614cc409</vpcId>
            <ipPermissions/>
            <ipPermissionsEgress/>
        </item>
    </securityGroupInfo>
</DescribeSecurityGroupsResponse>"#;

/// How moto renders one group: every list present, whitespace everywhere, empty lists as
/// whitespace-only elements.
const MOTO_SECURITY_GROUP: &str = r#"<DescribeSecurityGroupsResponse xmlns="http://ec2.amazonaws.com/doc/2013-10-15/">
   <requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId>
   <securityGroupInfo>
          <item>
             <ownerId>123456789012</ownerId>
             <groupId>sg-0fedcba9876543210</groupId>
             <groupName>budgetsync-db-db</groupName>
             <groupDescription>PostgreSQL 5432 of RDS instance budgetsync-db</groupDescription>
             <vpcId>vpc-1a2b3c4d</vpcId>
             <ipPermissions>
                    <item>
                       <ipProtocol>tcp</ipProtocol>
                       <fromPort>5432</fromPort>
                       <toPort>5432</toPort>
                       <groups>
                              <item>
                                 <userId>123456789012</userId>
                                 <groupId>sg-0123456789abcdef0</groupId>
                                 <description>PostgreSQL from the app (deploykit)</description>
                              </item>
                       </groups>
                       <ipRanges>
                       </ipRanges>
                       <ipv6Ranges>
                        </ipv6Ranges>
                        <prefixListIds>
                       </prefixListIds>
                    </item>
             </ipPermissions>
             <ipPermissionsEgress>
             </ipPermissionsEgress>
             <tagSet>
                 <item>
                   <key>managed-by</key>
                   <value>deploykit</value>
                 </item>
             </tagSet>
          </item>
   </securityGroupInfo>
</DescribeSecurityGroupsResponse>"#;

fn some(s: &str) -> Option<String> {
    Some(s.to_string())
}

#[test]
fn security_groups_parse_from_the_api_shape() {
    let r: DescribeSecurityGroupsResponse =
        parse("DescribeSecurityGroups", DESCRIBE_SECURITY_GROUPS).unwrap();
    assert_eq!(r.next_token, None);
    let groups: Vec<SecurityGroup> = r.security_group_info.into();
    assert_eq!(groups.len(), 2);
    let g = &groups[0];
    assert_eq!(
        (
            &g.group_id,
            &g.group_name,
            &g.description,
            &g.vpc_id,
            &g.owner_id
        ),
        (
            &some("sg-1a2b3c4d"),
            &some("WebServers"),
            &some("Web Servers"),
            &some("vpc-614cc409"),
            &some("123456789012")
        )
    );
    let perms = &g.ip_permissions.items;
    assert_eq!(perms.len(), 2, "egress is not ingress");
    assert_eq!(perms[0].ip_protocol, some("-1"));
    assert_eq!((perms[0].from_port, perms[0].to_port), (None, None));
    assert_eq!(
        perms[0].user_id_group_pairs.items,
        vec![UserIdGroupPair {
            group_id: some("sg-af8661c0"),
            user_id: some("123456789012"),
            description: None
        }]
    );
    assert!(perms[0].ip_ranges.items.is_empty() && perms[0].ipv6_ranges.items.is_empty());
    assert_eq!((perms[1].from_port, perms[1].to_port), (Some(22), Some(22)));
    assert_eq!(
        perms[1].ip_ranges.items,
        vec![IpRange {
            cidr_ip: some("204.246.162.38/32"),
            description: some("admin")
        }]
    );
    assert_eq!(perms[1].ipv6_ranges.items[0].cidr_ipv6, some("::/0"));
    assert_eq!(
        perms[1].prefix_list_ids.items[0].prefix_list_id,
        some("pl-12345678")
    );
    assert_eq!(
        g.tag_set.items,
        vec![Tag {
            key: some("Name"),
            value: some("WebServers")
        }]
    );
    assert!(groups[1].ip_permissions.items.is_empty() && groups[1].tag_set.items.is_empty());

    let r: DescribeSecurityGroupsResponse =
        parse("DescribeSecurityGroups", MOTO_SECURITY_GROUP).unwrap();
    let g = &r.security_group_info.items[0];
    let p = &g.ip_permissions.items[0];
    assert_eq!(
        (p.ip_protocol.as_deref(), p.from_port, p.to_port),
        (Some("tcp"), Some(5432), Some(5432))
    );
    assert_eq!(
        p.user_id_group_pairs.items[0].group_id,
        some("sg-0123456789abcdef0")
    );
    assert!(
        p.ip_ranges.items.is_empty()
            && p.ipv6_ranges.items.is_empty()
            && p.prefix_list_ids.items.is_empty()
    );
    assert_eq!(g.tag_set.items[0].key, some("managed-by"));

    let none: DescribeSecurityGroupsResponse = parse(
        "DescribeSecurityGroups",
        r#"<DescribeSecurityGroupsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><securityGroupInfo/></DescribeSecurityGroupsResponse>"#,
    )
    .unwrap();
    assert!(none.security_group_info.items.is_empty());
}

/// The API reference's DescribeVpcs example shape (nested `item` lists inside a VPC item).
const DESCRIBE_VPCS: &str = r#"<DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</requestId>
  <vpcSet>
    <item>
      <vpcId>vpc-0e9801d129EXAMPLE</vpcId>
      <ownerId>123456789012</ownerId>
      <state>available</state>
      <cidrBlock>10.0.0.0/16</cidrBlock>
      <cidrBlockAssociationSet>
        <item>
          <cidrBlock>10.0.0.0/16</cidrBlock>
          <associationId>vpc-cidr-assoc-062c64cfafEXAMPLE</associationId>
          <cidrBlockState>
            <state>associated</state>
          </cidrBlockState>
        </item>
      </cidrBlockAssociationSet>
      <dhcpOptionsId>dopt-19edf471</dhcpOptionsId>
      <instanceTenancy>default</instanceTenancy>
      <isDefault>false</isDefault>
      <tagSet>
        <item>
          <key>Name</key>
          <value>Not Shared</value>
        </item>
      </tagSet>
    </item>
    <item>
      <vpcId>vpc-06e4ab6c6cEXAMPLE</vpcId>
      <state>available</state>
      <cidrBlock>172.31.0.0/16</cidrBlock>
      <isDefault>true</isDefault>
    </item>
  </vpcSet>
  <nextToken>token-2</nextToken>
</DescribeVpcsResponse>"#;

/// The API reference's DescribeSubnets example shape.
const DESCRIBE_SUBNETS: &str = r#"<DescribeSubnetsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</requestId>
  <subnetSet>
    <item>
      <subnetId>subnet-9d4a7b6c</subnetId>
      <subnetArn>arn:aws:ec2:us-east-1:123456789012:subnet/subnet-9d4a7b6c</subnetArn>
      <state>available</state>
      <ownerId>123456789012</ownerId>
      <vpcId>vpc-1a2b3c4d</vpcId>
      <cidrBlock>10.0.1.0/24</cidrBlock>
      <ipv6CidrBlockAssociationSet/>
      <availableIpAddressCount>251</availableIpAddressCount>
      <availabilityZone>us-east-1a</availabilityZone>
      <defaultForAz>false</defaultForAz>
      <mapPublicIpOnLaunch>false</mapPublicIpOnLaunch>
      <tagSet/>
    </item>
  </subnetSet>
</DescribeSubnetsResponse>"#;

#[test]
fn vpcs_subnets_and_write_answers_parse() {
    let r: DescribeVpcsResponse = parse("DescribeVpcs", DESCRIBE_VPCS).unwrap();
    assert_eq!(r.next_token, some("token-2"));
    let vpcs: Vec<Vpc> = r.vpc_set.into();
    assert_eq!(
        vpcs.iter()
            .map(|v| (v.vpc_id.as_deref(), v.is_default))
            .collect::<Vec<_>>(),
        vec![
            (Some("vpc-0e9801d129EXAMPLE"), Some(false)),
            (Some("vpc-06e4ab6c6cEXAMPLE"), Some(true))
        ]
    );
    assert_eq!(
        vpcs[0].state,
        some("available"),
        "the VPC's state, not its CIDR association's"
    );
    assert_eq!(vpcs[0].cidr_block, some("10.0.0.0/16"));

    let r: DescribeSubnetsResponse = parse("DescribeSubnets", DESCRIBE_SUBNETS).unwrap();
    assert_eq!(
        r.subnet_set.items,
        vec![Subnet {
            subnet_id: some("subnet-9d4a7b6c"),
            vpc_id: some("vpc-1a2b3c4d"),
            availability_zone: some("us-east-1a"),
            cidr_block: some("10.0.1.0/24"),
        }]
    );

    let r: CreateSecurityGroupResponse = parse(
        "CreateSecurityGroup",
        r#"<CreateSecurityGroupResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
   <requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId>
   <return>true</return>
   <groupId>sg-0a42d66a</groupId>
</CreateSecurityGroupResponse>"#,
    )
    .unwrap();
    assert_eq!(r.group_id, some("sg-0a42d66a"));

    // Authorize answers with the rules it made; revoke may list what it did not know.
    let ok: ReturnResponse = parse(
        "AuthorizeSecurityGroupIngress",
        r#"<AuthorizeSecurityGroupIngressResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
    <requestId>b1f67202-c2c2-4ba4-8464-c8b1d8f5af7a</requestId>
    <return>true</return>
    <securityGroupRuleSet>
        <item>
            <fromPort>5432</fromPort>
            <groupId>sg-0fedcba9876543210</groupId>
            <ipProtocol>tcp</ipProtocol>
            <isEgress>false</isEgress>
            <securityGroupRuleId>sgr-abcdefghi01234561</securityGroupRuleId>
            <toPort>5432</toPort>
        </item>
    </securityGroupRuleSet>
</AuthorizeSecurityGroupIngressResponse>"#,
    )
    .unwrap();
    assert!(returned("AuthorizeSecurityGroupIngress", ok).is_ok());
    let revoked: ReturnResponse = parse(
        "RevokeSecurityGroupIngress",
        r#"<RevokeSecurityGroupIngressResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><return>true</return><unknownIpPermissionSet><item><ipProtocol>tcp</ipProtocol><fromPort>22</fromPort><toPort>22</toPort></item></unknownIpPermissionSet></RevokeSecurityGroupIngressResponse>"#,
    )
    .unwrap();
    assert!(returned("RevokeSecurityGroupIngress", revoked).is_ok());
    let refused: ReturnResponse =
        parse("X", "<XResponse><return>false</return></XResponse>").unwrap();
    let e = returned("RevokeSecurityGroupIngress", refused).unwrap_err();
    assert!(e.message.unwrap().contains("return=false"));
}

#[tokio::test]
async fn pages_are_followed_until_no_token_and_bounded() {
    let mut seen = Vec::new();
    let got = all_pages(Params::new(), async |p: Params| {
        let token = p
            .pairs()
            .iter()
            .find(|(k, _)| k == "NextToken")
            .map(|(_, v)| v.clone());
        seen.push(token.clone());
        Ok(match token.as_deref() {
            None => (vec![1, 2], Some("t2".to_string())),
            Some("t2") => (vec![3], Some(" ".to_string())),
            other => panic!("unexpected token {other:?}"),
        })
    })
    .await
    .unwrap();
    assert_eq!(got, vec![1, 2, 3]);
    assert_eq!(seen, vec![None, Some("t2".to_string())]);

    let endless = all_pages(Params::new(), async |_p: Params| {
        Ok((vec![0], Some("again".to_string())))
    })
    .await
    .unwrap_err();
    assert!(endless.message.unwrap().contains("100"));
}
