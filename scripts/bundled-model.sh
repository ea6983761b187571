#!/usr/bin/env bash
# The bundled model, and the model it is measured by: one recipe, two trainings.
#
# Usage: scripts/bundled-model.sh ship       writes txclass-core/data/bundled.model (committed)
#        scripts/bundled-model.sh held-out   writes target/bundled-data/held-out.model and
#                                            prints its path (kept until the binary changes)
#        SEED=8 scripts/bundled-model.sh held-out   the same recipe on another draw of the corpus,
#                                            in target/bundled-data-seed8/ (benches/corpus_seeds.sh)
#        TXCLASS_BIN=path/to/txclass ...     trains with that build instead of building this one
#
# Both read the real-brand corpus of `txclass gen-data --seed 7 --rows 200000` and train with
# the same settings (`--dim-bits 16 --class-weight none --target-accuracy 0.97`), fitting the
# context stage, temperature and `uncertain` threshold on its validation rows, whose brands,
# countries and layouts the first training never saw.
#
# - held-out trains on train.csv only. It never saw the corpus's test brands (held out by a
#   hash of the name, the same for every seed), countries or layouts, so its figures on the
#   test files of `gen-data` (any seed) measure merchants it never saw: every benchmark of
#   generalisation uses it.
# - ship trains on train.csv, the three test files and brands.csv, calibrates on the
#   validation rows, then trains the text weights again with the validation rows and
#   brands_validation.csv too (`--refit`, `--refit-with`), keeping that calibration. The two
#   brands files (`gen-data --brand-lines`) bring every brand of the index to at least
#   BRAND_LINES lines: drawn by country, a third of them would be on none. It knows every
#   brand of the corpus (a user's statement names real brands); its temperature and its three
#   `uncertain` thresholds were fitted on merchants it had not seen: one for lines whose
#   merchant words the training rows had, meaning the category it guesses, one for lines with
#   one such word beside words never read, one for the rest (97 % right among the lines it
#   keeps of each kind; see
#   txclass-core/src/classifier/familiar.rs). The refit adds the validation rows' words to
#   what it knows. It cannot be measured on the corpus's held-out brands: those figures are
#   the held-out model's.
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:-}
case "$what" in
  ship | held-out) ;;
  *) echo "usage: $0 ship|held-out" >&2; exit 2 ;;
esac

SEED=${SEED:-7}
. scripts/txclass-bin.sh
DATA=target/bundled-data
if [ "$SEED" != 7 ]; then
  [ "$what" = held-out ] || { echo "only the held-out model is trained on another seed" >&2; exit 2; }
  DATA=target/bundled-data-seed$SEED
fi
SETTINGS=(--dim-bits 16 --class-weight none --target-accuracy 0.97)
# Every brand of the index on at least this many of the shipped model's lines (brands.csv).
BRAND_LINES=4

if [ "$what" = held-out ] && [ "$DATA/held-out.model" -nt "$TX" ]; then
  echo "$DATA/held-out.model"
  exit 0
fi
"$TX" gen-data --seed "$SEED" --rows 200000 --brand-lines "$BRAND_LINES" --out-dir "$DATA" >&2

if [ "$what" = held-out ]; then
  "$TX" train "$DATA/train.csv" --validation "$DATA/validation.csv" "${SETTINGS[@]}" \
    -o "$DATA/held-out.model" >&2
  echo "$DATA/held-out.model"
else
  { cat "$DATA/train.csv"; tail -q -n +2 "$DATA"/test*.csv "$DATA/brands.csv"; } > "$DATA/ship.csv"
  "$TX" train "$DATA/ship.csv" --validation "$DATA/validation.csv" "${SETTINGS[@]}" --refit \
    --refit-with "$DATA/brands_validation.csv" -o txclass-core/data/bundled.model >&2
fi
