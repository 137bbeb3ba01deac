"""neuronet as a scikit-learn classifier: ``NeuronetClassifier``, a stand-in for ``MLPClassifier``.

    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from neuronet.sklearn import NeuronetClassifier
    >>> model = make_pipeline(StandardScaler(), NeuronetClassifier((30,), random_state=0))
    >>> model.fit(x_train, y_train).score(x_test, y_test)

It is scikit-learn's estimator interface (``fit``, ``partial_fit``, ``predict``,
``predict_proba``, ``score``, ``get_params``), so it goes into a ``Pipeline`` or a
``GridSearchCV``, with a ``neuronet.Network`` doing the work: the per-neuron loops by default,
or any other backend. It is not a full copy of ``MLPClassifier``; what it takes and what it
changes are listed here.

The parameters are ``MLPClassifier``'s, with its names and defaults, where they mean the same:

===================== =========================== ==============================================
MLPClassifier          here                        neuronet
===================== =========================== ==============================================
hidden_layer_sizes     the same                    ``Network((n_features, *hidden, n_classes))``
activation             logistic, tanh, relu        ``Network(activation="sigmoid"|"tanh"|"relu")``
                       (identity: error)
solver                 sgd, adam (lbfgs: error)    ``step(solver=...)``
alpha                  the same                    ``weight_decay = alpha / batch_size``
batch_size             the same; "auto" is         ``step(batch_size=...)``
                       min(200, n_samples)
learning_rate          "constant" only             the rate is not changed between epochs
learning_rate_init     the same                    ``learning_rate``
max_iter               the same                    epochs
shuffle, random_state  the same                    ``step(order=...)``, ``Network(seed=...)``
tol, n_iter_no_change  the same, on the training   (the estimator's own loop)
                       loss
momentum,              the same (solver="sgd")     ``momentum``, ``nesterovs_momentum``
nesterovs_momentum
beta_1, beta_2,        the same (solver="adam")    ``beta_1``, ``beta_2``, ``epsilon``
epsilon
early_stopping         False only                  --
validation_fraction,   not taken                   --
power_t, max_fun
--                     backend, dtype              ``Network(backend=..., dtype=...)``
===================== =========================== ==============================================

alpha: scikit-learn adds ``alpha * W`` to a batch's gradient summed over its samples and then
divides by the batch size, so the L2 term of the mean gradient is ``(alpha / batch_size) W``;
neuronet's ``weight_decay`` is the coefficient of ``w`` beside the mean gradient, hence
``weight_decay = alpha / batch_size``. Biases are not decayed, in either.

What differs from ``MLPClassifier``:

- The output layer is a softmax with the cross-entropy cost for any number of classes, two
  included (scikit-learn uses one logistic unit for two classes: the same model and the same
  loss, with one more column in ``coefs_[-1]``).
- The last batch of an epoch, when shorter, is decayed with ``alpha / batch_size`` too
  (scikit-learn: alpha over that batch's own size).
- The initial weights are neuronet's (the init that suits the activation), not scikit-learn's
  Glorot uniform, so the same random_state starts from different weights.
- ``warm_start`` keeps the optimizer's state (momentum velocities, Adam's moments) in the
  network; scikit-learn restarts its optimizer at each ``fit``.
- No ``sample_weight``, sparse input or multilabel targets; ``early_stopping`` must be False
  (a validation split belongs in the caller's ``GridSearchCV`` or ``train_test_split``).
- ``coefs_[i]`` and ``intercepts_[i]`` are views of the network's ``weights[i].T`` and
  ``biases[i]``: read-only attributes that always show the current network.
- ``classes`` (``partial_fit``) and ``y`` (``fit``) must hold at least two classes.

Checkpoints: a pickle (``pickle.dump``, ``joblib.dump``) of a fitted estimator keeps all it
needs to go on: the network's parameters, its momentum velocities or Adam's moments and step
count, the loss curve and the count of epochs without improvement. ``partial_fit`` (or ``fit``
with ``warm_start=True``) on the unpickled estimator takes the same steps as on the one pickled,
bit for bit, when ``random_state`` is an int or a ``RandomState`` (pickled with its state):

    >>> for epoch in range(n_epochs):
    ...     model.partial_fit(x, y, classes=classes)
    ...     joblib.dump(model, "model.joblib")      # a checkpoint after each epoch
    >>> model = joblib.load("model.joblib")         # after a crash: go on from the last
    >>> model.partial_fit(x, y)

``joblib.dump`` writes the file in place, so a kill during the dump can leave half a file: for
a checkpoint that survives that, dump to a temporary name and ``os.replace`` it onto the real
one. ``neuronet.fit(checkpoint=...)`` does all of this for a ``Network``.
"""
import math
import numbers
import warnings

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .activations import COSTS
from .activations import cost as cost_per_sample
from .checks import (
    check_array,
    check_number,
    check_rule,
    check_settings,
    non_finite,
    refuse_non_finite,
)
from .network import ADAM_STATE, TRAINED, Network
from .records import aligned_copy
from .rules import SOLVERS

# the network's arrays each solver reads at a step (momentum's velocities, Adam's moments)
STATE = {"sgd": TRAINED[True], "adam": ADAM_STATE}
# scikit-learn's activation names to neuronet's
ACTIVATIONS = {"logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
SEED_LIMIT = 2**31 - 1  # seeds drawn from random_state: RandomState.randint's default int range


class NeuronetClassifier(ClassifierMixin, BaseEstimator):
    """A multi-layer perceptron classifier trained by neuronet, with MLPClassifier's parameters.

    The parameters are ``sklearn.neural_network.MLPClassifier``'s, with its names and defaults,
    where they mean the same; the module docstring maps each onto neuronet and lists what
    differs. The output layer is a softmax with the cross-entropy cost.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default (100,)
        Neurons of each hidden layer.
    activation : {"relu", "logistic", "tanh"}, default "relu"
        Hidden activation ("identity" is not taken).
    solver : {"adam", "sgd"}, default "adam"
        The update rule ("lbfgs" is not taken).
    alpha : float, default 0.0001
        L2 penalty, as scikit-learn's (``weight_decay = alpha / batch_size``).
    batch_size : int or "auto", default "auto"
        Samples per step; "auto" is min(200, n_samples).
    learning_rate : {"constant"}, default "constant"
        Only a constant rate is taken.
    learning_rate_init : float, default 0.001
        The step size.
    max_iter : int, default 200
        Epochs at most.
    shuffle : bool, default True
        Shuffle the samples each epoch.
    random_state : int, RandomState or None, default None
        Seeds the initial weights and the shuffling.
    tol : float, default 1e-4
        Improvement of the training loss below which an epoch counts as no improvement.
    verbose : bool, default False
        Print the loss after each epoch.
    warm_start : bool, default False
        ``fit`` continues from the last fit, optimizer state included.
    momentum : float, default 0.9
        Momentum, in [0, 1) (solver "sgd").
    nesterovs_momentum : bool, default True
        Nesterov's momentum instead of the classical (solver "sgd").
    early_stopping : bool, default False
        Must be False (split a validation set with scikit-learn's tools instead).
    n_iter_no_change : int, default 10
        Epochs without improvement by ``tol`` before stopping.
    beta_1, beta_2, epsilon : float, default 0.9, 0.999, 1e-8
        Adam's settings (solver "adam").
    backend : str, default "loops"
        The ``Network`` backend ("loops", "vectorized", ...: see ``neuronet.BACKENDS``).
    dtype : {"float64", "float32"}, default "float64"
        The network's float type; input of either float type is converted to it.

    Attributes
    ----------
    classes_ : numpy.ndarray
        The class labels.
    network_ : neuronet.Network
        The network doing the work.
    coefs_, intercepts_ : list of numpy.ndarray
        Views of its parameters, ``coefs_[i]`` of shape (n_in, n_out).
    loss_, loss_curve_, best_loss_ : float, list of float, float
        The training loss of the last epoch, of every epoch, and the best.
    n_iter_, t_, n_layers_, out_activation_ : int, int, int, str
        Epochs run by the last call, samples seen, layers, and "softmax".

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> x, y = load_digits(return_X_y=True)
    >>> model = NeuronetClassifier((30,), max_iter=20, random_state=0).fit(x / 16, y)
    >>> bool(model.score(x / 16, y) > 0.9)
    True
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, max_iter=200, shuffle=True, random_state=None,
                 tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, n_iter_no_change=10,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, backend="loops", dtype="float64"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.backend = backend
        self.dtype = dtype

    # -- the parameters --------------------------------------------------------------------

    def _hidden_sizes(self):
        """hidden_layer_sizes checked, as a tuple (an int is one hidden layer)."""
        sizes = self.hidden_layer_sizes
        sizes = (sizes,) if isinstance(sizes, numbers.Integral) else sizes
        try:
            sizes = tuple(sizes)
        except TypeError:
            sizes = None
        if sizes is None or not all(isinstance(n, numbers.Integral) and not isinstance(n, bool)
                                    and n >= 1 for n in sizes):
            raise ValueError(f"hidden_layer_sizes must be a sequence of integers >= 1 such as "
                             f"(100,) or (64, 32), got {self.hidden_layer_sizes!r}")
        return tuple(int(n) for n in sizes)

    def _check_params(self):
        """Every parameter the network does not check itself, with errors naming it."""
        self._hidden_sizes()
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation={self.activation!r} is not supported; use one of "
                             f"{', '.join(map(repr, ACTIVATIONS))} (neuronet has no identity "
                             "activation)")
        if self.solver not in SOLVERS:
            raise ValueError(f"solver={self.solver!r} is not supported; use 'sgd' or 'adam' "
                             "(neuronet trains by mini-batch steps only, so no 'lbfgs')")
        if self.learning_rate != "constant":
            raise ValueError(f"learning_rate={self.learning_rate!r} is not supported; only "
                             "'constant' is (neuronet keeps learning_rate_init throughout)")
        if self.early_stopping is not False:
            raise ValueError(f"early_stopping={self.early_stopping!r} is not supported; use "
                             "False and hold out a validation set yourself (train_test_split, "
                             "GridSearchCV)")
        if not (self.batch_size == "auto" if isinstance(self.batch_size, str) else
                isinstance(self.batch_size, numbers.Integral)
                and not isinstance(self.batch_size, bool) and self.batch_size >= 1):
            raise ValueError(f"batch_size must be 'auto' or an integer >= 1, got "
                             f"{self.batch_size!r}")
        # Each bound as an interval, as scikit-learn gives them; the numbers must be finite.
        check_number("alpha", self.alpha, 0, math.inf)
        check_number("learning_rate_init", self.learning_rate_init, 0, math.inf, low_open=True)
        check_number("max_iter", self.max_iter, 1, math.inf, integer=True)
        check_number("tol", self.tol, 0, math.inf)
        check_number("n_iter_no_change", self.n_iter_no_change, 1, math.inf, integer=True)
        check_number("momentum", self.momentum, 0, 1, high_open=True,
                     fix="the velocity must decay, so momentum < 1 where scikit-learn allows 1")
        check_number("beta_1", self.beta_1, 0, 1, high_open=True)
        check_number("beta_2", self.beta_2, 0, 1, high_open=True)
        check_number("epsilon", self.epsilon, 0, math.inf, low_open=True)

    def _network_kwargs(self):
        """Network's keywords for the hidden activation."""
        return {"activation": ACTIVATIONS[self.activation]}

    def _solver_kwargs(self):
        """``Network.step``'s (and ``check_rule``'s) keywords for the update rule (momentum is
        SGD's alone)."""
        if self.solver == "adam":
            return {"solver": "adam", "beta_1": self.beta_1, "beta_2": self.beta_2,
                    "epsilon": self.epsilon}
        return {"momentum": self.momentum, "nesterovs_momentum": self.nesterovs_momentum}

    # -- fitting ---------------------------------------------------------------------------

    def fit(self, X: ArrayLike, y: ArrayLike) -> "NeuronetClassifier":
        """Train for up to ``max_iter`` epochs, stopping when the training loss has not improved
        by ``tol`` for ``n_iter_no_change`` consecutive epochs.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            Training inputs, float64 or float32 (converted to ``dtype``).
        y : array_like of shape (n_samples,)
            Class labels, of any type scikit-learn takes (strings too).

        Returns
        -------
        NeuronetClassifier
            self, fitted.

        Raises
        ------
        ValueError
            If a parameter is out of range or not supported, X or y is not valid, or training
            diverged.
        """
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X: ArrayLike, y: ArrayLike,
                    classes: ArrayLike | None = None) -> "NeuronetClassifier":
        """One epoch over X and y.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            Training inputs.
        y : array_like of shape (n_samples,)
            Class labels, each among ``classes``.
        classes : array_like, optional
            Every label there will be; required on the first call, ignored or checked after.

        Returns
        -------
        NeuronetClassifier
            self.

        Raises
        ------
        ValueError
            If ``classes`` is missing on the first call or differs later, or y has a label
            not among them.
        """
        if not hasattr(self, "classes_"):
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit: "
                                 "every label there will be, such as np.unique(y_all)")
            if np.ndim(classes) != 1 or len(np.unique(classes)) < 2:
                raise ValueError(f"classes must list every label there will be, at least two "
                                 f"different ones (a classifier tells classes apart), got "
                                 f"{classes!r}; pass np.unique(y_all)")
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes={classes!r} is not the same as on the first call to "
                             f"partial_fit, {self.classes_!r}")
        return self._fit(X, y, incremental=True, classes=classes)

    def _fit(self, X, y, *, incremental, classes=None):
        self._check_params()
        first_pass = not hasattr(self, "network_") or not (incremental or self.warm_start)
        X, y = validate_data(self, X, y, dtype=(np.float64, np.float32), reset=first_pass)
        check_classification_targets(y)
        if first_pass:
            classes_ = np.unique(y if classes is None else classes)
            if len(classes_) < 2:
                raise ValueError(f"y holds one class only, {classes_.tolist()}: a classifier "
                                 "needs at least two classes to tell apart; pass samples of "
                                 "every class")
            self.classes_ = classes_
        labels = self._encode(y)
        # A new generator at each call from random_state, as MLPClassifier: the network's seed
        # and then the shuffling's are drawn from it.
        random_state = check_random_state(self.random_state)
        if first_pass:
            self.network_ = Network(
                (X.shape[1], *self._hidden_sizes(), len(self.classes_)), backend=self.backend,
                seed=int(random_state.randint(SEED_LIMIT)), output="softmax",
                cost="cross_entropy", dtype=self.dtype, **self._network_kwargs())
            self.n_layers_ = len(self.network_.sizes)
            self.out_activation_ = "softmax"
            self.t_ = 0
            self.loss_curve_ = []
            self.best_loss_ = np.inf
            self._no_improvement_count = 0
        net = self.network_
        # Checked and converted to the network's dtype once, not at every epoch's step.
        x, _ = check_array("X", X, net.sizes[0], net.dtype)
        targets = np.eye(len(self.classes_), dtype=net.dtype)[labels]
        n_samples = len(x)
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn(f"batch_size={self.batch_size} is larger than the {n_samples} "
                              "samples; it is clipped to the sample size", UserWarning)
            batch_size = min(self.batch_size, n_samples)
        shuffling = np.random.default_rng(random_state.randint(SEED_LIMIT))
        self.n_iter_ = 0
        for _ in range(1 if incremental else self.max_iter):
            order = shuffling.permutation(n_samples) if self.shuffle else np.arange(n_samples)
            self.loss_ = self._epoch(x, targets, order, batch_size)
            self.n_iter_ += 1
            self.t_ += n_samples
            self.loss_curve_.append(self.loss_)
            if self.verbose:
                print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
            if self._converged():
                if self.verbose:
                    print(f"Training loss did not improve more than tol={self.tol:f} for "
                          f"{self.n_iter_no_change} consecutive epochs. Stopping.")
                break
            if incremental:
                break
            if self.n_iter_ == self.max_iter:
                warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                              "reached and the optimization hasn't converged yet.",
                              ConvergenceWarning)
        return self

    def _epoch(self, x, targets, order, batch_size):
        """One epoch of steps over the rows of x in ``order``; returns MLPClassifier's loss: the
        mean over the samples of each batch's cross-entropy, from the batch's own forward pass
        before its step, plus alpha / 2 |W|^2 / n (n the batch's size, W before the step). The
        forward pass is the step's own where the backend hands it back
        (``Network.sgd_epoch``). A ValueError when training has diverged."""
        net = self.network_
        momentum = self.momentum if self.solver == "sgd" else 0.0
        eta, mu, l2 = check_settings(self.learning_rate_init, momentum, self.alpha / batch_size)
        rule = check_rule(**self._solver_kwargs())
        total = 0.0
        # What the rule reads, before the epoch: a NaN set by hand is named here, where a
        # step's own refusal below means that this epoch diverged.
        refuse_non_finite(net.state(STATE[self.solver]), "training cannot go on")
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            # |W|^2 before the step, as scikit-learn sums it (a dot product of each flattened
            # matrix, no temporary the size of the weights); nothing to sum without L2
            penalty = sum(float(np.vdot(w, w)) for w in net.weights) if self.alpha else 0.0
            try:
                a = net.sgd_epoch(x, targets, eta, mu, l2, len(rows), rows, rule=rule)
            except ValueError:
                if non_finite(net.state(STATE[self.solver]), "") is None:
                    raise
                total = math.nan  # diverged at an earlier batch: said below
                break
            cost = cost_per_sample(a, targets[rows], COSTS["cross_entropy"], "softmax")
            total += float(np.sum(cost)) + 0.5 * self.alpha * penalty
        loss = total / len(order)
        if not np.isfinite(loss):
            raise ValueError("Solver produced non-finite parameter weights. The input data may "
                             "contain large values and need to be preprocessed; or lower "
                             f"learning_rate_init (now {self.learning_rate_init})")
        return loss

    def _converged(self):
        """MLPClassifier's rule: the loss has not improved on the best by tol for more than
        n_iter_no_change epochs in a row (a constant learning rate stops there)."""
        if self.loss_curve_[-1] > self.best_loss_ - self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        self.best_loss_ = min(self.best_loss_, self.loss_curve_[-1])
        return self._no_improvement_count > self.n_iter_no_change

    def _encode(self, y):
        """Labels y as indices into classes_, or a ValueError naming the unknown ones."""
        index = np.searchsorted(self.classes_, y)
        known = (index < len(self.classes_)) & (self.classes_[np.minimum(
            index, len(self.classes_) - 1)] == y)
        if not known.all():
            raise ValueError(f"y has labels {np.unique(np.asarray(y)[~known]).tolist()} not among "
                             f"the classes {self.classes_.tolist()} of the first fit or "
                             "partial_fit; pass "
                             "every label there will be as classes on partial_fit's first call")
        return index

    # -- predicting ------------------------------------------------------------------------

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """The probability of each class for each row.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        numpy.ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``; each row sums to 1.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=(np.float64, np.float32), reset=False)
        return self.network_.predict(X)

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        """The log of ``predict_proba``.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        numpy.ndarray of shape (n_samples, n_classes)
            The log-probabilities.
        """
        return np.log(self.predict_proba(X))

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The most probable class of each row.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        numpy.ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    # -- scikit-learn's view of the parameters ----------------------------------------------

    @property
    def coefs_(self) -> list[np.ndarray]:
        """``coefs_[i][k, j]`` joins neuron k of layer i to neuron j of layer i + 1: the
        transpose of neuronet's ``w[j, k]``, as a view."""
        return [w.T for w in self.network_.weights]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """``intercepts_[i][j]`` is neuron j's bias in layer i + 1: the network's biases."""
        return list(self.network_.biases)

    def __setstate__(self, state):
        # joblib.load(..., mmap_mode="r") hands back read-only arrays, and the network's
        # kernels write to their parameters, velocities and work arrays: take copies.
        super().__setstate__(state)
        net = self.__dict__.get("network_")
        if net is not None:
            vars(net).update({name: _writeable(value) for name, value in vars(net).items()})


def _writeable(value):
    """``value`` with each read-only array in it (and in its lists, tuples, dicts) copied."""
    if isinstance(value, np.ndarray):
        return value if value.flags.writeable else aligned_copy(value)
    if type(value) in (list, tuple):
        return type(value)(_writeable(item) for item in value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a record of work arrays
        return type(value)(*(_writeable(item) for item in value))
    if type(value) is dict:
        return {key: _writeable(item) for key, item in value.items()}
    return value
