//! Metrics: every name, label and histogram bucket the core records, and the points that
//! record them, through the [`metrics`] facade.
//!
//! The core records where it decides (the guarded partner call, the breaker's transitions,
//! the job's end, the store's calls, the classifier's verdicts); it installs no exporter. A
//! shell that wants the figures installs a recorder (the server installs the Prometheus
//! exporter and serves `GET /metrics`) and, before each scrape, calls
//! [`Orchestrator::export_gauges`](crate::Orchestrator::export_gauges), which reads the
//! values that live in the limiter and the queue. Without a recorder every recording point
//! is a no-op.
//!
//! ## Names and labels
//!
//! Prometheus conventions: the unit ends the name (`_seconds`), counters end in `_total`,
//! and every label has a bounded set of values (partner ids from the configuration,
//! categories from the model, enums of the core); no customer or job id is ever a label.
//!
//! ## Values that live in a shared backend
//!
//! Permits in use, the adaptive limit, queue depth and dead letters come from the limiter and
//! the queue. With the Redis backends these are one value for the whole cluster, which every
//! instance reads and exports: the series carry `scope="cluster"`, and a query takes their
//! `max` over instances, never their sum. With the embedded backends each instance has its
//! own, labelled `scope="instance"`, and summing is right.
//!
//! **Why label, not elect one exporting instance?** An election (a lease held by the
//! instance that exports) leaves a gap at every hand-over and makes a single instance's
//! `/metrics` incomplete; the label keeps every instance's page whole and the query honest.

use std::time::Duration;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};

use crate::breaker::{CallOutcome, CircuitState, Transition};
use crate::domain::{JobStatus, PartnerId, Prediction};
use crate::partner::{FailureKind, PartnerError};

/// `txclass_partner_capacity{partner}`: the configured capacity (permits across every instance).
pub const PARTNER_CAPACITY: &str = "txclass_partner_capacity";
/// `txclass_partner_permits_in_use{partner, scope}`: permits held now.
pub const PARTNER_PERMITS_IN_USE: &str = "txclass_partner_permits_in_use";
/// `txclass_partner_permit_limit{partner, scope}`: calls admitted at once now (the adaptive
/// limit: the capacity, or less after a partner's pushback).
pub const PARTNER_PERMIT_LIMIT: &str = "txclass_partner_permit_limit";
/// `txclass_partner_acquire_wait_seconds{partner, result}`: time spent waiting for a permit;
/// `result` is `acquired`, `busy` (gave up waiting: the call is queued) or `error`.
pub const PARTNER_ACQUIRE_WAIT: &str = "txclass_partner_acquire_wait_seconds";
/// `txclass_partner_calls_total{partner, outcome, status}`: calls made; `outcome` is
/// `success` or a failure kind, `status` the HTTP status code or `none` (no answer).
pub const PARTNER_CALLS: &str = "txclass_partner_calls_total";
/// `txclass_partner_call_duration_seconds{partner, outcome}`: call latency.
pub const PARTNER_CALL_DURATION: &str = "txclass_partner_call_duration_seconds";
/// `txclass_circuit_state{partner, state}`: 1 for the state the circuit is in on this
/// instance, 0 for the other two.
pub const CIRCUIT_STATE: &str = "txclass_circuit_state";
/// `txclass_circuit_transitions_total{partner, from, to}`: state changes seen here.
pub const CIRCUIT_TRANSITIONS: &str = "txclass_circuit_transitions_total";
/// `txclass_queue_tasks{partner, state, scope}`: queued partner calls; `state` is `delayed`
/// (waiting for their time), `due` (ready, not yet taken) or `in_flight` (taken by a worker,
/// not yet settled).
pub const QUEUE_TASKS: &str = "txclass_queue_tasks";
/// `txclass_queue_dead_letters{partner, scope}`: calls the queue gave up on.
pub const QUEUE_DEAD_LETTERS: &str = "txclass_queue_dead_letters";
/// `txclass_jobs_running`: jobs running on this instance.
pub const JOBS_RUNNING: &str = "txclass_jobs_running";
/// `txclass_jobs_started_total{kind}`: runs started here; `kind` is `new` or `resumed`.
pub const JOBS_STARTED: &str = "txclass_jobs_started_total";
/// `txclass_jobs_finished_total{status, reason}`: jobs ended here; `status` is `done`,
/// `failed` or `cancelled`, `reason` the failure reason (`none` when done).
pub const JOBS_FINISHED: &str = "txclass_jobs_finished_total";
/// `txclass_job_duration_seconds{status}`: from a job's creation to its end.
pub const JOB_DURATION: &str = "txclass_job_duration_seconds";
/// `txclass_classifications_total{category}`: transactions classified, by category
/// (`uncertain` when the model was not sure).
pub const CLASSIFICATIONS: &str = "txclass_classifications_total";
/// `txclass_store_operation_duration_seconds{op, kind}`: store calls; `kind` is `read` or `write`.
pub const STORE_DURATION: &str = "txclass_store_operation_duration_seconds";
/// `txclass_store_errors_total{op, kind}`: store calls that failed.
pub const STORE_ERRORS: &str = "txclass_store_errors_total";
/// `txclass_sse_streams_open`: SSE responses open on this instance (recorded by the server).
pub const SSE_STREAMS_OPEN: &str = "txclass_sse_streams_open";
/// `txclass_sse_events_sent_total`: SSE events written (recorded by the server).
pub const SSE_EVENTS_SENT: &str = "txclass_sse_events_sent_total";

/// Buckets of the call, acquire-wait and store latencies, in seconds.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Buckets of job durations, in seconds.
pub const JOB_BUCKETS: &[f64] = &[
    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
];

/// Every histogram with its buckets, for the exporter.
pub fn histogram_buckets() -> [(&'static str, &'static [f64]); 4] {
    [
        (PARTNER_ACQUIRE_WAIT, LATENCY_BUCKETS),
        (PARTNER_CALL_DURATION, LATENCY_BUCKETS),
        (STORE_DURATION, LATENCY_BUCKETS),
        (JOB_DURATION, JOB_BUCKETS),
    ]
}

/// Registers every metric's help text with the installed recorder (call once after
/// installing it).
pub fn describe() {
    describe_gauge!(
        PARTNER_CAPACITY,
        "Configured capacity of a partner: most concurrent calls across every instance."
    );
    describe_gauge!(PARTNER_PERMITS_IN_USE, "Permits of the partner's semaphore held now (scope=cluster: one value for every instance; take max, not sum).");
    describe_gauge!(PARTNER_PERMIT_LIMIT, "Calls admitted to the partner at once now: the capacity, or less after pushback (scope=cluster: take max, not sum).");
    describe_histogram!(
        PARTNER_ACQUIRE_WAIT,
        metrics::Unit::Seconds,
        "Time waited for a partner permit."
    );
    describe_counter!(
        PARTNER_CALLS,
        "Partner calls made, by outcome and HTTP status code."
    );
    describe_histogram!(
        PARTNER_CALL_DURATION,
        metrics::Unit::Seconds,
        "Partner call latency."
    );
    describe_gauge!(
        CIRCUIT_STATE,
        "1 for the state the partner's circuit is in on this instance."
    );
    describe_counter!(
        CIRCUIT_TRANSITIONS,
        "Circuit state changes seen by this instance."
    );
    describe_gauge!(QUEUE_TASKS, "Queued partner calls by state (scope=cluster: one value for every instance; take max, not sum).");
    describe_gauge!(
        QUEUE_DEAD_LETTERS,
        "Queued partner calls given up on (scope=cluster: take max, not sum)."
    );
    describe_gauge!(JOBS_RUNNING, "Jobs running on this instance.");
    describe_counter!(
        JOBS_STARTED,
        "Job runs started on this instance (new, or resumed after a crash or hand-over)."
    );
    describe_counter!(
        JOBS_FINISHED,
        "Jobs ended on this instance, by status and failure reason."
    );
    describe_histogram!(
        JOB_DURATION,
        metrics::Unit::Seconds,
        "Time from a job's creation to its end."
    );
    describe_counter!(
        CLASSIFICATIONS,
        "Transactions classified, by category (uncertain: the model was not sure)."
    );
    describe_histogram!(
        STORE_DURATION,
        metrics::Unit::Seconds,
        "Store call latency, by operation."
    );
    describe_counter!(STORE_ERRORS, "Store calls that failed, by operation.");
    describe_gauge!(SSE_STREAMS_OPEN, "SSE responses open on this instance.");
    describe_counter!(SSE_EVENTS_SENT, "SSE events written by this instance.");
}

/// The `scope` label of a value read from a backend: `cluster` when every instance shares it.
pub(crate) fn scope(shared: bool) -> &'static str {
    if shared {
        "cluster"
    } else {
        "instance"
    }
}

/// The `outcome` label of a call.
fn outcome_label(outcome: CallOutcome) -> &'static str {
    match outcome {
        CallOutcome::Success => "success",
        CallOutcome::Failure(kind) => failure_label(kind),
    }
}

fn failure_label(kind: FailureKind) -> &'static str {
    match kind {
        FailureKind::Timeout => "timeout",
        FailureKind::ServerError => "server_error",
        FailureKind::RateLimited => "rate_limited",
        FailureKind::ClientError => "client_error",
        FailureKind::Unreachable => "unreachable",
        FailureKind::BadData => "bad_data",
    }
}

/// The `state` label of a circuit.
pub(crate) fn circuit_label(state: CircuitState) -> &'static str {
    match state {
        CircuitState::Closed => "closed",
        CircuitState::Open => "open",
        CircuitState::HalfOpen => "half_open",
    }
}

/// A permit was asked for: how long it took and what came of it.
pub(crate) fn acquire_waited(partner: &PartnerId, waited: Duration, result: &'static str) {
    histogram!(PARTNER_ACQUIRE_WAIT, "partner" => partner.as_str().to_owned(), "result" => result)
        .record(waited.as_secs_f64());
}

/// A partner call was made and answered (or failed) after `took`.
pub(crate) fn call_made<T>(partner: &PartnerId, result: &Result<T, PartnerError>, took: Duration) {
    let (outcome, status) = match result {
        Ok(_) => (CallOutcome::Success, Some(200)),
        Err(e) => (CallOutcome::Failure(e.kind()), e.status()),
    };
    let status = match status {
        Some(code) => status_label(code),
        None => "none",
    };
    let outcome = outcome_label(outcome);
    let partner = partner.as_str().to_owned();
    counter!(PARTNER_CALLS, "partner" => partner.clone(), "outcome" => outcome, "status" => status)
        .increment(1);
    histogram!(PARTNER_CALL_DURATION, "partner" => partner, "outcome" => outcome)
        .record(took.as_secs_f64());
}

/// A status code as a label: the codes a partner API answers with are named; anything else
/// falls into its class (`4xx`, `5xx`), so the label set stays bounded.
fn status_label(code: u16) -> &'static str {
    const NAMED: [(u16, &str); 13] = [
        (200, "200"),
        (400, "400"),
        (401, "401"),
        (403, "403"),
        (404, "404"),
        (408, "408"),
        (409, "409"),
        (422, "422"),
        (429, "429"),
        (500, "500"),
        (502, "502"),
        (503, "503"),
        (504, "504"),
    ];
    match NAMED.iter().find(|(c, _)| *c == code) {
        Some((_, label)) => label,
        None => match code / 100 {
            2 => "2xx",
            3 => "3xx",
            4 => "4xx",
            _ => "5xx",
        },
    }
}

/// A partner's circuit changed state on this instance.
pub(crate) fn circuit_changed(partner: &PartnerId, t: &Transition) {
    counter!(
        CIRCUIT_TRANSITIONS,
        "partner" => partner.as_str().to_owned(),
        "from" => circuit_label(t.from),
        "to" => circuit_label(t.to)
    )
    .increment(1);
}

/// A page was classified: one count per category.
pub(crate) fn classified(predictions: &[Prediction]) {
    // Pages hold up to a few hundred rows of a dozen categories: count first, record once
    // per category.
    let mut counts: Vec<(&str, u64)> = Vec::new();
    for p in predictions {
        let name = p.category.as_str();
        match counts.iter_mut().find(|(c, _)| *c == name) {
            Some((_, n)) => *n += 1,
            None => counts.push((name, 1)),
        }
    }
    for (category, n) in counts {
        counter!(CLASSIFICATIONS, "category" => category.to_owned()).increment(n);
    }
}

/// A job run started here.
pub(crate) fn job_started(resumed: bool) {
    let kind = if resumed { "resumed" } else { "new" };
    counter!(JOBS_STARTED, "kind" => kind).increment(1);
}

/// A job ended here with `status`, `age` after its creation.
pub(crate) fn job_finished(status: &JobStatus, age: Duration) {
    let (status, reason) = match status {
        JobStatus::Done { .. } => ("done", "none"),
        JobStatus::Cancelled => ("cancelled", "cancelled"),
        JobStatus::Failed { reason, .. } => ("failed", reason.as_str()),
        JobStatus::Running => return,
    };
    counter!(JOBS_FINISHED, "status" => status, "reason" => reason).increment(1);
    histogram!(JOB_DURATION, "status" => status).record(age.as_secs_f64());
}

/// Sets the three series of a partner's circuit state.
pub(crate) fn circuit_state(partner: &PartnerId, state: CircuitState) {
    for s in [
        CircuitState::Closed,
        CircuitState::Open,
        CircuitState::HalfOpen,
    ] {
        gauge!(CIRCUIT_STATE, "partner" => partner.as_str().to_owned(), "state" => circuit_label(s))
            .set(if s == state { 1.0 } else { 0.0 });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_labels_stay_bounded() {
        assert_eq!(status_label(429), "429");
        assert_eq!(status_label(418), "4xx");
        assert_eq!(status_label(599), "5xx");
        assert_eq!(status_label(204), "2xx");
    }

    #[test]
    fn every_histogram_has_sorted_buckets() {
        for (name, buckets) in histogram_buckets() {
            assert!(name.ends_with("_seconds"), "{name}");
            assert!(buckets.windows(2).all(|w| w[0] < w[1]), "{name}");
        }
    }

    #[test]
    fn failure_reasons_are_labelled_as_they_serialise() {
        use crate::domain::FailureReason as R;
        for r in [
            R::PartnerRejected,
            R::PartnerUnavailable,
            R::CircuitOpen,
            R::DeadlineExceeded,
            R::StoreError,
            R::LimiterError,
            R::QueueError,
            R::BadPartnerData,
            R::ShuttingDown,
            R::Interrupted,
            R::Cancelled,
        ] {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
    }
}
