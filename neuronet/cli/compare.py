"""``neuronet compare``, the main command: it trains one network twice from the same seed, with
the compiled loops and with the vectorized twin, in lock-step chunks of SGD steps over the same
shuffled order, and reports accuracy, time and the largest parameter difference between them.

Two correct implementations round differently (they add the same numbers in a different order),
and unstable training can amplify those 1e-16 differences step after step; compare measures the
difference after every chunk and says plainly which of the two happened, with two witnesses:
the difference one chunk makes from the same start (re-synchronised) and the drift of one
backend against itself from a change of one ulp (control).
"""
import textwrap

import numpy as np

from .. import plots
from ..compare import AGREE, control_verdict, lockstep, nudge, resync_verdict, short, verdict
from ..train import one_hot
from .shared import TITLES, build_network, dashes, describe, load_data, say, update_rule, warm_up


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
    (x, y), (x_test, y_test), n_all = load_data(args, args.shape, args.train_size)
    targets = one_hot(y, args.shape[-1])
    settings = {"learning_rate": args.learning_rate, "batch_size": args.batch_size,
                "momentum": args.momentum, "weight_decay": args.weight_decay,
                "decay": args.decay, "seed": args.seed, "chunk": args.chunk,
                "rule": update_rule(args)}
    print(f"neuronet compare: {describe(args, len(x), len(x_test), n_all)}")

    loops = "strict" if args.strict else "loops"
    nets = {name: build_network(args, name) for name in (loops, "vectorized")}
    warm_up(args, x, targets, loops)
    batch = np.random.default_rng(args.seed).permutation(len(x))[:args.batch_size]
    gradients = {name: net.gradients(x[batch], targets[batch]) for name, net in nets.items()}
    flat = {name: [g for layer in pairs for g in layer] for name, pairs in gradients.items()}
    gradient_diff = max(float(np.max(np.abs(p - q)))
                        for p, q in zip(flat[loops], flat["vectorized"]))
    print(f"gradients on one batch ({len(batch)} image{'s' if len(batch) > 1 else ''}): "
          f"largest difference {gradient_diff:.1e}")
    nets["resynced"] = build_network(args, "vectorized")
    nets["control"] = build_network(args, "vectorized")
    nudge(nets["control"])
    pairs = {"free": [(loops, "vectorized")], "resynced": [(loops, "resynced")],
             "control": [("vectorized", "control")]}
    acc, seconds = f"{loops} acc", f"{loops} s"
    print(f"epoch  {acc}  vectorized acc  {seconds}  vectorized s  free-running  re-synced  "
          "control")

    def row(epoch, record):
        say(f"{epoch:>5}  {100 * record.accuracy[loops][-1]:>{len(acc) - 2}.2f} %  "
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
                           f"neuronet compare: {dashes(args.shape)} on {TITLES[args.dataset]}, "
                           f"learning rate {short(args.learning_rate)}")
        print(f"plot written to {args.plot}")
    return 0


def _compare_python(args, x, targets, settings, loops="loops"):
    """--python: time the uncompiled python backend against the loops on the first images."""
    n = min(args.python, len(x))
    nets = {name: build_network(args, name) for name in (loops, "python")}
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
