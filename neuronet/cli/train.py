"""``neuronet train``: train one network with neuronet.fit, a table row after each epoch, and
save it for ``neuronet predict``."""
import numpy as np

from .. import plots
from ..compare import short
from ..saving import save
from ..train import fit, one_hot
from .shared import TITLES, build_network, dashes, describe, load_data, say, update_rule, warm_up


def run_train(args):
    """Train one network by mini-batch SGD, printing the held-out cost, accuracy and the post's
    error (0.5 (a - y)^2 averaged over outputs and images) after each epoch, on the test images.
    Training equals neuronet.fit with the same settings and seed. With --checkpoint the run
    can be killed at any moment and continued with --resume, ending as if it had never
    stopped."""
    if args.plot:
        plots.require()
    if args.checkpoint is None and (args.resume or args.checkpoint_every is not None):
        option = "--resume" if args.resume else "--checkpoint-every"
        raise ValueError(f"{option} needs --checkpoint FILE.npz, the checkpoint to "
                         f"{'resume from' if args.resume else 'write'}")
    if args.checkpoint is not None and args.checkpoint.exists() and not args.resume:
        raise ValueError(f"--checkpoint {args.checkpoint} exists; add --resume to continue from "
                         "it, or remove it (or name another file) to start afresh")
    resuming = args.resume and args.checkpoint.exists()
    (x, y), (x_test, y_test), n_all = load_data(args, args.shape, args.train_size)
    if args.batch_size > len(x):
        raise ValueError(f"--batch-size {args.batch_size:,} is more than the {len(x):,} training "
                         f"images; use at most {len(x):,} (all of them in one step)")
    targets, test_targets = one_hot(y, args.shape[-1]), one_hot(y_test, args.shape[-1])
    net = build_network(args, args.backend)
    warm_up(args, x, targets)  # so the first epoch's seconds do not include compiling
    print(f"neuronet train: {describe(args, len(x), len(x_test), n_all)}, "
          f"backend {args.backend}, init {net.init}")
    if resuming:
        print(f"resuming from {args.checkpoint}: the epochs it holds are marked 'checkpoint'")
    print("epoch        cost  accuracy  post error  seconds")

    def row(epoch):
        # The post's error needs the network as it was after the epoch, which a checkpoint
        # does not keep, so an epoch read from one has none.
        error = "-" if epoch.restored else f"{post_error(net, x_test, test_targets):.6f}"
        say(f"{epoch.epoch:>5}  {epoch.cost:>10.6f}  {100 * epoch.accuracy:>6.2f} %  "
            f"{error:>10}  {epoch.seconds:>7.2f}" + ("  checkpoint" if epoch.restored else ""))

    history = fit(net, x, targets, epochs=args.epochs, learning_rate=args.learning_rate,
                  batch_size=args.batch_size, momentum=args.momentum,
                  weight_decay=args.weight_decay, decay=args.decay, dropout=args.dropout,
                  input_dropout=args.input_dropout, shift=args.shift,
                  validation=(x_test, y_test), seed=args.seed, progress=True, on_epoch=row,
                  checkpoint=args.checkpoint, checkpoint_every=args.checkpoint_every or 1,
                  resume=args.resume, **update_rule(args))
    right = round(history[-1].accuracy * len(x_test))
    print(f"final held-out accuracy: {100 * history[-1].accuracy:.2f} % ({right:,} of "
          f"{len(x_test):,} test images)")
    if args.checkpoint is not None:
        print(f"checkpoint written to {args.checkpoint}")
    if args.save:
        save(net, args.save)
        print(f"network saved to {args.save}")
    if args.plot:
        plots.plot_training(history, args.plot, f"neuronet train: {dashes(args.shape)} "
                            f"{args.output}/{args.cost} on {TITLES[args.dataset]}, learning rate "
                            f"{short(args.learning_rate)}")
        print(f"plot written to {args.plot}")
    return 0


def post_error(net, x, targets):
    """The post's error, 0.5 (a - y)^2 averaged over output neurons and samples."""
    return float(0.5 * np.mean((net.predict(x) - targets) ** 2))
