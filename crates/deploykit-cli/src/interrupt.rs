//! Ctrl-C and SIGTERM during `deploy eb|apprunner|ecs` and `rollback eb|apprunner|ecs`.
//!
//! The first signal stops waiting: the command's future is dropped (the library's deploy lock
//! is released with it; its in-flight journal stays), what was in flight is said from the
//! journal with how to finish (run the same deploy again: it converges) or go back (the
//! route's rollback), and the command ends with [`Exit::Interrupted`] (130), an error object
//! under `--output json`. A second signal exits at once, whatever is still running.

use std::future::Future;

use deploykit::journal::{self, InFlight};
use deploykit_report::{Event, Reporter};

use crate::{CliError, CliResult, Exit};

/// What the interrupted command is, for the message.
#[derive(Debug, Clone)]
pub(crate) struct Interruptible {
    /// `eb`, `apprunner` or `ecs`.
    pub route: &'static str,
    /// Whether this is a rollback (else a deploy).
    pub rollback: bool,
    /// `--target` as given (repeated in the advice).
    pub target: Option<String>,
}

impl Interruptible {
    pub(crate) fn deploy(route: &'static str, target: Option<&str>) -> Self {
        Self {
            route,
            rollback: false,
            target: target.map(str::to_string),
        }
    }

    pub(crate) fn rollback(route: &'static str, target: Option<&str>) -> Self {
        Self {
            rollback: true,
            ..Self::deploy(route, target)
        }
    }
}

/// Runs `fut` until it ends or the first Ctrl-C / SIGTERM arrives (see the module docs).
pub(crate) async fn run<F>(fut: F, what: Interruptible) -> CliResult
where
    F: Future<Output = CliResult>,
{
    let signal = match Signals::new() {
        Ok(s) => s,
        // No signal handling here: run as before, without the interrupt path.
        Err(_) => return fut.await,
    };
    tokio::select! {
        res = fut => res,
        () = signal.first() => {
            exit_on_next_signal();
            let ours = journal::list(&crate::project_root())
                .unwrap_or_default()
                .into_iter()
                .find(InFlight::is_ours);
            Err(interrupted(&what, ours.as_ref()))
        }
    }
}

/// After a rollback that succeeded: what an interrupted deploy of `name` left in flight is
/// settled, so its journal entry goes (a failure to remove it is a warning).
pub(crate) fn settled(root: &std::path::Path, target: &str, name: &str, r: &dyn Reporter) {
    if let Err(e) = journal::remove(root, target, name) {
        r.report(Event::warn(e.to_string()));
    }
}

/// The error for an interrupt: what was in flight and how to finish or go back.
pub(crate) fn interrupted(what: &Interruptible, entry: Option<&InFlight>) -> CliError {
    let route = what.route;
    let flag = |t: Option<&str>| t.map(|t| format!(" --target {t}")).unwrap_or_default();
    let status = format!(
        "`cargo xtask{} {route} status` shows what runs now",
        flag(what.target.as_deref())
    );
    if what.rollback {
        return CliError::new(
            Exit::Interrupted,
            format!(
                "interrupted: the rollback on {route} stopped waiting; if it was already sent, AWS goes on applying it"
            ),
        )
        .with_hint(format!(
            "to finish it, run the same rollback again (it converges); {status}"
        ));
    }
    let Some(e) = entry else {
        return CliError::new(
            Exit::Interrupted,
            "interrupted before the deploy changed anything on AWS (nothing was in flight)",
        )
        .with_hint(format!(
            "run `cargo xtask{} deploy {route}` again to deploy",
            flag(what.target.as_deref())
        ));
    };
    let flag = flag(Some(&e.target));
    let status = format!("`cargo xtask{flag} {route} status` shows what runs now");
    let back = match &e.previous {
        Some(prev) => format!(
            "to go back to {prev}, `cargo xtask{flag} rollback {route} --to {}`",
            rollback_to(route, prev)
        ),
        None => "nothing ran there before, so there is nothing to roll back to".into(),
    };
    CliError::new(
        Exit::Interrupted,
        format!(
            "interrupted while {}: deploykit stopped waiting, AWS may still be applying it (the in-flight record stays in {})",
            e.describe(),
            journal::path(&crate::project_root(), &e.target, &e.name).display()
        ),
    )
    .with_hint(format!(
        "to finish it, run the same deploy again: `cargo xtask{flag} deploy {route}` (it plans from what runs now and converges); {back}; {status}"
    ))
}

/// What `rollback ROUTE --to` takes: the EB version label, or the image's tag.
fn rollback_to<'a>(route: &str, previous: &'a str) -> &'a str {
    if route == "eb" {
        return previous;
    }
    let name = previous.rsplit('/').next().unwrap_or(previous);
    let name = name.split('@').next().unwrap_or(name);
    name.rsplit_once(':').map_or(previous, |(_, tag)| tag)
}

/// Ctrl-C and (on Unix) SIGTERM, listened to from before the command starts.
struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    #[cfg(unix)]
    fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    #[cfg(not(unix))]
    fn new() -> std::io::Result<Self> {
        Ok(Self {})
    }

    #[cfg(unix)]
    async fn first(mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }

    #[cfg(not(unix))]
    async fn first(self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// After the first signal: the next one ends the process at once (130), from a thread of its
/// own so that nothing the command left running can delay it. Returns once it listens (or
/// after a short bound), so a signal right after the first is not missed.
fn exit_on_next_signal() {
    let (ready, listening) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            let Ok(signals) = Signals::new() else {
                return;
            };
            let _ = ready.send(());
            signals.first().await;
            std::process::exit(Exit::Interrupted as i32);
        });
    });
    let _ = listening.recv_timeout(std::time::Duration::from_secs(1));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(route: &str, previous: Option<&str>) -> InFlight {
        InFlight {
            target: "dev".into(),
            route: route.into(),
            name: "app-dev".into(),
            deploying: "new-1".into(),
            previous: previous.map(str::to_string),
            started_at: "2026-12-02T01:00:00Z".into(),
            pid: 4242,
            host: "box".into(),
            restore: None,
        }
    }

    #[test]
    fn an_interrupted_eb_deploy_says_what_was_in_flight_and_how_to_resume_or_roll_back() {
        let e = interrupted(
            &Interruptible::deploy("eb", None),
            Some(&entry("eb", Some("old-0"))),
        );
        assert_eq!(e.exit, Exit::Interrupted);
        assert!(
            e.message.contains("deploying new-1 to app-dev")
                && e.message.contains("it ran old-0 before"),
            "{}",
            e.message
        );
        let hint = e.hint.unwrap_or_default();
        assert!(
            hint.contains("`cargo xtask --target dev deploy eb`")
                && hint.contains("`cargo xtask --target dev rollback eb --to old-0`")
                && hint.contains("`cargo xtask --target dev eb status`"),
            "{hint}"
        );
    }

    #[test]
    fn a_container_rollback_hint_names_the_previous_images_tag() {
        let prev = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:abc123";
        let e = interrupted(
            &Interruptible::deploy("apprunner", Some("dev")),
            Some(&entry("apprunner", Some(prev))),
        );
        let hint = e.hint.unwrap_or_default();
        assert!(hint.contains("rollback apprunner --to abc123`"), "{hint}");
        assert_eq!(rollback_to("ecs", "localhost:5000/app:t1"), "t1");
    }

    #[test]
    fn without_an_entry_of_ours_nothing_was_in_flight() {
        let e = interrupted(&Interruptible::deploy("ecs", Some("local")), None);
        assert_eq!(e.exit, Exit::Interrupted);
        assert!(e.message.contains("nothing was in flight"), "{}", e.message);
        let e = interrupted(&Interruptible::rollback("eb", None), None);
        assert!(e.message.contains("rollback"), "{}", e.message);
    }
}
