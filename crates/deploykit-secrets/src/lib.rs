//! Secrets Manager references and values held in types that never print.
//!
//! Values come back as [`SecretString`]: its `Debug` is redacted and it has no `Display`, so a
//! secret cannot reach a log or a progress event by accident.

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::SdkError;
use aws_sdk_secretsmanager::operation::create_secret::CreateSecretError;
use aws_sdk_secretsmanager::operation::put_secret_value::PutSecretValueError;
use deploykit_aws::{Classified, ErrorKind};
pub use secrecy::{ExposeSecret, SecretString};

mod diagnostic;

/// What can go wrong reading or writing a secret.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("Secrets Manager {operation} for `{secret}` failed: {error}")]
    Aws {
        operation: &'static str,
        secret: String,
        error: Classified,
    },
    #[error(
        "{} secret reference(s) under [secrets] do not exist in this account and region: {}",
        missing.len(),
        missing.iter().map(|m| m.to_string()).collect::<Vec<_>>().join("; ")
    )]
    Missing { missing: Vec<MissingSecret> },
    #[error("secret `{secret}` has no string value (binary secrets are not supported)")]
    NotString { secret: String },
    #[error("secret `{secret}` is not the expected JSON {expected}: {reason}")]
    Format {
        secret: String,
        expected: &'static str,
        reason: String,
    },
}

impl SecretsError {
    pub fn classified(&self) -> Option<&Classified> {
        match self {
            SecretsError::Aws { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The references that do not exist, for [`SecretsError::Missing`]; empty otherwise.
    pub fn missing(&self) -> &[MissingSecret] {
        match self {
            SecretsError::Missing { missing } => missing,
            _ => &[],
        }
    }
}

/// One `[secrets]` entry resolved by `DescribeSecret`: the secret's real, full ARN (with the
/// six-character suffix Secrets Manager adds), never one built from a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedSecret {
    /// The environment variable the app reads it from.
    pub env_var: String,
    /// What deploy.toml says: a name or an ARN.
    pub reference: String,
    /// The secret's name.
    pub name: String,
    /// The secret's full ARN.
    pub arn: String,
    /// When the secret (value or metadata) last changed.
    pub last_changed: Option<std::time::SystemTime>,
}

/// A `[secrets]` reference with no usable secret behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingSecret {
    pub env_var: String,
    pub reference: String,
    pub reason: MissingReason,
}

/// Why a reference has no usable secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MissingReason {
    /// `DescribeSecret` answered `ResourceNotFoundException`.
    NotFound,
    /// The secret exists but is scheduled for deletion (no value can be read until it is
    /// restored); `arn` is its ARN.
    ScheduledForDeletion { arn: String },
}

impl std::fmt::Display for MissingSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} = `{}`", self.env_var, self.reference)?;
        match &self.reason {
            MissingReason::NotFound => f.write_str(" (not found)"),
            MissingReason::ScheduledForDeletion { .. } => f.write_str(" (scheduled for deletion)"),
        }
    }
}

/// What `DescribeSecret` said about one reference: found, or missing and why.
pub type RefStatus = Result<ResolvedSecret, MissingSecret>;

/// Whether [`Secrets::put_string`] created the secret or added a new version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    Created,
    Updated,
}

/// The `{"username": ..., "password": ...}` JSON RDS keeps for a managed master user.
#[derive(Debug)]
pub struct UserPassword {
    pub username: String,
    pub password: SecretString,
}

/// Parses RDS's managed master secret. The error never contains the value.
pub fn parse_user_password(
    secret: &str,
    value: &SecretString,
) -> Result<UserPassword, SecretsError> {
    #[derive(serde::Deserialize)]
    struct Raw {
        username: String,
        password: String,
    }
    let expected = r#"{"username": "...", "password": "..."}"#;
    let raw: Raw =
        serde_json::from_str(value.expose_secret()).map_err(|e| SecretsError::Format {
            secret: secret.into(),
            expected,
            // serde_json's messages name positions and types, never the input text.
            reason: format!(
                "{} at line {} column {}",
                classify_json(&e),
                e.line(),
                e.column()
            ),
        })?;
    Ok(UserPassword {
        username: raw.username,
        password: SecretString::from(raw.password),
    })
}

fn classify_json(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "missing or mistyped field `username` or `password`",
        serde_json::error::Category::Eof => "truncated JSON",
    }
}

/// A Secrets Manager client.
#[derive(Debug, Clone)]
pub struct Secrets {
    client: Client,
}

impl Secrets {
    pub fn new(config: &aws_types::SdkConfig) -> Self {
        Secrets {
            client: Client::new(config),
        }
    }

    /// Looks up every reference (`(env var, name or ARN)`) with `DescribeSecret`, in order.
    /// A reference that does not exist (or is scheduled for deletion) is reported as missing
    /// rather than failing; any other error (access denied, throttling) fails.
    pub async fn list_refs(
        &self,
        refs: &[(String, String)],
    ) -> Result<Vec<RefStatus>, SecretsError> {
        let mut out = Vec::with_capacity(refs.len());
        for (env_var, reference) in refs {
            out.push(self.describe_ref(env_var, reference).await?);
        }
        Ok(out)
    }

    /// Resolves every reference to its secret's real ARN. All references are checked; when any
    /// is missing the error is [`SecretsError::Missing`] listing every missing one.
    pub async fn resolve(
        &self,
        refs: &[(String, String)],
    ) -> Result<Vec<ResolvedSecret>, SecretsError> {
        let mut found = Vec::with_capacity(refs.len());
        let mut missing = Vec::new();
        for status in self.list_refs(refs).await? {
            match status {
                Ok(r) => found.push(r),
                Err(m) => missing.push(m),
            }
        }
        if missing.is_empty() {
            Ok(found)
        } else {
            Err(SecretsError::Missing { missing })
        }
    }

    async fn describe_ref(
        &self,
        env_var: &str,
        reference: &str,
    ) -> Result<RefStatus, SecretsError> {
        let out = match self
            .client
            .describe_secret()
            .secret_id(reference)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return Ok(Err(MissingSecret {
                    env_var: env_var.into(),
                    reference: reference.into(),
                    reason: MissingReason::NotFound,
                }));
            }
            Err(e) => {
                return Err(SecretsError::Aws {
                    operation: "DescribeSecret",
                    secret: reference.into(),
                    error: deploykit_aws::classify(&e),
                });
            }
        };
        let arn = out.arn.unwrap_or_default();
        if out.deleted_date.is_some() {
            return Ok(Err(MissingSecret {
                env_var: env_var.into(),
                reference: reference.into(),
                reason: MissingReason::ScheduledForDeletion { arn },
            }));
        }
        if arn.is_empty() {
            return Err(SecretsError::Aws {
                operation: "DescribeSecret",
                secret: reference.into(),
                error: Classified {
                    kind: ErrorKind::Other,
                    code: None,
                    message: Some("the answer carries no ARN".into()),
                    request_id: None,
                },
            });
        }
        Ok(Ok(ResolvedSecret {
            env_var: env_var.into(),
            reference: reference.into(),
            name: out.name.unwrap_or_else(|| reference.into()),
            arn,
            last_changed: out
                .last_changed_date
                .and_then(|d| std::time::SystemTime::try_from(d).ok()),
        }))
    }

    /// Cancels the scheduled deletion of `secret` (`RestoreSecret`), so it can be read and
    /// written again.
    pub async fn restore(&self, secret: &str) -> Result<(), SecretsError> {
        self.client
            .restore_secret()
            .secret_id(secret)
            .send()
            .await
            .map_err(|e| SecretsError::Aws {
                operation: "RestoreSecret",
                secret: secret.into(),
                error: deploykit_aws::classify(&e),
            })?;
        Ok(())
    }

    /// The current string value of `secret` (a name or an ARN).
    pub async fn get_string(&self, secret: &str) -> Result<SecretString, SecretsError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(secret)
            .send()
            .await
            .map_err(|e| SecretsError::Aws {
                operation: "GetSecretValue",
                secret: secret.into(),
                error: deploykit_aws::classify(&e),
            })?;
        out.secret_string
            .map(SecretString::from)
            .ok_or_else(|| SecretsError::NotString {
                secret: secret.into(),
            })
    }

    /// Writes `value` as the current version of `name`, creating the secret when it is missing.
    pub async fn put_string(
        &self,
        name: &str,
        value: &SecretString,
        description: &str,
    ) -> Result<PutOutcome, SecretsError> {
        let put = self
            .client
            .put_secret_value()
            .secret_id(name)
            .secret_string(value.expose_secret())
            .send()
            .await;
        match put {
            Ok(_) => Ok(PutOutcome::Updated),
            Err(e) if is_not_found(&e) => {
                let created = self
                    .client
                    .create_secret()
                    .name(name)
                    .description(description)
                    .secret_string(value.expose_secret())
                    .send()
                    .await;
                match created {
                    Ok(_) => Ok(PutOutcome::Created),
                    // Our create, retried after its answer was lost (or a concurrent writer):
                    // the secret exists now, so this value goes in as its next version.
                    Err(e) if deploykit_aws::classify(&e).kind == ErrorKind::AlreadyExists => self
                        .client
                        .put_secret_value()
                        .secret_id(name)
                        .secret_string(value.expose_secret())
                        .send()
                        .await
                        .map(|_| PutOutcome::Created)
                        .map_err(|e| SecretsError::Aws {
                            operation: "PutSecretValue",
                            secret: name.into(),
                            error: deploykit_aws::classify(&e),
                        }),
                    Err(e) => Err(create_error(name, &e)),
                }
            }
            Err(e) => Err(SecretsError::Aws {
                operation: "PutSecretValue",
                secret: name.into(),
                error: deploykit_aws::classify(&e),
            }),
        }
    }
}

fn is_not_found(
    e: &SdkError<PutSecretValueError, aws_sdk_secretsmanager::config::http::HttpResponse>,
) -> bool {
    deploykit_aws::classify(e).kind == ErrorKind::NotFound
}

fn create_error(
    name: &str,
    e: &SdkError<CreateSecretError, aws_sdk_secretsmanager::config::http::HttpResponse>,
) -> SecretsError {
    SecretsError::Aws {
        operation: "CreateSecret",
        secret: name.into(),
        error: deploykit_aws::classify(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_secret_parses_and_errors_never_show_the_value() {
        let ok = SecretString::from(r#"{"username":"budgetsync","password":"hunter2!"}"#);
        let up = parse_user_password("rds!db-1", &ok).unwrap();
        assert_eq!(up.username, "budgetsync");
        assert_eq!(up.password.expose_secret(), "hunter2!");
        assert!(!format!("{up:?}").contains("hunter2"));
        for bad in [
            r#"{"username":"u"}"#,
            "hunter2-not-json",
            r#"{"username":"u","password":"#,
        ] {
            let err = parse_user_password("rds!db-1", &SecretString::from(bad)).unwrap_err();
            let help = deploykit_report::Diagnostic::help(&err).unwrap_or_default();
            let err = err.to_string();
            assert!(err.contains("rds!db-1"), "{err}");
            assert!(help.contains("store it as JSON like"), "{help}");
            for text in [&err, &help] {
                assert!(!text.contains("hunter2"), "{text}");
            }
        }
    }
}
