"""The checks of the public API's arguments: numbers, names, seeds, the update rule's settings,
sample arrays. ``Network``, ``fit``, ``compare``, ``gradcheck`` and ``NeuronetClassifier`` take
their arguments through these, so each kind of argument is checked, and its error worded, in
one place; the kernels trust what they are given.

A message names the argument, says what it must be and what it got, and how to fix it where
there is more to say: ``<name> must be <what>, got <value!r>; <how to fix>`` (``_message``), a
TypeError for a value of the wrong type, a ValueError for one of the right type that is not
allowed (the seed, dropout and shift checks raise a ValueError for either). A name that is not
among the choices is ``<name>=<value!r> is not known; use one of ...``. Numbers are
``check_number``'s: finite, between bounds, written "finite and > 0" for a lower bound alone
and "in [0, 1)" for an interval (scikit-learn's habit, so the estimator gives its bounds as
intervals).
"""
import functools
import math
import operator
from numbers import Integral, Real

import numpy as np

from .rules import ADAM, NESTEROV, SGD, SOLVERS, Rule


def _message(name, what, value, fix=""):
    """The one form of the messages here (see the module docstring)."""
    return f"{name} must be {what}, got {value!r}" + (f"; {fix}" if fix else "")


def check_choice(name, value, allowed):
    """``value`` if it is one of ``allowed``, or a ValueError listing them."""
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not known; use one of "
                         f"{', '.join(map(repr, allowed))}")
    return value


def check_number(name, value, low, high=None, *, low_open=False, high_open=False,
                 integer=False, fix=""):
    """``value`` as a finite float (an int with ``integer``) >= low, or > low with
    ``low_open``, and <= high (< high with ``high_open``) where there is a ``high``.

    A TypeError for what is not a real number (a bool is not taken for one), a ValueError for
    a number that is not finite, not an integer (with ``integer``) or out of bounds. The
    message writes a lower bound alone as a comparison ("finite and > 0", "an integer >= 1")
    and both bounds as an interval ("in [0, 1)", "finite and in [0, inf]", "an integer in
    [1, inf]"); ``fix`` ends it, saying how to fix the value.
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be {'an integer' if integer else 'a real number'}, got "
                        f"{type(value).__name__} {value!r}")
    kind = isinstance(value, Integral) if integer else math.isfinite(value)
    inside = ((value > low if low_open else value >= low) and (
        high is None or (value < high if high_open else value <= high)))
    if not (kind and inside):
        if high is None:
            what = f"{'>' if low_open else '>='} {low}"
        else:
            what = f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        if integer:
            what = f"an integer {what}"
        elif high is None or math.isinf(high):  # "in [0, 1)" says finite of itself
            what = f"finite and {what}"
        raise ValueError(_message(name, what, value, fix))
    return int(value) if integer else float(value)


def check_rate(name, value, *, allow_zero=False):
    """A finite real number > 0 (or >= 0 with allow_zero), as a float."""
    return check_number(name, value, 0, low_open=not allow_zero)


def check_count(name, value):
    """An integer >= 1, as an int."""
    return check_number(name, value, 1, integer=True)


def check_seed(seed):
    """A seed numpy.random.default_rng takes: None or an integer >= 0."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                             or seed < 0):
        raise ValueError(_message("seed", "a whole number >= 0 (or None for a fresh one)", seed))
    return seed


def check_dropout(name, rate):
    """A dropout rate in [0, 1), as a float: the chance of leaving a neuron out."""
    # a ValueError for a value of any type, where check_number would raise a TypeError for one
    # that is not a number
    if isinstance(rate, bool) or not isinstance(rate, Real) or not 0 <= rate < 1:
        raise ValueError(_message(name, "a number in [0, 1), the chance of dropping a neuron",
                                  rate, "0 turns dropout off"))
    return float(rate)


def check_shift(shift, n_inputs):
    """The side of the square images a shift of ``shift`` pixels moves (unused if shift is 0)."""
    if isinstance(shift, bool) or not isinstance(shift, (int, np.integer)) or shift < 0:
        raise ValueError(_message("shift", "a whole number of pixels >= 0", shift,
                                  "0 turns shifting off"))
    side = math.isqrt(n_inputs)
    if shift and side * side != n_inputs:
        raise ValueError(f"shift needs square images, but the network has {n_inputs} inputs, "
                         "not a square number; use shift=0 for other data")
    if shift >= side:
        raise ValueError(_message("shift", f"smaller than the {side}-pixel side of the images",
                                  shift))
    return side


def check_settings(learning_rate, momentum, weight_decay):
    """(eta, mu, l2) for SGD: eta > 0, 0 <= mu < 1, l2 >= 0, all finite."""
    eta = check_rate("learning_rate", learning_rate)
    mu = check_rate("momentum", momentum, allow_zero=True)
    if mu >= 1:
        raise ValueError(_message("momentum", "< 1", momentum,
                                  "at 1 or more the velocity never decays (0.9 is usual)"))
    return eta, mu, check_rate("weight_decay", weight_decay, allow_zero=True)


def check_rule(solver="sgd", nesterovs_momentum=False, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
               momentum=0.0):
    """The ``rules.Rule`` for these settings (scikit-learn's names), each checked."""
    check_choice("solver", solver, SOLVERS)
    if not isinstance(nesterovs_momentum, (bool, np.bool_)):
        raise TypeError(_message("nesterovs_momentum", "True or False", nesterovs_momentum))
    for name, beta in (("beta_1", beta_1), ("beta_2", beta_2)):
        check_number(name, beta, 0, 1, high_open=True,
                     fix="it is the decay of Adam's running average (0.9 and 0.999 are usual)")
    check_rate("epsilon", epsilon)
    if solver == "adam":
        if momentum:
            raise ValueError(f"momentum={momentum!r} is for solver='sgd'; Adam's momentum is "
                             "beta_1: leave momentum at 0")
        return Rule(ADAM, float(beta_1), float(beta_2), float(epsilon))
    # Nesterov's rule with momentum 0 is plain SGD, which the fused kernels run.
    return Rule(NESTEROV if nesterovs_momentum and momentum else SGD)


@functools.lru_cache(maxsize=256, typed=True)
def _check_step_seen(*settings):
    return check_step(*settings)


# the last settings check_step(cached=True) answered, the very objects, and its answer
_last_step = ((), None)


def check_step(learning_rate, momentum, weight_decay, solver, nesterovs_momentum, beta_1, beta_2,
               epsilon, *, cached=False):
    """(eta, mu, l2, rule) for one step's settings, each checked (``check_settings``,
    ``check_rule``). ``cached``: settings seen before (the same types and values) answer from a
    cache, since a loop of ``train`` calls checks the same ones every time (7 us a call, more
    than the first layer's pass of a 784-30 network): the very objects of the last call (a
    loop's constants and the defaults, found by identity in a few hundred ns), or equal
    settings of the same types (``functools.lru_cache``, hashable and so immutable values);
    settings that cannot be hashed are invalid and go to the checks, which say why."""
    global _last_step
    settings = (learning_rate, momentum, weight_decay, solver, nesterovs_momentum, beta_1,
                beta_2, epsilon)
    if cached:
        seen, answer = _last_step
        if len(seen) == len(settings) and all(map(operator.is_, settings, seen)):
            return answer
        try:
            answer = _check_step_seen(*settings)
        except TypeError:  # unhashable; a check's own TypeError comes again below
            pass
        else:
            _last_step = settings, answer
            return answer
    eta, mu, l2 = check_settings(learning_rate, momentum, weight_decay)
    return eta, mu, l2, check_rule(solver, nesterovs_momentum, beta_1, beta_2, epsilon, mu)


def check_shape(name, value, n_cols):
    """``value`` as an array of real numbers, 1-D (one sample) or 2-D (rows), n_cols columns."""
    array = np.asarray(value)
    if array.dtype.kind not in "fiu":  # float, signed or unsigned integer
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}; "
                        f"convert it with np.asarray({name}, dtype=float)")
    if array.ndim not in (1, 2) or array.shape[-1] != n_cols or array.size == 0:
        raise ValueError(f"{name} must have shape ({n_cols},) for one sample or (n, {n_cols}) "
                         f"for n >= 1 samples, got shape {array.shape}")
    return array


def check_array(name, value, n_cols, dtype, *, first_row=0):
    """A 1-D (one sample) or 2-D (rows of samples) finite real array with n_cols columns.

    Returns it as a C-contiguous 2-D array of ``dtype`` and whether it was 1-D. ``first_row``:
    the row number of its first row in a larger array, for the messages.
    """
    # An array as the kernels take it (a row of a training set, say) passes in a few reads: predict
    # checks one a call (train's calls check theirs in the kernel, ``sample.sample_fits``, once
    # their arrays are bound). x . x is finite if every x is (a NaN or an infinity makes it NaN or
    # inf, and raises no floating-point flag): 1.1 us for one MNIST row against 3.2 us for
    # isfinite(x).all() (timeit, this machine), and no boolean array for a whole training set.
    # Values above 1e154 overflow it (numpy warns) and go on to the full check, as does any
    # other array.
    if (type(value) is np.ndarray and value.dtype is dtype and value.ndim in (1, 2)
            and value.shape[-1] == n_cols and value.size and value.flags.c_contiguous):
        flat = value.reshape(-1)
        if math.isfinite(flat.dot(flat)):
            return (value if value.ndim == 2 else value[None]), value.ndim == 1
    original = check_shape(name, value, n_cols)
    if original.dtype == dtype:
        array = np.ascontiguousarray(original)
    else:
        with np.errstate(over="ignore"):  # a value too large for dtype is reported below
            array = np.ascontiguousarray(original, dtype=dtype)
    if not np.isfinite(array).all():
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        where = (index[0] + first_row,) + index[1:] if array.ndim == 2 else index
        if np.isfinite(original[index]):  # finite until cast to dtype
            raise ValueError(f"{name} at index {where} holds {original[index]:g}, too large for "
                             f"{array.dtype} (largest {np.finfo(array.dtype).max:.3g}); rescale "
                             "the data first (pixels to [0, 1])")
        raise ValueError(f"{name} contains NaN or infinity at index {where}; "
                         "clean or rescale the data first")
    return array.reshape(-1, n_cols), array.ndim == 1


# What to do about a parameter or state array (by kind) that holds NaN or infinity.
FIXES = {"weights": "train it again (with a lower learning rate if it diverged) or load a saved "
                    "network",
         "velocity": "set it to zero to restart the momentum (net.{kind}[{layer}][...] = 0) or "
                     "load a saved network",
         "squares": "set it and net.adam_steps to zero to restart Adam "
                    "(net.{kind}[{layer}][...] = 0) or load a saved network"}
FIXES["biases"] = FIXES["weights"]


def fix_non_finite(kind, layer):
    """What to do about ``net.<kind>[layer]`` holding NaN or infinity (``FIXES``)."""
    return FIXES[kind.split("_")[0]].format(kind=kind, layer=layer)


def overflow_error(what, x, dtype):
    """The error for inputs x whose weighted inputs overflow ``dtype``: ``what`` (x's values,
    named) are too large."""
    return ValueError(f"{what} (up to {np.abs(x).max():.3g} in size) are so large that the "
                      f"weighted inputs overflow {dtype}; rescale the data first (pixels to "
                      "[0, 1])")


def non_finite(state, why):
    """The ValueError naming the first array of ``state`` (``Network.state``: lists of arrays
    by name) that holds NaN or infinity, ``why`` that matters and what to do; None if every
    array is finite. A scan of each array: about 13 us for a 784-100 weight matrix, little
    beside a step over a batch."""
    for kind, arrays in state.items():
        for layer, p in enumerate(arrays):
            if not np.isfinite(p).all():
                return ValueError(f"net.{kind}[{layer}] holds NaN or infinity, so {why}; "
                                  f"{fix_non_finite(kind, layer)}")
    return None


def refuse_non_finite(state, why):
    """Raise ``non_finite``'s error, if there is one."""
    error = non_finite(state, why)
    if error is not None:
        raise error
