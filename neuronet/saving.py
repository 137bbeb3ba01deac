"""Save a network to ``.npz`` and load it back, without pickle.

The file holds plain arrays only: ``sizes``, ``output``, ``cost`` and ``weights_0``,
``biases_0``, ``weights_1``, ... Loading trusts nothing: it refuses unknown or missing names,
wrong shapes and wrong dtypes, with a message naming the file and the entry. Saving writes a
temporary file beside the target and renames it into place, so a crash never leaves half a file.
"""
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .activations import COSTS, OUTPUTS
from .network import Network


def save(net, path):
    """Write ``net``'s shape, output, cost and parameters to ``path`` (an .npz file)."""
    weights, biases = net.parameters()
    arrays = {"sizes": np.array(net.sizes, dtype=np.int64), "output": np.array(net.output),
              "cost": np.array(net.cost)}
    for layer, (w, b) in enumerate(zip(weights, biases)):
        arrays[f"weights_{layer}"], arrays[f"biases_{layer}"] = w, b
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load(path, *, backend="loops"):
    """Read a network written by ``save``; every entry is checked before it is used."""
    path = Path(path)

    def bad(what):
        return ValueError(f"{path} is not a neuronet network file: {what}. Write it with "
                          "neuronet.save(net, path) (or `neuronet train --save`)")

    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such network file; train one with `neuronet train "
                                "--save FILE`") from None
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as error:
        raise bad(f"cannot read it as .npz ({error})") from None
    sizes = arrays.get("sizes")
    if sizes is None or sizes.ndim != 1 or len(sizes) < 2 or sizes.dtype.kind not in "iu" \
            or (sizes < 1).any():
        raise bad(f"'sizes' must be at least two integers >= 1, found {sizes!r}")
    sizes = tuple(int(n) for n in sizes)
    expected = {"sizes", "output", "cost"}
    expected |= {f"{kind}_{layer}" for kind in ("weights", "biases") for layer in range(len(sizes) - 1)}
    if set(arrays) != expected:
        raise bad(f"expected entries {sorted(expected)}, found {sorted(arrays)}")
    names = {}
    for name, allowed in (("output", OUTPUTS), ("cost", tuple(COSTS))):
        value = arrays[name]
        if value.dtype.kind != "U" or value.ndim != 0 or str(value) not in allowed:
            raise bad(f"'{name}' must be one of {allowed}, found {value!r}")
        names[name] = str(value)
    dtype = arrays["weights_0"].dtype
    if dtype not in (np.float64, np.float32):
        raise bad(f"'weights_0' must be float64 or float32, found {dtype}")
    net = Network(sizes, backend=backend, dtype=dtype, **names)
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        for kind, shape, params in (("weights", (n_out, n_in), net.weights),
                                    ("biases", (n_out,), net.biases)):
            array = arrays[f"{kind}_{layer}"]
            if array.shape != shape or array.dtype != dtype:
                raise bad(f"'{kind}_{layer}' must be {dtype} of shape {shape}, found "
                          f"{array.dtype} of shape {array.shape}")
            if not np.isfinite(array).all():
                raise bad(f"'{kind}_{layer}' holds NaN or infinity")
            params[layer] = np.ascontiguousarray(array)
    return net
