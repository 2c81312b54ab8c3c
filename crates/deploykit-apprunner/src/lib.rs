//! App Runner services behind a ContainerPlatform seam: create, update, operations, rollback states.
