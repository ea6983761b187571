//! Bank statement files: OFX/QFX, ISO 20022 camt.053 and SWIFT MT940 (feature `formats`).
//!
//! Each reader turns a statement into the same rows as a CSV: a bad entry (no date, an amount
//! that is not a number) is a [`RecordError`] naming the line it starts on, and the other
//! entries go through. Statement files are small (one account, one period), so each is read
//! whole into memory. Their dates and amounts have one spelling each, so nothing is decided
//! per file; the currency is the statement's (or the entry's own), and the caller's only when
//! the file names none.
//!
//! ## Why these parsers, not crates
//!
//! * camt.053 is XML: it is read with `quick-xml`, a streaming parser that is well kept and
//!   light (no serde, no encoding tables in the features we use).
//! * OFX: the crates that read it (`ofx-rs` 0.2, `ofxy`, `qfx_parser`) are young, parse a
//!   whole document into types and fail it whole on one bad transaction, with no line to
//!   report, and bring their own decimal and time crates. OFX 1.x is SGML (elements without
//!   end tags) and 2.x is XML; both are a flat list of `<TAG>value` pairs for what we need,
//!   so a tag scanner of a hundred lines reads both.
//! * MT940: the `mt940` crate (1.1) is strict (one bad statement line fails the file), and
//!   depends on clap, pest, rust_decimal, serde_with and strum unconditionally. MT940 is a
//!   line format of `:tag:` fields; the fields a transaction needs (`:60F:`, `:61:`, `:86:`)
//!   are read here.

mod camt053;
mod mt940;
mod ofx;

use std::io::Read;

use chrono::NaiveDate;

use super::{FileError, Format, ReadOptions, RecordError, Row};
use crate::currency::amount::{AmountText, DecimalMark};
use crate::currency::Currency;
use crate::domain::Transaction;

/// Reads a whole statement file of `options.format`.
pub(super) fn read<R: Read>(mut reader: R, options: &ReadOptions) -> Result<Vec<Row>, FileError> {
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes)?;
    // UTF-8, or Windows-1252 as older OFX and MT940 exports are (UTF-16 is decoded before).
    let text = match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => super::encoding::text(e.as_bytes()),
    };
    if text.trim().is_empty() {
        return Err(FileError::Empty);
    }
    let entries = match options.format {
        Format::Ofx => ofx::entries(&text)?,
        Format::Camt053 => camt053::entries(&text)?,
        Format::Mt940 => mt940::entries(&text)?,
        Format::Csv | Format::Ndjson | Format::Qif => {
            unreachable!("tables are read by `sources` and `qif`")
        }
    };
    if entries.is_empty() {
        return Err(FileError::Empty);
    }
    if let Some(e) = entries.iter().find(|e| e.currency.is_none()) {
        if options.currency.is_none() {
            return Err(FileError::NoCurrency { line: e.line });
        }
    }
    Ok(entries.into_iter().map(|e| e.into_row(options)).collect())
}

/// One statement entry as a reader found it.
#[derive(Debug, Default)]
pub(super) struct Entry {
    /// The line the entry starts on.
    pub line: u64,
    /// The bank's id of the entry (OFX `FITID`, camt `AcctSvcrRef`, MT940 bank reference).
    pub id: Option<String>,
    pub date: Option<NaiveDate>,
    /// Why the date could not be read, when it could not.
    pub date_error: Option<String>,
    /// Amount text, read with `mark`.
    pub amount: Option<String>,
    pub mark: Option<DecimalMark>,
    /// Direction from a debit/credit indicator (`Some(true)`: money out) when the amount
    /// itself carries no sign.
    pub debit: Option<bool>,
    /// Statement text, in the order found; joined with spaces, repeats dropped.
    pub description: Vec<String>,
    /// The entry's type as the statement names it (OFX `TRNTYPE`: `ATM`, `XFER`, `DIRECTDEBIT`),
    /// read before the text as the words statements print for it
    /// ([`super::with_rail`]).
    pub rail: Option<String>,
    /// The entry's currency (its own, or its statement's).
    pub currency: Option<String>,
}

impl Entry {
    fn into_row(self, options: &ReadOptions) -> Row {
        let line = self.line;
        let err = |message: String| RecordError { line, message };
        let date = match (self.date, self.date_error) {
            (Some(d), _) => d,
            (None, Some(e)) => return Err(err(e)),
            (None, None) => return Err(err("date is missing".into())),
        };
        let description = super::joined_text(self.description.iter().map(String::as_str));
        let description = super::with_rail(self.rail.as_deref(), description).map_err(err)?;
        let currency = match &self.currency {
            Some(code) => Currency::from_code(code)
                .ok_or_else(|| err(format!("currency {code:?} is not an ISO 4217 code")))?,
            None => options
                .currency
                .ok_or_else(|| err("the statement names no currency".into()))?,
        };
        let text = self
            .amount
            .as_deref()
            .ok_or_else(|| err("amount is missing".into()))?;
        let mark = self.mark.unwrap_or(DecimalMark::Dot);
        let mut amount_minor = AmountText::parse(text)
            .and_then(|a| a.to_minor_ungrouped(mark, currency))
            .map_err(err)?;
        match self.debit {
            Some(true) => amount_minor = -amount_minor.abs(),
            Some(false) => amount_minor = amount_minor.abs(),
            None => {}
        }
        let id = self
            .id
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| format!("line-{line}"));
        let label = options.labels.as_ref().and_then(|l| l.get(&id).cloned());
        if options.require_label && label.is_none() {
            return Err(err(match options.labels {
                Some(_) => format!("no label for id {id:?} in the labels file"),
                None => "statement entries carry no category: give the labels in a file of id and category".into(),
            }));
        }
        let tx = Transaction {
            id,
            date,
            description,
            amount_minor,
            currency: currency.code().to_owned(),
        };
        Ok((tx, label))
    }
}

/// The payment type a bank's code names, as a type [`super::rail_phrase`] reads: SWIFT
/// transaction types (MT940 `:61:` `NDDT`: `DDT`), and ISO 20022 bank transaction codes
/// (camt.053 `<BkTxCd>`: family `IDDT`, sub-family `ESDD`). Only the codes whose words say
/// something of the category: a direct debit, a standing order, a bank's charge, a cash
/// withdrawal. Not a transfer, which brings wages, rent and a friend's share alike, nor a
/// card payment, whose merchant says more.
pub(super) fn kind_of_code(code: &str) -> Option<&'static str> {
    match code.trim() {
        // SWIFT `DDT`; ISO families of issued and returned direct debits and the SEPA core,
        // B2B, and other direct debits' sub-families.
        "DDT" | "IDDT" | "RDDT" | "ESDD" | "BBDD" | "PMDD" | "OODD" | "UPDD" => {
            Some("direct debit")
        }
        "STO" | "STDO" => Some("standing order"),
        // SWIFT charges and commission; ISO charges, fees and commissions sub-families.
        "CHG" | "COM" | "CHRG" | "FEES" | "COMM" | "COME" | "COMI" | "COMT" => Some("charges"),
        "CWDL" => Some("atm"),
        _ => None,
    }
}

/// The 1-based line of byte `offset` in `text`.
pub(super) fn line_at(text: &str, offset: usize) -> u64 {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u64
        + 1
}

/// A date from the first eight digits of `YYYYMMDD…` (OFX) or `YYYY-MM-DD…` (ISO 8601).
pub(super) fn ymd_prefix(s: &str) -> Result<NaiveDate, String> {
    let digits: String = s
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '-')
        .filter(char::is_ascii_digit)
        .take(8)
        .collect();
    let bad = || format!("date {:?} is not YYYYMMDD or YYYY-MM-DD", s.trim());
    if digits.len() != 8 {
        return Err(bad());
    }
    let n = |r: std::ops::Range<usize>| digits[r].parse::<u32>().unwrap_or(0);
    NaiveDate::from_ymd_opt(n(0..4) as i32, n(4..6), n(6..8)).ok_or_else(bad)
}

/// Text with XML/SGML character references replaced (`&amp;`, `&#233;`).
pub(super) fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|&e| e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let name = &rest[1..end];
        let c = match name {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            n => n
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| n.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(unescape("A &amp; B &#233; &x"), "A & B é &x");
        assert_eq!(
            ymd_prefix("20240315120000.000[-5:EST]"),
            Ok(NaiveDate::from_ymd_opt(2024, 3, 15).unwrap())
        );
        assert_eq!(
            ymd_prefix("2024-03-15T10:00:00"),
            Ok(NaiveDate::from_ymd_opt(2024, 3, 15).unwrap())
        );
        assert!(ymd_prefix("2024031").is_err());
        assert_eq!(line_at("a\nb\nc", 2), 2);
    }

    #[test]
    fn statements_read_like_csv_and_take_labels_by_id() {
        use crate::records::{open, read_labels};
        use std::sync::Arc;
        let ofx = "<OFX><CURDEF>EUR<STMTTRN><DTPOSTED>20240102<TRNAMT>-1.5<FITID>F1<NAME>SHOP</STMTTRN>\n<STMTTRN><DTPOSTED>20240103<TRNAMT>2<FITID>F2<NAME>PAY</STMTTRN></OFX>";
        let labels = read_labels("Id;Category\nF1; Groceries \n".as_bytes()).unwrap();
        let options = ReadOptions {
            require_label: true,
            labels: Some(Arc::new(labels)),
            ..ReadOptions::new(Format::Ofx)
        };
        let rows: Vec<_> = open(ofx.as_bytes(), &options).unwrap().collect();
        let (tx, label) = rows[0].as_ref().unwrap();
        assert_eq!((tx.amount_minor, tx.currency.as_str()), (-150, "EUR"));
        assert_eq!(label.as_deref(), Some("groceries"));
        let e = rows[1].as_ref().unwrap_err();
        assert_eq!(
            (e.line, e.message.as_str()),
            (2, "no label for id \"F2\" in the labels file")
        );
        let unlabelled = ReadOptions {
            require_label: true,
            ..ReadOptions::new(Format::Ofx)
        };
        let rows: Vec<_> = open(ofx.as_bytes(), &unlabelled).unwrap().collect();
        assert!(rows[0]
            .as_ref()
            .unwrap_err()
            .message
            .contains("carry no category"));
        // Each text once, the fullest in the place of the first that it repeats.
        let parts = |texts: &[&str]| {
            let e = Entry {
                line: 1,
                date: NaiveDate::from_ymd_opt(2024, 1, 2),
                amount: Some("-1".into()),
                mark: Some(DecimalMark::Dot),
                currency: Some("EUR".into()),
                description: texts.iter().map(|t| t.to_string()).collect(),
                ..Entry::default()
            };
            e.into_row(&ReadOptions::new(Format::Ofx))
                .unwrap()
                .0
                .description
        };
        assert_eq!(
            parts(&["ALDI STORE ", "ALDI STORE   GEELONG", "CARD 12"]),
            "ALDI STORE   GEELONG CARD 12"
        );
        assert_eq!(parts(&["A B", "X", "A B X"]), "A B X");
        assert_eq!(parts(&["SHOP 1", "SHOP", ""]), "SHOP 1");
        let no_currency = ofx.replace("<CURDEF>EUR", "");
        assert!(matches!(
            open(no_currency.as_bytes(), &ReadOptions::new(Format::Ofx)),
            Err(FileError::NoCurrency { line: 1 })
        ));
    }
}
