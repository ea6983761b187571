//! API keys: each belongs to one tenant ([`TenantId`]) and proves it on every request.
//!
//! A key reads `txk_<id>_<secret>`: `id` (12 hex digits) names it in lists and logs, the
//! secret (32 random bytes, base64url) is shown once, at creation. The keys file keeps, per
//! key, its id, tenant, the SHA-256 of the whole key, when it was created, when it expires
//! and when it was revoked: never the key. A presented key is found by its id and its hash
//! compared in constant time. (A fast hash is the right one here: the secret has 256 bits of
//! entropy, so there is nothing for a slow password hash to protect.)
//!
//! The file is JSON, written whole to a temporary file and renamed over the old one (a
//! reader never sees half a file); servers read it again when it changes, so a key created
//! or revoked with `txclass keys` works (or stops working) on every instance that reads the
//! file within seconds.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thiserror::Error;

use crate::domain::TenantId;

/// What every key starts with (secret scanners can look for it).
pub const KEY_PREFIX: &str = "txk_";

/// One key as the keys file keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// The key's public id: 12 hex digits, also part of the key.
    pub id: String,
    /// Whose key it is.
    pub tenant: TenantId,
    /// SHA-256 of the whole key, hex.
    pub sha256: String,
    /// A note for people (what uses the key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it stops working (`None`: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked (`None`: it was not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl KeyRecord {
    /// What a list shows of the key: its first characters, enough to tell keys apart.
    pub fn shown(&self) -> String {
        format!("{KEY_PREFIX}{}_…", self.id)
    }

    /// Whether it works at `now`.
    pub fn active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|t| now < t)
    }
}

/// Why a request's key was refused. The messages never hold the key.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum AuthError {
    /// No key was sent.
    #[error("missing API key: send `Authorization: Bearer <key>`")]
    Missing,
    /// What was sent is not a key of this service, or no such key exists.
    #[error("invalid API key")]
    Invalid,
    /// The key was revoked.
    #[error("API key {0} was revoked")]
    Revoked(String),
    /// The key expired.
    #[error("API key {0} expired")]
    Expired(String),
}

/// The keys a server accepts, by id.
#[derive(Debug, Default)]
pub struct Keys {
    by_id: HashMap<String, KeyRecord>,
}

impl Keys {
    /// Keys from their records.
    pub fn new(records: impl IntoIterator<Item = KeyRecord>) -> Self {
        Self {
            by_id: records.into_iter().map(|r| (r.id.clone(), r)).collect(),
        }
    }

    /// How many keys (active or not) there are.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether there is no key at all.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The tenant `presented` belongs to, if it is an active key at `now`.
    pub fn verify(&self, presented: &str, now: DateTime<Utc>) -> Result<TenantId, AuthError> {
        let id = key_id(presented).ok_or(AuthError::Invalid)?;
        let record = self.by_id.get(id).ok_or(AuthError::Invalid)?;
        let hash = sha256_hex(presented);
        if !bool::from(hash.as_bytes().ct_eq(record.sha256.as_bytes())) {
            return Err(AuthError::Invalid);
        }
        if record.revoked_at.is_some() {
            return Err(AuthError::Revoked(record.shown()));
        }
        if record.expires_at.is_some_and(|t| now >= t) {
            return Err(AuthError::Expired(record.shown()));
        }
        Ok(record.tenant.clone())
    }
}

/// The id part of something that looks like a key.
fn key_id(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(KEY_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()) && !secret.is_empty())
        .then_some(id)
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A key just made: the key itself (shown once) and its record.
pub struct NewKey {
    /// The key: give it to the tenant; it is not kept anywhere.
    pub key: String,
    /// What the keys file keeps.
    pub record: KeyRecord,
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey")
            .field("key", &"<redacted>")
            .field("record", &self.record)
            .finish()
    }
}

/// Makes a key for `tenant`.
pub fn new_key(
    tenant: TenantId,
    label: Option<String>,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> NewKey {
    let mut rng = rand::rngs::OsRng;
    let mut id = [0u8; 6];
    rng.fill_bytes(&mut id);
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut secret);
    let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let key = format!(
        "{KEY_PREFIX}{id}_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    let record = KeyRecord {
        id,
        tenant,
        sha256: sha256_hex(&key),
        label,
        created_at: now,
        expires_at,
        revoked_at: None,
    };
    NewKey { key, record }
}

/// The keys file.
#[derive(Clone, Debug)]
pub struct KeyFile {
    path: PathBuf,
}

#[derive(Default, Serialize, Deserialize)]
struct FileBody {
    keys: Vec<KeyRecord>,
}

impl KeyFile {
    /// The keys file at `path` (it need not exist yet: then it holds no key).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every record in the file (none when there is no file).
    pub fn load(&self) -> crate::Result<Vec<KeyRecord>> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let body: FileBody =
            serde_json::from_str(&text).map_err(|e| crate::Error::InvalidConfig {
                what: format!("keys file {}: {e}", self.path.display()),
            })?;
        Ok(body.keys)
    }

    /// The keys the file holds now.
    pub fn keys(&self) -> crate::Result<Keys> {
        Ok(Keys::new(self.load()?))
    }

    /// Makes a key for `tenant` and adds its record to the file.
    pub fn create(
        &self,
        tenant: TenantId,
        label: Option<String>,
        expires_at: Option<DateTime<Utc>>,
    ) -> crate::Result<NewKey> {
        if tenant.is_local() {
            return Err(crate::Error::InvalidRequest {
                field: "tenant",
                message: format!(
                    "`{}` is the tenant of the local-only mode (no keys); choose another name",
                    TenantId::LOCAL
                ),
            });
        }
        let mut records = self.load()?;
        let key = new_key(tenant, label, expires_at, Utc::now());
        records.push(key.record.clone());
        self.save(records)?;
        Ok(key)
    }

    /// Revokes the key with `id` (the 12 hex digits, or the shown `txk_<id>_…`). Revoking a
    /// revoked key changes nothing. `None`: no such key.
    pub fn revoke(&self, id: &str) -> crate::Result<Option<KeyRecord>> {
        let id = id
            .trim_end_matches('…')
            .trim_end_matches('_')
            .trim_start_matches(KEY_PREFIX);
        let mut records = self.load()?;
        let Some(record) = records.iter_mut().find(|r| r.id == id) else {
            return Ok(None);
        };
        record.revoked_at.get_or_insert_with(Utc::now);
        let revoked = record.clone();
        self.save(records)?;
        Ok(Some(revoked))
    }

    /// Writes the file whole: to a temporary file next to it, then renamed over it.
    fn save(&self, keys: Vec<KeyRecord>) -> crate::Result<()> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let text = serde_json::to_string_pretty(&FileBody { keys }).expect("records serialise");
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, text + "\n")?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // Hashes only, but who holds which key is still the operator's business.
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
        }
        std::fs::rename(&tmp, &self.path)?;
        Ok(())
    }
}

/// The keys of a keys file as a server checks them: read again when the file changes
/// (looked at no more than once a second), so keys created or revoked with `txclass keys`
/// take effect without a restart. A file that cannot be read keeps the keys read last (and
/// says so); at start it is an error.
pub struct KeyRing {
    file: KeyFile,
    state: std::sync::Mutex<RingState>,
}

struct RingState {
    keys: std::sync::Arc<Keys>,
    modified: Option<std::time::SystemTime>,
    looked: std::time::Instant,
}

/// How often the keys file is looked at.
const LOOK_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

impl KeyRing {
    /// The keys of `file`, read now.
    pub fn open(file: KeyFile) -> crate::Result<Self> {
        let modified = modified(file.path());
        let keys = std::sync::Arc::new(file.keys()?);
        Ok(Self {
            file,
            state: std::sync::Mutex::new(RingState {
                keys,
                modified,
                looked: std::time::Instant::now(),
            }),
        })
    }

    /// How many keys the file held when last read.
    pub fn len(&self) -> usize {
        self.current().len()
    }

    /// Whether the file held no key when last read.
    pub fn is_empty(&self) -> bool {
        self.current().is_empty()
    }

    /// The tenant of `presented`, against the file as it is now.
    pub fn verify(&self, presented: &str) -> Result<TenantId, AuthError> {
        self.current().verify(presented, Utc::now())
    }

    fn current(&self) -> std::sync::Arc<Keys> {
        use crate::sync::Lock;
        let mut state = self.state.locked();
        if state.looked.elapsed() >= LOOK_EVERY {
            state.looked = std::time::Instant::now();
            let now = modified(self.file.path());
            if now != state.modified {
                match self.file.keys() {
                    Ok(keys) => {
                        tracing::info!(file = %self.file.path().display(), keys = keys.len(), "keys file read again");
                        state.keys = std::sync::Arc::new(keys);
                        state.modified = now;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "keys file unreadable; keeping the keys read last")
                    }
                }
            }
        }
        state.keys.clone()
    }
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// What a token lets its holder do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// Read one job's events (a browser `EventSource`, which cannot send headers).
    Events,
    /// Be the tenant in the web console (an `HttpOnly` cookie).
    Session,
}

/// What a token says, signed.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Claims {
    kind: TokenKind,
    tenant: TenantId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    job: Option<crate::domain::JobId>,
    /// Expiry, Unix seconds.
    exp: i64,
}

/// What every token starts with.
pub const TOKEN_PREFIX: &str = "txt_";

/// Short-lived tokens minted for a tenant that proved itself with its key: `txt_` + the
/// claims (kind, tenant, job, expiry) in base64url JSON + `.` + their HMAC-SHA256. Nothing is
/// stored; every instance that holds the same secret accepts them.
pub struct Tokens {
    key: [u8; 32],
}

impl Tokens {
    /// Tokens signed with `secret` (every instance of a deployment needs the same one).
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: Sha256::digest(secret).into(),
        }
    }

    /// Tokens signed with a random secret: accepted by this process only.
    pub fn random() -> Self {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self { key }
    }

    fn mac(&self, payload: &str) -> [u8; 32] {
        use hmac::Mac;
        let mut mac =
            hmac::Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(payload.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// A token of `kind` for `tenant` (and `job`, for an events token), valid until `expires`.
    pub fn mint(
        &self,
        kind: TokenKind,
        tenant: &TenantId,
        job: Option<&crate::domain::JobId>,
        expires: DateTime<Utc>,
    ) -> String {
        let claims = Claims {
            kind,
            tenant: tenant.clone(),
            job: job.cloned(),
            exp: expires.timestamp(),
        };
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = b64.encode(serde_json::to_vec(&claims).expect("claims serialise"));
        let mac = b64.encode(self.mac(&payload));
        format!("{TOKEN_PREFIX}{payload}.{mac}")
    }

    /// The tenant (and job) of a token of `kind` that is genuine and not expired at `now`.
    pub fn verify(
        &self,
        token: &str,
        kind: TokenKind,
        now: DateTime<Utc>,
    ) -> Result<(TenantId, Option<crate::domain::JobId>), AuthError> {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let rest = token.strip_prefix(TOKEN_PREFIX).ok_or(AuthError::Invalid)?;
        let (payload, mac) = rest.split_once('.').ok_or(AuthError::Invalid)?;
        let mac = b64.decode(mac).map_err(|_| AuthError::Invalid)?;
        if !bool::from(mac.as_slice().ct_eq(&self.mac(payload))) {
            return Err(AuthError::Invalid);
        }
        let json = b64.decode(payload).map_err(|_| AuthError::Invalid)?;
        let claims: Claims = serde_json::from_slice(&json).map_err(|_| AuthError::Invalid)?;
        if claims.kind != kind {
            return Err(AuthError::Invalid);
        }
        if now.timestamp() >= claims.exp {
            return Err(AuthError::Expired("token".into()));
        }
        Ok((claims.tenant, claims.job))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(t: &str) -> TenantId {
        TenantId::new(t).unwrap()
    }

    #[test]
    fn a_key_verifies_as_its_tenant_until_revoked_or_expired() {
        let now = Utc::now();
        let a = new_key(tenant("acme"), None, None, now);
        let b = new_key(
            tenant("globex"),
            None,
            Some(now + chrono::Duration::hours(1)),
            now,
        );
        assert!(
            a.key.starts_with("txk_") && a.key.len() > 50,
            "{}",
            a.record.shown()
        );
        assert_ne!(a.record.sha256, b.record.sha256);
        let keys = Keys::new([a.record.clone(), b.record.clone()]);
        assert_eq!(keys.verify(&a.key, now), Ok(tenant("acme")));
        assert_eq!(keys.verify(&b.key, now), Ok(tenant("globex")));
        // Expiry.
        let later = now + chrono::Duration::hours(2);
        assert!(matches!(
            keys.verify(&b.key, later),
            Err(AuthError::Expired(_))
        ));
        assert!(keys.verify(&a.key, later).is_ok());
        // Another secret with a's id; garbage; a's key cut short.
        // The id is the part before the second `_` (a base64url secret may hold `_` too).
        let id = a.key.split('_').nth(1).unwrap();
        let forged = format!("txk_{id}_{}", "A".repeat(43));
        for bad in [
            forged.as_str(),
            "",
            "txk_",
            "Bearer x",
            &a.key[..a.key.len() - 1],
        ] {
            assert_eq!(keys.verify(bad, now), Err(AuthError::Invalid), "{bad:?}");
        }
        // Revoked.
        let mut revoked = a.record.clone();
        revoked.revoked_at = Some(now);
        let keys = Keys::new([revoked]);
        let e = keys.verify(&a.key, now).unwrap_err();
        assert!(matches!(e, AuthError::Revoked(_)));
        assert!(!e.to_string().contains(&a.key[16..]), "no secret in {e}");
    }

    #[test]
    fn tokens_are_bound_to_their_kind_tenant_job_and_time() {
        let tokens = Tokens::new(b"a secret every instance shares");
        let now = Utc::now();
        let job = crate::domain::JobId::new("j-1");
        let t = tokens.mint(
            TokenKind::Events,
            &tenant("acme"),
            Some(&job),
            now + chrono::Duration::minutes(5),
        );
        assert!(t.starts_with("txt_"));
        assert_eq!(
            tokens.verify(&t, TokenKind::Events, now),
            Ok((tenant("acme"), Some(job.clone())))
        );
        assert_eq!(
            tokens.verify(&t, TokenKind::Session, now),
            Err(AuthError::Invalid)
        );
        let later = now + chrono::Duration::minutes(6);
        assert!(matches!(
            tokens.verify(&t, TokenKind::Events, later),
            Err(AuthError::Expired(_))
        ));
        // Another secret, a changed claim (another tenant), a cut signature.
        let other = Tokens::new(b"another secret");
        assert_eq!(
            other.verify(&t, TokenKind::Events, now),
            Err(AuthError::Invalid)
        );
        let (payload, mac) = t.trim_start_matches("txt_").split_once('.').unwrap();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut claims: serde_json::Value =
            serde_json::from_slice(&b64.decode(payload).unwrap()).unwrap();
        claims["tenant"] = "globex".into();
        let forged = format!("txt_{}.{mac}", b64.encode(claims.to_string()));
        for bad in [forged.as_str(), &t[..t.len() - 2], "txt_", "", "txt_a.b"] {
            assert_eq!(
                tokens.verify(bad, TokenKind::Events, now),
                Err(AuthError::Invalid),
                "{bad:?}"
            );
        }
        assert!(Tokens::random().verify(&t, TokenKind::Events, now).is_err());
    }

    #[test]
    fn the_file_keeps_hashes_and_revocations() {
        let dir = tempfile::tempdir().unwrap();
        let file = KeyFile::new(dir.path().join("keys/keys.json"));
        assert!(file.keys().unwrap().is_empty(), "no file: no key");
        let a = file
            .create(tenant("acme"), Some("ci".into()), None)
            .unwrap();
        let b = file.create(tenant("acme"), None, None).unwrap();
        let text = std::fs::read_to_string(file.path()).unwrap();
        assert!(
            !text.contains(&a.key) && !text.contains(&b.key),
            "no key in the file"
        );
        assert!(text.contains(&a.record.sha256));
        let now = Utc::now();
        assert_eq!(file.keys().unwrap().verify(&b.key, now), Ok(tenant("acme")));
        let revoked = file.revoke(&a.record.shown()).unwrap().unwrap();
        assert!(revoked.revoked_at.is_some());
        assert!(file.revoke("0123456789ab").unwrap().is_none());
        let keys = file.keys().unwrap();
        assert!(matches!(
            keys.verify(&a.key, now),
            Err(AuthError::Revoked(_))
        ));
        assert!(keys.verify(&b.key, now).is_ok());
        assert_eq!(keys.len(), 2);
    }
}
