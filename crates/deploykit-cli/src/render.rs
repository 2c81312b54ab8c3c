//! Renders library [`Event`]s: progress bars on a terminal, plain lines otherwise, JSON lines
//! with `--output json`. The one place that prints progress.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use deploykit_report::{Event, Level, Reporter, Unit};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::CliError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Progress bars on a terminal, plain lines otherwise.
    Auto,
    /// Plain lines, one per event.
    Plain,
    /// One JSON object per line (events), then one result object.
    Json,
}

/// The reporter the CLI hands to the libraries.
#[derive(Debug)]
pub struct Renderer {
    format: Format,
    /// How the user invoked us (`deploykit` or `cargo xtask`): the CLI's own advice names
    /// commands as `cargo xtask ...`, rewritten to this on output.
    prog: &'static str,
    bars: Mutex<HashMap<String, ProgressBar>>,
    multi: Option<MultiProgress>,
    /// Last `Waiting` line printed per step, to print a wait once and then every
    /// [`WAIT_REPEAT`] instead of on every poll.
    waits: Mutex<HashMap<String, (String, std::time::Instant)>>,
}

/// How often an unchanged "waiting for ..." line is repeated in line-based output.
const WAIT_REPEAT: std::time::Duration = std::time::Duration::from_secs(15);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Bars,
    Plain,
    Json,
}

impl Renderer {
    pub fn new(format: OutputFormat) -> Self {
        Self::for_program(format, CANONICAL_PROG)
    }

    /// A renderer for a front end invoked as `prog` (`deploykit`, `cargo xtask`).
    pub fn for_program(format: OutputFormat, prog: &'static str) -> Self {
        let format = match format {
            OutputFormat::Json => Format::Json,
            OutputFormat::Plain => Format::Plain,
            OutputFormat::Auto if std::io::stderr().is_terminal() => Format::Bars,
            OutputFormat::Auto => Format::Plain,
        };
        let multi = (format == Format::Bars)
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Self {
            format,
            prog,
            bars: Mutex::new(HashMap::new()),
            multi,
            waits: Mutex::new(HashMap::new()),
        }
    }

    pub fn is_json(&self) -> bool {
        self.format == Format::Json
    }

    /// Prints a line of human output (to stdout), or nothing in JSON mode.
    pub fn line(&self, text: impl AsRef<str>) {
        if self.format == Format::Json {
            return;
        }
        let text = self.with_prog(text.as_ref());
        self.suspend(|| write_line(&mut std::io::stdout(), &text));
    }

    /// Prints the command's final result: JSON object in JSON mode, `human` lines otherwise.
    pub fn result<T: serde::Serialize>(&self, value: &T, human: impl FnOnce() -> String) {
        match self.format {
            Format::Json => {
                let mut out = std::io::stdout().lock();
                let _ = serde_json::to_writer(&mut out, &serde_json::json!({ "result": value }));
                let _ = writeln!(out);
            }
            _ => {
                let text = self.with_prog(&human());
                if !text.is_empty() {
                    self.suspend(|| write_line(&mut std::io::stdout(), &text));
                }
            }
        }
    }

    pub fn error(&self, err: &CliError) {
        match self.format {
            Format::Json => {
                let mut out = std::io::stdout().lock();
                let _ = serde_json::to_writer(
                    &mut out,
                    &serde_json::json!({
                        "error": {
                            "exit": err.exit,
                            "code": err.exit as u8,
                            "category": err.exit.category(),
                            "message": self.with_prog(&err.message),
                            "help": err.hint.as_deref().map(|h| self.with_prog(h)),
                        }
                    }),
                );
                let _ = writeln!(out);
            }
            _ => {
                let text = self.with_prog(&format!("error: {err}"));
                self.suspend(|| write_line(&mut std::io::stderr(), &text));
            }
        }
    }

    /// `text` with the canonical program name replaced by the one the user invoked.
    pub(crate) fn with_prog(&self, text: &str) -> String {
        if self.prog == CANONICAL_PROG {
            text.to_string()
        } else {
            text.replace(CANONICAL_PROG, self.prog)
        }
    }

    /// Clears any progress bars left behind.
    pub fn finish(&self) {
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        for (_, bar) in bars.drain() {
            bar.finish_and_clear();
        }
    }

    fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.multi {
            Some(m) => m.suspend(f),
            None => f(),
        }
    }

    fn bar(&self, step: &str, total: Option<u64>, unit: Unit) -> Option<ProgressBar> {
        let multi = self.multi.as_ref()?;
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        let bar = bars.entry(step.to_string()).or_insert_with(|| {
            let bar = multi.add(ProgressBar::new(total.unwrap_or(0)));
            let template = match unit {
                Unit::Bytes => {
                    "{prefix:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}"
                }
                _ => "{prefix:>12} [{bar:30}] {pos}/{len} {per_sec}",
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(step.to_string());
            bar
        });
        if let Some(t) = total {
            bar.set_length(t);
        }
        Some(bar.clone())
    }

    /// True when a `Waiting` event repeats the last one printed for its step too soon.
    fn is_repeated_wait(&self, event: &Event) -> bool {
        let Event::Waiting { step, for_what, .. } = event else {
            return false;
        };
        let mut waits = self.waits.lock().unwrap_or_else(|e| e.into_inner());
        let now = std::time::Instant::now();
        match waits.get(step) {
            Some((last, at)) if last == for_what && now.duration_since(*at) < WAIT_REPEAT => true,
            _ => {
                waits.insert(step.clone(), (for_what.clone(), now));
                false
            }
        }
    }

    fn plain(&self, event: &Event) -> Option<String> {
        if self.is_repeated_wait(event) {
            return None;
        }
        Some(match event {
            Event::StepStarted { step, what } => format!("[{step}] {what}"),
            Event::StepFinished {
                step,
                summary,
                elapsed,
            } => format!("[{step}] done in {:.2}s: {summary}", elapsed.as_secs_f64()),
            Event::StepSkipped { step, reason } => format!("[{step}] skipped: {reason}"),
            Event::Waiting {
                step,
                for_what,
                waited,
                timeout,
            } => format!(
                "[{step}] waiting for {for_what} ({}s of {}s)",
                waited.as_secs(),
                timeout.as_secs()
            ),
            Event::Remote {
                step,
                source,
                level,
                message,
            } => format!("[{step}] {source} {}: {message}", level_word(*level)),
            Event::Message { level, message } => match level {
                Level::Debug => return None,
                Level::Info => message.clone(),
                l => format!("{}: {message}", level_word(*l)),
            },
            // Plain mode shows progress only at the start and end of steps.
            Event::Progress { .. } => return None,
        })
    }
}

/// The program name the CLI's own advice is written with.
pub const CANONICAL_PROG: &str = "cargo xtask";

/// Writes one line; a closed pipe (`deploykit ... | head`) is not an error worth a panic.
fn write_line(out: &mut impl Write, text: &str) {
    let _ = writeln!(out, "{text}");
}

fn level_word(level: Level) -> &'static str {
    match level {
        Level::Debug => "debug",
        Level::Info => "info",
        Level::Warn => "warning",
        Level::Error => "error",
    }
}

impl Reporter for Renderer {
    fn report(&self, event: Event) {
        match self.format {
            Format::Json => {
                let mut err = std::io::stderr().lock();
                let _ = serde_json::to_writer(&mut err, &event);
                let _ = writeln!(err);
            }
            Format::Plain => {
                if let Some(line) = self.plain(&event) {
                    write_line(&mut std::io::stderr(), &line);
                }
            }
            Format::Bars => match &event {
                Event::Progress {
                    step,
                    done,
                    total,
                    unit,
                } => {
                    if let Some(bar) = self.bar(step, *total, *unit) {
                        bar.set_position(*done);
                    }
                }
                Event::StepFinished { step, .. } | Event::StepSkipped { step, .. } => {
                    if let Some(bar) = self
                        .bars
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(step)
                    {
                        bar.finish_and_clear();
                    }
                    if let Some(line) = self.plain(&event) {
                        self.suspend(|| write_line(&mut std::io::stderr(), &line));
                    }
                }
                _ => {
                    if let Some(line) = self.plain(&event) {
                        self.suspend(|| write_line(&mut std::io::stderr(), &line));
                    }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn wait(for_what: &str) -> Event {
        Event::Waiting {
            step: "deploy".into(),
            for_what: for_what.into(),
            waited: Duration::from_secs(1),
            timeout: Duration::from_secs(60),
        }
    }

    #[test]
    fn an_unchanged_wait_is_printed_once_and_a_changed_one_again() {
        let r = Renderer::new(OutputFormat::Plain);
        assert!(r.plain(&wait("env Ready (now Launching)")).is_some());
        assert!(r.plain(&wait("env Ready (now Launching)")).is_none());
        assert!(r.plain(&wait("env Ready (now Updating)")).is_some());
        assert!(r.plain(&Event::info("other events still print")).is_some());
    }
}
