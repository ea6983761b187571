#!/usr/bin/env bash
# txclass's classifier against scikit-learn, both sides in one run, on the same files of the
# real-brand corpus (`txclass gen-data`, seed 42): trained on train.csv, measured on test.csv,
# the brand-held-out split (every row names a merchant, person or employer no training row
# names; countries and layouts are those of training).
#
# Prints, for both sides and their ratio:
#   1. end-to-end prediction throughput, raw CSV lines -> labels, one core (rows/s), and
#      txclass on all cores (`eval`'s default; scikit-learn's predict has no threads of its own);
#   2. training time (reading the CSV included);
#   3. test accuracy and macro-F1, and the same for the bundled model's recipe without the
#      corpus's test brands (`scripts/bundled-model.sh held-out`: another seed, the same
#      training brands, so it never saw the test's brands either; the bundled model itself
#      knows them) and for the bundled model (brands it knows, lines it never saw);
#   4. model size, and peak memory (max RSS) while training BIG_ROWS rows;
#   5. `uncertain`: share flagged and accuracy of the rest (threshold fitted for 97 % on the
#      validation rows' held-out brands), and the coverage/accuracy curve, for the model
#      trained here and the held-out recipe;
#   6. the metamorphic amount figure: of the lines the bundled model's text is sure of
#      (p_text >= 0.9), the share whose category changes at -50.00, -47.31, -1000.00.
#
# Usage: benches/classifier_vs_sklearn.sh            (ROWS=100000 BIG_ROWS=1000000 by default)
#        ROWS=20000 BIG_ROWS=0 benches/classifier_vs_sklearn.sh   (quick; skips the memory run)
#        benches/classifier_vs_sklearn.sh speed       (figure 1 only, in a minute: both sides
#            predict again with the models the last full run trained; the txclass binary is
#            the current build, or TXCLASS_BIN's, so a change to prediction is measured
#            without training again)
# scikit-learn is installed from PyPI into target/bench-venv. The sklearn side runs with
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset (they slow a current numpy; see the machine notes)
# and with BLAS limited to one thread; the kernel it ran is printed.
#
# Last run (2026-12-01, 2 shared cores, scikit-learn 1.9.1, numpy 2.4.6, OpenBLAS Haswell;
# BIG_ROWS=0; both sides on the corpus's 60 labels, txclass with word vectors), brand-held-out
# test.csv, 11,132 rows:
#   1. predict CSV->labels, rows/s (1 core)      56,104 vs 20,843         2.69x
#      (another run: 65,293 vs 14,662, 4.45x; with 18 labels, no word vectors: 12.81x)
#   2. training time, 70,000 rows, s             371.82 vs 712.46         1.92x
#   3. test accuracy / macro-F1 (main level) 0.7524 / 0.7806 vs 0.7231 / 0.7491  (+2.94 / +3.15 pt)
#      whole labels                          0.6748 / 0.5893 vs 0.6648 / 0.5896
#      bundled model                     0.7803 / 0.8041
#   4. model size, bytes                     19,641,956 vs 252,157,146    12.84x
#   5. bundled: 45.0 % flagged uncertain, 0.9766 right among the rest; ECE 0.0378
#   6. confident lines changing at -50.00 / -47.31 / -1000.00: 0.07 / 0.05 / 0.05 %
# After the word vectors became one dense block in prediction (same machine, ROWS=20000
# BIG_ROWS=0: 14,000 training rows, 2,149 test rows): 1. 100,728 vs 33,604 rows/s, 3.00x;
# 2. 35.94 vs 367.80 s; 3. 0.6933 / 0.7346 vs 0.6854 / 0.7251; 4. 9,991,024 vs 252,157,146 B.
# With two thresholds (familiar lines apart) on the corpus of 2026-12-02 (ROWS=20000 BIG_ROWS=0,
# 2,150 test rows): 1. 146,780 vs 42,078 rows/s, 3.49x; 2. 21.77 vs 298.12 s;
# 3. 0.6656 / 0.7128 vs 0.6688 / 0.7229; 4. 10,020,990 vs 256,359,754 B; held-out recipe
# 58.5 % flagged, 0.9888 right among the rest; bundled 18.1 %, 0.9994; metamorphic 0 / 0 / 0.
# Full size (ROWS=100000 BIG_ROWS=0, 2026-12-02, 70,000 training rows, 11,186 test rows):
# 1. 109,107 vs 31,050 rows/s, 3.51x; 2. 237.33 vs 1,058.05 s (part of scikit-learn's run
# shared the 2 cores with a build); 3. 0.7480 / 0.7753 vs 0.7092 / 0.7415 (+3.88 / +3.38 pt);
# 4. 19,824,526 vs 256,359,754 B; metamorphic 0 / 0 / 0 of 8,771.
# `speed`, three runs after the text weights became 8-bit rows (2026-12-02, the models of the
# full run above; the f32 binary did 112,529-125,874 beside them): 1. 150,073-160,574 vs
# 26,597-32,131 rows/s (4.7-6.0x); txclass on both cores 204,459-225,935 (6.4-8.5x; on this
# machine two one-thread runs side by side do 105,000 rows/s each against 126,000 alone).
# Full size again (ROWS=100000 BIG_ROWS=0, 2026-12-03: the corpus with fees, interest and
# top-ups, models that leave out the words their training rows did not read; 11,022 test rows):
# 1. 128,718 vs 26,293 rows/s, 4.90x (2 cores 158,787, 6.04x); 2. 279.89 vs 539.52 s, 1.93x;
# 3. 0.7422 / 0.7785 vs 0.7200 / 0.7514 (+2.22 / +2.71 pt), whole labels 0.6738 / 0.6089 vs
# 0.6631 / 0.5893; 4. 5,992,546 vs 256,359,754 B; trained here 61.4 % flagged, 0.9876 right;
# held-out recipe 53.4 %, 0.9797; bundled 13.3 %, 0.9982; metamorphic 0 / 0 / 0 of 7,088.
# `speed`, three runs (2026-12-04, the models of the full run above, after the word lookups
# were batched, the scored rows left unsorted and scoring compiled for AVX2/FMA when present):
# 1. 182,588-198,518 vs 24,917-30,143 rows/s (6.06x, 7.01x, 7.64x); txclass on both cores
# 261,171-305,550 (8.64-10.80x).
# `speed`, three runs (2026-12-06, the models of the full run of 2026-12-05, after the text
# rows were prefetched, the softmax's exponential vectorised and CSV rows allocated less):
# 1. 207,551-209,815 vs 30,304-30,621 rows/s (6.78-6.88x); txclass on both cores
# 325,956-328,633 (10.73-10.77x).
# `speed`, three rounds taking turns with the build before (2026-12-06, sixth session, a busy
# machine; after a line's text rows were summed in registers, the word-vector block widened to
# 64 labels and the multiply-adds fused): 1. 225,768 / 207,928 / 137,717 vs 24,972 / 19,614 /
# 18,095 rows/s (9.04x / 10.60x / 7.61x; the build before 7.35x / 7.91x / 5.87x); txclass on
# both cores 10.79x / 12.39x / 11.61x.
# `speed`, five runs each beside one of the build before (2026-12-06, seventh session; after
# the tokenizer read ASCII bytes undecoded and reading a row cost fewer instructions: 8.6 %
# fewer a line in all):
# 1. 202,157 / 245,632 / 276,701 / 281,711 / 231,840 vs 20,255 / 24,629 / 26,356 / 25,697 /
# 22,094 rows/s (9.98x / 9.97x / 10.50x / 10.96x / 10.49x; the build before 10.31x / 9.20x /
# 9.08x / 9.45x / 10.90x); txclass on both cores 11.17x / 10.28x / 12.40x / 17.64x / 12.17x.
# `speed`, nine runs (2026-12-06, ninth session; eval's label sets hashed with foldhash, a
# row's date read once, the CLI on mimalloc: 7 % fewer instructions a line): 1. 249,086-
# 283,962 vs 21,847-24,453 rows/s, 10.87x-12.28x (median 11.23x) in eight runs, 7.43x in the
# ninth; three of them beside the build before: 11.43x / 10.87x / 12.28x against 10.25x /
# 8.10x / 10.20x; txclass on both cores 13.05x-17.46x.
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=${ROWS:-100000}
BIG_ROWS=${BIG_ROWS:-1000000}
L2=${L2:-1e-6}
THREADS=${THREADS:-1}        # txclass training threads (1 = same as sklearn's lbfgs)
DATA=target/bench-data
VENV=target/bench-venv
PY="$VENV/bin/python"
TIME=/usr/bin/time
SK_ENV=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1)

echo "== building txclass (release)"
. scripts/txclass-bin.sh

if [ ! -x "$PY" ] || ! "$PY" -c "import sklearn, threadpoolctl" 2>/dev/null; then
  echo "== installing scikit-learn into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q scikit-learn threadpoolctl
fi
"$PY" -c "import sklearn, numpy, scipy; print('scikit-learn', sklearn.__version__, 'numpy', numpy.__version__, 'scipy', scipy.__version__)"

if [ "${1:-}" = speed ]; then
  SPEED="$DATA/speed.csv"
  for f in "$DATA/tx.model" "$DATA/sk.pkl" "$SPEED"; do
    [ -f "$f" ] || { echo "$f is missing: run $0 without 'speed' first" >&2; exit 1; }
  done
  rate() { "$PY" -c "import json,sys; print(json.load(sys.stdin)['rows_per_second'])"; }
  # The two sides take turns, three rounds, best of each: on a shared machine a quiet or busy
  # minute then falls on both sides alike (one side's runs after the other's gave ratios from
  # 5.9x to 10.2x within an hour).
  tx=0 all=0 sk=0
  for _ in 1 2 3; do
    tx=$("$PY" -c "print(max($tx, $("$TX" eval "$DATA/tx.model" "$SPEED" --json --threads 1 | rate)))")
    all=$("$PY" -c "print(max($all, $("$TX" eval "$DATA/tx.model" "$SPEED" --json | rate)))")
    sk=$("$PY" -c "print(max($sk, $("${SK_ENV[@]}" "$PY" benches/sklearn_side.py speed "$DATA/sk.pkl" "$SPEED" | rate)))")
  done
  "$PY" -c "print(f'1. predict CSV->labels, rows/s (1 core), {$(wc -l < "$SPEED") - 1:,} rows: {$tx:,.0f} vs {$sk:,.0f}  {$tx / $sk:.2f}x; txclass on all $(nproc) cores: {$all:,.0f} ({$all / $sk:.2f}x)')"
  exit 0
fi

echo "== generating $ROWS rows (seed 42)"
"$TX" gen-data --rows "$ROWS" --seed 42 --out-dir "$DATA"
TEST="$DATA/test.csv"
# Throughput: the test rows ten times over, best of three passes each side (a pass over one
# copy lasts a few tens of milliseconds, which a busy shared machine can double).
SPEED="$DATA/speed.csv"
{ head -1 "$TEST"; for _ in 1 2 3 4 5 6 7 8 9 10; do tail -n +2 "$TEST"; done; } > "$SPEED"

echo "== txclass: train + eval"
"$TIME" -f "%e %M" -o "$DATA/tx_train.time" \
  "$TX" train "$DATA/train.csv" --validation "$DATA/validation.csv" -o "$DATA/tx.model" --l2 "$L2" \
  --threads "$THREADS" --target-accuracy 0.97 | tee "$DATA/tx_train.txt"
"$TX" eval "$DATA/tx.model" "$TEST" --json > "$DATA/tx_eval.json"
HELD=$(scripts/bundled-model.sh held-out)
"$TX" eval "$HELD" "$TEST" --json > "$DATA/held_eval.json"
"$TX" eval bundled "$TEST" --json > "$DATA/bundled_eval.json"
for i in 1 2 3; do
  "$TX" eval "$DATA/tx.model" "$SPEED" --json --threads 1 > "$DATA/tx_speed_$i.json"
  "$TX" eval "$DATA/tx.model" "$SPEED" --json > "$DATA/tx_speed_all_$i.json"
done

echo "== metamorphic amounts (bundled model)"
cargo test --release -q --test classifier amounts_do_not_overturn_confident_text -- --nocapture 2>&1 \
  | grep "confident lines" | tee "$DATA/metamorphic.txt"

echo "== scikit-learn: train + eval"
"${SK_ENV[@]}" "$PY" benches/sklearn_side.py train-eval "$DATA/train.csv" "$TEST" \
  --l2 "$L2" --model-out "$DATA/sk.pkl" --speed "$SPEED" > "$DATA/sk.json"

if [ "$BIG_ROWS" -gt 0 ]; then
  echo "== peak memory while training $BIG_ROWS rows"
  "$TX" gen-data --rows "$BIG_ROWS" --seed 43 --validation-fraction 0 --test-fraction 0 --out-dir "$DATA/big" >/dev/null
  "$TIME" -f "%e %M" -o "$DATA/tx_big.time" \
    "$TX" train "$DATA/big/train.csv" -o "$DATA/tx_big.model" --l2 "$L2" --threads "$THREADS" > "$DATA/tx_big.txt"
  "$TIME" -f "%e %M" -o "$DATA/sk_big.time" "${SK_ENV[@]}" \
    "$PY" benches/sklearn_side.py train-only "$DATA/big/train.csv" --l2 "$L2" > "$DATA/sk_big.json"
fi

"$PY" - "$DATA" "$BIG_ROWS" <<'PYEOF'
import json, os, re, sys
d, big = sys.argv[1], int(sys.argv[2])
tx_eval = json.load(open(f"{d}/tx_eval.json"))
held = json.load(open(f"{d}/held_eval.json"))
bundled = json.load(open(f"{d}/bundled_eval.json"))
tx_speed = max(json.load(open(f"{d}/tx_speed_{i}.json"))["rows_per_second"] for i in (1, 2, 3))
tx_speed_all = max(json.load(open(f"{d}/tx_speed_all_{i}.json"))["rows_per_second"] for i in (1, 2, 3))
sk = json.load(open(f"{d}/sk.json"))
tx_train_txt = open(f"{d}/tx_train.txt").read()
tx_train_s = float(re.search(r"total ([0-9.]+) s", tx_train_txt).group(1))
tx_iters = re.search(r"optimiser: (\d+) iterations", tx_train_txt).group(1)
rows = []
def row(name, tx, sk, fmt, better):
    ratio = (tx / sk if better == "higher" else sk / tx) if tx and sk else float("nan")
    rows.append((name, fmt.format(tx), fmt.format(sk), f"{ratio:.2f}x"))
row("1. predict CSV->labels, rows/s (1 core)", tx_speed, sk["rows_per_second"], "{:,.0f}", "higher")
row(f"   txclass on all {os.cpu_count()} cores", tx_speed_all, sk["rows_per_second"], "{:,.0f}", "higher")
row("2. training time, s", tx_train_s, sk["train_seconds"], "{:.2f}", "lower")
rows.append(("   L-BFGS iterations", tx_iters, str(sk["iterations"]), ""))
acc_d = 100 * (tx_eval["accuracy"] - sk["accuracy"])
f1_d = 100 * (tx_eval["macro_f1"] - sk["macro_f1"])
rows.append(("3. test accuracy", f"{tx_eval['accuracy']:.4f}", f"{sk['accuracy']:.4f}", f"{acc_d:+.2f} pt"))
rows.append(("   test macro-F1", f"{tx_eval['macro_f1']:.4f}", f"{sk['macro_f1']:.4f}", f"{f1_d:+.2f} pt"))
if "sub_accuracy" in sk:
    rows.append(("   sub-category level: accuracy / macro-F1", f"{tx_eval['sub_level']['accuracy']:.4f} / {tx_eval['sub_level']['macro_f1']:.4f}",
                 f"{sk['sub_accuracy']:.4f} / {sk['sub_macro_f1']:.4f}", ""))
rows.append(("   bundled recipe, test brands left out", f"{held['accuracy']:.4f} / {held['macro_f1']:.4f}", "", ""))
rows.append(("   bundled model (knows the brands)", f"{bundled['accuracy']:.4f} / {bundled['macro_f1']:.4f}", "", ""))
row("4. model size, bytes", os.path.getsize(f"{d}/tx.model"), sk["model_bytes"], "{:,}", "lower")
if big:
    tx_big = open(f"{d}/tx_big.time").read().split()
    sk_big = open(f"{d}/sk_big.time").read().split()
    row(f"   peak RSS training {big:,} rows, MiB", int(tx_big[1]) / 1024, int(sk_big[1]) / 1024, "{:,.0f}", "lower")
    row(f"   time training {big:,} rows, s", float(tx_big[0]), float(sk_big[0]), "{:.1f}", "lower")
w = max(len(r[0]) for r in rows)
print()
print(f"{'figure':<{w}}  {'txclass':>14}  {'scikit-learn':>14}  {'ratio (txclass advantage)':>26}")
for r in rows:
    print(f"{r[0]:<{w}}  {r[1]:>14}  {r[2]:>14}  {r[3]:>26}")
print()
print("sklearn BLAS:", json.dumps(sk.get("blas")))
print(f"test rows (brand-held-out): {tx_eval['rows']}; ECE txclass {tx_eval['expected_calibration_error']:.4f}, "
      f"held-out recipe {held['expected_calibration_error']:.4f}, bundled {bundled['expected_calibration_error']:.4f}")
for name, e in [("txclass (trained here)", tx_eval), ("bundled recipe, test brands left out", held), ("bundled (knows the brands)", bundled)]:
    print(f"uncertain, {name}: threshold {e['uncertain_below']:.4f}, flagged {100 * e['uncertain'] / e['rows']:.1f} %, "
          f"accuracy of the rest {e['accuracy_when_certain']:.4f}")
    curve = " ".join(f"{100 * c['coverage']:.0f}%:{c['accuracy']:.3f}" for c in e["coverage_curve"])
    print(f"   coverage:accuracy {curve}")
print(open(f"{d}/metamorphic.txt").read().strip())
PYEOF
