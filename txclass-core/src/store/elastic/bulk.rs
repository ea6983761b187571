//! Writing: `_bulk` requests by chunk, retried document by document for the statuses
//! that mean "try again", and one retry loop for single requests.

use super::*;

/// What happened to one `_bulk` chunk after its retries.
#[derive(Default)]
pub(super) struct ChunkOutcome {
    pub(super) report: UpsertReport,
    /// Refused for good: `(transaction id, reason)`.
    pub(super) rejected: Vec<(String, String)>,
    /// Still failing after the last attempt: the last reason and how many documents.
    pub(super) unavailable: Option<(usize, String)>,
    /// The chunk's page record (if it carried one) was stored.
    pub(super) page_stored: bool,
}

/// The answer of an upsert of `total` documents from its chunks' outcomes: the counts, or
/// the refusals (they take precedence: retrying will not help them), or what stayed
/// unavailable after `attempts`.
pub(super) fn upsert_result(
    outcomes: Vec<ChunkOutcome>,
    total: usize,
    attempts: NonZeroU32,
) -> Result<UpsertReport, StoreError> {
    let mut report = UpsertReport::default();
    let mut rejected = Vec::new();
    let mut unavailable: Option<(usize, String)> = None;
    for o in outcomes {
        report.inserted += o.report.inserted;
        report.updated += o.report.updated;
        rejected.extend(o.rejected);
        if let Some((n, why)) = o.unavailable {
            let total = unavailable.as_ref().map_or(0, |u| u.0) + n;
            unavailable = Some((total, why));
        }
    }
    if let Some((first_id, reason)) = rejected.first() {
        return Err(StoreError::Rejected {
            failed: rejected.len() + unavailable.map_or(0, |u| u.0),
            total,
            first_id: first_id.clone(),
            reason: reason.clone(),
        });
    }
    if let Some((n, why)) = unavailable {
        return Err(StoreError::Unavailable(format!(
            "{n} of {total} transactions not stored after {attempts} attempts: {why}"
        )));
    }
    Ok(report)
}

impl ElasticStore {
    /// Delays between attempts: from `retry_backoff`, doubling up to 5 s.
    pub(super) fn backoff(&self) -> Backoff {
        Backoff::new(self.config.retry_backoff, Duration::from_secs(5))
    }

    /// Runs `op` (given the attempt number, from 1) until it succeeds or fails with anything
    /// but [`StoreError::Unavailable`], waiting between attempts as `bulk_chunk` does: from
    /// `retry_backoff`, doubling up to 5 s, at most `max_attempts` attempts.
    pub(super) async fn retrying<T, F, Fut>(&self, mut op: F) -> Result<T, StoreError>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let attempts = self.config.max_attempts.get();
        let mut backoff = self.backoff();
        let mut attempt = 1;
        loop {
            match op(attempt).await {
                Err(StoreError::Unavailable(_)) if attempt < attempts => {
                    tokio::time::sleep(backoff.next_delay()).await;
                    attempt += 1;
                }
                Err(StoreError::Unavailable(why)) => {
                    return Err(StoreError::Unavailable(format!(
                        "{why} (after {attempts} attempts)"
                    )))
                }
                other => return other,
            }
        }
    }

    /// Sends one chunk with `_bulk`, retrying the documents that failed retryably. A `page`
    /// record goes in the same request, after the transactions; it is document number
    /// `chunk.len()` of the chunk and never counted in the report.
    pub(super) async fn bulk_chunk(
        &self,
        chunk: &[ClassifiedTransaction],
        page: Option<&PageRecord>,
    ) -> ChunkOutcome {
        let mut out = ChunkOutcome::default();
        let docs = chunk.len() + usize::from(page.is_some());
        let mut pending: Vec<usize> = (0..docs).collect();
        // What a refusal names: the transaction id, or the checkpoint's id.
        let name = |i: usize| match chunk.get(i) {
            Some(ct) => ct.transaction.id.clone(),
            None => page.map_or_else(String::new, |p| {
                format!("checkpoint {}", page_id(&p.job_id, p.page))
            }),
        };
        let mut backoff = self.backoff();
        let attempts = self.config.max_attempts.get();
        for attempt in 1..=attempts {
            if attempt > 1 {
                self.counters
                    .retried_docs
                    .fetch_add(pending.len() as u64, Ordering::Relaxed);
                tokio::time::sleep(backoff.next_delay()).await;
            }
            let mut body = Vec::with_capacity(pending.len() * 2);
            for &i in &pending {
                match (chunk.get(i), page) {
                    (Some(ct), _) => {
                        let meta = json!({ "index": {
                            "_id": doc_id(ct.partner_id.as_str(), &ct.transaction.id),
                            "routing": ct.customer_id.as_str(),
                        }});
                        body.push(meta.to_string());
                        body.push(
                            serde_json::to_string(&TxDoc::from_tx(ct)).expect("doc serialises"),
                        );
                    }
                    (None, Some(p)) => {
                        let meta = json!({ "index": {
                            "_index": &*self.page_alias,
                            "_id": page_id(&p.job_id, p.page),
                            "routing": p.job_id.as_str(),
                        }});
                        body.push(meta.to_string());
                        body.push(page_doc(p).to_string());
                    }
                    (None, None) => unreachable!("pending indexes are documents of the chunk"),
                }
            }
            self.counters.bulk_requests.fetch_add(1, Ordering::Relaxed);
            let mut req = self
                .client
                .bulk(BulkParts::Index(&self.tx_alias))
                .filter_path(&[
                    "errors",
                    "items.*.status",
                    "items.*.result",
                    "items.*.error.type",
                    "items.*.error.reason",
                ])
                .body(body);
            req = match self.config.visibility {
                WriteVisibility::WaitFor => req.refresh(Refresh::WaitFor),
                WriteVisibility::Immediate => req.refresh(Refresh::True),
                WriteVisibility::Eventual => req,
            };
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) => {
                    out.unavailable = Some((pending.len(), format!("bulk request: {e}")));
                    continue;
                }
            };
            let status = resp.status_code().as_u16();
            let value = match json_of("bulk", resp).await {
                Ok(v) => v,
                Err(StoreError::Unavailable(msg)) => {
                    out.unavailable = Some((pending.len(), msg));
                    continue;
                }
                Err(e) => {
                    // The whole request was refused (e.g. 400, 403): every document is.
                    let reason = e.to_string();
                    out.rejected
                        .extend(pending.iter().map(|&i| (name(i), reason.clone())));
                    out.unavailable = None;
                    return out;
                }
            };
            let items = value["items"].as_array().map(Vec::as_slice).unwrap_or(&[]);
            if items.len() != pending.len() {
                let reason = format!(
                    "bulk answered {} items for {} documents (http {status})",
                    items.len(),
                    pending.len()
                );
                out.unavailable = Some((pending.len(), reason));
                continue;
            }
            let mut again = Vec::new();
            let mut last_retryable = None;
            for (&i, item) in pending.iter().zip(items) {
                let r = &item["index"];
                let code = r["status"].as_u64().unwrap_or(0) as u16;
                match r["result"].as_str() {
                    Some(_) if code < 300 && i >= chunk.len() => out.page_stored = true,
                    Some("created") if code < 300 => out.report.inserted += 1,
                    Some(_) if code < 300 => out.report.updated += 1,
                    _ => {
                        let reason = format!(
                            "http {code} {}: {}",
                            r["error"]["type"].as_str().unwrap_or("unknown"),
                            short(r["error"]["reason"].as_str().unwrap_or(""))
                        );
                        if retryable(code) {
                            again.push(i);
                            last_retryable = Some(reason);
                        } else {
                            out.rejected.push((name(i), reason));
                        }
                    }
                }
            }
            pending = again;
            out.unavailable = last_retryable.map(|r| (pending.len(), r));
            if pending.is_empty() {
                break;
            }
        }
        out
    }
}
