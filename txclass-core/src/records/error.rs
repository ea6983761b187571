//! The two kinds of reading errors: one bad row ([`RecordError`], the rest of the file goes
//! on) and a file that cannot be read as a whole ([`FileError`], nothing is read).

use thiserror::Error;

/// A row that could not be read.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("line {line}: {message}")]
pub struct RecordError {
    /// 1-based line number in the file (the header is line 1 of a CSV).
    pub line: u64,
    /// What is wrong with it.
    pub message: String,
}

/// A file that cannot be read as a whole: no row of it is read.
#[derive(Debug, Error)]
pub enum FileError {
    /// Reading the bytes failed.
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    /// The file has no rows.
    #[error("the file has no rows")]
    Empty,
    /// The header lacks a column every row needs.
    #[error("the header has no {}; columns found ({delimiter}): {}", missing.join(", no "), quoted(found))]
    MissingColumns {
        /// The fields with no column, each with the names looked for.
        missing: Vec<&'static str>,
        /// The header's columns as split by `delimiter`.
        found: Vec<String>,
        /// How the header was split, e.g. "`;`-separated".
        delimiter: String,
    },
    /// Every date of the file written with its month as a number fits both day-first and
    /// month-first; the caller must choose.
    #[error("every date with its month as a number fits both DD/MM/YYYY and MM/DD/YYYY (first at line {line}: {text:?}); choose the date order")]
    AmbiguousDates {
        /// The first ambiguous date's line.
        line: u64,
        /// Its text.
        text: String,
    },
    /// Every amount with a separator reads two ways (`1.234`); the caller must choose.
    #[error("every amount with a separator reads two ways (first at line {line}: {text:?} is 1234 with a decimal comma, 1.234 with a decimal point); choose the decimal mark")]
    AmbiguousDecimal {
        /// The first ambiguous amount's line.
        line: u64,
        /// Its text.
        text: String,
    },
    /// No currency: no column, none in the amounts, none given.
    #[error("the file names no currency (no currency column, no code in its amounts, e.g. line {line}); give the currency")]
    NoCurrency {
        /// The first row without a currency.
        line: u64,
    },
    /// The format's reader was not compiled in.
    #[error("{format} files need txclass-core's `formats` feature")]
    NotBuilt {
        /// The format's name.
        format: &'static str,
    },
    /// The file is not of the format it was read as.
    #[error("line {line}: {message}")]
    Malformed {
        /// Where the reader gave up.
        line: u64,
        /// What it expected.
        message: String,
    },
}

fn quoted(found: &[String]) -> String {
    found
        .iter()
        .map(|f| format!("{f:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl FileError {
    /// The error as a row error at the line it concerns (line 1 when it concerns no line),
    /// for readers that report everything as rows.
    pub fn into_record_error(self) -> RecordError {
        let line = match &self {
            FileError::AmbiguousDates { line, .. }
            | FileError::AmbiguousDecimal { line, .. }
            | FileError::NoCurrency { line }
            | FileError::Malformed { line, .. } => *line,
            _ => 1,
        };
        let message = match self {
            FileError::Malformed { message, .. } => message,
            other => other.to_string(),
        };
        RecordError { line, message }
    }
}
