//! Manual rollback for Route B (App Runner and ECS Express): pick the image to go back to
//! from the ECR repository, then deploy it through the platform's normal deploy path.
//!
//! - [`list_images`]: ECR `DescribeImages` of the repository, as [`RepoImage`]s.
//! - [`previous_image`] (pure): the newest image pushed before the one the service runs.
//! - [`plan_rollback`] (pure): the running image and an optional `--to` tag to a
//!   [`RollbackPlan`] (from, to), or a refusal saying why and what to do.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use deploykit_aws::classify;

use crate::AppRunnerError;

/// One image in the repository (ECR `imageDetails`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoImage {
    /// `sha256:...` manifest digest.
    pub digest: String,
    pub tags: Vec<String>,
    /// ECR `imagePushedAt`.
    pub pushed_at: SystemTime,
}

impl RepoImage {
    /// The tag to deploy it by: sorted, `latest` only when it is the only one; `None` when untagged.
    pub fn preferred_tag(&self) -> Option<&str> {
        let mut tags: Vec<&str> = self.tags.iter().map(String::as_str).collect();
        tags.sort_unstable();
        tags.iter()
            .find(|t| **t != "latest")
            .or_else(|| tags.first())
            .copied()
    }

    /// `pushed_at` as Unix seconds.
    pub fn pushed_at_unix(&self) -> u64 {
        self.pushed_at
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
    }
}

/// `host/path:tag` or `host/path@sha256:...` split into (repository path, tag or digest).
/// The host is the part before the first `/`; a reference without one has no repository.
fn split_image(image: &str) -> Option<(&str, &str)> {
    let (_, rest) = image.split_once('/')?;
    if let Some((path, digest)) = rest.split_once('@') {
        return Some((path, digest));
    }
    let (path, tag) = rest.rsplit_once(':')?;
    Some((path, tag))
}

/// The image the service runs (`running`, an image reference), if it is in `images` of
/// `repository`: by digest or by tag.
pub fn find_running<'a>(
    images: &'a [RepoImage],
    repository: &str,
    running: &str,
) -> Option<&'a RepoImage> {
    let (path, reference) = split_image(running)?;
    if path != repository {
        return None;
    }
    images
        .iter()
        .find(|i| i.digest == reference || i.tags.iter().any(|t| t == reference))
}

/// The newest image pushed strictly before the one the service runs (by `pushed_at`); `None`
/// when the running image is not in `images` of `repository` or nothing was pushed before it.
/// Images with the running image's digest never count (re-tags of the same image).
pub fn previous_image<'a>(
    images: &'a [RepoImage],
    repository: &str,
    running: &str,
) -> Option<&'a RepoImage> {
    let now = find_running(images, repository, running)?;
    images
        .iter()
        .filter(|i| i.digest != now.digest && i.pushed_at < now.pushed_at)
        .max_by_key(|i| i.pushed_at)
}

/// What a rollback will deploy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RollbackPlan {
    pub service: String,
    pub repository: String,
    /// The image reference the service runs now.
    pub from: String,
    /// The image reference to deploy (`host/repository:tag`, or `@digest` when untagged).
    pub to: String,
    pub to_digest: String,
    /// The target's ECR `imagePushedAt`, Unix seconds.
    pub to_pushed_at: u64,
    /// True when `to` came from `--to`, false when it is the previous image.
    pub explicit: bool,
}

/// Plans a rollback (pure). `running` is the image the service runs (`None`: no service or no
/// image); `to_tag` an explicit target tag; `registry_host` the registry images are pulled
/// from (`ACCOUNT.dkr.ecr.REGION.amazonaws.com`).
pub fn plan_rollback(
    service: &str,
    repository: &str,
    registry_host: &str,
    images: &[RepoImage],
    running: Option<&str>,
    to_tag: Option<&str>,
) -> Result<RollbackPlan, AppRunnerError> {
    let refuse = |reason: String, fix: &str| AppRunnerError::NoRollbackTarget {
        service: service.to_string(),
        reason,
        fix: fix.to_string(),
    };
    let Some(running) = running else {
        return Err(refuse(
            "the service does not exist or runs no image".into(),
            "deploy it first; there is nothing to roll back",
        ));
    };
    let target = match to_tag {
        Some(tag) => images
            .iter()
            .find(|i| i.tags.iter().any(|t| t == tag))
            .ok_or_else(|| {
                refuse(
                    format!("tag {tag} is not in ECR repository {repository}"),
                    "name a tag that exists (aws ecr describe-images --repository-name REPOSITORY lists them)",
                )
            })?,
        None => {
            let Some(now) = find_running(images, repository, running) else {
                return Err(refuse(
                    format!(
                        "it runs {running}, which is not in ECR repository {repository} (pushed elsewhere, or expired by the lifecycle policy)"
                    ),
                    "name the image to go back to explicitly with its tag",
                ));
            };
            previous_image(images, repository, running).ok_or_else(|| {
                refuse(
                    format!(
                        "no image in ECR repository {repository} was pushed before the running one ({running}, digest {})",
                        now.digest
                    ),
                    "there is no earlier image: deploy a fixed image instead",
                )
            })?
        }
    };
    let to = match target.preferred_tag() {
        Some(tag) => format!("{registry_host}/{repository}:{tag}"),
        None => format!("{registry_host}/{repository}@{}", target.digest),
    };
    Ok(RollbackPlan {
        service: service.to_string(),
        repository: repository.to_string(),
        from: running.to_string(),
        to,
        to_digest: target.digest.clone(),
        to_pushed_at: target.pushed_at_unix(),
        explicit: to_tag.is_some(),
    })
}

/// Every image in `repository` (ECR `DescribeImages`, all pages).
pub async fn list_images(
    client: &aws_sdk_ecr::Client,
    repository: &str,
) -> Result<Vec<RepoImage>, AppRunnerError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .describe_images()
            .repository_name(repository)
            .set_next_token(token.take())
            .max_results(1000)
            .send()
            .await
            .map_err(|e| AppRunnerError::Ecr {
                operation: "DescribeImages",
                repository: repository.to_string(),
                classified: Box::new(classify(&e)),
            })?;
        for d in page.image_details() {
            let Some(digest) = d.image_digest() else {
                continue;
            };
            let pushed_at = d
                .image_pushed_at()
                .and_then(|t| SystemTime::try_from(*t).ok())
                .unwrap_or(UNIX_EPOCH);
            out.push(RepoImage {
                digest: digest.to_string(),
                tags: d.image_tags().to_vec(),
                pushed_at,
            });
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(out)
}

/// `secs` after the epoch, for tests and tables.
pub fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(digest: &str, tags: &[&str], secs: u64) -> RepoImage {
        RepoImage {
            digest: format!("sha256:{digest}"),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            pushed_at: at(secs),
        }
    }

    const HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

    #[test]
    fn previous_image_table() {
        let images = vec![
            img("c", &["v3"], 300),
            img("a", &["v1", "latest-a"], 100),
            img("b", &["v2"], 200),
            img("d", &["v4"], 400),
            img("c2", &["v3-retag"], 300),
        ];
        let r = |x: &str| format!("{HOST}/app{x}");
        // (running, expected previous digest)
        let table: Vec<(String, Option<&str>)> = vec![
            (r(":v4"), Some("sha256:c")), // ties at 300: first max wins deterministically below
            (r(":v2"), Some("sha256:a")),
            (r(":v1"), None),
            (r(":latest-a"), None),
            (r("@sha256:b"), Some("sha256:a")),
            (r(":nope"), None),
            (format!("{HOST}/other:v2"), None),
            ("app:v2".into(), None),
            (r(":v3"), Some("sha256:b")),
        ];
        for (running, want) in table {
            let got = previous_image(&images, "app", &running).map(|i| i.digest.as_str());
            match want {
                Some("sha256:c") => assert!(
                    matches!(got, Some("sha256:c") | Some("sha256:c2")),
                    "{running}: {got:?}"
                ),
                _ => assert_eq!(got, want, "{running}"),
            }
        }
    }

    #[test]
    fn nested_repository_paths_and_local_hosts() {
        let images = vec![img("a", &["1"], 1), img("b", &["2"], 2)];
        assert_eq!(
            previous_image(&images, "team/app", "127.0.0.1:5000/team/app:2")
                .map(|i| i.digest.as_str()),
            Some("sha256:a")
        );
        assert!(previous_image(&images, "app", "127.0.0.1:5000/team/app:2").is_none());
    }

    #[test]
    fn plan_rollback_picks_the_previous_or_the_named_tag_and_refuses_clearly() {
        let images = vec![
            img("a", &["v1"], 100),
            img("b", &["v2"], 200),
            img("u", &[], 50),
        ];
        let running = format!("{HOST}/app:v2");
        let p = plan_rollback("svc", "app", HOST, &images, Some(&running), None).expect("plan");
        assert_eq!(p.to, format!("{HOST}/app:v1"));
        assert_eq!(
            (p.from.as_str(), p.explicit, p.to_pushed_at),
            (running.as_str(), false, 100)
        );

        let p = plan_rollback("svc", "app", HOST, &images, Some(&running), Some("v1")).expect("to");
        assert!(p.explicit);
        // Untagged target: by digest.
        let r1 = format!("{HOST}/app:v1");
        let p = plan_rollback("svc", "app", HOST, &images, Some(&r1), None).expect("untagged");
        assert_eq!(p.to, format!("{HOST}/app@sha256:u"));

        let refusals = [
            (None, None, "does not exist"),
            (
                Some(format!("{HOST}/app:gone")),
                None,
                "not in ECR repository app",
            ),
            (
                Some(format!("{HOST}/app@sha256:u")),
                None,
                "no image in ECR repository app",
            ),
            (Some(running.clone()), Some("v9"), "tag v9 is not in"),
        ];
        for (run, to, want) in refusals {
            let e = plan_rollback("svc", "app", HOST, &images, run.as_deref(), to)
                .expect_err("refused");
            assert!(
                matches!(e, AppRunnerError::NoRollbackTarget { .. }),
                "{e:?}"
            );
            assert!(e.to_string().contains(want), "{e}");
        }
        // An explicit tag works even when the running image is foreign.
        let foreign = "docker.io/library/nginx:1";
        assert!(plan_rollback("svc", "app", HOST, &images, Some(foreign), Some("v1")).is_ok());
    }

    #[test]
    fn preferred_tag_skips_latest() {
        assert_eq!(img("a", &["latest", "b1"], 1).preferred_tag(), Some("b1"));
        assert_eq!(img("a", &["latest"], 1).preferred_tag(), Some("latest"));
        assert_eq!(img("a", &[], 1).preferred_tag(), None);
    }
}
