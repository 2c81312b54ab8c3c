//! App Runner resource tags (`ListTagsForResource`, `TagResource`, `UntagResource`): what
//! the caller's remote deploy lock is kept in. Errors classified by code.

use std::collections::BTreeMap;

use aws_sdk_apprunner::types::Tag;

use crate::AppRunnerError;
use crate::error::aws_err;

/// The tags of the resource `arn` (a service).
pub async fn list_tags(
    client: &aws_sdk_apprunner::Client,
    service: &str,
    arn: &str,
) -> Result<BTreeMap<String, String>, AppRunnerError> {
    let out = client
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|e| aws_err("ListTagsForResource", service, &e))?;
    Ok(out
        .tags()
        .iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect())
}

/// Adds or replaces `tags` on `arn`.
pub async fn tag(
    client: &aws_sdk_apprunner::Client,
    service: &str,
    arn: &str,
    tags: &BTreeMap<String, String>,
) -> Result<(), AppRunnerError> {
    client
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .send()
        .await
        .map_err(|e| aws_err("TagResource", service, &e))?;
    Ok(())
}

/// Removes the tags `keys` from `arn`.
pub async fn untag(
    client: &aws_sdk_apprunner::Client,
    service: &str,
    arn: &str,
    keys: &[String],
) -> Result<(), AppRunnerError> {
    client
        .untag_resource()
        .resource_arn(arn)
        .set_tag_keys(Some(keys.to_vec()))
        .send()
        .await
        .map_err(|e| aws_err("UntagResource", service, &e))?;
    Ok(())
}
