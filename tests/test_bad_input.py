import re

import numpy as np
import pytest
from helpers import parameters

from neuronet import Network, gradcheck

pytestmark = pytest.mark.plain_python


@pytest.mark.parametrize("shape,error,words", [
    ((784,), ValueError, "at least two layers"),
    ((784, 0, 10), ValueError, r"shape\[1\] must be an integer >= 1"),
    ((784, -3, 10), ValueError, r"shape\[1\]"),
    ((784, 2.5, 10), ValueError, r"shape\[1\] must be an integer"),
    (784, TypeError, "sequence of layer sizes"),
])
def test_bad_shapes(shape, error, words):
    with pytest.raises(error, match=words):
        Network(shape)


@pytest.mark.parametrize("kwargs,words", [
    ({"backend": "gpu"}, r"backend='gpu' is not known; use one of 'loops', 'loops-plain', 'strict', 'python', 'vectorized'"),
    ({"init": "zeros"}, "init='zeros' is not known"),
    ({"output": "relu"}, "output='relu' is not known"),
    ({"cost": "hinge"}, "cost='hinge' is not known"),
    ({"dtype": "float16"}, "dtype='float16' is not known"),
])
def test_unknown_names(kwargs, words):
    with pytest.raises(ValueError, match=words):
        Network((2, 1), **kwargs)


def test_unknown_backend_on_switch():
    net = Network((2, 1))
    with pytest.raises(ValueError, match="backend='cuda'"):
        net.backend = "cuda"
    assert net.backend == "loops"


@pytest.mark.parametrize("x,error,words", [
    (np.zeros(3), ValueError, r"x must have shape \(4,\) .* got shape \(3,\)"),
    (np.zeros((2, 5)), ValueError, r"got shape \(2, 5\)"),
    (np.zeros((2, 2, 4)), ValueError, r"got shape \(2, 2, 4\)"),
    (np.zeros((0, 4)), ValueError, r"n >= 1 samples"),
    (np.array([0, np.nan, 0, 0]), ValueError, r"x contains NaN or infinity at index \(1,\)"),
    (np.array([[0, 0, 0, 0], [0, 0, np.inf, 0]]), ValueError, r"index \(1, 2\)"),
    (np.array(["a", "b", "c", "d"]), TypeError, "x must hold real numbers, got dtype <U1"),
    (np.zeros(4, dtype=complex), TypeError, "complex128"),
    ([None, 1, 2, 3], TypeError, "object"),
])
def test_bad_samples(x, error, words):
    with pytest.raises(error, match=words):
        Network((4, 2)).predict(x)


def test_mismatched_targets():
    net = Network((4, 2))
    with pytest.raises(ValueError, match="x has 3 samples but y has 2"):
        net.gradients(np.zeros((3, 4)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"y must have shape \(2,\)"):
        net.train(np.zeros(4), np.zeros(3), 0.1)


@pytest.mark.parametrize("rate,error,words", [
    (0.0, ValueError, "learning_rate must be finite and > 0, got 0.0"),
    (-0.1, ValueError, "got -0.1"),
    (float("nan"), ValueError, "got nan"),
    (float("inf"), ValueError, "got inf"),
    ("0.1", TypeError, "learning_rate must be a real number, got str"),
    (None, TypeError, "got NoneType"),
])
def test_bad_learning_rates(rate, error, words):
    with pytest.raises(error, match=words):
        Network((4, 2)).train(np.zeros(4), np.zeros(2), rate)


def test_bad_momentum_and_batch_size():
    net = Network((4, 2))
    with pytest.raises(ValueError, match="momentum must be < 1"):
        net.train(np.zeros(4), np.zeros(2), 0.1, momentum=1.0)
    with pytest.raises(ValueError, match="momentum must be finite and >= 0"):
        net.train(np.zeros(4), np.zeros(2), 0.1, momentum=-0.5)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        net.step(np.zeros((2, 4)), np.zeros((2, 2)), 0.1, batch_size=0)
    with pytest.raises(ValueError, match="order must be a 1-D array of row indices from 0 to 1"):
        net.step(np.zeros((2, 4)), np.zeros((2, 2)), 0.1, order=[0, 2])
    with pytest.raises(ValueError, match="order must be .* got dtype float64"):
        net.step(np.zeros((2, 4)), np.zeros((2, 2)), 0.1, order=[0.0, 1.0])
    with pytest.raises(ValueError, match="train takes one sample"):
        net.train(np.zeros((2, 4)), np.zeros((2, 2)), 0.1)


def test_assigned_parameters_are_checked():
    net = Network((4, 3, 2))
    net.weights[1] = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"net.weights\[1\] must be a C-contiguous float64 array of "
                                         r"shape \(2, 3\), writeable, got ndarray of shape \(3, 2\)"):
        net.predict(np.zeros(4))
    net.weights[1] = np.zeros((2, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="dtype float32"):
        net.predict(np.zeros(4))
    net.weights[1] = np.zeros((2, 3))
    net.biases = net.biases[:1]
    with pytest.raises(ValueError, match="net.biases has 1 arrays but the network has 2 layers"):
        net.predict(np.zeros(4))


def test_gradcheck_arguments():
    net = Network((4, 2))
    with pytest.raises(TypeError, match="net must be a neuronet.Network"):
        gradcheck("net", np.zeros((1, 4)), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="h must be finite and > 0"):
        gradcheck(net, np.zeros((1, 4)), np.zeros((1, 2)), h=0)
    with pytest.raises(ValueError, match="max_per_layer must be an integer >= 1"):
        gradcheck(net, np.zeros((1, 4)), np.zeros((1, 2)), max_per_layer=0)


def test_assigned_velocities_are_checked():
    # The compiled kernels do not check bounds: a short velocity corrupted the heap (exit 134).
    net = Network((4, 3, 2))
    net.velocity_w[0] = np.zeros((2, 2))
    with pytest.raises(ValueError, match=r"net.velocity_w\[0\] must be a C-contiguous float64 "
                                         r"array of shape \(3, 4\), writeable, got ndarray of "
                                         r"shape \(2, 2\)"):
        net.step(np.zeros((1, 4)), np.zeros((1, 2)), 0.1)
    net.velocity_w[0] = np.zeros((3, 4))
    net.velocity_b[1] = np.zeros(2, dtype=np.float32)
    with pytest.raises(ValueError, match=r"net.velocity_b\[1\] .* dtype float32"):
        net.train(np.zeros(4), np.zeros(2), 0.1)
    net.velocity_b[1] = np.zeros(4)[::2]
    with pytest.raises(ValueError, match=r"net.velocity_b\[1\] must be a C-contiguous"):
        net.step(np.zeros((1, 4)), np.zeros((1, 2)), 0.1)
    net.velocity_b[1] = np.zeros(2)
    net.weights[0].flags.writeable = False
    with pytest.raises(ValueError, match=r"net.weights\[0\] .* dtype float64, read-only"):
        net.step(np.zeros((1, 4)), np.zeros((1, 2)), 0.1)


# x . x, check_array's quick finiteness test, overflows for these inputs (numpy warns), which
# then go on to the full check and are found finite
@pytest.mark.filterwarnings("ignore:overflow encountered in dot:RuntimeWarning")
def test_predict_names_what_made_outputs_nan():
    net = Network((4, 3, 2), seed=0)
    # 1.7e308 is finite, but 2 x 1.7e308 is not: z = inf - inf = NaN, in any order of addition.
    x = np.array([1.7e308, 1.7e308, 0, 0])
    net.weights[0][0] = [2, -2, 0, 0]
    with pytest.raises(ValueError, match=r"x row 0 gives NaN outputs: its values \(up to 1.7e\+308 "
                                         r"in size\) are so large that the weighted inputs "
                                         r"overflow float64"):
        net.predict(x)
    net = Network((4, 3, 2), seed=0)
    net.weights[1][0, 2] = np.nan
    with pytest.raises(ValueError, match=r"net.weights\[1\] holds NaN or infinity, so the "
                                         r"network's outputs are NaN"):
        net.predict(np.zeros((3, 4)))


def test_float32_overflow_is_not_called_nan():
    net = Network((4, 2), dtype="float32")
    with pytest.raises(ValueError, match=r"x at index \(1,\) holds 1e\+39, too large for float32 "
                                         r"\(largest 3.4e\+38\)"):
        net.predict(np.array([0, 1e39, 0, 0]))
    with pytest.raises(ValueError, match=r"x contains NaN or infinity at index \(2,\)"):
        net.predict(np.array([0, 0, np.inf, 0]))


def test_predict_in_chunks_gives_every_row_and_names_the_right_row():
    from neuronet.network import PREDICT_ROWS
    net = Network((4, 3, 2), seed=0)
    x = np.random.default_rng(0).random((2 * PREDICT_ROWS + 7, 4))
    a = net.predict(x)
    assert a.shape == (2 * PREDICT_ROWS + 7, 2)
    for row in (0, PREDICT_ROWS - 1, PREDICT_ROWS, 2 * PREDICT_ROWS + 6):
        assert np.array_equal(a[row], net.predict(x[row]))  # a chunk boundary loses no row
    x[PREDICT_ROWS + 5, 3] = np.nan
    with pytest.raises(ValueError, match=rf"index \({PREDICT_ROWS + 5}, 3\)"):
        net.predict(x)


def test_both_spellings_of_cross_entropy_and_a_named_seed():
    assert Network((2, 1), cost="cross-entropy").cost == "cross_entropy"
    assert Network((2, 1), cost="cross_entropy").cost == "cross_entropy"
    with pytest.raises(ValueError, match="seed must be a whole number >= 0 .* got -1"):
        Network((2, 1), seed=-1)
    from neuronet import fit
    with pytest.raises(ValueError, match="seed must be a whole number >= 0"):
        fit(Network((2, 1)), np.zeros((2, 2)), [0, 0], epochs=1, learning_rate=0.1, seed=-1)


def test_a_batch_larger_than_the_rows_is_all_of_them():
    x, y = np.random.default_rng(0).random((5, 4)), np.eye(2)[[0, 1, 1, 0, 1]]
    huge, whole = Network((4, 3, 2), seed=0), Network((4, 3, 2), seed=0)
    huge.step(x, y, 0.5, batch_size=99999999999999999999)  # beyond int64
    whole.step(x, y, 0.5)
    assert all(np.array_equal(a, b) for a, b in zip(huge.weights, whole.weights))


@pytest.mark.parametrize("validation,error,words", [
    ((np.zeros((3, 4)), np.zeros(2, dtype=int)), ValueError,
     "validation x has 3 samples but validation y has 2"),
    ((np.zeros((3, 5)), np.zeros(3, dtype=int)), ValueError, r"validation x must have shape \(4,\)"),
    ((np.zeros((3, 4)), np.array([0, 1, 2])), ValueError,
     "validation y holds labels from 0 to 2, but the network has 2 outputs"),
    ((np.zeros((3, 4)), np.array([0.5, 1, 0])), TypeError, "validation y must be integer class"),
    ((np.zeros((3, 4)),), TypeError, r"validation must be a pair \(x, y\)"),
])
def test_validation_is_checked_before_training(validation, error, words):
    from neuronet import fit
    net = Network((4, 3, 2), seed=0)
    before = [p.copy() for p in net.weights + net.biases]
    x, labels = np.random.default_rng(0).random((20, 4)), np.arange(20) % 2
    with pytest.raises(error, match=words):
        fit(net, x, labels, epochs=1, learning_rate=0.5, validation=validation)
    assert all(np.array_equal(a, b) for a, b in zip(before, net.weights + net.biases))


def test_divergence_leaves_the_last_finite_state():
    from neuronet import DivergenceError, fit
    from neuronet.train import one_hot
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 100)
    x = rng.normal(0, 0.3, (100, 4)) + labels[:, None] * 1.5
    make = lambda: Network((4, 3, 2), seed=0, output="softmax", cost="cross_entropy")
    settings = {"learning_rate": 1e307, "momentum": 0.9}
    net = make()
    with np.errstate(all="ignore"), pytest.raises(DivergenceError, match=r"step (\d+) .* left as "
                                                  r"it was before that step") as info:
        fit(net, x, labels, epochs=1, batch_size=2, seed=5, **settings)
    step = int(re.search(r"step (\d+)", str(info.value))[1])
    # The state before that step, by plain stepping over fit's first-epoch order.
    by_hand = make()
    order = np.random.default_rng(5).permutation(100)
    by_hand.step(x, one_hot(labels, 2), batch_size=2, order=order[:2 * (step - 1)], **settings)
    for got, want in zip(parameters(net), parameters(by_hand)):
        assert np.isfinite(got).all()
        np.testing.assert_array_equal(got, want)
