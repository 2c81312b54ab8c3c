//! The deploy lock: one deploy at a time per target and environment/service, on this machine.
//!
//! The lock is an exclusive OS file lock (`File::try_lock`, `flock` on Unix) on
//! `target/deploykit/locks/<target>-<name>.lock` under the project, and the file holds who
//! took it ([`Owner`]: user@host, pid, since when, what). The kernel releases the lock when
//! its holder exits, however it exits, so a killed deploy never blocks the next one; the owner
//! text it leaves behind is reported and replaced. A second deploy while the lock is held fails
//! at once with [`Error::Locked`](crate::Error::Locked) naming the holder.
//!
//! `force` breaks a lock that is held although its recorded holder is no longer running on
//! this host (a process it started kept the file open, or the lock file is on a shared disk):
//! the file is removed and made again, with a warning event. A holder that still runs here is
//! never broken: stop it first. Every taker checks after locking that the path still names the
//! file it locked, so a broken lock and its successor never both count as held.
//!
//! Not here (yet): the remote half (a `deploykit:lock` tag on the EB environment / App Runner
//! service with owner and expiry), which guards against a second machine.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use deploykit_report::{Event, Reporter};

use crate::{Error, Result};

/// Who holds (or held) a lock or started an in-flight deploy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Owner {
    pub user: String,
    pub host: String,
    pub pid: u32,
    /// RFC 3339, UTC.
    pub started_at: String,
    /// What it is doing: `deploy eb my-env`.
    pub command: String,
}

impl Owner {
    /// This process, doing `command`.
    pub fn current(command: impl Into<String>) -> Owner {
        Owner {
            user: current_user(),
            host: current_host(),
            pid: std::process::id(),
            started_at: now_rfc3339(),
            command: command.into(),
        }
    }

    /// Whether the owner still runs: `None` when it cannot be told (another host, or a
    /// platform without a process table we can read).
    pub fn is_alive(&self) -> Option<bool> {
        if self.host != current_host() {
            return None;
        }
        pid_alive(self.pid)
    }
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}@{} (pid {}, since {}: {})",
            self.user, self.host, self.pid, self.started_at, self.command
        )
    }
}

/// A held deploy lock; dropping it clears the owner text and releases the lock.
#[derive(Debug)]
pub struct DeployLock {
    file: File,
    path: PathBuf,
    owner: Owner,
}

impl DeployLock {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn owner(&self) -> &Owner {
        &self.owner
    }
}

impl Drop for DeployLock {
    fn drop(&mut self) {
        // Through our own descriptor: if the lock was broken, this empties the removed file
        // and never the successor's.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// `target/deploykit/locks/<target>-<name>.lock` under the project `root`.
pub fn lock_path(root: &Path, target: &str, name: &str) -> PathBuf {
    root.join("target/deploykit/locks")
        .join(format!("{}.lock", file_stem(target, name)))
}

/// `<target>-<name>` with anything but `[A-Za-z0-9._-]` replaced by `_`.
pub(crate) fn file_stem(target: &str, name: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    format!("{}-{}", clean(target), clean(name))
}

/// Takes the deploy lock of `name` (the EB environment or the service) on `target`, for
/// `command`. Fails at once with [`Error::Locked`] when another deploy holds it; `force`
/// breaks a lock whose holder no longer runs on this host (see the module docs).
pub fn acquire(
    root: &Path,
    target: &str,
    name: &str,
    command: &str,
    force: bool,
    r: &dyn Reporter,
) -> Result<DeployLock> {
    let path = lock_path(root, target, name);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    let owner = Owner::current(command);
    // A taker that lost a race with a broken lock opens the successor on the next round.
    for _ in 0..5 {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        match file.try_lock() {
            Ok(()) => {
                if !still_at(&file, &path) {
                    continue;
                }
                if let Some(prev) = read_owner(&mut file) {
                    r.report(Event::info(format!(
                        "the deploy lock of {name} was left by {prev}, which ended without releasing it (interrupted or killed); taking it"
                    )));
                }
                write_owner(&mut file, &owner)
                    .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
                return Ok(DeployLock { file, path, owner });
            }
            Err(TryLockError::WouldBlock) => {
                let holder = read_owner(&mut file);
                let alive = holder.as_ref().and_then(Owner::is_alive);
                if !force || alive == Some(true) {
                    return Err(Error::Locked {
                        target: target.to_string(),
                        name: name.to_string(),
                        holder: holder.map(Box::new),
                        alive,
                        path,
                    });
                }
                r.report(Event::warn(format!(
                    "breaking the deploy lock of {name} held by {}: {}; if that deploy still runs, two deploys now change {name}",
                    holder.as_ref().map_or_else(|| "an unknown process".to_string(), ToString::to_string),
                    if alive == Some(false) { "it no longer runs on this host" } else { "it cannot be checked from here" },
                )));
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io(format!("removing {}", path.display()), e)),
                }
            }
            Err(TryLockError::Error(e)) => {
                return Err(Error::io(format!("locking {}", path.display()), e));
            }
        }
    }
    Err(Error::io(
        format!("locking {}", path.display()),
        std::io::Error::other("the lock file kept changing while being taken"),
    ))
}

/// Whether `file` is still the one at `path` (a broken lock's file is removed).
#[cfg(unix)]
fn still_at(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn still_at(_file: &File, path: &Path) -> bool {
    path.exists()
}

fn read_owner(file: &mut File) -> Option<Owner> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

fn write_owner(file: &mut File, owner: &Owner) -> std::io::Result<()> {
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    let text = serde_json::to_string_pretty(owner).map_err(std::io::Error::other)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_data()
}

/// Whether process `pid` runs on this host: `None` where that cannot be read.
pub(crate) fn pid_alive(pid: u32) -> Option<bool> {
    if cfg!(target_os = "linux") {
        Some(Path::new("/proc").join(pid.to_string()).exists())
    } else if cfg!(unix) {
        std::process::Command::new("kill")
            .args(["-0", &pid.to_string()])
            .stderr(std::process::Stdio::null())
            .status()
            .ok()
            .map(|s| s.success())
    } else {
        None
    }
}

fn current_user() -> String {
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}

pub(crate) fn current_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into())
}

pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "unknown time".into())
}
