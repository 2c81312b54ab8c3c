//! The decisions behind an honest rollback, as pure functions over data:
//!
//! - What the rollback sends besides the version is the plan's [`SettingsUndo`]: the option
//!   settings the deploy changes, with the values they had before it (read with
//!   DescribeConfigurationSettings before the update), and the ones it adds (removed again).
//! - [`rollback_allowed`]: a rollback only ever replaces our own version or our previous one;
//!   an environment that runs anything else was deployed by someone else meanwhile.
//! - [`poll_backoff`]: how long a wait sleeps after a throttled or transient poll error.

use std::time::Duration;

use crate::lb::SettingsUndo;

/// "option settings restored: A, B, -C" (names only: values may be secret).
pub fn describe_undo(u: &SettingsUndo) -> String {
    let names: Vec<String> = u
        .restore
        .iter()
        .map(|s| s.name.clone())
        .chain(u.remove.iter().map(|s| format!("-{}", s.name)))
        .collect();
    if names.is_empty() {
        "no option settings to restore".into()
    } else {
        format!("option settings restored: {}", names.join(", "))
    }
}

/// What an interrupted deploy left behind (the in-flight journal), so `rollback eb` can
/// finish its rollback: the version it sent, the one it replaced and the settings to restore.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resume {
    pub deploying: String,
    pub previous: String,
    pub restore: SettingsUndo,
}

/// Whether a rollback to `previous` may replace what the environment runs now (`current`):
/// only when it runs `ours` (the version this deploy sent) or already `previous` (the failed
/// update left it, or an earlier rollback got there). Anything else is someone else's deploy,
/// which a rollback must never undo. The error is the sentence for the report.
pub fn rollback_allowed(current: Option<&str>, ours: &str, previous: &str) -> Result<(), String> {
    match current {
        Some(c) if c == ours || c == previous => Ok(()),
        Some(c) => Err(format!(
            "the environment now runs {c}, which is neither the version this deploy sent ({ours}) nor the one it replaced ({previous}): someone else deployed meanwhile, and their version is left as it is"
        )),
        None => Err(format!(
            "the environment runs no version, neither {ours} nor {previous}; nothing is rolled back"
        )),
    }
}

/// The sleep after the `attempt`-th consecutive throttled or transient poll (1-based):
/// `poll` doubled per attempt, at most `max(poll, 30 s)`, and never past `remaining`.
pub fn poll_backoff(poll: Duration, attempt: u32, remaining: Duration) -> Duration {
    let cap = poll.max(Duration::from_secs(30));
    let factor = 1u32 << attempt.clamp(1, 16).saturating_sub(1).min(15);
    poll.saturating_mul(factor).min(cap).min(remaining)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rollback_replaces_only_our_version_or_our_previous_one() {
        // (current, ours, previous, allowed)
        let cases = [
            (Some("v2"), "v2", "v1", true),
            (Some("v1"), "v2", "v1", true),
            (Some("v3"), "v2", "v1", false),
            (None, "v2", "v1", false),
        ];
        for (current, ours, previous, allowed) in cases {
            let got = rollback_allowed(current, ours, previous);
            assert_eq!(
                got.is_ok(),
                allowed,
                "{current:?} {ours} {previous}: {got:?}"
            );
            if let (Err(why), Some(c)) = (&got, current) {
                assert!(why.contains(c) && why.contains("someone else"), "{why}");
            }
        }
    }

    #[test]
    fn poll_backoff_doubles_is_capped_and_never_passes_the_deadline() {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        // (poll, attempt, remaining, sleep)
        let cases = [
            (s(5), 1, s(600), s(5)),
            (s(5), 2, s(600), s(10)),
            (s(5), 3, s(600), s(20)),
            (s(5), 4, s(600), s(30)),
            (s(5), 40, s(600), s(30)),
            (s(5), 3, s(7), s(7)),
            (ms(100), 3, s(60), ms(400)),
            (s(60), 2, s(600), s(60)),
            (s(5), 0, s(600), s(5)),
        ];
        for (poll, attempt, remaining, want) in cases {
            assert_eq!(
                poll_backoff(poll, attempt, remaining),
                want,
                "{poll:?} #{attempt} {remaining:?}"
            );
        }
    }
}
