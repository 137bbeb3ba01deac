"""neuronet: backpropagation as per-neuron loops compiled with numba, and its numpy twin.

    >>> from neuronet import Network, fit, load_mnist
    >>> (x, y), (x_test, y_test) = load_mnist()               # fetched and verified if missing
    >>> net = Network((784, 30, 10), seed=0)                   # the post's network, done right
    >>> history = fit(net, x, y, epochs=30, learning_rate=3.0, validation=(x_test, y_test))
    >>> net.backend = "vectorized"          # or "loops" (default), "python", ... (backends.py)
"""
from .backends import BACKENDS
from .data import DataError, load_fashion_mnist, load_mnist
from .gradcheck import gradcheck
from .network import Network
from .saving import load, save
from .train import DivergenceError, evaluate, fit

__all__ = ["BACKENDS", "DataError", "DivergenceError", "Network", "evaluate", "fit", "gradcheck",
           "load", "load_fashion_mnist", "load_mnist", "save"]
