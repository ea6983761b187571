//! The corrections routes: `POST /v1/customers/{id}/transactions/{tx}/category` corrects a
//! stored transaction's category (the core validates, stores and re-summarises),
//! `GET /v1/customers/{id}/corrections` lists the customer's corrections, newest first, and
//! `GET /v1/categories` names the categories a correction may give (the model's main
//! categories).

use http::{Request, StatusCode};
use hyper::body::Incoming;
use serde::{Deserialize, Serialize};
use txclass_core::domain::correction::{Correction, CorrectionRequest};
use txclass_core::store::{CorrectionQuery, MAX_CORRECTIONS};
use txclass_core::{Category, CustomerId};
use utoipa::{IntoParams, ToSchema};

use super::bodies::{json, parse_query, Res};
use super::Scoped;
use crate::error::ApiError;

/// Which corrections.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct ListParams {
    /// Only this merchant's (as `merchant` is written in a correction).
    merchant: Option<String>,
    /// At most this many (1 to 10,000; default 100).
    #[param(minimum = 1, maximum = 10000)]
    limit: Option<u32>,
}

/// The categories a correction may give.
#[derive(Serialize, ToSchema)]
pub(super) struct Categories<'a> {
    /// The model's main categories.
    categories: &'a [Category],
    /// The model's name and version.
    model_version: &'a str,
}

/// A customer's corrections, newest first.
#[derive(Serialize, ToSchema)]
pub(super) struct Corrections {
    /// The corrections.
    corrections: Vec<Correction>,
}

impl Scoped<'_> {
    /// `GET /v1/categories`: the model's main categories and version (sub-categories:
    /// `GET /v1/taxonomy`).
    pub(super) fn categories(&self) -> Res {
        let classifier = self.orchestrator.classifier();
        json(
            StatusCode::OK,
            &Categories {
                categories: classifier.categories(),
                model_version: classifier.version(),
            },
        )
    }

    /// `POST /v1/customers/{id}/transactions/{tx}/category`: `200` with the transaction as
    /// now stored, the correction, the month's spending after it and any suggested rule.
    pub(super) async fn correct(
        &self,
        customer: CustomerId,
        tx: &str,
        req: Request<Incoming>,
    ) -> Result<Res, ApiError> {
        let request: CorrectionRequest = self.json_body(req).await?;
        let outcome = self.orchestrator.correct(&customer, tx, request).await?;
        Ok(json(StatusCode::OK, &outcome))
    }

    /// `GET /v1/customers/{id}/corrections[?merchant=&limit=]`.
    pub(super) async fn list_corrections(
        &self,
        customer: CustomerId,
        query: &str,
    ) -> Result<Res, ApiError> {
        let p: ListParams = parse_query(query)?;
        let limit = p.limit.unwrap_or(100);
        if !(1..=MAX_CORRECTIONS).contains(&limit) {
            return Err(ApiError::invalid(
                "limit",
                format!("must be between 1 and {MAX_CORRECTIONS}"),
            ));
        }
        let corrections = self
            .orchestrator
            .corrections(&CorrectionQuery {
                customer_id: Some(customer),
                merchant: p.merchant,
                limit,
            })
            .await?;
        Ok(json(StatusCode::OK, &Corrections { corrections }))
    }
}
