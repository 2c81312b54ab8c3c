//! Shared helpers for the edge and Elastic Beanstalk tests: a moto server per test, an
//! in-process edge, SDK clients with dummy credentials pointed at it, raw app requests.
#![allow(dead_code)]

use std::io::{Cursor, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use deploykit_localcloud::{Edge, EdgeConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The moto pin used when the shared venv has to be created (`cargo xtask local up` uses the
/// same venv path, `target/venvs/moto`).
pub const MOTO_PIN: &str = "moto[server]==5.2.1";

pub const SCALE: f64 = 300.0;

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
    }
}

fn on_path(bin: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(bin))
        .find(|p| p.is_file())
}

/// `moto_server` from the shared venv, else from PATH, else a freshly created venv.
fn moto_server_bin() -> PathBuf {
    let venv = target_dir().join("venvs/moto");
    let in_venv = venv.join("bin/moto_server");
    if in_venv.is_file() {
        return in_venv;
    }
    if let Some(p) = on_path("moto_server") {
        return p;
    }
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .expect("python3 -m venv target/venvs/moto");
    assert!(status.success(), "creating {} failed", venv.display());
    let status = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", MOTO_PIN])
        .status()
        .expect("pip install moto[server]");
    assert!(status.success(), "pip install {MOTO_PIN} failed");
    in_venv
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A moto server for one test; killed (and reaped) on drop.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    pub url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn start_moto() -> Moto {
    let bin = moto_server_bin();
    let mut last_err = String::new();
    for _attempt in 0..3 {
        let port = free_port();
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {}: {e}", bin.display()));
        let moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            match http_get(
                &format!("127.0.0.1:{port}").parse().unwrap(),
                "127.0.0.1",
                "/moto-api/data.json",
            )
            .await
            {
                Ok((200, _)) => return moto,
                Ok((s, _)) => last_err = format!("HTTP {s}"),
                Err(e) => last_err = e,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    panic!("moto_server did not come up within 30 s: {last_err}");
}

pub async fn start_edge(moto: Option<&Moto>) -> Edge {
    start_edge_with(moto, |_| {}).await
}

pub async fn start_edge_with(moto: Option<&Moto>, tweak: impl FnOnce(&mut EdgeConfig)) -> Edge {
    let mut cfg = EdgeConfig {
        moto_url: moto.map(|m| m.url.clone()),
        time_scale: SCALE,
        ..EdgeConfig::default()
    };
    tweak(&mut cfg);
    Edge::start(cfg).await.expect("edge starts")
}

fn credentials() -> aws_sdk_elasticbeanstalk::config::Credentials {
    aws_sdk_elasticbeanstalk::config::Credentials::new(
        "AKIDLOCALCLOUD",
        "dummy-secret",
        None,
        None,
        "localcloud-tests",
    )
}

/// An Elastic Beanstalk client for the edge. `retries: false` disables SDK retries.
pub fn eb(edge: &Edge, retries: bool) -> aws_sdk_elasticbeanstalk::Client {
    use aws_sdk_elasticbeanstalk::config::{
        BehaviorVersion, Region, retry::RetryConfig, timeout::TimeoutConfig,
    };
    let conf = aws_sdk_elasticbeanstalk::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(credentials())
        .endpoint_url(edge.url())
        .retry_config(if retries {
            RetryConfig::standard().with_max_attempts(3)
        } else {
            RetryConfig::disabled()
        })
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(20))
                .build(),
        )
        .build();
    aws_sdk_elasticbeanstalk::Client::from_conf(conf)
}

/// An S3 client for the edge (forwarded to moto), path-style.
pub fn s3(edge: &Edge) -> aws_sdk_s3::Client {
    use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "AKIDLOCALCLOUD",
            "dummy-secret",
            None,
            None,
            "localcloud-tests",
        ))
        .endpoint_url(edge.url())
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// A zip with the given files.
pub fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, body) in files {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .expect("zip entry");
        w.write_all(body.as_bytes()).expect("zip write");
    }
    w.finish().expect("zip finish").into_inner()
}

/// A bundle that starts a web process.
pub fn good_bundle() -> Vec<u8> {
    zip_of(&[
        ("Procfile", "web: gunicorn --bind :8000 app:app\n"),
        ("app.py", "from flask import Flask\napp = Flask(__name__)\n"),
        ("requirements.txt", "flask\ngunicorn\n"),
    ])
}

/// A bundle with nothing to start.
pub fn bad_bundle() -> Vec<u8> {
    zip_of(&[
        ("app.py", "print('no web process')\n"),
        ("requirements.txt", "flask\n"),
    ])
}

pub async fn put_object(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: Vec<u8>) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(body.into())
        .send()
        .await
        .unwrap_or_else(|e| panic!("PUT s3://{bucket}/{key}: {e:?}"));
}

/// A plain HTTP/1.1 GET to `addr` with `host` as the Host header; returns (status, body).
pub async fn http_get(addr: &SocketAddr, host: &str, path: &str) -> Result<(u16, String), String> {
    let fut = async {
        let mut s = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&buf).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| format!("no HTTP status in {text:?}"))?;
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        Ok((status, body))
    };
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .map_err(|_| "HTTP GET timed out".to_string())?
}
