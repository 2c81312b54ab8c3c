//! [`Diagnostic`] for [`ImageError`]: its class and plain advice.

use deploykit_report::{Category, Diagnostic};

use crate::ImageError;

impl Diagnostic for ImageError {
    fn category(&self) -> Category {
        match self {
            ImageError::Dockerignore { .. }
            | ImageError::SecretFiles { .. }
            | ImageError::DockerfileExists { .. }
            | ImageError::StepFailed { .. } => Category::Input,
            ImageError::Timeout { .. } => Category::Timeout,
            ImageError::Connect { .. }
            | ImageError::Context { .. }
            | ImageError::Platform { .. }
            | ImageError::Daemon { .. }
            | ImageError::NoImageId { .. }
            | ImageError::Export { .. } => Category::Internal,
        }
    }

    fn help(&self) -> Option<String> {
        let advice = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        match self {
            ImageError::Connect { .. } => advice(
                "start Docker (or fix DOCKER_HOST) and retry; `docker version` must show a Server section",
            ),
            ImageError::Context { .. } => {
                advice("check the file's permissions, or exclude it in .dockerignore")
            }
            ImageError::Dockerignore { .. } => advice(
                "fix the line (Docker pattern syntax: *, ?, **, [..], a leading ! re-includes)",
            ),
            ImageError::SecretFiles { suggestion, .. } => Some(format!(
                "add them to .dockerignore (they stay on disk and never reach the daemon), e.g.:\n{suggestion}"
            )),
            ImageError::DockerfileExists { .. } => advice(
                "keep the existing Dockerfile (it is used as it is), or delete it to write the seed again",
            ),
            ImageError::Platform { hint, .. } | ImageError::StepFailed { hint, .. } => advice(hint),
            ImageError::Daemon { .. } => {
                advice("check the Docker Engine (`docker info`, disk space) and retry")
            }
            ImageError::Timeout { .. } => {
                advice("raise the build timeout, or check the daemon (`docker ps`, disk space)")
            }
            ImageError::NoImageId { .. } | ImageError::Export { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;

    #[test]
    fn category_and_help_per_variant() {
        // (error, category, words the help must contain; None: no help)
        let cases: Vec<(ImageError, Category, Option<&str>)> = vec![
            (
                ImageError::Context {
                    path: PathBuf::from("app/x"),
                    source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
                },
                Category::Internal,
                Some("permissions"),
            ),
            (
                ImageError::Dockerignore {
                    path: PathBuf::from("/app/.dockerignore"),
                    line: 2,
                    message: "bad range".into(),
                },
                Category::Input,
                Some("pattern syntax"),
            ),
            (
                ImageError::SecretFiles {
                    dir: PathBuf::from("/app"),
                    files: vec![".env".into()],
                    suggestion: "  .env".into(),
                },
                Category::Input,
                Some(".dockerignore (they stay on disk and never reach the daemon), e.g.:\n  .env"),
            ),
            (
                ImageError::DockerfileExists {
                    path: PathBuf::from("/app/Dockerfile"),
                },
                Category::Input,
                Some("delete it"),
            ),
            (
                ImageError::Platform {
                    platform: "windows/amd64".into(),
                    daemon: "linux/amd64".into(),
                    api: "1.45".into(),
                    reason: "the daemon runs linux containers".into(),
                    hint: "Switch Docker to Linux containers.".into(),
                },
                Category::Internal,
                Some("Switch Docker to Linux containers."),
            ),
            (
                ImageError::StepFailed {
                    step: "Step 3/4 : COPY missing.txt .".into(),
                    message: "no such file".into(),
                    output: "Step 2/4".into(),
                    hint: String::new(),
                },
                Category::Input,
                None,
            ),
            (
                ImageError::StepFailed {
                    step: "Step 3/4 : RUN pip install".into(),
                    message: "exec format error".into(),
                    output: String::new(),
                    hint: "\nThe daemon runs linux/arm64 and builds linux/amd64 only through emulation"
                        .into(),
                },
                Category::Input,
                Some("only through emulation"),
            ),
            (
                ImageError::Timeout {
                    timeout: Duration::from_secs(600),
                },
                Category::Timeout,
                Some("raise the build timeout"),
            ),
            (
                ImageError::NoImageId {
                    output: "done".into(),
                },
                Category::Internal,
                None,
            ),
        ];
        for (err, category, words) in &cases {
            assert_eq!(err.category(), *category, "{err:?}");
            let help = err.help();
            assert_eq!(help.is_some(), words.is_some(), "{err:?}: {help:?}");
            if let (Some(h), Some(w)) = (&help, words) {
                assert!(h.contains(w), "{err:?}: help {h:?} lacks {w:?}");
                assert!(!h.starts_with('\n'), "{h:?}");
            }
            let shown = err.to_string();
            assert!(
                !shown.contains("--write-dockerfile") && !shown.contains("xtask"),
                "{shown}"
            );
            if let Some(h) = &help {
                assert!(
                    !shown.contains(h.as_str()),
                    "advice is not repeated in Display: {shown}"
                );
            }
        }
    }
}
