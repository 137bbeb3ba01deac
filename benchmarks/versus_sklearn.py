"""NeuronetClassifier beside scikit-learn's MLPClassifier on real MNIST, with the same settings:
seconds to fit and test accuracy, per seed.

    NEURONET_DATA=../shared/data python benchmarks/versus_sklearn.py
    python benchmarks/versus_sklearn.py --epochs 5 --seeds 0 --solver sgd --activation tanh

Both get the same parameters (MLPClassifier's names, defaults but for ``max_iter``) and the same
pixels in [0, 1]; neuronet's kernels are compiled before the clock starts; each fit is timed alone, one after the other, with BLAS held to one thread
for both (MLPClassifier's products are numpy's, and on this project's two shared cores a second
BLAS thread made every product slower; pass --threads 2 to give both two). Differences
to keep in mind: MLPClassifier draws Glorot-uniform weights and neuronet its own (He for ReLU),
and NeuronetClassifier scores the whole training set after each epoch for ``loss_curve_`` (a
forward pass over 60,000 images an epoch, included in its time) where MLPClassifier sums the
batches' losses as it trains.
"""
import argparse
import os
import time
import warnings

from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

from neuronet import load_mnist
from neuronet.sklearn import NeuronetClassifier


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=20, help="max_iter (default: 20)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--hidden", type=int, nargs="+", default=[100])
    parser.add_argument("--activation", default="relu")
    parser.add_argument("--solver", default="adam")
    parser.add_argument("--backend", default="loops", help="NeuronetClassifier's backend")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default: 1)")
    args = parser.parse_args()
    (x, y), (x_test, y_test) = load_mnist(os.environ.get("NEURONET_DATA"), progress=False)
    settings = {"hidden_layer_sizes": tuple(args.hidden), "activation": args.activation,
                    "solver": args.solver, "max_iter": args.epochs}
    print(f"MNIST, 60,000 train / 10,000 test; {settings}; load {os.getloadavg()[0]:.1f}")
    print("seed  estimator               epochs  fit seconds  test accuracy")
    with threadpool_limits(args.threads), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for seed in args.seeds:
            # numba compiles neuronet's kernels on first use; do it before the clock starts
            NeuronetClassifier(**dict(settings, max_iter=1), backend=args.backend).fit(x[:500],
                                                                                     y[:500])
            for name, model in (
                    ("NeuronetClassifier", NeuronetClassifier(**settings, random_state=seed,
                                                              backend=args.backend)),
                    ("MLPClassifier", MLPClassifier(**settings, random_state=seed))):
                start = time.perf_counter()
                model.fit(x, y)
                seconds = time.perf_counter() - start
                accuracy = model.score(x_test, y_test)
                print(f"{seed:>4}  {name:<22}  {model.n_iter_:>6}  {seconds:>11.1f}  "
                      f"{100 * accuracy:>12.2f} %", flush=True)


if __name__ == "__main__":
    main()
