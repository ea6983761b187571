//! Reading back what a store holds for a customer.

use txclass_suite::store::{Store, TxQuery};

/// Every stored transaction id of `customer`, over all pages, sorted.
pub async fn stored_ids(store: &dyn Store, customer: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .transactions(&TxQuery {
                customer_id: customer.into(),
                cursor,
                limit: 500,
                ..TxQuery::default()
            })
            .await
            .unwrap();
        ids.extend(page.items.into_iter().map(|t| t.transaction.id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    ids.sort();
    ids
}
