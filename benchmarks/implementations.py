"""The implementations the benchmarks compare, each behind the same few calls.

Each implementation has ``feedforward(net, x)`` (output activations), ``sgd_epoch(net, x, y,
order, batch_size)`` (in place; one SGD step when ``order`` is one batch) and, for the layer
kernels, ``backward(net, activations, y)`` and ``update(net, grad_w, grad_b)``:

    loops-plain   the three plain kernels of ``neuronet.loops``, compiled
    loops         what the "loops" backend runs: the fused kernels of ``neuronet.fast``
    loops-prange  the same with ``numba.prange`` over the neurons of each large layer
    vectorized      the numpy twin, the reference every result is checked against
    vectorized-2threads  the same twin with its BLAS on two threads (the twin itself takes one
                    below ``vectorized.TWO_THREADS_FLOPS``)
    python          the plain kernels uncompiled (smallest case only: about 10^4 times slower)
    numpy-textbook  the numpy a competent user writes, no neuronet code (``NumpyTextbook``)
    torch           PyTorch on the CPU, float64, autograd and ``torch.optim.SGD``
    torch-manual    PyTorch without autograd: the same equations as in-place tensor calls

Each peer runs BLAS (or torch) on a given number of threads; ``implementations()`` gives them one,
the report times one and two and keeps the faster. PyTorch only where it is installed.

Every implementation runs the network's hidden activation (``net.activation``: sigmoid, tanh or
relu; the output layer is always the sigmoid), each in its own words: neuronet's backends take the
kernels' code, numpy-textbook calls ``np.tanh`` or ``np.maximum`` and takes f' from the activation
(``1 - a * a``, ``a > 0``), PyTorch calls ``torch.tanh`` or ``torch.relu`` (and autograd differentiates
them). ReLU has no derivative at z = 0; every implementation here takes 0 there (``a > 0`` is false
at a = 0, and PyTorch's ``relu`` backward passes gradient only where its input is > 0), so all agree.
"""
import contextlib
import itertools

import numpy as np

from neuronet import Network, backends, loops, records, vectorized
from neuronet.activations import ACTIVATIONS, COSTS
from neuronet.backends import BACKENDS
from neuronet.jit import njit
from neuronet.rules import SGD_RULE, settings

SHAPES = {"784-30-10": (784, 30, 10), "784-100-10": (784, 100, 10), "784-800-10": (784, 800, 10)}
BATCHES = (1, 10, 100)
LEARNING_RATE, MOMENTUM, WEIGHT_DECAY = 0.5, 0.9, 1e-4
COST, SOFTMAX = COSTS["quadratic"], False


def kind(net):
    """The kernels' code for the network's hidden activation."""
    return ACTIVATIONS[net.activation]


def make_net(shape, dtype="float64", seed=0, activation="sigmoid"):
    """A fresh network with its parameters on 64-byte boundaries (see ``records.aligned_empty``),
    drawn by the initialisation "auto" gives its hidden ``activation`` (normal, glorot, he)."""
    net = Network(shape, seed=seed, dtype=dtype, activation=activation)
    net.weights = [records.aligned_copy(w) for w in net.weights]
    net.biases = [records.aligned_copy(b) for b in net.biases]
    net.velocity_w = [records.aligned_copy(v) for v in net.velocity_w]
    net.velocity_b = [records.aligned_copy(v) for v in net.velocity_b]
    return net


def make_data(n, shape, dtype="float64", seed=1):
    """n MNIST-shaped samples: inputs in [0, 1), one-hot targets."""
    rng = np.random.default_rng(seed)
    x = records.aligned_copy(rng.random((n, shape[0])).astype(dtype))
    y = records.aligned_copy(np.eye(shape[-1], dtype=dtype)[rng.integers(0, shape[-1], n)])
    return x, y


def state(net):
    """Everything an SGD step changes, as a list of arrays."""
    return net.weights + net.biases + net.velocity_w + net.velocity_b


def largest_difference(arrays_a, arrays_b):
    return max(float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
               for a, b in zip(arrays_a, arrays_b))


@njit(fastmath={"reassoc", "contract"})
def _backward_layers(weights, activations, deltas, grad_w, grad_b, y, cost, softmax, kind):
    """BP1 then BP2-BP4 layer by layer with the plain kernels (``loops.backprop`` minus its
    forward; no dropout: each mask is a slice with no rows)."""
    last = len(weights) - 1
    loops.output_delta(activations[last + 1], y, deltas[last], cost, softmax)
    for layer in range(last, -1, -1):
        loops.backward(weights[layer], deltas[layer], activations[layer], grad_w[layer],
                       grad_b[layer], deltas[max(layer - 1, 0)], layer > 0,
                       activations[layer][:0], kind)


@njit(fastmath={"reassoc", "contract"})
def _update_layers(params, grad_w, grad_b, step):
    for layer in range(len(params.weights)):
        loops.update(records.layer_of(params, layer), grad_w[layer], grad_b[layer], step)


class Backend:
    """A neuronet backend: its own ``feedforward`` and ``sgd_epoch``; the layer kernels of ``layers``."""

    def __init__(self, backend, layers=None, settings=None):
        self.backend, self.layers = backend, layers
        self.settings = settings or (LEARNING_RATE, MOMENTUM, WEIGHT_DECAY)

    def feedforward(self, net, x):
        return self.backend.feedforward(records.parameters(net.weights, net.biases, [], []), x,
                                        net.model(), None)[-1]

    def sgd_epoch(self, net, x, y, order, batch_size):
        # The network's work arrays, as net.step passes them: the loop backends' work arrays stay
        # with the network between calls (made afresh in every round, their first touch cost the
        # blocks of one-sample steps up to 40 % at batch 1; 784-30-10: 65,123 against 110,523
        # samples/s, one run).
        params = records.parameters(net.weights, net.biases, net.velocity_w, net.velocity_b)
        self.backend.sgd_epoch(params, x, y, order, batch_size,
                               settings(*self.settings, SGD_RULE, net.dtype), net.model(), None,
                               net.work)

    def backward(self, net, activations, y):
        if self.layers == "vectorized":
            delta = vectorized.output_delta(activations[-1], y, COST, SOFTMAX)
            grad_w, grad_b = [None] * len(net.weights), [None] * len(net.weights)
            for layer in range(len(net.weights) - 1, -1, -1):
                grad_w[layer], grad_b[layer], delta = vectorized.backward(
                    net.weights[layer], delta, activations[layer], layer > 0, kind=kind(net))
            return grad_w + grad_b
        grad_w = tuple(np.empty_like(w) for w in net.weights)
        grad_b = tuple(np.empty_like(b) for b in net.biases)
        deltas = tuple(np.empty_like(a) for a in activations[1:])
        run = _backward_layers if self.layers == "compiled" else _backward_layers.py_func
        run(tuple(net.weights), tuple(activations), deltas, grad_w, grad_b, y, COST, SOFTMAX,
            kind(net))
        return list(grad_w) + list(grad_b)

    def update(self, net, grad_w, grad_b):
        scalar = net.dtype.type
        args = (net.weights, net.biases, grad_w, grad_b, net.velocity_w, net.velocity_b,
                scalar(LEARNING_RATE), scalar(MOMENTUM), scalar(WEIGHT_DECAY))
        if self.layers == "vectorized":
            for layer in range(len(net.weights)):
                vectorized.update(*(arg[layer] for arg in args[:6]), *args[6:])
        else:
            params = records.parameters(net.weights, net.biases, net.velocity_w, net.velocity_b)
            step = settings(LEARNING_RATE, MOMENTUM, WEIGHT_DECAY, SGD_RULE, net.dtype)
            run = _update_layers if self.layers == "compiled" else _update_layers.py_func
            run(params, tuple(grad_w), tuple(grad_b), step)


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

    def _functions(self, net):
        """Each layer's activation: the hidden one, then the output's sigmoid."""
        torch = self.torch
        hidden = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}[net.activation]
        return [hidden] * (len(net.weights) - 1) + [torch.sigmoid]

    def feedforward(self, net, x):
        with self.torch.no_grad(), self._threads():
            a = self.torch.from_numpy(x)
            tensors, layers = self._tensors(net), len(net.weights)
            for w, b, f in zip(tensors[:layers], tensors[layers:], self._functions(net)):
                a = f(a @ w.T + b)
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
        functions = self._functions(net)
        for start in range(0, len(order), batch_size):
            rows = torch.from_numpy(order[start:start + batch_size])
            a = xs[rows]
            for w, b, f in zip(params[:layers], params[layers:], functions):
                a = f(a @ w.T + b)
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
        "loops-plain": Backend(backends.LoopBackend(loops.KERNELS), "compiled"),
        "loops": Backend(backends.FastBackend(backends.FUSED)),
        "loops-prange": Backend(backends.FastBackend(backends.PARALLEL)),
        "vectorized": Backend(BACKENDS["vectorized"], "vectorized"),
        "vectorized-2threads": Backend(vectorized.VectorizedBackend(threads=2), "vectorized"),
        "python": Backend(backends.LoopBackend(loops.PLAIN), "python"),
    }
    found["numpy-textbook"] = NumpyTextbook(threads=1)
    try:
        found["torch"] = Torch()
        found["torch-manual"] = TorchManual(threads=1)
    except ImportError:
        pass
    return found


def blas_threads(n):
    """BLAS held to n threads for a ``with`` block (left alone if it already has n).

    ``threadpoolctl.threadpool_limits`` looks every library up again at each call (1.4 ms here);
    one controller, made once, costs about 14 us a switch.
    """
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController
        _BLAS = ThreadpoolController().select(user_api="blas")
    if all(lib.num_threads == n for lib in _BLAS.lib_controllers):
        return contextlib.nullcontext()
    return _BLAS.limit(limits=n)


_BLAS = None


class NumpyTextbook:
    """SGD as a competent numpy user writes it, with no neuronet code: per sample ``w @ a`` and
    ``np.outer``, for a mini-batch matrix products; the learning rate folded into delta (a
    vector) rather than into the gradient (a matrix); updates in place; BLAS on ``threads``.
    Its sigmoid is ``1 / (1 + exp(-z))``, which only warns (and rounds to 0) below z = -709; its
    hidden activation and f' come from ``TEXTBOOK``."""

    def __init__(self, threads=1, settings=None):
        self.threads = threads
        self.eta, self.mu, self.l2 = settings or (LEARNING_RATE, MOMENTUM, WEIGHT_DECAY)

    def feedforward(self, net, x):
        a = x
        for w, b, f in zip(net.weights, net.biases, _textbook_functions(net)):
            a = f(a @ w.T + b)
        return a

    def sgd_epoch(self, net, x, y, order, batch_size):
        with blas_threads(self.threads):
            for start in range(0, len(order), batch_size):
                rows = order[start:start + batch_size]
                if len(rows) == 1:
                    self.step_one(net, x[rows[0]], y[rows[0]])
                else:
                    self.step_batch(net, x[rows], y[rows])

    def step_one(self, net, x, y):
        prime = TEXTBOOK[net.activation][1]
        activations = [x]
        for w, b, f in zip(net.weights, net.biases, _textbook_functions(net)):
            activations.append(f(w @ activations[-1] + b))
        a = activations[-1]
        delta = (a - y) * a * (1 - a)
        for layer in range(len(net.weights) - 1, -1, -1):
            a_prev = activations[layer]
            if layer:
                delta_prev = (net.weights[layer].T @ delta) * prime(a_prev)
            self.update(net, layer, np.outer(self.eta * delta, a_prev), self.eta * delta)
            delta = delta_prev if layer else None

    def step_batch(self, net, x, y):
        prime = TEXTBOOK[net.activation][1]
        activations = [x]
        for w, b, f in zip(net.weights, net.biases, _textbook_functions(net)):
            activations.append(f(activations[-1] @ w.T + b))
        a = activations[-1]
        delta = (a - y) * a * (1 - a)
        scale = self.eta / len(x)
        for layer in range(len(net.weights) - 1, -1, -1):
            a_prev = activations[layer]
            if layer:
                delta_prev = (delta @ net.weights[layer]) * prime(a_prev)
            self.update(net, layer, (scale * delta).T @ a_prev, scale * delta.sum(axis=0))
            delta = delta_prev if layer else None

    def update(self, net, layer, eta_grad_w, eta_grad_b):
        """w <- w - eta (grad + l2 w) without momentum; v <- mu v - eta (grad + l2 w), w <- w + v
        with it (biases: no l2)."""
        w, b = net.weights[layer], net.biases[layer]
        if self.mu == 0:
            w -= eta_grad_w + (self.eta * self.l2) * w if self.l2 else eta_grad_w
            b -= eta_grad_b
            return
        v_w, v_b = net.velocity_w[layer], net.velocity_b[layer]
        v_w *= self.mu
        v_w -= eta_grad_w
        if self.l2:
            v_w -= (self.eta * self.l2) * w
        w += v_w
        v_b *= self.mu
        v_b -= eta_grad_b
        b += v_b


def _sigmoid(z):
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-z))


def _relu(z):
    return np.maximum(z, 0)


# numpy-textbook's hidden activations, each with f'(z) from the activation a = f(z); ReLU's
# derivative at the kink z = 0 (a = 0) is 0, as in neuronet and PyTorch.
TEXTBOOK = {"sigmoid": (_sigmoid, lambda a: a * (1 - a)),
            "tanh": (np.tanh, lambda a: 1 - a * a),
            "relu": (_relu, lambda a: a > 0)}


def _textbook_functions(net):
    """Each layer's activation: the hidden one, then the output's sigmoid."""
    return [TEXTBOOK[net.activation][0]] * (len(net.weights) - 1) + [_sigmoid]


class TorchManual:
    """PyTorch (float64, CPU) with no autograd: the same equations as ``NumpyTextbook`` in
    in-place tensor calls, ``addmv``/``addr_`` for one sample, ``addmm``/``addmm_`` for a batch,
    on the numpy arrays themselves (``torch.from_numpy`` shares memory); ``threads`` torch
    threads. The hidden activation in place (``tanh_``, ``relu_``), f' from it as in
    numpy-textbook."""

    def __init__(self, threads=1, settings=None):
        import torch
        self.torch, self.threads = torch, threads
        self.eta, self.mu, self.l2 = settings or (LEARNING_RATE, MOMENTUM, WEIGHT_DECAY)

    def _functions(self, net):
        """Each layer's activation in place (the hidden one, then the output's sigmoid), and the
        hidden one's f' from a = f(z)."""
        torch = self.torch
        hidden, prime = {"sigmoid": (torch.sigmoid_, lambda a: a * (1 - a)),
                         "tanh": (torch.tanh_, lambda a: 1 - a * a),
                         "relu": (torch.relu_, lambda a: a > 0)}[net.activation]
        return [hidden] * (len(net.weights) - 1) + [torch.sigmoid_], prime

    def feedforward(self, net, x):
        torch = self.torch
        with torch.no_grad():
            a = torch.from_numpy(x)
            for w, b, f in zip(net.weights, net.biases, self._functions(net)[0]):
                a = f(torch.addmm(torch.from_numpy(b), a, torch.from_numpy(w).T))
            return a.numpy()

    def sgd_epoch(self, net, x, y, order, batch_size):
        torch = self.torch
        before = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            with torch.no_grad():
                tensors = [[torch.from_numpy(p) for p in group] for group in
                           (net.weights, net.biases, net.velocity_w, net.velocity_b)]
                xs, ys = torch.from_numpy(x), torch.from_numpy(y)
                functions = self._functions(net)
                for start in range(0, len(order), batch_size):
                    rows = order[start:start + batch_size]
                    if len(rows) == 1:
                        self.step(*tensors, xs[int(rows[0])], ys[int(rows[0])], *functions)
                    else:
                        rows = torch.from_numpy(rows)
                        self.step(*tensors, xs[rows], ys[rows], *functions)
        finally:
            torch.set_num_threads(before)

    def step(self, weights, biases, v_w, v_b, x, y, functions, prime):
        torch, one = self.torch, x.dim() == 1
        n = 1 if one else len(x)
        activations = [x]
        for w, b, f in zip(weights, biases, functions):
            z = torch.addmv(b, w, activations[-1]) if one else torch.addmm(b, activations[-1], w.T)
            activations.append(f(z))
        a = activations[-1]
        delta = (a - y) * a * (1 - a)
        for layer in range(len(weights) - 1, -1, -1):
            w, a_prev = weights[layer], activations[layer]
            if layer:
                delta_prev = (w.T @ delta if one else delta @ w) * prime(a_prev)
            target, beta = (w, 1 - self.eta * self.l2) if self.mu == 0 else (v_w[layer], self.mu)
            if beta != 1:
                target.mul_(beta)
            if one:
                target.addr_(delta, a_prev, alpha=-self.eta)
            else:
                target.addmm_(delta.T, a_prev, alpha=-self.eta / n)
            grad_b = delta if one else delta.mean(dim=0)
            if self.mu == 0:
                biases[layer].sub_(grad_b, alpha=self.eta)
            else:
                if self.l2:
                    target.add_(w, alpha=-self.eta * self.l2)
                w.add_(target)
                v_b[layer].mul_(self.mu).sub_(grad_b, alpha=self.eta)
                biases[layer].add_(v_b[layer])
            delta = delta_prev if layer else None


def flops_per_sample(shape, batch_size):
    """Floating-point operations per sample of one SGD step, counted once and kept as a yardstick.

    With P weights: forward 2P (a multiply and an add each), backward 2P for BP4 plus 2 per
    weight of every layer but the first for the hidden deltas BP2, update 2P per step (shared
    by the batch). Biases and activations are left out: a few per neuron, not per weight.
    """
    sizes = list(shape)
    weights = [n_out * n_in for n_in, n_out in itertools.pairwise(sizes)]
    p = sum(weights)
    return 2 * p + 2 * p + 2 * sum(weights[1:]) + 2 * p / batch_size
