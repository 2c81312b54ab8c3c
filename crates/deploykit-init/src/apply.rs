//! `preview` and `apply`: compare the plan with the app directory, then write exactly the plan.
//! Nothing is written when any file would be overwritten without `force`; each file is written
//! to a temporary file beside it and renamed into place, with its mode.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::Conflict;
use crate::plan::{InitPlan, PlannedFile};
use crate::{InitError, Note};

/// What happens (or happened) to one planned file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileAction {
    /// It did not exist.
    Create,
    /// It exists with the same contents and executable bit.
    Unchanged,
    /// Same contents, but the executable bit differs (a hook without `+x` fails on AL2023).
    SetMode,
    /// It differs and `force` was given.
    Overwrite,
    /// It differs and `force` was not given: nothing is written.
    Conflict,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileReport {
    /// Relative to the app directory.
    pub path: PathBuf,
    pub action: FileAction,
    pub mode: u32,
    /// For a conflict or overwrite: how the existing file differs.
    pub detail: Option<String>,
}

/// The outcome of init (or, from [`preview`], what it would be).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InitReport {
    pub app_dir: PathBuf,
    pub files: Vec<FileReport>,
    pub notes: Vec<Note>,
}

impl InitReport {
    /// Files created, overwritten or given a new mode.
    pub fn changed(&self) -> usize {
        self.files
            .iter()
            .filter(|f| {
                matches!(
                    f.action,
                    FileAction::Create | FileAction::Overwrite | FileAction::SetMode
                )
            })
            .count()
    }

    pub fn conflicts(&self) -> Vec<Conflict> {
        self.files
            .iter()
            .filter(|f| f.action == FileAction::Conflict)
            .map(|f| Conflict {
                path: f.path.clone(),
                detail: f.detail.clone().unwrap_or_default(),
            })
            .collect()
    }
}

fn is_exec(mode: u32) -> bool {
    mode & 0o111 != 0
}

fn compare(app_dir: &Path, f: &PlannedFile, force: bool) -> Result<FileReport, InitError> {
    let path = app_dir.join(&f.path);
    let report = |action, detail: Option<&str>| FileReport {
        path: f.path.clone(),
        action,
        mode: f.mode,
        detail: detail.map(str::to_owned),
    };
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(report(FileAction::Create, None));
        }
        Err(e) => return Err(InitError::io("reading", path, e)),
    };
    if !meta.is_file() {
        // Not even `force` replaces a directory with a file.
        return Ok(report(FileAction::Conflict, Some("is not a regular file")));
    }
    let existing = std::fs::read(&path).map_err(|e| InitError::io("reading", &path, e))?;
    if existing == f.contents.as_bytes() {
        let action = if is_exec(meta.permissions().mode()) == is_exec(f.mode) {
            FileAction::Unchanged
        } else {
            FileAction::SetMode
        };
        return Ok(report(action, None));
    }
    let crlf_only = String::from_utf8_lossy(&existing).replace("\r\n", "\n") == f.contents;
    let detail = if crlf_only {
        "line endings (CRLF)"
    } else {
        "content"
    };
    Ok(report(
        if force {
            FileAction::Overwrite
        } else {
            FileAction::Conflict
        },
        Some(detail),
    ))
}

/// What [`apply`] would do, reading only. Conflicts are reported, not refused.
pub fn preview(plan: &InitPlan, app_dir: &Path, force: bool) -> Result<InitReport, InitError> {
    if !app_dir.is_dir() {
        return Err(InitError::NotADirectory {
            path: app_dir.to_path_buf(),
        });
    }
    let files = plan
        .files
        .iter()
        .map(|f| compare(app_dir, f, force))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(InitReport {
        app_dir: app_dir.to_path_buf(),
        files,
        notes: plan.notes.clone(),
    })
}

/// Writes the plan into `app_dir`. Refuses, before writing anything, when a file exists and
/// differs and `force` is false (each such file is listed). Identical files are left alone;
/// a run after a run changes nothing.
pub fn apply(plan: &InitPlan, app_dir: &Path, force: bool) -> Result<InitReport, InitError> {
    let report = preview(plan, app_dir, force)?;
    let conflicts = report.conflicts();
    if !conflicts.is_empty() {
        return Err(InitError::Conflicts { conflicts });
    }
    for (f, r) in plan.files.iter().zip(&report.files) {
        let path = app_dir.join(&f.path);
        match r.action {
            FileAction::Create | FileAction::Overwrite => write_atomic(&path, f)?,
            FileAction::SetMode => std::fs::set_permissions(&path, mode(f.mode))
                .map_err(|e| InitError::io("setting the mode of", &path, e))?,
            FileAction::Unchanged | FileAction::Conflict => {}
        }
    }
    Ok(report)
}

fn mode(m: u32) -> std::fs::Permissions {
    std::fs::Permissions::from_mode(m)
}

fn write_atomic(path: &Path, f: &PlannedFile) -> Result<(), InitError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| InitError::io("creating", dir, e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".deploykit-init-")
        .tempfile_in(dir)
        .map_err(|e| InitError::io("creating a temporary file in", dir, e))?;
    tmp.write_all(f.contents.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| InitError::io("writing", tmp.path().to_path_buf(), e))?;
    tmp.as_file()
        .set_permissions(mode(f.mode))
        .map_err(|e| InitError::io("setting the mode of", tmp.path().to_path_buf(), e))?;
    tmp.persist(path)
        .map_err(|e| InitError::io("renaming into place", path, e.error))?;
    Ok(())
}
