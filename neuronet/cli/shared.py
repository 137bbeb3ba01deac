"""The steps more than one command takes: load and check the data, build the network from the
options, warm up the compiled kernels, describe the run in one line, print a table row."""
import sys

from tqdm import tqdm

from ..compare import short
from ..data import load_fashion_mnist, load_mnist
from ..network import Network

TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
LOADERS = {"mnist": load_mnist, "fashion-mnist": load_fashion_mnist}


def load_data(args, shape, train_size=None, network=None):
    """(x, y), (x_test, y_test) and the size of the whole training set, checked against shape
    (``--shape``, or the shape of the network loaded from the file ``network``)."""
    (x, y), (x_test, y_test) = LOADERS[args.dataset](
        args.data, cache_dir=args.cache, download=not args.no_download, progress=True)
    name, n_all = TITLES[args.dataset], len(x)
    if shape[0] != x.shape[1] or shape[-1] != 10:
        which = (f"--shape {dashes(shape, ',')}" if network is None
                 else f"the {dashes(shape)} network in {network}")
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


def build_network(args, backend):
    """The network that --shape, --seed, --init, --activation, --output and --cost ask for."""
    return Network(args.shape, backend=backend, seed=args.seed, init=args.init,
                   activation=args.activation, output=args.output, cost=args.cost)


def update_rule(args):
    """The update rule's keywords for fit, Network.step and lockstep."""
    return {"solver": args.solver, "nesterovs_momentum": args.nesterov, "beta_1": args.beta_1,
                "beta_2": args.beta_2, "epsilon": args.epsilon}


def warm_up(args, x, targets, backend="loops"):
    """Compile the numba kernels on a throwaway network, so no timing includes compiling."""
    net = build_network(args, backend)
    n = min(len(x), args.batch_size)
    net.step(x[:n], targets[:n], args.learning_rate, batch_size=args.batch_size,
             momentum=args.momentum, weight_decay=args.weight_decay, **update_rule(args))
    net.predict(x[:1])


def dashes(shape, sep="-"):
    return sep.join(map(str, shape))


def describe(args, n_train, n_test, n_all):
    """The run in one line: network, data, batch, learning rate, the settings not at their
    defaults, seed."""
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
    return (f"{dashes(args.shape)} {hidden}{args.output}/{args.cost} on {TITLES[args.dataset]} "
            f"({subset} train, {n_test:,} test), batch {args.batch_size}, learning rate "
            f"{short(args.learning_rate)}{extras}, seed {args.seed}")


def say(line):
    tqdm.write(line, file=sys.stdout)  # print without tearing a progress bar on the terminal
    sys.stdout.flush()
