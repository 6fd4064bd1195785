#!/usr/bin/env python3
"""Golden data for the metrics library (src/metrics): scikit-learn's metrics on random multi-label cases.

Run by hand from the repository root (needs numpy and scikit-learn); the output is committed and the C++ suite
tests/metrics compares against it without Python:

    python3 tools/golden/make_metrics_golden.py [--out tests/golden/metrics/metrics_golden.json]

Output: one JSON file.

* "sklearn_cases": each with inputs `labels` (N x K 0/1), `scores` (N x K float64, rounded so that ties occur),
  `thresholds` (K; a record is called positive when score >= threshold) and scikit-learn's outputs: per-class
  `auroc` (roc_auc_score) and `average_precision` (average_precision_score), null for a class whose labels are all
  0 or all 1 (the library's convention: undefined, left out of the macro means), `macro_auroc`, `map`;
  `label_ranking_loss`, `coverage_error` on the scores; per-class `f1`, `f2` (f1_score, fbeta_score beta=2,
  zero_division=nan so that an empty class is null) and `g2` = TP / (TP + FP + 2 FN) from multilabel_confusion_matrix
  with their nan-means, `hamming_loss` and `subset_accuracy` (accuracy_score) of the thresholded calls.
"""
import argparse
import json
import math
import pathlib

import numpy as np
from sklearn.metrics import (accuracy_score, average_precision_score, coverage_error, f1_score, fbeta_score,
                             hamming_loss, label_ranking_loss, multilabel_confusion_matrix, roc_auc_score)


def number_or_null(x):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def nan_mean(values):
    finite = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(finite)) if finite else None


# ---------------------------------------------------------------- scikit-learn cases

def sklearn_case(name, labels, scores, thresholds):
    labels = np.asarray(labels, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    thresholds = np.asarray(thresholds, dtype=np.float64)
    n, k = labels.shape
    auroc, ap = [], []
    for c in range(k):
        y, s = labels[:, c], scores[:, c]
        if 0 < y.sum() < n:
            auroc.append(float(roc_auc_score(y, s)))
            ap.append(float(average_precision_score(y, s)))
        else:
            auroc.append(None)
            ap.append(None)
    calls = (scores >= thresholds[None, :]).astype(np.int64)
    f1 = f1_score(labels, calls, average=None, zero_division=np.nan)
    f2 = fbeta_score(labels, calls, beta=2.0, average=None, zero_division=np.nan)
    g2 = []
    for m in multilabel_confusion_matrix(labels, calls):
        tn, fp, fn, tp = m.ravel()
        g2.append(tp / (tp + fp + 2.0 * fn) if tp + fp + fn else float("nan"))
    macro_f1 = f1_score(labels, calls, average="macro", zero_division=np.nan)
    assert math.isclose(macro_f1, np.nanmean(f1), rel_tol=1e-12), (macro_f1, np.nanmean(f1))
    return {
        "name": name,
        "labels": labels.tolist(),
        "scores": scores.tolist(),
        "thresholds": thresholds.tolist(),
        "auroc": auroc,
        "average_precision": ap,
        "macro_auroc": nan_mean([a for a in auroc if a is not None]),
        "map": nan_mean([a for a in ap if a is not None]),
        "label_ranking_loss": float(label_ranking_loss(labels, scores)),
        "coverage_error": float(coverage_error(labels, scores)),
        "f1": [number_or_null(v) for v in f1],
        "f2": [number_or_null(v) for v in f2],
        "g2": [number_or_null(v) for v in g2],
        "macro_f1": number_or_null(float(macro_f1)),
        "macro_f2": nan_mean(list(f2)),
        "macro_g2": nan_mean(g2),
        "hamming_loss": float(hamming_loss(labels, calls)),
        "subset_accuracy": float(accuracy_score(labels, calls)),
    }


def case_with_ties(rng):
    """Scores on a 0.1 grid (many ties), an all-negative class, an all-positive class, and an empty class (no
    positive label, threshold above every score)."""
    n = 30
    prevalence = [0.3, 0.5, 0.15, 0.0, 1.0, 0.25]
    labels = np.stack([(rng.random(n) < p).astype(np.int64) for p in prevalence], axis=1)
    labels[0, 2] = 1
    scores = np.round(rng.integers(0, 11, size=labels.shape) / 10.0 + 0.0, 1)
    scores[:, 1] = np.round(np.clip(scores[:, 1] + 0.3 * labels[:, 1], 0.0, 1.0), 1)
    thresholds = [0.5, 0.3, 0.7, 1.5, 0.4, 0.6]  # class 3 (all negative) never called: an empty class
    return sklearn_case("ties", labels, scores, thresholds)


def case_continuous(rng):
    """Informative continuous scores (3 decimals, a few ties), a rare class (two positives), a record with every
    label and one with none."""
    n, k = 120, 8
    prevalence = rng.uniform(0.05, 0.5, size=k)
    labels = (rng.random((n, k)) < prevalence[None, :]).astype(np.int64)
    labels[:, 5] = 0
    labels[7, 5] = 1
    labels[0, :] = 0
    labels[1, :] = 1
    logits = 1.5 * labels + rng.normal(0.0, 1.0, size=(n, k))
    scores = np.round(1.0 / (1.0 + np.exp(-logits)), 3)
    thresholds = np.round(rng.uniform(0.3, 0.7, size=k), 2)
    return sklearn_case("continuous", labels, scores, thresholds)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="tests/golden/metrics/metrics_golden.json")
    args = ap.parse_args()
    rng = np.random.default_rng(20210)
    golden = {"sklearn_cases": [case_with_ties(rng), case_continuous(rng)]}
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(golden, separators=(",", ":")) + "\n")
    print(f"wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
