//! Policy documents as data: building blocks, IAM's URL-encoded wire form, and semantic
//! comparison (statement order, array order and `"x"` vs `["x"]` do not matter).

use serde_json::{Map, Value, json};

/// The policy language version every document deploykit writes uses.
pub const POLICY_VERSION: &str = "2012-10-17";

/// A trust policy letting `service` assume the role, with optional `StringEquals` conditions.
pub fn trust_policy(service: &str, external_id: Option<&str>) -> Value {
    let mut stmt = json!({
        "Effect": "Allow",
        "Principal": { "Service": service },
        "Action": "sts:AssumeRole",
    });
    if let Some(id) = external_id {
        stmt["Condition"] = json!({ "StringEquals": { "sts:ExternalId": id } });
    }
    json!({ "Version": POLICY_VERSION, "Statement": [stmt] })
}

/// Percent-decodes IAM's RFC 3986 encoding of a policy document. `+` stays `+`.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Parses a policy document as IAM returns it: URL-encoded JSON (or plain JSON, which some
/// emulators return). `None` when it is neither.
pub fn parse_document(raw: &str) -> Option<Value> {
    let trimmed = raw.trim();
    if trimmed.starts_with('{')
        && let Ok(v) = serde_json::from_str(trimmed)
    {
        return Some(v);
    }
    serde_json::from_str(&percent_decode(trimmed)).ok()
}

/// The canonical form of a policy document: every string that may also be a list becomes a
/// sorted, de-duplicated list, statements are sorted. Two documents that IAM evaluates the
/// same way for these reasons compare equal.
pub fn canonical(doc: &Value) -> Value {
    let mut out = Map::new();
    if let Some(obj) = doc.as_object() {
        for (k, v) in obj {
            if k == "Statement" {
                let mut stmts: Vec<Value> = match v {
                    Value::Array(a) => a.iter().map(canonical_statement).collect(),
                    other => vec![canonical_statement(other)],
                };
                stmts.sort_by_key(|s| s.to_string());
                stmts.dedup();
                out.insert(k.clone(), Value::Array(stmts));
            } else {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

/// One statement in canonical form (see [`canonical`]).
pub fn canonical_statement(stmt: &Value) -> Value {
    let Some(obj) = stmt.as_object() else {
        return stmt.clone();
    };
    let mut out = Map::new();
    for (k, v) in obj {
        let v = match k.as_str() {
            "Sid" | "Effect" => v.clone(),
            "Principal" | "NotPrincipal" => match v {
                // "Principal": "*" is the same as {"AWS": "*"}.
                Value::String(s) if s == "*" => json!({ "AWS": ["*"] }),
                _ => listify_values(v),
            },
            "Condition" => match v {
                Value::Object(ops) => Value::Object(
                    ops.iter()
                        .map(|(op, keys)| (op.clone(), listify_values(keys)))
                        .collect(),
                ),
                _ => v.clone(),
            },
            _ => listify(v),
        };
        out.insert(k.clone(), v);
    }
    Value::Object(out)
}

/// Each value of an object as a sorted list.
fn listify_values(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), listify(v))).collect()),
        _ => listify(v),
    }
}

/// A string or a list of strings as a sorted, de-duplicated list.
fn listify(v: &Value) -> Value {
    let mut items: Vec<Value> = match v {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    };
    items.sort_by_key(|x| x.to_string());
    items.dedup();
    Value::Array(items)
}

/// Whether two policy documents mean the same.
pub fn same_policy(a: &Value, b: &Value) -> bool {
    canonical(a) == canonical(b)
}

/// What differs between the policy we want and the one that exists, statement by statement:
/// `missing statement ...` and `extra statement ...`, plus a differing `Version`.
pub fn statement_differences(want: &Value, have: &Value) -> Vec<String> {
    let (w, h) = (canonical(want), canonical(have));
    let stmts = |d: &Value| -> Vec<Value> {
        d.get("Statement")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let (ws, hs) = (stmts(&w), stmts(&h));
    let mut out = Vec::new();
    if w.get("Version") != h.get("Version") {
        out.push(format!(
            "policy version is {} instead of {}",
            h.get("Version").map_or("unset".into(), Value::to_string),
            w.get("Version").map_or("unset".into(), Value::to_string),
        ));
    }
    for s in &ws {
        if !hs.contains(s) {
            out.push(format!("missing statement {s}"));
        }
    }
    for s in &hs {
        if !ws.contains(s) {
            out.push(format!("extra statement {s}"));
        }
    }
    if out.is_empty() && w != h {
        out.push("the document differs outside its statements".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encoded_documents_parse() {
        let raw = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22ec2.amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D";
        let doc = parse_document(raw).expect("parses");
        assert!(same_policy(&doc, &trust_policy("ec2.amazonaws.com", None)));
        assert_eq!(
            parse_document(r#"{"Version":"2012-10-17","Statement":[]}"#),
            Some(json!({"Version":"2012-10-17","Statement":[]}))
        );
        assert_eq!(parse_document("%7Bnot json"), None);
    }

    #[test]
    fn comparison_ignores_order_and_list_spelling() {
        let a = json!({"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::b/*"},
            {"Effect":"Allow","Action":"s3:ListBucket","Resource":["arn:aws:s3:::b"]}
        ]});
        let b = json!({"Statement":[
            {"Resource":"arn:aws:s3:::b","Action":["s3:ListBucket"],"Effect":"Allow"},
            {"Effect":"Allow","Action":["s3:PutObject","s3:GetObject"],"Resource":["arn:aws:s3:::b/*"]}
        ],"Version":"2012-10-17"});
        assert!(same_policy(&a, &b));
        let c = json!({"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b"}
        ]});
        assert!(!same_policy(&a, &c));
        let d = statement_differences(&a, &c);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].starts_with("missing statement"), "{d:?}");
        let e = statement_differences(&c, &a);
        assert!(e[0].starts_with("extra statement"), "{e:?}");
    }

    #[test]
    fn trust_policy_condition_compares_as_list() {
        let want = trust_policy("elasticbeanstalk.amazonaws.com", Some("elasticbeanstalk"));
        let have = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["elasticbeanstalk.amazonaws.com"]},"Action":["sts:AssumeRole"],"Condition":{"StringEquals":{"sts:ExternalId":["elasticbeanstalk"]}}}]});
        assert!(same_policy(&want, &have));
        assert!(!same_policy(
            &want,
            &trust_policy("elasticbeanstalk.amazonaws.com", None)
        ));
    }
}
