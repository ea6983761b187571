#!/usr/bin/env bash
# A model on the brands of the index whose names have an apostrophe (668 of them: LOWE'S,
# MCDONALD'S, SAINSBURY'S, CAISSE D'EPARGNE) or a hyphen (470: DIS-CHEM, 7-ELEVEN,
# COCA-COLA), printed the three ways terminals print them: with the mark, without it
# (`LOWES #1234`, `DISCHEM`: the most common on real statements) and with a space in its
# place (`LOWE S`, `DIS CHEM`). A model should read the three alike. Labels are the brand's
# category in `txclass-core/data/corpus/brands.tsv`; every line is a card purchase of
# -25.00 USD, one in two with a store number.
#
# Prints, for each mark and form, `txclass eval`'s accuracy, macro-F1, lines flagged
# `uncertain` and the accuracy of the rest (labels are main categories: scored at the main
# level).
#
# Usage: benches/punctuated_brands.sh [MODEL]  (MODEL: a model file, default the bundled one;
#        writes target/punctuated-brands/; TXCLASS_BIN=path/to/txclass runs that build)
# Last run: see README.md, "Benchmarks".
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=target/punctuated-brands
mkdir -p "$DIR"
MODEL=${1:-bundled}
. scripts/txclass-bin.sh

python3 - txclass-core/data/corpus/brands.tsv "$DIR" <<'PYEOF'
import csv, sys
src, d = sys.argv[1], sys.argv[2]
MARKS = {"apostrophe": ("'", "\u2019"), "hyphen": ("-",)}
brands = {mark: [] for mark in MARKS}
for line in open(src, encoding="utf-8"):
    if line.startswith("#"):
        continue
    category, _tag, name = line.rstrip("\n").split("\t")[:3]
    for mark, chars in MARKS.items():
        if any(c in name for c in chars):
            brands[mark].append((category, name.upper()))
for mark, chars in MARKS.items():
    def printed(name, by):
        for c in chars:
            name = name.replace(c, by)
        return name
    forms = {"with": lambda n: n, "without": lambda n: printed(n, ""),
             "space": lambda n: printed(n, " ")}
    for form, print_as in forms.items():
        with open(f"{d}/{mark}-{form}.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["id", "date", "description", "amount", "currency", "category"])
            for i, (category, name) in enumerate(brands[mark]):
                store = f" #{1000 + i * 37 % 9000}" if i % 2 else ""
                w.writerow([f"b{i}", "2024-03-05", print_as(name) + store, "-25.00", "USD",
                            category])
    print(f"{len(brands[mark])} brands with {'an' if mark[0] in 'aeiou' else 'a'} {mark}")
PYEOF

for mark in apostrophe hyphen; do
  for form in with without space; do
    case $form in
      with) how="with it" ;; without) how="without it" ;; space) how="a space in its place" ;;
    esac
    echo "== $mark, printed $how"
    "$TX" eval "$MODEL" "$DIR/$mark-$form.csv" 2>/dev/null | grep -E '^(rows|accuracy|macro-F1|uncertain):'
  done
done
