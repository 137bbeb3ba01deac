"""SGD one sample at a time by blocks (``blocks.sgd_epoch_blocks``): the first layer's steps applied
``backends.BLOCK`` samples at a time give the steps of the plain kernels of ``loops``, one sample
after the other, to rounding (1e-12 for float64, the bound argued in test_fast.py), in weights,
biases and velocities, with and without momentum and L2.

Epochs shorter than a block, of exactly one, and with a partial last block; every hidden
activation and output; dropout masks; float32; and an epoch split in two calls.
"""

import numba
import numpy as np
import pytest
from helpers import epoch, largest_difference, masks_for, mnist_shaped, parameters

from neuronet import Network, backends, loops
from neuronet.backends import BACKENDS

TOL = 1e-12
TOL_FLOAT32 = 1e-4
JIT = not numba.config.DISABLE_JIT
PLAIN = backends.LoopBackend(loops.KERNELS)
BLOCKS = {"fused": backends.FAST,
          "fused-python": backends.FastBackend(backends.FUSED_PYTHON)}
SAMPLES = [1, 2, backends.BLOCK - 1, backends.BLOCK, 2 * backends.BLOCK + 3]


def trained(backend, shape, samples, activation="sigmoid", output="sigmoid", cost="quadratic",
            dtype="float64", masks=None, momentum=0.0, weight_decay=0.0):
    """The parameters and velocities after one epoch of SGD one sample at a time
    (helpers.epoch)."""
    return parameters(epoch(backend, shape, 1, momentum, weight_decay, output, cost, dtype,
                            samples=samples, activation=activation, masks=masks))


RATES = {"plain": (0.0, 0.0), "l2": (0.0, 1e-2), "momentum": (0.9, 0.0),
         "momentum-l2": (0.9, 1e-2)}


@pytest.mark.parametrize("rates", RATES)
@pytest.mark.parametrize("name", BLOCKS)
@pytest.mark.parametrize("samples", SAMPLES, ids=lambda n: f"{n}samples")
@pytest.mark.parametrize("shape", [(3, 1, 2), (1, 1), (7, 9, 6, 4), (12, 40, 3)],
                         ids=lambda shape: "-".join(map(str, shape)))
def test_blocks_agree_with_one_sample_at_a_time(name, shape, samples, rates):
    momentum, weight_decay = RATES[rates]
    want = trained(PLAIN, shape, samples, momentum=momentum, weight_decay=weight_decay)
    got = trained(BLOCKS[name], shape, samples, momentum=momentum, weight_decay=weight_decay)
    assert largest_difference(got, want) <= TOL
    # and the weights did move: an epoch that changed nothing would pass the line above too
    assert largest_difference(got, parameters(Network(shape, seed=4))) > 1e-3


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("output,cost", [("sigmoid", "cross_entropy"), ("softmax", "quadratic"),
                                         ("softmax", "cross_entropy")])
def test_blocks_with_every_activation_and_output(activation, output, cost):
    args = ((12, 40, 6, 3), 2 * backends.BLOCK + 3, activation, output, cost)
    for momentum, weight_decay in RATES.values():
        rates = {"momentum": momentum, "weight_decay": weight_decay}
        want = trained(PLAIN, *args, **rates)
        # tanh with momentum: the steps amplify rounding, so that the textbook loops compiled
        # (sums reassociated) already end 9e-13 from the same loops as Python; the blocks, a
        # reordering too, must stay within a few times that spread of theirs
        spread = largest_difference(want, trained(BACKENDS["python"], *args, **rates))
        assert largest_difference(trained(backends.FAST, *args, **rates), want) <= max(
            TOL, 4 * spread)


def test_blocks_with_dropout_masks():
    shape, samples = (7, 9, 6, 4), 2 * backends.BLOCK + 3
    masks = masks_for(samples, shape, rate=0.4, seed=2)
    for momentum, weight_decay in RATES.values():
        rates = {"momentum": momentum, "weight_decay": weight_decay}
        got = trained(backends.FAST, shape, samples, masks=masks, **rates)
        want = trained(PLAIN, shape, samples, masks=masks, **rates)
        assert largest_difference(got, want) <= TOL
        assert largest_difference(got, trained(PLAIN, shape, samples, **rates)) > 1e-3  # masked


def test_blocks_in_float32():
    args = ((12, 40, 3), 2 * backends.BLOCK + 3)
    for momentum, weight_decay in RATES.values():
        rates = {"momentum": momentum, "weight_decay": weight_decay}
        got = trained(backends.FAST, *args, dtype="float32", **rates)
        assert got[0].dtype == np.float32  # the first layer's weights
        assert largest_difference(got, trained(PLAIN, *args, **rates)) <= TOL_FLOAT32


@pytest.mark.parametrize("rates", RATES)
def test_an_epoch_split_at_a_block_boundary_gives_the_same_bits(rates):
    # Blocks start with each call: two calls of BLOCK and BLOCK + 3 samples make the blocks of one.
    shape, samples = (12, 40, 3), 2 * backends.BLOCK + 3
    x, y = mnist_shaped(samples, seed=5, n_in=shape[0], n_out=shape[-1])
    order = np.random.default_rng(6).permutation(samples)
    nets = [Network(shape, seed=4) for _ in range(3)]
    splits = ([order], [order[:backends.BLOCK], order[backends.BLOCK:]], [order[:5], order[5:]])
    for net, parts in zip(nets, splits):
        for part in parts:
            net.step(x, y, 0.5, batch_size=1, order=part, momentum=RATES[rates][0],
                     weight_decay=RATES[rates][1])
    assert all(np.array_equal(a, b) for a, b in zip(nets[0].weights + nets[0].velocity_w,
                                                    nets[1].weights + nets[1].velocity_w))
    # elsewhere the blocks differ, and so may the last bits, not more
    assert largest_difference(parameters(nets[0]), parameters(nets[2])) <= TOL
