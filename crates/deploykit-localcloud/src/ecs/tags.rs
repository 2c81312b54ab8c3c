//! ECS resource tags on Express services: `TagResource`, `UntagResource`,
//! `ListTagsForResource` and the `tags` of `CreateExpressGatewayService` (also shown by
//! `DescribeExpressGatewayService`), with ECS's rules: at most 50 tags per resource, keys of
//! 1-128 and values of 0-256 characters (letters, digits, spaces and `_ . : / = + - @`),
//! `aws:` reserved, the long service ARN (`service/<cluster>/<name>`) required
//! (`InvalidParameterException`); a deleted (INACTIVE) service has no tags left and is not
//! found (`ResourceNotFoundException`; `ClientException` from `ListTagsForResource`, whose
//! errors have no not-found).
//!
//! The edge sends a tag operation here only when its `resourceArn` names a service created
//! here ([`names_ours`]); tags on anything else are moto's.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{ApiError, Result, State};

/// Tag operations this emulator answers for its services.
pub(crate) const TAG_OPERATIONS: &[&str] = &["TagResource", "UntagResource", "ListTagsForResource"];

/// Tags per resource, as ECS allows.
pub(crate) const MAX_TAGS: usize = 50;

fn resource_arn(input: &Value) -> Option<&str> {
    input.get("resourceArn").and_then(Value::as_str)
}

/// `arn:aws:ecs:<region>:<account>:service/<name>`: the short form ECS refuses for tagging.
fn short_arn(long: &str) -> String {
    long.replacen(":service/default/", ":service/", 1)
}

/// Whether the tag operation's `resourceArn` names a service of ours (long or short form).
pub(super) fn names_ours(state: &State, body: &[u8]) -> bool {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    resource_arn(&v).is_some_and(|arn| {
        state
            .services
            .iter()
            .any(|s| s.arn == arn || short_arn(&s.arn) == arn)
    })
}

fn valid_chars(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c))
}

/// Checks and collects the tags a request sets (`tags: [{key, value}]`).
pub(super) fn checked(tags: Option<&Value>) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for t in tags.and_then(Value::as_array).into_iter().flatten() {
        let key = t.get("key").and_then(Value::as_str).unwrap_or_default();
        let value = t.get("value").and_then(Value::as_str).unwrap_or_default();
        if key.is_empty() || key.chars().count() > 128 || !valid_chars(key) {
            return Err(ApiError::invalid(format!(
                "Invalid tag key '{key}': keys are 1 to 128 letters, numbers, spaces and _ . : / = + - @"
            )));
        }
        if value.chars().count() > 256 || !valid_chars(value) {
            return Err(ApiError::invalid(format!(
                "Invalid tag value '{value}' for key '{key}': values are up to 256 letters, numbers, spaces and _ . : / = + - @"
            )));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(ApiError::invalid(format!(
                "Tag keys starting with 'aws:' are reserved for AWS use: {key}"
            )));
        }
        out.insert(key.to_string(), value.to_string());
    }
    if out.len() > MAX_TAGS {
        return Err(too_many());
    }
    Ok(out)
}

fn too_many() -> ApiError {
    ApiError::invalid(format!(
        "Too many tags: a resource can have at most {MAX_TAGS} tags"
    ))
}

/// The tags as ECS answers them.
pub(super) fn to_json(tags: &BTreeMap<String, String>) -> Value {
    Value::Array(
        tags.iter()
            .map(|(k, v)| json!({ "key": k, "value": v }))
            .collect(),
    )
}

/// Answers one tag operation.
pub(super) fn handle(op: &str, state: &mut State, input: &Value) -> Result<Value> {
    let arn = resource_arn(input)
        .ok_or_else(|| ApiError::invalid("resourceArn must not be null"))?
        .to_string();
    let add = match op {
        "TagResource" => {
            if input.get("tags").and_then(Value::as_array).is_none() {
                return Err(ApiError::invalid("tags must not be null"));
            }
            checked(input.get("tags"))?
        }
        _ => BTreeMap::new(),
    };
    if let Some(svc) = state
        .services
        .iter()
        .rev()
        .find(|s| short_arn(&s.arn) == arn && s.arn != arn)
    {
        return Err(ApiError::invalid(format!(
            "Long arn format must be used for tagging operations: use {}",
            svc.arn
        )));
    }
    let Some(svc) = state
        .services
        .iter_mut()
        .rev()
        .find(|s| s.arn == arn && s.status != "INACTIVE")
    else {
        return Err(match op {
            "ListTagsForResource" => {
                ApiError::client(format!("The specified resource was not found: {arn}"))
            }
            _ => ApiError::new(
                "ResourceNotFoundException",
                format!("The specified resource wasn't found: {arn}"),
            ),
        });
    };
    match op {
        "TagResource" => {
            let mut tags = svc.tags.clone();
            tags.extend(add);
            if tags.len() > MAX_TAGS {
                return Err(too_many());
            }
            svc.tags = tags;
            Ok(json!({}))
        }
        "UntagResource" => {
            let keys = input
                .get("tagKeys")
                .and_then(Value::as_array)
                .ok_or_else(|| ApiError::invalid("tagKeys must not be null"))?;
            for k in keys.iter().filter_map(Value::as_str) {
                svc.tags.remove(k);
            }
            Ok(json!({}))
        }
        _ => Ok(json!({ "tags": to_json(&svc.tags) })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(k: &str, v: &str) -> Value {
        json!({ "key": k, "value": v })
    }

    #[test]
    fn tag_rules_as_data() {
        let long = "k".repeat(129);
        let many: Vec<Value> = (0..51).map(|i| tag(&format!("k{i}"), "v")).collect();
        let cases: Vec<(Value, bool)> = vec![
            (json!([tag("deploykit:lock-owner", "root@host")]), true),
            (
                json!([tag("deploykit:lock-expires", "2026-12-02T06:00:00Z")]),
                true,
            ),
            (json!([tag("k", "")]), true),
            (json!([tag("", "v")]), false),
            (json!([tag(&long, "v")]), false),
            (json!([tag("k", &"v".repeat(257))]), false),
            (json!([tag("aws:x", "v")]), false),
            (json!([tag("AWS:x", "v")]), false),
            (json!([tag("k", "a;b")]), false),
            (Value::Array(many), false),
        ];
        for (tags, ok) in cases {
            let got = checked(Some(&tags));
            assert_eq!(got.is_ok(), ok, "{tags}");
            if let Err(e) = got {
                assert_eq!(e.code, "InvalidParameterException");
            }
        }
        assert_eq!(
            short_arn("arn:aws:ecs:us-east-1:123456789012:service/default/web"),
            "arn:aws:ecs:us-east-1:123456789012:service/web"
        );
    }
}
