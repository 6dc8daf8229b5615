#!/usr/bin/python3
"""PtrainClassifier and MLPClassifier left at their defaults (hidden (100,), Adam lr 0.001,
batch 200, alpha 1e-4, max_iter 200, tol 1e-4, the training-loss stopping rule) on scikit-learn's
digits behind a StandardScaler: five stratified 80/20 splits, fits interleaved. Prints each one's
mean test accuracy (min-max), epochs run (n_iter_, min-max) and median fit time, and whether any
fit ran out of max_iter (a ConvergenceWarning).

usage: perf/estimator_defaults_vs_mlp.py [--seeds 5] [--threads 1]  (after tools/setup.sh)
"""
import argparse
import os
import statistics
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "build", "python"))
from ptrain.sklearn import PtrainClassifier  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    X, y = load_digits(return_X_y=True)
    makers = {"PtrainClassifier": lambda seed: PtrainClassifier(random_state=seed, n_threads=args.threads),
              "MLPClassifier": lambda seed: MLPClassifier(random_state=seed)}
    results = {name: {"accuracy": [], "epochs": [], "seconds": [], "warned": 0} for name in makers}
    for seed in range(args.seeds):
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=seed, stratify=y)
        for name, make in makers.items():  # interleaved: the same machine state for both
            pipe = make_pipeline(StandardScaler(), make(seed))
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                start = time.perf_counter()
                pipe.fit(X_train, y_train)
                results[name]["seconds"].append(time.perf_counter() - start)
            results[name]["warned"] += any(issubclass(w.category, ConvergenceWarning) for w in caught)
            results[name]["accuracy"].append(pipe.score(X_test, y_test))
            results[name]["epochs"].append(pipe[-1].n_iter_)
    for name, r in results.items():
        acc, ep = r["accuracy"], r["epochs"]
        print(f"{name:17s} accuracy {100 * statistics.mean(acc):.2f}% ({100 * min(acc):.2f}-{100 * max(acc):.2f})  "
              f"epochs {statistics.mean(ep):.1f} ({min(ep)}-{max(ep)})  median fit {statistics.median(r['seconds']):.3f} s"
              f"  ConvergenceWarnings {r['warned']}/{args.seeds}")
    ratio = statistics.median(results["MLPClassifier"]["seconds"]) / statistics.median(
        results["PtrainClassifier"]["seconds"])
    print(f"fit time MLPClassifier / PtrainClassifier: {ratio:.1f}x")


if __name__ == "__main__":
    main()
