//! What the shells read: a job's transactions, a customer's transactions, spending and
//! merchants, the partners' state. The shells ask the orchestrator, never the store, limiter
//! or breakers behind it, so what a read means (which rows belong to a job, which partner
//! state is reported) is decided once, here.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::Orchestrator;
use crate::breaker::CircuitState;
use crate::domain::{CustomerId, JobId, JobRecord, PartnerId};
use crate::partner::Health;
use crate::store::{MerchantRow, SpendingQuery, SpendingRow, TxPage, TxQuery};
use crate::{Error, Result};

/// A partner as `GET /v1/partners` reports it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PartnerStatus {
    /// The partner.
    pub id: PartnerId,
    /// Most concurrent calls, across every instance.
    pub capacity: u32,
    /// Permits held now (across every instance, with a shared limiter).
    pub in_use: u32,
    /// The circuit's state as this instance sees it.
    pub circuit: CircuitState,
}

impl Orchestrator {
    /// A job's record and a page of the transactions it stored (its customer, partner and
    /// window); `None` for an unknown job.
    pub async fn job_page(
        &self,
        id: &JobId,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Option<(JobRecord, TxPage)>> {
        let Some(record) = self.job(id).await? else {
            return Ok(None);
        };
        let page = self
            .transactions(&TxQuery {
                customer_id: record.request.customer_id.clone(),
                partner_id: Some(record.request.partner_id.clone()),
                from: Some(record.request.from),
                to: Some(record.request.to),
                category: None,
                sub_category: None,
                text: None,
                cursor,
                limit,
            })
            .await?;
        Ok(Some((record, page)))
    }

    /// A page of a customer's stored transactions, its category filters read as
    /// [`TxQuery::resolved`] reads them.
    pub async fn transactions(&self, q: &TxQuery) -> Result<TxPage> {
        Ok(self.data.transactions(&q.resolved()?).await?)
    }

    /// Spend per month and category (or category and sub-category, at [`Level::Sub`](crate::domain::taxonomy::Level)).
    pub async fn spending(&self, q: &SpendingQuery) -> Result<Vec<SpendingRow>> {
        Ok(self.data.spending(q).await?)
    }

    /// The `n` merchants a customer spent most with.
    pub async fn top_merchants(
        &self,
        customer: &CustomerId,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        n: u32,
    ) -> Result<Vec<MerchantRow>> {
        Ok(self.data.top_merchants(customer, from, to, n).await?)
    }

    /// Every configured partner's capacity, permits in use and circuit.
    pub async fn partner_status(&self) -> Result<Vec<PartnerStatus>> {
        let mut out = Vec::new();
        for p in self.inner.partners.values() {
            out.push(PartnerStatus {
                id: p.config.id.clone(),
                capacity: p.config.capacity.get(),
                in_use: self.inner.limiter.in_use(&p.config.id).await?,
                circuit: p.breaker.state(),
            });
        }
        Ok(out)
    }

    /// A live health check of one partner.
    pub async fn partner_health(&self, id: &PartnerId) -> Result<Health> {
        let p = self
            .inner
            .partners
            .get(id)
            .ok_or_else(|| Error::UnknownPartner(id.clone()))?;
        Ok(p.adapter.health().await)
    }
}
