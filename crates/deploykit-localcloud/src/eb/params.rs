//! Query-protocol request parameters (`Action=...&OptionSettings.member.1.Namespace=...`) and
//! the wire errors the service answers with.

use std::collections::{BTreeMap, HashMap};

use http::StatusCode;
use time::OffsetDateTime;

/// An Elastic Beanstalk error as the query protocol sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterValue", message)
    }

    pub fn combination(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterCombination", message)
    }

    pub fn missing(name: &str) -> Self {
        Self::new(
            "MissingParameter",
            format!("The request must contain the parameter {name}"),
        )
    }

    pub fn validation(value: &str, field: &str, constraint: &str) -> Self {
        Self::new(
            "ValidationError",
            format!(
                "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}"
            ),
        )
    }

    pub fn service(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "InternalFailure",
            message: message.into(),
        }
    }

    /// `Sender` for 4xx, `Receiver` for 5xx.
    pub fn kind(&self) -> &'static str {
        if self.status.is_server_error() {
            "Receiver"
        } else {
            "Sender"
        }
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// The decoded form parameters of one request.
#[derive(Debug, Default)]
pub(crate) struct Params {
    map: HashMap<String, String>,
}

impl Params {
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Self {
            map: pairs.into_iter().collect(),
        }
    }

    /// A parameter; empty strings count as absent.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.map
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn req(&self, key: &str) -> ApiResult<&str> {
        self.get(key).ok_or_else(|| ApiError::missing(key))
    }

    pub fn bool(&self, key: &str) -> ApiResult<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(ApiError::invalid(format!(
                "Value {v} for parameter {key} is invalid. Must be true or false."
            ))),
        }
    }

    pub fn int(&self, key: &str) -> ApiResult<Option<i64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                ApiError::invalid(format!("Value {v} for parameter {key} is not an integer."))
            }),
        }
    }

    pub fn time(&self, key: &str) -> ApiResult<Option<OffsetDateTime>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
                .map(Some)
                .map_err(|_| {
                    ApiError::invalid(format!(
                        "Value {v} for parameter {key} is not a valid ISO 8601 timestamp."
                    ))
                }),
        }
    }

    /// `prefix.member.N` values in index order.
    pub fn list(&self, prefix: &str) -> Vec<String> {
        let head = format!("{prefix}.member.");
        let mut items: Vec<(u32, String)> = self
            .map
            .iter()
            .filter_map(|(k, v)| {
                let idx = k.strip_prefix(&head)?.parse::<u32>().ok()?;
                Some((idx, v.clone()))
            })
            .collect();
        items.sort_by_key(|(i, _)| *i);
        items.into_iter().map(|(_, v)| v).collect()
    }

    /// `prefix.member.N.Field` structures in index order, each as a field map.
    pub fn structs(&self, prefix: &str) -> Vec<BTreeMap<String, String>> {
        let head = format!("{prefix}.member.");
        let mut items: BTreeMap<u32, BTreeMap<String, String>> = BTreeMap::new();
        for (k, v) in &self.map {
            let Some(rest) = k.strip_prefix(&head) else {
                continue;
            };
            let Some((idx, field)) = rest.split_once('.') else {
                continue;
            };
            let Ok(idx) = idx.parse::<u32>() else {
                continue;
            };
            items
                .entry(idx)
                .or_default()
                .insert(field.to_string(), v.clone());
        }
        items.into_values().collect()
    }

    /// Every key starting with `prefix` (for nested structures such as lifecycle configs).
    pub fn has_prefix(&self, prefix: &str) -> bool {
        self.map.keys().any(|k| k.starts_with(prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn lists_and_structs_keep_index_order() {
        let p = params(&[
            ("EnvironmentNames.member.10", "j"),
            ("EnvironmentNames.member.2", "b"),
            ("EnvironmentNames.member.1", "a"),
            ("OptionSettings.member.2.Namespace", "ns2"),
            ("OptionSettings.member.1.Namespace", "ns1"),
            ("OptionSettings.member.1.OptionName", "o1"),
            ("Empty", ""),
        ]);
        assert_eq!(p.list("EnvironmentNames"), ["a", "b", "j"]);
        let s = p.structs("OptionSettings");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0]["Namespace"], "ns1");
        assert_eq!(s[0]["OptionName"], "o1");
        assert_eq!(s[1]["Namespace"], "ns2");
        assert_eq!(p.get("Empty"), None);
        assert_eq!(p.req("Empty").unwrap_err().code, "MissingParameter");
    }

    #[test]
    fn typed_values_reject_garbage() {
        let p = params(&[
            ("B", "TRUE"),
            ("Bad", "yes"),
            ("N", "12"),
            ("T", "2024-01-02T03:04:05.678Z"),
            ("BadT", "yesterday"),
        ]);
        assert_eq!(p.bool("B").unwrap(), Some(true));
        assert_eq!(p.bool("Missing").unwrap(), None);
        assert!(p.bool("Bad").unwrap_err().message.contains("yes"));
        assert_eq!(p.int("N").unwrap(), Some(12));
        assert_eq!(p.int("B").unwrap_err().code, "InvalidParameterValue");
        assert!(p.time("T").unwrap().is_some());
        assert!(p.time("BadT").unwrap_err().message.contains("yesterday"));
    }
}
