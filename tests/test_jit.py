"""The kernels' disk cache (``neuronet.jit``): an edit to any source a kernel compiles in takes
effect at the next run, whatever the cache holds, and old caches are removed."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numba
import pytest

import neuronet
from neuronet import jit

# One SGD step of a 4-3-2 sigmoid network with the compiled loops (the blocked one-sample epoch
# of blocks.py, which compiles in activations.sigmoid_prime), with the strict loops (loops.py's sgd_epoch
# compiled without fastmath, the same function KERNELS compiles with it) and with the same loops
# as plain Python.
PROGRAM = """
import json
import numpy as np
from neuronet import Network
from neuronet.backends import FUSED
from neuronet.loops import STRICT
x = np.array([[0.1, 0.9, 0.4, 0.7], [0.8, 0.2, 0.6, 0.3]])
y = np.array([[1.0, 0.0], [0.0, 1.0]])
found = {}
# loops-plain (KERNELS) before strict: with one cache folder for both, strict would load the
# reassociated code loops-plain saved.
for backend in ("loops", "loops-plain", "strict", "python"):
    net = Network((4, 3, 2), seed=0, backend=backend)
    net.step(x, y, 3.0, batch_size=1)
    found[backend] = np.concatenate([p.ravel() for p in net.weights + net.biases]).tolist()
found["cache_hits"] = sum(FUSED.sgd_epoch_blocks.stats.cache_hits.values())
found["strict_hits"] = sum(STRICT.sgd_epoch.stats.cache_hits.values())
print(json.dumps(found))
"""


def run(root):
    """PROGRAM in a fresh process that imports the package copied under ``root``."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("NUMBA_CACHE_DIR", "NUMBA_DISABLE_JIT")}  # the copy's own __pycache__
    env["PYTHONPATH"] = str(root)
    done = subprocess.run([sys.executable, "-c", PROGRAM], cwd=root, env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


@pytest.mark.slow
@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="no cache without the JIT")
def test_an_edit_to_a_called_module_reaches_the_compiled_kernels(tmp_path):
    package = tmp_path / "neuronet"
    shutil.copytree(Path(neuronet.__file__).parent, package,
                    ignore=shutil.ignore_patterns("__pycache__"))
    before = run(tmp_path)  # compiles, and fills the copy's cache
    assert before["loops"] == pytest.approx(before["python"], abs=1e-12)
    assert before["cache_hits"] == 0

    activations = package / "activations.py"
    source = activations.read_text()
    # the sigmoid's derivative, in the hidden layers' prime and the output's sigmoid_prime
    assert source.count("return a * (1 - a)\n") == 2
    activations.write_text(source.replace("return a * (1 - a)\n", "return 2 * a * (1 - a)\n"))
    after = run(tmp_path)
    # The compiled kernel follows the edit: it agrees with the edited plain Python, not with
    # what it computed before (numba's own cache would have loaded the old machine code).
    assert after["python"] != pytest.approx(before["python"], abs=1e-3)
    assert after["loops"] == pytest.approx(after["python"], abs=1e-12)
    assert after["cache_hits"] == 0
    # One cache folder, the new source's: the old one was removed.
    folders = sorted(p.name for p in (package / "__pycache__").glob(jit.PREFIX + "*"))
    assert len(folders) == 1 and folders != [jit.PREFIX + jit.source_hash()]

    again = run(tmp_path)  # unchanged sources: the kernels come from the cache
    assert again["cache_hits"] >= 1
    assert again["loops"] == after["loops"]
    # STRICT, loaded from the cache too, is still its own code, not KERNELS' reassociated one
    # (numba's index tells the two apart by bytecode and signature only): the python's bits.
    assert again["strict_hits"] >= 1
    for run_ in (before, after, again):
        assert run_["strict"] == run_["python"]


def test_the_source_hash_covers_every_python_file_of_the_package(tmp_path, monkeypatch):
    for name in ("a.py", "b.py"):
        (tmp_path / name).write_text("x = 1\n")
    monkeypatch.setattr(jit, "PACKAGE", tmp_path)
    hashes = set()
    for edit in (None, "a.py", "b.py", "c.py"):  # c.py: a new module
        if edit:
            (tmp_path / edit).write_text("x = 2\n")
        jit.source_hash.cache_clear()
        hashes.add(jit.source_hash())
    jit.source_hash.cache_clear()
    assert len(hashes) == 4


def test_njit_refuses_its_own_cache_option():
    with pytest.raises(TypeError, match="leave out cache="):
        jit.njit(cache=True)
