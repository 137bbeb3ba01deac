"""The twin's training step (``vectorized.Step``: buffers, BLAS updates in place) against the
definitions: the naive reference's gradients and the update rule written out, one step at a time;
and each update rule, given BP4's gradient as the step gives it, against its numpy expression.
"""
import naive
import numpy as np
import pytest
from helpers import mnist_shaped, run_epoch

from neuronet import Network
from neuronet.backends import BACKENDS
from neuronet.rules import ADAM, Rule
from neuronet.vectorized import (
    Step,
    VectorizedBackend,
    WeightGradient,
    adam_update,
    momentum_update,
    nesterov_update,
    sgd_update,
)

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
    run_epoch(VectorizedBackend(), net, x, y, np.arange(n), n, 0.5, mu, l2)
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
        run_epoch(backend, net, x, y, np.arange(7), 3, 0.5, 0.9, 0.0)
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


ETA, MU, L2 = 0.3, 0.8, 0.05


def layer_arrays(n, seed=0, n_in=5, n_out=3):
    """w, b, two velocities of their shapes, and delta and a_prev of n samples (n None: one
    sample as vectors, as the step holds it)."""
    rng = np.random.default_rng(seed)
    rows = () if n is None else (n,)
    return (rng.normal(size=(n_out, n_in)), rng.normal(size=n_out), rng.normal(size=(n_out, n_in)),
            rng.normal(size=n_out), rng.normal(size=rows + (n_out,)), rng.random(rows + (n_in,)))


def gradients(delta, a_prev):
    """BP4 and BP3 in numpy: delta.T @ a_prev / n and delta.mean(axis=0) (one sample:
    np.outer(delta, a_prev) and delta)."""
    if delta.ndim == 1:
        return np.outer(delta, a_prev), delta.copy()
    return delta.T @ a_prev / len(delta), delta.mean(axis=0)


def weight_gradient(delta, a_prev):
    return WeightGradient(delta, a_prev, 1 if delta.ndim == 1 else len(delta))


def assert_all_close(got, want):
    for g, e in zip(got, want):
        np.testing.assert_allclose(g, e, rtol=1e-13, atol=1e-14)


SAMPLES = pytest.mark.parametrize("n", [None, 4], ids=["one sample", "four samples"])


@SAMPLES
def test_sgd_update_is_w_minus_eta_gradient(n):
    w, b, _, _, delta, a_prev = layer_arrays(n)
    grad_w, grad_b = gradients(delta, a_prev)
    want = (w - ETA * (grad_w + L2 * w), b - ETA * grad_b)
    sgd_update(w, weight_gradient(delta, a_prev), ETA, L2)
    sgd_update(b, grad_b, ETA, 0.0)  # biases: no weight decay, as the step calls it
    assert_all_close((w, b), want)


@SAMPLES
def test_momentum_update_is_v_mu_v_minus_eta_gradient_and_w_plus_v(n):
    w, b, v_w, v_b, delta, a_prev = layer_arrays(n)
    grad_w, grad_b = gradients(delta, a_prev)
    new_v_w, new_v_b = MU * v_w - ETA * (grad_w + L2 * w), MU * v_b - ETA * grad_b
    want = (w + new_v_w, b + new_v_b, new_v_w, new_v_b)
    momentum_update(w, weight_gradient(delta, a_prev), v_w, ETA, MU, L2)
    momentum_update(b, grad_b, v_b, ETA, MU, 0.0)
    assert_all_close((w, b, v_w, v_b), want)


@SAMPLES
def test_nesterov_update_looks_ahead_by_mu_v(n):
    w, b, v_w, v_b, delta, a_prev = layer_arrays(n)
    grad_w, grad_b = gradients(delta, a_prev)
    step_w, step_b = -ETA * (grad_w + L2 * w), -ETA * grad_b
    new_v_w, new_v_b = MU * v_w + step_w, MU * v_b + step_b
    want = (w + MU * new_v_w + step_w, b + MU * new_v_b + step_b, new_v_w, new_v_b)
    nesterov_update(w, weight_gradient(delta, a_prev), v_w, ETA, MU, L2, np.empty_like(w))
    nesterov_update(b, grad_b, v_b, ETA, MU, 0.0, np.empty_like(b))
    assert_all_close((w, b, v_w, v_b), want)


@SAMPLES
def test_adam_update_is_kingma_and_ba_with_bias_correction(n):
    """Two steps (t = 1, 2) from m = s = 0, on the weights (with l2) and on the biases (without),
    as the step calls it."""
    rule = Rule(solver=ADAM, beta_1=0.9, beta_2=0.99, epsilon=1e-3)
    w, b, _, _, delta, a_prev = layer_arrays(n)
    grad_w, grad_b = gradients(delta, a_prev)
    m_w, s_w, m_b, s_b = (np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b))
    want = [w.copy(), b.copy(), m_w.copy(), s_w.copy(), m_b.copy(), s_b.copy()]
    for t in (1, 2):
        eta_t = ETA * np.sqrt(1 - rule.beta_2 ** t) / (1 - rule.beta_1 ** t)
        for p, m, s, l2 in ((0, 2, 3, L2), (1, 4, 5, 0.0)):
            g = (grad_w if p == 0 else grad_b) + l2 * want[p]
            want[m] = rule.beta_1 * want[m] + (1 - rule.beta_1) * g
            want[s] = rule.beta_2 * want[s] + (1 - rule.beta_2) * g ** 2
            want[p] = want[p] - eta_t * want[m] / (np.sqrt(want[s]) + rule.epsilon)
        adam_update(w, weight_gradient(delta, a_prev), m_w, s_w, ETA, L2, rule, t,
                    np.empty_like(w), np.empty_like(w))
        adam_update(b, grad_b, m_b, s_b, ETA, 0.0, rule, t, np.empty_like(b), np.empty_like(b))
    assert_all_close((w, b, m_w, s_w, m_b, s_b), want)
