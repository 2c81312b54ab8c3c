//! Typed progress events and the [`Reporter`] sink that every deploykit library reports through.
//!
//! Libraries never print. Like ripgrep's searcher reporting to a sink, each long-running
//! library operation takes a `&dyn Reporter` and sends it [`Event`]s; the caller decides how
//! to render them (progress bars on a terminal, plain lines, JSON, or a `Vec` in tests).
//!
//! Invariant: no event ever carries a secret value. Fields that could hold one are redacted by
//! the emitting library before the event is built.

mod diagnostic;

pub use diagnostic::{Category, Diagnostic};

use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

/// How important a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

/// Unit of a progress counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    Bytes,
    Files,
    Items,
}

/// One thing that happened. `step` identifiers are short, stable, machine-readable names
/// (`"bundle"`, `"upload"`, `"wait-environment"`) so renderers can group events.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A step began. `what` is a human sentence ("Uploading budgetsync-3f2a.zip to s3://...").
    StepStarted { step: String, what: String },
    /// Progress inside a step. `total` is `None` when unknown.
    Progress {
        step: String,
        done: u64,
        total: Option<u64>,
        unit: Unit,
    },
    /// A step ended successfully. `summary` is a short human sentence.
    StepFinished {
        step: String,
        summary: String,
        #[serde(with = "millis")]
        elapsed: Duration,
    },
    /// A step was skipped because nothing needed doing (idempotent re-runs).
    StepSkipped { step: String, reason: String },
    /// A bounded wait is in progress: what we wait for, how long we have waited, the bound.
    Waiting {
        step: String,
        for_what: String,
        #[serde(with = "millis")]
        waited: Duration,
        #[serde(with = "millis")]
        timeout: Duration,
    },
    /// An event reported by a remote service (Elastic Beanstalk events, App Runner operations,
    /// Docker build output), relayed verbatim with its severity.
    Remote {
        step: String,
        source: String,
        level: Level,
        message: String,
    },
    /// A free-form message from the library.
    Message { level: Level, message: String },
}

impl Event {
    pub fn info(message: impl Into<String>) -> Self {
        Event::Message {
            level: Level::Info,
            message: message.into(),
        }
    }

    pub fn warn(message: impl Into<String>) -> Self {
        Event::Message {
            level: Level::Warn,
            message: message.into(),
        }
    }
}

/// The sink libraries report to. Implementations must be cheap and must not block for long.
pub trait Reporter: Send + Sync {
    fn report(&self, event: Event);
}

impl<R: Reporter + ?Sized> Reporter for &R {
    fn report(&self, event: Event) {
        (**self).report(event)
    }
}

impl<R: Reporter + ?Sized> Reporter for std::sync::Arc<R> {
    fn report(&self, event: Event) {
        (**self).report(event)
    }
}

/// Discards every event.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullReporter;

impl Reporter for NullReporter {
    fn report(&self, _event: Event) {}
}

/// Keeps every event in memory; for tests and for callers that render at the end.
#[derive(Debug, Default)]
pub struct VecReporter {
    events: Mutex<Vec<Event>>,
}

impl VecReporter {
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of the events received so far.
    pub fn events(&self) -> Vec<Event> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The messages (of any level) received so far, for assertions in tests.
    pub fn messages(&self, level: Level) -> Vec<String> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Message { level: l, message } if l == level => Some(message),
                _ => None,
            })
            .collect()
    }
}

impl Reporter for VecReporter {
    fn report(&self, event: Event) {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(event);
    }
}

/// The bound and cadence of one wait: every wait in deploykit is bounded and says what it
/// waits for (`Event::Waiting`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitOptions {
    /// How often to look.
    pub poll: Duration,
    /// How long to wait at most.
    pub timeout: Duration,
}

/// Times a step and reports its start and end.
#[derive(Debug)]
pub struct StepTimer {
    step: String,
    started: std::time::Instant,
}

impl StepTimer {
    pub fn start(
        reporter: &dyn Reporter,
        step: impl Into<String>,
        what: impl Into<String>,
    ) -> Self {
        let step = step.into();
        reporter.report(Event::StepStarted {
            step: step.clone(),
            what: what.into(),
        });
        Self {
            step,
            started: std::time::Instant::now(),
        }
    }

    pub fn step(&self) -> &str {
        &self.step
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn finish(self, reporter: &dyn Reporter, summary: impl Into<String>) {
        reporter.report(Event::StepFinished {
            step: self.step,
            summary: summary.into(),
            elapsed: self.started.elapsed(),
        });
    }
}

mod millis {
    use serde::Serializer;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vec_reporter_keeps_order_and_filters_levels() {
        let r = VecReporter::new();
        let t = StepTimer::start(&r, "bundle", "Bundling");
        r.report(Event::warn("careful"));
        r.report(Event::info("fyi"));
        t.finish(&r, "done");
        let ev = r.events();
        assert_eq!(ev.len(), 4);
        assert!(matches!(&ev[0], Event::StepStarted { step, .. } if step == "bundle"));
        assert_eq!(r.messages(Level::Warn), vec!["careful".to_string()]);
    }
}
