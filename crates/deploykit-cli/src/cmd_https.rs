//! `cargo xtask https ensure | status`: the ACM certificate for `[https] domain` (and its
//! alternative names) in the target's region, DNS-validated through Route 53.

use deploykit::https::{self, CertPlan, CertificateCheck};
use deploykit_dns::RecordAction;

use crate::{CliResult, Exit, GlobalArgs, render::Renderer};

#[derive(Debug, clap::Subcommand)]
pub enum HttpsCommand {
    /// Reuse or request the certificate for `[https] domain`, write its DNS validation records
    /// to Route 53, wait (bounded by `[https] timeout`) until it is ISSUED; print its ARN. A
    /// second run changes nothing.
    Ensure {
        /// Print what would be done and stop.
        #[arg(long)]
        dry_run: bool,
    },
    /// The certificate against deploy.toml: exits 7 unless it is ISSUED with its validation
    /// records in place.
    Status,
}

fn check_text(c: &CertificateCheck) -> String {
    let names: Vec<String> = c.spec.names().into_iter().collect();
    let mut lines = vec![format!("certificate for {}", names.join(", "))];
    match (&c.plan, &c.certificate) {
        (CertPlan::Reuse { arn, status }, _) => lines.push(format!("  {arn}: {status}")),
        (CertPlan::Request { .. }, _) => {
            lines.push("  none in this region: `https ensure` requests one (DNS validation)".into())
        }
    }
    for p in &c.records {
        let what = match &p.action {
            RecordAction::Unchanged => "in place",
            RecordAction::Create => "missing (would create)",
            RecordAction::Update { .. } => "differs (would update)",
        };
        lines.push(format!(
            "  validation {} {} -> {}: {what}",
            p.record.record_type, p.record.name, p.record.value
        ));
    }
    if c.is_clean() {
        lines.push("  ISSUED, as deploy.toml says; nothing to change".into());
    }
    lines.join("\n")
}

pub fn run(cmd: HttpsCommand, global: &GlobalArgs, r: &Renderer) -> CliResult {
    let lib = |e| crate::session::lib_err(e, global.target.as_deref());
    crate::runtime().block_on(async {
        // Refused before connecting when deploy.toml has no [https].
        let project = crate::session::project(global)?;
        let target = project
            .config()
            .target(global.target.as_deref())
            .map_err(|e| lib(e.into()))?;
        https::config(&target).map_err(lib)?;
        let s = crate::session::session(global, r).await?;
        match cmd {
            HttpsCommand::Status | HttpsCommand::Ensure { dry_run: true } => {
                let check = https::status(&s).await.map_err(lib)?;
                r.result(&check, || {
                    let mut t = check_text(&check);
                    if matches!(cmd, HttpsCommand::Ensure { .. }) {
                        t.push_str("\ndry run: nothing changed");
                    }
                    t
                });
                Ok(match cmd {
                    HttpsCommand::Status if !check.is_clean() => Exit::CheckFailed,
                    _ => Exit::Success,
                })
            }
            HttpsCommand::Ensure { dry_run: false } => {
                let out = https::ensure(&s, r).await.map_err(lib)?;
                r.result(&out, || {
                    let c = &out.certificate;
                    let what = if out.unchanged() {
                        "unchanged"
                    } else if out.requested {
                        "requested and issued"
                    } else {
                        "validated and issued"
                    };
                    let mut lines = vec![format!(
                        "certificate {} for {}: {what}",
                        c.arn,
                        c.names.join(", ")
                    )];
                    for u in &out.dns {
                        lines.push(format!(
                            "  validation records in zone {} ({}): {}",
                            u.zone.name,
                            u.zone.id,
                            if u.unchanged() {
                                "unchanged"
                            } else {
                                "upserted"
                            }
                        ));
                    }
                    lines.push(format!("  status {}", c.status));
                    lines.join("\n")
                });
                Ok(Exit::Success)
            }
        }
    })
}
