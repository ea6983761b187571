//! Event logs and checkpoints read in realtime: gap-free `_mget` rounds by id, and
//! creating an event document once.

use super::*;

impl ElasticStore {
    /// Realtime `_mget` of `ids`, all routed by `routing`, in `alias`: each document's
    /// `_source` in the order asked, `None` where there is no such document. Sees documents
    /// indexed but not refreshed yet.
    pub(super) async fn mget(
        &self,
        alias: &str,
        routing: &str,
        ids: &[String],
    ) -> Result<Vec<Option<Value>>, StoreError> {
        let resp = self
            .client
            .mget(MgetParts::Index(alias))
            .routing(routing)
            .realtime(true)
            .body(json!({ "ids": ids }))
            .send()
            .await
            .map_err(unavailable)?;
        let body = json_of("mget", resp).await?;
        let docs = body["docs"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        if docs.len() != ids.len() {
            return Err(backend(format!(
                "mget answered {} documents for {} ids",
                docs.len(),
                ids.len()
            )));
        }
        docs.iter()
            .map(|d| {
                if let Some(e) = d.get("error") {
                    // A shard that cannot answer now (relocating, recovering): retryable.
                    return Err(StoreError::Unavailable(format!(
                        "mget {}: {}",
                        d["_id"].as_str().unwrap_or(""),
                        short(&e.to_string())
                    )));
                }
                Ok((d["found"] == json!(true)).then(|| d["_source"].clone()))
            })
            .collect()
    }

    /// The `_source`s of the documents `id(first)`, `id(first + 1)`, … routed by `routing`
    /// in `alias`, at most `limit`, up to the first one missing: a gap-free log read in
    /// realtime, [`MGET_ROUND`] ids per round trip.
    pub(super) async fn read_log(
        &self,
        alias: &str,
        routing: &str,
        first: u64,
        limit: u64,
        id: impl Fn(u64) -> String + Send + Sync,
    ) -> Result<Vec<Value>, StoreError> {
        let mut out = Vec::new();
        let mut next = first;
        while (out.len() as u64) < limit {
            let round = (limit - out.len() as u64).min(MGET_ROUND);
            let ids: Vec<String> = (next..next.saturating_add(round)).map(&id).collect();
            if ids.is_empty() {
                break;
            }
            let docs = self.retrying(|_| self.mget(alias, routing, &ids)).await?;
            for doc in docs {
                match doc {
                    Some(source) => out.push(source),
                    None => return Ok(out),
                }
            }
            next += ids.len() as u64;
        }
        Ok(out)
    }

    /// One attempt at creating event document `id`; `attempt` > 1 means an earlier attempt
    /// may have been stored with its answer lost.
    pub(super) async fn create_event(
        &self,
        job: &JobId,
        seq: u64,
        id: &str,
        doc: &Value,
        attempt: u32,
    ) -> Result<(), StoreError> {
        let resp = self
            .client
            .create(CreateParts::IndexId(&self.event_alias, id))
            .routing(job.as_str())
            .body(doc)
            .send()
            .await
            .map_err(unavailable)?;
        if resp.status_code() == StatusCode::CONFLICT {
            if attempt > 1 {
                // An earlier attempt of ours may have been stored with its answer lost (a
                // timeout, a 503 from a proxy): the same document there is our own write, not
                // a conflict, or the job's rightful writer would stop itself. The price: a
                // second writer that logged a byte-identical event at this number in between
                // goes unnoticed until the next number that differs.
                let stored = self
                    .mget(&self.event_alias, job.as_str(), &[id.to_owned()])
                    .await?;
                if stored.first().and_then(Option::as_ref) == Some(doc) {
                    return Ok(());
                }
            }
            return Err(StoreError::Conflict(format!(
                "event {seq} of job {job} exists"
            )));
        }
        json_of("append event", resp).await.map(drop)
    }
}
