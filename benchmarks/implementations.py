"""The implementations the benchmarks compare, each behind the same few calls.

Each implementation has ``feedforward(net, x)`` (output activations), ``sgd_epoch(net, x, y,
order, batch_size)`` (in place; one SGD step when ``order`` is one batch) and, for the layer
kernels, ``backward(net, activations, y)`` and ``update(net, grad_w, grad_b)``:

    loops-plain   the three plain kernels of ``neuronet.loops``, compiled
    loops         what the "loops" backend runs: the fused kernels of ``neuronet.fast``
    loops-prange  the same with ``numba.prange`` over the neurons of each large layer
    vectorized    the numpy twin, the reference every result is checked against
    python        the plain kernels uncompiled (smallest case only: about 10^4 times slower)
    torch         PyTorch on the CPU, float64, when it is installed
"""
import numpy as np

from neuronet import Network, fast, loops
from neuronet.activations import COSTS
from neuronet.jit import njit
from neuronet.network import BACKENDS
from neuronet import vectorized

SHAPES = {"784-30-10": (784, 30, 10), "784-100-10": (784, 100, 10), "784-800-10": (784, 800, 10)}
BATCHES = (1, 10, 100)
LEARNING_RATE, MOMENTUM, WEIGHT_DECAY = 0.5, 0.9, 1e-4
COST, SOFTMAX = COSTS["quadratic"], False


def make_net(shape, dtype="float64", seed=0):
    """A fresh network with its parameters on 64-byte boundaries (see ``loops.aligned_empty``)."""
    net = Network(shape, seed=seed, dtype=dtype)
    net.weights = [loops.aligned_copy(w) for w in net.weights]
    net.biases = [loops.aligned_copy(b) for b in net.biases]
    net.velocity_w = [loops.aligned_copy(v) for v in net.velocity_w]
    net.velocity_b = [loops.aligned_copy(v) for v in net.velocity_b]
    return net


def make_data(n, shape, dtype="float64", seed=1):
    """n MNIST-shaped samples: inputs in [0, 1), one-hot targets."""
    rng = np.random.default_rng(seed)
    x = loops.aligned_copy(rng.random((n, shape[0])).astype(dtype))
    y = loops.aligned_copy(np.eye(shape[-1], dtype=dtype)[rng.integers(0, shape[-1], n)])
    return x, y


def state(net):
    """Everything an SGD step changes, as a list of arrays."""
    return net.weights + net.biases + net.velocity_w + net.velocity_b


def largest_difference(arrays_a, arrays_b):
    return max(float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
               for a, b in zip(arrays_a, arrays_b))


@njit(fastmath={"reassoc", "contract"})
def _backward_layers(weights, activations, deltas, grad_w, grad_b, y, cost, softmax):
    """BP1 then BP2-BP4 layer by layer with the plain kernels (``loops.backprop`` minus its
    forward; no dropout: each mask is a slice with no rows)."""
    last = len(weights) - 1
    loops.output_delta(activations[last + 1], y, deltas[last], cost, softmax)
    for layer in range(last, -1, -1):
        loops.backward(weights[layer], deltas[layer], activations[layer], grad_w[layer],
                       grad_b[layer], deltas[max(layer - 1, 0)], layer > 0,
                       activations[layer][:0])


@njit(fastmath={"reassoc", "contract"})
def _update_layers(weights, biases, grad_w, grad_b, v_w, v_b, eta, mu, l2):
    for layer in range(len(weights)):
        loops.update(weights[layer], biases[layer], grad_w[layer], grad_b[layer], v_w[layer],
                     v_b[layer], eta, mu, l2)


class Backend:
    """A neuronet backend: its own ``feedforward`` and ``sgd_epoch``; the layer kernels of ``layers``."""

    def __init__(self, backend, layers=None):
        self.backend, self.layers = backend, layers

    def feedforward(self, net, x):
        return self.backend.feedforward(net.weights, net.biases, x, SOFTMAX)[-1]

    def sgd_epoch(self, net, x, y, order, batch_size):
        scalar = net.dtype.type
        self.backend.sgd_epoch(net.weights, net.biases, net.velocity_w, net.velocity_b, x, y,
                               order, batch_size, scalar(LEARNING_RATE), scalar(MOMENTUM),
                               scalar(WEIGHT_DECAY), COST, SOFTMAX)

    def backward(self, net, activations, y):
        if self.layers == "vectorized":
            delta = vectorized.output_delta(activations[-1], y, COST, SOFTMAX)
            grad_w, grad_b = [None] * len(net.weights), [None] * len(net.weights)
            for layer in range(len(net.weights) - 1, -1, -1):
                grad_w[layer], grad_b[layer], delta = vectorized.backward(
                    net.weights[layer], delta, activations[layer], layer > 0)
            return grad_w + grad_b
        grad_w = tuple(np.empty_like(w) for w in net.weights)
        grad_b = tuple(np.empty_like(b) for b in net.biases)
        deltas = tuple(np.empty_like(a) for a in activations[1:])
        run = _backward_layers if self.layers == "compiled" else _backward_layers.py_func
        run(tuple(net.weights), tuple(activations), deltas, grad_w, grad_b, y, COST, SOFTMAX)
        return list(grad_w) + list(grad_b)

    def update(self, net, grad_w, grad_b):
        scalar = net.dtype.type
        args = (net.weights, net.biases, grad_w, grad_b, net.velocity_w, net.velocity_b,
                scalar(LEARNING_RATE), scalar(MOMENTUM), scalar(WEIGHT_DECAY))
        if self.layers == "vectorized":
            for layer in range(len(net.weights)):
                vectorized.update(*(arg[layer] for arg in args[:6]), *args[6:])
        elif self.layers == "compiled":
            _update_layers(*(tuple(arg) for arg in args[:6]), *args[6:])
        else:
            _update_layers.py_func(*(tuple(arg) for arg in args[:6]), *args[6:])


class Torch:
    """The same network and SGD in PyTorch (float64, CPU): the optional peer."""

    def __init__(self, threads=None):
        import torch
        self.torch, self.threads = torch, threads

    def _threads(self):
        """torch.set_num_threads for the duration of a call (None: torch's default)."""
        torch, threads = self.torch, self.threads

        class Threads:
            def __enter__(self):
                self.before = torch.get_num_threads()
                torch.set_num_threads(threads or self.before)

            def __exit__(self, *exc):
                torch.set_num_threads(self.before)

        return Threads()

    def _tensors(self, net):
        return [self.torch.from_numpy(p) for p in net.weights + net.biases]

    def feedforward(self, net, x):
        with self.torch.no_grad(), self._threads():
            a = self.torch.from_numpy(x)
            tensors, layers = self._tensors(net), len(net.weights)
            for w, b in zip(tensors[:layers], tensors[layers:]):
                a = self.torch.sigmoid(a @ w.T + b)
            return a.numpy()

    def sgd_epoch(self, net, x, y, order, batch_size):
        with self._threads():
            self._sgd_epoch(net, x, y, order, batch_size)

    def _sgd_epoch(self, net, x, y, order, batch_size):
        # torch.optim.SGD keeps v = mu v + g and steps w -= eta v, our velocity divided by -eta:
        # the same weights. It works on the numpy arrays in place (from_numpy shares memory).
        torch = self.torch
        layers = len(net.weights)
        params = [p.requires_grad_() for p in self._tensors(net)]
        optimizer = torch.optim.SGD(params, lr=LEARNING_RATE, momentum=MOMENTUM)
        buffers = [torch.from_numpy(v / -LEARNING_RATE) for v in net.velocity_w + net.velocity_b]
        for p, v in zip(params, buffers):
            optimizer.state[p]["momentum_buffer"] = v
        xs, ys = torch.from_numpy(x), torch.from_numpy(y)
        for start in range(0, len(order), batch_size):
            rows = torch.from_numpy(order[start:start + batch_size])
            a = xs[rows]
            for w, b in zip(params[:layers], params[layers:]):
                a = torch.sigmoid(a @ w.T + b)
            cost = 0.5 * ((a - ys[rows]) ** 2).sum() / len(rows)
            optimizer.zero_grad(set_to_none=False)
            cost.backward()
            with torch.no_grad():  # weight decay on the weights only, as in neuronet
                for w in params[:layers]:
                    w.grad += WEIGHT_DECAY * w
            optimizer.step()
        for v, p in zip(net.velocity_w + net.velocity_b, params):
            v[...] = -LEARNING_RATE * optimizer.state[p]["momentum_buffer"].numpy()


def implementations():
    """name -> implementation; torch only where it is installed."""
    found = {
        "loops-plain": Backend(loops.LoopBackend(loops.KERNELS, fused=False), "compiled"),
        "loops": Backend(fast.FastBackend(fast.FUSED)),
        "loops-prange": Backend(fast.FastBackend(fast.PARALLEL)),
        "vectorized": Backend(BACKENDS["vectorized"], "vectorized"),
        "python": Backend(loops.LoopBackend(loops.PLAIN), "python"),
    }
    try:
        found["torch"] = Torch()
    except ImportError:
        pass
    return found


def flops_per_sample(shape, batch_size):
    """Floating-point operations per sample of one SGD step, counted as in issue 4.

    With P weights: forward 2P (a multiply and an add each), backward 2P for BP4 plus 2 per
    weight of every layer but the first for the hidden deltas BP2, update 2P per step (shared
    by the batch). Biases and activations are left out: a few per neuron, not per weight.
    """
    sizes = list(shape)
    weights = [n_out * n_in for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    p = sum(weights)
    return 2 * p + 2 * p + 2 * sum(weights[1:]) + 2 * p / batch_size
