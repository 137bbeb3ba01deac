r"""The fused kernels: the backpropagation of ``loops``, in fewer passes over the weights.

At small batch sizes the time of an SGD step is the time to stream the weights through the core,
so these kernels change the order of the work, not the arithmetic (same names, same layout
``w[j, k]``, the inner loop over k so LLVM can vectorize it). Which textbook functions of
``loops`` each one fuses:

    backward_update    loops.backward (BP2, BP3, BP4) + loops.update, one pass over a layer's
                       weights: BP2's share of each weight while it is still the old one, then
                       its gradient, then its step (``rules.step_row``), then, in the first
                       layer, the next batch's z from the new weight (loops.forward's sum)
    forward            loops.forward, two neurons and four samples at a time
    upper_layers_step  loops.backprop + loops.update_layers for the layers above the first
    sgd_epoch          loops.sgd_epoch, each step reading the first layer's weights once

At batch 1 the first layer steps row by row, the step and the next z in one loop over k
(``sgd_row_next``, plain SGD), so a step reads and writes each weight once; with momentum the
next z follows from L1 (``dot_row``). Layers above the first take BP2's share and the step in
one loop a row (``error_step_row``): their rows are too short for the tiles. Mini-batches go by
tiles of inputs k (``tile_width``) and pairs of neurons (``add_gradient_pair``,
``add_weighted_inputs_pair``), so each value loaded from memory feeds several multiply-adds;
each tile's gradient is formed in a scratch row in L1 and stepped from there by the rule
(plain SGD, linear in the gradient, adds it straight into the weights: ``decay_row``; momentum
steps a pair of rows in one loop: ``momentum_pair``).

SGD one sample at a time goes by blocks of samples (``blocks``), threads split layers in
``parallel``; both build on the functions here. Every function stays plain Python (run it with
``NUMBA_DISABLE_JIT=1``), and the tests check them against the plain kernels of ``loops``.
Accumulators start from the arrays' dtype (``w.dtype.type(...)``), so float32 networks stay
float32 throughout the weight loops.
"""
from typing import NamedTuple

import numpy as np
from numba.extending import register_jitable

from .activations import SOFTMAX, activation, layer_kind, softmax_row
from .loops import copy_row, drop, drop_layer, hidden_prime, output_delta
from .records import Signals, aligned_empty, layer_buffers, layer_of, no_masks
from .rules import ADAM, SGD, Settings, at_step, momentum, sgd, step_one, step_row


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
def dot_row(w, j, x, z):
    r"""z + sum_k w[j, k] x[k]."""
    for k in range(w.shape[1]):
        z += w[j, k] * x[k]
    return z


@register_jitable
def sgd_row_next(w, j, d, row, step, x_next, z):
    r"""Plain SGD on neuron j's row for one sample, gradient d row[k] (``rules.sgd``), and the
    next sample's z + sum_k w[j, k] x_next[k] from the new row, in the same loop over k, so the
    row is read and written once a step. The velocity is neither read nor written: at batch 1
    moving the row is the whole cost of the update, and a velocity would double the bytes."""
    eta, l2 = step.rate, step.l2
    for k in range(w.shape[1]):
        w_new = sgd(w[j, k], d * row[k], eta, l2)
        w[j, k] = w_new
        z += w_new * x_next[k]
    return z


@register_jitable
def momentum_row(w, v_w, j, d, row, step):
    r"""Momentum SGD on neuron j's row for one sample, gradient d row[k] (``rules.momentum``).

    The next z is formed after it (``dot_row``), from L1, not in this loop: fused, it ran at the
    same speed (784-H layers timed alone), and kept apart an epoch's first z is formed by the
    same loop as the others (``first_forward``)."""
    eta, mu, l2 = step.rate, step.mu, step.l2
    for k in range(w.shape[1]):
        w[j, k], v_w[j, k] = momentum(w[j, k], v_w[j, k], d * row[k], eta, mu, l2)


@register_jitable
def error_step_row(layer, j, d, row, error, step):
    r"""BP2's share of neuron j from its old row, then its one-sample step with gradient d row[k]
    (plain SGD or momentum, ``rules``), in one loop over k:

        error[k] += w[j, k] d,   then w[j, k] (and v[j, k]) stepped
    """
    w, v_w = layer.w, layer.v_w
    eta, mu, l2 = step.rate, step.mu, step.l2
    if mu == 0:  # a loop for each kind of step (see ``backward_update``)
        for k in range(w.shape[1]):
            error[k] += w[j, k] * d
            w[j, k] = sgd(w[j, k], d * row[k], eta, l2)
    else:
        for k in range(w.shape[1]):
            error[k] += w[j, k] * d
            w[j, k], v_w[j, k] = momentum(w[j, k], v_w[j, k], d * row[k], eta, mu, l2)


@register_jitable
def add_gradient(target, delta, a_prev, j, c, first, stop):
    r"""target[k - first] += c sum_s delta[s, j] a_prev[s, k] for k in [first, stop): BP4 for
    neuron j times c (1 / n for the mean). Four samples at a time: each load and store of
    target[k] carries four multiply-adds."""
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
    if s + 2 <= n:  # two left over from the fours (batches of 10): one pass, not two
        e0, e1 = c * delta[s, j], c * delta[s + 1, j]
        a0, a1 = a_prev[s, first:stop], a_prev[s + 1, first:stop]
        for k in range(target.shape[0]):
            target[k] += e0 * a0[k] + e1 * a1[k]
        s += 2
    for t in range(s, n):  # the sample left over
        e, a = c * delta[t, j], a_prev[t, first:stop]
        for k in range(target.shape[0]):
            target[k] += e * a[k]


@register_jitable
def add_gradient_pair(target0, target1, delta, a_prev, j, c, first, stop):
    r"""``add_gradient`` for neurons j (into target0) and j + 1 (into target1) at once, so each
    a_prev[s, k] loaded feeds two multiply-adds: 1.5 to 1.8x the speed of one neuron at a time
    when the batch's inputs come from L2 (one layer timed alone; the same blocking in
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
    if s + 2 <= n:  # two left over from the fours (batches of 10): one pass, not two
        e0, e1 = c * delta[s, j], c * delta[s + 1, j]
        f0, f1 = c * delta[s, j + 1], c * delta[s + 1, j + 1]
        a0, a1 = a_prev[s, first:stop], a_prev[s + 1, first:stop]
        for k in range(target0.shape[0]):
            target0[k] += e0 * a0[k] + e1 * a1[k]
            target1[k] += f0 * a0[k] + f1 * a1[k]
        s += 2
    for t in range(s, n):  # the sample left over
        e, f, a = c * delta[t, j], c * delta[t, j + 1], a_prev[t, first:stop]
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
def zero_row(row):
    """row[k] = 0 for every k."""
    zero = row.dtype.type(0)
    for k in range(row.shape[0]):
        row[k] = zero


@register_jitable
def plain_sgd(step):
    """Whether ``step`` is plain SGD, whose step is linear in the gradient (``decay_row``)."""
    return step.solver == SGD and step.mu == 0


@register_jitable
def decay_row(w, step):
    r"""Plain SGD's step with no gradient, w[k] <- sgd(w[k], 0, eta, l2): the weight decay.

    ``rules.sgd`` is linear in the gradient, sgd(w, g, eta, l2) = sgd(w, 0, eta, l2) - eta g,
    so a tile of plain SGD takes this and then adds -eta times the gradient straight into w
    (``add_gradient``): one pass of the samples over the tile, where forming g in a scratch
    row, zeroed first, and stepping from it takes three (784-100-10 at batch 10: 0.87 of the
    speed, in processes of their own)."""
    if step.l2 != 0:
        zero = step.l2 - step.l2
        for k in range(w.shape[0]):
            w[k] = sgd(w[k], zero, step.rate, step.l2)


@register_jitable
def momentum_pair(layer, g0, g1, j, first, stop, step):
    r"""Momentum's step (``rules.momentum``) on rows j and j + 1 of w[:, first:stop], gradients
    g0 and g1, in one loop over k: 1.03x the speed (0.89-1.06) of ``rules.step_row`` row after
    row, 784-100-10 float32 at batch 10 (nine pairs of fresh processes)."""
    w_j, v_j = layer.w[j, first:stop], layer.v_w[j, first:stop]
    w_i, v_i = layer.w[j + 1, first:stop], layer.v_w[j + 1, first:stop]
    eta, mu, l2 = step.rate, step.mu, step.l2
    for k in range(w_j.shape[0]):
        w_j[k], v_j[k] = momentum(w_j[k], v_j[k], g0[k], eta, mu, l2)
        w_i[k], v_i[k] = momentum(w_i[k], v_i[k], g1[k], eta, mu, l2)


@register_jitable
def step_tile(layer, g, delta, a_prev, j, first, stop, step):
    r"""Neuron j's weights w[j, first:stop] stepped by the rule (``rules.step_row``) from their
    gradient mean_s delta[s, j] a_prev[s, k] (BP4), formed in the scratch row g; plain SGD
    adds -eta times it straight into w (``decay_row``)."""
    mean = delta.dtype.type(1) / delta.dtype.type(delta.shape[0])
    if plain_sgd(step):
        w_j = layer.w[j, first:stop]
        decay_row(w_j, step)
        add_gradient(w_j, delta, a_prev, j, -step.rate * mean, first, stop)
        return
    g = g[first:stop]
    zero_row(g)
    add_gradient(g, delta, a_prev, j, mean, first, stop)
    step_row(layer.w[j, first:stop], layer.v_w[j, first:stop], layer.s_w[j, first:stop], g,
             step, step.l2)


@register_jitable
def step_tile_pair(layer, g0, g1, delta, a_prev, j, first, stop, step):
    r"""``step_tile`` for neurons j and j + 1 at once (``add_gradient_pair``); momentum steps
    the two rows in one loop (``momentum_pair``)."""
    mean = delta.dtype.type(1) / delta.dtype.type(delta.shape[0])
    if plain_sgd(step):
        w_j, w_i = layer.w[j, first:stop], layer.w[j + 1, first:stop]
        decay_row(w_j, step)
        decay_row(w_i, step)
        add_gradient_pair(w_j, w_i, delta, a_prev, j, -step.rate * mean, first, stop)
        return
    g0, g1 = g0[first:stop], g1[first:stop]
    zero_row(g0)
    zero_row(g1)
    add_gradient_pair(g0, g1, delta, a_prev, j, mean, first, stop)
    if step.solver == SGD:  # with momentum: plain SGD has returned above
        momentum_pair(layer, g0, g1, j, first, stop, step)
        return
    for i, g in ((j, g0), (j + 1, g1)):
        step_row(layer.w[i, first:stop], layer.v_w[i, first:stop], layer.s_w[i, first:stop], g,
                 step, step.l2)


# Inputs k per tile of a mini-batch step in backward_update, when the tile's columns of a_prev and
# a_next (2 n K_TILE values) fit in L1 (48 KB): with 10 float64 samples (40 KB) tiles of 256 took
# 0.70 of the time of whole rows (0.80 with 144, 0.82 with 64; a 784-100 layer timed alone). With
# 100 samples no useful tile fits, and tiles of 32 (what would) were 1.5x slower than whole rows.
K_TILE = 256
L1_BYTES = 48 * 1024


@register_jitable
def tile_width(n, n_in, itemsize):
    """K_TILE if a tile of n samples' a_prev and a_next fits in L1, else the whole row, n_in."""
    return K_TILE if 2 * n * K_TILE * itemsize <= L1_BYTES else n_in


@register_jitable
def backward_update(layer, signals, g_rows, step, hidden, kind):
    r"""BP2, BP3, BP4 and the update of one layer, one pass over its weights.

    For each weight, before it changes:
        delta_prev[s, k] += w[j, k] delta[s, j]            (BP2's sum over j, old weights)
        grad_w[j, k]      = mean_s delta[s, j] a_prev[s, k] (BP4; BP3 for the bias)
    then its step by the rule (``rules.step_row``), and at the end delta_prev[s, k] *=
    f'(z_prev[s, k]) from a_prev (activation ``kind``; times the dropout mask). Right after a
    weight changes, while it is in cache, it goes into the next batch's z_next[s, j] = b[j] +
    sum_k w[j, k] a_next[s, k] (the first layer only: a_next is the next input; no rows
    elsewhere). ``g_rows``: two scratch rows of n_in values, where a tile's gradients are formed.

    One sample with plain SGD or momentum: row by row, the step and BP2's share (or the next z)
    in one loop over k. Otherwise by tiles of inputs (``tile_width``) and pairs of neurons.
    """
    w, b = layer.w, layer.b
    delta, a_prev, delta_prev = signals.delta, signals.a_prev, signals.delta_prev
    a_next, z_next = signals.a_next, signals.z_next
    n_out, n_in = w.shape
    n = delta.shape[0]
    if hidden:
        zero = w.dtype.type(0)
        for s in range(n):
            for k in range(n_in):
                delta_prev[s, k] = zero
    # One loop over the rows for each kind of step: with the choice inside the loop, LLVM
    # compiled the row loops at up to half the speed they reach alone (1.8 to 2.5x the time of
    # a bare w += c x pass over the weights, against 1.25x; a 784-100 layer timed alone).
    if n == 1 and step.solver == SGD and hidden and a_next.shape[0] == 0:
        # Layers above the first: by tiles and pairs, a 10 x 30 layer's one-sample step took
        # about 850 ns, its rows too short for the vector loops (a scalar tail of 14 to 30 k);
        # in one loop a row 400 to 690 ns in float64 (the layer timed alone, best of 7).
        for j in range(n_out):
            step_one(b, layer.v_b, layer.s_b, j, delta[0, j], step)
            error_step_row(layer, j, delta[0, j], a_prev[0], delta_prev[0], step)
        hidden_deltas_finish(a_prev, delta_prev, signals.mask_prev, kind)
        return
    if n == 1 and step.solver == SGD and not hidden:
        # The last step of a call has no next sample; it still runs the loop of the others (z
        # thrown away), whose rounding an epoch split over several calls must repeat.
        has_next = a_next.shape[0] == 1
        x_next = a_next[0] if has_next else a_prev[0]
        if step.mu == 0:
            for j in range(n_out):
                step_one(b, layer.v_b, layer.s_b, j, delta[0, j], step)
                z = sgd_row_next(w, j, delta[0, j], a_prev[0], step, x_next, b[j])
                if has_next:
                    z_next[0, j] = z
        else:
            for j in range(n_out):
                step_one(b, layer.v_b, layer.s_b, j, delta[0, j], step)
                momentum_row(w, layer.v_w, j, delta[0, j], a_prev[0], step)
                if has_next:
                    z_next[0, j] = dot_row(w, j, x_next, b[j])
        return
    for j in range(n_out):
        step_one(b, layer.v_b, layer.s_b, j, bias_gradient(delta, j), step)
        for s in range(a_next.shape[0]):
            z_next[s, j] = b[j]
    pairs = n_out - n_out % 2
    tile = tile_width(n, n_in, w.itemsize)
    for first in range(0, n_in, tile):
        stop = min(n_in, first + tile)
        for j in range(0, pairs, 2):
            if hidden:
                error_row(w, delta, delta_prev, j, first, stop)
                error_row(w, delta, delta_prev, j + 1, first, stop)
            step_tile_pair(layer, g_rows[0], g_rows[1], delta, a_prev, j, first, stop, step)
            add_weighted_inputs_pair(w, a_next, z_next, j, first, stop)
        for j in range(pairs, n_out):
            if hidden:
                error_row(w, delta, delta_prev, j, first, stop)
            step_tile(layer, g_rows[0], delta, a_prev, j, first, stop, step)
            add_weighted_inputs(w, a_next, z_next, j, first, stop)
    if hidden:
        hidden_deltas_finish(a_prev, delta_prev, signals.mask_prev, kind)


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
    for t in range(s, n):  # the samples left over from the fours
        a, total = a_prev[t, first:stop], z[t, j]
        for k in range(w_j.shape[0]):
            total += w_j[k] * a[k]
        z[t, j] = total


@register_jitable
def add_weighted_inputs_pair(w, a_prev, z, j, first, stop):
    r"""``add_weighted_inputs`` for neurons j and j + 1 at once: four samples by two neurons, so
    each a_prev[s, k] loaded feeds two multiply-adds and each w[j, k] four (1.5 to 1.8x the
    speed of one neuron at a time for 8 to 96 samples; a 784-100 layer timed alone)."""
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
    for t in range(s, n):  # the samples left over from the fours
        a, total, other = a_prev[t, first:stop], z[t, j], z[t, j + 1]
        for k in range(w_j.shape[0]):
            total += w_j[k] * a[k]
            other += w_i[k] * a[k]
        z[t, j], z[t, j + 1] = total, other


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


@register_jitable
def feedforward(weights, biases, zs, activations, n, softmax, kind):
    """``loops.feedforward`` by the sample-blocked ``forward``."""
    last = len(weights) - 1
    for layer in range(last + 1):
        forward(weights[layer], biases[layer], activations[layer][:n], zs[layer][:n],
                activations[layer + 1][:n], layer_kind(layer, last, softmax, kind))


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
def first_forward(w, b, x, z, step):
    r"""The first layer's z = b + w x for an epoch's first batch, by the very loops that form it
    for every later batch inside ``backward_update``, so an epoch split over several calls
    (``neuronet compare``'s lock-step chunks) gives the same bits as one call: fastmath lets
    LLVM sum each loop in its own order. Where the sum shares a loop with the step (plain SGD,
    one sample), that loop runs a step with learning rate and weight decay eta - eta = 0, which
    leaves w as it is (w - 0 (0 x + 0 w) = w; a zero LLVM cannot see, so it compiles the same
    loop)."""
    n = x.shape[0]
    if n == 1 and step.solver == SGD:
        zero = step.eta - step.eta
        resting = Settings(zero, zero, zero, SGD, zero, zero, zero, zero)
        for j in range(w.shape[0]):
            if step.mu == 0:
                z[0, j] = sgd_row_next(w, j, zero, x[0], resting, x[0], b[j])
            else:
                z[0, j] = dot_row(w, j, x[0], b[j])
        return
    for j in range(w.shape[0]):
        for s in range(n):
            z[s, j] = b[j]
    n_out, n_in = w.shape
    pairs = n_out - n_out % 2
    tile = tile_width(n, n_in, w.itemsize)
    for first in range(0, n_in, tile):
        stop = min(n_in, first + tile)
        for j in range(0, pairs, 2):
            add_weighted_inputs_pair(w, x, z, j, first, stop)
        for j in range(pairs, n_out):
            add_weighted_inputs(w, x, z, j, first, stop)


@register_jitable
def upper_layers_step(params, work, start, n, step, model):
    """One step of every layer above the first, on the n samples at ``start`` whose first
    layer's activations are in work.activations[1]: forward, BP1, then one pass per layer down
    to the second, which leaves the first layer's error in work.deltas[0]."""
    weights, activations, deltas, masks = (params.weights, work.activations, work.deltas,
                                           work.masks)
    last = len(weights) - 1
    for layer in range(1, last + 1):
        forward(weights[layer], params.biases[layer], activations[layer][:n],
                work.zs[layer][:n], activations[layer + 1][:n],
                layer_kind(layer, last, model.softmax, model.kind))
        drop_layer(activations, masks, layer + 1, start, n)
    output_delta(activations[last + 1][:n], work.y_batch[:n], deltas[last][:n], model.cost,
                 model.softmax)
    for layer in range(last, 0, -1):
        signals = Signals(deltas[layer][:n], activations[layer][:n], deltas[layer - 1][:n],
                          masks[layer][start:start + n], activations[0][:0], work.zs[layer][:0])
        backward_update(layer_of(params, layer), signals, work.grad_rows[layer], step, True,
                        model.kind)


@register_jitable
def sgd_epoch(params, x, y, order, batch_size, step, model, work):
    """``loops.sgd_epoch`` with ``backward_update``: forward, BP1, then one pass per layer.

    The first layer's pass also computes the next batch's z (``backward_update``), so each
    step reads the largest weight matrix once instead of twice; the first batch's first layer
    is computed before the loop. Dropout as in ``loops.sgd_epoch``; the update rule of ``step``
    as there (Adam counts its steps in params.steps[0]). ``work.grad_rows[layer]``: the scratch
    rows in which a tile's gradients are formed.
    """
    activations, masks = work.activations, work.masks
    last = len(params.weights) - 1
    first_layer = layer_of(params, 0)
    kind0 = layer_kind(0, last, model.softmax, model.kind)
    n = next_batch(x, y, order, -batch_size, batch_size, activations[0], work.y_batch)
    drop_layer(activations, masks, 0, 0, n)
    first_forward(first_layer.w, first_layer.b, activations[0][:n], work.zs[0][:n], step)
    activate(work.zs[0][:n], activations[1][:n], kind0)
    drop_layer(activations, masks, 1, 0, n)
    for start in range(0, order.shape[0], batch_size):
        n = min(batch_size, order.shape[0] - start)
        if step.solver == ADAM:
            params.steps[0] += 1
        now = at_step(step, params.steps[0], x)
        upper_layers_step(params, work, start, n, now, model)
        following = start + batch_size
        n_next = next_batch(x, y, order, start, batch_size, work.x_next, work.y_batch)
        drop(work.x_next[:n_next], masks[0][following:following + n_next])
        # The input layer has no delta: it gets a stand-in buffer that is left alone.
        signals = Signals(work.deltas[0][:n], activations[0][:n], work.deltas[0][:n],
                          masks[0][:0], work.x_next[:n_next], work.zs[0][:n_next])
        backward_update(first_layer, signals, work.grad_rows[0], now, False, model.kind)
        activate(work.zs[0][:n_next], activations[1][:n_next], kind0)
        drop_layer(activations, masks, 1, following, n_next)
        for s in range(n_next):
            copy_row(work.x_next[s], activations[0][s])

class Work(NamedTuple):
    """The fused kernels' work arrays: as ``loops.Work``, but scratch rows of gradients for
    each layer (``grad_rows``: two rows, or one per thread if more) in place of gradient
    matrices, the next batch's inputs (``x_next``), and the blocks of one-sample steps
    (``blocks.sgd_epoch_blocks``: x_block, z_block, c_block, scalars; empty where unused)."""
    masks: tuple
    zs: tuple
    activations: tuple
    deltas: tuple
    grad_rows: tuple
    y_batch: np.ndarray
    x_next: np.ndarray
    x_block: np.ndarray
    z_block: np.ndarray
    c_block: np.ndarray
    scalars: np.ndarray


def make_work(weights, rows, dtype, n_targets, chunks, block):
    """``Work`` for batches of ``rows`` samples: ``chunks`` scratch rows a layer (at least two,
    for pairs of neurons), blocks of ``block`` one-sample steps when rows is 1."""
    zs, activations, deltas = layer_buffers(weights, rows, dtype)
    grad_rows = tuple(aligned_empty((max(chunks, 2), w.shape[1]), dtype) for w in weights)
    n_hidden, n_in = weights[0].shape
    block = block if rows == 1 else 0
    return Work(no_masks(weights, dtype), zs, activations, deltas, grad_rows,
                aligned_empty((rows, n_targets), dtype), aligned_empty((rows, n_in), dtype),
                aligned_empty((2 * block, n_in), dtype),
                aligned_empty((2, 2 * block, n_hidden), dtype),
                aligned_empty((3, block, n_hidden), dtype), aligned_empty((5, block + 1), dtype))
