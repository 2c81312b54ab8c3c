//! App Runner resource tags on services: `TagResource`, `UntagResource`,
//! `ListTagsForResource` and the `Tags` of `CreateService`, with the service's rules: at most
//! 50 tags, keys of 1-128 and values of 0-256 characters (letters, digits, spaces and
//! `_ . : / = + - @`), `aws:` keys reserved (`InvalidRequestException`), an unknown ARN
//! `ResourceNotFoundException`, a deleted service `InvalidStateException`.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::model::Tag;
use super::{AppRunner, Result, parse, require};

/// Tags per resource, as App Runner allows.
pub(crate) const MAX_TAGS: usize = 50;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagInput {
    #[serde(default)]
    resource_arn: String,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(default)]
    tag_keys: Vec<String>,
}

fn valid_chars(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c))
}

/// Checks and collects tags a request sets.
pub(crate) fn checked(tags: &[Tag]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for t in tags {
        let key = t.key.clone().unwrap_or_default();
        let value = t.value.clone().unwrap_or_default();
        if key.is_empty() || key.chars().count() > 128 || !valid_chars(&key) {
            return Err(ApiError::invalid_request(format!(
                "1 validation error detected: Value '{key}' at 'tags.member.key' failed to satisfy constraint: Member must have length between 1 and 128 and match the pattern ^(?!aws:)[\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]*$"
            )));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(ApiError::invalid_request(format!(
                "Tag keys starting with 'aws:' are reserved: {key}"
            )));
        }
        if value.chars().count() > 256 || !valid_chars(&value) {
            return Err(ApiError::invalid_request(format!(
                "1 validation error detected: Value '{value}' at 'tags.member.value' failed to satisfy constraint: Member must have length less than or equal to 256 and match the pattern ^[\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]*$"
            )));
        }
        out.insert(key, value);
    }
    if out.len() > MAX_TAGS {
        return Err(too_many());
    }
    Ok(out)
}

fn too_many() -> ApiError {
    ApiError::invalid_request(format!("A resource can have at most {MAX_TAGS} tags"))
}

impl AppRunner {
    /// The live service `arn` names, for a tag operation.
    fn tagged_index(state: &super::State, arn: &str) -> Result<usize> {
        require("resourceArn", arn)?;
        let i = state.service_index(arn)?;
        if state.services[i].is_deleted() {
            return Err(ApiError::invalid_state(format!("Service {arn} is deleted")));
        }
        Ok(i)
    }

    pub(super) fn list_tags_for_resource(&self, body: &Bytes) -> Result<Value> {
        let input: TagInput = parse(body)?;
        let state = self.lock();
        let i = Self::tagged_index(&state, &input.resource_arn)?;
        let tags: Vec<Value> = state.services[i]
            .tags
            .iter()
            .map(|(k, v)| json!({ "Key": k, "Value": v }))
            .collect();
        Ok(json!({ "Tags": tags }))
    }

    pub(super) fn tag_resource(&self, body: &Bytes) -> Result<Value> {
        let input: TagInput = parse(body)?;
        let add = checked(&input.tags)?;
        let mut state = self.lock();
        let i = Self::tagged_index(&state, &input.resource_arn)?;
        let mut tags = state.services[i].tags.clone();
        tags.extend(add);
        if tags.len() > MAX_TAGS {
            return Err(too_many());
        }
        state.services[i].tags = tags;
        Ok(json!({}))
    }

    pub(super) fn untag_resource(&self, body: &Bytes) -> Result<Value> {
        let input: TagInput = parse(body)?;
        let mut state = self.lock();
        let i = Self::tagged_index(&state, &input.resource_arn)?;
        for k in &input.tag_keys {
            state.services[i].tags.remove(k);
        }
        Ok(json!({}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(k: &str, v: &str) -> Tag {
        Tag {
            key: Some(k.into()),
            value: Some(v.into()),
        }
    }

    #[test]
    fn tag_rules() {
        let long = "k".repeat(129);
        let cases: Vec<(Vec<Tag>, bool)> = vec![
            (vec![tag("deploykit:lock-owner", "root@host")], true),
            (
                vec![tag("deploykit:lock-expires", "2026-12-02T06:00:00Z")],
                true,
            ),
            (vec![tag("", "v")], false),
            (vec![tag(&long, "v")], false),
            (vec![tag("aws:x", "v")], false),
            (vec![tag("k", "a;b")], false),
            ((0..51).map(|i| tag(&format!("k{i}"), "v")).collect(), false),
        ];
        for (tags, ok) in cases {
            assert_eq!(checked(&tags).is_ok(), ok, "{tags:?}");
        }
    }
}
