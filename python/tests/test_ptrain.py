"""The Python module against the command line (the same weights_hash, model files read both
ways), NumPy's own arithmetic, and its promises: history, callbacks, errors, Ctrl-C, the GIL."""
import json
import os
import re
import signal
import subprocess
import threading

import numpy as np
import pytest

import ptrain

PTRAIN = os.environ.get("PTRAIN_BINARY", "build/ptrain")


def synthetic(n, features, classes, seed):
    """Each class a random prototype, each example its class's prototype plus noise."""
    rng = np.random.default_rng(seed)
    prototypes = rng.normal(size=(classes, features))
    y = np.arange(n) % classes
    x = prototypes[y] + 0.8 * rng.normal(size=(n, features))
    return x.astype(np.float32), y.astype(np.int64)


def cli(*args):
    return subprocess.run([PTRAIN, *args], check=True, capture_output=True, text=True).stdout


def hash_of(out):
    return re.search(r"weights_hash ([0-9a-f]{16})", out).group(1)


RECIPE = dict(hidden=(16,), activation="relu", loss="xent", init="he", lr=0.05, batch_size=16, epochs=4, seed=7)
RECIPE_ARGS = ["--hidden", "16", "--activation", "relu", "--loss", "xent", "--init", "he", "--lr", "0.05",
               "--batch-size", "16", "--epochs", "4", "--seed", "7"]


def test_same_weights_as_the_command_line(tmp_path):
    x, y = synthetic(300, 10, 3, 1)
    xt, yt = synthetic(60, 10, 3, 2)
    for name, a in {"x_train": x, "y_train": y, "x_test": xt, "y_test": yt}.items():
        np.save(tmp_path / f"{name}.npy", a)
    out = cli("--train", str(tmp_path / "x_train.npy"), "--test", str(tmp_path / "x_test.npy"), "--val-size", "0",
              "--quiet", *RECIPE_ARGS)
    for threads in (1, 3):
        model = ptrain.train(x, y, threads=threads, **RECIPE)
        assert model.weights_hash == hash_of(out)
    adam = ptrain.train(x, y, threads=2, optimizer="adam", **{**RECIPE, "lr": 0.003})
    out = cli("--train", str(tmp_path / "x_train.npy"), "--test", str(tmp_path / "x_test.npy"), "--val-size", "0",
              "--quiet", *RECIPE_ARGS[:8], "--lr", "0.003", *RECIPE_ARGS[10:], "--optimizer", "adam")
    assert adam.weights_hash == hash_of(out)


def test_early_stopping_on_the_validation_loss_ends_where_the_command_line_does(tmp_path):
    """One epoch loop for both: the same recipe, stopped after 2 epochs without a lower
    validation loss, ends after the same epoch with the same weights and validation losses."""
    x, y = synthetic(150, 10, 3, 11)
    xv, yv = synthetic(90, 10, 3, 12)
    xt, yt = synthetic(30, 10, 3, 13)
    for name, a in {"x_train": x, "y_train": y, "x_val": xv, "y_val": yv, "x_test": xt, "y_test": yt}.items():
        np.save(tmp_path / f"{name}.npy", a)
    metrics = tmp_path / "metrics.jsonl"
    out = cli("--train", str(tmp_path / "x_train.npy"), "--test", str(tmp_path / "x_test.npy"), "--val",
              str(tmp_path / "x_val.npy"), "--quiet", "--hidden", "32", "--activation", "relu", "--loss", "xent",
              "--init", "he", "--lr", "0.3", "--batch-size", "16", "--epochs", "60", "--seed", "7",
              "--early-stop", "2", "--early-stop-on", "loss", "--metrics", str(metrics))
    records = [json.loads(line) for line in open(metrics)]
    stopped = records[-1]["stopped_early_after"]
    assert stopped is not None and stopped < 60, "the recipe must stop early for the test to mean anything"
    model = ptrain.train(x, y, X_val=xv, y_val=yv, hidden=(32,), activation="relu", loss="xent", init="he", lr=0.3,
                         batch_size=16, epochs=60, seed=7, early_stop=2, early_stop_on="loss")
    assert len(model.history) == stopped
    assert model.weights_hash == hash_of(out)
    assert [r["val_loss"] for r in model.history] == [r["val_loss"] for r in records[:-1]]


def test_how_early_stopping_judges_needs_early_stopping():
    x, y = synthetic(60, 10, 3, 14)
    for option in ({"early_stop_on": "loss"}, {"min_delta": 0.5}):
        name = "--" + next(iter(option)).replace("_", "-")
        with pytest.raises(ValueError, match=name + " goes with --early-stop or --save-best"):
            ptrain.train(x, y, X_val=x, y_val=y, hidden=(8,), epochs=2, **option)


def test_the_preset_sets_its_learning_rate_unless_one_is_given(tmp_path):
    x = np.random.default_rng(4).integers(0, 256, size=(200, 16), dtype=np.uint8)
    y = np.arange(200) % 2
    for name, a in {"x_train": x, "y_train": y, "x_test": x[:20], "y_test": y[:20]}.items():
        np.save(tmp_path / f"{name}.npy", a)
    for lr_args, lr in (([], None), (["--lr", "0.1"], 0.1), (["--lr", "0.5"], 0.5)):
        out = cli("--train", str(tmp_path / "x_train.npy"), "--test", str(tmp_path / "x_test.npy"), "--val-size", "0",
                  "--quiet", "--hidden", "8", "--epochs", "2", "--preset", "blog", *lr_args)
        model = ptrain.train(x, y, hidden=(8,), epochs=2, preset="blog", lr=lr)
        assert model.weights_hash == hash_of(out), lr_args
    assert ptrain.train(x, y, hidden=(8,), epochs=2, preset="blog").weights_hash == \
        ptrain.train(x, y, hidden=(8,), epochs=2, preset="blog", lr=0.1).weights_hash
    assert ptrain.train(x, y, hidden=(8,), epochs=2, preset="blog").weights_hash != \
        ptrain.train(x, y, hidden=(8,), epochs=2, preset="blog", lr=3.0).weights_hash


def test_predictions_are_numpys_forward_pass_and_models_go_both_ways(tmp_path):
    x, y = synthetic(300, 10, 3, 3)
    model = ptrain.train(x, y, **RECIPE)
    assert len(model.history) == 4 and model.history[-1]["epoch"] == 4
    # The forward pass by NumPy from the saved weights (read back by the module's own loader).
    path = tmp_path / "m.st"
    model.save(path)
    import json, struct
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header, data = json.loads(raw[8:8 + n]), raw[8 + n:]
    w = {k: np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], np.float32).reshape(v["shape"])
         for k, v in header.items() if k.startswith("layers.")}
    h = np.maximum(x @ w["layers.0.weight"].T + w["layers.0.bias"], 0)
    z = h @ w["layers.1.weight"].T + w["layers.1.bias"]
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.predict_proba(x), p, rtol=1e-4, atol=1e-6)
    assert (model.predict(x) == p.argmax(axis=1)).mean() > 0.99
    # The command line evaluates the Python model, and Python loads it back.
    np.save(tmp_path / "x_test.npy", x)
    np.save(tmp_path / "y_test.npy", y)
    out = cli("eval", "--model", str(path), "--test", str(tmp_path / "x_test.npy"))
    accuracy = float(re.search(r"test accuracy ([0-9.]+)%", out).group(1))
    assert abs(accuracy - 100 * (model.predict(x) == y).mean()) < 0.01
    again = ptrain.load(path)
    assert again.weights_hash == model.weights_hash
    np.testing.assert_array_equal(again.predict_proba(x), model.predict_proba(x))


def test_training_leaves_the_interpreters_floating_point_as_it_was():
    """ptrain flushes subnormal floats in its own arithmetic only: NumPy computes 1e-20 * 1e-20 =
    1e-40, a float32 subnormal, before training, inside the epoch callback and after."""
    tiny = np.float32(1e-20)
    assert tiny * tiny > 0
    x, y = synthetic(200, 10, 3, 5)
    products = []
    model = ptrain.train(x, y, threads=2, callback=lambda record: products.append(tiny * tiny), **RECIPE)
    assert len(products) == RECIPE["epochs"] and all(p > 0 for p in products)
    model.predict(x)
    assert tiny * tiny > 0


def test_bytes_validation_history_and_callback():
    rng = np.random.default_rng(4)
    x = rng.integers(0, 256, size=(200, 6, 6)).astype(np.uint8)
    y = (x.reshape(200, -1).mean(axis=1) > 127).astype(np.int64)
    seen = []
    model = ptrain.train(x[:150], y[:150], X_val=x[150:], y_val=y[150:], hidden=(8,), epochs=5, lr=1.0,
                         callback=lambda record: seen.append(record) or record["epoch"] < 3)
    assert [r["epoch"] for r in seen] == [1, 2, 3]  # False after epoch 3 stops the run
    assert all(r["val_accuracy"] is not None for r in model.history)


def test_errors_are_the_command_lines(tmp_path):
    x, y = synthetic(50, 4, 2, 5)
    with pytest.raises(ValueError, match=r"--lr -1.0: must be a finite positive number"):
        ptrain.train(x, y, lr=-1.0)
    with pytest.raises(ValueError, match=r"--activation 'swish': expected sigmoid, tanh or relu"):
        ptrain.train(x, y, activation="swish")
    with pytest.raises(ValueError, match=r"label 300"):
        ptrain.train(x, np.full(50, 300))
    with pytest.raises(ValueError, match="every label is 0"):
        ptrain.train(x, np.zeros(50))
    with pytest.raises(OSError, match="model file not found"):
        ptrain.load(tmp_path / "none.st")
    with pytest.raises(OSError, match="does not exist"):
        ptrain.train(x, y, epochs=1).save(tmp_path / "no" / "m.st")


def test_signal_handlers_run_with_the_interpreters_floating_point():
    """A Python signal handler runs between two training steps, with NumPy's own arithmetic:
    1e-20 * 1e-20 is the subnormal 1e-40 there too, not the zero that training computes."""
    tiny = np.float32(1e-20)
    products = []

    class Stop(Exception):
        pass

    def handler(signum, frame):
        products.append(tiny * tiny)
        raise Stop

    previous = signal.signal(signal.SIGUSR1, handler)
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGUSR1))
    x, y = synthetic(20000, 64, 4, 6)
    timer.start()
    try:
        with pytest.raises(Stop):
            ptrain.train(x, y, hidden=(256, 128), epochs=1000, threads=2)
    finally:
        timer.cancel()
        signal.signal(signal.SIGUSR1, previous)
    assert len(products) == 1 and products[0] > 0


def test_ctrl_c_stops_after_a_step_and_other_threads_run():
    x, y = synthetic(20000, 64, 4, 6)
    ticks = []
    stop = threading.Event()

    def tick():  # runs only while the GIL is released
        while not stop.is_set():
            ticks.append(1)
            stop.wait(0.001)

    ticker = threading.Thread(target=tick)
    ticker.start()
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    # Python's own handler, even where pytest started with SIGINT ignored (a shell's background job)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt) as caught:
            ptrain.train(x, y, hidden=(256, 128), epochs=1000, threads=2)
    finally:
        stop.set()
        ticker.join()
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    model = caught.value.model
    assert np.isfinite(model.predict_proba(x[:5])).all()
    assert len(ticks) > 20


def test_float32_and_uint8_arrays_are_read_in_place_others_converted():
    import resource
    rng = np.random.default_rng(8)
    x = np.empty((100_000, 1000), np.float32)  # 400 MB, filled without a larger float64 draft
    for i in range(0, len(x), 10_000):
        x[i:i + 10_000] = rng.standard_normal(size=(10_000, 1000), dtype=np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    model = ptrain.train(x, y, hidden=(4,), epochs=1, lr=0.5, batch_size=256, threads=2)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 150, f"training grew the peak memory by {grown_mb:.0f} MB: X was copied"
    # Another layout or dtype is converted once and gives the same answers.
    small = x[:500]
    np.testing.assert_array_equal(model.predict_proba(np.asfortranarray(small)), model.predict_proba(small))
    np.testing.assert_array_equal(model.predict_proba(small.astype(np.float64)), model.predict_proba(small))


def test_names_in_a_model_file_decode_with_pythons_own_unquote(tmp_path):
    # Any bytes in a class name or a path: urllib's percent-decoding, not ptrain's, reads them back.
    import json
    import struct
    from urllib.parse import unquote_to_bytes

    names = [b"caf\xe9", b"red\x1b[31m", b"50%", "ni\u00f1o".encode()]
    folder = bytes(tmp_path) + b"/data-\xfe"
    os.mkdir(folder)
    rng = np.random.default_rng(3)
    with open(folder + b"/set.csv", "wb") as f:
        for i in range(80):
            f.write(b",".join(b"%.3f" % v for v in rng.random(3)) + b"," + names[i % 4] + b"\n")
    model = bytes(tmp_path) + b"/m-\xff.st"
    subprocess.run([os.fsencode(PTRAIN), b"--train", folder + b"/set.csv", b"--epochs", b"1", b"--save", model],
                   check=True, capture_output=True)
    with open(model, "rb") as f:
        meta = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))["__metadata__"]
    assert [unquote_to_bytes(n) for n in json.loads(meta["class_names"])] == sorted(names)
    assert unquote_to_bytes(meta["data_train"]) == folder + b"/set.csv"


def saved_weights(model, path):
    """The model's tensors as NumPy reads them from its safetensors file."""
    import struct
    model.save(path)
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header, data = json.loads(raw[8:8 + n]), raw[8 + n:]
    return {k: np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], np.float32).reshape(v["shape"])
            for k, v in header.items() if k.startswith("layers.")}


def regression_data(n, features, targets, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    w = rng.normal(size=(features, targets))
    y = np.sin(x) @ w + 0.5 * x[:, :1] * x[:, 1:2] + 0.05 * rng.normal(size=(n, targets)) + 3.0
    return x, y


def test_a_regression_step_is_numpys_gradient_step(tmp_path):
    """One SGD step on the whole batch, ReLU hidden units, linear outputs, ½‖a−t‖², two targets:
    the weights after it are the ones NumPy computes from the weights before it."""
    x, y = regression_data(40, 5, 2, 11)
    recipe = dict(task="regression", hidden=(7,), optimizer="sgd", lr=0.05, batch_size=40, seed=3, threads=2)
    w = saved_weights(ptrain.train(x, y, epochs=0, **recipe), tmp_path / "before.st")
    after = saved_weights(ptrain.train(x, y, epochs=1, **recipe), tmp_path / "after.st")
    W0, b0, W1, b1 = (w[k].astype(np.float64) for k in ("layers.0.weight", "layers.0.bias", "layers.1.weight",
                                                         "layers.1.bias"))
    z = x @ W0.T + b0
    h = np.maximum(z, 0)
    a = h @ W1.T + b1
    d1 = (a - y) / len(x)
    d0 = (d1 @ W1) * (z > 0)
    want = {"layers.1.weight": W1 - 0.05 * d1.T @ h, "layers.1.bias": b1 - 0.05 * d1.sum(0),
            "layers.0.weight": W0 - 0.05 * d0.T @ x, "layers.0.bias": b0 - 0.05 * d0.sum(0)}
    for k, v in want.items():
        np.testing.assert_allclose(after[k], v, rtol=1e-4, atol=1e-6, err_msg=k)


def test_regression_matches_the_command_line_and_predicts_in_the_targets_units(tmp_path):
    x, y = regression_data(300, 6, 3, 5)
    for name, a in {"x_train": x, "y_train": y, "x_test": x[:50], "y_test": y[:50]}.items():
        np.save(tmp_path / f"{name}.npy", a)
    out = cli("--task", "regression", "--train", str(tmp_path / "x_train.npy"), "--test",
              str(tmp_path / "x_test.npy"), "--val-size", "0", "--hidden", "16", "--epochs", "5", "--seed", "4",
              "--quiet")
    same = ptrain.train(x, y, task="regression", hidden=(16,), epochs=5, seed=4, threads=3)
    assert same.weights_hash == hash_of(out)
    # Standardised targets: the predictions come back in the targets' own units.
    model = ptrain.train(x, y, task="regression", hidden=(32,), epochs=200, standardize=True, seed=4)
    p = model.predict(x)
    assert model.task == "regression" and p.shape == (300, 3) and p.dtype == np.float32
    r2 = 1 - ((p - y) ** 2).sum(0) / ((y - y.mean(0)) ** 2).sum(0)
    rmse = np.sqrt(((p - y) ** 2).mean(0))
    assert r2.mean() > 0.9
    # The command line evaluates the Python model with the same figures (scikit-learn's
    # definitions, computed here by NumPy).
    model.save(tmp_path / "m.st")
    report = tmp_path / "eval.json"
    cli("eval", "--model", str(tmp_path / "m.st"), "--test", str(tmp_path / "x_train.npy"), "--metrics", str(report))
    figures = json.loads(report.read_text())
    np.testing.assert_allclose(figures["per_target_r2"], r2, rtol=1e-4)
    np.testing.assert_allclose(figures["per_target_rmse"], rmse, rtol=1e-4)
    assert abs(figures["test_r2"] - r2.mean()) < 1e-4


def test_regression_refusals_are_the_command_lines():
    x, y = regression_data(50, 4, 1, 1)
    with pytest.raises(ValueError, match="--loss xent"):
        ptrain.train(x, y[:, 0], task="regression", loss="xent")
    with pytest.raises(ValueError, match="not a finite float32"):
        ptrain.train(x, np.where(np.arange(50) == 7, np.inf, y[:, 0]), task="regression")
    with pytest.raises(ValueError, match="r2 applies to --task regression"):
        ptrain.train(x, (y[:, 0] > 3).astype(int), early_stop=2, early_stop_on="r2", X_val=x, y_val=y[:, 0] > 3)
    with pytest.raises(AttributeError, match="no class probabilities"):
        ptrain.train(x, y, task="regression", epochs=1).predict_proba(x)
