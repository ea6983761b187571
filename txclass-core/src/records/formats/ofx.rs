//! OFX 1.x (SGML) and 2.x (XML) statements, QFX included: the `<STMTTRN>` entries of bank
//! and credit-card statements.
//!
//! Both versions are read as a sequence of tags, each followed by its text: SGML leaves
//! elements unclosed (`<TRNAMT>-12.34`), XML closes them (`<TRNAMT>-12.34</TRNAMT>`), and
//! either way a value is the text between a start tag and the next `<`.

use super::{line_at, unescape, ymd_prefix, Entry};
use crate::currency::DecimalMark;
use crate::records::FileError;

/// The entries of an OFX file, in order.
pub(super) fn entries(text: &str) -> Result<Vec<Entry>, FileError> {
    let start = text
        .find("<OFX>")
        .or_else(|| text.find("<OFX "))
        .ok_or_else(|| FileError::Malformed {
            line: 1,
            message: "not an OFX file: no <OFX> element".into(),
        })?;
    let mut out = Vec::new();
    let mut statement_currency: Option<String> = None;
    let mut current: Option<Entry> = None;
    // A `<CURRENCY><CURSYM>USD` aggregate inside an entry: its amount is in that currency,
    // not the statement's.
    let mut in_currency_aggregate = false;
    let mut pos = start;
    let mut line = line_at(text, start);
    let mut counted = start;
    while let Some(rel) = text[pos..].find('<') {
        let open = pos + rel;
        let Some(close_rel) = text[open..].find('>') else {
            break;
        };
        let close = open + close_rel;
        let tag = text[open + 1..close].trim();
        let (value, next) = value_at(text, close + 1);
        line += text[counted..open].matches('\n').count() as u64;
        counted = open;
        pos = next;

        let (closing, name) = match tag.strip_prefix('/') {
            Some(n) => (true, n.trim().to_ascii_uppercase()),
            None => (
                false,
                tag.split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_ascii_uppercase(),
            ),
        };
        if closing {
            match name.as_str() {
                "STMTTRN" => out.extend(current.take()),
                "CURRENCY" => in_currency_aggregate = false,
                _ => {}
            }
            continue;
        }
        match name.as_str() {
            "CURDEF" => statement_currency = Some(value),
            "STMTTRN" => {
                // SGML may leave the previous entry unclosed.
                out.extend(current.take());
                current = Some(Entry {
                    line,
                    currency: statement_currency.clone(),
                    ..Entry::default()
                });
            }
            "BANKTRANLIST" => {}
            _ => {
                let Some(e) = current.as_mut() else {
                    continue;
                };
                match name.as_str() {
                    "FITID" => e.id = Some(value),
                    "DTPOSTED" => match ymd_prefix(&value) {
                        Ok(d) => e.date = Some(d),
                        Err(m) => e.date_error = Some(m),
                    },
                    "TRNAMT" => {
                        // OFX allows a comma as the decimal mark and no grouping marks.
                        e.mark = Some(if value.contains(',') {
                            DecimalMark::Comma
                        } else {
                            DecimalMark::Dot
                        });
                        e.amount = Some(value);
                    }
                    "NAME" | "MEMO" => e.description.push(value),
                    "TRNTYPE" => e.rail = Some(value),
                    // With ORIGCURRENCY the amount stays in the statement's currency.
                    "CURRENCY" if value.is_empty() => in_currency_aggregate = true,
                    "CURSYM" if in_currency_aggregate => e.currency = Some(value),
                    _ => {}
                }
            }
        }
    }
    out.extend(current.take());
    Ok(out)
}

/// The text of the element whose start tag ends at `at`, and where the scan goes on: the
/// text up to the next tag, unescaped, or the content of a CDATA section that follows the
/// tag, as written (`<NAME><![CDATA[EFTPOS WDL HANDYWAY ALDI STORE]]></NAME>`, as an
/// Australian bank's export prints it).
fn value_at(text: &str, at: usize) -> (String, usize) {
    const CDATA: &str = "<![CDATA[";
    let rest = &text[at..];
    let lead = rest.len() - rest.trim_start().len();
    if let Some(body) = rest[lead..].strip_prefix(CDATA) {
        if let Some(end) = body.find("]]>") {
            let next = at + lead + CDATA.len() + end + "]]>".len();
            return (body[..end].trim().to_owned(), next);
        }
    }
    let end = rest.find('<').map_or(text.len(), |i| at + i);
    (unescape_ofx(text[at..end].trim()), at)
}

/// [`unescape`], twice where a reference was escaped again: some banks' exports write
/// `AT&amp;amp;T`, which unescaped once reads `AT&amp;T` (and the merchant `AT AMP T`). A
/// name that means the five characters `&amp;` is not one a statement prints.
fn unescape_ofx(raw: &str) -> String {
    let once = unescape(raw);
    let escaped_again = ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#"]
        .iter()
        .any(|r| once.contains(r));
    if once.len() < raw.len() && escaped_again {
        unescape(&once)
    } else {
        once
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SGML: &str = "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nCHARSET:1252\n\n<OFX>\n<BANKMSGSRSV1><STMTTRNRS><STMTRS>\n<CURDEF>USD\n<BANKTRANLIST>\n<STMTTRN>\n<TRNTYPE>DEBIT\n<DTPOSTED>20240315120000[-5:EST]\n<TRNAMT>-12.34\n<FITID>A1\n<NAME>STARBUCKS &amp; CO\n<MEMO>CARD 1234\n<STMTTRN>\n<TRNTYPE>CREDIT\n<DTPOSTED>2024031\n<TRNAMT>100.00\n<FITID>A2\n<NAME>PAYROLL\n</BANKTRANLIST>\n</STMTRS></STMTTRNRS></BANKMSGSRSV1>\n</OFX>\n";

    #[test]
    fn sgml_entries_without_end_tags() {
        let e = entries(SGML).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].line, 10);
        assert_eq!(e[0].amount.as_deref(), Some("-12.34"));
        assert_eq!(e[0].description, ["STARBUCKS & CO", "CARD 1234"]);
        assert_eq!(e[0].currency.as_deref(), Some("USD"));
        assert_eq!(e[0].rail.as_deref(), Some("DEBIT"));
        assert_eq!(e[1].line, 17);
        assert!(e[1].date_error.is_some());
    }

    #[test]
    fn xml_entries_with_end_tags_and_an_entry_currency() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<?OFX OFXHEADER="200" VERSION="220" SECURITY="NONE" OLDFILEUID="NONE" NEWFILEUID="NONE"?>
<OFX><CREDITCARDMSGSRSV1><CCSTMTTRNRS><CCSTMTRS><CURDEF>GBP</CURDEF>
<BANKTRANLIST>
<STMTTRN><TRNTYPE>DEBIT</TRNTYPE><DTPOSTED>20240301</DTPOSTED><TRNAMT>-20,00</TRNAMT>
<FITID>X1</FITID><NAME>HOTEL PARIS</NAME><CURRENCY><CURRATE>1.17</CURRATE><CURSYM>EUR</CURSYM></CURRENCY></STMTTRN>
<STMTTRN><TRNTYPE>DEBIT</TRNTYPE><DTPOSTED>20240302</DTPOSTED><TRNAMT>-3.10</TRNAMT><FITID>X2</FITID><NAME>TFL</NAME><MEMO/></STMTTRN>
</BANKTRANLIST></CCSTMTRS></CCSTMTTRNRS></CREDITCARDMSGSRSV1></OFX>"#;
        let e = entries(xml).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].line, 5);
        assert_eq!(
            (e[0].amount.as_deref(), e[0].mark, e[0].currency.as_deref()),
            (Some("-20,00"), Some(DecimalMark::Comma), Some("EUR"))
        );
        assert_eq!(e[1].currency.as_deref(), Some("GBP"));
        assert_eq!(e[1].description, ["TFL"]);
    }

    /// As an Australian bank's export prints its entries (ofxparse's `suncorp.ofx` fixture):
    /// the name and the memo in CDATA sections, which a reader of plain text saw as empty.
    #[test]
    fn cdata_sections_are_the_text_as_written() {
        let ofx = "<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>AUD</CURDEF><BANKTRANLIST>
          <STMTTRN>
            <TRNTYPE>DEBIT</TRNTYPE>
            <DTPOSTED>20131215</DTPOSTED>
            <TRNAMT>-16.85</TRNAMT>
            <FITID>1</FITID>
            <NAME><![CDATA[EFTPOS WDL HANDYWAY ALDI STORE  ]]></NAME>
            <MEMO><![CDATA[EFTPOS WDL HANDYWAY ALDI STORE   GEELONG WEST VICAU]]></MEMO>
          </STMTTRN>
          <STMTTRN><DTPOSTED>20131216</DTPOSTED><TRNAMT>-1.00</TRNAMT>
            <NAME><![CDATA[A <B> & C]]></NAME><MEMO>D &amp; E</MEMO></STMTTRN>
          <STMTTRN><DTPOSTED>20131217</DTPOSTED><TRNAMT>-45.00</TRNAMT>
            <NAME>AT&amp;amp;T MOBILITY</NAME><MEMO>O&amp;#39;NEILL &amp;amp; SONS</MEMO></STMTTRN>
        </BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>";
        let e = entries(ofx).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(
            e[0].description,
            [
                "EFTPOS WDL HANDYWAY ALDI STORE",
                "EFTPOS WDL HANDYWAY ALDI STORE   GEELONG WEST VICAU"
            ]
        );
        assert_eq!(e[0].amount.as_deref(), Some("-16.85"));
        assert_eq!((e[0].line, e[1].line), (2, 10));
        // Markup inside CDATA is text; outside it, entities are unescaped.
        assert_eq!(e[1].description, ["A <B> & C", "D & E"]);
        // References escaped twice, as some banks' exports write them, are read once.
        assert_eq!(e[2].description, ["AT&T MOBILITY", "O'NEILL & SONS"]);
    }

    #[test]
    fn not_ofx_is_refused() {
        assert!(matches!(
            entries("date,description\n"),
            Err(FileError::Malformed { line: 1, .. })
        ));
    }
}
