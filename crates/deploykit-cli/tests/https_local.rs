//! The commands on the local cloud: `dns zone ensure` and `https ensure` run twice each (the
//! first creates, the second says unchanged), with the name servers and the certificate ARN in
//! the JSON result; a deploy.toml without `[https]` is refused with exit 2 before any call.
//! Uses the running local cloud from a private project directory that shares it.
#![cfg(unix)]

use std::path::Path;
use std::process::{Command, Output};

use deploykit_testsupport::{LocalCloud, local_cloud, unique_name};

fn project(dir: &Path, cloud: &LocalCloud, https: &str) {
    let state_dir = cloud.state_file.parent().expect("state.json's directory");
    let target = dir.join("target");
    std::fs::create_dir_all(&target).unwrap();
    std::os::unix::fs::symlink(state_dir, target.join("localcloud")).unwrap();
    let text = format!(
        "default_target = \"local\"\n\n[app]\nname = \"shop\"\npath = \".\"\n\n[targets.local]\nregion = \"us-east-1\"\nlocal = true\nendpoint_url = \"{}\"\n\n{https}",
        cloud.edge_url
    );
    std::fs::write(dir.join("deploy.toml"), text).unwrap();
}

fn deploykit(dir: &Path, cloud: &LocalCloud, args: &[&str]) -> (Output, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_deploykit"))
        .current_dir(dir)
        .arg("--config")
        .arg(dir.join("deploy.toml"))
        .args(["--output", "json"])
        .args(args)
        .env_remove("DEPLOYKIT_TARGET")
        .env_remove("DEPLOYKIT_CONFIG")
        .env_remove("AWS_PROFILE")
        .env("DEPLOYKIT_LOCAL_STATE", &cloud.state_file)
        .env("DEPLOYKIT_LOCAL_HOME", dir)
        .output()
        .expect("run deploykit");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or(serde_json::Value::Null);
    (out, json)
}

#[test]
fn zone_and_certificate_twice_then_refusal() {
    let cloud = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(local_cloud());
    let dir = tempfile::tempdir().unwrap();
    let apex = format!("{}.example", unique_name("cli"));
    let domain = format!("app.{apex}");
    project(
        dir.path(),
        &cloud,
        &format!("[https]\ndomain = \"{domain}\"\ntimeout = \"5m\"\n"),
    );

    let (out, first) = deploykit(dir.path(), &cloud, &["dns", "zone", "ensure", &apex]);
    assert!(
        out.status.success(),
        "{first} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(first["result"]["created"], true, "{first}");
    assert!(
        first["result"]["name_servers"]
            .as_array()
            .is_some_and(|n| !n.is_empty()),
        "{first}"
    );
    let (out, second) = deploykit(dir.path(), &cloud, &["dns", "zone", "ensure", &apex]);
    assert!(out.status.success(), "{second}");
    assert_eq!(second["result"]["created"], false, "{second}");
    assert_eq!(second["result"]["zone"], first["result"]["zone"]);

    let (out, c1) = deploykit(dir.path(), &cloud, &["https", "ensure"]);
    assert!(
        out.status.success(),
        "{c1} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(c1["result"]["requested"], true, "{c1}");
    let arn = c1["result"]["certificate"]["arn"]
        .as_str()
        .expect("ARN")
        .to_string();
    assert_eq!(c1["result"]["certificate"]["status"], "ISSUED", "{c1}");
    let (out, c2) = deploykit(dir.path(), &cloud, &["https", "ensure"]);
    assert!(out.status.success(), "{c2}");
    assert_eq!(c2["result"]["requested"], false, "{c2}");
    assert_eq!(c2["result"]["certificate"]["arn"], arn.as_str(), "reused");
    let (out, st) = deploykit(dir.path(), &cloud, &["https", "status"]);
    assert!(out.status.success(), "status exits 0 when ISSUED: {st}");

    // Without [https]: exit 2, naming the file, the field and the fix.
    project_again(dir.path(), &cloud);
    let (out, err) = deploykit(dir.path(), &cloud, &["https", "ensure"]);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let msg = err["error"]["message"].as_str().unwrap_or_default();
    let help = err["error"]["help"].as_str().unwrap_or_default();
    assert!(
        msg.contains("deploy.toml") && msg.contains("https.domain"),
        "{err}"
    );
    assert!(help.contains("domain = "), "{err}");
}

fn project_again(dir: &Path, cloud: &LocalCloud) {
    std::fs::remove_dir_all(dir.join("target")).unwrap();
    project(dir, cloud, "");
}
