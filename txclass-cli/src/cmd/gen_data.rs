//! `txclass gen-data`: writes generated labelled statement lines as train / validation / test
//! CSV files.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

use anyhow::Context;
use txclass_core::datagen::{self, GenConfig, Split};

/// Generate labelled bank-statement lines (seeded; unseen merchants in the test split).
#[derive(Debug, clap::Args)]
pub struct GenDataArgs {
    /// Directory for train.csv, validation.csv and test.csv (created if missing).
    #[arg(long, short = 'o', default_value = "data")]
    pub out_dir: PathBuf,
    /// Total rows over the three files.
    #[arg(long, default_value_t = 100_000)]
    pub rows: usize,
    /// Seed: the same seed writes the same files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Share of rows in validation.csv.
    #[arg(long, default_value_t = 0.1)]
    pub validation_fraction: f64,
    /// Share of rows in test.csv.
    #[arg(long, default_value_t = 0.2)]
    pub test_fraction: f64,
}

/// Runs the command.
pub fn run(args: GenDataArgs) -> anyhow::Result<()> {
    let config = GenConfig {
        seed: args.seed,
        rows: args.rows,
        validation_fraction: args.validation_fraction,
        test_fraction: args.test_fraction,
        ..GenConfig::default()
    };
    let rows = datagen::generate(&config)?;
    std::fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("cannot create {}", args.out_dir.display()))?;
    for split in [Split::Train, Split::Validation, Split::Test] {
        let path = args.out_dir.join(format!("{}.csv", split.name()));
        let file =
            File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        let part: Vec<_> = rows
            .iter()
            .filter(|(s, _)| *s == split)
            .map(|(_, r)| r)
            .collect();
        let unseen = part.iter().filter(|r| r.unseen_merchant).count();
        datagen::write_csv(BufWriter::new(file), part.iter().copied())?;
        println!(
            "{}: {} rows ({} from held-out merchants)",
            path.display(),
            part.len(),
            unseen
        );
    }
    Ok(())
}
