//! `txclass eval`: measures a model on a labelled file.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::path::PathBuf;

use foldhash::HashSet;
use txclass_core::classifier::{self, Familiarity};
use txclass_core::records::ClassifyOptions;
use txclass_core::Classifier;

use super::input::{read_labels, some_refused, with_labelled, ErrorPolicy, InputArgs};

/// Evaluate a model on a labelled file: accuracy, macro-F1, per class, confusion,
/// calibration.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Model file (from `txclass train`), or `bundled` for the model bundled with txclass.
    pub model: String,
    /// Labelled file to evaluate on (CSV, NDJSON, or with --labels OFX, camt.053, MT940).
    pub data: PathBuf,
    /// How to read DATA.
    #[command(flatten)]
    pub read: InputArgs,
    /// Labels by transaction id (a CSV with id and category columns), for rows whose file
    /// has no category (bank statements).
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// What to do with a bad row: report it and evaluate the rest (exit code 4), or stop
    /// without figures (exit code 3).
    #[arg(long, value_enum, default_value_t = ErrorPolicy::Skip)]
    pub on_error: ErrorPolicy,
    /// Print the figures as one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Threads the rows are classified on (default: all cores; the rows per second are of
    /// all of them).
    #[arg(long)]
    pub threads: Option<NonZeroUsize>,
}

/// Runs the command.
pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let model = super::model_named(Some(args.model.as_ref()))?;
    let labels = args.labels.as_deref().map(read_labels).transpose()?;
    let threads = args.threads.unwrap_or(ClassifyOptions::default().threads);
    // Labels the model cannot give are scored (as misses) and reported, never silently. A
    // flat model is scored at the main level, where `restaurants/coffee` is `restaurants`; a
    // model with sub-categories scores a bare main category (`groceries`) at the main level,
    // and says so: at the sub-category level no prediction can match it.
    // Asked for every row: foldhash, not SipHash (about 200 instructions a lookup).
    let known: HashSet<String> = model.labels().iter().map(|c| c.0.clone()).collect();
    let mains: HashSet<&str> = model.mains().iter().map(|c| c.as_str()).collect();
    let two_level = model.tree().is_two_level();
    let main_only = |label: &str| two_level && mains.contains(label) && !known.contains(label);
    let unknown_label = |label: &str| {
        !mains.contains(txclass_core::domain::taxonomy::main_of(label))
            || (two_level && !known.contains(label) && !main_only(label))
    };
    let (mut unknown, mut mains_only): (Labelled, Labelled) = Default::default();
    let report = with_labelled(
        &args.read,
        &args.data,
        labels,
        args.on_error,
        false,
        "scored",
        |rows| {
            classifier::evaluate_on(
                &model,
                rows.inspect(|r| {
                    // Most rows carry one of the model's labels: one lookup decides them.
                    if let Some((tx, label)) = r.as_ref().ok().filter(|(_, l)| !known.contains(l)) {
                        let count = |of: &mut Labelled| {
                            of.entry(label.clone())
                                .or_insert_with(|| (0, tx.id.clone()))
                                .0 += 1;
                        };
                        if unknown_label(label) {
                            count(&mut unknown);
                        } else if main_only(label) {
                            count(&mut mains_only);
                        }
                    }
                }),
                threads,
            )
        },
    )?;
    for (label, (n, first)) in &unknown {
        eprintln!(
            "label {label:?} is not one of the model's labels: its {n} rows (first: {first}) are scored as misses"
        );
    }
    for (label, (n, first)) in &mains_only {
        eprintln!(
            "label {label:?} is a main category, not one of the model's sub-categories: its {n} rows (first: {first}) are scored at the main level (as misses at the sub-category level)"
        );
    }
    let ev = &report.evaluation;
    let familiar = report.kinds[Familiarity::Familiar.index()];
    let rows_per_s = ev.rows as f64 / report.predict_seconds.max(1e-9);
    if args.json {
        let v = serde_json::json!({
            "rows": ev.rows, "skipped": report.skipped_rows,
            "unknown_labels": unknown.iter().map(|(l, (n, _))| (l.clone(), *n)).collect::<BTreeMap<_, _>>(),
            "main_only_labels": mains_only.iter().map(|(l, (n, _))| (l.clone(), *n)).collect::<BTreeMap<_, _>>(),
            "accuracy": ev.accuracy, "macro_f1": ev.macro_f1,
            "expected_calibration_error": ev.expected_calibration_error,
            "uncertain": ev.uncertain, "accuracy_when_certain": ev.accuracy_when_certain,
            "predict_seconds": report.predict_seconds, "rows_per_second": rows_per_s, "threads": threads.get(),
            "per_class": ev.per_class.iter().map(|c| serde_json::json!({
                "label": c.label, "precision": c.precision, "recall": c.recall, "f1": c.f1, "support": c.support,
            })).collect::<Vec<_>>(),
            "labels": ev.labels, "confusion": ev.confusion,
            "calibration": ev.calibration.iter().map(|b| serde_json::json!({
                "low": b.low, "high": b.high, "count": b.count,
                "mean_probability": b.mean_probability, "accuracy": b.accuracy,
            })).collect::<Vec<_>>(),
            "uncertain_below": model.thresholds().uncertain_below,
            "familiar_below": model.thresholds().familiar_below,
            "anchored_below": model.thresholds().anchored_below,
            "familiar_rows": familiar.rows,
            "familiar_accuracy": familiar.accuracy(),
            "familiarity": Familiarity::ALL.iter().map(|&kind| {
                let k = &report.kinds[kind.index()];
                (kind_name(kind).to_owned(), serde_json::json!({
                    "uncertain_below": model.thresholds().uncertain_below(kind),
                    "rows": k.rows, "accuracy": k.accuracy(),
                    "kept": k.kept, "kept_accuracy": k.kept_accuracy(),
                }))
            }).collect::<serde_json::Map<_, _>>(),
            "coverage_curve": ev.coverage_curve.iter().map(|c| serde_json::json!({
                "coverage": c.coverage, "threshold": c.threshold, "accuracy": c.accuracy,
            })).collect::<Vec<_>>(),
            "sub_level": report.sub_evaluation.as_ref().map(|s| serde_json::json!({
                "accuracy": s.accuracy, "macro_f1": s.macro_f1,
                "per_class": s.per_class.iter().map(|c| serde_json::json!({
                    "label": c.label, "precision": c.precision, "recall": c.recall, "f1": c.f1, "support": c.support,
                })).collect::<Vec<_>>(),
            })),
        });
        println!("{v}");
        return skipped(report.skipped_rows);
    }
    println!("rows: {} ({} skipped)", ev.rows, report.skipped_rows);
    println!("accuracy: {:.4}", ev.accuracy);
    println!("macro-F1: {:.4}", ev.macro_f1);
    if let Some(s) = &report.sub_evaluation {
        println!(
            "sub-category level (labels compared whole): accuracy {:.4}, macro-F1 {:.4}",
            s.accuracy, s.macro_f1
        );
    }
    println!(
        "uncertain: {} ({:.1} %), accuracy of the rest: {:.4}",
        ev.uncertain,
        100.0 * ev.uncertain as f64 / ev.rows.max(1) as f64,
        ev.accuracy_when_certain
    );
    println!("by how well the model knows the line (familiar: merchant words read in training meaning the guess; anchored: one such word beside words never read):");
    for kind in Familiarity::ALL.into_iter().rev() {
        let k = &report.kinds[kind.index()];
        println!(
            "  {:<9} {:>6} lines ({:>5.1} %), accuracy {:.4}; uncertain below {:.4}: {} kept, accuracy {:.4}",
            kind_name(kind),
            k.rows,
            100.0 * k.rows as f64 / ev.rows.max(1) as f64,
            k.accuracy(),
            model.thresholds().uncertain_below(kind),
            k.kept,
            k.kept_accuracy()
        );
    }
    let on = match threads.get() {
        1 => "one thread".to_string(),
        n => format!("batches split over up to {n} threads"),
    };
    println!(
        "read + predict: {:.3} s, {:.0} rows/s ({on})",
        report.predict_seconds, rows_per_s
    );
    println!(
        "\n{:<16} {:>9} {:>9} {:>9} {:>8}",
        "class", "precision", "recall", "f1", "support"
    );
    for c in &ev.per_class {
        println!(
            "{:<16} {:>9.4} {:>9.4} {:>9.4} {:>8}",
            c.label, c.precision, c.recall, c.f1, c.support
        );
    }
    println!("\nconfusion (rows: truth, columns: predicted, in this order)");
    for (i, l) in ev.labels.iter().enumerate() {
        println!("{:>3} {l}", i);
    }
    print!("{:>4}", "");
    for i in 0..ev.labels.len() {
        print!("{i:>6}");
    }
    println!();
    for (i, row) in ev.confusion.iter().enumerate() {
        print!("{i:>4}");
        for n in row {
            print!("{n:>6}");
        }
        println!();
    }
    println!("\ncalibration (top probability)");
    println!(
        "{:<11} {:>7} {:>10} {:>9}",
        "bin", "count", "mean prob", "accuracy"
    );
    for b in &ev.calibration {
        println!(
            "[{:.1}, {:.1}) {:>7} {:>10.4} {:>9.4}",
            b.low, b.high, b.count, b.mean_probability, b.accuracy
        );
    }
    println!(
        "expected calibration error: {:.4}",
        ev.expected_calibration_error
    );
    println!("\ncoverage / accuracy (keep the rows the model is surest of)");
    println!("{:>8} {:>10} {:>9}", "coverage", "threshold", "accuracy");
    for c in &ev.coverage_curve {
        println!(
            "{:>7.1}% {:>10.4} {:>9.4}",
            100.0 * c.coverage,
            c.threshold,
            c.accuracy
        );
    }
    skipped(report.skipped_rows)
}

/// Exit code 4 after the figures when rows were refused.
fn skipped(rows: usize) -> anyhow::Result<()> {
    match rows {
        0 => Ok(()),
        n => Err(some_refused(n as u64, None, "not scored")),
    }
}

/// The name of a kind of line in the figures.
fn kind_name(kind: Familiarity) -> &'static str {
    match kind {
        Familiarity::Stranger => "stranger",
        Familiarity::Anchored => "anchored",
        Familiarity::Familiar => "familiar",
    }
}

/// Rows by label: how many, and the id of the first.
type Labelled = BTreeMap<String, (u64, String)>;
