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
w <- w + v (``update``), weight by weight through ``rules.step_row``, where every rule
(plain SGD, momentum, Nesterov's momentum, Adam) is written once.

Dropout, in training only: ``masks[layer]`` holds a row for each sample of the epoch with, for
each neuron of layer ``layer`` (inputs or hidden), 0 to drop it or 1/p to keep it (p the chance
of keeping). A dropped neuron's activation is 0, so it feeds nothing forward and its weights get
no gradient, and BP2 multiplies by m f'(z) (``prime_kept``). A mask with no rows drops nothing.
Scaling the kept neurons by 1/p keeps each layer's expected input the same, so the trained
network predicts with every neuron, unscaled.

Every function here is plain Python, so it can be run and stepped through in a debugger (the
``"python"`` backend). ``KERNELS`` holds the same functions compiled by numba (``"loops-plain"``;
``"loops"`` runs the fused kernels of ``fused``, built on these), ``STRICT`` the same compiled
without reassociation (``"strict"``); ``register_jitable`` lets compiled code call a plain
function by compiling it too. This module imports nothing faster than itself.
The loops go neuron by neuron with the batch inside, so each weight row is read once per batch.
"""
from types import SimpleNamespace
from typing import NamedTuple

import numpy as np
from numba.extending import register_jitable

from .activations import (
    CROSS_ENTROPY,
    SOFTMAX,
    activation,
    layer_kind,
    prime,
    prime_kept,
    sigmoid_prime,
    softmax_row,
)
from .jit import njit
from .records import aligned_empty, layer_buffers, layer_of, no_masks
from .rules import ADAM, at_step, step_one, step_row


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
def update(layer, grad_w, grad_b, step):
    r"""One step of the update rule on one layer, weight by weight (``rules.step_row``): plain
    SGD w <- w - eta (grad + l2 w), momentum, Nesterov's momentum or Adam, as ``step`` says
    (a ``rules.Settings``; biases: no l2). With momentum 0 the velocity is neither read nor
    written (it would only hold the last step's change)."""
    for j in range(layer.w.shape[0]):
        step_row(layer.w[j], layer.v_w[j], layer.s_w[j], grad_w[j], step, step.l2)
        step_one(layer.b, layer.v_b, layer.s_b, j, grad_b[j], step)


@register_jitable
def update_layers(params, work, step):
    """One step of the update rule on every layer, from the gradients in ``work``; Adam counts
    its steps in params.steps[0] and takes its bias-corrected rate for that count."""
    if step.solver == ADAM:
        params.steps[0] += 1
    step = at_step(step, params.steps[0], params.weights[0])
    for layer in range(len(params.weights)):
        update(layer_of(params, layer), work.grad_w[layer], work.grad_b[layer], step)


@register_jitable
def feedforward(weights, biases, zs, activations, n, softmax, kind):
    """Forward through every layer for the first n rows of activations[0]: hidden layers with
    activation ``kind``, the output with the softmax or the sigmoid."""
    last = len(weights) - 1
    for layer in range(len(weights)):
        forward(weights[layer], biases[layer], activations[layer][:n], zs[layer][:n],
                activations[layer + 1][:n], layer_kind(layer, last, softmax, kind))


@register_jitable
def backprop(params, work, y, n, model, start):
    """Gradients of the cost averaged over the first n rows of work.activations[0] and y, into
    work.grad_w and work.grad_b.

    Neurons drop out by rows start to start + n of ``work.masks`` (none where a mask has no
    rows).
    """
    weights, activations, deltas, masks = (params.weights, work.activations, work.deltas,
                                           work.masks)
    last = len(weights) - 1
    drop_layer(activations, masks, 0, start, n)
    for layer in range(last + 1):
        forward(weights[layer], params.biases[layer], activations[layer][:n],
                work.zs[layer][:n], activations[layer + 1][:n],
                layer_kind(layer, last, model.softmax, model.kind))
        drop_layer(activations, masks, layer + 1, start, n)
    output_delta(activations[last + 1][:n], y[:n], deltas[last][:n], model.cost, model.softmax)
    for layer in range(last, -1, -1):
        hidden = layer > 0
        # The input layer has no delta: it gets a stand-in buffer that backward leaves alone.
        backward(weights[layer], deltas[layer][:n], activations[layer][:n], work.grad_w[layer],
                 work.grad_b[layer], deltas[max(layer - 1, 0)][:n], hidden,
                 masks[layer][start:start + n], model.kind)


@register_jitable
def sgd_epoch(params, x, y, order, batch_size, step, model, work):
    """One pass of mini-batch SGD over the rows of x and y, taken in the given order, each step
    by the update rule of ``step`` (``update_layers``).

    Row i of ``work.masks[layer]`` drops out neurons of that layer for sample order[i].
    """
    for start in range(0, order.shape[0], batch_size):
        n = min(batch_size, order.shape[0] - start)
        for s in range(n):
            copy_row(x[order[start + s]], work.activations[0][s])
            copy_row(y[order[start + s]], work.y_batch[s])
        backprop(params, work, work.y_batch, n, model, start)
        update_layers(params, work, step)


class Work(NamedTuple):
    """The plain kernels' work arrays for batches of up to ``rows`` samples: dropout masks (rows
    for the epoch's samples, or none), each layer's z, activations (the inputs first) and
    deltas, the gradients, and the batch's targets."""
    masks: tuple
    zs: tuple
    activations: tuple
    deltas: tuple
    grad_w: tuple
    grad_b: tuple
    y_batch: np.ndarray


def make_work(weights, rows, dtype, n_targets):
    """``Work`` for ``sgd_epoch`` on batches of ``rows`` samples, no dropout."""
    zs, activations, deltas = layer_buffers(weights, rows, dtype)
    return Work(no_masks(weights, dtype), zs, activations, deltas,
                tuple(aligned_empty(w.shape, dtype) for w in weights),
                tuple(aligned_empty(w.shape[0], dtype) for w in weights),
                aligned_empty((rows, n_targets), dtype))


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
