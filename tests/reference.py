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


def sgd_epoch(weights, biases, xs, ys, order, batch_size, eta, mu, l2, *, output, cost_name,
              masks=None, activation="sigmoid", solver="sgd", nesterov=False,
              betas=(0.9, 0.999), epsilon=1e-8):
    """Mini-batch SGD over the samples in ``order``, each parameter p with g = grad + l2 p
    (biases: no l2), from a zero velocity (and zero Adam moments):

        sgd:       v <- mu v - eta g, p <- p + v
        nesterov:  v <- mu v - eta g, p <- p + mu v - eta g
        adam:      m <- b1 m + (1 - b1) g, s <- b2 s + (1 - b2) g^2 (t-th step from 1),
                   p <- p - eta sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(s) + epsilon)

    Row i of each mask goes with sample order[i]. Returns (weights, biases, v_w, v_b) as new
    arrays (Adam: its m as v, and then s_w, s_b too)."""
    weights = [np.array(w, dtype=float) for w in weights]
    biases = [np.array(b, dtype=float) for b in biases]
    params = weights + biases
    v = [np.zeros_like(p) for p in params]
    s = [np.zeros_like(p) for p in params]
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    for t, start in enumerate(range(0, len(order), batch_size), start=1):
        rows = order[start:start + batch_size]
        batch_masks = None if masks is None else [m[start:start + batch_size] for m in masks]
        grad_w, grad_b = gradients(params[:len(weights)], params[len(weights):], xs[rows],
                                   ys[rows], output, cost_name, batch_masks, activation=activation)
        for i, grad in enumerate(grad_w + grad_b):
            g = grad + (l2 * params[i] if i < len(weights) else 0)
            if solver == "adam":
                v[i] = betas[0] * v[i] + (1 - betas[0]) * g
                s[i] = betas[1] * s[i] + (1 - betas[1]) * g ** 2
                eta_t = eta * math.sqrt(1 - betas[1] ** t) / (1 - betas[0] ** t)
                params[i] = params[i] - eta_t * v[i] / (np.sqrt(s[i]) + epsilon)
            else:
                v[i] = mu * v[i] - eta * g
                params[i] = params[i] + (mu * v[i] - eta * g if nesterov else v[i])
    n = len(weights)
    result = params[:n], params[n:], v[:n], v[n:]
    return result + (s[:n], s[n:]) if solver == "adam" else result
