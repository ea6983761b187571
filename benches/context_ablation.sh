#!/usr/bin/env bash
# Ablation of the context stage (amount, date, rail) on the brand-held-out test split of the
# real-brand corpus: the same text weights with the context off, gated by the text's
# uncertainty (shipped), and always at full weight; accuracy per slice where the text is
# weak (transfer rails, income, rent, fees, taxes) and on card lines, and the share of
# lines whose category changes when every amount is set to -50.00 or -1000.00.
#
#   benches/context_ablation.sh                      # ~2 min on 2 cores
#   MAIN_TX=/path/to/old/txclass benches/context_ablation.sh   # adds a row for a build
#       whose amount features share the text's space (trained on the same rows)
#
# Figures of one run (seed 42, 100,000 rows: 70,000 train, 10,000 validation, 11,000 test):
# see README.md, "Benchmarks".
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=${ROWS:-100000}
DATA=target/ablation-data
MAIN_TX=${MAIN_TX:-}

cargo build --release -q -p txclass-cli
TX=target/release/txclass
"$TX" gen-data --rows "$ROWS" --seed 42 --out-dir "$DATA" >/dev/null

python3 - "$DATA" <<'PYEOF'
import csv, re, sys
d = sys.argv[1]
def slices_of(base):
  rows = list(csv.DictReader(open(f"{d}/{base}.csv", newline="", encoding="utf-8")))
  rail = re.compile(r"\b(PIX|TED|DOC|TRANSF|TRANSFER|TRANSFERENCIA|BIZUM|ZELLE|VENMO|FASTER PAYMENT|"
                    r"VIR|VIREMENT|UEBERWEISUNG|GUTSCHRIFT|DAUERAUFTRAG|BGC)\b", re.I)
  weak = {"income", "rent", "fees", "taxes", "transfers", "cash"}
  slices = {
      "transfer_rail": lambda r: bool(rail.search(r["description"])),
      "income": lambda r: r["category"] == "income",
      "rent": lambda r: r["category"] == "rent",
      "fees": lambda r: r["category"] == "fees",
      "taxes": lambda r: r["category"] == "taxes",
      "card": lambda r: r["category"] not in weak,
  }
  for name, keep in slices.items():
      with open(f"{d}/{base}.slice_{name}.csv", "w", newline="", encoding="utf-8") as f:
          w = csv.DictWriter(f, fieldnames=rows[0].keys())
          w.writeheader()
          w.writerows(r for r in rows if keep(r))
  for amount in ["-50.00", "-1000.00"]:
      with open(f"{d}/{base}.amount_{amount}.csv", "w", newline="", encoding="utf-8") as f:
          w = csv.DictWriter(f, fieldnames=rows[0].keys())
          w.writeheader()
          # Pesos of Chile have no cents: -50 there.
          w.writerows({**r, "amount": amount[:-3] if r["currency"] == "CLP" else amount}
                      for r in rows)
for base in ["test", "test_template"]:
    slices_of(base)
PYEOF

train() { # name binary extra-args...
  local name=$1 bin=$2
  shift 2
  "$bin" train "$DATA/train.csv" --validation "$DATA/validation.csv" -o "$DATA/$name.model" \
    --threads 2 "$@" >/dev/null
}
train off "$TX" --context off
train gated "$TX" --context gated
train always "$TX" --context always
MODELS="off gated always"
if [ -n "$MAIN_TX" ]; then
  train shared "$MAIN_TX"
  MODELS="$MODELS shared"
fi

for m in $MODELS; do
  bin=$TX
  [ "$m" = shared ] && bin=$MAIN_TX
  for base in test test_template; do
    for s in slice_transfer_rail slice_income slice_rent slice_fees slice_taxes slice_card; do
      "$bin" eval "$DATA/$m.model" "$DATA/$base.$s.csv" --json >"$DATA/$m.$base.$s.json"
    done
    "$bin" eval "$DATA/$m.model" "$DATA/$base.csv" --json >"$DATA/$m.$base.all.json"
    for a in -50.00 -1000.00; do
      "$bin" classify "$DATA/$base.amount_$a.csv" --model "$DATA/$m.model" --uncertain-below 0 -q \
        -o "$DATA/$m.$base.amount_$a.out.csv"
    done
    "$bin" classify "$DATA/$base.csv" --model "$DATA/$m.model" --uncertain-below 0 -q \
      -o "$DATA/$m.$base.out.csv"
  done
done

python3 - "$DATA" "$MODELS" <<'PYEOF'
import csv, json, sys
d, models = sys.argv[1], sys.argv[2].split()
names = {"off": "text only (context off)", "gated": "context gated by text uncertainty (shipped)",
         "always": "context always at full weight", "shared": "amount features in the text space (MAIN_TX)"}
cols = [("all", "all"), ("slice_transfer_rail", "transfer rails"), ("slice_income", "income"),
        ("slice_rent", "rent"), ("slice_fees", "fees"), ("slice_taxes", "taxes"), ("slice_card", "card lines")]
def cats(path):
    return [r["category"] for r in csv.DictReader(open(path, newline="", encoding="utf-8"))]
def probs(path):
    return [float(r["probability"]) for r in csv.DictReader(open(path, newline="", encoding="utf-8"))]
for split, title in [("test", "brand-held-out test (test.csv)"),
                     ("test_template", "held-out templates and prefixes (test_template.csv)")]:
    print(f"\naccuracy on {title}; share of lines whose category changes at another amount")
    n = {c: json.load(open(f"{d}/gated.{split}.{c}.json"))["rows"] for c, _ in cols}
    # Lines the text-only model (context off) labels with p >= 0.9: the metamorphic test's set.
    sure = [p >= 0.9 for p in probs(f"{d}/off.{split}.out.csv")]
    head = ["model"] + [f"{t} ({n[c]})" for c, t in cols] + [
        "changed at -50.00", "changed at -1000.00",
        f"changed at -50.00 / -1000.00, text-only p >= 0.9 ({sum(sure)})"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for m in models:
        accs = [json.load(open(f"{d}/{m}.{split}.{c}.json"))["accuracy"] for c, _ in cols]
        base = cats(f"{d}/{m}.{split}.out.csv")
        changed, changed_sure = [], []
        for a in ["-50.00", "-1000.00"]:
            other = cats(f"{d}/{m}.{split}.amount_{a}.out.csv")
            changed.append(sum(x != y for x, y in zip(base, other)) / len(base))
            changed_sure.append(sum(x != y for x, y, s in zip(base, other, sure) if s) / max(1, sum(sure)))
        cells = [names[m]] + [f"{x:.4f}" for x in accs] + [f"{100*c:.1f} %" for c in changed] + [
            " / ".join(f"{100*c:.2f} %" for c in changed_sure)]
        print("| " + " | ".join(cells) + " |")
PYEOF
