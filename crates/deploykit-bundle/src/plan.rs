//! File selection and every check, without writing anything.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use deploykit_secretrules::Finding;
use deploykit_secretrules::fs::{LinkProblem, check_file, check_link, is_special, special_kind};
use ignore::WalkBuilder;
use rayon::prelude::*;
use serde::Serialize;

use crate::rules;
use crate::{BundleError, BundleOptions, MAX_BUNDLE_BYTES, Problem, ProblemKind, Source};

/// How an entry's bytes are stored in the zip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Deflate,
    Store,
}

/// One file that will ship.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedEntry {
    /// The zip entry name: relative to the app directory, `/`-separated.
    pub name: String,
    /// Where the bytes come from (a symlink's target for links inside the app directory).
    pub path: PathBuf,
    pub size: u64,
    /// 0o644, or 0o755 for executables and hook scripts.
    pub mode: u32,
    pub method: Method,
    /// CRLF is turned into LF while writing (`fix_line_endings` on a hook or the Procfile).
    pub fix_line_endings: bool,
}

/// The outcome of [`crate::plan`]: the files in zip order and what the user should know.
#[derive(Debug, Clone, Serialize)]
pub struct BundlePlan {
    /// The canonical app directory.
    pub app_dir: PathBuf,
    /// Sorted by name.
    pub entries: Vec<PlannedEntry>,
    /// Sum of the entries' sizes.
    pub bytes_in: u64,
    pub warnings: Vec<String>,
}

pub(crate) fn plan(opts: &BundleOptions) -> Result<BundlePlan, BundleError> {
    let app_err = |source| BundleError::AppDir {
        path: opts.app_dir.clone(),
        source,
    };
    let root = opts.app_dir.canonicalize().map_err(app_err)?;
    if !root.is_dir() {
        return Err(app_err(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            "not a directory",
        )));
    }

    let mut problems: Vec<Problem> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    let found = walk(&root, opts.source, &mut problems)?;

    let allow: Vec<String> = opts
        .allow
        .iter()
        .map(|p| allow_name(&opts.app_dir, &root, p))
        .collect();
    let mut allow_used = vec![false; allow.len()];
    let is_allowed = |name: &str, used: &mut Vec<bool>| {
        let mut hit = false;
        for (i, a) in allow.iter().enumerate() {
            if name == a || name.starts_with(&format!("{a}/")) {
                used[i] = true;
                hit = true;
            }
        }
        hit
    };

    let mut entries = Vec::with_capacity(found.len());
    let mut scan = Vec::new();
    for f in found {
        let name = f.name;
        if let Some(why) = rules::name_problem(&name) {
            problems.push(Problem {
                path: name.clone(),
                kind: ProblemKind::BadName,
                detail: format!("unsafe zip entry name: {why}"),
                fix: format!("rename the file, or exclude `{name}` in .ebignore"),
            });
            continue;
        }
        let allowed = is_allowed(&name, &mut allow_used);
        let mut mode = if f.mode & 0o111 != 0 { 0o755 } else { 0o644 };
        if rules::is_hook(&name) && mode != 0o755 {
            warnings.push(format!(
                "{name}: hook script was not executable; shipped as 0755 (run `chmod +x {name}` \
                 and commit the bit to silence this)"
            ));
            mode = 0o755;
        }
        let mut fix_line_endings = false;
        if rules::needs_lf(&name) {
            let bytes = std::fs::read(&f.path).map_err(|source| BundleError::Read {
                path: f.path.clone(),
                source,
            })?;
            let lines = rules::crlf_lines(&bytes);
            if !lines.is_empty() {
                if opts.fix_line_endings {
                    fix_line_endings = true;
                    warnings.push(format!(
                        "{name}: converted CRLF line endings to LF on {} line{}",
                        lines.len(),
                        if lines.len() == 1 { "" } else { "s" }
                    ));
                } else {
                    problems.push(crlf_problem(&name, &lines));
                }
            }
        }
        if !allowed {
            scan.push(entries.len());
        }
        let method = if f.size == 0 || rules::is_precompressed(&name) {
            Method::Store
        } else {
            Method::Deflate
        };
        entries.push(PlannedEntry {
            name,
            path: f.path,
            size: f.size,
            mode,
            method,
            fix_line_endings,
        });
    }
    for (a, used) in allow.iter().zip(&allow_used) {
        if !used {
            warnings.push(format!(
                "allowed pattern `{a}`: no file in the bundle matches it"
            ));
        }
    }

    // Secrets: every file not allowed, by name or else by its first bytes, in parallel, with
    // the rule set the image context uses too.
    let found_secrets: Vec<(usize, Vec<Finding>)> = scan
        .par_iter()
        .map(|&i| {
            let e = &entries[i];
            check_file(&e.name, &e.path)
                .map(|found| (i, found))
                .map_err(|source| BundleError::Read {
                    path: e.path.clone(),
                    source,
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    for (i, found) in found_secrets {
        for f in found {
            problems.push(secret_problem(&entries[i].name, &f));
        }
    }

    entries.sort_by(|a, b| a.name.cmp(&b.name));
    check_app_shape(&root, &entries, &mut problems)?;

    warnings.sort();
    if !problems.is_empty() {
        problems.sort_by(|a, b| a.path.cmp(&b.path));
        return Err(BundleError::Refused {
            app_dir: opts.app_dir.clone(),
            problems,
        });
    }
    let bytes_in = entries.iter().map(|e| e.size).sum();
    let stored: u64 = entries
        .iter()
        .filter(|e| e.method == Method::Store)
        .map(|e| e.size)
        .sum();
    if stored > MAX_BUNDLE_BYTES {
        return Err(BundleError::TooLarge {
            what: format!("the already-compressed files in {}", opts.app_dir.display()),
            size: stored,
            limit: MAX_BUNDLE_BYTES,
        });
    }
    Ok(BundlePlan {
        app_dir: root,
        entries,
        bytes_in,
        warnings,
    })
}

fn secret_problem(name: &str, f: &Finding) -> Problem {
    let fix = if f.rule.is_path_rule() {
        format!(
            "delete it or add `{name}` to .ebignore (keep its values in Secrets Manager or \
             environment properties); rename it if it holds no secret, or allow `{name}` to \
             ship it deliberately"
        )
    } else {
        format!(
            "{} (the ignore file: .ebignore); or allow `{name}` to ship it deliberately",
            f.advice()
        )
    };
    Problem {
        path: name.to_string(),
        kind: ProblemKind::Secret(f.rule),
        detail: format!("looks like a secret: {f}"),
        fix,
    }
}

fn link_problem(name: &str, p: &LinkProblem) -> Problem {
    let kind = match p {
        LinkProblem::Outside { .. } => ProblemKind::SymlinkOutside,
        LinkProblem::ToSecret { finding, .. } => ProblemKind::SymlinkToSecret(finding.rule),
        LinkProblem::Loop { .. } => ProblemKind::SymlinkLoop,
        LinkProblem::Broken { .. } => ProblemKind::BrokenSymlink,
    };
    Problem {
        path: name.to_string(),
        kind,
        detail: p.to_string(),
        fix: p.advice(name, ".ebignore"),
    }
}

fn crlf_problem(name: &str, lines: &[usize]) -> Problem {
    let shown: Vec<String> = lines
        .iter()
        .take(5)
        .map(|l| format!("{name}:{l}"))
        .collect();
    let more = if lines.len() > 5 {
        format!(" and {} more", lines.len() - 5)
    } else {
        String::new()
    };
    Problem {
        path: name.to_string(),
        kind: ProblemKind::Crlf,
        detail: format!(
            "CRLF line endings break it on the Linux instance: {}{more}",
            shown.join(", ")
        ),
        fix: format!(
            "convert it to LF (`sed -i 's/\\r$//' {name}`, and `*.sh text eol=lf` in \
             .gitattributes), or pass `--fix-line-endings`"
        ),
    }
}

/// The Procfile / application.py and requirements.txt checks, plus a hint when the app seems
/// to sit one folder down (the classic "top-level folder" mistake).
fn check_app_shape(
    root: &Path,
    entries: &[PlannedEntry],
    problems: &mut Vec<Problem>,
) -> Result<(), BundleError> {
    let has = |n: &str| entries.binary_search_by(|e| e.name.as_str().cmp(n)).is_ok();
    let nested_hint = || -> String {
        let tops: BTreeSet<&str> = entries
            .iter()
            .filter_map(|e| e.name.split_once('/').map(|(d, _)| d))
            .filter(|d| {
                let p = |f: &str| entries.iter().any(|e| e.name == format!("{d}/{f}"));
                p("Procfile") || p("application.py") || p("requirements.txt")
            })
            .collect();
        match tops.iter().next() {
            Some(d) => format!(
                "; it looks like the app is in `{d}/`: bundle that directory ({}) instead, \
                 Elastic Beanstalk needs the files at the zip root, not in a top-level folder",
                root.join(d).display()
            ),
            None => String::new(),
        }
    };
    if has("Procfile") {
        let e = &entries[entries
            .binary_search_by(|e| e.name.as_str().cmp("Procfile"))
            .unwrap_or_default()];
        let text = std::fs::read(&e.path).map_err(|source| BundleError::Read {
            path: e.path.clone(),
            source,
        })?;
        if !rules::procfile_has_web(&String::from_utf8_lossy(&text)) {
            problems.push(Problem {
                path: "Procfile".into(),
                kind: ProblemKind::NoWebProcess,
                detail: "the Procfile declares no `web:` process, so nothing serves HTTP".into(),
                fix: "add a line like `web: gunicorn --bind :8000 \"app:create_app()\"`".into(),
            });
        }
    } else if !has("application.py") {
        problems.push(Problem {
            path: String::new(),
            kind: ProblemKind::NoWebProcess,
            detail: "no Procfile and no application.py at the bundle root, so Elastic \
                     Beanstalk has nothing to run"
                .into(),
            fix: format!(
                "add a Procfile with a `web:` line (e.g. `web: gunicorn --bind :8000 \
                 \"app:create_app()\"`) or an application.py exposing `application`{}",
                nested_hint()
            ),
        });
    }
    if !has("requirements.txt") && !has("Pipfile") {
        problems.push(Problem {
            path: String::new(),
            kind: ProblemKind::NoRequirements,
            detail: "no requirements.txt at the bundle root, so no dependency gets installed"
                .into(),
            fix: format!(
                "add requirements.txt with pinned versions (`pip freeze > requirements.txt`){}",
                nested_hint()
            ),
        });
    }
    Ok(())
}

/// `--allow PATH` as an entry name: relative to the app directory, `/`-separated.
fn allow_name(app_dir: &Path, root: &Path, p: &Path) -> String {
    let rel = p
        .strip_prefix(root)
        .or_else(|_| p.strip_prefix(app_dir))
        .unwrap_or(p);
    rel.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

struct Found {
    name: String,
    path: PathBuf,
    size: u64,
    mode: u32,
}

/// Lists the files to ship. Symlinks are followed when they resolve inside `root`, refused
/// otherwise (recorded in `problems`); `.git` never ships.
fn walk(
    root: &Path,
    source: Source,
    problems: &mut Vec<Problem>,
) -> Result<Vec<Found>, BundleError> {
    let mut wb = WalkBuilder::new(root);
    wb.standard_filters(false)
        .hidden(false)
        .parents(false)
        .follow_links(true)
        .sort_by_file_name(|a, b| a.cmp(b));
    if source == Source::IgnoreFiles {
        if root.join(".ebignore").is_file() {
            wb.add_custom_ignore_filename(".ebignore");
        } else {
            wb.git_ignore(true).require_git(false);
        }
    }
    let link_problems = Arc::new(Mutex::new(Vec::<Problem>::new()));
    {
        let root = root.to_path_buf();
        let link_problems = Arc::clone(&link_problems);
        wb.filter_entry(move |entry| {
            if entry.file_name() == ".git" {
                return false;
            }
            if !entry.path_is_symlink() {
                return true;
            }
            let name = rel_name(&root, entry.path()).unwrap_or_default();
            let problem = match check_link(&root, entry.path(), &name) {
                Ok(_) => return true,
                Err(p) => link_problem(&name, &p),
            };
            link_problems
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(problem);
            false
        });
    }

    let mut found = Vec::new();
    for item in wb.build() {
        let entry = match item {
            Ok(e) => e,
            Err(err) => {
                if let Some(p) = loop_problem(root, &err) {
                    problems.push(p);
                    continue;
                }
                return Err(BundleError::Walk {
                    path: root.to_path_buf(),
                    source: err,
                });
            }
        };
        let Some(ft) = entry.file_type() else {
            continue;
        };
        if is_special(&ft) {
            let name = rel_name(root, entry.path())
                .unwrap_or_else(|| entry.path().to_string_lossy().into_owned());
            problems.push(Problem {
                path: name.clone(),
                kind: ProblemKind::SpecialFile,
                detail: format!(
                    "{}, not a regular file: it has no contents to ship",
                    special_kind(&ft)
                ),
                fix: format!("delete it or add `{name}` to .ebignore"),
            });
            continue;
        }
        if !ft.is_file() {
            continue;
        }
        let Some(name) = rel_name(root, entry.path()) else {
            problems.push(Problem {
                path: entry.path().to_string_lossy().into_owned(),
                kind: ProblemKind::NotUtf8Name,
                detail: "the file name is not valid UTF-8".into(),
                fix: "rename the file, or exclude it in .ebignore".into(),
            });
            continue;
        };
        let meta = std::fs::metadata(entry.path()).map_err(|source| BundleError::Read {
            path: entry.path().to_path_buf(),
            source,
        })?;
        let path = if entry.path_is_symlink() {
            std::fs::canonicalize(entry.path()).unwrap_or_else(|_| entry.path().to_path_buf())
        } else {
            entry.path().to_path_buf()
        };
        found.push(Found {
            name,
            path,
            size: meta.len(),
            mode: unix_mode(&meta),
        });
    }
    problems.extend(
        link_problems
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..),
    );
    Ok(found)
}

/// Walk errors that are problems of the tree (symlink loops, dangling links), not I/O failures.
fn loop_problem(root: &Path, err: &ignore::Error) -> Option<Problem> {
    match err {
        ignore::Error::WithPath { path, err } => {
            let dangling = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_symlink())
                && std::fs::metadata(path).is_err();
            if dangling {
                let name = rel_name(root, path).unwrap_or_else(|| path.display().to_string());
                let target = std::fs::read_link(path).unwrap_or_default();
                let p = LinkProblem::Broken {
                    target,
                    error: "it does not exist".into(),
                };
                return Some(link_problem(&name, &p));
            }
            loop_problem(root, err)
        }
        ignore::Error::WithDepth { err, .. } => loop_problem(root, err),
        ignore::Error::Loop { child, .. } => {
            let name = rel_name(root, child).unwrap_or_else(|| child.display().to_string());
            let p = LinkProblem::Loop {
                target_rel: rel_name(root, child).unwrap_or_default(),
            };
            Some(link_problem(&name, &p))
        }
        _ => None,
    }
}

fn rel_name(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str()?),
            _ => return None,
        }
    }
    Some(parts.join("/"))
}

#[cfg(unix)]
fn unix_mode(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode()
}

#[cfg(not(unix))]
fn unix_mode(_meta: &std::fs::Metadata) -> u32 {
    0o644
}
