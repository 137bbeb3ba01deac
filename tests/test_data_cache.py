"""Tests for neuronet.data's cache: a file changed or cut short after it was fetched is an
error that names it, and orphaned temporary files of an interrupted fetch are removed.

Every file here is made by the test (``data_files``).
"""
import os
import time

import pytest
from data_files import (
    STANDARD,
    check_loaded,
    idx_bytes,
    leftovers,
    make_arrays,
    make_dataset,
    md5,
    publish_md5,
    write,
)

from neuronet import data
from neuronet.data import DataError

pytestmark = pytest.mark.usefixtures("isolated_data_env")


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "raw"])
def test_a_changed_cache_file_is_an_error(tmp_path, monkeypatch, gz):
    arrays = make_arrays(seed=26)
    raw_md5 = publish_md5(monkeypatch, "mnist", arrays)
    cache = tmp_path / "cache"
    make_dataset(cache / "mnist", arrays, gz=gz)  # as a fetch leaves it
    check_loaded(data.load_mnist(cache_dir=cache, download=False), arrays)
    changed = arrays["train_labels"].copy()
    changed[0] = (changed[0] + 1) % 10  # still a valid label: only the md5 can tell
    name = STANDARD["train_labels"] + (".gz" if gz else "")
    write(cache / "mnist" / name, idx_bytes(changed), gz)
    with pytest.raises(DataError) as caught:
        data.load_mnist(cache_dir=cache, download=False)
    message = str(caught.value)
    assert f"{cache / 'mnist' / name}: this file in the cache changed after it was fetched" \
        in message
    assert f"should be {raw_md5['train_labels']}, found {md5(idx_bytes(changed))}" in message
    assert "Delete it" in message
    # The test split does not include the changed file, so it still loads.
    X, _ = data.load_mnist(cache_dir=cache, split="test", download=False)
    assert len(X) == len(arrays["test_images"])


def test_an_unreadable_cache_file_is_an_error(tmp_path, monkeypatch):
    arrays = make_arrays(seed=27)
    publish_md5(monkeypatch, "mnist", arrays)
    cache = tmp_path / "cache"
    make_dataset(cache / "mnist", arrays)
    path = cache / "mnist" / (STANDARD["test_images"] + ".gz")
    path.write_bytes(path.read_bytes()[:100])  # a gzip stream cut short
    with pytest.raises(DataError, match=f"{path}: this file in the cache changed.*found none: "
                                        "the file cannot be read"):
        data.load_mnist(cache_dir=cache, download=False)


def test_orphan_temporary_files_are_removed(tmp_path, monkeypatch):
    arrays = make_arrays(seed=28)
    publish_md5(monkeypatch, "mnist", arrays)
    cache = make_dataset(tmp_path / "cache" / "mnist", arrays)
    old = cache / ".train-images-idx3-ubyte.gz.k2j4h5.part"  # as _atomic_file names them
    young = cache / ".t10k-images-idx3-ubyte.gz.x8a1b0.part"
    old.write_bytes(b"half a download")
    young.write_bytes(b"a download in progress")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    data.locate("mnist", cache_dir=tmp_path / "cache", download=False)
    assert leftovers(cache) == [young.name]

