//! Whether the edge `up` starts runs real workloads (containers) or simulates them.

use deploykit_report::{Event, Reporter};

use crate::base_image::{self, BaseImage, LOCAL_PYTHON_IMAGE};
use crate::edge::WorkloadsSpec;
use crate::{Paths, UpOptions, health};

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
            e.help().map(|h| format!(" ({h})")).unwrap_or_default()
        )),
    }
}
