//! Fuzz targets of the core's readers: CSV, NDJSON, QIF, OFX, camt.053 and MT940 statements
//! (the last three: feature `formats`); the model file's is beside it (`classifier::model::fuzz`). Each runs for `TXCLASS_FUZZ_SECS` (default 2 s)
//! on mutations of the corpus the tests already use, and must never panic; a reader may
//! refuse its input, but only with an error. Regressions found this way live beside the
//! code they broke (`records::…::tests`, `classifier::model::tests`).

use proptest::test_runner::TestCaseResult;
use txclass_core::fuzz::{self, mutated};
use txclass_core::records::{self, DateOrder, DecimalMark, Format, ReadOptions};

/// The CLI's example files, by name.
macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../../txclass-cli/tests/fixtures/", $name)).to_vec()
    };
}

/// Reads every row of `bytes` as `format` under a few of the caller's decisions; errors are
/// fine, panics are not.
fn read_all(bytes: &[u8], format: Format, variant: u8) -> TestCaseResult {
    let mut options = ReadOptions::new(format);
    if variant & 1 == 1 {
        options.currency = Some("EUR".parse().expect("a currency"));
    }
    if variant & 2 == 2 {
        options.date_order = Some(DateOrder::Dmy);
        options.decimal = Some(DecimalMark::Comma);
    }
    options.require_label = variant & 4 == 4;
    if let Ok(rows) = records::open(bytes, &options) {
        for row in rows.take(100_000) {
            let _ = row;
        }
    }
    Ok(())
}

const CSV_TOKENS: &[&[u8]] = &[
    b",",
    b";",
    b"\t",
    b"|",
    b"\"",
    b"\"\"",
    b"\r\n",
    b"\n",
    b"date",
    b"amount",
    b"description",
    b"currency",
    b"category",
    b"id",
    b"debit",
    b"credit",
    b"-",
    b"1.234,56",
    b"1,234.56",
    b"12/31/2026",
    b"31/12/2026",
    b"2026-02-30",
    b"R$",
    b"EUR",
    b"USD",
    b"\xe9",
    b"\xef\xbb\xbf",
    b"(12.00)",
    b"1e9",
    b"99999999999999999999",
];

fn csv_seeds() -> Vec<Vec<u8>> {
    vec![
        fixture!("us.csv"),
        fixture!("uk.csv"),
        fixture!("fr.csv"),
        fixture!("br.csv"),
        fixture!("au.csv"),
        b"date,description,amount\n".to_vec(),
    ]
}

#[test]
fn fuzz_csv_reader() {
    fuzz::run(
        "csv",
        (mutated(csv_seeds(), CSV_TOKENS), 0u8..8),
        |(bytes, variant)| read_all(&bytes, Format::Csv, variant),
    );
}

const NDJSON_TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"\"",
    b":",
    b",",
    b"\n",
    b"null",
    b"true",
    b"[]",
    b"\"date\"",
    b"\"amount\"",
    b"\"description\"",
    b"\"currency\"",
    b"\"category\"",
    b"\"id\"",
    b"-0.0",
    b"1e308",
    b"\"10,00\"",
    b"\\u0000",
    b"\\ud800",
];

#[test]
fn fuzz_ndjson_reader() {
    let seeds = vec![
        b"{\"Date\":\"2026-01-02\",\"description\":\"UBER *TRIP\",\"amount\":-12.5}\n\n{bad}\n\
          {\"id\":\"t9\",\"date\":\"02/01/2026\",\"description\":\"PIX\",\"amount\":\"10,00\"}\n"
            .to_vec(),
        b"{\"id\":\"a\",\"date\":\"2026-03-01\",\"description\":\"Rent\",\"amount\":\"-1200.00\",\
          \"currency\":\"USD\",\"category\":\"housing\"}\n"
            .to_vec(),
        // A JSON array of objects, as many apps export `.json`.
        b"[\n  {\"date\":\"2026-01-02\",\"description\":\"UBER *TRIP\",\"amount\":-12.5},\n  7,\n\
          {\"memo\":\"PIX\",\"amount\":\"10,00\",\"date\":\"02/01/2026\"}\n]\n"
            .to_vec(),
    ];
    fuzz::run(
        "ndjson",
        (mutated(seeds, NDJSON_TOKENS), 0u8..8),
        |(bytes, variant)| read_all(&bytes, Format::Ndjson, variant),
    );
}

#[test]
fn fuzz_qif_reader() {
    let seeds = vec![
        b"!Account\nNChecking\nTBank\n^\n!Type:Bank\nD3/ 5'24\nT-1,234.56\nPREWE MARKT\n\
          MCard 1234\nLGroceries\n^\nD03/06/2024\nU-40.00\nNATM\nC*\n^\n"
            .to_vec(),
        b"!Type:CCard\r\nD13.03.2024\r\nT-9,99\r\nPNETFLIX.COM\r\nSEntertainment\r\n$-9,99\r\n\
          ^\r\n!Type:Invst\r\nD1/2/24\r\nNBuy\r\nYACME\r\n^\r\n"
            .to_vec(),
    ];
    fuzz::run(
        "qif",
        (mutated(seeds, QIF_TOKENS), 0u8..8),
        |(bytes, variant)| read_all(&bytes, Format::Qif, variant),
    );
}

const QIF_TOKENS: &[&[u8]] = &[
    b"\n",
    b"\r\n",
    b"^\n",
    b"!Type:Bank\n",
    b"!Type:Invst\n",
    b"!Account\n",
    b"!Type:Cat\n",
    b"D",
    b"T",
    b"U",
    b"P",
    b"M",
    b"N",
    b"'",
    b"/",
    b"1,234.56",
    b"12/31'26",
    b"31.12.2026",
    b"\xff\xfe",
];

#[cfg(feature = "formats")]
mod statements {
    use super::*;

    #[test]
    fn fuzz_ofx_reader() {
        const TOKENS: &[&[u8]] = &[
            b"<STMTTRN>",
            b"</STMTTRN>",
            b"<TRNAMT>",
            b"<DTPOSTED>",
            b"<NAME>",
            b"<MEMO>",
            b"<FITID>",
            b"<CURDEF>",
            b"<BANKTRANLIST>",
            b"OFXHEADER:100\r\n",
            b"<?xml version=\"1.0\"?>",
            b"<OFX>",
            b"&amp;",
            b"&#0;",
            b"20261231",
            b"20260230120000[-3:BRT]",
            b"-1e400",
            b"<",
            b">",
            b"\r\n",
        ];
        fuzz::run(
            "ofx",
            (mutated(vec![fixture!("statement.ofx")], TOKENS), 0u8..8),
            |(bytes, variant)| read_all(&bytes, Format::Ofx, variant),
        );
    }

    #[test]
    fn fuzz_camt053_reader() {
        const TOKENS: &[&[u8]] = &[
            b"<Ntry>",
            b"</Ntry>",
            b"<Amt Ccy=\"EUR\">",
            b"</Amt>",
            b"<CdtDbtInd>DBIT</CdtDbtInd>",
            b"<BookgDt><Dt>2026-02-30</Dt></BookgDt>",
            b"<Ustrd>",
            b"<AcctSvcrRef>",
            b"<![CDATA[",
            b"]]>",
            b"&lt;",
            b"&#xD800;",
            b"<!DOCTYPE x [<!ENTITY a \"b\">]>",
            b"xmlns=\"\"",
            b"<",
            b">",
            b"/>",
        ];
        fuzz::run(
            "camt053",
            (
                mutated(vec![fixture!("statement.camt053.xml")], TOKENS),
                0u8..8,
            ),
            |(bytes, variant)| read_all(&bytes, Format::Camt053, variant),
        );
    }

    #[test]
    fn fuzz_mt940_reader() {
        const TOKENS: &[&[u8]] = &[
            b":20:",
            b":25:",
            b":28C:",
            b":60F:",
            b":61:",
            b":86:",
            b":62F:",
            b"\r\n",
            b"\n",
            b"C",
            b"D",
            b"RC",
            b"RD",
            b"EUR",
            b"260231",
            b"0101",
            b"999999999999999,99",
            b",",
            b"NTRF",
            b"{4:",
            b"-}",
        ];
        fuzz::run(
            "mt940",
            (mutated(vec![fixture!("statement.sta")], TOKENS), 0u8..8),
            |(bytes, variant)| read_all(&bytes, Format::Mt940, variant),
        );
    }
}
