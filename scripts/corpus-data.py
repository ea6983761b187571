#!/usr/bin/env python3
"""Derives the real-brand corpus files in txclass-core/data/corpus/ from two pinned npm packages.

    scripts/corpus-data.py            # downloads the tarballs into target/corpus-src/ if missing

Inputs (pinned; `npm pack` fetches them, nothing is read at test time):
  name-suggestion-index@8.0.20260918       BSD-3-Clause  real brands with OpenStreetMap tags
  @openstreetmap/id-tagging-schema@7.2.0   ISC           preset names in en, pt-BR, es, fr, de

Outputs (committed; the generator embeds them):
  brands.tsv   category, OSM tag path, brand as printed (Latin script), its countries
  kinds.tsv    category, OSM tag path, language, the preset's name (the kind of business) in it
  NOTICE.md    both licences

tag-map.tsv (beside the outputs) is the one table that maps OSM tags to our categories.
Only the standard library is used; the output is sorted, so the same inputs give the same bytes.
"""
import json
import os
import re
import subprocess
import sys
import tarfile
import unicodedata

NSI = ("name-suggestion-index", "8.0.20260918", "name-suggestion-index-8.0.20260918.tgz")
ITS = ("@openstreetmap/id-tagging-schema", "7.2.0", "openstreetmap-id-tagging-schema-7.2.0.tgz")
ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), ".."))
SRC = os.path.join(ROOT, "target", "corpus-src")
OUT = os.path.join(ROOT, "txclass-core", "data", "corpus")
LANGS = ["en", "pt-BR", "es", "fr", "de"]
MAX_COUNTRIES = 12
# Sellers of event tickets under `shop=ticket`, whose other brands sell travel tickets.
EVENT_TICKETS = {"Ticketmaster", "Kassir.ru"}
# What an entry of a brand under these tags weighs when its name is under other categories
# too (a store counts 1; see main()): the shops of fuel stations, the counters of
# supermarkets and warehouse clubs, the forecourts of supermarkets.
SECONDARY = {
    "brands/shop/convenience": 0.4,
    "brands/amenity/pharmacy": 0.5,
    "brands/shop/optician": 0.5,
    "brands/shop/hearing_aids": 0.5,
    "brands/shop/tyres": 0.5,
    "brands/amenity/charging_station": 0.5,
    "brands/amenity/cafe": 0.5,
    "brands/amenity/fuel": 0.75,
}


def tarball(pkg):
    name, version, file = pkg
    path = os.path.join(SRC, file)
    if not os.path.exists(path):
        os.makedirs(SRC, exist_ok=True)
        subprocess.run(["npm", "pack", f"{name}@{version}"], cwd=SRC, check=True,
                       stdout=subprocess.DEVNULL)
    return tarfile.open(path)


def member(tar, path):
    return tar.extractfile(tar.getmember("package/" + path)).read().decode("utf-8")


def latin(s):
    """The name folded to printable ASCII, or None when it is not in Latin script."""
    folded = unicodedata.normalize("NFKD", s)
    out = "".join(c for c in folded if not unicodedata.combining(c))
    out = out.replace("ß", "ss").replace("Æ", "AE").replace("æ", "ae").replace("Ø", "O")
    out = out.replace("ø", "o").replace("Œ", "OE").replace("œ", "oe").replace("ł", "l")
    out = out.replace("Ł", "L").replace("’", "'").replace("–", "-").replace("&amp;", "&")
    out = re.sub(r"\s*\([^)]*\)", "", out).strip()  # "Metro Transit (Minnesota)": a note
    if not out or any(ord(c) > 126 or ord(c) < 32 for c in out):
        return None
    if sum(c.isalpha() for c in out) < 2:
        return None
    return out.strip()


def countries(item):
    out = []
    for loc in item.get("locationSet", {}).get("include", []):
        if not isinstance(loc, str):
            continue  # a point with a radius: no country to name
        code = loc.split(".")[0].split("-")[0].lower()
        if code and code not in out:
            out.append(code)
    return out[:MAX_COUNTRIES] or ["001"]


def main():
    tag_map = []
    with open(os.path.join(OUT, "tag-map.tsv"), encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                path, category = line.rstrip("\n").split("\t")[:2]
                tag_map.append((path, category))
    nsi = json.loads(member(tarball(NSI), "dist/json/nsi.min.json"))["nsi"]
    brands = set()
    for path, category in tag_map:
        for item in nsi.get(path, {}).get("items", []):
            tags = item.get("tags", {})
            for cand in [tags.get("brand"), item.get("displayName"), tags.get("brand:en"),
                         tags.get("name:en"), tags.get("network"), tags.get("operator")]:
                name = cand and latin(cand)
                if name:
                    break
            if not name or "\t" in name:
                continue
            if path == "brands/amenity/atm" and re.search(r"coin|crypto", name, re.I):
                continue  # a machine that sells cryptocurrency: not a withdrawal
            if path == "brands/shop/ticket" and name in EVENT_TICKETS:
                continue  # sells event tickets; the tag's other brands sell travel
            brands.add((category, path, name, ",".join(countries(item))))
    # One row per brand. Big chains are indexed under several tags: `Chevron` is
    # `amenity=fuel` and `shop=convenience` (its stations' shops), `Costco` a warehouse club
    # with pharmacies, opticians, tyres and fuel, `Kroger` a supermarket with a pharmacy and
    # fuel. Leaving out every such name (as this script first did) dropped the brands
    # statements print most: Chevron, Target, Walmart, Costco, Tesco, Carrefour, Kroger,
    # 7-Eleven, Esso, IKEA. So a name takes the category its entries weigh most for: an entry
    # of a store counts 1, of a counter or forecourt the chain runs beside its stores less
    # (SECONDARY); a tie left is two businesses that share a name (`Coral`: fuel and
    # bookmakers), and the name is left out. Its row takes the tag that weighs most in that
    # category, and the countries of all its entries there.
    entries = {}
    for row in brands:
        entries.setdefault(row[2].upper(), []).append(row)
    rows = []
    for key, found in entries.items():
        votes = {}
        for category, path, _, _ in found:
            votes[category] = votes.get(category, 0) + SECONDARY.get(path, 1)
        best = max(votes.values())
        winners = sorted(c for c, v in votes.items() if v == best)
        if len(winners) == 1:
            mine = [r for r in found if r[0] == winners[0]]
            tags = [r[1] for r in mine]
            tag = min(set(tags), key=lambda t: (-tags.count(t) * SECONDARY.get(t, 1), t))
            places = []
            for r in sorted(mine):
                places += [c for c in r[3].split(",") if c not in places]
            if "001" in places:
                places = ["001"]  # one entry for the whole world: the brand is everywhere
            names = [r[2] for r in mine]
            name = min(set(names), key=lambda n: (-names.count(n), n))  # its usual spelling
            rows.append((winners[0], tag, name, ",".join(places[:MAX_COUNTRIES])))
    rows.sort()
    with open(os.path.join(OUT, "brands.tsv"), "w", encoding="utf-8") as f:
        f.write("# category\ttag\tbrand\tcountries  (from name-suggestion-index "
                f"{NSI[1]}, BSD-3-Clause: see NOTICE.md)\n")
        for r in rows:
            f.write("\t".join(r) + "\n")

    its = tarball(ITS)
    kinds = set()
    for lang in LANGS:
        tr = json.loads(member(its, f"dist/translations/{lang}.min.json"))[lang]
        presets = tr.get("presets", {}).get("presets", {})
        for path, category in tag_map:
            key = "/".join(path.split("/")[1:])  # brands/shop/supermarket -> shop/supermarket
            if key == "shop/ticket":
                continue  # its presets name box offices (events), its brands sell travel
            p = presets.get(key)
            if not p:
                continue
            for word in [p.get("name")]:
                w = word and latin(word)
                if w and len(w) <= 24 and "\t" not in w:
                    kinds.add((category, key, lang, w))
    with open(os.path.join(OUT, "kinds.tsv"), "w", encoding="utf-8") as f:
        f.write("# category\ttag\tlanguage\tkind  (from @openstreetmap/id-tagging-schema "
                f"{ITS[1]}, ISC: see NOTICE.md)\n")
        for r in sorted(kinds):
            f.write("\t".join(r) + "\n")

    with open(os.path.join(OUT, "NOTICE.md"), "w", encoding="utf-8") as f:
        f.write("# Notices of the real-brand corpus\n\n")
        f.write(f"`brands.tsv` is derived from name-suggestion-index {NSI[1]}:\n\n")
        f.write(member(tarball(NSI), "LICENSE.md").strip() + "\n\n")
        f.write(f"`kinds.tsv` is derived from @openstreetmap/id-tagging-schema {ITS[1]}:\n\n")
        f.write(member(its, "LICENSE.md").strip() + "\n")
    print(f"brands.tsv: {len(rows)} brands; kinds.tsv: {len(kinds)} kinds", file=sys.stderr)


if __name__ == "__main__":
    main()
