"""Training that learns: mini-batch SGD over epochs, with a held-out score after each.

``fit`` is Nielsen's ``SGD`` in scikit-learn's habits: shuffle the training set each epoch from
the seed, step through it in mini-batches (``batch_size=1`` is the post's pure SGD), then report
the cost and accuracy on held-out data. The returned history is a list of one ``Epoch`` each.

Training is watched for divergence without slowing it: the parameters are checked after each
chunk of steps, and only when a check fails is the chunk replayed from a snapshot one step at a
time, to name the epoch, step and layer where a value first stopped being finite.
"""
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from tqdm import tqdm

from . import checkpoint as checkpoints
from .activations import COSTS
from .activations import cost as cost_per_sample
from .checks import (
    check_array,
    check_count,
    check_dropout,
    check_rate,
    check_seed,
    check_shift,
    check_step,
)
from .network import Network
from .rules import SGD_RULE
from .saving import check_target

CHUNK = 10_000  # samples between finiteness checks; a check copies and scans the parameters


class DivergenceError(FloatingPointError):
    """Training produced a NaN or infinity; the message names where.

    Raised by ``fit``. The network is left with its last finite parameters, those before the
    step that diverged; lower the learning rate or the momentum and train again.

    Parameters
    ----------
    message : str
        The epoch, step and layer where a value first stopped being finite, and the fix.
    """


@dataclass
class Epoch:
    epoch: int
    cost: float          # held-out cost (training cost when there is no held-out set)
    accuracy: float      # held-out fraction classified right
    seconds: float       # time spent training this epoch, evaluation excluded
    restored: bool = False  # read from the checkpoint a run resumed from, not trained by it


def one_hot(labels, n_classes, name="y"):
    """Integer labels (n,) as rows of a (n, n_classes) identity; 2-D targets pass through."""
    labels = np.asarray(labels)
    if labels.ndim == 2:
        return labels
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"{name} must be integer class labels of shape (n,) or targets of shape "
                        f"(n, {n_classes}), got dtype {labels.dtype} and shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"{name} holds labels from {labels.min()} to {labels.max()}, but the "
                         f"network has {n_classes} outputs (labels 0 to {n_classes - 1})")
    return np.eye(n_classes)[labels]


def evaluate(net: Network, x: ArrayLike, y: ArrayLike) -> tuple[float, float]:
    """The mean cost and the accuracy of the network on samples x with labels or targets y.

    Parameters
    ----------
    net : Network
        The network to score; it is not changed.
    x : array_like
        Inputs, shape (n, n_in).
    y : array_like
        Integer labels, shape (n,), or target rows, shape (n, n_out).

    Returns
    -------
    cost : float
        The network's cost averaged over the samples.
    accuracy : float
        The fraction of samples whose largest output is the label's (the target's largest).

    Raises
    ------
    TypeError, ValueError
        If x or y does not fit the network, or a label is not one of its outputs.

    Examples
    --------
    >>> import numpy as np
    >>> cost, accuracy = evaluate(Network((2, 3, 2), seed=0), np.eye(2), [0, 1])
    """
    x, targets = check_samples(net, x, y)
    a = net.predict(x)
    cost = float(np.mean(cost_per_sample(a, targets, COSTS[net.cost], net.output)))
    return cost, float(np.mean(a.argmax(axis=1) == targets.argmax(axis=1)))


def fit(net: Network, x: ArrayLike, y: ArrayLike, *, epochs: int, learning_rate: float,
        batch_size: int = 10, momentum: float = 0.0, weight_decay: float = 0.0, decay: float = 1.0,
        dropout: float = 0.0, input_dropout: float = 0.0, shift: int = 0,
        validation: "Sequence | None" = None, seed: "int | None" = None, progress: bool = False,
        on_epoch: "Callable[[Epoch], object] | None" = None, solver: str = "sgd",
        nesterovs_momentum: bool = False, beta_1: float = 0.9, beta_2: float = 0.999,
        epsilon: float = 1e-8, checkpoint: "str | os.PathLike[str] | None" = None,
        checkpoint_every: int = 1, resume: bool = False) -> "list[Epoch]":
    """Train ``net`` in place by mini-batch SGD, scoring it after each epoch.

    Each epoch shuffles the training set (from ``seed``), steps through it in mini-batches and
    scores the network on ``validation`` (on the training set without it).

    Parameters
    ----------
    net : Network
        The network, trained in place.
    x, y : array_like
        Samples (n, n_inputs) and their integer labels (n,) or target rows (n, n_outputs).
    epochs : int
        Passes over the training set (counted from the first, also when resuming).
    learning_rate : float
        eta. The rate of epoch e is ``learning_rate * decay**(e - 1)``: a rate that shrinks
        lets the last epochs settle instead of bouncing around the minimum (``decay=1`` keeps it
        constant); ``decay`` shrinks Adam's rate too.
    batch_size : int
        Samples per step (1 is the post's pure SGD).
    momentum, weight_decay : float
        SGD's momentum mu, and the L2 coefficient lambda of (lambda/2) |w|^2 added to the cost
        (Nielsen's lmbda / n).
    decay : float
        In (0, 1]: the learning rate's factor from one epoch to the next.
    dropout, input_dropout : float
        The chance that a hidden neuron (an input) is left out of a training step, for each
        sample afresh (Hinton et al. 2012 use 0.5 and 0.2); the kept ones are scaled by
        1 / (1 - rate), so prediction uses every neuron as it is.
    shift : int
        Move each square training image by up to this many whole pixels across and down, drawn
        afresh for each sample and epoch (pixels moved in are 0): the simplest of Simard et
        al.'s (2003) distortions, for images only.
    validation : (x, y), optional
        Held-out samples and labels, scored after each epoch.
    seed : int, optional
        The seed of the shuffling, dropout masks and shifts (their generators' states are in
        each checkpoint).
    progress : bool
        Show a progress bar on a terminal (marked "resumed" for the first epoch of a run that
        resumed).
    on_epoch : callable, optional
        Called with each ``Epoch`` as soon as it is scored, and first with each epoch read from
        the checkpoint when resuming (``Epoch.restored`` true).
    solver, nesterovs_momentum, beta_1, beta_2, epsilon
        The update rule, as in ``Network.step`` and scikit-learn: ``"sgd"`` (with ``momentum``,
        Nesterov's if ``nesterovs_momentum``) or ``"adam"``.
    checkpoint : str or os.PathLike, optional
        A file to write a checkpoint to every ``checkpoint_every`` epochs and after the last
        (``neuronet.checkpoint``): the network with the update rule's state, the random
        generators' states and the history. Written atomically, as ``save`` writes. It loads as
        a network too (``load``, ``neuronet predict``).
    checkpoint_every : int
        Epochs between checkpoints (1: after every epoch).
    resume : bool
        Continue from ``checkpoint`` if the file exists (start afresh if it does not): its
        parameters and state go into ``net``, and training goes on from the epoch after it,
        ending with the parameters and history of a run that never stopped. The settings and
        data must be the run's own (``epochs`` may be larger). Without ``resume`` an existing
        checkpoint file is refused, so a long run is not overwritten by mistake.

    Returns
    -------
    list of Epoch
        One per epoch, from the first (those read from a checkpoint included).

    Raises
    ------
    DivergenceError
        If a parameter turns NaN or infinite; the message names the epoch, step and layer, and
        the network is left with its last finite parameters.
    ValueError, TypeError
        For a bad argument, a network whose parameters or state are not finite, or a
        checkpoint that is not one of this run (the message says which setting differs).

    Examples
    --------
    >>> net = Network((784, 30, 10), seed=0)
    >>> history = fit(net, x, y, epochs=30, learning_rate=3.0, validation=(x_test, y_test),
    ...               seed=1, checkpoint="run.npz")
    >>> # killed, say; the same call with resume=True carries on where run.npz ends
    >>> history = fit(net, x, y, epochs=30, learning_rate=3.0, validation=(x_test, y_test),
    ...               seed=1, checkpoint="run.npz", resume=True)
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a neuronet.Network, got {type(net).__name__}")
    epochs = check_count("epochs", epochs)
    batch_size = check_count("batch_size", batch_size)
    eta, mu, l2, rule = check_step(learning_rate, momentum, weight_decay, solver,
                                   nesterovs_momentum, beta_1, beta_2, epsilon)
    if check_rate("decay", decay) > 1:
        raise ValueError(f"decay must be in (0, 1], got {decay!r}; 1 keeps the rate constant")
    rates = (check_dropout("input_dropout", input_dropout),
             *[check_dropout("dropout", dropout)] * (len(net.sizes) - 2))
    side = check_shift(shift, net.sizes[0])
    checkpoint_every = check_count("checkpoint_every", checkpoint_every)
    if resume and checkpoint is None:
        raise ValueError("resume=True needs checkpoint=PATH, the checkpoint to resume from")
    if checkpoint is not None:
        check_target(checkpoint)  # now, not after the first epoch
        if not resume and os.path.exists(checkpoint):
            raise ValueError(f"checkpoint {checkpoint} exists; pass resume=True to continue "
                             "from it, or remove it (or name another file) to start afresh")
    # Checked once here: the chunks below go through the network's unchecked sgd_epoch.
    x, targets = check_samples(net, x, y)
    batch_size = min(batch_size, len(x))  # a larger batch is all of them; fits 64-bit ints
    if validation is None:
        x_val, y_val = x, targets
    elif not isinstance(validation, (tuple, list)) or len(validation) != 2:
        raise TypeError(f"validation must be a pair (x, y) of held-out samples and their labels, "
                        f"got {type(validation).__name__}")
    else:
        x_val, y_val = check_samples(net, *validation, names=("validation x", "validation y"))
    rng = np.random.default_rng(check_seed(seed))
    # One stream of dropout masks per layer (spawning leaves rng's own stream, the shuffling,
    # as it was), so each layer's masks continue across chunks whatever CHUNK is.
    mask_rngs = rng.spawn(len(rates))
    shift_rng, = rng.spawn(1)
    generators = [rng, *mask_rngs, shift_rng]
    history = []
    if checkpoint is not None:
        settings = {"learning_rate": eta, "batch_size": batch_size, "momentum": mu,
                    "weight_decay": l2, "decay": float(decay), "dropout": float(dropout),
                    "input_dropout": float(input_dropout), "shift": int(shift),
                    "seed": None if seed is None else int(seed),
                    "rule": list(rule), "epochs": epochs, "samples": len(x),
                    "data": checkpoints.checksum(x, targets, x_val, y_val)}
        if resume and os.path.exists(checkpoint):
            rows = checkpoints.read(checkpoint, net, settings, generators)
            if len(rows) > epochs:
                raise ValueError(f"checkpoint {checkpoint} is of a run after epoch {len(rows)}, "
                                 f"beyond epochs={epochs}; ask for {len(rows)} epochs or more")
            history = [Epoch(int(e), float(c), float(a), float(t), True) for e, c, a, t in rows]
            for done in history:
                if on_epoch is not None:
                    on_epoch(done)
    resumed_at = len(history) + 1 if history else None
    for epoch in range(len(history) + 1, epochs + 1):
        order = rng.permutation(len(x))
        rate = eta * decay ** (epoch - 1)
        start = time.perf_counter()
        desc = f"epoch {epoch}/{epochs}" + (" (resumed)" if epoch == resumed_at else "")
        bar = tqdm(total=len(x), desc=desc, unit="sample", leave=False,
                   disable=None if progress else True)  # None: only on a terminal
        # Chunks hold whole mini-batches so that chunked training equals unchunked training.
        chunk = max(batch_size, CHUNK - CHUNK % batch_size)
        for first in range(0, len(x), chunk):
            rows = order[first:first + chunk]
            masks = dropout_masks(mask_rngs, len(rows), net.sizes, rates, net.dtype)
            xs, ys = x, targets
            if shift:  # the chunk's images, moved, in the order they are trained on
                moves = shift_rng.integers(-shift, shift + 1, (len(rows), 2))
                xs, ys = shift_images(x[rows], moves, side), targets[rows]
                rows = np.arange(len(rows))
            guarded_step(net, xs, ys, rows, masks, eta=rate, mu=mu, l2=l2,
                         batch_size=batch_size, rule=rule, epoch=epoch,
                         first_step=first // batch_size)
            bar.update(min(chunk, len(x) - first))
        bar.close()
        seconds = time.perf_counter() - start
        history.append(Epoch(epoch, *evaluate(net, x_val, y_val), seconds))
        if checkpoint is not None and (epoch % checkpoint_every == 0 or epoch == epochs):
            checkpoints.write(checkpoint, net, settings, generators,
                              [(e.epoch, e.cost, e.accuracy, e.seconds) for e in history])
        if on_epoch is not None:
            on_epoch(history[-1])
    return history


def check_samples(net, x, y, names=("x", "y")):
    """(x, targets): samples for ``net`` as checked 2-D arrays, and their labels (n,) or
    targets (n, n_outputs) as target rows, one per sample."""
    x, _ = check_array(names[0], x, net.sizes[0], net.dtype)
    targets, _ = check_array(names[1], one_hot(y, net.sizes[-1], names[1]), net.sizes[-1],
                             net.dtype)
    if len(targets) != len(x):
        raise ValueError(f"{names[0]} has {len(x)} samples but {names[1]} has {len(targets)}; "
                         "give one label per sample")
    return x, targets


def shift_images(images, moves, side):
    """Each row of ``images`` (n, side * side) moved by its row of ``moves`` (n, 2), (down,
    across) in whole pixels, negative for up or left; pixels moved in are 0."""
    square = images.reshape(-1, side, side)
    moved = np.zeros_like(square)
    for down, across in np.unique(moves, axis=0):
        rows = np.flatnonzero((moves[:, 0] == down) & (moves[:, 1] == across))
        to_y, from_y = _window(down, side)
        to_x, from_x = _window(across, side)
        moved[rows, to_y, to_x] = square[rows, from_y, from_x]
    return moved.reshape(images.shape)


def _window(step, side):
    """(target, source) slices moving a row or column of ``side`` pixels by ``step``."""
    return slice(max(step, 0), side + min(step, 0)), slice(max(-step, 0), side - max(step, 0))


def dropout_masks(rngs, n, sizes, rates, dtype):
    """Dropout masks for n samples: for the inputs and each hidden layer (one generator each),
    0 with chance ``rate``, else 1 / (1 - rate); a mask with no rows where the rate is 0."""
    return tuple(((rng.random((n, size)) >= rate) / (1 - rate)).astype(dtype) if rate
                 else np.ones((0, size), dtype) for rng, size, rate in zip(rngs, sizes, rates))


def guarded_step(net, x, y, order, masks, *, eta, mu, l2, batch_size, rule=SGD_RULE, epoch,
                 first_step):
    """SGD over the rows in ``order``, raising DivergenceError if a value turns non-finite,
    naming the step (``first_step`` is the chunk's first, of epoch ``epoch``)."""
    snapshot = _state(net)
    net.sgd_epoch(x, y, eta, mu, l2, batch_size, order, masks, rule)
    if _all_finite(net):
        return
    _restore(net, snapshot)  # replay one mini-batch at a time to find the first bad step
    for i, start in enumerate(range(0, len(order), batch_size)):
        batch = slice(start, start + batch_size)
        net.sgd_epoch(x, y, eta, mu, l2, batch_size, order[batch],
                      tuple(m[batch] for m in masks), rule)
        for layer, (w, b) in enumerate(zip(net.weights, net.biases)):
            if not (np.isfinite(w).all() and np.isfinite(b).all()):
                # Back to the last finite state: the chunk's start, then its steps before this.
                _restore(net, snapshot)
                if start:
                    before = slice(0, start)
                    net.sgd_epoch(x, y, eta, mu, l2, batch_size, order[before],
                                  tuple(m[before] for m in masks), rule)
                step = first_step + i + 1
                raise DivergenceError(
                    f"training diverged at epoch {epoch}, step {step} (of the epoch): layer "
                    f"{layer}'s weights or biases became NaN or infinite. The network is left as "
                    f"it was before that step, its last finite state. Lower the learning rate "
                    f"(now {eta}) or the momentum, or scale the inputs to [0, 1]")
    raise AssertionError("a chunk diverged but its replay did not")  # non-deterministic kernels


def _state(net):
    return [p.copy() for p in checkpoints.state_arrays(net)]


def _restore(net, state):
    for target, saved in zip(checkpoints.state_arrays(net), state):
        target[...] = saved


def _all_finite(net):
    return all(np.isfinite(p).all() for p in net.weights + net.biases)
