#!/usr/bin/python3
"""PtrainClassifier against MLPClassifier with the same parameters on scikit-learn's digits:
StandardScaler in a Pipeline, hidden (64,), Adam lr 0.001, batch 32, no L2, 50 epochs
(tol 0 so neither stops early), five stratified 80/20 splits, fits interleaved. With --defaults,
both at their own defaults instead (hidden (100,), batch 200, alpha 1e-4, max_iter 200, the
training-loss stopping rule at tol 1e-4). Prints each one's mean test accuracy (min-max), epochs
run (n_iter_), median fit time, and how many fits ran out of max_iter (a ConvergenceWarning).

usage: perf/estimator_vs_mlp.py [--seeds 5] [--threads 1] [--defaults]  (after tools/setup.sh)
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
    ap.add_argument("--defaults", action="store_true", help="both estimators at their own defaults")
    args = ap.parse_args()
    X, y = load_digits(return_X_y=True)
    params = {} if args.defaults else dict(hidden_layer_sizes=(64,), solver="adam", learning_rate_init=0.001,
                                           batch_size=32, alpha=0.0, max_iter=50, tol=0.0, n_iter_no_change=51)
    results = {"PtrainClassifier": [], "MLPClassifier": []}
    for seed in range(args.seeds):
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=seed, stratify=y)
        for name, clf in (("PtrainClassifier", PtrainClassifier(random_state=seed, n_threads=args.threads, **params)),
                          ("MLPClassifier", MLPClassifier(random_state=seed, **params))):
            pipe = make_pipeline(StandardScaler(), clf)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                start = time.perf_counter()
                pipe.fit(X_train, y_train)
                seconds = time.perf_counter() - start
            ran_out = any(issubclass(w.category, ConvergenceWarning) for w in caught)
            results[name].append((100 * pipe.score(X_test, y_test), seconds, clf.n_iter_, ran_out))
    for name, rs in results.items():
        acc, epochs = [r[0] for r in rs], [r[2] for r in rs]
        print(f"{name:17s} test accuracy {statistics.mean(acc):.2f}% ({min(acc):.2f}-{max(acc):.2f}), "
              f"epochs {statistics.mean(epochs):.1f} ({min(epochs)}-{max(epochs)}), "
              f"fit {statistics.median(r[1] for r in rs):.3f} s (median of {args.seeds}), "
              f"ConvergenceWarnings {sum(r[3] for r in rs)}/{args.seeds}")

if __name__ == "__main__":
    main()
