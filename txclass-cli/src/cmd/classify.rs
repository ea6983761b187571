//! `txclass classify IN [-o OUT]`: classify a file of transactions.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use txclass_core::classifier::{self, Classifier};
use txclass_core::clock::SystemClock;
use txclass_core::records::{
    classify_rows, ClassifyOptions, FileSummary, Format, OnError, RunEvent, Writer,
};

use super::input::{
    all_refused, describe, is_std, show, shown, some_refused, stopped, ErrorPolicy, InputArgs,
};
use super::probability;
use super::{Exit, USAGE};
use txclass_core::currency::format_minor;
use txclass_core::domain::taxonomy::Level;
use txclass_core::domain::CategoryTotal;
use txclass_core::rules::{load_rules, RuleSet};

/// Arguments of `txclass classify`.
#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// Input file (`-` for stdin). CSV/NDJSON columns: date, description, and amount (or
    /// debit and credit), optionally id and currency; headers in any case, with common
    /// aliases (Data, Fecha, Datum, Libellé, Memo, Payee, Valor, Montant, Betrag, …).
    pub input: PathBuf,
    /// Output file (`-` for stdout).
    #[arg(short, long, default_value = "-")]
    pub output: PathBuf,
    /// How to read the input.
    #[command(flatten)]
    pub read: InputArgs,
    /// Output format (default: from the extension; stdout gets NDJSON for NDJSON input and
    /// CSV for the rest).
    #[arg(long, value_enum)]
    pub output_format: Option<FileFormat>,
    /// What to do with a bad row: report it and go on, or stop there (exit code 3).
    #[arg(long, value_enum, default_value_t = ErrorPolicy::Skip)]
    pub on_error: ErrorPolicy,
    /// A trained model file, or `bundled` (the default) for the model bundled with txclass.
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// A rules file (TOML, `[[rules]]`): its pre rules win over the model, its post rules
    /// adjust the model's output; each row's `source` says which decided.
    #[arg(long, value_name = "PATH")]
    pub rules: Option<PathBuf>,
    /// Predictions less likely than this are labelled `uncertain` (default: the model's
    /// own threshold, as the server uses it; the bundled model's was fitted for 97 % right
    /// among the rest on merchants it had not seen).
    #[arg(long, value_parser = probability)]
    pub uncertain_below: Option<f32>,
    /// Rows per model call.
    #[arg(long, default_value = "1024")]
    pub batch_size: NonZeroUsize,
    /// Threads each batch is classified on (default: all cores).
    #[arg(long)]
    pub threads: Option<NonZeroUsize>,
    /// No progress bar and no summary (bad rows are still reported).
    #[arg(short, long)]
    pub quiet: bool,
    /// The summary per category (main), or per category and each of its sub-categories (sub).
    #[arg(long, default_value = "main")]
    pub level: Level,
}

/// A file format on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FileFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    Ndjson,
}

impl From<FileFormat> for Format {
    fn from(f: FileFormat) -> Self {
        match f {
            FileFormat::Csv => Format::Csv,
            FileFormat::Ndjson => Format::Ndjson,
        }
    }
}

/// Runs `txclass classify`.
pub fn run(args: ClassifyArgs) -> anyhow::Result<()> {
    let in_format = args.read.format(&args.input);
    let out_format = args.output_format.map(Format::from).unwrap_or_else(|| {
        if is_std(&args.output) {
            match in_format {
                Format::Ndjson => Format::Ndjson,
                _ => Format::Csv,
            }
        } else {
            match Format::from_path(&args.output) {
                Format::Ndjson => Format::Ndjson,
                _ => Format::Csv,
            }
        }
    });

    let model = load_model(args.model.as_deref(), args.uncertain_below)?;
    let rules = load_rule_file(args.rules.as_deref())?;

    let show_bar = !args.quiet && io::stderr().is_terminal();
    let bar = progress_bar(&args.input, show_bar)?;
    let wrap_bar = bar.clone();
    let mut rows = args.read.open(&args.input, false, None, move |r| {
        Box::new(wrap_bar.wrap_read(r)) as Box<dyn Read>
    })?;
    let output: Box<dyn Write> = if is_std(&args.output) {
        Box::new(BufWriter::new(io::stdout().lock()))
    } else {
        let f = File::create(&args.output)
            .with_context(|| format!("cannot create {}", args.output.display()))?;
        Box::new(BufWriter::new(f))
    };

    let defaults = ClassifyOptions::default();
    let options = ClassifyOptions {
        batch_size: args.batch_size,
        on_error: match args.on_error {
            ErrorPolicy::Skip => OnError::Skip,
            ErrorPolicy::Stop => OnError::Stop,
        },
        threads: args.threads.unwrap_or(defaults.threads),
    };
    let mut writer = Writer::new(output, out_format);
    let run = classify_rows(
        &mut rows,
        model.as_ref(),
        &rules,
        &mut writer,
        options,
        &SystemClock::new(),
        |event| match event {
            RunEvent::BadRow(e) => bar.suspend(|| eprintln!("{}", show(e))),
            RunEvent::Batch(s) => bar.set_message(format!("{} rows", s.rows_read)),
        },
    );
    let run = match run {
        // The reader of stdout went away (`| head`): not a failure of ours.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe && is_std(&args.output) => {
            bar.finish_and_clear();
            return Ok(());
        }
        other => other.context("writing the output failed")?,
    };
    bar.finish_and_clear();

    if !args.quiet {
        let layout = describe(rows.layout());
        if !layout.is_empty() {
            eprintln!("read {} as {layout}", shown(&args.input));
        }
        eprint!("{}", render_summary(&run.summary, args.level));
    }
    let s = &run.summary;
    match run.stopped_at {
        Some(e) => Err(stopped(
            e.line,
            &format!("the {} rows before it were written", s.classified),
        )),
        None if s.classified == 0 && s.skipped > 0 => Err(all_refused(
            &args.input,
            s.skipped,
            "nothing was classified",
        )),
        None if s.skipped > 0 => Err(some_refused(s.skipped, Some(s.rows_read), "not written")),
        None => Ok(()),
    }
}

pub(crate) fn load_model(
    path: Option<&Path>,
    uncertain_below: Option<f32>,
) -> anyhow::Result<Arc<dyn Classifier>> {
    let model = super::model_named(path)?;
    Ok(classifier::with_uncertain_below(model, uncertain_below)?)
}

/// The rules of `--rules FILE` (none without the flag); a bad file is a usage error.
pub(crate) fn load_rule_file(path: Option<&Path>) -> anyhow::Result<RuleSet> {
    match path {
        None => Ok(RuleSet::empty()),
        Some(p) => load_rules(p).map_err(|e| {
            Exit {
                code: USAGE,
                message: e.to_string(),
            }
            .into()
        }),
    }
}

/// A byte-position bar for a file, a spinner for stdin; hidden when `show` is false.
fn progress_bar(input: &Path, show: bool) -> anyhow::Result<ProgressBar> {
    if !show {
        return Ok(ProgressBar::hidden());
    }
    if is_std(input) {
        let bar = ProgressBar::new_spinner();
        bar.set_style(ProgressStyle::with_template(
            "{spinner} {bytes} read, {msg} [{elapsed}]",
        )?);
        return Ok(bar);
    }
    let len = std::fs::metadata(input).map(|m| m.len()).unwrap_or(0);
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {percent:>3}% {bytes}/{total_bytes} {msg} [{elapsed} < {eta}]",
        )?
        .progress_chars("=> "),
    );
    Ok(bar)
}

fn render_summary(s: &FileSummary, level: Level) -> String {
    let mut out = format!(
        "rows read {}, classified {}, skipped {}, uncertain {}; {:.2} s ({:.0} rows/s)\n",
        s.rows_read,
        s.classified,
        s.skipped,
        s.uncertain,
        s.elapsed.as_secs_f64(),
        s.rows_per_second()
    );
    if !s.categories.is_empty() {
        // One total column per currency: amounts of different currencies are never added.
        let codes: Vec<&String> = s.currencies.keys().collect();
        let width = if level == Level::Sub { 32 } else { 16 };
        out.push_str(&format!("{:<width$} {:>8}", "category", "count"));
        for c in &codes {
            out.push_str(&format!(" {:>16}", format!("total {c}")));
        }
        out.push('\n');
        let row = |out: &mut String, name: &str, t: &CategoryTotal| {
            out.push_str(&format!("{name:<width$} {:>8}", t.count));
            for c in &codes {
                let amount = t
                    .amounts_minor
                    .get(*c)
                    .map(|m| format_minor(*m, c))
                    .unwrap_or_default();
                out.push_str(&format!(" {amount:>16}"));
            }
            out.push('\n');
        };
        for (cat, t) in s.categories_by_count() {
            row(&mut out, cat.as_str(), t);
            if level == Level::Sub {
                // Each sub-category under its category; the rest of the category's rows have
                // none.
                for (sub, t) in s.sub_categories_by_count(cat) {
                    row(&mut out, &format!("  {}", sub.as_str()), t);
                }
            }
        }
    }
    out
}
