"""Tests for neuronet.data: the IDX reader, where files are found, loading and its errors.

Every file here is made by the test (``data_files``). The tests marked `data` read the real
files, found by the `mnist_folder` and `fashion_mnist_folder` fixtures of conftest.py. The cache's
checks are in test_data_cache.py, fetching from each source in test_data_sources.py.
"""
import gzip
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from data_files import DOTTED, STANDARD, check_loaded, idx_bytes, make_arrays, make_dataset, write
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays as np_arrays

from neuronet import Network, data, save
from neuronet.cli import main
from neuronet.data import DataError

pytestmark = pytest.mark.usefixtures("isolated_data_env")


# --- reading IDX ------------------------------------------------------------------------

@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "raw"])
@pytest.mark.parametrize("names", [STANDARD, DOTTED], ids=["standard", "dotted"])
def test_load_round_trip(tmp_path, gz, names):
    arrays = make_arrays(seed=1)
    make_dataset(tmp_path / "d", arrays, gz=gz, names=names)
    check_loaded(data.load_mnist(tmp_path / "d", download=False), arrays)


@settings(max_examples=40, deadline=None)
@given(array=np_arrays(np.uint8, st.lists(st.integers(0, 6), min_size=1, max_size=4)),
       gz=st.booleans())
def test_read_idx_round_trips_any_shape(array, gz):
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder) / "f", idx_bytes(array), gz)
        read = data.read_idx(path)
    assert read.dtype == np.uint8 and read.shape == array.shape
    np.testing.assert_array_equal(read, array)


def test_read_idx_detects_gzip_by_content_not_suffix(tmp_path):
    labels = np.arange(7, dtype=np.uint8)
    gz_without_suffix = write(tmp_path / "labels", idx_bytes(labels), gz=True)
    raw_with_suffix = write(tmp_path / "labels.gz", idx_bytes(labels), gz=False)
    for path in (gz_without_suffix, raw_with_suffix):
        np.testing.assert_array_equal(data.read_idx(path, data.LABELS_MAGIC), labels)


def test_data_dir_with_dataset_subfolders_serves_both(tmp_path, monkeypatch):
    mnist, fashion = make_arrays(seed=2), make_arrays(seed=3, n_train=3, n_test=2)
    make_dataset(tmp_path / "mnist", mnist)
    make_dataset(tmp_path / "fashion-mnist", fashion, gz=False)
    monkeypatch.setenv("NEURONET_DATA", str(tmp_path))
    check_loaded(data.load_mnist(download=False), mnist)
    check_loaded(data.load_fashion_mnist(download=False), fashion)
    # The dataset folder itself works too, and the argument beats the variable.
    monkeypatch.setenv("NEURONET_DATA", str(tmp_path / "mnist"))
    check_loaded(data.load_mnist(download=False), mnist)
    check_loaded(data.load_mnist(tmp_path / "fashion-mnist", download=False), fashion)


def expect_error(path, *fragments, magic=None):
    start = time.perf_counter()
    with pytest.raises(DataError) as caught:
        data.read_idx(path, magic)
    assert time.perf_counter() - start < 2.0
    message = str(caught.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    return message


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "raw"])
def test_wrong_magic(tmp_path, gz):
    path = write(tmp_path / "f", b"\x12\x34" + idx_bytes(np.zeros(3))[2:], gz)
    expect_error(path, "not an IDX file", "expected magic number 0x00000801",
                 "found 0x12340801", magic=data.LABELS_MAGIC)


def test_wrong_data_type_byte(tmp_path):
    path = write(tmp_path / "f", idx_bytes(np.zeros((2, 3, 3)), magic=0x0D03), gz=False)
    expect_error(path, "data type", "0x00000803", "0x00000D03", magic=data.IMAGES_MAGIC)


def test_wrong_number_of_dimensions(tmp_path):
    labels = write(tmp_path / "labels", idx_bytes(np.zeros(5)), gz=True)
    expect_error(labels, "number of dimensions", "0x00000803", "0x00000801 (1 dims)",
                 magic=data.IMAGES_MAGIC)


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "raw"])
def test_truncated_payload(tmp_path, gz):
    content = idx_bytes(np.ones((4, 5, 5)))
    path = write(tmp_path / "f", content[:-7], gz)
    expect_error(path, "payload length", f"expected {4 * 5 * 5} bytes", f"found {4 * 5 * 5 - 7}",
                 magic=data.IMAGES_MAGIC)


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "raw"])
def test_extra_bytes(tmp_path, gz):
    path = write(tmp_path / "f", idx_bytes(np.ones(9)) + b"\0\0", gz)
    message = expect_error(path, "payload length", "expected 9 bytes", magic=data.LABELS_MAGIC)
    assert "found 11" in message or "found more than 9" in message


@pytest.mark.parametrize("cut", [3, 10], ids=["in-magic", "in-dimensions"])
def test_truncated_header(tmp_path, cut):
    path = write(tmp_path / "f", idx_bytes(np.ones((2, 2, 2)))[:cut], gz=False)
    expect_error(path, "ends inside the header", f"found {cut if cut < 4 else cut - 4}")


def test_truncated_gzip_stream(tmp_path):
    compressed = gzip.compress(idx_bytes(np.arange(200, dtype=np.uint8)))
    path = tmp_path / "f.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    expect_error(path, "gzip stream is damaged or cut short", "EOFError")


def test_corrupt_gzip_stream(tmp_path):
    compressed = bytearray(gzip.compress(idx_bytes(np.arange(200, dtype=np.uint8))))
    compressed[12:20] = b"\xff" * 8  # scramble the deflate data after the 10-byte gzip header
    path = tmp_path / "f.gz"
    path.write_bytes(bytes(compressed))
    expect_error(path, "gzip stream is damaged or cut short")


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "raw"])
@pytest.mark.parametrize("dims", [(10**6, 10**6, 28), (10**6, 28, 28)],
                         ids=["over-cap", "under-cap"])
def test_lying_header_needs_no_big_allocation(tmp_path, gz, dims):
    header = (0x0803).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    path = write(tmp_path / "f", header + bytes(100 - len(header)), gz)
    tracemalloc.start()
    try:
        message = expect_error(path, str(dims), magic=data.IMAGES_MAGIC)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20, f"peak allocation {peak} bytes for a 100-byte file"
    assert "implausibly large" in message or "payload length" in message


def test_images_and_labels_count_mismatch(tmp_path):
    arrays = make_arrays(seed=4)
    arrays["test_labels"] = arrays["test_labels"][:-1]
    make_dataset(tmp_path, arrays)
    with pytest.raises(DataError) as caught:
        data.load_mnist(tmp_path, download=False)
    message = str(caught.value)
    assert "t10k-images-idx3-ubyte.gz" in message and "t10k-labels-idx1-ubyte.gz" in message
    assert f"{len(arrays['test_images'])} images" in message
    assert f"{len(arrays['test_labels'])} labels" in message


def test_payload_cap_counts_the_float64_array(tmp_path):
    # A true gzip of 180,000 blank 28x28 images: 141 MB of bytes, under 1 GB, but 1.13 GB as
    # the float64 array the loader makes (8 bytes a pixel); it must be refused from the header.
    path = tmp_path / "f.gz"
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(idx_bytes(np.zeros((0, 28, 28)))[:4] + b"".join(
            d.to_bytes(4, "big") for d in (180_000, 28, 28)))
        for _ in range(180_000 * 28 * 28 // 2**20):
            f.write(bytes(2**20))
        f.write(bytes(180_000 * 28 * 28 % 2**20))
    assert path.stat().st_size < 2**20
    tracemalloc.start()
    try:
        expect_error(path, "implausibly large", "at most 125000000 values",
                     "1128960000 bytes as float64", magic=data.IMAGES_MAGIC)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20, f"peak allocation {peak} bytes"


def load_error(folder, *fragments, split=None):
    """The DataError of loading `folder` as MNIST; check that it holds each fragment."""
    with pytest.raises(DataError) as caught:
        data.load_mnist(folder, split=split, download=False)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_labels_outside_the_ten_classes(tmp_path):
    arrays = make_arrays(seed=20)
    arrays["test_labels"][2] = 200
    make_dataset(tmp_path, arrays)
    load_error(tmp_path, f"{tmp_path / 't10k-labels-idx1-ubyte.gz'}: label 200 at position 2",
               "expected labels 0 to 9 (the 10 classes of MNIST)")


def test_images_of_another_size(tmp_path):
    arrays = make_arrays(seed=21)
    arrays["test_images"] = np.zeros((4, 32, 32), dtype=np.uint8)  # beside 28x28 training images
    make_dataset(tmp_path, arrays)
    load_error(tmp_path, f"{tmp_path / 't10k-images-idx3-ubyte.gz'} holds images of 32x32 pixels",
               "expected 28x28")
    arrays = make_arrays(seed=21, side=32)  # both splits alike, but not MNIST's size
    make_dataset(tmp_path, arrays)
    load_error(tmp_path, f"{tmp_path / 'train-images-idx3-ubyte.gz'} holds images of 32x32")


def test_no_images(tmp_path):
    arrays = make_arrays(seed=22, n_train=0)
    make_dataset(tmp_path, arrays)
    message = load_error(tmp_path, f"{tmp_path / 'train-images-idx3-ubyte.gz'} holds no images",
                         "expected at least one")
    assert "reshape" not in message


def test_one_split_reads_only_its_files(tmp_path):
    arrays = make_arrays(seed=23)
    make_dataset(tmp_path, {k: v for k, v in arrays.items() if k.startswith("test")})
    X, y = data.load_mnist(tmp_path, split="test", download=False)
    np.testing.assert_array_equal(X * 255.0, arrays["test_images"].reshape(4, -1))
    np.testing.assert_array_equal(y, arrays["test_labels"])
    assert X.dtype == np.float64 and y.dtype == np.int64
    # The training files are missing, so the default (both splits) and "train" fail.
    load_error(tmp_path, "mnist files not found", "2 of 4 files")
    load_error(tmp_path, "mnist files not found", "0 of 2 files", "train-images-idx3-ubyte.gz",
               split="train")


def test_unknown_split_name(tmp_path):
    with pytest.raises(ValueError, match="split='validation': expected None .both., 'train' or "
                                         "'test'"):
        data.load_mnist(tmp_path, split="validation", download=False)


def test_missing_files_without_download(tmp_path):
    make_dataset(tmp_path / "data", {k: v for k, v in make_arrays(seed=5).items()
                                     if k != "test_labels"})
    with pytest.raises(DataError) as caught:
        data.locate("mnist", tmp_path / "data", cache_dir=tmp_path / "cache", download=False)
    message = str(caught.value)
    assert str(tmp_path / "data") in message and "3 of 4 files" in message
    assert str(tmp_path / "cache" / "mnist") in message
    assert "download=False" in message and "NEURONET_DATA" in message


def test_unknown_dataset_name():
    with pytest.raises(DataError, match="unknown dataset 'cifar'.*fashion-mnist, mnist"):
        data.locate("cifar", download=False)



# --- the command line ---------------------------------------------------------------------

def test_predict_reads_only_the_test_files(tmp_path, capsys):
    arrays = make_arrays(seed=30, n_test=5)
    folder = make_dataset(tmp_path / "test-only",
                          {k: v for k, v in arrays.items() if k.startswith("test")})
    net = Network((784, 3, 10), seed=0)
    save(net, tmp_path / "net.npz")
    code = main(["predict", str(tmp_path / "net.npz"), "--data", str(folder), "--no-download"])
    out, err = capsys.readouterr()
    assert code == 0, err
    # The expected classes: the most active output of the network for each test image.
    expected = net.predict(arrays["test_images"].reshape(5, -1) / 255.0).argmax(axis=1)
    right = int(np.sum(expected == arrays["test_labels"]))
    assert out.splitlines()[-1] == (f"accuracy on all 5 test images: {100 * right / 5:.2f} % "
                                    f"({right} right)")
    # A network of another shape is refused with a clear message.
    save(Network((100, 3, 10), seed=0), tmp_path / "small.npz")
    code = main(["predict", str(tmp_path / "small.npz"), "--data", str(folder), "--no-download"])
    err = capsys.readouterr().err
    assert code == 2
    assert "the 100-3-10 network in " in err and "small.npz does not fit MNIST: it needs 784 inputs" in err


# --- the real data ----------------------------------------------------------------------

# The md5 of each uncompressed file, in ROLES order, as published beside the datasets.
REAL_MD5 = {
    "mnist": ["6bbc9ace898e44ae57da46a324031adb", "a25bea736e30d166cdddb491f175f624",
              "2646ac647ad5339dbf082846283269ea", "27ae3e4e09519cfbb04c329615203637"],
    "fashion-mnist": ["f4a8712d7a061bf5bd6d2ca38dc4d50a", "9018921c3c673c538a1fc5bad174d6f9",
                      "8181f5470baa50b63fa0f6fddb340f0a", "15d484375f8d13e6eb1aabb0c3f46965"],
}


def check_real(name, load, folder):
    (X_train, y_train), (X_test, y_test) = load(folder, download=False)
    assert X_train.shape == (60000, 784) and X_test.shape == (10000, 784)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert X_train.dtype == np.float64 and y_train.dtype == np.int64
    assert X_train.min() == 0.0 and X_train.max() == 1.0
    assert set(np.unique(y_train)) == set(np.unique(y_test)) == set(range(10))
    report = data.verify(data.locate(name, folder, download=False), name)
    assert [digest for _, digest, _ in report] == REAL_MD5[name]
    X, y = load(folder, split="test", download=False)
    np.testing.assert_array_equal(X, X_test)
    np.testing.assert_array_equal(y, y_test)


# The folders come from conftest.py's fixtures, named as arguments so that they are found
# before isolated_data_env hides NEURONET_DATA and the cache.

@pytest.mark.data
def test_real_mnist(mnist_folder):
    check_real("mnist", data.load_mnist, mnist_folder)


@pytest.mark.data
def test_real_fashion_mnist(fashion_mnist_folder):
    check_real("fashion-mnist", data.load_fashion_mnist, fashion_mnist_folder)
