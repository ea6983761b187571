//! Classification: a [`Classifier`] turns transactions into [`Prediction`]s.
//!
//! Classification is CPU work, so the trait is synchronous; the orchestrator runs large
//! batches on the blocking pool.
//!
//! ## Layout
//!
//! | module | what |
//! |---|---|
//! | [`familiar`] | which lines' merchant words the model read in training (its second threshold) |
//! | [`features`] | normalisation of statement text and hashed features ([`Featurizer`]) |
//! | [`words`] | word vectors (GloVe, 100-d, bundled): what a merchant word is near |
//! | [`sparse`] | CSR rows and the L-BFGS trainer over them |
//! | `train` | [`train()`]: rows → [`LogisticModel`] + [`TrainReport`] |
//! | `model` | [`LogisticModel`]: prediction and the model file format |
//! | [`metrics`] | [`Evaluator`]: accuracy, macro-F1, per class, confusion, calibration |
//! | `reference` | `train_reference`: the same model fitted by linfa-logistic (dense; feature `workbench`) |
//!
//! ## Why a bundled file, not training at first use
//!
//! The bundled model (`data/bundled.model`, from the real-brand corpus, see
//! [`BUNDLED_MODEL_COMMAND`]) is committed (15.8 MB: `2^16` buckets, 61 labels — the 18
//! categories and their sub-categories, see [`crate::domain::taxonomy`] — a gated context stage) and
//! loaded with `include_bytes!`, like the word vectors its features use ([`words`], 35.6 MB).
//! Training it takes about 5 minutes on 2 cores in a release build (two optimisations of 100
//! L-BFGS iterations, on 180,000 then 200,000 rows) and far longer in a debug build,
//! which every test binary that builds an orchestrator would pay; well over the 1 s budget
//! for training at first use. A committed file also makes the default model identical on
//! every machine.
//!
//! It knows every brand of the corpus (a user's statement names real brands: `NETFLIX.COM`,
//! `LIDL`, `UBER *TRIP`), so it cannot be measured on the corpus's held-out brands; its
//! calibration was fitted on merchants it had not seen yet, with one threshold for the lines
//! whose words it had read meaning the category it guesses and one for the rest (see
//! [`familiar`]), and the same recipe without the test brands
//! (`scripts/bundled-model.sh held-out`) is the model every generalisation figure is
//! measured with.

pub mod explain;
pub mod familiar;
pub mod features;
pub mod metrics;
mod model;
#[cfg(feature = "workbench")]
mod reference;
mod rows;
pub mod sparse;
mod train;
mod tune;
pub mod words;

pub use explain::{ClassScore, Contribution, Explanation};
pub use familiar::Familiarity;
pub use features::{FeatureConfig, Featurizer, NamedFeatures, SparseRow, FEATURE_VERSION};
pub use metrics::{CalibrationBin, ClassMetrics, CoveragePoint, Evaluation, Evaluator};
pub use model::{ContextMode, LogisticModel};
#[cfg(feature = "workbench")]
pub use reference::train_reference;
pub use sparse::Optimisation;
pub use train::{
    fit_threshold_on, train, train_refitting_with, ClassWeight, TrainConfig, TrainReport,
};
pub use tune::{fine_tune, TuneConfig, TuneReport};

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Instant;

use crate::domain::{Category, Confidence, Prediction, Transaction};

/// Where probabilities become bands and when a guess becomes "uncertain".
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    /// At or above: [`Confidence::High`].
    pub high: f32,
    /// At or above (and below `high`): [`Confidence::Medium`]; below: [`Confidence::Low`].
    pub medium: f32,
    /// Below: the prediction of a line that is a [`Familiarity::Stranger`] to the model is
    /// marked uncertain and labelled [`Category::UNCERTAIN`]. A model without a familiar-word
    /// set applies it to every line.
    pub uncertain_below: f32,
    /// The same for a [`Familiarity::Familiar`] line: its merchant words were read in
    /// training, meaning the guess (a model fitted with a target accuracy fits each kind's
    /// threshold on calibration rows of that kind, apart from the others).
    pub familiar_below: f32,
    /// The same for an [`Familiarity::Anchored`] line: a word read meaning the guess beside
    /// words never read.
    pub anchored_below: f32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            high: 0.8,
            medium: 0.5,
            uncertain_below: 0.35,
            familiar_below: 0.35,
            anchored_below: 0.35,
        }
    }
}

impl Thresholds {
    /// Checks that the uncertainty thresholds are in `[0, 1]` and `0 <= medium <= high <= 1`.
    pub fn validate(&self) -> crate::Result<()> {
        let ok = |v: f32| (0.0..=1.0).contains(&v);
        if ok(self.high)
            && ok(self.medium)
            && Familiarity::ALL
                .iter()
                .all(|&kind| ok(self.uncertain_below(kind)))
            && self.medium <= self.high
        {
            Ok(())
        } else {
            Err(crate::Error::InvalidConfig {
                what: format!(
                    "thresholds must be in [0, 1] with medium <= high, got high {} medium {} uncertain_below {} familiar_below {} anchored_below {}",
                    self.high, self.medium, self.uncertain_below, self.familiar_below, self.anchored_below
                ),
            })
        }
    }

    /// One uncertainty threshold for every line, however well the model knows it.
    pub fn one_threshold(self, uncertain_below: f32) -> Self {
        Self {
            uncertain_below,
            familiar_below: uncertain_below,
            anchored_below: uncertain_below,
            ..self
        }
    }

    /// The uncertainty threshold of a line of this [`Familiarity`].
    pub fn uncertain_below(&self, kind: Familiarity) -> f32 {
        match kind {
            Familiarity::Stranger => self.uncertain_below,
            Familiarity::Anchored => self.anchored_below,
            Familiarity::Familiar => self.familiar_below,
        }
    }

    /// The same thresholds with `kind`'s set to `t`.
    pub fn with(mut self, kind: Familiarity, t: f32) -> Self {
        *match kind {
            Familiarity::Stranger => &mut self.uncertain_below,
            Familiarity::Anchored => &mut self.anchored_below,
            Familiarity::Familiar => &mut self.familiar_below,
        } = t;
        self
    }

    /// The prediction for a best label and its probability, on a line that is a stranger
    /// to the model (see [`predict_line`](Self::predict_line)).
    pub fn predict(&self, best: &Category, probability: f32) -> Prediction {
        self.predict_line(best, probability, Familiarity::Stranger)
    }

    /// The prediction for a best label and its probability, on a line of familiarity
    /// `kind`. A line marked uncertain is [`Confidence::Low`] whatever its probability: a
    /// merchant the model never read can score 0.98 and still be the one a human should
    /// check, and `high` beside `uncertain` would tell a reader two things at once.
    pub fn predict_line(&self, best: &Category, probability: f32, kind: Familiarity) -> Prediction {
        if probability < self.uncertain_below(kind) {
            let mut p = Prediction::from_model(
                Category::new(Category::UNCERTAIN),
                probability,
                Confidence::Low,
                true,
            );
            p.guess = Some(best.clone());
            return p;
        }
        let confidence = if probability >= self.high {
            Confidence::High
        } else if probability >= self.medium {
            Confidence::Medium
        } else {
            Confidence::Low
        };
        Prediction::from_model(best.clone(), probability, confidence, false)
    }
}

/// A model that labels transactions.
pub trait Classifier: Send + Sync + 'static {
    /// The labels the model can give.
    fn labels(&self) -> &[Category];

    /// The categories the model gives at the main level: its labels' main categories (the
    /// labels themselves for a flat model). What a user may correct a transaction to.
    fn categories(&self) -> &[Category] {
        self.labels()
    }

    /// A name and version of the model (stored with each classified transaction's record).
    fn version(&self) -> &str;

    /// Classifies one transaction.
    fn predict(&self, tx: &Transaction) -> Prediction;

    /// Classifies many; implementations may do better than one at a time.
    fn predict_batch(&self, txs: &[Transaction]) -> Vec<Prediction> {
        txs.iter().map(|t| self.predict(t)).collect()
    }

    /// Why `tx` gets its label: the most likely label and the runner-up, each with its `top`
    /// largest feature contributions. `None` for a classifier that cannot say.
    fn explain(&self, tx: &Transaction, top: usize) -> Option<Explanation> {
        let _ = (tx, top);
        None
    }
}

fn _obj_safe(_: Box<dyn Classifier>) {}

/// A test model: labels a transaction by the first word of its description (probability 0.9,
/// or 0.2 for `MAYBE`, which the default thresholds call uncertain) and records how many
/// transactions each batch call had.
#[cfg(test)]
#[derive(Default)]
pub(crate) struct FirstWord {
    pub(crate) batches: std::sync::Mutex<Vec<usize>>,
}

#[cfg(test)]
impl Classifier for FirstWord {
    fn labels(&self) -> &[Category] {
        &[]
    }
    fn version(&self) -> &str {
        "first-word"
    }
    fn predict(&self, tx: &Transaction) -> Prediction {
        let word = tx.description.split_whitespace().next().unwrap_or("");
        let p = if word == "MAYBE" { 0.2 } else { 0.9 };
        Thresholds::default().predict(&Category::new(word.to_lowercase()), p)
    }
    fn predict_batch(&self, txs: &[Transaction]) -> Vec<Prediction> {
        self.batches.lock().unwrap().push(txs.len());
        txs.iter().map(|t| self.predict(t)).collect()
    }
}

/// The bundled model file.
const BUNDLED: &[u8] = include_bytes!("../../data/bundled.model");

/// How `data/bundled.model` is made (from the workspace root; the script says why each step).
pub const BUNDLED_MODEL_COMMAND: &str = "scripts/bundled-model.sh ship";

/// The bundled model as its concrete type.
pub fn bundled_model() -> crate::Result<LogisticModel> {
    LogisticModel::from_bytes(BUNDLED)
}

/// The model bundled with the crate: a [`LogisticModel`] trained from the real-brand corpus.
pub fn bundled() -> crate::Result<Arc<dyn Classifier>> {
    Ok(Arc::new(bundled_model()?))
}

/// A model file at `path`, or the bundled model when `path` is `None`, as its concrete type.
pub fn model_at(path: Option<&std::path::Path>) -> crate::Result<LogisticModel> {
    match path {
        Some(p) => LogisticModel::load(p),
        None => bundled_model(),
    }
}

/// A model file at `path`, or the bundled model when `path` is `None`.
pub fn load(path: Option<&std::path::Path>) -> crate::Result<Arc<dyn Classifier>> {
    Ok(Arc::new(model_at(path)?))
}

/// `model` with its uncertainty thresholds replaced by one for every line when
/// `uncertain_below` is given (the bands saved with the model are kept).
pub fn with_uncertain_below(
    model: LogisticModel,
    uncertain_below: Option<f32>,
) -> crate::Result<Arc<dyn Classifier>> {
    let model = match uncertain_below {
        Some(u) => {
            let thresholds = model.thresholds().one_threshold(u);
            model.with_thresholds(thresholds)?
        }
        None => model,
    };
    Ok(Arc::new(model))
}

/// A transaction and its label, or why a row of the input could not be read (in the words
/// of whatever read it: training and evaluation take rows, reading files is `records`').
pub type LabelledRow<E> = Result<(Transaction, String), E>;

/// An evaluation and how it went.
#[derive(Clone, Debug)]
pub struct EvalReport {
    /// The figures at the main level: labels `main/sub` (of the truth and of the model) are
    /// compared by their main category, so a two-level model is measured as a flat one is.
    pub evaluation: Evaluation,
    /// The figures at the label level (`main/sub` compared whole; a bare main id is its own
    /// class) when the model has sub-categories.
    pub sub_evaluation: Option<Evaluation>,
    /// Rows that could not be read.
    pub skipped_rows: usize,
    /// The first errors of skipped rows (up to 20), as their reader worded them.
    pub errors: Vec<String>,
    /// Seconds from the first row read to the last label predicted (reading and parsing
    /// included: the end-to-end prediction time).
    pub predict_seconds: f64,
    /// The rows of each [`Familiarity`] ([`LogisticModel::familiarity`]), by
    /// [`Familiarity::index`].
    pub kinds: [KindFigures; 3],
}

/// The rows of one [`Familiarity`] in an evaluation, at the main level.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct KindFigures {
    /// Rows of the kind.
    pub rows: usize,
    /// Of them, rows whose best main category was right (uncertain or not).
    pub right: usize,
    /// Rows not marked uncertain.
    pub kept: usize,
    /// Of them, rows right.
    pub kept_right: usize,
}

impl KindFigures {
    /// Share of the rows whose best main category was right (0 without any).
    pub fn accuracy(&self) -> f64 {
        self.right as f64 / self.rows.max(1) as f64
    }

    /// Share of the rows not marked uncertain that were right (0 without any).
    pub fn kept_accuracy(&self) -> f64 {
        self.kept_right as f64 / self.kept.max(1) as f64
    }
}

/// Rows a thread takes at least when a batch is split ([`in_parts`]): starting a thread
/// costs tens of microseconds, classifying a line a few.
const MIN_ROWS_PER_THREAD: usize = 256;

/// `f` over `items` in contiguous parts, up to `threads` of them side by side (the first on
/// the calling thread, the others on scoped threads), the results joined in order: how a
/// batch is classified on several cores. A panic in a part is resumed on the caller.
pub fn in_parts<T: Sync, R: Send>(
    items: &[T],
    threads: NonZeroUsize,
    f: impl Fn(&[T]) -> Vec<R> + Sync,
) -> Vec<R> {
    let parts = threads.get().min(items.len() / MIN_ROWS_PER_THREAD).max(1);
    if parts == 1 {
        return f(items);
    }
    let mut chunks = items.chunks(items.len().div_ceil(parts));
    let first = chunks.next().expect("at least one part");
    let f = &f;
    std::thread::scope(|s| {
        let others: Vec<_> = chunks.map(|c| s.spawn(move || f(c))).collect();
        let mut out = f(first);
        for h in others {
            out.extend(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        }
        out
    })
}

/// Evaluates `model` on labelled rows on one thread (see [`evaluate_on`]).
pub fn evaluate<E: std::fmt::Display>(
    model: &LogisticModel,
    rows: impl IntoIterator<Item = LabelledRow<E>>,
) -> EvalReport {
    evaluate_on(model, rows, NonZeroUsize::MIN)
}

/// Evaluates `model` on labelled rows: predicts in batches (each split over up to `threads`
/// threads), compares with the labels at the main level, and at the label level too when the
/// model has sub-categories.
pub fn evaluate_on<E: std::fmt::Display>(
    model: &LogisticModel,
    rows: impl IntoIterator<Item = LabelledRow<E>>,
    threads: NonZeroUsize,
) -> EvalReport {
    const BATCH: usize = 4096;
    let started = Instant::now();
    let mut txs = Vec::with_capacity(BATCH);
    let mut truth = Vec::with_capacity(BATCH);
    let mut results: Vec<(String, crate::domain::taxonomy::Pick, Familiarity)> = Vec::new();
    let (mut skipped, mut errors) = (0, Vec::new());
    let mut flush = |txs: &mut Vec<Transaction>, truth: &mut Vec<String>| {
        let judged = in_parts(txs, threads, |part| model.judged(part));
        for ((pick, kind), t) in judged.into_iter().zip(truth.drain(..)) {
            results.push((t, pick, kind));
        }
        txs.clear();
    };
    for r in rows {
        match r {
            Ok((tx, label)) => {
                txs.push(tx);
                truth.push(label);
                if txs.len() == BATCH {
                    flush(&mut txs, &mut truth);
                }
            }
            Err(e) => {
                skipped += 1;
                if errors.len() < 20 {
                    errors.push(e.to_string());
                }
            }
        }
    }
    flush(&mut txs, &mut truth);
    let predict_seconds = started.elapsed().as_secs_f64();
    let (labels, mains) = (model.labels(), model.mains());
    let th = model.thresholds();
    let mut ev = Evaluator::new();
    let mut sub_ev = model.tree().is_two_level().then(Evaluator::new);
    let mut kinds = [KindFigures::default(); 3];
    for (t, pick, kind) in &results {
        let (t, p) = (t.trim(), pick.probability);
        let main = crate::domain::taxonomy::main_of(t);
        let uncertain = p < th.uncertain_below(*kind);
        ev.add(main, mains[pick.main].as_str(), p, uncertain);
        let (k, right) = (&mut kinds[kind.index()], mains[pick.main].as_str() == main);
        k.rows += 1;
        k.right += usize::from(right);
        k.kept += usize::from(!uncertain);
        k.kept_right += usize::from(!uncertain && right);
        if let Some(sub_ev) = &mut sub_ev {
            let q = pick.label_probability;
            sub_ev.add(t, labels[pick.label].as_str(), q, uncertain);
        }
    }
    EvalReport {
        evaluation: ev.finish(),
        sub_evaluation: sub_ev.map(Evaluator::finish),
        skipped_rows: skipped,
        errors,
        predict_seconds,
        kinds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Under its kind's threshold a line is `uncertain` and keeps the model's best guess;
    /// over it, the guess is the category and no guess is kept apart.
    #[test]
    fn an_uncertain_prediction_keeps_the_best_guess() {
        let t = Thresholds::default().one_threshold(0.5);
        let best = Category::new("groceries");
        let flagged = t.predict_line(&best, 0.3, Familiarity::Stranger);
        assert!(flagged.uncertain);
        assert_eq!(flagged.category.as_str(), Category::UNCERTAIN);
        assert_eq!(flagged.guess, Some(best.clone()));
        assert_eq!(flagged.probability, 0.3);
        let kept = t.predict_line(&best, 0.7, Familiarity::Stranger);
        assert!(!kept.uncertain);
        assert_eq!((&kept.category, &kept.guess), (&best, &None));
        // Serialised, a kept prediction has no `guess` field; a flagged one names it.
        let json = |p: &Prediction| serde_json::to_value(p).unwrap();
        assert!(json(&kept).get("guess").is_none());
        assert_eq!(json(&flagged)["guess"], "groceries");
    }

    /// A flagged line is `low` however high its probability (a stranger to the model at
    /// 0.98 under a 0.999 threshold): `high` beside `uncertain` would say two things.
    #[test]
    fn a_flagged_line_is_low_confidence_at_any_probability() {
        let t = Thresholds::default().with(Familiarity::Stranger, 0.999);
        let best = Category::new("fuel");
        let flagged = t.predict_line(&best, 0.983, Familiarity::Stranger);
        assert!(flagged.uncertain);
        assert_eq!(flagged.confidence, Confidence::Low);
        // The same probability on a line the model knows keeps its band.
        let kept = t.predict_line(&best, 0.983, Familiarity::Familiar);
        assert!(!kept.uncertain);
        assert_eq!(kept.confidence, Confidence::High);
        let medium = t.predict_line(&best, 0.6, Familiarity::Familiar);
        assert_eq!(medium.confidence, Confidence::Medium);
    }

    #[test]
    fn parts_run_on_threads_of_their_own_and_join_in_order() {
        let items: Vec<usize> = (0..2000).collect();
        let threads = NonZeroUsize::new(4).unwrap();
        let out = in_parts(&items, threads, |part| {
            let id = std::thread::current().id();
            part.iter().map(|&i| (i * 2, id)).collect()
        });
        assert_eq!(
            out.iter().map(|(v, _)| *v).collect::<Vec<_>>(),
            (0..2000).map(|i| i * 2).collect::<Vec<_>>()
        );
        let mut ids: Vec<_> = out.iter().map(|(_, id)| *id).collect();
        ids.dedup();
        assert_eq!(ids.len(), 4, "four parts, each on its own thread");
        assert_eq!(
            ids[0],
            std::thread::current().id(),
            "the first on the caller's"
        );
        // Too few items for a second thread: one part, on the caller's thread.
        let few = in_parts(&items[..300], threads, |part| vec![part.len()]);
        assert_eq!(few, [300]);
    }
}
