//! Who may talk to the edge: the Host allow-list (against DNS rebinding), the browser check
//! (against cross-site requests from a page in the developer's browser), the admin token, and
//! the log of what was refused.
//!
//! The rules, in the order the edge applies them:
//! 1. `Host` must be a loopback IP (`127.0.0.0/8`, `[::1]`), `localhost` or a `*.localhost`
//!    name, with or without a port. Anything else (a rebound DNS name such as `evil.example`
//!    resolving to 127.0.0.1, a LAN address) gets 403.
//! 2. App hosts (`*.elasticbeanstalk.localhost`, `*.awsapprunner.localhost`,
//!    `*.ecs.<region>.localhost`) are proxied as they are: browsers talking to the app are the
//!    app's business.
//! 3. Every other request (AWS APIs, moto, the admin path) that carries an `Origin` header or
//!    `Sec-Fetch-Site: cross-site | same-site` comes from a web page: 403. AWS SDKs and CLIs send
//!    neither.
//! 4. The admin path needs [`ADMIN_TOKEN_HEADER`] equal to the edge's [`AdminToken`] (compared in
//!    constant time): 401 otherwise.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use http::HeaderMap;
use serde::{Deserialize, Serialize};

/// The header carrying the admin token on `/_localcloud/...` requests.
pub const ADMIN_TOKEN_HEADER: &str = "x-localcloud-admin-token";

/// How many refusals the edge remembers for [`crate::Health`].
const RECENT_REFUSALS: usize = 20;
/// Longest header value copied into the refusal log.
const LOGGED_VALUE_MAX: usize = 200;

/// The secret the admin path asks for. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken(String);

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken([redacted])")
    }
}

impl AdminToken {
    /// Shortest token accepted by [`AdminToken::new`].
    pub const MIN_LEN: usize = 32;

    /// 64 hex digits (244 random bits from two v4 UUIDs, the OS's random source).
    pub fn random() -> Self {
        AdminToken(format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        ))
    }

    /// A token from elsewhere (state.json, an env var): at least [`AdminToken::MIN_LEN`]
    /// visible ASCII characters, so it fits a header and cannot be guessed.
    pub fn new(token: impl Into<String>) -> Result<Self, String> {
        let token = token.into();
        if token.len() < Self::MIN_LEN {
            return Err(format!(
                "the admin token is {} characters long; it needs at least {}",
                token.len(),
                Self::MIN_LEN
            ));
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("the admin token must be visible ASCII characters only".into());
        }
        Ok(AdminToken(token))
    }

    /// The token itself, to store (mode 0600) or send.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with what a request sent (the length is not secret).
    pub(crate) fn matches(&self, sent: &[u8]) -> bool {
        let want = self.0.as_bytes();
        if sent.len() != want.len() {
            return false;
        }
        let diff = want.iter().zip(sent).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(diff) == 0
    }
}

/// The tokens of the edges running in this process, so that [`crate::AdminClient::new`] works
/// on an in-process edge (tests) without being handed the token.
fn in_process_tokens() -> &'static Mutex<HashMap<SocketAddr, AdminToken>> {
    static TOKENS: OnceLock<Mutex<HashMap<SocketAddr, AdminToken>>> = OnceLock::new();
    TOKENS.get_or_init(Mutex::default)
}

pub(crate) fn register_in_process(addr: SocketAddr, token: &AdminToken) {
    in_process_tokens()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(addr, token.clone());
}

pub(crate) fn unregister_in_process(addr: SocketAddr) {
    in_process_tokens()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&addr);
}

pub(crate) fn in_process_token(addr: SocketAddr) -> Option<AdminToken> {
    in_process_tokens()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&addr)
        .cloned()
}

/// Whether `host` (the `Host` header, port included or not) names this machine's loopback:
/// `127.0.0.0/8`, `[::1]` (also `::ffff:127.x.y.z`), `localhost` or `*.localhost`.
pub fn host_allowed(host: &str) -> bool {
    let host = host.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        // [v6] or [v6]:port
        match rest.split_once(']') {
            Some((v6, tail)) if tail.is_empty() || is_port(tail.strip_prefix(':')) => {
                return v6.parse::<std::net::Ipv6Addr>().is_ok_and(|ip| {
                    ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
                });
            }
            _ => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((h, port)) if is_port(Some(port)) => h,
            Some(_) => return false,
            None => host,
        }
    };
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    if name.is_empty() {
        return false;
    }
    if let Ok(ip) = name.parse::<IpAddr>() {
        return ip.is_loopback();
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    name == "localhost"
        || name
            .strip_suffix(".localhost")
            .is_some_and(|sub| sub.split('.').all(label_ok))
}

fn is_port(p: Option<&str>) -> bool {
    p.is_some_and(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Why a request looks like it comes from a web page, if it does: an `Origin` header (any value,
/// `null` included) or `Sec-Fetch-Site: cross-site | same-site`.
pub fn browser_request(headers: &HeaderMap) -> Option<String> {
    if let Some(origin) = headers.get(http::header::ORIGIN) {
        return Some(format!(
            "Origin {}",
            printable(origin.as_bytes(), LOGGED_VALUE_MAX)
        ));
    }
    let site = headers.get("sec-fetch-site").map(|v| {
        String::from_utf8_lossy(v.as_bytes())
            .trim()
            .to_ascii_lowercase()
    });
    match site.as_deref() {
        Some(s @ ("cross-site" | "same-site")) => Some(format!("Sec-Fetch-Site {s}")),
        _ => None,
    }
}

/// One refused request, as logged and as [`crate::Health`] lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// RFC 3339 UTC.
    pub at: String,
    pub status: u16,
    /// `host`, `browser` or `admin-token`.
    pub rule: String,
    pub reason: String,
    pub method: String,
    pub path: String,
    pub peer: String,
}

impl Refusal {
    fn line(&self) -> String {
        format!(
            "{} refused {} {} {} from {}: {} ({})\n",
            self.at, self.status, self.method, self.path, self.peer, self.reason, self.rule
        )
    }
}

/// Where refusals go: a count, the last few in memory, and an optional append-only file.
#[derive(Debug)]
pub(crate) struct RefusalLog {
    file: Option<PathBuf>,
    inner: Mutex<(u64, VecDeque<Refusal>)>,
}

impl RefusalLog {
    pub fn new(file: Option<PathBuf>) -> Self {
        Self {
            file,
            inner: Mutex::default(),
        }
    }

    pub fn record(&self, r: Refusal) {
        if let Some(path) = &self.file {
            // Best effort: a full disk must not turn a refusal into a failure.
            let _ = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| f.write_all(r.line().as_bytes()));
        }
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.0 += 1;
        if g.1.len() == RECENT_REFUSALS {
            g.1.pop_front();
        }
        g.1.push_back(r);
    }

    /// (total count, the most recent ones, oldest first).
    pub fn snapshot(&self) -> (u64, Vec<Refusal>) {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        (g.0, g.1.iter().cloned().collect())
    }
}

/// A header value made safe for a one-line log: control characters escaped, length capped.
pub(crate) fn printable(bytes: &[u8], max: usize) -> String {
    let mut s: String = String::from_utf8_lossy(bytes)
        .chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// The answer to a refused request, in the shape its client reads: the addressed service's
/// access-denied error for signed AWS requests (`protocol`), JSON on the admin path, plain text
/// (marked `x-localcloud-error: refused`) otherwise.
pub(crate) fn refusal_response(
    protocol: Option<crate::faults::Protocol>,
    admin_path: bool,
    status: http::StatusCode,
    reason: &str,
    request_id: &str,
) -> http::Response<crate::edge::Body> {
    use http::HeaderValue;
    let message = format!("localcloud refused this request: {reason}");
    if let Some(protocol) = protocol {
        let resp = crate::faults::refused(protocol, status, &message, request_id);
        return resp.map(|b| {
            http_body_util::BodyExt::boxed(http_body_util::BodyExt::map_err(
                b,
                |never| match never {},
            ))
        });
    }
    let (body, content_type) = if admin_path {
        (
            serde_json::json!({ "error": message }).to_string(),
            "application/json",
        )
    } else {
        (format!("{message}\n"), "text/plain; charset=utf-8")
    };
    let mut resp = http::Response::new(crate::edge::full(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    if !admin_path {
        h.insert("x-localcloud-error", HeaderValue::from_static("refused"));
    }
    resp
}

pub(crate) fn refusal(
    status: u16,
    rule: &str,
    reason: String,
    method: &http::Method,
    path: &str,
    peer: SocketAddr,
) -> Refusal {
    let now = time::OffsetDateTime::now_utc();
    Refusal {
        at: now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        status,
        rule: rule.to_string(),
        reason,
        method: method.to_string(),
        path: printable(path.as_bytes(), LOGGED_VALUE_MAX),
        peer: peer.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        let cases = [
            ("127.0.0.1:4566", true),
            ("127.0.0.1", true),
            ("127.8.9.10:80", true),
            ("[::1]:4566", true),
            ("[::1]", true),
            ("[::ffff:127.0.0.1]:4566", true),
            ("localhost", true),
            ("LOCALHOST:4566", true),
            ("localhost.", true),
            (
                "budgetsync-dev.us-east-1.elasticbeanstalk.localhost:4566",
                true,
            ),
            ("my-bucket.s3.localhost:4566", true),
            ("web-abc.ecs.us-east-1.localhost", true),
            ("", false),
            (":4566", false),
            ("0.0.0.0:4566", false),
            ("10.0.0.5:4566", false),
            ("[::]:4566", false),
            ("[fe80::1]:4566", false),
            ("[::1]x", false),
            ("evil.example:4566", false),
            ("localhost.evil.example", false),
            ("127.0.0.1.nip.io:4566", false),
            ("2130706433:4566", false),
            ("localhost:http", false),
            ("localhost:4566:1", false),
            ("a..localhost", false),
            (".localhost", false),
            ("evil.com/.localhost", false),
            ("evil.com@localhost", false),
        ];
        for (host, want) in cases {
            assert_eq!(host_allowed(host), want, "{host:?}");
        }
    }

    #[test]
    fn browser_markers() {
        let cases: &[(&[(&str, &str)], bool)] = &[
            (&[], false),
            (&[("origin", "http://evil.example")], true),
            (&[("origin", "null")], true),
            (&[("origin", "http://127.0.0.1:4566")], true),
            (&[("sec-fetch-site", "cross-site")], true),
            (&[("sec-fetch-site", "Same-Site")], true),
            (&[("sec-fetch-site", "same-origin")], false),
            (&[("sec-fetch-site", "none")], false),
            (&[("user-agent", "Mozilla/5.0")], false),
        ];
        for (headers, want) in cases {
            let mut h = HeaderMap::new();
            for (k, v) in *headers {
                h.insert(*k, v.parse().unwrap());
            }
            assert_eq!(browser_request(&h).is_some(), *want, "{headers:?}");
        }
    }

    #[test]
    fn tokens() {
        let t = AdminToken::random();
        assert_eq!(t.expose().len(), 64);
        assert_ne!(t, AdminToken::random());
        assert!(t.matches(t.expose().as_bytes()));
        let mut wrong = t.expose().as_bytes().to_vec();
        wrong[63] ^= 1;
        assert!(!t.matches(&wrong));
        assert!(!t.matches(b""));
        assert!(!t.matches(&t.expose().as_bytes()[..63]));
        assert!(!format!("{t:?}").contains(t.expose()));
        for (bad, why) in [
            ("short", "at least 32"),
            (&"a b".repeat(20)[..], "visible ASCII"),
        ] {
            let e = AdminToken::new(bad).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
        assert!(AdminToken::new("x".repeat(32)).is_ok());
    }

    #[test]
    fn printable_escapes_and_caps() {
        assert_eq!(printable(b"a\r\nb", 50), "a\\r\\nb");
        assert_eq!(printable("ééé".as_bytes(), 3), "é…");
    }

    #[test]
    fn the_log_keeps_a_count_and_the_last_few() {
        let log = RefusalLog::new(None);
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        for i in 0..25 {
            log.record(refusal(
                403,
                "host",
                format!("r{i}"),
                &http::Method::GET,
                "/",
                peer,
            ));
        }
        let (n, recent) = log.snapshot();
        assert_eq!(n, 25);
        assert_eq!(recent.len(), RECENT_REFUSALS);
        assert_eq!(recent.last().unwrap().reason, "r24");
    }
}
