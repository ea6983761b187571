//! `txclass gen-data`: writes generated labelled statement lines as train / validation / test
//! CSV files, from the real-brand corpus (default) or the synthetic generator.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

use anyhow::Context;
use txclass_core::datagen::corpus::{self, CorpusConfig};
use txclass_core::datagen::{self, GenConfig, LabelledRow, Split};

/// Generate labelled bank-statement lines (seeded; unseen merchants in the test split).
///
/// With `--corpus brands` (default), every test row names a merchant never seen in training;
/// `test.csv` holds those that are otherwise like training rows (the brand-held-out split),
/// `test_country.csv` those from held-out countries, `test_template.csv` those printed with
/// held-out layouts, prefixes or templates.
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
    /// Which lines: `brands` (real brands of many countries, held out by brand, country and
    /// template) or `synthetic` (the original generator's vocabulary).
    #[arg(long, default_value = "brands", value_parser = ["brands", "synthetic"])]
    pub corpus: String,
    /// Also write brands.csv and brands_validation.csv: lines that bring every brand of the
    /// index to at least this many rows over the files, for a model that should know them
    /// all, like the bundled one (the second file's brands are validation.csv's: train on it
    /// only after calibrating, with `train --refit-with`). They name test brands: never
    /// measure on them, nor train a model you measure on test.csv with them.
    #[arg(long, default_value_t = 0)]
    pub brand_lines: usize,
}

/// Runs the command.
pub fn run(args: GenDataArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("cannot create {}", args.out_dir.display()))?;
    if args.corpus == "brands" {
        let config = CorpusConfig {
            seed: args.seed,
            rows: args.rows,
            validation_fraction: args.validation_fraction,
            test_fraction: args.test_fraction,
            ..CorpusConfig::default()
        };
        let rows = corpus::generate(&config)?;
        if args.brand_lines > 0 {
            let extra = corpus::brand_lines(&config, &rows, args.brand_lines);
            let of = |validation: bool| -> Vec<&LabelledRow> {
                let e = extra.iter();
                e.filter(|r| (r.split == Split::Validation) == validation)
                    .map(|r| &r.row)
                    .collect()
            };
            write(&args.out_dir, "brands", &of(false))?;
            write(&args.out_dir, "brands_validation", &of(true))?;
        }
        let part = |f: &dyn Fn(&corpus::CorpusRow) -> bool| -> Vec<&LabelledRow> {
            rows.iter().filter(|r| f(r)).map(|r| &r.row).collect()
        };
        let test = |r: &corpus::CorpusRow| r.split == Split::Test;
        write(&args.out_dir, "train", &part(&|r| r.split == Split::Train))?;
        write(
            &args.out_dir,
            "validation",
            &part(&|r| r.split == Split::Validation),
        )?;
        // The test by what is new besides the merchant: nothing, the country, the template.
        write(
            &args.out_dir,
            "test",
            &part(&|r| test(r) && !r.held_country && !r.held_template),
        )?;
        write(
            &args.out_dir,
            "test_country",
            &part(&|r| test(r) && r.held_country),
        )?;
        write(
            &args.out_dir,
            "test_template",
            &part(&|r| test(r) && r.held_template && !r.held_country),
        )?;
        return Ok(());
    }
    let config = GenConfig {
        seed: args.seed,
        rows: args.rows,
        validation_fraction: args.validation_fraction,
        test_fraction: args.test_fraction,
        ..GenConfig::default()
    };
    let rows = datagen::generate(&config)?;
    for split in [Split::Train, Split::Validation, Split::Test] {
        let part: Vec<&LabelledRow> = rows
            .iter()
            .filter(|(s, _)| *s == split)
            .map(|(_, r)| r)
            .collect();
        write(&args.out_dir, split.name(), &part)?;
    }
    Ok(())
}

/// Writes `rows` to `dir/name.csv` and says how many came from held-out merchants.
fn write(dir: &std::path::Path, name: &str, rows: &[&LabelledRow]) -> anyhow::Result<()> {
    let path = dir.join(format!("{name}.csv"));
    let file = File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
    datagen::write_csv(BufWriter::new(file), rows.iter().copied())?;
    let unseen = rows.iter().filter(|r| r.unseen_merchant).count();
    println!(
        "{}: {} rows ({} from held-out merchants)",
        path.display(),
        rows.len(),
        unseen
    );
    Ok(())
}
