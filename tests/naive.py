"""The post's network written the obvious way: Python lists and floats, one neuron at a time.

Quadratic cost and sigmoid neurons only. It is slow and has no tricks, which is the point: the
kernels are checked against it.
"""
import math


def sigmoid(z):
    return 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))


def feedforward(weights, biases, x):
    """Activations of every layer for one sample."""
    activations = [list(x)]
    for w, b in zip(weights, biases):
        a_prev = activations[-1]
        activations.append([sigmoid(b[j] + sum(w[j][k] * a_prev[k] for k in range(len(a_prev))))
                             for j in range(len(b))])
    return activations


def gradients(weights, biases, xs, ys):
    """Gradient of 1/2 |a - y|^2 averaged over the samples, as nested lists."""
    grad_w = [[[0.0] * len(row) for row in w] for w in weights]
    grad_b = [[0.0] * len(b) for b in biases]
    for x, y in zip(xs, ys):
        activations = feedforward(weights, biases, x)
        a = activations[-1]
        delta = [(a[j] - y[j]) * a[j] * (1 - a[j]) for j in range(len(a))]
        for layer in range(len(weights) - 1, -1, -1):
            a_prev = activations[layer]
            for j, d in enumerate(delta):
                grad_b[layer][j] += d / len(xs)
                for k, a_k in enumerate(a_prev):
                    grad_w[layer][j][k] += d * a_k / len(xs)
            delta = [sum(weights[layer][j][k] * delta[j] for j in range(len(delta)))
                     * a_prev[k] * (1 - a_prev[k]) for k in range(len(a_prev))]
    return grad_w, grad_b
