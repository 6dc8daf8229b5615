"""PtrainClassifier and PtrainRegressor: ptrain as scikit-learn estimators. They take
MLPClassifier's and MLPRegressor's parameters, with the same names, defaults, checks and
meanings, and they have the same fitted attributes, so that they drop into pipelines, searches,
ensembles and cross-validation. Only the speed should tell them apart. Where they differ, the
difference is deliberate and listed in each class's docstring.
"""
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_is_fitted

from . import train

__all__ = ["PtrainClassifier", "PtrainRegressor"]

_ACTIVATIONS = {"relu": "relu", "tanh": "tanh", "logistic": "sigmoid"}
_SCHEDULES = {"constant": "none", "invscaling": "invscaling", "adaptive": "adaptive"}  # sgd only, as the peer's
_MAX_PATIENCE = 1_000_000  # the command line's largest --early-stop: never reached

_DIFFERENCES = """
    Differences from scikit-learn's {peer}, each deliberate:

    - ``alpha`` is L2 on every weight and bias, added to the gradient as alpha / batch size. The
      peer's penalty, alpha/2·‖W‖²/n_samples, is on the weights only and is part of its
      ``loss_``; ptrain's ``loss_curve_`` is the data's loss alone.
    - ``solver`` also takes "adamw"; "lbfgs" is not offered, and neither is
      ``activation="identity"``.
    - With ``solver="sgd"``, ``momentum`` must be below 1, and momentum is PyTorch's form: v
      sums gradients, w −= lr·v (Nesterov's: w −= lr·(μv + g)). At a constant learning rate
      that is the peer's step; under "invscaling" or "adaptive" a past gradient moves w at
      today's rate, where the peer's v keeps the rate it was taken at.
    - ``learning_rate="invscaling"`` counts the examples seen as epochs × this fit's rows, the
      same as the peer's count unless ``partial_fit`` is given batches of different sizes.
      ``partial_fit`` never judges its epoch, so under "adaptive" it never cuts the rate.
    - ``random_state``: an int is ptrain's seed itself (``ptrain.train(seed=...)``). None or a
      RandomState draws the seed from it, so two fits differ as the peer's do.
    - ``warm_start`` and ``partial_fit`` carry on the optimizer's state (momentum, Adam's
      moments) as well as the weights: on the same examples, fits of a and b epochs give the
      weights of one fit of a + b, the learning rate's schedule and cuts included. The peer
      starts a new optimizer, at ``learning_rate_init``, for each warm ``fit``.
      Between warm fits only ``max_iter``, ``verbose`` and ``n_threads`` may change. A pickled
      estimator carries the optimizer's state too, and goes on exactly as the original would.
    - ``n_threads`` is ptrain's own; results do not depend on it.
{extra}"""


def _seed(random_state):
    """An int is the seed; None or a RandomState draw one, as scikit-learn's estimators do."""
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


class _PtrainEstimator(BaseEstimator):
    """The parameters, the checks and the training both estimators share."""

    _parameter_constraints = {
        "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(_ACTIVATIONS))],
        "solver": [StrOptions({"sgd", "adam", "adamw"})],
        "alpha": [Interval(numbers.Real, 0, 1e6, closed="both")],
        "batch_size": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(numbers.Real, 0, None, closed="neither")],
        "power_t": [Interval(numbers.Real, 0, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, 1_000_000, closed="both")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(numbers.Real, 0, 1e6, closed="both")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(numbers.Real, 0, 1, closed="left")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "beta_1": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_2": [Interval(numbers.Real, 0, 1, closed="left")],
        "epsilon": [Interval(numbers.Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left"), Options(numbers.Real, {np.inf})],
        "n_threads": [None, Interval(numbers.Integral, 1, 4096, closed="both")],
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=10, n_threads=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.n_threads = n_threads

    # What the two estimators tell apart: set by each.
    _task = "classification"
    _validation_name = "accuracy"  # what history's validation figure is called

    def _recipe(self, n_samples, early_stopping):
        """ptrain.train's options for these parameters, epochs and callback aside."""
        hidden = self.hidden_layer_sizes
        hidden = (hidden,) if np.isscalar(hidden) else tuple(hidden)
        if not all(isinstance(h, numbers.Integral) and h >= 1 for h in hidden):
            raise ValueError(f"The 'hidden_layer_sizes' parameter of {type(self).__name__} must hold whole numbers "
                             f"of at least 1; got {self.hidden_layer_sizes!r}")
        batch = min(200 if self.batch_size == "auto" else int(self.batch_size), n_samples)
        recipe = dict(hidden=hidden, activation=_ACTIVATIONS[self.activation], init="xavier",
                      optimizer=self.solver, lr=float(self.learning_rate_init), batch_size=batch,
                      weight_decay=float(self.alpha) / batch, shuffle=bool(self.shuffle), early_stop_rule="sklearn")
        if self.solver == "sgd":
            recipe.update(momentum=float(self.momentum), nesterov=bool(self.nesterovs_momentum),
                          lr_decay=_SCHEDULES[self.learning_rate])
            if self.learning_rate == "invscaling":
                recipe.update(power_t=float(self.power_t))
        else:
            recipe.update(beta1=float(self.beta_1), beta2=float(self.beta_2), eps=float(self.epsilon))
        patience = _MAX_PATIENCE if np.isinf(self.n_iter_no_change) else min(int(self.n_iter_no_change) + 1,
                                                                              _MAX_PATIENCE)
        if early_stopping:  # the best validation epoch, kept as scikit-learn's MLPs keep it
            on = "accuracy" if self._task == "classification" else "r2"
            scale = 100.0 if on == "accuracy" else 1.0  # accuracy is in percent
            recipe.update(early_stop=patience, early_stop_on=on, min_delta=scale * float(self.tol), restore_best=True)
        else:  # scikit-learn's training-loss rule
            recipe.update(early_stop=patience, early_stop_on="train-loss", min_delta=float(self.tol))
        return recipe

    def _progress(self):
        """The verbose per-epoch lines, scikit-learn's words."""
        if not self.verbose:
            return None

        rates = []

        def show(record):
            if rates and record["lr"] < rates[-1]:  # adaptive cut it after the epoch before
                what = "Validation score" if self._early_stopping_used else "Training loss"
                print("%s did not improve more than tol=%f for %d consecutive epochs. Setting learning rate to %f"
                      % (what, self.tol, self.n_iter_no_change, record["lr"]))
            rates.append(record["lr"])
            print("Iteration %d, loss = %.8f" % (record["epoch"], record["train_loss"]))
            score = self._validation_score(record)
            if score is not None:
                print("Validation score: %f" % score)
        return show

    def _validation_score(self, record):
        if self._task == "classification":
            return None if record["val_accuracy"] is None else record["val_accuracy"] / 100.0
        return record.get("val_r2")

    def _train(self, X, y, incremental, **labels):
        """Trains a new model, or carries the fitted one on (warm_start, partial_fit)."""
        early_stopping = self.early_stopping and not incremental
        epochs = 1 if incremental else int(self.max_iter)
        carry_on = hasattr(self, "model_") and (incremental or self.warm_start)
        X_val = y_val = None
        if carry_on:
            # partial_fit's epoch is not judged (scikit-learn's): the recipe is compared as fit made it
            recipe = self._recipe(self._n_train_rows, self._early_stopping_used if incremental else early_stopping)
            if recipe != self._recipe_used:
                changed = sorted(k for k in recipe.keys() | self._recipe_used.keys()
                                 if recipe.get(k) != self._recipe_used.get(k))
                raise ValueError(f"warm_start and partial_fit carry on the first fit's training; these of its "
                                 f"options changed since: {', '.join(changed)}")
            if early_stopping:
                X, y, X_val, y_val = self._split(X, y, self._seed_used)
        else:
            self._seed_used = _seed(self.random_state)
            if early_stopping:
                X, y, X_val, y_val = self._split(X, y, self._seed_used)
            self._n_train_rows = len(y)
            recipe = self._recipe(len(y), early_stopping)
            self._recipe_used, self._early_stopping_used = recipe, early_stopping
            self.t_ = 0
        before = len(self.model_.history) if carry_on else 0
        try:
            if carry_on:
                self.model_.fit_more(X, y, epochs, X_val=X_val, y_val=y_val, callback=self._progress(),
                                     early_stopping=not incremental)
            else:
                self.model_ = train(X, y, task=self._task, epochs=epochs, seed=self._seed_used, X_val=X_val,
                                    y_val=y_val, threads=self.n_threads, callback=self._progress(), **recipe,
                                    **labels)
        except KeyboardInterrupt as stop:  # as scikit-learn's MLPs: the model as it stands
            warnings.warn("Training interrupted by user.")
            if not hasattr(stop, "model"):
                raise
            self.model_ = stop.model
        self._set_fitted_attributes(len(y), len(self.model_.history) - before, epochs, incremental)
        return self

    def _split(self, X, y, seed):
        """scikit-learn's MLP split: stratified for a classifier, unless some class has too few
        rows for it (then a plain one, where MLPClassifier raises)."""
        split = dict(test_size=self.validation_fraction, random_state=seed)
        try:
            X, X_val, y, y_val = train_test_split(X, y, stratify=y if self._task == "classification" else None,
                                                  **split)
        except ValueError:
            if self._task != "classification":
                raise
            X, X_val, y, y_val = train_test_split(X, y, **split)
        return X, y, X_val, y_val

    def _set_fitted_attributes(self, n_rows, ran, epochs, incremental):
        history = self.model_.history
        self.n_iter_ = len(history)
        self.t_ = getattr(self, "t_", 0) + n_rows * ran
        self.loss_curve_ = [r["train_loss"] for r in history]
        self.loss_ = self.loss_curve_[-1] if self.loss_curve_ else None
        if self._early_stopping_used:
            scores = (self._validation_score(r) for r in history)  # partial_fit's epochs have none
            self.validation_scores_ = [score for score in scores if score is not None]
            self.best_validation_score_ = max(self.validation_scores_)
            self.best_loss_ = None
        else:
            self.validation_scores_ = self.best_validation_score_ = None
            self.best_loss_ = min(self.loss_curve_) if self.loss_curve_ else None
        layers = self.model_.layers
        self.coefs_ = [weight.T.copy() for weight, _ in layers]
        self.intercepts_ = [bias.copy() for _, bias in layers]
        self.n_layers_ = len(layers) + 1
        self.n_outputs_ = self.model_.n_classes
        self.out_activation_ = "softmax" if self._task == "classification" else "identity"
        if not incremental and ran == epochs and epochs > 0:
            warnings.warn("Stochastic Optimizer: Maximum iterations (%d) reached and the optimization hasn't "
                          "converged yet." % self.max_iter, ConvergenceWarning)

    def _check_X(self, X, reset):
        return self._validate_data(X, accept_sparse="csr", dtype=np.float32, reset=reset)


class PtrainClassifier(ClassifierMixin, _PtrainEstimator):
    """A multi-layer perceptron classifier trained by ptrain, in MLPClassifier's terms.

    Softmax outputs with log-loss, Glorot (xavier) initialisation, mini-batch SGD, Adam or
    AdamW, early stopping on a stratified validation split that keeps the best epoch's weights,
    and otherwise scikit-learn's training-loss stopping rule, with a ConvergenceWarning when
    ``max_iter`` epochs run out first.

    Parameters are MLPClassifier's (its documentation describes each), less ``max_fun``
    (L-BFGS's), plus ``n_threads``: the threads training uses (None: every core).

    Attributes are MLPClassifier's: ``classes_``, ``loss_``, ``best_loss_``, ``loss_curve_``,
    ``validation_scores_``, ``best_validation_score_``, ``t_``, ``coefs_``, ``intercepts_``,
    ``n_features_in_``, ``n_iter_``, ``n_layers_``, ``n_outputs_``, ``out_activation_``; and
    ``model_``, the ptrain.Model (``model_.save(path)`` writes a file the command line reads).
    """
    __doc__ += _DIFFERENCES.format(peer="MLPClassifier", extra="""\
    - Two classes have two softmax outputs (``n_outputs_`` is 2, ``out_activation_``
      "softmax"), where MLPClassifier has one logistic output; the probabilities are the same
      function of the net.
""")

    _task = "classification"

    def fit(self, X, y):
        """Trains on X (n_samples × n_features) and y (n_samples labels of any kind) for up to
        ``max_iter`` epochs; with ``warm_start`` a fitted estimator carries on. Returns self."""
        self._validate_params()
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y, classes=None):
        """One epoch over X, y, carrying on from the previous call. ``classes`` (every label the
        calls will see) is required on the first call. Returns self."""
        first = not hasattr(self, "model_")
        if first:
            self._validate_params()
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            self.classes_ = unique_labels(classes)
        return self._fit(X, y, incremental=True)

    def _fit(self, X, y, incremental):
        X, y = self._validate_data(X, y, accept_sparse="csr", dtype=np.float32, reset=not hasattr(self, "model_") or not (
            incremental or self.warm_start))
        check_classification_targets(y)
        if hasattr(self, "model_") and (incremental or self.warm_start):
            seen = unique_labels(y)
            if self.warm_start and not incremental and set(seen) != set(self.classes_):
                raise ValueError("warm_start can only be used where `y` has the same classes as in the previous "
                                 f"call to fit. Previously got {self.classes_}, `y` has {seen}")
            if len(np.setdiff1d(seen, self.classes_)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                                 f"'y' has {seen}.")
        elif not incremental:
            self.classes_ = unique_labels(y)
        elif len(np.setdiff1d(unique_labels(y), self.classes_)):
            raise ValueError(f"`y` has classes not in `classes`: {self.classes_} and {unique_labels(y)}.")
        if len(self.classes_) < 2:
            raise ValueError("a classifier needs samples of at least 2 classes; the data contains only one class: "
                             f"{self.classes_[0]!r}")
        if len(self.classes_) > 256:
            raise ValueError(f"{len(self.classes_)} classes; ptrain takes at most 256")
        encoded = np.searchsorted(self.classes_, y)
        return self._train(X, encoded, incremental, loss="xent", classes=len(self.classes_))

    def predict_proba(self, X):
        """Class probabilities, n_samples × n_classes in ``classes_``'s order, float64 rows that
        sum to 1 (the engine's float32 softmax, normalised in float64)."""
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        proba = self.model_.predict_proba(X).astype(np.float64)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X):
        """The logarithm of ``predict_proba``."""
        return np.log(self.predict_proba(X))

    def predict(self, X):
        """The most probable class of each example, from ``classes_``."""
        proba = self.predict_proba(X)  # first: an unfitted estimator says so
        return self.classes_[np.argmax(proba, axis=1)]


class PtrainRegressor(RegressorMixin, _PtrainEstimator):
    """A multi-layer perceptron regressor trained by ptrain, in MLPRegressor's terms.

    Linear outputs with squared error, one or several targets (y of shape (n_samples,) or
    (n_samples, n_targets); predict returns the shape y had), Glorot initialisation, early
    stopping on validation R² that keeps the best epoch's weights, and otherwise scikit-learn's
    training-loss stopping rule. Targets are used as given, as MLPRegressor uses them.

    Parameters are MLPRegressor's, less ``max_fun``, plus ``n_threads``. Attributes are
    MLPRegressor's (``loss_``, ``best_loss_``, ``loss_curve_``, ``validation_scores_``,
    ``best_validation_score_``, ``t_``, ``coefs_``, ``intercepts_``, ``n_features_in_``,
    ``n_iter_``, ``n_layers_``, ``n_outputs_``, ``out_activation_``) and ``model_``.
    """
    __doc__ += _DIFFERENCES.format(peer="MLPRegressor", extra="""\
    - With several targets the loss is ½‖ŷ − y‖² summed over the targets (MLPRegressor's is
      their mean), so ``loss_curve_`` and ``tol`` for the training-loss rule scale with them.
    - A column y of one target is raveled, with a DataConversionWarning, as MLPRegressor does.
""")

    _task = "regression"

    def fit(self, X, y):
        """Trains on X (n_samples × n_features) and y (n_samples or n_samples × n_targets real
        values) for up to ``max_iter`` epochs; with ``warm_start`` a fitted estimator carries on.
        Returns self."""
        self._validate_params()
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y):
        """One epoch over X, y, carrying on from the previous call. Returns self."""
        if not hasattr(self, "model_"):
            self._validate_params()
        return self._fit(X, y, incremental=True)

    def _fit(self, X, y, incremental):
        carry_on = hasattr(self, "model_") and (incremental or self.warm_start)
        X, y = self._validate_data(X, y, accept_sparse="csr", dtype=np.float32, multi_output=True, y_numeric=True,
                                   reset=not carry_on)
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn("A column-vector y was passed when a 1d array was expected; it is raveled, as "
                          "MLPRegressor does", DataConversionWarning, stacklevel=3)
            y = y.ravel()
        y = np.asarray(y, dtype=np.float64)
        if not np.all(np.isfinite(y)):
            raise ValueError("y holds a value that is not finite")
        if not carry_on:
            self._one_target = y.ndim == 1
        elif self._one_target != (y.ndim == 1) or (y.ndim == 2 and y.shape[1] != self.n_outputs_):
            raise ValueError(f"y has {1 if y.ndim == 1 else y.shape[1]} targets; the fitted model has "
                             f"{self.n_outputs_}")
        return self._train(X, y, incremental)

    def predict(self, X):
        """The targets predicted for X: n_samples values, or n_samples × n_targets (float64)."""
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        out = self.model_.predict(X).astype(np.float64)
        return out.ravel() if self._one_target else out

    def _more_tags(self):
        return {"multioutput": True}
