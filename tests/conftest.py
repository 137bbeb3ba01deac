import numpy as np
import pytest


def mnist_shaped(n, seed=0, n_in=784, n_out=10):
    """Random images in [0, 1] with one-hot targets: the shapes of MNIST without its content."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, n_in))
    y = np.eye(n_out)[rng.integers(0, n_out, n)]
    return x, y


@pytest.fixture
def mnist_like():
    return mnist_shaped(200)
