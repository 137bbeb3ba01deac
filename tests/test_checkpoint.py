"""save and load keep the update rule's state, so training after load continues with the
numbers of training that never stopped; what load refuses of that state; and the refusal of
parameters or state that are not finite.

The expected values come from an uninterrupted run: the same steps on a network that was never
saved.
"""
import io
import os
import zipfile

import numpy as np
import pytest
from helpers import everything

from neuronet import Network, load, save
from neuronet.saving import STATE

SHAPE = (16, 8, 4)
BACKENDS = ("loops", "loops-plain", "strict", "python", "vectorized")
# scikit-learn's names for the four rules
RULES = {"sgd": {}, "momentum": {"momentum": 0.9},
         "nesterov": {"momentum": 0.9, "nesterovs_momentum": True},
         "adam": {"solver": "adam"}}
EXACT = ("strict", "python")  # no fastmath: the same bits whatever is saved


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.random((40, SHAPE[0])), np.eye(SHAPE[-1])[rng.integers(0, SHAPE[-1], 40)]


def assert_same(a, b, exact):
    for got, want in zip(everything(a), everything(b), strict=True):
        if exact:
            np.testing.assert_array_equal(got, want)
        else:
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.plain_python
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("rule", RULES)
def test_steps_after_load_are_the_steps_never_stopped(tmp_path, data, backend, rule):
    """10 steps, save, load, 10 more: the uninterrupted 20 steps, bit for bit on strict and
    python (before, momentum 0.9 ended 0.32 away and Adam 0.046)."""
    x, y = data
    settings = dict(RULES[rule], batch_size=8)
    rate = 0.01 if rule == "adam" else 0.5
    never, stopped = Network(SHAPE, seed=1, backend=backend), Network(SHAPE, seed=1,
                                                                     backend=backend)
    for net in (never, stopped):
        for _ in range(10):
            net.step(x, y, rate, **settings)
    save(stopped, tmp_path / "net.npz")
    resumed = load(tmp_path / "net.npz", backend=backend)
    assert resumed.rule_settings == pytest.approx(never.rule_settings)
    for net in (never, resumed):
        for _ in range(10):
            net.step(x, y, rate, **settings)
    assert_same(resumed, never, exact=backend in EXACT)
    if rule != "sgd":  # the state saved was not zero, so losing it would have shown
        assert any(v.any() for v in stopped.velocity_w)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_train_after_load_is_train_never_stopped(tmp_path, data, momentum):
    """net.train leaves its first layer's step waiting; save applies it, and the calls after
    load continue with the numbers of calls never interrupted."""
    x, y = data
    never, stopped = Network(SHAPE, seed=2), Network(SHAPE, seed=2)
    for net in (never, stopped):
        for i in range(20):
            net.train(x[i], y[i], 0.5, momentum=momentum)
    save(stopped, tmp_path / "net.npz")
    resumed = load(tmp_path / "net.npz")
    errors = [[net.train(x[i], y[i], 0.5, momentum=momentum) for i in range(20, 40)]
              for net in (never, resumed)]
    assert errors[0] == errors[1]
    assert_same(resumed, never, exact=True)


def test_float32_state_round_trips(tmp_path, data):
    x, y = data
    net = Network(SHAPE, seed=3, dtype="float32")
    net.step(x, y, 0.01, solver="adam", batch_size=8)
    save(net, tmp_path / "net.npz")
    again = load(tmp_path / "net.npz")
    assert again.dtype == np.float32 and again.squares_w[0].dtype == np.float32
    assert_same(again, net, exact=True)
    assert again.adam_steps[0] == 5  # 40 samples in batches of 8


def test_zero_state_is_left_out_of_the_file(tmp_path, data):
    x, y = data
    net = Network(SHAPE, seed=4)
    net.step(x, y, 0.5)  # plain SGD: no velocities, no Adam
    save(net, tmp_path / "net.npz")
    names = set(zipfile.ZipFile(tmp_path / "net.npz").namelist())
    assert not any(name.startswith(("velocity", "squares", "adam")) for name in names)
    assert {"format.npy", "dtype.npy", "rule_settings.npy"} <= names


def npy(array):
    f = io.BytesIO()
    np.save(f, array)
    return f.getvalue()


def write_entries(path, arrays):
    with zipfile.ZipFile(path, "w") as archive:
        for name, array in arrays.items():
            archive.writestr(name + ".npy", array if isinstance(array, bytes) else npy(array))


def format_1(net):
    """The entries of a file saved before there was any state: parameters only."""
    arrays = {"sizes": np.array(net.sizes), "activation": np.array(net.activation),
              "output": np.array(net.output), "cost": np.array(net.cost)}
    for layer, (w, b) in enumerate(zip(net.weights, net.biases)):
        arrays[f"weights_{layer}"], arrays[f"biases_{layer}"] = w, b
    return arrays


def test_a_file_of_format_1_loads_with_zero_state(tmp_path):
    net = Network(SHAPE, seed=5)
    write_entries(tmp_path / "old.npz", format_1(net))
    old = load(tmp_path / "old.npz")
    for got, want in zip(old.weights + old.biases, net.weights + net.biases):
        np.testing.assert_array_equal(got, want)
    assert not any(a.any() for a in old.velocity_w + old.velocity_b + old.squares_w)
    assert old.adam_steps[0] == 0 and old.rule_settings is None


def saved_with_state(tmp_path):
    """The entries save writes for a network that has taken Adam steps."""
    rng = np.random.default_rng(0)
    net = Network(SHAPE, seed=6)
    net.step(rng.random((8, SHAPE[0])), np.eye(SHAPE[-1])[rng.integers(0, 4, 8)], 0.01,
             solver="adam")
    save(net, tmp_path / "net.npz")
    with np.load(tmp_path / "net.npz") as f:
        return {name: f[name] for name in f.files}


@pytest.mark.parametrize("change, words", [
    (lambda e: e.update(velocity_w_0=e["velocity_w_0"][:, :3].copy()),
     r"'velocity_w_0' must be float64 of shape \(8, 16\), found float64 of shape \(8, 3\)"),
    (lambda e: e.update(squares_b_1=e["squares_b_1"].astype(np.float32)),
     r"'squares_b_1' must be float64 of shape \(4,\), found float32"),
    (lambda e: e["velocity_b_0"].__setitem__(2, np.nan), "'velocity_b_0' holds NaN"),
    (lambda e: e["squares_w_1"].__setitem__((0, 0), -1.0), "'squares_w_1' holds negative"),
    (lambda e: e.pop("squares_w_1"), "squares_w entries for some layers but not all"),
    (lambda e: e.update(adam_steps=np.array([3], np.int32)),
     r"'adam_steps' must be int64 of shape \(1,\)"),
    (lambda e: e.update(adam_steps=np.array([-1])), "'adam_steps' must be >= 0"),
    (lambda e: e.update(format=np.array(3)), "format 3, written by a newer neuronet"),
    (lambda e: e.update(dtype=np.array("float32")), "'dtype' says float32 but 'weights_0' is"),
    (lambda e: e.update(rule_settings=np.array([0.1, 0, 0, 7, 0.9, 0.999, 1e-8])),
     "solver code"),
    (lambda e: e.update(momentum_0=np.zeros(3)), "expected entries"),
])
def test_bad_state_entries_are_refused_by_name(tmp_path, change, words):
    entries = saved_with_state(tmp_path)
    change(entries)
    write_entries(tmp_path / "bad.npz", entries)
    with pytest.raises(ValueError, match=words) as error:
        load(tmp_path / "bad.npz")
    assert "bad.npz" in str(error.value)


def test_the_untouched_entries_load(tmp_path):
    """The entries of saved_with_state, written back unchanged, load: the refusals above are
    of the change alone."""
    write_entries(tmp_path / "good.npz", saved_with_state(tmp_path))
    assert load(tmp_path / "good.npz").adam_steps[0] == 1


@pytest.mark.parametrize("where", ["savez", "fsync", "chmod", "replace"])
def test_a_save_interrupted_at_any_point_leaves_the_old_file(tmp_path, monkeypatch, where):
    """Interrupted (KeyboardInterrupt, which a kill can be) while writing, flushing, setting
    permissions or renaming: the old file is whole and no temporary file is left."""
    old, new = Network(SHAPE, seed=7), Network(SHAPE, seed=8)
    save(old, tmp_path / "net.npz")
    before = (tmp_path / "net.npz").read_bytes()

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    module = np if where == "savez" else os
    monkeypatch.setattr(module, where, interrupt)
    with pytest.raises(KeyboardInterrupt):
        save(new, tmp_path / "net.npz")
    monkeypatch.undo()
    assert (tmp_path / "net.npz").read_bytes() == before
    assert os.listdir(tmp_path) == ["net.npz"]
    np.testing.assert_array_equal(load(tmp_path / "net.npz").weights[0], old.weights[0])


# --- training refuses what is not finite --------------------------------------------------

@pytest.mark.plain_python
@pytest.mark.parametrize("kind, rule", [("weights", "sgd"), ("biases", "sgd"),
                                        ("velocity_w", "momentum"), ("velocity_b", "nesterov"),
                                        ("squares_w", "adam"), ("squares_b", "adam")])
def test_step_refuses_non_finite_state_and_changes_nothing(data, kind, rule):
    x, y = data
    net = Network(SHAPE, seed=9)
    getattr(net, kind)[1][0] = np.nan
    before = [a.copy() for a in everything(net)]
    with pytest.raises(ValueError, match=rf"^net\.{kind}\[1\] holds NaN or infinity, so "
                                         "training cannot go on; .* load a saved network"):
        net.step(x, y, 0.1, **RULES[rule])
    for got, want in zip(everything(net), before):
        np.testing.assert_array_equal(got, want)


def test_state_the_rule_does_not_read_is_not_refused(data):
    """Plain SGD reads no velocity, so a NaN velocity changes nothing it does."""
    x, y = data
    net = Network(SHAPE, seed=9)
    net.velocity_w[0][0, 0] = np.inf
    net.step(x, y, 0.1)
    assert np.isfinite(net.weights[0]).all()


@pytest.mark.parametrize("backend", ["loops", "vectorized"])
def test_train_refuses_nan_weights(data, backend):
    """Before, train returned nan and left NaN everywhere. Weights assigned with NaN are
    refused at the call's checks; NaN written into the arrays in place, at the call's cost."""
    x, y = data
    net = Network(SHAPE, seed=10, backend=backend)
    net.weights = [w.copy() for w in net.weights]
    net.weights[0][3, 3] = np.nan
    with pytest.raises(ValueError, match=r"^net\.weights\[0\] holds NaN or infinity, so "
                                         "training cannot go on;"):
        net.train(x[0], y[0], 0.1)
    net = Network(SHAPE, seed=10, backend=backend)
    net.train(x[0], y[0], 0.1)  # bound: the next call goes straight to the kernel
    net.weights[1][0, 0] = np.nan
    # (the loops backend sees it in the cost, after the step, and says that the step spread it)
    with pytest.raises(ValueError, match=r"holds NaN or infinity, so training cannot go on"):
        net.train(x[1], y[1], 0.1)


def test_train_refuses_a_nan_velocity_by_the_next_call(data):
    """A velocity set to NaN in place reaches the weights at the step that reads it, and the
    call after refuses: train checks its cost, not every array (that would double its time)."""
    x, y = data
    net = Network(SHAPE, seed=11)
    net.train(x[0], y[0], 0.1, momentum=0.9)
    net.velocity_w[1][...] = np.nan
    with pytest.raises(ValueError, match="training cannot go on"):
        for i in range(1, 3):
            net.train(x[i], y[i], 0.1, momentum=0.9)


def test_fit_refuses_non_finite_velocities(data):
    from neuronet import fit
    x, y = data
    net = Network(SHAPE, seed=12)
    net.velocity_b[0][1] = np.nan
    with pytest.raises(ValueError, match=r"net\.velocity_b\[0\] holds NaN .* set it to zero"):
        fit(net, x, y.argmax(axis=1), epochs=1, learning_rate=0.1, momentum=0.5)


def test_save_refuses_non_finite_state(tmp_path):
    net = Network(SHAPE, seed=13)
    net.squares_w[0][0, 0] = np.inf
    with pytest.raises(ValueError, match=r"net\.squares_w\[0\] holds NaN or infinity"):
        save(net, tmp_path / "net.npz")
    assert not (tmp_path / "net.npz").exists()


def test_state_names_are_the_networks():
    net = Network(SHAPE)
    for kind in STATE:
        assert len(getattr(net, kind)) == len(SHAPE) - 1
