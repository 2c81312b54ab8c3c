//! Where a deploy's files come from: the app directory as its ignore files select it, or the
//! tree git has (HEAD or the index).

use std::path::Path;

use deploykit_bundle::Source;
use xshell::{Shell, cmd};

use crate::{Error, Result};

/// What git knows about the app directory.
#[derive(Debug, Clone)]
pub struct GitInfo {
    pub sha: String,
    pub dirty: bool,
}

impl GitInfo {
    /// HEAD's sha and whether the app directory has uncommitted changes; `None` outside git.
    pub fn probe(app: &Path) -> Option<GitInfo> {
        let sh = Shell::new().ok()?;
        sh.change_dir(app);
        let sha = cmd!(sh, "git rev-parse HEAD")
            .quiet()
            .ignore_stderr()
            .read()
            .ok()?;
        let status = cmd!(sh, "git status --porcelain -- .")
            .quiet()
            .ignore_stderr()
            .read()
            .unwrap_or_default();
        Some(GitInfo {
            sha,
            dirty: !status.trim().is_empty(),
        })
    }

    /// HEAD's sha, shortened to `n` characters.
    pub fn short(&self, n: usize) -> String {
        self.sha.chars().take(n).collect()
    }

    /// Exports HEAD (or the index) restricted to the app directory into a temp dir.
    pub fn export(&self, app: &Path, staged: bool) -> Result<tempfile::TempDir> {
        let fail = |what: &str, e: &dyn std::fmt::Display| Error::Git {
            what: what.to_string(),
            message: e.to_string(),
        };
        let sh = Shell::new().map_err(|e| fail("starting a shell", &e))?;
        sh.change_dir(app);
        let prefix = cmd!(sh, "git rev-parse --show-prefix")
            .quiet()
            .read()
            .map_err(|e| fail("finding the app inside the repository", &e))?;
        let tree = if staged {
            cmd!(sh, "git write-tree").quiet().read().map_err(|e| {
                fail(
                    "writing the index as a tree (resolve merge conflicts first)",
                    &e,
                )
            })?
        } else {
            self.sha.clone()
        };
        let treeish = if prefix.is_empty() {
            tree
        } else {
            format!("{tree}:{}", prefix.trim_end_matches('/'))
        };
        let dir = tempfile::Builder::new()
            .prefix("deploykit-export-")
            .tempdir()
            .map_err(|e| Error::io("creating a temp dir", e))?;
        let tar_path = dir.path().join("export.tar");
        // `git archive` limits a tree to the current subdirectory, so the tree we name (already
        // the app's subtree) must be archived from the repository root.
        let toplevel = cmd!(sh, "git rev-parse --show-toplevel")
            .quiet()
            .read()
            .map_err(|e| fail("finding the repository root", &e))?;
        sh.change_dir(toplevel);
        cmd!(sh, "git archive --format=tar -o {tar_path} {treeish}")
            .quiet()
            .run()
            .map_err(|e| fail("exporting the tree with git archive", &e))?;
        let tree_dir = dir.path().join("tree");
        let file =
            std::fs::File::open(&tar_path).map_err(|e| Error::io("opening the export", e))?;
        let mut archive = tar::Archive::new(file);
        archive.set_preserve_permissions(true);
        archive
            .unpack(&tree_dir)
            .map_err(|e| Error::io("unpacking the export", e))?;
        std::fs::remove_file(&tar_path).map_err(|e| Error::io("removing the export tar", e))?;
        // Bundle the unpacked tree: move it to the temp dir's root.
        let final_dir = tempfile::Builder::new()
            .prefix("deploykit-tree-")
            .tempdir()
            .map_err(|e| Error::io("creating a temp dir", e))?;
        std::fs::remove_dir(final_dir.path()).map_err(|e| Error::io("preparing the export", e))?;
        std::fs::rename(&tree_dir, final_dir.path())
            .map_err(|e| Error::io("moving the export", e))?;
        Ok(final_dir)
    }
}

/// Where the bundle's files come from: the app directory filtered by its ignore files, or
/// (`from_git`) a temp dir holding the tree git exported (the index with `staged`). Keep the
/// `TempDir` alive until the bundle is written.
pub fn source_tree(
    app: &Path,
    git: Option<&GitInfo>,
    from_git: bool,
    staged: bool,
) -> Result<(Option<tempfile::TempDir>, Source)> {
    if !from_git {
        return Ok((None, Source::IgnoreFiles));
    }
    let Some(g) = git else {
        return Err(Error::NotAGitRepository {
            app: app.to_path_buf(),
        });
    };
    Ok((Some(g.export(app, staged)?), Source::Tree))
}
