"""The parser: every command's options, their argument types (each error says what was wrong
and what to write instead), and which body runs each command.

Bad options end as argparse ends them, but in the one line every neuronet error is:
``neuronet: error: ...`` and exit code 2.
"""
import argparse
import math
import sys
from pathlib import Path

from ..activations import ACTIVATIONS, COSTS, OUTPUTS
from ..backends import BACKENDS
from ..data import DATASETS
from ..init import INITS
from ..rules import SOLVERS
from ..saving import check_target
from .backends import run_backends
from .compare import run_compare
from .data import run_data
from .gradcheck import run_gradcheck
from .predict import run_predict
from .train import run_train

GRADCHECK_MAX_SAMPLES = 10_000  # the test set; each parameter checked costs 4 passes over them
NIELSEN = {"shape": (784, 30, 10), "batch_size": 10, "learning_rate": 3.0}  # his book, chapter 1


# --- argument types: each says what was wrong and what to write instead ---------------------

def _shape(text):
    sizes = []
    for part in text.split(","):
        try:
            sizes.append(int(part))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a list of layer sizes ({part.strip()!r} is not a whole number); "
                "write it like 784,30,10") from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give at least two layer sizes, each >= 1, "
                                         "like 784,30,10")
    return tuple(sizes)


def _number(low, high=math.inf, *, low_ok, what):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (math.isfinite(value) and (value >= low if low_ok else value > low)
                and value < high):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return value
    return parse


def _whole(low, high=None, why=""):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high:,}{why}, got {value:,}")
        return value
    return parse


_count = _whole(1)
pixels = _whole(0)


def _folder(text):
    if not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text}: no such folder")
    return text


def _png(text):
    path = Path(text)
    if path.suffix.lower() != ".png":
        raise argparse.ArgumentTypeError(f"{text}: the figure is written as PNG; name it *.png")
    if not path.parent.resolve().is_dir():
        raise argparse.ArgumentTypeError(f"{text}: folder {path.parent} does not exist")
    return path


def _writable(text):
    """A path save() can write, checked now rather than after the training."""
    try:
        check_target(text)
    except (ValueError, OSError) as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return Path(text)


def _cost(text):
    return text.replace("-", "_")  # accept cross-entropy as well as cross_entropy


positive = _number(0, low_ok=False, what="a finite number > 0")
non_negative = _number(0, low_ok=True, what="a finite number >= 0")
momentum_range = _number(0, 1, low_ok=True, what="in [0, 1) (at 1 the velocity never decays)")
decay_range = _number(0, math.nextafter(1, 2), low_ok=False, what="in (0, 1]")  # 1 included
beta_range = _number(0, 1, low_ok=True, what="in [0, 1)")
dropout_range = _number(0, 1, low_ok=True, what="in [0, 1) (the chance of dropping a neuron)")


class Parser(argparse.ArgumentParser):
    """argparse, with its errors as the one line every neuronet error is."""

    def error(self, message):
        print(f"neuronet: error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(2)


def _data_options(parser, datasets=tuple(DATASETS)):
    group = parser.add_argument_group("data")
    group.add_argument("--dataset", choices=datasets, default="mnist",
                       help="which images to use (default: %(default)s)")
    group.add_argument("--data", metavar="DIR", type=_folder,
                       help="folder holding the four IDX files, directly or in a subfolder "
                            "mnist/ or fashion-mnist/ (default: $NEURONET_DATA, then the cache)")
    group.add_argument("--cache", metavar="DIR",
                       help="where fetched files are kept (default: $NEURONET_CACHE or "
                            "~/.cache/neuronet)")
    group.add_argument("--no-download", action="store_true",
                       help="fail instead of fetching files that are missing")


def _network_options(parser, *, shape=NIELSEN["shape"]):
    group = parser.add_argument_group("network")
    group.add_argument("--shape", type=_shape, default=shape, metavar="N,N,...",
                       help="layer sizes, inputs first (default: {})".format(",".join(map(str, shape))))
    group.add_argument("--activation", choices=tuple(ACTIVATIONS), default="sigmoid",
                       help="hidden layers' activation (default: %(default)s)")
    group.add_argument("--output", choices=OUTPUTS, default="sigmoid",
                       help="output layer activation (default: %(default)s)")
    group.add_argument("--cost", type=_cost, choices=tuple(COSTS), default="quadratic",
                       help="cost minimised (default: %(default)s)")
    group.add_argument("--init", choices=("auto",) + tuple(INITS), default="auto",
                       help="initial weights: normal N(0, 1/n_in), glorot, he, the post's "
                            "failing uniform [0, 0.4), or auto: normal for the sigmoid, glorot "
                            "for tanh, he for relu (default: %(default)s)")
    group.add_argument("--seed", type=_whole(0), default=0,
                       help="seed for the initial weights and the shuffling (default: %(default)s)")


def _training_options(parser, *, epochs):
    group = parser.add_argument_group("training (defaults: Nielsen's chapter 1 settings)")
    group.add_argument("--epochs", type=_count, default=epochs,
                       help="passes over the training set (default: %(default)s)")
    group.add_argument("--batch-size", type=_count, default=NIELSEN["batch_size"],
                       help="samples per SGD step; 1 is the post's pure SGD (default: %(default)s)")
    group.add_argument("--learning-rate", type=positive, default=NIELSEN["learning_rate"],
                       metavar="ETA", help="SGD step size eta (default: %(default)s)")
    group.add_argument("--decay", type=decay_range, default=1.0, metavar="FACTOR",
                       help="multiply the learning rate by FACTOR in (0, 1] after each epoch "
                            "(default: %(default)s, constant)")
    group.add_argument("--momentum", type=momentum_range, default=0.0, metavar="MU",
                       help="momentum coefficient mu in [0, 1) (default: %(default)s)")
    group.add_argument("--solver", choices=SOLVERS, default="sgd",
                       help="update rule: sgd (with --momentum) or adam (default: %(default)s)")
    group.add_argument("--nesterov", action="store_true",
                       help="Nesterov's momentum instead of the classical (sgd with --momentum)")
    group.add_argument("--beta-1", type=beta_range, default=0.9, metavar="B1",
                       help="Adam's decay of the mean gradient, in [0, 1) (default: %(default)s)")
    group.add_argument("--beta-2", type=beta_range, default=0.999, metavar="B2",
                       help="Adam's decay of the mean squared gradient (default: %(default)s)")
    group.add_argument("--epsilon", type=positive, default=1e-8,
                       help="Adam's guard against dividing by 0 (default: %(default)s)")
    group.add_argument("--weight-decay", type=non_negative, default=0.0, metavar="LAMBDA",
                       help="L2 coefficient lambda of (lambda/2)|w|^2 added to the cost; "
                            "Nielsen's lmbda/n (default: %(default)s)")
    group.add_argument("--train-size", type=_count, metavar="N",
                       help="train on the first N training images only (default: all)")
    group.add_argument("--plot", type=_png, metavar="FILE.png",
                       help="also draw the run as a PNG (needs pip install 'neuronet[plot]')")


def build_parser():
    parser = Parser(prog="neuronet", description="Backpropagation as per-neuron loops compiled "
                    "with numba, beside its vectorized numpy twin.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    compare = commands.add_parser(
        "compare", help="train the same network with the loops and the vectorized backends and "
        "compare accuracy, speed and parameters", description=run_compare.__doc__)
    _network_options(compare)
    _training_options(compare, epochs=1)
    compare.add_argument("--chunk", type=_count, default=100, metavar="STEPS",
                         help="SGD steps between parameter comparisons and re-synchronisations; "
                              "unstable training amplifies rounding within a chunk too, so keep "
                              "it short (default: %(default)s)")
    compare.add_argument("--strict", action="store_true",
                         help="use the strict loops (no reassociated sums: the python backend's "
                              "bits, slower) instead of the fused ones")
    compare.add_argument("--python", type=_count, metavar="N",
                         help="also time the uncompiled python backend on the first N training "
                              "images against the loops (about 50 images/s; default: off)")
    _data_options(compare)
    compare.set_defaults(run=run_compare)

    train = commands.add_parser("train", help="train one network, scoring it after each epoch",
                                description=run_train.__doc__)
    _network_options(train)
    _training_options(train, epochs=30)
    dropout = train.add_argument_group("dropout (Hinton et al. 2012: 0.5 hidden, 0.2 inputs)")
    dropout.add_argument("--dropout", type=dropout_range, default=0.0, metavar="RATE",
                         help="chance that a hidden neuron sits out a training step, drawn afresh "
                              "for each sample (default: %(default)s, none)")
    dropout.add_argument("--input-dropout", type=dropout_range, default=0.0, metavar="RATE",
                         help="the same for each input pixel (default: %(default)s, none)")
    shifting = train.add_argument_group("distortion (Simard et al. 2003)")
    shifting.add_argument("--shift", type=pixels, default=0, metavar="PIXELS",
                          help="move each training image by up to PIXELS pixels across and down, "
                               "afresh each epoch (default: %(default)s, none)")
    train.add_argument("--backend", choices=tuple(BACKENDS), default="loops",
                       help="how the arithmetic is done (default: %(default)s)")
    train.add_argument("--save", type=_writable, metavar="FILE.npz",
                       help="save the trained network (read it back with neuronet predict)")
    resuming = train.add_argument_group(
        "checkpoints (a run killed and resumed ends as if it had never stopped)")
    resuming.add_argument("--checkpoint", type=_writable, metavar="FILE.npz",
                          help="write the network, its optimizer state, the random generators' "
                               "states and the history to FILE.npz every --checkpoint-every "
                               "epochs and after the last, atomically")
    resuming.add_argument("--checkpoint-every", type=_count, metavar="EPOCHS",
                          help="epochs between checkpoints (default: 1, every epoch)")
    resuming.add_argument("--resume", action="store_true",
                          help="continue from --checkpoint if it exists (else start afresh), "
                               "with the same options; --epochs may be larger")
    _data_options(train)
    train.set_defaults(run=run_train)

    check = commands.add_parser("gradcheck", help="check backpropagation against numerical "
                                "derivatives", description=run_gradcheck.__doc__)
    _network_options(check)
    check.add_argument("--load", type=Path, metavar="FILE.npz",
                       help="check a saved network instead of building one")
    check.add_argument("--backend", choices=tuple(BACKENDS), action="append",
                       help="backend to check; repeat for several (default: every one)")
    check.add_argument("--samples", default=10, metavar="N", type=_whole(
                           1, GRADCHECK_MAX_SAMPLES, " (the test images; a batch that large "
                           "already takes minutes)"),
                       help="images in the batch whose cost is differentiated (default: "
                            "%(default)s)")
    check.add_argument("--random", action="store_true",
                       help="use random inputs and labels instead of test images (needs no data)")
    _data_options(check)
    check.set_defaults(run=run_gradcheck)

    predict = commands.add_parser("predict", help="classify images with a saved network",
                                  description=run_predict.__doc__)
    predict.add_argument("network", type=Path, metavar="FILE.npz",
                         help="a network saved by neuronet train --save")
    predict.add_argument("--images", type=_count, default=10, metavar="N",
                         help="test images to list (default: %(default)s)")
    predict.add_argument("--input", type=Path, metavar="FILE.npy",
                         help="classify the rows of this (n, inputs) array instead")
    predict.add_argument("--backend", choices=tuple(BACKENDS), default="loops",
                         help="how the arithmetic is done (default: %(default)s)")
    _data_options(predict)
    predict.set_defaults(run=run_predict)

    data = commands.add_parser("data", help="fetch the datasets if missing and verify their md5s",
                               description=run_data.__doc__)
    _data_options(data, datasets=tuple(DATASETS) + ("all",))
    data.set_defaults(run=run_data)

    backends = commands.add_parser("backends", help="which functions run a step of each backend",
                                   description=run_backends.__doc__)
    backends.set_defaults(run=run_backends)
    return parser
