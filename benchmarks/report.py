"""Samples per second of each implementation, side by side, against this machine's limit.

    python benchmarks/report.py [--quick] [--plot FILE.png] [--repeats N]

For each network and batch size it trains every implementation (see ``implementations.py``) in
turn, round after round, and keeps each one's best round: on a machine shared with other work
the best round is the one least disturbed. It prints a markdown table of samples per second,
the ratio to the best numpy of the run (the twin, or numpy-textbook on one or two BLAS threads)
and to the best PyTorch (autograd or manual, one or two threads), and the fraction of the
one-thread compute bound: numpy's float64 matrix-multiply GFLOP/s on one thread (measured here,
in a subprocess with OPENBLAS_NUM_THREADS=1 and the environment otherwise as it is) divided by
the FLOPs per sample of the network (``implementations.flops_per_sample``). Every
implementation's epoch is also checked against the vectorized one (column "max diff").
Then: the README table (784-100-10; the twin and numpy-textbook each on the faster of one and two
BLAS threads), plain SGD (momentum 0, no L2: the twin against numpy-textbook), this machine's streaming bandwidth from L2, L3 and DRAM (measured as GEMM is)
and batch 1 against the lower of the compute and bandwidth bounds, scikit-learn's
MLPClassifier (when installed), float32 against float64, and the first call of a fresh process
once numba's cache is warm.

The tables are in ``report_tables``, how each rate is measured in ``report_rates``, this
machine's limits in ``report_machine``; this module runs them in order.
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from implementations import BATCHES, SHAPES
from report_machine import bandwidth, cache_sizes, cold_start, environment, gemm_gflops
from report_tables import (
    batch_one_plain,
    float32_table,
    limits,
    network_table,
    plain_sgd,
    readme_table,
    scikit_learn,
    targets,
    train_against_step,
)


def plot(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"\nNo plot: matplotlib is not installed (pip install matplotlib); {path} not written")
        return
    fig, axes = plt.subplots(1, len(BATCHES), figsize=(5 * len(BATCHES), 4), sharey=True)
    everyone = sorted({row["name"] for row in rows})
    colour = {name: f"C{i}" for i, name in enumerate(everyone)}
    for ax, batch in zip(axes, BATCHES):
        names = sorted({row["name"] for row in rows if row["batch"] == batch})
        for name in names:
            points = sorted((SHAPES[row["shape"]][1], row["rate"]) for row in rows
                            if row["batch"] == batch and row["name"] == name)
            ax.plot(*zip(*points), marker="o", label=name, color=colour[name])
        hidden = [shape[1] for shape in SHAPES.values()]
        ax.set(xscale="log", yscale="log", title=f"batch {batch}", xlabel="hidden neurons H",
               xticks=hidden, xticklabels=[str(h) for h in hidden])
        ax.minorticks_off()
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("samples / s (784-H-10, float64)")
    handles = {label: line for ax in axes for line, label in zip(*ax.get_legend_handles_labels())}
    fig.legend(handles.values(), handles.keys(), loc="center right", fontsize=8)
    fig.subplots_adjust(right=0.85)
    fig.savefig(path, dpi=120)
    print(f"\nPlot written to {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer and shorter rounds")
    parser.add_argument("--plot", default="benchmarks/speed.png", help="where to write the plot")
    parser.add_argument("--repeats", type=int, default=None, help="rounds per implementation")
    args = parser.parse_args(argv)
    # Many short rounds: on a shared machine a 10 ms round often runs undisturbed, a long one not.
    repeats = args.repeats or (5 if args.quick else 30)
    seconds = 0.005 if args.quick else 0.01

    print("## neuronet speed report\n")
    print(f"`python benchmarks/report.py {' '.join(argv if argv is not None else sys.argv[1:])}`"
          f", {time.strftime('%Y-%m-%d %H:%M')}\n")
    for line in environment():
        print(f"- {line}")
    gflops = gemm_gflops(20 if args.quick else 100)
    print(f"- numpy float64 GEMM, one BLAS thread (512 x 512, best round): {gflops:.1f} GFLOP/s\n")

    rows = network_table(repeats, seconds, gflops)
    readme_table(rows)
    plain = plain_sgd(repeats, seconds)
    first_plain = batch_one_plain(repeats, seconds)
    fractions = limits(rows, first_plain, gflops, bandwidth(10 if args.quick else 40,
                                                           cache_sizes()))
    scikit_learn(2 if args.quick else 5)
    float32 = float32_table(repeats, seconds)
    api = train_against_step(repeats)
    imported, first, second = cold_start(2 if args.quick else 3)
    print(f"\n### numba's on-disk cache\n\nA fresh process, cache warm: `import neuronet` "
          f"{imported:.2f} s, first `net.step` (784-100-10, one sample) {first:.3f} s, "
          f"second {second * 1e3:.2f} ms.")
    targets(rows, float32, first, plain, fractions, first_plain, api)
    plot(rows, args.plot)


if __name__ == "__main__":
    main()
