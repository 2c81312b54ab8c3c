//! ECS resource tags on an Express service (`ListTagsForResource`, `TagResource`,
//! `UntagResource`, and the `tags` of `CreateExpressGatewayService`): what the caller's remote
//! deploy lock is kept in, as on App Runner ([`crate::tags`]). ECS wants the service's long ARN
//! (`service/<cluster>/<name>`), which `CreateExpressGatewayService` and `DescribeServices`
//! answer. Errors classified by code.

use std::collections::BTreeMap;

use aws_sdk_ecs::types::Tag;

use super::{EcsExpress, ecs_err};
use crate::AppRunnerError;

/// `tags` as ECS's `Tag` list (sorted by key).
pub(crate) fn ecs_tags(tags: &BTreeMap<String, String>) -> Option<Vec<Tag>> {
    (!tags.is_empty()).then(|| {
        tags.iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect()
    })
}

impl EcsExpress {
    /// The tags of the service `arn` (`service` names it in errors).
    pub async fn list_tags(
        &self,
        service: &str,
        arn: &str,
    ) -> Result<BTreeMap<String, String>, AppRunnerError> {
        let out = self
            .client
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| ecs_err("ListTagsForResource", service, &e))?;
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

    /// Adds or replaces `tags` on the service `arn`.
    pub async fn tag(
        &self,
        service: &str,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), AppRunnerError> {
        self.client
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(ecs_tags(tags).unwrap_or_default()))
            .send()
            .await
            .map_err(|e| ecs_err("TagResource", service, &e))?;
        Ok(())
    }

    /// Removes the tags `keys` from the service `arn`.
    pub async fn untag(
        &self,
        service: &str,
        arn: &str,
        keys: &[String],
    ) -> Result<(), AppRunnerError> {
        self.client
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(keys.to_vec()))
            .send()
            .await
            .map_err(|e| ecs_err("UntagResource", service, &e))?;
        Ok(())
    }
}
