#!/usr/bin/env bash
# A model on the brands of the index whose names have an apostrophe (668 of them: LOWE'S,
# MCDONALD'S, SAINSBURY'S, CAISSE D'EPARGNE), printed the three ways terminals print them:
# with the apostrophe, without it (`LOWES #1234`, `MCDONALDS`: the most common on real
# statements) and with a space in its place (`LOWE S`). A model should read the three alike.
# Labels are the brand's category in `txclass-core/data/corpus/brands.tsv`; every line is a
# card purchase of -25.00 USD, one in two with a store number.
#
# Prints, for each form, `txclass eval`'s accuracy, macro-F1, lines flagged `uncertain` and the
# accuracy of the rest (labels are main categories: scored at the main level).
#
# Usage: benches/apostrophe_brands.sh [MODEL]  (MODEL: a model file, default the bundled one;
#        writes target/apostrophe-brands/; TXCLASS_BIN=path/to/txclass runs that build)
# Last run: see README.md, "Benchmarks".
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=target/apostrophe-brands
mkdir -p "$DIR"
MODEL=${1:-bundled}
. scripts/txclass-bin.sh

python3 - txclass-core/data/corpus/brands.tsv "$DIR" <<'PYEOF'
import csv, sys
src, d = sys.argv[1], sys.argv[2]
brands = []
for line in open(src, encoding="utf-8"):
    if line.startswith("#"):
        continue
    category, _tag, name = line.rstrip("\n").split("\t")[:3]
    if "'" in name or "\u2019" in name:
        brands.append((category, name.upper()))
forms = {
    "apostrophe": lambda n: n,
    "without": lambda n: n.replace("'", "").replace("\u2019", ""),
    "space": lambda n: n.replace("'", " ").replace("\u2019", " "),
}
for form, printed in forms.items():
    with open(f"{d}/{form}.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "date", "description", "amount", "currency", "category"])
        for i, (category, name) in enumerate(brands):
            store = f" #{1000 + i * 37 % 9000}" if i % 2 else ""
            w.writerow([f"b{i}", "2024-03-05", printed(name) + store, "-25.00", "USD", category])
print(f"{len(brands)} brands with an apostrophe")
PYEOF

for form in apostrophe without space; do
  echo "== printed $form"
  "$TX" eval "$MODEL" "$DIR/$form.csv" 2>/dev/null | grep -E '^(rows|accuracy|macro-F1|uncertain):'
done
