//! Fixture trees for the bundle tests.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};

use deploykit_bundle::{BundleOptions, BundleSummary};
use deploykit_report::NullReporter;

/// A file in a fixture: name, contents, mode.
pub type F<'a> = (&'a str, &'a [u8], u32);

pub const PROCFILE: F<'static> = ("Procfile", b"web: gunicorn --bind :8000 app:app\n", 0o644);
pub const REQS: F<'static> = ("requirements.txt", b"flask==3.0.3\n", 0o644);
pub const APP: F<'static> = (
    "app.py",
    b"from flask import Flask\napp = Flask(__name__)\n",
    0o644,
);

/// A temp dir holding `files`, plus a valid Procfile, requirements.txt and app.py unless the
/// fixture names them itself or `bare` is set.
pub fn tree(files: &[F<'_>]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for base in [PROCFILE, REQS, APP] {
        if !files.iter().any(|f| f.0 == base.0) {
            put(dir.path(), base);
        }
    }
    for f in files {
        put(dir.path(), *f);
    }
    dir
}

/// A temp dir holding exactly `files`.
pub fn bare(files: &[F<'_>]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for f in files {
        put(dir.path(), *f);
    }
    dir
}

pub fn put(root: &Path, (name, bytes, mode): F<'_>) {
    let p = root.join(name);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(&p, bytes).expect("write");
    set_mode(&p, mode);
}

pub fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

pub fn opts(app: &Path, out: &Path) -> BundleOptions {
    let mut o = BundleOptions::new(app, out);
    o.label_prefix = "fixture".into();
    o
}

pub fn build(app: &Path) -> (BundleSummary, tempfile::TempDir) {
    let out = tempfile::tempdir().expect("tempdir");
    let s = deploykit_bundle::build(&opts(app, &out.path().join("b.zip")), &NullReporter)
        .expect("bundle builds");
    (s, out)
}

/// (name, unix mode, method is deflate, contents) of every entry, in archive order.
pub fn read_zip(path: &Path) -> Vec<(String, u32, bool, Vec<u8>)> {
    let f = std::fs::File::open(path).expect("open zip");
    let mut z = zip::ZipArchive::new(f).expect("zip crate reads the bundle");
    let mut out = Vec::new();
    for i in 0..z.len() {
        let mut e = z.by_index(i).expect("entry");
        let mut data = Vec::new();
        e.read_to_end(&mut data).expect("entry data (crc checked)");
        out.push((
            e.name().expect("utf-8 name").to_string(),
            e.unix_mode().expect("unix mode"),
            e.compression() == zip::CompressionMethod::Deflated,
            data,
        ));
    }
    out
}

pub fn names(path: &Path) -> Vec<String> {
    read_zip(path).into_iter().map(|e| e.0).collect()
}

pub fn bundle_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("b.zip")
}
