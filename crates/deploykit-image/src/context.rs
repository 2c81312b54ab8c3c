//! The build context: the app directory filtered by `.dockerignore` (Docker's semantics), checked
//! for secrets with `deploykit-secretrules` (the rule set the source bundle uses too: names,
//! contents, symlink targets, special files), and written as a deterministic tar (mtime 0,
//! uid/gid 0, sorted entries).

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use deploykit_secretrules::Rule;
use deploykit_secretrules::fs::{LinkProblem, check_file, check_link, is_special, special_kind};
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use sha2::{Digest, Sha256};

use crate::ImageError;

/// Patterns applied when the app has no `.dockerignore`: version control, caches and virtualenvs
/// never belong in an image, and leaving them in would change the content hash on every commit.
pub const DEFAULT_DOCKERIGNORE: &str =
    ".git\n**/__pycache__\n**/*.pyc\n.venv\nvenv\n.pytest_cache\n.mypy_cache\n";

/// One `.dockerignore` rule: Docker matches a path against every rule in order (a rule matches a
/// path when it matches the path or any of its parents) and the last matching rule wins.
#[derive(Debug)]
struct IgnoreRule {
    negated: bool,
    matcher: Gitignore,
}

/// A parsed `.dockerignore` with Docker's semantics (patterns anchored at the context root,
/// `**`, `!` exceptions that can re-include files under an excluded directory).
#[derive(Debug)]
pub struct DockerIgnore {
    rules: Vec<IgnoreRule>,
}

impl DockerIgnore {
    /// Parses `.dockerignore` text. `source` names the file in errors.
    pub fn parse(text: &str, source: &Path) -> Result<Self, ImageError> {
        let mut rules = Vec::new();
        for (idx, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (negated, pat) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            // Docker cleans each pattern (filepath.Clean) and treats `/x` as `x`.
            let pat = pat
                .trim_start_matches("./")
                .trim_start_matches('/')
                .trim_end_matches('/');
            if pat.is_empty() || pat == "." {
                continue;
            }
            let mut b = GitignoreBuilder::new("");
            // Anchor at the root: Docker patterns never match "anywhere" like gitignore's.
            b.add_line(None, &format!("/{pat}"))
                .map_err(|e| ImageError::Dockerignore {
                    path: source.to_path_buf(),
                    line: idx + 1,
                    message: e.to_string(),
                })?;
            let matcher = b.build().map_err(|e| ImageError::Dockerignore {
                path: source.to_path_buf(),
                line: idx + 1,
                message: e.to_string(),
            })?;
            rules.push(IgnoreRule { negated, matcher });
        }
        Ok(Self { rules })
    }

    /// Whether `rel` (relative to the context root, `/`-separated) is excluded.
    pub fn is_excluded(&self, rel: &Path, is_dir: bool) -> bool {
        let mut excluded = false;
        for rule in &self.rules {
            if !rule
                .matcher
                .matched_path_or_any_parents(rel, is_dir)
                .is_none()
            {
                excluded = !rule.negated;
            }
        }
        excluded
    }

    /// Whether any rule re-includes paths (then excluded directories must still be walked).
    pub fn has_exceptions(&self) -> bool {
        self.rules.iter().any(|r| r.negated)
    }
}

/// Where the Dockerfile comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DockerfileSource {
    /// The app's own Dockerfile, at this path relative to the context root.
    InTree(String),
    /// No Dockerfile in the app: this generated text goes into the context tar only.
    Generated(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    File { executable: bool },
    Symlink(PathBuf),
}

/// One entry of the context, in tar order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextEntry {
    /// `/`-separated path relative to the context root.
    pub rel: String,
    pub kind: EntryKind,
}

/// The planned context: what goes in the tar, decided before anything is read or sent.
#[derive(Debug, Clone)]
pub struct ContextPlan {
    pub root: PathBuf,
    pub entries: Vec<ContextEntry>,
    pub dockerfile: DockerfileSource,
    /// Paths left out by `.dockerignore` (files and directory roots), for the report.
    pub excluded: Vec<String>,
    /// Whether the app had its own `.dockerignore` (otherwise [`DEFAULT_DOCKERIGNORE`] applied).
    pub has_dockerignore: bool,
}

impl ContextPlan {
    /// The Dockerfile name the daemon is told to use.
    pub fn dockerfile_name(&self) -> &str {
        match &self.dockerfile {
            DockerfileSource::InTree(p) => p,
            DockerfileSource::Generated(_) => GENERATED_DOCKERFILE_NAME,
        }
    }

    pub fn file_count(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| !matches!(e.kind, EntryKind::Dir))
            .count()
    }
}

/// Name of the generated Dockerfile inside the context tar (never written to the tree unless asked).
pub const GENERATED_DOCKERFILE_NAME: &str = "Dockerfile";

/// What is wrong with one path of the context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextProblemKind {
    /// The file's name or contents match a secret rule.
    Secret(Rule),
    /// A symlink out of the app directory.
    SymlinkOutside,
    /// A symlink whose target (inside the app) matches a secret rule, e.g. `x.cfg -> .env`.
    SymlinkToSecret(Rule),
    /// A symlink to one of its own parent directories.
    SymlinkLoop,
    /// A symlink whose target does not exist.
    BrokenSymlink,
    /// A FIFO, socket or device: never opened, never sent.
    SpecialFile,
}

impl ContextProblemKind {
    /// The shared id: a secret rule's id, a link problem's id, or `special-file`.
    pub fn id(self) -> &'static str {
        match self {
            ContextProblemKind::Secret(r) => r.id(),
            ContextProblemKind::SymlinkOutside => "symlink-outside",
            ContextProblemKind::SymlinkToSecret(_) => "symlink-to-secret",
            ContextProblemKind::SymlinkLoop => "symlink-loop",
            ContextProblemKind::BrokenSymlink => "symlink-broken",
            ContextProblemKind::SpecialFile => "special-file",
        }
    }
}

/// One reason the context cannot be sent as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextProblem {
    /// Relative to the context root, `/`-separated (a link's own path for link problems).
    pub path: String,
    pub kind: ContextProblemKind,
    /// What was found (never a secret value).
    pub detail: String,
    /// How to fix it.
    pub fix: String,
}

fn secret_problem(rel: &str, f: &deploykit_secretrules::Finding) -> ContextProblem {
    let fix = if f.rule.is_path_rule() {
        format!(
            "delete it or add `{rel}` to .dockerignore (keep its values in Secrets Manager); \
             rename it if it holds no secret"
        )
    } else {
        format!("{} (the ignore file: .dockerignore)", f.advice())
    };
    ContextProblem {
        path: rel.to_string(),
        kind: ContextProblemKind::Secret(f.rule),
        detail: format!("looks like a secret: {f}"),
        fix,
    }
}

fn link_problem(rel: &str, p: &LinkProblem) -> ContextProblem {
    let kind = match p {
        LinkProblem::Outside { .. } => ContextProblemKind::SymlinkOutside,
        LinkProblem::ToSecret { finding, .. } => ContextProblemKind::SymlinkToSecret(finding.rule),
        LinkProblem::Loop { .. } => ContextProblemKind::SymlinkLoop,
        LinkProblem::Broken { .. } => ContextProblemKind::BrokenSymlink,
    };
    ContextProblem {
        path: rel.to_string(),
        kind,
        detail: p.to_string(),
        fix: p.advice(rel, ".dockerignore"),
    }
}

/// Walks `root`, applies `.dockerignore` (or the defaults), refuses secrets (names, the first
/// MiB of each file's contents, symlink targets) and special files, and decides the
/// Dockerfile. Reads the tree, never writes it. Every problem is listed in
/// [`ImageError::SecretFiles`].
pub fn plan_context(
    root: &Path,
    dockerfile: &str,
    generated: &str,
) -> Result<ContextPlan, ImageError> {
    let (plan, problems) = select_context(root, dockerfile, generated)?;
    if problems.is_empty() {
        return Ok(plan);
    }
    Err(ImageError::SecretFiles {
        dir: root.to_path_buf(),
        files: problems
            .iter()
            .map(|p| format!("{}: {} (fix: {})", p.path, p.detail, p.fix))
            .collect(),
        suggestion: problems
            .iter()
            .map(|p| p.path.clone())
            .collect::<Vec<_>>()
            .join("\n"),
    })
}

/// [`plan_context`] without the refusal: the plan (problem paths left out) and every problem,
/// sorted by path. I/O failures are still errors.
pub fn select_context(
    root: &Path,
    dockerfile: &str,
    generated: &str,
) -> Result<(ContextPlan, Vec<ContextProblem>), ImageError> {
    let meta = std::fs::metadata(root).map_err(|source| ImageError::Context {
        path: root.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(ImageError::Context {
            path: root.to_path_buf(),
            source: io::Error::new(
                io::ErrorKind::NotADirectory,
                "the app directory is not a directory",
            ),
        });
    }
    let ignore_path = root.join(".dockerignore");
    let (ignore, has_dockerignore) = match std::fs::read_to_string(&ignore_path) {
        Ok(text) => (DockerIgnore::parse(&text, &ignore_path)?, true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => (
            DockerIgnore::parse(DEFAULT_DOCKERIGNORE, Path::new("<default .dockerignore>"))?,
            false,
        ),
        Err(source) => {
            return Err(ImageError::Context {
                path: ignore_path,
                source,
            });
        }
    };
    let canonical = root.canonicalize().map_err(|source| ImageError::Context {
        path: root.to_path_buf(),
        source,
    })?;
    let dockerfile_rel = dockerfile.trim_start_matches("./").to_string();
    let has_dockerfile = root.join(&dockerfile_rel).is_file();

    let mut entries = Vec::new();
    let mut excluded = Vec::new();
    let mut problems: Vec<ContextProblem> = Vec::new();
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .min_depth(1);
    let mut it = walker.into_iter();
    while let Some(entry) = it.next() {
        let entry = entry.map_err(|e| ImageError::Context {
            path: e
                .path()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| root.to_path_buf()),
            source: e
                .into_io_error()
                .unwrap_or_else(|| io::Error::other("file system loop")),
        })?;
        let rel_path = entry.path().strip_prefix(root).unwrap_or(entry.path());
        let rel = rel_path
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let ft = entry.file_type();
        let is_dir = ft.is_dir();
        let always = rel == ".dockerignore" || (has_dockerfile && rel == dockerfile_rel);
        if !always && ignore.is_excluded(Path::new(&rel), is_dir) {
            excluded.push(rel);
            if is_dir && !ignore.has_exceptions() {
                it.skip_current_dir();
            }
            continue;
        }
        let ctx_err = |source: io::Error| ImageError::Context {
            path: entry.path().to_path_buf(),
            source,
        };
        let kind = if is_dir {
            EntryKind::Dir
        } else if ft.is_symlink() {
            if let Err(p) = check_link(&canonical, entry.path(), &rel) {
                problems.push(link_problem(&rel, &p));
                continue;
            }
            if let Some(f) = deploykit_secretrules::classify_path(&rel) {
                problems.push(secret_problem(&rel, &f));
                continue;
            }
            EntryKind::Symlink(std::fs::read_link(entry.path()).map_err(ctx_err)?)
        } else if is_special(&ft) {
            problems.push(ContextProblem {
                path: rel.clone(),
                kind: ContextProblemKind::SpecialFile,
                detail: format!(
                    "{}, not a regular file: it has no contents to send",
                    special_kind(&ft)
                ),
                fix: format!("delete it or add `{rel}` to .dockerignore"),
            });
            continue;
        } else {
            let md = entry.metadata().map_err(|e| ctx_err(io::Error::other(e)))?;
            let found = check_file(&rel, entry.path()).map_err(ctx_err)?;
            if !found.is_empty() {
                problems.extend(found.iter().map(|f| secret_problem(&rel, f)));
                continue;
            }
            EntryKind::File {
                executable: is_executable(&md),
            }
        };
        entries.push(ContextEntry { rel, kind });
    }
    problems.sort_by(|a, b| a.path.cmp(&b.path));
    // Drop directory entries for dirs that ended up empty only because of exclusions? No: Docker
    // sends every non-excluded directory, and so do we (empty dirs survive COPY).
    let dockerfile = if has_dockerfile {
        DockerfileSource::InTree(dockerfile_rel)
    } else {
        // The generated Dockerfile replaces any entry of that name (none exists here).
        entries.retain(|e| e.rel != GENERATED_DOCKERFILE_NAME);
        DockerfileSource::Generated(generated.to_string())
    };
    let plan = ContextPlan {
        root: root.to_path_buf(),
        entries,
        dockerfile,
        excluded,
        has_dockerignore,
    };
    Ok((plan, problems))
}

#[cfg(unix)]
fn is_executable(md: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    md.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_md: &std::fs::Metadata) -> bool {
    false
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h
}

/// Writes the context as a tar to `out`, streaming each file from disk (nothing is held in
/// memory beyond one copy buffer). Headers are deterministic: same tree, same bytes.
pub fn write_context_tar<W: Write>(plan: &ContextPlan, out: W) -> Result<W, ImageError> {
    let mut tar = tar::Builder::new(out);
    tar.mode(tar::HeaderMode::Deterministic);
    tar.follow_symlinks(false);
    let werr = |path: &Path| {
        let path = path.to_path_buf();
        move |source: io::Error| ImageError::Context { path, source }
    };
    for e in &plan.entries {
        let abs = plan.root.join(&e.rel);
        match &e.kind {
            EntryKind::Dir => {
                let mut h = header(tar::EntryType::Directory, 0o755, 0);
                tar.append_data(&mut h, format!("{}/", e.rel), io::empty())
                    .map_err(werr(&abs))?;
            }
            EntryKind::Symlink(target) => {
                let mut h = header(tar::EntryType::Symlink, 0o777, 0);
                tar.append_link(&mut h, &e.rel, target)
                    .map_err(werr(&abs))?;
            }
            EntryKind::File { executable } => {
                let f = File::open(&abs).map_err(werr(&abs))?;
                let len = f.metadata().map_err(werr(&abs))?.len();
                let mut h = header(
                    tar::EntryType::Regular,
                    if *executable { 0o755 } else { 0o644 },
                    len,
                );
                let mut body = ExactReader {
                    inner: f.take(len),
                    left: len,
                };
                tar.append_data(&mut h, &e.rel, &mut body)
                    .map_err(werr(&abs))?;
            }
        }
    }
    if let DockerfileSource::Generated(text) = &plan.dockerfile {
        let mut h = header(tar::EntryType::Regular, 0o644, text.len() as u64);
        tar.append_data(&mut h, GENERATED_DOCKERFILE_NAME, text.as_bytes())
            .map_err(werr(Path::new("<generated Dockerfile>")))?;
    }
    tar.into_inner().map_err(werr(&plan.root))
}

/// Fails when a file shrank between `stat` and read (the tar header already promised a size).
struct ExactReader<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.left > 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file changed while the build context was written",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

struct HashWriter(Sha256);

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// SHA-256 (hex) of the context tar: the image's content hash, known before the build starts.
pub fn context_hash(plan: &ContextPlan) -> Result<String, ImageError> {
    let w = write_context_tar(plan, HashWriter(Sha256::new()))?;
    Ok(hex::encode(w.0.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for (path, body) in files {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, body).expect("write");
        }
        dir
    }

    fn included(plan: &ContextPlan) -> Vec<String> {
        plan.entries
            .iter()
            .filter(|e| !matches!(e.kind, EntryKind::Dir))
            .map(|e| e.rel.clone())
            .collect()
    }

    #[test]
    fn dockerignore_follows_docker_semantics() {
        // (patterns, path, is_dir, excluded?)
        let cases: &[(&str, &str, bool, bool)] = &[
            ("*.md", "README.md", false, true),
            ("*.md", "docs/guide.md", false, false), // anchored: `*` is root-only in Docker
            ("**/*.md", "docs/guide.md", false, true),
            ("docs", "docs/a/b.txt", false, true), // a parent match excludes children
            ("docs\n!docs/keep.txt", "docs/keep.txt", false, false),
            ("docs\n!docs/keep.txt", "docs/drop.txt", false, true),
            ("*.txt\n!important.txt", "important.txt", false, false),
            ("!important.txt\n*.txt", "important.txt", false, true), // last match wins
            ("/build/", "build/x", false, true),
            ("./tmp", "tmp", true, true),
            ("# comment\n\n  data/*.csv  ", "data/a.csv", false, true),
            ("data/?.csv", "data/ab.csv", false, false),
            ("[ab].py", "b.py", false, true),
            (".env*", ".env.local", false, true),
        ];
        for (patterns, path, is_dir, want) in cases {
            let di = DockerIgnore::parse(patterns, Path::new(".dockerignore")).expect("parse");
            assert_eq!(
                di.is_excluded(Path::new(path), *is_dir),
                *want,
                "patterns {patterns:?} path {path}"
            );
        }
    }

    #[test]
    fn plan_honours_dockerignore_with_exceptions() {
        let dir = tree(&[
            (".dockerignore", "docs\n!docs/keep.md\n.env\n*.log\n"),
            ("Dockerfile", "FROM scratch\n"),
            ("app.py", "print(1)\n"),
            ("docs/keep.md", "keep"),
            ("docs/drop.md", "drop"),
            (".env", "SECRET=1"),
            ("debug.log", "x"),
        ]);
        let plan = plan_context(dir.path(), "Dockerfile", "unused").expect("plan");
        assert_eq!(
            included(&plan),
            vec![".dockerignore", "Dockerfile", "app.py", "docs/keep.md"]
        );
        assert!(plan.excluded.contains(&".env".to_string()));
        assert!(plan.excluded.contains(&"docs/drop.md".to_string()));
        assert_eq!(
            plan.dockerfile,
            DockerfileSource::InTree("Dockerfile".into())
        );
        // The tar holds exactly the planned files, and never the .env.
        let bytes = write_context_tar(&plan, Vec::new()).expect("tar");
        let mut ar = tar::Archive::new(bytes.as_slice());
        let names: Vec<String> = ar
            .entries()
            .expect("entries")
            .map(|e| {
                e.expect("entry")
                    .path()
                    .expect("path")
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert!(names.contains(&"docs/keep.md".to_string()), "{names:?}");
        assert!(
            !names
                .iter()
                .any(|n| n.contains(".env") || n.contains("drop.md") || n.ends_with(".log")),
            "{names:?}"
        );
    }

    #[test]
    fn secret_files_are_refused_unless_ignored() {
        for secret in [
            ".env",
            ".env.production",
            "certs/server.pem",
            "id_rsa",
            "deploy/id_ed25519.pub",
            "tls.key",
        ] {
            let dir = tree(&[("app.py", "x"), (secret, "s")]);
            let err = plan_context(dir.path(), "Dockerfile", "g").expect_err(secret);
            let msg = err.to_string();
            assert!(
                matches!(err, ImageError::SecretFiles { .. }),
                "{secret}: {msg}"
            );
            let help = deploykit_report::Diagnostic::help(&err).unwrap_or_default();
            assert!(
                msg.contains(secret) && help.contains(".dockerignore"),
                "{secret}: {msg}\n{help}"
            );
            std::fs::write(dir.path().join(".dockerignore"), format!("{secret}\n")).expect("write");
            let plan = plan_context(dir.path(), "Dockerfile", "g").expect(secret);
            assert_eq!(included(&plan), vec![".dockerignore", "app.py"], "{secret}");
        }
        for fine in [".env.example", ".env.sample", "environment.py", "keys.py"] {
            let dir = tree(&[("app.py", "x"), (fine, "A=1\n")]);
            let plan = plan_context(dir.path(), "Dockerfile", "g").expect(fine);
            let mut want = vec!["app.py", fine];
            want.sort_unstable();
            assert_eq!(included(&plan), want, "{fine}");
        }
    }

    #[test]
    fn missing_dockerfile_is_generated_into_the_tar_only() {
        let dir = tree(&[("app.py", "x")]);
        let plan = plan_context(dir.path(), "Dockerfile", "FROM generated\n").expect("plan");
        assert!(matches!(plan.dockerfile, DockerfileSource::Generated(_)));
        let bytes = write_context_tar(&plan, Vec::new()).expect("tar");
        let mut ar = tar::Archive::new(bytes.as_slice());
        let mut found = None;
        for e in ar.entries().expect("entries") {
            let mut e = e.expect("entry");
            if e.path().expect("path").to_string_lossy() == "Dockerfile" {
                let mut s = String::new();
                e.read_to_string(&mut s).expect("read");
                found = Some(s);
            }
        }
        assert_eq!(found.as_deref(), Some("FROM generated\n"));
        assert!(
            !dir.path().join("Dockerfile").exists(),
            "the tree is never written to"
        );
    }

    #[test]
    fn tar_is_deterministic_and_hash_tracks_content() {
        let dir = tree(&[("Dockerfile", "FROM scratch\n"), ("a/b.txt", "one")]);
        let plan = plan_context(dir.path(), "Dockerfile", "g").expect("plan");
        let h1 = context_hash(&plan).expect("hash");
        // Touching mtimes or re-planning changes nothing.
        std::fs::write(dir.path().join("a/b.txt"), "one").expect("rewrite");
        let plan2 = plan_context(dir.path(), "Dockerfile", "g").expect("plan");
        assert_eq!(context_hash(&plan2).expect("hash"), h1);
        let bytes = write_context_tar(&plan2, Vec::new()).expect("tar");
        let mut ar = tar::Archive::new(bytes.as_slice());
        for e in ar.entries().expect("entries") {
            let e = e.expect("entry");
            let h = e.header();
            assert_eq!(
                (
                    h.mtime().expect("mtime"),
                    h.uid().expect("uid"),
                    h.gid().expect("gid")
                ),
                (0, 0, 0)
            );
        }
        std::fs::write(dir.path().join("a/b.txt"), "two").expect("change");
        let plan3 = plan_context(dir.path(), "Dockerfile", "g").expect("plan");
        assert_ne!(context_hash(&plan3).expect("hash"), h1);
    }

    #[test]
    fn default_ignore_applies_without_dockerignore() {
        let dir = tree(&[
            ("app.py", "x"),
            (".git/HEAD", "ref"),
            ("pkg/__pycache__/m.pyc", "c"),
            (".venv/bin/python", "p"),
        ]);
        let plan = plan_context(dir.path(), "Dockerfile", "g").expect("plan");
        assert_eq!(included(&plan), vec!["app.py"]);
        assert!(!plan.has_dockerignore);
    }

    #[test]
    fn bad_pattern_names_the_line() {
        let err = DockerIgnore::parse("ok\n[z-a].txt\n", Path::new("/app/.dockerignore"))
            .expect_err("bad");
        let msg = err.to_string();
        assert!(
            msg.contains("line 2") && msg.contains("/app/.dockerignore"),
            "{msg}"
        );
    }
}
