//! Elastic Beanstalk resource tags on environments: `ListTagsForResource`,
//! `UpdateTagsForResource` and the `Tags` of `CreateEnvironment`, with the service's limits
//! and errors: at most 50 tags per resource, keys of 1-128 and values of 0-256 characters
//! (letters, digits, spaces and `_ . : / = + - @`), `aws:` and `elasticbeanstalk:` keys
//! reserved (EB sets `elasticbeanstalk:environment-name` and `-id` itself), an unknown ARN
//! is `ResourceNotFoundException`, too many tags `TooManyTagsException`.

use std::collections::BTreeMap;

use super::params::{ApiError, ApiResult, Params};
use super::state::{EnvStatus, Region};
use super::{Call, Eb};
use crate::xml::Xml;

/// Tags per resource, as Elastic Beanstalk allows.
pub(crate) const MAX_TAGS: usize = 50;

fn valid_chars(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c))
}

fn reserved(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.starts_with("aws:") || k.starts_with("elasticbeanstalk:")
}

/// Checks one tag a caller sets.
pub(crate) fn check_tag(key: &str, value: &str) -> ApiResult<()> {
    if key.is_empty() || key.chars().count() > 128 || !valid_chars(key) {
        return Err(ApiError::validation(
            key,
            "tags.member.key",
            "Member must have length between 1 and 128 and use letters, digits, spaces and _ . : / = + - @",
        ));
    }
    if value.chars().count() > 256 || !valid_chars(value) {
        return Err(ApiError::validation(
            value,
            "tags.member.value",
            "Member must have length less than or equal to 256 and use letters, digits, spaces and _ . : / = + - @",
        ));
    }
    if reserved(key) {
        return Err(ApiError::invalid(format!(
            "Tag keys starting with 'aws:' or 'elasticbeanstalk:' are reserved: {key}"
        )));
    }
    Ok(())
}

/// The `Tags` (or `TagsToAdd`) structures of a request, checked.
pub(crate) fn parse_tags(p: &Params, prefix: &str) -> ApiResult<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for m in p.structs(prefix) {
        let key = m.get("Key").cloned().unwrap_or_default();
        let value = m.get("Value").cloned().unwrap_or_default();
        check_tag(&key, &value)?;
        out.insert(key, value);
    }
    if out.len() > MAX_TAGS {
        return Err(too_many());
    }
    Ok(out)
}

fn too_many() -> ApiError {
    ApiError::new(
        "TooManyTagsException",
        format!("The quota for the number of tags, {MAX_TAGS}, was exceeded for this resource."),
    )
}

/// The live environment `arn` names in `r`.
fn env_of(r: &Region, region: &str, account: &str, arn: &str) -> ApiResult<usize> {
    let not_found = || {
        ApiError::new(
            "ResourceNotFoundException",
            format!("Resource {arn} does not exist."),
        )
    };
    let prefix = format!("arn:aws:elasticbeanstalk:{region}:{account}:");
    let rest = arn.strip_prefix(&prefix).ok_or_else(not_found)?;
    let Some(path) = rest.strip_prefix("environment/") else {
        return Err(ApiError::new(
            "ResourceTypeNotSupportedException",
            format!("The local cloud tags environments only, not {arn}."),
        ));
    };
    let (app, name) = path.split_once('/').ok_or_else(not_found)?;
    r.envs
        .iter()
        .position(|e| e.app == app && e.name == name && e.status != EnvStatus::Terminated)
        .ok_or_else(not_found)
}

impl Eb {
    pub(super) fn list_tags_for_resource(&self, c: &Call<'_>) -> ApiResult<Option<String>> {
        let arn = c.p.req("ResourceArn")?.to_string();
        let account = self.account().to_string();
        self.with_region(c.region, |r| {
            let i = env_of(r, c.region, &account, &arn)?;
            let env = &r.envs[i];
            let mut all = env.tags.clone();
            all.insert("elasticbeanstalk:environment-name".into(), env.name.clone());
            all.insert("elasticbeanstalk:environment-id".into(), env.id.clone());
            let mut x = Xml::new();
            x.leaf("ResourceArn", &arn).open("ResourceTags");
            for (k, v) in &all {
                x.open("member")
                    .leaf("Key", k)
                    .leaf("Value", v)
                    .close("member");
            }
            x.close("ResourceTags");
            Ok(Some(x.finish()))
        })
    }

    pub(super) fn update_tags_for_resource(&self, c: &Call<'_>) -> ApiResult<Option<String>> {
        let arn = c.p.req("ResourceArn")?.to_string();
        let add = parse_tags(&c.p, "TagsToAdd")?;
        let remove = c.p.list("TagsToRemove");
        if add.is_empty() && remove.is_empty() {
            return Err(ApiError::missing("TagsToAdd or TagsToRemove"));
        }
        if let Some(k) = remove.iter().find(|k| reserved(k)) {
            return Err(ApiError::invalid(format!(
                "Tag keys starting with 'aws:' or 'elasticbeanstalk:' are reserved: {k}"
            )));
        }
        let account = self.account().to_string();
        self.with_region(c.region, |r| {
            let i = env_of(r, c.region, &account, &arn)?;
            let mut tags = r.envs[i].tags.clone();
            for k in &remove {
                tags.remove(k);
            }
            tags.extend(add);
            if tags.len() > MAX_TAGS {
                return Err(too_many());
            }
            r.envs[i].tags = tags;
            Ok(None)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_limits() {
        let long = "k".repeat(129);
        let cases: &[(&str, &str, bool)] = &[
            ("deploykit:lock-owner", "root@host", true),
            ("deploykit:lock-expires", "2026-12-02T06:00:00Z", true),
            ("", "v", false),
            (long.as_str(), "v", false),
            ("k", &"v".repeat(257), false),
            ("k;x", "v", false),
            ("k", "a;b", false),
            ("aws:x", "v", false),
            ("elasticbeanstalk:environment-name", "v", false),
        ];
        for (k, v, ok) in cases {
            assert_eq!(check_tag(k, v).is_ok(), *ok, "{k:?} {v:?}");
        }
    }
}
