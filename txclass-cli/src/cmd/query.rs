//! `txclass query`: read the embedded store.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use txclass_core::model::{Category, CustomerId, PartnerId};
use txclass_core::store::{SpendingQuery, SqliteStore, Store, TxQuery, DEFAULT_DB_PATH};

use super::{money, parse_date, runtime};

/// Arguments of `txclass query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The SQLite database (the server's default is the same).
    #[arg(long, global = true, default_value = DEFAULT_DB_PATH)]
    pub db: PathBuf,
    /// JSON lines instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
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
        /// Only this category.
        #[arg(long)]
        category: Option<String>,
        /// Only descriptions containing all these words.
        #[arg(long)]
        q: Option<String>,
        /// The cursor printed after the previous page.
        #[arg(long)]
        cursor: Option<String>,
        /// Page size (1–1000).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
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
        /// How many (1–1000).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
    },
}

/// Runs `txclass query`.
pub fn run(args: QueryArgs) -> anyhow::Result<()> {
    let store = open(&args.db)?;
    runtime()?.block_on(async move {
        match args.what {
            Query::Transactions {
                customer,
                partner,
                from,
                to,
                category,
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
                    text: q,
                    cursor,
                    limit,
                };
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
                            money(tx.amount_minor),
                            tx.description.chars().take(40).collect::<String>(),
                            tx.id
                        );
                    }
                }
                if let Some(c) = page.next_cursor {
                    eprintln!("more: --cursor {c}");
                }
            }
            Query::Spending { customer, from, to } => {
                let rows = store
                    .spending(&SpendingQuery {
                        customer_id: CustomerId::new(customer),
                        from,
                        to,
                    })
                    .await?;
                if args.json {
                    for r in &rows {
                        println!("{}", serde_json::to_string(r)?);
                    }
                } else {
                    println!(
                        "{:<8} {:<16} {:>6} {:>14}",
                        "month", "category", "count", "total"
                    );
                    for r in &rows {
                        println!(
                            "{:<8} {:<16} {:>6} {:>14}",
                            r.month,
                            r.category.as_str(),
                            r.count,
                            money(r.amount_minor)
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
                    println!("{:<32} {:>6} {:>14}", "merchant", "count", "total");
                    for r in &rows {
                        println!(
                            "{:<32} {:>6} {:>14}",
                            r.merchant,
                            r.count,
                            money(r.amount_minor)
                        );
                    }
                }
            }
        }
        Ok(())
    })
}

/// Opens an existing database: a query must not create an empty one by mistake.
fn open(path: &Path) -> anyhow::Result<SqliteStore> {
    if !path.exists() {
        anyhow::bail!(
            "no database at {} (run the server or an embedder first, or pass --db)",
            path.display()
        );
    }
    Ok(SqliteStore::open(path)?)
}
