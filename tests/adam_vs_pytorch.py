#!/usr/bin/python3
"""One optimizer step of ptrain against PyTorch's torch.optim step from the same weights and the
same batch: ptrain saves a model, trains one step from it (a training file of exactly one batch),
and PyTorch takes that step from the saved weights with torch.optim.Adam, AdamW and SGD. The
weights must agree to float32 rounding. Exit 77 (skipped) when Debian's python3-torch or numpy is
not installed.

usage: tests/adam_vs_pytorch.py PTRAIN_BINARY
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
except ImportError as e:
    print(f"skipped: {e} (apt-get install python3-torch)")
    sys.exit(77)


def write_npy(path, array):
    np.save(path, array)


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, t in header.items():
        if name == "__metadata__" or not name.startswith("layers."):
            continue
        begin, end = t["data_offsets"]
        out[name] = np.frombuffer(data[begin:end], dtype=np.float32).reshape(t["shape"]).copy()
    return out


def torch_step(weights, x, y, optimizer, lr, decay, layers, nesterov=False):
    params = []
    for l in range(layers):
        params.append(torch.tensor(weights[f"layers.{l}.weight"], dtype=torch.float32, requires_grad=True))
        params.append(torch.tensor(weights[f"layers.{l}.bias"], dtype=torch.float32, requires_grad=True))
    if optimizer == "adam":
        opt = torch.optim.Adam(params, lr=lr, weight_decay=decay)
    elif optimizer == "adamw":
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=decay)
    else:
        opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=decay, nesterov=nesterov)
    a = torch.tensor(x)
    for l in range(layers):
        a = a @ params[2 * l].T + params[2 * l + 1]
        if l + 1 < layers:
            a = torch.relu(a)
    loss = torch.nn.functional.cross_entropy(a, torch.tensor(y))
    opt.zero_grad()
    loss.backward()
    opt.step()
    return {name: p.detach().numpy() for name, p in
            zip([f"layers.{l}.{k}" for l in range(layers) for k in ("weight", "bias")], params)}


def main():
    ptrain = sys.argv[1]
    rng = np.random.default_rng(5)
    batch, features, classes = 32, 20, 4
    x = rng.normal(size=(batch, features)).astype(np.float32)
    y = rng.integers(0, classes, size=batch).astype(np.int64)
    worst = 0.0
    with tempfile.TemporaryDirectory() as d:
        write_npy(os.path.join(d, "x_train.npy"), x)
        write_npy(os.path.join(d, "y_train.npy"), y)
        write_npy(os.path.join(d, "x_test.npy"), x[:4])
        write_npy(os.path.join(d, "y_test.npy"), y[:4])
        files = ["--train", os.path.join(d, "x_train.npy"), "--test", os.path.join(d, "x_test.npy"), "--val-size", "0",
                 "--batch-size", str(batch), "--activation", "relu", "--loss", "xent", "--quiet"]
        init = os.path.join(d, "init.st")
        subprocess.run([ptrain, *files, "--hidden", "16", "--init", "he", "--epochs", "0", "--save", init], check=True,
                       capture_output=True)
        for optimizer, lr, decay, nesterov in [("adam", 0.01, 0.0, False), ("adam", 0.01, 0.05, False),
                                               ("adamw", 0.01, 0.05, False), ("sgd", 0.1, 0.01, False),
                                               ("sgd", 0.1, 0.01, True)]:
            stepped = os.path.join(d, f"{optimizer}-{nesterov}.st")
            extra = ["--optimizer", optimizer, "--lr", str(lr), "--weight-decay", str(decay)]
            if optimizer == "sgd":
                extra += ["--momentum", "0.9", "--momentum-kind", "nesterov" if nesterov else "classical"]
            subprocess.run([ptrain, *files, "--init-from", init, "--epochs", "1", "--save", stepped, *extra], check=True,
                           capture_output=True)
            want = torch_step(read_safetensors(init), x, y, optimizer, lr, decay, 2, nesterov)
            got = read_safetensors(stepped)
            start = read_safetensors(init)
            here = 0.0
            for name in want:
                moved = np.abs(want[name] - start[name]).max()
                diff = np.abs(got[name] - want[name]).max()
                worst = max(worst, diff)
                here = max(here, diff)
                # float32 sums of 32 products in another order, through Adam's m/√v: a few ulps of
                # the weights, far below the step itself.
                if diff > 2e-6 or not moved > 20 * diff:
                    print(f"FAIL {optimizer} decay {decay} {name}: max |ptrain - torch| {diff:.3g}, step {moved:.3g}")
                    sys.exit(1)
            kind = " nesterov" if nesterov else ""
            print(f"{optimizer:5s}{kind} lr {lr} weight decay {decay}: max |ptrain - torch| over all weights {here:.2e}")
    print(f"one step of each from the same weights and batch agrees with torch {torch.__version__} to {worst:.2e}")


if __name__ == "__main__":
    main()
