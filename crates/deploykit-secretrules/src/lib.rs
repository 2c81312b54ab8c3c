//! The one secret rule set of deploykit: which files and contents look like secrets, which
//! variable names hold secrets, and how a secret value is shown.
//!
//! - [`classify_path`]: secret-looking file names and paths (`.env`, `*.key`, `.netrc`,
//!   `.aws/credentials`, `.docker/config.json`, ...), case-insensitive and directory-aware.
//! - [`scan_content`] / [`scan_file_content`]: private key blocks, AWS access key ids and secret
//!   keys, URLs with a password, known token formats, and (in env-style files only) secret
//!   variables assigned a literal. Bounded ([`SCAN_LIMIT`]), binaries skipped; a [`Finding`]
//!   names the line and byte offset, never the value.
//! - [`is_secret_name`]: the one "looks secret" rule for environment variable names.
//! - [`mask`] / [`mask_if_secret`]: the one masking rule for output.
//! - [`fs`]: the file-system side both the source bundle and the image context use, so the
//!   same tree gets the same verdict: bounded file scans and symlink checks (a link whose
//!   target is a secret, outside the app, or missing is refused with link and target named).
//!
//! Env templates (`.env.example`, `.env.sample`, `.env.template`, `.env.dist`) are not secret
//! by name: they document which variables an app reads and are meant to be committed. Whether
//! one may ship is decided by its contents, like any env-style file: a secret-named variable
//! with an empty value or a placeholder (`<secret-key>`, `${SECRET}`, `changeme`) is fine, one
//! with a real-looking value is a [`Rule::SecretAssignment`].

pub mod content;
pub mod fs;
pub mod names;
pub mod path;

#[doc(hidden)]
pub mod fixtures;

use std::fmt;

use serde::Serialize;

pub use content::{SCAN_LIMIT, is_binary, scan_content, scan_file_content};
pub use names::{MASK, is_secret_name, mask, mask_if_secret, redact_known, url_has_password};
pub use path::{classify_dir, classify_path, is_env_style};

/// Why something looks like a secret: one rule of the set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    // ---- file names and paths ----
    /// `.env`, `.env.production`, `prod.env`, `.envrc`: environment files.
    EnvFile,
    /// `*.pem`, `*.key`, `*.p12`, `*.pfx`, `*.p8`, `*.jks`, `*.keystore`, `*.ppk`.
    KeyFile,
    /// `id_rsa*`, `id_ed25519*`, ..., and anything under `.ssh/`.
    SshKey,
    /// `credentials`, `.netrc`, `.pgpass`, `.npmrc`, `.pypirc`, `.git-credentials`,
    /// `.htpasswd`, `secrets.{json,yml,yaml,toml}`, Terraform state, password databases.
    CredentialsFile,
    /// A tool's credential store: `.aws/`, `.docker/config.json`, `.kube/config`, `.gnupg/`,
    /// `.config/gcloud/`, `.azure/`.
    ToolCredentials,
    // ---- contents ----
    /// A `-----BEGIN ... PRIVATE KEY-----` block.
    PrivateKeyBlock,
    /// An AWS access key id (`AKIA...`, `ASIA...`: 4 letters and 16 more).
    AwsAccessKeyId,
    /// `aws_secret_access_key = <40 characters>`.
    AwsSecretAccessKey,
    /// A URL with a password in it: `postgresql://user:password@host/db`.
    UrlPassword,
    /// A token in a well-known format (GitHub, GitLab, Slack, Stripe live, Google API, npm).
    ServiceToken,
    /// A secret-named variable (`*_KEY`, `*_SECRET`, `*_TOKEN`, `PASSWORD`, ...) assigned a
    /// literal value in an env-style file.
    SecretAssignment,
}

impl Rule {
    /// Every rule, in declaration order.
    pub const ALL: [Rule; 11] = [
        Rule::EnvFile,
        Rule::KeyFile,
        Rule::SshKey,
        Rule::CredentialsFile,
        Rule::ToolCredentials,
        Rule::PrivateKeyBlock,
        Rule::AwsAccessKeyId,
        Rule::AwsSecretAccessKey,
        Rule::UrlPassword,
        Rule::ServiceToken,
        Rule::SecretAssignment,
    ];

    /// A stable kebab-case id (`env-file`, `private-key-block`), as serialized.
    pub fn id(self) -> &'static str {
        match self {
            Rule::EnvFile => "env-file",
            Rule::KeyFile => "key-file",
            Rule::SshKey => "ssh-key",
            Rule::CredentialsFile => "credentials-file",
            Rule::ToolCredentials => "tool-credentials",
            Rule::PrivateKeyBlock => "private-key-block",
            Rule::AwsAccessKeyId => "aws-access-key-id",
            Rule::AwsSecretAccessKey => "aws-secret-access-key",
            Rule::UrlPassword => "url-password",
            Rule::ServiceToken => "service-token",
            Rule::SecretAssignment => "secret-assignment",
        }
    }

    /// Whether the rule judges a path (true) or contents (false).
    pub fn is_path_rule(self) -> bool {
        matches!(
            self,
            Rule::EnvFile
                | Rule::KeyFile
                | Rule::SshKey
                | Rule::CredentialsFile
                | Rule::ToolCredentials
        )
    }

    /// What the rule catches, as the user would say it.
    pub fn describe(self) -> &'static str {
        match self {
            Rule::EnvFile => "environment files (`.env*`, `*.env`, `.envrc`) hold secrets",
            Rule::KeyFile => {
                "key and certificate files (`*.pem`, `*.key`, `*.p12`, `*.pfx`, ...) hold private keys"
            }
            Rule::SshKey => "SSH keys (`id_rsa*`, `id_ed25519*`, `.ssh/`)",
            Rule::CredentialsFile => {
                "credential files (`credentials`, `.netrc`, `.pgpass`, `.npmrc`, `.git-credentials`, ...) hold passwords and tokens"
            }
            Rule::ToolCredentials => {
                "a tool's credential store (`.aws/`, `.docker/config.json`, `.kube/config`, `.gnupg/`, ...)"
            }
            Rule::PrivateKeyBlock => "contains a `-----BEGIN ... PRIVATE KEY-----` block",
            Rule::AwsAccessKeyId => "contains an AWS access key id (AKIA.../ASIA...)",
            Rule::AwsSecretAccessKey => "contains an `aws_secret_access_key` value",
            Rule::UrlPassword => "contains a URL with a password (`scheme://user:password@host`)",
            Rule::ServiceToken => "contains an API token in a well-known format",
            Rule::SecretAssignment => "assigns a literal value to a secret-named variable",
        }
    }

    /// How to fix it, without naming a front end. The caller adds its ignore file's name.
    pub fn advice(self) -> &'static str {
        match self {
            Rule::EnvFile
            | Rule::KeyFile
            | Rule::SshKey
            | Rule::CredentialsFile
            | Rule::ToolCredentials => {
                "keep the file out of the app: delete it or list it in the ignore file, and keep \
                 its values in Secrets Manager; rename it if it holds no secret"
            }
            Rule::SecretAssignment => {
                "leave the value empty or write a placeholder (`<secret-key>`) and keep the real \
                 value in Secrets Manager; rotate it, it has been on disk in the app"
            }
            Rule::PrivateKeyBlock
            | Rule::AwsAccessKeyId
            | Rule::AwsSecretAccessKey
            | Rule::UrlPassword
            | Rule::ServiceToken => {
                "remove the value from the file and read it from the environment (Secrets \
                 Manager), or list the file in the ignore file; rotate the credential, it has \
                 been on disk in the app"
            }
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// One rule that fired, with where. Never carries the secret value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Finding {
    pub rule: Rule,
    /// What matched, never the value: the name pattern (`*.key`, `.aws/`), the variable name of
    /// an assignment, the kind of key block (`RSA PRIVATE KEY`), the URL scheme.
    pub matched: String,
    /// 1-based line of a content finding.
    pub line: Option<usize>,
    /// Byte offset of a content finding from the start of the file.
    pub offset: Option<usize>,
}

impl Finding {
    pub(crate) fn path(rule: Rule, matched: &str) -> Self {
        Finding {
            rule,
            matched: matched.to_string(),
            line: None,
            offset: None,
        }
    }

    /// The rule's advice ([`Rule::advice`]).
    pub fn advice(&self) -> &'static str {
        self.rule.advice()
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(
                f,
                "line {line}: {} ({}, rule {})",
                self.rule.describe(),
                self.matched,
                self.rule
            ),
            None => write!(
                f,
                "{} (matches `{}`, rule {})",
                self.rule.describe(),
                self.matched,
                self.rule
            ),
        }
    }
}
