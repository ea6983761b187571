//! A small logistic-regression model trained with `linfa-logistic` on dense hashed features.
//!
//! Why dense and small: linfa-logistic trains on dense `ndarray` matrices only, which is
//! fine for a few hundred rows and a few hundred features (the sample shipped with the
//! crate) and far too slow for production-sized training sets.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use linfa::prelude::*;
use linfa_logistic::{MultiFittedLogisticRegression, MultiLogisticRegression};
use ndarray::{Array1, Array2};

use super::{Classifier, Thresholds};
use crate::model::{Category, Prediction, Transaction};
use crate::Error;

const DIM: usize = 512;
const SAMPLE: &str = include_str!("../../data/sample.csv");

/// Hashed word features of a description plus sign and magnitude of the amount.
fn features(tx: &Transaction, out: &mut [f64]) {
    out.iter_mut().for_each(|x| *x = 0.0);
    let text: String = tx
        .description
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                ' '
            }
        })
        .collect();
    for word in text
        .split_whitespace()
        .filter(|w| !w.chars().all(|c| c.is_ascii_digit()))
    {
        let mut h = DefaultHasher::new();
        word.hash(&mut h);
        out[2 + (h.finish() as usize % (DIM - 2))] += 1.0;
    }
    out[0] = if tx.amount_minor >= 0 { 1.0 } else { -1.0 };
    out[1] = ((tx.amount_minor.unsigned_abs() as f64) / 100.0 + 1.0).ln() / 10.0;
}

/// The small linfa model.
pub struct SmallLogistic {
    model: MultiFittedLogisticRegression<f64, usize>,
    labels: Vec<Category>,
    thresholds: Thresholds,
}

impl SmallLogistic {
    /// Trains on `rows` of (transaction, label).
    pub fn train(rows: &[(Transaction, String)], thresholds: Thresholds) -> crate::Result<Self> {
        let mut labels: Vec<String> = rows.iter().map(|(_, l)| l.clone()).collect();
        labels.sort();
        labels.dedup();
        let mut x = Array2::<f64>::zeros((rows.len(), DIM));
        let mut y = Array1::<usize>::zeros(rows.len());
        for (i, (tx, label)) in rows.iter().enumerate() {
            features(tx, x.row_mut(i).as_slice_mut().expect("contiguous row"));
            y[i] = labels.binary_search(label).expect("label present");
        }
        let model = MultiLogisticRegression::default()
            .alpha(0.01)
            .max_iterations(200)
            .fit(&Dataset::new(x, y))
            .map_err(|e| Error::Model(format!("training failed: {e}")))?;
        Ok(Self {
            model,
            labels: labels.into_iter().map(Category::new).collect(),
            thresholds,
        })
    }

    /// Trained on the sample shipped with the crate (`data/sample.csv`).
    pub fn bundled() -> crate::Result<Self> {
        Self::bundled_with(Thresholds::default())
    }

    /// Trained on the shipped sample, with other thresholds.
    pub fn bundled_with(thresholds: Thresholds) -> crate::Result<Self> {
        let mut rows = Vec::new();
        for rec in crate::records::read_labelled(SAMPLE.as_bytes()) {
            let rec = rec.map_err(|e| Error::Model(format!("bundled sample: {e}")))?;
            rows.push(rec);
        }
        Self::train(&rows, thresholds)
    }
}

impl Classifier for SmallLogistic {
    fn labels(&self) -> &[Category] {
        &self.labels
    }

    fn version(&self) -> &str {
        "small-logistic-v1"
    }

    fn predict(&self, tx: &Transaction) -> Prediction {
        self.predict_batch(std::slice::from_ref(tx))
            .pop()
            .expect("one prediction")
    }

    fn predict_batch(&self, txs: &[Transaction]) -> Vec<Prediction> {
        if txs.is_empty() {
            return Vec::new();
        }
        let mut x = Array2::<f64>::zeros((txs.len(), DIM));
        for (i, tx) in txs.iter().enumerate() {
            features(tx, x.row_mut(i).as_slice_mut().expect("contiguous row"));
        }
        let probs = self.model.predict_probabilities(&x);
        probs
            .rows()
            .into_iter()
            .map(|row| {
                let (best, p) = row.iter().enumerate().fold((0, f64::MIN), |acc, (i, &p)| {
                    if p > acc.1 {
                        (i, p)
                    } else {
                        acc
                    }
                });
                self.thresholds.predict(&self.labels[best], p as f32)
            })
            .collect()
    }
}
