"""save and load: what they refuse, and that refusing costs no memory and changes no file.

Hostile files are written entry by entry here, each a .npy header followed by whatever data the
test wants, so a header can declare far more than the file holds.
"""
import io
import os
import stat
import tracemalloc
import zipfile

import numpy as np
import pytest
from numpy.lib import format as npy

from neuronet import Network, load, save
from neuronet.saving import check_target


def npy_bytes(dtype, shape, data=None):
    """A .npy file's bytes: a header declaring ``dtype`` and ``shape``, then ``data`` (the
    declared number of zero bytes by default)."""
    f = io.BytesIO()
    npy.write_array_header_1_0(f, {"descr": npy.dtype_to_descr(np.dtype(dtype)),
                                   "fortran_order": False, "shape": shape})
    if data is None:
        data = bytes(int(np.prod(shape)) * np.dtype(dtype).itemsize)
    return f.getvalue() + data


def write_zip(path, entries):
    """A .npz: entries maps names (without .npy) to the bytes of each, deflated."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name + ".npy", data)


def entries_of(net):
    """The .npy bytes of every entry save writes for ``net``."""
    arrays = {"sizes": np.array(net.sizes, dtype=np.int64), "output": np.array(net.output),
              "cost": np.array(net.cost)}
    for layer, (w, b) in enumerate(zip(net.weights, net.biases)):
        arrays[f"weights_{layer}"], arrays[f"biases_{layer}"] = w, b
    entries = {}
    for name, array in arrays.items():
        f = io.BytesIO()
        np.save(f, array)
        entries[name] = f.getvalue()
    return entries


def refused_cheaply(path, words, limit=5_000_000):
    """load(path) raises ValueError matching ``words``, naming the file, having allocated less
    than ``limit`` bytes at its peak (tracemalloc sees numpy's allocations)."""
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=words) as info:
            load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(path) in str(info.value)
    assert peak < limit, f"load allocated {peak:,} bytes before refusing"


# --- load: checked from the headers, before anything is decompressed or allocated --------------

def test_huge_declared_network_with_small_entries(tmp_path):
    # A 1,242-byte file: sizes [15000, 15000], but tiny parameter entries.
    entries = entries_of(Network((2, 2), seed=0))
    entries["sizes"] = npy_bytes("<i8", (2,), np.array([15000, 15000], "<i8").tobytes())
    path = tmp_path / "small.npz"
    write_zip(path, entries)
    assert path.stat().st_size < 2000
    refused_cheaply(path, r"declares a 15000-15000 network of 225,015,000 weights and biases, "
                          r"more than max_parameters=50,000,000")


def test_network_under_the_cap_with_wrong_headers(tmp_path):
    entries = entries_of(Network((2, 2), seed=0))
    entries["sizes"] = npy_bytes("<i8", (2,), np.array([5000, 5000], "<i8").tobytes())
    path = tmp_path / "wrong.npz"
    write_zip(path, entries)
    refused_cheaply(path, r"'weights_0' must be float64 of shape \(5000, 5000\), found float64 of "
                          r"shape \(2, 2\)")


def test_extra_entry_is_refused_before_it_is_decompressed(tmp_path):
    entries = entries_of(Network((3, 2), seed=0))
    # 200 MB of zeros deflate to 200 kB; refusing by name must not inflate them.
    entries["extra"] = npy_bytes("<f8", (25_000_000,))
    path = tmp_path / "extra.npz"
    write_zip(path, entries)
    assert path.stat().st_size < 1_000_000
    refused_cheaply(path, r"expected entries .* found .*'extra'")


def test_header_declaring_10_to_the_12_items(tmp_path):
    entries = entries_of(Network((3, 2), seed=0))
    entries["weights_0"] = npy_bytes("<f8", (10**6, 10**6), b"")
    path = tmp_path / "lying.npz"
    write_zip(path, entries)
    refused_cheaply(path, r"'weights_0' must be float64 of shape \(2, 3\), found float64 of shape "
                          r"\(1000000, 1000000\)")


def test_header_larger_than_its_data(tmp_path):
    entries = entries_of(Network((3, 2), seed=0))
    entries["weights_0"] = npy_bytes("<f8", (2, 3), bytes(8 * 5))  # 5 of the 6 numbers
    path = tmp_path / "short.npz"
    write_zip(path, entries)
    refused_cheaply(path, r"'weights_0' holds 40 bytes of data, but its header declares float64 "
                          r"of shape \(2, 3\), 48 bytes")
    entries["weights_0"] = npy_bytes("<f8", (2, 3), bytes(8 * 7))
    write_zip(path, entries)
    refused_cheaply(path, "'weights_0' holds more data than its header declares")


def test_sizes_longer_than_the_entries_allow(tmp_path):
    entries = entries_of(Network((3, 2), seed=0))
    entries["sizes"] = npy_bytes("<i8", (10**9,), b"")
    path = tmp_path / "sizes.npz"
    write_zip(path, entries)
    refused_cheaply(path, r"'sizes' must be at least two integers, found int64 of shape "
                          r"\(1000000000,\)")


def test_max_parameters_is_the_callers_choice(tmp_path):
    net = Network((5, 4, 3), seed=0)  # 4 * 6 + 3 * 5 = 39 weights and biases
    path = tmp_path / "net.npz"
    save(net, path)
    with pytest.raises(ValueError, match="network of 39 weights and biases, more than "
                                         "max_parameters=38"):
        load(path, max_parameters=38)
    again = load(path, max_parameters=39)
    assert all(np.array_equal(a, b) for a, b in zip(again.weights, net.weights))


def test_a_npy_file_is_not_a_network(tmp_path):
    path = tmp_path / "rows.npy"
    np.save(path, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="it is one .npy array; to classify its rows, give it as "
                                         "--input"):
        load(path)


def test_corrupt_data_fails_the_crc(tmp_path):
    path = tmp_path / "net.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:  # stored: bytes as written
        for name, data in entries_of(Network((3, 2), seed=0)).items():
            archive.writestr(name + ".npy", data)
    raw = bytearray(path.read_bytes())
    at = raw.index(b"weights_0.npy") + len("weights_0.npy") + 128 + 8  # inside its numbers
    raw[at] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="cannot read it as .npz .*CRC"):
        load(path)


# --- save: regular files only, permissions kept, nothing non-finite ---------------------------

def test_save_refuses_fifos_and_folders(tmp_path):
    # Not /dev/null itself: a save that wrongly replaced it would break the machine (the same
    # check refuses it: it is not a regular file).
    net = Network((3, 2), seed=0)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=rf"cannot save to {fifo}: it is not a regular file"):
        save(net, fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    with pytest.raises(ValueError, match="it is a folder"):
        save(net, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo"]  # no temporary left


def test_save_follows_a_symlink(tmp_path):
    target, link = tmp_path / "real.npz", tmp_path / "link.npz"
    target.write_bytes(b"old")
    link.symlink_to(target)
    net = Network((3, 2), seed=0)
    save(net, link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert np.array_equal(load(target).weights[0], net.weights[0])
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "to-fifo").symlink_to(tmp_path / "fifo")
    with pytest.raises(ValueError, match=r"to-fifo \(a link to .*fifo\): it is not a regular"):
        save(net, tmp_path / "to-fifo")


def test_save_keeps_permissions_or_honours_the_umask(tmp_path):
    net = Network((3, 2), seed=0)
    kept = tmp_path / "kept.npz"
    kept.write_bytes(b"old")
    kept.chmod(0o604)
    save(net, kept)
    assert stat.S_IMODE(kept.stat().st_mode) == 0o604
    old = os.umask(0o027)
    try:
        save(net, tmp_path / "new.npz")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.npz").stat().st_mode) == 0o666 & ~0o027  # 0o640


def test_save_refuses_non_finite_parameters(tmp_path):
    path = tmp_path / "net.npz"
    path.write_bytes(b"keep me")
    net = Network((3, 2), seed=0)
    net.biases[0][1] = np.nan
    with pytest.raises(ValueError, match=r"net.biases\[0\] holds NaN or infinity"):
        save(net, path)
    assert path.read_bytes() == b"keep me"


def test_unwritable_folder_is_named_not_the_temporary(tmp_path):
    # /sys refuses new files even to root, where permission bits would not.
    with pytest.raises(OSError, match=r"^cannot save to /sys/net.npz: cannot create a file in "
                                      r"/sys \(Permission denied\)") as info:
        check_target("/sys/net.npz")
    assert ".tmp" not in str(info.value)
    with pytest.raises(OSError, match="cannot save to /sys/net.npz"):
        save(Network((3, 2)), "/sys/net.npz")
