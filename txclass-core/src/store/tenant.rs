//! One tenant's view of a [`Store`]: its customer, partner and rule ids are namespaced
//! ([`TenantId::namespace`]) on the way in and plain on the way out, so every backend keeps
//! tenants apart with the keys, routing and filters it already has (a customer id routes and
//! filters the Elasticsearch documents, keys the SQLite rows; a partner id is part of every
//! transaction's key). The orchestrator reads and writes customer data only through this
//! view; jobs, their logs and checkpoints are keyed by job id (a job record names its
//! tenant, and the orchestrator checks it).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;

use super::{
    CorrectionQuery, LoggedEvent, MerchantRow, PageRecord, RuleFilter, SpendingQuery, SpendingRow,
    Store, StoreError, TxPage, TxQuery, UpsertReport, MAX_CORRECTIONS,
};
use crate::domain::correction::Correction;
use crate::domain::rule::{Rule, RuleScope};
use crate::domain::{ClassifiedTransaction, CustomerId, JobId, JobRecord, PartnerId, TenantId};

/// A tenant's view of the store it wraps.
pub struct TenantStore {
    inner: Arc<dyn Store>,
    /// Empty for the local tenant.
    ns: String,
}

impl TenantStore {
    /// `tenant`'s view of `inner`.
    pub fn new(inner: Arc<dyn Store>, tenant: &TenantId) -> Self {
        Self {
            inner,
            ns: tenant.namespace(),
        }
    }

    fn scoped(&self, id: &str) -> String {
        format!("{}{id}", self.ns)
    }

    /// An id of this tenant's, plain; `None` for another tenant's.
    fn plain<'a>(&self, id: &'a str) -> Option<&'a str> {
        if self.ns.is_empty() {
            // The local tenant's ids have no namespace; namespaced ones are other tenants'.
            (!id.contains('\u{1f}')).then_some(id)
        } else {
            id.strip_prefix(self.ns.as_str())
        }
    }

    fn customer(&self, c: &CustomerId) -> CustomerId {
        CustomerId(self.scoped(c.as_str()))
    }

    fn partner(&self, p: &PartnerId) -> PartnerId {
        PartnerId(self.scoped(p.as_str()))
    }

    fn tx_in(&self, t: &ClassifiedTransaction) -> ClassifiedTransaction {
        ClassifiedTransaction {
            partner_id: self.partner(&t.partner_id),
            customer_id: self.customer(&t.customer_id),
            ..t.clone()
        }
    }

    fn tx_out(&self, mut t: ClassifiedTransaction) -> ClassifiedTransaction {
        t.partner_id = PartnerId(self.unscoped(t.partner_id.0));
        t.customer_id = CustomerId(self.unscoped(t.customer_id.0));
        t
    }

    /// The plain form of an id read back through a query that was already scoped.
    fn unscoped(&self, id: String) -> String {
        match self.plain(&id) {
            Some(p) if p.len() != id.len() => p.to_owned(),
            _ => id,
        }
    }

    fn rule_in(&self, rule: &Rule) -> Rule {
        let mut r = rule.clone();
        r.id = self.scoped(&rule.id);
        if let RuleScope::Customer { customer_id } = &mut r.scope {
            *customer_id = self.customer(customer_id);
        }
        r
    }

    /// This tenant's rule, plain; `None` for another tenant's.
    fn rule_out(&self, mut r: Rule) -> Option<Rule> {
        r.id = self.plain(&r.id)?.to_owned();
        if let RuleScope::Customer { customer_id } = &mut r.scope {
            *customer_id = CustomerId(self.unscoped(std::mem::take(&mut customer_id.0)));
        }
        Some(r)
    }

    fn correction_out(&self, mut c: Correction) -> Option<Correction> {
        c.customer_id = CustomerId(self.plain(c.customer_id.as_str())?.to_owned());
        c.partner_id = PartnerId(self.unscoped(c.partner_id.0));
        Some(c)
    }
}

#[async_trait]
impl Store for TenantStore {
    async fn upsert(&self, txs: &[ClassifiedTransaction]) -> Result<UpsertReport, StoreError> {
        if self.ns.is_empty() {
            // The local tenant's ids are stored as they are: no copy of the page.
            return self.inner.upsert(txs).await;
        }
        let txs: Vec<_> = txs.iter().map(|t| self.tx_in(t)).collect();
        self.inner.upsert(&txs).await
    }

    async fn store_page(
        &self,
        page: &PageRecord,
        txs: &[ClassifiedTransaction],
    ) -> Result<UpsertReport, StoreError> {
        if self.ns.is_empty() {
            return self.inner.store_page(page, txs).await;
        }
        let txs: Vec<_> = txs.iter().map(|t| self.tx_in(t)).collect();
        self.inner.store_page(page, &txs).await
    }

    async fn pages(&self, job: &JobId) -> Result<Vec<PageRecord>, StoreError> {
        self.inner.pages(job).await
    }

    async fn append_event(&self, job: &JobId, event: &LoggedEvent) -> Result<(), StoreError> {
        self.inner.append_event(job, event).await
    }

    async fn events(
        &self,
        job: &JobId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<LoggedEvent>, StoreError> {
        self.inner.events(job, after, limit).await
    }

    async fn running_jobs(&self, limit: u32) -> Result<Vec<JobRecord>, StoreError> {
        self.inner.running_jobs(limit).await
    }

    async fn put_job(&self, job: &JobRecord) -> Result<(), StoreError> {
        self.inner.put_job(job).await
    }

    async fn get_job(&self, id: &JobId) -> Result<Option<JobRecord>, StoreError> {
        self.inner.get_job(id).await
    }

    async fn transactions(&self, q: &TxQuery) -> Result<TxPage, StoreError> {
        let q = TxQuery {
            customer_id: self.customer(&q.customer_id),
            partner_id: q.partner_id.as_ref().map(|p| self.partner(p)),
            ..q.clone()
        };
        let mut page = self.inner.transactions(&q).await?;
        page.items = page.items.into_iter().map(|t| self.tx_out(t)).collect();
        Ok(page)
    }

    async fn spending(&self, q: &SpendingQuery) -> Result<Vec<SpendingRow>, StoreError> {
        let q = SpendingQuery {
            customer_id: self.customer(&q.customer_id),
            ..q.clone()
        };
        self.inner.spending(&q).await
    }

    async fn top_merchants(
        &self,
        customer: &CustomerId,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        n: u32,
    ) -> Result<Vec<MerchantRow>, StoreError> {
        self.inner
            .top_merchants(&self.customer(customer), from, to, n)
            .await
    }

    async fn create_rule(&self, rule: &Rule) -> Result<(), StoreError> {
        self.inner.create_rule(&self.rule_in(rule)).await
    }

    async fn put_rule(&self, rule: &Rule) -> Result<(), StoreError> {
        self.inner.put_rule(&self.rule_in(rule)).await
    }

    async fn get_rule(&self, id: &str) -> Result<Option<Rule>, StoreError> {
        let rule = self.inner.get_rule(&self.scoped(id)).await?;
        Ok(rule.and_then(|r| self.rule_out(r)))
    }

    async fn delete_rule(&self, id: &str) -> Result<bool, StoreError> {
        if self.plain(&self.scoped(id)).is_none() {
            // The local tenant cannot name another tenant's rule.
            return Ok(false);
        }
        self.inner.delete_rule(&self.scoped(id)).await
    }

    /// Every tenant's global rules share the store's global scope: they are listed and left
    /// out here by id.
    async fn rules(&self, filter: &RuleFilter) -> Result<Vec<Rule>, StoreError> {
        let filter = match filter {
            RuleFilter::AppliesTo(c) => RuleFilter::AppliesTo(self.customer(c)),
            other => other.clone(),
        };
        let rules = self.inner.rules(&filter).await?;
        Ok(rules.into_iter().filter_map(|r| self.rule_out(r)).collect())
    }

    async fn transactions_with_id(
        &self,
        customer: &CustomerId,
        id: &str,
    ) -> Result<Vec<ClassifiedTransaction>, StoreError> {
        let found = self
            .inner
            .transactions_with_id(&self.customer(customer), id)
            .await?;
        Ok(found.into_iter().map(|t| self.tx_out(t)).collect())
    }

    async fn put_correction(&self, c: &Correction) -> Result<(), StoreError> {
        let c = Correction {
            customer_id: self.customer(&c.customer_id),
            partner_id: self.partner(&c.partner_id),
            ..c.clone()
        };
        self.inner.put_correction(&c).await
    }

    /// Without a customer, every tenant's corrections are read and this one's kept (up to
    /// [`MAX_CORRECTIONS`] read).
    async fn corrections(&self, q: &CorrectionQuery) -> Result<Vec<Correction>, StoreError> {
        let limit = q.limit as usize;
        let q = match &q.customer_id {
            Some(c) => CorrectionQuery {
                customer_id: Some(self.customer(c)),
                ..q.clone()
            },
            None if !self.ns.is_empty() => CorrectionQuery {
                limit: MAX_CORRECTIONS,
                ..q.clone()
            },
            None => q.clone(),
        };
        let found = self.inner.corrections(&q).await?;
        Ok(found
            .into_iter()
            .filter_map(|c| self.correction_out(c))
            .take(limit)
            .collect())
    }

    async fn count(&self, customer: &CustomerId) -> Result<u64, StoreError> {
        self.inner.count(&self.customer(customer)).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
}
