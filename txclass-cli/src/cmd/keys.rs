//! `txclass keys create|list|revoke`: the API keys of the server's keys file.

use std::path::PathBuf;

use anyhow::Context;
use chrono::Utc;
use clap::{Args, Subcommand};
use txclass_core::auth::{KeyFile, KeyRecord};
use txclass_core::TenantId;

/// Arguments of `txclass keys`.
#[derive(Debug, Args)]
pub struct KeysArgs {
    /// The keys file (the server's `[auth] keys_file`).
    #[arg(
        long,
        global = true,
        default_value = "data/keys.json",
        env = "TXCLASS_KEYS_FILE"
    )]
    pub keys_file: PathBuf,
    #[command(subcommand)]
    pub command: KeysCommand,
}

/// What to do with the keys.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a key for a tenant and print it (the only time it is shown: the file keeps its
    /// hash).
    Create {
        /// The tenant the key acts for (ASCII letters, digits, `-`, `_`).
        #[arg(long)]
        tenant: String,
        /// A note on what uses the key.
        #[arg(long)]
        label: Option<String>,
        /// Days until the key stops working (default: never).
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// List the keys (their ids, never the keys).
    List {
        /// Only this tenant's.
        #[arg(long)]
        tenant: Option<String>,
        /// One JSON record per line.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by its id (as `list` shows it); servers reading the file refuse it
    /// within seconds.
    Revoke {
        /// The key's id (12 hex digits, or `txk_<id>_…`).
        id: String,
    },
}

/// Runs `txclass keys`.
pub fn run(args: KeysArgs) -> anyhow::Result<()> {
    let file = KeyFile::new(&args.keys_file);
    match args.command {
        KeysCommand::Create {
            tenant,
            label,
            expires_in_days,
        } => {
            let tenant =
                TenantId::new(&tenant).map_err(|e| anyhow::anyhow!("--tenant {}", e.message))?;
            let expires_at =
                expires_in_days.map(|d| Utc::now() + chrono::Duration::days(i64::from(d)));
            let key = file
                .create(tenant, label, expires_at)
                .with_context(|| format!("keys file {}", args.keys_file.display()))?;
            // The key on stdout (for a pipe), the rest on stderr.
            println!("{}", key.key);
            eprintln!(
                "key {} for tenant {} added to {}{}; it is not shown again",
                key.record.shown(),
                key.record.tenant,
                args.keys_file.display(),
                key.record
                    .expires_at
                    .map(|t| format!(", expires {}", t.to_rfc3339()))
                    .unwrap_or_default()
            );
        }
        KeysCommand::List { tenant, json } => {
            let now = Utc::now();
            let records = file.load()?;
            let records = records
                .iter()
                .filter(|r| tenant.as_deref().is_none_or(|t| r.tenant.as_str() == t));
            for r in records {
                if json {
                    println!("{}", serde_json::to_string(&listed(r, now))?);
                } else {
                    println!(
                        "{}  tenant {}  {}  created {}{}",
                        r.shown(),
                        r.tenant,
                        state(r, now),
                        r.created_at.format("%Y-%m-%d %H:%M"),
                        r.label
                            .as_deref()
                            .map(|l| format!("  {l}"))
                            .unwrap_or_default()
                    );
                }
            }
        }
        KeysCommand::Revoke { id } => match file.revoke(&id)? {
            Some(r) => eprintln!("key {} of tenant {} revoked", r.shown(), r.tenant),
            None => anyhow::bail!("no key {id} in {}", args.keys_file.display()),
        },
    }
    Ok(())
}

/// `active`, `revoked` or `expired`.
fn state(r: &KeyRecord, now: chrono::DateTime<Utc>) -> &'static str {
    if r.revoked_at.is_some() {
        "revoked"
    } else if r.active(now) {
        "active"
    } else {
        "expired"
    }
}

/// A record as `list --json` prints it: without the hash.
fn listed(r: &KeyRecord, now: chrono::DateTime<Utc>) -> serde_json::Value {
    serde_json::json!({
        "id": r.id,
        "shown": r.shown(),
        "tenant": r.tenant,
        "state": state(r, now),
        "label": r.label,
        "created_at": r.created_at,
        "expires_at": r.expires_at,
        "revoked_at": r.revoked_at,
    })
}
