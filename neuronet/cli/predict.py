"""``neuronet predict``: classify test images, or the rows of a .npy file, with a saved network;
and ``read_rows``, which reads that file's header before it allocates anything."""
import math
import os
import sys

import numpy as np

from ..saving import load, read_npy_header
from .shared import LOADERS, TITLES, dashes


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
        raise ValueError(f"the {dashes(net.sizes)} network in {args.network} does not fit "
                         f"{TITLES[args.dataset]}: it needs {x_test.shape[1]} inputs (the "
                         f"pixels) and 10 outputs (the classes); use one trained with --shape "
                         f"{x_test.shape[1]},30,10")
    predicted = net.predict(x_test).argmax(axis=1)
    print(f"neuronet predict: {args.network} ({dashes(net.sizes)}) on {TITLES[args.dataset]} "
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
