//! `txclass train`: trains a model file from a labelled file.

use std::cell::RefCell;
use std::io::Read;
use std::path::PathBuf;

use txclass_core::classifier::{
    self, ClassWeight, ContextMode, FeatureConfig, Thresholds, TrainConfig,
};
use txclass_core::records::labelled;

use super::input::{read_labels, some_refused, tally, ErrorPolicy, InputArgs, Tally};

/// Train a logistic-regression model from a labelled file (date, description, amount,
/// category; or a bank statement with --labels).
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Labelled file to train on (CSV, NDJSON, or with --labels OFX, camt.053, MT940).
    pub data: PathBuf,
    /// How to read DATA and --validation.
    #[command(flatten)]
    pub read: InputArgs,
    /// Labels by transaction id (a CSV with id and category columns), for rows whose file
    /// has no category (bank statements).
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// What to do with a bad row: report it and train on the rest (exit code 4), or stop
    /// without training (exit code 3).
    #[arg(long, value_enum, default_value_t = ErrorPolicy::Skip)]
    pub on_error: ErrorPolicy,
    /// Where to write the model.
    #[arg(long, short = 'o', default_value = "model.bin")]
    pub output: PathBuf,
    /// Labelled file to fit the probability calibration on (default: hold out 10 % of DATA).
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
    let labels = args.labels.as_deref().map(read_labels).transpose()?;
    let stop = matches!(args.on_error, ErrorPolicy::Stop);
    let no_bar = |r: Box<dyn Read>| r;
    let data = args.read.open(&args.data, true, labels.clone(), no_bar)?;
    let data_tally = RefCell::new(Tally::default());
    let rows = tally(labelled(data), &data_tally, stop);
    let validation_tally = RefCell::new(Tally::default());
    let mut validation = match &args.validation {
        Some(p) => {
            let v = args.read.open(p, true, labels, no_bar)?;
            Some(tally(labelled(v), &validation_tally, stop))
        }
        None => None,
    };
    let trained = classifier::train(
        rows,
        validation
            .as_mut()
            .map(|v| v as &mut dyn Iterator<Item = _>),
        &config,
    );
    drop(validation);
    let (data_tally, validation_tally) = (data_tally.into_inner(), validation_tally.into_inner());
    let several = args.validation.is_some();
    data_tally.print_errors(several.then_some(args.data.as_path()));
    if let Some(v) = &args.validation {
        validation_tally.print_errors(Some(v));
    }
    if let Some(v) = &args.validation {
        validation_tally.check(v, "trained")?;
    }
    data_tally.check(&args.data, "trained")?;
    let (model, report) = trained?;
    model.save(&args.output)?;
    let size = std::fs::metadata(&args.output)?.len();
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
    if report.skipped_rows > 0 {
        return Err(some_refused(
            report.skipped_rows as u64,
            None,
            "not trained on",
        ));
    }
    Ok(())
}
