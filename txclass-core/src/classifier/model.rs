//! The production model: hashed text features, one weight row per bucket; a context stage
//! (amount, date, rail) that counts as much as the text is unsure; softmax with a fitted
//! temperature; and its file format.
//!
//! ## Scoring
//!
//! `z = bias + Σ text weights` are the text's logits and `p_text = softmax(z / T_text)`, with
//! `T_text` fitted on held-out rows so that `p_text` says how often the text alone is right.
//! With a context stage, `s = z + u · Σ context weights + context bias`, where
//! `u = 1 − max p_text` ([`ContextMode::Gated`]) or `u = 1` ([`ContextMode::Always`], kept for
//! the ablation); without one `s = z`. Probabilities are `softmax(s / T)`. The trainer leaves
//! the context bias at zero (it would move every line, however sure its text); models trained
//! before that carry one.
//!
//! ## Uncertainty
//!
//! A line is `uncertain` when its main category's probability is below the threshold of how
//! well the model knows the line ([`Thresholds::uncertain_below`]; see [`super::familiar`]):
//! `uncertain_below` for a stranger, `anchored_below` for a line with a word the model read
//! meaning its guess beside words it never read, `familiar_below` for a line whose words it
//! read.
//!
//! A model trained by this build scores a line without the merchant words and pairs of words
//! its training rows did not read, as its familiar-word set says (see
//! [`super::features`]); a model of format 5 or before was calibrated with them, and keeps
//! them.
//!
//! ## File format (version 6), all little-endian
//!
//! | bytes | what |
//! |---|---|
//! | 8 | magic `TXCLSMDL` |
//! | 4 | format version (`u32`, 6; version 5 is the same layout for a model that scores unread words, versions 4, with the text weights as `f32`, 3, without the anchored threshold either, and 2, without the three rows before the checksum, are read too) |
//! | 4 | feature version ([`FEATURE_VERSION`]; 3 to 10, see [`FeatureConfig::of_version`]) |
//! | 1 | `dim_bits` |
//! | 4 | `k`, number of labels |
//! | 4 × 4 | temperature, thresholds high / medium / uncertain-below (`f32`) |
//! | k × (2 + len) | labels: `u16` length, UTF-8 |
//! | 4 × k | intercepts (`f32`) |
//! | 4 | `r`, number of stored buckets |
//! | r × (8 + k) | bucket index (`u32`), the scale `s` of its weights (`f32`), then its `k` weights as `i8` values `q`, each weight `s · q` (see [`super::rows`]; version 4: `k` weights as `f32`) |
//! | 1 | context mode: 0 none, 1 gated, 2 always |
//! | 4 + 4 × k + 4 × k × [`CONTEXT_DIM`] | if a context stage: `T_text`, its bias, then its weights bucket by bucket |
//! | 4 | threshold of familiar lines (`f32`) |
//! | 4 | threshold of anchored lines (`f32`) |
//! | 1 + 2^b / 8 | familiar-word set: `b` (`u8`, 0 for none), then `2^b` bits as `u64`s |
//! | 8 | FNV-1a 64 of everything before |
//!
//! Why our own layout, not bincode or postcard: the model is one flat table of weights, so a
//! loop of `from_le_bytes` reads it as fast as any serializer, without a dependency or a
//! derive on a type with a 4-million-entry vector; buckets that no training row used have
//! all-zero weights and are skipped, so the file grows with the data, not with
//! `2^dim_bits`; and every field is spelled out above, so another language can read it.
//! Versions are checked on load: a file from another format or feature pipeline is refused
//! with a message that says which, never misread.

use std::path::Path;

use super::explain::{ClassScore, Contribution, Explanation};
use super::familiar::{main_key, Familiar, Familiarity, LineKeys};
use super::features::{fnv1a, vector_buckets, FeatureConfig, Featurizer, SparseRow, CONTEXT_DIM};
use super::rows::{mul_add, TextRows};
use super::{Classifier, Thresholds};
use crate::domain::taxonomy::{LabelTree, Pick};
use crate::domain::{Category, Prediction, Transaction};
use crate::Error;

const MAGIC: &[u8; 8] = b"TXCLSMDL";
/// Labels scored together in the word-vector block: 64 sums, eight AVX registers (sixteen
/// SSE ones), a model of up to 64 labels in one block. With 16, a 61-label model's 100
/// dimensions were read four times over, and each block's last chunk of sums was a scalar
/// tail: `benches/instructions_per_row.sh` on the benchmark's model, 40,676 → 38,655
/// instructions a line.
const BLOCK: usize = 64;
const FORMAT_VERSION: u32 = 6;
/// The format of models that score the words their training rows did not read (calibrated
/// with them); still read.
const FORMAT_VERSION_5: u32 = 5;
/// The format with text weights as `f32`; still read (and the weights quantized).
const FORMAT_VERSION_4: u32 = 4;
/// The format before the anchored lines' threshold (they take the strangers'); still read.
const FORMAT_VERSION_3: u32 = 3;
/// The format before the familiar-word set; still read.
const FORMAT_VERSION_2: u32 = 2;

/// How the context (amount, date, rail) enters the score.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ContextMode {
    /// Not at all: the text alone.
    Off,
    /// Scaled by how unsure the text is (`1 − max p_text`): the shipped model.
    #[default]
    Gated,
    /// At full weight whatever the text says (for the ablation).
    Always,
}

impl std::str::FromStr for ContextMode {
    type Err = Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "off" => Ok(Self::Off),
            "gated" => Ok(Self::Gated),
            "always" => Ok(Self::Always),
            other => Err(Error::InvalidConfig {
                what: format!("context mode {other:?} is not off, gated or always"),
            }),
        }
    }
}

/// The context stage's weights.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Context {
    pub mode: ContextMode,
    /// `T_text`: the text's logits over it give `p_text`.
    pub text_temperature: f32,
    /// `k` values.
    pub bias: Vec<f32>,
    /// `CONTEXT_DIM × k`, the `k` weights of a bucket adjacent.
    pub weights: Vec<f32>,
}

impl Context {
    /// The stage from its parts (`bias`: `k` values, `weights`: `CONTEXT_DIM × k`), checked;
    /// none for [`ContextMode::Off`].
    fn checked(
        k: usize,
        mode: ContextMode,
        text_temperature: f32,
        bias: Vec<f32>,
        weights: Vec<f32>,
    ) -> crate::Result<Option<Self>> {
        if bias.len() != k || weights.len() != CONTEXT_DIM * k {
            return Err(Error::Model("context weights do not match labels".into()));
        }
        check_temperature("text temperature", text_temperature)?;
        check_parameters("context bias", &bias)?;
        check_parameters("context weights", &weights)?;
        Ok((mode != ContextMode::Off).then_some(Context {
            mode,
            text_temperature,
            bias,
            weights,
        }))
    }

    /// The `k` weights of context bucket `bucket`.
    #[inline(always)]
    fn weights_of(&self, bucket: u32, k: usize) -> &[f32] {
        &self.weights[bucket as usize * k..bucket as usize * k + k]
    }

    /// How much the context counts for text logits `z`: `1 − max p_text` when gated, else 1.
    #[inline(always)]
    fn gate(&self, z: &[f32]) -> f32 {
        match self.mode {
            ContextMode::Gated => 1.0 - max_softmax(z, 1.0 / self.text_temperature),
            _ => 1.0,
        }
    }
}

/// Multinomial logistic regression over hashed features (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct LogisticModel {
    features: FeatureConfig,
    labels: Vec<Category>,
    /// The text weights, a row per bucket that training used (see [`super::rows`]).
    rows: TextRows,
    /// The rows of the word-vector dimensions' buckets, copied side by side so that
    /// prediction scores the mean vector as one dense block (predicting without the copy,
    /// through the sparse row, ran at about half the rows per second of predicting without
    /// word vectors); empty without word vectors. Laid out by blocks of `BLOCK` labels
    /// (padded with zeros), dimension by dimension within a block (`[b · DIM + d]`): a
    /// block's sums stay in registers while the dimensions go by.
    vector_blocks: Vec<[f32; BLOCK]>,
    bias: Vec<f32>,
    /// Logits are divided by it before the softmax (fitted on held-out rows).
    temperature: f32,
    /// The context stage, if any.
    context: Option<Context>,
    /// The words and pairs of words its training rows had, if it keeps them.
    familiar: Option<Familiar>,
    /// Whether a line is scored without the words and pairs `familiar` lacks (format 6; a
    /// model of format 5 or before was calibrated with them).
    leaves_out_unread: bool,
    thresholds: Thresholds,
    version: String,
    /// How the labels roll up to main categories (derived from the labels: a label
    /// `main/sub` belongs to `main`).
    tree: LabelTree,
}

/// What every model must satisfy: valid features and thresholds, two labels or more, a
/// positive temperature.
fn check_parts(
    features: FeatureConfig,
    thresholds: Thresholds,
    k: usize,
    temperature: f32,
) -> crate::Result<()> {
    features.validate()?;
    thresholds.validate()?;
    if k < 2 {
        return Err(Error::Model(format!(
            "a model needs 2 labels or more, got {k}"
        )));
    }
    check_temperature("temperature", temperature)
}

/// Largest magnitude of a weight or bias a model may hold. Trained ones stay within tens;
/// with a few hundred features per line of value ≤ 4 each, scores stay far from `f32`'s
/// overflow, so every probability of a model that loads is finite.
const MAX_PARAMETER: f32 = 1e6;

/// Temperatures a model may hold (training fits one in `[0.05, 20]`): far enough from 0 that
/// `1 / T` is finite.
const TEMPERATURES: std::ops::RangeInclusive<f32> = 1e-3..=1e3;

fn check_temperature(what: &str, t: f32) -> crate::Result<()> {
    if !TEMPERATURES.contains(&t) {
        return Err(Error::Model(format!(
            "{what} {t} is outside {}..={}",
            TEMPERATURES.start(),
            TEMPERATURES.end()
        )));
    }
    Ok(())
}

/// Refuses a NaN, an infinity or a weight beyond [`MAX_PARAMETER`] among `values`.
fn check_parameters(what: &str, values: &[f32]) -> crate::Result<()> {
    match values
        .iter()
        .find(|v| v.is_nan() || v.abs() > MAX_PARAMETER)
    {
        Some(v) => Err(Error::Model(format!(
            "{what}: {v} is not a finite value within ±{MAX_PARAMETER}"
        ))),
        None => Ok(()),
    }
}

impl LogisticModel {
    /// Builds a model from its parts; `weights` is `dim × labels.len()`.
    pub fn from_parts(
        features: FeatureConfig,
        labels: Vec<Category>,
        weights: Vec<f32>,
        bias: Vec<f32>,
        temperature: f32,
        thresholds: Thresholds,
    ) -> crate::Result<Self> {
        check_parts(features, thresholds, labels.len(), temperature)?;
        let k = labels.len();
        if weights.len() != features.dim() * k || bias.len() != k {
            return Err(Error::Model("weights do not match dim × labels".into()));
        }
        check_parameters("bias", &bias)?;
        check_parameters("weights", &weights)?;
        let mut rows = TextRows::new(features.dim(), k);
        for (b, w) in weights.chunks_exact(k).enumerate() {
            rows.push(b, w);
        }
        Ok(Self::assemble(features, labels, rows, bias, temperature, thresholds).sealed())
    }

    /// The model from its checked parts, not yet [`sealed`](Self::sealed) (its version
    /// unset): callers add the other parts and seal once (a seal writes the whole model).
    fn assemble(
        features: FeatureConfig,
        labels: Vec<Category>,
        rows: TextRows,
        bias: Vec<f32>,
        temperature: f32,
        thresholds: Thresholds,
    ) -> Self {
        let k = labels.len();
        let vector_rows: Vec<Vec<f32>> = vector_buckets(features)
            .into_iter()
            .map(|b| rows.weights(b))
            .collect();
        let mut vector_blocks = Vec::with_capacity(k.div_ceil(BLOCK) * vector_rows.len());
        for from in (0..k).step_by(BLOCK) {
            vector_blocks.extend(vector_rows.iter().map(|w| {
                let mut block = [0.0; BLOCK];
                block.iter_mut().zip(&w[from..]).for_each(|(b, w)| *b = *w);
                block
            }));
        }
        Self {
            features,
            tree: LabelTree::new(&labels),
            labels,
            rows,
            vector_blocks,
            bias,
            temperature,
            context: None,
            familiar: None,
            leaves_out_unread: false,
            thresholds,
            version: String::new(),
        }
    }

    /// The same model with `delta` added to the text weights of `buckets` (`delta`: `k`
    /// values per bucket, in `buckets` order); everything else (bias, context stage,
    /// temperature, thresholds) is kept.
    pub(crate) fn nudged(&self, buckets: &[u32], delta: &[f32]) -> crate::Result<Self> {
        let k = self.labels.len();
        if delta.len() != buckets.len() * k {
            return Err(Error::Model("nudge does not match buckets × labels".into()));
        }
        let mut changed: std::collections::HashMap<usize, Vec<f32>> = buckets
            .iter()
            .zip(delta.chunks_exact(k))
            .map(|(&b, d)| {
                let mut w = self.rows.weights(b);
                w.iter_mut().zip(d).for_each(|(w, d)| *w += d);
                (b as usize, w)
            })
            .collect();
        // Rows not nudged keep their lines as they are (no second rounding).
        let mut rows = TextRows::new(self.features.dim(), k);
        for b in 0..self.features.dim() {
            match changed.remove(&b) {
                Some(w) => rows.push(b, &w),
                None => {
                    if let Some((scale, q)) = self.rows.row_of(b as u32) {
                        rows.push_quantized(b, scale, q);
                    }
                }
            }
        }
        let mut model = Self::assemble(
            self.features,
            self.labels.clone(),
            rows,
            self.bias.clone(),
            self.temperature,
            self.thresholds,
        );
        model.context = self.context.clone();
        model.familiar = self.familiar.clone();
        model.leaves_out_unread = self.leaves_out_unread;
        Ok(model.sealed())
    }

    /// The same model with a context stage (`bias`: `k` values, `weights`: `CONTEXT_DIM × k`).
    pub(crate) fn with_context(
        mut self,
        mode: ContextMode,
        text_temperature: f32,
        bias: Vec<f32>,
        weights: Vec<f32>,
    ) -> crate::Result<Self> {
        self.context = Context::checked(self.labels.len(), mode, text_temperature, bias, weights)?;
        Ok(self.sealed())
    }

    /// The same model with a familiar-word set (its threshold is in the thresholds), scoring
    /// lines without the words and pairs the set lacks.
    pub(crate) fn with_familiar(mut self, familiar: Familiar) -> Self {
        self.familiar = Some(familiar);
        self.leaves_out_unread = true;
        self.sealed()
    }

    /// The set of words and pairs a line is scored with, when the model leaves out the others.
    fn read_set(&self) -> Option<&Familiar> {
        self.familiar.as_ref().filter(|_| self.leaves_out_unread)
    }

    /// The same model having read lines users labelled (their merchant keys and main
    /// category key; see [`Familiar::learn`]). Nothing changes without a familiar-word set.
    pub(crate) fn with_lines_learnt(mut self, lines: &[(LineKeys, u64)]) -> Self {
        if let Some(set) = &mut self.familiar {
            lines
                .iter()
                .for_each(|(words, main)| set.learn(words, *main));
        }
        self.sealed()
    }

    /// How well the model knows `tx`'s merchant words for the main category it guesses (see
    /// [`super::familiar`]): which of its thresholds decides whether the prediction is
    /// uncertain. Always [`Familiarity::Stranger`] for a model without a familiar-word set.
    pub fn familiarity(&self, tx: &Transaction) -> Familiarity {
        self.judged(std::slice::from_ref(tx))[0].1
    }

    /// How the context enters the score.
    pub fn context_mode(&self) -> ContextMode {
        self.context.as_ref().map_or(ContextMode::Off, |c| c.mode)
    }

    /// The same model with another softmax temperature.
    pub(crate) fn with_temperature(mut self, temperature: f32) -> crate::Result<Self> {
        check_temperature("temperature", temperature)?;
        self.temperature = temperature;
        Ok(self.sealed())
    }

    /// Sets the version from the saved bytes' checksum: two models with the same version
    /// predict the same.
    fn sealed(self) -> Self {
        let bytes = self.to_bytes();
        let sum = u64::from_le_bytes(bytes[bytes.len() - 8..].try_into().expect("8 bytes"));
        self.versioned(sum)
    }

    /// Sets the version from `sum`, the checksum of the model's bytes as
    /// [`to_bytes`](Self::to_bytes) writes them.
    fn versioned(mut self, sum: u64) -> Self {
        self.version = format!("logreg-f{}-{:08x}", self.features.version(), sum as u32);
        self
    }

    /// How the labels roll up to main categories (one label per main for a flat model).
    pub fn tree(&self) -> &LabelTree {
        &self.tree
    }

    /// The main categories the model can give (its labels, for a flat model).
    pub fn mains(&self) -> &[Category] {
        self.tree.mains()
    }

    /// The prediction for one row's label probabilities, on a line of familiarity `kind`
    /// ([`familiarity`](Self::familiarity)): category, probability, band and
    /// `uncertain` at the main level (probabilities summed over each main's labels), and the
    /// most likely sub-category under that category.
    pub fn prediction(&self, probabilities: &[f32], kind: Familiarity) -> Prediction {
        self.prediction_of(self.tree.pick(probabilities), kind)
    }

    fn prediction_of(&self, pick: Pick, kind: Familiarity) -> Prediction {
        let mut p =
            self.thresholds
                .predict_line(&self.tree.mains()[pick.main], pick.probability, kind);
        if !p.uncertain {
            p.sub_category = self.tree.sub_of(pick.label).cloned();
            p.sub_probability = p.sub_category.as_ref().map(|_| pick.label_probability);
        }
        p.taxonomy_version = self.tree.taxonomy_version().map(str::to_owned);
        p
    }

    /// The feature settings.
    pub fn features(&self) -> FeatureConfig {
        self.features
    }

    /// The softmax temperature.
    pub fn temperature(&self) -> f32 {
        self.temperature
    }

    /// The thresholds in use.
    pub fn thresholds(&self) -> Thresholds {
        self.thresholds
    }

    /// The same model with other thresholds (they are saved with the model).
    pub fn with_thresholds(mut self, thresholds: Thresholds) -> crate::Result<Self> {
        thresholds.validate()?;
        self.thresholds = thresholds;
        Ok(self.sealed())
    }

    /// Buckets with a non-zero weight.
    pub fn used_buckets(&self) -> usize {
        self.rows.used()
    }

    /// The text's logits `z` for a featurized row, written into `out` (length `k`).
    #[inline(always)]
    pub fn text_logits(&self, row: &SparseRow, out: &mut [f32]) {
        self.text_logits_fused::<false>(row, out);
    }

    /// [`text_logits`](Self::text_logits), the multiply-adds fused when `FUSED`.
    #[inline(always)]
    fn text_logits_fused<const FUSED: bool>(&self, row: &SparseRow, out: &mut [f32]) {
        out.copy_from_slice(&self.bias);
        self.rows.add::<FUSED>(row, out);
    }

    /// The text's logits for `tx`, written into `out` (length `k`): the
    /// [`text_logits`](Self::text_logits) of its features, with the word-vector block scored
    /// densely (the same sums in another order). Leaves `tx`'s context features in `f`.
    #[inline(always)]
    fn text_logits_of<const FUSED: bool>(
        &self,
        f: &mut Featurizer,
        row: &mut SparseRow,
        tx: &Transaction,
        out: &mut [f32],
    ) {
        let vector = f.featurize_split(tx, row, self.read_set());
        self.text_logits_fused::<FUSED>(row, out);
        if let Some(v) = vector {
            for (o, block) in out
                .chunks_mut(BLOCK)
                .zip(self.vector_blocks.chunks_exact(v.len()))
            {
                let mut sums = [0.0f32; BLOCK];
                for (&x, w) in v.iter().zip(block) {
                    sums.iter_mut()
                        .zip(w)
                        .for_each(|(s, &w)| *s = mul_add::<FUSED>(x, w, *s));
                }
                o.iter_mut().zip(sums).for_each(|(o, s)| *o += s);
            }
        }
    }

    /// Adds the context stage to text logits `z` (in place): the final scores `s` before the
    /// temperature. `context`: the row's context buckets.
    #[inline(always)]
    pub(crate) fn add_context(&self, context: &[u32], z: &mut [f32]) {
        let Some(c) = &self.context else { return };
        let k = z.len();
        let u = c.gate(z);
        for &b in context {
            let w = c.weights_of(b, k);
            z.iter_mut().zip(w).for_each(|(o, w)| *o += u * w);
        }
        z.iter_mut().zip(&c.bias).for_each(|(o, b)| *o += b);
    }

    /// Probabilities of every label (in [`labels`](Classifier::labels) order) for a featurized
    /// row and its context buckets, written into `out` (length `k`).
    pub fn probabilities_of_row(&self, row: &SparseRow, context: &[u32], out: &mut [f32]) {
        self.text_logits(row, out);
        self.add_context(context, out);
        softmax_in_place(out, 1.0 / self.temperature);
    }

    /// Probabilities of every label for `tx`.
    pub fn probabilities(&self, tx: &Transaction) -> Vec<f32> {
        let mut f = Featurizer::new(self.features);
        let mut out = vec![0.0; self.labels.len()];
        self.probabilities_into(&mut f, &mut SparseRow::default(), tx, &mut out);
        out
    }

    /// Probabilities of every label for `tx` into `out` (length `k`); `f` and `row` are
    /// scratch.
    ///
    /// Scored in the widest arithmetic the processor has, chosen when it runs. Scoring adds,
    /// per line, about sixty rows of 8-bit weights, a 100 × `k` block of word-vector weights
    /// and the context's rows: a few thousand numbers converted and multiplied. A build for
    /// any x86-64 processor does that four at a time (SSE2); with AVX2, eight. On the
    /// benchmark's lines (`txclass eval --threads 1` as `benches/classifier_vs_sklearn.sh
    /// speed` runs it), that raised the rows a second by 6-9 % (best of ten alternating runs,
    /// four times: 187,990 → 200,034, 180,962 → 197,019, 189,018 → 202,664, 194,325 →
    /// 206,894); AVX-512 gave nothing more. With FMA too, the text rows' and the word-vector
    /// block's multiply-adds are one instruction each ([`mul_add`]; the compiler does not fuse
    /// a multiply and an add on its own, as they round differently): 33,468 → 32,377
    /// instructions a line (`benches/instructions_per_row.sh`, the benchmark's model), the
    /// probabilities within 1e-7 of the unfused ones, the same guesses and flags. The
    /// processor is asked once (the standard library keeps the answer); one without them runs
    /// the same code for SSE2.
    ///
    /// Why `unsafe` (one of the crate's two uses, with [`crate::prefetch`]): calling a function
    /// compiled for instructions the processor may lack is undefined behaviour unless it was
    /// checked to have them, which the compiler cannot see. (A generic wrapper taking a
    /// closure was tried: the closure was not inlined into it, and ran at the SSE2 speed.)
    #[allow(unsafe_code)]
    fn probabilities_into(
        &self,
        f: &mut Featurizer,
        row: &mut SparseRow,
        tx: &Transaction,
        out: &mut [f32],
    ) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                // SAFETY: the processor has AVX2 and FMA, checked just above.
                return unsafe { self.probabilities_into_avx2(f, row, tx, out) };
            }
        }
        self.probabilities_into_any::<false>(f, row, tx, out)
    }

    /// [`probabilities_into`](Self::probabilities_into) compiled for AVX2 and FMA: what it
    /// calls is `#[inline(always)]`, so compiled into it with them.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn probabilities_into_avx2(
        &self,
        f: &mut Featurizer,
        row: &mut SparseRow,
        tx: &Transaction,
        out: &mut [f32],
    ) {
        self.probabilities_into_any::<true>(f, row, tx, out)
    }

    /// [`probabilities_into`](Self::probabilities_into) for any processor (`FUSED`: compiled
    /// for FMA).
    #[inline(always)]
    fn probabilities_into_any<const FUSED: bool>(
        &self,
        f: &mut Featurizer,
        row: &mut SparseRow,
        tx: &Transaction,
        out: &mut [f32],
    ) {
        self.text_logits_of::<FUSED>(f, row, tx, out);
        self.add_context(f.context(), out);
        softmax_in_place(out, 1.0 / self.temperature);
    }

    /// `p_text`: probabilities of the text alone (no context; over `T_text`, or the model's
    /// temperature without a context stage), the figure that decides how much the context
    /// counts.
    pub fn text_probabilities(&self, tx: &Transaction) -> Vec<f32> {
        let mut f = Featurizer::new(self.features);
        let mut out = vec![0.0; self.labels.len()];
        self.text_logits_of::<false>(&mut f, &mut SparseRow::default(), tx, &mut out);
        let t = self
            .context
            .as_ref()
            .map_or(self.temperature, |c| c.text_temperature);
        softmax_in_place(&mut out, 1.0 / t);
        out
    }

    /// Why `tx` gets its label: the most likely label and the runner-up, each with its `top`
    /// largest feature contributions (see [`explain`](super::explain)).
    pub fn explain(&self, tx: &Transaction, top: usize) -> Explanation {
        let k = self.labels.len();
        let named = Featurizer::new(self.features).named(tx, self.read_set());
        let mut scores = self.bias.clone();
        for (_, bucket, value) in &named.text {
            self.rows.add_one(*bucket, *value, &mut scores);
        }
        let context = self.context.as_ref();
        let gate = context.map_or(0.0, |c| c.gate(&scores));
        if let Some(c) = context {
            for (_, bucket) in &named.context {
                let w = c.weights_of(*bucket, k);
                scores.iter_mut().zip(w).for_each(|(o, w)| *o += gate * w);
            }
            scores.iter_mut().zip(&c.bias).for_each(|(o, b)| *o += b);
        }
        // The probabilities and the prediction are `predict`'s own (the scores above are the
        // same sums in another order, equal to rounding).
        let probabilities = self.probabilities(tx);
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by(|&a, &b| probabilities[b].total_cmp(&probabilities[a]));
        let classes = order
            .iter()
            .take(2)
            .map(|&class| {
                let mut all: Vec<Contribution> = named
                    .text
                    .iter()
                    .map(|(name, bucket, value)| Contribution {
                        feature: name.clone(),
                        contribution: value * self.rows.weight(*bucket, class),
                    })
                    .collect();
                let mut bias = self.bias[class];
                if let Some(c) = context {
                    all.extend(named.context.iter().map(|(name, bucket)| Contribution {
                        feature: name.clone(),
                        contribution: gate * c.weights_of(*bucket, k)[class],
                    }));
                    bias += c.bias[class];
                }
                ClassScore::new(
                    self.labels[class].clone(),
                    probabilities[class],
                    scores[class],
                    bias,
                    all,
                    top,
                )
            })
            .collect();
        Explanation {
            prediction: self.prediction(&probabilities, self.familiarity(tx)),
            context_weight: gate,
            classes,
        }
    }

    /// The most likely main category's index (in [`mains`](Self::mains)) and probability
    /// for each transaction (no threshold applied): what evaluation measures.
    pub fn best(&self, txs: &[Transaction]) -> Vec<(usize, f32)> {
        self.picks(txs)
            .into_iter()
            .map(|p| (p.main, p.probability))
            .collect()
    }

    /// The roll-up of each transaction's label probabilities: the most likely main category
    /// and the most likely label under it.
    pub fn picks(&self, txs: &[Transaction]) -> Vec<Pick> {
        self.judged(txs).into_iter().map(|(pick, _)| pick).collect()
    }

    /// Each transaction's [`pick`](Self::picks) and how well the model knows it
    /// ([`familiarity`](Self::familiarity)): all that decides its prediction.
    pub fn judged(&self, txs: &[Transaction]) -> Vec<(Pick, Familiarity)> {
        let mut f = Featurizer::new(self.features);
        let mut row = SparseRow::default();
        let mut probs = vec![0.0; self.labels.len()];
        txs.iter()
            .map(|tx| {
                self.probabilities_into(&mut f, &mut row, tx, &mut probs);
                let pick = self.tree.pick(&probs);
                let kind = self.familiar.as_ref().map_or(Familiarity::Stranger, |set| {
                    set.familiarity(f.line_keys(), main_key(self.mains()[pick.main].as_str()))
                });
                (pick, kind)
            })
            .collect()
    }

    /// The model as bytes (see the module docs for the layout).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.write(if self.leaves_out_unread {
            FORMAT_VERSION
        } else {
            FORMAT_VERSION_5
        })
    }

    /// The model as bytes of `format`: [`FORMAT_VERSION`], [`FORMAT_VERSION_5`], or
    /// [`FORMAT_VERSION_4`] (text weights as `f32`; for the tests that read older files).
    fn write(&self, format: u32) -> Vec<u8> {
        let k = self.labels.len();
        let row_bytes = 8 + k;
        let mut out = Vec::with_capacity(64 + (self.rows.used() + 1) * row_bytes);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&format.to_le_bytes());
        out.extend_from_slice(&self.features.version().to_le_bytes());
        out.push(self.features.dim_bits);
        out.extend_from_slice(&(k as u32).to_le_bytes());
        for v in [
            self.temperature,
            self.thresholds.high,
            self.thresholds.medium,
            self.thresholds.uncertain_below,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for l in &self.labels {
            let b = l.as_str().as_bytes();
            out.extend_from_slice(&(b.len() as u16).to_le_bytes());
            out.extend_from_slice(b);
        }
        self.bias
            .iter()
            .for_each(|b| out.extend_from_slice(&b.to_le_bytes()));
        out.extend_from_slice(&(self.rows.used() as u32).to_le_bytes());
        for (i, scale, q) in self.rows.iter() {
            out.extend_from_slice(&(i as u32).to_le_bytes());
            if format >= FORMAT_VERSION_5 {
                out.extend_from_slice(&scale.to_le_bytes());
                out.extend(q.map(|q| q as u8));
            } else {
                q.for_each(|q| out.extend_from_slice(&(scale * f32::from(q)).to_le_bytes()));
            }
        }
        match &self.context {
            None => out.push(0),
            Some(c) => {
                out.push(match c.mode {
                    ContextMode::Off => 0,
                    ContextMode::Gated => 1,
                    ContextMode::Always => 2,
                });
                out.extend_from_slice(&c.text_temperature.to_le_bytes());
                for v in c.bias.iter().chain(&c.weights) {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
        out.extend_from_slice(&self.thresholds.familiar_below.to_le_bytes());
        out.extend_from_slice(&self.thresholds.anchored_below.to_le_bytes());
        match &self.familiar {
            None => out.push(0),
            Some(set) => set.write(&mut out),
        }
        let sum = fnv1a(0, &out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    /// Reads a model written by [`to_bytes`](Self::to_bytes).
    pub fn from_bytes(bytes: &[u8]) -> crate::Result<Self> {
        let bad = |m: &str| Error::Model(format!("model file: {m}"));
        if bytes.len() < 8 + 8 || &bytes[..8] != MAGIC {
            return Err(bad("not a txclass model (bad magic)"));
        }
        let (body, tail) = bytes.split_at(bytes.len() - 8);
        let sum = u64::from_le_bytes(tail.try_into().expect("8 bytes"));
        if fnv1a(0, body) != sum {
            return Err(bad("checksum mismatch (truncated or corrupted)"));
        }
        let mut r = Reader { b: body, at: 8 };
        let format = r.u32()?;
        if ![
            FORMAT_VERSION,
            FORMAT_VERSION_5,
            FORMAT_VERSION_4,
            FORMAT_VERSION_3,
            FORMAT_VERSION_2,
        ]
        .contains(&format)
        {
            return Err(bad(&format!(
                "format version {format}, this build reads {FORMAT_VERSION}"
            )));
        }
        let fv = r.u32()?;
        let dim_bits = r.u8()?;
        let features = FeatureConfig::of_version(fv, dim_bits).ok_or_else(|| {
            bad(&format!(
                "feature version {fv}, this build computes versions 3 to 10: retrain the model"
            ))
        })?;
        features.validate()?;
        let k = r.u32()? as usize;
        if !(2..=65_536).contains(&k) {
            return Err(bad(&format!("{k} labels")));
        }
        let temperature = r.f32()?;
        let (high, medium, uncertain_below) = (r.f32()?, r.f32()?, r.f32()?);
        let mut thresholds = Thresholds {
            high,
            medium,
            uncertain_below,
            familiar_below: uncertain_below,
            anchored_below: uncertain_below,
        };
        let mut labels = Vec::with_capacity(k);
        for _ in 0..k {
            let len = r.u16()? as usize;
            let s = std::str::from_utf8(r.take(len)?).map_err(|_| bad("label is not UTF-8"))?;
            labels.push(Category::new(s));
        }
        let bias = (0..k).map(|_| r.f32()).collect::<crate::Result<Vec<_>>>()?;
        let dim = features.dim();
        let n = r.u32()? as usize;
        // The buckets as the file lists them (ascending, each once), not a dense
        // `dim × k` matrix: that could ask for terabytes (2^24 buckets × 65,536 labels)
        // from a file of a few hundred kilobytes. Memory stays within the file's size
        // (and the slot table, 8 bytes a bucket of `dim`).
        let mut rows = TextRows::new(dim, k);
        let mut last = None;
        let mut weights: Vec<f32> = Vec::with_capacity(k);
        for _ in 0..n {
            let i = r.u32()? as usize;
            if i >= dim {
                return Err(bad(&format!("bucket {i} out of range")));
            }
            if last.is_some_and(|last| i <= last) {
                return Err(bad(&format!("bucket {i} out of order")));
            }
            last = Some(i);
            if format >= FORMAT_VERSION_5 {
                let scale = r.f32()?;
                if !(scale.is_finite() && (0.0..=MAX_PARAMETER / 127.0).contains(&scale)) {
                    return Err(bad(&format!("bucket {i}: weight scale {scale}")));
                }
                rows.push_quantized(i, scale, r.take(k)?.iter().map(|&q| q as i8));
            } else {
                weights.clear();
                for _ in 0..k {
                    weights.push(r.f32()?);
                }
                check_parameters("weights", &weights)?;
                rows.push(i, &weights);
            }
        }
        let mode = match r.u8()? {
            0 => ContextMode::Off,
            1 => ContextMode::Gated,
            2 => ContextMode::Always,
            m => return Err(bad(&format!("context mode {m}"))),
        };
        let (mut c_bias, mut c_weights, mut text_t) = (Vec::new(), Vec::new(), 1.0);
        if mode != ContextMode::Off {
            text_t = r.f32()?;
            c_bias = (0..k).map(|_| r.f32()).collect::<crate::Result<Vec<_>>>()?;
            c_weights = (0..CONTEXT_DIM * k)
                .map(|_| r.f32())
                .collect::<crate::Result<Vec<_>>>()?;
        }
        let mut familiar = None;
        if format != FORMAT_VERSION_2 {
            thresholds.familiar_below = r.f32()?;
            if format >= FORMAT_VERSION_4 {
                thresholds.anchored_below = r.f32()?;
            }
            let log2_bits = r.u8()?;
            if log2_bits != 0 {
                let len = Familiar::byte_len(log2_bits).map_err(|m| bad(&m))?;
                familiar = Some(Familiar::read(log2_bits, r.take(len)?).map_err(|m| bad(&m))?);
            }
        }
        if r.at != body.len() {
            return Err(bad("trailing bytes"));
        }
        check_parts(features, thresholds, k, temperature)?;
        check_parameters("bias", &bias)?;
        let mut model = Self::assemble(features, labels, rows, bias, temperature, thresholds);
        if mode != ContextMode::Off {
            model.context = Context::checked(k, mode, text_t, c_bias, c_weights)?;
        }
        model.familiar = familiar;
        model.leaves_out_unread = format == FORMAT_VERSION;
        // A file of the formats `to_bytes` writes is the bytes it would write (the layout has
        // one way to write a model: buckets ascending, each part once), so its checksum is
        // the version's; writing it again to hash it was a third of loading the bundled model.
        // An older format is written again as today's for its version.
        Ok(if [FORMAT_VERSION, FORMAT_VERSION_5].contains(&format) {
            model.versioned(sum)
        } else {
            model.sealed()
        })
    }

    /// Writes the model to `path`.
    pub fn save(&self, path: &Path) -> crate::Result<()> {
        std::fs::write(path, self.to_bytes())?;
        Ok(())
    }

    /// Reads a model from `path`.
    pub fn load(path: &Path) -> crate::Result<Self> {
        let bytes = std::fs::read(path)
            .map_err(|e| Error::Model(format!("cannot read {}: {e}", path.display())))?;
        Self::from_bytes(&bytes)
    }
}

/// `softmax(x · inv_t)` in place.
#[inline(always)]
fn softmax_in_place(x: &mut [f32], inv_t: f32) {
    let max = lanes_max(x);
    x.iter_mut().for_each(|o| *o = exp((*o - max) * inv_t));
    let inv_sum = 1.0 / lanes_sum(x);
    x.iter_mut().for_each(|o| *o *= inv_sum);
}

/// The largest probability of `softmax(z · inv_t)`.
#[inline(always)]
pub(crate) fn max_softmax(z: &[f32], inv_t: f32) -> f32 {
    let max = lanes_max(z);
    let mut e = [0.0f32; LANES];
    let mut sum = [0.0f32; LANES];
    for chunk in z.chunks(LANES) {
        e.iter_mut()
            .zip(chunk)
            .for_each(|(e, &v)| *e = exp((v - max) * inv_t));
        sum.iter_mut()
            .zip(&e[..chunk.len()])
            .for_each(|(s, &e)| *s += e);
    }
    1.0 / sum.iter().sum::<f32>()
}

/// Lanes of the softmax's sums and maxima: eight sums side by side, which the compiler keeps
/// in one vector register, where one running sum must add each number after the last.
const LANES: usize = 8;

/// The largest of `x` (finite numbers).
#[inline(always)]
fn lanes_max(x: &[f32]) -> f32 {
    let mut m = [f32::NEG_INFINITY; LANES];
    for chunk in x.chunks(LANES) {
        m.iter_mut().zip(chunk).for_each(|(m, &v)| {
            // Not `f32::max`, whose care for NaN keeps it from vector instructions; the
            // logits are finite (a model with a non-finite parameter is refused).
            if v > *m {
                *m = v;
            }
        });
    }
    m.into_iter()
        .fold(f32::NEG_INFINITY, |a, b| if b > a { b } else { a })
}

/// The sum of `x`, added in [`LANES`] lanes.
#[inline(always)]
fn lanes_sum(x: &[f32]) -> f32 {
    let mut s = [0.0f32; LANES];
    for chunk in x.chunks(LANES) {
        s.iter_mut().zip(chunk).for_each(|(s, &v)| *s += v);
    }
    s.iter().sum()
}

/// `e^x` within two units in the last place of `f32` for `x` in `[−87, 88]` (clamped
/// there: below, `e^x` is under `f32`'s smallest normal number, and the softmax never asks
/// above 0).
///
/// Why not `f32::exp`: it calls the C library, one number at a time; scoring a line takes
/// twice as many exponentials as it has labels (the context's gate and the softmax), and
/// this one, inlined, runs eight at a time. Cephes' `expf`: `x = n·ln 2 + r` with `|r| ≤
/// ln 2 / 2`, `e^r` by its polynomial, `2^n` written into the exponent's bits.
#[inline(always)]
fn exp(x: f32) -> f32 {
    // `ln 2` in two parts, the first exact in few bits, so that `x − n·ln 2` loses nothing.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding then taking away 1.5 · 2^23 rounds to a whole number in any vector unit
    // (`f32::round` is a library call without SSE4.1).
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let t = x * std::f32::consts::LOG2_E + ROUND;
    let n = t - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_2e-4_f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    // `t`'s low bits hold `n` (|n| ≤ 127), so `2^n`'s exponent is `t`'s bits plus the bias,
    // shifted into place: no conversion of `n` to an integer, which would not vectorise.
    e * f32::from_bits(t.to_bits().wrapping_add(127) << 23)
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> crate::Result<&'a [u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| Error::Model("model file: truncated".into()))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self) -> crate::Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> crate::Result<u16> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().expect("2")))
    }
    fn u32(&mut self) -> crate::Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4")))
    }
    fn f32(&mut self) -> crate::Result<f32> {
        Ok(f32::from_le_bytes(self.take(4)?.try_into().expect("4")))
    }
}

impl Classifier for LogisticModel {
    fn labels(&self) -> &[Category] {
        &self.labels
    }

    fn categories(&self) -> &[Category] {
        self.mains()
    }

    fn version(&self) -> &str {
        &self.version
    }

    fn predict(&self, tx: &Transaction) -> Prediction {
        let (pick, kind) = self.judged(std::slice::from_ref(tx))[0];
        self.prediction_of(pick, kind)
    }

    fn explain(&self, tx: &Transaction, top: usize) -> Option<Explanation> {
        Some(LogisticModel::explain(self, tx, top))
    }

    fn predict_batch(&self, txs: &[Transaction]) -> Vec<Prediction> {
        self.judged(txs)
            .into_iter()
            .map(|(pick, kind)| self.prediction_of(pick, kind))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::features::FEATURE_VERSION;
    use super::*;

    /// `bytes` with its trailing checksum made right again (a file edited by hand, or a
    /// mutation that should reach past the checksum).
    pub(super) fn with_checksum(mut bytes: Vec<u8>) -> Vec<u8> {
        if bytes.len() < 8 {
            return bytes;
        }
        let body = bytes.len() - 8;
        let sum = fnv1a(0, &bytes[..body]);
        bytes[body..].copy_from_slice(&sum.to_le_bytes());
        bytes
    }

    /// A model file that declares 65,536 labels and 2^24 buckets, in 131 KB: loading it
    /// must not ask for the dense `dim × labels` matrix (4 TiB).
    #[test]
    fn a_huge_declared_shape_costs_no_more_than_the_file() {
        let k: u32 = 65_536;
        let mut body = MAGIC.to_vec();
        body.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        body.extend_from_slice(&FEATURE_VERSION.to_le_bytes());
        body.push(24);
        body.extend_from_slice(&k.to_le_bytes());
        for v in [1.0f32, 0.8, 0.5, 0.1] {
            body.extend_from_slice(&v.to_le_bytes());
        }
        for i in 0..k {
            body.extend_from_slice(&(i.to_string().len() as u16).to_le_bytes());
            body.extend_from_slice(i.to_string().as_bytes());
        }
        body.extend(std::iter::repeat_n(0u8, 4 * k as usize)); // bias
        body.extend_from_slice(&0u32.to_le_bytes()); // no bucket
        body.push(0); // no context
        body.extend_from_slice(&0.1f32.to_le_bytes()); // familiar lines' threshold
        body.extend_from_slice(&0.1f32.to_le_bytes()); // anchored lines' threshold
        body.push(0); // no familiar-word set
        let sum = fnv1a(0, &body);
        body.extend_from_slice(&sum.to_le_bytes());
        let m = LogisticModel::from_bytes(&body).expect("a valid (if useless) model");
        assert_eq!(m.used_buckets(), 0);
        assert_eq!(
            LogisticModel::from_bytes(&m.to_bytes())
                .unwrap()
                .used_buckets(),
            0
        );
    }

    /// A model of the format before the familiar-word set reads as it did: one threshold for
    /// every line.
    #[test]
    fn a_version_2_file_reads_with_one_threshold() {
        let mut model = crate::classifier::bundled_model().unwrap();
        model.familiar = None;
        let t = model.thresholds();
        let model = model.with_thresholds(t.one_threshold(0.42)).unwrap();
        let bytes = model.write(FORMAT_VERSION_4);
        // Version 2: no familiar or anchored threshold nor set (9 bytes before the checksum).
        let mut v2 = bytes[..bytes.len() - 8 - 9].to_vec();
        v2[8..12].copy_from_slice(&FORMAT_VERSION_2.to_le_bytes());
        let sum = fnv1a(0, &v2);
        v2.extend_from_slice(&sum.to_le_bytes());
        let read = LogisticModel::from_bytes(&v2).unwrap();
        assert_eq!(read.thresholds(), model.thresholds());
        assert!(read.familiar.is_none());
        let tx = Transaction {
            id: "a".into(),
            date: "2026-01-02".parse().unwrap(),
            description: "TESCO STORES 3297".into(),
            amount_minor: -1_234,
            currency: "GBP".into(),
        };
        assert_eq!(read.familiarity(&tx), Familiarity::Stranger);
        assert_eq!(read.predict(&tx), model.predict(&tx));
    }

    /// A model of the format before the anchored lines' threshold reads as it did: those
    /// lines take the strangers' threshold.
    #[test]
    fn a_version_3_file_reads_with_anchored_lines_as_strangers() {
        let model = crate::classifier::bundled_model().unwrap();
        let t = model.thresholds();
        let bytes = model.write(FORMAT_VERSION_4);
        // Version 3: no anchored threshold (the 4 bytes before the set).
        let set_len = model.familiar.as_ref().map_or(0, |f| {
            let mut b = Vec::new();
            f.write(&mut b);
            b.len()
        });
        let anchored_at = bytes.len() - 8 - set_len - 4;
        let mut v3 = bytes[..anchored_at].to_vec();
        v3.extend_from_slice(&bytes[anchored_at + 4..bytes.len() - 8]);
        v3[8..12].copy_from_slice(&FORMAT_VERSION_3.to_le_bytes());
        let sum = fnv1a(0, &v3);
        v3.extend_from_slice(&sum.to_le_bytes());
        let read = LogisticModel::from_bytes(&v3).unwrap();
        assert_eq!(
            read.thresholds(),
            Thresholds {
                anchored_below: t.uncertain_below,
                ..t
            }
        );
        assert_eq!(read.familiar, model.familiar);
    }

    /// A model of the format with `f32` text weights reads as the same model: its weights,
    /// quantized again, are the ones it was written from.
    #[test]
    fn a_version_4_file_reads_as_the_same_model() {
        let model = crate::classifier::bundled_model().unwrap();
        let v4 = model.write(FORMAT_VERSION_4);
        assert!(
            v4.len() > 3 * model.to_bytes().len(),
            "f32 rows are 4 bytes a weight"
        );
        let read = LogisticModel::from_bytes(&v4).unwrap();
        // A model of format 4 scores the words its training rows did not read, as format 5.
        let v5 = model.write(FORMAT_VERSION_5);
        assert_eq!(read.to_bytes(), v5);
        assert_eq!(
            read.version(),
            LogisticModel::from_bytes(&v5).unwrap().version()
        );
        // A file of today's format takes its version from its own checksum: the one its bytes
        // written again would have.
        assert_eq!(model.version(), model.clone().sealed().version());
        assert_eq!(model.to_bytes(), super::super::BUNDLED);
    }

    /// A model of format 5 was calibrated with the words its training rows did not read in
    /// a line's score, and keeps them; one this build trains (format 6) leaves them out, and
    /// its file says so.
    #[test]
    fn only_a_format_6_model_leaves_out_the_words_it_never_read() {
        let bundled = crate::classifier::bundled_model().unwrap();
        let new = LogisticModel {
            leaves_out_unread: true,
            ..bundled.clone()
        };
        let old = LogisticModel::from_bytes(&new.write(FORMAT_VERSION_5)).unwrap();
        assert!(!old.leaves_out_unread);
        let again = LogisticModel::from_bytes(&new.to_bytes()).unwrap();
        assert!(again.leaves_out_unread);
        assert_eq!(again.to_bytes(), new.to_bytes());
        assert_eq!(old.to_bytes(), new.write(FORMAT_VERSION_5));
        // A Czech bank's note: the words before the merchant were never read.
        let tx = Transaction {
            id: "cz".into(),
            date: "2014-04-23".parse().unwrap(),
            description: "Částka: 125,5 CZK 23.04.2014 Místo: ALBERT 0526 PRAHA 3".into(),
            amount_minor: -12_550,
            currency: "CZK".into(),
        };
        let named = |m: &LogisticModel| -> Vec<String> {
            let named = Featurizer::new(m.features).named(&tx, m.read_set());
            named.text.into_iter().map(|(name, _, _)| name).collect()
        };
        let pair = |names: &[String]| {
            names
                .iter()
                .any(|n| n.starts_with("words") && n.contains("czk"))
        };
        assert!(pair(&named(&old)), "{:?}", named(&old));
        assert!(!pair(&named(&again)), "{:?}", named(&again));
        assert_ne!(old.probabilities(&tx), again.probabilities(&tx));
    }

    #[test]
    fn buckets_out_of_order_are_refused() {
        let features = FeatureConfig::with_dim_bits(8);
        let mut weights = vec![0.0f32; features.dim() * 2];
        weights[2 * 3] = 1.0;
        weights[2 * 9 + 1] = -1.0;
        let labels = vec![Category::new("a"), Category::new("b")];
        let m = LogisticModel::from_parts(
            features,
            labels,
            weights,
            vec![0.0, 0.0],
            1.0,
            Thresholds::default(),
        )
        .unwrap();
        let bytes = m.to_bytes();
        assert_eq!(LogisticModel::from_bytes(&bytes).unwrap().used_buckets(), 2);
        // Swap the two buckets' indices (each entry: u32 index, f32 scale, 2 i8), before the
        // context mode, the familiar and anchored thresholds and set, and the checksum.
        let n_at = bytes.len() - 8 - 9 - 1 - 2 * 10 - 4;
        let mut swapped = bytes[..bytes.len() - 8].to_vec();
        swapped[n_at + 4..n_at + 8].copy_from_slice(&9u32.to_le_bytes());
        swapped[n_at + 14..n_at + 18].copy_from_slice(&3u32.to_le_bytes());
        let sum = fnv1a(0, &swapped);
        swapped.extend_from_slice(&sum.to_le_bytes());
        let e = LogisticModel::from_bytes(&swapped).unwrap_err().to_string();
        assert!(e.contains("out of order"), "{e}");
    }

    fn model(weights: Vec<f32>) -> crate::Result<LogisticModel> {
        LogisticModel::from_parts(
            FeatureConfig::with_dim_bits(8),
            vec![Category::new("a"), Category::new("b")],
            weights,
            vec![0.5, -0.5],
            1.5,
            Thresholds::default(),
        )
    }

    #[test]
    fn non_finite_or_enormous_parameters_are_refused() {
        // Files with one weight of 1.0, to be overwritten by hand (a model cannot hold the
        // values below, so no model can write them): as `f32` (version 4), and as the scale
        // of its row (1 / 127, version 5).
        let mut w = vec![0.0f32; 256 * 2];
        w[10 * 2] = 1.0;
        let good = model(w).unwrap();
        let bytes = good.to_bytes();
        let scale_at = bytes
            .windows(4)
            .rposition(|b| b == (1.0f32 / 127.0).to_le_bytes())
            .unwrap();
        for bad in [f32::NAN, f32::INFINITY, -1.0, 1e5] {
            let mut file = bytes.clone();
            file[scale_at..scale_at + 4].copy_from_slice(&bad.to_le_bytes());
            let e = LogisticModel::from_bytes(&with_checksum(file))
                .unwrap_err()
                .to_string();
            assert!(e.contains("bucket 10: weight scale"), "{e}");
        }
        let bytes = good.write(FORMAT_VERSION_4);
        let at = bytes
            .windows(4)
            .rposition(|b| b == 1.0f32.to_le_bytes())
            .unwrap();
        for bad in [f32::NAN, f32::INFINITY, -3e38, 2e6] {
            let mut w = vec![0.0f32; 256 * 2];
            w[10 * 2] = bad;
            let e = model(w).unwrap_err().to_string();
            assert!(e.contains("weights") && e.contains("finite"), "{e}");
            // The same weight in a file is refused.
            let mut file = bytes.clone();
            file[at..at + 4].copy_from_slice(&bad.to_le_bytes());
            let e = LogisticModel::from_bytes(&with_checksum(file))
                .unwrap_err()
                .to_string();
            assert!(e.contains("finite"), "{e}");
        }
        let good = model(vec![0.0; 512]).unwrap();
        assert!(good.with_temperature(1e-30).is_err());
    }

    #[test]
    fn a_model_without_word_vectors_is_saved_and_read_as_feature_version_3() {
        let v3 = FeatureConfig {
            word_vectors: false,
            skips_dates: false,
            joins_apostrophes: false,
            glues_pairs: false,
            ..FeatureConfig::with_dim_bits(8)
        };
        let mut w = vec![0.0f32; 256 * 2];
        w[10 * 2] = 1.0;
        let m = LogisticModel::from_parts(
            v3,
            vec![Category::new("a"), Category::new("b")],
            w,
            vec![0.5, -0.5],
            1.0,
            Thresholds::default(),
        )
        .unwrap();
        assert!(m.version().starts_with("logreg-f3-"), "{}", m.version());
        let bytes = m.to_bytes();
        assert_eq!(&bytes[12..16], &3u32.to_le_bytes());
        let read = LogisticModel::from_bytes(&bytes).unwrap();
        assert_eq!(read.features(), v3);
        let with = model(vec![0.0; 512]).unwrap();
        assert!(with.features().word_vectors);
        assert!(
            with.version().starts_with("logreg-f9-"),
            "{}",
            with.version()
        );
        // A version this build does not compute is refused, naming both it reads.
        let mut other = bytes[..bytes.len() - 8].to_vec();
        other[12..16].copy_from_slice(&2u32.to_le_bytes());
        let sum = fnv1a(0, &other);
        other.extend_from_slice(&sum.to_le_bytes());
        let e = LogisticModel::from_bytes(&other).unwrap_err().to_string();
        assert!(
            e.contains("feature version 2") && e.contains("3 to 10"),
            "{e}"
        );
    }

    /// Prediction scores the word-vector dimensions as a dense block; training sees them
    /// merged into the sparse row. Both must give the same probabilities.
    #[test]
    fn the_dense_word_vector_block_scores_as_the_merged_row_does() {
        let m = super::super::bundled_model().unwrap();
        assert!(
            m.features().word_vectors
                && m.vector_blocks.len()
                    == super::super::words::DIM * m.labels.len().div_ceil(BLOCK)
        );
        let mut f = Featurizer::new(m.features);
        let mut row = SparseRow::default();
        let mut merged = vec![0.0f32; m.labels.len()];
        for (desc, amount) in [
            ("LIDL STIFTUNG BERLIN", -2_345),
            ("PIX ENVIADO MARIA SILVA", -50_000),
            ("DIRECT DEBIT BRITISH GAS", -8_812),
            ("SQ *BLUE BOTTLE COFFEE OAKLAND CA", -650),
            ("XQZT 9931", 120_000),
        ] {
            let tx = Transaction {
                id: "t".into(),
                date: chrono::NaiveDate::from_ymd_opt(2026, 3, 12).unwrap(),
                description: desc.into(),
                amount_minor: amount,
                currency: "EUR".into(),
            };
            f.featurize_reading(&tx, &mut row, m.read_set());
            m.probabilities_of_row(&row, f.context(), &mut merged);
            let dense = m.probabilities(&tx);
            for (a, b) in merged.iter().zip(&dense) {
                assert!((a - b).abs() < 1e-5, "{desc}: {merged:?} vs {dense:?}");
            }
        }
    }

    #[test]
    fn only_used_buckets_are_stored_and_bytes_round_trip() {
        let mut w = vec![0.0f32; 256 * 2];
        w[10 * 2] = 1.0;
        w[200 * 2 + 1] = -2.0;
        let m = model(w).unwrap();
        assert_eq!(m.used_buckets(), 2);
        let bytes = m.to_bytes();
        // header + labels + bias + count + 2 × (index + scale + 2 weights) + context mode +
        // familiar and anchored thresholds + no familiar set + checksum
        assert_eq!(
            bytes.len(),
            8 + 4 + 4 + 1 + 4 + 16 + 2 * 3 + 8 + 4 + 2 * 10 + 1 + 4 + 4 + 1 + 8
        );
        let back = LogisticModel::from_bytes(&bytes).unwrap();
        assert_eq!(back, m);
        let row = SparseRow {
            indices: vec![10, 200],
            values: vec![1.0, 1.0],
        };
        let mut p = [0.0f32; 2];
        back.probabilities_of_row(&row, &[], &mut p);
        // logits a: 0.5 + 1 = 1.5, b: -0.5 - 2 = -2.5; divided by T = 1.5.
        let want = 1.0 / (1.0 + ((-2.5f32 - 1.5) / 1.5).exp());
        assert!((p[0] - want).abs() < 1e-6 && (p[0] + p[1] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn the_context_counts_as_much_as_the_text_is_unsure_and_round_trips() {
        // Bucket 10 says "a" firmly; bucket 20 says nothing. Context bucket 3 pushes "b" by 4.
        let mut w = vec![0.0f32; 256 * 2];
        w[10 * 2] = 6.0;
        let mut ctx = vec![0.0f32; CONTEXT_DIM * 2];
        ctx[3 * 2 + 1] = 4.0;
        let base = model(w).unwrap();
        let gated = base
            .clone()
            .with_context(ContextMode::Gated, 1.0, vec![0.0, 0.0], ctx.clone())
            .unwrap();
        let always = base
            .with_context(ContextMode::Always, 1.0, vec![0.0, 0.0], ctx)
            .unwrap();
        let sure = SparseRow {
            indices: vec![10],
            values: vec![1.0],
        };
        let weak = SparseRow {
            indices: vec![20],
            values: vec![1.0],
        };
        let p = |m: &LogisticModel, row: &SparseRow| {
            let mut p = [0.0f32; 2];
            m.probabilities_of_row(row, &[3], &mut p);
            p
        };
        // Sure text (bias 0.5 + 6 vs -0.5: p_text ≈ 0.999): the gate keeps "a"; ungated, the
        // context would cut its margin from 7 to 3.
        assert!(p(&gated, &sure)[0] > 0.99, "{:?}", p(&gated, &sure));
        assert!(p(&always, &sure)[0] < p(&gated, &sure)[0]);
        // Weak text (margin 1: p_text ≈ 0.73): the context moves it by 4 × 0.27 ≈ 1.08 → "b".
        assert!(p(&gated, &weak)[1] > 0.5, "{:?}", p(&gated, &weak));
        for m in [&gated, &always] {
            let back = LogisticModel::from_bytes(&m.to_bytes()).unwrap();
            assert_eq!(&back, m);
            assert_eq!(back.context_mode(), m.context_mode());
        }
        assert_ne!(gated.version(), always.version());
    }

    #[test]
    fn invalid_parts_are_refused() {
        assert!(model(vec![0.0; 10]).is_err());
        assert!(LogisticModel::from_parts(
            FeatureConfig::with_dim_bits(8),
            vec![Category::new("only")],
            vec![0.0; 256],
            vec![0.0],
            1.0,
            Thresholds::default(),
        )
        .is_err());
        let m = model(vec![0.0; 512]).unwrap();
        let v = m.version().to_owned();
        let m = m
            .with_thresholds(Thresholds {
                uncertain_below: 0.9,
                ..Thresholds::default()
            })
            .unwrap();
        assert_ne!(
            m.version(),
            v,
            "thresholds are part of the model's identity"
        );
    }
}

/// Fuzz target of the model-file loader (see [`crate::fuzz`]): whatever the bytes, a model
/// loads or is refused with an error; one that loads scores and writes itself back.
#[cfg(all(test, feature = "fuzz"))]
mod fuzz {
    use proptest::prelude::*;

    use super::tests::with_checksum;
    use super::*;
    use crate::fuzz::{self, mutated};

    /// A small model file (256 buckets, 3 labels) with some weights set.
    fn small_model() -> Vec<u8> {
        let features = FeatureConfig::with_dim_bits(8);
        let k = 3;
        let mut weights = vec![0.0f32; features.dim() * k];
        for (i, w) in weights.iter_mut().enumerate().step_by(7) {
            *w = i as f32 / 100.0 - 1.0;
        }
        let labels = ["food", "rent", "transport"].map(Category::new).to_vec();
        LogisticModel::from_parts(
            features,
            labels,
            weights,
            vec![0.1, -0.2, 0.3],
            1.5,
            Thresholds::default(),
        )
        .expect("a valid model")
        .to_bytes()
    }

    #[test]
    fn exp_is_within_two_units_in_the_last_place_and_softmax_adds_up() {
        let mut worst = 0f64;
        for i in 0..=175_000 {
            let x = -87.0 + i as f32 / 1000.0;
            let want = f64::from(x).exp();
            let got = f64::from(exp(x));
            worst = worst.max((got - want).abs() / want);
        }
        // Two units in the last place of an `f32` are 2^-22 of it at most.
        assert!(worst <= 2f64.powi(-22), "relative error {worst:e}");
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(-1000.0) > 0.0 && exp(-1000.0) < 1e-37);
        // Labels beyond a multiple of the lanes, the largest last.
        let z: Vec<f32> = (0..13).map(|i| i as f32 * 0.7 - 3.0).collect();
        let mut p = z.clone();
        softmax_in_place(&mut p, 0.5);
        let want: Vec<f64> = z
            .iter()
            .map(|&v| (f64::from(v - z[12]) * 0.5).exp())
            .collect();
        let sum: f64 = want.iter().sum();
        for (p, w) in p.iter().zip(&want) {
            assert!((f64::from(*p) - w / sum).abs() < 1e-6, "{p} vs {}", w / sum);
        }
        assert!((f64::from(max_softmax(&z, 0.5)) - want[12] / sum).abs() < 1e-6);
        assert_eq!(lanes_max(&z), z[12]);
    }

    #[test]
    fn fuzz_model_file() {
        const TOKENS: &[&[u8]] = &[
            &[0xff, 0xff, 0xff, 0xff],
            &[0, 0, 1, 0],
            &[24],
            &[0, 0, 0x80, 0x7f],
            &[0, 0, 0xc0, 0x7f],
            &[0, 0, 0, 0],
            &[1],
            &[2],
        ];
        let model = small_model();
        fuzz::run(
            "model",
            (mutated(vec![model], TOKENS), any::<bool>()),
            |(bytes, fix)| {
                let bytes = if fix { with_checksum(bytes) } else { bytes };
                if let Ok(m) = LogisticModel::from_bytes(&bytes) {
                    // A model that loads also scores and writes itself back.
                    let tx = Transaction {
                        id: "t".into(),
                        date: "2026-01-02".parse().unwrap(),
                        description: "UBER *TRIP".into(),
                        amount_minor: -1250,
                        currency: "EUR".into(),
                    };
                    let p = m.probabilities(&tx);
                    prop_assert!(p.iter().all(|x| x.is_finite()), "{p:?}");
                    prop_assert_eq!(LogisticModel::from_bytes(&m.to_bytes()).is_ok(), true);
                }
                Ok(())
            },
        );
    }
}
