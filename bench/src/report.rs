//! Tables and verdicts: what every scenario prints (Markdown, so `docs/benchmarks.md` can take
//! the output as it is) and the PASS/FAIL line per target.

use hdrhistogram::Histogram;

/// A latency histogram in microseconds, 1 µs to 60 s, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("static histogram bounds are valid")
}

/// A histogram of `samples` (µs).
pub fn histogram_of<'a>(samples: impl IntoIterator<Item = &'a [u32]>) -> Histogram<u64> {
    let mut h = histogram();
    for chunk in samples {
        for &s in chunk {
            h.saturating_record(u64::from(s).max(1));
        }
    }
    h
}

/// A quantile of `h` in microseconds, or `None` when it is empty.
pub fn quantile_us(h: &Histogram<u64>, q: f64) -> Option<u64> {
    (!h.is_empty()).then(|| h.value_at_quantile(q))
}

/// Microseconds as µs (below 10 ms) or ms.
pub fn fmt_us(us: Option<u64>) -> String {
    match us {
        None => "–".into(),
        Some(us) if us < 10_000 => format!("{us} µs"),
        Some(us) => format!("{:.1} ms", us as f64 / 1000.0),
    }
}

/// Microseconds as milliseconds with two decimals.
pub fn fmt_ms(us: Option<u64>) -> String {
    match us {
        None => "–".into(),
        Some(us) => format!("{:.2} ms", us as f64 / 1000.0),
    }
}

/// KiB as MiB with one decimal.
pub fn fmt_mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// One Markdown table with a title and notes under it.
#[derive(Debug, Clone)]
pub struct Table {
    pub title: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub notes: Vec<String>,
}

impl Table {
    /// An empty table.
    pub fn new(title: impl Into<String>, headers: &[&str]) -> Self {
        Self {
            title: title.into(),
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// A row that says why it was skipped, in the first cells.
    pub fn skipped(&mut self, name: &str, why: &str) {
        let mut cells = vec![name.to_owned(), format!("skipped: {why}")];
        cells.resize(self.headers.len(), String::new());
        self.rows.push(cells);
    }

    /// Adds a note under the table.
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// The table as Markdown.
    pub fn render(&self) -> String {
        let mut out = format!("### {}\n\n", self.title);
        out += &format!("| {} |\n", self.headers.join(" | "));
        out += &format!(
            "|{}\n",
            self.headers.iter().map(|_| "---|").collect::<String>()
        );
        for row in &self.rows {
            out += &format!("| {} |\n", row.join(" | "));
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for note in &self.notes {
                out += &format!("- {note}\n");
            }
        }
        out
    }
}

/// A target and whether this run met it.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub target: String,
    pub measured: String,
    /// `None`: could not be judged (skipped, or a `--quick` run).
    pub pass: Option<bool>,
}

impl Verdict {
    pub fn new(target: impl Into<String>, measured: impl Into<String>, pass: Option<bool>) -> Self {
        Self {
            target: target.into(),
            measured: measured.into(),
            pass,
        }
    }
}

/// What one scenario produced.
#[derive(Debug, Default)]
pub struct Report {
    pub tables: Vec<Table>,
    pub verdicts: Vec<Verdict>,
}

/// The verdicts as a table; in a quick run nothing is judged (the numbers are a smoke test).
pub fn verdict_table(verdicts: &[Verdict], quick: bool) -> Table {
    let mut t = Table::new("Targets", &["target", "measured", "result"]);
    for v in verdicts {
        let result = match (quick, v.pass) {
            (true, _) => "not judged (--quick)".to_owned(),
            (false, Some(true)) => "PASS".to_owned(),
            (false, Some(false)) => "FAIL".to_owned(),
            (false, None) => "not measured".to_owned(),
        };
        t.row(vec![v.target.clone(), v.measured.clone(), result]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_render_as_markdown() {
        let mut t = Table::new("T", &["a", "b", "c"]);
        t.row(vec!["1".into(), "2".into(), "3".into()]);
        t.skipped("redis", "redis-server not found");
        t.note("n");
        let s = t.render();
        assert!(s.contains("| a | b | c |\n|---|---|---|\n| 1 | 2 | 3 |\n"));
        assert!(s.contains("| redis | skipped: redis-server not found |  |"));
        assert!(s.ends_with("- n\n"));
        let h = histogram_of([&[10u32, 20, 30][..]]);
        assert_eq!(quantile_us(&h, 0.5), Some(20));
        assert_eq!(fmt_us(Some(12_345)), "12.3 ms");
        assert_eq!(fmt_ms(Some(1_500)), "1.50 ms");
    }
}
