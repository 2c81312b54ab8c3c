//! `cargo xtask bundle eb`: build the Elastic Beanstalk source bundle without deploying it.
//!
//! Maps arguments and deploy.toml to [`deploykit_bundle::BundleOptions`]. For `--git` and
//! `--staged` the tree is exported from git here (libraries do not shell out) and bundled as
//! [`Source::Tree`].

use std::path::{Path, PathBuf};

use deploykit::source::{GitInfo, source_tree};
use deploykit_bundle::{BundleError, BundleOptions, BundleSummary, Source};

use crate::{CliError, CliResult, Exit, GlobalArgs, render::Renderer};

/// The app bundled when neither `--app` nor deploy.toml names one.
const DEFAULT_APP: &str = "examples/budgetsync";
/// Where bundles go by default (as `<label>.zip`).
const DEFAULT_OUT_DIR: &str = "target/deploykit";

#[derive(Debug, clap::Subcommand)]
pub enum BundleCommand {
    /// Build the Elastic Beanstalk source bundle (one zip, files at its root).
    Eb(EbArgs),
}

#[derive(Debug, clap::Args)]
pub struct EbArgs {
    /// The app directory. Default: deploy.toml's `[app] path`, else examples/budgetsync.
    #[arg(long, value_name = "DIR")]
    pub app: Option<PathBuf>,
    /// The zip to write. Default: target/deploykit/<label>.zip.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Ship exactly the files tracked at HEAD (like `eb deploy` in a git repo).
    #[arg(long, conflicts_with = "staged")]
    pub git: bool,
    /// Ship exactly the files in the git index (`eb deploy --staged`).
    #[arg(long)]
    pub staged: bool,
    /// Ship this file (or directory) although a secret rule matches it. Repeatable.
    #[arg(long = "allow", value_name = "PATH")]
    pub allow: Vec<PathBuf>,
    /// Convert CRLF to LF in hook scripts and the Procfile instead of refusing them.
    #[arg(long)]
    pub fix_line_endings: bool,
    /// Compression threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

pub fn run(cmd: BundleCommand, global: &GlobalArgs, r: &Renderer) -> CliResult {
    match cmd {
        BundleCommand::Eb(args) => {
            let summary = bundle_eb(&args, global, r)?;
            r.result(&summary, || human(&summary));
            Ok(Exit::Success)
        }
    }
}

/// Builds the bundle as `args` say.
pub fn bundle_eb(
    args: &EbArgs,
    global: &GlobalArgs,
    r: &Renderer,
) -> Result<BundleSummary, CliError> {
    let (app, prefix) = app_and_prefix(args, global)?;
    if !app.is_dir() {
        return Err(CliError::new(
            Exit::Config,
            format!("app directory {} does not exist", app.display()),
        )
        .with_hint("pass --app DIR, or set `[app] path` in deploy.toml"));
    }
    let git = GitInfo::probe(&app);

    // --git / --staged: export the tree from git into a temp dir and bundle it as it is.
    let (export, source) = source_tree(&app, git.as_ref(), args.git || args.staged, args.staged)
        .map_err(|e| crate::session::lib_err(e, global.target.as_deref()))?;
    let app_dir = export
        .as_ref()
        .map_or_else(|| app.clone(), |d| d.path().to_path_buf());

    let out = match &args.out {
        Some(o) => o.clone(),
        None => {
            let dir = PathBuf::from(DEFAULT_OUT_DIR);
            std::fs::create_dir_all(&dir).map_err(|e| {
                CliError::new(Exit::Failure, format!("creating {}: {e}", dir.display()))
            })?;
            dir
        }
    };
    let mut opts = BundleOptions::new(&app_dir, out);
    opts.source = source;
    opts.allow = args.allow.clone();
    opts.fix_line_endings = args.fix_line_endings;
    opts.label_prefix = prefix;
    opts.git_sha = git.as_ref().map(|g| g.sha.clone());
    opts.git_dirty = git.as_ref().is_some_and(|g| g.dirty) && source == Source::IgnoreFiles;
    opts.threads = args.threads;
    deploykit_bundle::build(&opts, r).map_err(|e| bundle_error(&e))
}

fn human(s: &BundleSummary) -> String {
    let ratio = if s.bytes_in == 0 {
        100.0
    } else {
        s.bytes_out as f64 * 100.0 / s.bytes_in as f64
    };
    let mut text = format!(
        "bundle  {}\nlabel   {}\nfiles   {}\nbytes   {} in, {} out ({ratio:.1}%)\nsha256  {}\ntime    {:.2}s",
        s.path.display(),
        s.label,
        s.files,
        s.bytes_in,
        s.bytes_out,
        s.sha256,
        s.elapsed.as_secs_f64()
    );
    for w in &s.warnings {
        text.push_str(&format!("\nwarning: {w}"));
    }
    text
}

/// Refusals are the user's to fix (exit 2); anything else is a failure of the machine (exit 1).
fn bundle_error(e: &BundleError) -> CliError {
    match e {
        BundleError::Refused { .. } => CliError::from_error(Exit::Config, e).with_hint(
            "fix each file listed above: exclude it in .ebignore, `--allow PATH` ships a flagged \
             file deliberately, `--fix-line-endings` converts CRLF; nothing was written",
        ),
        BundleError::TooLarge { .. } => CliError::from_error(Exit::Config, e)
            .with_hint("see which files are largest with `du -ah DIR | sort -h | tail`"),
        BundleError::AppDir { .. } => CliError::from_error(Exit::Config, e)
            .with_hint("pass --app DIR, or set `[app] path` in deploy.toml"),
        _ => CliError::from_error(Exit::Failure, e).with_hint(
            "check that the files are readable and the disk has space; nothing was uploaded",
        ),
    }
}

/// The app directory and the label prefix: `--app` (prefix = its name), else deploy.toml's
/// `[app]` for the selected target, else examples/budgetsync.
fn app_and_prefix(args: &EbArgs, global: &GlobalArgs) -> Result<(PathBuf, String), CliError> {
    let dir_name = |p: &Path| {
        p.canonicalize()
            .ok()
            .and_then(|c| c.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "bundle".into())
    };
    if let Some(app) = &args.app {
        return Ok((app.clone(), dir_name(app)));
    }
    if global.config.is_file() {
        let config = deploykit_config::load(&global.config).map_err(|e| {
            CliError::from_error(Exit::Config, &e).with_hint(format!(
                "fix {} or pass --app DIR to bundle without it",
                global.config.display()
            ))
        })?;
        let target = global
            .target
            .clone()
            .unwrap_or_else(|| config.default_target.clone());
        let Some(t) = config.targets.get(&target) else {
            return Err(CliError::new(
                Exit::Config,
                format!(
                    "target `{target}` is not defined in {}",
                    global.config.display()
                ),
            )
            .with_hint(format!(
                "use one of: {}",
                config
                    .targets
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        return Ok((t.app.path.clone(), t.app.name.clone()));
    }
    let app = PathBuf::from(DEFAULT_APP);
    let prefix = dir_name(&app);
    Ok((app, prefix))
}
