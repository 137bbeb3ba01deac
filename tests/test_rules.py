"""The update rules beside momentum: Nesterov's momentum and Adam, in every backend, against the
rules written out from their definitions (``reference.sgd_epoch``, numerical gradients), against
one another over thousands of steps, and by hand; and their settings' errors."""
import math

import numpy as np
import pytest
import reference
from helpers import mnist_shaped

from neuronet import Network, fit
from neuronet.backends import BACKENDS

pytestmark = pytest.mark.plain_python

RULES = {
    "nesterov": {"solver": "sgd", "nesterovs_momentum": True, "momentum": 0.9},
    "adam": {"solver": "adam"},
    "adam-betas": {"solver": "adam", "beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-4},
}


def reference_kwargs(settings):
    return {"solver": settings["solver"], "nesterov": settings.get("nesterovs_momentum", False),
                "betas": (settings.get("beta_1", 0.9), settings.get("beta_2", 0.999)),
                "epsilon": settings.get("epsilon", 1e-8)}


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_every_backend_steps_as_the_rule_is_written(rule, activation, backend):
    settings = RULES[rule]
    x, y = mnist_shaped(9, seed=21, n_in=7, n_out=4)
    order = np.random.default_rng(22).permutation(9)
    net = Network((7, 6, 5, 4), seed=23, activation=activation, output="softmax",
                  cost="cross_entropy", backend=backend)
    eta = 0.01 if settings["solver"] == "adam" else 0.3
    want = reference.sgd_epoch(net.weights, net.biases, x, y, order, 2, eta,
                               settings.get("momentum", 0.0), 1e-3, output="softmax",
                               cost_name="cross_entropy", activation=activation,
                               **reference_kwargs(settings))
    net.step(x, y, eta, weight_decay=1e-3, batch_size=2, order=order, **settings)
    got = [net.weights, net.biases, net.velocity_w, net.velocity_b]
    if settings["solver"] == "adam":
        got += [net.squares_w, net.squares_b]
        assert net.adam_steps.tolist() == [5]  # 9 samples in batches of 2
    # The reference's numerical gradients are good to about 1e-10; Adam divides each gradient
    # by its running size, sqrt(s) + epsilon, so its steps carry that error times eta / |g|:
    # with eta = 0.01 and gradients of 1e-5 and more, up to 1e-7.
    tol = 1e-7 if settings["solver"] == "adam" else 1e-9
    for arrays, expected in zip(got, want):
        for a, b in zip(arrays, expected):
            np.testing.assert_allclose(a, b, rtol=0, atol=tol)


@pytest.mark.parametrize("backend", BACKENDS)
def test_first_adam_step_by_hand(backend):
    # Bias correction makes Adam's first step eta sqrt(1 - b2) / (1 - b1) (1 - b1) g /
    # (sqrt(1 - b2) |g| + epsilon) = eta g / (|g| + epsilon / sqrt(1 - b2)): about eta sign(g)
    # for every parameter whose gradient is not tiny, however large or small the gradient.
    net = Network((2, 1, 1), backend=backend)
    net.weights = [np.array([[0.5, -0.25]]), np.array([[2.0]])]
    net.biases = [np.array([0.0]), np.array([-1.0])]
    x, y = np.array([1.0, 2.0]), np.array([1.0])
    # Hand-worked in test_agreement: grad_w = [[-0.0625, -0.125]], [[-0.0625]]; grad_b = -0.0625,
    # -0.125. So every parameter grows by eta |g| / (|g| + 1e-8 / sqrt(0.001)).
    net.step(x, y, 0.001, solver="adam", epsilon=1e-8)
    for got, start, g in ((net.weights[0][0, 0], 0.5, 0.0625), (net.weights[0][0, 1], -0.25, 0.125),
                          (net.weights[1][0, 0], 2.0, 0.0625), (net.biases[0][0], 0.0, 0.0625),
                          (net.biases[1][0], -1.0, 0.125)):
        assert got == pytest.approx(start + 0.001 * g / (g + 1e-8 / math.sqrt(0.001)), rel=0,
                                    abs=1e-15)
    assert net.velocity_w[1][0, 0] == pytest.approx(0.1 * -0.0625, rel=1e-14)  # (1 - beta_1) g
    assert net.squares_w[1][0, 0] == pytest.approx(0.001 * 0.0625 ** 2, rel=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_nesterov_step_by_hand(backend):
    # Two steps on the same sample; the first from v = 0: v = -eta g, w += mu v - eta g.
    net = Network((2, 1, 1), backend=backend)
    net.weights = [np.array([[0.5, -0.25]]), np.array([[2.0]])]
    net.biases = [np.array([0.0]), np.array([-1.0])]
    x, y = np.array([1.0, 2.0]), np.array([1.0])
    net.step(x, y, 4.0, momentum=0.5, nesterovs_momentum=True)
    # g of the output weight is -0.0625: v = 0.25, w = 2 + 0.5 * 0.25 + 0.25 = 2.375
    assert net.velocity_w[1].tolist() == [[0.25]]
    assert net.weights[1].tolist() == [[2.375]]
    # the hidden weights' g = [-0.0625, -0.125]: v = [0.25, 0.5], w += 1.5 v
    assert net.weights[0].tolist() == [[0.875, 0.5]]


def test_nesterov_without_momentum_is_plain_sgd():
    x, y = mnist_shaped(6, seed=1, n_in=5, n_out=3)
    a, b = Network((5, 4, 3), seed=2), Network((5, 4, 3), seed=2)
    a.step(x, y, 0.5, batch_size=2)
    b.step(x, y, 0.5, batch_size=2, nesterovs_momentum=True)
    assert all(np.array_equal(p, q) for p, q in zip(a.weights + a.biases, b.weights + b.biases))


@pytest.mark.slow
@pytest.mark.parametrize("rule", ["momentum", "nesterov", "adam"])
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_loops_and_vectorized_agree_over_thousands_of_steps(rule, activation):
    settings = {"momentum": {"momentum": 0.9}, "nesterov": RULES["nesterov"],
                "adam": RULES["adam"]}[rule]
    # A stable regime, as in test_agreement's ten thousand steps: with momentum 0.9 at learning
    # rate 0.01 on these random labels, tanh training is chaotic, and a single weight moved by
    # one ulp drifts 7e-7 away from its twin after these steps (at 0.003, 2.4e-12).
    eta = 0.001 if rule == "adam" else 0.002
    x, y = mnist_shaped(3000, seed=31, n_in=784, n_out=10)
    nets = {name: Network((784, 30, 10), seed=32, activation=activation, output="softmax",
                          cost="cross_entropy", backend=name) for name in ("loops", "vectorized")}
    for net in nets.values():
        net.step(x, y, eta, batch_size=1, weight_decay=1e-4, **settings)  # 3,000 steps
        net.step(x, y, eta, batch_size=10, weight_decay=1e-4, **settings)  # and 300 more
    loops, vectorized = nets["loops"], nets["vectorized"]
    found = max(float(np.max(np.abs(p - q))) for p, q in zip(
        loops.weights + loops.biases + loops.velocity_w + loops.squares_w,
        vectorized.weights + vectorized.biases + vectorized.velocity_w + vectorized.squares_w))
    print(f"\n{rule} {activation}, 3,300 steps: largest difference {found:.1e}", end="")
    assert found <= 1e-10
    moved = max(float(np.max(np.abs(p - q))) for p, q in zip(
        loops.weights, Network((784, 30, 10), seed=32, activation=activation).weights))
    assert moved > 1e-3


def test_fit_with_adam_counts_its_steps_and_learns():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([0, 1, 1, 0])
    net = Network((2, 8, 2), seed=0, activation="tanh", output="softmax", cost="cross_entropy")
    history = fit(net, x, y, epochs=200, learning_rate=0.05, batch_size=2, solver="adam", seed=0)
    assert net.adam_steps.tolist() == [400]
    assert history[-1].accuracy == 1.0 and history[-1].cost < 0.05


@pytest.mark.parametrize("kwargs,error,words", [
    ({"solver": "lbfgs"}, ValueError, ["solver='lbfgs'", "'sgd', 'adam'"]),
    ({"solver": "adam", "beta_1": 1.0}, ValueError, ["beta_1", "[0, 1)", "1.0"]),
    ({"solver": "adam", "beta_2": -0.1}, ValueError, ["beta_2", "-0.1"]),
    ({"solver": "adam", "epsilon": 0.0}, ValueError, ["epsilon", "> 0"]),
    ({"solver": "adam", "epsilon": math.nan}, ValueError, ["epsilon", "finite"]),
    ({"solver": "adam", "momentum": 0.9}, ValueError, ["momentum=0.9", "beta_1"]),
    ({"nesterovs_momentum": "yes"}, TypeError, ["nesterovs_momentum", "True or False"]),
])
def test_bad_rule_settings_are_refused_by_name(kwargs, error, words):
    x, y = mnist_shaped(2, seed=1, n_in=3, n_out=2)
    net = Network((3, 2), seed=0)
    before = [w.copy() for w in net.weights]
    for call in (lambda: net.step(x, y, 0.1, **kwargs),
                 lambda: fit(net, x, y.argmax(axis=1), epochs=1, learning_rate=0.1, **kwargs)):
        with pytest.raises(error) as raised:
            call()
        for word in words:
            assert word in str(raised.value)
    assert all(np.array_equal(a, b) for a, b in zip(before, net.weights))
