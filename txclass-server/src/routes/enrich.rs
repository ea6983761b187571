//! `POST /v1/enrich`: up to 1,000 transactions a client already holds, classified by the
//! same rules and model as jobs and the CLI; a bad row gets its own error and the rest go
//! through.

use http::{Request, StatusCode};
use hyper::body::Incoming;
use serde::Deserialize;
use txclass_core::enrich::EnrichRequest;
use utoipa::IntoParams;

use super::bodies::{decode_json, json, parse_query, read_body, Res};
use super::Scoped;
use crate::error::ApiError;

/// The enrich route's own body limit: 1,000 rows of about 1 KB each (the other routes keep
/// the small `body_limit`).
pub(crate) const ENRICH_BODY_LIMIT: usize = 1024 * 1024;

/// How to answer.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct EnrichParams {
    /// Adds each row's explanation (`explain=true`).
    #[serde(default)]
    explain: bool,
}

impl Scoped<'_> {
    /// `POST /v1/enrich[?explain=true]`.
    pub(super) async fn enrich(
        &self,
        req: Request<Incoming>,
        query: &str,
    ) -> Result<Res, ApiError> {
        let p: EnrichParams = parse_query(query)?;
        let body = read_body(
            req,
            ENRICH_BODY_LIMIT,
            self.settings.connections.body_read_timeout,
        )
        .await?;
        let request: EnrichRequest = decode_json(&body)?;
        let answer = self.orchestrator.enrich(request, p.explain).await?;
        Ok(json(StatusCode::OK, &answer))
    }
}
