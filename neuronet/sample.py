r"""``Network.train``'s path: one SGD step a call, at the speed of a step inside an epoch.

In an epoch, ``fused.backward_update`` applies a sample's first-layer step in the loop over k
that forms the next sample's z (``fused.sgd_row_next``), so a step reads and writes the largest
weight matrix once. Calls of ``train`` do the same across calls: each one ends with its first
layer's step waiting (its error in work.deltas[0], its input and settings in a ``Waiting``) and
the next call applies it while forming its own z (``train_sample``), before its own error
replaces it. ``finish_sample`` applies it before anything else reads the weights. The same loops
as ``fused.sgd_epoch`` with blocks of one sample, so calls of train give the bits of one call of
step over the samples (``FastBackend(FUSED, block=1)``).

A call of train costs about as much as its kernel's step, so its checks must cost little beside
it. ``SampleSteps`` is the one object that owns the waiting step and train's checked arguments:
where the parameters are the very arrays the full checks accepted at an earlier call, of the
same dtype, number of dimensions, writeability and layout, and x and y 1-D arrays as the kernel
takes them, the kernel's compiled code gets them at once (``Backend.bind_sample``) and checks
their shapes and values itself (``sample_fits``); anything else goes through the network's full
checks, which convert it or say what is wrong.
"""
import operator
from typing import NamedTuple

import numba
import numpy as np
from numba.extending import register_jitable

from .activations import SIGMOID, layer_kind, sample_cost
from .fused import activate, backward_update, first_forward, upper_layers_step
from .loops import copy_row
from .records import Signals, aligned_empty, layer_of
from .rules import SGD, Settings


class Waiting(NamedTuple):
    """The first-layer step a call of train left waiting: ``flag[0]`` 1 while one waits, its
    input ``x`` (one row) and its eta, mu and l2 (``settings``). Its error is in
    work.deltas[0]."""
    flag: np.ndarray
    x: np.ndarray
    settings: np.ndarray


def make_waiting(n_in, dtype):
    """A ``Waiting`` with no step waiting, for inputs of n_in values."""
    return Waiting(np.zeros(1, np.int64), aligned_empty((1, n_in), dtype), np.zeros(3, dtype))


class SampleWork(NamedTuple):
    """The work arrays of a one-sample ``fused.Work`` that train's loops use: not the next
    batch's inputs nor the blocks, which numba would otherwise unbox at every call."""
    masks: tuple
    zs: tuple
    activations: tuple
    deltas: tuple
    grad_rows: tuple
    y_batch: np.ndarray


def sample_work(work):
    """The ``SampleWork`` of a one-sample ``fused.Work``: the same arrays."""
    return SampleWork._make(getattr(work, name) for name in SampleWork._fields)


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
def sample_fits(params, x, y, zs):
    r"""Whether x and y are one sample (1-D) of finite values and every layer's parameters are
    arrays of x's dtype with the shapes of the network whose work arrays zs are: what the
    kernels, which do not check bounds, need of train's arguments."""
    n_in = x.shape[0]
    if not (y.shape[0] == zs[-1].shape[1] and finite(x) and finite(y)):
        return False
    for layer in range(len(params.weights)):
        n_out = zs[layer].shape[1]
        for p in (params.weights[layer], params.velocity_w[layer]):
            if not (p.dtype == x.dtype and p.shape[0] == n_out and p.shape[1] == n_in):
                return False
        for p in (params.biases[layer], params.velocity_b[layer]):
            if not (p.dtype == x.dtype and p.shape[0] == n_out):
                return False
        n_in = n_out
    return True


@register_jitable
def waiting_settings(waiting):
    """The ``Settings`` of the step waiting: plain SGD or momentum at its eta, mu and l2."""
    eta, mu, l2 = waiting.settings[0], waiting.settings[1], waiting.settings[2]
    zero = eta - eta
    return Settings(eta, mu, l2, SGD, zero, zero, zero, eta)


@register_jitable
def train_sample(params, x, y, eta, mu, l2, model, work, waiting):
    r"""One SGD step (with or without momentum and L2) on the one sample x, y (1-D), as
    ``Network.train`` takes it, with the first layer's step left waiting for the next call;
    returns the sample's cost before the step (``activations.sample_cost``), or -1, which no
    cost is, if the arguments do not fit (``sample_fits``): then nothing changed. ``work``: a
    ``SampleWork``."""
    if not sample_fits(params, x, y, work.zs):
        return x.dtype.type(-1)  # nothing changed; the caller's checks say what is wrong
    x = x.reshape((1, x.shape[0]))  # the one-row batch the fused loops take
    scalar = x.dtype.type  # the settings in the arrays' dtype (train passes Python floats)
    zero = scalar(0)
    step = Settings(scalar(eta), scalar(mu), scalar(l2), SGD, zero, zero, zero, scalar(eta))
    first = layer_of(params, 0)
    deltas, zs, masks = work.deltas, work.zs, work.masks
    last = len(params.weights) - 1
    if waiting.flag[0]:
        signals = Signals(deltas[0][:1], waiting.x, deltas[0][:1], masks[0][:0], x, zs[0][:1])
        backward_update(first, signals, work.grad_rows[0], waiting_settings(waiting), False,
                        model.kind)
    else:
        first_forward(first.w, first.b, x, zs[0][:1], step)
    activate(zs[0][:1], work.activations[1][:1],
             layer_kind(0, last, model.softmax, model.kind))
    copy_row(y, work.y_batch[0])
    upper_layers_step(params, work, 0, 1, step, model)
    copy_row(x[0], waiting.x[0])
    waiting.settings[0], waiting.settings[1], waiting.settings[2] = step.eta, step.mu, step.l2
    waiting.flag[0] = 1
    # the outputs of the forward pass, which the step leaves as they were
    return sample_cost(work.activations[last + 1][0], y, model.cost, model.softmax)


@register_jitable
def finish_sample(params, work, waiting):
    r"""The first-layer step ``train_sample`` left waiting, applied (if one waits): w, b and
    their velocities as ``fused.backward_update`` steps them for an epoch's last sample."""
    if waiting.flag[0]:
        delta, x = work.deltas[0][:1], waiting.x
        backward_update(layer_of(params, 0), Signals(delta, x, delta, x[:0], x[:0], delta[:0]),
                        work.grad_rows[0], waiting_settings(waiting), False, SIGMOID)
        waiting.flag[0] = 0


# Compiled kernels (not run as Python with NUMBA_DISABLE_JIT=1) are typed for their arrays' dtype,
# layout and writeability, so the quick path below is taken only when they are compiled: the
# plain-Python kernel would not refuse a read-only array before writing to it.
TYPED = not numba.config.DISABLE_JIT


class SampleSteps:
    """The per-sample steps of one network: the step its last call of train left waiting, and
    the step bound to the arguments train's full checks made at that call, with what they were
    made for.

    ``binding`` is a tuple of what the arguments were made for (the backend's name, the
    network's settings and the very parameter arrays), compared by identity, so a call on the
    same arrays costs a few microseconds of checks; their dtype, dimensions, writeability and
    layout are compared too, with x's and y's (``typing_kinds``), so an array changed in place
    since, or an x the kernel does not take as it is, is sent to the full checks, not to the
    kernel.
    """

    checked = step = None  # check_step's last answer and its ``Settings`` (``settings``)

    def __init__(self):
        self.backend = None   # the name of the backend with a step waiting, if one is
        self.bound = (), None, ()  # binding, bound step, the arrays' kinds (``typing_kinds``)

    def settings(self, checked):
        """The ``rules.Settings`` of ``checks.check_step``'s answer ``checked``, (eta, mu, l2,
        rule), made once for the same answer: a loop of train gets the same one every call."""
        if checked is not self.checked:
            eta, mu, l2, rule = checked
            self.checked, self.step = checked, Settings(eta, mu, l2, rule.solver, rule.beta_1,
                                                         rule.beta_2, rule.epsilon, eta)
        return self.step

    def arguments(self, binding, arrays, x, y):
        """The step bound at the last full check (``Backend.bind_sample``, a function of x, y
        and the settings; None if none is) if it was bound for ``binding`` (by identity), and
        its ``arrays``, x and y are numpy arrays of the kinds they were then (x and y: the 1-D
        rows of the parameters' dtype the kernel takes); else None."""
        bound, bound_step, kinds = self.bound
        if (type(x) is np.ndarray and type(y) is np.ndarray and len(binding) == len(bound)
                and all(map(operator.is_, binding, bound))
                and typing_kinds((*arrays, x, y)) == kinds):
            return bound_step
        return None

    def keep(self, binding, arrays, x, y, bound_step):
        """Remember ``bound_step``, bound to the arguments the full checks made for
        ``binding``, and x and y as its kernel takes them (one 1-D row each)."""
        self.bound = binding, bound_step, typing_kinds((*arrays, x, y))

    def __getstate__(self):
        """A copy or a pickle keeps the waiting step (it is in the network's work arrays) but
        not the bound arguments: its arrays are other objects, bound afresh at its first call."""
        return {"backend": self.backend, "bound": ((), None, ())}


def array_kinds(arrays):
    """What numba's typing sees of each array of the tuple ``arrays`` besides its shape: its
    dtype, its dimensions, and its flags (writeable, C-contiguous, ...) as numpy's one integer
    of them. Two answers are equal only if every array is of the same kind in both."""
    return [(a.dtype, a.ndim, a.flags.num) for a in arrays]


try:  # the same, as numba's dispatcher reads it in C: 0.2 us for 8 arrays against 1.3 us
    from numba._dispatcher import compute_fingerprint as numba_kinds
except ImportError:  # a numba without it
    numba_kinds = array_kinds


def typing_kinds(arrays):
    """``array_kinds`` as numba's dispatcher reads it; for arrays of a dtype numba has no type
    for (float16, text, objects), which it cannot read, ``array_kinds`` itself, which is never
    equal to its reading of the arrays a kernel was bound for: such arrays go to the full
    checks, which convert them or say what is wrong."""
    try:
        return numba_kinds(arrays)
    except NotImplementedError:
        return array_kinds(arrays)


class Finished:
    """A parameter list of ``Network`` (weights, biases, velocity_w, velocity_b) that first
    applies the first-layer step a call of ``train`` left waiting
    (``Network.apply_waiting_step``), so whoever reads or replaces it sees every step taken."""

    def __set_name__(self, owner, name):
        self.name = "_" + name

    def __get__(self, net, owner=None):
        if net is None:
            return self
        net.apply_waiting_step()
        return net.__dict__[self.name]

    def __set__(self, net, value):
        net.apply_waiting_step()
        net.__dict__[self.name] = value
