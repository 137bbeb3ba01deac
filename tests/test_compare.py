"""compare's two witnesses: the re-synchronised difference stays at rounding level however far
the free-running networks drift, and a control moved by one ulp drifts as far.

The run: 20-16-5 softmax, cross-entropy, learning rate 2 with momentum 0.5, batch 1, 3,000
steps. Found by trying: at these settings the backends' 1e-16 rounding differences grow past
1e-9 (4e-7 at the end, measured; the control from its one ulp to 8e-8), while 50 steps from the
same start stay under 1e-12.
"""
import re

import numpy as np
import pytest
from helpers import mnist_shaped, parameters, run

from neuronet import Network
from neuronet.compare import (
    AGREE,
    ROUNDING,
    control_verdict,
    copy_state,
    lockstep,
    nudge,
    resync_verdict,
)

UNSTABLE = {"epochs": 30, "learning_rate": 2.0, "batch_size": 1, "momentum": 0.5, "weight_decay": 0.0,
                "seed": 0, "chunk": 50}
PAIRS = {"free": [("loops", "vectorized")], "resynced": [("loops", "resynced")],
         "control": [("vectorized", "control")]}


def witnessed_run(settings=UNSTABLE):
    x, y = mnist_shaped(100, seed=3, n_in=20, n_out=5)
    kinds = {"loops": "loops", "vectorized": "vectorized", "resynced": "vectorized",
             "control": "vectorized"}
    nets = {name: Network((20, 16, 5), backend=backend, seed=1, output="softmax",
                          cost="cross_entropy") for name, backend in kinds.items()}
    nudge(nets["control"])
    return lockstep(nets, x, y, pairs=PAIRS, resync={"resynced": "loops"}, **settings)


@pytest.fixture(scope="module")
def unstable():
    return witnessed_run()


def test_resynced_difference_stays_at_rounding_while_the_free_one_grows(unstable):
    free = [d for _, d in unstable.diffs]
    print(f"free-running: {free[0]:.1e} -> {free[-1]:.1e}; re-synced at most "
          f"{unstable.largest('resynced'):.1e}; control {unstable.series['control'][-1][1]:.1e}")
    assert unstable.steps == 3000 and len(unstable.series["resynced"]) == 60
    assert free[-1] > AGREE and free[-1] > 1e4 * free[0]    # the drift the tool must explain
    assert 0 < unstable.largest("resynced") <= ROUNDING     # the backends do differ, by rounding


def test_control_moved_by_one_ulp_drifts_like_the_backends(unstable):
    control = [d for _, d in unstable.series["control"]]
    assert control[-1] > AGREE                              # from one ulp, about 1e-16
    assert control[-1] > 1e-3 * unstable.diffs[-1][1]      # the same order of drift, within 1e3


def test_resync_copies_parameters_and_velocities_before_the_chunk():
    source, target = Network((3, 4, 2), seed=1), Network((3, 4, 2), seed=2, backend="vectorized")
    source.velocity_w[0][:] = 0.25
    copy_state(source, target)
    for a, b in zip(parameters(source), parameters(target)):
        np.testing.assert_array_equal(a, b)
    assert target.backend == "vectorized"


def test_resync_copies_adams_state_and_the_last_steps_settings():
    source, target = Network((3, 4, 2), seed=1), Network((3, 4, 2), seed=2)
    source.step(np.full((2, 3), 0.5), np.eye(2), 0.1, solver="adam")
    copy_state(source, target)
    for kind in ("squares_w", "squares_b"):
        for a, b in zip(getattr(source, kind), getattr(target, kind)):
            assert a.any()
            np.testing.assert_array_equal(a, b)
    assert target.adam_steps[0] == 1
    assert target.rule_settings == source.rule_settings


def test_nudge_moves_one_weight_by_one_ulp():
    net, plain = Network((3, 4, 2), seed=1), Network((3, 4, 2), seed=1)
    nudge(net)
    moved = np.argwhere(net.weights[-1] != plain.weights[-1])
    assert len(moved) == 1 and np.array_equal(net.weights[0], plain.weights[0])
    j, k = moved[0]
    assert net.weights[-1][j, k] == np.nextafter(plain.weights[-1][j, k], np.inf)


def test_verdict_lines(unstable):
    assert resync_verdict(unstable, chunk=50).startswith(
        "re-synchronised (both start every chunk of 50 steps from the same parameters): at most ")
    assert "rounding level (threshold 1e-12)" in resync_verdict(unstable)
    assert "not a bug" in control_verdict(unstable, "vectorized")


def test_compare_prints_the_witnesses(capsys, tiny):
    code, out, err = run(capsys, "compare", "--data", tiny, "--epochs", 2, "--chunk", 10)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[2] == ("epoch  loops acc  vectorized acc  loops s  vectorized s  free-running  "
                        "re-synced  control")
    row = r"\s+{}\s+\d+\.\d\d %\s+\d+\.\d\d %\s+\d+\.\d\d\s+\d+\.\d\d(\s+\d\.\de-\d\d){{3}}"
    assert re.fullmatch(row.format(1), lines[3]) and re.fullmatch(row.format(2), lines[4])
    assert len(lines[3]) == len(lines[2])  # fixed-width columns line up under the header
    text = " ".join(out.split())
    assert re.search(r"re-synchronised \(both start every chunk of 10 steps from the same "
                     r"parameters\): at most \S+ apart after a chunk, over all 40 steps, rounding "
                     r"level \(threshold 1e-12\)", text)
    assert re.search(r"control \(vectorized against itself with one weight moved by one ulp\): "
                     r"\S+ apart after 40 steps, free-running backends \S+; training this stable "
                     r"damps both", text)


def test_compare_strict_is_bit_for_bit_the_python_backend(capsys, tiny):
    code, out, err = run(capsys, "compare", "--data", tiny, "--strict", "--python", 20)
    assert code == 0, err
    assert out.splitlines()[2].startswith("epoch  strict acc  vectorized acc  strict s  ")
    assert re.search(r"python backend on the first 20 training images \(1 epoch, 2 steps\): "
                     r"[\d,]+ samples/s, strict [\d,]+x faster; parameters identical to the "
                     r"strict backend's, bit for bit", out)
    assert re.search(r"summary: strict trained at [\d,]+ samples/s", out)
