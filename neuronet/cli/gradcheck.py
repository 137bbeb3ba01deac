"""``neuronet gradcheck``: each backend's backpropagation against numerical derivatives, a table
row a layer, and exit code 1 if any layer fails."""
import sys

import numpy as np
from tqdm import tqdm

from ..backends import BACKENDS
from ..compare import short
from ..gradcheck import gradcheck
from ..saving import load
from ..train import one_hot
from .shared import TITLES, build_network, dashes, load_data, say

GRADCHECK_OK = 1e-7  # largest relative error gradcheck passes; its five-point slope reaches ~1e-12
PYTHON_MAX_WEIGHTS = 10_000  # above this the uncompiled loops take minutes to gradcheck


def run_gradcheck(args):
    """Check each backend's backpropagation against five-point central differences, one
    parameter at a time, on a batch of test images (or random data with --random); a layer
    passes when its largest relative error is at most 1e-7. Exit code 1 if any layer fails."""
    net = load(args.load) if args.load else build_network(args, "loops")
    sizes = net.sizes
    if args.random:
        rng = np.random.default_rng(args.seed)
        x = rng.random((args.samples, sizes[0]))
        y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], args.samples)]
        source = f"{args.samples} random inputs"
    else:
        _, (x_test, y_test), _ = load_data(args, sizes, network=args.load)
        x, y = x_test[:args.samples], one_hot(y_test[:args.samples], sizes[-1])
        source = f"the first {len(x)} {TITLES[args.dataset]} test images"
    weights = sum(w.size for w in net.weights)
    print(f"neuronet gradcheck: {dashes(sizes)} {net.activation} {net.output}/{net.cost}"
          f"{' from ' + str(args.load) if args.load else ''} on {source}; "
          f"pass at relative error <= {short(GRADCHECK_OK)}")
    print("backend      layer  weights  biases  max error w  max error b  result")
    failed = False
    backends = args.backend or tuple(BACKENDS)
    for backend in tqdm(backends, desc="gradcheck", unit="backend", leave=False, disable=None,
                        file=sys.stderr):
        if backend == "python" and weights > PYTHON_MAX_WEIGHTS:
            say(f"{backend:<11}  skipped: {weights:,} weights is more than "
                f"{PYTHON_MAX_WEIGHTS:,}, too slow uncompiled; use a smaller --shape to check it")
            continue
        net.backend = backend
        for check in gradcheck(net, x, y):
            ok = check.max_error <= GRADCHECK_OK
            failed |= not ok
            say(f"{backend:<11}  {check.layer:>5}  {check.checked_w:>7,}  {check.checked_b:>6,}"
                f"  {check.max_error_w:>11.1e}  {check.max_error_b:>11.1e}  "
                f"{'PASS' if ok else 'FAIL'}")
            if check.kinks:
                say(f"{'':<11}  {check.layer:>5}  {check.kinks:,} of them left out: a nudge moved "
                    "a ReLU's z across its kink at 0")
    print("gradcheck: " + ("FAIL" if failed else "PASS"))
    return 1 if failed else 0
