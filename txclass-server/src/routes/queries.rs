//! The read routes: a customer's stored transactions, spending and merchants, and the
//! partners' state and health.

use chrono::NaiveDate;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use txclass_core::classifier::explain::DEFAULT_TOP;
use txclass_core::classifier::Explanation;
use txclass_core::orchestrator::PartnerStatus;
use txclass_core::partner::Health;
use txclass_core::store::{Level, MerchantRow, SpendingQuery, SpendingRow, TxQuery};
use txclass_core::{Category, ClassifiedTransaction, CustomerId, PartnerId};
use utoipa::{IntoParams, ToSchema};

use super::bodies::{json, page_limit, parse_query, Res};
use super::Scoped;
use crate::error::ApiError;

impl Scoped<'_> {
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
        // With `explain=true`, each transaction with why the model gives its text that
        // category (the current model: a transaction stored by an older one carries that
        // one's answer).
        let classifier = p.explain.then(|| self.orchestrator.classifier());
        let items: Vec<Listed<'_>> = page
            .items
            .iter()
            .map(|item| Listed {
                item,
                explanation: classifier
                    .as_ref()
                    .and_then(|c| c.explain(&item.transaction, DEFAULT_TOP)),
            })
            .collect();
        Ok(json(
            StatusCode::OK,
            &TransactionPage {
                items,
                next_cursor: page.next_cursor,
            },
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
            &Spending {
                customer_id: customer,
                interval: "month",
                level: p.level,
                rows,
            },
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
            &Merchants {
                customer_id: customer,
                merchants: rows,
            },
        ))
    }

    /// `GET /v1/taxonomy`: the categories and sub-categories results are labelled with, and
    /// the taxonomy's version (each stored result carries the version it was labelled in).
    pub(super) fn taxonomy(&self) -> Result<Res, ApiError> {
        Ok(json(
            StatusCode::OK,
            txclass_core::domain::taxonomy::Taxonomy::builtin(),
        ))
    }

    /// `GET /v1/partners`.
    pub(super) async fn partners(&self) -> Result<Res, ApiError> {
        let partners = self.orchestrator.partner_status().await?;
        Ok(json(StatusCode::OK, &Partners { partners }))
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
            &PartnerHealth {
                partner_id: id,
                health,
            },
        ))
    }
}

/// Which of a customer's transactions, and how many.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct TxParams {
    /// Only this partner's.
    #[serde(default)]
    partner_id: Option<PartnerId>,
    /// From this date (inclusive).
    #[serde(default)]
    from: Option<NaiveDate>,
    /// To this date (inclusive).
    #[serde(default)]
    to: Option<NaiveDate>,
    /// Only this category.
    #[serde(default)]
    category: Option<String>,
    /// Only descriptions holding every one of these words (case-insensitive).
    #[serde(default)]
    sub_category: Option<String>,
    #[serde(default)]
    q: Option<String>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    cursor: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// Adds each transaction's explanation (`explain=true`).
    #[serde(default)]
    explain: bool,
}

/// A page of a customer's transactions, newest first.
#[derive(Serialize, ToSchema)]
pub(super) struct TransactionPage<'a> {
    /// The transactions.
    items: Vec<Listed<'a>>,
    /// Cursor of the next page; `null` on the last.
    next_cursor: Option<String>,
}

/// A stored transaction and, with `explain=true`, why the model gives it its category.
#[derive(Serialize, ToSchema)]
#[schema(as = ListedTransaction)]
struct Listed<'a> {
    #[serde(flatten)]
    item: &'a ClassifiedTransaction,
    /// With `explain=true` (and a model that can explain itself): what made the model's
    /// answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    explanation: Option<Explanation>,
}

/// Spend per category per month.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct SpendingParams {
    /// From this date (inclusive).
    #[serde(default)]
    from: Option<NaiveDate>,
    /// To this date (inclusive).
    #[serde(default)]
    to: Option<NaiveDate>,
    /// `month`, the only interval.
    #[serde(default)]
    #[param(pattern = "^month$")]
    interval: Option<String>,
    /// `main` (default) or `sub`.
    #[serde(default)]
    level: Level,
}

/// A customer's spend per month, category and currency.
#[derive(Serialize, ToSchema)]
pub(super) struct Spending {
    /// Whose.
    customer_id: CustomerId,
    /// Always `month`.
    #[schema(pattern = "^month$")]
    interval: &'static str,
    /// The level of `rows`: `main`, or `sub` (one row per sub-category).
    level: Level,
    /// One row per month, category (and sub-category at level `sub`) and currency.
    rows: Vec<SpendingRow>,
}

/// Where a customer spent most.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct MerchantParams {
    /// From this date (inclusive).
    #[serde(default)]
    from: Option<NaiveDate>,
    /// To this date (inclusive).
    #[serde(default)]
    to: Option<NaiveDate>,
    /// How many merchants, 1 to 1000 (default 10).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// The merchants a customer spent most with, per currency.
#[derive(Serialize, ToSchema)]
pub(super) struct Merchants {
    /// Whose.
    customer_id: CustomerId,
    /// Largest spend first.
    merchants: Vec<MerchantRow>,
}

/// Every configured partner.
#[derive(Serialize, ToSchema)]
pub(super) struct Partners {
    /// In configuration order.
    partners: Vec<PartnerStatus>,
}

/// A partner's health check.
#[derive(Serialize, ToSchema)]
pub(super) struct PartnerHealth {
    /// The partner.
    partner_id: PartnerId,
    /// What its health endpoint answered.
    health: Health,
}
