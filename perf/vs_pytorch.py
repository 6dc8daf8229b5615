#!/usr/bin/python3
"""ptrain against PyTorch on the same net, data and recipe, in one run: 784-112-16-10, sigmoid,
½‖a−t‖² averaged over the batch, plain SGD, one epoch of the seed split's 49,000 training images.
Runs are interleaved (ptrain, PyTorch, ptrain, ...) so a slow spell of a shared machine hits
both alike; prints the median examples/s of each and their ratio, per thread count.

PyTorch is optional: Debian's python3-torch with libopenblas0-pthread (without the latter its
reference BLAS is ~8x slower and not a fair peer). Also prints ptrain's peak resident memory for
a default 10-epoch run with --memory.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def load_idx(path, header_words):
    import numpy as np
    with open(path, "rb") as f:
        raw = f.read()
    return np.frombuffer(raw, np.uint8, offset=4 * header_words)


def torch_epoch(data_dir, threads, batch, lr):
    """One timed epoch of the same recipe in PyTorch; returns examples/s."""
    import numpy as np
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    images = np.concatenate([load_idx(os.path.join(data_dir, "train-images-idx3-ubyte"), 4),
                             load_idx(os.path.join(data_dir, "t10k-images-idx3-ubyte"), 4)]).reshape(-1, 784)
    labels = np.concatenate([load_idx(os.path.join(data_dir, "train-labels-idx1-ubyte"), 2),
                             load_idx(os.path.join(data_dir, "t10k-labels-idx1-ubyte"), 2)])
    order = np.random.default_rng(42).permutation(len(images))[: int(0.7 * len(images))]
    x = torch.tensor(images[order] / 255.0, dtype=torch.float32)
    t = torch.eye(10)[torch.tensor(labels[order], dtype=torch.long)]
    net = torch.nn.Sequential(torch.nn.Linear(784, 112), torch.nn.Sigmoid(), torch.nn.Linear(112, 16),
                              torch.nn.Sigmoid(), torch.nn.Linear(16, 10), torch.nn.Sigmoid())
    with torch.no_grad():
        for m in net:
            if isinstance(m, torch.nn.Linear):
                m.weight.uniform_(-0.5, 0.5)
                m.bias.fill_(1.0)
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    n = len(x)
    start = time.perf_counter()
    perm = torch.randperm(n)
    for k in range(0, n, batch):
        idx = perm[k:k + batch]
        loss = 0.5 * ((net(x[idx]) - t[idx]) ** 2).sum(1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return n / (time.perf_counter() - start)


def ptrain_epoch(args, threads):
    with tempfile.TemporaryDirectory() as tmp:
        metrics = os.path.join(tmp, "m.jsonl")
        subprocess.run([args.ptrain, "--threads", str(threads), "--epochs", "1", "--batch-size", str(args.batch),
                        "--data-dir", args.data_dir, "--metrics", metrics], check=True, stdout=subprocess.DEVNULL)
        with open(metrics) as f:
            return json.loads(f.readline())["examples_per_sec"]


def torch_in_child(args, threads):
    # A fresh interpreter per run. PyTorch's own threads (OpenMP) get the count; OpenBLAS stays at
    # one, PyTorch's best setting at batch 32 (both at two is ~4x slower: they oversubscribe).
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS="1")
    out = subprocess.run([sys.executable, __file__, "--torch-child", str(threads), "--batch", str(args.batch),
                          "--data-dir", args.data_dir], check=True, env=env, capture_output=True, text=True)
    return float(out.stdout.strip())


def torch_available():
    probe = subprocess.run([sys.executable, "-c", "import torch, numpy"], capture_output=True)
    return probe.returncode == 0


def peak_memory(args):
    subprocess.run([args.ptrain, "--threads", "2", "--data-dir", args.data_dir], check=True,
                   stdout=subprocess.DEVNULL)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--ptrain", default=os.path.join(ROOT, "build", "ptrain"))
    ap.add_argument("--data-dir", default=os.path.join(ROOT, "data", "mnist"))
    ap.add_argument("--memory", action="store_true", help="also measure a default 10-epoch run's peak RSS")
    ap.add_argument("--torch-child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_child:
        print(torch_epoch(args.data_dir, args.torch_child, args.batch, 3.0))
        return

    if args.memory:  # first: RUSAGE_CHILDREN keeps the largest child so far, and PyTorch's is larger
        print(f"ptrain default 10-epoch run, 2 threads: peak resident memory {peak_memory(args):.1f} MiB", flush=True)
    have_torch = torch_available()
    if not have_torch:
        print("vs_pytorch: PyTorch is not importable (apt-get install python3-torch python3-numpy "
              "libopenblas0-pthread); measuring ptrain alone")
    for threads in [int(t) for t in args.threads.split(",")]:
        ours, theirs = [], []
        for _ in range(args.repeats):
            ours.append(ptrain_epoch(args, threads))
            if have_torch:
                theirs.append(torch_in_child(args, threads))
        line = f"threads {threads}, batch {args.batch}: ptrain {statistics.median(ours):,.0f} examples/s"
        if have_torch:
            line += (f", PyTorch {statistics.median(theirs):,.0f} examples/s, ratio "
                     f"{statistics.median(ours) / statistics.median(theirs):.2f} (medians of {args.repeats})")
        print(line, flush=True)


if __name__ == "__main__":
    main()
