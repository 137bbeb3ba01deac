"""The twin's training step (``vectorized.Step``: buffers, BLAS updates in place) against the
definitions: the naive reference's gradients and the update rule written out, one step at a time.
"""
import numpy as np
import pytest

from neuronet import Network
from neuronet.network import BACKENDS
from neuronet.vectorized import Step, VectorizedBackend

from helpers import mnist_shaped
import naive

TOL = 1e-12  # as tests/test_agreement.py: the sums differ only in order


def one_step_by_definition(net, x, y, eta, mu, l2):
    """(weights, biases, velocity_w, velocity_b) after one SGD step on all rows of x and y, from
    the naive gradients: v <- mu v - eta (grad + l2 w), w <- w + v; without momentum
    w <- w - eta (grad + l2 w) and the velocity as it was."""
    grad_w, grad_b = naive.gradients([w.tolist() for w in net.weights],
                                     [b.tolist() for b in net.biases], x.tolist(), y.tolist())
    weights, biases, v_w, v_b = [], [], [], []
    for w, b, vw, vb, gw, gb in zip(net.weights, net.biases, net.velocity_w, net.velocity_b,
                                    grad_w, grad_b):
        step_w, step_b = -eta * (np.array(gw) + l2 * w), -eta * np.array(gb)
        if mu:
            step_w, step_b = mu * vw + step_w, mu * vb + step_b
            v_w.append(step_w)
            v_b.append(step_b)
        else:
            v_w.append(vw.copy())
            v_b.append(vb.copy())
        weights.append(w + step_w)
        biases.append(b + step_b)
    return weights, biases, v_w, v_b


@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("mu,l2", [(0.0, 0.0), (0.0, 1e-2), (0.9, 0.0), (0.9, 1e-2)])
def test_one_step_follows_the_definition(n, mu, l2):
    x, y = mnist_shaped(n, seed=3, n_in=12, n_out=4)
    net = Network((12, 7, 5, 4), seed=1)
    rng = np.random.default_rng(0)
    for v in net.velocity_w + net.velocity_b:
        v[...] = rng.normal(0, 0.01, v.shape)  # a velocity left from earlier steps
    want = one_step_by_definition(net, x, y, 0.5, mu, l2)
    VectorizedBackend().sgd_epoch(net.weights, net.biases, net.velocity_w, net.velocity_b, x, y,
                                  np.arange(n), n, 0.5, mu, l2, 0, False)
    for got, expected in zip((net.weights, net.biases, net.velocity_w, net.velocity_b), want):
        assert max(np.max(np.abs(g - e)) for g, e in zip(got, expected)) <= TOL


def test_momentum_zero_leaves_the_velocity_untouched():
    x, y = mnist_shaped(6, seed=3, n_in=12, n_out=4)
    net = Network((12, 7, 4), seed=1, backend="vectorized")
    for v in net.velocity_w + net.velocity_b:
        v[...] = 7.0
    net.step(x, y, 0.5, batch_size=2, weight_decay=1e-3, order=np.arange(6))
    assert all((v == 7.0).all() for v in net.velocity_w + net.velocity_b)


def test_buffers_are_made_once_per_shape_and_batch_size():
    backend = VectorizedBackend()
    net = Network((12, 7, 4), seed=1)
    x, y = mnist_shaped(7, seed=3, n_in=12, n_out=4)
    for _ in range(2):  # batch 3 over 7 rows: two steps of 3, one of 1
        backend.sgd_epoch(net.weights, net.biases, net.velocity_w, net.velocity_b, x, y,
                          np.arange(7), 3, 0.5, 0.9, 0.0, 0, False)
    assert sorted(n for _, n, _ in backend.steps) == [1, 3]
    step = backend.steps[(12, 7, 4), 1, np.dtype("float64")]
    assert [a.shape for a in step.a] == [(12,), (7,), (4,)]  # one sample: vectors (gemv, ger)


def test_float32_trains_like_float64():
    x, y = mnist_shaped(8, seed=3, n_in=12, n_out=4)
    nets = [Network((12, 7, 4), seed=1, backend="vectorized", dtype=d)
            for d in ("float64", "float32")]
    for net in nets:
        net.step(x, y, 0.5, batch_size=2, momentum=0.9, weight_decay=1e-3)
    assert nets[1].weights[0].dtype == np.float32
    assert max(np.max(np.abs(a - b)) for a, b in zip(nets[0].weights, nets[1].weights)) < 1e-5


def test_two_blas_threads_only_for_large_products():
    assert Step((784, 100, 10), 1, np.float64).threads == 1
    assert Step((784, 100, 10), 100, np.float64).threads == 1  # 1.6e7 flops
    assert Step((784, 800, 10), 100, np.float64).threads == 1  # 1.3e8 flops: still one
    assert Step((784, 4000, 10), 1000, np.float64).threads == 2  # 6.3e9


def test_the_backend_table_holds_this_twin():
    assert isinstance(BACKENDS["vectorized"], VectorizedBackend)
