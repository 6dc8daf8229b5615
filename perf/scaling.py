#!/usr/bin/python3
"""Scaling profile of ptrain: sweeps --threads over 1, 2, 4, ... up to a maximum, for several
batch sizes, with repeats; writes a CSV (median examples/s, speedup, parallel efficiency, phase
shares) and a plot of speedup against threads with the ideal line (PNG and SVG, via gnuplot).

Each point is one epoch of `ptrain --profile`; the median over the repeats is reported. Thread
counts above the core count are allowed (they oversubscribe: fine for checking, not for speed).
"""
import argparse
import csv
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PHASES = ["data", "forward", "backward", "sync", "reduce_update", "evaluation", "other"]


def machine_name():
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} hardware threads"


def thread_counts(maximum):
    counts, t = [], 1
    while t < maximum:
        counts.append(t)
        t *= 2
    return counts + [maximum]


def run_epoch(args, threads, batch, metrics_path):
    cmd = [args.ptrain, "--threads", str(threads), "--batch-size", str(batch), "--epochs", str(args.epochs),
           "--profile", "--metrics", metrics_path, "--data-dir", args.data_dir]
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        sys.exit(f"scaling: {' '.join(cmd)} failed: {done.stderr.strip()}")
    with open(metrics_path) as f:
        epochs = [json.loads(line) for line in f if '"epoch"' in line]
    last = epochs[-1]  # the last epoch: the first may still be warming caches
    return last["examples_per_sec"], {p: last["phase_seconds"][p] / last["seconds"] for p in PHASES}


def sweep(args):
    # Repeats are the outer loop, so a slow spell of a shared machine hits every point alike.
    points = [(b, t) for b in args.batches for t in thread_counts(args.max_threads)]
    rates = {p: [] for p in points}
    shares = {p: {ph: [] for ph in PHASES} for p in points}
    with tempfile.TemporaryDirectory() as tmp:
        metrics = os.path.join(tmp, "m.jsonl")
        for rep in range(args.repeats):
            for point in points:
                rate, share = run_epoch(args, point[1], point[0], metrics)
                rates[point].append(rate)
                for ph in PHASES:
                    shares[point][ph].append(share[ph])
            print(f"scaling: repeat {rep + 1}/{args.repeats} done", flush=True)
    rows = []
    for batch, threads in points:
        median = statistics.median(rates[(batch, threads)])
        base = statistics.median(rates[(batch, 1)])
        row = {"machine": args.machine, "threads": threads, "batch": batch, "repeats": args.repeats,
               "median_examples_per_sec": round(median), "speedup": round(median / base, 3),
               "efficiency": round(median / base / threads, 3)}
        row.update({f"share_{ph}": round(statistics.median(shares[(batch, threads)][ph]), 4) for ph in PHASES})
        rows.append(row)
        print(f"batch {batch:4d}  threads {threads:3d}  {median:10.0f} examples/s  speedup {row['speedup']:.2f}"
              f"  efficiency {row['efficiency']:.2f}")
    return rows


def write_csv(rows, path):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)


def plot(rows, stem, machine, max_threads):
    if not shutil.which("gnuplot"):
        print("scaling: gnuplot not found (apt-get install gnuplot-nox); CSV written, no plot", file=sys.stderr)
        return
    batches = sorted({r["batch"] for r in rows})
    with tempfile.TemporaryDirectory() as tmp:
        series = []
        for b in batches:
            path = os.path.join(tmp, f"b{b}.dat")
            with open(path, "w") as f:
                for r in rows:
                    if r["batch"] == b:
                        f.write(f"{r['threads']} {r['speedup']}\n")
            series.append(f"'{path}' using 1:2 with linespoints lw 2 pt 7 title 'batch {b}'")
        script = f"""
set title "ptrain speedup against threads\\n{machine}" noenhanced
set xlabel "threads"; set ylabel "speedup over 1 thread (median examples/s)"
set key top left; set grid
set logscale x 2; set logscale y 2; set xrange [1:{max(2, max_threads)}]; set yrange [0.5:{max(2, max_threads)}]
plot x with lines dt 2 lc rgb 'gray' title 'ideal', {", ".join(series)}
"""
        for term, ext in (("pngcairo size 900,600", "png"), ("svg size 900,600", "svg")):
            subprocess.run(["gnuplot"], input=f"set terminal {term}\nset output '{stem}.{ext}'\n{script}",
                           text=True, check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-threads", type=int, default=os.cpu_count(), help="largest thread count (default: all)")
    ap.add_argument("--batches", default="32,128,512", help="comma-separated batch sizes")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--epochs", type=int, default=1, help="epochs per run; the last one is measured")
    ap.add_argument("--ptrain", default=os.path.join(ROOT, "build", "ptrain"))
    ap.add_argument("--data-dir", default=os.path.join(ROOT, "data", "mnist"))
    ap.add_argument("--machine", default=machine_name(), help="how the machine is named in the CSV and plot")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "scaling"), help="output path without extension")
    args = ap.parse_args()
    args.batches = [int(b) for b in args.batches.split(",")]
    if args.max_threads < 1 or args.repeats < 1 or args.epochs < 1 or min(args.batches) < 1:
        ap.error("--max-threads, --repeats, --epochs and batch sizes must be positive")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    rows = sweep(args)
    write_csv(rows, args.out + ".csv")
    plot(rows, args.out, args.machine, args.max_threads)
    print(f"scaling: wrote {args.out}.csv, .png, .svg ({args.machine})")


if __name__ == "__main__":
    main()
