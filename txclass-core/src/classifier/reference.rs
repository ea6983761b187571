//! The reference trainer: the same model fitted by `linfa-logistic` on a dense matrix.
//!
//! Why keep it: it is an independent implementation of the same objective, so a test can
//! check that the sparse trainer finds the same optimum. Why not use it in production:
//! linfa-logistic takes a dense `ndarray` matrix, so a pass costs `rows × buckets × classes`
//! (20,000 rows × 4,096 buckets × 10 classes took 17.6 s for 50 iterations); use it on small
//! problems only.
//!
//! linfa minimises `Σᵢ −log pᵢ + (α / 2) ‖W‖²` (a sum); the sparse trainer minimises the
//! mean with `λ = α / n` and no class weights to match.

use linfa::prelude::*;
use linfa_logistic::MultiLogisticRegression;
use ndarray::{Array1, Array2};

use super::features::{FeatureConfig, Featurizer, SparseRow};
use super::model::LogisticModel;
use super::Thresholds;
use crate::domain::{Category, Transaction};
use crate::Error;

/// Trains with linfa-logistic on dense features (small problems only: the matrix is
/// `rows × 2^dim_bits`).
pub fn train_reference(
    rows: &[(Transaction, String)],
    features: FeatureConfig,
    alpha: f64,
    max_iterations: u64,
) -> crate::Result<LogisticModel> {
    features.validate()?;
    let mut labels: Vec<String> = rows.iter().map(|(_, l)| l.clone()).collect();
    labels.sort();
    labels.dedup();
    let dim = features.dim();
    if rows.len().saturating_mul(dim) > 50_000_000 {
        return Err(Error::Model(format!(
            "reference trainer: {} rows × {dim} buckets is too large for a dense matrix",
            rows.len()
        )));
    }
    let mut f = Featurizer::new(features);
    let mut row = SparseRow::default();
    let mut x = Array2::<f64>::zeros((rows.len(), dim));
    let mut y = Array1::<usize>::zeros(rows.len());
    for (i, (tx, label)) in rows.iter().enumerate() {
        f.featurize(tx, &mut row);
        for (&j, &v) in row.indices.iter().zip(&row.values) {
            x[[i, j as usize]] = f64::from(v);
        }
        y[i] = labels.binary_search(label).expect("label present");
    }
    let fitted = MultiLogisticRegression::default()
        .alpha(alpha)
        .max_iterations(max_iterations)
        .fit(&Dataset::new(x, y))
        .map_err(|e| Error::Model(format!("reference training failed: {e}")))?;
    let k = labels.len();
    if fitted.classes().len() != k {
        return Err(Error::Model("reference trainer lost a class".into()));
    }
    let params = fitted.params(); // dim × k
    let mut weights = vec![0.0f32; dim * k];
    for j in 0..dim {
        for c in 0..k {
            weights[j * k + c] = params[[j, c]] as f32;
        }
    }
    let bias = fitted.intercept().iter().map(|&b| b as f32).collect();
    LogisticModel::from_parts(
        features,
        labels.into_iter().map(Category::new).collect(),
        weights,
        bias,
        1.0,
        Thresholds::default(),
    )
}
