//! From the global arguments to the library's [`Project`] and [`Session`], and from library
//! errors to CLI errors: the one place the CLI adds its command names to the library's advice.

use deploykit::{Error, LocalCloud, Project, Session};
use deploykit_report::Reporter;
use deploykit_secrets::{MissingReason, SecretsError};

use crate::{CliError, GlobalArgs};

/// deploy.toml as the library's project; a local target starts the local cloud with this
/// program as the edge (`local serve-edge`).
pub fn project(global: &GlobalArgs) -> Result<Project, CliError> {
    let project = Project::load(&global.config).map_err(|e| lib_err(e, None))?;
    let opts = crate::cmd_local::up_options(
        crate::cmd_local::env_edge_port(),
        deploykit_local::DEFAULT_TIME_SCALE,
    )?;
    Ok(project
        .with_local_home(crate::cmd_local::local_home())
        .with_local_cloud(LocalCloud::Start(opts)))
}

/// The session on `--target` (the local cloud started when the target is local).
pub async fn session(global: &GlobalArgs, r: &dyn Reporter) -> Result<Session, CliError> {
    let project = project(global)?;
    project
        .connect(global.target.as_deref(), r)
        .await
        .map_err(|e| lib_err(e, global.target.as_deref()))
}

/// A library error for the user: the library's category and help, plus the command that
/// fixes it where there is one. `target` is the `--target` given, for the commands' flags.
pub fn lib_err(e: Error, target: Option<&str>) -> CliError {
    let e = match e {
        Error::Local(l) => return crate::cmd_local::cli_err(*l),
        Error::Eb(eb) => return crate::cmd_deploy::eb_err(&eb),
        Error::Platform(p) => return crate::cmd_apprunner::apprunner_err(&p),
        e => e,
    };
    let flag = target.map(|t| format!(" --target {t}")).unwrap_or_default();
    let err = CliError::from_diagnostic(&e);
    let command = match &e {
        Error::MissingIam { target, .. } => Some(format!(
            "`cargo xtask --target {target} iam ensure` creates them"
        )),
        Error::Secrets(SecretsError::Missing { missing }) => {
            let fixes: Vec<String> = missing
                .iter()
                .map(|m| {
                    format!(
                        "`cargo xtask{flag} secrets set {}`{}",
                        m.reference,
                        match m.reason {
                            MissingReason::NotFound => "",
                            MissingReason::ScheduledForDeletion { .. } =>
                                " (restores it from scheduled deletion)",
                        }
                    )
                })
                .collect();
            Some(format!("create each with {}", fixes.join(", ")))
        }
        Error::NotAGitRepository { .. } => {
            Some("drop --git/--staged to bundle the directory as its ignore files select it".into())
        }
        Error::PreDeploySnapshot { target, .. } => Some(format!(
            "`cargo xtask db status --target {target}` shows the database"
        )),
        _ => None,
    };
    match command {
        Some(c) => err.add_hint(c),
        None => err,
    }
}

/// Who the credentials are, checked against the target's `account_id`.
pub async fn caller(
    t: &deploykit_config::ResolvedTarget,
    sdk: &aws_types::SdkConfig,
) -> Result<deploykit_aws::CallerIdentity, CliError> {
    deploykit::preflight::caller(t, sdk)
        .await
        .map_err(|e| lib_err(e, Some(&t.name)))
}

/// The target's `[secrets]` with their real ARNs; missing ones refused with `secrets set`.
pub async fn resolve_secrets(
    t: &deploykit_config::ResolvedTarget,
    sdk: &aws_types::SdkConfig,
) -> Result<Vec<deploykit_secrets::ResolvedSecret>, CliError> {
    deploykit::preflight::resolve_secrets(t, sdk)
        .await
        .map_err(|e| lib_err(e, Some(&t.name)))
}
