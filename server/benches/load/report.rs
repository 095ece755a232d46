//! The report: one markdown table row per case, backend and concurrency (the baseline next to
//! Settle, their ratio, latencies, errors, the server's peak memory and the job queue after
//! payment cases), notes below it; printed and written to a file.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::generator::Measured;

/// The job queue after a payment case.
#[derive(Clone, Copy, Debug)]
pub struct Queue {
    /// Jobs due and unfinished when the load stopped.
    pub depth: i64,
    /// How long they took to drain to zero; `None`: not within the cap.
    pub drained_in: Option<Duration>,
}

/// One measured case.
pub struct Row {
    /// What was loaded.
    pub case: String,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Concurrent clients.
    pub clients: usize,
    /// `INSERT` or `SELECT` and its measurement on the same database, if any.
    pub baseline: Option<(&'static str, Measured)>,
    /// Settle's measurement.
    pub settle: Measured,
    /// `payments` or `req`.
    pub unit: &'static str,
    /// The server's peak RSS during the case, in MiB.
    pub peak_rss_mib: Option<f64>,
    /// The job queue after a payment case.
    pub queue: Option<Queue>,
    /// Anything else worth saying about this row.
    pub note: Option<String>,
}

/// All rows and notes of a run.
pub struct Report {
    header: String,
    rows: Vec<Row>,
    notes: Vec<String>,
    /// The drain cap, for the "not drained" wording.
    drain_cap: Duration,
}

/// `12,345` / `47.3` / `0.62`.
fn rate(r: f64) -> String {
    if r >= 100.0 {
        let whole = r.round() as u64;
        let digits = whole.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if r >= 10.0 {
        format!("{r:.1}")
    } else {
        format!("{r:.2}")
    }
}

fn latency(d: Option<Duration>) -> String {
    match d {
        None => "—".into(),
        Some(d) if d >= Duration::from_secs(1) => format!("{:.2} s", d.as_secs_f64()),
        Some(d) => format!("{:.1} ms", d.as_secs_f64() * 1000.0),
    }
}

impl Report {
    /// A report whose first line is `header` (machine and settings).
    pub fn new(header: String, drain_cap: Duration) -> Report {
        Report { header, rows: Vec::new(), notes: Vec::new(), drain_cap }
    }

    /// Adds a row and prints it at once (a long run shows progress).
    pub fn add(&mut self, row: Row) {
        println!("{}", self.line(&row));
        if let Some(e) = &row.settle.first_error {
            let where_ = format!("{} {} at {} clients", row.backend, row.case, row.clients);
            self.note(format!("first error of {where_}: {e}"));
        }
        self.rows.push(row);
    }

    /// Adds a note under the table and prints it.
    pub fn note(&mut self, note: String) {
        println!("# {note}");
        self.notes.push(note);
    }

    /// The Settle rate of the last row for `case` on `backend` at `clients`.
    pub fn rate_of(&self, case: &str, backend: &str, clients: usize) -> Option<f64> {
        let row = self.rows.iter().rev().find(|r| {
            r.case == case && r.backend == backend && r.clients == clients && r.settle.ok > 0
        })?;
        Some(row.settle.rate())
    }

    fn line(&self, r: &Row) -> String {
        let s = &r.settle;
        let (baseline, ratio) = match &r.baseline {
            Some((what, b)) => {
                let ratio = if b.rate() > 0.0 {
                    format!("{:.3}", s.rate() / b.rate())
                } else {
                    "—".into()
                };
                (format!("{what} {}/s", rate(b.rate())), ratio)
            }
            None => ("—".into(), "—".into()),
        };
        let rss = r.peak_rss_mib.map(|m| format!("{m:.0} MiB")).unwrap_or_else(|| "—".into());
        let queue = match r.queue {
            None => "—".into(),
            Some(Queue { depth, drained_in: Some(t) }) => {
                format!("{depth} → 0 in {:.1} s", t.as_secs_f64())
            }
            Some(Queue { depth, drained_in: None }) => {
                format!("{depth}, not drained in {} s", self.drain_cap.as_secs())
            }
        };
        let mut case = r.case.clone();
        if let Some(note) = &r.note {
            let _ = write!(case, " ({note})");
        }
        format!(
            "| {case} | {} | {} | {baseline} | {} {}/s | {ratio} | {} | {} | {} | {rss} | {queue} |",
            r.backend,
            r.clients,
            rate(s.rate()),
            r.unit,
            latency(s.quantile(0.5)),
            latency(s.quantile(0.99)),
            s.errors,
        )
    }

    /// The whole report as markdown.
    pub fn markdown(&self) -> String {
        let mut out = format!("{}\n\n", self.header);
        out.push_str("| case | backend | clients | bare baseline | Settle | ratio | p50 | p99 | errors | peak RSS | jobs due after → drained |\n");
        out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
        for row in &self.rows {
            out.push_str(&self.line(row));
            out.push('\n');
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for note in &self.notes {
                let _ = writeln!(out, "- {note}");
            }
        }
        out
    }

    /// Prints the report and writes it to `path`.
    pub fn finish(&self, path: &Path) -> std::io::Result<()> {
        let text = self.markdown();
        println!("\n{text}");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, &text)?;
        println!("written to {}", path.display());
        Ok(())
    }
}
