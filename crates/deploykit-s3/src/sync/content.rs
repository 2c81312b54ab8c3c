//! Content-Type by extension (a table, as data) and fingerprinted names. Pure.

/// Cache-Control for fingerprinted names: the name changes when the content does.
pub const IMMUTABLE_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// Cache-Control for every other name (five minutes).
pub const SHORT_CACHE_CONTROL: &str = "public, max-age=300";

/// Content-Type for an extension the table does not know.
pub const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// Extension (lowercase, no dot) to Content-Type: what a web app's static directory holds.
pub const CONTENT_TYPES: &[(&str, &str)] = &[
    ("html", "text/html; charset=utf-8"),
    ("htm", "text/html; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("mjs", "text/javascript; charset=utf-8"),
    ("json", "application/json"),
    ("map", "application/json"),
    ("webmanifest", "application/manifest+json"),
    ("xml", "application/xml"),
    ("txt", "text/plain; charset=utf-8"),
    ("csv", "text/csv; charset=utf-8"),
    ("md", "text/markdown; charset=utf-8"),
    ("svg", "image/svg+xml"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("avif", "image/avif"),
    ("ico", "image/vnd.microsoft.icon"),
    ("bmp", "image/bmp"),
    ("woff", "font/woff"),
    ("woff2", "font/woff2"),
    ("ttf", "font/ttf"),
    ("otf", "font/otf"),
    ("eot", "application/vnd.ms-fontobject"),
    ("wasm", "application/wasm"),
    ("pdf", "application/pdf"),
    ("zip", "application/zip"),
    ("mp4", "video/mp4"),
    ("webm", "video/webm"),
    ("mp3", "audio/mpeg"),
    ("ogg", "audio/ogg"),
    ("wav", "audio/wav"),
];

/// The Content-Type of a key or file name, by its extension (case-insensitive).
pub fn content_type(name: &str) -> &'static str {
    let file = name.rsplit('/').next().unwrap_or(name);
    let Some((stem, ext)) = file.rsplit_once('.') else {
        return DEFAULT_CONTENT_TYPE;
    };
    if stem.is_empty() {
        // `.htaccess`: a dot file, not an extension.
        return DEFAULT_CONTENT_TYPE;
    }
    CONTENT_TYPES
        .iter()
        .find(|(e, _)| e.eq_ignore_ascii_case(ext))
        .map_or(DEFAULT_CONTENT_TYPE, |(_, t)| t)
}

/// Whether a file name carries a content hash: a segment of its stem (split on `.`, `-`, `_`)
/// of 8 or more hex digits with at least one letter and one digit (`app.3f9a2c1b.css`,
/// `main-0a1b2c3d4e.js`). All-digit segments (dates like `20241201`) and words do not count.
pub fn is_fingerprinted(name: &str) -> bool {
    let file = name.rsplit('/').next().unwrap_or(name);
    let stem = match file.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => return false,
    };
    stem.split(['.', '-', '_']).any(|seg| {
        seg.len() >= 8
            && seg.chars().all(|c| c.is_ascii_hexdigit())
            && seg.chars().any(|c| c.is_ascii_digit())
            && seg.chars().any(|c| c.is_ascii_alphabetic())
    })
}
