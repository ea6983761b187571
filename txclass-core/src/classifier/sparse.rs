//! The production trainer: multinomial logistic regression on sparse rows with L-BFGS.
//!
//! Rows are kept in a compressed-sparse-row matrix (`Csr`); the objective is
//!
//! ```text
//! f(W, b) = (1 / S) Σᵢ sᵢ · −log softmax(W·xᵢ + b)[yᵢ]  +  (λ / 2) ‖W‖²     (S = Σᵢ sᵢ)
//! ```
//!
//! with `sᵢ` the weight of row `i`'s class (all 1, or "balanced": `n / (k · n_class)`), the
//! same objective as scikit-learn's `LogisticRegression(C = 1 / (λ·S))`. It is minimised with
//! `argmin`'s L-BFGS and More-Thuente line search (the solver `linfa-logistic` uses too).
//!
//! Why not linfa-logistic itself: it takes a dense `ndarray` matrix, so one pass costs
//! `rows × buckets × classes`; here a pass costs `non-zeros × classes`, about a thousand
//! times less for hashed text.
//!
//! Two things make a pass cheap:
//! - **Only buckets that occur are parameters.** A bucket that no training row touches has
//!   zero gradient except for the L2 term, so its weights stay exactly 0; the trainer
//!   renumbers the used buckets `0..m` and optimises `m × k` weights, not `2^dim_bits × k`.
//!   Memory follows the data, not the hashed space.
//! - **Loss and gradient come from one pass.** argmin asks for the cost and then the
//!   gradient at the same point; the pass computes both and keeps the gradient for the
//!   second call.
//!
//! The pass is split over threads by rows (`std::thread::scope`); each thread sums into its
//! own gradient buffer, added up at the end, so results do not depend on scheduling up to
//! floating-point summation order of those few buffers.

use std::sync::Mutex;

use argmin::core::{CostFunction, Executor, Gradient, State, TerminationReason, TerminationStatus};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use ndarray::Array1;

use super::features::SparseRow;
use crate::sync::Lock;
use crate::Error;

/// A compressed-sparse-row matrix of `f32` values with `u32` column indices.
#[derive(Clone, Debug, Default)]
pub(crate) struct Csr {
    indptr: Vec<usize>,
    indices: Vec<u32>,
    values: Vec<f32>,
}

impl Csr {
    /// An empty matrix.
    pub fn new() -> Self {
        Self {
            indptr: vec![0],
            indices: Vec::new(),
            values: Vec::new(),
        }
    }

    /// Appends a row.
    pub fn push(&mut self, row: &SparseRow) {
        if self.indptr.is_empty() {
            self.indptr.push(0);
        }
        self.indices.extend_from_slice(&row.indices);
        self.values.extend_from_slice(&row.values);
        self.indptr.push(self.indices.len());
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.indptr.len().saturating_sub(1)
    }

    /// Number of stored values.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Row `i`'s indices and values.
    pub fn row(&self, i: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.indptr[i], self.indptr[i + 1]);
        (&self.indices[a..b], &self.values[a..b])
    }

    /// Renumbers the columns that occur to `0..m` in increasing order; returns, for each new
    /// column, its old index.
    pub fn compact_columns(&mut self, n_cols: usize) -> Vec<u32> {
        let mut map = vec![u32::MAX; n_cols];
        for &i in &self.indices {
            map[i as usize] = 0;
        }
        let mut used = Vec::new();
        for (old, slot) in map.iter_mut().enumerate() {
            if *slot == 0 {
                *slot = used.len() as u32;
                used.push(old as u32);
            }
        }
        for i in &mut self.indices {
            *i = map[*i as usize];
        }
        used
    }
}

/// Settings of one optimisation.
#[derive(Clone, Debug)]
pub(crate) struct Objective<'a> {
    pub x: &'a Csr,
    /// Class of each row, `0..k`.
    pub y: &'a [u32],
    /// Weight of each class.
    pub class_weights: &'a [f64],
    /// Number of classes.
    pub k: usize,
    /// Number of (compacted) columns.
    pub m: usize,
    /// L2 strength λ.
    pub l2: f64,
    /// Threads for a pass.
    pub threads: usize,
    /// Fixed logits added to each row's scores (`rows × k`), for a stage fitted on top of
    /// another model's output.
    pub offset: Option<&'a [f32]>,
    /// Fit the `k` intercepts; `false` keeps them at zero (a correction of the offset that
    /// must not move every row's scores).
    pub intercepts: bool,
}

impl Objective<'_> {
    /// Parameters: `m × k` weights (column-major by feature: the `k` weights of a feature
    /// are adjacent), then `k` intercepts.
    pub fn n_params(&self) -> usize {
        self.m * self.k + self.k
    }

    fn total_weight(&self) -> f64 {
        self.y.iter().map(|&c| self.class_weights[c as usize]).sum()
    }

    /// Loss and gradient at `params` in one pass over the rows.
    pub fn loss_grad(&self, params: &[f64]) -> (f64, Vec<f64>) {
        let n = self.x.rows();
        let threads = self.threads.max(1).min(n.max(1));
        let s_total = self.total_weight().max(f64::MIN_POSITIVE);
        let chunk = n.div_ceil(threads).max(1);
        let parts: Vec<(f64, Vec<f64>)> = if threads == 1 {
            vec![self.partial(params, 0, n, s_total)]
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        let (a, b) = ((t * chunk).min(n), ((t + 1) * chunk).min(n));
                        scope.spawn(move || self.partial(params, a, b, s_total))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("training thread panicked"))
                    .collect()
            })
        };
        let mut parts = parts.into_iter();
        let (mut loss, mut grad) = parts.next().unwrap_or((0.0, vec![0.0; self.n_params()]));
        for (l, g) in parts {
            loss += l;
            grad.iter_mut().zip(&g).for_each(|(a, b)| *a += b);
        }
        let wk = self.m * self.k;
        if !self.intercepts {
            grad[wk..].iter_mut().for_each(|g| *g = 0.0);
        }
        let mut reg = 0.0;
        for (g, &w) in grad[..wk].iter_mut().zip(&params[..wk]) {
            *g += self.l2 * w;
            reg += w * w;
        }
        (loss + 0.5 * self.l2 * reg, grad)
    }

    /// Data term over rows `a..b`, already divided by `s_total`.
    fn partial(&self, params: &[f64], a: usize, b: usize, s_total: f64) -> (f64, Vec<f64>) {
        let k = self.k;
        let wk = self.m * k;
        let (w, bias) = params.split_at(wk);
        let mut grad = vec![0.0; params.len()];
        let mut z = vec![0.0f64; k];
        let mut loss = 0.0;
        for i in a..b {
            let (idx, val) = self.x.row(i);
            z.copy_from_slice(bias);
            if let Some(o) = self.offset {
                z.iter_mut()
                    .zip(&o[i * k..i * k + k])
                    .for_each(|(z, &o)| *z += f64::from(o));
            }
            for (&j, &v) in idx.iter().zip(val) {
                let row = &w[j as usize * k..j as usize * k + k];
                let v = f64::from(v);
                z.iter_mut().zip(row).for_each(|(z, w)| *z += v * w);
            }
            let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mut sum = 0.0;
            for zc in z.iter_mut() {
                *zc = (*zc - max).exp();
                sum += *zc;
            }
            let y = self.y[i] as usize;
            let s = self.class_weights[y] / s_total;
            // −log p_y = log Σ exp(z − max) − (z_y − max)
            loss += s * (sum.ln() - z[y].ln().max(-745.0));
            let inv = s / sum;
            z.iter_mut().for_each(|zc| *zc *= inv);
            z[y] -= s;
            for (&j, &v) in idx.iter().zip(val) {
                let g = &mut grad[j as usize * k..j as usize * k + k];
                let v = f64::from(v);
                g.iter_mut().zip(&z).for_each(|(g, d)| *g += v * d);
            }
            grad[wk..].iter_mut().zip(&z).for_each(|(g, d)| *g += d);
        }
        (loss, grad)
    }
}

/// argmin's view of the objective, with the gradient of the last cost evaluation kept.
struct Problem<'a> {
    objective: Objective<'a>,
    passes: std::sync::atomic::AtomicU64,
    last: Mutex<Option<(Array1<f64>, Array1<f64>)>>,
}

impl CostFunction for Problem<'_> {
    type Param = Array1<f64>;
    type Output = f64;

    fn cost(&self, p: &Self::Param) -> Result<f64, argmin::core::Error> {
        self.passes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (loss, grad) = self
            .objective
            .loss_grad(p.as_slice().expect("contiguous parameters"));
        *self.last.locked() = Some((p.clone(), Array1::from(grad)));
        Ok(loss)
    }
}

impl Gradient for Problem<'_> {
    type Param = Array1<f64>;
    type Gradient = Array1<f64>;

    fn gradient(&self, p: &Self::Param) -> Result<Array1<f64>, argmin::core::Error> {
        if let Some((at, grad)) = self.last.locked().as_ref() {
            if at == p {
                return Ok(grad.clone());
            }
        }
        self.passes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (_, grad) = self
            .objective
            .loss_grad(p.as_slice().expect("contiguous parameters"));
        Ok(Array1::from(grad))
    }
}

/// What the optimiser did.
#[derive(Clone, Debug, PartialEq)]
pub struct Optimisation {
    /// Iterations run.
    pub iterations: u64,
    /// Objective at the end.
    pub loss: f64,
    /// Passes over the data (loss-and-gradient evaluations).
    pub passes: u64,
    /// Whether a tolerance was met (false: stopped at the iteration limit).
    pub converged: bool,
}

/// Minimises `objective` from zero; returns the parameters.
pub(crate) fn minimise(
    objective: Objective<'_>,
    max_iterations: u64,
    tolerance: f64,
) -> crate::Result<(Vec<f64>, Optimisation)> {
    let start = vec![0.0; objective.n_params()];
    minimise_from(objective, start, max_iterations, tolerance)
}

/// [`minimise`] from the parameters `start` instead of zeros.
pub(crate) fn minimise_from(
    objective: Objective<'_>,
    start: Vec<f64>,
    max_iterations: u64,
    tolerance: f64,
) -> crate::Result<(Vec<f64>, Optimisation)> {
    debug_assert_eq!(start.len(), objective.n_params());
    let problem = Problem {
        objective,
        passes: Default::default(),
        last: Mutex::new(None),
    };
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
        .with_tolerance_grad(tolerance)
        .and_then(|s| s.with_tolerance_cost(tolerance * 1e-2))
        .map_err(|e| Error::Model(format!("optimiser settings: {e}")))?;
    let result = Executor::new(problem, solver)
        .configure(|state| state.param(Array1::from(start)).max_iters(max_iterations))
        .run()
        .map_err(|e| Error::Model(format!("optimisation failed: {e}")))?;
    let passes = result
        .problem
        .problem
        .as_ref()
        .map_or(0, |p| p.passes.load(std::sync::atomic::Ordering::Relaxed));
    let state = result.state();
    let converged = matches!(
        state.get_termination_status(),
        TerminationStatus::Terminated(
            TerminationReason::SolverConverged | TerminationReason::TargetCostReached
        )
    );
    let params = state
        .get_best_param()
        .or(state.get_param())
        .cloned()
        .ok_or_else(|| Error::Model("optimiser returned no parameters".into()))?;
    Ok((
        params.to_vec(),
        Optimisation {
            iterations: state.get_iter(),
            passes,
            loss: state.get_best_cost(),
            converged,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> (Csr, Vec<u32>) {
        let mut x = Csr::new();
        let rows = [
            (vec![0u32, 2], vec![1.0f32, 0.5]),
            (vec![1], vec![1.0]),
            (vec![0, 1], vec![0.3, 0.7]),
            (vec![2], vec![1.0]),
        ];
        for (i, v) in rows {
            x.push(&SparseRow {
                indices: i,
                values: v,
            });
        }
        (x, vec![0, 1, 1, 2])
    }

    #[test]
    fn gradient_matches_finite_differences_with_any_thread_count() {
        let (x, y) = tiny();
        let cw = [1.0, 0.5, 2.0];
        // Fixed logits of a first stage, 3 per row: the gradient is the same formula.
        let offset: Vec<f32> = (0..12).map(|i| (i as f32 * 0.71).cos() * 2.0).collect();
        for (threads, offset) in [
            (1, None),
            (3, None),
            (1, Some(&offset[..])),
            (3, Some(&offset[..])),
        ] {
            let obj = Objective {
                x: &x,
                y: &y,
                class_weights: &cw,
                k: 3,
                m: 3,
                l2: 0.1,
                threads,
                offset,
                intercepts: true,
            };
            let p: Vec<f64> = (0..obj.n_params())
                .map(|i| (i as f64 * 0.37).sin())
                .collect();
            let (f0, g) = obj.loss_grad(&p);
            for i in 0..p.len() {
                let mut q = p.clone();
                q[i] += 1e-6;
                let (f1, _) = obj.loss_grad(&q);
                let fd = (f1 - f0) / 1e-6;
                assert!((fd - g[i]).abs() < 1e-4, "param {i}: {fd} vs {}", g[i]);
            }
        }
    }

    #[test]
    fn compaction_keeps_only_used_columns() {
        let (mut x, _) = tiny();
        let mut x2 = Csr::new();
        x2.push(&SparseRow {
            indices: vec![5, 9],
            values: vec![1.0, 1.0],
        });
        x.push(&SparseRow {
            indices: vec![9],
            values: vec![1.0],
        });
        let used = x.compact_columns(16);
        assert_eq!(used, vec![0, 1, 2, 9]);
        assert_eq!(x.row(4).0, &[3]);
        assert_eq!(x2.compact_columns(16), vec![5, 9]);
    }
}
