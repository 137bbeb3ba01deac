"""Samples per second against batch size, one line per implementation, from pytest-benchmark JSON.

    python -m pytest benchmarks/test_speed.py -k "test_epoch and 784-100-10 and not prange" \
        --benchmark-only --benchmark-json=.benchmarks/speed.json
    python benchmarks/plot.py .benchmarks/speed.json docs/speed.png

Reads the JSON that ``--benchmark-json FILE`` writes (or a run saved with ``--benchmark-save``
under ``.benchmarks/``), keeps one network and one piece of work (the groups of
``test_speed.py``: "epoch of 200 784-100-10 sigmoid batch 10" and the like), and plots each
implementation's best round as samples a second: the samples of the work (an epoch's, or one
step's batch) over the fastest round's seconds. The best round, as in ``report.py``: on a shared
machine it is the one least disturbed.
"""
import argparse
import json
import re
import sys
from pathlib import Path

GROUP = re.compile(r"(?P<work>.+?) (?P<shape>\d+(?:-\d+)+) (?P<activation>\w+) batch (?P<batch>\d+)$")


def rates(path, work, shape, activation):
    """{implementation: [(batch, samples/s), ...]} for the groups of ``work`` on ``shape``."""
    found = {}
    for bench in json.loads(Path(path).read_text())["benchmarks"]:
        match = GROUP.match(bench.get("group") or "")
        if not match or (match["work"], match["shape"], match["activation"]) != (
                work, shape, activation):
            continue
        batch = int(match["batch"])
        epoch = re.fullmatch(r"epoch of (\d+)", work)
        samples = int(epoch[1]) if epoch else batch
        found.setdefault(bench["params"]["name"], []).append((batch, samples / bench["stats"]["min"]))
    return {name: sorted(points) for name, points in found.items()}


def plot(found, target, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    for name, points in sorted(found.items(), key=lambda item: -item[1][0][1]):
        ax.plot(*zip(*points), marker="o", label=name)
    batches = sorted({batch for points in found.values() for batch, _ in points})
    ax.set(xscale="log", yscale="log", xlabel="batch size", ylabel="samples / s (best round)",
           xticks=batches, xticklabels=[str(b) for b in batches], title=title)
    ax.minorticks_off()
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=9)
    fig.savefig(target, dpi=110)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", help="pytest-benchmark JSON (--benchmark-json or a saved run)")
    parser.add_argument("png", help="where to write the figure")
    parser.add_argument("--work", default="epoch of 200",
                        help="the work timed, as the groups name it (default: %(default)s)")
    parser.add_argument("--shape", default="784-100-10", help="network (default: %(default)s)")
    parser.add_argument("--activation", default="sigmoid", help="(default: %(default)s)")
    args = parser.parse_args(argv)
    found = rates(args.json, args.work, args.shape, args.activation)
    if not found:
        sys.exit(f"{args.json} has no benchmark of group '{args.work} {args.shape} "
                 f"{args.activation} batch N'; run the pytest command in this script's docstring")
    plot(found, args.png, f"{args.work}, {args.shape} {args.activation}, float64, momentum 0.9")
    print(f"{args.png}: {', '.join(sorted(found))}")


if __name__ == "__main__":
    main()
