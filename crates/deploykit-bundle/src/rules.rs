//! Pure rules over names and bytes: which files are secrets, which names are unsafe, which
//! files are already compressed, where CRLF line endings are. No I/O here.

use std::sync::OnceLock;

use regex::bytes::Regex;

/// Why a file is considered a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretRule {
    /// `.env`, `.env.production`, ... (but not `.env.example`).
    EnvFile,
    /// `*.pem`: certificates and private keys.
    PemFile,
    /// `id_rsa*` and the other OpenSSH key file names.
    SshKeyFile,
    /// A `-----BEGIN ... PRIVATE KEY-----` header in the contents.
    PrivateKeyHeader,
    /// An AWS access key id (`AKIA...`, `ASIA...`) in the contents.
    AwsAccessKeyId,
}

impl SecretRule {
    /// The rule as the user would write it down.
    pub fn describe(self) -> &'static str {
        match self {
            SecretRule::EnvFile => "`.env*` files hold environment secrets",
            SecretRule::PemFile => "`*.pem` files hold certificates and private keys",
            SecretRule::SshKeyFile => "`id_rsa*`/`id_ed25519*` files are SSH keys",
            SecretRule::PrivateKeyHeader => "contains a `-----BEGIN ... PRIVATE KEY-----` block",
            SecretRule::AwsAccessKeyId => "contains an AWS access key id (AKIA.../ASIA...)",
        }
    }
}

/// `.env*` templates that are meant to be committed and shipped.
const ENV_TEMPLATES: &[&str] = &[".env.example", ".env.sample", ".env.template"];

/// The secret rule a file *name* matches, if any. `name` is the zip entry name (`/`-separated).
pub fn secret_by_name(name: &str) -> Option<SecretRule> {
    let base = name.rsplit('/').next().unwrap_or(name);
    if base.starts_with(".env") && !ENV_TEMPLATES.contains(&base) {
        return Some(SecretRule::EnvFile);
    }
    if base.to_ascii_lowercase().ends_with(".pem") {
        return Some(SecretRule::PemFile);
    }
    if ["id_rsa", "id_dsa", "id_ecdsa", "id_ed25519"]
        .iter()
        .any(|p| base.starts_with(p))
    {
        return Some(SecretRule::SshKeyFile);
    }
    None
}

fn private_key_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----").expect("static regex")
    })
}

fn aws_key_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Access key ids: a 4-letter prefix and 16 more upper-case letters or digits. AWS's own
    // documentation key (AKIAIOSFODNN7EXAMPLE) and anything ending in EXAMPLE is allowed.
    RE.get_or_init(|| {
        Regex::new(r"(?-u)\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA)[A-Z0-9]{16}\b")
            .expect("static regex")
    })
}

/// The longest pattern a content rule can match; chunked scans overlap by this much.
pub const SCAN_OVERLAP: usize = 128;

/// The secret rules the *contents* match (each rule at most once).
pub fn secrets_in(bytes: &[u8]) -> Vec<SecretRule> {
    let mut found = Vec::new();
    if private_key_re().is_match(bytes) {
        found.push(SecretRule::PrivateKeyHeader);
    }
    if aws_key_re()
        .find_iter(bytes)
        .any(|m| !m.as_bytes().ends_with(b"EXAMPLE"))
    {
        found.push(SecretRule::AwsAccessKeyId);
    }
    found
}

/// Why an entry name cannot go into the bundle, if it cannot.
pub fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("the name is empty");
    }
    if name.starts_with('/') || name.as_bytes().get(1) == Some(&b':') {
        return Some("the name is absolute");
    }
    if name
        .split('/')
        .any(|c| c == ".." || c == "." || c.is_empty())
    {
        return Some("the name has an empty, `.` or `..` component");
    }
    if name.contains('\\') {
        return Some("the name contains a backslash, which unzip treats as a directory separator");
    }
    if name.chars().any(char::is_control) {
        return Some("the name contains a control character");
    }
    None
}

/// Extensions of formats that are already compressed: deflating them again wastes time.
const STORED_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "webp", "avif", "heic", "woff", "woff2", "gz", "tgz", "bz2", "xz",
    "zip", "whl", "egg", "jar", "br", "zst", "7z", "rar", "mp4", "m4v", "mov", "webm", "mkv",
    "mp3", "m4a", "aac", "ogg", "oga", "opus", "flac",
];

/// Whether a file should be STORED rather than deflated, judged by its name.
pub fn is_precompressed(name: &str) -> bool {
    let base = name.rsplit('/').next().unwrap_or(name);
    match base.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => {
            let ext = ext.to_ascii_lowercase();
            STORED_EXTENSIONS.contains(&ext.as_str())
        }
        _ => false,
    }
}

/// Hook scripts Elastic Beanstalk executes: they must be executable and use LF endings.
pub fn is_hook(name: &str) -> bool {
    name.starts_with(".platform/hooks/") || name.starts_with(".platform/confighooks/")
}

/// Files whose CRLF line endings break the platform (hooks and the Procfile).
pub fn needs_lf(name: &str) -> bool {
    is_hook(name) || name == "Procfile"
}

/// 1-based line numbers of the lines that end in CRLF.
pub fn crlf_lines(bytes: &[u8]) -> Vec<usize> {
    let mut lines = Vec::new();
    let mut line = 1;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' {
            if i > 0 && bytes[i - 1] == b'\r' {
                lines.push(line);
            }
            line += 1;
        }
    }
    lines
}

/// `bytes` with every CRLF turned into LF.
pub fn to_lf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            continue;
        }
        out.push(b);
    }
    out
}

/// Whether a Procfile declares a `web:` process.
pub fn procfile_has_web(contents: &str) -> bool {
    contents
        .lines()
        .any(|l| l.trim_start().strip_prefix("web:").is_some())
}

/// A version label: `<prefix>-<hash12>[-<gitsha7>]`, valid for Elastic Beanstalk (<= 100
/// characters, no `/`). Characters outside `[A-Za-z0-9._-]` in the prefix become `-`.
pub fn version_label(prefix: &str, sha256_hex: &str, git_sha: Option<&str>) -> String {
    let mut prefix: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    if prefix.is_empty() {
        prefix.push_str("bundle");
    }
    let hash: String = sha256_hex.chars().take(12).collect();
    let git: Option<String> = git_sha.map(|s| {
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .take(7)
            .collect()
    });
    let suffix_len = 1 + hash.len() + git.as_ref().map_or(0, |g| 1 + g.len());
    prefix.truncate(100 - suffix_len);
    let mut label = format!("{prefix}-{hash}");
    if let Some(g) = git.filter(|g| !g.is_empty()) {
        label.push('-');
        label.push_str(&g);
    }
    label
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        let cases: &[(&str, Option<SecretRule>)] = &[
            (".env", Some(SecretRule::EnvFile)),
            ("config/.env.production", Some(SecretRule::EnvFile)),
            (".envrc", Some(SecretRule::EnvFile)),
            (".env.example", None),
            ("app/.env.sample", None),
            ("environment.py", None),
            ("certs/server.pem", Some(SecretRule::PemFile)),
            ("certs/SERVER.PEM", Some(SecretRule::PemFile)),
            ("id_rsa", Some(SecretRule::SshKeyFile)),
            ("keys/id_rsa.pub", Some(SecretRule::SshKeyFile)),
            ("keys/id_ed25519", Some(SecretRule::SshKeyFile)),
            ("docs/valid_rsa.txt", None),
            ("app.py", None),
        ];
        for (name, want) in cases {
            assert_eq!(secret_by_name(name), *want, "{name}");
        }
    }

    #[test]
    fn secret_contents() {
        let cases: &[(&[u8], &[SecretRule])] = &[
            (
                b"-----BEGIN RSA PRIVATE KEY-----\nMIIE",
                &[SecretRule::PrivateKeyHeader],
            ),
            (
                b"x\n-----BEGIN OPENSSH PRIVATE KEY-----\n",
                &[SecretRule::PrivateKeyHeader],
            ),
            (
                b"-----BEGIN PRIVATE KEY-----",
                &[SecretRule::PrivateKeyHeader],
            ),
            (
                b"-----BEGIN EC PRIVATE KEY-----",
                &[SecretRule::PrivateKeyHeader],
            ),
            (b"-----BEGIN PUBLIC KEY-----", &[]),
            (b"-----BEGIN CERTIFICATE-----", &[]),
            (
                b"key = 'AKIAABCDEFGHIJKLMNOP'",
                &[SecretRule::AwsAccessKeyId],
            ),
            (b"ASIAABCDEFGHIJKLMNOP", &[SecretRule::AwsAccessKeyId]),
            (b"AKIAIOSFODNN7EXAMPLE", &[]),
            (b"XAKIAABCDEFGHIJKLMNOP", &[]),
            (b"AKIAABCDEFGHIJKLMNO", &[]),
            (b"akiaabcdefghijklmnop", &[]),
            (
                b"AKIAABCDEFGHIJKLMNOP\n-----BEGIN DSA PRIVATE KEY-----",
                &[SecretRule::PrivateKeyHeader, SecretRule::AwsAccessKeyId],
            ),
            (b"\xff\xfe binary AKIA", &[]),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                secrets_in(bytes),
                *want,
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn names() {
        let bad = [
            "",
            "/etc/passwd",
            "C:/x",
            "../up",
            "a/../b",
            "a//b",
            "./a",
            "a\\b",
            "a\nb",
        ];
        for n in bad {
            assert!(name_problem(n).is_some(), "{n:?} should be refused");
        }
        for n in [
            "app.py",
            ".platform/hooks/postdeploy/01.sh",
            "a/b..c/d",
            "ünïcode.txt",
        ] {
            assert_eq!(name_problem(n), None, "{n:?}");
        }
    }

    #[test]
    fn precompressed() {
        for n in [
            "a.png",
            "static/x.JPG",
            "f.woff2",
            "d.tar.gz",
            "v.mp4",
            "w.whl",
        ] {
            assert!(is_precompressed(n), "{n}");
        }
        for n in ["a.py", "png", ".png", "x.pngx", "data.csv", "a.svg"] {
            assert!(!is_precompressed(n), "{n}");
        }
    }

    #[test]
    fn crlf() {
        assert_eq!(crlf_lines(b"a\r\nb\nc\r\n"), vec![1, 3]);
        assert_eq!(crlf_lines(b"a\nb\n"), Vec::<usize>::new());
        assert_eq!(crlf_lines(b"\r\n"), vec![1]);
        assert_eq!(to_lf(b"a\r\nb\r\r\nc\r"), b"a\nb\r\nc\r".to_vec());
    }

    #[test]
    fn procfile() {
        assert!(procfile_has_web("web: gunicorn app:app\n"));
        assert!(procfile_has_web("worker: x\n  web:gunicorn"));
        assert!(!procfile_has_web("worker: celery\n# web: x"));
        assert!(!procfile_has_web("webapp: x"));
    }

    #[test]
    fn labels() {
        let sha = "0123456789abcdef0123";
        assert_eq!(
            version_label("budgetsync", sha, None),
            "budgetsync-0123456789ab"
        );
        assert_eq!(
            version_label("budget sync/v2", sha, Some("deadbeefcafe")),
            "budget-sync-v2-0123456789ab-deadbee"
        );
        assert_eq!(version_label("", sha, None), "bundle-0123456789ab");
        let long = "x".repeat(300);
        let l = version_label(&long, sha, Some("abcdef1"));
        assert_eq!(l.len(), 100);
        assert!(l.ends_with("-0123456789ab-abcdef1"));
    }
}
