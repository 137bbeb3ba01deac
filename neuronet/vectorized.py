r"""The vectorized twin of ``loops``: the same steps, one numpy expression per layer.

Names and shapes are those of ``loops``: ``w`` is (n_out, n_in), rows of ``a_prev``, ``z``, ``a``
and ``delta`` are samples. Where ``loops`` sums over k with a loop, this sums with a matrix
product, so the two agree to the rounding of those sums, not bit for bit.

    BP1  delta^L = dC/da^L * sigma'(z^L)
    BP2  delta^l = (delta^{l+1} @ w^{l+1}) * f'(z^l)    (f' from a, ``activations.prime_array``)
    BP3  grad_b^l = delta^l.mean(axis=0)
    BP4  grad_w^l = delta^l.T @ a^{l-1} / n

Dropout as in ``loops``: ``masks[layer]`` rows of 0 (dropped) or 1/p (kept), one per sample.

``feedforward`` and ``backprop`` (predictions, gradient checks) are those expressions as written
(``forward``, ``output_delta``, ``backward``), each allocating its result. The update rules are
one function each, of one array of parameters (weights, or biases with l2 0): ``sgd_update``,
``momentum_update``, ``nesterov_update``, ``adam_update`` (``update`` is ``loops.update``'s twin).

Training (``sgd_epoch``) runs each step in ``Step``'s buffers, made once per network shape, batch
size and dtype and reused by every step and call after, so a step allocates nothing the size of
a weight matrix. Each of its products and of its updates of a whole weight matrix is a BLAS call
in place, behind a helper named for what it does whose docstring's first line is the numpy
expression it computes (``add_matmul_t``, ``matmul_into``, ``add_outer``, ``add_scaled``; and,
not BLAS, ``take_rows``, ``scale_add``, ``row_mean``):

- one sample is a vector, so its products are matrix-vector products (BLAS gemv), not
  matrix products of one row;
- BP4 and the update are one BLAS call that adds the product into the weights (or velocities)
  where they lie, ``w[...] = beta * w - (eta / n) * delta.T @ a_prev`` (gemm; ger, the rank-1
  update, for one sample), instead of writing the gradient to memory and reading it back: the
  rules take BP4's gradient as a ``WeightGradient``, which ``scale_add`` adds so;
- with momentum 0 (the post's plain SGD) there is no velocity: ``w -= eta * (grad_w + l2 * w)``
  directly and the velocity arrays are neither read nor written (they keep what they held);
  with weight decay 0 there is no l2 term;
- every product is a call to scipy's BLAS, so a step runs one OpenBLAS thread pool (``Step``);
- BLAS runs on one thread unless the step's largest product is at least ``TWO_THREADS_FLOPS``:
  on this project's 2 shared cores a second thread risks more than it gains below that.
"""
import itertools
import math
from contextlib import nullcontext
from typing import NamedTuple

import numpy as np
from scipy.linalg import blas
from threadpoolctl import ThreadpoolController

from .activations import (
    CROSS_ENTROPY,
    SIGMOID,
    SOFTMAX,
    activation_array,
    layer_kind,
    prime_array,
    prime_kept_array,
    sample_cost,
    softmax_array,
)
from .rules import ADAM, NESTEROV, Settings

# Floating-point operations of the largest matrix product of a step from which BLAS gets two
# threads. With one BLAS pool (see ``Step``) a second thread can pay on the project's 2 shared
# cores: timing single steps (`python benchmarks/checks.py --threads`, fastest and 10th
# percentile; benchmarks/RESULTS.md) gave 1.1x to 1.3x from 4.7e6 flops, 0.75x at 1.6e6.
# But whenever the second core is taken, by another program or by another thread pool of the
# same process (torch's, numba's, numpy's), a step on two threads waits for it: on a busy machine
# two threads lost everywhere (0.01x to 0.67x), and in a full report 784-100-10 at batch 100 on two
# threads ran at 0.58x numpy-textbook on one. One thread loses at most 1.3x, two can lose 10x and
# more, so one thread for every network the benchmarks train (largest product 1.3e8 flops).
TWO_THREADS_FLOPS = 2e9


def forward(w, b, a_prev, kind):
    r"""z = a_prev @ w.T + b, a = f(z) for activation ``kind`` (the softmax, or
    ``activation_array``)."""
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


# --- in place: each helper writes ``out`` where it lies, its docstring's first line in numpy ---
# The BLAS helpers are one scipy BLAS call each, on C-ordered float32 or float64 arrays of one
# dtype (given any other ``out``, scipy would write a copy and leave ``out`` as it was). BLAS is
# column-major, so a C-ordered (n_out, n_in) matrix ``w`` is its (n_in, n_out) matrix ``w.T``, and
# rows of samples are its columns. One sample is a vector, and a vector goes to gemv or ger,
# faster than gemm on a matrix of one column.

GEMM = {"d": blas.dgemm, "f": blas.sgemm}
GEMV = {"d": blas.dgemv, "f": blas.sgemv}
GER = {"d": blas.dger, "f": blas.sger}
AXPY = {"d": blas.daxpy, "f": blas.saxpy}


def take_rows(out, x, rows):
    r"""out[...] = x[rows]  (a vector out, one sample: out[...] = x[rows[0]]).

    Not BLAS, but in place like the helpers below. ``np.take`` with mode="clip": with its default
    "raise" numpy buffers ``out`` (3x the time at batch 100, `python benchmarks/checks.py
    --pieces`); the rows were checked at the public boundary (``Network.train``). The array's
    own method: ``np.take`` is two Python calls more (2.1 us against 1.6 for 10 rows, timeit).
    One sample's row is copied by indexing, which costs less than ``take`` there."""
    if out.ndim == 1:
        out[...] = x[rows[0]]
    else:
        x.take(rows, axis=0, out=out, mode="clip")


def add_matmul_t(out, a, w):
    r"""out += a @ w.T  (out: (n, n_out), a: (n, n_in), w: (n_out, n_in); or vectors out, a).

    gemm: out^T = w a^T + out^T; vectors: gemv, out = w a + out."""
    if a.ndim == 1:
        GEMV[out.dtype.char](1, w.T, a, beta=1, y=out, trans=1, overwrite_y=True)
    else:
        GEMM[out.dtype.char](1, w.T, a.T, beta=1, c=out.T, trans_a=True, overwrite_c=True)


def matmul_into(out, a, w):
    r"""out[...] = a @ w  (out: (n, n_in), a: (n, n_out), w: (n_out, n_in); or vectors out, a).

    gemm: out^T = w^T a^T; vectors: gemv, out = w^T a."""
    if a.ndim == 1:
        GEMV[out.dtype.char](1, w.T, a, y=out, overwrite_y=True)
    else:
        GEMM[out.dtype.char](1, w.T, a.T, c=out.T, overwrite_c=True)


def add_outer(out, alpha, delta, a, beta=1.0):
    r"""out[...] = beta * out + alpha * delta.T @ a  (out: (m, k), delta: (n, m), a: (n, k)).

    Vectors delta (m,) and a (k,), one sample: out[...] = beta * out + alpha * np.outer(delta, a).
    beta 0: out is not read. gemm: out^T = alpha a^T delta + beta out^T; vectors: ger (the rank-1
    update out^T = alpha a delta^T + out^T) after out *= beta."""
    if a.ndim == 1:
        if beta == 0:
            out[...] = 0
        elif beta != 1:
            out *= beta
        GER[out.dtype.char](alpha, a, delta, a=out.T, overwrite_a=True)
    else:
        GEMM[out.dtype.char](alpha, a.T, delta.T, beta=beta, c=out.T, trans_b=True,
                             overwrite_c=True)


def add_scaled(out, alpha, x):
    r"""out += alpha * x  (x and out of one shape; axpy: no temporary array for alpha * x)."""
    AXPY[out.dtype.char](x.reshape(-1), out.reshape(-1), a=alpha)


# --- the update rules (``rules``), one function each ------------------------------------------

class WeightGradient(NamedTuple):
    r"""BP4's grad_w = delta.T @ a_prev / n of n samples (one sample, vectors:
    np.outer(delta, a_prev)), not formed: ``scale_add`` adds it into the array it updates."""
    delta: np.ndarray
    a_prev: np.ndarray
    n: int


def scale_add(out, beta, alpha, grad):
    r"""out[...] = beta * out + alpha * grad  (beta 0: out is not read).

    ``grad`` is an array, or a ``WeightGradient``: then its product is added where out lies
    (``add_outer``), and the gradient is never written to memory."""
    if isinstance(grad, WeightGradient):
        add_outer(out, alpha / grad.n, grad.delta, grad.a_prev, beta)
    elif beta == 0:
        np.multiply(grad, alpha, out=out)
    else:
        if beta != 1:
            out *= beta
        out += alpha * grad


def row_mean(delta):
    r"""delta.mean(axis=0): BP3's grad_b (a vector, one sample: delta itself, not a copy).

    As its sum over the samples over their number, the same bits as numpy's ``mean`` (which
    sums, then divides) without its Python wrapper (1.5 us against 2.3 for 10 x 100, timeit)."""
    return delta if delta.ndim == 1 else delta.sum(axis=0) / delta.shape[0]


def sgd_update(p, grad, eta, l2):
    r"""Plain SGD on parameters p in place (biases: l2 0):
        p -= eta * (grad + l2 * p)
    ``grad``: an array or a ``WeightGradient``."""
    scale_add(p, 1 - eta * l2, -eta, grad)            # p = (1 - eta * l2) * p - eta * grad


def momentum_update(p, grad, v, eta, mu, l2):
    r"""SGD with momentum mu on parameters p and their velocities v in place (biases: l2 0):
        v = mu * v - eta * (grad + l2 * p);  p += v
    ``grad``: an array or a ``WeightGradient``."""
    scale_add(v, mu, -eta, grad)                      # v = mu * v - eta * grad
    if l2:
        add_scaled(v, -eta * l2, p)                   # v -= eta * l2 * p
    p += v


def nesterov_update(p, grad, v, eta, mu, l2, step):
    r"""Nesterov's momentum on parameters p and their velocities v in place, with
    step = -eta * (grad + l2 * p) (biases: l2 0):
        v = mu * v + step;  p += mu * v + step  (v the new velocity)
    ``grad``: an array or a ``WeightGradient``; ``step``: a work array of p's shape."""
    scale_add(step, 0, -eta, grad)                    # step = -eta * grad
    if l2:
        add_scaled(step, -eta * l2, p)                # step -= eta * l2 * p
    v *= mu
    v += step                                         # v = mu * v + step
    add_scaled(p, mu, v)                              # p += mu * v
    p += step


def adam_update(p, grad, m, s, eta, l2, rule, t, g, scratch):
    r"""Adam at step t on parameters p in place, with g = grad + l2 * p (``rules``):
        m = beta_1 * m + (1 - beta_1) * g
        s = beta_2 * s + (1 - beta_2) * g**2
        p -= eta_t * m / (np.sqrt(s) + epsilon)
    with eta_t = eta * sqrt(1 - beta_2**t) / (1 - beta_1**t), the bias-corrected learning rate.
    ``rule``: a record of beta_1, beta_2 and epsilon (a ``rules.Rule`` or ``rules.Settings``);
    ``grad``: an array or a ``WeightGradient``; ``g`` and ``scratch``: work arrays of p's shape."""
    beta_1, beta_2, epsilon = rule.beta_1, rule.beta_2, rule.epsilon
    scale_add(g, 0, 1, grad)                          # g = grad
    if l2:
        add_scaled(g, l2, p)                          # g += l2 * p
    eta_t = eta * math.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
    m *= beta_1
    m += np.multiply(g, 1 - beta_1, out=scratch)      # m = beta_1 * m + (1 - beta_1) * g
    s *= beta_2
    np.multiply(g, g, out=scratch)
    s += np.multiply(scratch, 1 - beta_2, out=scratch)  # s = beta_2 * s + (1 - beta_2) * g**2
    denominator = np.sqrt(s, out=scratch)
    denominator += epsilon
    change = np.multiply(m, eta_t, out=g)
    change /= denominator
    p -= change                                       # p -= eta_t * m / (np.sqrt(s) + epsilon)


def update(w, b, grad_w, grad_b, v_w, v_b, eta, mu, l2):
    r"""``loops.update``'s twin: one layer's update from its gradients, ``sgd_update`` for
    momentum 0 (the velocities untouched), else ``momentum_update``."""
    if mu == 0:
        sgd_update(w, grad_w, eta, l2)
        sgd_update(b, grad_b, eta, 0)
    else:
        momentum_update(w, grad_w, v_w, eta, mu, l2)
        momentum_update(b, grad_b, v_b, eta, mu, 0)


def python_floats(step):
    """``step`` (a ``rules.Settings``) with its numbers as Python floats, as ``Step`` takes it:
    Python's float arithmetic for the scalars (``1 - eta * l2``), whatever the arrays' dtype."""
    return Settings(float(step.eta), float(step.mu), float(step.l2), int(step.solver),
                    float(step.beta_1), float(step.beta_2), float(step.epsilon),
                    float(step.rate))


def _present(masks, n_layers):
    """One dropout mask or None per layer below the output: None where nothing is dropped."""
    return [m if m is not None and len(m) else None for m in masks or [None] * n_layers]


class Step:
    r"""One SGD step on n samples, in buffers made once for a network shape, n and a dtype.

    ``a[layer]`` holds layer ``layer``'s activations (``a[0]`` the inputs), ``delta[layer]`` the
    delta of layer ``layer + 1``, a row per sample; for one sample they are vectors. z is never
    kept: the activation overwrites it, and f' comes from a.

    Every product of the step is a call to scipy's BLAS, none to numpy's: numpy and scipy each
    bring their own OpenBLAS, each with its own worker threads, and on two threads each pool's
    workers spin on the cores the other one is waiting for (784-100, batch 100, two threads: a
    forward by numpy and an update by scipy took at best 16 ms against 0.35 ms with scipy alone,
    0.53 ms on one thread; ``python benchmarks/checks.py --pools``).
    """

    def __init__(self, sizes, n, dtype):
        rows = (lambda m: (m,)) if n == 1 else (lambda m: (n, m))
        self.n = n
        self.a = [np.empty(rows(m), dtype) for m in sizes]
        self.delta = [np.empty(rows(m), dtype) for m in sizes[1:]]
        self.f_prime = [np.empty(rows(m), dtype) for m in sizes[1:-1]]
        # BP4's gradients as the rules take them, made once: the buffers stay where they are
        self.grad_w = [WeightGradient(d, a, n) for d, a in zip(self.delta, self.a)]
        self.work = {}  # layer -> work arrays of Nesterov and Adam (``work_arrays``)
        self.y = np.empty(rows(sizes[-1]), dtype)
        largest = max(n_in * n_out for n_in, n_out in itertools.pairwise(sizes))
        self.threads = 2 if 2 * n * largest >= TWO_THREADS_FLOPS else 1

    def __call__(self, params, x, y, rows, step, model, masks):
        r"""One step on the rows ``rows`` of x and y: ``params`` a ``records.Parameters``,
        ``step`` its ``rules.Settings`` in Python floats (``python_floats``), ``model`` a
        ``records.Model``, ``masks`` one dropout mask or None per layer below the output."""
        weights, biases, v_w, v_b = (params.weights, params.biases, params.velocity_w,
                                     params.velocity_b)
        eta, mu, l2, solver = step.eta, step.mu, step.l2, step.solver
        kind, softmax = model.kind, model.softmax
        a, delta, last = self.a, self.delta, len(weights) - 1
        take_rows(a[0], x, rows)                                   # a_0 = x[rows]
        if masks[0] is not None:
            a[0] *= masks[0]
        for layer, (w, b) in enumerate(zip(weights, biases)):
            z = a[layer + 1]
            z[...] = b
            add_matmul_t(z, a[layer], w)                           # z = a_prev @ w.T + b
            if layer == last and softmax:
                z[...] = softmax_array(z)
            else:                                                  # a = f(z)
                activation_array(z, layer_kind(layer, last, softmax, kind), out=z)
            if layer < last and masks[layer + 1] is not None:
                z *= masks[layer + 1]
        take_rows(self.y, y, rows)
        delta[last][...] = output_delta(a[-1], self.y, model.cost, softmax)  # BP1
        if solver == ADAM:
            params.steps[0] += 1  # its step count t
        for layer in range(last, -1, -1):
            if layer > 0:                                          # BP2, before w changes
                self.hidden_delta(weights[layer], layer, masks[layer], kind)
            w, b, v_w_l, v_b_l = weights[layer], biases[layer], v_w[layer], v_b[layer]
            grad_w = self.grad_w[layer]                            # BP4: delta.T @ a_prev / n
            grad_b = row_mean(delta[layer])                        # BP3: delta.mean(axis=0)
            if solver == ADAM:
                work = self.work_arrays(layer)
                t = int(params.steps[0])
                adam_update(w, grad_w, v_w_l, params.squares_w[layer], eta, l2, step, t,
                            *work[:2])
                adam_update(b, grad_b, v_b_l, params.squares_b[layer], eta, 0, step, t,
                            *work[2:])
            elif solver == NESTEROV:
                work = self.work_arrays(layer)
                nesterov_update(w, grad_w, v_w_l, eta, mu, l2, work[0])
                nesterov_update(b, grad_b, v_b_l, eta, mu, 0, work[2])
            elif mu == 0:
                sgd_update(w, grad_w, eta, l2)
                sgd_update(b, grad_b, eta, 0)
            else:
                momentum_update(w, grad_w, v_w_l, eta, mu, l2)
                momentum_update(b, grad_b, v_b_l, eta, mu, 0)

    def hidden_delta(self, w, layer, mask, kind):
        r"""BP2: delta_prev = (delta @ w) * f'(z), f' from a (the sigmoid's a * (1 - a);
        ``activations.prime_array``), times the dropout mask (``prime_kept_array``)."""
        a, f_prime = self.a[layer], self.f_prime[layer - 1]
        delta, delta_prev = self.delta[layer], self.delta[layer - 1]
        matmul_into(delta_prev, delta, w)                          # delta_prev = delta @ w
        if mask is None:
            prime_array(a, kind, out=f_prime)
        else:
            f_prime[...] = prime_kept_array(a, mask, kind)
        delta_prev *= f_prime

    def work_arrays(self, layer):
        r"""Two work arrays of layer ``layer``'s weights' shape and two of its biases', made on
        first use (Nesterov's step, Adam's g and scratch)."""
        if layer not in self.work:
            n_out, n_in = self.delta[layer].shape[-1], self.a[layer].shape[-1]
            dtype = self.a[layer].dtype
            self.work[layer] = tuple(np.empty(shape, dtype)
                                     for shape in ((n_out, n_in),) * 2 + ((n_out,),) * 2)
        return self.work[layer]


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
        step = python_floats(step)
        masks = _present(masks, len(params.weights))
        steps = {n: self.step(params.weights, n, x.dtype)
                 for n in {batch_size, len(order) % batch_size} if n}
        threads = self.fixed_threads or max(batch.threads for batch in steps.values())
        with self.threads(threads):
            for start in range(0, len(order), batch_size):
                rows = order[start:start + batch_size]
                batch = steps[len(rows)]
                batch_masks = [None if m is None else m[start:start + batch_size] for m in masks]
                if batch.n == 1:
                    batch_masks = [None if m is None else m[0] for m in batch_masks]
                batch(params, x, y, rows, step, model, batch_masks)
        return batch.a[-1].reshape(-1, batch.a[-1].shape[-1])

    def train_sample(self, params, x, y, step, model, work=None):
        a = self.sgd_epoch(params, x, y, np.zeros(1, np.int64), 1, step, model, None, work)
        return float(sample_cost(a[0], y[0], model.cost, model.softmax))

    def finish_sample(self, params, work=None):
        """Nothing waits: each ``train_sample`` is a whole step."""

    def bind_sample(self, params, model, work, step):
        """None: ``train_sample`` checks nothing itself."""

    def runs(self, batch, rule):
        """The functions that run a step at batch ``batch`` ("1" or "n") by ``rule``
        (``backends.describe``): the same at any batch size."""
        return ("vectorized.Step.__call__", "vectorized.take_rows", "vectorized.add_matmul_t",
                "vectorized.output_delta", "vectorized.Step.hidden_delta", "vectorized.row_mean",
                f"vectorized.{rule}_update")
