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
//! Security groups: this crate has no EC2 client. It attaches the security groups named in
//! [`DbSpec::vpc_security_group_ids`] to the instance and refuses open CIDRs in the spec; the
//! inbound rule "5432 from the app's security group" on those groups is not created or verified
//! here, and [`Rds::status`] says so.

mod error;
mod ops;
mod predeploy;
mod restore;
mod snapshot;
mod spec;
mod url;

pub use deploykit_secrets::PutOutcome;
pub use error::RdsError;
pub use ops::{EnsureOutcome, Rds, StatusReport, WaitPolicy, instance_state};
pub use predeploy::{PREDEPLOY_REASON, PreDeploySnapshot, predeploy_decision};
pub use restore::{RestoreCheckOptions, RestoreCheckReport, TableCount};
pub use snapshot::{
    PruneSelection, SnapshotInfo, SnapshotKind, TAG_GIT_SHA, TAG_MANAGED_BY, TAG_REASON, parse_age,
    restore_check_instance_name, select_prune, snapshot_name,
};
pub use spec::{
    Change, DbSpec, Drift, Fix, InstanceState, Plan, Severity, drift, major, plan_instance,
    validate_instance_identifier,
};
pub use url::{DbUrl, MASK, SQLALCHEMY_SCHEME};
