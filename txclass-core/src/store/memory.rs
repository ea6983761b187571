//! The store of a core built without SQLite: everything in this process's memory, gone when
//! it ends. It answers every query exactly as the other stores do (the shared suite,
//! `tests/support/store_suite.rs`, runs against it too), so an embedder who keeps results
//! elsewhere, or a test, needs no database.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::NaiveDate;

use super::{
    decode_cursor, merchant_name, words, CorrectionQuery, Level, LoggedEvent, MerchantRow,
    PageRecord, RuleFilter, SpendingQuery, SpendingRow, Store, StoreError, TxPage, TxQuery,
    UpsertReport, MAX_CORRECTIONS, MAX_EVENTS, MAX_PAGE, MAX_RULES, MAX_SAME_ID, MAX_TOP_MERCHANTS,
};
use crate::domain::correction::Correction;
use crate::domain::rule::Rule;
use crate::domain::{Category, ClassifiedTransaction, CustomerId, JobId, JobRecord, JobStatus};
use crate::sync::Lock;

/// A transaction's place in its customer's order: date, then partner, then id (all
/// ascending here; queries walk it backwards for newest first).
type Key = (NaiveDate, String, String);

/// [`Store`] in memory. Cheap to share behind an `Arc`; one lock, held for each call.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Each customer's transactions in date order.
    by_customer: HashMap<CustomerId, BTreeMap<Key, ClassifiedTransaction>>,
    /// `(partner, id)` → where that transaction is.
    index: HashMap<(String, String), (CustomerId, NaiveDate)>,
    jobs: HashMap<JobId, JobRecord>,
    pages: HashMap<JobId, BTreeMap<u32, PageRecord>>,
    events: HashMap<JobId, BTreeMap<u64, LoggedEvent>>,
    /// Rules by id.
    rules: BTreeMap<String, Rule>,
    /// Corrections by `(partner, transaction id)`.
    corrections: HashMap<(String, String), Correction>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl State {
    fn upsert(&mut self, txs: &[ClassifiedTransaction]) -> UpsertReport {
        let mut report = UpsertReport::default();
        for ct in txs {
            let id = (ct.partner_id.0.clone(), ct.transaction.id.clone());
            match self
                .index
                .insert(id.clone(), (ct.customer_id.clone(), ct.transaction.date))
            {
                Some((customer, date)) => {
                    report.updated += 1;
                    if let Some(rows) = self.by_customer.get_mut(&customer) {
                        rows.remove(&(date, id.0.clone(), id.1.clone()));
                    }
                }
                None => report.inserted += 1,
            }
            self.by_customer
                .entry(ct.customer_id.clone())
                .or_default()
                .insert((ct.transaction.date, id.0, id.1), ct.clone());
        }
        report
    }

    /// The customer's transactions between two dates (inclusive), oldest first.
    fn between(
        &self,
        customer: &CustomerId,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> impl DoubleEndedIterator<Item = &ClassifiedTransaction> {
        let rows = self.by_customer.get(customer);
        let lower = from.map_or(Bound::Unbounded, |d| {
            Bound::Included((d, String::new(), String::new()))
        });
        let upper = match to.and_then(|d| d.succ_opt()) {
            Some(next) => Bound::Excluded((next, String::new(), String::new())),
            None => Bound::Unbounded,
        };
        rows.into_iter()
            .flat_map(move |r| r.range((lower.clone(), upper.clone())).map(|(_, v)| v))
    }
}

fn has_words(description: &str, wanted: &[String]) -> bool {
    let present: Vec<String> = words(description).collect();
    wanted.iter().all(|w| present.contains(w))
}

#[async_trait]
impl Store for MemoryStore {
    async fn upsert(&self, txs: &[ClassifiedTransaction]) -> Result<UpsertReport, StoreError> {
        Ok(self.state.locked().upsert(txs))
    }

    async fn store_page(
        &self,
        page: &PageRecord,
        txs: &[ClassifiedTransaction],
    ) -> Result<UpsertReport, StoreError> {
        let mut st = self.state.locked();
        let report = st.upsert(txs);
        st.pages
            .entry(page.job_id.clone())
            .or_default()
            .insert(page.page, page.clone());
        Ok(report)
    }

    async fn pages(&self, job: &JobId) -> Result<Vec<PageRecord>, StoreError> {
        let st = self.state.locked();
        Ok(st
            .pages
            .get(job)
            .map(|p| p.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn append_event(&self, job: &JobId, event: &LoggedEvent) -> Result<(), StoreError> {
        let mut st = self.state.locked();
        let log = st.events.entry(job.clone()).or_default();
        if log.contains_key(&event.seq) {
            return Err(StoreError::Conflict(format!(
                "event {} of job {job} exists",
                event.seq
            )));
        }
        log.insert(event.seq, event.clone());
        Ok(())
    }

    async fn events(
        &self,
        job: &JobId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<LoggedEvent>, StoreError> {
        let st = self.state.locked();
        Ok(st
            .events
            .get(job)
            .map(|log| {
                log.range(after.saturating_add(1)..)
                    .take(limit.min(MAX_EVENTS) as usize)
                    .map(|(_, e)| e.clone())
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn running_jobs(&self, limit: u32) -> Result<Vec<JobRecord>, StoreError> {
        let st = self.state.locked();
        let mut running: Vec<&JobRecord> = st
            .jobs
            .values()
            .filter(|j| matches!(j.status, JobStatus::Running))
            .collect();
        running.sort_by(|a, b| (a.created_at, &a.id.0).cmp(&(b.created_at, &b.id.0)));
        Ok(running.into_iter().take(limit as usize).cloned().collect())
    }

    async fn put_job(&self, job: &JobRecord) -> Result<(), StoreError> {
        self.state.locked().jobs.insert(job.id.clone(), job.clone());
        Ok(())
    }

    async fn get_job(&self, id: &JobId) -> Result<Option<JobRecord>, StoreError> {
        Ok(self.state.locked().jobs.get(id).cloned())
    }

    async fn transactions(&self, q: &TxQuery) -> Result<TxPage, StoreError> {
        let after = q.cursor.as_deref().map(decode_cursor).transpose()?;
        let wanted: Vec<String> = q
            .text
            .as_deref()
            .map(|t| words(t).collect())
            .unwrap_or_default();
        let limit = q.limit.clamp(1, MAX_PAGE) as usize;
        let st = self.state.locked();
        let items: Vec<ClassifiedTransaction> = st
            .between(&q.customer_id, q.from, q.to)
            .rev()
            .filter(|ct| {
                after.as_ref().is_none_or(|(d, p, i)| {
                    (
                        ct.transaction.date,
                        ct.partner_id.as_str(),
                        ct.transaction.id.as_str(),
                    ) < (*d, p.as_str(), i.as_str())
                })
            })
            .filter(|ct| q.partner_id.as_ref().is_none_or(|p| &ct.partner_id == p))
            .filter(|ct| {
                q.category
                    .as_ref()
                    .is_none_or(|c| &ct.prediction.category == c)
            })
            .filter(|ct| {
                q.sub_category
                    .as_ref()
                    .is_none_or(|c| ct.prediction.sub_category.as_ref() == Some(c))
            })
            .filter(|ct| wanted.is_empty() || has_words(&ct.transaction.description, &wanted))
            .take(limit + 1)
            .cloned()
            .collect();
        Ok(TxPage::from_overfetch(items, limit))
    }

    async fn spending(&self, q: &SpendingQuery) -> Result<Vec<SpendingRow>, StoreError> {
        let st = self.state.locked();
        type Cell = (String, Category, Option<Category>, String);
        let mut cells: BTreeMap<Cell, (u64, i64)> = BTreeMap::new();
        for ct in st.between(&q.customer_id, q.from, q.to) {
            let month = ct.transaction.date.format("%Y-%m").to_string();
            let sub = match q.level {
                Level::Main => None,
                Level::Sub => ct.prediction.sub_category.clone(),
            };
            let cell = cells
                .entry((
                    month,
                    ct.prediction.category.clone(),
                    sub,
                    ct.transaction.currency.clone(),
                ))
                .or_default();
            cell.0 += 1;
            cell.1 += ct.transaction.amount_minor;
        }
        Ok(cells
            .into_iter()
            .map(
                |((month, category, sub_category, currency), (count, amount_minor))| SpendingRow {
                    month,
                    category,
                    sub_category,
                    currency,
                    count,
                    amount_minor,
                },
            )
            .collect())
    }

    async fn top_merchants(
        &self,
        customer: &CustomerId,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        n: u32,
    ) -> Result<Vec<MerchantRow>, StoreError> {
        let st = self.state.locked();
        let mut by_merchant: HashMap<(String, String), (u64, i64)> = HashMap::new();
        for ct in st.between(customer, from, to) {
            if ct.transaction.amount_minor < 0 {
                let m = by_merchant
                    .entry((
                        merchant_name(&ct.transaction.description, &ct.prediction),
                        ct.transaction.currency.clone(),
                    ))
                    .or_default();
                m.0 += 1;
                m.1 += ct.transaction.amount_minor;
            }
        }
        let mut rows: Vec<MerchantRow> = by_merchant
            .into_iter()
            .map(
                |((merchant, currency), (count, amount_minor))| MerchantRow {
                    merchant,
                    currency,
                    count,
                    amount_minor,
                },
            )
            .collect();
        rows.sort_by(|a, b| {
            (a.amount_minor, &a.merchant, &a.currency).cmp(&(
                b.amount_minor,
                &b.merchant,
                &b.currency,
            ))
        });
        rows.truncate(n.min(MAX_TOP_MERCHANTS) as usize);
        Ok(rows)
    }

    async fn create_rule(&self, rule: &Rule) -> Result<(), StoreError> {
        let mut st = self.state.locked();
        if st.rules.contains_key(&rule.id) {
            return Err(StoreError::Conflict(format!("rule {} exists", rule.id)));
        }
        st.rules.insert(rule.id.clone(), rule.clone());
        Ok(())
    }

    async fn put_rule(&self, rule: &Rule) -> Result<(), StoreError> {
        self.state
            .locked()
            .rules
            .insert(rule.id.clone(), rule.clone());
        Ok(())
    }

    async fn get_rule(&self, id: &str) -> Result<Option<Rule>, StoreError> {
        Ok(self.state.locked().rules.get(id).cloned())
    }

    async fn delete_rule(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.state.locked().rules.remove(id).is_some())
    }

    async fn rules(&self, filter: &RuleFilter) -> Result<Vec<Rule>, StoreError> {
        Ok(self
            .state
            .locked()
            .rules
            .values()
            .filter(|r| filter.admits(&r.scope))
            .take(MAX_RULES)
            .cloned()
            .collect())
    }

    async fn transactions_with_id(
        &self,
        customer: &CustomerId,
        id: &str,
    ) -> Result<Vec<ClassifiedTransaction>, StoreError> {
        let st = self.state.locked();
        let mut found: Vec<ClassifiedTransaction> = st
            .index
            .iter()
            .filter(|((_, tx), (c, _))| tx == id && c == customer)
            .filter_map(|((partner, tx), (c, date))| {
                st.by_customer
                    .get(c)?
                    .get(&(*date, partner.clone(), tx.clone()))
                    .cloned()
            })
            .collect();
        found.sort_by(|a, b| a.partner_id.cmp(&b.partner_id));
        found.truncate(MAX_SAME_ID as usize);
        Ok(found)
    }

    async fn put_correction(&self, correction: &Correction) -> Result<(), StoreError> {
        let key = (
            correction.partner_id.0.clone(),
            correction.transaction.id.clone(),
        );
        self.state
            .locked()
            .corrections
            .insert(key, correction.clone());
        Ok(())
    }

    async fn corrections(&self, q: &CorrectionQuery) -> Result<Vec<Correction>, StoreError> {
        let st = self.state.locked();
        let mut found: Vec<&Correction> = st
            .corrections
            .values()
            .filter(|c| q.customer_id.as_ref().is_none_or(|id| &c.customer_id == id))
            .filter(|c| q.merchant.as_ref().is_none_or(|m| &c.merchant == m))
            .collect();
        found.sort_by(|a, b| {
            (b.corrected_at, &b.partner_id, &b.transaction.id).cmp(&(
                a.corrected_at,
                &a.partner_id,
                &a.transaction.id,
            ))
        });
        Ok(found
            .into_iter()
            .take(q.limit.min(MAX_CORRECTIONS) as usize)
            .cloned()
            .collect())
    }

    async fn count(&self, customer: &CustomerId) -> Result<u64, StoreError> {
        let st = self.state.locked();
        Ok(st.by_customer.get(customer).map_or(0, |r| r.len() as u64))
    }
}
