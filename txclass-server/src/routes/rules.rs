//! The rules routes: `GET`/`POST /v1/rules`, `GET`/`PUT`/`DELETE /v1/rules/{id}`. The core
//! validates (a 400 names the field at fault, `conditions.description_matches` for a bad
//! regular expression).

use http::header::{HeaderValue, LOCATION};
use http::{Request, StatusCode};
use hyper::body::Incoming;
use serde::{Deserialize, Serialize};
use txclass_core::rules::Rule;
use txclass_core::store::RuleFilter;
use txclass_core::CustomerId;
use utoipa::{IntoParams, ToSchema};

use super::bodies::{json, parse_query, Res};
use super::Scoped;
use crate::error::ApiError;

/// Which rules.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct ListParams {
    /// Only the rules this customer's jobs run (the global ones and the customer's).
    customer_id: Option<String>,
}

/// The rules, by stage, order and id.
#[derive(Serialize, ToSchema)]
pub(super) struct Rules {
    /// The rules.
    rules: Vec<Rule>,
}

/// A deleted rule.
#[derive(Serialize, ToSchema)]
pub(super) struct Deleted<'a> {
    /// The rule's id.
    id: &'a str,
    /// Always `true`.
    deleted: bool,
}

impl Scoped<'_> {
    /// `GET /v1/rules[?customer_id=]`.
    pub(super) async fn list_rules(&self, query: &str) -> Result<Res, ApiError> {
        let p: ListParams = parse_query(query)?;
        let filter = match p.customer_id {
            Some(c) => RuleFilter::AppliesTo(CustomerId::new(c)),
            None => RuleFilter::All,
        };
        let rules = self.orchestrator.list_rules(&filter).await?;
        Ok(json(StatusCode::OK, &Rules { rules }))
    }

    /// `POST /v1/rules`: `201` with the rule as stored (its id given when the body has
    /// none) and its `Location`.
    pub(super) async fn create_rule(&self, req: Request<Incoming>) -> Result<Res, ApiError> {
        let rule: Rule = self.json_body(req).await?;
        let rule = self.orchestrator.create_rule(rule).await?;
        let mut res = json(StatusCode::CREATED, &rule);
        if let Ok(v) = HeaderValue::from_str(&format!("/v1/rules/{}", rule.id)) {
            res.headers_mut().insert(LOCATION, v);
        }
        Ok(res)
    }

    /// `GET /v1/rules/{id}`.
    pub(super) async fn get_rule(&self, id: &str) -> Result<Res, ApiError> {
        match self.orchestrator.rule(id).await? {
            Some(rule) => Ok(json(StatusCode::OK, &rule)),
            None => Err(txclass_core::Error::UnknownRule(id.to_owned()).into()),
        }
    }

    /// `PUT /v1/rules/{id}`: replaces the rule.
    pub(super) async fn update_rule(
        &self,
        id: &str,
        req: Request<Incoming>,
    ) -> Result<Res, ApiError> {
        let rule: Rule = self.json_body(req).await?;
        let rule = self.orchestrator.update_rule(id, rule).await?;
        Ok(json(StatusCode::OK, &rule))
    }

    /// `DELETE /v1/rules/{id}`.
    pub(super) async fn delete_rule(&self, id: &str) -> Result<Res, ApiError> {
        self.orchestrator.delete_rule(id).await?;
        Ok(json(StatusCode::OK, &Deleted { id, deleted: true }))
    }
}
