"""Which code runs for each backend name: the one table a reader needs to find the dispatch.

    "loops"        the fused loops of ``fast`` compiled by numba, one pass over each layer's
                   weights per step (the default; the plain ``loops`` kernels are their
                   reference), for every update rule
    "loops-plain"  the plain loops of ``loops``, compiled with the sums reassociated (vectorized)
    "strict"       the plain loops of ``loops``, compiled with no reassociation and no fused
                   multiply-add: the sums in the order the plain Python adds them, so float64
                   results are the bits of "python", the same on any processor
    "python"       the plain loops of ``loops``, not compiled: slow, but a debugger steps through
    "vectorized"   one numpy expression per layer (``vectorized``)

All of them give the same numbers to within rounding, so a network can switch at any time. The
arrows point one way: this module imports the fast kernels, they import the plain ones, and the
plain ``loops`` imports nothing faster than itself.
"""
from .fast import FAST, PLAIN_LOOPS
from .loops import PLAIN, STRICT, LoopBackend
from .vectorized import VectorizedBackend

BACKENDS = {
    "loops": FAST,
    "loops-plain": PLAIN_LOOPS,
    "strict": LoopBackend(STRICT),
    "python": LoopBackend(PLAIN),
    "vectorized": VectorizedBackend(),
}
