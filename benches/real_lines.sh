#!/usr/bin/env bash
# The bundled model on real statement lines no one on the team wrote: the card payments of a
# Czech personal account (Era / Postovni sporitelna, Prague, April-May 2014, account numbers
# scrubbed), the test sample of the PyPI package ofxstatement-czech 1.2.5. The file is GPLv3,
# so it is downloaded from PyPI at run time, never committed; the labels below are ours (one
# per merchant, our categories; `data/taxonomy.toml`), and merchants we cannot name with
# certainty are left out and listed.
#
# Each line is scored twice: as a CSV export of the bank's note column prints it
# (`Castka: 214,5 CZK 03.05.2014 Misto: INTERSPAR ARKADY PRAHA 4`, Czech words the corpus
# never prints before the merchant) and as the merchant field alone (`INTERSPAR ARKADY
# PRAHA 4`, what a card network prints).
#
# Usage: benches/real_lines.sh [MODEL]  (MODEL: a model file, default the bundled one; needs
#        PyPI; writes target/real-lines/; TXCLASS_BIN=path/to/txclass runs that build)
# Last run: see README.md, "Benchmarks".
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=target/real-lines
mkdir -p "$DIR"
MODEL=${1:-bundled}
. scripts/txclass-bin.sh
if [ ! -f "$DIR/erasvet01.txt" ]; then
  python3 -m pip download -q --no-deps --no-binary :all: ofxstatement-czech==1.2.5 -d "$DIR"
  tar -xzf "$DIR/ofxstatement-czech-1.2.5.tar.gz" -C "$DIR" --strip-components=6 \
    ofxstatement-czech-1.2.5/src/ofxstatement/plugins/tests/samples/erasvet01.txt
fi

python3 - "$DIR" <<'PYEOF'
import csv, re, sys
d = sys.argv[1]
# Merchant (start of the card network's field) -> our category. Banks' ATMs (CSOB ...) are
# cash; Ceske drahy (CD) is the state railway; dm and Pemi are chemists, as the corpus's
# name-suggestion-index tags call them (health).
LABELS = [
    ("ALBERT", "groceries"), ("BILLA", "groceries"), ("INTERSPAR", "groceries"),
    ("TESCO", "groceries"), ("ZABKA", "groceries"), ("PAUL", "groceries"),
    ("BRIOCHE D ORRE", "groceries"), ("BENZINA", "fuel"), ("CSOB", "cash"),
    ("CD PRAHA", "transport"), ("CESKE DRAHY", "transport"),
    ("DM DROGERIE", "health"), ("DROGERIE PEMI", "health"), ("LEKARNA", "health"),
    ("NEMOCNICE NA FRAN.-LEK", "health"), ("CINSKA RESTAURACE", "restaurants"),
    ("FRIENDS COFFEE HOUSE", "restaurants"), ("Starbucks", "restaurants"),
    ("AKM - PAPIRNICTVI", "shopping"), ("KVETINARSTVI", "shopping"),
    ("VINOHRADSKY PAVILON", "shopping"),
]
text = open(f"{d}/erasvet01.txt", encoding="utf-8-sig").read().replace("\r\n", "\n")
records, left_out = [], []
for block in text.split("\n\n"):
    fields, key = {}, None
    for line in block.split("\n"):
        m = re.match(r"^([^\s:][^:]*):\s*(.*)$", line)
        if m:
            key = m.group(1).strip()
            fields[key] = m.group(2).strip()
        elif key and line.strip():
            fields[key] += " " + line.strip()
    if fields.get("označení operace") != "Transakce platební kartou":
        continue
    note = re.sub(r"\s+", " ", fields["poznámka"])
    merchant = note.split("Místo:")[1].strip()
    label = next((c for prefix, c in LABELS if merchant.startswith(prefix)), None)
    if label is None:
        left_out.append(merchant)
        continue
    day, month, year = fields["datum zaúčtování"].split(".")
    records.append((f"{year}-{int(month):02}-{int(day):02}", note, merchant,
                    fields["částka"], fields["měna"], label))
for name, col in (("note", 1), ("merchant", 2)):
    with open(f"{d}/{name}.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "date", "description", "amount", "currency", "category"])
        for i, r in enumerate(records):
            w.writerow([f"cz-{i}", r[0], r[col], r[3], r[4], r[5]])
print(f"{len(records)} labelled card payments; left out (no certain label): {sorted(set(left_out))}")
PYEOF

for name in note merchant; do
  echo "== $name"
  "$TX" eval "$MODEL" "$DIR/$name.csv" | sed -n '1,3p;5,9p'
  "$TX" classify "$DIR/$name.csv" --model "$MODEL" --uncertain-below 0 -o "$DIR/$name.pred.csv" 2>/dev/null
  python3 - "$DIR/$name.csv" "$DIR/$name.pred.csv" <<'PYEOF'
import csv, sys
truth = {r["id"]: r for r in csv.DictReader(open(sys.argv[1], encoding="utf-8"))}
for p in csv.DictReader(open(sys.argv[2], encoding="utf-8")):
    t = truth[p["id"]]["category"]
    if p["category"] != t:
        print(f"   wrong: {p['description']!r}: {p['category']} (p {p['probability']}), truth {t}")
PYEOF
done
