//! Writing a [`BundlePlan`] as a deterministic zip, compressing on all cores in bounded memory.
//!
//! Work is cut into *units*: a whole small file, or a 1 MiB chunk of a large one. Workers on a
//! rayon pool claim units in order while the bytes in flight stay under a budget, compress
//! them into raw deflate buffers (a chunk is primed with the previous 32 KiB as dictionary and
//! ends on a sync flush, as pigz does, so the chunks concatenate into one deflate stream), and
//! send them to the writer on the calling thread, which appends them in order. Memory is bounded
//! by the budget whatever the tree's size; output bytes do not depend on the thread count.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use deploykit_report::{Event, Reporter, StepTimer, Unit};
use flate2::{Compress, Compression, FlushCompress, Status};
use rawzip::time::UtcDateTime;
use rawzip::{CompressionMethod, DataDescriptorOutput, ZipArchiveWriter};
use sha2::{Digest, Sha256};

use crate::plan::{self, BundlePlan, Method, PlannedEntry};
use crate::{BundleError, BundleOptions, BundleSummary, rules};

/// Files larger than this are split into chunks of this size.
pub(crate) const CHUNK: u64 = 1 << 20;
/// Deflate's window: each chunk is primed with this much of the data before it.
const DICT: u64 = 32 * 1024;
/// Input bytes claimed by workers but not yet written: the memory bound.
const BUDGET: u64 = 16 << 20;
/// Deflate level: the same as `zip -6`.
const LEVEL: u32 = 6;
/// 1980-01-01T00:00:00Z, the earliest DOS timestamp: every entry gets it.
const EPOCH_1980: i64 = 315_532_800;
/// How often (in input bytes) progress is reported.
const PROGRESS_EVERY: u64 = 4 << 20;

#[derive(Debug, Clone, Copy)]
struct WorkUnit {
    entry: usize,
    offset: u64,
    len: u64,
    first: bool,
    last: bool,
}

#[derive(Debug)]
struct Done {
    data: Vec<u8>,
    crc: crc32fast::Hasher,
    len_in: u64,
    method: Method,
}

#[derive(Debug, Default)]
struct Sched {
    next: usize,
    in_flight: u64,
    abort: bool,
}

pub(crate) fn build(
    opts: &BundleOptions,
    reporter: &dyn Reporter,
    limit: u64,
) -> Result<BundleSummary, BundleError> {
    let started = Instant::now();
    let threads = opts
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("bundle-{i}"))
        .build()
        .map_err(|e| BundleError::Threads {
            threads,
            message: e.to_string(),
        })?;
    let plan = pool.install(|| plan::plan(opts))?;
    let mut warnings = plan.warnings.clone();
    if opts.git_dirty {
        warnings.push(
            "the git working tree has uncommitted changes; the label's content hash covers them, \
             the git sha does not"
                .to_string(),
        );
    }
    for w in &warnings {
        reporter.report(Event::warn(w.clone()));
    }

    let into_dir = opts.out.is_dir();
    let partial = if into_dir {
        opts.out
            .join(format!(".deploykit-bundle-{}.partial", std::process::id()))
    } else {
        let name = opts
            .out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "bundle.zip".into());
        opts.out.with_file_name(format!(".{name}.partial"))
    };
    if let Some(parent) = partial.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| BundleError::Write {
            path: parent.to_path_buf(),
            source,
        })?;
    }

    let timer = StepTimer::start(
        reporter,
        "bundle",
        format!(
            "Bundling {} files ({}) from {} on {threads} thread{}",
            plan.entries.len(),
            human_bytes(plan.bytes_in),
            opts.app_dir.display(),
            if threads == 1 { "" } else { "s" }
        ),
    );
    let units = units(&plan.entries);
    let sched = (Mutex::default(), Condvar::new());
    let written = File::create(&partial)
        .map_err(|source| BundleError::Write {
            path: partial.clone(),
            source,
        })
        .and_then(|file| {
            let job = Job {
                plan: &plan,
                units: &units,
                sched: &sched,
            };
            pool.in_place_scope(|scope| write_zip(job, file, &partial, threads, scope, reporter))
        });
    let (bytes_out, sha256, bytes_in) = match written {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    if bytes_out > limit {
        let _ = std::fs::remove_file(&partial);
        return Err(BundleError::TooLarge {
            what: format!("the bundle of {}", opts.app_dir.display()),
            size: bytes_out,
            limit,
        });
    }
    let label = rules::version_label(&opts.label_prefix, &sha256, opts.git_sha.as_deref());
    let path = if into_dir {
        opts.out.join(format!("{label}.zip"))
    } else {
        opts.out.clone()
    };
    std::fs::rename(&partial, &path).map_err(|source| {
        let _ = std::fs::remove_file(&partial);
        BundleError::Write {
            path: path.clone(),
            source,
        }
    })?;
    timer.finish(
        reporter,
        format!(
            "{} files, {} -> {} ({label})",
            plan.entries.len(),
            human_bytes(bytes_in),
            human_bytes(bytes_out)
        ),
    );
    Ok(BundleSummary {
        path,
        files: plan.entries.len(),
        bytes_in,
        bytes_out,
        sha256,
        label,
        elapsed: started.elapsed(),
        warnings,
    })
}

fn units(entries: &[PlannedEntry]) -> Vec<WorkUnit> {
    let mut units = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        if e.fix_line_endings || e.size <= CHUNK {
            units.push(WorkUnit {
                entry: i,
                offset: 0,
                len: e.size,
                first: true,
                last: true,
            });
            continue;
        }
        let mut offset = 0;
        while offset < e.size {
            let len = CHUNK.min(e.size - offset);
            units.push(WorkUnit {
                entry: i,
                offset,
                len,
                first: offset == 0,
                last: offset + len == e.size,
            });
            offset += len;
        }
    }
    units
}

/// Counts and hashes what goes to the file.
struct HashWriter<W> {
    inner: W,
    sha: Sha256,
    count: u64,
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// What the writer and the workers share for one build.
#[derive(Debug, Clone, Copy)]
struct Job<'s> {
    plan: &'s BundlePlan,
    units: &'s [WorkUnit],
    sched: &'s (Mutex<Sched>, Condvar),
}

/// Returns (bytes written, sha256 hex, uncompressed bytes).
fn write_zip<'s>(
    job: Job<'s>,
    file: File,
    path: &Path,
    threads: usize,
    scope: &rayon::Scope<'s>,
    reporter: &dyn Reporter,
) -> Result<(u64, String, u64), BundleError> {
    let result = write_units(job, file, path, threads, scope, reporter);
    // Stop the workers whatever happened; they exit at their next claim.
    let (lock, cv) = job.sched;
    lock.lock().unwrap_or_else(|e| e.into_inner()).abort = true;
    cv.notify_all();
    result
}

fn write_units<'s>(
    job: Job<'s>,
    file: File,
    path: &Path,
    threads: usize,
    scope: &rayon::Scope<'s>,
    reporter: &dyn Reporter,
) -> Result<(u64, String, u64), BundleError> {
    let Job { plan, units, sched } = job;
    let (tx, rx) = mpsc::channel::<(usize, Result<Done, BundleError>)>();
    for _ in 0..threads {
        let tx = tx.clone();
        scope.spawn(move |_| worker(&plan.entries, units, sched, &tx));
    }
    drop(tx);

    let werr = |source: std::io::Error| BundleError::Write {
        path: path.to_path_buf(),
        source,
    };
    let zerr = |source: rawzip::Error| BundleError::Zip {
        path: path.to_path_buf(),
        source,
    };
    let out = HashWriter {
        inner: BufWriter::with_capacity(256 * 1024, file),
        sha: Sha256::new(),
        count: 0,
    };
    let mut archive = ZipArchiveWriter::new(out);
    let mut pending: HashMap<usize, Result<Done, BundleError>> = HashMap::new();
    let mut wait = |idx: usize| -> Result<Done, BundleError> {
        loop {
            if let Some(r) = pending.remove(&idx) {
                return r;
            }
            match rx.recv() {
                Ok((i, r)) => {
                    pending.insert(i, r);
                }
                Err(_) => {
                    return Err(werr(std::io::Error::other(
                        "a compression thread stopped unexpectedly",
                    )));
                }
            }
        }
    };
    let release = |len: u64| {
        let (lock, cv) = sched;
        lock.lock().unwrap_or_else(|e| e.into_inner()).in_flight -= len;
        cv.notify_all();
    };
    let total = plan.bytes_in;
    let mut done_in = 0u64;
    let mut reported = 0u64;
    let mut shipped = 0u64;
    let mut u = 0;
    let mtime = UtcDateTime::from_unix(EPOCH_1980);
    while u < units.len() {
        let entry = &plan.entries[units[u].entry];
        let first = wait(u)?;
        release(units[u].len);
        let method = match first.method {
            Method::Deflate => CompressionMethod::DEFLATE,
            Method::Store => CompressionMethod::STORE,
        };
        let (mut w, _) = archive
            .new_file(entry.name.as_str())
            .compression_method(method)
            .unix_permissions(0o100_000 | entry.mode)
            .last_modified(mtime)
            .start()
            .map_err(zerr)?;
        let mut crc = first.crc;
        let mut len_in = first.len_in;
        w.write_all(&first.data).map_err(werr)?;
        done_in += units[u].len;
        let mut last = units[u].last;
        u += 1;
        while !last {
            let next = wait(u)?;
            release(units[u].len);
            w.write_all(&next.data).map_err(werr)?;
            crc.combine(&next.crc);
            len_in += next.len_in;
            done_in += units[u].len;
            last = units[u].last;
            u += 1;
        }
        w.finish(DataDescriptorOutput::new(crc.finalize(), len_in))
            .map_err(zerr)?;
        shipped += len_in;
        if done_in - reported >= PROGRESS_EVERY || u == units.len() {
            reported = done_in;
            reporter.report(Event::Progress {
                step: "bundle".into(),
                done: done_in,
                total: Some(total),
                unit: Unit::Bytes,
            });
        }
    }
    let mut out = archive.finish().map_err(zerr)?;
    out.flush().map_err(werr)?;
    let HashWriter { inner, sha, count } = out;
    inner.into_inner().map_err(|e| werr(e.into_error()))?;
    Ok((count, hex::encode(sha.finalize()), shipped))
}

fn worker(
    entries: &[PlannedEntry],
    units: &[WorkUnit],
    sched: &(Mutex<Sched>, Condvar),
    tx: &mpsc::Sender<(usize, Result<Done, BundleError>)>,
) {
    let mut comp = Compress::new(Compression::new(LEVEL), false);
    let mut buf = Vec::new();
    loop {
        let idx = {
            let (lock, cv) = sched;
            let mut s = lock.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if s.abort || s.next >= units.len() {
                    return;
                }
                let len = units[s.next].len;
                if s.in_flight == 0 || s.in_flight + len <= BUDGET {
                    s.in_flight += len;
                    s.next += 1;
                    break s.next - 1;
                }
                s = cv.wait(s).unwrap_or_else(|e| e.into_inner());
            }
        };
        let unit = units[idx];
        let result = compress_unit(&entries[unit.entry], unit, &mut comp, &mut buf);
        if tx.send((idx, result)).is_err() {
            return;
        }
    }
}

fn compress_unit(
    entry: &PlannedEntry,
    unit: WorkUnit,
    comp: &mut Compress,
    buf: &mut Vec<u8>,
) -> Result<Done, BundleError> {
    let rerr = |source: std::io::Error| BundleError::Read {
        path: entry.path.clone(),
        source,
    };
    let dict_len = if unit.first { 0 } else { DICT.min(unit.offset) };
    let start = unit.offset - dict_len;
    let want = dict_len + unit.len;
    let mut file = File::open(&entry.path).map_err(rerr)?;
    if start > 0 {
        file.seek(SeekFrom::Start(start)).map_err(rerr)?;
    }
    buf.clear();
    buf.reserve(usize::try_from(want).unwrap_or(usize::MAX));
    (&mut file).take(want).read_to_end(buf).map_err(rerr)?;
    if buf.len() as u64 != want {
        return Err(rerr(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!(
                "the file changed while it was being bundled (expected {} bytes from offset {start}, got {})",
                want,
                buf.len()
            ),
        )));
    }
    let fixed;
    let dict_len = dict_len as usize;
    let (dict, mut input) = buf.split_at(dict_len);
    if entry.fix_line_endings {
        fixed = rules::to_lf(input);
        input = &fixed;
    }
    let mut crc = crc32fast::Hasher::new();
    crc.update(input);
    let len_in = input.len() as u64;
    let whole = unit.first && unit.last;
    if entry.method == Method::Store || input.is_empty() {
        return Ok(Done {
            data: input.to_vec(),
            crc,
            len_in,
            method: Method::Store,
        });
    }
    let data = deflate(comp, dict, input, unit.last)?;
    // A whole file that does not shrink is stored, as zip does.
    if whole && data.len() >= input.len() {
        return Ok(Done {
            data: input.to_vec(),
            crc,
            len_in,
            method: Method::Store,
        });
    }
    Ok(Done {
        data,
        crc,
        len_in,
        method: Method::Deflate,
    })
}

/// Raw deflate of `input`, primed with `dict`; ends the stream when `last`, else on a sync
/// flush (byte-aligned, not final) so the next chunk's output can follow it directly.
fn deflate(
    comp: &mut Compress,
    dict: &[u8],
    input: &[u8],
    last: bool,
) -> Result<Vec<u8>, BundleError> {
    let cerr = |e: &dyn std::fmt::Display| BundleError::Write {
        path: PathBuf::new(),
        source: std::io::Error::other(format!("deflate failed: {e}")),
    };
    if dict.is_empty() {
        comp.reset();
    } else {
        // A reset compressor primed with a dictionary does not always produce the same bytes
        // as a fresh one (zlib-rs keeps some state), and which worker compresses which chunk
        // varies: start chunks from a fresh compressor so output never depends on scheduling.
        *comp = Compress::new(Compression::new(LEVEL), false);
        comp.set_dictionary(dict).map_err(|e| cerr(&e))?;
    }
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut out = Vec::with_capacity(input.len() / 2 + 1024);
    let start_in = comp.total_in();
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity().max(64 * 1024));
        }
        let consumed = usize::try_from(comp.total_in() - start_in).unwrap_or(usize::MAX);
        let status = comp
            .compress_vec(&input[consumed..], &mut out, flush)
            .map_err(|e| cerr(&e))?;
        let consumed = usize::try_from(comp.total_in() - start_in).unwrap_or(usize::MAX);
        match status {
            Status::StreamEnd => break,
            Status::Ok | Status::BufError => {
                if !last && consumed == input.len() && out.len() < out.capacity() {
                    break;
                }
            }
        }
    }
    Ok(out)
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if i % 64 == 63 {
                    b'\n'
                } else {
                    b"0123456789abcdef"[(x % 16) as usize]
                }
            })
            .collect()
    }

    #[test]
    fn reused_compressor_gives_the_same_bytes_as_a_fresh_one() {
        let a = data(300_000, 1);
        let b = data(200_000, 2);
        for (dict, last) in [(&b""[..], true), (&a[..32768], false), (&a[..32768], true)] {
            let mut fresh = Compress::new(Compression::new(LEVEL), false);
            let want = deflate(&mut fresh, dict, &b, last).expect("deflate");
            let mut used = Compress::new(Compression::new(LEVEL), false);
            deflate(&mut used, &a[..1000], &a, false).expect("deflate");
            deflate(&mut used, b"", &b[..5000], true).expect("deflate");
            let got = deflate(&mut used, dict, &b, last).expect("deflate");
            assert_eq!(got, want, "dict {} last {last}", dict.len());
        }
    }

    #[test]
    fn over_the_size_limit_is_refused_and_nothing_is_left_behind() {
        let app = tempfile::tempdir().expect("tempdir");
        std::fs::write(app.path().join("Procfile"), "web: x\n").expect("write");
        std::fs::write(app.path().join("requirements.txt"), "flask\n").expect("write");
        std::fs::write(app.path().join("big.bin"), data(200_000, 3)).expect("write");
        let out = tempfile::tempdir().expect("tempdir");
        let opts = BundleOptions::new(app.path(), out.path().join("b.zip"));
        let err = build(&opts, &deploykit_report::NullReporter, 10_000).expect_err("too large");
        assert!(err.is_refusal());
        let msg = err.to_string();
        assert!(
            msg.contains("over Elastic Beanstalk's source bundle limit of 10000 bytes"),
            "{msg}"
        );
        let help = deploykit_report::Diagnostic::help(&err).unwrap_or_default();
        assert!(help.contains(".ebignore"), "{help}");
        assert_eq!(std::fs::read_dir(out.path()).expect("ls").count(), 0);
    }
}
