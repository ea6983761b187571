//! Credentials for clients that cannot send a key: a browser `EventSource` gets an events
//! token bound to one job (`POST /v1/classifications/{id}/events-token`, then
//! `GET …/events?access_token=…`), the web console a session cookie (`POST /v1/session` with
//! the key; `HttpOnly`, `SameSite=Strict`, so page scripts cannot read it and other sites
//! cannot send it). Both are minted with the tenant's key, expire, and are never logged.

use chrono::{DateTime, Utc};
use http::header::{HeaderValue, SET_COOKIE};
use http::StatusCode;
use serde::Serialize;
use txclass_core::auth::TokenKind;
use txclass_core::JobId;
use utoipa::ToSchema;

use super::bodies::{json, Res};
use super::Scoped;
use crate::error::ApiError;
use crate::AuthSettings;

/// The console's session cookie.
pub(super) const COOKIE: &str = "txclass_session";

/// An events token.
#[derive(Serialize, ToSchema)]
pub(super) struct EventsToken {
    /// The token: `?access_token=` on the job's events route.
    token: String,
    /// When it stops working.
    expires_at: DateTime<Utc>,
    /// The job's events URL with the token.
    events_url: String,
}

/// A console session.
#[derive(Serialize, ToSchema)]
pub(super) struct Session {
    /// Whose session it is.
    tenant: String,
    /// When it ends.
    expires_at: DateTime<Utc>,
}

impl Scoped<'_> {
    /// The token lifetimes: the configured ones, or the `[auth]` defaults in local-only mode.
    fn auth_settings(&self) -> AuthSettings {
        self.settings
            .auth
            .clone()
            .unwrap_or_else(|| AuthSettings::new(""))
    }

    /// `POST /v1/classifications/{id}/events-token`: a token that reads this job's events
    /// (and nothing else) until it expires; 404 for another tenant's job.
    pub(super) async fn events_token(&self, id: JobId) -> Result<Res, ApiError> {
        if self.orchestrator.job(&id).await?.is_none() {
            return Err(super::jobs::unknown_job(&id));
        }
        let ttl = self.auth_settings().events_token_ttl;
        let expires_at = Utc::now() + ttl;
        let token = self.tokens.mint(
            TokenKind::Events,
            self.orchestrator.tenant(),
            Some(&id),
            expires_at,
        );
        Ok(json(
            StatusCode::CREATED,
            &EventsToken {
                events_url: format!("/v1/classifications/{id}/events?access_token={token}"),
                token,
                expires_at,
            },
        ))
    }

    /// `POST /v1/session`: the console's session cookie for the key's tenant.
    pub(super) fn session(&self) -> Res {
        let ttl = self.auth_settings().session_ttl;
        let expires_at = Utc::now() + ttl;
        let tenant = self.orchestrator.tenant();
        let token = self
            .tokens
            .mint(TokenKind::Session, tenant, None, expires_at);
        let mut res = json(
            StatusCode::OK,
            &Session {
                tenant: tenant.to_string(),
                expires_at,
            },
        );
        let cookie = format!(
            "{COOKIE}={token}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict",
            ttl.as_secs()
        );
        res.headers_mut().insert(
            SET_COOKIE,
            HeaderValue::from_str(&cookie).expect("a token is a header value"),
        );
        res
    }
}

/// `DELETE /v1/session`: clears the cookie (no key needed).
pub(super) fn end() -> Res {
    let mut res = http::Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(http_body_util::Either::Left(http_body_util::Full::new(
            bytes::Bytes::new(),
        )))
        .expect("valid response");
    res.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_str(&format!(
            "{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"
        ))
        .expect("valid header"),
    );
    res
}

/// The `access_token` parameter of a query string, decoded.
pub(super) fn access_token(query: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        (name == "access_token").then(|| {
            percent_encoding::percent_decode_str(value)
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

/// The session cookie's value, if the request carries one.
pub(super) fn cookie(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .filter(|v| !v.is_empty())
}
