//! SigV4 credential-scope parsing: which service (and region) a request is addressed to.
//!
//! Signatures are not verified: the local cloud accepts any dummy credentials.

use http::HeaderMap;

/// The `<region>/<service>` part of a SigV4 credential scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scope {
    pub region: String,
    pub service: String,
}

/// Reads the scope from `Authorization: AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, ...`
/// or, for presigned URLs, from the `X-Amz-Credential` query parameter.
pub(crate) fn scope(headers: &HeaderMap, query: Option<&str>) -> Option<Scope> {
    if let Some(auth) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        return scope_from_authorization(auth);
    }
    let query = query?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k.eq_ignore_ascii_case("X-Amz-Credential"))
        .and_then(|(_, v)| scope_from_credential(&v))
}

fn scope_from_authorization(auth: &str) -> Option<Scope> {
    let rest = auth.trim_start().strip_prefix("AWS4-")?;
    let (_, params) = rest.split_once(' ')?;
    params
        .split(',')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("Credential="))
        .and_then(scope_from_credential)
}

/// `AKID/20240101/us-east-1/elasticbeanstalk/aws4_request` (access key ids never contain `/`).
fn scope_from_credential(credential: &str) -> Option<Scope> {
    let mut parts = credential.trim().rsplit('/');
    if parts.next()? != "aws4_request" {
        return None;
    }
    let service = parts.next()?;
    let region = parts.next()?;
    let _date = parts.next()?;
    let _akid = parts.next()?;
    if service.is_empty() {
        return None;
    }
    Some(Scope {
        region: region.to_string(),
        service: service.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(http::header::AUTHORIZATION, auth.parse().unwrap());
        h
    }

    #[test]
    fn parses_scopes() {
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            (
                "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/elasticbeanstalk/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc",
                Some(("us-east-1", "elasticbeanstalk")),
            ),
            (
                "AWS4-HMAC-SHA256 Credential=AKID/20240101/eu-west-3/apprunner/aws4_request,SignedHeaders=host,Signature=abc",
                Some(("eu-west-3", "apprunner")),
            ),
            (
                "AWS4-ECDSA-P256-SHA256 Credential=AKID/20240101/*/s3/aws4_request, SignedHeaders=host, Signature=abc",
                Some(("*", "s3")),
            ),
            (
                "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/ecr/other, Signature=abc",
                None,
            ),
            (
                "AWS4-HMAC-SHA256 Credential=us-east-1/ecr/aws4_request, Signature=abc",
                None,
            ),
            ("AWS AKID:signature", None),
            ("Bearer token", None),
        ];
        for (auth, want) in cases {
            let got = scope(&headers(auth), None);
            let want = want.map(|(r, s)| Scope {
                region: r.to_string(),
                service: s.to_string(),
            });
            assert_eq!(got, want, "{auth}");
        }
    }

    #[test]
    fn parses_presigned_query() {
        let q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20240101%2Fus-west-2%2Fs3%2Faws4_request&X-Amz-Signature=x";
        assert_eq!(
            scope(&HeaderMap::new(), Some(q)),
            Some(Scope {
                region: "us-west-2".into(),
                service: "s3".into()
            })
        );
        assert_eq!(scope(&HeaderMap::new(), Some("a=b")), None);
        assert_eq!(scope(&HeaderMap::new(), None), None);
    }
}
