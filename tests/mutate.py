"""The mutation check: does the test suite notice plausible bugs?

Each mutation below is one small, plausible mistake: a file, a snippet of its source, what the
snippet becomes, and what the mistake means. For each, the script copies the repository to a
temporary folder, makes that one edit there, and runs the tests on the copy, with its own numba
cache (the copy's ``__pycache__``; ``NUMBA_CACHE_DIR`` is unset for the run). A mutation the
tests do not fail on *survives*: the suite let that bug through. Survivors are listed, and the
exit code is 1 if any mutation survives, if the unmutated copy fails its tests (the baseline),
or if a snippet is not found exactly once in its file, so that the list cannot rot silently as
the code moves: update the snippet then.

    python tests/mutate.py                    # every mutation, two at a time
    python tests/mutate.py -j 1 rules-        # the mutations whose names start with "rules-"
    python tests/mutate.py --list             # names and descriptions
    python tests/mutate.py --pytest "-x -q tests/test_activations.py" act-softmax-max

The tests run are ``-x -q -m "not slow" tests`` by default (``--pytest`` to change), with
``NEURONET_DATA`` passed through. Run from the repository root or anywhere: the repository is
the parent of this file's folder. Every mutant compiles the kernels afresh, so a run is slow:
on a 2-core machine shared with other work, the unmutated copy took
1,250 s and a killed mutant 60 to 300 s; 32 mutations took 2,041 s with ``-j 2`` and the test
files listed quick ones first (pytest runs them in the order given, and ``-x`` stops a mutant at
its first failure):

    python tests/mutate.py --no-baseline --pytest '-x -q -m "not slow" -p no:cacheprovider
        tests/test_network.py tests/test_rules.py tests/test_blocks.py tests/test_train.py
        tests/test_shift.py tests/test_data.py tests/test_dropout.py tests/test_activations.py
        tests/test_fast_kernels.py tests/test_train_sample.py tests/test_fast.py
        tests/test_agreement.py tests/test_cli.py tests/test_bad_input.py tests/test_saving.py
        tests/test_checkpoint.py tests/test_resume.py'

Mutations named after a module's file (``rules-``, ``fused-``, ``blocks-``, ``parallel-``,
``sample-``, ``loops-``, ``vec-``, ``act-``, ...) edit that file; an update rule is written once,
in ``rules``, so a mutation there reaches every kernel that steps by it.
"""
import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTEST = '-x -q -m "not slow" -p no:cacheprovider tests'
SKIP = shutil.ignore_patterns(".git", "__pycache__", ".hypothesis", ".benchmarks", ".pytest_cache",
                              "*.egg-info", "build", "*.npz", "*.png", ".venv", ".ruff_cache",
                              "site")
# The check that every snippet is in its file fails in every mutant, whose snippet is gone: it
# would kill each mutation the other tests let through, so mutants never run it.
NOT_IN_MUTANTS = "--ignore=tests/test_mutate_snippets.py"


@dataclass
class Mutation:
    name: str
    file: str
    old: str
    new: str
    description: str


MUTATIONS = [
    # --- the loop kernels (loops.py) ---
    Mutation("loops-forward-no-bias", "neuronet/loops.py",
             "total = b[j]\n", "total = b[j] * 0\n",
             "loops.forward leaves out the bias"),
    Mutation("loops-ce-delta-sign", "neuronet/loops.py",
             "delta[s, j] = a[s, j] - y[s, j]", "delta[s, j] = y[s, j] - a[s, j]",
             "BP1 for cross-entropy with the sign flipped"),
    Mutation("loops-softmax-quadratic-dot", "neuronet/loops.py",
             "dot += (a[s, i] - y[s, i]) * a[s, i]", "dot += (a[s, i] - y[s, i])",
             "BP1 for quadratic softmax forgets the a[i] in the Jacobian's sum"),
    Mutation("loops-grad-b-not-averaged", "neuronet/loops.py",
             "grad_b[j] /= n_float", "grad_b[j] /= 1",
             "loops.backward sums the bias gradient over the batch instead of averaging"),
    Mutation("loops-hidden-prime-ignores-mask", "neuronet/loops.py",
             "return prime_kept(a[s, k], mask[s, k], kind)", "return prime(a[s, k], kind)",
             "BP2 under dropout forgets the mask"),
    Mutation("loops-epoch-ignores-order", "neuronet/loops.py",
             "copy_row(x[order[start + s]], work.activations[0][s])",
             "copy_row(x[start + s], work.activations[0][s])",
             "loops.sgd_epoch takes the inputs in their stored order, the targets shuffled"),
    # --- the update rules, each written once (rules.py): a mutation here reaches every kernel ---
    Mutation("rules-sgd-l2-sign", "neuronet/rules.py",
             "return w - eta * (g + l2 * w)", "return w - eta * (g - l2 * w)",
             "plain SGD's weight decay grows the weights instead of shrinking them"),
    Mutation("rules-momentum-sign", "neuronet/rules.py",
             "    v = mu * v - eta * (g + l2 * w)\n", "    v = -mu * v - eta * (g + l2 * w)\n",
             "classical momentum: the velocity's sign flips each step"),
    Mutation("rules-l2-on-biases", "neuronet/rules.py",
             "w[j], v[j] = momentum(w[j], v[j], g, step.rate, step.mu, zero)",
             "w[j], v[j] = momentum(w[j], v[j], g, step.rate, step.mu, step.l2)",
             "step_one, every kernel's bias step, applies weight decay to biases under momentum"),
    Mutation("rules-nesterov-as-classic", "neuronet/rules.py",
             "return w + mu * v + change, v", "return w + v, v",
             "Nesterov's weights take the classical momentum step"),
    Mutation("rules-nesterov-no-lookahead", "neuronet/rules.py",
             "return w + mu * v + change, v", "return w + change, v",
             "Nesterov's step drops the look-ahead mu v: the weights take plain SGD's step"),
    Mutation("rules-adam-no-bias-correction", "neuronet/rules.py",
             "return step.eta * math.sqrt(1 - step.beta_2 ** t) / (1 - step.beta_1 ** t)",
             "return step.eta",
             "Adam without bias correction (adam_rate's eta_t is eta)"),
    Mutation("rules-adam-no-l2", "neuronet/rules.py",
             "    g = g + l2 * w\n", "    g = g + 0 * w\n",
             "Adam forgets weight decay"),
    Mutation("rules-adam-square-not-squared", "neuronet/rules.py",
             "s = g * g + beta_2 * (s - g * g)", "s = abs(g) + beta_2 * (s - abs(g))",
             "Adam's second moment averages |g| instead of g^2"),
    Mutation("rules-sgd-writes-velocity", "neuronet/rules.py",
             "            w[k] = sgd(w[k], g[k], eta, l2)\n",
             "            w[k], v[k] = momentum(w[k], v[k], g[k], eta, mu, l2)\n",
             "step_row's plain-SGD branch (momentum 0) writes its change into the velocity"),
    # --- the fused kernels (fused.py) ---
    Mutation("fused-tile-sgd-no-decay", "neuronet/fused.py",
             "    if step.l2 != 0:\n        zero = step.l2 - step.l2",
             "    if False:\n        zero = 0",
             "plain SGD's mini-batch tiles drop the weight decay"),
    Mutation("fused-tile-sgd-ascends", "neuronet/fused.py",
             "add_gradient(w_j, delta, a_prev, j, -step.rate * mean, first, stop)",
             "add_gradient(w_j, delta, a_prev, j, step.rate * mean, first, stop)",
             "plain SGD's odd neuron of a mini-batch tile climbs the gradient"),
    Mutation("fused-momentum-pair-one-gradient", "neuronet/fused.py",
             "momentum(w_i[k], v_i[k], g1[k], eta, mu, l2)",
             "momentum(w_i[k], v_i[k], g0[k], eta, mu, l2)",
             "momentum's mini-batch tiles step neuron j + 1 by neuron j's gradient"),
    Mutation("fused-one-layer-softmax", "neuronet/fused.py",
             "activate(work.zs[0][:n_next], activations[1][:n_next], kind0)",
             "activate(work.zs[0][:n_next], activations[1][:n_next], "
             "layer_kind(0, last, False, model.kind))",
             "fused.sgd_epoch: one-layer softmax networks get sigmoid outputs after batch one"),
    Mutation("fused-gradient-row-fourth-sample", "neuronet/fused.py",
             'target[k] += e0 * a0[k] + e1 * a1[k] + e2 * a2[k] + e3 * a3[k]',
             'target[k] += e0 * a0[k] + e1 * a1[k] + e2 * a2[k]',
             "add_gradient drops every fourth sample of a block"),
    Mutation("fused-forward-neuron-fourth-sample", "neuronet/fused.py",
             '            z3 += w_j[k] * a3[k]\n        z[s, j], z[s + 1, j]',
             '            z3 += w_j[k] * a2[k]\n        z[s, j], z[s + 1, j]',
             "add_weighted_inputs gives the fourth sample of a block the third one's z"),
    Mutation("fused-one-sample-no-l2", "neuronet/fused.py",
             "w_new = sgd(w[j, k], d * row[k], eta, l2)",
             "w_new = sgd(w[j, k], d * row[k], eta, 0 * l2)",
             "the one-sample plain-SGD row (sgd_row_next) forgets weight decay"),
    Mutation("fused-one-sample-runs-every-rule", "neuronet/fused.py",
             "if n == 1 and step.solver == SGD and not hidden:", "if n == 1 and not hidden:",
             "the first layer's one-sample step runs Nesterov and Adam as plain SGD or momentum"),
    Mutation("fused-next-batch-targets-unshuffled", "neuronet/fused.py",
             "copy_row(y[order[first + s]], y_batch[s])", "copy_row(y[first + s], y_batch[s])",
             "next_batch takes the targets in stored order, the inputs shuffled"),
    # --- the parallel epoch (parallel.py) ---
    Mutation("parallel-k-block-short", "neuronet/parallel.py",
             "min(n_in, (block + 1) * K_BLOCK)", "min(n_in - 1, (block + 1) * K_BLOCK)",
             "the parallel BP2 misses the last input of the layer"),
    Mutation("parallel-feedforward-no-softmax", "neuronet/parallel.py",
             "zs[layer][:n], activations[layer + 1][:n],\n"
             "                                  layer_kind(layer, last, softmax, kind))",
             "zs[layer][:n], activations[layer + 1][:n],\n"
             "                                  layer_kind(layer, last, softmax and layer > 0, kind))",
             "feedforward_parallel forgets the softmax of a one-layer network"),
    # --- the vectorized twin (vectorized.py) ---
    Mutation("vec-quadratic-sigmoid-delta", "neuronet/vectorized.py",
             "return (a - y) * (a * (1 - a))", "return (a - y)",
             "vectorized BP1 for quadratic sigmoid forgets sigma'"),
    Mutation("vec-grad-b-not-averaged", "neuronet/vectorized.py",
             "grad_b = delta.sum(axis=0) / n", "grad_b = delta.sum(axis=0)",
             "vectorized bias gradient summed, not averaged"),
    Mutation("vec-no-l2", "neuronet/vectorized.py",
             "scale_add(p, 1 - eta * l2, -eta, grad)",
             "scale_add(p, 1, -eta, grad)",
             "the twin's plain-SGD step forgets weight decay"),
    Mutation("vec-dropout-bp2-ignores-mask", "neuronet/vectorized.py",
             "(delta @ w) * prime_kept_array(a_prev, mask_prev, kind)",
             "(delta @ w) * prime_array(a_prev, kind)",
             "vectorized BP2 under dropout forgets the mask"),
    # --- activations and costs (activations.py) ---
    Mutation("act-sigmoid-negative-branch", "neuronet/activations.py",
             "    return e / (1 + e)\n", "    return 1 / (1 + e)\n",
             "the scalar sigmoid's branch for z < 0 returns sigma(-z)"),
    Mutation("act-sigmoid-prime", "neuronet/activations.py",
             "    r\"\"\"sigma'(z) from the activation a = sigma(z): sigma' = a (1 - a), no second exp.\"\"\"\n"
             "    return a * (1 - a)\n",
             "    r\"\"\"sigma'(z) from the activation a = sigma(z): sigma' = a (1 - a), no second exp.\"\"\"\n"
             "    return a * (1 + a)\n",
             "sigma' = a (1 + a) for the output layer's quadratic cost"),
    Mutation("act-hidden-sigmoid-prime", "neuronet/activations.py",
             "        return 1.0 if a > 0 else 0.0\n    return a * (1 - a)\n",
             "        return 1.0 if a > 0 else 0.0\n    return a * (1 + a)\n",
             "a hidden sigmoid's f' = a (1 + a)"),
    Mutation("act-tanh-prime", "neuronet/activations.py",
             "        return 1 - a * a\n", "        return 1 - a\n",
             "tanh' = 1 - a instead of 1 - a^2"),
    Mutation("act-relu-prime-at-kink", "neuronet/activations.py",
             "        return 1.0 if a > 0 else 0.0\n", "        return 1.0 if a >= 0 else 0.0\n",
             "ReLU's slope at z <= 0 taken as 1: the loops pass error back through off neurons"),
    Mutation("act-relu-prime-kept", "neuronet/activations.py",
             "        return m if a > 0 else a * 0\n", "        return 1.0 if a > 0 else a * 0\n",
             "ReLU under dropout forgets the mask's scale in BP2"),
    Mutation("act-tanh-prime-kept", "neuronet/activations.py",
             "        return m - a * a / m\n", "        return m - a * a\n",
             "tanh under dropout forgets to unscale the kept neuron's output"),
    Mutation("act-relu-array-leaky", "neuronet/activations.py",
             "        return np.maximum(z, 0, out=out)\n", "        return np.maximum(z, 0.01 * z, out=out)\n",
             "the twin's ReLU leaks (0.01 z below 0), the loops' does not"),
    Mutation("act-tanh-prime-array", "neuronet/activations.py",
             "        out = np.multiply(a, a, out=out)\n", "        out = np.multiply(a, 1, out=out)\n",
             "the twin's tanh' = 1 - a"),
    Mutation("vec-nesterov-no-lookahead", "neuronet/vectorized.py",
             "add_scaled(p, mu, v)",
             "add_scaled(p, 0.0, v)",
             "the twin's Nesterov step leaves out mu v"),
    Mutation("vec-adam-epsilon-inside", "neuronet/vectorized.py",
             "    denominator += epsilon\n", "    denominator += epsilon * epsilon\n",
             "the twin's Adam uses epsilon^2"),
    # --- SGD one sample at a time by blocks (blocks.py) ---
    Mutation("blocks-no-last-correction", "neuronet/blocks.py",
             "            for m in range(i):\n                k = i - 1 - m",
             "            for m in range(i - 1):\n                k = i - 1 - m",
             "a block's sample forgets the update of the sample just before it in its z"),
    Mutation("blocks-products-of-itself", "neuronet/blocks.py",
             "dot_row(x_block, here + m, x_i,", "dot_row(x_block, here + i, x_i,",
             "a block's corrections use x_i . x_i for every earlier sample"),
    Mutation("blocks-bias-not-stepped", "neuronet/blocks.py",
             "step_one(first.b, first.v_b, first.s_b, j, d, step)",
             "step_one(first.b, first.v_b, first.s_b, j, d * 0, step)",
             "the blocks leave the first layer's biases alone"),
    Mutation("blocks-last-update-lost", "neuronet/blocks.py",
             "waiting, start = n, start + block", "waiting, start = n - 1, start + block",
             "each block's last sample never reaches the first layer's weights"),
    Mutation("blocks-velocity-unseen", "neuronet/blocks.py",
             "                    z[0, j] += on_v * z_block[1, here + i, j]",
             "                    z[0, j] += on_v * z_block[0, here + i, j]",
             "a block's z takes W x where it needs V x (momentum)"),
    Mutation("blocks-power-order", "neuronet/blocks.py",
             "a, b, c, d = A00 * a + A01 * c, A00 * b + A01 * d,",
             "a, b, c, d = A00 * a + A01 * b, A00 * b + A01 * d,",
             "A^k is formed with a wrong entry (momentum and L2)"),
    Mutation("blocks-powers-wrong-column", "neuronet/blocks.py",
             "A01, A11 = momentum(zero, one, zero,", "A01, A11 = momentum(one, zero, zero,",
             "block_powers takes A's first column for its second (steps w = 1, not v = 1)"),
    Mutation("blocks-update-weighted-once", "neuronet/blocks.py",
             "on_w, on_v = powers[0, k] + powers[1, k], powers[2, k] + powers[3, k]",
             "on_w, on_v = powers[0, k], powers[2, k] + powers[3, k]",
             "an update's effect on w forgets what its velocity carried after it"),
    # --- train's one-sample steps (sample.py, network.py) ---
    Mutation("sample-waiting-takes-new-settings", "neuronet/sample.py",
             "work.grad_rows[0], waiting_settings(waiting), False,\n",
             "work.grad_rows[0], step, False,\n",
             "the step train left waiting is applied with the next call's learning rate"),
    Mutation("net-train-waiting-never-finished", "neuronet/network.py",
             "            BACKENDS[name].finish_sample(",
             "            0 and BACKENDS[name].finish_sample(",
             "reading the weights after train does not apply the step left waiting"),
    Mutation("net-train-waiting-velocities-unchecked", "neuronet/network.py",
             'for kind in ("weights", "biases", "velocity_w", "velocity_b")]',
             'for kind in ("weights", "biases", "velocity_w", "velocity_b")][:2] * 2',
             "train hands the kernels the weights and biases in place of the velocities"),
    # train's cheap checks: arrays bound at an earlier call, checked by the kernel (these need
    # the JIT: without it train checks every array in full, sample.TYPED)
    Mutation("sample-bound-never-rechecked", "neuronet/sample.py",
             "and all(map(operator.is_, binding, bound))", "",
             "train keeps the arrays of an earlier call after the network's were replaced"),
    Mutation("net-train-binding-forgets-cost", "neuronet/network.py",
             "return ((self._backend, self.dtype, self.cost, self.output, self.activation,",
             "return ((self._backend, self.dtype, self.output, self.activation,",
             "train keeps the cost of an earlier call after net.cost changed"),
    Mutation("sample-kinds-unchecked", "neuronet/sample.py",
             "and typing_kinds((*arrays, x, y)) == kinds", "",
             "an array whose dtype changed in place reaches the kernel: numba's error, not train's"),
    Mutation("sample-row-kinds-unchecked", "neuronet/sample.py",
             "typing_kinds((*arrays, x, y)) == kinds",
             "typing_kinds((*arrays, np.zeros(x.shape[-1]), np.zeros(y.shape[-1]))) == kinds",
             "train hands the kernel a strided or 2-D x as if it were one contiguous row"),
    Mutation("sample-kinds-without-dimensions", "neuronet/sample.py",
             "return [(a.dtype, a.ndim, a.flags.num) for a in arrays]",
             "return [(a.dtype, a.flags.num) for a in arrays]",
             "where numba lacks its own reading, an array given a dimension more is not seen"),
    Mutation("sample-kinds-unreadable-dtype", "neuronet/sample.py",
             "    except NotImplementedError:\n        return array_kinds(arrays)",
             "    except ImportError:\n        return array_kinds(arrays)",
             "an x of a dtype numba has no type for raises numba's error, not train's message"),
    Mutation("sample-values-unchecked", "neuronet/sample.py",
             "and finite(x) and finite(y)):", "and finite(y)):",
             "train steps on an x that holds NaN"),
    Mutation("sample-target-length-unchecked", "neuronet/sample.py",
             "if not (y.shape[0] == zs[-1].shape[1] and", "if not (",
             "train takes a y longer than the network's outputs"),
    Mutation("net-auto-init-relu-glorot", "neuronet/init.py",
             'AUTO_INIT = {"sigmoid": "normal", "tanh": "glorot", "relu": "he"}',
             'AUTO_INIT = {"sigmoid": "normal", "tanh": "glorot", "relu": "glorot"}',
             "init='auto' gives ReLU networks Glorot's weights"),
    Mutation("net-he-variance", "neuronet/init.py",
             "rng.normal(0, math.sqrt(2 / n_in), (n_out, n_in))",
             "rng.normal(0, math.sqrt(1 / n_in), (n_out, n_in))",
             "He initialisation with variance 1/n_in"),
    Mutation("act-sigmoid-prime-kept", "neuronet/activations.py",
             "return a * (1 - a / m)", "return a * (1 - a)",
             "sigma' under dropout forgets to unscale the kept neuron's output"),
    Mutation("act-softmax-max", "neuronet/activations.py",
             "m = max(m, z[j])", "m = min(m, z[j])",
             "softmax_row shifts by the minimum: exp overflows for large z"),
    Mutation("act-softmax-array-unshifted", "neuronet/activations.py",
             "e = np.exp(z - z.max(axis=-1, keepdims=True))", "e = np.exp(z)",
             "softmax_array without the shift: exp overflows for large z"),
    Mutation("act-cross-entropy-one-minus-term", "neuronet/activations.py",
             " + (1 - y) * np.log(np.maximum(1 - a, tiny))", "",
             "sigmoid cross-entropy cost loses its (1 - y) ln(1 - a) term"),
    Mutation("act-quadratic-half", "neuronet/activations.py",
             "return 0.5 * np.sum((a - y) ** 2, axis=-1)", "return np.sum((a - y) ** 2, axis=-1)",
             "quadratic cost without its 1/2"),
    # --- training (train.py) ---
    Mutation("train-no-shuffle", "neuronet/train.py",
             "order = rng.permutation(len(x))", "order = np.arange(len(x))",
             "fit never shuffles"),
    Mutation("train-shift-targets-unshuffled", "neuronet/train.py",
             "moves, side), targets[rows]", "moves, side), targets[first:first + len(rows)]",
             "fit's shift path pairs the shuffled images with targets in stored order"),
    Mutation("train-shift-moves-one-sided", "neuronet/train.py",
             "integers(-shift, shift + 1, ", "integers(-shift, shift, ",
             "fit's shifts never move down or right"),
    Mutation("train-decay-from-first-epoch", "neuronet/train.py",
             "rate = eta * decay ** (epoch - 1)", "rate = eta * decay ** epoch",
             "the learning rate is decayed already in the first epoch"),
    Mutation("train-dropout-unscaled", "neuronet/train.py",
             "((rng.random((n, size)) >= rate) / (1 - rate))", "((rng.random((n, size)) >= rate) * 1.0)",
             "dropout masks do not scale the kept neurons by 1/p"),
    Mutation("train-chunk-splits-batches", "neuronet/train.py",
             "chunk = max(batch_size, CHUNK - CHUNK % batch_size)", "chunk = max(batch_size, CHUNK)",
             "chunks end inside a mini-batch"),
    Mutation("train-no-divergence-guard", "neuronet/train.py",
             "    if _all_finite(net):\n        return\n", "    return\n",
             "fit never checks for NaN or infinity"),
    Mutation("train-validation-ignored", "neuronet/train.py",
             'x_val, y_val = check_samples(net, *validation, names=("validation x", "validation y"))',
             'check_samples(net, *validation, names=("validation x", "validation y")); '
             'x_val, y_val = x, targets',
             "fit scores the training set though given validation"),
    Mutation("train-one-hot-shifted", "neuronet/train.py",
             "return np.eye(n_classes)[labels]", "return np.eye(n_classes)[(labels + 1) % n_classes]",
             "one_hot puts each label's 1 in the next column"),
    # --- data loading (data.py, idx.py) ---
    Mutation("data-not-scaled", "neuronet/data.py",
             "/ 255.0, labels.astype(np.int64)", "/ 256.0, labels.astype(np.int64)",
             "pixels scaled by 256, not 255"),
    Mutation("idx-little-endian", "neuronet/idx.py",
             'struct.unpack(f">{ndim}i"', 'struct.unpack(f"<{ndim}i"',
             "the IDX dimensions read little-endian"),
    Mutation("idx-no-length-check", "neuronet/idx.py",
             "    if found != size:\n", "    if found > size:\n",
             "a truncated IDX file is accepted"),
    # --- saving and the command line (saving.py, cli/) ---
    Mutation("saving-no-finite-check", "neuronet/saving.py",
             'refuse_non_finite(groups, "it cannot be saved',
             '(groups, "it cannot be saved',
             "save writes NaN parameters"),
    Mutation("saving-load-no-finite-check", "neuronet/saving.py",
             "if not np.isfinite(array).all():\n                raise bad(",
             "if False:\n                raise bad(",
             "load accepts NaN parameters"),
    Mutation("saving-layers-swapped", "neuronet/saving.py",
             'return {"weights": weights, "biases": biases,',
             'return {"weights": weights, "biases": [b * 0 for b in biases],',
             "save writes, and resuming copies, zero biases"),
    Mutation("saving-state-dropped", "neuronet/saving.py",
             'if kind in ("weights", "biases") or any(array.any() for array in group):',
             'if kind in ("weights", "biases"):',
             "save leaves out the velocities and Adam's moments"),
    Mutation("saving-adam-steps-dropped", "neuronet/saving.py",
             "    if steps[0]:\n",
             "    if False:\n",
             "save leaves out Adam's step count"),
    Mutation("checkpoint-generators-not-restored", "neuronet/checkpoint.py",
             "generator.bit_generator.state = state",
             "generator.bit_generator.state = generator.bit_generator.state",
             "a resumed run draws its shuffles and masks afresh from the seed"),
    Mutation("checkpoint-copy-without-steps", "neuronet/checkpoint.py",
             """            net.checked_state("adam_steps")]""", "            ]",
             "a resumed or resynchronised network counts Adam's steps from 0 again"),
    Mutation("checkpoint-copy-without-settings", "neuronet/checkpoint.py",
             "    target.rule_settings = source.rule_settings", "    pass",
             "a resynchronised network keeps its own last step's settings"),
    Mutation("checkpoint-settings-unchecked", "neuronet/checkpoint.py",
             "if name not in FREE and saved.get(name) != settings.get(name):",
             "if False:",
             "a run resumes from a checkpoint of other settings"),
    Mutation("network-state-not-refused", "neuronet/network.py",
             "refuse_non_finite(self.state(ADAM_STATE if adam else TRAINED[mu > 0]),",
             "(self.state(ADAM_STATE if adam else TRAINED[mu > 0]),",
             "step trains on a network holding NaN"),
    Mutation("cli-momentum-dropped", "neuronet/cli/train.py",
             "batch_size=args.batch_size, momentum=args.momentum,\n                  weight_decay",
             "batch_size=args.batch_size, momentum=0.0,\n                  weight_decay",
             "neuronet train ignores --momentum"),
    Mutation("cli-shape-min-size", "neuronet/cli/parser.py",
             "if len(sizes) < 2 or min(sizes) < 1:", "if len(sizes) < 2:",
             "--shape accepts a layer of 0 neurons"),
]


def snippet_problem(mutation, root=ROOT):
    """Why the mutation's snippet cannot be applied under ``root`` (not there once), or None."""
    count = (root / mutation.file).read_text().count(mutation.old)
    if count != 1:
        return f"{mutation.name}: snippet found {count} times in {mutation.file}, not once"
    return None


def apply(mutation, root):
    """Make the mutation's edit under ``root``; an error message if its snippet is not there once."""
    problem = snippet_problem(mutation, root)
    if problem is None:
        path = root / mutation.file
        path.write_text(path.read_text().replace(mutation.old, mutation.new))
    return problem


def run(mutation, pytest_args, timeout):
    """(name, outcome, seconds, last lines of output): outcome 'killed', 'survived' or 'error'."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="neuronet-mutant-") as folder:
        root = Path(folder) / "repo"
        shutil.copytree(ROOT, root, ignore=SKIP)
        if mutation is not None:
            problem = apply(mutation, root)
            if problem:
                return problem, "error", 0.0, ""
        env = {key: value for key, value in os.environ.items()
               if key not in ("NUMBA_CACHE_DIR", "PYTHONPATH")}
        command = [sys.executable, "-m", "pytest", *shlex.split(pytest_args), NOT_IN_MUTANTS]
        try:
            done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return "timeout", "killed", time.perf_counter() - start, "timed out"
    tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-3:])
    if done.returncode == 0:
        outcome = "survived"
    elif done.returncode == 1:
        outcome = "killed"  # a test failed
    else:
        outcome = "error"  # pytest could not run (5: no tests collected, 2: interrupted, ...)
    return "", outcome, time.perf_counter() - start, tail


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="run only the mutations whose names start with "
                        "one of these")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="mutants tested at once")
    parser.add_argument("--pytest", default=PYTEST, help=f"pytest arguments (default: {PYTEST})")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per mutant")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the run of the unmutated copy")
    parser.add_argument("--list", action="store_true", help="list the mutations and stop")
    args = parser.parse_args(argv)

    chosen = [m for m in MUTATIONS if not args.names or m.name.startswith(tuple(args.names))]
    if args.list:
        for m in chosen:
            print(f"{m.name:40} {m.file:24} {m.description}")
        return 0
    if not chosen:
        print(f"no mutation starts with {' or '.join(args.names)}; see --list")
        return 2
    missing = [problem for m in chosen if (problem := snippet_problem(m)) is not None]
    for problem in missing:
        print(problem)
    if missing:
        return 1

    jobs = [None] * (not args.no_baseline) + chosen
    print(f"{len(chosen)} mutations{', and the baseline' * (not args.no_baseline)}, {args.jobs} "
          f"at a time: pytest {args.pytest}", flush=True)
    start = time.perf_counter()
    survivors, failed = [], []
    with ThreadPoolExecutor(args.jobs) as pool:
        results = pool.map(lambda m: (m, run(m, args.pytest, args.timeout)), jobs)
        for mutation, (problem, outcome, seconds, tail) in results:
            name = "baseline (no mutation)" if mutation is None else mutation.name
            print(f"{outcome:9} {seconds:6.0f} s  {name}{'  ' + problem if problem else ''}",
                  flush=True)
            if mutation is None and outcome != "survived":
                failed.append(f"the unmutated copy does not pass:\n{tail}")
            elif mutation is not None and outcome == "survived":
                survivors.append(mutation)
            elif mutation is not None and outcome == "error":
                failed.append(f"{name}: pytest did not run the tests:\n{tail}")
    print(f"\n{len(chosen)} mutations in {time.perf_counter() - start:.0f} s: "
          f"{len(chosen) - len(survivors)} killed, {len(survivors)} survived")
    for m in survivors:
        print(f"SURVIVED {m.name} ({m.file}): {m.description}")
    for problem in failed:
        print(f"ERROR {problem}")
    return 1 if survivors or failed else 0


if __name__ == "__main__":
    sys.exit(main())
