//! Classification: a [`Classifier`] turns transactions into [`Prediction`]s.
//!
//! Classification is CPU work, so the trait is synchronous; the orchestrator runs large
//! batches on the blocking pool.

mod linfa_small;

pub use linfa_small::SmallLogistic;

use std::sync::Arc;

use crate::model::{Category, Confidence, Prediction, Transaction};

/// Where probabilities become bands and when a guess becomes "uncertain".
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    /// At or above: [`Confidence::High`].
    pub high: f32,
    /// At or above (and below `high`): [`Confidence::Medium`]; below: [`Confidence::Low`].
    pub medium: f32,
    /// Below: the prediction is marked uncertain and labelled [`Category::UNCERTAIN`].
    pub uncertain_below: f32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            high: 0.8,
            medium: 0.5,
            uncertain_below: 0.35,
        }
    }
}

impl Thresholds {
    /// The prediction for a best label and its probability.
    pub fn predict(&self, best: &Category, probability: f32) -> Prediction {
        let confidence = if probability >= self.high {
            Confidence::High
        } else if probability >= self.medium {
            Confidence::Medium
        } else {
            Confidence::Low
        };
        let uncertain = probability < self.uncertain_below;
        Prediction {
            category: if uncertain {
                Category::new(Category::UNCERTAIN)
            } else {
                best.clone()
            },
            probability,
            confidence,
            uncertain,
        }
    }
}

/// A model that labels transactions.
pub trait Classifier: Send + Sync + 'static {
    /// The labels the model can give.
    fn labels(&self) -> &[Category];

    /// A name and version of the model (stored with each classified transaction's record).
    fn version(&self) -> &str;

    /// Classifies one transaction.
    fn predict(&self, tx: &Transaction) -> Prediction;

    /// Classifies many; implementations may do better than one at a time.
    fn predict_batch(&self, txs: &[Transaction]) -> Vec<Prediction> {
        txs.iter().map(|t| self.predict(t)).collect()
    }
}

fn _obj_safe(_: Box<dyn Classifier>) {}

/// The model bundled with the crate (trained on first use from the shipped sample).
pub fn bundled() -> crate::Result<Arc<dyn Classifier>> {
    bundled_with(Thresholds::default())
}

/// The bundled model with other [`Thresholds`] (e.g. a CLI's `--uncertain-below`).
pub fn bundled_with(thresholds: Thresholds) -> crate::Result<Arc<dyn Classifier>> {
    Ok(Arc::new(SmallLogistic::bundled_with(thresholds)?))
}
