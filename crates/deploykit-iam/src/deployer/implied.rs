//! IAM actions no SDK call names but a call needs (docker push, EB reading the bundle): data,
//! next to the operations table ([`super::table`]).

use super::Scope;
use Scope::*;

/// Actions no SDK call names but a call needs, with why.
pub const IMPLIED: &[(&str, Scope, &str)] = &[
    // docker push of the image (through the Docker Engine, with the ECR token).
    (
        "ecr:BatchCheckLayerAvailability",
        EcrRepository,
        "docker push",
    ),
    ("ecr:InitiateLayerUpload", EcrRepository, "docker push"),
    ("ecr:UploadLayerPart", EcrRepository, "docker push"),
    ("ecr:CompleteLayerUpload", EcrRepository, "docker push"),
    ("ecr:PutImage", EcrRepository, "docker push"),
    (
        "ecr:BatchGetImage",
        EcrRepository,
        "docker push (existing layers and manifests)",
    ),
    // EB reads the source bundle with the caller's credentials when creating a version.
    (
        "s3:GetObject",
        BucketObjects,
        "CreateApplicationVersion reads the bundle",
    ),
];
