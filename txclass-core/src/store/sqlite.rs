use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use chrono::NaiveDate;

use super::{
    decode_cursor, merchant_name, merchant_of, words, CorrectionQuery, Level, LoggedEvent,
    MerchantRow, PageRecord, RuleFilter, SpendingQuery, SpendingRow, Store, StoreError, TxPage,
    TxQuery, UpsertReport, MAX_CORRECTIONS, MAX_EVENTS, MAX_PAGE, MAX_RULES, MAX_SAME_ID,
    MAX_TOP_MERCHANTS,
};
use crate::domain::correction::Correction;
use crate::domain::rule::{Rule, RuleScope};
use crate::domain::{
    Category, ClassifiedTransaction, Confidence, CustomerId, JobId, JobRecord, PartnerId,
    Prediction, Transaction,
};
use crate::sync::Lock;

/// The embedded store: one SQLite file in WAL mode.
///
/// Why SQLite (through rusqlite, bundled): a mature embedded database that survives restarts
/// and crashes (WAL with synchronous=NORMAL loses at most the last transactions on power
/// loss, never corrupts), needs no service, builds from source with the crate, and answers
/// the per-customer range queries from one index.
///
/// One writing connection behind a mutex (SQLite serialises writers anyway) and, for a file,
/// two read-only connections, all used from the blocking pool. Why separate readers:
/// in WAL mode a reader sees the last commit without waiting for a writer, so a client's
/// query does not queue behind a job's 5000-row upsert (measured with `benches/store.rs`:
/// p99 of the first-page query during ingest went from 117 ms to 12 ms on a busy 2-core machine).
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    /// Empty for an in-memory database (each connection would be another database): reads
    /// then use `conn`.
    readers: Arc<[Mutex<Connection>]>,
    next_reader: Arc<AtomicUsize>,
}

/// Read-only connections of a file store: the blocking pool runs them in parallel.
const READERS: usize = 2;

const READER_PRAGMAS: &str = "
PRAGMA busy_timeout = 5000;
PRAGMA cache_size = -32768;
PRAGMA mmap_size = 268435456;
";

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA busy_timeout = 5000;
PRAGMA cache_size = -65536;
PRAGMA temp_store = MEMORY;
PRAGMA mmap_size = 268435456;
CREATE TABLE IF NOT EXISTS transactions (
    partner_id   TEXT NOT NULL,
    id           TEXT NOT NULL,
    customer_id  TEXT NOT NULL,
    date         TEXT NOT NULL,
    description  TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    currency     TEXT NOT NULL,
    category     TEXT NOT NULL,
    probability  REAL NOT NULL,
    confidence   TEXT NOT NULL,
    uncertain    INTEGER NOT NULL,
    merchant     TEXT NOT NULL DEFAULT '',
    words        TEXT NOT NULL DEFAULT '',
    source       TEXT NOT NULL DEFAULT 'model',
    sub_category TEXT,
    rule_merchant TEXT,
    sub_probability REAL,
    taxonomy_version TEXT,
    guess        TEXT,
    PRIMARY KEY (partner_id, id)
);
CREATE INDEX IF NOT EXISTS transactions_by_customer
    ON transactions (customer_id, date DESC, partner_id DESC, id DESC);
CREATE TABLE IF NOT EXISTS jobs (
    id     TEXT PRIMARY KEY,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS job_pages (
    job_id TEXT NOT NULL,
    page   INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (job_id, page)
);
CREATE TABLE IF NOT EXISTS rules (
    id          TEXT PRIMARY KEY,
    customer_id TEXT,
    record      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS corrections (
    partner_id   TEXT NOT NULL,
    tx_id        TEXT NOT NULL,
    customer_id  TEXT NOT NULL,
    merchant     TEXT NOT NULL,
    corrected_at TEXT NOT NULL,
    record       TEXT NOT NULL,
    PRIMARY KEY (partner_id, tx_id)
);
CREATE INDEX IF NOT EXISTS corrections_by_customer
    ON corrections (customer_id, merchant, corrected_at DESC);
CREATE TABLE IF NOT EXISTS job_events (
    job_id TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    event  TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);
";

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl SqliteStore {
    /// Opens (or creates) the database file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        if let Some(dir) = path.as_ref().parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(backend)?;
            }
        }
        let mut store = Self::from_conn(Connection::open(path.as_ref()).map_err(backend)?)?;
        let readers = (0..READERS)
            .map(|_| {
                let c = Connection::open_with_flags(
                    path.as_ref(),
                    OpenFlags::SQLITE_OPEN_READ_ONLY
                        | OpenFlags::SQLITE_OPEN_NO_MUTEX
                        | OpenFlags::SQLITE_OPEN_URI,
                )
                .map_err(backend)?;
                c.execute_batch(READER_PRAGMAS).map_err(backend)?;
                Ok(Mutex::new(c))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        store.readers = readers.into();
        Ok(store)
    }

    /// A database in memory (gone when dropped): for tests and one-off CLI runs.
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::from_conn(Connection::open_in_memory().map_err(backend)?)
    }

    fn from_conn(mut conn: Connection) -> Result<Self, StoreError> {
        conn.execute_batch(SCHEMA).map_err(backend)?;
        migrate(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            readers: Arc::new([]),
            next_reader: Arc::default(),
        })
    }

    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            // A panic inside `f` rolled its transaction back as it unwound: the
            // connection is fit for use whatever the poison says.
            let mut c = conn.locked();
            f(&mut c)
        })
        .await
        .map_err(backend)?
    }

    /// Runs a read on a free reader (the next one in turn if all are busy), or on the writer
    /// for an in-memory database.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        if self.readers.is_empty() {
            return self.with(f).await;
        }
        let readers = self.readers.clone();
        let first = self.next_reader.fetch_add(1, Ordering::Relaxed);
        tokio::task::spawn_blocking(move || {
            let n = readers.len();
            let free = (0..n).find_map(|k| readers[(first + k) % n].try_lock().ok());
            let mut c = match free {
                Some(c) => c,
                None => readers[first % n].locked(),
            };
            f(&mut c)
        })
        .await
        .map_err(backend)?
    }
}

impl SqliteStore {
    /// The JSON `record` column of the rows `sql` selects with its one parameter, decoded. On
    /// the writer connection: a record written a moment ago must be seen (a reader of a WAL
    /// database may hold an older snapshot).
    async fn json_records<T: serde::de::DeserializeOwned>(
        &self,
        sql: &'static str,
        param: impl Into<rusqlite::types::Value>,
    ) -> Result<Vec<T>, StoreError> {
        self.json_records_of(sql, vec![param.into()]).await
    }

    /// [`json_records`](Self::json_records) with any number of parameters.
    async fn json_records_of<T: serde::de::DeserializeOwned>(
        &self,
        sql: &'static str,
        params: Vec<rusqlite::types::Value>,
    ) -> Result<Vec<T>, StoreError> {
        let rows: Vec<String> = self
            .with(move |c| {
                let mut q = c.prepare_cached(sql).map_err(backend)?;
                let rows = q
                    .query_map(rusqlite::params_from_iter(params), |r| r.get(0))
                    .map_err(backend)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(backend);
                rows
            })
            .await?;
        rows.iter()
            .map(|j| serde_json::from_str(j).map_err(backend))
            .collect()
    }
}

fn has_column(conn: &Connection, column: &str) -> Result<bool, StoreError> {
    conn.query_row(
        "SELECT count(*) FROM pragma_table_info('transactions') WHERE name = ?1",
        [column],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
    .map_err(backend)
}

/// Brings a database written by an older version up to the current columns.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    migrate_merchant(conn)?;
    // What set each category: every row written before rules existed came from the model.
    if !has_column(conn, "source")? {
        conn.execute_batch(
            "ALTER TABLE transactions ADD COLUMN source TEXT NOT NULL DEFAULT 'model';
             ALTER TABLE transactions ADD COLUMN sub_category TEXT;
             ALTER TABLE transactions ADD COLUMN rule_merchant TEXT;",
        )
        .map_err(backend)?;
    }
    // Rows written before taxonomies had versions read back with neither.
    if !has_column(conn, "taxonomy_version")? {
        conn.execute_batch(
            "ALTER TABLE transactions ADD COLUMN sub_probability REAL;
             ALTER TABLE transactions ADD COLUMN taxonomy_version TEXT;",
        )
        .map_err(backend)?;
    }
    // Rows written before the model's guess was kept read back without one.
    if !has_column(conn, "guess")? {
        conn.execute_batch("ALTER TABLE transactions ADD COLUMN guess TEXT;")
            .map_err(backend)?;
    }
    migrate_rows(conn)
}

/// Adds the `merchant` and `words` columns to a database written before they existed, and
/// fills them in.
fn migrate_merchant(conn: &mut Connection) -> Result<(), StoreError> {
    if has_column(conn, "merchant")? {
        return Ok(());
    }
    let t = conn.transaction().map_err(backend)?;
    t.execute_batch(
        "ALTER TABLE transactions ADD COLUMN merchant TEXT NOT NULL DEFAULT '';
         ALTER TABLE transactions ADD COLUMN words TEXT NOT NULL DEFAULT '';",
    )
    .map_err(backend)?;
    set_merchants(&t, "1")?;
    t.commit().map_err(backend)
}

/// The version of its rows a database is at (`PRAGMA user_version`); rows of an older one
/// are brought in line on open:
///
/// 1. A merchant's name joins a word at an apostrophe, as the classifier reads it
///    ([`merchant_of`]: `MCDONALD'S` is `MCDONALDS`); rows written before say `MCDONALD S`.
const USER_VERSION: i64 = 1;

/// Brings the rows of a database of an older [`USER_VERSION`] in line.
fn migrate_rows(conn: &mut Connection) -> Result<(), StoreError> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(backend)?;
    if version >= USER_VERSION {
        return Ok(());
    }
    let t = conn.transaction().map_err(backend)?;
    if version < 1 {
        set_merchants(
            &t,
            "instr(description, '''') > 0 OR instr(description, '’') > 0",
        )?;
    }
    t.execute_batch(&format!("PRAGMA user_version = {USER_VERSION}"))
        .map_err(backend)?;
    t.commit().map_err(backend)
}

/// Sets `merchant` and `words` from the description on the rows where `condition` (SQL)
/// holds.
fn set_merchants(t: &rusqlite::Transaction<'_>, condition: &str) -> Result<(), StoreError> {
    let mut read = t
        .prepare(&format!(
            "SELECT rowid, description FROM transactions WHERE {condition}"
        ))
        .map_err(backend)?;
    let rows = read
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    let mut write = t
        .prepare("UPDATE transactions SET merchant = ?2, words = ?3 WHERE rowid = ?1")
        .map_err(backend)?;
    for (rowid, description) in rows {
        write
            .execute(params![
                rowid,
                merchant_of(&description),
                word_column(&description)
            ])
            .map_err(backend)?;
    }
    Ok(())
}

/// A rule's row: id, its customer (`None` for a global rule) and the JSON record.
fn rule_row(rule: &Rule) -> Result<(String, Option<String>, String), StoreError> {
    let customer = match &rule.scope {
        RuleScope::Global => None,
        RuleScope::Customer { customer_id } => Some(customer_id.0.clone()),
    };
    Ok((
        rule.id.clone(),
        customer,
        serde_json::to_string(rule).map_err(backend)?,
    ))
}

/// `" w1 w2 … "`: the description's [`words`] between spaces, so `instr(words, ' w ')`
/// finds a whole word.
fn word_column(description: &str) -> String {
    let mut out = String::from(" ");
    for w in words(description) {
        out.push_str(&w);
        out.push(' ');
    }
    out
}

/// The columns [`row_to_tx`] reads, in its order.
const TX_COLUMNS: &str = "partner_id, id, customer_id, date, description, amount_minor, \
    currency, category, probability, confidence, uncertain, sub_category, rule_merchant, \
    source, sub_probability, taxonomy_version, guess";

fn row_to_tx(r: &rusqlite::Row<'_>) -> rusqlite::Result<ClassifiedTransaction> {
    let date: String = r.get(3)?;
    let confidence: String = r.get(9)?;
    Ok(ClassifiedTransaction {
        partner_id: PartnerId(r.get(0)?),
        customer_id: CustomerId(r.get(2)?),
        transaction: Transaction {
            id: r.get(1)?,
            date: date.parse().map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    3,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })?,
            description: r.get(4)?,
            amount_minor: r.get(5)?,
            currency: r.get(6)?,
        },
        prediction: Prediction {
            category: Category(r.get(7)?),
            probability: r.get::<_, f64>(8)? as f32,
            confidence: match confidence.as_str() {
                "high" => Confidence::High,
                "medium" => Confidence::Medium,
                _ => Confidence::Low,
            },
            uncertain: r.get::<_, i64>(10)? != 0,
            sub_category: r.get::<_, Option<String>>(11)?.map(Category),
            sub_probability: r.get::<_, Option<f64>>(14)?.map(|p| p as f32),
            taxonomy_version: r.get(15)?,
            merchant: r.get(12)?,
            source: {
                let s: String = r.get(13)?;
                s.parse().map_err(|e: String| {
                    rusqlite::Error::FromSqlConversionFailure(
                        13,
                        rusqlite::types::Type::Text,
                        e.into(),
                    )
                })?
            },
            guess: r.get::<_, Option<String>>(16)?.map(Category),
        },
    })
}

/// Inserts or replaces rows inside the caller's transaction.
fn upsert_rows(
    t: &rusqlite::Transaction<'_>,
    txs: &[ClassifiedTransaction],
) -> Result<UpsertReport, StoreError> {
    let mut report = UpsertReport::default();
    let mut ins = t
        .prepare_cached(
            "INSERT OR IGNORE INTO transactions (partner_id, id, customer_id, date,
                description, amount_minor, currency, category, probability, confidence,
                uncertain, merchant, words, source, sub_category, rule_merchant,
                sub_probability, taxonomy_version, guess)
             VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19)",
        )
        .map_err(backend)?;
    let mut upd = t
        .prepare_cached(
            "UPDATE transactions SET customer_id=?3, date=?4, description=?5,
             amount_minor=?6, currency=?7, category=?8, probability=?9,
             confidence=?10, uncertain=?11, merchant=?12, words=?13, source=?14,
             sub_category=?15, rule_merchant=?16, sub_probability=?17, taxonomy_version=?18,
             guess=?19
             WHERE partner_id=?1 AND id=?2
               AND (customer_id, date, description, amount_minor, currency, category,
                    probability, confidence, uncertain, source, sub_category, rule_merchant,
                    sub_probability, taxonomy_version, guess)
                IS NOT (?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?14, ?15, ?16, ?17, ?18, ?19)",
        )
        .map_err(backend)?;
    for ct in txs {
        let tx = &ct.transaction;
        let p = &ct.prediction;
        let args = params![
            ct.partner_id.as_str(),
            tx.id,
            ct.customer_id.as_str(),
            tx.date.to_string(),
            tx.description,
            tx.amount_minor,
            tx.currency,
            p.category.as_str(),
            p.probability as f64,
            p.confidence.as_str(),
            p.uncertain as i64,
            merchant_name(&tx.description, p),
            word_column(&tx.description),
            p.source.to_string(),
            p.sub_category.as_ref().map(Category::as_str),
            p.merchant,
            p.sub_probability.map(f64::from),
            p.taxonomy_version,
            p.guess.as_ref().map(Category::as_str),
        ];
        if ins.execute(args).map_err(backend)? == 1 {
            report.inserted += 1;
        } else {
            // Already there: replaced, but only written if something changed (a retried
            // page rewrites nothing, and its index entries stay put).
            upd.execute(args).map_err(backend)?;
            report.updated += 1;
        }
    }
    Ok(report)
}

#[async_trait]
impl Store for SqliteStore {
    async fn upsert(&self, txs: &[ClassifiedTransaction]) -> Result<UpsertReport, StoreError> {
        let txs = txs.to_vec();
        self.with(move |c| {
            let t = c.transaction().map_err(backend)?;
            let report = upsert_rows(&t, &txs)?;
            t.commit().map_err(backend)?;
            Ok(report)
        })
        .await
    }

    async fn store_page(
        &self,
        page: &PageRecord,
        txs: &[ClassifiedTransaction],
    ) -> Result<UpsertReport, StoreError> {
        let txs = txs.to_vec();
        let (job, no) = (page.job_id.0.clone(), page.page);
        let json = serde_json::to_string(page).map_err(backend)?;
        self.with(move |c| {
            let t = c.transaction().map_err(backend)?;
            let report = upsert_rows(&t, &txs)?;
            t.execute(
                "INSERT OR REPLACE INTO job_pages (job_id, page, record) VALUES (?1, ?2, ?3)",
                params![job, no, json],
            )
            .map_err(backend)?;
            t.commit().map_err(backend)?;
            Ok(report)
        })
        .await
    }

    async fn pages(&self, job: &JobId) -> Result<Vec<PageRecord>, StoreError> {
        self.json_records(
            "SELECT record FROM job_pages WHERE job_id = ?1 ORDER BY page",
            job.0.clone(),
        )
        .await
    }

    async fn append_event(&self, job: &JobId, event: &LoggedEvent) -> Result<(), StoreError> {
        let (job, seq) = (job.0.clone(), event.seq);
        let json = serde_json::to_string(&event.event).map_err(backend)?;
        self.with(move |c| {
            match c.execute(
                "INSERT INTO job_events (job_id, seq, event) VALUES (?1, ?2, ?3)",
                params![job, seq as i64, json],
            ) {
                Ok(_) => Ok(()),
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    Err(StoreError::Conflict(format!(
                        "event {seq} of job {job} exists"
                    )))
                }
                Err(e) => Err(backend(e)),
            }
        })
        .await
    }

    async fn events(
        &self,
        job: &JobId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<LoggedEvent>, StoreError> {
        let job = job.0.clone();
        let limit = limit.min(MAX_EVENTS);
        // The writer connection: an event appended a moment ago must be seen (a reader of a
        // WAL database may hold an older snapshot for the length of its read).
        let rows: Vec<(i64, String)> = self
            .with(move |c| {
                let mut q = c
                    .prepare_cached(
                        "SELECT seq, event FROM job_events WHERE job_id = ?1 AND seq > ?2
                         ORDER BY seq LIMIT ?3",
                    )
                    .map_err(backend)?;
                let rows = q
                    .query_map(params![job, after as i64, limit], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .map_err(backend)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(backend);
                rows
            })
            .await?;
        rows.into_iter()
            .map(|(seq, json)| {
                Ok(LoggedEvent {
                    seq: seq as u64,
                    event: serde_json::from_str(&json).map_err(backend)?,
                })
            })
            .collect()
    }

    async fn running_jobs(&self, limit: u32) -> Result<Vec<JobRecord>, StoreError> {
        self.json_records(
            "SELECT record FROM jobs WHERE json_extract(record, '$.status') = 'running'
             ORDER BY julianday(json_extract(record, '$.created_at')), id
             LIMIT ?1",
            limit,
        )
        .await
    }

    async fn put_job(&self, job: &JobRecord) -> Result<(), StoreError> {
        let id = job.id.0.clone();
        let json = serde_json::to_string(job).map_err(backend)?;
        self.with(move |c| {
            c.execute(
                "INSERT INTO jobs (id, record) VALUES (?1, ?2)
                 ON CONFLICT(id) DO UPDATE SET record = excluded.record",
                params![id, json],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn get_job(&self, id: &JobId) -> Result<Option<JobRecord>, StoreError> {
        let id = id.0.clone();
        let json: Option<String> = self
            .read(move |c| {
                c.query_row("SELECT record FROM jobs WHERE id = ?1", [id], |r| r.get(0))
                    .optional()
                    .map_err(backend)
            })
            .await?;
        json.map(|j| serde_json::from_str(&j).map_err(backend))
            .transpose()
    }

    async fn transactions(&self, q: &TxQuery) -> Result<TxPage, StoreError> {
        let q = q.clone();
        let after = q.cursor.as_deref().map(decode_cursor).transpose()?;
        self.read(move |c| {
            let mut sql = format!("SELECT {TX_COLUMNS} FROM transactions WHERE customer_id = ?");
            let mut args: Vec<rusqlite::types::Value> = vec![q.customer_id.0.clone().into()];
            if let Some(p) = &q.partner_id {
                sql.push_str(" AND partner_id = ?");
                args.push(p.0.clone().into());
            }
            if let Some(f) = q.from {
                sql.push_str(" AND date >= ?");
                args.push(f.to_string().into());
            }
            if let Some(t) = q.to {
                sql.push_str(" AND date <= ?");
                args.push(t.to_string().into());
            }
            if let Some(cat) = &q.category {
                sql.push_str(" AND category = ?");
                args.push(cat.0.clone().into());
            }
            if let Some(sub) = &q.sub_category {
                sql.push_str(" AND sub_category = ?");
                args.push(sub.0.clone().into());
            }
            if let Some(text) = &q.text {
                for word in words(text) {
                    sql.push_str(" AND instr(words, ?) > 0");
                    args.push(format!(" {word} ").into());
                }
            }
            if let Some((d, p, i)) = &after {
                sql.push_str(" AND (date, partner_id, id) < (?, ?, ?)");
                args.extend([d.to_string().into(), p.clone().into(), i.clone().into()]);
            }
            let limit = q.limit.clamp(1, MAX_PAGE) as i64;
            sql.push_str(" ORDER BY date DESC, partner_id DESC, id DESC LIMIT ?");
            args.push((limit + 1).into());
            let mut stmt = c.prepare_cached(&sql).map_err(backend)?;
            let items = stmt
                .query_map(rusqlite::params_from_iter(args), row_to_tx)
                .map_err(backend)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend)?;
            Ok(TxPage::from_overfetch(items, limit as usize))
        })
        .await
    }

    async fn spending(&self, q: &SpendingQuery) -> Result<Vec<SpendingRow>, StoreError> {
        let q = q.clone();
        self.read(move |c| {
            let sql = match q.level {
                Level::Main => {
                    "SELECT substr(date, 1, 7), category, NULL, currency, count(*),
                            sum(amount_minor)
                     FROM transactions
                     WHERE customer_id = ?1 AND date >= ?2 AND date <= ?3
                     GROUP BY 1, 2, 4 ORDER BY 1, 2, 4"
                }
                // NULL (no sub-category) sorts first, as `None` does.
                Level::Sub => {
                    "SELECT substr(date, 1, 7), category, sub_category, currency, count(*),
                            sum(amount_minor)
                     FROM transactions
                     WHERE customer_id = ?1 AND date >= ?2 AND date <= ?3
                     GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
                }
            };
            let mut stmt = c.prepare_cached(sql).map_err(backend)?;
            let from = q.from.map_or("0000-00-00".into(), |d| d.to_string());
            let to = q.to.map_or("9999-99-99".into(), |d| d.to_string());
            let rows = stmt
                .query_map(params![q.customer_id.0, from, to], |r| {
                    Ok(SpendingRow {
                        month: r.get(0)?,
                        category: Category(r.get(1)?),
                        sub_category: r.get::<_, Option<String>>(2)?.map(Category),
                        currency: r.get(3)?,
                        count: r.get::<_, i64>(4)? as u64,
                        amount_minor: r.get(5)?,
                    })
                })
                .map_err(backend)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend)?;
            Ok(rows)
        })
        .await
    }

    async fn top_merchants(
        &self,
        customer: &CustomerId,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        n: u32,
    ) -> Result<Vec<MerchantRow>, StoreError> {
        let customer = customer.0.clone();
        let from = from.map_or("0000-00-00".into(), |d| d.to_string());
        let to = to.map_or("9999-99-99".into(), |d| d.to_string());
        let n = n.min(MAX_TOP_MERCHANTS);
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT merchant, currency, count(*), sum(amount_minor) AS spent
                     FROM transactions
                     WHERE customer_id = ?1 AND date >= ?2 AND date <= ?3 AND amount_minor < 0
                     GROUP BY merchant, currency
                     ORDER BY spent ASC, merchant ASC, currency ASC LIMIT ?4",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![customer, from, to, n], |r| {
                    Ok(MerchantRow {
                        merchant: r.get(0)?,
                        currency: r.get(1)?,
                        count: r.get::<_, i64>(2)? as u64,
                        amount_minor: r.get(3)?,
                    })
                })
                .map_err(backend)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend)?;
            Ok(rows)
        })
        .await
    }

    async fn create_rule(&self, rule: &Rule) -> Result<(), StoreError> {
        let (id, customer, json) = rule_row(rule)?;
        self.with(move |c| {
            match c.execute(
                "INSERT INTO rules (id, customer_id, record) VALUES (?1, ?2, ?3)",
                params![id, customer, json],
            ) {
                Ok(_) => Ok(()),
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    Err(StoreError::Conflict(format!("rule {id} exists")))
                }
                Err(e) => Err(backend(e)),
            }
        })
        .await
    }

    async fn put_rule(&self, rule: &Rule) -> Result<(), StoreError> {
        let (id, customer, json) = rule_row(rule)?;
        self.with(move |c| {
            c.execute(
                "INSERT INTO rules (id, customer_id, record) VALUES (?1, ?2, ?3)
                 ON CONFLICT(id) DO UPDATE SET customer_id = excluded.customer_id,
                     record = excluded.record",
                params![id, customer, json],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn get_rule(&self, id: &str) -> Result<Option<Rule>, StoreError> {
        Ok(self
            .json_records("SELECT record FROM rules WHERE id = ?1", id.to_owned())
            .await?
            .pop())
    }

    async fn delete_rule(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.with(move |c| {
            c.execute("DELETE FROM rules WHERE id = ?1", [id])
                .map(|n| n > 0)
                .map_err(backend)
        })
        .await
    }

    async fn rules(&self, filter: &RuleFilter) -> Result<Vec<Rule>, StoreError> {
        let mut args: Vec<rusqlite::types::Value> = vec![(MAX_RULES as i64).into()];
        let sql = match filter {
            RuleFilter::All => "SELECT record FROM rules ORDER BY id LIMIT ?1",
            RuleFilter::AppliesTo(c) => {
                args.push(c.0.clone().into());
                "SELECT record FROM rules WHERE customer_id IS NULL OR customer_id = ?2
                 ORDER BY id LIMIT ?1"
            }
        };
        self.json_records_of(sql, args).await
    }

    async fn transactions_with_id(
        &self,
        customer: &CustomerId,
        id: &str,
    ) -> Result<Vec<ClassifiedTransaction>, StoreError> {
        let (customer, id) = (customer.0.clone(), id.to_owned());
        self.with(move |c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {TX_COLUMNS} FROM transactions
                     WHERE customer_id = ?1 AND id = ?2 ORDER BY partner_id LIMIT ?3"
                ))
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![customer, id, MAX_SAME_ID], row_to_tx)
                .map_err(backend)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend);
            rows
        })
        .await
    }

    async fn put_correction(&self, correction: &Correction) -> Result<(), StoreError> {
        let json = serde_json::to_string(correction).map_err(backend)?;
        let row = (
            correction.partner_id.0.clone(),
            correction.transaction.id.clone(),
            correction.customer_id.0.clone(),
            correction.merchant.clone(),
            // Fixed width, so that text order is time order.
            correction
                .corrected_at
                .format("%Y-%m-%dT%H:%M:%S%.9fZ")
                .to_string(),
        );
        self.with(move |c| {
            c.execute(
                "INSERT INTO corrections
                     (partner_id, tx_id, customer_id, merchant, corrected_at, record)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(partner_id, tx_id) DO UPDATE SET
                     customer_id = excluded.customer_id, merchant = excluded.merchant,
                     corrected_at = excluded.corrected_at, record = excluded.record",
                params![row.0, row.1, row.2, row.3, row.4, json],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn corrections(&self, q: &CorrectionQuery) -> Result<Vec<Correction>, StoreError> {
        let args: Vec<rusqlite::types::Value> = vec![
            q.customer_id.as_ref().map(|c| c.0.clone()).into(),
            q.merchant.clone().into(),
            i64::from(q.limit.min(MAX_CORRECTIONS)).into(),
        ];
        self.json_records_of(
            "SELECT record FROM corrections
             WHERE (?1 IS NULL OR customer_id = ?1) AND (?2 IS NULL OR merchant = ?2)
             ORDER BY corrected_at DESC, partner_id DESC, tx_id DESC LIMIT ?3",
            args,
        )
        .await
    }

    async fn count(&self, customer: &CustomerId) -> Result<u64, StoreError> {
        let customer = customer.0.clone();
        self.read(move |c| {
            c.query_row(
                "SELECT count(*) FROM transactions WHERE customer_id = ?1",
                [customer],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(backend)
        })
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        // On a reader: a probe must not queue behind a job's large upsert.
        self.read(|c| {
            c.query_row("SELECT count(*) FROM jobs WHERE id = ''", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(drop)
            .map_err(backend)
        })
        .await
    }
}
