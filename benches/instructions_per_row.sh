#!/usr/bin/env bash
# Instructions `txclass eval --threads 1` runs per statement line, counted by valgrind's
# cachegrind: a figure of the prediction path that a busy or shared machine does not move
# (on a noisy 2-core machine, rows a second of the same binary on the same file varied from
# 95,000 to 180,000 run to run, so a change of a few per cent could not be seen).
# Instructions are not time (a read from memory costs more than an addition, and cachegrind
# does not model prefetches), so read a change here beside the speed runs of
# `benches/classifier_vs_sklearn.sh speed` when the machine allows them.
#
# The count of a file of N lines less that of its first line alone, over N - 1: loading the
# model and the word table is left out.
#
# Usage: benches/instructions_per_row.sh [MODEL [FILE]]
#        (default: the bundled model on the `test.csv` of `gen-data --seed 42`, 10,974 lines;
#        TXCLASS_BIN=path/to/txclass counts that build; needs valgrind: apt-get install valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."

command -v valgrind > /dev/null || { echo "valgrind is missing: apt-get install valgrind" >&2; exit 1; }
MODEL=${1:-bundled}
FILE=${2:-}
DIR=target/instructions
mkdir -p "$DIR"
. scripts/txclass-bin.sh
if [ -z "$FILE" ]; then
  [ -f target/gen42/test.csv ] || "$TX" gen-data --seed 42 --out-dir target/gen42 > /dev/null
  FILE=target/gen42/test.csv
fi
head -2 "$FILE" > "$DIR/first.csv"

count() {
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
    "$TX" eval "$MODEL" "$1" --json --threads 1 2>&1 > /dev/null \
    | sed -n 's/.*I *refs: *//p' | tr -d ,
}
all=$(count "$FILE")
one=$(count "$DIR/first.csv")
n=$(($(wc -l < "$FILE") - 1))
echo "$FILE, model $MODEL: $(( (all - one) / (n - 1) )) instructions a line ($n lines; $all in all, $one for the first line alone)"
