//! Response bodies (JSON, SSE) and what is read off a request (its body, its query string),
//! with the 4xx each can give.

use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, ALLOW, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full, Limited};
use hyper::body::Incoming;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::SseStream;
use crate::error::ApiError;
use crate::sse::SSE_HEADERS;

/// A response body: JSON, or an SSE stream.
pub(crate) type ResBody = Either<Full<Bytes>, SseStream>;

/// A response.
pub(crate) type Res = Response<ResBody>;

/// A JSON response.
pub(super) fn json<T: Serialize>(status: StatusCode, value: &T) -> Res {
    let body = serde_json::to_vec(value).expect("response serialises");
    json_bytes(status, Bytes::from(body))
}

/// A JSON response of JSON text serialised before.
pub(super) fn json_bytes(status: StatusCode, body: Bytes) -> Res {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .body(Either::Left(Full::new(body)))
        .expect("valid response")
}

/// The JSON answer to a request that could not be served.
pub(super) fn error_response(e: &ApiError) -> Res {
    let mut res = Response::builder()
        .status(e.status)
        .header(CONTENT_TYPE, "application/json")
        .body(Either::Left(Full::new(Bytes::from(e.to_json()))))
        .expect("valid response");
    if let Some(allow) = e.allow {
        res.headers_mut()
            .insert(ALLOW, HeaderValue::from_static(allow));
    }
    if e.challenge {
        res.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"txclass\""),
        );
    }
    if let Some(secs) = e.retry_after {
        res.headers_mut()
            .insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
    }
    // A 413 or a 408 can come before the request body was read to its end: the connection
    // then cannot serve another request, and says so, or a client sends its next request on
    // it as it closes (`IncompleteMessage`, a broken pipe). HTTP/2 drops the header.
    if matches!(
        e.status,
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_TIMEOUT
    ) {
        res.headers_mut()
            .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    }
    res
}

/// A `200` SSE response.
pub(super) fn sse_response(body: SseStream) -> Res {
    let mut res = Response::builder().status(StatusCode::OK);
    for (name, value) in SSE_HEADERS {
        res = res.header(name, value);
    }
    res.body(Either::Right(body)).expect("valid response")
}

/// Reads a request body of at most `limit` bytes, within `timeout` (else 408, as on the
/// HTTP/1.1 fast path).
pub(super) async fn read_body(
    req: Request<Incoming>,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, ApiError> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::payload_too_large(limit));
    }
    let collected = tokio::time::timeout(timeout, Limited::new(req.into_body(), limit).collect())
        .await
        .map_err(|_| ApiError::request_timeout(timeout))?;
    match collected {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err(ApiError::payload_too_large(limit))
        }
        Err(e) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_body",
            format!("could not read the request body: {e}"),
        )),
    }
}

/// Decodes a JSON body; a 400 names the field at fault, or says `malformed_json`.
pub(super) fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let message = e.inner().to_string();
        let syntax = e.inner().is_syntax() || e.inner().is_eof();
        let field = field_of(e.path(), &message);
        let code = if syntax {
            "malformed_json"
        } else {
            "invalid_request"
        };
        ApiError {
            field,
            ..ApiError::new(StatusCode::BAD_REQUEST, code, message)
        }
    })?;
    de.end()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", e.to_string()))?;
    Ok(value)
}

/// Decodes a query string; a 400 names the parameter at fault.
pub(super) fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let message = e.inner().to_string();
        match field_of(e.path(), &message) {
            Some(field) => ApiError::invalid(field, message),
            None => ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message),
        }
    })
}

/// A page size: 100 when absent, 1 to 1000.
pub(super) fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    // The store's own ceiling: one page-size limit for the whole project.
    use txclass_core::store::MAX_PAGE;
    match limit {
        None => Ok(100),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::invalid(
            "limit",
            format!("{n} is out of range (1 to {MAX_PAGE})"),
        )),
    }
}

/// The field a serde error is about: its path, or the name in "missing/unknown field `x`".
fn field_of(path: &serde_path_to_error::Path, message: &str) -> Option<String> {
    let p = path.to_string();
    if !p.is_empty() && p != "." && p != "?" {
        return Some(p);
    }
    for marker in ["missing field `", "unknown field `"] {
        if let Some(rest) = message.split(marker).nth(1) {
            return rest.split('`').next().map(str::to_owned);
        }
    }
    None
}
