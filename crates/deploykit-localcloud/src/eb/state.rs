//! Elastic Beanstalk resources and the environment state machine.
//!
//! Environments carry a *timeline*: steps due at real instants computed from the scaled clock.
//! Every request first applies the steps that are due ([`Region::tick`]), so the state advances
//! lazily and nothing runs in the background.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::bundle::Verdict;
use super::platforms::Platform;

/// `Launching`, `Updating`, `Ready`, `Terminating`, `Terminated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EnvStatus {
    Launching,
    Updating,
    Ready,
    Terminating,
    Terminated,
}

impl EnvStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EnvStatus::Launching => "Launching",
            EnvStatus::Updating => "Updating",
            EnvStatus::Ready => "Ready",
            EnvStatus::Terminating => "Terminating",
            EnvStatus::Terminated => "Terminated",
        }
    }
}

/// Enhanced-health status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HealthStatus {
    NoData,
    Unknown,
    Pending,
    Ok,
    Info,
    Warning,
    Degraded,
    Severe,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::NoData => "NoData",
            HealthStatus::Unknown => "Unknown",
            HealthStatus::Pending => "Pending",
            HealthStatus::Ok => "Ok",
            HealthStatus::Info => "Info",
            HealthStatus::Warning => "Warning",
            HealthStatus::Degraded => "Degraded",
            HealthStatus::Severe => "Severe",
        }
    }

    /// The legacy color for this status.
    pub fn color(self) -> &'static str {
        match self {
            HealthStatus::Ok | HealthStatus::Info => "Green",
            HealthStatus::Warning => "Yellow",
            HealthStatus::Degraded | HealthStatus::Severe => "Red",
            HealthStatus::NoData | HealthStatus::Unknown | HealthStatus::Pending => "Grey",
        }
    }
}

/// Event severities, in increasing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Severity {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Trace => "TRACE",
            Severity::Debug => "DEBUG",
            Severity::Info => "INFO",
            Severity::Warn => "WARN",
            Severity::Error => "ERROR",
            Severity::Fatal => "FATAL",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "TRACE" => Severity::Trace,
            "DEBUG" => Severity::Debug,
            "INFO" => Severity::Info,
            "WARN" => Severity::Warn,
            "ERROR" => Severity::Error,
            "FATAL" => Severity::Fatal,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub date: OffsetDateTime,
    pub message: String,
    pub severity: Severity,
    pub application: String,
    pub environment: Option<String>,
    pub version: Option<String>,
    pub request_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rule {
    pub enabled: bool,
    /// `MaxCount` or `MaxAgeInDays`.
    pub value: i64,
    pub delete_source: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lifecycle {
    pub service_role: Option<String>,
    pub max_count: Rule,
    pub max_age: Rule,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self {
            service_role: None,
            max_count: Rule {
                enabled: false,
                value: 200,
                delete_source: false,
            },
            max_age: Rule {
                enabled: false,
                value: 180,
                delete_source: false,
            },
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Version {
    pub label: String,
    pub description: Option<String>,
    pub bucket: String,
    pub key: String,
    pub created: OffsetDateTime,
    pub status: &'static str,
    pub verdict: Verdict,
}

#[derive(Debug, Clone)]
pub(crate) struct App {
    pub name: String,
    pub description: Option<String>,
    pub created: OffsetDateTime,
    pub updated: OffsetDateTime,
    /// In creation order (oldest first).
    pub versions: Vec<Version>,
    pub lifecycle: Lifecycle,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OptionSetting {
    pub namespace: String,
    pub name: String,
    pub value: String,
    pub resource: Option<String>,
}

/// What one timeline step does when it comes due.
#[derive(Debug, Clone, Default)]
pub(crate) struct Step {
    pub event: Option<(Severity, String)>,
    pub status: Option<EnvStatus>,
    pub health: Option<HealthStatus>,
    pub causes: Option<Vec<String>>,
    /// Some(label): the environment now runs this version.
    pub version: Option<Option<String>>,
    /// Where the step's event is reported from.
    pub request_id: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Env {
    pub id: String,
    pub name: String,
    pub app: String,
    pub description: Option<String>,
    pub version: Option<String>,
    pub platform: Platform,
    pub cname: String,
    pub tier: (&'static str, &'static str),
    pub created: OffsetDateTime,
    pub updated: OffsetDateTime,
    pub status: EnvStatus,
    pub health: HealthStatus,
    pub causes: Vec<String>,
    pub options: Vec<OptionSetting>,
    pub timeline: VecDeque<(Instant, Step)>,
    pub terminated_at: Option<OffsetDateTime>,
    /// The moment the last health refresh happened (for `RefreshedAt`).
    pub refreshed: OffsetDateTime,
    /// Resource tags set by callers (EB's own `elasticbeanstalk:` tags are derived).
    pub tags: BTreeMap<String, String>,
}

impl Env {
    /// The legacy color: Grey while an operation runs, else from the health status.
    pub fn color(&self) -> &'static str {
        match self.status {
            EnvStatus::Ready => self.health.color(),
            _ => "Grey",
        }
    }

    pub fn abortable(&self) -> bool {
        self.status == EnvStatus::Updating
    }

    pub fn arn(&self, region: &str, account: &str) -> String {
        format!(
            "arn:aws:elasticbeanstalk:{region}:{account}:environment/{}/{}",
            self.app, self.name
        )
    }

    /// The environment's security group name, as CloudFormation would generate it.
    pub fn security_group(&self) -> String {
        format!(
            "awseb-{}-stack-AWSEBSecurityGroup-{}",
            self.id,
            self.id.trim_start_matches("e-").to_ascii_uppercase()
        )
    }

    /// Schedules `steps`, each at `offset` of service time from now.
    pub fn schedule(&mut self, clock: &crate::core::Clock, steps: Vec<(Duration, Step)>) {
        for (offset, step) in steps {
            self.timeline.push_back((clock.after(offset), step));
        }
    }
}

/// One region's Elastic Beanstalk.
#[derive(Debug, Default)]
pub(crate) struct Region {
    pub apps: BTreeMap<String, App>,
    /// Every environment ever created, terminated ones included, in creation order.
    pub envs: Vec<Env>,
    /// Every event, oldest first.
    pub events: Vec<Event>,
    last_event: Option<OffsetDateTime>,
}

impl Region {
    pub fn version_count(&self) -> usize {
        self.apps.values().map(|a| a.versions.len()).sum()
    }

    pub fn live_env(&self, name: &str) -> Option<usize> {
        self.envs
            .iter()
            .position(|e| e.name == name && e.status != EnvStatus::Terminated)
    }

    pub fn live_env_by_id(&self, id: &str) -> Option<usize> {
        self.envs
            .iter()
            .position(|e| e.id == id && e.status != EnvStatus::Terminated)
    }

    /// Adds an event, keeping event dates strictly increasing so that "newest first" and
    /// `StartTime` filters are unambiguous.
    pub fn push_event(&mut self, mut event: Event) {
        // Dates go on the wire with millisecond precision: round up to a whole millisecond
        // (never earlier than the event happened) and compare at that precision.
        let sub_ms = event.date.nanosecond() % 1_000_000;
        if sub_ms != 0 {
            event.date += Duration::from_nanos(u64::from(1_000_000 - sub_ms));
        }
        if let Some(last) = self.last_event
            && event.date <= last
        {
            event.date = last + Duration::from_millis(1);
        }
        self.last_event = Some(event.date);
        self.events.push(event);
    }

    /// Applies every timeline step that is due.
    pub fn tick(&mut self, now: Instant, now_utc: OffsetDateTime) {
        let mut pending_events = Vec::new();
        for env in &mut self.envs {
            while env.timeline.front().is_some_and(|(at, _)| *at <= now) {
                let Some((at, step)) = env.timeline.pop_front() else {
                    break;
                };
                let date = now_utc - now.saturating_duration_since(at);
                if let Some(status) = step.status {
                    env.status = status;
                    if status == EnvStatus::Terminated {
                        env.terminated_at = Some(date);
                    }
                }
                if let Some(health) = step.health {
                    env.health = health;
                    env.refreshed = date;
                }
                if let Some(causes) = step.causes {
                    env.causes = causes;
                }
                if step.status.is_some() || step.version.is_some() {
                    env.updated = date;
                }
                if let Some(version) = step.version {
                    env.version = version;
                }
                if let Some((severity, message)) = step.event {
                    pending_events.push(Event {
                        date,
                        message,
                        severity,
                        application: env.app.clone(),
                        environment: Some(env.name.clone()),
                        version: env.version.clone(),
                        request_id: step.request_id.clone(),
                    });
                }
            }
        }
        pending_events.sort_by_key(|e| e.date);
        for e in pending_events {
            self.push_event(e);
        }
    }
}

/// Service-time durations of the environment operations (what AWS takes, roughly).
pub(crate) mod timing {
    use std::time::Duration;

    pub const LAUNCH: Duration = Duration::from_secs(300);
    pub const UPDATE: Duration = Duration::from_secs(90);
    pub const CONFIG_UPDATE: Duration = Duration::from_secs(60);
    pub const TERMINATE: Duration = Duration::from_secs(120);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colors_follow_health_only_when_ready() {
        let cases = [
            (HealthStatus::Ok, "Green"),
            (HealthStatus::Info, "Green"),
            (HealthStatus::Warning, "Yellow"),
            (HealthStatus::Degraded, "Red"),
            (HealthStatus::Severe, "Red"),
            (HealthStatus::Pending, "Grey"),
            (HealthStatus::Unknown, "Grey"),
        ];
        for (h, color) in cases {
            assert_eq!(h.color(), color, "{h:?}");
        }
    }

    #[test]
    fn severities_order_and_parse() {
        assert!(Severity::Warn > Severity::Info);
        for s in ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"] {
            assert_eq!(Severity::parse(s).map(Severity::as_str), Some(s));
        }
        assert_eq!(Severity::parse("info"), None);
    }

    #[test]
    fn event_dates_strictly_increase() {
        let mut r = Region::default();
        let t = OffsetDateTime::now_utc();
        for msg in ["a", "b", "c"] {
            r.push_event(Event {
                date: t,
                message: msg.into(),
                severity: Severity::Info,
                application: "app".into(),
                environment: None,
                version: None,
                request_id: "r".into(),
            });
        }
        assert!(r.events.windows(2).all(|w| w[0].date < w[1].date));
    }
}
