#!/usr/bin/env bash
# Ablation of the word vectors (the mean GloVe vector of a line's merchant words, feature
# version 4) on the real-brand corpus: the same rows trained with and without them, measured
# on the three held-out splits (brands, countries, layouts/templates never seen in training).
# Prints accuracy / macro-F1, the share flagged `uncertain` with the accuracy of the rest, and
# prediction throughput (CSV -> labels, one core, best of 3) for both.
#
#   benches/word_vectors_ablation.sh          # ~6 min on 2 cores (two trainings of 70,000 rows)
#
# Figures of one run: see README.md, "Benchmarks".
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=${ROWS:-100000}
DATA=target/word-vectors-data
cargo build --release -q -p txclass-cli
TX=target/release/txclass
"$TX" gen-data --rows "$ROWS" --seed 42 --out-dir "$DATA" >/dev/null
SPEED="$DATA/speed.csv"
{ head -1 "$DATA/test.csv"; for _ in 1 2 3 4 5; do tail -n +2 "$DATA/test.csv"; done; } > "$SPEED"

for variant in with without; do
  flag=()
  [ "$variant" = without ] && flag=(--no-word-vectors)
  "$TX" train "$DATA/train.csv" --validation "$DATA/validation.csv" --dim-bits 16 \
    --class-weight none --target-accuracy 0.97 "${flag[@]}" -o "$DATA/$variant.model" \
    | grep -E "^(time|model):" | sed "s/^/$variant: /"
  for split in test test_country test_template; do
    "$TX" eval "$DATA/$variant.model" "$DATA/$split.csv" --json > "$DATA/$variant-$split.json"
  done
  for i in 1 2 3; do
    "$TX" eval "$DATA/$variant.model" "$SPEED" --json --threads 1 > "$DATA/$variant-speed-$i.json"
  done
done

python3 - "$DATA" <<'PYEOF'
import json, sys
d = sys.argv[1]
def get(v, s): return json.load(open(f"{d}/{v}-{s}.json"))
print(f"{'held-out split':<16} {'without word vectors':>34} {'with':>34}")
for split in ["test", "test_country", "test_template"]:
    cells = []
    for v in ["without", "with"]:
        e = get(v, split)
        cells.append(f"{e['accuracy']:.4f} / {e['macro_f1']:.4f}, {100 * e['uncertain'] / e['rows']:.1f} % flagged "
                     f"({e['accuracy_when_certain']:.3f})")
    print(f"{split:<16} {cells[0]:>34} {cells[1]:>34}")
speed = {v: max(get(v, f"speed-{i}")["rows_per_second"] for i in (1, 2, 3)) for v in ["without", "with"]}
print(f"predict CSV->labels, rows/s (1 core): without {speed['without']:,.0f}, with {speed['with']:,.0f}")
wo, w = get("without", "test"), get("with", "test")
print("recall per class on brands never seen (without -> with):")
recall = lambda e: {c["label"]: c["recall"] for c in e["per_class"]}
for c, a in recall(wo).items():
    b = recall(w)[c]
    print(f"  {c:<14} {a:.3f} -> {b:.3f} ({100 * (b - a):+.1f} pt)")
PYEOF
