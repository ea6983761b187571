//! The shared store suite on the embedded store ([`SqliteStore`]), plus what only a file
//! database has (reopening, migrating an older file).

mod support;

use support::store_suite as suite;
use txclass_suite::store::{SqliteStore, Store};

fn store() -> SqliteStore {
    SqliteStore::in_memory().expect("in-memory sqlite")
}

/// A file store: writes on one connection, reads on others (WAL), so this also checks that
/// reads see the writes that returned before them.
fn file_store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path().join("store.db")).expect("file sqlite");
    (dir, s)
}

/// Runs one suite function on an in-memory store and on a file store.
macro_rules! suite_test {
    ($name:ident $(, $arg:expr)*) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn in_memory() {
                suite::$name(&store() $(, $arg)*).await;
            }

            #[tokio::test]
            async fn file() {
                let (_dir, s) = file_store();
                suite::$name(&s $(, $arg)*).await;
            }
        }
    };
}

suite_test!(upsert_is_idempotent);
suite_test!(large_upsert, 5_000);
suite_test!(filters);
suite_test!(pagination);
suite_test!(spending);
suite_test!(top_merchants);
suite_test!(rules);
suite_test!(corrections);
suite_test!(job_records);
suite_test!(job_checkpoints);
suite_test!(event_log);
suite_test!(running_jobs, || async {});

#[tokio::test]
async fn tenants_are_apart() {
    suite::tenants_are_apart(std::sync::Arc::new(store())).await;
    let (_dir, s) = file_store();
    suite::tenants_are_apart(std::sync::Arc::new(s)).await;
}

#[tokio::test]
async fn data_survives_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/store.db");
    let txs = suite::dataset("cust-file", 50);
    {
        let s = SqliteStore::open(&path).unwrap();
        s.upsert(&txs).await.unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    let got = suite::all_pages(
        &s,
        &txclass_suite::store::TxQuery {
            customer_id: "cust-file".into(),
            limit: 20,
            ..Default::default()
        },
    )
    .await;
    let mut want = txs;
    suite::newest_first(&mut want);
    assert_eq!(got, want);
}

/// A file written before the `merchant`/`words` columns existed is migrated on open: text
/// search and top merchants work on its old rows.
#[tokio::test]
async fn a_file_from_the_first_schema_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "CREATE TABLE transactions (
                partner_id TEXT NOT NULL, id TEXT NOT NULL, customer_id TEXT NOT NULL,
                date TEXT NOT NULL, description TEXT NOT NULL, amount_minor INTEGER NOT NULL,
                currency TEXT NOT NULL, category TEXT NOT NULL, probability REAL NOT NULL,
                confidence TEXT NOT NULL, uncertain INTEGER NOT NULL,
                PRIMARY KEY (partner_id, id));
             INSERT INTO transactions VALUES ('bank','t1','c1','2026-01-02',
                'COMPRA CARTAO PAG*PADARIA SAO PAULO',-1500,'BRL','groceries',0.9,'high',0);",
        )
        .unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    let page = s
        .transactions(&txclass_suite::store::TxQuery {
            customer_id: "c1".into(),
            text: Some("padaria".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    let top = s.top_merchants(&"c1".into(), None, None, 5).await.unwrap();
    assert_eq!(top.len(), 1);
    assert_eq!(top[0].merchant, "PADARIA SAO PAULO");
    assert_eq!(top[0].amount_minor, -1500);
}

/// A file written before a merchant's name joined a word at an apostrophe (`MCDONALD S`)
/// has those rows' merchants set again on open, once: they group with the rows that print
/// the name without it.
#[tokio::test]
async fn merchants_written_split_at_an_apostrophe_are_joined_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let tx = |id: &str, description: &str| {
        suite::tx(
            "bank",
            id,
            "c1",
            "2026-01-02",
            description,
            -500,
            "restaurants",
        )
    };
    {
        let s = SqliteStore::open(&path).unwrap();
        s.upsert(&[
            tx("t1", "MCDONALD'S 1234 LONDON"),
            tx("t2", "McDonald’s London"),
            tx("t3", "MCDONALDS 77 LONDON"),
        ])
        .await
        .unwrap();
    }
    // As the version before wrote them.
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "UPDATE transactions SET merchant = 'MCDONALD S LONDON' WHERE id IN ('t1', 't2');
             PRAGMA user_version = 0;",
        )
        .unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    let top = s.top_merchants(&"c1".into(), None, None, 5).await.unwrap();
    assert_eq!(top.len(), 1, "{top:?}");
    assert_eq!(top[0].merchant, "MCDONALDS LONDON");
    assert_eq!(top[0].amount_minor, -1500);
    drop(s);
    let c = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 1);
}

/// A file written before rules existed gets the `source`, `sub_category`, `rule_merchant`,
/// `sub_probability` and `taxonomy_version` columns on open: its rows read back as the
/// model's without a taxonomy version, and new rows keep what a rule set.
#[tokio::test]
async fn a_file_from_before_rules_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "CREATE TABLE transactions (
                partner_id TEXT NOT NULL, id TEXT NOT NULL, customer_id TEXT NOT NULL,
                date TEXT NOT NULL, description TEXT NOT NULL, amount_minor INTEGER NOT NULL,
                currency TEXT NOT NULL, category TEXT NOT NULL, probability REAL NOT NULL,
                confidence TEXT NOT NULL, uncertain INTEGER NOT NULL,
                merchant TEXT NOT NULL DEFAULT '', words TEXT NOT NULL DEFAULT '',
                PRIMARY KEY (partner_id, id));
             INSERT INTO transactions VALUES ('bank','t1','c1','2026-01-02',
                'COMPRA CARTAO PAG*PADARIA SAO PAULO',-1500,'BRL','groceries',0.9,'high',0,
                'PADARIA SAO PAULO',' compra cartao pag padaria sao paulo ');",
        )
        .unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    let q = txclass_suite::store::TxQuery {
        customer_id: "c1".into(),
        limit: 10,
        ..Default::default()
    };
    let page = s.transactions(&q).await.unwrap();
    assert_eq!(page.items.len(), 1);
    let old = &page.items[0];
    assert_eq!(old.prediction.source, txclass_suite::domain::Source::Model);
    assert_eq!(old.prediction.sub_category, None);
    // Written before taxonomies had versions: none read back.
    assert_eq!(old.prediction.taxonomy_version, None);
    assert_eq!(old.prediction.sub_probability, None);
    let mut by_rule = old.clone();
    by_rule.transaction.id = "t2".into();
    by_rule.prediction.source = txclass_suite::domain::Source::Rule("r".into());
    by_rule.prediction.merchant = Some("Padaria".into());
    by_rule.prediction.sub_category = Some(txclass_suite::Category::new("groceries/bakery"));
    by_rule.prediction.taxonomy_version = Some("2026-12".into());
    s.upsert(&[by_rule.clone()]).await.unwrap();
    drop(s);
    let s = SqliteStore::open(&path).unwrap();
    let page = s.transactions(&q).await.unwrap();
    assert_eq!(page.items, [by_rule, old.clone()]);
}
