import os

import naive
import numpy as np
import pytest
import reference
from helpers import mnist_shaped

from neuronet import DivergenceError, Network, fit, load, load_mnist, save
from neuronet.train import one_hot


def blobs(n, seed=0):
    """Two well separated classes in 4 dimensions: any working trainer gets them all right."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    x = rng.normal(0, 0.3, (n, 4)) + labels[:, None] * 1.5
    return x, labels


def scored(net, x, labels):
    """(mean cost, accuracy) of net on x, written out from the definitions (not ``evaluate``)."""
    a = net.predict(x)
    targets = np.eye(net.sizes[-1])[labels]
    costs = [reference.sample_cost(row, y, net.cost, net.output) for row, y in zip(a, targets)]
    return float(np.mean(costs)), float(np.mean(a.argmax(axis=1) == labels))


@pytest.mark.parametrize("backend", ["loops", "vectorized"])
@pytest.mark.parametrize("output,cost", [("sigmoid", "quadratic"), ("softmax", "cross_entropy")])
def test_fit_learns_and_reports_each_epoch(backend, output, cost):
    x, labels = blobs(400)
    x_val, labels_val = blobs(100, seed=1)
    net = Network((4, 8, 2), seed=0, backend=backend, output=output, cost=cost)
    cost_before, accuracy_before = scored(net, x_val, labels_val)
    seen = []
    history = fit(net, x, labels, epochs=3, learning_rate=0.5, batch_size=5, momentum=0.5,
                  weight_decay=1e-4, validation=(x_val, labels_val), seed=0,
                  on_epoch=seen.append)
    assert seen == history
    assert [h.epoch for h in history] == [1, 2, 3]
    # The history scores the held-out set, and the last score is the trained network's.
    assert (history[-1].cost, history[-1].accuracy) == pytest.approx(
        scored(net, x_val, labels_val), rel=1e-12)
    # Untrained, the blobs are 87 % right already (cost 0.31 sigmoid, 0.51 softmax): what
    # training must earn is the cost, 0.0032 and 0.0022 after 3 epochs when measured.
    assert accuracy_before < 1.0
    assert history[-1].accuracy == 1.0
    assert history[-1].cost < 0.02 * cost_before
    assert history[0].cost > history[1].cost > history[2].cost
    assert all(h.seconds > 0 for h in history)


def test_fit_steps_as_the_naive_reference():
    # Two epochs of mini-batches of 4 with momentum, weight decay and a decaying rate, each
    # epoch in the order drawn from the seed: every step replayed with the naive gradients.
    x, labels = blobs(22)
    net, start = Network((4, 3, 2), seed=0), Network((4, 3, 2), seed=0)
    fit(net, x, labels, epochs=2, learning_rate=0.8, decay=0.5, batch_size=4, momentum=0.9,
        weight_decay=1e-2, seed=1)
    targets = np.eye(2)[labels]
    rng = np.random.default_rng(1)
    params = [np.array(p) for p in start.weights + start.biases]
    velocity = [np.zeros_like(p) for p in params]
    for rate in (0.8, 0.4):
        order = rng.permutation(22)
        for first in range(0, 22, 4):
            rows = order[first:first + 4]
            grad_w, grad_b = naive.gradients([p.tolist() for p in params[:2]],
                                             [p.tolist() for p in params[2:]],
                                             x[rows].tolist(), targets[rows].tolist())
            for i, grad in enumerate(grad_w + grad_b):
                l2 = 1e-2 * params[i] if i < 2 else 0  # no decay on biases
                velocity[i] = 0.9 * velocity[i] - rate * (np.array(grad) + l2)
                params[i] = params[i] + velocity[i]
    assert max(np.max(np.abs(a - b)) for a, b in zip(params, net.weights + net.biases)) <= 1e-12


def test_one_hot_by_hand():
    assert one_hot(np.array([2, 0, 1]), 3).tolist() == [[0, 0, 1], [1, 0, 0], [0, 1, 0]]


def test_fit_is_reproducible_and_the_same_in_both_backends():
    x, labels = mnist_shaped(300, seed=4)
    nets = [Network((784, 16, 10), seed=1, backend=b) for b in ("loops", "vectorized", "loops")]
    for net in nets:
        fit(net, x, labels.argmax(axis=1), epochs=2, learning_rate=0.3, batch_size=7, momentum=0.9,
            seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(nets[0].weights, nets[2].weights))
    assert max(np.max(np.abs(a - b)) for a, b in zip(nets[0].weights, nets[1].weights)) <= 1e-12


def test_decay_shrinks_the_learning_rate_each_epoch():
    x, labels = blobs(40)
    decayed, by_hand = Network((4, 3, 2), seed=0), Network((4, 3, 2), seed=0)
    fit(decayed, x, labels, epochs=3, learning_rate=0.8, decay=0.5, batch_size=4, seed=1)
    rng = np.random.default_rng(1)
    for rate in (0.8, 0.4, 0.2):
        by_hand.step(x, one_hot(labels, 2), rate, batch_size=4, order=rng.permutation(40))
    assert all(np.array_equal(a, b) for a, b in zip(decayed.weights, by_hand.weights))


def test_chunked_training_equals_one_pass(monkeypatch):
    # fit checks the parameters every CHUNK steps; the chunks must not change the arithmetic.
    from neuronet import train
    x, labels = blobs(90)
    whole, chunked = Network((4, 3, 2), seed=0), Network((4, 3, 2), seed=0)
    fit(whole, x, labels, epochs=1, learning_rate=0.5, batch_size=4, momentum=0.9, seed=1)
    monkeypatch.setattr(train, "CHUNK", 10)
    fit(chunked, x, labels, epochs=1, learning_rate=0.5, batch_size=4, momentum=0.9, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(whole.weights, chunked.weights))


def first_bad_step(net, x, labels, seed, batch_size, **settings):
    """The step and layer where plain stepping, one mini-batch at a time, first goes non-finite."""
    order = np.random.default_rng(seed).permutation(len(x))  # fit's first epoch order
    targets = one_hot(labels, net.sizes[-1])
    for step, start in enumerate(range(0, len(x), batch_size), start=1):
        net.step(x, targets, batch_size=batch_size, order=order[start:start + batch_size],
                 **settings)
        for layer, (w, b) in enumerate(zip(net.weights, net.biases)):
            if not (np.isfinite(w).all() and np.isfinite(b).all()):
                return step, layer
    raise AssertionError("these settings do not diverge")


@pytest.mark.parametrize("chunk", [8, 2000])
def test_divergence_names_epoch_step_and_layer(monkeypatch, chunk):
    from neuronet import train
    monkeypatch.setattr(train, "CHUNK", chunk)
    x, labels = blobs(100)
    # Softmax with cross-entropy keeps delta = a - y from vanishing as sigmoids saturate, so
    # with momentum a learning rate of 1e307 overflows after tens of steps (42 when measured).
    make = lambda: Network((4, 3, 2), seed=0, output="softmax", cost="cross_entropy")
    settings = {"learning_rate": 1e307, "batch_size": 2, "momentum": 0.9}
    with np.errstate(all="ignore"):
        step, layer = first_bad_step(make(), x, labels, seed=5, **settings)
        assert step > 8  # past the first chunk when chunks are small
        with pytest.raises(DivergenceError, match=rf"training diverged at epoch 1, step {step} "
                                                  rf"\(of the epoch\): layer {layer}'s weights"):
            fit(make(), x, labels, epochs=2, seed=5, **settings)


@pytest.mark.parametrize("kwargs,error,words", [
    ({"epochs": 0, "learning_rate": 0.1}, ValueError, "epochs must be an integer >= 1, got 0"),
    ({"epochs": 1, "learning_rate": -1.0}, ValueError, "learning_rate must be finite and > 0"),
    ({"epochs": 1, "learning_rate": 0.1, "batch_size": 0}, ValueError, "batch_size must be an integer"),
    ({"epochs": 1, "learning_rate": 0.1, "decay": 1.5}, ValueError, r"decay must be in \(0, 1\], got 1.5"),
    ({"epochs": 1, "learning_rate": 0.1, "decay": 0}, ValueError, "decay must be finite and > 0"),
])
def test_fit_bad_settings(kwargs, error, words):
    x, labels = blobs(10)
    with pytest.raises(error, match=words):
        fit(Network((4, 2)), x, labels, **kwargs)


def test_labels_are_checked():
    with pytest.raises(ValueError, match="labels from 0 to 9, but the network has 2 outputs"):
        one_hot(np.arange(10), 2)
    with pytest.raises(TypeError, match="integer class labels"):
        one_hot(np.array([0.5, 1.0]), 2)
    with pytest.raises(ValueError, match="x has 10 samples but y has 9"):
        fit(Network((4, 2)), blobs(10)[0], np.zeros(9, dtype=int), epochs=1, learning_rate=0.1)


def test_save_and_load_round_trip(tmp_path):
    net = Network((5, 4, 3), seed=2, output="softmax", cost="cross_entropy")
    path = tmp_path / "net.npz"
    save(net, path)
    assert os.listdir(tmp_path) == ["net.npz"]  # no temporary file left behind
    again = load(path, backend="vectorized")
    assert (again.sizes, again.output, again.cost, again.backend) == \
        (net.sizes, "softmax", "cross_entropy", "vectorized")
    x = np.random.default_rng(0).random((3, 5))
    assert all(np.array_equal(a, b) for a, b in zip(again.weights + again.biases,
                                                   net.weights + net.biases))
    assert np.max(np.abs(again.predict(x) - net.predict(x))) <= 1e-15


def _write(path, **arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)


@pytest.mark.parametrize("change,words", [
    (lambda a: a.pop("biases_1"), r"expected entries .*'biases_1'"),
    (lambda a: a.update(extra=np.zeros(1)), r"found .*'extra'"),
    (lambda a: a.update(weights_1=np.zeros((3, 3))), (r"'weights_1' must be float64 of shape \(3, 4\), "
                                                     r"found float64 of shape \(3, 3\)")),
    (lambda a: a.update(biases_0=np.zeros(4, dtype=np.float32)), "'biases_0' must be float64"),
    (lambda a: a.update(weights_0=np.zeros((4, 5), dtype=int)), "'weights_0' must be float64 or float32"),
    (lambda a: a.update(sizes=np.array([5, 0, 3])), "'sizes' must be at least two integers >= 1"),
    (lambda a: a.update(output=np.array("relu")), "'output' must be one of"),
    (lambda a: a.update(weights_0=np.full((4, 5), np.nan)), "'weights_0' holds NaN"),
])
def test_load_rejects_bad_files(tmp_path, change, words):
    net = Network((5, 4, 3), seed=0)
    arrays = {"sizes": np.array(net.sizes), "output": np.array("sigmoid"),
              "cost": np.array("quadratic")}
    for layer in range(2):
        arrays[f"weights_{layer}"], arrays[f"biases_{layer}"] = net.weights[layer], net.biases[layer]
    change(arrays)
    path = tmp_path / "bad.npz"
    _write(path, **arrays)
    with pytest.raises(ValueError, match=words) as info:
        load(path)
    assert str(path) in str(info.value)


def test_load_refuses_pickles_and_garbage(tmp_path):
    pickled = tmp_path / "pickled.npz"
    _write(pickled, sizes=np.array([object()], dtype=object))
    with pytest.raises(ValueError, match="pickled.npz is not a neuronet network file"):
        load(pickled)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError, match="cannot read it as .npz"):
        load(garbage)
    with pytest.raises(FileNotFoundError, match="no such network file"):
        load(tmp_path / "missing.npz")


@pytest.mark.data
@pytest.mark.slow
def test_one_epoch_on_real_mnist_reaches_93_percent(mnist_folder):
    # The post's network done right (Nielsen's settings): 784-30-10, sigmoid, quadratic cost,
    # mini-batches of 10, learning rate 3.0. One epoch on the 60,000; scored on the 10,000.
    (x, y), (x_test, y_test) = load_mnist(mnist_folder, download=False)
    net = Network((784, 30, 10), seed=0)
    history = fit(net, x, y, epochs=1, learning_rate=3.0, batch_size=10, seed=0,
                  validation=(x_test, y_test))
    # 94.11 % when measured (seed 0); Nielsen's book reports about 90 to 95 % after one epoch.
    assert history[0].accuracy >= 0.93
    cost, accuracy = scored(net, x_test, y_test)
    assert history[0].accuracy == accuracy
    assert history[0].cost == pytest.approx(cost, rel=1e-9)
