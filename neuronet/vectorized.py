r"""The vectorized twin of ``loops``: the same steps, one numpy expression per layer.

Names and shapes are those of ``loops``: ``w`` is (n_out, n_in), rows of ``a_prev``, ``z``, ``a``
and ``delta`` are samples. Where ``loops`` sums over k with a loop, this sums with a matrix
product, so the two agree to the rounding of those sums, not bit for bit.

    BP1  delta^L = dC/da^L * sigma'(z^L)
    BP2  delta^l = (delta^{l+1} w^{l+1}) * sigma'(z^l)
    BP3  dC/db^l = mean over samples of delta^l
    BP4  dC/dw^l = delta^l.T a^{l-1} / n

Dropout as in ``loops``: ``masks[layer]`` rows of 0 (dropped) or 1/p (kept), one per sample.
"""
import numpy as np

from .activations import CROSS_ENTROPY, sigmoid_array, sigmoid_prime_kept_array, softmax_array


def forward(w, b, a_prev, softmax):
    r"""z = a_prev w^T + b, a = sigma(z) or softmax(z)."""
    z = a_prev @ w.T + b
    return z, softmax_array(z) if softmax else sigmoid_array(z)


def output_delta(a, y, cost, softmax):
    r"""BP1: a - y for cross-entropy; (a - y) a (1 - a) for quadratic sigmoid;
    a ((a - y) - sum_i (a_i - y_i) a_i) for quadratic softmax."""
    if cost == CROSS_ENTROPY:
        return a - y
    if softmax:
        return a * ((a - y) - np.sum((a - y) * a, axis=1, keepdims=True))
    return (a - y) * (a * (1 - a))


def backward(w, delta, a_prev, hidden, mask_prev=None):
    r"""BP3, BP4 averaged over the batch, and BP2's delta for the previous layer if it is hidden
    (its sigma' times the dropout mask, if there is one)."""
    n = delta.shape[0]
    grad_w = delta.T @ a_prev / n
    grad_b = delta.sum(axis=0) / n
    if not hidden:
        return grad_w, grad_b, None
    if mask_prev is None:
        return grad_w, grad_b, (delta @ w) * (a_prev * (1 - a_prev))
    return grad_w, grad_b, (delta @ w) * sigmoid_prime_kept_array(a_prev, mask_prev)


def update(w, b, grad_w, grad_b, v_w, v_b, eta, mu, l2):
    r"""Momentum SGD in place: v <- mu v - eta (grad + l2 w), w <- w + v (biases: no l2)."""
    v_w[:] = mu * v_w - eta * (grad_w + l2 * w)
    w += v_w
    v_b[:] = mu * v_b - eta * grad_b
    b += v_b


def _present(masks, n_layers):
    """One dropout mask or None per layer below the output: None where nothing is dropped."""
    return [m if m is not None and len(m) else None for m in masks or [None] * n_layers]


class VectorizedBackend:
    """The numpy backend, with the same methods as ``loops.LoopBackend``."""

    def feedforward(self, weights, biases, x, softmax, masks=None):
        """Every layer's activations for the rows of x; ``masks``: one dropout mask per layer of
        inputs or hidden neurons, rows as x's (None, or a mask with no rows: no dropout)."""
        masks = _present(masks, len(weights))
        activations = [x if masks[0] is None else x * masks[0]]
        for layer, (w, b) in enumerate(zip(weights, biases)):
            last = layer == len(weights) - 1
            _, a = forward(w, b, activations[-1], softmax and last)
            activations.append(a if last or masks[layer + 1] is None else a * masks[layer + 1])
        return activations

    def backprop(self, weights, biases, x, y, cost, softmax, masks=None):
        """Gradients averaged over the rows of x and y, neurons dropped out by ``masks`` (as in
        ``feedforward``)."""
        masks = _present(masks, len(weights))
        activations = self.feedforward(weights, biases, x, softmax, masks)
        delta = output_delta(activations[-1], y, cost, softmax)
        grad_w, grad_b = [None] * len(weights), [None] * len(weights)
        for layer in range(len(weights) - 1, -1, -1):
            grad_w[layer], grad_b[layer], delta = backward(weights[layer], delta, activations[layer],
                                                           layer > 0, masks[layer])
        return grad_w, grad_b

    def sgd_epoch(self, weights, biases, v_w, v_b, x, y, order, batch_size, eta, mu, l2, cost,
                  softmax, masks=None):
        masks = _present(masks, len(weights))
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            batch_masks = [None if m is None else m[start:start + batch_size] for m in masks]
            grad_w, grad_b = self.backprop(weights, biases, x[rows], y[rows], cost, softmax,
                                           batch_masks)
            for layer in range(len(weights)):
                update(weights[layer], biases[layer], grad_w[layer], grad_b[layer], v_w[layer],
                       v_b[layer], eta, mu, l2)
