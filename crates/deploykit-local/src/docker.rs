//! The few Docker Engine questions the local cloud asks (bollard).

use bollard::Docker;

use crate::{LocalError, block_on, health};

fn connect() -> Result<Docker, LocalError> {
    Docker::connect_with_defaults().map_err(|e| LocalError::Docker {
        endpoint: health::docker_endpoint(),
        what: "connecting".into(),
        reason: e.to_string(),
    })
}

/// Whether the Docker Engine has `image`.
pub fn image_present(image: &str) -> Result<bool, LocalError> {
    let docker = connect()?;
    block_on(async {
        match docker.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(false),
            Err(e) => Err(LocalError::Docker {
                endpoint: health::docker_endpoint(),
                what: format!("looking for image {image}"),
                reason: e.to_string(),
            }),
        }
    })
}
