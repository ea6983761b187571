//! `txclass train`: trains a model file from a labelled CSV.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

use anyhow::Context;
use txclass_core::classifier::{
    self, ClassWeight, ContextMode, FeatureConfig, Thresholds, TrainConfig,
};

/// Train a logistic-regression model from a labelled CSV (date,description,amount,category).
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Labelled CSV to train on.
    pub data: PathBuf,
    /// Where to write the model.
    #[arg(long, short = 'o', default_value = "model.bin")]
    pub output: PathBuf,
    /// Labelled CSV to fit the probability calibration on (default: hold out 10 % of DATA).
    #[arg(long)]
    pub validation: Option<PathBuf>,
    /// Hashed feature space: 2^BITS buckets.
    #[arg(long, default_value_t = FeatureConfig::default().dim_bits)]
    pub dim_bits: u8,
    /// L2 regularisation strength (of the mean loss).
    #[arg(long, default_value_t = TrainConfig::default().l2)]
    pub l2: f64,
    /// Class weighting: balanced or none.
    #[arg(long, default_value = "balanced")]
    pub class_weight: String,
    /// L-BFGS iteration limit.
    #[arg(long, default_value_t = TrainConfig::default().max_iterations)]
    pub max_iter: u64,
    /// Threads for training (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Share of DATA held out to fit the calibration when --validation is not given.
    #[arg(long, default_value_t = TrainConfig::default().calibration_fraction)]
    pub calibration_fraction: f64,
    /// Below this probability a prediction is marked uncertain.
    #[arg(long, default_value_t = Thresholds::default().uncertain_below, conflicts_with = "target_accuracy")]
    pub uncertain_below: f32,
    /// Fit the uncertainty threshold on the validation rows instead: predictions left
    /// certain are right this often there (e.g. 0.97).
    #[arg(long)]
    pub target_accuracy: Option<f64>,
    /// How amount, date and rail count: gated (as much as the text is unsure), always, off.
    #[arg(long, default_value = "gated")]
    pub context: String,
}

/// Runs the command.
pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let defaults = TrainConfig::default();
    let config = TrainConfig {
        features: FeatureConfig {
            dim_bits: args.dim_bits,
        },
        l2: args.l2,
        class_weight: args.class_weight.parse::<ClassWeight>()?,
        max_iterations: args.max_iter,
        threads: args.threads.unwrap_or(defaults.threads),
        calibration_fraction: args.calibration_fraction,
        thresholds: Thresholds {
            uncertain_below: args.uncertain_below,
            ..Thresholds::default()
        },
        context: args.context.parse::<ContextMode>()?,
        target_accuracy: args.target_accuracy,
        ..defaults
    };
    let open = |p: &PathBuf| -> anyhow::Result<BufReader<File>> {
        Ok(BufReader::new(
            File::open(p).with_context(|| format!("cannot open {}", p.display()))?,
        ))
    };
    let rows = classifier::labelled_csv(open(&args.data)?);
    let mut validation = match &args.validation {
        Some(p) => Some(classifier::labelled_csv(open(p)?)),
        None => None,
    };
    let (model, report) = classifier::train(
        rows,
        validation
            .as_mut()
            .map(|v| v as &mut dyn Iterator<Item = _>),
        &config,
    )?;
    model.save(&args.output)?;
    let size = std::fs::metadata(&args.output)?.len();
    for e in &report.errors {
        eprintln!("skipped {e}");
    }
    if report.skipped_rows > report.errors.len() {
        eprintln!("… {} rows skipped in all", report.skipped_rows);
    }
    println!(
        "trained on {} rows ({} classes), calibrated on {} rows, {} skipped",
        report.train_rows,
        report.class_counts.len(),
        report.calibration_rows,
        report.skipped_rows
    );
    println!(
        "features: 2^{} buckets, {} used, {} non-zeros",
        args.dim_bits, report.used_buckets, report.nnz
    );
    println!(
        "optimiser: {} iterations, {} passes, loss {:.5}, {}",
        report.optimisation.iterations,
        report.optimisation.passes,
        report.optimisation.loss,
        if report.optimisation.converged {
            "converged"
        } else {
            "iteration limit"
        }
    );
    println!(
        "context: {:?}, fitted on {} rows; temperature {:.3}, uncertain below {:.4}",
        config.context, report.context_rows, report.temperature, report.uncertain_below
    );
    println!(
        "time: featurize {:.2} s, optimise {:.2} s, total {:.2} s",
        report.featurize_seconds,
        report.optimise_seconds,
        report.featurize_seconds + report.optimise_seconds
    );
    println!(
        "model: {} ({} bytes), version {}",
        args.output.display(),
        size,
        txclass_core::Classifier::version(&model)
    );
    Ok(())
}
