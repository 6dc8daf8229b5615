#!/usr/bin/python3
"""ptrain against oneDNN on the same net, recipe and data, interleaved: 784-112-16-10 (or
--layers, e.g. 784,1024,1024,10), sigmoid, ½‖a−t‖², SGD at batch 32 (--batch), 3 epochs each run.
The oneDNN program is the project's peer (../shared/peers/onednn_peer.cpp, Debian's libdnnl 2.6
with its brgemm kernels and the logistic fused); it is compiled here with -O3 -march=native,
its three layer sizes replaced by --layers' when they differ. Each round runs ptrain, then oneDNN, at the
same thread count; a run's figure is the median training examples/s of its epochs after the
first (both count the training steps only, not evaluation or file reading). Prints each round,
the medians, the per-round ratio's median, and ptrain's fraction of this machine's FMA peak
(build/perf/fma_peak). Needs: apt-get install libdnnl-dev.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

from peak import fma_peak_gflops, multiply_adds, peak_fraction

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEER = os.path.join(ROOT, "..", "shared", "peers", "onednn_peer.cpp")


def build_peer(out, layers):
    if not os.path.exists(PEER):
        sys.exit(f"vs_onednn: {PEER} not found (the peers live in ../shared beside the checkout)")
    source = open(PEER).read()
    default = "{784, 112, 16, 10}"
    if default not in source or len(layers) != 4:
        sys.exit("vs_onednn: the peer takes exactly three layers (four sizes)")
    patched = out + ".cpp"
    with open(patched, "w") as f:
        f.write(source.replace(default, "{" + ", ".join(map(str, layers)) + "}"))
    cmd = ["g++", "-O3", "-march=native", "-fopenmp", patched, "-o", out, "-ldnnl"]
    if subprocess.run(cmd).returncode != 0:
        sys.exit("vs_onednn: building the oneDNN peer failed (apt-get install libdnnl-dev)")


def ptrain_rate(binary, data, threads, epochs, layers, batch, lr):
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as m:
        subprocess.run([binary, "--data-dir", data, "--threads", str(threads), "--epochs", str(epochs), "--quiet",
                        "--layers", ",".join(map(str, layers)), "--batch-size", str(batch), "--lr", str(lr),
                        "--metrics", m.name], check=True, stdout=subprocess.DEVNULL)
        records = [json.loads(line) for line in open(m.name)]
    return statistics.median(r["examples_per_sec"] for r in records[1:epochs])


def onednn_rate(binary, data, threads, epochs, batch, lr):
    out = subprocess.run([binary, "--data", data, "--threads", str(threads), "--epochs", str(epochs), "--batch",
                          str(batch), "--lr", str(lr)], check=True, capture_output=True, text=True).stdout
    rates = [float(x) for x in re.findall(r"epoch \d+: (\d+) examples/s", out)]
    return statistics.median(rates[1:])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ptrain", default=os.path.join(ROOT, "build", "ptrain"))
    p.add_argument("--fma-peak", default=os.path.join(ROOT, "build", "perf", "fma_peak"))
    p.add_argument("--data", default=os.path.join(ROOT, "data", "mnist"))
    p.add_argument("--threads", default="1", help="comma-separated thread counts")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--layers", default="784,112,16,10")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=3.0)
    a = p.parse_args()
    layers = [int(x) for x in a.layers.split(",")]
    macs = multiply_adds(layers)
    peer = os.path.join(tempfile.gettempdir(), "ptrain_onednn_peer")
    build_peer(peer, layers)
    peak = fma_peak_gflops(a.fma_peak)
    print(f"net {a.layers}, batch {a.batch}: {macs:,} multiply-adds an example; FMA peak, one thread: "
          f"{peak:.1f} GFLOP/s = {peak * 1e9 / 2 / macs:,.0f} examples/s")
    for threads in [int(t) for t in a.threads.split(",")]:
        ours, theirs = [], []
        for r in range(a.rounds):
            ours.append(ptrain_rate(a.ptrain, a.data, threads, a.epochs, layers, a.batch, a.lr))
            theirs.append(onednn_rate(peer, a.data, threads, a.epochs, a.batch, a.lr))
            print(f"threads {threads} round {r + 1}: ptrain {ours[-1]:,.0f}  oneDNN {theirs[-1]:,.0f} examples/s"
                  f"  ratio {ours[-1] / theirs[-1]:.3f}", flush=True)
        ratio = statistics.median(o / t for o, t in zip(ours, theirs))
        fraction = peak_fraction(statistics.median(ours), layers, peak, threads)
        print(f"threads {threads}: ptrain {statistics.median(ours):,.0f}, oneDNN {statistics.median(theirs):,.0f}"
              f" examples/s (medians); ptrain/oneDNN {ratio:.3f} (median of rounds); ptrain at {100 * fraction:.0f}%"
              f" of the FMA peak")


if __name__ == "__main__":
    main()
