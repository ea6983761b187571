//! Real-shaped input files through `classify`, `train` and `eval`: bank CSV exports of five
//! countries, OFX, camt.053 and MT940 statements (`tests/fixtures/`), real statements of banks
//! in seven countries (`tests/fixtures/real/`), and the files the readers must refuse rather
//! than misread.

use std::path::PathBuf;

mod support;
use support::{csv_rows, stderr, txclass, write};

fn fixture(name: &str) -> String {
    let p: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "fixtures", name]
        .iter()
        .collect();
    p.to_str().unwrap().to_owned()
}

/// `classify` of a fixture to CSV: exit code, the output's rows (none when it wrote no
/// file), stderr.
fn classify_rows(name: &str, extra: &[&str]) -> (Option<i32>, Vec<csv::StringRecord>, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.csv");
    let input = fixture(name);
    let mut args = vec!["classify", input.as_str(), "-o", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = txclass(&args);
    let rows = if out.exists() {
        csv_rows(out.to_str().unwrap())
    } else {
        Vec::new()
    };
    (o.status.code(), rows, stderr(&o))
}

/// `classify` of a fixture to CSV: exit code, (date, amount, currency, description) per
/// row, stderr.
fn classify(name: &str, extra: &[&str]) -> (Option<i32>, Vec<[String; 4]>, String) {
    let (code, rows, err) = classify_rows(name, extra);
    let rows = rows
        .iter()
        .map(|r| [&r[1], &r[3], &r[4], &r[2]].map(str::to_owned))
        .collect();
    (code, rows, err)
}

fn dates_amounts(rows: &[[String; 4]]) -> Vec<(&str, &str, &str)> {
    rows.iter()
        .map(|r| (r[0].as_str(), r[1].as_str(), r[2].as_str()))
        .collect()
}

#[test]
fn australian_export_is_day_first_with_signed_amounts() {
    let (code, rows, err) = classify("au.csv", &["--currency", "AUD"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        dates_amounts(&rows),
        [
            ("2024-02-13", "-45.10", "AUD"),
            ("2024-02-01", "3000.00", "AUD"),
            ("2024-02-05", "-12.00", "AUD")
        ]
    );
    assert!(
        err.contains("dates DD/MM/YYYY (from line 2: \"13/02/2024\")"),
        "{err}"
    );
}

#[test]
fn uk_export_refuses_a_third_decimal_of_a_pound_and_exits_4() {
    let (code, rows, err) = classify("uk.csv", &["--currency", "GBP"]);
    assert_eq!(code, Some(4), "{err}");
    assert_eq!(
        dates_amounts(&rows),
        [
            ("2024-03-05", "-12.34", "GBP"),
            ("2024-03-25", "2000.00", "GBP")
        ]
    );
    assert_eq!(
        rows[0][3], "TESCO STORES 3217    ON 04 MAR",
        "Memo is the description"
    );
    assert!(
        err.contains("line 4: amount \"-1.234\" has 3 decimal places; GBP has 2"),
        "{err}"
    );
}

#[test]
fn french_export_with_semicolons_decimal_commas_and_debit_credit_columns() {
    let (code, rows, err) = classify("fr.csv", &["--currency", "EUR"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        dates_amounts(&rows),
        [
            ("2024-03-15", "-1234.56", "EUR"),
            ("2024-03-16", "2500.00", "EUR"),
            ("2024-03-02", "-45.10", "EUR")
        ]
    );
    assert!(err.contains("read "), "{err}");
    assert!(err.contains("`;`-separated"), "{err}");
    assert!(err.contains("decimal comma"), "{err}");
}

#[test]
fn us_export_is_month_first_with_dollar_signs_parentheses_and_trailing_minus() {
    let (code, rows, err) = classify("us.csv", &["--currency", "USD"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        dates_amounts(&rows),
        [
            ("2024-05-03", "-4.50", "USD"),
            ("2024-03-25", "1234.56", "USD"),
            ("2024-04-05", "-45.00", "USD")
        ]
    );
    assert!(err.contains("dates MM/DD/YYYY (from line 3"), "{err}");
}

#[test]
fn brazilian_latin1_export_with_thousands_dots() {
    let (code, rows, err) = classify("br.csv", &["--currency", "BRL"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        dates_amounts(&rows),
        [
            ("2024-01-02", "-1234.56", "BRL"),
            ("2024-01-15", "-12.50", "BRL"),
            ("2024-01-20", "5000.00", "BRL")
        ]
    );
    assert_eq!(rows[1][3], "COMPRA CARTAO PADARIA");
}

#[test]
fn ambiguous_files_are_refused_with_the_flag_that_decides_them() {
    let dir = tempfile::tempdir().unwrap();
    let dates = write(
        dir.path(),
        "dates.csv",
        "Date,Description,Amount\n05/03/2024,A,-1.00\n04/05/2015,B,-2.00\n",
    );
    let o = txclass(&["classify", &dates, "--currency", "USD", "--quiet"]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--date-format dmy or --date-format mdy"),
        "{}",
        stderr(&o)
    );
    let o = txclass(&[
        "classify",
        &dates,
        "--currency",
        "USD",
        "--date-format",
        "mdy",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("2024-05-03"));

    let amounts = write(
        dir.path(),
        "amounts.csv",
        "date,description,amount\n2024-01-02,A,1.234\n2024-01-03,B,0.125\n",
    );
    // `0.125` decides a decimal point, which makes `1.234` 1.234 — three decimals, not
    // euros; in dinars both read.
    let o = txclass(&[
        "classify",
        &amounts,
        "--currency",
        "KWD",
        "--output-format",
        "ndjson",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        out.contains("\"amount_minor\":1234") && out.contains("\"amount_minor\":125"),
        "{out}"
    );
    let o = txclass(&["classify", &amounts, "--currency", "KWD", "-o", "/dev/null"]);
    // Three decimals, whether the model puts both rows in one category or in two.
    let err = stderr(&o);
    assert!(
        err.contains(" 1.359\n") || (err.contains(" 1.234\n") && err.contains(" 0.125\n")),
        "{err}"
    );
    let o = txclass(&["classify", &amounts, "--currency", "EUR", "--quiet"]);
    assert_eq!(
        o.status.code(),
        Some(5),
        "every row refused: {}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("has 3 decimal places; EUR has 2"),
        "{}",
        stderr(&o)
    );

    let thousands = write(
        dir.path(),
        "thousands.csv",
        "date,description,amount\n2024-01-02,A,1.234\n",
    );
    let o = txclass(&["classify", &thousands, "--currency", "EUR", "--quiet"]);
    assert_eq!(o.status.code(), Some(5));
    assert!(
        stderr(&o).contains("--decimal . or --decimal ,"),
        "{}",
        stderr(&o)
    );
    let o = txclass(&[
        "classify",
        &thousands,
        "--currency",
        "EUR",
        "--decimal",
        ",",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains(",1234.00,EUR,"));
}

#[test]
fn a_file_without_currency_or_usable_header_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let plain = write(
        dir.path(),
        "plain.csv",
        "Date,Description,Amount\n2024-01-02,A,-1.00\n",
    );
    let o = txclass(&["classify", &plain, "--quiet"]);
    assert_eq!(o.status.code(), Some(5));
    assert!(stderr(&o).contains("--currency"), "{}", stderr(&o));
    let semicolons = write(
        dir.path(),
        "semi.csv",
        "Datum;Omschrijving;Bedrag\n01-02-2024;X;-1,00\n",
    );
    let o = txclass(&["classify", &semicolons, "--currency", "EUR"]);
    assert_eq!(o.status.code(), Some(5));
    let err = stderr(&o);
    assert!(
        err.contains("no description") && err.contains("`;`-separated"),
        "{err}"
    );
    assert!(err.contains("\"Omschrijving\""), "{err}");
}

#[test]
fn statements_classify_like_csv() {
    let (code, rows, err) = classify("statement.ofx", &[]);
    assert_eq!(code, Some(4), "one bad entry: {err}");
    assert_eq!(
        dates_amounts(&rows),
        [
            ("2024-03-05", "-4.50", "USD"),
            ("2024-03-15", "1234.56", "USD"),
            ("2024-03-19", "-60.00", "USD")
        ]
    );
    assert_eq!(rows[0][3], "STARBUCKS STORE 1234 DEBIT CARD PURCHASE");
    assert!(err.contains("line 35: date \"2024-3-18\""), "{err}");

    let (code, rows, err) = classify("statement.camt053.xml", &[]);
    assert_eq!(code, Some(4), "{err}");
    assert_eq!(
        dates_amounts(&rows),
        [
            ("2024-03-15", "-54.21", "EUR"),
            ("2024-03-16", "2500.00", "EUR"),
            ("2024-03-18", "-89.90", "EUR")
        ]
    );
    assert_eq!(rows[1][3], "ACME GmbH GEHALT MAERZ 2024");
    assert!(
        err.contains("line 32: amount \"12,00\" does not fit"),
        "{err}"
    );

    let (code, rows, err) = classify("statement.sta", &[]);
    assert_eq!(code, Some(4), "{err}");
    assert_eq!(
        dates_amounts(&rows),
        [
            ("2024-03-15", "-54.21", "EUR"),
            ("2024-03-16", "2500.00", "EUR"),
            ("2024-03-18", "-89.90", "EUR")
        ]
    );
    assert_eq!(rows[0][3], "REWE SAGT DANKE 14.03 12:01 REWE Markt GmbH");
    assert!(err.contains("line 10: amount is empty"), "{err}");

    // An MT940 file named .txt is read as CSV by default: refused, with the flag to read it.
    let dir = tempfile::tempdir().unwrap();
    let sta = std::fs::read_to_string(fixture("statement.sta")).unwrap();
    let txt = write(
        dir.path(),
        "statement.txt",
        &sta[sta.find(":20:").unwrap()..],
    );
    let o = txclass(&["classify", &txt]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("this is an MT940 statement, not CSV: pass --input-format mt940"),
        "{}",
        stderr(&o)
    );
    let o = txclass(&["classify", &txt, "--input-format", "mt940", "--quiet"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));

    // The same file forced through another reader is refused as a whole.
    let (code, _, err) = classify("statement.sta", &["--input-format", "ofx"]);
    assert_eq!(code, Some(5), "{err}");
    assert!(err.contains("not an OFX file"), "{err}");
}

/// Statements of banks in seven countries that four other projects' parsers collected for
/// their tests (`tests/fixtures/real/NOTICE.md`): every entry is read, none refused. Before,
/// a Suncorp OFX (names in CDATA sections), a Fidelity OFX (`00000000000000.2400`), MT942
/// reports (the currency only in `:34F:`), a German savings bank's fees dated February 30,
/// camt.053 amounts written `8.850` and an entry named by its ultimate debtor only were
/// refused, and a time wrapped onto a line of its own (`:26:37`) was cut from the text.
#[test]
fn real_statements_of_other_projects_read_whole() {
    let files = [
        ("real/abnamro.sta", 10),
        ("real/asnb.940", 8),
        ("real/ing.sta", 7),
        ("real/knab.sta", 3),
        ("real/postfinance.sta", 4),
        ("real/rabobank.sta", 5),
        ("real/rabobank-iban.sta", 4),
        ("real/sns.sta", 2),
        ("real/triodos.sta", 2),
        ("real/mbank.sta", 3),
        ("real/mbank-mt942.sta", 3),
        ("real/mt942.sta", 1),
        ("real/sberbank.sta", 3),
        ("real/raiffeisen-cmi.sta", 7),
        ("real/february_30.sta", 1),
        ("real/wrapped_timestamp.sta", 1),
        ("real/sepa_mt9401.sta", 97),
        ("real/suncorp.ofx", 1),
        ("real/checking.ofx", 3),
        ("real/bank_medium.ofx", 3),
        ("real/fidelity.ofx", 3),
        ("real/actual-bank-of-america.ofx", 2),
        ("real/genkgo-five-decimals.camt053.xml", 1),
        ("real/genkgo-ultimate.camt053.xml", 1),
        ("real/genkgo-v8.camt053.xml", 1),
    ];
    let mut read = std::collections::HashMap::new();
    for (name, entries) in files {
        // Each read as its extension says (`.sta`, `.940`, `.ofx`, `.xml`).
        let (code, rows, err) = classify(name, &[]);
        assert_eq!((code, rows.len()), (Some(0), entries), "{name}: {err}");
        read.insert(name, rows);
    }
    assert_eq!(
        read["real/suncorp.ofx"][0][3],
        "EFTPOS WDL HANDYWAY ALDI STORE   GEELONG WEST VICAU"
    );
    assert_eq!(
        dates_amounts(&read["real/fidelity.ofx"]),
        [
            ("2012-07-31", "0.24", "USD"),
            ("2012-08-20", "-0.97", "USD"),
            ("2012-08-31", "0.16", "USD")
        ]
    );
    assert_eq!(
        dates_amounts(&read["real/february_30.sta"]),
        [("2016-03-01", "-6.00", "EUR")]
    );
    assert!(read["real/wrapped_timestamp.sta"][0][3].contains("2014T16:26:37"));
    assert_eq!(read["real/mbank-mt942.sta"][0][2], "PLN");
    assert_eq!(
        dates_amounts(&read["real/actual-bank-of-america.ofx"]),
        [
            ("2019-01-23", "-30.00", "USD"),
            ("2019-01-23", "-3.77", "USD")
        ]
    );
    assert_eq!(
        dates_amounts(&read["real/genkgo-five-decimals.camt053.xml"]),
        [("2014-12-31", "8.85", "EUR")]
    );
    assert_eq!(
        read["real/genkgo-ultimate.camt053.xml"][0][3],
        "DEBTOR NAME NM"
    );
}

#[test]
fn a_payee_and_a_notes_column_are_read_as_one_text() {
    // Actual's test export: either column may be blank; a row with neither is refused.
    let (code, rows, err) = classify("real/actual-payee-notes.csv", &["--currency", "USD"]);
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("line 5: description is empty"), "{err}");
    assert_eq!(
        rows.iter().map(|r| r[3].as_str()).collect::<Vec<_>>(),
        ["Payee Name Note Text", "Payee Name Only", "Note Only Text"]
    );
    // `--model bundled` names the model used when none is named, as `eval bundled` does.
    let named = classify(
        "real/actual-payee-notes.csv",
        &["--currency", "USD", "--model", "bundled"],
    );
    assert_eq!(named.1, rows);
}

#[test]
fn eval_on_a_statement_takes_labels_by_id_and_reports_unknown_ones() {
    let dir = tempfile::tempdir().unwrap();
    let labels = write(
        dir.path(),
        "labels.csv",
        "id,category\n2024030501,Restaurants\n2024031501, INCOME \n2024031901,petrol\n",
    );
    let o = txclass(&[
        "eval",
        "bundled",
        &fixture("statement.ofx"),
        "--labels",
        &labels,
        "--json",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert!(err.contains("line 35: date"), "{err}");
    assert!(
        err.contains(
            "label \"petrol\" is not one of the model's labels: its 1 rows (first: 2024031901)"
        ),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["rows"], 3);
    assert_eq!(v["skipped"], 1);
    assert_eq!(v["unknown_labels"]["petrol"], 1);
    // `restaurants` and `income` are labels of the model's own (lines with no finer one).
    assert_eq!(v["unknown_labels"].as_object().unwrap().len(), 1, "{v}");
    assert_eq!(v["main_only_labels"], serde_json::json!({}));

    // A main category the model only gives with a sub-category is scored at the main level,
    // and said to be.
    {
        let file = write(
            dir.path(),
            "mains.csv",
            "id,date,description,amount,currency,category\n\
         a,2026-01-02,TESCO STORES 3297,-12.34,GBP,groceries\n\
         b,2026-01-03,NETFLIX.COM,-9.99,GBP,subscriptions/streaming\n",
        );
        let o = txclass(&["eval", "bundled", &file, "--json"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(0), "{err}");
        assert!(
        err.contains("label \"groceries\" is a main category, not one of the model's sub-categories: its 1 rows (first: a) are scored at the main level"),
        "{err}"
    );
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["main_only_labels"]["groceries"], 1);
        assert_eq!(v["unknown_labels"], serde_json::json!({}));
        assert_eq!(v["accuracy"], 1.0, "{v}");
    }
    let labels: Vec<_> = v["labels"].as_array().unwrap().iter().collect();
    assert!(
        labels.iter().any(|l| *l == "income"),
        "labels folded to the model's: {labels:?}"
    );

    let o = txclass(&["eval", "bundled", &fixture("statement.ofx")]);
    assert_eq!(o.status.code(), Some(5), "no labels: {}", stderr(&o));
    assert!(stderr(&o).contains("--labels FILE"), "{}", stderr(&o));
}

#[test]
fn train_and_eval_refuse_a_file_whose_every_row_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "bad.csv",
        "date,description,amount,currency,category\n2024-13-01,A,-1.00,EUR,fuel\nyesterday,B,-2.00,EUR,fuel\n",
    );
    for args in [
        vec!["eval", "bundled", bad.as_str()],
        vec!["train", bad.as_str(), "-o", "/dev/null"],
    ] {
        let o = txclass(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(5), "{args:?}: {err}");
        assert!(err.contains("line 2: date \"2024-13-01\""), "{err}");
        assert!(err.contains("line 3: date \"yesterday\""), "{err}");
        assert!(err.contains("every row of"), "{err}");
        assert!(!String::from_utf8_lossy(&o.stdout).contains("accuracy"));
    }
    let o = txclass(&["eval", "bundled", bad.as_str(), "--on-error", "stop"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
}

/// 180 rows of two labels written in mixed case, and forty labels with one example each.
fn training_rows() -> String {
    let mut body = String::from("Date,Description,Amount,Currency,Category\n");
    for i in 0..60 {
        let day = i % 28 + 1;
        body.push_str(&format!(
            "2024-01-{day:02},POSTO SHELL {i},-{i}0.00,BRL,Fuel\n"
        ));
        body.push_str(&format!(
            "2024-01-{day:02},MERCADO EXTRA {i},-{i}1.00,BRL, fuel \n"
        ));
        body.push_str(&format!(
            "2024-01-{day:02},PADARIA {i},-{i}2.00,BRL,GROCERIES\n"
        ));
    }
    // Some of the single examples fall in the share held out for calibration.
    for i in 0..40 {
        body.push_str(&format!("2024-02-01,SINGLE THING {i},-1.00,BRL,only{i}\n"));
    }
    body
}

#[test]
fn train_takes_mixed_case_labels_and_a_label_with_one_example() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "train.csv", &training_rows());
    let model = dir.path().join("m.bin");
    let o = txclass(&[
        "train",
        &data,
        "-o",
        model.to_str().unwrap(),
        "--max-iter",
        "20",
    ]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{}{out}", stderr(&o));
    assert!(
        out.contains("(42 classes)"),
        "fuel, groceries and the 40 singles: {out}"
    );
}

/// `txclass train` on [`training_rows`] with `validation` (a CSV's text) as its
/// validation file: the folder (kept while the caller looks), the model's path, the output.
fn train_with_validation(
    validation: &str,
) -> (tempfile::TempDir, std::path::PathBuf, std::process::Output) {
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "train.csv", &training_rows());
    let validation = write(dir.path(), "validation.csv", validation);
    let model = dir.path().join("m.bin");
    let o = txclass(&[
        "train",
        &data,
        "--validation",
        &validation,
        "-o",
        model.to_str().unwrap(),
        "--max-iter",
        "20",
    ]);
    (dir, model, o)
}

#[test]
fn train_names_the_file_of_a_bad_validation_row_and_exits_4() {
    let (_dir, model, o) = train_with_validation(
        "date,description,amount,currency,category\n2024-01-02,POSTO,-5.00,BRL,fuel\n2024-01-03,PADARIA,-1.00,XXX,groceries\n",
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert!(
        err.contains("validation.csv: line 3: currency \"XXX\" is not an ISO 4217 code"),
        "{err}"
    );
    assert!(model.exists(), "the model is written before exit code 4");
}

#[test]
fn train_says_which_validation_rows_it_could_not_learn() {
    // A label that only the validation file has cannot be learnt: its rows are left out,
    // named with their count, not dropped without a word.
    let (_dir, _model, o) = train_with_validation(
        "date,description,amount,currency,category\n2024-01-02,POSTO,-5.00,BRL,fuel\n2024-01-03,ZOO,-9.00,BRL,pets\n2024-01-04,AQUARIO,-7.00,BRL,pets\n",
    );
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{}{out}", stderr(&o));
    assert!(
        out.contains(
            "left out 2 validation or refit rows whose label no training row has: pets (2)"
        ),
        "{out}"
    );
}

#[test]
fn a_lloyds_export_is_read_with_its_transaction_type() {
    // The type codes (BGC, DD, SO, FPI, FPO, CPT, CHG; DEB is not read) say what the names
    // do not: that ACME LTD pays wages, that SARAH OCONNOR sent money, that LNK HIGH STREET
    // is a cash machine. The bundled model's best guess for each row, flagged or not.
    let (code, rows, err) = classify_rows(
        "lloyds.csv",
        &["--currency", "GBP", "--uncertain-below", "0"],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(&rows[0][2], "BANK GIRO CREDIT ACME LTD");
    assert_eq!(&rows[5][2], "ATM WITHDRAWAL LNK HIGH STREET");
    let categories: Vec<&str> = rows.iter().map(|r| &r[5]).collect();
    assert_eq!(
        categories,
        [
            "income",
            "utilities",
            "rent",
            "transfers",
            "transfers",
            "cash",
            "groceries",
            "restaurants",
            "fees",
            "groceries"
        ]
    );
}
