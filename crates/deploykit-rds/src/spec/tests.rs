//! The spec's planner and validation, as data.
use super::*;

pub(crate) fn matching(spec: &DbSpec) -> InstanceState {
    InstanceState {
        identifier: spec.identifier.clone(),
        arn: Some(format!(
            "arn:aws:rds:us-east-1:123456789012:db:{}",
            spec.identifier
        )),
        status: "available".into(),
        engine: ENGINE.into(),
        engine_version: format!("{}.4", spec.major_version()),
        instance_class: spec.instance_class.clone(),
        allocated_storage_gb: spec.allocated_storage_gb,
        max_allocated_storage_gb: spec.max_allocated_storage_gb,
        storage_type: Some(STORAGE_TYPE.into()),
        publicly_accessible: false,
        backup_retention_days: spec.backup_retention_days,
        auto_minor_version_upgrade: true,
        storage_encrypted: true,
        deletion_protection: spec.deletion_protection,
        multi_az: spec.multi_az,
        master_username: Some(spec.master_username.clone()),
        db_name: Some(spec.db_name.clone()),
        master_secret_arn: Some(
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1".into(),
        ),
        endpoint_address: Some("127.0.0.1".into()),
        endpoint_port: Some(PORT),
        subnet_group: spec.subnet_group.clone(),
        vpc_security_group_ids: spec.vpc_security_group_ids.clone(),
    }
}

fn spec() -> DbSpec {
    DbSpec {
        db_name: "budgetsync".into(),
        master_username: "budgetsync".into(),
        ..DbSpec::recommended("budgetsync-db")
    }
}

#[test]
fn missing_instance_is_created_and_matching_one_is_left_alone() {
    let s = spec();
    assert_eq!(
        plan_instance(None, &s),
        Plan::Create {
            spec: Box::new(s.clone())
        }
    );
    let cur = matching(&s);
    assert_eq!(drift(&cur, &s), vec![]);
    assert_eq!(
        plan_instance(Some(&cur), &s),
        Plan::NoChange { manual: vec![] }
    );
    // Autoscaling grew the storage: not drift, storage never shrinks.
    let grown = InstanceState {
        allocated_storage_gb: 40,
        ..cur.clone()
    };
    assert_eq!(
        plan_instance(Some(&grown), &s),
        Plan::NoChange { manual: vec![] }
    );
}

#[test]
fn every_drifted_setting_is_reported_with_its_fix() {
    let s = DbSpec {
        deletion_protection: true,
        ..spec()
    };
    let m = matching(&s);
    type Case = (&'static str, fn(&mut InstanceState), Severity, bool);
    let cases: Vec<Case> = vec![
        (
            "publicly_accessible",
            |c| c.publicly_accessible = true,
            Severity::Critical,
            true,
        ),
        (
            "storage_encrypted",
            |c| c.storage_encrypted = false,
            Severity::Critical,
            false,
        ),
        (
            "engine_version",
            |c| c.engine_version = "15.7".into(),
            Severity::Warn,
            false,
        ),
        (
            "instance_class",
            |c| c.instance_class = "db.m5.large".into(),
            Severity::Info,
            true,
        ),
        (
            "allocated_storage_gb",
            |c| c.allocated_storage_gb = 10,
            Severity::Info,
            true,
        ),
        (
            "storage_type",
            |c| c.storage_type = Some("gp2".into()),
            Severity::Info,
            true,
        ),
        (
            "max_allocated_storage_gb",
            |c| c.max_allocated_storage_gb = None,
            Severity::Warn,
            true,
        ),
        (
            "backup_retention_days",
            |c| c.backup_retention_days = 0,
            Severity::Critical,
            true,
        ),
        (
            "backup_retention_days",
            |c| c.backup_retention_days = 1,
            Severity::Warn,
            true,
        ),
        (
            "auto_minor_version_upgrade",
            |c| c.auto_minor_version_upgrade = false,
            Severity::Warn,
            true,
        ),
        (
            "deletion_protection",
            |c| c.deletion_protection = false,
            Severity::Critical,
            true,
        ),
        ("multi_az", |c| c.multi_az = true, Severity::Info, true),
        (
            "manage_master_user_password",
            |c| c.master_secret_arn = None,
            Severity::Warn,
            true,
        ),
    ];
    for (setting, mutate, severity, modifiable) in cases {
        let mut cur = m.clone();
        mutate(&mut cur);
        let d = drift(&cur, &s);
        assert_eq!(d.len(), 1, "{setting}: {d:?}");
        assert_eq!(d[0].setting, setting);
        assert_eq!(d[0].severity, severity, "{setting}");
        assert_eq!(matches!(d[0].fix, Fix::Modify(_)), modifiable, "{setting}");
        let plan = plan_instance(Some(&cur), &s);
        if modifiable {
            assert!(
                matches!(&plan, Plan::Modify { changes, manual } if changes.len() == 1 && manual.is_empty()),
                "{setting}: {plan:?}"
            );
        } else {
            assert!(
                matches!(&plan, Plan::NoChange { manual } if manual.len() == 1),
                "{setting}: {plan:?}"
            );
        }
    }
}

#[test]
fn major_version_drift_says_upgrade_or_pin() {
    let s = spec();
    let older = InstanceState {
        engine_version: "15.2".into(),
        ..matching(&s)
    };
    let newer = InstanceState {
        engine_version: "17.1".into(),
        ..matching(&s)
    };
    let how = |c: &InstanceState| match &drift(c, &s)[0].fix {
        Fix::Manual { how } => how.clone(),
        f => panic!("{f:?}"),
    };
    assert!(how(&older).contains("AllowMajorVersionUpgrade"));
    assert!(how(&older).contains("snapshot") && !how(&older).contains("xtask"));
    assert!(how(&newer).contains("cannot downgrade"));
    // A different minor of the pinned major is not drift (auto minor upgrades).
    let minor = InstanceState {
        engine_version: "16.9".into(),
        ..matching(&s)
    };
    assert!(drift(&minor, &s).is_empty());
}

#[test]
fn busy_or_deleting_instances_are_not_modified() {
    let s = spec();
    for (status, wait) in [
        ("creating", true),
        ("modifying", true),
        ("backing-up", true),
        ("deleting", false),
        ("failed", false),
    ] {
        let cur = InstanceState {
            status: status.into(),
            publicly_accessible: true,
            ..matching(&s)
        };
        let plan = plan_instance(Some(&cur), &s);
        if wait {
            assert_eq!(
                plan,
                Plan::WaitFor {
                    status: status.into()
                }
            );
        } else {
            assert_eq!(
                plan,
                Plan::Blocked {
                    status: status.into()
                }
            );
        }
    }
}

#[test]
fn open_cidrs_and_bad_settings_are_refused() {
    let cases: Vec<(DbSpec, &str, &str)> = vec![
        (
            DbSpec {
                app_security_group: Some("0.0.0.0/0".into()),
                ..spec()
            },
            "app_security_group",
            "whole internet",
        ),
        (
            DbSpec {
                app_security_group: Some("::/0".into()),
                ..spec()
            },
            "app_security_group",
            "whole internet",
        ),
        (
            DbSpec {
                app_security_group: Some("10.0.0.0/8".into()),
                ..spec()
            },
            "app_security_group",
            "CIDR",
        ),
        (
            DbSpec {
                vpc_security_group_ids: vec!["sg-xyz".into()],
                ..spec()
            },
            "vpc_security_group_ids",
            "security group id",
        ),
        (
            DbSpec {
                backup_retention_days: 0,
                ..spec()
            },
            "backup_retention_days",
            "1-35",
        ),
        (
            DbSpec {
                backup_retention_days: 36,
                ..spec()
            },
            "backup_retention_days",
            "1-35",
        ),
        (
            DbSpec {
                max_allocated_storage_gb: Some(20),
                ..spec()
            },
            "max_allocated_storage_gb",
            "above",
        ),
        (
            DbSpec {
                allocated_storage_gb: 5,
                ..spec()
            },
            "allocated_storage_gb",
            "20-65536",
        ),
        (
            DbSpec {
                engine_version: "latest".into(),
                ..spec()
            },
            "engine_version",
            "version",
        ),
        (
            DbSpec {
                instance_class: "t4g.micro".into(),
                ..spec()
            },
            "instance_class",
            "db.",
        ),
        (
            DbSpec {
                master_username: "postgres".into(),
                ..spec()
            },
            "username",
            "reserved",
        ),
        (
            DbSpec {
                db_name: "1db".into(),
                ..spec()
            },
            "db_name",
            "letter first",
        ),
    ];
    for (s, field, why) in cases {
        let err = s.validate().unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(&err, RdsError::InvalidSpec { field: f, .. } if *f == field),
            "{field}: {err:?}"
        );
        let help = deploykit_report::Diagnostic::help(&err);
        assert!(
            text.contains(why) && help.is_some_and(|h| !h.is_empty()),
            "{field}: {text}"
        );
    }
    spec().validate().unwrap();
    DbSpec {
        app_security_group: Some("sg-0123456789abcdef0".into()),
        ..spec()
    }
    .validate()
    .unwrap();
}

#[test]
fn backup_retention_is_one_range_from_config_to_rds() {
    // deploy.toml accepts 1-35 (warning outside the seed's 7-14); the spec must too.
    for days in [1, 3, 7, 14, 30, 35] {
        let s = DbSpec {
            backup_retention_days: days,
            ..spec()
        };
        assert!(s.validate().is_ok(), "{days} days");
    }
    for days in [0, 36, -1] {
        let s = DbSpec {
            backup_retention_days: days,
            ..spec()
        };
        assert!(s.validate().is_err(), "{days} days");
    }
}

#[test]
fn instance_identifier_rules() {
    for (id, ok) in [
        ("budgetsync-db", true),
        ("a", true),
        ("1db", false),
        ("db--x", false),
        ("db-", false),
        ("db_x", false),
        ("", false),
        (&"a".repeat(64), false),
        (&"a".repeat(63), true),
    ] {
        assert_eq!(validate_instance_identifier(id).is_ok(), ok, "{id}");
    }
}
