#!/usr/bin/env bash
# `pip install .` as README gives it: into a fresh venv over Debian's python3 (numpy and
# scikit-learn come from Debian), with Debian's pip, setuptools and wheel and no network; then the
# Python tests that need no command line, run from outside the checkout against what pip installed.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_packages.sh
where=$(mktemp -d)
trap 'rm -rf "$where"' EXIT
/usr/bin/python3 -m venv --system-site-packages "$where/venv"
"$where/venv/bin/pip" install --quiet --no-index --no-build-isolation .
tests=$PWD/python/tests
cd "$where"
"$where/venv/bin/python" - <<'PY'
import ptrain
assert ptrain.__file__.startswith(__import__("sys").prefix), ptrain.__file__  # the installed copy
print("pip check: ptrain", ptrain.__version__, "from", ptrain.__file__)
PY
"$where/venv/bin/python" -m pytest -q -p no:cacheprovider "$tests/test_sklearn_conventions.py" \
  "$tests/test_sklearn.py" "$tests/test_exit.py"
