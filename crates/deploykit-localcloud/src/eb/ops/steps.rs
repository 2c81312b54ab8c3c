//! The scripted event timelines of launches, deploys, configuration updates and terminations.

use std::time::Duration;

use crate::eb::bundle::Verdict;
use crate::eb::state::{Env, EnvStatus, HealthStatus, Severity, Step, timing};

pub(super) fn step(request_id: &str, severity: Severity, message: impl Into<String>) -> Step {
    Step {
        event: Some((severity, message.into())),
        request_id: request_id.to_string(),
        ..Step::default()
    }
}

pub(super) fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// How a deploy will end.
pub(super) enum Outcome {
    Healthy,
    Fails(Vec<String>),
    /// A real instance runs the deploy; its outcome is scheduled when it is known.
    Real,
}

pub(super) fn transition(from: HealthStatus, to: HealthStatus, why: &str) -> String {
    format!(
        "Environment health has transitioned from {} to {}. {why}",
        from.as_str(),
        to.as_str()
    )
}

pub(super) fn launch_steps(
    env: &Env,
    region: &str,
    account: &str,
    outcome: &Outcome,
    rid: &str,
) -> Vec<(Duration, Step)> {
    let mut steps = vec![
        (
            secs(0),
            step(rid, Severity::Info, "createEnvironment is starting."),
        ),
        (
            secs(2),
            step(
                rid,
                Severity::Info,
                format!(
                    "Using elasticbeanstalk-{region}-{account} as Amazon S3 storage bucket for environment data."
                ),
            ),
        ),
        (
            secs(20),
            step(
                rid,
                Severity::Info,
                format!("Created security group named: {}", env.security_group()),
            ),
        ),
        (
            secs(35),
            step(rid, Severity::Info, "Created EIP: 127.0.0.1"),
        ),
        (
            secs(60),
            step(
                rid,
                Severity::Info,
                "Waiting for EC2 instances to launch. This may take a few minutes.",
            ),
        ),
    ];
    let end = timing::LAUNCH;
    match outcome {
        Outcome::Healthy => {
            steps.push((
                secs(240),
                step(
                    rid,
                    Severity::Info,
                    "Instance deployment completed successfully.",
                ),
            ));
            steps.push((
                secs(280),
                step(
                    rid,
                    Severity::Info,
                    format!("Application available at {}.", env.cname),
                ),
            ));
            let mut health = step(
                rid,
                Severity::Info,
                transition(
                    HealthStatus::Pending,
                    HealthStatus::Ok,
                    "Initialization completed 12 seconds ago and took 4 minutes.",
                ),
            );
            health.health = Some(HealthStatus::Ok);
            health.causes = Some(Vec::new());
            steps.push((end, health));
            let mut ready = step(
                rid,
                Severity::Info,
                format!("Successfully launched environment: {}", env.name),
            );
            ready.status = Some(EnvStatus::Ready);
            steps.push((end, ready));
        }
        Outcome::Real => {}
        Outcome::Fails(causes) => {
            steps.push((
                secs(240),
                step(
                    rid,
                    Severity::Error,
                    "Instance deployment failed. For details, see 'eb-engine.log'.",
                ),
            ));
            let mut done = step(
                rid,
                Severity::Error,
                "Create environment operation is complete, but with errors. For more information, see troubleshooting documentation.",
            );
            done.status = Some(EnvStatus::Ready);
            done.health = Some(HealthStatus::Severe);
            done.causes = Some(causes.clone());
            steps.push((end, done));
            steps.push((
                end,
                step(
                    rid,
                    Severity::Error,
                    transition(
                        HealthStatus::Pending,
                        HealthStatus::Severe,
                        &causes.join(" "),
                    ),
                ),
            ));
        }
    }
    steps
}

pub(super) fn deploy_steps(
    env: &Env,
    label: &str,
    outcome: &Outcome,
    rid: &str,
) -> Vec<(Duration, Step)> {
    let mut steps = vec![
        (
            secs(0),
            step(rid, Severity::Info, "Environment update is starting."),
        ),
        (
            secs(5),
            step(rid, Severity::Info, "Deploying new version to instance(s)."),
        ),
    ];
    let end = timing::UPDATE;
    let before = env.health;
    match outcome {
        Outcome::Real => {}
        Outcome::Healthy => {
            steps.push((
                secs(60),
                step(
                    rid,
                    Severity::Info,
                    "Instance deployment completed successfully.",
                ),
            ));
            steps.push((
                secs(75),
                step(
                    rid,
                    Severity::Info,
                    "New application version was deployed to running EC2 instances.",
                ),
            ));
            let mut done = step(
                rid,
                Severity::Info,
                "Environment update completed successfully.",
            );
            done.status = Some(EnvStatus::Ready);
            done.version = Some(Some(label.to_string()));
            done.health = Some(HealthStatus::Ok);
            done.causes = Some(Vec::new());
            steps.push((end, done));
            if before != HealthStatus::Ok {
                steps.push((
                    end,
                    step(
                        rid,
                        Severity::Info,
                        transition(
                            before,
                            HealthStatus::Ok,
                            "Application update completed 3 seconds ago and took 90 seconds.",
                        ),
                    ),
                ));
            }
        }
        Outcome::Fails(causes) => {
            steps.push((
                secs(60),
                step(
                    rid,
                    Severity::Error,
                    "Instance deployment failed. For details, see 'eb-engine.log'.",
                ),
            ));
            steps.push((
                secs(70),
                step(
                    rid,
                    Severity::Error,
                    "During an aborted deployment, some instances may have deployed the new application version. To ensure all instances are running the same version, re-deploy the appropriate application version.",
                ),
            ));
            let mut done = step(rid, Severity::Error, "Failed to deploy application.");
            done.status = Some(EnvStatus::Ready);
            done.health = Some(HealthStatus::Severe);
            done.causes = Some(causes.clone());
            steps.push((end, done));
            if before != HealthStatus::Severe {
                steps.push((
                    end,
                    step(
                        rid,
                        Severity::Error,
                        transition(before, HealthStatus::Severe, &causes.join(" ")),
                    ),
                ));
            }
        }
    }
    steps
}

pub(super) fn config_steps(env: &Env, rid: &str) -> Vec<(Duration, Step)> {
    let mut done = step(
        rid,
        Severity::Info,
        "Environment update completed successfully.",
    );
    done.status = Some(EnvStatus::Ready);
    vec![
        (
            secs(0),
            step(rid, Severity::Info, "Environment update is starting."),
        ),
        (
            secs(10),
            step(
                rid,
                Severity::Info,
                format!(
                    "Updating environment {}'s configuration settings.",
                    env.name
                ),
            ),
        ),
        (
            secs(50),
            step(
                rid,
                Severity::Info,
                "Successfully deployed new configuration to environment.",
            ),
        ),
        (timing::CONFIG_UPDATE, done),
    ]
}

pub(super) fn terminate_steps(env: &Env, rid: &str) -> Vec<(Duration, Step)> {
    let mut done = step(
        rid,
        Severity::Info,
        "terminateEnvironment completed successfully.",
    );
    done.status = Some(EnvStatus::Terminated);
    done.health = Some(HealthStatus::Unknown);
    vec![
        (
            secs(0),
            step(rid, Severity::Info, "terminateEnvironment is starting."),
        ),
        (
            secs(30),
            step(rid, Severity::Info, "Deleted EIP: 127.0.0.1"),
        ),
        (
            secs(60),
            step(
                rid,
                Severity::Info,
                format!("Deleted security group named: {}", env.security_group()),
            ),
        ),
        (timing::TERMINATE, done),
    ]
}

/// A deploy fails when the bundle cannot run or the admin path scripted a failure.
pub(super) fn deploy_outcome(
    faults: &crate::core::Faults,
    env: &str,
    verdict: &Verdict,
) -> Outcome {
    let scripted = faults.take_deploy_failure(env);
    match verdict {
        Verdict::Fails(causes) => Outcome::Fails(causes.clone()),
        Verdict::Runs if scripted => Outcome::Fails(vec![
            "Application update failed: the application did not start (failure injected by localcloud).".to_string(),
            "Following services are not running: web.".to_string(),
        ]),
        Verdict::Runs => Outcome::Healthy,
    }
}
