import numpy as np
import pytest

from neuronet import Network, gradcheck


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
                                         r"shape \(2, 3\), got ndarray of shape \(3, 2\)"):
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
