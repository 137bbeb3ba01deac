"""The named records the kernels take, and the aligned arrays they hold.

A kernel reads its arguments by name: ``params.weights[layer]``, ``work.deltas[layer]``,
``model.cost``. numba compiles a ``typing.NamedTuple`` of arrays and numbers as a struct, so a
field costs no more than an argument of its own (the records of ``rules.Settings`` likewise).

- ``Parameters``: a network's parameters and its update rule's state, a tuple of arrays each;
- ``Model``: what the network computes (cost, output, hidden activation), as the kernels' codes;
- ``Layer``: one layer's arrays out of ``Parameters`` (``layer_of``).

Work arrays start on a cache line (``aligned_empty``).
"""
from typing import NamedTuple

import numpy as np
from numba.extending import register_jitable


class Parameters(NamedTuple):
    """A network's parameters, one array per layer each. Where the rule is not Adam, the
    velocities stand in for its second moments and ``steps`` is a spare counter
    (``NO_STEPS``): the kernels take them and leave them alone."""
    weights: tuple
    biases: tuple
    velocity_w: tuple
    velocity_b: tuple
    squares_w: tuple   # Adam's running averages of squared gradients
    squares_b: tuple
    steps: np.ndarray  # Adam's count of steps t, one int64, counted in place


class Model(NamedTuple):
    """What a network computes: its cost (``activations.COSTS``), whether its output is the
    softmax, and its hidden layers' activation (``activations.ACTIVATIONS``)."""
    cost: int
    softmax: bool
    kind: int


class Layer(NamedTuple):
    """Layer ``layer``'s parameters out of ``Parameters``: w[j, k], b[j] and their state."""
    w: np.ndarray
    b: np.ndarray
    v_w: np.ndarray
    v_b: np.ndarray
    s_w: np.ndarray
    s_b: np.ndarray


@register_jitable
def layer_of(params, layer):
    """Layer ``layer`` of ``params`` as a ``Layer``."""
    return Layer(params.weights[layer], params.biases[layer], params.velocity_w[layer],
                 params.velocity_b[layer], params.squares_w[layer], params.squares_b[layer])


# Adam's step count where the rule is not Adam: the kernels take it and never touch it, so one
# array serves every call (a fresh one was an allocation per one-sample step).
NO_STEPS = np.zeros(1, np.int64)


def parameters(weights, biases, velocity_w, velocity_b, adam=None):
    """``Parameters`` of these lists; ``adam``: (squares_w, squares_b, steps), Adam's state,
    which the velocities and ``NO_STEPS`` stand in for where it is not given."""
    squares_w, squares_b, steps = adam if adam is not None else (velocity_w, velocity_b, NO_STEPS)
    return Parameters(tuple(weights), tuple(biases), tuple(velocity_w), tuple(velocity_b),
                      tuple(squares_w), tuple(squares_b), steps)


def aligned_empty(shape, dtype, align=64):
    """An uninitialised C-contiguous array whose data starts on an ``align``-byte boundary.

    numpy only promises 16 bytes, and vector loads that straddle cache lines cost: parameters 8
    bytes off a line made the fused epoch 1.02 to 1.19x slower (``benchmarks/checks.py``).
    """
    dtype = np.dtype(dtype)
    size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(size + align, np.uint8)
    offset = -raw.ctypes.data % align
    return raw[offset:offset + size].view(dtype).reshape(shape)


def aligned_copy(array, align=64):
    """``array`` copied into a fresh aligned buffer (see ``aligned_empty``)."""
    out = aligned_empty(array.shape, array.dtype, align)
    out[...] = array
    return out


def no_masks(weights, dtype):
    """Dropout masks that drop nothing: one with no rows for the inputs and each hidden layer."""
    return tuple(np.ones((0, w.shape[1]), dtype) for w in weights)


def layer_buffers(weights, rows, dtype):
    """zs, activations and deltas for ``rows`` samples (what a forward pass needs)."""
    sizes = [weights[0].shape[1]] + [w.shape[0] for w in weights]
    zs = tuple(aligned_empty((rows, n), dtype) for n in sizes[1:])
    activations = tuple(aligned_empty((rows, n), dtype) for n in sizes)
    deltas = tuple(aligned_empty((rows, n), dtype) for n in sizes[1:])
    return zs, activations, deltas


class Signals(NamedTuple):
    """What one layer's backward pass reads and writes besides its parameters: its error
    delta[s, j], its inputs a_prev[s, k], the previous layer's error delta_prev[s, k] to form
    (BP2), that layer's dropout mask rows (none: no dropout), and the next batch's inputs a_next
    with their z_next to form from the new weights (the first layer only; no rows elsewhere)."""
    delta: np.ndarray
    a_prev: np.ndarray
    delta_prev: np.ndarray
    mask_prev: np.ndarray
    a_next: np.ndarray
    z_next: np.ndarray
