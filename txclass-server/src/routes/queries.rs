//! The read routes: a customer's stored transactions, spending and merchants, and the
//! partners' state and health.

use chrono::NaiveDate;
use http::StatusCode;
use serde::Deserialize;
use txclass_core::store::{SpendingQuery, TxQuery};
use txclass_core::{Category, CustomerId, PartnerId};

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
                text: p.q.filter(|q| !q.trim().is_empty()),
                cursor: p.cursor,
                limit: page_limit(p.limit)?,
            })
            .await?;
        Ok(json(StatusCode::OK, &page))
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
            })
            .await?;
        Ok(json(
            StatusCode::OK,
            &serde_json::json!({"customer_id": customer, "interval": "month", "rows": rows}),
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
    q: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
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
