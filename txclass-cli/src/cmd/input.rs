//! Reading an input file the same way in `classify`, `train` and `eval`: its format, the
//! decisions a user can take instead of the file (`--date-format`, `--decimal`,
//! `--currency`), and what a refused file or row tells the user to do.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use clap::ValueEnum;
use txclass_core::classifier::LabelledRow;
use txclass_core::currency::Currency;
use txclass_core::records::{
    self, DateOrder, Decided, DecimalMark, FileError, Format, Layout, ReadOptions, RecordError,
    Rows,
};

use super::{Exit, REFUSED, SKIPPED, STOPPED};

/// How to read input files.
#[derive(Debug, Clone, clap::Args)]
pub struct InputArgs {
    /// Input format (default: from the extension: `.ndjson`/`.jsonl`/`.json` NDJSON,
    /// `.ofx`/`.qfx` OFX, `.xml`/`.053` camt.053, `.sta`/`.mt940`/`.940` MT940, `.qif` QIF; anything
    /// else and stdin CSV with a sniffed `,` `;` tab or `|` delimiter).
    #[arg(long, value_enum)]
    pub input_format: Option<InputFormat>,
    /// Order of day and month in numeric dates: dmy (DD/MM/YYYY), mdy (MM/DD/YYYY) or ymd
    /// (default: decided from the file's dates; a file where every date fits both is
    /// refused).
    #[arg(long, value_name = "ORDER")]
    pub date_format: Option<DateOrder>,
    /// Decimal mark of amounts: `.` or `,` (default: decided from the file's amounts; a file
    /// where every amount reads both ways, like `1.234`, is refused).
    #[arg(long, value_name = "MARK")]
    pub decimal: Option<DecimalMark>,
    /// ISO 4217 currency of rows that name none (default: a file without a currency column
    /// or codes in its amounts is refused).
    #[arg(long, value_name = "CODE")]
    pub currency: Option<Currency>,
}

/// `--on-error` values.
#[derive(Clone, Copy, Debug, Default, ValueEnum)]
pub enum ErrorPolicy {
    /// Report each bad row on stderr and go on with the rest (exit code 4 at the end).
    #[default]
    Skip,
    /// Stop at the first bad row (exit code 3).
    Stop,
}

/// An input format on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum InputFormat {
    /// Delimited text with a header row.
    Csv,
    /// One JSON object per line (or a JSON array of objects).
    Ndjson,
    /// OFX 1.x/2.x or QFX statement.
    Ofx,
    /// ISO 20022 camt.053 statement (XML).
    Camt053,
    /// SWIFT MT940 statement (or MT942 interim report).
    Mt940,
    /// Quicken Interchange Format (a `D` date, `T` amount, `P` payee and `M` memo line per
    /// entry).
    Qif,
}

impl From<InputFormat> for Format {
    fn from(f: InputFormat) -> Self {
        match f {
            InputFormat::Csv => Format::Csv,
            InputFormat::Ndjson => Format::Ndjson,
            InputFormat::Ofx => Format::Ofx,
            InputFormat::Camt053 => Format::Camt053,
            InputFormat::Mt940 => Format::Mt940,
            InputFormat::Qif => Format::Qif,
        }
    }
}

/// `-` is stdin or stdout.
pub fn is_std(p: &Path) -> bool {
    p.as_os_str() == "-"
}

impl InputArgs {
    /// The format of `path`: the flag, else its extension (stdin: CSV).
    pub fn format(&self, path: &Path) -> Format {
        self.input_format.map(Format::from).unwrap_or_else(|| {
            if is_std(path) {
                Format::Csv
            } else {
                Format::from_path(path)
            }
        })
    }

    /// Reading options for `path`.
    pub fn options(
        &self,
        path: &Path,
        require_label: bool,
        labels: Option<Arc<HashMap<String, String>>>,
    ) -> ReadOptions {
        ReadOptions {
            format: self.format(path),
            date_order: self.date_format,
            decimal: self.decimal,
            currency: self.currency,
            require_label,
            labels,
        }
    }

    /// Opens `path` (or stdin) through `wrap` (a progress bar); a file that cannot be read
    /// as a whole exits with [`REFUSED`] and says which flag decides it.
    pub fn open<'a>(
        &self,
        path: &Path,
        require_label: bool,
        labels: Option<Arc<HashMap<String, String>>>,
        wrap: impl FnOnce(Box<dyn Read>) -> Box<dyn Read + 'a>,
    ) -> anyhow::Result<Rows<'a>> {
        let input: Box<dyn Read> = if is_std(path) {
            Box::new(io::stdin().lock())
        } else {
            let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
            Box::new(BufReader::new(f))
        };
        let options = self.options(path, require_label, labels);
        records::open(wrap(input), &options).map_err(|e| refused(path, e))
    }
}

/// Reads a `--labels` file (id and category columns).
pub fn read_labels(path: &Path) -> anyhow::Result<Arc<HashMap<String, String>>> {
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    records::read_labels(BufReader::new(f))
        .map(Arc::new)
        .map_err(|e| refused(path, e))
}

/// A refused file as an [`Exit`] with [`REFUSED`].
pub fn refused(path: &Path, e: FileError) -> anyhow::Error {
    Exit {
        code: REFUSED,
        message: format!("{}: {}", shown(path), hint(&e.to_string())),
    }
    .into()
}

/// A reader's message with the flag that settles it.
pub fn hint(message: &str) -> String {
    message
        .replace(
            "choose the date order",
            "choose the date order with --date-format dmy or --date-format mdy",
        )
        .replace(
            "choose the decimal mark",
            "choose the decimal mark with --decimal . or --decimal ,",
        )
        .replace(
            "give the currency",
            "give the currency with --currency (e.g. --currency EUR)",
        )
        .replace("no default currency was given", "no --currency was given")
        .replace("read it with format ", "pass --input-format ")
        .replace(
            "give the labels in a file of id and category",
            "give the labels with --labels FILE (columns id, category)",
        )
}

/// A bad row as printed: its line, its message and the flag that settles it.
pub fn show(e: &RecordError) -> String {
    hint(&e.to_string())
}

/// What the reader decided about a file, as one line (empty when it decided nothing).
pub fn describe(layout: &Layout) -> String {
    fn decided<T: std::fmt::Display>(what: &str, d: &Decided<T>) -> Option<String> {
        match d {
            Decided::Given(v) => Some(format!("{what} {v} (given)")),
            Decided::Found { value, line, text } => {
                Some(format!("{what} {value} (from line {line}: {text:?})"))
            }
            Decided::NotNeeded | Decided::Pending { .. } => None,
        }
    }
    let mut parts: Vec<String> = layout.delimiter.iter().cloned().collect();
    parts.extend(decided("dates", &layout.date_order));
    parts.extend(decided("amounts with a", &layout.decimal));
    parts.join(", ")
}

/// Counts of the rows that went through [`tally`].
#[derive(Debug, Default)]
pub struct Tally {
    /// Rows read.
    pub ok: u64,
    /// Rows refused.
    pub bad: u64,
    /// The first refused rows, to print.
    pub errors: Vec<RecordError>,
    /// Under `--on-error stop`, the row the input stopped at.
    pub stopped_at: Option<RecordError>,
}

/// How many refused rows are printed (the rest are counted).
pub const SHOWN_ERRORS: usize = 20;

impl Tally {
    /// Prints the refused rows kept, and how many more there were; `file` names the file
    /// when a command reads more than one.
    pub fn print_errors(&self, file: Option<&Path>) {
        let prefix = file.map(|f| format!("{}: ", shown(f))).unwrap_or_default();
        for e in &self.errors {
            eprintln!("{prefix}{}", show(e));
        }
        if self.bad as usize > self.errors.len() {
            eprintln!("{prefix}… {} rows refused in all", self.bad);
        }
    }
}

/// Counts `rows` into `tally`; with `stop`, ends them at the first refused row.
pub fn tally<'t, T>(
    rows: impl Iterator<Item = Result<T, RecordError>> + 't,
    tally: &'t RefCell<Tally>,
    stop: bool,
) -> impl Iterator<Item = Result<T, RecordError>> + 't {
    rows.map_while(move |r| {
        let mut t = tally.borrow_mut();
        match r {
            Ok(v) => {
                t.ok += 1;
                Some(Ok(v))
            }
            Err(e) => {
                t.bad += 1;
                if t.errors.len() < SHOWN_ERRORS {
                    t.errors.push(e.clone());
                }
                if stop {
                    t.stopped_at = Some(e);
                    return None;
                }
                Some(Err(e))
            }
        }
    })
}

/// Gives the labelled rows of `path` (`labels`: a `--labels` file's) to `use_rows`, counted
/// and ended at the first refused row under `--on-error stop`; then prints the refused rows
/// (prefixed with the file's name when `named`: the command reads several files) and checks
/// the file as [`Tally::check`] does (`done`: what the command did with its rows). The one
/// way `train` and `eval` read a labelled file.
pub fn with_labelled<T>(
    read: &InputArgs,
    path: &Path,
    labels: Option<Arc<HashMap<String, String>>>,
    on_error: ErrorPolicy,
    named: bool,
    done: &str,
    use_rows: impl FnOnce(&mut dyn Iterator<Item = LabelledRow<RecordError>>) -> T,
) -> anyhow::Result<T> {
    let rows = read.open(path, true, labels, |r: Box<dyn Read>| r)?;
    let counts = RefCell::new(Tally::default());
    let stop = matches!(on_error, ErrorPolicy::Stop);
    let out = use_rows(&mut tally(records::labelled(rows), &counts, stop));
    let counts = counts.into_inner();
    counts.print_errors(named.then_some(path));
    counts.check(path, done)?;
    Ok(out)
}

/// A path for messages: `stdin` for `-`.
pub fn shown(path: &Path) -> String {
    if is_std(path) {
        "stdin".into()
    } else {
        path.display().to_string()
    }
}

/// Exit 3: `--on-error stop` stopped at `line`; `then` says what became of the run.
pub fn stopped(line: u64, then: &str) -> anyhow::Error {
    Exit {
        code: STOPPED,
        message: format!("stopped at line {line} (--on-error stop); {then}"),
    }
    .into()
}

/// Exit 5: every row of `path` (`rows` of them) was refused; `then` says what did not run.
pub fn all_refused(path: &Path, rows: u64, then: &str) -> anyhow::Error {
    Exit {
        code: REFUSED,
        message: format!(
            "every row of {} was refused ({rows} rows); {then}",
            shown(path)
        ),
    }
    .into()
}

/// Exit 4 after a finished run: `refused` of `read` rows were refused, and `then`.
pub fn some_refused(refused: u64, read: Option<u64>, then: &str) -> anyhow::Error {
    let of = read.map(|r| format!(" of {r}")).unwrap_or_default();
    Exit {
        code: SKIPPED,
        message: format!("{refused}{of} rows were refused (named above) and {then}"),
    }
    .into()
}

impl Tally {
    /// Exit 3 when the input stopped at a bad row, 5 when it gave no row; `done` is what
    /// the command does ("trained", "scored").
    pub fn check(&self, path: &Path, done: &str) -> anyhow::Result<()> {
        let nothing = format!("nothing was {done}");
        if let Some(e) = &self.stopped_at {
            return Err(stopped(e.line, &nothing));
        }
        if self.ok == 0 {
            return Err(all_refused(path, self.bad, &nothing));
        }
        Ok(())
    }
}
