//! SWIFT MT940 customer statements: `:61:` statement lines with the `:86:` information that
//! follows them, in the currency of the statement's opening balance (`:60F:`/`:60M:`). MT942
//! interim reports have the same lines and no balance: their floor limit (`:34F:`) names the
//! currency.
//!
//! A field starts on a line beginning `:NN:` or `:NNa:` and runs on over the lines that do
//! not; SWIFT block wrappers (`{1:…}{2:…}{4:` … `-}`) are skipped. German banks structure
//! `:86:` in `?NN` subfields; then the remittance (`?20`–`?29`, `?60`–`?63`) and the
//! counterparty's name (`?32`, `?33`) are the statement text.

use chrono::{Datelike, NaiveDate};

use super::{kind_of_code, Entry};
use crate::currency::DecimalMark;
use crate::records::FileError;

/// The entries of an MT940 file, in order.
pub(super) fn entries(text: &str) -> Result<Vec<Entry>, FileError> {
    let mut fields: Vec<(u64, String, String)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i as u64 + 1;
        let mut l = raw.trim_end_matches('\r');
        // `{1:F01…}{2:…}{4:` opens the text block; `-}` closes it.
        if let Some(at) = l.find("{4:") {
            l = &l[at + 3..];
        }
        if l.trim() == "-}" || l.trim() == "-" || l.starts_with("{5:") {
            continue;
        }
        match tag_of(l) {
            Some((tag, rest)) => fields.push((line, tag.to_owned(), rest.to_owned())),
            None => {
                if let Some((_, _, value)) = fields.last_mut() {
                    value.push('\n');
                    value.push_str(l);
                }
            }
        }
    }
    if !fields.iter().any(|(_, t, _)| t == "20" || t == "61") {
        return Err(FileError::Malformed {
            line: 1,
            message: "not an MT940 statement: no :20: or :61: field".into(),
        });
    }
    let mut out: Vec<Entry> = Vec::new();
    let mut currency: Option<String> = None;
    let mut last_was_61 = false;
    for (line, tag, value) in fields {
        match tag.as_str() {
            "60F" | "60M" => {
                // D/C mark, YYMMDD, currency, amount: `C240301EUR1234,56`.
                currency = value.get(7..10).map(str::to_owned);
                last_was_61 = false;
            }
            "34F" => {
                // Currency, optional D/C mark, amount: `EURD0,00`, `PLN0`.
                let code = value
                    .get(..3)
                    .filter(|c| c.bytes().all(|b| b.is_ascii_uppercase()));
                if let Some(code) = code {
                    currency = Some(code.to_owned());
                }
                last_was_61 = false;
            }
            "61" => {
                out.push(statement_line(line, &value, currency.clone()));
                last_was_61 = true;
            }
            "86" if last_was_61 => {
                if let Some(e) = out.last_mut() {
                    let (booking, text) = information(&value);
                    e.description.insert(0, text);
                    // The bank's own words for the type say more than the SWIFT code (a
                    // card payment may come as `NDDT`); a card payment's words are left
                    // out, as for a type column (`crate::records::rail_phrase`).
                    if let Some(booking) = booking {
                        e.rail = None;
                        if !names_a_card_payment(&booking) {
                            e.description.insert(0, booking);
                        }
                    }
                }
                last_was_61 = false;
            }
            _ => last_was_61 = false,
        }
    }
    Ok(out)
}

/// The tags of MT940 statements and MT942 interim reports.
const TAGS: &[&str] = &[
    "13", "13D", "20", "21", "25", "25P", "28", "28C", "34F", "60F", "60M", "61", "62F", "62M",
    "64", "65", "86", "90C", "90D",
];

/// `:61:` or `:28C:` at the start of a line: the tag and the rest. Only the tags of MT940
/// and MT942 start a field: a wrapped line of text that starts like one (`:26:37`, the rest
/// of a time `16:26:37`) goes on with the field before it.
fn tag_of(l: &str) -> Option<(&str, &str)> {
    let rest = l.strip_prefix(':')?;
    let end = rest.find(':')?;
    let tag = &rest[..end];
    TAGS.contains(&tag).then(|| (tag, &rest[end + 1..]))
}

/// A `:61:` statement line:
/// `YYMMDD[MMDD](C|D|RC|RD)[funds code]amount(N|F|S)xxx customer-ref[//bank-ref][\ndetails]`.
fn statement_line(line: u64, value: &str, currency: Option<String>) -> Entry {
    let mut entry = Entry {
        line,
        currency,
        mark: Some(DecimalMark::Comma),
        ..Entry::default()
    };
    let (first, details) = value.split_once('\n').unwrap_or((value, ""));
    let b = first.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        first
            .get(r)
            .filter(|s| s.bytes().all(|c| c.is_ascii_digit()))?
            .parse()
            .ok()
    };
    let value_date = match (digits(0..2), digits(2..4), digits(4..6)) {
        (Some(y), Some(m), Some(d)) => date_of(2000 + y as i32, m, d),
        _ => None,
    };
    let Some(value_date) = value_date else {
        entry.date_error = Some(format!(
            "statement line {first:?} does not start with a YYMMDD date"
        ));
        return entry;
    };
    let mut i = 6;
    // The optional booking date, MMDD, in the value date's year or the one next to it.
    entry.date = Some(value_date);
    if let (Some(m), Some(d)) = (digits(6..8), digits(8..10)) {
        let year = match (value_date.month() as i32) - (m as i32) {
            diff if diff > 6 => value_date.year() + 1,
            diff if diff < -6 => value_date.year() - 1,
            _ => value_date.year(),
        };
        if let Some(booked) = date_of(year, m, d) {
            entry.date = Some(booked);
        }
        i = 10;
    }
    let mark_len = match (b.get(i), b.get(i + 1)) {
        (Some(b'R'), Some(b'C' | b'D')) => 2,
        (Some(b'C' | b'D'), _) => 1,
        _ => {
            entry.date = None;
            entry.date_error = Some(format!("statement line {first:?} has no C/D mark"));
            return entry;
        }
    };
    // RC (reversal of a credit) takes money out; RD (reversal of a debit) brings it back.
    entry.debit = Some(matches!(&first[i..i + mark_len], "D" | "RC"));
    i += mark_len;
    if b.get(i).is_some_and(|c| c.is_ascii_alphabetic()) {
        i += 1; // funds code: the third letter of the currency
    }
    let amount_len = first[i..]
        .find(|c: char| !(c.is_ascii_digit() || c == ','))
        .unwrap_or(first.len() - i);
    entry.amount = Some(first[i..i + amount_len].to_owned());
    i += amount_len;
    // Transaction type (N/F/S + 3 characters), then references.
    entry.rail = first
        .get(i + 1..i + 4)
        .and_then(kind_of_code)
        .map(str::to_owned);
    let refs = first.get(i + 4..).unwrap_or("");
    let (customer, bank) = refs.split_once("//").unwrap_or((refs, ""));
    let bank = bank.trim();
    let customer = customer.trim();
    entry.id = if !bank.is_empty() {
        Some(bank.to_owned())
    } else if !customer.is_empty() && customer != "NONREF" {
        Some(customer.to_owned())
    } else {
        None
    };
    let details = details.trim();
    if !details.is_empty() {
        entry.description.push(details.to_owned());
    }
    entry
}

/// The date `year`-`m`-`d`, where February 29 and 30 of any year are the month's last day:
/// banks that count every month as 30 days date interest and fees so (`:61:1602300301DR6,00`
/// of a German savings bank's statement).
fn date_of(year: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, m, d).or_else(|| {
        let end_of_february = NaiveDate::from_ymd_opt(year, 3, 1)?.pred_opt();
        end_of_february.filter(|_| m == 2 && (29..=30).contains(&d))
    })
}

/// `:86:` as statement text, and the booking text of a structured field (`?00`: the bank's
/// words for the type, `LASTSCHRIFT`, `ENTGELTABSCHLUSS`, `LOHN/GEHALT`, as the corpus's
/// German lines print them) when it has words. The text of a structured field is its
/// remittance (`?20`–`?29`, `?60`–`?63`; [`sepa_remittance`]) and the counterparty's name
/// (`?32`, `?33`); of a free one, its lines joined by spaces.
fn information(value: &str) -> (Option<String>, String) {
    let flat: String = value.lines().collect::<Vec<_>>().join("");
    if !(flat.contains("?20") || flat.contains("?32")) {
        let text = value.lines().map(str::trim).collect::<Vec<_>>().join(" ");
        return (None, text);
    }
    let (mut booking, mut remittance, mut names) = (None, Vec::new(), Vec::new());
    for sub in flat.split('?').skip(1) {
        // The code is two characters (digits when valid), whatever bytes they take.
        let cut = sub.char_indices().nth(2).map_or(sub.len(), |(i, _)| i);
        let (code, raw) = sub.split_at(cut);
        let text = raw.trim();
        match code.parse::<u32>() {
            // Some banks print a code there (`0000/661`): words only.
            Ok(0) if text.bytes().filter(u8::is_ascii_alphabetic).count() >= 3 => {
                booking = Some(text.to_owned())
            }
            Ok(20..=29 | 60..=63) => remittance.push(raw),
            Ok(32 | 33) => names.push(text),
            _ => {}
        }
    }
    // Banks fill a remittance subfield to its 27 characters and go on in the next, in the
    // middle of a word or a key (`… S?25VWZ+ SPOTIFY`): a full one runs on without a space.
    let mut joined = String::new();
    for (j, part) in remittance.iter().enumerate() {
        let full = j > 0 && remittance[j - 1].chars().count() >= 27;
        if !full {
            joined.push(' ');
        }
        joined.push_str(part);
    }
    let remittance = joined.split_whitespace().collect::<Vec<_>>().join(" ");
    let names = names.join(" ");
    let mut text = sepa_remittance(&remittance);
    // A line of references only keeps them rather than lose its text (its booking text may
    // be a card payment's, which is left out).
    if text.is_empty() && names.trim().is_empty() {
        text = remittance;
    }
    let text = [text.as_str(), names.as_str()]
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (booking, text)
}

/// Whether a booking text (`?00`) names a card payment (`KARTENZAHLUNG`, `EC-KARTE`,
/// `GIROCARD`, `DEBITK.ZAHLUNG`, `POS`).
fn names_a_card_payment(booking: &str) -> bool {
    let b = booking.to_uppercase();
    ["KARTENZAHL", "EC-KARTE", "EC KARTE", "GIROCARD", "DEBITK"]
        .iter()
        .any(|w| b.contains(w))
        || b.split_whitespace().next() == Some("POS")
}

/// A SEPA remittance as German banks structure it (`EREF+…`, `MREF+…`, `CRED+…`,
/// `SVWZ+…`) reduced to what a person reads: the purpose (`SVWZ+`), the names of the parties
/// on whose behalf it was paid (`ABWA+`, `ABWE+`) and any text before the first key. The
/// end-to-end, mandate and creditor references, IBAN and BIC are ids, nothing a model can
/// learn a category from. Text with no key is returned as it is.
fn sepa_remittance(text: &str) -> String {
    const KEYS: [(&str, bool); 13] = [
        ("EREF+", false),
        ("KREF+", false),
        ("MREF+", false),
        ("CRED+", false),
        ("DEBT+", false),
        ("IBAN+", false),
        ("BIC+", false),
        ("COAM+", false),
        ("OAMT+", false),
        ("PURP+", false),
        ("SVWZ+", true),
        ("ABWA+", true),
        ("ABWE+", true),
    ];
    let mut marks: Vec<(usize, usize, bool)> = KEYS
        .iter()
        .flat_map(|&(key, keep)| {
            text.match_indices(key)
                .filter(|&(at, _)| at == 0 || !text.as_bytes()[at - 1].is_ascii_alphanumeric())
                .map(move |(at, _)| (at, at + key.len(), keep))
        })
        .collect();
    marks.sort_unstable();
    let Some(&(start, _, _)) = marks.first() else {
        return text.to_owned();
    };
    let mut parts = vec![text[..start].trim()];
    for (j, &(_, from, keep)) in marks.iter().enumerate() {
        let to = marks.get(j + 1).map_or(text.len(), |m| m.0);
        if keep {
            parts.push(text[from..to].trim());
        }
    }
    parts.retain(|p| !p.is_empty());
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by `fuzz_mt940_reader`: byte offsets inside a two-byte character panicked.
    #[test]
    fn multibyte_characters_in_tags_and_subfield_codes_are_not_split() {
        assert_eq!(tag_of(":1²:x"), None);
        assert_eq!(tag_of(":61:x"), Some(("61", "x")));
        assert_eq!(tag_of(":28C:1/1"), Some(("28C", "1/1")));
        assert_eq!(tag_of(":26:37 Fo?25lgenr."), None);
        assert_eq!(information("?20REWE?3²Markt"), (None, "REWE".into()));
        assert_eq!(information("?2²x?20ok"), (None, "ok".into()));
    }

    #[test]
    fn statement_lines_with_information() {
        let sta = "{1:F01BANKDEFFXXXX0000000000}{2:O9401200240301BANKDEFFXXXX00000000002403011200N}{4:\n:20:STARTUMS\n:25:10020030/1234567\n:28C:1/1\n:60F:C240301EUR1000,00\n:61:2403010301DR12,34NDDTNONREF//B1\n:86:105?00LASTSCHRIFT?20EREF+123?21SVWZ+STROM MAERZ?32STADTWERKE\n?33MUENCHEN\n:61:240302CR2500,NTRFNONREF\n:86:GEHALT MAERZ\nACME GMBH\n:61:2403XX\n:62F:C240302EUR3487,66\n-}\n";
        let e = entries(sta).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].line, 6);
        assert_eq!(e[0].amount.as_deref(), Some("12,34"));
        assert_eq!((e[0].debit, e[0].id.as_deref()), (Some(true), Some("B1")));
        assert_eq!(e[0].currency.as_deref(), Some("EUR"));
        assert_eq!(
            e[0].description,
            ["LASTSCHRIFT", "STROM MAERZ STADTWERKE MUENCHEN"]
        );
        // The booking text names the type: the SWIFT code (`NDDT`) adds nothing.
        assert_eq!(e[0].rail, None);
        assert_eq!((e[1].debit, e[1].id.as_deref()), (Some(false), None));
        assert_eq!(e[1].description, ["GEHALT MAERZ ACME GMBH"]);
        assert_eq!(e[1].date.unwrap().to_string(), "2024-03-02");
        assert!(e[2].date_error.is_some());
    }

    /// Real files of the Python `mt940` library's tests: a German savings bank dating a fee
    /// February 30 (`self-provided/february_30.sta`), and an MT942 interim report whose only
    /// currency is its floor limit (`mBank/mt942.sta`).
    #[test]
    fn february_30_and_the_currency_of_an_interim_report() {
        let sta = ":20:STARTUMSE\n:25:12345678/1020304050\n:28C:00000/001\n:60F:C160229EUR1200,00\n:61:1602300301DR6,00N024NONREF\n:86:805?00ENTGELTABSCHLUSS?106666?20Pauschalen?3012345678?1122334\n45566\n:61:1502290301DR1,00N024NONREF\n:61:1602310301DR1,00N024NONREF\n:62F:C160301EUR1194,00\n-\n";
        let e = entries(sta).unwrap();
        let dates: Vec<_> = e.iter().map(|e| e.date.map(|d| d.to_string())).collect();
        // The value date 2016-02-30 is the 29th, and the booking date, March 1, is the date.
        assert_eq!(dates[0].as_deref(), Some("2016-03-01"));
        assert_eq!(e[0].description, ["ENTGELTABSCHLUSS", "Pauschalen"]);
        assert_eq!(date_of(2016, 2, 30).unwrap().to_string(), "2016-02-29");
        assert_eq!(date_of(2015, 2, 29).unwrap().to_string(), "2015-02-28");
        assert_eq!(dates[1].as_deref(), Some("2015-03-01"));
        // February 31 is no date a bank prints.
        assert!(e[2].date_error.is_some());
        let mt942 = ":20:ST170119CYC/0001\n:25:PL29114010810000267002001002\n:28C:1/1\n:34F:PLN0\n:13D:1701191815+0100\n:61:1701190119CN0,01NTRFNONREF//MB170119012058\n911-TRANSAKCJA IPH\n:86:911 TRANSAKCJA COLLECT; OD: JAN NOWAK\n";
        let e = entries(mt942).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].currency.as_deref(), Some("PLN"));
        assert_eq!(e[0].amount.as_deref(), Some("0,01"));
        assert_eq!(e[0].debit, Some(false));
        // A time wrapped after its hour (`wrapped_timestamp.sta`) stays in the text.
        let sta = ":20:STARTUMSE\n:60F:C160229EUR1200,00\n:61:1602300301DR6,00N024NONREF\n:86:106?000000/661?20EREF+VZ0000?24/PL 12-09-2014T16\n:26:37 Fo?25lgenr. 007\n:62F:C160301EUR1194,00\n-\n";
        let e = entries(sta).unwrap();
        assert_eq!(
            e[0].description,
            ["EREF+VZ0000 /PL 12-09-2014T16:26:37 Fo lgenr. 007"]
        );
    }

    /// A German bank's direct debit as its `:86:` structures it: the booking text first, the
    /// purpose and the creditor's name; the end-to-end, mandate and creditor references left
    /// out. A line with free text takes the words of its SWIFT type (`NDDT`) instead; a card
    /// payment takes neither. A full
    /// subfield runs on into the next (the Python `mt940` library's `gv_codes.sta`).
    #[test]
    fn booking_text_and_purpose_without_the_sepa_references() {
        let (booking, text) = information("835?20Cie., S.C.A.?21SEPA-BASISLASTSCHRIFT?22EREF+ 1234567890123 PAYPAL?23MREF+ 12AB234CD6E7F CRED+ A?24B12CDE0000000000000000034 S?25VWZ+ . SPOTIFY, Ihr Einkauf?26bei SPOTIFY?32PayPal (Europe) S.a.r.l. et");
        assert_eq!(booking, None);
        assert_eq!(
            text,
            "Cie., S.C.A. SEPA-BASISLASTSCHRIFT . SPOTIFY, Ihr Einkaufbei SPOTIFY PayPal (Europe) S.a.r.l. et"
        );
        let sta = ":20:STARTUMSE\n:60F:C240301EUR1000,00\n:61:2403040304DR58,00N005NONREF\n:86:105?00FOLGELASTSCHRIFT?20EREF+RG-2024-03-001?21MREF+M-998877?22CRED+DE98ZZZ09999999999?23SVWZ+Strom Abschlag Maerz?24 2024 ABWA+Stadtwerke Service?32STADTWERKE MUENCHEN\n:61:2403050305DR39,99NDDTNONREF\n:86:VODAFONE GMBH RECHNUNG 4711\n:61:2403060306DR10,00NMSCNONREF\n:86:?20EREF+X1?21MREF+Y2\n:61:2403070307DR4,20NDDTNONREF\n:86:106?00KARTENZAHLUNG?20BAECKEREI MUELLER\n:62F:C240306EUR892,01\n-\n";
        let e = entries(sta).unwrap();
        assert_eq!(
            e[0].description,
            [
                "FOLGELASTSCHRIFT",
                "Strom Abschlag Maerz 2024 Stadtwerke Service STADTWERKE MUENCHEN"
            ]
        );
        assert_eq!(e[0].rail, None);
        assert_eq!(e[1].description, ["VODAFONE GMBH RECHNUNG 4711"]);
        assert_eq!(e[1].rail.as_deref(), Some("direct debit"));
        // References and nothing else: kept, rather than a line with no text.
        assert_eq!(e[2].description, ["EREF+X1 MREF+Y2"]);
        assert_eq!(e[2].rail, None);
        // A card payment's booking text is left out, and its `NDDT` with it.
        assert_eq!(e[3].description, ["BAECKEREI MUELLER"]);
        assert_eq!(e[3].rail, None);
        assert_eq!(sepa_remittance("no keys here"), "no keys here");
        assert_eq!(
            sepa_remittance("Miete SVWZ+Maerz XEREF+1"),
            "Miete Maerz XEREF+1"
        );
    }
}
