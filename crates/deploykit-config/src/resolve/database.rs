//! `[database]`: the RDS instance, its engine, sizes and names.

use std::time::Duration;

use serde_spanned::Spanned;

use super::app::slug;
use super::containers::check_ids;
use super::eb::is_instance_type;
use super::fields::{duration, named};
use super::{Ctx, span, val};
use crate::model::*;
use crate::raw::*;
use crate::rules;

pub(super) fn pg_identifier(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(super) fn resolve_database(
    target: &str,
    r: &RawDatabase,
    app: &Spanned<App>,
    base_dir: &std::path::Path,
    ctx: &mut Ctx<'_>,
) -> Database {
    let a = &app.get_ref().name;
    let instance = named(
        ctx,
        &r.instance,
        "database.instance",
        format!("{a}-db"),
        app,
        rules::rds_instance_identifier,
    );
    let engine_version = val(&r.engine_version).unwrap_or_else(|| "16".to_owned());
    if let Some(v) = &r.engine_version {
        let ok = !v.get_ref().is_empty()
            && v.get_ref().split('.').count() <= 2
            && v.get_ref()
                .split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
        if !ok {
            ctx.err(
                Some(v.span()),
                "database.engine_version",
                format!("`{}` is not a PostgreSQL version", v.get_ref()),
                "pin the major version as a string, e.g. `\"16\"`",
            );
        }
    }
    let instance_class = val(&r.instance_class).unwrap_or_else(|| "db.t4g.micro".to_owned());
    if let Some(c) = &r.instance_class
        && !c
            .get_ref()
            .strip_prefix("db.")
            .is_some_and(is_instance_type)
    {
        ctx.err(
            Some(c.span()),
            "database.instance_class",
            format!("`{}` is not an RDS instance class", c.get_ref()),
            "write it like `db.t4g.micro` (note the `db.` prefix)",
        );
    }
    let allocated = val(&r.allocated_storage_gb).unwrap_or(20);
    if !(20..=65_536).contains(&allocated) {
        ctx.err(
            span(&r.allocated_storage_gb),
            "database.allocated_storage_gb",
            format!("gp3 storage must be 20-65536 GB, got {allocated}"),
            "use at least 20",
        );
    }
    let max_allocated = match &r.max_allocated_storage_gb {
        None => Some(100.max(allocated)).filter(|m| *m > allocated),
        Some(m) if *m.get_ref() == 0 => None,
        Some(m) => {
            if *m.get_ref() <= allocated || *m.get_ref() > 65_536 {
                ctx.err(Some(m.span()), "database.max_allocated_storage_gb", format!("storage autoscaling ceiling {} GB must be above allocated_storage_gb ({allocated}) and at most 65536", m.get_ref()), "raise it (e.g. 100), or set 0 to turn storage autoscaling off");
            }
            Some(*m.get_ref())
        }
    };
    let backup_retention_days = val(&r.backup_retention_days).unwrap_or(7);
    if let Some(b) = &r.backup_retention_days {
        let d = *b.get_ref();
        if d == 0 || d > 35 {
            ctx.err(
                Some(b.span()),
                "database.backup_retention_days",
                format!(
                    "backup retention must be 1-35 days, got {d} (0 turns automated backups off)"
                ),
                "use 7-14 days",
            );
        } else if !(7..=14).contains(&d) {
            ctx.warn(
                Some(b.span()),
                "database.backup_retention_days",
                format!("backup retention of {d} days is outside the recommended 7-14"),
                "use 7-14 days",
            );
        }
    }
    let default_ident = a.replace('-', "_");
    let db_name = val(&r.db_name).unwrap_or_else(|| default_ident.clone());
    let username = val(&r.username).unwrap_or_else(|| default_ident.clone());
    for (v, field, what) in [
        (&r.db_name, "database.db_name", "database name"),
        (&r.username, "database.username", "master user name"),
    ] {
        let value = val(v).unwrap_or_else(|| default_ident.clone());
        if !pg_identifier(&value) || value == "rdsadmin" {
            let sp = span(v).or_else(|| Some(app.span()).filter(|r| !r.is_empty()));
            ctx.err(sp, field, format!("{what} `{value}` must be 1-63 letters, digits or `_`, start with a letter, and not be `rdsadmin`"), format!("set `{field}` to something like `{}`", slug(&value).replace('-', "_")));
        }
    }
    if let Some(sg) = &r.app_security_group {
        check_ids(
            ctx,
            std::slice::from_ref(sg),
            "database.app_security_group",
            "sg-",
        );
    }
    let subnets = r
        .subnets
        .as_ref()
        .map(|s| s.get_ref().clone())
        .unwrap_or_default();
    check_ids(ctx, &subnets, "database.subnets", "subnet-");
    if let Some(g) = &r.subnet_group {
        let s = g.get_ref();
        if s.is_empty()
            || s.len() > 255
            || s.eq_ignore_ascii_case("default")
            || !s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || " ._-".contains(c))
        {
            ctx.err(Some(g.span()), "database.subnet_group", format!("`{s}` is not a usable DB subnet group name"), "use letters, digits, `.`, `_`, `-` (not `default`), or remove it to create one from `subnets`");
        }
    }
    if let Some(b) = &r.ca_bundle
        && b.get_ref().trim().is_empty()
    {
        ctx.err(
            Some(b.span()),
            "database.ca_bundle",
            "the CA bundle path is empty",
            "give the path of the region's RDS CA bundle (relative to deploy.toml), or remove the key",
        );
    }
    Database {
        ca_bundle: val(&r.ca_bundle)
            .filter(|p| !p.trim().is_empty())
            .map(|p| base_dir.join(p)),
        instance,
        engine_version,
        instance_class,
        allocated_storage_gb: allocated,
        max_allocated_storage_gb: max_allocated,
        backup_retention_days,
        db_name,
        username,
        app_security_group: val(&r.app_security_group),
        subnet_group: val(&r.subnet_group),
        subnets: subnets.iter().map(|s| s.get_ref().clone()).collect(),
        deletion_protection: val(&r.deletion_protection).unwrap_or(target == "prod"),
        snapshot_before_deploy: val(&r.snapshot_before_deploy).unwrap_or(false),
        multi_az: val(&r.multi_az).unwrap_or(false),
        timeout: duration(
            ctx,
            &r.timeout,
            "database.timeout",
            Duration::from_secs(40 * 60),
        ),
    }
}
