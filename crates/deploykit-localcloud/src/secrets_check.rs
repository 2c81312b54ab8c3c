//! The lookups Elastic Beanstalk and App Runner make before trusting a reference: does this
//! Secrets Manager secret, SSM parameter or IAM role exist? Answered by moto, the local
//! cloud's Secrets Manager, SSM and IAM.
//!
//! References are parsed the way the services read them:
//! - `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>-<6 chars>` (full ARN) or
//!   the same without the suffix (partial ARN; Secrets Manager resolves it by name), optionally
//!   followed by `:<json-key>:<version-stage>:<version-id>` (App Runner and ECS accept that);
//! - `arn:<partition>:ssm:<region>:<account>:parameter/<name>` (`parameter/a/b` is `/a/b`);
//! - for App Runner only, a bare SSM parameter name in the service's own region.
//!
//! A reference into another account than the edge's does not exist here: moto holds one
//! account, and moto itself would ignore the account in a partial ARN.

use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// How long one lookup in moto may take.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(30);

/// A parsed secret reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SecretRef {
    /// A Secrets Manager secret; `id` is the ARN to look up (full or partial, without the
    /// JSON key / version suffix).
    SecretsManager {
        region: String,
        account: String,
        id: String,
    },
    /// An SSM parameter. `region`/`account` are `None` for a bare name.
    Parameter {
        region: Option<String>,
        account: Option<String>,
        name: String,
    },
}

/// Parses an ARN of a Secrets Manager secret or an SSM parameter. `None`: neither.
pub(crate) fn parse_arn(value: &str) -> Option<SecretRef> {
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts.as_slice() else {
        return None;
    };
    let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    if *arn != "arn" || !partition.starts_with("aws") || region.is_empty() || !account_ok {
        return None;
    }
    match *service {
        "secretsmanager" => {
            let rest = resource.strip_prefix("secret:")?;
            // `name[-suffix][:json-key:version-stage:version-id]`: only the name identifies it.
            let name = rest.split(':').next().unwrap_or_default();
            if name.is_empty() {
                return None;
            }
            Some(SecretRef::SecretsManager {
                region: region.to_string(),
                account: account.to_string(),
                id: format!("arn:{partition}:secretsmanager:{region}:{account}:secret:{name}"),
            })
        }
        "ssm" => {
            let rest = resource.strip_prefix("parameter/")?;
            if rest.is_empty() {
                return None;
            }
            let name = if rest.contains('/') {
                format!("/{rest}")
            } else {
                rest.to_string()
            };
            Some(SecretRef::Parameter {
                region: Some(region.to_string()),
                account: Some(account.to_string()),
                name,
            })
        }
        _ => None,
    }
}

/// `arn:<partition>:iam::<account>:role/<path/>name` → `(account, name)`.
pub(crate) fn parse_role_arn(arn: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, _, "iam", "", account, resource] = parts.as_slice() else {
        return None;
    };
    let path = resource.strip_prefix("role/")?;
    let name = path.rsplit('/').next().filter(|n| !n.is_empty())?;
    Some((account.to_string(), name.to_string()))
}

/// Looks references up in moto.
#[derive(Debug, Clone)]
pub(crate) struct Lookup<'a> {
    pub moto_url: &'a str,
    /// The edge's account: references into another account do not exist.
    pub account_id: &'a str,
    /// Region of bare parameter names (the calling service's region).
    pub region: &'a str,
}

impl Lookup<'_> {
    /// Does the reference resolve? `Err` only when moto could not be asked.
    pub async fn exists(&self, r: &SecretRef) -> Result<bool, String> {
        match r {
            SecretRef::SecretsManager {
                region,
                account,
                id,
            } => {
                if account != self.account_id {
                    return Ok(false);
                }
                let (status, body) = call(
                    self.moto_url,
                    region,
                    "secretsmanager",
                    Some("application/x-amz-json-1.1"),
                    Some("secretsmanager.DescribeSecret"),
                    serde_json::json!({ "SecretId": id }).to_string(),
                )
                .await?;
                if status.is_success() {
                    // A secret scheduled for deletion cannot be read (GetSecretValue answers
                    // InvalidRequestException), so it resolves to nothing.
                    let v: serde_json::Value = serde_json::from_slice(&body)
                        .map_err(|e| format!("DescribeSecret: unreadable answer: {e}"))?;
                    return Ok(v.get("DeletedDate").is_none_or(|d| d.is_null()));
                }
                not_found(
                    status,
                    &body,
                    &["ResourceNotFoundException"],
                    "DescribeSecret",
                )
            }
            SecretRef::Parameter {
                region,
                account,
                name,
            } => {
                if account.as_deref().is_some_and(|a| a != self.account_id) {
                    return Ok(false);
                }
                let region = region.as_deref().unwrap_or(self.region);
                let (status, body) = call(
                    self.moto_url,
                    region,
                    "ssm",
                    Some("application/x-amz-json-1.1"),
                    Some("AmazonSSM.GetParameter"),
                    serde_json::json!({ "Name": name }).to_string(),
                )
                .await?;
                if status.is_success() {
                    return Ok(true);
                }
                not_found(status, &body, &["ParameterNotFound"], "GetParameter")
            }
        }
    }

    /// Does IAM know this role (same account, same path and name)?
    pub async fn role_exists(&self, arn: &str) -> Result<bool, String> {
        let Some((account, name)) = parse_role_arn(arn) else {
            return Ok(false);
        };
        if account != self.account_id {
            return Ok(false);
        }
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("Action", "GetRole")
            .append_pair("Version", "2010-05-08")
            .append_pair("RoleName", &name)
            .finish();
        let (status, body) = call(
            self.moto_url,
            "us-east-1",
            "iam",
            Some("application/x-www-form-urlencoded; charset=utf-8"),
            None,
            form,
        )
        .await?;
        if status.is_success() {
            // Same name under another path is another role.
            let text = String::from_utf8_lossy(&body);
            let found = text
                .split_once("<Arn>")
                .and_then(|(_, rest)| rest.split_once("</Arn>"))
                .map(|(a, _)| a.trim());
            return Ok(found.is_none_or(|a| a == arn));
        }
        not_found(status, &body, &["NoSuchEntity"], "GetRole")
    }
}

/// The status of an ACM certificate (`ISSUED`, `PENDING_VALIDATION`...), `None` when ACM in
/// its region (moto) does not know it or it belongs to another account.
pub(crate) async fn certificate_status(
    moto_url: &str,
    account_id: &str,
    arn: &str,
) -> Result<Option<String>, String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, _, "acm", region, account, resource] = parts.as_slice() else {
        return Ok(None);
    };
    if *account != account_id || !resource.starts_with("certificate/") {
        return Ok(None);
    }
    let (status, body) = call(
        moto_url,
        region,
        "acm",
        Some("application/x-amz-json-1.1"),
        Some("CertificateManager.DescribeCertificate"),
        serde_json::json!({ "CertificateArn": arn }).to_string(),
    )
    .await?;
    if !status.is_success() {
        return not_found(
            status,
            &body,
            &["ResourceNotFoundException", "ValidationException"],
            "DescribeCertificate",
        )
        .map(|_| None);
    }
    let v: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| format!("DescribeCertificate: unreadable answer: {e}"))?;
    Ok(v.pointer("/Certificate/Status")
        .and_then(|s| s.as_str())
        .map(str::to_string))
}

/// `Ok(false)` when the error answer carries one of `codes`, else an error naming `op`.
fn not_found(status: StatusCode, body: &[u8], codes: &[&str], op: &str) -> Result<bool, String> {
    let text = String::from_utf8_lossy(body);
    if status.is_client_error() && codes.iter().any(|c| text.contains(c)) {
        Ok(false)
    } else {
        Err(format!("{op} answered HTTP {status}: {text}"))
    }
}

/// One signed-looking POST to moto: moto routes by the credential scope's service and does not
/// check the signature.
async fn call(
    moto_url: &str,
    region: &str,
    service: &str,
    content_type: Option<&str>,
    target: Option<&str>,
    body: String,
) -> Result<(StatusCode, Bytes), String> {
    let date = time::OffsetDateTime::now_utc();
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=localcloud/{:04}{:02}{:02}/{region}/{service}/aws4_request, SignedHeaders=host, Signature=0",
        date.year(),
        u8::from(date.month()),
        date.day()
    );
    let mut req = http::Request::post(format!("{}/", moto_url.trim_end_matches('/')))
        .header(http::header::AUTHORIZATION, auth);
    if let Some(ct) = content_type {
        req = req.header(http::header::CONTENT_TYPE, ct);
    }
    if let Some(t) = target {
        req = req.header("x-amz-target", t);
    }
    let req = req
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let what = target.unwrap_or(service);
    let resp = tokio::time::timeout(LOOKUP_TIMEOUT, async {
        let resp = client
            .request(req)
            .await
            .map_err(|e| format!("{what} to moto at {moto_url}: {e}"))?;
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("{what}: reading moto's answer: {e}"))?
            .to_bytes();
        Ok::<_, String>((status, bytes))
    })
    .await
    .map_err(|_| {
        format!(
            "moto at {moto_url} did not answer {what} within {} s",
            LOOKUP_TIMEOUT.as_secs()
        )
    })??;
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_arns_full_partial_and_with_json_keys() {
        let full = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-url-AbCdEf";
        let want = SecretRef::SecretsManager {
            region: "us-east-1".into(),
            account: "123456789012".into(),
            id: full.into(),
        };
        assert_eq!(parse_arn(full), Some(want.clone()));
        assert_eq!(parse_arn(&format!("{full}:password::")), Some(want));
        assert_eq!(
            parse_arn("arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/db-url"),
            Some(SecretRef::SecretsManager {
                region: "eu-west-1".into(),
                account: "123456789012".into(),
                id: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/db-url".into(),
            })
        );
        for bad in [
            "app/db-url",
            "arn:aws:secretsmanager:us-east-1:1:secret:k",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:",
            "arn:aws:secretsmanager::123456789012:secret:k",
            "arn:aws:s3:::bucket",
        ] {
            assert_eq!(parse_arn(bad), None, "{bad}");
        }
    }

    #[test]
    fn parameter_arns_keep_the_leading_slash_of_hierarchies() {
        let p = |arn: &str| match parse_arn(arn) {
            Some(SecretRef::Parameter { name, .. }) => name,
            other => panic!("{arn}: {other:?}"),
        };
        assert_eq!(
            p("arn:aws:ssm:us-east-1:123456789012:parameter/flat"),
            "flat"
        );
        assert_eq!(
            p("arn:aws:ssm:us-east-1:123456789012:parameter/app/db/url"),
            "/app/db/url"
        );
        assert_eq!(
            parse_arn("arn:aws:ssm:us-east-1:123456789012:parameter/"),
            None
        );
    }

    #[test]
    fn role_arns_give_account_and_name() {
        assert_eq!(
            parse_role_arn("arn:aws:iam::123456789012:role/service-role/app-instance"),
            Some(("123456789012".into(), "app-instance".into()))
        );
        assert_eq!(parse_role_arn("arn:aws:iam::123456789012:user/bob"), None);
        assert_eq!(parse_role_arn("arn:aws:iam::123456789012:role/"), None);
    }
}
