//! The read routes: a customer's stored transactions, spending and merchants, and the
//! partners' state and health.

use chrono::NaiveDate;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use txclass_core::classifier::Explanation;
use txclass_core::store::{Level, SpendingQuery, TxQuery};
use txclass_core::{Category, ClassifiedTransaction, CustomerId, PartnerId};

use super::bodies::{json, page_limit, parse_query, Res};
use super::App;
use crate::error::ApiError;

impl App {
    /// `GET /v1/customers/{id}/transactions`.
    pub(super) async fn transactions(
        &self,
        customer: CustomerId,
        query: &str,
    ) -> Result<Res, ApiError> {
        let p: TxParams = parse_query(query)?;
        let page = self
            .orchestrator
            .transactions(&TxQuery {
                customer_id: customer,
                partner_id: p.partner_id,
                from: p.from,
                to: p.to,
                category: p.category.map(Category::new),
                sub_category: p.sub_category.map(Category::new),
                text: p.q.filter(|q| !q.trim().is_empty()),
                cursor: p.cursor,
                limit: page_limit(p.limit)?,
            })
            .await?;
        if !p.explain {
            return Ok(json(StatusCode::OK, &page));
        }
        // Each transaction with why the model gives its text that category (the current
        // model: a transaction stored by an older one carries that one's answer).
        let classifier = self.orchestrator.classifier();
        let items: Vec<Explained<'_>> = page
            .items
            .iter()
            .map(|item| Explained {
                item,
                explanation: classifier.explain(&item.transaction, EXPLAIN_TOP),
            })
            .collect();
        Ok(json(
            StatusCode::OK,
            &serde_json::json!({"items": items, "next_cursor": page.next_cursor}),
        ))
    }

    /// `GET /v1/customers/{id}/spending`.
    pub(super) async fn spending(
        &self,
        customer: CustomerId,
        query: &str,
    ) -> Result<Res, ApiError> {
        let p: SpendingParams = parse_query(query)?;
        if let Some(interval) = p.interval.as_deref() {
            if interval != "month" {
                return Err(ApiError::invalid(
                    "interval",
                    format!("unsupported interval {interval:?} (only \"month\")"),
                ));
            }
        }
        let rows = self
            .orchestrator
            .spending(&SpendingQuery {
                customer_id: customer.clone(),
                from: p.from,
                to: p.to,
                level: p.level,
            })
            .await?;
        Ok(json(
            StatusCode::OK,
            &serde_json::json!({
                "customer_id": customer, "interval": "month", "level": p.level, "rows": rows
            }),
        ))
    }

    /// `GET /v1/customers/{id}/merchants`: where the customer spent most.
    pub(super) async fn merchants(
        &self,
        customer: CustomerId,
        query: &str,
    ) -> Result<Res, ApiError> {
        let p: MerchantParams = parse_query(query)?;
        let limit = p.limit.unwrap_or(10);
        if limit == 0 || limit > txclass_core::store::MAX_TOP_MERCHANTS {
            return Err(ApiError::invalid(
                "limit",
                format!(
                    "must be between 1 and {}",
                    txclass_core::store::MAX_TOP_MERCHANTS
                ),
            ));
        }
        let rows = self
            .orchestrator
            .top_merchants(&customer, p.from, p.to, limit)
            .await?;
        Ok(json(
            StatusCode::OK,
            &serde_json::json!({"customer_id": customer, "merchants": rows}),
        ))
    }

    /// `GET /v1/taxonomy`: the categories and sub-categories results are labelled with, and
    /// the taxonomy's version (each stored result carries the version it was labelled in).
    pub(super) fn taxonomy(&self) -> Result<Res, ApiError> {
        Ok(json(
            StatusCode::OK,
            txclass_core::taxonomy::Taxonomy::builtin(),
        ))
    }

    /// `GET /v1/partners`.
    pub(super) async fn partners(&self) -> Result<Res, ApiError> {
        let partners = self.orchestrator.partner_status().await?;
        Ok(json(
            StatusCode::OK,
            &serde_json::json!({"partners": partners}),
        ))
    }

    /// `GET /v1/partners/{id}/health`: 200 when the partner answers, 503 when not.
    pub(super) async fn partner_health(&self, id: PartnerId) -> Result<Res, ApiError> {
        let health = self.orchestrator.partner_health(&id).await?;
        let status = if health.healthy {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        Ok(json(
            status,
            &serde_json::json!({"partner_id": id, "health": health}),
        ))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TxParams {
    #[serde(default)]
    partner_id: Option<PartnerId>,
    #[serde(default)]
    from: Option<NaiveDate>,
    #[serde(default)]
    to: Option<NaiveDate>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    sub_category: Option<String>,
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
    /// Adds each transaction's explanation (`explain=true`).
    #[serde(default)]
    explain: bool,
}

/// Features shown per category in an explanation.
const EXPLAIN_TOP: usize = 5;

/// A stored transaction and, with `explain=true`, why the model gives it its category.
#[derive(Serialize)]
struct Explained<'a> {
    #[serde(flatten)]
    item: &'a ClassifiedTransaction,
    explanation: Option<Explanation>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpendingParams {
    #[serde(default)]
    from: Option<NaiveDate>,
    #[serde(default)]
    to: Option<NaiveDate>,
    #[serde(default)]
    interval: Option<String>,
    /// `main` (default) or `sub`.
    #[serde(default)]
    level: Level,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MerchantParams {
    #[serde(default)]
    from: Option<NaiveDate>,
    #[serde(default)]
    to: Option<NaiveDate>,
    #[serde(default)]
    limit: Option<u32>,
}
