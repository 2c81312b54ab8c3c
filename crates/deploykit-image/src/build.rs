//! Executing a build: the context tar streamed from a blocking thread into the daemon's `/build`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::BuildImageOptions;
use bytes::Bytes;
use deploykit_report::{Event, Level, Reporter, StepTimer};
use futures_util::StreamExt;

use crate::{ContextPlan, ImageError, write_context_tar};

/// Default bound on one image build.
pub const DEFAULT_BUILD_TIMEOUT: Duration = Duration::from_secs(30 * 60);

const CHUNK: usize = 64 * 1024;
const OUTPUT_TAIL: usize = 40;

/// What to build: the tags, args and labels. The context comes from a [`ContextPlan`].
#[derive(Debug, Clone)]
pub struct BuildInput {
    /// Local tags for the image (`name:tag`), at least one.
    pub tags: Vec<String>,
    pub build_args: BTreeMap<String, String>,
    /// Extra labels; the content hash and git revision are added by [`build`].
    pub labels: BTreeMap<String, String>,
    /// SHA-256 of the context tar ([`crate::context_hash`]), labelled on the image.
    pub content_hash: String,
    /// The git revision the image was built from, when known.
    pub git_sha: Option<String>,
    /// Target platform, e.g. `linux/amd64` ([`crate::DEFAULT_PLATFORM`]).
    pub platform: String,
    pub no_cache: bool,
    /// Bound on the whole build.
    pub timeout: Duration,
}

/// A built image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BuiltImage {
    /// `sha256:...` image id.
    pub id: String,
    pub tags: Vec<String>,
    pub content_hash: String,
    /// Build steps run, and how many of them came from the daemon's cache.
    pub steps: usize,
    pub cached_steps: usize,
    /// Bytes of build context sent to the daemon.
    pub context_bytes: u64,
}

/// Label keys put on every image.
pub const LABEL_CONTENT_HASH: &str = "dev.deploykit.content-hash";
pub const LABEL_REVISION: &str = "org.opencontainers.image.revision";

/// Connects to the Docker Engine named by `DOCKER_HOST`, or the default local socket, and
/// negotiates the API version down to what the daemon speaks.
pub async fn connect() -> Result<Docker, ImageError> {
    let endpoint =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".to_string());
    let docker = Docker::connect_with_defaults().map_err(|source| ImageError::Connect {
        endpoint: endpoint.clone(),
        source,
    })?;
    docker
        .negotiate_version()
        .await
        .map_err(|source| ImageError::Connect { endpoint, source })
}

/// The daemon's `os/arch` and API version.
pub async fn daemon_platform(docker: &Docker) -> Result<(String, String), ImageError> {
    let v = docker
        .version()
        .await
        .map_err(|source| ImageError::Daemon {
            operation: "GET /version",
            source,
        })?;
    let os = v.os.unwrap_or_else(|| "linux".into());
    let arch = v.arch.unwrap_or_else(|| "unknown".into());
    Ok((format!("{os}/{arch}"), v.api_version.unwrap_or_default()))
}

fn api_at_least(api: &str, major: u64, minor: u64) -> bool {
    let mut it = api.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    let (a, b) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
    (a, b) >= (major, minor)
}

fn emulation_hint(platform: &str, daemon: &str) -> String {
    if platform.is_empty() || platform == daemon {
        String::new()
    } else {
        format!(
            "\nThe daemon runs {daemon} and builds {platform} only through emulation: install QEMU binfmt handlers \
             (`docker run --privileged --rm tonistiigi/binfmt --install all`) or build on a {platform} machine (CI)."
        )
    }
}

/// Sends the tar through a bounded channel: the blocking writer waits when the daemon is slow.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, io::Error>>,
    buf: Vec<u8>,
    sent: Arc<AtomicU64>,
}

impl ChannelWriter {
    fn send_buf(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the Docker Engine stopped reading the build context",
            )
        })
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send_buf()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.send_buf()
    }
}

/// Builds `plan` into an image. Output lines are relayed as `Event::Remote` (step `build`);
/// a failing step is returned with the tail of its output.
pub async fn build(
    docker: &Docker,
    plan: &ContextPlan,
    input: &BuildInput,
    reporter: &dyn Reporter,
) -> Result<BuiltImage, ImageError> {
    let (daemon, api) = daemon_platform(docker).await?;
    if !input.platform.is_empty() {
        let want_os = input.platform.split('/').next().unwrap_or("");
        let have_os = daemon.split('/').next().unwrap_or("").to_string();
        if want_os != have_os {
            return Err(ImageError::Platform {
                platform: input.platform.clone(),
                daemon,
                api,
                reason: format!("the daemon runs {have_os} containers"),
                hint: "Switch Docker to Linux containers.".into(),
            });
        }
        if !api_at_least(&api, 1, 32) {
            return Err(ImageError::Platform {
                platform: input.platform.clone(),
                daemon,
                api,
                reason: "selecting a build platform needs Docker Engine API 1.32 or newer".into(),
                hint: "Upgrade Docker.".into(),
            });
        }
        if input.platform != daemon {
            reporter.report(Event::warn(format!(
                "building {} on a {daemon} daemon: this needs QEMU emulation and runs slower",
                input.platform
            )));
        }
    }

    let timer = StepTimer::start(
        reporter,
        "build",
        format!(
            "Building {} ({} files, platform {})",
            input.tags.join(", "),
            plan.file_count(),
            if input.platform.is_empty() {
                &daemon
            } else {
                &input.platform
            }
        ),
    );

    let mut labels: HashMap<String, String> = input.labels.clone().into_iter().collect();
    labels.insert(LABEL_CONTENT_HASH.into(), input.content_hash.clone());
    if let Some(sha) = &input.git_sha {
        labels.insert(LABEL_REVISION.into(), sha.clone());
    }
    let mut tags = input.tags.iter();
    let first = tags.next().cloned();
    // The classic /build API takes repeated `t`; bollard takes one, the rest are tagged after.
    let options = BuildImageOptions {
        dockerfile: plan.dockerfile_name().to_string(),
        t: first,
        rm: true,
        forcerm: true,
        nocache: input.no_cache,
        buildargs: Some(input.build_args.clone().into_iter().collect()),
        labels: Some(labels),
        platform: input.platform.clone(),
        ..Default::default()
    };

    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Bytes, io::Error>>(16);
    let sent = Arc::new(AtomicU64::new(0));
    let writer_plan = plan.clone();
    let writer_sent = sent.clone();
    let writer = tokio::task::spawn_blocking(move || {
        let w = ChannelWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
            sent: writer_sent,
        };
        let res = write_context_tar(&writer_plan, w).and_then(|mut w| {
            w.flush().map_err(|source| ImageError::Context {
                path: writer_plan.root.clone(),
                source,
            })
        });
        if let Err(e) = &res {
            let _ = tx.blocking_send(Err(io::Error::other(e.to_string())));
        }
        res.map(|_| ())
    });
    let body = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let mut stream = docker.build_image(options, None, Some(bollard::body_try_stream(body)));

    let mut tail: VecDeque<String> = VecDeque::with_capacity(OUTPUT_TAIL);
    let mut step = String::from("the start of the build");
    let mut steps = 0usize;
    let mut cached = 0usize;
    let mut id: Option<String> = None;
    let hint = emulation_hint(&input.platform, &daemon);

    let run = async {
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(aux_id) = info.aux.and_then(|aux| aux.id) {
                        id = Some(aux_id);
                    }
                    let text = info.stream.or(info.status).unwrap_or_default();
                    for line in text.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
                        if line.starts_with("Step ") {
                            steps += 1;
                            step = line.to_string();
                        }
                        if line.contains("---> Using cache") {
                            cached += 1;
                        }
                        if tail.len() == OUTPUT_TAIL {
                            tail.pop_front();
                        }
                        tail.push_back(line.to_string());
                        reporter.report(Event::Remote {
                            step: "build".into(),
                            source: "docker".into(),
                            level: Level::Info,
                            message: line.to_string(),
                        });
                    }
                }
                Err(bollard::errors::Error::DockerStreamError { error }) => {
                    reporter.report(Event::Remote {
                        step: "build".into(),
                        source: "docker".into(),
                        level: Level::Error,
                        message: error.clone(),
                    });
                    return Err(ImageError::StepFailed {
                        step: step.clone(),
                        message: error,
                        output: tail.iter().cloned().collect::<Vec<_>>().join("\n"),
                        hint: hint.clone(),
                    });
                }
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code,
                    message,
                }) => {
                    return Err(ImageError::StepFailed {
                        step: step.clone(),
                        message: format!("the daemon answered {status_code}: {message}"),
                        output: tail.iter().cloned().collect::<Vec<_>>().join("\n"),
                        hint: hint.clone(),
                    });
                }
                Err(source) => {
                    return Err(ImageError::Daemon {
                        operation: "POST /build",
                        source,
                    });
                }
            }
        }
        Ok(())
    };
    let outcome = tokio::time::timeout(input.timeout, run).await;
    drop(stream);
    let writer_res = writer.await;
    match outcome {
        Err(_) => {
            return Err(ImageError::Timeout {
                timeout: input.timeout,
            });
        }
        Ok(Err(e)) => {
            // A context error explains a build failure better than the daemon's view of it.
            if let Ok(Err(ctx @ ImageError::Context { .. })) = writer_res {
                return Err(ctx);
            }
            return Err(e);
        }
        Ok(Ok(())) => {}
    }
    if let Ok(Err(e)) = writer_res {
        return Err(e);
    }
    let id = id.ok_or_else(|| ImageError::NoImageId {
        output: tail.iter().cloned().collect::<Vec<_>>().join("\n"),
    })?;
    for extra in tags {
        let (repo, tag) = split_tag(extra);
        docker
            .tag_image(
                &id,
                Some(bollard::query_parameters::TagImageOptions {
                    repo: Some(repo.into()),
                    tag: Some(tag.into()),
                }),
            )
            .await
            .map_err(|source| ImageError::Daemon {
                operation: "POST /images/{id}/tag",
                source,
            })?;
    }
    let context_bytes = sent.load(Ordering::Relaxed);
    timer.finish(
        reporter,
        format!(
            "built {} ({steps} steps, {cached} cached, context {} KiB)",
            short(&id),
            context_bytes / 1024
        ),
    );
    Ok(BuiltImage {
        id,
        tags: input.tags.clone(),
        content_hash: input.content_hash.clone(),
        steps,
        cached_steps: cached,
        context_bytes,
    })
}

/// `repo:tag` split at the last `:` after the last `/` (registry ports have colons too).
pub(crate) fn split_tag(image: &str) -> (&str, &str) {
    let slash = image.rfind('/').map(|i| i + 1).unwrap_or(0);
    match image[slash..].rfind(':') {
        Some(i) => (&image[..slash + i], &image[slash + i + 1..]),
        None => (image, "latest"),
    }
}

fn short(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}

/// Every path in every layer of `image`, layer by layer (bottom first). For verification and
/// tests: reads `docker save` output (the image's own tar) in memory, so keep images small.
pub async fn export_image_files(
    docker: &Docker,
    image: &str,
) -> Result<Vec<Vec<String>>, ImageError> {
    let mut stream = docker.export_image(image);
    let mut raw = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|source| ImageError::Daemon {
            operation: "GET /images/{name}/get",
            source,
        })?;
        raw.extend_from_slice(&chunk);
    }
    let exp = |source: io::Error| ImageError::Export {
        image: image.to_string(),
        source,
    };
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    let mut outer = tar::Archive::new(raw.as_slice());
    for entry in outer.entries().map_err(exp)? {
        let mut entry = entry.map_err(exp)?;
        let name = entry.path().map_err(exp)?.to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).map_err(exp)?;
        files.insert(name, data);
    }
    let manifest = files.get("manifest.json").ok_or_else(|| {
        exp(io::Error::new(
            io::ErrorKind::NotFound,
            "manifest.json missing from the export",
        ))
    })?;
    let manifest: serde_json::Value =
        serde_json::from_slice(manifest).map_err(|e| exp(io::Error::other(e)))?;
    let layers = manifest[0]["Layers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::new();
    for layer in layers {
        let name = layer.as_str().unwrap_or_default();
        let data = files.get(name).ok_or_else(|| {
            exp(io::Error::new(
                io::ErrorKind::NotFound,
                format!("layer {name} missing from the export"),
            ))
        })?;
        let mut paths = Vec::new();
        let mut inner = tar::Archive::new(data.as_slice());
        for entry in inner.entries().map_err(exp)? {
            let entry = entry.map_err(exp)?;
            paths.push(entry.path().map_err(exp)?.to_string_lossy().into_owned());
        }
        out.push(paths);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_tag_handles_registry_ports() {
        for (input, repo, tag) in [
            ("app:1", "app", "1"),
            ("app", "app", "latest"),
            ("127.0.0.1:5000/app:abc", "127.0.0.1:5000/app", "abc"),
            ("127.0.0.1:5000/app", "127.0.0.1:5000/app", "latest"),
        ] {
            assert_eq!(split_tag(input), (repo, tag), "{input}");
        }
    }

    #[test]
    fn api_versions_compare_numerically() {
        assert!(api_at_least("1.41", 1, 32));
        assert!(api_at_least("1.32", 1, 32));
        assert!(!api_at_least("1.9", 1, 32));
        assert!(!api_at_least("", 1, 32));
    }

    #[test]
    fn emulation_hint_only_when_platforms_differ() {
        assert_eq!(emulation_hint("linux/amd64", "linux/amd64"), "");
        assert!(emulation_hint("linux/amd64", "linux/arm64").contains("binfmt"));
    }
}
