"""Gradient checking: backpropagation against central differences, one parameter at a time.

The post's check nudged every weight at once and compared one number, so it could not say which
gradient was wrong (and printed 1.0). Here each parameter p is nudged alone, and the slope of the
cost C is taken by the five-point central difference

    numeric = (-C(p + 2h) + 8 C(p + h) - 8 C(p - h) + C(p - 2h)) / (12 h),

whose error is O(h^4) where the two-point (C(p + h) - C(p - h)) / 2h has O(h^2). That matters in
float64: C carries a rounding error near 1e-16, which a difference divides by h, so the two-point
form cannot get below about 1e-11 absolute at any h (measured on 784-30-10: 1.3e-11 at best, at
h = 1e-4), too coarse for 1e-7 relative on gradients of 1e-5. The five-point form at h = 1e-3
reached 4e-13. The relative error |bp - numeric| / max(|bp|, |numeric|, floor) uses a floor so
that gradients which are zero up to rounding are not judged by noise divided by noise.
Small networks are checked at every weight and bias; large ones at a seeded sample of each
layer's weights and biases.

ReLU has a kink at z = 0. Where a nudge moves some hidden z across it, the cost is not smooth
within the nudge's reach and the difference quotient mixes two slopes; such a parameter is
left out of the check and counted (``LayerCheck.kinks``), not failed. Use a float64 network: float32 costs are too coarse for this.
"""
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .checks import check_count, check_rate
from .network import Network


@dataclass
class LayerCheck:
    """The largest relative error among the weights and the biases checked in one layer.

    Attributes
    ----------
    layer : int
        The layer of weights, 0 the first.
    checked_w, checked_b : int
        How many weights and biases were checked.
    max_error_w, max_error_b : float
        The largest relative error among them.
    kinks : int
        Parameters left out: a nudge moved some ReLU's z across 0.
    """
    layer: int
    checked_w: int
    checked_b: int
    max_error_w: float
    max_error_b: float
    kinks: int = 0  # parameters left out: a nudge moved a ReLU's z across 0

    @property
    def max_error(self):
        return max(self.max_error_w, self.max_error_b)


def gradcheck(net: Network, x: ArrayLike, y: ArrayLike, *, h: float = 1e-3,
              floor: float = 1e-6, max_per_layer: int = 200, seed: int = 0) -> list[LayerCheck]:
    """Compare ``net.gradients(x, y)`` with central differences, one parameter at a time.

    Each parameter p is nudged alone and the slope of the cost taken by the five-point central
    difference (error O(h^4)); the relative error is |bp - numeric| / max(|bp|, |numeric|,
    floor). The network is left exactly as it was.

    Parameters
    ----------
    net : Network
        The network to check; float64, since float32 costs are too coarse for this.
    x : array_like
        Inputs, shape (n, n_in) or (n_in,).
    y : array_like
        Targets, shape (n, n_out) or (n_out,).
    h : float, default 1e-3
        The nudge, > 0.
    floor : float, default 1e-6
        Smallest denominator of the relative error, > 0, so gradients that are zero up to
        rounding are not judged by noise divided by noise.
    max_per_layer : int, default 200
        A layer with more weights (or biases) than this is checked at this many, drawn by
        ``numpy.random.default_rng(seed)``.
    seed : int, default 0
        Seed for that draw.

    Returns
    -------
    list of LayerCheck
        One a layer: ``layer``, ``checked_w``, ``checked_b``, ``max_error_w``, ``max_error_b``,
        ``max_error`` (the larger), and ``kinks``, the ReLU parameters left out because a nudge
        moved some hidden z across 0.

    Raises
    ------
    TypeError
        If ``net`` is not a ``Network``.
    ValueError
        If h, floor or max_per_layer is out of range, or x and y do not fit the network.

    Examples
    --------
    >>> import numpy as np
    >>> net = Network((4, 3, 2), seed=0)
    >>> checks = gradcheck(net, np.full((2, 4), 0.5), np.eye(2))
    >>> bool(max(check.max_error for check in checks) < 1e-7)
    True
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a neuronet.Network, got {type(net).__name__}")
    check_rate("h", h)
    check_rate("floor", floor)
    check_count("max_per_layer", max_per_layer)
    x, y = net.check_pair(x, y)
    grad_w, grad_b = net.gradients(x, y)
    rng = np.random.default_rng(seed)
    signs = _active(net, x) if net.activation == "relu" else None
    checks = []
    for layer, (w, b) in enumerate(zip(net.weights, net.biases)):
        counts, errors, kinks = [], [], 0
        for param, grad in ((w, grad_w[layer]), (b, grad_b[layer])):
            flat, flat_grad = param.reshape(-1), grad.reshape(-1)  # views: nudging flat nudges param
            picks = np.arange(flat.size)
            if flat.size > max_per_layer:
                picks = rng.choice(flat.size, max_per_layer, replace=False)
            worst = 0.0
            for i in picks:
                original = flat[i]
                costs, crossed = [], False
                for nudge in (2 * h, h, -h, -2 * h):
                    flat[i] = original + nudge
                    costs.append(net.loss(x, y))
                    crossed |= signs is not None and not np.array_equal(_active(net, x), signs)
                flat[i] = original
                if crossed:
                    kinks += 1
                    continue
                numeric = (-costs[0] + 8 * costs[1] - 8 * costs[2] + costs[3]) / (12 * h)
                scale = max(abs(flat_grad[i]), abs(numeric), floor)
                worst = max(worst, abs(flat_grad[i] - numeric) / scale)
            counts.append(len(picks))
            errors.append(worst)
        checks.append(LayerCheck(layer, *counts, *errors, kinks))
    return checks


def _active(net, x):
    """Which hidden neurons have z > 0, for each sample (for ReLU, a > 0 exactly when z > 0)."""
    layers = net.activations(x)
    return np.concatenate([(a > 0).ravel() for a in layers[1:-1]])
