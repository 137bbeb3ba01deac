r"""Fast loop kernels: the same backpropagation as ``loops``, in fewer passes over the weights.

At small batch sizes the time of an SGD step is the time to stream the weights through the core,
so these kernels change the order of the work, not the arithmetic (same names, same layout
``w[j, k]``, the inner loop over k so LLVM can vectorize it):

* ``backward_update`` fuses BP2, BP3, BP4 and the momentum update of one layer into one pass
  over its weights. For each neuron j, while its row ``w[j, :]`` is still the old one, it adds
  ``w[j, k] delta[s, j]`` into the previous layer's delta (BP2 needs the old weights), forms
  the gradient ``grad_w[j, k] = mean_s delta[s, j] a_prev[s, k]`` (BP4) and updates the weight
  at once, so no (n_out, n_in) gradient array is written and read back. With one sample the
  gradient is not stored at all; with a mini-batch it lives in one row buffer ``grad_row``.
  In the first layer the same pass, row j just updated, also forms the next batch's z[s, j],
  so an SGD step reads the largest weight matrix once, not twice (``sgd_epoch``).
* ``forward_neuron`` and ``gradient_row`` take four samples at a time, so each weight or
  gradient loaded from memory feeds four multiply-adds (mini-batches are neuron-major: each
  row of weights is used for the whole batch while it is in cache).
* ``forward_parallel`` and ``backward_update_parallel`` split the neurons of a layer between
  threads with ``numba.prange``. BP2 sums over j, which the threads share out, so there the
  hidden deltas are formed first, from the old weights, split by blocks of k instead.

``FUSED`` and ``PARALLEL`` hold the compiled epochs (``LoopBackend(KERNELS)`` runs ``FUSED``);
the functions themselves stay plain Python (run them with ``NUMBA_DISABLE_JIT=1`` or call
``FUSED.sgd_epoch.py_func``), and the tests check them against the plain kernels of ``loops``.
Accumulators start from the arrays' dtype (``w.dtype.type(...)``), so float32 networks stay
float32 throughout the weight loops.
"""
from types import SimpleNamespace

import numba
from numba.extending import register_jitable

from .activations import sigmoid, softmax_row
from .loops import LoopBackend, aligned_empty, drop, drop_layer, hidden_prime, no_masks, output_delta

# Hidden deltas in the parallel kernel are split in blocks of this many inputs k: 64 float64 are
# 8 cache lines, enough to vectorize and few enough that 784 inputs make 13 blocks for 2 threads.
K_BLOCK = 64

# Handing a layer to the threads costs a few microseconds; a 784-30 layer (23,520 weights) takes
# about 3 us a pass on one core (9 us measured for 784-100) and gained nothing from two in the
# prototype (0.8x); output layers such as 100-10 are smaller still. Below this many weights a
# layer stays on one thread.
PARALLEL_MIN_WEIGHTS = 32_768

_FASTMATH = {"reassoc", "contract"}  # the flags of loops.KERNELS, for the reasons given there
_jit = numba.njit(cache=True, fastmath=_FASTMATH)
# prange only splits loops in a function compiled with parallel=True, so the two parallel layer
# kernels are compiled on their own (their plain Python stays at ``.py_func``).
_parallel_jit = numba.njit(cache=True, fastmath=_FASTMATH, parallel=True)


@register_jitable
def activate(z, a, softmax):
    """a = sigma(z) or softmax(z), row by row (the second half of ``loops.forward``)."""
    for s in range(z.shape[0]):
        if softmax:
            softmax_row(z[s], a[s])
        else:
            for j in range(z.shape[1]):
                a[s, j] = sigmoid(z[s, j])


@register_jitable
def sgd_row(w, b, j, c, row, grad_b, eta, l2):
    r"""Plain SGD (momentum 0) on neuron j's row, its gradient given as grad_w[j, k] = -c row[k] / eta:

        w[j, k] <- w[j, k] - eta (grad_w[j, k] + l2 w[j, k]) = (1 - eta l2) w[j, k] + c row[k]
        b[j]    <- b[j] - eta grad_b

    The velocity is neither read nor written: at batch 1 moving the row is the whole cost of the
    update, and a velocity would double the bytes. The caller picks row and c so no gradient
    is stored: one sample's a_prev[0] and -eta delta[0, j] (BP4 formed in place), or a batch's
    sum over samples and -eta / n (the mean taken here, not in a pass of its own).
    """
    # exactly 1 without L2, so then w[j, k] + c row[k] to the last bit; a 1 of w's dtype, as an
    # int 1 would make float32 arithmetic float64
    keep = w.dtype.type(1) - eta * l2
    b[j] -= eta * grad_b
    for k in range(w.shape[1]):
        w[j, k] = keep * w[j, k] + c * row[k]


@register_jitable
def momentum_row(w, b, v_w, v_b, j, c, row, grad_b, eta, mu, l2):
    r"""Momentum SGD on neuron j's row, grad_w[j, k] = -c row[k] / eta as in ``sgd_row``:

        v[j, k] <- mu v[j, k] - eta (grad_w[j, k] + l2 w[j, k]),  w[j, k] <- w[j, k] + v[j, k]
        v_b[j]  <- mu v_b[j] - eta grad_b,                        b[j] <- b[j] + v_b[j]
    """
    decay = -eta * l2
    v_b[j] = mu * v_b[j] - eta * grad_b
    b[j] += v_b[j]
    for k in range(w.shape[1]):
        v_w[j, k] = mu * v_w[j, k] + (c * row[k] + decay * w[j, k])
        w[j, k] += v_w[j, k]


@register_jitable
def sgd_row_next(w, b, j, c, row, grad_b, eta, l2, x_next):
    r"""``sgd_row`` that also returns the next sample's z[j] = b[j] + sum_k w[j, k] x_next[k]
    from the new row, in the same loop over k: the row is read and written once a step."""
    keep = w.dtype.type(1) - eta * l2
    b[j] -= eta * grad_b
    z = b[j]
    for k in range(w.shape[1]):
        w_new = keep * w[j, k] + c * row[k]
        w[j, k] = w_new
        z += w_new * x_next[k]
    return z


@register_jitable
def momentum_row_next(w, b, v_w, v_b, j, c, row, grad_b, eta, mu, l2, x_next):
    r"""``momentum_row`` that also returns z[j] = b[j] + sum_k w[j, k] x_next[k] (``sgd_row_next``)."""
    decay = -eta * l2
    v_b[j] = mu * v_b[j] - eta * grad_b
    b[j] += v_b[j]
    z = b[j]
    for k in range(w.shape[1]):
        v = mu * v_w[j, k] + (c * row[k] + decay * w[j, k])
        v_w[j, k] = v
        w_new = w[j, k] + v
        w[j, k] = w_new
        z += w_new * x_next[k]
    return z


@register_jitable
def gradient_row(delta, a_prev, j, grad_row):
    r"""BP3, BP4 for neuron j, as sums: grad_row[k] = sum_s delta[s, j] a_prev[s, k], returning
    sum_s delta[s, j] (``gradient`` divides by the batch size).

    Four samples at a time, so each load and store of grad_row[k] carries four multiply-adds.
    The bias sum has a loop of its own: inside the sample loops LLVM vectorized it across
    samples with gathers of delta[s, j] and left the loops over k scalar.
    """
    n, n_in = a_prev.shape
    zero = a_prev.dtype.type(0)
    for k in range(n_in):
        grad_row[k] = zero
    s = 0
    while s + 4 <= n:
        d0, d1, d2, d3 = delta[s, j], delta[s + 1, j], delta[s + 2, j], delta[s + 3, j]
        for k in range(n_in):
            grad_row[k] += (d0 * a_prev[s, k] + d1 * a_prev[s + 1, k]
                            + d2 * a_prev[s + 2, k] + d3 * a_prev[s + 3, k])
        s += 4
    for s in range(s, n):
        d = delta[s, j]
        for k in range(n_in):
            grad_row[k] += d * a_prev[s, k]
    grad_b = zero
    for s in range(n):
        grad_b += delta[s, j]
    return grad_b


@register_jitable
def hidden_deltas_finish(a_prev, delta_prev, mask_prev):
    r"""BP2's last factor: delta_prev[s, k] *= sigma'(z[s, k]) = a_prev[s, k] (1 - a_prev[s, k])
    (times the dropout mask, if ``mask_prev`` has rows)."""
    for s in range(delta_prev.shape[0]):
        for k in range(delta_prev.shape[1]):
            delta_prev[s, k] *= hidden_prime(a_prev, mask_prev, s, k)


@register_jitable
def gradient(delta, a_prev, j, grad_row, eta):
    r"""Neuron j's gradient as the row updates take it: (c, row, grad_b) with
    grad_w[j, k] = -c row[k] / eta. One sample: row = a_prev[0], c = -eta delta[0, j], nothing
    stored (BP4 is formed in the update). A batch: row = the sums of ``gradient_row``, c = -eta / n."""
    n = delta.shape[0]
    if n == 1:
        return -eta * delta[0, j], a_prev[0], delta[0, j]
    inverse_n = a_prev.dtype.type(1) / a_prev.dtype.type(n)  # not 1 / n: float64 in float32
    grad_b = gradient_row(delta, a_prev, j, grad_row) * inverse_n
    return -eta * inverse_n, grad_row, grad_b


@register_jitable
def error_row(w, delta, delta_prev, j):
    r"""BP2's sum, neuron j's share, from its old row: delta_prev[s, k] += w[j, k] delta[s, j]."""
    for s in range(delta.shape[0]):
        d = delta[s, j]
        for k in range(w.shape[1]):
            delta_prev[s, k] += w[j, k] * d


@register_jitable
def backward_update(w, b, v_w, v_b, delta, a_prev, delta_prev, grad_row, eta, mu, l2, hidden,
                    a_next, z_next, mask_prev):
    r"""BP2, BP3, BP4 and the update of one layer, one pass over its weights, row by row.

    For each neuron j, before its row changes:
        delta_prev[s, k] += w[j, k] delta[s, j]            (BP2's sum over j, old weights)
        grad_w[j, k]      = mean_s delta[s, j] a_prev[s, k] (BP4; BP3 for the bias)
        v[j, k] <- mu v[j, k] - eta (grad_w[j, k] + l2 w[j, k]),  w[j, k] <- w[j, k] + v[j, k]
    and at the end delta_prev[s, k] *= a_prev[s, k] (1 - a_prev[s, k]) (times the dropout mask).
    Right after row j changes, while it is in cache, the next batch's z_next[s, j] =
    b[j] + sum_k w[j, k] a_next[s, k] (the first layer only: a_next is the next input; no rows
    elsewhere).
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
    # a bare w += c x pass over the weights, against 1.25x; /tmp/lb/micro4.py, micro5.py).
    if n == 1 and a_next.shape[0] == 1 and not hidden:  # the first layer of a batch-1 step
        if mu == 0:
            for j in range(n_out):
                z_next[0, j] = sgd_row_next(w, b, j, -eta * delta[0, j], a_prev[0], delta[0, j],
                                            eta, l2, a_next[0])
        else:
            for j in range(n_out):
                z_next[0, j] = momentum_row_next(w, b, v_w, v_b, j, -eta * delta[0, j],
                                                 a_prev[0], delta[0, j], eta, mu, l2, a_next[0])
        return
    if mu == 0:
        for j in range(n_out):
            if hidden:
                error_row(w, delta, delta_prev, j)
            c, row, grad_b = gradient(delta, a_prev, j, grad_row, eta)
            sgd_row(w, b, j, c, row, grad_b, eta, l2)
            forward_neuron(w, b, a_next, z_next, j)
    else:
        for j in range(n_out):
            if hidden:
                error_row(w, delta, delta_prev, j)
            c, row, grad_b = gradient(delta, a_prev, j, grad_row, eta)
            momentum_row(w, b, v_w, v_b, j, c, row, grad_b, eta, mu, l2)
            forward_neuron(w, b, a_next, z_next, j)
    if hidden:
        hidden_deltas_finish(a_prev, delta_prev, mask_prev)


@register_jitable
def forward_neuron(w, b, a_prev, z, j):
    r"""Neuron j's weighted inputs z[s, j] = b[j] + sum_k w[j, k] a_prev[s, k] for every sample s.

    Four samples at a time, so each w[j, k] loaded feeds four multiply-adds, not one.
    """
    n, n_in = a_prev.shape
    s = 0
    while s + 4 <= n:
        z0 = z1 = z2 = z3 = b[j]
        for k in range(n_in):
            z0 += w[j, k] * a_prev[s, k]
            z1 += w[j, k] * a_prev[s + 1, k]
            z2 += w[j, k] * a_prev[s + 2, k]
            z3 += w[j, k] * a_prev[s + 3, k]
        z[s, j], z[s + 1, j], z[s + 2, j], z[s + 3, j] = z0, z1, z2, z3
        s += 4
    for s in range(s, n):
        total = b[j]
        for k in range(n_in):
            total += w[j, k] * a_prev[s, k]
        z[s, j] = total


@register_jitable
def forward(w, b, a_prev, z, a, softmax):
    r"""``loops.forward`` by ``forward_neuron``: z[s, j] = b[j] + sum_k w[j, k] a_prev[s, k], a = sigma(z)."""
    for j in range(w.shape[0]):
        forward_neuron(w, b, a_prev, z, j)
    activate(z, a, softmax)


@_parallel_jit
def forward_parallel(w, b, a_prev, z, a, softmax):
    r"""``forward`` with the neurons j shared between threads."""
    for j in numba.prange(w.shape[0]):
        forward_neuron(w, b, a_prev, z, j)
    activate(z, a, softmax)


@_parallel_jit
def backward_update_parallel(w, b, v_w, v_b, delta, a_prev, delta_prev, grad_rows, eta, mu, l2,
                             hidden, a_next, z_next, mask_prev):
    r"""``backward_update`` on threads: first BP2 from the old weights, by blocks of inputs k,

        delta_prev[s, k] = (sum_j w[j, k] delta[s, j]) a_prev[s, k] (1 - a_prev[s, k]) (m[s, k]),

    then BP3, BP4 and the update, the rows j split in ``grad_rows.shape[0]`` chunks, one per
    thread, each with its own row buffer for the gradient, and the next batch's z_next as there."""
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
                    delta_prev[s, k] *= hidden_prime(a_prev, mask_prev, s, k)
    chunks = grad_rows.shape[0]
    for chunk in numba.prange(chunks):
        for j in range(chunk * n_out // chunks, (chunk + 1) * n_out // chunks):
            c, row, grad_b = gradient(delta, a_prev, j, grad_rows[chunk], eta)
            if mu == 0:
                sgd_row(w, b, j, c, row, grad_b, eta, l2)
            else:
                momentum_row(w, b, v_w, v_b, j, c, row, grad_b, eta, mu, l2)
            forward_neuron(w, b, a_next, z_next, j)


@register_jitable
def feedforward(weights, biases, zs, activations, n, softmax):
    """``loops.feedforward`` by the sample-blocked ``forward``."""
    last = len(weights) - 1
    for layer in range(last + 1):
        forward(weights[layer], biases[layer], activations[layer][:n], zs[layer][:n],
                activations[layer + 1][:n], softmax and layer == last)


@register_jitable
def forward_parallel_if_large(w, b, a_prev, z, a, softmax):
    """``forward_parallel`` for a layer of at least PARALLEL_MIN_WEIGHTS weights, else ``forward``."""
    if w.size >= PARALLEL_MIN_WEIGHTS:
        forward_parallel(w, b, a_prev, z, a, softmax)
    else:
        forward(w, b, a_prev, z, a, softmax)


@register_jitable
def feedforward_parallel(weights, biases, zs, activations, n, softmax):
    """``feedforward`` with the neurons of each large layer shared between threads."""
    last = len(weights) - 1
    for layer in range(last + 1):
        forward_parallel_if_large(weights[layer], biases[layer], activations[layer][:n],
                                  zs[layer][:n], activations[layer + 1][:n],
                                  softmax and layer == last)


@register_jitable
def next_batch(x, y, order, start, batch_size, x_next, y_batch):
    """Gather the batch after the one at ``start`` into x_next and y_batch; returns its size."""
    first = start + batch_size
    n_next = max(0, min(batch_size, order.shape[0] - first))
    for s in range(n_next):
        x_next[s, :] = x[order[first + s]]
        y_batch[s, :] = y[order[first + s]]
    return n_next


@register_jitable
def sgd_epoch(weights, biases, v_w, v_b, x, y, order, batch_size, eta, mu, l2, cost, softmax,
              masks, zs, activations, deltas, grad_rows, y_batch, x_next):
    """``loops.sgd_epoch`` with ``backward_update``: forward, BP1, then one pass per layer.

    The first layer's pass also computes the next batch's z (``backward_update``), so each
    step reads the largest weight matrix once instead of twice; the first batch's first layer
    is computed before the loop. Dropout as in ``loops.sgd_epoch``.
    """
    last = len(weights) - 1
    n = next_batch(x, y, order, -batch_size, batch_size, activations[0], y_batch)
    drop_layer(activations, masks, 0, 0, n)
    forward(weights[0], biases[0], activations[0][:n], zs[0][:n], activations[1][:n],
            softmax and last == 0)
    drop_layer(activations, masks, 1, 0, n)
    for start in range(0, order.shape[0], batch_size):
        n = min(batch_size, order.shape[0] - start)
        for layer in range(1, last + 1):
            forward(weights[layer], biases[layer], activations[layer][:n], zs[layer][:n],
                    activations[layer + 1][:n], softmax and layer == last)
            drop_layer(activations, masks, layer + 1, start, n)
        output_delta(activations[last + 1][:n], y_batch[:n], deltas[last][:n], cost, softmax)
        for layer in range(last, 0, -1):
            backward_update(weights[layer], biases[layer], v_w[layer], v_b[layer],
                            deltas[layer][:n], activations[layer][:n], deltas[layer - 1][:n],
                            grad_rows[layer][0], eta, mu, l2, True, x_next[:0], zs[layer][:0],
                            masks[layer][start:start + n])
        following = start + batch_size
        n_next = next_batch(x, y, order, start, batch_size, x_next, y_batch)
        drop(x_next[:n_next], masks[0][following:following + n_next])
        # The input layer has no delta: it gets a stand-in buffer that is left alone.
        backward_update(weights[0], biases[0], v_w[0], v_b[0], deltas[0][:n],
                        activations[0][:n], deltas[0][:n], grad_rows[0][0], eta, mu, l2, False,
                        x_next[:n_next], zs[0][:n_next], masks[0][:0])
        activate(zs[0][:n_next], activations[1][:n_next], softmax and last == 0)
        drop_layer(activations, masks, 1, following, n_next)
        activations[0][:n_next] = x_next[:n_next]


@register_jitable
def sgd_epoch_parallel(weights, biases, v_w, v_b, x, y, order, batch_size, eta, mu, l2, cost,
                       softmax, masks, zs, activations, deltas, grad_rows, y_batch, x_next):
    """``sgd_epoch`` with the neurons of each large layer shared between threads."""
    last = len(weights) - 1
    n = next_batch(x, y, order, -batch_size, batch_size, activations[0], y_batch)
    drop_layer(activations, masks, 0, 0, n)
    forward_parallel_if_large(weights[0], biases[0], activations[0][:n], zs[0][:n],
                              activations[1][:n], softmax and last == 0)
    drop_layer(activations, masks, 1, 0, n)
    for start in range(0, order.shape[0], batch_size):
        n = min(batch_size, order.shape[0] - start)
        for layer in range(1, last + 1):
            forward_parallel_if_large(weights[layer], biases[layer], activations[layer][:n],
                                      zs[layer][:n], activations[layer + 1][:n],
                                      softmax and layer == last)
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
                                         mu, l2, layer > 0, a_next, z_next, mask_prev)
            else:
                backward_update(weights[layer], biases[layer], v_w[layer], v_b[layer],
                                deltas[layer][:n], activations[layer][:n],
                                deltas[max(layer - 1, 0)][:n], grad_rows[layer][0], eta, mu, l2,
                                layer > 0, a_next, z_next, mask_prev)
        activate(zs[0][:n_next], activations[1][:n_next], softmax and last == 0)
        drop_layer(activations, masks, 1, following, n_next)
        activations[0][:n_next] = x_next[:n_next]


FUSED = SimpleNamespace(feedforward=_jit(feedforward), sgd_epoch=_jit(sgd_epoch))
PARALLEL = SimpleNamespace(feedforward=_jit(feedforward_parallel),
                           sgd_epoch=_jit(sgd_epoch_parallel))


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
    """The fused kernels behind ``LoopBackend``'s interface (``FUSED`` or ``PARALLEL``)."""

    def __init__(self, kernels, chunks=None):
        self.kernels = kernels
        self.chunks = chunks
        if kernels is PARALLEL:
            launch_threads()

    def sgd_epoch(self, weights, biases, v_w, v_b, x, y, order, batch_size, eta, mu, l2, cost,
                  softmax, masks=None):
        masks = no_masks(weights, x.dtype) if masks is None else tuple(masks)
        sizes = [x.shape[1]] + [w.shape[0] for w in weights]
        rows = min(batch_size, len(order))
        dtype = x.dtype
        zs, activations, deltas = self._buffers(sizes, rows, dtype)
        chunks = self.chunks or numba.get_num_threads()
        grad_rows = tuple(aligned_empty((chunks, n), dtype) for n in sizes[:-1])
        y_batch = aligned_empty((rows, y.shape[1]), y.dtype)
        x_next = aligned_empty((rows, x.shape[1]), dtype)
        scalar = dtype.type  # a Python float learning rate would turn float32 sums into float64
        self.kernels.sgd_epoch(tuple(weights), tuple(biases), tuple(v_w), tuple(v_b), x, y, order,
                               batch_size, scalar(eta), scalar(mu), scalar(l2), cost, softmax,
                               masks, zs, activations, deltas, grad_rows, y_batch, x_next)


FAST = FastBackend(FUSED)
"""What ``LoopBackend(KERNELS).sgd_epoch`` runs: the fused kernels on one thread. ``PARALLEL``
is left to be chosen (``FastBackend(PARALLEL)``): on a 2-core machine shared with other work its
threads wait for cores, and it ran slower than one thread (``python benchmarks/report.py``)."""
