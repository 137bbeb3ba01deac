"""The command line: ``neuronet compare | train | gradcheck | predict | data``.

``neuronet compare`` is the main command: it trains one network twice from the same seed, with
the compiled loops and with the vectorized twin, in lock-step chunks of SGD steps over the same
shuffled order, and reports accuracy, time and the largest parameter difference between them.
Two correct implementations round differently (they add the same numbers in a different order),
and unstable training can amplify those 1e-16 differences step after step; compare measures the
difference after every chunk and says plainly which of the two happened, with two witnesses:
the difference one chunk makes from the same start (re-synchronised) and the drift of one
backend against itself from a change of one ulp (control).

Every command prints plain fixed-width text to stdout; progress bars go to stderr and appear only
on a terminal. Bad input (options, data files, network files) ends with one line
``neuronet: error: ...`` and exit code 2.
"""
import argparse
import math
import os
import sys
import textwrap
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import plots
from .activations import ACTIVATIONS, COSTS, OUTPUTS
from .data import DATASETS, ROLES, load_fashion_mnist, load_mnist, locate, verify
from .gradcheck import gradcheck
from .network import BACKENDS, INITS, Network
from .rules import SOLVERS
from .saving import check_target, load, read_npy_header, save
from .compare import (AGREE, control_verdict, lockstep, nudge, resync_verdict, short,
                      verdict)
from .train import DivergenceError, fit, one_hot

GRADCHECK_MAX_SAMPLES = 10_000  # the test set; each parameter checked costs 4 passes over them
GRADCHECK_OK = 1e-7  # largest relative error gradcheck passes; its five-point slope reaches ~1e-12
PYTHON_MAX_WEIGHTS = 10_000  # above this the uncompiled loops take minutes to gradcheck
NIELSEN = dict(shape=(784, 30, 10), batch_size=10, learning_rate=3.0)  # his book, chapter 1
TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
LOADERS = {"mnist": load_mnist, "fashion-mnist": load_fashion_mnist}


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


def _rule(args):
    """The update rule's keywords for fit, Network.step and lockstep."""
    return dict(solver=args.solver, nesterovs_momentum=args.nesterov, beta_1=args.beta_1,
                beta_2=args.beta_2, epsilon=args.epsilon)
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
                       help="layer sizes, inputs first (default: %s)"
                            % ",".join(map(str, shape)))
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
    return parser


def main(argv=None):
    """Run the command line; returns the exit code (0 fine, 1 a check failed, 2 bad input)."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, OSError, DivergenceError) as error:  # DataError and PlotError included
        print(f"neuronet: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("neuronet: interrupted", file=sys.stderr)
        return 130


# --- shared steps ----------------------------------------------------------------------------

def _load_data(args, shape, train_size=None, network=None):
    """(x, y), (x_test, y_test) and the size of the whole training set, checked against shape
    (``--shape``, or the shape of the network loaded from the file ``network``)."""
    (x, y), (x_test, y_test) = LOADERS[args.dataset](
        args.data, cache_dir=args.cache, download=not args.no_download, progress=True)
    name, n_all = TITLES[args.dataset], len(x)
    if shape[0] != x.shape[1] or shape[-1] != 10:
        which = (f"--shape {_dashes(shape, ',')}" if network is None
                 else f"the {_dashes(shape)} network in {network}")
        like = f"{x.shape[1]},30,10"
        like = like if network is None else f"one trained with --shape {like}"
        raise ValueError(f"{which} does not fit {name}: it needs {x.shape[1]} inputs (the "
                         f"pixels) and 10 outputs (the classes); use {like}")
    if train_size is not None:
        if train_size > n_all:
            raise ValueError(f"--train-size {train_size:,} is more than the {n_all:,} training "
                             f"images of {name}")
        x, y = x[:train_size], y[:train_size]
    return (x, y), (x_test, y_test), n_all


def _network(args, backend):
    return Network(args.shape, backend=backend, seed=args.seed, init=args.init,
                   activation=args.activation, output=args.output, cost=args.cost)


def _dashes(shape, sep="-"):
    return sep.join(map(str, shape))


def _describe(args, n_train, n_test, n_all):
    subset = f"{n_train:,} of {n_all:,}" if n_train < n_all else f"{n_train:,}"
    rule = {"adam": ", Adam", "sgd": ", Nesterov" if args.nesterov and args.momentum else ""}
    settings = (("momentum", args.momentum), ("weight decay", args.weight_decay),
                ("learning-rate decay", args.decay != 1 and args.decay),
                ("dropout", getattr(args, "dropout", 0)),  # train only
                ("input dropout", getattr(args, "input_dropout", 0)))
    extras = rule[args.solver] + "".join(f", {name} {short(value)}" for name, value in settings
                                         if value)
    if getattr(args, "shift", 0):
        extras += f", shift {args.shift} px"
    # the hidden activation when it is not the sigmoid, which outputs and costs long assumed
    hidden = f"{args.activation} hidden, " if args.activation != "sigmoid" else ""
    return (f"{_dashes(args.shape)} {hidden}{args.output}/{args.cost} on {TITLES[args.dataset]} "
            f"({subset} train, {n_test:,} test), batch {args.batch_size}, learning rate "
            f"{short(args.learning_rate)}{extras}, seed {args.seed}")


def _say(line):
    tqdm.write(line, file=sys.stdout)  # print without tearing a progress bar on the terminal
    sys.stdout.flush()


def post_error(net, x, targets):
    """The post's error, 0.5 (a - y)^2 averaged over output neurons and samples."""
    return float(0.5 * np.mean((net.predict(x) - targets) ** 2))


# --- compare -------------------------------------------------------------------------------------

def run_compare(args):
    """Train the same network from the same seed with the compiled loops (--strict: the strict
    loops) and the vectorized backend, in lock-step, and compare test accuracy, training time and
    parameters per epoch; then the speed ratio and whether the two agree. Two more networks show
    why they differ: one re-synchronised (the vectorized backend starting every chunk from the
    loops' parameters) and one control (the vectorized backend against itself, one weight moved
    by one ulp). The defaults are the post's network done right, 784-30-10 on MNIST with
    Nielsen's settings, for one epoch."""
    if args.plot:
        plots.require()  # fail now, not after the training
    (x, y), (x_test, y_test), n_all = _load_data(args, args.shape, args.train_size)
    targets = one_hot(y, args.shape[-1])
    settings = dict(learning_rate=args.learning_rate, batch_size=args.batch_size,
                    momentum=args.momentum, weight_decay=args.weight_decay, decay=args.decay,
                    seed=args.seed, chunk=args.chunk, rule=_rule(args))
    print(f"neuronet compare: {_describe(args, len(x), len(x_test), n_all)}")

    loops = "strict" if args.strict else "loops"
    nets = {name: _network(args, name) for name in (loops, "vectorized")}
    _warm_up(args, x, targets, loops)
    batch = np.random.default_rng(args.seed).permutation(len(x))[:args.batch_size]
    gradients = {name: net.gradients(x[batch], targets[batch]) for name, net in nets.items()}
    gradient_diff = max(float(np.max(np.abs(p - q))) for p, q in zip(
        sum(gradients[loops], []), sum(gradients["vectorized"], [])))
    print(f"gradients on one batch ({len(batch)} image{'s' if len(batch) > 1 else ''}): "
          f"largest difference {gradient_diff:.1e}")
    nets["resynced"] = _network(args, "vectorized")
    nets["control"] = _network(args, "vectorized")
    nudge(nets["control"])
    pairs = {"free": [(loops, "vectorized")], "resynced": [(loops, "resynced")],
             "control": [("vectorized", "control")]}
    acc, seconds = f"{loops} acc", f"{loops} s"
    print(f"epoch  {acc}  vectorized acc  {seconds}  vectorized s  free-running  re-synced  "
          "control")

    def row(epoch, record):
        _say(f"{epoch:>5}  {100 * record.accuracy[loops][-1]:>{len(acc) - 2}.2f} %  "
             f"{100 * record.accuracy['vectorized'][-1]:>12.2f} %  "
             f"{record.seconds[loops][-1]:>{len(seconds)}.2f}  "
             f"{record.seconds['vectorized'][-1]:>12.2f}  "
             + "  ".join(f"{record.largest(label, epoch):>{width}.1e}"
                         for label, width in (("free", 12), ("resynced", 9), ("control", 7))))

    record = lockstep(nets, x, targets, epochs=args.epochs, test=(x_test, y_test), on_epoch=row,
                      pairs=pairs, resync={"resynced": loops}, **settings)
    if args.python:
        _compare_python(args, x, targets, settings, loops)

    rates = {name: record.samples / max(sum(record.seconds[name]), 1e-12)
             for name in (loops, "vectorized")}
    fast, slow = sorted(rates, key=rates.get, reverse=True)
    print(f"summary: {loops} trained at {rates[loops]:,.0f} samples/s, vectorized at "
          f"{rates['vectorized']:,.0f} samples/s: {fast} {rates[fast] / rates[slow]:.1f}x faster")
    same = int(np.sum(nets[loops].predict(x_test).argmax(axis=1)
                      == nets["vectorized"].predict(x_test).argmax(axis=1)))
    predictions = (f"test predictions {'identical' if same == len(x_test) else 'agree'} for "
                   f"{same:,} of {len(x_test):,} images")
    agreed = record.diffs[-1][1] <= AGREE
    print("agreement: " + verdict(record.diffs, gradient_diff=gradient_diff,
                                  learning_rate=args.learning_rate)
          + ("; " if agreed else "\n  ") + predictions
          + ("" if agreed else f" ({100 * same / len(x_test):.2f} %)"))
    for line in (resync_verdict(record, chunk=args.chunk), control_verdict(record, "vectorized")):
        print(textwrap.fill(line, 100, subsequent_indent="  "))
    if args.plot:
        plots.plot_compare({name: record.accuracy[name] for name in (loops, "vectorized")},
                           record.diffs, AGREE, args.plot,
                           f"neuronet compare: {_dashes(args.shape)} on {TITLES[args.dataset]}, "
                           f"learning rate {short(args.learning_rate)}")
        print(f"plot written to {args.plot}")
    return 0


def _warm_up(args, x, targets, backend="loops"):
    """Compile the numba kernels on a throwaway network, so no timing includes compiling."""
    net = _network(args, backend)
    n = min(len(x), args.batch_size)
    net.step(x[:n], targets[:n], args.learning_rate, batch_size=args.batch_size,
             momentum=args.momentum, weight_decay=args.weight_decay, **_rule(args))
    net.predict(x[:1])


def _compare_python(args, x, targets, settings, loops="loops"):
    n = min(args.python, len(x))
    nets = {name: _network(args, name) for name in (loops, "python")}
    record = lockstep(nets, x[:n], targets[:n], epochs=1, bar_desc="python backend", **settings)
    rates = {name: n / max(record.seconds[name][0], 1e-12) for name in nets}
    difference = record.diffs[-1][1]
    if difference == 0:
        agreement = f"identical to the {loops} backend's, bit for bit"
    else:
        agreement = (f"differ from the {loops}' by {difference:.1e} "
                     f"({'agree' if difference <= AGREE else 'DIFFER'} at threshold {short(AGREE)})")
    print(f"python backend on the first {n:,} training images (1 epoch, {record.steps:,} steps): "
          f"{rates['python']:,.0f} samples/s, {loops} {rates[loops] / rates['python']:,.0f}x "
          f"faster; parameters {agreement}")


# --- train -------------------------------------------------------------------------------------

def run_train(args):
    """Train one network by mini-batch SGD, printing the held-out cost, accuracy and the post's
    error (0.5 (a - y)^2 averaged over outputs and images) after each epoch, on the test images.
    Training equals neuronet.fit with the same settings and seed."""
    if args.plot:
        plots.require()
    (x, y), (x_test, y_test), n_all = _load_data(args, args.shape, args.train_size)
    if args.batch_size > len(x):
        raise ValueError(f"--batch-size {args.batch_size:,} is more than the {len(x):,} training "
                         f"images; use at most {len(x):,} (all of them in one step)")
    targets, test_targets = one_hot(y, args.shape[-1]), one_hot(y_test, args.shape[-1])
    net = _network(args, args.backend)
    _warm_up(args, x, targets)  # so the first epoch's seconds do not include compiling
    print(f"neuronet train: {_describe(args, len(x), len(x_test), n_all)}, "
          f"backend {args.backend}, init {net.init}")
    print("epoch        cost  accuracy  post error  seconds")

    def row(epoch):
        _say(f"{epoch.epoch:>5}  {epoch.cost:>10.6f}  {100 * epoch.accuracy:>6.2f} %  "
             f"{post_error(net, x_test, test_targets):>10.6f}  {epoch.seconds:>7.2f}")

    history = fit(net, x, targets, epochs=args.epochs, learning_rate=args.learning_rate,
                  batch_size=args.batch_size, momentum=args.momentum,
                  weight_decay=args.weight_decay, decay=args.decay, dropout=args.dropout,
                  input_dropout=args.input_dropout, shift=args.shift,
                  validation=(x_test, y_test), seed=args.seed, progress=True, on_epoch=row,
                  **_rule(args))
    right = round(history[-1].accuracy * len(x_test))
    print(f"final held-out accuracy: {100 * history[-1].accuracy:.2f} % ({right:,} of "
          f"{len(x_test):,} test images)")
    if args.save:
        save(net, args.save)
        print(f"network saved to {args.save}")
    if args.plot:
        plots.plot_training(history, args.plot, f"neuronet train: {_dashes(args.shape)} "
                            f"{args.output}/{args.cost} on {TITLES[args.dataset]}, learning rate "
                            f"{short(args.learning_rate)}")
        print(f"plot written to {args.plot}")
    return 0


# --- gradcheck ---------------------------------------------------------------------------------

def run_gradcheck(args):
    """Check each backend's backpropagation against five-point central differences, one
    parameter at a time, on a batch of test images (or random data with --random); a layer
    passes when its largest relative error is at most 1e-7. Exit code 1 if any layer fails."""
    net = load(args.load) if args.load else _network(args, "loops")
    sizes = net.sizes
    if args.random:
        rng = np.random.default_rng(args.seed)
        x = rng.random((args.samples, sizes[0]))
        y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], args.samples)]
        source = f"{args.samples} random inputs"
    else:
        _, (x_test, y_test), _ = _load_data(args, sizes, network=args.load)
        x, y = x_test[:args.samples], one_hot(y_test[:args.samples], sizes[-1])
        source = f"the first {len(x)} {TITLES[args.dataset]} test images"
    weights = sum(w.size for w in net.weights)
    print(f"neuronet gradcheck: {_dashes(sizes)} {net.activation} {net.output}/{net.cost}"
          f"{' from ' + str(args.load) if args.load else ''} on {source}; "
          f"pass at relative error <= {short(GRADCHECK_OK)}")
    print("backend      layer  weights  biases  max error w  max error b  result")
    failed = False
    backends = args.backend or tuple(BACKENDS)
    for backend in tqdm(backends, desc="gradcheck", unit="backend", leave=False, disable=None,
                        file=sys.stderr):
        if backend == "python" and weights > PYTHON_MAX_WEIGHTS:
            _say(f"{backend:<11}  skipped: {weights:,} weights is more than "
                  f"{PYTHON_MAX_WEIGHTS:,}, too slow uncompiled; use a smaller --shape to check it")
            continue
        net.backend = backend
        for check in gradcheck(net, x, y):
            ok = check.max_error <= GRADCHECK_OK
            failed |= not ok
            _say(f"{backend:<11}  {check.layer:>5}  {check.checked_w:>7,}  {check.checked_b:>6,}"
                  f"  {check.max_error_w:>11.1e}  {check.max_error_b:>11.1e}  "
                  f"{'PASS' if ok else 'FAIL'}")
            if check.kinks:
                _say(f"{'':<11}  {check.layer:>5}  {check.kinks:,} of them left out: a nudge moved "
                     "a ReLU's z across its kink at 0")
    print("gradcheck: " + ("FAIL" if failed else "PASS"))
    return 1 if failed else 0


# --- predict -----------------------------------------------------------------------------------

def run_predict(args):
    """Classify images with a network saved by `neuronet train --save`: list the first test
    images with their labels and report the accuracy over the whole test set, or with --input
    print the most active output (the class) of each row of a .npy array."""
    net = load(args.network, backend=args.backend)
    if args.input is not None:
        x = read_rows(args.input, net.sizes[0])
        if x.ndim == 1:
            x = x.reshape(1, -1)
        try:
            classes = net.predict(x).argmax(axis=1)  # predict checks the values
        except (ValueError, TypeError) as error:
            raise ValueError(f"{args.input}: {error}") from None
        if np.max(x) > 1:
            print(f"note: {args.input} holds values up to {np.max(x):g}; the network was trained "
                  "on pixels scaled to [0, 1] (divide by 255)", file=sys.stderr)
        print("  row  class")
        for i, c in enumerate(classes):
            print(f"{i:>5}  {c:>5}")
        return 0
    # Only the test split: the training files are neither read nor fetched.
    x_test, y_test = LOADERS[args.dataset](args.data, split="test", cache_dir=args.cache,
                                           download=not args.no_download, progress=True)
    if net.sizes[0] != x_test.shape[1] or net.sizes[-1] != 10:
        raise ValueError(f"the {_dashes(net.sizes)} network in {args.network} does not fit "
                         f"{TITLES[args.dataset]}: it needs {x_test.shape[1]} inputs (the "
                         f"pixels) and 10 outputs (the classes); use one trained with --shape "
                         f"{x_test.shape[1]},30,10")
    predicted = net.predict(x_test).argmax(axis=1)
    print(f"neuronet predict: {args.network} ({_dashes(net.sizes)}) on {TITLES[args.dataset]} "
          "test images")
    print("image  label  predicted")
    for i in range(min(args.images, len(x_test))):
        mark = "" if predicted[i] == y_test[i] else "  wrong"
        print(f"{i:>5}  {y_test[i]:>5}  {predicted[i]:>9}{mark}")
    right = int(np.sum(predicted == y_test))
    print(f"accuracy on all {len(x_test):,} test images: {100 * right / len(x_test):.2f} % "
          f"({right:,} right)")
    return 0


def read_rows(path, n_inputs):
    """The (n_inputs,) or (n, n_inputs) array of numbers in the .npy file ``path``; its header
    is checked against the file's size before anything is allocated."""
    try:
        with open(path, "rb") as f:
            try:
                shape, fortran, dtype = read_npy_header(f)
            except ValueError as error:
                f.seek(0)
                what = ("an .npz archive of arrays" if f.read(2) == b"PK"
                        else f"not a .npy array ({error})")
                raise ValueError(f"{path}: {what}; --input takes one array saved with "
                                 "numpy.save(FILE.npy, rows)") from None
            if dtype.hasobject or dtype.kind not in "iuf":
                raise ValueError(f"{path}: holds {dtype}, not real numbers; save the rows as "
                                 "floats")
            if len(shape) not in (1, 2) or shape[-1] != n_inputs or 0 in shape:
                raise ValueError(f"{path}: x must have shape ({n_inputs},) for one sample or (n, "
                                 f"{n_inputs}) for n >= 1 samples, got shape {shape}")
            count = math.prod(shape)
            size, left = count * dtype.itemsize, os.fstat(f.fileno()).st_size - f.tell()
            if left != size:
                raise ValueError(f"{path}: its header declares {dtype} of shape {shape}, "
                                 f"{size:,} bytes, but {left:,} bytes follow it; the file is "
                                 "damaged, save it again")
            return np.fromfile(f, dtype, count).reshape(shape, order="F" if fortran else "C")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None


# --- data --------------------------------------------------------------------------------------

def run_data(args):
    """Find each dataset's four IDX files (fetching them into the cache if missing) and check
    their md5 sums against the published ones. Exit code 1 if any file is BAD."""
    names = tuple(DATASETS) if args.dataset == "all" else (args.dataset,)
    bad = 0
    for name in names:
        paths = locate(name, args.data, cache_dir=args.cache, download=not args.no_download,
                       progress=True)
        print(f"{TITLES[name]}:")
        for role, (path, md5, ok) in zip(ROLES, verify(paths, name)):
            bad += not ok
            print(f"  {role:<12}  {md5}  {'OK ' if ok else 'BAD'}  {path}")
    print("all files OK" if not bad else
          f"{bad} file{'s' if bad > 1 else ''} BAD: not the published data; delete "
          "and fetch again, or point --data at good copies")
    return 1 if bad else 0
