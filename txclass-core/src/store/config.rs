//! Choosing the store from a config file: the `[store]` table (or the `store_path`
//! shorthand), shared by the server and the CLI's `query` commands.
//!
//! ```toml
//! [store]
//! kind = "sqlite"                         # the default
//! path = "data/txclass.db"                # ":memory:" keeps nothing
//! ```
//!
//! ```toml
//! [store]
//! kind = "elasticsearch"                  # needs the `elasticsearch` feature
//! url = "https://search.internal:9200"
//! index_prefix = "txclass"
//! auth = { type = "basic", username = "txclass", password_env = "ES_PASSWORD" }
//! request_timeout_ms = 30000
//! ```
//!
//! Secrets are never written in the file: `auth` names the environment variables that hold
//! them (`password_env`, `key_env`, `token_env`), read when the store is opened.

use std::num::{NonZeroU32, NonZeroUsize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Store, StoreError, DEFAULT_DB_PATH};

/// Which store to open, and how. Deserialises from a `[store]` table whose `kind` (default
/// `"sqlite"`) says which; a key of the other kind, or an unknown one, is refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", try_from = "RawStore")]
pub enum StoreConfig {
    /// The embedded store (`SqliteStore`; `MemoryStore` for `":memory:"` without the `sqlite` feature).
    Sqlite {
        /// The database file (default `data/txclass.db`); `":memory:"` keeps everything in
        /// memory (and nothing after).
        path: PathBuf,
    },
    /// Elasticsearch or OpenSearch (`ElasticStore`, feature `elasticsearch`).
    Elasticsearch(ElasticSettings),
}

fn default_path() -> PathBuf {
    PathBuf::from(DEFAULT_DB_PATH)
}

/// What a `[store]` table may hold, before `kind` decides which keys belong. One flat
/// table, so an unknown key's error names its exact path (`store.pth`) and `kind` can have a
/// default (an internally tagged enum allows neither).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    #[serde(default)]
    kind: StoreKind,
    path: Option<PathBuf>,
    url: Option<String>,
    index_prefix: Option<String>,
    auth: Option<ElasticAuthSettings>,
    request_timeout_ms: Option<u64>,
    batch_size: Option<NonZeroUsize>,
    bulk_concurrency: Option<NonZeroUsize>,
    shards: Option<NonZeroU32>,
}

#[derive(Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
enum StoreKind {
    #[default]
    Sqlite,
    Elasticsearch,
}

impl TryFrom<RawStore> for StoreConfig {
    type Error = String;

    fn try_from(r: RawStore) -> Result<Self, String> {
        match r.kind {
            StoreKind::Sqlite => {
                let elastic_keys = [
                    ("url", r.url.is_some()),
                    ("index_prefix", r.index_prefix.is_some()),
                    ("auth", r.auth.is_some()),
                    ("request_timeout_ms", r.request_timeout_ms.is_some()),
                    ("batch_size", r.batch_size.is_some()),
                    ("bulk_concurrency", r.bulk_concurrency.is_some()),
                    ("shards", r.shards.is_some()),
                ];
                if let Some((key, _)) = elastic_keys.iter().find(|(_, given)| *given) {
                    return Err(format!(
                        "`{key}` belongs to kind = \"elasticsearch\", but kind is \"sqlite\""
                    ));
                }
                Ok(Self::Sqlite {
                    path: r.path.unwrap_or_else(default_path),
                })
            }
            StoreKind::Elasticsearch => {
                if r.path.is_some() {
                    return Err(
                        "`path` belongs to kind = \"sqlite\", but kind is \"elasticsearch\"".into(),
                    );
                }
                let d = ElasticSettings::default();
                Ok(Self::Elasticsearch(ElasticSettings {
                    url: r.url.unwrap_or(d.url),
                    index_prefix: r.index_prefix.unwrap_or(d.index_prefix),
                    auth: r.auth.unwrap_or(d.auth),
                    request_timeout_ms: r.request_timeout_ms.unwrap_or(d.request_timeout_ms),
                    batch_size: r.batch_size.unwrap_or(d.batch_size),
                    bulk_concurrency: r.bulk_concurrency.unwrap_or(d.bulk_concurrency),
                    shards: r.shards.unwrap_or(d.shards),
                }))
            }
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self::sqlite(DEFAULT_DB_PATH)
    }
}

/// The `[store]` keys of `kind = "elasticsearch"`. Every key has a default (a local node).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ElasticSettings {
    /// Base URL of the engine, e.g. `https://search.internal:9200`; credentials go in
    /// `auth`, never in the URL. `https` verifies the server against the bundled web PKI
    /// roots (there is no option for a private CA).
    pub url: String,
    /// Prefix of the indexes and aliases the store owns (default `txclass`).
    pub index_prefix: String,
    /// Credentials, read from environment variables when the store is opened.
    pub auth: ElasticAuthSettings,
    /// Timeout of one HTTP request to the engine, in ms.
    pub request_timeout_ms: u64,
    /// Documents per `_bulk` request.
    pub batch_size: NonZeroUsize,
    /// `_bulk` requests in flight for one upsert.
    pub bulk_concurrency: NonZeroUsize,
    /// Primary shards of an index the store creates.
    pub shards: NonZeroU32,
}

impl Default for ElasticSettings {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:9200".into(),
            index_prefix: "txclass".into(),
            auth: ElasticAuthSettings::None,
            request_timeout_ms: 30_000,
            batch_size: NonZeroUsize::new(1000).expect("non-zero"),
            bulk_concurrency: NonZeroUsize::new(2).expect("non-zero"),
            shards: NonZeroU32::new(1).expect("non-zero"),
        }
    }
}

/// How the Elasticsearch store authenticates: `auth = { type = "…", … }`. Secrets come only
/// from the environment variables named here.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ElasticAuthSettings {
    /// No credentials (a local node).
    #[default]
    None,
    /// HTTP basic authentication.
    Basic {
        /// User name.
        username: String,
        /// Environment variable holding the password.
        password_env: String,
    },
    /// An API key (`Authorization: ApiKey base64(id:key)`).
    ApiKey {
        /// Key id.
        id: String,
        /// Environment variable holding the key.
        key_env: String,
    },
    /// A bearer token.
    Bearer {
        /// Environment variable holding the token.
        token_env: String,
    },
}

/// The store keys of a config file, as the server and the CLI read them: the `store_path`
/// shorthand or a `[store]` table. Other keys of the file are not looked at here (the
/// server checks them; the CLI's `query` ignores them).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreKeys {
    /// Shorthand for `[store] kind = "sqlite", path = …`.
    #[serde(default)]
    pub store_path: Option<PathBuf>,
    /// The store.
    #[serde(default)]
    pub store: Option<StoreConfig>,
}

impl StoreKeys {
    /// The store these keys choose: `[store]`, or SQLite at `store_path`, or the default
    /// SQLite file. Both keys at once cannot be meant: an error that says so.
    pub fn resolve(&self) -> Result<StoreConfig, StoreError> {
        match (&self.store_path, &self.store) {
            (Some(_), Some(_)) => Err(StoreError::InvalidConfig(
                "give either store_path or a [store] table, not both (store_path is \
                 shorthand for [store] kind = \"sqlite\")"
                    .into(),
            )),
            (Some(path), None) => Ok(StoreConfig::sqlite(path)),
            (None, Some(store)) => Ok(store.clone()),
            (None, None) => Ok(StoreConfig::default()),
        }
    }
}

impl StoreConfig {
    /// SQLite at `path` (`":memory:"`: in memory).
    pub fn sqlite(path: impl Into<PathBuf>) -> Self {
        Self::Sqlite { path: path.into() }
    }

    /// A short description for logs, never a secret: `sqlite data/txclass.db` or
    /// `elasticsearch http://…` (the URL cannot carry credentials; opening refuses it).
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite { path } => format!("sqlite {}", path.display()),
            Self::Elasticsearch(e) => format!("elasticsearch {} ({})", e.url, e.index_prefix),
        }
    }

    /// The SQLite file, when this is an on-disk SQLite store.
    pub fn sqlite_file(&self) -> Option<&Path> {
        match self {
            Self::Sqlite { path } if path.as_os_str() != ":memory:" => Some(path),
            _ => None,
        }
    }

    /// Opens the store (creating the SQLite file, or the Elasticsearch indexes, when
    /// missing). Fails with [`StoreError::InvalidConfig`] for what retrying cannot fix (a
    /// missing credentials variable, a bad URL, the `elasticsearch` feature not built) and
    /// [`StoreError::Unavailable`] when the engine does not answer.
    pub async fn open(&self) -> Result<Arc<dyn Store>, StoreError> {
        match self {
            Self::Sqlite { path } => open_sqlite(path).await,
            Self::Elasticsearch(settings) => open_elastic(settings).await,
        }
    }
}

#[cfg(feature = "sqlite")]
async fn open_sqlite(path: &Path) -> Result<Arc<dyn Store>, StoreError> {
    use super::SqliteStore;
    if path.as_os_str() == ":memory:" {
        return Ok(Arc::new(SqliteStore::in_memory()?));
    }
    let path = path.to_path_buf();
    let store = tokio::task::spawn_blocking(move || SqliteStore::open(path))
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))??;
    Ok(Arc::new(store))
}

/// Without SQLite, `":memory:"` is the in-memory store; a file cannot be opened.
#[cfg(not(feature = "sqlite"))]
async fn open_sqlite(path: &Path) -> Result<Arc<dyn Store>, StoreError> {
    if path.as_os_str() == ":memory:" {
        return Ok(Arc::new(super::MemoryStore::new()));
    }
    Err(StoreError::InvalidConfig(format!(
        "the SQLite store {} needs txclass-core's `sqlite` feature, not built",
        path.display()
    )))
}

#[cfg(feature = "elasticsearch")]
async fn open_elastic(s: &ElasticSettings) -> Result<Arc<dyn Store>, StoreError> {
    use super::{ElasticAuth, ElasticConfig, ElasticStore};
    use crate::partner::Secret;

    fn env(var: &str, what: &str) -> Result<Secret, StoreError> {
        std::env::var(var).map(Secret::new).map_err(|_| {
            StoreError::InvalidConfig(format!(
                "store.auth: environment variable {var} (the {what}) is not set"
            ))
        })
    }
    let auth = match &s.auth {
        ElasticAuthSettings::None => ElasticAuth::None,
        ElasticAuthSettings::Basic {
            username,
            password_env,
        } => ElasticAuth::Basic {
            username: username.clone(),
            password: env(password_env, "password")?,
        },
        ElasticAuthSettings::ApiKey { id, key_env } => ElasticAuth::ApiKey {
            id: id.clone(),
            key: env(key_env, "api key")?,
        },
        ElasticAuthSettings::Bearer { token_env } => {
            ElasticAuth::Bearer(env(token_env, "bearer token")?)
        }
    };
    let mut config = ElasticConfig::new(s.url.clone())
        .with_index_prefix(s.index_prefix.clone())
        .with_batch_size(s.batch_size)
        .with_bulk_concurrency(s.bulk_concurrency)
        .with_auth(auth);
    config.request_timeout = std::time::Duration::from_millis(s.request_timeout_ms.max(1));
    config.shards = s.shards;
    Ok(Arc::new(ElasticStore::connect(config).await?))
}

#[cfg(not(feature = "elasticsearch"))]
async fn open_elastic(_: &ElasticSettings) -> Result<Arc<dyn Store>, StoreError> {
    Err(StoreError::InvalidConfig(
        "[store] kind = \"elasticsearch\" needs txclass built with the `elasticsearch` feature"
            .into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(toml_text: &str) -> Result<StoreKeys, String> {
        crate::config::from_toml_str("test.toml", toml_text).map_err(|e| e.to_string())
    }

    #[test]
    fn nothing_means_the_default_sqlite_file() {
        let k = keys("listen = \"127.0.0.1:1\"").unwrap();
        assert_eq!(k.resolve().unwrap(), StoreConfig::sqlite(DEFAULT_DB_PATH));
    }

    #[test]
    fn store_path_is_shorthand_for_sqlite() {
        let k = keys("store_path = \":memory:\"").unwrap();
        assert_eq!(k.resolve().unwrap(), StoreConfig::sqlite(":memory:"));
        assert_eq!(k.resolve().unwrap().sqlite_file(), None);
    }

    #[test]
    fn both_store_path_and_a_store_table_are_refused() {
        let k = keys("store_path = \"a.db\"\n[store]\nkind = \"sqlite\"\npath = \"b.db\"").unwrap();
        let e = k.resolve().unwrap_err().to_string();
        assert!(e.contains("either store_path or a [store] table"), "{e}");
    }

    #[test]
    fn an_elasticsearch_table_takes_defaults_for_what_it_omits() {
        let k = keys(
            "[store]\nkind = \"elasticsearch\"\nurl = \"https://es.example:9200\"\n\
             auth = { type = \"basic\", username = \"tx\", password_env = \"ES_PW\" }",
        )
        .unwrap();
        let StoreConfig::Elasticsearch(e) = k.resolve().unwrap() else {
            panic!("not elasticsearch");
        };
        assert_eq!(e.url, "https://es.example:9200");
        assert_eq!(e.index_prefix, "txclass");
        assert_eq!(e.request_timeout_ms, 30_000);
        assert_eq!(
            e.auth,
            ElasticAuthSettings::Basic {
                username: "tx".into(),
                password_env: "ES_PW".into()
            }
        );
    }

    #[test]
    fn unknown_keys_and_kinds_in_the_store_table_are_refused_with_their_path() {
        let e = keys("[store]\nkind = \"sqlite\"\npaht = \"x.db\"").unwrap_err();
        assert!(
            e.starts_with("test.toml: store.paht: unknown field `paht`"),
            "{e}"
        );
        let e = keys("[store]\nkind = \"elasticsearch\"\nindex_prefx = \"x\"").unwrap_err();
        assert!(
            e.starts_with("test.toml: store.index_prefx: unknown field `index_prefx`"),
            "{e}"
        );
        let e = keys("[store]\nkind = \"postgres\"").unwrap_err();
        assert!(
            e.starts_with("test.toml: store.kind: unknown variant `postgres`"),
            "{e}"
        );
        let e = keys("[store]\nauth = { type = \"basic\", username = \"u\" }").unwrap_err();
        assert!(e.contains("store.auth"), "{e}");
        assert!(e.contains("password_env"), "{e}");
    }

    #[test]
    fn kind_defaults_to_sqlite_and_keys_of_the_other_kind_are_refused() {
        let k = keys("[store]\npath = \"x.db\"").unwrap();
        assert_eq!(k.resolve().unwrap(), StoreConfig::sqlite("x.db"));
        let k = keys("[store]").unwrap();
        assert_eq!(k.resolve().unwrap(), StoreConfig::default());
        let e = keys("[store]\nurl = \"http://x\"").unwrap_err();
        assert!(
            e.starts_with("test.toml: store: `url` belongs to kind = \"elasticsearch\""),
            "{e}"
        );
        let e = keys("[store]\nkind = \"elasticsearch\"\npath = \"x.db\"").unwrap_err();
        assert!(e.contains("`path` belongs to kind = \"sqlite\""), "{e}");
    }

    #[test]
    fn a_store_config_round_trips_through_its_serialized_form() {
        for c in [
            StoreConfig::sqlite("a.db"),
            StoreConfig::Elasticsearch(ElasticSettings::default()),
        ] {
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(
                serde_json::from_str::<StoreConfig>(&json).unwrap(),
                c,
                "{json}"
            );
        }
    }

    #[tokio::test]
    async fn an_in_memory_sqlite_store_opens_and_answers_ping() {
        let store = StoreConfig::sqlite(":memory:").open().await.unwrap();
        store.ping().await.unwrap();
    }

    #[cfg(feature = "elasticsearch")]
    #[tokio::test]
    async fn a_missing_credentials_variable_is_named() {
        let config = StoreConfig::Elasticsearch(ElasticSettings {
            auth: ElasticAuthSettings::Bearer {
                token_env: "TXCLASS_TEST_SURELY_UNSET_TOKEN".into(),
            },
            ..ElasticSettings::default()
        });
        let e = config.open().await.err().expect("fails").to_string();
        assert!(e.contains("TXCLASS_TEST_SURELY_UNSET_TOKEN"), "{e}");
    }
}
