//! The shared store suite on the store of a core built without SQLite ([`MemoryStore`]):
//! it answers every query as the SQLite and Elasticsearch stores do.

mod support;

use support::store_suite as suite;
use txclass_suite::store::MemoryStore;

macro_rules! suite_test {
    ($name:ident $(, $arg:expr)*) => {
        #[tokio::test]
        async fn $name() {
            suite::$name(&MemoryStore::new() $(, $arg)*).await;
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
    suite::tenants_are_apart(std::sync::Arc::new(MemoryStore::new())).await;
}
