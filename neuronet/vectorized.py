r"""The vectorized twin of ``loops``: the same steps, one numpy expression per layer.

Names and shapes are those of ``loops``: ``w`` is (n_out, n_in), rows of ``a_prev``, ``z``, ``a``
and ``delta`` are samples. Where ``loops`` sums over k with a loop, this sums with a matrix
product, so the two agree to the rounding of those sums, not bit for bit.

    BP1  delta^L = dC/da^L * sigma'(z^L)
    BP2  delta^l = (delta^{l+1} w^{l+1}) * f'(z^l)      (f' from a, ``activations.prime_array``)
    BP3  dC/db^l = mean over samples of delta^l
    BP4  dC/dw^l = delta^l.T a^{l-1} / n

Dropout as in ``loops``: ``masks[layer]`` rows of 0 (dropped) or 1/p (kept), one per sample.

Training (``sgd_epoch``) runs each step in ``Step``'s buffers, made once per network shape, batch
size and dtype and reused by every step and call after, so a step allocates nothing the size of
a weight matrix:

- one sample is a vector, so its products are matrix-vector products (BLAS gemv), not
  matrix products of one row;
- BP4 and the update are one BLAS call that adds the product into the weights (or velocities)
  where they lie, ``w <- beta w - (eta / n) delta^T a_prev`` (gemm; ger, the rank-1 update,
  for one sample), instead of writing the gradient to memory and reading it back;
- with momentum 0 (the post's plain SGD) there is no velocity: ``w <- w - eta (grad + l2 w)``
  directly and the velocity arrays are neither read nor written (they keep what they held);
  with weight decay 0 there is no l2 term;
- every product is a call to scipy's BLAS, so a step runs one OpenBLAS thread pool (``Step``);
- BLAS runs on one thread unless the step's largest product is at least ``TWO_THREADS_FLOPS``:
  on this project's 2 shared cores a second thread risks more than it gains below that.

``feedforward`` and ``backprop`` (predictions, gradient checks) stay plain expressions that
allocate their results: they are not on the training path.
"""
import math
from contextlib import nullcontext

import numpy as np
from scipy.linalg.blas import get_blas_funcs
from threadpoolctl import ThreadpoolController

from .activations import (CROSS_ENTROPY, SIGMOID, SOFTMAX, activation_array, layer_kind,
                          prime_array, prime_kept_array, sample_cost, softmax_array)
from .rules import ADAM, NESTEROV, SGD_RULE, Rule

# Floating-point operations of the largest matrix product of a step from which BLAS gets two
# threads. With one BLAS pool (see ``Step``) a second thread can pay on the project's 2 shared
# cores: timing single steps (`python benchmarks/checks.py --threads`, fastest and 10th
# percentile; benchmarks/RESULTS.md) gave 1.1x to 1.3x from 4.7e6 flops at load 5.5, 0.75x at
# 1.6e6. But whenever the second core is taken, by another session or by another thread pool of
# the same process (torch's, numba's, numpy's), a step on two threads waits for it: at load 4.4
# two threads lost everywhere (0.01x to 0.67x), and in a full report 784-100-10 at batch 100 on two
# threads ran at 0.58x numpy-textbook on one. One thread loses at most 1.3x, two can lose 10x and
# more, so one thread for every network the benchmarks train (largest product 1.3e8 flops).
TWO_THREADS_FLOPS = 2e9


def forward(w, b, a_prev, kind):
    r"""z = a_prev w^T + b, a = f(z) for activation ``kind`` (the softmax, or ``activation_array``)."""
    z = a_prev @ w.T + b
    return z, softmax_array(z) if kind == SOFTMAX else activation_array(z, kind)


def output_delta(a, y, cost, softmax):
    r"""BP1: a - y for cross-entropy; (a - y) a (1 - a) for quadratic sigmoid;
    a ((a - y) - sum_i (a_i - y_i) a_i) for quadratic softmax."""
    if cost == CROSS_ENTROPY:
        return a - y
    if softmax:
        return a * ((a - y) - np.sum((a - y) * a, axis=-1, keepdims=True))
    return (a - y) * (a * (1 - a))


def backward(w, delta, a_prev, hidden, mask_prev=None, kind=SIGMOID):
    r"""BP3, BP4 averaged over the batch, and BP2's delta for the previous layer if it is hidden
    (its f', of activation ``kind``, times the dropout mask if there is one)."""
    n = delta.shape[0]
    grad_w = delta.T @ a_prev / n
    grad_b = delta.sum(axis=0) / n
    if not hidden:
        return grad_w, grad_b, None
    if mask_prev is None:
        return grad_w, grad_b, (delta @ w) * prime_array(a_prev, kind)
    return grad_w, grad_b, (delta @ w) * prime_kept_array(a_prev, mask_prev, kind)


def update(w, b, grad_w, grad_b, v_w, v_b, eta, mu, l2):
    r"""Momentum SGD in place: v <- mu v - eta (grad + l2 w), w <- w + v (biases: no l2).
    Momentum 0: w <- w - eta (grad + l2 w), the velocities untouched."""
    if mu == 0:
        w -= eta * (grad_w + l2 * w)
        b -= eta * grad_b
        return
    v_w[:] = mu * v_w - eta * (grad_w + l2 * w)
    w += v_w
    v_b[:] = mu * v_b - eta * grad_b
    b += v_b


def adam_update(p, g, m, s, eta_t, rule, scratch):
    r"""Adam on parameters p with gradient g, in place (``rules``; g and scratch are overwritten):
    m <- beta_1 m + (1 - beta_1) g,  s <- beta_2 s + (1 - beta_2) g^2,
    p <- p - eta_t m / (sqrt(s) + epsilon), eta_t the bias-corrected learning rate."""
    _, beta_1, beta_2, epsilon = rule
    m *= beta_1
    m += np.multiply(g, 1 - beta_1, out=scratch)
    s *= beta_2
    np.multiply(g, g, out=scratch)
    s += np.multiply(scratch, 1 - beta_2, out=scratch)
    denominator = np.sqrt(s, out=scratch)
    denominator += epsilon
    change = np.multiply(m, eta_t, out=g)
    change /= denominator
    p -= change


def _present(masks, n_layers):
    """One dropout mask or None per layer below the output: None where nothing is dropped."""
    return [m if m is not None and len(m) else None for m in masks or [None] * n_layers]


class Step:
    r"""One SGD step on n samples, in buffers made once for a network shape, n and a dtype.

    ``a[layer]`` holds layer ``layer``'s activations (``a[0]`` the inputs), ``delta[layer]`` the
    delta of layer ``layer + 1``; for one sample they are vectors. z is never kept: the activation
    overwrites it, and f' comes from a.

    Every product of the step is a call to scipy's BLAS, none to numpy's: numpy and scipy each
    bring their own OpenBLAS, each with its own worker threads, and on two threads each pool's
    workers spin on the cores the other one is waiting for (784-100, batch 100, two threads: a
    forward by numpy and an update by scipy took at best 16 ms against 0.35 ms with scipy alone,
    0.53 ms on one thread; ``python benchmarks/checks.py --pools``). BLAS is column-major, so
    the C-ordered (n_out, n_in) weights are its (n_in, n_out) matrix ``w.T``, and rows of samples
    are its columns.
    """

    def __init__(self, sizes, n, dtype):
        rows = (lambda m: (m,)) if n == 1 else (lambda m: (n, m))
        self.n = n
        self.a = [np.empty(rows(m), dtype) for m in sizes]
        self.delta = [np.empty(rows(m), dtype) for m in sizes[1:]]
        self.f_prime = [np.empty(rows(m), dtype) for m in sizes[1:-1]]
        self.scratch = {}  # layer -> its gradient and a scratch array (Nesterov, Adam)
        self.y = np.empty(rows(sizes[-1]), dtype)
        self.gemm, self.gemv, self.ger, self.axpy = get_blas_funcs(("gemm", "gemv", "ger", "axpy"),
                                                                   dtype=dtype)
        largest = max(n_in * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))
        self.threads = 2 if 2 * n * largest >= TWO_THREADS_FLOPS else 1

    def __call__(self, weights, biases, v_w, v_b, x, y, rows, eta, mu, l2, cost, softmax, kind,
                 masks, rule=SGD_RULE, adam=None):
        a, delta, last = self.a, self.delta, len(weights) - 1
        pick = rows[0] if self.n == 1 else rows
        # mode="clip": with the default "raise" numpy buffers ``out`` (3x the time at batch 100,
        # `python benchmarks/checks.py --pieces`);
        # the rows were checked at the public boundary (``Network.train``).
        np.take(x, pick, axis=0, out=a[0], mode="clip")
        if masks[0] is not None:
            a[0] *= masks[0]
        for layer, (w, b) in enumerate(zip(weights, biases)):
            z = a[layer + 1]
            self.weighted_input(w, b, a[layer], z)
            if layer == last and softmax:
                z[...] = softmax_array(z)
            else:                                                  # a = f(z)
                activation_array(z, layer_kind(layer, last, softmax, kind), out=z)
            if layer < last and masks[layer + 1] is not None:
                z *= masks[layer + 1]
        np.take(y, pick, axis=0, out=self.y, mode="clip")
        delta[last][...] = output_delta(a[-1], self.y, cost, softmax)      # BP1
        if rule.solver == ADAM:
            adam[2][0] += 1  # its step count t
        for layer in range(last, -1, -1):
            if layer > 0:                                          # BP2, before w changes
                self.hidden_delta(weights[layer], layer, masks[layer], kind)
            w, b, v_w_l, v_b_l = weights[layer], biases[layer], v_w[layer], v_b[layer]
            if rule.solver == ADAM:
                self.adam(layer, w, b, v_w_l, v_b_l, adam[0][layer], adam[1][layer], eta, l2,
                          rule, int(adam[2][0]))
            elif rule.solver == NESTEROV:
                self.nesterov(layer, w, b, v_w_l, v_b_l, eta, mu, l2)
            else:
                self.update(w, b, v_w_l, v_b_l, delta[layer], a[layer], eta, mu, l2)

    def weighted_input(self, w, b, a_prev, z):
        r"""z = a_prev w^T + b: z starts as b, and BLAS adds the product (gemm: z^T = w a_prev^T
        + z^T; gemv for one sample: z = w a_prev + z)."""
        z[...] = b
        if self.n == 1:
            self.gemv(1, w.T, a_prev, beta=1, y=z, trans=1, overwrite_y=True)
        else:
            self.gemm(1, w.T, a_prev.T, beta=1, c=z.T, trans_a=True, overwrite_c=True)

    def hidden_delta(self, w, layer, mask, kind):
        r"""BP2: delta^{l} = (delta^{l+1} w^{l+1}) * f'(z^l), f' from a (the sigmoid's a (1 - a);
        ``activations.prime_array``), times the dropout mask (``prime_kept_array``)."""
        a, f_prime = self.a[layer], self.f_prime[layer - 1]
        delta, delta_prev = self.delta[layer], self.delta[layer - 1]
        if self.n == 1:                        # delta_prev = w^T delta
            self.gemv(1, w.T, delta, y=delta_prev, overwrite_y=True)
        else:                                  # delta_prev^T = w^T delta^T
            self.gemm(1, w.T, delta.T, c=delta_prev.T, overwrite_c=True)
        if mask is None:
            prime_array(a, kind, out=f_prime)
        else:
            f_prime[...] = prime_kept_array(a, mask, kind)
        delta_prev *= f_prime

    def gradient(self, layer, scale):
        r"""scale delta^T a_prev (BP4 summed over the samples) for layer ``layer`` in that layer's
        gradient buffer, made on first use (Nesterov and Adam need the gradient twice, so it is
        formed once; gemm, or ger for one sample), and a scratch array of the same shape."""
        if layer not in self.scratch:
            shape = (self.delta[layer].shape[-1], self.a[layer].shape[-1])
            dtype = self.a[layer].dtype
            self.scratch[layer] = np.empty(shape, dtype), np.empty(shape, dtype)
        g, scratch = self.scratch[layer]
        delta, a_prev = self.delta[layer], self.a[layer]
        if self.n == 1:
            g[...] = 0
            self.ger(scale, a_prev, delta, a=g.T, overwrite_a=True)
        else:
            self.gemm(scale, a_prev.T, delta.T, c=g.T, trans_b=True, overwrite_c=True)
        return g, scratch

    def bias_gradient(self, layer):
        delta = self.delta[layer]
        return delta.copy() if self.n == 1 else delta.mean(axis=0)

    def nesterov(self, layer, w, b, v_w, v_b, eta, mu, l2):
        r"""Nesterov's momentum with step = -eta (grad + l2 w): v <- mu v + step,
        w <- w + mu v + step (the new v; biases: no l2)."""
        step, _ = self.gradient(layer, -eta / self.n)
        if l2:
            self.axpy(w.reshape(-1), step.reshape(-1), a=-eta * l2)   # step -= eta l2 w
        v_w *= mu
        v_w += step
        self.axpy(v_w.reshape(-1), w.reshape(-1), a=mu)              # w += mu v
        w += step
        step_b = -eta * self.bias_gradient(layer)
        v_b *= mu
        v_b += step_b
        b += mu * v_b + step_b

    def adam(self, layer, w, b, m_w, m_b, s_w, s_b, eta, l2, rule, t):
        r"""Adam at step t with g = grad + l2 w (biases: no l2), ``adam_update``."""
        g, scratch = self.gradient(layer, 1 / self.n)
        if l2:
            self.axpy(w.reshape(-1), g.reshape(-1), a=l2)              # g += l2 w
        eta_t = eta * math.sqrt(1 - rule.beta_2 ** t) / (1 - rule.beta_1 ** t)
        adam_update(w, g, m_w, s_w, eta_t, rule, scratch)
        g_b = self.bias_gradient(layer)
        adam_update(b, g_b, m_b, s_b, eta_t, rule, np.empty_like(g_b))

    def update(self, w, b, v_w, v_b, delta, a_prev, eta, mu, l2):
        r"""BP3, BP4 and the update of one layer, in place.

        Momentum 0:  w <- (1 - eta l2) w - (eta / n) delta^T a_prev,  b <- b - eta mean(delta)
        otherwise:   v <- mu v - (eta / n) delta^T a_prev - eta l2 w,  w <- w + v  (and b, v_b)

        The product is added into w (or v) where it lies, in BLAS's terms w^T <- beta w^T -
        (eta / n) a_prev^T delta: gemm, or ger (the rank-1 update) for one sample.
        """
        n = self.n
        target, beta = (w, 1 - eta * l2) if mu == 0 else (v_w, mu)
        if n == 1:
            if beta != 1:
                target *= beta
            self.ger(-eta, a_prev, delta, a=target.T, overwrite_a=True)
        else:
            self.gemm(-eta / n, a_prev.T, delta.T, beta=beta, c=target.T, trans_b=True,
                      overwrite_c=True)
        grad_b = delta if n == 1 else delta.mean(axis=0)
        if mu == 0:
            b -= eta * grad_b
            return
        if l2:
            self.axpy(w.reshape(-1), v_w.reshape(-1), a=-eta * l2)      # v -= eta l2 w
        w += v_w
        v_b *= mu
        v_b -= eta * grad_b
        b += v_b


class VectorizedBackend:
    """The numpy twin behind ``backends.Backend``'s interface. A step at batch 1 and at batch n
    alike runs ``Step`` (``forward``, ``output_delta``, ``backward`` as one numpy expression a
    layer, and the rule's update); ``train_sample`` is one such step. It keeps its ``Step``
    buffers itself, one set per network shape, batch size and dtype."""

    def __init__(self, threads=None):
        """``threads``: BLAS threads for training (None: one, or two from ``TWO_THREADS_FLOPS``)."""
        self.steps = {}  # (sizes, n, dtype) -> Step, made on first use
        self.blas = None
        self.fixed_threads = threads

    def feedforward(self, params, x, model, work=None, masks=None):
        """Every layer's activations for the rows of x; ``masks``: one dropout mask per layer of
        inputs or hidden neurons, rows as x's (None, or a mask with no rows: no dropout)."""
        weights, biases = params.weights, params.biases
        masks = _present(masks, len(weights))
        activations = [x if masks[0] is None else x * masks[0]]
        for layer, (w, b) in enumerate(zip(weights, biases)):
            last = layer == len(weights) - 1
            _, a = forward(w, b, activations[-1], layer_kind(layer, len(weights) - 1,
                                                             model.softmax, model.kind))
            activations.append(a if last or masks[layer + 1] is None else a * masks[layer + 1])
        return activations

    def backprop(self, params, x, y, model, masks=None):
        """Gradients averaged over the rows of x and y, neurons dropped out by ``masks`` (as in
        ``feedforward``)."""
        weights = params.weights
        masks = _present(masks, len(weights))
        activations = self.feedforward(params, x, model, masks=masks)
        delta = output_delta(activations[-1], y, model.cost, model.softmax)
        grad_w, grad_b = [None] * len(weights), [None] * len(weights)
        for layer in range(len(weights) - 1, -1, -1):
            grad_w[layer], grad_b[layer], delta = backward(weights[layer], delta, activations[layer],
                                                           layer > 0, masks[layer], model.kind)
        return grad_w, grad_b

    def step(self, weights, n, dtype):
        """The ``Step`` for this network shape, batch size and dtype, made on first use."""
        sizes = (weights[0].shape[1],) + tuple(w.shape[0] for w in weights)
        key = (sizes, n, np.dtype(dtype))
        if key not in self.steps:
            self.steps[key] = Step(sizes, n, dtype)
        return self.steps[key]

    def threads(self, n):
        """BLAS held to n threads for a ``with`` block (left alone if it already has n)."""
        if self.blas is None:
            self.blas = ThreadpoolController().select(user_api="blas")
        if all(lib.num_threads == n for lib in self.blas.lib_controllers):
            return nullcontext()
        return self.blas.limit(limits=n)

    def sgd_epoch(self, params, x, y, order, batch_size, step, model, masks=None, work=None):
        """SGD steps over the rows of x and y in ``order``, ``batch_size`` at a time (see
        ``Step``); momentum 0 leaves the velocities untouched. Returns the last batch's outputs
        from its forward pass, before its step (a view of the step's buffers)."""
        weights, biases, v_w, v_b = (list(params.weights), list(params.biases),
                                     list(params.velocity_w), list(params.velocity_b))
        eta, mu, l2 = float(step.eta), float(step.mu), float(step.l2)
        rule = Rule(step.solver, float(step.beta_1), float(step.beta_2), float(step.epsilon))
        adam = (params.squares_w, params.squares_b, params.steps) if step.solver == ADAM else None
        masks = _present(masks, len(weights))
        steps = {n: self.step(weights, n, x.dtype)
                 for n in {batch_size, len(order) % batch_size} if n}
        threads = self.fixed_threads or max(step.threads for step in steps.values())
        with self.threads(threads):
            for start in range(0, len(order), batch_size):
                rows = order[start:start + batch_size]
                batch = steps[len(rows)]
                batch_masks = [None if m is None else m[start:start + batch_size] for m in masks]
                if batch.n == 1:
                    batch_masks = [None if m is None else m[0] for m in batch_masks]
                batch(weights, biases, v_w, v_b, x, y, rows, eta, mu, l2, model.cost,
                      model.softmax, model.kind, batch_masks, rule, adam)
        return batch.a[-1].reshape(-1, batch.a[-1].shape[-1])

    def train_sample(self, params, x, y, step, model, work=None):
        a = self.sgd_epoch(params, x, y, np.zeros(1, np.int64), 1, step, model, None, work)
        return float(sample_cost(a[0], y[0], model.cost, model.softmax))

    def finish_sample(self, params, work=None):
        """Nothing waits: each ``train_sample`` is a whole step."""

    def checks_samples(self, step):
        return False
