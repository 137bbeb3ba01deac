"""What this machine can do, as the speed report measures it: numpy's float64 GEMM GFLOP/s and
the streaming bandwidth of each cache level on one thread (each in a fresh process), the data
caches' sizes, the versions and thread settings the numbers depend on, and the first call of a
fresh process once numba's cache is warm. ``machine_bounds`` turns them into a network's compute
and bandwidth bounds at batch 1.
"""
import itertools
import os
import platform
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
from implementations import flops_per_sample

GEMM = """
import time, numpy as np
n = 512
a, b = np.random.default_rng(0).random((2, n, n))
best = float("inf")
for _ in range(REPEATS):
    start = time.perf_counter()
    a @ b
    best = min(best, time.perf_counter() - start)
print(2 * n**3 / best / 1e9)
"""


BANDWIDTH = """
import time, numpy as np
for total in SIZES:  # bytes of a and b together
    a, b = np.ones((2, total // 16))
    passes = max(1, int(2e8 // total))
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(passes):
            np.add(a, b, out=a)
        best = min(best, (time.perf_counter() - start) / passes)
    print(total, 3 * a.nbytes / best / 1e9)  # a read, b read, a written
"""


COLD_START = """
import time
t0 = time.perf_counter()
import numpy as np
from neuronet import Network
imported = time.perf_counter()
net = Network((784, 100, 10), seed=0)
x, y = np.random.default_rng(0).random((1, 784)), np.eye(10)[[3]]
t1 = time.perf_counter()
net.step(x, y, 0.5)
t2 = time.perf_counter()
net.step(x, y, 0.5)
t3 = time.perf_counter()
print(imported - t0, t2 - t1, t3 - t2)
"""


def gemm_gflops(repeats):
    """numpy float64 GEMM GFLOP/s on one BLAS thread, in a fresh process."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    program = GEMM.replace("REPEATS", str(repeats))
    out = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True,
                         text=True, check=True)
    return float(out.stdout)



def cache_sizes():
    """{level: bytes} of the data caches of CPU 0, from /sys (empty where it is not there)."""
    sizes = {}
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            if (index / "type").read_text().strip() == "Instruction":
                continue
            text = (index / "size").read_text().strip()
            sizes[int((index / "level").read_text())] = int(text[:-1]) * 1024 if text.endswith(
                "K") else int(text)
        except (OSError, ValueError):
            continue
    return sizes



def bandwidth(repeats, caches):
    """{level: GB/s} of ``a += b`` on one thread, in a fresh process, for a and b together half
    of L2, 8 times L2 (within L3 when L3 is larger) and 1 GiB (DRAM: beyond this L3)."""
    l2 = caches.get(2, 2**21)
    sizes = {"L2": l2 // 2, "L3": 8 * l2, "DRAM": 2**30}
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    program = BANDWIDTH.replace("SIZES", str(list(sizes.values()))).replace("REPEATS",
                                                                             str(repeats))
    out = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True,
                         text=True, check=True)
    rates = dict(line.split() for line in out.stdout.splitlines())
    return {level: (size, float(rates[str(size)])) for level, size in sizes.items()}



def environment():
    """What the numbers depend on: versions, BLAS, threads, OpenBLAS settings."""
    lines = [(f"python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}"
             f" (threading layer {numba.config.THREADING_LAYER}, {numba.get_num_threads()} threads)"
             f", {os.cpu_count()} CPUs ({platform.processor() or platform.machine()})")]
    try:
        from threadpoolctl import threadpool_info
        for pool in threadpool_info():
            lines.append(f"BLAS: {pool.get('internal_api')} {pool.get('version')}, "
                         f"{pool.get('architecture')}, {pool.get('num_threads')} threads")
    except ImportError:
        config = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        lines.append(f"BLAS: {config.get('name')} {config.get('version')} (threadpoolctl not "
                     "installed, threads unknown)")
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                 "OMP_NUM_THREADS", "NUMBA_NUM_THREADS"):
        lines.append(f"{name}={os.environ.get(name, '(unset)')}")
    try:
        import torch
        lines.append(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    except ImportError:
        lines.append("torch: not installed")
    return lines



def cold_start(runs=3):
    """Seconds of the first ``net.step`` in a fresh process, the cache warm (best of runs)."""
    times = []
    for _ in range(runs + 1):  # the first run fills the cache if it was empty
        out = subprocess.run([sys.executable, "-c", COLD_START], capture_output=True, text=True,
                             check=True)
        times.append([float(t) for t in out.stdout.split()])
    return min(times[1:], key=lambda t: t[1])



def machine_bounds(shape, bytes_a_weight, caches, gflops, bandwidths):
    """A network's weights P, the cache level its state of ``bytes_a_weight`` a weight fits in,
    its batch-1 compute bound (samples/s) and that level's bandwidth (bytes/s)."""
    p = sum(n_in * n_out for n_in, n_out in itertools.pairwise(shape))
    level = ("L2" if bytes_a_weight * p <= caches.get(2, 0) else
             "L3" if bytes_a_weight * p <= caches.get(3, 0) else "DRAM")
    return p, level, gflops * 1e9 / flops_per_sample(shape, 1), bandwidths[level][1] * 1e9
