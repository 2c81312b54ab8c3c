//! Whether the edge `up` starts runs real workloads (containers) or simulates them.

use deploykit_localcloud::workload::{WorkloadConfig, Workloads};
use deploykit_report::{Event, Reporter};
use serde::Serialize;

use crate::base_image::{self, BaseImage, LOCAL_PYTHON_IMAGE};
use crate::edge::WorkloadsSpec;
use crate::{LocalError, LocalState, Paths, UpOptions, block_on, health};

/// Per-container limits of real workloads.
pub const DEFAULT_CPUS: f64 = 1.0;
pub const DEFAULT_MEMORY_MB: u64 = 1024;

/// The value of the `deploykit.localcloud.instance` label on this local cloud's containers.
pub fn instance_label(paths: &Paths) -> String {
    paths.root.display().to_string()
}

/// Real workloads when wanted, the Docker Engine answers and the platform image is there (made
/// here when missing and `opts.make_base_image`); otherwise `None` and a warning that says why.
pub(crate) fn decide(paths: &Paths, opts: &UpOptions, r: &dyn Reporter) -> Option<WorkloadsSpec> {
    match why_not(paths, opts, r) {
        None => {
            r.report(Event::info(format!(
                "workloads are real: EB environments and App Runner services run as containers on {LOCAL_PYTHON_IMAGE} (Docker Engine at {})",
                health::docker_endpoint()
            )));
            Some(WorkloadsSpec {
                docker_host: None,
                state_dir: paths.root.join("workloads"),
                platform_image: LOCAL_PYTHON_IMAGE.to_string(),
                cpus: DEFAULT_CPUS,
                memory_mb: DEFAULT_MEMORY_MB,
                instance_label: instance_label(paths),
            })
        }
        Some(why) => {
            r.report(Event::warn(format!("workloads are simulated: {why}")));
            None
        }
    }
}

fn why_not(paths: &Paths, opts: &UpOptions, r: &dyn Reporter) -> Option<String> {
    if !opts.real_workloads {
        return Some("real workloads were turned off for this start".into());
    }
    if let Err(e) = health::docker_ping() {
        return Some(format!(
            "the Docker Engine does not answer ({e}); start it (or set DOCKER_HOST) and restart the local cloud's edge"
        ));
    }
    match base_image::image_present(LOCAL_PYTHON_IMAGE) {
        Ok(true) => return None,
        Ok(false) => {}
        Err(e) => return Some(e.to_string()),
    }
    if !opts.make_base_image {
        return Some(format!(
            "the platform image {LOCAL_PYTHON_IMAGE} is missing; make it (the base image maker, as root) and restart the local cloud's edge"
        ));
    }
    match base_image::ensure_python_base(paths, false, r) {
        Ok(BaseImage::AlreadyThere) | Ok(BaseImage::Made { .. }) => None,
        Err(e) => Some(format!(
            "the platform image {LOCAL_PYTHON_IMAGE} is missing and could not be made: {e}{}",
            e.advice().map(|h| format!(" ({h})")).unwrap_or_default()
        )),
    }
}

/// One workload container of this local cloud, for status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkloadContainer {
    pub id: String,
    pub name: String,
    /// `eb` or `apprunner`.
    pub kind: String,
    /// The EB environment or App Runner service.
    pub owner: String,
    pub image: String,
    /// Docker's state: `running`, `exited`, ...
    pub state: String,
}

/// The label our containers carry: the running edge's, else the one `up` would give them.
fn label_for(paths: &Paths, state: Option<&LocalState>) -> String {
    state
        .and_then(|s| s.workloads.as_ref())
        .map(|w| w.instance_label.clone())
        .unwrap_or_else(|| instance_label(paths))
}

fn runtime_for(paths: &Paths, label: String) -> WorkloadConfig {
    WorkloadConfig::new(paths.root.join("workloads"), label)
}

/// This local cloud's workload containers (by its instance label), running or not.
pub fn list(
    paths: &Paths,
    state: Option<&LocalState>,
) -> Result<Vec<WorkloadContainer>, LocalError> {
    let label = label_for(paths, state);
    let cfg = runtime_for(paths, label.clone());
    block_on(async move {
        let w = Workloads::connect(cfg).await?;
        w.list().await
    })
    .map(|all| {
        all.into_iter()
            .map(|c| WorkloadContainer {
                id: c.id,
                name: c.name,
                kind: c.kind,
                owner: c.owner,
                image: c.image,
                state: c.state,
            })
            .collect()
    })
    .map_err(|source| LocalError::Workloads {
        what: format!("listing the workload containers labelled {label}"),
        source,
    })
}

/// Stops and removes exactly this local cloud's workload containers; how many there were.
pub fn remove_all(paths: &Paths, state: Option<&LocalState>) -> Result<usize, LocalError> {
    let label = label_for(paths, state);
    let cfg = runtime_for(paths, label.clone());
    block_on(async move {
        let w = Workloads::connect(cfg).await?;
        w.remove_all().await
    })
    .map_err(|source| LocalError::Workloads {
        what: format!("removing the workload containers labelled {label}"),
        source,
    })
}
