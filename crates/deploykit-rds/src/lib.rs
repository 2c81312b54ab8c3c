//! RDS Postgres: ensure, drift, snapshots, restore checks, connection URLs.
//!
//! Plan, then execute. The pure parts ([`plan_instance`], [`drift`], [`snapshot_name`],
//! [`select_prune`], [`DbUrl`]) work over plain data and are unit-tested without AWS; the AWS
//! parts ([`Rds`]) describe, plan with them, then make the calls, reporting every step and
//! every bounded wait through a [`deploykit_report::Reporter`].
//!
//! Inputs are this crate's own plain structs ([`DbSpec`], [`WaitPolicy`]) plus an
//! `aws_config::SdkConfig`; callers map their configuration to them.
//!
//! Security groups: with [`DbSpec::app_security_group`] set, [`Rds::ensure`] first ensures the
//! database's own group `<instance>-db` (in the app group's VPC) with exactly one ingress rule,
//! TCP 5432 from the app's group ([`plan_ingress`] decides, open rules are revoked), and
//! attaches it to the instance (with any [`DbSpec::vpc_security_group_ids`]); [`Rds::status`]
//! reports its drift. Without it no group is managed: the instance keeps the VPC's default
//! group, and both say so. The EC2 calls go through [`ec2::Ec2`], six typed calls over
//! deploykit-aws's Query client (no aws-sdk-ec2: it compiled for minutes for these).
//!
//! Errors: [`RdsError`] says what failed in `Display`; its [`deploykit_report::Diagnostic`]
//! impl gives the class (`category`) and the advice (`help`), in plain words.

mod app_role;
mod app_role_ops;
pub mod ec2;
mod error;
mod ops;
mod predeploy;
mod probe;
mod restore;
mod security_group;
mod snapshot;
mod spec;
pub mod tls;
mod url;

pub use app_role::{AppRoleSpec, AppRoleState, AppRoleStep, plan_app_role};
pub use app_role_ops::AppRoleOutcome;
pub use deploykit_secrets::PutOutcome;
pub use error::RdsError;
pub use ops::{DEFAULT_GROUP_NOTE, EnsureOutcome, Rds, StatusReport, WaitPolicy, instance_state};
pub use predeploy::{PREDEPLOY_REASON, PreDeploySnapshot, predeploy_decision};
pub use probe::DbProbe;
pub use restore::{RestoreCheckOptions, RestoreCheckReport, TableCount};
pub use security_group::{
    IngressPlan, IngressRule, SecurityGroupOutcome, SecurityGroupReport, SecurityGroupState,
    Source, db_security_group_name, ingress_rules, plan_ingress, security_group_drift,
};
pub use snapshot::{
    PruneSelection, SnapshotInfo, SnapshotKind, TAG_GIT_SHA, TAG_MANAGED_BY, TAG_REASON,
    TAG_RESTORE_CHECKED, parse_age, restore_check_instance_name, select_prune, snapshot_name,
};
pub use spec::{
    Change, DbSpec, Drift, Fix, InstanceState, Plan, Severity, drift, major, plan_instance,
    validate_instance_identifier,
};
pub use tls::DbTrust;
pub use url::{DbUrl, MASK, SQLALCHEMY_SCHEME, UrlTls};
