//! App trees with their expected verdicts, shared by the bundle's and the image's tests so the
//! two selections are held to the same policy. Not part of the API.

use std::io;
use std::path::{Path, PathBuf};

/// A planted secret: must never appear in a bundle or an image context.
pub const CANARY: &str = "canary-9c41f7e2d8b3a6";

/// A marker in a file that ships: proves the archive search can find what is there.
pub const VISIBLE: &str = "visible-marker-5e2a";

/// A minimal valid app (the bundle needs a Procfile and requirements.txt).
pub const BASE: &[(&str, &[u8])] = &[
    ("Procfile", b"web: gunicorn --bind :8000 app:app\n"),
    ("requirements.txt", b"flask==3.0.3\n"),
    (
        "app.py",
        b"from flask import Flask\napp = Flask(__name__)\n# visible-marker-5e2a\n",
    ),
];

/// One app tree and what both selections must say about it.
#[derive(Debug, Clone, Copy)]
pub struct Tree {
    pub name: &'static str,
    /// Files besides [`BASE`]: (path, contents).
    pub files: &'static [(&'static str, &'static [u8])],
    /// Symlinks: (link path, target as written). A target starting with `@outside/` points
    /// into a directory next to the app (outside it).
    pub links: &'static [(&'static str, &'static str)],
    /// FIFOs to create.
    pub fifos: &'static [&'static str],
    /// Lines of the ignore file (`.ebignore` or `.dockerignore`); written only when non-empty.
    /// Root-level names and full paths only, so gitignore and Docker semantics agree.
    pub ignore: &'static [&'static str],
    /// The refusal: (path, id) sorted by path, where id is a [`crate::Rule::id`], a
    /// [`crate::fs::LinkProblem::id`] or `special-file`. Empty: the tree ships.
    pub refused: &'static [(&'static str, &'static str)],
}

const PEM: &[u8] =
    b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n-----END OPENSSH PRIVATE KEY-----\n";

/// The table both crates run.
pub const TREES: &[Tree] = &[
    Tree {
        name: "clean app",
        files: &[("lib/util.py", b"X = 1\n")],
        links: &[],
        fifos: &[],
        ignore: &[],
        refused: &[],
    },
    Tree {
        name: "every secret file name",
        files: &[
            (".env", b"SECRET_KEY=x\n"),
            (".envrc", b"export A=1\n"),
            (".ENV.Production", b"A=1\n"),
            ("config/credentials", b"[default]\n"),
            ("id_rsa", b"key"),
            ("certs/tls.key", b"k"),
            ("Certs/Server.PEM", b"k"),
            ("store.p12", b"k"),
            ("store.pfx", b"k"),
            (".netrc", b"machine x"),
            (".pgpass", b"h:5432:*:u:p"),
            (".npmrc", b"//registry/:_authToken=x"),
            (".git-credentials", b"https://u:p@github.com"),
            (".docker/config.json", b"{}"),
            (".aws/credentials", b"[default]"),
        ],
        links: &[],
        fifos: &[],
        ignore: &[],
        refused: &[
            (".ENV.Production", "env-file"),
            (".aws/credentials", "tool-credentials"),
            (".docker/config.json", "tool-credentials"),
            (".env", "env-file"),
            (".envrc", "env-file"),
            (".git-credentials", "credentials-file"),
            (".netrc", "credentials-file"),
            (".npmrc", "credentials-file"),
            (".pgpass", "credentials-file"),
            ("Certs/Server.PEM", "key-file"),
            ("certs/tls.key", "key-file"),
            ("config/credentials", "credentials-file"),
            ("id_rsa", "ssh-key"),
            ("store.p12", "key-file"),
            ("store.pfx", "key-file"),
        ],
    },
    Tree {
        name: "more credential files and stores",
        files: &[
            (".kube/config", b"apiVersion: v1\n"),
            ("infra/terraform.tfstate", b"{}"),
            (".gnupg/pubring.kbx", b"k"),
            ("nginx/.htpasswd", b"u:$apr1$x"),
            ("config/secrets.yml", b"a: b\n"),
            ("AuthKey_X.p8", b"k"),
            (".pypirc", b"[pypi]\n"),
            ("deploy/id_ed25519.pub", b"ssh-ed25519 AAAA"),
            ("deploy/prod.env", b"A=1\n"),
        ],
        links: &[],
        fifos: &[],
        ignore: &[],
        refused: &[
            (".gnupg/pubring.kbx", "tool-credentials"),
            (".kube/config", "tool-credentials"),
            (".pypirc", "credentials-file"),
            ("AuthKey_X.p8", "key-file"),
            ("config/secrets.yml", "credentials-file"),
            ("deploy/id_ed25519.pub", "ssh-key"),
            ("deploy/prod.env", "env-file"),
            ("infra/terraform.tfstate", "credentials-file"),
            ("nginx/.htpasswd", "credentials-file"),
        ],
    },
    Tree {
        name: "more secrets in contents",
        files: &[
            (
                "ci/config.ini",
                b"[default]\naws_secret_access_key = Zq9xW2vBr7Tm1Kp4Ld8Hs3Nf6Gc0Yj5Ue2Ai9Ox1\n",
            ),
            (
                "scripts/release.sh",
                b"#!/bin/sh\nGH=ghp_Zq9xW2vBr7Tm1Kp4Ld8Hs3Nf6Gc0Yj5Ue2Ai\n",
            ),
            ("notify.py", b"HOOK = 'xoxb-2048-Zq9xW2vBr7Tm1Kp4'\n"),
            (".flaskenv", b"FLASK_APP=app\nSECRET_KEY=abc123def456\n"),
            (
                "docs/setup.md",
                b"export DATABASE_URL=postgresql://app:<password>@db/app\n",
            ),
        ],
        links: &[],
        fifos: &[],
        ignore: &[],
        refused: &[
            (".flaskenv", "secret-assignment"),
            ("ci/config.ini", "aws-secret-access-key"),
            ("notify.py", "service-token"),
            ("scripts/release.sh", "service-token"),
        ],
    },
    Tree {
        name: "a chain of links to an ignored secret",
        files: &[(".env.local", b"A=1\n")],
        links: &[("a.cfg", "b.cfg"), ("b.cfg", ".env.local")],
        fifos: &[],
        ignore: &[".env.local"],
        refused: &[
            ("a.cfg", "symlink-to-secret"),
            ("b.cfg", "symlink-to-secret"),
        ],
    },
    Tree {
        name: "env templates: empty values ship, a real value does not",
        files: &[
            (
                ".env.example",
                b"SECRET_KEY=\nDATABASE_URL=postgresql://<user>:<password>@<host>/db\n",
            ),
            (".env.sample", b"API_TOKEN=<token>\nAPP_ENV=production\n"),
            (".env.dist", b"# real one\nSTRIPE_KEY=sk_test_51Hx9Qz\n"),
        ],
        links: &[],
        fifos: &[],
        ignore: &[],
        refused: &[(".env.dist", "secret-assignment")],
    },
    Tree {
        name: "secrets in contents",
        files: &[
            (
                "settings.py",
                b"AWS_ACCESS_KEY_ID = 'AKIAQWERTYUIOPASDFGH'\n",
            ),
            ("notes/key.txt", PEM),
            (
                "app/db.py",
                b"URL = 'postgresql://app:Zq9xW2vB@db:5432/app'\n",
            ),
            (
                "docs/aws.md",
                b"use AKIAIOSFODNN7EXAMPLE as in the AWS docs\n",
            ),
            (
                "app/config.py",
                b"HELP = 'postgresql://USER:PASSWORD@HOST:5432/DB'\n",
            ),
        ],
        links: &[],
        fifos: &[],
        ignore: &[],
        refused: &[
            ("app/db.py", "url-password"),
            ("notes/key.txt", "private-key-block"),
            ("settings.py", "aws-access-key-id"),
        ],
    },
    Tree {
        name: "ignored secrets do not ship and are not refused",
        files: &[
            (".env", b"SECRET_KEY=x\n"),
            ("id_rsa", PEM),
            ("config/credentials", b"[default]\n"),
        ],
        links: &[],
        fifos: &[],
        ignore: &[".env", "id_rsa", "config/credentials"],
        refused: &[],
    },
    Tree {
        name: "a link to an ignored secret is refused",
        files: &[(".env", b"SECRET_KEY=x\n")],
        links: &[("x.cfg", ".env")],
        fifos: &[],
        ignore: &[".env"],
        refused: &[("x.cfg", "symlink-to-secret")],
    },
    Tree {
        name: "a link to a credential directory is refused",
        files: &[(".ssh/id_ed25519", PEM)],
        links: &[("keys", ".ssh")],
        fifos: &[],
        ignore: &[".ssh"],
        refused: &[("keys", "symlink-to-secret")],
    },
    Tree {
        name: "links inside the app to plain files ship",
        files: &[("lib/real.py", b"print(1)\n"), ("assets/a.txt", b"a")],
        links: &[("alias.py", "lib/real.py"), ("static", "assets")],
        fifos: &[],
        ignore: &[],
        refused: &[],
    },
    Tree {
        name: "links outside, broken and looping are refused",
        files: &[("lib/x.py", b"x\n")],
        links: &[
            ("leak.txt", "@outside/secret.txt"),
            ("outdir", "@outside"),
            ("broken.txt", "missing.txt"),
            ("lib/up", ".."),
        ],
        fifos: &[],
        ignore: &[],
        refused: &[
            ("broken.txt", "symlink-broken"),
            ("leak.txt", "symlink-outside"),
            ("lib/up", "symlink-loop"),
            ("outdir", "symlink-outside"),
        ],
    },
    Tree {
        name: "a FIFO is refused, not opened",
        files: &[],
        links: &[],
        fifos: &["run/pipe"],
        ignore: &[],
        refused: &[("run/pipe", "special-file")],
    },
];

/// The canary tree: the secret planted in `.env`, `config/credentials`, `id_rsa`, and shipped
/// through `x.cfg -> .env`. Refused as it is; with [`CANARY_IGNORE`] it builds without them.
pub const CANARY_TREE: Tree = Tree {
    name: "canary",
    files: &[
        (".env", b"SECRET_KEY=canary-9c41f7e2d8b3a6\n"),
        ("config/credentials", b"[default]\npassword = canary-9c41f7e2d8b3a6\n"),
        (
            "id_rsa",
            b"-----BEGIN OPENSSH PRIVATE KEY-----\ncanary-9c41f7e2d8b3a6\n-----END OPENSSH PRIVATE KEY-----\n",
        ),
    ],
    links: &[("x.cfg", ".env")],
    fifos: &[],
    ignore: &[],
    refused: &[
        (".env", "env-file"),
        ("config/credentials", "credentials-file"),
        ("id_rsa", "ssh-key"),
        ("x.cfg", "symlink-to-secret"),
    ],
};

/// Ignore lines that keep every canary file out.
pub const CANARY_IGNORE: &[&str] = &[".env", "config/credentials", "id_rsa", "x.cfg"];

/// Writes `tree` (with [`BASE`]) into `dir/app` and returns the app directory; `ignore_file`
/// (`.ebignore` or `.dockerignore`) gets `tree.ignore` plus `extra_ignore`. Targets under
/// `@outside` point into `dir/outside`, which holds `secret.txt`.
pub fn write_tree(
    dir: &Path,
    tree: &Tree,
    ignore_file: &str,
    extra_ignore: &[&str],
) -> io::Result<PathBuf> {
    let app = dir.join("app");
    let outside = dir.join("outside");
    std::fs::create_dir_all(&app)?;
    std::fs::create_dir_all(&outside)?;
    std::fs::write(outside.join("secret.txt"), CANARY)?;
    for (name, bytes) in BASE.iter().chain(tree.files) {
        let p = app.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(p, bytes)?;
    }
    let ignore: Vec<&str> = tree.ignore.iter().chain(extra_ignore).copied().collect();
    if !ignore.is_empty() {
        std::fs::write(app.join(ignore_file), ignore.join("\n") + "\n")?;
    }
    for (link, target) in tree.links {
        let p = app.join(link);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let target = match target.strip_prefix("@outside") {
            Some(rest) => outside.join(rest.trim_start_matches('/')),
            None => PathBuf::from(target),
        };
        symlink(&target, &p)?;
    }
    for fifo in tree.fifos {
        let p = app.join(fifo);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let status = std::process::Command::new("mkfifo").arg(&p).status()?;
        if !status.success() {
            return Err(io::Error::other(format!("mkfifo {} failed", p.display())));
        }
    }
    Ok(app)
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn symlink(_target: &Path, _link: &Path) -> io::Result<()> {
    Err(io::Error::other("symlink fixtures need a unix system"))
}
