"""Save a network to ``.npz`` and load it back, without pickle: its parameters and the update
rule's state, so training continues after ``load`` exactly as if it had never stopped.

The file holds plain arrays only: ``format`` (2; files without it are format 1, parameters
only), ``sizes``, ``activation``, ``output``, ``cost``, ``dtype``, ``weights_0``, ``biases_0``,
``weights_1``, ... and the optimizer's state: ``velocity_w_0``, ``velocity_b_0``, ... (momentum's
velocities, Adam's first moments), ``squares_w_0``, ``squares_b_0``, ... (Adam's second moments),
``adam_steps`` (Adam's step count) and ``rule_settings`` (the settings of the last step:
``Network.rule_settings``). A group of state arrays that is all zero is left out, and what is left
out loads as zero, so a file written before there was state loads as a network whose state is
zero (and files saved before there was a choice of activation have no ``activation``: their
hidden layers are sigmoid). Entries named ``fit_...`` belong to a checkpoint of ``fit``
(``neuronet.checkpoint``); ``load`` skips them unread, so a checkpoint loads as a network.

Loading trusts nothing: before it decompresses an entry it checks the entry's name, and its
shape and dtype from the entry's ``.npy`` header, against the network that ``sizes`` declares,
whose size is capped (``MAX_PARAMETERS``); so a small file cannot make it allocate gigabytes.
Every refusal names the file and the entry.

Saving refuses parameters and state that are not finite and targets that are not regular files,
and writes a temporary file beside the target, flushes it to disk and renames it into place, so
a crash or a kill at any moment leaves the old file or the new one, never half a file.
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
from .checks import refuse_non_finite
from .network import ADAM_STATE, DTYPES, Network
from .rules import ADAM, NESTEROV, SGD, Settings

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


FORMAT = 2  # what save writes; format 1 (no "format" entry) holds the parameters only
STATE = ADAM_STATE[2:]  # the update rule's per-layer arrays: velocities, Adam's squares
SETTINGS = 7  # rule_settings: eta, mu, l2, solver code, beta_1, beta_2, epsilon
TRAINING = "fit_"  # the prefix of a checkpoint's own entries (neuronet.checkpoint)


def state_groups(net):
    """``net``'s weights, biases and the update rule's per-layer state (``STATE``), checked as
    the kernels take them: each kind's list of arrays, by kind."""
    weights, biases = net.parameters()
    return {"weights": weights, "biases": biases,
            **{kind: net.checked_state(kind) for kind in STATE}}


def network_arrays(net):
    """The arrays ``save`` writes for ``net``, by entry name; refuses what is not finite."""
    arrays = {"format": np.array(FORMAT, dtype=np.int64),
              "sizes": np.array(net.sizes, dtype=np.int64),
              "activation": np.array(net.activation), "output": np.array(net.output),
              "cost": np.array(net.cost), "dtype": np.array(net.dtype.name)}
    groups = state_groups(net)
    refuse_non_finite(groups, "it cannot be saved (did training diverge?)")
    for kind, group in groups.items():
        if kind in ("weights", "biases") or any(array.any() for array in group):
            arrays.update((f"{kind}_{layer}", array) for layer, array in enumerate(group))
    steps = net.checked_state("adam_steps")
    if steps[0]:
        arrays["adam_steps"] = steps
    if net.rule_settings is not None:
        arrays["rule_settings"] = np.array(net.rule_settings[:SETTINGS], dtype=np.float64)
    return arrays


def save(net: Network, path: "str | os.PathLike[str]") -> None:
    """Write ``net`` to ``path`` (an .npz file): its shape, activation, output, cost, dtype,
    parameters and the update rule's state, so that training continues after ``load`` with the
    same numbers as if it had never stopped.

    Parameters
    ----------
    net : Network
        The network. Its velocities (momentum; Adam's first moments), Adam's second moments
        and step count, and the settings of its last step (``net.rule_settings``) are saved
        beside its weights and biases; a group of them that is all zero is left out.
    path : str or os.PathLike
        The file to write. A symlink is followed: its target is replaced, the link kept. A file
        replaced keeps its permissions; a new one gets rw-rw-rw- less the umask.

    Raises
    ------
    ValueError
        If a parameter or state array holds NaN or infinity (``load`` would refuse the file),
        or ``path`` exists and is not a regular file (a folder, /dev/null, a FIFO).
    OSError
        If the folder cannot be written in.

    Notes
    -----
    The file is written to a temporary file beside ``path``, flushed to disk and renamed into
    place, so a crash or kill at any moment leaves the old file or the new one whole. A kill
    can leave the temporary file, ``.NAME.XXXXXXXX.tmp``, beside it.

    Examples
    --------
    >>> net = Network((784, 30, 10), seed=0)
    >>> net.step(x, y, 0.1, momentum=0.9)
    >>> save(net, "net.npz")
    >>> again = load("net.npz")     # the same parameters, velocities and settings
    >>> again.step(x, y, 0.1, momentum=0.9)   # as net.step would: the same bits
    """
    write_arrays(path, network_arrays(net))


def write_arrays(path, arrays):
    """Write ``arrays`` (name: array) as an .npz to ``path`` atomically: to a temporary file
    beside it, flushed to disk, then renamed into place (``check_target`` for what is refused).
    """
    target = check_target(path)
    mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o666 & ~_umask()
    fd, tmp = _temporary(path, target)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())  # the data on disk before the name points at it
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as error:
        os.unlink(tmp)
        if isinstance(error, OSError):
            raise OSError(f"cannot save to {path}: {error.strerror or error}") from None
        raise


def load(path: "str | os.PathLike[str]", *, backend: str = "loops",
         max_parameters: int = MAX_PARAMETERS) -> Network:
    """Read a network written by ``save`` (or a checkpoint of ``fit``), with its rule's state.

    Parameters
    ----------
    path : str or os.PathLike
        The .npz file. Files of format 1 (parameters only) load with the state zero, as a new
        network has it.
    backend : str
        The backend of the network returned (``neuronet.BACKENDS``).
    max_parameters : int
        A network of more weights and biases than this is refused before anything is read.

    Returns
    -------
    Network
        The network, with its velocities, Adam's moments and step count, and
        ``rule_settings`` as saved.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    NotANetwork
        (a ValueError) If the file is not one ``save`` writes: every entry's name, shape and
        dtype is checked from its header before its data is read, and its values must be
        finite (Adam's second moments >= 0). The message names the file and the entry.
    """
    return read_file(path, backend=backend, max_parameters=max_parameters)[0]


def read_file(path, *, backend="loops", max_parameters=MAX_PARAMETERS, extras=None):
    """(network, {name: array}) from ``path``: the network as ``load`` reads it, and the
    entries named in ``extras`` (name: (fits(shape, dtype), what it must be)) that the file
    holds, each checked from its header by its ``fits``; other ``fit_`` entries are skipped."""
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
            net = _load(archive, backend, max_parameters, bad)
            found = {}
            for name, (fits, wanted) in (extras or {}).items():
                if name + ".npy" in archive.namelist():
                    found[name] = _read(archive, name, bad, fits, wanted)
            return net, found
        except NotANetwork:
            raise
        except READ_ERRORS as error:
            raise bad(f"cannot read it as .npz ({error})") from None


def _name(archive, name, bad, allowed):
    """Entry ``name``, a short text, as a str that must be one of ``allowed``."""
    value = str(_read(archive, name, bad, lambda shape, dtype: dtype.kind == "U"
                      and shape == () and dtype.itemsize <= 4 * MAX_NAME, "a name"))
    if value not in allowed:
        raise bad(f"'{name}' must be one of {allowed}, found {value!r}")
    return value


def _load(archive, backend, max_parameters, bad):
    names = archive.namelist()
    entries = sorted(name[:-len(".npy")] for name in names)
    if len(set(names)) != len(names) or not all(name.endswith(".npy") for name in names):
        raise bad(f"its entries must be distinct .npy arrays, found {sorted(names)}")
    if "format" in entries:
        version = _read(archive, "format", bad, lambda shape, dtype: dtype.kind in "iu"
                        and shape == (), "an integer")
        if version > FORMAT:
            raise bad(f"it is of format {int(version)}, written by a newer neuronet, and this "
                      f"one reads formats 1 to {FORMAT}; upgrade neuronet to load it")
        if version < 1:
            raise bad(f"'format' must be 1 to {FORMAT}, found {int(version)}")
    if "sizes" not in entries:
        raise bad(f"it has no 'sizes' entry, found {entries}")
    # Each layer after the inputs has two entries, so the entries bound how many sizes to read.
    sizes = _read(archive, "sizes", bad, lambda shape, dtype: dtype.kind in "iu"
                  and len(shape) == 1 and 2 <= shape[0] <= len(entries), "at least two integers")
    if (sizes < 1).any():
        raise bad(f"'sizes' must be at least two integers >= 1, found {sizes!r}")
    sizes = tuple(int(n) for n in sizes)
    layers = range(len(sizes) - 1)
    expected = {"sizes", "output", "cost"}
    expected |= {f"{kind}_{layer}" for kind in ("weights", "biases") for layer in layers}
    state = {f"{kind}_{layer}" for kind in STATE for layer in layers}
    optional = {"activation", "format", "dtype", "adam_steps", "rule_settings"} | state
    own = {name for name in entries if not name.startswith(TRAINING)}
    if not expected <= own <= expected | optional:
        raise bad(f"expected entries {sorted(expected)}, and of {sorted(optional)} any, found "
                  f"{entries}")
    count = sum(n_out * (n_in + 1) for n_in, n_out in itertools.pairwise(sizes))
    if count > max_parameters:
        raise bad(f"'sizes' declares a {'-'.join(map(str, sizes))} network of {count:,} weights "
                  f"and biases, more than max_parameters={max_parameters:,}; if you trust the "
                  "file, load it with a larger max_parameters")
    names = {name: _name(archive, name, bad, allowed) for name, allowed in (
        ("activation", tuple(ACTIVATIONS)), ("output", OUTPUTS), ("cost", tuple(COSTS)))
        if name in entries}
    dtype = _header(archive, "weights_0", bad)[2]
    if dtype not in (np.float64, np.float32):
        raise bad(f"'weights_0' must be float64 or float32, found {dtype}")
    named = _name(archive, "dtype", bad, DTYPES) if "dtype" in entries else dtype.name
    if named != dtype.name:
        raise bad(f"'dtype' says {named} but 'weights_0' is {dtype}")
    arrays = {}
    for kind in ("weights", "biases", *STATE):
        present = [f"{kind}_{layer}" in entries for layer in layers]
        if any(present) and not all(present):
            raise bad(f"it has {kind} entries for some layers but not all: "
                      f"{[f'{kind}_{layer}' for layer in layers if present[layer]]}")
        for layer, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            if not present[layer]:
                continue
            name = f"{kind}_{layer}"
            shape = (n_out,) if kind in ("biases", "velocity_b", "squares_b") else (n_out, n_in)
            array = _read(archive, name, bad, lambda s, d, shape=shape: s == shape
                          and d == dtype, f"{dtype} of shape {shape}")
            if not np.isfinite(array).all():
                raise bad(f"'{name}' holds NaN or infinity")
            if kind.startswith("squares") and (array < 0).any():
                raise bad(f"'{name}' holds negative numbers, which Adam's running averages of "
                          "squares cannot be")
            arrays[kind, layer] = array
    net = Network(sizes, backend=backend, dtype=dtype, **names)
    for (kind, layer), array in arrays.items():
        getattr(net, kind)[layer][...] = array  # into the network's own aligned arrays
    if "adam_steps" in entries:
        net.adam_steps[...] = _read(archive, "adam_steps", bad, lambda shape, dtype:
                                    dtype == np.int64 and shape == (1,), "int64 of shape (1,)")
        if net.adam_steps[0] < 0:
            raise bad(f"'adam_steps' must be >= 0, found {net.adam_steps[0]}")
    if "rule_settings" in entries:
        values = _read(archive, "rule_settings", bad, lambda shape, dtype: dtype == np.float64
                       and shape == (SETTINGS,), f"float64 of shape ({SETTINGS},)")
        if not np.isfinite(values).all() or values[3] not in (SGD, NESTEROV, ADAM):
            raise bad(f"'rule_settings' must be finite numbers with a solver code of {SGD}, "
                      f"{NESTEROV} or {ADAM} fourth, found {values.tolist()}")
        eta, mu, l2, solver, beta_1, beta_2, epsilon = values.tolist()
        net.rule_settings = Settings(eta, mu, l2, int(solver), beta_1, beta_2, epsilon, eta)
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
