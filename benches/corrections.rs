//! What users' corrections buy, on real-brand lines the model never saw (the brand-held-out
//! test rows of the corpus generator). The model is the bundled model's recipe without the
//! corpus's test brands (`scripts/bundled-model.sh held-out`, built on the first run): the
//! bundled model itself knows every brand of the corpus.
//!
//! Half of the held-out merchants are "corrected": a user goes through the first half of
//! their lines in a seeded order and corrects each line the model gets wrong, up to
//! 0, 10, 50 and 200 corrections. Then, with the model warm-started from those corrections
//! (`classifier::fine_tune`, as `txclass train --corrections` does) and the rules `K = 3`
//! consistent corrections of a merchant suggest (as the server does, all accepted):
//!
//! - accuracy on every held-out line not corrected, with the suggested rules;
//! - the same on the corrected merchants' other lines, with and without the rules;
//! - the model alone on the merchants that were never corrected (does tuning hurt them?).
//!
//! Run: `cargo bench --bench corrections` (prints one table per L2 strength of the warm
//! start, `TUNE_L2="0.05 0.5"` to choose them; about a minute each).

use std::collections::{BTreeMap, HashMap};

use chrono::{TimeZone, Utc};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use txclass_suite::classifier::{fine_tune, LogisticModel, TuneConfig};
use txclass_suite::datagen::corpus::{self, CorpusConfig};
use txclass_suite::datagen::Split;
use txclass_suite::domain::correction::{suggested_rule, Correction};
use txclass_suite::domain::{Category, CustomerId, PartnerId, Source};
use txclass_suite::rules::RuleSet;
use txclass_suite::store::merchant_of;
use txclass_suite::Transaction;

/// Corrections a merchant needs before a rule is suggested (the server's default).
const K: usize = 3;

struct Line {
    tx: Transaction,
    /// The main category (what accuracy is counted on).
    label: &'static str,
    /// The full label, `main` or `main/sub`: what a user's correction gives.
    full: &'static str,
    merchant: String,
}

/// The most likely label of each line (accuracy as the other classifier figures count it:
/// a line flagged `uncertain` still has one).
fn top_labels(model: &LogisticModel, lines: &[&Line]) -> Vec<Category> {
    let txs: Vec<Transaction> = lines.iter().map(|l| l.tx.clone()).collect();
    model
        .best(&txs)
        .into_iter()
        .map(|(i, _)| model.mains()[i].clone())
        .collect()
}

fn accuracy(predicted: &[Category], lines: &[&Line]) -> f64 {
    let right = predicted
        .iter()
        .zip(lines)
        .filter(|(p, l)| p.as_str() == l.label)
        .count();
    right as f64 / lines.len().max(1) as f64
}

/// The bundled model's recipe trained without the corpus's test brands.
fn held_out_model() -> LogisticModel {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(root.join("scripts/bundled-model.sh"))
        .arg("held-out")
        .current_dir(root)
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("scripts/bundled-model.sh runs");
    assert!(
        out.status.success(),
        "scripts/bundled-model.sh held-out failed"
    );
    let path = String::from_utf8(out.stdout).expect("a path");
    LogisticModel::load(&root.join(path.trim())).expect("the held-out model")
}

fn main() {
    let model = held_out_model();
    let rows = corpus::generate(&CorpusConfig {
        seed: 42,
        rows: 80_000,
        validation_fraction: 0.0,
        test_fraction: 0.5,
        ..CorpusConfig::default()
    })
    .expect("corpus");
    let held: Vec<Line> = rows
        .into_iter()
        .filter(|r| r.split == Split::Test && r.row.unseen_merchant)
        .map(|r| Line {
            tx: r.row.transaction,
            label: r.row.category.split('/').next().unwrap_or_default(),
            full: r.row.category,
            merchant: r.row.merchant,
        })
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut by_merchant: BTreeMap<&str, Vec<&Line>> = BTreeMap::new();
    for l in &held {
        by_merchant.entry(l.merchant.as_str()).or_default().push(l);
    }
    let mut merchants: Vec<&str> = by_merchant.keys().copied().collect();
    merchants.shuffle(&mut rng);
    let (corrected_m, never_m) = merchants.split_at(merchants.len() / 2);
    // The corrected merchants' lines: the first half is what users go through (in a
    // shuffled order), the second half is measured.
    let (mut stream, mut corrected_eval) = (Vec::new(), Vec::new());
    for m in corrected_m {
        let lines = &by_merchant[m];
        let (a, b) = lines.split_at(lines.len() / 2);
        stream.extend_from_slice(a);
        corrected_eval.extend_from_slice(b);
    }
    stream.shuffle(&mut rng);
    let never_eval: Vec<&Line> = never_m
        .iter()
        .flat_map(|m| by_merchant[m].clone())
        .collect();
    let all_eval: Vec<&Line> = corrected_eval.iter().chain(&never_eval).copied().collect();
    let stream_pred = top_labels(&model, &stream);
    let wrong: Vec<&Line> = stream
        .iter()
        .zip(&stream_pred)
        .filter(|(l, p)| p.as_str() != l.label)
        .map(|(l, _)| *l)
        .collect();
    println!(
        "held-out brands: {} merchants, {} lines; corrected merchants' lines measured: {}, never-corrected merchants' lines: {}; wrong lines users can correct: {}",
        merchants.len(),
        held.len(),
        corrected_eval.len(),
        never_eval.len(),
        wrong.len()
    );
    let strengths: Vec<f64> = std::env::var("TUNE_L2")
        .unwrap_or_else(|_| TuneConfig::default().l2.to_string())
        .split_whitespace()
        .map(|v| v.parse().expect("TUNE_L2: numbers"))
        .collect();
    for l2 in strengths {
        println!("warm start L2 {l2} per correction");
        table(&model, &wrong, &all_eval, &corrected_eval, &never_eval, l2);
    }
}

/// One table: the figures after 0, 10, 50 and 200 corrections.
fn table(
    model: &LogisticModel,
    wrong: &[&Line],
    all_eval: &[&Line],
    corrected_eval: &[&Line],
    never_eval: &[&Line],
    l2: f64,
) {
    println!(
        "{:>11} | {:>5} | {:>20} | {:>29} | {:>29} | {:>25}",
        "corrections",
        "rules",
        "all held-out + rules",
        "corrected merchants + rules",
        "corrected merchants, model",
        "never corrected, model"
    );
    for n in [0usize, 10, 50, 200] {
        let used = &wrong[..n.min(wrong.len())];
        let tuned: LogisticModel = if used.is_empty() {
            model.clone()
        } else {
            let rows = used
                .iter()
                .map(|l| Ok::<_, String>((l.tx.clone(), l.full.to_owned())));
            let config = TuneConfig {
                l2,
                ..TuneConfig::default()
            };
            fine_tune(model, rows, &config).expect("tune").0
        };
        // The corrections as the store keeps them, newest first per merchant (as written by
        // `merchant_of`), and the rules they suggest.
        let mut per_merchant: HashMap<String, Vec<Correction>> = HashMap::new();
        for (i, l) in used.iter().enumerate().rev() {
            let merchant = merchant_of(&l.tx.description);
            per_merchant
                .entry(merchant.clone())
                .or_default()
                .push(Correction {
                    customer_id: CustomerId::new("user"),
                    partner_id: PartnerId::new("bank"),
                    transaction: l.tx.clone(),
                    merchant,
                    category: Category::new(l.label),
                    sub_category: (l.full != l.label).then(|| Category::new(l.full)),
                    previous_category: Category::new("?"),
                    previous_source: Source::Model,
                    corrected_at: Utc.timestamp_opt(i as i64, 0).unwrap(),
                });
        }
        let rules: Vec<_> = per_merchant
            .values()
            .filter_map(|cs| suggested_rule(cs, K))
            .collect();
        let n_rules = rules.len();
        let set = RuleSet::compile(rules).expect("suggested rules compile");
        // A rule's category where one fired, else the model's most likely label.
        let with_rules = |lines: &[&Line]| -> Vec<Category> {
            let txs: Vec<Transaction> = lines.iter().map(|l| l.tx.clone()).collect();
            let by_rule = set.classify(&tuned, &txs, Some(&PartnerId::new("bank")));
            by_rule
                .into_iter()
                .zip(top_labels(&tuned, lines))
                .map(|(p, top)| match p.source {
                    Source::Model => top,
                    _ => p.category,
                })
                .collect()
        };
        let alone = |lines: &[&Line]| top_labels(&tuned, lines);
        println!(
            "{:>11} | {:>5} | {:>20.4} | {:>29.4} | {:>29.4} | {:>25.4}",
            used.len(),
            n_rules,
            accuracy(&with_rules(all_eval), all_eval),
            accuracy(&with_rules(corrected_eval), corrected_eval),
            accuracy(&alone(corrected_eval), corrected_eval),
            accuracy(&alone(never_eval), never_eval),
        );
    }
}
