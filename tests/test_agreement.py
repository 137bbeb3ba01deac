"""The loops, python and vectorized backends and a naive reference give the same numbers.

Tolerance: the backends differ only in the order of the sums z[j] = b[j] + sum_k w[j, k] a[k]
(numba may reassociate them for SIMD, BLAS blocks them). The rounding error of a sum of n terms
is at most about n * eps * sum |terms| (Higham, Accuracy and Stability, 2.2); here n <= 784,
eps = 1.1e-16 and sum |w a| is a few units for N(0, 1/n_in) weights and inputs in [0, 1], so
under 1e-12, and the sigmoid (slope <= 1/4) only shrinks it. Measured differences are printed
by ``python -m pytest tests/test_agreement.py -s -k "mnist_shapes or ten_thousand"``.
"""
import naive
import numpy as np
import pytest
from helpers import largest_difference, mnist_shaped
from hypothesis import given, settings
from hypothesis import strategies as st

from neuronet import Network, load_mnist
from neuronet.backends import BACKENDS

pytestmark = pytest.mark.plain_python

TOL = 1e-12


def twins(shape, seed, **kwargs):
    """One network per backend, all from the same seed."""
    return {name: Network(shape, seed=seed, backend=name, **kwargs) for name in BACKENDS}


def test_hand_worked_example():
    # 2 inputs, 1 hidden neuron, 1 output; numbers chosen so every step is exact in binary.
    net = Network((2, 1, 1), backend="loops")
    net.weights = [np.array([[0.5, -0.25]]), np.array([[2.0]])]
    net.biases = [np.array([0.0]), np.array([-1.0])]
    x, y = np.array([1.0, 2.0]), np.array([1.0])
    # hidden: z = 0.5*1 - 0.25*2 + 0 = 0, a = sigma(0) = 0.5
    # output: z = 2*0.5 - 1 = 0, a = 0.5; error = 0.5*(0.5 - 1)^2 = 0.125
    for name in BACKENDS:
        net.backend = name
        assert net.predict(x).tolist() == [0.5]
        grad_w, grad_b = net.gradients(x, y)
        # output delta = (a - y) a (1 - a) = -0.5*0.25 = -0.125; grad_w = delta*a_hidden = -0.0625
        assert grad_b[1].tolist() == [-0.125]
        assert grad_w[1].tolist() == [[-0.0625]]
        # hidden delta = w*delta * a(1 - a) = 2*-0.125*0.25 = -0.0625; grad_w = delta*x
        assert grad_b[0].tolist() == [-0.0625]
        assert grad_w[0].tolist() == [[-0.0625, -0.125]]
    net.backend = "loops"
    assert net.train(x, y, learning_rate=4.0) == 0.125
    # w <- w - 4*grad: hidden (0.75, 0.25), bias 0.25; output 2.25, bias -0.5
    assert net.weights[0].tolist() == [[0.75, 0.25]]
    assert net.biases[0].tolist() == [0.25]
    assert net.weights[1].tolist() == [[2.25]]
    assert net.biases[1].tolist() == [-0.5]


@pytest.mark.parametrize("output,cost", [("sigmoid", "quadratic"), ("sigmoid", "cross_entropy"),
                                         ("softmax", "quadratic"), ("softmax", "cross_entropy")])
def test_forward_and_gradients_agree_on_mnist_shapes(output, cost):
    x, y = mnist_shaped(8, seed=3)
    nets = twins((784, 30, 10), seed=1, output=output, cost=cost)
    reference = nets.pop("vectorized")
    want_a = reference.predict(x)
    want_w, want_b = reference.gradients(x, y)
    for name, net in nets.items():
        grad_w, grad_b = net.gradients(x, y)
        found = {"output": np.max(np.abs(net.predict(x) - want_a)),
                 "grad_w": largest_difference(grad_w, want_w),
                 "grad_b": largest_difference(grad_b, want_b)}
        print(f"\n784-30-10 {output}/{cost}, {name} vs vectorized: "
              + ", ".join(f"{key} {value:.1e}" for key, value in found.items()), end="")
        assert max(found.values()) <= TOL, (name, found)


shapes = st.lists(st.integers(1, 64), min_size=2, max_size=5)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(shape=shapes, seed=st.integers(0, 2**32 - 1), batch=st.integers(1, 4))
def test_backends_and_naive_reference_agree(shape, seed, batch):
    x, y = mnist_shaped(batch, seed=seed, n_in=shape[0], n_out=shape[-1])
    nets = twins(shape, seed)
    weights = [w.tolist() for w in nets["loops"].weights]
    biases = [b.tolist() for b in nets["loops"].biases]
    want_a = np.array([naive.feedforward(weights, biases, row)[-1] for row in x])
    want_w, want_b = naive.gradients(weights, biases, x.tolist(), y.tolist())
    for name, net in nets.items():
        assert np.max(np.abs(net.predict(x) - want_a)) <= TOL, name
        grad_w, grad_b = net.gradients(x, y)
        assert largest_difference(grad_w, [np.array(g) for g in want_w]) <= TOL, name
        assert largest_difference(grad_b, [np.array(g) for g in want_b]) <= TOL, name


@settings(max_examples=15, deadline=None, derandomize=True)
@given(shape=shapes, seed=st.integers(0, 2**32 - 1), batch_size=st.integers(1, 5),
       momentum=st.sampled_from([0.0, 0.9]), weight_decay=st.sampled_from([0.0, 1e-3]))
def test_sgd_steps_agree(shape, seed, batch_size, momentum, weight_decay):
    x, y = mnist_shaped(12, seed=seed, n_in=shape[0], n_out=shape[-1])
    order = np.random.default_rng(seed).permutation(12)
    nets = twins(shape, seed)
    for net in nets.values():
        net.step(x, y, 0.5, batch_size=batch_size, order=order, momentum=momentum,
                 weight_decay=weight_decay)
    reference = nets.pop("vectorized")
    for name, net in nets.items():
        assert largest_difference(net.weights, reference.weights) <= TOL, name
        assert largest_difference(net.biases, reference.biases) <= TOL, name
        if momentum:  # with none the loop kernels leave the velocity alone
            assert largest_difference(net.velocity_w, reference.velocity_w) <= TOL, name


@pytest.mark.slow
def test_ten_thousand_sgd_steps_stay_together():
    # 784-30-10 at learning rate 0.05, batch size 1: a stable regime, where rounding differences
    # are damped rather than amplified (at 0.5 on hard data every implementation drifts apart).
    x, y = mnist_shaped(10_000, seed=7)
    nets = {name: Network((784, 30, 10), seed=2, backend=name) for name in ("loops", "vectorized")}
    for net in nets.values():
        net.step(x, y, 0.05, batch_size=1)
    loops, vectorized = nets["loops"], nets["vectorized"]
    found = (largest_difference(loops.weights, vectorized.weights),
             largest_difference(loops.biases, vectorized.biases))
    print(f"\nafter 10,000 SGD steps: weights {found[0]:.1e}, biases {found[1]:.1e}", end="")
    assert max(found) <= 1e-10
    assert np.array_equal(loops.predict(x).argmax(axis=1), vectorized.predict(x).argmax(axis=1))
    # Training moved the parameters, so the agreement above is not that of untouched twins.
    assert largest_difference(loops.weights, Network((784, 30, 10), seed=2).weights) > 1e-3


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.parametrize("batch_size, learning_rate", [(1, 0.05), (10, 3.0)])
def test_ten_thousand_real_mnist_steps_stay_together(mnist_folder, batch_size, learning_rate):
    # The post's network on the first 10,000 real training images, one sample a step (10,000
    # steps) and Nielsen's mini-batches of 10: every compiled backend ends within TOL of the
    # twin. "strict" stands for "python" here (its bits, test_strict.py), which takes minutes.
    (x, labels), _ = load_mnist(mnist_folder, progress=False)
    x, y = x[:10_000], np.eye(10)[labels[:10_000]]
    nets = {name: Network((784, 30, 10), seed=2, backend=name)
            for name in ("loops", "loops-plain", "strict", "vectorized")}
    for net in nets.values():
        net.step(x, y, learning_rate, batch_size=batch_size)
    twin = nets.pop("vectorized")
    for name, net in nets.items():
        found = max(largest_difference(net.weights, twin.weights),
                    largest_difference(net.biases, twin.biases))
        print(f"\n{name} after 10,000 MNIST samples at batch {batch_size}: {found:.1e}", end="")
        assert found <= TOL, name
    assert largest_difference(twin.weights, Network((784, 30, 10), seed=2).weights) > 1e-2
