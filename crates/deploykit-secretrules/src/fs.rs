//! The file-system side of the policy, shared by the source bundle and the image context so
//! the same app tree gets the same verdict: bounded content scans, symlink checks and the
//! refusal of special files.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use crate::content::{SCAN_LIMIT, scan_file_content};
use crate::path::{classify_dir, classify_path};
use crate::{Finding, Rule};

/// The content findings of the regular file at `path`, shipped as `rel` (relative to the app
/// directory, `/`-separated). Reads at most [`SCAN_LIMIT`] bytes; anything but a regular file
/// (a FIFO would block) yields no finding and is not opened.
pub fn scan_file(rel: &str, path: &Path) -> io::Result<Vec<Finding>> {
    if !std::fs::metadata(path)?.is_file() {
        return Ok(Vec::new());
    }
    let mut buf = Vec::new();
    File::open(path)?
        .take(SCAN_LIMIT as u64)
        .read_to_end(&mut buf)?;
    Ok(scan_file_content(rel, &buf))
}

/// The findings for a regular file shipped as `rel`: its path ([`classify_path`]) or, when
/// the name is fine, its contents. A file refused by name is not read: one reason is enough.
pub fn check_file(rel: &str, path: &Path) -> io::Result<Vec<Finding>> {
    match classify_path(rel) {
        Some(f) => Ok(vec![f]),
        None => scan_file(rel, path),
    }
}

/// A symlink that resolves inside the app directory to something that may ship.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedLink {
    /// The canonical target.
    pub target: PathBuf,
    /// The target relative to the app directory, `/`-separated.
    pub target_rel: String,
    pub is_dir: bool,
}

/// Why a symlink is refused. Every variant names the target; the caller names the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkProblem {
    /// The target is outside the app directory: it would ship a file the app does not own.
    Outside { target: PathBuf },
    /// The target (inside the app) is a secret file or a credential directory; the link would
    /// ship it under another name (`x.cfg -> .env`), even when the target itself is ignored.
    ToSecret {
        target_rel: String,
        finding: Finding,
    },
    /// The target is one of the link's own parent directories.
    Loop { target_rel: String },
    /// The target does not exist or cannot be resolved.
    Broken { target: PathBuf, error: String },
}

impl LinkProblem {
    /// A stable id: `symlink-outside`, `symlink-to-secret`, `symlink-loop`, `symlink-broken`.
    pub fn id(&self) -> &'static str {
        match self {
            LinkProblem::Outside { .. } => "symlink-outside",
            LinkProblem::ToSecret { .. } => "symlink-to-secret",
            LinkProblem::Loop { .. } => "symlink-loop",
            LinkProblem::Broken { .. } => "symlink-broken",
        }
    }

    /// The secret rule the target matched, for [`LinkProblem::ToSecret`].
    pub fn rule(&self) -> Option<Rule> {
        match self {
            LinkProblem::ToSecret { finding, .. } => Some(finding.rule),
            _ => None,
        }
    }

    /// How to fix it, without naming a front end; `ignore_file` is `.ebignore` or
    /// `.dockerignore`, `link` the link's path.
    pub fn advice(&self, link: &str, ignore_file: &str) -> String {
        match self {
            LinkProblem::Outside { .. } => format!(
                "copy the target into the app directory, or delete `{link}` or list it in {ignore_file}"
            ),
            LinkProblem::ToSecret { .. } => format!(
                "delete `{link}` or list it in {ignore_file}: a link ships its target's contents \
                 under its own name"
            ),
            LinkProblem::Loop { .. } => {
                format!("delete `{link}` or list it in {ignore_file}")
            }
            LinkProblem::Broken { .. } => {
                format!("fix or delete the link, or list `{link}` in {ignore_file}")
            }
        }
    }
}

impl fmt::Display for LinkProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkProblem::Outside { target } => write!(
                f,
                "symlink points outside the app directory, to {}",
                target.display()
            ),
            LinkProblem::ToSecret {
                target_rel,
                finding,
            } => write!(
                f,
                "symlink points to `{target_rel}`, which looks like a secret: {}",
                finding.rule.describe()
            ),
            LinkProblem::Loop { target_rel } => write!(
                f,
                "symlink loop: the link points at its own parent directory `{}`",
                if target_rel.is_empty() {
                    "."
                } else {
                    target_rel
                }
            ),
            LinkProblem::Broken { target, error } => write!(
                f,
                "symlink points to {}, which cannot be resolved: {error}",
                target.display()
            ),
        }
    }
}

fn rel_of(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            _ => return None,
        }
    }
    Some(parts.join("/"))
}

/// Resolves the symlink at `link` (shipped as `link_rel`) against the canonical app directory
/// `root` and applies the policy: its target must exist, stay inside `root`, not be one of
/// the link's parents, and not be a secret ([`classify_path`] for files, [`classify_dir`] for
/// directories).
pub fn check_link(root: &Path, link: &Path, link_rel: &str) -> Result<ResolvedLink, LinkProblem> {
    let target = match std::fs::canonicalize(link) {
        Ok(t) => t,
        Err(e) => {
            return Err(LinkProblem::Broken {
                target: std::fs::read_link(link).unwrap_or_default(),
                error: e.to_string(),
            });
        }
    };
    let Some(target_rel) = rel_of(root, &target) else {
        return Err(LinkProblem::Outside { target });
    };
    let is_dir = target.is_dir();
    if is_dir && (target_rel.is_empty() || link_rel.starts_with(&format!("{target_rel}/"))) {
        return Err(LinkProblem::Loop { target_rel });
    }
    let finding = if is_dir {
        classify_dir(&target_rel)
    } else {
        classify_path(&target_rel)
    };
    if let Some(finding) = finding {
        return Err(LinkProblem::ToSecret {
            target_rel,
            finding,
        });
    }
    Ok(ResolvedLink {
        target,
        target_rel,
        is_dir,
    })
}

/// Whether a file type is a FIFO, socket or device: never shipped (reading a FIFO blocks, the
/// others have no contents to ship). The id of the refusal is `special-file`.
pub fn is_special(ft: &std::fs::FileType) -> bool {
    !(ft.is_file() || ft.is_dir() || ft.is_symlink())
}

/// A plain word for a special file's type.
pub fn special_kind(ft: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if ft.is_socket() {
            return "a socket";
        }
        if ft.is_block_device() || ft.is_char_device() {
            return "a device";
        }
    }
    let _ = ft;
    "not a regular file"
}
