#!/usr/bin/python3
"""What flushing subnormal floats saves, epoch by epoch: the same binary, recipe and data run with
--subnormals flush (the default) and --subnormals keep (IEEE gradual underflow), interleaved
(each round runs both, in alternating order). Adam's moments of rarely-lit inputs decay by β a
step into float's subnormal range, and where a core pays a microcode assist for each vector
instruction that meets one (Intel), keep's epochs slow down as training proceeds.

Recipes: seed (784-112-16-10, ReLU, cross-entropy, He, Adam 0.001, batch 32) and wide
(784-1024-1024-10, the same with batch 128, a cosine schedule and the standard split). Prints,
per epoch, each mode's median examples/s over the rounds and the median of the rounds'
flush/keep ratios, then each mode's last epoch against its first and at what fraction of this
machine's FMA peak (build/perf/fma_peak, one core per thread) it ran, and both weights_hashes
(flushing should change none in these recipes).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from peak import fma_peak_gflops, peak_fraction

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADAM = ["--activation", "relu", "--loss", "xent", "--init", "he", "--optimizer", "adam", "--lr", "0.001"]
RECIPES = {
    "seed": ([784, 112, 16, 10], ADAM, 10),
    "wide": ([784, 1024, 1024, 10], ADAM + ["--batch-size", "128", "--lr-decay", "cosine", "--split", "standard"], 8),
}
MODES = ("flush", "keep")


def run(binary, data, threads, args, epochs, mode):
    """Each epoch's examples/s and the final weights_hash of one run."""
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as m:
        subprocess.run([binary, "--data-dir", data, "--threads", str(threads), "--epochs", str(epochs), "--quiet",
                        "--subnormals", mode, "--metrics", m.name, *args], check=True, stdout=subprocess.DEVNULL)
        records = [json.loads(line) for line in open(m.name)]
    rates = [r["examples_per_sec"] for r in records if "examples_per_sec" in r]
    return rates, records[-1]["weights_hash"]


def measure(binary, data, threads, recipe, rounds, epochs, peak):
    layers, args, default_epochs = RECIPES[recipe]
    args = args + ["--layers", ",".join(map(str, layers))]
    epochs = epochs or default_epochs
    rates = {mode: [] for mode in MODES}
    hashes = {mode: set() for mode in MODES}
    for r in range(rounds):
        for mode in (MODES if r % 2 == 0 else MODES[::-1]):
            epoch_rates, weights_hash = run(binary, data, threads, args, epochs, mode)
            rates[mode].append(epoch_rates)
            hashes[mode].add(weights_hash)
            print(f"  round {r + 1} {mode:5s}: " + " ".join(f"{x:.0f}" for x in epoch_rates), flush=True)
    print(f"{recipe}: {threads} thread(s), {rounds} rounds, examples/s per epoch (medians over the rounds)")
    print("epoch     flush      keep  flush/keep")
    for e in range(epochs):
        flush = statistics.median(run_rates[e] for run_rates in rates["flush"])
        keep = statistics.median(run_rates[e] for run_rates in rates["keep"])
        ratio = statistics.median(f[e] / k[e] for f, k in zip(rates["flush"], rates["keep"]))
        print(f"{e + 1:5d}  {flush:8.0f}  {keep:8.0f}  {ratio:9.3f}x")
    for mode in MODES:
        drift = statistics.median(run_rates[-1] / run_rates[0] for run_rates in rates[mode])
        last = statistics.median(run_rates[-1] for run_rates in rates[mode])
        fraction = f", {100 * peak_fraction(last, layers, peak, threads):.0f}% of the FMA peak" if peak else ""
        print(f"{mode}: last epoch at {drift:.3f}x the first{fraction}; weights_hash {' '.join(sorted(hashes[mode]))}")
    same = hashes["flush"] == hashes["keep"] and len(hashes["flush"]) == 1
    print("the same weights either way" if same else "THE WEIGHTS DIFFER between the modes")
    print()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--binary", default=os.path.join(ROOT, "build", "ptrain"))
    p.add_argument("--data", default=os.path.join(ROOT, "data", "mnist"))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=0, help="epochs a run (default: 10 seed, 8 wide)")
    p.add_argument("--recipe", choices=[*RECIPES, "both"], default="both")
    p.add_argument("--fma-peak", default=os.path.join(ROOT, "build", "perf", "fma_peak"))
    a = p.parse_args()
    if not os.path.exists(a.binary):
        sys.exit(f"subnormals: {a.binary} not found (tools/setup.sh builds it)")
    peak = fma_peak_gflops(a.fma_peak) if os.path.exists(a.fma_peak) else None
    if peak:
        print(f"FMA peak, one thread: {peak:.1f} GFLOP/s")
    for recipe in (RECIPES if a.recipe == "both" else [a.recipe]):
        measure(a.binary, a.data, a.threads, recipe, a.rounds, a.epochs, peak)


if __name__ == "__main__":
    main()
