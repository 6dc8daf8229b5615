"""A fit or a predict running in another thread when the interpreter exits, or when Ctrl-C ends
the thread that waits for it: the process ends with Python's own status, never an abort (CPython
ends a thread that asks for the GIL during finalisation; ptrain's threads must not ask)."""
import os
import signal
import subprocess
import sys
import time

import pytest

import ptrain

SETUP = """
import threading, time, sys
import numpy as np
import ptrain
rng = np.random.default_rng(0)
X = rng.random((20000, 64), dtype=np.float32)
y = rng.integers(0, 10, 20000)
"""

WORKERS = {
    "fit": "ptrain.train(X, y, epochs=1000, threads=2)",
    "fit_with_callback": "ptrain.train(X, y, epochs=1000, threads=2, callback=lambda r: time.sleep(0.01))",
    "predict": "m = ptrain.train(X[:100], y[:100], epochs=1)\n    while True: m.predict(X)",
    "estimator": "from ptrain.sklearn import PtrainClassifier\n"
                 "    PtrainClassifier(max_iter=1000, n_iter_no_change=1000).fit(X, y)",
}


def python(script):
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(ptrain.__file__)))
    # SIGINT's default disposition: a shell's background job (CI under nohup … &) ignores it, and
    # Python then installs no KeyboardInterrupt handler.
    return subprocess.Popen([sys.executable, "-c", SETUP + script], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


@pytest.mark.parametrize("work", sorted(WORKERS))
def test_interpreter_exits_while_a_daemon_thread_works(work):
    script = (f"def work():\n    {WORKERS[work]}\n"
              "threading.Thread(target=work, daemon=True).start()\n"
              "time.sleep(0.7)\nprint('main returns', flush=True)\n")
    proc = python(script)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "main returns" in out
    assert "terminate" not in err


@pytest.mark.parametrize("daemon", [True, False])
def test_ctrl_c_while_the_main_thread_joins_a_worker(daemon):
    script = (f"t = threading.Thread(target=lambda: {WORKERS['fit']}, daemon={daemon})\n"
              "t.start()\nprint('joining', flush=True)\nt.join()\n")
    proc = python(script)
    assert proc.stdout.readline().strip() == "joining"
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)  # a non-daemon worker is waited for: a second Ctrl-C ends the wait
    time.sleep(0.5)
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGINT, err  # Python's status for an uncaught KeyboardInterrupt
    assert "KeyboardInterrupt" in err
    assert "terminate" not in err
