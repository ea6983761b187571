//! One module per subcommand: a `clap::Args` struct and `run(args) -> anyhow::Result<()>`.

pub mod bench_partner;
pub mod classify;
pub mod eval;
pub mod explain;
pub mod gen_data;
pub mod health;
pub mod input;
pub mod keys;
pub mod query;
pub mod rules;
pub mod sim;
pub mod train;

use std::fmt;
use std::path::Path;

use txclass_core::classifier::{self, LogisticModel};

/// The model a `--model` (or `eval`'s first argument) names: a file, or `bundled`, the
/// model built into txclass, which is also the one when none is named.
pub fn model_named(name: Option<&Path>) -> anyhow::Result<LogisticModel> {
    let file = name.filter(|p| *p != Path::new("bundled"));
    Ok(classifier::model_at(file)?)
}

/// An error that ends the program with a specific exit code (anything else exits 1).
#[derive(Debug)]
pub struct Exit {
    /// The process exit code.
    pub code: u8,
    /// What to print after `error: `.
    pub message: String,
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

/// Exit code 2: a usage error found after parsing (a value clap could not check).
pub const USAGE: u8 = 2;
/// Exit code 3: `--on-error stop` stopped on a bad row.
pub const STOPPED: u8 = 3;
/// Exit code 4: the command finished, but some rows were refused (each named on stderr).
pub const SKIPPED: u8 = 4;
/// Exit code 5: the input was refused as a whole (a header without a required column,
/// dates or amounts that read two ways with no flag to decide them, no currency, not the
/// format it was read as), or every row of it was.
pub const REFUSED: u8 = 5;

/// The exit code of a failed run.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    e.downcast_ref::<Exit>().map_or(1, |x| x.code)
}

/// A tokio runtime for the async subcommands (the sync ones never start one).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Parses `YYYY-MM-DD` or `DD/MM/YYYY` (the core's date rule) for clap.
pub fn parse_date(s: &str) -> Result<chrono::NaiveDate, String> {
    txclass_core::records::parse_date(s)
}

/// Parses a probability in `[0, 1]` for clap.
pub fn probability(s: &str) -> Result<f32, String> {
    let p: f32 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    (0.0..=1.0)
        .contains(&p)
        .then_some(p)
        .ok_or_else(|| format!("{p} is not between 0 and 1"))
}

/// How the partner subcommands (`health`, `bench-partner`) reach a partner.
#[derive(Debug, clap::Args)]
pub struct PartnerArgs {
    /// The partner API's base URL, e.g. `http://127.0.0.1:8081`.
    #[arg(long)]
    pub url: String,
    /// Send `Authorization: Bearer <token>`, the token read from this environment variable.
    #[arg(long, value_name = "VAR")]
    pub token_env: Option<String>,
    /// Per-call timeout in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
}

impl PartnerArgs {
    /// The HTTP adapter for these arguments, with `capacity` and `page_size`; a bad URL or a
    /// missing token variable is a usage error.
    pub fn adapter(
        &self,
        capacity: std::num::NonZeroU32,
        page_size: std::num::NonZeroU32,
    ) -> anyhow::Result<txclass_core::partner::HttpPartner> {
        use txclass_core::partner::{AuthConfig, HttpPartner};
        use txclass_core::PartnerConfig;
        let mut config = PartnerConfig::new("partner", &self.url, capacity);
        config.timeout = std::time::Duration::from_millis(self.timeout_ms);
        config.page_size = page_size;
        config.auth = self.token_env.as_ref().map(|var| AuthConfig {
            header: "Authorization".into(),
            prefix: "Bearer ".into(),
            token: None,
            token_env: Some(var.clone()),
        });
        HttpPartner::new(&config).map_err(|e| {
            Exit {
                code: USAGE,
                message: txclass_core::Error::from(e).to_string(),
            }
            .into()
        })
    }
}
