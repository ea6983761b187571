//! # txclass-core
//!
//! Pulls a customer's bank transactions from partner APIs without ever exceeding what the
//! partner can take, classifies every transaction with logistic regression, stores the
//! result, and reports progress as a stream of events the whole time.
//!
//! ## Layout
//!
//! | module | what |
//! |---|---|
//! | [`domain`] | the ground floor every module shares: transactions, categories, predictions, requests, job records |
//! | [`orchestrator`] | runs a job: pages → classify → store, as a `Stream` of [`Progress`] |
//! | [`partner`] | the [`PartnerAdapter`] trait and the HTTP adapter |
//! | [`limiter`] | per-partner counting semaphore ([`Limiter`]) under an adaptive limit that follows the partner's 429s; permits are drop guards |
//! | [`breaker`] | per-partner [`CircuitBreaker`] |
//! | [`lease`] | job ownership across instances: a lease per running job ([`lease::JobLeases`]) |
//! | [`currency`] | ISO 4217 codes and minor units: decimal text ↔ integer minor units |
//! | [`config`] | reading config files (TOML / JSON) with errors that name the key's path |
//! | [`queue`] | [`RetryQueue`] and [`ResultBus`] for calls that cannot be made now |
//! | [`classifier`] | the [`Classifier`] trait, features, the sparse trainer, the model file, metrics |
//! | `datagen` | seeded generators of labelled statement lines (the synthetic one and the real-brand corpus) with train / validation / test splits (feature `datagen`) |
//! | [`merchant`] | the merchant a statement line names, or the clean name a rule gave |
//! | [`rules`] | rules that override the model (pre/post stages, order, `stop_processing`) and [`rules::RuleSet::classify`], the one classification path |
//! | [`enrich`] | classifying transactions a client already holds (`POST /v1/enrich`), row by row |
//! | [`store`] | the [`Store`] trait, the embedded SQLite store, and [`StoreConfig`](store::StoreConfig) |
//! | [`domain::taxonomy`] | two-level categories: the versioned taxonomy file, label checks, and how sub-category probabilities roll up to their main category |
//! | [`telemetry`] | metric names, labels and buckets, recorded through the `metrics` facade where the core decides (no exporter in the core) |
//! | `records` | reading CSV, NDJSON and bank statements (OFX, camt.053, MT940 with feature `formats`) without silent guesses; writing classified rows (feature `files`) |
//! | [`simulator`] | a partner simulator that behaves like a bank API (feature `simulator`) |
//! | `fuzz` | corpus-mutation fuzzing on stable Rust for the workspace's fuzz targets (feature `fuzz`, test code) |
//!
//! Private: `sync` (the one lock-poison policy), `backoff` (the one backoff: doubling delays
//! with no, full or equal jitter), and with feature `redis`,
//! `redis_conn` (one way to reach a Redis server or cluster) and `pubsub` (a subscription
//! that outlives Redis blips).
//!
//! ## Quick example
//!
//! ```no_run
//! use futures::StreamExt;
//! use txclass_core::{ClassificationRequest, Orchestrator, PartnerConfig};
//!
//! # async fn demo() -> txclass_core::Result<()> {
//! let capacity = std::num::NonZeroU32::new(4).unwrap();
//! let orchestrator = Orchestrator::builder()
//!     .partner(PartnerConfig::new("bank", "http://127.0.0.1:8081", capacity))
//!     .build()?;
//! let request = ClassificationRequest {
//!     customer_id: "c-42".into(),
//!     partner_id: "bank".into(),
//!     from: "2026-01-01".parse().unwrap(),
//!     to: "2026-03-31".parse().unwrap(),
//! };
//! let mut job = orchestrator.submit(request)?;
//! while let Some(event) = job.next().await {
//!     println!("{}: {}", event.name(), event.data_json());
//! }
//! # Ok(()) }
//! ```
#![warn(missing_docs, rust_2018_idioms)]
// Denied, not forbidden: one function (`LogisticModel::probabilities_into`) runs the
// scoring compiled for AVX2 and FMA after checking that the processor has them (+7 % rows a
// second); its comment says why.
#![deny(unsafe_code)]

pub mod auth;
pub(crate) mod backoff;
pub mod breaker;
pub mod classifier;
pub mod clock;
pub mod config;
pub mod currency;
#[cfg(feature = "datagen")]
pub mod datagen;
pub mod domain;
pub mod enrich;
mod error;
#[cfg(feature = "fuzz")]
pub mod fuzz;
mod hash;
pub mod lease;
pub mod limiter;
pub mod merchant;
pub mod orchestrator;
pub mod partner;
mod prefetch;
pub mod progress;
#[cfg(feature = "redis")]
mod pubsub;
pub mod queue;
mod rails;
pub mod rate;
#[cfg(feature = "files")]
pub mod records;
#[cfg(feature = "redis")]
mod redis_conn;
pub mod rules;
#[cfg(feature = "simulator")]
pub mod simulator;
pub mod store;
mod sync;
pub mod telemetry;
mod text;

pub use breaker::CircuitBreaker;
pub use classifier::Classifier;
pub use domain::{
    Category, ClassificationRequest, ClassifiedTransaction, CustomerId, IdempotencyKey, JobId,
    JobRecord, JobStatus, PartnerId, Prediction, Summary, TenantId, Transaction,
};
pub use error::{Error, Result};
pub use limiter::{Limiter, Permit};
pub use orchestrator::{Job, Orchestrator, OrchestratorBuilder, PartnerConfig, Settings};
pub use partner::PartnerAdapter;
pub use progress::Progress;
pub use queue::{ResultBus, RetryQueue};
pub use store::Store;
