//! Training a [`LogisticModel`] from labelled rows: featurize while reading, hold out a
//! calibration slice, optimise the text weights on sparse rows, then on the calibration
//! rows fit the context stage (one half) and the softmax temperature and the uncertainty
//! threshold (the other half).
//!
//! ## Why the context stage is fitted on the calibration rows
//!
//! The context must learn how much to add where the *text is weak*; on the training rows the
//! text weights have seen every merchant and are sure of nearly all of them, so the context
//! would learn nothing useful there (or, ungated, learn to override). Calibration rows — at
//! best from merchants, countries and layouts the training rows do not have, as
//! `txclass gen-data` writes them — show the text as unsure as it will be on new data.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;
use std::time::Instant;

use super::familiar::{main_key, Counter, Familiarity, LineKeys};
use super::features::{fnv1a, FeatureConfig, Featurizer, SparseRow, CONTEXT_DIM};
use super::model::{max_softmax, ContextMode, LogisticModel};
use super::sparse::{minimise, minimise_from, Csr, Objective, Optimisation};
use super::{LabelledRow, Thresholds};
use crate::domain::taxonomy::main_of;
use crate::domain::{Category, Transaction};
use crate::Error;

/// How rows of each class weigh in the loss.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClassWeight {
    /// Every row weighs 1: the model follows the class frequencies of the data.
    None,
    /// Rows weigh `n / (k · n_class)`: rare classes count as much as common ones in total
    /// (scikit-learn's `class_weight="balanced"`). Better macro-F1 when classes are skewed.
    #[default]
    Balanced,
}

impl std::str::FromStr for ClassWeight {
    type Err = Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "none" => Ok(Self::None),
            "balanced" => Ok(Self::Balanced),
            other => Err(Error::InvalidConfig {
                what: format!("class weight {other:?} is not none or balanced"),
            }),
        }
    }
}

/// Training settings.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// Feature pipeline settings (saved with the model).
    pub features: FeatureConfig,
    /// L2 strength λ of the mean loss (scikit-learn's `C` is `1 / (λ · n)`).
    pub l2: f64,
    /// Class weighting.
    pub class_weight: ClassWeight,
    /// L-BFGS iteration limit.
    pub max_iterations: u64,
    /// Stop when the gradient norm falls below this.
    pub tolerance: f64,
    /// Threads for the optimisation passes (1 = the calling thread only).
    pub threads: usize,
    /// Share of the rows held out to fit the temperature when no calibration rows are given
    /// (0 disables calibration: temperature 1).
    pub calibration_fraction: f64,
    /// Bands and the uncertainty threshold, saved with the model.
    pub thresholds: Thresholds,
    /// How amount, date and rail enter the score (see [`ContextMode`]).
    pub context: ContextMode,
    /// L2 strength of the context stage.
    pub context_l2: f64,
    /// When set, the uncertainty threshold is fitted on calibration rows: the lowest
    /// probability at which the predictions at or above it are right this often (e.g.
    /// 0.97). `thresholds.uncertain_below` is then ignored.
    pub target_accuracy: Option<f64>,
    /// After calibrating, fit the text weights again on the training and calibration rows
    /// together, keeping the context stage, temperature and threshold fitted while the
    /// calibration rows were new to the model: the model then knows the calibration rows'
    /// merchants too, and stays as unsure of merchants no row names as it measured itself.
    /// Costs a second optimisation.
    pub refit: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            features: FeatureConfig::default(),
            l2: 1e-6,
            class_weight: ClassWeight::default(),
            max_iterations: 100,
            tolerance: 1e-5,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            calibration_fraction: 0.1,
            thresholds: Thresholds::default(),
            context: ContextMode::default(),
            context_l2: 1e-4,
            target_accuracy: None,
            refit: false,
        }
    }
}

impl TrainConfig {
    /// Checks the settings.
    pub fn validate(&self) -> crate::Result<()> {
        self.features.validate()?;
        self.thresholds.validate()?;
        let bad = |what: String| Err(Error::InvalidConfig { what });
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return bad(format!("l2 must be a non-negative number, got {}", self.l2));
        }
        if !(0.0..0.9).contains(&self.calibration_fraction) {
            return bad(format!(
                "calibration fraction must be in [0, 0.9), got {}",
                self.calibration_fraction
            ));
        }
        if !(self.context_l2.is_finite() && self.context_l2 >= 0.0) {
            return bad(format!(
                "context l2 must be non-negative, got {}",
                self.context_l2
            ));
        }
        if let Some(t) = self.target_accuracy {
            if !(0.0..=1.0).contains(&t) {
                return bad(format!("target accuracy must be in [0, 1], got {t}"));
            }
        }
        if self.max_iterations == 0 || self.threads == 0 {
            return bad("max_iterations and threads must be positive".into());
        }
        Ok(())
    }
}

/// What training did.
#[derive(Clone, Debug)]
pub struct TrainReport {
    /// Rows the weights were fitted on.
    pub train_rows: usize,
    /// Rows the temperature was fitted on.
    pub calibration_rows: usize,
    /// Rows skipped because they could not be read (first ones kept in `errors`).
    pub skipped_rows: usize,
    /// The first errors of skipped rows (up to 20), as their reader worded them.
    pub errors: Vec<String>,
    /// Calibration and refit rows left out because no training row has their label (a
    /// label cannot be learnt from rows the weights are not fitted on): each such label and
    /// its rows, in label order.
    pub unlearnt: Vec<(String, usize)>,
    /// Rows per label, in label order.
    pub class_counts: Vec<(Category, usize)>,
    /// Buckets that occur in the training rows (the optimised parameters are this × labels).
    pub used_buckets: usize,
    /// Non-zero features in the training matrix.
    pub nnz: usize,
    /// The optimiser's figures.
    pub optimisation: Optimisation,
    /// Fitted softmax temperature.
    pub temperature: f32,
    /// Calibration rows the context stage was fitted on (0 without one).
    pub context_rows: usize,
    /// The uncertainty threshold saved with the model (fitted when a target accuracy is set).
    pub uncertain_below: f32,
    /// The threshold of lines the model is familiar with (see [`super::familiar`]).
    pub familiar_below: f32,
    /// The threshold of anchored lines (see [`super::familiar`]).
    pub anchored_below: f32,
    /// Calibration rows the thresholds were fitted on, by [`Familiarity::index`] (zeros
    /// without a target accuracy).
    pub threshold_rows: [usize; 3],
    /// Seconds spent reading and featurizing.
    pub featurize_seconds: f64,
    /// Seconds spent optimising (and calibrating).
    pub optimise_seconds: f64,
}

/// Rows collected for training: features, label ids in order of first appearance.
struct Collected {
    x: Csr,
    y: Vec<u32>,
    /// The calibration rows' text features with every word, as a training row has them
    /// (what the refit trains on).
    cal_x: Csr,
    /// The calibration rows' transactions, until `cal_scored` is filled.
    cal_tx: Vec<Transaction>,
    /// Their text features as the trained model scores a line: without the words and pairs
    /// the training rows did not read ([`Featurizer::featurize_reading`]; filled once every
    /// training row is counted).
    cal_scored: Csr,
    /// Context buckets of the calibration rows (value 1).
    cal_ctx: Csr,
    cal_y: Vec<u32>,
    /// The training rows' merchant words, counted.
    words: Counter,
    /// The calibration rows' merchant keys.
    cal_words: Vec<LineKeys>,
    /// Rows only the refit trains on, and their merchant keys.
    refit_x: Csr,
    refit_y: Vec<u32>,
    refit_words: Vec<LineKeys>,
    labels: Vec<String>,
    skipped: usize,
    errors: Vec<String>,
    /// Calibration and refit rows of labels no training row has, by label.
    unlearnt: BTreeMap<String, usize>,
}

impl Collected {
    /// Keeps `tx`, the transaction last featurized by `f` (text features `row`, label `id`),
    /// as a calibration row; `ctx` is scratch.
    fn push_calibration(
        &mut self,
        f: &Featurizer,
        tx: &Transaction,
        row: &SparseRow,
        id: u32,
        ctx: &mut SparseRow,
    ) {
        self.cal_tx.push(tx.clone());
        ctx.clear();
        ctx.indices.extend_from_slice(f.context());
        ctx.values.resize(ctx.indices.len(), 1.0);
        self.cal_x.push(row);
        self.cal_ctx.push(ctx);
        self.cal_y.push(id);
        let mut words = LineKeys::default();
        f.merchant_keys(&mut words);
        self.cal_words.push(words);
    }

    /// Counts a refused row, keeping the first 20 errors.
    /// Counts a calibration or refit row of `label`, which no training row has.
    fn leave_out(&mut self, label: &str) {
        *self.unlearnt.entry(label.trim().to_owned()).or_default() += 1;
    }

    fn skip(&mut self, e: &impl Display) {
        self.skipped += 1;
        if self.errors.len() < 20 {
            self.errors.push(e.to_string());
        }
    }
}

fn collect<E: Display>(
    rows: impl IntoIterator<Item = LabelledRow<E>>,
    calibration: Option<&mut dyn Iterator<Item = LabelledRow<E>>>,
    refit_rows: Option<&mut dyn Iterator<Item = LabelledRow<E>>>,
    config: &TrainConfig,
) -> Collected {
    let mut f = Featurizer::new(config.features);
    let mut row = SparseRow::default();
    let mut ctx = SparseRow::default();
    let mut ids: HashMap<String, u32> = HashMap::new();
    let mut c = Collected {
        x: Csr::new(),
        y: Vec::new(),
        cal_x: Csr::new(),
        cal_tx: Vec::new(),
        cal_scored: Csr::new(),
        cal_ctx: Csr::new(),
        cal_y: Vec::new(),
        words: Counter::default(),
        cal_words: Vec::new(),
        refit_x: Csr::new(),
        refit_y: Vec::new(),
        refit_words: Vec::new(),
        labels: Vec::new(),
        skipped: 0,
        errors: Vec::new(),
        unlearnt: BTreeMap::new(),
    };
    let mut keys = LineKeys::default();
    let threshold = (config.calibration_fraction * 1_000_000.0) as u64;
    let hold_out = calibration.is_none() && threshold > 0;
    let mut id_of = |label: &str, c: &mut Collected| -> u32 {
        let label = label.trim();
        if let Some(&i) = ids.get(label) {
            return i;
        }
        let i = c.labels.len() as u32;
        ids.insert(label.to_owned(), i);
        c.labels.push(label.to_owned());
        i
    };
    for (n, r) in rows.into_iter().enumerate() {
        match r {
            Ok((tx, label)) => {
                let known = c.labels.len();
                let id = id_of(&label, &mut c);
                // A label's first row always trains, so any label with one example is learnt.
                let first_of_label = c.labels.len() > known;
                f.featurize(&tx, &mut row);
                let to_cal = hold_out
                    && !first_of_label
                    && fnv1a(0x0ca1, &(n as u64).to_le_bytes()) % 1_000_000 < threshold;
                if to_cal {
                    c.push_calibration(&f, &tx, &row, id, &mut ctx);
                } else {
                    c.x.push(&row);
                    c.y.push(id);
                    f.merchant_keys(&mut keys);
                    c.words.add(&keys, main_key(main_of(label.trim())));
                }
            }
            Err(e) => c.skip(&e),
        }
    }
    if let Some(cal) = calibration {
        for r in cal {
            match r {
                Ok((tx, label)) => {
                    // Labels only seen in calibration rows cannot be learnt; those rows are
                    // left out, and counted.
                    if let Some(&id) = ids.get(label.trim()) {
                        f.featurize(&tx, &mut row);
                        c.push_calibration(&f, &tx, &row, id, &mut ctx);
                    } else {
                        c.leave_out(&label);
                    }
                }
                Err(e) => c.skip(&e),
            }
        }
    }
    for r in refit_rows.into_iter().flatten() {
        match r {
            // As for calibration rows: a label no training row has cannot be learnt.
            Ok((tx, label)) => {
                if let Some(&id) = ids.get(label.trim()) {
                    f.featurize(&tx, &mut row);
                    c.refit_x.push(&row);
                    c.refit_y.push(id);
                    let mut words = LineKeys::default();
                    f.merchant_keys(&mut words);
                    c.refit_words.push(words);
                } else {
                    c.leave_out(&label);
                }
            }
            Err(e) => c.skip(&e),
        }
    }
    // What the training rows read is known now: the calibration rows as a model of them
    // scores a user's lines.
    let read = c.words.finish();
    for tx in std::mem::take(&mut c.cal_tx) {
        f.featurize_reading(&tx, &mut row, Some(&read));
        c.cal_scored.push(&row);
    }
    c
}

/// Trains on labelled rows (bad rows are counted and skipped). Calibration rows, when
/// given, fit the temperature; otherwise `config.calibration_fraction` of `rows` is held out
/// for it.
pub fn train<E: Display>(
    rows: impl IntoIterator<Item = LabelledRow<E>>,
    calibration: Option<&mut dyn Iterator<Item = LabelledRow<E>>>,
    config: &TrainConfig,
) -> crate::Result<(LogisticModel, TrainReport)> {
    train_refitting_with(rows, calibration, None, config)
}

/// [`train`], with rows that only the refit ([`TrainConfig::refit`]) trains on besides the
/// training and calibration rows: lines of merchants the calibration rows hold out, which
/// the calibration must not have seen but the final model should know.
pub fn train_refitting_with<E: Display>(
    rows: impl IntoIterator<Item = LabelledRow<E>>,
    calibration: Option<&mut dyn Iterator<Item = LabelledRow<E>>>,
    refit_rows: Option<&mut dyn Iterator<Item = LabelledRow<E>>>,
    config: &TrainConfig,
) -> crate::Result<(LogisticModel, TrainReport)> {
    config.validate()?;
    if refit_rows.is_some() && !config.refit {
        return Err(Error::InvalidConfig {
            what: "rows for the refit need the refit switched on".into(),
        });
    }
    let started = Instant::now();
    let mut c = collect(rows, calibration, refit_rows, config);
    if c.labels.len() < 2 {
        return Err(Error::Model(format!(
            "training needs at least 2 labels, found {} in {} rows",
            c.labels.len(),
            c.y.len()
        )));
    }
    // Labels in sorted order, so that a model's label list does not depend on row order.
    let mut order: Vec<usize> = (0..c.labels.len()).collect();
    order.sort_by(|&a, &b| c.labels[a].cmp(&c.labels[b]));
    let mut new_id = vec![0u32; order.len()];
    for (new, &old) in order.iter().enumerate() {
        new_id[old] = new as u32;
    }
    c.y.iter_mut().for_each(|y| *y = new_id[*y as usize]);
    let later = c.cal_y.iter_mut().chain(&mut c.refit_y);
    later.for_each(|y| *y = new_id[*y as usize]);
    let labels: Vec<String> = order.iter().map(|&i| c.labels[i].clone()).collect();
    let k = labels.len();
    let mut counts = vec![0usize; k];
    c.y.iter().for_each(|&y| counts[y as usize] += 1);
    if let Some(i) = counts.iter().position(|&n| n == 0) {
        return Err(Error::Model(format!(
            "label {:?} has no training rows (all held out for calibration): add rows or lower the calibration fraction",
            labels[i]
        )));
    }
    let featurize_seconds = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let n_cal = c.cal_y.len();
    let refit = config.refit && n_cal > 0;
    if !refit && !c.refit_y.is_empty() {
        return Err(Error::Model(
            "rows for the refit, but no calibration rows to refit after".into(),
        ));
    }
    // The refit needs the training rows with their buckets; the first fit renumbers them.
    let train_x = refit.then(|| c.x.clone());
    let labels_c: Vec<Category> = labels.into_iter().map(Category::new).collect();
    let text = fit_text(&mut c.x, &c.y, k, config, None)?;
    let (mut m, mut optimisation, class_weights) = (
        text.used,
        text.optimisation.clone(),
        text.class_weights.clone(),
    );
    let uncalibrated = text.model(config, &labels_c)?;
    // Calibration rows: even ones fit the context stage, odd ones the temperature and the
    // threshold (all of them when there is no context stage).
    let (stage_rows, tail_rows): (Vec<usize>, Vec<usize>) = if config.context == ContextMode::Off {
        (Vec::new(), (0..n_cal).collect())
    } else {
        (0..n_cal).partition(|i| i % 2 == 0)
    };
    let context = if stage_rows.is_empty() {
        None
    } else {
        Some(fit_context(
            &uncalibrated,
            &c,
            &stage_rows,
            config,
            &class_weights,
        )?)
    };
    let uncalibrated = match context.clone() {
        None => uncalibrated,
        Some((bias, weights, text_t)) => {
            uncalibrated.with_context(config.context, text_t, bias, weights)?
        }
    };
    let temperature = fit_temperature(&uncalibrated, &c, &tail_rows);
    let mut model = uncalibrated.with_temperature(temperature)?;
    let mut threshold_rows = [0; 3];
    if let Some(target) = config.target_accuracy {
        let thresholds;
        (thresholds, threshold_rows) = fit_thresholds(&model, &c, &tail_rows, target);
        model = model.with_thresholds(thresholds)?;
    }
    let mut train_rows = c.y.len();
    if let Some(mut x) = train_x {
        // The text weights again, on every row; the calibration fitted above (on rows whose
        // merchants the first weights had not seen) is kept: it describes how sure the model
        // should be of merchants that no row names, which is what a user's new merchants are.
        for (from, n) in [(&c.cal_x, n_cal), (&c.refit_x, c.refit_y.len())] {
            for i in 0..n {
                let (indices, values) = from.row(i);
                x.push(&SparseRow {
                    indices: indices.to_vec(),
                    values: values.to_vec(),
                });
            }
        }
        let mut y = std::mem::take(&mut c.y);
        y.extend_from_slice(&c.cal_y);
        y.extend_from_slice(&c.refit_y);
        (c.cal_y.iter().chain(&c.refit_y)).for_each(|&y| counts[y as usize] += 1);
        // From the first weights: the optimum moves little, and the iterations go further.
        let text = fit_text(&mut x, &y, k, config, Some(&text))?;
        let mut refitted = text.model(config, &labels_c)?;
        (m, optimisation, train_rows) = (text.used, text.optimisation, y.len());
        if let Some((bias, weights, text_t)) = context {
            refitted = refitted.with_context(config.context, text_t, bias, weights)?;
        }
        model = refitted
            .with_temperature(temperature)?
            .with_thresholds(model.thresholds())?;
        // The refitted weights read the calibration rows' words too, and the refit rows'.
        let later = c.cal_words.iter().zip(&c.cal_y);
        for (words, &y) in later.chain(c.refit_words.iter().zip(&c.refit_y)) {
            c.words
                .add(words, main_key(main_of(labels_c[y as usize].as_str())));
        }
    }
    let model = model.with_familiar(c.words.finish());
    let report = TrainReport {
        train_rows,
        calibration_rows: c.cal_y.len(),
        skipped_rows: c.skipped,
        errors: c.errors,
        unlearnt: c.unlearnt.into_iter().collect(),
        class_counts: labels_c.into_iter().zip(counts).collect(),
        used_buckets: m,
        nnz: c.x.nnz(),
        optimisation,
        temperature,
        context_rows: stage_rows.len(),
        uncertain_below: model.thresholds().uncertain_below,
        familiar_below: model.thresholds().familiar_below,
        anchored_below: model.thresholds().anchored_below,
        threshold_rows,
        featurize_seconds,
        optimise_seconds: started.elapsed().as_secs_f64(),
    };
    Ok((model, report))
}

/// The text weights fitted on some rows, as an uncalibrated model.
struct TextFit {
    /// The weights, `dim × k` by bucket, and biases.
    weights: Vec<f32>,
    bias: Vec<f32>,
    /// Buckets that occur in the rows.
    used: usize,
    optimisation: Optimisation,
    /// The weight of each label's rows in the loss.
    class_weights: Vec<f64>,
}

impl TextFit {
    /// The weights as an uncalibrated model of `labels`.
    fn model(&self, config: &TrainConfig, labels: &[Category]) -> crate::Result<LogisticModel> {
        LogisticModel::from_parts(
            config.features,
            labels.to_vec(),
            self.weights.clone(),
            self.bias.clone(),
            1.0,
            config.thresholds,
        )
    }
}

/// Optimises the text weights on rows `x` (their columns are renumbered to the buckets they
/// use) with label ids `y`, each of the `k` present at least once, from zero or from the
/// weights of `start` (a fit of the same features and labels).
fn fit_text(
    x: &mut Csr,
    y: &[u32],
    k: usize,
    config: &TrainConfig,
    start: Option<&TextFit>,
) -> crate::Result<TextFit> {
    let mut counts = vec![0usize; k];
    y.iter().for_each(|&y| counts[y as usize] += 1);
    let dim = config.features.dim();
    let used = x.compact_columns(dim);
    let m = used.len();
    let n = y.len() as f64;
    let class_weights: Vec<f64> = match config.class_weight {
        ClassWeight::None => vec![1.0; k],
        ClassWeight::Balanced => counts.iter().map(|&c| n / (k as f64 * c as f64)).collect(),
    };
    let objective = Objective {
        x: &*x,
        y,
        class_weights: &class_weights,
        k,
        m,
        l2: config.l2,
        threads: config.threads,
        offset: None,
        intercepts: true,
    };
    let mut params = vec![0.0; (m + 1) * k];
    if let Some(start) = start {
        for (col, &bucket) in used.iter().enumerate() {
            let b = bucket as usize * k;
            for cl in 0..k {
                params[col * k + cl] = f64::from(start.weights[b + cl]);
            }
        }
        for cl in 0..k {
            params[m * k + cl] = f64::from(start.bias[cl]);
        }
    }
    let (params, optimisation) =
        minimise_from(objective, params, config.max_iterations, config.tolerance)?;
    let mut weights = vec![0.0f32; dim * k];
    for (col, &bucket) in used.iter().enumerate() {
        let b = bucket as usize;
        for cl in 0..k {
            weights[b * k + cl] = params[col * k + cl] as f32;
        }
    }
    let bias: Vec<f32> = params[m * k..].iter().map(|&b| b as f32).collect();
    Ok(TextFit {
        weights,
        bias,
        used: m,
        optimisation,
        class_weights,
    })
}

/// A calibration row's text features and context buckets.
fn cal_row(c: &Collected, i: usize, row: &mut SparseRow, ctx: &mut Vec<u32>) {
    let (idx, val) = c.cal_scored.row(i);
    row.indices.clear();
    row.values.clear();
    row.indices.extend_from_slice(idx);
    row.values.extend_from_slice(val);
    ctx.clear();
    ctx.extend_from_slice(c.cal_ctx.row(i).0);
}

/// Fits the context stage on calibration rows `rows`: logistic regression on the context
/// buckets (value `u` = how unsure the text is, or 1 ungated) with the text's logits as a
/// fixed offset. Returns its bias, `CONTEXT_DIM × k` weights and the text temperature the
/// gate uses.
fn fit_context(
    model: &LogisticModel,
    c: &Collected,
    rows: &[usize],
    config: &TrainConfig,
    class_weights: &[f64],
) -> crate::Result<(Vec<f32>, Vec<f32>, f32)> {
    use super::Classifier;
    let k = model.labels().len();
    let mut x = Csr::new();
    let mut y = Vec::with_capacity(rows.len());
    let mut offset = Vec::with_capacity(rows.len() * k);
    let (mut row, mut ctx) = (SparseRow::default(), Vec::new());
    let mut z = vec![0.0f32; k];
    let mut crow = SparseRow::default();
    // The text's own temperature on these rows: the trained text weights are surer of
    // themselves than they are right on new merchants, and the gate should know how sure
    // the text really is.
    for &i in rows {
        cal_row(c, i, &mut row, &mut ctx);
        model.text_logits(&row, &mut z);
        offset.extend_from_slice(&z);
        y.push(c.cal_y[i]);
    }
    let text_temperature = temperature_of(&offset, &y, k);
    for (n, &i) in rows.iter().enumerate() {
        cal_row(c, i, &mut row, &mut ctx);
        let z = &offset[n * k..n * k + k];
        let u = match config.context {
            // The gate as prediction computes it (`Context::gate`).
            ContextMode::Gated => 1.0 - max_softmax(z, 1.0 / text_temperature),
            _ => 1.0,
        };
        crow.clear();
        crow.indices.extend_from_slice(&ctx);
        crow.values.resize(ctx.len(), u);
        x.push(&crow);
    }
    let objective = Objective {
        x: &x,
        y: &y,
        class_weights,
        k,
        m: CONTEXT_DIM,
        l2: config.context_l2,
        threads: config.threads,
        offset: Some(&offset),
        // No intercepts: the stage counts only as much as the text is unsure. Its bias would
        // be added to every line, sure or not, and pull the scores toward the calibration
        // rows' label frequencies: a label those rows rarely have (the brands every model
        // must know are never held out) would lose lines its merchant's name makes certain.
        intercepts: false,
    };
    let (params, _) = minimise(objective, 200, config.tolerance)?;
    let weights = params[..CONTEXT_DIM * k]
        .iter()
        .map(|&w| w as f32)
        .collect();
    let bias = params[CONTEXT_DIM * k..]
        .iter()
        .map(|&b| b as f32)
        .collect();
    Ok((bias, weights, text_temperature))
}

/// The final scores `s` (before the temperature) of calibration rows `rows`, `k` per row.
fn scores(model: &LogisticModel, c: &Collected, rows: &[usize]) -> Vec<f32> {
    use super::Classifier;
    let k = model.labels().len();
    let mut out = vec![0.0f32; rows.len() * k];
    let (mut row, mut ctx) = (SparseRow::default(), Vec::new());
    for (n, &i) in rows.iter().enumerate() {
        cal_row(c, i, &mut row, &mut ctx);
        let z = &mut out[n * k..n * k + k];
        model.text_logits(&row, z);
        model.add_context(&ctx, z);
    }
    out
}

/// Calibration rows a kind of line ([`Familiarity`]) needs for a threshold of its own;
/// with fewer, its threshold is the one fitted on all the rows.
const MIN_THRESHOLD_ROWS: usize = 200;

/// The model's thresholds with the uncertainty threshold of each [`Familiarity`] fitted, and
/// how many of `rows` were of each kind: for each kind, the lowest `t` such that the
/// predictions of its calibration rows (among `rows`) whose top main-category probability is
/// at least `t` are right (at the main level) at least `target` of the time (1 when none
/// is). Familiarity is judged against the training rows' words, so calibration rows of
/// merchants no training row named are strangers or anchored, as a user's new merchants
/// will be.
fn fit_thresholds(
    model: &LogisticModel,
    c: &Collected,
    rows: &[usize],
    target: f64,
) -> (Thresholds, [usize; 3]) {
    use super::Classifier;
    let k = model.labels().len();
    let (mut row, mut ctx) = (SparseRow::default(), Vec::new());
    let mut p = vec![0.0f32; k];
    let tree = model.tree();
    let scored = rows.iter().map(|&i| {
        cal_row(c, i, &mut row, &mut ctx);
        model.probabilities_of_row(&row, &ctx, &mut p);
        // Uncertainty is decided at the main level (see `crate::domain::taxonomy`).
        let pick = tree.pick(&p);
        let right = pick.main == tree.main_of(c.cal_y[i] as usize);
        let main = main_key(tree.mains()[pick.main].as_str());
        let kind = c.words.familiarity(&c.cal_words[i], main);
        (pick.probability, right, kind)
    });
    thresholds_by_kind(scored, target, model.thresholds())
}

/// `base` with the threshold of each [`Familiarity`] fitted on `(probability, right, kind)`
/// of calibration rows (see [`fit_thresholds`]), and how many rows were of each kind.
fn thresholds_by_kind(
    scored: impl Iterator<Item = (f32, bool, Familiarity)>,
    target: f64,
    base: Thresholds,
) -> (Thresholds, [usize; 3]) {
    let mut all = Vec::new();
    let mut by_kind: [Vec<(f32, bool)>; 3] = Default::default();
    for (p, right, kind) in scored {
        all.push((p, right));
        by_kind[kind.index()].push((p, right));
    }
    let pooled = accuracy_threshold(&mut all, target);
    let mut thresholds = base;
    for kind in Familiarity::ALL {
        let rows = &mut by_kind[kind.index()];
        let t = if rows.len() < MIN_THRESHOLD_ROWS {
            pooled
        } else {
            accuracy_threshold(rows, target)
        };
        thresholds = thresholds.with(kind, t);
    }
    (thresholds, by_kind.map(|rows| rows.len()))
}

/// The uncertainty threshold of `model` fitted on labelled `rows` (bad rows are skipped): the
/// lowest probability at which its predictions at or above it are right `target` of the time
/// there, judged at the main level. For a model trained on every merchant it knows, fitted on
/// new lines of those merchants, as its users' statements mostly are. Returns the threshold
/// and the rows it was fitted on.
///
/// With a familiar-word set the model has a threshold per [`Familiarity`]: each is fitted on
/// the rows of its kind ([`LogisticModel::familiarity`]); the thresholds returned are the
/// model's with the three replaced.
pub fn fit_threshold_on<E: Display>(
    model: &LogisticModel,
    rows: impl IntoIterator<Item = LabelledRow<E>>,
    target: f64,
) -> crate::Result<(Thresholds, usize)> {
    if !(0.0..=1.0).contains(&target) {
        return Err(Error::InvalidConfig {
            what: format!("target accuracy must be in [0, 1], got {target}"),
        });
    }
    let (txs, labels): (Vec<_>, Vec<_>) = rows.into_iter().filter_map(Result::ok).unzip();
    if txs.is_empty() {
        return Err(Error::Model("no rows to fit the threshold on".into()));
    }
    let mains = model.tree().mains();
    let scored =
        model
            .judged(&txs)
            .into_iter()
            .zip(&labels)
            .map(|((pick, kind), label): (_, &String)| {
                let main = main_of(label.trim());
                (pick.probability, mains[pick.main].as_str() == main, kind)
            });
    let (thresholds, _) = thresholds_by_kind(scored, target, model.thresholds());
    Ok((thresholds, txs.len()))
}

/// The lowest `t` among the probabilities such that the rows with probability `>= t` are
/// right at least `target` of the time; 1 when no `t` is.
pub(crate) fn accuracy_threshold(by_p: &mut [(f32, bool)], target: f64) -> f32 {
    by_p.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut right = 0usize;
    let mut best = 1.0f32;
    for (n, &(p, ok)) in by_p.iter().enumerate() {
        right += usize::from(ok);
        let next_differs = by_p.get(n + 1).is_none_or(|q| q.0 < p);
        if next_differs && right as f64 >= target * (n + 1) as f64 {
            best = p;
        }
    }
    best
}

/// The temperature `T` in `[0.05, 20]` that minimises the mean negative log-likelihood of
/// `softmax(s / T)` on calibration rows `rows` (golden-section search on `ln T`; the NLL is
/// convex in `1/T`). 1 when there are no rows.
fn fit_temperature(model: &LogisticModel, c: &Collected, rows: &[usize]) -> f32 {
    if rows.is_empty() {
        return 1.0;
    }
    use super::Classifier;
    let logits = scores(model, c, rows);
    let y: Vec<u32> = rows.iter().map(|&i| c.cal_y[i]).collect();
    temperature_of(&logits, &y, model.labels().len())
}

/// The temperature in `[0.05, 20]` that minimises the mean NLL of `softmax(logits / T)`
/// against `y` (`k` logits per row).
fn temperature_of(logits: &[f32], y: &[u32], k: usize) -> f32 {
    let nll = |log_t: f64| -> f64 {
        let inv = (-log_t).exp();
        let mut total = 0.0;
        for (i, &yi) in y.iter().enumerate() {
            let z = &logits[i * k..i * k + k];
            let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
            let s: f64 = z.iter().map(|&v| ((v as f64 - max) * inv).exp()).sum();
            total += s.ln() - (z[yi as usize] as f64 - max) * inv;
        }
        total / y.len() as f64
    };
    let (mut a, mut b) = (0.05f64.ln(), 20.0f64.ln());
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let mut c = b - g * (b - a);
    let mut d = a + g * (b - a);
    let (mut fc, mut fd) = (nll(c), nll(d));
    for _ in 0..40 {
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - g * (b - a);
            fc = nll(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + g * (b - a);
            fd = nll(d);
        }
    }
    (((a + b) / 2.0).exp()) as f32
}

#[cfg(test)]
mod tests {
    use super::{accuracy_threshold, thresholds_by_kind, MIN_THRESHOLD_ROWS};
    use crate::classifier::{Familiarity, Thresholds};

    /// Familiar rows right 99 times in 100 at any probability, anchored ones right above
    /// 0.6, strangers only above 0.9: each kind gets its own threshold; a kind with too few
    /// rows gets the pooled one.
    #[test]
    fn each_kind_of_line_gets_the_threshold_its_own_rows_call_for() {
        let rows = |n: usize, kind: Familiarity| -> Vec<(f32, bool, Familiarity)> {
            (0..n)
                .map(|i| {
                    let p = 0.3 + 0.7 * i as f32 / n as f32;
                    let right = match kind {
                        Familiarity::Familiar => i % 100 != 0,
                        Familiarity::Anchored => p > 0.6,
                        Familiarity::Stranger => p > 0.9,
                    };
                    (p, right, kind)
                })
                .collect()
        };
        let base = Thresholds::default();
        let all = Familiarity::ALL.into_iter().flat_map(|k| rows(1_000, k));
        let (t, counts) = thresholds_by_kind(all, 0.97, base);
        assert_eq!(counts, [1_000; 3]);
        assert!(t.familiar_below < 0.31, "{t:?}");
        assert!((0.58..0.62).contains(&t.anchored_below), "{t:?}");
        assert!((0.88..0.92).contains(&t.uncertain_below), "{t:?}");
        assert_eq!((t.high, t.medium), (base.high, base.medium));
        // Too few familiar rows: they take the threshold of all the rows.
        let few = rows(MIN_THRESHOLD_ROWS - 1, Familiarity::Familiar);
        let strangers = rows(1_000, Familiarity::Stranger);
        let mut pooled: Vec<(f32, bool)> =
            few.iter().chain(&strangers).map(|r| (r.0, r.1)).collect();
        let pooled = accuracy_threshold(&mut pooled, 0.97);
        let (t, _) = thresholds_by_kind(few.into_iter().chain(strangers), 0.97, base);
        assert_eq!(t.familiar_below, pooled);
        assert_eq!(t.anchored_below, pooled);
        assert!((0.88..0.92).contains(&t.uncertain_below), "{t:?}");
    }

    #[test]
    fn the_threshold_is_the_lowest_that_keeps_the_target_accuracy() {
        let mut rows = vec![
            (0.99, true),
            (0.95, true),
            (0.9, true),
            (0.8, false),
            (0.7, true),
            (0.6, false),
        ];
        // At 0.7: 4 right of 5 (0.8); at 0.9: 3 of 3.
        assert_eq!(accuracy_threshold(&mut rows, 0.8), 0.7);
        assert_eq!(accuracy_threshold(&mut rows, 0.85), 0.9);
        assert_eq!(accuracy_threshold(&mut rows, 0.0), 0.6);
        // Ties are kept or flagged together.
        let mut tied = vec![(0.9, true), (0.9, false), (0.5, true)];
        assert_eq!(accuracy_threshold(&mut tied, 0.9), 1.0);
    }
}
