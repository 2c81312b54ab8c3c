//! Pure rules over names and bytes: which names are unsafe, which files are already
//! compressed, where CRLF line endings are. Which files are secrets is decided by
//! `deploykit-secretrules`, the one rule set the bundle and the image share. No I/O here.

/// Why an entry name cannot go into the bundle, if it cannot.
pub fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("the name is empty");
    }
    if name.starts_with('/') || name.as_bytes().get(1) == Some(&b':') {
        return Some("the name is absolute");
    }
    if name
        .split('/')
        .any(|c| c == ".." || c == "." || c.is_empty())
    {
        return Some("the name has an empty, `.` or `..` component");
    }
    if name.contains('\\') {
        return Some("the name contains a backslash, which unzip treats as a directory separator");
    }
    if name.chars().any(char::is_control) {
        return Some("the name contains a control character");
    }
    None
}

/// Extensions of formats that are already compressed: deflating them again wastes time.
const STORED_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "webp", "avif", "heic", "woff", "woff2", "gz", "tgz", "bz2", "xz",
    "zip", "whl", "egg", "jar", "br", "zst", "7z", "rar", "mp4", "m4v", "mov", "webm", "mkv",
    "mp3", "m4a", "aac", "ogg", "oga", "opus", "flac",
];

/// Whether a file should be STORED rather than deflated, judged by its name.
pub fn is_precompressed(name: &str) -> bool {
    let base = name.rsplit('/').next().unwrap_or(name);
    match base.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => {
            let ext = ext.to_ascii_lowercase();
            STORED_EXTENSIONS.contains(&ext.as_str())
        }
        _ => false,
    }
}

/// Hook scripts Elastic Beanstalk executes: they must be executable and use LF endings.
pub fn is_hook(name: &str) -> bool {
    name.starts_with(".platform/hooks/") || name.starts_with(".platform/confighooks/")
}

/// Files whose CRLF line endings break the platform (hooks and the Procfile).
pub fn needs_lf(name: &str) -> bool {
    is_hook(name) || name == "Procfile"
}

/// 1-based line numbers of the lines that end in CRLF.
pub fn crlf_lines(bytes: &[u8]) -> Vec<usize> {
    let mut lines = Vec::new();
    let mut line = 1;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' {
            if i > 0 && bytes[i - 1] == b'\r' {
                lines.push(line);
            }
            line += 1;
        }
    }
    lines
}

/// `bytes` with every CRLF turned into LF.
pub fn to_lf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            continue;
        }
        out.push(b);
    }
    out
}

/// Whether a Procfile declares a `web:` process.
pub fn procfile_has_web(contents: &str) -> bool {
    contents
        .lines()
        .any(|l| l.trim_start().strip_prefix("web:").is_some())
}

/// A version label: `<prefix>-<hash12>[-<gitsha7>]`, valid for Elastic Beanstalk (<= 100
/// characters, no `/`). Characters outside `[A-Za-z0-9._-]` in the prefix become `-`.
pub fn version_label(prefix: &str, sha256_hex: &str, git_sha: Option<&str>) -> String {
    let mut prefix: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    if prefix.is_empty() {
        prefix.push_str("bundle");
    }
    let hash: String = sha256_hex.chars().take(12).collect();
    let git: Option<String> = git_sha.map(|s| {
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .take(7)
            .collect()
    });
    let suffix_len = 1 + hash.len() + git.as_ref().map_or(0, |g| 1 + g.len());
    prefix.truncate(100 - suffix_len);
    let mut label = format!("{prefix}-{hash}");
    if let Some(g) = git.filter(|g| !g.is_empty()) {
        label.push('-');
        label.push_str(&g);
    }
    label
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let bad = [
            "",
            "/etc/passwd",
            "C:/x",
            "../up",
            "a/../b",
            "a//b",
            "./a",
            "a\\b",
            "a\nb",
        ];
        for n in bad {
            assert!(name_problem(n).is_some(), "{n:?} should be refused");
        }
        for n in [
            "app.py",
            ".platform/hooks/postdeploy/01.sh",
            "a/b..c/d",
            "ünïcode.txt",
        ] {
            assert_eq!(name_problem(n), None, "{n:?}");
        }
    }

    #[test]
    fn precompressed() {
        for n in [
            "a.png",
            "static/x.JPG",
            "f.woff2",
            "d.tar.gz",
            "v.mp4",
            "w.whl",
        ] {
            assert!(is_precompressed(n), "{n}");
        }
        for n in ["a.py", "png", ".png", "x.pngx", "data.csv", "a.svg"] {
            assert!(!is_precompressed(n), "{n}");
        }
    }

    #[test]
    fn crlf() {
        assert_eq!(crlf_lines(b"a\r\nb\nc\r\n"), vec![1, 3]);
        assert_eq!(crlf_lines(b"a\nb\n"), Vec::<usize>::new());
        assert_eq!(crlf_lines(b"\r\n"), vec![1]);
        assert_eq!(to_lf(b"a\r\nb\r\r\nc\r"), b"a\nb\r\nc\r".to_vec());
    }

    #[test]
    fn procfile() {
        assert!(procfile_has_web("web: gunicorn app:app\n"));
        assert!(procfile_has_web("worker: x\n  web:gunicorn"));
        assert!(!procfile_has_web("worker: celery\n# web: x"));
        assert!(!procfile_has_web("webapp: x"));
    }

    #[test]
    fn labels() {
        let sha = "0123456789abcdef0123";
        assert_eq!(
            version_label("budgetsync", sha, None),
            "budgetsync-0123456789ab"
        );
        assert_eq!(
            version_label("budget sync/v2", sha, Some("deadbeefcafe")),
            "budget-sync-v2-0123456789ab-deadbee"
        );
        assert_eq!(version_label("", sha, None), "bundle-0123456789ab");
        let long = "x".repeat(300);
        let l = version_label(&long, sha, Some("abcdef1"));
        assert_eq!(l.len(), 100);
        assert!(l.ends_with("-0123456789ab-abcdef1"));
    }
}
