// The txclass console: start a classification and watch it live, a customer's spending and
// transactions, the partners' state. It talks only to this server's API (same origin).
//
// Safety: every value that comes from the API (merchant names come from banks) is inserted
// with textContent or as an attribute value, never as HTML.
"use strict";

// ---- API --------------------------------------------------------------------------------

// Every request goes through here: the one place where credentials (API keys) will be added
// to the headers. Statuses in `answers` carry a body the caller reads (a 503 health check).
async function api(path, init = {}, answers = []) {
  const headers = { Accept: "application/json", ...init.headers };
  const res = await fetch(path, { ...init, headers });
  // With keys on, the console signs in once: the key buys an HttpOnly session cookie.
  if (res.status === 401) $("login-form").hidden = false;
  const body = await res.json().catch(() => null);
  if (!res.ok && !answers.includes(res.status)) {
    const message = body && body.error ? body.error.message : res.statusText;
    throw new Error(`${res.status}: ${message}`);
  }
  return body;
}

const enc = encodeURIComponent;

// ---- DOM helpers -----------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

// An element with attributes and children; strings become text nodes (never HTML).
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

const SVG_NS = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  e.append(...children);
  return e;
}

function notice(message) {
  const n = $("notice");
  n.textContent = message;
  n.hidden = !message;
}

// ---- Money -----------------------------------------------------------------------------

// Money is never added across currencies: every amount is shown with its own ISO 4217 code.
// A currency's decimals as a job summary gives them (`minor_units`, from the server's ISO 4217
// table); until one has, the browser's own table (the same ISO list).
const minorUnits = new Map();

// Minor units (integers) of `code` to a localised amount in that currency (JPY 0 decimals,
// KWD 3). A code the browser cannot format is shown as a number followed by the code.
function money(minor, code) {
  let f;
  try {
    f = new Intl.NumberFormat(undefined, { style: "currency", currency: code });
  } catch {
    f = null;
  }
  const decimals = minorUnits.get(code) ?? (f ? f.resolvedOptions().maximumFractionDigits : 2);
  const amount = minor / 10 ** decimals;
  if (!f) return `${amount.toFixed(decimals)} ${code}`;
  return new Intl.NumberFormat(undefined, {
    style: "currency", currency: code, minimumFractionDigits: decimals, maximumFractionDigits: decimals,
  }).format(amount);
}

// A stable colour per category, in the order categories were first seen.
const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
  "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#2f4b7c", "#a05195", "#d45087", "#665191"];
const colours = new Map();
function colour(category) {
  if (!colours.has(category)) colours.set(category, PALETTE[colours.size % PALETTE.length]);
  return colours.get(category);
}

// ---- Classification jobs ---------------------------------------------------------------

let source = null;

async function startJob(event) {
  event.preventDefault();
  notice("");
  const body = {
    customer_id: $("customer").value.trim(),
    partner_id: $("partner").value,
    months: Number($("months").value),
  };
  try {
    // Asynchronous start: 202 with the job id, then the re-attachable event stream.
    const { job_id } = await api("/v1/classifications?mode=async", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    location.hash = `job=${enc(job_id)}`;
    watch(job_id);
  } catch (e) {
    notice(`Could not start: ${e.message}`);
  }
}

// Follows a job's events. EventSource re-attaches by itself after a lost connection, sending
// Last-Event-ID, and the server replays what was missed: each event arrives once, in order.
function watch(jobId) {
  if (source) source.close();
  $("job").hidden = false;
  $("summary").hidden = true;
  $("job-id").textContent = jobId;
  $("job-status").textContent = "connecting";
  for (const id of ["job-pages", "job-transactions", "job-retries"]) $(id).textContent = "0";
  $("events").replaceChildren();

  const es = new EventSource(`/v1/classifications/${enc(jobId)}/events`);
  source = es;
  const on = (name, handle) =>
    es.addEventListener(name, (e) => {
      const data = JSON.parse(e.data);
      logEvent(name, data);
      handle(data);
    });
  on("accepted", (d) => {
    $("job-status").textContent = "running";
    $("view-customer").value = d.customer_id;
  });
  on("page_fetched", (d) => {
    $("job-status").textContent = "running"; // also after a wait or a reconnection
    $("job-pages").textContent = String(Math.max(Number($("job-pages").textContent), d.page));
    if (d.via_retry) $("job-retries").textContent = String(Number($("job-retries").textContent) + 1);
  });
  on("classified", (d) => { $("job-transactions").textContent = String(d.total); });
  on("waiting_for_partner", (d) => { $("job-status").textContent = `waiting for the partner (${d.reason})`; });
  on("circuit_changed", (d) => { $("job-status").textContent = `circuit ${d.to}`; });
  on("done", async (d) => {
    es.close();
    showSummary(d.summary); // first: it tells each currency's decimals
    await showCustomer($("view-customer").value);
    $("job-status").textContent = "done";
  });
  on("failed", (d) => {
    es.close();
    $("job-status").textContent = `failed: ${d.reason}`;
    notice(d.message);
  });
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) $("job-status").textContent = "unknown job or server error";
    else $("job-status").textContent = "reconnecting";
  };
}

function logEvent(name, data) {
  const list = $("events");
  list.append(el("li", {}, el("code", {}, name), " ", JSON.stringify(data)));
  while (list.children.length > 200) list.firstElementChild.remove();
}

// Money in and out per currency, one line each (most transactions first).
function showSummary(s) {
  $("summary-transactions").textContent = String(s.transactions);
  $("summary-pages").textContent = String(s.pages);
  const currencies = Object.entries(s.currencies).sort((a, b) => b[1].count - a[1].count);
  for (const [code, c] of currencies) {
    if (c.minor_units !== null) minorUnits.set(code, c.minor_units);
  }
  for (const [id, field] of [["summary-in", "in_minor"], ["summary-out", "out_minor"]]) {
    $(id).replaceChildren(...currencies.map(([code, c]) =>
      el("span", { class: "per-currency", "data-currency": code, "data-minor": String(c[field]) },
        money(c[field], code))));
  }
  $("summary-elapsed").textContent = `${(s.elapsed_ms / 1000).toFixed(1)} s`;
  $("summary").hidden = false;
}

// ---- Customer: spending charts and transactions ------------------------------------------

let customer = "";
// The customer's spending rows (every currency) and the currency the charts show.
let spendingRows = [];

async function showCustomer(id) {
  if (!id) return;
  customer = id;
  $("customer-shown").textContent = id;
  $("view-customer").value = id;
  // Another customer's table starts unfiltered, on its first page.
  $("tx-q").value = "";
  $("tx-category").value = "";
  tx.cursors = [null];
  try {
    await loadTransactions();
    const spending = await api(`/v1/customers/${enc(id)}/spending?interval=month`);
    spendingRows = spending.rows;
    fillCurrencyChoice(spendingRows);
    drawCharts();
    fillCategoryFilter(spendingRows);
  } catch (e) {
    notice(`Could not load customer ${id}: ${e.message}`);
  }
}

// The charts show one currency at a time, by default the customer's main one (the most
// transactions); the choice is offered when the customer has more than one.
function fillCurrencyChoice(rows) {
  const counts = new Map();
  for (const r of rows) counts.set(r.currency, (counts.get(r.currency) || 0) + r.count);
  const codes = [...counts.keys()].sort((a, b) => counts.get(b) - counts.get(a) || a.localeCompare(b));
  const select = $("chart-currency");
  select.replaceChildren(...codes.map((c) => el("option", { value: c }, c)));
  select.value = codes[0] || "";
  $("chart-currency-choice").hidden = codes.length < 2;
}

function drawCharts() {
  const code = $("chart-currency").value;
  const rows = spendingRows.filter((r) => r.currency === code);
  drawCategories(rows, code);
  drawMonths(rows, code);
}

// One bar per category: its net amount over every month (spending is negative); `rows` are
// all in currency `code`.
function drawCategories(rows, code) {
  const totals = new Map();
  for (const r of rows) {
    const t = totals.get(r.category) || { amount: 0, count: 0 };
    t.amount += r.amount_minor;
    t.count += r.count;
    totals.set(r.category, t);
  }
  const sorted = [...totals].sort((a, b) => a[1].amount - b[1].amount);
  const widest = Math.max(1, ...sorted.map(([, t]) => Math.abs(t.amount)));
  const chart = $("category-chart");
  chart.replaceChildren();
  for (const [category, t] of sorted) {
    const bar = el("span", { class: t.amount < 0 ? "bar out" : "bar in" });
    bar.style.width = `${(100 * Math.abs(t.amount)) / widest}%`;
    bar.style.backgroundColor = colour(category);
    chart.append(el("div", {
      class: "bar-row",
      "data-category": category,
      "data-currency": code,
      "data-amount-minor": String(t.amount),
      "data-count": String(t.count),
    },
    el("span", { class: "label" }, category),
    el("span", { class: "track" }, bar),
    el("span", { class: "value" }, money(t.amount, code)),
    el("span", { class: "count" }, `${t.count} tx`)));
  }
}

// Stacked bars: per month, the categories with money out (negative net) that month; `rows`
// are all in currency `code`.
function drawMonths(rows, code) {
  const months = new Map();
  for (const r of rows) {
    if (r.amount_minor >= 0) continue;
    if (!months.has(r.month)) months.set(r.month, []);
    months.get(r.month).push(r);
  }
  const keys = [...months.keys()].sort();
  const spend = (m) => months.get(m).reduce((s, r) => s - r.amount_minor, 0);
  const tallest = Math.max(1, ...keys.map(spend));
  const W = 64, H = 220, top = 24, bottom = 24;
  const chart = svg("svg", { viewBox: `0 0 ${Math.max(1, keys.length) * W} ${H + top + bottom}`, role: "img" });
  chart.append(svg("title", {}, `Spending per month (${code})`));
  keys.forEach((month, i) => {
    const total = spend(month);
    const g = svg("g", {
      class: "month", "data-month": month, "data-currency": code, "data-spend-minor": String(-total),
    });
    let y = top + H;
    for (const r of months.get(month).sort((a, b) => a.category.localeCompare(b.category))) {
      const h = (H * -r.amount_minor) / tallest;
      y -= h;
      g.append(svg("rect", { x: i * W + 8, y, width: W - 16, height: h, fill: colour(r.category) },
        svg("title", {}, `${r.category} ${month}: ${money(r.amount_minor, code)} (${r.count} tx)`)));
    }
    g.append(svg("text", { x: i * W + W / 2, y: y - 6, class: "total" }, money(-total, code)));
    g.append(svg("text", { x: i * W + W / 2, y: top + H + 16, class: "axis" }, month));
    chart.append(g);
  });
  $("month-chart").replaceChildren(chart);
  const legend = $("legend");
  legend.replaceChildren();
  for (const category of new Set(rows.filter((r) => r.amount_minor < 0).map((r) => r.category))) {
    const swatch = el("span", { class: "swatch" });
    swatch.style.backgroundColor = colour(category);
    legend.append(el("li", {}, swatch, category));
  }
}

function fillCategoryFilter(rows) {
  const select = $("tx-category");
  const chosen = select.value;
  const categories = [...new Set(rows.map((r) => r.category))].sort();
  select.replaceChildren(el("option", { value: "" }, "all"),
    ...categories.map((c) => el("option", { value: c }, c)));
  select.value = categories.includes(chosen) ? chosen : "";
}

// The transactions table: keyset pages; `cursors[i]` opens page i (null: the first).
// `seq` numbers the loads, so an older answer arriving late is dropped.
const tx = { cursors: [null], next: null, seq: 0 };

// The categories a correction may give (the model's), from `GET /v1/categories`; the
// table waits for them.
let categories = [];
let categoriesLoaded = null;

// The table's columns: title, cell (text or an element), class.
const COLUMNS = [
  ["Date", (t) => t.date],
  ["Description", (t) => t.description],
  ["Category", categoryCell, "category"],
  ["Confidence", (t) => `${Math.round(t.probability * 100)} %`, "confidence"],
  ["Decided by", (t) => t.source, "source"],
  ["Amount", (t) => money(t.amount_minor, t.currency), "num"],
];

// A transaction's category as a choice: picking another one corrects it. An uncertain
// one shows the model's best guess beside it, the choice a reviewer most often confirms.
function categoryCell(t) {
  const select = el("select", { class: "correct", "aria-label": `Category of ${t.description}` });
  const known = categories.includes(t.category) ? categories : [t.category, ...categories];
  const label = (c) => (c === t.category && t.guess ? `${c} (best guess: ${t.guess})` : c);
  select.append(...known.map((c) => el("option", { value: c }, label(c))));
  select.value = t.category;
  select.dataset.was = t.category;
  select.addEventListener("change", () => correct(t, select));
  return select;
}

// Sends a correction; the row, the charts and the filter follow the stored answer. The
// rule K consistent corrections suggest is offered with a button that creates it.
async function correct(t, select) {
  notice("");
  select.disabled = true;
  try {
    const out = await api(`/v1/customers/${enc(customer)}/transactions/${enc(t.id)}/category`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ category: select.value, partner_id: t.partner_id }),
    });
    const row = select.closest("tr");
    row.querySelector("td.source").textContent = out.transaction.source;
    row.querySelector("td.confidence").textContent = `${Math.round(out.transaction.probability * 100)} %`;
    select.dataset.was = out.transaction.category;
    row.dataset.corrected = "true";
    suggest(out);
    const spending = await api(`/v1/customers/${enc(customer)}/spending?interval=month`);
    spendingRows = spending.rows;
    drawCharts();
    fillCategoryFilter(spendingRows);
  } catch (e) {
    select.value = select.dataset.was;
    notice(`Could not correct: ${e.message}`);
  } finally {
    select.disabled = false;
  }
}

// Shows what a correction suggests: a rule for the merchant (created already, or a button).
function suggest(out) {
  const box = $("suggestion");
  const rule = out.suggested_rule;
  if (!rule) { box.hidden = true; return; }
  const what = `${rule.conditions.merchant_is} → ${rule.action.category}`;
  if (out.rule_created) {
    box.replaceChildren(`Rule ${rule.id} created: ${what}.`);
  } else {
    const create = el("button", { type: "button", id: "create-rule" }, "Create rule");
    create.addEventListener("click", async () => {
      try {
        await api("/v1/rules", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(rule),
        });
        box.replaceChildren(`Rule ${rule.id} created: ${what}.`);
      } catch (e) {
        notice(`Could not create the rule: ${e.message}`);
      }
    });
    box.replaceChildren(`Your corrections suggest a rule: ${what}. `, create);
  }
  box.hidden = false;
}

async function loadTransactions() {
  if (!customer) return;
  const params = new URLSearchParams({ limit: $("tx-limit").value });
  const q = $("tx-q").value.trim();
  if (q) params.set("q", q);
  if ($("tx-category").value) params.set("category", $("tx-category").value);
  const cursor = tx.cursors[tx.cursors.length - 1];
  if (cursor) params.set("cursor", cursor);
  const seq = ++tx.seq;
  await categoriesLoaded;
  const table = $("tx-table");
  table.setAttribute("aria-busy", "true");
  try {
    const page = await api(`/v1/customers/${enc(customer)}/transactions?${params}`);
    if (seq !== tx.seq) return;
    $("tx-rows").replaceChildren(...page.items.map((t) =>
      el("tr", { "data-id": t.id, "data-partner": t.partner_id, "data-amount-minor": String(t.amount_minor) },
        ...COLUMNS.map(([, cell, cls]) => el("td", cls ? { class: cls } : {}, cell(t))))));
    tx.next = page.next_cursor;
    $("tx-older").disabled = !tx.next;
    $("tx-newer").disabled = tx.cursors.length < 2;
    $("tx-page").textContent = `page ${tx.cursors.length}, ${page.items.length} rows`;
  } catch (e) {
    notice(`Could not load transactions: ${e.message}`);
  } finally {
    if (seq === tx.seq) table.setAttribute("aria-busy", "false");
  }
}

function refilter() {
  tx.cursors = [null];
  loadTransactions();
}

// ---- Partners ----------------------------------------------------------------------------

// The last live health check of each partner, shown until the next one.
const health = new Map();

async function checkHealth(id) {
  try {
    const { health: h } = await api(`/v1/partners/${enc(id)}/health`, {}, [503]);
    health.set(id, h.healthy ? `ok, ${h.latency_ms} ms` : `unhealthy: ${h.detail || h.status}`);
  } catch (e) {
    health.set(id, `check failed: ${e.message}`);
  }
  loadPartners();
}

async function loadPartners() {
  try {
    const { partners } = await api("/v1/partners");
    $("partner-rows").replaceChildren(...partners.map((p) => {
      const check = el("button", { type: "button", class: "check" }, "Check");
      check.addEventListener("click", () => checkHealth(p.id));
      return el("tr", { "data-partner": p.id, class: `circuit-${p.circuit}` },
        el("td", {}, p.id), el("td", { class: "num" }, String(p.capacity)),
        el("td", { class: "num" }, String(p.in_use)), el("td", {}, p.circuit),
        el("td", { class: "health" }, check, " ", health.get(p.id) || ""));
    }));
    const select = $("partner");
    if (!select.options.length) {
      select.replaceChildren(...partners.map((p) => el("option", { value: p.id }, p.id)));
    }
  } catch (e) {
    notice(`Could not load partners: ${e.message}`);
  }
}

// ---- Start -------------------------------------------------------------------------------

async function loadCategories() {
  try {
    ({ categories } = await api("/v1/categories"));
  } catch (e) {
    notice(`Could not load the categories: ${e.message}`);
  }
}

// Trades the key typed in for the session cookie (the key itself is kept nowhere), then
// starts again with it.
async function signIn(event) {
  event.preventDefault();
  const key = $("api-key").value.trim();
  $("api-key").value = "";
  const res = await fetch("/v1/session", { method: "POST", headers: { Authorization: `Bearer ${key}` } });
  if (res.ok) location.reload();
  else notice("That key does not work.");
}

function start() {
  $("login-form").addEventListener("submit", signIn);
  categoriesLoaded = loadCategories();
  $("tx-head").replaceChildren(...COLUMNS.map(([title, , cls]) => el("th", cls ? { class: cls } : {}, title)));
  $("start-form").addEventListener("submit", startJob);
  $("watch-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const id = $("watch-id").value.trim();
    if (id) { location.hash = `job=${enc(id)}`; watch(id); }
  });
  $("customer-form").addEventListener("submit", (e) => {
    e.preventDefault();
    showCustomer($("view-customer").value.trim());
  });
  let typing = 0;
  $("tx-q").addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(refilter, 250); });
  $("tx-q").addEventListener("change", refilter);
  $("tx-form").addEventListener("submit", (e) => { e.preventDefault(); refilter(); });
  $("tx-category").addEventListener("change", refilter);
  $("chart-currency").addEventListener("change", drawCharts);
  $("tx-limit").addEventListener("change", refilter);
  $("tx-older").addEventListener("click", () => {
    if (tx.next) { tx.cursors.push(tx.next); loadTransactions(); }
  });
  $("tx-newer").addEventListener("click", () => {
    if (tx.cursors.length > 1) { tx.cursors.pop(); loadTransactions(); }
  });
  loadPartners();
  setInterval(loadPartners, 5000);
  // A page opened on #job=<id> re-attaches to that job (and replays its events).
  const job = new URLSearchParams(location.hash.slice(1)).get("job");
  if (job) watch(job);
}

document.addEventListener("DOMContentLoaded", start);
