//! Docker image builds through the Docker Engine API (bollard), context filtered by .dockerignore.
