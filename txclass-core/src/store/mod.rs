//! Persistence: classified transactions (idempotent by `(partner_id, id)`) and job records.
//!
//! The embedded default is [`SqliteStore`]; the Elasticsearch store is the scaled one.

mod error;
mod sqlite;

pub use error::StoreError;
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::model::{Category, ClassifiedTransaction, CustomerId, JobId, JobRecord, PartnerId};

/// What an upsert did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpsertReport {
    /// Rows new to the store.
    pub inserted: usize,
    /// Rows that were there already and were replaced.
    pub updated: usize,
}

/// A page of a customer's transactions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TxQuery {
    /// Whose.
    pub customer_id: CustomerId,
    /// Only this partner's.
    pub partner_id: Option<PartnerId>,
    /// From this date (inclusive).
    pub from: Option<NaiveDate>,
    /// To this date (inclusive).
    pub to: Option<NaiveDate>,
    /// Only this category.
    pub category: Option<Category>,
    /// Only descriptions containing these words.
    pub text: Option<String>,
    /// Opaque cursor from the previous page.
    pub cursor: Option<String>,
    /// Page size.
    pub limit: u32,
}

/// One page of results, newest first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TxPage {
    /// The transactions.
    pub items: Vec<ClassifiedTransaction>,
    /// Cursor of the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

/// Spend per category per month of one customer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpendingQuery {
    /// Whose.
    pub customer_id: CustomerId,
    /// From this date (inclusive).
    pub from: Option<NaiveDate>,
    /// To this date (inclusive).
    pub to: Option<NaiveDate>,
}

/// One cell of the spending table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendingRow {
    /// `YYYY-MM`.
    pub month: String,
    /// The category.
    pub category: Category,
    /// Number of transactions.
    pub count: u64,
    /// Sum of signed amounts, minor units.
    pub amount_minor: i64,
}

/// Where classified transactions and jobs live.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Inserts or replaces transactions, keyed by `(partner_id, transaction.id)`: running the
    /// same page twice never duplicates.
    async fn upsert(&self, txs: &[ClassifiedTransaction]) -> Result<UpsertReport, StoreError>;

    /// Saves a job record (insert or replace).
    async fn put_job(&self, job: &JobRecord) -> Result<(), StoreError>;

    /// Loads a job record.
    async fn get_job(&self, id: &JobId) -> Result<Option<JobRecord>, StoreError>;

    /// A page of a customer's transactions.
    async fn transactions(&self, q: &TxQuery) -> Result<TxPage, StoreError>;

    /// Spend per category per month.
    async fn spending(&self, q: &SpendingQuery) -> Result<Vec<SpendingRow>, StoreError>;

    /// Number of stored transactions of a customer (all partners).
    async fn count(&self, customer: &CustomerId) -> Result<u64, StoreError>;
}

fn _obj_safe(_: Box<dyn Store>) {}

/// Where the embedded store keeps its file when nothing else is configured (relative to the
/// working directory).
pub const DEFAULT_DB_PATH: &str = "data/txclass.db";
