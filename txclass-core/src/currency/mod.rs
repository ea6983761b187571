//! ISO 4217 currencies and their minor units: the one table the project uses to turn a
//! written amount into integer minor units and back (`JPY 1234` is 1234 minor units, `KWD
//! 1.234` is 1234, `EUR 12.34` is 1234).
//!
//! ## Why a table, not "two decimals"
//!
//! Most currencies have two decimals, but the yen, the won or the CFA franc have none and the
//! Kuwaiti dinar has three. Reading `0.125` as 12.5 cents of a euro, or `1234` yen as 12.34,
//! silently changes money; every amount the project reads or prints goes through here.

use std::fmt;

pub(crate) mod amount;

pub use amount::DecimalMark;

/// An amount written with a decimal point, as a person types it (`-12.50`, `1,234.50`,
/// `(12.34)`, `EUR 5.00`, `12.34-`), in minor units of `currency`; refuses more decimals than
/// the currency has (`0.125` EUR). What the enrich API, `txclass explain --amount` and
/// `txclass rules test --amount` read amounts with.
pub fn amount_minor(text: &str, currency: Currency) -> Result<i64, String> {
    amount::AmountText::parse(text)?.to_minor(DecimalMark::Dot, currency)
}

/// An ISO 4217 currency: its code and how many decimal places its minor unit has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Currency {
    code: &'static str,
    minor_units: u8,
}

/// Active ISO 4217 codes whose minor unit is not 1/100 (the rest of [`CODES`] has two
/// decimals).
const NOT_TWO: &[(&str, u8)] = &[
    ("BHD", 3),
    ("BIF", 0),
    ("CLF", 4),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("IQD", 3),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("PYG", 0),
    ("RWF", 0),
    ("TND", 3),
    ("UGX", 0),
    ("UYI", 0),
    ("UYW", 4),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
];

/// Active ISO 4217 codes of money (not precious metals, test or "no currency" codes), sorted.
const CODES: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD",
    "CAD", "CDF", "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUP", "CVE",
    "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL",
    "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR",
    "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD",
    "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK",
    "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO",
    "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON",
    "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD",
    "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD",
    "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES", "VND", "VUV",
    "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
];

/// A code's letters as a base-26 number (`AAA` 0, `ZZZ` 17,575), if they are three ASCII
/// letters (either case).
const fn letters_index(b: &[u8]) -> Option<usize> {
    let mut at = 0;
    let mut i = 0;
    while i < 3 {
        let c = b[i].to_ascii_uppercase();
        if !c.is_ascii_uppercase() {
            return None;
        }
        at = at * 26 + (c - b'A') as usize;
        i += 1;
    }
    Some(at)
}

/// Each code's place in [`CODES`] plus one (0: no active currency), at its
/// [`letters_index`]: every row read and featurized asks for its currency, and a binary
/// search's branches go as the rows' currencies do (17.6 KB, filled when compiling).
static BY_LETTERS: [u8; 26 * 26 * 26] = {
    assert!(
        CODES.len() < u8::MAX as usize,
        "a place plus one fits a byte"
    );
    let mut out = [0; 26 * 26 * 26];
    let mut i = 0;
    while i < CODES.len() {
        if let Some(at) = letters_index(CODES[i].as_bytes()) {
            out[at] = i as u8 + 1;
        }
        i += 1;
    }
    out
};

/// The minor-unit places of each of [`CODES`], in the same order ([`NOT_TWO`], else 2).
const MINOR_UNITS: [u8; CODES.len()] = {
    let mut out = [2; CODES.len()];
    let mut i = 0;
    while i < NOT_TWO.len() {
        let (code, places) = NOT_TWO[i];
        let mut j = 0;
        while j < CODES.len() {
            if matches!(
                (letters_index(CODES[j].as_bytes()), letters_index(code.as_bytes())),
                (Some(p), Some(q)) if p == q
            ) {
                out[j] = places;
            }
            j += 1;
        }
        i += 1;
    }
    out
};

impl Currency {
    /// The currency of an ISO 4217 code (`"eur"` and `" EUR "` too), or `None` for a code
    /// that is not an active currency.
    pub fn from_code(code: &str) -> Option<Currency> {
        // A code of three bytes has no white space to trim (one with a space is no code either
        // way); `trim` reads Unicode's white space, a cost on every row.
        let code = if code.len() == 3 { code } else { code.trim() };
        let &[a, b, c] = code.as_bytes() else {
            return None;
        };
        let i = usize::from(BY_LETTERS[letters_index(&[a, b, c])?]).checked_sub(1)?;
        Some(Currency {
            code: CODES[i],
            minor_units: MINOR_UNITS[i],
        })
    }

    /// The three-letter code, upper case.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// Decimal places of the minor unit (JPY 0, EUR 2, KWD 3).
    pub fn minor_units(&self) -> u8 {
        self.minor_units
    }

    /// Minor units in one major unit (JPY 1, EUR 100, KWD 1000).
    pub fn scale(&self) -> i64 {
        10i64.pow(u32::from(self.minor_units))
    }

    /// Minor units as decimal text in major units: `-1234` is `"-12.34"` in EUR, `"-1234"`
    /// in JPY and `"-1.234"` in KWD.
    pub fn format_minor(&self, minor: i64) -> String {
        format_with(minor, self.minor_units)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

impl std::str::FromStr for Currency {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::from_code(s).ok_or_else(|| format!("{s:?} is not an ISO 4217 currency code"))
    }
}

/// Minor units of `code` as decimal text (two places for a code the table does not know).
pub fn format_minor(minor: i64, code: &str) -> String {
    format_with(
        minor,
        Currency::from_code(code).map_or(2, |c| c.minor_units),
    )
}

fn format_with(minor: i64, places: u8) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let a = minor.unsigned_abs();
    if places == 0 {
        return format!("{sign}{a}");
    }
    let scale = 10u64.pow(u32::from(places));
    format!(
        "{sign}{}.{:0width$}",
        a / scale,
        a % scale,
        width = places as usize
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_and_no_other_text_is_a_currency() {
        assert!(CODES.windows(2).all(|w| w[0] < w[1]), "sorted, once each");
        assert!(NOT_TWO.iter().all(|(c, _)| CODES.contains(c)));
        // Every code, in either case, has the places `NOT_TWO` gives it, else two.
        for code in CODES {
            let places = NOT_TWO.iter().find(|(c, _)| c == code).map_or(2, |p| p.1);
            for text in [code.to_string(), code.to_lowercase()] {
                let c = Currency::from_code(&text).unwrap();
                assert_eq!((c.code(), c.minor_units()), (*code, places), "{text}");
            }
        }
        // Every other three ASCII letters are none, and so are digits, signs and letters
        // beyond ASCII where a letter would be.
        let mut found = 0;
        for a in b'A'..=b'Z' {
            for b in b'A'..=b'Z' {
                for c in b'A'..=b'Z' {
                    let text = String::from_utf8(vec![a, b, c]).unwrap();
                    let known = CODES.contains(&text.as_str());
                    assert_eq!(Currency::from_code(&text).is_some(), known, "{text}");
                    found += usize::from(known);
                }
            }
        }
        assert_eq!(found, CODES.len());
        for text in [
            "EU1",
            "E R",
            "@UR",
            "[UR",
            "EU`",
            "EU{",
            "ÉU",
            "\u{0}\u{0}\u{0}",
        ] {
            assert_eq!(Currency::from_code(text), None, "{text:?}");
        }
    }

    #[test]
    fn minor_units_and_formatting() {
        let jpy = Currency::from_code("jpy").unwrap();
        let kwd = Currency::from_code(" KWD ").unwrap();
        let eur: Currency = "EUR".parse().unwrap();
        assert_eq!(
            (jpy.minor_units(), eur.minor_units(), kwd.minor_units()),
            (0, 2, 3)
        );
        assert_eq!(jpy.format_minor(-1234), "-1234");
        assert_eq!(eur.format_minor(-1234), "-12.34");
        assert_eq!(eur.format_minor(5), "0.05");
        assert_eq!(kwd.format_minor(125), "0.125");
        assert_eq!(format_minor(700, "???"), "7.00");
        assert_eq!(Currency::from_code("ABC"), None);
        assert_eq!(Currency::from_code("EURO"), None);
    }
}
