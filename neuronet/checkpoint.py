"""Checkpoints of ``fit``: a network file as ``save`` writes it, plus where the run stands, so
that a run killed at any moment and resumed ends with the numbers of a run never stopped.

Beside the network's entries (its parameters and the update rule's state, ``saving``), a
checkpoint holds three of its own, named ``fit_...`` so that ``load`` skips them and a
checkpoint loads as a network (``neuronet predict`` takes one):

    fit_settings  text (JSON): the settings of the run and a checksum of its data, which the
                  run that resumes must repeat
    fit_random    text (JSON): the state of each random generator: the shuffling, the dropout
                  masks of each layer, the shifts; so the order, masks and moves go on as if
                  the run had never stopped
    fit_history   float64 (epochs done, 4): epoch, cost, accuracy, seconds of each epoch

It is written at the end of an epoch, atomically (``saving.write_arrays``): a kill leaves the
last checkpoint whole, and the run resumes from its end.
"""
import itertools
import json
import zlib

import numpy as np

from .saving import (
    MAX_PARAMETERS,
    NotANetwork,
    network_arrays,
    read_file,
    state_groups,
    write_arrays,
)

MAX_TEXT = 100_000  # characters in a text entry; a checkpoint's are about 1,000
MAX_EPOCHS = 10_000_000  # rows of fit_history, a bound on what is read before it is used
# fit's settings that a resumed run may change: how long it runs, how it reports
FREE = ("epochs",)


def checksum(*arrays):
    """A CRC-32 of the arrays' bytes, shapes and dtypes: whether a resumed run has its data."""
    crc = 0
    for array in arrays:
        crc = zlib.crc32(f"{array.dtype.str}{array.shape}".encode(), crc)
        crc = zlib.crc32(np.ascontiguousarray(array), crc)
    return crc


def write(path, net, settings, generators, history):
    """Write a checkpoint of ``net`` to ``path``: ``settings`` (a dict of JSON values), the
    generators' states (``numpy.random.Generator``s) and ``history`` (rows of epoch, cost,
    accuracy, seconds)."""
    arrays = network_arrays(net)
    arrays["fit_settings"] = np.array(json.dumps(settings, sort_keys=True))
    arrays["fit_random"] = np.array(json.dumps([g.bit_generator.state for g in generators]))
    arrays["fit_history"] = np.array(history, dtype=np.float64).reshape(-1, 4)
    write_arrays(path, arrays)


def _text(shape, dtype):
    return dtype.kind == "U" and shape == () and dtype.itemsize <= 4 * MAX_TEXT


ENTRIES = {"fit_settings": (_text, "text (JSON)"), "fit_random": (_text, "text (JSON)"),
           "fit_history": (lambda shape, dtype: dtype == np.float64 and len(shape) == 2
                           and shape[1] == 4 and shape[0] <= MAX_EPOCHS,
                           "float64 of shape (epochs, 4)")}


def read(path, net, settings, generators, *, max_parameters=MAX_PARAMETERS):
    """Resume from the checkpoint at ``path``: check that it is one of a run of ``net`` with
    ``settings`` (but for those in FREE), put its parameters and state into ``net`` and its
    generators' states into ``generators``; returns its history rows (n, 4)."""
    loaded, found = read_file(path, backend=net.backend, max_parameters=max_parameters,
                              extras=ENTRIES)

    def bad(what):
        return NotANetwork(f"cannot resume from {path}: {what}")

    missing = sorted(set(ENTRIES) - set(found))
    if missing:
        raise bad(f"it is a network file but not a checkpoint of fit (no {missing}); give a "
                  "new checkpoint path, or load it with neuronet.load")
    for name in ("sizes", "activation", "output", "cost", "dtype"):
        if getattr(loaded, name) != getattr(net, name):
            raise bad(f"it holds a network of {name} {getattr(loaded, name)!r}, but the network "
                      f"given has {getattr(net, name)!r}; build the network the run started with")
    try:
        saved = json.loads(str(found["fit_settings"]))
        states = json.loads(str(found["fit_random"]))
    except (ValueError, RecursionError) as error:  # RecursionError: nested too deep
        raise bad(f"its settings are not JSON ({error})") from None
    if not isinstance(saved, dict) or not isinstance(states, list):
        raise bad("its settings are not those fit writes")
    for name in sorted(set(saved) | set(settings)):
        if name not in FREE and saved.get(name) != settings.get(name):
            what = ("the data (x, y or validation) differs" if name == "data" else
                    f"it was written by a run with {name}={saved.get(name)!r}, not "
                    f"{settings.get(name)!r}")
            raise bad(f"{what}; resume with the settings and data the run started with, or "
                      "start afresh with another checkpoint path")
    if len(states) != len(generators):
        raise bad(f"it holds {len(states)} random generators' states, not {len(generators)}")
    for generator, state in zip(generators, states):
        try:
            generator.bit_generator.state = state
        except (TypeError, ValueError, KeyError) as error:
            raise bad(f"a random generator's state is not one numpy writes ({error})") from None
    history = found["fit_history"]
    if not (np.isfinite(history).all() and np.array_equal(history[:, 0],
                                                          np.arange(1, len(history) + 1))):
        raise bad("'fit_history' must hold finite rows numbered from epoch 1, found "
                  f"{history[:3].tolist()}...")
    copy_state(loaded, net)
    return history


def state_arrays(net):
    """Everything a step changes, checked as the kernels take it: weights, biases, the update
    rule's per-layer state (velocities, Adam's squares) and Adam's step count."""
    return [*itertools.chain.from_iterable(state_groups(net).values()),
            net.checked_state("adam_steps")]


def copy_state(source, target):
    """``target``'s parameters, the update rule's state and settings set to ``source``'s, in
    place (``target`` keeps its backend)."""
    for into, array in zip(state_arrays(target), state_arrays(source), strict=True):
        into[...] = array
    target.rule_settings = source.rule_settings
