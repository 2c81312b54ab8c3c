//! Source-bundle inspection: would this bundle start a web process on the Python platform?

use std::io::{Read, Seek};
use std::path::Path;

/// What the instance would make of a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A `Procfile` with a `web:` line, or an `application.py`, at the top level.
    Runs,
    /// The deploy will fail; the health causes the service would report.
    Fails(Vec<String>),
}

#[cfg(test)]
impl Verdict {
    pub fn runs(&self) -> bool {
        matches!(self, Verdict::Runs)
    }
}

const NOT_RUNNING: &str = "Following services are not running: web.";

/// Inspects a zip source bundle held in memory.
#[cfg(test)]
pub(crate) fn inspect(bytes: &[u8]) -> Verdict {
    inspect_reader(std::io::Cursor::new(bytes))
}

/// Inspects a zip source bundle on disk (only its directory and Procfile are read).
pub(crate) fn inspect_file(path: &Path) -> Verdict {
    match std::fs::File::open(path) {
        Ok(f) => inspect_reader(std::io::BufReader::new(f)),
        Err(e) => Verdict::Fails(vec![
            format!("Application update failed: cannot read the source bundle ({e})."),
            NOT_RUNNING.to_string(),
        ]),
    }
}

fn inspect_reader(reader: impl Read + Seek) -> Verdict {
    let mut archive = match zip::ZipArchive::new(reader) {
        Ok(a) => a,
        Err(e) => {
            return Verdict::Fails(vec![
                format!(
                    "Application update failed: the source bundle is not a valid zip file ({e})."
                ),
                NOT_RUNNING.to_string(),
            ]);
        }
    };
    if archive.index_for_name("application.py").is_some() {
        return Verdict::Runs;
    }
    if let Some(idx) = archive.index_for_name("Procfile") {
        let mut text = String::new();
        let read = archive
            .by_index(idx)
            .ok()
            .map(|mut f| f.by_ref().take(64 * 1024).read_to_string(&mut text).is_ok());
        if read == Some(true)
            && text.lines().any(|l| {
                l.trim_start()
                    .strip_prefix("web:")
                    .is_some_and(|cmd| !cmd.trim().is_empty())
            })
        {
            return Verdict::Runs;
        }
        return Verdict::Fails(vec![
            "Procfile has no 'web:' process; the platform has nothing to start.".to_string(),
            NOT_RUNNING.to_string(),
        ]);
    }
    let names: Vec<String> = archive
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .collect();
    let top_level_dirs: std::collections::BTreeSet<&str> = names
        .iter()
        .filter_map(|n| n.split_once('/').map(|(d, _)| d))
        .collect();
    let mut causes = vec![
        "Neither a Procfile with a 'web:' process nor application.py was found at the root of the source bundle."
            .to_string(),
    ];
    if top_level_dirs.len() == 1 && names.iter().all(|n| n.contains('/')) {
        causes.push(
            "The source bundle has a single top-level folder; zip the folder's contents instead."
                .to_string(),
        );
    }
    causes.push(NOT_RUNNING.to_string());
    Verdict::Fails(causes)
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use super::*;

    fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, body) in files {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(body.as_bytes()).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn verdicts() {
        type Case<'a> = (&'a [(&'a str, &'a str)], bool, &'a str);
        let cases: &[Case<'_>] = &[
            (&[("application.py", "app = None")], true, ""),
            (
                &[("Procfile", "web: gunicorn app:app\n"), ("app.py", "")],
                true,
                "",
            ),
            (
                &[("Procfile", "worker: celery\n"), ("app.py", "")],
                false,
                "no 'web:' process",
            ),
            (&[("Procfile", "web:\n")], false, "no 'web:' process"),
            (&[("app.py", "")], false, "Neither a Procfile"),
            (
                &[("proj/application.py", "")],
                false,
                "single top-level folder",
            ),
            (
                &[("src/app/application.py", ""), ("README", "")],
                false,
                "Neither a Procfile",
            ),
        ];
        for (files, runs, cause) in cases {
            let v = inspect(&zip_of(files));
            assert_eq!(v.runs(), *runs, "{files:?}");
            if let Verdict::Fails(causes) = &v {
                assert!(
                    causes.iter().any(|c| c.contains(cause)),
                    "{files:?}: {causes:?}"
                );
                assert!(causes.iter().any(|c| c == NOT_RUNNING), "{causes:?}");
            }
        }
        let Verdict::Fails(causes) = inspect(b"not a zip") else {
            panic!("garbage must fail")
        };
        assert!(causes[0].contains("not a valid zip"), "{causes:?}");
    }
}
