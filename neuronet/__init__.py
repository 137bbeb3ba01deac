"""neuronet: backpropagation as per-neuron loops compiled with numba, and its numpy twin.

    >>> from neuronet import Network
    >>> net = Network((784, 30, 10), seed=0)               # the post's network, done right
    >>> net.backend = "vectorized"                          # or "loops" (default), "python"
"""
from .gradcheck import gradcheck
from .network import BACKENDS, Network

__all__ = ["BACKENDS", "Network", "gradcheck"]
