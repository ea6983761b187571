//! `txclass train`: trains a model file from a labelled file, or warm-starts one from users'
//! corrections.

use std::cell::RefCell;
use std::io::Read;
use std::path::PathBuf;

use txclass_core::classifier::{
    self, ClassWeight, ContextMode, FeatureConfig, Thresholds, TrainConfig, TuneConfig,
};
use txclass_core::records::labelled;
use txclass_core::store::{CorrectionQuery, MAX_CORRECTIONS};

use super::input::{
    read_labels, some_refused, tally, with_labelled, ErrorPolicy, InputArgs, Tally,
};

/// Train a logistic-regression model from a labelled file (date, description, amount,
/// category; or a bank statement with --labels), or warm-start one (--from, default the
/// bundled model) from users' corrections (--corrections FILE, or the store of --config).
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Labelled file to train on (CSV, NDJSON, or with --labels OFX, camt.053, MT940).
    #[arg(required_unless_present_any = ["corrections", "config"])]
    pub data: Option<PathBuf>,
    /// Warm start: nudge the --from model toward these corrections (a labelled file, as
    /// `txclass query corrections --csv` writes) instead of training from scratch.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["data", "config"])]
    pub corrections: Option<PathBuf>,
    /// Warm start from the corrections kept in the store this server config file names.
    #[arg(long, value_name = "FILE", conflicts_with = "data")]
    pub config: Option<PathBuf>,
    /// The model a warm start begins from (default: the bundled model).
    #[arg(long, value_name = "MODEL")]
    pub from: Option<PathBuf>,
    /// Warm start: L2 strength on the change, per correction (larger: each correction
    /// moves the model less).
    #[arg(long, default_value_t = TuneConfig::default().l2)]
    pub tune_l2: f64,
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
    /// Leave out the word vectors (the mean GloVe vector of the merchant words): the text
    /// features of feature version 10, for comparing or for a smaller, faster model.
    #[arg(long)]
    pub no_word_vectors: bool,
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
    /// Below this probability a prediction is marked uncertain (every line, familiar or not).
    #[arg(long, default_value_t = Thresholds::default().uncertain_below, conflicts_with = "target_accuracy")]
    pub uncertain_below: f32,
    /// Fit the uncertainty thresholds on the validation rows instead: predictions left
    /// certain are right this often there (e.g. 0.97), among lines whose merchant words the
    /// model read in training and among the others, each kind with its own threshold.
    #[arg(long)]
    pub target_accuracy: Option<f64>,
    /// How amount, date and rail count: gated (as much as the text is unsure), always, off.
    #[arg(long, default_value = "gated")]
    pub context: String,
    /// After calibrating, train the text weights again on DATA and the calibration rows
    /// together, keeping the calibration: the model then also knows the merchants of the
    /// calibration rows (a second optimisation; for a model to ship, not one to measure).
    #[arg(long)]
    pub refit: bool,
    /// Rows that only the refit trains on, besides DATA and the calibration rows: lines of
    /// the calibration rows' merchants, which the calibration must not have seen but the
    /// model to ship should know.
    #[arg(long, value_name = "FILE", requires = "refit", requires = "validation")]
    pub refit_with: Option<PathBuf>,
    /// Fit the uncertainty threshold for --target-accuracy on this labelled file with the
    /// trained model, instead of on the calibration rows: new lines of merchants the model
    /// knows, for a model that is to know its users' merchants (the temperature stays the
    /// calibration rows').
    #[arg(long, value_name = "FILE", requires = "target_accuracy")]
    pub threshold_on: Option<PathBuf>,
}

/// Runs the command.
pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let Some(data) = args.data.clone() else {
        return tune(args);
    };
    let defaults = TrainConfig::default();
    let config = TrainConfig {
        features: FeatureConfig {
            word_vectors: !args.no_word_vectors,
            ..FeatureConfig::with_dim_bits(args.dim_bits)
        },
        l2: args.l2,
        class_weight: args.class_weight.parse::<ClassWeight>()?,
        max_iterations: args.max_iter,
        threads: args.threads.unwrap_or(defaults.threads),
        calibration_fraction: args.calibration_fraction,
        thresholds: Thresholds::default().one_threshold(args.uncertain_below),
        context: args.context.parse::<ContextMode>()?,
        target_accuracy: args.target_accuracy,
        refit: args.refit,
        ..defaults
    };
    let labels = args.labels.as_deref().map(read_labels).transpose()?;
    let several = args.validation.is_some();
    let data_path = data;
    // The training file's rows, then the validation file's (read alongside, as the trainer
    // asks for them); each file's refused rows are printed and checked after the training.
    let trained = with_labelled(
        &args.read,
        &data_path,
        labels.clone(),
        args.on_error,
        several,
        "trained",
        |rows| match &args.validation {
            None => Ok(classifier::train(rows, None, &config)),
            // Rows for the refit only: a third file, read alongside the other two.
            Some(v) => with_labelled(
                &args.read,
                v,
                labels.clone(),
                args.on_error,
                true,
                "trained",
                |v| match &args.refit_with {
                    None => Ok(classifier::train(rows, Some(v), &config)),
                    Some(r) => with_labelled(
                        &args.read,
                        r,
                        labels.clone(),
                        args.on_error,
                        true,
                        "trained",
                        |r| classifier::train_refitting_with(rows, Some(v), Some(r), &config),
                    ),
                },
            )?,
        },
    )??;
    let (mut model, report) = trained?;
    if let (Some(path), Some(target)) = (&args.threshold_on, args.target_accuracy) {
        let fitted = with_labelled(
            &args.read,
            path,
            None,
            args.on_error,
            true,
            "fitted the threshold on",
            |rows| classifier::fit_threshold_on(&model, rows, target),
        )?;
        let (thresholds, rows) = fitted?;
        model = model.with_thresholds(thresholds)?;
        println!(
            "thresholds: fitted on {rows} rows of {} for {target}: uncertain below {:.4}, anchored lines below {:.4}, familiar lines below {:.4}",
            path.display(),
            thresholds.uncertain_below,
            thresholds.anchored_below,
            thresholds.familiar_below
        );
    }
    model.save(&args.output)?;
    let size = std::fs::metadata(&args.output)?.len();
    println!(
        "trained on {} rows ({} classes), calibrated on {} rows{}, {} skipped",
        report.train_rows,
        report.class_counts.len(),
        report.calibration_rows,
        if args.refit {
            " (then trained again on both)"
        } else {
            ""
        },
        report.skipped_rows
    );
    if !report.unlearnt.is_empty() {
        let labels: Vec<String> = report
            .unlearnt
            .iter()
            .map(|(label, n)| format!("{label} ({n})"))
            .collect();
        println!(
            "left out {} validation or refit rows whose label no training row has: {}",
            report.unlearnt.iter().map(|(_, n)| n).sum::<usize>(),
            labels.join(", ")
        );
    }
    println!(
        "features: 2^{} buckets{}, {} used, {} non-zeros",
        args.dim_bits,
        if args.no_word_vectors {
            ""
        } else {
            " with word vectors"
        },
        report.used_buckets,
        report.nnz
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
        "context: {:?}, fitted on {} rows; temperature {:.3}",
        config.context, report.context_rows, report.temperature,
    );
    let [strangers, anchored, familiar] = report.threshold_rows;
    println!(
        "uncertain below {:.4}, anchored lines below {:.4}, familiar lines below {:.4}{}",
        model.thresholds().uncertain_below,
        model.thresholds().anchored_below,
        model.thresholds().familiar_below,
        match args.target_accuracy {
            Some(_) => format!(
                " (fitted on calibration rows: {strangers} strangers, {anchored} anchored, {familiar} familiar)"
            ),
            None => String::new(),
        }
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

/// The warm start: the `--from` model nudged toward the corrections of `--corrections` or of
/// the store of `--config`.
fn tune(args: TrainArgs) -> anyhow::Result<()> {
    let model = super::model_named(args.from.as_deref())?;
    let config = TuneConfig {
        l2: args.tune_l2,
        threads: args.threads.unwrap_or(1),
        ..TuneConfig::default()
    };
    let stop = matches!(args.on_error, ErrorPolicy::Stop);
    let (tuned, report) = if let Some(path) = &args.corrections {
        let file = args.read.open(path, true, None, |r: Box<dyn Read>| r)?;
        let t = RefCell::new(Tally::default());
        let tuned = classifier::fine_tune(&model, tally(labelled(file), &t, stop), &config);
        // Refused rows are named below, with the ones whose label the model does not have.
        t.into_inner().check(path, "learnt")?;
        tuned?
    } else {
        let config_file = args
            .config
            .as_deref()
            .expect("clap requires data, corrections or config");
        let store_config = super::query::store_config(None, Some(config_file))?;
        let corrections = super::runtime()?.block_on(async {
            let store = super::query::open(&store_config).await?;
            anyhow::Ok(
                store
                    .corrections(&CorrectionQuery {
                        customer_id: None,
                        merchant: None,
                        limit: MAX_CORRECTIONS,
                    })
                    .await?,
            )
        })?;
        println!("{} corrections in the store", corrections.len());
        let rows = corrections
            .into_iter()
            .map(|c| Ok::<_, String>((c.transaction, c.category.0)));
        classifier::fine_tune(&model, rows, &config)?
    };
    for e in &report.errors {
        eprintln!("{e}");
    }
    tuned.save(&args.output)?;
    println!(
        "warm start from {} on {} corrections ({} skipped): {} right before, {} after; {} buckets changed",
        args.from
            .as_deref()
            .map_or("the bundled model".into(), |p| p.display().to_string()),
        report.rows,
        report.skipped_rows,
        report.right_before,
        report.right_after,
        report.buckets
    );
    println!(
        "model: {} ({} bytes), version {}",
        args.output.display(),
        std::fs::metadata(&args.output)?.len(),
        txclass_core::Classifier::version(&tuned)
    );
    if report.skipped_rows > 0 {
        return Err(some_refused(report.skipped_rows as u64, None, "not learnt"));
    }
    Ok(())
}
