//! The in-flight journal: what a deploy is changing, written before its first change and
//! removed when it ends, so an interrupted or killed deploy leaves a record of itself.
//!
//! `target/deploykit/inflight/<target>-<name>.json` under the project, written atomically (a
//! temporary file in the same directory, synced, then renamed over the old one): a reader sees
//! the old entry or the new one, never half of one. Apply writes it before its first mutating
//! call and removes it when it returns `Ok` or an error that already rolled back; any other
//! ending (a timeout, a failed rollback, an interrupt, a kill) leaves it. The next plan of the
//! same target and name reports a left-over entry whose process is gone as a warning (the
//! deploys are idempotent: the plan is recomputed from AWS, so the run converges) and the
//! next apply replaces it.

use std::io::Write;
use std::path::{Path, PathBuf};

use deploykit_report::{Event, Reporter};

use crate::lock::{current_host, file_stem, now_rfc3339, pid_alive};
use crate::{Error, Result};

/// A deploy in flight.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InFlight {
    /// deploy.toml's target.
    pub target: String,
    /// `eb`, `apprunner` or `ecs`.
    pub route: String,
    /// The EB environment or the service.
    pub name: String,
    /// The version label (EB) or image (containers) being deployed.
    pub deploying: String,
    /// What ran before: the rollback target (`None`: nothing ran, e.g. a first deploy).
    pub previous: Option<String>,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub pid: u32,
    pub host: String,
    /// EB: the option settings the deploy changes, as they were before it (what a rollback
    /// restores). Absent for containers and for updates that change no setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<SavedRestore>,
}

/// The settings an EB rollback restores, as kept on disk. The value of a variable whose name
/// looks secret (deploykit-secretrules) is not written: it is `None`, and a rollback from the
/// journal leaves that variable as it is (and says so).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct SavedRestore {
    /// (namespace, option name, value before the deploy).
    pub settings: Vec<(String, String, Option<String>)>,
    /// (namespace, option name) the deploy adds: removed by a rollback.
    pub remove: Vec<(String, String)>,
}

impl SavedRestore {
    /// What to keep on disk of `r`.
    pub fn from_restore(r: &deploykit_eb::SettingsUndo) -> SavedRestore {
        SavedRestore {
            settings: r
                .restore
                .iter()
                .map(|s| {
                    let secret = deploykit_secretrules::is_secret_name(&s.name);
                    (
                        s.namespace.clone(),
                        s.name.clone(),
                        (!secret).then(|| s.value.clone()),
                    )
                })
                .collect(),
            remove: r
                .remove
                .iter()
                .map(|s| (s.namespace.clone(), s.name.clone()))
                .collect(),
        }
    }

    /// Back to a restore; the names whose value was not kept are returned apart.
    pub fn to_restore(&self) -> (deploykit_eb::SettingsUndo, Vec<String>) {
        let mut r = deploykit_eb::SettingsUndo::default();
        let mut unknown = Vec::new();
        for (ns, name, value) in &self.settings {
            match value {
                Some(v) => r
                    .restore
                    .push(deploykit_eb::Setting::new(ns, name, v.clone())),
                None => unknown.push(name.clone()),
            }
        }
        r.remove = self
            .remove
            .iter()
            .map(|(ns, name)| deploykit_eb::Setting::new(ns, name, ""))
            .collect();
        (r, unknown)
    }
}

impl InFlight {
    /// An entry for this process, starting now.
    pub fn new(
        target: impl Into<String>,
        route: impl Into<String>,
        name: impl Into<String>,
        deploying: impl Into<String>,
        previous: Option<String>,
    ) -> InFlight {
        InFlight {
            target: target.into(),
            route: route.into(),
            name: name.into(),
            deploying: deploying.into(),
            previous,
            started_at: now_rfc3339(),
            pid: std::process::id(),
            host: current_host(),
            restore: None,
        }
    }

    /// With the EB settings a rollback restores (nothing kept when there are none).
    pub fn with_restore(mut self, r: &deploykit_eb::SettingsUndo) -> InFlight {
        self.restore = (!r.is_empty()).then(|| SavedRestore::from_restore(r));
        self
    }

    /// What `rollback eb` needs to finish this deploy's rollback (`None`: nothing ran before),
    /// and the names of settings whose old value was not kept on disk.
    pub fn resume(&self) -> Option<(deploykit_eb::Resume, Vec<String>)> {
        let previous = self.previous.clone()?;
        let (restore, unknown) = self
            .restore
            .as_ref()
            .map(SavedRestore::to_restore)
            .unwrap_or_default();
        Some((
            deploykit_eb::Resume {
                deploying: self.deploying.clone(),
                previous,
                restore,
            },
            unknown,
        ))
    }

    /// Whether the process that wrote it still runs (`None`: another host, or cannot tell).
    pub fn is_alive(&self) -> Option<bool> {
        if self.host != current_host() {
            return None;
        }
        pid_alive(self.pid)
    }

    /// Whether this process wrote it.
    pub fn is_ours(&self) -> bool {
        self.pid == std::process::id() && self.host == current_host()
    }

    /// "deploying LABEL to NAME (target T, eb; previously PREV; started at S by pid P)".
    pub fn describe(&self) -> String {
        format!(
            "deploying {} to {} (target {}, {}; {}; started at {} by pid {} on {})",
            self.deploying,
            self.name,
            self.target,
            self.route,
            match &self.previous {
                Some(p) => format!("it ran {p} before"),
                None => "nothing ran there before".into(),
            },
            self.started_at,
            self.pid,
            self.host
        )
    }
}

/// `target/deploykit/inflight/` under the project `root`.
pub fn dir(root: &Path) -> PathBuf {
    root.join("target/deploykit/inflight")
}

/// `target/deploykit/inflight/<target>-<name>.json` under the project `root`.
pub fn path(root: &Path, target: &str, name: &str) -> PathBuf {
    dir(root).join(format!("{}.json", file_stem(target, name)))
}

/// Writes `entry` atomically (temporary file, sync, rename); returns its path.
pub fn write(root: &Path, entry: &InFlight) -> Result<PathBuf> {
    let path = path(root, &entry.target, &entry.name);
    let dir = dir(root);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let what = || format!("writing {}", path.display());
    let mut tmp = tempfile::Builder::new()
        .prefix(".inflight-")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(|e| Error::io(what(), e))?;
    let text = serde_json::to_string_pretty(entry).map_err(|e| Error::io(what(), e.into()))?;
    tmp.write_all(text.as_bytes())
        .and_then(|()| tmp.write_all(b"\n"))
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| Error::io(what(), e))?;
    tmp.persist(&path).map_err(|e| Error::io(what(), e.error))?;
    Ok(path)
}

/// The entry of `name` on `target`, if one was left (`None`: nothing in flight).
pub fn read(root: &Path, target: &str, name: &str) -> Result<Option<InFlight>> {
    read_path(&path(root, target, name))
}

/// Every entry under the project (unreadable files skipped), in file-name order.
pub fn list(root: &Path) -> Result<Vec<InFlight>> {
    let dir = dir(root);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(format!("reading {}", dir.display()), e)),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    Ok(paths
        .iter()
        .filter_map(|p| read_path(p).ok().flatten())
        .collect())
}

/// Removes the entry of `name` on `target` (nothing to remove is fine).
pub fn remove(root: &Path, target: &str, name: &str) -> Result<()> {
    let path = path(root, target, name);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("removing {}", path.display()), e)),
    }
}

fn read_path(path: &Path) -> Result<Option<InFlight>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::io(format!("reading {}", path.display()), e.into()))
}

/// At plan time: reports an entry left by an earlier run of `name` on `target`. One whose
/// process is gone was interrupted or killed: this run converges (and its apply replaces the
/// entry). One whose process still runs here is another deploy in progress.
pub fn report_left_over(root: &Path, target: &str, name: &str, r: &dyn Reporter) {
    let entry = match read(root, target, name) {
        Ok(Some(e)) if !e.is_ours() => e,
        Ok(_) => return,
        Err(e) => {
            r.report(Event::warn(format!(
                "{e}; it is ignored and replaced by this deploy"
            )));
            return;
        }
    };
    let message = match entry.is_alive() {
        Some(true) => format!(
            "another deploy is in flight: {}; applying is refused while it holds the deploy lock",
            entry.describe()
        ),
        Some(false) => format!(
            "an earlier deploy stopped before it finished (interrupted or killed) while {}; this run recomputes the plan from what AWS runs now and converges",
            entry.describe()
        ),
        None => format!(
            "an earlier deploy from another machine left an in-flight record: {}; this run recomputes the plan from what AWS runs now and converges",
            entry.describe()
        ),
    };
    r.report(Event::warn(message));
}
