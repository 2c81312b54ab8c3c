//! Detached processes we start, and how we recognise and stop exactly those (never by name).
//!
//! A process is "ours" when its pid is alive, its start time (field 22 of `/proc/<pid>/stat`)
//! is the one recorded when we spawned it, and its command line contains the marker we
//! recorded (an absolute path under `target/`), so a reused pid is never signalled.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use deploykit_report::{Event, Reporter};
use serde::{Deserialize, Serialize};

use crate::LocalError;

/// What we recorded about a process we started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcRecord {
    pub pid: u32,
    /// Start time in clock ticks since boot, from `/proc/<pid>/stat`.
    pub start_time: u64,
    /// A substring of the process's command line that identifies it as ours.
    pub marker: String,
}

/// Whether a recorded process is still the one we started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    Ours,
    Gone,
    /// The pid is alive but is another program now (pid reuse); the reason says how we know.
    NotOurs(String),
}

/// `(state, start_time)` of a pid, from `/proc/<pid>/stat`.
pub fn stat(pid: u32) -> Option<(char, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces: split after it.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((state, start))
}

/// The command line of a pid, arguments joined by spaces.
pub fn cmdline(pid: u32) -> Option<String> {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let parts: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    Some(parts.join(" "))
}

impl ProcRecord {
    /// Records a just-started pid. Fails when the process is already gone.
    pub fn capture(pid: u32, marker: impl Into<String>) -> Option<Self> {
        let (_, start_time) = stat(pid)?;
        Some(Self {
            pid,
            start_time,
            marker: marker.into(),
        })
    }

    pub fn liveness(&self) -> Liveness {
        match stat(self.pid) {
            None => Liveness::Gone,
            Some(('Z' | 'X', _)) => Liveness::Gone,
            Some((_, start)) if start != self.start_time => Liveness::NotOurs(format!(
                "pid {} was reused by another process (start time differs)",
                self.pid
            )),
            Some(_) => match cmdline(self.pid) {
                Some(cmd) if cmd.contains(&self.marker) => Liveness::Ours,
                // Same pid and start time but no command line: the process is exiting (its
                // memory is already released, it is not a zombie yet). `spawn` returns only
                // after exec, so a process we started never shows an empty one before that.
                Some(cmd) if cmd.is_empty() => Liveness::Gone,
                Some(cmd) => Liveness::NotOurs(format!(
                    "pid {} is now `{}`, not the process we started",
                    self.pid,
                    truncate(&cmd, 120)
                )),
                None => Liveness::Gone,
            },
        }
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}...", s.chars().take(n).collect::<String>())
    }
}

/// Starts `cmd` detached: its own process group (so a Ctrl-C in the terminal does not reach it
/// and it outlives us), stdin from /dev/null, stdout and stderr appended to `log`.
pub fn spawn_detached(cmd: &mut Command, log: &Path, what: &str) -> Result<u32, LocalError> {
    use std::os::unix::process::CommandExt;
    let out = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| LocalError::io(format!("opening log file {}", log.display()), e))?;
    let err = out
        .try_clone()
        .map_err(|e| LocalError::io(format!("opening log file {}", log.display()), e))?;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|source| LocalError::Spawn {
            what: what.to_string(),
            program: cmd.get_program().to_string_lossy().into_owned(),
            source,
        })?;
    // The child is not waited on: it keeps running after we exit. If it dies while we still
    // run it stays a zombie until we exit, which `Liveness` treats as gone.
    Ok(child.id())
}

/// Sends a signal with `kill(1)` (this keeps the crate free of unsafe).
pub fn signal(pid: u32, sig: &str) -> bool {
    Command::new("kill")
        .args([format!("-{sig}"), pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// What `stop` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// SIGTERM was enough.
    Terminated,
    /// It ignored SIGTERM within the bound and got SIGKILL.
    Killed,
    /// It was not running any more.
    AlreadyGone,
    /// The pid belongs to another program now: left alone.
    NotOurs(String),
}

/// SIGTERM, a bounded wait, then SIGKILL; only after checking the pid is still ours.
pub fn stop(
    rec: &ProcRecord,
    name: &str,
    grace: Duration,
    r: &dyn Reporter,
) -> Result<Stopped, LocalError> {
    match rec.liveness() {
        Liveness::Gone => return Ok(Stopped::AlreadyGone),
        Liveness::NotOurs(why) => return Ok(Stopped::NotOurs(why)),
        Liveness::Ours => {}
    }
    signal(rec.pid, "TERM");
    if wait_gone(rec, name, grace, r) {
        return Ok(Stopped::Terminated);
    }
    r.report(Event::warn(format!(
        "{name} (pid {}) did not exit within {}s of SIGTERM; sending SIGKILL",
        rec.pid,
        grace.as_secs()
    )));
    if rec.liveness() == Liveness::Ours {
        signal(rec.pid, "KILL");
    }
    if wait_gone(rec, name, Duration::from_secs(5), r) {
        return Ok(Stopped::Killed);
    }
    Err(LocalError::StillRunning {
        name: name.to_string(),
        pid: rec.pid,
    })
}

fn wait_gone(rec: &ProcRecord, name: &str, bound: Duration, r: &dyn Reporter) -> bool {
    let start = Instant::now();
    let mut last_report = Instant::now();
    loop {
        if rec.liveness() != Liveness::Ours {
            return true;
        }
        if start.elapsed() >= bound {
            return false;
        }
        if last_report.elapsed() >= Duration::from_secs(2) {
            last_report = Instant::now();
            r.report(Event::Waiting {
                step: "local-down".into(),
                for_what: format!("{name} (pid {}) to exit", rec.pid),
                waited: start.elapsed(),
                timeout: bound,
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs a command to completion within `bound`, output appended to `log`. On failure the
/// error carries the log's last lines.
pub fn run_logged(
    cmd: &mut Command,
    log: &Path,
    what: &str,
    bound: Duration,
    detach: bool,
    r: &dyn Reporter,
) -> Result<(), LocalError> {
    use std::os::unix::process::CommandExt;
    if detach {
        // Whatever it forks (pg_ctl's postmaster) must not get the terminal's Ctrl-C.
        cmd.process_group(0);
    }
    let out = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| LocalError::io(format!("opening log file {}", log.display()), e))?;
    let err = out
        .try_clone()
        .map_err(|e| LocalError::io(format!("opening log file {}", log.display()), e))?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|source| LocalError::Spawn {
            what: what.to_string(),
            program: cmd.get_program().to_string_lossy().into_owned(),
            source,
        })?;
    let start = Instant::now();
    let mut last_report = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                return Err(LocalError::CommandFailed {
                    what: what.to_string(),
                    status: status.to_string(),
                    log: log.to_path_buf(),
                    tail: tail(log, 15),
                });
            }
            Ok(None) => {}
            Err(e) => return Err(LocalError::io(format!("waiting for {what}"), e)),
        }
        if start.elapsed() >= bound {
            let _ = child.kill();
            let _ = child.wait();
            return Err(LocalError::CommandTimeout {
                what: what.to_string(),
                secs: bound.as_secs(),
                log: log.to_path_buf(),
                tail: tail(log, 15),
            });
        }
        if last_report.elapsed() >= Duration::from_secs(5) {
            last_report = Instant::now();
            r.report(Event::Waiting {
                // Named after the log it writes (`base-image`, `moto-install`, `app-venv`, ...).
                step: log
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "local".into()),
                for_what: what.to_string(),
                waited: start.elapsed(),
                timeout: bound,
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The last `n` lines of a log file, indented, for error messages.
pub fn tail(log: &Path, n: usize) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(n);
    lines[from..]
        .iter()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_ours_and_a_wrong_marker_is_not() {
        let pid = std::process::id();
        let exe = std::env::current_exe().unwrap();
        let name = exe.file_name().unwrap().to_string_lossy().into_owned();
        let rec = ProcRecord::capture(pid, name).expect("own pid has a stat");
        assert_eq!(rec.liveness(), Liveness::Ours);
        let other = ProcRecord {
            marker: "/no/such/marker/in/cmdline".into(),
            ..rec.clone()
        };
        assert!(matches!(other.liveness(), Liveness::NotOurs(_)));
        let reused = ProcRecord {
            start_time: rec.start_time + 1,
            ..rec
        };
        assert!(matches!(reused.liveness(), Liveness::NotOurs(_)));
    }

    #[test]
    fn stop_terminates_a_detached_child_and_reports_gone_after() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("sleep.log");
        let marker = "sleep 30.123";
        let pid = spawn_detached(Command::new("sleep").arg("30.123"), &log, "sleep").unwrap();
        // Between fork and exec the child's cmdline is still empty: wait (bounded) for exec.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let rec = loop {
            let rec = ProcRecord::capture(pid, marker).unwrap();
            if rec.liveness() == Liveness::Ours || std::time::Instant::now() > deadline {
                break rec;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(rec.liveness(), Liveness::Ours);
        let r = deploykit_report::VecReporter::new();
        assert_eq!(
            stop(&rec, "sleep", Duration::from_secs(5), &r).unwrap(),
            Stopped::Terminated
        );
        assert_eq!(rec.liveness(), Liveness::Gone);
        assert_eq!(
            stop(&rec, "sleep", Duration::from_secs(5), &r).unwrap(),
            Stopped::AlreadyGone
        );
    }
}
