"""PtrainClassifier and PtrainRegressor: ptrain as scikit-learn estimators, with MLPClassifier's and
MLPRegressor's parameter names and defaults where they mean the same thing, so they drop into
pipelines, grid searches and cross-validation. The classifier: softmax outputs with log-loss,
Glorot initialisation, as MLPClassifier. The regressor: linear outputs with squared error,
one or several targets, Glorot initialisation, as MLPRegressor; its targets are used as given
(not standardised), as MLPRegressor's are.

Differences from MLPClassifier, each a choice: ``alpha`` is L2 on every weight and bias, added to
the gradient as alpha / batch size (MLPClassifier's penalty, alpha/2·‖W‖²/batch, on weights
only); ``solver`` also takes "adamw"; "lbfgs" and ``activation="identity"`` are not offered; the
validation split for ``early_stopping`` is the last ``validation_fraction`` of a seeded
stratified shuffle (the regressor's: of a seeded shuffle), and ``tol`` is the gain in validation
accuracy (a fraction; the regressor's: in validation R², as MLPRegressor's score) it must beat.
``n_threads`` is ptrain's own; results do not depend on it.
"""
import numpy as np
import warnings

from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from . import Model, train

_ACTIVATIONS = {"relu": "relu", "tanh": "tanh", "logistic": "sigmoid"}


class _PtrainEstimator(BaseEstimator):
    """The parameters and the recipe both estimators share."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", solver="adam", alpha=0.0001, batch_size="auto",
                 learning_rate_init=0.001, max_iter=200, momentum=0.9, early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=10, tol=1e-4, random_state=None, n_threads=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.momentum = momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.n_threads = n_threads

    def _recipe(self, n_samples):
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"activation '{self.activation}': expected one of {sorted(_ACTIVATIONS)}")
        if self.solver not in ("sgd", "adam", "adamw"):
            raise ValueError(f"solver '{self.solver}': expected sgd, adam or adamw")
        batch = min(200, n_samples) if self.batch_size == "auto" else int(self.batch_size)
        if batch < 1:
            raise ValueError(f"batch_size {self.batch_size}: must be at least 1")
        hidden = self.hidden_layer_sizes
        hidden = (hidden,) if np.isscalar(hidden) else tuple(hidden)
        recipe = dict(hidden=hidden, activation=_ACTIVATIONS[self.activation], init="xavier",
                      optimizer=self.solver, lr=float(self.learning_rate_init), batch_size=min(batch, n_samples),
                      epochs=int(self.max_iter), seed=0 if self.random_state is None else int(self.random_state),
                      weight_decay=float(self.alpha) / min(batch, n_samples), threads=self.n_threads)
        if self.solver == "sgd":
            recipe["momentum"] = float(self.momentum)
        return recipe

    def _split(self, X, y, groups):
        """The last validation_fraction of each group (the classifier's classes; the regressor's
        one group of every row), after a seeded shuffle."""
        rng = np.random.default_rng(0 if self.random_state is None else self.random_state)
        val = np.zeros(len(y), dtype=bool)
        for c in np.unique(groups):
            rows = rng.permutation(np.flatnonzero(groups == c))
            val[rows[:int(round(len(rows) * self.validation_fraction))]] = True
        if val.all() or not val.any():
            raise ValueError(f"validation_fraction {self.validation_fraction} leaves no training or no validation rows")
        return X[~val], y[~val], X[val], y[val]


class PtrainClassifier(ClassifierMixin, _PtrainEstimator):

    def fit(self, X, y):
        X, y = self._validate_data(X, y, dtype=np.float32)
        check_classification_targets(y)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"a classifier needs samples of at least 2 classes; the data contains only one class: "
                             f"{self.classes_[0]!r}")
        if len(self.classes_) > 256:
            raise ValueError(f"{len(self.classes_)} classes; ptrain takes at most 256")
        X_val = y_val = None
        if self.early_stopping:
            X, encoded, X_val, y_val = self._split(X, encoded, encoded)
        recipe = self._recipe(len(encoded))
        if self.early_stopping:
            recipe.update(early_stop=int(self.n_iter_no_change), min_delta=100 * float(self.tol))
        self.model_ = train(X, encoded, X_val=X_val, y_val=y_val, classes=len(self.classes_), loss="xent", **recipe)
        self.n_iter_ = len(self.model_.history)
        self.loss_curve_ = [r["train_loss"] for r in self.model_.history]
        return self

    def predict_proba(self, X):
        check_is_fitted(self)
        X = self._validate_data(X, dtype=np.float32, reset=False)
        return self.model_.predict_proba(X)

    def predict(self, X):
        proba = self.predict_proba(X)  # first: an unfitted estimator says so
        return self.classes_[np.argmax(proba, axis=1)]


class PtrainRegressor(RegressorMixin, _PtrainEstimator):
    """y of shape (n_samples,) or (n_samples, n_targets): one net with a linear output per target.
    predict returns the shape y had (a column y of one target, as MLPRegressor, is raveled with a
    DataConversionWarning)."""

    def fit(self, X, y):
        X, y = self._validate_data(X, y, dtype=np.float32, multi_output=True, y_numeric=True)
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn("A column-vector y was passed when a 1d array was expected; it is raveled, as "
                          "MLPRegressor does", DataConversionWarning, stacklevel=2)
            y = y.ravel()
        y = np.asarray(y, dtype=np.float64)
        if not np.all(np.isfinite(y)):
            raise ValueError("y holds a value that is not finite")
        self._one_target = y.ndim == 1
        X_val = y_val = None
        if self.early_stopping:
            X, y, X_val, y_val = self._split(X, y, np.zeros(len(y)))
        recipe = self._recipe(len(y))
        if self.early_stopping:
            recipe.update(early_stop=int(self.n_iter_no_change), early_stop_on="r2", min_delta=float(self.tol))
        self.model_ = train(X, y, X_val=X_val, y_val=y_val, task="regression", **recipe)
        self.n_iter_ = len(self.model_.history)
        self.loss_curve_ = [r["train_loss"] for r in self.model_.history]
        self.n_outputs_ = 1 if self._one_target else y.shape[1]
        return self

    def predict(self, X):
        check_is_fitted(self)
        X = self._validate_data(X, dtype=np.float32, reset=False)
        out = self.model_.predict(X).astype(np.float64)
        return out.ravel() if self._one_target else out

    def _more_tags(self):
        return {"multioutput": True}
