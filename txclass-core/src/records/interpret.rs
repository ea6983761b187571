//! From text cells to transactions, with the file's date order and decimal mark decided
//! once for the whole file.
//!
//! A decision is taken from the first value that fits only one reading (`25/03/2024`,
//! `12,34`), or given by the caller. Until a file needs one (its first ambiguous value) rows
//! stream straight through; from then on rows wait in a buffer until a later row decides.
//! A file whose ambiguous values are never decided is refused as a whole when that shows
//! within its first [`LOOKAHEAD`] rows, and otherwise each undecidable row is reported.
//! A row that contradicts the decision (`03/25/2024` in a day-first file) is a bad row
//! that names the decision, never read the other way.

use std::collections::VecDeque;

use super::columns::Field;
use super::date::{DateOrder, DateText, OrderEvidence};
use super::sources::{Raw, RawSource};
use super::{normalise_label, FileError, ReadOptions, RecordError, Row};
use crate::currency::amount::{AmountText, DecimalMark, MarkEvidence};
use crate::currency::Currency;
use crate::domain::taxonomy::Taxonomy;
use crate::domain::Transaction;

/// Rows read before [`super::open`] returns, so that a file that cannot be decided is
/// refused before any row is used.
pub(crate) const LOOKAHEAD: usize = 1000;

/// One of the file's decisions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decided<T> {
    /// Nothing in the file so far needs it.
    NotNeeded,
    /// Given by the caller.
    Given(T),
    /// Read from the first row that fits only one way.
    Found {
        /// The decision.
        value: T,
        /// The row that decided it.
        line: u64,
        /// Its text.
        text: String,
    },
    /// Needed since this row (ambiguous), not decided yet.
    Pending {
        /// The first ambiguous row.
        line: u64,
        /// Its text.
        text: String,
    },
}

impl<T: Copy> Decided<T> {
    /// The decision, if taken.
    pub fn value(&self) -> Option<T> {
        match self {
            Decided::Given(v) | Decided::Found { value: v, .. } => Some(*v),
            _ => None,
        }
    }

    fn pending(&self) -> bool {
        matches!(self, Decided::Pending { .. })
    }

    fn observe_ambiguous(&mut self, line: u64, text: &str) {
        if matches!(self, Decided::NotNeeded) {
            *self = Decided::Pending {
                line,
                text: text.to_owned(),
            };
        }
    }

    fn observe_only(&mut self, value: T, line: u64, text: &str) {
        if matches!(self, Decided::NotNeeded | Decided::Pending { .. }) {
            *self = Decided::Found {
                value,
                line,
                text: text.to_owned(),
            };
        }
    }
}

/// What a reader decided about a file, for the caller to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// How the file was split, e.g. "`;`-separated", or "`;`-separated, header on line 5"
    /// when lines of account details came before the header (CSV only).
    pub delimiter: Option<String>,
    /// Day/month order.
    pub date_order: Decided<DateOrder>,
    /// Decimal mark.
    pub decimal: Decided<DecimalMark>,
}

pub(crate) struct Interpreter<'a> {
    source: RawSource<'a>,
    buffer: VecDeque<Result<Raw, RecordError>>,
    options: ReadOptions,
    /// The currency the amount column's header names (`Amount (EUR)`).
    header_currency: Option<Currency>,
    pub layout: Layout,
    exhausted: bool,
}

impl<'a> Interpreter<'a> {
    /// Reads ahead and refuses a file that cannot be read as a whole.
    pub fn open(
        source: RawSource<'a>,
        options: &ReadOptions,
        delimiter: Option<String>,
        has_currency_column: bool,
        header_currency: Option<Currency>,
    ) -> Result<Self, FileError> {
        let mut it = Interpreter {
            source,
            buffer: VecDeque::new(),
            options: options.clone(),
            header_currency,
            layout: Layout {
                delimiter,
                date_order: options
                    .date_order
                    .map_or(Decided::NotNeeded, Decided::Given),
                decimal: options.decimal.map_or(Decided::NotNeeded, Decided::Given),
            },
            exhausted: false,
        };
        while it.buffer.len() < LOOKAHEAD && it.pull() {}
        it.fill_while_pending();
        if it.exhausted {
            if let Decided::Pending { line, text } = &it.layout.date_order {
                return Err(FileError::AmbiguousDates {
                    line: *line,
                    text: text.clone(),
                });
            }
            if let Decided::Pending { line, text } = &it.layout.decimal {
                return Err(FileError::AmbiguousDecimal {
                    line: *line,
                    text: text.clone(),
                });
            }
        }
        let first_ok = it.buffer.iter().find_map(|r| r.as_ref().ok());
        if let Some(raw) = first_ok {
            let named = has_currency_column
                || header_currency.is_some()
                || raw.get(Field::Currency).is_some()
                || [Field::Amount, Field::Debit, Field::Credit]
                    .iter()
                    .any(|&f| {
                        raw.get(f)
                            .and_then(|t| AmountText::parse(t).ok())
                            .is_some_and(|a| a.currency.is_some())
                    });
            if !named && options.currency.is_none() {
                return Err(FileError::NoCurrency { line: raw.line });
            }
        } else if it.buffer.is_empty() {
            return Err(FileError::Empty);
        }
        Ok(it)
    }

    /// Pulls one row into the buffer, noting what it says; false at the end of the file.
    fn pull(&mut self) -> bool {
        if self.exhausted {
            return false;
        }
        match self.source.next() {
            None => {
                self.exhausted = true;
                false
            }
            Some(mut row) => {
                if let Ok(raw) = &mut row {
                    self.observe(raw);
                }
                self.buffer.push_back(row);
                true
            }
        }
    }

    fn observe(&mut self, raw: &mut Raw) {
        let date_open = self.layout.date_order.value().is_none();
        if let Some(t) = raw.get(Field::Date).filter(|_| date_open) {
            if let Ok(d) = DateText::parse(t) {
                match d.evidence() {
                    OrderEvidence::Only(o) if o != DateOrder::Ymd => {
                        self.layout.date_order.observe_only(o, raw.line, t)
                    }
                    OrderEvidence::Ambiguous => {
                        self.layout.date_order.observe_ambiguous(raw.line, t)
                    }
                    _ => {}
                }
                raw.date = Some(d);
            }
        }
        if raw.json_numbers || self.layout.decimal.value().is_some() {
            return;
        }
        for f in [Field::Amount, Field::Debit, Field::Credit] {
            if let Some(a) = raw.get(f).and_then(|t| AmountText::parse(t).ok()) {
                match a.evidence() {
                    MarkEvidence::Only(m) => self.layout.decimal.observe_only(
                        m,
                        raw.line,
                        raw.get(f).unwrap_or_default(),
                    ),
                    MarkEvidence::Ambiguous => self
                        .layout
                        .decimal
                        .observe_ambiguous(raw.line, raw.get(f).unwrap_or_default()),
                    MarkEvidence::None => {}
                }
            }
        }
    }

    fn fill_while_pending(&mut self) {
        while (self.layout.date_order.pending() || self.layout.decimal.pending()) && self.pull() {}
    }

    fn convert(&self, raw: Raw) -> Row {
        let line = raw.line;
        let err = |message: String| RecordError { line, message };
        let date_text = raw
            .get(Field::Date)
            .ok_or_else(|| err("date is empty".into()))?;
        let date = raw
            .date
            .map_or_else(|| DateText::parse(date_text), Ok)
            .and_then(|d| d.to_date(self.layout.date_order.value(), date_text))
            .map_err(err)?;

        let (text, debit) = match (
            raw.get(Field::Amount),
            raw.get(Field::Debit),
            raw.get(Field::Credit),
        ) {
            (Some(a), _, _) => match raw.get(Field::Direction) {
                None => (a, None),
                Some(d) => (a, Some(direction(d).map_err(err)?)),
            },
            (None, Some(d), None) => (d, Some(true)),
            (None, None, Some(c)) => (c, Some(false)),
            (None, Some(d), Some(c)) => match (is_zero(d), is_zero(c)) {
                (false, true) => (d, Some(true)),
                (true, false) => (c, Some(false)),
                _ => {
                    return Err(err(format!(
                        "both debit {d:?} and credit {c:?} have an amount"
                    )))
                }
            },
            (None, None, None) => return Err(err("amount is empty".into())),
        };
        let amount = AmountText::parse(text).map_err(err)?;

        let column = match raw.get(Field::Currency) {
            Some(code) => Some(
                Currency::from_code(code)
                    .ok_or_else(|| err(format!("currency {code:?} is not an ISO 4217 code")))?,
            ),
            None => None,
        };
        let currency = match (column, amount.currency) {
            (Some(c), Some(a)) if c != a => {
                return Err(err(format!(
                    "amount {text:?} is in {a} but the currency column says {c}"
                )))
            }
            (Some(c), _) | (None, Some(c)) => c,
            (None, None) => self
                .header_currency
                .or(self.options.currency)
                .ok_or_else(|| {
                    err("no currency: the row has none and no default currency was given".into())
                })?,
        };
        let mark = if raw.json_numbers {
            DecimalMark::Dot
        } else {
            // The amount's own evidence is read only while the file has not decided.
            match self.layout.decimal.value() {
                Some(m) => m,
                None => match amount.evidence() {
                    MarkEvidence::Only(m) => m,
                    MarkEvidence::None => DecimalMark::Dot,
                    MarkEvidence::Ambiguous => {
                        return Err(err(format!(
                            "amount {text:?} reads two ways (decimal point or comma) and no row of the file decides; choose the decimal mark"
                        )))
                    }
                },
            }
        };
        let mut amount_minor = amount.to_minor(mark, currency).map_err(err)?;
        match debit {
            Some(true) => amount_minor = -amount_minor.abs(),
            Some(false) => amount_minor = amount_minor.abs(),
            None => {}
        }

        // A file that names both parties of a payment: the counterparty is the recipient of
        // money going out and the payer of money coming in (the other is the account holder),
        // read before the description's other parts. A type column's words come first, as
        // statements print the rail before the name.
        let party = raw.get(if amount_minor < 0 {
            Field::Recipient
        } else {
            Field::Payer
        });
        let description = super::joined_text(party.into_iter().chain(raw.get(Field::Description)));
        let description = super::with_rail(raw.get(Field::Rail), description).map_err(err)?;
        let id = raw
            .get(Field::Id)
            .map_or_else(|| format!("line-{line}"), str::to_owned);
        let label = raw.get(Field::Category).map(normalise_label).or_else(|| {
            self.options
                .labels
                .as_ref()
                .and_then(|l| l.get(&id).cloned())
        });
        if self.options.require_label && label.is_none() {
            return Err(err("category is empty".into()));
        }
        if let Some(l) = &label {
            Taxonomy::check_builtin(l).map_err(err)?;
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

/// A debit/credit indicator: `D`, `DR`, `Debit`, `S` (Soll), `-` take money out; `C`, `CR`,
/// `Credit`, `H` (Haben), `+` bring it in.
fn direction(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().chars().next() {
        // Debit, Soll, Af (Dutch); Credit, Haben, Bij.
        Some('d' | 's' | 'a' | '-') => Ok(true),
        Some('c' | 'h' | 'b' | '+') => Ok(false),
        _ => Err(format!(
            "debit/credit indicator {s:?} is not D/DR/Debit/S/Af or C/CR/Credit/H/Bij"
        )),
    }
}

/// A debit or credit cell that holds no money (`0`, `0.00`, `-`).
fn is_zero(s: &str) -> bool {
    s.chars().all(|c| matches!(c, '0' | '.' | ',' | '-' | ' '))
}

impl Iterator for Interpreter<'_> {
    type Item = Row;

    fn next(&mut self) -> Option<Row> {
        if self.buffer.is_empty() {
            self.pull();
        }
        self.fill_while_pending();
        match self.buffer.pop_front()? {
            Ok(raw) => Some(self.convert(raw)),
            Err(e) => Some(Err(e)),
        }
    }
}
