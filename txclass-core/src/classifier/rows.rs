//! The text weights of a model: one row of `k` weights per hashed bucket that training used,
//! stored as 8-bit integers and one scale per row, so that a row of up to 64 labels is one
//! 64-byte cache line.
//!
//! Why 8 bits: scoring a statement line adds about 60 rows, one per bucket of its words and
//! character n-grams, picked at random from a table larger than the processor's cache (the
//! benchmark's model: 78,395 buckets × 61 labels, 19.4 MB as `f32`, 5.4 MB as `i8`). The
//! reads, not the arithmetic, were the cost: in a profile of `txclass eval`, four fifths of
//! the scoring time stood on the loads of a row and of its slot. A row of 61 `f32` spans four
//! cache lines; as `i8` it is one, and its scale sits beside its place in the slot table. The
//! scale is `max |w| / 127` of the row, so a weight is off by at most half a step, 0.4 % of
//! its row's largest weight. On the benchmark's 11,186 brand-held-out lines
//! (`benches/classifier_vs_sklearn.sh`), one line's best guess changed (accuracy 0.7480 →
//! 0.7479), no line's `uncertain` flag, and the probabilities moved by 0.0008 on average,
//! 0.012 at most.
//!
//! Why two passes over a line's buckets ([`TextRows::add`]): the first finds every row and
//! asks for it, reads that do not depend on one another and that the processor runs side by
//! side; the second adds the rows, in cache by then. One pass waited for each row in turn:
//! the two passes predict about a third more rows a second (median of 8 alternating runs of
//! `txclass eval` on the benchmark's lines ×10: 91,786 → 121,696; `f32` rows in one pass:
//! 80,669). The first pass asks with prefetches, first for every slot, then for every row:
//! a load that waits holds its place in the processor's queue of instructions, a prefetch
//! does not, so more of a line's rows are on their way at once (5 alternating runs of
//! `txclass eval --threads 1` on `speed.csv`: median 181,441 → 185,358 rows/s, best 183,785 →
//! 190,135).
//!
//! Why a row of one line (up to 64 labels) is summed in a local array: its 64 sums stay in
//! eight AVX registers while the rows go by, one multiply-add each per eight labels; added
//! into `out` row by row, each row read and wrote `out` again and ran a scalar tail for the
//! labels past the last multiple of eight. `benches/instructions_per_row.sh` on the
//! benchmark's model: 38,655 → 33,468 instructions a line (with the multiply-adds fused,
//! [`mul_add`]: 32,377).

use super::features::SparseRow;

/// `a · b + c`: one instruction, rounded once, when `FUSED` (code compiled for FMA), else a
/// multiply and an add. Only code compiled with FMA may ask for it fused: without, Rust's
/// `mul_add` calls the C library's `fmaf`, one number at a time, out of vector registers.
#[inline(always)]
pub(crate) fn mul_add<const FUSED: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FUSED {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// Weights to a cache line.
const LINE: usize = 64;

/// `LINE` quantized weights of a row, on a cache line of their own.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C, align(64))]
struct Line([i8; LINE]);

/// Where a bucket's row is, and the scale of its weights (`weight = scale · q`): read
/// together, so that finding a row costs one read of the slot table.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Slot {
    row: u32,
    scale: f32,
}

/// The text weight rows of a model: `slot` gives each bucket its row (0, all zeros, for a
/// bucket no training row used); a row is `per` lines.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TextRows {
    k: usize,
    per: usize,
    /// Why not a dense `dim × k` table: trained models use a few tens of thousands of
    /// buckets of `2^18`, so `slot` (2 MB) plus the used rows is what a loaded model costs.
    slot: Vec<Slot>,
    lines: Vec<Line>,
}

impl TextRows {
    /// No rows yet, for `dim` buckets and `k` labels.
    pub fn new(dim: usize, k: usize) -> Self {
        let per = k.div_ceil(LINE);
        Self {
            k,
            per,
            slot: vec![Slot::default(); dim],
            lines: vec![Line([0; LINE]); per],
        }
    }

    /// Gives `bucket` the weights `weights` (`k` values), rounded to the nearest step of
    /// `max |w| / 127`; a row of zeros takes no room.
    pub fn push(&mut self, bucket: usize, weights: &[f32]) {
        debug_assert_eq!(weights.len(), self.k);
        let max = weights.iter().fold(0f32, |m, w| m.max(w.abs()));
        if max > 0.0 {
            let scale = max / 127.0;
            let q = weights
                .iter()
                .map(|w| (w / scale).round().clamp(-127.0, 127.0) as i8);
            self.push_quantized(bucket, scale, q);
        }
    }

    /// Gives `bucket` a row already quantized: `scale` and `k` values.
    pub fn push_quantized(&mut self, bucket: usize, scale: f32, q: impl IntoIterator<Item = i8>) {
        let row = (self.lines.len() / self.per) as u32;
        self.slot[bucket] = Slot { row, scale };
        let mut q = q.into_iter();
        for _ in 0..self.per {
            let mut line = Line([0; LINE]);
            line.0.iter_mut().zip(q.by_ref()).for_each(|(l, q)| *l = q);
            self.lines.push(line);
        }
    }

    /// Buckets that have a row.
    pub fn used(&self) -> usize {
        self.lines.len() / self.per - 1
    }

    /// Each bucket that has a row, ascending, with its scale and `k` quantized weights.
    pub fn iter(&self) -> impl Iterator<Item = (usize, f32, impl Iterator<Item = i8> + '_)> {
        self.slot
            .iter()
            .enumerate()
            .filter(|(_, s)| s.row != 0)
            .map(|(b, s)| (b, s.scale, self.quantized(s.row as usize)))
    }

    /// The `k` quantized weights of row `row`.
    fn quantized(&self, row: usize) -> impl Iterator<Item = i8> + '_ {
        let lines = &self.lines[row * self.per..(row + 1) * self.per];
        lines.iter().flat_map(|l| l.0).take(self.k)
    }

    /// The scale and `k` quantized weights of `bucket`'s row, if it has one.
    pub fn row_of(&self, bucket: u32) -> Option<(f32, impl Iterator<Item = i8> + '_)> {
        let s = self.slot[bucket as usize];
        (s.row != 0).then(|| (s.scale, self.quantized(s.row as usize)))
    }

    /// The `k` weights of `bucket` (zeros for an unused bucket).
    pub fn weights(&self, bucket: u32) -> Vec<f32> {
        let mut out = vec![0.0; self.k];
        self.add_one(bucket, 1.0, &mut out);
        out
    }

    /// The weight of label `class` in `bucket`'s row.
    pub fn weight(&self, bucket: u32, class: usize) -> f32 {
        let s = self.slot[bucket as usize];
        let line = &self.lines[s.row as usize * self.per + class / LINE];
        s.scale * f32::from(line.0[class % LINE])
    }

    /// `out += c · q` over the lines of the row at `at` (`out`: `k` values); `FUSED`: see
    /// [`mul_add`].
    #[inline(always)]
    fn add_lines<const FUSED: bool>(&self, at: usize, c: f32, out: &mut [f32]) {
        for (o, line) in out.chunks_mut(LINE).zip(&self.lines[at..at + self.per]) {
            o.iter_mut()
                .zip(&line.0)
                .for_each(|(o, &q)| *o = mul_add::<FUSED>(c, f32::from(q), *o));
        }
    }

    /// `out += value · row of bucket` (`out`: `k` values).
    pub fn add_one(&self, bucket: u32, value: f32, out: &mut [f32]) {
        let s = self.slot[bucket as usize];
        self.add_lines::<false>(s.row as usize * self.per, value * s.scale, out);
    }

    /// `out += Σ value · row of bucket` over a featurized row (`out`: `k` values); `FUSED`:
    /// see [`mul_add`].
    #[inline(always)]
    pub fn add<const FUSED: bool>(&self, row: &SparseRow, out: &mut [f32]) {
        const GROUP: usize = 32;
        let (mut at, mut coef) = ([0usize; GROUP], [0f32; GROUP]);
        for (indices, values) in row.indices.chunks(GROUP).zip(row.values.chunks(GROUP)) {
            // Pass 1: ask for every slot, then for every row: reads that do not wait for
            // one another, so the processor runs them side by side.
            for &j in indices {
                crate::prefetch::read(&self.slot[j as usize]);
            }
            for ((a, c), (&j, &v)) in at.iter_mut().zip(&mut coef).zip(indices.iter().zip(values)) {
                let s = self.slot[j as usize];
                *a = s.row as usize * self.per;
                *c = v * s.scale;
                crate::prefetch::read(&self.lines[*a]);
            }
            // Pass 2: add the rows, in cache now.
            if self.per == 1 {
                // A row of one line: its sums stay in registers (eight AVX ones) while the
                // rows go by, instead of `out` being read and written again for each row.
                let mut sums = [0f32; LINE];
                for (&a, &c) in at.iter().zip(&coef).take(indices.len()) {
                    self.add_lines::<FUSED>(a, c, &mut sums);
                }
                out.iter_mut().zip(sums).for_each(|(o, s)| *o += s);
            } else {
                for (&a, &c) in at.iter().zip(&coef).take(indices.len()) {
                    self.add_lines::<FUSED>(a, c, out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Weights of bucket `b`, label `c`: varied signs and sizes, some zero.
    fn weight(b: usize, c: usize) -> f32 {
        let x = ((b * 7919 + c * 104_729) % 1000) as f32 / 1000.0 - 0.5;
        if (b + c).is_multiple_of(11) {
            0.0
        } else {
            x * (1 + b % 5) as f32
        }
    }

    #[test]
    fn weights_are_within_half_a_step_of_their_row_and_rows_add_as_summed() {
        // 130 labels: three lines a row, the last holding 2; 61: one line a row, summed in
        // registers.
        for (k, per) in [(130, 3), (61, 1)] {
            let dim = 64;
            let mut rows = TextRows::new(dim, k);
            let used = [3usize, 4, 17, 40, 63];
            for &b in &used {
                let w: Vec<f32> = (0..k).map(|c| weight(b, c)).collect();
                rows.push(b, &w);
            }
            rows.push(50, &vec![0.0; k]);
            assert_eq!(rows.per, per);
            assert_eq!(rows.used(), used.len(), "a row of zeros takes no room");
            assert_eq!(rows.iter().map(|(b, _, _)| b).collect::<Vec<_>>(), used);
            for &b in &used {
                let got = rows.weights(b as u32);
                let max = (0..k).fold(0f32, |m, c| m.max(weight(b, c).abs()));
                for (c, &g) in got.iter().enumerate() {
                    let err = (g - weight(b, c)).abs();
                    assert!(err <= max / 254.0 + 1e-7, "bucket {b} label {c}: {err}");
                    assert_eq!(rows.weight(b as u32, c), g);
                }
            }
            assert!(rows.weights(5).iter().all(|&w| w == 0.0), "unused bucket");
            // A featurized row of many buckets (more than a group of the two passes), repeats
            // and unused buckets among them, adds as the weights summed one by one, its
            // multiply-adds fused or not.
            let indices: Vec<u32> = (0..70u32)
                .map(|i| [3, 4, 5, 17, 40, 63, 50][i as usize % 7])
                .collect();
            let values: Vec<f32> = (0..70).map(|i| 0.1 + i as f32 / 50.0).collect();
            let row = SparseRow { indices, values };
            let mut want = vec![1.0f32; k];
            for (&j, &v) in row.indices.iter().zip(&row.values) {
                for (w, g) in want.iter_mut().zip(rows.weights(j)) {
                    *w += v * g;
                }
            }
            let (mut out, mut fused) = (vec![1.0; k], vec![1.0; k]);
            rows.add::<false>(&row, &mut out);
            rows.add::<true>(&row, &mut fused);
            for (c, ((o, f), w)) in out.iter().zip(&fused).zip(&want).enumerate() {
                assert!((o - w).abs() < 1e-4, "{k} labels, label {c}: {o} vs {w}");
                assert!(
                    (f - w).abs() < 1e-4,
                    "{k} labels, label {c} fused: {f} vs {w}"
                );
            }
        }
    }
}
