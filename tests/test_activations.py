"""Hidden activations (sigmoid, tanh, relu): each function against its definition, every
backend's gradients against finite differences of the cost, the kink of ReLU, the
initialisations, and saving, loading and bad names."""
import math
import zipfile

import numpy as np
import pytest
import reference
from helpers import mnist_shaped, parameters

from neuronet import Network, fit, load, save
from neuronet.activations import (
    RELU,
    SIGMOID,
    TANH,
    activation,
    activation_array,
    prime,
    prime_array,
    prime_kept,
    prime_kept_array,
)
from neuronet.backends import BACKENDS

pytestmark = pytest.mark.plain_python

DEFINITIONS = {SIGMOID: lambda z: 1 / (1 + math.exp(-z)), TANH: math.tanh,
               RELU: lambda z: z if z > 0 else 0.0}
ZS = [-30.0, -2.5, -0.3, 0.4, 1.7, 25.0]  # away from relu's kink, where f' exists


@pytest.mark.parametrize("kind", DEFINITIONS)
def test_each_activation_and_its_derivative_from_the_definition(kind):
    f = DEFINITIONS[kind]
    for z in ZS:
        a = f(z)
        assert activation(z, kind) == pytest.approx(a, rel=1e-15, abs=1e-300)
        h = 1e-6  # central difference: truncation ~h^2 f''' 1e-12, rounding ~|z| eps / h
        slope = (f(z + h) - f(z - h)) / (2 * h)
        assert prime(a, kind) == pytest.approx(slope, rel=1e-8, abs=1e-9)
        # under dropout the neuron's output is m f(z) and BP2 needs m f'(z)
        assert prime_kept(2.5 * a, 2.5, kind) == pytest.approx(2.5 * slope, abs=1e-8)
        assert prime_kept(0.0, 0.0, kind) == 0  # dropped: no error flows back
    z = np.array(ZS)
    a = np.array([f(v) for v in ZS])
    np.testing.assert_allclose(activation_array(z.copy(), kind), a, rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(prime_array(a, kind), [prime(v, kind) for v in a], rtol=1e-15)
    out = np.empty_like(a)
    assert prime_array(a, kind, out=out) is out
    m = np.array([0, 2.5, 2.5, 0, 2.5, 2.5])
    np.testing.assert_allclose(prime_kept_array(m * a, m, kind),
                               [prime_kept(mi * ai, mi, kind) for mi, ai in zip(m, a)], rtol=1e-15)


def test_relu_takes_slope_zero_at_its_kink():
    assert activation(0.0, RELU) == 0 and activation(-0.0, RELU) == 0
    assert prime(0.0, RELU) == 0 and prime_array(np.zeros(3), RELU).tolist() == [0, 0, 0]
    assert prime_kept(0.0, 2.0, RELU) == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_backend_takes_relu_slope_zero_at_z_zero(backend):
    # The hidden neuron's z = 0.5 * 1 - 0.25 * 2 + 0 = 0 exactly: it sits on the kink, so with
    # slope 0 there no error reaches the first layer, whatever the output's error.
    net = Network((2, 1, 1), backend=backend, activation="relu")
    net.weights = [np.array([[0.5, -0.25]]), np.array([[2.0]])]
    net.biases = [np.array([0.0]), np.array([0.25])]
    x, y = np.array([1.0, 2.0]), np.array([1.0])
    grad_w, grad_b = net.gradients(x, y)
    # output: z = 2 * 0 + 0.25, a = sigma(0.25); delta = (a - 1) a (1 - a) != 0
    a = 1 / (1 + math.exp(-0.25))
    assert grad_b[1][0] == pytest.approx((a - 1) * a * (1 - a), rel=1e-15)
    assert grad_w[1].tolist() == [[0.0]]  # the hidden activation is 0
    assert grad_w[0].tolist() == [[0.0, 0.0]] and grad_b[0].tolist() == [0.0]


SETTINGS = [("sigmoid", "quadratic"), ("sigmoid", "cross_entropy"), ("softmax", "quadratic"),
            ("softmax", "cross_entropy")]


@pytest.mark.parametrize("name", ["tanh", "relu", "sigmoid"])
@pytest.mark.parametrize("output,cost", SETTINGS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_gradients_are_the_finite_differences_of_the_cost(name, output, cost, backend):
    x, y = mnist_shaped(5, seed=11, n_in=6, n_out=3)
    x = 2 * x - 1  # inputs of both signs, so relu neurons are on and off
    net = Network((6, 5, 4, 3), seed=12, activation=name, output=output, cost=cost,
                  backend=backend)
    # No hidden z near relu's kink, where finite differences would straddle it.
    a = x
    for w, b in zip(net.weights[:-1], net.biases[:-1]):
        z = a @ w.T + b
        assert np.abs(z).min() > 1e-3
        a = np.tanh(z) if name == "tanh" else np.maximum(z, 0) if name == "relu" else 1 / (1 + np.exp(-z))
    assert 0 < (a > 0).mean() < 1 or name != "relu"  # some neurons off, some on
    weights = [w.tolist() for w in net.weights]
    biases = [b.tolist() for b in net.biases]
    want_w, want_b = reference.gradients(weights, biases, x, y, output, cost, activation=name)
    grad_w, grad_b = net.gradients(x, y)
    for got, want in zip(grad_w + grad_b, want_w + want_b):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", ["tanh", "relu"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_one_epoch_of_momentum_sgd_follows_the_reference(name, backend):
    x, y = mnist_shaped(9, seed=13, n_in=7, n_out=4)
    order = np.random.default_rng(14).permutation(9)
    net = Network((7, 6, 5, 4), seed=15, activation=name, output="softmax",
                  cost="cross_entropy", backend=backend)
    want = reference.sgd_epoch(net.weights, net.biases, x, y, order, 4, 0.3, 0.9, 1e-3,
                               output="softmax", cost_name="cross_entropy", activation=name)
    net.step(x, y, 0.3, momentum=0.9, weight_decay=1e-3, batch_size=4, order=order)
    for got, expected in zip(parameters(net), [w for pair in want for w in pair]):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)


def test_initialisations_by_definition():
    n_in, n_out = 784, 800
    glorot = Network((n_in, n_out), init="glorot", seed=0)
    bound = math.sqrt(6 / (n_in + n_out))
    w = glorot.weights[0]
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.01)  # uniform's std
    assert not glorot.biases[0].any()
    he = Network((n_in, n_out), init="he", seed=0)
    assert he.weights[0].std() == pytest.approx(math.sqrt(2 / n_in), rel=0.01)
    assert abs(he.weights[0].mean()) < 1e-3 and not he.biases[0].any()
    normal = Network((n_in, n_out), init="normal", seed=0)
    assert normal.weights[0].std() == pytest.approx(1 / math.sqrt(n_in), rel=0.01)
    assert normal.biases[0].std() == pytest.approx(1, rel=0.1)


def test_auto_picks_the_initialisation_that_suits_the_activation():
    assert [Network((4, 3, 2), activation=a).init for a in ("sigmoid", "tanh", "relu")] == [
        "normal", "glorot", "he"]
    # sigmoid networks keep the weights they always had, so earlier results stand
    for old, new in zip(Network((5, 4, 3), seed=3, init="normal").weights,
                        Network((5, 4, 3), seed=3).weights):
        assert np.array_equal(old, new)
    assert Network((4, 3, 2), activation="relu", init="glorot").init == "glorot"


@pytest.mark.parametrize("kwargs,words", [
    ({"activation": "softmax"}, ["activation='softmax'", "'sigmoid', 'tanh', 'relu'"]),
    ({"activation": "ReLU"}, ["activation='ReLU'", "'relu'"]),
    ({"init": "xavier"}, ["init='xavier'", "'auto'", "'glorot'", "'he'"]),
])
def test_unknown_names_are_refused_with_the_choices(kwargs, words):
    with pytest.raises(ValueError) as error:
        Network((4, 3, 2), **kwargs)
    for word in words:
        assert word in str(error.value)


@pytest.mark.parametrize("name", ["tanh", "relu"])
def test_save_and_load_keep_the_activation(tmp_path, name):
    net = Network((6, 5, 3), seed=1, activation=name, output="softmax", cost="cross_entropy")
    path = tmp_path / "net.npz"
    save(net, path)
    back = load(path)
    assert back.activation == name
    x = 2 * mnist_shaped(4, seed=2, n_in=6, n_out=3)[0] - 1
    assert np.array_equal(back.predict(x), net.predict(x))


def test_files_from_before_activations_load_as_sigmoid(tmp_path):
    net = Network((6, 5, 3), seed=1)
    path = tmp_path / "old.npz"
    arrays = {"sizes": np.array(net.sizes), "output": np.array("sigmoid"),
              "cost": np.array("quadratic")}
    for layer, (w, b) in enumerate(zip(net.weights, net.biases)):
        arrays[f"weights_{layer}"], arrays[f"biases_{layer}"] = w, b
    np.savez(path, **arrays)
    assert "activation.npy" not in zipfile.ZipFile(path).namelist()
    assert load(path).activation == "sigmoid"


def test_a_file_with_an_unknown_activation_is_refused(tmp_path):
    net = Network((6, 5, 3), seed=1, activation="relu")
    path = tmp_path / "bad.npz"
    save(net, path)
    with np.load(path) as f:
        arrays = dict(f)
    arrays["activation"] = np.array("swish")
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="'activation' must be one of .*'swish'"):
        load(path)


@pytest.mark.parametrize("name", ["tanh", "relu"])
def test_each_activation_learns_xor(name):
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([0, 1, 1, 0])
    net = Network((2, 8, 2), seed=0, activation=name, output="softmax", cost="cross_entropy")
    fit(net, x, y, epochs=300, learning_rate=0.1, batch_size=1, momentum=0.9, seed=0)
    assert (net.predict(x).argmax(axis=1) == y).all()
