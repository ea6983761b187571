//! `txclass`: the command-line interface (minimal main for the classifier branch; the lead
//! merges these subcommands into the real one).

mod cmd;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "txclass", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model from a labelled CSV.
    Train(cmd::train::TrainArgs),
    /// Evaluate a model on a labelled CSV.
    Eval(cmd::eval::EvalArgs),
    /// Generate labelled statement lines (train / validation / test).
    GenData(cmd::gen_data::GenDataArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Train(a) => cmd::train::run(a),
        Command::Eval(a) => cmd::eval::run(a),
        Command::GenData(a) => cmd::gen_data::run(a),
    }
}
