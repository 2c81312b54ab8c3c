//! `cargo xtask alarms ensure [--dry-run] | status`: the app's CloudWatch alarms and their SNS
//! topic (`[alarms]`).

use deploykit::alarms::{AlarmChange, AppAlarms, Plan, SubscriptionChange, TopicChange};

use crate::{CliError, CliResult, Exit, GlobalArgs, render::Renderer};

#[derive(Debug, clap::Subcommand)]
pub enum AlarmsCommand {
    /// Create or repair the alarms of the configured routes and the database, the SNS topic
    /// `<app>-<target>-alarms` and its email subscription. A second run changes nothing.
    Ensure {
        /// Print what would change and stop.
        #[arg(long)]
        dry_run: bool,
    },
    /// The alarms, topic and subscription against deploy.toml: drift exits 7.
    Status,
}

async fn alarms(global: &GlobalArgs, r: &Renderer) -> Result<AppAlarms, CliError> {
    let session = crate::session::session(global, r).await?;
    AppAlarms::for_session(&session)
        .await
        .map_err(|e| crate::session::lib_err(e, Some(&session.target.name)))
}

fn plan_lines(plan: &Plan, verb: &str) -> Vec<String> {
    let mut lines = Vec::new();
    match &plan.topic {
        TopicChange::Create { name } => lines.push(format!("  {verb}: create SNS topic {name}")),
        TopicChange::Unchanged { arn } => lines.push(format!("  topic {arn}")),
    }
    match &plan.subscription {
        SubscriptionChange::Subscribe { email } => {
            lines.push(format!("  {verb}: subscribe {email} (email)"))
        }
        SubscriptionChange::Pending { email } => lines.push(format!(
            "  subscription {email}: pending confirmation (follow the link in SNS's mail)"
        )),
        SubscriptionChange::Confirmed { email } => {
            lines.push(format!("  subscription {email}: confirmed"))
        }
    }
    for a in &plan.alarms {
        match a {
            AlarmChange::Unchanged { name } => lines.push(format!("  alarm {name}: unchanged")),
            other => lines.push(format!("  {verb}: {other}")),
        }
    }
    for s in &plan.skipped {
        lines.push(format!("  skipped {}: {}", s.name, s.reason));
    }
    lines
}

pub fn run(cmd: AlarmsCommand, global: &GlobalArgs, r: &Renderer) -> CliResult {
    let lib = |e| crate::session::lib_err(e, global.target.as_deref());
    crate::runtime().block_on(async {
        let a = alarms(global, r).await?;
        match cmd {
            AlarmsCommand::Status | AlarmsCommand::Ensure { dry_run: true } => {
                let check = a.status().await.map_err(lib)?;
                r.result(&check, || {
                    let mut lines = vec![format!("alarms of {}", a.targets.prefix)];
                    lines.extend(check.drift.iter().map(|d| format!("  drift: {d}")));
                    lines.extend(plan_lines(&check.plan, "would"));
                    if check.is_clean() {
                        lines.push("  as deploy.toml says; nothing to change".into());
                    } else if matches!(cmd, AlarmsCommand::Ensure { .. }) {
                        lines.push("  dry run: nothing changed".into());
                    }
                    lines.join("\n")
                });
                Ok(match cmd {
                    AlarmsCommand::Status if !check.is_clean() => Exit::CheckFailed,
                    _ => Exit::Success,
                })
            }
            AlarmsCommand::Ensure { dry_run: false } => {
                let out = a.ensure(r).await.map_err(lib)?;
                r.result(&out, || {
                    let what = if out.unchanged() {
                        "unchanged"
                    } else {
                        "updated"
                    };
                    let mut lines = vec![format!("alarms of {}: {what}", a.targets.prefix)];
                    lines.extend(out.applied.iter().map(|s| format!("  applied: {s}")));
                    lines.extend(
                        plan_lines(&out.plan, "applied")
                            .into_iter()
                            .filter(|l| !l.starts_with("  applied: ")),
                    );
                    lines.join("\n")
                });
                Ok(Exit::Success)
            }
        }
    })
}
