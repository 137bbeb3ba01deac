"""Activations and costs, shared by every backend.

Each function comes in the two spellings the backends need: a scalar (or one-row) kernel that the
loop backends call per neuron, compiled by numba where it is called from compiled code and plain
Python where it is not, and an array form for the vectorized backend. Both spellings use the same
formula, so they round the same way.

The sigmoid is the one the original post lacked: ``1 / (1 + exp(-z))`` overflows for z below about
-709, so each branch only ever takes ``exp`` of a non-positive number.

Hidden layers use one of three activations, output layers the sigmoid or the softmax. Each
derivative is taken from the activation a = f(z), not from z, so backpropagation needs no z:

    sigmoid  f(z) = 1 / (1 + e^{-z})   f'(z) = a (1 - a)
    tanh     f(z) = tanh z             f'(z) = 1 - a^2
    relu     f(z) = max(z, 0)          f'(z) = 1 if a > 0 else 0

ReLU has a kink at z = 0, where it has no derivative: every backend takes 0 there (as PyTorch
does), which is what "1 if a > 0" gives, since a = 0 for every z <= 0.
"""
import math

import numpy as np
from numba.extending import register_jitable

# Costs are passed to the kernels as small integers: numba compiles one branch on an int cheaply.
QUADRATIC = 0
CROSS_ENTROPY = 1
COSTS = {"quadratic": QUADRATIC, "cross_entropy": CROSS_ENTROPY}
# Activations likewise: the first three for hidden layers, sigmoid or softmax for the output.
SIGMOID, TANH, RELU, SOFTMAX = 0, 1, 2, 3
ACTIVATIONS = {"sigmoid": SIGMOID, "tanh": TANH, "relu": RELU}
OUTPUTS = ("sigmoid", "softmax")


@register_jitable
def sigmoid(z):
    r"""sigma(z) = 1 / (1 + e^{-z}), computed as e^{z} / (1 + e^{z}) for z < 0 so exp never overflows."""
    if z >= 0:
        e = math.exp(-z)
        return 1 / (1 + e)
    e = math.exp(z)
    return e / (1 + e)


def sigmoid_array(z, out=None):
    r"""The same sigmoid, element-wise on an array, its two branches in one formula:

        sigma(z) = e^{min(z, 0)} / (1 + e^{-|z|})

    for z >= 0 the numerator is e^0 = 1, for z < 0 the denominator's e^{-|z|} is e^{z}; neither
    exp sees a positive number. ``out`` (z itself, say) saves the result's allocation.

    Not ``scipy.special.expit``: for 100 x 100 values in place it took 58.8 us on this project's
    machine against 35.7 us for this (`python benchmarks/checks.py --pieces`, best of 15 x 300).
    """
    denominator = 1 + np.exp(-np.abs(z))
    numerator = np.exp(np.minimum(z, 0, out=out), out=out)
    return np.divide(numerator, denominator, out=numerator)


@register_jitable
def activation(z, kind):
    """f(z) for a hidden neuron: the sigmoid, tanh z or max(z, 0), by ``kind``."""
    if kind == TANH:
        return math.tanh(z)
    if kind == RELU:
        return z if z > 0 else z * 0  # a zero of z's dtype
    return sigmoid(z)


def activation_array(z, kind, out=None):
    """The same, element-wise on an array (``out``: where to write it, z itself say)."""
    if kind == TANH:
        return np.tanh(z, out=out)
    if kind == RELU:
        return np.maximum(z, 0, out=out)
    return sigmoid_array(z, out=out)


@register_jitable
def layer_kind(layer, last, softmax, kind):
    """The activation of layer ``layer`` of weights (0 to ``last``): ``kind`` for a hidden
    layer, the softmax or the sigmoid for the output layer."""
    if layer < last:
        return kind
    return SOFTMAX if softmax else SIGMOID


@register_jitable
def prime(a, kind):
    r"""f'(z) from the activation a = f(z): a (1 - a), 1 - a^2, or 1 if a > 0 else 0 (relu;
    0 at the kink z = 0)."""
    if kind == TANH:
        return 1 - a * a
    if kind == RELU:
        return 1.0 if a > 0 else 0.0
    return a * (1 - a)


@register_jitable
def prime_kept(a, m, kind):
    r"""m f'(z) for a neuron under dropout, from its output a = m f(z) (m: 0 for a dropped
    neuron, through which no error flows back, 1/p for a kept one):

        sigmoid  m sigma (1 - sigma) = a (1 - a / m)
        tanh     m (1 - tanh^2)      = m - a^2 / m
        relu     m [z > 0]           = m if a > 0 else 0
    """
    if m == 0:
        return a * 0
    if kind == TANH:
        return m - a * a / m
    if kind == RELU:
        return m if a > 0 else a * 0
    return a * (1 - a / m)


def prime_array(a, kind, out=None):
    """``prime`` element-wise, into ``out`` if given."""
    if kind == TANH:
        out = np.multiply(a, a, out=out)
        return np.subtract(1, out, out=out)
    if kind == RELU:
        return np.greater(a, 0, out=out) if out is not None else (a > 0).astype(a.dtype)
    out = np.subtract(1, a, out=out)
    return np.multiply(out, a, out=out)


def prime_kept_array(a, m, kind):
    """``prime_kept`` element-wise: 0 where m == 0."""
    kept = m != 0
    safe = np.where(kept, m, 1)
    if kind == TANH:
        value = safe - a * a / safe
    elif kind == RELU:
        value = np.where(a > 0, safe, 0)
    else:
        value = a * (1 - a / safe)
    return np.where(kept, value, 0).astype(a.dtype, copy=False)


@register_jitable
def sigmoid_prime(a):
    r"""sigma'(z) from the activation a = sigma(z): sigma' = a (1 - a), no second exp."""
    return a * (1 - a)


@register_jitable
def softmax_row(z, a):
    r"""a[j] = e^{z[j] - m} / sum_i e^{z[i] - m}, with m = max z so no exp overflows."""
    m = z[0]
    for j in range(1, z.shape[0]):
        m = max(m, z[j])
    total = z[0] * 0  # a zero of z's dtype
    for j in range(z.shape[0]):
        a[j] = math.exp(z[j] - m)
        total += a[j]
    for j in range(z.shape[0]):
        a[j] /= total


def softmax_array(z):
    """The same softmax over the last axis of an array."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@register_jitable
def sample_cost(a, y, kind, softmax):
    r"""``cost`` of one sample, output row a and target row y, as a loop (the compiled kernels
    return it, so a one-sample step needs no numpy calls for its error); the same formulas."""
    tiny = np.finfo(a.dtype).tiny
    total = a[0] * 0  # a zero of a's dtype
    for j in range(a.shape[0]):
        if kind == QUADRATIC:
            total += (a[j] - y[j]) ** 2
        elif softmax:
            total -= y[j] * math.log(max(a[j], tiny))
        else:
            total -= y[j] * math.log(max(a[j], tiny)) + (1 - y[j]) * math.log(max(1 - a[j], tiny))
    return 0.5 * total if kind == QUADRATIC else total


def cost(a, y, kind, output):
    r"""Cost of each sample (rows of a and y), as the backward pass differentiates it.

    quadratic:      C = 1/2 sum_j (a_j - y_j)^2
    cross-entropy:  C = -sum_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)]  (sigmoid output)
                    C = -sum_j y_j ln a_j                           (softmax output)
    """
    if kind == QUADRATIC:
        return 0.5 * np.sum((a - y) ** 2, axis=-1)
    # a can round to exactly 0 or 1; clipping keeps the log finite where y makes the term vanish.
    tiny = np.finfo(a.dtype).tiny
    if output == "softmax":
        return -np.sum(y * np.log(np.maximum(a, tiny)), axis=-1)
    return -np.sum(y * np.log(np.maximum(a, tiny)) + (1 - y) * np.log(np.maximum(1 - a, tiny)), axis=-1)
