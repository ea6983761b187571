//! Amounts as banks write them: `-12.34`, `1.234,56`, `$12.34`, `(12.34)`, `12.34-`,
//! `EUR 5.00`, `R$ 1.234,56`, `12.34 DR`.
//!
//! `1.234` is 1234 in a German file and 1.234 in a Kuwaiti one: whether `.` or `,` is the
//! decimal mark is decided once per file ([`DecimalMark`]), from the first amount that can
//! only be read one way, or by the caller; never guessed row by row.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use super::Currency;

/// The character that separates the units from the decimals; the other one groups thousands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecimalMark {
    /// `1,234.56`
    Dot,
    /// `1.234,56`
    Comma,
}

impl DecimalMark {
    fn char(self) -> char {
        match self {
            DecimalMark::Dot => '.',
            DecimalMark::Comma => ',',
        }
    }

    fn other(self) -> DecimalMark {
        match self {
            DecimalMark::Dot => DecimalMark::Comma,
            DecimalMark::Comma => DecimalMark::Dot,
        }
    }
}

impl fmt::Display for DecimalMark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DecimalMark::Dot => "decimal point (1,234.56)",
            DecimalMark::Comma => "decimal comma (1.234,56)",
        })
    }
}

impl FromStr for DecimalMark {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "." | "dot" | "point" => Ok(DecimalMark::Dot),
            "," | "comma" => Ok(DecimalMark::Comma),
            _ => Err(format!(
                "{s:?} is not a decimal mark: use `.` (dot) or `,` (comma)"
            )),
        }
    }
}

/// What an amount's text says about the file's decimal mark (read by the file readers, feature
/// `files`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "files"), allow(dead_code))]
pub(crate) enum MarkEvidence {
    /// No separator: either mark reads it the same.
    None,
    /// Only this mark reads it (`12,34`, `1.234,56`, `0.125`, `1.234.567`).
    Only(DecimalMark),
    /// Both read it, differently: one separator followed by exactly three digits (`1.234`).
    Ambiguous,
}

/// An amount's text split into its parts, before the decimal mark is applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AmountText<'a> {
    negative: bool,
    /// Digits and `.`/`,` only (spaces and `'` grouping removed): the text's own where it had
    /// nothing else (most amounts: no copy a row).
    body: Cow<'a, str>,
    /// A currency the text names (`EUR 5.00`, `€5`, `R$ 3,00`).
    pub currency: Option<Currency>,
}

/// Symbols that name one currency. A bare `$` or `¥` names several and is only stripped.
const SYMBOLS: &[(&str, Option<&str>)] = &[
    ("US$", Some("USD")),
    ("AU$", Some("AUD")),
    ("A$", Some("AUD")),
    ("CA$", Some("CAD")),
    ("C$", Some("CAD")),
    ("NZ$", Some("NZD")),
    ("R$", Some("BRL")),
    ("€", Some("EUR")),
    ("£", Some("GBP")),
    ("₹", Some("INR")),
    ("$", None),
    ("¥", None),
];

impl<'a> AmountText<'a> {
    /// Splits `s` into sign, number and currency; refuses text that is not an amount.
    pub fn parse(s: &'a str) -> Result<AmountText<'a>, String> {
        let t = crate::text::trim(s);
        if t.is_empty() {
            return Err("amount is empty".into());
        }
        // A sign and digits with marks (`-850.00`, `1,234.56`), as most files write amounts,
        // taken as they are; what the steps below make of such text, without their searches
        // for brackets, signs, symbols and codes: every row's amount is read here.
        let (negative, number) = match t.as_bytes()[0] {
            b'-' => (true, &t[1..]),
            b'+' => (false, &t[1..]),
            _ => (false, t),
        };
        if number.bytes().any(|b| b.is_ascii_digit())
            && number
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.' || b == b',')
        {
            return Ok(AmountText {
                negative,
                body: Cow::Borrowed(number),
                currency: None,
            });
        }
        Self::parse_marked(s, t)
    }

    /// [`parse`](Self::parse) of text `t` (`s` trimmed, not empty) that may have brackets,
    /// signs after the number, currency symbols or codes and spaces.
    fn parse_marked(s: &str, mut t: &str) -> Result<AmountText<'a>, String> {
        let not_a_number = || format!("amount {s:?} is not a number");
        let mut negative = false;
        let flip = |negative: &mut bool| {
            if *negative {
                Err(not_a_number())
            } else {
                *negative = true;
                Ok(())
            }
        };
        if let Some(inner) = t.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
            flip(&mut negative)?;
            t = inner.trim();
        }
        for (suffix, neg) in [("DR", true), ("CR", false)] {
            if let Some(rest) = t.strip_suffix(suffix) {
                if rest.ends_with(|c: char| c.is_ascii_digit() || c == ' ') {
                    if neg {
                        flip(&mut negative)?;
                    }
                    t = rest.trim_end();
                    break;
                }
            }
        }
        let mut currency = None;
        // Sign, currency and sign again: `-$12.34`, `$-12.34`, `EUR -5`, `12.34- EUR`.
        for _ in 0..2 {
            t = t.trim();
            if let Some(rest) = t.strip_prefix(['-', '−']) {
                flip(&mut negative)?;
                t = rest;
            } else if let Some(rest) = t.strip_prefix('+') {
                t = rest;
            }
            if let Some(rest) = t.strip_suffix(['-', '−']) {
                flip(&mut negative)?;
                t = rest;
            } else if let Some(rest) = t.strip_suffix('+') {
                t = rest;
            }
            t = t.trim();
            let (rest, found) = strip_currency(t);
            if let Some(c) = found {
                if currency.is_some_and(|old| old != c) {
                    return Err(not_a_number());
                }
                currency = Some(c);
            }
            t = rest;
        }
        let body: String = t
            .chars()
            .filter(|c| !matches!(c, ' ' | '\'' | '\u{a0}' | '\u{202f}'))
            .collect();
        let digits = body.chars().filter(|c| c.is_ascii_digit()).count();
        if digits == 0
            || !body
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
        {
            return Err(not_a_number());
        }
        Ok(AmountText {
            negative,
            body: Cow::Owned(body),
            currency,
        })
    }

    /// What this amount says about the file's decimal mark.
    #[cfg_attr(not(feature = "files"), allow(dead_code))]
    pub fn evidence(&self) -> MarkEvidence {
        let b = &self.body;
        let dots = b.matches('.').count();
        let commas = b.matches(',').count();
        match (dots, commas) {
            (0, 0) => MarkEvidence::None,
            (_, 0) | (0, _) => {
                let mark = if dots > 0 {
                    DecimalMark::Dot
                } else {
                    DecimalMark::Comma
                };
                if dots + commas > 1 {
                    // Repeated: it groups thousands.
                    return MarkEvidence::Only(mark.other());
                }
                let (int, frac) = b.split_once(mark.char()).expect("one separator");
                let leading_zero = int.is_empty() || int.starts_with('0');
                if frac.len() != 3 || leading_zero || int.len() > 3 {
                    MarkEvidence::Only(mark)
                } else {
                    MarkEvidence::Ambiguous
                }
            }
            _ => {
                let last = b.rfind(['.', ',']).expect("a separator");
                if b[last..].starts_with('.') {
                    MarkEvidence::Only(DecimalMark::Dot)
                } else {
                    MarkEvidence::Only(DecimalMark::Comma)
                }
            }
        }
    }

    /// The amount in minor units of `currency`, reading `mark` as the decimal mark.
    ///
    /// Refuses more decimals than the currency has (`0.125` EUR), a decimal mark written
    /// twice, and a grouping mark after the decimal one.
    pub fn to_minor(&self, mark: DecimalMark, currency: Currency) -> Result<i64, String> {
        self.minor(mark, currency, true)
    }

    /// As [`to_minor`](Self::to_minor), for amounts of a statement format, whose decimal
    /// mark is fixed and which has no grouping marks (OFX, camt.053, MT940): zeros past the
    /// currency's places are read however many there are (`8.850` EUR in a camt.053 is 8.85).
    #[cfg(any(feature = "formats", test))]
    pub fn to_minor_ungrouped(&self, mark: DecimalMark, currency: Currency) -> Result<i64, String> {
        self.minor(mark, currency, false)
    }

    /// The amount in minor units; `may_group`: the text may have grouping marks.
    fn minor(&self, mark: DecimalMark, currency: Currency, may_group: bool) -> Result<i64, String> {
        let shown = || {
            let sign = if self.negative { "-" } else { "" };
            format!("{sign}{}", self.body)
        };
        let (int, frac) = match self.body.split_once(mark.char()) {
            Some((i, f)) => (i, f),
            None => (&*self.body, ""),
        };
        if frac.contains(['.', ',']) {
            return Err(format!(
                "amount {:?} does not fit the file's {mark}",
                shown()
            ));
        }
        // Grouping marks split the units into groups of three (`1.234.567`): `12,00` in a
        // file with a decimal point is a mistake, not 1200.
        let mut groups = int.split(mark.other().char());
        let first = groups.next().unwrap_or("");
        let grouped = (1..=3).contains(&first.len()) && groups.all(|g| g.len() == 3);
        if int.contains(mark.other().char()) && !grouped {
            return Err(format!(
                "amount {:?} does not fit the file's {mark}",
                shown()
            ));
        }
        let group = mark.other().char();
        if !int.chars().all(|c| c.is_ascii_digit() || c == group) {
            return Err(format!(
                "amount {:?} does not fit the file's {mark}",
                shown()
            ));
        }
        let places = usize::from(currency.minor_units());
        // Zeros past the currency's places say nothing (`00000000000000.2400` USD in a
        // broker's OFX, `1500.00` JPY in many exports), except in three digits after the
        // mark of a text that may have grouping marks: a group of thousands the file's mark
        // was wrongly decided for.
        let frac = if frac.len() > places
            && (frac.len() != 3 || !may_group)
            && frac.bytes().skip(places).all(|b| b == b'0')
        {
            &frac[..places]
        } else {
            frac
        };
        if frac.len() > places {
            return Err(format!(
                "amount {:?} has {} decimal places; {} has {places}",
                shown(),
                frac.len(),
                currency.code()
            ));
        }
        let out_of_range = || format!("amount {:?} is out of range", shown());
        // Digits read in place, without a copy of the text: every row's amount is read here.
        let digits = |text: &str| {
            text.bytes()
                .filter(u8::is_ascii_digit)
                .try_fold(0i64, |n, b| {
                    n.checked_mul(10)?.checked_add(i64::from(b - b'0'))
                })
                .ok_or_else(out_of_range)
        };
        let major = digits(int)?;
        // `frac` has at most `places` digits (at most 4): `5` of `12.5` is 50 cents.
        let minor = digits(frac)? * 10i64.pow((places - frac.len()) as u32);
        let v = major
            .checked_mul(currency.scale())
            .and_then(|m| m.checked_add(minor))
            .ok_or_else(out_of_range)?;
        Ok(if self.negative { -v } else { v })
    }
}

/// Strips a leading or trailing currency code or symbol; returns the rest and the currency
/// it names, if it names one.
fn strip_currency(t: &str) -> (&str, Option<Currency>) {
    for (symbol, code) in SYMBOLS {
        if let Some(rest) = t.strip_prefix(symbol).or_else(|| t.strip_suffix(symbol)) {
            return (rest, code.and_then(Currency::from_code));
        }
    }
    let alpha_prefix = t
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(t.len());
    if alpha_prefix == 3 {
        if let Some(c) = Currency::from_code(&t[..3]) {
            return (&t[3..], Some(c));
        }
    }
    // Past the last character that is not a letter (which may take more than one byte).
    let alpha_suffix = t.len()
        - t.char_indices()
            .rev()
            .find(|(_, c)| !c.is_ascii_alphabetic())
            .map_or(0, |(i, c)| i + c.len_utf8());
    if alpha_suffix == 3 {
        if let Some(c) = Currency::from_code(&t[t.len() - 3..]) {
            return (&t[..t.len() - 3], Some(c));
        }
    }
    (t, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Currency {
        Currency::from_code("EUR").unwrap()
    }

    fn read(s: &str, mark: DecimalMark) -> Result<i64, String> {
        AmountText::parse(s)?.to_minor(mark, eur())
    }

    /// Found by `fuzz_csv_reader`: a letter code after a multi-byte character was cut inside
    /// that character.
    #[test]
    fn a_code_after_a_multibyte_character_is_found_or_refused_without_panic() {
        assert_eq!(strip_currency("12çEUR"), ("12ç", eur().into()));
        assert_eq!(strip_currency("($4.50){³pèçsB").1, None);
        assert_eq!(strip_currency("çsB"), ("çsB", None));
    }

    #[test]
    fn signs_symbols_and_codes() {
        use DecimalMark::*;
        assert_eq!(read("-12.34", Dot), Ok(-1234));
        assert_eq!(read("$12.34", Dot), Ok(1234));
        assert_eq!(read("-$12.34", Dot), Ok(-1234));
        assert_eq!(read("$-12.34", Dot), Ok(-1234));
        assert_eq!(read("(12.34)", Dot), Ok(-1234));
        assert_eq!(read("12.34-", Dot), Ok(-1234));
        assert_eq!(read("12.34 DR", Dot), Ok(-1234));
        assert_eq!(read("12.34 CR", Dot), Ok(1234));
        assert_eq!(read("1 234,56", Comma), Ok(123_456));
        assert_eq!(read("1'234.56", Dot), Ok(123_456));
        assert_eq!(read("+7", Dot), Ok(700));
        let t = AmountText::parse("EUR 5.00").unwrap();
        assert_eq!(t.currency.map(|c| c.code()), Some("EUR"));
        assert_eq!(t.to_minor(Dot, eur()), Ok(500));
        let t = AmountText::parse("R$ -1.234,56").unwrap();
        assert_eq!(t.currency.map(|c| c.code()), Some("BRL"));
        assert_eq!(t.to_minor(Comma, eur()), Ok(-123_456));
        assert_eq!(
            AmountText::parse("-5.00 GBP")
                .unwrap()
                .currency
                .map(|c| c.code()),
            Some("GBP")
        );
        assert_eq!(AmountText::parse("$5").unwrap().currency, None);
        for bad in ["", "abc", "--5", "(-5)", "12.3.4x", "EUR", "5 XYZ"] {
            assert!(AmountText::parse(bad).is_err(), "{bad:?} was read");
        }
    }

    #[test]
    fn evidence_for_the_decimal_mark() {
        use DecimalMark::*;
        let ev = |s: &str| AmountText::parse(s).unwrap().evidence();
        assert_eq!(ev("12"), MarkEvidence::None);
        assert_eq!(ev("12,34"), MarkEvidence::Only(Comma));
        assert_eq!(ev("12.5"), MarkEvidence::Only(Dot));
        assert_eq!(ev("1.234,56"), MarkEvidence::Only(Comma));
        assert_eq!(ev("1,234.56"), MarkEvidence::Only(Dot));
        assert_eq!(ev("1.234.567"), MarkEvidence::Only(Comma));
        assert_eq!(ev("0.125"), MarkEvidence::Only(Dot));
        assert_eq!(ev("1234.567"), MarkEvidence::Only(Dot));
        assert_eq!(ev("1.234"), MarkEvidence::Ambiguous);
        assert_eq!(ev("-999,000"), MarkEvidence::Ambiguous);
    }

    #[test]
    fn the_mark_and_the_currency_decide_the_value() {
        use DecimalMark::*;
        assert_eq!(read("1.234", Comma), Ok(123_400));
        assert_eq!(
            read("1.234", Dot).unwrap_err(),
            "amount \"1.234\" has 3 decimal places; EUR has 2"
        );
        let kwd = Currency::from_code("KWD").unwrap();
        let jpy = Currency::from_code("JPY").unwrap();
        assert_eq!(
            AmountText::parse("0.125").unwrap().to_minor(Dot, kwd),
            Ok(125)
        );
        assert_eq!(
            AmountText::parse("1,234").unwrap().to_minor(Dot, jpy),
            Ok(1234)
        );
        assert!(AmountText::parse("12.5")
            .unwrap()
            .to_minor(Dot, jpy)
            .is_err());
        // Zeros past the currency's places are read, but not in three digits after the
        // mark (a group of thousands, were the mark decided wrongly).
        let usd = Currency::from_code("USD").unwrap();
        let minor = |s: &str, c| AmountText::parse(s).unwrap().to_minor(Dot, c);
        assert_eq!(minor("00000000000000.2400", usd), Ok(24));
        assert_eq!(minor("-00000000000000.9700", usd), Ok(-97));
        assert_eq!(minor("1500.00", jpy), Ok(1500));
        assert_eq!(minor("1500.0", jpy), Ok(1500));
        assert_eq!(read("12.3400", Dot), Ok(1234));
        assert!(read("12.3401", Dot)
            .unwrap_err()
            .contains("4 decimal places"));
        assert!(read("1.000", Dot).unwrap_err().contains("3 decimal places"));
        assert!(minor("1.000", jpy)
            .unwrap_err()
            .contains("3 decimal places"));
        // A statement format has no grouping marks: three digits are decimals too.
        let statement = |s: &str, c| AmountText::parse(s).unwrap().to_minor_ungrouped(Dot, c);
        assert_eq!(statement("8.850", eur()), Ok(885));
        assert_eq!(statement("1.000", jpy), Ok(1));
        assert!(statement("8.855", eur())
            .unwrap_err()
            .contains("3 decimal places"));
        assert!(read("1,234.56", Comma)
            .unwrap_err()
            .contains("decimal comma"));
        assert!(read("99999999999999999999", Dot)
            .unwrap_err()
            .contains("out of range"));
    }

    proptest::proptest! {
        /// Whatever the amount and the currency's decimals, what the project writes reads
        /// back to the same minor units, with either decimal mark.
        #[test]
        fn written_amounts_read_back(minor in -1_000_000_000_000_000i64..1_000_000_000_000_000, code in proptest::sample::select(vec!["JPY", "EUR", "KWD", "CLF"])) {
            let c = Currency::from_code(code).unwrap();
            let text = c.format_minor(minor);
            proptest::prop_assert_eq!(AmountText::parse(&text).unwrap().to_minor(DecimalMark::Dot, c), Ok(minor));
            let comma = text.replace('.', ",");
            proptest::prop_assert_eq!(AmountText::parse(&comma).unwrap().to_minor(DecimalMark::Comma, c), Ok(minor));
        }

        /// A sign and digits with marks read the same taken as they are as through every step.
        #[test]
        fn plain_numbers_read_as_the_marked_path_reads_them(t in "[-+]?[0-9.,]{1,12}") {
            proptest::prop_assert_eq!(AmountText::parse(&t), AmountText::parse_marked(&t, &t));
        }
    }
}
