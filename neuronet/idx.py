"""Read IDX files, the format of MNIST and Fashion-MNIST, trusting nothing in them.

An IDX file is a big-endian header (a magic number 0x000008NN: unsigned bytes in NN
dimensions, then NN int32 sizes) followed by the bytes themselves, often gzip-compressed.
``read_idx`` checks the magic number, the header and that the declared dimensions match the
payload before allocating anything large, so a damaged or hostile file gives a ``DataError``
naming the file and the fix, never a crash, a hang or a giant allocation.
"""
import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np


class DataError(ValueError):
    """A data file is missing, damaged or not what it claims to be.

    Raised by ``load_mnist``, ``load_fashion_mnist`` and the IDX reader.

    Parameters
    ----------
    message : str
        Which file, what is wrong with it, and the fix (delete it to fetch it again, say).
    """


IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions (count, rows, columns)
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension (count)
_UNSIGNED_BYTE = 0x08
_GZIP_MAGIC = b"\x1f\x8b"
# The loaders turn every byte into a float64, so the cap counts that array, 8 bytes a value:
# MNIST's training images (47 MB of bytes) become 376 MB of floats. A header declaring more
# than 1 GB of floats is damaged or hostile (a 389 KB gzip of zeros can declare 450 MB of
# bytes, 3.6 GB as floats), and trusting it would mean a giant allocation.
MAX_FLOAT_BYTES = 10**9
_FLOAT_BYTES = 8  # numpy.float64
CHUNK = 1 << 20

REFETCH = ("Delete the file and fetch it again (neuronet downloads into its cache when the "
            "file is missing), or point NEURONET_DATA / --data at a folder with good copies.")


def _fail(path, problem, expected, found, fix=REFETCH):
    raise DataError(f"{path}: {problem}: expected {expected}, found {found}. {fix}")


def _is_gzip(path):
    with open(path, "rb") as f:
        return f.read(2) == _GZIP_MAGIC


def open_maybe_gzip(path):
    """Open `path` for reading bytes, decompressing when it starts with the gzip magic."""
    return gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb")


def _read_header_bytes(f, n, path, what):
    data = f.read(n)
    if len(data) < n:
        _fail(path, f"the file ends inside the header ({what})",
              f"{n} bytes", f"{len(data)}")
    return data


def read_idx(path, expected_magic=None):
    """Read an IDX file of unsigned bytes (raw or gzip) into a uint8 array of its declared shape.

    `expected_magic` is IMAGES_MAGIC (0x00000803) or LABELS_MAGIC (0x00000801); None accepts
    any number of dimensions. Raises DataError naming the file for anything amiss.
    """
    path = Path(path)
    try:
        with open_maybe_gzip(path) as f:
            return _read_idx(f, path, expected_magic)
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        _fail(path, "the gzip stream is damaged or cut short", "a complete gzip stream",
              f"{type(error).__name__}: {error}")


def _read_idx(f, path, expected_magic):
    magic = int.from_bytes(_read_header_bytes(f, 4, path, "magic number"), "big")
    if expected_magic is not None:
        expected = f"magic number 0x{expected_magic:08X}"
    else:
        expected = "an IDX magic number 0x000008NN"
    if magic >> 16 != 0:
        _fail(path, "not an IDX file (its first two bytes must be zero)", expected,
              f"0x{magic:08X}")
    if (magic >> 8) & 0xFF != _UNSIGNED_BYTE:
        _fail(path, "wrong IDX data type byte (neuronet reads unsigned bytes, 0x08)", expected,
              f"0x{magic:08X} (data type 0x{(magic >> 8) & 0xFF:02X})")
    ndim = magic & 0xFF
    if ndim == 0 or (expected_magic is not None and magic != expected_magic):
        _fail(path, "wrong number of dimensions (are images and labels swapped?)",
              f"{expected} ({expected_magic & 0xFF if expected_magic else '1 or more'} dims)",
              f"0x{magic:08X} ({ndim} dims)")

    header_bytes = 4 + 4 * ndim
    dims = struct.unpack(f">{ndim}i", _read_header_bytes(f, 4 * ndim, path, "dimensions"))
    if min(dims) < 0:
        _fail(path, "negative dimension in the header", "sizes >= 0", dims)
    size = math.prod(dims)  # Python ints: no overflow even for a lying header
    if size * _FLOAT_BYTES > MAX_FLOAT_BYTES:
        _fail(path, "the header declares an implausibly large payload",
              f"at most {MAX_FLOAT_BYTES // _FLOAT_BYTES} values ({MAX_FLOAT_BYTES} bytes as "
              "float64)",
              f"dimensions {dims} = {size} values ({size * _FLOAT_BYTES} bytes as float64)")

    if isinstance(f, gzip.GzipFile):
        # The decompressed length is unknown until read: read in bounded chunks and stop as
        # soon as it passes the declared size, so a small file cannot make us allocate much.
        buffer = bytearray()
        while len(buffer) <= size:
            chunk = f.read(min(CHUNK, size + 1 - len(buffer)))
            if not chunk:
                break
            buffer += chunk
        found = len(buffer) if len(buffer) <= size else f"more than {size}"
    else:
        remaining = os.fstat(f.fileno()).st_size - header_bytes
        if remaining != size:
            found = remaining
        else:
            buffer = bytearray(size)
            found = f.readinto(buffer)
    if found != size:
        _fail(path, "payload length does not match the header (truncated or extra bytes)",
              f"{size} bytes after the {header_bytes}-byte header for dimensions {dims}", found)
    return np.frombuffer(buffer, dtype=np.uint8).reshape(dims)
