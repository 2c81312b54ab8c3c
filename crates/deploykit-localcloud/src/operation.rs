//! The operation a signed AWS request asks for, by its protocol: what faults select on.
//!
//! - awsJson: the `X-Amz-Target` after its last `.` (`AppRunner.CreateService` →
//!   `CreateService`).
//! - awsQuery (EB, RDS, IAM, STS, CloudWatch, SNS, EC2): the `Action` parameter, from the query
//!   string or the form body.
//! - S3 (REST-XML): the API name from method, path and sub-resource, for the calls deploys
//!   make (`PutObject`, `HeadObject`, `CreateBucket`, `ListObjectsV2`, `PutBucketPolicy`, ...).
//! - Any other REST service (Route 53): `METHOD /path` with the resource ids left out.

use http::{HeaderMap, Method};

/// Whether the request is awsQuery with a form body, whose `Action` only the body names.
pub(crate) fn needs_form_body(headers: &HeaderMap, method: &Method) -> bool {
    method == Method::POST
        && headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"))
}

/// The operation of a request to `service`; `form` is the form body when
/// [`needs_form_body`] said so.
pub(crate) fn name(
    service: &str,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    form: Option<&[u8]>,
) -> String {
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        return target.rsplit('.').next().unwrap_or(target).to_string();
    }
    let action = |bytes: &[u8]| {
        url::form_urlencoded::parse(bytes)
            .find(|(k, _)| k == "Action")
            .map(|(_, v)| v.into_owned())
    };
    if let Some(a) = query.and_then(|q| action(q.as_bytes())) {
        return a;
    }
    if let Some(a) = form.and_then(action) {
        return a;
    }
    if service == "s3" {
        return s3(method, path, query.unwrap_or(""), headers);
    }
    let shape: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .enumerate()
        .filter(|(i, _)| *i == 0 || i % 2 == 1)
        .map(|(_, s)| s)
        .collect();
    format!("{method} /{}", shape.join("/"))
}

/// S3's API name (path-style addressing, which the local cloud's clients use).
fn s3(method: &Method, path: &str, query: &str, headers: &HeaderMap) -> String {
    let keys: Vec<String> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, _)| k.into_owned())
        .filter(|k| !k.starts_with("x-amz-") && !k.starts_with("X-Amz-"))
        .collect();
    let has = |k: &str| keys.iter().any(|x| x == k);
    let object = path
        .trim_start_matches('/')
        .split_once('/')
        .is_some_and(|(_, key)| !key.is_empty());
    let m = method.as_str();
    if object {
        return match m {
            "PUT" if has("partNumber") => "UploadPart",
            "PUT" if headers.contains_key("x-amz-copy-source") => "CopyObject",
            "PUT" if has("tagging") => "PutObjectTagging",
            "PUT" => "PutObject",
            "GET" if has("tagging") => "GetObjectTagging",
            "GET" if has("uploadId") => "ListParts",
            "GET" => "GetObject",
            "HEAD" => "HeadObject",
            "DELETE" if has("uploadId") => "AbortMultipartUpload",
            "DELETE" => "DeleteObject",
            "POST" if has("uploads") => "CreateMultipartUpload",
            "POST" if has("uploadId") => "CompleteMultipartUpload",
            _ => return format!("{m} object"),
        }
        .to_string();
    }
    let sub = keys
        .iter()
        .find(|k| {
            !matches!(
                k.as_str(),
                "list-type" | "prefix" | "delimiter" | "continuation-token" | "max-keys" | "marker"
            )
        })
        .map(|k| {
            let mut c = k.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        });
    match (m, sub) {
        ("PUT", None) => "CreateBucket".into(),
        ("HEAD", None) => "HeadBucket".into(),
        ("DELETE", None) => "DeleteBucket".into(),
        ("GET", None) if has("list-type") => "ListObjectsV2".into(),
        ("GET", None) if path.trim_matches('/').is_empty() => "ListBuckets".into(),
        ("GET", None) => "ListObjects".into(),
        ("POST", Some(s)) if s == "Delete" => "DeleteObjects".into(),
        ("GET", Some(s)) if s == "Uploads" => "ListMultipartUploads".into(),
        ("GET", Some(s)) if s == "Versions" => "ListObjectVersions".into(),
        ("PUT", Some(s)) => format!("PutBucket{s}"),
        ("GET", Some(s)) => format!("GetBucket{s}"),
        ("DELETE", Some(s)) => format!("DeleteBucket{s}"),
        (m, s) => format!(
            "{m} bucket{}",
            s.map(|s| format!("?{s}")).unwrap_or_default()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_named_by_protocol() {
        let target = |t: &'static str| {
            let mut h = HeaderMap::new();
            h.insert("x-amz-target", http::HeaderValue::from_static(t));
            h
        };
        let none = HeaderMap::new();
        let mut copy = HeaderMap::new();
        copy.insert("x-amz-copy-source", http::HeaderValue::from_static("/b/k"));
        // (service, method, path, query, headers, form body, the operation)
        type Case<'a> = (
            &'a str,
            Method,
            &'a str,
            Option<&'a str>,
            &'a HeaderMap,
            Option<&'a [u8]>,
            &'a str,
        );
        let cases: &[Case<'_>] = &[
            (
                "apprunner",
                Method::POST,
                "/",
                None,
                &target("AppRunner.CreateService"),
                None,
                "CreateService",
            ),
            (
                "ecr",
                Method::POST,
                "/",
                None,
                &target("AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"),
                None,
                "GetAuthorizationToken",
            ),
            (
                "elasticbeanstalk",
                Method::POST,
                "/",
                None,
                &none,
                Some(b"Action=CreateEnvironment&Version=2010-12-01"),
                "CreateEnvironment",
            ),
            (
                "rds",
                Method::GET,
                "/",
                Some("Action=DescribeDBInstances&Version=2014-10-31"),
                &none,
                None,
                "DescribeDBInstances",
            ),
            (
                "s3",
                Method::PUT,
                "/bucket/app/v1.zip",
                None,
                &none,
                None,
                "PutObject",
            ),
            (
                "s3",
                Method::PUT,
                "/bucket/app/v1.zip",
                Some("partNumber=1&uploadId=x"),
                &none,
                None,
                "UploadPart",
            ),
            (
                "s3",
                Method::PUT,
                "/bucket/k",
                None,
                &copy,
                None,
                "CopyObject",
            ),
            (
                "s3",
                Method::HEAD,
                "/bucket/k",
                None,
                &none,
                None,
                "HeadObject",
            ),
            (
                "s3",
                Method::GET,
                "/bucket/k",
                Some("x-id=GetObject"),
                &none,
                None,
                "GetObject",
            ),
            (
                "s3",
                Method::PUT,
                "/bucket",
                None,
                &none,
                None,
                "CreateBucket",
            ),
            (
                "s3",
                Method::PUT,
                "/bucket/",
                Some("policy"),
                &none,
                None,
                "PutBucketPolicy",
            ),
            (
                "s3",
                Method::GET,
                "/bucket",
                Some("list-type=2&prefix=a"),
                &none,
                None,
                "ListObjectsV2",
            ),
            (
                "s3",
                Method::HEAD,
                "/bucket",
                None,
                &none,
                None,
                "HeadBucket",
            ),
            (
                "s3",
                Method::POST,
                "/bucket",
                Some("delete"),
                &none,
                None,
                "DeleteObjects",
            ),
            ("s3", Method::GET, "/", None, &none, None, "ListBuckets"),
            (
                "route53",
                Method::POST,
                "/2013-04-01/hostedzone/Z123/rrset",
                None,
                &none,
                None,
                "POST /2013-04-01/hostedzone/rrset",
            ),
        ];
        for (service, method, path, query, headers, form, want) in cases {
            assert_eq!(
                name(service, method, path, *query, headers, *form),
                *want,
                "{service} {method} {path} {query:?}"
            );
        }
    }
}
