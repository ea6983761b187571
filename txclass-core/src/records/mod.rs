//! Reading transactions from files and writing classified ones back.
//!
//! Readers never guess silently. Headers are matched case-insensitively through the names
//! banks use (`columns`); the CSV delimiter is sniffed and named in errors; a file's day/month
//! order ([`DateOrder`]) and decimal mark ([`DecimalMark`]) are decided once for the whole
//! file, from its unambiguous values or by the caller ([`ReadOptions`]); amounts become minor
//! units of their currency ([`crate::currency`]), which comes from a column, the amount's text
//! or the caller, never from a default.
//!
//! Every bad row becomes a [`RecordError`] naming its line and the readers go on with the next
//! row; a file that cannot be read as a whole (no amount column, every date ambiguous, no
//! currency) is a [`FileError`] and no row of it is read. [`classify_rows`] applies the
//! caller's [`OnError`] policy (skip-and-report or stop) and totals the run in a
//! [`FileSummary`].
//!
//! ## Layout
//!
//! | module | what |
//! |---|---|
//! | `sources` | CSV (sniffed delimiter) and NDJSON as text cells by field |
//! | `encoding` | UTF-8, UTF-16 with a byte-order mark, Windows-1252: one place for every reader |
//! | `columns` | header names and their aliases |
//! | `date` | the text of dates, and what each says about the file (amounts: [`crate::currency`]) |
//! | `interpret` | the per-file decisions and the conversion to [`Transaction`]s |
//! | `qif` | Quicken Interchange Format entries as text cells by field |
//! | `formats` | OFX/QFX, camt.053 and MT940 statements (feature `formats`) |
//! | `batch`, `summary` | classifying a file's rows in batches, and the run's totals |

mod batch;
mod columns;
mod date;
mod encoding;
mod error;
#[cfg(feature = "formats")]
mod formats;
mod interpret;
mod qif;
mod sources;
mod summary;

pub use crate::currency::{amount_minor, DecimalMark};
pub use crate::domain::parse_date;
pub use batch::{classify_rows, ClassifyOptions, FileRun, OnError, RunEvent};
pub use date::DateOrder;
pub use error::{FileError, RecordError};
pub use interpret::{Decided, Layout};
pub use summary::FileSummary;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::Arc;

use chrono::NaiveDate;

use crate::currency::{format_minor, Currency};
use crate::domain::{Category, ClassifiedTransaction, Prediction, Transaction};
use crate::store::merchant_name;

/// File formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Delimited text (`,`, `;`, tab or `|`, sniffed) with a header row.
    Csv,
    /// One JSON object per line, or a file that is one JSON array of objects.
    Ndjson,
    /// OFX 1.x (SGML) or 2.x (XML) statement; QFX is OFX (feature `formats`).
    Ofx,
    /// ISO 20022 camt.053 bank-to-customer statement, XML (feature `formats`).
    Camt053,
    /// SWIFT MT940 customer statement (feature `formats`).
    Mt940,
    /// Quicken Interchange Format: entries of `D` date, `T` amount, `P` payee and `M` memo
    /// lines (Quicken, and many banks' "QIF" download).
    Qif,
}

impl Format {
    /// Guesses from a file name: `.ndjson`/`.jsonl`/`.json` are NDJSON, `.ofx`/`.qfx` OFX,
    /// `.xml`/`.camt`/`.053` camt.053, `.sta`/`.mt940`/`.940` MT940, `.qif` QIF, the rest
    /// CSV.
    pub fn from_path(path: &std::path::Path) -> Self {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("ndjson" | "jsonl" | "json") => Format::Ndjson,
            Some("ofx" | "qfx") => Format::Ofx,
            Some("xml" | "camt" | "053") => Format::Camt053,
            Some("sta" | "mt940" | "940") => Format::Mt940,
            Some("qif") => Format::Qif,
            _ => Format::Csv,
        }
    }

    /// The format's name as the CLI spells it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
            Format::Ofx => "ofx",
            Format::Camt053 => "camt053",
            Format::Mt940 => "mt940",
            Format::Qif => "qif",
        }
    }
}

/// How to read a file: its format and the decisions the caller takes instead of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadOptions {
    /// The file's format.
    pub format: Format,
    /// Day/month order of numeric dates; `None`: decided from the file.
    pub date_order: Option<DateOrder>,
    /// Decimal mark of amounts; `None`: decided from the file.
    pub decimal: Option<DecimalMark>,
    /// Currency of rows that name none; `None`: such rows are refused (a file with no
    /// currency at all is refused as a whole).
    pub currency: Option<Currency>,
    /// A row without a category is a bad row (training and evaluation).
    pub require_label: bool,
    /// Labels by transaction id, for rows whose file gives none (bank statements carry no
    /// category): see [`read_labels`].
    pub labels: Option<Arc<HashMap<String, String>>>,
}

impl ReadOptions {
    /// `format`, everything else decided from the file.
    pub fn new(format: Format) -> Self {
        Self {
            format,
            date_order: None,
            decimal: None,
            currency: None,
            require_label: false,
            labels: None,
        }
    }
}

/// A row with its label (if the file has a category), or the row's error.
pub type Row = Result<(Transaction, Option<String>), RecordError>;

/// The rows of a file, in order, and what the reader decided about it.
pub struct Rows<'a> {
    inner: RowsInner<'a>,
}

enum RowsInner<'a> {
    Table(interpret::Interpreter<'a>),
    List(std::vec::IntoIter<Row>, Layout),
}

impl Rows<'_> {
    /// The delimiter, date order and decimal mark read so far (a decision can still be
    /// found later in the file).
    pub fn layout(&self) -> &Layout {
        match &self.inner {
            RowsInner::Table(t) => &t.layout,
            RowsInner::List(_, l) => l,
        }
    }

    fn list(rows: Vec<Row>) -> Self {
        Rows {
            inner: RowsInner::List(
                rows.into_iter(),
                Layout {
                    delimiter: None,
                    date_order: Decided::NotNeeded,
                    decimal: Decided::NotNeeded,
                },
            ),
        }
    }
}

impl Iterator for Rows<'_> {
    type Item = Row;

    fn next(&mut self) -> Option<Row> {
        match &mut self.inner {
            RowsInner::Table(t) => t.next(),
            RowsInner::List(l, _) => l.next(),
        }
    }
}

/// Opens a file of `options.format`: reads its header and enough rows to take its
/// decisions, and refuses a file that cannot be read as a whole. Rows without an `id` get
/// `line-N`.
pub fn open<'a, R: Read + 'a>(reader: R, options: &ReadOptions) -> Result<Rows<'a>, FileError> {
    let reader = encoding::decoded(reader);
    let (source, delimiter, has_currency, header_currency) = match options.format {
        Format::Csv => {
            let (source, map, layout) = sources::csv(reader)?;
            let has_currency = map.get(columns::Field::Currency).is_some();
            (source, Some(layout), has_currency, map.currency)
        }
        Format::Ndjson => (sources::ndjson(reader), None, false, None),
        Format::Qif => (qif::qif(reader), None, false, None),
        #[cfg(feature = "formats")]
        Format::Ofx | Format::Camt053 | Format::Mt940 => {
            return formats::read(reader, options).map(Rows::list)
        }
        #[cfg(not(feature = "formats"))]
        format @ (Format::Ofx | Format::Camt053 | Format::Mt940) => {
            return Err(FileError::NotBuilt {
                format: format.name(),
            })
        }
    };
    let table =
        interpret::Interpreter::open(source, options, delimiter, has_currency, header_currency)?;
    Ok(Rows {
        inner: RowsInner::Table(table),
    })
}

/// Reads rows of `format`, everything decided from the file; a file that cannot be read as
/// a whole gives one error row ([`open`] tells the two apart).
pub fn read_rows<'a, R: Read + 'a>(reader: R, format: Format) -> Rows<'a> {
    open(reader, &ReadOptions::new(format))
        .unwrap_or_else(|e| Rows::list(vec![Err(e.into_record_error())]))
}

/// Reads labelled CSV rows (a category column is required), everything decided from the
/// file; a file that cannot be read as a whole gives one error row.
pub fn read_labelled<'a, R: Read + 'a>(
    reader: R,
) -> impl Iterator<Item = Result<(Transaction, String), RecordError>> + 'a {
    let options = ReadOptions {
        require_label: true,
        ..ReadOptions::new(Format::Csv)
    };
    labelled(
        open(reader, &options).unwrap_or_else(|e| Rows::list(vec![Err(e.into_record_error())])),
    )
}

/// Labelled rows of rows opened with `require_label` (a row without a label is an error).
pub fn labelled<'a>(
    rows: Rows<'a>,
) -> impl Iterator<Item = Result<(Transaction, String), RecordError>> + 'a {
    rows.map(|r| {
        let (tx, label) = r?;
        // Rows opened with `require_label` carry the line of a missing label in their error.
        label.map(|l| (tx, l)).ok_or(RecordError {
            line: 0,
            message: "category is empty".into(),
        })
    })
}

/// Reads a file of labels by transaction id (an `id` and a `category` column, any
/// delimiter, any of their aliases), labels normalised (trimmed, lower case, inner whitespace as one space).
pub fn read_labels<R: Read>(reader: R) -> Result<HashMap<String, String>, FileError> {
    sources::labels(encoding::decoded(reader))
}

/// A label as files write it, folded: trimmed, lower case, inner whitespace as one space
/// (`" Groceries "` and `"GROCERIES"` are `"groceries"`).
pub(crate) fn normalise_label(label: &str) -> String {
    // Most labels are already so (`groceries`, `restaurants/coffee`): one copy, decided in
    // one pass over the bytes (ASCII, no capital, spaces single and inside).
    let mut space_before = true;
    let folded = label.bytes().all(|b| {
        let ok = match b {
            b' ' => !space_before,
            b => b.is_ascii() && !b.is_ascii_uppercase() && !b.is_ascii_whitespace(),
        };
        space_before = b == b' ';
        ok
    }) && !space_before;
    if folded {
        return label.to_owned();
    }
    label
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The texts of one entry (a payee and a memo, OFX NAME and MEMO, a German bank's
/// Buchungstext and Verwendungszweck) as one description: each text once, joined with
/// spaces. A part another already says (ignoring case) is left out, and a part that says an
/// earlier one and more takes its place (an OFX memo that repeats the name before the place:
/// `EFTPOS WDL HANDYWAY ALDI STORE` then `EFTPOS WDL HANDYWAY ALDI STORE GEELONG WEST
/// VICAU`). Empty when every part is blank.
pub(crate) fn joined_text<'a>(texts: impl IntoIterator<Item = &'a str>) -> String {
    let mut texts = texts
        .into_iter()
        .map(crate::text::trim)
        .filter(|d| !d.is_empty());
    let Some(first) = texts.next() else {
        return String::new();
    };
    // A lone part is the description as it is: most files have one text column, and this is
    // on the path of every row read.
    let Some(second) = texts.next() else {
        return first.to_owned();
    };
    // Each kept part beside its lower case, the form containment is judged on.
    let mut parts: Vec<(&str, String)> = Vec::new();
    for d in [first, second].into_iter().chain(texts) {
        let low = d.to_lowercase();
        if parts.iter().any(|(_, p)| p.contains(&low)) {
            continue;
        }
        match parts.iter().position(|(_, p)| low.contains(p.as_str())) {
            // No part before `i` is in `d`; the later ones that are go.
            Some(i) => {
                let later = parts.split_off(i + 1);
                parts[i] = (d, low);
                let low = &parts[i].1;
                let kept: Vec<_> = later
                    .into_iter()
                    .filter(|(_, p)| !low.contains(p.as_str()))
                    .collect();
                parts.extend(kept);
            }
            None => parts.push((d, low)),
        }
    }
    parts.iter().map(|(d, _)| *d).collect::<Vec<_>>().join(" ")
}

/// The words statements print for a payment's type, as a bank's type column or code names it
/// (`BGC`, `Bacs (Direct Credit)`, `CARD_PAYMENT`): read before the description, so a file
/// that puts the rail in a column of its own reads like one that prints it in the text, as
/// the model learnt (Lloyds' `ACME LTD` of type `BGC` reads `BANK GIRO CREDIT ACME LTD`,
/// which is wages).
/// `None` for a type with no such words (`Other`, `Sale`, `Debit`: a card payment's return
/// and a credit card's repayment look alike there), and for a card payment (`DEB`, `POS`,
/// `Card payment`): the merchant's name says more, and card words before it cost the
/// corpus's merchant lines 0.4 points of accuracy (1.3 with brands never seen).
pub(crate) fn rail_phrase(kind: &str) -> Option<&'static str> {
    const PHRASES: [(&str, &[&str]); 11] = [
        (
            "BANK GIRO CREDIT",
            &[
                "bgc",
                "bank giro credit",
                "bank credit",
                "bacs",
                "direct credit",
            ],
        ),
        ("DIRECT DEP", &["directdep", "direct deposit", "dir dep"]),
        ("DIRECT DEBIT", &["dd", "direct debit", "directdebit"]),
        ("ACH DEBIT", &["ach debit"]),
        ("STANDING ORDER", &["so", "standing order", "repeatpmt"]),
        (
            "FASTER PAYMENT FROM",
            &["fpi", "mpi", "faster payment in", "faster payments in"],
        ),
        (
            "FASTER PAYMENT TO",
            &["fpo", "mpo", "faster payment out", "faster payments out"],
        ),
        ("FASTER PAYMENT", &["faster payment", "faster payments"]),
        (
            "TRANSFER",
            &[
                "tfr",
                "transfer",
                "transfers",
                "xfer",
                "ift",
                "internal transfer",
                "pot transfer",
                "acct xfer",
                "account transfer",
                "bank transfer",
                "transfer to",
                "transfer from",
                "monzo to monzo",
                "topup",
                "top up",
                "exchange",
            ],
        ),
        (
            "ATM WITHDRAWAL",
            &[
                "cpt",
                "atm",
                "cash withdrawal",
                "cash machine",
                "atm withdrawal",
                "cashpoint",
                "csh",
            ],
        ),
        (
            "BANK CHARGES",
            &[
                "fee",
                "fees",
                "chg",
                "charge",
                "charges",
                "fee transaction",
                "service charge",
                "srvchg",
            ],
        ),
    ];
    let kind = columns::normalise(kind);
    PHRASES
        .iter()
        .find(|(_, names)| names.contains(&kind.as_str()))
        .map(|(phrase, _)| *phrase)
}

/// The text a row is classified by: `description` after the words of the payment's type
/// `rail` ([`rail_phrase`]), when it has any and the description does not already say them.
/// A row whose type has words and whose description is empty is read by those words alone:
/// a bank's charge or cash withdrawal often comes with no other text (MT940 `NCHG` with an
/// empty `:86:`, Lloyds' `DD` with a blank description), and refusing it would leave a real
/// transaction out of the results. With neither, there is nothing to read: the error.
pub(crate) fn with_rail(rail: Option<&str>, description: String) -> Result<String, String> {
    match rail.and_then(rail_phrase) {
        // `joined_text` leaves an empty part out: the type's words alone.
        Some(words) => Ok(joined_text([words, &description])),
        None if description.is_empty() => Err("description is empty".into()),
        None => Ok(description),
    }
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
    /// A writer of `format` (the CSV header is written with the first row); the bank
    /// formats are written as CSV.
    pub fn new(out: W, format: Format) -> Self {
        Self {
            inner: match format {
                Format::Ndjson => WriterKind::Ndjson(out),
                // The bank formats are read, not written: their rows are written as CSV.
                Format::Csv | Format::Ofx | Format::Camt053 | Format::Mt940 | Format::Qif => {
                    WriterKind::Csv(Box::new(csv::Writer::from_writer(out)))
                }
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
                    amount: format_minor(tx.amount_minor, &tx.currency),
                    currency: &tx.currency,
                    category: p.category.as_str(),
                    probability: format!("{:.4}", p.probability),
                    confidence: p.confidence.as_str(),
                    uncertain: p.uncertain,
                    sub_category: p.sub_category.as_ref().map_or("", Category::as_str),
                    merchant: &merchant_name(&tx.description, p),
                    source: p.source.to_string(),
                    sub_probability: p
                        .sub_probability
                        .map_or(String::new(), |q| format!("{q:.4}")),
                    taxonomy_version: p.taxonomy_version.as_deref().unwrap_or(""),
                    guess: p.guess.as_ref().map_or("", Category::as_str),
                })
                .map_err(csv_to_io),
            WriterKind::Ndjson(w) => {
                serde_json::to_writer(
                    &mut *w,
                    &serde_json::json!({
                        "id": tx.id, "date": tx.date, "description": tx.description,
                        "amount": format_minor(tx.amount_minor, &tx.currency), "amount_minor": tx.amount_minor,
                        "currency": tx.currency, "category": p.category,
                        "probability": p.probability, "confidence": p.confidence,
                        "uncertain": p.uncertain, "sub_category": p.sub_category,
                        "merchant": merchant_name(&tx.description, p), "source": p.source,
                        "sub_probability": p.sub_probability, "taxonomy_version": p.taxonomy_version,
                        "guess": p.guess,
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
    sub_category: &'a str,
    merchant: &'a str,
    source: String,
    sub_probability: String,
    taxonomy_version: &'a str,
    /// The model's best guess of an uncertain row (empty otherwise): last, so that the
    /// columns before it stay where they were.
    guess: &'a str,
}

/// Minor units as a decimal string with two places: `-1234` → `"-12.34"` (for a
/// currency with other minor units, [`Currency::format_minor`]).
pub fn format_amount(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let a = minor.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn currency(code: &str) -> Option<Currency> {
        Currency::from_code(code)
    }

    #[test]
    fn labels_fold_and_texts_join_whether_or_not_they_need_it() {
        for (label, want) in [
            ("groceries", "groceries"),
            ("restaurants/coffee", "restaurants/coffee"),
            ("car rental", "car rental"),
            (" Groceries ", "groceries"),
            ("GROCERIES", "groceries"),
            ("car  rental", "car rental"),
            ("car\trental", "car rental"),
            ("Épicerie", "épicerie"),
        ] {
            assert_eq!(normalise_label(label), want, "{label:?}");
        }
        assert_eq!(joined_text([" PADARIA REAL "]), "PADARIA REAL");
        assert_eq!(joined_text(["", " PADARIA ", "  "]), "PADARIA");
        assert_eq!(joined_text(["", " "]), "");
        assert_eq!(
            joined_text(["ALDI", "aldi store GEELONG"]),
            "aldi store GEELONG"
        );
        assert_eq!(joined_text(["PIX", "PADARIA"]), "PIX PADARIA");
    }

    fn read(data: &str, options: &ReadOptions) -> Vec<Row> {
        open(data.as_bytes(), options).unwrap().collect()
    }

    fn csv_with(currency_code: &str) -> ReadOptions {
        ReadOptions {
            currency: currency(currency_code),
            ..ReadOptions::new(Format::Csv)
        }
    }

    fn ok(rows: &[Row]) -> Vec<(String, i64)> {
        rows.iter()
            .map(|r| {
                let (tx, _) = r.as_ref().unwrap();
                (tx.date.to_string(), tx.amount_minor)
            })
            .collect()
    }

    #[test]
    fn bad_csv_rows_name_their_line_and_the_rest_go_through() {
        let data = "date,description,amount\n2026-01-02,PADARIA,-5.00\nnot-a-date,X,1\n2026-01-03,MERCADO,abc\n2026-01-04,\"POSTO\",-100\n2026-01-05,ONLY TWO\n";
        let rows = read(data, &csv_with("BRL"));
        assert_eq!(rows.len(), 5);
        assert!(rows[0].is_ok());
        assert_eq!(rows[1].as_ref().unwrap_err().line, 3);
        assert_eq!(rows[2].as_ref().unwrap_err().line, 4);
        assert!(rows[2].as_ref().unwrap_err().message.contains("abc"));
        assert_eq!(rows[3].as_ref().unwrap().0.amount_minor, -10000);
        assert_eq!(rows[3].as_ref().unwrap().0.currency, "BRL");
        assert_eq!(rows[4].as_ref().unwrap_err().line, 6);
    }

    /// Excel's "Unicode text" (UTF-16, tab-separated) and a Windows-1252 export read like
    /// UTF-8: the same rows, lines and texts (`’` and `€` are bytes `0x92` and `0x80` there).
    #[test]
    fn utf16_and_windows_1252_files_read_as_utf8_does() {
        let data = "Date\tDescription\tAmount\n2026-01-02\tMCDONALD’S 5€\t-5.00\nbad\tX\t1\n2026-01-03\tMÜLLER\t-2.50\n";
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(data.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let windows_1252: Vec<u8> = data
            .replace('’', "\u{92}")
            .replace('€', "\u{80}")
            .chars()
            .map(|c| u8::try_from(u32::from(c)).unwrap())
            .collect();
        let rows = |bytes: &[u8]| -> Vec<Result<(String, i64), u64>> {
            open(bytes, &csv_with("EUR"))
                .unwrap()
                .map(|r| {
                    r.map(|(tx, _)| (tx.description, tx.amount_minor))
                        .map_err(|e| e.line)
                })
                .collect()
        };
        let want = rows(data.as_bytes());
        assert_eq!(
            want,
            vec![
                Ok(("MCDONALD’S 5€".to_owned(), -500)),
                Err(3),
                Ok(("MÜLLER".to_owned(), -250))
            ]
        );
        assert_eq!(rows(&utf16), want);
        assert_eq!(rows(&windows_1252), want);
    }

    /// The descriptions of rows read from `data` (errors as `Err(line)`).
    fn descriptions(data: &str, options: &ReadOptions) -> Vec<Result<String, u64>> {
        read(data, options)
            .into_iter()
            .map(|r| r.map(|(tx, _)| tx.description).map_err(|e| e.line))
            .collect()
    }

    /// A QIF file is read as a CSV is: the date order decided by the file (`03/13/2024`
    /// says month first, so `3/5'24` is 5 March), amounts in minor units, an entry's kind
    /// read as a type column, bad entries named by line, no currency but the caller's.
    #[test]
    fn qif_files_are_decided_per_file_like_csv() {
        let data =
            "!Type:Bank\nD3/5'24\nT-1,234.56\nPREWE MARKT\n^\nD03/06/2024\nT-40.00\nNATM\n^\n\
            D03/13/2024\nT-9.99\nPNETFLIX.COM\n^\nD03/14/2024\nTabc\nPX\n^\n";
        let qif = |currency: Option<&str>| ReadOptions {
            currency: currency.and_then(Currency::from_code),
            ..ReadOptions::new(Format::Qif)
        };
        let rows = read(data, &qif(Some("USD")));
        let got: Vec<Result<(String, String, i64), u64>> = rows
            .into_iter()
            .map(|r| {
                r.map(|(tx, _)| (tx.date.to_string(), tx.description, tx.amount_minor))
                    .map_err(|e| e.line)
            })
            .collect();
        assert_eq!(
            got,
            vec![
                Ok(("2024-03-05".into(), "REWE MARKT".into(), -123456)),
                Ok(("2024-03-06".into(), "ATM WITHDRAWAL".into(), -4000)),
                Ok(("2024-03-13".into(), "NETFLIX.COM".into(), -999)),
                Err(14),
            ]
        );
        assert!(matches!(
            open(data.as_bytes(), &qif(None)),
            Err(FileError::NoCurrency { .. })
        ));
        assert_eq!(
            Format::from_path(std::path::Path::new("a.QIF")),
            Format::Qif
        );
    }

    #[test]
    fn a_type_column_is_read_as_the_words_statements_print_for_it() {
        // Lloyds: the type is a code beside the name; a code with no words is not read. A
        // blank description leaves the type's words alone, when it has any.
        let lloyds = "Transaction Date,Transaction Type,Sort Code,Account Number,Transaction Description,Debit Amount,Credit Amount,Balance\n\
            28/06/2026,BGC,'30-94-57,12345678,ACME LTD,,2450.00,3100.00\n\
            27/06/2026,DD,'30-94-57,12345678,BRITISH GAS,85.00,,650.00\n\
            23/06/2026,CPT,'30-94-57,12345678,LNK HIGH STREET,50.00,,1620.00\n\
            22/06/2026,OTH,'30-94-57,12345678,HMRC,20.00,,1670.00\n\
            21/06/2026,,'30-94-57,12345678,PRET A MANGER,6.45,,1690.00\n\
            20/06/2026,DD,'30-94-57,12345678,,3.00,,1696.45\n\
            19/06/2026,OTH,'30-94-57,12345678,,3.00,,1699.45\n";
        assert_eq!(
            descriptions(lloyds, &csv_with("GBP")),
            [
                Ok("BANK GIRO CREDIT ACME LTD".into()),
                Ok("DIRECT DEBIT BRITISH GAS".into()),
                Ok("ATM WITHDRAWAL LNK HIGH STREET".into()),
                Ok("HMRC".into()),
                Ok("PRET A MANGER".into()),
                Ok("DIRECT DEBIT".into()),
                Err(8),
            ],
            "a type without words and no description is nothing to read"
        );
        // MT940: a bank's charge (`NCHG`) with an empty `:86:` and its commission (`NCOM`)
        // with none are read by their type's words; a miscellaneous entry (`NMSC`) with no
        // text is refused, named by its line.
        let sta = ":20:STMT\n:25:DE89370400440532013000\n:60F:C240301EUR100,00\n\
            :61:2403040304DR2,50NCHGNONREF\n:86:\n\
            :61:2403050305DR50,00NCOMNONREF\n\
            :61:2403060306DR1,00NMSCNONREF\n:86:\n\
            :62F:C240306EUR46,50\n-\n";
        assert_eq!(
            descriptions(sta, &ReadOptions::new(Format::Mt940)),
            [Ok("BANK CHARGES".into()), Ok("BANK CHARGES".into()), Err(7)]
        );
        // Monzo and Revolut write the type out; words the description already says are not
        // repeated.
        let ndjson = "{\"date\":\"2024-03-01\",\"type\":\"Faster payment\",\"name\":\"Sam Lee\",\"amount\":-12,\"currency\":\"GBP\"}\n\
            {\"date\":\"2024-03-02\",\"type\":\"TOPUP\",\"description\":\"Top-Up by *1234\",\"amount\":100,\"currency\":\"EUR\"}\n\
            {\"date\":\"2024-03-03\",\"type\":\"Direct Debit\",\"description\":\"DIRECT DEBIT EE LIMITED\",\"amount\":-30,\"currency\":\"GBP\"}\n";
        assert_eq!(
            descriptions(ndjson, &ReadOptions::new(Format::Ndjson)),
            [
                Ok("FASTER PAYMENT Sam Lee".into()),
                Ok("TRANSFER Top-Up by *1234".into()),
                Ok("DIRECT DEBIT EE LIMITED".into()),
            ]
        );
        // OFX's TRNTYPE, the same way.
        let ofx = "<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>CAD</CURDEF><BANKTRANLIST>\
            <STMTTRN><TRNTYPE>POS</TRNTYPE><DTPOSTED>20090401</DTPOSTED><TRNAMT>-6.60</TRNAMT><NAME>MCDONALD'S #112</NAME></STMTTRN>\
            <STMTTRN><TRNTYPE>ATM</TRNTYPE><DTPOSTED>20090402</DTPOSTED><TRNAMT>-60.00</TRNAMT><NAME>1234 MAIN ST</NAME></STMTTRN>\
            <STMTTRN><TRNTYPE>DEBIT</TRNTYPE><DTPOSTED>20090403</DTPOSTED><TRNAMT>-3.10</TRNAMT><NAME>TFL</NAME></STMTTRN>\
            </BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>";
        assert_eq!(
            descriptions(ofx, &ReadOptions::new(Format::Ofx)),
            [
                Ok("MCDONALD'S #112".into()),
                Ok("ATM WITHDRAWAL 1234 MAIN ST".into()),
                Ok("TFL".into()),
            ]
        );
        for (kind, words) in [
            ("Bacs (Direct Credit)", Some("BANK GIRO CREDIT")),
            ("ACH_DEBIT", Some("ACH DEBIT")),
            ("Monzo-to-Monzo", Some("TRANSFER")),
            ("CARD_PAYMENT", None),
            ("POS", None),
            ("ATM Withdrawal", Some("ATM WITHDRAWAL")),
            ("FPO", Some("FASTER PAYMENT TO")),
            ("Debit", None),
            ("Sale", None),
            ("Payment", None),
        ] {
            assert_eq!(rail_phrase(kind), words, "{kind}");
        }
    }

    #[test]
    fn a_file_naming_both_parties_reads_the_counterparty_by_direction() {
        // DKB's export since 2023: the payer and the recipient of every payment, one of them
        // the account holder. Money going out names the recipient, money coming in the payer.
        let dkb = "\"Buchungsdatum\";\"Wertstellung\";\"Status\";\"Zahlungspflichtige*r\";\"Zahlungsempfänger*in\";\"Verwendungszweck\";\"Umsatztyp\";\"IBAN\";\"Betrag (€)\"\n\
            \"02.01.24\";\"02.01.24\";\"Gebucht\";\"Max Mustermann\";\"REWE Markt GmbH\";\"REWE SAGT DANKE 12345\";\"Ausgang\";\"DE123\";\"-23,45\"\n\
            \"03.01.24\";\"03.01.24\";\"Gebucht\";\"ACME GmbH\";\"Max Mustermann\";\"Gehalt Januar\";\"Eingang\";\"DE456\";\"2.500,00\"\n\
            \"04.01.24\";\"04.01.24\";\"Gebucht\";\"Max Mustermann\";\"Stadtwerke München\";\"\";\"Ausgang\";\"DE789\";\"-80,00\"\n\
            \"05.01.24\";\"05.01.24\";\"Gebucht\";\"Max Mustermann\";\"\";\"\";\"Ausgang\";\"DE789\";\"-1,00\"\n";
        let rows = read(dkb, &ReadOptions::new(Format::Csv));
        let got: Vec<_> = rows
            .iter()
            .map(|r| match r {
                Ok((tx, _)) => Ok((tx.description.as_str(), tx.amount_minor)),
                Err(e) => Err((e.line, e.message.as_str())),
            })
            .collect();
        assert_eq!(
            got,
            [
                Ok(("REWE Markt GmbH REWE SAGT DANKE 12345", -2345)),
                Ok(("ACME GmbH Gehalt Januar", 250_000)),
                Ok(("Stadtwerke München", -8000)),
                Err((5, "description is empty")),
            ],
            "the account holder is never read"
        );
        // The two party columns alone are a description.
        let parties = "date,payer,recipient,amount\n2024-03-01,Max,Tesco,-12.00\n";
        assert_eq!(
            descriptions(parties, &csv_with("GBP")),
            [Ok("Tesco".into())]
        );
        // One of them alone names the counterparty of every row: read as a payee is.
        let lone = "Datum,Zahlungsempfänger,Verwendungszweck,Betrag\n2024-03-01,ACME GmbH,Gehalt März,2500.00\n";
        assert_eq!(
            descriptions(lone, &csv_with("EUR")),
            [Ok("ACME GmbH Gehalt März".into())]
        );
        // NDJSON: the same, line by line.
        let ndjson = "{\"date\":\"2024-03-01\",\"payer\":\"Max\",\"recipient\":\"Tesco\",\"amount\":-12,\"currency\":\"GBP\"}\n\
            {\"date\":\"2024-03-02\",\"payer\":\"ACME Ltd\",\"recipient\":\"Max\",\"memo\":\"salary\",\"amount\":2000,\"currency\":\"GBP\"}\n\
            {\"date\":\"2024-03-03\",\"recipient\":\"Shell\",\"memo\":\"fuel\",\"amount\":40,\"currency\":\"GBP\"}\n";
        assert_eq!(
            descriptions(ndjson, &ReadOptions::new(Format::Ndjson)),
            [
                Ok("Tesco".into()),
                Ok("ACME Ltd salary".into()),
                Ok("Shell fuel".into())
            ]
        );
    }

    #[test]
    fn every_description_column_is_read_payee_first_each_text_once() {
        // A budgeting app's export: a payee and a memo, either may be blank.
        let ynab = "Date,Payee,Memo,Outflow,Inflow\n2024-03-01,Tesco,weekly shop,12.00,\n\
            2024-03-02,,rent March,800.00,\n2024-03-03,Netflix,,9.99,\n2024-03-04,,,1.00,\n";
        assert_eq!(
            descriptions(ynab, &csv_with("GBP")),
            [
                Ok("Tesco weekly shop".into()),
                Ok("rent March".into()),
                Ok("Netflix".into()),
                Err(5)
            ]
        );
        // A German savings bank's export: the payee, the booking text and the purpose, in
        // that order whatever the columns' order; a text another holds (ignoring case) once.
        let sparkasse = "Auftragskonto;Buchungstag;Valutadatum;Buchungstext;Verwendungszweck;Beguenstigter/Zahlungspflichtiger;Kontonummer/IBAN;Betrag;Waehrung;Info\n\
            DE02120300000000202051;29.12.2023;29.12.2023;KARTENZAHLUNG;2023-12-28T18:12 Debitk.1 2025-12;REWE Markt GmbH;DE12500105170648489890;-23,45;EUR;Umsatz gebucht\n\
            DE02120300000000202051;30.12.2023;30.12.2023;GUTSCHR. UEBERW.;Gehalt Dezember ACME GMBH;ACME GmbH;DE12500105170648489890;2.500,00;EUR;Umsatz gebucht\n";
        let rows = read(sparkasse, &ReadOptions::new(Format::Csv));
        assert_eq!(
            rows.iter()
                .map(|r| r
                    .as_ref()
                    .map(|(tx, _)| (tx.description.as_str(), tx.amount_minor))
                    .unwrap())
                .collect::<Vec<_>>(),
            [
                (
                    "REWE Markt GmbH KARTENZAHLUNG 2023-12-28T18:12 Debitk.1 2025-12",
                    -2345
                ),
                ("Gehalt Dezember ACME GMBH GUTSCHR. UEBERW.", 250_000)
            ],
            "the purpose names ACME GmbH and more: it takes the payee's place"
        );
        // A classified file read again: its `merchant` column, derived from the description,
        // is not read beside it; alone, it is the description.
        let classified = "date,description,amount,merchant\n2024-03-01,CB BOULANGERIE PAUL 1234 LILLE,-2.10,BOULANGERIE PAUL LILLE\n";
        assert_eq!(
            descriptions(classified, &csv_with("EUR")),
            [Ok("CB BOULANGERIE PAUL 1234 LILLE".into())]
        );
        let merchant_only = "date,merchant,amount\n2024-03-01,BOULANGERIE PAUL,-2.10\n";
        assert_eq!(
            descriptions(merchant_only, &csv_with("EUR")),
            [Ok("BOULANGERIE PAUL".into())]
        );
        let merchant_and_memo = "date,merchant,memo,amount\n2024-03-01,BOULANGERIE PAUL,CB BOULANGERIE PAUL LILLE,-2.10\n";
        assert_eq!(
            descriptions(merchant_and_memo, &csv_with("EUR")),
            [Ok("CB BOULANGERIE PAUL LILLE".into())]
        );
        // NDJSON keys the same way.
        let json = "{\"date\":\"2024-03-01\",\"memo\":\"weekly shop\",\"payee\":\"Tesco\",\"amount\":-12}\n{\"date\":\"2024-03-01\",\"notes\":null,\"payee\":\"\",\"amount\":-1}\n";
        assert_eq!(
            descriptions(
                json,
                &ReadOptions {
                    format: Format::Ndjson,
                    ..csv_with("GBP")
                }
            ),
            [Ok("Tesco weekly shop".into()), Err(2)]
        );
    }

    #[test]
    fn direction_in_dutch_and_the_currency_as_the_last_word_of_a_header() {
        let ing = "\"Datum\",\"Naam / Omschrijving\",\"Rekening\",\"Tegenrekening\",\"Code\",\"Af Bij\",\"Bedrag (EUR)\",\"Mutatiesoort\",\"Mededelingen\"\n\
            \"20240301\",\"Albert Heijn 1234\",\"NL01INGB0001234567\",\"\",\"BA\",\"Af\",\"23,45\",\"Betaalautomaat\",\"Pasvolgnr: 001 01-03-2024 12:01\"\n\
            \"20240302\",\"ACME BV\",\"NL01INGB0001234567\",\"NL02RABO0123456789\",\"GT\",\"Bij\",\"2500,00\",\"Overschrijving\",\"Salaris maart\"\n";
        let rows = read(ing, &ReadOptions::new(Format::Csv));
        let got: Vec<_> = rows
            .iter()
            .map(|r| {
                let tx = &r.as_ref().unwrap().0;
                (
                    tx.description.as_str(),
                    tx.amount_minor,
                    tx.currency.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "Albert Heijn 1234 Pasvolgnr: 001 01-03-2024 12:01",
                    -2345,
                    "EUR"
                ),
                ("ACME BV Salaris maart", 250_000, "EUR")
            ]
        );
        let comdirect = "Buchungstag;Wertstellung (Valuta);Vorgang;Buchungstext;Umsatz in EUR\n01.03.2024;01.03.2024;Lastschrift / Belastung;Auftraggeber: REWE Buchungstext: REWE SAGT DANKE;-12,34\n";
        assert_eq!(
            ok(&read(comdirect, &ReadOptions::new(Format::Csv))),
            [("2024-03-01".into(), -1234)]
        );
    }

    #[test]
    fn us_file_is_month_first_from_its_unambiguous_dates() {
        // 05/03 is May 3 here: line 3 (03/25) can only be month-first.
        let data = "Date,Description,Amount\n05/03/2024,STARBUCKS,($4.50)\n03/25/2024,PAYROLL,\"$1,234.56\"\n4/5/15,OLD,12.00-\n";
        let mut rows = open(data.as_bytes(), &csv_with("USD")).unwrap();
        assert_eq!(
            rows.layout().date_order,
            Decided::Found {
                value: DateOrder::Mdy,
                line: 3,
                text: "03/25/2024".into()
            }
        );
        let all: Vec<_> = rows.by_ref().collect();
        assert_eq!(
            ok(&all),
            [
                ("2024-05-03".into(), -450),
                ("2024-03-25".into(), 123_456),
                ("2015-04-05".into(), -1200)
            ]
        );
    }

    #[test]
    fn uk_and_au_files_are_day_first_with_debit_and_credit_columns() {
        let uk = "Date,Type,Description,Paid out,Paid in,Balance\n05/03/2024,DD,TESCO STORES,12.34,,100.00\n25/03/2024,BGC,SALARY,,2000.00,2100.00\n";
        let rows = read(uk, &csv_with("GBP"));
        assert_eq!(
            ok(&rows),
            [("2024-03-05".into(), -1234), ("2024-03-25".into(), 200_000)]
        );
        let au = "Date,Amount,Description,Balance\n13/02/2024,-45.10,WOOLWORTHS 1234 SYDNEY,+1000.00\n01/02/2024,+3000.00,SALARY,+1045.10\n";
        let rows = read(au, &csv_with("AUD"));
        assert_eq!(
            ok(&rows),
            [("2024-02-13".into(), -4510), ("2024-02-01".into(), 300_000)]
        );
    }

    #[test]
    fn semicolon_file_with_decimal_commas_and_the_currency_in_a_column() {
        let fr = "Date;Libellé;Montant;Devise\n15.03.2024;CARTE X1234 MONOPRIX;-1.234,56;EUR\n16.03.2024;VIR SALAIRE;2 500,00;EUR\n17.03.2024;CB BOULANGERIE;-3,5;EUR\n";
        let rows = open(fr.as_bytes(), &ReadOptions::new(Format::Csv)).unwrap();
        assert_eq!(rows.layout().delimiter.as_deref(), Some("`;`-separated"));
        let all: Vec<_> = rows.collect();
        assert_eq!(
            ok(&all),
            [
                ("2024-03-15".into(), -123_456),
                ("2024-03-16".into(), 250_000),
                ("2024-03-17".into(), -350)
            ]
        );
        assert_eq!(all[0].as_ref().unwrap().0.currency, "EUR");
    }

    #[test]
    fn brazilian_file_with_real_symbols_and_labels() {
        let br = "Data,Descrição,Valor,Categoria\n15/01/2024,PIX ENVIADO,\"R$ -1.234,56\", Transfers \n03/01/2024,PADARIA,\"R$ -12,50\",GROCERIES\n";
        let rows = read(br, &ReadOptions::new(Format::Csv));
        let (tx, label) = rows[0].as_ref().unwrap();
        assert_eq!((tx.amount_minor, tx.currency.as_str()), (-123_456, "BRL"));
        assert_eq!(label.as_deref(), Some("transfers"));
        assert_eq!(rows[1].as_ref().unwrap().1.as_deref(), Some("groceries"));
    }

    #[test]
    fn every_date_ambiguous_refuses_the_file() {
        let data = "date,description,amount\n02/01/2024,A,-1.00\n03/01/2024,B,-2.00\n";
        let Err(e) = open(data.as_bytes(), &csv_with("EUR")) else {
            panic!("an ambiguous file was read")
        };
        assert!(
            matches!(e, FileError::AmbiguousDates { line: 2, .. }),
            "{e}"
        );
        let given = ReadOptions {
            date_order: Some(DateOrder::Mdy),
            ..csv_with("EUR")
        };
        assert_eq!(ok(&read(data, &given))[0].0, "2024-02-01");
    }

    #[test]
    fn ambiguous_amounts_are_decided_per_file_or_refused() {
        // `1.234` alone reads two ways: refused, not read as 1234.00.
        let data = "date,description,amount\n2024-01-02,A,1.234\n2024-01-03,B,-2.500\n";
        let Err(e) = open(data.as_bytes(), &csv_with("EUR")) else {
            panic!("an ambiguous file was read")
        };
        assert!(
            matches!(e, FileError::AmbiguousDecimal { line: 2, .. }),
            "{e}"
        );
        // A later `0,99` decides the decimal comma for the whole file, also for line 2.
        let decided = format!("{data}2024-01-04,C,\"0,99\"\n");
        assert_eq!(
            ok(&read(&decided, &csv_with("EUR")))
                .into_iter()
                .map(|(_, a)| a)
                .collect::<Vec<_>>(),
            [123_400, -250_000, 99]
        );
        // `0.125` is a decimal point: fine in KWD, three decimals too many in EUR.
        let kwd = "date,description,amount\n2024-01-02,A,0.125\n2024-01-03,B,1.234\n";
        assert_eq!(ok(&read(kwd, &csv_with("KWD")))[1].1, 1234);
        let eur = read(kwd, &csv_with("EUR"));
        assert!(eur[0]
            .as_ref()
            .unwrap_err()
            .message
            .contains("3 decimal places"));
        // The caller's mark wins.
        let given = ReadOptions {
            decimal: Some(DecimalMark::Dot),
            ..csv_with("KWD")
        };
        assert_eq!(ok(&read(data, &given))[0].1, 1234);
    }

    #[test]
    fn ambiguity_past_the_lookahead_is_decided_later_or_reported_per_row() {
        let mut data = String::from("date,description,amount\n");
        for _ in 0..interpret::LOOKAHEAD {
            data.push_str("2024-01-02,ISO,-1.00\n");
        }
        data.push_str("02/03/2024,A,-1.00\n03/04/2024,B,-1.00\n");
        // Nothing decides: the file was opened, the two late rows are each refused.
        let rows = read(&data, &csv_with("EUR"));
        let late = &rows[interpret::LOOKAHEAD..];
        assert!(late.iter().all(|r| r
            .as_ref()
            .unwrap_err()
            .message
            .contains("choose the date order")));
        // A later row decides for the rows before it too.
        data.push_str("25/04/2024,C,-1.00\n");
        let rows = read(&data, &csv_with("EUR"));
        let dates: Vec<_> = rows[interpret::LOOKAHEAD..]
            .iter()
            .map(|r| r.as_ref().unwrap().0.date.to_string())
            .collect();
        assert_eq!(dates, ["2024-03-02", "2024-04-03", "2024-04-25"]);
    }

    #[test]
    fn a_row_against_the_decision_is_bad_and_says_so() {
        let data = "date,description,amount\n25/03/2024,A,-1.00\n03/25/2024,B,-2.00\n";
        let rows = read(data, &csv_with("EUR"));
        assert!(rows[0].is_ok());
        let e = rows[1].as_ref().unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("DD/MM/YYYY"), "{e}");
    }

    #[test]
    fn no_currency_is_refused_not_defaulted() {
        let data = "date,description,amount\n2024-01-02,A,-1.00\n";
        let Err(e) = open(data.as_bytes(), &ReadOptions::new(Format::Csv)) else {
            panic!("read without a currency")
        };
        assert!(matches!(e, FileError::NoCurrency { line: 2 }), "{e}");
        let data =
            "date,description,amount,currency\n2024-01-02,A,-1.00,XYZ\n2024-01-02,B,500,jpy\n";
        let rows = read(data, &ReadOptions::new(Format::Csv));
        assert!(rows[0].as_ref().unwrap_err().message.contains("ISO 4217"));
        let (tx, _) = rows[1].as_ref().unwrap();
        assert_eq!((tx.amount_minor, tx.currency.as_str()), (500, "JPY"));
    }

    #[test]
    fn german_export_with_a_debit_credit_indicator_and_the_currency_in_the_header() {
        let de = "Buchungstag;Verwendungszweck;Betrag (EUR);Soll/Haben\n15.03.2024;REWE SAGT DANKE;54,21;S\n16.03.2024;GEHALT;2.500,00;H\n17.03.2024;X;1,00;?\n";
        let rows = read(de, &ReadOptions::new(Format::Csv));
        assert_eq!(
            ok(&rows[..2]),
            [("2024-03-15".into(), -5421), ("2024-03-16".into(), 250_000)]
        );
        assert_eq!(rows[0].as_ref().unwrap().0.currency, "EUR");
        assert!(rows[2].as_ref().unwrap_err().message.contains("indicator"));
    }

    #[test]
    fn timestamps_and_case_insensitive_headers() {
        let data = "DATE,DESCRIPTION,AMOUNT,CURRENCY\n2018-03-15 10:53:29 +0000,UBER,-12.34,usd\n";
        let rows = read(data, &ReadOptions::new(Format::Csv));
        assert_eq!(ok(&rows), [("2018-03-15".into(), -1234)]);
    }

    #[test]
    fn ndjson_rows() {
        let data = "{\"Date\":\"2026-01-02\",\"description\":\"UBER *TRIP\",\"amount\":-12.5}\n\n{bad}\n{\"id\":\"t9\",\"date\":\"02/01/2026\",\"description\":\"PIX\",\"amount\":\"10,00\"}\n";
        let options = ReadOptions {
            date_order: Some(DateOrder::Dmy),
            ..csv_with("BRL")
        };
        let options = ReadOptions {
            format: Format::Ndjson,
            ..options
        };
        let rows = read(data, &options);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].as_ref().unwrap().0.amount_minor, -1250);
        assert_eq!(rows[1].as_ref().unwrap_err().line, 3);
        assert_eq!(rows[2].as_ref().unwrap().0.id, "t9");
        assert_eq!(rows[2].as_ref().unwrap().0.amount_minor, 1000);
    }

    #[test]
    fn labelled_rows_need_a_label_and_name_its_line() {
        let data = "date,description,amount,currency,category\n2024-01-02,A,-1.00,EUR,Fuel\n2024-01-03,B,-1.00,EUR, \n";
        let rows: Vec<_> = read_labelled(data.as_bytes()).collect();
        assert_eq!(rows[0].as_ref().unwrap().1, "fuel");
        assert_eq!(rows[1].as_ref().unwrap_err().line, 3);
        let refused: Vec<_> = read_labelled("Date,Text\n".as_bytes()).collect();
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].as_ref().unwrap_err().line, 1);
    }

    #[test]
    fn amounts_are_written_in_their_currency() {
        assert_eq!(format_amount(-1234), "-12.34");
        assert_eq!(format_amount(5), "0.05");
        let tx = Transaction {
            id: "t".into(),
            date: "2024-01-02".parse().unwrap(),
            description: "X".into(),
            amount_minor: -1234,
            currency: "JPY".into(),
        };
        let p = crate::classifier::Thresholds::default()
            .predict(&crate::domain::Category::new("fuel"), 0.9);
        let mut out = Vec::new();
        Writer::new(&mut out, Format::Csv).write(&tx, &p).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(",-1234,JPY,"), "{text}");
    }
}
