//! The one place that builds an [`SdkConfig`] for a target, and classifies AWS errors.
//!
//! * [`sdk_config`] turns a plain [`TargetAws`] into an `SdkConfig`: region, profile, endpoint
//!   override, standard-mode retries, timeouts. A `local` target gets static dummy credentials
//!   and may only talk to a loopback endpoint; every other target uses the normal credential
//!   chain (profile, SSO, environment, web identity) and never dummy credentials.
//! * [`classify`] sorts any `SdkError` into an [`ErrorKind`] using the SDK's error variants and
//!   the service's error code, never the message text; [`ErrorKind::help`] says what to do
//!   next and [`ErrorKind::category`] is its diagnostic class. [`AwsError`] implements
//!   [`deploykit_report::Diagnostic`].

mod classify;
mod diagnostic;
pub mod download;
pub mod http_check;
pub mod query;

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::Credentials;
use aws_types::SdkConfig;
use aws_types::region::Region;

pub use classify::{Classified, ErrorKind, classify};

/// Access key id and secret key of the local target's dummy credentials.
pub const LOCAL_ACCESS_KEY: &str = "test";
/// Provider name attached to the dummy credentials, visible in SDK debug output.
pub const LOCAL_PROVIDER_NAME: &str = "deploykit-local-dummy";
/// Environment variable consulted for a local target without `endpoint_url`.
pub const ENDPOINT_ENV: &str = "AWS_ENDPOINT_URL";

/// The first retry's backoff against AWS (the SDK's own default; later ones grow from it).
const AWS_INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// Against the local cloud on loopback: throttling and faults there are injected, not load to
/// back away from, so retries start sooner (a fault matrix of ~60 retries stays short).
const LOCAL_INITIAL_BACKOFF: Duration = Duration::from_millis(50);

/// Everything needed to reach AWS (or the local cloud) for one target. Plain data, so that
/// crates and tests build it without a deploy.toml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetAws {
    pub region: String,
    /// Named profile; `None` uses `AWS_PROFILE` or `default` through the normal chain.
    pub profile: Option<String>,
    /// Endpoint override for every service. Required for a local target (or `AWS_ENDPOINT_URL`).
    pub endpoint_url: Option<String>,
    /// Dummy credentials and loopback-only endpoints.
    pub local: bool,
    /// Attempts per operation in standard retry mode (1 = no retries).
    pub max_attempts: u32,
    /// Bound on one operation, retries included.
    pub operation_timeout: Duration,
    /// Bound on establishing a connection.
    pub connect_timeout: Duration,
}

impl TargetAws {
    /// Defaults: 5 attempts, 5 minute operation timeout, 10 second connect timeout.
    pub fn new(region: impl Into<String>) -> Self {
        TargetAws {
            region: region.into(),
            profile: None,
            endpoint_url: None,
            local: false,
            max_attempts: 5,
            operation_timeout: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(10),
        }
    }

    /// The local cloud at `endpoint_url` with dummy credentials.
    pub fn local(region: impl Into<String>, endpoint_url: impl Into<String>) -> Self {
        TargetAws {
            local: true,
            endpoint_url: Some(endpoint_url.into()),
            ..TargetAws::new(region)
        }
    }
}

/// Errors building an AWS configuration, or checking who the credentials are. Advice is in
/// [`deploykit_report::Diagnostic::help`].
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error(
        "the local target has no endpoint: neither its `endpoint_url` nor {ENDPOINT_ENV} is set"
    )]
    LocalEndpointMissing,
    #[error(
        "refusing endpoint `{url}` for a local target: host `{host}` is not a loopback address, and local targets use dummy credentials that must never leave this machine"
    )]
    NotLoopback { url: String, host: String },
    #[error("endpoint `{url}` is not a usable URL: {reason}")]
    InvalidEndpoint { url: String, reason: String },
    #[error("region `{region}` is not an AWS region code")]
    InvalidRegion { region: String },
    #[error("{field} is {value}; it must be at least {min}")]
    InvalidSetting {
        field: &'static str,
        value: String,
        min: String,
    },
    #[error("STS GetCallerIdentity failed: {error}")]
    CallerIdentity { error: Classified },
    #[error(
        "the credentials belong to account {actual} ({arn}), but the target expects account {expected}"
    )]
    WrongAccount {
        expected: String,
        actual: String,
        arn: String,
    },
}

/// Who the credentials are: STS `GetCallerIdentity`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CallerIdentity {
    /// The 12-digit account id.
    pub account: String,
    /// The principal's ARN (user, assumed role session, root).
    pub arn: String,
    /// The principal's unique id.
    pub user_id: String,
}

impl CallerIdentity {
    /// Refuses when `expected` (a target's `account_id`) is set and is not this account.
    pub fn check_account(&self, expected: Option<&str>) -> Result<(), AwsError> {
        match expected {
            Some(e) if e != self.account => Err(AwsError::WrongAccount {
                expected: e.to_owned(),
                actual: self.account.clone(),
                arn: self.arn.clone(),
            }),
            _ => Ok(()),
        }
    }
}

impl std::fmt::Display for CallerIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "account {} as {}", self.account, self.arn)
    }
}

/// Asks STS who the configured credentials are (one `GetCallerIdentity` call; it needs no
/// IAM permission and cannot be denied by a policy).
pub async fn caller_identity(sdk: &SdkConfig) -> Result<CallerIdentity, AwsError> {
    let out = aws_sdk_sts::Client::new(sdk)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| AwsError::CallerIdentity {
            error: classify(&e),
        })?;
    let missing = |what: &str| AwsError::CallerIdentity {
        error: Classified {
            kind: ErrorKind::Other,
            code: None,
            message: Some(format!("the answer carries no {what}")),
            request_id: None,
        },
    };
    Ok(CallerIdentity {
        account: out.account.ok_or_else(|| missing("account"))?,
        arn: out.arn.ok_or_else(|| missing("ARN"))?,
        user_id: out.user_id.unwrap_or_default(),
    })
}

/// Where the credentials of a target come from. Decided without touching any provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialsSource {
    /// Static `test`/`test` keys; local targets only.
    LocalDummy,
    /// The SDK's default chain (profile, SSO, environment, web identity, container, IMDS).
    DefaultChain,
}

/// The credentials source a target gets: dummy keys exactly when it is local.
pub fn credentials_source(t: &TargetAws) -> CredentialsSource {
    if t.local {
        CredentialsSource::LocalDummy
    } else {
        CredentialsSource::DefaultChain
    }
}

/// Refuses any URL whose host is not loopback (127.0.0.0/8, ::1, `localhost`).
pub fn ensure_loopback(url: &str) -> Result<(), AwsError> {
    let parsed = parse_endpoint(url)?;
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    if loopback {
        Ok(())
    } else {
        Err(AwsError::NotLoopback {
            url: url.to_owned(),
            host: parsed.host_str().unwrap_or("").to_owned(),
        })
    }
}

fn parse_endpoint(url: &str) -> Result<url::Url, AwsError> {
    let invalid = |reason: String| AwsError::InvalidEndpoint {
        url: url.to_owned(),
        reason,
    };
    let parsed = url::Url::parse(url).map_err(|e| invalid(e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "scheme `{}` is not http or https",
            parsed.scheme()
        )));
    }
    if parsed.host().is_none() {
        return Err(invalid("it has no host".to_owned()));
    }
    Ok(parsed)
}

/// Whether `s` is shaped like an AWS region code: `us-east-1`, `ap-southeast-2`,
/// `us-gov-west-1` (two lowercase letters, one or two lowercase words, a number of 1-2 digits).
pub fn is_region_code(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let word = |p: &&str| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase());
    (3..=4).contains(&parts.len())
        && parts[0].len() == 2
        && word(&parts[0])
        && parts[1..parts.len() - 1].iter().all(word)
        && parts
            .last()
            .is_some_and(|p| !p.is_empty() && p.len() <= 2 && p.chars().all(|c| c.is_ascii_digit()))
}

/// Builds the SDK configuration for a target. Touches no network: credentials are resolved
/// lazily by the first call that needs them.
pub async fn sdk_config(t: &TargetAws) -> Result<SdkConfig, AwsError> {
    let env_endpoint = std::env::var(ENDPOINT_ENV).ok().filter(|s| !s.is_empty());
    Ok(loader(t, env_endpoint, None)?.load().await)
}

/// The loader for `t`, with the endpoint environment variable and profile files passed in so
/// that tests control them.
fn loader(
    t: &TargetAws,
    env_endpoint: Option<String>,
    profile_files: Option<aws_runtime::env_config::file::EnvConfigFiles>,
) -> Result<aws_config::ConfigLoader, AwsError> {
    if !is_region_code(&t.region) {
        return Err(AwsError::InvalidRegion {
            region: t.region.clone(),
        });
    }
    if t.max_attempts == 0 {
        return Err(AwsError::InvalidSetting {
            field: "max_attempts",
            value: "0".into(),
            min: "1".into(),
        });
    }
    for (field, d) in [
        ("operation_timeout", t.operation_timeout),
        ("connect_timeout", t.connect_timeout),
    ] {
        if d.is_zero() {
            return Err(AwsError::InvalidSetting {
                field,
                value: "0s".into(),
                min: "1ms".into(),
            });
        }
    }

    let mut l = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(t.region.clone()))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(t.max_attempts)
                .with_initial_backoff(if t.local {
                    LOCAL_INITIAL_BACKOFF
                } else {
                    AWS_INITIAL_BACKOFF
                }),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(t.connect_timeout)
                .operation_timeout(t.operation_timeout)
                .build(),
        );
    if let Some(files) = profile_files {
        l = l.profile_files(files);
    }
    match credentials_source(t) {
        CredentialsSource::LocalDummy => {
            let endpoint = t
                .endpoint_url
                .clone()
                .or(env_endpoint)
                .ok_or(AwsError::LocalEndpointMissing)?;
            ensure_loopback(&endpoint)?;
            let dummy = Credentials::new(
                LOCAL_ACCESS_KEY,
                LOCAL_ACCESS_KEY,
                None,
                None,
                LOCAL_PROVIDER_NAME,
            );
            l = l.credentials_provider(dummy).endpoint_url(endpoint);
        }
        CredentialsSource::DefaultChain => {
            if let Some(p) = &t.profile {
                l = l.profile_name(p);
            }
            if let Some(e) = &t.endpoint_url {
                parse_endpoint(e)?;
                l = l.endpoint_url(e);
            }
        }
    }
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::provider::ProvideCredentials;
    use aws_runtime::env_config::file::{
        EnvConfigFileKind as ProfileFileKind, EnvConfigFiles as ProfileFiles,
    };

    #[test]
    fn loopback_guard() {
        let cases = [
            ("http://127.0.0.1:4566", true),
            ("http://127.1.2.3:4566/", true),
            ("http://localhost:4566", true),
            ("http://LOCALHOST", true),
            ("http://[::1]:4566", true),
            ("https://s3.us-east-1.amazonaws.com", false),
            ("http://10.0.0.5:4566", false),
            ("http://localhost.evil.example", false),
            ("http://0.0.0.0:4566", false),
        ];
        for (url, ok) in cases {
            assert_eq!(ensure_loopback(url).is_ok(), ok, "{url}");
        }
        assert!(matches!(
            ensure_loopback("ftp://127.0.0.1"),
            Err(AwsError::InvalidEndpoint { .. })
        ));
        assert!(matches!(
            ensure_loopback("not a url"),
            Err(AwsError::InvalidEndpoint { .. })
        ));
    }

    #[tokio::test]
    async fn local_target_refuses_remote_endpoints() {
        let remote = TargetAws::local(
            "us-east-1",
            "https://elasticbeanstalk.us-east-1.amazonaws.com",
        );
        let err = sdk_config(&remote).await.unwrap_err();
        assert!(
            matches!(err, AwsError::NotLoopback { ref host, .. } if host == "elasticbeanstalk.us-east-1.amazonaws.com")
        );
        assert!(!err.to_string().contains("fix:"));
        assert!(
            deploykit_report::Diagnostic::help(&err).is_some_and(|h| h.contains("127.0.0.1")),
            "{err:?}"
        );

        // A remote endpoint from the environment is refused as well.
        let no_endpoint = TargetAws {
            endpoint_url: None,
            ..TargetAws::local("us-east-1", "")
        };
        let err = loader(&no_endpoint, Some("http://203.0.113.9:4566".into()), None).unwrap_err();
        assert!(matches!(err, AwsError::NotLoopback { .. }));
        let err = loader(&no_endpoint, None, None).unwrap_err();
        assert!(matches!(err, AwsError::LocalEndpointMissing));
        assert!(loader(&no_endpoint, Some("http://127.0.0.1:4566".into()), None).is_ok());
    }

    #[tokio::test]
    async fn local_target_gets_dummy_credentials_and_endpoint() {
        let t = TargetAws::local("us-east-1", "http://127.0.0.1:4566");
        assert_eq!(credentials_source(&t), CredentialsSource::LocalDummy);
        let cfg = sdk_config(&t).await.unwrap();
        assert_eq!(cfg.endpoint_url(), Some("http://127.0.0.1:4566"));
        assert_eq!(cfg.region().map(|r| r.as_ref()), Some("us-east-1"));
        let creds = cfg
            .credentials_provider()
            .unwrap()
            .provide_credentials()
            .await
            .unwrap();
        assert_eq!(creds.access_key_id(), LOCAL_ACCESS_KEY);
        assert_eq!(creds.secret_access_key(), LOCAL_ACCESS_KEY);
        let retry = cfg.retry_config().unwrap();
        assert_eq!(retry.max_attempts(), 5);
        let timeouts = cfg.timeout_config().unwrap();
        assert_eq!(timeouts.operation_timeout(), Some(Duration::from_secs(300)));
        assert_eq!(timeouts.connect_timeout(), Some(Duration::from_secs(10)));
    }

    #[tokio::test]
    async fn non_local_target_never_gets_dummy_credentials() {
        let t = TargetAws {
            profile: Some("budgetsync-dev".into()),
            ..TargetAws::new("us-east-1")
        };
        assert_eq!(credentials_source(&t), CredentialsSource::DefaultChain);
        // The chain reads this in-memory profile: static keys, so no network is touched.
        let files = ProfileFiles::builder()
            .include_default_config_file(false)
            .include_default_credentials_file(false)
            .with_contents(ProfileFileKind::Config, "[profile budgetsync-dev]\nregion = us-east-1\n")
            .with_contents(
                ProfileFileKind::Credentials,
                "[budgetsync-dev]\naws_access_key_id = AKIDFROMPROFILE\naws_secret_access_key = fromprofile\n",
            )
            .build();
        let cfg = loader(&t, None, Some(files)).unwrap().load().await;
        assert_eq!(cfg.endpoint_url(), None);
        let creds = cfg
            .credentials_provider()
            .unwrap()
            .provide_credentials()
            .await
            .unwrap();
        assert_ne!(creds.access_key_id(), LOCAL_ACCESS_KEY);
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            assert_eq!(creds.access_key_id(), "AKIDFROMPROFILE");
        }
    }

    #[tokio::test]
    async fn settings_are_validated() {
        let bad_region = TargetAws::local("useast1", "http://127.0.0.1:4566");
        assert!(matches!(
            sdk_config(&bad_region).await,
            Err(AwsError::InvalidRegion { .. })
        ));
        let zero = TargetAws {
            max_attempts: 0,
            ..TargetAws::local("us-east-1", "http://127.0.0.1:4566")
        };
        assert!(matches!(
            sdk_config(&zero).await,
            Err(AwsError::InvalidSetting {
                field: "max_attempts",
                ..
            })
        ));
        let t = TargetAws {
            max_attempts: 2,
            operation_timeout: Duration::from_secs(7),
            ..TargetAws::local("eu-west-1", "http://localhost:4566")
        };
        let cfg = sdk_config(&t).await.unwrap();
        assert_eq!(cfg.retry_config().unwrap().max_attempts(), 2);
        assert_eq!(
            cfg.retry_config().unwrap().initial_backoff(),
            LOCAL_INITIAL_BACKOFF
        );
        assert_eq!(
            cfg.timeout_config().unwrap().operation_timeout(),
            Some(Duration::from_secs(7))
        );
    }

    #[test]
    fn account_mismatch_is_refused_naming_both() {
        let me = CallerIdentity {
            account: "123456789012".into(),
            arn: "arn:aws:iam::123456789012:user/ci".into(),
            user_id: "AIDA".into(),
        };
        assert!(me.check_account(None).is_ok());
        assert!(me.check_account(Some("123456789012")).is_ok());
        let err = me.check_account(Some("210987654321")).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, AwsError::WrongAccount { .. }));
        assert!(
            msg.contains("123456789012") && msg.contains("210987654321"),
            "{msg}"
        );
        assert_eq!(
            me.to_string(),
            "account 123456789012 as arn:aws:iam::123456789012:user/ci"
        );
    }

    #[test]
    fn region_codes() {
        for (s, ok) in [
            ("us-east-1", true),
            ("eu-central-2", true),
            ("ap-southeast-2", true),
            ("us-gov-west-1", true),
            ("il-central-1", true),
            ("useast1", false),
            ("us-east", false),
            ("US-EAST-1", false),
            ("us-east-123", false),
            ("use-east-1", false),
            ("us--1", false),
            ("", false),
        ] {
            assert_eq!(is_region_code(s), ok, "{s}");
        }
    }
}
