//! Warm start from users' corrections: the current model, nudged until it agrees with the
//! corrected rows, and otherwise kept.
//!
//! The model's scores on each corrected row (text and context, over its temperature) are a
//! fixed offset, and only a change `δ` of the text weights of the buckets the rows use is
//! fitted, with L2 on `δ` and no intercept (so nothing moves for a line that shares no
//! bucket with a correction). That is logistic regression with the current model as the
//! prior: each correction pulls its own words toward the user's category, as hard as
//! `l2` allows, without the original training rows.

use std::fmt::Display;

use super::familiar::{main_key, LineKeys};
use super::features::{Featurizer, SparseRow};
use super::model::LogisticModel;
use super::sparse::{minimise, Csr, Objective, Optimisation};
use super::{Classifier, LabelledRow};
use crate::domain::taxonomy::main_of;
use crate::Error;

/// Settings of a warm start.
#[derive(Clone, Debug)]
pub struct TuneConfig {
    /// L2 strength on the change, per correction: the larger, the less one correction
    /// moves the weights (the objective's λ is this over the number of rows, so 10
    /// corrections of a merchant pull ten times as hard as one).
    pub l2: f64,
    /// L-BFGS iteration limit.
    pub max_iterations: u64,
    /// Stop when the gradient norm falls below this.
    pub tolerance: f64,
    /// Threads for the optimisation passes.
    pub threads: usize,
}

impl Default for TuneConfig {
    fn default() -> Self {
        Self {
            l2: 0.5,
            max_iterations: 200,
            tolerance: 1e-6,
            threads: 1,
        }
    }
}

/// What a warm start did.
#[derive(Clone, Debug)]
pub struct TuneReport {
    /// Corrections fitted.
    pub rows: usize,
    /// Rows skipped: unreadable, or a label the model does not have (first errors kept).
    pub skipped_rows: usize,
    /// The first errors of skipped rows (up to 20).
    pub errors: Vec<String>,
    /// Corrections the model got right before, and after.
    pub right_before: usize,
    /// Corrections the tuned model gets right.
    pub right_after: usize,
    /// Text buckets whose weights changed.
    pub buckets: usize,
    /// The optimiser's figures.
    pub optimisation: Optimisation,
}

/// `model` warm-started from labelled `rows` (corrections): see the module docs. Fails when
/// no row can be used.
pub fn fine_tune<E: Display>(
    model: &LogisticModel,
    rows: impl IntoIterator<Item = LabelledRow<E>>,
    config: &TuneConfig,
) -> crate::Result<(LogisticModel, TuneReport)> {
    if !(config.l2.is_finite() && config.l2 > 0.0) {
        return Err(Error::InvalidConfig {
            what: format!("tune l2 must be positive, got {}", config.l2),
        });
    }
    let labels = model.labels();
    let k = labels.len();
    let t = model.temperature();
    let mut featurizer = Featurizer::new(model.features());
    let (mut row, mut x, mut y, mut offset) =
        (SparseRow::default(), Csr::new(), Vec::new(), Vec::new());
    // Each row's buckets and context, to score the tuned model on them.
    let mut kept: Vec<(SparseRow, Vec<u32>)> = Vec::new();
    // Each row's merchant words and main category: the tuned model has read them.
    let mut learnt: Vec<(LineKeys, u64)> = Vec::new();
    let (mut skipped, mut errors) = (0, Vec::new());
    let mut right_before = 0;
    let mut z = vec![0.0f32; k];
    let mut refuse = |e: String| {
        skipped += 1;
        if errors.len() < 20 {
            errors.push(e);
        }
    };
    for (n, r) in rows.into_iter().enumerate() {
        let (tx, label) = match r {
            Ok(ok) => ok,
            Err(e) => {
                refuse(e.to_string());
                continue;
            }
        };
        featurizer.featurize(&tx, &mut row);
        model.text_logits(&row, &mut z);
        model.add_context(featurizer.context(), &mut z);
        // A label of the model; or a main category, which teaches the model's likeliest
        // label under it (a correction says `restaurants`, the model knows
        // `restaurants/coffee` and `restaurants/bars`).
        let label = label.trim();
        let class = labels.iter().position(|l| l.as_str() == label).or_else(|| {
            let group = model.tree().labels_of(label)?;
            group.iter().copied().max_by(|&a, &b| z[a].total_cmp(&z[b]))
        });
        let Some(class) = class else {
            refuse(format!(
                "row {}: {label:?} is not a category of the model",
                n + 1
            ));
            continue;
        };
        // Right before as the model answers a line: without the words its training rows did
        // not read (the offset below has them, as the tuned model will).
        right_before += usize::from(argmax(&model.probabilities(&tx)) == class);
        offset.extend(z.iter().map(|s| s / t));
        x.push(&row);
        y.push(class as u32);
        kept.push((row.clone(), featurizer.context().to_vec()));
        let mut words = LineKeys::default();
        featurizer.merchant_keys(&mut words);
        learnt.push((words, main_key(main_of(labels[class].as_str()))));
    }
    if y.is_empty() {
        return Err(Error::Model(format!(
            "no correction to learn from ({skipped} rows skipped)"
        )));
    }
    let right = |scores: &[f32]| {
        scores
            .chunks_exact(k)
            .zip(&y)
            .filter(|(s, &c)| argmax(s) == c as usize)
            .count()
    };
    let buckets = x.compact_columns(model.features().dim());
    let m = buckets.len();
    let class_weights = vec![1.0; k];
    let objective = Objective {
        x: &x,
        y: &y,
        class_weights: &class_weights,
        k,
        m,
        l2: config.l2 / y.len() as f64,
        threads: config.threads,
        offset: Some(&offset),
        intercepts: false,
    };
    let (params, optimisation) = minimise(objective, config.max_iterations, config.tolerance)?;
    // The change was fitted on scores over the temperature: the weights take it times `t`.
    let delta: Vec<f32> = params[..m * k].iter().map(|&d| d as f32 * t).collect();
    // The corrected merchants are familiar now: their next lines are judged by the threshold
    // of lines the model knows, as the trained merchants' are.
    let tuned = model.nudged(&buckets, &delta)?.with_lines_learnt(&learnt);
    let mut after = vec![0.0f32; offset.len()];
    for ((row, ctx), p) in kept.iter().zip(after.chunks_exact_mut(k)) {
        tuned.probabilities_of_row(row, ctx, p);
    }
    let report = TuneReport {
        rows: y.len(),
        skipped_rows: skipped,
        errors,
        right_before,
        right_after: right(&after),
        buckets: m,
        optimisation,
    };
    Ok((tuned, report))
}

fn argmax(s: &[f32]) -> usize {
    s.iter()
        .enumerate()
        .fold(
            (0, f32::NEG_INFINITY),
            |a, (i, &v)| if v > a.1 { (i, v) } else { a },
        )
        .0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classifier::{bundled_model, Familiarity};
    use crate::domain::Transaction;

    fn line(description: &str, amount_minor: i64) -> Transaction {
        Transaction {
            id: description.into(),
            date: "2026-03-02".parse().unwrap(),
            description: description.into(),
            amount_minor,
            currency: "EUR".into(),
        }
    }

    /// The most likely label (a line may still be flagged uncertain).
    fn label(model: &LogisticModel, tx: &Transaction) -> String {
        let (best, _) = model.best(std::slice::from_ref(tx))[0];
        model.mains()[best].0.clone()
    }

    #[test]
    fn corrections_are_learnt_and_unrelated_lines_keep_their_answer() {
        let model = bundled_model().unwrap();
        // A merchant the model gets wrong, corrected four times to one category. (Three were
        // enough until the shipped model read every brand of the index: its threshold for
        // familiar lines rose from 0.41 to 0.68, and three corrections reach 0.64.)
        let corrected = [
            line("ZORBLAX KLINIKUM 0412 BERLIN", -4520),
            line("ZORBLAX KLINIKUM 0977 MUENCHEN", -1999),
            line("ZORBLAX KLINIKUM HAMBURG", -8000),
            line("ZORBLAX KLINIKUM 2208 DRESDEN", -2675),
        ];
        // (Any category the model gives none of the lines, neither as the main category it
        // picks nor as the main of its likeliest label: which one depends on the shipped
        // model.)
        let likeliest = |t: &Transaction| {
            let p = model.probabilities(t);
            let i = (0..p.len()).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
            main_of(model.labels()[i].as_str()).to_owned()
        };
        let target = ["health", "education", "travel", "entertainment"]
            .into_iter()
            .find(|c| {
                corrected
                    .iter()
                    .all(|t| label(&model, t) != *c && likeliest(t) != *c)
            })
            .unwrap();
        let rows: Vec<LabelledRow<String>> = corrected
            .iter()
            .map(|t| Ok((t.clone(), target.to_owned())))
            .chain([Ok((line("x", -1), "no-such-label".to_owned()))])
            .collect();
        let (tuned, report) = fine_tune(&model, rows, &TuneConfig::default()).unwrap();
        assert_eq!((report.rows, report.skipped_rows), (4, 1), "{report:?}");
        assert!(report.errors[0].contains("no-such-label"), "{report:?}");
        assert_eq!(report.right_before, 0);
        assert_eq!(report.right_after, 4, "{report:?}");
        // A new line of the merchant follows the corrections. (At a round amount, −30.00, the
        // bundled model still says `cash`: a few corrections leave the text unsure enough for
        // the context stage to count at 80 %. A known weakness, not what this checks.)
        assert_eq!(
            label(&tuned, &line("ZORBLAX KLINIKUM KOELN", -3140)),
            target
        );
        // The tuned model has read the corrected merchant: its next line is familiar, judged
        // by the threshold of lines the model knows, and not flagged.
        let next = line("ZORBLAX KLINIKUM HAMBURG", -6150);
        assert_ne!(model.familiarity(&next), Familiarity::Familiar);
        assert_eq!(tuned.familiarity(&next), Familiarity::Familiar);
        let p = tuned.predict(&next);
        assert_eq!((p.category.as_str(), p.uncertain), (target, false), "{p:?}");
        // Lines that share nothing with them keep the model's answer.
        for d in [
            "NETFLIX.COM AMSTERDAM",
            "SHELL 1234 ROTTERDAM",
            "PIX ENVIADO JOAO SILVA",
            "LIDL SAGT DANKE",
        ] {
            let t = line(d, -2599);
            assert_eq!(label(&tuned, &t), label(&model, &t), "{d}");
        }
        assert_ne!(tuned.version(), model.version());
    }

    #[test]
    fn nothing_to_learn_is_an_error() {
        let model = bundled_model().unwrap();
        let rows: Vec<LabelledRow<String>> = vec![Err("line 2: bad date".into())];
        let e = fine_tune(&model, rows, &TuneConfig::default()).unwrap_err();
        assert!(e.to_string().contains("1 rows skipped"), "{e}");
    }
}
