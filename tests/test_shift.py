"""Shifting: ``fit(shift=k)`` trains each step on its image moved by up to k pixels, drawn
from the seed, the same in every backend and whatever the chunking."""
import naive
import numpy as np
import pytest
from helpers import mnist_shaped

from neuronet import Network, fit
from neuronet.train import one_hot, shift_images


def test_shift_images_moves_every_pixel_and_fills_with_zeros():
    rng = np.random.default_rng(0)
    side = 5
    images = rng.random((40, side * side))
    moves = rng.integers(-2, 3, (40, 2))
    moved = shift_images(images, moves, side).reshape(-1, side, side)
    for image, (down, across), got in zip(images.reshape(-1, side, side), moves, moved):
        for r in range(side):
            for c in range(side):
                inside = 0 <= r - down < side and 0 <= c - across < side
                assert got[r, c] == (image[r - down, c - across] if inside else 0)


def test_each_step_trains_on_one_of_the_moved_images():
    # One image, one step per epoch: the step must be the step on one of its 9 moves, and
    # over seeds the moves must vary.
    x, y = mnist_shaped(1, seed=3, n_in=16, n_out=3)
    candidates = {}
    for down in (-1, 0, 1):
        for across in (-1, 0, 1):
            net = Network((16, 5, 3), seed=0)
            moved = shift_images(x, np.array([[down, across]]), 4)
            fit(net, moved, y, epochs=1, learning_rate=2.0, batch_size=1)
            candidates[down, across] = net.weights
    seen = set()
    for seed in range(40):
        net = Network((16, 5, 3), seed=0)
        fit(net, x, y, epochs=1, learning_rate=2.0, batch_size=1, shift=1, seed=seed)
        match = [move for move, weights in candidates.items()
                 if all(np.array_equal(a, b) for a, b in zip(net.weights, weights))]
        assert len(match) == 1
        seen.add(match[0])
    assert seen == set(candidates)  # all nine moves, up, down, left and right


def test_with_shift_each_step_trains_a_moved_image_on_its_own_label(monkeypatch):
    # Record every sample that fit hands to the network with shift on, then check each against
    # the training set: it must be one of the nine moves of one image, trained with that
    # image's label, every image once an epoch; and the network must end as the naive
    # reference does after pure SGD on exactly those pairs, in that order.
    rng = np.random.default_rng(2)
    x, labels = rng.random((30, 36)), rng.integers(0, 4, 30)
    targets = one_hot(labels, 4)
    trained = []
    step = Network.sgd_epoch

    def recording(self, xs, ys, eta, mu, l2, batch_size, order, *rest, **keywords):
        trained.extend(zip(xs[order], ys[order]))
        return step(self, xs, ys, eta, mu, l2, batch_size, order, *rest, **keywords)

    monkeypatch.setattr(Network, "sgd_epoch", recording)
    net = Network((36, 5, 4), seed=0)
    start = Network((36, 5, 4), seed=0)
    fit(net, x, labels, epochs=1, learning_rate=2.0, batch_size=1, shift=1, seed=7)
    moves = np.array([(down, across) for down in (-1, 0, 1) for across in (-1, 0, 1)])
    used = []
    for image, target in trained:
        matches = [i for i in range(len(x))
                   if (shift_images(np.repeat(x[i:i + 1], 9, axis=0), moves, 6) == image)
                   .all(axis=1).any()]
        assert len(matches) == 1
        assert np.array_equal(target, targets[matches[0]])
        used.append(matches[0])
    assert sorted(used) == list(range(len(x)))
    weights = [w.tolist() for w in start.weights]
    biases = [b.tolist() for b in start.biases]
    for image, target in trained:
        grad_w, grad_b = naive.gradients(weights, biases, [image.tolist()], [target.tolist()])
        weights = [(np.array(w) - 2.0 * np.array(g)).tolist() for w, g in zip(weights, grad_w)]
        biases = [(np.array(b) - 2.0 * np.array(g)).tolist() for b, g in zip(biases, grad_b)]
    assert max(np.max(np.abs(np.array(w) - got)) for w, got in zip(weights, net.weights)) <= 1e-12


def test_fit_with_shift_is_reproducible_the_same_in_both_backends_and_chunk_independent(
        monkeypatch):
    from neuronet import train
    x, y = mnist_shaped(90, seed=4, n_in=36)
    settings = {"epochs": 2, "learning_rate": 0.3, "batch_size": 4, "momentum": 0.9, "shift": 2, "seed": 3}
    nets = []
    for backend, chunk in (("loops", 10_000), ("loops", 10_000), ("vectorized", 10_000),
                           ("loops", 8)):
        monkeypatch.setattr(train, "CHUNK", chunk)
        nets.append(Network((36, 12, 10), seed=1, backend=backend))
        fit(nets[-1], x, y, **settings)
    loops, again, vectorized, chunked = (net.weights for net in nets)
    assert all(np.array_equal(a, b) for a, b in zip(loops, again))
    assert all(np.array_equal(a, b) for a, b in zip(loops, chunked))
    assert max(np.max(np.abs(a - b)) for a, b in zip(loops, vectorized)) <= 1e-12
    plain = Network((36, 12, 10), seed=1)
    fit(plain, x, y, **{**settings, "shift": 0})
    assert max(np.max(np.abs(a - b)) for a, b in zip(loops, plain.weights)) > 1e-3


@pytest.mark.parametrize("shape,shift,words", [
    ((16, 3, 2), -1, r"shift must be a whole number of pixels >= 0, got -1; 0 turns shifting off"),
    ((16, 3, 2), 1.0, r"shift must be a whole number of pixels >= 0, got 1.0"),
    ((16, 3, 2), True, r"shift must be a whole number of pixels >= 0, got True"),
    ((16, 3, 2), 4, r"shift must be smaller than the 4-pixel side of the images, got 4"),
    ((15, 3, 2), 1, (r"shift needs square images, but the network has 15 inputs, not a square "
                    r"number; use shift=0 for other data")),
])
def test_fit_rejects_a_bad_shift(shape, shift, words):
    x, y = mnist_shaped(10, n_in=shape[0], n_out=shape[-1])
    net = Network(shape, seed=0)
    before = [w.copy() for w in net.weights]
    with pytest.raises(ValueError, match=words):
        fit(net, x, y, epochs=1, learning_rate=0.1, shift=shift)
    assert all(np.array_equal(a, b) for a, b in zip(net.weights, before))
