//! One behaviour suite for every [`Store`]: `tests/store_sqlite.rs` runs it on the embedded
//! store, `tests/store_elastic.rs` on Elasticsearch/OpenSearch. Each function expects an
//! empty store and asserts exact answers (ids in order, sums to the cent), so two stores that
//! pass agree with each other.
#![allow(dead_code)] // each test file uses its own subset

use std::collections::{BTreeMap, HashSet};
use std::future::Future;

use chrono::{DateTime, NaiveDate, Utc};
use txclass_suite::domain::correction::Correction;
use txclass_suite::domain::{
    Category, ClassificationRequest, ClassifiedTransaction, Confidence, CustomerId, JobId,
    JobRecord, JobStatus, PartnerId, Prediction, Source, Summary, Transaction,
};
use txclass_suite::progress::FailureReason;
use txclass_suite::progress::Progress;
use txclass_suite::rules::{Action, Conditions, Rule, RuleScope, Sign, Stage};
use txclass_suite::store::{
    merchant_name, merchant_of, CorrectionQuery, Level, LoggedEvent, MerchantRow, PageRecord,
    RuleFilter, SpendingQuery, SpendingRow, Store, StoreError, TxQuery, UpsertReport, MAX_EVENTS,
};

/// `YYYY-MM-DD` → date.
pub fn d(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

/// A classified transaction.
pub fn tx(
    partner: &str,
    id: &str,
    customer: &str,
    date: &str,
    description: &str,
    amount_minor: i64,
    category: &str,
) -> ClassifiedTransaction {
    ClassifiedTransaction {
        partner_id: PartnerId::new(partner),
        customer_id: CustomerId::new(customer),
        transaction: Transaction {
            id: id.into(),
            date: d(date),
            description: description.into(),
            amount_minor,
            currency: "BRL".into(),
        },
        prediction: Prediction::from_model(Category::new(category), 0.87, Confidence::High, false),
    }
}

/// `n` transactions of `customer` over Jan–Mar 2026 with many same-day ties, two partners,
/// a handful of categories and merchants, money in and out: deterministic.
pub fn dataset(customer: &str, n: usize) -> Vec<ClassifiedTransaction> {
    const DESCRIPTIONS: [&str; 6] = [
        "COMPRA CARTAO PAG*PADARIA SAO PAULO",
        "Padaria Pão Quente 0412",
        "UBER *TRIP 4821",
        "NETFLIX.COM",
        "PIX ENVIADO JOAO",
        "SALARIO ACME LTDA",
    ];
    const CATEGORIES: [&str; 6] = [
        "groceries",
        "groceries",
        "transport",
        "subscriptions",
        "transfers",
        "income",
    ];
    (0..n)
        .map(|i| {
            let k = i % DESCRIPTIONS.len();
            // 90 days (Jan–Mar), n/90 transactions a day: ties on the date.
            let date = d("2026-01-01") + chrono::Days::new((i * 7 % 90) as u64);
            let partner = if i % 3 == 0 { "bank-b" } else { "bank-a" };
            let amount = if k == 5 {
                500_000 + i as i64
            } else {
                -((k as i64 + 1) * 1_000 + (i as i64 % 97))
            };
            let mut t = tx(
                partner,
                &format!("{customer}-t{i:05}"),
                customer,
                &date.to_string(),
                DESCRIPTIONS[k],
                amount,
                CATEGORIES[k],
            );
            t.prediction.probability = (i % 100) as f32 / 100.0;
            // Some money in another currency (never added to the reais), some rows with a
            // sub-category from the model and the taxonomy version, and some rows a rule
            // classified: their source, sub-category and clean merchant name are kept.
            if i % 11 == 0 {
                t.transaction.currency = "EUR".into();
            }
            if k == 2 && i % 4 < 2 {
                t.prediction.sub_category = Some(Category::new("transport/ride_hailing"));
                t.prediction.sub_probability = Some(0.625);
                t.prediction.taxonomy_version = Some("2026-12".into());
            }
            if i % 13 == 0 {
                t.prediction.source = Source::Rule("fix-7".into());
                t.prediction.sub_category =
                    Some(Category::new(format!("{}/special", CATEGORIES[k])));
                t.prediction.sub_probability = Some(1.0);
                t.prediction.merchant = Some("Padaria Boa".into());
            }
            t
        })
        .collect()
}

/// The order every store returns: newest first, then partner, then id, all descending.
pub fn newest_first(txs: &mut [ClassifiedTransaction]) {
    txs.sort_by(|a, b| {
        (b.transaction.date, &b.partner_id, &b.transaction.id).cmp(&(
            a.transaction.date,
            &a.partner_id,
            &a.transaction.id,
        ))
    });
}

fn key(t: &ClassifiedTransaction) -> (String, String) {
    (t.partner_id.0.clone(), t.transaction.id.clone())
}

/// Every page of `q` (page size `q.limit`), checking each page is full but the last.
pub async fn all_pages(store: &dyn Store, q: &TxQuery) -> Vec<ClassifiedTransaction> {
    let mut q = q.clone();
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let page = store.transactions(&q).await.expect("page");
        let full = page.items.len() == q.limit as usize;
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => {
                assert!(full, "a page before the last is short");
                q.cursor = Some(c);
            }
            None => return out,
        }
    }
    panic!("pagination does not end");
}

fn query(customer: &str, limit: u32) -> TxQuery {
    TxQuery {
        customer_id: CustomerId::new(customer),
        limit,
        ..TxQuery::default()
    }
}

/// Upserting is idempotent by `(partner_id, id)` and reports inserted/updated exactly.
pub async fn upsert_is_idempotent(store: &dyn Store) {
    let c = "cust-upsert";
    let mut txs = vec![
        tx(
            "bank-a",
            "t1",
            c,
            "2026-01-05",
            "PADARIA",
            -1_000,
            "groceries",
        ),
        tx("bank-a", "t2", c, "2026-01-06", "UBER", -2_000, "transport"),
        // Same transaction id at another partner: another transaction.
        tx(
            "bank-b",
            "t1",
            c,
            "2026-01-07",
            "NETFLIX",
            -3_990,
            "subscriptions",
        ),
    ];
    let r = store.upsert(&txs).await.expect("first upsert");
    assert_eq!(
        r,
        UpsertReport {
            inserted: 3,
            updated: 0
        }
    );
    let r = store.upsert(&txs).await.expect("same page again");
    assert_eq!(
        r,
        UpsertReport {
            inserted: 0,
            updated: 3
        }
    );
    assert_eq!(store.count(&CustomerId::new(c)).await.unwrap(), 3);

    // A re-classification replaces the stored one; a new one is added.
    txs[1].prediction.category = Category::new("travel");
    txs[1].transaction.amount_minor = -2_500;
    let mut new = tx(
        "bank-a",
        "t3",
        c,
        "2026-01-08",
        "PIX ENVIADO JOAO",
        -500,
        "transfers",
    );
    // Flagged, with the model's best guess kept beside it.
    new.prediction = Prediction {
        category: Category::new(Category::UNCERTAIN),
        uncertain: true,
        confidence: Confidence::Low,
        guess: Some(Category::new("transfers")),
        ..new.prediction
    };
    let r = store
        .upsert(&[txs[1].clone(), new.clone()])
        .await
        .expect("update + insert");
    assert_eq!(
        r,
        UpsertReport {
            inserted: 1,
            updated: 1
        }
    );
    assert_eq!(store.count(&CustomerId::new(c)).await.unwrap(), 4);

    let mut expected = vec![txs[0].clone(), txs[1].clone(), txs[2].clone(), new];
    newest_first(&mut expected);
    let got = store.transactions(&query(c, 100)).await.unwrap();
    assert_eq!(got.items, expected, "stored transactions come back exactly");
    assert_eq!(got.next_cursor, None);

    assert_eq!(store.upsert(&[]).await.unwrap(), UpsertReport::default());
    assert_eq!(store.count(&CustomerId::new("nobody")).await.unwrap(), 0);

    // What set the category is part of the row: a rule's answer replaces the model's.
    let mut by_rule = got.items[0].clone();
    assert_eq!(by_rule.prediction.source, Source::Model);
    by_rule.prediction.source = Source::Rule("r-1".into());
    by_rule.prediction.sub_category = Some(Category::new("bakery"));
    by_rule.prediction.merchant = Some("Padaria Boa".into());
    store.upsert(&[by_rule.clone()]).await.unwrap();
    let got = store.transactions(&query(c, 100)).await.unwrap();
    assert_eq!(
        got.items[0], by_rule,
        "source, sub-category and merchant stored"
    );
}

/// One upsert bigger than any bulk batch: every document counted once, all stored.
pub async fn large_upsert(store: &dyn Store, n: usize) {
    let c = "cust-large";
    let txs = dataset(c, n);
    let r = store.upsert(&txs).await.expect("large upsert");
    assert_eq!(
        r,
        UpsertReport {
            inserted: n,
            updated: 0
        }
    );
    let r = store.upsert(&txs).await.expect("large upsert again");
    assert_eq!(
        r,
        UpsertReport {
            inserted: 0,
            updated: n
        }
    );
    assert_eq!(store.count(&CustomerId::new(c)).await.unwrap(), n as u64);
}

/// Date, category, partner and text filters, and customers kept apart.
pub async fn filters(store: &dyn Store) {
    let c = "cust-filters";
    let mut txs = dataset(c, 120);
    txs.extend(dataset("cust-other", 30));
    store.upsert(&txs).await.expect("upsert");
    let mine: Vec<ClassifiedTransaction> = txs
        .iter()
        .filter(|t| t.customer_id.as_str() == c)
        .cloned()
        .collect();

    let check =
        |name: &'static str, q: TxQuery, keep: Box<dyn Fn(&ClassifiedTransaction) -> bool>| {
            let mut expected: Vec<ClassifiedTransaction> =
                mine.iter().filter(|t| keep(t)).cloned().collect();
            newest_first(&mut expected);
            async move {
                let got = store.transactions(&q).await.expect(name);
                assert_eq!(got.next_cursor, None, "{name}: one page");
                let got: Vec<_> = got.items.iter().map(key).collect();
                let want: Vec<_> = expected.iter().map(key).collect();
                assert!(
                    !want.is_empty() || name.starts_with("none"),
                    "{name}: test selects something"
                );
                assert_eq!(got, want, "{name}");
            }
        };

    check("all", query(c, 1000), Box::new(|_| true)).await;
    check(
        "date range, both ends inclusive",
        TxQuery {
            from: Some(d("2026-01-15")),
            to: Some(d("2026-02-14")),
            ..query(c, 1000)
        },
        Box::new(|t| {
            t.transaction.date >= d("2026-01-15") && t.transaction.date <= d("2026-02-14")
        }),
    )
    .await;
    check(
        "one day",
        TxQuery {
            from: Some(d("2026-01-08")),
            to: Some(d("2026-01-08")),
            ..query(c, 1000)
        },
        Box::new(|t| t.transaction.date == d("2026-01-08")),
    )
    .await;
    check(
        "category",
        TxQuery {
            category: Some(Category::new("groceries")),
            ..query(c, 1000)
        },
        Box::new(|t| t.prediction.category.as_str() == "groceries"),
    )
    .await;
    check(
        "sub-category",
        TxQuery {
            category: Some(Category::new("transport")),
            sub_category: Some(Category::new("transport/ride_hailing")),
            ..query(c, 1000)
        },
        Box::new(|t| {
            t.prediction.sub_category.as_ref().map(Category::as_str)
                == Some("transport/ride_hailing")
        }),
    )
    .await;
    check(
        "partner + category + dates",
        TxQuery {
            partner_id: Some(PartnerId::new("bank-b")),
            category: Some(Category::new("groceries")),
            from: Some(d("2026-02-01")),
            ..query(c, 1000)
        },
        Box::new(|t| {
            t.partner_id.as_str() == "bank-b"
                && t.prediction.category.as_str() == "groceries"
                && t.transaction.date >= d("2026-02-01")
        }),
    )
    .await;
    let has =
        |w: &'static str| move |t: &ClassifiedTransaction| t.transaction.description.contains(w);
    let text = |s: &str| TxQuery {
        text: Some(s.into()),
        ..query(c, 1000)
    };
    check(
        "text, any case",
        text("padaria"),
        Box::new(|t| t.transaction.description.to_lowercase().contains("padaria")),
    )
    .await;
    check(
        "text, all words",
        text("PADARIA sao"),
        Box::new(has("SAO PAULO")),
    )
    .await;
    check("text, accented word", text("PÃO"), Box::new(has("Pão"))).await;
    check(
        "text, words split at punctuation",
        text("netflix"),
        Box::new(has("NETFLIX")),
    )
    .await;
    check(
        "text, after a star",
        text("trip uber"),
        Box::new(has("UBER")),
    )
    .await;
    check(
        "text + category",
        TxQuery {
            category: Some(Category::new("income")),
            ..text("acme")
        },
        Box::new(has("ACME")),
    )
    .await;
    check(
        "none: part of a word is not a word",
        text("pada"),
        Box::new(|_| false),
    )
    .await;
    check(
        "none: a word that is nowhere",
        text("padaria zebra"),
        Box::new(|_| false),
    )
    .await;
    check(
        "none: an unknown category",
        TxQuery {
            category: Some(Category::new("nope")),
            ..query(c, 1000)
        },
        Box::new(|_| false),
    )
    .await;
    check(
        "no words filters nothing",
        text(" *** "),
        Box::new(|_| true),
    )
    .await;
}

/// Keyset pagination: every transaction exactly once, in order, at several page sizes, with
/// and without filters; bad cursors refused.
pub async fn pagination(store: &dyn Store) {
    let c = "cust-pages";
    let txs = dataset(c, 250);
    store.upsert(&txs).await.expect("upsert");
    let mut expected = txs.clone();
    newest_first(&mut expected);

    for limit in [1, 7, 50, 250, 1000] {
        let got = all_pages(store, &query(c, limit)).await;
        let ids: Vec<_> = got.iter().map(key).collect();
        let unique: HashSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "limit {limit}: no duplicates");
        assert_eq!(got, expected, "limit {limit}: no gaps, newest first, exact");
    }

    let q = TxQuery {
        category: Some(Category::new("groceries")),
        from: Some(d("2026-02-01")),
        ..query(c, 9)
    };
    let got: Vec<_> = all_pages(store, &q).await.iter().map(key).collect();
    let want: Vec<_> = expected
        .iter()
        .filter(|t| {
            t.prediction.category.as_str() == "groceries" && t.transaction.date >= d("2026-02-01")
        })
        .map(key)
        .collect();
    assert!(want.len() > 9, "several pages");
    assert_eq!(got, want, "filtered pages");

    // A page size of 0 still answers (clamped to 1).
    let one = store.transactions(&query(c, 0)).await.unwrap();
    assert_eq!(one.items.len(), 1);
    assert!(one.next_cursor.is_some());

    for bad in ["zz", "abc", "5b5d", ""] {
        let q = TxQuery {
            cursor: Some(bad.into()),
            ..query(c, 10)
        };
        match store.transactions(&q).await {
            Err(StoreError::InvalidCursor) => {}
            other => panic!("cursor {bad:?}: expected InvalidCursor, got {other:?}"),
        }
    }
}

/// Spend per month per category (and per sub-category at the sub level: a category's
/// transactions without one first), exact to the cent, within the date bounds.
pub async fn spending(store: &dyn Store) {
    let c = "cust-spend";
    let mut txs = dataset(c, 200);
    txs.extend(dataset("cust-other", 40));
    store.upsert(&txs).await.expect("upsert");

    type Cell = (String, String, Option<Category>, String);
    let expect = |from: Option<NaiveDate>, to: Option<NaiveDate>, level: Level| {
        let mut cells: BTreeMap<Cell, (u64, i64)> = BTreeMap::new();
        for t in txs.iter().filter(|t| t.customer_id.as_str() == c) {
            let date = t.transaction.date;
            if from.is_some_and(|f| date < f) || to.is_some_and(|x| date > x) {
                continue;
            }
            let sub = match level {
                Level::Main => None,
                Level::Sub => t.prediction.sub_category.clone(),
            };
            let e = cells
                .entry((
                    date.format("%Y-%m").to_string(),
                    t.prediction.category.0.clone(),
                    sub,
                    t.transaction.currency.clone(),
                ))
                .or_default();
            e.0 += 1;
            e.1 += t.transaction.amount_minor;
        }
        cells
            .into_iter()
            .map(
                |((month, category, sub_category, currency), (count, amount_minor))| SpendingRow {
                    month,
                    category: Category(category),
                    sub_category,
                    currency,
                    count,
                    amount_minor,
                },
            )
            .collect::<Vec<_>>()
    };
    // The sub level splits some categories (the data has sub-categories in both currencies).
    let sub = expect(None, None, Level::Sub);
    assert!(sub.len() > expect(None, None, Level::Main).len());
    assert!(sub.iter().any(|r| r
        .sub_category
        .as_ref()
        .is_some_and(|s| s.as_str() == "transport/ride_hailing")
        && r.currency == "EUR"));
    for (from, to, level) in [(None, None, Level::Main), (None, None, Level::Sub)]
        .into_iter()
        .chain(
            [
                (Some(d("2026-02-10")), Some(d("2026-03-20"))),
                (Some(d("2026-03-01")), None),
                (Some(d("2027-01-01")), None),
            ]
            .into_iter()
            .flat_map(|(f, t)| [(f, t, Level::Main), (f, t, Level::Sub)]),
        )
    {
        let got = store
            .spending(&SpendingQuery {
                customer_id: CustomerId::new(c),
                from,
                to,
                level,
            })
            .await
            .expect("spending");
        assert_eq!(
            got,
            expect(from, to, level),
            "spending {from:?}..{to:?} {level:?}"
        );
    }
}

/// Top merchants: outgoing only, largest spend first, ties by name, date bounds, `n`.
pub async fn top_merchants(store: &dyn Store) {
    let c = "cust-merchants";
    let mut txs = dataset(c, 90);
    // Two merchants that tie exactly on spend: ordered by name.
    txs.push(tx(
        "bank-a",
        "tie-1",
        c,
        "2026-01-10",
        "ZETA BAR",
        -77_777,
        "restaurants",
    ));
    txs.push(tx(
        "bank-a",
        "tie-2",
        c,
        "2026-01-10",
        "ALFA BAR",
        -77_777,
        "restaurants",
    ));
    // Money in with a merchant's name does not count as spend.
    txs.push(tx(
        "bank-a",
        "refund",
        c,
        "2026-01-11",
        "ALFA BAR",
        99_999,
        "restaurants",
    ));
    txs.extend(dataset("cust-other", 20));
    store.upsert(&txs).await.expect("upsert");

    let expect = |from: Option<NaiveDate>, to: Option<NaiveDate>, n: usize| {
        let mut m: BTreeMap<(String, String), (u64, i64)> = BTreeMap::new();
        for t in txs.iter().filter(|t| t.customer_id.as_str() == c) {
            let date = t.transaction.date;
            if t.transaction.amount_minor >= 0
                || from.is_some_and(|f| date < f)
                || to.is_some_and(|x| date > x)
            {
                continue;
            }
            let e = m
                .entry((
                    merchant_name(&t.transaction.description, &t.prediction),
                    t.transaction.currency.clone(),
                ))
                .or_default();
            e.0 += 1;
            e.1 += t.transaction.amount_minor;
        }
        let mut rows: Vec<MerchantRow> = m
            .into_iter()
            .map(
                |((merchant, currency), (count, amount_minor))| MerchantRow {
                    merchant,
                    currency,
                    count,
                    amount_minor,
                },
            )
            .collect();
        rows.sort_by(|a, b| {
            (a.amount_minor, &a.merchant, &a.currency).cmp(&(
                b.amount_minor,
                &b.merchant,
                &b.currency,
            ))
        });
        rows.truncate(n);
        rows
    };
    let customer = CustomerId::new(c);
    let all = store
        .top_merchants(&customer, None, None, 100)
        .await
        .unwrap();
    assert_eq!(all, expect(None, None, 100));
    assert!(
        all.iter().any(|r| r.merchant == "PADARIA SAO PAULO"),
        "{all:?}"
    );
    assert!(
        all.iter().any(|r| r.merchant == "Padaria Boa"),
        "a rule's merchant name groups its rows: {all:?}"
    );
    let padaria: Vec<&str> = all
        .iter()
        .filter(|r| r.merchant == "PADARIA SAO PAULO")
        .map(|r| r.currency.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(padaria, ["BRL", "EUR"], "one row per currency: {all:?}");
    assert!(
        all.iter().all(|r| r.merchant != "SALARIO ACME LTDA"),
        "income is not spend"
    );
    let alfa = all
        .iter()
        .position(|r| r.merchant == "ALFA BAR")
        .expect("ALFA BAR");
    assert_eq!(all[alfa + 1].merchant, "ZETA BAR", "ties by name");
    assert_eq!(all[alfa].amount_minor, -77_777, "the refund is not netted");

    for (from, to, n) in [
        (None, None, 2),
        (Some(d("2026-01-10")), Some(d("2026-01-10")), 10),
        (Some(d("2026-02-01")), Some(d("2026-03-31")), 3),
        (Some(d("2027-01-01")), None, 5),
    ] {
        let got = store.top_merchants(&customer, from, to, n).await.unwrap();
        assert_eq!(
            got,
            expect(from, to, n as usize),
            "top {n} {from:?}..{to:?}"
        );
    }
    assert!(store
        .top_merchants(&customer, None, None, 0)
        .await
        .unwrap()
        .is_empty());
}

fn rule(id: &str, scope: RuleScope) -> Rule {
    Rule {
        id: id.into(),
        scope,
        stage: Stage::Pre,
        order: 3,
        conditions: Conditions {
            description_matches: Some(r"padaria\s+\w+".into()),
            amount_max: Some("-1.50".parse().unwrap()),
            sign: Some(Sign::Out),
            ..Conditions::default()
        },
        action: Action {
            category: Some(Category::new("groceries")),
            sub_category: Some(Category::new("bakery")),
            merchant: Some("Padaria".into()),
        },
        stop_processing: true,
    }
}

/// Rules: create (an id once), read back exactly, list all or those a customer's jobs run
/// (global and theirs) by id, replace, delete.
pub async fn rules(store: &dyn Store) {
    let customer = |c: &str| RuleScope::Customer {
        customer_id: CustomerId::new(c),
    };
    let a = rule("r-a", RuleScope::Global);
    let b = rule("r-b", customer("c-1"));
    let c = rule("r-c", customer("c-2"));
    for r in [&c, &a, &b] {
        store.create_rule(r).await.expect("create");
    }
    assert!(matches!(
        store.create_rule(&a).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.get_rule("r-b").await.unwrap().as_ref(), Some(&b));
    assert_eq!(store.get_rule("nope").await.unwrap(), None);
    let ids = |rules: Vec<Rule>| rules.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.rules(&RuleFilter::All).await.unwrap()),
        ["r-a", "r-b", "r-c"]
    );
    let for_c1 = RuleFilter::AppliesTo(CustomerId::new("c-1"));
    assert_eq!(store.rules(&for_c1).await.unwrap(), [a.clone(), b.clone()]);
    let for_nobody = RuleFilter::AppliesTo(CustomerId::new("c-9"));
    assert_eq!(ids(store.rules(&for_nobody).await.unwrap()), ["r-a"]);

    // Replacing moves the rule to another customer.
    let mut moved = b.clone();
    moved.scope = customer("c-2");
    moved.order = 1;
    store.put_rule(&moved).await.unwrap();
    assert_eq!(store.get_rule("r-b").await.unwrap(), Some(moved));
    assert_eq!(ids(store.rules(&for_c1).await.unwrap()), ["r-a"]);

    assert!(store.delete_rule("r-a").await.unwrap());
    assert!(!store.delete_rule("r-a").await.unwrap());
    assert_eq!(store.get_rule("r-a").await.unwrap(), None);
    assert_eq!(
        ids(store.rules(&RuleFilter::All).await.unwrap()),
        ["r-b", "r-c"]
    );
}

/// A correction of `ct` to `category` at `at`.
fn correction(ct: &ClassifiedTransaction, category: &str, at: &str) -> Correction {
    Correction {
        customer_id: ct.customer_id.clone(),
        partner_id: ct.partner_id.clone(),
        transaction: ct.transaction.clone(),
        merchant: merchant_of(&ct.transaction.description),
        category: Category::new(category),
        sub_category: (category == "restaurants").then(|| Category::new("coffee")),
        previous_category: ct.prediction.category.clone(),
        previous_source: ct.prediction.source.clone(),
        corrected_at: at.parse().unwrap(),
    }
}

/// Corrections: a customer's transactions found by id (one per partner, by partner, never
/// another customer's); a correction of a transaction replaces the earlier one; lists newest
/// first (ties by partner, then transaction id, descending), by customer and merchant, capped.
pub async fn corrections(store: &dyn Store) {
    let a1 = tx(
        "bank-a",
        "t-1",
        "c-1",
        "2026-03-01",
        "PAG*PADARIA REAL SP",
        -1250,
        "shopping",
    );
    let b1 = tx(
        "bank-b",
        "t-1",
        "c-1",
        "2026-03-02",
        "PAG*PADARIA REAL SP",
        -990,
        "shopping",
    );
    let a2 = tx(
        "bank-a",
        "t-2",
        "c-1",
        "2026-03-03",
        "UBER *TRIP 4821",
        -2300,
        "transport",
    );
    let other = tx(
        "bank-c",
        "t-1",
        "c-2",
        "2026-03-01",
        "PAG*PADARIA REAL SP",
        -500,
        "shopping",
    );
    store
        .upsert(&[a1.clone(), b1.clone(), a2.clone(), other.clone()])
        .await
        .unwrap();
    let c1 = CustomerId::new("c-1");
    assert_eq!(
        store.transactions_with_id(&c1, "t-1").await.unwrap(),
        [a1.clone(), b1.clone()]
    );
    assert_eq!(
        store.transactions_with_id(&c1, "t-2").await.unwrap(),
        std::slice::from_ref(&a2)
    );
    assert!(store
        .transactions_with_id(&c1, "t-9")
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .transactions_with_id(&CustomerId::new("c-9"), "t-1")
        .await
        .unwrap()
        .is_empty());

    let first = correction(&a1, "groceries", "2026-03-05T10:00:00.000001Z");
    store.put_correction(&first).await.unwrap();
    store
        .put_correction(&correction(&b1, "groceries", "2026-03-05T10:00:00.000002Z"))
        .await
        .unwrap();
    store
        .put_correction(&correction(&a2, "travel", "2026-03-05T10:00:00.000002Z"))
        .await
        .unwrap();
    store
        .put_correction(&correction(&other, "fuel", "2026-03-06T00:00:00Z"))
        .await
        .unwrap();
    // The same transaction again: replaces, and moves to the front.
    let again = correction(&a1, "restaurants", "2026-03-05T11:00:00Z");
    store.put_correction(&again).await.unwrap();

    let q = |customer: Option<&str>, merchant: Option<&str>, limit: u32| CorrectionQuery {
        customer_id: customer.map(CustomerId::new),
        merchant: merchant.map(str::to_owned),
        limit,
    };
    let keys = |cs: Vec<Correction>| {
        cs.into_iter()
            .map(|c| format!("{}/{}/{}", c.partner_id, c.transaction.id, c.category))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        keys(store.corrections(&q(Some("c-1"), None, 100)).await.unwrap()),
        [
            "bank-a/t-1/restaurants",
            "bank-b/t-1/groceries",
            "bank-a/t-2/travel"
        ]
    );
    let padaria = merchant_of("PAG*PADARIA REAL SP");
    assert_eq!(
        keys(
            store
                .corrections(&q(Some("c-1"), Some(&padaria), 100))
                .await
                .unwrap()
        ),
        ["bank-a/t-1/restaurants", "bank-b/t-1/groceries"]
    );
    assert_eq!(
        keys(store.corrections(&q(None, None, 2)).await.unwrap()),
        ["bank-c/t-1/fuel", "bank-a/t-1/restaurants"]
    );
    assert!(store
        .corrections(&q(Some("c-1"), None, 0))
        .await
        .unwrap()
        .is_empty());
    // Read back exactly, the transaction and the times included.
    let back = store
        .corrections(&q(Some("c-1"), Some(&padaria), 1))
        .await
        .unwrap();
    assert_eq!(back, [again]);
}

fn job(id: &str, status: JobStatus) -> JobRecord {
    let at: DateTime<Utc> = "2026-03-01T12:00:00.123Z".parse().unwrap();
    JobRecord {
        tenant: Default::default(),
        id: JobId::new(id),
        request: ClassificationRequest {
            customer_id: CustomerId::new("cust-jobs"),
            partner_id: PartnerId::new("bank-a"),
            from: d("2026-01-01"),
            to: d("2026-03-31"),
        },
        status,
        created_at: at,
        updated_at: at,
    }
}

/// Job records: missing is `None`, put then get round-trips, a put replaces.
pub async fn job_records(store: &dyn Store) {
    assert_eq!(store.get_job(&JobId::new("missing")).await.unwrap(), None);

    let running = job("job-1", JobStatus::Running);
    store.put_job(&running).await.unwrap();
    assert_eq!(
        store.get_job(&running.id).await.unwrap(),
        Some(running.clone())
    );

    let mut summary = Summary::default();
    summary.add(&dataset("cust-jobs", 10));
    summary.pages = 2;
    summary.elapsed_ms = 1234;
    let mut done = job("job-1", JobStatus::Done { summary });
    done.updated_at = "2026-03-01T12:00:05Z".parse().unwrap();
    store.put_job(&done).await.unwrap();
    assert_eq!(store.get_job(&done.id).await.unwrap(), Some(done.clone()));

    let failed = job(
        "job-2",
        JobStatus::Failed {
            reason: FailureReason::PartnerUnavailable,
            message: "partner kept failing".into(),
        },
    );
    store.put_job(&failed).await.unwrap();
    assert_eq!(store.get_job(&failed.id).await.unwrap(), Some(failed));
    assert_eq!(
        store.get_job(&done.id).await.unwrap(),
        Some(done),
        "other job untouched"
    );
}

/// The checkpoint of `page` holding `txs`.
fn checkpoint(
    job: &str,
    page: u32,
    next: Option<&str>,
    txs: &[ClassifiedTransaction],
) -> PageRecord {
    let mut totals = Summary::default();
    totals.add(txs);
    totals.pages = 1;
    PageRecord {
        job_id: JobId::new(job),
        page,
        next_cursor: next.map(Into::into),
        totals,
    }
}

/// Job checkpoints: a page's rows and its record go in together; storing a page again
/// replaces its record and updates (never duplicates) its rows; `pages` answers a job's own
/// records in page order, with their cursors and totals; the rows are queryable.
pub async fn job_checkpoints(store: &dyn Store) {
    let job = JobId::new("job-ckpt");
    assert!(store.pages(&job).await.unwrap().is_empty());

    let txs = dataset("cust-ckpt", 50);
    let (p1, rest) = txs.split_at(20);
    let (p2, p3) = rest.split_at(20);
    let first = checkpoint("job-ckpt", 1, Some("cursor-2"), p1);
    assert_eq!(
        store.store_page(&first, p1).await.unwrap(),
        UpsertReport {
            inserted: 20,
            updated: 0
        }
    );
    assert_eq!(
        store.pages(&job).await.unwrap(),
        std::slice::from_ref(&first)
    );

    // The same page again (a resumed job that stored it but died before saying so): the
    // record is replaced, the rows updated, only transactions counted.
    let mut again = first.clone();
    again.totals.retried_calls = 3;
    assert_eq!(
        store.store_page(&again, p1).await.unwrap(),
        UpsertReport {
            inserted: 0,
            updated: 20
        }
    );
    assert_eq!(store.pages(&job).await.unwrap(), [again.clone()]);

    let second = checkpoint("job-ckpt", 2, Some("cursor \"3\"/é"), p2);
    let last = checkpoint("job-ckpt", 3, None, p3);
    assert_eq!(store.store_page(&second, p2).await.unwrap().inserted, 20);
    assert_eq!(
        store.store_page(&last, p3).await.unwrap(),
        UpsertReport {
            inserted: 10,
            updated: 0
        }
    );
    // Another job, whose id starts like this one's, with a page and no rows.
    let other = checkpoint("job-ckpt:1", 1, None, &[]);
    assert_eq!(
        store.store_page(&other, &[]).await.unwrap(),
        UpsertReport::default()
    );

    assert_eq!(
        store.pages(&job).await.unwrap(),
        [again, second, last],
        "page order, cursors and totals as stored"
    );
    assert_eq!(store.pages(&other.job_id).await.unwrap(), [other]);
    assert!(store
        .pages(&JobId::new("job-ckp"))
        .await
        .unwrap()
        .is_empty());

    let mut want = txs.clone();
    newest_first(&mut want);
    assert_eq!(all_pages(store, &query("cust-ckpt", 17)).await, want);
    assert_eq!(
        store.count(&CustomerId::new("cust-ckpt")).await.unwrap(),
        50
    );
}

/// Event `seq` of a job: a different event for every number and job.
fn event(job: &str, seq: u64) -> LoggedEvent {
    LoggedEvent {
        seq,
        event: Progress::Classified {
            page: seq as u32,
            transactions: job.len(),
            inserted: (seq % 7) as usize,
            total: seq * 10,
        },
    }
}

/// The event log: appends are readable at once (no refresh in between), reads return
/// exactly the tail after a number in order, a number is taken only once, and logs of
/// different jobs never mix.
pub async fn event_log(store: &dyn Store) {
    let a = JobId::new("job-ev");
    let b = JobId::new("job-ev:1");
    assert!(store.events(&a, 0, 10).await.unwrap().is_empty());

    const N: u64 = 150;
    for seq in 1..=N {
        let e = event("job-ev", seq);
        store.append_event(&a, &e).await.unwrap();
        // A client re-attaching right now (Last-Event-ID = seq - 1) gets it.
        assert_eq!(
            store.events(&a, seq - 1, 10).await.unwrap(),
            [e],
            "event {seq} readable right after its append"
        );
        if seq <= 5 {
            store
                .append_event(&b, &event("job-ev:1", seq))
                .await
                .unwrap();
        }
    }

    let all: Vec<LoggedEvent> = (1..=N).map(|s| event("job-ev", s)).collect();
    assert_eq!(store.events(&a, 0, MAX_EVENTS).await.unwrap(), all);
    assert_eq!(store.events(&a, 0, u32::MAX).await.unwrap(), all);
    assert_eq!(store.events(&a, 100, 1000).await.unwrap(), all[100..]);
    assert_eq!(store.events(&a, 10, 70).await.unwrap(), all[10..80]);
    assert_eq!(store.events(&a, 63, 2).await.unwrap(), all[63..65]);
    assert!(store.events(&a, N, 10).await.unwrap().is_empty());
    assert!(store.events(&a, 0, 0).await.unwrap().is_empty());

    // A second writer of the job loses, and the log keeps the first writer's event.
    let taken = event("someone-else", 7);
    match store.append_event(&a, &taken).await {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(store.events(&a, 6, 1).await.unwrap(), all[6..7]);

    let b_log: Vec<LoggedEvent> = (1..=5).map(|s| event("job-ev:1", s)).collect();
    assert_eq!(store.events(&b, 0, 100).await.unwrap(), b_log);
    assert_eq!(store.events(&b, 3, 100).await.unwrap(), b_log[3..]);
    assert!(store
        .events(&JobId::new("job-e"), 0, 100)
        .await
        .unwrap()
        .is_empty());
}

/// `running_jobs`: only records whose status is running, oldest `created_at` first (by
/// time, also within one second; the same millisecond by job id), at most `limit`.
/// `settle` makes job records written so far searchable (a store may answer this from a
/// search that lags writes by ~1 s).
pub async fn running_jobs<F, Fut>(store: &dyn Store, settle: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    settle().await;
    assert!(store.running_jobs(10).await.unwrap().is_empty());

    let at = |id: &str, status: JobStatus, created: &str| {
        let mut j = job(id, status);
        j.created_at = created.parse().unwrap();
        j.updated_at = j.created_at;
        j
    };
    let summary = Summary {
        pages: 1,
        ..Summary::default()
    };
    let jobs = [
        at("run-late", JobStatus::Running, "2026-03-01T12:00:03Z"),
        at("run-first", JobStatus::Running, "2026-03-01T12:00:01Z"),
        // Within one second: 02 is older than 02.5.
        at("run-half", JobStatus::Running, "2026-03-01T12:00:02.500Z"),
        at("run-whole", JobStatus::Running, "2026-03-01T12:00:02Z"),
        // The same millisecond: by job id.
        at("run-tie-b", JobStatus::Running, "2026-03-01T12:00:04.250Z"),
        at("run-tie-a", JobStatus::Running, "2026-03-01T12:00:04.250Z"),
        at(
            "done-old",
            JobStatus::Done { summary },
            "2026-03-01T11:00:00Z",
        ),
        at(
            "failed-old",
            JobStatus::Failed {
                reason: FailureReason::PartnerUnavailable,
                message: "down".into(),
            },
            "2026-03-01T11:00:01Z",
        ),
        at(
            "cancelled-old",
            JobStatus::Cancelled,
            "2026-03-01T11:00:02Z",
        ),
    ];
    for j in &jobs {
        store.put_job(j).await.unwrap();
    }
    settle().await;
    let ids = |js: Vec<JobRecord>| js.into_iter().map(|j| j.id.0).collect::<Vec<_>>();
    let running = store.running_jobs(10).await.unwrap();
    assert_eq!(running[0], jobs[1], "whole records");
    assert_eq!(
        ids(running),
        [
            "run-first",
            "run-whole",
            "run-half",
            "run-late",
            "run-tie-a",
            "run-tie-b"
        ]
    );
    assert_eq!(
        ids(store.running_jobs(2).await.unwrap()),
        ["run-first", "run-whole"]
    );
    assert!(store.running_jobs(0).await.unwrap().is_empty());

    // A job that finishes leaves the list.
    let mut finished = jobs[1].clone();
    finished.status = JobStatus::Cancelled;
    store.put_job(&finished).await.unwrap();
    settle().await;
    assert_eq!(
        ids(store.running_jobs(10).await.unwrap()),
        [
            "run-whole",
            "run-half",
            "run-late",
            "run-tie-a",
            "run-tie-b"
        ]
    );
}

/// Tenants' views of one store never meet: the same customer, partner, transaction and rule
/// ids written through two tenants' views and the local one are three things, each read back
/// only through its own view, with plain ids.
pub async fn tenants_are_apart(store: std::sync::Arc<dyn Store>) {
    use txclass_suite::domain::TenantId;
    use txclass_suite::store::TenantStore;
    let view = |t: &str| {
        let tenant = match t {
            "local" => TenantId::local(),
            t => TenantId::new(t).unwrap(),
        };
        TenantStore::new(store.clone(), &tenant)
    };
    let views = [
        (view("acme"), "groceries"),
        (view("globex"), "transport"),
        (view("local"), "shopping"),
    ];
    for (s, category) in &views {
        let t = tx(
            "bank",
            "t-1",
            "c-1",
            "2026-03-01",
            "PADARIA REAL",
            -500,
            category,
        );
        let report = s.upsert(&[t]).await.unwrap();
        assert_eq!(report.inserted, 1, "a row of its own for each tenant");
    }
    let c1 = CustomerId::new("c-1");
    for (s, category) in &views {
        let items = s.transactions(&query("c-1", 10)).await.unwrap().items;
        assert_eq!(items.len(), 1, "{category}");
        assert_eq!(items[0].prediction.category.as_str(), *category);
        assert_eq!(
            (items[0].customer_id.as_str(), items[0].partner_id.as_str()),
            ("c-1", "bank"),
            "plain ids"
        );
        let mut by_partner = query("c-1", 10);
        by_partner.partner_id = Some(PartnerId::new("bank"));
        assert_eq!(s.transactions(&by_partner).await.unwrap().items, items);
        assert_eq!(s.count(&c1).await.unwrap(), 1);
        assert_eq!(s.transactions_with_id(&c1, "t-1").await.unwrap(), items);
        let spending = s
            .spending(&SpendingQuery {
                customer_id: c1.clone(),
                from: None,
                to: None,
                level: Level::Main,
            })
            .await
            .unwrap();
        assert_eq!(spending.len(), 1);
        assert_eq!(spending[0].category.as_str(), *category);
        assert_eq!(s.top_merchants(&c1, None, None, 10).await.unwrap().len(), 1);
    }

    // The same rule id in two tenants; each sees its own, with its plain customer.
    let [(a, _), (b, _), (local, _)] = &views;
    let global = rule("r-1", RuleScope::Global);
    let theirs = rule(
        "r-1",
        RuleScope::Customer {
            customer_id: c1.clone(),
        },
    );
    a.create_rule(&global).await.unwrap();
    b.create_rule(&theirs).await.unwrap();
    assert_eq!(
        a.rules(&RuleFilter::All).await.unwrap(),
        std::slice::from_ref(&global)
    );
    assert_eq!(
        b.rules(&RuleFilter::AppliesTo(c1.clone())).await.unwrap(),
        std::slice::from_ref(&theirs)
    );
    assert!(local.rules(&RuleFilter::All).await.unwrap().is_empty());
    assert!(local
        .rules(&RuleFilter::AppliesTo(c1.clone()))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(local.get_rule("r-1").await.unwrap(), None);
    assert!(!local.delete_rule("r-1").await.unwrap());
    assert!(b.delete_rule("r-1").await.unwrap());
    assert_eq!(a.get_rule("r-1").await.unwrap(), Some(global));

    // A correction is its tenant's only.
    let ct = a
        .transactions(&query("c-1", 1))
        .await
        .unwrap()
        .items
        .remove(0);
    let c = correction(&ct, "restaurants", "2026-03-05T10:00:00Z");
    a.put_correction(&c).await.unwrap();
    let all = CorrectionQuery {
        customer_id: None,
        merchant: None,
        limit: 10,
    };
    let of_c1 = CorrectionQuery {
        customer_id: Some(c1.clone()),
        ..all.clone()
    };
    assert_eq!(
        a.corrections(&of_c1).await.unwrap(),
        std::slice::from_ref(&c)
    );
    assert_eq!(a.corrections(&all).await.unwrap(), [c]);
    for s in [b, local] {
        assert!(s.corrections(&of_c1).await.unwrap().is_empty());
        assert!(s.corrections(&all).await.unwrap().is_empty());
    }
}
