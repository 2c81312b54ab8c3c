//! `cargo xtask check`: the seed's "Am I done?" checklist against the target's live state.

use std::time::Duration;

use deploykit::Route;
use deploykit::check::{CheckOptions, Checklist, Fix, Item, Verdict};

use crate::{CliResult, Exit, GlobalArgs, render::Renderer};

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The newest log line must be at most this many hours old.
    #[arg(long, default_value_t = 24, value_name = "HOURS")]
    pub logs_within: u64,
    /// The newest snapshot must be at most this many hours old.
    #[arg(long, default_value_t = 48, value_name = "HOURS")]
    pub snapshot_within: u64,
    /// The last passed `db restore-check` must be at most this many days old.
    #[arg(long, default_value_t = 30, value_name = "DAYS")]
    pub restore_check_within: u64,
    /// Bound on each HTTP probe and on connecting to the database, in seconds.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub probe_timeout: u64,
}

/// The command that makes a failing item pass.
pub fn fix_command(fix: &Fix) -> String {
    match fix {
        Fix::Deploy { route } => format!(
            "cargo xtask deploy {}",
            match route {
                Route::Apprunner => "apprunner",
                Route::Ecs => "ecs",
                Route::Eb | Route::All => "eb",
            }
        ),
        Fix::DbCreate => "cargo xtask db create".into(),
        Fix::DbMigrate => "cargo xtask db migrate".into(),
        Fix::DbSnapshot => "cargo xtask db snapshot --wait".into(),
        Fix::DbRestoreCheck => "cargo xtask db restore-check".into(),
        Fix::S3Ensure => "cargo xtask s3 ensure".into(),
        Fix::StaticSync => "cargo xtask static sync".into(),
        Fix::AlarmsEnsure => "cargo xtask alarms ensure".into(),
        Fix::SecretsSet { name } => format!("cargo xtask secrets set {name}"),
        Fix::Advice { text } => text.clone(),
    }
}

#[derive(serde::Serialize)]
struct ItemOut<'a> {
    #[serde(flatten)]
    item: &'a Item,
    /// The command (or advice) that fixes a failing item.
    #[serde(skip_serializing_if = "Option::is_none")]
    fix_command: Option<String>,
}

#[derive(serde::Serialize)]
struct Out<'a> {
    target: &'a str,
    ok: bool,
    passed: usize,
    failed: usize,
    not_applicable: usize,
    items: Vec<ItemOut<'a>>,
}

fn mark(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "FAIL",
        Verdict::NotApplicable => "n/a ",
    }
}

fn table(list: &Checklist, r: &Renderer) -> String {
    let width = list.items.iter().map(|i| i.title.len()).max().unwrap_or(0);
    let mut lines = vec![format!("Am I done? target `{}`", list.target)];
    for i in &list.items {
        lines.push(format!(
            "  {}  {:width$}  {}",
            mark(i.verdict),
            i.title,
            i.evidence
        ));
        if let Some(fix) = &i.fix {
            lines.push(format!(
                "        {:width$}  fix: {}",
                "",
                r.with_prog(&fix_command(fix))
            ));
        }
    }
    lines.push(format!(
        "{} passed, {} failed, {} not applicable",
        list.passed, list.failed, list.not_applicable
    ));
    lines.join("\n")
}

pub fn run(args: CheckArgs, global: &GlobalArgs, r: &Renderer) -> CliResult {
    let opts = CheckOptions {
        logs_within: Duration::from_secs(args.logs_within * 3600),
        snapshot_within: Duration::from_secs(args.snapshot_within * 3600),
        restore_check_within: Duration::from_secs(args.restore_check_within * 86_400),
        probe_timeout: Duration::from_secs(args.probe_timeout.max(1)),
    };
    crate::runtime().block_on(async {
        let session = crate::session::session(global, r).await?;
        let list = deploykit::check::run(&session, &opts, r)
            .await
            .map_err(|e| crate::session::lib_err(e, Some(&session.target.name)))?;
        let out = Out {
            target: &list.target,
            ok: list.ok(),
            passed: list.passed,
            failed: list.failed,
            not_applicable: list.not_applicable,
            items: list
                .items
                .iter()
                .map(|item| ItemOut {
                    item,
                    fix_command: item.fix.as_ref().map(|f| r.with_prog(&fix_command(f))),
                })
                .collect(),
        };
        r.result(&out, || table(&list, r));
        Ok(if list.ok() {
            Exit::Success
        } else {
            Exit::CheckFailed
        })
    })
}
