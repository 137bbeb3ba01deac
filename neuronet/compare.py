"""Train networks side by side and say whether they agree: the engine of ``neuronet compare``.

Two correct implementations round differently (they add the same numbers in a different order),
and unstable training can amplify those 1e-16 differences step after step. ``lockstep`` trains
the networks in chunks of SGD steps over the same shuffled order, timing each and recording the
largest parameter difference after every chunk; ``verdict`` reads that series and says plainly
whether the networks agree, or how and why they drifted apart.

Two more series show which it is. Re-synchronised: a third network starts every chunk from the
first's parameters and velocities and runs the same chunk, so its difference after the chunk is
what the backends' rounding makes in one chunk, from the same start; it stays at rounding level
(``ROUNDING``) however long the training, where a bug would show at once. Control: the same
backend against itself, one weight moved by one ulp at the start (``nudged``): its difference
grows like the free-running one, so the growth is the training's sensitivity to any change.
"""
import math
import sys
import textwrap
import time
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from .checkpoint import copy_state
from .checks import check_array, check_rule, check_settings
from .train import DivergenceError, evaluate

AGREE = 1e-9         # largest parameter difference still called agreement (float64 rounds at 1e-16)
# Largest one-chunk difference from the same start that is still rounding: the backends' sums
# differ by a few ulp (1e-16 on parameters of order 1) a step. Unstable training amplifies them
# within a chunk too: at compare's defaults over 10 epochs, chunks of 1,000 steps reached 1.7e-12,
# chunks of 100 (the default) at most 5.3e-15.
ROUNDING = 1e-12


def short(value):
    """A number as a person writes it: 3.0, 0.0001, 8.3e-5, 1e-9."""
    return repr(float(value)).replace("e-0", "e-")


def progress_bar(total, desc, unit):
    # disable=None: a bar on a terminal, nothing in logs, pipes and tests
    return tqdm(total=total, desc=desc, unit=unit, leave=False, disable=None, file=sys.stderr)


def largest_difference(a, b):
    """The largest |difference| between the weights and biases of two networks."""
    return max(float(np.max(np.abs(p - q)))
               for p, q in zip(a.weights + a.biases, b.weights + b.biases))


def nudge(net):
    """Move one weight of ``net`` by one ulp, in place: the largest of the last layer. Its update
    is small beside it, so the update cannot round the ulp away (a small weight's can), and a
    hidden activation always feeds it (an input weight may sit on a pixel that is always 0)."""
    w = net.weights[-1]
    j, k = np.unravel_index(np.argmax(np.abs(w)), w.shape)
    w[j, k] = np.nextafter(w[j, k], np.inf)


@dataclass
class Lockstep:
    """What training several networks side by side recorded."""
    seconds: dict                                    # name -> time in its step calls, per epoch
    accuracy: dict                                   # name -> test accuracy, per epoch
    series: dict                                     # label -> (step, largest difference) per chunk
    epoch_of_check: list = field(default_factory=list)  # epoch of each chunk's entries
    steps: int = 0
    samples: int = 0

    @property
    def diffs(self):
        """The free-running series: the first network against the others."""
        return self.series["free"]

    def largest(self, label, epoch=None):
        """The largest difference of a series, over one epoch or the whole run."""
        return max(d for (_, d), e in zip(self.series[label], self.epoch_of_check)
                   if epoch is None or e == epoch)


def lockstep(nets, x, targets, *, epochs, learning_rate, batch_size, momentum, weight_decay,
             seed, chunk, decay=1.0, test=None, on_epoch=None, bar_desc="training", pairs=None,
             resync=None, rule=None):
    """Train ``nets`` (name -> Network, same start) in lock-step; returns a Lockstep.

    Each epoch shuffles by ``numpy.random.default_rng(seed)`` as ``fit`` does; every net then takes
    the same ``chunk`` SGD steps in turn, each timed on its own, and after every chunk the largest
    parameter difference between the nets of each pair in ``pairs`` (label -> list of (name,
    name); default: "free", the first net against each other) goes to ``record.series[label]``.
    ``resync`` (name -> name): before every chunk that net starts from the other's parameters
    and velocities. ``test=(x, labels)`` is scored after each epoch with each net's own backend
    (``python`` nets are scored with ``loops``: the same kernels, compiled). ``on_epoch(epoch,
    record)`` is called after each epoch. ``rule``: the update rule, as a dict of ``fit``'s
    keywords (solver, nesterovs_momentum, beta_1, beta_2, epsilon; default plain SGD).
    """
    names = list(nets)
    first = nets[names[0]]
    pairs = {"free": [(names[0], n) for n in names[1:]]} if pairs is None else pairs
    resync = resync or {}
    record = Lockstep({n: [] for n in names}, {n: [] for n in names}, {k: [] for k in pairs})
    # Checked once here; the chunks go through the networks' unchecked sgd_epoch.
    eta, mu, l2 = check_settings(learning_rate, momentum, weight_decay)
    rule = check_rule(**(rule or {}), momentum=mu)
    x, _ = check_array("x", x, first.sizes[0], first.dtype)
    targets, _ = check_array("targets", targets, first.sizes[-1], first.dtype)
    rng = np.random.default_rng(seed)
    per_chunk = chunk * batch_size
    with progress_bar(epochs * math.ceil(len(x) / batch_size), bar_desc, "step") as bar:
        for epoch in range(1, epochs + 1):
            order = rng.permutation(len(x))
            rate = eta * decay ** (epoch - 1)  # as fit does
            seconds = dict.fromkeys(names, 0.0)
            for start in range(0, len(x), per_chunk):
                part = order[start:start + per_chunk]
                for name, source in resync.items():  # before any net takes this chunk's steps
                    copy_state(nets[source], nets[name])
                for name, net in nets.items():
                    begin = time.perf_counter()
                    net.sgd_epoch(x, targets, rate, mu, l2, batch_size, part, rule=rule)
                    seconds[name] += time.perf_counter() - begin
                    if not all(np.isfinite(p).all() for p in net.weights + net.biases):
                        raise DivergenceError(
                            f"training diverged in epoch {epoch}, steps {record.steps + 1:,} to "
                            f"{record.steps + math.ceil(len(part) / batch_size):,}: the {name} "
                            f"network's parameters became NaN or infinite. Lower the learning "
                            f"rate (now {short(learning_rate)}) or the momentum")
                steps = math.ceil(len(part) / batch_size)
                record.steps += steps
                record.samples += len(part)
                for label, compared in pairs.items():
                    record.series[label].append((record.steps, max(
                        (largest_difference(nets[a], nets[b]) for a, b in compared), default=0.0)))
                record.epoch_of_check.append(epoch)
                bar.update(steps)
            for name, net in nets.items():
                record.seconds[name].append(seconds[name])
                if test is not None:
                    backend = net.backend
                    net.backend = "loops" if backend == "python" else backend
                    record.accuracy[name].append(evaluate(net, *test)[1])
                    net.backend = backend
            if on_epoch is not None:
                on_epoch(epoch, record)
    return record


def verdict(diffs, *, threshold=AGREE, gradient_diff=0.0, learning_rate=None):
    """Say whether the backends agree, from the (step, difference) series lockstep recorded.

    Agreement is a final difference <= threshold. Otherwise the message gives the step where
    the difference first exceeded the threshold and how fast it grew, and reads it: a
    difference that starts at rounding level and grows steadily is rounding amplified by
    unstable training; a gradient difference far above rounding before any training is a bug.
    """
    if not diffs:
        return "no training steps were taken, so there is nothing to compare"
    steps, final = diffs[-1]
    if final <= threshold:
        return (f"parameters agree to {final:.1e} after {steps:,} steps "
                f"(threshold {short(threshold)})")
    crossed = next(step for step, d in diffs if not d <= threshold)
    lines = [(f"parameters DIFFER by {final:.1e} after {steps:,} steps (threshold "
             f"{short(threshold)}); the difference first exceeded it at step {crossed:,}.")]
    # The growth rate is read while the difference is still small: once it nears the size of
    # the parameters themselves (~1) it cannot grow at the same rate any more.
    positive = [(s, d) for s, d in diffs if d > 0 and math.isfinite(d)]
    large = next((i for i, (_, d) in enumerate(positive) if d > 1e-6), len(positive) - 1)
    growing = positive[:large + 1]
    if len(growing) >= 2 and growing[-1][0] > growing[0][0]:
        (s0, d0), (s1, d1) = growing[0], growing[-1]
        per = 10_000 if s1 - s0 >= 10_000 else 1_000
        factor = (d1 / d0) ** (per / (s1 - s0))
        factor = f"{factor:,.0f}" if factor >= 100 else f"{factor:.2g}"
        lines.append(f"It grew from {d0:.1e} at step {s0:,} to {d1:.1e} at step {s1:,}, "
                     f"a factor of about {factor} per {per:,} steps.")
    if gradient_diff > threshold:
        lines.append(f"The gradients already differed by {gradient_diff:.1e} on one batch before "
                     "any training: that is not rounding; one backend computes something else.")
    else:
        rate = f" (now {short(learning_rate)})" if learning_rate is not None else ""
        lines.append("This is rounding amplified by unstable training, not a bug: the backends "
                     "add the same numbers in a different order, so each step rounds differently "
                     "by about 1e-16, and training this unstable magnifies such differences "
                     "step after step; both runs are equally valid. Lower the learning rate"
                     f"{rate} or the momentum until training is stable, and the backends agree.")
    return "\n  ".join(textwrap.fill(line, 98, subsequent_indent="    ") for line in lines)


def resync_verdict(record, *, threshold=ROUNDING, chunk=None):
    """Read the re-synchronised series: one chunk from the same start must stay at rounding."""
    worst = record.largest("resynced")
    steps = f"{chunk:,} steps" if chunk else "a chunk"
    line = (f"re-synchronised (both start every chunk of {steps} from the same parameters): at "
            f"most {worst:.1e} apart after a chunk, over all {record.steps:,} steps")
    if worst <= threshold:
        return line + f", rounding level (threshold {short(threshold)})"
    return (line + f", ABOVE rounding level (threshold {short(threshold)}): from the same start "
            "the backends compute different steps; that is a bug, or training so unstable that "
            "one chunk magnifies rounding (try a smaller --chunk)")


def control_verdict(record, name, *, threshold=AGREE):
    """Read the control: the same backend against itself, one weight moved by one ulp."""
    free, control = record.diffs[-1][1], record.series["control"][-1][1]
    line = (f"control ({name} against itself with one weight moved by one ulp): {control:.1e} "
            f"apart after {record.steps:,} steps, free-running backends {free:.1e}")
    if free <= threshold:
        return line + "; training this stable damps both"
    if control > threshold:
        return (line + "; one ulp grows as far, so the drift is the training's sensitivity to "
                "any rounding, not a bug")
    return (line + "; one ulp did not grow, so the training's sensitivity does not explain the "
            "drift: look for a bug")
