"""ONNX export against other runtimes: every exported graph passes python3-onnx's checker with
full_check and runs in OpenCV's DNN module (Debian's python3-opencv), whose outputs must equal
ptrain's own predictions. Skipped where onnx or cv2 is not installed."""
import json
import os
import struct
import subprocess

import numpy as np
import pytest

import ptrain

onnx = pytest.importorskip("onnx")
numpy_helper = pytest.importorskip("onnx.numpy_helper")
cv2 = pytest.importorskip("cv2")

PTRAIN = os.environ.get("PTRAIN_BINARY", "build/ptrain")


def checked(path):
    """The exported model, after the ONNX checker's full check (shapes and types inferred)."""
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    return model


def opencv_outputs(path, X, names):
    net = cv2.dnn.readNetFromONNX(str(path))
    net.setInput(np.ascontiguousarray(X, dtype=np.float32))
    return dict(zip(names, net.forward(list(names))))


def expect_classifier_agrees(path, model, X):
    """OpenCV's probabilities within 1e-5 of Model.predict_proba, its labels the same (OpenCV
    returns ArgMax's int64 [N] as float32 [N, 1])."""
    checked(path)
    out = opencv_outputs(path, X, ("probabilities", "label"))
    want = model.predict_proba(X)
    np.testing.assert_allclose(out["probabilities"], want, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(out["label"].reshape(-1).astype(np.int64), model.predict(X))


def expect_regression_agrees(path, model, X):
    """OpenCV's predictions within 1e-4 of max(1, |y|) of Model.predict."""
    checked(path)
    got = opencv_outputs(path, X, ("predictions",))["predictions"]
    want = model.predict(X)
    assert got.shape == want.shape
    assert np.all(np.abs(got - want) <= 1e-4 * np.maximum(1.0, np.abs(want)))


def rows(n, features, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(2.0, 3.0, (n, features)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 3.0).astype(np.int64) + (X[:, 2] > 2.0)
    return X, y


@pytest.mark.parametrize("activation, loss, hidden, inputs", [
    ("sigmoid", "mse", (9, 5), "float"), ("tanh", "xent", (), "float"), ("relu", "xent", (7,), "bytes"),
    ("relu", "mse", (7,), "standardize"), ("tanh", "mse", (9, 5), "scale"), ("sigmoid", "xent", (9,), "standardize"),
    ("sigmoid", "mse", (6,), "bytes"),
])
def test_classifiers_export_what_they_predict(tmp_path, activation, loss, hidden, inputs):
    X, y = rows(120, 6, 1)
    options = dict(standardize=inputs == "standardize", scale=0.25 if inputs == "scale" else None)
    if inputs == "bytes":
        X = np.clip(X * 30 + 60, 0, 255).astype(np.uint8)
    model = ptrain.train(X, y, hidden=hidden, activation=activation, loss=loss, epochs=3, lr=0.3, **options)
    model.export_onnx(tmp_path / "m.onnx")
    expect_classifier_agrees(tmp_path / "m.onnx", model, X)


@pytest.mark.parametrize("activation, hidden, targets, standardize", [
    ("relu", (8,), 1, True), ("tanh", (), 3, False), ("sigmoid", (6, 4), 2, True),
])
def test_regressions_export_their_predictions_in_the_targets_units(tmp_path, activation, hidden, targets, standardize):
    X, _ = rows(150, 5, 2)
    Y = np.stack([50 * np.sin(X[:, t]) + 300 * t + X[:, (t + 1) % 5] for t in range(targets)], axis=1)
    model = ptrain.train(X, Y if targets > 1 else Y[:, 0], task="regression", hidden=hidden, activation=activation,
                         epochs=4, standardize=standardize)
    model.export_onnx(tmp_path / "r.onnx")
    expect_regression_agrees(tmp_path / "r.onnx", model, X)


def run(*args):
    return subprocess.run([PTRAIN, *map(str, args)], capture_output=True, text=True, timeout=120)


def test_a_csv_model_with_class_names_and_standardize_exports_from_the_command_line(tmp_path):
    X, y = rows(200, 4, 3)
    names = np.array(["emu", "cat", "dog"])[y]  # sorted: cat, dog, emu
    lines = ["a,b,c,d,kind"] + [",".join(f"{v:.6f}" for v in x) + "," + n for x, n in zip(X, names)]
    (tmp_path / "animals.csv").write_text("\n".join(lines) + "\n")
    csv = tmp_path / "animals.csv"
    done = run("--train", csv, "--test", csv, "--val-size", 0, "--standardize", "--hidden", "8", "--epochs", 3,
               "--loss", "xent", "--activation", "relu", "--lr", 0.1, "--save", tmp_path / "m.st")
    assert done.returncode == 0, done.stderr
    done = run("export", "--model", tmp_path / "m.st", "--output", tmp_path / "m.onnx")
    assert done.returncode == 0, done.stderr
    assert "probabilities [N, 3], label [N]" in done.stdout
    model = ptrain.load(tmp_path / "m.st")
    X32 = np.loadtxt(csv, delimiter=",", skiprows=1, usecols=range(4), dtype=np.float32)
    expect_classifier_agrees(tmp_path / "m.onnx", model, X32)
    props = {p.key: p.value for p in checked(tmp_path / "m.onnx").metadata_props}
    assert json.loads(props["class_names"]) == ["cat", "dog", "emu"]
    assert props["weights_hash"] == model.weights_hash
    assert json.loads(props["recipe"])["activation"] == "relu" and props["task"] == "classification"


def test_an_image_model_and_its_checkpoint_export_alike(tmp_path):
    rng = np.random.default_rng(4)
    images = rng.integers(0, 256, (300, 28, 28), dtype=np.uint8)
    labels = ((images[:, 14, :14].mean(axis=1) > 127) + 2 * (images[:, 3, 3] > 200)).astype(np.uint8)
    # IDX files, as MNIST's: bytes, which ptrain scales by 1/255 (a .npy of uint8 reads as floats)
    (tmp_path / "digits-images-idx3-ubyte").write_bytes(struct.pack(">4I", 0x803, 300, 28, 28) + images.tobytes())
    (tmp_path / "digits-labels-idx1-ubyte").write_bytes(struct.pack(">2I", 0x801, 300) + labels.tobytes())
    idx = tmp_path / "digits-images-idx3-ubyte"
    done = run("--train", idx, "--test", idx, "--val-size", 0, "--epochs", 2,
               "--checkpoint-every", 2, "--checkpoint-dir", tmp_path / "ck", "--save", tmp_path / "m.st")
    assert done.returncode == 0, done.stderr
    checkpoint = next((tmp_path / "ck").glob("checkpoint-*.safetensors"))
    for source, target in ((tmp_path / "m.st", "m.onnx"), (checkpoint, "c.onnx")):
        done = run("export", "--model", source, "--output", tmp_path / target)
        assert done.returncode == 0, done.stderr
    model = ptrain.load(tmp_path / "m.st")
    X = images.reshape(300, -1)
    expect_classifier_agrees(tmp_path / "m.onnx", model, X)  # raw pixels in: the 1/255 is in the graph
    weights = lambda path: {t.name: numpy_helper.to_array(t) for t in checked(path).graph.initializer}
    from_model, from_checkpoint = weights(tmp_path / "m.onnx"), weights(tmp_path / "c.onnx")
    assert from_model.keys() == from_checkpoint.keys()
    for name in from_model:
        np.testing.assert_array_equal(from_model[name], from_checkpoint[name])


def test_a_regression_from_the_command_line_exports_in_the_targets_units(tmp_path):
    X, _ = rows(160, 3, 5)
    y = 1000 + 40 * X[:, 0] - 7 * X[:, 1] * X[:, 2]
    lines = ["p,q,r,price"] + [",".join(f"{v:.6f}" for v in (*x, t)) for x, t in zip(X, y)]
    (tmp_path / "prices.csv").write_text("\n".join(lines) + "\n")
    csv = tmp_path / "prices.csv"
    done = run("--task", "regression", "--train", csv, "--test", csv, "--val-size", 0, "--standardize", "--epochs", 5,
               "--save", tmp_path / "r.st")
    assert done.returncode == 0, done.stderr
    assert run("export", "--model", tmp_path / "r.st", "--output", tmp_path / "r.onnx").returncode == 0
    expect_regression_agrees(tmp_path / "r.onnx", ptrain.load(tmp_path / "r.st"), X)


def test_refusals_are_one_line_and_touch_nothing(tmp_path):
    X, y = rows(40, 3, 6)
    model = ptrain.train(X, y, hidden=(4,), epochs=1)
    model.save(tmp_path / "m.st")
    (tmp_path / "notes.txt").write_text("not a model\n")
    cases = [
        (("--model", tmp_path / "m.st", "--output", tmp_path / "missing" / "m.onnx"), "--output"),
        (("--model", tmp_path / "m.st", "--output", tmp_path / "m.st"), "same file"),
        (("--model", tmp_path / "notes.txt", "--output", tmp_path / "n.onnx"), "notes.txt"),
        (("--model", tmp_path / "absent.st", "--output", tmp_path / "a.onnx"), "absent.st"),
        (("--output", tmp_path / "m.onnx"), "export needs --model"),
        (("--model", tmp_path / "m.st"), "export needs --output"),
    ]
    for args, fragment in cases:
        done = run("export", *args)
        assert done.returncode != 0 and done.stdout == "", args
        assert len(done.stderr.strip().splitlines()) == 1 and fragment in done.stderr, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.st", "notes.txt"]
    assert ptrain.load(tmp_path / "m.st").weights_hash == model.weights_hash
    with pytest.raises((OSError, ValueError), match="missing"):
        model.export_onnx(tmp_path / "missing" / "m.onnx")


def test_the_opencv_example_in_docs_runs_as_written(tmp_path):
    """docs/export.md's Python block, run in a folder holding what it reads: an exported image
    model and MNIST's test-images file (a few synthetic images in its format)."""
    doc = open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "export.md")).read()
    example = doc.split("```python\n")[1].split("```")[0]
    rng = np.random.default_rng(7)
    images = rng.integers(0, 256, (40, 784), dtype=np.uint8)
    model = ptrain.train(images, np.arange(40) % 10, hidden=(16,), epochs=1)
    model.export_onnx(tmp_path / "model.onnx")
    (tmp_path / "data" / "mnist").mkdir(parents=True)
    (tmp_path / "data" / "mnist" / "t10k-images-idx3-ubyte").write_bytes(
        struct.pack(">4I", 0x803, 40, 28, 28) + images.tobytes())
    scope = {}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(compile(example, "docs/export.md", "exec"), scope)
    finally:
        os.chdir(cwd)
    np.testing.assert_array_equal(scope["label"].reshape(-1), model.predict(images))
