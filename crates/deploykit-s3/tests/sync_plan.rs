//! `plan_static_sync`, content types, fingerprints and STATIC_URL as data.

use deploykit_s3::sync::{
    IMMUTABLE_CACHE_CONTROL, SHORT_CACHE_CONTROL, UploadReason, content_type, is_fingerprinted,
    normalize_prefix,
};
use deploykit_s3::{LocalFile, RemoteObject, SyncOptions, plan_static_sync, static_url};

fn local(key: &str, sha: &str, md5: &str, size: u64) -> LocalFile {
    LocalFile {
        key: key.into(),
        path: format!("/app/{key}").into(),
        size,
        sha256: sha.into(),
        md5: md5.into(),
    }
}

/// The object as a previous sync of `local(key, sha, ..)` left it.
fn synced(key: &str, sha: &str, size: u64) -> RemoteObject {
    let opts = SyncOptions::default();
    RemoteObject {
        key: key.into(),
        size,
        etag: Some("0123456789abcdef0123456789abcdef".into()),
        sha256: Some(sha.into()),
        content_type: Some(content_type(key).into()),
        cache_control: Some(opts.cache_control_for(key).into()),
    }
}

type Case = (
    &'static str,
    SyncOptions,
    Vec<LocalFile>,
    Vec<RemoteObject>,
    Vec<(&'static str, UploadReason)>,
    Vec<&'static str>,
    Vec<&'static str>,
);

#[test]
fn plans() {
    let del = SyncOptions {
        delete: true,
        ..SyncOptions::default()
    };
    let md5 = "9dd4e461268c8034f5c8564e155c67a6";
    let cases: Vec<Case> = vec![
        (
            "nothing at all",
            SyncOptions::default(),
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
        ),
        (
            "first sync uploads everything",
            SyncOptions::default(),
            vec![
                local("static/app.css", "a1", md5, 10),
                local("static/js/app.js", "b2", md5, 20),
            ],
            vec![],
            vec![
                ("static/app.css", UploadReason::New),
                ("static/js/app.js", UploadReason::New),
            ],
            vec![],
            vec![],
        ),
        (
            "second sync uploads nothing",
            SyncOptions::default(),
            vec![local("static/app.css", "a1", md5, 10)],
            vec![synced("static/app.css", "a1", 10)],
            vec![],
            vec!["static/app.css"],
            vec![],
        ),
        (
            "sha256 metadata compares case-insensitively",
            SyncOptions::default(),
            vec![local("static/app.css", "abcd", md5, 10)],
            vec![synced("static/app.css", "ABCD", 10)],
            vec![],
            vec!["static/app.css"],
            vec![],
        ),
        (
            "changed content",
            SyncOptions::default(),
            vec![local("static/app.css", "new", md5, 10)],
            vec![synced("static/app.css", "old", 10)],
            vec![("static/app.css", UploadReason::Changed)],
            vec![],
            vec![],
        ),
        (
            "changed size with the same claimed hash is changed",
            SyncOptions::default(),
            vec![local("static/app.css", "a1", md5, 11)],
            vec![synced("static/app.css", "a1", 10)],
            vec![("static/app.css", UploadReason::Changed)],
            vec![],
            vec![],
        ),
        (
            "no sha256 metadata: a single-part ETag equal to the MD5 is the same content",
            SyncOptions::default(),
            vec![local("static/logo.png", "x", md5, 10)],
            vec![RemoteObject {
                sha256: None,
                etag: Some(md5.into()),
                ..synced("static/logo.png", "", 10)
            }],
            vec![],
            vec!["static/logo.png"],
            vec![],
        ),
        (
            "no sha256 metadata and a multipart ETag: uploaded",
            SyncOptions::default(),
            vec![local("static/logo.png", "x", md5, 10)],
            vec![RemoteObject {
                sha256: None,
                etag: Some(format!("{md5}-2")),
                ..synced("static/logo.png", "", 10)
            }],
            vec![("static/logo.png", UploadReason::Changed)],
            vec![],
            vec![],
        ),
        (
            "same content, wrong Content-Type",
            SyncOptions::default(),
            vec![local("static/app.css", "a1", md5, 10)],
            vec![RemoteObject {
                content_type: Some("binary/octet-stream".into()),
                ..synced("static/app.css", "a1", 10)
            }],
            vec![("static/app.css", UploadReason::Headers)],
            vec![],
            vec![],
        ),
        (
            "same content, Cache-Control configured differently now",
            SyncOptions {
                default_cache_control: "no-cache".into(),
                ..SyncOptions::default()
            },
            vec![local("static/index.html", "a1", md5, 10)],
            vec![synced("static/index.html", "a1", 10)],
            vec![("static/index.html", UploadReason::Headers)],
            vec![],
            vec![],
        ),
        (
            "remote extras are kept without delete",
            SyncOptions::default(),
            vec![local("static/app.css", "a1", md5, 10)],
            vec![
                synced("static/app.css", "a1", 10),
                synced("static/old.css", "zz", 5),
            ],
            vec![],
            vec!["static/app.css"],
            vec![],
        ),
        (
            "remote extras are deleted with delete",
            del.clone(),
            vec![local("static/app.css", "a1", md5, 10)],
            vec![
                synced("static/old.css", "zz", 5),
                synced("static/app.css", "a1", 10),
                synced("static/a/b.js", "q", 1),
            ],
            vec![],
            vec!["static/app.css"],
            vec!["static/a/b.js", "static/old.css"],
        ),
        (
            "never deletes outside the prefix",
            del.clone(),
            vec![],
            vec![
                synced("receipts/1/x.pdf", "r", 5),
                synced("staticfoo", "s", 1),
                synced("static/gone.js", "g", 1),
            ],
            vec![],
            vec![],
            vec!["static/gone.js"],
        ),
        (
            "an empty prefix never deletes",
            SyncOptions {
                prefix: String::new(),
                ..del.clone()
            },
            vec![],
            vec![synced("receipts/1/x.pdf", "r", 5)],
            vec![],
            vec![],
            vec![],
        ),
    ];
    assert!(cases.len() >= 10);
    for (name, opts, local, remote, uploads, unchanged, deletes) in cases {
        let plan = plan_static_sync(&local, &remote, &opts);
        let got: Vec<_> = plan
            .uploads
            .iter()
            .map(|u| (u.key.as_str(), u.reason))
            .collect();
        assert_eq!(got, uploads, "{name}: uploads");
        assert_eq!(plan.unchanged, unchanged, "{name}: unchanged");
        assert_eq!(plan.deletes, deletes, "{name}: deletes");
        assert_eq!(
            plan.is_empty(),
            uploads.is_empty() && deletes.is_empty(),
            "{name}"
        );
        let bytes: u64 = local
            .iter()
            .filter(|f| unchanged.contains(&f.key.as_str()))
            .map(|f| f.size)
            .sum();
        assert_eq!(plan.unchanged_bytes, bytes, "{name}");
        if !opts.delete {
            assert!(plan.deletes.is_empty(), "{name}");
        }
    }
}

#[test]
fn uploads_carry_type_and_cache_control() {
    let files = vec![
        local("static/app.3f9a2c1b.css", "a", "m", 1),
        local("static/index.html", "b", "m", 1),
    ];
    let plan = plan_static_sync(&files, &[], &SyncOptions::default());
    let got: Vec<_> = plan
        .uploads
        .iter()
        .map(|u| {
            (
                u.key.as_str(),
                u.content_type.as_str(),
                u.cache_control.as_str(),
                u.sha256.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "static/app.3f9a2c1b.css",
                "text/css; charset=utf-8",
                IMMUTABLE_CACHE_CONTROL,
                "a"
            ),
            (
                "static/index.html",
                "text/html; charset=utf-8",
                SHORT_CACHE_CONTROL,
                "b"
            ),
        ]
    );
    assert_eq!(plan.upload_bytes(), 2);
}

#[test]
fn content_types() {
    let cases = [
        ("static/app.css", "text/css; charset=utf-8"),
        ("static/APP.CSS", "text/css; charset=utf-8"),
        ("a/b/c/app.3f9a2c1b.js", "text/javascript; charset=utf-8"),
        ("x.mjs", "text/javascript; charset=utf-8"),
        ("index.html", "text/html; charset=utf-8"),
        ("app.js.map", "application/json"),
        ("logo.svg", "image/svg+xml"),
        ("photo.JPEG", "image/jpeg"),
        ("favicon.ico", "image/vnd.microsoft.icon"),
        ("font.woff2", "font/woff2"),
        ("site.webmanifest", "application/manifest+json"),
        ("module.wasm", "application/wasm"),
        ("README", "application/octet-stream"),
        ("archive.tar.unknownext", "application/octet-stream"),
        (".htaccess", "application/octet-stream"),
        ("dir.css/file", "application/octet-stream"),
    ];
    for (name, want) in cases {
        assert_eq!(content_type(name), want, "{name}");
    }
}

#[test]
fn fingerprints() {
    let cases = [
        ("app.3f9a2c1b.css", true),
        ("main-0a1b2c3d4e5f.js", true),
        ("chunk_9f86d081884c7d65.js", true),
        ("static/js/vendor.3F9A2C1B.js", true),
        ("app.css", false),
        ("app.3f9a2c1.css", false),     // 7 hex chars
        ("report-20241201.pdf", false), // a date: digits only
        ("deadbeefcafe.png", false),    // a word: letters only
        ("3f9a2c1b", false),            // no extension: the hash would be the whole name
        ("app.min.js", false),
        ("3f9a2c1b.css", true),
        ("app.3f9a2c1bz.css", false), // not all hex
    ];
    for (name, want) in cases {
        assert_eq!(is_fingerprinted(name), want, "{name}");
    }
    let opts = SyncOptions::default();
    assert_eq!(
        opts.cache_control_for("static/app.3f9a2c1b.css"),
        IMMUTABLE_CACHE_CONTROL
    );
    assert_eq!(
        opts.cache_control_for("static/3f9a2c1b0/app.css"),
        SHORT_CACHE_CONTROL,
        "a hashed directory does not make the file immutable"
    );
}

#[test]
fn prefixes_and_urls() {
    for (raw, want) in [
        ("static", "static/"),
        ("/static/", "static/"),
        ("a/b", "a/b/"),
        ("", ""),
        ("/", ""),
    ] {
        assert_eq!(normalize_prefix(raw), want, "{raw}");
    }
    let cases = [
        (
            "budgetsync-uploads",
            "us-east-1",
            "static/",
            None,
            "https://budgetsync-uploads.s3.us-east-1.amazonaws.com/static/",
        ),
        (
            "budgetsync-uploads",
            "eu-west-1",
            "static",
            None,
            "https://budgetsync-uploads.s3.eu-west-1.amazonaws.com/static/",
        ),
        (
            "my.dotted.bucket",
            "us-west-2",
            "static/",
            None,
            "https://s3.us-west-2.amazonaws.com/my.dotted.bucket/static/",
        ),
        (
            "b-cn",
            "cn-north-1",
            "s/",
            None,
            "https://b-cn.s3.cn-north-1.amazonaws.com.cn/s/",
        ),
        (
            "b",
            "us-east-1",
            "",
            None,
            "https://b.s3.us-east-1.amazonaws.com/",
        ),
        (
            "b",
            "us-east-1",
            "static/",
            Some("http://127.0.0.1:4566/"),
            "http://127.0.0.1:4566/b/static/",
        ),
    ];
    for (bucket, region, prefix, endpoint, want) in cases {
        assert_eq!(static_url(bucket, region, prefix, endpoint), want);
    }
}
