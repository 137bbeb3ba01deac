"""The post's API at kernel speed: ``net.train`` and ``net.predict`` on one sample at a time,
beside ``net.step(..., batch_size=1)`` on the same samples in one call (784-100-10, float64).

Each benchmark times SAMPLES samples, so samples/s = SAMPLES / mean; the target is that train
reach at least half the samples/s of the step. Each call of train leaves its first layer's step
waiting for the next (``sample.train_sample``), so a call passes over the first layer's weights
once; a step over many samples applies the first layer's updates 16 samples at a time
(``blocks.sgd_epoch_blocks``). A call's checks cost little beside its kernel: arrays accepted at
an earlier call go to the kernel, which checks their shapes and x's and y's values itself.
``benchmarks/report.py`` times the same pair with the rounds interleaved: train reached 0.54 to
0.57 of step's rate there with plain SGD, 0.58 to 0.68 with momentum (docs/speed.md).
Every result is checked against the vectorized backend doing the same steps (1e-12, as argued
in tests/test_agreement.py).
"""
import numpy as np
import pytest

from neuronet import Network
from neuronet.compare import largest_difference

SHAPE = (784, 100, 10)
SAMPLES = 200
TOL = 1e-12


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.random((SAMPLES, SHAPE[0])), np.eye(SHAPE[-1])[rng.integers(0, 10, SAMPLES)]


@pytest.fixture(scope="module")
def stepped(data):
    """The vectorized network after one SGD step on each sample in turn."""
    net = Network(SHAPE, seed=0, backend="vectorized")
    net.step(*data, 0.1, batch_size=1)
    return net


def fresh():
    net = Network(SHAPE, seed=0)
    net.train(np.zeros(SHAPE[0]), np.zeros(SHAPE[-1]), 1e-9)  # compile or load the kernels
    return Network(SHAPE, seed=0)


def train_each(net, x, y):
    return [net.train(x[i], y[i], 0.1) for i in range(len(x))]


def step_all(net, x, y):
    net.step(x, y, 0.1, batch_size=1)


@pytest.mark.benchmark(group="api-784-100-10")
@pytest.mark.parametrize("how", ["train-each-sample", "step-batch-size-1"])
def test_train_against_step(benchmark, data, stepped, how):
    x, y = data
    target = train_each if how == "train-each-sample" else step_all
    nets = []

    def setup():
        nets.append(fresh())
        return (nets[-1], x, y), {}

    result = benchmark.pedantic(target, setup=setup, rounds=5, warmup_rounds=1)
    assert largest_difference(nets[-1], stepped) <= TOL
    if how == "train-each-sample":  # the error before each step: 0.5 |a - y|^2 of the vectorized
        reference = Network(SHAPE, seed=0, backend="vectorized")
        assert np.allclose(result, train_each(reference, x, y), rtol=0, atol=TOL)


@pytest.mark.benchmark(group="api-784-100-10")
@pytest.mark.parametrize("how", ["predict-each-sample", "predict-all"])
def test_predict(benchmark, data, how):
    x, _ = data
    net = fresh()
    if how == "predict-each-sample":
        got = np.array(benchmark(lambda: [net.predict(row) for row in x]))
    else:
        got = benchmark(net.predict, x)
    net.backend = "vectorized"
    assert np.max(np.abs(got - net.predict(x))) <= TOL
