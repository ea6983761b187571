//! The server's errors: [`Error`](enum@Error) for starting and running it, [`ApiError`] for one request
//! (always answered as `{"error": {"code", "message", "field"?}}`).

use http::StatusCode;
use serde::Serialize;
use thiserror::Error;

/// Errors of [`run`](crate::run) and of building the server.
#[derive(Debug, Error)]
pub enum Error {
    /// The configuration cannot work.
    #[error("invalid configuration: {what}")]
    Config {
        /// What is wrong.
        what: String,
    },
    /// The core refused to start (bad partner config, store cannot open, …).
    #[error(transparent)]
    Core(#[from] txclass_core::Error),
    /// A socket failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// `Result` with the server's [`Error`](enum@Error).
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A request that could not be served, with the HTTP status it maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// Machine-readable code, e.g. `invalid_request`.
    pub code: &'static str,
    /// Human-readable detail.
    pub message: String,
    /// The request field at fault, if one is.
    pub field: Option<String>,
    /// For 405: the methods the path takes (the `Allow` header).
    pub allow: Option<&'static str>,
    /// For 401: ask for a bearer key (`WWW-Authenticate`).
    pub challenge: bool,
    /// For 429 and 503: seconds until the request may be sent again (`Retry-After`).
    pub retry_after: Option<u64>,
}

/// The body of every 4xx and 5xx answer.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub(crate) struct Envelope<'a> {
    error: Body<'a>,
}

/// What went wrong.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ErrorDetail)]
struct Body<'a> {
    /// Machine-readable code, e.g. `invalid_request`, `unknown_job`.
    code: &'a str,
    /// Human-readable detail.
    message: &'a str,
    /// The request field (or parameter, or header) at fault, if one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    /// An error without a field.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            allow: None,
            challenge: false,
            retry_after: None,
        }
    }

    /// 401: no key, or one that does not work (the message says which, never the key).
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self {
            challenge: true,
            ..Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
        }
    }

    /// 429: the tenant sent more requests than its rate allows; try again in
    /// `retry_after_secs`.
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many requests for this tenant: try again in {retry_after_secs} s"),
            )
        }
    }

    /// 405 for a path that takes only the methods `allowed` lists (`GET, PUT`).
    pub fn method_not_allowed(method: &http::Method, allowed: &'static str) -> Self {
        Self {
            allow: Some(allowed),
            ..Self::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{method} is not allowed here (use {allowed})"),
            )
        }
    }

    /// A 400 naming the field at fault.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            ..Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
        }
    }

    /// 413 for a request body over `limit` bytes.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request body is larger than {limit} bytes"),
        )
    }

    /// 408 for a request whose body did not arrive within `after`.
    pub fn request_timeout(after: std::time::Duration) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the request body did not arrive within {} ms",
                after.as_millis()
            ),
        )
    }

    /// 404 for an unknown route or resource.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// The JSON body.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&Envelope {
            error: Body {
                code: self.code,
                message: &self.message,
                field: self.field.as_deref(),
            },
        })
        .expect("error envelope serialises")
    }
}

impl From<txclass_core::Error> for ApiError {
    fn from(e: txclass_core::Error) -> Self {
        use txclass_core::Error as E;
        match e {
            E::InvalidRequest { field, message } => ApiError::invalid(field, message),
            E::UnknownPartner(p) => ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_partner",
                format!("unknown partner {p}"),
            ),
            E::Store(e) => e.into(),
            E::UnknownJob(j) => ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_job",
                format!("unknown job {j}"),
            ),
            e @ E::IdempotencyConflict { .. } => ApiError {
                field: Some("idempotency_key".into()),
                ..ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "idempotency_conflict",
                    e.to_string(),
                )
            },
            e @ E::SubmissionPending { .. } => ApiError {
                retry_after: Some(1),
                ..ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "submission_pending",
                    e.to_string(),
                )
            },
            E::InvalidRule { field, message, .. } => ApiError::invalid(field, message),
            E::UnknownRule(id) => ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_rule",
                format!("unknown rule {id}"),
            ),
            E::RuleExists(id) => ApiError::new(
                StatusCode::CONFLICT,
                "rule_exists",
                format!("rule {id} exists (PUT /v1/rules/{id} replaces it)"),
            ),
            e @ E::UnknownTransaction { .. } => {
                ApiError::new(StatusCode::NOT_FOUND, "unknown_transaction", e.to_string())
            }
            E::TooManyRows { field, got, limit } => ApiError {
                field: Some(field.to_owned()),
                ..ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_many_rows",
                    format!("{got} rows, at most {limit} per request"),
                )
            },
            other => internal(other),
        }
    }
}

impl From<txclass_core::store::StoreError> for ApiError {
    fn from(e: txclass_core::store::StoreError) -> Self {
        match e {
            txclass_core::store::StoreError::InvalidCursor => {
                ApiError::invalid("cursor", "invalid cursor")
            }
            other => internal(other),
        }
    }
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "request failed");
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyed_submission_still_being_started_elsewhere_is_a_503_to_send_again() {
        let job = txclass_core::domain::JobId::generate();
        let e = ApiError::from(txclass_core::Error::SubmissionPending { job: job.clone() });
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.code, "submission_pending");
        assert_eq!(e.retry_after, Some(1));
        assert!(
            e.message.contains(job.as_str()) && e.message.contains("send the same request again"),
            "{}",
            e.message
        );
    }
}
