"""PtrainClassifier and PtrainRegressor under scikit-learn's own estimator checks (a suite nobody
here wrote), in the pipelines people put them in, and against MLPRegressor on real data."""
import pickle

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from ptrain.sklearn import PtrainClassifier, PtrainRegressor


@parametrize_with_checks([PtrainClassifier(), PtrainRegressor()])
def test_scikit_learns_estimator_checks(estimator, check):
    check(estimator)


def test_pipeline_grid_search_and_pickle_on_digits():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    pipe = make_pipeline(StandardScaler(), PtrainClassifier(max_iter=30, random_state=0, n_threads=2))
    grid = GridSearchCV(pipe, {"ptrainclassifier__hidden_layer_sizes": [(32,), (64,)],
                               "ptrainclassifier__learning_rate_init": [0.001, 0.01]}, cv=3)
    grid.fit(X_train, y_train)
    assert grid.score(X_test, y_test) > 0.95
    again = pickle.loads(pickle.dumps(grid.best_estimator_))
    np.testing.assert_array_equal(again.predict_proba(X_test), grid.best_estimator_.predict_proba(X_test))
    assert again.named_steps["ptrainclassifier"].n_iter_ == 30


def test_string_labels_and_early_stopping():
    X, y = load_digits(return_X_y=True)
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])[y]
    clf = PtrainClassifier(max_iter=200, early_stopping=True, n_iter_no_change=3, random_state=1).fit(X / 16, names)
    assert set(clf.classes_) == set(names)
    assert clf.n_iter_ < 200  # stopped when validation stopped improving
    assert (clf.predict(X / 16) == names).mean() > 0.9


def boston():
    """Boston's CSV as Debian's python3-sklearn ships it: a line of sizes, a line of names, rows."""
    from pathlib import Path
    import sklearn
    data = np.loadtxt(Path(sklearn.__file__).parent / "datasets/data/boston_house_prices.csv", delimiter=",",
                      skiprows=2)
    return data[:, :-1], data[:, -1]


def test_regressor_on_boston_matches_mlpregressor():
    from sklearn.neural_network import MLPRegressor
    X, y = boston()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    recipe = dict(hidden_layer_sizes=(64,), batch_size=32, max_iter=300, random_state=0)
    ours = PtrainRegressor(n_threads=2, **recipe).fit(X_train, y_train)
    theirs = MLPRegressor(**recipe).fit(X_train, y_train)
    assert ours.predict(X_test).shape == y_test.shape
    assert ours.score(X_test, y_test) > 0.75
    assert ours.score(X_test, y_test) > theirs.score(X_test, y_test) - 0.05


def test_regressor_multi_output_and_early_stopping_on_r2():
    X, y = boston()
    X = StandardScaler().fit_transform(X)
    Y = np.column_stack([y, np.log(y), X[:, 5] * 3])  # three targets at once
    reg = PtrainRegressor(hidden_layer_sizes=(32,), batch_size=32, learning_rate_init=0.01, max_iter=500,
                          early_stopping=True, n_iter_no_change=5, random_state=2).fit(X, Y)
    assert reg.predict(X).shape == (len(y), 3)
    assert reg.n_iter_ < 500  # stopped once validation R² stopped improving
    assert reg.score(X, Y) > 0.7
    again = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(again.predict(X), reg.predict(X))
