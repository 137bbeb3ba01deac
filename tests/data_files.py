"""Helpers that make the data tests' files: IDX bytes, datasets of random images written in a
folder under MNIST's file names, and the md5s the data module checks them against.

Shared by test_data.py (reading and loading), test_data_cache.py (the cache's checks) and
test_data_sources.py (fetching); imported as ``from data_files import ...``, like helpers.py.
"""
import dataclasses
import gzip
import hashlib
from pathlib import Path

import numpy as np

from neuronet import data

STANDARD = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

DOTTED = {
    "train_images": "train-images.idx3-ubyte",
    "train_labels": "train-labels.idx1-ubyte",
    "test_images": "t10k-images.idx3-ubyte",
    "test_labels": "t10k-labels.idx1-ubyte",
}


# --- helpers that make IDX files --------------------------------------------------------

def idx_bytes(array, magic=None):
    """Encode a uint8 array as IDX: magic 0x0000 08 ndim, big-endian int32 dims, payload."""
    array = np.asarray(array, dtype=np.uint8)
    magic = 0x0800 | array.ndim if magic is None else magic
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


def write(path, content, gz):
    Path(path).write_bytes(gzip.compress(content) if gz else content)
    return Path(path)


def make_arrays(seed, n_train=6, n_test=4, side=28):
    rng = np.random.default_rng(seed)
    return {
        "train_images": rng.integers(0, 256, (n_train, side, side), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, side, side), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def make_dataset(folder, arrays, *, gz=True, names=STANDARD):
    folder.mkdir(parents=True, exist_ok=True)
    for role, array in arrays.items():
        write(folder / (names[role] + (".gz" if gz else "")), idx_bytes(array), gz)
    return folder


def check_loaded(loaded, arrays):
    (X_train, y_train), (X_test, y_test) = loaded
    for X, y, split in ((X_train, y_train, "train"), (X_test, y_test, "test")):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        assert X.dtype == np.float64 and y.dtype == np.int64
        assert X.shape == (len(images), images.shape[1] * images.shape[2])
        assert 0.0 <= X.min() and X.max() <= 1.0
        np.testing.assert_array_equal(X * 255.0, images.reshape(len(images), -1))
        np.testing.assert_array_equal(y, labels)


def md5(content):
    return hashlib.md5(content).hexdigest()


def publish_md5(monkeypatch, name, arrays):
    """Make `arrays` the published files of dataset `name`, as the check of the cache sees them;
    return the md5 of each uncompressed file."""
    raw = {role: md5(idx_bytes(a)) for role, a in arrays.items()}
    monkeypatch.setitem(data.DATASETS, name,
                        dataclasses.replace(data.DATASETS[name], md5_raw=raw))
    return raw


def leftovers(folder):
    """Temp files a failed fetch might leave behind."""
    return sorted(p.name for p in Path(folder).rglob("*") if p.name.startswith("."))
