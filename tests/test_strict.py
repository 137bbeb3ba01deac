"""The "strict" backend gives the bits of the "python" backend, step after step.

strict is the plain kernels of loops.py compiled with no reassociation and no fused multiply-add,
so each sum is added in the order the plain Python adds it and float64 results are identical, not
merely close. "loops-plain" (the same kernels, sums reassociated) serves as the witness that this
is not true of any compiled version: it differs from the python backend in the last bits.
"""
import numpy as np
import pytest
from helpers import mnist_shaped, parameters

from neuronet import Network

SETTINGS = [("sigmoid", "quadratic"), ("sigmoid", "cross_entropy"), ("softmax", "quadratic"),
            ("softmax", "cross_entropy")]


def trained(backend, output, cost, dtype="float64", batch_size=3, dropout=False, steps=4):
    """A 12-9-7-5 network after ``steps`` mini-batches of SGD with momentum and L2."""
    x, y = mnist_shaped(batch_size * steps, seed=2, n_in=12, n_out=5)
    net = Network((12, 9, 7, 5), seed=3, backend=backend, output=output, cost=cost, dtype=dtype)
    x, y = x.astype(dtype), y.astype(dtype)
    masks = None
    if dropout:  # drop half the hidden neurons and a fifth of the inputs: 0 or 1/p
        rng = np.random.default_rng(4)
        masks = [(rng.random((len(x), n)) >= rate) / (1 - rate)
                 for n, rate in ((12, 0.2), (9, 0.5), (7, 0.5))]
        masks = [m.astype(dtype) for m in masks]
    order = np.random.default_rng(5).permutation(len(x))
    net.sgd_epoch(x, y, 0.5, 0.9, 1e-3, batch_size, order, masks)
    return parameters(net)


def identical(a, b):
    return all(np.array_equal(p, q) for p, q in zip(a, b))


@pytest.mark.parametrize("output,cost", SETTINGS)
@pytest.mark.parametrize("batch_size", [1, 3])
@pytest.mark.parametrize("dropout", [False, True], ids=["all-neurons", "dropout"])
def test_strict_is_the_python_backend_bit_for_bit(output, cost, batch_size, dropout):
    want = trained("python", output, cost, batch_size=batch_size, dropout=dropout)
    assert identical(trained("strict", output, cost, batch_size=batch_size, dropout=dropout), want)


def test_reassociated_loops_are_not():
    # Without this the test above could pass for any compiled kernel.
    want = trained("python", "sigmoid", "quadratic")
    assert not identical(trained("loops-plain", "sigmoid", "quadratic"), want)


@pytest.mark.parametrize("output,cost", SETTINGS)
def test_strict_float32_agrees_with_python_to_float32_rounding(output, cost):
    # Not bit for bit in float32: plain Python rounds numpy float32 scalars as numpy does
    # (1 - a stays float32, math.exp works in float64), numba as C does (1 - a becomes float64,
    # math.exp on float32 is expf). Both round to float32 at every store; eps = 6e-8 and the
    # sums here have at most 12 terms of order 1, so 12 eps per step, 1e-5 over four steps.
    want = trained("python", output, cost, dtype="float32")
    got = trained("strict", output, cost, dtype="float32")
    assert all(p.dtype == np.float32 for p in got)
    assert max(float(np.max(np.abs(p - q))) for p, q in zip(got, want)) <= 1e-5


def test_strict_predict_and_gradients_are_the_python_backends():
    x, y = mnist_shaped(6, seed=7, n_in=12, n_out=5)
    nets = {b: Network((12, 9, 5), seed=8, backend=b, output="softmax") for b in ("strict", "python")}
    np.testing.assert_array_equal(nets["strict"].predict(x), nets["python"].predict(x))
    for got, want in zip(nets["strict"].gradients(x, y), nets["python"].gradients(x, y)):
        assert identical(got, want)
