//! Reading transactions from files (CSV and NDJSON) and writing classified ones back.
//!
//! Every bad row becomes a [`RecordError`] naming its line; the readers go on with the next
//! row; [`classify_rows`] applies the caller's [`OnError`] policy (skip-and-report or stop)
//! and totals the run in a [`FileSummary`].

mod batch;
mod summary;

pub use batch::{classify_rows, ClassifyOptions, FileRun, OnError, RunEvent};
pub use summary::FileSummary;

use std::io::{BufRead, BufReader, Read, Write};

use chrono::NaiveDate;
use serde::Deserialize;
use thiserror::Error;

use crate::model::{ClassifiedTransaction, Prediction, Transaction};

/// A row that could not be read.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("line {line}: {message}")]
pub struct RecordError {
    /// 1-based line number in the file (the header is line 1 of a CSV).
    pub line: u64,
    /// What is wrong with it.
    pub message: String,
}

/// File formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated, with a header row.
    Csv,
    /// One JSON object per line.
    Ndjson,
}

impl Format {
    /// Guesses from a file name: `.ndjson`/`.jsonl`/`.json` are NDJSON, the rest CSV.
    pub fn from_path(path: &std::path::Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some("ndjson" | "jsonl" | "json") => Format::Ndjson,
            _ => Format::Csv,
        }
    }
}

/// A row as written in a file: `amount` is decimal text in major units ("-12.34",
/// "1.234,56" and "12,34" are read too), `date` is `YYYY-MM-DD` or `DD/MM/YYYY`.
#[derive(Debug, Deserialize)]
struct RawRow {
    #[serde(default)]
    id: Option<String>,
    date: String,
    description: String,
    amount: serde_json::Value,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default, alias = "label")]
    category: Option<String>,
}

/// Parses a decimal amount into minor units, accepting `.` or `,` as the decimal mark and
/// the other as thousands separator.
pub fn parse_amount(s: &str) -> Result<i64, String> {
    let t = s.trim().replace(' ', "");
    if t.is_empty() {
        return Err("amount is empty".into());
    }
    let (neg, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest.to_owned()),
        None => (false, t.trim_start_matches('+').to_owned()),
    };
    // The last separator is the decimal mark if 1 or 2 digits follow it.
    let last_sep = digits.rfind(['.', ',']);
    let (int_part, frac_part) = match last_sep {
        Some(i) if digits.len() - i - 1 <= 2 && digits.len() - i - 1 > 0 => {
            (&digits[..i], &digits[i + 1..])
        }
        _ => (&digits[..], ""),
    };
    let int_clean: String = int_part
        .chars()
        .filter(|c| *c != '.' && *c != ',')
        .collect();
    if int_clean.is_empty() && frac_part.is_empty()
        || !int_clean.chars().all(|c| c.is_ascii_digit())
        || !frac_part.chars().all(|c| c.is_ascii_digit())
    {
        return Err(format!("amount {s:?} is not a number"));
    }
    let major: i64 = if int_clean.is_empty() {
        0
    } else {
        int_clean
            .parse()
            .map_err(|_| format!("amount {s:?} is out of range"))?
    };
    let minor: i64 = match frac_part.len() {
        0 => 0,
        1 => frac_part.parse::<i64>().unwrap() * 10,
        _ => frac_part.parse::<i64>().unwrap(),
    };
    let v = major
        .checked_mul(100)
        .and_then(|m| m.checked_add(minor))
        .ok_or_else(|| format!("amount {s:?} is out of range"))?;
    Ok(if neg { -v } else { v })
}

/// Parses `YYYY-MM-DD` or `DD/MM/YYYY`.
pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    let s = s.trim();
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%d/%m/%Y"))
        .map_err(|_| format!("date {s:?} is not YYYY-MM-DD or DD/MM/YYYY"))
}

fn amount_of(v: &serde_json::Value) -> Result<i64, String> {
    match v {
        serde_json::Value::String(s) => parse_amount(s),
        serde_json::Value::Number(n) => parse_amount(&n.to_string()),
        other => Err(format!("amount {other} is not a number")),
    }
}

fn convert(raw: RawRow, line: u64) -> Result<(Transaction, Option<String>), RecordError> {
    let err = |message: String| RecordError { line, message };
    if raw.description.trim().is_empty() {
        return Err(err("description is empty".into()));
    }
    let tx = Transaction {
        id: raw
            .id
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| format!("line-{line}")),
        date: parse_date(&raw.date).map_err(err)?,
        description: raw.description,
        amount_minor: amount_of(&raw.amount).map_err(err)?,
        currency: raw
            .currency
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "BRL".into()),
    };
    Ok((tx, raw.category.filter(|c| !c.trim().is_empty())))
}

/// A row with its label (if the file has a `category` column), or the row's error.
pub type Row = Result<(Transaction, Option<String>), RecordError>;

/// The rows of a file, in order.
pub type Rows<'a> = Box<dyn Iterator<Item = Row> + 'a>;

/// Reads rows of `format`; each item is a row or the error of one bad row.
/// Rows without an `id` get `line-N`.
pub fn read_rows<'a, R: Read + 'a>(reader: R, format: Format) -> Rows<'a> {
    match format {
        Format::Csv => {
            let rdr = csv::ReaderBuilder::new()
                .flexible(false)
                .trim(csv::Trim::Headers)
                .from_reader(reader);
            // Records are counted from line 2 (the header is line 1); a record's own position,
            // when the parser knows it, wins (quoted fields may span lines).
            Box::new(rdr.into_deserialize::<RawRow>().enumerate().map(|(i, r)| {
                let line = i as u64 + 2;
                match r {
                    Ok(raw) => convert(raw, line),
                    Err(e) => Err(RecordError {
                        line: e.position().map(|p| p.line()).unwrap_or(line),
                        message: csv_message(&e),
                    }),
                }
            }))
        }
        Format::Ndjson => Box::new(BufReader::new(reader).lines().enumerate().filter_map(
            |(i, l)| {
                let line = i as u64 + 1;
                match l {
                    Ok(s) if s.trim().is_empty() => None,
                    Ok(s) => Some(
                        serde_json::from_str::<RawRow>(&s)
                            .map_err(|e| RecordError {
                                line,
                                message: e.to_string(),
                            })
                            .and_then(|raw| convert(raw, line)),
                    ),
                    Err(e) => Some(Err(RecordError {
                        line,
                        message: e.to_string(),
                    })),
                }
            },
        )),
    }
}

fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Deserialize { err, .. } => err.to_string(),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("expected {expected_len} fields, found {len}"),
        _ => e.to_string(),
    }
}

/// Reads labelled rows (the `category` or `label` column is required).
pub fn read_labelled<'a, R: Read + 'a>(
    reader: R,
) -> impl Iterator<Item = Result<(Transaction, String), RecordError>> + 'a {
    read_rows(reader, Format::Csv).enumerate().map(|(i, r)| {
        let (tx, label) = r?;
        label.map(|l| (tx, l)).ok_or(RecordError {
            line: i as u64 + 2,
            message: "category is empty".into(),
        })
    })
}

/// Writes classified rows as CSV or NDJSON.
pub struct Writer<W: Write> {
    inner: WriterKind<W>,
}

enum WriterKind<W: Write> {
    Csv(Box<csv::Writer<W>>),
    Ndjson(W),
}

impl<W: Write> Writer<W> {
    /// A writer of `format` (the CSV header is written with the first row).
    pub fn new(out: W, format: Format) -> Self {
        Self {
            inner: match format {
                Format::Csv => WriterKind::Csv(Box::new(csv::Writer::from_writer(out))),
                Format::Ndjson => WriterKind::Ndjson(out),
            },
        }
    }

    /// Writes one transaction with its prediction.
    pub fn write(&mut self, tx: &Transaction, p: &Prediction) -> std::io::Result<()> {
        match &mut self.inner {
            WriterKind::Csv(w) => w
                .serialize(CsvOut {
                    id: &tx.id,
                    date: tx.date,
                    description: &tx.description,
                    amount: format_amount(tx.amount_minor),
                    currency: &tx.currency,
                    category: p.category.as_str(),
                    probability: format!("{:.4}", p.probability),
                    confidence: p.confidence.as_str(),
                    uncertain: p.uncertain,
                })
                .map_err(csv_to_io),
            WriterKind::Ndjson(w) => {
                serde_json::to_writer(
                    &mut *w,
                    &serde_json::json!({
                        "id": tx.id, "date": tx.date, "description": tx.description,
                        "amount": format_amount(tx.amount_minor), "amount_minor": tx.amount_minor,
                        "currency": tx.currency, "category": p.category,
                        "probability": p.probability, "confidence": p.confidence,
                        "uncertain": p.uncertain,
                    }),
                )?;
                w.write_all(b"\n")
            }
        }
    }

    /// Writes a stored, classified transaction.
    pub fn write_classified(&mut self, c: &ClassifiedTransaction) -> std::io::Result<()> {
        self.write(&c.transaction, &c.prediction)
    }

    /// Flushes buffered output.
    pub fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.inner {
            WriterKind::Csv(w) => w.flush(),
            WriterKind::Ndjson(w) => w.flush(),
        }
    }
}

/// Keeps an I/O error's kind (a closed pipe stays `BrokenPipe`) so callers can branch on it.
fn csv_to_io(e: csv::Error) -> std::io::Error {
    if !e.is_io_error() {
        return std::io::Error::other(e);
    }
    match e.into_kind() {
        csv::ErrorKind::Io(io) => io,
        _ => unreachable!("checked is_io_error"),
    }
}

#[derive(serde::Serialize)]
struct CsvOut<'a> {
    id: &'a str,
    date: NaiveDate,
    description: &'a str,
    amount: String,
    currency: &'a str,
    category: &'a str,
    probability: String,
    confidence: &'a str,
    uncertain: bool,
}

/// Minor units as a decimal string with two places: `-1234` → `"-12.34"`.
pub fn format_amount(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let a = minor.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts() {
        assert_eq!(parse_amount("-12.34"), Ok(-1234));
        assert_eq!(parse_amount("1.234,56"), Ok(123456));
        assert_eq!(parse_amount("1,234.5"), Ok(123450));
        assert_eq!(parse_amount("12,34"), Ok(1234));
        assert_eq!(parse_amount("1000"), Ok(100000));
        assert_eq!(parse_amount("+7"), Ok(700));
        assert!(parse_amount("abc").is_err());
        assert!(parse_amount("").is_err());
        assert_eq!(format_amount(-1234), "-12.34");
        assert_eq!(format_amount(5), "0.05");
    }

    #[test]
    fn bad_csv_rows_name_their_line_and_the_rest_go_through() {
        let data = "date,description,amount\n2026-01-02,PADARIA,-5.00\nnot-a-date,X,1\n2026-01-03,MERCADO,abc\n2026-01-04,\"POSTO\",-100\n2026-01-05,ONLY TWO\n";
        let rows: Vec<_> = read_rows(data.as_bytes(), Format::Csv).collect();
        assert_eq!(rows.len(), 5);
        assert!(rows[0].is_ok());
        assert_eq!(rows[1].as_ref().unwrap_err().line, 3);
        assert_eq!(rows[2].as_ref().unwrap_err().line, 4);
        assert!(rows[2].as_ref().unwrap_err().message.contains("abc"));
        assert_eq!(rows[3].as_ref().unwrap().0.amount_minor, -10000);
        assert_eq!(rows[4].as_ref().unwrap_err().line, 6);
    }

    #[test]
    fn ndjson_rows() {
        let data = "{\"date\":\"2026-01-02\",\"description\":\"UBER *TRIP\",\"amount\":-12.5}\n\n{bad}\n{\"id\":\"t9\",\"date\":\"02/01/2026\",\"description\":\"PIX\",\"amount\":\"10,00\"}\n";
        let rows: Vec<_> = read_rows(data.as_bytes(), Format::Ndjson).collect();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].as_ref().unwrap().0.amount_minor, -1250);
        assert_eq!(rows[1].as_ref().unwrap_err().line, 3);
        assert_eq!(rows[2].as_ref().unwrap().0.id, "t9");
    }
}
