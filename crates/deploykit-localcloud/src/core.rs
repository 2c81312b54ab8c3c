//! Shared state every emulated service sees: scaled time, injected faults, the registry.
//!
//! Owned by the edge (lib.rs); the Elastic Beanstalk and App Runner modules receive a
//! [`Ctx`] clone and never reach for globals.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The local registry the ECR token points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryConfig {
    /// `host:port` on loopback, e.g. `127.0.0.1:5000`.
    pub endpoint: String,
    pub username: String,
    pub password: String,
}

/// Smallest time scale an edge accepts: real time.
pub const TIME_SCALE_MIN: f64 = 1.0;
/// Largest time scale an edge accepts: RDS's six-minute create takes 36 ms.
pub const TIME_SCALE_MAX: f64 = 10_000.0;

/// A time scale outside [`TIME_SCALE_MIN`]..=[`TIME_SCALE_MAX`] (or not a number).
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error(
    "time scale {value} is out of range: it must be a number from {TIME_SCALE_MIN} to {TIME_SCALE_MAX} (1 is real time, 60 makes a five-minute launch take five seconds, 300 one second)"
)]
pub struct TimeScaleError {
    pub value: f64,
}

/// Checks a time scale: `Ok(scale)` when it is a number in
/// [`TIME_SCALE_MIN`]..=[`TIME_SCALE_MAX`].
pub fn check_time_scale(scale: f64) -> Result<f64, TimeScaleError> {
    if scale.is_finite() && (TIME_SCALE_MIN..=TIME_SCALE_MAX).contains(&scale) {
        Ok(scale)
    } else {
        Err(TimeScaleError { value: scale })
    }
}

/// Scaled time: with `scale = 150.0`, a "five-minute" launch takes two seconds.
///
/// Emulators express durations in *service time* (how long AWS would take) and ask the clock
/// for the real instant at which that much service time has passed. The scale is always within
/// [`TIME_SCALE_MIN`]..=[`TIME_SCALE_MAX`] (callers check with [`check_time_scale`]; the clock
/// clamps as a last line), so no conversion here can overflow.
#[derive(Debug, Clone)]
pub struct Clock {
    scale: Arc<Mutex<f64>>,
}

impl Clock {
    pub fn new(scale: f64) -> Self {
        Self {
            scale: Arc::new(Mutex::new(sanitize(scale))),
        }
    }

    pub fn scale(&self) -> f64 {
        *self.scale.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets a checked scale ([`check_time_scale`]); out of range it is refused, never clamped
    /// silently.
    pub fn set_scale(&self, scale: f64) -> Result<(), TimeScaleError> {
        let scale = check_time_scale(scale)?;
        *self.scale.lock().unwrap_or_else(|e| e.into_inner()) = scale;
        Ok(())
    }

    /// Real duration for `service` time at the current scale (saturating, never panics).
    pub fn real(&self, service: Duration) -> Duration {
        Duration::try_from_secs_f64(service.as_secs_f64() / self.scale()).unwrap_or(Duration::MAX)
    }

    /// Real instant at which `service` time will have passed, starting now (saturating at
    /// ten years from now).
    pub fn after(&self, service: Duration) -> Instant {
        let now = Instant::now();
        let cap = Duration::from_secs(10 * 365 * 24 * 3600);
        now.checked_add(self.real(service).min(cap)).unwrap_or(now)
    }

    /// Wall-clock "now" for timestamps the service reports (events, CreatedAt).
    pub fn now_utc(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc()
    }
}

/// The last line: NaN and infinities become real time, the rest is clamped into range.
fn sanitize(scale: f64) -> f64 {
    if scale.is_finite() {
        scale.clamp(TIME_SCALE_MIN, TIME_SCALE_MAX)
    } else {
        TIME_SCALE_MIN
    }
}

/// What an injected fault does to a request it applies to.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Answer with the service's real throttling error (EB `Throttling`, App Runner
    /// `ThrottlingException`, S3 `SlowDown`, EC2 `RequestLimitExceeded`).
    Throttle,
    /// Answer HTTP `status` (5xx) with the protocol's InternalFailure.
    ServerError { status: u16 },
    /// Hold the request for `delay` (real time), then serve it.
    Latency { delay: Duration },
    /// Close the connection without a response; the request is never served.
    Drop,
    /// Serve the request, then close the connection without its response: the change
    /// happened and the client cannot tell (what a retry of a create must survive).
    LostResponse,
    /// Serve the request, then hold its response for `delay` (real time).
    SlowResponse { delay: Duration },
}

impl Fault {
    /// Whether the request is served before the fault takes effect.
    pub fn after_serving(&self) -> bool {
        matches!(self, Fault::LostResponse | Fault::SlowResponse { .. })
    }

    /// The snake_case name the admin path uses for this fault.
    pub fn name(&self) -> &'static str {
        match self {
            Fault::Throttle => "throttle",
            Fault::ServerError { .. } => "server_error",
            Fault::Latency { .. } => "latency",
            Fault::Drop => "drop",
            Fault::LostResponse => "lost_response",
            Fault::SlowResponse { .. } => "slow_response",
        }
    }
}

/// Which requests a fault applies to, and how many of them.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    /// The SigV4 service name (`elasticbeanstalk`, `s3`, ...) or `*` for every service.
    pub service: String,
    /// Only requests of this operation (`CreateEnvironment`, `PutObject`, ...); `None`: any.
    pub operation: Option<String>,
    pub fault: Fault,
    /// How many matching requests get the fault (at least 1).
    pub count: u32,
    /// How many matching requests pass untouched before the first one that gets it: the fault
    /// lands on a later step of a run (the third DescribeEvents, the second PutObject).
    pub skip: u32,
    /// `count` and `skip` apply to each distinct operation on its own: with `*` and count 1,
    /// the first call of every operation a run makes gets the fault (one run, every step).
    pub each_operation: bool,
}

/// One fault that took effect: what the test matrix counts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FaultHit {
    pub service: String,
    pub operation: String,
    /// [`Fault::name`].
    pub fault: String,
}

/// At most this many hits are kept (oldest dropped first).
const MAX_HITS: usize = 10_000;

/// Faults and scripted failures, set through the admin path, read by the edge and emulators.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    inner: Arc<Mutex<FaultState>>,
}

#[derive(Debug)]
struct Armed {
    rule: FaultRule,
    /// Per operation key (`""` unless `each_operation`): (passed by `skip`, faults given).
    counters: HashMap<String, (u32, u32)>,
}

#[derive(Debug, Default)]
struct FaultState {
    /// Armed rules, oldest first; the first that matches a request decides it.
    rules: Vec<Armed>,
    /// Faults that took effect, oldest first.
    hits: std::collections::VecDeque<FaultHit>,
    /// Bumped by every disarm: a request held by a fault of an earlier generation is dropped
    /// unserved (a held request never runs minutes later, after the test moved on).
    generation: u64,
    /// Names of EB environments / App Runner services whose next deploy fails its health.
    fail_next_deploy: HashMap<String, u32>,
    /// Image identifiers whose app answers 500 at its URL although the platform's own health
    /// check passes (an app that breaks only on real requests).
    unhealthy_images: std::collections::HashSet<String>,
}

impl Faults {
    /// Arms a rule (after the ones already armed).
    pub fn push(&self, rule: FaultRule) {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        s.rules.push(Armed {
            rule,
            counters: HashMap::new(),
        });
    }

    /// Decides one request of `operation` to `service`: the fault of the first armed rule that
    /// matches and still has one to give, or `None` (also when that rule lets it pass by its
    /// `skip`). A rule that has given all its faults is dropped, unless it counts per operation.
    pub fn take(&self, service: &str, operation: &str) -> Option<Fault> {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut spent = None;
        let mut decided = None;
        for (i, armed) in s.rules.iter_mut().enumerate() {
            let rule = &armed.rule;
            if !(rule.service == "*" || rule.service == service)
                || rule.operation.as_deref().is_some_and(|op| op != operation)
            {
                continue;
            }
            let key = if rule.each_operation {
                format!("{service}:{operation}")
            } else {
                String::new()
            };
            let (passed, given) = armed.counters.entry(key).or_default();
            if *given >= rule.count {
                continue;
            }
            if *passed < rule.skip {
                *passed += 1;
                break;
            }
            *given += 1;
            if !rule.each_operation && *given >= rule.count {
                spent = Some(i);
            }
            decided = Some(rule.fault.clone());
            break;
        }
        if let Some(i) = spent {
            s.rules.remove(i);
        }
        decided
    }

    /// Records that `fault` took effect on a request of `operation` to `service`.
    pub fn hit(&self, service: &str, operation: &str, fault: &Fault) {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if s.hits.len() >= MAX_HITS {
            s.hits.pop_front();
        }
        s.hits.push_back(FaultHit {
            service: service.to_string(),
            operation: operation.to_string(),
            fault: fault.name().to_string(),
        });
    }

    /// The faults that took effect since the last [`Faults::clear`], oldest first.
    pub fn hits(&self) -> Vec<FaultHit> {
        let s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        s.hits.iter().cloned().collect()
    }

    /// Makes the next `count` deploys of the named environment or service fail their health.
    pub fn fail_next_deploy(&self, name: &str, count: u32) {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        s.fail_next_deploy.insert(name.to_string(), count);
    }

    /// Called by an emulator when a deploy of `name` starts: true if this deploy must fail.
    pub fn take_deploy_failure(&self, name: &str) -> bool {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match s.fail_next_deploy.get_mut(name) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    /// From now on, the app of `image` answers 500 at its URL (simulated workloads).
    pub fn mark_unhealthy_image(&self, image: &str) {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        s.unhealthy_images.insert(image.to_string());
    }

    /// Whether the app of `image` was marked unhealthy.
    pub fn is_unhealthy_image(&self, image: &str) -> bool {
        let s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        s.unhealthy_images.contains(image)
    }

    /// Disarms every rule and forgets the hits (scripted deploy failures stay).
    pub fn disarm(&self) {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        s.rules.clear();
        s.hits.clear();
        s.generation += 1;
    }

    /// The current generation (see [`Faults::hold`]).
    pub fn generation(&self) -> u64 {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .generation
    }

    /// Holds a request for `delay` (real time). False when the faults were disarmed meanwhile:
    /// the caller then drops the request instead of going on with it.
    pub async fn hold(&self, delay: Duration) -> bool {
        let generation = self.generation();
        let until = Instant::now() + delay;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            tokio::time::sleep(left.min(Duration::from_millis(50))).await;
            if self.generation() != generation {
                return false;
            }
        }
    }

    /// Disarms every rule and scripted failure and forgets the hits.
    pub fn clear(&self) {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        s.rules.clear();
        s.hits.clear();
        s.generation += 1;
        s.fail_next_deploy.clear();
        s.unhealthy_images.clear();
    }
}

/// Everything an emulator needs from the edge.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub clock: Clock,
    pub faults: Faults,
    pub registry: Option<RegistryConfig>,
    /// moto's base URL (`http://127.0.0.1:PORT`), for S3 lookups (EB application versions).
    pub moto_url: Option<String>,
    /// The region this edge claims to be in when a request names none.
    pub default_region: String,
    /// Account id used in ARNs.
    pub account_id: String,
    /// The edge's own address (`127.0.0.1:PORT`), for app URLs served by the edge.
    pub edge_addr: String,
    /// The container runtime when workloads are real (`EdgeConfig::workloads`); `None`: the
    /// emulators simulate the app as before.
    pub workloads: Option<crate::workload::Workloads>,
    /// App host → running container, proxied by the edge.
    pub routes: crate::workload::AppRoutes,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        service: &str,
        operation: Option<&str>,
        count: u32,
        skip: u32,
        each: bool,
    ) -> FaultRule {
        FaultRule {
            service: service.into(),
            operation: operation.map(str::to_string),
            fault: Fault::Throttle,
            count,
            skip,
            each_operation: each,
        }
    }

    #[test]
    fn rules_select_by_service_operation_skip_and_count() {
        // (rule, requests as service:operation, which of them get the fault)
        let cases: &[(FaultRule, &[&str], &[bool])] = &[
            (
                rule("s3", None, 2, 0, false),
                &["eb:A", "s3:Put", "s3:Put", "s3:Put"],
                &[false, true, true, false],
            ),
            (
                rule("*", Some("Create"), 1, 1, false),
                &["eb:Create", "rds:Describe", "rds:Create", "eb:Create"],
                &[false, false, true, false],
            ),
            (
                rule("*", None, 1, 0, true),
                &["eb:A", "eb:A", "eb:B", "s3:A", "eb:B"],
                &[true, false, true, true, false],
            ),
            (
                rule("eb", None, 1, 2, true),
                &["eb:A", "eb:A", "eb:B", "eb:A", "eb:A"],
                &[false, false, false, true, false],
            ),
        ];
        for (r, requests, want) in cases {
            let faults = Faults::default();
            faults.push(r.clone());
            let got: Vec<bool> = requests
                .iter()
                .map(|req| {
                    let (service, op) = req.split_once(':').unwrap();
                    faults.take(service, op).is_some()
                })
                .collect();
            assert_eq!(&got, want, "{r:?} over {requests:?}");
        }
    }

    #[test]
    fn hits_are_recorded_and_disarm_forgets_rules_and_hits() {
        let faults = Faults::default();
        faults.push(rule("*", None, 1, 0, true));
        faults.fail_next_deploy("env", 1);
        let f = faults.take("eb", "CreateEnvironment").unwrap();
        faults.hit("eb", "CreateEnvironment", &f);
        assert_eq!(
            faults.hits(),
            vec![FaultHit {
                service: "eb".into(),
                operation: "CreateEnvironment".into(),
                fault: "throttle".into()
            }]
        );
        faults.disarm();
        assert!(faults.hits().is_empty());
        assert_eq!(faults.take("eb", "Other"), None);
        assert!(
            faults.take_deploy_failure("env"),
            "scripted failures stay armed"
        );
    }

    #[test]
    fn time_scales_out_of_range_are_errors_not_panics() {
        let cases: &[(f64, bool)] = &[
            (0.0, false),
            (0.0001, false),
            (-1.0, false),
            (f64::NAN, false),
            (f64::INFINITY, false),
            (f64::NEG_INFINITY, false),
            (1e9, false),
            (f64::MIN_POSITIVE, false),
            (0.999, false),
            (1.0, true),
            (60.0, true),
            (300.0, true),
            (1234.0, true),
            (10_000.0, true),
            (10_000.5, false),
        ];
        for &(scale, ok) in cases {
            let checked = check_time_scale(scale);
            assert_eq!(checked.is_ok(), ok, "{scale}");
            let clock = Clock::new(60.0);
            assert_eq!(clock.set_scale(scale).is_ok(), ok, "{scale}");
            if let Err(e) = checked {
                let text = e.to_string();
                assert!(
                    text.contains(&format!("{scale}")) && text.contains("from 1 to 10000"),
                    "{text}"
                );
                assert_eq!(
                    clock.scale(),
                    60.0,
                    "a refused scale leaves the clock alone"
                );
            }
            // Whatever a caller forgot to check, the clock never panics.
            let clock = Clock::new(scale);
            let _ = clock.after(Duration::from_secs(u64::MAX / 4));
            let _ = clock.real(Duration::MAX);
            assert!((TIME_SCALE_MIN..=TIME_SCALE_MAX).contains(&clock.scale()));
        }
    }
}
