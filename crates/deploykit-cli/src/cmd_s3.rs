//! `cargo xtask s3 ensure | status` (the app's bucket) and `static sync` (its static files).

use deploykit::s3::AppBucket;

use crate::{CliError, CliResult, Exit, GlobalArgs, render::Renderer};

#[derive(Debug, clap::Subcommand)]
pub enum S3Command {
    /// Create or adopt `[s3] bucket`: public access blocked, encrypted, ACLs off, TLS only,
    /// CORS and the uploads lifecycle from deploy.toml. A second run changes nothing.
    Ensure {
        /// Print what would change and stop.
        #[arg(long)]
        dry_run: bool,
    },
    /// The bucket against deploy.toml: drift exits 7.
    Status,
}

#[derive(Debug, clap::Subcommand)]
pub enum StaticCommand {
    /// Upload the app's static directory to `[s3] bucket` under `static_prefix`: right
    /// Content-Type and Cache-Control, unchanged files skipped.
    Sync {
        /// Also delete objects under the prefix that no longer exist locally.
        #[arg(long)]
        delete: bool,
        /// Print what would be uploaded or deleted and stop.
        #[arg(long)]
        dry_run: bool,
    },
}

async fn bucket(global: &GlobalArgs, r: &Renderer) -> Result<AppBucket, CliError> {
    let session = crate::session::session(global, r).await?;
    AppBucket::for_session(&session)
        .await
        .map_err(|e| crate::session::lib_err(e, Some(&session.target.name)))
}

pub fn run(cmd: S3Command, global: &GlobalArgs, r: &Renderer) -> CliResult {
    let lib = |e| crate::session::lib_err(e, global.target.as_deref());
    crate::runtime().block_on(async {
        let b = bucket(global, r).await?;
        match cmd {
            S3Command::Status | S3Command::Ensure { dry_run: true } => {
                let check = b.status().await.map_err(lib)?;
                r.result(&check, || {
                    let mut lines = vec![format!("bucket {}", check.bucket)];
                    lines.extend(check.drift.iter().map(|d| format!("  drift: {d}")));
                    lines.extend(check.plan.steps.iter().map(|s| format!("  would: {s}")));
                    if check.is_clean() {
                        lines.push("  as deploy.toml says; nothing to change".into());
                    }
                    lines.join("\n")
                });
                Ok(match cmd {
                    S3Command::Status if !check.is_clean() => Exit::CheckFailed,
                    _ => Exit::Success,
                })
            }
            S3Command::Ensure { dry_run: false } => {
                let out = b.ensure(r).await.map_err(lib)?;
                r.result(&out, || {
                    let what = if out.created {
                        "created"
                    } else if out.applied.is_empty() {
                        "unchanged"
                    } else {
                        "updated"
                    };
                    let mut lines = vec![format!("bucket {}: {what}", out.bucket)];
                    lines.extend(out.applied.iter().map(|s| format!("  applied: {s}")));
                    lines.join("\n")
                });
                Ok(Exit::Success)
            }
        }
    })
}

pub fn run_static(cmd: StaticCommand, global: &GlobalArgs, r: &Renderer) -> CliResult {
    let lib = |e| crate::session::lib_err(e, global.target.as_deref());
    let StaticCommand::Sync { delete, dry_run } = cmd;
    crate::runtime().block_on(async {
        let b = bucket(global, r).await?;
        let report = b.sync_static(delete, dry_run, r).await.map_err(lib)?;
        r.result(&report, || {
            let p = &report.plan;
            let head = format!("s3://{}/{}", report.bucket, report.prefix);
            match &report.summary {
                None => format!(
                    "{head}: would upload {}, delete {}, leave {} unchanged ({} remote-only kept); dry run: nothing changed",
                    p.uploads.len(),
                    p.deletes.len(),
                    p.unchanged.len(),
                    p.extra.len()
                ),
                Some(s) => format!(
                    "{head}: uploaded {} ({} bytes), unchanged {}, deleted {} in {:.2}s",
                    s.uploaded,
                    s.bytes_uploaded,
                    s.unchanged,
                    s.deleted,
                    s.elapsed.as_secs_f64()
                ),
            }
        });
        Ok(Exit::Success)
    })
}
