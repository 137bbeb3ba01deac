import warnings

import numpy as np
import pytest
import reference
from helpers import mnist_shaped

from neuronet import Network, fused, gradcheck, loops, rules, vectorized
from neuronet.activations import COSTS, cost, sigmoid, sigmoid_array, softmax_array, softmax_row
from neuronet.records import Layer
from neuronet.rules import SGD, Settings

pytestmark = pytest.mark.plain_python


def test_parameters_follow_the_layout_and_the_seed():
    net = Network((784, 30, 10), seed=5)
    assert [w.shape for w in net.weights] == [(30, 784), (10, 30)]
    assert [b.shape for b in net.biases] == [(30,), (10,)]
    assert all(w.dtype == np.float64 for w in net.weights + net.biases)
    again = Network((784, 30, 10), seed=5)
    assert all(np.array_equal(a, b) for a, b in zip(net.weights, again.weights))
    other = Network((784, 30, 10), seed=6)
    assert not np.array_equal(net.weights[0], other.weights[0])
    # N(0, 1/sqrt(n_in)): the spread of w is 1/28 for 784 inputs, and signs are mixed.
    assert net.weights[0].std() == pytest.approx(1 / 28, rel=0.02)
    assert (net.weights[0] < 0).mean() == pytest.approx(0.5, abs=0.02)


def test_post_initialisation_is_available_and_all_positive():
    net = Network((784, 30, 10), seed=0, init="uniform")
    assert all(((p >= 0) & (p < 0.4)).all() for p in net.weights + net.biases)


def test_predict_one_sample_or_a_batch():
    net = Network((4, 3, 2), seed=0)
    x = np.arange(8.0).reshape(2, 4) / 8
    batch = net.predict(x)
    assert batch.shape == (2, 2)
    assert np.array_equal(net.predict(x[1]), batch[1])
    assert net.predict(x[0]).shape == (2,)


def test_gradients_leave_the_network_unchanged_and_switching_backend_keeps_parameters():
    net = Network((5, 4, 3), seed=0)
    before = [p.copy() for p in net.weights + net.biases]
    x, y = mnist_shaped(3, n_in=5, n_out=3)
    net.gradients(x, y)
    net.backend = "vectorized"
    net.gradients(x, y)
    assert all(np.array_equal(a, b) for a, b in zip(before, net.weights + net.biases))


def test_momentum_is_a_velocity():
    # Two steps on the same sample: the second moves by mu*v - eta*grad, not by the raw gradient.
    x, y = mnist_shaped(1, n_in=3, n_out=2)
    net = Network((3, 2), seed=0)
    w0 = net.weights[0].copy()
    g0 = net.gradients(x, y)[0][0]
    net.train(x[0], y[0], 0.5, momentum=0.9)
    np.testing.assert_allclose(net.weights[0], w0 - 0.5 * g0, rtol=0, atol=1e-15)
    g1 = net.gradients(x, y)[0][0]
    w1 = net.weights[0].copy()
    net.train(x[0], y[0], 0.5, momentum=0.9)
    np.testing.assert_allclose(net.weights[0], w1 + 0.9 * (-0.5 * g0) - 0.5 * g1, rtol=0,
                               atol=1e-15)


@pytest.mark.parametrize("backend", ["loops", "vectorized"])
def test_weight_decay_shrinks_weights_not_biases(backend):
    x, y = mnist_shaped(1, n_in=3, n_out=2)
    plain, decayed = (Network((3, 2), seed=0, backend=backend) for _ in range(2))
    plain.train(x[0], y[0], 0.5)
    decayed.train(x[0], y[0], 0.5, weight_decay=0.1)
    w0 = Network((3, 2), seed=0).weights[0]
    np.testing.assert_allclose(decayed.weights[0], plain.weights[0] - 0.5 * 0.1 * w0, rtol=0,
                               atol=1e-15)
    assert np.array_equal(decayed.biases[0], plain.biases[0])


def two_momentum_steps(kernel):
    """w = 1, b = 1, v = 0; gradients 0.5 then -0.5 (weights) and 0.25 then -0.25 (bias), at
    eta = 0.5, mu = 0.5, l2 = 0 (weights; 0.25 in the second run below):
    step 1: v = 0.5*0 - 0.5*0.5 = -0.25, w = 0.75;  v_b = -0.125, b = 0.875
    step 2: v = 0.5*-0.25 - 0.5*-0.5 = 0.125, w = 0.875;  v_b = -0.0625 + 0.125 = 0.0625,
    b = 0.9375 (a velocity with the wrong sign gives v = 0.375, w = 1.125)."""
    w, b, v_w, v_b = np.ones((1, 1)), np.ones(1), np.zeros((1, 1)), np.zeros(1)
    for grad_w, grad_b in ((0.5, 0.25), (-0.5, -0.25)):
        kernel(w, b, v_w, v_b, grad_w, grad_b)
    return w[0, 0], b[0], v_w[0, 0], v_b[0]


def momentum_half(l2):
    """The step's settings: eta = 0.5, mu = 0.5, weight decay l2."""
    return Settings(0.5, 0.5, l2, SGD, 0.9, 0.999, 1e-8, 0.5)


UPDATES = {
    "loops": lambda w, b, v_w, v_b, g, g_b, l2=0.0: loops.update(
        Layer(w, b, v_w, v_b, v_w, v_b), np.full((1, 1), g), np.full(1, g_b), momentum_half(l2)),
    "vectorized": lambda w, b, v_w, v_b, g, g_b, l2=0.0: vectorized.update(
        w, b, np.full((1, 1), g), np.full(1, g_b), v_w, v_b, 0.5, 0.5, l2),
    # The fused kernels step a row from the gradient they form, grad_w[j, k] = sum_s delta[s, j]
    # a_prev[s, k] / n: here one sample with delta = g_b (the bias gradient) and a_prev = g / g_b
    # (= 2), so grad_w = g: in a scratch row (mini-batch tile) or as it goes (one sample's row).
    "fused": lambda w, b, v_w, v_b, g, g_b, l2=0.0: (
        fused.step_tile(Layer(w, b, v_w, v_b, v_w, v_b), np.empty(1), np.full((1, 1), g_b),
                        np.full((1, 1), g / g_b), 0, 0, 1, momentum_half(l2)),
        rules.step_one(b, v_b, v_b, 0, g_b, momentum_half(l2))),
    "fused-one-sample": lambda w, b, v_w, v_b, g, g_b, l2=0.0: (
        fused.momentum_row(w, v_w, 0, g_b, np.full(1, g / g_b), momentum_half(l2)),
        rules.step_one(b, v_b, v_b, 0, g_b, momentum_half(l2))),
    "rule": lambda w, b, v_w, v_b, g, g_b, l2=0.0: (
        rules.step_row(w[0], v_w[0], v_w[0], np.full(1, g), momentum_half(l2), l2),
        rules.step_one(b, v_b, v_b, 0, g_b, momentum_half(l2))),
}


@pytest.mark.parametrize("name", UPDATES)
def test_two_momentum_steps_by_hand(name):
    assert two_momentum_steps(UPDATES[name]) == (0.875, 0.9375, 0.125, 0.0625)
    # With l2 = 0.25 the weights also decay: step 1: v = -0.5*(0.5 + 0.25*1) = -0.375,
    # w = 0.625; step 2: v = 0.5*-0.375 - 0.5*(-0.5 + 0.25*0.625) = -0.015625, w = 0.609375;
    # the bias has no decay.
    decayed = two_momentum_steps(lambda *args: UPDATES[name](*args, l2=0.25))
    assert decayed == (0.609375, 0.9375, -0.015625, 0.0625)


def test_softmax_does_not_overflow():
    # softmax(z) = softmax(z - max z): [1000, 0] -> [1 / (1 + e^-1000), e^-1000 / (...)] = [1, 0]
    # in float64 (e^-1000 underflows to 0); [1000, 999] -> [1, e^-1] / (1 + e^-1).
    e = np.exp(-1.0)
    cases = {(1000.0, 0.0): [1.0, 0.0], (1000.0, 999.0): [1 / (1 + e), e / (1 + e)],
             (-1000.0, -1000.0): [0.5, 0.5], (800.0, 800.0, 800.0, 800.0): [0.25] * 4}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for z, want in cases.items():
            z = np.array(z)
            row = np.empty_like(z)
            softmax_row(z, row)
            np.testing.assert_allclose(row, want, rtol=1e-15, atol=0)
            np.testing.assert_allclose(softmax_array(z[None])[0], want, rtol=1e-15, atol=0)


@pytest.mark.parametrize("output,kind,want", [
    # a = (0.5, 0.25), y = (1, 0):
    ("sigmoid", "quadratic", 0.15625),                 # 1/2 (0.5^2 + 0.25^2)
    ("sigmoid", "cross_entropy", np.log(8 / 3)),       # -(ln 0.5 + ln 0.75) = ln 2 + ln 4/3
    ("softmax", "cross_entropy", np.log(2)),           # -ln 0.5: only the target's term
])
def test_costs_by_hand(output, kind, want):
    a, y = np.array([[0.5, 0.25]]), np.array([[1.0, 0.0]])
    assert cost(a, y, COSTS[kind], output)[0] == pytest.approx(want, rel=1e-15)


def test_sigmoid_is_stable_everywhere():
    z = np.array([-1e308, -1000.0, -745.0, -709.0, -30.0, -1.0, 0.0, 1.0, 30.0, 709.0, 1e308])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        array = sigmoid_array(z)
        scalar = np.array([sigmoid(v) for v in z])
    assert np.isfinite(array).all() and np.isfinite(scalar).all()
    assert array[0] == 0.0 and array[-1] == 1.0 and array[6] == 0.5
    assert np.all(np.diff(array) >= 0)
    np.testing.assert_allclose(array, scalar, rtol=1e-15, atol=0)
    # sigma(-z) = 1 - sigma(z)
    np.testing.assert_allclose(sigmoid_array(-z[5:]), 1 - sigmoid_array(z[5:]), atol=1e-16)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["loops", "vectorized"])
def test_800_hidden_neurons_train_without_warning_or_nan(backend):
    # The post's 800-neuron case overflowed exp and gave NaN; even its all-positive
    # initialisation, which saturates the hidden layer, must stay finite.
    x, y = mnist_shaped(300, seed=1)
    for init in ("normal", "uniform"):
        net = Network((784, 800, 10), seed=0, backend=backend, init=init)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            net.step(x * 255, y, 0.1, batch_size=10)  # unscaled pixels, as in the post
            out = net.predict(x * 255)
        assert np.isfinite(out).all()
        assert all(np.isfinite(p).all() for p in net.weights + net.biases)


def test_xor():
    # Settings: 2-3-1 sigmoid network, quadratic cost, seed 0, pure SGD (the post's train, one
    # sample per step) at learning rate 2.0 for 2,000 epochs in an order shuffled from seed 0.
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([[0], [1], [1], [0]], dtype=float)
    net = Network((2, 3, 1), seed=0)
    rng = np.random.default_rng(0)
    for _ in range(2000):
        for i in rng.permutation(4):
            net.train(x[i], y[i], learning_rate=2.0)
    out = net.predict(x)[:, 0]
    assert ((out > 0.5) == (y[:, 0] == 1)).all()
    assert 0.5 * np.sum((out - y[:, 0]) ** 2) < 0.01


@pytest.mark.parametrize("backend", ["loops", "python", "vectorized"])
@pytest.mark.parametrize("output,cost", [("sigmoid", "quadratic"), ("sigmoid", "cross_entropy"),
                                         ("softmax", "cross_entropy"), ("softmax", "quadratic")])
def test_gradcheck_passes_every_parameter_of_a_small_network(backend, output, cost):
    x, y = mnist_shaped(4, seed=2, n_in=6, n_out=3)
    net = Network((6, 5, 4, 3), seed=1, backend=backend, output=output, cost=cost)
    before = [p.copy() for p in net.weights + net.biases]
    checks = gradcheck(net, x, y)
    assert [(c.checked_w, c.checked_b) for c in checks] == [(30, 5), (20, 4), (12, 3)]  # all
    assert max(c.max_error for c in checks) <= 1e-7
    assert all(np.array_equal(a, b) for a, b in zip(before, net.weights + net.biases))


@pytest.mark.slow
def test_gradcheck_samples_a_large_network():
    x, y = mnist_shaped(4, seed=2)
    checks = gradcheck(Network((784, 100, 10), seed=1), x, y, max_per_layer=50)
    assert [(c.checked_w, c.checked_b) for c in checks] == [(50, 50), (50, 10)]
    assert max(c.max_error for c in checks) <= 1e-7


def test_gradcheck_catches_a_wrong_gradient(monkeypatch):
    x, y = mnist_shaped(4, seed=2, n_in=6, n_out=3)
    net = Network((6, 5, 3), seed=1)
    right = Network.gradients

    def off_by_one_percent_in_layer_1(self, x, y):
        grad_w, grad_b = right(self, x, y)
        grad_w[1] = grad_w[1] * 1.01
        return grad_w, grad_b

    monkeypatch.setattr(Network, "gradients", off_by_one_percent_in_layer_1)
    checks = gradcheck(net, x, y)
    assert checks[0].max_error <= 1e-7
    assert checks[1].max_error_w > 1e-3


@pytest.mark.parametrize("backend", ["loops", "vectorized"])
def test_loss_over_many_rows_is_the_mean_of_every_row(backend):
    # net.loss feeds the loop kernels a chunk at a time; every row must still count, once.
    x, y = mnist_shaped(700, seed=3, n_in=6, n_out=3)
    net = Network((6, 5, 3), seed=2, backend=backend, output="softmax", cost="cross_entropy")
    weights = [w.tolist() for w in net.weights]
    biases = [b.tolist() for b in net.biases]
    want = reference.cost(weights, biases, x, y, "softmax", "cross_entropy")
    assert net.loss(x, y) == pytest.approx(want, rel=1e-12)
