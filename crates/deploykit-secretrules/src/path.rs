//! Secret-looking file names and paths. Pure: no I/O.

use crate::{Finding, Rule};

/// Suffixes of env files that are templates: committed on purpose, judged by their contents.
const ENV_TEMPLATE_SUFFIXES: &[&str] = &[".example", ".sample", ".template", ".dist"];

/// Key and certificate-bundle extensions (lower case, without the dot).
const KEY_EXTENSIONS: &[&str] = &[
    "pem", "key", "p12", "pfx", "p8", "jks", "keystore", "ppk", "pkcs12",
];

/// OpenSSH private key file names (and their `.pub`, `-cert.pub` siblings).
const SSH_KEY_PREFIXES: &[&str] = &["id_rsa", "id_dsa", "id_ecdsa", "id_ed25519"];

/// Exact (lower-case) file names of credential files.
const CREDENTIAL_NAMES: &[&str] = &[
    "credentials",
    "credentials.json",
    "credentials.yml",
    "credentials.yaml",
    "credentials.csv",
    "credentials.toml",
    ".netrc",
    "_netrc",
    ".pgpass",
    ".npmrc",
    ".pypirc",
    ".git-credentials",
    ".htpasswd",
    ".s3cfg",
    ".boto",
    "secrets.json",
    "secrets.yml",
    "secrets.yaml",
    "secrets.toml",
];

/// Extensions (lower case) of files that hold credentials whatever their name.
const CREDENTIAL_EXTENSIONS: &[&str] = &["tfstate", "kdbx"];

/// Directories whose every file is a credential: (directory, rule, shown pattern).
const SECRET_DIRS: &[(&str, Rule, &str)] = &[
    (".ssh", Rule::SshKey, ".ssh/"),
    (".aws", Rule::ToolCredentials, ".aws/"),
    (".gnupg", Rule::ToolCredentials, ".gnupg/"),
    (".azure", Rule::ToolCredentials, ".azure/"),
];

/// `(directory, file)` pairs that are a tool's credential store.
const TOOL_FILES: &[(&str, &str, &str)] = &[
    (".docker", "config.json", ".docker/config.json"),
    (".kube", "config", ".kube/config"),
];

/// The lower-case, non-empty components of a `/`-separated relative path (`\` counts as a
/// separator too, `.` components are dropped).
fn components(rel: &str) -> Vec<String> {
    rel.split(['/', '\\'])
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_ascii_lowercase)
        .collect()
}

/// Whether a file name is an env template (`.env.example`, `prod.env.sample`, ...).
fn is_env_template(base: &str) -> bool {
    let stem = ENV_TEMPLATE_SUFFIXES
        .iter()
        .find_map(|s| base.strip_suffix(s));
    stem.is_some_and(|s| s == ".env" || s.starts_with(".env.") || s.ends_with(".env"))
}

/// Whether a (lower-case) base name is an env file by name, templates included.
fn is_env_name(base: &str) -> bool {
    base == ".env"
        || base == ".envrc"
        || base.starts_with(".env.")
        || (base.len() > 4 && base.ends_with(".env"))
        || is_env_template(base)
}

/// Whether `rel` is an env-style file (`KEY=value` lines): `.env*`, `*.env`, `.envrc`,
/// `.flaskenv` and the env templates. Their contents get the [`Rule::SecretAssignment`] check.
pub fn is_env_style(rel: &str) -> bool {
    components(rel)
        .last()
        .is_some_and(|b| is_env_name(b) || b == ".flaskenv")
}

/// The secret rule a file's path matches, if any. `rel` is relative to the app directory,
/// `/`-separated; matching is case-insensitive. Env templates are not secret by name (their
/// contents decide, see the crate docs).
pub fn classify_path(rel: &str) -> Option<Finding> {
    let parts = components(rel);
    let (base, dirs) = parts.split_last()?;
    for (i, d) in dirs.iter().enumerate() {
        if let Some((_, rule, shown)) = SECRET_DIRS.iter().find(|(n, ..)| n == d) {
            return Some(Finding::path(*rule, shown));
        }
        if d == ".config" && dirs.get(i + 1).is_some_and(|n| n == "gcloud") {
            return Some(Finding::path(Rule::ToolCredentials, ".config/gcloud/"));
        }
    }
    if let Some(parent) = dirs.last()
        && let Some((.., shown)) = TOOL_FILES.iter().find(|(d, f, _)| d == parent && f == base)
    {
        return Some(Finding::path(Rule::ToolCredentials, shown));
    }
    if base == ".dockercfg" {
        return Some(Finding::path(Rule::ToolCredentials, ".dockercfg"));
    }
    if is_env_name(base) && !is_env_template(base) {
        let shown = match base.as_str() {
            ".envrc" => ".envrc",
            b if b.starts_with(".env") => ".env*",
            _ => "*.env",
        };
        return Some(Finding::path(Rule::EnvFile, shown));
    }
    if let Some(p) = SSH_KEY_PREFIXES.iter().find(|p| base.starts_with(*p)) {
        return Some(Finding {
            matched: format!("{p}*"),
            ..Finding::path(Rule::SshKey, "")
        });
    }
    if let Some(n) = CREDENTIAL_NAMES.iter().find(|n| *n == base) {
        return Some(Finding::path(Rule::CredentialsFile, n));
    }
    if base.ends_with("_accesskeys.csv") {
        return Some(Finding::path(Rule::CredentialsFile, "*_accessKeys.csv"));
    }
    if base.ends_with(".tfstate.backup") {
        return Some(Finding::path(Rule::CredentialsFile, "*.tfstate.backup"));
    }
    let ext = match base.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext,
        _ => return None,
    };
    if let Some(e) = KEY_EXTENSIONS.iter().find(|e| **e == ext) {
        return Some(Finding {
            matched: format!("*.{e}"),
            ..Finding::path(Rule::KeyFile, "")
        });
    }
    if let Some(e) = CREDENTIAL_EXTENSIONS.iter().find(|e| **e == ext) {
        return Some(Finding {
            matched: format!("*.{e}"),
            ..Finding::path(Rule::CredentialsFile, "")
        });
    }
    None
}

/// The secret rule a *directory* matches (a symlink's target that is a directory): the
/// directory is, or is inside, a credential store (`.ssh`, `.aws`, `.gnupg`, `.azure`,
/// `.docker`, `.kube`, `.config/gcloud`).
pub fn classify_dir(rel: &str) -> Option<Finding> {
    let parts = components(rel);
    if let Some(f) = classify_path(&format!("{}/x", parts.join("/"))) {
        return Some(f);
    }
    for (i, d) in parts.iter().enumerate() {
        if d == ".docker" || d == ".kube" {
            return Some(Finding::path(Rule::ToolCredentials, &format!("{d}/")));
        }
        if d == ".config" && parts.get(i + 1).is_some_and(|n| n == "gcloud") {
            return Some(Finding::path(Rule::ToolCredentials, ".config/gcloud/"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (path, the rule that fires and the pattern it names, or None).
    const PATHS: &[(&str, Option<(Rule, &str)>)] = &[
        // env files, merged from the bundle and image rule sets
        (".env", Some((Rule::EnvFile, ".env*"))),
        ("config/.env.production", Some((Rule::EnvFile, ".env*"))),
        (".ENV.Local", Some((Rule::EnvFile, ".env*"))),
        (".envrc", Some((Rule::EnvFile, ".envrc"))),
        ("deploy/prod.env", Some((Rule::EnvFile, "*.env"))),
        ("a/.env.local.bak", Some((Rule::EnvFile, ".env*"))),
        // templates: judged by content, never by name (the bundle and the image now agree)
        (".env.example", None),
        ("app/.env.sample", None),
        (".env.template", None),
        (".env.dist", None),
        (".ENV.EXAMPLE", None),
        ("prod.env.example", None),
        (".flaskenv", None),
        ("environment.py", None),
        ("env/bin/python", None),
        (".environment", None),
        // keys and certificate bundles
        ("certs/server.pem", Some((Rule::KeyFile, "*.pem"))),
        ("certs/SERVER.PEM", Some((Rule::KeyFile, "*.pem"))),
        ("tls.key", Some((Rule::KeyFile, "*.key"))),
        ("config/master.key", Some((Rule::KeyFile, "*.key"))),
        ("store.p12", Some((Rule::KeyFile, "*.p12"))),
        ("a/b.PFX", Some((Rule::KeyFile, "*.pfx"))),
        ("AuthKey_ABC.p8", Some((Rule::KeyFile, "*.p8"))),
        ("android/release.jks", Some((Rule::KeyFile, "*.jks"))),
        ("putty.ppk", Some((Rule::KeyFile, "*.ppk"))),
        (".key", None),
        ("keys.py", None),
        ("monkey.txt", None),
        ("keyboard.key.json", None),
        ("certs/ca.crt", None),
        // SSH
        ("id_rsa", Some((Rule::SshKey, "id_rsa*"))),
        ("keys/id_rsa.pub", Some((Rule::SshKey, "id_rsa*"))),
        ("deploy/ID_ED25519", Some((Rule::SshKey, "id_ed25519*"))),
        ("id_ecdsa_sk", Some((Rule::SshKey, "id_ecdsa*"))),
        ("home/.ssh/config", Some((Rule::SshKey, ".ssh/"))),
        (".ssh/authorized_keys", Some((Rule::SshKey, ".ssh/"))),
        ("docs/valid_rsa.txt", None),
        ("ssh/config", None),
        // credential files
        ("credentials", Some((Rule::CredentialsFile, "credentials"))),
        (
            "config/credentials",
            Some((Rule::CredentialsFile, "credentials")),
        ),
        (
            "config/Credentials.json",
            Some((Rule::CredentialsFile, "credentials.json")),
        ),
        (".netrc", Some((Rule::CredentialsFile, ".netrc"))),
        (".pgpass", Some((Rule::CredentialsFile, ".pgpass"))),
        ("frontend/.npmrc", Some((Rule::CredentialsFile, ".npmrc"))),
        (".pypirc", Some((Rule::CredentialsFile, ".pypirc"))),
        (
            ".git-credentials",
            Some((Rule::CredentialsFile, ".git-credentials")),
        ),
        (
            "nginx/.htpasswd",
            Some((Rule::CredentialsFile, ".htpasswd")),
        ),
        (
            "config/secrets.yml",
            Some((Rule::CredentialsFile, "secrets.yml")),
        ),
        (
            "ci_accessKeys.csv",
            Some((Rule::CredentialsFile, "*_accessKeys.csv")),
        ),
        (
            "infra/terraform.tfstate",
            Some((Rule::CredentialsFile, "*.tfstate")),
        ),
        (
            "infra/terraform.tfstate.backup",
            Some((Rule::CredentialsFile, "*.tfstate.backup")),
        ),
        ("credentials.yml.enc", None),
        ("app/credentials.py", None),
        ("secrets.py", None),
        ("docs/credentials.md", None),
        // tool credential stores, directory-aware
        (".aws/credentials", Some((Rule::ToolCredentials, ".aws/"))),
        ("home/.aws/config", Some((Rule::ToolCredentials, ".aws/"))),
        (
            ".docker/config.json",
            Some((Rule::ToolCredentials, ".docker/config.json")),
        ),
        (
            "x/.Docker/Config.json",
            Some((Rule::ToolCredentials, ".docker/config.json")),
        ),
        (
            ".kube/config",
            Some((Rule::ToolCredentials, ".kube/config")),
        ),
        (
            ".gnupg/private-keys-v1.d/a.key",
            Some((Rule::ToolCredentials, ".gnupg/")),
        ),
        (
            ".config/gcloud/application_default_credentials.json",
            Some((Rule::ToolCredentials, ".config/gcloud/")),
        ),
        (".dockercfg", Some((Rule::ToolCredentials, ".dockercfg"))),
        ("config.json", None),
        ("docker/config.json", None),
        (".docker/daemon.json", None),
        ("kube/config", None),
        ("aws/credentials.md", None),
        // odd input
        ("", None),
        ("./.env", Some((Rule::EnvFile, ".env*"))),
        ("a\\.env", Some((Rule::EnvFile, ".env*"))),
    ];

    #[test]
    fn paths() {
        for (path, want) in PATHS {
            let got = classify_path(path).map(|f| (f.rule, f.matched));
            let want = want.map(|(r, m)| (r, m.to_string()));
            assert_eq!(got, want, "{path:?}");
        }
    }

    #[test]
    fn env_style() {
        for p in [
            ".env",
            ".env.example",
            "a/prod.env",
            ".envrc",
            ".flaskenv",
            ".ENV.dist",
        ] {
            assert!(is_env_style(p), "{p}");
        }
        for p in [
            "env.py",
            "environment",
            "a.envx",
            "requirements.txt",
            ".env/x",
        ] {
            assert!(!is_env_style(p), "{p}");
        }
    }

    #[test]
    fn dirs() {
        let cases: &[(&str, Option<Rule>)] = &[
            (".ssh", Some(Rule::SshKey)),
            ("home/.ssh", Some(Rule::SshKey)),
            (".aws", Some(Rule::ToolCredentials)),
            (".docker", Some(Rule::ToolCredentials)),
            (".kube", Some(Rule::ToolCredentials)),
            (".config/gcloud", Some(Rule::ToolCredentials)),
            (".config", None),
            ("static", None),
            ("lib", None),
        ];
        for (d, want) in cases {
            assert_eq!(classify_dir(d).map(|f| f.rule), *want, "{d}");
        }
    }
}
