//! Choosing the scaled backends from configuration: one Redis shared by every instance for
//! the limiter, the retry queue, the result bus and (optionally) the breakers' open state.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::millis;

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
    /// Key `lease_ms`.
    #[serde(rename = "lease_ms", with = "millis")]
    pub lease: Duration,
    /// Silence after which a retry delivered to a dead consumer is taken over. Key
    /// `claim_after_ms`.
    #[serde(rename = "claim_after_ms", with = "millis")]
    pub claim_after: Duration,
    /// Share each partner's "open" verdict, so every instance stops calling a failing
    /// partner together (see [`RedisSharedBreaker`](crate::breaker::RedisSharedBreaker)).
    pub share_breakers: bool,
    /// How long a starting server waits for Redis to answer before giving up. Zero (the
    /// default): Redis must answer at once, or the server refuses to start, because every
    /// partner call needs it. Key `wait_for_ready_ms`.
    #[serde(rename = "wait_for_ready_ms", with = "millis")]
    pub wait_for_ready: Duration,
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
            wait_for_ready: Duration::ZERO,
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

    /// Where the Redis is, for messages: the URL without user name or password (a URL that
    /// does not parse prints as `redis (unparsable url)`, never as itself).
    pub fn display_url(url: &str) -> String {
        match url::Url::parse(url) {
            Ok(mut u) if u.has_host() => {
                let _ = u.set_password(None);
                let _ = u.set_username("");
                u.to_string()
            }
            _ => "redis (unparsable url)".into(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_display_url_never_carries_credentials() {
        assert_eq!(
            RedisSettings::display_url("redis://user:s3cret@10.0.0.5:6379/2"),
            "redis://10.0.0.5:6379/2"
        );
        assert_eq!(
            RedisSettings::display_url("redis://:s3cret@cache"),
            "redis://cache"
        );
        assert_eq!(
            RedisSettings::display_url("s3cret not a url"),
            "redis (unparsable url)"
        );
    }
}
