//! `cargo xtask dns zone ensure | status DOMAIN`: the public hosted zone for a domain and the
//! name servers to give its registrar.

use deploykit::dns;
use deploykit_dns::{ZoneInfo, ZonePlan};

use crate::{CliResult, Exit, GlobalArgs, render::Renderer};

#[derive(Debug, clap::Subcommand)]
pub enum DnsCommand {
    /// The public hosted zone for a domain: ensure (find or create), status.
    #[command(subcommand)]
    Zone(ZoneCommand),
}

#[derive(Debug, clap::Subcommand)]
pub enum ZoneCommand {
    /// Find the public zone that holds DOMAIN (its own or a parent's) or create one named
    /// DOMAIN, and print the name servers to set at the registrar. A second run changes nothing.
    Ensure {
        /// The registered domain, e.g. `example.com`.
        domain: String,
        /// Print what would be done and stop.
        #[arg(long)]
        dry_run: bool,
    },
    /// The zone that holds DOMAIN and its name servers; exits 7 when there is none.
    Status {
        /// The domain, e.g. `example.com` or `app.example.com`.
        domain: String,
    },
}

fn ns_lines(info: &ZoneInfo) -> Vec<String> {
    let mut lines = vec!["  name servers (set these at the domain's registrar):".to_string()];
    lines.extend(info.name_servers.iter().map(|n| format!("    {n}")));
    lines
}

pub fn run(cmd: DnsCommand, global: &GlobalArgs, r: &Renderer) -> CliResult {
    let DnsCommand::Zone(cmd) = cmd;
    let lib = |e| crate::session::lib_err(e, global.target.as_deref());
    crate::runtime().block_on(async {
        let s = crate::session::session(global, r).await?;
        match cmd {
            ZoneCommand::Ensure {
                domain,
                dry_run: true,
            } => {
                let plan = dns::plan_zone(&s, &domain).await.map_err(lib)?;
                r.result(&plan, || match &plan {
                    ZonePlan::Exists { zone, .. } => format!(
                        "zone {} ({}) holds {domain}: unchanged; dry run: nothing changed",
                        zone.name, zone.id
                    ),
                    ZonePlan::Create {
                        name,
                        caller_reference,
                    } => format!(
                        "would create public hosted zone {name} (caller reference {caller_reference}); dry run: nothing changed"
                    ),
                });
                Ok(Exit::Success)
            }
            ZoneCommand::Ensure {
                domain,
                dry_run: false,
            } => {
                let out = dns::ensure_zone(&s, &domain, r).await.map_err(lib)?;
                r.result(&out, || {
                    let z = &out.info.zone;
                    let what = if out.created { "created" } else { "unchanged" };
                    let mut lines = vec![format!("zone {} ({}): {what}", z.name, z.id)];
                    if out.parent {
                        lines.push(format!("  {domain} is a name inside this zone"));
                    }
                    lines.extend(ns_lines(&out.info));
                    lines.join("\n")
                });
                Ok(Exit::Success)
            }
            ZoneCommand::Status { domain } => {
                let info = dns::zone_status(&s, &domain).await.map_err(lib)?;
                r.result(&info, || match &info {
                    Some(i) => {
                        let mut lines = vec![format!(
                            "zone {} ({}) holds {domain}",
                            i.zone.name, i.zone.id
                        )];
                        lines.extend(ns_lines(i));
                        lines.join("\n")
                    }
                    None => format!(
                        "no public hosted zone holds {domain}; `cargo xtask dns zone ensure {domain}` creates one"
                    ),
                });
                Ok(if info.is_some() {
                    Exit::Success
                } else {
                    Exit::CheckFailed
                })
            }
        }
    })
}
