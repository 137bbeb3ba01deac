"""fit's checkpoints: a run stopped (or killed) and resumed ends with the parameters, state and
history of the run that never stopped; what a resume refuses; the command line's options.

The expected values are those of the uninterrupted run, trained in the test.
"""
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from helpers import everything, run

from neuronet import Network, fit, load

SHAPE = (16, 8, 4)  # 16 inputs: 4 x 4 images, so shift works
BACKENDS = ("loops", "loops-plain", "strict", "python", "vectorized")
RULES = {"sgd": {}, "momentum": {"momentum": 0.9},
         "nesterov": {"momentum": 0.9, "nesterovs_momentum": True},
         "adam": {"solver": "adam", "learning_rate": 0.01}}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x, y = rng.random((120, SHAPE[0])), rng.integers(0, SHAPE[-1], 120)
    return x[:90], y[:90], (x[90:], y[90:])


def settings(validation, **changes):
    """A run that uses every random draw fit makes: shuffling, dropout masks, shifts."""
    return {"epochs": 4, "learning_rate": 0.5, "batch_size": 7, "decay": 0.9, "dropout": 0.3,
            "input_dropout": 0.1, "shift": 1, "seed": 3, "validation": validation, **changes}


def scores(history):
    return [(e.epoch, e.cost, e.accuracy) for e in history]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("rule", RULES)
def test_resumed_run_is_the_run_never_stopped(tmp_path, data, backend, rule):
    """2 epochs with a checkpoint, then a new network resumed to 4: the uninterrupted run's
    parameters, state and history, bit for bit (the steps are the same steps on every
    backend)."""
    x, y, validation = data
    run_settings = settings(validation, **RULES[rule])
    never = Network(SHAPE, seed=1, backend=backend)
    uninterrupted = fit(never, x, y, **run_settings)
    path = tmp_path / "run.npz"
    fit(Network(SHAPE, seed=1, backend=backend), x, y, **{**run_settings, "epochs": 2},
        checkpoint=path)
    resumed = Network(SHAPE, seed=99, backend=backend)  # its own weights are replaced
    seen = []
    history = fit(resumed, x, y, **run_settings, checkpoint=path, resume=True,
                  on_epoch=seen.append)
    for got, want in zip(everything(resumed), everything(never), strict=True):
        np.testing.assert_array_equal(got, want)
    assert scores(history) == scores(uninterrupted)
    assert [e.restored for e in history] == [True, True, False, False]
    assert seen == history
    assert load(path).weights[0].tobytes() == never.weights[0].tobytes()  # the last epoch's


def test_checkpoint_every_two_epochs(tmp_path, data):
    x, y, validation = data
    path = tmp_path / "run.npz"
    written = []

    def watch(epoch):
        written.append(load(path).rule_settings.eta if path.exists() else None)

    fit(Network(SHAPE, seed=1), x, y, **settings(validation, epochs=5), checkpoint=path,
        checkpoint_every=2, on_epoch=watch)
    rate = [0.5 * 0.9 ** (e - 1) for e in range(1, 6)]
    # after epochs 2, 4 and the last, 5; the rate of epoch e is 0.5 * 0.9^(e - 1)
    assert written == pytest.approx([None, rate[1], rate[1], rate[3], rate[4]])


def test_resuming_a_finished_run_trains_nothing(tmp_path, data):
    x, y, validation = data
    path = tmp_path / "run.npz"
    done = Network(SHAPE, seed=1)
    first = fit(done, x, y, **settings(validation), checkpoint=path)
    again = Network(SHAPE, seed=5)
    history = fit(again, x, y, **settings(validation), checkpoint=path, resume=True)
    assert scores(history) == scores(first) and all(e.restored for e in history)
    np.testing.assert_array_equal(again.weights[1], done.weights[1])


def test_resume_without_a_checkpoint_file_starts_afresh(tmp_path, data):
    x, y, validation = data
    fresh = fit(Network(SHAPE, seed=1), x, y, **settings(validation))
    history = fit(Network(SHAPE, seed=1), x, y, **settings(validation),
                  checkpoint=tmp_path / "run.npz", resume=True)
    assert scores(history) == scores(fresh) and not any(e.restored for e in history)


@pytest.mark.parametrize("change, words", [
    ({"learning_rate": 0.4}, "written by a run with learning_rate=0.5, not 0.4"),
    ({"dropout": 0.2}, "dropout=0.3, not 0.2"),
    ({"seed": 4}, "seed=3, not 4"),
    ({"solver": "adam", "learning_rate": 0.5}, "rule="),
    ({"epochs": 1}, "after epoch 2, beyond epochs=1"),
])
def test_resume_with_other_settings_is_refused(tmp_path, data, change, words):
    x, y, validation = data
    path = tmp_path / "run.npz"
    fit(Network(SHAPE, seed=1), x, y, **settings(validation, epochs=2), checkpoint=path)
    with pytest.raises(ValueError, match=words):
        fit(Network(SHAPE, seed=1), x, y, **settings(validation, **change), checkpoint=path,
            resume=True)


def test_resume_refusals(tmp_path, data):
    x, y, validation = data
    path = tmp_path / "run.npz"
    fit(Network(SHAPE, seed=1), x, y, **settings(validation, epochs=1), checkpoint=path)
    with pytest.raises(ValueError, match="the data .* differs"):
        fit(Network(SHAPE, seed=1), x[::-1], y[::-1], **settings(validation), checkpoint=path,
            resume=True)
    with pytest.raises(ValueError, match=r"sizes \(16, 8, 4\), but the network given has "
                                         r"\(16, 9, 4\)"):
        fit(Network((16, 9, 4)), x, y, **settings(validation), checkpoint=path, resume=True)
    with pytest.raises(ValueError, match="run.npz exists; pass resume=True"):
        fit(Network(SHAPE), x, y, **settings(validation), checkpoint=path)
    with pytest.raises(ValueError, match="resume=True needs checkpoint=PATH"):
        fit(Network(SHAPE), x, y, **settings(validation), resume=True)
    from neuronet import save
    save(Network(SHAPE), tmp_path / "plain.npz")
    with pytest.raises(ValueError, match="not a checkpoint of fit"):
        fit(Network(SHAPE), x, y, **settings(validation), checkpoint=tmp_path / "plain.npz",
            resume=True)


# --- killed: a subprocess, SIGKILL, resumed ------------------------------------------------

SCRIPT = """
import sys, time
import numpy as np
from neuronet import Network, fit
rng = np.random.default_rng(0)
x, y = rng.random((120, 16)), rng.integers(0, 4, 120)
def report(epoch):
    print("epoch", epoch.epoch, flush=True)
    time.sleep(0.05)  # so the kill lands while the run is still going
fit(Network((16, 8, 4), seed=1), x[:90], y[:90], epochs=EPOCHS, learning_rate=0.5,
    batch_size=7, momentum=0.9, decay=0.9, dropout=0.3, input_dropout=0.1, shift=1, seed=3,
    validation=(x[90:], y[90:]), checkpoint=sys.argv[1], on_epoch=report)
"""
EPOCHS = 12


@pytest.mark.parametrize("after", [1, 5])
def test_a_killed_run_resumes_to_the_uninterrupted_run(tmp_path, data, after):
    """A subprocess training with a checkpoint is killed (SIGKILL, no chance to tidy up) once
    it has reported epoch ``after``, somewhere in a later epoch or checkpoint; resumed here,
    it ends where the run never stopped ends."""
    x, y, validation = data
    run_settings = settings(validation, epochs=EPOCHS, momentum=0.9)
    never = Network(SHAPE, seed=1)
    uninterrupted = fit(never, x, y, **run_settings)  # also compiles what the subprocess loads
    path = tmp_path / "run.npz"
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT).replace("EPOCHS", str(EPOCHS)))
    child = subprocess.Popen([sys.executable, str(script), str(path)], stdout=subprocess.PIPE,
                             text=True)
    for line in child.stdout:
        if line.split() == ["epoch", str(after)]:
            child.send_signal(signal.SIGKILL)
            break
    child.wait()
    assert child.returncode == -signal.SIGKILL
    load(path)  # the checkpoint is whole (a kill mid-write leaves the previous one)
    resumed = Network(SHAPE, seed=42)
    history = fit(resumed, x, y, **run_settings, checkpoint=path, resume=True)
    restored = sum(e.restored for e in history)
    assert after <= restored < EPOCHS  # killed before the end, after epoch `after`
    assert scores(history) == scores(uninterrupted)
    for got, want in zip(everything(resumed), everything(never), strict=True):
        np.testing.assert_array_equal(got, want)


# --- the command line ----------------------------------------------------------------------

def table(out):
    """The rows of train's table: epoch, cost, accuracy (the post error and seconds left out,
    as a row read from a checkpoint has no post error and a row's seconds vary)."""
    return [line.split()[:4] for line in out.splitlines() if line.split()[:1] != []
            and line.split()[0].isdigit()]


def test_train_checkpoint_and_resume(capsys, tiny, tmp_path):
    common = ("train", "--data", tiny, "--no-download", "--shape", "784,12,10",
              "--learning-rate", "1", "--momentum", "0.5", "--dropout", "0.2", "--seed", "4")
    code, whole, _ = run(capsys, *common, "--epochs", "4")
    assert code == 0
    path = tmp_path / "run.npz"
    code, first, _ = run(capsys, *common, "--epochs", "2", "--checkpoint", path)
    assert code == 0 and f"checkpoint written to {path}" in first
    code, out, err = run(capsys, *common, "--epochs", "2", "--checkpoint", path)
    assert code == 2 and "exists; add --resume" in err
    code, out, _ = run(capsys, *common, "--epochs", "4", "--checkpoint", path, "--resume")
    assert code == 0 and f"resuming from {path}" in out
    assert table(out) == table(whole)
    assert [line.endswith("checkpoint") for line in out.splitlines()
            if line.split()[:1] and line.split()[0].isdigit()] == [True, True, False, False]
    assert out.splitlines()[-2] == whole.splitlines()[-1]  # the final accuracy
    code, _, err = run(capsys, *common, "--resume")
    assert code == 2 and "--resume needs --checkpoint" in err


MT = '{"bit_generator": "MT19937", "state": 1}'  # not the PCG64 state fit's generators have


@pytest.mark.parametrize("entry, value, words", [
    ("fit_settings", "[" * 100_000, "its settings are not JSON"),
    ("fit_random", f"[{MT}]", "holds 1 random generators' states, not 4"),
    ("fit_random", f"[{', '.join([MT] * 4)}]", "a random generator's state is not one numpy"),
    ("fit_history", np.array([[2.0, 0.1, 0.5, 1.0]]), "rows numbered from epoch 1"),
])
def test_a_damaged_checkpoint_is_refused_by_name(tmp_path, data, entry, value, words):
    x, y, validation = data
    path = tmp_path / "run.npz"
    fit(Network(SHAPE, seed=1), x, y, **settings(validation, epochs=1), checkpoint=path)
    with np.load(path) as f:
        entries = {name: f[name] for name in f.files}
    entries[entry] = np.array(value)
    np.savez(path, **entries)
    with pytest.raises(ValueError, match=f"cannot resume from {path}: .*{words}"):
        fit(Network(SHAPE, seed=1), x, y, **settings(validation), checkpoint=path, resume=True)
