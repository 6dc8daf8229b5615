#!/usr/bin/python3
"""Scaling profile of ptrain: sweeps --threads over 1, 2, 4, ... up to a maximum, for several
batch sizes, with repeats; writes a CSV (median examples/s, speedup, parallel efficiency, phase
shares) and a plot of speedup against threads with the ideal line (PNG and SVG, via gnuplot).

With --ranks 1,2,4 (and --reduce fast,exact) it also sweeps MPI ranks on this machine (`mpirun -np R ptrain --threads T`):
each R × T point uses R·T cores (T goes 1, 2, 4, ... up to max-threads / R), and the plot has
one line per batch size and rank count against cores. The speedup is always over 1 rank × 1
thread at the same batch size.

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
PHASES = ["data", "forward", "backward", "sync", "exchange", "reduce_update", "evaluation", "other"]


def machine_name():
    """The CPU's model name, with its family and widest vector unit: a guest's model name can be
    as bare as "AMD EPYC", which names no generation."""
    model, details = platform.processor() or "unknown CPU", []
    try:
        with open("/proc/cpuinfo") as f:
            fields = dict(line.split(":", 1) for line in f.read().split("\n\n")[0].splitlines() if ":" in line)
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        model = fields.get("model name", model)
        flags = fields.get("flags", "").split()
        details.append(f"family {fields['cpu family']}" if "cpu family" in fields else "")
        details.append("AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "")
    except OSError:
        pass
    details = ", ".join(d for d in details if d)
    return f"{model}{f' ({details})' if details else ''}, {os.cpu_count()} hardware threads"


def thread_counts(maximum):
    counts, t = [], 1
    while t < maximum:
        counts.append(t)
        t *= 2
    return counts + [maximum]


def launcher(args, ranks):
    if ranks == 1:
        return []
    # Ranks are not pinned to one core each: every rank runs --threads threads of its own.
    cmd = [args.mpirun, "-q", "--bind-to", "none", "--oversubscribe", "-np", str(ranks)] + args.mpirun_args.split()
    if os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    return cmd


def run_epoch(args, ranks, threads, batch, reduce, metrics_path):
    cmd = launcher(args, ranks) + [args.ptrain, "--threads", str(threads), "--batch-size", str(batch),
                                   "--epochs", str(args.epochs), "--profile", "--metrics", metrics_path,
                                   "--data-dir", args.data_dir]
    if reduce == "exact":
        cmd.append("--exact-reduce")
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        sys.exit(f"scaling: {' '.join(cmd)} failed: {done.stderr.strip()}")
    with open(metrics_path) as f:
        epochs = [json.loads(line) for line in f if '"epoch"' in line]
    last = epochs[-1]  # the last epoch: the first may still be warming caches
    return last["examples_per_sec"], {p: last["phase_seconds"][p] / last["seconds"] for p in PHASES}


def sweep(args):
    # Repeats are the outer loop, so a slow spell of a shared machine hits every point alike.
    points = [(b, r, t, m) for b in args.batches for r in args.ranks for m in (args.reduce if r > 1 else ["none"])
              for t in thread_counts(max(1, args.max_threads // r))]
    rates = {p: [] for p in points}
    shares = {p: {ph: [] for ph in PHASES} for p in points}
    with tempfile.TemporaryDirectory() as tmp:
        metrics = os.path.join(tmp, "m.jsonl")
        for rep in range(args.repeats):
            for point in points:
                rate, share = run_epoch(args, point[1], point[2], point[0], point[3], metrics)
                rates[point].append(rate)
                for ph in PHASES:
                    shares[point][ph].append(share[ph])
            print(f"scaling: repeat {rep + 1}/{args.repeats} done", flush=True)
    rows = []
    for batch, ranks, threads, reduce in points:
        median = statistics.median(rates[(batch, ranks, threads, reduce)])
        base = statistics.median(rates[(batch, 1, 1, "none")]) if args.ranks[0] == 1 else None
        cores = ranks * threads
        row = {"machine": args.machine, "ranks": ranks, "threads": threads, "cores": cores, "batch": batch,
               "reduce": reduce,
               "repeats": args.repeats, "median_examples_per_sec": round(median),
               "speedup": round(median / base, 3) if base else "",
               "efficiency": round(median / base / cores, 3) if base else ""}
        row.update({f"share_{ph}": round(statistics.median(shares[(batch, ranks, threads, reduce)][ph]), 4)
                    for ph in PHASES})
        rows.append(row)
        print(f"batch {batch:4d}  ranks {ranks:2d} × threads {threads:3d} ({reduce:5s})  {median:10.0f} examples/s  "
              f"speedup {row['speedup']}  efficiency {row['efficiency']}")
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
    if any(r["speedup"] == "" for r in rows):
        print("scaling: no 1-rank × 1-thread baseline (--ranks must start with 1); CSV written, no plot",
              file=sys.stderr)
        return
    lines = sorted({(r["batch"], r["ranks"], r["reduce"]) for r in rows})
    several = len({r["ranks"] for r in rows}) > 1
    with tempfile.TemporaryDirectory() as tmp:
        series = []
        for b, ranks, reduce in lines:
            path = os.path.join(tmp, f"b{b}r{ranks}{reduce}.dat")
            with open(path, "w") as f:
                for r in rows:
                    if (r["batch"], r["ranks"], r["reduce"]) == (b, ranks, reduce):
                        f.write(f"{r['cores']} {r['speedup']}\n")
            title = f"batch {b}" + (f", {ranks} ranks ({reduce} reduction)" if several and ranks > 1
                                    else ", 1 process" if several else "")
            series.append(f"'{path}' using 1:2 with linespoints lw 2 pt 7 title '{title}'")
        script = f"""
set title "ptrain speedup against cores (ranks × threads)\\n{machine}" noenhanced
set xlabel "cores used (ranks × threads per rank)"; set ylabel "speedup over 1 thread (median examples/s)"
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
    ap.add_argument("--ranks", default="1", help="comma-separated MPI rank counts, starting with 1 (default: 1)")
    ap.add_argument("--reduce", default="fast", help="comma-separated reductions for multi-rank points: fast, exact")
    ap.add_argument("--mpirun", default="mpirun", help="the MPI launcher")
    ap.add_argument("--mpirun-args", default="", help="more launcher options, e.g. '--hostfile hosts'")
    ap.add_argument("--ptrain", default=os.path.join(ROOT, "build", "ptrain"))
    ap.add_argument("--data-dir", default=os.path.join(ROOT, "data", "mnist"))
    ap.add_argument("--machine", default=machine_name(), help="how the machine is named in the CSV and plot")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "scaling"), help="output path without extension")
    args = ap.parse_args()
    args.batches = [int(b) for b in args.batches.split(",")]
    args.ranks = [int(r) for r in args.ranks.split(",")]
    args.reduce = args.reduce.split(",")
    if not set(args.reduce) <= {"fast", "exact"}:
        ap.error("--reduce takes fast and/or exact")
    if min(args.ranks) < 1:
        ap.error("--ranks must be positive")
    if args.max_threads < 1 or args.repeats < 1 or args.epochs < 1 or min(args.batches) < 1:
        ap.error("--max-threads, --repeats, --epochs and batch sizes must be positive")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    rows = sweep(args)
    write_csv(rows, args.out + ".csv")
    plot(rows, args.out, args.machine, args.max_threads)
    print(f"scaling: wrote {args.out}.csv, .png, .svg ({args.machine})")


if __name__ == "__main__":
    main()
