//! ISO 20022 camt.053 bank-to-customer statements (camt.052 reports and camt.054
//! notifications have the same entries and are read too), with `quick-xml`.
//!
//! One `<Ntry>` is one transaction: its `<Amt Ccy="…">`, `<CdtDbtInd>` (`DBIT` is money
//! out), booking date (`<BookgDt>`, else `<ValDt>`), the bank's reference, and as statement
//! text the counterparty's name, the unstructured remittance lines and the additional entry
//! information. A batch entry with several `<TxDtls>` stays one transaction of the entry's
//! total.

use quick_xml::events::Event;
use quick_xml::Reader;

use super::{kind_of_code, line_at, ymd_prefix, Entry};
use crate::currency::DecimalMark;
use crate::records::FileError;

/// The entries of a camt.053 document, in order.
pub(super) fn entries(text: &str) -> Result<Vec<Entry>, FileError> {
    let mut reader = Reader::from_str(text);
    let mut path: Vec<String> = Vec::new();
    let mut value = String::new();
    let mut out = Vec::new();
    let mut current: Option<Entry> = None;
    let mut statement_currency: Option<String> = None;
    let mut is_statement = false;
    // Counterparty: the creditor when money goes out, the debtor when it comes in; else the
    // ultimate creditor or debtor (the party on whose behalf it moved).
    let (mut creditor, mut debtor) = (None::<String>, None::<String>);
    let (mut ultimate_creditor, mut ultimate_debtor) = (None::<String>, None::<String>);
    loop {
        let before = reader.buffer_position() as usize;
        let event = reader.read_event().map_err(|e| FileError::Malformed {
            line: line_at(text, reader.error_position() as usize),
            message: format!("not a well-formed camt.053 document: {e}"),
        })?;
        match event {
            Event::Start(e) => {
                let name = e.local_name().into_inner().to_owned();
                value.clear();
                match name.as_str() {
                    "BkToCstmrStmt" | "BkToCstmrAcctRpt" | "BkToCstmrDbtCdtNtfctn" => {
                        is_statement = true
                    }
                    "Ntry" => {
                        current = Some(Entry {
                            line: line_at(text, before),
                            currency: statement_currency.clone(),
                            mark: Some(DecimalMark::Dot),
                            ..Entry::default()
                        });
                        creditor = None;
                        debtor = None;
                        ultimate_creditor = None;
                        ultimate_debtor = None;
                    }
                    "Amt" if path.last().is_some_and(|p| p == "Ntry") => {
                        if let Some(entry) = current.as_mut() {
                            if let Ok(Some(a)) = e.try_get_attribute("Ccy") {
                                entry.currency = Some(a.value.trim().to_owned());
                            }
                        }
                    }
                    _ => {}
                }
                path.push(name);
            }
            Event::Text(t) => value.push_str(&t.xml10_content()),
            Event::CData(t) => value.push_str(&t),
            Event::GeneralRef(r) => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    value.push(c);
                } else if let Some(s) =
                    quick_xml::escape::resolve_predefined_entity(&r.xml10_content())
                {
                    value.push_str(s);
                }
            }
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                let v = std::mem::take(&mut value).trim().to_owned();
                let parent = |n: usize| path.iter().rev().nth(n).map(String::as_str);
                if name == "Ccy" && parent(0) == Some("Acct") && current.is_none() {
                    statement_currency = Some(v);
                    continue;
                }
                if name == "Ntry" {
                    if let Some(mut entry) = current.take() {
                        let party = match entry.debit {
                            Some(true) => creditor.take().or(ultimate_creditor.take()),
                            _ => debtor.take().or(ultimate_debtor.take()),
                        };
                        if let Some(p) = party {
                            entry.description.insert(0, p);
                        }
                        out.push(entry);
                    }
                    continue;
                }
                let Some(entry) = current.as_mut() else {
                    continue;
                };
                match (name.as_str(), parent(0), parent(1)) {
                    ("Amt", Some("Ntry"), _) => entry.amount = Some(v),
                    ("CdtDbtInd", Some("Ntry"), _) => {
                        entry.debit = match v.as_str() {
                            "DBIT" => Some(true),
                            "CRDT" => Some(false),
                            _ => None,
                        }
                    }
                    ("Dt" | "DtTm", Some("BookgDt"), _) => match ymd_prefix(&v) {
                        Ok(d) => entry.date = Some(d),
                        Err(m) => entry.date_error = Some(m),
                    },
                    ("Dt" | "DtTm", Some("ValDt"), _) if entry.date.is_none() => {
                        if let Ok(d) = ymd_prefix(&v) {
                            entry.date = Some(d);
                            entry.date_error = None;
                        }
                    }
                    // The bank transaction code: its sub-family says more than its family;
                    // German banks' proprietary code starts with the SWIFT type (`NDDT+105`).
                    ("SubFmlyCd", Some("Fmly"), _) | ("Cd", Some("Fmly"), Some("Domn")) => {
                        if let Some(kind) = kind_of_code(&v) {
                            if name == "SubFmlyCd" || entry.rail.is_none() {
                                entry.rail = Some(kind.to_owned());
                            }
                        }
                    }
                    ("Cd", Some("Prtry"), Some("BkTxCd")) if entry.rail.is_none() => {
                        let swift = v.strip_prefix('N').and_then(|c| c.get(..3));
                        entry.rail = swift.and_then(kind_of_code).map(str::to_owned);
                    }
                    ("AcctSvcrRef", Some("Ntry"), _) => entry.id = Some(v),
                    ("NtryRef", Some("Ntry"), _) if entry.id.is_none() => entry.id = Some(v),
                    ("AddtlNtryInf", _, _) | ("AddtlTxInf", _, _) => entry.description.push(v),
                    ("Ustrd", Some("RmtInf"), _) => entry.description.push(v),
                    ("Nm", _, _) => {
                        // `Cdtr/Nm` (camt.053.001.02) or `Cdtr/Pty/Nm` (.08 and later).
                        let role = path.iter().rev().find(|p| {
                            matches!(p.as_str(), "Cdtr" | "Dbtr" | "UltmtCdtr" | "UltmtDbtr")
                        });
                        let slot = match role.map(String::as_str) {
                            Some("Cdtr") => &mut creditor,
                            Some("Dbtr") => &mut debtor,
                            Some("UltmtCdtr") => &mut ultimate_creditor,
                            Some("UltmtDbtr") => &mut ultimate_debtor,
                            _ => continue,
                        };
                        if slot.is_none() {
                            *slot = Some(v);
                        }
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !is_statement {
        return Err(FileError::Malformed {
            line: 1,
            message: "not a camt.053 statement: no BkToCstmrStmt element".into(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_with_counterparty_and_remittance() {
        let xml = r#"<?xml version="1.0"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
<BkToCstmrStmt><Stmt><Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct>
<Ntry>
  <Amt Ccy="EUR">12.34</Amt><CdtDbtInd>DBIT</CdtDbtInd>
  <BookgDt><Dt>2024-03-15</Dt></BookgDt><AcctSvcrRef>REF1</AcctSvcrRef>
  <NtryDtls><TxDtls><RltdPties><Cdtr><Nm>REWE Markt &amp; Co</Nm></Cdtr></RltdPties>
  <RmtInf><Ustrd>KARTE 1234</Ustrd></RmtInf></TxDtls></NtryDtls>
</Ntry>
<Ntry><Amt Ccy="EUR">x</Amt><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><DtTm>2024-03-16T10:00:00</DtTm></BookgDt></Ntry>
</Stmt></BkToCstmrStmt></Document>"#;
        let e = entries(xml).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].line, 4);
        assert_eq!(e[0].description, ["REWE Markt & Co", "KARTE 1234"]);
        assert_eq!((e[0].debit, e[0].id.as_deref()), (Some(true), Some("REF1")));
        assert_eq!(e[1].line, 10);
        assert_eq!(e[1].date.unwrap().to_string(), "2024-03-16");
    }

    /// As genkgo/camt's `camt053.v2.minimal.ultimate.xml`: an entry whose only counterparty
    /// is the ultimate debtor, which a reader of debtors and creditors found empty.
    #[test]
    fn the_ultimate_party_names_an_entry_without_its_direct_one() {
        let xml = r#"<Document><BkToCstmrStmt><Stmt>
<Ntry><Amt Ccy="EUR">8.85</Amt><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2014-12-31</Dt></BookgDt>
  <NtryDtls><TxDtls><RltdPties><UltmtDbtr><Nm>DEBTOR NAME NM</Nm></UltmtDbtr>
  <UltmtCdtr><Nm>CREDITOR NAME NM</Nm></UltmtCdtr></RltdPties></TxDtls></NtryDtls></Ntry>
<Ntry><Amt Ccy="EUR">1.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><BookgDt><Dt>2015-01-02</Dt></BookgDt>
  <NtryDtls><TxDtls><RltdPties><UltmtCdtr><Nm>ON BEHALF OF</Nm></UltmtCdtr>
  <Cdtr><Nm>PAYMENT SERVICE</Nm></Cdtr></RltdPties></TxDtls></NtryDtls></Ntry>
</Stmt></BkToCstmrStmt></Document>"#;
        let e = entries(xml).unwrap();
        assert_eq!(e[0].description, ["DEBTOR NAME NM"]);
        assert_eq!(e[1].description, ["PAYMENT SERVICE"]);
    }

    /// The bank transaction code names a direct debit, a charge or a cash withdrawal (its
    /// sub-family over its family; a German bank's proprietary `NDDT+105` by its SWIFT
    /// type); a transfer or a card payment names nothing.
    #[test]
    fn the_bank_transaction_code_names_the_payment_type() {
        let entry = |code: &str| {
            format!(
                r#"<Ntry><Amt Ccy="EUR">9.99</Amt><CdtDbtInd>DBIT</CdtDbtInd><BookgDt><Dt>2024-03-01</Dt></BookgDt>
<BkTxCd>{code}</BkTxCd><NtryDtls><TxDtls><RltdPties><Cdtr><Nm>X</Nm></Cdtr></RltdPties></TxDtls></NtryDtls></Ntry>"#
            )
        };
        let iso = |family: &str, sub: &str| {
            format!("<Domn><Cd>PMNT</Cd><Fmly><Cd>{family}</Cd><SubFmlyCd>{sub}</SubFmlyCd></Fmly></Domn>")
        };
        let codes = [
            iso("IDDT", "ESDD"),
            iso("IDDT", "OTHR"),
            iso("CCRD", "CWDL"),
            iso("ICDT", "STDO"),
            iso("ICDT", "ESCT"),
            iso("CCRD", "POSD"),
            iso("RCDT", "CHRG"),
            "<Prtry><Cd>NDDT+105+0000+000</Cd><Issr>DK</Issr></Prtry>".into(),
            "<Prtry><Cd>NTRF+166+0000+000</Cd></Prtry>".into(),
        ];
        let xml = format!(
            "<Document><BkToCstmrStmt><Stmt>{}</Stmt></BkToCstmrStmt></Document>",
            codes.iter().map(|c| entry(c)).collect::<String>()
        );
        let rails: Vec<_> = entries(&xml).unwrap().into_iter().map(|e| e.rail).collect();
        let want = [
            Some("direct debit"),
            Some("direct debit"),
            Some("atm"),
            Some("standing order"),
            None,
            None,
            Some("charges"),
            Some("direct debit"),
            None,
        ];
        assert_eq!(rails, want.map(|w| w.map(str::to_owned)));
    }
}
