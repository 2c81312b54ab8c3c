//! `cargo xtask secrets set NAME | list`: the app's Secrets Manager secrets without the `aws`
//! CLI, and [`resolve_target_secrets`], the one place a deploy turns `[secrets]` references
//! into the ARNs Secrets Manager returns (refusing a missing one before any change).
//!
//! Values never come from the command line (they would land in shell history and `ps`): `set`
//! reads stdin when it is piped, otherwise prompts without echo. Nothing here prints a value.

use std::io::{IsTerminal, Read};
use std::time::SystemTime;

use deploykit_config::ResolvedTarget;
use deploykit_report::Reporter;
use deploykit_secrets::{ExposeSecret, MissingReason, SecretString, Secrets, SecretsError};

use crate::{CliError, CliResult, Exit, GlobalArgs, render::Renderer};

#[derive(Debug, clap::Subcommand)]
pub enum SecretsCommand {
    /// Create or update a secret: the value is read from stdin when piped, otherwise prompted
    /// for without echo; never taken from the command line.
    Set(SetArgs),
    /// The target's [secrets]: env var, secret name, ARN and last change, or "missing".
    /// Never values.
    List,
}

#[derive(Debug, clap::Args)]
pub struct SetArgs {
    /// The secret's name, e.g. budgetsync/secret-key (as referenced under [secrets]).
    pub name: String,
    /// Description stored with a newly created secret.
    #[arg(long, default_value = "set by deploykit (cargo xtask secrets set)")]
    pub description: String,
}

pub fn run(cmd: SecretsCommand, global: &GlobalArgs, r: &Renderer) -> CliResult {
    // Read the value before anything else: a refused input changes nothing and starts nothing.
    let value = match &cmd {
        SecretsCommand::Set(a) => {
            check_name(&a.name)?;
            Some(read_value(&a.name)?)
        }
        SecretsCommand::List => None,
    };
    crate::runtime().block_on(async move {
        let ctx = crate::cmd_apprunner::context(global, r).await?;
        let me = crate::session::caller(&ctx.target, &ctx.sdk).await?;
        let secrets = Secrets::new(&ctx.sdk);
        match cmd {
            SecretsCommand::Set(a) => {
                let value = value.unwrap_or_else(|| SecretString::from(String::new()));
                set(&secrets, &ctx.target, &me, &a, &value, r).await
            }
            SecretsCommand::List => list(&secrets, &ctx.target, &me, r).await,
        }
    })
}

/// Secrets Manager names: 1-512 of letters, digits and `/_+=.@-`. An ARN is accepted too.
fn check_name(name: &str) -> Result<(), CliError> {
    let ok = name.starts_with("arn:")
        || ((1..=512).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c)));
    if ok {
        Ok(())
    } else {
        Err(CliError::new(
            Exit::Config,
            format!("`{name}` is not a Secrets Manager secret name (1-512 letters, digits and /_+=.@-); nothing was changed"),
        )
        .with_hint("pass the name deploy.toml references, e.g. `cargo xtask secrets set budgetsync/secret-key`"))
    }
}

/// The value: all of stdin when it is not a terminal (one trailing newline removed),
/// otherwise a prompt on the terminal without echo. Empty is refused.
pub(crate) fn read_value(name: &str) -> Result<SecretString, CliError> {
    let raw = if std::io::stdin().is_terminal() {
        let term = console::Term::stderr();
        let _ = term.write_str(&format!("value for {name} (input hidden): "));
        let v = term.read_secure_line().map_err(|e| {
            CliError::new(
                Exit::Failure,
                format!("reading the value from the terminal: {e}"),
            )
        })?;
        let _ = term.write_line("");
        v
    } else {
        let mut v = String::new();
        std::io::stdin().read_to_string(&mut v).map_err(|e| {
            CliError::new(
                Exit::Config,
                format!("reading the value from stdin: {e} (it must be UTF-8 text)"),
            )
        })?;
        if let Some(s) = v.strip_suffix('\n') {
            let s = s.strip_suffix('\r').unwrap_or(s);
            v.truncate(s.len());
        }
        v
    };
    let value = SecretString::from(raw);
    if value.expose_secret().is_empty() {
        return Err(CliError::new(
            Exit::Config,
            format!("no value given for `{name}`; nothing was changed"),
        )
        .with_hint("pipe it in (`printf %s \"$VALUE\" | cargo xtask secrets set NAME`) or type it at the prompt"));
    }
    Ok(value)
}

#[derive(Debug, serde::Serialize)]
struct SetResult<'a> {
    name: &'a str,
    arn: String,
    /// `created` or `updated`.
    outcome: &'static str,
    /// Whether the secret was scheduled for deletion and has been restored first.
    restored: bool,
    caller: &'a deploykit_aws::CallerIdentity,
    /// The [secrets] entries of the target that reference it.
    referenced_by: Vec<&'a str>,
}

async fn set(
    secrets: &Secrets,
    t: &ResolvedTarget,
    me: &deploykit_aws::CallerIdentity,
    a: &SetArgs,
    value: &SecretString,
    r: &Renderer,
) -> CliResult {
    let err = |e: SecretsError| crate::session::lib_err(e.into(), Some(&t.name));
    // A secret scheduled for deletion takes no new value until it is restored.
    let probe = vec![(String::new(), a.name.clone())];
    let restored = match secrets.list_refs(&probe).await.map_err(err)?.pop() {
        Some(Err(m)) if matches!(m.reason, MissingReason::ScheduledForDeletion { .. }) => {
            secrets.restore(&a.name).await.map_err(err)?;
            r.report(deploykit_report::Event::warn(format!(
                "secret {} was scheduled for deletion; restored it",
                a.name
            )));
            true
        }
        _ => false,
    };
    let outcome = secrets
        .put_string(&a.name, value, &a.description)
        .await
        .map_err(err)?;
    let resolved = secrets.resolve(&probe).await.map_err(err)?;
    let arn = resolved.first().map(|s| s.arn.clone()).unwrap_or_default();
    let referenced_by: Vec<&str> = t
        .secrets
        .iter()
        .filter(|(_, s)| s.secret == a.name || s.secret == arn)
        .map(|(k, _)| k.as_str())
        .collect();
    if referenced_by.is_empty() {
        r.report(deploykit_report::Event::warn(format!(
            "no [secrets] entry of target `{}` references {}; add e.g. `MY_VAR = {{ secret = \"{}\" }}` to deploy.toml for the app to receive it",
            t.name, a.name, a.name
        )));
    }
    let res = SetResult {
        name: &a.name,
        arn,
        outcome: match outcome {
            deploykit_secrets::PutOutcome::Created => "created",
            deploykit_secrets::PutOutcome::Updated => "updated",
        },
        restored,
        caller: me,
        referenced_by,
    };
    r.result(&res, || {
        format!(
            "{} {} ({}): {}{}",
            if res.outcome == "created" {
                "Created"
            } else {
                "Updated"
            },
            res.name,
            me,
            res.arn,
            if res.referenced_by.is_empty() {
                String::new()
            } else {
                format!("\n  the app reads it as {}", res.referenced_by.join(", "))
            }
        )
    });
    Ok(Exit::Success)
}

#[derive(Debug, serde::Serialize)]
struct ListEntry {
    env_var: String,
    reference: String,
    /// `ok`, `missing` or `scheduled_for_deletion`.
    status: &'static str,
    name: Option<String>,
    arn: Option<String>,
    /// RFC 3339.
    last_changed: Option<String>,
}

fn rfc3339(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

async fn list(
    secrets: &Secrets,
    t: &ResolvedTarget,
    me: &deploykit_aws::CallerIdentity,
    r: &Renderer,
) -> CliResult {
    let statuses = secrets
        .list_refs(&deploykit::mapping::secret_refs(t))
        .await
        .map_err(|e| crate::session::lib_err(e.into(), Some(&t.name)))?;
    let entries: Vec<ListEntry> = statuses
        .into_iter()
        .map(|s| match s {
            Ok(s) => ListEntry {
                env_var: s.env_var,
                reference: s.reference,
                status: "ok",
                name: Some(s.name),
                arn: Some(s.arn),
                last_changed: s.last_changed.map(rfc3339),
            },
            Err(m) => ListEntry {
                status: match m.reason {
                    MissingReason::NotFound => "missing",
                    MissingReason::ScheduledForDeletion { .. } => "scheduled_for_deletion",
                },
                arn: match m.reason {
                    MissingReason::ScheduledForDeletion { arn } => Some(arn),
                    MissingReason::NotFound => None,
                },
                env_var: m.env_var,
                reference: m.reference,
                name: None,
                last_changed: None,
            },
        })
        .collect();
    let missing = entries.iter().filter(|e| e.status != "ok").count();
    r.result(
        &serde_json::json!({ "target": t.name, "caller": me, "secrets": entries, "missing": missing }),
        || {
            let mut out = format!("[secrets] of target `{}` ({me}):", t.name);
            if entries.is_empty() {
                out.push_str("\n  (none)");
            }
            for e in &entries {
                match e.status {
                    "ok" => out.push_str(&format!(
                        "\n  {:<20} {}  last changed {}",
                        e.env_var,
                        e.arn.as_deref().unwrap_or("-"),
                        e.last_changed.as_deref().unwrap_or("-")
                    )),
                    "missing" => out.push_str(&format!(
                        "\n  {:<20} {}  MISSING: create it with `cargo xtask --target {} secrets set {}`",
                        e.env_var, e.reference, t.name, e.reference
                    )),
                    _ => out.push_str(&format!(
                        "\n  {:<20} {}  SCHEDULED FOR DELETION: `cargo xtask --target {} secrets set {}` restores it with a new value",
                        e.env_var, e.reference, t.name, e.reference
                    )),
                }
            }
            out
        },
    );
    Ok(Exit::Success)
}
