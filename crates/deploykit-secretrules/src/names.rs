//! Secret-looking variable names, placeholders, and the one masking rule for output.

use crate::content::scan_content;

/// What a masked value shows: fixed, so it reveals neither length nor characters.
pub const MASK: &str = "********";

/// Words (upper case) that make a variable name secret: `STRIPE_KEY`, `DB_PASS`, `API_TOKEN`.
const SECRET_WORDS: &[&str] = &[
    "KEY",
    "KEYS",
    "APIKEY",
    "SECRETKEY",
    "ACCESSKEY",
    "PRIVATEKEY",
    "SECRET",
    "SECRETS",
    "CLIENTSECRET",
    "TOKEN",
    "TOKENS",
    "AUTHTOKEN",
    "APITOKEN",
    "PASS",
    "PASSWORD",
    "PASSWORDS",
    "PASSWD",
    "PWD",
    "PASSPHRASE",
    "HTPASSWD",
    "CREDENTIAL",
    "CREDENTIALS",
    "CREDS",
    "PRIVATE",
    "DSN",
    "SALT",
];

/// Word endings that make a run-together word secret (`PGPASSWORD`, `CLIENTSECRET`,
/// `AUTHTOKEN`). `KEY` and `PASS` are not among them: `MONKEY`, `BYPASS`, `COMPASS`.
const SECRET_SUFFIXES: &[&str] = &["PASSWORD", "PASSWD", "SECRET", "TOKEN", "PASSPHRASE"];

/// Consecutive words that make a name secret wherever they appear (`TEST_DATABASE_URL`).
const SECRET_PHRASES: &[&[&str]] = &[
    &["DATABASE", "URL"],
    &["DATABASE", "URI"],
    &["DB", "URL"],
    &["CONNECTION", "STRING"],
    &["CONN", "STR"],
    &["ACCESS", "KEY", "ID"],
];

/// Last words that say the variable holds something *about* a secret, not the secret:
/// `S3_KEY_PREFIX`, `DB_SECRET_NAME`, `PASSWORD_FILE`, `TOKEN_TTL_SECONDS`, `KMS_KEY_ID`.
const NOT_A_VALUE: &[&str] = &[
    "PREFIX",
    "SUFFIX",
    "NAME",
    "NAMES",
    "ARN",
    "ID",
    "IDS",
    "PATH",
    "FILE",
    "DIR",
    "LOCATION",
    "LENGTH",
    "LEN",
    "SIZE",
    "BITS",
    "TTL",
    "TIMEOUT",
    "EXPIRY",
    "EXPIRES",
    "EXPIRATION",
    "LIFETIME",
    "AGE",
    "SECONDS",
    "MINUTES",
    "HOURS",
    "DAYS",
    "ALGORITHM",
    "ALG",
    "TYPE",
    "FORMAT",
    "ENABLED",
    "DISABLED",
    "REQUIRED",
    "HEADER",
    "FIELD",
    "PARAM",
    "VERSION",
    "ROTATION",
    "ENDPOINT",
    "URL",
    "COUNT",
    "LIMIT",
    "POLICY",
    "MODE",
];

/// The words of a variable name, upper case: split at non-alphanumerics, lower-to-upper case
/// changes (`apiKey`) and letter/digit boundaries (`KEY2`).
fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for token in name.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut cur = String::new();
        let mut prev: Option<char> = None;
        for c in token.chars() {
            if let Some(p) = prev {
                let boundary = (p.is_ascii_lowercase() && c.is_ascii_uppercase())
                    || (p.is_ascii_alphabetic() != c.is_ascii_alphabetic());
                if boundary && !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            cur.push(c.to_ascii_uppercase());
            prev = Some(c);
        }
        if !cur.is_empty() {
            out.push(cur);
        }
    }
    out
}

/// The one "looks secret" rule for environment variable names: case-insensitive and by whole
/// words, so `STRIPE_KEY`, `DB_PASS`, `API_TOKEN`, `apiKey`, `SENTRY_DSN` and `DATABASE_URL`
/// are secret, `KEYBOARD_LAYOUT`, `MONKEY`, `PASSENGER_COUNT` are not; names that hold
/// something about a secret (`*_PREFIX`, `*_NAME`, `*_ARN`, `*_ID`, `*_FILE`, `*_TTL`, ...)
/// and public keys (`STRIPE_PUBLISHABLE_KEY`) are not.
pub fn is_secret_name(name: &str) -> bool {
    let w = words(name);
    if SECRET_PHRASES.iter().any(|p| {
        w.windows(p.len())
            .any(|win| win.iter().zip(p.iter()).all(|(a, b)| a == b))
    }) {
        return true;
    }
    if w.last().is_some_and(|l| NOT_A_VALUE.contains(&l.as_str())) {
        return false;
    }
    let hits: Vec<&String> = w
        .iter()
        .filter(|x| {
            SECRET_WORDS.contains(&x.as_str()) || SECRET_SUFFIXES.iter().any(|s| x.ends_with(s))
        })
        .collect();
    if hits.is_empty() {
        return false;
    }
    let public = w.iter().any(|x| x == "PUBLIC" || x == "PUBLISHABLE");
    !(public && hits.iter().all(|h| *h == "KEY" || *h == "KEYS"))
}

/// Placeholder words: values of templates, docs and examples, not credentials.
const PLACEHOLDER_WORDS: &[&str] = &[
    "pw", "pwd", "pass", "password", "passwd", "secret", "token", "key", "none", "null", "nil",
    "test", "postgres", "root", "admin", "user", "username", "dev", "local", "foo", "bar", "true",
    "false",
];

/// Fragments that mark a value as a placeholder wherever they appear.
const PLACEHOLDER_PARTS: &[&str] = &[
    "example",
    "changeme",
    "change-me",
    "change_me",
    "changeit",
    "placeholder",
    "replace",
    "dummy",
    "your",
    "fake",
    "sample",
    "xxxx",
    "todo",
];

/// Whether a value found in a file is a placeholder, not a credential: shorter than 4
/// characters (`u:p@h` in a test), a reference
/// (`$VAR`, `${VAR}`, `{password}`, `%(pw)s`), a `<...>` hole, a run of `x`/`*`, or a
/// well-known placeholder or default (`password`, `changeme`, `postgres`, `...EXAMPLE...`).
/// Used for file contents only: a value in deploy.toml or a live environment is real.
pub fn is_placeholder(value: &str) -> bool {
    let v = value.trim();
    if v.chars().count() < 4 || v.starts_with(['$', '<', '{', '%', '[']) {
        return true;
    }
    if v.contains('<') && v.contains('>') || v.contains("${") || v.contains("{{") {
        return true;
    }
    if v.chars().all(|c| "xX*.-_#?".contains(c)) {
        return true;
    }
    let lower = v.to_ascii_lowercase();
    PLACEHOLDER_WORDS.contains(&lower.as_str())
        || PLACEHOLDER_PARTS.iter().any(|p| lower.contains(p))
}

/// A URL split at its userinfo: `scheme://[user[:password]@]host[rest]`.
pub(crate) struct Url<'a> {
    pub scheme: &'a str,
    pub user: Option<&'a str>,
    pub password: Option<&'a str>,
    pub host: &'a str,
    /// Path, query and fragment, with their leading `/`, `?` or `#`.
    pub rest: &'a str,
}

pub(crate) fn split_url(v: &str) -> Option<Url<'_>> {
    let (scheme, after) = v.split_once("://")?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c));
    if !scheme_ok {
        return None;
    }
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    let (userinfo, host) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (user, password) = match userinfo.map(|u| u.split_once(':')) {
        Some(Some((u, p))) => (Some(u), Some(p)),
        Some(None) => (userinfo, None),
        None => (None, None),
    };
    Some(Url {
        scheme,
        user,
        password,
        host,
        rest,
    })
}

/// Whether a value is a URL with a non-empty password (`postgresql://user:pass@host/db`).
/// Strict: every password counts, placeholders too (a deployed value is a real one).
pub fn url_has_password(value: &str) -> bool {
    split_url(value.trim()).is_some_and(|u| u.password.is_some_and(|p| !p.is_empty()))
}

/// The one masking rule, for every place output is made (text, JSON, errors, logs):
/// - an empty value stays empty (it shows nothing);
/// - a URL keeps its scheme, user and host: the password becomes `********`
///   (`postgresql://app:********@db:5432/app`), a lone user (a DSN's key) too; the values of
///   secret-named query parameters are masked; the path is kept when the URL had credentials,
///   else masked (a webhook's token lives in the path);
/// - anything else becomes `********`, whatever its length.
pub fn mask(value: &str) -> String {
    if value.is_empty() {
        return String::new();
    }
    let Some(u) = split_url(value) else {
        return MASK.to_string();
    };
    let mut out = format!("{}://", u.scheme);
    match (u.user, u.password) {
        (Some(user), Some(_)) => out.push_str(&format!("{user}:{MASK}@")),
        (Some(_), None) => out.push_str(&format!("{MASK}@")),
        _ => {}
    }
    out.push_str(u.host);
    if u.rest.is_empty() {
        return out;
    }
    if u.user.is_none() {
        out.push('/');
        out.push_str(MASK);
        return out;
    }
    let (path, query) = match u.rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (u.rest, None),
    };
    out.push_str(path);
    if let Some(q) = query {
        let (q, frag) = match q.split_once('#') {
            Some((q, f)) => (q, Some(f)),
            None => (q, None),
        };
        let parts: Vec<String> = q
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) if !v.is_empty() && is_secret_name(k) => format!("{k}={MASK}"),
                _ => kv.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&parts.join("&"));
        if frag.is_some() {
            out.push('#');
            out.push_str(MASK);
        }
    }
    out
}

/// `value` as it may be shown for variable `name`: [`mask`]ed when the name looks secret
/// ([`is_secret_name`]), the value is a URL with a password, or the value itself matches a
/// content rule (an access key id in a `NOTES` variable); as is otherwise.
pub fn mask_if_secret(name: &str, value: &str) -> String {
    if is_secret_name(name) || url_has_password(value) || !scan_content(value.as_bytes()).is_empty()
    {
        mask(value)
    } else {
        value.to_string()
    }
}

/// `text` with every occurrence of each known secret value replaced by `********` (for
/// messages and logs that may echo a value deploykit holds). Values shorter than 4 characters
/// are left alone: masking them would garble the text and protect nothing.
pub fn redact_known(text: &str, secrets: &[&str]) -> String {
    let mut sorted: Vec<&str> = secrets.iter().copied().filter(|s| s.len() >= 4).collect();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_string();
    for s in sorted {
        if out.contains(s) {
            out = out.replace(s, MASK);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        let cases: &[(&str, bool)] = &[
            ("STRIPE_KEY", true),
            ("DB_PASS", true),
            ("API_TOKEN", true),
            ("SECRET_KEY", true),
            ("SECRET_KEY_BASE", true),
            ("AWS_SECRET_ACCESS_KEY", true),
            ("AWS_ACCESS_KEY_ID", true),
            ("DB_PASSWORD", true),
            ("MYSQL_PWD", true),
            ("PGPASSWORD", true),
            ("CLIENTSECRET", true),
            ("COMPASS_HEADING", false),
            ("GPG_PASSPHRASE", true),
            ("GOOGLE_APPLICATION_CREDENTIALS", true),
            ("SMTP_CREDS", true),
            ("JWT_PRIVATE", true),
            ("SENTRY_DSN", true),
            ("DATABASE_URL", true),
            ("TEST_DATABASE_URL", true),
            ("MONGO_CONNECTION_STRING", true),
            ("PASSWORD_SALT", true),
            ("apiKey", true),
            ("dbPassword", true),
            ("stripe-key", true),
            ("github.token", true),
            ("KEY", true),
            ("key2", true),
            ("KEYBOARD_LAYOUT", false),
            ("MONKEY", false),
            ("PASSENGER_COUNT", false),
            ("BYPASS_CACHE", false),
            ("TOKENIZER_MODEL", false),
            ("S3_KEY_PREFIX", false),
            ("DB_SECRET_NAME", false),
            ("DB_SECRET_ARN", false),
            ("KMS_KEY_ID", false),
            ("PASSWORD_FILE", false),
            ("JWT_TOKEN_TTL_SECONDS", false),
            ("PASSWORD_RESET_URL", false),
            ("STRIPE_PUBLISHABLE_KEY", false),
            ("PUBLIC_KEY", false),
            ("PUBLIC_KEY_SECRET", true),
            ("DATABASE_HOST", false),
            ("S3_BUCKET", false),
            ("APP_ENV", false),
            ("FLASK_DEBUG", false),
            ("", false),
        ];
        for (name, want) in cases {
            assert_eq!(is_secret_name(name), *want, "{name}");
        }
    }

    #[test]
    fn placeholders() {
        for v in [
            "",
            "  ",
            "p",
            "abc",
            "<random-64-hex-chars>",
            "${SECRET}",
            "$DB_PASS",
            "{password}",
            "%(pw)s",
            "xxxxxxxx",
            "********",
            "changeme",
            "CHANGE-ME-please",
            "your-api-key",
            "AKIAIOSFODNN7EXAMPLE",
            "password",
            "postgres",
            "{{ secret }}",
        ] {
            assert!(is_placeholder(v), "{v:?}");
        }
        for v in [
            "hunter2",
            "s3cr3t-Value",
            "ghp_abc123",
            "canary-7f3a9c1e",
            "Zq9x",
        ] {
            assert!(!is_placeholder(v), "{v:?}");
        }
    }

    #[test]
    fn urls_with_passwords() {
        let cases: &[(&str, bool)] = &[
            ("postgresql://user:pass@host/db", true),
            ("postgresql+psycopg2://app:s3cret@db:5432/app", true),
            ("redis://:hunter2@cache:6379/0", true),
            ("postgresql://user@host/db", false),
            ("postgresql://user:@host/db", false),
            ("https://example.com/a:b@c", false),
            ("not a url", false),
            ("://x:y@z", false),
        ];
        for (v, want) in cases {
            assert_eq!(url_has_password(v), *want, "{v}");
        }
    }

    #[test]
    fn masking() {
        let cases: &[(&str, &str)] = &[
            ("", ""),
            ("hunter2", MASK),
            ("a-very-long-secret-value-that-would-show-its-length", MASK),
            (
                "postgresql+psycopg2://app:s3cret@db.example:5432/budgetsync",
                "postgresql+psycopg2://app:********@db.example:5432/budgetsync",
            ),
            (
                "postgresql://app:pw@db/x?sslmode=verify-full&password=p2",
                "postgresql://app:********@db/x?sslmode=verify-full&password=********",
            ),
            (
                "https://abc123key@o1.ingest.sentry.io/42",
                "https://********@o1.ingest.sentry.io/42",
            ),
            (
                "https://hooks.slack.com/services/T0/B0/tok",
                "https://hooks.slack.com/********",
            ),
            ("redis://cache:6379", "redis://cache:6379"),
        ];
        for (v, want) in cases {
            assert_eq!(mask(v), *want, "{v}");
        }
    }

    #[test]
    fn masking_by_name_and_value() {
        let cases: &[(&str, &str, &str)] = &[
            ("STRIPE_KEY", "sk_test_123", MASK),
            ("DB_PASS", "hunter2", MASK),
            ("APP_ENV", "production", "production"),
            (
                "REDIS_URL",
                "redis://:pw@cache:6379",
                "redis://:********@cache:6379",
            ),
            ("NOTES", "key AKIAQWERTYUIOPASDFGH", MASK),
            ("KEYBOARD_LAYOUT", "de", "de"),
        ];
        for (k, v, want) in cases {
            assert_eq!(mask_if_secret(k, v), *want, "{k}={v}");
        }
    }

    #[test]
    fn redaction() {
        assert_eq!(
            redact_known(
                "connect with hunter2 as hunter2x",
                &["hunter2x", "hunter2", "ab"]
            ),
            "connect with ******** as ********"
        );
        assert_eq!(redact_known("ab ab", &["ab"]), "ab ab");
    }
}
