"""The backends: one interface (``Backend``), the classes behind it, and the table of names.

    "loops"        the fused kernels of ``fused`` compiled by numba, one pass over each layer's
                   weights per step, one-sample SGD by blocks (``blocks``) and ``train`` by
                   ``sample`` (the default)
    "loops-plain"  the textbook loops of ``loops``, compiled with the sums reassociated
    "strict"       the textbook loops of ``loops``, compiled with no reassociation and no fused
                   multiply-add: the sums in the order the plain Python adds them, so float64
                   results are the bits of "python", the same on any processor
    "python"       the textbook loops of ``loops``, not compiled: slow, but a debugger steps through
    "vectorized"   one numpy expression per layer (``vectorized``)

All of them give the same numbers to within rounding, so a network can switch at any time.
``describe()`` (``neuronet backends`` on the command line) says which kernel functions each one
runs for a step at batch 1 and at batch n, for each rule. The arrows point one way: this module
imports the kernels; the kernels never import it.
"""
from collections.abc import Callable
from types import SimpleNamespace
from typing import Protocol

import numba
import numpy as np

from .activations import sample_cost
from .blocks import sgd_epoch_blocks
from .fused import feedforward as fused_feedforward
from .fused import make_work, sgd_epoch
from .jit import njit
from .loops import KERNELS, PLAIN, STRICT
from .loops import make_work as make_loop_work
from .parallel import FASTMATH, feedforward_parallel, launch_threads, sgd_epoch_parallel
from .records import Model, Parameters, layer_buffers
from .rules import SGD, Settings
from .sample import TYPED, finish_sample, make_waiting, sample_work, train_sample
from .vectorized import VectorizedBackend

# Calls of up to this many samples keep their work arrays between calls (``LoopBackend.kept``):
# for one sample, allocating them took longer than the step; larger calls keep nothing, so
# predicting 10,000 images does not hold 10,000 rows of every layer afterwards.
KEEP_ROWS = 256

# SGD one sample at a time applies the first layer's steps this many samples at a time
# (``blocks.sgd_epoch_blocks``).
BLOCK = 16


class Backend(Protocol):
    """What every backend does, with the same arguments: a network's ``records.Parameters``,
    its ``records.Model``, a step's ``rules.Settings``, and ``work``, a dict the network keeps
    in which a backend may keep its work arrays between calls."""

    def feedforward(self, params: Parameters, x: np.ndarray, model: Model,
                    work: dict) -> list:
        """Every layer's activations for the rows of x (the inputs first)."""

    def backprop(self, params: Parameters, x: np.ndarray, y: np.ndarray,
                 model: Model) -> tuple:
        """(grad_w, grad_b): the gradients of the cost averaged over the rows of x and y."""

    def sgd_epoch(self, params: Parameters, x: np.ndarray, y: np.ndarray, order: np.ndarray,
                  batch_size: int, step: Settings, model: Model, masks, work: dict) -> np.ndarray:
        """SGD steps over the rows ``order`` of x and y, ``batch_size`` at a time, in place;
        ``masks``: dropout rows for each sample of ``order`` (None: none). Returns the last
        batch's outputs from its forward pass, before its step."""

    def train_sample(self, params: Parameters, x: np.ndarray, y: np.ndarray, step: Settings,
                     model: Model, work: dict) -> float:
        """One step on the one sample x, y (one row each); returns its cost before the step.
        The step may be left partly waiting, until ``finish_sample``."""

    def finish_sample(self, params: Parameters, work: dict) -> None:
        """Apply what ``train_sample`` left waiting, if anything."""

    def bind_sample(self, params: Parameters, model: Model, work: dict,
                    step: Settings) -> Callable | None:
        """``train_sample`` on these very parameters, as a function of (x, y, step), x and y one
        1-D row each, for a caller that checked x, y and the arrays to be of the types they
        are now: it checks their shapes and values itself, returning -1 (no cost) and changing
        nothing for what does not fit or a step it does not take. None where ``train_sample``
        with ``step`` checks nothing itself: then every call takes the full checks."""


def kernel_set(name, jit, feedforward, backprop, epoch, **more):
    """A backend's compiled kernels, each compiled by ``jit`` (None: left plain Python)."""
    compiled = (lambda f: f) if jit is None else jit
    return SimpleNamespace(name=name, feedforward=compiled(feedforward), backprop=backprop,
                           sgd_epoch=compiled(epoch),
                           **{key: compiled(f) for key, f in more.items()})


class LoopBackend:
    """The textbook loops of ``loops``: compiled (``loops.KERNELS``, ``loops.STRICT``) or plain
    Python (``loops.PLAIN``). A step at batch 1 and at batch n alike runs ``loops.sgd_epoch``:
    ``loops.backprop`` (``forward``, ``output_delta``, ``backward``) then ``loops.update_layers``
    (``update``, by ``rules.step_row`` for every rule). ``train_sample`` is one such step.

    Calls of up to KEEP_ROWS samples keep their work arrays in ``work`` for the next call of
    the same size, so a one-sample step allocates nothing. ``sgd_epoch`` returns a view of the
    work arrays: copy what you keep.
    """

    def __init__(self, kernels):
        self.kernels = kernels

    def key(self):
        """This backend in a network's ``work`` (a network may switch backends: each keeps its
        own arrays), as plain values, so that a copied or pickled network finds its own."""
        return type(self).__name__, self.kernels.name

    def kept_key(self, rows, make):
        """Where ``kept`` keeps what ``make`` makes for ``rows`` rows."""
        return self.key(), make.__name__, rows

    def kept(self, work, rows, make, *args):
        """``make(*args)``, kept in ``work`` for calls of at most KEEP_ROWS samples."""
        if work is None or rows > KEEP_ROWS:
            return make(*args)
        key = self.kept_key(rows, make)
        found = work.get(key)
        if found is None:
            found = work[key] = make(*args)
        return found

    def make_work(self, weights, rows, dtype, n_targets):
        return make_loop_work(weights, rows, dtype, n_targets)

    def feedforward(self, params, x, model, work):
        zs, activations, _ = self.kept(work, x.shape[0], layer_buffers, params.weights,
                                       x.shape[0], x.dtype)
        activations[0][:] = x
        self.kernels.feedforward(params.weights, params.biases, zs, activations, x.shape[0],
                                 model.softmax, model.kind)
        return list(activations)

    def backprop(self, params, x, y, model):
        work = make_loop_work(params.weights, x.shape[0], x.dtype, y.shape[1])
        work.activations[0][:] = x
        self.kernels.backprop(params, work, y, x.shape[0], model, 0)
        return list(work.grad_w), list(work.grad_b)

    def sgd_epoch(self, params, x, y, order, batch_size, step, model, masks, work):
        rows = min(batch_size, len(order))
        buffers = self.kept(work, rows, self.make_work, params.weights, rows, x.dtype, y.shape[1])
        if masks is not None:
            buffers = buffers._replace(masks=tuple(masks))
        self.epoch(buffers, step)(params, x, y, order, batch_size, step, model, buffers)
        last = (len(order) - 1) % batch_size + 1  # samples in the last mini-batch
        return buffers.activations[-1][:last]

    def epoch(self, buffers, step):
        """The kernel that runs an epoch of ``step`` in these work arrays."""
        return self.kernels.sgd_epoch

    def train_sample(self, params, x, y, step, model, work):
        a = self.sgd_epoch(params, x, y, ONE_SAMPLE, 1, step, model, None, work)
        return float(cost_of(a[0], y[0], model))

    def finish_sample(self, params, work):
        """Nothing waits: each ``train_sample`` is a whole step."""

    def bind_sample(self, params, model, work, step):
        """None: ``train_sample`` checks nothing itself."""

    def runs(self, batch, rule):
        """The functions that run a step at batch ``batch`` ("1" or "n") by ``rule``
        (``describe``): the same at any batch size."""
        return ("loops.sgd_epoch", "loops.backprop", "loops.forward", "loops.output_delta",
                "loops.backward", "loops.update_layers", "loops.update", "rules.step_row",
                f"rules.{rule}")


ONE_SAMPLE = np.zeros(1, np.int64)  # the order of a one-sample step: row 0


def cost_of(a, y, model):
    """One sample's cost from its outputs a (``activations.sample_cost``, in Python)."""
    return sample_cost(a, y, model.cost, model.softmax)


class FastBackend(LoopBackend):
    """The fused kernels (``FUSED`` or ``PARALLEL``).

    At batch n: ``fused.sgd_epoch``, each layer by ``fused.backward_update`` after
    ``fused.forward``, by tiles and pairs of neurons (``fused.step_tile_pair``) stepped through
    ``rules.step_row``, but plain SGD's by ``fused.decay_row`` and momentum's by
    ``fused.momentum_pair``. At batch 1 with SGD (with or without momentum):
    ``blocks.sgd_epoch_blocks`` (``blocks.apply_block`` on the first layer,
    ``fused.upper_layers_step`` above it) when ``block`` > 1, else
    ``fused.sgd_epoch`` with the row loops (``sgd_row_next``, ``momentum_row``,
    ``error_step_row``); Nesterov's momentum and Adam at batch 1 by the tiles. ``train_sample``
    runs ``sample.train_sample`` for SGD (the first layer's step left waiting until
    ``sample.finish_sample``), else a one-sample epoch. ``PARALLEL``: ``parallel.sgd_epoch_parallel``
    for SGD with or without momentum, ``loops.KERNELS``' ``sgd_epoch`` for Nesterov and Adam.
    ``block``: samples per block of one-sample steps; 1 steps the first layer's weights sample
    by sample.
    """

    def __init__(self, kernels, chunks=None, block=BLOCK):
        super().__init__(kernels)
        self.chunks, self.block = chunks, block
        if kernels.name == "parallel":
            launch_threads()

    def key(self):
        return super().key() + (self.chunks, self.block)

    def make_work(self, weights, rows, dtype, n_targets):
        return make_work(weights, rows, dtype, n_targets,
                         self.chunks or numba.get_num_threads(), self.block)

    def sgd_epoch(self, params, x, y, order, batch_size, step, model, masks, work):
        if step.solver != SGD and self.kernels.name == "parallel":
            return PLAIN_LOOPS.sgd_epoch(params, x, y, order, batch_size, step, model, masks,
                                         work)
        return super().sgd_epoch(params, x, y, order, batch_size, step, model, masks, work)

    def epoch(self, buffers, step):
        """``blocks.sgd_epoch_blocks`` for SGD one sample at a time when the work arrays have
        blocks and the kernels a blocked epoch, else the kernels' ``sgd_epoch``."""
        blocks = getattr(self.kernels, "sgd_epoch_blocks", None)
        if (blocks is not None and step.solver == SGD and buffers.c_block.shape[1] > 1
                and buffers.y_batch.shape[0] == 1):
            return blocks
        return self.kernels.sgd_epoch

    def train_work(self, weights, work):
        """The work arrays of ``train_sample`` and its ``sample.Waiting``, kept in ``work``
        (under ``train_work_key()``): where one call of train leaves its step waiting for the
        next or for ``finish_sample``."""
        return self.kept(work, 1, self.train_buffers, weights)

    def train_work_key(self):
        return self.kept_key(1, self.train_buffers)

    def train_buffers(self, weights):
        """A ``sample.SampleWork`` and a ``sample.Waiting`` for the network of ``weights``."""
        dtype = weights[0].dtype
        return (sample_work(self.make_work(weights, 1, dtype, weights[-1].shape[0])),
                make_waiting(weights[0].shape[1], dtype))

    def train_sample(self, params, x, y, step, model, work):
        """``sample.train_sample`` for SGD, which returns -1 (no cost) if the arguments do not
        fit (``sample.sample_fits``); a one-sample epoch for the other rules."""
        if step.solver != SGD:
            self.finish_sample(params, work)
            return super().train_sample(params, x, y, step, model, work)
        buffers, waiting = self.train_work(params.weights, work)
        eta, mu, l2 = float(step.eta), float(step.mu), float(step.l2)
        return float(self.kernels.train_sample(params, x[0], y[0], eta, mu, l2, model, buffers,
                                               waiting))

    def finish_sample(self, params, work):
        buffers, waiting = self.train_work(params.weights, work)
        self.kernels.finish_sample(params, buffers, waiting)

    def bind_sample(self, params, model, work, step):
        """``sample.train_sample`` for SGD on these very arrays, as a function of (x, y, step),
        calling the machine code numba compiled for their types directly. numba's dispatcher
        would find that code again at every call by typing each array of the nested records
        (4-8 us against 1.5 us to unbox them, a fifth of a one-sample step of 784-100-10), so
        the caller (``sample.SampleSteps``) checks instead that x and y are one C-contiguous
        row of the parameters' dtype and the parameters the same arrays, of the same dtype,
        dimensions, layout and writeability, as when they were bound. The kernel never writes
        to x or y, so a read-only one is as good as any. None for another rule than SGD, and
        for kernels run as plain Python, which would not refuse a read-only array before
        writing to it."""
        if step.solver != SGD or not TYPED:
            return None
        weights = params.weights
        row = np.empty(weights[0].shape[1], weights[0].dtype)  # x's and y's types
        target = np.empty(weights[-1].shape[0], weights[0].dtype)
        kept = self.train_work(weights, work)
        buffers, waiting = kept
        types = tuple(numba.typeof(a) for a in (params, row, target, 0.0, 0.0, 0.0, model,
                                                 buffers, waiting))
        kernel = self.kernels.train_sample.compile(types)
        key = self.train_work_key()

        def run(x, y, step):
            if step.solver != SGD or work.get(key) is not kept:  # another rule, or the work
                return -1.0                                       # arrays dropped: bind afresh
            return kernel(params, x, y, step.eta, step.mu, step.l2, model, buffers, waiting)
        return run

    def runs(self, batch, rule):
        one_sample_sgd = batch == "1" and rule in ("sgd", "momentum")
        if one_sample_sgd and self.block > 1:
            # the block algebra takes A and u from the rule of momentum (plain SGD is mu = 0)
            return tuple(dict.fromkeys((
                "blocks.sgd_epoch_blocks", "blocks.block_powers", "blocks.apply_block",
                "fused.upper_layers_step", "fused.backward_update", "fused.error_step_row",
                "rules.step_one", "rules.momentum", f"rules.{rule}")))
        if one_sample_sgd:
            row = "fused.sgd_row_next" if rule == "sgd" else "fused.momentum_row"
            return ("fused.sgd_epoch", "fused.first_forward", "fused.upper_layers_step",
                    "fused.backward_update", "fused.error_step_row", row, f"rules.{rule}")
        # plain SGD adds the gradient straight into the weights (fused.decay_row); momentum
        # steps a pair of rows in one loop (fused.momentum_pair)
        step = {"sgd": ("fused.decay_row",),
                "momentum": ("fused.momentum_pair",)}.get(rule, ("rules.step_row",))
        return ("fused.sgd_epoch", "fused.first_forward", "fused.upper_layers_step",
                "fused.backward_update", "fused.step_tile_pair", *step, f"rules.{rule}")


def _epochs_by_blocks(params, x, y, order, batch_size, step, model, work):
    """``blocks.sgd_epoch_blocks`` under ``sgd_epoch``'s arguments (its batch size is 1)."""
    sgd_epoch_blocks(params, x, y, order, step, model, work)


_jit = njit(fastmath=FASTMATH)
# The fused kernels change how an epoch is done, not what a gradient is: ``backprop``
# (gradients without a step, for ``Network.gradients`` and gradcheck) is the compiled one of
# ``loops``.
FUSED = kernel_set("fused", _jit, fused_feedforward, KERNELS.backprop, sgd_epoch,
                   sgd_epoch_blocks=_epochs_by_blocks, train_sample=train_sample,
                   finish_sample=finish_sample)
PARALLEL = kernel_set("parallel", _jit, feedforward_parallel, KERNELS.backprop,
                      sgd_epoch_parallel)
PARALLEL.train_sample, PARALLEL.finish_sample = FUSED.train_sample, FUSED.finish_sample

# The same kernels as plain Python, to step through in a debugger or test line by line.
FUSED_PYTHON = kernel_set("fused-python", None, fused_feedforward, PLAIN.backprop, sgd_epoch,
                          sgd_epoch_blocks=_epochs_by_blocks, train_sample=train_sample,
                          finish_sample=finish_sample)

PLAIN_LOOPS = LoopBackend(KERNELS)
FAST = FastBackend(FUSED)
"""What the ``"loops"`` backend runs: the fused kernels on one thread. ``PARALLEL`` is left to be
chosen (``FastBackend(PARALLEL)``): on a 2-core machine shared with other work its threads wait
for cores, and it ran slower than one thread (``python benchmarks/report.py``)."""

BACKENDS = {
    "loops": FAST,
    "loops-plain": PLAIN_LOOPS,
    "strict": LoopBackend(STRICT),
    "python": LoopBackend(PLAIN),
    "vectorized": VectorizedBackend(),
}
"""The backends by name, what ``Network(backend=...)`` and ``--backend`` take.

"loops" (the default: fused kernels compiled by numba), "loops-plain" (the textbook loops,
compiled), "strict" (the same compiled with no reassociation: the bits of "python"), "python"
(the loops uncompiled, for a debugger) and "vectorized" (numpy). Each value implements
``Backend``; ``describe()`` says which functions run a step of each.
"""


# The update rules by the names ``describe`` gives them, each also the name of its function of
# one weight in ``rules``.
RULE_NAMES = ("sgd", "momentum", "nesterov", "adam")


def describe():
    """Which functions run a step of each backend in the table, at batch 1 and at batch n, for
    each rule: {name: {(batch, rule): ("module.function", ...)}}, batch "1" or "n", rule one of
    RULE_NAMES (``sgd`` is momentum 0). ``tests/test_backends.py`` traces a step of each and
    checks this table against what ran."""
    return {name: {(batch, rule): backend.runs(batch, rule) for batch in ("1", "n")
                   for rule in RULE_NAMES}
            for name, backend in BACKENDS.items()}


def table():
    """``describe()`` as text, a block a backend (``neuronet backends``)."""
    lines = []
    for name, runs in describe().items():
        lines.append(f"{name}:")
        for (batch, rule), functions in runs.items():
            lines.append(f"  batch {batch}, {rule + ':':<9} {', '.join(functions)}")
    return "\n".join(lines)
