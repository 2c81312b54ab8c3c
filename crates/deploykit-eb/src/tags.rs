//! Tags on the environment (`ListTagsForResource`, `UpdateTagsForResource`, and the `Tags` of
//! CreateEnvironment): what the caller's remote deploy lock is kept in.

use std::collections::BTreeMap;

use aws_sdk_elasticbeanstalk::types::Tag;
use deploykit_aws::classify;

use super::Eb;
use crate::error::EbError;
use crate::model::EbTarget;

/// `tags` as the SDK's list, `None` when there are none.
pub(crate) fn sdk_tags(tags: &BTreeMap<String, String>) -> Option<Vec<Tag>> {
    (!tags.is_empty()).then(|| {
        tags.iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect()
    })
}

impl Eb {
    /// The environment's ARN, `None` when it does not exist (or is terminated).
    pub async fn environment_arn(&self, t: &EbTarget) -> Result<Option<String>, EbError> {
        let out = self
            .eb
            .describe_environments()
            .application_name(&t.application)
            .environment_names(&t.environment)
            .include_deleted(false)
            .send()
            .await
            .map_err(|e| EbError::aws("DescribeEnvironments", &t.environment, classify(&e)))?;
        Ok(out
            .environments()
            .iter()
            .find(|e| {
                e.environment_name() == Some(t.environment.as_str())
                    && e.status().map(|s| s.as_str()) != Some("Terminated")
            })
            .and_then(|e| e.environment_arn().map(str::to_string)))
    }

    /// The tags of the resource `arn`.
    pub async fn tags(&self, arn: &str) -> Result<BTreeMap<String, String>, EbError> {
        let out = self
            .eb
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| EbError::aws("ListTagsForResource", arn, classify(&e)))?;
        Ok(out
            .resource_tags()
            .iter()
            .filter_map(|t| {
                Some((
                    t.key()?.to_string(),
                    t.value().unwrap_or_default().to_string(),
                ))
            })
            .collect())
    }

    /// Adds (or replaces) `add` and removes `remove` on `arn` in one call.
    pub async fn update_tags(
        &self,
        arn: &str,
        add: &BTreeMap<String, String>,
        remove: &[String],
    ) -> Result<(), EbError> {
        self.eb
            .update_tags_for_resource()
            .resource_arn(arn)
            .set_tags_to_add(sdk_tags(add))
            .set_tags_to_remove((!remove.is_empty()).then(|| remove.to_vec()))
            .send()
            .await
            .map_err(|e| EbError::aws("UpdateTagsForResource", arn, classify(&e)))?;
        Ok(())
    }
}
