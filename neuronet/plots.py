"""Figures for the command line's ``--plot FILE.png``: training curves, and backend agreement.

matplotlib is an optional extra (``pip install 'neuronet[plot]'``); nothing else in neuronet
imports it. Figures are drawn with the Agg backend (no display needed) and written atomically: a
temporary file in the target's folder, renamed into place, so a crash never leaves half a PNG.
"""
import math
import os
import tempfile
from pathlib import Path


class PlotError(ValueError):
    """matplotlib is missing, or the figure cannot be written where asked."""


def require():
    """Import matplotlib with the Agg backend, or raise PlotError saying how to install it."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotError("--plot needs matplotlib, which is not installed; install it with "
                        "pip install 'neuronet[plot]'") from None
    return plt


def plot_training(history, path, title):
    """Held-out cost and accuracy per epoch, side by side; ``history`` is a list of train.Epoch."""
    plt = require()
    epochs = [e.epoch for e in history]
    fig, (ax_cost, ax_acc) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    ax_cost.plot(epochs, [e.cost for e in history], "o-", color="tab:red")
    ax_cost.set(xlabel="epoch", ylabel="held-out cost", title="cost")
    ax_acc.plot(epochs, [100 * e.accuracy for e in history], "o-", color="tab:blue")
    ax_acc.set(xlabel="epoch", ylabel="held-out accuracy (%)", title="accuracy")
    for ax in (ax_cost, ax_acc):
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.suptitle(title)
    _save(fig, path)


def plot_compare(accuracies, diffs, threshold, path, title):
    """Accuracy per epoch of each backend, and the largest parameter difference over the steps.

    ``accuracies`` maps a backend name to its held-out accuracy after each epoch; ``diffs`` is the
    list of (step, largest |parameter difference|) recorded after each lock-step chunk.
    """
    plt = require()
    fig, (ax_acc, ax_diff) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for (name, values), marker in zip(accuracies.items(), ("o-", "s--", "^:")):
        ax_acc.plot(range(1, len(values) + 1), [100 * v for v in values], marker, label=name)
    ax_acc.set(xlabel="epoch", ylabel="test accuracy (%)", title="accuracy of each backend")
    ax_acc.xaxis.get_major_locator().set_params(integer=True)
    ax_acc.legend()

    steps = [step for step, _ in diffs]
    # A log axis cannot show 0; exactly equal parameters leave a gap and are counted in the legend.
    shown = [d if d > 0 and math.isfinite(d) else math.nan for _, d in diffs]
    zeros = sum(d == 0 for _, d in diffs)
    label = "largest |parameter difference|" + (f" ({zeros} checks exactly 0)" if zeros else "")
    ax_diff.plot(steps, shown, "o-", markersize=3, color="tab:purple", label=label)
    ax_diff.axhline(threshold, color="gray", linestyle="--",
                    label=f"threshold {threshold:.0e}".replace("e-0", "e-"))
    ax_diff.set(xlabel="SGD step", ylabel="max |difference|", yscale="log",
                title="parameter difference between backends")
    ax_diff.legend(loc="best")
    for ax in (ax_acc, ax_diff):
        ax.grid(alpha=0.3, which="both" if ax is ax_diff else "major")
    fig.suptitle(title)
    _save(fig, path)


def _save(fig, path):
    import matplotlib.pyplot as plt

    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            fig.savefig(f, format="png", dpi=110)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a figure is ordinary output
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    finally:
        plt.close(fig)
