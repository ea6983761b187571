//! Training a [`LogisticModel`] from labelled rows: featurize while reading, hold out a
//! calibration slice, optimise on sparse rows, fit the softmax temperature.

use std::collections::HashMap;
use std::time::Instant;

use super::features::{fnv1a, FeatureConfig, Featurizer, SparseRow};
use super::model::LogisticModel;
use super::sparse::{minimise, Csr, Objective, Optimisation};
use super::Thresholds;
use crate::model::{Category, Transaction};
use crate::records::RecordError;
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
    /// The first errors of skipped rows (up to 20).
    pub errors: Vec<RecordError>,
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
    /// Seconds spent reading and featurizing.
    pub featurize_seconds: f64,
    /// Seconds spent optimising (and calibrating).
    pub optimise_seconds: f64,
}

/// Rows collected for training: features, label ids in order of first appearance.
struct Collected {
    x: Csr,
    y: Vec<u32>,
    cal_x: Csr,
    cal_y: Vec<u32>,
    labels: Vec<String>,
    skipped: usize,
    errors: Vec<RecordError>,
}

fn collect(
    rows: impl IntoIterator<Item = Result<(Transaction, String), RecordError>>,
    calibration: Option<&mut dyn Iterator<Item = Result<(Transaction, String), RecordError>>>,
    config: &TrainConfig,
) -> Collected {
    let mut f = Featurizer::new(config.features);
    let mut row = SparseRow::default();
    let mut ids: HashMap<String, u32> = HashMap::new();
    let mut c = Collected {
        x: Csr::new(),
        y: Vec::new(),
        cal_x: Csr::new(),
        cal_y: Vec::new(),
        labels: Vec::new(),
        skipped: 0,
        errors: Vec::new(),
    };
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
                    c.cal_x.push(&row);
                    c.cal_y.push(id);
                } else {
                    c.x.push(&row);
                    c.y.push(id);
                }
            }
            Err(e) => {
                c.skipped += 1;
                if c.errors.len() < 20 {
                    c.errors.push(e);
                }
            }
        }
    }
    if let Some(cal) = calibration {
        for r in cal {
            match r {
                Ok((tx, label)) => {
                    // Labels only seen in calibration rows cannot be learnt; drop those rows.
                    if let Some(&id) = ids.get(label.trim()) {
                        f.featurize(&tx, &mut row);
                        c.cal_x.push(&row);
                        c.cal_y.push(id);
                    }
                }
                Err(e) => {
                    c.skipped += 1;
                    if c.errors.len() < 20 {
                        c.errors.push(e);
                    }
                }
            }
        }
    }
    c
}

/// Trains on labelled rows (bad rows are counted and skipped). Calibration rows, when
/// given, fit the temperature; otherwise `config.calibration_fraction` of `rows` is held out
/// for it.
pub fn train(
    rows: impl IntoIterator<Item = Result<(Transaction, String), RecordError>>,
    calibration: Option<&mut dyn Iterator<Item = Result<(Transaction, String), RecordError>>>,
    config: &TrainConfig,
) -> crate::Result<(LogisticModel, TrainReport)> {
    config.validate()?;
    let started = Instant::now();
    let mut c = collect(rows, calibration, config);
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
    c.cal_y.iter_mut().for_each(|y| *y = new_id[*y as usize]);
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
    let dim = config.features.dim();
    let used = c.x.compact_columns(dim);
    let m = used.len();
    let n = c.y.len() as f64;
    let class_weights: Vec<f64> = match config.class_weight {
        ClassWeight::None => vec![1.0; k],
        ClassWeight::Balanced => counts.iter().map(|&c| n / (k as f64 * c as f64)).collect(),
    };
    let objective = Objective {
        x: &c.x,
        y: &c.y,
        class_weights: &class_weights,
        k,
        m,
        l2: config.l2,
        threads: config.threads,
    };
    let (params, optimisation) = minimise(objective, config.max_iterations, config.tolerance)?;

    let mut weights = vec![0.0f32; dim * k];
    for (col, &bucket) in used.iter().enumerate() {
        let b = bucket as usize;
        for cl in 0..k {
            weights[b * k + cl] = params[col * k + cl] as f32;
        }
    }
    let bias: Vec<f32> = params[m * k..].iter().map(|&b| b as f32).collect();
    let labels_c: Vec<Category> = labels.into_iter().map(Category::new).collect();
    let uncalibrated = LogisticModel::from_parts(
        config.features,
        labels_c.clone(),
        weights,
        bias,
        1.0,
        config.thresholds,
    )?;
    let temperature = fit_temperature(&uncalibrated, &c.cal_x, &c.cal_y);
    let model = uncalibrated.with_temperature(temperature)?;
    let report = TrainReport {
        train_rows: c.y.len(),
        calibration_rows: c.cal_y.len(),
        skipped_rows: c.skipped,
        errors: c.errors,
        class_counts: labels_c.into_iter().zip(counts).collect(),
        used_buckets: m,
        nnz: c.x.nnz(),
        optimisation,
        temperature,
        featurize_seconds,
        optimise_seconds: started.elapsed().as_secs_f64(),
    };
    Ok((model, report))
}

/// The temperature `T` in `[0.05, 20]` that minimises the mean negative log-likelihood of
/// `softmax(z / T)` on the calibration rows (golden-section search on `ln T`; the NLL is
/// convex in `1/T`). 1 when there are no rows.
fn fit_temperature(model: &LogisticModel, x: &Csr, y: &[u32]) -> f32 {
    if y.is_empty() {
        return 1.0;
    }
    use super::Classifier;
    let k = model.labels().len();
    // Logits at T = 1: log-probabilities are logits up to a per-row constant.
    let mut logits = vec![0.0f32; y.len() * k];
    let mut row = SparseRow::default();
    for i in 0..y.len() {
        let (idx, val) = x.row(i);
        row.indices.clear();
        row.values.clear();
        row.indices.extend_from_slice(idx);
        row.values.extend_from_slice(val);
        let out = &mut logits[i * k..i * k + k];
        model.probabilities_of_row(&row, out);
        out.iter_mut().for_each(|p| *p = p.max(1e-30).ln());
    }
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
