//! `txclass rules test FILE "LINE" --amount -12.50`: which rule of a rules file fires for a
//! statement line, and what the line comes out as.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use txclass_core::currency::Currency;
use txclass_core::records::amount_minor;
use txclass_core::store::merchant_name;
use txclass_core::{PartnerId, Transaction};

use super::classify::{load_model, load_rule_file};
use super::{parse_date, probability, Exit, USAGE};

/// Arguments of `txclass rules`.
#[derive(Debug, Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    command: RulesCommand,
}

#[derive(Debug, Subcommand)]
enum RulesCommand {
    /// Check a rules file: every rule valid, every regular expression compiles.
    Check {
        /// The rules file (TOML).
        file: PathBuf,
    },
    /// Classify one statement line through a rules file and the model; print which rules
    /// fired, what the model said and the result.
    Test(TestArgs),
}

/// Arguments of `txclass rules test`.
#[derive(Debug, Args)]
struct TestArgs {
    /// The rules file (TOML).
    file: PathBuf,
    /// The statement line (description).
    line: String,
    /// Signed amount in major units (`-12.50`).
    #[arg(long, allow_hyphen_values = true, default_value = "0")]
    amount: String,
    /// ISO 4217 code of the amount.
    #[arg(long, default_value = "BRL")]
    currency: Currency,
    /// Booking date.
    #[arg(long, value_parser = parse_date)]
    date: Option<chrono::NaiveDate>,
    /// The partner the line came from (for rules with a `partner_id` condition).
    #[arg(long)]
    partner: Option<String>,
    /// A trained model file (default: the bundled model).
    #[arg(long, value_name = "PATH")]
    model: Option<PathBuf>,
    /// Predictions less likely than this are labelled `uncertain` (default: the model's
    /// own threshold, as the server uses it; the bundled model's was fitted for 97 % right
    /// among the rest on merchants it had not seen).
    #[arg(long, value_parser = probability)]
    uncertain_below: Option<f32>,
}

/// Runs `txclass rules`.
pub fn run(args: RulesArgs) -> anyhow::Result<()> {
    match args.command {
        RulesCommand::Check { file } => {
            let set = load_rule_file(Some(&file))?;
            println!("{}: {} rules, all valid", file.display(), set.len());
            Ok(())
        }
        RulesCommand::Test(a) => test(a),
    }
}

fn test(a: TestArgs) -> anyhow::Result<()> {
    let rules = load_rule_file(Some(&a.file))?;
    let model = load_model(a.model.as_deref(), a.uncertain_below)?;
    let amount = amount_minor(&a.amount, a.currency).map_err(|message| Exit {
        code: USAGE,
        message: format!("--amount: {message}"),
    })?;
    let tx = Transaction {
        id: "line".into(),
        date: a.date.unwrap_or_else(|| chrono::Local::now().date_naive()),
        description: a.line,
        amount_minor: amount,
        currency: a.currency.code().to_owned(),
    };
    let partner = a.partner.map(PartnerId::new);
    let t = rules.trace(model.as_ref(), &tx, partner.as_ref());
    let fired = if t.fired.is_empty() {
        "none".to_owned()
    } else {
        t.fired.join(", ")
    };
    println!("fired:        {fired}");
    match &t.model {
        Some(m) => println!(
            "model:        {} {:.4} ({})",
            m.category,
            m.probability,
            m.confidence.as_str()
        ),
        None => println!("model:        not asked (a pre rule gave the category)"),
    }
    let p = &t.prediction;
    println!("category:     {}", p.category);
    println!(
        "sub_category: {}",
        p.sub_category.as_ref().map_or("-", |c| c.as_str())
    );
    println!("merchant:     {}", merchant_name(&tx.description, p));
    println!(
        "probability:  {:.4} ({}{})",
        p.probability,
        p.confidence.as_str(),
        if p.uncertain { ", uncertain" } else { "" }
    );
    println!("source:       {}", p.source);
    Ok(())
}
