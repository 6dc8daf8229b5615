#!/usr/bin/python3
"""ptrain against scikit-learn's MLPClassifier on scikit-learn's own small data sets (digits,
wine, breast cancer, iris: Debian's python3-sklearn, its datasets/data/ folder), same split,
same hidden sizes, same epochs. For each data set and split seed the rows are shuffled and
written as CSV files (70% train, 10% validation, 20% test); ptrain trains from them with
--train/--val/--test, MLPClassifier fits the same training rows, and both are scored on the
same test rows. Both trainers run two recipes alike: plain SGD at the data set's rate (constant,
no momentum), and Adam at lr 0.001 (β₁ 0.9, β₂ 0.999, ε 1e-8, the defaults of both); each with
ReLU, Glorot init, batch 32, no L2, softmax and log-loss. Prints mean (and min-max) test accuracy and the median time of each: ptrain's whole
process (start, reading the CSV files, training, evaluation), MLPClassifier's fit() alone.

usage: perf/vs_sklearn.py [--ptrain build/ptrain] [--seeds 5] [--threads 1]
"""
import argparse
import gzip
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = "/usr/lib/python3/dist-packages/sklearn/datasets/data"

# name, file, hidden sizes, epochs, learning rate, ptrain's feature transform. Hand-picked once
# (the same for both trainers), not tuned per trainer.
SETS = [
    ("digits", "digits.csv.gz", (64,), 50, 0.05, "--standardize"),
    ("wine", "wine_data.csv", (32,), 200, 0.05, "--standardize"),
    ("breast_cancer", "breast_cancer.csv", (32,), 100, 0.05, "--standardize"),
    ("iris", "iris.csv", (16,), 200, 0.05, "--standardize"),
]


def load(file):
    """Features and labels as scikit-learn's loaders read them: a short header row (rows,
    features, class names) except digits, the label last."""
    opener = gzip.open if file.endswith(".gz") else open
    with opener(os.path.join(DATA, file), "rt") as f:
        rows = [line.strip().split(",") for line in f if line.strip()]
    if not re.fullmatch(r"[-+0-9.eE]+", rows[0][-1]) or len(rows[0]) != len(rows[1]):
        rows = rows[1:]
    a = np.array(rows, dtype=np.float64)
    return a[:, :-1], a[:, -1].astype(np.int64)


def write_csv(path, x, y):
    with open(path, "w") as f:
        for row, label in zip(x, y):
            f.write(",".join(repr(float(v)) for v in row) + f",{label}\n")


def run_ptrain(binary, workdir, name, x, y, parts, hidden, epochs, lr, transform, seed, threads, extra=()):
    files = {}
    for role, rows in parts.items():
        files[role] = os.path.join(workdir, f"{name}-{role}.csv")
        write_csv(files[role], x[rows], y[rows])
    cmd = [binary, "--train", files["train"], "--val", files["val"], "--test", files["test"],
           "--hidden", ",".join(map(str, hidden)), "--epochs", str(epochs), "--lr", str(lr),
           "--batch-size", "32", "--activation", "relu", "--loss", "xent", "--init", "xavier",
           "--seed", str(seed), "--threads", str(threads), "--quiet", transform, *extra]
    start = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    seconds = time.perf_counter() - start
    return float(re.search(r"test accuracy ([0-9.]+)%", out).group(1)), seconds


def run_sklearn(x, y, parts, hidden, epochs, lr, seed, solver):
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler
    scaler = StandardScaler().fit(x[parts["train"]])
    common = dict(hidden_layer_sizes=hidden, activation="relu", alpha=0.0, batch_size=32, max_iter=epochs, tol=0.0,
                  n_iter_no_change=epochs + 1, random_state=seed)
    if solver == "sgd":
        clf = MLPClassifier(solver="sgd", learning_rate="constant", learning_rate_init=lr, momentum=0.0,
                            nesterovs_momentum=False, **common)
    else:
        clf = MLPClassifier(solver="adam", learning_rate_init=0.001, **common)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "max_iter reached": we ask for exactly these epochs
        clf.fit(scaler.transform(x[parts["train"]]), y[parts["train"]])
    seconds = time.perf_counter() - start
    return 100.0 * clf.score(scaler.transform(x[parts["test"]]), y[parts["test"]]), seconds


def summary(values):
    return f"{statistics.mean(values):6.2f}% ({min(values):.2f}-{max(values):.2f})"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ptrain", default=os.path.join(ROOT, "build", "ptrain"))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    print("data set       rows  net          epochs  trainer              test accuracy (min-max)   time")
    with tempfile.TemporaryDirectory() as workdir:
        for name, file, hidden, epochs, lr, transform in SETS:
            x, y = load(file)
            results = {"ptrain, SGD": [], "MLPClassifier, SGD": [], "ptrain, Adam": [], "MLPClassifier, Adam": []}
            for seed in range(args.seeds):
                order = np.random.default_rng(seed).permutation(len(y))
                n_train, n_val = len(y) * 7 // 10, len(y) // 10
                parts = {"train": order[:n_train], "val": order[n_train:n_train + n_val],
                         "test": order[n_train + n_val:]}
                results["ptrain, SGD"].append(run_ptrain(args.ptrain, workdir, name, x, y, parts, hidden, epochs, lr,
                                                    transform, seed + 1, args.threads))
                results["MLPClassifier, SGD"].append(run_sklearn(x, y, parts, hidden, epochs, lr, seed, "sgd"))
                results["ptrain, Adam"].append(
                    run_ptrain(args.ptrain, workdir, name, x, y, parts, hidden, epochs, 0.001, transform, seed + 1,
                               args.threads, ("--optimizer", "adam")))
                results["MLPClassifier, Adam"].append(run_sklearn(x, y, parts, hidden, epochs, lr, seed, "adam"))
            net = "-".join(map(str, (x.shape[1],) + hidden + (len(set(y)),)))
            for trainer, rs in results.items():
                seconds = statistics.median(r[1] for r in rs)
                print(f"{name:13s} {len(y):5d}  {net:12s} {epochs:6d}  {trainer:20s} {summary([r[0] for r in rs])}"
                      f"  {seconds:6.3f} s")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
