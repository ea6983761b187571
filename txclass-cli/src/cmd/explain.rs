//! `txclass explain`: why the model gives a line its category.

use anyhow::Context as _;
use txclass_core::classifier::ClassScore;
use txclass_core::currency::{self, Currency};
use txclass_core::Transaction;

/// Explain a prediction: the most likely category and the runner-up, each with the features
/// of the line that raised its score most (exact contributions: value × weight).
#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// The statement line, e.g. "PAG*PADARIA REAL SP".
    pub line: String,
    /// The amount, negative for money out, e.g. -12.50.
    #[arg(long, allow_hyphen_values = true)]
    pub amount: String,
    /// ISO 4217 currency of the amount.
    #[arg(long)]
    pub currency: String,
    /// The transaction's date (YYYY-MM-DD; default: today).
    #[arg(long, value_parser = super::parse_date)]
    pub date: Option<chrono::NaiveDate>,
    /// Model file (from `txclass train`), or `bundled` for the model bundled with txclass.
    #[arg(long, default_value = "bundled")]
    pub model: String,
    /// How many features to show for each of the two categories.
    #[arg(long, default_value_t = 8)]
    pub top: usize,
    /// Print the explanation as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(args: ExplainArgs) -> anyhow::Result<()> {
    let model = super::model_named(Some(args.model.as_ref()))?;
    let currency = Currency::from_code(&args.currency)
        .with_context(|| format!("--currency {:?} is not an ISO 4217 code", args.currency))?;
    let amount_minor = currency::amount_minor(&args.amount, currency)
        .map_err(|e| anyhow::anyhow!("--amount {:?}: {e}", args.amount))?;
    let tx = Transaction {
        id: "explain".into(),
        date: args
            .date
            .unwrap_or_else(|| chrono::Local::now().date_naive()),
        description: args.line.clone(),
        amount_minor,
        currency: currency.code().to_owned(),
    };
    let e = model.explain(&tx, args.top);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&e)?);
        return Ok(());
    }
    let p = &e.prediction;
    println!(
        "{}  {} {}",
        args.line,
        currency.format_minor(amount_minor),
        currency.code()
    );
    println!(
        "→ {} (p {:.3}, {}{})",
        p.category.as_str(),
        p.probability,
        serde_json::to_value(p.confidence)?.as_str().unwrap_or(""),
        if p.uncertain {
            ", under the threshold"
        } else {
            ""
        }
    );
    if let (Some(sub), Some(q)) = (&p.sub_category, p.sub_probability) {
        println!("  {} (p {q:.3})", sub.as_str());
    }
    if e.context_weight > 0.0 {
        println!(
            "the amount and date counted at {:.0} % of their weight (the less sure the text, the more)",
            100.0 * e.context_weight
        );
    }
    for (i, c) in e.classes.iter().enumerate() {
        print_class(if i == 0 { "best" } else { "runner-up" }, c);
    }
    Ok(())
}

fn print_class(role: &str, c: &ClassScore) {
    println!();
    println!(
        "{role}: {} p {:.4}, score {:.3} = bias {:.3} + features below + {:.3} from the rest",
        c.category.as_str(),
        c.probability,
        c.score,
        c.bias,
        c.rest
    );
    for f in &c.top {
        println!("  {:+8.3}  {}", f.contribution, f.feature);
    }
}
