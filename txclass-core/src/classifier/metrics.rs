//! Evaluation figures, returned as data: accuracy, macro-F1, per-class precision / recall /
//! F1, the confusion matrix and a calibration table. Printing is the caller's business.

use foldhash::HashMap;

/// Figures for one class.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassMetrics {
    /// The label.
    pub label: String,
    /// Of the rows predicted as this label, the share that are.
    pub precision: f64,
    /// Of the rows that are this label, the share predicted as it.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Rows that are this label.
    pub support: u64,
}

/// One bin of the calibration table: predictions whose probability falls in `[low, high)`.
#[derive(Clone, Debug, PartialEq)]
pub struct CalibrationBin {
    /// Lower bound of the bin.
    pub low: f32,
    /// Upper bound (the last bin includes 1).
    pub high: f32,
    /// Predictions in the bin.
    pub count: u64,
    /// Their mean probability.
    pub mean_probability: f64,
    /// The share of them that were right. Calibrated: close to `mean_probability`.
    pub accuracy: f64,
}

/// One point of the coverage / accuracy curve: keep the `coverage` share of rows the model is
/// surest of (flag the rest uncertain); those kept are right `accuracy` of the time.
#[derive(Clone, Debug, PartialEq)]
pub struct CoveragePoint {
    /// Share of rows kept (not flagged).
    pub coverage: f64,
    /// The lowest top probability among the kept rows.
    pub threshold: f32,
    /// Accuracy over the kept rows.
    pub accuracy: f64,
}

/// The result of an evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// Rows evaluated.
    pub rows: u64,
    /// Share of rows whose most likely label is right (thresholds not applied).
    pub accuracy: f64,
    /// Unweighted mean of the per-class F1 over the labels present in the truth.
    pub macro_f1: f64,
    /// Per label, in `labels` order.
    pub per_class: Vec<ClassMetrics>,
    /// Labels of the confusion matrix: the truth's labels and then any predicted-only ones,
    /// sorted.
    pub labels: Vec<String>,
    /// `confusion[truth][predicted]` counts, indexed like `labels`.
    pub confusion: Vec<Vec<u64>>,
    /// Ten equal-width bins of the top probability.
    pub calibration: Vec<CalibrationBin>,
    /// Expected calibration error: bin-size-weighted mean of |accuracy − probability|.
    pub expected_calibration_error: f64,
    /// Rows marked uncertain by the thresholds.
    pub uncertain: u64,
    /// Accuracy over the rows not marked uncertain.
    pub accuracy_when_certain: f64,
    /// Coverage 50 %, 55 %, …, 100 % and the accuracy over the rows kept at each.
    pub coverage_curve: Vec<CoveragePoint>,
}

/// Accumulates (truth, prediction) pairs; [`finish`](Self::finish) computes the figures.
#[derive(Clone, Debug, Default)]
pub struct Evaluator {
    /// Asked twice a row: foldhash, not SipHash (about 200 instructions a label).
    ids: HashMap<String, usize>,
    labels: Vec<String>,
    truth_labels: Vec<bool>,
    pairs: Vec<(usize, usize)>,
    /// (probability, right) per row.
    probs: Vec<(f32, bool)>,
    uncertain: u64,
    certain_right: u64,
}

impl Evaluator {
    /// An empty evaluator.
    pub fn new() -> Self {
        Self::default()
    }

    fn id(&mut self, label: &str) -> usize {
        if let Some(&i) = self.ids.get(label) {
            return i;
        }
        self.ids.insert(label.to_owned(), self.labels.len());
        self.labels.push(label.to_owned());
        self.truth_labels.push(false);
        self.labels.len() - 1
    }

    /// Adds one row: its true label, the most likely label, that label's probability and
    /// whether the thresholds marked it uncertain.
    pub fn add(&mut self, truth: &str, predicted: &str, probability: f32, uncertain: bool) {
        let t = self.id(truth);
        let p = self.id(predicted);
        self.truth_labels[t] = true;
        self.pairs.push((t, p));
        self.probs.push((probability, t == p));
        if uncertain {
            self.uncertain += 1;
        } else if t == p {
            self.certain_right += 1;
        }
    }

    /// The figures (all zero for no rows).
    pub fn finish(self) -> Evaluation {
        let mut order: Vec<usize> = (0..self.labels.len()).collect();
        order.sort_by(|&a, &b| {
            (!self.truth_labels[a], &self.labels[a]).cmp(&(!self.truth_labels[b], &self.labels[b]))
        });
        let mut pos = vec![0; order.len()];
        for (new, &old) in order.iter().enumerate() {
            pos[old] = new;
        }
        let n = order.len();
        let mut confusion = vec![vec![0u64; n]; n];
        for &(t, p) in &self.pairs {
            confusion[pos[t]][pos[p]] += 1;
        }
        let labels: Vec<String> = order.iter().map(|&i| self.labels[i].clone()).collect();
        let rows = self.pairs.len() as u64;
        let right: u64 = (0..n).map(|i| confusion[i][i]).sum();
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let mut per_class = Vec::new();
        for i in 0..n {
            let support: u64 = confusion[i].iter().sum();
            if support == 0 {
                continue; // predicted-only labels are not classes of the truth
            }
            let predicted: u64 = confusion.iter().map(|r| r[i]).sum();
            let precision = ratio(confusion[i][i], predicted);
            let recall = ratio(confusion[i][i], support);
            let f1 = if precision + recall == 0.0 {
                0.0
            } else {
                2.0 * precision * recall / (precision + recall)
            };
            per_class.push(ClassMetrics {
                label: labels[i].clone(),
                precision,
                recall,
                f1,
                support,
            });
        }
        let macro_f1 = if per_class.is_empty() {
            0.0
        } else {
            per_class.iter().map(|c| c.f1).sum::<f64>() / per_class.len() as f64
        };
        let mut bins: Vec<(u64, f64, u64)> = vec![(0, 0.0, 0); 10];
        for &(p, ok) in &self.probs {
            let b = ((p * 10.0) as usize).min(9);
            bins[b].0 += 1;
            bins[b].1 += f64::from(p);
            bins[b].2 += u64::from(ok);
        }
        let calibration: Vec<CalibrationBin> = bins
            .iter()
            .enumerate()
            .map(|(i, &(count, sum, ok))| CalibrationBin {
                low: i as f32 / 10.0,
                high: (i + 1) as f32 / 10.0,
                count,
                mean_probability: if count == 0 { 0.0 } else { sum / count as f64 },
                accuracy: ratio(ok, count),
            })
            .collect();
        let ece = calibration
            .iter()
            .map(|b| b.count as f64 * (b.accuracy - b.mean_probability).abs())
            .sum::<f64>()
            / (rows.max(1) as f64);
        let mut by_p = self.probs.clone();
        by_p.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut coverage_curve = Vec::new();
        if !by_p.is_empty() {
            let mut right = 0u64;
            let mut next = 10usize; // twentieths: 10/20 = 50 %
            for (n, &(p, ok)) in by_p.iter().enumerate() {
                right += u64::from(ok);
                let kept = n + 1;
                if kept * 20 >= next * by_p.len() {
                    coverage_curve.push(CoveragePoint {
                        coverage: kept as f64 / by_p.len() as f64,
                        threshold: p,
                        accuracy: right as f64 / kept as f64,
                    });
                    while next <= 20 && kept * 20 >= next * by_p.len() {
                        next += 1;
                    }
                }
            }
        }
        Evaluation {
            rows,
            accuracy: ratio(right, rows),
            macro_f1,
            per_class,
            labels,
            confusion,
            calibration,
            expected_calibration_error: ece,
            uncertain: self.uncertain,
            accuracy_when_certain: ratio(self.certain_right, rows - self.uncertain),
            coverage_curve,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_of_a_small_case() {
        let mut e = Evaluator::new();
        // truth a,a,b,b,c ; predicted a,b,b,b,a
        for (t, p, prob) in [
            ("a", "a", 0.95),
            ("a", "b", 0.55),
            ("b", "b", 0.9),
            ("b", "b", 0.85),
            ("c", "a", 0.3),
        ] {
            e.add(t, p, prob, prob < 0.35);
        }
        let ev = e.finish();
        assert_eq!(ev.rows, 5);
        assert!((ev.accuracy - 0.6).abs() < 1e-12);
        assert_eq!(ev.labels, vec!["a", "b", "c"]);
        assert_eq!(
            ev.confusion,
            vec![vec![1, 1, 0], vec![0, 2, 0], vec![1, 0, 0]]
        );
        let a = &ev.per_class[0];
        assert!((a.precision - 0.5).abs() < 1e-12 && (a.recall - 0.5).abs() < 1e-12);
        let b = &ev.per_class[1];
        assert!((b.precision - 2.0 / 3.0).abs() < 1e-12 && (b.recall - 1.0).abs() < 1e-12);
        assert_eq!(ev.per_class[2].f1, 0.0);
        let f1_b = 2.0 * (2.0 / 3.0) / (2.0 / 3.0 + 1.0);
        assert!((ev.macro_f1 - (0.5 + f1_b) / 3.0).abs() < 1e-12);
        assert_eq!(ev.uncertain, 1);
        assert!((ev.accuracy_when_certain - 0.75).abs() < 1e-12);
        assert_eq!(ev.calibration[9].count, 2);
        assert_eq!(ev.calibration[8].count, 1);
        assert_eq!(ev.calibration.iter().map(|b| b.count).sum::<u64>(), 5);
        // Sorted by probability: 0.95 ✓, 0.9 ✓, 0.85 ✓, 0.55 ✗, 0.3 ✗.
        let at = |c: f64| ev.coverage_curve.iter().find(|p| p.coverage >= c).unwrap();
        assert_eq!(at(0.6).threshold, 0.85);
        assert!((at(0.6).accuracy - 1.0).abs() < 1e-12);
        assert!((at(1.0).accuracy - 0.6).abs() < 1e-12);
        assert_eq!(ev.coverage_curve.last().unwrap().coverage, 1.0);
    }

    #[test]
    fn predicted_only_labels_come_last_and_are_not_classes() {
        let mut e = Evaluator::new();
        e.add("x", "zz", 0.5, false);
        e.add("y", "y", 0.5, false);
        let ev = e.finish();
        assert_eq!(ev.labels, vec!["x", "y", "zz"]);
        assert_eq!(ev.per_class.len(), 2);
        assert!((ev.macro_f1 - 0.5).abs() < 1e-12);
    }
}
