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

/// A fault the admin path asked for, applied to matching requests.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Answer with the service's real throttling error (EB: `Throttling`, App Runner:
    /// `ThrottlingException`) for the next `count` requests.
    Throttle { count: u32 },
    /// Answer HTTP `status` (5xx) with the protocol's InternalFailure for the next `count`.
    ServerError { status: u16, count: u32 },
    /// Delay each of the next `count` responses by `delay` (real time).
    Latency { delay: Duration, count: u32 },
    /// Close the connection without a response for the next `count` requests.
    Drop { count: u32 },
}

/// Faults and scripted failures, set through the admin path, read by the edge and emulators.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    inner: Arc<Mutex<FaultState>>,
}

#[derive(Debug, Default)]
struct FaultState {
    /// Per service (`elasticbeanstalk`, `apprunner`, `*` for all), queued faults.
    queued: HashMap<String, Vec<Fault>>,
    /// Names of EB environments / App Runner services whose next deploy fails its health.
    fail_next_deploy: HashMap<String, u32>,
    /// Image identifiers whose app answers 500 at its URL although the platform's own health
    /// check passes (an app that breaks only on real requests).
    unhealthy_images: std::collections::HashSet<String>,
}

impl Faults {
    pub fn push(&self, service: &str, fault: Fault) {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        s.queued.entry(service.to_string()).or_default().push(fault);
    }

    /// Takes one use of the first fault queued for `service` (or `*`), if any.
    pub fn take(&self, service: &str) -> Option<Fault> {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        for key in [service, "*"] {
            let Some(list) = s.queued.get_mut(key) else {
                continue;
            };
            if list.is_empty() {
                continue;
            }
            let fault = list[0].clone();
            let remaining = match &mut list[0] {
                Fault::Throttle { count }
                | Fault::ServerError { count, .. }
                | Fault::Latency { count, .. }
                | Fault::Drop { count } => {
                    *count = count.saturating_sub(1);
                    *count
                }
            };
            if remaining == 0 {
                list.remove(0);
            }
            return Some(fault);
        }
        None
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

    pub fn clear(&self) {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        s.queued.clear();
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
