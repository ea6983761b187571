//! `txclass query`: read the store, the embedded one or the one a server config names.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use txclass_core::domain::{Category, CustomerId, PartnerId, TenantId};
use txclass_core::store::{
    CorrectionQuery, Level, SpendingQuery, Store, StoreConfig, StoreError, StoreKeys, TenantStore,
    TxQuery, DEFAULT_DB_PATH, MAX_CORRECTIONS,
};

use super::{parse_date, runtime, Exit, USAGE};

/// Arguments of `txclass query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The SQLite database [default: data/txclass.db, the server's default]; replaces the
    /// store of --config.
    #[arg(long, global = true)]
    pub db: Option<PathBuf>,
    /// A server config file (TOML, or JSON if it ends in .json): query the store its
    /// `[store]` table or `store_path` names. Its other keys are the server's and are not
    /// read here.
    #[arg(long, global = true, env = "TXCLASS_CONFIG")]
    pub config: Option<PathBuf>,
    /// JSON lines instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// Whose data: a tenant of the server's API keys (default: `local`, the tenant of a
    /// server without keys).
    #[arg(long, global = true)]
    pub tenant: Option<String>,
    /// What to query.
    #[command(subcommand)]
    pub what: Query,
}

/// The queries.
#[derive(Debug, Subcommand)]
pub enum Query {
    /// A page of a customer's classified transactions, newest first.
    Transactions {
        /// Whose.
        #[arg(long)]
        customer: String,
        /// Only this partner's.
        #[arg(long)]
        partner: Option<String>,
        /// From this date (inclusive).
        #[arg(long, value_parser = parse_date)]
        from: Option<NaiveDate>,
        /// To this date (inclusive).
        #[arg(long, value_parser = parse_date)]
        to: Option<NaiveDate>,
        /// Only this category (`restaurants`, or a sub-category as `restaurants/coffee`).
        #[arg(long)]
        category: Option<String>,
        /// Only this sub-category: `restaurants/coffee`, or `coffee` with --category.
        #[arg(long)]
        sub_category: Option<String>,
        /// Only descriptions containing all these words.
        #[arg(long)]
        q: Option<String>,
        /// The cursor printed after the previous page.
        #[arg(long)]
        cursor: Option<String>,
        /// Page size (1 to the store's largest page, 1000).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=i64::from(txclass_core::store::MAX_PAGE)))]
        limit: u32,
    },
    /// Spend per month per category of a customer.
    Spending {
        /// Whose.
        #[arg(long)]
        customer: String,
        /// From this date (inclusive).
        #[arg(long, value_parser = parse_date)]
        from: Option<NaiveDate>,
        /// To this date (inclusive).
        #[arg(long, value_parser = parse_date)]
        to: Option<NaiveDate>,
        /// Per category (main) or per category and sub-category (sub).
        #[arg(long, default_value = "main")]
        level: Level,
    },
    /// The merchants a customer spent most with.
    Merchants {
        /// Whose.
        #[arg(long)]
        customer: String,
        /// From this date (inclusive).
        #[arg(long, value_parser = parse_date)]
        from: Option<NaiveDate>,
        /// To this date (inclusive).
        #[arg(long, value_parser = parse_date)]
        to: Option<NaiveDate>,
        /// How many (1 to the store's most, 1000).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=i64::from(txclass_core::store::MAX_TOP_MERCHANTS)))]
        limit: u32,
    },
    /// Users' corrections, newest first: `--csv` writes the labelled file
    /// `txclass train --corrections` reads.
    Corrections {
        /// Only this customer's (default: everyone's).
        #[arg(long)]
        customer: Option<String>,
        /// Only this merchant's.
        #[arg(long)]
        merchant: Option<String>,
        /// How many (1 to 10,000).
        #[arg(long, default_value_t = MAX_CORRECTIONS, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_CORRECTIONS)))]
        limit: u32,
        /// CSV with date, description, amount, currency and category columns.
        #[arg(long, conflicts_with = "json")]
        csv: bool,
    },
}

/// Runs `txclass query`.
pub fn run(args: QueryArgs) -> anyhow::Result<()> {
    let config = store_config(args.db.as_deref(), args.config.as_deref())?;
    let tenant = match &args.tenant {
        Some(t) => TenantId::new(t).map_err(|e| Exit {
            code: USAGE,
            message: format!("--tenant {}", e.message),
        })?,
        None => TenantId::local(),
    };
    runtime()?.block_on(async move {
        // The tenant's view: its ids plain, other tenants' data out of sight.
        let store = TenantStore::new(open(&config).await?, &tenant);
        match args.what {
            Query::Transactions {
                customer,
                partner,
                from,
                to,
                category,
                sub_category,
                q,
                cursor,
                limit,
            } => {
                let query = TxQuery {
                    customer_id: CustomerId::new(customer),
                    partner_id: partner.map(PartnerId::new),
                    from,
                    to,
                    category: category.map(Category::new),
                    sub_category: sub_category.map(Category::new),
                    text: q,
                    cursor,
                    limit,
                };
                let query = query.resolved().map_err(|e| Exit {
                    code: USAGE,
                    message: e.to_string(),
                })?;
                let page = store.transactions(&query).await?;
                if args.json {
                    for t in &page.items {
                        println!("{}", serde_json::to_string(t)?);
                    }
                } else {
                    println!(
                        "{:<10} {:<12} {:<16} {:>12} {:<40} {:<14}",
                        "date", "partner", "category", "amount", "description", "id"
                    );
                    for t in &page.items {
                        let tx = &t.transaction;
                        println!(
                            "{:<10} {:<12} {:<16} {:>12} {:<40} {:<14}",
                            tx.date,
                            t.partner_id.as_str(),
                            t.prediction.category.as_str(),
                            txclass_core::currency::format_minor(tx.amount_minor, &tx.currency),
                            tx.description.chars().take(40).collect::<String>(),
                            tx.id
                        );
                    }
                }
                if let Some(c) = page.next_cursor {
                    eprintln!("more: --cursor {c}");
                }
            }
            Query::Spending {
                customer,
                from,
                to,
                level,
            } => {
                let rows = store
                    .spending(&SpendingQuery {
                        customer_id: CustomerId::new(customer),
                        from,
                        to,
                        level,
                    })
                    .await?;
                if args.json {
                    for r in &rows {
                        println!("{}", serde_json::to_string(r)?);
                    }
                } else {
                    // At the sub level, a category's transactions without a sub-category are
                    // on the row of the bare category.
                    let width = if level == Level::Sub { 32 } else { 16 };
                    println!(
                        "{:<8} {:<width$} {:<8} {:>6} {:>14}",
                        "month", "category", "currency", "count", "total"
                    );
                    for r in &rows {
                        println!(
                            "{:<8} {:<width$} {:<8} {:>6} {:>14}",
                            r.month,
                            r.sub_category.as_ref().unwrap_or(&r.category).as_str(),
                            r.currency,
                            r.count,
                            txclass_core::currency::format_minor(r.amount_minor, &r.currency)
                        );
                    }
                }
            }
            Query::Merchants {
                customer,
                from,
                to,
                limit,
            } => {
                let rows = store
                    .top_merchants(&CustomerId::new(customer), from, to, limit)
                    .await?;
                if args.json {
                    for r in &rows {
                        println!("{}", serde_json::to_string(r)?);
                    }
                } else {
                    println!(
                        "{:<32} {:<8} {:>6} {:>14}",
                        "merchant", "currency", "count", "total"
                    );
                    for r in &rows {
                        println!(
                            "{:<32} {:<8} {:>6} {:>14}",
                            r.merchant,
                            r.currency,
                            r.count,
                            txclass_core::currency::format_minor(r.amount_minor, &r.currency)
                        );
                    }
                }
            }
            Query::Corrections {
                customer,
                merchant,
                limit,
                csv,
            } => {
                let rows = store
                    .corrections(&CorrectionQuery {
                        customer_id: customer.map(CustomerId::new),
                        merchant,
                        limit,
                    })
                    .await?;
                if csv {
                    let mut w = csv::Writer::from_writer(std::io::stdout().lock());
                    w.write_record(["date", "description", "amount", "currency", "category"])?;
                    for c in &rows {
                        let tx = &c.transaction;
                        w.write_record([
                            tx.date.to_string().as_str(),
                            &tx.description,
                            &txclass_core::currency::format_minor(tx.amount_minor, &tx.currency),
                            &tx.currency,
                            // The finest label the user gave: what a warm start learns.
                            c.sub_category.as_ref().unwrap_or(&c.category).as_str(),
                        ])?;
                    }
                    w.flush()?;
                } else if args.json {
                    for c in &rows {
                        println!("{}", serde_json::to_string(c)?);
                    }
                } else {
                    println!(
                        "{:<10} {:<16} {:<16} {:<16} {:>12} {:<40}",
                        "date", "customer", "was", "category", "amount", "description"
                    );
                    for c in &rows {
                        let tx = &c.transaction;
                        println!(
                            "{:<10} {:<16} {:<16} {:<16} {:>12} {:<40}",
                            tx.date,
                            c.customer_id.as_str(),
                            c.previous_category.as_str(),
                            c.category.as_str(),
                            txclass_core::currency::format_minor(tx.amount_minor, &tx.currency),
                            tx.description.chars().take(40).collect::<String>(),
                        );
                    }
                }
            }
        }
        Ok(())
    })
}

/// The store to read: `db`, else the store of the server config file `config`, else the
/// default SQLite file. A config file that cannot be read or names its store wrongly is a
/// usage error.
pub(super) fn store_config(
    db: Option<&Path>,
    config: Option<&Path>,
) -> anyhow::Result<StoreConfig> {
    if let Some(db) = db {
        return Ok(StoreConfig::sqlite(db));
    }
    let Some(path) = config else {
        return Ok(StoreConfig::sqlite(DEFAULT_DB_PATH));
    };
    let usage = |message: String| Exit {
        code: USAGE,
        message,
    };
    let keys: StoreKeys =
        txclass_core::config::from_file(path).map_err(|e| usage(e.to_string()))?;
    keys.resolve()
        .map_err(|e| usage(format!("{}: {e}", path.display())).into())
}

/// Opens the store. An SQLite file must exist already: a query must not create an empty one
/// by mistake.
pub(super) async fn open(config: &StoreConfig) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(file) = config.sqlite_file() {
        if !file.exists() {
            anyhow::bail!(
                "no database at {} (run the server or an embedder first, or pass --db)",
                file.display()
            );
        }
    }
    config.open().await.map_err(|e| match e {
        StoreError::InvalidConfig(_) => Exit {
            code: USAGE,
            message: e.to_string(),
        }
        .into(),
        other => other.into(),
    })
}
