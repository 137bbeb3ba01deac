r"""Fast loop kernels: the same backpropagation as ``loops``, in fewer passes over the weights.

At small batch sizes the time of an SGD step is the time to stream the weights through the core,
so these kernels change the order of the work, not the arithmetic (same names, same layout
``w[j, k]``, the inner loop over k so LLVM can vectorize it):

* ``backward_update`` fuses BP2, BP3, BP4 and the update of one layer into one pass over its
  weights. While a weight is still the old one it adds ``w[j, k] delta[s, j]`` into the
  previous layer's delta (BP2 needs the old weights); then its gradient ``grad_w[j, k] =
  mean_s delta[s, j] a_prev[s, k]`` (BP4) goes straight into the update, so no gradient array
  is written and read back. In the first layer the same pass also forms the next batch's z from
  the new weights, so an SGD step reads the largest weight matrix once, not twice
  (``sgd_epoch``); at batch 1 with plain SGD in one loop over k (``sgd_row_next``), which reads
  and writes each weight once a step (with momentum the next z follows from L1, ``dot_row``).
  With momentum 0 (plain SGD) the velocity is neither read nor written: at batch 1 it would
  double the bytes a step moves.
* One sample at a time, the first layer's steps are applied a block of ``BLOCK`` (16) samples
  at a time (``sgd_epoch_blocks``): a step is linear in the weights and velocities, so sample
  i's z under the weights the block's earlier samples left is the z under the block's starting
  weights plus a correction from their updates and the dot products x_m . x_i. The weights are
  then read and written once a block, not once a sample, and a step is bound by arithmetic,
  not by moving the weights: the same SGD, with the sums in another order. The layers above
  the first, small, step sample by sample as before.
* Mini-batches go by tiles of inputs k, two neurons and four samples at a time
  (``add_gradient_pair``, ``add_weighted_inputs_pair``), so each value loaded from memory
  feeds several multiply-adds (each weight four, each input two).
* Nesterov's momentum and Adam take the same single pass (``backward_update_rule``), each
  weight stepping where its gradient is formed (``nesterov_tile``, ``adam_tile``).
* ``forward_parallel`` and ``backward_update_parallel`` split the neurons of a layer between
  threads with ``numba.prange``. BP2 sums over j, which the threads share out, so there the
  hidden deltas are formed first, from the old weights, split by blocks of k instead.

``FUSED`` and ``PARALLEL`` hold the compiled epochs (the ``"loops"`` backend runs ``FUSED``);
the functions themselves stay plain Python (run them with ``NUMBA_DISABLE_JIT=1`` or call
``FUSED.sgd_epoch.py_func``), and the tests check them against the plain kernels of ``loops``.
Accumulators start from the arrays' dtype (``w.dtype.type(...)``), so float32 networks stay
float32 throughout the weight loops.
"""
from types import SimpleNamespace

import numba
import numpy as np
from numba.extending import register_jitable

from .activations import (SIGMOID, SOFTMAX, activation, layer_kind, sample_cost,
                          softmax_row)
from .jit import njit
from .rules import ADAM, SGD, SGD_RULE
from .loops import (KERNELS, LoopBackend, adam_change, adam_rate, aligned_empty, copy_row,
                    drop, drop_layer, hidden_prime, no_masks, output_delta)

# Hidden deltas in the parallel kernel are split in blocks of this many inputs k: 64 float64 are
# 8 cache lines, enough to vectorize and few enough that 784 inputs make 13 blocks for 2 threads.
K_BLOCK = 64

# Handing a layer to the threads costs a few microseconds; a 784-30 layer (23,520 weights) takes
# about 3 us a pass on one core (9 us measured for 784-100) and gained nothing from two in the
# prototype (0.8x); output layers such as 100-10 are smaller still. Below this many weights a
# layer stays on one thread.
PARALLEL_MIN_WEIGHTS = 32_768

# SGD one sample at a time applies the first layer's steps this many samples at a time
# (``sgd_epoch_blocks``).
BLOCK = 16

_FASTMATH = {"reassoc", "contract"}  # the flags of loops.KERNELS, for the reasons given there
_jit = njit(fastmath=_FASTMATH)
# prange only splits loops in a function compiled with parallel=True, so the two parallel layer
# kernels are compiled on their own (their plain Python stays at ``.py_func``).
_parallel_jit = njit(fastmath=_FASTMATH, parallel=True)


@register_jitable
def activate(z, a, kind):
    """a = f(z) for activation ``kind``, row by row (the second half of ``loops.forward``)."""
    for s in range(z.shape[0]):
        if kind == SOFTMAX:
            softmax_row(z[s], a[s])
        else:
            for j in range(z.shape[1]):
                a[s, j] = activation(z[s, j], kind)


@register_jitable
def update_bias(b, v_b, j, grad_b, eta, mu):
    r"""b[j] <- b[j] - eta grad_b with mu == 0; else v_b[j] <- mu v_b[j] - eta grad_b, b[j] += v_b[j]."""
    if mu == 0:
        b[j] -= eta * grad_b
    else:
        v_b[j] = mu * v_b[j] - eta * grad_b
        b[j] += v_b[j]


@register_jitable
def sgd_row_next(w, j, c, row, eta, l2, x_next, z):
    r"""Plain SGD (momentum 0) on neuron j's row for one sample, grad_w[j, k] = -c row[k] / eta
    (row = a_prev, c = -eta delta[j]), and the next sample's z + sum_k w[j, k] x_next[k] from
    the new row, in the same loop over k, so the row is read and written once a step:

        w[j, k] <- w[j, k] - eta (grad_w[j, k] + l2 w[j, k]) = (1 - eta l2) w[j, k] + c row[k]

    The velocity is neither read nor written: at batch 1 moving the row is the whole cost of
    the update, and a velocity would double the bytes.
    """
    # exactly 1 without L2, so then w[j, k] + c row[k] to the last bit; a 1 of w's dtype, as an
    # int 1 would make float32 arithmetic float64
    keep = w.dtype.type(1) - eta * l2
    for k in range(w.shape[1]):
        w_new = keep * w[j, k] + c * row[k]
        w[j, k] = w_new
        z += w_new * x_next[k]
    return z


@register_jitable
def momentum_row(w, v_w, j, c, row, eta, mu, l2):
    r"""Momentum SGD on neuron j's row for one sample, grad_w[j, k] = -c row[k] / eta:
    v[j, k] <- mu v[j, k] - eta (grad_w[j, k] + l2 w[j, k]),  w[j, k] <- w[j, k] + v[j, k].

    The next z is formed after it (``dot_row``), from L1, not in this loop: fused, it ran at the
    same speed here (784-H layers timed alone, issue 10), and kept apart an epoch's first z is
    formed by the same loop as the others (``first_forward``)."""
    decay = -eta * l2
    for k in range(w.shape[1]):
        v_w[j, k] = mu * v_w[j, k] + (c * row[k] + decay * w[j, k])
        w[j, k] += v_w[j, k]


@register_jitable
def error_step_row(w, v_w, j, d, c, row, error, keep, mu, decay):
    r"""BP2's share of neuron j from its old row, then its one-sample step (c = -eta d, keep =
    1 - eta l2, decay = -eta l2), in one loop over k:

        error[k] += w[j, k] d
        w[j, k] <- keep w[j, k] + c row[k]                                   (mu == 0)
        v[j, k] <- mu v[j, k] + (c row[k] + decay w[j, k]),  w[j, k] += v[j, k]  (momentum)
    """
    if mu == 0:  # a loop for each kind of step (see ``backward_update``)
        for k in range(w.shape[1]):
            error[k] += w[j, k] * d
            w[j, k] = keep * w[j, k] + c * row[k]
    else:
        for k in range(w.shape[1]):
            error[k] += w[j, k] * d
            v_w[j, k] = mu * v_w[j, k] + (c * row[k] + decay * w[j, k])
            w[j, k] += v_w[j, k]


@register_jitable
def dot_row(w, j, x, z):
    r"""z + sum_k w[j, k] x[k]."""
    for k in range(w.shape[1]):
        z += w[j, k] * x[k]
    return z


@register_jitable
def add_gradient(target, delta, a_prev, j, c, first, stop):
    r"""target[k - first] += c sum_s delta[s, j] a_prev[s, k] for k in [first, stop): BP4 for
    neuron j times c = -eta / n, added straight into the row it updates (w, or v with momentum),
    so no gradient is stored. Four samples at a time: each load and store of target[k]
    carries four multiply-adds."""
    n = a_prev.shape[0]
    s = 0
    # Slices, so k counts from 0: with range(first, stop) numba's check for negative indices
    # stayed in the loop and LLVM left it scalar (or gathered).
    while s + 4 <= n:
        e0, e1 = c * delta[s, j], c * delta[s + 1, j]
        e2, e3 = c * delta[s + 2, j], c * delta[s + 3, j]
        a0, a1 = a_prev[s, first:stop], a_prev[s + 1, first:stop]
        a2, a3 = a_prev[s + 2, first:stop], a_prev[s + 3, first:stop]
        for k in range(target.shape[0]):
            target[k] += e0 * a0[k] + e1 * a1[k] + e2 * a2[k] + e3 * a3[k]
        s += 4
    for s in range(s, n):
        e, a = c * delta[s, j], a_prev[s, first:stop]
        for k in range(target.shape[0]):
            target[k] += e * a[k]


@register_jitable
def add_gradient_pair(target0, target1, delta, a_prev, j, c, first, stop):
    r"""``add_gradient`` for neurons j (into target0) and j + 1 (into target1) at once, so each
    a_prev[s, k] loaded feeds two multiply-adds: 1.5 to 1.8x the speed of one neuron at a time
    when the batch's inputs come from L2 (one layer timed alone, issue 10; the same blocking in
    ``forward``)."""
    n = a_prev.shape[0]
    s = 0
    while s + 4 <= n:
        e0, e1 = c * delta[s, j], c * delta[s + 1, j]
        e2, e3 = c * delta[s + 2, j], c * delta[s + 3, j]
        f0, f1 = c * delta[s, j + 1], c * delta[s + 1, j + 1]
        f2, f3 = c * delta[s + 2, j + 1], c * delta[s + 3, j + 1]
        a0, a1 = a_prev[s, first:stop], a_prev[s + 1, first:stop]
        a2, a3 = a_prev[s + 2, first:stop], a_prev[s + 3, first:stop]
        for k in range(target0.shape[0]):
            target0[k] += e0 * a0[k] + e1 * a1[k] + e2 * a2[k] + e3 * a3[k]
            target1[k] += f0 * a0[k] + f1 * a1[k] + f2 * a2[k] + f3 * a3[k]
        s += 4
    for s in range(s, n):
        e, f, a = c * delta[s, j], c * delta[s, j + 1], a_prev[s, first:stop]
        for k in range(target0.shape[0]):
            target0[k] += e * a[k]
            target1[k] += f * a[k]


@register_jitable
def bias_gradient(delta, j):
    r"""BP3: mean_s delta[s, j]. A loop of its own: inside the sample loops LLVM vectorized it
    across samples with gathers of delta[s, j] and left the loops over k scalar."""
    total = delta.dtype.type(0)
    for s in range(delta.shape[0]):
        total += delta[s, j]
    return total / delta.dtype.type(delta.shape[0])


@register_jitable
def hidden_deltas_finish(a_prev, delta_prev, mask_prev, kind):
    r"""BP2's last factor: delta_prev[s, k] *= f'(z[s, k]), from a_prev[s, k] (the sigmoid's
    a (1 - a), ``activations.prime``), times the dropout mask if ``mask_prev`` has rows."""
    for s in range(delta_prev.shape[0]):
        for k in range(delta_prev.shape[1]):
            delta_prev[s, k] *= hidden_prime(a_prev, mask_prev, s, k, kind)


@register_jitable
def error_row(w, delta, delta_prev, j, first, stop):
    r"""BP2's sum, neuron j's share, from its old row: delta_prev[s, k] += w[j, k] delta[s, j]."""
    w_j = w[j, first:stop]  # slices, so k counts from 0 (see ``add_gradient``)
    for s in range(delta.shape[0]):
        d, error = delta[s, j], delta_prev[s, first:stop]
        for k in range(w_j.shape[0]):
            error[k] += w_j[k] * d


@register_jitable
def sgd_tile(w, delta, a_prev, j, c, keep, first, stop):
    r"""Plain SGD on w[j, first:stop], the velocity neither read nor written (c = -eta / n):

        w[j, k] <- (1 - eta l2) w[j, k] + c sum_s delta[s, j] a_prev[s, k]
    """
    w_j = w[j, first:stop]
    if keep != 1:  # L2
        for k in range(w_j.shape[0]):
            w_j[k] *= keep
    add_gradient(w_j, delta, a_prev, j, c, first, stop)


@register_jitable
def momentum_tile(w, v_w, delta, a_prev, j, c, mu, decay, first, stop):
    r"""Momentum SGD on w[j, first:stop]: v[j, k] <- mu v[j, k] - eta l2 w[j, k] + c sum_s
    delta[s, j] a_prev[s, k] (decay = -eta l2, c = -eta / n), then w[j, k] <- w[j, k] + v[j, k]."""
    w_j, v_j = w[j, first:stop], v_w[j, first:stop]
    for k in range(w_j.shape[0]):
        v_j[k] = mu * v_j[k] + decay * w_j[k]
    add_gradient(v_j, delta, a_prev, j, c, first, stop)
    for k in range(w_j.shape[0]):
        w_j[k] += v_j[k]


@register_jitable
def sgd_tile_pair(w, delta, a_prev, j, c, keep, first, stop):
    r"""``sgd_tile`` for neurons j and j + 1 at once (``add_gradient_pair``)."""
    w_j, w_i = w[j, first:stop], w[j + 1, first:stop]
    if keep != 1:
        for k in range(w_j.shape[0]):
            w_j[k] *= keep
            w_i[k] *= keep
    add_gradient_pair(w_j, w_i, delta, a_prev, j, c, first, stop)


@register_jitable
def momentum_tile_pair(w, v_w, delta, a_prev, j, c, mu, decay, first, stop):
    r"""``momentum_tile`` for neurons j and j + 1 at once (``add_gradient_pair``)."""
    w_j, v_j = w[j, first:stop], v_w[j, first:stop]
    w_i, v_i = w[j + 1, first:stop], v_w[j + 1, first:stop]
    for k in range(w_j.shape[0]):
        v_j[k] = mu * v_j[k] + decay * w_j[k]
        v_i[k] = mu * v_i[k] + decay * w_i[k]
    add_gradient_pair(v_j, v_i, delta, a_prev, j, c, first, stop)
    for k in range(w_j.shape[0]):
        w_j[k] += v_j[k]
        w_i[k] += v_i[k]


# Inputs k per tile of a mini-batch step in backward_update, when the tile's columns of a_prev and
# a_next (2 n K_TILE values) fit in L1 (48 KB here): with 10 float64 samples (40 KB) tiles of 256
# took 0.70 of the time of whole rows (0.80 with 144, 0.82 with 64; a 784-100 layer timed alone,
# issue 10). With 100 samples no useful tile fits, and tiles of 32 (what would) were 1.5x slower
# than whole rows.
K_TILE = 256
L1_BYTES = 48 * 1024


@register_jitable
def tile_width(n, n_in, itemsize):
    """K_TILE if a tile of n samples' a_prev and a_next fits in L1, else the whole row, n_in."""
    return K_TILE if 2 * n * K_TILE * itemsize <= L1_BYTES else n_in


@register_jitable
def backward_update(w, b, v_w, v_b, delta, a_prev, delta_prev, eta, mu, l2, hidden, a_next,
                    z_next, mask_prev, kind):
    r"""BP2, BP3, BP4 and the update of one layer, one pass over its weights.

    For each weight, before it changes:
        delta_prev[s, k] += w[j, k] delta[s, j]            (BP2's sum over j, old weights)
        grad_w[j, k]      = mean_s delta[s, j] a_prev[s, k] (BP4; BP3 for the bias)
        v[j, k] <- mu v[j, k] - eta (grad_w[j, k] + l2 w[j, k]),  w[j, k] <- w[j, k] + v[j, k]
    (with mu == 0, w[j, k] <- w[j, k] - eta (grad_w[j, k] + l2 w[j, k]), no velocity), and at the
    end delta_prev[s, k] *= f'(z_prev[s, k]) from a_prev (activation ``kind``; times the dropout
    mask). Right after
    a weight changes, while it is in cache, it goes into the next batch's z_next[s, j] = b[j] +
    sum_k w[j, k] a_next[s, k] (the first layer only: a_next is the next input; no rows elsewhere).

    One sample in the first layer: row by row, the new row and the next z in one loop over k.
    Otherwise by tiles of inputs (``tile_width``) and pairs of neurons: the gradient is added
    straight into w (or v), and each a_prev[s, k] or a_next[s, k] loaded serves two neurons.
    """
    n_out, n_in = w.shape
    n = delta.shape[0]
    if hidden:
        zero = w.dtype.type(0)
        for s in range(n):
            for k in range(n_in):
                delta_prev[s, k] = zero
    # One loop over the rows for each kind of step: with the choice inside the loop, LLVM
    # compiled the row loops at up to half the speed they reach alone (1.8 to 2.5x the time of
    # a bare w += c x pass over the weights, against 1.25x; a 784-100 layer timed alone, issue 10).
    if n == 1 and hidden and a_next.shape[0] == 0:  # no next z to form (layers above the first)
        # One loop over k per row for BP2 and the step: by tiles and pairs, a 10 x 30 layer's
        # one-sample step took about 850 ns here, its rows too short for the vector loops (a
        # scalar tail of 14 to 30 k); this way 400 to 690 ns in float64, 430 to 580 in float32
        # (the layer timed alone under load 2, 20,000 steps, best of 7).
        keep, decay = w.dtype.type(1) - eta * l2, -eta * l2
        for j in range(n_out):
            update_bias(b, v_b, j, delta[0, j], eta, mu)
            error_step_row(w, v_w, j, delta[0, j], -eta * delta[0, j], a_prev[0],
                           delta_prev[0], keep, mu, decay)
        hidden_deltas_finish(a_prev, delta_prev, mask_prev, kind)
        return
    if n == 1 and not hidden:
        # The last step of a call has no next sample; it still runs the loop of the others (z
        # thrown away), whose rounding an epoch split over several calls must repeat.
        has_next = a_next.shape[0] == 1
        x_next = a_next[0] if has_next else a_prev[0]
        if mu == 0:
            for j in range(n_out):
                update_bias(b, v_b, j, delta[0, j], eta, mu)
                z = sgd_row_next(w, j, -eta * delta[0, j], a_prev[0], eta, l2, x_next, b[j])
                if has_next:
                    z_next[0, j] = z
        else:
            for j in range(n_out):
                update_bias(b, v_b, j, delta[0, j], eta, mu)
                momentum_row(w, v_w, j, -eta * delta[0, j], a_prev[0], eta, mu, l2)
                if has_next:
                    z_next[0, j] = dot_row(w, j, x_next, b[j])
        return
    for j in range(n_out):
        update_bias(b, v_b, j, bias_gradient(delta, j), eta, mu)
        for s in range(a_next.shape[0]):
            z_next[s, j] = b[j]
    c = -eta / w.dtype.type(n)  # the mean's 1 / n, in the arrays' dtype
    keep, decay = w.dtype.type(1) - eta * l2, -eta * l2
    pairs = n_out - n_out % 2
    tile = tile_width(n, n_in, w.itemsize)
    for first in range(0, n_in, tile):
        stop = min(n_in, first + tile)
        for j in range(0, pairs, 2):
            if hidden:
                error_row(w, delta, delta_prev, j, first, stop)
                error_row(w, delta, delta_prev, j + 1, first, stop)
            if mu == 0:
                sgd_tile_pair(w, delta, a_prev, j, c, keep, first, stop)
            else:
                momentum_tile_pair(w, v_w, delta, a_prev, j, c, mu, decay, first, stop)
            add_weighted_inputs_pair(w, a_next, z_next, j, first, stop)
        for j in range(pairs, n_out):
            if hidden:
                error_row(w, delta, delta_prev, j, first, stop)
            if mu == 0:
                sgd_tile(w, delta, a_prev, j, c, keep, first, stop)
            else:
                momentum_tile(w, v_w, delta, a_prev, j, c, mu, decay, first, stop)
            add_weighted_inputs(w, a_next, z_next, j, first, stop)
    if hidden:
        hidden_deltas_finish(a_prev, delta_prev, mask_prev, kind)


@register_jitable
def update_bias_rule(b, v_b, s_b, j, grad_b, eta, mu, rule):
    r"""Nesterov's momentum or Adam on neuron j's bias (``loops.update_nesterov``,
    ``loops.update_adam``); ``rule`` is ``backward_update_rule``'s."""
    solver, eta_t, beta_1, beta_2, epsilon = rule
    if solver == ADAM:
        change, m, s = adam_change(grad_b, v_b[j], s_b[j], eta_t, beta_1, beta_2, epsilon)
        b[j] += change
        v_b[j], s_b[j] = m, s
    else:
        step = -eta * grad_b
        v_b[j] = mu * v_b[j] + step
        b[j] += mu * v_b[j] + step


@register_jitable
def nesterov_tile(w, v_w, delta, a_prev, j, c, mu, decay, first, stop):
    r"""Nesterov's momentum on w[j, first:stop], the gradient added straight into v (c = -eta / n,
    decay = -eta l2): v <- mu v - eta (grad + l2 w) and w <- w + mu v - eta (grad + l2 w), which
    is w - mu v_old + (1 + mu) v with v the new velocity, so no step is stored."""
    w_j, v_j = w[j, first:stop], v_w[j, first:stop]
    for k in range(w_j.shape[0]):
        old = v_j[k]
        v_j[k] = mu * old + decay * w_j[k]
        w_j[k] -= mu * old
    add_gradient(v_j, delta, a_prev, j, c, first, stop)
    ahead = mu + w.dtype.type(1)
    for k in range(w_j.shape[0]):
        w_j[k] += ahead * v_j[k]


@register_jitable
def adam_tile(w, m_w, s_w, g_row, delta, a_prev, j, l2, rule, first, stop):
    r"""Adam on w[j, first:stop]: the gradient mean_s delta[s, j] a_prev[s, k] is formed in the
    scratch row g_row, then each weight steps with g = grad + l2 w (``loops.adam_change``)."""
    solver, eta_t, beta_1, beta_2, epsilon = rule
    w_j, m_j, s_j, g = w[j, first:stop], m_w[j, first:stop], s_w[j, first:stop], g_row[first:stop]
    for k in range(g.shape[0]):
        g[k] = 0
    add_gradient(g, delta, a_prev, j, w.dtype.type(1) / w.dtype.type(delta.shape[0]), first,
                 stop)
    for k in range(w_j.shape[0]):
        change, m, s = adam_change(g[k] + l2 * w_j[k], m_j[k], s_j[k], eta_t, beta_1, beta_2,
                                   epsilon)
        w_j[k] += change
        m_j[k], s_j[k] = m, s


@register_jitable
def backward_update_rule(w, b, v_w, v_b, s_w, s_b, g_row, delta, a_prev, delta_prev, eta, mu,
                         l2, rule, hidden, a_next, z_next, mask_prev, kind):
    r"""``backward_update`` for Nesterov's momentum and Adam: the same one pass over the weights,
    by tiles of inputs, BP2 from each old weight, then its update (``nesterov_tile``,
    ``adam_tile``), then the next batch's z from it. ``rule`` is (solver, eta_t, beta_1, beta_2,
    epsilon), eta_t Adam's bias-corrected rate at this step; s_w, s_b hold Adam's second moments
    (its first are in v_w, v_b); g_row is a scratch row of n_in values."""
    n_out, n_in = w.shape
    n = delta.shape[0]
    if hidden:
        zero = w.dtype.type(0)
        for s in range(n):
            for k in range(n_in):
                delta_prev[s, k] = zero
    for j in range(n_out):
        update_bias_rule(b, v_b, s_b, j, bias_gradient(delta, j), eta, mu, rule)
        for s in range(a_next.shape[0]):
            z_next[s, j] = b[j]
    c, decay = -eta / w.dtype.type(n), -eta * l2
    tile = tile_width(n, n_in, w.itemsize)
    for first in range(0, n_in, tile):
        stop = min(n_in, first + tile)
        for j in range(n_out):
            if hidden:
                error_row(w, delta, delta_prev, j, first, stop)
            if rule[0] == ADAM:
                adam_tile(w, v_w, s_w, g_row, delta, a_prev, j, l2, rule, first, stop)
            else:
                nesterov_tile(w, v_w, delta, a_prev, j, c, mu, decay, first, stop)
            add_weighted_inputs(w, a_next, z_next, j, first, stop)
    if hidden:
        hidden_deltas_finish(a_prev, delta_prev, mask_prev, kind)


@register_jitable
def layer_step(w, b, v_w, v_b, s_w, s_b, g_row, delta, a_prev, delta_prev, eta, mu, l2, rule,
               hidden, a_next, z_next, mask_prev, kind):
    """One layer's pass by the step's rule: ``backward_update`` for SGD with or without
    momentum, ``backward_update_rule`` for Nesterov's momentum and Adam."""
    if rule[0] == SGD:
        backward_update(w, b, v_w, v_b, delta, a_prev, delta_prev, eta, mu, l2, hidden, a_next,
                        z_next, mask_prev, kind)
    else:
        backward_update_rule(w, b, v_w, v_b, s_w, s_b, g_row, delta, a_prev, delta_prev, eta,
                             mu, l2, rule, hidden, a_next, z_next, mask_prev, kind)


@register_jitable
def add_weighted_inputs(w, a_prev, z, j, first, stop):
    r"""z[s, j] += sum_k w[j, k] a_prev[s, k] over k in [first, stop), for every sample s.

    Four samples at a time, so each w[j, k] loaded feeds four multiply-adds, not one.
    """
    n = a_prev.shape[0]
    w_j = w[j, first:stop]  # slices, so k counts from 0 (see ``add_gradient``)
    s = 0
    while s + 4 <= n:
        a0, a1 = a_prev[s, first:stop], a_prev[s + 1, first:stop]
        a2, a3 = a_prev[s + 2, first:stop], a_prev[s + 3, first:stop]
        z0, z1, z2, z3 = z[s, j], z[s + 1, j], z[s + 2, j], z[s + 3, j]
        for k in range(w_j.shape[0]):
            z0 += w_j[k] * a0[k]
            z1 += w_j[k] * a1[k]
            z2 += w_j[k] * a2[k]
            z3 += w_j[k] * a3[k]
        z[s, j], z[s + 1, j], z[s + 2, j], z[s + 3, j] = z0, z1, z2, z3
        s += 4
    for s in range(s, n):
        a, total = a_prev[s, first:stop], z[s, j]
        for k in range(w_j.shape[0]):
            total += w_j[k] * a[k]
        z[s, j] = total


@register_jitable
def add_weighted_inputs_pair(w, a_prev, z, j, first, stop):
    r"""``add_weighted_inputs`` for neurons j and j + 1 at once: four samples by two neurons, so
    each a_prev[s, k] loaded feeds two multiply-adds and each w[j, k] four (1.5 to 1.8x the
    speed of one neuron at a time for 8 to 96 samples; a 784-100 layer timed alone, issue 10)."""
    n = a_prev.shape[0]
    w_j, w_i = w[j, first:stop], w[j + 1, first:stop]
    s = 0
    while s + 4 <= n:
        a0, a1 = a_prev[s, first:stop], a_prev[s + 1, first:stop]
        a2, a3 = a_prev[s + 2, first:stop], a_prev[s + 3, first:stop]
        z0, z1, z2, z3 = z[s, j], z[s + 1, j], z[s + 2, j], z[s + 3, j]
        y0, y1, y2, y3 = z[s, j + 1], z[s + 1, j + 1], z[s + 2, j + 1], z[s + 3, j + 1]
        for k in range(w_j.shape[0]):
            z0 += w_j[k] * a0[k]
            z1 += w_j[k] * a1[k]
            z2 += w_j[k] * a2[k]
            z3 += w_j[k] * a3[k]
            y0 += w_i[k] * a0[k]
            y1 += w_i[k] * a1[k]
            y2 += w_i[k] * a2[k]
            y3 += w_i[k] * a3[k]
        z[s, j], z[s + 1, j], z[s + 2, j], z[s + 3, j] = z0, z1, z2, z3
        z[s, j + 1], z[s + 1, j + 1], z[s + 2, j + 1], z[s + 3, j + 1] = y0, y1, y2, y3
        s += 4
    for s in range(s, n):
        a, total, other = a_prev[s, first:stop], z[s, j], z[s, j + 1]
        for k in range(w_j.shape[0]):
            total += w_j[k] * a[k]
            other += w_i[k] * a[k]
        z[s, j], z[s, j + 1] = total, other


@register_jitable
def forward_neuron(w, b, a_prev, z, j):
    r"""Neuron j's weighted inputs z[s, j] = b[j] + sum_k w[j, k] a_prev[s, k] for every sample s."""
    for s in range(a_prev.shape[0]):
        z[s, j] = b[j]
    add_weighted_inputs(w, a_prev, z, j, 0, w.shape[1])


@register_jitable
def forward(w, b, a_prev, z, a, kind):
    r"""``loops.forward`` by pairs of neurons: z[s, j] = b[j] + sum_k w[j, k] a_prev[s, k], a = f(z)."""
    n_out = w.shape[0]
    for j in range(n_out):
        for s in range(a_prev.shape[0]):
            z[s, j] = b[j]
    pairs = n_out - n_out % 2
    for j in range(0, pairs, 2):
        add_weighted_inputs_pair(w, a_prev, z, j, 0, w.shape[1])
    for j in range(pairs, n_out):
        add_weighted_inputs(w, a_prev, z, j, 0, w.shape[1])
    activate(z, a, kind)


@_parallel_jit
def forward_parallel(w, b, a_prev, z, a, kind):
    r"""``forward`` with the neurons j shared between threads."""
    for j in numba.prange(w.shape[0]):
        forward_neuron(w, b, a_prev, z, j)
    activate(z, a, kind)


@_parallel_jit
def backward_update_parallel(w, b, v_w, v_b, delta, a_prev, delta_prev, grad_rows, eta, mu, l2,
                             hidden, a_next, z_next, mask_prev, kind):
    r"""``backward_update`` on threads: first BP2 from the old weights, by blocks of inputs k,

        delta_prev[s, k] = (sum_j w[j, k] delta[s, j]) f'(z_prev[s, k]) (m[s, k]),

    then BP3, BP4 and the update, the rows j split in ``grad_rows.shape[0]`` chunks, one per
    thread, and the next batch's z_next as there (its rows are not used: the gradient is added
    straight into w or v, ``sgd_tile``)."""
    n_out, n_in = w.shape
    n = delta.shape[0]
    if hidden:
        zero = w.dtype.type(0)
        for block in numba.prange((n_in + K_BLOCK - 1) // K_BLOCK):
            first, stop = block * K_BLOCK, min(n_in, (block + 1) * K_BLOCK)
            for s in range(n):
                for k in range(first, stop):
                    delta_prev[s, k] = zero
                for j in range(n_out):
                    d = delta[s, j]
                    for k in range(first, stop):
                        delta_prev[s, k] += w[j, k] * d
                for k in range(first, stop):
                    delta_prev[s, k] *= hidden_prime(a_prev, mask_prev, s, k, kind)
    c = -eta / w.dtype.type(n)  # as in ``backward_update``
    keep, decay = w.dtype.type(1) - eta * l2, -eta * l2
    chunks = grad_rows.shape[0]
    for chunk in numba.prange(chunks):
        for j in range(chunk * n_out // chunks, (chunk + 1) * n_out // chunks):
            update_bias(b, v_b, j, bias_gradient(delta, j), eta, mu)
            if mu == 0:
                sgd_tile(w, delta, a_prev, j, c, keep, 0, n_in)
            else:
                momentum_tile(w, v_w, delta, a_prev, j, c, mu, decay, 0, n_in)
            forward_neuron(w, b, a_next, z_next, j)


@register_jitable
def feedforward(weights, biases, zs, activations, n, softmax, kind):
    """``loops.feedforward`` by the sample-blocked ``forward``."""
    last = len(weights) - 1
    for layer in range(last + 1):
        forward(weights[layer], biases[layer], activations[layer][:n], zs[layer][:n],
                activations[layer + 1][:n], layer_kind(layer, last, softmax, kind))


@register_jitable
def forward_parallel_if_large(w, b, a_prev, z, a, kind):
    """``forward_parallel`` for a layer of at least PARALLEL_MIN_WEIGHTS weights, else ``forward``."""
    if w.size >= PARALLEL_MIN_WEIGHTS:
        forward_parallel(w, b, a_prev, z, a, kind)
    else:
        forward(w, b, a_prev, z, a, kind)


@register_jitable
def feedforward_parallel(weights, biases, zs, activations, n, softmax, kind):
    """``feedforward`` with the neurons of each large layer shared between threads."""
    last = len(weights) - 1
    for layer in range(last + 1):
        forward_parallel_if_large(weights[layer], biases[layer], activations[layer][:n],
                                  zs[layer][:n], activations[layer + 1][:n],
                                  layer_kind(layer, last, softmax, kind))


@register_jitable
def next_batch(x, y, order, start, batch_size, x_next, y_batch):
    """Gather the batch after the one at ``start`` into x_next and y_batch; returns its size."""
    first = start + batch_size
    n_next = max(0, min(batch_size, order.shape[0] - first))
    for s in range(n_next):
        copy_row(x[order[first + s]], x_next[s])
        copy_row(y[order[first + s]], y_batch[s])
    return n_next


@register_jitable
def first_forward(w, b, v_w, v_b, delta, x, z, no_mask, eta, mu, solver):
    r"""The first layer's z = b + w x for an epoch's first batch, by the very loops that form it
    for every later batch inside ``backward_update``, so an epoch split over several calls
    (``neuronet compare``'s lock-step chunks) gives the same bits as one call: fastmath lets
    LLVM sum each loop in its own order. Where the sum shares a loop with the update (plain SGD),
    a step with learning rate eta - eta = 0 and no error, which leaves w and b as they are
    (w + (-0) x = w; a zero LLVM cannot see, so it compiles the same loop). Nesterov's momentum
    and Adam form z in loops of their own (``backward_update_rule``), the same here."""
    n = x.shape[0]
    eta_zero = eta - eta
    if solver != SGD:
        for j in range(w.shape[0]):
            for s in range(n):
                z[s, j] = b[j]
        tile = tile_width(n, w.shape[1], w.itemsize)
        for first in range(0, w.shape[1], tile):
            for j in range(w.shape[0]):
                add_weighted_inputs(w, x, z, j, first, min(w.shape[1], first + tile))
    elif n == 1 and mu != 0:
        for j in range(w.shape[0]):
            z[0, j] = dot_row(w, j, x[0], b[j])
    elif n == 1:
        for j in range(w.shape[0]):
            z[0, j] = sgd_row_next(w, j, -eta_zero, x[0], eta_zero, eta_zero, x[0], b[j])
    else:
        delta[:, :] = 0
        backward_update(w, b, v_w, v_b, delta, x, delta, eta_zero, eta_zero, eta_zero, False,
                        x, z, no_mask, SIGMOID)  # not hidden: no f' is taken


@register_jitable
def upper_layers_step(weights, biases, v_w, v_b, s_w, s_b, grad_rows, masks, zs, activations,
                      deltas, y_batch, start, n, eta, mu, l2, rule, cost, softmax, kind):
    """One step of every layer above the first, on the n samples at ``start`` whose first
    layer's activations are in activations[1]: forward, BP1, then one pass per layer down to
    the second, which leaves the first layer's error in deltas[0]."""
    last = len(weights) - 1
    for layer in range(1, last + 1):
        forward(weights[layer], biases[layer], activations[layer][:n], zs[layer][:n],
                activations[layer + 1][:n], layer_kind(layer, last, softmax, kind))
        drop_layer(activations, masks, layer + 1, start, n)
    output_delta(activations[last + 1][:n], y_batch[:n], deltas[last][:n], cost, softmax)
    for layer in range(last, 0, -1):
        layer_step(weights[layer], biases[layer], v_w[layer], v_b[layer], s_w[layer], s_b[layer],
                   grad_rows[layer][0], deltas[layer][:n], activations[layer][:n],
                   deltas[layer - 1][:n], eta, mu, l2, rule, True, activations[0][:0],
                   zs[layer][:0], masks[layer][start:start + n], kind)


@register_jitable
def gather_inputs(x, order, first, out, mask):
    """out[s] = x[order[first + s]] for as many rows as are left (returned), times the input
    dropout mask's rows first + s when there is one."""
    n = max(0, min(out.shape[0], order.shape[0] - first))
    for s in range(n):
        copy_row(x[order[first + s]], out[s])
    drop(out[:n], mask[first:first + n])
    return n


@register_jitable
def block_powers(eta, mu, l2, powers):
    r"""powers[:, k] = (a, b, c, d), the entries of A^k for k = 0, 1, ..., where

        A = [[1 - eta l2, mu], [-eta l2, mu]]

    is what a one-sample step does to a weight w and its velocity v besides the update u =
    -eta delta[j] a_prev[k] (``momentum_row``; with mu = 0, ``sgd_row_next``'s w):
    (w, v) <- A (w, v) + (u, u). So k steps after a block's start w = a w0 + b v0 + ..., and an
    update made k steps before the end of a block has added (a + b) u to w and (c + d) u to v."""
    one, zero = powers.dtype.type(1), powers.dtype.type(0)
    keep, decay = one - eta * l2, -eta * l2
    a, b, c, d = one, zero, zero, one
    for k in range(powers.shape[1]):
        powers[0, k], powers[1, k], powers[2, k], powers[3, k] = a, b, c, d
        a, b, c, d = keep * a + mu * c, keep * b + mu * d, decay * a + mu * c, decay * b + mu * d


@register_jitable
def carry_row(w, v_w, j, first, stop, a, b, c, d, moving):
    r"""w[j, k] <- a w[j, k] + b v[j, k], v[j, k] <- c w[j, k] + d v[j, k] on k in [first, stop),
    v only when ``moving`` (momentum; without it v is neither read nor written)."""
    w_j, v_j = w[j, first:stop], v_w[j, first:stop]
    if moving:
        for k in range(w_j.shape[0]):
            w_old = w_j[k]
            w_j[k] = a * w_old + b * v_j[k]
            v_j[k] = c * w_old + d * v_j[k]
    else:
        for k in range(w_j.shape[0]):
            w_j[k] *= a


@register_jitable
def apply_block(w, v_w, power, moving, c_w, c_v, x, x_next, z_w, z_v, tile):
    r"""A block's one-sample steps on every weight at once, then the next block's products.

    With n = c_w.shape[0] samples x_m waiting and (a, b, c, d) = power, A^n's entries:
        w[j, k] <- a w[j, k] + b v[j, k] + sum_m c_w[m, j] x_m[k]
        v[j, k] <- c w[j, k] + d v[j, k] + sum_m c_v[m, j] x_m[k]    (with momentum only)
    then z_w[s, j] = sum_k w[j, k] x_next[s, k] from the new weights, and z_v likewise from the
    new velocities for its rows (none when a block of one sample needs no V x); by tiles of
    ``tile`` inputs and pairs of neurons as in ``backward_update``.
    """
    n_out, n_in = w.shape
    one = w.dtype.type(1)
    a, b, c, d = power[0], power[1], power[2], power[3]
    # with nothing waiting A^0 is the identity, and without momentum and L2 a = 1, b = 0:
    # w <- 1 w + 0 v changes nothing, so the pass is skipped
    carry = c_w.shape[0] > 0 and (moving or a != 1)
    z_w[:, :] = 0
    z_v[:, :] = 0
    pairs = n_out - n_out % 2
    for first in range(0, n_in, tile):
        stop = min(n_in, first + tile)
        for j in range(0, pairs, 2):
            if carry:
                carry_row(w, v_w, j, first, stop, a, b, c, d, moving)
                carry_row(w, v_w, j + 1, first, stop, a, b, c, d, moving)
            add_gradient_pair(w[j, first:stop], w[j + 1, first:stop], c_w, x, j, one, first, stop)
            add_weighted_inputs_pair(w, x_next, z_w, j, first, stop)
            if moving:
                add_gradient_pair(v_w[j, first:stop], v_w[j + 1, first:stop], c_v, x, j, one,
                                  first, stop)
                add_weighted_inputs_pair(v_w, x_next[:z_v.shape[0]], z_v, j, first, stop)
        for j in range(pairs, n_out):
            if carry:
                carry_row(w, v_w, j, first, stop, a, b, c, d, moving)
            add_gradient(w[j, first:stop], c_w, x, j, one, first, stop)
            add_weighted_inputs(w, x_next, z_w, j, first, stop)
            if moving:
                add_gradient(v_w[j, first:stop], c_v, x, j, one, first, stop)
                add_weighted_inputs(v_w, x_next[:z_v.shape[0]], z_v, j, first, stop)


@register_jitable
def sgd_epoch_blocks(weights, biases, v_w, v_b, x, y, order, eta, mu, l2, cost, softmax, kind,
                     rule, s_w, s_b, masks, zs, activations, deltas, grad_rows, y_batch, x_block,
                     z_block, c_block, scalars):
    r"""SGD (with or without momentum and L2) one sample at a time, the first layer's steps
    applied a block of R = c_block.shape[1] samples at a time: the same steps, in R times fewer
    passes over the largest weight matrix.

    Sample i of a block needs the first layer's z under the weights the samples before it left.
    A step is linear in the weights and velocities: (w, v) <- A (w, v) + (u, u) with u = c_m x_m,
    c_m = -eta delta_m the sample's error (``block_powers``). So with W and V the first layer's
    weights and velocities at the block's start, x_m the block's inputs and (a_k, b_k) the first
    row of A^k:

        z_i = bias_i + a_i W x_i + b_i V x_i + sum_{m < i} (a + b)_{i-1-m} c_m (x_m . x_i)

    where W x_i and V x_i come for the whole block from one pass over W and V (``apply_block``,
    which also applies the previous block's R steps: each weight is read and written once a
    block, not once a sample), bias_i is the bias as the samples before i left it (stepped one
    sample at a time, ``update_bias``), and the sum costs R dot products of inputs. Without
    momentum and L2, a_k = 1 and b_k = 0: z_i = bias_i + W x_i + sum_{m<i} c_m (x_m . x_i). The
    layers above the first step one sample at a time (``upper_layers_step``).

    x_block holds two blocks' inputs (the current one and the next), z_block[0] and z_block[1]
    their W x and V x, c_block[0] the c_m and c_block[1], c_block[2] them weighted for
    ``apply_block``, scalars[0] the x_m . x_i and scalars[1:] A's powers. The arithmetic is that
    of one-sample SGD in another order: a rounding apart. Blocks start with each call, so an
    epoch split in calls at multiples of R gives the same bits.
    """
    w, b, v, v_bias = weights[0], biases[0], v_w[0], v_b[0]
    last = len(weights) - 1
    block = c_block.shape[1]
    moving = mu != 0
    # Whole rows, not ``tile_width``'s tiles: a block's 2 R inputs fill an L1 of 32 KB in tiles
    # of 256 float32 (tile_width's 48 KB let them), and against whole rows those tiles ran at
    # 0.83 of the speed in float32, tiles of 128 at 0.83 to 0.91 in float64 too (plain SGD,
    # 784-100-10 and 784-800-10, both timed interleaved in one process on this machine).
    tile = w.shape[1]
    z = zs[0][:1]
    zero = eta - eta
    step_rule = (rule[0], eta * 1.0, rule[1], rule[2], rule[3])
    c_m, products, powers = c_block[0], scalars[0], scalars[1:]
    block_powers(eta, mu, l2, powers)
    here, there, waiting, start = 0, block, 0, 0
    while True:
        n = gather_inputs(x, order, start, x_block[there:there + block], masks[0])
        for m in range(waiting):  # sample m's update, k steps before the end of its block
            k = waiting - 1 - m
            on_w, on_v = powers[0, k] + powers[1, k], powers[2, k] + powers[3, k]
            for j in range(w.shape[0]):
                c_block[1, m, j] = on_w * c_m[m, j]
                c_block[2, m, j] = on_v * c_m[m, j]
        apply_block(w, v, powers[:, waiting], moving, c_block[1, :waiting], c_block[2, :waiting],
                    x_block[here:here + waiting], x_block[there:there + n],
                    z_block[0, there:there + n], z_block[1, there:there + (n if n > 1 else 0)],
                    tile)
        if n == 0:
            return
        here, there = there, here
        for i in range(n):
            x_i = x_block[here + i]
            for m in range(i):
                products[m] = dot_row(x_block, here + m, x_i, zero)
            on_w, on_v = powers[0, i], powers[1, i]
            for j in range(w.shape[0]):
                z[0, j] = b[j] + on_w * z_block[0, here + i, j]
            if moving and i > 0:  # b_0 = 0: a block's first z needs no V x
                for j in range(w.shape[0]):
                    z[0, j] += on_v * z_block[1, here + i, j]
            for m in range(i):
                k = i - 1 - m
                weight = (powers[0, k] + powers[1, k]) * products[m]
                for j in range(w.shape[0]):
                    z[0, j] += c_m[m, j] * weight
            activate(z, activations[1][:1], layer_kind(0, last, softmax, kind))
            drop_layer(activations, masks, 1, start + i, 1)
            copy_row(y[order[start + i]], y_batch[0])
            upper_layers_step(weights, biases, v_w, v_b, s_w, s_b, grad_rows, masks, zs,
                              activations, deltas, y_batch, start + i, 1, eta, mu, l2, step_rule,
                              cost, softmax, kind)
            for j in range(w.shape[0]):
                c_m[i, j] = -eta * deltas[0][0, j]
                update_bias(b, v_bias, j, deltas[0][0, j], eta, mu)
        waiting, start = n, start + block


@register_jitable
def sgd_epoch(weights, biases, v_w, v_b, x, y, order, batch_size, eta, mu, l2, cost, softmax,
              kind, rule, s_w, s_b, steps, masks, zs, activations, deltas, grad_rows, y_batch,
              x_next, x_block, z_block, c_block, scalars):
    """``loops.sgd_epoch`` with ``backward_update``: forward, BP1, then one pass per layer.

    The first layer's pass also computes the next batch's z (``backward_update``), so each
    step reads the largest weight matrix once instead of twice; the first batch's first layer
    is computed before the loop. Dropout as in ``loops.sgd_epoch``; the update rule ``rule``
    (with s_w, s_b and steps, Adam's state) as there, by ``layer_step``. ``grad_rows[layer][0]``
    is the scratch row in which Adam forms a tile's gradient. SGD one sample at a time (with or
    without momentum, not Nesterov's) goes by blocks of c_block.shape[1] samples
    (``sgd_epoch_blocks``) when c_block has them.
    """
    last = len(weights) - 1
    solver = rule[0]
    if batch_size == 1 and solver == SGD and c_block.shape[1] > 1:
        sgd_epoch_blocks(weights, biases, v_w, v_b, x, y, order, eta, mu, l2, cost, softmax, kind,
                         rule, s_w, s_b, masks, zs, activations, deltas, grad_rows, y_batch,
                         x_block, z_block, c_block, scalars)
        return
    n = next_batch(x, y, order, -batch_size, batch_size, activations[0], y_batch)
    drop_layer(activations, masks, 0, 0, n)
    first_forward(weights[0], biases[0], v_w[0], v_b[0], deltas[0][:n], activations[0][:n],
                  zs[0][:n], masks[0][:0], eta, mu, solver)
    activate(zs[0][:n], activations[1][:n], layer_kind(0, last, softmax, kind))
    drop_layer(activations, masks, 1, 0, n)
    for start in range(0, order.shape[0], batch_size):
        n = min(batch_size, order.shape[0] - start)
        if solver == ADAM:
            steps[0] += 1
        # the step's rule: Adam's rate is corrected for its step count (eta itself otherwise)
        step_rule = (solver, adam_rate(eta, rule, steps[0]) if solver == ADAM else eta * 1.0,
                     rule[1], rule[2], rule[3])
        upper_layers_step(weights, biases, v_w, v_b, s_w, s_b, grad_rows, masks, zs, activations,
                          deltas, y_batch, start, n, eta, mu, l2, step_rule, cost, softmax, kind)
        following = start + batch_size
        n_next = next_batch(x, y, order, start, batch_size, x_next, y_batch)
        drop(x_next[:n_next], masks[0][following:following + n_next])
        # The input layer has no delta: it gets a stand-in buffer that is left alone.
        layer_step(weights[0], biases[0], v_w[0], v_b[0], s_w[0], s_b[0], grad_rows[0][0],
                   deltas[0][:n], activations[0][:n], deltas[0][:n], eta, mu, l2, step_rule,
                   False, x_next[:n_next], zs[0][:n_next], masks[0][:0], kind)
        activate(zs[0][:n_next], activations[1][:n_next], layer_kind(0, last, softmax, kind))
        drop_layer(activations, masks, 1, following, n_next)
        for s in range(n_next):
            copy_row(x_next[s], activations[0][s])


@register_jitable
def sgd_epoch_parallel(weights, biases, v_w, v_b, x, y, order, batch_size, eta, mu, l2, cost,
                       softmax, kind, rule, s_w, s_b, steps, masks, zs, activations, deltas,
                       grad_rows, y_batch, x_next, x_block, z_block, c_block, scalars):
    """``sgd_epoch`` with the neurons of each large layer shared between threads; SGD with or
    without momentum only (``rule``, s_w, s_b and steps are taken and left alone: its backend
    hands Nesterov and Adam to the plain loops; x_block, z_block, c_block and scalars, the
    serial epoch's blocks of one-sample steps, are left alone too)."""
    last = len(weights) - 1
    n = next_batch(x, y, order, -batch_size, batch_size, activations[0], y_batch)
    drop_layer(activations, masks, 0, 0, n)
    if weights[0].size >= PARALLEL_MIN_WEIGHTS:  # formed by forward_neuron, as in the steps
        forward_parallel(weights[0], biases[0], activations[0][:n], zs[0][:n],
                         activations[1][:n], layer_kind(0, last, softmax, kind))
    else:
        first_forward(weights[0], biases[0], v_w[0], v_b[0], deltas[0][:n], activations[0][:n],
                      zs[0][:n], masks[0][:0], eta, mu, SGD)
        activate(zs[0][:n], activations[1][:n], layer_kind(0, last, softmax, kind))
    drop_layer(activations, masks, 1, 0, n)
    for start in range(0, order.shape[0], batch_size):
        n = min(batch_size, order.shape[0] - start)
        for layer in range(1, last + 1):
            forward_parallel_if_large(weights[layer], biases[layer], activations[layer][:n],
                                      zs[layer][:n], activations[layer + 1][:n],
                                      layer_kind(layer, last, softmax, kind))
            drop_layer(activations, masks, layer + 1, start, n)
        output_delta(activations[last + 1][:n], y_batch[:n], deltas[last][:n], cost, softmax)
        following = start + batch_size
        for layer in range(last, -1, -1):
            if layer == 0:
                n_next = next_batch(x, y, order, start, batch_size, x_next, y_batch)
                drop(x_next[:n_next], masks[0][following:following + n_next])
            else:
                n_next = 0
            a_next, z_next = x_next[:n_next], zs[layer][:n_next]
            mask_prev = masks[layer][start:start + n]
            if weights[layer].size >= PARALLEL_MIN_WEIGHTS:
                backward_update_parallel(weights[layer], biases[layer], v_w[layer], v_b[layer],
                                         deltas[layer][:n], activations[layer][:n],
                                         deltas[max(layer - 1, 0)][:n], grad_rows[layer], eta,
                                         mu, l2, layer > 0, a_next, z_next, mask_prev, kind)
            else:
                backward_update(weights[layer], biases[layer], v_w[layer], v_b[layer],
                                deltas[layer][:n], activations[layer][:n],
                                deltas[max(layer - 1, 0)][:n], eta, mu, l2, layer > 0, a_next,
                                z_next, mask_prev, kind)
        activate(zs[0][:n_next], activations[1][:n_next], layer_kind(0, last, softmax, kind))
        drop_layer(activations, masks, 1, following, n_next)
        for s in range(n_next):
            copy_row(x_next[s], activations[0][s])


@register_jitable
def finite(row):
    r"""Whether every row[k] is finite: sum_k 0 row[k] is 0 if so and NaN if not (0 inf is NaN),
    in a loop LLVM vectorizes (fastmath's reassoc and contract assume nothing of the values)."""
    zero = row.dtype.type(0)
    total = zero
    for k in range(row.shape[0]):
        total += zero * row[k]
    return total == zero


@register_jitable
def sample_fits(weights, biases, v_w, v_b, x, y, zs):
    r"""Whether x and y are one row each of finite values and every layer's parameters are
    arrays of x's dtype with the shapes of the network whose work arrays zs are: what the
    kernels, which do not check bounds, need of train's arguments. (Compiled, numba's typing
    refuses a read-only array and compiles a strided one as such; a layer's dtype, compared
    here, is known as it compiles.)"""
    n_in = x.shape[1]
    if not (x.shape[0] == 1 and y.shape[0] == 1 and y.shape[1] == zs[-1].shape[1]
            and finite(x[0]) and finite(y[0])):
        return False
    for layer in range(len(weights)):
        n_out = zs[layer].shape[1]
        for p in (weights[layer], v_w[layer]):
            if not (p.dtype == x.dtype and p.shape[0] == n_out and p.shape[1] == n_in):
                return False
        for p in (biases[layer], v_b[layer]):
            if not (p.dtype == x.dtype and p.shape[0] == n_out):
                return False
        n_in = n_out
    return True


@register_jitable
def train_sample(weights, biases, v_w, v_b, x, y, eta, mu, l2, cost, softmax, kind, masks, zs,
                 activations, deltas, grad_rows, y_batch, waiting, x_waiting, settings):
    r"""One SGD step (with or without momentum and L2) on the one sample x[0], y[0], as
    ``Network.train`` takes it, with the first layer's step left waiting for the next call;
    returns the sample's cost before the step (``sample_cost``).

    In an epoch, ``backward_update`` applies a sample's first-layer step in the loop over k that
    forms the next sample's z (``sgd_row_next``), so a step reads and writes the largest weight
    matrix once. Calls of ``train`` do the same across calls: each one ends with its first-layer
    step waiting (its error in deltas[0], its input in x_waiting, its eta, mu and l2 in
    settings, waiting[0] = 1) and the next call applies it while forming its own z, before its
    own error replaces it; ``finish_sample`` applies it before anything else reads the weights.
    The same loops as ``sgd_epoch`` with blocks of one sample, so calls of train give the bits
    of one call of step over the samples (``FastBackend(FUSED, block=1)``).

    Arguments that do not fit (``sample_fits``) change nothing and return -1, which no cost
    is: train's checks of shapes and values, done here at the cost of a few loads.
    """
    if not sample_fits(weights, biases, v_w, v_b, x, y, zs):
        return x.dtype.type(-1)  # nothing changed; the caller's checks say what is wrong
    # the settings in the arrays' dtype (Python floats, as train passes them, are float64)
    eta, mu, l2 = x.dtype.type(eta), x.dtype.type(mu), x.dtype.type(l2)
    w, b = weights[0], biases[0]
    last = len(weights) - 1
    if waiting[0]:
        backward_update(w, b, v_w[0], v_b[0], deltas[0][:1], x_waiting, deltas[0][:1],
                        settings[0], settings[1], settings[2], False, x, zs[0][:1], masks[0][:0],
                        kind)
    else:
        first_forward(w, b, v_w[0], v_b[0], deltas[0][:1], x, zs[0][:1], masks[0][:0], eta, mu,
                      SGD)
    activate(zs[0][:1], activations[1][:1], layer_kind(0, last, softmax, kind))
    copy_row(y[0], y_batch[0])
    # SGD's rule takes no Adam state: the velocities stand in for it, eta for its settings
    upper_layers_step(weights, biases, v_w, v_b, v_w, v_b, grad_rows, masks, zs, activations,
                      deltas, y_batch, 0, 1, eta, mu, l2, (SGD, eta, eta, eta, eta), cost,
                      softmax, kind)
    copy_row(x[0], x_waiting[0])
    settings[0], settings[1], settings[2] = eta, mu, l2
    waiting[0] = 1
    # the outputs of the forward pass, which the step leaves as they were
    return sample_cost(activations[last + 1][0], y[0], cost, softmax)


@register_jitable
def finish_sample(weights, biases, v_w, v_b, deltas, waiting, x_waiting, settings):
    r"""The first-layer step ``train_sample`` left waiting, applied (if one waits): w, b and
    their velocities as ``backward_update`` steps them for an epoch's last sample."""
    if waiting[0]:
        delta = deltas[0][:1]
        backward_update(weights[0], biases[0], v_w[0], v_b[0], delta, x_waiting, delta,
                        settings[0], settings[1], settings[2], False, x_waiting[:0], delta[:0],
                        x_waiting[:0], SIGMOID)
        waiting[0] = 0


# The fused kernels change how an epoch is done, not what a gradient is: ``backprop`` (gradients
# without a step, for ``Network.gradients`` and gradcheck) is the compiled one of ``loops``.
FUSED = SimpleNamespace(name="fused", feedforward=_jit(feedforward), backprop=KERNELS.backprop,
                        sgd_epoch=_jit(sgd_epoch), train_sample=_jit(train_sample),
                        finish_sample=_jit(finish_sample))
PARALLEL = SimpleNamespace(name="parallel", feedforward=_jit(feedforward_parallel),
                           backprop=KERNELS.backprop, sgd_epoch=_jit(sgd_epoch_parallel),
                           train_sample=FUSED.train_sample, finish_sample=FUSED.finish_sample)


def launch_threads():
    """Start numba's thread pool before ``PARALLEL`` runs.

    numba starts it when it compiles or loads a parallel=True function, but not when a cached
    caller that is not parallel itself is loaded with the parallel kernels inside; the parallel
    loops then jump into a pool that was never started and the process segfaults (numba issues
    8578 and 9938, open in numba 0.68). Starting it twice is harmless.
    """
    from numba.np.ufunc.parallel import _launch_threads
    _launch_threads()


class FastBackend(LoopBackend):
    """The fused kernels (``FUSED`` or ``PARALLEL``) behind ``LoopBackend``'s interface.
    ``block``: samples per block of one-sample steps (``sgd_epoch_blocks``); 1 steps the first
    layer's weights sample by sample, as ``backward_update`` does."""

    def __init__(self, kernels, chunks=None, block=BLOCK):
        super().__init__(kernels)
        self.chunks, self.block = chunks, block
        if kernels is PARALLEL:
            launch_threads()

    def key(self):
        return super().key() + (self.chunks, self.block)

    def sgd_epoch(self, *args, rule=SGD_RULE, **kwargs):
        """The fused epoch; on threads (``PARALLEL``) for SGD with or without momentum only,
        Nesterov's momentum and Adam then run the plain loops compiled (``loops.KERNELS``)."""
        if rule[0] != SGD and self.kernels is PARALLEL:
            return PLAIN_LOOPS.sgd_epoch(*args, rule=rule, **kwargs)
        return super().sgd_epoch(*args, rule=rule, **kwargs)

    def buffers(self, weights, rows, dtype, n_targets):
        """Work arrays for the fused ``sgd_epoch``: a gradient row per thread, not a matrix."""
        zs, activations, deltas = self.layer_buffers(weights, rows, dtype)
        chunks = self.chunks or numba.get_num_threads()
        grad_rows = tuple(aligned_empty((chunks, w.shape[1]), dtype) for w in weights)
        y_batch = aligned_empty((rows, n_targets), dtype)
        n_hidden, n_in = weights[0].shape
        x_next = aligned_empty((rows, n_in), dtype)
        block = self.block if rows == 1 else 0  # sgd_epoch_blocks' buffers, one-sample steps
        x_block = aligned_empty((2 * block, n_in), dtype)
        z_block = aligned_empty((2, 2 * block, n_hidden), dtype)
        c_block = aligned_empty((3, block, n_hidden), dtype)
        scalars = aligned_empty((5, block + 1), dtype)
        return (no_masks(weights, dtype), zs, activations, deltas, grad_rows, y_batch, x_next,
                x_block, z_block, c_block, scalars)

    def train_buffers(self, weights, dtype, n_targets):
        """``train_sample``'s work arrays: masks, zs, activations, deltas, grad_rows and y_batch
        as for a one-sample epoch, then what it leaves waiting besides its error (deltas[0]):
        a flag, the input and (eta, mu, l2)."""
        return (self.buffers(weights, 1, dtype, n_targets)[:6]
                + (np.zeros(1, np.int64), aligned_empty((1, weights[0].shape[1]), dtype),
                   np.zeros(3, dtype)))

    def train_work(self, weights, work):
        """``train_buffers`` for the network of these weights, kept in ``work``: where one
        call of train leaves its step waiting for the next or for ``finish_sample``."""
        return self.kept(work, 1, self.train_buffers, weights, weights[0].dtype,
                         weights[-1].shape[0])

    def train_arguments(self, weights, biases, v_w, v_b, cost, softmax, work,
                        activation=SIGMOID):
        """``train_sample``'s arguments but the sample and the settings, for a run of calls on
        the same arrays: the parameters as tuples, then the cost, the output, the activation
        and the work arrays (kept in ``work``)."""
        buffers = self.train_work(weights, work)
        return ((tuple(weights), tuple(biases), tuple(v_w), tuple(v_b)),
                (cost, softmax, activation) + buffers)

    def train_sample(self, arguments, x, y, eta, mu, l2):
        """One SGD step on the one sample x, y (2-D, one row each; ``arguments`` from
        ``train_arguments``), its first layer's step left waiting in the work arrays
        (``fast.train_sample``) until the next call or ``finish_sample``. Returns the sample's
        cost before the step, or -1 if the arguments do not fit (``sample_fits``)."""
        parameters, rest = arguments
        return float(self.kernels.train_sample(*parameters, x, y, eta, mu, l2, *rest))

    def finish_sample(self, weights, biases, v_w, v_b, work):
        """Apply the first-layer step ``train_sample`` left waiting in ``work``, if any."""
        buffers = self.train_work(weights, work)
        self.kernels.finish_sample(tuple(weights), tuple(biases), tuple(v_w), tuple(v_b),
                                   buffers[3], *buffers[6:])


# Compiled kernels (not run as Python with NUMBA_DISABLE_JIT=1) are typed for their arrays' dtype,
# layout and writeability, so one of these changed in place fails to compile rather than run.
TYPED = not numba.config.DISABLE_JIT

PLAIN_LOOPS = LoopBackend(KERNELS)
FAST = FastBackend(FUSED)
"""What the ``"loops"`` backend runs: the fused kernels on one thread. ``PARALLEL`` is left to be
chosen (``FastBackend(PARALLEL)``): on a 2-core machine shared with other work its threads wait
for cores, and it ran slower than one thread (``python benchmarks/report.py``)."""
