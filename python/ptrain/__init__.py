"""ptrain from Python: NumPy arrays in, a trained model out, over the same C++ core as the
``ptrain`` command (same engines, same arithmetic, same model files).

    import ptrain
    model = ptrain.train(X, y, hidden=(112, 16), epochs=10, threads=2)
    model.predict(X_test)
    model.save("m.st")          # the command line's format: ptrain eval --model m.st
    ptrain.load("m.st")

X is 2-D (examples × features) or 3-D (examples × rows × columns). uint8 arrays are bytes,
scaled by 1/255 as the command line scales images; other dtypes are float32 features. C-contiguous
uint8 and float32 arrays are read where they are, without a copy (keep them unchanged while
training runs); other dtypes and layouts are converted once. y holds whole numbers 0-255, or,
with ``task="regression"``, real-valued targets: N or N × T floats (``predict`` then returns
them in the targets' units, the same shape).
"""
from . import _ptrain

__all__ = ["Model", "train", "load", "__version__"]
__version__ = _ptrain.__version__


def _text(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value) if value else "none"
    return repr(value) if isinstance(value, float) else str(value)


class Model:
    """A trained network: ``predict``, ``predict_proba``, ``save``; ``history`` holds one dict
    per epoch (epoch, lr, train_loss, val_accuracy, val_loss, examples_per_sec, seconds; a
    regression's also val_r2 and val_rmse)."""

    def __init__(self, core):
        self._core = core

    @property
    def history(self):
        return getattr(self, "_history", None) or self._core.history

    @property
    def weights_hash(self):
        """The FNV-1a hash of the float32 weights, as the command line prints it."""
        return self._core.weights_hash

    @property
    def n_classes(self):
        """The output layer's width: the classes, or a regression's targets."""
        return self._core.classes

    @property
    def sizes(self):
        """The layer sizes, inputs first, outputs last."""
        return list(self._core.sizes)

    @property
    def layers(self):
        """Each layer's (weight, bias) as float32 arrays: weight is outputs × inputs, as PyTorch's
        nn.Linear keeps it (scikit-learn's coefs_ are its transpose)."""
        flat, sizes, at, out = self._core.parameters, self.sizes, 0, []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            weight = flat[at:at + n_in * n_out].reshape(n_out, n_in)
            at += n_in * n_out
            out.append((weight, flat[at:at + n_out]))
            at += n_out
        return out

    def fit_more(self, X, y, epochs, *, X_val=None, y_val=None, callback=None, early_stopping=True):
        """Trains ``epochs`` more epochs on X, y (the same features and classes or targets), carrying
        on from the weights, the optimizer's state and the epoch count: on the same examples,
        ``train(..., epochs=a)`` then ``fit_more(..., epochs=b)`` gives the weights of
        ``train(..., epochs=a + b)``. Early stopping, when the model has it, goes on judging
        X_val, y_val as before; ``early_stopping=False`` trains these epochs unjudged, and nothing
        stops them. Returns self."""
        import numpy as np
        self._history = None
        self._core.continue_with(_examples(X), np.asarray(y), _examples(X_val),
                                 None if y_val is None else np.asarray(y_val), int(epochs), bool(early_stopping))
        _fit(self, callback)
        return self

    @property
    def task(self):
        """"classification" or "regression"."""
        return self._core.task

    def predict_proba(self, X):
        """The output layer's activations, examples × classes: softmax probabilities with
        ``loss="xent"``; with the default ``loss="mse"``, sigmoid outputs normalised to sum to 1."""
        import numpy as np
        if self.task == "regression":
            raise AttributeError("a regression model has no class probabilities; use predict")
        out = self._core.outputs(_examples(X))
        sums = out.sum(axis=1, keepdims=True)
        return out / np.where(sums > 0, sums, 1)

    def predict(self, X):
        """The classes (argmax of the outputs), or a regression's targets in their units:
        examples × targets (a column each, float32)."""
        import numpy as np
        out = np.asarray(self._core.outputs(_examples(X)))
        return out if self.task == "regression" else out.argmax(axis=1)

    def save(self, path, *, with_state=False):
        """Writes the model file (safetensors, as ``ptrain --save`` does), replacing it atomically;
        the history goes with it. ``with_state`` adds the optimizer's state (momentum, Adam's
        moments), so that a model loaded from the file trains on exactly as this one would."""
        self._core.save(str(path), bool(with_state))

    # Pickled as the model file's bytes with the optimizer's state (history included), so copies
    # and joblib work and a copy trains on as the original would.
    def export_onnx(self, path):
        """Writes the model as an ONNX file, as ``ptrain export`` does: a float32 input
        "input" [N, features] taking X as ``predict`` takes it (uint8 models: the raw 0–255
        values), every transform inside the graph; outputs "probabilities" [N, classes] (this
        model's ``predict_proba``) and "label" [N], or a regression's "predictions" [N, targets].
        OpenCV's DNN module, ONNX Runtime and other runtimes read it."""
        self._core.export_onnx(str(path))

    def __getstate__(self):
        import os, tempfile
        with tempfile.TemporaryDirectory() as d:
            self.save(os.path.join(d, "m.st"), with_state=True)
            with open(os.path.join(d, "m.st"), "rb") as f:
                return {"file": f.read(), "history": self.history}

    def __setstate__(self, state):
        import os, tempfile
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "m.st"), "wb") as f:
                f.write(state["file"])
            self._core = _ptrain.load(os.path.join(d, "m.st"))
        self._history = state["history"]


def _examples(X):
    """X as the core reads it: a NumPy array, or a SciPy sparse matrix as its CSR arrays, which
    the core densifies a batch at a time (never the whole matrix)."""
    import numpy as np
    if X is None:
        return None
    if type(X).__module__.startswith("scipy.sparse"):
        X = X.tocsr()
        return (X.data.astype(np.float32, copy=False), X.indices.astype(np.int32, copy=False),
                X.indptr.astype(np.int64, copy=False), X.shape[1])
    return np.asarray(X)


def train(X, y, *, task="classification", hidden=(112, 16), activation=None, loss="mse", init=None, optimizer=None,
          lr=None, batch_size=32, epochs=10, momentum=0.0, nesterov=False, weight_decay=0.0, beta1=0.9, beta2=0.999, eps=1e-8,
          lr_decay="none", step_size=10, gamma=0.1, power_t=0.5, warmup_epochs=0, early_stop=0, early_stop_on=None,
          min_delta=0.0, early_stop_rule="keras", restore_best=False, shuffle=True, preset="none",
          standardize=False, scale=None, classes=None, threads=None, seed=42, X_val=None, y_val=None,
          callback=None):
    """Trains a network on X, y and returns the Model. X is a NumPy array (uint8: bytes scaled
    by 1/255, as images; else float32 features) or a SciPy sparse matrix, read as CSR and
    densified a batch at a time, never whole (X_val and predict's X alike). The options are the command line's
    (``ptrain --help``), with the same defaults and the same checks: a bad value is a
    ValueError with the command line's message. ``None`` is the task's default, as on the
    command line: a classification's sigmoid units, blog init, SGD at lr 3.0 (0.1 with
    ``preset="blog"``) judged by accuracy; a regression's ReLU units, xavier init, Adam at 0.001
    judged by loss (``standardize=True`` then standardises the targets too). The epochs are the
    command line's own loop: early stopping judges ``early_stop_on`` ("accuracy", "loss" or,
    for regression, "r2" on X_val, y_val; "train-loss" needs no validation) by
    ``early_stop_rule`` ("keras" or "sklearn", as ``--early-stop-rule``), and the model keeps the
    last epoch's weights, or with ``restore_best=True`` the best epoch's. ``shuffle=False``
    trains every epoch in the data's order. ``lr_decay`` is "none", "cosine", "step" (with
    ``step_size`` and ``gamma``), "invscaling" (lr/((e−1)·N + 1)^power_t for N training rows:
    scikit-learn's) or "adaptive" (lr/5 each time early stopping's patience runs out, stopping
    once the rate is at most 1e-6: scikit-learn's; it needs ``early_stop``).
    ``callback(record)`` runs after each epoch with that epoch's history dict; returning False
    stops training. The GIL is released while training; Ctrl-C stops after the step in progress
    with a KeyboardInterrupt whose ``model`` attribute holds the model as it stands."""
    import numpy as np
    options = {"task": task, "hidden": _text(tuple(hidden)), "loss": loss, "batch-size": _text(batch_size),
               "epochs": _text(epochs), "seed": _text(seed), "lr-decay": lr_decay, "preset": preset}
    for option, value in (("activation", activation), ("init", init), ("optimizer", optimizer),
                          ("early-stop-on", early_stop_on)):
        if value is not None:
            options[option] = value
    if lr is not None:
        options["lr"] = _text(float(lr))
    if momentum:
        options["momentum"] = _text(float(momentum))
    if nesterov:
        options["momentum-kind"] = "nesterov"
    if weight_decay:
        options["weight-decay"] = _text(float(weight_decay))
    for option, value, default in (("beta1", beta1, 0.9), ("beta2", beta2, 0.999), ("eps", eps, 1e-8)):
        if float(value) != default:
            options[option] = _text(float(value))
    if lr_decay == "step":
        options.update({"step-size": _text(step_size), "gamma": _text(float(gamma))})
    if lr_decay == "invscaling":
        options["power-t"] = _text(float(power_t))
    if warmup_epochs:
        options["warmup-epochs"] = _text(warmup_epochs)
    if early_stop:
        options["early-stop"] = _text(early_stop)
    if min_delta:
        options["min-delta"] = _text(float(min_delta))
    if early_stop_rule != "keras":
        options["early-stop-rule"] = early_stop_rule
    if restore_best:
        options["restore-best"] = "1"
    if not shuffle:
        options["shuffle"] = "none"
    if standardize:
        options["standardize"] = "1"
    if scale is not None:
        options["scale"] = _text(float(scale))
    if classes is not None:
        options["classes"] = _text(classes)
    if threads is not None:
        options["threads"] = _text(threads)
    core = _ptrain.make(_examples(X), np.asarray(y), _examples(X_val),
                        None if y_val is None else np.asarray(y_val), options)
    return _fit(Model(core), callback)


def _fit(model, callback):
    try:
        model._core.fit(callback)
    except KeyboardInterrupt as stop:
        stop.model = model
        raise
    return model


def load(path):
    """A model file written by ``Model.save`` or by ``ptrain --save``."""
    return Model(_ptrain.load(str(path)))
