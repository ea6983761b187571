//! Choosing the scaled backends from configuration: one Redis shared by every instance for
//! the limiter, the retry queue, the result bus and (optionally) the breakers' open state.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::partner::millis;

/// Where the shared Redis is and how the instances use it. Every instance that serves the
/// same partners must use the same `url` and `prefix` (and the same partner capacities).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisSettings {
    /// `redis://host:port/db`. Prefer `url_env` when the URL carries a password.
    pub url: Option<String>,
    /// Name of an environment variable holding the URL (read at build time).
    pub url_env: Option<String>,
    /// Key prefix (default `txclass`).
    pub prefix: String,
    /// Lease of a partner permit: a crashed holder's permit returns after at most this long.
    #[serde(with = "millis")]
    pub lease: Duration,
    /// Silence after which a retry delivered to a dead consumer is taken over.
    #[serde(with = "millis")]
    pub claim_after: Duration,
    /// Share each partner's "open" verdict, so every instance stops calling a failing
    /// partner together (see [`RedisSharedBreaker`](crate::breaker::RedisSharedBreaker)).
    pub share_breakers: bool,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: None,
            url_env: None,
            prefix: "txclass".into(),
            lease: Duration::from_secs(15),
            claim_after: Duration::from_secs(60),
            share_breakers: true,
        }
    }
}

impl RedisSettings {
    /// Settings for the Redis at `url`, defaults for the rest.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: Some(url.into()),
            ..Self::default()
        }
    }

    /// The URL, from `url` or the variable `url_env` names.
    pub fn resolve_url(&self) -> crate::Result<String> {
        match (&self.url, &self.url_env) {
            (Some(u), _) => Ok(u.clone()),
            (None, Some(var)) => std::env::var(var).map_err(|_| crate::Error::InvalidConfig {
                what: format!("redis: environment variable {var} (its url) is not set"),
            }),
            (None, None) => Err(crate::Error::InvalidConfig {
                what: "redis: give url or url_env".into(),
            }),
        }
    }
}
