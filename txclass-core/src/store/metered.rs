//! A [`Store`] that times every call and counts the failed ones (`txclass_store_*`, see
//! [`crate::telemetry`]). The orchestrator wraps whichever store it is given, so every
//! backend is measured the same way, at the one place the core calls it.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;
use metrics::{counter, histogram};
use tokio::time::Instant;

use super::{
    CorrectionQuery, LoggedEvent, MerchantRow, PageRecord, RuleFilter, SpendingQuery, SpendingRow,
    Store, StoreError, TxPage, TxQuery, UpsertReport,
};
use crate::domain::correction::Correction;
use crate::domain::rule::Rule;
use crate::domain::{ClassifiedTransaction, CustomerId, JobId, JobRecord};
use crate::telemetry::{STORE_DURATION, STORE_ERRORS};

/// Times the calls of the store it wraps.
pub struct MeteredStore {
    inner: Arc<dyn Store>,
}

impl MeteredStore {
    /// Measures `inner`.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self { inner }
    }
}

/// Runs one store call, recording its latency and, when it fails, an error.
async fn timed<T>(
    op: &'static str,
    kind: &'static str,
    call: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let started = Instant::now();
    let result = call.await;
    histogram!(STORE_DURATION, "op" => op, "kind" => kind).record(started.elapsed().as_secs_f64());
    if result.is_err() {
        counter!(STORE_ERRORS, "op" => op, "kind" => kind).increment(1);
    }
    result
}

const READ: &str = "read";
const WRITE: &str = "write";

#[async_trait]
impl Store for MeteredStore {
    async fn upsert(&self, txs: &[ClassifiedTransaction]) -> Result<UpsertReport, StoreError> {
        timed("upsert", WRITE, self.inner.upsert(txs)).await
    }

    async fn store_page(
        &self,
        page: &PageRecord,
        txs: &[ClassifiedTransaction],
    ) -> Result<UpsertReport, StoreError> {
        timed("store_page", WRITE, self.inner.store_page(page, txs)).await
    }

    async fn pages(&self, job: &JobId) -> Result<Vec<PageRecord>, StoreError> {
        timed("pages", READ, self.inner.pages(job)).await
    }

    async fn append_event(&self, job: &JobId, event: &LoggedEvent) -> Result<(), StoreError> {
        timed("append_event", WRITE, self.inner.append_event(job, event)).await
    }

    async fn events(
        &self,
        job: &JobId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<LoggedEvent>, StoreError> {
        timed("events", READ, self.inner.events(job, after, limit)).await
    }

    async fn running_jobs(&self, limit: u32) -> Result<Vec<JobRecord>, StoreError> {
        timed("running_jobs", READ, self.inner.running_jobs(limit)).await
    }

    async fn put_job(&self, job: &JobRecord) -> Result<(), StoreError> {
        timed("put_job", WRITE, self.inner.put_job(job)).await
    }

    async fn get_job(&self, id: &JobId) -> Result<Option<JobRecord>, StoreError> {
        timed("get_job", READ, self.inner.get_job(id)).await
    }

    async fn transactions(&self, q: &TxQuery) -> Result<TxPage, StoreError> {
        timed("transactions", READ, self.inner.transactions(q)).await
    }

    async fn spending(&self, q: &SpendingQuery) -> Result<Vec<SpendingRow>, StoreError> {
        timed("spending", READ, self.inner.spending(q)).await
    }

    async fn top_merchants(
        &self,
        customer: &CustomerId,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        n: u32,
    ) -> Result<Vec<MerchantRow>, StoreError> {
        timed(
            "top_merchants",
            READ,
            self.inner.top_merchants(customer, from, to, n),
        )
        .await
    }

    async fn create_rule(&self, rule: &Rule) -> Result<(), StoreError> {
        timed("create_rule", WRITE, self.inner.create_rule(rule)).await
    }

    async fn put_rule(&self, rule: &Rule) -> Result<(), StoreError> {
        timed("put_rule", WRITE, self.inner.put_rule(rule)).await
    }

    async fn get_rule(&self, id: &str) -> Result<Option<Rule>, StoreError> {
        timed("get_rule", READ, self.inner.get_rule(id)).await
    }

    async fn delete_rule(&self, id: &str) -> Result<bool, StoreError> {
        timed("delete_rule", WRITE, self.inner.delete_rule(id)).await
    }

    async fn rules(&self, filter: &RuleFilter) -> Result<Vec<Rule>, StoreError> {
        timed("rules", READ, self.inner.rules(filter)).await
    }

    async fn transactions_with_id(
        &self,
        customer: &CustomerId,
        id: &str,
    ) -> Result<Vec<ClassifiedTransaction>, StoreError> {
        timed(
            "transactions_with_id",
            READ,
            self.inner.transactions_with_id(customer, id),
        )
        .await
    }

    async fn put_correction(&self, correction: &Correction) -> Result<(), StoreError> {
        timed(
            "put_correction",
            WRITE,
            self.inner.put_correction(correction),
        )
        .await
    }

    async fn corrections(&self, q: &CorrectionQuery) -> Result<Vec<Correction>, StoreError> {
        timed("corrections", READ, self.inner.corrections(q)).await
    }

    async fn count(&self, customer: &CustomerId) -> Result<u64, StoreError> {
        timed("count", READ, self.inner.count(customer)).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        timed("ping", READ, self.inner.ping()).await
    }
}
