#!/usr/bin/python3
"""Throughput across simulated hosts: two network-namespace hosts (tools/multihost.sh), one rank
of one thread on each, over links rate-limited with `tc tbf` (1 and 10 Gbit, and the unlimited
veth), in the fast and exact modes at several batch sizes, for the default net and
784-1024-1024-10, beside one process with one and with two threads. Writes a CSV (median
examples/s over the repeats, the ratios to one process, the bytes each rank sends a step and the
examples/s the unlimited link's step plus the bytes' time on the wire predict) and a plot (PNG and SVG, via gnuplot). With
--baseline OTHER_PTRAIN, each two-host point also runs that build, interleaved, for an A/B.

The hosts share this machine's CPU, its memory and its kernel's network stack: the figures show
what the link costs and what the two modes send, not what two real machines would reach. Needs
root (namespaces, tc) and Open MPI. Repeats are the outer loop and the links change inside each
repeat, so a slow spell of a shared machine hits every point alike. Each run trains 2 epochs on a
subset of MNIST sized so every point takes at least 16 steps; the second epoch is measured.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from peak import fma_peak_gflops, peak_fraction  # noqa: E402
from scaling import machine_name, write_csv  # noqa: E402

MULTIHOST = os.path.join(ROOT, "tools", "multihost.sh")
NETS = {"default": [784, 112, 16, 10], "wide": [784, 1024, 1024, 10]}
LINK_BITS = {"none": None, "10gbit": 10e9, "1gbit": 1e9}
MODES = ["1 process, 1 thread", "1 process, 2 threads", "fast, 2 hosts", "exact, 2 hosts"]
BASELINE = " (baseline build)"
ALIGN_FLOATS = 16  # the engine's parameters are padded to cache lines (ParamLayout)
VAL_SIZE = 256


def padded_params(sizes):
    total = 0
    for n_in, n_out in zip(sizes, sizes[1:]):
        total = -(-(total + n_in * n_out) // ALIGN_FLOATS) * ALIGN_FLOATS
        total = -(-(total + n_out) // ALIGN_FLOATS) * ALIGN_FLOATS
    return total


def exact_row_floats(sizes):
    # Each example's hidden activations and every layer's deltas (ParallelEngine::exchanged_rows).
    return sum(sizes[1:-1]) + sum(sizes[1:])


def bytes_sent_per_rank(sizes, batch, mode, ranks=2):
    """What one rank sends a step: a ring allreduce of the padded gradient (fast), or the other
    ranks' share of the allgather of every example's row (exact); the loss terms are negligible."""
    if mode.startswith("fast"):
        return 2 * (ranks - 1) / ranks * 4 * padded_params(sizes)
    return (ranks - 1) / ranks * 4 * batch * exact_row_floats(sizes)


def train_examples(net, batch):
    # Enough for 16 steps a point, and a second of work for the default net's fast links.
    return 16384 if net == "default" else max(2048, 16 * batch)


def read_idx(path):
    with open(path, "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def write_subsets(data_dir, batches, tmp):
    images = read_idx(os.path.join(data_dir, "train-images-idx3-ubyte")).reshape(-1, 784)
    labels = read_idx(os.path.join(data_dir, "train-labels-idx1-ubyte"))
    paths = {}
    for n in sorted({train_examples(net, b) for net in NETS for b in batches}):
        if n + VAL_SIZE + 512 > len(images):
            sys.exit(f"multihost_throughput: {data_dir} has {len(images)} training images, fewer than {n}")
        paths[n] = os.path.join(tmp, f"mnist_{n}.npz")
        test = slice(len(images) - 512, len(images))
        np.savez(paths[n], x_train=images[:n + VAL_SIZE], y_train=labels[:n + VAL_SIZE], x_test=images[test],
                 y_test=labels[test])
    return paths


def set_link(link):
    for k in (1, 2):
        subprocess.run(["tc", "qdisc", "del", "dev", f"ptrv{k}", "root"], stderr=subprocess.DEVNULL)
        if LINK_BITS[link]:
            # tbf's bucket holds 1 ms at the rate (at least the 64 KiB a veth's segments reach).
            burst = max(65536, int(LINK_BITS[link] / 8 / 1000))
            subprocess.run(["tc", "qdisc", "add", "dev", f"ptrv{k}", "root", "tbf", "rate", link, "burst", str(burst),
                            "latency", "50ms"], check=True)


def run_point(args, net, batch, mode, data, metrics):
    ptrain = [args.baseline if mode.endswith(BASELINE) else args.ptrain, "--train", data, "--test", data, "--val-size", str(VAL_SIZE), "--layers",
              ",".join(map(str, NETS[net])), "--batch-size", str(batch), "--epochs", "2", "--profile", "--metrics",
              metrics, "--threads", "2" if mode == MODES[1] else "1"]
    if mode.startswith("exact"):
        ptrain.append("--exact-reduce")
    cmd = ptrain if mode.startswith("1 process") else [MULTIHOST, "mpirun", "-q", "-np", "2"] + ptrain
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=600)
    if done.returncode != 0:
        sys.exit(f"multihost_throughput: {' '.join(cmd)} failed: {done.stderr.strip()}")
    with open(metrics) as f:
        last = [json.loads(line) for line in f if '"epoch"' in line][-1]
    return last["examples_per_sec"], last["phase_seconds"]["exchange"] / last["seconds"]


def sweep(args, paths, tmp):
    modes = MODES + ([m + BASELINE for m in MODES[2:]] if args.baseline else [])
    points = [(link, net, b, m) for link in args.links for net in args.nets for b in args.batches for m in modes
              if not (m.startswith("1 process") and link != args.links[0])]  # one process uses no link
    rates = {p: [] for p in points}
    exchange = {p: [] for p in points}
    metrics = os.path.join(tmp, "m.jsonl")
    for rep in range(args.repeats):
        for link in args.links:
            set_link(link)
            for p in points:
                if p[0] == link:
                    rate, share = run_point(args, p[1], p[2], p[3], paths[train_examples(p[1], p[2])], metrics)
                    rates[p].append(rate)
                    exchange[p].append(share)
        print(f"multihost_throughput: repeat {rep + 1}/{args.repeats} done", flush=True)
    set_link("none")
    return points, rates, exchange


def model_rate(sizes, batch, mode, link, veth_rate):
    """Examples/s over a link of `link`'s rate: the step on the unlimited veth (its computation,
    the collectives' latency and copies, measured) plus the time the bytes each rank sends a step
    take on the wire. A real link of that rate serialises every message so; tbf lets a message
    shorter than its bucket (1 ms of the rate) pass at the veth's speed."""
    bits = LINK_BITS[link]
    wire = 8 * bytes_sent_per_rank(sizes, batch, mode) / bits if bits else 0.0
    return batch / (batch / veth_rate + wire)


def rows_of(args, points, rates, exchange):
    median = {p: statistics.median(v) for p, v in rates.items()}
    rows = []
    for link, net, batch, mode in points:
        base1 = median[(args.links[0], net, batch, MODES[0])]
        base2 = median[(args.links[0], net, batch, MODES[1])]
        rate = median[(link, net, batch, mode)]
        two_hosts = not mode.startswith("1 process")
        row = {"machine": args.machine, "link": link if two_hosts else "", "net": "-".join(map(str, NETS[net])),
               "batch": batch, "mode": mode, "repeats": args.repeats, "median_examples_per_sec": round(rate),
               "vs_1_process_1_thread": round(rate / base1, 3), "vs_1_process_2_threads": round(rate / base2, 3),
               "share_exchange": round(statistics.median(exchange[(link, net, batch, mode)]), 4),
               "bytes_sent_per_rank_per_step": round(bytes_sent_per_rank(NETS[net], batch, mode)) if two_hosts else 0,
               "model_examples_per_sec": "",
               # of the cores the point uses: one, or two (two threads, or two hosts' one each)
               "fma_peak_fraction": round(peak_fraction(rate, NETS[net], args.peak, 1 if mode == MODES[0] else 2), 3)}
        if args.baseline:
            other = mode[:-len(BASELINE)] if mode.endswith(BASELINE) else mode + BASELINE
            row["vs_other_build"] = round(rate / median[(link, net, batch, other)], 3) if two_hosts else ""
        if two_hosts and "none" in args.links:
            veth = median[("none", net, batch, mode)]
            row["model_examples_per_sec"] = round(model_rate(NETS[net], batch, mode, link, veth))
        rows.append(row)
        print(f"{row['net']:>17} batch {batch:4d}  {mode:21s} {link if two_hosts else '':7s} {rate:9.0f} examples/s  "
              f"×{row['vs_1_process_1_thread']:.2f} of 1 thread  model {row['model_examples_per_sec']}")
    return rows


def plot(rows, stem, machine, links):
    if not shutil.which("gnuplot"):
        print("multihost_throughput: gnuplot not found (apt-get install gnuplot-nox); CSV written, no plot",
              file=sys.stderr)
        return
    nets = sorted({r["net"] for r in rows}, key=len)
    with tempfile.TemporaryDirectory() as tmp:
        panels = []
        for net in nets:
            series = []
            for mode, link in [(MODES[0], ""), (MODES[1], "")] + [(m, l) for m in MODES[2:] for l in links]:  # not A/B
                path = os.path.join(tmp, f"{net}{mode}{link}.dat".replace(" ", "_").replace(",", ""))
                with open(path, "w") as f:
                    for r in rows:
                        if (r["net"], r["mode"], r["link"]) == (net, mode, link):
                            f.write(f"{r['batch']} {r['median_examples_per_sec']}\n")
                style = "dt 2 lc rgb 'gray'" if not link else ("lc rgb '#1f77b4'" if "fast" in mode else "lc rgb '#d62728'")
                point = {"": 7, "none": 7, "10gbit": 5, "1gbit": 9}[link] if link else (4 if "1 thread" in mode else 6)
                title = mode + (f", link {link if link != 'none' else 'unlimited'}" if link else "")
                series.append(f"'{path}' using 1:2 with linespoints lw 2 pt {point} {style} title '{title}'")
            panels.append(f'set title "{net}" noenhanced\nplot {", ".join(series)}\n')
        script = f"""
set multiplot layout 1,{len(nets)} title "ptrain across 2 simulated hosts (network namespaces, tc tbf), one thread each\\n{machine}: the hosts share its CPU" noenhanced
set xlabel "batch size"; set ylabel "examples/s (median)"; set grid
set logscale x 2; set logscale y 10; set key bottom right font ",8"
{"".join(panels)}unset multiplot
"""
        for term, ext in (("pngcairo size 1300,600", "png"), ("svg size 1300,600", "svg")):
            subprocess.run(["gnuplot"], input=f"set terminal {term}\nset output '{stem}.{ext}'\n{script}",
                           text=True, check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", default="32,256,1024", help="comma-separated batch sizes")
    ap.add_argument("--nets", default="default,wide", help="comma-separated: default (784-112-16-10), wide "
                    "(784-1024-1024-10)")
    ap.add_argument("--links", default="none,10gbit,1gbit", help="comma-separated: none, 10gbit, 1gbit")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--ptrain", default=os.path.join(ROOT, "build", "ptrain"))
    ap.add_argument("--baseline", help="another ptrain build to run beside --ptrain at each two-host point (A/B)")
    ap.add_argument("--fma-peak", default=os.path.join(ROOT, "build", "perf", "fma_peak"))
    ap.add_argument("--data-dir", default=os.path.join(ROOT, "data", "mnist"))
    ap.add_argument("--machine", default=machine_name(), help="how the machine is named in the CSV and plot")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "multihost_throughput"),
                    help="output path without extension")
    args = ap.parse_args()
    args.batches = [int(b) for b in args.batches.split(",")]
    args.nets, args.links = args.nets.split(","), args.links.split(",")
    if not set(args.nets) <= set(NETS) or not set(args.links) <= set(LINK_BITS):
        ap.error("--nets takes default and/or wide; --links none, 10gbit and/or 1gbit")
    if args.repeats < 1 or min(args.batches) < 1 or max(args.batches) > 3000:
        ap.error("--repeats must be positive and batch sizes 1-3000")
    if os.geteuid() != 0 or not shutil.which("mpirun") or not shutil.which("tc"):
        sys.exit("multihost_throughput: needs root (network namespaces, tc) and Open MPI's mpirun")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    args.peak = fma_peak_gflops(args.fma_peak)
    print(f"multihost_throughput: FMA peak {args.peak:.0f} GFLOP/s a core")
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_subsets(args.data_dir, args.batches, tmp)
        subprocess.run([MULTIHOST, "up", "2"], check=True)
        try:
            points, rates, exchange = sweep(args, paths, tmp)
        finally:
            subprocess.run([MULTIHOST, "down"])
    rows = rows_of(args, points, rates, exchange)
    write_csv(rows, args.out + ".csv")
    plot(rows, args.out, args.machine, args.links)
    print(f"multihost_throughput: wrote {args.out}.csv, .png, .svg ({args.machine})")


if __name__ == "__main__":
    main()
