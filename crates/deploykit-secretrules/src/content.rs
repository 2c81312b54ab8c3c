//! Secret-looking contents. Pure: the caller reads the bytes (see [`crate::fs::scan_file`]).
//!
//! Bounded: only the first [`SCAN_LIMIT`] bytes are scanned, binaries (a NUL byte in the
//! first 8000 bytes, git's test) are skipped, and at most [`MAX_FINDINGS`] findings are kept
//! per file. A finding names the rule, the line and the byte offset, never the value.

use std::sync::OnceLock;

use regex::bytes::Regex;

use crate::names::{is_placeholder, is_secret_name, split_url};
use crate::path::is_env_style;
use crate::{Finding, Rule};

/// Bytes scanned per file: secrets live in source and config files, which are far smaller;
/// larger files are data or media, and scanning them whole would make every build slower.
pub const SCAN_LIMIT: usize = 1 << 20;

/// Findings kept per file: enough to show the pattern, bounded for a file full of keys.
pub const MAX_FINDINGS: usize = 20;

/// How many leading bytes decide whether a file is binary (git's heuristic).
const BINARY_PROBE: usize = 8000;

/// Whether `bytes` look binary: a NUL byte among the first 8000.
pub fn is_binary(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(BINARY_PROBE)].contains(&0)
}

struct Patterns {
    private_key: Regex,
    aws_key_id: Regex,
    aws_secret: Regex,
    url_password: Regex,
    tokens: Vec<(&'static str, Regex)>,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let re = |s: &str| Regex::new(s).expect("static regex");
        Patterns {
            private_key: re(r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY( BLOCK)?-----"),
            // Long-term (AKIA) and temporary (ASIA) access key ids, and the other credential
            // prefixes (ABIA: STS bearer, ACCA: context-specific); not the unique ids of users
            // or roles (AIDA, AROA, ...), which are not secrets.
            aws_key_id: re(r"(?-u)\b(AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"),
            aws_secret: re(
                r#"(?i)aws_?secret_?access_?key["']?\s*[:=]\s*["']?([A-Za-z0-9/+=]{40})(?:[^A-Za-z0-9/+=]|$)"#,
            ),
            url_password: re(
                r#"(?-u)\b[A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s:/?#@'"<>{}\[\]]*:([^\s/?#@'"]+)@"#,
            ),
            tokens: vec![
                ("GitHub token (gh?_...)", re(r"\bgh[pousr]_[A-Za-z0-9]{36,255}\b")),
                ("GitHub token (github_pat_...)", re(r"\bgithub_pat_[A-Za-z0-9_]{60,255}\b")),
                ("GitLab token (glpat-...)", re(r"\bglpat-[A-Za-z0-9_-]{20,}")),
                ("Slack token (xox?-...)", re(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
                ("Stripe live key (?k_live_...)", re(r"\b[sr]k_live_[A-Za-z0-9]{20,}")),
                ("Google API key (AIza...)", re(r"\bAIza[A-Za-z0-9_-]{35}")),
                ("npm token (npm_...)", re(r"\bnpm_[A-Za-z0-9]{36}\b")),
            ],
        }
    })
}

/// 1-based line of each (sorted) offset, counted in one pass.
fn lines_of(bytes: &[u8], findings: &mut [Finding]) {
    findings.sort_by_key(|f| f.offset);
    let mut line = 1;
    let mut pos = 0;
    for f in findings.iter_mut() {
        let Some(off) = f.offset else { continue };
        line += bytes[pos..off].iter().filter(|&&b| b == b'\n').count();
        pos = off;
        f.line = Some(line);
    }
}

fn hit(rule: Rule, matched: impl Into<String>, offset: usize) -> Finding {
    Finding {
        rule,
        matched: matched.into(),
        line: None,
        offset: Some(offset),
    }
}

/// The content rules that fire anywhere in a file: private key blocks, AWS access key ids and
/// secret keys, URLs with a (non-placeholder) password, well-known token formats. Skips
/// binaries; scans at most [`SCAN_LIMIT`] bytes; at most [`MAX_FINDINGS`] findings, by offset.
pub fn scan_content(bytes: &[u8]) -> Vec<Finding> {
    if is_binary(bytes) {
        return Vec::new();
    }
    let bytes = &bytes[..bytes.len().min(SCAN_LIMIT)];
    let p = patterns();
    let mut found = Vec::new();
    for c in p.private_key.captures_iter(bytes) {
        let kind = String::from_utf8_lossy(c.get(1).map_or(&b""[..], |m| m.as_bytes()));
        let m = c.get(0).expect("whole match");
        found.push(hit(
            Rule::PrivateKeyBlock,
            format!("{kind}PRIVATE KEY"),
            m.start(),
        ));
    }
    for m in p.aws_key_id.find_iter(bytes) {
        if !m.as_bytes().ends_with(b"EXAMPLE") {
            let prefix = String::from_utf8_lossy(&m.as_bytes()[..4]);
            found.push(hit(Rule::AwsAccessKeyId, format!("{prefix}..."), m.start()));
        }
    }
    for c in p.aws_secret.captures_iter(bytes) {
        let v = c.get(1).expect("group");
        if !is_placeholder(&String::from_utf8_lossy(v.as_bytes())) {
            let m = c.get(0).expect("whole match");
            found.push(hit(
                Rule::AwsSecretAccessKey,
                "aws_secret_access_key",
                m.start(),
            ));
        }
    }
    for c in p.url_password.captures_iter(bytes) {
        let pw = c.get(1).expect("group");
        if !is_placeholder(&String::from_utf8_lossy(pw.as_bytes())) {
            let m = c.get(0).expect("whole match");
            let text = String::from_utf8_lossy(m.as_bytes());
            let scheme = text.split("://").next().unwrap_or("");
            found.push(hit(
                Rule::UrlPassword,
                format!("{scheme}:// URL"),
                m.start(),
            ));
        }
    }
    for (what, re) in &p.tokens {
        for m in re.find_iter(bytes) {
            if !is_placeholder(&String::from_utf8_lossy(m.as_bytes())) {
                found.push(hit(Rule::ServiceToken, *what, m.start()));
            }
        }
    }
    lines_of(bytes, &mut found);
    found.truncate(MAX_FINDINGS);
    found
}

/// Secret-named variables assigned a literal in an env-style file (`KEY=value`, `export
/// KEY="value"`). A URL value is left to [`Rule::UrlPassword`]; placeholders are fine.
fn scan_assignments(bytes: &[u8]) -> Vec<Finding> {
    let mut found = Vec::new();
    let mut offset = 0;
    for raw in bytes.split(|&b| b == b'\n') {
        let start = offset;
        offset += raw.len() + 1;
        let line = String::from_utf8_lossy(raw);
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let body = trimmed.strip_prefix("export ").unwrap_or(trimmed);
        let Some((name, value)) = body.split_once('=') else {
            continue;
        };
        let name = name.trim();
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if trimmed.starts_with('#') || !valid || !is_secret_name(name) {
            continue;
        }
        let value = literal(value);
        if is_placeholder(value) || split_url(value).is_some() {
            continue;
        }
        found.push(hit(Rule::SecretAssignment, name, start + indent));
    }
    found
}

/// The literal of an env-file value: quotes removed, a trailing ` # comment` dropped.
fn literal(v: &str) -> &str {
    let v = v.trim();
    for q in ['"', '\''] {
        if let Some(rest) = v.strip_prefix(q) {
            return rest.split(q).next().unwrap_or("");
        }
    }
    match v.find(" #") {
        Some(i) => v[..i].trim_end(),
        None => v,
    }
}

/// Every content rule for the file at `rel_path` (relative to the app directory): those of
/// [`scan_content`], plus [`Rule::SecretAssignment`] when the file is env-style
/// ([`crate::is_env_style`]: `.env*`, `*.env`, `.envrc`, `.flaskenv`, the env templates).
pub fn scan_file_content(rel_path: &str, bytes: &[u8]) -> Vec<Finding> {
    let mut found = scan_content(bytes);
    if is_env_style(rel_path) && !is_binary(bytes) {
        let bytes = &bytes[..bytes.len().min(SCAN_LIMIT)];
        let mut more = scan_assignments(bytes);
        lines_of(bytes, &mut more);
        found.extend(more);
        found.sort_by_key(|f| f.offset);
        found.truncate(MAX_FINDINGS);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (contents, the rules that fire with their lines).
    type Case = (&'static [u8], &'static [(Rule, usize)]);

    const CONTENTS: &[Case] = &[
        (
            b"-----BEGIN RSA PRIVATE KEY-----\nMIIE",
            &[(Rule::PrivateKeyBlock, 1)],
        ),
        (
            b"x\n-----BEGIN OPENSSH PRIVATE KEY-----\n",
            &[(Rule::PrivateKeyBlock, 2)],
        ),
        (
            b"-----BEGIN PRIVATE KEY-----",
            &[(Rule::PrivateKeyBlock, 1)],
        ),
        (
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----",
            &[(Rule::PrivateKeyBlock, 1)],
        ),
        (
            b"-----BEGIN PGP PRIVATE KEY BLOCK-----",
            &[(Rule::PrivateKeyBlock, 1)],
        ),
        (b"-----BEGIN PUBLIC KEY-----", &[]),
        (b"-----BEGIN CERTIFICATE-----", &[]),
        (
            b"key = 'AKIAABCDEFGHIJKLMNOP'",
            &[(Rule::AwsAccessKeyId, 1)],
        ),
        (b"a\nb\nASIAABCDEFGHIJKLMNOP", &[(Rule::AwsAccessKeyId, 3)]),
        (b"AKIAIOSFODNN7EXAMPLE", &[]),
        (b"XAKIAABCDEFGHIJKLMNOP", &[]),
        (b"AKIAABCDEFGHIJKLMNO", &[]),
        (b"akiaabcdefghijklmnop", &[]),
        (b"AROAABCDEFGHIJKLMNOP AIDAABCDEFGHIJKLMNOP", &[]),
        (
            b"[default]\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzzzzzzzzz\n",
            &[(Rule::AwsSecretAccessKey, 2)],
        ),
        (
            b"AWS_SECRET_ACCESS_KEY: \"abcdefghijABCDEFGHIJ0123456789/+abcdefgh\"",
            &[(Rule::AwsSecretAccessKey, 1)],
        ),
        (
            b"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            &[],
        ),
        (b"aws_secret_access_key = tooshort", &[]),
        (
            b"DB = 'postgres://app:s3cr3t-pw@db:5432/app'",
            &[(Rule::UrlPassword, 1)],
        ),
        (
            b"x\n\nredis://:hunter22@cache:6379/0",
            &[(Rule::UrlPassword, 3)],
        ),
        (b"postgresql://USER:PASSWORD@HOST:5432/DBNAME", &[]),
        (
            b"(\"postgres://u:p@h:5432/d\", \"postgresql://u:p@h/d\")",
            &[],
        ),
        (b"postgresql://<user>:<password>@<host>/db", &[]),
        (b"f\"postgresql://{user}:{password}@{host}\"", &[]),
        (b"postgresql://app@db/x https://example.com/a:b@c", &[]),
        (
            b"token: ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            &[(Rule::ServiceToken, 1)],
        ),
        (b"xoxb-1234567890-abcdefghij", &[(Rule::ServiceToken, 1)]),
        (
            b"sk_live_abcdefghijklmnopqrstuvwx",
            &[(Rule::ServiceToken, 1)],
        ),
        (b"sk_test_abcdefghijklmnopqrstuvwx", &[]),
        (b"SECRET_KEY = os.environ['SECRET_KEY']", &[]),
        (b"\x00\x01ASIAQWERTYUIOPASDFGH\xff", &[]),
        (
            b"\xff\xfe text AKIAQWERTYUIOPASDFGH",
            &[(Rule::AwsAccessKeyId, 1)],
        ),
        (
            b"AKIAABCDEFGHIJKLMNOP\n-----BEGIN DSA PRIVATE KEY-----",
            &[(Rule::AwsAccessKeyId, 1), (Rule::PrivateKeyBlock, 2)],
        ),
    ];

    fn rules_lines(f: &[Finding]) -> Vec<(Rule, usize)> {
        f.iter().map(|f| (f.rule, f.line.unwrap_or(0))).collect()
    }

    #[test]
    fn contents() {
        for (bytes, want) in CONTENTS {
            let got = scan_content(bytes);
            assert_eq!(
                rules_lines(&got),
                *want,
                "{}",
                String::from_utf8_lossy(bytes)
            );
            // A finding never carries the value.
            for f in &got {
                assert!(!f.matched.contains("ABCDEFGHIJKLMNOP"), "{f:?}");
                assert!(!f.matched.contains("s3cr3t"), "{f:?}");
            }
        }
    }

    /// (env-style file contents, the assignments that fire: variable, line).
    const ENV_FILES: &[(&str, &[(&str, usize)])] = &[
        ("SECRET_KEY=\nDATABASE_URL=\n", &[]),
        ("SECRET_KEY=<random-64-hex>\nAPI_TOKEN=${TOKEN}\n", &[]),
        ("SECRET_KEY=changeme\nDB_PASS=\"\"\n", &[]),
        ("APP_ENV=production\nS3_BUCKET=my-bucket\n", &[]),
        ("SECRET_KEY=9f8e7d6c5b4a\n", &[("SECRET_KEY", 1)]),
        (
            "# comment\nexport STRIPE_KEY='sk_test_123'\n",
            &[("STRIPE_KEY", 2)],
        ),
        ("  DB_PASS = hunter2 # the real one\n", &[("DB_PASS", 1)]),
        ("# DB_PASS=hunter2\n", &[]),
        ("KEYBOARD_LAYOUT=de\nMONKEY=banana\n", &[]),
        // A URL is judged by the URL rule: a placeholder password is fine.
        (
            "DATABASE_URL=postgresql://<user>:<password>@<host>:5432/db\n",
            &[],
        ),
    ];

    #[test]
    fn env_templates_are_judged_by_their_values() {
        for (text, want) in ENV_FILES {
            let got: Vec<(String, usize)> = scan_file_content(".env.example", text.as_bytes())
                .into_iter()
                .filter(|f| f.rule == Rule::SecretAssignment)
                .map(|f| (f.matched, f.line.unwrap_or(0)))
                .collect();
            let want: Vec<(String, usize)> =
                want.iter().map(|(n, l)| (n.to_string(), *l)).collect();
            assert_eq!(got, want, "{text}");
        }
        // The same text in a non-env file is source code, not an assignment to judge.
        assert!(scan_file_content("settings.py", b"SECRET_KEY=9f8e7d6c5b4a\n").is_empty());
        // A URL with a real password in a template fires the URL rule, once.
        let f = scan_file_content(
            ".env.dist",
            b"DATABASE_URL=postgresql://app:Zq9xW2@db/app\n",
        );
        assert_eq!(rules_lines(&f), [(Rule::UrlPassword, 1)]);
    }

    #[test]
    fn bounded() {
        let mut big = vec![b'a'; SCAN_LIMIT];
        big.extend_from_slice(b"\nAKIAABCDEFGHIJKLMNOP\n");
        assert!(
            scan_content(&big).is_empty(),
            "beyond the limit is not scanned"
        );
        let many = "AKIAABCDEFGHIJKLMNOP\n".repeat(100);
        let f = scan_content(many.as_bytes());
        assert_eq!(f.len(), MAX_FINDINGS);
        assert_eq!(f[19].line, Some(20));
        assert_eq!(f[19].offset, Some(19 * 21));
    }
}
