//! Classifying a file: rows in, classified rows out, in batches, with a policy for bad rows.

use std::io::Write;
use std::num::NonZeroUsize;

use super::{FileSummary, RecordError, Writer};
use crate::classifier::{in_parts, Classifier};
use crate::clock::Clock;
use crate::domain::Transaction;
use crate::rules::RuleSet;

/// What to do with a bad row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnError {
    /// Report it and go on with the next row.
    #[default]
    Skip,
    /// Report it, write what was read before it, and stop.
    Stop,
}

/// How [`classify_rows`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassifyOptions {
    /// Rows per [`Classifier::predict_batch`] call.
    ///
    /// Why batches: the model scores a matrix at once far faster than row by row, and a
    /// bounded batch keeps memory flat on files of any size.
    pub batch_size: NonZeroUsize,
    /// Skip or stop on a bad row.
    pub on_error: OnError,
    /// Threads a batch is classified on (see [`in_parts`]; default: all cores); the rows are
    /// read, and the output written, on the calling thread, in order.
    pub threads: NonZeroUsize,
}

impl Default for ClassifyOptions {
    fn default() -> Self {
        Self {
            batch_size: NonZeroUsize::new(1024).expect("non-zero"),
            on_error: OnError::Skip,
            threads: std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN),
        }
    }
}

/// Something that happened during a run, for the caller to show.
#[derive(Debug)]
pub enum RunEvent<'a> {
    /// A bad row (reported in both policies; under [`OnError::Stop`] it is the last event).
    BadRow(&'a RecordError),
    /// A batch was classified and written; the totals so far.
    Batch(&'a FileSummary),
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub struct FileRun {
    /// Totals of what was read and written.
    pub summary: FileSummary,
    /// Under [`OnError::Stop`], the bad row the run stopped at; every row before it was
    /// classified and written (and the output flushed).
    pub stopped_at: Option<RecordError>,
}

/// Classifies `rows` (from [`open`](super::open)) in batches, through `rules` and the
/// model ([`RuleSet::classify`], the one classification path), and writes each
/// classified row to `writer`, flushing it at the end, also when stopping on a bad row.
///
/// Only writing can fail: bad rows are data, reported through `on_event` and in the result.
pub fn classify_rows<W, I>(
    rows: I,
    classifier: &dyn Classifier,
    rules: &RuleSet,
    writer: &mut Writer<W>,
    options: ClassifyOptions,
    clock: &dyn Clock,
    mut on_event: impl FnMut(RunEvent<'_>),
) -> std::io::Result<FileRun>
where
    W: Write,
    I: IntoIterator<Item = Result<(Transaction, Option<String>), RecordError>>,
{
    let started = clock.now();
    let mut summary = FileSummary::default();
    let mut batch: Vec<Transaction> = Vec::with_capacity(options.batch_size.get());
    let mut stopped_at = None;

    let mut flush_batch = |batch: &mut Vec<Transaction>,
                           summary: &mut FileSummary,
                           on_event: &mut dyn FnMut(RunEvent<'_>)|
     -> std::io::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let predictions = in_parts(batch, options.threads, |part| {
            rules.classify(classifier, part, None)
        });
        for (tx, p) in batch.iter().zip(&predictions) {
            writer.write(tx, p)?;
            summary.record_classified(tx, p);
        }
        batch.clear();
        summary.elapsed = clock.now().saturating_sub(started);
        on_event(RunEvent::Batch(summary));
        Ok(())
    };

    for row in rows {
        match row {
            Ok((tx, _label)) => {
                batch.push(tx);
                if batch.len() == options.batch_size.get() {
                    flush_batch(&mut batch, &mut summary, &mut on_event)?;
                }
            }
            Err(e) => {
                summary.record_skipped();
                on_event(RunEvent::BadRow(&e));
                if options.on_error == OnError::Stop {
                    stopped_at = Some(e);
                    break;
                }
            }
        }
    }
    flush_batch(&mut batch, &mut summary, &mut on_event)?;
    writer.flush()?;
    summary.elapsed = clock.now().saturating_sub(started);
    Ok(FileRun {
        summary,
        stopped_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classifier::FirstWord;
    use crate::clock::ManualClock;
    use crate::currency::Currency;
    use crate::domain::Category;
    use crate::records::{open, Format, ReadOptions};

    const DATA: &str = "date,description,amount\n\
        2026-01-02,FUEL A,-5.00\n\
        2026-01-03,FUEL B,-1.50\n\
        2026-01-04,CASH X,abc\n\
        2026-01-05,MAYBE Y,2\n\
        2026-01-06,CASH Z,-3\n";

    fn run(on_error: OnError) -> (FileRun, String, Vec<usize>, Vec<u64>) {
        let options = ClassifyOptions {
            batch_size: NonZeroUsize::new(2).unwrap(),
            on_error,
            ..ClassifyOptions::default()
        };
        run_on(DATA, options)
    }

    fn run_on(data: &str, options: ClassifyOptions) -> (FileRun, String, Vec<usize>, Vec<u64>) {
        let model = FirstWord::default();
        let mut out = Vec::new();
        let mut bad = Vec::new();
        let clock = ManualClock::new();
        let run = {
            let mut w = Writer::new(&mut out, Format::Ndjson);
            classify_rows(
                open(
                    data.as_bytes(),
                    &ReadOptions {
                        currency: Currency::from_code("BRL"),
                        ..ReadOptions::new(Format::Csv)
                    },
                )
                .unwrap(),
                &model,
                &RuleSet::empty(),
                &mut w,
                options,
                &clock,
                |e| {
                    if let RunEvent::BadRow(e) = e {
                        bad.push(e.line);
                        clock.advance(std::time::Duration::from_secs(1));
                    }
                },
            )
            .unwrap()
        };
        let batches = model.batches.into_inner().unwrap();
        (run, String::from_utf8(out).unwrap(), batches, bad)
    }

    #[test]
    fn skip_reports_and_goes_on_in_batches() {
        let (run, out, batches, bad) = run(OnError::Skip);
        assert_eq!(bad, [4]);
        assert_eq!(run.stopped_at, None);
        assert_eq!(batches, [2, 2]);
        assert_eq!(out.lines().count(), 4);
        let s = &run.summary;
        assert_eq!(
            (s.rows_read, s.classified, s.skipped, s.uncertain),
            (5, 4, 1, 1)
        );
        assert_eq!(
            s.categories[&Category::new("fuel")].amounts_minor["BRL"],
            -650
        );
        assert_eq!(s.categories[&Category::new("uncertain")].count, 1);
        assert_eq!(s.elapsed, std::time::Duration::from_secs(1));
    }

    #[test]
    fn stop_writes_the_rows_before_the_bad_one_and_names_it() {
        let (run, out, batches, bad) = run(OnError::Stop);
        assert_eq!(bad, [4]);
        assert_eq!(run.stopped_at.as_ref().map(|e| e.line), Some(4));
        assert!(run.stopped_at.unwrap().message.contains("abc"));
        assert_eq!(batches, [2]);
        let ids: Vec<_> = out
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].clone())
            .collect();
        assert_eq!(ids, ["line-2", "line-3"]);
        assert_eq!(run.summary.classified, 2);
        assert_eq!(run.summary.rows_read, 3);
    }

    #[test]
    fn a_batch_split_over_threads_writes_what_one_thread_writes() {
        let mut data = String::from("date,description,amount\n");
        for i in 0..1000 {
            let what = ["FUEL", "CASH", "RENT"][i % 3];
            data.push_str(&format!(
                "2026-01-02,{what} {i},-{}.{:02}\n",
                i % 50,
                i % 100
            ));
        }
        let options = |threads| ClassifyOptions {
            batch_size: NonZeroUsize::new(1000).unwrap(),
            threads: NonZeroUsize::new(threads).unwrap(),
            ..ClassifyOptions::default()
        };
        let (one, one_out, one_batches, _) = run_on(&data, options(1));
        let (four, four_out, mut four_batches, _) = run_on(&data, options(4));
        assert_eq!(one_batches, [1000]);
        // At least 256 rows a thread: three parts, not four.
        four_batches.sort_unstable();
        assert_eq!(four_batches, [332, 334, 334]);
        assert_eq!(four_out, one_out, "same rows, same order");
        assert_eq!(four.summary, one.summary);
        assert_eq!(one.summary.classified, 1000);
    }
}
