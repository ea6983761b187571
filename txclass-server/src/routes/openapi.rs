//! `GET /openapi.json`: the OpenAPI 3.1 document of every route in the route table, built
//! once per server from the types the handlers read and write (`utoipa`; no UI assets).
//!
//! The document utoipa derives is then made to say exactly what goes over the wire, in
//! [`wire_document`]:
//!
//! - **strict objects**: every object schema with declared properties gets
//!   `additionalProperties: false` (the requests already refuse unknown fields). A
//!   `#[serde(flatten)]`ed part (utoipa's `allOf`) is merged into one object first, and a
//!   flattened tagged enum (a job's `status`) becomes a `oneOf` of whole objects, one per
//!   variant, since `additionalProperties` cannot see through `allOf`;
//! - **SSE events**: [`Progress`] is not sent as one JSON value but as one SSE event per
//!   step, `event: <name>` and `data: <the variant's fields>`. Each variant's fields become a
//!   component of their own (`AcceptedEvent`, `DoneEvent`, …) and `ProgressEvent` describes
//!   one event as OpenAPI 3.1 tools read a `text/event-stream` schema: an object of `event`,
//!   `id`, `retry` and `data`, whose JSON text has the event's schema (`contentSchema`);
//! - **this server's routes**: operations the server does not route (`/metrics` without
//!   metrics, the benchmark route without `bench_routes`) are left out, by asking
//!   [`App::route_of`](super::App) itself.
//!
//! A bearer scheme for API keys goes in [`ApiDoc`]'s `modifiers` (one `SecurityScheme`
//! and a global `security` requirement), the one place every operation inherits from; the
//! operations anyone may call (this document, `/healthz`, `/readyz`) then say `security: []`
//! in their own `#[utoipa::path]`.

use bytes::Bytes;
use http::{Method, StatusCode};
use serde_json::{json, Map, Value};
use txclass_core::domain::correction::CorrectionRequest;
use txclass_core::enrich::EnrichRequest;
use txclass_core::orchestrator::CorrectionOutcome;
use txclass_core::rules::Rule;
use txclass_core::Progress;
use utoipa::OpenApi;

use super::bench::BenchParams;
use super::bodies::{json_bytes, Res};
use super::corrections::{Categories, Corrections, ListParams as CorrectionParams};
use super::enrich::EnrichParams;
use super::health::{Liveness, Ready};
use super::jobs::{EventsParams, JobPage, JobView, ModeParams, PageParams, SubmitBody, Submitted};
use super::queries::{
    MerchantParams, Merchants, PartnerHealth, Partners, Spending, SpendingParams, TransactionPage,
    TxParams,
};
use super::rules::{Deleted, ListParams, Rules};
use super::App;
use crate::error::Envelope;

/// The component every `text/event-stream` response refers to: one SSE event.
const PROGRESS_EVENT: &str = "ProgressEvent";

impl App {
    /// `GET /openapi.json`.
    pub(super) fn openapi(&self) -> Res {
        json_bytes(StatusCode::OK, self.openapi_json.clone())
    }

    /// The document of the routes this server serves, as served.
    pub(super) fn build_openapi(&self) -> Bytes {
        let mut doc = wire_document();
        if let Some(paths) = doc["paths"].as_object_mut() {
            for (template, item) in paths.iter_mut() {
                let path = example_path(template);
                if let Some(item) = item.as_object_mut() {
                    item.retain(|method, _| {
                        let method = Method::from_bytes(method.to_uppercase().as_bytes());
                        method.is_ok_and(|m| self.route_of(&m, &path).is_ok())
                    });
                    if self.keys.is_some() {
                        for (method, op) in item.iter_mut() {
                            let m = Method::from_bytes(method.to_uppercase().as_bytes());
                            let public = m
                                .ok()
                                .and_then(|m| self.route_of(&m, &path).ok())
                                .is_none_or(|r| self.is_public(&r));
                            if !public {
                                guarded(op, template.ends_with("/events"));
                            }
                        }
                    }
                }
            }
            paths.retain(|_, item| item.as_object().is_some_and(|o| !o.is_empty()));
        }
        if self.keys.is_some() {
            doc["components"]["securitySchemes"] = json!({
                "key": { "type": "http", "scheme": "bearer",
                         "description": "An API key (`txclass keys create --tenant …`)" },
                "session": { "type": "apiKey", "in": "cookie", "name": super::session::COOKIE,
                             "description": "The web console's session (`POST /v1/session`)" },
                "eventsToken": { "type": "apiKey", "in": "query", "name": "access_token",
                                 "description": "One job's events token (`POST /v1/classifications/{id}/events-token`)" },
            });
        }
        Bytes::from(serde_json::to_vec(&doc).expect("the document serialises"))
    }
}

/// An operation that needs a key (with keys on): its security and its 401 and 429 answers.
fn guarded(op: &mut Value, events: bool) {
    let mut security = vec![json!({ "key": [] }), json!({ "session": [] })];
    if events {
        security.push(json!({ "eventsToken": [] }));
    }
    op["security"] = Value::Array(security);
    let envelope =
        json!({ "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } });
    op["responses"]["401"] = json!({
        "description": "No key, or one that does not work (`unauthorized`; `WWW-Authenticate: Bearer`)",
        "content": envelope.clone(),
    });
    op["responses"]["429"] = json!({
        "description": "The tenant is over its request rate (`rate_limited`; `Retry-After` in seconds)",
        "headers": { "Retry-After": { "schema": { "type": "integer" } } },
        "content": envelope,
    });
}

/// A path of `template` with every `{parameter}` filled in (with its own name).
pub(super) fn example_path(template: &str) -> String {
    template.replace(['{', '}'], "")
}

/// The whole document, every route included, as it goes over the wire (see the module docs).
pub(super) fn wire_document() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the document serialises");
    let schemas = doc["components"]["schemas"].take();
    let mut schemas: Map<String, Value> = match schemas {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    sse_events(&mut schemas);
    let components = schemas.clone();
    for schema in schemas.values_mut() {
        strict(schema, &components);
    }
    doc["components"]["schemas"] = Value::Object(schemas);
    if let Some(paths) = doc.get_mut("paths") {
        strict(paths, &components);
        for content in media_types_mut(paths) {
            if let Some(sse) = content.get_mut("text/event-stream") {
                sse["schema"] = json!({ "$ref": format!("#/components/schemas/{PROGRESS_EVENT}") });
            }
        }
    }
    doc
}

/// Every `content` map of every response in `paths`.
fn media_types_mut(paths: &mut Value) -> Vec<&mut Map<String, Value>> {
    let mut out = Vec::new();
    for item in paths
        .as_object_mut()
        .into_iter()
        .flat_map(|p| p.values_mut())
    {
        for op in item
            .as_object_mut()
            .into_iter()
            .flat_map(|i| i.values_mut())
        {
            let responses = op.get_mut("responses").and_then(Value::as_object_mut);
            for response in responses.into_iter().flat_map(|r| r.values_mut()) {
                if let Some(content) = response.get_mut("content").and_then(Value::as_object_mut) {
                    out.push(content);
                }
            }
        }
    }
    out
}

/// Replaces the `Progress` schema (a JSON value tagged by `event`, which is not what is
/// sent) by one schema per event's `data` (`<Name>Event`) and [`PROGRESS_EVENT`].
fn sse_events(schemas: &mut Map<String, Value>) {
    let progress = schemas
        .remove("Progress")
        .expect("the document lists Progress");
    let mut events = Vec::new();
    for mut variant in progress["oneOf"].as_array().cloned().unwrap_or_default() {
        let name = variant["properties"]["event"]["enum"][0]
            .as_str()
            .expect("each progress variant names its event")
            .to_owned();
        if let Some(props) = variant["properties"].as_object_mut() {
            props.remove("event");
        }
        if let Some(required) = variant["required"].as_array_mut() {
            required.retain(|r| r != "event");
        }
        let component = format!("{}Event", pascal(&name));
        events.push(json!({
            "type": "object",
            "description": format!("`event: {name}`: its `data` is a `{component}`."),
            "properties": {
                "event": { "const": name },
                "id": {
                    "type": "string",
                    "description": "`<job_id>:<seq>`, seq counting from 1 without gaps: a re-attaching client sends it back as `Last-Event-ID`."
                },
                "retry": { "type": "integer", "minimum": 0 },
                "data": {
                    "type": "string",
                    "contentMediaType": "application/json",
                    "contentSchema": { "$ref": format!("#/components/schemas/{component}") }
                }
            },
            "required": ["event", "id", "retry", "data"]
        }));
        schemas.insert(component, variant);
    }
    schemas.insert(
        PROGRESS_EVENT.to_owned(),
        json!({
            "description": "One Server-Sent Event of a job's stream: `accepted` first, `done` or `failed` last; a `: keep-alive` comment while it is quiet.",
            "oneOf": events,
        }),
    );
}

/// `page_fetched` → `PageFetched`.
fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

/// Makes every object schema under `v` strict (see the module docs); `components` resolves
/// the `$ref`s of flattened parts.
fn strict(v: &mut Value, components: &Map<String, Value>) {
    match v {
        Value::Object(map) => {
            if map.contains_key("allOf") {
                let merged = flatten(map, components);
                *v = merged;
                return strict(v, components);
            }
            for child in map.values_mut() {
                strict(child, components);
            }
            let is_object = map.get("type") == Some(&json!("object"));
            if is_object
                && map.contains_key("properties")
                && !map.contains_key("additionalProperties")
            {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| strict(i, components)),
        _ => {}
    }
}

/// An `allOf` of object parts (a `#[serde(flatten)]`) as one object, or as a `oneOf` of
/// whole objects when a part is itself a `oneOf` (a flattened tagged enum).
fn flatten(schema: &Map<String, Value>, components: &Map<String, Value>) -> Value {
    let mut base = schema.clone();
    let parts = base
        .remove("allOf")
        .and_then(|p| p.as_array().cloned())
        .unwrap_or_default();
    let mut variants = vec![Value::Object(base)];
    for part in parts {
        let mut part = resolve(&part, components);
        if part.get("allOf").is_some() {
            part = flatten(
                part.as_object().expect("a schema with allOf is an object"),
                components,
            );
        }
        variants = match part.get("oneOf").and_then(Value::as_array) {
            Some(alternatives) => variants
                .iter()
                .flat_map(|v| {
                    alternatives
                        .iter()
                        .map(move |a| merge(v, &resolve(a, components)))
                })
                .collect(),
            None => variants.iter().map(|v| merge(v, &part)).collect(),
        };
    }
    match <[Value; 1]>::try_from(variants) {
        Ok([one]) => one,
        Err(many) => json!({ "oneOf": many }),
    }
}

/// The schema a `$ref` to a component points at (or `schema` itself).
fn resolve(schema: &Value, components: &Map<String, Value>) -> Value {
    match schema["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
    {
        Some(name) => components
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("no component {name}")),
        None => schema.clone(),
    }
}

/// Two object schemas as one: properties and `required` of both.
fn merge(a: &Value, b: &Value) -> Value {
    let mut out = a.as_object().cloned().unwrap_or_default();
    out.insert("type".into(), json!("object"));
    let mut props = out
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(more) = b.get("properties").and_then(Value::as_object) {
        props.extend(more.clone());
    }
    out.insert("properties".into(), Value::Object(props));
    let mut required: Vec<Value> = out
        .get("required")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for r in b
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if !required.contains(r) {
            required.push(r.clone());
        }
    }
    if !required.is_empty() {
        out.insert("required".into(), Value::Array(required));
    }
    if out.get("description").is_none() {
        if let Some(d) = b.get("description") {
            out.insert("description".into(), d.clone());
        }
    }
    Value::Object(out)
}

/// The document utoipa derives: every route of the route table (the tests below check both
/// ways).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "txclass",
        description = "Classify a customer's bank transactions from partner APIs, streaming progress as Server-Sent Events; read what was stored; manage rules; classify rows on request."
    ),
    paths(
        healthz,
        readyz,
        openapi_json,
        console,
        console_file,
        metrics,
        submit,
        job,
        cancel,
        events,
        events_token,
        session,
        end_session,
        transactions,
        spending,
        merchants,
        correct,
        corrections,
        categories,
        taxonomy,
        partners,
        partner_health,
        bench_sse,
        list_rules,
        create_rule,
        get_rule,
        update_rule,
        delete_rule,
        enrich,
    ),
    components(schemas(Progress)),
    tags(
        (name = "jobs", description = "Classification jobs and their SSE streams"),
        (name = "customers", description = "What was stored for a customer"),
        (name = "partners", description = "Partner APIs"),
        (name = "rules", description = "Classification rules"),
        (name = "enrich", description = "Classify transactions a client holds"),
        (name = "operations", description = "Health, readiness, metrics, this document, the console"),
    )
)]
pub(super) struct ApiDoc;

// The functions below only carry their operation's attributes: the handlers are `App`
// methods (see `super`), which `#[utoipa::path]` cannot annotate.

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process answers", body = Liveness)))]
#[allow(dead_code)]
fn healthz() {}

/// Readiness: every backend (store, Redis, …) answers.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Ready),
        (status = 503, description = "A backend does not answer", body = Ready),
    ))]
#[allow(dead_code)]
fn readyz() {}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object)))]
#[allow(dead_code)]
fn openapi_json() {}

/// The web console's page.
#[utoipa::path(get, path = "/", tag = "operations",
    params(("If-None-Match" = Option<String>, Header, nullable = false, description = "The page's `ETag`, for a 304")),
    responses(
        (status = 200, description = "The page", content_type = "text/html; charset=utf-8", body = String),
        (status = 304, description = "Unchanged since the `ETag` sent"),
    ))]
#[allow(dead_code)]
fn console() {}

/// A script or style sheet of the console, by its content-hashed name.
#[utoipa::path(get, path = "/console/{file}", tag = "operations",
    params(
        ("file" = String, Path, description = "`console.<hash>.js` or `console.<hash>.css`, as the page names it"),
        ("If-None-Match" = Option<String>, Header, nullable = false, description = "The file's `ETag`, for a 304"),
    ),
    responses(
        (status = 200, description = "The file (cached for a year: the name changes with the content)",
            content((String = "text/javascript; charset=utf-8"), (String = "text/css; charset=utf-8"))),
        (status = 304, description = "Unchanged since the `ETag` sent"),
        (status = 400, description = "A name with control characters", body = Envelope<'static>),
        (status = 404, description = "No such file", body = Envelope<'static>),
    ))]
#[allow(dead_code)]
fn console_file() {}

/// Every metric in the Prometheus text format (when `[metrics] enabled`).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "The metrics",
        content_type = "text/plain; version=0.0.4; charset=utf-8", body = String)))]
#[allow(dead_code)]
fn metrics() {}

/// Classifies a customer's transactions at a partner: a stream of progress events (SSE),
/// or `202` and a detached job with `Prefer: respond-async` or `?mode=async`.
#[utoipa::path(post, path = "/v1/classifications", tag = "jobs",
    params(
        ModeParams,
        ("Prefer" = Option<String>, Header, nullable = false, description = "`respond-async`: answer 202 and run the job detached"),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, description = "1 to 255 visible ASCII characters (bare or in double quotes): the same request sent again with the same key, on any instance, attaches to the job the first one started (its events from the first) instead of starting another; the same key with another request is a 422"),
    ),
    request_body = SubmitBody,
    responses(
        (status = 200, description = "The job's progress until it ends", content_type = "text/event-stream"),
        (status = 202, description = "The job runs detached", body = Submitted,
            headers(("Location" = String, description = "The job's `status_url`")),
            links(
                ("job" = (operation_id = "job", parameters(("id" = "$response.body#/job_id")))),
                ("cancel" = (operation_id = "cancel", parameters(("id" = "$response.body#/job_id")))),
                ("events" = (operation_id = "events", parameters(("id" = "$response.body#/job_id")))),
            )),
        (status = 400, description = "A field is missing or wrong (named in `field`), or the JSON is malformed", body = Envelope<'static>),
        (status = 404, description = "Unknown partner (`unknown_partner`)", body = Envelope<'static>),
        (status = 408, description = "The body did not arrive in time", body = Envelope<'static>),
        (status = 413, description = "The body is over the limit", body = Envelope<'static>),
        (status = 422, description = "The `Idempotency-Key` was used for another request (`idempotency_conflict`)", body = Envelope<'static>),
        (status = 503, description = "Another instance holds the `Idempotency-Key`'s job but has not recorded it yet (`submission_pending`): send the same request again after `Retry-After`", body = Envelope<'static>,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
#[allow(dead_code)]
fn submit() {}

/// A job's record and a page of the transactions it stored.
#[utoipa::path(get, path = "/v1/classifications/{id}", tag = "jobs",
    params(("id" = String, Path, description = "The job's id"), PageParams),
    responses(
        (status = 200, description = "The job and a page of its transactions", body = JobPage),
        (status = 400, description = "A bad parameter (named in `field`)", body = Envelope<'static>),
        (status = 404, description = "Unknown job (`unknown_job`)", body = Envelope<'static>),
    ))]
#[allow(dead_code)]
fn job() {}

/// Cancels a job wherever it runs.
#[utoipa::path(delete, path = "/v1/classifications/{id}", tag = "jobs",
    params(("id" = String, Path, description = "The job's id")),
    responses(
        (status = 200, description = "The job had already ended: its record", body = JobView),
        (status = 202, description = "The job was running and is being cancelled", body = JobView),
        (status = 400, description = "A bad id", body = Envelope<'static>),
        (status = 404, description = "Unknown job (`unknown_job`)", body = Envelope<'static>),
    ))]
#[allow(dead_code)]
fn cancel() {}

/// A job's events after the client's last one, then live until the job ends (re-attach).
#[utoipa::path(get, path = "/v1/classifications/{id}/events", tag = "jobs",
    params(
        ("id" = String, Path, description = "The job's id"),
        ("Last-Event-ID" = Option<String>, Header, nullable = false, description = "The last event id seen: `<job_id>:<seq>` or `<seq>`"),
        EventsParams,
    ),
    responses(
        (status = 200, description = "The job's events after the last one seen", content_type = "text/event-stream"),
        (status = 400, description = "A bad event id (`Last-Event-ID`)", body = Envelope<'static>),
        (status = 404, description = "Unknown job (`unknown_job`)", body = Envelope<'static>),
    ))]
#[allow(dead_code)]
fn events() {}

/// A token that reads this job's events until it expires, for a client that cannot send
/// `Authorization` (a browser `EventSource`): `GET …/events?access_token=…`.
#[utoipa::path(post, path = "/v1/classifications/{id}/events-token", tag = "jobs",
    params(("id" = String, Path, description = "The job's id")),
    responses(
        (status = 201, description = "The token, its expiry and the events URL with it", body = super::session::EventsToken),
        (status = 400, description = "A bad id", body = Envelope<'static>),
        (status = 404, description = "Unknown job (`unknown_job`)", body = Envelope<'static>),
    ))]
#[allow(dead_code)]
fn events_token() {}

/// Starts a web-console session for the key's tenant: an `HttpOnly`, `SameSite=Strict`
/// cookie that stands for the key on every route.
#[utoipa::path(post, path = "/v1/session", tag = "operations",
    responses(
        (status = 200, description = "The session (and its cookie, `Set-Cookie`)", body = super::session::Session,
            headers(("Set-Cookie" = String, description = "`txclass_session=…; HttpOnly; SameSite=Strict`"))),
    ))]
#[allow(dead_code)]
fn session() {}

/// Ends the web-console session (clears its cookie; no key needed).
#[utoipa::path(delete, path = "/v1/session", tag = "operations",
    responses((status = 204, description = "The cookie is cleared")))]
#[allow(dead_code)]
fn end_session() {}

/// A page of a customer's stored transactions, newest first.
#[utoipa::path(get, path = "/v1/customers/{id}/transactions", tag = "customers",
    params(("id" = String, Path, description = "The customer's id"), TxParams),
    responses(
        (status = 200, description = "A page of transactions", body = TransactionPage<'static>),
        (status = 400, description = "A bad parameter (named in `field`)", body = Envelope<'static>),
    ))]
#[allow(dead_code)]
fn transactions() {}

/// A customer's spend per month, category and currency.
#[utoipa::path(get, path = "/v1/customers/{id}/spending", tag = "customers",
    params(("id" = String, Path, description = "The customer's id"), SpendingParams),
    responses(
        (status = 200, description = "The spending table", body = Spending),
        (status = 400, description = "A bad parameter (named in `field`)", body = Envelope<'static>),
    ))]
#[allow(dead_code)]
fn spending() {}

/// The merchants a customer spent most with.
#[utoipa::path(get, path = "/v1/customers/{id}/merchants", tag = "customers",
    params(("id" = String, Path, description = "The customer's id"), MerchantParams),
    responses(
        (status = 200, description = "The top merchants", body = Merchants),
        (status = 400, description = "A bad parameter (named in `field`)", body = Envelope<'static>),
    ))]
#[allow(dead_code)]
fn merchants() {}

/// Corrects a stored transaction's category: the user's category wins over rules and the
/// model from now on; `K` consistent corrections of a merchant suggest (or create) a rule.
#[utoipa::path(post, path = "/v1/customers/{id}/transactions/{tx}/category", tag = "customers",
    params(
        ("id" = String, Path, description = "The customer's id"),
        ("tx" = String, Path, description = "The transaction's id (the partner's)"),
    ),
    request_body = CorrectionRequest,
    responses(
        (status = 200, description = "The transaction as now stored, the correction, the month's spending after it and any suggested rule", body = CorrectionOutcome),
        (status = 400, description = "A category the model does not have, an id two partners share without `partner_id` (named in `field`), or malformed JSON", body = Envelope<'static>),
        (status = 404, description = "The customer has no such transaction (`unknown_transaction`)", body = Envelope<'static>),
        (status = 408, description = "The body did not arrive in time", body = Envelope<'static>),
        (status = 413, description = "The body is over the limit", body = Envelope<'static>),
    ))]
#[allow(dead_code)]
fn correct() {}

/// A customer's corrections, newest first.
#[utoipa::path(get, path = "/v1/customers/{id}/corrections", tag = "customers",
    params(("id" = String, Path, description = "The customer's id"), CorrectionParams),
    responses(
        (status = 200, description = "The corrections", body = Corrections),
        (status = 400, description = "A bad parameter (named in `field`)", body = Envelope<'static>),
    ))]
#[allow(dead_code)]
fn corrections() {}

/// The categories a correction may give: the model's main categories.
#[utoipa::path(get, path = "/v1/categories", tag = "customers",
    responses((status = 200, description = "The model's main categories and version", body = Categories<'static>)))]
#[allow(dead_code)]
fn categories() {}

/// The taxonomy: its version, the main categories and their sub-categories (a label is
/// `main` or `main/sub`).
#[utoipa::path(get, path = "/v1/taxonomy", tag = "customers",
    responses((status = 200, description = "The built-in taxonomy", body = txclass_core::domain::taxonomy::Taxonomy)))]
#[allow(dead_code)]
fn taxonomy() {}

/// Every configured partner: capacity, permits in use, circuit state.
#[utoipa::path(get, path = "/v1/partners", tag = "partners",
    responses((status = 200, description = "The partners", body = Partners)))]
#[allow(dead_code)]
fn partners() {}

/// Calls a partner's health endpoint.
#[utoipa::path(get, path = "/v1/partners/{id}/health", tag = "partners",
    params(("id" = String, Path, description = "The partner's id")),
    responses(
        (status = 200, description = "The partner answers", body = PartnerHealth),
        (status = 400, description = "A bad id", body = Envelope<'static>),
        (status = 404, description = "Unknown partner (`unknown_partner`)", body = Envelope<'static>),
        (status = 503, description = "The partner does not answer well", body = PartnerHealth),
    ))]
#[allow(dead_code)]
fn partner_health() {}

/// A synthetic job's stream, for the throughput and memory benchmarks (with
/// `bench_routes` only).
#[utoipa::path(get, path = "/v1/bench/sse", tag = "operations",
    params(BenchParams),
    responses(
        (status = 200, description = "The synthetic stream", content_type = "text/event-stream"),
        (status = 400, description = "A bad parameter (named in `field`)", body = Envelope<'static>),
    ))]
#[allow(dead_code)]
fn bench_sse() {}

/// The rules, or those a customer's jobs run.
#[utoipa::path(get, path = "/v1/rules", tag = "rules",
    params(ListParams),
    responses(
        (status = 200, description = "The rules", body = Rules),
        (status = 400, description = "A bad parameter (named in `field`)", body = Envelope<'static>),
    ))]
#[allow(dead_code)]
fn list_rules() {}

/// Creates a rule (its id is given when the body has none).
#[utoipa::path(post, path = "/v1/rules", tag = "rules",
    request_body = Rule,
    responses(
        (status = 201, description = "The rule as stored", body = Rule,
            headers(("Location" = String, description = "`/v1/rules/{id}`")),
            links(
                ("get_rule" = (operation_id = "get_rule", parameters(("id" = "$response.body#/id")))),
                ("update_rule" = (operation_id = "update_rule", parameters(("id" = "$response.body#/id")))),
                ("delete_rule" = (operation_id = "delete_rule", parameters(("id" = "$response.body#/id")))),
            )),
        (status = 400, description = "A field is wrong (named in `field`), or the JSON is malformed", body = Envelope<'static>),
        (status = 408, description = "The body did not arrive in time", body = Envelope<'static>),
        (status = 409, description = "A rule with this id exists (`rule_exists`)", body = Envelope<'static>),
        (status = 413, description = "The body is over the limit", body = Envelope<'static>),
    ))]
#[allow(dead_code)]
fn create_rule() {}

/// A rule.
#[utoipa::path(get, path = "/v1/rules/{id}", tag = "rules",
    params(("id" = String, Path, description = "The rule's id")),
    responses(
        (status = 200, description = "The rule", body = Rule),
        (status = 400, description = "A bad id", body = Envelope<'static>),
        (status = 404, description = "Unknown rule (`unknown_rule`)", body = Envelope<'static>),
    ))]
#[allow(dead_code)]
fn get_rule() {}

/// Replaces a rule.
#[utoipa::path(put, path = "/v1/rules/{id}", tag = "rules",
    params(("id" = String, Path, description = "The rule's id")),
    request_body = Rule,
    responses(
        (status = 200, description = "The rule as stored", body = Rule),
        (status = 400, description = "A field is wrong (named in `field`), or the JSON is malformed", body = Envelope<'static>),
        (status = 404, description = "Unknown rule (`unknown_rule`)", body = Envelope<'static>),
        (status = 408, description = "The body did not arrive in time", body = Envelope<'static>),
        (status = 413, description = "The body is over the limit", body = Envelope<'static>),
    ))]
#[allow(dead_code)]
fn update_rule() {}

/// Deletes a rule.
#[utoipa::path(delete, path = "/v1/rules/{id}", tag = "rules",
    params(("id" = String, Path, description = "The rule's id")),
    responses(
        (status = 200, description = "Deleted", body = Deleted<'static>),
        (status = 400, description = "A bad id", body = Envelope<'static>),
        (status = 404, description = "Unknown rule (`unknown_rule`)", body = Envelope<'static>),
    ))]
#[allow(dead_code)]
fn delete_rule() {}

/// Classifies up to 1,000 transactions a client holds, by the same rules and model as
/// jobs; a bad row gets its own error and the others go through.
#[utoipa::path(post, path = "/v1/enrich", tag = "enrich",
    params(EnrichParams),
    request_body = EnrichRequest,
    responses(
        (status = 200, description = "One answer per row, in order", body = txclass_core::enrich::EnrichResponse),
        (status = 400, description = "The body is not an enrich request (named in `field`), the JSON is malformed, or a bad query parameter", body = Envelope<'static>),
        (status = 408, description = "The body did not arrive in time", body = Envelope<'static>),
        (status = 413, description = "Over 1,000 rows (`too_many_rows`) or over the body limit", body = Envelope<'static>),
    ))]
#[allow(dead_code)]
fn enrich() {}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use super::*;
    use crate::routes::OPERATIONS;

    /// An app that routes everything: metrics and the benchmark route on.
    fn full_app() -> Arc<App> {
        let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
            .build_recorder()
            .handle();
        let settings = crate::HttpSettings {
            bench_routes: true,
            ..crate::HttpSettings::default()
        };
        let orchestrator = txclass_core::Orchestrator::builder().build().unwrap();
        Arc::new(App::new(orchestrator, settings, Some(handle)).unwrap())
    }

    fn operations(doc: &Value) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for (template, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                out.insert((method.to_uppercase(), template.clone()));
            }
        }
        out
    }

    /// Every route of the route table has its operation in the document, and every
    /// operation of the document is routed to the route that declares it: a route added
    /// without its operation (or an operation without its route) fails here.
    #[test]
    fn the_document_covers_the_route_table_both_ways() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let _guard = rt.enter();
        let app = full_app();
        let table: BTreeSet<(String, String)> = OPERATIONS
            .iter()
            .map(|(m, t)| (m.to_string(), t.to_string()))
            .collect();
        assert_eq!(
            table.len(),
            OPERATIONS.len(),
            "an operation is listed twice"
        );
        let documented = operations(&wire_document());
        let missing: Vec<_> = table.difference(&documented).collect();
        let extra: Vec<_> = documented.difference(&table).collect();
        assert!(
            missing.is_empty(),
            "routes without an operation: {missing:?}"
        );
        assert!(extra.is_empty(), "operations without a route: {extra:?}");
        for (method, template) in &table {
            let m = Method::from_bytes(method.as_bytes()).unwrap();
            let path = example_path(template);
            let route = app
                .route_of(&m, &path)
                .unwrap_or_else(|e| panic!("{method} {path}: {e:?}"));
            assert_eq!(
                route.operation(),
                (method.as_str(), template.as_str()),
                "{method} {path} is routed to another operation"
            );
        }
        // Served as a whole when everything is on.
        let served: Value = serde_json::from_slice(&app.build_openapi()).unwrap();
        assert_eq!(operations(&served), table);
    }

    /// A server without metrics or benchmark routes does not list them.
    #[test]
    fn the_served_document_lists_only_routes_this_server_serves() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let _guard = rt.enter();
        let orchestrator = txclass_core::Orchestrator::builder().build().unwrap();
        let app = App::new(orchestrator, crate::HttpSettings::default(), None).unwrap();
        let served: Value = serde_json::from_slice(&app.build_openapi()).unwrap();
        let ops = operations(&served);
        assert!(
            !ops.iter()
                .any(|(_, t)| t == "/metrics" || t == "/v1/bench/sse"),
            "{ops:?}"
        );
        assert!(ops.contains(&("GET".to_owned(), "/openapi.json".to_owned())));
        assert_eq!(ops.len(), OPERATIONS.len() - 2);
    }

    /// Every object with properties refuses undeclared ones, flattened types included; the
    /// event schemas come from `Progress` and carry no `event` tag (the SSE `event:` does).
    #[test]
    fn schemas_are_strict_and_events_have_their_own() {
        let doc = wire_document();
        let text = doc.to_string();
        assert!(
            !text.contains("\"allOf\""),
            "a flattened part was left: {text}"
        );
        fn walk(v: &Value, at: &str) {
            match v {
                Value::Object(m) => {
                    if m.contains_key("properties") {
                        assert_eq!(m.get("additionalProperties"), Some(&json!(false)), "{at}");
                    }
                    m.iter().for_each(|(k, c)| walk(c, &format!("{at}/{k}")));
                }
                Value::Array(a) => a
                    .iter()
                    .enumerate()
                    .for_each(|(i, c)| walk(c, &format!("{at}/{i}"))),
                _ => {}
            }
        }
        walk(&doc, "");
        let schemas = &doc["components"]["schemas"];
        let tx = &schemas["ClassifiedTransaction"]["properties"];
        for field in ["partner_id", "id", "amount_minor", "category", "source"] {
            assert!(
                tx.get(field).is_some(),
                "ClassifiedTransaction lacks {field}: {tx}"
            );
        }
        let record = schemas["JobRecord"]["oneOf"]
            .as_array()
            .expect("one object per status");
        assert_eq!(record.len(), 4);
        let done = &schemas["DoneEvent"];
        assert!(done["properties"].get("summary").is_some(), "{done}");
        assert!(done["properties"].get("event").is_none(), "{done}");
        // Limits written as literals in attributes are the code's own.
        use txclass_core::domain::rule::{MAX_PATTERN, MAX_TEXT};
        let conditions = &schemas["Conditions"]["properties"];
        assert_eq!(conditions["merchant_is"]["maxLength"], json!(MAX_TEXT));
        assert_eq!(
            conditions["description_matches"]["maxLength"],
            json!(MAX_PATTERN)
        );
        let id = schemas["Rule"]["properties"]["id"]["pattern"]
            .as_str()
            .unwrap();
        assert!(id.ends_with(&format!("{{0,{MAX_TEXT}}}$")), "{id}");
        let page = &doc["paths"]["/v1/customers/{id}/transactions"]["get"]["parameters"];
        let limit = page
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .unwrap();
        assert_eq!(
            limit["schema"]["maximum"],
            json!(txclass_core::store::MAX_PAGE)
        );
        let events = schemas[PROGRESS_EVENT]["oneOf"].as_array().unwrap();
        assert_eq!(events.len(), 7);
        assert!(schemas.get("Progress").is_none());
    }
}
