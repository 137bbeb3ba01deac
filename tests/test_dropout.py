"""Dropout: the same masks train the same network in every backend, the step follows the
gradient of the thinned network, and a dropped neuron learns nothing from that step."""
from functools import cache

import numpy as np
import pytest
import reference
from helpers import (
    epoch,
    largest_difference,
    masks_for,
    mnist_shaped,
    parameters,
    reference_epoch,
    run_epoch,
)

from neuronet import Network, backends, fit, loops, records
from neuronet.activations import COSTS, sigmoid_array, softmax_array
from neuronet.activations import cost as cost_per_sample
from neuronet.backends import BACKENDS
from neuronet.train import dropout_masks

pytestmark = pytest.mark.plain_python

SHAPE = (7, 9, 6, 4)
IMPLEMENTATIONS = {
    "loops": BACKENDS["loops"],                          # the fused kernels of fast
    "loops-plain": backends.LoopBackend(loops.KERNELS),
    "parallel": backends.FastBackend(backends.PARALLEL),
    "python": BACKENDS["python"],
    "vectorized": BACKENDS["vectorized"],
}


def trained(backend, batch_size, masks, output="softmax", cost="cross_entropy", momentum=0.9,
            weight_decay=1e-3, learning_rate=0.5):
    """A SHAPE network after one epoch of SGD over 11 samples (helpers.epoch), with the masks."""
    return epoch(backend, SHAPE, batch_size, momentum, weight_decay, output, cost, masks=masks,
                 learning_rate=learning_rate)


@cache
def reference_trained(batch_size, output, cost):
    """``trained(..., masks_for(11, SHAPE), output, cost)`` by ``reference``: numerical gradients
    of the thinned network's cost (slow, so once per setting)."""
    return reference_epoch(SHAPE, batch_size, 0.9, 1e-3, output, cost, masks=masks_for(11, SHAPE))


@pytest.mark.parametrize("name", IMPLEMENTATIONS)
@pytest.mark.parametrize("batch_size", [1, 4, 5, 11], ids=lambda n: f"batch{n}")
@pytest.mark.parametrize("output,cost", [("sigmoid", "quadratic"), ("softmax", "cross_entropy")])
def test_every_backend_trains_as_the_reference_with_the_same_masks(name, batch_size, output,
                                                                   cost):
    got = parameters(trained(IMPLEMENTATIONS[name], batch_size, masks_for(11, SHAPE), output,
                             cost))
    want = reference_trained(batch_size, output, cost)
    # Numerical gradients are good to about 1e-10; 11 steps with momentum add up to 1e-9.
    assert largest_difference(got, want) <= 1e-8
    undropped = parameters(trained(IMPLEMENTATIONS[name], batch_size, None, output, cost))
    assert largest_difference(got, undropped) > 1e-3


def hidden_kind_start(activation):
    """(net, x, y, order) for an epoch of a SHAPE network with hidden layers of ``activation``
    (softmax, cross-entropy), its biases drawn at random: at zero biases a sample whose hidden
    outputs below are all dropped or off has z = b = 0, relu's kink, where the numerical
    gradient averages the two slopes."""
    x, y = mnist_shaped(11, seed=5, n_in=SHAPE[0], n_out=SHAPE[-1])
    net = Network(SHAPE, seed=4, activation=activation, output="softmax", cost="cross_entropy")
    rng = np.random.default_rng(7)
    for b in net.biases:
        b[...] = rng.normal(size=b.shape)
    return net, x, y, np.random.default_rng(6).permutation(11)


@cache
def reference_hidden_kind(activation, batch_size):
    """``parameters`` after the epoch of ``hidden_kind_start`` by ``reference`` (numerical
    gradients of the thinned network's cost), with ``masks_for(11, SHAPE)``."""
    net, x, y, order = hidden_kind_start(activation)
    trained = reference.sgd_epoch(net.weights, net.biases, x, y, order, batch_size, 0.5, 0.9,
                                  1e-3, output="softmax", cost_name="cross_entropy",
                                  masks=masks_for(11, SHAPE), activation=activation)
    return [array for arrays in trained for array in arrays]


@pytest.mark.parametrize("name", IMPLEMENTATIONS)
@pytest.mark.parametrize("batch_size", [1, 4], ids=lambda n: f"batch{n}")
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_tanh_and_relu_train_as_the_reference_with_the_same_masks(name, batch_size, activation):
    """Under dropout BP2 takes m f'(z) from the kept output a = m f(z): tanh's m - a^2 / m,
    relu's m if a > 0."""
    net, x, y, order = hidden_kind_start(activation)
    run_epoch(IMPLEMENTATIONS[name], net, x, y, order, batch_size, 0.5, 0.9, 1e-3,
              masks=masks_for(11, SHAPE))
    # The backends agree with each other to 1e-12 here; tanh at batch 1 is 1.7e-8 from the
    # reference (numerical gradients, 11 steps with momentum 0.9 at learning rate 0.5).
    assert largest_difference(parameters(net), reference_hidden_kind(activation, batch_size)) \
        <= 1e-7


@pytest.mark.parametrize("name", IMPLEMENTATIONS)
def test_masks_of_ones_change_nothing(name):
    ones = tuple(np.ones((11, n)) for n in SHAPE[:-1])
    got = parameters(trained(IMPLEMENTATIONS[name], 4, ones))
    want = parameters(trained(IMPLEMENTATIONS[name], 4, None))
    assert all(np.array_equal(a, b) for a, b in zip(got, want))


def thinned_cost(net, x, y, masks):
    """The cost of the network with the masks applied, written out in numpy."""
    a = x * masks[0]
    last = len(net.weights) - 1
    for layer, (w, b) in enumerate(zip(net.weights, net.biases)):
        z = a @ w.T + b
        if layer == last:
            a = softmax_array(z) if net.output == "softmax" else sigmoid_array(z)
        else:
            a = sigmoid_array(z) * masks[layer + 1]
    return float(np.mean(cost_per_sample(a, y, COSTS[net.cost], net.output)))


@pytest.mark.parametrize("name", ["loops", "vectorized"])
@pytest.mark.parametrize("output,cost", [("sigmoid", "quadratic"), ("softmax", "cross_entropy")])
def test_the_step_follows_the_gradient_of_the_thinned_network(name, output, cost):
    # One full-batch step at learning rate 1, no momentum, no L2: old - new weights = gradient.
    masks = masks_for(11, SHAPE, rate=0.5)
    x, y = mnist_shaped(11, seed=5, n_in=SHAPE[0], n_out=SHAPE[-1])
    order = np.random.default_rng(6).permutation(11)  # mask row i goes with sample order[i]
    x, y = x[order], y[order]
    before = Network(SHAPE, seed=4, output=output, cost=cost)
    after = trained(IMPLEMENTATIONS[name], 11, masks, output, cost, momentum=0.0,
                    weight_decay=0.0, learning_rate=1.0)
    h = 1e-5  # central differences: truncation h^2 and rounding eps/h both near 1e-10
    for layer in range(len(SHAPE) - 1):
        w = before.weights[layer]
        for j, k in np.ndindex(w.shape):
            saved = w[j, k]
            w[j, k] = saved + h
            up = thinned_cost(before, x, y, masks)
            w[j, k] = saved - h
            down = thinned_cost(before, x, y, masks)
            w[j, k] = saved
            step = saved - after.weights[layer][j, k]
            assert abs(step - (up - down) / (2 * h)) <= 1e-8, (layer, j, k)


@pytest.mark.parametrize("name", IMPLEMENTATIONS)
def test_a_dropped_neuron_learns_nothing(name):
    masks = [m.copy() for m in masks_for(11, SHAPE)]
    masks[1][:, 3] = 0  # hidden neuron 3 of the first hidden layer, dropped for every sample
    masks[0][:, 5] = 0  # and input 5
    before = Network(SHAPE, seed=4)
    after = trained(IMPLEMENTATIONS[name], 4, masks, weight_decay=0.0)
    assert np.array_equal(after.weights[0][3], before.weights[0][3])  # into neuron 3
    assert after.biases[0][3] == before.biases[0][3]
    assert np.array_equal(after.weights[1][:, 3], before.weights[1][:, 3])  # out of it
    assert np.array_equal(after.weights[0][:, 5], before.weights[0][:, 5])  # out of input 5
    changed = after.weights[0] != before.weights[0]
    assert changed.sum() == (SHAPE[1] - 1) * (SHAPE[0] - 1)  # every other weight moved


def test_masks_drop_at_the_rate_and_scale_the_kept():
    masks = dropout_masks(np.random.default_rng(0).spawn(2), 2000, (50, 40, 10), (0.2, 0.5),
                          np.float32)
    assert [m.shape for m in masks] == [(2000, 50), (2000, 40)]
    assert all(m.dtype == np.float32 for m in masks)
    for mask, rate in zip(masks, (0.2, 0.5)):
        assert set(np.unique(mask)) == {0, np.float32(1 / (1 - rate))}
        assert abs(np.mean(mask == 0) - rate) < 0.01  # 4 standard deviations at n = 100,000
    assert [m.shape for m in dropout_masks([None] * 2, 7, (5, 4, 3), (0.0, 0.0),
                                           np.float64)] == [(0, 5), (0, 4)]


def test_fit_with_dropout_is_reproducible_the_same_in_both_backends_and_learns():
    x, y = mnist_shaped(300, seed=4, n_in=50)
    labels = y.argmax(axis=1)
    settings = {"epochs": 2, "learning_rate": 0.3, "batch_size": 7, "momentum": 0.9, "dropout": 0.5,
                    "input_dropout": 0.2, "seed": 3}
    nets = [Network((50, 16, 10), seed=1, backend=b) for b in ("loops", "vectorized", "loops")]
    for net in nets:
        fit(net, x, labels, **settings)
    assert all(np.array_equal(a, b) for a, b in zip(nets[0].weights, nets[2].weights))
    assert max(np.max(np.abs(a - b)) for a, b in zip(nets[0].weights, nets[1].weights)) <= 1e-12
    plain = Network((50, 16, 10), seed=1)
    fit(plain, x, labels, **{**settings, "dropout": 0.0, "input_dropout": 0.0})
    assert max(np.max(np.abs(a - b)) for a, b in zip(nets[0].weights, plain.weights)) > 1e-3

    def task(n, seed):  # a learnable one: class c lights pixel c above the noise
        rng = np.random.default_rng(seed)
        labels = rng.integers(0, 10, n)
        return rng.random((n, 10)) * 0.5 + np.eye(10)[labels] * 0.5, labels

    net = Network((10, 40, 10), seed=0, output="softmax", cost="cross_entropy")
    history = fit(net, *task(1000, 0), epochs=20, learning_rate=0.1, momentum=0.9, dropout=0.5,
                  validation=task(500, 1), seed=0)
    assert history[-1].accuracy > 0.95


def test_dropout_masks_do_not_depend_on_the_chunking(monkeypatch):
    from neuronet import train
    x, y = mnist_shaped(90, seed=1, n_in=6, n_out=3)
    nets = []
    for chunk in (10_000, 8):
        monkeypatch.setattr(train, "CHUNK", chunk)
        nets.append(Network((6, 5, 4, 3), seed=0))
        fit(nets[-1], x, y, epochs=2, learning_rate=0.5, batch_size=4, momentum=0.9,
            dropout=0.5, input_dropout=0.3, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(nets[0].weights, nets[1].weights))


@pytest.mark.parametrize("kwargs,words", [
    ({"dropout": 1.0}, (r"dropout must be a number in \[0, 1\), the chance of dropping a neuron, "
                        r"got 1.0; 0 turns dropout off")),
    ({"input_dropout": -0.1}, r"input_dropout must be a number in \[0, 1\)"),
    ({"dropout": "0.5"}, r"dropout must be a number in \[0, 1\), .* got '0.5'"),
])
def test_fit_rejects_bad_dropout_rates(kwargs, words):
    x, y = mnist_shaped(10, n_in=4, n_out=2)
    net = Network((4, 3, 2), seed=0)
    before = [w.copy() for w in net.weights]
    with pytest.raises(ValueError, match=words):
        fit(net, x, y, epochs=1, learning_rate=0.1, **kwargs)
    assert all(np.array_equal(a, b) for a, b in zip(net.weights, before))


@pytest.mark.parametrize("output,cost", [("sigmoid", "quadratic"), ("softmax", "cross_entropy")])
def test_vectorized_gradients_with_masks_are_those_of_the_thinned_network(output, cost):
    # The twin's allocating backprop (gradients, not the training steps) takes masks too: its
    # gradients must be the thinned network's, by central differences (tests/reference.py).
    x, y = mnist_shaped(5, seed=7, n_in=SHAPE[0], n_out=SHAPE[-1])
    net = Network(SHAPE, seed=4, output=output, cost=cost)
    masks = masks_for(5, SHAPE)
    grad_w, grad_b = BACKENDS["vectorized"].backprop(
        records.parameters(net.weights, net.biases, [], []), x, y, net.model(), masks)
    want_w, want_b = reference.gradients(net.weights, net.biases, x, y, output, cost, masks)
    for got, want in zip(grad_w + grad_b, want_w + want_b):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-8)
