use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::StatusCode;

use super::{Endpoint, Health, Page, PageRequest, PartnerAdapter, PartnerError, SetupError};
use crate::domain::PartnerId;
use crate::limiter::Permit;

/// A partner reached over HTTP/JSON.
///
/// The wire contract (the one the [simulator](crate::simulator) serves):
/// `GET {base}/customers/{customer}/transactions?from=YYYY-MM-DD&to=YYYY-MM-DD&limit=N[&cursor=C]`
/// answers `{"transactions": [Transaction], "next_cursor": string | null}`;
/// `GET {base}/health` answers 2xx when the partner is up.
/// The permit's fencing token goes out as `X-Fencing-Token`.
#[derive(Clone, Debug)]
pub struct HttpPartner {
    id: PartnerId,
    base_url: reqwest::Url,
    client: reqwest::Client,
    timeout: Duration,
    page_size: u32,
}

impl HttpPartner {
    /// Builds the adapter: reads the token (from the config or its environment variable) into
    /// a sensitive default header, so it is sent on every call and never printed.
    pub fn new<'a>(config: impl Into<Endpoint<'a>>) -> Result<Self, SetupError> {
        Self::with_client(config, reqwest::Client::builder())
    }

    /// Like [`HttpPartner::new`], from a client builder the caller tuned (pool size, proxy).
    pub fn with_client<'a>(
        config: impl Into<Endpoint<'a>>,
        builder: reqwest::ClientBuilder,
    ) -> Result<Self, SetupError> {
        let config: Endpoint<'a> = config.into();
        let mut base = reqwest::Url::parse(config.base_url).map_err(|e| SetupError {
            what: format!("partner {}: base_url: {e}", config.id),
        })?;
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        let mut headers = HeaderMap::new();
        if let Some(auth) = config.auth {
            let token = match (&auth.token, &auth.token_env) {
                (Some(t), _) => t.expose().to_owned(),
                (None, Some(var)) => std::env::var(var).map_err(|_| SetupError {
                    what: format!(
                        "partner {}: environment variable {var} (its token) is not set",
                        config.id
                    ),
                })?,
                (None, None) => {
                    return Err(SetupError {
                        what: format!("partner {}: auth needs token or token_env", config.id),
                    })
                }
            };
            let name = HeaderName::try_from(auth.header.as_str()).map_err(|_| SetupError {
                what: format!("partner {}: bad auth header name", config.id),
            })?;
            let mut value =
                HeaderValue::try_from(format!("{}{}", auth.prefix, token)).map_err(|_| {
                    SetupError {
                        what: format!("partner {}: token is not a valid header value", config.id),
                    }
                })?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let client = builder
            .default_headers(headers)
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|e| SetupError {
                what: format!("partner {}: http client: {}", config.id, e.without_url()),
            })?;
        Ok(Self {
            id: config.id.clone(),
            base_url: base,
            client,
            timeout: config.timeout,
            page_size: config.page_size.get(),
        })
    }

    fn map_transport(&self, e: reqwest::Error) -> PartnerError {
        if e.is_timeout() {
            PartnerError::Timeout {
                after: self.timeout,
            }
        } else if e.is_decode() || e.is_body() {
            PartnerError::Decode {
                message: e.without_url().to_string(),
            }
        } else {
            PartnerError::Unreachable {
                message: e.without_url().to_string(),
            }
        }
    }
}

/// Reads `Retry-After` as delta-seconds or an HTTP date.
fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let delta = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

#[async_trait]
impl PartnerAdapter for HttpPartner {
    fn id(&self) -> &PartnerId {
        &self.id
    }

    async fn fetch_page(&self, req: &PageRequest, permit: &Permit) -> Result<Page, PartnerError> {
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .map_err(|_| PartnerError::Decode {
                message: "base url cannot have paths".into(),
            })?
            .pop_if_empty()
            .extend(["customers", req.customer_id.as_str(), "transactions"]);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("from", &req.from.to_string());
            q.append_pair("to", &req.to.to_string());
            q.append_pair("limit", &self.page_size.to_string());
            if let Some(c) = &req.cursor {
                q.append_pair("cursor", c);
            }
        }
        let resp = self
            .client
            .get(url)
            .header("X-Fencing-Token", permit.fencing_token().to_string())
            .send()
            .await
            .map_err(|e| self.map_transport(e))?;
        let status = resp.status();
        if status.is_success() {
            // Decoded here rather than by reqwest, whose error hides serde's: the job's
            // `bad_partner_data` message names what is wrong and where (`missing field
            // `currency` at line 1 column 93`).
            let body = resp.bytes().await.map_err(|e| self.map_transport(e))?;
            return serde_json::from_slice::<Page>(&body).map_err(|e| PartnerError::Decode {
                message: format!("page does not decode: {e}"),
            });
        }
        Err(match status {
            StatusCode::TOO_MANY_REQUESTS => PartnerError::RateLimited {
                retry_after: parse_retry_after(resp.headers()),
            },
            StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => PartnerError::Timeout {
                after: self.timeout,
            },
            s if s.is_server_error() => PartnerError::Server { status: s.as_u16() },
            s => {
                let body = resp.text().await.unwrap_or_default();
                PartnerError::Client {
                    status: s.as_u16(),
                    message: body.chars().take(200).collect(),
                }
            }
        })
    }

    async fn health(&self) -> Health {
        let started = Instant::now();
        let url = match self.base_url.join("health") {
            Ok(u) => u,
            Err(e) => {
                return Health {
                    healthy: false,
                    status: None,
                    latency_ms: 0,
                    detail: Some(e.to_string()),
                }
            }
        };
        match self.client.get(url).send().await {
            Ok(resp) => Health {
                healthy: resp.status().is_success(),
                status: Some(resp.status().as_u16()),
                latency_ms: started.elapsed().as_millis() as u64,
                detail: None,
            },
            Err(e) => Health {
                healthy: false,
                status: None,
                latency_ms: started.elapsed().as_millis() as u64,
                detail: Some(self.map_transport(e).to_string()),
            },
        }
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_garbage() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(parse_retry_after(&h), None);
    }
}
