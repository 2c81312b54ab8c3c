//! Small bounded health probes: one HTTP/1.1 request over loopback TCP or the Docker socket.
//! Deliberately dependency-free and blocking: each probe is one request with short timeouts.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const CONNECT: Duration = Duration::from_millis(800);
const IO: Duration = Duration::from_secs(3);

/// Sends one request and returns the status code and body.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Option<&str>,
) -> Result<(u16, String), String> {
    let mut stream =
        TcpStream::connect_timeout(&addr, CONNECT).map_err(|e| format!("connect {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(IO))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(IO))
        .map_err(|e| e.to_string())?;
    exchange(&mut stream, &addr.to_string(), method, path, headers, body)
}

fn exchange(
    stream: &mut (impl Read + Write),
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Option<&str>,
) -> Result<(u16, String), String> {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nUser-Agent: deploykit-local\r\n"
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() || method != "GET" {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream
        .write_all(req.as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    let mut buf = Vec::new();
    // Read until EOF (Connection: close), at most 1 MiB; a timeout after the head is fine.
    let mut chunk = [0u8; 8192];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() > 1 << 20 {
                    break;
                }
            }
            Err(e)
                if !buf.is_empty()
                    && matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
            {
                break;
            }
            Err(e) => return Err(format!("read: {e}")),
        }
    }
    let text = String::from_utf8_lossy(&buf);
    let status_line = text.lines().next().unwrap_or("");
    let code = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            format!(
                "not an HTTP response: {:?}",
                status_line.chars().take(60).collect::<String>()
            )
        })?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((code, body))
}

/// GET `path` on 127.0.0.1:`port`; the status code.
pub fn get(port: u16, path: &str) -> Result<u16, String> {
    http(
        SocketAddr::from(([127, 0, 0, 1], port)),
        "GET",
        path,
        &[],
        None,
    )
    .map(|(c, _)| c)
}

/// Where the Docker Engine is expected, from DOCKER_HOST or the default socket.
pub fn docker_endpoint() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string())
}

/// Pings the Docker Engine (`GET /_ping`); Ok(endpoint) when it answers OK.
pub fn docker_ping() -> Result<String, String> {
    let endpoint = docker_endpoint();
    let result = if let Some(path) = endpoint.strip_prefix("unix://") {
        let mut s = std::os::unix::net::UnixStream::connect(path)
            .map_err(|e| format!("connect {path}: {e}"))?;
        s.set_read_timeout(Some(IO)).map_err(|e| e.to_string())?;
        s.set_write_timeout(Some(IO)).map_err(|e| e.to_string())?;
        exchange(&mut s, "docker", "GET", "/_ping", &[], None)
    } else if let Some(hostport) = endpoint.strip_prefix("tcp://") {
        use std::net::ToSocketAddrs;
        let addr = hostport
            .to_socket_addrs()
            .map_err(|e| format!("resolve {hostport}: {e}"))?
            .next()
            .ok_or_else(|| format!("no address for {hostport}"))?;
        http(addr, "GET", "/_ping", &[], None)
    } else {
        return Err(format!(
            "unsupported DOCKER_HOST {endpoint:?} (expected unix:// or tcp://)"
        ));
    };
    match result {
        Ok((200, _)) => Ok(endpoint),
        Ok((code, body)) => Err(format!(
            "{endpoint} answered /_ping with {code}: {}",
            body.trim()
        )),
        Err(e) => Err(format!("{endpoint}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_reads_status_from_a_tiny_server() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let n = s.read(&mut buf).unwrap();
            assert!(String::from_utf8_lossy(&buf[..n]).starts_with("GET /v2/ HTTP/1.1"));
            s.write_all(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
        });
        assert_eq!(get(port, "/v2/").unwrap(), 401);
        server.join().unwrap();
    }

    #[test]
    fn get_on_a_closed_port_is_an_error() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        assert!(get(port, "/").is_err());
    }
}
