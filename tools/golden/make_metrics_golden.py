#!/usr/bin/env python3
"""Golden data for the metrics library (src/metrics): scikit-learn's metrics on random multi-label cases, and an
independent re-implementation of the official PhysioNet/CinC Challenge 2021 scoring on a random case with the
project's 26-class weights.

Run by hand from the repository root (needs numpy and scikit-learn); the output is committed and the C++ suite
tests/metrics compares against it without Python:

    python3 tools/golden/make_metrics_golden.py [--weights data/labels/challenge2021_weights.csv] \
        [--out tests/golden/metrics/metrics_golden.json]

Output: one JSON file.

* "sklearn_cases": each with inputs `labels` (N x K 0/1), `scores` (N x K float64, rounded so that ties occur),
  `thresholds` (K; a record is called positive when score >= threshold) and scikit-learn's outputs: per-class
  `auroc` (roc_auc_score) and `average_precision` (average_precision_score), null for a class whose labels are all
  0 or all 1 (the library's convention: undefined, left out of the macro means), `macro_auroc`, `map`;
  `label_ranking_loss`, `coverage_error` on the scores; per-class `f1`, `f2` (f1_score, fbeta_score beta=2,
  zero_division=nan so that an empty class is null) and `g2` = TP / (TP + FP + 2 FN) from multilabel_confusion_matrix
  with their nan-means, `hamming_loss` and `subset_accuracy` (accuracy_score) of the thresholded calls.
* "challenge": the class keys and 26 x 26 weights read from the weights CSV, the normal class, random records (the
  labelled codes, and output columns `code`, `binary`, `scalar`; a non-finite scalar is written as the string
  "nan", "inf" or "-inf") and the expected results of the official algorithm as re-implemented below.

The Challenge functions below follow the official evaluation script's algorithm (evaluate_model.py of
physionetchallenges/evaluation-2021: classes as sets of codes, output columns mapped to classes with any/mean,
non-finite scalars as 0, the per-record 1/max(1, |labels or outputs|) confusion, the threshold sweep over each
class's distinct outputs with NaN where a ratio has a zero denominator, nan-means over classes); they are written
here, independently of the C++ code under test. `self_check` runs them on the hand-worked case of the C++ suite.
"""
import argparse
import json
import math
import pathlib

import numpy as np
from sklearn.metrics import (accuracy_score, average_precision_score, coverage_error, f1_score, fbeta_score,
                             hamming_loss, label_ranking_loss, multilabel_confusion_matrix, roc_auc_score)

NORMAL = "426783006"
# Codes the Challenge does not score (dx_mapping_unscored.csv): the scoring must ignore them.
UNSCORED = ["164951009", "251187003", "61277005", "164884008"]
# Never labelled in the random Challenge case, so one class has no positive label (but may be output).
NEVER_LABELLED = "427172004|17338001"


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


# ---------------------------------------------------------------- the official Challenge algorithm

def finite_or_zero(x):
    return x if math.isfinite(x) else 0.0


def official_load(classes, records):
    """classes: list of sets of codes. records: dicts with `labels` (codes) and `outputs` (code, binary, scalar)."""
    n, k = len(records), len(classes)
    labels = np.zeros((n, k), dtype=bool)
    binary = np.zeros((n, k), dtype=bool)
    scalar = np.zeros((n, k), dtype=np.float64)
    for i, rec in enumerate(records):
        label_set = set(rec["labels"])
        columns = [(set(o["code"].split("|")), o["binary"] == 1, finite_or_zero(float(o["scalar"])))
                   for o in rec["outputs"]]
        for j, members in enumerate(classes):
            labels[i, j] = bool(members & label_set)
            matched = [(b, s) for codes, b, s in columns if members & codes]
            if matched:
                binary[i, j] = any(b for b, _ in matched)
                scalar[i, j] = float(np.mean([s for _, s in matched]))
    return labels, binary, scalar


def safe_ratio(num, den):
    return num / den if den else float("nan")


def official_auc(labels, scalar):
    n, k = labels.shape
    auroc, auprc = [], []
    for c in range(k):
        y, s = labels[:, c], scalar[:, c]
        pos, neg = int(y.sum()), int(n - y.sum())
        # Points: nothing called, then each distinct score from the highest down (ties enter together).
        tp = fp = 0
        tpr, tnr, ppv = [safe_ratio(0, pos)], [safe_ratio(neg, neg)], [float("nan")]
        for t in sorted(set(s.tolist()), reverse=True):
            tp = int(np.sum(y & (s >= t)))
            fp = int(np.sum(~y & (s >= t)))
            tpr.append(safe_ratio(tp, pos))
            tnr.append(safe_ratio(neg - fp, neg))
            ppv.append(safe_ratio(tp, tp + fp))
        a = p = 0.0
        for j in range(len(tpr) - 1):
            a += 0.5 * (tpr[j + 1] - tpr[j]) * (tnr[j + 1] + tnr[j])
            p += (tpr[j + 1] - tpr[j]) * ppv[j + 1]
        auroc.append(a)
        auprc.append(p)
    return auroc, auprc


def official_accuracy(labels, binary):
    return float(np.mean(np.all(labels == binary, axis=1)))


def official_f_measure(labels, binary):
    out = []
    for c in range(labels.shape[1]):
        tp = int(np.sum(labels[:, c] & binary[:, c]))
        fp = int(np.sum(~labels[:, c] & binary[:, c]))
        fn = int(np.sum(labels[:, c] & ~binary[:, c]))
        out.append(safe_ratio(2 * tp, 2 * tp + fp + fn))
    return out


def weighted_score(weights, labels, outputs):
    k = labels.shape[1]
    a = np.zeros((k, k))
    for y, o in zip(labels, outputs):
        share = 1.0 / max(int(np.sum(y | o)), 1)
        a += share * np.outer(y, o)
    return float(np.nansum(weights * a))


def challenge_metric(weights, labels, binary, normal_index):
    observed = weighted_score(weights, labels, binary)
    correct = weighted_score(weights, labels, labels)
    inactive_outputs = np.zeros_like(labels)
    inactive_outputs[:, normal_index] = True
    inactive = weighted_score(weights, labels, inactive_outputs)
    score = (observed - inactive) / (correct - inactive) if correct != inactive else 0.0
    return observed, correct, inactive, score


def official_evaluation(keys, weights, records):
    classes = [set(key.split("|")) for key in keys]
    normal_index = classes.index({NORMAL})
    labels, binary, scalar = official_load(classes, records)
    auroc, auprc = official_auc(labels, scalar)
    f = official_f_measure(labels, binary)
    observed, correct, inactive, score = challenge_metric(weights, labels, binary, normal_index)
    return {
        "auroc_per_class": [number_or_null(v) for v in auroc],
        "auprc_per_class": [number_or_null(v) for v in auprc],
        "f_measure_per_class": [number_or_null(v) for v in f],
        "auroc": nan_mean(auroc),
        "auprc": nan_mean(auprc),
        "accuracy": official_accuracy(labels, binary),
        "f_measure": nan_mean(f),
        "observed": observed,
        "correct": correct,
        "inactive": inactive,
        "challenge_score": score,
    }


def self_check():
    """The hand-worked case of tests/metrics/test_challenge.cpp, through the functions above."""
    keys = ["164889003", "713427006|59118001", "426783006", "10370003"]
    w = np.array([[1.0, 0.5, 0.0, 0.25], [0.5, 1.0, 0.0, 0.5], [0.0, 0.0, 1.0, 0.5], [0.25, 0.5, 0.5, 1.0]])
    out = lambda code, b, s: {"code": code, "binary": b, "scalar": s}
    records = [
        {"labels": ["713427006"], "outputs": [out("59118001", 1, 0.9), out("164889003", 0, 0.2),
                                              out("426783006", 0, 0.1), out("10370003", 0, 0.3)]},
        {"labels": ["164889003", "251187003"], "outputs": [out("164889003", 1, 0.8), out("251187003", 1, 0.7),
                                                           out("426783006", 1, 0.6), out("59118001", 0, 0.4)]},
        {"labels": ["426783006"], "outputs": [out("164889003", 0, 0.4), out("426783006", 0, 0.45),
                                              out("10370003", 0, float("nan"))]},
        {"labels": ["164889003", "713427006"], "outputs": [out("164889003", 1, 0.7), out("713427006", 0, 0.5),
                                                           out("59118001", 0, 0.3), out("10370003", 1, 0.5)]},
    ]
    r = official_evaluation(keys, w, records)
    expect = {"challenge_score": 5 / 14, "observed": 2.25, "correct": 4.5, "inactive": 1.0, "accuracy": 0.25,
              "f_measure": 5 / 12, "auroc": 61 / 72, "auprc": 7 / 9}
    for name, value in expect.items():
        assert math.isclose(r[name], value, rel_tol=1e-12), (name, r[name], value)
    assert r["auroc_per_class"][3] is None and r["auprc_per_class"][3] is None


def read_weights(path):
    lines = [ln.strip() for ln in pathlib.Path(path).read_text().splitlines() if ln.strip()]
    keys = [c.strip() for c in lines[0].split(",")[1:]]
    rows = []
    for i, ln in enumerate(lines[1:]):
        cells = [c.strip() for c in ln.split(",")]
        assert cells[0] == keys[i], (cells[0], keys[i])
        rows.append([float(c) for c in cells[1:]])
    return keys, np.array(rows)


def encode_scalar(x):
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def challenge_case(rng, keys, weights):
    classes = [key.split("|") for key in keys]
    all_codes = [c for members in classes for c in members]
    assert not set(UNSCORED) & set(all_codes)
    labelable = [c for c in all_codes if c not in NEVER_LABELLED.split("|")]
    records = []
    for i in range(80):
        u = rng.random()
        if u < 0.25:
            codes = [NORMAL]
        elif u < 0.30:
            codes = []  # only unscored codes below, or nothing: no scored label
        else:
            codes = list(rng.choice(labelable, size=int(rng.integers(1, 4)), replace=False))
        if rng.random() < 0.2:
            codes.append(str(rng.choice(UNSCORED)))
        labelled = set(codes)
        columns = list(rng.choice(all_codes, size=int(rng.integers(8, 21)), replace=False))
        if rng.random() < 0.3:
            columns.append(str(rng.choice(UNSCORED)))
        if rng.random() < 0.15:
            columns.append(str(rng.choice([k for k in keys if "|" in k])))  # a column named by a joined key
        silent = rng.random() < 0.1  # a record with no positive output
        outputs = []
        for code in columns:
            hit = bool(set(code.split("|")) & labelled)
            s = float(np.round(np.clip(rng.normal(0.65 if hit else 0.3, 0.25), 0.0, 1.0), 2))
            if rng.random() < 0.03:
                s = float(rng.choice([float("nan"), float("inf"), float("-inf")]))
            b = 0 if silent else int((s if math.isfinite(s) else 0.0) >= 0.5)
            outputs.append({"code": str(code), "binary": b, "scalar": s})
        records.append({"labels": [str(c) for c in codes], "outputs": outputs})
    expected = official_evaluation(keys, weights, records)
    for rec in records:
        for o in rec["outputs"]:
            o["scalar"] = encode_scalar(o["scalar"])
    return {"classes": keys, "weights": weights.flatten().tolist(), "normal": NORMAL, "records": records,
            "expected": expected}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", default="data/labels/challenge2021_weights.csv")
    ap.add_argument("--out", default="tests/golden/metrics/metrics_golden.json")
    args = ap.parse_args()
    self_check()
    rng = np.random.default_rng(20210)
    keys, weights = read_weights(args.weights)
    golden = {
        "sklearn_cases": [case_with_ties(rng), case_continuous(rng)],
        "challenge": challenge_case(rng, keys, weights),
    }
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(golden, separators=(",", ":")) + "\n")
    print(f"wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
