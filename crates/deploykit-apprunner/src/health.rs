//! The one health-then-rollback step both platforms run after their operation or deployment
//! succeeded: GET the app URL until it answers 200 (bounded); when it never does and there is
//! a previous image, redeploy that image (bounded), then ask the service what it runs before
//! saying so. App Runner (`deploy.rs`) and ECS Express (`ecs.rs`) pass their own redeploy and
//! read-back as closures; the decisions are pure ([`rollback_target`]).

use std::time::{Duration, Instant};

use deploykit_report::{Event, Reporter, WaitOptions};

use crate::{AppRunnerError, Probe};

/// Whether the service, which runs `running`, may be sent back to `previous` after `ours`
/// failed: only when it runs `ours` or already `previous`. Anything else is someone else's
/// deploy, which a rollback never replaces. The error is the sentence for the report.
pub fn rollback_target(running: Option<&str>, ours: &str, previous: &str) -> Result<(), String> {
    match running {
        Some(r) if r == ours || r == previous => Ok(()),
        Some(r) => Err(format!(
            "the service now runs {r}, which is neither the image this deploy sent ({ours}) nor the one it replaced ({previous}): someone else deployed meanwhile, and their image is left as it is"
        )),
        None => Err(format!(
            "the service's image could not be read, so it is not known to run {ours} or {previous}; nothing is rolled back"
        )),
    }
}

/// After the platform reported success for `image`: the health check of `https://url+path`;
/// on failure with a `previous` image, the rollback through `redeploy(previous)` and the
/// read-back through `running()`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn health_or_rollback(
    service: &str,
    url: &str,
    path: &str,
    image: &str,
    previous: Option<&str>,
    probe: &Probe,
    wait: WaitOptions,
    reporter: &dyn Reporter,
    redeploy: impl AsyncFnOnce(&str) -> Result<(), AppRunnerError>,
    running: impl AsyncFn() -> Result<Option<String>, AppRunnerError>,
) -> Result<(), AppRunnerError> {
    let unhealthy = match check_health(service, url, path, probe, wait, reporter).await {
        Ok(()) => return Ok(()),
        Err(e @ AppRunnerError::Unhealthy { .. }) => e,
        Err(e) => return Err(e),
    };
    let Some(previous) = previous.filter(|p| *p != image) else {
        return Err(unhealthy);
    };
    let why = unhealthy.to_string();
    let now = running().await.ok().flatten();
    if let Err(reason) = rollback_target(now.as_deref(), image, previous) {
        reporter.report(Event::warn(format!("not rolled back: {reason}")));
        return Err(AppRunnerError::RollbackRefused {
            service: service.into(),
            image: image.into(),
            why,
            reason,
        });
    }
    reporter.report(Event::warn(format!(
        "{image} failed its health check after the deploy succeeded; rolling {service} back to {previous}"
    )));
    let failed = |reason: String| AppRunnerError::HealthRollbackFailed {
        service: service.into(),
        image: image.into(),
        previous: previous.into(),
        why: why.clone(),
        reason,
    };
    redeploy(previous)
        .await
        .map_err(|e| failed(e.to_string()))?;
    // Say what runs only after asking the service.
    let runs = running()
        .await
        .map_err(|e| failed(format!("reading the service back: {e}")))?;
    if runs.as_deref() != Some(previous) {
        return Err(failed(format!(
            "after the rollback the service reports it runs {}",
            runs.as_deref().unwrap_or("no image")
        )));
    }
    check_health(service, url, path, probe, wait, reporter)
        .await
        .map_err(|e| failed(format!("the previous image runs but is not healthy: {e}")))?;
    Err(AppRunnerError::HealthRolledBack {
        service: service.into(),
        image: image.into(),
        previous: previous.into(),
        why,
    })
}

/// GETs `https://<url><path>` (plain HTTP through `probe.resolve`, the local edge) until it
/// answers 200, bounded by `wait.timeout`.
pub(crate) async fn check_health(
    service: &str,
    url: &str,
    path: &str,
    probe: &Probe,
    wait: WaitOptions,
    reporter: &dyn Reporter,
) -> Result<(), AppRunnerError> {
    use deploykit_aws::http_check::{Scheme, get_status};
    let started = Instant::now();
    let mut last: String;
    loop {
        match get_status(
            Scheme::Https,
            url,
            path,
            probe.resolve,
            Duration::from_secs(10),
        )
        .await
        {
            Ok(200) => {
                reporter.report(Event::info(format!("https://{url}{path} answered 200")));
                return Ok(());
            }
            Ok(code) => last = format!("HTTP {code}"),
            Err(e) => last = e,
        }
        let waited = started.elapsed();
        if waited >= wait.timeout {
            return Err(AppRunnerError::Unhealthy {
                service: service.into(),
                url: url.into(),
                path: path.into(),
                last,
                waited,
            });
        }
        reporter.report(Event::Waiting {
            step: "health".into(),
            for_what: format!("https://{url}{path} to answer 200 ({last})"),
            waited,
            timeout: wait.timeout,
        });
        let left = wait.timeout.saturating_sub(waited);
        tokio::time::sleep(wait.poll.min(Duration::from_secs(2)).min(left)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rollback_replaces_only_our_image_or_our_previous_one() {
        // (running, ours, previous, allowed)
        let cases = [
            (Some("r/app:v2"), "r/app:v2", "r/app:v1", true),
            (Some("r/app:v1"), "r/app:v2", "r/app:v1", true),
            (Some("r/app:v3"), "r/app:v2", "r/app:v1", false),
            (Some("other/app:v2"), "r/app:v2", "r/app:v1", false),
            (None, "r/app:v2", "r/app:v1", false),
        ];
        for (running, ours, previous, allowed) in cases {
            let got = rollback_target(running, ours, previous);
            assert_eq!(got.is_ok(), allowed, "{running:?}: {got:?}");
        }
    }
}
