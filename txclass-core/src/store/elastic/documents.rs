//! What the store writes: the document of each kind, its id, and the index it lives in
//! (mappings and settings, versioned by the `*_MAPPING_VERSION` constants).

use super::*;

/// The document of one transaction. `tx_id` and `partner_id` are fields as well as parts of
/// `_id`, for sorting and filtering.
#[derive(Serialize, Deserialize)]
pub(super) struct TxDoc {
    pub(super) partner_id: String,
    pub(super) customer_id: String,
    pub(super) tx_id: String,
    pub(super) date: NaiveDate,
    pub(super) description: String,
    pub(super) merchant: String,
    pub(super) amount_minor: i64,
    pub(super) currency: String,
    pub(super) category: String,
    pub(super) probability: f32,
    pub(super) confidence: Confidence,
    pub(super) uncertain: bool,
    /// `model` or `rule:<id>` (version-1 documents get `model` when they are copied).
    #[serde(default)]
    pub(super) source: Source,
    #[serde(default)]
    pub(super) sub_category: Option<String>,
    /// The merchant name a rule set (`merchant` holds it too, or else the derived one).
    #[serde(default)]
    pub(super) rule_merchant: Option<String>,
    #[serde(default)]
    pub(super) sub_probability: Option<f32>,
    /// Absent in documents written before taxonomies had versions.
    #[serde(default)]
    pub(super) taxonomy_version: Option<String>,
    /// The model's best guess of an uncertain transaction (absent before mapping version 4).
    #[serde(default)]
    pub(super) guess: Option<String>,
}

impl TxDoc {
    pub(super) fn from_tx(ct: &ClassifiedTransaction) -> Self {
        Self {
            partner_id: ct.partner_id.0.clone(),
            customer_id: ct.customer_id.0.clone(),
            tx_id: ct.transaction.id.clone(),
            date: ct.transaction.date,
            description: ct.transaction.description.clone(),
            merchant: merchant_name(&ct.transaction.description, &ct.prediction),
            amount_minor: ct.transaction.amount_minor,
            currency: ct.transaction.currency.clone(),
            category: ct.prediction.category.0.clone(),
            probability: ct.prediction.probability,
            confidence: ct.prediction.confidence,
            uncertain: ct.prediction.uncertain,
            source: ct.prediction.source.clone(),
            sub_category: ct.prediction.sub_category.as_ref().map(|c| c.0.clone()),
            rule_merchant: ct.prediction.merchant.clone(),
            sub_probability: ct.prediction.sub_probability,
            taxonomy_version: ct.prediction.taxonomy_version.clone(),
            guess: ct.prediction.guess.as_ref().map(|c| c.0.clone()),
        }
    }

    pub(super) fn into_tx(self) -> ClassifiedTransaction {
        ClassifiedTransaction {
            partner_id: PartnerId(self.partner_id),
            customer_id: CustomerId(self.customer_id),
            transaction: Transaction {
                id: self.tx_id,
                date: self.date,
                description: self.description,
                amount_minor: self.amount_minor,
                currency: self.currency,
            },
            prediction: Prediction {
                category: Category(self.category),
                probability: self.probability,
                confidence: self.confidence,
                uncertain: self.uncertain,
                sub_category: self.sub_category.map(Category),
                sub_probability: self.sub_probability,
                taxonomy_version: self.taxonomy_version,
                merchant: self.rule_merchant,
                source: self.source,
                guess: self.guess.map(Category),
            },
        }
    }
}

/// `_id` of a transaction: `{len(partner)}:{partner}:{id}`, unambiguous whatever the ids
/// contain.
pub(super) fn doc_id(partner: &str, id: &str) -> String {
    format!("{}:{partner}:{id}", partner.len())
}

/// Settings and mappings of a transactions index (version [`TX_MAPPING_VERSION`]).
pub(super) fn tx_index_body(shards: u32) -> Value {
    json!({
        "settings": {
            "number_of_shards": shards,
            "number_of_replicas": 0,
            "analysis": {
                // The same words as `store::words`: runs of letters and digits, lower-cased.
                "tokenizer": {
                    "txclass_words": { "type": "pattern", "pattern": "[^\\p{L}\\p{N}]+" }
                },
                "analyzer": {
                    "txclass_words": {
                        "type": "custom",
                        "tokenizer": "txclass_words",
                        "filter": ["lowercase"]
                    }
                }
            }
        },
        "mappings": {
            "dynamic": "strict",
            "_routing": { "required": true },
            "properties": {
                "partner_id": { "type": "keyword" },
                "customer_id": { "type": "keyword" },
                "tx_id": { "type": "keyword" },
                "date": { "type": "date", "format": "strict_date" },
                "description": {
                    "type": "text",
                    "analyzer": "txclass_words",
                    "fields": { "raw": { "type": "keyword", "ignore_above": 1024 } }
                },
                "merchant": { "type": "keyword" },
                "amount_minor": { "type": "long" },
                "currency": { "type": "keyword" },
                "category": { "type": "keyword" },
                "probability": { "type": "float" },
                "confidence": { "type": "keyword" },
                "uncertain": { "type": "boolean" },
                "source": { "type": "keyword" },
                "sub_category": { "type": "keyword" },
                "rule_merchant": { "type": "keyword" },
                "sub_probability": { "type": "float" },
                "taxonomy_version": { "type": "keyword" },
                "guess": { "type": "keyword" }
            }
        }
    })
}

/// Settings and mappings of a jobs index (version [`JOB_MAPPING_VERSION`]): a few searchable
/// fields, and the whole record kept in `_source` only.
pub(super) fn job_index_body() -> Value {
    json!({
        "settings": { "number_of_shards": 1, "number_of_replicas": 0 },
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "job_id": { "type": "keyword" },
                "status": { "type": "keyword" },
                "customer_id": { "type": "keyword" },
                "partner_id": { "type": "keyword" },
                "created_at": { "type": "date" },
                "updated_at": { "type": "date" },
                "record": { "type": "object", "enabled": false }
            }
        }
    })
}

/// Settings and mappings of a rules index (version [`RULE_MAPPING_VERSION`]): the scope
/// fields a list filters on, and the whole rule kept in `_source` only.
pub(super) fn rule_index_body() -> Value {
    json!({
        "settings": { "number_of_shards": 1, "number_of_replicas": 0 },
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "rule_id": { "type": "keyword" },
                "customer_id": { "type": "keyword" },
                "record": { "type": "object", "enabled": false }
            }
        }
    })
}

/// Settings and mappings of a corrections index (version [`CORRECTION_MAPPING_VERSION`]):
/// the fields a list filters and sorts on (`corrected_at` to the nanosecond, as the other
/// stores order it), and the whole correction kept in `_source` only.
pub(super) fn correction_index_body() -> Value {
    json!({
        "settings": { "number_of_shards": 1, "number_of_replicas": 0 },
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "partner_id": { "type": "keyword" },
                "tx_id": { "type": "keyword" },
                "customer_id": { "type": "keyword" },
                "merchant": { "type": "keyword" },
                "corrected_at": { "type": "date_nanos" },
                "record": { "type": "object", "enabled": false }
            }
        }
    })
}

/// The document of a correction: its key, customer, merchant and time for searching, the
/// correction itself in `_source` only.
pub(super) fn correction_doc(c: &Correction) -> Value {
    json!({
        "partner_id": c.partner_id.as_str(),
        "tx_id": c.transaction.id,
        "customer_id": c.customer_id.as_str(),
        "merchant": c.merchant,
        "corrected_at": c.corrected_at,
        "record": c,
    })
}

/// Settings and mappings of a job checkpoints index (version [`PAGE_MAPPING_VERSION`]): read
/// by id only, so nothing but the job and page number is indexed.
pub(super) fn page_index_body(shards: u32) -> Value {
    json!({
        "settings": { "number_of_shards": shards, "number_of_replicas": 0 },
        "mappings": {
            "dynamic": "strict",
            "_routing": { "required": true },
            "properties": {
                "job_id": { "type": "keyword" },
                "page": { "type": "long" },
                "record": { "type": "object", "enabled": false }
            }
        }
    })
}

/// Settings and mappings of an event log index (version [`EVENT_MAPPING_VERSION`]): read by
/// id only, so nothing but the job and sequence number is indexed.
pub(super) fn event_index_body(shards: u32) -> Value {
    json!({
        "settings": { "number_of_shards": shards, "number_of_replicas": 0 },
        "mappings": {
            "dynamic": "strict",
            "_routing": { "required": true },
            "properties": {
                "job_id": { "type": "keyword" },
                "seq": { "type": "long" },
                "event": { "type": "object", "enabled": false }
            }
        }
    })
}

/// `_id` of a job checkpoint: `{job}:{page}`. Unambiguous: the page number is the part after
/// the last `:`.
pub(super) fn page_id(job: &JobId, page: u32) -> String {
    format!("{job}:{page}")
}

/// The document of a job checkpoint: the record itself kept in `_source` only.
pub(super) fn page_doc(p: &PageRecord) -> Value {
    json!({
        "job_id": p.job_id.as_str(),
        "page": p.page,
        "record": p,
    })
}

/// `_id` of a logged event: `{job}:{seq}` with `seq` zero-padded to 20 digits (any `u64`), so
/// a job's ids also sort in log order.
pub(super) fn event_id(job: &JobId, seq: u64) -> String {
    format!("{job}:{seq:020}")
}

/// The document of a rule: its id and customer (absent for a global rule) for searching,
/// the rule itself in `_source` only.
pub(super) fn rule_doc(rule: &Rule) -> Value {
    let customer = match &rule.scope {
        RuleScope::Global => None,
        RuleScope::Customer { customer_id } => Some(customer_id.as_str()),
    };
    json!({
        "rule_id": rule.id,
        "customer_id": customer,
        "record": rule,
    })
}
