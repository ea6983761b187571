//! Why a model gave a line its label: the exact contribution of each feature.
//!
//! A logistic regression's score for a class is its bias plus, for every feature of the
//! line, the feature's value times its weight for that class; the context stage adds its
//! features' weights scaled by how unsure the text is. So each feature's share of a score is
//! exact, not estimated. [`LogisticModel::explain`](super::LogisticModel::explain) names
//! each share by what the line contained — a word, a pair of words, a character n-gram, a
//! payment rail, a context feature such as the amount's size — never by a hash bucket,
//! through [`Featurizer::named`](super::Featurizer::named).

use serde::{Deserialize, Serialize};

use crate::domain::{Category, Prediction};

/// Features shown per label in an explanation when the caller does not say (the HTTP routes'
/// `explain=true`, `txclass explain`).
pub const DEFAULT_TOP: usize = 5;

/// A prediction with what made it (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Explanation {
    /// The prediction, as [`Classifier::predict`](super::Classifier::predict) gives it.
    pub prediction: Prediction,
    /// How much the context features counted: `1 − max p_text` for a gated context stage,
    /// 1 for an always-on one, 0 without one.
    pub context_weight: f32,
    /// The most likely label first, then the runner-up (fewer with a one-label model).
    pub classes: Vec<ClassScore>,
}

/// One label's score, taken apart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClassScore {
    /// The label.
    pub category: Category,
    /// Its probability.
    pub probability: f32,
    /// Its score before the softmax: `bias` + every contribution (`top` and `rest`).
    pub score: f32,
    /// The label's bias (the text's and the context stage's).
    pub bias: f32,
    /// The features that raised the score most, largest first.
    pub top: Vec<Contribution>,
    /// The sum of every other feature's contribution.
    pub rest: f32,
}

/// One feature's share of a score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Contribution {
    /// What the line contained, e.g. `word "padaria"`, `chars "_pad"`, `rail "pag"`,
    /// `glued "dischem"` (two adjacent words read as the word they make glued),
    /// `context: money out, about 7-15 USD`.
    pub feature: String,
    /// Value × weight, added to the score.
    pub contribution: f32,
}

impl ClassScore {
    /// A class's score from its bias and every feature's contribution, keeping the `top`
    /// largest.
    pub(crate) fn new(
        category: Category,
        probability: f32,
        score: f32,
        bias: f32,
        mut all: Vec<Contribution>,
        top: usize,
    ) -> Self {
        // A feature spread over several buckets (the word vectors' dimensions) is one
        // contribution.
        all.sort_by(|a, b| a.feature.cmp(&b.feature));
        all.dedup_by(|later, kept| {
            let same = later.feature == kept.feature;
            if same {
                kept.contribution += later.contribution;
            }
            same
        });
        all.retain(|c| c.contribution != 0.0);
        all.sort_by(|a, b| b.contribution.total_cmp(&a.contribution));
        let rest = all.iter().skip(top).map(|c| c.contribution).sum();
        all.truncate(top);
        Self {
            category,
            probability,
            score,
            bias,
            top: all,
            rest,
        }
    }
}
