#!/usr/bin/env bash
# What rules cost `txclass classify`: the 70,000 training rows of `gen-data --seed 42`
# classified without rules and with 20 rules (10 regular expressions, 10 substrings, 16 pre
# and 4 post), best of 5 runs each; also how many rows the rules decided.
#
#   benches/rules_overhead.sh            # release build, then ~10 s
#
# Figures of one run: see README.md, "Benchmarks".
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=target/rules-bench
cargo build --release -q -p txclass-cli
TX=target/release/txclass
mkdir -p "$DATA"
"$TX" gen-data --rows 100000 --seed 42 --out-dir "$DATA" >/dev/null

python3 - "$DATA/rules20.toml" <<'PYEOF'
import sys
words = ["aluguel", "netflix", "uber", "ifood", "posto", "farmacia", "drogasil", "padaria",
         "mercado", "shell", "spotify", "amazon", "mercadolivre", "rappi", "99app", "vivo",
         "claro", "tim", "enel", "sabesp"]
out = []
for i, w in enumerate(words):
    cond = f"description_matches = '{w}\\s*\\w*'" if i % 2 == 0 else f'description_contains = "{w}"'
    stage = "post" if i % 5 == 4 else "pre"
    out.append(f'[[rules]]\nid = "r{i:02d}"\nstage = "{stage}"\norder = {i}\n'
               f'conditions = {{ {cond}, sign = "out" }}\n'
               f'action = {{ category = "c{i:02d}", merchant = "{w.title()}" }}\n')
open(sys.argv[1], "w").write("\n".join(out))
PYEOF

best() {
    local best=0
    for _ in 1 2 3 4 5; do
        r=$("$TX" classify "$DATA/train.csv" "$@" -o /dev/null 2>&1 | grep -o '[0-9]* rows/s' | cut -d' ' -f1)
        if [ "$r" -gt "$best" ]; then best=$r; fi
    done
    echo "$best"
}
none=$(best)
with=$(best --rules "$DATA/rules20.toml")
"$TX" classify "$DATA/train.csv" --rules "$DATA/rules20.toml" -o "$DATA/out.csv" 2>/dev/null
decided=$(python3 -c "import csv,sys; print(sum(1 for r in csv.DictReader(open(sys.argv[1])) if r['source'] != 'model'))" "$DATA/out.csv")
echo "classify, 70,000 rows, best of 5: no rules $none rows/s; 20 rules $with rows/s ($decided rows decided by a rule)"
