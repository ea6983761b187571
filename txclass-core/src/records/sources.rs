//! CSV and NDJSON files as rows of named text cells ([`Raw`]), before any value is read.
//!
//! The CSV delimiter is sniffed from the header (`,`, `;`, tab or `|`, or an Excel `sep=`
//! line) and named in errors. The readers get the file's bytes as UTF-8 or, a cell at a
//! time, as Windows-1252 ([`super::encoding`]).

use std::fmt;
use std::io::{BufRead, BufReader, Read};

use super::columns::{description_parts, field_of, lone_party, ColumnMap, Field, FIELDS};
use super::date::DateText;
use super::encoding::{push_text, text};
use super::{FileError, RecordError};

/// One row's cells by field, as text.
///
/// The cells share one buffer (a field is a span of it): CSV reading is on the path of every
/// classified row, and a string per cell was five more allocations per row than one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Raw {
    pub line: u64,
    text: String,
    cells: [Option<(u32, u32)>; FIELDS],
    /// The amount cells are JSON numbers: always a decimal point, whatever the file's mark.
    pub json_numbers: bool,
    /// The date cell as read while the file's date order was open (the reader looks at
    /// each such date for evidence, and converts the row later): kept so it is read once.
    pub date: Option<DateText>,
}

impl Raw {
    /// A field's text: trimmed, `None` when absent or blank.
    pub fn get(&self, f: Field) -> Option<&str> {
        self.cells[f as usize]
            .map(|(a, b)| crate::text::trim(&self.text[a as usize..b as usize]))
            .filter(|s| !s.is_empty())
    }

    pub fn set(&mut self, f: Field, value: &str) {
        self.set_with(f, |text| text.push_str(value));
    }

    /// A cell's bytes as [`text`], set as field `f`.
    fn set_bytes(&mut self, f: Field, bytes: &[u8]) {
        self.set_with(f, |text| push_text(text, bytes));
    }

    /// Field `f` as the text `push` appends to the buffer.
    fn set_with(&mut self, f: Field, push: impl FnOnce(&mut String)) {
        let start = self.text.len();
        push(&mut self.text);
        self.cells[f as usize] = Some((start as u32, self.text.len() as u32));
    }

    /// Removes field `f`, giving its untrimmed text.
    fn take(&mut self, f: Field) -> Option<String> {
        self.cells[f as usize]
            .take()
            .map(|(a, b)| self.text[a as usize..b as usize].to_owned())
    }

    /// Sets the description from the texts of the description columns, in reading order
    /// ([`description_parts`]): one is taken as it is, several are joined
    /// ([`super::joined_text`]).
    pub(super) fn set_texts<'t>(&mut self, mut texts: impl ExactSizeIterator<Item = &'t str>) {
        match texts.len() {
            0 => {}
            1 => self.set(Field::Description, texts.next().expect("one text")),
            _ => self.set(Field::Description, &super::joined_text(texts)),
        }
    }
}

/// The rows of a file.
pub(crate) type RawSource<'a> = Box<dyn Iterator<Item = Result<Raw, RecordError>> + 'a>;

/// A CSV delimiter, shown as people say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delimiter(pub u8);

impl fmt::Display for Delimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            b'\t' => f.write_str("tab-separated"),
            d => write!(f, "`{}`-separated", d as char),
        }
    }
}

/// The delimiter of a header line: the candidate that splits it most (outside quotes).
fn sniff(header: &[u8]) -> Delimiter {
    let mut counts = [0usize; 4];
    let candidates = [b',', b';', b'\t', b'|'];
    let mut quoted = false;
    for &b in header {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted {
            if let Some(i) = candidates.iter().position(|&c| c == b) {
                counts[i] += 1;
            }
        }
    }
    let best = (0..4)
        .max_by_key(|&i| (counts[i], std::cmp::Reverse(i)))
        .unwrap_or(0);
    Delimiter(if counts[best] == 0 {
        b','
    } else {
        candidates[best]
    })
}

/// What a first line says a file is, when it is a bank statement and not a table.
fn statement_kind(first: &str) -> Option<&'static str> {
    let t = first.trim_start_matches('\u{feff}').trim_start();
    if t.starts_with("OFXHEADER") || t.starts_with("<OFX") || t.starts_with("<?OFX") {
        Some("an OFX statement")
    } else if t.starts_with(":20:") || t.starts_with("{1:") {
        Some("an MT940 statement")
    } else if t.starts_with("<?xml") || t.starts_with("<Document") {
        Some("an XML document (a camt.053 statement?)")
    } else {
        None
    }
}

fn what_format(what: &str) -> &'static str {
    if what.contains("OFX") {
        "ofx"
    } else if what.contains("MT940") {
        "mt940"
    } else {
        "camt053"
    }
}

/// Lines a bank may print before the header (DKB's account, period and balance, ING's and
/// Crédit Agricole's account blocks: up to about fifteen): the header is looked for among
/// this many.
const PREAMBLE_LINES: u64 = 30;

/// A header line's cells (trimmed), split by `delimiter` with CSV quoting.
fn header_cells(line: &[u8], delimiter: Delimiter) -> Result<Vec<String>, csv::Error> {
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter.0)
        .flexible(true)
        .has_headers(false)
        .from_reader(line);
    let mut record = csv::ByteRecord::new();
    rdr.read_byte_record(&mut record)?;
    Ok(record.iter().map(|h| text(h).trim().to_owned()).collect())
}

/// A CSV file's header: the first line of the first [`PREAMBLE_LINES`] that names every
/// required column (lines of account details before it are skipped), an Excel `sep=` line
/// first naming the delimiter.
struct Header {
    /// Its line (1-based).
    line: u64,
    /// Its bytes, the first the rows' reader reads.
    bytes: Vec<u8>,
    names: Vec<String>,
    map: ColumnMap,
    delimiter: Delimiter,
}

impl Header {
    /// Finds the header, reading `reader` up to the line after it. `Err` when no line names
    /// every required column: the error names what the line that came closest lacks.
    fn find(reader: &mut impl BufRead) -> Result<Self, FileError> {
        let mut given = None;
        let mut closest: Option<Header> = None;
        let mut line = 0;
        let mut bytes = Vec::new();
        while line < PREAMBLE_LINES {
            bytes.clear();
            if reader.read_until(b'\n', &mut bytes)? == 0 {
                break;
            }
            line += 1;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let first = closest.is_none() && given.is_none();
            if first {
                let t = text(&bytes);
                if let Some(what) = statement_kind(&t) {
                    return Err(FileError::Malformed {
                        line,
                        message: format!(
                            "this is {what}, not CSV: read it with format {}",
                            what_format(what)
                        ),
                    });
                }
                if let Some(d) = t.trim().strip_prefix("sep=").filter(|d| d.len() == 1) {
                    given = Some(Delimiter(d.as_bytes()[0]));
                    continue;
                }
            }
            let delimiter = given.unwrap_or_else(|| sniff(&bytes));
            let names = header_cells(&bytes, delimiter).map_err(|e| FileError::Malformed {
                line,
                message: e.to_string(),
            })?;
            let map = ColumnMap::from_headers(names.iter().map(String::as_str));
            let missing = map.missing().len();
            let header = Header {
                line,
                bytes: std::mem::take(&mut bytes),
                names,
                map,
                delimiter,
            };
            if missing == 0 {
                return Ok(header);
            }
            if closest
                .as_ref()
                .is_none_or(|c| missing < c.map.missing().len())
            {
                closest = Some(header);
            }
        }
        match closest {
            None => Err(FileError::Empty),
            Some(c) => Err(FileError::MissingColumns {
                missing: c.map.missing(),
                found: c.names,
                delimiter: c.delimiter.to_string(),
            }),
        }
    }
}

/// A CSV file's rows, with the column map of its header and how it was split (the
/// delimiter, and the header's line when lines come before it); `Err` when no header names
/// every required column.
pub(crate) fn csv<'a, R: Read + 'a>(
    reader: R,
) -> Result<(RawSource<'a>, ColumnMap, String), FileError> {
    let mut reader = BufReader::new(reader);
    let Header {
        line: header_line,
        bytes,
        names,
        map,
        delimiter,
    } = Header::find(&mut reader)?;
    let skipped_lines = header_line - 1;
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter.0)
        .flexible(true)
        .has_headers(true)
        .from_reader(std::io::Cursor::new(bytes).chain(reader));
    let layout = if skipped_lines == 0 {
        delimiter.to_string()
    } else {
        format!("{delimiter}, header on line {header_line}")
    };
    let width = names.len();
    let columns = map.clone();
    let mut record = csv::ByteRecord::new();
    let rows = std::iter::from_fn(move || loop {
        let line_hint = rdr.position().line() + skipped_lines;
        match rdr.read_byte_record(&mut record) {
            Ok(false) => return None,
            Ok(true) => {
                let line = record.position().map_or(line_hint, |p| p.line()) + skipped_lines;
                if record.len() == 1 && record[0].iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                if record.len() != width {
                    let mut message = format!(
                        "expected {width} fields ({delimiter}), found {}",
                        record.len()
                    );
                    if record.len() == 1 {
                        if let Some(d) = [b',', b';', b'\t']
                            .into_iter()
                            .find(|&d| d != delimiter.0 && record[0].contains(&d))
                        {
                            message.push_str(&format!("; is this row {}?", Delimiter(d)));
                        }
                    }
                    return Some(Err(RecordError { line, message }));
                }
                // The cells' text is at most the record's (UTF-8; Windows-1252 may grow it): one
                // allocation per row.
                let mut raw = Raw {
                    line,
                    text: String::with_capacity(record.as_slice().len()),
                    ..Raw::default()
                };
                // The record's text checked as UTF-8 once: a cell that starts and ends on a
                // character's boundary in it is valid text too (one check a row instead of
                // one a cell); the others, and every cell of a record that is not UTF-8,
                // are read one by one ([`push_text`]).
                let whole = std::str::from_utf8(record.as_slice()).ok();
                let checked = |col: usize| whole.zip(record.range(col)).and_then(|(w, r)| w.get(r));
                let set = |raw: &mut Raw, f: Field, col: usize| match checked(col) {
                    Some(cell) => raw.set(f, cell),
                    None => raw.set_bytes(f, &record[col]),
                };
                for f in Field::ALL {
                    if let Some(col) = columns.get(f).filter(|_| f != Field::Description) {
                        set(&mut raw, f, col);
                    }
                }
                // One description column is copied straight into the buffer; several are
                // joined ([`Raw::set_texts`]).
                if let [col] = columns.texts[..] {
                    set(&mut raw, Field::Description, col);
                } else {
                    let texts: Vec<String> = columns
                        .texts
                        .iter()
                        .map(|&c| checked(c).map_or_else(|| text(&record[c]), str::to_owned))
                        .collect();
                    raw.set_texts(texts.iter().map(String::as_str));
                }
                return Some(Ok(raw));
            }
            Err(e) => {
                let line = e.position().map_or(line_hint, |p| p.line()) + skipped_lines;
                return Some(Err(RecordError {
                    line,
                    message: e.to_string(),
                }));
            }
        }
    });
    Ok((Box::new(rows), map, layout))
}

/// A file of labels by transaction id: a header with an id and a category column (any
/// delimiter, any of their aliases), then one row per labelled transaction.
pub(crate) fn labels<R: Read>(
    reader: R,
) -> Result<std::collections::HashMap<String, String>, FileError> {
    let mut reader = BufReader::new(reader);
    let mut first = Vec::new();
    reader.read_until(b'\n', &mut first)?;
    let delimiter = sniff(&first);
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter.0)
        .flexible(true)
        .from_reader(std::io::Cursor::new(first).chain(reader));
    let malformed = |line: u64, message: String| FileError::Malformed { line, message };
    let headers: Vec<String> = rdr
        .byte_headers()
        .map_err(|e| malformed(1, e.to_string()))?
        .iter()
        .map(text)
        .collect();
    let map = ColumnMap::from_headers(headers.iter().map(String::as_str));
    let (Some(id), Some(category)) = (map.get(Field::Id), map.get(Field::Category)) else {
        return Err(malformed(
            1,
            format!(
                "a labels file needs an id and a category column; columns found ({delimiter}): {}",
                headers.join(", ")
            ),
        ));
    };
    let mut out = std::collections::HashMap::new();
    for r in rdr.byte_records() {
        let r = r.map_err(|e| malformed(e.position().map_or(0, |p| p.line()), e.to_string()))?;
        let line = r.position().map_or(0, |p| p.line());
        let (Some(i), Some(c)) = (r.get(id), r.get(category)) else {
            return Err(malformed(
                line,
                format!(
                    "expected {} fields ({delimiter}), found {}",
                    headers.len(),
                    r.len()
                ),
            ));
        };
        let (i, c) = (text(i).trim().to_owned(), super::normalise_label(&text(c)));
        if !c.is_empty() {
            crate::domain::taxonomy::Taxonomy::builtin()
                .check(&c)
                .map_err(|m| malformed(line, m))?;
        }
        if !i.is_empty() && !c.is_empty() {
            out.insert(i, c);
        }
    }
    Ok(out)
}

/// An NDJSON file's rows: one object a line, keys matched like CSV headers; or, when the
/// file is one JSON array (`[{…}, {…}]`, what many apps export as `.json`), each of its
/// elements.
pub(crate) fn ndjson<'a, R: Read + 'a>(reader: R) -> RawSource<'a> {
    // Whitespace read past to find the first character is counted, so rows keep their lines.
    let mut reader = LineCounting {
        inner: BufReader::new(reader),
        breaks: 0,
    };
    let starts_an_array = loop {
        match reader.fill_buf() {
            Ok([]) | Err(_) => break false,
            Ok(buf) => match buf.iter().position(|b| !b.is_ascii_whitespace()) {
                Some(i) => break buf[i] == b'[',
                None => {
                    let n = buf.len();
                    reader.consume(n);
                }
            },
        }
    };
    if starts_an_array {
        return json_array(reader);
    }
    let skipped = reader.breaks;
    let mut lines = reader.inner.split(b'\n').enumerate();
    Box::new(std::iter::from_fn(move || loop {
        let (i, l) = lines.next()?;
        let line = skipped + i as u64 + 1;
        let bytes = match l {
            Ok(b) => b,
            Err(e) => {
                return Some(Err(RecordError {
                    line,
                    message: e.to_string(),
                }))
            }
        };
        let s = text(&bytes);
        if s.trim().is_empty() {
            continue;
        }
        return Some(object(&s, line));
    }))
}

/// A reader that counts the line breaks read through it.
struct LineCounting<R> {
    inner: R,
    breaks: u64,
}

impl<R: BufRead> Read for LineCounting<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let buf = self.fill_buf()?;
        let n = buf.len().min(out.len());
        out[..n].copy_from_slice(&buf[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for LineCounting<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        if let Ok(buf) = self.inner.fill_buf() {
            self.breaks += buf[..n.min(buf.len())]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64;
        }
        self.inner.consume(n);
    }
}

/// What comes next in a JSON array.
enum Next {
    /// Its `]`.
    End,
    /// A number (not a row; read past here).
    Number,
    /// Any other value, for `serde_json` to read.
    Value,
    /// No `]` before the end, or the file could not be read.
    Broken(String),
}

/// The elements of a JSON array (`r` at or before its `[`) as rows, each named by the line it
/// starts on, read one at a time (a file of a million transactions is not held whole). An element that is not a row
/// is an error and the next is read; text that is not JSON ends the file with an error, as
/// nothing after it can be placed.
fn json_array<'a, R: BufRead + 'a>(mut r: LineCounting<R>) -> RawSource<'a> {
    let mut opened = false;
    let mut done = false;
    Box::new(std::iter::from_fn(move || {
        if done {
            return None;
        }
        // Past whitespace, the `[` and the comma before the next element.
        let next = loop {
            let buf = match r.fill_buf() {
                Ok(buf) => buf,
                Err(e) => break Next::Broken(e.to_string()),
            };
            let Some(&b) = buf.first() else {
                break Next::Broken("the JSON array is not closed (no `]`)".into());
            };
            match b {
                b'[' if !opened => opened = true,
                b',' if opened => {}
                b']' if opened => break Next::End,
                b if b.is_ascii_whitespace() => {}
                // A number is read here: `serde_json` would keep the byte after it (the `,` or
                // the `]`) in its look-ahead, lost with its deserializer.
                b'-' | b'0'..=b'9' if opened => break Next::Number,
                _ => break Next::Value,
            }
            r.consume(1);
        };
        let line = r.breaks + 1;
        match next {
            Next::End => {
                done = true;
                None
            }
            Next::Broken(message) => {
                done = true;
                Some(Err(RecordError { line, message }))
            }
            Next::Number => {
                let number = |b: &u8| matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9');
                while let Ok(buf) = r.fill_buf() {
                    let n = buf.iter().take_while(|b| number(b)).count();
                    if n == 0 {
                        break;
                    }
                    r.consume(n);
                }
                Some(Err(RecordError {
                    line,
                    message: "expected a JSON object".into(),
                }))
            }
            Next::Value => {
                let mut de = serde_json::Deserializer::from_reader(&mut r);
                match serde::Deserialize::deserialize(&mut de) {
                    Ok(value) => Some(object_of(value, line)),
                    Err(e) => {
                        done = true;
                        Some(Err(RecordError {
                            line,
                            message: format!("{e} (the rest of the array is not read)"),
                        }))
                    }
                }
            }
        }
    }))
}

fn object(s: &str, line: u64) -> Result<Raw, RecordError> {
    let value: serde_json::Value = serde_json::from_str(s).map_err(|e| RecordError {
        line,
        message: e.to_string(),
    })?;
    object_of(value, line)
}

/// A row from a JSON value (an object whose keys are matched like CSV headers).
fn object_of(value: serde_json::Value, line: u64) -> Result<Raw, RecordError> {
    let err = |message: String| RecordError { line, message };
    let serde_json::Value::Object(map) = value else {
        return Err(err("expected a JSON object".into()));
    };
    let mut raw = Raw {
        line,
        ..Raw::default()
    };
    let mut best: [Option<usize>; FIELDS] = [None; FIELDS];
    let mut texts = Vec::new();
    for (key, v) in map {
        let Some((f, rank)) = field_of(&key) else {
            continue;
        };
        if f == Field::Description {
            match v {
                serde_json::Value::String(s) => texts.push((rank, s)),
                serde_json::Value::Number(n) => texts.push((rank, n.to_string())),
                serde_json::Value::Null => {}
                other => return Err(err(format!("{key} {other} is not text or a number"))),
            }
            continue;
        }
        if best[f as usize].is_some_and(|r| r <= rank) {
            continue;
        }
        best[f as usize] = Some(rank);
        let cell = match v {
            serde_json::Value::Null => continue,
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => {
                if matches!(f, Field::Amount | Field::Debit | Field::Credit) {
                    raw.json_numbers = true;
                }
                n.to_string()
            }
            other => return Err(err(format!("{key} {other} is not text or a number"))),
        };
        raw.set(f, &cell);
    }
    let key = |f: Field| best[f as usize].map(|_| f);
    if let Some((rank, f)) = lone_party(key(Field::Payer), key(Field::Recipient)) {
        texts.extend(raw.take(f).map(|t| (rank, t)));
    }
    let texts = description_parts(texts);
    raw.set_texts(texts.iter().map(String::as_str));
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delimiter_is_sniffed_and_named() {
        assert_eq!(sniff(b"Date;Description;Amount\n"), Delimiter(b';'));
        assert_eq!(sniff(b"\"a,b\";c;d"), Delimiter(b';'));
        assert_eq!(sniff(b"date\tdesc\tamount"), Delimiter(b'\t'));
        assert_eq!(sniff(b"date"), Delimiter(b','));
        assert_eq!(Delimiter(b';').to_string(), "`;`-separated");
        let data = "Date;Description;Amount\n2024-01-02;PADARIA;-5,00\n2024-01-03,MERCADO,-1\n";
        let (rows, _, d) = csv(data.as_bytes()).unwrap();
        assert_eq!(d, "`;`-separated");
        let rows: Vec<_> = rows.collect();
        assert_eq!(rows[0].as_ref().unwrap().get(Field::Amount), Some("-5,00"));
        let e = rows[1].as_ref().unwrap_err();
        assert_eq!(e.line, 3);
        assert_eq!(
            e.message,
            "expected 3 fields (`;`-separated), found 1; is this row `,`-separated?"
        );
    }

    #[test]
    fn a_header_without_amount_is_refused_with_what_was_found() {
        let Err(e) = csv("Datum;Text\n01.02.2024;X\n".as_bytes()) else {
            panic!("read")
        };
        let m = e.to_string();
        assert!(m.contains("no amount"), "{m}");
        assert!(m.contains("`;`-separated"), "{m}");
        assert!(m.contains("\"Datum\", \"Text\""), "{m}");
    }

    /// DKB's export (before 2023): the account, the period and the balance, a blank line,
    /// then the header. Rows keep their lines in the file.
    #[test]
    fn lines_of_account_details_before_the_header_are_skipped() {
        let data = "\"Kontonummer:\";\"DE12 3456 7890\";\n\
            \"Von:\";\"01.03.2024\";\n\
            \"Kontostand vom 31.03.2024:\";\"1.234,56 EUR\";\n\
            \n\
            \"Buchungstag\";\"Auftraggeber / Begünstigter\";\"Betrag (EUR)\"\n\
            \"05.03.2024\";\"REWE\";\"-12,50\"\n\
            \"06.03.2024\";\"ARAL\"\n";
        let (rows, map, layout) = csv(data.as_bytes()).unwrap();
        assert_eq!(layout, "`;`-separated, header on line 5");
        assert_eq!(map.get(Field::Amount), Some(2));
        let rows: Vec<_> = rows.collect();
        let r = rows[0].as_ref().unwrap();
        assert_eq!((r.line, r.get(Field::Description)), (6, Some("REWE")));
        assert_eq!(rows[1].as_ref().unwrap_err().line, 7);
        // Without a header among the first lines, the line that came closest is named.
        let Err(e) = csv("Konto;1234\nDatum;Text\n01.02.2024;X\n".as_bytes()) else {
            panic!("read")
        };
        let m = e.to_string();
        assert!(
            m.contains("no amount") && m.contains("\"Datum\", \"Text\""),
            "{m}"
        );
        // The header is looked for in the first 30 lines only.
        let late = format!(
            "{}Date,Description,Amount\n2024-01-02,X,-1\n",
            "Konto,1\n".repeat(30)
        );
        assert!(matches!(
            csv(late.as_bytes()),
            Err(FileError::MissingColumns { .. })
        ));
        let in_time = format!(
            "{}Date,Description,Amount\n2024-01-02,X,-1\n",
            "Konto,1\n".repeat(29)
        );
        assert!(csv(in_time.as_bytes()).is_ok());
        assert!(matches!(csv("\n \n".as_bytes()), Err(FileError::Empty)));
    }

    /// A `.json` file that is one array of objects (pretty-printed or on one line) is read
    /// element by element, each named by the line it starts on.
    #[test]
    fn a_json_array_is_read_element_by_element() {
        type Read = Result<(u64, Option<String>), (u64, String)>;
        let lines = |data: &str| -> Vec<Read> {
            ndjson(data.as_bytes())
                .map(|r| {
                    r.map(|raw| (raw.line, raw.get(Field::Description).map(str::to_owned)))
                        .map_err(|e| (e.line, e.message))
                })
                .collect()
        };
        let pretty = " \n[\n  {\"description\": \"REWE\", \"amount\": -1},\n  \"x\",\n  {\n    \"memo\": \"ARAL\"\n  }\n]\n";
        let got = lines(pretty);
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0], Ok((3, Some("REWE".into()))));
        assert_eq!(got[1].as_ref().unwrap_err().0, 4);
        assert_eq!(got[2], Ok((5, Some("ARAL".into()))));
        assert_eq!(
            lines("[{\"description\":\"A\"},{\"description\":\"B\"}]"),
            [Ok((1, Some("A".into()))), Ok((1, Some("B".into())))]
        );
        assert_eq!(lines("[]"), []);
        // Lines stay the file's past more blank lines than one buffer holds, array or not.
        let blank = "\n".repeat(10_000);
        assert_eq!(
            lines(&format!("{blank}[{{\"description\":\"A\"}}]")),
            [Ok((10_001, Some("A".into())))]
        );
        assert_eq!(
            lines(&format!("{blank}{{\"description\":\"A\"}}\n")),
            [Ok((10_001, Some("A".into())))]
        );
        // A number is not a row, and the bracket after it still closes the array.
        assert_eq!(
            lines("[-1.5e3]"),
            [Err((1, "expected a JSON object".into()))]
        );
        // Text that is not JSON, or no `]`, ends the file with an error naming its line.
        let got = lines("[\n{\"description\":\"A\"},\n{oops}\n]");
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].as_ref().unwrap_err().0, 3);
        let got = lines("[\n{\"description\":\"A\"},\n");
        assert_eq!(
            got[1],
            Err((3, "the JSON array is not closed (no `]`)".into()))
        );
    }

    #[test]
    fn a_statement_read_as_csv_says_what_it_is() {
        for (first, format) in [
            ("OFXHEADER:100\n", "ofx"),
            (":20:STARTUMSE\n", "mt940"),
            ("<?xml version=\"1.0\"?>\n", "camt053"),
        ] {
            let Err(FileError::Malformed { line: 1, message }) = csv(first.as_bytes()) else {
                panic!("{first:?} was read as CSV")
            };
            assert!(
                message.ends_with(&format!("read it with format {format}")),
                "{message}"
            );
        }
    }

    #[test]
    fn windows_1252_and_sep_lines() {
        let mut data = b"sep=;\nData;Descri\xe7\xe3o;Valor\n01/02/2024;CAF\xc9;-3,50\n".to_vec();
        data.extend_from_slice(b"\n");
        let (rows, map, _) = csv(data.as_slice()).unwrap();
        assert_eq!(map.get(Field::Description), Some(1));
        let rows: Vec<_> = rows.collect();
        assert_eq!(rows.len(), 1);
        let r = rows[0].as_ref().unwrap();
        assert_eq!((r.line, r.get(Field::Description)), (3, Some("CAFÉ")));
    }

    /// A record is checked as UTF-8 once, but each cell is still its own text: UTF-8 cells
    /// beside a Windows-1252 one read as UTF-8, and two cells whose bytes make a character
    /// only across the delimiter each read as Windows-1252 (as they would alone).
    #[test]
    fn each_cell_is_read_as_its_own_text() {
        let data = b"date,description,amount,currency\n\
            2024-02-01,CAF\xc3\xa9 M\xc3\xbcLLER,-3.50,EUR\n\
            2024-02-01,CAF\xc9,-3.50,EUR\n\
            2024-02-01,CAF\xc3\xa9,-3.50,EUR\xc3\n\
            2024-02-01,\xc3,\xa9-3.50,EUR\n";
        let (rows, _, _) = csv(data.as_slice()).unwrap();
        let rows: Vec<_> = rows.map(|r| r.unwrap()).collect();
        let got = |i: usize, f: Field| rows[i].get(f).map(str::to_owned);
        assert_eq!(got(0, Field::Description).as_deref(), Some("CAFé MüLLER"));
        assert_eq!(got(1, Field::Description).as_deref(), Some("CAFÉ"));
        // A record whose last cell is not UTF-8: the description still is.
        assert_eq!(got(2, Field::Description).as_deref(), Some("CAFé"));
        assert_eq!(got(2, Field::Currency).as_deref(), Some("EURÃ"));
        // `\xc3` `\xa9` is `é` in one cell; split by the comma, each is a Windows-1252 character.
        assert_eq!(got(3, Field::Description).as_deref(), Some("Ã"));
        assert_eq!(got(3, Field::Amount).as_deref(), Some("©-3.50"));
    }
}
