//! Reading transactions back: the customer filter every query shares, and the search
//! routed to the customer's shard.

use super::*;

pub(super) fn date_millis(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
        .timestamp_millis()
}

/// Filter clauses of a customer's documents between two dates.
pub(super) fn customer_filter(
    customer: &CustomerId,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Vec<Value> {
    let mut filter = vec![json!({ "term": { "customer_id": customer.as_str() } })];
    if from.is_some() || to.is_some() {
        let mut range = serde_json::Map::new();
        if let Some(f) = from {
            range.insert("gte".into(), json!(f.to_string()));
        }
        if let Some(t) = to {
            range.insert("lte".into(), json!(t.to_string()));
        }
        filter.push(json!({ "range": { "date": range } }));
    }
    filter
}

impl ElasticStore {
    pub(super) async fn search(&self, routing: &str, body: Value) -> Result<Value, StoreError> {
        let resp = self
            .client
            .search(SearchParts::Index(&[&self.tx_alias]))
            .routing(&[routing])
            .body(body)
            .send()
            .await
            .map_err(unavailable)?;
        json_of("search", resp).await
    }
}
