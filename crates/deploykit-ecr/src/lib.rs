//! ECR repository ensure, authorization tokens held as secrets, and image push through bollard.
//!
//! - [`ensure_repository`]: the repository exists with scan-on-push, tag mutability and a keep-N
//!   lifecycle policy ([`lifecycle_policy_json`], pure).
//! - [`AuthCache`]: GetAuthorizationToken decoded into [`RegistryAuth`] (password a
//!   [`SecretString`]), reused until five minutes before it expires.
//! - [`push`]: tags the local image for the registry and pushes it with per-layer progress,
//!   reporting layers pushed versus already present and the pushed digest.

use std::time::{Duration, SystemTime};

use aws_sdk_ecr::types::{ImageScanningConfiguration, ImageTagMutability};
use base64::Engine as _;
use bollard::Docker;
use bollard::auth::DockerCredentials;
use deploykit_aws::{Classified, classify};
use deploykit_report::{Event, Level, Reporter, StepTimer, Unit};
use futures_util::StreamExt;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

mod diagnostic;

/// Refresh a cached token this long before it expires.
pub const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);

/// Everything that can go wrong with ECR.
#[derive(Debug, thiserror::Error)]
pub enum EcrError {
    #[error("ECR {operation} failed for repository {repository}: {classified}")]
    Aws {
        operation: &'static str,
        repository: String,
        classified: Box<Classified>,
    },
    #[error("ECR returned an unusable authorization token: {reason}")]
    Token { reason: String },
    #[error("pushing {image} failed: {message}")]
    Push {
        image: String,
        message: String,
        /// Advice for this failure; [`deploykit_report::Diagnostic::help`] returns it.
        hint: String,
    },
    #[error("the Docker Engine failed during {operation} of {image}: {source}")]
    Docker {
        operation: &'static str,
        image: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("push of {image} did not finish within {}s", timeout.as_secs())]
    Timeout { image: String, timeout: Duration },
}

fn aws_err<E>(
    operation: &'static str,
    repository: &str,
    err: &aws_sdk_ecr::error::SdkError<E, aws_sdk_ecr::config::http::HttpResponse>,
) -> EcrError
where
    E: aws_sdk_ecr::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    EcrError::Aws {
        operation,
        repository: repository.to_string(),
        classified: Box::new(classify(err)),
    }
}

/// Tag mutability of a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TagMutability {
    #[default]
    Mutable,
    Immutable,
}

/// The repository we want.
#[derive(Debug, Clone)]
pub struct RepositorySpec {
    pub name: String,
    pub scan_on_push: bool,
    pub tag_mutability: TagMutability,
    /// Keep only this many images (lifecycle policy); `None` leaves any policy alone.
    pub keep_images: Option<u32>,
}

/// The repository as it is after [`ensure_repository`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    pub name: String,
    pub uri: String,
    pub arn: String,
    pub created: bool,
}

/// The lifecycle policy that expires all but the newest `keep` images.
pub fn lifecycle_policy_json(keep: u32) -> String {
    format!(
        r#"{{"rules":[{{"rulePriority":1,"description":"deploykit: keep the newest {keep} images","selection":{{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":{keep}}},"action":{{"type":"expire"}}}}]}}"#
    )
}

fn mutability(m: TagMutability) -> ImageTagMutability {
    match m {
        TagMutability::Mutable => ImageTagMutability::Mutable,
        TagMutability::Immutable => ImageTagMutability::Immutable,
    }
}

/// Makes the repository exist with the spec's settings (creates it, or corrects drift).
pub async fn ensure_repository(
    client: &aws_sdk_ecr::Client,
    spec: &RepositorySpec,
    reporter: &dyn Reporter,
) -> Result<Repository, EcrError> {
    let timer = StepTimer::start(
        reporter,
        "ecr-repository",
        format!("Ensuring ECR repository {}", spec.name),
    );
    let name = spec.name.as_str();
    let existing = match client
        .describe_repositories()
        .repository_names(name)
        .send()
        .await
    {
        Ok(out) => out.repositories().first().cloned(),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_repository_not_found_exception()) =>
        {
            None
        }
        Err(e) => return Err(aws_err("DescribeRepositories", name, &e)),
    };
    let (repo, created) = match existing {
        Some(r) => {
            let scan = r
                .image_scanning_configuration()
                .map(|c| c.scan_on_push())
                .unwrap_or(false);
            if scan != spec.scan_on_push {
                client
                    .put_image_scanning_configuration()
                    .repository_name(name)
                    .image_scanning_configuration(
                        ImageScanningConfiguration::builder()
                            .scan_on_push(spec.scan_on_push)
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| aws_err("PutImageScanningConfiguration", name, &e))?;
                reporter.report(Event::info(format!(
                    "{name}: scan on push set to {}",
                    spec.scan_on_push
                )));
            }
            if r.image_tag_mutability() != Some(&mutability(spec.tag_mutability)) {
                client
                    .put_image_tag_mutability()
                    .repository_name(name)
                    .image_tag_mutability(mutability(spec.tag_mutability))
                    .send()
                    .await
                    .map_err(|e| aws_err("PutImageTagMutability", name, &e))?;
                reporter.report(Event::info(format!(
                    "{name}: tag mutability set to {:?}",
                    spec.tag_mutability
                )));
            }
            (r, false)
        }
        None => {
            let out = client
                .create_repository()
                .repository_name(name)
                .image_scanning_configuration(
                    ImageScanningConfiguration::builder()
                        .scan_on_push(spec.scan_on_push)
                        .build(),
                )
                .image_tag_mutability(mutability(spec.tag_mutability))
                .send()
                .await;
            match out {
                Ok(o) => (
                    o.repository().cloned().ok_or_else(|| EcrError::Token {
                        reason: "CreateRepository returned no repository".into(),
                    })?,
                    true,
                ),
                // Created concurrently: adopt it.
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_repository_already_exists_exception()) =>
                {
                    let out = client
                        .describe_repositories()
                        .repository_names(name)
                        .send()
                        .await
                        .map_err(|e| aws_err("DescribeRepositories", name, &e))?;
                    (
                        out.repositories()
                            .first()
                            .cloned()
                            .ok_or_else(|| EcrError::Token {
                                reason: "repository vanished".into(),
                            })?,
                        false,
                    )
                }
                Err(e) => return Err(aws_err("CreateRepository", name, &e)),
            }
        }
    };
    if let Some(keep) = spec.keep_images {
        client
            .put_lifecycle_policy()
            .repository_name(name)
            .lifecycle_policy_text(lifecycle_policy_json(keep))
            .send()
            .await
            .map_err(|e| aws_err("PutLifecyclePolicy", name, &e))?;
    }
    let repo = Repository {
        name: name.to_string(),
        uri: repo.repository_uri().unwrap_or_default().to_string(),
        arn: repo.repository_arn().unwrap_or_default().to_string(),
        created,
    };
    timer.finish(
        reporter,
        if created {
            format!("created {}", repo.uri)
        } else {
            format!("{} exists", repo.uri)
        },
    );
    Ok(repo)
}

/// Registry credentials from GetAuthorizationToken. `Debug` redacts the password.
#[derive(Clone, Debug)]
pub struct RegistryAuth {
    /// `https://ACCOUNT.dkr.ecr.REGION.amazonaws.com` (or the local registry's `http://127.0.0.1:PORT`).
    pub endpoint: String,
    pub username: String,
    pub password: SecretString,
    pub expires_at: SystemTime,
}

impl RegistryAuth {
    /// The registry host (`host[:port]`) images are tagged with.
    pub fn host(&self) -> &str {
        let s = self.endpoint.trim_end_matches('/');
        s.strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"))
            .unwrap_or(s)
    }

    /// Whether it should be refreshed at `now` (five minutes before expiry).
    pub fn needs_refresh(&self, now: SystemTime) -> bool {
        now + REFRESH_BEFORE_EXPIRY >= self.expires_at
    }

    fn docker_credentials(&self) -> DockerCredentials {
        DockerCredentials {
            username: Some(self.username.clone()),
            password: Some(self.password.expose_secret().to_string()),
            serveraddress: Some(self.host().to_string()),
            ..Default::default()
        }
    }
}

/// Decodes an ECR token (base64 `user:password`).
pub fn decode_token(
    token: &str,
    endpoint: &str,
    expires_at: SystemTime,
) -> Result<RegistryAuth, EcrError> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .map_err(|e| EcrError::Token {
            reason: format!("not base64 ({e})"),
        })?;
    let text = String::from_utf8(raw).map_err(|_| EcrError::Token {
        reason: "not UTF-8".into(),
    })?;
    let (user, pass) = text.split_once(':').ok_or_else(|| EcrError::Token {
        reason: "no `user:password` inside".into(),
    })?;
    if user.is_empty() || pass.is_empty() {
        return Err(EcrError::Token {
            reason: "empty user or password".into(),
        });
    }
    if endpoint.is_empty() {
        return Err(EcrError::Token {
            reason: "no proxy endpoint".into(),
        });
    }
    Ok(RegistryAuth {
        endpoint: endpoint.to_string(),
        username: user.to_string(),
        password: SecretString::from(pass.to_string()),
        expires_at,
    })
}

/// GetAuthorizationToken, cached for the token's lifetime.
#[derive(Debug)]
pub struct AuthCache {
    client: aws_sdk_ecr::Client,
    cached: Mutex<Option<RegistryAuth>>,
}

impl AuthCache {
    pub fn new(client: aws_sdk_ecr::Client) -> Self {
        Self {
            client,
            cached: Mutex::new(None),
        }
    }

    /// A valid token: the cached one, or a fresh one when it is missing or near expiry.
    pub async fn get(&self) -> Result<RegistryAuth, EcrError> {
        let mut guard = self.cached.lock().await;
        if let Some(a) = guard.as_ref()
            && !a.needs_refresh(SystemTime::now())
        {
            return Ok(a.clone());
        }
        let out = self
            .client
            .get_authorization_token()
            .send()
            .await
            .map_err(|e| aws_err("GetAuthorizationToken", "(registry)", &e))?;
        let data = out
            .authorization_data()
            .first()
            .ok_or_else(|| EcrError::Token {
                reason: "no authorizationData".into(),
            })?;
        let expires_at = data
            .expires_at()
            .and_then(|d| SystemTime::try_from(*d).ok())
            .unwrap_or_else(|| SystemTime::now() + Duration::from_secs(12 * 3600));
        let auth = decode_token(
            data.authorization_token().unwrap_or_default(),
            data.proxy_endpoint().unwrap_or_default(),
            expires_at,
        )?;
        *guard = Some(auth.clone());
        Ok(auth)
    }
}

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PushReport {
    /// `host/repo` pushed to.
    pub image: String,
    pub tags: Vec<String>,
    /// `sha256:...` manifest digest in the registry.
    pub digest: String,
    pub layers_pushed: usize,
    pub layers_present: usize,
}

impl PushReport {
    /// `host/repo@sha256:...`: what App Runner is told to run.
    pub fn image_by_digest(&self) -> String {
        format!("{}@{}", self.image, self.digest)
    }
}

/// Tags `local_image` as `<registry host>/<repository>:<tag>` for each tag and pushes it.
pub async fn push(
    docker: &Docker,
    auth: &RegistryAuth,
    local_image: &str,
    repository: &str,
    tags: &[String],
    timeout: Duration,
    reporter: &dyn Reporter,
) -> Result<PushReport, EcrError> {
    let image = format!("{}/{}", auth.host(), repository);
    let timer = StepTimer::start(
        reporter,
        "push",
        format!("Pushing {image} ({})", tags.join(", ")),
    );
    let mut pushed = 0usize;
    let mut present = 0usize;
    for (i, tag) in tags.iter().enumerate() {
        docker
            .tag_image(
                local_image,
                Some(bollard::query_parameters::TagImageOptions {
                    repo: Some(image.clone()),
                    tag: Some(tag.clone()),
                }),
            )
            .await
            .map_err(|source| EcrError::Docker {
                operation: "tag",
                image: format!("{image}:{tag}"),
                source,
            })?;
        let opts = bollard::query_parameters::PushImageOptions {
            tag: Some(tag.clone()),
            platform: None,
        };
        let mut stream = docker.push_image(&image, Some(opts), Some(auth.docker_credentials()));
        let run = async {
            let (mut p, mut a) = (0usize, 0usize);
            while let Some(item) = stream.next().await {
                match item {
                    Ok(info) => {
                        let status = info.status.unwrap_or_default();
                        match status.as_str() {
                            "Pushed" => p += 1,
                            "Layer already exists" => a += 1,
                            s if s.starts_with("Mounted from") => a += 1,
                            _ => {}
                        }
                        if status == "Pushing" {
                            if let Some(d) = info.progress_detail {
                                reporter.report(Event::Progress {
                                    step: "push".into(),
                                    done: d.current.unwrap_or(0).max(0) as u64,
                                    total: d.total.map(|t| t.max(0) as u64),
                                    unit: Unit::Bytes,
                                });
                            }
                        } else if !status.is_empty()
                            && !matches!(status.as_str(), "Preparing" | "Waiting")
                        {
                            // One line per layer outcome, not per intermediate state.
                            reporter.report(Event::Remote {
                                step: "push".into(),
                                source: "registry".into(),
                                level: Level::Info,
                                message: status,
                            });
                        }
                    }
                    Err(bollard::errors::Error::DockerStreamError { error }) => {
                        return Err(EcrError::Push {
                            image: format!("{image}:{tag}"),
                            hint: push_hint(&error),
                            message: error,
                        });
                    }
                    Err(bollard::errors::Error::DockerResponseServerError {
                        status_code,
                        message,
                    }) => {
                        return Err(EcrError::Push {
                            image: format!("{image}:{tag}"),
                            hint: push_hint(&message),
                            message: format!("the daemon answered {status_code}: {message}"),
                        });
                    }
                    Err(source) => {
                        return Err(EcrError::Docker {
                            operation: "push",
                            image: format!("{image}:{tag}"),
                            source,
                        });
                    }
                }
            }
            Ok((p, a))
        };
        let (p, a) =
            tokio::time::timeout(timeout, run)
                .await
                .map_err(|_| EcrError::Timeout {
                    image: format!("{image}:{tag}"),
                    timeout,
                })??;
        if i == 0 {
            pushed = p;
            present = a;
        } else {
            // Later tags of the same image find every layer present; count only new uploads.
            pushed += p;
        }
    }
    let inspect = docker
        .inspect_image(local_image)
        .await
        .map_err(|source| EcrError::Docker {
            operation: "inspect",
            image: local_image.to_string(),
            source,
        })?;
    let prefix = format!("{image}@");
    let digest = inspect
        .repo_digests
        .unwrap_or_default()
        .into_iter()
        .find_map(|d| d.strip_prefix(&prefix).map(str::to_string))
        .ok_or_else(|| EcrError::Push {
            image: image.clone(),
            message: "the daemon recorded no digest for the pushed image".into(),
            hint: "retry the push; check the registry with `docker manifest inspect`".into(),
        })?;
    timer.finish(
        reporter,
        format!("{image}@{digest}: {pushed} layers pushed, {present} already present"),
    );
    Ok(PushReport {
        image,
        tags: tags.to_vec(),
        digest,
        layers_pushed: pushed,
        layers_present: present,
    })
}

/// Hint for a push failure (Docker reports registry errors as text only).
fn push_hint(message: &str) -> String {
    let lower = message.to_ascii_lowercase();
    if lower.contains("unauthorized")
        || lower.contains("authentication required")
        || lower.contains("denied")
    {
        "the registry refused the credentials: the ECR token may have expired or the IAM identity lacks ecr:PutImage/ecr:InitiateLayerUpload; run again to fetch a fresh token".into()
    } else if lower.contains("http response to https client") {
        "the registry speaks plain HTTP: Docker trusts plain-HTTP registries only on 127.0.0.0/8 or when listed in insecure-registries".into()
    } else {
        "check that the registry is reachable from the Docker daemon and retry".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_decodes_and_never_prints_the_password() {
        let token = base64::engine::general_purpose::STANDARD.encode("AWS:s3cr3t-pass");
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(10_000);
        let auth = decode_token(
            &token,
            "https://123456789012.dkr.ecr.us-east-1.amazonaws.com",
            at,
        )
        .expect("decode");
        assert_eq!(auth.username, "AWS");
        assert_eq!(auth.password.expose_secret(), "s3cr3t-pass");
        assert_eq!(auth.host(), "123456789012.dkr.ecr.us-east-1.amazonaws.com");
        assert!(!format!("{auth:?}").contains("s3cr3t"), "{auth:?}");
        let local = decode_token(&token, "http://127.0.0.1:5000", at).expect("decode");
        assert_eq!(local.host(), "127.0.0.1:5000");
    }

    #[test]
    fn bad_tokens_say_why() {
        let at = SystemTime::now();
        for (token, endpoint, want) in [
            ("%%%", "http://x", "not base64"),
            (
                base64::engine::general_purpose::STANDARD
                    .encode("nocolon")
                    .leak() as &str,
                "http://x",
                "user:password",
            ),
            (
                base64::engine::general_purpose::STANDARD
                    .encode("AWS:")
                    .leak(),
                "http://x",
                "empty",
            ),
            (
                base64::engine::general_purpose::STANDARD
                    .encode("AWS:p")
                    .leak(),
                "",
                "no proxy endpoint",
            ),
        ] {
            let err = decode_token(token, endpoint, at)
                .expect_err(token)
                .to_string();
            assert!(err.contains(want), "{token}: {err}");
        }
    }

    #[test]
    fn refresh_five_minutes_before_expiry() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mk = |secs: u64| RegistryAuth {
            endpoint: "http://127.0.0.1:1".into(),
            username: "AWS".into(),
            password: SecretString::from("p".to_string()),
            expires_at: now + Duration::from_secs(secs),
        };
        assert!(!mk(12 * 3600).needs_refresh(now));
        assert!(!mk(301).needs_refresh(now));
        assert!(mk(300).needs_refresh(now));
        assert!(mk(0).needs_refresh(now));
    }

    #[test]
    fn lifecycle_policy_is_valid_json_keeping_n() {
        let text = lifecycle_policy_json(10);
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        let rule = &v["rules"][0];
        assert_eq!(rule["selection"]["countType"], "imageCountMoreThan");
        assert_eq!(rule["selection"]["countNumber"], 10);
        assert_eq!(rule["action"]["type"], "expire");
    }

    #[test]
    fn push_hints_match_the_failure() {
        assert!(push_hint("unauthorized: authentication required").contains("token"));
        assert!(push_hint("server gave HTTP response to HTTPS client").contains("plain HTTP"));
    }
}
