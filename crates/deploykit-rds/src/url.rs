//! Connection URLs: `postgresql+psycopg2://user:pass@host:5432/db`, masked when displayed.

use secrecy::{ExposeSecret, SecretString};

/// A database connection URL whose password never prints: `Display` and `Debug` mask it;
/// [`DbUrl::expose`] is the only way to the real URL (for `--show-password` and `--store`).
#[derive(Clone)]
pub struct DbUrl {
    pub scheme: &'static str,
    pub user: String,
    password: SecretString,
    pub host: String,
    pub port: u16,
    pub database: String,
    /// `?sslmode=verify-full&sslrootcert=...` (libpq and psycopg read both); `None` only for
    /// a local cloud without TLS.
    pub tls: Option<UrlTls>,
}

/// The TLS part of a URL: the server is verified against `rootcert` (a path the app sees).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlTls {
    pub rootcert: String,
}

/// The SQLAlchemy scheme the seed uses (Flask-SQLAlchemy with psycopg2).
pub const SQLALCHEMY_SCHEME: &str = "postgresql+psycopg2";
pub const MASK: &str = "********";

impl DbUrl {
    pub fn new(
        user: impl Into<String>,
        password: SecretString,
        host: impl Into<String>,
        port: u16,
        database: impl Into<String>,
    ) -> Self {
        DbUrl {
            scheme: SQLALCHEMY_SCHEME,
            user: user.into(),
            password,
            host: host.into(),
            port,
            database: database.into(),
            tls: None,
        }
    }

    /// The URL with `sslmode=verify-full&sslrootcert=...` (or without, for `None`).
    pub fn with_tls(mut self, tls: Option<UrlTls>) -> Self {
        self.tls = tls;
        self
    }

    /// The same URL with the plain `postgresql://` scheme (libpq, tokio-postgres, psql).
    pub fn with_libpq_scheme(mut self) -> Self {
        self.scheme = "postgresql";
        self
    }

    pub fn password(&self) -> &SecretString {
        &self.password
    }

    /// The real URL, password included (percent-encoded), as a secret.
    pub fn expose(&self) -> SecretString {
        SecretString::from(self.render(&encode(self.password.expose_secret())))
    }

    /// The URL with the password replaced by `********`.
    pub fn masked(&self) -> String {
        self.render(MASK)
    }

    fn render(&self, password: &str) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let query = match &self.tls {
            Some(t) => format!(
                "?sslmode=verify-full&sslrootcert={}",
                encode_path(&t.rootcert)
            ),
            None => String::new(),
        };
        format!(
            "{}://{}:{password}@{host}:{}/{}{query}",
            self.scheme,
            encode(&self.user),
            self.port,
            encode(&self.database)
        )
    }
}

impl std::fmt::Display for DbUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.masked())
    }
}

impl std::fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("DbUrl").field(&self.masked()).finish()
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encodes a file path for a query value, keeping `/` readable.
fn encode_path(s: &str) -> String {
    s.split('/').map(encode).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_masks_unless_exposed() {
        let cases = [
            ("s3cret", "s3cret"),
            ("p@ss:w/rd?#%", "p%40ss%3Aw%2Frd%3F%23%25"),
            ("ümlaut", "%C3%BCmlaut"),
        ];
        for (pw, enc) in cases {
            let u = DbUrl::new(
                "budgetsync",
                SecretString::from(pw),
                "db.example.rds.amazonaws.com",
                5432,
                "budgetsync",
            );
            let masked = "postgresql+psycopg2://budgetsync:********@db.example.rds.amazonaws.com:5432/budgetsync";
            assert_eq!(u.to_string(), masked);
            assert_eq!(format!("{u:?}"), format!("DbUrl({masked:?})"));
            assert!(!u.to_string().contains(pw) && !format!("{u:?}").contains(pw));
            assert_eq!(
                u.expose().expose_secret(),
                format!(
                    "postgresql+psycopg2://budgetsync:{enc}@db.example.rds.amazonaws.com:5432/budgetsync"
                )
            );
            let tls = u.clone().with_tls(Some(UrlTls {
                rootcert: "/var/lib/ca dir/ca.pem".into(),
            }));
            assert_eq!(
                tls.to_string(),
                format!("{masked}?sslmode=verify-full&sslrootcert=/var/lib/ca%20dir/ca.pem")
            );
            assert!(
                tls.expose().expose_secret().ends_with(
                    "/budgetsync?sslmode=verify-full&sslrootcert=/var/lib/ca%20dir/ca.pem"
                )
            );
            assert!(
                u.clone()
                    .with_libpq_scheme()
                    .expose()
                    .expose_secret()
                    .starts_with("postgresql://budgetsync:")
            );
        }
    }
}
