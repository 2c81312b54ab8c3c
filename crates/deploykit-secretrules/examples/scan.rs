//! `cargo run --release -p deploykit-secretrules --example scan -- DIR`: every regular file under
//! DIR through `fs::check_file` (the bundle's and the image's per-file check), for measuring the
//! rule set's cost. Writes one line per finding and a summary; never a secret value.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

fn walk(
    root: &Path,
    dir: &Path,
    out: &mut Vec<(String, std::path::PathBuf)>,
) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let ft = e.file_type()?;
        let p = e.path();
        if ft.is_dir() {
            walk(root, &p, out)?;
        } else if ft.is_file() {
            let rel = p
                .strip_prefix(root)
                .unwrap_or(&p)
                .to_string_lossy()
                .into_owned();
            out.push((rel, p));
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(dir) = std::env::args_os().nth(1) else {
        return Err("usage: scan DIR".into());
    };
    let root = Path::new(&dir);
    let mut files = Vec::new();
    walk(root, root, &mut files)?;
    let bytes: u64 = files
        .iter()
        .map(|(_, p)| {
            std::fs::metadata(p)
                .map_or(0, |m| m.len().min(deploykit_secretrules::SCAN_LIMIT as u64))
        })
        .sum();
    let started = Instant::now();
    let mut out = std::io::stdout().lock();
    let mut findings = 0;
    for (rel, path) in &files {
        for f in deploykit_secretrules::fs::check_file(rel, path)? {
            findings += 1;
            writeln!(out, "{rel}: {f}")?;
        }
    }
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    writeln!(
        out,
        "{} files, {:.1} MiB scanned, {findings} findings, {ms:.0} ms ({:.0} MiB/s)",
        files.len(),
        bytes as f64 / 1048576.0,
        bytes as f64 / 1048576.0 / (ms / 1000.0)
    )?;
    Ok(())
}
