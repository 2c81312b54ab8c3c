//! The local stand-in for the app's base image.
//!
//! Route B's Dockerfile starts `FROM ${PYTHON_IMAGE}` (default `python:3.12-slim`). A machine
//! that cannot pull images (this project's CI, an offline laptop) builds a stand-in instead:
//! a Debian bookworm root filesystem made with `debootstrap` from Debian's own packages, with
//! Python 3 in a virtualenv at `/opt/python` (so `python`, `pip` and pip-installed scripts are
//! on `PATH` as in the official image), imported with `docker import` as [`LOCAL_PYTHON_IMAGE`].
//! deploy.toml's local target passes it as the `PYTHON_IMAGE` build argument. It is also the
//! platform image of the local cloud's real workloads (EB environments run their bundle on it).
//!
//! The stand-in trusts this machine's CA bundle (copied in), so `pip install` inside a build
//! works behind the same TLS-intercepting egress proxy the host uses.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use deploykit_report::{Event, Reporter};

use crate::parts::apt_install;
use crate::pg::{is_root, which};
use crate::{LocalError, Paths, docker, procs};

/// The image name deploy.toml's local target uses as `PYTHON_IMAGE`.
pub const LOCAL_PYTHON_IMAGE: &str = "deploykit-local/python:3.11-bookworm";

/// Debian release and packages of the stand-in.
const SUITE: &str = "bookworm";
const PACKAGES: &str = "python3,python3-venv,python3-pip,ca-certificates";
/// Where Debian packages come from (`DEPLOYKIT_DEBIAN_MIRROR` overrides).
const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";
/// This machine's CA bundle, copied into the image.
const HOST_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Bounds on the slow steps.
const DEBOOTSTRAP_BOUND: Duration = Duration::from_secs(15 * 60);
const STEP_BOUND: Duration = Duration::from_secs(5 * 60);

/// Whether `image` is a stand-in this module knows how to make.
pub fn is_local_base(image: &str) -> bool {
    image == LOCAL_PYTHON_IMAGE
}

/// Whether the Docker Engine has `image`.
pub fn image_present(image: &str) -> Result<bool, LocalError> {
    docker::image_present(image)
}

/// What [`ensure_python_base`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseImage {
    AlreadyThere,
    Made { seconds: u64 },
}

/// Makes [`LOCAL_PYTHON_IMAGE`] unless the engine already has it (or `force`).
pub fn ensure_python_base(
    paths: &Paths,
    force: bool,
    r: &dyn Reporter,
) -> Result<BaseImage, LocalError> {
    if !force && image_present(LOCAL_PYTHON_IMAGE)? {
        return Ok(BaseImage::AlreadyThere);
    }
    let start = Instant::now();
    let work = paths.root.join("base-image");
    fs::create_dir_all(&paths.logs)
        .map_err(|e| LocalError::io(format!("creating {}", paths.logs.display()), e))?;
    let log = paths.log_file("base-image");
    if !is_root() {
        return Err(LocalError::NeedsRoot {
            what: format!(
                "{LOCAL_PYTHON_IMAGE} is not in the Docker Engine; it is made with debootstrap and chroot"
            ),
            alternative: "make it once as root (sudo), or, where images can be pulled, remove \
                 `build_args.PYTHON_IMAGE` from [targets.local.apprunner] in deploy.toml to use \
                 python:3.12-slim"
                .into(),
        });
    }
    let debootstrap = find_debootstrap(&log, r)?;
    r.report(Event::info(format!(
        "making the local base image {LOCAL_PYTHON_IMAGE} from Debian {SUITE} packages (once; a few minutes); log: {}",
        log.display()
    )));
    let rootfs = work.join("rootfs");
    remove_dir(&rootfs)?;
    fs::create_dir_all(&work)
        .map_err(|e| LocalError::io(format!("creating {}", work.display()), e))?;
    let mirror =
        std::env::var("DEPLOYKIT_DEBIAN_MIRROR").unwrap_or_else(|_| DEFAULT_MIRROR.to_string());
    procs::run_logged(
        Command::new(&debootstrap)
            .arg("--variant=minbase")
            .arg(format!("--include={PACKAGES}"))
            .arg(SUITE)
            .arg(&rootfs)
            .arg(&mirror),
        &log,
        &format!("debootstrap {SUITE} from {mirror}"),
        DEBOOTSTRAP_BOUND,
        false,
        r,
    )?;
    // Trust what this machine trusts (an egress proxy's CA included): pip runs in the build.
    if Path::new(HOST_CA_BUNDLE).is_file() {
        let dest = rootfs.join(HOST_CA_BUNDLE.trim_start_matches('/'));
        fs::copy(HOST_CA_BUNDLE, &dest)
            .map_err(|e| LocalError::io(format!("copying {HOST_CA_BUNDLE}"), e))?;
    }
    procs::run_logged(
        Command::new("chroot")
            .arg(&rootfs)
            .args(["/usr/bin/python3", "-m", "venv", "/opt/python"]),
        &log,
        "python3 -m venv /opt/python (in the new root filesystem)",
        STEP_BOUND,
        false,
        r,
    )?;
    for junk in ["var/cache/apt/archives", "var/lib/apt/lists"] {
        let dir = rootfs.join(junk);
        if let Ok(entries) = fs::read_dir(&dir) {
            for e in entries.flatten() {
                if e.path().is_file() {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
    }
    let tar = work.join("rootfs.tar");
    procs::run_logged(
        Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .args(["--numeric-owner", "-cf"])
            .arg(&tar)
            .arg("."),
        &log,
        "tar of the root filesystem",
        STEP_BOUND,
        false,
        r,
    )?;
    let mut import = Command::new("docker");
    import.arg("import");
    for change in [
        "ENV PATH=/opt/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "ENV LANG=C.UTF-8",
        "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt",
        "LABEL org.opencontainers.image.description=\"deploykit local stand-in for python:3.12-slim (Debian bookworm, Python 3.11)\"",
        "CMD [\"python3\"]",
    ] {
        import.args(["--change", change]);
    }
    import.arg(&tar).arg(LOCAL_PYTHON_IMAGE);
    procs::run_logged(
        &mut import,
        &log,
        &format!("docker import {LOCAL_PYTHON_IMAGE}"),
        STEP_BOUND,
        false,
        r,
    )?;
    let _ = fs::remove_file(&tar);
    remove_dir(&rootfs)?;
    Ok(BaseImage::Made {
        seconds: start.elapsed().as_secs(),
    })
}

fn remove_dir(dir: &Path) -> Result<(), LocalError> {
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(LocalError::io(format!("removing {}", dir.display()), e)),
    }
}

fn find_debootstrap(log: &Path, r: &dyn Reporter) -> Result<std::path::PathBuf, LocalError> {
    let find = || {
        which("debootstrap").or_else(|| {
            let p = Path::new("/usr/sbin/debootstrap");
            p.is_file().then(|| p.to_path_buf())
        })
    };
    if let Some(p) = find() {
        return Ok(p);
    }
    apt_install(
        "debootstrap",
        "debootstrap is not installed; the local base image is made with it",
        "(elsewhere: your package manager's debootstrap, or make the image yourself and `docker tag` it as deploykit-local/python:3.11-bookworm)",
        log,
        r,
    )?;
    find().ok_or_else(|| LocalError::Failed {
        what: "debootstrap is still missing after apt-get install".into(),
        help: Some(format!("see {}", log.display())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_stand_in_is_ours_to_make() {
        assert!(is_local_base(LOCAL_PYTHON_IMAGE));
        assert!(!is_local_base("python:3.12-slim"));
        assert!(!is_local_base("deploykit-local/python:latest"));
    }
}
