//! Each tenant's request allowance held in a real Redis: two instances (two `RedisRate`s)
//! count one tenant's requests together, tenants are apart, and the allowance comes back
//! with time on Redis's clock.

#[path = "support/redis.rs"]
mod support;

use std::time::Duration;

use support::{connect, unique, url};
use txclass_suite::rate::{RateSettings, RedisRate, RequestRate};
use txclass_suite::TenantId;

#[tokio::test]
async fn two_instances_share_a_tenants_allowance() {
    let _ = connect().await; // fails loudly without Redis
    let prefix = unique("rate");
    let settings = RateSettings {
        per_second: 2.0,
        burst: 4,
    };
    let one = RedisRate::new(&url(), &prefix, &settings).unwrap();
    let two = RedisRate::new(&url(), &prefix, &settings).unwrap();
    let (a, b) = (
        TenantId::new("acme").unwrap(),
        TenantId::new("globex").unwrap(),
    );
    // The burst of 4, spread over both instances.
    for rate in [&one, &two, &one, &two] {
        assert_eq!(rate.admit(&a).await, Ok(()));
    }
    let wait = two.admit(&a).await.unwrap_err();
    assert!(
        wait > Duration::from_millis(300) && wait <= Duration::from_millis(500),
        "one interval (500 ms) minus the time the calls took: {wait:?}"
    );
    assert!(
        one.admit(&a).await.is_err(),
        "the other instance refuses too"
    );
    assert_eq!(
        one.admit(&b).await,
        Ok(()),
        "another tenant has its own allowance"
    );
    tokio::time::sleep(wait + Duration::from_millis(20)).await;
    assert_eq!(one.admit(&a).await, Ok(()), "after the wait, one more");
    assert!(two.admit(&a).await.is_err());
}
