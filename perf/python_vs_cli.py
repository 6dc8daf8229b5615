#!/usr/bin/python3
"""Training speed from Python against the command line, interleaved: the default MNIST recipe
(784-112-16-10, sigmoid, mse, batch 32) on the seed split's 49,000 training images, 3 epochs
each, examples/s of epochs 2-3 (the engine's own count, training only). The Python side gets
the same images as uint8 arrays and the same validation images. Prints the median of each over
the rounds and their ratio.

usage: perf/python_vs_cli.py [--rounds 5] [--threads 2]  (after tools/setup.sh)
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "build", "python"))
import ptrain  # noqa: E402


def idx(path, header_words):
    with open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=4 * header_words)


def seed_split(total, seed):
    """The command line's seed split, read back from a run's own model file would be exact; here
    the same sizes (70/10/20) from the files in order, which is all a speed comparison needs."""
    n_train, n_val = total * 7 // 10, total // 10
    return np.arange(n_train), np.arange(n_train, n_train + n_val)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    data = os.path.join(ROOT, "data", "mnist")
    images = np.concatenate([idx(os.path.join(data, "train-images-idx3-ubyte"), 4).reshape(-1, 784),
                             idx(os.path.join(data, "t10k-images-idx3-ubyte"), 4).reshape(-1, 784)])
    labels = np.concatenate([idx(os.path.join(data, "train-labels-idx1-ubyte"), 2),
                             idx(os.path.join(data, "t10k-labels-idx1-ubyte"), 2)])
    train, val = seed_split(len(labels), 42)
    cli, py = [], []
    with tempfile.TemporaryDirectory() as d:
        for _ in range(args.rounds):
            metrics = os.path.join(d, "m.jsonl")
            subprocess.run([os.path.join(ROOT, "build", "ptrain"), "--epochs", "3", "--threads", str(args.threads),
                            "--quiet", "--metrics", metrics], check=True, capture_output=True)
            epochs = [json.loads(line) for line in open(metrics)][:-1]
            cli.append(statistics.median(e["examples_per_sec"] for e in epochs[1:]))
            model = ptrain.train(images[train], labels[train], X_val=images[val], y_val=labels[val], epochs=3,
                                 threads=args.threads)
            py.append(statistics.median(e["examples_per_sec"] for e in model.history[1:]))
    c, p = statistics.median(cli), statistics.median(py)
    print(f"command line {c:,.0f} examples/s, Python {p:,.0f} examples/s: Python/CLI {p / c:.3f} "
          f"({args.rounds} interleaved rounds, {args.threads} threads)")


if __name__ == "__main__":
    main()
