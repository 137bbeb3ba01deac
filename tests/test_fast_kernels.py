"""Every path of the fused kernels of ``fast`` against the plain kernels of ``loops``.

The fused epoch picks its row loops per layer (``fused.backward_update``): plain SGD or momentum,
one sample (with the next sample's z formed in the first layer's pass) or a mini-batch, and the
float32 arithmetic stays float32. Each path is checked here against ``loops.sgd_epoch`` compiled
(``loops.KERNELS``), over one epoch in a shuffled order, at the tolerances of test_fast.py:
1e-12 for float64 and 1e-4 for float32 against float64 (the bounds argued there).

With momentum 0 (plain SGD) neither kernel touches the velocity: the tests fill it with NaN,
which would spread into the weights if it were read, and check it is still NaN afterwards.
"""
from functools import partial

import helpers
import numba
import numpy as np
import pytest
from helpers import masks_for, mnist_shaped, run_epoch

from neuronet import Network, backends, fused, loops, parallel, rules
from neuronet.records import Layer

TOL = 1e-12
TOL_FLOAT32 = 1e-4
JIT = not numba.config.DISABLE_JIT

PLAIN = backends.LoopBackend(loops.KERNELS)  # the plain kernels compiled ("loops-plain")
FUSED = backends.FastBackend(backends.FUSED)
PARALLEL = backends.FastBackend(backends.PARALLEL)

SHAPES = {"one-layer": (12, 3), "one-hidden": (20, 9, 4), "two-hidden": (15, 11, 7, 3)}
BATCHES = [1, 3, 4, 5, 8, 10]


# A network after one epoch of SGD (learning rate 0.5) over 13 shuffled samples; with momentum 0
# its velocities start as NaN, so any read of them would show in the weights.
epoch = partial(helpers.epoch, samples=13, nan_unused_velocities=True)


def compare(got, want, momentum, tol=TOL):
    """Largest difference of the parameters (and velocities, with momentum); with none, checks
    that both left every velocity alone (still NaN)."""
    arrays = [(a, b) for a, b in zip(got.weights + got.biases, want.weights + want.biases)]
    if momentum:
        arrays += list(zip(got.velocity_w + got.velocity_b, want.velocity_w + want.velocity_b))
    else:
        for net in (got, want):
            assert all(np.isnan(v).all() for v in net.velocity_w + net.velocity_b)
    for a, b in arrays:
        assert np.isfinite(a).all()
    difference = max(float(np.max(np.abs(a.astype(np.float64) - b))) for a, b in arrays)
    assert difference <= tol, difference
    return difference


@pytest.mark.parametrize("momentum,weight_decay", [(0.0, 0.0), (0.0, 1e-2), (0.9, 0.0), (0.9, 1e-2)],
                         ids=["sgd", "sgd-l2", "momentum", "momentum-l2"])
@pytest.mark.parametrize("batch_size", BATCHES, ids=lambda n: f"batch{n}")
@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_fused_epoch_agrees_with_plain_kernels(shape, batch_size, momentum, weight_decay):
    # 13 samples: batches of 3, 4, 5, 8 and 10 leave a shorter last batch; batch 1 runs the
    # first layer's pass with the next sample's z in it on every step but the last.
    want = epoch(PLAIN, shape, batch_size, momentum, weight_decay)
    compare(epoch(FUSED, shape, batch_size, momentum, weight_decay), want, momentum)


@pytest.mark.parametrize("output,cost", [("sigmoid", "cross_entropy"), ("softmax", "quadratic"),
                                         ("softmax", "cross_entropy")])
@pytest.mark.parametrize("momentum", [0.0, 0.9], ids=["sgd", "momentum"])
@pytest.mark.parametrize("batch_size", [1, 5], ids=lambda n: f"batch{n}")
def test_outputs_and_costs(output, cost, momentum, batch_size):
    args = (SHAPES["two-hidden"], batch_size, momentum, 1e-3, output, cost)
    compare(epoch(FUSED, *args), epoch(PLAIN, *args), momentum)


@pytest.mark.parametrize("momentum", [0.0, 0.9], ids=["sgd", "momentum"])
@pytest.mark.parametrize("batch_size", [1, 4, 5], ids=lambda n: f"batch{n}")
@pytest.mark.parametrize("shape", [SHAPES["one-hidden"], SHAPES["two-hidden"]],
                         ids=["one-hidden", "two-hidden"])
def test_dropout_masks(shape, batch_size, momentum):
    args = (shape, batch_size, momentum, 1e-3, "softmax", "cross_entropy")
    masks = masks_for(13, shape, rate=0.4, seed=7)
    compare(epoch(FUSED, *args, masks=masks), epoch(PLAIN, *args, masks=masks), momentum)


@pytest.mark.parametrize("momentum,weight_decay", [(0.0, 0.0), (0.9, 1e-3)],
                         ids=["sgd", "momentum-l2"])
@pytest.mark.parametrize("batch_size", [1, 3, 4, 5, 8, 10], ids=lambda n: f"batch{n}")
def test_float32(batch_size, momentum, weight_decay):
    # 784 inputs, so the sums are as long as MNIST's and the float32 bound of test_fast.py holds.
    shape = (784, 30, 10)
    want = epoch(PLAIN, shape, batch_size, momentum, weight_decay, samples=12)
    plain32 = epoch(PLAIN, shape, batch_size, momentum, weight_decay, dtype="float32", samples=12)
    got = epoch(FUSED, shape, batch_size, momentum, weight_decay, dtype="float32", samples=12)
    arrays = got.weights + got.biases + got.velocity_w + got.velocity_b
    assert all(array.dtype == np.float32 for array in arrays)
    difference = compare(got, want, momentum, TOL_FLOAT32)
    print(f"float32 against float64, batch {batch_size}, momentum {momentum}: {difference:.2e}")
    for a, b in zip(got.weights + got.biases, plain32.weights + plain32.biases):
        assert np.max(np.abs(a - b)) <= TOL_FLOAT32


@pytest.mark.parametrize("momentum", [0.0, 0.9], ids=["sgd", "momentum"])
@pytest.mark.parametrize("batch_size", [1, 3])
def test_parallel_paths(batch_size, momentum):
    # 300 * 120 = 36,000 weights >= PARALLEL_MIN_WEIGHTS: the first layer goes to the threads.
    shape = (300, 120, 3)
    want = epoch(PLAIN, shape, batch_size, momentum, 1e-3, samples=6)
    compare(epoch(PARALLEL, shape, batch_size, momentum, 1e-3, samples=6), want, momentum)


@pytest.mark.parametrize("momentum", [0.0, 0.9], ids=["sgd", "momentum"])
def test_plain_python_runs_the_same_paths(momentum):
    # The fused epoch as plain Python (no numba) steps through the same branches.
    python = backends.FastBackend(backends.FUSED_PYTHON)
    for batch_size in (1, 5):
        args = (SHAPES["one-hidden"], batch_size, momentum, 1e-3)
        compare(epoch(python, *args, samples=6), epoch(PLAIN, *args, samples=6), momentum)


@pytest.mark.parametrize("momentum", [0.0, 0.9], ids=["sgd", "momentum"])
@pytest.mark.parametrize("batch_size", [1, 5], ids=lambda n: f"batch{n}")
@pytest.mark.parametrize("backend", [FUSED, PARALLEL], ids=["fused", "parallel"])
def test_an_epoch_in_two_calls_gives_the_same_bits(backend, batch_size, momentum):
    # neuronet compare trains in lock-step chunks and expects fit's numbers to the last bit: the
    # first call of each chunk must form the first layer's z as the steps inside a call do. One
    # sample at a time the fused epoch goes by blocks that start with each call (tests/
    # test_blocks.py): there the split falls at the end of a block.
    shape = SHAPES["two-hidden"]
    x, y = mnist_shaped(20, seed=5, n_in=shape[0], n_out=shape[-1])
    order = np.random.default_rng(6).permutation(20)
    split = backends.BLOCK if batch_size == 1 else 10
    nets = [Network(shape, seed=4) for _ in range(2)]
    for net, parts in zip(nets, ([order], [order[:split], order[split:]])):
        for part in parts:
            run_epoch(backend, net, x, y, part, batch_size, 0.5, momentum, 1e-3)
    for a, b in zip(nets[0].weights + nets[0].biases, nets[1].weights + nets[1].biases):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("rule", ["nesterov", "adam"])
@pytest.mark.parametrize("batch_size", [1, 5], ids=lambda n: f"batch{n}")
def test_fused_rules_agree_with_the_plain_loops_and_split_epochs_give_the_same_bits(rule,
                                                                                    batch_size):
    settings = {"nesterov": {"momentum": 0.9, "nesterovs_momentum": True},
                "adam": {"solver": "adam"}}[rule]
    shape = SHAPES["two-hidden"]
    x, y = mnist_shaped(20, seed=5, n_in=shape[0], n_out=shape[-1])
    order = np.random.default_rng(6).permutation(20)
    nets = [Network(shape, seed=4, activation="tanh", backend=backend)
            for backend in ("loops", "loops", "loops-plain")]
    for net, parts in zip(nets, ([order], [order[:10], order[10:]], [order])):
        for part in parts:
            net.step(x, y, 0.05, batch_size=batch_size, order=part, weight_decay=1e-3,
                     **settings)
    state = [net.weights + net.biases + net.velocity_w + net.squares_w for net in nets]
    assert all(np.array_equal(a, b) for a, b in zip(state[0], state[1]))
    compare_arrays = [float(np.max(np.abs(a - b))) for a, b in zip(state[0], state[2])]
    assert max(compare_arrays) <= TOL
    assert nets[0].adam_steps.tolist() == ([20 // batch_size] if rule == "adam" else [0])


def test_plain_update_leaves_the_velocity_alone_without_momentum():
    rng = np.random.default_rng(0)
    w, grad_w = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    b, grad_b = rng.normal(size=3), rng.normal(size=3)
    v_w, v_b = np.full((3, 4), np.nan), np.full(3, np.nan)
    want_w, want_b = w - 0.5 * (grad_w + 1e-2 * w), b - 0.5 * grad_b
    step = rules.settings(0.5, 0.0, 1e-2, rules.SGD_RULE, w.dtype)
    for update in (loops.update, numba.njit(loops.update) if JIT else loops.update):
        w_now, b_now = w.copy(), b.copy()
        update(Layer(w_now, b_now, v_w, v_b, v_w, v_b), grad_w, grad_b, step)
        assert np.array_equal(w_now, want_w) and np.array_equal(b_now, want_b)
        assert np.isnan(v_w).all() and np.isnan(v_b).all()


ROW_KERNELS = {
    # name: argument types, with M a C-contiguous float32 matrix, V a vector, i an int, f a
    # float32, S a step's rules.Settings and L a records.Layer, both of float32
    "sgd_row_next": "M i f V S V f",
    "momentum_row": "M M i f V S",
    "error_step_row": "L i f V V S",
    "dot_row": "M i V f",
    "step_one": "V V V i f S",
    "step_row": "V V V V S f",
    "add_gradient": "V M M i f i i",
    "add_gradient_pair": "V V M M i f i i",
    "bias_gradient": "M i",
    "error_row": "M M M i i i",
    "step_tile": "L V M M i i i S",
    "step_tile_pair": "L V V M M i i i S",
    "momentum_pair": "L V V i i i S",
    "add_weighted_inputs": "M M M i i i",
    "add_weighted_inputs_pair": "M M M i i i",
    "forward_neuron": "M V M M i",
}


@pytest.mark.skipif(not JIT, reason="types are only inferred when numba compiles")
@pytest.mark.parametrize("name", ROW_KERNELS)
def test_float32_row_kernels_stay_float32(name):
    # An int 1 or a Python float in a float32 sum makes numba compute in float64 and convert
    # back (fpext in LLVM's code), which costs the float32 speed-up: no variable may be float64.
    matrix = np.zeros((2, 2), np.float32)
    types = {"M": numba.float32[:, ::1], "V": numba.float32[::1], "i": numba.int64,
             "f": numba.float32,
             "S": numba.typeof(rules.settings(0.5, 0.9, 1e-3, rules.SGD_RULE, np.dtype("float32"))),
             "L": numba.typeof(Layer(matrix, matrix[0], matrix, matrix[0], matrix, matrix[0]))}
    signature = tuple(types[t] for t in ROW_KERNELS[name].split())
    kernel = getattr(rules if name.startswith("step_") and hasattr(rules, name) else fused, name)
    compiled = numba.njit(signature, fastmath=parallel.FASTMATH)(kernel)
    typemap = compiled.overloads[signature].type_annotation.typemap
    promoted = sorted(var for var, kind in typemap.items() if kind == numba.float64)
    assert not promoted, f"{name}: float64 variables {promoted}"
    # the kernel's own code, not the wrapper that boxes a float32 result as a Python float
    functions = compiled.inspect_llvm(signature).split("\ndefine ")
    kernel_code = [code for code in functions if "cpython" not in code.split("(")[0]]
    assert not any("fpext" in code for code in kernel_code), f"{name}: float32 widened to float64"
