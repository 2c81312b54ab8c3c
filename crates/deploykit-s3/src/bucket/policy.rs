//! The TLS-only bucket policy statement, and merging it into whatever policy the bucket has
//! without touching anyone else's statements (matched by `Sid`). Pure.

use serde_json::{Map, Value, json};

/// The `Sid` of the statement deploykit owns in the bucket policy.
pub const TLS_STATEMENT_SID: &str = "DeploykitDenyInsecureTransport";

/// The policy language version deploykit writes when the bucket has no policy yet.
pub const POLICY_VERSION: &str = "2012-10-17";

/// The AWS partition a region belongs to (`aws`, `aws-cn`, `aws-us-gov`), for ARNs.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// Deny every S3 action on the bucket and its objects when the request is not over TLS.
pub fn tls_only_statement(bucket: &str, region: &str) -> Value {
    let p = partition(region);
    json!({
        "Sid": TLS_STATEMENT_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [format!("arn:{p}:s3:::{bucket}"), format!("arn:{p}:s3:::{bucket}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}
    })
}

/// How the bucket's policy stands against our statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyCheck {
    /// Our statement is there, as we would write it.
    Present,
    /// No policy, or a policy without a statement of our `Sid`: put `document`.
    Missing { document: String },
    /// A statement with our `Sid` says something else: put `document`.
    Changed { document: String },
}

/// Checks `existing` (the bucket's policy JSON, if any) for `ours` and returns the merged
/// document to put when it differs: every other statement is kept as it is, ours replaces the
/// statement(s) with its `Sid` or is appended. `Err` when `existing` is not a policy document.
pub fn check_policy(existing: Option<&str>, ours: &Value) -> Result<PolicyCheck, String> {
    let sid = ours.get("Sid").and_then(Value::as_str).unwrap_or_default();
    let mut doc: Map<String, Value> = match existing {
        None => Map::new(),
        Some(text) if text.trim().is_empty() => Map::new(),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return Err("the policy is not a JSON object".into()),
            Err(e) => return Err(format!("the policy is not valid JSON: {e}")),
        },
    };
    let mut statements: Vec<Value> = match doc.remove("Statement") {
        None => Vec::new(),
        Some(Value::Array(a)) => a,
        Some(s @ Value::Object(_)) => vec![s],
        Some(_) => return Err("its Statement is neither a list nor an object".into()),
    };
    let is_ours = |s: &Value| s.get("Sid").and_then(Value::as_str) == Some(sid);
    let found: Vec<&Value> = statements.iter().filter(|s| is_ours(s)).collect();
    let same = found.len() == 1 && normalize(found[0]) == normalize(ours);
    if same {
        return Ok(PolicyCheck::Present);
    }
    let missing = found.is_empty();
    match statements.iter().position(is_ours) {
        Some(i) => {
            statements[i] = ours.clone();
            let mut n = 0;
            statements.retain(|s| {
                !is_ours(s) || {
                    n += 1;
                    n == 1
                }
            });
        }
        None => statements.push(ours.clone()),
    }
    doc.entry("Version")
        .or_insert_with(|| Value::String(POLICY_VERSION.into()));
    doc.insert("Statement".into(), Value::Array(statements));
    let document = Value::Object(doc).to_string();
    Ok(if missing {
        PolicyCheck::Missing { document }
    } else {
        PolicyCheck::Changed { document }
    })
}

/// What removing our statement from a policy takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// Others' statements remain: put this document.
    Put { document: String },
    /// Ours was the only statement: delete the policy.
    Delete,
}

/// The change that takes every statement with `sid` out of `existing`, keeping the others;
/// `Ok(None)` when there is none. `Err` when `existing` is not a policy document.
pub fn remove_statement(existing: Option<&str>, sid: &str) -> Result<Option<Removal>, String> {
    let Some(text) = existing.filter(|t| !t.trim().is_empty()) else {
        return Ok(None);
    };
    let mut doc = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return Err("the policy is not a JSON object".into()),
        Err(e) => return Err(format!("the policy is not valid JSON: {e}")),
    };
    let statements: Vec<Value> = match doc.remove("Statement") {
        None => Vec::new(),
        Some(Value::Array(a)) => a,
        Some(s @ Value::Object(_)) => vec![s],
        Some(_) => return Err("its Statement is neither a list nor an object".into()),
    };
    let before = statements.len();
    let kept: Vec<Value> = statements
        .into_iter()
        .filter(|s| s.get("Sid").and_then(Value::as_str) != Some(sid))
        .collect();
    if kept.len() == before {
        return Ok(None);
    }
    if kept.is_empty() {
        return Ok(Some(Removal::Delete));
    }
    doc.insert("Statement".into(), Value::Array(kept));
    Ok(Some(Removal::Put {
        document: Value::Object(doc).to_string(),
    }))
}

/// A statement in a canonical form for comparison: single strings and one-element lists are
/// the same, list order does not matter, `"*"` and `{"AWS": "*"}` are the same principal,
/// condition values compare as lowercase strings.
fn normalize(v: &Value) -> Value {
    let Value::Object(m) = v else {
        return v.clone();
    };
    let mut out = Map::new();
    for (k, val) in m {
        let nv = match k.as_str() {
            "Action" | "NotAction" | "Resource" | "NotResource" => string_set(val),
            "Principal" | "NotPrincipal" => principal(val),
            "Condition" => condition(val),
            _ => val.clone(),
        };
        out.insert(k.clone(), nv);
    }
    Value::Object(out)
}

fn string_set(v: &Value) -> Value {
    let mut items: Vec<String> = match v {
        Value::Array(a) => a.iter().map(scalar).collect(),
        other => vec![scalar(other)],
    };
    items.sort();
    items.dedup();
    Value::Array(items.into_iter().map(Value::String).collect())
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn principal(v: &Value) -> Value {
    match v {
        Value::Object(m)
            if m.len() == 1 && m.get("AWS").is_some_and(|a| string_set(a) == json!(["*"])) =>
        {
            Value::String("*".into())
        }
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), string_set(v))).collect())
        }
        other => other.clone(),
    }
}

fn condition(v: &Value) -> Value {
    let Value::Object(ops) = v else {
        return v.clone();
    };
    Value::Object(
        ops.iter()
            .map(|(op, keys)| {
                let keys = match keys {
                    Value::Object(km) => Value::Object(
                        km.iter()
                            .map(|(k, vals)| {
                                let set = match string_set(vals) {
                                    Value::Array(a) => Value::Array(
                                        a.into_iter()
                                            .map(|s| Value::String(scalar(&s).to_ascii_lowercase()))
                                            .collect(),
                                    ),
                                    o => o,
                                };
                                (k.to_ascii_lowercase(), set)
                            })
                            .collect(),
                    ),
                    other => other.clone(),
                };
                (op.clone(), keys)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours() -> Value {
        tls_only_statement("b", "us-east-1")
    }

    fn doc_of(check: &PolicyCheck) -> Value {
        match check {
            PolicyCheck::Missing { document } | PolicyCheck::Changed { document } => {
                serde_json::from_str(document).unwrap()
            }
            PolicyCheck::Present => Value::Null,
        }
    }

    #[test]
    fn partitions() {
        for (region, p) in [
            ("us-east-1", "aws"),
            ("eu-west-3", "aws"),
            ("cn-north-1", "aws-cn"),
            ("us-gov-west-1", "aws-us-gov"),
        ] {
            assert_eq!(partition(region), p, "{region}");
        }
        let s = tls_only_statement("x", "cn-north-1");
        assert_eq!(s["Resource"][1], "arn:aws-cn:s3:::x/*");
    }

    #[test]
    fn table() {
        let other = json!({"Sid": "ReadForCdn", "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"});
        // Equivalent spellings AWS or people use for the same statement.
        let respelled = json!({"Sid": TLS_STATEMENT_SID, "Effect": "Deny", "Principal": {"AWS": ["*"]}, "Action": ["s3:*"], "Resource": ["arn:aws:s3:::b/*", "arn:aws:s3:::b"], "Condition": {"Bool": {"aws:SecureTransport": false}}});
        let weakened = json!({"Sid": TLS_STATEMENT_SID, "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}});
        let policy = |stmts: Value| {
            json!({"Version": "2012-10-17", "Id": "keep-me", "Statement": stmts}).to_string()
        };
        // (existing policy, expected kind, expected statement Sids in the merged document)
        let cases: Vec<(Option<String>, &str, Vec<&str>)> = vec![
            (None, "missing", vec![TLS_STATEMENT_SID]),
            (Some(String::new()), "missing", vec![TLS_STATEMENT_SID]),
            (
                Some(policy(json!([other.clone()]))),
                "missing",
                vec!["ReadForCdn", TLS_STATEMENT_SID],
            ),
            (
                Some(policy(json!(other.clone()))),
                "missing",
                vec!["ReadForCdn", TLS_STATEMENT_SID],
            ),
            (Some(policy(json!([ours()]))), "present", vec![]),
            (
                Some(policy(json!([other.clone(), ours()]))),
                "present",
                vec![],
            ),
            (Some(policy(json!([respelled]))), "present", vec![]),
            (
                Some(policy(json!([weakened.clone(), other.clone()]))),
                "changed",
                vec![TLS_STATEMENT_SID, "ReadForCdn"],
            ),
            (
                Some(policy(json!([ours(), ours()]))),
                "changed",
                vec![TLS_STATEMENT_SID],
            ),
            (
                Some(json!({"Statement": []}).to_string()),
                "missing",
                vec![TLS_STATEMENT_SID],
            ),
        ];
        for (i, (existing, kind, sids)) in cases.into_iter().enumerate() {
            let check = check_policy(existing.as_deref(), &ours()).unwrap();
            let got = match &check {
                PolicyCheck::Present => "present",
                PolicyCheck::Missing { .. } => "missing",
                PolicyCheck::Changed { .. } => "changed",
            };
            assert_eq!(got, kind, "case {i}: {existing:?}");
            if kind == "present" {
                continue;
            }
            let doc = doc_of(&check);
            let got_sids: Vec<&str> = doc["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["Sid"].as_str().unwrap())
                .collect();
            assert_eq!(got_sids, sids, "case {i}");
            assert_eq!(doc["Version"], "2012-10-17", "case {i}");
            // Others' statements are kept byte for byte; the Id is kept.
            if sids.contains(&"ReadForCdn") {
                assert!(
                    doc["Statement"].as_array().unwrap().contains(&other),
                    "case {i}"
                );
                assert_eq!(doc["Id"], "keep-me", "case {i}");
            }
            // The merged document checks as present.
            assert_eq!(
                check_policy(Some(&doc.to_string()), &ours()).unwrap(),
                PolicyCheck::Present,
                "case {i}"
            );
        }
    }

    #[test]
    fn removal_keeps_others() {
        let other = json!({"Sid": "Cdn", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"});
        let doc = |st: Value| json!({"Version": "2012-10-17", "Statement": st}).to_string();
        let cases: Vec<(Option<String>, Option<Removal>)> = vec![
            (None, None),
            (Some(doc(json!([other.clone()]))), None),
            (Some(doc(json!([ours()]))), Some(Removal::Delete)),
            (Some(doc(ours())), Some(Removal::Delete)),
            (
                Some(doc(json!([other.clone(), ours()]))),
                Some(Removal::Put {
                    document: doc(json!([other.clone()])),
                }),
            ),
        ];
        for (existing, want) in cases {
            assert_eq!(
                remove_statement(existing.as_deref(), TLS_STATEMENT_SID).unwrap(),
                want,
                "{existing:?}"
            );
        }
        assert!(remove_statement(Some("nope"), TLS_STATEMENT_SID).is_err());
    }

    #[test]
    fn unreadable_policies_are_refused() {
        for bad in ["not json", "[1,2]", r#"{"Statement": "x"}"#] {
            assert!(check_policy(Some(bad), &ours()).is_err(), "{bad}");
        }
    }
}
