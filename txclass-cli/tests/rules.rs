//! `txclass classify --rules` and `txclass rules test|check` on temporary files.

mod support;
use support::{csv_rows, stderr, stdout, txclass, write};

const INPUT: &str = "id,date,description,amount,currency\n\
    t1,2026-01-02,SUPERMERCADO EXTRA SAO PAULO,-368.36,BRL\n\
    t2,2026-01-03,UBER *TRIP 4821,-23.10,BRL\n\
    t3,2026-01-05,PIX ALUGUEL MARIA,-1500.00,BRL\n\
    t4,2026-01-06,PIX ALUGUEL MARIA,-15.00,BRL\n\
    t5,2026-01-07,SALARIO EMPRESA X,5000.00,BRL\n";

/// A pre rule with an amount range and a merchant name, a pre rule that only names a
/// merchant, and a post rule that refines the model's `income` to a sub-category.
const RULES: &str = r#"
[[rules]]
id = "rent"
order = 1
stop_processing = true
conditions = { description_matches = 'aluguel\s+\w+', amount_max = "-100.00", sign = "out" }
action = { category = "rent", merchant = "Maria (landlord)" }

[[rules]]
id = "uber-name"
conditions = { merchant_is = "uber trip" }
action = { merchant = "Uber" }

[[rules]]
id = "salary"
stage = "post"
conditions = { category = "income", currency = "BRL" }
action = { category = "income", sub_category = "wages" }
"#;

#[test]
fn classify_applies_a_rules_file_and_records_each_rows_source() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "tx.csv", INPUT);
    let rules = write(dir.path(), "rules.toml", RULES);
    let out = dir.path().join("out.csv");
    let o = txclass(&[
        "classify",
        &input,
        "--rules",
        &rules,
        "-o",
        out.to_str().unwrap(),
        // The model's best guesses (its own thresholds flag `SALARIO EMPRESA X`, p 0.995:
        // no training row named that employer).
        "--uncertain-below",
        "0.5",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = csv_rows(out.to_str().unwrap());
    // id, …, category 5, probability 6, …, sub_category 9, merchant 10, source 11.
    let row = |id: &str| rows.iter().find(|r| &r[0] == id).unwrap().clone();
    let rent = row("t3");
    assert_eq!(
        (&rent[5], &rent[6], &rent[9], &rent[10], &rent[11]),
        ("rent", "1.0000", "", "Maria (landlord)", "rule:rent")
    );
    // Over the range's maximum (-15.00 > -100.00): the model decides.
    let small = row("t4");
    assert_eq!((&small[9], &small[11]), ("", "model"));
    // A merchant-only rule keeps the model's category and source.
    let uber = row("t2");
    assert_eq!((&uber[10], &uber[11]), ("Uber", "model"));
    // A post rule refines the model's answer: the sub-category is stored as a full label.
    let salary = row("t5");
    assert_eq!(
        (&salary[5], &salary[9], &salary[11]),
        ("income", "income/wages", "rule:salary")
    );
    let groceries = row("t1");
    assert_eq!((&groceries[5], &groceries[11]), ("groceries", "model"));
}

#[test]
fn rules_test_says_which_rule_fired() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write(dir.path(), "rules.toml", RULES);
    let o = txclass(&[
        "rules",
        "test",
        &rules,
        "PIX ALUGUEL MARIA",
        "--amount",
        "-1500.00",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("fired:        rent"), "{out}");
    assert!(out.contains("model:        not asked"), "{out}");
    assert!(out.contains("source:       rule:rent"), "{out}");
    assert!(out.contains("sub_category: -"), "{out}");

    let o = txclass(&[
        "rules",
        "test",
        &rules,
        "PIX ALUGUEL MARIA",
        "--amount",
        "-12.50",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("fired:        none"), "{out}");
    assert!(out.contains("source:       model"), "{out}");

    // An amount with more decimals than the currency has is a usage error.
    let o = txclass(&[
        "rules",
        "test",
        &rules,
        "X",
        "--amount",
        "-1.5",
        "--currency",
        "JPY",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--amount"), "{}", stderr(&o));
}

#[test]
fn a_bad_rules_file_is_a_usage_error_naming_rule_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "tx.csv", INPUT);
    let bad = write(
        dir.path(),
        "bad.toml",
        "[[rules]]\nid = \"broken\"\nconditions = { description_matches = \"(unclosed\" }\naction = { category = \"x\" }\n",
    );
    for args in [
        vec!["classify", input.as_str(), "--rules", bad.as_str()],
        vec!["rules", "check", bad.as_str()],
        vec!["rules", "test", bad.as_str(), "LINE"],
    ] {
        let o = txclass(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains("bad.toml")
                && err.contains("rule broken")
                && err.contains("conditions.description_matches"),
            "{args:?}: {err}"
        );
    }
    let good = write(dir.path(), "good.toml", RULES);
    let o = txclass(&["rules", "check", &good]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("3 rules"), "{}", stdout(&o));
}

#[test]
fn totals_are_printed_per_currency() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "mixed.csv",
        "id,date,description,amount,currency\n\
         a,2026-01-02,SUPERMERCADO EXTRA,-10.00,BRL\n\
         b,2026-01-03,SUPERMERCADO EXTRA,-1200,JPY\n\
         c,2026-01-04,SUPERMERCADO EXTRA,-5.50,BRL\n",
    );
    let o = txclass(&["classify", &input, "-o", "-"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("total BRL") && err.contains("total JPY"),
        "{err}"
    );
    let line = err
        .lines()
        .find(|l| l.starts_with("groceries"))
        .unwrap_or_else(|| panic!("{err}"));
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cells, ["groceries", "3", "-15.50", "-1200"], "{err}");

    // At the sub level each category's sub-categories follow it, per currency too.
    let o = txclass(&["classify", &input, "-o", "-", "--level", "sub"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    let lines: Vec<Vec<&str>> = err
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let at = lines
        .iter()
        .position(|l| l.first() == Some(&"groceries"))
        .unwrap_or_else(|| panic!("{err}"));
    assert_eq!(
        lines[at + 1],
        ["groceries/supermarket", "3", "-15.50", "-1200"],
        "{err}"
    );
}
