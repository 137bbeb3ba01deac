r"""SGD one sample at a time by blocks: the first layer's steps applied R samples at a time.

One sample at a time, a step reads and writes every weight of the first layer, so it is bound by
moving the weights. But a step of SGD, with or without momentum and L2, is linear in a weight w
and its velocity v (``rules.momentum``; plain SGD is its mu = 0):

    (w, v) <- A (w, v) + (u, u),   A = [[1 - eta l2, mu], [-eta l2, mu]],   u = -eta delta[j] x[k]

So sample i's z under the weights the block's earlier samples left is the z under the block's
starting weights plus a correction from their updates and the dot products x_m . x_i, and the
weights are read and written once a block, not once a sample: a step is bound by arithmetic, not
by moving the weights. The same SGD, with the sums in another order (a rounding apart). A and u
are not written out here: ``block_powers`` and ``sgd_epoch_blocks`` take them from the rule
itself, by stepping the unit weight, the unit velocity and the unit gradient. The layers above
the first, small, step sample by sample (``fused.upper_layers_step``).
"""
from numba.extending import register_jitable

from .activations import layer_kind
from .fused import (
    activate,
    add_gradient,
    add_gradient_pair,
    add_weighted_inputs,
    add_weighted_inputs_pair,
    dot_row,
    upper_layers_step,
)
from .loops import copy_row, drop, drop_layer
from .records import layer_of
from .rules import momentum, step_one


@register_jitable
def block_powers(step, powers):
    r"""powers[:, k] = (a, b, c, d), the entries of A^k for k = 0, 1, ..., where A = [[a, b],
    [c, d]] is what a one-sample step of the rule (``rules.momentum``) does to a weight w and its
    velocity v besides the update: the step of (w, v) = (1, 0) gives A's first column, of (0, 1)
    its second, with no gradient. So k steps after a block's start w = a w0 + b v0 + ..., and an
    update made k steps before the end of a block has added (a + b) u to w and (c + d) u to v."""
    one, zero = powers.dtype.type(1), powers.dtype.type(0)
    A00, A10 = momentum(one, zero, zero, step.rate, step.mu, step.l2)
    A01, A11 = momentum(zero, one, zero, step.rate, step.mu, step.l2)
    a, b, c, d = one, zero, zero, one
    for k in range(powers.shape[1]):
        powers[0, k], powers[1, k], powers[2, k], powers[3, k] = a, b, c, d
        a, b, c, d = A00 * a + A01 * c, A00 * b + A01 * d, A10 * a + A11 * c, A10 * b + A11 * d


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
def apply_block(w, v_w, power, moving, c_w, c_v, x, x_next, z_w, z_v):
    r"""A block's one-sample steps on every weight at once, then the next block's products.

    With n = c_w.shape[0] samples x_m waiting and (a, b, c, d) = power, A^n's entries:
        w[j, k] <- a w[j, k] + b v[j, k] + sum_m c_w[m, j] x_m[k]
        v[j, k] <- c w[j, k] + d v[j, k] + sum_m c_v[m, j] x_m[k]    (with momentum only)
    then z_w[s, j] = sum_k w[j, k] x_next[s, k] from the new weights, and z_v likewise from the
    new velocities for its rows (none when a block of one sample needs no V x); by whole rows
    and pairs of neurons as in ``fused.backward_update``.

    Whole rows, not ``fused.tile_width``'s tiles: a block's 2 R inputs fill an L1 of 32 KB in
    tiles of 256 float32 (tile_width's 48 KB let them), and against whole rows those tiles ran
    at 0.83 of the speed in float32, tiles of 128 at 0.83 to 0.91 in float64 too (plain SGD,
    784-100-10 and 784-800-10, both timed interleaved in one process).
    """
    n_out, n_in = w.shape
    tile = n_in
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
def sgd_epoch_blocks(params, x, y, order, step, model, work):
    r"""SGD (with or without momentum and L2) one sample at a time, the first layer's steps
    applied a block of R = c_block.shape[1] samples at a time: the same steps, in R times fewer
    passes over the largest weight matrix.

    Sample i of a block needs the first layer's z under the weights the samples before it left.
    A step is linear in the weights and velocities: (w, v) <- A (w, v) + (u, u) with u = c_m x_m,
    c_m = -eta delta_m the sample's error (``block_powers``; c_m is the rule's step of the unit
    gradient). So with W and V the first layer's
    weights and velocities at the block's start, x_m the block's inputs and (a_k, b_k) the first
    row of A^k:

        z_i = bias_i + a_i W x_i + b_i V x_i + sum_{m < i} (a + b)_{i-1-m} c_m (x_m . x_i)

    where W x_i and V x_i come for the whole block from one pass over W and V (``apply_block``,
    which also applies the previous block's R steps: each weight is read and written once a
    block, not once a sample), bias_i is the bias as the samples before i left it (stepped one
    sample at a time, ``rules.step_one``), and the sum costs R dot products of inputs. Without
    momentum and L2, a_k = 1 and b_k = 0: z_i = bias_i + W x_i + sum_{m<i} c_m (x_m . x_i). The
    layers above the first step one sample at a time (``fused.upper_layers_step``).

    In ``work``, x_block holds two blocks' inputs (the current one and the next), z_block[0] and z_block[1]
    their W x and V x, c_block[0] the c_m and c_block[1], c_block[2] them weighted for
    ``apply_block``, scalars[0] the x_m . x_i and scalars[1:] A's powers. The arithmetic is that
    of one-sample SGD in another order: a rounding apart. Blocks start with each call, so an
    epoch split in calls at multiples of R gives the same bits.
    """
    first = layer_of(params, 0)
    w, v = first.w, first.v_w
    zs, activations, deltas, masks = work.zs, work.activations, work.deltas, work.masks
    x_block, z_block, c_block = work.x_block, work.z_block, work.c_block
    kind0 = layer_kind(0, len(params.weights) - 1, model.softmax, model.kind)
    block = c_block.shape[1]
    moving = step.mu != 0
    z = zs[0][:1]
    zero = step.eta - step.eta
    c_m, products, powers = c_block[0], work.scalars[0], work.scalars[1:]
    block_powers(step, powers)
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
                    z_block[0, there:there + n], z_block[1, there:there + (n if n > 1 else 0)])
        if n == 0:
            return
        here, there = there, here
        for i in range(n):
            x_i = x_block[here + i]
            for m in range(i):
                products[m] = dot_row(x_block, here + m, x_i, zero)
            on_w, on_v = powers[0, i], powers[1, i]
            for j in range(w.shape[0]):
                z[0, j] = first.b[j] + on_w * z_block[0, here + i, j]
            if moving and i > 0:  # b_0 = 0: a block's first z needs no V x
                for j in range(w.shape[0]):
                    z[0, j] += on_v * z_block[1, here + i, j]
            for m in range(i):
                k = i - 1 - m
                weight = (powers[0, k] + powers[1, k]) * products[m]
                for j in range(w.shape[0]):
                    z[0, j] += c_m[m, j] * weight
            activate(z, activations[1][:1], kind0)
            drop_layer(activations, masks, 1, start + i, 1)
            copy_row(y[order[start + i]], work.y_batch[0])
            upper_layers_step(params, work, start + i, 1, step, model)
            for j in range(w.shape[0]):
                d = deltas[0][0, j]
                # the rule's step of a unit input: u = c_m x_m
                _, c_m[i, j] = momentum(zero, zero, d, step.rate, step.mu, step.l2)
                step_one(first.b, first.v_b, first.s_b, j, d, step)
        waiting, start = n, start + block
