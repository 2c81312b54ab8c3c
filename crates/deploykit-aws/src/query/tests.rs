use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorFuture};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::retry::RetryConfig;
use aws_types::region::Region;

use super::*;

#[test]
fn params_encode_action_version_and_numbered_lists() {
    let mut p = Params::new();
    p.set("Filter.1.Name", "group-name")
        .list("Filter.1.Value", ["app db", "x&y=z"])
        .set("IpPermissions.1.IpRanges.1.CidrIp", "0.0.0.0/0")
        .set("IpPermissions.1.FromPort", 5432)
        .set_opt("DryRun", None::<bool>)
        .set_opt("GroupName", Some("budgetsync-db"));
    assert_eq!(
        p.to_body(Service::EC2, "DescribeSecurityGroups"),
        "Action=DescribeSecurityGroups&Version=2016-11-15\
         &Filter.1.Name=group-name&Filter.1.Value.1=app+db&Filter.1.Value.2=x%26y%3Dz\
         &IpPermissions.1.IpRanges.1.CidrIp=0.0.0.0%2F0&IpPermissions.1.FromPort=5432\
         &GroupName=budgetsync-db"
    );
    // The body decodes back to exactly the pairs, in order.
    let body = p.to_body(Service::EC2, "X");
    let back: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .skip(2)
        .collect();
    assert_eq!(back, p.pairs());
    assert_eq!(
        Params::new().to_body(Service::EC2, "DescribeVpcs"),
        "Action=DescribeVpcs&Version=2016-11-15"
    );
}

/// AWS's EC2 error shape (API reference, "Error codes": example error response).
fn ec2_error(code: &str, message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>ea966190-f9aa-478e-9ede-example</RequestID></Response>"
    )
}

#[test]
fn errors_are_classified_by_code_then_status() {
    let cases: &[(u16, &str, ErrorKind)] = &[
        (400, "InvalidGroup.Duplicate", ErrorKind::AlreadyExists),
        (400, "InvalidPermission.Duplicate", ErrorKind::AlreadyExists),
        (400, "InvalidGroup.NotFound", ErrorKind::NotFound),
        (400, "InvalidPermission.NotFound", ErrorKind::NotFound),
        (400, "InvalidVpcID.NotFound", ErrorKind::NotFound),
        (503, "RequestLimitExceeded", ErrorKind::Throttling),
        (403, "UnauthorizedOperation", ErrorKind::AccessDenied),
        (403, "Client.UnauthorizedOperation", ErrorKind::AccessDenied),
        (401, "AuthFailure", ErrorKind::Credentials),
        (400, "RequestExpired", ErrorKind::Credentials),
        (500, "InternalError", ErrorKind::Transient),
        (500, "Server.InternalError", ErrorKind::Transient),
        (400, "InvalidParameterValue", ErrorKind::Validation),
        (400, "MissingParameter", ErrorKind::Validation),
        (400, "SecurityGroupLimitExceeded", ErrorKind::QuotaExceeded),
        (400, "DependencyViolation", ErrorKind::InvalidState),
        // Unknown codes fall back to the status.
        (503, "Unavailable", ErrorKind::Transient),
        (400, "SomethingNew", ErrorKind::Other),
    ];
    for (status, code, want) in cases {
        let c = parse_error(*status, None, &ec2_error(code, "said the service"));
        assert_eq!(c.kind, *want, "{code} {status}");
        assert_eq!(c.code.as_deref(), Some(*code));
        assert_eq!(c.message.as_deref(), Some("said the service"));
        assert_eq!(
            c.request_id.as_deref(),
            Some("ea966190-f9aa-478e-9ede-example")
        );
    }
}

#[test]
fn error_parsing_ignores_the_message_and_reads_both_shapes() {
    // A message that talks about throttling does not make a validation error retryable.
    let c = parse_error(
        400,
        None,
        &ec2_error("InvalidParameterValue", "Rate exceeded; throttling"),
    );
    assert_eq!(c.kind, ErrorKind::Validation);
    assert!(!c.kind.is_retryable());

    // awsQuery's shape (RDS, IAM, STS...), with the header's request id first.
    let q = "<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>body-id</RequestId></ErrorResponse>";
    let c = parse_error(400, Some("header-id"), q);
    assert_eq!(
        (
            c.kind,
            c.code.as_deref(),
            c.message.as_deref(),
            c.request_id.as_deref()
        ),
        (
            ErrorKind::Throttling,
            Some("Throttling"),
            Some("Rate exceeded"),
            Some("header-id")
        )
    );

    // Several errors: the first one counts.
    let two = "<Response><Errors><Error><Code>InvalidGroup.NotFound</Code><Message>a</Message></Error><Error><Code>InternalError</Code><Message>b</Message></Error></Errors><RequestID>r</RequestID></Response>";
    assert_eq!(parse_error(400, None, two).kind, ErrorKind::NotFound);

    // Not XML at all (a proxy's page): the status decides, and says so.
    for (status, want) in [
        (502, ErrorKind::Transient),
        (429, ErrorKind::Throttling),
        (403, ErrorKind::AccessDenied),
        (400, ErrorKind::Other),
    ] {
        let c = parse_error(status, None, "<html><body>Bad Gateway</body></html>");
        assert_eq!(c.kind, want, "{status}");
        assert_eq!(c.code, None);
        assert_eq!(c.message, Some(format!("HTTP {status}")));
        let c = parse_error(status, None, "");
        assert_eq!(c.kind, want, "{status}, empty body");
    }
}

#[test]
fn lists_read_item_and_member_wrappers() {
    #[derive(Debug, Deserialize, PartialEq)]
    struct Out {
        #[serde(rename = "requestId")]
        request_id: String,
        #[serde(rename = "idSet", default)]
        ids: List<String>,
        #[serde(rename = "empty", default)]
        empty: List<String>,
        #[serde(rename = "missing", default)]
        missing: List<String>,
    }
    let ec2 = "<XResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\n  <requestId>r-1</requestId>\n  <idSet>\n    <item>a</item>\n    <item>b</item>\n  </idSet>\n  <empty/>\n</XResponse>";
    let out: Out = parse("X", ec2).unwrap();
    assert_eq!(out.request_id, "r-1");
    assert_eq!(Vec::from(out.ids), vec!["a", "b"]);
    assert!(out.empty.items.is_empty() && out.missing.items.is_empty());
    let q = "<XResponse><requestId>r-2</requestId><idSet><member>c</member></idSet></XResponse>";
    let out: Out = parse("X", q).unwrap();
    assert_eq!(out.ids.iter().collect::<Vec<_>>(), vec!["c"]);
    // A body that is not the shape is an error naming the action, not a panic.
    let e = parse::<Out>("DescribeVpcs", "<XResponse><idSet>").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Other);
    assert!(e.message.unwrap().contains("DescribeVpcs"));
}

#[test]
fn backoff_grows_exponentially_and_is_bounded() {
    let p = RetryPolicy {
        max_attempts: 10,
        initial_backoff: Duration::from_secs(1),
        max_backoff: Duration::from_secs(20),
    };
    let full: Vec<u64> = (1..=8).map(|n| p.backoff(n, 1.0).as_secs()).collect();
    assert_eq!(full, vec![1, 2, 4, 8, 16, 20, 20, 20]);
    assert_eq!(p.backoff(3, 0.5), Duration::from_secs(2));
    assert_eq!(p.backoff(1, 0.0), Duration::ZERO);
    assert_eq!(
        p.backoff(u32::MAX, 7.0),
        Duration::from_secs(20),
        "jitter is clamped, huge retries capped"
    );
    for _ in 0..100 {
        let j = jitter();
        assert!((0.0..1.0).contains(&j), "{j}");
    }

    let sdk = |r: Option<RetryConfig>| {
        let mut b = SdkConfig::builder();
        b.set_retry_config(r);
        b.build()
    };
    assert_eq!(RetryPolicy::from_sdk(&sdk(None)), RetryPolicy::default());
    let r = RetryPolicy::from_sdk(&sdk(Some(
        RetryConfig::standard()
            .with_max_attempts(5)
            .with_initial_backoff(Duration::from_millis(50)),
    )));
    assert_eq!(
        (r.max_attempts, r.initial_backoff),
        (5, Duration::from_millis(50))
    );
    assert_eq!(
        RetryPolicy::from_sdk(&sdk(Some(RetryConfig::disabled()))).max_attempts,
        1
    );
}

#[test]
fn regional_endpoints() {
    assert_eq!(
        default_endpoint(Service::EC2, "eu-west-3"),
        "https://ec2.eu-west-3.amazonaws.com"
    );
    assert_eq!(
        default_endpoint(Service::EC2, "cn-north-1"),
        "https://ec2.cn-north-1.amazonaws.com.cn"
    );
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[test]
fn requests_are_signed_with_sigv4_for_the_service_and_region() {
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160); // 2015-08-30T12:36:00Z
    let creds = |token: Option<&str>| -> aws_smithy_runtime_api::client::identity::Identity {
        Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            token.map(str::to_string),
            None,
            "test",
        )
        .into()
    };
    let body = "Action=DescribeVpcs&Version=2016-11-15";
    let h = signed_headers(
        "https://ec2.us-east-1.amazonaws.com/",
        body,
        &creds(None),
        "us-east-1",
        "ec2",
        at,
    )
    .unwrap();
    assert_eq!(header(&h, "host"), Some("ec2.us-east-1.amazonaws.com"));
    assert_eq!(header(&h, "x-amz-date"), Some("20150830T123600Z"));
    assert_eq!(header(&h, "x-amz-security-token"), None);
    let auth = header(&h, "authorization").unwrap();
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ec2/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature="),
        "{auth}"
    );
    // Deterministic, and the signature covers the body, the region and the port.
    let again = signed_headers(
        "https://ec2.us-east-1.amazonaws.com/",
        body,
        &creds(None),
        "us-east-1",
        "ec2",
        at,
    )
    .unwrap();
    assert_eq!(header(&again, "authorization"), Some(auth));
    let other_body = signed_headers(
        "https://ec2.us-east-1.amazonaws.com/",
        "Action=DescribeSubnets&Version=2016-11-15",
        &creds(None),
        "us-east-1",
        "ec2",
        at,
    )
    .unwrap();
    assert_ne!(header(&other_body, "authorization"), Some(auth));
    let local = signed_headers(
        "http://127.0.0.1:4566/",
        body,
        &creds(Some("TOKEN")),
        "eu-west-1",
        "ec2",
        at,
    )
    .unwrap();
    assert_eq!(header(&local, "host"), Some("127.0.0.1:4566"));
    assert_eq!(header(&local, "x-amz-security-token"), Some("TOKEN"));
    let auth = header(&local, "authorization").unwrap();
    assert!(
        auth.contains("/eu-west-1/ec2/aws4_request") && auth.contains("x-amz-security-token"),
        "{auth}"
    );
    assert!(signed_headers("not a url", body, &creds(None), "us-east-1", "ec2", at).is_err());
}

/// One scripted answer: a status and body, or a connector failure.
type Answer = Result<(u16, String), ConnectorErrorKind>;
/// One sent request: URI, headers, body.
type Sent = (String, Vec<(String, String)>, String);

/// An HTTP client that answers from a script and records what it was sent.
#[derive(Debug, Clone, Default)]
struct Scripted {
    answers: Arc<Mutex<VecDeque<Answer>>>,
    sent: Arc<Mutex<Vec<Sent>>>,
}

#[derive(Debug, Clone, Copy)]
enum ConnectorErrorKind {
    Io,
    Refused,
}

impl Scripted {
    fn new(answers: Vec<Answer>) -> Self {
        Scripted {
            answers: Arc::new(Mutex::new(answers.into())),
            sent: Arc::default(),
        }
    }
    fn sent(&self) -> Vec<Sent> {
        self.sent.lock().unwrap().clone()
    }
}

impl HttpConnector for Scripted {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let headers = request
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let body = String::from_utf8(request.body().bytes().unwrap_or_default().to_vec()).unwrap();
        self.sent
            .lock()
            .unwrap()
            .push((request.uri().to_string(), headers, body));
        let answer = self
            .answers
            .lock()
            .unwrap()
            .pop_front()
            .expect("an answer left in the script");
        HttpConnectorFuture::ready(match answer {
            Ok((status, body)) => Ok(HttpResponse::new(
                StatusCode::try_from(status).unwrap(),
                SdkBody::from(body),
            )),
            Err(ConnectorErrorKind::Io) => Err(ConnectorError::io(Box::new(std::io::Error::from(
                std::io::ErrorKind::ConnectionReset,
            )))),
            Err(ConnectorErrorKind::Refused) => {
                Err(ConnectorError::user("refused: not loopback".into()))
            }
        })
    }
}

impl HttpClient for Scripted {
    fn http_connector(
        &self,
        _: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

fn client(http: &Scripted, credentials: bool) -> QueryClient {
    let mut b = SdkConfig::builder()
        .region(Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:4566/")
        .http_client(http.clone())
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1)),
        );
    if credentials {
        b = b.credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKID", "SECRET", None, None, "test",
        )));
    }
    QueryClient::new(&b.build(), Service::EC2)
}

const VPCS: &str = "<DescribeVpcsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>r</requestId><vpcSet/></DescribeVpcsResponse>";

#[tokio::test]
async fn throttling_and_server_errors_are_retried_then_succeed() {
    let http = Scripted::new(vec![
        Ok((
            503,
            ec2_error("RequestLimitExceeded", "Request limit exceeded."),
        )),
        Err(ConnectorErrorKind::Io),
        Ok((200, VPCS.into())),
    ]);
    let q = client(&http, true);
    assert_eq!(q.endpoint(), Some("http://127.0.0.1:4566"));
    let mut p = Params::new();
    p.set("Filter.1.Name", "isDefault")
        .list("Filter.1.Value", ["true"]);
    assert_eq!(q.call("DescribeVpcs", &p).await.unwrap(), VPCS);
    let sent = http.sent();
    assert_eq!(sent.len(), 3);
    for (uri, headers, body) in &sent {
        assert_eq!(uri, "http://127.0.0.1:4566/");
        assert_eq!(
            body,
            "Action=DescribeVpcs&Version=2016-11-15&Filter.1.Name=isDefault&Filter.1.Value.1=true"
        );
        assert_eq!(header(headers, "user-agent"), Some(USER_AGENT));
        assert_eq!(
            header(headers, "content-type"),
            Some("application/x-www-form-urlencoded; charset=utf-8")
        );
        assert!(header(headers, "authorization").is_some_and(
            |a| a.contains("Credential=AKID/") && a.contains("/us-east-1/ec2/aws4_request")
        ));
    }
}

#[tokio::test]
async fn client_errors_are_not_retried_and_retries_are_bounded() {
    let http = Scripted::new(vec![Ok((
        400,
        ec2_error(
            "InvalidGroup.Duplicate",
            "The security group 'x' already exists",
        ),
    ))]);
    let e = client(&http, true)
        .call("CreateSecurityGroup", &Params::new())
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind, e.code.as_deref()),
        (ErrorKind::AlreadyExists, Some("InvalidGroup.Duplicate"))
    );
    assert_eq!(http.sent().len(), 1);

    let http = Scripted::new(vec![
        Ok((
            503,
            ec2_error("RequestLimitExceeded", "slow down")
        ));
        3
    ]);
    let e = client(&http, true)
        .call("DescribeVpcs", &Params::new())
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind, e.code.as_deref()),
        (ErrorKind::Throttling, Some("RequestLimitExceeded"))
    );
    assert_eq!(http.sent().len(), 3, "max_attempts is 3");

    // The HTTP client's own refusal (a loopback guard) is final.
    let http = Scripted::new(vec![Err(ConnectorErrorKind::Refused)]);
    let e = client(&http, true)
        .call("DescribeVpcs", &Params::new())
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Other);
    assert!(e.message.unwrap().contains("not loopback"));
    assert_eq!(http.sent().len(), 1);
}

#[tokio::test]
async fn a_config_without_credentials_or_region_fails_before_sending() {
    let http = Scripted::new(vec![]);
    let e = client(&http, false)
        .call("DescribeVpcs", &Params::new())
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Credentials);
    let no_region = QueryClient::new(
        &SdkConfig::builder().http_client(http.clone()).build(),
        Service::EC2,
    );
    assert_eq!(no_region.endpoint(), None);
    let e = no_region
        .call("DescribeVpcs", &Params::new())
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Validation);
    assert!(http.sent().is_empty());
}
