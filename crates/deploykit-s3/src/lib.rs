//! S3 uploads without ACLs, skipped when the same SHA-256 is present, multipart above a threshold.
