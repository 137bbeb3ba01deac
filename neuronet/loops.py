r"""Backpropagation as loops over neurons and weights, the way the textbook draws it.

Layer ``layer`` has weights ``w`` of shape (n_out, n_in): ``w[j, k]`` joins neuron k of the
previous layer to neuron j of this one. Rows of ``a_prev``, ``z``, ``a`` and ``delta`` are the
samples of a mini-batch (one row for the post's pure SGD). With z = w a_prev + b, a = f(z) (f the
hidden layers' activation, the sigmoid or the softmax at the output), C the cost averaged over
the batch and delta = dC/dz, the four equations of backpropagation are

    BP1  delta^L[j]     = dC/da^L[j] * sigma'(z^L[j])                  (output_delta)
    BP2  delta^l[k]     = (sum_j w^{l+1}[j, k] delta^{l+1}[j]) * f'(z^l[k])       (backward)
    BP3  dC/db^l[j]     = delta^l[j]                                   (backward)
    BP4  dC/dw^l[j, k]  = delta^l[j] * a^{l-1}[k]                      (backward)

each averaged over the samples of the batch; f' comes from the activation a = f(z)
(``activations.prime``): a (1 - a) for the sigmoid, 1 - a^2 for tanh, 1 if a > 0 else 0 for
relu (0 at its kink, z = 0). The update with momentum is v <- mu v - eta (grad + l2 w),
w <- w + v (``update``); Nesterov's momentum and Adam have kernels of their own beside it
(``update_nesterov``, ``update_adam``; the rules are written out in ``rules``).

Dropout, in training only: ``masks[layer]`` holds a row for each sample of the epoch with, for
each neuron of layer ``layer`` (inputs or hidden), 0 to drop it or 1/p to keep it (p the chance
of keeping). A dropped neuron's activation is 0, so it feeds nothing forward and its weights get
no gradient, and BP2 multiplies by m f'(z) (``prime_kept``). A mask with no rows drops nothing.
Scaling the kept neurons by 1/p keeps each layer's expected input the same, so the trained
network predicts with every neuron, unscaled.

Every function here is plain Python, so it can be run and stepped through in a debugger (the
``"python"`` backend). ``KERNELS`` holds the same functions compiled by numba (``"loops-plain"``;
``"loops"`` runs the fused kernels of ``fast``, built on these), ``STRICT`` the same compiled
without reassociation (``"strict"``); ``register_jitable`` lets compiled code call a plain
function by compiling it too. This module imports nothing faster than itself.
The loops go neuron by neuron with the batch inside, so each weight row is read once per batch.
"""
import math
from types import SimpleNamespace

import numpy as np
from numba.extending import register_jitable

from .activations import (CROSS_ENTROPY, SIGMOID, SOFTMAX, activation, layer_kind, prime,
                          prime_kept, sigmoid_prime, softmax_row)
from .jit import njit
from .rules import ADAM, NESTEROV, SGD_RULE


@register_jitable
def forward(w, b, a_prev, z, a, kind):
    r"""Feed one layer forward: z[s, j] = b[j] + sum_k w[j, k] a_prev[s, k], a = f(z), f the
    activation ``kind`` (``activations.SIGMOID``, ``TANH``, ``RELU`` or ``SOFTMAX``)."""
    n_out, n_in = w.shape
    for j in range(n_out):
        for s in range(a_prev.shape[0]):
            total = b[j]
            for k in range(n_in):
                total += w[j, k] * a_prev[s, k]
            z[s, j] = total
    for s in range(a_prev.shape[0]):
        if kind == SOFTMAX:
            softmax_row(z[s], a[s])
        else:
            for j in range(n_out):
                a[s, j] = activation(z[s, j], kind)


@register_jitable
def output_delta(a, y, delta, cost, softmax):
    r"""BP1, the output layer's error delta[s, j] = dC/dz[s, j].

    cross-entropy (sigmoid or softmax):  delta = a - y            (sigma' cancels)
    quadratic, sigmoid:                  delta = (a - y) a (1 - a)
    quadratic, softmax:                  delta[j] = a[j] ((a[j] - y[j]) - sum_i (a[i] - y[i]) a[i])
    """
    for s in range(a.shape[0]):
        if cost == CROSS_ENTROPY:
            for j in range(a.shape[1]):
                delta[s, j] = a[s, j] - y[s, j]
        elif softmax:
            dot = a[s, 0] * 0
            for i in range(a.shape[1]):
                dot += (a[s, i] - y[s, i]) * a[s, i]
            for j in range(a.shape[1]):
                delta[s, j] = a[s, j] * ((a[s, j] - y[s, j]) - dot)
        else:
            for j in range(a.shape[1]):
                delta[s, j] = (a[s, j] - y[s, j]) * sigmoid_prime(a[s, j])


@register_jitable
def copy_row(source, target):
    """target[k] = source[k]: a loop, where ``target[:] = source`` would make numba check the two
    for overlap and keep a reference count on each."""
    for k in range(target.shape[0]):
        target[k] = source[k]


@register_jitable
def drop(a, mask):
    """Dropout: a[s, k] *= mask[s, k], 0 to drop neuron k for sample s, 1/p to keep it."""
    if mask.shape[0]:
        for s in range(a.shape[0]):
            for k in range(a.shape[1]):
                a[s, k] *= mask[s, k]


@register_jitable
def drop_layer(activations, masks, layer, first, n):
    """``drop`` on activations[layer][:n] with mask rows first to first + n, if the layer has a
    mask (inputs and hidden layers do; the output layer does not)."""
    if layer < len(masks):
        drop(activations[layer][:n], masks[layer][first:first + n])


@register_jitable
def hidden_prime(a, mask, s, k, kind):
    r"""f'(z[s, k]) from the activation a[s, k], times the dropout mask when there is one."""
    if mask.shape[0]:
        return prime_kept(a[s, k], mask[s, k], kind)
    return prime(a[s, k], kind)


@register_jitable
def backward(w, delta, a_prev, grad_w, grad_b, delta_prev, hidden, mask_prev, kind):
    r"""Carry the error back through one layer.

    BP3, BP4:  grad_b[j] = mean_s delta[s, j],  grad_w[j, k] = mean_s delta[s, j] a_prev[s, k]
    BP2 (when the previous layer is hidden), the weighted error of each previous neuron k:
               delta_prev[s, k] = (sum_j w[j, k] delta[s, j]) * f'(z_prev[s, k])
    with f' from a_prev (``activations.prime`` of activation ``kind``; sigmoid: a (1 - a)), times
    the dropout mask m[s, k] of the previous layer if ``mask_prev`` has rows.
    """
    n_out, n_in = w.shape
    n = delta.shape[0]
    if hidden:
        delta_prev[:, :] = 0
    for j in range(n_out):
        grad_b[j] = 0
        grad_w[j, :] = 0
        for s in range(n):
            d = delta[s, j]
            grad_b[j] += d
            for k in range(n_in):
                grad_w[j, k] += d * a_prev[s, k]
                if hidden:
                    delta_prev[s, k] += w[j, k] * d
        # n as the arrays' dtype: an int count would make float32 divisions float64 ones
        n_float = w.dtype.type(n)
        grad_b[j] /= n_float
        for k in range(n_in):
            grad_w[j, k] /= n_float
    if hidden:
        for s in range(n):
            for k in range(n_in):
                delta_prev[s, k] *= hidden_prime(a_prev, mask_prev, s, k, kind)


@register_jitable
def update(w, b, grad_w, grad_b, v_w, v_b, eta, mu, l2):
    r"""Momentum SGD on one layer: v <- mu v - eta (grad + l2 w), w <- w + v (biases: no l2).

    With mu == 0 that is plain SGD, w <- w - eta (grad + l2 w), and the velocity is neither
    read nor written (it would only hold the last step's change).
    """
    n_out, n_in = w.shape
    if mu == 0:
        for j in range(n_out):
            for k in range(n_in):
                w[j, k] -= eta * (grad_w[j, k] + l2 * w[j, k])
            b[j] -= eta * grad_b[j]
        return
    for j in range(n_out):
        for k in range(n_in):
            v_w[j, k] = mu * v_w[j, k] - eta * (grad_w[j, k] + l2 * w[j, k])
            w[j, k] += v_w[j, k]
        v_b[j] = mu * v_b[j] - eta * grad_b[j]
        b[j] += v_b[j]


@register_jitable
def update_nesterov(w, b, grad_w, grad_b, v_w, v_b, eta, mu, l2):
    r"""Nesterov's momentum on one layer (scikit-learn's form), with step = -eta (grad + l2 w):
    v <- mu v + step, w <- w + mu v + step (the new v; biases: no l2)."""
    n_out, n_in = w.shape
    for j in range(n_out):
        for k in range(n_in):
            step = -eta * (grad_w[j, k] + l2 * w[j, k])
            v_w[j, k] = mu * v_w[j, k] + step
            w[j, k] += mu * v_w[j, k] + step
        step = -eta * grad_b[j]
        v_b[j] = mu * v_b[j] + step
        b[j] += mu * v_b[j] + step


@register_jitable
def adam_change(g, m, s, eta_t, beta_1, beta_2, epsilon):
    r"""Adam for one parameter with gradient g: the new moments m <- beta_1 m + (1 - beta_1) g
    and s <- beta_2 s + (1 - beta_2) g^2, and the change of the parameter,
    -eta_t m / (sqrt(s) + epsilon), eta_t the bias-corrected learning rate (``update_adam``)."""
    m = beta_1 * m + (1 - beta_1) * g
    s = beta_2 * s + (1 - beta_2) * g * g
    return -eta_t * m / (math.sqrt(s) + epsilon), m, s


@register_jitable
def adam_rate(eta, rule, t):
    r"""Adam's bias-corrected learning rate at step t: eta sqrt(1 - beta_2^t) / (1 - beta_1^t)."""
    _, beta_1, beta_2, _ = rule
    return eta * math.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)


@register_jitable
def update_adam(w, b, grad_w, grad_b, m_w, m_b, s_w, s_b, eta, l2, rule, t):
    r"""Adam on one layer at step t (from 1): each weight with g = grad + l2 w (``adam_change``;
    biases: no l2), its first moment in m_w, its second in s_w, at the learning rate
    eta_t = eta sqrt(1 - beta_2^t) / (1 - beta_1^t)."""
    _, beta_1, beta_2, epsilon = rule
    eta_t = adam_rate(eta, rule, t)
    n_out, n_in = w.shape
    for j in range(n_out):
        for k in range(n_in):
            change, m, s = adam_change(grad_w[j, k] + l2 * w[j, k], m_w[j, k], s_w[j, k],
                                       eta_t, beta_1, beta_2, epsilon)
            w[j, k] += change
            m_w[j, k], s_w[j, k] = m, s
        change, m, s = adam_change(grad_b[j], m_b[j], s_b[j], eta_t, beta_1, beta_2, epsilon)
        b[j] += change
        m_b[j], s_b[j] = m, s


@register_jitable
def update_layers(weights, biases, grad_w, grad_b, v_w, v_b, s_w, s_b, eta, mu, l2, rule, steps):
    """One step of the update rule ``rule`` (``rules.Rule``) on every layer; Adam counts its
    steps in steps[0]."""
    solver = rule[0]
    if solver == ADAM:
        steps[0] += 1
    for layer in range(len(weights)):
        if solver == ADAM:
            update_adam(weights[layer], biases[layer], grad_w[layer], grad_b[layer], v_w[layer],
                        v_b[layer], s_w[layer], s_b[layer], eta, l2, rule, steps[0])
        elif solver == NESTEROV:
            update_nesterov(weights[layer], biases[layer], grad_w[layer], grad_b[layer],
                            v_w[layer], v_b[layer], eta, mu, l2)
        else:
            update(weights[layer], biases[layer], grad_w[layer], grad_b[layer], v_w[layer],
                   v_b[layer], eta, mu, l2)


@register_jitable
def feedforward(weights, biases, zs, activations, n, softmax, kind):
    """Forward through every layer for the first n rows of activations[0]: hidden layers with
    activation ``kind``, the output with the softmax or the sigmoid."""
    last = len(weights) - 1
    for layer in range(len(weights)):
        forward(weights[layer], biases[layer], activations[layer][:n], zs[layer][:n],
                activations[layer + 1][:n], layer_kind(layer, last, softmax, kind))


@register_jitable
def backprop(weights, biases, zs, activations, deltas, grad_w, grad_b, y, n, cost, softmax, kind,
             masks, start):
    """Gradients of the cost averaged over the first n rows of activations[0] and y.

    Neurons drop out by rows start to start + n of ``masks`` (none where a mask has no rows).
    """
    last = len(weights) - 1
    drop_layer(activations, masks, 0, start, n)
    for layer in range(last + 1):
        forward(weights[layer], biases[layer], activations[layer][:n], zs[layer][:n],
                activations[layer + 1][:n], layer_kind(layer, last, softmax, kind))
        drop_layer(activations, masks, layer + 1, start, n)
    output_delta(activations[last + 1][:n], y[:n], deltas[last][:n], cost, softmax)
    for layer in range(last, -1, -1):
        hidden = layer > 0
        # The input layer has no delta: it gets a stand-in buffer that backward leaves alone.
        backward(weights[layer], deltas[layer][:n], activations[layer][:n], grad_w[layer],
                 grad_b[layer], deltas[max(layer - 1, 0)][:n], hidden,
                 masks[layer][start:start + n], kind)


@register_jitable
def sgd_epoch(weights, biases, v_w, v_b, x, y, order, batch_size, eta, mu, l2, cost, softmax,
              kind, rule, s_w, s_b, steps, masks, zs, activations, deltas, grad_w, grad_b,
              y_batch):
    """One pass of mini-batch SGD over the rows of x and y, taken in the given order, each step
    by the update rule ``rule`` (``update_layers``; s_w, s_b and steps: Adam's state).

    Row i of ``masks[layer]`` drops out neurons of that layer for sample order[i].
    """
    for start in range(0, order.shape[0], batch_size):
        n = min(batch_size, order.shape[0] - start)
        for s in range(n):
            copy_row(x[order[start + s]], activations[0][s])
            copy_row(y[order[start + s]], y_batch[s])
        backprop(weights, biases, zs, activations, deltas, grad_w, grad_b, y_batch, n, cost, softmax,
                 kind, masks, start)
        update_layers(weights, biases, grad_w, grad_b, v_w, v_b, s_w, s_b, eta, mu, l2, rule,
                      steps)


PLAIN = SimpleNamespace(name="plain", feedforward=feedforward, backprop=backprop,
                        sgd_epoch=sgd_epoch)

# reassoc and contract let LLVM vectorize the sums (a reordering, within rounding of numpy's);
# full fastmath would also assume no NaN or inf, which the training guard relies on seeing.
_jit = njit(fastmath={"reassoc", "contract"})
KERNELS = SimpleNamespace(name="compiled", feedforward=_jit(feedforward),
                          backprop=_jit(backprop), sgd_epoch=_jit(sgd_epoch))

# No fastmath flags: every sum in the order the plain Python adds it and no multiply-add fused,
# so in float64 STRICT gives PLAIN's bits (tests/test_strict.py). numba's own cache would hand
# STRICT the reassociated code of KERNELS (it tells the two apart by bytecode and signature, not
# by flags); ``njit`` keeps each set of flags in a folder of its own.
_strict_jit = njit()
STRICT = SimpleNamespace(name="strict", feedforward=_strict_jit(feedforward),
                         backprop=_strict_jit(backprop), sgd_epoch=_strict_jit(sgd_epoch))

# Adam's step count where the rule is not Adam: the kernels take it and never touch it, so one
# array serves every call (a fresh one was an allocation per one-sample step).
NO_STEPS = np.zeros(1, np.int64)

# Calls of up to this many samples keep their work arrays between calls (``LoopBackend.work``):
# for one sample, allocating them took longer than the step; larger calls keep nothing, so
# predicting 10,000 images does not hold 10,000 rows of every layer afterwards.
KEEP_ROWS = 256


def aligned_empty(shape, dtype, align=64):
    """An uninitialised C-contiguous array whose data starts on an ``align``-byte boundary.

    numpy only promises 16 bytes, and vector loads that straddle cache lines cost: parameters 8
    bytes off a line made the fused epoch 1.02 to 1.19x slower here (``benchmarks/checks.py``),
    up to 1.6x in the prototype of issue 4. Buffers here start on a line.
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


class LoopBackend:
    """Runs the loop kernels of this module: compiled (``KERNELS``, ``STRICT``) or plain (``PLAIN``).

    ``work``, where given, is a dict that the caller keeps for one network (``Network`` does):
    calls of up to KEEP_ROWS samples take their work arrays from it and leave them there for the
    next call of the same size, so a one-sample step allocates nothing. ``sgd_epoch`` returns the
    last mini-batch's output activations as its forward pass computed them, before the update (a
    view of the work arrays: copy what you keep).
    """

    def __init__(self, kernels):
        self.kernels = kernels

    def buffers(self, weights, rows, dtype, n_targets):
        """Work arrays for ``sgd_epoch`` on batches of ``rows`` samples, after its dropout masks
        (here: none): zs, activations, deltas, grad_w, grad_b, y_batch."""
        zs, activations, deltas = self.layer_buffers(weights, rows, dtype)
        grad_w = tuple(aligned_empty(w.shape, dtype) for w in weights)
        grad_b = tuple(aligned_empty(w.shape[0], dtype) for w in weights)
        return (no_masks(weights, dtype), zs, activations, deltas, grad_w, grad_b,
                aligned_empty((rows, n_targets), dtype))

    @staticmethod
    def layer_buffers(weights, rows, dtype):
        """zs, activations and deltas for ``rows`` samples (what ``feedforward`` needs)."""
        sizes = [weights[0].shape[1]] + [w.shape[0] for w in weights]
        zs = tuple(aligned_empty((rows, n), dtype) for n in sizes[1:])
        activations = tuple(aligned_empty((rows, n), dtype) for n in sizes)
        deltas = tuple(aligned_empty((rows, n), dtype) for n in sizes[1:])
        return zs, activations, deltas

    def key(self):
        """This backend in a network's ``work`` (a network may switch backends: each keeps its
        own arrays), as plain values, so that a copied or pickled network finds its own."""
        return type(self).__name__, getattr(self.kernels, "name", id(self.kernels))

    def kept(self, work, rows, make, *args):
        """``make(*args)``, kept in ``work`` for calls of at most KEEP_ROWS samples."""
        if work is None or rows > KEEP_ROWS:
            return make(*args)
        key = (self.key(), make.__name__, rows)
        found = work.get(key)
        if found is None:
            found = work[key] = make(*args)
        return found

    def feedforward(self, weights, biases, x, softmax, work=None, activation=SIGMOID):
        zs, activations, _ = self.kept(work, x.shape[0], self.layer_buffers, weights, x.shape[0],
                                       x.dtype)
        activations[0][:] = x
        self.kernels.feedforward(tuple(weights), tuple(biases), zs, activations, x.shape[0], softmax,
                                 activation)
        return list(activations)

    def backprop(self, weights, biases, x, y, cost, softmax, activation=SIGMOID):
        zs, activations, deltas = self.layer_buffers(weights, x.shape[0], x.dtype)
        activations[0][:] = x
        grad_w = tuple(np.empty_like(w) for w in weights)
        grad_b = tuple(np.empty_like(b) for b in biases)
        self.kernels.backprop(tuple(weights), tuple(biases), zs, activations, deltas, grad_w, grad_b,
                              y, x.shape[0], cost, softmax, activation, no_masks(weights, x.dtype),
                              0)
        return list(grad_w), list(grad_b)

    def sgd_epoch(self, weights, biases, v_w, v_b, x, y, order, batch_size, eta, mu, l2, cost,
                  softmax, masks=None, work=None, activation=SIGMOID, rule=SGD_RULE, adam=None):
        """``adam``: (s_w, s_b, steps), Adam's second moments and its step count, a one-element
        int64 array (needed for ``rules.ADAM`` only)."""
        rows = min(batch_size, len(order))
        buffers = self.kept(work, rows, self.buffers, weights, rows, x.dtype, y.shape[1])
        if masks is not None:
            buffers = (tuple(masks),) + buffers[1:]
        scalar = x.dtype.type  # a Python float learning rate would turn float32 sums into float64
        self.kernels.sgd_epoch(tuple(weights), tuple(biases), tuple(v_w), tuple(v_b), x, y, order,
                               batch_size, scalar(eta), scalar(mu), scalar(l2), cost, softmax,
                               activation, *self.rule_arguments(rule, adam, v_w, v_b, scalar),
                               *buffers)
        last = (len(order) - 1) % batch_size + 1  # samples in the last mini-batch
        return buffers[2][-1][:last]

    @staticmethod
    def rule_arguments(rule, adam, v_w, v_b, scalar):
        """The kernels' rule, s_w, s_b and steps (stand-ins where the rule is not Adam)."""
        s_w, s_b, steps = adam if adam is not None else (v_w, v_b, NO_STEPS)
        solver, beta_1, beta_2, epsilon = rule
        return ((solver, scalar(beta_1), scalar(beta_2), scalar(epsilon)), tuple(s_w), tuple(s_b),
                steps)
