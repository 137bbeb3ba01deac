"""The command line, run in-process through ``main(argv)``.

Most tests use a tiny IDX dataset (conftest.py's ``tiny``: 200 training and 100 test images,
each class a bright band of rows, so it can be learnt), so they need no download and take
seconds; the tests marked ``data`` use the real files, found by conftest.py's fixtures
(NEURONET_DATA, the cache, or fetched).
"""
import itertools
import os
import re
import subprocess
import sys
from pathlib import Path

import naive
import numpy as np
import pytest
from helpers import run
from numpy.lib import format as npy

from neuronet import BACKENDS, Network, fit, load, load_mnist, save
from neuronet.compare import lockstep, verdict
from neuronet.gradcheck import LayerCheck
from neuronet.train import DivergenceError

# --- compare -------------------------------------------------------------------------------

def test_compare_stable_settings_agree(capsys, tiny):
    code, out, err = run(capsys, "compare", "--data", tiny, "--epochs", 2)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == ("neuronet compare: 784-30-10 sigmoid/quadratic on MNIST (200 train, 100 "
                        "test), batch 10, learning rate 3.0, seed 0")
    assert re.fullmatch(r"gradients on one batch \(10 images\): largest difference \S+e-1[5-9]",
                        lines[1])
    assert lines[2] == ("epoch  loops acc  vectorized acc  loops s  vectorized s  free-running  "
                        "re-synced  control")
    row = r"\s+{}\s+\d+\.\d\d %\s+\d+\.\d\d %\s+\d+\.\d\d\s+\d+\.\d\d(\s+\d\.\de-\d\d){{3}}"
    assert re.fullmatch(row.format(1), lines[3]) and re.fullmatch(row.format(2), lines[4])
    assert len(lines[3]) == len(lines[2])  # fixed-width columns line up under the header
    assert re.fullmatch(r"summary: loops trained at [\d,]+ samples/s, vectorized at [\d,]+ "
                        r"samples/s: (loops|vectorized) \d+\.\dx faster", lines[5])
    assert re.fullmatch(r"agreement: parameters agree to \S+ after 40 steps \(threshold 1e-9\); "
                        r"test predictions identical for 100 of 100 images", lines[6])
    assert err == ""


@pytest.mark.slow
def test_compare_explains_real_drift(capsys, tiny):
    # Found by trying: softmax with momentum 0.9 at learning rate 1 on this data is unstable,
    # and the backends' 1e-16 rounding differences grow about 5,000-fold per 1,000 steps.
    code, out, err = run(capsys, "compare", "--data", tiny, "--output", "softmax", "--cost",
                         "cross-entropy", "--learning-rate", 1, "--momentum", 0.9,
                         "--batch-size", 1, "--epochs", 20, "--chunk", 200)
    assert code == 0, err
    assert "momentum 0.9" in out.splitlines()[0]
    assert len(re.findall(r"(?m)^\s+\d+\s+\d+\.\d\d %", out)) == 20
    verdict_text = " ".join(out[out.index("agreement:"):].split())
    assert re.search(r"parameters DIFFER by \S+ after 4,000 steps \(threshold 1e-9\); the "
                     r"difference first exceeded it at step [\d,]+\.", verdict_text)
    assert re.search(r"It grew from \S+e-1\d at step 200 to \S+ at step [\d,]+, a factor of "
                     r"about [\d,]+ per 1,000 steps\.", verdict_text)
    assert "rounding amplified by unstable training, not a bug" in verdict_text
    assert "Lower the learning rate (now 1.0)" in verdict_text
    assert re.search(r"test predictions (identical|agree) for \d+ of 100 images", verdict_text)


def test_verdict_on_synthetic_series():
    assert verdict([(1000, 0.0), (2000, 3e-15)]) == ("parameters agree to 3.0e-15 after 2,000 "
                                                     "steps (threshold 1e-9)")
    series = [(10_000 * i, 1e-15 * 10.0 ** i) for i in range(1, 11)]  # x10 per 10,000 steps
    text = " ".join(verdict(series, learning_rate=0.5).split())
    assert "parameters DIFFER by 1.0e-05 after 100,000 steps" in text
    assert "first exceeded it at step 70,000" in text
    assert "a factor of about 10 per 10,000 steps" in text
    assert "not a bug" in text and "(now 0.5)" in text
    # A gradient difference far above rounding before training is not rounding.
    text = " ".join(verdict(series, gradient_diff=1e-3).split())
    assert "that is not rounding" in text and "not a bug" not in text


def test_compare_with_python_backend_and_plot(capsys, tiny, tmp_path):
    figure = tmp_path / "compare.png"
    code, out, err = run(capsys, "compare", "--data", tiny, "--python", 20, "--plot", figure)
    assert code == 0, err
    assert re.search(r"python backend on the first 20 training images \(1 epoch, 2 steps\): "
                     r"[\d,]+ samples/s, loops [\d,]+x faster; parameters differ from the loops' "
                     r"by \S+ \(agree at threshold 1e-9\)", out)
    assert f"plot written to {figure}" in out
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compare.png"]  # no temporary left


def test_lockstep_chunks_hold_whole_batches(tiny):
    (x, y), _ = load_mnist(tiny, download=False)
    targets = np.eye(10)[y]
    nets = {b: Network((784, 5, 10), backend=b, seed=1) for b in ("loops", "vectorized")}
    record = lockstep(nets, x, targets, epochs=2, learning_rate=0.5, batch_size=7,
                      momentum=0.0, weight_decay=0.0, seed=0, chunk=10)
    # 200 images in batches of 7 is 29 steps an epoch, checked after steps 10, 20 and 29.
    assert [s for s, _ in record.diffs] == [10, 20, 29, 39, 49, 58]
    assert record.samples == 400 and len(record.seconds["loops"]) == 2
    reference = Network((784, 5, 10), seed=1)
    fit(reference, x, y, epochs=2, learning_rate=0.5, batch_size=7, seed=0)
    for w, w_ref in zip(nets["loops"].weights, reference.weights):
        np.testing.assert_array_equal(w, w_ref)  # same shuffles, same steps as fit


def test_lockstep_names_the_backend_that_diverged(tiny):
    (x, y), _ = load_mnist(tiny, download=False)
    nets = {b: Network((784, 5, 10), backend=b, seed=1, activation="relu")
            for b in ("loops", "vectorized")}
    # Finite, so training takes it (an infinity is refused before any step), but two hidden
    # ReLUs at z = +inf meet output weights of opposite signs: inf - inf, NaN at the first step.
    nets["loops"].weights[0][:2] = 1e308
    with pytest.raises(DivergenceError, match=r"training diverged in epoch 1, steps 1 to 3: "
                       r"the loops network's parameters became NaN or infinite\. Lower the "
                       r"learning rate \(now 0\.5\)"):
        lockstep(nets, x, np.eye(10)[y], epochs=1, learning_rate=0.5, batch_size=10,
                 momentum=0.0, weight_decay=0.0, seed=0, chunk=3)


# --- train and predict ------------------------------------------------------------------------

def test_train_save_predict_round_trip(capsys, tiny, tmp_path):
    saved, figure = tmp_path / "net.npz", tmp_path / "train.png"
    code, out, err = run(capsys, "train", "--data", tiny, "--shape", "784,20,10", "--epochs", 3,
                         "--learning-rate", 1.5, "--momentum", 0.5, "--seed", 3, "--save", saved,
                         "--plot", figure)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("neuronet train: 784-20-10 sigmoid/quadratic on MNIST (200 train, "
                               "100 test), batch 10, learning rate 1.5, momentum 0.5, seed 3")
    assert lines[1] == "epoch        cost  accuracy  post error  seconds"
    rows = [re.fullmatch(r"\s+(\d)\s+(\d\.\d{6})\s+(\d+\.\d\d) %\s+(\d\.\d{6})\s+\d+\.\d\d", line)
            for line in lines[2:5]]
    assert [int(r[1]) for r in rows] == [1, 2, 3]
    # With the quadratic cost the post's error is the cost divided by the 10 outputs.
    assert all(abs(float(r[2]) / 10 - float(r[4])) < 2e-6 for r in rows)
    final = re.fullmatch(r"final held-out accuracy: (\d+\.\d\d) % \((\d+) of 100 test images\)",
                         lines[5])
    assert final and final[1] == rows[-1][3]
    assert float(final[1]) >= 80  # it learned: chance is 10 % (100 % when measured)
    assert float(rows[-1][2]) < float(rows[0][2])  # and its held-out cost fell
    assert f"network saved to {saved}" in out and figure.read_bytes()[:4] == b"\x89PNG"
    (_x, _y), (x_test, y_test) = load_mnist(tiny, download=False)
    net = load(saved)

    code, out, err = run(capsys, "predict", saved, "--data", tiny, "--images", 4)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1] == "image  label  predicted"
    predicted = net.predict(x_test).argmax(axis=1)
    for i, line in enumerate(lines[2:6]):
        assert line.split()[:3] == [str(i), str(y_test[i]), str(predicted[i])]
        assert line.endswith("wrong") == (predicted[i] != y_test[i])
    assert lines[6] == (f"accuracy on all 100 test images: {final[1]} % ({final[2]} right)")

    rows = tmp_path / "rows.npy"
    np.save(rows, x_test[:3])
    code, out, err = run(capsys, "predict", saved, "--input", rows)
    assert code == 0, err
    assert out.split() == ["row", "class"] + [str(v) for i in range(3)
                                              for v in (i, predicted[i])]

    np.save(rows, x_test[:3, :100])
    code, _, err = run(capsys, "predict", saved, "--input", rows)
    assert code == 2 and err == (f"neuronet: error: {rows}: x must have shape (784,) for one "
                                 "sample or (n, 784) for n >= 1 samples, got shape (3, 100)\n")


def initial_parameters(sizes, seed):
    """The initial weights and biases by their definition: N(0, 1/sqrt(n_in)) and N(0, 1) from
    numpy.random.default_rng(seed), layer by layer, weights then biases."""
    rng = np.random.default_rng(seed)
    weights, biases = [], []
    for n_in, n_out in itertools.pairwise(sizes):
        weights.append(rng.normal(0, 1 / np.sqrt(n_in), (n_out, n_in)))
        biases.append(rng.normal(0, 1, n_out))
    return weights, biases


def test_train_steps_are_sgd_with_momentum_by_the_naive_reference(capsys, tiny, tmp_path):
    # 20 images in one batch of 20: each epoch is one step on the whole set, whatever its order,
    # so two epochs are v = -eta g(w0), w1 = w0 + v; v = mu v - eta g(w1), w2 = w1 + v, with g
    # the naive reference's gradient of the quadratic cost.
    saved = tmp_path / "net.npz"
    code, _out, err = run(capsys, "train", "--data", tiny, "--shape", "784,20,10", "--epochs", 2,
                         "--train-size", 20, "--batch-size", 20, "--learning-rate", 1.5,
                         "--momentum", 0.5, "--seed", 3, "--save", saved)
    assert code == 0, err
    (x, y), _ = load_mnist(tiny, download=False)
    xs, ys = x[:20].tolist(), np.eye(10)[y[:20]].tolist()
    weights, biases = initial_parameters((784, 20, 10), seed=3)
    v_w, v_b = [0 * w for w in weights], [0 * b for b in biases]
    for _ in range(2):
        grad_w, grad_b = naive.gradients([w.tolist() for w in weights],
                                         [b.tolist() for b in biases], xs, ys)
        for layer in range(2):
            v_w[layer] = 0.5 * v_w[layer] - 1.5 * np.array(grad_w[layer])
            v_b[layer] = 0.5 * v_b[layer] - 1.5 * np.array(grad_b[layer])
            weights[layer] = weights[layer] + v_w[layer]
            biases[layer] = biases[layer] + v_b[layer]
    net = load(saved)
    for got, want in zip(net.weights + net.biases, weights + biases):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def one_step(capsys, tiny, tmp_path, *options):
    """(initial, trained) weights of a 784-20-10 network after one SGD step on the first
    training image, with the given options."""
    saved = tmp_path / "net.npz"
    code, out, err = run(capsys, "train", "--data", tiny, "--shape", "784,20,10", "--epochs", 1,
                         "--train-size", 1, "--batch-size", 1, "--save", saved, *options)
    assert code == 0, err
    return initial_parameters((784, 20, 10), seed=0)[0], load(saved).weights, out


def test_train_with_dropout_drops_neurons_from_the_step(capsys, tiny, tmp_path):
    initial, trained, out = one_step(capsys, tiny, tmp_path, "--dropout", 0.5,
                                     "--input-dropout", 0.5)
    assert ", dropout 0.5, input dropout 0.5, seed 0" in out.splitlines()[0]
    (x, _), _ = load_mnist(tiny, download=False)
    same = [np.isclose(a, b, rtol=0, atol=1e-15) for a, b in zip(initial, trained)]
    # A dropped hidden neuron j has activation 0 and delta 0: row j of the first weights and
    # column j of the second get no gradient. Kept ones (about half) all change.
    dropped = same[0].all(axis=1)
    assert 3 <= dropped.sum() <= 17
    assert np.array_equal(same[1].all(axis=0), dropped) and not same[1][:, ~dropped].any()
    # A dropped input k feeds nothing: column k of the first weights, in every kept row, stays.
    kept_rows = same[0][~dropped]
    assert (kept_rows == kept_rows[0]).all()  # one mask for the sample, the same in every row
    lit = x[0] != 0  # an input of 0 gets no gradient either way
    assert 0.3 <= kept_rows[0][lit].mean() <= 0.7


def test_train_with_shift_moves_the_image(capsys, tiny, tmp_path):
    initial, trained, out = one_step(capsys, tiny, tmp_path, "--shift", 2)
    assert ", shift 2 px, seed 0" in out.splitlines()[0]
    (x, _), _ = load_mnist(tiny, download=False)
    image = x[0].reshape(28, 28)
    # The first weights' column k changes by delta * x_k: it stays only where the moved image
    # is 0. Find which moves by up to 2 pixels give that pattern.
    stays = np.isclose(initial[0], trained[0], rtol=0, atol=1e-15).all(axis=0).reshape(28, 28)
    fits = []
    for down in range(-2, 3):
        for across in range(-2, 3):
            moved = np.zeros_like(image)
            for i in range(28):
                for j in range(28):
                    if 0 <= i - down < 28 and 0 <= j - across < 28:
                        moved[i, j] = image[i - down, j - across]
            if np.array_equal(stays, moved == 0):
                fits.append((down, across))
    assert len(fits) == 1 and fits[0] != (0, 0), fits


def test_train_reports_the_posts_failure(capsys, tiny):
    # The post's failing row: uniform init and learning rate 0.0001 barely move the error.
    code, out, err = run(capsys, "train", "--data", tiny, "--init", "uniform", "--learning-rate",
                         0.0001, "--epochs", 2)
    assert code == 0, err
    errors = [float(line.split()[4]) for line in out.splitlines()[2:4]]
    assert errors[0] > 0.4 and abs(errors[1] - errors[0]) < 1e-4  # outputs stuck near 1
    costs = [float(line.split()[1]) for line in out.splitlines()[2:4]]
    assert costs[1] < costs[0]  # yet it trains: gradient descent lowers the cost, if barely


# --- gradcheck -------------------------------------------------------------------------------

def test_gradcheck_random_passes(capsys):
    code, out, err = run(capsys, "gradcheck", "--random", "--shape", "20,5,3")
    assert code == 0, err
    rows = [line.split() for line in out.splitlines()[2:-1]]
    assert [(r[0], r[1], r[-1]) for r in rows] == [
        (backend, layer, "PASS") for backend in BACKENDS for layer in ("0", "1")]
    assert out.splitlines()[-1] == "gradcheck: PASS"


def test_gradcheck_skips_python_on_large_networks(capsys):
    code, out, err = run(capsys, "gradcheck", "--random", "--shape", "784,30,10", "--samples", 2,
                         "--backend", "python", "--backend", "vectorized")
    assert code == 0, err
    assert "python       skipped: 23,820 weights is more than 10,000, too slow" in out
    assert re.search(r"(?m)^vectorized\s+1\s+200\s+10\s", out)


def test_gradcheck_fails_with_exit_code_1(capsys, monkeypatch, tmp_path):
    def wrong(net, x, y):
        return [LayerCheck(0, 1, 1, 3e-4, 0.0)]

    monkeypatch.setattr("neuronet.cli.gradcheck.gradcheck", wrong)
    saved = tmp_path / "net.npz"
    save(Network((4, 2)), saved)
    code, out, _ = run(capsys, "gradcheck", "--load", saved, "--random", "--backend", "loops")
    assert code == 1
    assert re.search(r"(?m)^loops\s+0\s+1\s+1\s+3\.0e-04\s+0\.0e\+00\s+FAIL$", out)
    assert out.splitlines()[-1] == "gradcheck: FAIL"


# --- bad input: one line, exit code 2 ---------------------------------------------------------

@pytest.mark.parametrize("argv,words", [
    (["compare", "--dataset", "kmnist"], "argument --dataset: invalid choice: 'kmnist'"),
    (["compare", "--shape", "784,x,10"], ("'784,x,10' is not a list of layer sizes ('x' is not a "
                                         "whole number); write it like 784,30,10")),
    (["train", "--shape", "784"], "give at least two layer sizes"),
    (["train", "--shape", "784,0,10"], "'784,0,10': give at least two layer sizes, each >= 1"),
    (["compare", "--learning-rate", "-0.5"], ("argument --learning-rate: must be a finite number "
                                             "> 0, got -0.5")),
    (["train", "--momentum", "1"], "argument --momentum: must be in [0, 1)"),
    (["train", "--epochs", "0"], "argument --epochs: must be at least 1, got 0"),
    (["train", "--dropout", "1"], ("argument --dropout: must be in [0, 1) (the chance of dropping "
                                  "a neuron), got 1")),
    (["train", "--input-dropout", "-0.2"], "argument --input-dropout: must be in [0, 1)"),
    (["train", "--shift", "-1"], "argument --shift: must be at least 0, got -1"),
    (["train", "--shift", "28", "--data", "TINY"], ("shift must be smaller than the 28-pixel side "
                                                   "of the images, got 28")),
    (["train", "--plot", "curves.pdf"], "name it *.png"),
    (["gradcheck", "--random", "--load", "missing.npz"], "missing.npz: no such network file"),
    (["predict", "missing.npz"], "missing.npz: no such network file"),
    (["compare", "--data", "/no/such/folder"], "/no/such/folder: no such folder"),
    (["compare", "--train-size", "201", "--data", "TINY"], ("--train-size 201 is more than the 200 "
                                                           "training images of MNIST")),
    (["train", "--shape", "100,10", "--data", "TINY"], ("--shape 100,10 does not fit MNIST: it "
                                                       "needs 784 inputs")),
    (["data", "--data", "EMPTY", "--cache", "EMPTY", "--no-download"], "mnist files not found"),
    ([], "the following arguments are required: COMMAND"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, tiny, tmp_path, monkeypatch, argv, words):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "EMPTY").mkdir()
    argv = [str(tiny) if a == "TINY" else a for a in argv]
    code, _out, err = run(capsys, *argv)
    assert code == 2
    assert err.startswith("neuronet: error: ") and words in err, err
    assert "Traceback" not in err
    if "Sources tried" not in err:  # the data module lists each source on a line of its own
        assert err.count("\n") == 1, err


def write_files(folder):
    """The files the bad-file cases below name, written into ``folder``."""
    save(Network((784, 5, 10), seed=0), folder / "net.npz")
    save(Network((5, 3, 2), seed=0), folder / "small.npz")
    np.save(folder / "arr.npy", np.zeros((2, 784)))
    np.savez(folder / "x.npz", rows=np.zeros((2, 784)))
    os.mkfifo(folder / "fifo")
    with open(folder / "lying.npy", "wb") as f:  # declares 10**9 rows, 6 TB, over 800 bytes
        npy.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False,
                                       "shape": (10**9, 784)})
        f.write(bytes(800))


@pytest.mark.parametrize("argv,words", [
    (["predict", "arr.npy"], ("arr.npy is not a neuronet network file: it is one .npy array; to "
                             "classify its rows, give it as --input")),
    (["predict", "net.npz", "--input", "x.npz"], ("x.npz: an .npz archive of arrays; --input takes "
                                                 "one array saved with numpy.save")),
    (["predict", "net.npz", "--input", "lying.npy"], ("lying.npy: its header declares float64 of "
                                                     "shape (1000000000, 784), 6,272,000,000,000 "
                                                     "bytes, but 800 bytes follow it")),
    (["gradcheck", "--random", "--samples", "100000000"], ("argument --samples: must be at most "
                                                          "10,000")),
    (["train", "--batch-size", "99999999999999999999", "--data", "TINY"],
     "--batch-size 99,999,999,999,999,999,999 is more than the 200 training images"),
    (["train", "--seed", "-1"], "argument --seed: must be at least 0, got -1"),
    (["predict", "small.npz", "--data", "TINY"], ("the 5-3-2 network in small.npz does not fit "
                                                 "MNIST: it needs 784 inputs")),
    (["gradcheck", "--load", "small.npz", "--data", "TINY"], ("the 5-3-2 network in small.npz "
                                                             "does not fit MNIST")),
    (["train", "--save", "/sys/net.npz", "--data", "TINY"],
     "argument --save: cannot save to /sys/net.npz: cannot create a file in /sys"),
    (["train", "--save", "fifo", "--data", "TINY"], ("argument --save: cannot save to fifo: it is "
                                                    "not a regular file")),
])
def test_bad_files_are_one_line_and_exit_2(capsys, tiny, tmp_path, monkeypatch, argv, words):
    monkeypatch.chdir(tmp_path)
    write_files(tmp_path)
    argv = [str(tiny) if a == "TINY" else a for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err.startswith("neuronet: error: ") and words in err, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert "epoch" not in out  # refused before any training


def test_predict_input_classes_by_hand_after_cross_dash_entropy(capsys, tiny, tmp_path):
    saved = tmp_path / "net.npz"
    code, _, err = run(capsys, "train", "--data", tiny, "--shape", "784,10,10", "--epochs", 1,
                       "--output", "softmax", "--cost", "cross-entropy", "--save", saved)
    assert code == 0, err
    net = load(saved)
    assert net.cost == "cross_entropy"
    rows = tmp_path / "rows.npy"
    x = np.random.default_rng(0).random((3, 784))
    np.save(rows, x)
    code, out, err = run(capsys, "predict", saved, "--input", rows)
    assert code == 0, err
    # The rows' classes by hand: the largest of w1 sigma(w0 x + b0) + b1 (softmax keeps the order).
    hidden = 1 / (1 + np.exp(-(x @ net.weights[0].T + net.biases[0])))
    classes = (hidden @ net.weights[1].T + net.biases[1]).argmax(axis=1)
    assert out.split()[2:] == [str(v) for i in range(3) for v in (i, classes[i])]


# --- data ------------------------------------------------------------------------------------

def test_data_flags_files_that_are_not_the_published_ones(capsys, tiny):
    code, out, err = run(capsys, "data", "--data", tiny, "--no-download")
    assert code == 1, err
    lines = out.splitlines()
    assert lines[0] == "MNIST:"
    for line, role in zip(lines[1:5], ("train_images", "train_labels", "test_images",
                                       "test_labels")):
        assert re.fullmatch(rf"  {role}\s+[0-9a-f]{{32}}  BAD  {re.escape(str(tiny))}/\S+", line)
    assert lines[5].startswith("4 files BAD")


@pytest.mark.data
def test_data_on_the_real_files(capsys, mnist_folder):
    code, out, err = run(capsys, "data", "--data", mnist_folder, "--no-download")
    assert code == 0, err
    assert out.count(" OK ") == 4 and "BAD" not in out
    assert "6bbc9ace898e44ae57da46a324031adb" in out  # MNIST's training images
    assert out.splitlines()[-1] == "all files OK"


@pytest.mark.data
def test_data_on_the_real_fashion_files(capsys, fashion_mnist_folder):
    code, out, err = run(capsys, "data", "--data", fashion_mnist_folder, "--dataset",
                         "fashion-mnist", "--no-download")
    assert code == 0, err
    assert out.count(" OK ") == 4 and "BAD" not in out
    assert "f4a8712d7a061bf5bd6d2ca38dc4d50a" in out  # Fashion-MNIST's training images
    assert out.splitlines()[-1] == "all files OK"


@pytest.mark.data
@pytest.mark.slow
def test_compare_on_real_mnist(capsys, mnist_folder):
    code, out, err = run(capsys, "compare", "--data", mnist_folder, "--train-size", 2000)
    assert code == 0, err
    assert out.startswith("neuronet compare: 784-30-10 sigmoid/quadratic on MNIST (2,000 of "
                          "60,000 train, 10,000 test), batch 10, learning rate 3.0, seed 0\n")
    accuracy = float(re.search(r"(?m)^\s+1\s+(\d+\.\d\d) %", out)[1])
    assert 75 < accuracy < 95  # 200 steps of Nielsen's network on 2,000 images
    assert re.search(r"agreement: parameters agree to \S+ after 200 steps \(threshold 1e-9\); "
                     r"test predictions identical for 10,000 of 10,000 images", out)


def test_a_reader_that_stops_reading_ends_the_command_quietly(capsys, monkeypatch):
    class ClosedPipe:  # stdout as `neuronet backends | head -1` leaves it
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    code, _, err = run(capsys, "backends")
    assert (code, err) == (141, "")


def test_python_dash_m_runs_the_cli():
    done = subprocess.run([sys.executable, "-m", "neuronet", "gradcheck", "--help"],
                          capture_output=True, text=True, cwd=Path(__file__).parents[1],
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "usage: neuronet gradcheck" in done.stdout and "--samples N" in done.stdout
