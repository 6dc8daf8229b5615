"""What a scikit-learn user relies on without reading the docs, checked against scikit-learn
itself (its rules, its MLPs, its estimator checks under non-default settings) or NumPy."""
import os
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.utils.estimator_checks import parametrize_with_checks

import ptrain
from ptrain.sklearn import PtrainClassifier, PtrainRegressor


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


@parametrize_with_checks([
    PtrainClassifier(solver="sgd", learning_rate_init=0.05, early_stopping=True,
                     hidden_layer_sizes=(7, 5), random_state=0),
    PtrainClassifier(activation="tanh", batch_size=7, alpha=0.01, shuffle=False, max_iter=50),
    PtrainRegressor(solver="adamw", activation="logistic", early_stopping=True, n_iter_no_change=np.inf,
                    random_state=np.random.RandomState(3)),
])
def test_estimator_checks_under_other_settings(estimator, check):
    check(estimator)


@pytest.mark.parametrize("params, name", [
    (dict(max_iter=0), "max_iter"), (dict(max_iter=2.5), "max_iter"), (dict(momentum=1.5), "momentum"),
    (dict(n_iter_no_change=0), "n_iter_no_change"), (dict(alpha=-1), "alpha"), (dict(solver="lbfgs"), "solver"),
    (dict(learning_rate_init=0), "learning_rate_init"), (dict(batch_size=0), "batch_size"),
    (dict(validation_fraction=1.0), "validation_fraction"), (dict(beta_2=1.0), "beta_2"),
    (dict(random_state="seven"), "random_state"), (dict(hidden_layer_sizes=(4, 0)), "hidden_layer_sizes"),
    (dict(solver="sgd", power_t=-1), "power_t"), (dict(solver="sgd", learning_rate="linear"), "learning_rate"),
])
@pytest.mark.parametrize("Estimator", [PtrainClassifier, PtrainRegressor])
def test_invalid_parameters_are_refused_by_name(Estimator, params, name):
    X = np.random.default_rng(0).random((20, 3))
    y = np.arange(20) % 2
    with pytest.raises(ValueError, match=f"'{name}' parameter"):
        Estimator(**params).fit(X, y)


def test_random_state_as_scikit_learn_defines_it(digits):
    X, y = digits
    fit = lambda rs: PtrainClassifier(hidden_layer_sizes=(16,), max_iter=2, random_state=rs).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert fit(None).model_.weights_hash != fit(None).model_.weights_hash  # two random models
        assert fit(3).model_.weights_hash == fit(3).model_.weights_hash
        assert fit(np.random.RandomState(5)).model_.weights_hash == fit(np.random.RandomState(5)).model_.weights_hash
        # An int is ptrain's seed itself.
        direct = ptrain.train(X.astype(np.float32), y, hidden=(16,), activation="relu", init="xavier",
                              optimizer="adam", lr=0.001, batch_size=200, epochs=2, seed=3, loss="xent",
                              weight_decay=0.0001 / 200)
        assert fit(3).model_.weights_hash == direct.weights_hash


def test_early_stopping_keeps_the_best_epoch(digits):
    X, y = digits
    clf = PtrainClassifier(hidden_layer_sizes=(32,), learning_rate_init=0.05, max_iter=60, early_stopping=True,
                           n_iter_no_change=8, random_state=4).fit(X, y)
    scores = clf.validation_scores_
    assert clf.best_validation_score_ == max(scores) and clf.best_loss_ is None
    assert scores[-1] < max(scores)  # the last epoch is not the best one: the test means something
    # The validation rows scikit-learn's MLPClassifier would hold out, scored here.
    _, X_val, _, y_val = train_test_split(X, y, test_size=0.1, random_state=4, stratify=y)
    assert (clf.predict(X_val) == y_val).mean() == pytest.approx(max(scores), abs=1e-12)
    # ptrain.train keeps the command line's meaning: the last epoch's weights.
    X_fit, _, y_fit, _ = train_test_split(X, y, test_size=0.1, random_state=4, stratify=y)
    last = ptrain.train(X_fit, y_fit, X_val=X_val, y_val=y_val, hidden=(32,), loss="xent", activation="relu",
                        init="xavier", optimizer="adam", lr=0.05, batch_size=200, epochs=60, seed=4,
                        weight_decay=0.0001 / 200, early_stop=9, early_stop_rule="sklearn", min_delta=0.01)
    assert (last.predict(X_val) == y_val).mean() == pytest.approx(last.history[-1]["val_accuracy"] / 100)


def sklearn_stop_epoch(losses, tol, n_iter_no_change):
    """scikit-learn's _update_no_improvement_count over a loss curve: where its fit breaks."""
    best, count = np.inf, 0
    for epoch, loss in enumerate(losses, 1):
        count = count + 1 if loss > best - tol else 0
        best = min(best, loss)
        if count > n_iter_no_change:
            return epoch
    return None


def test_training_loss_rule_and_convergence_warning(digits):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # it stops before max_iter: no warning
        clf = PtrainClassifier(hidden_layer_sizes=(32,), max_iter=500, tol=1e-3, random_state=0).fit(X, y)
    assert clf.n_iter_ < 500
    assert sklearn_stop_epoch(clf.loss_curve_, 1e-3, 10) == clf.n_iter_
    assert clf.best_loss_ == min(clf.loss_curve_) and clf.validation_scores_ is None
    theirs = MLPClassifier(hidden_layer_sizes=(32,), max_iter=500, tol=1e-3, random_state=0).fit(X, y)
    assert theirs.n_iter_ < 500  # the peer stops by the same rule too
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(3\\)"):
        PtrainClassifier(hidden_layer_sizes=(8,), max_iter=3).fit(X, y)


def test_warm_start_and_partial_fit_continue_one_longer_fit(digits):
    X, y = digits
    params = dict(hidden_layer_sizes=(16,), n_iter_no_change=np.inf, random_state=2, solver="adam")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        whole = PtrainClassifier(max_iter=6, **params).fit(X, y)
        warm = PtrainClassifier(max_iter=2, warm_start=True, **params).fit(X, y)
        warm.fit(X, y)
        warm = pickle.loads(pickle.dumps(warm))  # the optimizer's state goes with it
        warm.set_params(max_iter=2).fit(X, y)
    assert warm.n_iter_ == 6 and warm.t_ == 6 * len(y)
    for a, b in zip(whole.coefs_ + whole.intercepts_, warm.coefs_ + warm.intercepts_):
        np.testing.assert_array_equal(a, b)
    partial = PtrainClassifier(**params)
    for _ in range(6):
        partial.partial_fit(X, y, classes=np.arange(10))
    np.testing.assert_array_equal(partial.coefs_[0], whole.coefs_[0])
    with pytest.raises(ValueError, match="changed since: lr"):
        warm.set_params(learning_rate_init=0.1).fit(X, y)
    with pytest.raises(ValueError, match="classes must be passed"):
        PtrainClassifier().partial_fit(X, y)


def test_fitted_attributes_are_mlpclassifiers_and_compute_predict_proba(digits):
    X, y = digits
    ours = PtrainClassifier(hidden_layer_sizes=(20, 12), max_iter=5, random_state=0)
    theirs = MLPClassifier(hidden_layer_sizes=(20, 12), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(X, y), theirs.fit(X, y)
    for name in ("n_layers_", "n_outputs_", "out_activation_", "n_iter_", "t_", "n_features_in_"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert [c.shape for c in ours.coefs_] == [c.shape for c in theirs.coefs_]
    assert [b.shape for b in ours.intercepts_] == [b.shape for b in theirs.intercepts_]
    assert ours.loss_ == ours.loss_curve_[-1] and len(ours.loss_curve_) == 5
    # The forward pass in NumPy from coefs_ and intercepts_ gives predict_proba.
    a = X
    for W, b in zip(ours.coefs_[:-1], ours.intercepts_[:-1]):
        a = np.maximum(a @ W + b, 0)
    z = a @ ours.coefs_[-1] + ours.intercepts_[-1]
    softmax = np.exp(z - z.max(axis=1, keepdims=True))
    softmax /= softmax.sum(axis=1, keepdims=True)
    proba = ours.predict_proba(X)
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=0, atol=1e-15)
    np.testing.assert_allclose(proba, softmax, atol=1e-5)
    np.testing.assert_allclose(ours.predict_log_proba(X), np.log(proba))


def test_regressor_attributes_and_early_stopping_keep_the_best(digits):
    X, y = digits
    target = X[:, 20] * 3 + X[:, 40]
    reg = PtrainRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.02, max_iter=80, early_stopping=True,
                          n_iter_no_change=6, random_state=1).fit(X, target)
    theirs = MLPRegressor(hidden_layer_sizes=(16,), max_iter=1).fit(X[:50], target[:50])
    assert (reg.n_outputs_, reg.out_activation_, reg.n_layers_) == (theirs.n_outputs_, theirs.out_activation_,
                                                                      theirs.n_layers_)
    _, X_val, _, y_val = train_test_split(X, target, test_size=0.1, random_state=1)
    assert reg.score(X_val, y_val) == pytest.approx(reg.best_validation_score_, abs=1e-5)


def test_verbose_prints_each_epoch_in_scikit_learns_words(digits, capsys):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        PtrainClassifier(hidden_layer_sizes=(8,), max_iter=3, verbose=True, early_stopping=True).fit(X, y)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Iteration 1, loss = ") and out[1].startswith("Validation score: ")
    assert len(out) == 6


def test_a_saved_model_keeps_its_history(tmp_path, digits):
    X, y = digits
    model = ptrain.train(X.astype(np.float32), y, hidden=(8,), epochs=3, threads=1)
    model.save(tmp_path / "m.st")
    again = ptrain.load(tmp_path / "m.st")
    assert [r["train_loss"] for r in again.history] == [r["train_loss"] for r in model.history]
    assert again.history[-1]["epoch"] == 3


def test_package_has_a_version_and_docstrings():
    assert ptrain.__version__.count(".") == 2
    for thing in (ptrain, ptrain.train, ptrain.load, ptrain.Model, PtrainClassifier, PtrainRegressor):
        assert thing.__doc__ and len(thing.__doc__) > 40, thing
    for cls in (ptrain.Model, PtrainClassifier, PtrainRegressor):
        for name in dir(cls):
            if not name.startswith("_") and callable(getattr(cls, name)) and name not in ("get_params", "set_params",
                                                                                          "score"):
                assert getattr(cls, name).__doc__, f"{cls.__name__}.{name}"
    assert "Differences from scikit-learn's MLPClassifier" in PtrainClassifier.__doc__


def test_sgd_takes_nesterovs_momentum_by_default_as_the_peer_does(digits):
    X, y = digits
    recipe = dict(hidden=(16,), activation="relu", init="xavier", optimizer="sgd", lr=0.001, batch_size=200,
                  epochs=2, seed=3, loss="xent", weight_decay=0.0001 / 200, momentum=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = lambda **more: PtrainClassifier(hidden_layer_sizes=(16,), solver="sgd", max_iter=2, random_state=3,
                                              **more).fit(X, y).model_.weights_hash
        nesterov, classical = fit(), fit(nesterovs_momentum=False)
    X32 = X.astype(np.float32)
    assert nesterov == ptrain.train(X32, y, nesterov=True, **recipe).weights_hash
    assert classical == ptrain.train(X32, y, **recipe).weights_hash != nesterov


def test_invscaling_rates_are_the_peers(digits):
    """Epoch e's rate is the one the peer's optimizer holds after e − 1 epochs."""
    X, y = digits
    params = dict(hidden_layer_sizes=(8,), solver="sgd", learning_rate="invscaling", learning_rate_init=0.2,
                  power_t=0.3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = PtrainClassifier(max_iter=3, **params).fit(X, y)
        theirs = [MLPClassifier(max_iter=e, **params).fit(X, y)._optimizer.learning_rate for e in (1, 2)]
    rates = [record["lr"] for record in ours.model_.history]
    assert rates[0] == 0.2
    np.testing.assert_allclose(rates[1:], theirs, rtol=1e-15)


def test_adaptive_cuts_the_rate_and_stops_where_the_peer_does(digits, capsys):
    """With a tol no epoch meets, the count runs out every second epoch: the rate is cut by 5
    until it reaches 1e-6, and the fit stops there with no ConvergenceWarning."""
    X, y = digits
    params = dict(hidden_layer_sizes=(8,), solver="sgd", learning_rate="adaptive", learning_rate_init=0.01,
                  tol=1e6, n_iter_no_change=1, max_iter=100, random_state=0, verbose=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        theirs = MLPClassifier(**params).fit(X, y)
        their_lines = [line for line in capsys.readouterr().out.splitlines() if "Setting learning rate" in line]
        ours = PtrainClassifier(**params).fit(X, y)
        our_lines = [line for line in capsys.readouterr().out.splitlines() if "Setting learning rate" in line]
    assert ours.n_iter_ == theirs.n_iter_ == 15
    assert our_lines == their_lines and len(our_lines) == 6
    rates = [record["lr"] for record in ours.model_.history]
    np.testing.assert_allclose(sorted(set(rates), reverse=True), 0.01 / 5.0 ** np.arange(7), rtol=1e-15)


@pytest.mark.parametrize("form", ["csr", "csc", "coo"])
def test_sparse_input_trains_and_predicts_as_its_dense_form(digits, form):
    """A batch's densified rows are the very floats of the dense matrix: the same weights."""
    sparse = pytest.importorskip("scipy.sparse")
    X, y = digits  # about half of the digits' pixels are 0
    Xs = sparse.csr_matrix(X).asformat(form)
    params = dict(hidden_layer_sizes=(16,), max_iter=4, early_stopping=True, n_iter_no_change=2, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dense, on_sparse = PtrainClassifier(**params).fit(X, y), PtrainClassifier(**params).fit(Xs, y)
        on_sparse.partial_fit(Xs, y)
        dense.partial_fit(X, y)
        reg_dense = PtrainRegressor(**params).fit(X, y.astype(float))
        reg_sparse = PtrainRegressor(**params).fit(Xs, y.astype(float))
    assert on_sparse.model_.weights_hash == dense.model_.weights_hash
    np.testing.assert_array_equal(on_sparse.predict_proba(Xs), dense.predict_proba(X))
    assert reg_sparse.model_.weights_hash == reg_dense.model_.weights_hash
    np.testing.assert_array_equal(reg_sparse.predict(Xs), reg_dense.predict(X))


def test_a_sparse_matrix_is_never_densified_whole(tmp_path):
    """5,000 × 200,000 would be 4 GB dense; the fit and predict stay far below it."""
    pytest.importorskip("scipy.sparse")
    script = tmp_path / "fit.py"
    script.write_text(
        "import resource, numpy as np, scipy.sparse as sp, warnings\n"
        "from ptrain.sklearn import PtrainClassifier\n"
        "rng = np.random.default_rng(0)\n"
        "rows, columns = np.repeat(np.arange(5000), 10), rng.integers(0, 200000, 50000)\n"
        "X = sp.csr_matrix((rng.random(50000, dtype=np.float32), (rows, columns)), shape=(5000, 200000))\n"
        "y = rng.integers(0, 2, 5000)\n"
        "warnings.simplefilter('ignore')\n"
        "clf = PtrainClassifier(hidden_layer_sizes=(4,), max_iter=1, batch_size=100, random_state=0).fit(X, y)\n"
        "assert clf.predict(X).shape == (5000,)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) < 1024, f"peak {done.stdout.split()[-1]} MiB"


def test_sparse_input_is_refused_where_it_would_be_densified():
    sparse = pytest.importorskip("scipy.sparse")
    X = sparse.random(30, 5, density=0.3, format="csr", random_state=0)
    y = np.arange(30) % 2
    with pytest.raises(ValueError, match="standardize and scale apply to dense features"):
        ptrain.train(X, y, standardize=True)
    model = ptrain.train(X.toarray(), y, standardize=True, epochs=1)
    with pytest.raises(ValueError, match="pass them dense"):
        model.predict(X)
