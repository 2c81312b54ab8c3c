//! `cargo xtask init [PATH]`: deploykit's files for another Flask app (deploy.toml, Procfile,
//! hooks, Dockerfile, ignore files, the OIDC deploy workflow). Never overwrites without --force.

use std::path::PathBuf;

use deploykit::init::{self, DetectOptions, FileAction, InitOptions};

use crate::{CliResult, Exit, GlobalArgs, render::Renderer};

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The app's directory (default: the current directory).
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// Overwrite files that exist and differ.
    #[arg(long)]
    pub force: bool,
    /// Show what would be written and stop.
    #[arg(long)]
    pub dry_run: bool,
    /// The WSGI entry point when detection finds several (`wsgi:app`, `app:create_app()`).
    #[arg(long)]
    pub entry: Option<String>,
    /// Every target's region.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// The branch whose pushes deploy.
    #[arg(long, default_value = "main")]
    pub branch: String,
}

pub fn run(a: InitArgs, _global: &GlobalArgs, r: &Renderer) -> CliResult {
    let lib = |e: init::InitError| {
        let err = crate::session::lib_err(e.into(), None);
        match &err.exit {
            Exit::Config if err.message.contains("entry point") => {
                err.add_hint("choose one with `cargo xtask init --entry SPEC`")
            }
            _ => err,
        }
    };
    let detected = init::detect(
        &a.path,
        &DetectOptions {
            entry: a.entry.clone(),
        },
    )
    .map_err(lib)?;
    let opts = InitOptions {
        region: a.region.clone(),
        branch: a.branch.clone(),
        ..InitOptions::default()
    };
    let plan = init::plan(&detected, &opts).map_err(lib)?;
    let report = if a.dry_run {
        init::preview(&plan, &a.path, a.force)
    } else {
        init::apply(&plan, &a.path, a.force)
    }
    .map_err(lib)?;
    r.result(&report, || {
        let mut lines: Vec<String> = report
            .files
            .iter()
            .map(|f| {
                let what = match f.action {
                    FileAction::Create => "create",
                    FileAction::Unchanged => "unchanged",
                    FileAction::SetMode => "set mode",
                    FileAction::Overwrite => "overwrite",
                    FileAction::Conflict => "CONFLICT",
                };
                let detail = f
                    .detail
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default();
                format!("  {what:<10} {}{detail}", f.path.display())
            })
            .collect();
        lines.extend(report.notes.iter().map(|n| match &n.fix {
            Some(fix) => format!("note: {} ({fix})", n.message),
            None => format!("note: {}", n.message),
        }));
        let tail = if a.dry_run {
            "dry run: nothing was written"
        } else if report.changed() == 0 {
            "nothing to change"
        } else {
            "written; next: review deploy.toml, then `cargo xtask deploy eb`"
        };
        format!("{}\n{}\n{tail}", report.app_dir.display(), lines.join("\n"))
    });
    Ok(Exit::Success)
}
