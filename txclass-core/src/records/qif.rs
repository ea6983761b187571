//! Quicken Interchange Format (QIF) files as rows of named text cells ([`Raw`]), read as a
//! CSV's rows are: the file's date order and decimal mark decided once for the whole file
//! ([`super::interpret`]), a bad entry an error naming its line while the others go through.
//!
//! A QIF file is a list of entries, one field a line, the line's first character naming the
//! field: `D` the date, `T` (or `U`) the amount, `P` the payee, `M` the memo, `N` a check
//! number or the entry's kind (`ATM`, `XFER`, `DEP`), `L` the user's own category, `A` an
//! address line, `S` `E` `$` a split's category, memo and amount; `^` ends an entry. Lines
//! starting with `!` name what follows: `!Type:Bank`, `!Type:CCard`, `!Type:Cash` and
//! `!Type:Oth A`/`!Type:Oth L` are transactions; `!Account` is followed by account
//! definitions, `!Type:Cat`, `!Type:Class` and `!Type:Memorized` by lists, none of them
//! transactions, and `!Type:Invst` by investment actions (buys, sells, dividends), which are
//! refused entry by entry. A QIF file names no currency: give it (`--currency`).
//!
//! Quicken writes dates month first in the United States and day first elsewhere, and a
//! year after 1999 as `'24` (`3/ 5'24`): the spaces and the apostrophe are read as the
//! numeric date they stand for, and the order is the file's.
//!
//! Why by hand: the QIF crates (`qif_parser` 0.4, `qif` 0.1) take the date format from the
//! caller, read amounts as floats and fail a whole file on one bad entry.

use std::io::{BufRead, BufReader, Read};

use super::columns::Field;
use super::encoding::text;
use super::sources::{Raw, RawSource};
use super::RecordError;

/// What the lines after a `!` header are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    /// Bank, card, cash or other accounts' transactions.
    Transactions,
    /// Investment actions (refused, entry by entry).
    Investments,
    /// Account definitions, category and class lists, memorised transactions: skipped.
    Other,
}

impl Section {
    fn of(header: &str) -> Section {
        let h = header.trim().to_ascii_lowercase();
        match h.strip_prefix("!type:").map(str::trim) {
            Some("bank" | "ccard" | "cash" | "oth a" | "oth l") => Section::Transactions,
            Some("invst") => Section::Investments,
            Some(_) => Section::Other,
            // `!Account`, `!Option:AutoSwitch`, `!Clear:AutoSwitch`: not transactions.
            None => Section::Other,
        }
    }
}

/// One entry's fields as found.
#[derive(Default)]
struct Entry {
    line: u64,
    date: Option<String>,
    amount: Option<String>,
    texts: Vec<String>,
    kind: Option<String>,
}

impl Entry {
    fn is_empty(&self) -> bool {
        self.line == 0
    }

    /// The entry as a row (or why it is not one) when it holds anything and its section is
    /// read: what a `^`, the next `!` header and the end of the file each do with it.
    fn finish(self, section: Section) -> Option<Result<Raw, RecordError>> {
        (!self.is_empty() && section != Section::Other).then(|| self.into_raw(section))
    }

    /// The entry as a row, or why it is not one.
    fn into_raw(self, section: Section) -> Result<Raw, RecordError> {
        let err = |message: &str| RecordError {
            line: self.line,
            message: message.into(),
        };
        if section == Section::Investments {
            return Err(err(
                "an investment entry (!Type:Invst) is not a bank transaction; not read",
            ));
        }
        let mut raw = Raw::default();
        raw.line = self.line;
        if let Some(d) = &self.date {
            raw.set(Field::Date, &quicken_date(d));
        }
        if let Some(a) = &self.amount {
            raw.set(Field::Amount, a);
        }
        // A kind of entry (`ATM`, `XFER`) is read as a CSV's type column is; a check
        // number says nothing.
        if let Some(k) = self
            .kind
            .as_deref()
            .filter(|k| !k.trim().chars().all(|c| c.is_ascii_digit()))
        {
            raw.set(Field::Rail, k);
        }
        raw.set_texts(self.texts.iter().map(String::as_str));
        Ok(raw)
    }
}

/// A date as Quicken writes it, in the spelling the date reader reads: `3/ 5/24` and
/// `3/5'24` are `3/5/24`.
fn quicken_date(d: &str) -> String {
    d.trim()
        .chars()
        .filter(|c| *c != ' ')
        .map(|c| if c == '\'' { '/' } else { c })
        .collect()
}

/// A QIF file's entries as rows.
pub(crate) fn qif<'a, R: Read + 'a>(reader: R) -> RawSource<'a> {
    let mut lines = BufReader::new(reader).split(b'\n');
    let mut n = 0u64;
    let mut section = Section::Transactions;
    let mut entry = Entry::default();
    let mut done = false;
    Box::new(std::iter::from_fn(move || loop {
        if done {
            return None;
        }
        let Some(next) = lines.next() else {
            done = true;
            // A last entry without its `^`.
            return std::mem::take(&mut entry).finish(section);
        };
        n += 1;
        let bytes = match next {
            Ok(b) => b,
            Err(e) => {
                done = true;
                return Some(Err(RecordError {
                    line: n,
                    message: e.to_string(),
                }));
            }
        };
        let line = text(&bytes);
        let line = line.trim_end_matches(['\r', '\n']);
        let Some(code) = line.chars().next() else {
            continue;
        };
        let value = line[code.len_utf8()..].trim();
        match code {
            '!' => {
                // An entry the file left without its `^` is still read.
                let before = std::mem::replace(&mut section, Section::of(line));
                if let Some(row) = std::mem::take(&mut entry).finish(before) {
                    return Some(row);
                }
            }
            '^' => {
                if let Some(row) = std::mem::take(&mut entry).finish(section) {
                    return Some(row);
                }
            }
            _ if section == Section::Other => {}
            _ => {
                if entry.is_empty() {
                    entry.line = n;
                }
                match code {
                    'D' => entry.date = Some(value.to_owned()),
                    'T' => entry.amount = Some(value.to_owned()),
                    'U' if entry.amount.is_none() => entry.amount = Some(value.to_owned()),
                    'P' | 'M' if !value.is_empty() => entry.texts.push(value.to_owned()),
                    'N' if !value.is_empty() => entry.kind = Some(value.to_owned()),
                    // Address lines, the user's category, cleared status, splits.
                    _ => {}
                }
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(data: &str) -> Vec<Result<Raw, RecordError>> {
        qif(data.as_bytes()).collect()
    }

    #[test]
    fn entries_become_rows_with_their_lines() {
        let data = "!Account\nNChecking\nTBank\n^\n!Type:Bank\n\
            D3/ 5'24\nT-1,234.56\nPREWE MARKT\nMCard 1234\nLGroceries\n^\n\
            D03/06/2024\nU-5.00\nNATM\nC*\n^\n\
            D03/07/2024\nT-9.99\nN1042\nPNETFLIX.COM\nSEntertainment\n$-9.99\n^\n";
        let rows = rows(data);
        assert_eq!(rows.len(), 3);
        let r = rows[0].as_ref().unwrap();
        assert_eq!(r.line, 6);
        assert_eq!(r.get(Field::Date), Some("3/5/24"));
        assert_eq!(r.get(Field::Amount), Some("-1,234.56"));
        assert_eq!(r.get(Field::Description), Some("REWE MARKT Card 1234"));
        let r = rows[1].as_ref().unwrap();
        assert_eq!((r.line, r.get(Field::Rail)), (12, Some("ATM")));
        assert_eq!(r.get(Field::Amount), Some("-5.00"));
        assert_eq!(r.get(Field::Description), None);
        // A check number is no kind of entry.
        let r = rows[2].as_ref().unwrap();
        assert_eq!(
            (r.get(Field::Rail), r.get(Field::Amount)),
            (None, Some("-9.99"))
        );
    }

    #[test]
    fn lists_are_skipped_and_investments_refused() {
        let data = "!Type:Cat\nNGroceries\nE\n^\n!Type:Invst\nD1/2/24\nNBuy\nYACME\n^\n\
            !Type:CCard\r\nD1/3/24\r\nT-3.50\r\nPCAFE\r\n";
        let rows = rows(data);
        assert_eq!(rows.len(), 2, "{rows:?}");
        let e = rows[0].as_ref().unwrap_err();
        assert_eq!(e.line, 6);
        assert!(e.message.contains("investment"), "{}", e.message);
        // The last entry has no `^`; its line ends in CR LF.
        let r = rows[1].as_ref().unwrap();
        assert_eq!(
            (r.line, r.get(Field::Description), r.get(Field::Date)),
            (11, Some("CAFE"), Some("1/3/24"))
        );
    }

    /// An entry left without its `^` before the next section's header is read, not dropped.
    #[test]
    fn an_entry_without_its_caret_before_a_header_is_read() {
        let rows = rows("!Type:Bank\nD1/3/24\nT-3.50\nPCAFE\n!Type:CCard\nD1/4/24\nT-1\nPBAR\n^\n");
        let got: Vec<_> = rows
            .iter()
            .map(|r| {
                r.as_ref()
                    .map(|r| (r.line, r.get(Field::Description)))
                    .unwrap()
            })
            .collect();
        assert_eq!(got, [(2, Some("CAFE")), (6, Some("BAR"))]);
    }
}
