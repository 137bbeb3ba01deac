"""A reference for every output and cost, from the definitions alone: the cost written out per
sample, its gradient by central differences, and SGD with momentum stepping on that gradient.

Nothing here comes from neuronet, so the kernels (whose backward pass is derived by hand) are
checked against the cost they claim to minimise. ``naive.py`` is the same idea for the post's
sigmoid and quadratic cost with the backward pass written out; this one covers tanh and ReLU
hidden layers, softmax, cross-entropy and dropout masks too, at the price of numerical derivatives (accurate to about
1e-10 with h = 1e-5: truncation h^2 times a third derivative of a few units, rounding eps / h).
"""
import math

import numpy as np


def sigmoid(z):
    return 0.5 * (1 + math.tanh(z / 2))  # = 1 / (1 + e^-z), with no overflow


HIDDEN = {"sigmoid": sigmoid, "tanh": math.tanh, "relu": lambda z: max(z, 0.0)}


def softmax(z):
    m = max(z)
    e = [math.exp(v - m) for v in z]
    return [v / sum(e) for v in e]


def feedforward(weights, biases, x, output, mask_rows=(), activation="sigmoid"):
    """Every layer's activations for one sample; mask_rows: its dropout mask row per layer
    of inputs or hidden neurons (none: no dropout); ``activation``: the hidden layers'."""
    a = [v * m for v, m in zip(x, mask_rows[0])] if mask_rows else list(x)
    activations = [a]
    for layer, (w, b) in enumerate(zip(weights, biases)):
        z = [b[j] + sum(w[j][k] * a[k] for k in range(len(a))) for j in range(len(b))]
        if layer == len(weights) - 1:
            a = softmax(z) if output == "softmax" else [sigmoid(v) for v in z]
        else:
            a = [HIDDEN[activation](v) for v in z]
            if mask_rows:
                a = [v * m for v, m in zip(a, mask_rows[layer + 1])]
        activations.append(a)
    return activations


def sample_cost(a, y, cost, output):
    """quadratic: 1/2 sum (a - y)^2; cross-entropy: -sum y ln a + (1 - y) ln(1 - a) for sigmoids,
    -sum y ln a for softmax."""
    if cost == "quadratic":
        return 0.5 * sum((ai - yi) ** 2 for ai, yi in zip(a, y))
    if output == "softmax":
        return -sum(yi * math.log(ai) for ai, yi in zip(a, y))
    return -sum(yi * math.log(ai) + (1 - yi) * math.log(1 - ai) for ai, yi in zip(a, y))


def cost(weights, biases, xs, ys, output, cost_name, masks=None, activation="sigmoid"):
    """The cost averaged over the samples; masks: rows of dropout masks, one per sample."""
    total = 0.0
    for i, (x, y) in enumerate(zip(xs, ys)):
        rows = [m[i] for m in masks] if masks is not None else ()
        total += sample_cost(feedforward(weights, biases, x, output, rows, activation)[-1], y,
                             cost_name, output)
    return total / len(xs)


def gradients(weights, biases, xs, ys, output, cost_name, masks=None, h=1e-5,
              activation="sigmoid"):
    """dC/dw and dC/db by central differences, one parameter at a time."""
    weights = [np.array(w, dtype=float) for w in weights]
    biases = [np.array(b, dtype=float) for b in biases]
    grads = []
    for params in weights + biases:
        grad = np.zeros_like(params)
        for index in np.ndindex(params.shape):
            saved = params[index]
            params[index] = saved + h
            up = cost(weights, biases, xs, ys, output, cost_name, masks, activation)
            params[index] = saved - h
            down = cost(weights, biases, xs, ys, output, cost_name, masks, activation)
            params[index] = saved
            grad[index] = (up - down) / (2 * h)
        grads.append(grad)
    return grads[:len(weights)], grads[len(weights):]


def sgd_epoch(weights, biases, xs, ys, order, batch_size, eta, mu, l2, output, cost_name,
              masks=None, activation="sigmoid"):
    """Mini-batch SGD over the samples in ``order``: v <- mu v - eta (grad + l2 w), w <- w + v,
    biases without l2; row i of each mask goes with sample order[i]. Returns (weights, biases,
    v_w, v_b) as new arrays."""
    weights = [np.array(w, dtype=float) for w in weights]
    biases = [np.array(b, dtype=float) for b in biases]
    v_w = [np.zeros_like(w) for w in weights]
    v_b = [np.zeros_like(b) for b in biases]
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        batch_masks = None if masks is None else [m[start:start + batch_size] for m in masks]
        grad_w, grad_b = gradients(weights, biases, xs[rows], ys[rows], output, cost_name,
                                   batch_masks, activation=activation)
        for layer in range(len(weights)):
            v_w[layer] = mu * v_w[layer] - eta * (grad_w[layer] + l2 * weights[layer])
            weights[layer] = weights[layer] + v_w[layer]
            v_b[layer] = mu * v_b[layer] - eta * grad_b[layer]
            biases[layer] = biases[layer] + v_b[layer]
    return weights, biases, v_w, v_b
