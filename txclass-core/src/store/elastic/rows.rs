//! Transaction documents whose derived fields an older rule wrote, brought in line on connect.
//!
//! A mapping change copies the documents into a new index (`ensure_index`); a change of how a
//! field is derived from the description does not change the mapping, so the index records
//! the version of its documents' derived fields in its mapping's `_meta` (`rows_version`),
//! as the embedded store does with `PRAGMA user_version`. An index without it is at 0.

use elasticsearch::indices::{IndicesGetMappingParts, IndicesPutMappingParts};

use super::*;
use crate::merchant::merchant_of;
use crate::text::APOSTROPHES;

/// The version of the derived fields of transaction documents; older ones are brought in
/// line on connect:
///
/// 1. A merchant's name joins a word at an apostrophe, as the classifier reads it
///    ([`merchant_of`]: `MCDONALD'S` is `MCDONALDS`); documents written before say
///    `MCDONALD S`.
pub const TX_ROWS_VERSION: u64 = 1;

/// Documents read and updated in one round of the migration.
const ROUND: usize = 500;

impl ElasticStore {
    /// Brings the transaction documents of an index at an older [`TX_ROWS_VERSION`] in line,
    /// then records the version. Safe to run from several instances at once and beside
    /// writers: a document is updated only if it has not changed since it was read (a
    /// document written since was derived by the current rules).
    pub(super) async fn migrate_tx_rows(&self) -> Result<(), StoreError> {
        if self.tx_rows_version().await? >= TX_ROWS_VERSION {
            return Ok(());
        }
        // Version 1: the merchants of descriptions with an apostrophe, where no rule named it.
        // A leading-wildcard query reads every term of `description.raw`: slow on a big index,
        // but run once. A description over its 1,024 characters is not there and keeps its
        // merchant.
        let should: Vec<Value> = APOSTROPHES
            .iter()
            .map(|a| json!({ "wildcard": { "description.raw": { "value": format!("*{a}*") } } }))
            .collect();
        self.set_merchants(json!({ "bool": {
            "should": should,
            "minimum_should_match": 1,
            "must_not": [ { "exists": { "field": "rule_merchant" } } ]
        }}))
        .await?;
        let meta = json!({ "_meta": { "rows_version": TX_ROWS_VERSION } });
        self.retrying(|_| async {
            let resp = self
                .client
                .indices()
                .put_mapping(IndicesPutMappingParts::Index(&[&self.tx_alias]))
                .body(meta.clone())
                .send()
                .await
                .map_err(unavailable)?;
            json_of("record rows version", resp).await
        })
        .await
        .map(drop)
    }

    /// The `rows_version` of the index behind the transactions alias (0 when it has none).
    pub async fn tx_rows_version(&self) -> Result<u64, StoreError> {
        let mapping = self
            .retrying(|_| async {
                let resp = self
                    .client
                    .indices()
                    .get_mapping(IndicesGetMappingParts::Index(&[&self.tx_alias]))
                    .send()
                    .await
                    .map_err(unavailable)?;
                json_of("read rows version", resp).await
            })
            .await?;
        // One index behind the alias: `{index: {mappings: {_meta: …}}}`.
        Ok(mapping
            .as_object()
            .and_then(|m| m.values().next())
            .and_then(|i| i["mappings"]["_meta"]["rows_version"].as_u64())
            .unwrap_or(0))
    }

    /// Sets `merchant` from the description ([`merchant_of`]) on the documents `query`
    /// matches, where it differs.
    async fn set_merchants(&self, query: Value) -> Result<(), StoreError> {
        let mut after: Option<Value> = None;
        loop {
            let mut body = json!({
                "size": ROUND,
                "query": query,
                "_source": ["description", "merchant"],
                "seq_no_primary_term": true,
                "sort": [ { "customer_id": "asc" }, { "partner_id": "asc" }, { "tx_id": "asc" } ]
            });
            if let Some(a) = &after {
                body["search_after"] = a.clone();
            }
            let res = self
                .retrying(|_| async {
                    let resp = self
                        .client
                        .search(SearchParts::Index(&[&self.tx_alias]))
                        .body(body.clone())
                        .send()
                        .await
                        .map_err(unavailable)?;
                    json_of("read merchants", resp).await
                })
                .await?;
            let hits = res["hits"]["hits"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let mut lines = Vec::new();
            for h in hits {
                let derived = merchant_of(h["_source"]["description"].as_str().unwrap_or(""));
                if h["_source"]["merchant"].as_str() == Some(derived.as_str()) {
                    continue;
                }
                lines.push(
                    json!({ "update": {
                        "_index": h["_index"], "_id": h["_id"], "routing": h["_routing"],
                        "if_seq_no": h["_seq_no"], "if_primary_term": h["_primary_term"],
                    }})
                    .to_string(),
                );
                lines.push(json!({ "doc": { "merchant": derived } }).to_string());
            }
            if !lines.is_empty() {
                self.update_merchants(lines).await?;
            }
            match hits.last() {
                Some(last) if hits.len() == ROUND => after = Some(last["sort"].clone()),
                _ => return Ok(()),
            }
        }
    }

    /// Sends one round of `update` actions; a `409` means the document was written again
    /// since it was read (by the current rules), which is not a failure.
    async fn update_merchants(&self, lines: Vec<String>) -> Result<(), StoreError> {
        self.retrying(|_| async {
            let resp = self
                .client
                .bulk(BulkParts::None)
                .filter_path(&["items.*.status", "items.*.error.reason"])
                .body(lines.clone())
                .send()
                .await
                .map_err(unavailable)?;
            let res = json_of("update merchants", resp).await?;
            let items = res["items"].as_array().map(Vec::as_slice).unwrap_or(&[]);
            let failed = items.iter().map(|i| &i["update"]).find(|u| {
                let code = u["status"].as_u64().unwrap_or(0) as u16;
                code >= 300 && code != 409
            });
            match failed {
                Some(u) => {
                    let code = u["status"].as_u64().unwrap_or(0) as u16;
                    let why = format!(
                        "update merchants: http {code}: {}",
                        short(u["error"]["reason"].as_str().unwrap_or(""))
                    );
                    Err(if retryable(code) {
                        StoreError::Unavailable(why)
                    } else {
                        StoreError::Backend(why)
                    })
                }
                None => Ok(()),
            }
        })
        .await
    }
}
