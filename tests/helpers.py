"""The helpers the test modules share: data of MNIST's shapes, one epoch of a backend's SGD
kernel and its reference, the arrays a step changes and how far apart two lists of them are,
and the command line run in-process. Fixtures live in conftest.py; test modules import these
as ``from helpers import ...`` (pytest puts this folder on the import path, as for ``naive``).
"""
import struct

import numpy as np
import reference

from neuronet import Network, records
from neuronet.cli import main
from neuronet.rules import ADAM, SGD_RULE, settings
from neuronet.train import dropout_masks


def mnist_shaped(n, seed=0, n_in=784, n_out=10):
    """Random images in [0, 1] with one-hot targets: the shapes of MNIST without its content."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, n_in))
    y = np.eye(n_out)[rng.integers(0, n_out, n)]
    return x, y


def parameters(net):
    """Everything an SGD step changes: weights, biases and velocities, as one list of arrays."""
    return net.weights + net.biases + net.velocity_w + net.velocity_b


def everything(net):
    """Every array a step changes, in a fixed order: ``parameters`` and Adam's squares and step
    count."""
    return parameters(net) + net.squares_w + net.squares_b + [net.adam_steps]


def largest_difference(arrays_a, arrays_b):
    """The largest |a - b| over pairs of arrays, computed in float64 (so a float32 array is
    compared exactly with its float64 twin)."""
    return max(float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
               for a, b in zip(arrays_a, arrays_b))


def masks_for(samples, shape, rate=0.4, seed=2, dtype=np.float64):
    """Dropout masks for ``samples`` samples: each layer of inputs and hidden neurons of
    ``shape`` dropped at ``rate`` (``neuronet.train.dropout_masks``)."""
    rngs = np.random.default_rng(seed).spawn(len(shape) - 1)
    return dropout_masks(rngs, samples, shape, (rate,) * (len(shape) - 1), dtype)


def epoch(backend, shape, batch_size, momentum, weight_decay, output="sigmoid", cost="quadratic",
          dtype="float64", *, samples=11, activation="sigmoid", masks=None, learning_rate=0.5,
          nan_unused_velocities=False):
    """A network after one epoch of ``backend``'s SGD kernel: ``Network(shape, seed=4)`` with
    the given activation, output, cost and dtype, stepping over ``samples`` samples of
    ``mnist_shaped`` (seed 5) in a shuffled order (seed 6).

    masks: dropout masks, row i for the i-th sample visited. nan_unused_velocities: with no
    momentum the velocities start as NaN, so a kernel that read them would spread NaN into the
    weights.
    """
    x, y = mnist_shaped(samples, seed=5, n_in=shape[0], n_out=shape[-1])
    x, y = x.astype(dtype), y.astype(dtype)
    order = np.random.default_rng(6).permutation(samples)
    net = Network(shape, seed=4, activation=activation, output=output, cost=cost, dtype=dtype)
    if nan_unused_velocities and momentum == 0:
        for velocity in net.velocity_w + net.velocity_b:
            velocity[...] = np.nan
    run_epoch(backend, net, x, y, order, batch_size, learning_rate, momentum, weight_decay,
              masks=masks)
    return net


def run_epoch(backend, net, x, y, order, batch_size, eta, mu, l2, *, masks=None, rule=SGD_RULE,
              work=None):
    """``backend.sgd_epoch`` on net's parameters (its cost, output and activation), in place;
    returns what it returns."""
    adam = (net.squares_w, net.squares_b, net.adam_steps) if rule.solver == ADAM else None
    params = records.parameters(net.weights, net.biases, net.velocity_w, net.velocity_b, adam)
    return backend.sgd_epoch(params, x, y, np.asarray(order, np.int64), batch_size,
                             settings(eta, mu, l2, rule, np.dtype(x.dtype)), net.model(), masks,
                             {} if work is None else work)


def reference_epoch(shape, batch_size, momentum, weight_decay, output, cost, *, samples=11,
                    masks=None):
    """``parameters(epoch(...))`` (sigmoid hidden layers, learning rate 0.5) computed by
    ``reference``: the same data, order and start, numerical gradients."""
    x, y = mnist_shaped(samples, seed=5, n_in=shape[0], n_out=shape[-1])
    order = np.random.default_rng(6).permutation(samples)
    net = Network(shape, seed=4)
    weights, biases, v_w, v_b = reference.sgd_epoch(net.weights, net.biases, x, y, order,
                                                    batch_size, 0.5, momentum, weight_decay,
                                                    output=output, cost_name=cost, masks=masks)
    return weights + biases + v_w + v_b


def write_idx(path, array):
    """Write a uint8 array as an IDX file: magic 0x0000080N (N dimensions), sizes, bytes."""
    array = np.asarray(array, dtype=np.uint8)
    with open(path, "wb") as f:
        f.write(struct.pack(">I", 0x0800 | array.ndim))
        f.write(struct.pack(f">{array.ndim}i", *array.shape))
        f.write(array.tobytes())


def run(capsys, *argv):
    """(exit code, stdout, stderr) of ``neuronet argv...``."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit:  # argparse's own exits: --help, bad options
        code = exit.code
    out, err = capsys.readouterr()
    return code, out, err
