use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::PartnerId;

/// A credential. `Debug` and `Display` print `***`, so it cannot leak through logs, errors
/// or events; only [`Secret::expose`] reads it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The credential itself: only for the header that carries it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

/// How the adapter authenticates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Header name, e.g. `Authorization`.
    #[serde(default = "default_auth_header")]
    pub header: String,
    /// Prefix before the token, e.g. `"Bearer "`.
    #[serde(default = "default_auth_prefix")]
    pub prefix: String,
    /// The token itself; prefer `token_env`.
    #[serde(default)]
    pub token: Option<Secret>,
    /// Name of an environment variable holding the token (read when the adapter is built).
    #[serde(default)]
    pub token_env: Option<String>,
}

fn default_auth_header() -> String {
    "Authorization".into()
}
fn default_auth_prefix() -> String {
    "Bearer ".into()
}

/// Where and how to reach one partner's API: the part of its configuration
/// ([`PartnerConfig`](crate::PartnerConfig), which also holds the limiter's, breaker's and
/// retry queue's policies) that [`HttpPartner`](super::HttpPartner) reads.
#[derive(Clone, Copy, Debug)]
pub struct Endpoint<'a> {
    /// The partner's id, in error messages.
    pub id: &'a PartnerId,
    /// Base URL of its API.
    pub base_url: &'a str,
    /// Credentials, if any.
    pub auth: Option<&'a AuthConfig>,
    /// Per-call timeout.
    pub timeout: Duration,
    /// Transactions per page asked of the partner.
    pub page_size: NonZeroU32,
}
