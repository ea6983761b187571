#!/usr/bin/env bash
# The README tour's job, scored: the server (release build, embedded defaults, a store of its
# own under target/tour) classifies the last 3 months of customer c-1 at the sandbox partner,
# and every stored transaction is compared with the category the partner simulator drew it
# from (`txclass sim --merchants`, from `txclass-core/src/simulator/data.rs`). Prints how
# many were flagged `uncertain`, how many best guesses are right, and the lines that are
# wrong though not flagged. With MODEL=path, the same stored lines are also scored offline by
# that model (`txclass classify --model`), so two models are compared on the same lines (the
# job's three months end on the day it runs, so another day gives other lines).
#
# Usage: benches/tour.sh            MODEL=old.model benches/tour.sh
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/txclass-bin.sh
cargo build --release -q -p txclass-server >&2
DIR=target/tour
rm -rf "$DIR" && mkdir -p "$DIR"
PORT=${PORT:-18080}
(cd "$DIR" && TXCLASS_LISTEN=127.0.0.1:$PORT exec ../release/txclass-server > server.log 2>&1) &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$PORT/healthz" > /dev/null 2>&1 && break
  sleep 0.1
done
curl -sN -X POST "http://127.0.0.1:$PORT/v1/classifications" \
  -d '{"customer_id": "c-1", "partner_id": "sandbox", "months": 3}' > "$DIR/events.txt"
grep -q '^event: done' "$DIR/events.txt" || { echo "the job did not finish:" >&2; tail "$DIR/events.txt" >&2; exit 1; }

python3 - "$PORT" "$DIR" "$TX" "${MODEL:-}" <<'PYEOF'
import csv, json, subprocess, sys, urllib.request
port, out, tx, model = sys.argv[1:5]
# The simulator's merchants and their categories, as the simulator itself lists them.
KINDS = {}
for r in csv.DictReader(subprocess.run([tx, "sim", "--merchants"], capture_output=True,
                                       text=True, check=True).stdout.splitlines()):
    KINDS.setdefault(r["category"], []).append(r["merchant"])
def truth(desc):
    # The longest merchant name the line holds (`AMAZON PRIME` before a shorter match).
    hits = [(len(m), c) for c, ms in KINDS.items() for m in ms if m in desc]
    return max(hits)[1] if hits else None

rows, cursor = [], None
while True:
    url = f"http://127.0.0.1:{port}/v1/customers/c-1/transactions?limit=1000"
    if cursor:
        url += f"&cursor={cursor}"
    page = json.load(urllib.request.urlopen(url))
    rows += page["items"]
    cursor = page.get("next_cursor")
    if not cursor:
        break

def score(name, lines):
    """lines: (description, best guess, uncertain) of every stored transaction"""
    flagged = sum(u for _, _, u in lines)
    right = sum(truth(d) == g for d, g, _ in lines)
    kept = [(d, g) for d, g, u in lines if not u]
    kept_right = sum(truth(d) == g for d, g in kept)
    print(f"{name}: {flagged} of {len(lines)} uncertain; best guess right on {right} of "
          f"{len(lines)}, and on {kept_right} of the {len(kept)} not flagged")
    wrong = sorted({(d, g, truth(d)) for d, g in kept if truth(d) != g})
    for d, g, t in wrong:
        print(f"   kept, wrong: {d!r}: {g} (the simulator's: {t})")

missing = [r["description"] for r in rows if truth(r["description"]) is None]
if missing:
    sys.exit(f"lines of no simulator merchant: {missing[:5]}")

# A stored line flagged `uncertain` keeps no best guess: the stored lines are scored offline
# too (`txclass classify`), by the bundled model, as the server does, and by MODEL if given.
path = f"{out}/lines.csv"
with open(path, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["id", "date", "description", "amount", "currency"])
    for i, r in enumerate(rows):
        # The sandbox's currencies (BRL, USD) have 2 minor units.
        assert r["currency"] in ("BRL", "USD", "EUR"), r["currency"]
        w.writerow([i, r["date"], r["description"], f"{r['amount_minor'] / 100:.2f}", r["currency"]])

def classify(model, threshold):
    cmd = [tx, "classify", path, "--output-format", "ndjson"]
    cmd += ["--model", model] if model else []
    cmd += ["--uncertain-below", threshold] if threshold else []
    res = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [json.loads(l) for l in res.splitlines()]

def offline(model):
    flagged, best = classify(model, None), classify(model, "0")
    return [(f["description"], b["category"], f["uncertain"]) for f, b in zip(flagged, best)]

bundled = offline(None)
server_flags = [r["category"] == "uncertain" for r in rows]
if server_flags != [u for _, _, u in bundled]:
    sys.exit("the server and `txclass classify` flag different lines")
score("the tour's job (bundled model)", bundled)
if model:
    score(model, offline(model))
PYEOF
