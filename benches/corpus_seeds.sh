#!/usr/bin/env bash
# How far the figures move when nothing changes but the corpus's random draw: the held-out
# recipe (scripts/bundled-model.sh held-out) trained on the corpus of each seed, every model
# measured on the same lines: the corpus's own held-out test (`gen-data --seed 42`), the real
# South African lines (benches/real_za.sh) and the real Czech card lines (benches/real_lines.sh,
# note and merchant forms). A change to the corpus or the learner is worth keeping when it
# moves the mean by more than this spread, not when one draw moves. The three `uncertain`
# thresholds (familiar, anchored, stranger lines) are printed too: fitted for 97 % on each
# draw's validation rows, they move the flagged shares.
#
# Usage: benches/corpus_seeds.sh [SEED...]   (default 7 8 9; about 4 minutes a seed on 2 cores;
#        needs PyPI for the Czech file; TXCLASS_BIN=path/to/txclass measures that build)
# Last run: see README.md, "Benchmarks".
set -euo pipefail
cd "$(dirname "$0")/.."

SEEDS=("$@")
[ ${#SEEDS[@]} -gt 0 ] || SEEDS=(7 8 9)
. scripts/txclass-bin.sh
export TXCLASS_BIN=$TX   # the scripts it runs use this build too
TEST=target/corpus-seeds/gen42
[ -f "$TEST/test.csv" ] && [ "$TEST/test.csv" -nt "$TX" ] ||
  "$TX" gen-data --seed 42 --out-dir "$TEST" > /dev/null

# accuracy, the share flagged `uncertain` and the accuracy of the rest, from `txclass eval`.
figures() {
  awk '/^accuracy:/ { a = $2 }
       /^uncertain:/ { gsub(/[(%]/, "", $3); u = $3; r = $NF }
       END { printf "%s %s %s", a, u, r }'
}
# The model's thresholds for familiar, anchored and stranger lines, from `txclass eval`.
thresholds() {
  awk '/^  (familiar|anchored|stranger) / { sub(/:$/, "", $11); printf "%s ", $11 }'
}

OUT=target/corpus-seeds/figures.txt
: > "$OUT"
for seed in "${SEEDS[@]}"; do
  model=$(SEED=$seed scripts/bundled-model.sh held-out)
  "$TX" eval "$model" "$TEST/test.csv" > target/corpus-seeds/eval.txt
  gen=$(figures < target/corpus-seeds/eval.txt)
  za=$(benches/real_za.sh "$model" | figures)
  cz=$(benches/real_lines.sh "$model" | awk '/^accuracy:/ { printf "%s ", $2 }')
  echo "$seed $gen $za $cz$(thresholds < target/corpus-seeds/eval.txt)" | tee -a "$OUT"
done

python3 - "$OUT" <<'PYEOF'
import statistics, sys
rows = [list(map(float, l.split()[1:])) for l in open(sys.argv[1]) if l.strip()]
names = ["test accuracy", "test flagged %", "test kept right", "ZA accuracy", "ZA flagged %",
         "ZA kept right", "Czech note accuracy", "Czech merchant accuracy",
         "threshold, familiar", "threshold, anchored", "threshold, strangers"]
print(f"{len(rows)} seeds: mean, min-max, standard deviation")
for i, name in enumerate(names):
    col = [r[i] for r in rows]
    sd = statistics.stdev(col) if len(col) > 1 else 0.0
    print(f"  {name:24} {statistics.mean(col):8.4f}  {min(col):.4f}-{max(col):.4f}  sd {sd:.4f}")
PYEOF
