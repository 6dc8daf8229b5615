"""An example's multiply-adds and this machine's FMA peak (build/perf/fma_peak), for the perf
scripts that quote speed as a fraction of the peak."""
import subprocess


def multiply_adds(layers):
    """An example's: the forward pass, every weight gradient, the error sent back past the first layer."""
    products = [x * y for x, y in zip(layers, layers[1:])]
    return 2 * sum(products) + sum(products[1:])


def fma_peak_gflops(binary):
    """One thread's GFLOP/s as build/perf/fma_peak measures it."""
    out = subprocess.run([binary], check=True, capture_output=True, text=True).stdout
    return float(out.splitlines()[2].split(",")[2])


def peak_fraction(examples_per_sec, layers, peak_gflops, threads):
    """The share of `threads` cores' FMA peak that a rate of examples uses."""
    return examples_per_sec * 2 * multiply_adds(layers) / (peak_gflops * 1e9 * threads)
