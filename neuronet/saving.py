"""Save a network to ``.npz`` and load it back, without pickle.

The file holds plain arrays only: ``sizes``, ``activation``, ``output``, ``cost`` and
``weights_0``, ``biases_0``, ``weights_1``, ... (files saved before there was a choice of
activation have no ``activation``: their hidden layers are sigmoid). Loading trusts nothing: before it decompresses an entry it
checks the entry's name, and its shape and dtype from the entry's ``.npy`` header, against the
network that ``sizes`` declares, whose size is capped (``MAX_PARAMETERS``); so a small file
cannot make it allocate gigabytes. Every refusal names the file and the entry.

Saving refuses parameters that are not finite and targets that are not regular files, and
writes a temporary file beside the target and renames it into place, so a crash never leaves
half a file.
"""
import itertools
import os
import stat
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
from numpy.lib import format as npy

from .activations import ACTIVATIONS, COSTS, OUTPUTS
from .network import Network

# 400 MB as float64, 80 times the 784-800-10 network (636,010); load(max_parameters=) for more.
MAX_PARAMETERS = 50_000_000
MAX_NAME = 64  # characters in the name entries (activation, output, cost); the longest is 13
# What a damaged or hostile zip raises while it is read: bad headers, CRCs, deflate streams,
# compression methods zipfile lacks (NotImplementedError), encryption (RuntimeError).
READ_ERRORS = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error,
               NotImplementedError, RuntimeError)


def check_target(path):
    """The file that ``save(net, path)`` would write, checked without writing it.

    A symlink is followed to its target. Refuses a target that exists and is not a regular file
    (a folder, /dev/null, a FIFO) and a folder that cannot be written in (by trying to create a
    temporary file there). Call it before a long computation whose result is to be saved.
    """
    path = Path(path)
    try:
        target = path.resolve()
    except (OSError, RuntimeError) as error:  # a loop of symlinks
        raise ValueError(f"cannot save to {path}: {error}") from None
    if target.exists() and not target.is_file():
        kind = "a folder" if target.is_dir() else "not a regular file (a device, FIFO or socket)"
        name = str(path) if target == path.absolute() else f"{path} (a link to {target})"
        raise ValueError(f"cannot save to {name}: it is {kind}; name a new or regular file, such "
                         "as net.npz")
    if not target.parent.is_dir():
        raise ValueError(f"cannot save to {path}: folder {target.parent} does not exist")
    fd, tmp = _temporary(path, target)
    os.close(fd)
    os.unlink(tmp)
    return target


def _temporary(path, target):
    """(fd, name) of a new file beside ``target``; failing, an error about ``path``."""
    try:
        return tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as error:
        raise OSError(f"cannot save to {path}: cannot create a file in {target.parent} "
                      f"({error.strerror}); choose a folder you can write to") from None


def _umask():
    """The process's umask: os.umask reads it only by setting it, so it is set back at once."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class NotANetwork(ValueError):
    """A file that ``load`` refuses; the message names the file and what is wrong."""


def save(net, path):
    """Write ``net``'s shape, activation, output, cost and parameters to ``path`` (an .npz file).

    Refuses parameters that are NaN or infinite (``load`` would refuse the file). A symlink is
    followed: its target is replaced, the link kept. A path that exists and is not a regular
    file (a folder, /dev/null, a FIFO) is refused. A file replaced keeps its permissions; a new
    one gets rw-rw-rw- less the umask, like any file a program creates.
    """
    weights, biases = net.parameters()
    for kind, arrays in (("weights", weights), ("biases", biases)):
        for layer, array in enumerate(arrays):
            if not np.isfinite(array).all():
                raise ValueError(f"cannot save to {path}: net.{kind}[{layer}] holds NaN or "
                                 "infinity (did training diverge?); train the network again")
    target = check_target(path)
    arrays = {"sizes": np.array(net.sizes, dtype=np.int64),
              "activation": np.array(net.activation), "output": np.array(net.output),
              "cost": np.array(net.cost)}
    for layer, (w, b) in enumerate(zip(weights, biases)):
        arrays[f"weights_{layer}"], arrays[f"biases_{layer}"] = w, b
    mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o666 & ~_umask()
    fd, tmp = _temporary(path, target)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as error:
        os.unlink(tmp)
        if isinstance(error, OSError):
            raise OSError(f"cannot save to {path}: {error.strerror or error}") from None
        raise


def load(path, *, backend="loops", max_parameters=MAX_PARAMETERS):
    """Read a network written by ``save``; every entry is checked before it is used.

    The names, shapes and dtypes are checked from the headers before any data is read, and a
    network of more than ``max_parameters`` weights and biases is refused.
    """
    path = Path(path)

    def bad(what):
        return NotANetwork(f"{path} is not a neuronet network file: {what}. Write it with "
                          "neuronet.save(net, path) (or `neuronet train --save`)")

    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such network file; train one with `neuronet train "
                                "--save FILE`") from None
    except READ_ERRORS as error:
        if path.is_file() and path.open("rb").read(6) == b"\x93NUMPY":
            raise bad("it is one .npy array; to classify its rows, give it as --input to "
                      "`neuronet predict NETWORK.npz`") from None
        raise bad(f"cannot read it as .npz ({error})") from None
    with archive:
        try:
            return _load(archive, backend, max_parameters, bad)
        except NotANetwork:
            raise
        except READ_ERRORS as error:
            raise bad(f"cannot read it as .npz ({error})") from None


def _load(archive, backend, max_parameters, bad):
    names = archive.namelist()
    entries = sorted(name[:-len(".npy")] for name in names)
    if len(set(names)) != len(names) or not all(name.endswith(".npy") for name in names):
        raise bad(f"its entries must be distinct .npy arrays, found {sorted(names)}")
    if "sizes" not in entries:
        raise bad(f"it has no 'sizes' entry, found {entries}")
    # Each layer after the inputs has two entries, so the entries bound how many sizes to read.
    sizes = _read(archive, "sizes", bad, lambda shape, dtype: dtype.kind in "iu"
                  and len(shape) == 1 and 2 <= shape[0] <= len(entries), "at least two integers")
    if (sizes < 1).any():
        raise bad(f"'sizes' must be at least two integers >= 1, found {sizes!r}")
    sizes = tuple(int(n) for n in sizes)
    expected = {"sizes", "output", "cost"}
    expected |= {f"{kind}_{layer}" for kind in ("weights", "biases") for layer in range(len(sizes) - 1)}
    if set(entries) - {"activation"} != expected:  # files from before activations: sigmoid
        raise bad(f"expected entries {sorted(expected | {'activation'})}, found {entries}")
    count = sum(n_out * (n_in + 1) for n_in, n_out in itertools.pairwise(sizes))
    if count > max_parameters:
        raise bad(f"'sizes' declares a {'-'.join(map(str, sizes))} network of {count:,} weights "
                  f"and biases, more than max_parameters={max_parameters:,}; if you trust the "
                  "file, load it with a larger max_parameters")
    names = {}
    for name, allowed in (("activation", tuple(ACTIVATIONS)), ("output", OUTPUTS),
                          ("cost", tuple(COSTS))):
        if name not in entries:
            continue
        value = str(_read(archive, name, bad, lambda shape, dtype: dtype.kind == "U"
                          and shape == () and dtype.itemsize <= 4 * MAX_NAME, "a name"))
        if value not in allowed:
            raise bad(f"'{name}' must be one of {allowed}, found {value!r}")
        names[name] = value
    dtype = _header(archive, "weights_0", bad)[2]
    if dtype not in (np.float64, np.float32):
        raise bad(f"'weights_0' must be float64 or float32, found {dtype}")
    parameters = {}
    for layer, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        for kind, shape in (("weights", (n_out, n_in)), ("biases", (n_out,))):
            array = _read(archive, f"{kind}_{layer}", bad, lambda s, d, shape=shape:
                          s == shape and d == dtype, f"{dtype} of shape {shape}")
            if not np.isfinite(array).all():
                raise bad(f"'{kind}_{layer}' holds NaN or infinity")
            parameters[kind, layer] = array
    net = Network(sizes, backend=backend, dtype=dtype, **names)
    for (kind, layer), array in parameters.items():
        getattr(net, kind)[layer][...] = array  # into the network's own aligned arrays
    return net


def _header(archive, name, bad):
    """(shape, fortran_order, dtype) from entry ``name``'s .npy header, no data read."""
    with archive.open(name + ".npy") as f:
        return _read_header(f, name, bad)


def read_npy_header(f):
    """(shape, fortran_order, dtype) from the .npy header at ``f``'s position, no data read;
    ValueError if it is not a header of a version numpy.save writes (1.0 or 2.0)."""
    version = npy.read_magic(f)
    if version not in ((1, 0), (2, 0)):
        raise ValueError(f".npy version {version} is not one numpy.save writes")
    read = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
    return read(f)


def _read_header(f, name, bad):
    try:
        return read_npy_header(f)
    except ValueError as error:
        raise bad(f"'{name}' is not a .npy array numpy.savez writes ({error})") from None


def _read(archive, name, bad, fits, wanted):
    """Entry ``name`` as an array, once ``fits(shape, dtype)`` has accepted its header."""
    with archive.open(name + ".npy") as f:
        shape, fortran, dtype = _read_header(f, name, bad)
        if dtype.hasobject or not fits(shape, dtype):
            raise bad(f"'{name}' must be {wanted}, found {dtype} of shape {shape}")
        size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        data = f.read(size)
        if len(data) != size:
            raise bad(f"'{name}' holds {len(data):,} bytes of data, but its header declares "
                      f"{dtype} of shape {shape}, {size:,} bytes")
        if f.read(1):  # also makes zipfile check the entry's CRC
            raise bad(f"'{name}' holds more data than its header declares")
    return np.frombuffer(data, dtype).reshape(shape, order="F" if fortran else "C")
