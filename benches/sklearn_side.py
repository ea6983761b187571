"""The scikit-learn side of benches/classifier_vs_sklearn.sh.

The baseline is the usual scikit-learn recipe for short texts: word 1-2-grams and char_wb
3-4-grams hashed (HashingVectorizer, 2^18 buckets each, no vocabulary), the amount's sign and
log2 bucket, weekday and day of month as extra tokens, and LogisticRegression(lbfgs) with the
same L2 strength and class weighting as txclass (C = 1 / (l2 * n)).

Usage:
  sklearn_side.py train-eval TRAIN.csv TEST.csv --l2 L2 --model-out PATH [--speed FILE]
                                                                          -> one JSON line
      (--speed: throughput is the best of three timed passes over FILE instead of one over TEST)
  sklearn_side.py train-only TRAIN.csv --l2 L2                              -> one JSON line
  sklearn_side.py speed MODEL.pkl FILE                                      -> one JSON line
      (throughput only, of a model a train-eval run saved: best of three passes over FILE)
"""
import argparse
import csv
import datetime
import json
import math
import os
import pickle
import sys
import time

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from threadpoolctl import threadpool_info, threadpool_limits

WORDS = HashingVectorizer(n_features=2**18, ngram_range=(1, 2), alternate_sign=False, norm="l2")
CHARS = HashingVectorizer(
    n_features=2**18, analyzer="char_wb", ngram_range=(3, 4), alternate_sign=False, norm="l2"
)
META = HashingVectorizer(n_features=2**10, alternate_sign=False, norm=None, token_pattern=r"\S+")


def read(path):
    texts, metas, labels = [], [], []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            amount = float(row["amount"])
            d = datetime.date.fromisoformat(row["date"])
            sign = "neg" if amount < 0 else ("zero" if amount == 0 else "pos")
            bucket = int(math.log2(abs(amount) + 1))
            texts.append(row["description"])
            metas.append(f"s_{sign} b_{sign}_{bucket} wd_{d.weekday()} dom_{d.day}")
            labels.append(row["category"])
    return texts, metas, labels


def featurize(texts, metas):
    return sp.hstack(
        [WORDS.transform(texts), CHARS.transform(texts), META.transform(metas)], format="csr"
    )


def train(path, l2):
    t0 = time.perf_counter()
    texts, metas, y = read(path)
    x = featurize(texts, metas)
    model = LogisticRegression(
        C=1.0 / (l2 * len(y)), class_weight="balanced", max_iter=100, solver="lbfgs"
    )
    model.fit(x, y)
    return model, time.perf_counter() - t0, model.n_iter_[0]


def best_rows_per_second(model, path):
    """Rows per second of the best of three passes: reading, featurizing, predicting."""
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        texts, metas, _ = read(path)
        model.predict(featurize(texts, metas))
        best = min(best, time.perf_counter() - t0)
    return len(texts), len(texts) / best


def main():
    if sys.argv[1:2] == ["speed"]:
        _, _, model_path, path = sys.argv
        with threadpool_limits(limits=1), open(model_path, "rb") as f:
            rows, rate = best_rows_per_second(pickle.load(f), path)
        print(json.dumps({"speed_rows": rows, "rows_per_second": rate}))
        return
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["train-eval", "train-only"])
    p.add_argument("train")
    p.add_argument("test", nargs="?")
    p.add_argument("--l2", type=float, required=True)
    p.add_argument("--model-out")
    p.add_argument("--speed")
    a = p.parse_args()
    import warnings

    warnings.filterwarnings("ignore")  # ConvergenceWarning at max_iter, as for txclass
    with threadpool_limits(limits=1):
        model, train_s, iters = train(a.train, a.l2)
        out = {"train_seconds": train_s, "iterations": int(iters)}
        if a.mode == "train-eval":
            t0 = time.perf_counter()
            texts, metas, y = read(a.test)
            pred = model.predict(featurize(texts, metas))
            predict_s = time.perf_counter() - t0
            # Labels are `category/sub_category`: scored at the main category (as txclass's
            # `eval` does, after its roll-up) and whole (its `sub_level`).
            main = lambda labels: [str(l).split("/")[0] for l in labels]
            out.update(
                rows=len(y),
                predict_seconds=predict_s,
                rows_per_second=len(y) / predict_s,
                accuracy=accuracy_score(main(y), main(pred)),
                macro_f1=f1_score(main(y), main(pred), average="macro"),
                sub_accuracy=accuracy_score(y, pred),
                sub_macro_f1=f1_score(y, pred, average="macro"),
            )
            if a.speed:
                rows, rate = best_rows_per_second(model, a.speed)
                out.update(speed_rows=rows, rows_per_second=rate)
            with open(a.model_out, "wb") as f:
                pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)
            out["model_bytes"] = os.path.getsize(a.model_out)
            out["blas"] = [
                {k: i.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
                for i in threadpool_info()
            ]
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
