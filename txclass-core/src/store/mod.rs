//! Persistence: classified transactions (idempotent by `(partner_id, id)`) and job records.
//!
//! The embedded default is `SqliteStore` (feature `sqlite`, on by default; without it,
//! [`MemoryStore`]); `ElasticStore` (feature `elasticsearch`) is the scaled one. Both answer the same queries the same way (one shared integration suite,
//! `tests/support/store_suite.rs`, runs against each); what they must agree on lives here:
//!
//! - order: newest first, ties broken by `partner_id` then transaction id, both descending
//!   and compared as bytes (SQLite `BINARY` collation, Lucene keyword order);
//! - text filter: every word of the query ([`words`]) must be a whole word of the
//!   description, case-insensitively;
//! - merchant: [`merchant_of`] of the description, computed once when a transaction is written;
//! - cursors: hex JSON of the last item's `(date, partner, id)`, so a cursor from one
//!   store pages the other the same way.

mod config;
#[cfg(feature = "elasticsearch")]
pub mod elastic;
mod error;
mod memory;
mod metered;
#[cfg(feature = "sqlite")]
mod sqlite;
mod tenant;

/// The merchant of a description (one home: [`crate::merchant`]), re-exported where the
/// stores' queries use it.
pub use crate::merchant::{merchant_name, merchant_of};
pub use config::{ElasticAuthSettings, ElasticSettings, StoreConfig, StoreKeys};
#[cfg(feature = "elasticsearch")]
pub use elastic::{ElasticAuth, ElasticConfig, ElasticStore, WriteVisibility};
pub use error::StoreError;
pub use memory::MemoryStore;
pub use metered::MeteredStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
pub use tenant::TenantStore;

use async_trait::async_trait;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::domain::correction::Correction;
use crate::domain::rule::{Rule, RuleScope};
pub use crate::domain::taxonomy::Level;
use crate::domain::{
    Category, ClassifiedTransaction, CustomerId, JobId, JobRecord, PartnerId, Summary,
};
use crate::progress::Progress;

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
    /// Only this sub-category (a full `main/sub` label; see [`crate::domain::taxonomy`]).
    #[serde(default)]
    pub sub_category: Option<Category>,
    /// Only descriptions containing these words.
    pub text: Option<String>,
    /// Opaque cursor from the previous page.
    pub cursor: Option<String>,
    /// Page size.
    pub limit: u32,
}

impl TxQuery {
    /// The query with its category filters as [`Taxonomy::resolve`](crate::domain::taxonomy::Taxonomy::resolve)
    /// reads them: `category` may be `main/sub`, `sub_category` a full label or a sub id of
    /// `category`; a sub-category the built-in taxonomy does not have under one of its
    /// categories is an [`InvalidRequest`](crate::domain::InvalidRequest).
    pub fn resolved(&self) -> Result<TxQuery, crate::domain::InvalidRequest> {
        let (category, sub_category) = crate::domain::taxonomy::Taxonomy::builtin()
            .resolve(
                self.category.as_ref().map(Category::as_str),
                self.sub_category.as_ref().map(Category::as_str),
            )
            .map_err(|message| crate::domain::InvalidRequest {
                field: if self.sub_category.is_some() {
                    "sub_category"
                } else {
                    "category"
                },
                message,
            })?;
        Ok(TxQuery {
            category,
            sub_category,
            ..self.clone()
        })
    }
}

/// One page of results, newest first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TxPage {
    /// The transactions.
    pub items: Vec<ClassifiedTransaction>,
    /// Cursor of the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

impl TxPage {
    /// The page from `items` read one past `limit` (newest first): the extra item, if any,
    /// only says that another page follows, whose cursor is the last item kept.
    pub(crate) fn from_overfetch(mut items: Vec<ClassifiedTransaction>, limit: usize) -> Self {
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|l| {
                encode_cursor(l.transaction.date, l.partner_id.as_str(), &l.transaction.id)
            })
        } else {
            None
        };
        TxPage { items, next_cursor }
    }
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
    /// Per category, or per category and sub-category.
    #[serde(default)]
    pub level: Level,
}

/// One cell of the spending table: one month, category (and at [`Level::Sub`]
/// sub-category) and currency (amounts of different currencies are never added).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SpendingRow {
    /// `YYYY-MM`.
    pub month: String,
    /// The category.
    pub category: Category,
    /// At [`Level::Sub`], the sub-category (a full `main/sub` label); `None` for the
    /// category's transactions without one, and at [`Level::Main`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_category: Option<Category>,
    /// ISO 4217 code of `amount_minor`.
    pub currency: String,
    /// Number of transactions.
    pub count: u64,
    /// Sum of signed amounts, minor units.
    pub amount_minor: i64,
}

/// One merchant of [`Store::top_merchants`], in one currency (a merchant paid in two
/// currencies has two rows: amounts of different currencies are never added).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MerchantRow {
    /// [`merchant_name`] of the transactions.
    pub merchant: String,
    /// ISO 4217 code of `amount_minor`.
    pub currency: String,
    /// Number of outgoing transactions.
    pub count: u64,
    /// Sum of their (negative) amounts, minor units.
    pub amount_minor: i64,
}

/// A page a job has stored: its checkpoint. A job that is resumed (its instance died, or the
/// process restarted) carries on after the last stored page, from its `next_cursor`, and
/// adds the pages' totals back into its summary, so no stored page is fetched again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PageRecord {
    /// The job.
    pub job_id: JobId,
    /// 1-based page number within the job.
    pub page: u32,
    /// The partner's cursor of the next page; `None` on the last page.
    pub next_cursor: Option<String>,
    /// The page's totals (`pages` = 1, `retried_calls` = calls of this page that went
    /// through the retry queue, `elapsed_ms` unused).
    pub totals: Summary,
}

/// What storing a page came to: counts and totals, never the transactions themselves (the
/// retry worker sends this to the waiting job over the result bus).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PageOutcome {
    /// Transactions on the page.
    pub transactions: usize,
    /// Of those, new to the store.
    pub inserted: usize,
    /// The partner's cursor of the next page.
    pub next_cursor: Option<String>,
    /// The page's totals.
    pub totals: Summary,
}

impl From<PageRecord> for PageOutcome {
    /// A page stored earlier, told again (nothing new was inserted this time).
    fn from(rec: PageRecord) -> Self {
        PageOutcome {
            transactions: rec.totals.transactions as usize,
            inserted: 0,
            next_cursor: rec.next_cursor,
            totals: rec.totals,
        }
    }
}

/// One event of a job's log, numbered from 1 without gaps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoggedEvent {
    /// Position in the job's log (the SSE `id:` is `<job_id>:<seq>`).
    pub seq: u64,
    /// The event.
    pub event: Progress,
}

/// Largest number of events [`Store::events`] returns at once.
pub const MAX_EVENTS: u32 = 1000;

/// Largest page [`Store::transactions`] returns, whatever the query's `limit`.
pub const MAX_PAGE: u32 = 1000;

/// Largest `n` [`Store::top_merchants`] answers.
pub const MAX_TOP_MERCHANTS: u32 = 1000;

/// Which rules [`Store::rules`] lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleFilter {
    /// Every rule.
    All,
    /// The rules a job of this customer runs: the global ones and the customer's own.
    AppliesTo(CustomerId),
}

/// Largest number of rules [`Store::rules`] returns.
pub const MAX_RULES: usize = 10_000;

/// Which corrections [`Store::corrections`] lists, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CorrectionQuery {
    /// Only this customer's (all customers' when `None`: an export for training).
    pub customer_id: Option<CustomerId>,
    /// Only corrections of this merchant (as [`Correction::merchant`] holds it).
    pub merchant: Option<String>,
    /// At most this many (capped at [`MAX_CORRECTIONS`]).
    pub limit: u32,
}

/// Largest number of corrections [`Store::corrections`] returns.
pub const MAX_CORRECTIONS: u32 = 10_000;

/// Largest number of transactions [`Store::transactions_with_id`] returns (one per partner
/// that gave the customer a transaction with that id).
pub const MAX_SAME_ID: u32 = 100;

/// Where classified transactions and jobs live.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Inserts or replaces transactions, keyed by `(partner_id, transaction.id)`: running the
    /// same page twice never duplicates.
    async fn upsert(&self, txs: &[ClassifiedTransaction]) -> Result<UpsertReport, StoreError>;

    /// Stores a page's transactions (as [`upsert`](Self::upsert)) together with the job's
    /// checkpoint for it, in one step where the backend allows it (SQLite: one transaction;
    /// Elasticsearch: one bulk request), so a job resumed after a crash never finds the rows
    /// without the checkpoint. Writing the same page again replaces its record.
    async fn store_page(
        &self,
        page: &PageRecord,
        txs: &[ClassifiedTransaction],
    ) -> Result<UpsertReport, StoreError>;

    /// The checkpoints of a job, by page number.
    async fn pages(&self, job: &JobId) -> Result<Vec<PageRecord>, StoreError>;

    /// Appends `event` at `seq` to the job's log, readable at once by [`events`](Self::events)
    /// from any instance. Fails with [`StoreError::Conflict`] when `seq` is taken: two
    /// writers of one job cannot both log (the loser must stop).
    async fn append_event(&self, job: &JobId, event: &LoggedEvent) -> Result<(), StoreError>;

    /// The job's events after `after` (0: from the first), in order, at most `limit`
    /// (capped at [`MAX_EVENTS`]).
    async fn events(
        &self,
        job: &JobId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<LoggedEvent>, StoreError>;

    /// Jobs whose record says `running` (oldest `created_at` first, compared to the
    /// millisecond, ties by job id; at most `limit`): the candidates for a resume after a
    /// crash.
    async fn running_jobs(&self, limit: u32) -> Result<Vec<JobRecord>, StoreError>;

    /// Saves a job record (insert or replace).
    async fn put_job(&self, job: &JobRecord) -> Result<(), StoreError>;

    /// Loads a job record.
    async fn get_job(&self, id: &JobId) -> Result<Option<JobRecord>, StoreError>;

    /// A page of a customer's transactions.
    async fn transactions(&self, q: &TxQuery) -> Result<TxPage, StoreError>;

    /// Spend per month, category, (at [`Level::Sub`]) sub-category and currency, in that
    /// order; no sub-category sorts before any.
    async fn spending(&self, q: &SpendingQuery) -> Result<Vec<SpendingRow>, StoreError>;

    /// The `n` merchants ([`merchant_name`]) a customer spent most with between `from` and
    /// `to` (inclusive), one row per merchant and currency: outgoing transactions only
    /// (`amount_minor < 0`), largest spend first (compared as minor units), ties by name, then
    /// currency. `n` is capped at [`MAX_TOP_MERCHANTS`].
    async fn top_merchants(
        &self,
        customer: &CustomerId,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        n: u32,
    ) -> Result<Vec<MerchantRow>, StoreError>;

    /// Stores a new rule; fails with [`StoreError::Conflict`] when its id is taken.
    async fn create_rule(&self, rule: &Rule) -> Result<(), StoreError>;

    /// Stores a rule, replacing the one with its id if there is one.
    async fn put_rule(&self, rule: &Rule) -> Result<(), StoreError>;

    /// The rule with this id.
    async fn get_rule(&self, id: &str) -> Result<Option<Rule>, StoreError>;

    /// Deletes a rule; `false` when there was none with this id.
    async fn delete_rule(&self, id: &str) -> Result<bool, StoreError>;

    /// Rules by id (ascending), at most [`MAX_RULES`]; seen at once by every instance
    /// after a write returns.
    async fn rules(&self, filter: &RuleFilter) -> Result<Vec<Rule>, StoreError>;

    /// The customer's stored transactions with this id (one per partner that has one), by
    /// partner, at most [`MAX_SAME_ID`].
    async fn transactions_with_id(
        &self,
        customer: &CustomerId,
        id: &str,
    ) -> Result<Vec<ClassifiedTransaction>, StoreError>;

    /// Stores a correction, replacing an earlier one of the same transaction (`partner_id`,
    /// transaction id); seen at once by every instance after it returns.
    async fn put_correction(&self, correction: &Correction) -> Result<(), StoreError>;

    /// Corrections, newest first (`corrected_at`, then partner and transaction id, all
    /// descending).
    async fn corrections(&self, q: &CorrectionQuery) -> Result<Vec<Correction>, StoreError>;

    /// Number of stored transactions of a customer (all partners).
    async fn count(&self, customer: &CustomerId) -> Result<u64, StoreError>;

    /// Answers `Ok` when the backend serves requests now: the readiness check. The default
    /// makes a real round trip (a count for an empty customer id); stores override it with
    /// something cheaper.
    async fn ping(&self) -> Result<(), StoreError> {
        self.count(&CustomerId::new("")).await.map(drop)
    }
}

fn _obj_safe(_: Box<dyn Store>) {}

/// Where the embedded store keeps its file when nothing else is configured (relative to the
/// working directory).
pub const DEFAULT_DB_PATH: &str = "data/txclass.db";
/// The words of a description or of a text query: maximal runs of letters and digits,
/// lower-cased. A text query matches a description when each of its words is one of the
/// description's words. The Elasticsearch mapping tokenises the same way (a pattern tokenizer
/// on `[^\p{L}\p{N}]+` and a lowercase filter).
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

impl RuleFilter {
    /// Whether a rule of `scope` is listed.
    pub fn admits(&self, scope: &RuleScope) -> bool {
        match self {
            RuleFilter::All => true,
            RuleFilter::AppliesTo(c) => scope.applies_to(Some(c)),
        }
    }
}

/// The cursor after the item `(date, partner, id)`: hex of a JSON array, opaque to clients.
pub(crate) fn encode_cursor(date: NaiveDate, partner: &str, id: &str) -> String {
    let json = serde_json::to_string(&[&date.to_string(), partner, id]).expect("strings serialise");
    json.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The `(date, partner, id)` of an [`encode_cursor`] cursor.
pub(crate) fn decode_cursor(c: &str) -> Result<(NaiveDate, String, String), StoreError> {
    if !c.len().is_multiple_of(2) {
        return Err(StoreError::InvalidCursor);
    }
    let bytes: Result<Vec<u8>, _> = (0..c.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(c.get(i..i + 2).ok_or(StoreError::InvalidCursor)?, 16)
                .map_err(|_| StoreError::InvalidCursor)
        })
        .collect();
    let [d, p, i]: [String; 3] =
        serde_json::from_slice(&bytes?).map_err(|_| StoreError::InvalidCursor)?;
    let d = d.parse().map_err(|_| StoreError::InvalidCursor)?;
    Ok((d, p, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lowercase_alphanumeric_runs() {
        let w: Vec<String> = words("PAG*Padaria  São-Paulo 12,50").collect();
        assert_eq!(w, ["pag", "padaria", "são", "paulo", "12", "50"]);
        assert_eq!(words(" *** ").count(), 0);
    }

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let d: NaiveDate = "2026-03-01".parse().unwrap();
        let c = encode_cursor(d, "bank", "tx:1\"\u{e9}");
        assert_eq!(
            decode_cursor(&c).unwrap(),
            (d, "bank".into(), "tx:1\"\u{e9}".into())
        );
        assert!(matches!(
            decode_cursor("zz"),
            Err(StoreError::InvalidCursor)
        ));
        assert!(matches!(
            decode_cursor("abc"),
            Err(StoreError::InvalidCursor)
        ));
        let not_a_date = "[\"x\",\"p\",\"i\"]"
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
        assert!(matches!(
            decode_cursor(&not_a_date),
            Err(StoreError::InvalidCursor)
        ));
    }
}
