//! The deploy lock and the in-flight journal, on real files in a temporary project.

use deploykit::journal::{self, InFlight};
use deploykit::lock::{self, Owner};
use deploykit::report::{Diagnostic, Level, VecReporter};
use deploykit::{Error, report::Category};

/// A pid that ran and ended: no process has it now (barring fast reuse).
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true")
        .spawn()
        .expect("spawn true");
    let pid = child.id();
    child.wait().expect("wait true");
    pid
}

fn owner_with_pid(pid: u32) -> Owner {
    Owner {
        pid,
        command: "deploy eb app-dev".into(),
        ..Owner::current("x")
    }
}

#[test]
fn a_second_acquire_fails_at_once_naming_the_holder() {
    let root = tempfile::tempdir().unwrap();
    let r = VecReporter::new();
    let held = lock::acquire(
        root.path(),
        "dev",
        "app-dev",
        "deploy eb app-dev",
        false,
        &r,
    )
    .expect("first acquire");
    assert_eq!(
        held.path(),
        root.path().join("target/deploykit/locks/dev-app-dev.lock")
    );
    let started = std::time::Instant::now();
    let err = lock::acquire(
        root.path(),
        "dev",
        "app-dev",
        "deploy eb app-dev",
        false,
        &r,
    )
    .expect_err("second acquire must fail");
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    match &err {
        Error::Locked {
            holder,
            alive,
            target,
            name,
            ..
        } => {
            let h = holder.as_deref().expect("holder named");
            assert_eq!(h.pid, std::process::id());
            assert_eq!(h.command, "deploy eb app-dev");
            assert_eq!(*alive, Some(true));
            assert_eq!((target.as_str(), name.as_str()), ("dev", "app-dev"));
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    assert_eq!(err.category(), Category::CheckFailed);
    let text = err.to_string();
    assert!(
        text.contains(&format!("pid {}", std::process::id()))
            && text.contains("since ")
            && text.contains(&held.owner().started_at)
            && text.contains("nothing was changed"),
        "{text}"
    );
    // Another name on the same target is another lock.
    lock::acquire(
        root.path(),
        "dev",
        "other-env",
        "deploy eb other-env",
        false,
        &r,
    )
    .expect("another environment is not locked");
}

#[test]
fn a_live_holder_is_never_broken_even_with_force() {
    let root = tempfile::tempdir().unwrap();
    let r = VecReporter::new();
    let _held =
        lock::acquire(root.path(), "dev", "svc", "deploy apprunner svc", false, &r).unwrap();
    let err = lock::acquire(root.path(), "dev", "svc", "deploy apprunner svc", true, &r)
        .expect_err("a running holder is not broken");
    assert!(
        matches!(
            err,
            Error::Locked {
                alive: Some(true),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.help().unwrap_or_default().contains("stop process"));
    assert!(r.messages(Level::Warn).is_empty());
}

#[test]
fn dropping_the_lock_releases_it_and_clears_the_owner() {
    let root = tempfile::tempdir().unwrap();
    let r = VecReporter::new();
    let held = lock::acquire(
        root.path(),
        "dev",
        "app-dev",
        "deploy eb app-dev",
        false,
        &r,
    )
    .unwrap();
    let path = held.path().to_path_buf();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("\"pid\"") && text.contains("deploy eb app-dev"),
        "{text}"
    );
    drop(held);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
    lock::acquire(
        root.path(),
        "dev",
        "app-dev",
        "deploy eb app-dev",
        false,
        &r,
    )
    .expect("released lock is free");
    assert!(r.events().is_empty(), "{:?}", r.events());
}

#[test]
fn a_killed_holder_leaves_its_name_which_the_next_taker_reports() {
    let root = tempfile::tempdir().unwrap();
    let path = lock::lock_path(root.path(), "dev", "app-dev");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let gone = owner_with_pid(dead_pid());
    std::fs::write(&path, serde_json::to_string(&gone).unwrap()).unwrap();
    let r = VecReporter::new();
    let held = lock::acquire(
        root.path(),
        "dev",
        "app-dev",
        "deploy eb app-dev",
        false,
        &r,
    )
    .expect("the kernel released a killed holder's lock");
    assert_eq!(held.owner().pid, std::process::id());
    let info = r.messages(Level::Info).join("\n");
    assert!(
        info.contains(&format!("pid {}", gone.pid)) && info.contains("without releasing"),
        "{info}"
    );
}

#[test]
fn a_held_lock_whose_holder_is_gone_is_broken_only_with_force() {
    let root = tempfile::tempdir().unwrap();
    let r = VecReporter::new();
    // The file stays locked (as when a child of the dead deploy kept it open) but names a
    // process that no longer runs.
    let stale = lock::acquire(
        root.path(),
        "dev",
        "app-dev",
        "deploy eb app-dev",
        false,
        &r,
    )
    .unwrap();
    let gone = owner_with_pid(dead_pid());
    std::fs::write(stale.path(), serde_json::to_string(&gone).unwrap()).unwrap();

    let err = lock::acquire(
        root.path(),
        "dev",
        "app-dev",
        "deploy eb app-dev",
        false,
        &r,
    )
    .expect_err("not broken without force");
    assert!(
        matches!(&err, Error::Locked { alive: Some(false), holder: Some(h), .. } if h.pid == gone.pid),
        "{err:?}"
    );
    assert!(err.help().unwrap_or_default().contains("force-unlock"));

    let forced = lock::acquire(root.path(), "dev", "app-dev", "deploy eb app-dev", true, &r)
        .expect("force breaks a lock whose holder is gone");
    let warn = r.messages(Level::Warn).join("\n");
    assert!(
        warn.contains("breaking the deploy lock of app-dev")
            && warn.contains(&format!("pid {}", gone.pid))
            && warn.contains("no longer runs"),
        "{warn}"
    );
    // The successor is the lock now: a third taker sees the forced one, not the stale one.
    let err = lock::acquire(root.path(), "dev", "app-dev", "x", false, &r).expect_err("held");
    assert!(
        matches!(&err, Error::Locked { holder: Some(h), .. } if h.pid == std::process::id()),
        "{err:?}"
    );
    // The stale holder's release empties its own (removed) file, not the successor's.
    drop(stale);
    let text = std::fs::read_to_string(forced.path()).unwrap();
    assert!(text.contains("deploy eb app-dev"), "{text}");
}

fn entry(pid: u32) -> InFlight {
    InFlight {
        pid,
        ..InFlight::new("dev", "eb", "app-dev", "app-v2", Some("app-v1".to_string()))
    }
}

#[test]
fn the_journal_is_written_read_back_listed_and_removed() {
    let root = tempfile::tempdir().unwrap();
    assert_eq!(journal::read(root.path(), "dev", "app-dev").unwrap(), None);
    let e = entry(std::process::id());
    let path = journal::write(root.path(), &e).unwrap();
    assert_eq!(
        path,
        root.path()
            .join("target/deploykit/inflight/dev-app-dev.json")
    );
    assert_eq!(
        journal::read(root.path(), "dev", "app-dev").unwrap(),
        Some(e.clone())
    );
    assert!(e.is_ours());
    assert_eq!(journal::list(root.path()).unwrap(), vec![e.clone()]);
    // Only the entry is left in the directory: no temporary files.
    let names: Vec<_> = std::fs::read_dir(journal::dir(root.path()))
        .unwrap()
        .map(|d| d.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("dev-app-dev.json")]);
    journal::remove(root.path(), "dev", "app-dev").unwrap();
    journal::remove(root.path(), "dev", "app-dev").expect("removing twice is fine");
    assert_eq!(journal::read(root.path(), "dev", "app-dev").unwrap(), None);
}

#[test]
fn a_reader_never_sees_half_a_journal() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().to_path_buf();
    journal::write(&dir, &entry(1)).unwrap();
    let writer = {
        let dir = dir.clone();
        std::thread::spawn(move || {
            for i in 0..300u32 {
                let mut e = entry(i);
                // Entries of different lengths, so a torn write would show.
                e.deploying = "v".repeat(1 + (i as usize % 50) * 40);
                journal::write(&dir, &e).unwrap();
            }
        })
    };
    let mut reads = 0;
    while !writer.is_finished() || reads < 300 {
        let got = journal::read(&dir, "dev", "app-dev").expect("always a whole entry");
        assert!(got.is_some());
        reads += 1;
    }
    writer.join().unwrap();
}

#[test]
fn a_left_over_entry_from_a_dead_run_is_reported_and_ours_is_not() {
    let root = tempfile::tempdir().unwrap();
    let r = VecReporter::new();
    journal::report_left_over(root.path(), "dev", "app-dev", &r);
    assert!(r.events().is_empty());

    let gone = entry(dead_pid());
    journal::write(root.path(), &gone).unwrap();
    assert_eq!(gone.is_alive(), Some(false));
    journal::report_left_over(root.path(), "dev", "app-dev", &r);
    let warn = r.messages(Level::Warn).join("\n");
    assert!(
        warn.contains("stopped before it finished")
            && warn.contains("deploying app-v2 to app-dev")
            && warn.contains("it ran app-v1 before")
            && warn.contains("converges"),
        "{warn}"
    );

    let r = VecReporter::new();
    journal::write(root.path(), &entry(std::process::id())).unwrap();
    journal::report_left_over(root.path(), "dev", "app-dev", &r);
    assert!(r.events().is_empty(), "our own entry is not left over");

    // pid 1 always runs: another deploy in progress.
    let r = VecReporter::new();
    journal::write(root.path(), &entry(1)).unwrap();
    journal::report_left_over(root.path(), "dev", "app-dev", &r);
    let warn = r.messages(Level::Warn).join("\n");
    assert!(warn.contains("another deploy is in flight"), "{warn}");

    let r = VecReporter::new();
    std::fs::write(journal::path(root.path(), "dev", "app-dev"), "{ half").unwrap();
    journal::report_left_over(root.path(), "dev", "app-dev", &r);
    let warn = r.messages(Level::Warn).join("\n");
    assert!(
        warn.contains("dev-app-dev.json") && warn.contains("replaced"),
        "{warn}"
    );
}

#[test]
fn names_outside_the_file_name_alphabet_stay_in_the_directory() {
    let root = tempfile::tempdir().unwrap();
    let p = lock::lock_path(root.path(), "../x", "a/b c");
    assert_eq!(p.file_name().unwrap(), ".._x-a_b_c.lock");
    assert_eq!(
        p.parent().unwrap(),
        root.path().join("target/deploykit/locks")
    );
}
