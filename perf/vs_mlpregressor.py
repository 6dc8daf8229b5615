#!/usr/bin/python3
"""ptrain against scikit-learn's MLPRegressor on scikit-learn's regression data sets as Debian's
python3-sklearn ships them (datasets/data/): Boston house prices (506 rows, 13 features, one
target), diabetes (442 rows, 10 features, one target; features and target in two
whitespace-separated files) and linnerud (20 rows, 3 features, three targets).

For each data set and split seed: an 80/20 split of the rows (train_test_split); MLPRegressor
fits the training rows standardised by StandardScaler (fitted on them), with one hidden layer of
64 ReLU units, Adam at 0.001, batch 32, up to 1,000 iterations and its own stopping rule (tol
1e-4 on the training loss, 10 iterations); ptrain trains on the same rows, written as CSV, with
--standardize (the same features' transform from the training rows; the targets standardised
too), the same net and recipe, and exactly as many epochs as MLPRegressor ran. Both are scored by
R² (uniform average over the targets) on the same test rows. Time: ptrain's whole process
(start, reading the CSV, training, evaluation), MLPRegressor's fit() alone; medians.

usage: perf/vs_mlpregressor.py [--ptrain build/ptrain] [--seeds 5] [--threads 1]
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


def read(file, skip=0):
    opener = gzip.open if file.endswith(".gz") else open
    with opener(os.path.join(DATA, file), "rt") as f:
        rows = [line.replace(",", " ").split() for line in f if line.strip()][skip:]
    return np.array(rows, dtype=np.float64)


def boston():
    a = read("boston_house_prices.csv", skip=2)  # a line of sizes, a line of names
    return a[:, :-1], a[:, -1:]


def diabetes():
    return read("diabetes_data_raw.csv.gz"), read("diabetes_target.csv.gz").reshape(-1, 1)


def linnerud():
    return read("linnerud_exercise.csv", skip=1), read("linnerud_physiological.csv", skip=1)


SETS = [("boston", boston), ("diabetes", diabetes), ("linnerud", linnerud)]


def write_csv(path, x, y):
    with open(path, "w") as f:
        for row, target in zip(x, y):
            f.write(",".join(repr(float(v)) for v in (*row, *target)) + "\n")


def run_mlp(x_train, y_train, x_test, y_test, seed):
    from sklearn.neural_network import MLPRegressor
    from sklearn.preprocessing import StandardScaler
    scaler = StandardScaler().fit(x_train)
    reg = MLPRegressor(hidden_layer_sizes=(64,), activation="relu", solver="adam", learning_rate_init=0.001,
                       batch_size=32, max_iter=1000, random_state=seed)
    target = y_train.ravel() if y_train.shape[1] == 1 else y_train
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "max_iter reached" on the small sets
        reg.fit(scaler.transform(x_train), target)
    seconds = time.perf_counter() - start
    truth = y_test.ravel() if y_test.shape[1] == 1 else y_test
    return reg.score(scaler.transform(x_test), truth), seconds, reg.n_iter_


def run_ptrain(binary, workdir, name, x_train, y_train, x_test, y_test, epochs, seed, threads, transform):
    train, test = os.path.join(workdir, f"{name}-train.csv"), os.path.join(workdir, f"{name}-test.csv")
    if transform == "scaler":  # MLPRegressor's own inputs: features standardised, targets as they are
        from sklearn.preprocessing import StandardScaler
        scaler = StandardScaler().fit(x_train)
        x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
    write_csv(train, x_train, y_train)
    write_csv(test, x_test, y_test)
    targets = ",".join(str(x_train.shape[1] + 1 + j) for j in range(y_train.shape[1]))
    cmd = [binary, "--task", "regression", "--train", train, "--test", test, "--val-size", "0", "--header", "no",
           "--target-columns", targets, "--hidden", "64", "--batch-size", "32",
           "--epochs", str(epochs), "--seed", str(seed), "--threads", str(threads), "--quiet",
           *(["--standardize"] if transform == "standardize" else [])]
    start = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    seconds = time.perf_counter() - start
    return float(re.search(r"R² (-?[0-9.]+)", out).group(1)), seconds


def summary(values):
    return f"{statistics.mean(values):7.4f} ({min(values):.4f} to {max(values):.4f})"


def main():
    from sklearn.model_selection import train_test_split
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ptrain", default=os.path.join(ROOT, "build", "ptrain"))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    print("data set   rows  net        epochs (median)  trainer                test R², mean (min to max)   time (median)")
    with tempfile.TemporaryDirectory() as workdir:
        for name, loader in SETS:
            x, y = loader()
            results = {"ptrain": [], "ptrain, --standardize": [], "MLPRegressor": []}
            epochs = []
            for seed in range(args.seeds):
                x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=seed)
                r2, seconds, n_iter = run_mlp(x_train, y_train, x_test, y_test, seed)
                results["MLPRegressor"].append((r2, seconds))
                epochs.append(n_iter)
                for trainer, transform in (("ptrain", "scaler"), ("ptrain, --standardize", "standardize")):
                    results[trainer].append(run_ptrain(args.ptrain, workdir, name, x_train, y_train, x_test, y_test,
                                                       n_iter, seed + 1, args.threads, transform))
            net = f"{x.shape[1]}-64-{y.shape[1]}"
            for trainer, rs in results.items():
                seconds = statistics.median(r[1] for r in rs)
                print(f"{name:9s} {len(y):5d}  {net:10s} {statistics.median(epochs):15.0f}  {trainer:21s}"
                      f"  {summary([r[0] for r in rs])}   {seconds:7.3f} s")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
