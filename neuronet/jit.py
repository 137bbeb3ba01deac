"""Compiling the kernels: ``njit``, numba's ``njit`` with a disk cache that follows every edit.

numba's own cache (``cache=True``) checks only the source file of the function it compiled, but a
kernel compiles in the functions it calls from other modules (``fused.sgd_epoch`` takes in
``loops.output_delta`` and ``activations.sigmoid_prime``). After an edit to one of those, numba
would load the old machine code from its cache and run it. Here every kernel is cached in a
folder named after a hash of all the package's source files, ``neuronet-<hash>``, beside where
numba would put it (``__pycache__`` next to the module, or ``NUMBA_CACHE_DIR``, or the user's
cache): an edit to any ``.py`` file of the package gives a new, empty folder, so every kernel is
compiled afresh at the next run, and the first process to use a new hash removes the folders of
the other hashes, so old caches do not pile up. Hashing the package's 16 files took 1.3 ms, once
per process.

Every compiled kernel goes through this helper, so a new one gets this for free:

    from .jit import njit
    _jit = njit(fastmath={"reassoc", "contract"})   # any numba.njit option but cache
    KERNEL = _jit(kernel)

numba's index tells versions of a function apart by bytecode and signature, not by compile
options, so a function compiled twice with different options (``loops.STRICT`` without
fastmath, ``loops.KERNELS`` with it) would load one another's machine code from a shared folder:
each set of options gets a subfolder of its own, ``neuronet-<hash>/<options>``.

The kernels allocate nothing (their work arrays come from the caller), so they are compiled
without numba's runtime for allocation (``_nrt=False``, the option of https://github.com/numba/numba/issues/2350):
with it, every array view a kernel takes (``w[j, first:stop]``, ``activations[layer][:n]``) holds a
reference count, an atomic increment and decrement that LLVM cannot remove across calls. Under
``perf`` these took half the time of a one-sample step of a 16-16-10 network; without them its
step took 1.42 against 2.94 us, and 784-100-10's 14.1 against 15.9 us (fused, batch 1).

With ``NUMBA_DISABLE_JIT=1`` it returns numba's plain decorator, which leaves the functions as
they are.
"""
import hashlib
import os
import shutil
from functools import cache
from pathlib import Path

import numba
from numba.core import caching

PACKAGE = Path(__file__).parent
PREFIX = "neuronet-"


@cache
def source_hash():
    """A hash of the name and content of every .py file of the package, as 16 hex digits."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


_cleaned = set()


def _remove_other_hashes(parent, keep):
    """Delete the ``neuronet-*`` folders in ``parent`` but ``keep``, once per process."""
    if parent in _cleaned:
        return
    _cleaned.add(parent)
    for folder in Path(parent).glob(PREFIX + "*"):
        if folder.name != keep:
            shutil.rmtree(folder, ignore_errors=True)  # another process may be removing it too


def options_key(options):
    """The compile options as a folder name: the same options give the same name in every
    process (sets are sorted: their order changes with the string hash seed)."""
    text = repr(sorted((name, sorted(value) if isinstance(value, (set, frozenset)) else value)
                       for name, value in options.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _keyed(locator_class, subfolder):
    """numba's ``locator_class`` with its cache folder moved into
    ``neuronet-<source hash>/<subfolder>``."""

    class Keyed(locator_class):
        def get_cache_path(self):
            parent = super().get_cache_path()
            folder = PREFIX + source_hash()
            _remove_other_hashes(parent, folder)
            return os.path.join(parent, folder, subfolder)

    Keyed.__name__ = Keyed.__qualname__ = "Keyed" + locator_class.__name__
    return Keyed


@cache
def keyed_cache(subfolder):
    """numba's function cache class, in the folder of the package's current source hash and
    the subfolder of one set of compile options."""
    # numba's order, for files on disk: NUMBA_CACHE_DIR if set, else __pycache__ beside the
    # module if writable, else the user's cache folder.
    impl = type("KeyedImpl", (caching.CompileResultCacheImpl,), {"_locator_classes": [
        _keyed(caching.UserProvidedCacheLocator, subfolder),
        _keyed(caching.InTreeCacheLocator, subfolder),
        _keyed(caching.UserWideCacheLocator, subfolder)]})
    return type("KeyedCache", (caching.FunctionCache,), {"_impl_class": impl})


def njit(**options):
    """``numba.njit(**options)``, without numba's runtime unless ``_nrt=True`` is given (a kernel
    that allocates needs it), cached on disk under the hash of the package's sources."""
    if "cache" in options:
        raise TypeError("njit caches every kernel itself; leave out cache=")
    options = {"_nrt": False, **options}
    plain = numba.njit(**options)
    if numba.config.DISABLE_JIT:
        return plain
    cache = keyed_cache(options_key(options))

    def compile(function):
        dispatcher = plain(function)
        # What cache=True does (Dispatcher.enable_caching), with our cache class.
        dispatcher._cache = cache(function)
        return dispatcher

    return compile
