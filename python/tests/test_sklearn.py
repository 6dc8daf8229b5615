"""PtrainClassifier under scikit-learn's own estimator checks (a suite nobody here wrote), and in
the pipelines people put it in."""
import pickle

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from ptrain.sklearn import PtrainClassifier


@parametrize_with_checks([PtrainClassifier()])
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
