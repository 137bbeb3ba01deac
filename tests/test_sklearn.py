"""NeuronetClassifier against scikit-learn: its estimator checks, MLPClassifier's own updates,
and a real dataset in a Pipeline and a GridSearchCV.

Most tests run the logistic activation with SGD (``TODAY``, what neuronet had first), where
MLPClassifier's steps are matched exactly; the defaults (relu, Adam) have checks of their own.
"""
import pickle
import re
import warnings

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_digits, make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from neuronet import Network
from neuronet.sklearn import NeuronetClassifier

# Logistic hidden layers and SGD without Nesterov's momentum.
TODAY = {"activation": "logistic", "solver": "sgd", "nesterovs_momentum": False}


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def digits():
    """load_digits split 75/25, stratified: 1,347 training and 450 test images of 8 x 8."""
    x, y = load_digits(return_X_y=True)
    return train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)


@pytest.fixture
def blobs():
    """Three well-separated clusters in 4 dimensions, 60 samples."""
    return make_blobs(n_samples=60, centers=3, n_features=4, cluster_std=0.5, random_state=0)


# -- scikit-learn's estimator checks -----------------------------------------------------------

# learning_rate_init=0.1: the checks' blobs must be learnt to 83 % (check_classifiers_train),
# which plain SGD at MLPClassifier's 0.001 (chosen for Adam) does not reach in 200 epochs.
@parametrize_with_checks([NeuronetClassifier(**TODAY, learning_rate_init=0.1)])
def test_sklearn_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@parametrize_with_checks([NeuronetClassifier()])
def test_sklearn_checks_defaults(estimator, check):
    """The defaults, MLPClassifier's: relu and Adam."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


# -- the same numbers as by hand, and as MLPClassifier ------------------------------------------

def test_one_sgd_step_by_hand():
    """One full-batch SGD step of a 2-3-3 network, written out in numpy: alpha enters as
    alpha / batch_size beside the mean gradient (scikit-learn's (sum + alpha W) / n)."""
    x = np.array([[0.5, -1.0], [1.5, 0.25], [-0.75, 0.5], [0.0, 2.0]])
    y = np.array([0, 1, 2, 1])
    alpha, eta, n = 0.3, 0.5, 4
    model = NeuronetClassifier((3,), **TODAY, alpha=alpha, learning_rate_init=eta,
                               batch_size=n, max_iter=1, shuffle=False, momentum=0.0,
                               random_state=1)
    fresh = Network((2, 3, 3), seed=1, output="softmax", cost="cross_entropy")
    w0, w1, b0, b1 = (p.copy() for p in fresh.weights + fresh.biases)

    t = np.eye(3)[y]
    a1 = sigmoid(x @ w0.T + b0)               # (4, 3) hidden activations
    a2 = softmax(a1 @ w1.T + b1)              # (4, 3) outputs
    delta2 = a2 - t                           # dC/dz of softmax with cross-entropy
    delta1 = (delta2 @ w1) * a1 * (1 - a1)    # back through w1, times sigma' = a (1 - a)
    grad_w1, grad_b1 = delta2.T @ a1 / n, delta2.mean(axis=0)
    grad_w0, grad_b0 = delta1.T @ x / n, delta1.mean(axis=0)
    # scikit-learn: W <- W - eta (sum_i grad_i + alpha W) / n; biases carry no penalty
    expect = [w0 - eta * (grad_w0 + alpha / n * w0), w1 - eta * (grad_w1 + alpha / n * w1)]
    expect_b = [b0 - eta * grad_b0, b1 - eta * grad_b1]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y)  # builds its own network; put the one above in and fit again
        model.set_params(warm_start=True)
        model.network_ = fresh
        model.fit(x, y)
    for got, want in zip(model.coefs_ + model.intercepts_,
                         [e.T for e in expect] + expect_b):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    # the loss reported, as MLPClassifier's: the batch's cross-entropy from its forward pass,
    # before the step, plus alpha/2 |W|^2 / n with the weights before the step
    loss = (-np.mean(np.log(a2[np.arange(n), y]))
            + 0.5 * alpha * (np.sum(w0 * w0) + np.sum(w1 * w1)) / n)
    assert model.loss_ == pytest.approx(loss, rel=1e-12)


MLP_SETTINGS = [
    pytest.param({"activation": "logistic", "solver": "sgd", "momentum": 0.0}, id="sgd"),
    pytest.param({"activation": "logistic", "solver": "sgd", "momentum": 0.9,
                      "nesterovs_momentum": False}, id="momentum"),
    pytest.param({"activation": "logistic", "solver": "sgd", "momentum": 0.9,
                      "nesterovs_momentum": True}, id="nesterov"),
    pytest.param({"activation": "tanh", "solver": "sgd", "momentum": 0.9,
                      "nesterovs_momentum": False}, id="tanh"),
    pytest.param({"activation": "relu", "solver": "sgd", "momentum": 0.9,
                      "nesterovs_momentum": False}, id="relu"),
    pytest.param({"activation": "logistic", "solver": "adam"}, id="adam"),
    pytest.param({"activation": "relu", "solver": "adam", "beta_1": 0.8, "beta_2": 0.99,
                      "epsilon": 1e-6}, id="relu-adam"),
]


@pytest.mark.parametrize("settings", MLP_SETTINGS)
def test_same_steps_as_mlpclassifier(blobs, settings):
    """From the same weights, with batches that divide the samples and no shuffling, three
    epochs give MLPClassifier's weights: the parameter mapping, alpha included, is exact."""
    x, y = blobs
    common = dict(hidden_layer_sizes=(5,), alpha=0.05, batch_size=15, learning_rate_init=0.05,
                  shuffle=False, random_state=0, **settings)
    ours = NeuronetClassifier(**common, max_iter=1)
    theirs = MLPClassifier(**common, max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(x, y)
        theirs.fit(x, y)  # to build its layers; both start again from ours below
        start = [w.copy() for w in ours.coefs_], [b.copy() for b in ours.intercepts_]
        # A fresh network (fresh optimizer state), holding the weights of ours after one epoch.
        ours.network_ = Network(ours.network_.sizes, output="softmax", cost="cross_entropy",
                                **ours._network_kwargs())
        for layer, (w, b) in enumerate(zip(*start)):
            ours.network_.weights[layer][...] = w.T
            ours.network_.biases[layer][...] = b
        theirs.coefs_, theirs.intercepts_ = [w.copy() for w in start[0]], [b.copy() for b in
                                                                          start[1]]
        ours.set_params(warm_start=True, max_iter=3).fit(x, y)
        theirs.set_params(warm_start=True, max_iter=3).fit(x, y)
    for got, want in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    # and reports the same losses, each epoch's batches before their steps
    np.testing.assert_allclose(ours.loss_curve_[-3:], theirs.loss_curve_[-3:], rtol=1e-10)
    np.testing.assert_allclose(ours.predict_proba(x), theirs.predict_proba(x), rtol=1e-10)


def test_stops_as_mlpclassifier(blobs):
    """A loss that can never improve by tol stops both after n_iter_no_change + 2 epochs (the
    first improves on no loss at all, then the count must exceed n_iter_no_change), without a
    ConvergenceWarning; best_loss_ is the least loss seen."""
    x, y = blobs
    common = dict(**TODAY, hidden_layer_sizes=(5,), tol=100.0, n_iter_no_change=3, max_iter=50,
                  random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ours = NeuronetClassifier(**common).fit(x, y)
        theirs = MLPClassifier(**common).fit(x, y)
    assert ours.n_iter_ == theirs.n_iter_ == 5
    assert len(ours.loss_curve_) == 5
    assert ours.best_loss_ == min(ours.loss_curve_)


def test_convergence_warning_at_max_iter(blobs):
    x, y = blobs
    model = NeuronetClassifier((5,), **TODAY, max_iter=3, tol=0.0, random_state=0)
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(3\)"):
        model.fit(x, y)
    assert model.n_iter_ == 3 and model.t_ == 3 * len(x)


# -- what the estimator promises ----------------------------------------------------------------

def test_string_labels_round_trip(blobs):
    x, y = blobs
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    model = NeuronetClassifier((10,), **TODAY, learning_rate_init=0.1, random_state=0)
    model.fit(x, names)
    assert list(model.classes_) == ["setosa", "versicolor", "virginica"]
    predicted = model.predict(x)
    assert predicted.dtype == names.dtype
    assert np.mean(predicted == names) == 1.0  # the clusters are far apart


@pytest.mark.parametrize("n_classes", [2, 3, 5])
def test_predict_proba_is_a_distribution_and_argmax_is_predict(n_classes):
    x, y = make_blobs(n_samples=80, centers=n_classes, n_features=3, random_state=1)
    labels = np.array([10, 20, 30, 40, 50])[y]
    model = NeuronetClassifier((8,), **TODAY, learning_rate_init=0.1, max_iter=20,
                               random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, labels)
    p = model.predict_proba(x)
    assert p.shape == (80, n_classes)  # two classes too: softmax over two outputs
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    assert (p >= 0).all()
    np.testing.assert_array_equal(model.predict(x), model.classes_[p.argmax(axis=1)])
    np.testing.assert_allclose(model.predict_log_proba(x), np.log(p))
    assert model.score(x, labels) == np.mean(model.predict(x) == labels)


def test_coefs_are_the_network_weights_transposed(blobs):
    x, y = blobs
    model = NeuronetClassifier((7, 5), **TODAY, max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y)
    net = model.network_
    assert net.sizes == (4, 7, 5, 3) and model.n_layers_ == 4
    assert [c.shape for c in model.coefs_] == [(4, 7), (7, 5), (5, 3)]
    assert [b.shape for b in model.intercepts_] == [(7,), (5,), (3,)]
    for coef, w, intercept, b in zip(model.coefs_, net.weights, model.intercepts_, net.biases):
        np.testing.assert_array_equal(coef, w.T)
        np.testing.assert_array_equal(intercept, b)
        assert np.shares_memory(coef, w)  # views: they show the network as it is now
    # The forward pass, written with coefs_ as MLPClassifier's: a @ W + b.
    a = x
    for coef, intercept in zip(model.coefs_[:-1], model.intercepts_[:-1]):
        a = sigmoid(a @ coef + intercept)
    p = softmax(a @ model.coefs_[-1] + model.intercepts_[-1])
    np.testing.assert_allclose(model.predict_proba(x), p, rtol=1e-12)


@pytest.mark.parametrize("settings", [
    pytest.param(dict(**TODAY, momentum=0.0), id="sgd"),
    pytest.param(dict(**TODAY, momentum=0.9), id="momentum"),
    pytest.param({"activation": "relu", "solver": "adam"}, id="adam"),
])
def test_partial_fit_twice_is_fit_for_two_epochs(blobs, settings):
    """Without shuffling, two partial_fit calls are fit with max_iter=2: the same network, and
    the optimizer's state (velocities, Adam's moments) carries over between the calls."""
    x, y = blobs
    common = dict(hidden_layer_sizes=(6,), shuffle=False, random_state=3, batch_size=16,
                  learning_rate_init=0.05, **settings)
    twice = NeuronetClassifier(**common)
    twice.partial_fit(x, y, classes=np.unique(y))
    twice.partial_fit(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        once = NeuronetClassifier(**common, max_iter=2).fit(x, y)
    for got, want in zip(twice.coefs_ + twice.intercepts_, once.coefs_ + once.intercepts_):
        np.testing.assert_array_equal(got, want)
    assert twice.loss_curve_ == once.loss_curve_
    assert twice.t_ == once.t_ == 2 * len(x)
    assert twice.n_iter_ == 1 and once.n_iter_ == 2  # epochs of the last call, as sklearn


def test_warm_start_continues(blobs):
    """warm_start continues from the last fit's network and optimizer state (the velocities):
    fit for 2 epochs twice is fit for 4, and loss_curve_ grows to 4."""
    x, y = blobs
    common = dict(**TODAY, hidden_layer_sizes=(6,), shuffle=False, random_state=2,
                  batch_size=16, momentum=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warm = NeuronetClassifier(**common, max_iter=2, warm_start=True).fit(x, y).fit(x, y)
        once = NeuronetClassifier(**common, max_iter=4).fit(x, y)
        cold = NeuronetClassifier(**common, max_iter=2).fit(x, y).fit(x, y)
    for got, want in zip(warm.coefs_, once.coefs_):
        np.testing.assert_array_equal(got, want)
    assert warm.loss_curve_ == once.loss_curve_
    assert len(cold.loss_curve_) == 2  # without warm_start, fit starts again


def test_partial_fit_classes():
    x = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    model = NeuronetClassifier((3,), **TODAY)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        model.partial_fit(x, ["a", "b", "a"])
    # A first batch may hold only some of the classes.
    model.partial_fit(x, ["a", "b", "a"], classes=["c", "a", "b"])
    assert list(model.classes_) == ["a", "b", "c"]
    assert model.predict_proba(x).shape == (3, 3)
    model.partial_fit(x, ["c", "c", "b"])
    with pytest.raises(ValueError, match=r"labels \['d'\] not among the classes"):
        model.partial_fit(x, ["a", "d", "b"])
    with pytest.raises(ValueError, match="not the same as on the first call"):
        model.partial_fit(x, ["a", "b", "a"], classes=["a", "b"])
    with pytest.raises(ValueError, match="X has 3 features"):
        model.partial_fit(np.ones((2, 3)), ["a", "b"])


def test_reproducible_with_random_state(blobs):
    x, y = blobs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fits = [NeuronetClassifier((6,), **TODAY, max_iter=3, random_state=seed).fit(x, y)
                for seed in (5, 5, 6)]
        unseeded = [NeuronetClassifier((6,), **TODAY, max_iter=3).fit(x, y) for _ in range(2)]
    np.testing.assert_array_equal(fits[0].coefs_[0], fits[1].coefs_[0])
    assert fits[0].loss_curve_ == fits[1].loss_curve_
    assert not np.array_equal(fits[0].coefs_[0], fits[2].coefs_[0])
    assert not np.array_equal(unseeded[0].coefs_[0], unseeded[1].coefs_[0])
    # a RandomState is taken as scikit-learn takes it: RandomState(5) draws what 5 draws
    rng = np.random.RandomState(5)
    shuffled = NeuronetClassifier((6,), **TODAY, max_iter=3, random_state=rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        shuffled.fit(x, y)
    np.testing.assert_array_equal(shuffled.coefs_[0], fits[0].coefs_[0])  # RandomState(5) = 5


@pytest.mark.parametrize("name, value, allowed", [
    ("activation", "identity", "'logistic', 'tanh', 'relu'"),
    ("solver", "lbfgs", "'sgd' or 'adam'"),
    ("learning_rate", "adaptive", "'constant'"),
    ("early_stopping", True, "False"),
    ("batch_size", 0, "'auto' or an integer >= 1"),
    ("batch_size", "all", "'auto' or an integer >= 1"),
    ("hidden_layer_sizes", (10, 0), "integers >= 1"),
    ("hidden_layer_sizes", "ten", "integers >= 1"),
    ("alpha", -1.0, r"\[0, inf\]"),
    ("learning_rate_init", 0.0, r"\(0, inf\]"),
    ("max_iter", 0, r"integer in \[1, inf\]"),
    ("max_iter", 2.5, r"integer in \[1, inf\]"),
    ("n_iter_no_change", 0, r"integer in \[1, inf\]"),
    ("tol", -1e-3, r"\[0, inf\]"),
    ("momentum", 1.0, r"\[0, 1\)"),
    ("beta_1", 1.0, r"\[0, 1\)"),
    ("beta_2", -0.1, r"\[0, 1\)"),
    ("epsilon", 0.0, r"\(0, inf\]"),
    ("backend", "gpu", "'loops'"),
    ("dtype", "float16", "'float64', 'float32'"),
])
def test_bad_parameters_name_themselves(blobs, name, value, allowed):
    """Errors come from fit, not __init__ (scikit-learn's rule), and name the parameter, the
    value given and what is allowed."""
    x, y = blobs
    model = NeuronetClassifier(**{**TODAY, name: value})
    with pytest.raises(ValueError, match=name) as error:
        model.fit(x, y)
    assert repr(value) in str(error.value) or str(value) in str(error.value)
    assert re.search(allowed, str(error.value)), str(error.value)



@pytest.mark.parametrize("name", ["alpha", "learning_rate_init"])
def test_infinite_rates_are_refused_by_the_estimators_names(blobs, name):
    """alpha and learning_rate_init become Network's weight_decay and learning_rate; an
    infinite one is refused before that, in the estimator's words."""
    x, y = blobs
    model = NeuronetClassifier(**{**TODAY, name: np.inf})
    with pytest.raises(ValueError, match=rf"^{name} must be finite and .*, got inf") as error:
        model.fit(x, y)
    assert "weight_decay" not in str(error.value)
    assert not hasattr(model, "network_")  # refused before any training

def test_diverging_training_says_so(blobs):
    x, y = blobs
    model = NeuronetClassifier((5,), **TODAY, learning_rate_init=1e300, random_state=0)
    with pytest.raises(ValueError, match="non-finite parameter weights"), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's overflow on the way
        model.fit(x * 1e10, y)


def test_float32(blobs):
    """float32 input trains a float64 network by default; dtype="float32" trains a float32 one,
    within float32's rounding of the float64 one."""
    x, y = blobs
    x32 = x.astype(np.float32)
    common = dict(**TODAY, hidden_layer_sizes=(6,), max_iter=5, random_state=0,
                  learning_rate_init=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        wide = NeuronetClassifier(**common).fit(x32, y)
        narrow = NeuronetClassifier(**common, dtype="float32").fit(x32, y)
    assert wide.network_.dtype == np.float64 and narrow.network_.dtype == np.float32
    assert narrow.predict_proba(x32).dtype == np.float32
    np.testing.assert_allclose(narrow.predict_proba(x), wide.predict_proba(x), atol=1e-4)
    np.testing.assert_allclose(narrow.loss_curve_, wide.loss_curve_, rtol=1e-4)


def test_backends_agree(blobs):
    x, y = blobs
    common = dict(**TODAY, hidden_layer_sizes=(6,), max_iter=5, random_state=0, momentum=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        loops = NeuronetClassifier(**common).fit(x, y)
        vectorized = NeuronetClassifier(**common, backend="vectorized").fit(x, y)
    for got, want in zip(vectorized.coefs_, loops.coefs_):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_pickle_and_read_only_memmap(blobs, tmp_path):
    """A model loaded with joblib's mmap_mode="r" (read-only arrays) predicts and trains on."""
    x, y = blobs
    model = NeuronetClassifier((6,), **TODAY, random_state=0, shuffle=False)
    model.partial_fit(x, y, classes=np.unique(y))
    copy = pickle.loads(pickle.dumps(model))
    joblib.dump(model, tmp_path / "model.joblib")
    mapped = joblib.load(tmp_path / "model.joblib", mmap_mode="r")
    np.testing.assert_array_equal(mapped.predict_proba(x), model.predict_proba(x))
    for other in (copy, mapped, model):
        other.partial_fit(x, y)
    np.testing.assert_array_equal(mapped.coefs_[0], model.coefs_[0])
    np.testing.assert_array_equal(copy.coefs_[0], model.coefs_[0])


def test_verbose_prints_the_loss(blobs, capsys):
    x, y = blobs
    model = NeuronetClassifier((4,), **TODAY, max_iter=2, verbose=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y)
    out = capsys.readouterr().out.splitlines()
    assert out == [f"Iteration {i + 1}, loss = {loss:.8f}"
                   for i, loss in enumerate(model.loss_curve_)]


# -- on real data --------------------------------------------------------------------------------

def test_pipeline_on_digits(digits):
    """StandardScaler then the network; a classifier that learnt nothing scores about 0.1, and
    one that only half works well under 0.9."""
    x_train, x_test, y_train, y_test = digits
    model = make_pipeline(StandardScaler(), NeuronetClassifier(
        (50,), **TODAY, learning_rate_init=0.05, max_iter=30, random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x_train, y_train)
    assert model.score(x_test, y_test) > 0.93


def test_grid_search_on_digits(digits):
    """GridSearchCV clones the estimator for each setting: get_params and set_params round-trip,
    and the best of a grid holding one useless setting (a far too small rate) is a good one."""
    x_train, x_test, y_train, y_test = digits
    pipeline = make_pipeline(StandardScaler(), NeuronetClassifier(
        (30,), **TODAY, max_iter=20, random_state=0))
    grid = GridSearchCV(pipeline, {"neuronetclassifier__learning_rate_init": [1e-6, 0.05],
                                   "neuronetclassifier__alpha": [1e-4, 1e-2]}, cv=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid.fit(x_train, y_train)
    assert grid.best_params_["neuronetclassifier__learning_rate_init"] == 0.05
    assert grid.best_score_ > 0.9
    assert grid.score(x_test, y_test) > 0.9
    scores = grid.cv_results_["mean_test_score"]
    assert scores.min() < 0.5  # the useless rate was really tried, and failed


def test_defaults_on_digits(digits):
    """MLPClassifier's defaults (relu, Adam at 0.001, 100 hidden units) learn digits."""
    x_train, x_test, y_train, y_test = digits
    model = make_pipeline(StandardScaler(), NeuronetClassifier(max_iter=50, random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x_train, y_train)
    assert model.score(x_test, y_test) > 0.93


# -- checkpoints: a pickle of the estimator, and what training refuses --------------------------

@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("state", ["int", "RandomState"])
@pytest.mark.parametrize("backend", ["loops", "strict", "vectorized"])
def test_partial_fit_after_unpickling_continues_exactly(blobs, solver, state, backend):
    """Two partial_fit calls, a pickle and two more on the unpickled estimator: the four calls
    of one never pickled, bit for bit (velocities, Adam's moments and step count, the loss
    curve and a RandomState's draws all carry over)."""
    x, y = blobs

    def model():
        random_state = 7 if state == "int" else np.random.RandomState(7)
        return NeuronetClassifier((6,), solver=solver, random_state=random_state,
                                  learning_rate_init=0.05, batch_size=16, backend=backend)

    never, stopped = model(), model()
    for _ in range(4):
        never.partial_fit(x, y, classes=np.unique(y))
    for _ in range(2):
        stopped.partial_fit(x, y, classes=np.unique(y))
    resumed = pickle.loads(pickle.dumps(stopped))
    for _ in range(2):
        resumed.partial_fit(x, y)
    for got, want in zip(resumed.coefs_ + resumed.intercepts_, never.coefs_ + never.intercepts_):
        np.testing.assert_array_equal(got, want)
    assert resumed.loss_curve_ == never.loss_curve_ and resumed.t_ == never.t_
    assert np.array_equal(resumed.network_.velocity_w[0], never.network_.velocity_w[0])


def test_warm_start_after_unpickling_continues_exactly(blobs, tmp_path):
    x, y = blobs
    common = dict(**TODAY, hidden_layer_sizes=(6,), random_state=2, batch_size=16,
                  momentum=0.9, max_iter=2, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        never = NeuronetClassifier(**common).fit(x, y).fit(x, y)
        joblib.dump(NeuronetClassifier(**common).fit(x, y), tmp_path / "model.joblib")
        resumed = joblib.load(tmp_path / "model.joblib").fit(x, y)
    for got, want in zip(resumed.coefs_, never.coefs_):
        np.testing.assert_array_equal(got, want)
    assert resumed.loss_curve_ == never.loss_curve_


@pytest.mark.parametrize("classes", [[], [3], np.array([1, 1])])
def test_partial_fit_needs_two_classes(classes):
    """classes=[] ended in an IndexError from inside; one class trained a one-output network."""
    model = NeuronetClassifier((3,))
    with pytest.raises(ValueError, match=r"^classes must list every label there will be, at "
                                         "least two different ones"):
        model.partial_fit(np.ones((2, 2)), [3, 3], classes=classes)
    assert not hasattr(model, "network_")


def test_fit_needs_two_classes():
    with pytest.raises(ValueError, match=r"y holds one class only, \[1\]"):
        NeuronetClassifier((3,)).fit(np.ones((4, 2)), [1, 1, 1, 1])


def test_nan_weights_set_by_hand_are_named(blobs):
    x, y = blobs
    model = NeuronetClassifier((5,), **TODAY, random_state=0)
    model.partial_fit(x, y, classes=np.unique(y))
    model.network_.velocity_w[1][0, 0] = np.nan
    with pytest.raises(ValueError, match=r"net\.velocity_w\[1\] holds NaN or infinity"):
        model.partial_fit(x, y)
