"""The backend table says what runs for each name; the post's one-sample API keeps its work arrays.

Expected numbers come from the definitions: the post's error 0.5 sum_j (a_j - y_j)^2 of the
output before the step (a from tests/naive.py's forward pass), and the parameters after one SGD
step from ``step`` on the python backend, the plain kernels.
"""
import ast
import sys
from pathlib import Path

import numba
import numpy as np
import pytest
from helpers import mnist_shaped, run_epoch
from naive import feedforward as naive_feedforward

import neuronet
from neuronet import BACKENDS, Network, backends, loops
from neuronet.backends import BACKENDS as TABLE
from neuronet.checks import check_rule
from neuronet.vectorized import VectorizedBackend

PACKAGE = Path(neuronet.__file__).parent


def test_one_table_says_what_runs():
    assert BACKENDS is TABLE
    assert list(BACKENDS) == ["loops", "loops-plain", "strict", "python", "vectorized"]
    assert BACKENDS["loops"] is backends.FAST and backends.FAST.kernels is backends.FUSED
    assert BACKENDS["loops-plain"].kernels is loops.KERNELS
    assert BACKENDS["strict"].kernels is loops.STRICT
    assert BACKENDS["python"].kernels is loops.PLAIN
    assert isinstance(BACKENDS["vectorized"], VectorizedBackend)


def imported_modules(path):
    """The neuronet modules a file imports (relative imports, by name)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names.add(node.module)
    return names


def test_the_readable_reference_imports_nothing_faster_than_itself():
    # jit is how every kernel is compiled (numba with a cache that follows edits), rules holds the
    # update rules, records the named records kernels take: none of them is a kernel
    assert imported_modules(PACKAGE / "loops.py") == {"activations", "jit", "records", "rules"}
    assert imported_modules(PACKAGE / "fused.py") == {"activations", "loops", "records", "rules"}
    for kernels in ("fused.py", "blocks.py", "parallel.py", "sample.py", "loops.py"):
        assert "backends" not in imported_modules(PACKAGE / kernels)


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_train_returns_the_error_before_its_step_and_takes_the_step(backend):
    x, y = mnist_shaped(3, seed=1, n_in=6, n_out=4)
    net = Network((6, 5, 4), seed=2, backend=backend)
    want = Network((6, 5, 4), seed=2, backend="python")
    for i in range(3):
        a = np.array(naive_feedforward(want.weights, want.biases, x[i])[-1])
        error = net.train(x[i], y[i], 0.5, momentum=0.9)
        assert error == pytest.approx(0.5 * np.sum((a - y[i]) ** 2), abs=1e-14)
        want.step(x[i], y[i], 0.5, momentum=0.9)
        for got, expected in zip(net.weights + net.biases, want.weights + want.biases):
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-14)


def test_one_sample_calls_keep_their_work_arrays_per_network():
    x, y = mnist_shaped(4, seed=1, n_in=6, n_out=4)
    net, other = Network((6, 5, 4), seed=2), Network((6, 5, 4), seed=2)
    net.train(x[0], y[0], 0.5)
    kept = {key: value for key, value in net.work.items()}
    net.train(x[1], y[1], 0.5)
    net.predict(x[2])
    net.predict(x[3])
    # one entry for train (the one-sample step's arrays and the step it leaves waiting), one for
    # the forward pass
    assert len(net.work) == 2
    assert all(net.work[key] is value for key, value in kept.items())
    other.train(x[0], y[0], 0.5)
    assert not any(a is b for a in net.work.values() for b in other.work.values())


def test_predict_hands_back_its_own_array():
    x, _ = mnist_shaped(2, seed=1, n_in=6, n_out=4)
    net = Network((6, 5, 4), seed=2)
    first = net.predict(x[0])
    kept = first.copy()
    net.predict(x[1])  # would overwrite first if it were a view of the work arrays
    np.testing.assert_array_equal(first, kept)


def test_large_calls_keep_no_more_than_keep_rows():
    # Predicting 10,000 images must not leave 10,000 rows of every layer behind: the loops are fed
    # at most KEEP_ROWS rows at a time, and a step on a larger batch keeps nothing.
    x, y = mnist_shaped(backends.KEEP_ROWS + 1, seed=1, n_in=6, n_out=4)
    net = Network((6, 5, 4), seed=2)
    net.predict(x)
    assert net.work and max(rows for _, _, rows in net.work) <= backends.KEEP_ROWS
    kept = set(net.work)
    net.step(x, y, 0.1)  # one batch of KEEP_ROWS + 1 samples
    assert set(net.work) == kept


def test_switching_backend_between_one_sample_steps():
    x, y = mnist_shaped(len(BACKENDS), seed=1, n_in=6, n_out=4)
    net, want = Network((6, 5, 4), seed=2), Network((6, 5, 4), seed=2, backend="python")
    for i, name in enumerate(BACKENDS):
        net.backend = name
        assert net.train(x[i], y[i], 0.5) == pytest.approx(want.train(x[i], y[i], 0.5), abs=1e-14)
    for got, expected in zip(net.weights + net.biases, want.weights + want.biases):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-14)


# -- which functions run: the table of describe() against a traced step ---------------------------

def traced(backend, batch_size, settings):
    """The neuronet functions (``module.qualname``) that a step of ``backend`` calls, on a
    network with a hidden layer, over 3 samples: one at a time, or in one batch of 3."""
    x, y = mnist_shaped(3, seed=1, n_in=6, n_out=4)
    net = Network((6, 5, 4), seed=2)
    rule = check_rule(**{k: v for k, v in settings.items() if k != "momentum"},
                      momentum=settings.get("momentum", 0.0))
    called = set()

    def profile(frame, event, arg):
        module = frame.f_globals.get("__name__", "")
        if event == "call" and module.startswith("neuronet."):
            called.add(f"{module.removeprefix('neuronet.')}.{frame.f_code.co_qualname}")

    sys.setprofile(profile)
    try:
        run_epoch(backend, net, x, y, np.arange(3), batch_size, 0.1,
                  settings.get("momentum", 0.0), 1e-3, rule=rule)
    finally:
        sys.setprofile(None)
    return called


RULE_SETTINGS = {"sgd": {}, "momentum": {"momentum": 0.9},
                 "nesterov": {"momentum": 0.9, "nesterovs_momentum": True},
                 "adam": {"solver": "adam"}}


def plain_python(name):
    """The backend of the table's ``name`` with its kernels as plain Python, so a profiler sees
    every function they call: the same functions, the same dispatch."""
    backend = BACKENDS[name]
    if isinstance(backend, backends.FastBackend):
        return backends.FastBackend(backends.FUSED_PYTHON, block=backend.block)
    if isinstance(backend, backends.LoopBackend):
        return backends.LoopBackend(loops.PLAIN)
    return backend


@pytest.mark.parametrize("rule", backends.RULE_NAMES)
@pytest.mark.parametrize("batch", ["1", "n"])
@pytest.mark.parametrize("name", list(BACKENDS))
def test_describe_names_what_runs(name, batch, rule):
    said = backends.describe()[name][batch, rule]
    backend = plain_python(name)
    assert backend.runs(batch, rule) == said
    ran = traced(backend, 1 if batch == "1" else 3, RULE_SETTINGS[rule])
    assert set(said) <= ran, f"said to run but did not: {sorted(set(said) - ran)}"
    rules_ran = {f for f in ran if f.split(".")[-1] in backends.RULE_NAMES + tuple(
        f"{r}_update" for r in backends.RULE_NAMES)}
    assert rules_ran <= set(said), f"ran but not said: {sorted(rules_ran - set(said))}"


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="nothing is compiled without the JIT")
def test_the_compiled_kernels_are_the_traced_ones():
    # what the profiler follows in plain Python is what numba compiled for the table
    for key in ("feedforward", "sgd_epoch", "sgd_epoch_blocks", "train_sample", "finish_sample"):
        assert getattr(backends.FUSED, key).py_func is getattr(backends.FUSED_PYTHON, key)
    for name in ("loops-plain", "strict"):
        assert BACKENDS[name].kernels.sgd_epoch.py_func is loops.PLAIN.sgd_epoch


def test_the_command_line_prints_the_table(capsys):
    from neuronet.cli import main
    assert main(["backends"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == backends.table()
    assert "loops:\n  batch 1, sgd:      blocks.sgd_epoch_blocks" in out
