"""``Network.train`` with the "loops" backend leaves each call's first-layer step waiting for the
next call (``sample.train_sample``): the steps must be those of the plain kernels whatever the
settings of each call, and every read or other use of the network must see them all.

Expected parameters come from the python backend (the plain kernels, uncompiled) stepping on the
same samples, one ``step`` a sample, and from the plain compiled loops; the bits from the fused
epoch with blocks of one sample, whose loops a call of train runs.
"""

import numpy as np
import pytest
from helpers import mnist_shaped, parameters, run_epoch

from neuronet import Network, load, save
from neuronet.backends import FUSED, FastBackend
from neuronet.sample import array_kinds, typing_kinds

pytestmark = pytest.mark.plain_python

# The plain kernels sum in another order: rounding apart (as in tests/test_agreement.py).
TOL = 1e-12
SETTINGS = [{}, {"weight_decay": 0.1}, {"momentum": 0.9}, {"momentum": 0.9,
                                                                    "weight_decay": 0.1}]
NETWORKS = [{"shape": (6, 5, 4)}, {"shape": (6, 4)}, {"shape": (6, 5, 3, 4), "activation": "tanh"},
            {"shape": (6, 5, 4), "activation": "relu", "output": "softmax", "cost": "cross_entropy"},
            {"shape": (6, 3, 4), "cost": "cross_entropy"}]


def assert_close(net, want, tol=TOL):
    for got, expected in zip(parameters(net), parameters(want)):
        np.testing.assert_allclose(got, expected, rtol=0, atol=tol)


def pair(n=7, **network):
    n_in, n_out = network["shape"][0], network["shape"][-1]
    x, y = mnist_shaped(n, seed=1, n_in=n_in, n_out=n_out)
    return Network(seed=2, **network), Network(seed=2, backend="python", **network), x, y


@pytest.mark.parametrize("settings", SETTINGS, ids=["plain", "l2", "momentum", "momentum-l2"])
@pytest.mark.parametrize("network", NETWORKS, ids=lambda n: "-".join(map(str, n["shape"]))
                         + "-" + n.get("cost", "quadratic"))
def test_calls_of_train_step_as_the_plain_kernels(network, settings):
    net, want, x, y = pair(**network)
    for i in range(len(x)):
        error = net.train(x[i], y[i], 0.5, **settings)
        assert error == pytest.approx(want.loss(x[i], y[i]), abs=1e-14)  # before the step
        want.step(x[i], y[i], 0.5, **settings)
    assert_close(net, want)


@pytest.mark.parametrize("settings", SETTINGS, ids=["plain", "l2", "momentum", "momentum-l2"])
def test_calls_of_train_give_the_bits_of_one_epoch_of_one_sample_steps(settings):
    """The same loops in the same order as ``sgd_epoch`` with blocks of one sample."""
    net, _, x, y = pair(n=9, shape=(6, 5, 3, 4))
    for i in range(len(x)):
        net.train(x[i], y[i], 0.5, **settings)
    epoch = Network((6, 5, 3, 4), seed=2)
    eta, mu, l2 = 0.5, settings.get("momentum", 0.0), settings.get("weight_decay", 0.0)
    run_epoch(FastBackend(FUSED, block=1), epoch, x, y, np.arange(len(x)), 1, eta, mu, l2)
    for got, expected in zip(parameters(net), parameters(epoch)):
        np.testing.assert_array_equal(got, expected)


def test_each_call_keeps_its_own_settings():
    """A waiting step is applied with the settings of the call that took it."""
    net, want, x, y = pair(n=6, shape=(6, 5, 4))
    calls = [{"learning_rate": 0.5}, {"learning_rate": 0.1, "momentum": 0.9},
             {"learning_rate": 0.3, "weight_decay": 0.2}, {"learning_rate": 0.4},
             {"learning_rate": 0.2, "momentum": 0.5, "weight_decay": 0.1}, {"learning_rate": 1.0}]
    for i, settings in enumerate(calls):
        net.train(x[i], y[i], **settings)
        want.step(x[i], y[i], **settings)
    assert_close(net, want)


@pytest.mark.parametrize("use", ["weights", "biases", "velocity_w", "velocity_b", "predict",
                                 "loss", "gradients", "step", "save", "other backend"])
def test_every_use_of_the_network_sees_the_waiting_step(use, tmp_path):
    net, want, x, y = pair(n=3, shape=(6, 5, 4))
    for i in range(2):
        net.train(x[i], y[i], 0.5, momentum=0.9)
        want.step(x[i], y[i], 0.5, momentum=0.9)
    if use in ("weights", "biases", "velocity_w", "velocity_b"):
        for got, expected in zip(getattr(net, use), getattr(want, use)):
            np.testing.assert_allclose(got, expected, rtol=0, atol=TOL)
    elif use == "predict":
        np.testing.assert_allclose(net.predict(x), want.predict(x), rtol=0, atol=TOL)
    elif use == "loss":
        assert net.loss(x, y) == pytest.approx(want.loss(x, y), abs=TOL)
    elif use == "gradients":
        flat = [[g for layer in n.gradients(x, y) for g in layer] for n in (net, want)]
        for got, expected in zip(*flat):
            np.testing.assert_allclose(got, expected, rtol=0, atol=TOL)
    elif use == "step":
        net.step(x[2:], y[2:], 0.5, momentum=0.9)
        want.step(x[2:], y[2:], 0.5, momentum=0.9)
        assert_close(net, want)
    elif use == "save":
        save(net, tmp_path / "net.npz")
        loaded = load(tmp_path / "net.npz")
        for got, expected in zip(loaded.weights + loaded.biases, want.weights + want.biases):
            np.testing.assert_allclose(got, expected, rtol=0, atol=TOL)
    else:
        net.backend = "vectorized"
        net.train(x[2], y[2], 0.5, momentum=0.9)
        want.step(x[2], y[2], 0.5, momentum=0.9)
        net.backend = "loops"
        assert_close(net, want)


def test_replacing_some_parameters_keeps_the_waiting_step_of_the_others():
    """net.biases = ... after train: the waiting step still reaches the weights, and the new
    biases are the ones assigned (the step is applied before the assignment, not after)."""
    net, want, x, y = pair(n=2, shape=(6, 5, 4))
    net.train(x[0], y[0], 0.5)
    want.step(x[0], y[0], 0.5)
    new = [np.full_like(b, 0.25) for b in want.biases]
    net.biases = [b.copy() for b in new]
    for got, expected in zip(net.weights, want.weights):
        np.testing.assert_allclose(got, expected, rtol=0, atol=TOL)
    for got, expected in zip(net.biases, new):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("then", ["train", "read"])
def test_the_waiting_step_checks_the_velocities_it_applies(then):
    """The kernels do not check bounds: a velocity of the wrong shape, put behind the getter
    (which would apply the step first), is refused before the waiting step runs on it."""
    net, _, x, y = pair(n=3, shape=(6, 5, 4))
    net.train(x[0], y[0], 0.5, momentum=0.9)
    net.__dict__["_velocity_w"][0] = np.zeros((2, 2))
    with pytest.raises(ValueError, match=r"net.velocity_w\[0\] must be a C-contiguous float64"):
        net.train(x[1], y[1], 0.5) if then == "train" else net.weights


# --- train's checks, made cheap: arrays train accepted before go straight to the kernel, which
# checks their shapes and x's and y's values itself (Network._train_sample, sample.sample_fits).

def trained_pair(shape=(6, 5, 4)):
    """A network that has taken one train step (so its arrays are bound) and its reference."""
    net, want, x, y = pair(n=5, shape=shape)
    net.train(x[0], y[0], 0.5, momentum=0.9)
    want.step(x[0], y[0], 0.5, momentum=0.9)
    return net, want, x, y


@pytest.mark.parametrize("change, message", [
    ("shape", (r"net.weights\[0\] must be a C-contiguous float64 array of shape \(5, 6\).*shape "
              r"\(6, 5\)")),
    ("read-only", r"net.weights\[0\] .* dtype float64, read-only"),
    ("dtype", r"net.biases\[1\] must be .* dtype int64"),
    ("dimensions", r"net.velocity_w\[1\] must be .* shape \(4, 5\).*shape \(4, 5, 1\)")])
def test_an_accepted_array_changed_in_place_is_refused(change, message):
    """The same array objects as at the last call, changed in place: refused (by the kernel's
    own checks or by numba's typing) before anything changes, with the full checks' message."""
    net, want, x, y = trained_pair()
    if change == "shape":
        net.weights[0].shape = (6, 5)
    elif change == "read-only":
        net.weights[0].flags.writeable = False
    elif change == "dtype":
        net.biases[1].dtype = np.int64  # the same 8 bytes an item, read as integers
    else:
        net.velocity_w[1].shape = (4, 5, 1)  # the same numbers, one dimension more
    with pytest.raises(ValueError, match=message):
        net.train(x[1], y[1], 0.5, momentum=0.9)
    if change in ("shape", "read-only"):  # undo it: the refused call changed nothing
        net.weights[0].shape = (5, 6)
        net.weights[0].flags.writeable = True
        assert_close(net, want)


def read_only(a):
    a.flags.writeable = False


def as_integers(a):
    a.dtype = np.int64


def one_dimension_more(a):
    a.shape = (*a.shape, 1)


@pytest.mark.parametrize("kinds", [array_kinds, typing_kinds], ids=["python", "numba"])
@pytest.mark.parametrize("change, same", [
    (read_only, False), (as_integers, False), (one_dimension_more, False),
    (lambda a: a.T, False), (lambda a: a[:, ::2], False), (lambda a: a.astype(np.float32), False),
    (lambda a: a.copy(), True)], ids=["read-only", "dtype", "ndim", "layout F", "layout A",
                                      "float32", "a copy"])
def test_the_kinds_train_compares_change_with_each_array_numba_types_otherwise(kinds, change,
                                                                              same):
    """The kinds of the arrays train bound (``sample.typing_kinds``, numba's own reading of
    them, or ``array_kinds`` where numba lacks it) differ after each change in place, or in
    place of an array, that numba types as another array, and not for a copy."""
    arrays = (np.zeros((4, 6)), np.zeros(6))
    before = kinds(arrays)
    assert kinds((np.ones((3, 2)), np.ones(9))) == before  # other arrays, the same kinds
    changed = change(arrays[0])
    assert (kinds(arrays if changed is None else (changed, arrays[1])) == before) == same


@pytest.mark.parametrize("bad, message", [
    ("x nan", r"x contains NaN or infinity at index \(3,\)"),
    ("y inf", r"y contains NaN or infinity at index \(1,\)"),
    ("x short", r"x must have shape \(6,\) for one sample"),
    ("y long", r"y must have shape \(4,\) for one sample")])
def test_a_bad_sample_after_good_ones_is_refused_and_nothing_is_lost(bad, message):
    """x and y as the kernel takes them (1-D float64) but wrong: the kernel refuses them, the
    full checks say why, and the step waiting from the call before is still applied later."""
    net, want, x, y = trained_pair()
    xb, yb = x[1].copy(), y[1].copy()
    if bad == "x nan":
        xb[3] = np.nan
    elif bad == "y inf":
        yb[1] = np.inf
    elif bad == "x short":
        xb = xb[:5].copy()
    else:
        yb = np.append(yb, 0.0)
    with pytest.raises(ValueError, match=message):
        net.train(xb, yb, 0.5, momentum=0.9)
    for i in (1, 2):
        net.train(x[i], y[i], 0.5, momentum=0.9)
        want.step(x[i], y[i], 0.5, momentum=0.9)
    assert_close(net, want)


@pytest.mark.parametrize("given", ["list", "float32", "float16", "one row", "strided"])
def test_samples_the_kernel_does_not_take_as_they_are_are_converted(given):
    """x as train's kernel does not take it, numba's typing having no type for float16: the
    full checks convert it."""
    net, want, x, y = trained_pair()
    wide = np.repeat(x[1], 2)  # x[1] at every other element
    sample = {"list": list(x[1]), "float32": x[1].astype(np.float32), "one row": x[1:2],
              "float16": x[1].astype(np.float16), "strided": wide[::2]}[given]
    expected = sample.astype(float) if given.startswith("float") else x[1]
    error = net.train(sample, y[1], 0.5, momentum=0.9)
    assert error == pytest.approx(want.loss(expected, y[1]), abs=1e-14)
    want.step(expected, y[1], 0.5, momentum=0.9)
    assert_close(net, want)


@pytest.mark.parametrize("given, error, message", [
    ("x", TypeError, r"x must hold real numbers, got dtype object"),
    ("y", TypeError, r"y must hold real numbers, got dtype <U3"),
    ("weights", ValueError, r"net.weights\[1\] must be a C-contiguous float64 .* dtype float16"),
    ("biases", ValueError, r"net.biases\[0\] must be a C-contiguous float64 .* dtype \|S8")])
def test_arrays_of_dtypes_numba_has_no_type_for_get_the_full_checks_message(given, error,
                                                                            message):
    """An x or y, or a bound parameter array changed in place, of a dtype numba cannot type:
    the full checks' message, and nothing changes."""
    net, want, x, y = trained_pair()
    xb, yb = x[1], y[1]
    if given == "x":
        xb = x[1].astype(object)
    elif given == "y":
        yb = np.array(["0.1"] * 4)
    elif given == "weights":
        net.weights[1].dtype = np.float16  # four of them to each float64
    else:
        net.biases[0].dtype = "S8"
    with pytest.raises(error, match=message):
        net.train(xb, yb, 0.5, momentum=0.9)
    if given in ("x", "y"):
        assert_close(net, want)


def test_train_follows_parameters_replaced_between_calls():
    """A list item assigned, or a whole list: new arrays, so train checks them in full and
    steps them, not the arrays of the call before."""
    net, want, x, y = trained_pair()
    for n in (net, want):
        n.weights[1] = np.full((4, 5), 0.1)
    net.train(x[1], y[1], 0.5, momentum=0.9)
    want.step(x[1], y[1], 0.5, momentum=0.9)
    for n in (net, want):
        n.velocity_b = [np.full(5, 0.01), np.full(4, -0.01)]
    net.train(x[2], y[2], 0.5, momentum=0.9)
    want.step(x[2], y[2], 0.5, momentum=0.9)
    assert_close(net, want)
    net.weights[1] = np.zeros((5, 4))
    with pytest.raises(ValueError, match=r"net.weights\[1\] must be .* shape \(4, 5\)"):
        net.train(x[3], y[3], 0.5)


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copy_trains_its_own_arrays(how):
    """The arguments train keeps between calls are copied with the network: a copy's calls
    step the copy, and leave the original as it was."""
    import copy
    import pickle
    net, want, x, y = trained_pair()
    twin = copy.deepcopy(net) if how == "deepcopy" else pickle.loads(pickle.dumps(net))
    before = [p.copy() for p in parameters(net)]
    for i in (1, 2):
        twin.train(x[i], y[i], 0.5, momentum=0.9)
        want.step(x[i], y[i], 0.5, momentum=0.9)
    assert_close(twin, want)
    for got, expected in zip(parameters(net), before):
        np.testing.assert_array_equal(got, expected)


def test_train_follows_a_changed_cost():
    net, _, x, y = trained_pair()
    net.cost = "cross_entropy"
    want = Network((6, 5, 4), cost="cross_entropy")
    want.weights, want.biases = [w.copy() for w in net.weights], [b.copy() for b in net.biases]
    assert net.train(x[1], y[1], 0.5) == pytest.approx(want.loss(x[1], y[1]), abs=1e-14)


def test_settings_are_checked_at_every_call_whatever_came_before():
    """check_step answers the very objects of its last call, or equal settings of the same
    types, from a cache: a new value is checked, and True is not taken for 1."""
    net, _, x, y = trained_pair()
    rate = 0.5
    for _ in range(2):
        net.train(x[1], y[1], rate, momentum=0.9)
    for bad, error in ((-0.5, ValueError), (float("nan"), ValueError), (True, TypeError)):
        with pytest.raises(error, match="learning_rate must be"):
            net.train(x[1], y[1], bad)
    net.train(x[1], y[1], 1)
    with pytest.raises(TypeError, match="learning_rate must be a real number"):
        net.train(x[1], y[1], True)
    with pytest.raises(ValueError, match="momentum must be < 1"):
        net.train(x[1], y[1], rate, momentum=1.0)


def test_a_one_neuron_layer_takes_a_bias_of_any_stride():
    """numpy calls a one-item array C-contiguous whatever its stride (np.zeros(2)[::2] has 16
    bytes): the full checks accept it, so the kernel's own checks must too."""
    net, want, x, y = pair(n=3, shape=(6, 5, 1))
    for n in (net, want):
        n.biases[1] = np.full(2, 0.3)[::2]
    for i in range(3):
        net.train(x[i], y[i], 0.5)
        want.step(x[i], y[i], 0.5)
    assert_close(net, want)
