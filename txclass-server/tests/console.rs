//! The web console, served at `/`: its headers (no browser), and the page in a real headless
//! Chromium driven over WebDriver (chromedriver): start a job, watch it reach `done`, and
//! check that the charts, the transactions table (pages, search, category filter) and the
//! partners table show what the API itself answers. Screenshots go to `target/console/`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`scripts/browser.sh install`, called by
//! `scripts/test.sh`); the browser test fails, never skips, when they are missing. Paths:
//! `TXCLASS_CHROMIUM` (default `/usr/bin/chromium`), `TXCLASS_CHROMEDRIVER` (default
//! `/usr/bin/chromedriver`).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::webdriver::Browser;
use txclass_core::store::{SqliteStore, Store};
use txclass_core::{ClassifiedTransaction, CustomerId, PartnerId};

/// Serves a server on `store` (a SQLite file) with the sandbox partner; returns its URL.
async fn serve(store: &Path) -> String {
    support::serve_in_process(&format!(
        "store_path = {:?}\n[sandbox]\nlatency_min_ms = 5\nlatency_max_ms = 30\n",
        store.display().to_string()
    ))
    .await
}

async fn get_json(url: &str) -> Value {
    let r = reqwest::get(url).await.unwrap();
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.json().await.unwrap()
}

#[tokio::test]
async fn the_console_is_served_with_strict_headers() {
    let dir = tempfile::tempdir().unwrap();
    let url = serve(&dir.path().join("tx.db")).await;
    let page = reqwest::get(format!("{url}/")).await.unwrap();
    assert_eq!(page.status(), 200);
    let h = page.headers().clone();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert_eq!(h["cache-control"], "no-cache");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let csp = h["content-security-policy"].to_str().unwrap().to_owned();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    let html = page.text().await.unwrap();
    // No inline script or style: every <script> has a src, no on* handlers, no style attributes.
    assert_eq!(
        html.matches("<script").count(),
        html.matches("<script src=\"/console/").count()
    );
    assert!(!html.contains(" onclick=") && !html.contains(" onload=") && !html.contains(" style="));

    let assets: Vec<&str> = html
        .split("\"/console/")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    assert_eq!(assets.len(), 2, "{assets:?}");
    for name in assets {
        let r = reqwest::get(format!("{url}/console/{name}")).await.unwrap();
        assert_eq!(r.status(), 200, "{name}");
        let expected = if name.ends_with(".js") {
            "text/javascript; charset=utf-8"
        } else {
            "text/css; charset=utf-8"
        };
        assert_eq!(r.headers()["content-type"], expected, "{name}");
        assert_eq!(
            r.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        let etag = r.headers()["etag"].clone();
        let text = r.text().await.unwrap();
        if name.ends_with(".js") {
            // Data goes in as text, never as HTML.
            assert!(!text.contains("innerHTML") && !text.contains("insertAdjacentHTML"));
        }
        let again = reqwest::Client::new()
            .get(format!("{url}/console/{name}"))
            .header("if-none-match", etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304);
    }
    let missing = reqwest::get(format!("{url}/console/console.0000.js"))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    let post = reqwest::Client::new()
        .post(format!("{url}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);
}

// ---- the browser -------------------------------------------------------------------------

/// `chromedriver` on a free loopback port; killed when dropped.
struct Driver {
    process: support::Helper,
    url: String,
}

impl Driver {
    fn start() -> Self {
        let driver = env_path("TXCLASS_CHROMEDRIVER", "/usr/bin/chromedriver");
        let browser = env_path("TXCLASS_CHROMIUM", "/usr/bin/chromium");
        for p in [&driver, &browser] {
            assert!(
                p.exists(),
                "{} is missing: run scripts/browser.sh install (apt-get install chromium \
                 chromium-driver); scripts/test.sh does",
                p.display()
            );
        }
        let port = support::free_port();
        let mut command = Command::new(&driver);
        command.arg(format!("--port={port}"));
        Self {
            process: support::Helper::spawn(command),
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn wait_ready(&mut self) {
        let status = format!("{}/status", self.url);
        self.process
            .wait_ready(Duration::from_secs(30), || async {
                match reqwest::get(&status).await {
                    Ok(r) => r.json::<Value>().await.unwrap_or_default()["value"]["ready"] == true,
                    Err(_) => false,
                }
            })
            .await;
    }
}

fn env_path(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from)
}

async fn browser(driver: &Driver) -> Arc<Browser> {
    let binary = env_path("TXCLASS_CHROMIUM", "/usr/bin/chromium");
    let args = [
        "--headless=new",
        "--no-sandbox", // tests run as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--lang=en-US",
        "--window-size=1280,1900",
    ];
    Browser::start(&driver.url, &binary, &args).await.unwrap()
}

/// Runs `script` in the page until `done` holds for its value (or 30 s pass); returns the last
/// value.
async fn eventually(b: &Browser, script: &str, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let v = b.execute(script).await.unwrap();
        if done(&v) || started.elapsed() > Duration::from_secs(30) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const ROW_IDS: &str =
    "return [...document.querySelectorAll('#tx-rows tr')].map(r => r.dataset.id);";

fn ids(page: &Value) -> Value {
    Value::Array(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].clone())
            .collect(),
    )
}

/// `12345678` minor units as en-US prints them: `123,456.78`.
fn en_us(minor: i64) -> String {
    let units = (minor.abs() / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in units.chars().enumerate() {
        if i > 0 && (units.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{grouped}.{:02}", minor.abs() % 100)
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/console");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A stored transaction in `currency` whose description is markup, as a bank could send.
fn hostile(customer: &str, i: u32, currency: &str) -> ClassifiedTransaction {
    serde_json::from_value(json!({
        "partner_id": PartnerId::new("sandbox"),
        "customer_id": CustomerId::new(customer),
        "id": format!("hostile-{i}"),
        "date": format!("2026-01-{:02}", i + 1),
        "description": format!("<img src=x onerror=\"window.__xss={i}\"><b>SHOP {i}</b>"),
        "amount_minor": -1234 - i64::from(i),
        "currency": currency,
        "category": "groceries",
        "probability": 0.9,
        "confidence": "high",
        "uncertain": false,
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_runs_a_job_and_shows_its_numbers_in_chromium() {
    let mut driver = Driver::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tx.db");
    // A customer whose bank sends markup in its descriptions, in two currencies.
    let marked = "console-markup";
    SqliteStore::open(&db)
        .unwrap()
        .upsert(&[
            hostile(marked, 1, "BRL"),
            hostile(marked, 2, "BRL"),
            hostile(marked, 3, "USD"),
        ])
        .await
        .unwrap();
    let url = serve(&db).await;
    driver.wait_ready().await;
    let b = browser(&driver).await;
    let shots = screenshots();
    let result = drive(&b, &url, marked, &shots).await;
    let _ = b.screenshot(&shots.join("last.png")).await;
    b.quit().await.unwrap();
    result.unwrap();
}

async fn drive(b: &Arc<Browser>, url: &str, marked: &str, shots: &Path) -> Result<(), String> {
    b.goto(&format!("{url}/")).await?;
    // The partners table and the partner choice come from GET /v1/partners.
    let partners = get_json(&format!("{url}/v1/partners")).await;
    let rows = "return [...document.querySelectorAll('#partner-rows tr')].map(r => \
                [...r.children].map(c => c.textContent));";
    let shown = eventually(b, rows, |v| v.as_array().is_some_and(|a| !a.is_empty())).await;
    let sandbox = &partners["partners"][0];
    assert_eq!(
        shown,
        json!([[
            sandbox["id"],
            sandbox["capacity"].to_string(),
            sandbox["in_use"].to_string(),
            sandbox["circuit"],
            "Check "
        ]])
    );
    // A live health check, as GET /v1/partners/{id}/health answers it.
    let health = get_json(&format!("{url}/v1/partners/sandbox/health")).await;
    assert_eq!(health["health"]["healthy"], true, "{health}");
    b.find("#partner-rows tr[data-partner='sandbox'] button.check")
        .await?
        .click()
        .await?;
    let shown = eventually(b, rows, |v| v[0][4] != "Check ").await;
    let cell = shown[0][4].as_str().unwrap();
    assert!(
        cell.starts_with("Check ok, ") && cell.ends_with(" ms"),
        "{cell:?}"
    );

    // Start a job from the form and watch it over the event stream.
    let customer = format!("console-{}", std::process::id());
    let field = b.find("#customer").await?;
    field.clear().await?;
    field.send_keys(&customer).await?;
    let months = b.find("#months").await?;
    months.clear().await?;
    months.send_keys("6").await?;
    b.find("#start").await?.click().await?;
    let status = eventually(
        b,
        "return document.getElementById('job-status').textContent;",
        |v| v == "done" || v.as_str().is_some_and(|s| s.starts_with("failed")),
    )
    .await;
    assert_eq!(status, "done");
    // Charts and table are drawn before the status says done.
    b.screenshot(&shots.join("job-done.png")).await?;
    let job_id = b.find("#job-id").await?.text().await?;
    let job = get_json(&format!("{url}/v1/classifications/{job_id}")).await;
    let summary = &job["job"]["summary"];
    assert_eq!(job["job"]["status"], "done", "{job}");
    let transactions = summary["transactions"].as_u64().unwrap();
    assert!(transactions > 100, "{summary}");
    assert_eq!(
        b.find("#summary-transactions").await?.text().await?,
        transactions.to_string()
    );
    assert_eq!(
        b.find("#job-transactions").await?.text().await?,
        transactions.to_string(),
        "the live counter ends at the summary's count"
    );
    assert_eq!(
        b.find("#job-pages").await?.text().await?,
        summary["pages"].to_string()
    );
    // The page saw every event of the job's log, once each and in order.
    let log = reqwest::get(format!("{url}/v1/classifications/{job_id}/events"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let names: Vec<&str> = log
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(names.first(), Some(&"accepted"));
    assert_eq!(names.last(), Some(&"done"));
    let listed = b
        .execute(
            "return [...document.querySelectorAll('#events li code')].map(c => c.textContent);",
        )
        .await?;
    assert_eq!(listed, json!(names));
    // A page opened on #job=<id> re-attaches to the job and replays its log.
    b.goto("about:blank").await?;
    b.goto(&format!("{url}/#job={job_id}")).await?;
    let status = eventually(
        b,
        "return document.getElementById('job-status').textContent;",
        |v| v == "done",
    )
    .await;
    assert_eq!(status, "done", "after re-attaching");
    let replayed = b
        .execute(
            "return [...document.querySelectorAll('#events li code')].map(c => c.textContent);",
        )
        .await?;
    assert_eq!(replayed, json!(names), "after re-attaching");
    // Money in and out, per currency as the summary keeps it (the sandbox sends BRL only).
    let currencies = summary["currencies"].as_object().unwrap();
    assert_eq!(currencies.keys().collect::<Vec<_>>(), ["BRL"], "{summary}");
    assert_eq!(currencies["BRL"]["minor_units"], 2, "{summary}");
    for (id, field) in [("summary-in", "in_minor"), ("summary-out", "out_minor")] {
        let shown = b
            .execute(&format!(
                "return [...document.querySelectorAll('#{id} .per-currency')].map(s => \
                 [s.dataset.currency, Number(s.dataset.minor), s.textContent]);"
            ))
            .await?;
        let minor = currencies["BRL"][field].as_i64().unwrap();
        assert_eq!(shown[0][0], "BRL", "{id}: {shown}");
        assert_eq!(shown[0][1], minor, "{id}: {shown}");
        assert!(
            shown[0][2].as_str().unwrap().contains(&en_us(minor)),
            "{id}: {shown}"
        );
        assert_eq!(shown.as_array().unwrap().len(), 1, "{id}: {shown}");
    }

    // The category chart holds the job's per-category totals (a new customer: only this job),
    // in the job's one currency; the currency choice is offered only for several.
    let bars = eventually(
        b,
        "return [...document.querySelectorAll('#category-chart .bar-row')].map(r => \
         [r.dataset.category, r.dataset.currency, Number(r.dataset.amountMinor), \
          Number(r.dataset.count), r.querySelector('.value').textContent]);",
        |v| v.as_array().is_some_and(|a| !a.is_empty()),
    )
    .await;
    assert_eq!(
        b.execute(
            "return [document.getElementById('chart-currency').value, \
             document.getElementById('chart-currency-choice').hidden];"
        )
        .await?,
        json!(["BRL", true])
    );
    let categories = summary["categories"].as_object().unwrap();
    let mut from_chart = BTreeMap::new();
    for bar in bars.as_array().unwrap() {
        let amount = bar[2].as_i64().unwrap();
        let label = bar[4].as_str().unwrap();
        assert!(label.contains(&en_us(amount)), "{bar}");
        assert_eq!(label.starts_with('-'), amount < 0, "{bar}");
        from_chart.insert(
            bar[0].as_str().unwrap().to_owned(),
            json!({"amounts_minor": {bar[1].as_str().unwrap(): amount}, "count": bar[3]}),
        );
    }
    let from_summary: BTreeMap<String, Value> = categories
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(from_chart, from_summary);

    // The month chart: per month, the money out of the API's spending rows in BRL.
    let spending = get_json(&format!("{url}/v1/customers/{customer}/spending")).await;
    let mut per_month: BTreeMap<String, i64> = BTreeMap::new();
    for row in spending["rows"].as_array().unwrap() {
        let amount = row["amount_minor"].as_i64().unwrap();
        if amount < 0 && row["currency"] == "BRL" {
            *per_month
                .entry(row["month"].as_str().unwrap().to_owned())
                .or_default() += amount;
        }
    }
    let months = b
        .execute(
            "return [...document.querySelectorAll('#month-chart g.month')].map(g => \
             [g.dataset.month, Number(g.dataset.spendMinor), g.querySelector('.total').textContent]);",
        )
        .await?;
    let shown: BTreeMap<String, i64> = months
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert!(
                m[2].as_str()
                    .unwrap()
                    .contains(&en_us(m[1].as_i64().unwrap())),
                "{m}"
            );
            (m[0].as_str().unwrap().to_owned(), m[1].as_i64().unwrap())
        })
        .collect();
    assert!(shown.len() >= 6, "{shown:?}");
    assert_eq!(shown, per_month);

    // The table: page by page, the API's pages, every transaction of the job once.
    let limit = 100;
    b.find("#tx-limit option[value='100']")
        .await?
        .click()
        .await?;
    let mut cursor: Option<String> = None;
    let mut seen = 0;
    loop {
        let mut api = format!("{url}/v1/customers/{customer}/transactions?limit={limit}");
        if let Some(c) = &cursor {
            api.push_str(&format!("&cursor={c}"));
        }
        let page = get_json(&api).await;
        let expected = ids(&page);
        let rows = eventually(b, ROW_IDS, |v| *v == expected).await;
        assert_eq!(rows, expected, "page after {seen} rows");
        // What decided each category (the model, or a rule), as the API says.
        let sources = b
            .execute("return [...document.querySelectorAll('#tx-rows td.source')].map(c => c.textContent);")
            .await?;
        let expected_sources: Vec<&Value> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| &t["source"])
            .collect();
        assert_eq!(sources, json!(expected_sources), "page after {seen} rows");
        seen += expected.as_array().unwrap().len();
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        let older = b.find("#tx-older").await?;
        assert_eq!(older.is_enabled().await?, cursor.is_some());
        if cursor.is_none() {
            break;
        }
        older.click().await?;
    }
    assert_eq!(seen as u64, transactions);

    // Search: a word of the newest transaction's description, as the API answers it.
    let first = get_json(&format!(
        "{url}/v1/customers/{customer}/transactions?limit=1"
    ))
    .await;
    let description = first["items"][0]["description"]
        .as_str()
        .unwrap()
        .to_owned();
    let word = description
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() >= 4 && w.chars().all(char::is_alphabetic))
        .max_by_key(|w| w.len())
        .unwrap_or_else(|| panic!("no word to search in {description:?}"))
        .to_owned();
    b.find("#tx-q").await?.send_keys(&word).await?;
    let expected = ids(&get_json(&format!(
        "{url}/v1/customers/{customer}/transactions?limit={limit}&q={word}"
    ))
    .await);
    assert!(!expected.as_array().unwrap().is_empty());
    assert_eq!(
        eventually(b, ROW_IDS, |v| *v == expected).await,
        expected,
        "q={word}"
    );
    b.screenshot(&shots.join("search.png")).await?;

    // The category filter, search cleared.
    let (category, _) = categories
        .iter()
        .max_by_key(|(_, v)| v["count"].as_u64())
        .unwrap();
    b.find("#tx-q").await?.clear().await?;
    b.find(&format!("#tx-category option[value='{category}']"))
        .await?
        .click()
        .await?;
    let expected = ids(&get_json(&format!(
        "{url}/v1/customers/{customer}/transactions?limit={limit}&category={category}"
    ))
    .await);
    assert_eq!(
        eventually(b, ROW_IDS, |v| *v == expected).await,
        expected,
        "category={category}"
    );

    // Correcting the first row's category: the row says the user decided, the store has
    // it, and the charts and the filter follow.
    let first_id = expected[0].as_str().unwrap().to_owned();
    let target = if category.as_str() == "education" {
        "taxes"
    } else {
        "education"
    };
    b.find(&format!(
        "#tx-rows tr:first-child select.correct option[value='{target}']"
    ))
    .await?
    .click()
    .await?;
    let source = eventually(
        b,
        "return document.querySelector('#tx-rows tr:first-child td.source').textContent;",
        |v| v == "user",
    )
    .await;
    assert_eq!(source, "user");
    let stored = get_json(&format!(
        "{url}/v1/customers/{customer}/transactions?limit={limit}&category={target}"
    ))
    .await;
    assert!(
        stored["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == first_id.as_str() && t["source"] == "user"),
        "{stored}"
    );
    let filter = eventually(
        b,
        &format!("return !!document.querySelector(\"#tx-category option[value='{target}']\");"),
        |v| *v == json!(true),
    )
    .await;
    assert_eq!(
        filter,
        json!(true),
        "the filter offers {target} once a row has it"
    );
    b.screenshot(&shots.join("correction.png")).await?;

    // Markup in a bank's description is shown as text, never run or rendered.
    let field = b.find("#view-customer").await?;
    field.clear().await?;
    field.send_keys(marked).await?;
    b.find("#customer-form button").await?.click().await?;
    let texts = eventually(
        b,
        "return [...document.querySelectorAll('#tx-rows tr td:nth-child(2)')].map(c => c.textContent);",
        |v| v.as_array().is_some_and(|a| a.len() == 3),
    )
    .await;
    assert_eq!(
        texts,
        json!([
            "<img src=x onerror=\"window.__xss=3\"><b>SHOP 3</b>",
            "<img src=x onerror=\"window.__xss=2\"><b>SHOP 2</b>",
            "<img src=x onerror=\"window.__xss=1\"><b>SHOP 1</b>"
        ])
    );
    let injected = b
        .execute(
            "return [document.querySelectorAll('#tx-rows img, #tx-rows b').length, \
             window.__xss === undefined];",
        )
        .await?;
    assert_eq!(injected, json!([0, true]));

    // Two currencies are never added: the charts show the main one (most transactions)
    // and offer the other; each table row is in its own currency.
    let spending = get_json(&format!("{url}/v1/customers/{marked}/spending")).await;
    let net = |code: &str| -> i64 {
        spending["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["currency"] == code)
            .map(|r| r["amount_minor"].as_i64().unwrap())
            .sum()
    };
    let charts = "return [document.getElementById('chart-currency').value, \
                  document.getElementById('chart-currency-choice').hidden, \
                  [...document.querySelectorAll('#chart-currency option')].map(o => o.value), \
                  [...document.querySelectorAll('#category-chart .bar-row')].map(r => \
                   [r.dataset.currency, Number(r.dataset.amountMinor), \
                    r.querySelector('.value').textContent]), \
                  [...document.querySelectorAll('#month-chart g.month')].map(g => \
                   [g.dataset.currency, Number(g.dataset.spendMinor)])];";
    for (code, symbol) in [("BRL", "-R$"), ("USD", "-$")] {
        if code != "BRL" {
            b.find(&format!("#chart-currency option[value='{code}']"))
                .await?
                .click()
                .await?;
        }
        let shown = eventually(b, charts, |v| v[0] == code && v[3][0][0] == code).await;
        let amount = net(code);
        assert!(amount < 0, "{spending}");
        assert_eq!(shown[1], false, "{shown}");
        assert_eq!(shown[2], json!(["BRL", "USD"]), "{shown}");
        assert_eq!(shown[3].as_array().unwrap().len(), 1, "{shown}");
        assert_eq!(shown[3][0][1], amount, "{shown}");
        let label = shown[3][0][2].as_str().unwrap();
        assert!(
            label.starts_with(symbol) && label.contains(&en_us(amount)),
            "{shown}"
        );
        assert_eq!(shown[4], json!([[code, amount]]), "{shown}");
    }
    let amounts = b
        .execute(
            "return [...document.querySelectorAll('#tx-rows td.num')].map(c => c.textContent);",
        )
        .await?;
    let page = get_json(&format!("{url}/v1/customers/{marked}/transactions")).await;
    let expected: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let symbol = if t["currency"] == "USD" { "$" } else { "R$" };
            format!("-{symbol}{}", en_us(t["amount_minor"].as_i64().unwrap()))
        })
        .collect();
    assert_eq!(expected.len(), 3, "{page}");
    assert_eq!(amounts, json!(expected));
    Ok(())
}

/// With API keys on, the console asks for a key once, trades it for the session cookie
/// (`HttpOnly`: the page's scripts cannot read it), and then shows the API's data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_signs_in_with_a_key_in_chromium() {
    use txclass_core::auth::KeyFile;
    let mut driver = Driver::start();
    let dir = tempfile::tempdir().unwrap();
    let keys = KeyFile::new(dir.path().join("keys.json"));
    let key = keys
        .create(txclass_core::TenantId::new("acme").unwrap(), None, None)
        .unwrap()
        .key;
    let url = support::serve_in_process(&format!(
        "store_path = \":memory:\"\n[auth]\nmode = \"keys\"\nkeys_file = {:?}\n",
        keys.path().display().to_string()
    ))
    .await;
    assert_eq!(
        reqwest::get(format!("{url}/v1/partners"))
            .await
            .unwrap()
            .status(),
        401
    );
    driver.wait_ready().await;
    let b = browser(&driver).await;
    let result = async {
        b.goto(&format!("{url}/")).await?;
        let form = "return document.getElementById('login-form').hidden;";
        let hidden = eventually(&b, form, |v| v == &json!(false)).await;
        assert_eq!(hidden, json!(false), "the sign-in form shows after a 401");
        b.find("#api-key").await?.send_keys(&key).await?;
        b.find("#login-form button").await?.click().await?;
        let rows = "return document.querySelectorAll('#partner-rows tr').length;";
        let shown = eventually(&b, rows, |v| v.as_u64().is_some_and(|n| n > 0)).await;
        assert_eq!(shown, json!(1), "the partners table, once signed in");
        let state = b
            .execute(
                "return [document.getElementById('login-form').hidden, document.cookie, \
                 document.getElementById('api-key').value];",
            )
            .await?;
        assert_eq!(
            state,
            json!([true, "", ""]),
            "signed in; no cookie or key for scripts"
        );
        Ok::<(), String>(())
    }
    .await;
    let _ = b.screenshot(&screenshots().join("signed-in.png")).await;
    b.quit().await.unwrap();
    result.unwrap();
}
