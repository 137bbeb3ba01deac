"""The initial weights and biases: one function per scheme, of a generator and a layer's shape.

``INITS`` maps ``Network(init=...)``'s names to them; ``AUTO_INIT`` says which one
``init="auto"`` takes for each hidden activation.
"""
import math

import numpy as np


def normal(rng, n_out, n_in):
    """Weights N(0, 1/n_in): each z starts with variance about 1, where the sigmoid is not flat."""
    return rng.normal(0, 1 / math.sqrt(n_in), (n_out, n_in)), rng.normal(0, 1, n_out)


def uniform(rng, n_out, n_in):
    """The post's initialisation, uniform in [0, 0.4): all positive, so large layers saturate."""
    return rng.uniform(0, 0.4, (n_out, n_in)), rng.uniform(0, 0.4, n_out)


def glorot(rng, n_out, n_in):
    """Glorot and Bengio (2010): weights uniform in +-sqrt(6 / (n_in + n_out)), so activations
    and gradients keep their variance through a tanh layer; biases 0."""
    bound = math.sqrt(6 / (n_in + n_out))
    return rng.uniform(-bound, bound, (n_out, n_in)), np.zeros(n_out)


def he(rng, n_out, n_in):
    """He et al. (2015): weights N(0, 2/n_in), making up for the half of a ReLU layer's inputs
    that are 0; biases 0."""
    return rng.normal(0, math.sqrt(2 / n_in), (n_out, n_in)), np.zeros(n_out)


INITS = {"normal": normal, "uniform": uniform, "glorot": glorot, "he": he}
# init="auto": the initialisation that suits the hidden activation ("normal" for the sigmoid is
# the one every sigmoid result of this project was measured with).
AUTO_INIT = {"sigmoid": "normal", "tanh": "glorot", "relu": "he"}
